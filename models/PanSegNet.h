#pragma once
// PanSegNet (NUBagciLab's Generic_TransUNet as built by nnTransUNetTrainerV2): nnU-Net v1's
// Generic_UNet driven entirely by a PlanConfig, plus the linear-attention transformer on the
// bottleneck (spec: shared/docs/pansegnet-reference.md §1). Module and parameter names reproduce
// the Python state_dict keys, so checkpoints load one-to-one.
//
// LibTorch header: include only from Qt-free translation units.
#include "models/Plans.h"

#include <torch/torch.h>

#include <string>
#include <vector>

namespace panseg::models
{
/// InstanceNorm3d(affine, eps, no running statistics): parameters `weight`, `bias` only.
class InstanceNorm3dImpl : public torch::nn::Module
{
public:
  InstanceNorm3dImpl(std::int64_t channels, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;

private:
  double eps_;
};
TORCH_MODULE(InstanceNorm3d);

/// nnU-Net's ConvDropoutNormNonlin: Conv3d(bias) -> InstanceNorm3d -> LeakyReLU(0.01).
/// Children `conv`, `instnorm`.
class ConvNormReluImpl : public torch::nn::Module
{
public:
  ConvNormReluImpl(std::int64_t in, std::int64_t out, const Vec3& kernel, const Vec3& stride);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv3d conv{nullptr};
  InstanceNorm3d instnorm{nullptr};
};
TORCH_MODULE(ConvNormRelu);

/// nnU-Net's StackedConvLayers: child `blocks` = [ConvNormRelu...]; only the first is strided.
class StackedConvImpl : public torch::nn::Module
{
public:
  StackedConvImpl(std::int64_t in, std::int64_t out, const Vec3& kernel, const Vec3& firstStride,
                  int numConvs);
  torch::Tensor forward(torch::Tensor x);

private:
  torch::nn::ModuleList blocks_{nullptr};
  std::vector<ConvNormRelu> typed_;
};
TORCH_MODULE(StackedConv);

/// Children `linears.{0..3}` (Q, K, V, output). Linear attention per spec §1.4.
class LinearMultiHeadAttentionImpl : public torch::nn::Module
{
public:
  LinearMultiHeadAttentionImpl(std::int64_t dModel, std::int64_t numHeads);
  torch::Tensor forward(const torch::Tensor& tokens); // [B, L, dModel]

private:
  std::int64_t numHeads_, dHead_;
  torch::nn::ModuleList linears_{nullptr};
  std::vector<torch::nn::Linear> typed_;
};
TORCH_MODULE(LinearMultiHeadAttention);

/// Post-norm transformer layer: children self_attn, linear1, linear2, layer_norm1, layer_norm2.
class TransformerLayerImpl : public torch::nn::Module
{
public:
  TransformerLayerImpl(std::int64_t dModel, std::int64_t numHeads, std::int64_t dimFeedforward);
  torch::Tensor forward(const torch::Tensor& tokens);
  LinearMultiHeadAttention self_attn{nullptr};
  torch::nn::Linear linear1{nullptr}, linear2{nullptr};
  torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
};
TORCH_MODULE(TransformerLayer);

struct ForwardTrace;

/// SelfAtten3DBlock: children linear_proj, linear_back_proj, pos_encode (buffer `pe`),
/// transformer (child `layers`). Output replaces the bottleneck features.
class SelfAttention3DImpl : public torch::nn::Module
{
public:
  SelfAttention3DImpl(std::int64_t inChannels, const AttentionConfig& cfg, std::int64_t tokens);
  torch::Tensor forward(const torch::Tensor& x,
                        ForwardTrace* trace = nullptr); // [B, C, D', H', W']
  torch::nn::Linear linear_proj{nullptr}, linear_back_proj{nullptr};
  torch::Tensor positionalEncoding() const { return pe_; }

private:
  torch::Tensor pe_;
  std::vector<TransformerLayer> layers_;
};
TORCH_MODULE(SelfAttention3D);

/// Fixed sinusoidal encoding, shape [1, tokens, dModel], float32 (spec §1.4 step 3).
torch::Tensor sinusoidalPositionalEncoding(std::int64_t tokens, std::int64_t dModel);

/// Everything the parity fixture stores, captured during one forward pass.
struct ForwardTrace
{
  std::vector<torch::Tensor> encoder;         // stage outputs 0..P (P = bottleneck)
  torch::Tensor attentionTokens;              // after linear_proj + positional encoding [B, L, d]
  std::vector<torch::Tensor> attentionLayers; // after each transformer layer [B, L, d]
  torch::Tensor attentionOut;                 // back on the grid [B, C, D', H', W']
  std::vector<torch::Tensor> upsampled;       // transposed-conv outputs per decoder level
  std::vector<torch::Tensor> decoder;         // conv-stack outputs per decoder level (0 = deepest)
};

class PanSegNetImpl : public torch::nn::Module
{
public:
  /// Builds the network for `plan` (validated) with nnU-Net's He-normal initialisation.
  explicit PanSegNetImpl(const PlanConfig& plan);

  /// Inference output: full-resolution logits [B, K, D, H, W] (no softmax).
  torch::Tensor forward(const torch::Tensor& x);
  /// Deep-supervision outputs, highest resolution first (P tensors, each at its own resolution).
  std::vector<torch::Tensor> forwardDeepSupervision(const torch::Tensor& x);
  /// Deep-supervision outputs plus every intermediate in `trace`.
  std::vector<torch::Tensor> forwardTraced(const torch::Tensor& x, ForwardTrace& trace);

  const PlanConfig& plan() const { return plan_; }
  /// Throws panseg::Error when x cannot go through this network (rank, channels, size).
  void checkInput(const torch::Tensor& x) const;

private:
  PlanConfig plan_;
  torch::nn::ModuleList conv_blocks_localization{nullptr}, conv_blocks_context{nullptr},
      tu{nullptr}, seg_outputs{nullptr};
  SelfAttention3D self_atten{nullptr};
  std::vector<StackedConv> encoder_;    // stages 0..P-1
  std::vector<StackedConv> bottleneck_; // two one-block stacks
  std::vector<std::vector<StackedConv>> localization_;
  std::vector<torch::nn::ConvTranspose3d> upsample_;
  std::vector<torch::nn::Conv3d> heads_;

  std::vector<torch::Tensor> run(const torch::Tensor& x, bool allHeads, ForwardTrace* trace);
};
TORCH_MODULE(PanSegNet);

/// Number of parameters (buffers such as the positional encoding excluded).
std::int64_t parameterCount(const torch::nn::Module& module);

// ---------------------------------------------------------------------------------------------
// Runtime helpers shared by the worker, the tools and the tests.

/// Sets LibTorch's intra-op threads; n <= 0 means std::thread::hardware_concurrency().
/// Returns the count in effect.
int configureThreads(int n);

/// "cpu", "cuda" or "cuda:N"; throws panseg::Error for CUDA when no GPU is usable.
torch::Device parseDevice(const std::string& name);

/// CUDA fp16 autocast for the guard's lifetime (what nnUNet_predict does on GPU), using the
/// non-deprecated API of the LibTorch it is compiled against. No effect when `enable` is false.
class CudaAutocast
{
public:
  explicit CudaAutocast(bool enable);
  ~CudaAutocast();
  CudaAutocast(const CudaAutocast&) = delete;
  CudaAutocast& operator=(const CudaAutocast&) = delete;

private:
  bool active_ = false;
  bool previous_ = false;
};

/// Disables TF32 in cuDNN / cuBLAS (for fp32 parity on Ampere and newer) or re-enables it.
void setCudaTf32(bool allow);
} // namespace panseg::models
