#include "core/metrics/ShapeStats.h"

#include "core/Error.h"
#include "core/metrics/DistanceTransform.h"

#include <algorithm>
#include <cmath>

namespace panseg
{
namespace
{
/// In-plane border (mask minus its 4-connected erosion; outside = background) of one slice.
std::vector<uint8_t> sliceBorder(const std::vector<uint8_t>& m, int64_t nx, int64_t ny)
{
  std::vector<uint8_t> b(m.size(), 0);
  for (int64_t y = 0; y < ny; ++y)
    for (int64_t x = 0; x < nx; ++x)
    {
      const size_t i = static_cast<size_t>(y * nx + x);
      if (!m[i])
        continue;
      const bool interior = x > 0 && x + 1 < nx && y > 0 && y + 1 < ny && m[i - 1] && m[i + 1] &&
                            m[i - static_cast<size_t>(nx)] && m[i + static_cast<size_t>(nx)];
      b[i] = interior ? 0 : 1;
    }
  return b;
}

/// Mean over the border pixels of `from` of the distance (mm) to the nearest border pixel of
/// `to`, given `to`'s squared distance transform.
double directedMean(const std::vector<uint8_t>& from, const std::vector<double>& dtTo)
{
  double sum = 0;
  int64_t n = 0;
  for (size_t i = 0; i < from.size(); ++i)
    if (from[i])
    {
      sum += std::sqrt(dtTo[i]);
      ++n;
    }
  return n ? sum / static_cast<double>(n) : 0.0;
}
} // namespace

InterSliceSmoothness interSliceSmoothness(const LabelMask& mask, int label, int threads)
{
  const Geometry& g = mask.geometry;
  if (static_cast<int64_t>(mask.voxels.size()) != g.voxelCount())
    throw Error("mask has " + std::to_string(mask.voxels.size()) + " voxels but its geometry says " +
                std::to_string(g.voxelCount()));
  const int64_t nx = g.size[0], ny = g.size[1], nz = g.size[2];
  const size_t plane = static_cast<size_t>(nx * ny);
  const Size3 size2{ nx, ny, 1 };
  const Vec3 spacing2{ g.spacingMm[0], g.spacingMm[1], 1.0 };
  InterSliceSmoothness r;
  std::vector<uint8_t> prevBorder;
  std::vector<double> prevDt;
  bool prevNonEmpty = false;
  double sum = 0;
  for (int64_t z = 0; z < nz; ++z)
  {
    std::vector<uint8_t> m(plane, 0);
    bool nonEmpty = false;
    for (size_t i = 0; i < plane; ++i)
    {
      const uint8_t v = mask.voxels[static_cast<size_t>(z) * plane + i];
      m[i] = (label == 0 ? v != 0 : v == label) ? 1 : 0;
      nonEmpty = nonEmpty || m[i];
    }
    std::vector<uint8_t> border;
    std::vector<double> dt;
    if (nonEmpty)
    {
      border = sliceBorder(m, nx, ny);
      dt = squaredDistanceTransformMm2(border, size2, spacing2, threads);
    }
    if (z > 0)
    {
      if (nonEmpty && prevNonEmpty)
      {
        const double ahd = 0.5 * (directedMean(prevBorder, dt) + directedMean(border, prevDt));
        sum += ahd;
        r.maxHdMm = std::max(r.maxHdMm, ahd);
        ++r.pairs;
      }
      else if (nonEmpty != prevNonEmpty)
        ++r.pairsOneEmpty;
    }
    prevBorder = std::move(border);
    prevDt = std::move(dt);
    prevNonEmpty = nonEmpty;
  }
  r.averageHdMm = r.pairs ? sum / static_cast<double>(r.pairs) : 0.0;
  return r;
}
} // namespace panseg
