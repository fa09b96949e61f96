#include "core/metrics/Agreement.h"

#include "core/Error.h"
#include "core/metrics/DistanceTransform.h"
#include "core/Parallel.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <mutex>

namespace panseg
{
namespace
{
constexpr double kInf = std::numeric_limits<double>::infinity();

using LabelTable = std::array<uint8_t, 256>;

LabelTable labelTable(int label, const char* which)
{
  if (label < 0 || label > 255)
    throw Error(std::string("agreement: label of mask ") + which + " must be 0..255, got " +
                std::to_string(label));
  LabelTable t{};
  for (int v = 1; v < 256; ++v)
    t[static_cast<size_t>(v)] = label == 0 || v == label;
  return t;
}

// Counts and the bounding box of A ∪ B, gathered per z slab and merged.
struct Tally
{
  int64_t countA = 0, countB = 0, overlap = 0;
  Size3 lo{std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max(),
           std::numeric_limits<int64_t>::max()};
  Size3 hi{-1, -1, -1};

  bool unionEmpty() const { return hi[0] < 0; }
  void merge(const Tally& o)
  {
    countA += o.countA;
    countB += o.countB;
    overlap += o.overlap;
    for (int i = 0; i < 3; ++i)
    {
      lo[i] = std::min(lo[i], o.lo[i]);
      hi[i] = std::max(hi[i], o.hi[i]);
    }
  }
};

Tally tally(const LabelMask& a, const LabelTable& ta, const LabelMask& b, const LabelTable& tb,
            int threads)
{
  const int64_t nx = a.nx(), ny = a.ny(), nz = a.nz();
  Tally total;
  std::mutex mergeMutex;
  detail::parallelFor(
      nz, threads,
      [&](int64_t z0, int64_t z1)
      {
        Tally t;
        for (int64_t z = z0; z < z1; ++z)
          for (int64_t y = 0; y < ny; ++y)
          {
            const size_t row = a.offset(0, y, z);
            const uint8_t* pa = a.voxels.data() + row;
            const uint8_t* pb = b.voxels.data() + row;
            int64_t first = -1, last = -1, ca = 0, cb = 0, both = 0;
            for (int64_t x = 0; x < nx; ++x)
            {
              const int ia = ta[pa[x]], ib = tb[pb[x]];
              ca += ia;
              cb += ib;
              both += ia & ib;
              if (ia | ib)
              {
                if (first < 0)
                  first = x;
                last = x;
              }
            }
            t.countA += ca;
            t.countB += cb;
            t.overlap += both;
            if (first >= 0)
            {
              t.lo = {std::min(t.lo[0], first), std::min(t.lo[1], y), std::min(t.lo[2], z)};
              t.hi = {std::max(t.hi[0], last), std::max(t.hi[1], y), std::max(t.hi[2], z)};
            }
          }
        std::lock_guard<std::mutex> lock(mergeMutex);
        total.merge(t);
      });
  return total;
}

// Binary Cohen's kappa from the 2x2 table, closed form
// 2(TP*TN - FN*FP) / ((TP+FP)(FP+TN) + (TP+FN)(FN+TN)), which equals (p_o - p_e) / (1 - p_e).
// The denominator is 0 only when both raters give one and the same answer everywhere: kappa 1.
double binaryKappa(int64_t tp, int64_t fp, int64_t fn, int64_t tn)
{
  const double TP = static_cast<double>(tp), FP = static_cast<double>(fp);
  const double FN = static_cast<double>(fn), TN = static_cast<double>(tn);
  const double den = (TP + FP) * (FP + TN) + (TP + FN) * (FN + TN);
  if (den == 0)
    return 1.0;
  return 2.0 * (TP * TN - FN * FP) / den;
}

// Border = mask minus its 6-connected erosion; voxels outside the region count as background.
std::vector<uint8_t> border(const std::vector<uint8_t>& m, const Size3& n, int threads)
{
  const int64_t nx = n[0], ny = n[1], nz = n[2];
  const int64_t sy = nx, sz = nx * ny;
  std::vector<uint8_t> out(m.size(), 0);
  detail::parallelFor(nz, threads,
                      [&](int64_t z0, int64_t z1)
                      {
                        for (int64_t z = z0; z < z1; ++z)
                          for (int64_t y = 0; y < ny; ++y)
                            for (int64_t x = 0; x < nx; ++x)
                            {
                              const int64_t i = x + sy * y + sz * z;
                              if (!m[static_cast<size_t>(i)])
                                continue;
                              const bool interior =
                                  x > 0 && x < nx - 1 && y > 0 && y < ny - 1 && z > 0 &&
                                  z < nz - 1 && m[static_cast<size_t>(i - 1)] &&
                                  m[static_cast<size_t>(i + 1)] && m[static_cast<size_t>(i - sy)] &&
                                  m[static_cast<size_t>(i + sy)] &&
                                  m[static_cast<size_t>(i - sz)] && m[static_cast<size_t>(i + sz)];
                              out[static_cast<size_t>(i)] = !interior;
                            }
                      });
  return out;
}

// Distances in mm from every `from` voxel to the nearest `to` voxel, in index order.
std::vector<double> directedDistances(const std::vector<uint8_t>& from,
                                      const std::vector<uint8_t>& to, const Size3& n,
                                      const Vec3& spacingMm, int threads)
{
  const std::vector<double> d2 = squaredDistanceTransformMm2(to, n, spacingMm, threads);
  std::vector<double> out;
  for (size_t i = 0; i < from.size(); ++i)
    if (from[i])
      out.push_back(std::sqrt(d2[i]));
  return out;
}

double mean(const std::vector<double>& v)
{
  double s = 0;
  for (double x : v)
    s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

// numpy.percentile(v, p) with the default linear interpolation; v is reordered.
double percentileLinear(std::vector<double>& v, double p)
{
  if (v.empty())
    return 0.0;
  const double h = (static_cast<double>(v.size()) - 1.0) * std::clamp(p, 0.0, 100.0) / 100.0;
  const size_t lo = static_cast<size_t>(std::floor(h));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(lo), v.end());
  const double vlo = v[lo];
  if (lo + 1 >= v.size())
    return vlo;
  const double vhi = *std::min_element(v.begin() + static_cast<std::ptrdiff_t>(lo) + 1, v.end());
  return vlo + (h - static_cast<double>(lo)) * (vhi - vlo);
}

void appendNumber(std::string& s, double v)
{
  if (!std::isfinite(v))
  {
    s += "null";
    return;
  }
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  s.append(buf, r.ptr);
}
} // namespace

VpeBounds vpeBoundsFromDice(double dice)
{
  const double d = std::clamp(dice, 0.0, 1.0);
  VpeBounds b;
  b.min = d / (2.0 - d) - 1.0;
  b.max = d > 0 ? (2.0 - d) / d - 1.0 : kInf;
  return b;
}

AgreementResult computeAgreement(const LabelMask& a, int labelA, const LabelMask& b, int labelB,
                                 const AgreementOptions& options)
{
  std::string why;
  if (!a.geometry.sameGrid(b.geometry, &why))
    throw Error("cannot compare masks on different grids: " + why);
  const Geometry& g = a.geometry;
  for (const LabelMask* m : {&a, &b})
    if (static_cast<int64_t>(m->voxels.size()) != g.voxelCount())
      throw Error("agreement: mask " + std::string(m == &a ? "A" : "B") + " holds " +
                  std::to_string(m->voxels.size()) + " voxels but its grid has " +
                  std::to_string(g.voxelCount()));
  const LabelTable ta = labelTable(labelA, "A"), tb = labelTable(labelB, "B");
  const int threads = detail::resolveThreads(options.threads);

  const Tally t = tally(a, ta, b, tb, threads);
  AgreementResult r;
  r.countA = t.countA;
  r.countB = t.countB;
  r.overlap = t.overlap;
  r.gridVoxels = g.voxelCount();
  const int64_t fp = t.countA - t.overlap, fn = t.countB - t.overlap;
  const int64_t unionCount = t.countA + t.countB - t.overlap;

  // Overlap. 0/0 reads as 1 when both masks are empty and as 0 otherwise (header comment).
  const bool bothEmpty = unionCount == 0;
  auto ratio = [&](int64_t num, int64_t den)
  {
    if (den == 0)
      return bothEmpty ? 1.0 : 0.0;
    return static_cast<double>(num) / static_cast<double>(den);
  };
  r.dice = ratio(2 * t.overlap, t.countA + t.countB);
  r.jaccard = ratio(t.overlap, unionCount);
  r.precision = ratio(t.overlap, t.countA);
  r.recall = ratio(t.overlap, t.countB);

  // Kappa over the grid and over the union's bounding box.
  r.kappa = binaryKappa(t.overlap, fp, fn, r.gridVoxels - unionCount);
  if (!bothEmpty)
  {
    r.bboxVoxels = 1;
    for (int i = 0; i < 3; ++i)
      r.bboxVoxels *= t.hi[i] - t.lo[i] + 1;
  }
  r.kappaBbox = binaryKappa(t.overlap, fp, fn, r.bboxVoxels - unionCount);

  // Volumes.
  r.volumeAMl = static_cast<double>(t.countA) * g.voxelVolumeMm3() / 1000.0;
  r.volumeBMl = static_cast<double>(t.countB) * g.voxelVolumeMm3() / 1000.0;
  if (t.countB > 0)
    r.vpe = static_cast<double>(t.countA - t.countB) / static_cast<double>(t.countB);
  else
    r.vpe = t.countA > 0 ? kInf : 0.0;
  r.vpeBounds = vpeBoundsFromDice(r.dice);

  // Surface distances.
  if (bothEmpty)
    return r; // distances 0, defined
  if (t.countA == 0 || t.countB == 0)
  {
    r.hd95Mm = r.hdMm = r.assdMm = kInf;
    r.distancesDefined = false;
    return r;
  }
  Size3 lo{0, 0, 0}, hi{g.size[0] - 1, g.size[1] - 1, g.size[2] - 1};
  if (options.cropToUnion)
    for (int i = 0; i < 3; ++i)
    {
      lo[i] = std::max<int64_t>(0, t.lo[i] - 1);
      hi[i] = std::min<int64_t>(g.size[i] - 1, t.hi[i] + 1);
    }
  const Size3 n{hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1};
  std::vector<uint8_t> inA(static_cast<size_t>(n[0] * n[1] * n[2]));
  std::vector<uint8_t> inB(inA.size());
  detail::parallelFor(n[2], threads,
                      [&](int64_t z0, int64_t z1)
                      {
                        for (int64_t z = z0; z < z1; ++z)
                          for (int64_t y = 0; y < n[1]; ++y)
                          {
                            const size_t src = a.offset(lo[0], lo[1] + y, lo[2] + z);
                            const size_t dst = static_cast<size_t>(n[0] * (y + n[1] * z));
                            for (int64_t x = 0; x < n[0]; ++x)
                            {
                              inA[dst + static_cast<size_t>(x)] =
                                  ta[a.voxels[src + static_cast<size_t>(x)]];
                              inB[dst + static_cast<size_t>(x)] =
                                  tb[b.voxels[src + static_cast<size_t>(x)]];
                            }
                          }
                      });
  inA = border(inA, n, threads);
  inB = border(inB, n, threads);
  std::vector<double> dAB = directedDistances(inA, inB, n, g.spacingMm, threads);
  std::vector<double> dBA = directedDistances(inB, inA, n, g.spacingMm, threads);
  r.borderVoxelsA = static_cast<int64_t>(dAB.size());
  r.borderVoxelsB = static_cast<int64_t>(dBA.size());
  r.assdMm = 0.5 * (mean(dAB) + mean(dBA));
  r.hdMm = std::max(*std::max_element(dAB.begin(), dAB.end()),
                    *std::max_element(dBA.begin(), dBA.end()));
  dAB.insert(dAB.end(), dBA.begin(), dBA.end());
  r.hd95Mm = percentileLinear(dAB, options.percentile);
  return r;
}

std::string toJson(const AgreementResult& r)
{
  std::string s = "{";
  auto num = [&](const char* key, double v)
  {
    if (s.size() > 1)
      s += ", ";
    s += '"';
    s += key;
    s += "\": ";
    appendNumber(s, v);
  };
  auto integer = [&](const char* key, int64_t v)
  {
    s += ", \"";
    s += key;
    s += "\": ";
    s += std::to_string(v);
  };
  num("dice", r.dice);
  num("jaccard", r.jaccard);
  num("precision", r.precision);
  num("recall", r.recall);
  num("hd95_mm", r.hd95Mm);
  num("hd_mm", r.hdMm);
  num("assd_mm", r.assdMm);
  num("kappa", r.kappa);
  num("kappa_bbox", r.kappaBbox);
  num("volume_a_ml", r.volumeAMl);
  num("volume_b_ml", r.volumeBMl);
  num("vpe", r.vpe);
  num("vpe_min_from_dice", r.vpeBounds.min);
  num("vpe_max_from_dice", r.vpeBounds.max);
  s += ", \"distances_defined\": ";
  s += r.distancesDefined ? "true" : "false";
  integer("count_a", r.countA);
  integer("count_b", r.countB);
  integer("overlap", r.overlap);
  integer("border_voxels_a", r.borderVoxelsA);
  integer("border_voxels_b", r.borderVoxelsB);
  integer("grid_voxels", r.gridVoxels);
  integer("bbox_voxels", r.bboxVoxels);
  s += "}";
  return s;
}

} // namespace panseg
