#pragma once
// Masks written by other tools often store the same voxel grid with axes flipped or permuted
// (e.g. a LAS NIfTI mask over an LPS DICOM series). That is the same grid, not a different one:
// it is re-indexed exactly, without interpolation.
#include "core/Volume.h"

#include <string>

namespace panseg
{
/// When `mask` covers exactly the voxel centres of `reference` with its index axes only flipped
/// and/or permuted, returns true and writes the re-indexed mask (on `reference`'s geometry) to
/// *out. Otherwise returns false and, when given, *why says which condition failed.
bool reindexOntoGrid(const LabelMask& mask, const Geometry& reference, LabelMask* out, std::string* why = nullptr);
} // namespace panseg
