#include "core/metrics/Plausibility.h"

#include "core/Error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>

namespace panseg
{
namespace
{
std::string number(double v, int decimals)
{
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

/// Index axis whose direction is closest to the patient's head-foot (LPS z) axis.
int headFootAxisOf(const Geometry& g)
{
  int best = 2;
  double bestAbs = -1.0;
  for (int j = 0; j < 3; ++j)
  {
    const double a = std::abs(g.direction[size_t(6 + j)]); // row 2 (S) of column j
    if (a > bestAbs)
    {
      bestAbs = a;
      best = j;
    }
  }
  return best;
}

const char* axisSideName(const Geometry& g, int axis, bool high)
{
  // The anatomical direction in which this index axis grows, and its opposite.
  const Vec3 dir{ g.direction[size_t(axis)], g.direction[size_t(3 + axis)], g.direction[size_t(6 + axis)] };
  const Vec3 d = high ? dir : Vec3{ -dir[0], -dir[1], -dir[2] };
  switch (closestAxisLetter(d))
  {
  case 'L': return "patient-left";
  case 'R': return "patient-right";
  case 'A': return "anterior";
  case 'P': return "posterior";
  case 'S': return "superior";
  case 'I': return "inferior";
  default: return "outer";
  }
}
} // namespace

void PlausibilityLimits::validate(const std::string& where) const
{
  auto fail = [&](const std::string& what) { throw Error(where + ": " + what); };
  if (!std::isfinite(minVolumeMl) || minVolumeMl < 0)
    fail("min_volume_ml must be a number >= 0, not " + number(minVolumeMl, 3));
  if (!std::isfinite(maxVolumeMl) || maxVolumeMl <= 0)
    fail("max_volume_ml must be a number > 0, not " + number(maxVolumeMl, 3));
  if (minVolumeMl >= maxVolumeMl)
    fail("min_volume_ml (" + number(minVolumeMl, 3) + ") must be below max_volume_ml (" + number(maxVolumeMl, 3) + ")");
  if (maxComponents < 1)
    fail("max_components must be a whole number >= 1, not " + std::to_string(maxComponents));
  if (!(minMainShare >= 0 && minMainShare <= 1))
    fail("min_two_largest_share must lie between 0 and 1, not " + number(minMainShare, 3));
  if (!(borderMargin >= 0 && borderMargin < 0.5))
    fail("border_margin must lie between 0 and 0.5 (a share of the field of view), not " + number(borderMargin, 3));
  if (trainingVolumeMl)
  {
    const auto& r = *trainingVolumeMl;
    if (!std::isfinite(r[0]) || !std::isfinite(r[1]) || r[0] < 0 || r[0] >= r[1])
      fail("training_volume_ml must be [min, max] with 0 <= min < max, not [" + number(r[0], 3) + ", " +
           number(r[1], 3) + "]");
  }
}

std::string PlausibilityReport::summary() const
{
  if (findings.empty())
    return "plausible";
  std::string out;
  for (const PlausibilityFinding& f : findings)
    out += (out.empty() ? "" : "; ") + f.message;
  return out;
}

PlausibilityReport assessPlausibility(const LabelMask& mask, int label, const PlausibilityLimits& limits)
{
  PlausibilityReport r;
  r.label = label;
  r.limits = limits;
  const Geometry& g = mask.geometry;
  const int64_t nx = g.size[0], ny = g.size[1], nz = g.size[2];
  if (mask.voxels.size() != size_t(g.voxelCount()))
    throw Error("cannot check the mask's plausibility: its voxel buffer does not match its size");
  auto in = [&](uint8_t v) { return label == 0 ? v != 0 : v == label; };

  // Bounding box, count and centroid in one pass.
  int64_t lo[3] = { nx, ny, nz }, hi[3] = { -1, -1, -1 };
  double sum[3] = { 0, 0, 0 };
  size_t i = 0;
  for (int64_t z = 0; z < nz; ++z)
    for (int64_t y = 0; y < ny; ++y)
      for (int64_t x = 0; x < nx; ++x, ++i)
        if (in(mask.voxels[i]))
        {
          ++r.voxels;
          const int64_t p[3] = { x, y, z };
          for (int a = 0; a < 3; ++a)
          {
            lo[a] = std::min(lo[a], p[a]);
            hi[a] = std::max(hi[a], p[a]);
            sum[a] += double(p[a]);
          }
        }
  r.volumeMl = double(r.voxels) * g.voxelVolumeMm3() / 1000.0;
  r.headFootAxis = headFootAxisOf(g);
  if (r.voxels == 0)
  {
    r.findings.push_back({ "empty", "the mask is empty (no pancreas found)" });
    return r;
  }
  for (int a = 0; a < 3; ++a)
  {
    r.centroidIndex[size_t(a)] = sum[a] / double(r.voxels);
    const double n = double(g.size[size_t(a)]);
    r.centroidRelative[size_t(a)] = n > 1 ? r.centroidIndex[size_t(a)] / (n - 1) : 0.5;
  }

  // 26-connected components inside the bounding box (flood fill with an explicit stack).
  const int64_t bx = hi[0] - lo[0] + 1, by = hi[1] - lo[1] + 1, bz = hi[2] - lo[2] + 1;
  std::vector<uint8_t> seen(size_t(bx * by * bz), 0);
  auto local = [&](int64_t x, int64_t y, int64_t z) { return size_t((x - lo[0]) + bx * ((y - lo[1]) + by * (z - lo[2]))); };
  std::vector<std::array<int64_t, 3>> stack;
  int64_t largest = 0;
  for (int64_t z = lo[2]; z <= hi[2]; ++z)
    for (int64_t y = lo[1]; y <= hi[1]; ++y)
      for (int64_t x = lo[0]; x <= hi[0]; ++x)
      {
        if (seen[local(x, y, z)] || !in(mask.at(x, y, z)))
          continue;
        ++r.components;
        int64_t size = 0;
        seen[local(x, y, z)] = 1;
        stack.push_back({ x, y, z });
        while (!stack.empty())
        {
          const auto p = stack.back();
          stack.pop_back();
          ++size;
          for (int64_t dz = -1; dz <= 1; ++dz)
            for (int64_t dy = -1; dy <= 1; ++dy)
              for (int64_t dx = -1; dx <= 1; ++dx)
              {
                const int64_t qx = p[0] + dx, qy = p[1] + dy, qz = p[2] + dz;
                if (qx < lo[0] || qy < lo[1] || qz < lo[2] || qx > hi[0] || qy > hi[1] || qz > hi[2])
                  continue;
                const size_t k = local(qx, qy, qz);
                if (seen[k] || !in(mask.at(qx, qy, qz)))
                  continue;
                seen[k] = 1;
                stack.push_back({ qx, qy, qz });
              }
        }
        largest = std::max(largest, size);
        r.componentVoxels.push_back(size);
      }
  r.largestShare = double(largest) / double(r.voxels);
  std::sort(r.componentVoxels.begin(), r.componentVoxels.end(), std::greater<int64_t>());
  r.mainShare = double(r.componentVoxels[0] + (r.componentVoxels.size() > 1 ? r.componentVoxels[1] : 0)) /
                double(r.voxels);
  if (r.componentVoxels.size() > 20)
    r.componentVoxels.resize(20);

  // Volume.
  if (r.volumeMl < limits.minVolumeMl)
    r.findings.push_back({ "volume-low", "volume " + number(r.volumeMl, 2) + " mL is below " +
                                             number(limits.minVolumeMl, 1) + " mL" });
  if (r.volumeMl > limits.maxVolumeMl)
    r.findings.push_back({ "volume-high", "volume " + number(r.volumeMl, 2) + " mL is above " +
                                              number(limits.maxVolumeMl, 1) + " mL" });
  if (limits.trainingVolumeMl)
  {
    const auto& t = *limits.trainingVolumeMl;
    if (r.volumeMl < t[0] || r.volumeMl > t[1])
      r.findings.push_back({ "outside-training-range", "volume " + number(r.volumeMl, 2) +
                                                           " mL is outside the model's training data (" +
                                                           number(t[0], 1) + "-" + number(t[1], 1) + " mL)" });
  }
  // Components.
  if (r.components > limits.maxComponents)
    r.findings.push_back({ "components", std::to_string(r.components) + " separate pieces (at most " +
                                             std::to_string(limits.maxComponents) + " expected)" });
  if (r.mainShare < limits.minMainShare)
    r.findings.push_back({ "fragmented", "the two largest pieces hold only " + number(100.0 * r.mainShare, 0) +
                                             " % of the volume (at least " + number(100.0 * limits.minMainShare, 0) +
                                             " % expected)" });
  // Position: in-plane axes are the two that are not head-foot.
  std::string offCentre, border;
  for (int a = 0; a < 3; ++a)
  {
    if (a == r.headFootAxis || g.size[size_t(a)] < 3)
      continue;
    const double rel = r.centroidRelative[size_t(a)];
    if (rel < limits.borderMargin || rel > 1.0 - limits.borderMargin)
    {
      const bool high = rel > 0.5;
      offCentre += std::string(offCentre.empty() ? "" : ", ") + number(100.0 * (high ? 1.0 - rel : rel), 0) +
                   " % of the field of view from the " + axisSideName(g, a, high) + " edge";
    }
    if (limits.flagBorderContact)
    {
      if (lo[a] == 0)
        border += std::string(border.empty() ? "" : ", ") + axisSideName(g, a, false);
      if (hi[a] == g.size[size_t(a)] - 1)
        border += std::string(border.empty() ? "" : ", ") + axisSideName(g, a, true);
    }
  }
  if (!offCentre.empty())
    r.findings.push_back({ "off-centre", "the centroid lies at the edge of the image (" + offCentre + ")" });
  if (!border.empty())
    r.findings.push_back({ "border", "the mask touches the image border (" + border + " edge)" });
  if (limits.flagPartialCoverage && g.size[size_t(r.headFootAxis)] > 1)
  {
    const int a = r.headFootAxis;
    std::string cut;
    if (lo[a] == 0)
      cut = std::string(axisSideName(g, a, false)) + " end";
    if (hi[a] == g.size[size_t(a)] - 1)
      cut += std::string(cut.empty() ? "" : " and ") + axisSideName(g, a, true) + " end";
    if (!cut.empty())
      r.findings.push_back({ "partial", "the mask reaches the " + cut +
                                            " of the scan: the gland may continue outside it (partial volume)" });
  }
  return r;
}
} // namespace panseg
