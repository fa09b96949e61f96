#pragma once
// Small string helpers used across core/io and database/ (file names, extensions, headers).
#include <algorithm>
#include <cctype>
#include <string>

namespace panseg
{
/// ASCII lower case.
inline std::string lower(std::string s)
{
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

/// Case-sensitive suffix test.
inline bool endsWith(const std::string& s, const std::string& suffix)
{
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
} // namespace panseg
