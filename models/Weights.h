#pragma once
// Getting weights into a PanSegNet: state dicts, the parity fixture's weights.bin, nnU-Net v1
// checkpoints written by torch.save (model_final_checkpoint.model), and raw tensor files.
//
// LibTorch header: include only from Qt-free translation units.
#include "models/Plans.h"

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace panseg::models
{
/// Name -> tensor in Python state_dict order (parameters and buffers, as torch.save stores them).
using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

/// The module's state dict in PyTorch's order (per module: own parameters, own buffers, then
/// children in registration order). The tensors alias the module's storage.
StateDict stateDictOf(const torch::nn::Module& module);

/// Copies `weights` into `module`. Every key must exist on both sides with the same shape; the
/// first mismatch (missing key, unexpected key, shape, non-floating dtype) raises panseg::Error
/// naming the key. A `module.` prefix (DataParallel) on every key is stripped first.
void loadStateDict(torch::nn::Module& module, const StateDict& weights);

/// The parity fixture's weights.bin + weights.json index (float32, little-endian).
StateDict readFixtureWeights(const std::string& binPath, const std::string& indexJsonPath);

/// What a torch.save'd nnU-Net v1 checkpoint holds that inference needs.
struct NnUNetCheckpoint
{
  StateDict stateDict;
  std::int64_t epoch = -1; // -1 when the file is a bare state dict
  // nnU-Net v2 checkpoint_final.pth / checkpoint_best.pth ("network_weights" instead of
  // "state_dict"): the trainer's class name, init_args["configuration"], and
  // inference_allowed_mirroring_axes (hasMirrorAxes false when absent or None).
  bool v2 = false;
  std::string trainerName;
  std::string configuration;
  bool hasMirrorAxes = false;
  std::vector<std::int64_t> mirrorAxes;
};

/// Reads `model_final_checkpoint.model` (zip container + data.pkl) without Python and without
/// torch::pickle_load (which cannot read OrderedDict); also nnU-Net v2's `checkpoint_*.pth`. Only the state_dict's storages are read.
/// Truncated, corrupt or unexpected files raise panseg::Error with the path and the reason.
NnUNetCheckpoint readNnUNetCheckpoint(const std::string& path);

/// Adapts `plan` to what a state dict implies and checks the rest: attention on/off, d_model,
/// layer count, FFN width, feature cap, input channels and classes are taken from the weights;
/// stage count, kernels, strides and token count must agree, otherwise panseg::Error.
/// (nhead is not recoverable from weights and is kept from `plan`.)
PlanConfig planMatchingStateDict(PlanConfig plan, const StateDict& weights);

/// Raw little-endian C-contiguous tensor file (the fixture's .bin files). The byte count must
/// equal the shape's; `dtype` is torch::kFloat or torch::kDouble (any fixed-size type works).
torch::Tensor readRawTensor(const std::string& path, const std::vector<std::int64_t>& shape,
                            torch::ScalarType dtype = torch::kFloat);
/// Writes a tensor (made contiguous, moved to CPU) as raw little-endian bytes.
void writeRawTensor(const std::string& path, const torch::Tensor& t);

/// "[1, 2, 16, 48, 80]"
std::string shapeToString(c10::IntArrayRef shape);
} // namespace panseg::models
