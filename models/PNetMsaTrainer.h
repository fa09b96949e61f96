#pragma once
// Training of PNet-MSA + BiRNN (docs/pnet-msa.md): the CNN first (deep supervision on every
// unit's side output and on the fusion), then the BiRNN end to end with the CNN (BatchNorm
// statistics frozen). Torch-free API; the implementation is LibTorch (panseg_train).
#include "models/ModelPackage.h"

#include "core/Volume.h"

#include <atomic>
#include <cstdint>
#include <functional>
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
  int cnnIterations = 600;
  int rnnIterations = 150;
  int batch = 8;                     // slices per CNN step (all from one case)
  int rnnSequence = 12;              // consecutive slices per BiRNN step
  double learningRate = 1e-3;        // Adam, CNN stage
  double rnnLearningRate = 1e-2;     // Adam, BiRNN (the CNN continues at learningRate / 10)
  double foregroundSliceFraction = 0.7; // CNN batches: slices drawn from those with pancreas
  double maxSeconds = 0.0;           // wall-clock budget, 80 % CNN / 20 % BiRNN (0 = none)
  std::uint64_t seed = 1;
  int threads = 0;                   // <= 0: all cores
  std::string outputDir;             // package written there at the end ("" = none)
  std::string checkpointDir;         // package-format checkpoint every checkpointEvery iterations
  int checkpointEvery = 0;
  ModelInfo info;                    // name, version, description, training data for the package
  std::function<void(const std::string&)> log;
  const std::atomic<bool>* stop = nullptr; // finishes early (still evaluates and writes)
};

struct PNetMsaTrainResult
{
  std::int64_t parameters = 0;
  double diceUntrained = 0.0, diceCnn = 0.0, diceFinal = 0.0; // mean validation Dice (network grid)
  int cnnIterations = 0, rnnIterations = 0;
  double seconds = 0.0, cnnSeconds = 0.0, rnnSeconds = 0.0;
  std::vector<double> cnnLoss, rnnLoss; // per iteration
  std::vector<std::pair<double, double>> thresholdDice; // final model, thresholds 0.1..0.9
  ModelPackage package; // the written package (when outputDir is set) or its metadata
};

/// Trains on `train`, reports Dice on `validation` (mean over cases, at the network's grid,
/// threshold spec.threshold). Deterministic for a seed and thread count. Throws panseg::Error.
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

/// `panseg-train --model-type pnet-msa demo --out DIR [options]` (see --help); returns the exit code.
int pnetMsaTrainMain(int argc, char** argv);
} // namespace panseg::models
