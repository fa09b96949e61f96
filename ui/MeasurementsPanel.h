#pragma once
// The "Measurements" dock: statistics of the shown mask's active label (the Edit toolbar's
// label) from core/measure — voxels, volume, mean HU ± SD, median, min/max, extent along the
// patient axes, principal-axis lengths — and the rulers drawn on the slice views. Recomputed
// after a mask change or a committed edit, debounced (never per brush stamp), and only while
// the panel is visible. Holds no measuring logic of its own.
#include "core/measure/Measurement.h"

#include <QString>
#include <QTimer>
#include <QWidget>

#include <array>
#include <utility>
#include <vector>

class QLabel;

namespace panseg::ui
{
class EditController;
class ViewerModel;

class MeasurementsPanel : public QWidget
{
  Q_OBJECT
public:
  /// Delay between the last mask change and the recomputation.
  static constexpr int kDebounceMs = 300;

  MeasurementsPanel(ViewerModel* model, EditController* edit, QWidget* parent = nullptr);

  /// The label measured: the editor's active label.
  int label() const;
  /// The statistics shown; valid when hasStatistics() (an image and a mask are shown).
  bool hasStatistics() const { return m_has; }
  const panseg::measure::MaskStatistics& statistics() const { return m_stats; }
  /// A recomputation is scheduled and not yet done.
  bool isPending() const { return m_stale; }
  /// How many times the statistics were computed (tests: once per committed edit at most).
  int computeCount() const { return m_computeCount; }
  /// Recomputes now (the debounce timer calls this).
  void refreshNow();
  /// The panel as plain text (the Copy button puts it on the clipboard).
  QString summaryText() const;

signals:
  /// The statistics were recomputed.
  void updated();

protected:
  void showEvent(QShowEvent* e) override;

private:
  void schedule();
  void showRulers();

  ViewerModel* m_model;
  EditController* m_edit;
  QTimer m_debounce;
  bool m_stale = true;
  bool m_has = false;
  int m_computeCount = 0;
  panseg::measure::MaskStatistics m_stats;
  QLabel* m_title = nullptr;
  QLabel* m_voxels = nullptr;
  QLabel* m_volume = nullptr;
  QLabel* m_intensity = nullptr;
  QLabel* m_median = nullptr;
  QLabel* m_range = nullptr;
  std::array<QLabel*, 3> m_extent{}; // L-R, A-P, S-I
  std::array<QLabel*, 3> m_axes{};   // length, width, thickness
  std::vector<std::pair<QString, QLabel*>> m_rows; // name and value, in order (summaryText)
  QLabel* m_rulers = nullptr;
};
} // namespace panseg::ui
