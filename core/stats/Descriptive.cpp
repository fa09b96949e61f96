#include "core/stats/Descriptive.h"

#include "core/stats/StatsCheck.h"

#include <boost/math/distributions/students_t.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace panseg::stats
{
namespace
{
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Type-7 quantile of already sorted values.
double sortedQuantile(const std::vector<double>& v, double p)
{
  const double h = (static_cast<double>(v.size()) - 1.0) * p;
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (h - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

// Uniform index in [0, n) by rejection, independent of the library's distributions.
size_t drawIndex(std::mt19937_64& rng, size_t n)
{
  const uint64_t range = static_cast<uint64_t>(n);
  const uint64_t limit =
      std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % range;
  uint64_t x = rng();
  while (x >= limit)
    x = rng();
  return static_cast<size_t>(x % range);
}
} // namespace

double mean(const std::vector<double>& values)
{
  detail::requireFinite(values, "mean");
  double s = 0;
  for (double v : values)
    s += v;
  return s / static_cast<double>(values.size());
}

double standardDeviation(const std::vector<double>& values)
{
  const double m = mean(values);
  if (values.size() < 2)
    return kNaN;
  double ss = 0;
  for (double v : values)
    ss += (v - m) * (v - m);
  return std::sqrt(ss / static_cast<double>(values.size() - 1));
}

double quantile(std::vector<double> values, double probability)
{
  detail::requireFinite(values, "quantile");
  if (!(probability >= 0 && probability <= 1))
    throw Error("quantile: probability must lie in [0, 1], got " + std::to_string(probability));
  std::sort(values.begin(), values.end());
  return sortedQuantile(values, probability);
}

Summary summarize(const std::vector<double>& values)
{
  detail::requireFinite(values, "summary");
  std::vector<double> v = values;
  std::sort(v.begin(), v.end());
  Summary s;
  s.n = v.size();
  s.mean = mean(v);
  s.sd = standardDeviation(v);
  s.median = sortedQuantile(v, 0.5);
  s.q1 = sortedQuantile(v, 0.25);
  s.q3 = sortedQuantile(v, 0.75);
  s.iqr = s.q3 - s.q1;
  s.min = v.front();
  s.max = v.back();
  return s;
}

MeanInterval meanTInterval(const std::vector<double>& values, double level)
{
  detail::requireFinite(values, "t interval of the mean");
  detail::requireLevel(level, "t interval of the mean");
  MeanInterval out;
  out.n = values.size();
  out.level = level;
  out.mean = mean(values);
  if (values.size() < 2)
  {
    out.lower = out.upper = kNaN;
    return out;
  }
  const double df = static_cast<double>(values.size() - 1);
  const double t =
      boost::math::quantile(boost::math::students_t_distribution<double>(df), 0.5 + level / 2);
  const double half = t * standardDeviation(values) / std::sqrt(static_cast<double>(values.size()));
  out.lower = out.mean - half;
  out.upper = out.mean + half;
  return out;
}

BootstrapInterval bootstrapCi(const std::vector<double>& values,
                              const std::function<double(const std::vector<double>&)>& statistic,
                              const BootstrapOptions& options)
{
  detail::requireFinite(values, "bootstrap");
  detail::requireLevel(options.level, "bootstrap");
  if (options.resamples < 10)
    throw Error("bootstrap: at least 10 resamples needed, got " +
                std::to_string(options.resamples));
  BootstrapInterval out;
  out.estimate = statistic(values);
  std::mt19937_64 rng(options.seed);
  std::vector<double> sample(values.size());
  std::vector<double> stats;
  stats.reserve(static_cast<size_t>(options.resamples));
  for (int r = 0; r < options.resamples; ++r)
  {
    for (double& x : sample)
      x = values[drawIndex(rng, values.size())];
    const double s = statistic(sample);
    if (std::isfinite(s))
      stats.push_back(s);
  }
  if (stats.empty())
    throw Error("bootstrap: the statistic was not finite on any resample");
  std::sort(stats.begin(), stats.end());
  const double alpha = 1.0 - options.level;
  out.lower = sortedQuantile(stats, alpha / 2);
  out.upper = sortedQuantile(stats, 1.0 - alpha / 2);
  return out;
}

BootstrapInterval bootstrapMeanCi(const std::vector<double>& values,
                                  const BootstrapOptions& options)
{
  return bootstrapCi(
      values,
      [](const std::vector<double>& v)
      {
        double s = 0;
        for (double x : v)
          s += x;
        return s / static_cast<double>(v.size());
      },
      options);
}

} // namespace panseg::stats
