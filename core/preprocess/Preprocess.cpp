#include "core/preprocess/Preprocess.h"
#include "core/preprocess/NnUNetV2.h"

#include "core/Error.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace panseg::nnunet
{
namespace
{
void report(const ProgressFn& progress, double fraction)
{
  if (progress && !progress(fraction))
    throw Error("cancelled");
}

/// numpy's pairwise summation of float32 values with float32 accumulators.
float pairwise(const float* a, int64_t n)
{
  if (n < 8)
  {
    float res = 0.0f;
    for (int64_t i = 0; i < n; ++i)
      res += a[i];
    return res;
  }
  if (n <= 128)
  {
    float r[8];
    for (int j = 0; j < 8; ++j)
      r[j] = a[j];
    int64_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j)
        r[j] += a[i + j];
    float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i)
      res += a[i];
    return res;
  }
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise(a, n2) + pairwise(a + n2, n - n2);
}
} // namespace

NormalizationScheme normalizationSchemeFromName(const std::string& name)
{
  if (name == "CT")
    return NormalizationScheme::CT;
  if (name == "CT2")
    return NormalizationScheme::CT2;
  if (name == "noNorm")
    return NormalizationScheme::None;
  return NormalizationScheme::NonCT;
}

std::string toString(NormalizationScheme s)
{
  switch (s)
  {
  case NormalizationScheme::CT:
    return "CT";
  case NormalizationScheme::CT2:
    return "CT2";
  case NormalizationScheme::NonCT:
    return "nonCT";
  case NormalizationScheme::None:
    return "noNorm";
  }
  return "nonCT";
}

void fillHoles(std::vector<uint8_t>& mask, const Shape3& shape)
{
  const int64_t nz = shape[0], ny = shape[1], nx = shape[2];
  const int64_t n = nz * ny * nx;
  if (static_cast<int64_t>(mask.size()) != n)
    throw Error("fillHoles: mask size does not match its shape");
  // Flood the background from the array border (6-connected), marking reached voxels 2 in
  // place; what is not reached (foreground and enclosed background) becomes 1.
  constexpr uint8_t kOutside = 2;
  for (uint8_t& v : mask)
    v = v ? 1 : 0;
  std::vector<int64_t> stack;
  auto seed = [&](int64_t i) {
    if (mask[static_cast<size_t>(i)] == 0)
    {
      mask[static_cast<size_t>(i)] = kOutside;
      stack.push_back(i);
    }
  };
  auto flood = [&]() {
    const int64_t sy = nx, sz = nx * ny;
    while (!stack.empty())
    {
      const int64_t i = stack.back();
      stack.pop_back();
      const int64_t x = i % nx, y = (i / nx) % ny, z = i / sz;
      if (x > 0)
        seed(i - 1);
      if (x < nx - 1)
        seed(i + 1);
      if (y > 0)
        seed(i - sy);
      if (y < ny - 1)
        seed(i + sy);
      if (z > 0)
        seed(i - sz);
      if (z < nz - 1)
        seed(i + sz);
    }
  };
  for (int64_t z = 0; z < nz; ++z)
    for (int64_t y = 0; y < ny; ++y)
    {
      const bool borderRow = z == 0 || z == nz - 1 || y == 0 || y == ny - 1;
      const int64_t row = (z * ny + y) * nx;
      if (borderRow)
        for (int64_t x = 0; x < nx; ++x)
          seed(row + x);
      else
      {
        seed(row);
        seed(row + nx - 1);
      }
      flood(); // keeps the stack short
    }
  for (uint8_t& v : mask)
    v = v == kOutside ? 0 : 1;
}

CropResult cropToNonzero(const float* data, const Shape3& shape)
{
  const int64_t n = voxelCount(shape);
  if (n <= 0)
    throw Error("crop: the image is empty");
  std::vector<uint8_t> mask(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    mask[static_cast<size_t>(i)] = data[i] != 0.0f ? 1 : 0; // NaN != 0: counts as non-zero
  fillHoles(mask, shape);

  CropBox box;
  box.start = shape;
  box.end = { 0, 0, 0 };
  for (int64_t z = 0; z < shape[0]; ++z)
    for (int64_t y = 0; y < shape[1]; ++y)
    {
      const uint8_t* row = mask.data() + (z * shape[1] + y) * shape[2];
      const uint8_t* rowEnd = row + shape[2];
      const uint8_t* first = std::find(row, rowEnd, uint8_t{ 1 });
      if (first == rowEnd)
        continue;
      int64_t last = shape[2] - 1;
      while (!row[last])
        --last;
      box.start[0] = std::min(box.start[0], z);
      box.end[0] = std::max(box.end[0], z + 1);
      box.start[1] = std::min(box.start[1], y);
      box.end[1] = std::max(box.end[1], y + 1);
      box.start[2] = std::min(box.start[2], static_cast<int64_t>(first - row));
      box.end[2] = std::max(box.end[2], last + 1);
    }
  if (box.end[0] == 0)
    throw Error("crop: the image has no non-zero voxel, so there is nothing to segment");

  CropResult r;
  r.box = box;
  const Shape3 cs = box.size();
  r.data.resize(static_cast<size_t>(voxelCount(cs)));
  r.helper.resize(r.data.size());
  size_t o = 0;
  for (int64_t z = box.start[0]; z < box.end[0]; ++z)
    for (int64_t y = box.start[1]; y < box.end[1]; ++y)
    {
      const int64_t row = (z * shape[1] + y) * shape[2];
      for (int64_t x = box.start[2]; x < box.end[2]; ++x, ++o)
      {
        r.data[o] = data[row + x];
        const bool inside = mask[static_cast<size_t>(row + x)] != 0;
        r.helper[o] = inside ? 0 : -1;
        if (!inside)
          ++r.outsideVoxels;
      }
    }
  return r;
}

float numpyPairwiseSum(const float* a, int64_t n)
{
  // numpy's add.reduce hands the inner loop at most one buffer (8192 elements) at a time and
  // accumulates the pairwise sums of these chunks sequentially in the float32 output, which
  // starts at the identity 0. (Checked against the fixture's mean and std: summing the whole
  // array pairwise in one go misses them by 1-2 ulp.)
  constexpr int64_t kBufferSize = 8192;
  float acc = 0.0f;
  for (int64_t i = 0; i < n; i += kBufferSize)
    acc += pairwise(a + i, std::min(kBufferSize, n - i));
  return acc;
}

Float32Stats numpyMeanStd(const std::vector<float>& values)
{
  Float32Stats s;
  const int64_t n = static_cast<int64_t>(values.size());
  if (n == 0)
  {
    s.mean = std::nanf("");
    s.std = std::nanf("");
    return s;
  }
  const float sum = numpyPairwiseSum(values.data(), n);
  // ndarray.mean(): float32 scalar / int -> float64, cast back to float32.
  s.mean = static_cast<float>(static_cast<double>(sum) / static_cast<double>(n));
  // ndarray.std(): the mean inside _var is a float32 array divided in float32.
  const float meanForVar = sum / static_cast<float>(n);
  std::vector<float> sq(values.size());
  for (size_t i = 0; i < values.size(); ++i)
  {
    const float d = values[i] - meanForVar;
    sq[i] = d * d;
  }
  const float ssum = numpyPairwiseSum(sq.data(), n);
  const float var = static_cast<float>(static_cast<double>(ssum) / static_cast<double>(n));
  s.std = std::sqrt(var);
  return s;
}

NormalizationInfo normalize(std::vector<float>& data, const int8_t* helper,
                            NormalizationScheme scheme, const IntensityProperties& props,
                            bool useMaskForNorm)
{
  if (useMaskForNorm && helper == nullptr)
    throw Error("normalisation: use_mask_for_norm needs the resampled non-zero mask");
  NormalizationInfo info;
  info.scheme = scheme;
  const size_t n = data.size();
  auto outside = [&](size_t i) { return helper[i] < 0; };

  switch (scheme)
  {
  case NormalizationScheme::None:
    info.mean = 0.0;
    info.divisor = 1.0;
    return info;

  case NormalizationScheme::CT:
  {
    const float lo = static_cast<float>(props.percentile00_5);
    const float hi = static_cast<float>(props.percentile99_5);
    const float mean = static_cast<float>(props.mean);
    const float sd = static_cast<float>(props.sd);
    if (!(sd > 0.0f))
      throw Error("normalisation: the CT intensity properties have a non-positive sd");
    for (size_t i = 0; i < n; ++i)
    {
      const float v = std::min(std::max(data[i], lo), hi);
      data[i] = (v - mean) / sd;
    }
    if (useMaskForNorm)
      for (size_t i = 0; i < n; ++i)
        if (outside(i))
          data[i] = 0.0f;
    info.mean = mean;
    info.divisor = sd;
    info.clipLow = lo;
    info.clipHigh = hi;
    return info;
  }

  case NormalizationScheme::CT2:
  {
    const float lo = static_cast<float>(props.percentile00_5);
    const float hi = static_cast<float>(props.percentile99_5);
    std::vector<float> inside;
    inside.reserve(n);
    for (size_t i = 0; i < n; ++i)
    {
      const bool in = data[i] > lo && data[i] < hi;
      data[i] = std::min(std::max(data[i], lo), hi);
      if (in)
        inside.push_back(data[i]);
    }
    const Float32Stats st = numpyMeanStd(inside);
    for (size_t i = 0; i < n; ++i)
      data[i] = (data[i] - st.mean) / st.std;
    if (useMaskForNorm)
      for (size_t i = 0; i < n; ++i)
        if (outside(i))
          data[i] = 0.0f;
    info.mean = st.mean;
    info.divisor = st.std;
    info.clipLow = lo;
    info.clipHigh = hi;
    info.statisticsVoxels = static_cast<int64_t>(inside.size());
    return info;
  }

  case NormalizationScheme::NonCT:
  {
    std::vector<float> inside;
    inside.reserve(n);
    for (size_t i = 0; i < n; ++i)
      if (!useMaskForNorm || !outside(i))
        inside.push_back(data[i]);
    if (inside.empty())
      throw Error("normalisation: the non-zero mask is empty after resampling");
    const Float32Stats st = numpyMeanStd(inside);
    // (std + 1e-8) is a float64 scalar; numpy casts it to float32 for the array division.
    const float divisor = static_cast<float>(static_cast<double>(st.std) + 1e-8);
    for (size_t i = 0; i < n; ++i)
    {
      if (useMaskForNorm && outside(i))
        data[i] = 0.0f;
      else
        data[i] = (data[i] - st.mean) / divisor;
    }
    info.mean = st.mean;
    info.divisor = divisor;
    info.statisticsVoxels = static_cast<int64_t>(inside.size());
    return info;
  }
  }
  return info;
}

Preprocessed preprocess(const Image& image, const PreprocessParams& params)
{
  const auto t0 = std::chrono::steady_clock::now();
  const Shape3 shape = shapeOf(image.geometry);
  if (voxelCount(shape) <= 0 || static_cast<int64_t>(image.voxels.size()) != voxelCount(shape))
    throw Error("preprocessing: the image is empty or its voxel count does not match its size");
  for (int a = 0; a < 3; ++a)
    if (!(params.targetSpacing[a] > 0) || !std::isfinite(params.targetSpacing[a]))
      throw Error("preprocessing: the target spacing must be positive");

  Preprocessed out;
  out.originalGeometry = image.geometry;
  out.originalShape = shape;
  out.originalSpacing = spacingOf(image.geometry);
  out.spacingAfterResampling = params.targetSpacing;
  report(params.progress, 0.0);

  const std::array<int, 3>& tf = params.transposeForward;
  const std::array<int, 3>& tb = params.transposeBackward;
  {
    std::array<bool, 3> seen{ false, false, false };
    for (int a = 0; a < 3; ++a)
    {
      if (tf[a] < 0 || tf[a] > 2 || seen[tf[a]])
        throw Error("preprocessing: transpose_forward is not a permutation of 0, 1, 2");
      seen[tf[a]] = true;
    }
    for (int a = 0; a < 3; ++a)
      if (tb[tf[a]] != a)
        throw Error("preprocessing: transpose_backward is not the inverse of transpose_forward");
  }
  out.transposeForward = tf;
  out.transposeBackward = tb;
  const bool transposed = tf != std::array<int, 3>{ 0, 1, 2 };

  CropResult crop = cropToNonzero(image.voxels.data(), shape);
  out.crop = crop.box;
  out.croppedShape = crop.box.size();
  out.outsideMaskVoxels = crop.outsideVoxels;
  if (transposed)
  {
    // nnU-Net v1 preprocess_test_case: crop, then data.transpose(transpose_forward).
    crop.data = v2::transposeArray(crop.data.data(), out.croppedShape, tf);
    crop.helper = v2::transposeArray(crop.helper.data(), out.croppedShape, tf);
  }
  for (float& v : crop.data)
    if (std::isnan(v))
      v = 0.0f;
  report(params.progress, 0.15);

  const Shape3 croppedT = v2::permuteShape(out.croppedShape, tf);
  const Spacing3 spacingT = v2::permuteSpacing(out.originalSpacing, tf);
  out.resampledShapeUnrounded = resampledShapeUnrounded(croppedT, spacingT, params.targetSpacing);
  out.shape = resampledShape(croppedT, spacingT, params.targetSpacing);
  out.separateZ = decideSeparateZ(spacingT, params.targetSpacing, params.anisotropyThreshold);

  out.data = resampleData(crop.data.data(), croppedT, out.shape, 3, out.separateZ, 0,
                          params.threads);
  crop.data.clear();
  crop.data.shrink_to_fit();
  report(params.progress, 0.75);

  if (params.useMaskForNorm || params.alwaysResampleHelperMask)
    out.helperMask = resampleSegmentation(crop.helper.data(), croppedT, out.shape, 1,
                                          out.separateZ, params.threads);
  if (params.keepResampled)
    out.resampled = out.data;
  report(params.progress, 0.9);

  out.normalization =
    normalize(out.data, out.helperMask.empty() ? nullptr : out.helperMask.data(), params.scheme,
              params.intensity, params.useMaskForNorm);
  out.seconds =
    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  report(params.progress, 1.0);
  return out;
}

} // namespace panseg::nnunet
