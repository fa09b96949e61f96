#include "models/PNetMsaTrainer.h"

#include "core/Error.h"
#include "core/demo/PhantomGenerator.h"
#include "core/preprocess/Preprocess.h"
#include "core/preprocess/Resample.h"
#include "models/PNetMsa.h"
#include "models/PanSegNet.h"
#include "models/Predictor.h"
#include "models/TrainerData.h"
#include "models/TrainerTorch.h"
#include "models/Weights.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>

namespace fs = std::filesystem;

namespace panseg::models
{
namespace
{
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0)
{
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// One case at the network's grid.
struct Prepared
{
  std::string id;
  torch::Tensor volume;  // [D, H, W] normalised
  torch::Tensor mask;    // [D, H, W] float 0/1
  torch::Tensor stacks;  // [D, k, Hp, Wp] padded slice stacks
  torch::Tensor target;  // [D, 1, Hp, Wp] padded mask
  std::vector<std::int64_t> foregroundSlices;
};

Prepared prepare(const PNetMsaTrainCase& c, const ModelPackage& pkg, int threads)
{
  if (c.image.geometry.isEmpty() || !c.image.geometry.sameGrid(c.mask.geometry))
    throw Error("training case " + c.id + ": the mask is not on the image's grid");
  nnunet::PreprocessParams pp = pkg.preprocessParams(threads);
  const nnunet::Spacing3 sp = nnunet::spacingOf(c.image.geometry);
  pp.targetSpacing = { sp[0], pkg.pnet.inPlaneSpacingYxMm[0], pkg.pnet.inPlaneSpacingYxMm[1] };
  nnunet::Preprocessed pre = nnunet::preprocess(c.image, pp);
  // The mask: cropped like the image, then resampled like nnU-Net resamples segmentations.
  const nnunet::Shape3 os = nnunet::shapeOf(c.mask.geometry), cs = pre.croppedShape;
  std::vector<std::int8_t> crop(static_cast<std::size_t>(nnunet::voxelCount(cs)));
  for (std::int64_t z = 0; z < cs[0]; ++z)
    for (std::int64_t y = 0; y < cs[1]; ++y)
      for (std::int64_t x = 0; x < cs[2]; ++x)
      {
        const std::int64_t zz = z + pre.crop.start[0], yy = y + pre.crop.start[1], xx = x + pre.crop.start[2];
        crop[static_cast<std::size_t>((z * cs[1] + y) * cs[2] + x)] =
            c.mask.voxels[static_cast<std::size_t>((zz * os[1] + yy) * os[2] + xx)] ? 1 : 0;
      }
  std::vector<std::int8_t> seg = cs == pre.shape ? crop
                                                 : nnunet::resampleSegmentation(crop.data(), cs, pre.shape, 1,
                                                                                pre.separateZ, threads);
  Prepared p;
  p.id = c.id;
  const std::int64_t d = pre.shape[0], h = pre.shape[1], w = pre.shape[2];
  p.volume = torch::from_blob(pre.data.data(), { d, h, w }, torch::kFloat).clone();
  p.mask = torch::from_blob(seg.data(), { d, h, w }, torch::kChar).to(torch::kFloat);
  const std::int64_t div = pkg.pnet.sizeDivisor();
  p.stacks = sliceStacks(padToMultiple(p.volume, div), pkg.pnet.inputSlices).contiguous();
  p.target = padToMultiple(p.mask, div).unsqueeze(1).contiguous();
  const torch::Tensor perSlice = p.mask.sum({ 1, 2 });
  for (std::int64_t z = 0; z < d; ++z)
    if (perSlice[z].item<float>() > 0)
      p.foregroundSlices.push_back(z);
  return p;
}

IntensityProperties foregroundProperties(const std::vector<PNetMsaTrainCase>& cases)
{
  std::vector<double> v;
  for (const PNetMsaTrainCase& c : cases)
  {
    std::int64_t k = 0;
    for (std::size_t i = 0; i < c.mask.voxels.size(); ++i)
      if (c.mask.voxels[i] && (k++ % 10) == 0)
        v.push_back(c.image.voxels[i]);
  }
  if (v.empty())
    throw Error("the training cases have no pancreas voxels");
  IntensityProperties ip;
  double sum = 0, sum2 = 0;
  for (double x : v)
  {
    sum += x;
    sum2 += x * x;
  }
  const double n = static_cast<double>(v.size());
  ip.mean = sum / n;
  ip.sd = std::sqrt(std::max(1e-12, sum2 / n - ip.mean * ip.mean));
  ip.min = *std::min_element(v.begin(), v.end());
  ip.max = *std::max_element(v.begin(), v.end());
  ip.median = percentileLinear(v, 50.0);
  ip.percentile00_5 = percentileLinear(v, 0.5);
  ip.percentile99_5 = percentileLinear(v, 99.5);
  return ip;
}

double dice(const torch::Tensor& prob, const torch::Tensor& mask, double threshold)
{
  const torch::Tensor pred = (prob > threshold).to(torch::kFloat);
  const double inter = (pred * mask).sum().item<double>();
  const double denom = pred.sum().item<double>() + mask.sum().item<double>();
  return denom > 0 ? 2.0 * inter / denom : 1.0;
}

double meanDice(PNetMsaModel& model, const std::vector<Prepared>& cases, bool useRnn, double threshold)
{
  if (cases.empty())
    return 0.0;
  const bool training = model->is_training();
  model->eval();
  double s = 0;
  for (const Prepared& p : cases)
    s += dice(pnetMsaProbabilities(model, p.volume, 8, useRnn), p.mask, threshold);
  model->train(training);
  return s / static_cast<double>(cases.size());
}

std::string fmt(const char* f, double a, double b = 0, double c = 0, double d = 0)
{
  char buf[256];
  std::snprintf(buf, sizeof buf, f, a, b, c, d);
  return buf;
}
} // namespace

std::vector<PNetMsaTrainCase> phantomTrainCases(std::uint32_t seed0, int n)
{
  std::vector<PNetMsaTrainCase> out;
  for (int i = 0; i < n; ++i)
  {
    demo::PhantomOptions po;
    po.seed = seed0 + static_cast<std::uint32_t>(i);
    po.size = { 96, 80, 64 };
    po.spacingMm = { 3.2, 3.2, 3.0 };
    po.generateMr = false;
    demo::Phantom ph = demo::generatePhantom(po);
    out.push_back({ "phantom" + std::to_string(po.seed), std::move(ph.ct), std::move(ph.pancreas) });
  }
  return out;
}

namespace
{
/// The shortest decimal text that reads back as `v`.
std::string num17(double v)
{
  for (int precision = 15;; precision = 17)
  {
    std::ostringstream s;
    s.precision(precision);
    s << v;
    if (precision == 17 || std::strtod(s.str().c_str(), nullptr) == v)
      return s.str();
  }
}

std::string joined(const std::vector<std::string>& v)
{
  std::string out;
  for (const std::string& x : v)
    out += (out.empty() ? "" : ",") + x;
  return out;
}

/// Everything that shapes the trajectory; a checkpoint records it and a resume must match it.
std::vector<std::pair<std::string, std::string>> trajectorySettings(const PNetMsaTrainOptions& o,
                                                                    const ModelPackage& meta, int cnnEpochs,
                                                                    const std::vector<std::string>& trainIds,
                                                                    const std::vector<std::string>& valIds)
{
  const PNetMsaSpec& sp = meta.pnet;
  const auto& ip = meta.preprocessing.intensity;
  return { { "network", sp.summary() + " " + num17(sp.inPlaneSpacingYxMm[0]) + "x" + num17(sp.inPlaneSpacingYxMm[1]) +
                            " mm" },
           { "modality", meta.info.modality },
           { "intensity", ip ? num17(ip->mean) + "," + num17(ip->sd) + "," + num17(ip->percentile00_5) + "," +
                                   num17(ip->percentile99_5)
                             : "none" },
           { "loss", o.loss },
           { "epochs", std::to_string(o.epochs) },
           { "cnn_epochs", std::to_string(cnnEpochs) },
           { "iterations_per_epoch", std::to_string(o.iterationsPerEpoch) },
           { "batch", std::to_string(o.batch) },
           { "rnn_sequence", std::to_string(o.rnnSequence) },
           { "learning_rate", num17(o.learningRate) },
           { "rnn_learning_rate", num17(o.rnnLearningRate) },
           { "foreground_slice_fraction", num17(o.foregroundSliceFraction) },
           { "seed", std::to_string(o.seed) },
           { "base_model", o.baseModelDir },
           { "training_cases", joined(trainIds) },
           { "validation_cases", joined(valIds) } };
}

std::string adamKey(const torch::Tensor& p)
{
  return c10::guts::to_string(p.unsafeGetTensorImpl()); // torch::optim::Adam's state key
}

/// Adam's per-parameter state as checkpoint tensors: exp_avg at 2 i, exp_avg_sq at 2 i + 1
/// (i = index in `params`), with the step counts.
void saveAdam(torch::optim::Adam& opt, const std::vector<torch::Tensor>& params, std::vector<torch::Tensor>& tensors,
              std::vector<std::int64_t>& steps)
{
  tensors.assign(2 * params.size(), torch::Tensor());
  steps.assign(params.size(), 0);
  for (std::size_t i = 0; i < params.size(); ++i)
  {
    const auto it = opt.state().find(adamKey(params[i]));
    if (it == opt.state().end())
      continue;
    auto& st = static_cast<torch::optim::AdamParamState&>(*it->second);
    tensors[2 * i] = st.exp_avg();
    tensors[2 * i + 1] = st.exp_avg_sq();
    steps[i] = st.step();
  }
}

void loadAdam(torch::optim::Adam& opt, const std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& tensors,
              const std::vector<std::int64_t>& steps, const std::string& ctx)
{
  if (tensors.size() > 2 * params.size() || steps.size() != params.size())
    throw Error(ctx + ": the optimizer state does not match the network");
  for (std::size_t i = 0; i < params.size(); ++i)
  {
    if (2 * i + 1 >= tensors.size() || !tensors[2 * i].defined() || !tensors[2 * i + 1].defined())
      continue;
    if (tensors[2 * i].sizes() != params[i].sizes())
      throw Error(ctx + ": optimizer state " + std::to_string(i) + " has the wrong shape");
    auto st = std::make_unique<torch::optim::AdamParamState>();
    st->step(steps[i]);
    st->exp_avg(tensors[2 * i].to(params[i].device()));
    st->exp_avg_sq(tensors[2 * i + 1].to(params[i].device()));
    opt.state()[adamKey(params[i])] = std::move(st);
  }
}

} // namespace

PNetMsaTrainResult trainPnetMsa(const std::vector<PNetMsaTrainCase>& train,
                                const std::vector<PNetMsaTrainCase>& validation, const PNetMsaTrainOptions& o)
{
  const auto t0 = Clock::now();
  if (train.empty())
    throw Error("no training cases");
  if (o.loss != "jaccard" && o.loss != "ce" && o.loss != "balanced-ce")
    throw Error("unknown loss '" + o.loss + "' (jaccard, ce, balanced-ce)");
  if (o.batch < 1 || o.rnnSequence < 2 || o.epochs < 1 || o.iterationsPerEpoch < 1)
    throw Error("epochs, iterations per epoch and batch must be >= 1 and the BiRNN sequence >= 2");
  const int threads = configureThreads(o.threads);
  const torch::Device device = parseDevice(o.device);
  auto log = [&](const std::string& s)
  {
    if (o.log)
      o.log(s);
  };

  // ---- the package's metadata: a base model's, or the template's
  ModelPackage meta;
  std::optional<ModelPackage> base;
  if (!o.baseModelDir.empty())
  {
    base = loadModelPackage(o.baseModelDir);
    if (!base->isPnetMsa())
      throw Error("base model " + base->dir + " is a " + base->info.modelType +
                  " model; a pnet-msa training needs a pnet-msa base model");
    meta = *base;
    meta.info.metrics = json::Value();
    meta.info.lineage = json::Value();
    meta.info.demo = o.info.demo || base->info.demo;
  }
  else
  {
    if (o.modality != "CT" && o.modality != "MR")
      throw Error("modality must be CT or MR, not '" + o.modality + "'");
    meta = pnetMsaPackageTemplate(o.modality, o.spec);
    if (o.modality == "CT")
      meta.preprocessing.intensity = foregroundProperties(train);
    meta.info.demo = o.info.demo;
  }
  if (!o.info.name.empty())
    meta.info.name = o.info.name;
  meta.info.version = o.info.version.empty() ? "1" : o.info.version;
  if (!o.info.description.empty())
    meta.info.description = o.info.description;
  meta.info.trainingData = o.info.trainingData;
  meta.info.clinicalUse = false;
  const bool hasRnn = meta.pnet.birnn;
  const int epochs = o.epochs;
  const int cnnEpochs = !hasRnn ? epochs
                        : o.cnnEpochs > 0 ? std::min(o.cnnEpochs, epochs)
                        : epochs < 2     ? epochs
                                         : std::clamp(static_cast<int>(std::lround(0.8 * epochs)), 1, epochs - 1);

  std::vector<Prepared> tr, va;
  std::vector<std::string> trainIds, valIds;
  for (const PNetMsaTrainCase& c : train)
  {
    tr.push_back(prepare(c, meta, threads));
    trainIds.push_back(c.id);
  }
  for (const PNetMsaTrainCase& c : validation)
  {
    va.push_back(prepare(c, meta, threads));
    valIds.push_back(c.id);
  }
  log(fmt("prepared %.0f training and %.0f validation cases (%.1f s)", static_cast<double>(tr.size()),
          static_cast<double>(va.size()), secondsSince(t0)));
  const auto settings = trajectorySettings(o, meta, cnnEpochs, trainIds, valIds);

  PNetMsaTrainResult r;
  r.epochs = epochs;
  r.cnnEpochs = cnnEpochs;
  torch::manual_seed(o.seed);
  PNetMsaModel model(meta.pnet);
  if (base)
    loadStateDict(*model, stateDictOf(*loadPnetMsaNetwork(*base)));
  model->to(device);
  r.parameters = parameterCount(*model);
  const std::vector<torch::Tensor> params = model->parameters();
  const double thr = meta.pnet.threshold;

  // ---- the checkpoint to resume from
  const std::string ckptPath = o.checkpointDir.empty() ? std::string() : o.checkpointDir + "/" + kCheckpointFileName;
  std::optional<CheckpointData> resumeFrom;
  json::Value resumeState;
  double previousSeconds = 0.0;
  if (o.resume && !ckptPath.empty() && fs::exists(ckptPath))
  {
    resumeFrom = readCheckpoint(ckptPath);
    resumeState = json::parse(resumeFrom->headerJson, ckptPath);
    if (resumeState.at("format", ckptPath).asString(ckptPath) != "panseg-pnet-msa-train-1")
      throw Error("cannot resume from " + ckptPath + ": it is not a pnet-msa training checkpoint");
    const json::Value& saved = resumeState.at("settings", ckptPath);
    for (const auto& [key, value] : settings)
    {
      const json::Value* v = saved.find(key);
      const std::string was = v && v->isString() ? v->string : "(absent)";
      if (was != value)
        throw Error("cannot resume from " + ckptPath + ": it was written with " + key + " = " + was +
                    ", this run has " + value + " (start again without --resume, or use the same settings)");
    }
    loadStateDict(*model, resumeFrom->weights);
    model->to(device);
    r.startEpoch = static_cast<int>(resumeState.at("epochs_completed", ckptPath).asInt(ckptPath));
    r.diceUntrained = resumeState.at("dice_untrained", ckptPath).asNumber(ckptPath);
    r.diceCnn = resumeState.at("dice_cnn", ckptPath).asNumber(ckptPath);
    previousSeconds = resumeState.at("training_seconds", ckptPath).asNumber(ckptPath);
    for (const json::Value& h : resumeState.at("history", ckptPath).array)
    {
      PNetMsaEpoch e;
      e.epoch = static_cast<int>(h.at("epoch", ckptPath).asInt(ckptPath));
      e.stage = h.at("stage", ckptPath).asString(ckptPath);
      e.iterations = static_cast<int>(h.at("iterations", ckptPath).asInt(ckptPath));
      e.loss = h.at("loss", ckptPath).asNumber(ckptPath);
      if (const auto* v = h.find("val_dice"); v && v->isNumber())
        e.valDice = v->number;
      e.seconds = h.at("seconds", ckptPath).asNumber(ckptPath);
      r.history.push_back(e);
    }
    log(fmt("resuming after epoch %.0f of %.0f from ", r.startEpoch, epochs) + ckptPath);
  }
  else
  {
    r.diceUntrained = meanDice(model, va, true, thr);
    log(fmt("parameters %.0f; validation Dice before training %.4f", static_cast<double>(r.parameters),
            r.diceUntrained));
  }

  TrainProgress ev;
  ev.epochs = epochs;
  ev.iterations = o.iterationsPerEpoch;
  ev.device = o.device;
  auto report = [&](TrainProgress::Phase phase) -> bool
  {
    ev.phase = phase;
    ev.elapsedSeconds = previousSeconds + secondsSince(t0);
    const int stepsDone = ev.epoch * o.iterationsPerEpoch + ev.iteration - r.startEpoch * o.iterationsPerEpoch;
    const int stepsLeft = (epochs - ev.epoch) * o.iterationsPerEpoch - ev.iteration;
    ev.etaSeconds = stepsDone > 0 ? secondsSince(t0) / stepsDone * std::max(0, stepsLeft)
                                  : std::numeric_limits<double>::quiet_NaN();
    return !o.progress || o.progress(ev);
  };
  auto cancelled = [&] { return o.stop && o.stop->load(); };

  std::unique_ptr<torch::optim::Adam> opt;
  bool optIsRnn = false;
  auto makeOptimizer = [&](bool rnnStage)
  {
    if (!rnnStage)
      opt = std::make_unique<torch::optim::Adam>(model->cnn->parameters(), torch::optim::AdamOptions(o.learningRate));
    else
    {
      std::vector<torch::optim::OptimizerParamGroup> groups;
      groups.emplace_back(model->rnn->parameters(), std::make_unique<torch::optim::AdamOptions>(o.rnnLearningRate));
      groups.emplace_back(model->cnn->parameters(),
                          std::make_unique<torch::optim::AdamOptions>(o.learningRate / 10));
      opt = std::make_unique<torch::optim::Adam>(std::move(groups), torch::optim::AdamOptions(o.rnnLearningRate));
    }
    optIsRnn = rnnStage;
  };
  if (resumeFrom)
  {
    const bool savedRnn = resumeState.at("optimizer", ckptPath).asString(ckptPath) == "birnn";
    const bool nextRnn = r.startEpoch >= cnnEpochs;
    makeOptimizer(nextRnn);
    if (savedRnn == nextRnn)
    {
      std::vector<std::int64_t> steps;
      for (const double s : resumeState.at("adam_steps", ckptPath).asNumberVector(ckptPath))
        steps.push_back(static_cast<std::int64_t>(s));
      loadAdam(*opt, params, resumeFrom->momentum, steps, ckptPath);
    }
    resumeFrom.reset();
  }

  const double cnnBudget = o.maxSeconds > 0 ? 0.8 * o.maxSeconds : 0.0;
  bool budgetCnnOver = false, budgetOver = false;
  for (int epoch = r.startEpoch; epoch < epochs && !budgetOver; ++epoch)
  {
    const bool rnnStage = epoch >= cnnEpochs;
    if (rnnStage && !hasRnn)
      break;
    if (!rnnStage && budgetCnnOver)
      continue;
    if (!opt || optIsRnn != rnnStage)
      makeOptimizer(rnnStage);
    model->train();
    if (rnnStage)
      model->cnn->eval(); // BatchNorm: running statistics; gradients still flow into the CNN
    const auto te = Clock::now();
    ev.epoch = epoch;
    ev.learningRate = rnnStage ? o.rnnLearningRate : o.learningRate;
    double lossSum = 0.0;
    int steps = 0;
    for (int it = 1; it <= o.iterationsPerEpoch; ++it)
    {
      if (cancelled())
      {
        r.cancelled = true;
        break;
      }
      if ((!rnnStage && cnnBudget > 0 && secondsSince(t0) > cnnBudget) ||
          (o.maxSeconds > 0 && secondsSince(t0) > o.maxSeconds))
      {
        (rnnStage ? budgetOver : budgetCnnOver) = true;
        break;
      }
      TrainRng rng = TrainRng::stream(o.seed, rnnStage ? 2 : 1, static_cast<std::uint64_t>(epoch),
                                      static_cast<std::uint64_t>(it));
      const Prepared& p = tr[rng.below(tr.size())];
      const std::int64_t d = p.volume.size(0);
      torch::Tensor loss;
      if (!rnnStage)
      {
        std::vector<std::int64_t> idx;
        for (int b = 0; b < o.batch; ++b)
        {
          const bool fg = !p.foregroundSlices.empty() && rng.uniform() < o.foregroundSliceFraction;
          idx.push_back(fg ? p.foregroundSlices[rng.below(p.foregroundSlices.size())]
                           : static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(d))));
        }
        const torch::Tensor sel = torch::tensor(idx, torch::kLong);
        const torch::Tensor x = p.stacks.index_select(0, sel).to(device), y = p.target.index_select(0, sel).to(device);
        const PNetMsaOutputs out = model->cnn->forwardAll(x);
        loss = pnetLoss(o.loss, out.fused, y);
        for (const torch::Tensor& s : out.sides)
          loss = loss + pnetLoss(o.loss, s, y);
        loss = loss / static_cast<double>(out.sides.size() + 1);
      }
      else
      {
        const std::int64_t len = std::min<std::int64_t>(o.rnnSequence, d);
        const std::int64_t centre =
            p.foregroundSlices.empty() ? static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(d)))
                                       : p.foregroundSlices[rng.below(p.foregroundSlices.size())];
        const std::int64_t start = std::clamp<std::int64_t>(centre - len / 2, 0, d - len);
        const torch::Tensor x = p.stacks.narrow(0, start, len).to(device), y = p.target.narrow(0, start, len).to(device);
        const torch::Tensor cnnLogits = model->cnn->forward(x);
        const torch::Tensor logits = model->rnn->forward(torch::sigmoid(cnnLogits));
        loss = pnetLoss(o.loss, logits, y) + 0.5 * pnetLoss(o.loss, cnnLogits, y);
      }
      opt->zero_grad();
      loss.backward();
      opt->step();
      const double lv = loss.item<double>();
      (rnnStage ? r.rnnLoss : r.cnnLoss).push_back(lv);
      (rnnStage ? r.rnnIterations : r.cnnIterations) += 1;
      lossSum += lv;
      ++steps;
      ev.iteration = it;
      ev.lastLoss = lv;
      ev.loss = lossSum / steps;
      if (!report(TrainProgress::Phase::Training))
      {
        r.cancelled = true;
        break;
      }
    }
    if (r.cancelled)
      break; // the partial epoch is discarded; the last checkpoint is the resume point
    if (steps == 0)
      continue;
    PNetMsaEpoch rec;
    rec.epoch = epoch;
    rec.stage = rnnStage ? "birnn" : "cnn";
    rec.iterations = steps;
    rec.loss = lossSum / steps;
    ev.iteration = 0;
    ev.iterations = static_cast<int>(va.size());
    report(TrainProgress::Phase::Validating);
    ev.iterations = o.iterationsPerEpoch;
    rec.valDice = va.empty() ? std::numeric_limits<double>::quiet_NaN() : meanDice(model, va, rnnStage, thr);
    rec.seconds = secondsSince(te);
    r.history.push_back(rec);
    if (!rnnStage)
      r.diceCnn = va.empty() ? 0.0 : rec.valDice;
    if (!ckptPath.empty())
    {
      std::ostringstream st;
      st << "{\"format\": \"panseg-pnet-msa-train-1\", \"epochs_completed\": " << epoch + 1
         << ", \"epochs\": " << epochs << ", \"optimizer\": \"" << (rnnStage ? "birnn" : "cnn")
         << "\", \"dice_untrained\": " << num17(r.diceUntrained) << ", \"dice_cnn\": " << num17(r.diceCnn)
         << ", \"training_seconds\": " << num17(previousSeconds + secondsSince(t0)) << ", \"adam_steps\": [";
      CheckpointData ck;
      std::vector<std::int64_t> adamSteps;
      saveAdam(*opt, params, ck.momentum, adamSteps);
      for (std::size_t i = 0; i < adamSteps.size(); ++i)
        st << (i ? ", " : "") << adamSteps[i];
      st << "], \"history\": [";
      for (std::size_t i = 0; i < r.history.size(); ++i)
      {
        const PNetMsaEpoch& h = r.history[i];
        st << (i ? ", " : "") << "{\"epoch\": " << h.epoch << ", \"stage\": \"" << h.stage
           << "\", \"iterations\": " << h.iterations << ", \"loss\": " << num17(h.loss)
           << ", \"val_dice\": " << (std::isfinite(h.valDice) ? num17(h.valDice) : "null")
           << ", \"seconds\": " << num17(h.seconds) << "}";
      }
      st << "], \"settings\": {";
      for (std::size_t i = 0; i < settings.size(); ++i)
        st << (i ? ", " : "") << json::quote(settings[i].first) << ": " << json::quote(settings[i].second);
      st << "}}";
      ck.headerJson = st.str();
      ck.weights = stateDictOf(*model);
      fs::create_directories(o.checkpointDir);
      writeCheckpoint(ckptPath, ck);
    }
    ev.valDice = std::isfinite(rec.valDice) ? rec.valDice : ev.valDice;
    ev.loss = rec.loss;
    ev.message = fmt("epoch %.0f/%.0f", epoch + 1, epochs) + (rnnStage ? " (BiRNN)" : " (CNN)") +
                 fmt(": loss %.4f, validation Dice %.4f, %.1f s", rec.loss, rec.valDice, rec.seconds);
    log(ev.message);
    ev.iteration = o.iterationsPerEpoch;
    report(TrainProgress::Phase::EpochDone);
    ev.message.clear();
  }
  for (const PNetMsaEpoch& h : r.history)
    (h.stage == "cnn" ? r.cnnSeconds : r.rnnSeconds) += h.seconds;
  model->eval();
  r.seconds = secondsSince(t0);
  if (r.cancelled)
  {
    log(fmt("cancelled after %.0f of %.0f epochs", r.history.size(), epochs));
    return r;
  }
  r.completed = true;
  // The final validation: each case's probabilities once, thresholded at 0.1 .. 0.9 (Fig. 5).
  std::vector<double> sums(9, 0.0);
  double finalSum = 0.0;
  for (const Prepared& p : va)
  {
    const torch::Tensor prob = pnetMsaProbabilities(model, p.volume, 8, true);
    finalSum += dice(prob, p.mask, thr);
    for (int k = 1; k <= 9; ++k)
      sums[static_cast<std::size_t>(k - 1)] += dice(prob, p.mask, k / 10.0);
  }
  const double nVal = std::max<double>(1.0, static_cast<double>(va.size()));
  r.diceFinal = finalSum / nVal;
  for (int k = 1; k <= 9; ++k)
    r.thresholdDice.emplace_back(k / 10.0, sums[static_cast<std::size_t>(k - 1)] / nVal);
  log(fmt("validation Dice: before %.4f, after the CNN %.4f, final %.4f", r.diceUntrained, r.diceCnn, r.diceFinal));

  // ---- package
  meta.info.metrics.type = json::Value::Type::Object;
  meta.info.metrics.object = { { base ? "dice_val_base_model" : "dice_val_untrained", json::number(r.diceUntrained) },
                               { "dice_val_cnn_only", json::number(r.diceCnn) },
                               { "dice_val_network_grid", json::number(r.diceFinal) },
                               { "validation_cases", json::number(static_cast<double>(va.size())) },
                               { "parameters", json::number(static_cast<double>(r.parameters)) } };
  std::ostringstream th;
  for (const auto& [t, dsc] : r.thresholdDice)
    th << (th.tellp() > 0 ? " " : "") << t << ":" << std::round(dsc * 1000) / 1000;
  meta.info.metrics.object.emplace_back("dice_vs_threshold", json::text(th.str()));
  meta.info.lineage.type = json::Value::Type::Object;
  meta.info.lineage.object = { { "source", json::text("panseg-train --model-type pnet-msa") },
                               { "loss", json::text(o.loss) },
                               { "epochs", json::number(epochs) },
                               { "cnn_epochs", json::number(cnnEpochs) },
                               { "iterations_per_epoch", json::number(o.iterationsPerEpoch) },
                               { "cnn_iterations", json::number(cnnEpochs * o.iterationsPerEpoch) },
                               { "rnn_iterations", json::number((epochs - cnnEpochs) * o.iterationsPerEpoch) },
                               { "batch", json::number(o.batch) },
                               { "seed", json::number(static_cast<double>(o.seed)) },
                               { "device", json::text(o.device) },
                               { "training_cases", json::strings(trainIds) },
                               { "validation_cases", json::strings(valIds) },
                               { "seconds", json::number(std::round(previousSeconds + r.seconds)) } };
  if (r.startEpoch > 0)
    meta.info.lineage.object.emplace_back("resumed_from_epoch", json::number(r.startEpoch));
  if (base)
  {
    meta.info.lineage.object.emplace_back("base_model", json::text(base->dir));
    meta.info.lineage.object.emplace_back("base_model_id", json::text(base->id()));
  }
  if (!o.commandLine.empty())
    meta.info.lineage.object.emplace_back("command", json::text(o.commandLine));
  if (!o.outputDir.empty())
    r.package = savePnetMsaPackage(o.outputDir, meta, model);
  else
    r.package = meta;
  ev.phase = TrainProgress::Phase::Finished;
  ev.epoch = epochs - 1;
  ev.iteration = o.iterationsPerEpoch;
  ev.valDice = r.diceFinal;
  ev.message = fmt("finished: validation Dice %.4f (CNN %.4f, start %.4f)", r.diceFinal, r.diceCnn, r.diceUntrained);
  report(TrainProgress::Phase::Finished);
  r.seconds = secondsSince(t0);
  return r;
}
std::vector<std::pair<double, double>> thresholdStability(const ModelPackage& pkg,
                                                          const std::vector<PNetMsaTrainCase>& cases, int threads)
{
  PredictOptions opt;
  opt.device = "cpu";
  opt.threads = threads;
  opt.estimate = false;
  opt.keepProbabilityMap = true;
  Predictor predictor(pkg, opt);
  std::vector<double> sums(9, 0.0);
  for (const PNetMsaTrainCase& c : cases)
  {
    const PredictResult r = predictor.predict(c.image, opt);
    const std::vector<float>& p = r.foregroundProbability.voxels;
    for (int k = 1; k <= 9; ++k)
    {
      double inter = 0, a = 0, b = 0;
      for (std::size_t i = 0; i < p.size(); ++i)
      {
        const bool pr = p[i] > k / 10.0f, gt = c.mask.voxels[i] != 0;
        inter += pr && gt;
        a += pr;
        b += gt;
      }
      sums[static_cast<std::size_t>(k - 1)] += a + b > 0 ? 2 * inter / (a + b) : 1.0;
    }
  }
  std::vector<std::pair<double, double>> out;
  for (int k = 1; k <= 9; ++k)
    out.emplace_back(k / 10.0, cases.empty() ? 0.0 : sums[static_cast<std::size_t>(k - 1)] / cases.size());
  return out;
}

} // namespace panseg::models
