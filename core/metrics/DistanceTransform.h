#pragma once
// Exact Euclidean distance transform on anisotropic voxel grids.
//
// Separable algorithm: one pass per axis. The x pass is a two-sided scan; the y and z passes take
// the lower envelope of parabolas (Felzenszwalb & Huttenlocher, "Distance Transforms of Sampled
// Functions", Theory of Computing 8, 2012) with parabola positions in millimetres, so the result
// is the exact squared distance in mm^2 (not an approximation such as a chamfer transform).

#include "core/Geometry.h"

#include <cstdint>
#include <vector>

namespace panseg
{
/// Squared Euclidean distance in mm^2 from the centre of every voxel to the centre of the nearest
/// voxel with feature[i] != 0 (0 on feature voxels). Layout x fastest, `size` voxels.
/// With no feature voxel at all every value is +infinity.
/// threads: worker threads for the per-axis passes (0 = hardware concurrency).
/// Throws panseg::Error when feature.size() does not match `size` or a spacing is not positive.
std::vector<double> squaredDistanceTransformMm2(const std::vector<uint8_t>& feature,
                                                const Size3& size, const Vec3& spacingMm,
                                                int threads = 0);

} // namespace panseg
