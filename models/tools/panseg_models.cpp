// panseg-models: parity, benchmark and inspection commands for the models/ library.
// Runs on a bare GPU machine (LibTorch only): see models/README.md.
#include "core/Error.h"
#include "models/ModelPackage.h"
#include "models/NnUNetV2Net.h"
#include "models/PNetMsa.h"
#include "models/PNetMsaTrainer.h"
#include "models/PackageWeights.h"
#include "models/PanSegNet.h"
#include "models/Parity.h"
#include "models/Predictor.h"
#include "models/Plans.h"
#include "models/Weights.h"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace
{
using namespace panseg::models;

const char* kUsage = R"(usage:
  panseg-models parity --fixture DIR [--device cpu|cuda[:N]] [--fp16 | --half | --fp64]
                       [--checkpoint] [--tf32] [--threads N]
      Run the fixture network (shared/fixtures/pansegnet-parity) and compare every tensor.
      --fp16 = CUDA autocast (as nnUNet_predict), --half = module cast to half,
      --checkpoint = load model_final_checkpoint.model instead of weights.bin.
  panseg-models bench --plan paper|fixture|PLANS.json [--device cpu|cuda[:N]] [--fp16 | --half]
                      [--reps N] [--warmup N] [--batch N] [--no-attention] [--threads N]
      Median time of one inference forward pass (random weights and input).
  panseg-models info --plan paper|fixture|PLANS.json [--no-attention]
      Plan summary, parameter count, state-dict size; --json prints the plan as JSON.
  panseg-models checkpoint FILE.model [--plans FILE.pkl]
      Read an nnU-Net v1 checkpoint (and its .model.pkl plans) and check they fit together.
  panseg-models import-nnunet RESULT_DIR --out PACKAGE_DIR [--name N] [--version V]
                [--modality CT|MR] [--training-data TEXT] [--demo] [--force] [--fold N | --folds 0,2]
                [--checkpoint model_final_checkpoint|model_best]
      Convert an nnU-Net v1 result folder (fold_N/model_final_checkpoint.model + .model.pkl,
      plans.pkl, postprocessing.json) into a model package, without Python: every fold found
      (or the ones named), averaged at prediction (softmax mean, as nnUNet_predict).
  panseg-models package-fixture --pipeline-plans PLANS.json --fixture PARITY_DIR --out DIR
                [--name N] [--force]
      Write a package from a shared/fixtures/pansegnet-pipeline case's plans.json and the parity
      fixture's weights (random weights: tests, benchmarks and demos of the plumbing only).
  panseg-models package-info PACKAGE_DIR
      Validate a package and load its weights into the network (PanSegNet or PNet-MSA).
  panseg-models threshold-report PACKAGE_DIR [--phantoms N] [--phantom-seed S] [--threads N]
      Dice against the threshold 0.1..0.9 (Cai et al. Fig. 5) of a pnet-msa package on generated
      CT phantoms (default 3, seeds 3001..), through the prediction pipeline, on the input grid.
  panseg-models bench-case --fixture-case PIPELINE_CASE_DIR --fixture PARITY_DIR
                [--device cpu|cuda[:N]] [--reps N] [--threads N] [--no-fp16]
      Whole-case prediction time without ITK (GPU machines): the case's preprocessed_input.bin
      as an image on the target spacing, the case's plans + fixture weights; TTA at step 0.5,
      no TTA, and --fast. Peak RSS and GPU memory.
Threads default to the hardware concurrency.
)";

struct Args
{
  std::string command;
  std::vector<std::string> positional;
  std::map<std::string, std::string> options; // "--x" -> value ("" for flags)

  bool flag(const std::string& name) const { return options.count(name) != 0; }
  std::string get(const std::string& name, const std::string& fallback) const
  {
    const auto it = options.find(name);
    return it == options.end() ? fallback : it->second;
  }
  int getInt(const std::string& name, int fallback) const
  {
    const auto it = options.find(name);
    if (it == options.end())
      return fallback;
    try
    {
      std::size_t used = 0;
      const int v = std::stoi(it->second, &used);
      if (used != it->second.size())
        throw std::invalid_argument(it->second);
      return v;
    }
    catch (const std::exception&)
    {
      throw panseg::Error("option " + name + " expects an integer, got '" + it->second + "'");
    }
  }
};

Args parseArgs(int argc, char** argv)
{
  static const std::vector<std::string> withValue = {
      "--fixture", "--device", "--threads", "--plan", "--reps", "--warmup", "--batch", "--plans",
      "--out", "--name", "--version", "--modality", "--training-data", "--fold", "--pipeline-plans", "--fixture-case",
      "--phantoms", "--phantom-seed", "--configuration", "--checkpoint", "--folds"};
  Args a;
  for (int i = 1; i < argc; ++i)
  {
    const std::string s = argv[i];
    if (s.rfind("--", 0) == 0)
    {
      if (std::find(withValue.begin(), withValue.end(), s) != withValue.end())
      {
        if (i + 1 >= argc)
          throw panseg::Error("option " + s + " needs a value");
        a.options[s] = argv[++i];
      }
      else
        a.options[s] = "";
    }
    else if (a.command.empty())
      a.command = s;
    else
      a.positional.push_back(s);
  }
  return a;
}

PlanConfig planFromArg(const std::string& name, bool noAttention)
{
  PlanConfig p;
  if (name == "paper")
    p = PlanConfig::paperLike();
  else if (name == "fixture")
    p = PlanConfig::fixture();
  else
    p = PlanConfig::fromJsonFile(name);
  if (noAttention)
    p.attention.enabled = false;
  return p;
}

Precision precisionFromArgs(const Args& a)
{
  const int n = int(a.flag("--fp16")) + int(a.flag("--half")) + int(a.flag("--fp64"));
  if (n > 1)
    throw panseg::Error("choose one of --fp16, --half, --fp64");
  if (a.flag("--fp16"))
    return Precision::Float16Autocast;
  if (a.flag("--half"))
    return Precision::Float16;
  if (a.flag("--fp64"))
    return Precision::Float64;
  return Precision::Float32;
}

std::string deviceDescription(const torch::Device& d, int threads)
{
  if (d.is_cuda())
    return d.str() + " (" + std::to_string(torch::cuda::device_count()) + " GPU(s) visible)";
  return "cpu, " + std::to_string(threads) + " thread(s)";
}

int cmdParity(const Args& a)
{
  ParityOptions o;
  o.fixtureDir = a.get("--fixture", "");
  if (o.fixtureDir.empty())
    throw panseg::Error("parity needs --fixture DIR");
  if (!std::filesystem::is_directory(o.fixtureDir))
    throw panseg::Error("fixture folder not found: " + o.fixtureDir);
  o.device = a.get("--device", "cpu");
  o.precision = precisionFromArgs(a);
  o.weightsFromCheckpoint = a.flag("--checkpoint");
  o.allowTf32 = a.flag("--tf32");
  const int threads = configureThreads(a.getInt("--threads", 0));
  const ParityReport r = runFixtureParity(o);
  std::printf("PanSegNet parity: fixture %s\n", o.fixtureDir.c_str());
  std::printf("device %s, precision %s, weights from %s, %lld parameters\n",
              deviceDescription(parseDevice(o.device), threads).c_str(),
              toString(o.precision).c_str(),
              o.weightsFromCheckpoint ? "model_final_checkpoint.model" : "weights.bin",
              static_cast<long long>(r.parameterCount));
  std::printf("%-52s %12s %12s %10s %s\n", "tensor", "max|d|", "mean|d|", "bound", "");
  for (const auto& c : r.tensors)
  {
    char bound[32];
    if (c.tolerance > 0)
      std::snprintf(bound, sizeof bound, "%.0e", c.tolerance);
    else
      std::snprintf(bound, sizeof bound, "info");
    std::printf("%-52s %12.3e %12.3e %10s %s\n", c.name.c_str(), c.maxAbs, c.meanAbs, bound,
                c.pass ? "ok" : "FAIL");
  }
  std::printf("logits vs output.bin: max|d| %.3e; vs output_ref_float64.bin: max|d| %.3e\n",
              r.outputMaxAbs, r.outputMaxAbsVsFloat64);
  std::printf("argmax agreement: %lld / %lld voxels differ from output.bin (%.6f %%), %lld from "
              "the float64 "
              "reference\n",
              static_cast<long long>(r.argmaxMismatches), static_cast<long long>(r.voxels),
              100.0 * static_cast<double>(r.argmaxMismatches) /
                  static_cast<double>(std::max<std::int64_t>(1, r.voxels)),
              static_cast<long long>(r.argmaxMismatchesVsFloat64));
  std::printf("forward pass: %.1f ms\n", r.forwardSeconds * 1e3);
  std::printf("%s\n", r.pass ? "PARITY PASS" : "PARITY FAIL");
  return r.pass ? 0 : 1;
}

int cmdBench(const Args& a)
{
  const PlanConfig plan = planFromArg(a.get("--plan", "paper"), a.flag("--no-attention"));
  const int threads = configureThreads(a.getInt("--threads", 0));
  const torch::Device device = parseDevice(a.get("--device", "cpu"));
  const Precision precision = precisionFromArgs(a);
  if (precision == Precision::Float64)
    throw panseg::Error("bench supports fp32, --fp16 and --half");
  if (precision != Precision::Float32 && !device.is_cuda())
    throw panseg::Error("--fp16 / --half need --device cuda");
  const int reps = std::max(1, a.getInt("--reps", device.is_cuda() ? 20 : 3));
  const int warmup = std::max(0, a.getInt("--warmup", device.is_cuda() ? 3 : 1));
  const int batch = std::max(1, a.getInt("--batch", 1));
  if (device.is_cuda())
    at::globalContext().setBenchmarkCuDNN(true);

  torch::manual_seed(0);
  PanSegNet net(plan);
  net->eval();
  const torch::ScalarType dtype = precision == Precision::Float16 ? torch::kHalf : torch::kFloat;
  net->to(device, dtype);
  const torch::Tensor input = torch::randn({batch, plan.inputChannels, plan.patchSize[0],
                                            plan.patchSize[1], plan.patchSize[2]})
                                  .to(device, dtype);

  std::printf("plan: %s\n%lld parameters; device %s; precision %s; batch %d\n",
              plan.summary().c_str(), static_cast<long long>(parameterCount(*net)),
              deviceDescription(device, threads).c_str(), toString(precision).c_str(), batch);
  std::fflush(stdout);
  std::vector<double> times;
  {
    c10::InferenceMode inference;
    CudaAutocast autocast(precision == Precision::Float16Autocast);
    for (int i = 0; i < warmup + reps; ++i)
    {
      if (device.is_cuda())
        torch::cuda::synchronize();
      const auto t0 = std::chrono::steady_clock::now();
      const torch::Tensor out = net->forward(input);
      if (device.is_cuda())
        torch::cuda::synchronize();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (i >= warmup)
        times.push_back(s);
      std::printf("  %s %d: %.1f ms\n", i < warmup ? "warm-up" : "rep",
                  i < warmup ? i + 1 : i - warmup + 1, s * 1e3);
      std::fflush(stdout);
    }
  }
  std::sort(times.begin(), times.end());
  const double median = times.size() % 2
                            ? times[times.size() / 2]
                            : 0.5 * (times[times.size() / 2 - 1] + times[times.size() / 2]);
  std::printf("median forward: %.1f ms per batch, %.1f ms per patch (min %.1f ms, %zu reps)\n",
              median * 1e3, median * 1e3 / batch, times.front() * 1e3, times.size());
  return 0;
}

int cmdInfo(const Args& a)
{
  const PlanConfig plan = planFromArg(a.get("--plan", "paper"), a.flag("--no-attention"));
  if (a.flag("--json"))
  {
    std::cout << plan.toJson();
    return 0;
  }
  PanSegNet net(plan);
  const StateDict sd = stateDictOf(*net);
  std::printf("plan: %s\n", plan.summary().c_str());
  std::printf("parameters: %lld; state_dict entries: %zu\n",
              static_cast<long long>(parameterCount(*net)), sd.size());
  for (std::int64_t s = 0; s <= plan.numPools(); ++s)
    std::printf("  stage %lld: %lld channels, kernel %s, first stride %s\n",
                static_cast<long long>(s), static_cast<long long>(plan.stageChannels(s)),
                toString(plan.convKernels[static_cast<std::size_t>(s)]).c_str(),
                toString(plan.encoderStride(s)).c_str());
  for (std::int64_t u = 0; u < plan.numPools(); ++u)
    std::printf("  decoder level %lld: kernel %s\n", static_cast<long long>(u),
                toString(plan.decoderKernel(u)).c_str());
  return 0;
}

int cmdCheckpoint(const Args& a)
{
  if (a.positional.size() != 1)
    throw panseg::Error("checkpoint needs exactly one FILE.model");
  const std::string path = a.positional[0];
  const NnUNetCheckpoint ck = readNnUNetCheckpoint(path);
  std::int64_t numel = 0;
  for (const auto& kv : ck.stateDict)
    numel += kv.second.numel();
  std::printf("checkpoint %s: epoch %lld, %zu state_dict entries, %lld values\n", path.c_str(),
              static_cast<long long>(ck.epoch), ck.stateDict.size(), static_cast<long long>(numel));
  std::string plansPath = a.get("--plans", "");
  if (plansPath.empty() && std::filesystem::exists(path + ".pkl"))
    plansPath = path + ".pkl";
  if (plansPath.empty())
    return 0;
  const NnUNetPlans plans = readNnUNetPlans(plansPath);
  std::printf("plans %s (stage %lld%s%s): spacing %.4g x %.4g x %.4g mm, normalisation %s\n",
              plansPath.c_str(), static_cast<long long>(plans.stage),
              plans.trainerName.empty() ? "" : ", trainer ", plans.trainerName.c_str(),
              plans.targetSpacingMm[0], plans.targetSpacingMm[1], plans.targetSpacingMm[2],
              plans.normalizationSchemes.empty() ? "?" : plans.normalizationSchemes[0].c_str());
  const PlanConfig plan = planMatchingStateDict(plans.network, ck.stateDict);
  PanSegNet net(plan);
  loadStateDict(*net, ck.stateDict);
  std::printf("network: %s\n%lld parameters; weights load cleanly\n", plan.summary().c_str(),
              static_cast<long long>(parameterCount(*net)));
  return 0;
}
void printPackage(const ModelPackage& pkg)
{
  if (pkg.isNnUNetV2())
  {
    const V2ModelSpec& v = pkg.v2;
    std::printf("package %s\n  model: %s (%s, nnU-Net v2 %s__%s__%s)\n  network: %s\n  preprocessing: spacing %.4g x "
                "%.4g x %.4g mm (transposed order), %s, transpose [%d, %d, %d], reader %s\n  folds: %zu; mirror axes: "
                "%zu; labels:",
                pkg.dir.c_str(), pkg.id().c_str(), pkg.info.modality.c_str(), v.trainerName.c_str(), v.plansName.c_str(),
                v.configuration.c_str(), v.network.summary().c_str(), v.params.targetSpacing[0],
                v.params.targetSpacing[1], v.params.targetSpacing[2],
                panseg::nnunet::v2::toString(v.params.normalization).c_str(), v.params.transposeForward[0],
                v.params.transposeForward[1], v.params.transposeForward[2], v.readerWriter.c_str(), v.folds.size(),
                v.mirrorAxes.size());
    for (const auto& [value, name] : v.labels)
      std::printf(" %d=%s", value, name.c_str());
    std::printf("\n  folds:");
    for (int f : v.folds)
      std::printf(" %s", f < 0 ? "all" : std::to_string(f).c_str());
    std::printf(" (%zu averaged; the time scales with the folds)\n", v.folds.size());
    std::printf("  weights: %zu tensors, %lld bytes\n", pkg.weights.size(), static_cast<long long>(pkg.weightsBytes));
    return;
  }
  if (pkg.isPnetMsa())
  {
    std::printf("package %s\n  model: %s (%s, %s%s)\n  speed class: %s\n  network: %s\n  preprocessing: "
                "in-plane spacing %.4g x %.4g mm (y, x; z kept), %s normalisation; threshold %.3g\n"
                "  weights: %zu tensors, %lld bytes\n",
                pkg.dir.c_str(), pkg.id().c_str(), pkg.info.modality.c_str(), pkg.info.modelType.c_str(),
                pkg.info.demo ? ", DEMO - not for clinical use" : "",
                pkg.info.speedClass.empty() ? "not stated" : pkg.info.speedClass.c_str(),
                pkg.networkSummary().c_str(), pkg.pnet.inPlaneSpacingYxMm[0], pkg.pnet.inPlaneSpacingYxMm[1],
                pkg.preprocessing.normalization.c_str(), pkg.pnet.threshold, pkg.weights.size(),
                static_cast<long long>(pkg.weightsBytes));
    return;
  }
  std::printf("package %s\n  model: %s (%s, %s%s)\n  network: %s\n  preprocessing: spacing %.4g x %.4g x %.4g mm "
              "(z, y, x), %s normalisation%s\n  weights: %zu tensors, %lld bytes\n",
              pkg.dir.c_str(), pkg.id().c_str(), pkg.info.modality.c_str(), pkg.info.modelType.c_str(),
              pkg.info.demo ? ", DEMO - not for clinical use" : "", pkg.network.summary().c_str(),
              pkg.preprocessing.targetSpacingMm[0], pkg.preprocessing.targetSpacingMm[1],
              pkg.preprocessing.targetSpacingMm[2], pkg.preprocessing.normalization.c_str(),
              pkg.preprocessing.largestComponentLabels.empty() ? "" : ", largest connected component",
              pkg.weights.size(), static_cast<long long>(pkg.weightsBytes));
  if (!pkg.info.speedClass.empty())
    std::printf("  speed class: %s\n", pkg.info.speedClass.c_str());
  if (pkg.preprocessing.foldCount() > 1)
  {
    std::printf("  folds:");
    for (int f : pkg.preprocessing.folds)
      std::printf(" %d", f);
    std::printf(" (%zu averaged, softmax mean as nnUNet_predict; the time scales with the folds)\n",
                pkg.preprocessing.foldCount());
  }
}

int cmdImport(const Args& a)
{
  if (a.positional.size() != 1)
    throw panseg::Error("import-nnunet needs exactly one RESULT_DIR (and --out PACKAGE_DIR)");
  const std::string src = a.positional[0];
  if (looksLikeNnUNetV2Result(src) || (std::filesystem::is_regular_file(src) && src.size() > 4 &&
                                       src.compare(src.size() - 4, 4, ".zip") == 0))
  {
    if (a.flag("--demo"))
      throw panseg::Error("--demo is for the project's own demo packages, not nnU-Net v2 imports");
    ImportV2Options v;
    v.name = a.get("--name", "");
    v.version = a.get("--version", "1");
    v.modality = a.get("--modality", "");
    v.trainingData = a.get("--training-data", "");
    v.force = a.flag("--force");
    if (a.flag("--fold"))
      v.folds = { std::to_string(a.getInt("--fold", 0)) };
    if (a.flag("--folds"))
    {
      const std::string list = a.get("--folds", "");
      if (list != "all-found")
      {
        std::string cur;
        for (char ch : list + ",")
          if (ch == ',')
          {
            if (!cur.empty())
              v.folds.push_back(cur);
            cur.clear();
          }
          else if (ch != ' ')
            cur += ch;
      }
    }
    v.configuration = a.get("--configuration", "");
    v.checkpoint = a.get("--checkpoint", "checkpoint_final.pth");
    const ModelPackage pkg = importNnUNetV2Result(src, a.get("--out", ""), v);
    printPackage(pkg);
    std::printf("imported from %s (nnU-Net v2)\n", src.c_str());
    return 0;
  }
  ImportOptions o;
  o.name = a.get("--name", "");
  o.version = a.get("--version", "1");
  o.modality = a.get("--modality", "");
  o.trainingData = a.get("--training-data", "");
  o.demo = a.flag("--demo");
  o.force = a.flag("--force");
  if (a.flag("--fold"))
    o.folds = { a.getInt("--fold", 0) };
  if (a.flag("--folds") && a.get("--folds", "") != "all-found")
  {
    std::string cur;
    for (char ch : a.get("--folds", "") + ",")
      if (ch == ',')
      {
        if (!cur.empty())
        {
          if (cur.find_first_not_of("0123456789") != std::string::npos || cur.size() > 6)
            throw panseg::Error("--folds takes fold numbers separated by commas (e.g. 0,2), not '" +
                                a.get("--folds", "") + "'");
          o.folds.push_back(std::stoi(cur));
        }
        cur.clear();
      }
      else if (ch != ' ')
        cur += ch;
  }
  if (!a.get("--checkpoint", "").empty())
    o.checkpoint = a.get("--checkpoint", "");
  const ModelPackage pkg = importNnUNetResult(a.positional[0], a.get("--out", ""), o);
  printPackage(pkg);
  std::printf("imported from %s\n", a.positional[0].c_str());
  return 0;
}

int cmdPackageFixture(const Args& a)
{
  const std::string plans = a.get("--pipeline-plans", ""), fixture = a.get("--fixture", ""),
                    out = a.get("--out", "");
  if (plans.empty() || fixture.empty() || out.empty())
    throw panseg::Error("package-fixture needs --pipeline-plans, --fixture and --out");
  ModelPackage pkg = packageFromPipelineFixture(plans, fixture);
  if (a.flag("--name"))
    pkg.info.name = a.get("--name", "");
  pkg.info.lineage.type = json::Value::Type::Object;
  json::Value src;
  src.type = json::Value::Type::String;
  src.string = "panseg-models package-fixture: " + plans + " + " + fixture + " (random weights)";
  pkg.info.lineage.object.emplace_back("source", src);
  if (std::filesystem::exists(out) && !a.flag("--force"))
    throw panseg::Error("output folder already exists: " + out + " (use --force to replace a package)");
  if (std::filesystem::exists(out) && !looksLikeModelPackage(out))
    throw panseg::Error("refusing to replace " + out + ": it is not a model package");
  const StateDict weights = readPackageWeights(pkg);
  std::filesystem::remove_all(out);
  std::filesystem::create_directories(out);
  writePackageWeights(out, weights);
  writePackageMetadata(out, pkg);
  const ModelPackage check = loadModelPackage(out);
  (void)loadPackageNetwork(check);
  printPackage(check);
  return 0;
}

int cmdBenchCase(const Args& a)
{
  const std::string caseDir = a.get("--fixture-case", ""), fixture = a.get("--fixture", "");
  if (caseDir.empty() || fixture.empty())
    throw panseg::Error("bench-case needs --fixture-case and --fixture");
  ModelPackage pkg = packageFromPipelineFixture(caseDir + "/plans.json", fixture);
  // The input is already normalised: no second normalisation, so the sliding window sees exactly
  // the fixture's network input and its probabilities can be compared with probabilities.bin.
  pkg.preprocessing.normalization = "noNorm";
  pkg.preprocessing.intensity.reset();
  const json::Value arrays = json::parseFile(caseDir + "/arrays.json");
  const json::Value* entry = arrays.find("preprocessed_input.bin");
  if (!entry)
    throw panseg::Error(caseDir + "/arrays.json: no preprocessed_input.bin entry");
  const auto shape = entry->at("shape", "arrays.json").asIntVector("shape"); // [1, D, H, W]
  if (shape.size() != 4)
    throw panseg::Error("preprocessed_input.bin: expected shape [1, D, H, W]");
  const torch::Tensor data = readRawTensor(caseDir + "/preprocessed_input.bin", shape);
  panseg::Geometry g;
  g.size = {shape[3], shape[2], shape[1]};
  g.spacingMm = {pkg.preprocessing.targetSpacingMm[2], pkg.preprocessing.targetSpacingMm[1],
                 pkg.preprocessing.targetSpacingMm[0]};
  panseg::Image image(g, 0.0f);
  std::memcpy(image.voxels.data(), data.data_ptr<float>(), image.voxels.size() * sizeof(float));
  PredictOptions base;
  base.device = a.get("--device", "auto");
  base.threads = a.getInt("--threads", 0);
  base.fp16 = a.flag("--no-fp16") ? 0 : -1;
  base.estimate = false;
  Predictor predictor(pkg, base);
  const int reps = std::max(1, a.getInt("--reps", predictor.device() == "cpu" ? 1 : 3));
  std::printf("whole case from %s/preprocessed_input.bin (%lld x %lld x %lld at the target spacing; "
              "preprocessing is then a no-op resample), fixture network\ndevice: %s%s\n",
              caseDir.c_str(), static_cast<long long>(shape[1]), static_cast<long long>(shape[2]),
              static_cast<long long>(shape[3]), describeDevice(predictor.device()).c_str(),
              predictor.fp16() ? ", fp16 autocast" : ", fp32");
  std::printf("%-30s %8s %10s %10s  %s\n", "mode", "passes", "median s", "net s", "vs probabilities.bin");
  std::fflush(stdout);
  struct Mode
  {
    const char* name;
    bool tta, fast;
  };
  for (const Mode& m : {Mode{"TTA (8 mirrors), step 0.5", true, false}, Mode{"no TTA, step 0.5", false, false},
                        Mode{"--fast (no TTA, step 1.0)", false, true}})
  {
    PredictOptions o = base;
    o.tta = m.tta;
    o.fast = m.fast;
    o.keepProbabilities = m.tta;
    std::vector<double> total, net;
    PredictResult r;
    for (int i = 0; i < reps; ++i)
    {
      r = predictor.predict(image, o);
      total.push_back(r.seconds);
      net.push_back(r.networkSeconds);
    }
    std::sort(total.begin(), total.end());
    std::sort(net.begin(), net.end());
    std::string cmp;
    if (m.tta)
    {
      // Same as nnU-Net only when the crop changed nothing (true for the fixture cases).
      const torch::Tensor ref = readRawTensor(caseDir + "/probabilities.bin", {2, shape[1], shape[2], shape[3]});
      if (static_cast<std::int64_t>(r.probabilities.size()) == ref.numel())
      {
        const torch::Tensor ours = torch::from_blob(r.probabilities.data(), ref.sizes(), torch::kFloat);
        const double maxAbs = (ours - ref).abs().max().item<double>();
        const std::int64_t flips = (ours.argmax(0) != ref.argmax(0)).sum().item<std::int64_t>();
        char buf[160];
        std::snprintf(buf, sizeof buf, "max|d| %.3e, argmax differs at %lld of %lld voxels", maxAbs,
                      static_cast<long long>(flips), static_cast<long long>(ref.numel() / 2));
        cmp = buf;
      }
      else
        cmp = "(shape differs: not compared)";
    }
    std::printf("%-30s %8lld %10.2f %10.2f  %s\n", m.name, static_cast<long long>(r.forwardPasses),
                total[total.size() / 2], net[net.size() / 2], cmp.c_str());
    std::fflush(stdout);
  }
  std::printf("peak RSS %.0f MiB", peakRssMb());
  if (gpuPeakMemoryMb() >= 0)
    std::printf(", GPU peak allocated %.0f MiB", gpuPeakMemoryMb());
  std::printf("\n");
  return 0;
}

int cmdPackageInfo(const Args& a)
{
  if (a.positional.size() != 1)
    throw panseg::Error("package-info needs exactly one PACKAGE_DIR");
  const ModelPackage pkg = loadModelPackage(a.positional[0]);
  const std::int64_t params =
      pkg.isPnetMsa()     ? parameterCount(*loadPnetMsaNetwork(pkg))
      : pkg.isNnUNetV2() ? [&] { std::int64_t n = 0; for (auto& net : loadV2Networks(pkg)) n += parameterCount(*net); return n; }()
                         : parameterCount(*loadPackageNetworks(pkg).front());
  printPackage(pkg);
  std::printf("  %lld parameters; weights load cleanly\n", static_cast<long long>(params));
  std::printf("  weights.bin SHA-256 %s (%s)\n", pkg.weightsSha256.c_str(),
              pkg.weightsVerified ? "matches model.json" : "UNVERIFIED: model.json records none");
  return 0;
}

int cmdThresholdReport(const Args& a)
{
  if (a.positional.size() != 1)
    throw panseg::Error("threshold-report needs exactly one PACKAGE_DIR");
  const ModelPackage pkg = loadModelPackage(a.positional[0]);
  if (!pkg.isPnetMsa())
    throw panseg::Error("threshold-report is for pnet-msa packages; " + pkg.dir + " is " + pkg.info.modelType);
  const int n = a.getInt("--phantoms", 3);
  const int seed0 = a.getInt("--phantom-seed", 3001);
  if (n < 1 || seed0 < 2)
    throw panseg::Error("--phantoms must be >= 1 and --phantom-seed >= 2 (seed 1 is the demo study)");
  const std::vector<PNetMsaTrainCase> cases = phantomTrainCases(static_cast<std::uint32_t>(seed0), n);
  const auto report = thresholdStability(pkg, cases, a.getInt("--threads", 0));
  std::printf("%s on %d generated CT phantoms (seeds %d..%d), mean Dice on the input grid\n", pkg.id().c_str(), n,
              seed0, seed0 + n - 1);
  std::printf("threshold   Dice\n");
  for (const auto& [t, d] : report)
    std::printf("%9.1f %6.4f%s\n", t, d, std::abs(t - pkg.pnet.threshold) < 1e-9 ? "   <- package threshold" : "");
  return 0;
}
} // namespace

int main(int argc, char** argv)
{
  try
  {
    const Args a = parseArgs(argc, argv);
    if (a.command.empty() || a.command == "help" || a.flag("--help"))
    {
      std::cout << kUsage;
      return a.command.empty() && !a.flag("--help") ? 2 : 0;
    }
    if (a.command == "parity")
      return cmdParity(a);
    if (a.command == "bench")
      return cmdBench(a);
    if (a.command == "info")
      return cmdInfo(a);
    if (a.command == "checkpoint")
      return cmdCheckpoint(a);
    if (a.command == "import-nnunet")
      return cmdImport(a);
    if (a.command == "package-fixture")
      return cmdPackageFixture(a);
    if (a.command == "package-info")
      return cmdPackageInfo(a);
    if (a.command == "bench-case")
      return cmdBenchCase(a);
    if (a.command == "threshold-report")
      return cmdThresholdReport(a);
    std::cerr << "unknown command '" << a.command << "'\n" << kUsage;
    return 2;
  }
  catch (const panseg::Error& e)
  {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  catch (const c10::Error& e)
  {
    std::cerr << "LibTorch error: " << e.what_without_backtrace() << "\n";
    return 1;
  }
  catch (const std::exception& e)
  {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
