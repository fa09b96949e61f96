#include "core/display/WindowLevel.h"

#include <algorithm>
#include <cmath>

namespace panseg
{
uint8_t WindowLevel::grey(double v) const
{
  const double w = std::max(width, kMinWindowWidth);
  const double t = (v - (level - w / 2.0)) / w;
  if (!(t > 0.0)) // also NaN
    return 0;
  if (t >= 1.0)
    return 255;
  return static_cast<uint8_t>(t * 255.0 + 0.5);
}

const std::vector<WindowPreset>& ctWindowPresets()
{
  static const std::vector<WindowPreset> presets = {
      {"Abdomen", {400.0, 40.0}},
      {"Soft tissue", {350.0, 50.0}},
      {"Liver", {150.0, 30.0}},
      {"Bone", {1800.0, 400.0}},
  };
  return presets;
}

namespace
{
// Every k-th voxel so that at most ~2M values are examined (percentiles don't need more).
std::vector<float> sampleVoxels(const std::vector<float>& voxels)
{
  const size_t limit = 2'000'000;
  const size_t step = std::max<size_t>(1, voxels.size() / limit);
  std::vector<float> s;
  s.reserve(voxels.size() / step + 1);
  for (size_t i = 0; i < voxels.size(); i += step)
    if (std::isfinite(voxels[i]))
      s.push_back(voxels[i]);
  return s;
}

double percentileInPlace(std::vector<float>& v, double percent)
{
  if (v.empty())
    return 0.0;
  const double pos = std::clamp(percent, 0.0, 100.0) / 100.0 * static_cast<double>(v.size() - 1);
  const size_t k = static_cast<size_t>(std::floor(pos));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  const double a = v[k];
  if (k + 1 >= v.size())
    return a;
  const double b = *std::min_element(v.begin() + static_cast<std::ptrdiff_t>(k) + 1, v.end());
  return a + (pos - static_cast<double>(k)) * (b - a);
}
} // namespace

bool looksLikeCt(const Image& image)
{
  if (image.info.modality == "CT")
    return true;
  if (!image.info.modality.empty())
    return false;
  std::vector<float> s = sampleVoxels(image.voxels);
  if (s.empty())
    return false;
  // Air in HU is about -1000; MR and PET never go that low.
  return percentileInPlace(s, 0.5) < -700.0;
}

std::pair<double, double> bodyPercentiles(const Image& image, double lowPercent, double highPercent)
{
  std::vector<float> s = sampleVoxels(image.voxels);
  if (s.empty())
    return {0.0, 1.0};
  const double lo = percentileInPlace(s, 0.5);
  const double hi = percentileInPlace(s, 99.5);
  const double threshold = lo + 0.1 * (hi - lo);
  std::vector<float> body;
  body.reserve(s.size());
  for (float v : s)
    if (v > threshold)
      body.push_back(v);
  if (body.size() < 100) // almost empty image: use everything
    body.swap(s);
  const double pLow = percentileInPlace(body, lowPercent);
  const double pHigh = percentileInPlace(body, highPercent);
  return {pLow, pHigh};
}

WindowLevel automaticWindowLevel(const Image& image)
{
  const auto [lo, hi] = bodyPercentiles(image);
  WindowLevel wl;
  wl.width = std::max(hi - lo, kMinWindowWidth);
  wl.level = (lo + hi) / 2.0;
  return wl;
}

WindowLevel defaultWindowLevel(const Image& image)
{
  return looksLikeCt(image) ? ctWindowPresets().front().window : automaticWindowLevel(image);
}

void renderGrey(const float* values, size_t count, const WindowLevel& window, uint32_t* out)
{
  const double w = std::max(window.width, kMinWindowWidth);
  const double lower = window.level - w / 2.0;
  const double scale = 255.0 / w;
  for (size_t i = 0; i < count; ++i)
  {
    const double t = (static_cast<double>(values[i]) - lower) * scale;
    const uint32_t g = !(t > 0.0) ? 0u : t >= 255.0 ? 255u : static_cast<uint32_t>(t + 0.5);
    out[i] = 0xFF000000u | (g << 16) | (g << 8) | g;
  }
}

} // namespace panseg
