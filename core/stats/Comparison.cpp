#include "core/stats/Comparison.h"

#include "core/stats/Descriptive.h"
#include "core/stats/StatsCheck.h"

#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace panseg::stats
{
namespace
{
const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<double> differences(const std::vector<double>& a, const std::vector<double>& b)
{
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i)
    d[i] = a[i] - b[i];
  return d;
}

double tQuantile(double df, double p)
{
  return boost::math::quantile(boost::math::students_t_distribution<double>(df), p);
}

double twoSidedTP(double t, double df)
{
  if (std::isinf(t))
    return 0.0;
  const boost::math::students_t_distribution<double> dist(df);
  return std::min(1.0, 2.0 * boost::math::cdf(boost::math::complement(dist, std::abs(t))));
}

double twoSidedNormalP(double z)
{
  const boost::math::normal_distribution<double> n01;
  return std::min(1.0, 2.0 * boost::math::cdf(boost::math::complement(n01, std::abs(z))));
}

// Number of subsets of {1..n} for each rank sum 0..n(n+1)/2: the exact null distribution of W+.
// Counts stay below 2^50 for n < 50, so doubles hold them exactly.
std::vector<double> signedRankCounts(size_t n)
{
  const size_t maxSum = n * (n + 1) / 2;
  std::vector<double> c(maxSum + 1, 0.0);
  c[0] = 1;
  for (size_t k = 1; k <= n; ++k)
    for (size_t s = maxSum; s >= k; --s)
      c[s] += c[s - k];
  return c;
}
} // namespace

PairedTTestResult pairedTTest(const std::vector<double>& a, const std::vector<double>& b,
                              double level)
{
  detail::requirePaired(a, b, "paired t-test", 2);
  detail::requireLevel(level, "paired t-test");
  const std::vector<double> d = differences(a, b);
  PairedTTestResult r;
  r.n = d.size();
  r.df = static_cast<double>(r.n - 1);
  r.meanDifference = mean(d);
  r.sdDifference = standardDeviation(d);
  const double se = r.sdDifference / std::sqrt(static_cast<double>(r.n));
  if (se > 0)
    r.t = r.meanDifference / se;
  else
    r.t = r.meanDifference == 0 ? 0.0 : std::copysign(kInf, r.meanDifference);
  r.pValue = r.t == 0 ? 1.0 : twoSidedTP(r.t, r.df);
  const double h = tQuantile(r.df, 0.5 + level / 2) * se;
  r.ciLower = r.meanDifference - h;
  r.ciUpper = r.meanDifference + h;
  return r;
}

WilcoxonResult wilcoxonSignedRank(const std::vector<double>& a, const std::vector<double>& b)
{
  detail::requirePaired(a, b, "Wilcoxon signed-rank test", 1);
  std::vector<double> d;
  WilcoxonResult r;
  for (double x : differences(a, b))
  {
    if (x == 0)
      ++r.zeros;
    else
      d.push_back(x);
  }
  r.n = d.size();
  if (r.n == 0)
    return r;

  // Average ranks of |d|; tieTerm = sum over tie groups of (t^3 - t).
  std::vector<size_t> order(r.n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t i, size_t j) { return std::abs(d[i]) < std::abs(d[j]); });
  std::vector<double> rank(r.n);
  double tieTerm = 0;
  for (size_t i = 0; i < r.n;)
  {
    size_t j = i;
    while (j + 1 < r.n && std::abs(d[order[j + 1]]) == std::abs(d[order[i]]))
      ++j;
    const double avg = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (size_t k = i; k <= j; ++k)
      rank[order[k]] = avg;
    const double t = static_cast<double>(j - i + 1);
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  for (size_t i = 0; i < r.n; ++i)
    (d[i] > 0 ? r.wPlus : r.wMinus) += rank[i];

  const double n = static_cast<double>(r.n);
  const double meanW = n * (n + 1) / 4.0;
  r.exact = r.n < 50 && tieTerm == 0 && r.zeros == 0;
  if (r.exact)
  {
    const std::vector<double> c = signedRankCounts(r.n);
    const double total = std::ldexp(1.0, static_cast<int>(r.n));
    const size_t w = static_cast<size_t>(std::llround(r.wPlus));
    double tail = 0;
    if (r.wPlus > meanW)
      for (size_t s = w; s < c.size(); ++s)
        tail += c[s]; // P(W+ >= w)
    else
      for (size_t s = 0; s <= w; ++s)
        tail += c[s]; // P(W+ <= w)
    r.pValue = std::min(1.0, 2.0 * tail / total);
    return r;
  }
  const double var = n * (n + 1) * (2 * n + 1) / 24.0 - tieTerm / 48.0;
  if (var <= 0)
  {
    r.pValue = 1.0;
    return r;
  }
  const double diff = r.wPlus - meanW;
  const double correction = diff > 0 ? 0.5 : (diff < 0 ? -0.5 : 0.0);
  r.z = (diff - correction) / std::sqrt(var);
  r.pValue = twoSidedNormalP(r.z);
  return r;
}

PearsonResult pearson(const std::vector<double>& x, const std::vector<double>& y, double level)
{
  detail::requirePaired(x, y, "Pearson correlation", 3);
  detail::requireLevel(level, "Pearson correlation");
  const double mx = mean(x), my = mean(y);
  double sxx = 0, syy = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i)
  {
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
    sxy += (x[i] - mx) * (y[i] - my);
  }
  if (sxx == 0 || syy == 0)
    throw Error("Pearson correlation: one sample is constant, the correlation is undefined");
  PearsonResult r;
  r.n = x.size();
  r.r = std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
  r.rSquared = r.r * r.r;
  const double n = static_cast<double>(r.n);
  if (std::abs(r.r) >= 1)
  {
    r.t = std::copysign(kInf, r.r);
    r.pValue = 0;
    r.ciLower = r.ciUpper = r.r;
    return r;
  }
  r.t = r.r * std::sqrt((n - 2) / (1 - r.rSquared));
  r.pValue = twoSidedTP(r.t, n - 2);
  if (r.n > 3)
  {
    const double z = std::atanh(r.r);
    const double zc =
        boost::math::quantile(boost::math::normal_distribution<double>(), 0.5 + level / 2);
    const double se = 1.0 / std::sqrt(n - 3);
    r.ciLower = std::tanh(z - zc * se);
    r.ciUpper = std::tanh(z + zc * se);
  }
  else
    r.ciLower = r.ciUpper = kNaN;
  return r;
}

BlandAltmanResult blandAltman(const std::vector<double>& a, const std::vector<double>& b, double z,
                              double level)
{
  detail::requirePaired(a, b, "Bland-Altman", 2);
  detail::requireLevel(level, "Bland-Altman");
  if (!(z > 0))
    throw Error("Bland-Altman: the limit multiplier must be positive");
  const std::vector<double> d = differences(a, b);
  BlandAltmanResult r;
  r.n = d.size();
  r.bias = mean(d);
  r.sdDifference = standardDeviation(d);
  r.lowerLimit = r.bias - z * r.sdDifference;
  r.upperLimit = r.bias + z * r.sdDifference;
  const double h = tQuantile(static_cast<double>(r.n - 1), 0.5 + level / 2) * r.sdDifference /
                   std::sqrt(static_cast<double>(r.n));
  r.biasCiLower = r.bias - h;
  r.biasCiUpper = r.bias + h;
  return r;
}

} // namespace panseg::stats
