#pragma once
// A fine-tuning job's loss and validation Dice per epoch (db::TrainingCurve), drawn with QPainter:
// two polylines over the epochs, loss on the left axis (0..max loss), Dice on the right (0..1), and
// a legend. Shown in the Jobs dock for the selected job; it only draws, the parsing is
// db::parseTrainingCurve.
#include "database/jobs/TrainingCurve.h"

#include <QWidget>

class QPainter;

namespace panseg::ui
{
class TrainingCurveView : public QWidget
{
  Q_OBJECT
public:
  explicit TrainingCurveView(QWidget* parent = nullptr);
  void setCurve(const db::TrainingCurve& curve);
  const db::TrainingCurve& curve() const { return m_curve; }
  /// Draws the chart into `rect` (also used to render into a QImage).
  void paintChart(QPainter& p, const QRect& rect) const;
  QSize sizeHint() const override { return {360, 160}; }

protected:
  void paintEvent(QPaintEvent* event) override;

private:
  db::TrainingCurve m_curve;
};
} // namespace panseg::ui
