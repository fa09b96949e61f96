#pragma once
// The torch parts of the trainer that are worth testing on their own: losses with deep
// supervision, nnU-Net's SGD and learning-rate schedule, the AMP loss scale, and the weight and
// checkpoint files.
//
// LibTorch header: include only from Qt-free translation units.
#include "models/Trainer.h"
#include "models/Weights.h"

#include <torch/torch.h>

#include <string>
#include <vector>

namespace panseg::models
{
// ---------------------------------------------------------------------------------------------
// Losses

/// nnU-Net v1 deep-supervision weights for `outputs` heads (highest resolution first):
/// 1 / 2^i, the lowest-resolution head 0, normalised to sum 1. P = 5: 0.533, 0.267, 0.133,
/// 0.067, 0. A single output gets weight 1.
std::vector<double> deepSupervisionWeights(std::int64_t outputs);

/// One-hot float tensor [B, K, ...] of an integer label tensor [B, ...].
torch::Tensor oneHot(const torch::Tensor& target, std::int64_t numClasses);

/// 1 - mean over the foreground classes (background excluded) of the batch soft Dice
/// (2 tp + smooth) / (2 tp + fp + fn + smooth + 1e-8), sums over batch and space (nnU-Net's
/// SoftDiceLoss with batch_dice, do_bg False; nnU-Net reports -dice, i.e. this value minus 1).
/// probs [B, K, ...] (softmax), target one-hot of the same shape.
torch::Tensor softDiceLoss(const torch::Tensor& probs, const torch::Tensor& targetOneHot,
                           double smooth = 1e-5);

/// 1 - mean over the foreground classes of the batch soft Jaccard (Cai et al. eq. 14)
/// (tp + smooth) / (sum p + sum g - tp + smooth + 1e-8).
torch::Tensor softJaccardLoss(const torch::Tensor& probs, const torch::Tensor& targetOneHot,
                              double smooth = 1e-5);

/// Mean cross-entropy of logits [B, K, ...] against labels [B, ...] (int64).
torch::Tensor crossEntropyLoss(const torch::Tensor& logits, const torch::Tensor& target);

/// Labels [B, D, H, W] resized to `size` (D', H', W') with nnU-Net's nearest rule (source index
/// floor((k + 0.5) n / n' - 0.5 + 0.5), i.e. skimage order 0), as its deep-supervision target
/// down-sampling does.
torch::Tensor downsampleTarget(const torch::Tensor& target, const std::vector<std::int64_t>& size);

struct LossValue
{
  torch::Tensor total;   // ce + overlap (weighted over heads)
  torch::Tensor ce;      // cross-entropy part
  torch::Tensor overlap; // 1 - Dice or 1 - Jaccard part
};

/// Loss of one head: CE + (1 - Dice) or CE + (1 - Jaccard). Logits are cast to float32.
LossValue segmentationLoss(const torch::Tensor& logits, const torch::Tensor& target, LossKind kind);

/// Deep-supervision loss: sum_i w_i loss(output_i, target down-sampled to output_i).
/// Heads with weight 0 are not evaluated.
LossValue deepSupervisionLoss(const std::vector<torch::Tensor>& outputs, const torch::Tensor& target,
                              LossKind kind, const std::vector<double>& weights);

// ---------------------------------------------------------------------------------------------
// Optimisation

/// nnU-Net's poly schedule: lr0 * (1 - epoch / epochs)^exponent.
double polyLearningRate(int epoch, int epochs, double lr0, double exponent = 0.9);

/// torch.optim.SGD(momentum, nesterov=True, weight_decay, dampening 0), step for step the same
/// arithmetic, with the momentum buffers exposed for checkpoints. A parameter without a gradient
/// is treated as having a zero gradient (weight decay and momentum still apply, as in PyTorch
/// where nnU-Net's zero-weighted head gets zero gradients).
class NesterovSgd
{
public:
  NesterovSgd(std::vector<torch::Tensor> params, double momentum, double weightDecay);
  void zeroGrad(); // gradients set to undefined (set_to_none)
  void step(double lr);
  std::vector<torch::Tensor>& momentumBuffers() { return buffers_; }
  const std::vector<torch::Tensor>& params() const { return params_; }

private:
  std::vector<torch::Tensor> params_;
  std::vector<torch::Tensor> buffers_; // undefined until the first step
  double momentum_, weightDecay_;
};

/// torch.cuda.amp.GradScaler's dynamic loss scale (init 2^16, x2 after 2000 good steps, x0.5 and
/// skip the step on non-finite gradients).
struct LossScale
{
  double scale = 65536.0;
  int goodSteps = 0;
  /// Returns whether the step may be taken; updates the scale.
  bool update(bool finite);
};

/// Unscales the gradients by 1/scale (when scale != 1), clips their global L2 norm to maxNorm
/// (torch.nn.utils.clip_grad_norm_) and returns the norm before clipping (may be inf/NaN).
double unscaleAndClipGradients(const std::vector<torch::Tensor>& params, double scale,
                               double maxNorm);

// ---------------------------------------------------------------------------------------------
// Files

/// A training checkpoint: JSON header (settings, progress, history) + float32 tensors.
struct CheckpointData
{
  std::string headerJson;             // object; written as is
  StateDict weights;                  // model state dict
  std::vector<torch::Tensor> momentum; // one per parameter, may be undefined
};

/// Writes the checkpoint to `path` atomically (temporary sibling, fsync, rename). On any failure
/// (full disk, file-size limit, permissions) throws panseg::Error with the reason; the previous
/// file at `path` is left untouched and the temporary is removed.
void writeCheckpoint(const std::string& path, const CheckpointData& data);

/// Reads a checkpoint written by writeCheckpoint (tensors on the CPU). Throws panseg::Error for a
/// missing, truncated or foreign file.
CheckpointData readCheckpoint(const std::string& path);

/// Largest absolute difference between two state dicts with the same keys and shapes (throws
/// otherwise).
double maxAbsDifference(const StateDict& a, const StateDict& b);
} // namespace panseg::models
