#pragma once
// nnU-Net v1 resampling (preprocessing.resample_patient / resample_data_or_seg) re-implemented
// from its specification, with the numerics of scikit-image >= 0.19 `resize` (mode 'edge',
// clip=True, no anti-aliasing), which delegates to scipy.ndimage.zoom(grid_mode=True,
// mode='nearest'):
//  * output index k samples the input at c = (k + 0.5) * (n_in / n_out) - 0.5 (float64);
//  * order 3: cubic B-spline. The input is padded by 12 samples of edge replication on every
//    resampled axis, prefiltered (pole sqrt(3) - 2, gain (1 - z)(1 - 1/z), mirror initial
//    conditions) and evaluated at c + 12;
//  * order 1: linear, sample indices clamped to [0, n_in - 1] (the same as clamping c), summed
//    over the corners in scipy's order so that results are bit-identical in practice;
//  * order 0: nearest, floor(c + 0.5) clamped;
//  * all in float64, the result clipped to the input's [min, max].
// Order 3 runs separably per axis (exact in real arithmetic; differs from scipy's 4^3-term
// tensor-product sum only by float64 rounding, ~1e-15 relative, which the float32 cast hides in
// all but rare voxels). Axes whose size does not change are left untouched.
//
// All shapes and spacings are (z, y, x); arrays are C-ordered (x fastest).

#include "core/preprocess/Common.h"

#include <cstdint>
#include <vector>

namespace panseg::nnunet
{
/// nnU-Net's anisotropy threshold (RESAMPLING_SEPARATE_Z_ANISO_THRESHOLD).
constexpr double kSeparateZThreshold = 3.0;

/// round_half_to_even((from / to) * shape) per axis, in float64 (numpy.round semantics:
/// 136.5 -> 136). Throws panseg::Error for non-positive spacings.
Shape3 resampledShape(const Shape3& shape, const Spacing3& from, const Spacing3& to);

/// Unrounded (from / to) * shape, for reporting.
std::array<double, 3> resampledShapeUnrounded(const Shape3& shape, const Spacing3& from,
                                              const Spacing3& to);

/// max(spacing) / min(spacing) > threshold.
bool isAnisotropic(const Spacing3& spacing, double threshold = kSeparateZThreshold);

/// Axes whose spacing equals the largest spacing (nnU-Net get_lowres_axis).
std::vector<int> lowResolutionAxes(const Spacing3& spacing);

/// Whether (and along which axis) to resample "separate z".
struct SeparateZ
{
  bool enabled = false;
  int axis = -1; // 0, 1 or 2 when enabled
  bool operator==(const SeparateZ& o) const { return enabled == o.enabled && axis == o.axis; }
};

/// nnU-Net's rule (resample_patient with force_separate_z None, and the export): anisotropic
/// `first` spacing -> its coarsest axis; else anisotropic `second` -> its coarsest axis; else
/// none. Disabled again unless that coarsest axis is unique.
/// Preprocessing: first = original spacing, second = target spacing.
/// Export: first = original spacing, second = spacing after resampling.
SeparateZ decideSeparateZ(const Spacing3& first, const Spacing3& second,
                          double threshold = kSeparateZThreshold);

/// skimage.transform.resize(x, outShape, order, mode='edge', clip=True, anti_aliasing=False)
/// of a float64 3-D array (order 0, 1 or 3). Any axis may have size 1; an axis whose size does
/// not change is not touched, so a 2-D resize is a 3-D one with a singleton axis.
/// `threads` <= 0: hardware concurrency. Throws panseg::Error on bad arguments.
std::vector<double> resizeArray(const std::vector<double>& in, const Shape3& inShape,
                                const Shape3& outShape, int order, int threads = 0);

/// Nearest neighbour along one axis with the mapping c = (n_in / n_out)(k + 0.5) - 0.5,
/// source = floor(c + 0.5) clamped (scipy map_coordinates order 0, mode 'nearest').
std::vector<int64_t> nearestSourceIndices(int64_t nIn, int64_t nOut);

/// nnU-Net resample_data_or_seg for intensities (is_seg False), one channel:
///  * shapes equal: the input is returned unchanged;
///  * separate z: each slice across `sep.axis` resized in 2-D with `order` (clipped per
///    slice), then order `orderZ` (0 = nearest, 1 = linear) along sep.axis;
///  * otherwise one 3-D resize with `order`.
/// Computed in float64 and cast to float32 at the end.
std::vector<float> resampleData(const float* in, const Shape3& inShape, const Shape3& outShape,
                                int order, const SeparateZ& sep, int orderZ = 0, int threads = 0);

/// Same for a [K, D, H, W] stack of channels (each channel resampled independently).
std::vector<float> resampleChannels(const float* in, int64_t channels, const Shape3& inShape,
                                    const Shape3& outShape, int order, const SeparateZ& sep,
                                    int orderZ = 0, int threads = 0);

/// Same, without the final float32 cast (nnU-Net v2 casts the float64 result to the input's
/// dtype, float16 for logits: the caller rounds).
std::vector<double> resampleChannelsF64(const float* in, int64_t channels, const Shape3& inShape,
                                        const Shape3& outShape, int order, const SeparateZ& sep,
                                        int orderZ = 0, int threads = 0);

/// nnU-Net resample_data_or_seg for label maps (is_seg True) = batchgenerators
/// resize_segmentation: for each label present, in ascending order, the 0/1 mask is resized
/// with `order` (1 in nnU-Net) and voxels where it is >= 0.5 take that label (start: 0).
/// Separate z: done per slice in 2-D, then nearest neighbour along sep.axis.
std::vector<int8_t> resampleSegmentation(const int8_t* in, const Shape3& inShape,
                                         const Shape3& outShape, int order, const SeparateZ& sep,
                                         int threads = 0);

} // namespace panseg::nnunet
