#include "core/metrics/DistanceTransform.h"

#include "core/Error.h"
#include "core/Parallel.h"

#include <algorithm>
#include <limits>
#include <string>

namespace panseg
{
namespace
{
constexpr double kInf = std::numeric_limits<double>::infinity();

// Lower envelope of the parabolas y = (x - x_p)^2 + f[p], x_p = p * spacing, over the sites p
// with finite f[p]; out[q] = envelope at x_q. sites/bounds hold n and n+1 entries.
void lowerEnvelope1d(const double* f, double* out, int64_t n, double spacing, int64_t* sites,
                     double* bounds)
{
  int64_t k = -1; // index of the rightmost parabola in the envelope
  for (int64_t q = 0; q < n; ++q)
  {
    if (!(f[q] < kInf))
      continue;
    const double xq = static_cast<double>(q) * spacing;
    const double hq = f[q] + xq * xq;
    if (k < 0)
    {
      k = 0;
      sites[0] = q;
      bounds[0] = -kInf;
      bounds[1] = kInf;
      continue;
    }
    // Drop parabolas that q hides; bounds[0] = -inf keeps k >= 0 (cross is always finite).
    double cross = 0;
    for (;;)
    {
      const int64_t p = sites[k];
      const double xp = static_cast<double>(p) * spacing;
      // Abscissa where parabola q starts to lie below parabola p (xq > xp always).
      cross = (hq - (f[p] + xp * xp)) / (2.0 * (xq - xp));
      if (cross > bounds[k])
        break;
      --k;
    }
    ++k;
    sites[k] = q;
    bounds[k] = cross;
    bounds[k + 1] = kInf;
  }
  if (k < 0)
  {
    std::fill(out, out + n, kInf);
    return;
  }
  int64_t j = 0;
  for (int64_t q = 0; q < n; ++q)
  {
    const double xq = static_cast<double>(q) * spacing;
    while (bounds[j + 1] < xq)
      ++j;
    const double dx = xq - static_cast<double>(sites[j]) * spacing;
    out[q] = dx * dx + f[sites[j]];
  }
}

// Lines along y or z are strided in memory: process kBlock neighbouring x columns together so
// the gathers and scatters read contiguous runs.
constexpr int64_t kBlock = 16;

void envelopePass(std::vector<double>& d, const Size3& size, int axis, double spacing, int threads)
{
  const int64_t nx = size[0], ny = size[1], nz = size[2];
  const int64_t len = axis == 1 ? ny : nz;
  const int64_t stride = axis == 1 ? nx : nx * ny;
  const int64_t other = axis == 1 ? nz : ny; // the axis that is neither x nor `axis`
  const int64_t otherStride = axis == 1 ? nx * ny : nx;
  const int64_t xBlocks = (nx + kBlock - 1) / kBlock;
  if (len <= 1)
    return; // a single voxel per line: the pass changes nothing
  detail::parallelFor(other * xBlocks, threads,
                      [&](int64_t begin, int64_t end)
                      {
                        std::vector<double> in(static_cast<size_t>(kBlock * len)), out(in.size());
                        std::vector<int64_t> sites(static_cast<size_t>(len + 1));
                        std::vector<double> bounds(static_cast<size_t>(len + 1));
                        for (int64_t task = begin; task < end; ++task)
                        {
                          const int64_t o = task / xBlocks;
                          const int64_t x0 = (task % xBlocks) * kBlock;
                          const int64_t bc = std::min(kBlock, nx - x0);
                          const size_t base = static_cast<size_t>(x0 + o * otherStride);
                          for (int64_t i = 0; i < len; ++i)
                          {
                            const double* src = d.data() + base + static_cast<size_t>(i * stride);
                            for (int64_t b = 0; b < bc; ++b)
                              in[static_cast<size_t>(b * len + i)] = src[b];
                          }
                          for (int64_t b = 0; b < bc; ++b)
                            lowerEnvelope1d(in.data() + b * len, out.data() + b * len, len, spacing,
                                            sites.data(), bounds.data());
                          for (int64_t i = 0; i < len; ++i)
                          {
                            double* dst = d.data() + base + static_cast<size_t>(i * stride);
                            for (int64_t b = 0; b < bc; ++b)
                              dst[b] = out[static_cast<size_t>(b * len + i)];
                          }
                        }
                      });
}
} // namespace

std::vector<double> squaredDistanceTransformMm2(const std::vector<uint8_t>& feature,
                                                const Size3& size, const Vec3& spacingMm,
                                                int threads)
{
  for (int i = 0; i < 3; ++i)
  {
    if (size[i] < 0)
      throw Error("distance transform: negative grid size");
    if (!(spacingMm[i] > 0))
      throw Error("distance transform: spacing must be positive, got " +
                  std::to_string(spacingMm[i]) + " mm on axis " + std::to_string(i));
  }
  const int64_t nx = size[0], ny = size[1], nz = size[2];
  if (static_cast<int64_t>(feature.size()) != nx * ny * nz)
    throw Error("distance transform: " + std::to_string(feature.size()) + " voxels for a " +
                std::to_string(nx) + "x" + std::to_string(ny) + "x" + std::to_string(nz) + " grid");
  std::vector<double> d(feature.size());
  if (d.empty())
    return d;

  // x pass: distance along the row to the nearest feature, two scans.
  const double sx = spacingMm[0];
  detail::parallelFor(ny * nz, threads,
                      [&](int64_t begin, int64_t end)
                      {
                        for (int64_t line = begin; line < end; ++line)
                        {
                          const size_t base = static_cast<size_t>(line * nx);
                          const uint8_t* f = feature.data() + base;
                          double* out = d.data() + base;
                          int64_t last = -1;
                          for (int64_t x = 0; x < nx; ++x)
                          {
                            if (f[x])
                              last = x;
                            if (last < 0)
                              out[x] = kInf;
                            else
                            {
                              const double dx = static_cast<double>(x - last) * sx;
                              out[x] = dx * dx;
                            }
                          }
                          last = -1;
                          for (int64_t x = nx - 1; x >= 0; --x)
                          {
                            if (f[x])
                              last = x;
                            if (last >= 0)
                            {
                              const double dx = static_cast<double>(last - x) * sx;
                              out[x] = std::min(out[x], dx * dx);
                            }
                          }
                        }
                      });
  envelopePass(d, size, 1, spacingMm[1], threads);
  envelopePass(d, size, 2, spacingMm[2], threads);
  return d;
}

} // namespace panseg
