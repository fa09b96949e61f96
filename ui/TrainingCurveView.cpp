#include "ui/TrainingCurveView.h"

#include <QPainter>
#include <QPainterPath>
#include <QPolygonF>

#include <algorithm>

namespace panseg::ui
{
namespace
{
const QColor kLossColor(214, 96, 39);
const QColor kDiceColor(31, 119, 180);
} // namespace

TrainingCurveView::TrainingCurveView(QWidget* parent) : QWidget(parent)
{
  setMinimumHeight(120);
}

void TrainingCurveView::setCurve(const db::TrainingCurve& curve)
{
  m_curve = curve;
  update();
}

void TrainingCurveView::paintEvent(QPaintEvent*)
{
  QPainter p(this);
  paintChart(p, rect());
}

void TrainingCurveView::paintChart(QPainter& p, const QRect& rect) const
{
  p.save();
  p.setRenderHint(QPainter::Antialiasing);
  p.fillRect(rect, palette().base());
  const QFontMetrics fm(font());
  const QColor text = palette().color(QPalette::Text);
  if (m_curve.empty())
  {
    p.setPen(text);
    p.drawText(rect, Qt::AlignCenter, tr("No epoch finished yet"));
    p.restore();
    return;
  }
  const int margin = fm.height() / 2 + 2;
  const QRect plot =
      rect.adjusted(fm.horizontalAdvance("0.000") + margin, margin + fm.height(),
                    -(fm.horizontalAdvance("1.00") + margin), -(fm.height() + margin));
  if (plot.width() < 10 || plot.height() < 10)
  {
    p.restore();
    return;
  }
  const int lastEpoch = m_curve.lastEpoch();
  const double maxLoss = m_curve.maxLoss() > 0 ? m_curve.maxLoss() : 1.0;
  auto xOf = [&](int epoch)
  {
    return lastEpoch <= 1 ? plot.center().x()
                          : plot.left() + double(epoch - 1) / (lastEpoch - 1) * plot.width();
  };
  auto yOf = [&](double v, double top)
  { return plot.bottom() - std::clamp(v / top, 0.0, 1.0) * plot.height(); };

  // Axes: epochs below, loss left, Dice right.
  p.setPen(text);
  p.drawRect(plot);
  const int step =
      std::max(1, lastEpoch / std::max(1, plot.width() / (fm.horizontalAdvance("000") * 2)));
  for (int e = 1; e <= lastEpoch; e += step)
  {
    const double x = xOf(e);
    p.drawLine(QPointF(x, plot.bottom()), QPointF(x, plot.bottom() + 3));
    p.drawText(QRectF(x - 20, plot.bottom() + 3, 40, fm.height()), Qt::AlignHCenter,
               QString::number(e));
  }
  p.drawText(QRect(rect.left(), plot.bottom() + 3, plot.left() - rect.left() - 2, fm.height()),
             Qt::AlignRight, tr("epoch"));
  const QRect leftLabels(rect.left(), plot.top(), plot.left() - rect.left() - 3, plot.height());
  p.setPen(kLossColor);
  p.drawText(
      QRect(leftLabels.left(), plot.top() - fm.height() / 2, leftLabels.width(), fm.height()),
      Qt::AlignRight, QString::number(maxLoss, 'f', 3));
  p.drawText(
      QRect(leftLabels.left(), plot.bottom() - fm.height() / 2, leftLabels.width(), fm.height()),
      Qt::AlignRight, "0");
  p.setPen(kDiceColor);
  p.drawText(QRect(plot.right() + 3, plot.top() - fm.height() / 2, rect.right() - plot.right(),
                   fm.height()),
             Qt::AlignLeft, "1.00");
  p.drawText(QRect(plot.right() + 3, plot.bottom() - fm.height() / 2, rect.right() - plot.right(),
                   fm.height()),
             Qt::AlignLeft, "0");

  // The two curves (a point where a value is missing is left out).
  auto draw = [&](const QColor& color, bool loss)
  {
    QPolygonF line;
    for (const db::CurvePoint& pt : m_curve.points)
    {
      const double v = loss ? pt.loss : pt.valDice;
      if (v >= 0)
        line << QPointF(xOf(pt.epoch), yOf(v, loss ? maxLoss : 1.0));
    }
    p.setPen(QPen(color, 2));
    p.drawPolyline(line);
    p.setBrush(color);
    for (const QPointF& q : line)
      p.drawEllipse(q, 2.5, 2.5);
    p.setBrush(Qt::NoBrush);
  };
  draw(kLossColor, true);
  draw(kDiceColor, false);

  // Legend above the plot.
  int x = plot.left();
  const int y = rect.top() + margin / 2;
  for (const auto& [color, label] :
       {std::pair<QColor, QString>{kLossColor, tr("loss")}, {kDiceColor, tr("val Dice")}})
  {
    p.setPen(QPen(color, 2));
    p.drawLine(x, y + fm.height() / 2, x + 16, y + fm.height() / 2);
    p.setPen(text);
    p.drawText(x + 20, y + fm.ascent(), label);
    x += 20 + fm.horizontalAdvance(label) + 12;
  }
  p.restore();
}
} // namespace panseg::ui
