#include "core/display/SliceGeometry.h"

#include <algorithm>
#include <cmath>

namespace panseg
{
const char* sliceOrientationName(SliceOrientation o)
{
  switch (o)
  {
  case SliceOrientation::Axial:
    return "Axial";
  case SliceOrientation::Coronal:
    return "Coronal";
  case SliceOrientation::Sagittal:
    return "Sagittal";
  }
  return "";
}

std::array<int, 3> closestWorldAxes(const Mat3& d)
{
  std::array<int, 3> worldOf{-1, -1, -1};
  std::array<bool, 3> rowUsed{}, colUsed{};
  for (int pass = 0; pass < 3; ++pass)
  {
    int bestR = -1, bestC = -1;
    double best = -1;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c)
        if (!rowUsed[r] && !colUsed[c] && std::abs(d[r * 3 + c]) > best)
        {
          best = std::abs(d[r * 3 + c]);
          bestR = r;
          bestC = c;
        }
    rowUsed[bestR] = colUsed[bestC] = true;
    worldOf[bestC] = bestR;
  }
  return worldOf;
}

std::string directionLetters(const Vec3& v)
{
  static const char pos[3] = {'L', 'P', 'S'};
  static const char neg[3] = {'R', 'A', 'I'};
  std::array<int, 3> order{0, 1, 2};
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return std::abs(v[a]) > std::abs(v[b]); });
  const double norm = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  std::string s;
  if (norm <= 0)
    return s;
  s += v[order[0]] >= 0 ? pos[order[0]] : neg[order[0]];
  // sin(15 deg) ~ 0.26: below that the tilt is not worth a second letter.
  if (std::abs(v[order[1]]) / norm > 0.26)
    s += v[order[1]] >= 0 ? pos[order[1]] : neg[order[1]];
  return s;
}

namespace
{
struct WorldAxis
{
  int axis;
  int sign;
};
struct ViewConvention
{
  WorldAxis right, down, forward;
};

ViewConvention conventionFor(SliceOrientation o)
{
  // LPS: +x = patient left, +y = posterior, +z = superior.
  switch (o)
  {
  case SliceOrientation::Axial:
    return {{0, +1}, {1, +1}, {2, +1}};
  case SliceOrientation::Coronal:
    return {{0, +1}, {2, -1}, {1, -1}};
  case SliceOrientation::Sagittal:
    return {{1, +1}, {2, -1}, {0, +1}};
  }
  return {{0, +1}, {1, +1}, {2, +1}};
}

Vec3 indexAxisLps(const Geometry& g, int c)
{
  return {g.direction[0 * 3 + c], g.direction[1 * 3 + c], g.direction[2 * 3 + c]};
}
} // namespace

SliceMapper::SliceMapper(const Geometry& geometry, SliceOrientation orientation)
    : m_geometry(geometry), m_orientation(orientation)
{
  const std::array<int, 3> worldOf = closestWorldAxes(geometry.direction);
  std::array<int, 3> indexOf{};
  std::array<int, 3> signOf{};
  for (int c = 0; c < 3; ++c)
  {
    indexOf[worldOf[c]] = c;
    signOf[c] = geometry.direction[worldOf[c] * 3 + c] >= 0 ? 1 : -1;
  }
  const ViewConvention v = conventionFor(orientation);
  m_columnAxis = indexOf[v.right.axis];
  m_rowAxis = indexOf[v.down.axis];
  m_sliceAxis = indexOf[v.forward.axis];
  m_columnFlipped = signOf[m_columnAxis] * v.right.sign < 0;
  m_rowFlipped = signOf[m_rowAxis] * v.down.sign < 0;
  m_forwardStep = signOf[m_sliceAxis] * v.forward.sign;
}

Vec3 SliceMapper::sliceToIndex(double column, double row, double slice) const
{
  Vec3 idx{};
  idx[m_columnAxis] = m_columnFlipped ? (width() - 1) - column : column;
  idx[m_rowAxis] = m_rowFlipped ? (height() - 1) - row : row;
  idx[m_sliceAxis] = slice;
  return idx;
}

Vec3 SliceMapper::indexToSlice(const Vec3& index) const
{
  const double c = index[m_columnAxis];
  const double r = index[m_rowAxis];
  return {m_columnFlipped ? (width() - 1) - c : c, m_rowFlipped ? (height() - 1) - r : r,
          index[m_sliceAxis]};
}

Vec3 SliceMapper::sliceToPhysical(double column, double row, double slice) const
{
  return m_geometry.indexToPhysical(sliceToIndex(column, row, slice));
}

Vec3 SliceMapper::physicalToSlice(const Vec3& pointMm) const
{
  return indexToSlice(m_geometry.physicalToIndex(pointMm));
}

Vec3 SliceMapper::screenRightLps() const
{
  Vec3 v = indexAxisLps(m_geometry, m_columnAxis);
  if (m_columnFlipped)
    v = {-v[0], -v[1], -v[2]};
  return v;
}

Vec3 SliceMapper::screenDownLps() const
{
  Vec3 v = indexAxisLps(m_geometry, m_rowAxis);
  if (m_rowFlipped)
    v = {-v[0], -v[1], -v[2]};
  return v;
}

EdgeLetters SliceMapper::edgeLetters() const
{
  const Vec3 r = screenRightLps();
  const Vec3 d = screenDownLps();
  EdgeLetters e;
  e.right = directionLetters(r);
  e.left = directionLetters({-r[0], -r[1], -r[2]});
  e.bottom = directionLetters(d);
  e.top = directionLetters({-d[0], -d[1], -d[2]});
  return e;
}

} // namespace panseg
