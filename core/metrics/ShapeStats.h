#pragma once
// Per-mask shape statistics (no second mask needed).
//
// Inter-slice smoothness (Cai et al., "Pancreas segmentation in CT and MRI images via domain
// specific network designing and recurrent neural contextual learning"): the average Hausdorff
// distance between the masks of neighbouring slices. A 2-D segmentation that jumps from slice to
// slice scores high; a smooth 3-D shape scores about the in-plane change of its outline per slice.
// Definitions used here:
//  * slices = the index-z planes of the grid (axial for the usual axial acquisitions);
//  * border of a slice's mask = mask minus its 4-connected in-plane erosion, outside the grid
//    counting as background (MedPy's convention, in 2-D);
//  * for neighbouring slices z, z+1 that are both non-empty: AHD = mean of the two directed mean
//    distances between their borders, exact Euclidean distances in mm in the plane (x/y spacing);
//  * averageHdMm = mean AHD over those pairs; pairs where only one slice is empty (the object
//    starts or ends) are counted in pairsOneEmpty, not averaged.
#include "core/Volume.h"

#include <cstdint>

namespace panseg
{
struct InterSliceSmoothness
{
  double averageHdMm = 0.0; // 0 when no pair of neighbouring non-empty slices exists
  double maxHdMm = 0.0;     // largest AHD of a pair
  int64_t pairs = 0;        // neighbouring pairs with both slices non-empty
  int64_t pairsOneEmpty = 0;
};

/// Inter-slice smoothness of `label` in `mask` (label 0 = any non-zero label). Throws
/// panseg::Error when the voxel count does not match the geometry.
InterSliceSmoothness interSliceSmoothness(const LabelMask& mask, int label = 0, int threads = 1);
} // namespace panseg
