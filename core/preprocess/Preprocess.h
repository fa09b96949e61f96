#pragma once
// nnU-Net v1 inference preprocessing (GenericPreprocessor.preprocess_test_case after
// ImageCropper.crop_from_list_of_files), one input channel:
//   crop to the non-zero box (holes filled) -> NaN to 0 -> resample to the target spacing
//   (order 3; separate z by nnU-Net's rule) -> intensity normalisation (float32).
// Everything is in nnU-Net's (z, y, x) order; see Common.h for the mapping from panseg::Image.
// transpose_forward / transpose_backward (plans whose coarsest axis is not z) as nnU-Net v1 does
// them: crop in the image's order, then transpose, then resample and normalise; the network sees
// the transposed axes, and the export transposes the probabilities back before resampling them.

#include "core/Volume.h"
#include "core/preprocess/Common.h"
#include "core/preprocess/Resample.h"

#include <cstdint>
#include <string>
#include <vector>

namespace panseg::nnunet
{
enum class NormalizationScheme
{
  CT,    // clip to [percentile_00_5, percentile_99_5], then (x - mean) / sd (plans statistics)
  CT2,   // clip, then z-score with mean / sd of the voxels strictly inside the clip range
  NonCT, // z-score of the (optionally masked) resampled volume, (x - mean) / (std + 1e-8)
  None   // "noNorm": unchanged
};

/// "CT", "CT2", "nonCT", "noNorm" (nnU-Net's names; anything else -> NonCT, as nnU-Net does).
NormalizationScheme normalizationSchemeFromName(const std::string& name);
std::string toString(NormalizationScheme s);

/// plans['dataset_properties']['intensityproperties'][c] (used by CT and CT2 only).
struct IntensityProperties
{
  double mean = 0.0;
  double sd = 1.0;
  double percentile00_5 = 0.0;
  double percentile99_5 = 0.0;
};

struct PreprocessParams
{
  Spacing3 targetSpacing{ 1.0, 1.0, 1.0 }; // mm, TRANSPOSED order: plans_per_stage[stage].current_spacing
  std::array<int, 3> transposeForward{ 0, 1, 2 };  // plans transpose_forward (applied after cropping)
  std::array<int, 3> transposeBackward{ 0, 1, 2 }; // its inverse (applied before the export's resampling)
  NormalizationScheme scheme = NormalizationScheme::NonCT;
  IntensityProperties intensity;
  bool useMaskForNorm = false;
  double anisotropyThreshold = kSeparateZThreshold;
  /// Also resample the helper map (-1 outside / 0 inside the filled non-zero mask) when it is
  /// not needed for normalisation (nnU-Net always does; it costs time and is unused).
  bool alwaysResampleHelperMask = false;
  /// Keep a copy of the resampled volume before normalisation (Preprocessed::resampled).
  bool keepResampled = false;
  int threads = 0; // <= 0: hardware concurrency
  ProgressFn progress; // coarse steps; returning false throws Error("cancelled")
};

/// Crop to the non-zero region (create_nonzero_mask + get_bbox_from_mask + crop_to_bbox).
struct CropResult
{
  CropBox box;
  std::vector<float> data;   // [D, H, W] of box.size(), NaNs still in place
  std::vector<int8_t> helper; // same shape: -1 outside the filled non-zero mask, 0 inside
  int64_t outsideVoxels = 0; // voxels of the box outside the filled mask
};

/// Non-zero mask (NaN counts as non-zero), 3-D hole filling (background components with no
/// 6-connected path to the array border become foreground), bounding box [start, end).
/// Throws panseg::Error when the image has no non-zero voxel.
CropResult cropToNonzero(const float* data, const Shape3& shape);

/// 3-D binary_fill_holes with the 6-connected structure, in place (1 = foreground).
void fillHoles(std::vector<uint8_t>& mask, const Shape3& shape);

/// numpy's float32 sum of a contiguous array: chunks of 8192 elements (the ufunc buffer size)
/// summed pairwise (8 accumulators, 128-element leaves, halves rounded to multiples of 8), the
/// chunk sums accumulated in order into a float32 that starts at 0.
float numpyPairwiseSum(const float* a, int64_t n);

/// numpy ndarray.mean() / .std() of a float32 vector, reproducing numpy's float32 arithmetic.
struct Float32Stats
{
  float mean = 0.0f; // float32(float64(sum) / n)
  float std = 0.0f;  // population std, float32
};
Float32Stats numpyMeanStd(const std::vector<float>& values);

/// Normalisation constants actually used (for logs and reports).
struct NormalizationInfo
{
  NormalizationScheme scheme = NormalizationScheme::NonCT;
  double mean = 0.0, divisor = 1.0;    // x' = (x - mean) / divisor
  double clipLow = 0.0, clipHigh = 0.0; // CT, CT2 only
  int64_t statisticsVoxels = 0;          // voxels the statistics were taken over (nonCT, CT2)
};

/// Normalises `data` in place (float32 arithmetic, true division, like nnU-Net).
/// `helper` (same size, may be null unless useMaskForNorm) is the resampled helper map:
/// voxels with helper < 0 are outside the mask.
NormalizationInfo normalize(std::vector<float>& data, const int8_t* helper,
                            NormalizationScheme scheme, const IntensityProperties& props,
                            bool useMaskForNorm);

/// Everything the sliding window and the export need.
struct Preprocessed
{
  std::vector<float> data; // [1, D, H, W] network input, float32
  Shape3 shape{ 0, 0, 0 }; // (D, H, W) after resampling

  std::array<int, 3> transposeForward{ 0, 1, 2 };  // data / shape / spacingAfterResampling are in
  std::array<int, 3> transposeBackward{ 0, 1, 2 }; // transposed order; crop and croppedShape are not
  Geometry originalGeometry; // the input image's grid (voxels not kept)
  Shape3 originalShape{ 0, 0, 0 };
  CropBox crop;
  Shape3 croppedShape{ 0, 0, 0 };
  Spacing3 originalSpacing{ 0, 0, 0 };        // (z, y, x)
  Spacing3 spacingAfterResampling{ 0, 0, 0 }; // = target spacing (transposed order)
  std::array<double, 3> resampledShapeUnrounded{ 0, 0, 0 };
  SeparateZ separateZ; // decision used for the image
  int64_t outsideMaskVoxels = 0;

  NormalizationInfo normalization;
  std::vector<int8_t> helperMask; // resampled helper map, when computed (else empty)
  std::vector<float> resampled;   // before normalisation, when keepResampled (else empty)
  double seconds = 0.0;           // wall time of preprocess()
};

/// The whole preprocessing of one single-channel image. Throws panseg::Error.
Preprocessed preprocess(const Image& image, const PreprocessParams& params);

} // namespace panseg::nnunet
