#include "models/tools/WorkerBench.h"

#include "core/Error.h"
#include "core/io/ImageIO.h"
#include "core/preprocess/SlidingWindow.h"
#include "models/Json.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include <unistd.h>

namespace panseg::models::bench
{
namespace
{
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point t0)
{
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v)
{
  if (v.empty())
    return 0.0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

std::string duration(double s)
{
  char buf[64];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%.1f h", s / 3600.0);
  else if (s >= 120)
    std::snprintf(buf, sizeof buf, "%.1f min", s / 60.0);
  else
    std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

struct Difference
{
  double maxAbs = 0.0;
  std::int64_t differing = 0; // values not bit-identical
  std::int64_t flips = 0;     // voxels whose argmax class differs
  std::int64_t voxels = 0;
};

/// Logits [n, K, V] against a reference.
Difference compareLogits(const std::vector<float>& a, const std::vector<float>& ref, std::int64_t n, std::int64_t k)
{
  Difference d;
  const std::int64_t v = static_cast<std::int64_t>(ref.size()) / std::max<std::int64_t>(1, n * k);
  d.voxels = n * v;
  for (std::size_t i = 0; i < ref.size() && i < a.size(); ++i)
  {
    d.maxAbs = std::max(d.maxAbs, std::abs(static_cast<double>(a[i]) - static_cast<double>(ref[i])));
    d.differing += a[i] != ref[i];
  }
  for (std::int64_t p = 0; p < n; ++p)
    for (std::int64_t x = 0; x < v; ++x)
    {
      auto argmax = [&](const std::vector<float>& l)
      {
        std::int64_t best = 0;
        for (std::int64_t c = 1; c < k; ++c)
          if (l[static_cast<std::size_t>((p * k + c) * v + x)] > l[static_cast<std::size_t>((p * k + best) * v + x)])
            best = c;
        return best;
      };
      d.flips += argmax(a) != argmax(ref);
    }
  return d;
}

std::string differenceText(const Difference& d)
{
  if (d.differing == 0)
    return "bit-identical";
  char buf[160];
  std::snprintf(buf, sizeof buf, "max|d| %.2e, %lld of %lld voxels change class", d.maxAbs,
                static_cast<long long>(d.flips), static_cast<long long>(d.voxels));
  return buf;
}

/// One cell of the fixture README's runtime table: the row starting with `rowStart`, the column
/// headed `column` ("MR" / "CT"). Empty when not found.
std::string recordedTime(const std::string& readme, const std::string& rowStart, const std::string& column)
{
  std::ifstream in(readme);
  std::string line;
  std::vector<std::string> header;
  auto cells = [](const std::string& l)
  {
    std::vector<std::string> out;
    std::stringstream ss(l);
    std::string c;
    while (std::getline(ss, c, '|'))
    {
      const auto b = c.find_first_not_of(' '), e = c.find_last_not_of(' ');
      out.push_back(b == std::string::npos ? std::string() : c.substr(b, e - b + 1));
    }
    return out;
  };
  while (std::getline(in, line))
  {
    line.erase(0, std::min(line.size(), line.find_first_not_of(' '))); // the table is indented in a list
    if (line.rfind("| run |", 0) == 0)
      header = cells(line);
    else if (!header.empty() && line.rfind(rowStart, 0) == 0)
    {
      const std::vector<std::string> row = cells(line);
      for (std::size_t i = 0; i < header.size() && i < row.size(); ++i)
        if (header[i] == column)
          return row[i];
    }
  }
  return {};
}
} // namespace

void cpuLevers(const ModelPackage& pkg, const PredictOptions& base, int reps)
{
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int baseThreads = base.threads > 0 ? base.threads : hw;
  constexpr std::int64_t kPatches = 16; // two windows x 8 mirrors
  struct Lever
  {
    std::string name;
    int threads;
    int batch;
    bool bf16;
    bool channelsLast;
    int streams = 1;
  };
  std::vector<Lever> levers{ { "baseline: 1 patch per call, fp32 (authors')", baseThreads, 1, false, false } };
  for (int t = 1; t <= hw; t *= 2)
    if (t != baseThreads)
      levers.push_back({ "1 patch per call, " + std::to_string(t) + " thread(s)", t, 1, false, false });
  for (int s = 2; s <= baseThreads; s *= 2)
    levers.push_back({ "1 per call, " + std::to_string(s) + " streams x " + std::to_string(baseThreads / s) + " thread(s)",
                       baseThreads, 1, false, false, s });
  levers.push_back({ "8 per call (the 8 mirrors of a window)", baseThreads, 8, false, false });
  levers.push_back({ "16 per call (2 windows x 8 mirrors)", baseThreads, 16, false, false });
  for (int t = 1; t <= hw; t *= 2)
    if (t != baseThreads)
      levers.push_back({ "8 per call, " + std::to_string(t) + " thread(s)", t, 8, false, false });
  if (baseThreads >= 2)
    levers.push_back({ "8 per call, 2 streams", baseThreads, 8, false, false, 2 });
  levers.push_back({ "8 per call, channels-last 3-D", baseThreads, 8, false, true });
  levers.push_back({ "1 patch per call, bf16 autocast", baseThreads, 1, true, false });
  levers.push_back({ "8 per call, bf16 autocast", baseThreads, 8, true, false });

  PredictOptions o = base;
  o.device = "cpu";
  o.threads = baseThreads;
  o.maxBatch = 1;
  o.streams = 1;
  o.bf16 = false;
  o.channelsLast = false;
  std::vector<float> patches;
  std::int64_t classes = pkg.network.numClasses;
  {
    const Predictor probe(pkg, o);
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    patches.resize(static_cast<std::size_t>(kPatches * probe.inputValuesPerPatch()));
    for (float& v : patches)
      v = normal(rng);
  }
  std::printf("\nCPU levers, one at a time (fixture network %s, 8 patches of random input per run (up to %lld when a "
              "configuration takes more per step), median of %d "
              "runs after one warm-up call; ratio = time per pass / the baseline's, measured in this process; "
              "oneDNN %s, CPU bf16 instructions: %s; LibTorch inter-op threads %d, unused by a forward pass)\n",
              pkg.networkSummary().c_str(), static_cast<long long>(kPatches), reps,
              oneDnnAvailable() ? "on" : "off", cpuBf16Support().empty() ? "none" : cpuBf16Support().c_str(),
              interopThreads());
  std::printf("%-46s %7s %12s %7s  %s\n", "configuration", "threads", "ms per pass", "ratio", "logits vs the baseline");
  std::fflush(stdout);
  std::vector<float> reference;
  double baselineMs = 0.0;
  auto measure = [&](const Lever& l, std::vector<float>* logits)
  {
    PredictOptions lo = o;
    lo.threads = l.threads;
    lo.maxBatch = l.batch;
    lo.bf16 = l.bf16;
    lo.channelsLast = l.channelsLast;
    lo.streams = l.streams;
    Predictor p(pkg, lo);
    const std::int64_t warm = std::min<std::int64_t>(kPatches, static_cast<std::int64_t>(l.batch) * l.streams);
    std::vector<float> out = p.runNetwork(
        std::vector<float>(patches.begin(), patches.begin() + p.inputValuesPerPatch() * warm), warm); // warm-up
    // One window's 8 mirrors per run, or one full step of the configuration when larger.
    const std::int64_t n = std::clamp<std::int64_t>(static_cast<std::int64_t>(l.batch) * l.streams, 8, kPatches);
    const std::vector<float> in(patches.begin(), patches.begin() + p.inputValuesPerPatch() * n);
    std::vector<double> ms;
    for (int i = 0; i < std::max(1, reps); ++i)
    {
      const auto t0 = Clock::now();
      out = p.runNetwork(in, n);
      ms.push_back(seconds(t0) * 1e3 / static_cast<double>(n));
    }
    if (logits)
    {
      out.resize(static_cast<std::size_t>(8 * p.outputValuesPerPatch())); // the first 8 patches are compared
      *logits = std::move(out);
    }
    return median(ms);
  };
  for (const Lever& l : levers)
  {
    try
    {
      std::vector<float> logits;
      const double ms = measure(l, &logits);
      if (reference.empty())
      {
        reference = logits;
        baselineMs = ms;
      }
      std::printf("%-46s %7d %12.1f %6.2fx  %s\n", l.name.c_str(), l.threads, ms, baselineMs > 0 ? ms / baselineMs : 0.0,
                  differenceText(compareLogits(logits, reference, 8, classes)).c_str());
    }
    catch (const Error& e)
    {
      std::printf("%-46s failed: %s\n", l.name.c_str(), e.what());
    }
    std::fflush(stdout);
  }
  // The machine's load may have changed while the rows ran (other programs on the cores).
  const double again = measure(levers.front(), nullptr);
  std::printf("%-46s %7d %12.1f %6.2fx  (load drift check)\n", "baseline again, at the end", baseThreads, again,
              baselineMs > 0 ? again / baselineMs : 0.0);
  setCpuThreads(baseThreads);
}

void paperEstimate(const PredictOptions& base, double fp32MsPerPass, int reps, bool bf16)
{
  const PlanConfig plan = PlanConfig::paperLike();
  const std::string dev = resolveDevice(base.device);
  const bool cpu = dev == "cpu";
  double bestFp32 = fp32MsPerPass, bf16Ms = 0.0;
  std::printf("\npaper-size network (32x224x224 patch, 43.9 M parameters), per forward pass on %s\n", dev.c_str());
  std::printf("%-44s %12s %12s\n", "configuration", "ms per call", "ms per pass");
  std::printf("%-44s %12.0f %12.0f\n", "fp32, 1 patch per call (above)", fp32MsPerPass, fp32MsPerPass);
  std::fflush(stdout);
  if (cpu)
  {
    try
    {
      ForwardBenchOptions b;
      b.batch = 2;
      const ForwardTiming t = benchForwardPassWith(plan, "paper", dev, b, reps, 0);
      std::printf("%-44s %12.0f %12.0f\n", "fp32, 2 patches per call", t.medianMs, t.medianMs / 2.0);
      bestFp32 = std::min(bestFp32, t.medianMs / 2.0);
    }
    catch (const Error& e)
    {
      std::printf("fp32, 2 patches per call failed: %s\n", e.what());
    }
    if (bf16)
      try
      {
        ForwardBenchOptions b;
        b.bf16 = true;
        const ForwardTiming t = benchForwardPassWith(plan, "paper", dev, b, reps, 1);
        bf16Ms = t.medianMs;
        std::printf("%-44s %12.0f %12.0f  (%.2fx fp32)\n", "bf16 autocast, 1 patch per call", t.medianMs, t.medianMs,
                    fp32MsPerPass > 0 ? t.medianMs / fp32MsPerPass : 0.0);
      }
      catch (const Error& e)
      {
        std::printf("bf16 autocast failed: %s\n", e.what());
      }
    std::fflush(stdout);
  }
  // Whole case: a 512 x 512 x 300 CT grid as the network sees it (the GPU benchmark's case).
  const nnunet::Shape3 shape{ 300, 512, 512 }, patch{ 32, 224, 224 };
  const std::int64_t windows = nnunet::planWindows(shape, patch, 0.5).numWindows();
  const std::int64_t fastWindows = nnunet::planWindows(shape, patch, 1.0).numWindows();
  std::printf("whole-case estimate, 300x512x512 voxels at the network's resolution (computed: passes x time per "
              "pass, not run): step 0.5 = %lld windows\n",
              static_cast<long long>(windows));
  auto row = [&](const char* what, double msPerPass)
  {
    if (msPerPass <= 0)
      return;
    std::printf("  %-30s TTA (%lld passes) %s, no TTA (%lld) %s, --fast (%lld) %s\n", what,
                static_cast<long long>(windows * 8), duration(static_cast<double>(windows * 8) * msPerPass / 1e3).c_str(),
                static_cast<long long>(windows), duration(static_cast<double>(windows) * msPerPass / 1e3).c_str(),
                static_cast<long long>(fastWindows), duration(static_cast<double>(fastWindows) * msPerPass / 1e3).c_str());
  };
  row("fp32, best per pass above:", bestFp32);
  row("bf16 autocast:", bf16Ms);
  std::fflush(stdout);
}

bool vsReference(const std::string& shared, const std::string& caseName, const PredictOptions& base, bool bf16)
{
  const std::string fixture = shared + "/fixtures/pansegnet-pipeline";
  const std::string dir = fixture + "/" + caseName;
  const std::string parity = shared + "/fixtures/pansegnet-parity";
  if (!fs::is_regular_file(dir + "/plans.json") || !fs::is_regular_file(parity + "/weights.bin"))
  {
    std::printf("\n--vs-reference skipped: the pipeline/parity fixtures are absent under %s\n", shared.c_str());
    return false;
  }
  const json::Value props = json::parseFile(dir + "/properties.json");
  const std::string original = props.at("input_image", "properties.json").at("path", "input_image").asString("path");
  const auto at = original.find("/shared/");
  const std::string input = shared + "/" + (at == std::string::npos ? original : original.substr(at + 8));
  if (!fs::exists(input))
  {
    std::printf("\n--vs-reference skipped: %s absent\n", input.c_str());
    return false;
  }
  const ModelPackage pkg = packageFromPipelineFixture(dir + "/plans.json", parity);
  const Image image = readImage(input);

  struct Run
  {
    std::string name;
    PredictOptions options;
    PredictResult result;
    double seconds = 0.0;
  };
  PredictOptions common = base;
  common.tta = true;
  common.fast = false;
  common.step = 0.5;
  common.estimate = false;
  common.keepProbabilities = true;
  common.keepProbabilityMap = true;
  common.largestComponent = -1;
  std::vector<Run> runs;
  {
    Run ref{ "reference: authors' settings (1 patch per call, 1 stream, fp32)", common, {}, 0.0 };
    ref.options.maxBatch = 1;
    ref.options.streams = 1;
    ref.options.bf16 = false;
    runs.push_back(ref);
    Run def{ "PanSeg default (bit-exact)", common, {}, 0.0 };
    def.options.maxBatch = 0;
    def.options.streams = 0;
    def.options.bf16 = false;
    runs.push_back(def);
    Run batched{ "PanSeg --batch 8 (8 mirrors per call, oneDNN; not bit-exact)", common, {}, 0.0 };
    batched.options.maxBatch = 8;
    batched.options.streams = 1;
    batched.options.bf16 = false;
    runs.push_back(batched);
    if (bf16)
    {
      Run b{ "PanSeg --batch 8 --bf16 (not bit-exact)", common, {}, 0.0 };
      b.options.maxBatch = 8;
      b.options.streams = 1;
      b.options.bf16 = true;
      runs.push_back(b);
    }
  }
  std::printf("\nreference row: pipeline fixture %s case (%s, %lld x %lld x %lld), fixture network, TTA, step 0.5; "
              "all runs in this process, one after the other\n",
              caseName.c_str(), input.c_str(), static_cast<long long>(image.geometry.size[0]),
              static_cast<long long>(image.geometry.size[1]), static_cast<long long>(image.geometry.size[2]));
  std::printf("%-62s %5s %7s %7s %9s %8s %7s\n", "run", "batch", "streams", "passes", "seconds", "net s", "ratio");
  std::fflush(stdout);
  for (Run& r : runs)
  {
    Predictor p(pkg, r.options);
    const auto t0 = Clock::now();
    r.result = p.predict(image, r.options);
    r.seconds = seconds(t0);
    std::printf("%-62s %5lld %7d %7lld %9.1f %8.1f %6.2fx\n", r.name.c_str(), static_cast<long long>(r.result.finalBatch),
                p.streams(), static_cast<long long>(r.result.forwardPasses), r.seconds, r.result.networkSeconds,
                r.seconds / runs.front().seconds);
    std::fflush(stdout);
  }
  const PredictResult& ref = runs[0].result;
  const std::int64_t voxels = static_cast<std::int64_t>(ref.mask.voxels.size());
  // Each run against the reference: the mask, the probabilities, and where labels change, how
  // close the reference's foreground probability at the original resolution was to 0.5 (a near
  // tie, where any change of arithmetic may flip the label).
  const std::vector<float>& p = ref.foregroundProbability.voxels;
  std::int64_t ties4 = 0, ties3 = 0, ties2 = 0;
  for (float v : p)
  {
    const double m = std::abs(static_cast<double>(v) - 0.5);
    ties4 += m < 1e-4;
    ties3 += m < 1e-3;
    ties2 += m < 1e-2;
  }
  std::printf("near ties in the reference (|p-0.5| at the original resolution < 1e-4 / 1e-3 / 1e-2): %lld / %lld / %lld "
              "of %lld voxels\n",
              static_cast<long long>(ties4), static_cast<long long>(ties3), static_cast<long long>(ties2),
              static_cast<long long>(voxels));
  for (std::size_t k = 1; k < runs.size(); ++k)
  {
    const PredictResult& b = runs[k].result;
    std::int64_t probDiffer = 0;
    double probMax = 0.0;
    for (std::size_t i = 0; i < ref.probabilities.size() && i < b.probabilities.size(); ++i)
    {
      probDiffer += ref.probabilities[i] != b.probabilities[i];
      probMax = std::max(probMax, std::abs(static_cast<double>(ref.probabilities[i]) - b.probabilities[i]));
    }
    std::int64_t flips = 0, flips4 = 0, flips3 = 0, flips2 = 0, inter = 0, na = 0, nb = 0;
    double worst = 0.0;
    for (std::size_t i = 0; i < ref.mask.voxels.size() && i < b.mask.voxels.size(); ++i)
    {
      const bool x = ref.mask.voxels[i] != 0, y = b.mask.voxels[i] != 0;
      inter += x && y;
      na += x;
      nb += y;
      if (ref.mask.voxels[i] == b.mask.voxels[i])
        continue;
      const double m = i < p.size() ? std::abs(static_cast<double>(p[i]) - 0.5) : 1.0;
      ++flips;
      flips4 += m < 1e-4;
      flips3 += m < 1e-3;
      flips2 += m < 1e-2;
      worst = std::max(worst, m);
    }
    std::printf("%s vs reference: probabilities %s (%lld values differ, max|d| %.2e); mask %s",
                runs[k].name.c_str(), probDiffer == 0 ? "bit-identical" : "not bit-identical",
                static_cast<long long>(probDiffer), probMax, flips == 0 ? "identical" : "differs");
    if (flips > 0)
      std::printf(": %lld voxels change label (Dice %.6f, %.3f vs %.3f mL), of them %lld / %lld / %lld at near ties "
                  "< 1e-4 / 1e-3 / 1e-2, the farthest at |p-0.5| = %.3g",
                  static_cast<long long>(flips), na + nb ? 2.0 * static_cast<double>(inter) / static_cast<double>(na + nb) : 1.0,
                  ref.volumeMl, b.volumeMl, static_cast<long long>(flips4), static_cast<long long>(flips3),
                  static_cast<long long>(flips2), worst);
    std::printf("\n");
  }
  std::printf("time ratio PanSeg default / authors' settings = %.2f (target <= 0.5; same case, same process, bit-exact); "
              "--batch 8: %.2f\n",
              runs[1].seconds / runs[0].seconds, runs[2].seconds / runs[0].seconds);
  const std::string col = caseName == "mr" ? "MR" : "CT";
  const std::string two = recordedTime(fixture + "/README.md", "| 2 threads", col);
  const std::string one = recordedTime(fixture + "/README.md", "| official", col);
  if (!two.empty() || !one.empty())
    std::printf("recorded, not measured here (fixture README: the authors' nnUNet_predict, PyTorch 1.13.1 on a 2-vCPU "
                "machine of this kind, another day): %s with 2 threads, %s with 1 thread\n",
                two.empty() ? "?" : two.c_str(), one.empty() ? "?" : one.c_str());
  std::fflush(stdout);
  return true;
}

bool nnunetV2Rows(const std::string& shared, const PredictOptions& base, int reps, bool wholeCase)
{
  const std::string fix = shared + "/fixtures/nnunetv2-pipeline";
  struct Row
  {
    const char* name;
    std::string model, image;
  };
  const Row rows[] = {
    { "nnU-Net v2 PlainConvUNet (CT)", fix + "/models/Dataset981_PancreasCTFixture/nnUNetTrainer__nnUNetPlans__3d_fullres",
      shared + "/data/totalsegmentator/ct_small/example_ct_sm.nii.gz" },
    { "nnU-Net v2 ResidualEncoderUNet (MR)",
      fix + "/models/Dataset982_PancreasMRFixture/nnUNetTrainer__nnUNetResEncUNetMPlans__3d_fullres",
      shared + "/data/totalsegmentator/mr_small/example_mr_sm.nii.gz" },
  };
  if (!fs::is_directory(rows[0].model) || !fs::is_directory(rows[1].model))
  {
    std::printf("\nnnU-Net v2 rows skipped: %s absent\n", fix.c_str());
    return false;
  }
  std::printf("\nnnU-Net v2 networks (the nnunetv2-pipeline fixture's trained models, package settings: TTA, "
              "step 0.5)\n%-38s %10s %14s %10s %10s %12s\n",
              "network", "params", "patch", "ms/pass", "passes", "case s");
  const fs::path tmp = fs::temp_directory_path() / ("panseg-bench-v2-" + std::to_string(::getpid()));
  for (const Row& row : rows)
  {
    try
    {
      ImportV2Options io;
      io.force = true;
      const ModelPackage pkg = importNnUNetV2Result(row.model, (tmp / fs::path(row.model).filename()).string(), io);
      PredictOptions o = base;
      Predictor predictor(pkg, o);
      predictor.timeForwardPassMs(1, 0); // warm-up
      const double ms = predictor.timeForwardPassMs(std::max(1, reps), 0);
      PredictResult r;
      if (wholeCase)
        r = predictor.predict(readImage(row.image), o);
      const auto& p = pkg.v2.network.patchSize;
      std::printf("%-38s %10lld %14s %10.1f %10s %12s\n", row.name, static_cast<long long>(predictor.parameterCount()),
                  (std::to_string(p[0]) + "x" + std::to_string(p[1]) + "x" + std::to_string(p[2])).c_str(), ms,
                  wholeCase ? std::to_string(r.forwardPasses).c_str() : "-",
                  wholeCase ? std::to_string(static_cast<long long>(std::lround(r.seconds))).c_str() : "skipped");
      std::fflush(stdout);
    }
    catch (const Error& e)
    {
      std::printf("%-38s failed: %s\n", row.name, e.what());
    }
  }
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return true;
}
} // namespace panseg::models::bench
