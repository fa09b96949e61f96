#pragma once
// Measurements a radiologist takes on an image and its mask: the distance between two points,
// the statistics of a label (volume, intensities, extent) and its principal-axis lengths.
// Physical coordinates are LPS millimetres through the grid's spacing, direction and origin
// (core/Geometry.h). Definitions: core/measure/README.md.
#include "core/Volume.h"

#include <array>
#include <cstdint>

namespace panseg::measure
{
/// Euclidean distance between two LPS points in mm.
double distanceMm(const Vec3& aMm, const Vec3& bMm);
/// Distance in mm between two continuous voxel indices of `g` (anisotropic and rotated grids).
double indexDistanceMm(const Geometry& g, const Vec3& aIndex, const Vec3& bIndex);

/// Intensities inside a mask (HU on CT). sd = sample standard deviation (n - 1; 0 for n < 2);
/// median of an even count = mean of the two middle values. All 0 when count = 0.
struct IntensityStatistics
{
  int64_t count = 0;
  double mean = 0.0, sd = 0.0, min = 0.0, max = 0.0, median = 0.0;
};

/// Principal axes of a mask: the eigenvectors of the covariance of its voxel centres in LPS mm,
/// named by the mask's extent along them, longest first (length, width, thickness).
/// extent along a direction e = the width of the projection of the union of the voxel boxes on e
/// (max - min of e . centre, plus one voxel box's own projection sum_j |e . d_j| s_j).
struct PrincipalAxes
{
  bool defined = false;                // false for an empty mask
  Vec3 centroidMm{0, 0, 0};            // mean of the voxel centres, LPS
  std::array<Vec3, 3> directions{};    // unit LPS vectors, [0] = length axis
  Vec3 lengthsMm{0, 0, 0};             // extent along directions[k]; descending
  Vec3 ellipsoidDiametersMm{0, 0, 0};  // 2 sqrt(5 variance) along directions[k]: the diameters of
                                       // the solid ellipsoid with the same second moments
};

struct MaskStatistics
{
  int label = 0;            // 0 = any non-zero label
  int64_t voxels = 0;
  double voxelVolumeMm3 = 0.0;
  double volumeMl = 0.0;
  bool hasIntensities = false; // an image was given
  IntensityStatistics intensity;
  Size3 boxMinIndex{0, 0, 0}, boxMaxIndex{0, 0, 0}; // inclusive index bounding box (voxels > 0)
  /// Extent of the union of the voxel boxes along the patient axes L-R, A-P, S-I (LPS x, y, z).
  Vec3 extentMm{0, 0, 0};
  PrincipalAxes axes;
};

/// Statistics of `label` (0 = any non-zero) in `mask`; intensities from `image` when given.
/// Throws panseg::Error when the image's grid differs from the mask's (the difference named) or
/// the voxel count does not match the geometry.
MaskStatistics maskStatistics(const LabelMask& mask, int label, const Image* image = nullptr);

/// Only the principal axes (same definitions as MaskStatistics::axes).
PrincipalAxes principalAxes(const LabelMask& mask, int label);

/// Eigen-decomposition of a symmetric 3x3 matrix (row-major) by cyclic Jacobi rotations:
/// eigenvalues descending, eigenvectors[k] the unit vector of eigenvalues[k].
void symmetricEigen(const Mat3& m, Vec3& eigenvalues, std::array<Vec3, 3>& eigenvectors);
} // namespace panseg::measure
