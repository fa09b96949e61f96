#pragma once
// nnU-Net v1 sliding-window inference (_internal_predict_3D_3Dconv_tiled with
// _internal_maybe_mirror_and_pred_3D), with the network abstracted as a callback:
//  * the input is zero-padded to at least the patch size (floor(diff / 2) before);
//  * per axis n = ceil((S - p) / (step * p)) + 1 windows starting at
//    round_half_even(i * ((S - p) / (n - 1))) (one window at 0 when S = p);
//  * per window, for each mirror variant in the order none, x, y, xy, z, xz, yz, xyz: softmax
//    over classes of the network output, flipped back, times 1/num_mirrors, added to a float32
//    window accumulator; the window result is multiplied by the Gaussian importance map and
//    added to a float32 sum, the Gaussian is added to a float32 weight sum (windows in the
//    order z outer, y, x inner);
//  * the padding is removed and probabilities = sum / weights (float32 division).
// With a single window (or useGaussian false) the weight is 1 instead of the Gaussian.
// Shapes are (z, y, x); arrays C-ordered.

#include "core/preprocess/Common.h"

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

namespace panseg::nnunet
{
/// Padding and window positions for one volume.
struct WindowPlan
{
  Shape3 patch{ 0, 0, 0 };
  Shape3 inputShape{ 0, 0, 0 };
  Shape3 paddedShape{ 0, 0, 0 };
  Shape3 padBefore{ 0, 0, 0 };
  Shape3 padAfter{ 0, 0, 0 };
  std::array<std::vector<int64_t>, 3> steps; // start positions per axis, padded coordinates

  int64_t numWindows() const
  {
    return static_cast<int64_t>(steps[0].size() * steps[1].size() * steps[2].size());
  }
  /// All window starts in accumulation order (z outer, then y, x inner).
  std::vector<Shape3> windowStarts() const;
};

/// Throws panseg::Error for an empty shape or patch or a step outside (0, 1].
WindowPlan planWindows(const Shape3& shape, const Shape3& patch, double stepSize = 0.5);

/// Gaussian importance map [p0, p1, p2]: prod over axes of exp(-(i - p//2)^2 / (2 (p s)^2)),
/// s = sigmaScale, in float64, divided by its maximum, cast to float32; exact zeros replaced by
/// the smallest non-zero value.
std::vector<float> gaussianImportanceMap(const Shape3& patch, double sigmaScale = 0.125);

/// Network callback: `patches` holds `count` inputs [count, C, p0, p1, p2]; write the raw
/// logits [count, K, p0, p1, p2] to `logits` (the softmax is applied here).
using NetworkFn = std::function<void(const float* patches, int64_t count, float* logits)>;

struct SlidingWindowOptions
{
  double stepSize = 0.5;
  bool useGaussian = true;
  double sigmaScale = 0.125;
  bool mirror = true;                              // test-time augmentation (false = --fast)
  std::array<bool, 3> mirrorAxes{ true, true, true }; // (z, y, x) axes that may be flipped
  int64_t maxBatch = 8; // patches per network call (results do not depend on it)
  ProgressFn progress;  // fraction of forward passes done; false -> Error("cancelled")
};

/// Mirror variants per window (8 with full TTA, 1 without).
int64_t mirrorVariants(const SlidingWindowOptions& options);

/// Forward passes the prediction of a volume of `shape` will run (windows x mirror variants).
int64_t estimateForwardPasses(const Shape3& shape, const Shape3& patch,
                              const SlidingWindowOptions& options = {});

struct Prediction
{
  std::vector<float> probabilities; // [K, D, H, W] at the input (unpadded) shape
  int64_t numClasses = 0;
  Shape3 shape{ 0, 0, 0 };
  WindowPlan plan;
  int64_t forwardPasses = 0;
  double seconds = 0.0;
};

/// Runs the sliding window over `input` [inputChannels, D, H, W].
/// Throws panseg::Error (also "cancelled" when the progress callback returns false).
Prediction predictSlidingWindow(const float* input, int64_t inputChannels, const Shape3& shape,
                                const Shape3& patch, int64_t numClasses, const NetworkFn& network,
                                const SlidingWindowOptions& options = {});

/// The weight sum the prediction divides by, [D, H, W] with the padding removed (float32,
/// accumulated in window order). For checks against recorded accumulators.
std::vector<float> windowWeightSum(const WindowPlan& plan, const SlidingWindowOptions& options = {});

/// Softmax over K channels of a [K, N] array in place (float32, max subtracted).
void softmaxChannels(float* logits, int64_t numClasses, int64_t voxels);

} // namespace panseg::nnunet
