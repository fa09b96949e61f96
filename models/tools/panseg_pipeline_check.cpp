// End-to-end checks of PanSegNet prediction (plain C++, no Qt; needs ITK through panseg_io):
//   panseg_pipeline_check [--skip-exit-code N] [--worker PANSEG_WORKER --models-tool PANSEG_MODELS]
//
// Without --worker: the pipeline fixture (shared/fixtures/pansegnet-pipeline) run with the real
// network: MR case always (160 forward passes, TTA, step 0.5), CT (480 passes) only with
// PANSEG_SLOW_TESTS=1. Compares probabilities.bin (max|d|), the original-resolution probabilities
// and the final segmentation (identical except where |p1 - 0.5| < 1e-4). Also the GPU
// out-of-memory recovery path (simulated with PANSEG_TEST_FAKE_OOM).
// With --worker: the worker protocol (JSON lines, errors, cancel by stdin and by SIGTERM, no
// partial output) on a package imported with `panseg-models import-nnunet`.
#include "core/Error.h"
#include "core/preprocess/NnUNetV2.h"
#include "core/io/ImageIO.h"
#include "models/Json.h"
#include "models/ModelPackage.h"
#include "models/Doctor.h"
#include "models/Predictor.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <atomic>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "CheckMacros.h"

#ifndef PANSEG_SHARED_DIR
#define PANSEG_SHARED_DIR ""
#endif

namespace
{
namespace fs = std::filesystem;
using namespace panseg;
using namespace panseg::models;

std::string g_shared;
std::string g_tmp;
std::string g_device = "cpu"; // --device: the pipeline cases' device (the other groups stay on the CPU)

/// "FIGURE key value" lines: machine-readable figures for models/tools/gpu_check.sh.
void figure(const std::string& key, double value)
{
  std::printf("FIGURE %s %.9g\n", key.c_str(), value);
}

std::string shared(const std::string& rel)
{
  return g_shared + "/" + rel;
}

std::vector<float> readFloats(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), out.size() * 4);
  return out;
}

std::string fixtureInputPath(const std::string& caseName)
{
  // properties.json names the input as it was on the machine that made the fixture.
  const json::Value props = json::parseFile(shared("fixtures/pansegnet-pipeline/" + caseName + "/properties.json"));
  const std::string original = props.at("input_image", "properties.json").at("path", "input_image").asString("path");
  const auto at = original.find("/shared/");
  return shared(original.substr(at + 8));
}

// ---- pipeline parity ------------------------------------------------------------------------------

/// One pipeline case on g_device: fp32 (TF32 off on CUDA) must match the authors' outputs
/// (probabilities max|d| <= 1e-4, every differing voxel a near tie); fp16 autocast (CUDA) is judged
/// on argmax agreement: differing voxels against the fixture's near-tie counts.
void pipelineCase(const std::string& caseName, bool fp16 = false)
{
  const std::string dir = shared("fixtures/pansegnet-pipeline/" + caseName);
  const ModelPackage pkg =
      packageFromPipelineFixture(dir + "/plans.json", shared("fixtures/pansegnet-parity"));
  const Image image = readImage(fixtureInputPath(caseName));
  const std::string tag = "pipeline_" + caseName + (fp16 ? "_fp16" : "_fp32");
  PredictOptions opt;
  opt.device = g_device;
  opt.fp16 = fp16 ? 1 : 0;
  if (g_device.rfind("cuda", 0) == 0)
    allowCudaTf32(fp16); // fp32 parity needs true fp32 convolutions
  opt.tta = true;
  opt.step = 0.5;
  opt.keepProbabilities = true;
  opt.keepProbabilityMap = true;
  opt.estimate = true;
  PredictEstimate est;
  opt.onEstimate = [&](const PredictEstimate& e) { est = e; };
  const PredictResult r = predictCase(pkg, image, opt);
  std::printf("    %s: %lld windows, %lld forward passes on %s in %.1f s (preprocess %.2f s, network %.1f s, "
              "export %.2f s); estimate was %.1f s (%.3f s per pass)\n",
              caseName.c_str(), static_cast<long long>(r.windows), static_cast<long long>(r.forwardPasses),
              r.device.c_str(), r.seconds, r.preprocessSeconds, r.networkSeconds, r.exportSeconds, est.seconds,
              est.secondsPerPass);
  VERIFY(r.forwardPasses == (caseName == "mr" ? 160 : 480));
  VERIFY(est.forwardPasses == r.forwardPasses);

  // probabilities.bin: [K, D, H, W] at the preprocessed resolution.
  const std::vector<float> ref = readFloats(dir + "/probabilities.bin");
  VERIFY(ref.size() == r.probabilities.size());
  double maxAbs = 0, sumAbs = 0;
  std::size_t differ = 0;
  for (std::size_t i = 0; i < std::min(ref.size(), r.probabilities.size()); ++i)
  {
    const double d = std::abs(double(ref[i]) - double(r.probabilities[i]));
    maxAbs = std::max(maxAbs, d);
    sumAbs += d;
    differ += ref[i] != r.probabilities[i];
  }
  std::printf("    probabilities.bin: max|d| %.3e, mean|d| %.3e, %zu of %zu values not bit-identical\n", maxAbs,
              sumAbs / double(std::max<std::size_t>(1, ref.size())), differ, ref.size());
  if (!fp16)
    VERIFY(maxAbs <= 1e-4);

  // Segmentation on the input's exact grid, against the authors' segmentation.nii.gz.
  const LabelMask expected = readMask(dir + "/segmentation.nii.gz");
  VERIFY(r.mask.geometry.size == image.geometry.size);
  VERIFY(r.mask.geometry.sameGrid(image.geometry));
  VERIFY(expected.voxels.size() == r.mask.voxels.size());
  // Foreground probability at the original resolution: ours is 1 - p0 on the whole grid; the
  // fixture stores p1 (MR: both channels over the crop box; CT: class 1 only, full grid).
  const json::Value crop = json::parseFile(dir + "/crop_bbox.json");
  const json::Value* bb = crop.find("crop_bbox_zyx");
  if (!bb)
    bb = crop.find("crop_bbox");
  std::array<std::int64_t, 3> start{ 0, 0, 0 }, end{ image.nz(), image.ny(), image.nx() };
  if (bb && bb->isArray() && bb->array.size() == 3)
    for (int a = 0; a < 3; ++a)
    {
      const auto se = bb->array[static_cast<std::size_t>(a)].asIntVector("bbox");
      start[static_cast<std::size_t>(a)] = se[0];
      end[static_cast<std::size_t>(a)] = se[1];
    }
  const std::string pOrigPath = caseName == "mr" ? dir + "/probabilities_original_resolution.bin"
                                                 : dir + "/probabilities_original_resolution_class1.bin";
  const std::vector<float> pOrig = readFloats(pOrigPath);
  const std::int64_t cz = end[0] - start[0], cy = end[1] - start[1], cx = end[2] - start[2];
  const std::int64_t cropVox = cz * cy * cx;
  const std::size_t class1Offset = caseName == "mr" ? static_cast<std::size_t>(cropVox) : 0;
  VERIFY(pOrig.size() == (caseName == "mr" ? 2 : 1) * static_cast<std::size_t>(cropVox));
  std::int64_t disagree = 0, disagreeUnexplained = 0, fgOurs = 0, fgRef = 0, both = 0;
  std::int64_t nearTie4 = 0, nearTie2 = 0, disagreeOutside2 = 0; // |p1 - 0.5| < 1e-4 / < 1e-2
  double maxAbsOrig = 0;
  for (std::int64_t z = 0; z < image.nz(); ++z)
    for (std::int64_t y = 0; y < image.ny(); ++y)
      for (std::int64_t x = 0; x < image.nx(); ++x)
      {
        const std::size_t i = r.mask.offset(x, y, z);
        const bool inCrop = z >= start[0] && z < end[0] && y >= start[1] && y < end[1] && x >= start[2] && x < end[2];
        double p1 = 0.0;
        if (inCrop && pOrig.size() >= class1Offset + static_cast<std::size_t>(cropVox))
        {
          p1 = pOrig[class1Offset + static_cast<std::size_t>(((z - start[0]) * cy + (y - start[1])) * cx + (x - start[2]))];
          maxAbsOrig = std::max(maxAbsOrig, std::abs(p1 - double(r.foregroundProbability.voxels[i])));
        }
        nearTie4 += inCrop && std::abs(p1 - 0.5) < 1e-4;
        nearTie2 += inCrop && std::abs(p1 - 0.5) < 1e-2;
        const int a = r.mask.voxels[i], b = i < expected.voxels.size() ? expected.voxels[i] : 0;
        fgOurs += a != 0;
        fgRef += b != 0;
        both += a != 0 && b != 0;
        if (a != b)
        {
          ++disagree;
          if (!(std::abs(p1 - 0.5) < 1e-4))
            ++disagreeUnexplained;
          if (!(std::abs(p1 - 0.5) < 1e-2))
            ++disagreeOutside2;
        }
      }
  const double dice = fgOurs + fgRef ? 2.0 * double(both) / double(fgOurs + fgRef) : 1.0;
  std::printf("    original-resolution foreground probability (ours 1-p0 vs fixture p1): max|d| %.3e\n", maxAbsOrig);
  std::printf("    segmentation vs segmentation.nii.gz: %lld of %zu voxels differ (%lld not at a near tie "
              "|p1-0.5|<1e-4), Dice %.6f, foreground %lld vs %lld voxels, %.2f mL\n",
              static_cast<long long>(disagree), expected.voxels.size(), static_cast<long long>(disagreeUnexplained),
              dice, static_cast<long long>(fgOurs), static_cast<long long>(fgRef), r.volumeMl);
  std::printf("    %s on %s: near ties in the fixture |p1-0.5| < 1e-4: %lld, < 1e-2: %lld voxels; differing voxels "
              "outside the 1e-2 band: %lld\n",
              fp16 ? "fp16 autocast" : "fp32", r.device.c_str(), static_cast<long long>(nearTie4),
              static_cast<long long>(nearTie2), static_cast<long long>(disagreeOutside2));
  figure(tag + "_probabilities_max_abs", maxAbs);
  figure(tag + "_original_resolution_max_abs", maxAbsOrig);
  figure(tag + "_voxels", static_cast<double>(expected.voxels.size()));
  figure(tag + "_differing_voxels", static_cast<double>(disagree));
  figure(tag + "_differing_not_near_tie_1e-4", static_cast<double>(disagreeUnexplained));
  figure(tag + "_differing_outside_1e-2", static_cast<double>(disagreeOutside2));
  figure(tag + "_fixture_near_ties_1e-4", static_cast<double>(nearTie4));
  figure(tag + "_fixture_near_ties_1e-2", static_cast<double>(nearTie2));
  figure(tag + "_dice_vs_authors", dice);
  figure(tag + "_seconds", r.seconds);
  if (fp16)
  {
    // Half precision moves probabilities by ~1e-3: argmax may flip only where the classes are close.
    VERIFY(disagree <= nearTie2 + static_cast<std::int64_t>(expected.voxels.size() / 10000));
    return;
  }
  VERIFY(maxAbsOrig <= 1e-4);
  VERIFY(disagreeUnexplained == 0);
}

void testOomRecovery()
{
  const std::string dir = shared("fixtures/pansegnet-pipeline/mr");
  const ModelPackage pkg = packageFromPipelineFixture(dir + "/plans.json", shared("fixtures/pansegnet-parity"));
  const Image image = readImage(fixtureInputPath("mr"));
  PredictOptions opt;
  opt.device = "cpu";
  opt.fast = true;
  opt.maxBatch = 4;
  opt.estimate = false;
  unsetenv("PANSEG_TEST_FAKE_OOM");
  const PredictResult plain = predictCase(pkg, image, opt);
  std::vector<std::string> notes;
  opt.message = [&](const std::string& m) { notes.push_back(m); };
  setenv("PANSEG_TEST_FAKE_OOM", "1", 1);
  const PredictResult halved = predictCase(pkg, image, opt);
  std::printf("    simulated OOM above 1 window: %zu message(s): %s; final batch %lld\n", notes.size(),
              notes.empty() ? "" : notes.front().c_str(), static_cast<long long>(halved.finalBatch));
  VERIFY(notes.size() == 2); // 4 -> 2 -> 1
  VERIFY(halved.finalBatch == 1 && !halved.fellBackToCpu);
  VERIFY(halved.mask.voxels == plain.mask.voxels);
  notes.clear();
  setenv("PANSEG_TEST_FAKE_OOM", "0", 1);
  const PredictResult fallback = predictCase(pkg, image, opt);
  unsetenv("PANSEG_TEST_FAKE_OOM");
  std::printf("    simulated OOM at every size: %zu message(s), last: %s\n", notes.size(),
              notes.empty() ? "" : notes.back().c_str());
  VERIFY(fallback.fellBackToCpu);
  VERIFY(!notes.empty() && notes.back().find("continuing on the CPU") != std::string::npos);
  VERIFY(fallback.mask.voxels == plain.mask.voxels);
  std::printf("    --fast on MR: %lld forward passes, %.2f mL (TTA off, step 1.0)\n",
              static_cast<long long>(plain.forwardPasses), plain.volumeMl);
  VERIFY(plain.forwardPasses == 9);

  // Cancellation through the flag.
  std::atomic<bool> cancel{ true };
  opt.message = {};
  opt.cancel = &cancel;
  bool cancelled = false;
  try
  {
    predictCase(pkg, image, opt);
  }
  catch (const Error& e)
  {
    cancelled = std::string(e.what()) == "cancelled";
  }
  VERIFY(cancelled);
}

// ---- CPU speed options (docs/performance.md) --------------------------------------------------------

/// MR --fast (9 windows, one pass each): concurrent streams are bit-identical to one stream; more
/// windows per call (oneDNN instead of slow_conv3d) stays within the fixture tolerance; bf16
/// autocast runs and stays close (its label changes are measured by `panseg bench predict
/// --vs-reference --bf16`, not asserted here beyond a loose Dice).
void testCpuSpeedOptions()
{
  const std::string dir = shared("fixtures/pansegnet-pipeline/mr");
  const ModelPackage pkg = packageFromPipelineFixture(dir + "/plans.json", shared("fixtures/pansegnet-parity"));
  const Image image = readImage(fixtureInputPath("mr"));
  PredictOptions opt;
  opt.device = "cpu";
  opt.fast = true;
  opt.estimate = false;
  opt.keepProbabilities = true;
  auto run = [&](int streams, int batch, bool bf16)
  {
    PredictOptions o = opt;
    o.streams = streams;
    o.maxBatch = batch;
    o.bf16 = bf16;
    Predictor p(pkg, o);
    PredictResult r = p.predict(image, o);
    VERIFY(p.streams() == std::min(streams, std::max(1, cpuThreads())));
    return r;
  };
  const PredictResult one = run(1, 1, false);
  const PredictResult two = run(2, 1, false);
  std::size_t differ = 0;
  for (std::size_t i = 0; i < one.probabilities.size() && i < two.probabilities.size(); ++i)
    differ += one.probabilities[i] != two.probabilities[i];
  std::printf("    2 streams vs 1: %zu of %zu probabilities differ\n", differ, one.probabilities.size());
  VERIFY(one.probabilities.size() == two.probabilities.size());
  VERIFY(differ == 0);
  VERIFY(one.mask.voxels == two.mask.voxels);
  const PredictResult batched = run(1, 8, false);
  double maxAbs = 0;
  for (std::size_t i = 0; i < one.probabilities.size() && i < batched.probabilities.size(); ++i)
    maxAbs = std::max(maxAbs, std::abs(double(one.probabilities[i]) - double(batched.probabilities[i])));
  std::printf("    8 windows per call vs 1: probabilities max|d| %.3e, final batch %lld\n", maxAbs,
              static_cast<long long>(batched.finalBatch));
  VERIFY(batched.finalBatch == 8);
  VERIFY(maxAbs <= 1e-4);
  const PredictResult bf = run(1, 8, true);
  std::int64_t inter = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < one.mask.voxels.size(); ++i)
  {
    inter += one.mask.voxels[i] && bf.mask.voxels[i];
    na += one.mask.voxels[i] != 0;
    nb += bf.mask.voxels[i] != 0;
  }
  const double dice = na + nb ? 2.0 * double(inter) / double(na + nb) : 1.0;
  std::printf("    bf16 autocast vs fp32: Dice %.5f (%lld vs %lld foreground voxels)\n", dice, static_cast<long long>(nb),
              static_cast<long long>(na));
  VERIFY(bf.bf16);
  VERIFY(dice > 0.95);
}

// ---- nnU-Net v1 transposed plan -------------------------------------------------------------------

/// The MR case with its array axes y and x swapped (same voxels in space: direction columns and
/// spacings swapped with them), predicted with the fixture's plan given transpose_forward =
/// transpose_backward = [0, 2, 1]: after v1's crop-then-transpose the network sees exactly the
/// identity case's input, so the mask must be the identity case's mask with y and x swapped, voxel
/// for voxel. (The swap keeps the coarse target axis first, so v1's export separate-z rule - which
/// reads spacing_after_resampling in the transposed order - picks the same axis in both runs.)
void testTransposedPlan()
{
  const std::string dir = shared("fixtures/pansegnet-pipeline/mr");
  const ModelPackage pkg = packageFromPipelineFixture(dir + "/plans.json", shared("fixtures/pansegnet-parity"));
  const Image image = readImage(fixtureInputPath("mr"));
  PredictOptions opt;
  opt.device = "cpu";
  opt.fast = true;
  opt.estimate = false;
  const PredictResult plain = predictCase(pkg, image, opt);

  const std::array<int, 3> perm{ 0, 2, 1 }; // array axes (z, y, x) -> (z, x, y)
  const nnunet::Shape3 shape = nnunet::shapeOf(image.geometry);
  Geometry g = image.geometry;
  for (int c = 0; c < 3; ++c) // index axis c <-> array axis 2 - c
  {
    const int src = 2 - perm[static_cast<size_t>(2 - c)];
    g.size[static_cast<size_t>(c)] = image.geometry.size[static_cast<size_t>(src)];
    g.spacingMm[static_cast<size_t>(c)] = image.geometry.spacingMm[static_cast<size_t>(src)];
    for (int r = 0; r < 3; ++r)
      g.direction[static_cast<size_t>(r * 3 + c)] = image.geometry.direction[static_cast<size_t>(r * 3 + src)];
  }
  Image swapped(g, 0.0f);
  swapped.info = image.info;
  swapped.voxels = nnunet::v2::transposeArray(image.voxels.data(), shape, perm);
  ModelPackage tpkg = pkg;
  tpkg.preprocessing.transposeForward = { 0, 2, 1 };
  tpkg.preprocessing.transposeBackward = { 0, 2, 1 };
  tpkg.validate();
  const PredictResult t = predictCase(tpkg, swapped, opt);
  const std::vector<uint8_t> back = nnunet::v2::transposeArray(t.mask.voxels.data(), nnunet::shapeOf(g), perm);
  std::int64_t differ = 0;
  for (size_t i = 0; i < back.size() && i < plain.mask.voxels.size(); ++i)
    differ += back[i] != plain.mask.voxels[i];
  std::printf("    transposed plan [0, 2, 1] on the swapped image: %lld forward passes (identity plan: %lld), %lld of "
              "%zu voxels differ from the identity result, %.2f mL vs %.2f mL\n",
              static_cast<long long>(t.forwardPasses), static_cast<long long>(plain.forwardPasses),
              static_cast<long long>(differ), back.size(), t.volumeMl, plain.volumeMl);
  VERIFY(t.mask.geometry.sameGrid(g));
  VERIFY(t.forwardPasses == plain.forwardPasses);
  VERIFY(differ == 0);
  VERIFY(plain.mask.countLabel(0) > 0);
  // Without the transpose the swapped image gives a different network input (and result).
  const PredictResult wrong = predictCase(pkg, swapped, opt);
  std::int64_t differWrong = 0;
  const std::vector<uint8_t> wrongBack = nnunet::v2::transposeArray(wrong.mask.voxels.data(), nnunet::shapeOf(g), perm);
  for (size_t i = 0; i < wrongBack.size() && i < plain.mask.voxels.size(); ++i)
    differWrong += wrongBack[i] != plain.mask.voxels[i];
  std::printf("    the same image with the identity plan: %lld voxels differ (the transpose matters)\n",
              static_cast<long long>(differWrong));
  VERIFY(differWrong > 0);
  // A transpose that is not a permutation, or a backward that does not invert it, is refused.
  ModelPackage bad = pkg;
  bad.preprocessing.transposeForward = { 0, 2, 1 };
  VERIFY_THROWS(bad.validate(), "inverse");
}

// ---- worker protocol ------------------------------------------------------------------------------

struct Run
{
  int exitCode = -1;
  std::vector<json::Value> events;
  std::vector<std::string> lines;
  std::string stderrText;
  bool has(const std::string& event) const
  {
    for (const auto& e : events)
      if (const auto* v = e.find("event"); v && v->isString() && v->string == event)
        return true;
    return false;
  }
  const json::Value* last(const std::string& event) const
  {
    const json::Value* out = nullptr;
    for (const auto& e : events)
      if (const auto* v = e.find("event"); v && v->isString() && v->string == event)
        out = &e;
    return out;
  }
};

enum class Cancel
{
  None,
  Stdin,
  Sigterm
};

/// Runs a program, collecting its stdout lines as JSON. With `cancel`, once a "progress" line
/// about the network arrives, writes "cancel" to its stdin or sends SIGTERM.
Run runProcess(const std::vector<std::string>& argv, Cancel cancel = Cancel::None)
{
  int out[2], in[2], err[2];
  if (pipe(out) != 0 || pipe(in) != 0 || pipe(err) != 0)
    throw Error("pipe failed");
  const pid_t pid = fork();
  if (pid == 0)
  {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(in[1]);
    close(out[0]);
    close(err[0]);
    std::vector<char*> args;
    for (const auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  Run r;
  std::string buf;
  char chunk[4096];
  bool sent = false;
  ssize_t n;
  while ((n = read(out[0], chunk, sizeof chunk)) > 0)
  {
    buf.append(chunk, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos)
    {
      const std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      r.lines.push_back(line);
      try
      {
        r.events.push_back(json::parse(line, "worker line"));
      }
      catch (const Error&)
      {
        r.events.emplace_back();
      }
      if (cancel != Cancel::None && !sent && line.find("forward passes") != std::string::npos)
      {
        sent = true;
        if (cancel == Cancel::Stdin)
        {
          const char msg[] = "cancel\n";
          (void)!write(in[1], msg, sizeof msg - 1);
        }
        else
          kill(pid, SIGTERM);
      }
    }
  }
  close(in[1]);
  close(out[0]);
  while ((n = read(err[0], chunk, sizeof chunk)) > 0)
    r.stderrText.append(chunk, static_cast<std::size_t>(n));
  close(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

void testWorker(const std::string& worker, const std::string& modelsTool)
{
  // 1. A package imported from an nnU-Net v1 result folder made of the fixture's checkpoint.
  const fs::path result = fs::path(g_tmp) / "result";
  fs::create_directories(result / "fold_0");
  for (const char* f : { "model_final_checkpoint.model", "model_final_checkpoint.model.pkl" })
    fs::copy_file(shared(std::string("fixtures/pansegnet-parity/") + f), result / "fold_0" / f,
                  fs::copy_options::overwrite_existing);
  const std::string pkgDir = g_tmp + "/package";
  const Run imp = runProcess({ modelsTool, "import-nnunet", result.string(), "--out", pkgDir, "--name",
                               "fixture import", "--modality", "MR" });
  std::printf("    import-nnunet: exit %d: %s\n", imp.exitCode, imp.lines.empty() ? "" : imp.lines.back().c_str());
  VERIFY(imp.exitCode == 0);
  VERIFY(looksLikeModelPackage(pkgDir));
  VERIFY(loadModelPackage(pkgDir).info.name == "fixture import");
  // The runs below use the pipeline fixture's MR plans (9 forward passes with --fast).
  const std::string mrPkg = g_tmp + "/package-mr";
  const Run made = runProcess({ modelsTool, "package-fixture", "--pipeline-plans",
                                shared("fixtures/pansegnet-pipeline/mr/plans.json"), "--fixture",
                                shared("fixtures/pansegnet-parity"), "--out", mrPkg });
  VERIFY(made.exitCode == 0);

  // 2. A successful --fast prediction with its protocol.
  const std::string input = fixtureInputPath("mr");
  const std::string output = g_tmp + "/out/mask.nii.gz";
  const std::string probs = g_tmp + "/out/prob.nii.gz";
  const Run ok = runProcess({ worker, "predict", "--model", mrPkg, "--input", input, "--output", output,
                              "--device", "cpu", "--fast", "--probabilities", probs });
  std::printf("    predict --fast: exit %d, %zu lines; last: %s\n", ok.exitCode, ok.lines.size(),
              ok.lines.empty() ? "" : ok.lines.back().c_str());
  VERIFY(ok.exitCode == 0);
  VERIFY(ok.has("started") && ok.has("estimate") && ok.has("progress") && ok.has("done"));
  std::size_t nonJson = 0;
  for (const auto& e : ok.events)
    nonJson += !e.isObject();
  VERIFY(nonJson == 0);
  const json::Value* est = ok.last("estimate");
  const json::Value* fin = ok.last("done");
  if (est && fin)
  {
    std::printf("    estimate: %lld passes, %.1f s predicted; took %.1f s\n",
                static_cast<long long>(est->at("forward_passes", "estimate").asInt("forward_passes")),
                est->at("seconds", "estimate").asNumber("seconds"), fin->at("seconds", "done").asNumber("seconds"));
    VERIFY(est->at("forward_passes", "estimate").asInt("forward_passes") == 9);
    VERIFY(fin->at("forward_passes", "done").asInt("forward_passes") == 9);
  }
  if (const json::Value* done = ok.last("done"))
  {
    VERIFY(done->at("output", "done").asString("output") == output);
    VERIFY(done->at("volume_ml", "done").asNumber("volume_ml") >= 0);
  }
  const Image image = readImage(input);
  const LabelMask mask = readMask(output);
  VERIFY(mask.geometry.sameGrid(image.geometry));
  VERIFY(fs::exists(probs));

  // 3. Errors: one JSON error line, exit 1.
  const Run missing = runProcess({ worker, "predict", "--model", g_tmp + "/nope", "--input", input, "--output",
                                   g_tmp + "/out/x.nii.gz", "--device", "cpu" });
  std::printf("    missing model: exit %d: %s\n", missing.exitCode, missing.lines.empty() ? "" : missing.lines.back().c_str());
  VERIFY(missing.exitCode == 1 && missing.has("error") && missing.lines.size() == 1);
  const std::string corrupt = g_tmp + "/corrupt";
  fs::copy(pkgDir, corrupt, fs::copy_options::recursive);
  fs::resize_file(corrupt + "/weights.bin", 100);
  const Run bad = runProcess({ worker, "predict", "--model", corrupt, "--input", input, "--output",
                               g_tmp + "/out/x.nii.gz", "--device", "cpu" });
  std::printf("    corrupt model: exit %d: %s\n", bad.exitCode, bad.lines.empty() ? "" : bad.lines.back().c_str());
  VERIFY(bad.exitCode == 1 && bad.has("error"));
  VERIFY(!fs::exists(g_tmp + "/out/x.nii.gz"));
  const Run usage = runProcess({ worker, "predict", "--model", pkgDir, "--bogus" });
  VERIFY(usage.exitCode == 2 && usage.has("error"));

  // 4. Cancel by stdin and by SIGTERM during the network (full TTA: 160 passes): no output file.
  for (Cancel how : { Cancel::Stdin, Cancel::Sigterm })
  {
    const std::string out = g_tmp + (how == Cancel::Stdin ? "/out/c1.nii.gz" : "/out/c2.nii.gz");
    const auto t0 = std::chrono::steady_clock::now();
    const Run c = runProcess({ worker, "predict", "--model", mrPkg, "--input", input, "--output", out,
                               "--device", "cpu" },
                             how);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("    cancel by %s: exit %d after %.1f s: %s\n", how == Cancel::Stdin ? "stdin" : "SIGTERM",
                c.exitCode, s, c.lines.empty() ? "" : c.lines.back().c_str());
    VERIFY(c.exitCode == 3 && c.has("cancelled") && !c.has("done"));
    VERIFY(!fs::exists(out));
    std::size_t leftovers = 0;
    for (const auto& e : fs::directory_iterator(g_tmp + "/out"))
      leftovers += e.path().filename().string().find("c1") != std::string::npos ||
                   e.path().filename().string().find("c2") != std::string::npos;
    VERIFY(leftovers == 0);
  }
}
} // namespace

int main(int argc, char** argv)
{
  const char* env = std::getenv("PANSEG_SHARED_DIR");
  g_shared = env && *env ? env : PANSEG_SHARED_DIR;
  int skipCode = 0;
  std::string worker, modelsTool;
  std::string cases; // --cases mr,ct: only these pipeline cases (no other group)
  for (int i = 1; i < argc; ++i)
  {
    const std::string a = argv[i];
    if (a == "--skip-exit-code" && i + 1 < argc)
      skipCode = std::atoi(argv[++i]);
    else if (a == "--device" && i + 1 < argc)
      g_device = argv[++i];
    else if (a == "--cases" && i + 1 < argc)
      cases = argv[++i];
    else if (a == "--worker" && i + 1 < argc)
      worker = argv[++i];
    else if (a == "--models-tool" && i + 1 < argc)
      modelsTool = argv[++i];
    else if (a == "--shared" && i + 1 < argc)
      g_shared = argv[++i];
    else
    {
      std::printf("usage: panseg_pipeline_check [--skip-exit-code N] [--shared DIR] [--device cpu|cuda[:N]]\n"
                  "                             [--cases mr,ct] [--worker EXE --models-tool EXE]\n"
                  "  --device: the pipeline cases' device (fp32 parity; on CUDA also fp16 autocast agreement)\n"
                  "  --cases: run only these pipeline cases (the other groups are skipped)\n");
      return 2;
    }
  }
  if (!fs::is_regular_file(shared("fixtures/pansegnet-pipeline/mr/plans.json")) ||
      !fs::is_regular_file(shared("fixtures/pansegnet-parity/weights.bin")) ||
      !fs::exists(shared("data/totalsegmentator/mr_small/example_mr_sm.nii.gz")))
  {
    std::printf("SKIP: pipeline/parity fixtures or the MR image absent under %s (clone ../shared or set "
                "PANSEG_SHARED_DIR)\n",
                g_shared.c_str());
    return skipCode;
  }
  g_tmp = (fs::temp_directory_path() / ("panseg_pipeline_check_" + std::to_string(::getpid()))).string();
  fs::create_directories(g_tmp);
  auto group = [](const char* name, const std::function<void()>& fn)
  {
    std::printf("== %s\n", name);
    std::fflush(stdout);
    const int before = g_failures;
    try
    {
      fn();
    }
    catch (const std::exception& e)
    {
      ++g_failures;
      std::printf("  FAIL unexpected exception: %s\n", e.what());
    }
    std::printf("%s %s\n", g_failures == before ? "PASS" : "FAIL", name);
    std::fflush(stdout);
  };
  const bool cuda = g_device.rfind("cuda", 0) == 0;
  if (!worker.empty())
    group("worker protocol", [&] { testWorker(worker, modelsTool); });
  else if (!cases.empty())
  {
    for (const std::string c : { "mr", "ct" })
    {
      if (("," + cases + ",").find("," + c + ",") == std::string::npos)
        continue;
      group(("pipeline " + c + " fp32 on " + g_device).c_str(), [&] { pipelineCase(c); });
      if (cuda)
        group(("pipeline " + c + " fp16 autocast on " + g_device).c_str(), [&] { pipelineCase(c, true); });
    }
  }
  else
  {
    group("OOM recovery and cancel (simulated, MR --fast)", testOomRecovery);
    group("nnU-Net v1 transposed plan (MR --fast)", testTransposedPlan);
    group("CPU streams, windows per call, bf16 (MR --fast)", testCpuSpeedOptions);
    group("pipeline MR (TTA, step 0.5, 160 passes)", [] { pipelineCase("mr"); });
    if (cuda)
      group("pipeline MR fp16 autocast", [] { pipelineCase("mr", true); });
    const char* slow = std::getenv("PANSEG_SLOW_TESTS");
    if (slow && std::string(slow) == "1")
      group("pipeline CT (TTA, step 0.5, 480 passes)", [] { pipelineCase("ct"); });
    else
      std::printf("(CT pipeline case, 480 forward passes, skipped: set PANSEG_SLOW_TESTS=1)\n");
  }
  std::error_code ec;
  fs::remove_all(g_tmp, ec);
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures ? 1 : 0;
}
