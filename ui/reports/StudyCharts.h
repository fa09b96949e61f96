#pragma once
// Plots of a reader-study report, drawn with QPainter into QImages (Qt Gui only; no widgets):
// volume scatter with the identity line and R² (the paper's Fig. 7), Bland–Altman, Dice per
// group, and relative volume error against Dice with the Dice-implied bounds (Fig. 9, from
// core/metrics vpeBoundsFromDice). Non-finite values are left out of every plot.
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

/// Volume of A against volume of B (mL) with y = x and the least-squares line; R² in the title.
QImage volumeScatterChart(const std::vector<double>& volumeAMl,
                          const std::vector<double>& volumeBMl, const QString& labelA,
                          const QString& labelB, const QString& title, ChartSize size = {});
/// Bland–Altman: mean of A and B against A - B, with the bias and the 95 % limits of agreement.
QImage blandAltmanChart(const std::vector<double>& volumeAMl, const std::vector<double>& volumeBMl,
                        const QString& title, ChartSize size = {});
/// Dice of every pair per group (jittered points and the group mean as a bar).
QImage diceDistributionChart(const std::map<QString, std::vector<double>>& diceByGroup,
                             const QString& title, ChartSize size = {});
/// vpe against Dice with the bounds vpeBoundsFromDice(D) drawn as curves (vpe clipped to ±1.5).
QImage vpeDiceChart(const std::vector<double>& dice, const std::vector<double>& vpe,
                    const QString& title, ChartSize size = {});
} // namespace panseg::ui
