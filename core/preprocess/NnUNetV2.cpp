#include "core/preprocess/NnUNetV2.h"

#include "core/Error.h"
#include "core/preprocess/Preprocess.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

namespace panseg::nnunet::v2
{
namespace
{
size_t idx(int64_t i) { return static_cast<size_t>(i); }

double secondsSince(std::chrono::steady_clock::time_point t0)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void checkPermutation(const std::array<int, 3>& p, const char* what)
{
  std::array<bool, 3> seen{ false, false, false };
  for (int a : p)
  {
    if (a < 0 || a > 2 || seen[static_cast<size_t>(a)])
      throw Error(std::string(what) + " [" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ", " +
                  std::to_string(p[2]) + "] is not a permutation of 0, 1, 2");
    seen[static_cast<size_t>(a)] = true;
  }
}

/// The separate-z decision of resample_data_or_seg_to_shape (current spacing first, then new).
SeparateZ separateZFor(const Spacing3& current, const Spacing3& next, int force, double threshold)
{
  if (force == 0)
    return {};
  if (force == 1)
  {
    const std::vector<int> axes = lowResolutionAxes(current);
    SeparateZ s;
    if (axes.size() == 1)
    {
      s.enabled = true;
      s.axis = axes[0];
    }
    return s;
  }
  return decideSeparateZ(current, next, threshold);
}

/// numpy's pairwise float64 sum (the exact order matters for the Gaussian's 1-D weights).
double pairwiseSum(const double* a, int64_t n)
{
  if (n < 8)
  {
    double r = 0.0;
    for (int64_t i = 0; i < n; ++i)
      r += a[i];
    return r;
  }
  if (n <= 128)
  {
    double r[8];
    for (int k = 0; k < 8; ++k)
      r[k] = a[k];
    int64_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int k = 0; k < 8; ++k)
        r[k] += a[i + k];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i)
      res += a[i];
    return res;
  }
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwiseSum(a, n2) + pairwiseSum(a + n2, n - n2);
}

/// scipy.ndimage's _gaussian_kernel1d(sigma, order 0, radius).
std::vector<double> gaussianKernel1d(double sigma, int64_t radius)
{
  const double sigma2 = sigma * sigma;
  std::vector<double> phi(idx(2 * radius + 1));
  for (int64_t x = -radius; x <= radius; ++x)
    phi[idx(x + radius)] = std::exp(-0.5 / sigma2 * static_cast<double>(x * x));
  const double sum = pairwiseSum(phi.data(), static_cast<int64_t>(phi.size()));
  for (double& v : phi)
    v = v / sum;
  return phi;
}
} // namespace

// ---- float16 ----------------------------------------------------------------------------------------

std::uint16_t toHalf(double v)
{
  const std::uint16_t sign = std::signbit(v) ? 0x8000 : 0;
  if (std::isnan(v))
    return static_cast<std::uint16_t>(sign | 0x7e00);
  const double a = std::fabs(v);
  if (std::isinf(a))
    return static_cast<std::uint16_t>(sign | 0x7c00);
  if (a == 0.0)
    return sign;
  int e = 0;
  std::frexp(a, &e);
  const int exponent = std::max(e - 1, -14);
  const double quantum = std::ldexp(1.0, exponent - 10);
  const double m = std::nearbyint(a / quantum); // round half to even (default rounding mode)
  const double r = m * quantum;
  if (r >= 65536.0)
    return static_cast<std::uint16_t>(sign | 0x7c00);
  if (r < std::ldexp(1.0, -14))
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(r / std::ldexp(1.0, -24)));
  int e2 = 0;
  std::frexp(r, &e2);
  const int ex = e2 - 1;
  const auto mant = static_cast<std::uint16_t>(r / std::ldexp(1.0, ex - 10) - 1024.0);
  return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>((ex + 15) << 10) | mant);
}

float fromHalf(std::uint16_t h)
{
  const int exponent = (h >> 10) & 0x1f;
  const int mant = h & 0x3ff;
  double v = 0.0;
  if (exponent == 0)
    v = std::ldexp(static_cast<double>(mant), -24);
  else if (exponent == 31)
    v = mant ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else
    v = std::ldexp(static_cast<double>(mant + 1024), exponent - 25);
  return static_cast<float>((h & 0x8000) ? -v : v);
}

// ---- normalisation names ---------------------------------------------------------------------------

Normalization normalizationFromName(const std::string& name)
{
  if (name == "CTNormalization")
    return Normalization::CT;
  if (name == "ZScoreNormalization")
    return Normalization::ZScore;
  if (name == "NoNormalization")
    return Normalization::None;
  if (name == "RescaleTo01Normalization")
    return Normalization::RescaleTo01;
  if (name == "RGBTo01Normalization")
    return Normalization::RGBTo01;
  throw Error("unknown nnU-Net v2 normalisation scheme '" + name +
              "' (known: CTNormalization, ZScoreNormalization, NoNormalization, "
              "RescaleTo01Normalization, RGBTo01Normalization)");
}

std::string toString(Normalization n)
{
  switch (n)
  {
  case Normalization::CT: return "CTNormalization";
  case Normalization::ZScore: return "ZScoreNormalization";
  case Normalization::None: return "NoNormalization";
  case Normalization::RescaleTo01: return "RescaleTo01Normalization";
  case Normalization::RGBTo01: return "RGBTo01Normalization";
  }
  return "?";
}

// ---- reader order -----------------------------------------------------------------------------------

ReaderOrder readerOrderOf(const Geometry& g, bool reorientToRas)
{
  ReaderOrder r;
  const Shape3 s = shapeOf(g);
  const Spacing3 sp = spacingOf(g);
  if (!reorientToRas)
  {
    r.shape = s;
    r.spacing = sp;
    return r;
  }
  // Index axis c (0 = x/i, 1 = y/j, 2 = z/k) points along direction column c (LPS). In RAS the
  // first two world components change sign. Assign each world axis the index axis closest to
  // it, greedily by the largest absolute component (nibabel's io_orientation for near-axis-aligned
  // grids), and flip the index axes that point the negative way.
  std::array<std::array<double, 3>, 3> ras{}; // ras[c][w]
  for (int c = 0; c < 3; ++c)
    for (int w = 0; w < 3; ++w)
      ras[idx(c)][idx(w)] = g.direction[idx(w * 3 + c)] * (w < 2 ? -1.0 : 1.0);
  std::array<int, 3> indexAxisOfWorld{ -1, -1, -1 };
  std::array<bool, 3> usedIndex{ false, false, false };
  for (int step = 0; step < 3; ++step)
  {
    double best = -1.0;
    int bc = -1, bw = -1;
    for (int c = 0; c < 3; ++c)
      for (int w = 0; w < 3; ++w)
        if (!usedIndex[idx(c)] && indexAxisOfWorld[idx(w)] < 0 && std::fabs(ras[idx(c)][idx(w)]) > best)
        {
          best = std::fabs(ras[idx(c)][idx(w)]);
          bc = c;
          bw = w;
        }
    indexAxisOfWorld[idx(bw)] = bc;
    usedIndex[idx(bc)] = true;
  }
  // Reader order = (k', j', i') of the re-oriented array = world axes (S, A, R) = (2, 1, 0).
  for (int rAxis = 0; rAxis < 3; ++rAxis)
  {
    const int w = 2 - rAxis;
    const int c = indexAxisOfWorld[idx(w)];
    r.axisOf[idx(rAxis)] = 2 - c; // image array axis of index axis c
    r.flip[idx(rAxis)] = ras[idx(c)][idx(w)] < 0.0;
    r.shape[idx(rAxis)] = g.size[idx(c)];
    r.spacing[idx(rAxis)] = g.spacingMm[idx(c)];
  }
  return r;
}

namespace
{
/// Offset into the image (z, y, x) array of reader index (a, b, c), via strides per reader axis.
struct ReaderMap
{
  std::array<int64_t, 3> stride{};
  std::array<int64_t, 3> start{};
  int64_t base = 0;
  explicit ReaderMap(const Geometry& g, const ReaderOrder& r)
  {
    const Shape3 s = shapeOf(g);
    const std::array<int64_t, 3> arrayStride{ s[1] * s[2], s[2], 1 };
    for (int a = 0; a < 3; ++a)
    {
      const int axis = r.axisOf[idx(a)];
      const int64_t st = arrayStride[idx(axis)];
      if (r.flip[idx(a)])
      {
        base += (s[idx(axis)] - 1) * st;
        stride[idx(a)] = -st;
      }
      else
        stride[idx(a)] = st;
    }
  }
  int64_t at(int64_t a, int64_t b, int64_t c) const { return base + a * stride[0] + b * stride[1] + c * stride[2]; }
};
} // namespace

std::vector<float> toReaderOrder(const std::vector<float>& image, const Geometry& g, const ReaderOrder& r)
{
  const ReaderMap m(g, r);
  std::vector<float> out(idx(voxelCount(r.shape)));
  size_t o = 0;
  for (int64_t a = 0; a < r.shape[0]; ++a)
    for (int64_t b = 0; b < r.shape[1]; ++b)
      for (int64_t c = 0; c < r.shape[2]; ++c)
        out[o++] = image[idx(m.at(a, b, c))];
  return out;
}

template <typename T>
std::vector<T> fromReaderOrder(const T* reader, const Geometry& g, const ReaderOrder& r)
{
  const ReaderMap m(g, r);
  std::vector<T> out(idx(g.voxelCount()));
  size_t o = 0;
  for (int64_t a = 0; a < r.shape[0]; ++a)
    for (int64_t b = 0; b < r.shape[1]; ++b)
      for (int64_t c = 0; c < r.shape[2]; ++c)
        out[idx(m.at(a, b, c))] = reader[o++];
  return out;
}
template std::vector<float> fromReaderOrder<float>(const float*, const Geometry&, const ReaderOrder&);
template std::vector<uint8_t> fromReaderOrder<uint8_t>(const uint8_t*, const Geometry&, const ReaderOrder&);

template <typename T>
std::vector<T> transposeArray(const T* in, const Shape3& shape, const std::array<int, 3>& perm)
{
  const Shape3 os = permuteShape(shape, perm);
  const std::array<int64_t, 3> inStride{ shape[1] * shape[2], shape[2], 1 };
  const std::array<int64_t, 3> st{ inStride[idx(perm[0])], inStride[idx(perm[1])], inStride[idx(perm[2])] };
  std::vector<T> out(idx(voxelCount(shape)));
  size_t o = 0;
  for (int64_t a = 0; a < os[0]; ++a)
    for (int64_t b = 0; b < os[1]; ++b)
      for (int64_t c = 0; c < os[2]; ++c)
        out[o++] = in[a * st[0] + b * st[1] + c * st[2]];
  return out;
}
template std::vector<float> transposeArray<float>(const float*, const Shape3&, const std::array<int, 3>&);
template std::vector<uint8_t> transposeArray<uint8_t>(const uint8_t*, const Shape3&, const std::array<int, 3>&);
template std::vector<int8_t> transposeArray<int8_t>(const int8_t*, const Shape3&, const std::array<int, 3>&);

// ---- preprocessing ----------------------------------------------------------------------------------

Preprocessed preprocess(const Image& image, const Params& p, bool keepNormalized)
{
  const auto t0 = std::chrono::steady_clock::now();
  checkPermutation(p.transposeForward, "transpose_forward");
  checkPermutation(p.transposeBackward, "transpose_backward");
  for (int a = 0; a < 3; ++a)
    if (p.transposeBackward[idx(p.transposeForward[idx(a)])] != a)
      throw Error("transpose_backward is not the inverse of transpose_forward");
  if (image.geometry.isEmpty())
    throw Error("preprocessing: the image is empty");
  for (double s : p.targetSpacing)
    if (!(s > 0.0) || !std::isfinite(s))
      throw Error("preprocessing: the target spacing must be positive");

  Preprocessed out;
  out.originalGeometry = image.geometry;
  out.reader = readerOrderOf(image.geometry, p.reorientToRas);
  const std::vector<float> reader = toReaderOrder(image.voxels, image.geometry, out.reader);
  out.transposedShape = permuteShape(out.reader.shape, p.transposeForward);
  out.transposedSpacing = permuteSpacing(out.reader.spacing, p.transposeForward);
  const std::vector<float> transposed = transposeArray(reader.data(), out.reader.shape, p.transposeForward);

  CropResult crop = cropToNonzero(transposed.data(), out.transposedShape);
  out.crop = crop.box;
  out.croppedShape = crop.box.size();
  std::vector<float>& x = crop.data;
  const int64_t n = static_cast<int64_t>(x.size());

  // Normalise (float32 arithmetic, scalars cast to float32 as numpy does).
  switch (p.normalization)
  {
  case Normalization::CT:
  {
    const auto lo = static_cast<float>(p.intensity.percentile00_5);
    const auto hi = static_cast<float>(p.intensity.percentile99_5);
    const auto mean = static_cast<float>(p.intensity.mean);
    const auto sd = static_cast<float>(std::max(p.intensity.std, 1e-8));
    for (float& v : x)
    {
      v = std::min(std::max(v, lo), hi);
      v = v - mean;
      v = v / sd;
    }
    break;
  }
  case Normalization::ZScore:
  {
    // Statistics in float64, rounded to float32 (numpy's float32 pairwise sums over nnU-Net's
    // strided view can differ by one ulp; the fixture README, item 4).
    long double sum = 0.0L;
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i)
      if (!p.useMaskForNorm || crop.helper[idx(i)] >= 0)
      {
        sum += x[idx(i)];
        ++count;
      }
    if (count == 0)
      throw Error("z-score normalisation: no voxel inside the mask");
    const long double meanL = sum / static_cast<long double>(count);
    long double ss = 0.0L;
    for (int64_t i = 0; i < n; ++i)
      if (!p.useMaskForNorm || crop.helper[idx(i)] >= 0)
      {
        const long double d = static_cast<long double>(x[idx(i)]) - meanL;
        ss += d * d;
      }
    const auto mean = static_cast<float>(meanL);
    const auto sd = static_cast<float>(std::sqrt(ss / static_cast<long double>(count)));
    const float div = std::max(sd, 1e-8f);
    out.zscoreMean = mean;
    out.zscoreStd = sd;
    for (int64_t i = 0; i < n; ++i)
      if (!p.useMaskForNorm || crop.helper[idx(i)] >= 0)
      {
        float& v = x[idx(i)];
        v = v - mean;
        v = v / div;
      }
    break;
  }
  case Normalization::None:
    break;
  case Normalization::RescaleTo01:
  {
    const auto [mn, mx] = std::minmax_element(x.begin(), x.end());
    const float lo = *mn;
    float hi = *mx - lo;
    hi = std::max(hi, 1e-8f);
    for (float& v : x)
      v = (v - lo) / hi;
    break;
  }
  case Normalization::RGBTo01:
    for (float v : x)
      if (v < 0.0f || v > 255.0f)
        throw Error("RGBTo01Normalization: intensities must lie in [0, 255]");
    for (float& v : x)
      v = v / 255.0f;
    break;
  }
  if (keepNormalized)
    out.normalizedBeforeResampling = x;

  const Shape3 newShape = resampledShape(out.croppedShape, out.transposedSpacing, p.targetSpacing);
  out.separateZ = separateZFor(out.transposedSpacing, p.targetSpacing, p.dataForceSeparateZ, p.anisotropyThreshold);
  if (newShape == out.croppedShape)
    out.data = std::move(x);
  else
    out.data = resampleData(x.data(), out.croppedShape, newShape, p.dataOrder, out.separateZ, p.dataOrderZ, p.threads);
  out.shape = newShape;
  out.seconds = secondsSince(t0);
  return out;
}

// ---- sliding window ---------------------------------------------------------------------------------

std::vector<float> gaussianFp16(const Shape3& patch)
{
  std::array<std::vector<double>, 3> w;
  for (int a = 0; a < 3; ++a)
  {
    const int64_t p = patch[idx(a)];
    if (p <= 0)
      throw Error("Gaussian map: empty patch");
    const double sigma = static_cast<double>(p) * 0.125;
    const auto radius = static_cast<int64_t>(4.0 * sigma + 0.5);
    const std::vector<double> k = gaussianKernel1d(sigma, radius);
    const int64_t centre = p / 2;
    w[idx(a)].assign(idx(p), 0.0);
    for (int64_t i = 0; i < p; ++i)
    {
      const int64_t d = i - centre;
      if (d >= -radius && d <= radius)
        w[idx(a)][idx(i)] = k[idx(d + radius)];
    }
  }
  const double peak = (w[0][idx(patch[0] / 2)] * w[1][idx(patch[1] / 2)]) * w[2][idx(patch[2] / 2)];
  const double divisor = peak / 10.0;
  std::vector<float> g(idx(voxelCount(patch)));
  size_t o = 0;
  for (int64_t z = 0; z < patch[0]; ++z)
    for (int64_t y = 0; y < patch[1]; ++y)
      for (int64_t x = 0; x < patch[2]; ++x)
        g[o++] = roundHalf(((w[0][idx(z)] * w[1][idx(y)]) * w[2][idx(x)]) / divisor);
  float smallest = std::numeric_limits<float>::infinity();
  for (float v : g)
    if (v != 0.0f)
      smallest = std::min(smallest, v);
  for (float& v : g)
    if (v == 0.0f)
      v = smallest;
  return g;
}

std::vector<std::vector<int>> mirrorCombinations(const std::vector<int>& axesIn)
{
  std::vector<int> axes = axesIn;
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  for (int a : axes)
    if (a < 0 || a > 2)
      throw Error("mirror axis " + std::to_string(a) + " is not 0, 1 or 2");
  std::vector<std::vector<int>> out{ {} };
  const size_t n = axes.size();
  for (size_t r = 1; r <= n; ++r)
  {
    // itertools.combinations(axes, r) in lexicographic order of positions
    std::vector<size_t> pos(r);
    for (size_t i = 0; i < r; ++i)
      pos[i] = i;
    for (;;)
    {
      std::vector<int> c;
      for (size_t i : pos)
        c.push_back(axes[i]);
      out.push_back(c);
      size_t i = r;
      while (i > 0 && pos[i - 1] == i - 1 + n - r)
        --i;
      if (i == 0)
        break;
      ++pos[i - 1];
      for (size_t j = i; j < r; ++j)
        pos[j] = pos[j - 1] + 1;
    }
  }
  return out;
}

int64_t forwardPasses(const Shape3& shape, const Shape3& patch, const SlidingOptions& o)
{
  const WindowPlan plan = planWindows(shape, patch, o.stepSize);
  const int64_t variants = o.mirror ? static_cast<int64_t>(mirrorCombinations(o.mirrorAxes).size()) : 1;
  return plan.numWindows() * variants;
}

namespace
{
/// Copies a window out of `src` [C, S] at `start`, flipped along `axes`.
void extractWindow(const float* src, int64_t channels, const Shape3& S, const Shape3& start,
                   const Shape3& p, const std::vector<int>& axes, float* dst)
{
  const bool f0 = std::find(axes.begin(), axes.end(), 0) != axes.end();
  const bool f1 = std::find(axes.begin(), axes.end(), 1) != axes.end();
  const bool f2 = std::find(axes.begin(), axes.end(), 2) != axes.end();
  const int64_t sv = voxelCount(S), pv = voxelCount(p);
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t z = 0; z < p[0]; ++z)
      for (int64_t y = 0; y < p[1]; ++y)
      {
        const int64_t zz = start[0] + (f0 ? p[0] - 1 - z : z);
        const int64_t yy = start[1] + (f1 ? p[1] - 1 - y : y);
        const float* row = src + c * sv + (zz * S[1] + yy) * S[2] + start[2];
        float* out = dst + c * pv + (z * p[1] + y) * p[2];
        if (f2)
          for (int64_t x = 0; x < p[2]; ++x)
            out[x] = row[p[2] - 1 - x];
        else
          std::copy(row, row + p[2], out);
      }
}
} // namespace

Logits predictLogits(const float* input, int64_t channels, const Shape3& shape, const Shape3& patch,
                     int64_t numClasses, const NetworkFn& network, const SlidingOptions& o)
{
  if (channels <= 0 || numClasses <= 0)
    throw Error("sliding window: no channels or classes");
  Logits out;
  out.plan = planWindows(shape, patch, o.stepSize);
  const WindowPlan& plan = out.plan;
  const Shape3& P = plan.paddedShape;
  const int64_t K = numClasses, pv = voxelCount(patch), PV = voxelCount(P);

  // Zero padding (value 0 in normalised units), floor(diff / 2) before.
  std::vector<float> padded;
  const float* src = input;
  if (P != shape)
  {
    padded.assign(idx(channels * PV), 0.0f);
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t z = 0; z < shape[0]; ++z)
        for (int64_t y = 0; y < shape[1]; ++y)
          std::copy(input + c * voxelCount(shape) + (z * shape[1] + y) * shape[2],
                    input + c * voxelCount(shape) + (z * shape[1] + y) * shape[2] + shape[2],
                    padded.data() + c * PV + ((z + plan.padBefore[0]) * P[1] + y + plan.padBefore[1]) * P[2] +
                        plan.padBefore[2]);
    src = padded.data();
  }

  const std::vector<float> gaussian = o.useGaussian ? gaussianFp16(patch) : std::vector<float>(idx(pv), 1.0f);
  const std::vector<std::vector<int>> variants =
      o.mirror ? mirrorCombinations(o.mirrorAxes) : std::vector<std::vector<int>>{ {} };
  const auto V = static_cast<int64_t>(variants.size());
  const int64_t batch = std::max<int64_t>(1, o.maxBatch);

  std::vector<float> acc(idx(K * PV), 0.0f), weights(idx(PV), 0.0f); // float16 values
  std::vector<float> in(idx(std::min(batch, V) * channels * pv));
  std::vector<float> res(idx(std::min(batch, V) * K * pv));
  std::vector<float> pred(idx(K * pv));
  const std::vector<Shape3> starts = plan.windowStarts();
  const int64_t total = static_cast<int64_t>(starts.size()) * V;
  int64_t done = 0;
  for (const Shape3& s : starts)
  {
    for (int64_t v0 = 0; v0 < V; v0 += batch)
    {
      const int64_t nb = std::min(batch, V - v0);
      for (int64_t b = 0; b < nb; ++b)
        extractWindow(src, channels, P, s, patch, variants[idx(v0 + b)], in.data() + b * channels * pv);
      network(in.data(), nb, res.data());
      for (int64_t b = 0; b < nb; ++b)
      {
        const std::vector<int>& axes = variants[idx(v0 + b)];
        const float* r = res.data() + b * K * pv;
        if (v0 + b == 0)
        {
          std::copy(r, r + K * pv, pred.begin());
          continue;
        }
        // flip back (flipping is its own inverse) and add
        std::vector<float> flipped(idx(K * pv));
        extractWindow(r, K, patch, { 0, 0, 0 }, patch, axes, flipped.data());
        for (size_t i = 0; i < pred.size(); ++i)
          pred[i] += flipped[i];
      }
      done += nb;
      if (o.progress && !o.progress(static_cast<double>(done) / static_cast<double>(total)))
        throw Error("cancelled");
    }
    if (V > 1)
      for (float& v : pred)
        v = v / static_cast<float>(V);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t z = 0; z < patch[0]; ++z)
        for (int64_t y = 0; y < patch[1]; ++y)
        {
          float* a = acc.data() + k * PV + ((s[0] + z) * P[1] + s[1] + y) * P[2] + s[2];
          const float* pr = pred.data() + k * pv + (z * patch[1] + y) * patch[2];
          const float* g = gaussian.data() + (z * patch[1] + y) * patch[2];
          for (int64_t x = 0; x < patch[2]; ++x)
          {
            const float weighted = o.useGaussian ? pr[x] * g[x] : pr[x];
            a[x] = roundHalf(static_cast<double>(a[x] + weighted));
          }
        }
    for (int64_t z = 0; z < patch[0]; ++z)
      for (int64_t y = 0; y < patch[1]; ++y)
      {
        float* w = weights.data() + ((s[0] + z) * P[1] + s[1] + y) * P[2] + s[2];
        const float* g = gaussian.data() + (z * patch[1] + y) * patch[2];
        for (int64_t x = 0; x < patch[2]; ++x)
          w[x] = roundHalf(static_cast<double>(w[x] + g[x]));
      }
  }
  // Divide (float16 / float16 computed in float32, rounded to float16) and remove the padding.
  out.numClasses = K;
  out.shape = shape;
  out.forwardPasses = total;
  out.values.resize(idx(K * voxelCount(shape)));
  size_t o2 = 0;
  for (int64_t k = 0; k < K; ++k)
    for (int64_t z = 0; z < shape[0]; ++z)
      for (int64_t y = 0; y < shape[1]; ++y)
        for (int64_t x = 0; x < shape[2]; ++x)
        {
          const int64_t pz = z + plan.padBefore[0], py = y + plan.padBefore[1], px = x + plan.padBefore[2];
          const int64_t sp = (pz * P[1] + py) * P[2] + px;
          out.values[o2++] = roundHalf(static_cast<double>(acc[idx(k * PV + sp)] / weights[idx(sp)]));
        }
  return out;
}

// ---- export ---------------------------------------------------------------------------------------------

Exported exportLogits(const Logits& logits, const Preprocessed& pre, const Params& params, bool withProbabilities)
{
  return exportLogits(logits.values, logits.numClasses, pre, params, withProbabilities);
}

Exported exportLogits(const std::vector<float>& logits, int64_t K, const Preprocessed& pre, const Params& p,
                      bool withProbabilities)
{
  if (static_cast<int64_t>(logits.size()) != K * voxelCount(pre.shape))
    throw Error("export: the logits do not match the preprocessed shape");
  Exported out;
  const Shape3& cs = pre.croppedShape;
  const int64_t cv = voxelCount(cs);
  if (cs == pre.shape)
    out.logitsAtCrop = logits;
  else
  {
    const SeparateZ sep = separateZFor(p.targetSpacing, pre.transposedSpacing, p.probForceSeparateZ,
                                       p.anisotropyThreshold);
    const std::vector<double> r =
        resampleChannelsF64(logits.data(), K, pre.shape, cs, p.probOrder, sep, p.probOrderZ, p.threads);
    out.logitsAtCrop.resize(r.size());
    for (size_t i = 0; i < r.size(); ++i)
      out.logitsAtCrop[i] = roundHalf(r[i]);
  }
  std::vector<float> prob = out.logitsAtCrop;
  softmaxChannels(prob.data(), K, cv);
  std::vector<uint8_t> labels(idx(cv), 0);
  for (int64_t v = 0; v < cv; ++v)
  {
    int64_t best = 0;
    for (int64_t k = 1; k < K; ++k)
      if (prob[idx(k * cv + v)] > prob[idx(best * cv + v)])
        best = k;
    labels[idx(v)] = static_cast<uint8_t>(best);
  }

  // Paste into the transposed full shape, transpose back to reader order.
  const Shape3& T = pre.transposedShape;
  const int64_t tv = voxelCount(T);
  std::vector<uint8_t> full(idx(tv), 0);
  std::vector<float> fullProb;
  if (withProbabilities)
  {
    fullProb.assign(idx(K * tv), 0.0f);
    std::fill(fullProb.begin(), fullProb.begin() + tv, 1.0f);
  }
  for (int64_t z = 0; z < cs[0]; ++z)
    for (int64_t y = 0; y < cs[1]; ++y)
      for (int64_t x = 0; x < cs[2]; ++x)
      {
        const int64_t c = (z * cs[1] + y) * cs[2] + x;
        const int64_t t = ((z + pre.crop.start[0]) * T[1] + y + pre.crop.start[1]) * T[2] + x + pre.crop.start[2];
        full[idx(t)] = labels[idx(c)];
        if (withProbabilities)
          for (int64_t k = 0; k < K; ++k)
            fullProb[idx(k * tv + t)] = prob[idx(k * cv + c)];
      }
  out.readerLabels = transposeArray(full.data(), T, p.transposeBackward);
  if (withProbabilities)
  {
    out.probabilities.resize(fullProb.size());
    for (int64_t k = 0; k < K; ++k)
    {
      const std::vector<float> t = transposeArray(fullProb.data() + k * tv, T, p.transposeBackward);
      std::copy(t.begin(), t.end(), out.probabilities.begin() + k * tv);
    }
  }
  out.mask = LabelMask(pre.originalGeometry, 0);
  out.mask.voxels = fromReaderOrder(out.readerLabels.data(), pre.originalGeometry, pre.reader);
  return out;
}

} // namespace panseg::nnunet::v2
