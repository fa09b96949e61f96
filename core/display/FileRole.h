#pragma once
// Guessing whether a file dropped on the viewer is a mask or an image.

#include "core/Volume.h"

#include <string>

namespace panseg
{
/// True when the file name says "label map": it contains seg, mask, label or annotation
/// (case-insensitive), or it lies in an nnU-Net style labelsTr/labelsTs folder.
bool nameSuggestsMask(const std::string& path);

/// True when every voxel is an integer in 0..255 and there are at most `maxDistinct` values:
/// such an "image" is almost certainly a label map stored as float or int16.
bool looksLikeLabelMap(const Image& image, int maxDistinct = 64);

/// Converts an image that looksLikeLabelMap() into a LabelMask on the same grid.
LabelMask toLabelMask(const Image& image);

} // namespace panseg
