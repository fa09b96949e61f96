#include "core/metrics/Staple.h"

#include "core/Error.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace panseg
{
namespace
{
constexpr size_t kMaxRaters = 20;

std::string num(double v)
{
  return std::to_string(v);
}

void validate(const std::vector<const LabelMask*>& masks, const StapleOptions& o)
{
  if (masks.size() < 2)
    throw Error("STAPLE needs at least 2 masks (got " + std::to_string(masks.size()) + ")");
  if (masks.size() > kMaxRaters)
    throw Error("STAPLE takes at most " + std::to_string(kMaxRaters) + " masks (got " +
                std::to_string(masks.size()) + ")");
  for (size_t j = 0; j < masks.size(); ++j)
  {
    const LabelMask* m = masks[j];
    if (!m)
      throw Error("STAPLE: mask " + std::to_string(j + 1) + " is missing");
    if (static_cast<int64_t>(m->voxels.size()) != m->geometry.voxelCount())
      throw Error("STAPLE: mask " + std::to_string(j + 1) + " holds " +
                  std::to_string(m->voxels.size()) + " voxels but its grid has " +
                  std::to_string(m->geometry.voxelCount()));
    std::string why;
    if (j > 0 && !m->geometry.sameGrid(masks[0]->geometry, &why))
      throw Error("STAPLE: mask " + std::to_string(j + 1) +
                  " is not on the grid of mask 1: " + why);
  }
  if (o.label < 0 || o.label > 255)
    throw Error("STAPLE: label must be 0..255, not " + std::to_string(o.label));
  if (o.prior >= 0 && !(o.prior > 0 && o.prior < 1))
    throw Error(
        "STAPLE: the prior must lie strictly between 0 and 1 (or be negative for automatic), not " +
        num(o.prior));
  if (!(o.initialSensitivity > 0 && o.initialSensitivity <= 1) ||
      !(o.initialSpecificity > 0 && o.initialSpecificity <= 1))
    throw Error("STAPLE: initial sensitivity and specificity must lie in (0, 1]");
  if (o.maxIterations < 1)
    throw Error("STAPLE: maxIterations must be at least 1, not " + std::to_string(o.maxIterations));
  if (!(o.tolerance >= 0))
    throw Error("STAPLE: the tolerance must not be negative");
  if (!(o.threshold >= 0 && o.threshold <= 1))
    throw Error("STAPLE: the threshold must lie in [0, 1], not " + num(o.threshold));
  if (o.marginVoxels < 0)
    throw Error("STAPLE: the margin must not be negative, not " + std::to_string(o.marginVoxels));
}

/// Calls fn(rowPatterns, x0, x1, y, z) for every row of the region with the rater bit pattern of
/// each voxel of the row (bit j set = rater j marks the voxel).
template <typename Fn>
void forEachRow(const std::vector<const LabelMask*>& masks, int label,
                const std::array<int64_t, 3>& b, const std::array<int64_t, 3>& e, Fn&& fn)
{
  const size_t width = size_t(e[0] - b[0]);
  std::vector<uint32_t> row(width);
  for (int64_t z = b[2]; z < e[2]; ++z)
    for (int64_t y = b[1]; y < e[1]; ++y)
    {
      std::fill(row.begin(), row.end(), 0u);
      for (size_t j = 0; j < masks.size(); ++j)
      {
        const uint8_t* v = masks[j]->voxels.data() + masks[j]->offset(b[0], y, z);
        const uint32_t bit = 1u << j;
        if (label > 0)
        {
          const uint8_t l = uint8_t(label);
          for (size_t x = 0; x < width; ++x)
            row[x] |= v[x] == l ? bit : 0u;
        }
        else
          for (size_t x = 0; x < width; ++x)
            row[x] |= v[x] != 0 ? bit : 0u;
      }
      fn(row, y, z);
    }
}

/// Bounding box [b, e) of the union of every mask's foreground; false when there is none.
bool unionBox(const std::vector<const LabelMask*>& masks, int label, std::array<int64_t, 3>& b,
              std::array<int64_t, 3>& e)
{
  const Size3 n = masks[0]->geometry.size;
  b = {n[0], n[1], n[2]};
  e = {0, 0, 0};
  bool any = false;
  for (const LabelMask* m : masks)
    for (int64_t z = 0; z < n[2]; ++z)
      for (int64_t y = 0; y < n[1]; ++y)
      {
        const uint8_t* v = m->voxels.data() + m->offset(0, y, z);
        int64_t first = -1, last = -1;
        for (int64_t x = 0; x < n[0]; ++x)
          if (label > 0 ? v[x] == label : v[x] != 0)
          {
            if (first < 0)
              first = x;
            last = x;
          }
        if (first < 0)
          continue;
        any = true;
        b[0] = std::min(b[0], first);
        e[0] = std::max(e[0], last + 1);
        b[1] = std::min(b[1], y);
        e[1] = std::max(e[1], y + 1);
        b[2] = std::min(b[2], z);
        e[2] = std::max(e[2], z + 1);
      }
  return any;
}

/// E-step for one pattern.
double posterior(uint32_t pattern, size_t raters, double f, const std::vector<double>& p,
                 const std::vector<double>& q)
{
  double a = f, b = 1.0 - f;
  for (size_t j = 0; j < raters; ++j)
    if (pattern & (1u << j))
    {
      a *= p[j];
      b *= 1.0 - q[j];
    }
    else
    {
      a *= 1.0 - p[j];
      b *= q[j];
    }
  // Both zero only in degenerate cases (a rater with p = 0 or q = 0 and f in {0, 1}): fall back to
  // the prior instead of producing NaN.
  return a + b > 0 ? a / (a + b) : f;
}
} // namespace

StapleResult staple(const std::vector<const LabelMask*>& masks, const StapleOptions& o)
{
  validate(masks, o);
  const size_t raters = masks.size();
  const Geometry& g = masks[0]->geometry;
  StapleResult r;
  r.consensus = LabelMask(g, 0);
  r.sensitivity.assign(raters, 1.0);
  r.specificity.assign(raters, 1.0);

  std::array<int64_t, 3> b{}, e{};
  const bool any = unionBox(masks, o.label, b, e);
  if (!any)
  {
    r.converged = true;
    if (o.region == StapleRegion::WholeGrid)
    {
      r.regionEnd = {g.size[0], g.size[1], g.size[2]};
      r.regionVoxels = g.voxelCount();
    }
    if (o.keepProbability)
      r.probability.assign(r.consensus.voxels.size(), 0.0f);
    return r;
  }
  if (o.region == StapleRegion::WholeGrid)
  {
    b = {0, 0, 0};
    e = {g.size[0], g.size[1], g.size[2]};
  }
  else
    for (int k = 0; k < 3; ++k)
    {
      b[k] = std::max<int64_t>(0, b[k] - o.marginVoxels);
      e[k] = std::min<int64_t>(g.size[k], e[k] + o.marginVoxels);
    }
  r.regionBegin = b;
  r.regionEnd = e;
  r.regionVoxels = (e[0] - b[0]) * (e[1] - b[1]) * (e[2] - b[2]);

  // Histogram of rater patterns over the region.
  std::vector<int64_t> counts(size_t(1) << raters, 0);
  forEachRow(masks, o.label, b, e,
             [&](const std::vector<uint32_t>& row, int64_t, int64_t)
             {
               for (uint32_t pattern : row)
                 ++counts[pattern];
             });
  std::vector<uint32_t> patterns;
  int64_t marks = 0;
  for (uint32_t k = 0; k < counts.size(); ++k)
    if (counts[k] > 0)
    {
      patterns.push_back(k);
      for (size_t j = 0; j < raters; ++j)
        marks += (k & (1u << j)) ? counts[k] : 0;
    }
  const double f =
      o.prior >= 0 ? o.prior : double(marks) / (double(raters) * double(r.regionVoxels));
  r.prior = f;

  std::vector<double> p(raters, o.initialSensitivity), q(raters, o.initialSpecificity);
  std::vector<double> w(counts.size(), 0.0), pNum(raters), qNum(raters);
  for (int it = 0; it < o.maxIterations; ++it)
  {
    double sumW = 0, sumNotW = 0;
    std::fill(pNum.begin(), pNum.end(), 0.0);
    std::fill(qNum.begin(), qNum.end(), 0.0);
    for (uint32_t k : patterns)
    {
      const double wk = posterior(k, raters, f, p, q);
      const double c = double(counts[k]);
      sumW += c * wk;
      sumNotW += c * (1.0 - wk);
      for (size_t j = 0; j < raters; ++j)
        if (k & (1u << j))
          pNum[j] += c * wk;
        else
          qNum[j] += c * (1.0 - wk);
    }
    double change = 0;
    for (size_t j = 0; j < raters; ++j)
    {
      // An empty side (no expected foreground or background) leaves that estimate unchanged.
      const double pj = sumW > 0 ? pNum[j] / sumW : p[j];
      const double qj = sumNotW > 0 ? qNum[j] / sumNotW : q[j];
      change = std::max({change, std::abs(pj - p[j]), std::abs(qj - q[j])});
      p[j] = pj;
      q[j] = qj;
    }
    r.iterations = it + 1;
    if (change <= o.tolerance)
    {
      r.converged = true;
      break;
    }
  }
  r.sensitivity = p;
  r.specificity = q;

  // Final E-step with the final parameters: probability and consensus.
  for (uint32_t k = 0; k < counts.size(); ++k)
    if (counts[k] > 0 || k == 0)
      w[k] = posterior(k, raters, f, p, q);
  const uint8_t fg = o.foregroundValue;
  const bool outsideFg = w[0] >= o.threshold; // pattern of every voxel outside the region
  if (outsideFg)
    std::fill(r.consensus.voxels.begin(), r.consensus.voxels.end(), fg);
  if (o.keepProbability)
    r.probability.assign(r.consensus.voxels.size(), float(w[0]));
  forEachRow(masks, o.label, b, e,
             [&](const std::vector<uint32_t>& row, int64_t y, int64_t z)
             {
               uint8_t* out = r.consensus.voxels.data() + r.consensus.offset(b[0], y, z);
               float* prob = o.keepProbability
                                 ? r.probability.data() + r.consensus.offset(b[0], y, z)
                                 : nullptr;
               for (size_t x = 0; x < row.size(); ++x)
               {
                 const double wk = w[row[x]];
                 out[x] = wk >= o.threshold ? fg : 0;
                 if (prob)
                   prob[x] = float(wk);
               }
             });
  return r;
}
} // namespace panseg
