#pragma once
// Help > System Information: shows db::collectSystemInfo's report (database/jobs/SystemInfo.h),
// the same text as `panseg doctor`. The helpers run off the GUI thread; the dialog only displays.
#include <QDialog>

class QPlainTextEdit;
class QPushButton;

namespace panseg::ui
{
class SystemInfoDialog : public QDialog
{
  Q_OBJECT
public:
  explicit SystemInfoDialog(QWidget* parent = nullptr);
  /// Runs the helpers again (the Refresh button).
  void refresh();
  /// True while the helpers run.
  bool busy() const { return m_busy; }

signals:
  void finished(bool ok);

private:
  QPlainTextEdit* m_text = nullptr;
  QPushButton* m_refresh = nullptr;
  bool m_busy = false;
};
} // namespace panseg::ui
