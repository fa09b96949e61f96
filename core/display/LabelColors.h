#pragma once
// Colours of mask labels, shared by the slice overlays and the 3D surfaces.

#include <array>
#include <cstdint>

namespace panseg
{
struct Rgb
{
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
  bool operator!=(const Rgb& o) const { return !(*this == o); }
};

/// One colour per label value 0..255. Label 1 (pancreas in PanSeg masks) is amber, the next
/// few are saturated and far apart (sky blue, green, magenta, red, violet, yellow, ...), the rest
/// are spread around the hue circle. Label 0 is background and is never drawn.
class LabelColorTable
{
public:
  LabelColorTable();
  Rgb color(int label) const { return m_colors[static_cast<uint8_t>(label)]; }
  void setColor(int label, Rgb c) { m_colors[static_cast<uint8_t>(label)] = c; }

  /// The table every view uses unless told otherwise.
  static const LabelColorTable& standard();

private:
  std::array<Rgb, 256> m_colors;
};

} // namespace panseg
