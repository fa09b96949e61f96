#include "core/edit/GrowCut.h"

#include "core/Error.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

namespace panseg::edit
{
namespace
{
constexpr uint32_t kInf = std::numeric_limits<uint32_t>::max();
// Costs are integers in quarter units, so a length cost of 1.0 is 4 units per step.
constexpr double kUnits = 4.0;
// An intensity step never costs more than this (a strong edge is a wall already).
constexpr uint32_t kMaxIntensityUnits = 1024;

/// Running mean of radius r along one axis of a (n0, n1, n2) block, in place.
void boxFilterAxis(std::vector<float>& v, const Index3& n, int axis, int r)
{
  if (r <= 0 || n[axis] < 2)
    return;
  const int64_t stride = axis == 0 ? 1 : axis == 1 ? n[0] : n[0] * n[1];
  const int64_t len = n[axis];
  std::vector<double> line(static_cast<size_t>(len));
  const int a1 = axis == 0 ? 1 : 0, a2 = axis == 2 ? 1 : 2;
  const int64_t s1 = a1 == 0 ? 1 : n[0];
  const int64_t s2 = a2 == 1 ? n[0] : n[0] * n[1];
  for (int64_t j = 0; j < n[a2]; ++j)
    for (int64_t i = 0; i < n[a1]; ++i)
    {
      const int64_t base = i * s1 + j * s2;
      for (int64_t k = 0; k < len; ++k)
        line[static_cast<size_t>(k)] = v[static_cast<size_t>(base + k * stride)];
      // prefix sums; the window is clipped at the block's ends
      std::vector<double> pre(static_cast<size_t>(len + 1), 0.0);
      for (int64_t k = 0; k < len; ++k)
        pre[static_cast<size_t>(k + 1)] = pre[static_cast<size_t>(k)] + line[static_cast<size_t>(k)];
      for (int64_t k = 0; k < len; ++k)
      {
        const int64_t lo = std::max<int64_t>(0, k - r), hi = std::min<int64_t>(len, k + r + 1);
        v[static_cast<size_t>(base + k * stride)] = static_cast<float>(
          (pre[static_cast<size_t>(hi)] - pre[static_cast<size_t>(lo)]) / static_cast<double>(hi - lo));
      }
    }
}
} // namespace

GrowCut::GrowCut(std::shared_ptr<const Image> image, GrowCutOptions options)
  : m_image(std::move(image)), m_options(options)
{
  if (!m_image || m_image->geometry.isEmpty())
    throw Error("grow from seeds needs an image");
  if (!(m_options.marginMm >= 0.0) || !(m_options.lengthCost >= 0.0) ||
      !(m_options.intensityCost >= 0.0) || m_options.smoothRadius < 0)
    throw Error("grow from seeds: margin, costs and smoothing must not be negative");
}

int64_t GrowCut::addSeeds(const std::vector<Index3>& voxels, SeedLabel label)
{
  const uint8_t l = static_cast<uint8_t>(label);
  int64_t added = 0;
  for (const Index3& v : voxels)
  {
    if (!m_image->contains(v[0], v[1], v[2]))
      continue;
    const size_t o = m_image->offset(v[0], v[1], v[2]);
    auto it = m_seeds.find(o);
    if (it != m_seeds.end())
    {
      if (it->second == l)
        continue;
      it->second = l; // a seed changed its label: distances may grow, so start again
      m_needsRebuild = true;
    }
    else
      m_seeds.emplace(o, l);
    m_seedBox.include(v);
    m_pending.emplace_back(o, l);
    ++added;
  }
  return added;
}

int64_t GrowCut::addSeedBall(const Index3& c, double radiusMm, SeedLabel label, int axis)
{
  if (!std::isfinite(radiusMm) || radiusMm < 0.0)
    throw Error("grow from seeds: the seed radius must be a non-negative number of mm");
  const Vec3& sp = m_image->geometry.spacingMm;
  Index3 r{};
  for (int a = 0; a < 3; ++a)
    r[a] = (a == axis) ? 0 : static_cast<int64_t>(std::floor(radiusMm / sp[a] + 1e-9));
  std::vector<Index3> voxels;
  const double r2 = radiusMm * radiusMm + 1e-6;
  for (int64_t dz = -r[2]; dz <= r[2]; ++dz)
    for (int64_t dy = -r[1]; dy <= r[1]; ++dy)
      for (int64_t dx = -r[0]; dx <= r[0]; ++dx)
      {
        const double d2 = (dx * sp[0]) * (dx * sp[0]) + (dy * sp[1]) * (dy * sp[1]) +
                          (dz * sp[2]) * (dz * sp[2]);
        if (d2 <= r2)
          voxels.push_back({c[0] + dx, c[1] + dy, c[2] + dz});
      }
  return addSeeds(voxels, label);
}

int64_t GrowCut::seedCount(SeedLabel label) const
{
  const uint8_t l = static_cast<uint8_t>(label);
  return static_cast<int64_t>(std::count_if(m_seeds.begin(), m_seeds.end(),
                                            [l](const auto& s) { return s.second == l; }));
}

int64_t GrowCut::removeSeedsWithin(const Index3& c, double radiusMm, SeedLabel label)
{
  const uint8_t l = static_cast<uint8_t>(label);
  const Geometry& g = m_image->geometry;
  const double r2 = radiusMm * radiusMm + 1e-6;
  int64_t removed = 0;
  for (auto it = m_seeds.begin(); it != m_seeds.end();)
  {
    const int64_t o = static_cast<int64_t>(it->first);
    const double dx = (o % g.size[0] - c[0]) * g.spacingMm[0];
    const double dy = ((o / g.size[0]) % g.size[1] - c[1]) * g.spacingMm[1];
    const double dz = (o / (g.size[0] * g.size[1]) - c[2]) * g.spacingMm[2];
    if (it->second == l && dx * dx + dy * dy + dz * dz <= r2)
    {
      it = m_seeds.erase(it);
      ++removed;
    }
    else
      ++it;
  }
  if (removed > 0)
    m_needsRebuild = true;
  return removed;
}

void GrowCut::clear()
{
  m_seeds.clear();
  m_pending.clear();
  m_seedBox = Box{};
  m_region = Box{};
  m_n = {0, 0, 0};
  m_smoothed.clear();
  m_dist.clear();
  m_label.clear();
  m_needsRebuild = true;
}

Box GrowCut::regionFor(const Box& seedBox) const
{
  Box b;
  const Geometry& g = m_image->geometry;
  for (int a = 0; a < 3; ++a)
  {
    const int64_t m =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(m_options.marginMm / g.spacingMm[a] - 1e-9)));
    b.lo[a] = std::max<int64_t>(0, seedBox.lo[a] - m);
    b.hi[a] = std::min<int64_t>(g.size[a], seedBox.hi[a] + m);
  }
  return b;
}

size_t GrowCut::local(const Index3& v) const
{
  return static_cast<size_t>((v[0] - m_region.lo[0]) +
                             m_n[0] * ((v[1] - m_region.lo[1]) + m_n[1] * (v[2] - m_region.lo[2])));
}

void GrowCut::buildRegion(const Box& region)
{
  m_region = region;
  for (int a = 0; a < 3; ++a)
    m_n[a] = region.hi[a] - region.lo[a];
  const size_t count = static_cast<size_t>(region.voxelCount());
  m_smoothed.resize(count);
  size_t i = 0;
  for (int64_t z = region.lo[2]; z < region.hi[2]; ++z)
    for (int64_t y = region.lo[1]; y < region.hi[1]; ++y)
    {
      const float* row = &m_image->voxels[m_image->offset(region.lo[0], y, z)];
      std::copy(row, row + m_n[0], m_smoothed.begin() + static_cast<std::ptrdiff_t>(i));
      i += static_cast<size_t>(m_n[0]);
    }
  for (int a = 0; a < 3; ++a)
    boxFilterAxis(m_smoothed, m_n, a, m_options.smoothRadius);

  // Noise: the median absolute difference of x-neighbours (sampled), robust to the few edges.
  std::vector<float> diffs;
  const size_t stride = std::max<size_t>(1, count / 200000);
  float lo = std::numeric_limits<float>::max(), hi = std::numeric_limits<float>::lowest();
  for (size_t k = 0; k + 1 < count; k += stride)
  {
    lo = std::min(lo, m_smoothed[k]);
    hi = std::max(hi, m_smoothed[k]);
    if (m_n[0] > 1 && static_cast<int64_t>((k + 1) % static_cast<size_t>(m_n[0])) != 0)
      diffs.push_back(std::fabs(m_smoothed[k + 1] - m_smoothed[k]));
  }
  double noise = 0.0;
  if (!diffs.empty())
  {
    auto mid = diffs.begin() + static_cast<std::ptrdiff_t>(diffs.size() / 2);
    std::nth_element(diffs.begin(), mid, diffs.end());
    noise = *mid;
  }
  const double range = hi > lo ? static_cast<double>(hi) - lo : 1.0;
  noise = std::max({noise, 1e-3 * range, 1e-6});
  m_intensityScale = kUnits * m_options.intensityCost / noise;

  const Vec3& sp = m_image->geometry.spacingMm;
  const double minSp = std::min({sp[0], sp[1], sp[2]});
  for (int a = 0; a < 3; ++a)
    m_stepCost[a] =
      std::max<uint32_t>(1, static_cast<uint32_t>(std::lround(kUnits * m_options.lengthCost * sp[a] / minSp)));
  m_maxStep = *std::max_element(m_stepCost.begin(), m_stepCost.end()) + kMaxIntensityUnits;

  m_dist.assign(count, kInf);
  m_label.assign(count, 0);
}

GrowCutStats GrowCut::recomputeFromScratch()
{
  m_needsRebuild = true;
  return update();
}

GrowCutStats GrowCut::update()
{
  const auto t0 = std::chrono::steady_clock::now();
  GrowCutStats stats;
  std::vector<uint32_t> frontier;
  if (!m_needsRebuild)
  {
    for (const auto& p : m_pending)
    {
      const Geometry& g = m_image->geometry;
      const int64_t o = static_cast<int64_t>(p.first);
      const Index3 v{o % g.size[0], (o / g.size[0]) % g.size[1], o / (g.size[0] * g.size[1])};
      for (int a = 0; a < 3; ++a)
        if (v[a] < m_region.lo[a] || v[a] >= m_region.hi[a])
          m_needsRebuild = true;
    }
  }
  if (m_needsRebuild)
  {
    m_pending.clear();
    if (m_seeds.empty())
    {
      m_region = Box{};
      m_dist.clear();
      m_label.clear();
      m_needsRebuild = false;
      return stats;
    }
    buildRegion(regionFor(m_seedBox));
    for (const auto& s : m_seeds)
    {
      const int64_t o = static_cast<int64_t>(s.first);
      const Geometry& g = m_image->geometry;
      const Index3 v{o % g.size[0], (o / g.size[0]) % g.size[1], o / (g.size[0] * g.size[1])};
      const size_t l = local(v);
      m_dist[l] = 0;
      m_label[l] = s.second;
      frontier.push_back(static_cast<uint32_t>(l));
    }
    // Same order whatever the hash map's: the propagation's ties do not depend on it, but the
    // bucket order then is reproducible too.
    std::sort(frontier.begin(), frontier.end());
    stats.voxelsUpdated = static_cast<int64_t>(frontier.size());
    m_needsRebuild = false;
  }
  else
  {
    stats.incremental = true;
    for (const auto& p : m_pending)
    {
      const int64_t o = static_cast<int64_t>(p.first);
      const Geometry& g = m_image->geometry;
      const Index3 v{o % g.size[0], (o / g.size[0]) % g.size[1], o / (g.size[0] * g.size[1])};
      const size_t l = local(v);
      if (m_dist[l] == 0 && m_label[l] == p.second)
        continue;
      m_dist[l] = 0;
      m_label[l] = p.second;
      frontier.push_back(static_cast<uint32_t>(l));
      ++stats.voxelsUpdated;
    }
    m_pending.clear();
  }
  propagate(frontier, stats);
  stats.regionVoxels = m_region.voxelCount();
  stats.milliseconds =
    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return stats;
}

void GrowCut::propagate(std::vector<uint32_t>& frontier, GrowCutStats& stats)
{
  // Dial's algorithm: integer costs in [1, m_maxStep], so m_maxStep + 1 circular buckets hold
  // every distance that can be pending at once.
  const size_t nb = static_cast<size_t>(m_maxStep) + 1;
  std::vector<std::vector<uint32_t>> buckets(nb);
  int64_t pending = 0;
  for (uint32_t v : frontier)
  {
    buckets[0].push_back(v);
    ++pending;
  }
  const int64_t nx = m_n[0], ny = m_n[1], nz = m_n[2];
  const int64_t sy = nx, sz = nx * ny;
  uint64_t cur = 0;
  auto relax = [&](uint32_t from, int64_t to, uint32_t step)
  {
    const size_t t = static_cast<size_t>(to);
    const double diff = std::fabs(static_cast<double>(m_smoothed[from]) - m_smoothed[t]);
    const uint32_t ic =
      static_cast<uint32_t>(std::min<double>(kMaxIntensityUnits, std::floor(diff * m_intensityScale + 0.5)));
    const uint32_t nd = m_dist[from] + step + ic;
    const uint8_t lab = m_label[from];
    if (nd < m_dist[t] || (nd == m_dist[t] && lab < m_label[t]))
    {
      m_dist[t] = nd;
      m_label[t] = lab;
      buckets[nd % nb].push_back(static_cast<uint32_t>(t));
      ++pending;
      ++stats.voxelsUpdated;
    }
  };
  while (pending > 0)
  {
    std::vector<uint32_t>& b = buckets[cur % nb];
    for (size_t i = 0; i < b.size(); ++i)
    {
      const uint32_t v = b[i];
      if (m_dist[v] != cur)
        continue;
      const int64_t x = v % nx, y = (v / nx) % ny, z = v / sz;
      if (x > 0) relax(v, v - 1, m_stepCost[0]);
      if (x + 1 < nx) relax(v, v + 1, m_stepCost[0]);
      if (y > 0) relax(v, v - sy, m_stepCost[1]);
      if (y + 1 < ny) relax(v, v + sy, m_stepCost[1]);
      if (z > 0) relax(v, v - sz, m_stepCost[2]);
      if (z + 1 < nz) relax(v, v + sz, m_stepCost[2]);
    }
    pending -= static_cast<int64_t>(b.size());
    b.clear();
    ++cur;
  }
}

std::vector<uint8_t> GrowCut::foregroundInRegion() const
{
  std::vector<uint8_t> out(m_label.size());
  for (size_t i = 0; i < m_label.size(); ++i)
    out[i] = m_label[i] == static_cast<uint8_t>(SeedLabel::Foreground);
  return out;
}

uint8_t GrowCut::labelAt(const Index3& v) const
{
  for (int a = 0; a < 3; ++a)
    if (v[a] < m_region.lo[a] || v[a] >= m_region.hi[a])
      return 0;
  return m_label[local(v)];
}

uint32_t GrowCut::distanceAt(const Index3& v) const
{
  for (int a = 0; a < 3; ++a)
    if (v[a] < m_region.lo[a] || v[a] >= m_region.hi[a])
      return kInf;
  return m_dist[local(v)];
}

} // namespace panseg::edit
