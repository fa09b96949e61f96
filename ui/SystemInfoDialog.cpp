#include "ui/SystemInfoDialog.h"

#include "database/jobs/SystemInfo.h"

#include <QApplication>
#include <QClipboard>
#include <QDialogButtonBox>
#include <QFontDatabase>
#include <QFutureWatcher>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPointer>
#include <QPushButton>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

namespace panseg::ui
{
SystemInfoDialog::SystemInfoDialog(QWidget* parent) : QDialog(parent)
{
  setObjectName("systemInfoDialog");
  setWindowTitle(tr("System Information"));
  auto* layout = new QVBoxLayout(this);
  auto* note = new QLabel(tr("The prediction worker and the trainer run LibTorch in their own processes; "
                             "this is what they report (the same as <tt>panseg doctor</tt>)."),
                          this);
  note->setWordWrap(true);
  layout->addWidget(note);
  m_text = new QPlainTextEdit(this);
  m_text->setObjectName("systemInfoText");
  m_text->setReadOnly(true);
  m_text->setLineWrapMode(QPlainTextEdit::WidgetWidth);
  m_text->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  layout->addWidget(m_text, 1);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
  m_refresh = buttons->addButton(tr("&Refresh"), QDialogButtonBox::ActionRole);
  m_refresh->setObjectName("systemInfoRefresh");
  QPushButton* copy = buttons->addButton(tr("&Copy"), QDialogButtonBox::ActionRole);
  copy->setObjectName("systemInfoCopy");
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  connect(m_refresh, &QPushButton::clicked, this, &SystemInfoDialog::refresh);
  connect(copy, &QPushButton::clicked, this, [this] { QApplication::clipboard()->setText(m_text->toPlainText()); });
  layout->addWidget(buttons);
  resize(960, 680);
  refresh();
}

void SystemInfoDialog::refresh()
{
  if (m_busy)
    return;
  m_busy = true;
  m_refresh->setEnabled(false);
  m_text->setPlainText(tr("Running panseg-worker doctor and panseg-train doctor (a few seconds)..."));
  auto* watcher = new QFutureWatcher<db::SystemInfo>(this);
  connect(watcher, &QFutureWatcher<db::SystemInfo>::finished, this,
          [this, watcher]
          {
            const db::SystemInfo info = watcher->result();
            watcher->deleteLater();
            m_text->setPlainText(db::systemInfoText(info));
            m_busy = false;
            m_refresh->setEnabled(true);
            emit finished(info.ok());
          });
  watcher->setFuture(QtConcurrent::run([] { return db::collectSystemInfo(); }));
}
} // namespace panseg::ui
