#include "models/PNetMsaTrainer.h"

#include "core/Error.h"
#include "core/demo/PhantomGenerator.h"
#include "core/preprocess/Preprocess.h"
#include "core/preprocess/Resample.h"
#include "models/PNetMsa.h"
#include "models/PanSegNet.h"
#include "models/Predictor.h"
#include "models/TrainerData.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
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

json::Value jnum(double v)
{
  json::Value j;
  j.type = json::Value::Type::Number;
  j.number = v;
  return j;
}

json::Value jstr(const std::string& v)
{
  json::Value j;
  j.type = json::Value::Type::String;
  j.string = v;
  return j;
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

PNetMsaTrainResult trainPnetMsa(const std::vector<PNetMsaTrainCase>& train,
                                const std::vector<PNetMsaTrainCase>& validation, const PNetMsaTrainOptions& o)
{
  const auto t0 = Clock::now();
  if (train.empty())
    throw Error("no training cases");
  if (o.modality != "CT" && o.modality != "MR")
    throw Error("modality must be CT or MR, not '" + o.modality + "'");
  if (o.loss != "jaccard" && o.loss != "ce" && o.loss != "balanced-ce")
    throw Error("unknown loss '" + o.loss + "' (jaccard, ce, balanced-ce)");
  if (o.batch < 1 || o.rnnSequence < 2 || o.cnnIterations < 0 || o.rnnIterations < 0)
    throw Error("batch must be >= 1, the BiRNN sequence >= 2 and the iteration counts >= 0");
  const int threads = configureThreads(o.threads);
  auto log = [&](const std::string& s)
  {
    if (o.log)
      o.log(s);
  };
  auto stopped = [&] { return o.stop && o.stop->load(); };

  ModelPackage meta = pnetMsaPackageTemplate(o.modality, o.spec);
  if (o.modality == "CT")
    meta.preprocessing.intensity = foregroundProperties(train);
  meta.info.name = o.info.name.empty() ? meta.info.name : o.info.name;
  meta.info.version = o.info.version.empty() ? "1" : o.info.version;
  if (!o.info.description.empty())
    meta.info.description = o.info.description;
  meta.info.trainingData = o.info.trainingData;
  meta.info.demo = o.info.demo;
  meta.info.clinicalUse = false;

  std::vector<Prepared> tr, va;
  for (const PNetMsaTrainCase& c : train)
    tr.push_back(prepare(c, meta, threads));
  for (const PNetMsaTrainCase& c : validation)
    va.push_back(prepare(c, meta, threads));
  log(fmt("prepared %.0f training and %.0f validation cases (%.1f s)", static_cast<double>(tr.size()),
          static_cast<double>(va.size()), secondsSince(t0)));

  torch::manual_seed(o.seed);
  std::mt19937_64 rng(o.seed);
  PNetMsaModel model(o.spec);
  PNetMsaTrainResult r;
  r.parameters = parameterCount(*model);
  const double thr = o.spec.threshold;
  r.diceUntrained = meanDice(model, va, true, thr);
  log(fmt("parameters %.0f; untrained validation Dice %.4f", static_cast<double>(r.parameters), r.diceUntrained));

  auto checkpoint = [&](int it)
  {
    if (o.checkpointDir.empty() || o.checkpointEvery <= 0 || it % o.checkpointEvery)
      return;
    ModelPackage ck = meta;
    ck.info.lineage.object.clear();
    ck.info.lineage.object.emplace_back("checkpoint_iteration", jnum(it));
    savePnetMsaPackage(o.checkpointDir, ck, model);
  };
  const double cnnBudget = o.maxSeconds > 0 ? 0.8 * o.maxSeconds : 0.0;

  // ---- stage 1: the CNN, deep supervision
  const auto tCnn = Clock::now();
  {
    model->train();
    torch::optim::Adam opt(model->cnn->parameters(), torch::optim::AdamOptions(o.learningRate));
    std::uniform_real_distribution<double> u01(0.0, 1.0);
    for (int it = 1; it <= o.cnnIterations; ++it)
    {
      if (stopped() || (cnnBudget > 0 && secondsSince(t0) > cnnBudget))
        break;
      const Prepared& p = tr[std::uniform_int_distribution<std::size_t>(0, tr.size() - 1)(rng)];
      const std::int64_t d = p.volume.size(0);
      std::vector<std::int64_t> idx;
      for (int b = 0; b < o.batch; ++b)
      {
        const bool fg = !p.foregroundSlices.empty() && u01(rng) < o.foregroundSliceFraction;
        idx.push_back(fg ? p.foregroundSlices[std::uniform_int_distribution<std::size_t>(
                               0, p.foregroundSlices.size() - 1)(rng)]
                         : std::uniform_int_distribution<std::int64_t>(0, d - 1)(rng));
      }
      const torch::Tensor sel = torch::tensor(idx, torch::kLong);
      const torch::Tensor x = p.stacks.index_select(0, sel), y = p.target.index_select(0, sel);
      const PNetMsaOutputs out = model->cnn->forwardAll(x);
      torch::Tensor loss = pnetLoss(o.loss, out.fused, y);
      for (const torch::Tensor& s : out.sides)
        loss = loss + pnetLoss(o.loss, s, y);
      loss = loss / static_cast<double>(out.sides.size() + 1);
      opt.zero_grad();
      loss.backward();
      opt.step();
      r.cnnLoss.push_back(loss.item<double>());
      r.cnnIterations = it;
      if (it % 25 == 0)
        log(fmt("cnn iteration %.0f: loss %.4f (%.1f s)", it, r.cnnLoss.back(), secondsSince(t0)));
      checkpoint(it);
    }
  }
  r.cnnSeconds = secondsSince(tCnn);
  r.diceCnn = meanDice(model, va, false, thr);
  log(fmt("CNN: %.0f iterations, %.1f s; validation Dice %.4f", r.cnnIterations, r.cnnSeconds, r.diceCnn));

  // ---- stage 2: BiRNN end to end (CNN BatchNorm statistics frozen)
  const auto tRnn = Clock::now();
  if (model->rnn && o.rnnIterations > 0)
  {
    model->train();
    model->cnn->eval(); // BatchNorm: running statistics; gradients still flow into the CNN
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(model->rnn->parameters(), std::make_unique<torch::optim::AdamOptions>(o.rnnLearningRate));
    groups.emplace_back(model->cnn->parameters(), std::make_unique<torch::optim::AdamOptions>(o.learningRate / 10));
    torch::optim::Adam opt(std::move(groups), torch::optim::AdamOptions(o.rnnLearningRate));
    for (int it = 1; it <= o.rnnIterations; ++it)
    {
      if (stopped() || (o.maxSeconds > 0 && secondsSince(t0) > o.maxSeconds))
        break;
      const Prepared& p = tr[std::uniform_int_distribution<std::size_t>(0, tr.size() - 1)(rng)];
      const std::int64_t d = p.volume.size(0), len = std::min<std::int64_t>(o.rnnSequence, d);
      const std::int64_t centre = p.foregroundSlices.empty()
                                      ? std::uniform_int_distribution<std::int64_t>(0, d - 1)(rng)
                                      : p.foregroundSlices[std::uniform_int_distribution<std::size_t>(
                                            0, p.foregroundSlices.size() - 1)(rng)];
      const std::int64_t start = std::clamp<std::int64_t>(centre - len / 2, 0, d - len);
      const torch::Tensor x = p.stacks.narrow(0, start, len), y = p.target.narrow(0, start, len);
      const torch::Tensor cnnLogits = model->cnn->forward(x);
      const torch::Tensor logits = model->rnn->forward(torch::sigmoid(cnnLogits));
      const torch::Tensor loss = pnetLoss(o.loss, logits, y) + 0.5 * pnetLoss(o.loss, cnnLogits, y);
      opt.zero_grad();
      loss.backward();
      opt.step();
      r.rnnLoss.push_back(loss.item<double>());
      r.rnnIterations = it;
      if (it % 25 == 0)
        log(fmt("birnn iteration %.0f: loss %.4f (%.1f s)", it, r.rnnLoss.back(), secondsSince(t0)));
      checkpoint(o.cnnIterations + it);
    }
  }
  model->eval();
  r.rnnSeconds = secondsSince(tRnn);
  r.diceFinal = meanDice(model, va, true, thr);
  log(fmt("BiRNN: %.0f iterations, %.1f s; validation Dice %.4f", r.rnnIterations, r.rnnSeconds, r.diceFinal));
  for (int k = 1; k <= 9; ++k)
  {
    double s = 0;
    for (const Prepared& p : va)
      s += dice(pnetMsaProbabilities(model, p.volume, 8, true), p.mask, k / 10.0);
    r.thresholdDice.emplace_back(k / 10.0, va.empty() ? 0.0 : s / static_cast<double>(va.size()));
  }

  // ---- package
  auto num = [](double v) { return jnum(v); };
  auto str = [](const std::string& v) { return jstr(v); };
  meta.info.metrics.object = { { "dice_val_network_grid", num(r.diceFinal) },
                               { "dice_val_cnn_only", num(r.diceCnn) },
                               { "dice_val_untrained", num(r.diceUntrained) },
                               { "validation_cases", num(static_cast<double>(va.size())) },
                               { "parameters", num(static_cast<double>(r.parameters)) } };
  std::ostringstream th;
  for (const auto& [t, dsc] : r.thresholdDice)
    th << (th.tellp() > 0 ? " " : "") << t << ":" << std::round(dsc * 1000) / 1000;
  meta.info.metrics.object.emplace_back("dice_vs_threshold", str(th.str()));
  meta.info.lineage.object = { { "source", str("panseg-train --model-type pnet-msa") },
                               { "loss", str(o.loss) },
                               { "cnn_iterations", num(r.cnnIterations) },
                               { "rnn_iterations", num(r.rnnIterations) },
                               { "batch", num(o.batch) },
                               { "seed", num(static_cast<double>(o.seed)) },
                               { "training_cases", num(static_cast<double>(tr.size())) },
                               { "seconds", num(std::round(secondsSince(t0))) } };
  if (!o.outputDir.empty())
    r.package = savePnetMsaPackage(o.outputDir, meta, model);
  else
    r.package = meta;
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

int pnetMsaTrainMain(int argc, char** argv)
{
  static const char* kUsage =
      "usage: panseg-train --model-type pnet-msa demo --out MODEL_DIR [options]\n"
      "  Cai et al.'s PNet-MSA + BiRNN on generated CT phantoms (docs/pnet-msa.md).\n"
      "  --cases N            phantoms in all (default 12)      --val-cases N   of them for validation (2)\n"
      "  --phantom-seed S     first phantom seed (1001)         --seed S        training seed (1)\n"
      "  --cnn-iterations N   (600)   --rnn-iterations N (150)  --batch N       slices per step (8)\n"
      "  --loss jaccard|ce|balanced-ce (jaccard)                --seconds S     wall-clock budget\n"
      "  --threads N          --no-birnn                        --name TEXT     --version V\n"
      "  --checkpoint-every N iterations (0 = none; written to MODEL_DIR.checkpoint, package format)\n";
  std::map<std::string, std::string> v;
  std::vector<std::string> pos;
  bool noBirnn = false;
  for (int i = 1; i < argc; ++i)
  {
    const std::string s = argv[i];
    if (s == "--no-birnn")
      noBirnn = true;
    else if (s == "--help")
    {
      std::printf("%s", kUsage);
      return 0;
    }
    else if (s.rfind("--", 0) == 0)
    {
      if (i + 1 >= argc)
        throw Error("option " + s + " needs a value");
      v[s.substr(2)] = argv[++i];
    }
    else
      pos.push_back(s);
  }
  auto get = [&](const std::string& k, const std::string& def) { return v.count(k) ? v[k] : def; };
  auto toInt = [&](const std::string& k, long def)
  {
    const std::string s = get(k, std::to_string(def));
    char* end = nullptr;
    const long x = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end)
      throw Error("--" + k + " must be a whole number, not '" + s + "'");
    return x;
  };
  static const std::vector<std::string> known = { "model-type", "out", "cases", "val-cases", "phantom-seed", "seed",
                                                  "cnn-iterations", "rnn-iterations", "batch", "loss", "seconds",
                                                  "threads", "name", "version", "checkpoint-every" };
  for (const auto& kv : v)
    if (std::find(known.begin(), known.end(), kv.first) == known.end())
      throw Error("unknown option --" + kv.first + " for --model-type pnet-msa (see --help)");
  if (pos.size() != 1 || pos[0] != "demo")
    throw Error("--model-type pnet-msa trains on generated phantoms only: panseg-train --model-type pnet-msa "
                "demo --out DIR");
  const std::string out = get("out", "");
  if (out.empty())
    throw Error("--out MODEL_DIR is required");
  const int n = static_cast<int>(toInt("cases", 12)), nVal = static_cast<int>(toInt("val-cases", 2));
  if (n < 2 || nVal < 1 || nVal >= n)
    throw Error("needs --cases >= 2 and 1 <= --val-cases < --cases");
  const long seed0 = toInt("phantom-seed", 1001);
  if (seed0 <= 1 && seed0 + n > 1)
    throw Error("--phantom-seed range must not include seed 1 (the demo study)");
  PNetMsaTrainOptions o;
  o.spec.birnn = !noBirnn;
  o.cnnIterations = static_cast<int>(toInt("cnn-iterations", o.cnnIterations));
  o.rnnIterations = static_cast<int>(toInt("rnn-iterations", o.rnnIterations));
  o.batch = static_cast<int>(toInt("batch", o.batch));
  o.seed = static_cast<std::uint64_t>(toInt("seed", 1));
  o.threads = static_cast<int>(toInt("threads", 0));
  o.loss = get("loss", "jaccard");
  o.maxSeconds = std::atof(get("seconds", "0").c_str());
  o.outputDir = out;
  o.checkpointEvery = static_cast<int>(toInt("checkpoint-every", 0));
  o.checkpointDir = out + ".checkpoint";
  o.info.name = get("name", "PNet-MSA demo (synthetic phantoms)");
  o.info.version = get("version", "1");
  o.info.demo = true;
  std::ostringstream td;
  td << n - nVal << " synthetic abdominal CT phantoms for training and " << nVal
     << " for validation (panseg::demo::generatePhantom seeds " << seed0 << ".." << seed0 + n - 1
     << ", 96 x 80 x 64 voxels of 3.2 x 3.2 x 3.0 mm)";
  o.info.trainingData = td.str();
  o.log = [](const std::string& s)
  {
    std::printf("%s\n", s.c_str());
    std::fflush(stdout);
  };
  const auto t0 = Clock::now();
  std::vector<PNetMsaTrainCase> all = phantomTrainCases(static_cast<std::uint32_t>(seed0), n);
  std::vector<PNetMsaTrainCase> val(std::make_move_iterator(all.end() - nVal), std::make_move_iterator(all.end()));
  all.resize(static_cast<std::size_t>(n - nVal));
  std::printf("generated %d phantoms (%.1f s)\n", n, secondsSince(t0));
  const PNetMsaTrainResult r = trainPnetMsa(all, val, o);
  std::error_code ec;
  fs::remove_all(o.checkpointDir, ec);
  std::printf("wrote %s: %s, %lld parameters; validation Dice untrained %.4f, CNN %.4f, CNN+BiRNN %.4f "
              "(%.0f s)\n",
              r.package.dir.c_str(), r.package.networkSummary().c_str(), static_cast<long long>(r.parameters),
              r.diceUntrained, r.diceCnn, r.diceFinal, r.seconds);
  return 0;
}
} // namespace panseg::models
