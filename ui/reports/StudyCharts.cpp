#include "ui/reports/StudyCharts.h"

#include "core/metrics/Agreement.h"

#include <QFont>
#include <QFontMetricsF>
#include <QPainter>
#include <QPainterPath>

#include <algorithm>
#include <cmath>

namespace panseg::ui
{
std::vector<double> niceTicks(double lo, double hi, int maxTicks)
{
  if (!std::isfinite(lo) || !std::isfinite(hi))
    lo = 0, hi = 1;
  if (lo > hi)
    std::swap(lo, hi);
  if (!(hi > lo))
  {
    const double pad = lo == 0 ? 1.0 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  maxTicks = std::max(2, maxTicks);
  // The smallest step of 1, 2 or 5 x 10^e that covers [lo, hi] in at most maxTicks intervals.
  const double rough = (hi - lo) / maxTicks;
  int exponent = int(std::floor(std::log10(rough)));
  double step = 0;
  int first = 0, last = 0;
  for (;; ++exponent)
  {
    bool found = false;
    for (double m : {1.0, 2.0, 5.0})
    {
      step = m * std::pow(10.0, exponent);
      first = int(std::floor(lo / step + 1e-9));
      last = int(std::ceil(hi / step - 1e-9));
      if (last - first <= maxTicks)
      {
        found = true;
        break;
      }
    }
    if (found)
      break;
  }
  const int decimals = std::max(0, -int(std::floor(std::log10(step) + 1e-9)));
  std::vector<double> ticks;
  for (int k = first; k <= last; ++k)
    ticks.push_back(QString::number(k * step, 'f', decimals).toDouble());
  return ticks;
}

double tickStep(const std::vector<double>& ticks)
{
  return ticks.size() < 2 ? 0.0 : ticks[1] - ticks[0];
}

QString tickLabel(double value, double step)
{
  const int decimals =
      step > 0 ? std::max(0, -int(std::floor(std::log10(step) + 1e-9))) : 2;
  QString text = QString::number(value, 'f', decimals);
  if (text.startsWith('-') && text.toDouble() == 0)
    text.remove(0, 1); // no "-0.0"
  return text;
}

namespace
{
/// A plot frame: data ranges from the outer ticks, margins, tick labels; maps data to pixels.
/// An x axis without ticks is a category axis: its labels are drawn by the chart.
class Plot
{
public:
  Plot(QImage& image, const QString& title, const QString& xLabel, const QString& yLabel,
       std::vector<double> xTicks, std::vector<double> yTicks, double x0, double x1,
       ChartAxes* axes)
      : m_p(&image), m_x0(x0), m_x1(x1)
  {
    if (!xTicks.empty())
    {
      m_x0 = xTicks.front();
      m_x1 = xTicks.back();
    }
    m_y0 = yTicks.front();
    m_y1 = yTicks.back();
    if (!(m_x1 > m_x0))
      m_x1 = m_x0 + 1;
    if (!(m_y1 > m_y0))
      m_y1 = m_y0 + 1;
    if (axes)
    {
      axes->xTicks = xTicks;
      axes->yTicks = yTicks;
      axes->x0 = m_x0;
      axes->x1 = m_x1;
      axes->y0 = m_y0;
      axes->y1 = m_y1;
    }
    m_p.setRenderHint(QPainter::Antialiasing);
    m_p.fillRect(image.rect(), Qt::white);
    m_area = QRectF(70, 40, image.width() - 90, image.height() - 95);
    QFont f = m_p.font();
    f.setPixelSize(15);
    m_p.setFont(f);
    m_p.setPen(Qt::black);
    m_p.drawText(QRectF(0, 8, image.width(), 24), Qt::AlignCenter, title);
    f.setPixelSize(13);
    m_p.setFont(f);
    const QPen grid(QColor(225, 225, 225), 1);
    for (double xv : xTicks)
    {
      const QPointF px = map(xv, m_y0);
      m_p.setPen(grid);
      m_p.drawLine(px, QPointF(px.x(), m_area.top()));
      m_p.setPen(Qt::black);
      m_p.drawLine(px, px + QPointF(0, 4));
      m_p.drawText(QRectF(px.x() - 40, px.y() + 5, 80, 18), Qt::AlignCenter,
                   tickLabel(xv, tickStep(xTicks)));
    }
    for (double yv : yTicks)
    {
      const QPointF py = map(m_x0, yv);
      m_p.setPen(grid);
      m_p.drawLine(py, QPointF(m_area.right(), py.y()));
      m_p.setPen(Qt::black);
      m_p.drawLine(py, py - QPointF(4, 0));
      m_p.drawText(QRectF(py.x() - 66, py.y() - 8, 60, 16), Qt::AlignRight | Qt::AlignVCenter,
                   tickLabel(yv, tickStep(yTicks)));
    }
    m_p.setPen(Qt::black);
    m_p.setBrush(Qt::NoBrush);
    m_p.drawRect(m_area);
    f.setPixelSize(14);
    m_p.setFont(f);
    m_p.drawText(QRectF(m_area.left(), image.height() - 30, m_area.width(), 20), Qt::AlignCenter,
                 xLabel);
    m_p.save();
    m_p.translate(16, m_area.center().y());
    m_p.rotate(-90);
    m_p.drawText(QRectF(-m_area.height() / 2, -10, m_area.height(), 20), Qt::AlignCenter, yLabel);
    m_p.restore();
    f.setPixelSize(12);
    m_p.setFont(f);
    m_p.setClipRect(m_area);
  }

  QPointF map(double x, double y) const
  {
    return {m_area.left() + (x - m_x0) / (m_x1 - m_x0) * m_area.width(),
            m_area.bottom() - (y - m_y0) / (m_y1 - m_y0) * m_area.height()};
  }
  /// A category label below the x axis, centred on x.
  void categoryLabel(double x, const QString& text)
  {
    m_p.setClipping(false);
    m_p.setPen(Qt::black);
    const QPointF at = map(x, m_y0);
    m_p.drawLine(at, at + QPointF(0, 4));
    m_p.drawText(QRectF(at.x() - 100, at.y() + 5, 200, 18), Qt::AlignCenter, text);
    m_p.setClipRect(m_area);
  }
  void point(double x, double y, const QColor& c)
  {
    // A point on the frame (a Dice of exactly 1 at the top of its axis) is drawn whole.
    const bool inside = x >= m_x0 && x <= m_x1 && y >= m_y0 && y <= m_y1;
    m_p.setClipping(!inside);
    m_p.setPen(QPen(c.darker(130), 1));
    m_p.setBrush(c);
    m_p.drawEllipse(map(x, y), 4, 4);
    m_p.setClipping(true);
  }
  void line(double xa, double ya, double xb, double yb, const QColor& c,
            Qt::PenStyle style = Qt::SolidLine, double width = 1.5)
  {
    m_p.setPen(QPen(c, width, style));
    m_p.drawLine(map(xa, ya), map(xb, yb));
  }
  void curve(const std::vector<QPointF>& data, const QColor& c, Qt::PenStyle style)
  {
    QPainterPath path;
    for (size_t i = 0; i < data.size(); ++i)
      i == 0 ? path.moveTo(map(data[i].x(), data[i].y()))
             : path.lineTo(map(data[i].x(), data[i].y()));
    m_p.setPen(QPen(c, 1.5, style));
    m_p.setBrush(Qt::NoBrush);
    m_p.drawPath(path);
  }
  void legend(const QString& text)
  {
    m_p.setClipping(false);
    QFontMetricsF fm(m_p.font());
    const QRectF box = fm.boundingRect(QRectF(m_area.left() + 6, m_area.top() + 4, m_area.width() - 12, 40),
                                       Qt::AlignLeft | Qt::AlignTop, text);
    m_p.fillRect(box.adjusted(-3, -1, 3, 1), QColor(255, 255, 255, 220));
    m_p.setPen(Qt::darkGray);
    m_p.drawText(box, Qt::AlignLeft | Qt::AlignTop, text);
  }

private:
  QPainter m_p;
  QRectF m_area;
  double m_x0, m_x1, m_y0 = 0, m_y1 = 1;
};

const QColor kBlue(31, 119, 180), kOrange(255, 127, 14), kGreen(44, 160, 44), kRed(214, 39, 40);

std::pair<double, double> range(const std::vector<double>& v, double pad)
{
  double lo = INFINITY, hi = -INFINITY;
  for (double x : v)
    if (std::isfinite(x))
    {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  if (!std::isfinite(lo))
    return {0, 1};
  const double span = hi > lo ? hi - lo : std::max(1.0, std::fabs(hi));
  return {lo - pad * span, hi + pad * span};
}

QImage canvas(ChartSize s)
{
  QImage img(s.width, s.height, QImage::Format_RGB32);
  img.fill(Qt::white);
  return img;
}
} // namespace

QImage volumeScatterChart(const std::vector<double>& a, const std::vector<double>& b,
                          const QString& labelA, const QString& labelB, const QString& title,
                          ChartSize size, ChartAxes* axes)
{
  QImage img = canvas(size);
  std::vector<double> both(a);
  both.insert(both.end(), b.begin(), b.end());
  const auto [lo, hi] = range(both, 0.03);
  const std::vector<double> ticks = niceTicks(lo, hi);
  // Least squares of A on B and R².
  double n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    if (std::isfinite(a[i]) && std::isfinite(b[i]))
    {
      n += 1;
      sx += b[i];
      sy += a[i];
      sxx += b[i] * b[i];
      syy += a[i] * a[i];
      sxy += a[i] * b[i];
    }
  const double vx = n * sxx - sx * sx, vy = n * syy - sy * sy, cxy = n * sxy - sx * sy;
  const bool fit = n >= 2 && vx > 0;
  const double slope = fit ? cxy / vx : 0, icpt = fit ? (sy - slope * sx) / n : 0;
  const QString r2 = fit && vy > 0 ? QString("R² = %1").arg(cxy * cxy / (vx * vy), 0, 'f', 3)
                                   : QString("R² = n/a");
  Plot p(img, title + "  (" + r2 + ")", labelB + " volume (mL)", labelA + " volume (mL)", ticks,
         ticks, 0, 0, axes);
  const double x0 = ticks.front(), x1 = ticks.back();
  p.line(x0, x0, x1, x1, Qt::gray, Qt::DashLine);
  if (fit)
    p.line(x0, icpt + slope * x0, x1, icpt + slope * x1, kOrange);
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    if (std::isfinite(a[i]) && std::isfinite(b[i]))
      p.point(b[i], a[i], kBlue);
  p.legend("dashed: y = x   orange: least-squares fit");
  return img;
}

QImage blandAltmanChart(const std::vector<double>& a, const std::vector<double>& b,
                        const QString& title, ChartSize size, ChartAxes* axes)
{
  QImage img = canvas(size);
  std::vector<double> means, diffs;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    if (std::isfinite(a[i]) && std::isfinite(b[i]))
    {
      means.push_back((a[i] + b[i]) / 2);
      diffs.push_back(a[i] - b[i]);
    }
  double bias = 0, sd = 0;
  for (double d : diffs)
    bias += d;
  bias = diffs.empty() ? 0 : bias / double(diffs.size());
  for (double d : diffs)
    sd += (d - bias) * (d - bias);
  sd = diffs.size() > 1 ? std::sqrt(sd / double(diffs.size() - 1)) : 0;
  std::vector<double> yr(diffs);
  yr.push_back(bias + 1.96 * sd);
  yr.push_back(bias - 1.96 * sd);
  yr.push_back(0);
  const auto [mx0, mx1] = range(means, 0.05);
  const auto [my0, my1] = range(yr, 0.1);
  const std::vector<double> xt = niceTicks(mx0, mx1), yt = niceTicks(my0, my1);
  Plot p(img, title, "mean of the two volumes (mL)", "difference A - B (mL)", xt, yt, 0, 0, axes);
  const double x0 = xt.front(), x1 = xt.back();
  p.line(x0, 0, x1, 0, Qt::gray, Qt::DotLine);
  p.line(x0, bias, x1, bias, kOrange);
  p.line(x0, bias + 1.96 * sd, x1, bias + 1.96 * sd, kRed, Qt::DashLine);
  p.line(x0, bias - 1.96 * sd, x1, bias - 1.96 * sd, kRed, Qt::DashLine);
  for (size_t i = 0; i < means.size(); ++i)
    p.point(means[i], diffs[i], kBlue);
  p.legend(QString("bias %1 mL, limits of agreement %2 to %3 mL")
               .arg(bias, 0, 'f', 2)
               .arg(bias - 1.96 * sd, 0, 'f', 2)
               .arg(bias + 1.96 * sd, 0, 'f', 2));
  return img;
}

QImage diceDistributionChart(const std::map<QString, std::vector<double>>& groups,
                             const QString& title, const QString& groupLabel, ChartSize size,
                             ChartAxes* axes)
{
  QImage img = canvas(size);
  std::vector<double> all;
  for (const auto& [g, v] : groups)
    all.insert(all.end(), v.begin(), v.end());
  auto [lo, hi] = range(all, 0.05);
  lo = std::max(0.0, lo);
  hi = std::min(1.0, std::max(hi, lo + 0.05));
  const std::vector<double> yt = niceTicks(lo, hi, 5);
  const double n = double(std::max<size_t>(1, groups.size()));
  Plot p(img, title, groupLabel, "Dice", {}, yt, 0, n, axes);
  int gi = 0;
  for (const auto& [g, v] : groups)
  {
    const double cx = gi + 0.5;
    double sum = 0;
    int count = 0;
    for (size_t i = 0; i < v.size(); ++i)
      if (std::isfinite(v[i]))
      {
        const double jitter = v.size() > 1 ? ((double(i) + 0.5) / double(v.size()) - 0.5) * 0.4 : 0.0;
        p.point(cx + jitter, v[i], kBlue);
        sum += v[i];
        ++count;
      }
    if (count)
      p.line(cx - 0.3, sum / count, cx + 0.3, sum / count, kOrange, Qt::SolidLine, 2.5);
    const QString name = QString("%1 (n = %2)").arg(g).arg(count);
    p.categoryLabel(cx, name);
    if (axes)
      axes->xCategories.push_back(name);
    ++gi;
  }
  p.legend("orange: group mean");
  return img;
}

QImage vpeDiceChart(const std::vector<double>& dice, const std::vector<double>& vpe,
                    const QString& title, ChartSize size, ChartAxes* axes)
{
  QImage img = canvas(size);
  double d0 = 1.0;
  for (double d : dice)
    if (std::isfinite(d))
      d0 = std::min(d0, d);
  d0 = std::max(0.05, std::min(d0 - 0.05, 0.7));
  const std::vector<double> xt = niceTicks(d0, 1.0, 5);
  d0 = xt.front();
  const double clip = 1.5;
  const std::vector<double> yt = niceTicks(-1.0, clip, 5);
  Plot p(img, title, "Dice", "relative volume error (vpe)", xt, yt, 0, 0, axes);
  std::vector<QPointF> upper, lower;
  for (int i = 0; i <= 200; ++i)
  {
    const double d = d0 + (1.0 - d0) * i / 200.0;
    if (d <= 0)
      continue;
    const VpeBounds bounds = vpeBoundsFromDice(d);
    upper.emplace_back(d, std::min(bounds.max, clip + 1));
    lower.emplace_back(d, bounds.min);
  }
  p.curve(upper, kRed, Qt::DashLine);
  p.curve(lower, kRed, Qt::DashLine);
  p.line(d0, 0, 1, 0, Qt::gray, Qt::DotLine);
  for (size_t i = 0; i < std::min(dice.size(), vpe.size()); ++i)
    if (std::isfinite(dice[i]) && std::isfinite(vpe[i]))
      p.point(dice[i], std::clamp(vpe[i], -1.0, clip), kGreen);
  p.legend("red dashed: bounds on vpe implied by Dice (PanSegNet paper, section 4.7)");
  return img;
}
} // namespace panseg::ui
