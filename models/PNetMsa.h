#pragma once
// Cai et al.'s PNet-MSA (2D CNN with multi-scale aggregation and deep supervision) and the
// bidirectional ConvLSTM refinement over the slice sequence (docs/pnet-msa.md), their losses,
// package weights and whole-case prediction.
//
// LibTorch header: include only from Qt-free translation units.
#include "models/ModelPackage.h"
#include "models/Predictor.h"
#include "models/Weights.h"

#include "core/Volume.h"

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace panseg::models
{
/// Logits of every unit's side output and of the learned fusion, each [B, 1, H, W].
struct PNetMsaOutputs
{
  torch::Tensor fused;
  std::vector<torch::Tensor> sides; // unit 0 (full resolution) first
};

/// PNet-MSA. Unit k (k = 0..units-1) works at 1/2^k of the input resolution: forward branch
/// `units.k` = convsPerUnit x (conv 3x3 + BatchNorm + ReLU), `features` channels, max-pooling 2x2
/// before units 1..; backward branch: `deconvs.k` = ConvTranspose2d(features -> sideFeatures,
/// kernel = stride = 2^k) + ReLU brings unit k's features to full resolution, the maps of units
/// 0..k are concatenated and `sides.k` (conv 3x3 -> 1 channel) gives side output k; `fuse`
/// (1x1 conv over the side outputs, initialised to their mean) is the learned weighted fusion.
/// Input [B, inputSlices, H, W] with H, W multiples of 2^(units-1); output logits of the middle
/// slice. 1,057,419 parameters with the defaults.
class PNetMsaImpl : public torch::nn::Module
{
public:
  explicit PNetMsaImpl(const PNetMsaSpec& spec);
  torch::Tensor forward(const torch::Tensor& x); // fused logits
  PNetMsaOutputs forwardAll(const torch::Tensor& x);
  const PNetMsaSpec& spec() const { return spec_; }

private:
  PNetMsaSpec spec_;
  std::vector<torch::nn::Sequential> units_;
  std::vector<torch::nn::ConvTranspose2d> deconvs_;
  std::vector<torch::nn::Conv2d> sides_;
  torch::nn::Conv2d fuse_{ nullptr };
};
TORCH_MODULE(PNetMsa);

/// Convolutional LSTM cell (the paper's eqs. 5-9, Shi et al. without peephole terms):
///   i = s(Wxi*x + Whi*h + bi), f = s(Wxf*x + Whf*h + bf), o = s(Wxo*x + Who*h + bo),
///   c' = f . c + i . tanh(Wxc*x + Whc*h + bc),  h' = o . tanh(c').
/// `gates` is one Conv2d over concat(x, h) with 4*hidden output channels in the order i, f, o, g
/// (input channels: x first, then h), kernel `kernel`, padding kernel/2, bias.
class ConvLstmCellImpl : public torch::nn::Module
{
public:
  ConvLstmCellImpl(std::int64_t inputChannels = 1, std::int64_t hiddenChannels = 1, std::int64_t kernel = 3);
  /// x [B, in, H, W], h and c [B, hidden, H, W] (undefined = zeros). Returns (h', c').
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x, torch::Tensor h, torch::Tensor c);
  torch::nn::Conv2d gates{ nullptr };
  std::int64_t hidden = 1;
};
TORCH_MODULE(ConvLstmCell);

/// BiRNN refinement: `forward_cell` runs over the slices 0..D-1, `backward_cell` over D-1..0 (both
/// single-channel ConvLSTMs, 3x3), on the PNet-MSA probability maps; the refined logit of slice t
/// is combine_weight[0] * h_fwd(t) + combine_weight[1] * h_bwd(t) + combine_bias.
class BiConvLstmImpl : public torch::nn::Module
{
public:
  BiConvLstmImpl();
  /// probabilities [D, 1, H, W] (one case's slice sequence, in order) -> logits [D, 1, H, W].
  torch::Tensor forward(const torch::Tensor& probabilities);
  ConvLstmCell forwardCell{ nullptr }, backwardCell{ nullptr };
  torch::Tensor combineWeight, combineBias;
};
TORCH_MODULE(BiConvLstm);

/// The package's network: `cnn` (PNetMsa) and, when spec.birnn, `rnn` (BiConvLstm).
class PNetMsaModelImpl : public torch::nn::Module
{
public:
  explicit PNetMsaModelImpl(const PNetMsaSpec& spec);
  PNetMsa cnn{ nullptr };
  BiConvLstm rnn{ nullptr }; // null without the BiRNN
};
TORCH_MODULE(PNetMsaModel);

// ---- losses (inputs: logits and 0/1 targets of the same shape) -------------------------------

/// Soft Jaccard loss (the paper's eq. 14): 1 - sum(p y) / (sum(p) + sum(y) - sum(p y)), p = sigmoid.
torch::Tensor jaccardLoss(const torch::Tensor& logits, const torch::Tensor& target);
/// Binary cross-entropy, mean over pixels.
torch::Tensor binaryCrossEntropyLoss(const torch::Tensor& logits, const torch::Tensor& target);
/// Class-balanced cross-entropy (HED): beta = |Y-| / |Y| weighs the foreground terms, 1 - beta the
/// background ones; mean over pixels.
torch::Tensor balancedCrossEntropyLoss(const torch::Tensor& logits, const torch::Tensor& target);
/// "jaccard", "ce" or "balanced-ce"; throws panseg::Error otherwise.
torch::Tensor pnetLoss(const std::string& name, const torch::Tensor& logits, const torch::Tensor& target);

// ---- volumes -----------------------------------------------------------------------------------

/// [D, H, W] -> [D, k, H, W]: slice t with its (k-1)/2 neighbours each side (edge slices repeated).
torch::Tensor sliceStacks(const torch::Tensor& volume, std::int64_t k);
/// Zero-pads H and W up to multiples of `divisor` (bottom / right); returns the padded tensor.
torch::Tensor padToMultiple(const torch::Tensor& x, std::int64_t divisor);

/// Foreground probabilities [D, H, W] of a normalised volume [D, H, W] (network grid): the CNN
/// on `batch` slices per call, then the BiRNN over the whole sequence when the model has one and
/// `useRnn`. `progress(done slices, total)` returning false throws Error("cancelled").
torch::Tensor pnetMsaProbabilities(PNetMsaModel& model, const torch::Tensor& volume, std::int64_t batch,
                                   bool useRnn = true,
                                   const std::function<bool(std::int64_t, std::int64_t)>& progress = {});

// ---- packages ----------------------------------------------------------------------------------

/// Builds the package's network and loads weights.bin strictly (names the first bad key); eval().
PNetMsaModel loadPnetMsaNetwork(const ModelPackage& pkg);

/// Writes `meta` (info.modelType forced to "pnet-msa") with the model's weights as a package at
/// `dir`: into a temporary sibling, loaded back and checked, then moved into place (an existing
/// package there is replaced only after the new one is complete). Returns the loaded package.
ModelPackage savePnetMsaPackage(const std::string& dir, ModelPackage meta, PNetMsaModel& model);

/// A PNet-MSA package in memory (metadata only) with the defaults and CT/MR normalisation.
ModelPackage pnetMsaPackageTemplate(const std::string& modality, const PNetMsaSpec& spec = {});

/// Whole-case prediction with a loaded model (the Predictor's pnet-msa path): core/preprocess
/// (crop to non-zero, in-plane resampling to the package's spacing, z untouched, normalisation)
/// -> slice stacks -> CNN in batches -> BiRNN -> threshold -> export onto the input's exact grid.
class PNetMsaRunner
{
public:
  PNetMsaRunner(const ModelPackage& pkg, torch::Device device);
  PredictResult predict(const Image& image, const PredictOptions& opt);
  /// Median ms of one CNN call on `batch` slices of `h` x `w` (random input).
  double timeBatchMs(int reps, int warmup, std::int64_t batch, std::int64_t h = 96, std::int64_t w = 96);
  std::int64_t parameterCount() const;
  torch::Device device() const { return device_; }

private:
  ModelPackage pkg_;
  PNetMsaModel model_{ nullptr };
  torch::Device device_{ torch::kCPU };
};
} // namespace panseg::models
