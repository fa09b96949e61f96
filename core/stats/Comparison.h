#pragma once
// Comparing two paired samples (e.g. one metric for model A and model B on the same cases, or a
// volume measured by two readers): paired t-test, Wilcoxon signed-rank test, Pearson correlation,
// Bland–Altman agreement. Differences are always a - b. Two-sided p-values throughout.
// Distributions come from Boost.Math (header-only). Inputs must be finite and of equal length;
// violations throw panseg::Error.

#include <cstddef>
#include <vector>

namespace panseg::stats
{
struct PairedTTestResult
{
  size_t n = 0;
  double meanDifference = 0; // mean of a - b
  double sdDifference = 0;
  double t = 0;
  double df = 0;
  double pValue = 1;
  double ciLower = 0; // confidence interval of the mean difference
  double ciUpper = 0;
};
/// Student's paired t-test (n >= 2). When every difference is the same the SD is 0: t is 0 with
/// p = 1 if that difference is 0, otherwise ±infinity with p = 0.
PairedTTestResult pairedTTest(const std::vector<double>& a, const std::vector<double>& b,
                              double level = 0.95);

struct WilcoxonResult
{
  size_t n = 0;     // pairs with a non-zero difference (zeros are dropped: Wilcoxon's method)
  size_t zeros = 0; // pairs dropped because a == b
  double wPlus = 0; // sum of the ranks of positive differences (R's V)
  double wMinus = 0;
  double z = 0; // normal approximation (0 when the exact distribution was used)
  double pValue = 1;
  bool exact = false;
};
/// Wilcoxon signed-rank test, the same choices as R's wilcox.test(paired = TRUE): average ranks
/// for tied |differences|; exact p-value when n < 50 with no ties and no zeros, otherwise the
/// normal approximation with tie correction and continuity correction. n = 0 gives p = 1.
WilcoxonResult wilcoxonSignedRank(const std::vector<double>& a, const std::vector<double>& b);

struct PearsonResult
{
  size_t n = 0;
  double r = 0;
  double rSquared = 0;
  double t = 0;       // r sqrt((n-2) / (1-r^2)), df = n - 2
  double pValue = 1;  // H0: r = 0
  double ciLower = 0; // Fisher z interval (NaN for n <= 3)
  double ciUpper = 0;
};
/// Pearson product-moment correlation (n >= 3). A constant sample has no correlation: throws.
PearsonResult pearson(const std::vector<double>& x, const std::vector<double>& y,
                      double level = 0.95);

struct BlandAltmanResult
{
  size_t n = 0;
  double bias = 0;         // mean of a - b
  double sdDifference = 0; // SD of a - b
  double lowerLimit = 0;   // bias - z * SD
  double upperLimit = 0;   // bias + z * SD
  double biasCiLower = 0;  // t interval of the bias
  double biasCiUpper = 0;
};
/// Bland & Altman (Lancet 1986) limits of agreement; z = 1.96 for 95% limits (the 1986 paper
/// used 2). n >= 2.
BlandAltmanResult blandAltman(const std::vector<double>& a, const std::vector<double>& b,
                              double z = 1.96, double level = 0.95);

} // namespace panseg::stats
