#pragma once
// nnU-Net v2 (2.8.x) inference pipeline around the network, re-implemented from its behaviour as
// documented in shared/fixtures/nnunetv2-pipeline/README.md ("Algorithm details"). It differs
// from v1 (Preprocess.h, SlidingWindow.h, Export.h) in many parity details:
//  * reader order: the image's (z, y, x) array, or for NibabelIOWithReorient the array of the
//    image re-oriented to RAS (axes permuted / flipped), as (S, A, R);
//  * preprocessing order: transpose_forward -> crop to non-zero -> NORMALISE -> resample
//    (v1 resampled first); z-score divides by max(std, 1e-8);
//  * sliding window: logits (not probabilities) averaged over the mirror variants in
//    itertools.combinations order; Gaussian map with maximum 10 stored as float16;
//    accumulation of the weighted logits and of the weights in float16;
//  * export: the float16 logits resampled (separate-z decided on the spacing after resampling
//    first) and rounded to float16 again, softmax in float32, argmax, pasted into the crop box,
//    transpose_backward, undo of the reader's re-orientation.
// Arrays are C-ordered; shapes are (D, H, W) in the order named per field.

#include "core/Volume.h"
#include "core/preprocess/Common.h"
#include "core/preprocess/Resample.h"
#include "core/preprocess/SlidingWindow.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace panseg::nnunet::v2
{
// ---- float16 (IEEE binary16), round to nearest even ---------------------------------------------
std::uint16_t toHalf(double v);
float fromHalf(std::uint16_t h);
/// Rounds through float16 and back (what a torch.half / numpy float16 store does).
inline float roundHalf(double v) { return fromHalf(toHalf(v)); }

// ---- normalisation -------------------------------------------------------------------------------
enum class Normalization
{
  CT,          // CTNormalization: clip to [p00.5, p99.5], -= mean, /= max(std, 1e-8) (plans statistics)
  ZScore,      // ZScoreNormalization: -= mean, /= max(std, 1e-8) of the (masked) cropped image
  None,        // NoNormalization
  RescaleTo01, // RescaleTo01Normalization: (x - min) / max(max - min, 1e-8)
  RGBTo01      // RGBTo01Normalization: x / 255 (values must lie in [0, 255])
};
/// nnU-Net v2 class names ("CTNormalization", "ZScoreNormalization", "NoNormalization",
/// "RescaleTo01Normalization", "RGBTo01Normalization"); throws panseg::Error for any other name.
Normalization normalizationFromName(const std::string& name);
std::string toString(Normalization n);

struct ForegroundIntensity
{
  double mean = 0, std = 1, percentile00_5 = 0, percentile99_5 = 0;
};

// ---- parameters ----------------------------------------------------------------------------------
struct Params
{
  bool reorientToRas = false;                 // image_reader_writer NibabelIOWithReorient
  std::array<int, 3> transposeForward{ 0, 1, 2 };
  std::array<int, 3> transposeBackward{ 0, 1, 2 };
  Spacing3 targetSpacing{ 1, 1, 1 };          // configuration "spacing", transposed order
  Normalization normalization = Normalization::ZScore;
  ForegroundIntensity intensity;              // CT only
  bool useMaskForNorm = false;
  // resampling_fn_*_kwargs (force_separate_z: -1 None, 0 False, 1 True)
  int dataOrder = 3, dataOrderZ = 0, dataForceSeparateZ = -1;
  int probOrder = 1, probOrderZ = 0, probForceSeparateZ = -1;
  double anisotropyThreshold = kSeparateZThreshold;
  int threads = 0;
};

/// How an Image's (z, y, x) array maps to nnU-Net v2's reader order.
struct ReaderOrder
{
  std::array<int, 3> axisOf{ 0, 1, 2 }; // reader axis r takes image array axis axisOf[r]
  std::array<bool, 3> flip{ false, false, false }; // reader axis r runs backwards
  Shape3 shape{ 0, 0, 0 };                          // reader order
  Spacing3 spacing{ 0, 0, 0 };                      // reader order
};
/// Identity for NibabelIO / SimpleITKIO; for NibabelIOWithReorient the permutation and flips
/// nibabel's as_reoriented(io_orientation(affine)) applies (closest axes to R, A, S).
ReaderOrder readerOrderOf(const Geometry& g, bool reorientToRas);
/// image (z, y, x) array -> reader-order array.
std::vector<float> toReaderOrder(const std::vector<float>& image, const Geometry& g, const ReaderOrder& r);
/// reader-order array (per channel) -> image (z, y, x) array.
template <typename T>
std::vector<T> fromReaderOrder(const T* reader, const Geometry& g, const ReaderOrder& r);

/// out[i0, i1, i2] = in[... axis perm ...]: numpy's x.transpose(perm) of a C array, made contiguous.
template <typename T>
std::vector<T> transposeArray(const T* in, const Shape3& shape, const std::array<int, 3>& perm);
inline Shape3 permuteShape(const Shape3& s, const std::array<int, 3>& p) { return { s[p[0]], s[p[1]], s[p[2]] }; }
inline Spacing3 permuteSpacing(const Spacing3& s, const std::array<int, 3>& p) { return { s[p[0]], s[p[1]], s[p[2]] }; }

// ---- preprocessing -------------------------------------------------------------------------------
struct Preprocessed
{
  std::vector<float> data; // [1, D, H, W] network input (transposed order), float32
  Shape3 shape{ 0, 0, 0 };
  Geometry originalGeometry;
  ReaderOrder reader;
  Shape3 transposedShape{ 0, 0, 0 }; // before cropping
  Spacing3 transposedSpacing{ 0, 0, 0 };
  CropBox crop;                      // transposed order
  Shape3 croppedShape{ 0, 0, 0 };
  SeparateZ separateZ;
  double zscoreMean = 0.0, zscoreStd = 0.0; // float32 values used (z-score only)
  std::vector<float> normalizedBeforeResampling; // when keepNormalized
  double seconds = 0.0;
};

/// Throws panseg::Error. `zscoreOverride` (tests only): use these float32 mean / std instead of
/// the computed ones (nnU-Net's numpy statistics depend on the memory layout; see the README).
Preprocessed preprocess(const Image& image, const Params& params, bool keepNormalized = false);

// ---- sliding window ------------------------------------------------------------------------------
/// compute_gaussian(patch, sigma_scale 1/8, value_scaling_factor 10) as float16 values.
std::vector<float> gaussianFp16(const Shape3& patch);

/// Mirror variants of one window in v2's order: the identity first, then every non-empty subset
/// of `axes` (ascending) by itertools.combinations (size 1, 2, 3). Axis indices 0..2 = D, H, W.
std::vector<std::vector<int>> mirrorCombinations(const std::vector<int>& axes);

struct SlidingOptions
{
  double stepSize = 0.5;
  bool mirror = true;
  std::vector<int> mirrorAxes{ 0, 1, 2 }; // checkpoint inference_allowed_mirroring_axes
  bool useGaussian = true;
  int64_t maxBatch = 1;
  ProgressFn progress;
};

int64_t forwardPasses(const Shape3& shape, const Shape3& patch, const SlidingOptions& o);

struct Logits
{
  std::vector<float> values; // [K, D, H, W], every value a float16 number
  int64_t numClasses = 0;
  Shape3 shape{ 0, 0, 0 };
  WindowPlan plan;
  int64_t forwardPasses = 0;
};

/// predict_logits_from_preprocessed_data for one network: float32 mirror sums, float16
/// accumulation of Gaussian-weighted logits and weights, float16 division, padding removed.
/// `network` gets [count, C, patch] inputs (already flipped) and writes [count, K, patch] logits.
Logits predictLogits(const float* input, int64_t channels, const Shape3& shape, const Shape3& patch,
                     int64_t numClasses, const NetworkFn& network, const SlidingOptions& o);

// ---- export --------------------------------------------------------------------------------------
struct Exported
{
  std::vector<float> logitsAtCrop;    // [K, cropped shape] float16 values (transposed order)
  std::vector<float> probabilities;   // [K, reader shape] (reader order, background 1 outside the box), when asked
  std::vector<uint8_t> readerLabels;  // reader order
  LabelMask mask;                     // on the input image's grid
};
/// Export of v2 logits; `withProbabilities` also fills probabilities (the .npz content).
Exported exportLogits(const Logits& logits, const Preprocessed& pre, const Params& params,
                      bool withProbabilities);
/// Same from [K, preprocessed shape] float16-valued logits (fixture replays).
Exported exportLogits(const std::vector<float>& logits, int64_t numClasses, const Preprocessed& pre,
                      const Params& params, bool withProbabilities);

} // namespace panseg::nnunet::v2
