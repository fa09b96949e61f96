#include "models/Sha256.h"

#include "core/Error.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

namespace panseg::models
{
WeightsScan scanWeightsFile(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error("cannot open " + path);
  WeightsScan scan;
  Sha256 h;
  std::vector<char> buf(std::size_t{ 1 } << 20); // a multiple of 4: floats never straddle chunks
  while (in)
  {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::size_t n = static_cast<std::size_t>(in.gcount());
    if (n == 0)
      break;
    h.update(buf.data(), n);
    if (scan.allZero)
      for (std::size_t i = 0; i < n; ++i)
        if (buf[i] != 0)
        {
          scan.allZero = false;
          break;
        }
    if (scan.firstNonFiniteOffset < 0)
      for (std::size_t i = 0; i + 4 <= n; i += 4)
      {
        float f;
        std::memcpy(&f, buf.data() + i, 4); // little-endian hosts only, as the package format
        if (!std::isfinite(f))
        {
          scan.firstNonFiniteOffset = scan.bytes + static_cast<std::int64_t>(i);
          break;
        }
      }
    scan.bytes += static_cast<std::int64_t>(n);
  }
  if (in.bad())
    throw Error("cannot read " + path);
  scan.sha256 = h.hexDigest();
  return scan;
}

bool looksLikeSha256(const std::string& s)
{
  if (s.size() != 64)
    return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c)))
      return false;
  return true;
}
} // namespace panseg::models
