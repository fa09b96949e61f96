#pragma once
// nnU-Net v2 models (docs/nnunet-models.md): the network description from a plans.json
// configuration's "architecture" (dynamic_network_architectures' PlainConvUNet and
// ResidualEncoderUNet), and the inference settings (normalisation, resampling, transpose, reader,
// mirroring, labels) from plans.json + dataset.json + the checkpoint. Pure C++ (no LibTorch).
#include "models/Json.h"
#include "models/Plans.h"

#include "core/preprocess/NnUNetV2.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace panseg::models
{
/// arch_kwargs of PlainConvUNet / ResidualEncoderUNet (3-D only).
struct V2NetworkSpec
{
  std::string architecture;               // "PlainConvUNet" or "ResidualEncoderUNet"
  std::vector<std::int64_t> features;     // per stage
  std::vector<Vec3> kernels;              // per stage
  std::vector<Vec3> strides;              // per stage (stage 0 usually 1,1,1)
  std::vector<std::int64_t> convsPerStage; // PlainConvUNet: n_conv_per_stage; ResEnc: n_blocks_per_stage
  std::vector<std::int64_t> convsPerStageDecoder; // n_stages - 1 entries
  bool convBias = true;
  double normEps = 1e-5;
  bool normAffine = true;
  double negativeSlope = 0.01; // LeakyReLU; 0 = ReLU
  std::int64_t inputChannels = 1;
  std::int64_t numClasses = 2; // output channels, background included
  Vec3 patchSize{ 0, 0, 0 };

  bool residual() const { return architecture == "ResidualEncoderUNet"; }
  std::int64_t stages() const { return static_cast<std::int64_t>(features.size()); }
  /// From a plans.json configuration's "architecture" object. Throws panseg::Error naming the
  /// key for unknown classes (network, conv, norm, non-linearity), 2-D convolutions, bad sizes.
  static V2NetworkSpec fromArchitecture(const json::Value& architecture, std::int64_t inputChannels,
                                        std::int64_t numClasses, const Vec3& patch,
                                        const std::string& context);
  /// Learnable parameters (exact), the float32 count of the (alias-free) state dict.
  double parameterCount() const;
  /// Plan bounds as for PanSegNet plans (PlanLimits), naming the field.
  void validate() const;
  /// "PlainConvUNet, patch 8x64x80, 5 stages (8-16-32-64-64)"
  std::string summary() const;
};

/// Everything an nnU-Net v2 package predicts with.
struct V2ModelSpec
{
  std::string configuration;   // "3d_fullres"
  std::string trainerName;     // "nnUNetTrainer"
  std::string plansName;       // "nnUNetPlans"
  std::string datasetName;
  std::string readerWriter;    // image_reader_writer
  V2NetworkSpec network;
  nnunet::v2::Params params;   // preprocessing + export (threads 0)
  std::vector<int> mirrorAxes{ 0, 1, 2 }; // inference_allowed_mirroring_axes (network axes)
  std::vector<std::pair<int, std::string>> labels; // dataset.json labels, value -> name, sorted
  std::vector<std::string> channelNames;
  std::vector<int> folds;      // folds averaged at inference (the package's weights sets)
  double stepSize = 0.5;
  json::Value plansJson, datasetJson; // nnU-Net's files, verbatim (kept in the package)
};

/// Builds the spec from nnU-Net's plans.json and dataset.json objects and a configuration name.
/// Refuses, with one line naming the file and the key: cascades (previous_stage /
/// 3d_lowres -> 3d_cascade_fullres), 2-D configurations, region-based labels, unknown network
/// classes or normalisation schemes, resampling functions other than nnU-Net's default.
V2ModelSpec v2SpecFromPlans(const json::Value& plans, const json::Value& datasetJson,
                            const std::string& configuration, const std::string& plansSource,
                            const std::string& datasetSource);

/// Reads RESULT/plans.json and RESULT/dataset.json; configuration from the folder name
/// (Trainer__Plans__configuration) unless given.
V2ModelSpec readV2ResultFolder(const std::string& resultDir, std::string configuration = {});

/// True when DIR looks like an nnU-Net v2 result folder (plans.json + dataset.json).
bool looksLikeNnUNetV2Result(const std::string& dir);

/// Folds of a result folder that hold `checkpointName` (fold_0 ... fold_N, fold_all), sorted.
std::vector<std::string> v2FoldsIn(const std::string& resultDir, const std::string& checkpointName);
} // namespace panseg::models
