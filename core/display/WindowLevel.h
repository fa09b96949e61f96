#pragma once
// Window/level: which intensity range is shown from black to white.

#include "core/Volume.h"

#include <cstdint>
#include <string>
#include <vector>

namespace panseg
{
struct WindowLevel
{
  double width = 400.0; // intensity range mapped from black to white (> 0)
  double level = 40.0;  // intensity shown mid-grey

  double lower() const { return level - width / 2.0; }
  double upper() const { return level + width / 2.0; }
  /// Grey value 0..255 of an intensity (linear ramp, clamped).
  uint8_t grey(double intensity) const;
  bool operator==(const WindowLevel& o) const { return width == o.width && level == o.level; }
  bool operator!=(const WindowLevel& o) const { return !(*this == o); }
};

struct WindowPreset
{
  std::string name; // shown in menus: "Abdomen", "Soft tissue", ...
  WindowLevel window;
};

/// Hounsfield presets: Abdomen W400/L40, Soft tissue W350/L50, Liver W150/L30, Bone W1800/L400.
const std::vector<WindowPreset>& ctWindowPresets();

/// The smallest accepted window width (keeps the ramp invertible).
constexpr double kMinWindowWidth = 1.0;

/// True for CT: modality "CT", or, when the modality is unknown (NIfTI), intensities that look
/// like Hounsfield units (air around -1000 present).
bool looksLikeCt(const Image& image);

/// Intensity percentiles (0..100) of the body voxels: those above the background, defined as
/// 10% of the way from the 0.5th to the 99.5th percentile of all voxels. Large images are
/// sampled (at most ~2 million voxels). Returns {low, high}.
std::pair<double, double> bodyPercentiles(const Image& image, double lowPercent = 1.0,
                                          double highPercent = 99.0);

/// Window spanning the 1st..99th percentile of the body voxels (used for MR and unknown data).
WindowLevel automaticWindowLevel(const Image& image);

/// The window an image opens with: Abdomen for CT, automatic otherwise.
WindowLevel defaultWindowLevel(const Image& image);

/// Greyscale through a window into 0xFFRRGGBB pixels (the layout of QImage::Format_RGB32).
void renderGrey(const float* values, size_t count, const WindowLevel& window, uint32_t* out);

} // namespace panseg
