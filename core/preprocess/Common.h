#pragma once
// Shared vocabulary of the nnU-Net v1 inference pipeline (core/preprocess).
//
// Axis convention: every shape, spacing, box and array in this module is in nnU-Net's
// (z, y, x) = (D, H, W) order, C-ordered (x fastest). That is the same memory layout as
// panseg::Volume (x fastest), so an Image's voxels are a [D, H, W] array with
// D = size[2], H = size[1], W = size[0] and spacing (spacingMm[2], spacingMm[1], spacingMm[0]).

#include "core/Geometry.h"

#include <array>
#include <cstdint>
#include <functional>

namespace panseg::nnunet
{
using Shape3 = std::array<int64_t, 3>;  // (z, y, x) = (D, H, W)
using Spacing3 = std::array<double, 3>; // (z, y, x), mm

/// Progress callback: fraction done in [0, 1]; return false to cancel (the caller throws
/// panseg::Error("cancelled")).
using ProgressFn = std::function<bool(double)>;

inline int64_t voxelCount(const Shape3& s) { return s[0] * s[1] * s[2]; }

/// (x, y, z) geometry size -> (z, y, x) shape, and back.
inline Shape3 shapeOf(const Geometry& g) { return { g.size[2], g.size[1], g.size[0] }; }
inline Spacing3 spacingOf(const Geometry& g)
{
  return { g.spacingMm[2], g.spacingMm[1], g.spacingMm[0] };
}

/// Crop box in (z, y, x): [start, end) per axis.
struct CropBox
{
  Shape3 start{ 0, 0, 0 };
  Shape3 end{ 0, 0, 0 };
  Shape3 size() const { return { end[0] - start[0], end[1] - start[1], end[2] - start[2] }; }
  bool operator==(const CropBox& o) const { return start == o.start && end == o.end; }
};

} // namespace panseg::nnunet
