#include "core/Geometry.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace panseg
{
Vec3 Geometry::indexToPhysical(const Vec3& index) const
{
  Vec3 p{};
  for (int r = 0; r < 3; ++r)
  {
    double s = originMm[r];
    for (int c = 0; c < 3; ++c)
      s += direction[r * 3 + c] * spacingMm[c] * index[c];
    p[r] = s;
  }
  return p;
}

Vec3 Geometry::physicalToIndex(const Vec3& pointMm) const
{
  // direction is orthonormal for every image we accept: its inverse is its transpose.
  Vec3 d{ pointMm[0] - originMm[0], pointMm[1] - originMm[1], pointMm[2] - originMm[2] };
  Vec3 idx{};
  for (int c = 0; c < 3; ++c)
  {
    double s = 0;
    for (int r = 0; r < 3; ++r)
      s += direction[r * 3 + c] * d[r];
    idx[c] = s / spacingMm[c];
  }
  return idx;
}

static std::string fmt3(const Vec3& v, int prec = 3)
{
  char buf[128];
  std::snprintf(buf, sizeof buf, "(%.*f, %.*f, %.*f)", prec, v[0], prec, v[1], prec, v[2]);
  return buf;
}

bool Geometry::sameGrid(const Geometry& o, std::string* why, double tol) const
{
  auto fail = [&](const std::string& m) {
    if (why)
      *why = m;
    return false;
  };
  if (size != o.size)
    return fail("size differs: " + std::to_string(size[0]) + "x" + std::to_string(size[1]) + "x" +
                std::to_string(size[2]) + " vs " + std::to_string(o.size[0]) + "x" +
                std::to_string(o.size[1]) + "x" + std::to_string(o.size[2]));
  for (int i = 0; i < 3; ++i)
    if (std::abs(spacingMm[i] - o.spacingMm[i]) > tol)
      return fail("spacing differs: " + fmt3(spacingMm, 4) + " vs " + fmt3(o.spacingMm, 4) + " mm");
  for (int i = 0; i < 3; ++i)
    if (std::abs(originMm[i] - o.originMm[i]) > tol * 10)
      return fail("origin differs: " + fmt3(originMm) + " vs " + fmt3(o.originMm) + " mm");
  for (int i = 0; i < 9; ++i)
    if (std::abs(direction[i] - o.direction[i]) > 1e-4)
      return fail("direction differs: " + orientationCode() + " vs " + o.orientationCode());
  return true;
}

char closestAxisLetter(const Vec3& v)
{
  int best = 0;
  for (int i = 1; i < 3; ++i)
    if (std::abs(v[i]) > std::abs(v[best]))
      best = i;
  static const char pos[3] = { 'L', 'P', 'S' };
  static const char neg[3] = { 'R', 'A', 'I' };
  return v[best] >= 0 ? pos[best] : neg[best];
}

std::string Geometry::orientationCode() const
{
  std::string s;
  for (int c = 0; c < 3; ++c)
    s += closestAxisLetter({ direction[0 * 3 + c], direction[1 * 3 + c], direction[2 * 3 + c] });
  return s;
}

std::string Geometry::describe() const
{
  std::ostringstream os;
  os << size[0] << "x" << size[1] << "x" << size[2] << " voxels, spacing " << fmt3(spacingMm, 4)
     << " mm, origin " << fmt3(originMm) << " mm, orientation " << orientationCode();
  return os.str();
}
} // namespace panseg
