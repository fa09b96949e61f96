#include "models/Trainer.h"

#include "core/Error.h"
#include "core/preprocess/Export.h"
#include "core/preprocess/SlidingWindow.h"
#include "models/Guidance.h"
#include "models/Json.h"
#include "models/PackageWeights.h"
#include "models/PanSegNet.h"
#include "models/TrainerData.h"
#include "models/TrainerTorch.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>

namespace panseg::models
{
namespace
{
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0)
{
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string num17(double v)
{
  if (!std::isfinite(v))
    return "null";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

/// Short decimal for logs and model.json curves (6 significant digits survive %.17g printing
/// as the nearest double, which is what readers get back).
double round6(double v)
{
  if (!std::isfinite(v))
    return v;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return std::strtod(buf, nullptr);
}

// json::Value builders for model.json's free-form metrics and lineage.
json::Value jarr(std::vector<json::Value> items = {})
{
  json::Value x;
  x.type = json::Value::Type::Array;
  x.array = std::move(items);
  return x;
}
json::Value jobj()
{
  json::Value x;
  x.type = json::Value::Type::Object;
  return x;
}
void jset(json::Value& o, const std::string& k, json::Value v)
{
  for (auto& kv : o.object)
    if (kv.first == k)
    {
      kv.second = std::move(v);
      return;
    }
  o.object.emplace_back(k, std::move(v));
}
std::string joined(const std::vector<std::string>& v, const char* sep = ",")
{
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i)
    s += (i ? sep : "") + v[i];
  return s;
}

std::string oneLine(std::string s)
{
  for (char& c : s)
    if (c == '\n')
      c = ' ';
  return s;
}

const char* lossName(LossKind k)
{
  return k == LossKind::JaccardCE ? "jaccard+ce" : "dice+ce";
}

/// Everything that shapes the training trajectory, as text. A checkpoint records it; a resume
/// with any difference is refused, naming the setting.
std::vector<std::pair<std::string, std::string>> trajectorySettings(
    const TrainOptions& o, const DataSplit& split, const IntensityProperties& ip, bool amp,
    const std::string& deviceType)
{
  const AugmentationOptions& a = o.augmentation;
  std::ostringstream aug;
  aug.precision(17);
  aug << a.enabled << ' ' << a.rotationProbability << ' ' << a.rotationMaxDeg << ' '
      << a.scaleProbability << ' ' << a.scaleMin << ' ' << a.scaleMax << ' ' << a.mirror << ' '
      << a.noiseProbability << ' ' << a.noiseMaxSigma << ' ' << a.brightnessProbability << ' '
      << a.brightnessMin << ' ' << a.brightnessMax << ' ' << a.gammaProbability << ' '
      << a.gammaInvertedProbability << ' ' << a.gammaMin << ' ' << a.gammaMax;
  const auto& pp = o.preprocessing;
  std::vector<std::pair<std::string, std::string>> settings{
      {"plan", oneLine(o.plan.toJson())},
      {"target_spacing", num17(pp.targetSpacingMm[0]) + "," + num17(pp.targetSpacingMm[1]) + "," +
                             num17(pp.targetSpacingMm[2])},
      {"normalization", pp.normalization + (pp.useMaskForNorm ? " (mask)" : "")},
      {"intensity", num17(ip.mean) + "," + num17(ip.sd) + "," + num17(ip.percentile00_5) + "," +
                        num17(ip.percentile99_5)},
      {"augmentation", aug.str()},
      {"loss", lossName(o.loss)},
      {"epochs", std::to_string(o.epochs)},
      {"iterations_per_epoch", std::to_string(o.iterationsPerEpoch)},
      {"batch_size", std::to_string(o.batchSize)},
      {"learning_rate", num17(o.initialLearningRate)},
      {"poly_exponent", num17(o.polyExponent)},
      {"momentum", num17(o.momentum)},
      {"weight_decay", num17(o.weightDecay)},
      {"gradient_clip", num17(o.gradientClipNorm)},
      {"foreground_oversample", num17(o.foregroundOversample)},
      {"seed", std::to_string(o.seed)},
      {"training_cases", joined(split.trainIds)},
      {"validation_cases", joined(split.validationIds)},
      {"device_type", deviceType},
      {"amp", amp ? "on" : "off"},
      {"base_model", o.baseModelDir},
  };
  // Only when on, so that checkpoints written before click guidance existed still resume.
  if (o.clickGuidance)
    settings.emplace_back("click_guidance", num17(o.clickSimulation.automaticProbability) + " " +
                                                num17(o.clickSimulation.emptyPreviousProbability) +
                                                " " + std::to_string(o.clickSimulation.maxClicks) +
                                                (o.clickSimulation.networkLoopProbability > 0.0
                                                     ? " loop " + num17(o.clickSimulation.networkLoopProbability) +
                                                           " " + std::to_string(o.clickSimulation.loopClicks)
                                                     : std::string()));
  return settings;
}

std::string clip80(const std::string& s)
{
  return s.size() <= 80 ? s : s.substr(0, 77) + "...";
}

std::string historyJson(const std::vector<EpochRecord>& h)
{
  std::ostringstream s;
  s << "[";
  for (std::size_t i = 0; i < h.size(); ++i)
  {
    const EpochRecord& r = h[i];
    s << (i ? ",\n  " : "\n  ") << "{\"epoch\": " << r.epoch << ", \"lr\": " << num17(r.learningRate)
      << ", \"loss\": " << num17(r.trainLoss) << ", \"ce\": " << num17(r.trainCe)
      << ", \"overlap\": " << num17(r.trainOverlap) << ", \"val_dice\": " << num17(r.valDice)
      << ", \"val_dice_per_case\": [";
    for (std::size_t k = 0; k < r.valDicePerCase.size(); ++k)
      s << (k ? ", " : "") << num17(r.valDicePerCase[k]);
    s << "], \"seconds\": " << num17(r.seconds) << ", \"skipped_steps\": " << r.skippedSteps << "}";
  }
  s << "]";
  return s.str();
}

double numOrNaN(const json::Value* v)
{
  return v && v->isNumber() ? v->number : std::numeric_limits<double>::quiet_NaN();
}

std::vector<EpochRecord> historyFrom(const json::Value& arr, const std::string& ctx)
{
  std::vector<EpochRecord> h;
  if (!arr.isArray())
    throw Error(ctx + ": history must be an array");
  for (const auto& e : arr.array)
  {
    EpochRecord r;
    r.epoch = static_cast<int>(e.at("epoch", ctx).asInt(ctx + ": epoch"));
    r.learningRate = numOrNaN(e.find("lr"));
    r.trainLoss = numOrNaN(e.find("loss"));
    r.trainCe = numOrNaN(e.find("ce"));
    r.trainOverlap = numOrNaN(e.find("overlap"));
    r.valDice = numOrNaN(e.find("val_dice"));
    if (const auto* pc = e.find("val_dice_per_case"); pc && pc->isArray())
      for (const auto& v : pc->array)
        r.valDicePerCase.push_back(numOrNaN(&v));
    r.seconds = numOrNaN(e.find("seconds"));
    if (const auto* s = e.find("skipped_steps"))
      r.skippedSteps = static_cast<int>(s->asInt(ctx));
    h.push_back(r);
  }
  return h;
}

/// Dice of label `cls` between two label arrays (1 when both are empty).
double diceOf(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b, int cls)
{
  std::int64_t inter = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
  {
    const bool x = a[i] == cls, y = b[i] == cls;
    inter += x && y;
    na += x;
    nb += y;
  }
  return na + nb == 0 ? 1.0 : 2.0 * static_cast<double>(inter) / static_cast<double>(na + nb);
}

[[noreturn]] void rethrowTorch(const c10::Error& e, const TrainOptions& o)
{
  const std::string what = e.what();
  if (what.find("out of memory") != std::string::npos)
    throw Error("the " + o.device + " device ran out of memory while training (batch " +
                std::to_string(o.batchSize) + ", patch " + toString(o.plan.patchSize) +
                "): use a smaller batch or plan, or another device");
  throw Error("LibTorch error while training: " + what.substr(0, what.find('\n')));
}

struct Session
{
  const TrainOptions& o;
  const TrainProgressFn& progress;
  TrainResult& result;
  Clock::time_point t0 = Clock::now();
  torch::Device device{torch::kCPU};
  bool amp = false;
  bool cancelled = false;

  bool report(TrainProgress p)
  {
    if (!progress || cancelled)
      return !cancelled;
    p.elapsedSeconds = secondsSince(t0);
    p.device = result.device;
    if (!progress(p))
      cancelled = true;
    return !cancelled;
  }
};

/// A state dict for `to` input channels from one for `from`: the first 5-D weight whose second
/// dimension is `from` (the first convolution's; every later convolution has more input channels)
/// gets zero weights for the new channels, so the widened network computes exactly what the
/// original did while the new inputs are unused.
StateDict widenInputChannels(const StateDict& weights, std::int64_t from, std::int64_t to)
{
  StateDict out;
  int widened = 0;
  for (const auto& [name, t] : weights)
  {
    if (t.dim() == 5 && t.size(1) == from && name.find("weight") != std::string::npos && widened == 0)
    {
      std::vector<std::int64_t> shape(t.sizes().begin(), t.sizes().end());
      shape[1] = to - from;
      out.emplace_back(name, torch::cat({t, torch::zeros(shape, t.options())}, 1));
      ++widened;
      continue;
    }
    out.emplace_back(name, t);
  }
  if (widened != 1)
    throw Error("cannot widen the base model to " + std::to_string(to) +
                " input channels: no first convolution with " + std::to_string(from) + " input channel(s) found");
  return out;
}

/// The network's foreground (argmax > 0) for a training batch [B, C, patch] as it stands, for
/// the click simulation's network-in-the-loop step: eval mode, no gradients, [B, patch] 0/1.
std::vector<std::uint8_t> answerBatch(PanSegNet& net, const float* batch, std::int64_t batchSize, Session& s)
{
  const PlanConfig& plan = net->plan();
  const std::int64_t C = plan.inputChannels;
  net->eval();
  torch::Tensor labels;
  {
    c10::InferenceMode guard;
    torch::Tensor in = torch::from_blob(const_cast<float*>(batch),
                                        {batchSize, C, plan.patchSize[0], plan.patchSize[1], plan.patchSize[2]},
                                        torch::kFloat)
                           .to(s.device);
    if (batchSize == 1 && !s.device.is_cuda())
      in = torch::cat({in, in}); // oneDNN, as in validate()
    torch::Tensor out;
    {
      CudaAutocast ac(s.amp);
      out = net->forward(in);
    }
    labels = out.slice(0, 0, batchSize).argmax(1).gt(0).to(torch::kCPU, torch::kUInt8).contiguous();
  }
  net->train();
  const auto* p = labels.data_ptr<std::uint8_t>();
  return std::vector<std::uint8_t>(p, p + labels.numel());
}

struct Validation
{
  std::vector<double> dice;    // per case, mean over the foreground classes
  std::vector<double> diceLcc; // the same after keeping the largest component of each class
};

/// Whole-case sliding-window validation (no mirroring): Dice per case, mean over the foreground
/// classes, on the preprocessed grid; also with nnU-Net's largest-component post-processing.
Validation validate(PanSegNet& net, const std::vector<const PreparedCase*>& cases, Session& s,
                    int epoch)
{
  Validation v;
  const PlanConfig& plan = net->plan();
  net->eval();
  nnunet::SlidingWindowOptions so;
  so.mirror = false;
  so.stepSize = s.o.validationStepSize;
  // Several windows per call. On the CPU a batch of one is also padded to two: Debian's
  // LibTorch 1.13 sends a batch-1 Conv3d with 3x3 kernels and few channels to its slow
  // im2col + reference-BLAS path instead of oneDNN (measured: 1.8 s vs 0.08 s per window pair
  // for the demo plan). Instance norm makes every item independent of the rest of the batch.
  so.maxBatch = 4;
  const bool padSingle = !s.device.is_cuda();
  const nnunet::Shape3 patch{plan.patchSize[0], plan.patchSize[1], plan.patchSize[2]};
  const std::int64_t K = plan.numClasses;
  const std::int64_t C = plan.inputChannels;
  for (std::size_t i = 0; i < cases.size(); ++i)
  {
    const PreparedCase& c = *cases[i];
    // Click-conditioned plans: the image, then guidance channels all zero (the automatic mode).
    std::vector<float> input;
    if (C > 1)
    {
      input.assign(static_cast<std::size_t>(C * nnunet::voxelCount(c.shape)), 0.0f);
      std::copy(c.data.begin(), c.data.end(), input.begin());
    }
    TrainProgress p;
    p.phase = TrainProgress::Phase::Validating;
    p.epoch = epoch;
    p.epochs = s.o.epochs;
    p.iteration = static_cast<int>(i);
    p.iterations = static_cast<int>(cases.size());
    p.message = "validating " + c.id;
    if (!s.report(p))
      break;
    const nnunet::Prediction pred = nnunet::predictSlidingWindow(
        C > 1 ? input.data() : c.data.data(), C, c.shape, patch, K,
        [&](const float* x, std::int64_t n, float* logits) {
          c10::InferenceMode guard;
          torch::Tensor in =
              torch::from_blob(const_cast<float*>(x), {n, C, patch[0], patch[1], patch[2]},
                               torch::kFloat)
                  .to(s.device);
          if (n == 1 && padSingle)
            in = torch::cat({in, in});
          torch::Tensor out;
          {
            CudaAutocast ac(s.amp);
            out = net->forward(in);
          }
          out = out.slice(0, 0, n).to(torch::kCPU, torch::kFloat).contiguous();
          std::memcpy(logits, out.data_ptr<float>(), static_cast<std::size_t>(out.numel()) * 4);
        },
        so);
    Geometry g;
    g.size = {c.shape[2], c.shape[1], c.shape[0]};
    LabelMask labels(g);
    labels.voxels =
        nnunet::argmaxChannels(pred.probabilities.data(), K, nnunet::voxelCount(c.shape));
    double d = 0.0, dl = 0.0;
    for (int cls = 1; cls < K; ++cls)
      d += diceOf(labels.voxels, c.seg, cls);
    for (int cls = 1; cls < K; ++cls)
    {
      nnunet::keepLargestComponent(labels, cls);
      dl += diceOf(labels.voxels, c.seg, cls);
    }
    v.dice.push_back(d / static_cast<double>(K - 1));
    v.diceLcc.push_back(dl / static_cast<double>(K - 1));
  }
  net->train();
  return v;
}

double mean(const std::vector<double>& v)
{
  if (v.empty())
    return std::numeric_limits<double>::quiet_NaN();
  double s = 0.0;
  for (const double x : v)
    s += x;
  return s / static_cast<double>(v.size());
}

void writeModel(const TrainOptions& o, const TrainResult& r, PanSegNet& net,
                const PreprocessingSpec& pre)
{
  ModelPackage pkg;
  pkg.network = o.plan;
  pkg.preprocessing = pre;
  pkg.classes = o.classes;
  if (pkg.classes.empty())
    for (std::int64_t c = 0; c < o.plan.numClasses; ++c)
      pkg.classes.push_back({static_cast<int>(c), c == 0 ? "background"
                                                  : (o.plan.numClasses == 2 ? "pancreas"
                                                                            : "class " + std::to_string(c))});
  // nnU-Net's post-processing decision (consolidate_postprocessing): keep only the largest
  // connected component when that does not lower the final validation Dice. (nnU-Net decides per
  // class and also requires an improvement for the first step; one decision for all classes
  // here.)
  const double lastDice = r.history.empty() ? std::numeric_limits<double>::quiet_NaN()
                                            : r.history.back().valDice;
  const bool lcc = std::isfinite(lastDice) && std::isfinite(r.finalValDiceLargestComponent) &&
                   r.finalValDiceLargestComponent >= lastDice;
  if (lcc && o.decidePostprocessing)
  {
    pkg.preprocessing.largestComponentLabels.clear();
    for (int c = 1; c < o.plan.numClasses; ++c)
      pkg.preprocessing.largestComponentLabels.push_back(c);
  }
  pkg.info = o.modelInfo;
  if (o.clickGuidance)
    pkg.info.modelType = guidance::kModelType;
  if (pkg.info.name.empty())
    pkg.info.name = "PanSegNet (panseg-train)";
  if (pkg.info.modality.empty())
    pkg.info.modality = "CT";

  json::Value metrics = pkg.info.metrics.isObject() ? pkg.info.metrics : jobj();
  const EpochRecord* last = r.history.empty() ? nullptr : &r.history.back();
  double lastVal = std::numeric_limits<double>::quiet_NaN();
  for (const auto& h : r.history)
    if (std::isfinite(h.valDice))
      lastVal = h.valDice;
  jset(metrics, "dice_val", json::number(round6(lastVal)));
  jset(metrics, "dice_val_note",
       json::text("mean Dice over the held-out cases, whole-case sliding window without mirroring, "
            "on the preprocessed grid, after the last epoch"));
  if (last && !last->valDicePerCase.empty())
  {
    json::Value per = jobj();
    for (std::size_t i = 0; i < last->valDicePerCase.size() && i < r.validationIds.size(); ++i)
      jset(per, r.validationIds[i], json::number(round6(last->valDicePerCase[i])));
    jset(metrics, "dice_val_per_case", per);
  }
  if (std::isfinite(r.finalValDiceLargestComponent))
    jset(metrics, "dice_val_largest_component", json::number(round6(r.finalValDiceLargestComponent)));
  if (std::isfinite(r.initialValDice))
    jset(metrics, "dice_val_before_training", json::number(r.initialValDice));
  if (last)
  {
    jset(metrics, "final_train_loss", json::number(round6(last->trainLoss)));
    jset(metrics, "final_train_ce", json::number(round6(last->trainCe)));
    jset(metrics, "final_train_overlap_loss", json::number(round6(last->trainOverlap)));
  }
  pkg.info.metrics = metrics;

  json::Value lin = pkg.info.lineage.isObject() ? pkg.info.lineage : jobj();
  jset(lin, "source", json::text("panseg-train"));
  jset(lin, "trainer", json::text("panseg-train: nnU-Net v1 / nnTransUNetTrainerV2 recipe (LibTorch)"));
  if (!o.baseModelDir.empty())
    jset(lin, "base_model", json::text(o.baseModelDir));
  if (!o.commandLine.empty())
    jset(lin, "command_line", json::text(o.commandLine));
  jset(lin, "seed", json::number(static_cast<double>(o.seed)));
  jset(lin, "split", json::text(r.splitDescription));
  jset(lin, "split_seed", json::number(static_cast<double>(o.split.seed)));
  jset(lin, "training_cases", json::strings(r.trainIds));
  jset(lin, "validation_cases", json::strings(r.validationIds));
  jset(lin, "epochs", json::number(o.epochs));
  jset(lin, "iterations_per_epoch", json::number(o.iterationsPerEpoch));
  jset(lin, "batch_size", json::number(o.batchSize));
  jset(lin, "loss", json::text(lossName(o.loss)));
  jset(lin, "initial_learning_rate", json::number(o.initialLearningRate));
  jset(lin, "device", json::text(r.device));
  jset(lin, "threads", json::number(r.threads));
  jset(lin, "parameters", json::number(static_cast<double>(r.parameters)));
  jset(lin, "training_seconds", json::number(round6(r.totalTrainingSeconds)));
  jset(lin, "wall_seconds_last_session", json::number(round6(r.wallSeconds)));
  jset(lin, "resumed_from_epoch", json::number(r.startEpoch));
  if (o.clickGuidance)
  {
    // How the clicks were simulated (models/ClickSimulation.h), so a package says how it learnt.
    json::Value cs = jobj();
    jset(cs, "automatic_probability", json::number(o.clickSimulation.automaticProbability));
    jset(cs, "empty_previous_probability", json::number(o.clickSimulation.emptyPreviousProbability));
    jset(cs, "max_clicks", json::number(o.clickSimulation.maxClicks));
    jset(cs, "network_loop_probability", json::number(o.clickSimulation.networkLoopProbability));
    jset(cs, "loop_clicks", json::number(o.clickSimulation.loopClicks));
    jset(cs, "network_loop_rounds_last_session", json::number(static_cast<double>(r.networkLoopRounds)));
    jset(lin, "click_simulation", cs);
  }
  std::vector<json::Value> curve;
  for (const auto& h : r.history)
  {
    json::Value e = jobj();
    jset(e, "epoch", json::number(h.epoch));
    jset(e, "lr", json::number(round6(h.learningRate)));
    jset(e, "loss", json::number(round6(h.trainLoss)));
    jset(e, "val_dice", json::number(round6(h.valDice)));
    curve.push_back(e);
  }
  jset(lin, "curve", jarr(curve));
  pkg.info.lineage = lin;

  // Weights first, metadata last: a folder with plans.json + model.json + weights.json is what
  // looksLikeModelPackage() accepts.
  writePackageWeights(o.outputDir, stateDictOf(*net));
  writePackageMetadata(o.outputDir, pkg);
}
} // namespace

const char* toString(TrainProgress::Phase phase)
{
  switch (phase)
  {
  case TrainProgress::Phase::Preparing:
    return "preparing";
  case TrainProgress::Phase::Training:
    return "training";
  case TrainProgress::Phase::Validating:
    return "validating";
  case TrainProgress::Phase::EpochDone:
    return "epoch";
  case TrainProgress::Phase::Finished:
    return "finished";
  }
  return "?";
}

PlanConfig demoPlan()
{
  PlanConfig p;
  p.patchSize = {16, 48, 64};
  p.convKernels = {{1, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}};
  p.poolStrides = {{1, 2, 2}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}};
  p.baseFeatures = 8;
  p.maxFeatures = 64;
  p.inputChannels = 1;
  p.numClasses = 2;
  p.attention = {true, 64, 4, 2, 64};
  return p;
}

PlanConfig tinyPlan()
{
  PlanConfig p = demoPlan();
  p.baseFeatures = 4;
  p.maxFeatures = 32;
  p.attention = {true, 32, 4, 1, 32};
  return p;
}

CheckpointSummary readCheckpointSummary(const std::string& checkpointFile)
{
  const CheckpointData d = readCheckpoint(checkpointFile);
  const json::Value st = json::parse(d.headerJson, checkpointFile);
  CheckpointSummary s;
  s.epochsCompleted = static_cast<int>(st.at("epochs_completed", checkpointFile).asInt(checkpointFile));
  s.epochsPlanned = static_cast<int>(st.at("epochs_planned", checkpointFile).asInt(checkpointFile));
  s.history = historyFrom(st.at("history", checkpointFile), checkpointFile);
  return s;
}

TrainResult train(const std::vector<TrainCase>& cases, const TrainOptions& o,
                  const TrainProgressFn& progress)
{
  TrainResult result;
  Session s{o, progress, result};

  // ---- settings and input checks (cheap ones first, so bad input fails fast)
  if (o.epochs < 1)
    throw Error("epochs must be at least 1");
  if (o.iterationsPerEpoch < 1)
    throw Error("iterations per epoch must be at least 1");
  if (o.batchSize < 1)
    throw Error("the batch size must be at least 1");
  if (!(o.initialLearningRate > 0.0))
    throw Error("the learning rate must be positive");
  o.plan.validate();
  const std::int64_t channels = o.clickGuidance ? 1 + guidance::kChannels : 1;
  if (o.plan.inputChannels != channels)
    throw Error(o.clickGuidance
                    ? "a click-conditioned plan has " + std::to_string(channels) +
                          " input channels (the image and 3 guidance channels), this one has " +
                          std::to_string(o.plan.inputChannels)
                    : "the trainer handles single-channel images only (plan has " +
                          std::to_string(o.plan.inputChannels) + " input channels)");
  if (o.clickGuidance && (o.clickSimulation.maxClicks < 1 || o.clickSimulation.maxClicks > 20 ||
                          o.clickSimulation.loopClicks < 1 || o.clickSimulation.loopClicks > 20 ||
                          !(o.clickSimulation.networkLoopProbability >= 0.0 &&
                            o.clickSimulation.networkLoopProbability <= 1.0) ||
                          !(o.clickSimulation.automaticProbability >= 0.0 &&
                            o.clickSimulation.automaticProbability <= 1.0) ||
                          !(o.clickSimulation.emptyPreviousProbability >= 0.0 &&
                            o.clickSimulation.emptyPreviousProbability <= 1.0)))
    throw Error("click simulation: clicks must be 1..20 and the probabilities 0..1");
  if (cases.empty())
    throw Error("no training cases: give at least one image with its mask");
  for (const std::string& dir : {o.outputDir, o.checkpointDir})
    if (!dir.empty())
    {
      std::error_code ec;
      fs::create_directories(dir, ec);
      if (ec || !fs::is_directory(dir))
        throw Error("cannot create folder " + dir + ": " +
                    (ec ? ec.message() : std::string("not a folder")));
    }
  for (const TrainCase& c : cases)
    checkTrainCase(c, o.plan.numClasses);

  std::vector<std::pair<std::string, std::string>> ids;
  for (const TrainCase& c : cases)
    ids.emplace_back(c.id, c.patientId);
  const DataSplit split = splitByPatient(ids, o.split);
  result.trainIds = split.trainIds;
  result.validationIds = split.validationIds;
  result.splitDescription = split.description;

  std::map<std::string, const TrainCase*> byId;
  for (const TrainCase& c : cases)
    byId[c.id] = &c;
  std::vector<const TrainCase*> trainCases, valCases;
  for (const auto& id : split.trainIds)
    trainCases.push_back(byId[id]);
  for (const auto& id : split.validationIds)
    valCases.push_back(byId[id]);

  PreprocessingSpec pre = o.preprocessing;
  const auto scheme = nnunet::normalizationSchemeFromName(pre.normalization);
  const bool needsIntensity =
      scheme == nnunet::NormalizationScheme::CT || scheme == nnunet::NormalizationScheme::CT2;
  if (needsIntensity && (o.intensityFromData || !pre.intensity))
    pre.intensity = foregroundIntensityProperties(trainCases);
  if (pre.intensity)
    result.intensity = *pre.intensity;

  result.threads = configureThreads(o.threads);
  s.device = parseDevice(o.device);
  s.amp = o.amp && s.device.is_cuda();
  result.device = s.device.str();
  if (s.device.is_cuda())
  {
    at::globalContext().setBenchmarkCuDNN(!o.deterministicCuda);
    at::globalContext().setDeterministicCuDNN(o.deterministicCuda);
  }

  // ---- checkpoint to resume from (read before the expensive preprocessing)
  const std::string ckptPath =
      o.checkpointDir.empty() ? std::string() : o.checkpointDir + "/" + kCheckpointFileName;
  const auto settings =
      trajectorySettings(o, split, result.intensity, s.amp, s.device.is_cuda() ? "cuda" : "cpu");
  std::optional<CheckpointData> resumeFrom;
  json::Value resumeState;
  if (o.resume && !ckptPath.empty() && fs::exists(ckptPath))
  {
    resumeFrom = readCheckpoint(ckptPath);
    resumeState = json::parse(resumeFrom->headerJson, ckptPath);
    const json::Value& saved = resumeState.at("settings", ckptPath);
    for (const auto& [key, value] : settings)
    {
      const json::Value* v = saved.find(key);
      const std::string old = v ? v->asString(ckptPath + ": " + key) : std::string("(absent)");
      if (old != value)
        throw Error("cannot resume from " + ckptPath + ": it was written with " + key + " = " +
                    clip80(old) + ", this run has " + clip80(value) +
                    " (use the same settings, or train into a new folder)");
    }
  }

  // ---- preprocessing (cached in memory, optionally on disk)
  std::vector<PreparedCase> prepared;
  prepared.reserve(trainCases.size() + valCases.size());
  {
    const auto tp = Clock::now();
    std::vector<const TrainCase*> all = trainCases;
    all.insert(all.end(), valCases.begin(), valCases.end());
    for (std::size_t i = 0; i < all.size(); ++i)
    {
      TrainProgress p;
      p.phase = TrainProgress::Phase::Preparing;
      p.epochs = o.epochs;
      p.iteration = static_cast<int>(i);
      p.iterations = static_cast<int>(all.size());
      p.message = "preprocessing " + all[i]->id;
      if (!s.report(p))
      {
        result.cancelled = true;
        return result;
      }
      prepared.push_back(prepareCaseCached(*all[i], pre, o.plan.numClasses, o.cacheDir, o.threads));
    }
    result.preparationSeconds = secondsSince(tp);
  }
  std::vector<const PreparedCase*> trainSet, valSet;
  for (std::size_t i = 0; i < prepared.size(); ++i)
    (i < trainCases.size() ? trainSet : valSet).push_back(&prepared[i]);

  try
  {
    // ---- network and optimiser
    torch::manual_seed(o.seed);
    PanSegNet net(o.plan);
    if (!o.baseModelDir.empty())
    {
      const ModelPackage base = loadModelPackage(o.baseModelDir);
      // A click-conditioned plan may start from a plain package of the same network: the
      // guidance channels are added with zero weights (widenInputChannels).
      PlanConfig widened = base.network;
      if (o.clickGuidance && !guidance::takesClicks(base))
        widened.inputChannels = o.plan.inputChannels;
      if (widened != o.plan)
        throw Error("the base model " + o.baseModelDir + " has network " + base.network.summary() +
                    ", not the training plan " + o.plan.summary());
      StateDict weights = readPackageWeights(base);
      if (base.network.inputChannels != o.plan.inputChannels)
        weights = widenInputChannels(weights, base.network.inputChannels, o.plan.inputChannels);
      loadStateDict(*net, weights);
    }
    net->to(s.device);
    net->train();
    result.parameters = parameterCount(*net);
    std::vector<torch::Tensor> params = net->parameters();
    NesterovSgd sgd(params, o.momentum, o.weightDecay);
    LossScale lossScale;
    if (!s.amp)
      lossScale.scale = 1.0;
    const std::vector<double> dsWeights = deepSupervisionWeights(o.plan.numPools());
    const Vec3 patch = o.plan.patchSize;
    const std::int64_t patchVoxels = patch[0] * patch[1] * patch[2];

    double previousSeconds = 0.0;
    if (resumeFrom)
    {
      loadStateDict(*net, resumeFrom->weights);
      auto& bufs = sgd.momentumBuffers();
      if (resumeFrom->momentum.size() > bufs.size())
        throw Error("checkpoint " + ckptPath + " has more momentum buffers than parameters");
      for (std::size_t i = 0; i < resumeFrom->momentum.size(); ++i)
        if (resumeFrom->momentum[i].defined())
        {
          if (resumeFrom->momentum[i].sizes() != params[i].sizes())
            throw Error("checkpoint " + ckptPath + ": momentum buffer " + std::to_string(i) +
                        " does not match its parameter");
          bufs[i] = resumeFrom->momentum[i].to(s.device);
        }
      result.startEpoch =
          static_cast<int>(resumeState.at("epochs_completed", ckptPath).asInt(ckptPath));
      result.history = historyFrom(resumeState.at("history", ckptPath), ckptPath);
      lossScale.scale = resumeState.at("loss_scale", ckptPath).asNumber(ckptPath);
      lossScale.goodSteps =
          static_cast<int>(resumeState.at("loss_scale_good_steps", ckptPath).asInt(ckptPath));
      previousSeconds = resumeState.at("training_seconds", ckptPath).asNumber(ckptPath);
      if (const auto* v = resumeState.find("initial_val_dice"))
        result.initialValDice = numOrNaN(v);
      if (const auto* v = resumeState.find("final_val_dice_largest_component"))
        result.finalValDiceLargestComponent = numOrNaN(v);
      if (const auto* t = resumeState.find("threads");
          t && t->isNumber() && static_cast<int>(t->number) != result.threads)
      {
        TrainProgress p;
        p.phase = TrainProgress::Phase::Preparing;
        p.message = "note: the checkpoint was written with " +
                    std::to_string(static_cast<int>(t->number)) + " threads, this run uses " +
                    std::to_string(result.threads) +
                    "; the result will not be bit-identical to an uninterrupted run";
        s.report(p);
      }
      resumeFrom.reset();
    }
    result.epochsDone = result.startEpoch;
    result.totalTrainingSeconds = previousSeconds;

    if (o.validateInitial && result.startEpoch == 0 && !valSet.empty())
    {
      result.initialValDicePerCase = validate(net, valSet, s, -1).dice;
      result.initialValDice = mean(result.initialValDicePerCase);
    }

    // ---- epochs
    const std::int64_t inputValues = channels * patchVoxels; // per batch item
    const nnunet::Spacing3 spacingZyx{pre.targetSpacingMm[0], pre.targetSpacingMm[1], pre.targetSpacingMm[2]};
    std::vector<float> batchImage(static_cast<std::size_t>(o.batchSize * inputValues));
    std::vector<std::uint8_t> batchSeg(static_cast<std::size_t>(o.batchSize * patchVoxels));
    double iterSecondsSum = 0.0, valSecondsSum = 0.0;
    int itersTimed = 0, valsTimed = 0;
    double lastVal = std::numeric_limits<double>::quiet_NaN();
    for (const auto& h : result.history)
      if (std::isfinite(h.valDice))
        lastVal = h.valDice;

    for (int epoch = result.startEpoch; epoch < o.epochs && !s.cancelled; ++epoch)
    {
      const auto te = Clock::now();
      EpochRecord rec;
      rec.epoch = epoch;
      rec.learningRate = polyLearningRate(epoch, o.epochs, o.initialLearningRate, o.polyExponent);
      double lossSum = 0.0, ceSum = 0.0, ovSum = 0.0;
      int steps = 0;
      for (int it = 0; it < o.iterationsPerEpoch; ++it)
      {
        const auto ti = Clock::now();
        // Every random number of this iteration is a function of (seed, epoch, iteration).
        TrainRng rng = TrainRng::stream(o.seed, 1, static_cast<std::uint64_t>(epoch),
                                        static_cast<std::uint64_t>(it));
        TrainRng noiseRng = TrainRng::stream(o.seed, 2, static_cast<std::uint64_t>(epoch),
                                             static_cast<std::uint64_t>(it));
        torch::manual_seed(mix64(o.seed ^ mix64((static_cast<std::uint64_t>(epoch) << 32) |
                                                static_cast<std::uint64_t>(it))));
        TrainRng clickRng = TrainRng::stream(o.seed, 3, static_cast<std::uint64_t>(epoch),
                                             static_cast<std::uint64_t>(it));
        std::vector<SimulatedGuidance> simulated(static_cast<std::size_t>(o.batchSize));
        for (int b = 0; b < o.batchSize; ++b)
        {
          const PatchTransform t = drawPatchTransform(trainSet, b, o.batchSize,
                                                      o.foregroundOversample, patch,
                                                      o.augmentation, rng);
          float* item = batchImage.data() + b * inputValues;
          std::uint8_t* itemSeg = batchSeg.data() + b * patchVoxels;
          extractPatch(*trainSet[t.caseIndex], patch, t, noiseRng, item, itemSeg);
          if (o.clickGuidance)
            simulated[static_cast<std::size_t>(b)] =
                simulateClickGuidance(itemSeg, {patch[0], patch[1], patch[2]}, spacingZyx,
                                      o.clickSimulation, clickRng, item + patchVoxels);
        }
        // DeepEdit's network in the loop (ClickSimulation.h): on some iterations the network
        // answers the batch's guidance; each guided patch then gets that answer as its previous
        // mask and one more click at the answer's largest error, 1..loopClicks rounds.
        if (o.clickGuidance && o.clickSimulation.networkLoopProbability > 0.0 &&
            clickRng.uniform() < o.clickSimulation.networkLoopProbability)
        {
          const int rounds =
              1 + static_cast<int>(clickRng.below(static_cast<std::uint64_t>(std::max(1, o.clickSimulation.loopClicks))));
          for (int round = 0; round < rounds; ++round)
          {
            const std::vector<std::uint8_t> answers = answerBatch(net, batchImage.data(), o.batchSize, s);
            for (int b = 0; b < o.batchSize; ++b)
              addClickAtNetworkError(batchSeg.data() + b * patchVoxels, answers.data() + b * patchVoxels,
                                     {patch[0], patch[1], patch[2]}, spacingZyx,
                                     simulated[static_cast<std::size_t>(b)],
                                     batchImage.data() + b * inputValues + patchVoxels);
            ++result.networkLoopRounds;
          }
        }
        const torch::Tensor x =
            torch::from_blob(batchImage.data(), {o.batchSize, channels, patch[0], patch[1], patch[2]},
                             torch::kFloat)
                .to(s.device);
        const torch::Tensor y =
            torch::from_blob(batchSeg.data(), {o.batchSize, patch[0], patch[1], patch[2]},
                             torch::kUInt8)
                .to(s.device)
                .to(torch::kLong);

        sgd.zeroGrad();
        std::vector<torch::Tensor> outs;
        {
          CudaAutocast ac(s.amp);
          outs = net->forwardDeepSupervision(x);
        }
        const LossValue loss = deepSupervisionLoss(outs, y, o.loss, dsWeights);
        const double lossValue = loss.total.item<double>();
        if (!std::isfinite(lossValue) && !s.amp)
          throw Error("training diverged: the loss is " + std::to_string(lossValue) +
                      " at epoch " + std::to_string(epoch) + ", iteration " + std::to_string(it) +
                      " (try a lower learning rate)");
        (s.amp ? loss.total * lossScale.scale : loss.total).backward();
        const double norm = unscaleAndClipGradients(params, lossScale.scale, o.gradientClipNorm);
        const bool finite = std::isfinite(norm) && std::isfinite(lossValue);
        if (s.amp ? lossScale.update(finite) : finite)
          sgd.step(rec.learningRate);
        else if (s.amp)
          ++rec.skippedSteps;
        else
          throw Error("training diverged: non-finite gradients at epoch " + std::to_string(epoch) +
                      ", iteration " + std::to_string(it));
        if (std::isfinite(lossValue))
        {
          lossSum += lossValue;
          ceSum += loss.ce.item<double>();
          ovSum += loss.overlap.item<double>();
          ++steps;
        }
        iterSecondsSum += secondsSince(ti);
        ++itersTimed;

        TrainProgress p;
        p.phase = TrainProgress::Phase::Training;
        p.epoch = epoch;
        p.epochs = o.epochs;
        p.iteration = it + 1;
        p.iterations = o.iterationsPerEpoch;
        p.loss = steps ? lossSum / steps : std::numeric_limits<double>::quiet_NaN();
        p.lastLoss = lossValue;
        p.valDice = lastVal;
        p.learningRate = rec.learningRate;
        const double secPerIter = iterSecondsSum / itersTimed;
        const int remainingIters =
            (o.epochs - epoch - 1) * o.iterationsPerEpoch + (o.iterationsPerEpoch - it - 1);
        const double secPerVal =
            valsTimed ? valSecondsSum / valsTimed : 0.05 * secPerIter * o.iterationsPerEpoch;
        p.etaSeconds = remainingIters * secPerIter +
                       (valSet.empty() ? 0.0 : secPerVal * (o.epochs - epoch));
        if (!s.report(p))
          break;
      }
      if (s.cancelled)
        break; // the partial epoch is discarded; the last checkpoint is the resume point

      rec.trainLoss = steps ? lossSum / steps : std::numeric_limits<double>::quiet_NaN();
      rec.trainCe = steps ? ceSum / steps : std::numeric_limits<double>::quiet_NaN();
      rec.trainOverlap = steps ? ovSum / steps : std::numeric_limits<double>::quiet_NaN();
      const bool doVal = !valSet.empty() &&
                         ((epoch + 1) % std::max(1, o.validateEvery) == 0 || epoch + 1 == o.epochs);
      if (doVal)
      {
        const auto tv = Clock::now();
        const Validation v = validate(net, valSet, s, epoch);
        if (s.cancelled)
          break;
        rec.valDicePerCase = v.dice;
        result.finalValDiceLargestComponent = mean(v.diceLcc);
        rec.valDice = mean(rec.valDicePerCase);
        lastVal = rec.valDice;
        valSecondsSum += secondsSince(tv);
        ++valsTimed;
      }
      rec.seconds = secondsSince(te);
      result.history.push_back(rec);
      result.epochsDone = epoch + 1;
      result.totalTrainingSeconds += rec.seconds;

      if (!ckptPath.empty())
      {
        std::ostringstream st;
        st << "{\n \"format\": \"panseg-train-state-1\",\n \"epochs_completed\": " << epoch + 1
           << ",\n \"epochs_planned\": " << o.epochs << ",\n \"settings\": {";
        for (std::size_t i = 0; i < settings.size(); ++i)
          st << (i ? ",\n  " : "\n  ") << json::quote(settings[i].first) << ": "
             << json::quote(settings[i].second);
        st << "\n },\n \"rng\": {\"kind\": \"splitmix64 streams of (seed, stream, epoch, "
              "iteration); torch seeded per iteration\", \"seed\": "
           << o.seed << ", \"next_epoch\": " << epoch + 1 << "},\n \"threads\": " << result.threads
           << ",\n \"device\": " << json::quote(result.device)
           << ",\n \"loss_scale\": " << num17(lossScale.scale)
           << ",\n \"loss_scale_good_steps\": " << lossScale.goodSteps
           << ",\n \"training_seconds\": " << num17(result.totalTrainingSeconds)
           << ",\n \"initial_val_dice\": " << num17(result.initialValDice)
           << ",\n \"final_val_dice_largest_component\": "
           << num17(result.finalValDiceLargestComponent)
           << ",\n \"history\": " << historyJson(result.history) << "\n}";
        CheckpointData ck;
        ck.headerJson = st.str();
        ck.weights = stateDictOf(*net);
        ck.momentum = sgd.momentumBuffers();
        writeCheckpoint(ckptPath, ck);
      }

      TrainProgress p;
      p.phase = TrainProgress::Phase::EpochDone;
      p.epoch = epoch;
      p.epochs = o.epochs;
      p.iteration = o.iterationsPerEpoch;
      p.iterations = o.iterationsPerEpoch;
      p.loss = rec.trainLoss;
      p.valDice = rec.valDice;
      p.learningRate = rec.learningRate;
      const double secPerEpoch = secondsSince(s.t0) / (epoch + 1 - result.startEpoch);
      p.etaSeconds = secPerEpoch * (o.epochs - epoch - 1);
      char msg[200];
      std::snprintf(msg, sizeof msg, "epoch %d/%d: loss %.4f (ce %.4f, %s %.4f)%s, %.1f s",
                    epoch + 1, o.epochs, rec.trainLoss, rec.trainCe,
                    o.loss == LossKind::JaccardCE ? "1-jaccard" : "1-dice", rec.trainOverlap,
                    std::isfinite(rec.valDice)
                        ? (", val Dice " + std::to_string(rec.valDice).substr(0, 6)).c_str()
                        : "",
                    rec.seconds);
      p.message = msg;
      s.report(p);
    }

    result.wallSeconds = secondsSince(s.t0);
    result.completed = result.epochsDone == o.epochs;
    result.cancelled = s.cancelled && !result.completed;
    if (result.completed && !o.outputDir.empty())
      writeModel(o, result, net, pre);
    if (result.completed)
    {
      TrainProgress p;
      p.phase = TrainProgress::Phase::Finished;
      p.epoch = o.epochs - 1;
      p.epochs = o.epochs;
      p.valDice = lastVal;
      p.message = o.outputDir.empty() ? "finished" : "model written to " + o.outputDir;
      s.report(p);
    }
  }
  catch (const c10::Error& e)
  {
    rethrowTorch(e, o);
  }
  return result;
}
} // namespace panseg::models
