#pragma once
// PanSegNet trainer: nnU-Net v1 / nnTransUNetTrainerV2 recipe (shared/docs/pansegnet-reference.md
// §5) scaled to what a workstation can run, in LibTorch, Qt-free. This header is torch-free so
// the worker, the tools and the tests can include it cheaply.
//
//   std::vector<TrainCase> cases = ...;            // images + masks (+ patient ids)
//   TrainOptions o;  o.plan = demoPlan();  o.epochs = 40;  o.checkpointDir = out + "/checkpoint";
//   o.outputDir = out;                             // model folder written at the end
//   TrainResult r = train(cases, o, [](const TrainProgress& p) { print(p); return !cancelled; });
//
// Recipe: preprocessing = panseg::nnunet::preprocess (crop, resample to the target spacing,
// CT normalisation with foreground intensity statistics); batches of patches with 33 %
// foreground oversampling (nnU-Net's per-batch rule); augmentation: in-plane rotation, scaling,
// mirroring on all axes, Gaussian noise, brightness, gamma (inverted and not); loss Dice + CE
// (batch Dice, smooth 1e-5, background excluded) or Jaccard + CE, deep supervision weights
// 1/2^i normalised with the lowest output 0, targets down-sampled by nnU-Net's nearest rule;
// SGD Nesterov (momentum 0.99, weight decay 3e-5), poly learning rate lr0 (1 - e/E)^0.9, gradient
// norm clipped at 12; fp16 autocast with a dynamic loss scale on CUDA. Validation after every
// epoch: whole-case sliding window (step 0.5, Gaussian, no mirroring) on the held-out patients,
// Dice per case on the preprocessed grid. A checkpoint after every epoch (atomic); resume
// reproduces the uninterrupted run bit for bit on the same device and thread count.
#include "core/Volume.h"
#include "models/ClickSimulation.h"
#include "models/ModelPackage.h"
#include "models/Plans.h"

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace panseg::models
{
/// One training case: an image and its mask on the same grid.
struct TrainCase
{
  std::string id;        // unique case id (file stem, series uid, ...)
  std::string patientId; // split unit; empty = the case id
  Image image;
  LabelMask mask; // 0 = background; with 2 classes any non-zero label is foreground
};

struct AugmentationOptions
{
  bool enabled = true;
  double rotationProbability = 0.2;
  double rotationMaxDeg = 15.0; // in-plane (H, W) only
  double scaleProbability = 0.2;
  double scaleMin = 0.85, scaleMax = 1.15;
  bool mirror = true; // each axis with probability 0.5
  double noiseProbability = 0.1;
  double noiseMaxSigma = 0.1; // sigma ~ U(0, max) on the normalised image
  double brightnessProbability = 0.15;
  double brightnessMin = 0.75, brightnessMax = 1.25;
  double gammaProbability = 0.3;         // nnU-Net GammaTransform(retain_stats)
  double gammaInvertedProbability = 0.1; // the inverted-image variant
  double gammaMin = 0.7, gammaMax = 1.5;
};

struct SplitOptions
{
  int folds = 0;                    // 0 = hold-out; k >= 2 = k-fold by patient
  int fold = 0;                     // which fold is validated (0..k-1)
  double validationFraction = 0.2; // hold-out share of patients; 0 = no validation
  std::uint64_t seed = 12345;       // shuffle of the patients (nnU-Net's KFold seed)
  std::vector<std::string> validationIds; // explicit validation case ids (override)
};

enum class LossKind
{
  DiceCE,   // nnU-Net: (1 - soft Dice) + cross-entropy
  JaccardCE // Cai et al. eq. 14: (1 - sum(pg) / (sum p + sum g - sum pg)) + cross-entropy
};

struct TrainOptions
{
  PlanConfig plan;
  /// Target spacing, normalisation (+ inference settings written to plans.json). For CT / CT2
  /// the intensity properties are computed from the training split's foreground when
  /// intensityFromData is set (nnU-Net computes them over the whole training set).
  PreprocessingSpec preprocessing;
  bool intensityFromData = true;
  AugmentationOptions augmentation;
  SplitOptions split;
  LossKind loss = LossKind::DiceCE;
  /// A click-conditioned package (models/Guidance.h, model_type "pansegnet-clicks"): the plan has
  /// 1 + 3 input channels and every training patch gets simulated click guidance
  /// (ClickSimulation.h); validation runs in the automatic mode (guidance all zero). A base model
  /// with one input channel is widened: its first convolution gets zero weights for the guidance
  /// channels, so training starts from exactly the base model's automatic predictions.
  bool clickGuidance = false;
  ClickSimulationOptions clickSimulation;

  int epochs = 50;
  int iterationsPerEpoch = 250;
  int batchSize = 2;
  double initialLearningRate = 0.01; // nnU-Net from scratch; use e.g. 1e-3 to fine-tune
  double polyExponent = 0.9;
  double momentum = 0.99;
  double weightDecay = 3e-5;
  double gradientClipNorm = 12.0;
  double foregroundOversample = 0.33;
  std::uint64_t seed = 12345; // weights init, sampling, augmentation

  std::string device = "cpu"; // cpu, cuda, cuda:N
  bool amp = true;            // fp16 autocast + loss scaling; only on CUDA
  /// CUDA: deterministic cuDNN algorithms (needed for bit-reproducible GPU runs; a bit slower).
  bool deterministicCuda = true;
  int threads = 0; // intra-op threads; <= 0 = hardware concurrency

  int validateEvery = 1;       // epochs; the last epoch is always validated
  bool validateInitial = false; // also validate the untrained (or base) weights before epoch 0
  double validationStepSize = 0.5;

  /// Fine-tuning: start from this model package's weights (its network must equal `plan`);
  /// empty = nnU-Net's He initialisation from `seed`.
  std::string baseModelDir;

  std::string checkpointDir; // empty = no checkpoints
  bool resume = false;       // continue from checkpointDir's checkpoint when there is one
  std::string cacheDir;      // empty = preprocessed cases only in memory
  /// Model package written at the end (plans.json, model.json, weights.bin, weights.json; the
  /// format of ModelPackage.h); empty = none. modelInfo.metrics / .lineage are filled in with
  /// the training summary; `classes` empty = background + "pancreas" (2 classes) or "class i".
  std::string outputDir;
  /// Set the package's largest-component post-processing from the final validation (kept when
  /// it does not lower the Dice, as nnU-Net decides); off = keep preprocessing's setting.
  bool decidePostprocessing = true;
  ModelInfo modelInfo;
  std::vector<ClassInfo> classes;
  std::string commandLine; // recorded in model.json lineage
};

/// Progress report. Returning false from the callback cancels: training stops at the next
/// iteration boundary; the last completed epoch's checkpoint stays the resume point.
struct TrainProgress
{
  enum class Phase
  {
    Preparing,  // preprocessing cases (iteration = case done, iterations = cases)
    Training,   // after each iteration
    Validating, // during validation (iteration = case done, iterations = cases)
    EpochDone,  // after the epoch's checkpoint
    Finished
  };
  Phase phase = Phase::Preparing;
  int epoch = 0; // 0-based epoch in progress (or just completed for EpochDone)
  int epochs = 0;
  int iteration = 0;
  int iterations = 0;
  double loss = std::numeric_limits<double>::quiet_NaN();      // running mean of this epoch
  double lastLoss = std::numeric_limits<double>::quiet_NaN();  // this iteration
  double valDice = std::numeric_limits<double>::quiet_NaN();   // latest validation Dice
  double learningRate = 0.0;
  double elapsedSeconds = 0.0;
  double etaSeconds = std::numeric_limits<double>::quiet_NaN();
  std::string device;
  std::string message;
};
using TrainProgressFn = std::function<bool(const TrainProgress&)>;
const char* toString(TrainProgress::Phase phase);

struct EpochRecord
{
  int epoch = 0;
  double learningRate = 0.0;
  double trainLoss = 0.0;    // mean total loss over the epoch's iterations
  double trainCe = 0.0;      // its cross-entropy part (deep-supervision weighted)
  double trainOverlap = 0.0; // its 1 - Dice (or 1 - Jaccard) part
  double valDice = std::numeric_limits<double>::quiet_NaN(); // mean over validation cases
  std::vector<double> valDicePerCase;
  double seconds = 0.0;
  int skippedSteps = 0; // AMP steps skipped for non-finite gradients
};

struct TrainResult
{
  bool completed = false; // all epochs done
  bool cancelled = false;
  int startEpoch = 0; // > 0 when resumed
  int epochsDone = 0;
  std::vector<EpochRecord> history; // every epoch from 0 (a resumed run includes the earlier ones)
  double initialValDice = std::numeric_limits<double>::quiet_NaN(); // validateInitial
  std::vector<double> initialValDicePerCase;
  /// Mean validation Dice of the last validated epoch after keeping the largest connected
  /// component per class (nnU-Net's post-processing); decides the package's
  /// inference.largest_component_labels when TrainOptions::decidePostprocessing.
  double finalValDiceLargestComponent = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::string> trainIds, validationIds;
  std::string splitDescription;
  IntensityProperties intensity; // used for normalisation
  std::int64_t parameters = 0;
  double preparationSeconds = 0.0;
  double wallSeconds = 0.0; // this process; earlier sessions of a resumed run not included
  double totalTrainingSeconds = 0.0; // all sessions' epoch time
  std::string device;
  int threads = 0;
  /// Network-in-the-loop rounds run for the click simulation (ClickSimulationOptions), this process.
  std::int64_t networkLoopRounds = 0;
};

/// Trains. Throws panseg::Error for bad input (no cases, a case whose mask is not on its image's
/// grid, a mask without foreground, labels the plan cannot hold), an unusable device, a failed
/// checkpoint or model write (the previous checkpoint stays intact), a resume checkpoint that
/// belongs to other settings (naming the setting), and CUDA running out of memory.
TrainResult train(const std::vector<TrainCase>& cases, const TrainOptions& options,
                  const TrainProgressFn& progress = {});

/// The plan of the shipped demo model (for 6 x 3.2 x 3.2 mm): patch 16x48x64, 5 stages
/// (8-16-32-64-64 features, kernels 1x3x3 then 3x3x3, pools 1x2x2 then 2x2x2), attention
/// 64 / 4 heads / 2 layers on the 2x3x4 bottleneck; 994,776 parameters.
PlanConfig demoPlan();
/// The test plan: demoPlan() with 4-8-16-32-32 features and attention 32 / 4 / 1 layer.
PlanConfig tinyPlan();

/// Name of the checkpoint file inside checkpointDir.
constexpr const char* kCheckpointFileName = "checkpoint_latest.pstrain";

/// Reads only the header of a checkpoint: completed epochs and the per-epoch history.
struct CheckpointSummary
{
  int epochsCompleted = 0;
  int epochsPlanned = 0;
  std::vector<EpochRecord> history;
};
CheckpointSummary readCheckpointSummary(const std::string& checkpointFile);
} // namespace panseg::models
