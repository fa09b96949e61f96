#pragma once
// dynamic_network_architectures' PlainConvUNet and ResidualEncoderUNet (v0.4.x, as nnU-Net v2
// builds them from a plans configuration's arch_kwargs), in LibTorch, inference only (deep
// supervision off: the last segmentation head). Module names reproduce the Python state_dict
// keys (encoder.stages.S.0.convs.C.conv.weight, encoder.stem.convs.0..., encoder.stages.S.blocks.B
// .conv1/.conv2/.skip..., decoder.transpconvs.U, decoder.stages.U.convs.C..., decoder.seg_layers.U).
// Python's state dict also holds aliases of the same tensors (`.all_modules.N.` inside every conv
// block and the whole encoder again under `decoder.encoder.`): canonicalV2StateDict() drops them.
//
// LibTorch header: include only from Qt-free translation units.
#include "models/NnUNetV2.h"
#include "models/Weights.h"

#include <torch/torch.h>

#include <memory>
#include <vector>

namespace panseg::models
{
class V2ConvBlockImpl;
class V2NetImpl : public torch::nn::Module
{
public:
  explicit V2NetImpl(const V2NetworkSpec& spec);
  /// [B, C, D, H, W] -> logits [B, K, D, H, W] (no softmax).
  torch::Tensor forward(const torch::Tensor& x);
  const V2NetworkSpec& spec() const { return spec_; }

private:
  struct Parts;
  V2NetworkSpec spec_;
  std::shared_ptr<Parts> parts_;
};
TORCH_MODULE(V2Net);

/// True for Python state-dict keys that alias another entry (dropped on import).
bool isV2AliasKey(const std::string& key);
/// The state dict without alias keys, in the original order.
StateDict canonicalV2StateDict(const StateDict& weights);

/// Loads an nnU-Net v2 checkpoint's network_weights into a new network of `spec` (strict:
/// the first missing / unexpected key or wrong shape names the key and `sourceName`).
V2Net loadV2Network(const V2NetworkSpec& spec, const StateDict& weights, const std::string& sourceName);
} // namespace panseg::models
