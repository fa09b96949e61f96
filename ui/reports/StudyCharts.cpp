#include "ui/reports/StudyCharts.h"

#include "core/metrics/Agreement.h"

#include <QFont>
#include <QPainter>
#include <QPainterPath>

#include <algorithm>
#include <cmath>

namespace panseg::ui
{
namespace
{
/// A plot frame: data ranges, margins, ticks; maps data to pixels.
class Plot
{
public:
  Plot(QImage& image, const QString& title, const QString& xLabel, const QString& yLabel, double x0,
       double x1, double y0, double y1)
      : m_p(&image), m_x0(x0), m_x1(x1), m_y0(y0), m_y1(y1)
  {
    if (!(m_x1 > m_x0))
      m_x1 = m_x0 + 1;
    if (!(m_y1 > m_y0))
      m_y1 = m_y0 + 1;
    m_p.setRenderHint(QPainter::Antialiasing);
    m_p.fillRect(image.rect(), Qt::white);
    m_area = QRectF(70, 40, image.width() - 90, image.height() - 95);
    QFont f = m_p.font();
    f.setPixelSize(13);
    m_p.setFont(f);
    m_p.setPen(Qt::black);
    m_p.drawText(QRectF(0, 8, image.width(), 24), Qt::AlignCenter, title);
    f.setPixelSize(11);
    m_p.setFont(f);
    m_p.drawRect(m_area);
    for (int i = 0; i <= 5; ++i)
    {
      const double xv = m_x0 + (m_x1 - m_x0) * i / 5.0, yv = m_y0 + (m_y1 - m_y0) * i / 5.0;
      const QPointF px = map(xv, m_y0), py = map(m_x0, yv);
      m_p.drawLine(px, px + QPointF(0, 4));
      m_p.drawText(QRectF(px.x() - 40, px.y() + 5, 80, 16), Qt::AlignCenter, number(xv));
      m_p.drawLine(py, py - QPointF(4, 0));
      m_p.drawText(QRectF(py.x() - 66, py.y() - 8, 60, 16), Qt::AlignRight | Qt::AlignVCenter,
                   number(yv));
    }
    f.setPixelSize(12);
    m_p.setFont(f);
    m_p.drawText(QRectF(m_area.left(), image.height() - 34, m_area.width(), 18), Qt::AlignCenter,
                 xLabel);
    m_p.save();
    m_p.translate(16, m_area.center().y());
    m_p.rotate(-90);
    m_p.drawText(QRectF(-m_area.height() / 2, -10, m_area.height(), 20), Qt::AlignCenter, yLabel);
    m_p.restore();
    m_p.setClipRect(m_area);
  }

  QPointF map(double x, double y) const
  {
    return {m_area.left() + (x - m_x0) / (m_x1 - m_x0) * m_area.width(),
            m_area.bottom() - (y - m_y0) / (m_y1 - m_y0) * m_area.height()};
  }
  void point(double x, double y, const QColor& c)
  {
    m_p.setPen(QPen(c.darker(130), 1));
    m_p.setBrush(c);
    m_p.drawEllipse(map(x, y), 4, 4);
  }
  void line(double xa, double ya, double xb, double yb, const QColor& c,
            Qt::PenStyle style = Qt::SolidLine)
  {
    m_p.setPen(QPen(c, 1.5, style));
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
  void label(double x, double y, const QString& text, const QColor& c)
  {
    m_p.setPen(c);
    m_p.drawText(map(x, y) + QPointF(4, -4), text);
  }
  void legend(const QString& text)
  {
    m_p.setClipping(false);
    m_p.setPen(Qt::darkGray);
    m_p.drawText(QRectF(m_area.left() + 6, m_area.top() + 4, m_area.width() - 12, 40),
                 Qt::AlignLeft | Qt::AlignTop, text);
  }
  QPainter& painter() { return m_p; }
  static QString number(double v)
  {
    const double a = std::fabs(v);
    return QString::number(v, 'f', a >= 100 ? 0 : a >= 10 ? 1 : 2);
  }

private:
  QPainter m_p;
  QRectF m_area;
  double m_x0, m_x1, m_y0, m_y1;
};

const QColor kBlue(31, 119, 180), kOrange(255, 127, 14), kGreen(44, 160, 44), kRed(214, 39, 40);

std::pair<double, double> range(const std::vector<double>& v, double pad = 0.08)
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
                          ChartSize size)
{
  QImage img = canvas(size);
  std::vector<double> both(a);
  both.insert(both.end(), b.begin(), b.end());
  const auto [lo, hi] = range(both);
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
  Plot p(img, title + "  (" + r2 + ")", labelB + " volume (mL)", labelA + " volume (mL)", lo, hi,
         lo, hi);
  p.line(lo, lo, hi, hi, Qt::gray, Qt::DashLine);
  if (fit)
    p.line(lo, icpt + slope * lo, hi, icpt + slope * hi, kOrange);
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    if (std::isfinite(a[i]) && std::isfinite(b[i]))
      p.point(b[i], a[i], kBlue);
  p.legend("dashed: y = x   orange: least-squares fit");
  return img;
}

QImage blandAltmanChart(const std::vector<double>& a, const std::vector<double>& b,
                        const QString& title, ChartSize size)
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
  const auto [x0, x1] = range(means);
  const auto [y0, y1] = range(yr, 0.15);
  Plot p(img, title, "mean of the two volumes (mL)", "difference A - B (mL)", x0, x1, y0, y1);
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
                             const QString& title, ChartSize size)
{
  QImage img = canvas(size);
  std::vector<double> all;
  for (const auto& [g, v] : groups)
    all.insert(all.end(), v.begin(), v.end());
  auto [y0, y1] = range(all);
  y0 = std::max(0.0, std::min(y0, 0.5));
  y1 = std::min(1.0, std::max(y1, y0 + 0.1));
  const double n = double(std::max<size_t>(1, groups.size()));
  Plot p(img, title, "group", "Dice", 0, n, y0, y1);
  int gi = 0;
  for (const auto& [g, v] : groups)
  {
    const double cx = gi + 0.5;
    double sum = 0;
    int count = 0;
    for (size_t i = 0; i < v.size(); ++i)
      if (std::isfinite(v[i]))
      {
        const double jitter = ((i * 7919) % 100 / 100.0 - 0.5) * 0.4;
        p.point(cx + jitter, v[i], kBlue);
        sum += v[i];
        ++count;
      }
    if (count)
      p.line(cx - 0.3, sum / count, cx + 0.3, sum / count, kOrange);
    p.label(cx - 0.45, y0 + (y1 - y0) * 0.03, QString("%1 (n=%2)").arg(g).arg(count), Qt::black);
    ++gi;
  }
  p.legend("orange: group mean");
  return img;
}

QImage vpeDiceChart(const std::vector<double>& dice, const std::vector<double>& vpe,
                    const QString& title, ChartSize size)
{
  QImage img = canvas(size);
  double d0 = 1.0;
  for (double d : dice)
    if (std::isfinite(d))
      d0 = std::min(d0, d);
  d0 = std::max(0.05, std::min(d0 - 0.05, 0.7));
  const double clip = 1.5;
  Plot p(img, title, "Dice", "relative volume error (vpe)", d0, 1.0, -1.0, clip);
  std::vector<QPointF> upper, lower;
  for (int i = 0; i <= 200; ++i)
  {
    const double d = d0 + (1.0 - d0) * i / 200.0;
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
