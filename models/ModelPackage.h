#pragma once
// Model packages: the folder the workstation predicts with (format in models/README.md).
//
//   PACKAGE/plans.json    network shape (PlanConfig JSON) + preprocessing, inference, classes
//   PACKAGE/model.json    name, version, modality, type, training data, metrics, lineage, demo flag
//   PACKAGE/weights.bin   every state-dict tensor, float32 little-endian, concatenated
//   PACKAGE/weights.json  index: name, shape, dtype, offset, nbytes (the parity fixture's format)
//
// Pure C++ (no LibTorch): the worker, the tools and the tests read and check packages without
// compiling torch headers. Loading the weights into a network is in PackageWeights.h (torch).
#include "models/Json.h"
#include "models/NnUNetV2.h"
#include "models/Plans.h"

#include "core/preprocess/Preprocess.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace panseg::models
{
/// What nnU-Net v1 does to an image before the network, and the inference settings.
struct PreprocessingSpec
{
  std::array<double, 3> targetSpacingMm{ 0, 0, 0 }; // (z, y, x)
  std::string normalization = "nonCT";              // "CT", "CT2", "nonCT", "noNorm"
  std::optional<IntensityProperties> intensity;     // required for CT and CT2
  bool useMaskForNorm = false;
  double anisotropyThreshold = 3.0;                  // separate-z rule (max/min spacing)
  std::array<std::int64_t, 3> transposeForward{ 0, 1, 2 };  // any permutation (target spacing,
  std::array<std::int64_t, 3> transposeBackward{ 0, 1, 2 }; // patch, mirror axes: transposed order)
  std::array<bool, 3> mirrorAxes{ true, true, true };        // (z, y, x) axes TTA may flip
  double stepSize = 0.5;                                     // default sliding-window step
  std::vector<int> largestComponentLabels; // nnU-Net postprocessing.json; empty = none
  /// nnU-Net v1 fold ensembles (plans.json "folds"): the folds whose networks are averaged at
  /// inference, their weights stored as "fold_<k>/<key>" (v2FoldWeightPrefix, k = position);
  /// empty or one fold = a single network with plain keys.
  std::vector<int> folds;
  std::size_t foldCount() const { return folds.empty() ? 1 : folds.size(); }
};

/// Network and inference settings of a "pnet-msa" package (Cai et al.'s PNet-MSA + BiRNN,
/// docs/pnet-msa.md): a 2D network on `inputSlices` adjacent axial slices resampled in-plane to
/// `inPlaneSpacingYxMm` (z is never resampled), normalised like nnU-Net (PreprocessingSpec),
/// thresholded at `threshold`.
struct PNetMsaSpec
{
  std::int64_t units = 5;          // unit modules (max-pooling between them)
  std::int64_t convsPerUnit = 4;   // conv 3x3 + BN + ReLU per forward branch
  std::int64_t features = 64;      // channels of the forward branches
  std::int64_t sideFeatures = 16;  // channels each unit contributes to the backward branches
  std::int64_t inputSlices = 3;    // adjacent slices in, probability of the middle one out
  bool birnn = true;               // bidirectional ConvLSTM refinement over the slice sequence
  std::array<double, 2> inPlaneSpacingYxMm{ 3.2, 3.2 };
  double threshold = 0.5;
  std::int64_t sliceBatch = 8;     // slices per network call when predicting

  /// H and W must be multiples of this (2^(units-1)); the predictor pads.
  std::int64_t sizeDivisor() const { return std::int64_t{ 1 } << (units - 1); }
  /// "PNet-MSA 5 units x 4 convs, 64 ch, 3 slices, BiRNN"
  std::string summary() const;
  /// Throws panseg::Error naming the bad field.
  void validate() const;
};

struct ClassInfo
{
  int label = 0;
  std::string name;
};

/// model.json: who the model is and where it came from.
struct ModelInfo
{
  std::string name;
  std::string version = "1";
  std::string modality; // "CT" or "MR"
  std::string modelType = "pansegnet";
  std::string description;
  std::string trainingData; // one-paragraph summary
  json::Value metrics;      // object, free form (e.g. {"dice_val": 0.85})
  json::Value lineage;      // object, free form (source, checkpoint, epoch, trainer, importer)
  bool demo = false;
  bool clinicalUse = false; // never true for demo models
  std::string created;      // ISO 8601 UTC
  /// How fast the model predicts, for listings: "fast-cpu" (a whole case in seconds on a CPU),
  /// "gpu-recommended" (minutes on a CPU); empty = not stated (PanSegNet packages before it).
  std::string speedClass;
  /// model.json "weights": {"sha256": ...}: weights.bin's SHA-256 as the writer recorded it;
  /// empty for packages written before checksums (loaded, but reported as unverified).
  std::string weightsSha256;
};

/// One entry of weights.json.
struct WeightEntry
{
  std::string name;
  std::vector<std::int64_t> shape;
  std::int64_t offset = 0;
  std::int64_t nbytes = 0;
};

struct ModelPackage
{
  std::string dir;   // absolute folder ("" for a package assembled in memory)
  PlanConfig network;
  PreprocessingSpec preprocessing;
  std::vector<ClassInfo> classes; // label 0 = background first; size == network.numClasses
  ModelInfo info;
  std::string weightsPath;      // weights.bin
  std::string weightsIndexPath; // weights.json
  std::vector<WeightEntry> weights;
  std::int64_t weightsBytes = 0;
  /// Set by loadModelPackage: weights.bin's SHA-256 as read now, and whether model.json recorded
  /// one (a recorded one that differs is an error, so verified means "matches the record").
  std::string weightsSha256;
  bool weightsVerified = false;
  /// Only for info.modelType "pnet-msa" (`network` then keeps its defaults: 1 input channel,
  /// 2 classes, and is not used).
  PNetMsaSpec pnet;
  /// Only for info.modelType "nnunetv2" (docs/nnunet-models.md): nnU-Net v2's plans, dataset.json,
  /// configuration, trainer and mirroring axes. `network` then carries only the patch size, the
  /// class count and one input channel (the sliding window's sizes).
  V2ModelSpec v2;

  bool isPnetMsa() const { return info.modelType == "pnet-msa"; }
  bool isNnUNetV2() const { return info.modelType == "nnunetv2"; }
  /// network.summary() or pnet.summary(), by model type.
  std::string networkSummary() const;
  /// "name version", e.g. "PanSegNet CT 1" (the id stored with predicted masks).
  std::string id() const;
  /// core/preprocess parameters for this package (threads 0 = all cores).
  nnunet::PreprocessParams preprocessParams(int threads = 0) const;
  /// Throws panseg::Error naming the first inconsistency (classes vs network, CT without
  /// intensity properties, a transpose that is not a permutation, ...). Does not touch the weights file.
  void validate() const;
};

/// Reads and checks DIR/plans.json, DIR/model.json and DIR/weights.json (index consistent with
/// weights.bin's size; the plan's state-dict size equal to it, so an absurd plan fails before a
/// network is built), then reads weights.bin once: its SHA-256 must equal model.json's
/// "weights.sha256" when recorded ("weights.bin: SHA-256 mismatch ..."), and all-zero or NaN /
/// infinite weights are refused. Every failure is a panseg::Error naming the file and the key, e.g.
/// "model package /x: plans.json: missing key \"preprocessing\"". Shapes of the tensors against
/// the network are checked when the weights are loaded (PackageWeights.h), naming the key.
ModelPackage loadModelPackage(const std::string& dir);

/// True when DIR holds the three metadata files (a cheap test; no validation).
bool looksLikeModelPackage(const std::string& dir);

/// The two metadata files' text.
std::string plansJsonText(const ModelPackage& pkg);
std::string modelJsonText(const ModelPackage& pkg);
/// Unverified packages (no SHA-256 in model.json): one line saying so, for logs and the worker's
/// "message" event; empty for a verified package.
std::string unverifiedWeightsNote(const ModelPackage& pkg);
/// Writes plans.json and model.json into `dir` (atomically each). When DIR/weights.bin exists its
/// SHA-256 is computed and recorded in model.json (whatever pkg.info.weightsSha256 says), so every
/// writer (import, panseg-train, the demo packages, package-fixture) records the weights it wrote.
void writePackageMetadata(const std::string& dir, const ModelPackage& pkg);

/// Fills the network, preprocessing and classes of a package from nnU-Net v1 plans (`network`
/// is the plan after planMatchingStateDict). Modality "CT" / "MR" from the plans' modalities.
ModelPackage packageFromNnUNetPlans(const NnUNetPlans& plans, const PlanConfig& network);

/// A package in memory for a case folder of shared/fixtures/pansegnet-pipeline (its plans.json
/// "summary", including the network sizes that are not in the plans) with the weights of
/// shared/fixtures/pansegnet-parity (weights.bin + weights.json, read in place).
ModelPackage packageFromPipelineFixture(const std::string& pipelinePlansJson,
                                        const std::string& parityFixtureDir);

/// Options of importNnUNetResult().
struct ImportOptions
{
  std::string name;     // default: "<trainer> <result folder name>"
  std::string version = "1";
  std::string modality; // "CT" / "MR"; default from the plans
  std::string trainingData;
  bool demo = false;
  bool force = false; // replace an existing package at the destination
  /// Folds to import and average at inference; empty = every fold_N holding the checkpoint, as
  /// nnUNet_predict does by default.
  std::vector<int> folds;
  std::string checkpoint = "model_final_checkpoint";
};

/// Converts an nnU-Net v1 result folder (RESULT/fold_N/model_final_checkpoint.model + .model.pkl,
/// RESULT/plans.pkl when present, RESULT/postprocessing.json when present) into a package at
/// `outDir`, without Python. Several folds become one package whose prediction averages their
/// softmax (nnUNet_predict's ensemble); every fold must have the first fold's plans and network
/// (a mismatch names the file and the key). The package is written into a temporary sibling,
/// loaded back into its networks (strict state-dict check) and then renamed into place.
/// Implemented in PackageWeights.cpp (LibTorch) but callable from torch-free code.
ModelPackage importNnUNetResult(const std::string& resultDir, const std::string& outDir,
                                const ImportOptions& options = {});

/// Options of importNnUNetV2Result().
struct ImportV2Options
{
  std::string name;     // default: "<dataset> <configuration>"
  std::string version = "1";
  std::string modality; // "CT" / "MR"; default from dataset.json channel_names
  std::string trainingData;
  bool force = false;
  std::string configuration;                      // default: from the folder name
  std::string checkpoint = "checkpoint_final.pth"; // or checkpoint_best.pth
  /// Folds to import and average at inference ("0", "1", ..., "all" = fold_all). Empty: every
  /// fold_N holding the checkpoint, as nnUNetv2_predict does by default.
  std::vector<std::string> folds;
};

/// Package weights of a multi-fold nnU-Net v2 package are stored as "fold_<k>/<key>" (k = the
/// fold's position in V2ModelSpec::folds); a single fold keeps the plain keys.
std::string v2FoldWeightPrefix(std::size_t position, std::size_t folds);

/// Converts an nnU-Net v2 trained-model folder (RESULT/dataset.json, RESULT/plans.json,
/// RESULT/fold_N/checkpoint_final.pth) - or the zip nnUNetv2_export_model_to_zip writes - into a
/// package at `outDir` without Python (model_type "nnunetv2"). Written into a temporary sibling,
/// loaded back into the network (strict), then renamed into place. Implemented in
/// PackageWeights.cpp (LibTorch) but callable from torch-free code.
ModelPackage importNnUNetV2Result(const std::string& resultDirOrZip, const std::string& outDir,
                                  const ImportV2Options& options = {});

/// Writes a "pnet-msa" package (docs/pnet-msa.md) with randomly initialised weights (torch seed
/// `seed`) and generic CT / MR normalisation at `dir` (replacing a package there): benchmarks and
/// plumbing tests only. Implemented in PNetMsa.cpp (LibTorch) but callable from torch-free code.
ModelPackage writeRandomPnetMsaPackage(const std::string& dir, const std::string& modality,
                                       std::uint64_t seed = 0);

/// Serialises a JSON value (2-space indentation).
std::string toJsonText(const json::Value& v, int indent = 0);
/// The current time as ISO 8601 UTC ("2026-11-23T03:50:00Z"), for model.json "created".
std::string utcNowIso();
} // namespace panseg::models
