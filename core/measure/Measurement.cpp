#include "core/measure/Measurement.h"

#include "core/Error.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

namespace panseg::measure
{
namespace
{
inline bool matches(uint8_t v, int label)
{
  return label == 0 ? v != 0 : v == label;
}

// A = direction * diag(spacing): index step -> LPS mm (column j = world vector of index axis j).
Mat3 indexToWorldMatrix(const Geometry& g)
{
  Mat3 a{};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c)
      a[r * 3 + c] = g.direction[r * 3 + c] * g.spacingMm[c];
  return a;
}

// Width of one voxel box projected on the unit vector e: sum_j |e . A_j|.
double voxelFootprint(const Mat3& a, const Vec3& e)
{
  double w = 0.0;
  for (int c = 0; c < 3; ++c)
    w += std::abs(e[0] * a[0 * 3 + c] + e[1] * a[1 * 3 + c] + e[2] * a[2 * 3 + c]);
  return w;
}

void checkVoxels(const LabelMask& mask)
{
  if (static_cast<int64_t>(mask.voxels.size()) != mask.geometry.voxelCount())
    throw Error("measurement: the mask has " + std::to_string(mask.voxels.size()) +
                " voxels but its geometry " + std::to_string(mask.geometry.voxelCount()));
}

struct Scan
{
  int64_t count = 0;
  Size3 lo{0, 0, 0}, hi{-1, -1, -1};
  Vec3 meanIndex{0, 0, 0};
};

// One pass over the grid: count, index bounding box, mean index; intensities when `image` is set.
Scan scanMask(const LabelMask& mask, int label, const Image* image, std::vector<float>* values)
{
  Scan s;
  const Size3 n = mask.geometry.size;
  s.lo = {n[0], n[1], n[2]};
  double sx = 0, sy = 0, sz = 0;
  size_t i = 0;
  for (int64_t z = 0; z < n[2]; ++z)
    for (int64_t y = 0; y < n[1]; ++y)
    {
      int64_t rowCount = 0;
      double rowX = 0;
      const uint8_t* row = mask.voxels.data() + i;
      for (int64_t x = 0; x < n[0]; ++x, ++i)
      {
        // Background never matches (label 0 means any non-zero): skip zero words, which is
        // most of a CT-sized grid.
        if (x + 8 <= n[0])
        {
          uint64_t word;
          std::memcpy(&word, row + x, sizeof word);
          if (word == 0)
          {
            x += 7;
            i += 7;
            continue;
          }
        }
        if (!matches(mask.voxels[i], label))
          continue;
        ++rowCount;
        rowX += static_cast<double>(x);
        s.lo[0] = std::min(s.lo[0], x);
        s.hi[0] = std::max(s.hi[0], x);
        if (values)
          values->push_back(image->voxels[i]);
      }
      if (rowCount == 0)
        continue;
      s.count += rowCount;
      sx += rowX;
      sy += static_cast<double>(rowCount) * static_cast<double>(y);
      sz += static_cast<double>(rowCount) * static_cast<double>(z);
      s.lo[1] = std::min(s.lo[1], y);
      s.hi[1] = std::max(s.hi[1], y);
      s.lo[2] = std::min(s.lo[2], z);
      s.hi[2] = std::max(s.hi[2], z);
    }
  if (s.count > 0)
    s.meanIndex = {sx / s.count, sy / s.count, sz / s.count};
  else
    s.lo = {0, 0, 0}, s.hi = {0, 0, 0};
  return s;
}

// Calls fn(x, y, z) for every voxel of the label inside the scan's bounding box.
template <typename Fn> void forEachVoxel(const LabelMask& mask, int label, const Scan& s, Fn&& fn)
{
  for (int64_t z = s.lo[2]; z <= s.hi[2]; ++z)
    for (int64_t y = s.lo[1]; y <= s.hi[1]; ++y)
    {
      const uint8_t* row = mask.voxels.data() + mask.offset(0, y, z);
      for (int64_t x = s.lo[0]; x <= s.hi[0]; ++x)
        if (matches(row[x], label))
          fn(x, y, z);
    }
}

IntensityStatistics intensityStatistics(std::vector<float>& v)
{
  IntensityStatistics r;
  r.count = static_cast<int64_t>(v.size());
  if (v.empty())
    return r;
  double sum = 0;
  for (float f : v)
    sum += f;
  r.mean = sum / static_cast<double>(v.size());
  double ss = 0;
  for (float f : v)
    ss += (f - r.mean) * (f - r.mean);
  r.sd = v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1)) : 0.0;
  const auto [mn, mx] = std::minmax_element(v.begin(), v.end());
  r.min = *mn;
  r.max = *mx;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const double upper = v[mid];
  if (v.size() % 2 == 1)
    r.median = upper;
  else
    r.median = 0.5 * (upper + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid)));
  return r;
}

PrincipalAxes axesFromScan(const LabelMask& mask, int label, const Scan& s)
{
  PrincipalAxes p;
  if (s.count == 0)
    return p;
  const Geometry& g = mask.geometry;
  const Mat3 a = indexToWorldMatrix(g);
  // Second moments of the index coordinates about their mean, then C = A Cidx A^T.
  double cidx[3][3] = {};
  forEachVoxel(mask, label, s,
               [&](int64_t x, int64_t y, int64_t z)
               {
                 const double d[3] = {x - s.meanIndex[0], y - s.meanIndex[1], z - s.meanIndex[2]};
                 for (int r = 0; r < 3; ++r)
                   for (int c = r; c < 3; ++c)
                     cidx[r][c] += d[r] * d[c];
               });
  for (int r = 0; r < 3; ++r)
    for (int c = r; c < 3; ++c)
      cidx[c][r] = cidx[r][c] /= static_cast<double>(s.count);
  Mat3 cov{};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c)
    {
      double v = 0;
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
          v += a[r * 3 + i] * cidx[i][j] * a[c * 3 + j];
      cov[r * 3 + c] = v;
    }
  Vec3 values{};
  std::array<Vec3, 3> vectors{};
  symmetricEigen(cov, values, vectors);
  // A deterministic sign: each direction points towards the patient's L, P or S along its
  // largest component.
  for (Vec3& e : vectors)
  {
    int big = 0;
    for (int k = 1; k < 3; ++k)
      if (std::abs(e[k]) > std::abs(e[big]))
        big = k;
    if (e[big] < 0)
      e = {-e[0], -e[1], -e[2]};
  }
  // Extent along each direction: projections of the voxel centres (relative to the mean) plus
  // the projection of one voxel box.
  Vec3 lo{}, hi{};
  lo.fill(std::numeric_limits<double>::infinity());
  hi.fill(-std::numeric_limits<double>::infinity());
  Vec3 rowVec[3]; // e_k . A_j
  for (int k = 0; k < 3; ++k)
    for (int j = 0; j < 3; ++j)
      rowVec[k][j] = vectors[k][0] * a[0 * 3 + j] + vectors[k][1] * a[1 * 3 + j] + vectors[k][2] * a[2 * 3 + j];
  forEachVoxel(mask, label, s,
               [&](int64_t x, int64_t y, int64_t z)
               {
                 const double d[3] = {x - s.meanIndex[0], y - s.meanIndex[1], z - s.meanIndex[2]};
                 for (int k = 0; k < 3; ++k)
                 {
                   const double t = rowVec[k][0] * d[0] + rowVec[k][1] * d[1] + rowVec[k][2] * d[2];
                   lo[k] = std::min(lo[k], t);
                   hi[k] = std::max(hi[k], t);
                 }
               });
  struct Axis
  {
    double length, diameter;
    Vec3 direction;
  };
  std::array<Axis, 3> axes{};
  for (int k = 0; k < 3; ++k)
    axes[k] = {hi[k] - lo[k] + voxelFootprint(a, vectors[k]), 2.0 * std::sqrt(5.0 * std::max(0.0, values[k])),
               vectors[k]};
  // Named by extent, longest first; ties keep the variance order.
  std::stable_sort(axes.begin(), axes.end(), [](const Axis& l, const Axis& r) { return l.length > r.length; });
  p.defined = true;
  p.centroidMm = g.indexToPhysical(s.meanIndex);
  for (int k = 0; k < 3; ++k)
  {
    p.directions[k] = axes[k].direction;
    p.lengthsMm[k] = axes[k].length;
    p.ellipsoidDiametersMm[k] = axes[k].diameter;
  }
  return p;
}
} // namespace

double distanceMm(const Vec3& a, const Vec3& b)
{
  return std::sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) + (a[2] - b[2]) * (a[2] - b[2]));
}

double indexDistanceMm(const Geometry& g, const Vec3& aIndex, const Vec3& bIndex)
{
  return distanceMm(g.indexToPhysical(aIndex), g.indexToPhysical(bIndex));
}

void symmetricEigen(const Mat3& m, Vec3& eigenvalues, std::array<Vec3, 3>& eigenvectors)
{
  double a[3][3], v[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c)
      a[r][c] = 0.5 * (m[r * 3 + c] + m[c * 3 + r]);
  for (int sweep = 0; sweep < 64; ++sweep)
  {
    const double off = a[0][1] * a[0][1] + a[0][2] * a[0][2] + a[1][2] * a[1][2];
    const double diag = a[0][0] * a[0][0] + a[1][1] * a[1][1] + a[2][2] * a[2][2];
    if (off == 0.0 || off <= 1e-32 * diag)
      break;
    for (int p = 0; p < 2; ++p)
      for (int q = p + 1; q < 3; ++q)
      {
        if (a[p][q] == 0.0)
          continue;
        // Rotation in the (p, q) plane that zeroes a[p][q] (the smaller of the two angles).
        const double theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        for (int k = 0; k < 3; ++k)
        {
          const double kp = a[k][p], kq = a[k][q];
          a[k][p] = c * kp - s * kq;
          a[k][q] = s * kp + c * kq;
        }
        for (int k = 0; k < 3; ++k)
        {
          const double pk = a[p][k], qk = a[q][k];
          a[p][k] = c * pk - s * qk;
          a[q][k] = s * pk + c * qk;
        }
        for (int k = 0; k < 3; ++k)
        {
          const double kp = v[k][p], kq = v[k][q];
          v[k][p] = c * kp - s * kq;
          v[k][q] = s * kp + c * kq;
        }
      }
  }
  std::array<int, 3> order{0, 1, 2};
  std::stable_sort(order.begin(), order.end(), [&](int l, int r) { return a[l][l] > a[r][r]; });
  for (int k = 0; k < 3; ++k)
  {
    eigenvalues[k] = a[order[k]][order[k]];
    eigenvectors[k] = {v[0][order[k]], v[1][order[k]], v[2][order[k]]};
  }
}

MaskStatistics maskStatistics(const LabelMask& mask, int label, const Image* image)
{
  checkVoxels(mask);
  if (image)
  {
    std::string why;
    if (!image->geometry.sameGrid(mask.geometry, &why))
      throw Error("measurement: the mask is not on the image's grid: " + why);
    if (image->voxels.size() != mask.voxels.size())
      throw Error("measurement: the image's voxel count does not match its geometry");
  }
  MaskStatistics r;
  r.label = label;
  r.voxelVolumeMm3 = mask.geometry.voxelVolumeMm3();
  std::vector<float> values;
  const Scan s = scanMask(mask, label, image, image ? &values : nullptr);
  r.voxels = s.count;
  r.volumeMl = static_cast<double>(s.count) * r.voxelVolumeMm3 / 1000.0;
  r.hasIntensities = image != nullptr;
  if (image)
    r.intensity = intensityStatistics(values);
  if (s.count == 0)
    return r;
  r.boxMinIndex = s.lo;
  r.boxMaxIndex = s.hi;
  // Extent along L-R, A-P, S-I: the LPS coordinates of the voxel centres (linear in the index)
  // over the label, plus one voxel box's projection on that patient axis.
  const Mat3 a = indexToWorldMatrix(mask.geometry);
  Vec3 lo{}, hi{};
  lo.fill(std::numeric_limits<double>::infinity());
  hi.fill(-std::numeric_limits<double>::infinity());
  forEachVoxel(mask, label, s,
               [&](int64_t x, int64_t y, int64_t z)
               {
                 for (int k = 0; k < 3; ++k)
                 {
                   const double t = a[k * 3 + 0] * x + a[k * 3 + 1] * y + a[k * 3 + 2] * z;
                   lo[k] = std::min(lo[k], t);
                   hi[k] = std::max(hi[k], t);
                 }
               });
  for (int k = 0; k < 3; ++k)
  {
    Vec3 axis{0, 0, 0};
    axis[k] = 1.0;
    r.extentMm[k] = hi[k] - lo[k] + voxelFootprint(a, axis);
  }
  r.axes = axesFromScan(mask, label, s);
  return r;
}

PrincipalAxes principalAxes(const LabelMask& mask, int label)
{
  checkVoxels(mask);
  return axesFromScan(mask, label, scanMask(mask, label, nullptr, nullptr));
}
} // namespace panseg::measure
