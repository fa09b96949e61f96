#pragma once
// Internal to core/stats: argument checks that throw panseg::Error with a one-line message.

#include "core/Error.h"

#include <cmath>
#include <string>
#include <vector>

namespace panseg::stats::detail
{
inline void requireFinite(const std::vector<double>& v, const char* what, size_t minCount = 1)
{
  if (v.size() < minCount)
    throw Error(std::string(what) + ": needs at least " + std::to_string(minCount) +
                " values, got " + std::to_string(v.size()));
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      throw Error(std::string(what) + ": value " + std::to_string(i) + " is not finite");
}

inline void requirePaired(const std::vector<double>& a, const std::vector<double>& b,
                          const char* what, size_t minCount)
{
  if (a.size() != b.size())
    throw Error(std::string(what) + ": paired samples differ in length (" +
                std::to_string(a.size()) + " vs " + std::to_string(b.size()) + ")");
  requireFinite(a, what, minCount);
  requireFinite(b, what, minCount);
}

inline void requireLevel(double level, const char* what)
{
  if (!(level > 0 && level < 1))
    throw Error(std::string(what) + ": confidence level must lie in (0, 1), got " +
                std::to_string(level));
}
} // namespace panseg::stats::detail
