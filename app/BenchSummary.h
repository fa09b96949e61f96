#pragma once
// The summaries the `panseg bench ...` tables print: the median and other quantiles of timings
// (core/stats quantile: linear interpolation, R's and numpy's default), 0 for no values, so that
// every benchmark summarises the same way.
#include "core/stats/Descriptive.h"

#include <vector>

namespace panseg::cli
{
inline double benchQuantile(const std::vector<double>& values, double q)
{
  return values.empty() ? 0.0 : stats::quantile(values, q);
}

inline double benchMedian(const std::vector<double>& values)
{
  return benchQuantile(values, 0.5);
}
} // namespace panseg::cli
