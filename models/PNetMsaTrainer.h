#pragma once
// Training of PNet-MSA + BiRNN (docs/pnet-msa.md): the CNN first (deep supervision on every
// unit's side output and on the fusion), then the BiRNN end to end with the CNN (BatchNorm
// statistics frozen). Torch-free API; the implementation is LibTorch (panseg_train).
#include "models/ModelPackage.h"
#include "models/Trainer.h"

#include "core/Volume.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace panseg::models
{
struct PNetMsaTrainCase
{
  std::string id;
  Image image;
  LabelMask mask; // 0/1 (any non-zero label counts as pancreas)
};

struct PNetMsaTrainOptions
{
  PNetMsaSpec spec;
  std::string modality = "CT";       // CT: nnU-Net CT normalisation with the training foreground's
                                     // intensity properties; MR: per-image z-score
  std::string loss = "jaccard";      // "jaccard" (eq. 14), "ce", "balanced-ce"
  /// Training runs in epochs of iterationsPerEpoch steps: the CNN's epochs first (deep
  /// supervision), then the BiRNN's (end to end). A checkpoint and a validation after each.
  int epochs = 15;
  int cnnEpochs = 0;                 // <= 0: max(1, round(0.8 epochs)), leaving >= 1 BiRNN epoch
                                     // when epochs >= 2; all of them without the BiRNN
  int iterationsPerEpoch = 50;
  int batch = 8;                     // slices per CNN step (all from one case)
  int rnnSequence = 12;              // consecutive slices per BiRNN step
  double learningRate = 1e-3;        // Adam, CNN stage
  double rnnLearningRate = 1e-2;     // Adam, BiRNN (the CNN continues at learningRate / 10)
  double foregroundSliceFraction = 0.7; // CNN batches: slices drawn from those with pancreas
  double maxSeconds = 0.0;           // wall-clock budget: the CNN stage ends after 80 % of it, the
                                     // training after all of it; the package is written (0 = none)
  std::uint64_t seed = 1;
  int threads = 0;                   // <= 0: all cores
  std::string device = "cpu";        // cpu, cuda, cuda:N
  /// Fine-tuning: start from this pnet-msa package (its network, preprocessing and weights;
  /// `spec` and `modality` are taken from it).
  std::string baseModelDir;
  std::string outputDir;             // package written there at the end ("" = none)
  /// A checkpoint (kCheckpointFileName: weights, Adam state, history) after every epoch; with
  /// `resume`, training continues from it and reproduces the uninterrupted run exactly (same
  /// device and thread count). A checkpoint of other settings is refused, naming the setting.
  std::string checkpointDir;
  bool resume = false;
  ModelInfo info;                    // name, version, description, training data for the package
  std::string commandLine;           // recorded in the package's lineage
  std::function<void(const std::string&)> log;
  TrainProgressFn progress;          // Trainer.h's events; returning false cancels
  const std::atomic<bool>* stop = nullptr; // cancels at the next step (the last checkpoint stays)
};

struct PNetMsaEpoch
{
  int epoch = 0;           // 0-based
  std::string stage;       // "cnn" or "birnn"
  int iterations = 0;
  double loss = 0.0;       // mean over the epoch's steps
  double valDice = std::numeric_limits<double>::quiet_NaN(); // mean validation Dice (network grid)
  double seconds = 0.0;
};

struct PNetMsaTrainResult
{
  bool completed = false, cancelled = false;
  int startEpoch = 0;      // > 0 when resumed
  int epochs = 0, cnnEpochs = 0;
  std::int64_t parameters = 0;
  double diceUntrained = 0.0, diceCnn = 0.0, diceFinal = 0.0; // mean validation Dice (network grid)
  int cnnIterations = 0, rnnIterations = 0;
  double seconds = 0.0, cnnSeconds = 0.0, rnnSeconds = 0.0; // this process
  std::vector<double> cnnLoss, rnnLoss; // per step of this process
  std::vector<PNetMsaEpoch> history;    // every epoch from 0 (a resumed run includes the earlier ones)
  std::vector<std::pair<double, double>> thresholdDice; // final model, thresholds 0.1..0.9
  ModelPackage package; // the written package (when outputDir is set) or its metadata
};

/// Trains on `train`, reports Dice on `validation` (mean over cases, at the network's grid,
/// threshold spec.threshold). Deterministic for a seed, device and thread count: each step's
/// sampling is a function of (seed, epoch, step). Throws panseg::Error (bad cases, a base model
/// of another type, a resume checkpoint of other settings, a failed write).
PNetMsaTrainResult trainPnetMsa(const std::vector<PNetMsaTrainCase>& train,
                                const std::vector<PNetMsaTrainCase>& validation, const PNetMsaTrainOptions& o);

/// Generated CT phantoms (core/demo) at the demo training grid: 96 x 80 x 64 voxels of
/// 3.2 x 3.2 x 3.0 mm, pancreas mask, seeds seed0..seed0+n-1.
std::vector<PNetMsaTrainCase> phantomTrainCases(std::uint32_t seed0, int n);

/// The paper's Fig. 5: mean Dice over `cases` against the threshold (0.1, 0.2, ..., 0.9) of the
/// package's final probability maps, on the input grid (the Predictor's pipeline).
std::vector<std::pair<double, double>> thresholdStability(const ModelPackage& pkg,
                                                          const std::vector<PNetMsaTrainCase>& cases,
                                                          int threads = 0);

} // namespace panseg::models
