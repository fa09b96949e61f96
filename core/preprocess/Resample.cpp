#include "core/preprocess/Resample.h"

#include "core/Error.h"
#include "core/Parallel.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <set>
#include <string>

namespace panseg::nnunet
{
namespace
{
constexpr int64_t kSplinePad = 12; // scipy's edge padding before the spline prefilter

std::string shapeText(const Shape3& s)
{
  return std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" + std::to_string(s[2]);
}

void checkShape(const Shape3& s, const char* what)
{
  if (s[0] <= 0 || s[1] <= 0 || s[2] <= 0)
    throw Error(std::string("resampling: ") + what + " shape " + shapeText(s) +
                " has an empty axis");
}

/// Interpolation taps of every output sample along one axis.
struct AxisTaps
{
  int taps = 0;
  std::vector<int64_t> index; // taps per output sample, row indices in the (padded) line
  std::vector<double> weight; // same layout
};

AxisTaps makeTaps(int64_t nIn, int64_t nOut, int order)
{
  AxisTaps t;
  t.taps = order == 3 ? 4 : (order == 1 ? 2 : 1);
  t.index.resize(static_cast<size_t>(nOut * t.taps));
  t.weight.resize(static_cast<size_t>(nOut * t.taps));
  const double zoom = static_cast<double>(nIn) / static_cast<double>(nOut);
  const double last = static_cast<double>(nIn - 1);
  for (int64_t k = 0; k < nOut; ++k)
  {
    double c = (static_cast<double>(k) + 0.5) * zoom - 0.5;
    int64_t* idx = &t.index[static_cast<size_t>(k * t.taps)];
    double* w = &t.weight[static_cast<size_t>(k * t.taps)];
    if (order == 3)
    {
      // Padded line of nIn + 24 samples: the coordinate stays inside [11.5, nIn + 11.5], so the
      // four taps floor(c) - 1 .. floor(c) + 2 are always in range.
      c += static_cast<double>(kSplinePad);
      const double f = std::floor(c);
      const double u = c - f;
      const int64_t i = static_cast<int64_t>(f);
      const double u2 = u * u;
      const double u3 = u2 * u;
      const double v = 1.0 - u;
      w[0] = v * v * v / 6.0;
      w[1] = (4.0 - 6.0 * u2 + 3.0 * u3) / 6.0;
      w[2] = (1.0 + 3.0 * u + 3.0 * u2 - 3.0 * u3) / 6.0;
      w[3] = u3 / 6.0;
      for (int j = 0; j < 4; ++j)
        idx[j] = i - 1 + j;
    }
    else if (order == 1)
    {
      // scipy clamps the sample indices, not the coordinate (mode 'nearest'): at c = -0.25 it
      // adds 0.25 x[0] + 0.75 x[0]. Same value in real arithmetic, not always in float64.
      const double f = std::floor(c);
      const int64_t i = static_cast<int64_t>(f);
      const double u = c - f;
      idx[0] = std::min(std::max<int64_t>(i, 0), nIn - 1);
      idx[1] = std::min(std::max<int64_t>(i + 1, 0), nIn - 1);
      w[0] = 1.0 - u;
      w[1] = u;
    }
    else
    {
      c = std::min(std::max(c, 0.0), last);
      idx[0] = std::min(static_cast<int64_t>(std::floor(c + 0.5)), nIn - 1);
      w[0] = 1.0;
    }
  }
  return t;
}

/// Powers z^k, k = 0 .. 2n - 2, of the cubic B-spline pole (0 once below 1e-300).
std::vector<double> polePowers(int64_t n)
{
  const double z = std::sqrt(3.0) - 2.0;
  const int64_t period = 2 * n - 2;
  std::vector<double> zp(static_cast<size_t>(period + 1));
  zp[0] = 1.0;
  for (int64_t k = 1; k <= period; ++k)
    zp[static_cast<size_t>(k)] = std::abs(zp[static_cast<size_t>(k - 1)]) < 1e-300
                                   ? 0.0
                                   : zp[static_cast<size_t>(k - 1)] * z;
  return zp;
}

/// Cubic B-spline prefilter along the rows of a [n][width] block (columns independent), with
/// mirror-symmetric boundary conditions. n >= 2; zp = polePowers(n); acc has `width` entries.
void splinePrefilter(double* buf, int64_t n, int64_t width, const std::vector<double>& zp,
                     double* acc)
{
  const double z = std::sqrt(3.0) - 2.0;
  const double gain = (1.0 - z) * (1.0 - 1.0 / z);
  const int64_t total = n * width;
  for (int64_t i = 0; i < total; ++i)
    buf[i] *= gain;

  // Causal initial value for the mirror extension (period 2n - 2):
  // c+[0] = (sum_{k=0}^{n-1} z^k x[k] + sum_{k=1}^{n-2} z^(2n-2-k) x[k]) / (1 - z^(2n-2)).
  const int64_t period = 2 * n - 2;
  std::fill(acc, acc + width, 0.0);
  for (int64_t k = 0; k < n; ++k)
  {
    const double f = zp[static_cast<size_t>(k)];
    if (f == 0.0)
      break;
    const double* row = buf + k * width;
    for (int64_t j = 0; j < width; ++j)
      acc[j] += f * row[j];
  }
  for (int64_t k = n - 2; k >= 1; --k)
  {
    const double f = zp[static_cast<size_t>(period - k)];
    if (f == 0.0)
      break;
    const double* row = buf + k * width;
    for (int64_t j = 0; j < width; ++j)
      acc[j] += f * row[j];
  }
  const double norm = 1.0 - zp[static_cast<size_t>(period)];
  for (int64_t j = 0; j < width; ++j)
    buf[j] = acc[j] / norm;

  for (int64_t k = 1; k < n; ++k)
  {
    double* row = buf + k * width;
    const double* prev = row - width;
    for (int64_t j = 0; j < width; ++j)
      row[j] += z * prev[j];
  }

  // Anticausal initial value: c-[n-1] = z / (z^2 - 1) * (c+[n-1] + z c+[n-2]).
  {
    double* row = buf + (n - 1) * width;
    const double* prev = row - width;
    const double f = z / (z * z - 1.0);
    for (int64_t j = 0; j < width; ++j)
      row[j] = f * (row[j] + z * prev[j]);
  }
  for (int64_t k = n - 2; k >= 0; --k)
  {
    double* row = buf + k * width;
    const double* next = row + width;
    for (int64_t j = 0; j < width; ++j)
      row[j] = z * (next[j] - row[j]);
  }
}

/// Scratch memory reused across calls by one thread (fresh allocations are first-touched page
/// by page, which costs more than the arithmetic for slice-sized arrays).
struct Workspace
{
  std::vector<double> ping, pong;          // intermediate arrays between axes
  std::vector<double> buf, obuf, acc, zp;  // line blocks of resampleAxis (single-threaded use)
  std::vector<double> slice, result;       // per-slice input and output
  std::vector<double> mask;                // per-label masks of resampleSegmentation
  std::vector<int8_t> labels, labelResult; // label slices
};

/// Resamples axis `axis` of a C-ordered array from shape[axis] to nOut samples with `order`
/// (no clipping), writing [.., nOut, ..] to `out`. The array is seen as outer x inner lines of
/// shape[axis] samples; blocks of up to 64 lines are gathered side by side into a
/// [samples][lines] buffer (a transpose when the axis is the fastest one), filtered and
/// evaluated with the lines as the vectorised dimension, and scattered back. Parallel over
/// blocks; per-element arithmetic does not depend on the blocking.
void resampleAxis(const double* in, const Shape3& shape, int axis, int64_t nOut, int order,
                  int threads, double* out, Workspace& ws)
{
  int64_t outer = 1, inner = 1;
  for (int a = 0; a < axis; ++a)
    outer *= shape[a];
  for (int a = axis + 1; a < 3; ++a)
    inner *= shape[a];
  const int64_t n = shape[axis];
  const AxisTaps taps = makeTaps(n, nOut, order);
  const int64_t pad = order == 3 ? kSplinePad : 0;
  const int64_t np = n + 2 * pad;
  if (order == 3)
    ws.zp = polePowers(np);

  constexpr int64_t kBlock = 64;
  const int64_t lines = outer * inner;
  const int64_t blocks = (lines + kBlock - 1) / kBlock;
  // Keep thread overhead away from small jobs.
  const int useThreads = (lines * n < 65536) ? 1 : detail::resolveThreads(threads);

  auto run = [&](int64_t begin, int64_t end, std::vector<double>& buf, std::vector<double>& obuf,
                 std::vector<double>& acc) {
    buf.resize(static_cast<size_t>(np * kBlock));
    obuf.resize(static_cast<size_t>(nOut * kBlock));
    acc.resize(static_cast<size_t>(kBlock));
    int64_t baseIn[kBlock], baseOut[kBlock];
    for (int64_t b = begin; b < end; ++b)
    {
      const int64_t first = b * kBlock;
      const int64_t width = std::min(kBlock, lines - first);
      for (int64_t l = 0; l < width; ++l)
      {
        const int64_t o = (first + l) / inner, j = (first + l) % inner;
        baseIn[l] = o * n * inner + j;
        baseOut[l] = o * nOut * inner + j;
      }
      for (int64_t p = 0; p < np; ++p)
      {
        const int64_t s = std::min(std::max<int64_t>(p - pad, 0), n - 1) * inner;
        double* row = buf.data() + p * width;
        for (int64_t l = 0; l < width; ++l)
          row[l] = in[baseIn[l] + s];
      }
      if (order == 3)
        splinePrefilter(buf.data(), np, width, ws.zp, acc.data());
      for (int64_t k = 0; k < nOut; ++k)
      {
        const int64_t* idx = &taps.index[static_cast<size_t>(k * taps.taps)];
        const double* w = &taps.weight[static_cast<size_t>(k * taps.taps)];
        double* d = obuf.data() + k * width;
        if (taps.taps == 4)
        {
          const double* r0 = buf.data() + idx[0] * width;
          const double* r1 = buf.data() + idx[1] * width;
          const double* r2 = buf.data() + idx[2] * width;
          const double* r3 = buf.data() + idx[3] * width;
          for (int64_t l = 0; l < width; ++l)
            d[l] = w[0] * r0[l] + w[1] * r1[l] + w[2] * r2[l] + w[3] * r3[l];
        }
        else if (taps.taps == 2)
        {
          const double* r0 = buf.data() + idx[0] * width;
          const double* r1 = buf.data() + idx[1] * width;
          for (int64_t l = 0; l < width; ++l)
            d[l] = w[0] * r0[l] + w[1] * r1[l];
        }
        else
        {
          const double* r0 = buf.data() + idx[0] * width;
          std::copy(r0, r0 + width, d);
        }
      }
      for (int64_t k = 0; k < nOut; ++k)
      {
        const double* d = obuf.data() + k * width;
        const int64_t off = k * inner;
        for (int64_t l = 0; l < width; ++l)
          out[baseOut[l] + off] = d[l];
      }
    }
  };

  if (useThreads <= 1 || blocks < 2)
  {
    run(0, blocks, ws.buf, ws.obuf, ws.acc);
    return;
  }
  detail::parallelFor(blocks, useThreads, [&](int64_t begin, int64_t end) {
    std::vector<double> buf, obuf, acc;
    run(begin, end, buf, obuf, acc);
  });
}

/// Order-1 resize as scipy evaluates it: for every output sample, the sum over the 2^r corners
/// (r = number of resampled axes; the last axis varies fastest) of
/// ((value * w_z) * w_y) * w_x, accumulated from 0.0 in that order. Reproducing this order (rather
/// than resampling one axis after the other) makes the float32-cast results bit-identical to
/// scipy's in practice. Axes that keep their size contribute no factor (scipy's weights there are
/// exactly 1 and 0).
template <bool CZ, bool CY, bool CX>
void linearTensorKernel(const double* in, const Shape3& inShape, const Shape3& outShape,
                        const std::array<AxisTaps, 3>& taps, double* out, int64_t zBegin,
                        int64_t zEnd)
{
  const int64_t H = inShape[1], W = inShape[2];
  constexpr int nz = CZ ? 2 : 1, ny = CY ? 2 : 1;
  for (int64_t z = zBegin; z < zEnd; ++z)
  {
    int64_t iz[2] = { z, z };
    double wz[2] = { 1.0, 0.0 };
    if (CZ)
      for (int j = 0; j < 2; ++j)
      {
        iz[j] = taps[0].index[static_cast<size_t>(2 * z + j)];
        wz[j] = taps[0].weight[static_cast<size_t>(2 * z + j)];
      }
    for (int64_t y = 0; y < outShape[1]; ++y)
    {
      int64_t iy[2] = { y, y };
      double wy[2] = { 1.0, 0.0 };
      if (CY)
        for (int j = 0; j < 2; ++j)
        {
          iy[j] = taps[1].index[static_cast<size_t>(2 * y + j)];
          wy[j] = taps[1].weight[static_cast<size_t>(2 * y + j)];
        }
      const double* rows[4];
      for (int p = 0; p < nz; ++p)
        for (int q = 0; q < ny; ++q)
          rows[p * ny + q] = in + (iz[p] * H + iy[q]) * W;
      double* dst = out + (z * outShape[1] + y) * outShape[2];
      const int64_t* tx = CX ? taps[2].index.data() : nullptr;
      const double* wxs = CX ? taps[2].weight.data() : nullptr;
      for (int64_t x = 0; x < outShape[2]; ++x)
      {
        double t = 0.0;
        for (int p = 0; p < nz; ++p)
          for (int q = 0; q < ny; ++q)
          {
            const double* row = rows[p * ny + q];
            if (CX)
            {
              for (int r = 0; r < 2; ++r)
              {
                double v = row[tx[2 * x + r]];
                if (CZ)
                  v *= wz[p];
                if (CY)
                  v *= wy[q];
                v *= wxs[2 * x + r];
                t += v;
              }
            }
            else
            {
              double v = row[x];
              if (CZ)
                v *= wz[p];
              if (CY)
                v *= wy[q];
              t += v;
            }
          }
        dst[x] = t;
      }
    }
  }
}

void resizeLinearTensor(const double* in, const Shape3& inShape, const Shape3& outShape,
                        int threads, double* out)
{
  std::array<AxisTaps, 3> taps;
  int pattern = 0;
  for (int a = 0; a < 3; ++a)
    if (inShape[a] != outShape[a])
    {
      taps[a] = makeTaps(inShape[a], outShape[a], 1);
      pattern |= 4 >> a; // 4 = z, 2 = y, 1 = x
    }
  const int useThreads = voxelCount(outShape) < 65536 ? 1 : threads;
  detail::parallelFor(outShape[0], useThreads, [&](int64_t begin, int64_t end) {
    const double* src = in;
    double* dst = out;
    switch (pattern)
    {
    case 0:
      linearTensorKernel<false, false, false>(src, inShape, outShape, taps, dst, begin, end);
      break;
    case 1:
      linearTensorKernel<false, false, true>(src, inShape, outShape, taps, dst, begin, end);
      break;
    case 2:
      linearTensorKernel<false, true, false>(src, inShape, outShape, taps, dst, begin, end);
      break;
    case 3:
      linearTensorKernel<false, true, true>(src, inShape, outShape, taps, dst, begin, end);
      break;
    case 4:
      linearTensorKernel<true, false, false>(src, inShape, outShape, taps, dst, begin, end);
      break;
    case 5:
      linearTensorKernel<true, false, true>(src, inShape, outShape, taps, dst, begin, end);
      break;
    case 6:
      linearTensorKernel<true, true, false>(src, inShape, outShape, taps, dst, begin, end);
      break;
    default:
      linearTensorKernel<true, true, true>(src, inShape, outShape, taps, dst, begin, end);
      break;
    }
  });
}

/// skimage resize (see resizeArray) of `in` into `out` (resized), using `ws` for scratch.
void resizeInto(const double* in, const Shape3& inShape, const Shape3& outShape, int order,
                int threads, std::vector<double>& out, Workspace& ws)
{
  const int64_t nIn = voxelCount(inShape);
  out.resize(static_cast<size_t>(voxelCount(outShape)));
  if (order == 1)
    resizeLinearTensor(in, inShape, outShape, threads, out.data());
  else
  {
    // Order 3 (and 0) one axis at a time: the prefilter is separable anyway, and evaluating the
    // 4^3 tensor product directly would cost 16 times more for a difference of float64 rounding
    // (bit-identical float32 results on both fixture cases as it is).
    int remaining = 0;
    for (int a = 0; a < 3; ++a)
      remaining += inShape[a] != outShape[a];
    const double* src = in;
    Shape3 shape = inShape;
    bool usePing = true;
    for (int a = 0; a < 3; ++a)
    {
      if (shape[a] == outShape[a])
        continue;
      Shape3 next = shape;
      next[a] = outShape[a];
      double* dst = nullptr;
      if (--remaining == 0)
        dst = out.data();
      else
      {
        std::vector<double>& tmp = usePing ? ws.ping : ws.pong;
        usePing = !usePing;
        tmp.resize(static_cast<size_t>(voxelCount(next)));
        dst = tmp.data();
      }
      resampleAxis(src, shape, a, outShape[a], order, threads, dst, ws);
      src = dst;
      shape = next;
    }
    if (src == in)
      std::copy(in, in + nIn, out.begin());
  }
  if (order != 0 && nIn > 0)
  {
    const auto [mnIt, mxIt] = std::minmax_element(in, in + nIn);
    const double mn = *mnIt, mx = *mxIt;
    for (double& v : out)
      v = std::min(std::max(v, mn), mx);
  }
}

/// Copies slice `s` across `axis` out of a 3-D array into a 3-D array whose `axis` has size 1.
template <typename Out, typename In>
void extractSlice(const In* in, const Shape3& shape, int axis, int64_t s, std::vector<Out>& out)
{
  Shape3 ss = shape;
  ss[axis] = 1;
  out.resize(static_cast<size_t>(voxelCount(ss)));
  size_t o = 0;
  for (int64_t z = 0; z < ss[0]; ++z)
    for (int64_t y = 0; y < ss[1]; ++y)
    {
      const int64_t zz = axis == 0 ? s : z;
      const int64_t yy = axis == 1 ? s : y;
      const In* row = in + (zz * shape[1] + yy) * shape[2];
      if (axis == 2)
        out[o++] = static_cast<Out>(row[s]);
      else
        for (int64_t x = 0; x < ss[2]; ++x)
          out[o++] = static_cast<Out>(row[x]);
    }
}

template <typename T, typename S>
void insertSlice(T* out, const Shape3& shape, int axis, int64_t s, const std::vector<S>& slice)
{
  Shape3 ss = shape;
  ss[axis] = 1;
  size_t o = 0;
  for (int64_t z = 0; z < ss[0]; ++z)
    for (int64_t y = 0; y < ss[1]; ++y)
    {
      const int64_t zz = axis == 0 ? s : z;
      const int64_t yy = axis == 1 ? s : y;
      T* row = out + (zz * shape[1] + yy) * shape[2];
      if (axis == 2)
        row[s] = static_cast<T>(slice[o++]);
      else
        for (int64_t x = 0; x < ss[2]; ++x)
          row[x] = static_cast<T>(slice[o++]);
    }
}

/// Picks source slices along `axis` (nearest neighbour, scipy map_coordinates order 0).
template <typename T>
std::vector<T> nearestAlongAxis(const std::vector<T>& in, const Shape3& shape, int axis,
                                int64_t nOut)
{
  const std::vector<int64_t> src = nearestSourceIndices(shape[axis], nOut);
  Shape3 os = shape;
  os[axis] = nOut;
  std::vector<T> out(static_cast<size_t>(voxelCount(os)));
  for (int64_t z = 0; z < os[0]; ++z)
    for (int64_t y = 0; y < os[1]; ++y)
      for (int64_t x = 0; x < os[2]; ++x)
      {
        Shape3 p{ z, y, x };
        p[axis] = src[static_cast<size_t>(p[axis])];
        out[static_cast<size_t>((z * os[1] + y) * os[2] + x)] =
          in[static_cast<size_t>((p[0] * shape[1] + p[1]) * shape[2] + p[2])];
      }
  return out;
}

void checkOrder(int order)
{
  if (order != 0 && order != 1 && order != 3)
    throw Error("resampling: interpolation order " + std::to_string(order) +
                " is not supported (0, 1 or 3)");
}

void checkSeparateZ(const SeparateZ& sep)
{
  if (sep.enabled && (sep.axis < 0 || sep.axis > 2))
    throw Error("resampling: separate-z axis " + std::to_string(sep.axis) + " is not 0, 1 or 2");
}

/// resample_data_or_seg (is_seg False) for one channel: float64 inside, Out written to dst.
template <typename Out>
void resampleChannelInto(const float* src, const Shape3& inShape, const Shape3& outShape,
                         int order, const SeparateZ& sep, int orderZ, int threads, Out* dst)
{
  const int64_t nIn = voxelCount(inShape), nOut = voxelCount(outShape);
  if (inShape == outShape)
  {
    std::copy(src, src + nIn, dst);
    return;
  }
  Workspace ws;
  if (!sep.enabled)
  {
    std::vector<double> r;
    {
      const std::vector<double> d(src, src + nIn);
      resizeInto(d.data(), inShape, outShape, order, threads, r, ws);
    }
    for (int64_t i = 0; i < nOut; ++i)
      dst[i] = static_cast<Out>(r[static_cast<size_t>(i)]);
    return;
  }

  const int a = sep.axis;
  Shape3 sliceIn = inShape, sliceOut = outShape;
  sliceIn[a] = 1;
  sliceOut[a] = 1;
  if (orderZ == 0 || inShape[a] == outShape[a])
  {
    // Nearest neighbour across slices only copies values, so it commutes with the float32
    // cast: resize just the source slices that are used and write each straight to its
    // output slice(s). No full-size float64 intermediate.
    std::vector<int64_t> source(static_cast<size_t>(outShape[a]));
    if (inShape[a] == outShape[a])
      for (int64_t k = 0; k < outShape[a]; ++k)
        source[static_cast<size_t>(k)] = k;
    else
      source = nearestSourceIndices(inShape[a], outShape[a]);
    std::vector<std::vector<int64_t>> users(static_cast<size_t>(inShape[a]));
    for (int64_t k = 0; k < outShape[a]; ++k)
      users[static_cast<size_t>(source[static_cast<size_t>(k)])].push_back(k);
    std::vector<int64_t> needed;
    for (int64_t s = 0; s < inShape[a]; ++s)
      if (!users[static_cast<size_t>(s)].empty())
        needed.push_back(s);
    detail::parallelFor(static_cast<int64_t>(needed.size()), threads,
                        [&](int64_t begin, int64_t end) {
                          Workspace local;
                          for (int64_t i = begin; i < end; ++i)
                          {
                            const int64_t s = needed[static_cast<size_t>(i)];
                            extractSlice(src, inShape, a, s, local.slice);
                            resizeInto(local.slice.data(), sliceIn, sliceOut, order, 1,
                                       local.result, local);
                            for (const int64_t k : users[static_cast<size_t>(s)])
                              insertSlice(dst, outShape, a, k, local.result);
                          }
                        });
    return;
  }

  // Linear along the separate axis (map_coordinates order 1, no clipping) on the float64 stack.
  Shape3 mid = outShape;
  mid[a] = inShape[a];
  std::vector<double> midData(static_cast<size_t>(voxelCount(mid)));
  detail::parallelFor(inShape[a], threads, [&](int64_t begin, int64_t end) {
    Workspace local;
    for (int64_t s = begin; s < end; ++s)
    {
      extractSlice(src, inShape, a, s, local.slice);
      resizeInto(local.slice.data(), sliceIn, sliceOut, order, 1, local.result, local);
      insertSlice(midData.data(), mid, a, s, local.result);
    }
  });
  std::vector<double> r(static_cast<size_t>(nOut));
  resizeLinearTensor(midData.data(), mid, outShape, threads, r.data());
  for (int64_t i = 0; i < nOut; ++i)
    dst[i] = static_cast<Out>(r[static_cast<size_t>(i)]);
}
} // namespace

Shape3 resampledShape(const Shape3& shape, const Spacing3& from, const Spacing3& to)
{
  const auto raw = resampledShapeUnrounded(shape, from, to);
  Shape3 out{};
  for (int a = 0; a < 3; ++a)
  {
    // std::nearbyint in the default rounding mode = round half to even, like numpy.round.
    out[a] = static_cast<int64_t>(std::nearbyint(raw[a]));
    if (out[a] < 1)
      throw Error("resampling: the target spacing would leave no voxel along axis " +
                  std::to_string(a));
  }
  return out;
}

std::array<double, 3> resampledShapeUnrounded(const Shape3& shape, const Spacing3& from,
                                              const Spacing3& to)
{
  std::array<double, 3> out{};
  for (int a = 0; a < 3; ++a)
  {
    if (!(from[a] > 0) || !(to[a] > 0) || !std::isfinite(from[a]) || !std::isfinite(to[a]))
      throw Error("resampling: spacings must be positive (axis " + std::to_string(a) + ": " +
                  std::to_string(from[a]) + " -> " + std::to_string(to[a]) + " mm)");
    out[a] = (from[a] / to[a]) * static_cast<double>(shape[a]);
  }
  return out;
}

bool isAnisotropic(const Spacing3& s, double threshold)
{
  const double mx = std::max({ s[0], s[1], s[2] });
  const double mn = std::min({ s[0], s[1], s[2] });
  return (mx / mn) > threshold;
}

std::vector<int> lowResolutionAxes(const Spacing3& s)
{
  const double mx = std::max({ s[0], s[1], s[2] });
  std::vector<int> axes;
  for (int a = 0; a < 3; ++a)
    if (mx / s[a] == 1.0)
      axes.push_back(a);
  return axes;
}

SeparateZ decideSeparateZ(const Spacing3& first, const Spacing3& second, double threshold)
{
  std::vector<int> axes;
  if (isAnisotropic(first, threshold))
    axes = lowResolutionAxes(first);
  else if (isAnisotropic(second, threshold))
    axes = lowResolutionAxes(second);
  SeparateZ r;
  if (axes.size() == 1)
  {
    r.enabled = true;
    r.axis = axes[0];
  }
  return r;
}

std::vector<int64_t> nearestSourceIndices(int64_t nIn, int64_t nOut)
{
  if (nIn <= 0 || nOut <= 0)
    throw Error("resampling: nearest neighbour needs non-empty axes");
  const double scale = static_cast<double>(nIn) / static_cast<double>(nOut);
  std::vector<int64_t> src(static_cast<size_t>(nOut));
  for (int64_t k = 0; k < nOut; ++k)
  {
    const double c = scale * (static_cast<double>(k) + 0.5) - 0.5;
    const double s = std::floor(c + 0.5);
    src[static_cast<size_t>(k)] =
      std::min<int64_t>(std::max<int64_t>(static_cast<int64_t>(s), 0), nIn - 1);
  }
  return src;
}

std::vector<double> resizeArray(const std::vector<double>& in, const Shape3& inShape,
                                const Shape3& outShape, int order, int threads)
{
  checkShape(inShape, "input");
  checkShape(outShape, "output");
  checkOrder(order);
  if (static_cast<int64_t>(in.size()) != voxelCount(inShape))
    throw Error("resampling: the array has " + std::to_string(in.size()) +
                " values but its shape " + shapeText(inShape) + " needs " +
                std::to_string(voxelCount(inShape)));
  Workspace ws;
  std::vector<double> out;
  resizeInto(in.data(), inShape, outShape, order, threads, out, ws);
  return out;
}

std::vector<float> resampleData(const float* in, const Shape3& inShape, const Shape3& outShape,
                                int order, const SeparateZ& sep, int orderZ, int threads)
{
  return resampleChannels(in, 1, inShape, outShape, order, sep, orderZ, threads);
}

namespace
{
/// resampleChannels into an output of element type T (float, or double for nnU-Net v2's export).
template <typename T>
std::vector<T> resampleChannelsAs(const float* in, int64_t channels, const Shape3& inShape, const Shape3& outShape,
                                  int order, const SeparateZ& sep, int orderZ, int threads)
{
  checkShape(inShape, "input");
  checkShape(outShape, "output");
  checkOrder(order);
  checkSeparateZ(sep);
  if (orderZ != 0 && orderZ != 1)
    throw Error("resampling: order along the separate axis must be 0 or 1, not " +
                std::to_string(orderZ));
  const int64_t nIn = voxelCount(inShape), nOut = voxelCount(outShape);
  std::vector<T> out(static_cast<size_t>(channels * nOut));
  for (int64_t c = 0; c < channels; ++c)
    resampleChannelInto(in + c * nIn, inShape, outShape, order, sep, orderZ, threads,
                        out.data() + c * nOut);
  return out;
}
} // namespace

std::vector<float> resampleChannels(const float* in, int64_t channels, const Shape3& inShape,
                                    const Shape3& outShape, int order, const SeparateZ& sep,
                                    int orderZ, int threads)
{
  return resampleChannelsAs<float>(in, channels, inShape, outShape, order, sep, orderZ, threads);
}

std::vector<double> resampleChannelsF64(const float* in, int64_t channels, const Shape3& inShape,
                                        const Shape3& outShape, int order, const SeparateZ& sep,
                                        int orderZ, int threads)
{
  return resampleChannelsAs<double>(in, channels, inShape, outShape, order, sep, orderZ, threads);
}

std::vector<int8_t> resampleSegmentation(const int8_t* in, const Shape3& inShape,
                                         const Shape3& outShape, int order, const SeparateZ& sep,
                                         int threads)
{
  checkShape(inShape, "input");
  checkShape(outShape, "output");
  checkOrder(order);
  checkSeparateZ(sep);
  const int64_t nIn = voxelCount(inShape);
  if (inShape == outShape)
    return std::vector<int8_t>(in, in + nIn);
  const std::set<int8_t> labels(in, in + nIn);

  // Resizes one label map (3-D, or one slice with a singleton axis) like resize_segmentation,
  // writing ws.labelResult.
  auto resizeLabels = [&](const std::vector<int8_t>& lab, const Shape3& si, const Shape3& so,
                          int th, Workspace& ws) {
    ws.labelResult.assign(static_cast<size_t>(voxelCount(so)), 0);
    ws.mask.resize(lab.size());
    for (const int8_t l : labels)
    {
      bool any = false;
      for (size_t i = 0; i < lab.size(); ++i)
      {
        ws.mask[i] = lab[i] == l ? 1.0 : 0.0;
        any = any || lab[i] == l;
      }
      if (!any)
        continue; // an all-zero mask resizes to all zeros: it assigns nothing
      resizeInto(ws.mask.data(), si, so, order, th, ws.result, ws);
      for (size_t i = 0; i < ws.result.size(); ++i)
        if (ws.result[i] >= 0.5)
          ws.labelResult[i] = l;
    }
  };

  if (!sep.enabled)
  {
    Workspace ws;
    resizeLabels(std::vector<int8_t>(in, in + nIn), inShape, outShape, threads, ws);
    return ws.labelResult;
  }

  const int a = sep.axis;
  Shape3 mid = outShape;
  mid[a] = inShape[a];
  Shape3 sliceIn = inShape, sliceOut = outShape;
  sliceIn[a] = 1;
  sliceOut[a] = 1;
  std::vector<int8_t> midData(static_cast<size_t>(voxelCount(mid)));
  detail::parallelFor(inShape[a], threads, [&](int64_t begin, int64_t end) {
    Workspace ws;
    for (int64_t s = begin; s < end; ++s)
    {
      extractSlice(in, inShape, a, s, ws.labels);
      resizeLabels(ws.labels, sliceIn, sliceOut, 1, ws);
      insertSlice(midData.data(), mid, a, s, ws.labelResult);
    }
  });
  if (inShape[a] == outShape[a])
    return midData;
  return nearestAlongAxis(midData, mid, a, outShape[a]);
}

} // namespace panseg::nnunet
