#include "core/preprocess/SlidingWindow.h"

#include "core/Error.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>

namespace panseg::nnunet
{
namespace
{
std::string shapeText(const Shape3& s)
{
  return std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" + std::to_string(s[2]);
}

/// Flip bits of mirror variant m: bit 0 = x (W), bit 1 = y (H), bit 2 = z (D).
bool variantAllowed(int m, const SlidingWindowOptions& o)
{
  if (!o.mirror)
    return m == 0;
  if ((m & 1) && !o.mirrorAxes[2])
    return false;
  if ((m & 2) && !o.mirrorAxes[1])
    return false;
  if ((m & 4) && !o.mirrorAxes[0])
    return false;
  return true;
}

/// The map added per window: the Gaussian when used, else ones.
std::vector<float> windowWeights(const WindowPlan& plan, const SlidingWindowOptions& o)
{
  if (o.useGaussian && plan.numWindows() > 1)
    return gaussianImportanceMap(plan.patch, o.sigmaScale);
  return std::vector<float>(static_cast<size_t>(voxelCount(plan.patch)), 1.0f);
}
} // namespace

std::vector<Shape3> WindowPlan::windowStarts() const
{
  std::vector<Shape3> out;
  out.reserve(static_cast<size_t>(numWindows()));
  for (const int64_t z : steps[0])
    for (const int64_t y : steps[1])
      for (const int64_t x : steps[2])
        out.push_back({ z, y, x });
  return out;
}

WindowPlan planWindows(const Shape3& shape, const Shape3& patch, double stepSize)
{
  for (int a = 0; a < 3; ++a)
    if (shape[a] <= 0 || patch[a] <= 0)
      throw Error("sliding window: empty volume " + shapeText(shape) + " or patch " +
                  shapeText(patch));
  if (!(stepSize > 0.0 && stepSize <= 1.0))
    throw Error("sliding window: the step size must be in (0, 1], not " +
                std::to_string(stepSize));
  WindowPlan p;
  p.patch = patch;
  p.inputShape = shape;
  for (int a = 0; a < 3; ++a)
  {
    const int64_t padded = std::max(shape[a], patch[a]);
    const int64_t diff = padded - shape[a];
    p.paddedShape[a] = padded;
    p.padBefore[a] = diff / 2;
    p.padAfter[a] = diff - diff / 2;

    const double target = static_cast<double>(patch[a]) * stepSize;
    const int64_t n =
      static_cast<int64_t>(std::ceil(static_cast<double>(padded - patch[a]) / target)) + 1;
    const int64_t maxStart = padded - patch[a];
    const double actual =
      n > 1 ? static_cast<double>(maxStart) / static_cast<double>(n - 1) : 99999999999.0;
    for (int64_t i = 0; i < n; ++i)
      p.steps[a].push_back(static_cast<int64_t>(std::nearbyint(actual * static_cast<double>(i))));
  }
  return p;
}

std::vector<float> gaussianImportanceMap(const Shape3& patch, double sigmaScale)
{
  for (int a = 0; a < 3; ++a)
    if (patch[a] <= 0)
      throw Error("Gaussian map: empty patch " + shapeText(patch));
  std::array<std::vector<double>, 3> g;
  for (int a = 0; a < 3; ++a)
  {
    const double sigma = static_cast<double>(patch[a]) * sigmaScale;
    const int64_t c = patch[a] / 2;
    g[a].resize(static_cast<size_t>(patch[a]));
    for (int64_t i = 0; i < patch[a]; ++i)
    {
      const double d = static_cast<double>(i - c);
      g[a][static_cast<size_t>(i)] = std::exp(-(d * d) / (2.0 * sigma * sigma));
    }
  }
  std::vector<double> m(static_cast<size_t>(voxelCount(patch)));
  size_t o = 0;
  double mx = 0.0;
  for (int64_t z = 0; z < patch[0]; ++z)
    for (int64_t y = 0; y < patch[1]; ++y)
    {
      const double zy = g[0][static_cast<size_t>(z)] * g[1][static_cast<size_t>(y)];
      for (int64_t x = 0; x < patch[2]; ++x, ++o)
      {
        m[o] = zy * g[2][static_cast<size_t>(x)];
        mx = std::max(mx, m[o]);
      }
    }
  std::vector<float> out(m.size());
  float minNonZero = std::numeric_limits<float>::max();
  for (size_t i = 0; i < m.size(); ++i)
  {
    out[i] = static_cast<float>(m[i] / mx);
    if (out[i] != 0.0f)
      minNonZero = std::min(minNonZero, out[i]);
  }
  for (float& v : out)
    if (v == 0.0f)
      v = minNonZero;
  return out;
}

int64_t mirrorVariants(const SlidingWindowOptions& options)
{
  int64_t n = 0;
  for (int m = 0; m < 8; ++m)
    if (variantAllowed(m, options))
      ++n;
  return n;
}

int64_t estimateForwardPasses(const Shape3& shape, const Shape3& patch,
                              const SlidingWindowOptions& options)
{
  return planWindows(shape, patch, options.stepSize).numWindows() * mirrorVariants(options);
}

void softmaxChannels(float* logits, int64_t numClasses, int64_t voxels)
{
  for (int64_t v = 0; v < voxels; ++v)
  {
    float mx = logits[v];
    for (int64_t k = 1; k < numClasses; ++k)
      mx = std::max(mx, logits[k * voxels + v]);
    float sum = 0.0f;
    for (int64_t k = 0; k < numClasses; ++k)
    {
      float& l = logits[k * voxels + v];
      l = std::exp(l - mx);
      sum += l;
    }
    for (int64_t k = 0; k < numClasses; ++k)
      logits[k * voxels + v] /= sum;
  }
}

std::vector<float> windowWeightSum(const WindowPlan& plan, const SlidingWindowOptions& options)
{
  const std::vector<float> w = windowWeights(plan, options);
  const Shape3& P = plan.paddedShape;
  const Shape3& p = plan.patch;
  std::vector<float> sum(static_cast<size_t>(voxelCount(P)), 0.0f);
  for (const Shape3& s : plan.windowStarts())
    for (int64_t z = 0; z < p[0]; ++z)
      for (int64_t y = 0; y < p[1]; ++y)
      {
        float* dst = sum.data() + ((s[0] + z) * P[1] + s[1] + y) * P[2] + s[2];
        const float* src = w.data() + (z * p[1] + y) * p[2];
        for (int64_t x = 0; x < p[2]; ++x)
          dst[x] += src[x];
      }
  const Shape3& S = plan.inputShape;
  std::vector<float> out(static_cast<size_t>(voxelCount(S)));
  for (int64_t z = 0; z < S[0]; ++z)
    for (int64_t y = 0; y < S[1]; ++y)
    {
      const float* src =
        sum.data() + ((z + plan.padBefore[0]) * P[1] + y + plan.padBefore[1]) * P[2] +
        plan.padBefore[2];
      std::copy(src, src + S[2], out.data() + (z * S[1] + y) * S[2]);
    }
  return out;
}

Prediction predictSlidingWindow(const float* input, int64_t inputChannels, const Shape3& shape,
                                const Shape3& patch, int64_t numClasses, const NetworkFn& network,
                                const SlidingWindowOptions& options)
{
  const auto t0 = std::chrono::steady_clock::now();
  if (inputChannels < 1 || numClasses < 1)
    throw Error("sliding window: need at least one input channel and one class");
  if (!network)
    throw Error("sliding window: no network given");
  const WindowPlan plan = planWindows(shape, patch, options.stepSize);
  const Shape3& P = plan.paddedShape;
  const int64_t C = inputChannels, K = numClasses;
  const int64_t patchVox = voxelCount(patch);
  const int64_t paddedVox = voxelCount(P);
  const int64_t inVox = voxelCount(shape);

  // Zero-padded input.
  std::vector<float> padded;
  const float* src = input;
  if (P != shape)
  {
    padded.assign(static_cast<size_t>(C * paddedVox), 0.0f);
    for (int64_t c = 0; c < C; ++c)
      for (int64_t z = 0; z < shape[0]; ++z)
        for (int64_t y = 0; y < shape[1]; ++y)
        {
          const float* from = input + c * inVox + (z * shape[1] + y) * shape[2];
          float* to = padded.data() + c * paddedVox +
                      ((z + plan.padBefore[0]) * P[1] + y + plan.padBefore[1]) * P[2] +
                      plan.padBefore[2];
          std::copy(from, from + shape[2], to);
        }
    src = padded.data();
  }

  const std::vector<float> weights = windowWeights(plan, options);
  const bool multiply = options.useGaussian && plan.numWindows() > 1;
  std::vector<int> variants;
  for (int m = 0; m < 8; ++m)
    if (variantAllowed(m, options))
      variants.push_back(m);
  const float variantWeight = 1.0f / static_cast<float>(variants.size());

  std::vector<float> sum(static_cast<size_t>(K * paddedVox), 0.0f);
  std::vector<float> weightSum(static_cast<size_t>(paddedVox), 0.0f);

  const std::vector<Shape3> starts = plan.windowStarts();
  const int64_t nv = static_cast<int64_t>(variants.size());
  const int64_t totalPasses = static_cast<int64_t>(starts.size()) * nv;
  const int64_t batch = std::max<int64_t>(1, options.maxBatch);

  std::vector<float> inBuf(static_cast<size_t>(batch * C * patchVox));
  std::vector<float> outBuf(static_cast<size_t>(batch * K * patchVox));
  std::vector<float> acc(static_cast<size_t>(K * patchVox), 0.0f);

  if (options.progress && !options.progress(0.0))
    throw Error("cancelled");

  for (int64_t first = 0; first < totalPasses; first += batch)
  {
    const int64_t count = std::min(batch, totalPasses - first);
    // Gather the (flipped) input patches of this batch.
    for (int64_t b = 0; b < count; ++b)
    {
      const int64_t item = first + b;
      const Shape3& s = starts[static_cast<size_t>(item / nv)];
      const int m = variants[static_cast<size_t>(item % nv)];
      const bool fx = m & 1, fy = m & 2, fz = m & 4;
      for (int64_t c = 0; c < C; ++c)
      {
        float* dst = inBuf.data() + (b * C + c) * patchVox;
        const float* vol = src + c * paddedVox;
        for (int64_t z = 0; z < patch[0]; ++z)
          for (int64_t y = 0; y < patch[1]; ++y)
          {
            const int64_t zz = s[0] + (fz ? patch[0] - 1 - z : z);
            const int64_t yy = s[1] + (fy ? patch[1] - 1 - y : y);
            const float* row = vol + (zz * P[1] + yy) * P[2] + s[2];
            float* out = dst + (z * patch[1] + y) * patch[2];
            if (fx)
              for (int64_t x = 0; x < patch[2]; ++x)
                out[x] = row[patch[2] - 1 - x];
            else
              std::copy(row, row + patch[2], out);
          }
      }
    }

    network(inBuf.data(), count, outBuf.data());

    for (int64_t b = 0; b < count; ++b)
    {
      const int64_t item = first + b;
      const int64_t w = item / nv;
      const int64_t vi = item % nv;
      const Shape3& s = starts[static_cast<size_t>(w)];
      const int m = variants[static_cast<size_t>(vi)];
      const bool fx = m & 1, fy = m & 2, fz = m & 4;
      float* logits = outBuf.data() + b * K * patchVox;
      for (int64_t i = 0; i < K * patchVox; ++i)
        if (!std::isfinite(logits[i]))
          throw Error("sliding window: the network produced a non-finite value");
      softmaxChannels(logits, K, patchVox);
      // Flip back and accumulate with weight 1/num_variants.
      for (int64_t k = 0; k < K; ++k)
      {
        const float* pk = logits + k * patchVox;
        float* ak = acc.data() + k * patchVox;
        for (int64_t z = 0; z < patch[0]; ++z)
          for (int64_t y = 0; y < patch[1]; ++y)
          {
            const int64_t zz = fz ? patch[0] - 1 - z : z;
            const int64_t yy = fy ? patch[1] - 1 - y : y;
            const float* row = pk + (zz * patch[1] + yy) * patch[2];
            float* out = ak + (z * patch[1] + y) * patch[2];
            if (fx)
              for (int64_t x = 0; x < patch[2]; ++x)
                out[x] += variantWeight * row[patch[2] - 1 - x];
            else
              for (int64_t x = 0; x < patch[2]; ++x)
                out[x] += variantWeight * row[x];
          }
      }
      if (vi != nv - 1)
        continue;

      // Window complete: weight it and add it to the global sums.
      if (multiply)
        for (int64_t k = 0; k < K; ++k)
        {
          float* ak = acc.data() + k * patchVox;
          for (int64_t i = 0; i < patchVox; ++i)
            ak[i] *= weights[static_cast<size_t>(i)];
        }
      for (int64_t z = 0; z < patch[0]; ++z)
        for (int64_t y = 0; y < patch[1]; ++y)
        {
          const int64_t off = ((s[0] + z) * P[1] + s[1] + y) * P[2] + s[2];
          const int64_t poff = (z * patch[1] + y) * patch[2];
          for (int64_t k = 0; k < K; ++k)
          {
            float* dst = sum.data() + k * paddedVox + off;
            const float* a = acc.data() + k * patchVox + poff;
            for (int64_t x = 0; x < patch[2]; ++x)
              dst[x] += a[x];
          }
          float* wd = weightSum.data() + off;
          const float* ws = weights.data() + poff;
          for (int64_t x = 0; x < patch[2]; ++x)
            wd[x] += ws[x];
        }
      std::fill(acc.begin(), acc.end(), 0.0f);
    }

    if (options.progress &&
        !options.progress(static_cast<double>(first + count) / static_cast<double>(totalPasses)))
      throw Error("cancelled");
  }

  Prediction pred;
  pred.numClasses = K;
  pred.shape = shape;
  pred.plan = plan;
  pred.forwardPasses = totalPasses;
  pred.probabilities.resize(static_cast<size_t>(K * inVox));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t z = 0; z < shape[0]; ++z)
      for (int64_t y = 0; y < shape[1]; ++y)
      {
        const int64_t off =
          ((z + plan.padBefore[0]) * P[1] + y + plan.padBefore[1]) * P[2] + plan.padBefore[2];
        const float* sk = sum.data() + k * paddedVox + off;
        const float* wk = weightSum.data() + off;
        float* dst = pred.probabilities.data() + k * inVox + (z * shape[1] + y) * shape[2];
        for (int64_t x = 0; x < shape[2]; ++x)
          dst[x] = sk[x] / wk[x];
      }
  pred.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return pred;
}

} // namespace panseg::nnunet
