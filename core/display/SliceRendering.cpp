#include "core/display/SliceRendering.h"

#include <algorithm>
#include <cmath>

namespace panseg
{
namespace
{
template <typename T>
SliceBuffer<T> extract(const Volume<T>& volume, const SliceMapper& m, int slice)
{
  SliceBuffer<T> out;
  if (volume.geometry.isEmpty() || volume.voxels.empty())
    return out;
  out.width = m.width();
  out.height = m.height();
  out.pixelWidthMm = m.pixelWidthMm();
  out.pixelHeightMm = m.pixelHeightMm();
  out.pixels.resize(static_cast<size_t>(out.width) * static_cast<size_t>(out.height));

  const Size3& n = volume.geometry.size;
  const std::array<int64_t, 3> stride{1, n[0], n[0] * n[1]};
  const int64_t s = std::clamp<int64_t>(slice, 0, n[m.sliceAxis()] - 1);
  // Offset of the top-left pixel, then signed steps to the right and down.
  const int64_t firstColumn = m.columnFlipped() ? out.width - 1 : 0;
  const int64_t firstRow = m.rowFlipped() ? out.height - 1 : 0;
  const int64_t base = s * stride[m.sliceAxis()] + firstColumn * stride[m.columnAxis()] +
                       firstRow * stride[m.rowAxis()];
  const int64_t stepColumn = (m.columnFlipped() ? -1 : 1) * stride[m.columnAxis()];
  const int64_t stepRow = (m.rowFlipped() ? -1 : 1) * stride[m.rowAxis()];

  T* dst = out.pixels.data();
  for (int r = 0; r < out.height; ++r)
  {
    int64_t o = base + r * stepRow;
    for (int c = 0; c < out.width; ++c, o += stepColumn)
      *dst++ = volume.voxels[static_cast<size_t>(o)];
  }
  return out;
}

inline uint32_t blend(uint32_t argb, Rgb c, double alpha)
{
  const double a = std::clamp(alpha, 0.0, 1.0);
  auto mix = [a](uint32_t under, uint8_t over)
  { return static_cast<uint32_t>(std::lround(under * (1.0 - a) + over * a)); };
  const uint32_t r = mix((argb >> 16) & 0xFF, c.r);
  const uint32_t g = mix((argb >> 8) & 0xFF, c.g);
  const uint32_t b = mix(argb & 0xFF, c.b);
  return 0xFF000000u | (r << 16) | (g << 8) | b;
}
} // namespace

SliceBuffer<float> extractSlice(const Volume<float>& volume, const SliceMapper& mapper, int slice)
{
  return extract(volume, mapper, slice);
}

SliceBuffer<uint8_t> extractSlice(const Volume<uint8_t>& volume, const SliceMapper& mapper,
                                  int slice)
{
  return extract(volume, mapper, slice);
}

bool isOutlinePixel(const uint8_t* labels, int width, int height, int x, int y)
{
  const uint8_t v = labels[static_cast<size_t>(y) * width + x];
  if (v == 0)
    return false;
  if (x == 0 || y == 0 || x == width - 1 || y == height - 1)
    return true;
  const uint8_t* p = labels + static_cast<size_t>(y) * width + x;
  return p[-1] != v || p[1] != v || p[-width] != v || p[width] != v;
}

void compositeLabels(uint32_t* pixels, const SliceBuffer<uint8_t>& labels,
                     const LabelColorTable& colors, const OverlayStyle& style)
{
  if (!style.visible || labels.pixels.empty())
    return;
  const int w = labels.width, h = labels.height;
  const uint8_t* lab = labels.pixels.data();
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
    {
      const size_t i = static_cast<size_t>(y) * w + x;
      const uint8_t v = lab[i];
      if (v == 0)
        continue;
      if (style.mode == OverlayMode::Fill)
        pixels[i] = blend(pixels[i], colors.color(v), style.opacity);
      else if (isOutlinePixel(lab, w, h, x, y))
        pixels[i] = blend(pixels[i], colors.color(v), 1.0);
    }
}

void compositeContours(uint32_t* pixels, const SliceBuffer<uint8_t>& a, Rgb colorA,
                       const SliceBuffer<uint8_t>& b, Rgb colorB, const OverlayStyle& style)
{
  if (!style.visible)
    return;
  const auto draw = [pixels](const SliceBuffer<uint8_t>& labels, Rgb color)
  {
    if (labels.pixels.empty())
      return;
    std::vector<uint8_t> binary(labels.pixels.size());
    for (size_t i = 0; i < binary.size(); ++i)
      binary[i] = labels.pixels[i] != 0 ? 1 : 0;
    for (int y = 0; y < labels.height; ++y)
      for (int x = 0; x < labels.width; ++x)
        if (isOutlinePixel(binary.data(), labels.width, labels.height, x, y))
          pixels[static_cast<size_t>(y) * labels.width + x] = blend(0, color, 1.0);
  };
  draw(b, colorB);
  draw(a, colorA);
}

} // namespace panseg
