#pragma once
// Plots of a reader-study report, drawn with QPainter into QImages (Qt Gui only; no widgets):
// volume scatter with the identity line and R² (the paper's Fig. 7), Bland–Altman, Dice per
// group, and relative volume error against Dice with the Dice-implied bounds (Fig. 9, from
// core/metrics vpeBoundsFromDice). Non-finite values are left out of every plot. Numeric axes
// end on round ticks (niceTicks).
#include <QImage>
#include <QString>

#include <map>
#include <vector>

namespace panseg::ui
{
struct ChartSize
{
  int width = 640;
  int height = 440;
};

/// What a chart put on its axes (for tests and callers that describe the plot).
struct ChartAxes
{
  std::vector<double> xTicks, yTicks; // numeric tick values (none on a category axis)
  std::vector<QString> xCategories;   // category axis: the group labels, left to right
  double x0 = 0, x1 = 0, y0 = 0, y1 = 0; // the plotted ranges (the outer ticks)
};

/// Round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten, at most
/// maxTicks + 1 ticks, the first at or below lo and the last at or above hi (so the axis ends on
/// ticks). Each tick is an integer multiple of the step, as the nearest double to its decimal.
std::vector<double> niceTicks(double lo, double hi, int maxTicks = 6);
/// The tick step of niceTicks' result (0 for fewer than two ticks).
double tickStep(const std::vector<double>& ticks);
/// A tick label with as many decimals as the step needs ("0.85", "40", "-0.5").
QString tickLabel(double value, double step);

/// Volume of A against volume of B (mL) with y = x and the least-squares line; R² in the title.
QImage volumeScatterChart(const std::vector<double>& volumeAMl,
                          const std::vector<double>& volumeBMl, const QString& labelA,
                          const QString& labelB, const QString& title, ChartSize size = {},
                          ChartAxes* axes = nullptr);
/// Bland–Altman: mean of A and B against A - B, with the bias and the 95 % limits of agreement.
QImage blandAltmanChart(const std::vector<double>& volumeAMl, const std::vector<double>& volumeBMl,
                        const QString& title, ChartSize size = {}, ChartAxes* axes = nullptr);
/// Dice of every pair per group (jittered points and the group mean as a bar). The x axis is a
/// category axis (one column per group, named below it: `groupLabel` is its title); the Dice
/// axis has round ticks over the data, never above 1.
QImage diceDistributionChart(const std::map<QString, std::vector<double>>& diceByGroup,
                             const QString& title, const QString& groupLabel = "group",
                             ChartSize size = {}, ChartAxes* axes = nullptr);
/// vpe against Dice with the bounds vpeBoundsFromDice(D) drawn as curves (vpe clipped to ±1.5).
QImage vpeDiceChart(const std::vector<double>& dice, const std::vector<double>& vpe,
                    const QString& title, ChartSize size = {}, ChartAxes* axes = nullptr);
} // namespace panseg::ui
