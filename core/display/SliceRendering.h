#pragma once
// Slice extraction into screen-oriented 2D buffers and the mask overlay compositing.

#include "core/Volume.h"
#include "core/display/LabelColors.h"
#include "core/display/SliceGeometry.h"

#include <cstdint>
#include <vector>

namespace panseg
{
/// One slice as the screen shows it: row 0 is the top row, column 0 the left column.
/// Pixels are pixelWidthMm x pixelHeightMm, so anisotropic voxels keep their true aspect.
template <typename T> struct SliceBuffer
{
  int width = 0, height = 0;
  double pixelWidthMm = 1.0, pixelHeightMm = 1.0;
  std::vector<T> pixels; // width * height, row-major

  const T& at(int column, int row) const
  {
    return pixels[static_cast<size_t>(row) * static_cast<size_t>(width) +
                  static_cast<size_t>(column)];
  }
  double widthMm() const { return width * pixelWidthMm; }
  double heightMm() const { return height * pixelHeightMm; }
};

/// Copies slice `slice` (an index along mapper.sliceAxis(), clamped to the volume) of a
/// volume on mapper's grid. Returns an empty buffer for an empty volume.
SliceBuffer<float> extractSlice(const Volume<float>& volume, const SliceMapper& mapper, int slice);
SliceBuffer<uint8_t> extractSlice(const Volume<uint8_t>& volume, const SliceMapper& mapper,
                                  int slice);

enum class OverlayMode
{
  Fill,   // labelled pixels tinted with the label colour at the overlay opacity
  Outline // only the border pixels of each label, opaque
};

struct OverlayStyle
{
  bool visible = true;
  double opacity = 0.5; // 0..1, used by Fill
  OverlayMode mode = OverlayMode::Fill;
};

/// True when pixel (x, y) carries a label and a 4-neighbour carries another value (or lies
/// outside the slice).
bool isOutlinePixel(const uint8_t* labels, int width, int height, int x, int y);

/// Draws labels over 0xFFRRGGBB pixels of the same size (labels.width x labels.height).
void compositeLabels(uint32_t* pixels, const SliceBuffer<uint8_t>& labels,
                     const LabelColorTable& colors, const OverlayStyle& style);

/// Two masks as contours (compare mode): the outline of A's labelled pixels (any non-zero label,
/// so borders between labels are not drawn) in `colorA` and of B's in `colorB`, opaque, over
/// 0xFFRRGGBB pixels of the same size; where both outlines fall on a pixel A's colour wins.
/// Nothing is drawn when `style.visible` is false.
void compositeContours(uint32_t* pixels, const SliceBuffer<uint8_t>& a, Rgb colorA,
                       const SliceBuffer<uint8_t>& b, Rgb colorB, const OverlayStyle& style);

} // namespace panseg
