#pragma once
// Network plans: everything that shapes a PanSegNet / nnU-Net v1 Generic_UNet instance, plus the
// preprocessing facts an nnU-Net v1 plans pickle carries. Pure C++ (no LibTorch), so the worker,
// tools and tests can read plans without compiling torch headers.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace panseg::models
{
namespace pickle
{
struct Value;
}

using Vec3 = std::array<std::int64_t, 3>; // (D, H, W) = (z, y, x)

/// The bottleneck self-attention (Generic_TransUNet's SelfAtten3DBlock). The published model
/// hard-codes 512 / 8 / 8 / 512; the parity fixture shrinks it to 96 / 8 / 2 / 96.
struct AttentionConfig
{
  bool enabled = true; // false: plain nnU-Net v1 Generic_UNet
  std::int64_t dModel = 512;
  std::int64_t numHeads = 8;
  std::int64_t numLayers = 8;
  std::int64_t dimFeedforward = 512;

  bool operator==(const AttentionConfig& o) const;
  bool operator!=(const AttentionConfig& o) const { return !(*this == o); }
};

/// What a plan may ask for. The paper's network is far inside every bound (43.9 M parameters,
/// ~1.5 GB of activations, 8 attention layers); a plan beyond them is refused by validate(),
/// naming the field, before a network is built.
struct PlanLimits
{
  static constexpr std::int64_t kMaxPatchAxis = 1024;
  static constexpr std::int64_t kMaxBaseFeatures = 1024;
  static constexpr std::int64_t kMaxFeatures = 4096;
  static constexpr std::int64_t kMaxInputChannels = 64;
  static constexpr std::int64_t kMaxClasses = 1024;
  static constexpr std::int64_t kMaxAttentionLayers = 64;
  static constexpr std::int64_t kMaxDModel = 8192;
  static constexpr std::int64_t kMaxHeads = 256;
  static constexpr std::int64_t kMaxFeedforward = 32768;
  static constexpr double kMaxParameters = 2e9;               // 8 GB of float32
  static constexpr double kMaxActivationBytes = 64.0 * (1ull << 30); // 64 GiB per forward pass
};

/// Architecture of one network. P = poolStrides.size() down-samplings, P + 1 stages.
struct PlanConfig
{
  Vec3 patchSize{0, 0, 0}; // the network's input size; with attention it is the ONLY accepted size
  std::vector<Vec3> convKernels; // P + 1 entries, per stage, per axis (odd: 1 or 3)
  std::vector<Vec3> poolStrides; // P entries, per down-sampling, per axis (1 or 2)
  std::int64_t baseFeatures = 32;
  std::int64_t maxFeatures = 320;
  std::int64_t inputChannels = 1;
  std::int64_t numClasses = 2; // network output channels, background included
  AttentionConfig attention;

  /// The parity fixture's small configuration (shared/fixtures/pansegnet-parity/config.json).
  static PlanConfig fixture();
  /// The plan that reproduces the paper's 43,921,312 parameters (patch 32x224x224,
  /// kernels [1,3,3]x2 + [3,3,3]x4, pools [1,2,2]x2 + [2,2,2]x3, attention 512/8/8/512).
  static PlanConfig paperLike();

  /// Plans JSON (schema in models/README.md; the fixture's config.json is accepted as is).
  static PlanConfig fromJsonText(const std::string& text,
                                 const std::string& sourceName = "plans JSON");
  static PlanConfig fromJsonFile(const std::string& path);
  std::string toJson() const;

  std::int64_t numPools() const { return static_cast<std::int64_t>(poolStrides.size()); }
  /// C[s] = min(base * 2^s, maxFeatures).
  std::int64_t stageChannels(std::int64_t stage) const;
  /// Stride of the first conv of encoder stage s (1 for s = 0, poolStrides[s-1] otherwise).
  Vec3 encoderStride(std::int64_t stage) const;
  /// nnU-Net v1 quirk: decoder level u (u = 0 deepest) convolves with convKernels[P - u].
  Vec3 decoderKernel(std::int64_t level) const;
  /// Patch divided by the product of all pool strides.
  Vec3 bottleneckGrid() const;
  std::int64_t tokenCount() const;

  /// Learnable parameters of the network (exact: convolutions, instance norms, transposed
  /// convolutions, heads, attention) and the values of its state dict (parameters + the
  /// positional-encoding buffer), i.e. weights.bin's float32 count. Computed in double, so an
  /// absurd plan gives a huge number instead of overflowing.
  double parameterCount() const;
  double stateDictValues() const;
  /// Rough float32 bytes of the activations of one batch-1 forward pass (the largest tensors of
  /// every stage, kept for the skips, plus the decoder and the attention tokens). The paper-like
  /// plan gives ~1.5 GB; its measured peak RSS was 1.9 GiB.
  double activationBytesEstimate() const;

  /// Throws panseg::Error describing the first inconsistency, or naming the field that makes the
  /// network absurdly large (kLimits below) before anything is allocated.
  void validate() const;
  /// One line, e.g. "patch 16x48x80, 5 stages (8-16-32-32-32), attention 96/8/2/96".
  std::string summary() const;

  bool operator==(const PlanConfig& o) const;
  bool operator!=(const PlanConfig& o) const { return !(*this == o); }
};

/// CT normalisation statistics of one modality (plans dataset_properties.intensityproperties).
struct IntensityProperties
{
  double mean = 0, sd = 0, percentile00_5 = 0, percentile99_5 = 0, median = 0, min = 0, max = 0;
};

/// What inference needs from an nnU-Net v1 plans dict (plans.pkl or the `plans` entry of
/// model_final_checkpoint.model.pkl). Axis order of spacings and sizes is (z, y, x).
struct NnUNetPlans
{
  PlanConfig network; // attention set to the published defaults; see planMatchingStateDict()
  std::int64_t stage = 0;
  std::int64_t numModalities = 1;
  std::int64_t numForegroundClasses = 1; // plans num_classes (background excluded)
  std::vector<std::int64_t> allClasses;
  std::vector<std::string> modalities;           // per channel, e.g. "MRI", "CT"
  std::vector<std::string> normalizationSchemes; // per channel, "CT" / "nonCT" / ...
  std::vector<bool> useMaskForNorm;              // per channel
  std::vector<std::optional<IntensityProperties>> intensityProperties; // per channel; empty if none
  std::array<double, 3> targetSpacingMm{0, 0, 0};   // plans_per_stage[stage].current_spacing
  std::array<double, 3> originalSpacingMm{0, 0, 0}; // plans_per_stage[stage].original_spacing
  std::array<std::int64_t, 3> transposeForward{0, 1, 2};
  std::array<std::int64_t, 3> transposeBackward{0, 1, 2};
  std::int64_t batchSize = 0;
  bool doDummy2DDataAug = false;
  std::int64_t convPerStage = 2;
  std::string trainerName; // `name` of a .model.pkl ("nnTransUNetTrainerV2"); empty for plans.pkl
  std::string preprocessorName;
};

/// Reads plans.pkl or model_final_checkpoint.model.pkl. stage < 0 picks the last (3d_fullres)
/// stage. Throws panseg::Error on malformed files or plans this network cannot express.
NnUNetPlans readNnUNetPlans(const std::string& path, int stage = -1);
/// Same, from an already unpickled object (the plans dict or a dict with a `plans` entry).
NnUNetPlans nnUNetPlansFromPickle(const pickle::Value& root, int stage,
                                  const std::string& sourceName);

std::string toString(const Vec3& v, char sep = 'x');
} // namespace panseg::models
