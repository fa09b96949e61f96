// nnU-Net v2 parity checks against shared/fixtures/nnunetv2-pipeline (docs/nnunet-models.md).
//   panseg_nnunetv2_check [--skip-exit-code N] [--device cpu|cuda[:N]] [group...]
// --device: where the network group runs (fp32 parity; on CUDA also fp16 autocast argmax agreement).
// Groups: network (both architectures, network_parity/), spec (plans parsing and refusals),
// sliding (Gaussian, windows, first-window logits), export (fixture logits -> probabilities and
// segmentation; needs ITK), pipeline (whole case from the NIfTI; MR always, CT with
// PANSEG_SLOW_TESTS=1; needs ITK), package (import of the result folder and of the export zip,
// prediction through the package; needs ITK). Exits with the skip code when the fixture is absent.
#include "core/Error.h"
#include "core/preprocess/NnUNetV2.h"
#include "models/ModelPackage.h"
#include "models/NnUNetV2.h"
#include "models/NnUNetV2Net.h"
#include "models/PackageWeights.h"
#include "models/PanSegNet.h"
#include "models/Predictor.h"
#include "models/Weights.h"

#ifdef PANSEG_V2_WITH_IO
#include "core/io/ImageIO.h"
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>
#include "CheckMacros.h"

#ifndef PANSEG_SHARED_DIR
#define PANSEG_SHARED_DIR ""
#endif

namespace
{
namespace fs = std::filesystem;
using namespace panseg::models;
namespace v2 = panseg::nnunet::v2;

std::string g_fix; // .../fixtures/nnunetv2-pipeline
std::string g_shared;
std::string g_tmp;
std::string g_device = "cpu"; // --device: where the network group runs

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string modelDir(const std::string& c)
{
  return c == "ct" ? g_fix + "/models/Dataset981_PancreasCTFixture/nnUNetTrainer__nnUNetPlans__3d_fullres"
                   : g_fix + "/models/Dataset982_PancreasMRFixture/nnUNetTrainer__nnUNetResEncUNetMPlans__3d_fullres";
}

std::vector<float> readF32(const std::string& path)
{
  std::ifstream f(path, std::ios::binary);
  if (!f)
    throw panseg::Error("cannot read " + path);
  std::vector<char> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<float> out(b.size() / 4);
  std::memcpy(out.data(), b.data(), out.size() * 4);
  return out;
}

std::vector<float> readF16(const std::string& path)
{
  std::ifstream f(path, std::ios::binary);
  if (!f)
    throw panseg::Error("cannot read " + path);
  std::vector<char> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<float> out(b.size() / 2);
  for (size_t i = 0; i < out.size(); ++i)
  {
    std::uint16_t h = 0;
    std::memcpy(&h, b.data() + 2 * i, 2);
    out[i] = v2::fromHalf(h);
  }
  return out;
}

struct Diff
{
  double maxAbs = 0, meanAbs = 0;
  std::int64_t differing = 0;
};
Diff diff(const std::vector<float>& a, const std::vector<float>& b)
{
  Diff d;
  if (a.size() != b.size())
  {
    d.maxAbs = 1e30;
    return d;
  }
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i)
  {
    const double e = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    d.maxAbs = std::max(d.maxAbs, e);
    sum += e;
    d.differing += a[i] != b[i];
  }
  d.meanAbs = a.empty() ? 0 : sum / static_cast<double>(a.size());
  return d;
}

V2ModelSpec specOf(const std::string& c)
{
  return readV2ResultFolder(modelDir(c));
}

// ---- network ----------------------------------------------------------------------------------------

void testNetwork()
{
  for (const std::string c : { "ct", "mr" })
  {
    const auto t0 = Clock::now();
    const V2ModelSpec spec = specOf(c);
    const NnUNetCheckpoint ck = readNnUNetCheckpoint(modelDir(c) + "/fold_0/checkpoint_final.pth");
    VERIFY(ck.v2);
    VERIFY(ck.trainerName == std::string("nnUNetTrainer"));
    VERIFY(ck.configuration == std::string("3d_fullres"));
    VERIFY(ck.hasMirrorAxes && ck.mirrorAxes == std::vector<std::int64_t>({ 0, 1, 2 }));
    VERIFY_EQ(ck.epoch, c == "ct" ? std::int64_t{ 30 } : std::int64_t{ 12 });
    VERIFY_EQ(ck.stateDict.size(), c == "ct" ? size_t{ 240 } : size_t{ 728 });
    const StateDict canon = canonicalV2StateDict(ck.stateDict);
    VERIFY_EQ(canon.size(), c == "ct" ? size_t{ 88 } : size_t{ 202 });
    V2Net net = loadV2Network(spec.network, ck.stateDict, "fold_0/checkpoint_final.pth");
    const std::int64_t params = parameterCount(*net);
    VERIFY_EQ(params, c == "ct" ? std::int64_t{ 908120 } : std::int64_t{ 1053224 });
    VERIFY_EQ(static_cast<std::int64_t>(spec.network.parameterCount()), params);
    // Our state dict: same names, order and shapes as Python's alias-free one.
    const StateDict ours = stateDictOf(*net);
    bool sameNames = ours.size() == canon.size();
    for (size_t i = 0; sameNames && i < ours.size(); ++i)
      sameNames = ours[i].first == canon[i].first && ours[i].second.sizes() == canon[i].second.sizes();
    VERIFY(sameNames);

    const Vec3& p = spec.network.patchSize;
    const std::vector<float> in = readF32(g_fix + "/" + c + "/network_parity/input.bin");
    const std::vector<float> ref = readF32(g_fix + "/" + c + "/network_parity/output.bin");
    const torch::Device device = parseDevice(g_device);
    if (device.is_cuda())
      setCudaTf32(false); // fp32 parity needs true fp32 convolutions
    net->to(device);
    torch::Tensor x =
        torch::from_blob(const_cast<float*>(in.data()), { 1, 1, p[0], p[1], p[2] }, torch::kFloat).to(device);
    torch::Tensor y;
    {
      c10::InferenceMode guard;
      y = net->forward(x).to(torch::kCPU).contiguous();
    }
    std::vector<float> out(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
    const Diff d = diff(out, ref);
    std::printf("  %s %s on %s: %lld parameters, logits max|d| %.3g mean %.3g vs output.bin (%.1f s)\n", c.c_str(),
                spec.network.architecture.c_str(), device.str().c_str(), static_cast<long long>(params), d.maxAbs,
                d.meanAbs, since(t0));
    std::printf("FIGURE nnunetv2_%s_fp32_logits_max_abs %.9g\n", c.c_str(), d.maxAbs);
    VERIFY(d.maxAbs < 1e-4);
    if (device.is_cuda())
    {
      // fp16 autocast (nnU-Net v2's GPU default): argmax agreement with the authors' fp32 logits.
      torch::Tensor y16;
      {
        c10::InferenceMode guard;
        CudaAutocast autocast(true);
        y16 = net->forward(x).to(torch::kCPU).to(torch::kFloat).contiguous();
      }
      const torch::Tensor r = torch::from_blob(const_cast<float*>(ref.data()), y16.sizes(), torch::kFloat);
      const std::int64_t differ = (y16.argmax(1) != r.argmax(1)).sum().item<std::int64_t>();
      const std::int64_t voxels = y16.numel() / y16.size(1);
      const std::vector<float> out16(y16.data_ptr<float>(), y16.data_ptr<float>() + y16.numel());
      std::printf("  %s fp16 autocast on %s: logits max|d| %.3g, argmax differs in %lld of %lld voxels\n", c.c_str(),
                  device.str().c_str(), diff(out16, ref).maxAbs, static_cast<long long>(differ),
                  static_cast<long long>(voxels));
      std::printf("FIGURE nnunetv2_%s_fp16_autocast_logits_max_abs %.9g\nFIGURE nnunetv2_%s_fp16_autocast_argmax_"
                  "mismatches %lld\nFIGURE nnunetv2_%s_voxels %lld\n",
                  c.c_str(), diff(out16, ref).maxAbs, c.c_str(), static_cast<long long>(differ), c.c_str(),
                  static_cast<long long>(voxels));
      VERIFY(differ * 1000 <= voxels); // >= 99.9 % agreement
    }
    // Float64 network against the float32 reference: within the documented float32 noise.
    torch::Tensor y64;
    {
      c10::InferenceMode guard;
      net->to(torch::kDouble);
      y64 = net->forward(x.to(torch::kDouble)).to(torch::kCPU).to(torch::kFloat).contiguous();
    }
    std::vector<float> out64(y64.data_ptr<float>(), y64.data_ptr<float>() + y64.numel());
    std::printf("  %s float64 network vs output.bin: max|d| %.3g (Python's own float64-float32: %s)\n", c.c_str(),
                diff(out64, ref).maxAbs, c == "ct" ? "1.1e-4" : "1.8e-5");
    VERIFY(diff(out64, ref).maxAbs < 3e-4);
  }
}

// ---- spec and refusals ------------------------------------------------------------------------------

json::Value plansOf(const std::string& c) { return json::parseFile(modelDir(c) + "/plans.json"); }
json::Value datasetOf(const std::string& c) { return json::parseFile(modelDir(c) + "/dataset.json"); }

json::Value* member(json::Value& v, const std::string& key)
{
  for (auto& kv : v.object)
    if (kv.first == key)
      return &kv.second;
  return nullptr;
}

void testSpec()
{
  const V2ModelSpec ct = specOf("ct"), mr = specOf("mr");
  VERIFY(ct.network.architecture == std::string("PlainConvUNet"));
  VERIFY(mr.network.architecture == std::string("ResidualEncoderUNet"));
  VERIFY(ct.params.normalization == v2::Normalization::CT);
  VERIFY(mr.params.normalization == v2::Normalization::ZScore);
  VERIFY(mr.params.reorientToRas && !ct.params.reorientToRas);
  VERIFY((mr.params.transposeForward == std::array<int, 3>{ 2, 0, 1 }));
  VERIFY((mr.params.transposeBackward == std::array<int, 3>{ 1, 2, 0 }));
  VERIFY_NEAR(ct.params.intensity.mean, -7.884387016296387, 1e-12);
  VERIFY_EQ(ct.labels.size(), size_t{ 2 });
  VERIFY(ct.labels[1].second == std::string("pancreas"));
  VERIFY(ct.trainerName == std::string("nnUNetTrainer"));

  const std::string pc = "plans.json", dc = "dataset.json";
  VERIFY_THROWS(v2SpecFromPlans(plansOf("ct"), datasetOf("ct"), "2d", pc, dc), "2-D");
  VERIFY_THROWS(v2SpecFromPlans(plansOf("ct"), datasetOf("ct"), "3d_cascade_fullres", pc, dc), "cascade");
  VERIFY_THROWS(v2SpecFromPlans(plansOf("ct"), datasetOf("ct"), "3d_nope", pc, dc), "no configuration");
  {
    json::Value p = plansOf("ct");
    json::Value& cfg = *member(*member(p, "configurations"), "3d_fullres");
    member(cfg, "normalization_schemes")->array[0].string = "FancyNormalization";
    VERIFY_THROWS(v2SpecFromPlans(p, datasetOf("ct"), "3d_fullres", pc, dc), "FancyNormalization");
  }
  {
    json::Value p = plansOf("ct");
    json::Value& cfg = *member(*member(p, "configurations"), "3d_fullres");
    member(*member(cfg, "architecture"), "network_class_name")->string = "my.nets.SwinUNETR";
    VERIFY_THROWS(v2SpecFromPlans(p, datasetOf("ct"), "3d_fullres", pc, dc), "SwinUNETR");
  }
  {
    json::Value p = plansOf("mr");
    json::Value& cfg = *member(*member(p, "configurations"), "3d_fullres");
    json::Value prev;
    prev.type = json::Value::Type::String;
    prev.string = "3d_lowres";
    cfg.object.emplace_back("previous_stage", prev);
    VERIFY_THROWS(v2SpecFromPlans(p, datasetOf("mr"), "3d_fullres", pc, dc), "cascade");
  }
  {
    json::Value d = datasetOf("ct");
    json::Value r;
    r.type = json::Value::Type::Array;
    d.object.emplace_back("regions_class_order", r);
    VERIFY_THROWS(v2SpecFromPlans(plansOf("ct"), d, "3d_fullres", pc, dc), "region");
  }
  // A checkpoint whose keys do not fit the plan: the MR weights into the CT network.
  const NnUNetCheckpoint mrCk = readNnUNetCheckpoint(modelDir("mr") + "/fold_0/checkpoint_final.pth");
  VERIFY_THROWS(loadV2Network(ct.network, mrCk.stateDict, "fold_0/checkpoint_final.pth"), "checkpoint_final.pth");
  // Corrupt checkpoint: truncated copy.
  fs::create_directories(g_tmp);
  {
    std::ifstream f(modelDir("ct") + "/fold_0/checkpoint_final.pth", std::ios::binary);
    std::vector<char> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::ofstream o(g_tmp + "/truncated.pth", std::ios::binary);
    o.write(b.data(), static_cast<std::streamsize>(b.size() / 2));
  }
  VERIFY_THROWS(readNnUNetCheckpoint(g_tmp + "/truncated.pth"), "truncated.pth");
}

// ---- sliding window (no image I/O) --------------------------------------------------------------------

void testSliding()
{
  for (const std::string c : { "ct", "mr" })
  {
    const V2ModelSpec spec = specOf(c);
    const Vec3& pv = spec.network.patchSize;
    const panseg::nnunet::Shape3 patch{ pv[0], pv[1], pv[2] };
    const std::vector<float> g = v2::gaussianFp16(patch);
    const Diff dg = diff(g, readF16(g_fix + "/" + c + "/gaussian_importance_map_fp16.bin"));
    std::printf("  %s Gaussian: %lld of %zu values differ, max|d| %.3g\n", c.c_str(),
                static_cast<long long>(dg.differing), g.size(), dg.maxAbs);
    VERIFY_EQ(dg.differing, std::int64_t{ 0 });
    VERIFY_EQ(*std::max_element(g.begin(), g.end()), 10.0f);

    const panseg::nnunet::Shape3 shape = c == "ct" ? panseg::nnunet::Shape3{ 18, 126, 152 }
                                                    : panseg::nnunet::Shape3{ 53, 30, 136 };
    const panseg::nnunet::WindowPlan plan = panseg::nnunet::planWindows(shape, patch, 0.5);
    if (c == "ct")
    {
      VERIFY((plan.steps[0] == std::vector<std::int64_t>{ 0, 3, 7, 10 }));
      VERIFY((plan.steps[1] == std::vector<std::int64_t>{ 0, 31, 62 }));
      VERIFY((plan.steps[2] == std::vector<std::int64_t>{ 0, 36, 72 }));
    }
    else
    {
      VERIFY((plan.steps[0] == std::vector<std::int64_t>{ 0, 10, 21 }));
      VERIFY((plan.steps[1] == std::vector<std::int64_t>{ 0, 7, 14 }));
      VERIFY((plan.steps[2] == std::vector<std::int64_t>{ 0, 28, 56 }));
    }
    v2::SlidingOptions so;
    VERIFY_EQ(v2::forwardPasses(shape, patch, so), c == "ct" ? std::int64_t{ 288 } : std::int64_t{ 216 });
    const auto combos = v2::mirrorCombinations({ 0, 1, 2 });
    VERIFY_EQ(combos.size(), size_t{ 8 });
    VERIFY((combos[4] == std::vector<int>{ 0, 1 }) && (combos[7] == std::vector<int>{ 0, 1, 2 }));

    // First window with mirroring, through predictLogits' own code path: one window = a volume
    // of exactly the patch size cut from the preprocessed input at (0, 0, 0). Its result is the
    // TTA logits x Gaussian / Gaussian in float16 - compare the TTA logits before that instead:
    const NnUNetCheckpoint ck = readNnUNetCheckpoint(modelDir(c) + "/fold_0/checkpoint_final.pth");
    V2Net net = loadV2Network(spec.network, ck.stateDict, "checkpoint");
    const std::vector<float> pre = readF32(g_fix + "/" + c + "/preprocessed_input.bin");
    const std::int64_t pvox = patch[0] * patch[1] * patch[2];
    std::vector<float> window(static_cast<size_t>(pvox));
    for (std::int64_t z = 0; z < patch[0]; ++z)
      for (std::int64_t y = 0; y < patch[1]; ++y)
        std::copy(pre.begin() + (z * shape[1] + y) * shape[2], pre.begin() + (z * shape[1] + y) * shape[2] + patch[2],
                  window.begin() + (z * patch[1] + y) * patch[2]);
    std::vector<float> lastRaw;
    int calls = 0;
    auto network = [&](const float* x, std::int64_t n, float* logits)
    {
      c10::InferenceMode guard;
      torch::Tensor t = torch::from_blob(const_cast<float*>(x), { n, 1, patch[0], patch[1], patch[2] }, torch::kFloat);
      torch::Tensor o = net->forward(t).contiguous();
      std::memcpy(logits, o.data_ptr<float>(), static_cast<size_t>(o.numel()) * 4);
      if (calls++ == 0)
        lastRaw.assign(o.data_ptr<float>(), o.data_ptr<float>() + 2 * pvox);
    };
    // Raw first-window logits.
    std::vector<float> raw(static_cast<size_t>(2 * pvox));
    network(window.data(), 1, raw.data());
    const Diff dr = diff(raw, readF32(g_fix + "/" + c + "/first_window_logits_raw.bin"));
    std::printf("  %s first window raw logits: max|d| %.3g\n", c.c_str(), dr.maxAbs);
    VERIFY(dr.maxAbs < 1e-4);
    // Whole predictLogits on the single window: acc = half(tta * g), n = g -> half(half(tta*g)/g).
    const v2::Logits one = v2::predictLogits(window.data(), 1, patch, patch, 2, network, so);
    VERIFY_EQ(one.forwardPasses, std::int64_t{ 8 });
    const std::vector<float> tta = readF32(g_fix + "/" + c + "/first_window_logits_tta.bin");
    std::vector<float> expect(tta.size());
    for (size_t i = 0; i < tta.size(); ++i)
    {
      const float gg = g[i % static_cast<size_t>(pvox)];
      expect[i] = v2::roundHalf(static_cast<double>(v2::roundHalf(static_cast<double>(tta[i] * gg)) / gg));
    }
    const Diff dt = diff(one.values, expect);
    std::printf("  %s first window, 8 mirrors, float16 accumulation: max|d| %.3g, %lld of %zu differ\n", c.c_str(),
                dt.maxAbs, static_cast<long long>(dt.differing), expect.size());
    VERIFY(dt.maxAbs < 2e-2);
  }
}


#ifdef PANSEG_V2_WITH_IO
panseg::Image readCase(const std::string& c)
{
  return panseg::readImage(g_shared + (c == "ct" ? "/data/totalsegmentator/ct_small/example_ct_sm.nii.gz"
                                                 : "/data/totalsegmentator/mr_small/example_mr_sm.nii.gz"));
}

/// probabilities_original_resolution.bin vs ours (reader order), the segmentation vs
/// segmentation.nii.gz on the image grid, with the near-tie voxels (|p1 - p0| < 1e-3) counted.
void compareOutputs(const std::string& c, const v2::Exported& e, const char* what)
{
  const std::vector<float> refProb = readF32(g_fix + "/" + c + "/probabilities_original_resolution.bin");
  const Diff dp = diff(e.probabilities, refProb);
  const panseg::LabelMask refSeg = panseg::readMask(g_fix + "/" + c + "/segmentation.nii.gz");
  std::int64_t differ = 0, differNearTie = 0, nearTies = 0, fg = 0;
  const size_t n = refSeg.voxels.size();
  VERIFY_EQ(e.mask.voxels.size(), n);
  const std::vector<float> p0 = v2::fromReaderOrder(refProb.data(), e.mask.geometry, v2::readerOrderOf(e.mask.geometry, c == "mr"));
  const std::vector<float> p1 =
      v2::fromReaderOrder(refProb.data() + refProb.size() / 2, e.mask.geometry, v2::readerOrderOf(e.mask.geometry, c == "mr"));
  for (size_t i = 0; i < n && i < e.mask.voxels.size(); ++i)
  {
    const bool tie = std::fabs(p1[i] - p0[i]) < 1e-3f;
    nearTies += tie;
    fg += e.mask.voxels[i] != 0;
    if (e.mask.voxels[i] != refSeg.voxels[i])
    {
      ++differ;
      differNearTie += tie;
    }
  }
  std::printf("  %s %s: probabilities max|d| %.3g (mean %.3g, %lld of %zu not bit-identical); segmentation: %lld of %zu "
              "voxels differ (%lld of them near ties; %lld near-tie voxels in the reference), %lld foreground\n",
              c.c_str(), what, dp.maxAbs, dp.meanAbs, static_cast<long long>(dp.differing), refProb.size(),
              static_cast<long long>(differ), n, static_cast<long long>(differNearTie), static_cast<long long>(nearTies),
              static_cast<long long>(fg));
  VERIFY(dp.maxAbs < 1e-4);
  VERIFY_EQ(differ - differNearTie, std::int64_t{ 0 });
  VERIFY(e.mask.geometry.sameGrid(refSeg.geometry));
}

void testPreprocess()
{
  for (const std::string c : { "ct", "mr" })
  {
    const V2ModelSpec spec = specOf(c);
    const panseg::Image img = readCase(c);
    const v2::Preprocessed pre = v2::preprocess(img, spec.params, true);
    const panseg::nnunet::Shape3 expShape = c == "ct" ? panseg::nnunet::Shape3{ 18, 126, 152 }
                                                       : panseg::nnunet::Shape3{ 53, 30, 136 };
    VERIFY(pre.shape == expShape);
    if (c == "mr")
    {
      VERIFY((pre.crop.start == panseg::nnunet::Shape3{ 0, 0, 0 }) && (pre.crop.end == panseg::nnunet::Shape3{ 116, 20, 91 }));
      VERIFY(pre.separateZ.enabled && pre.separateZ.axis == 0);
      const Diff dn = diff(pre.normalizedBeforeResampling, readF32(g_fix + "/mr/normalized_before_resampling.bin"));
      std::printf("  mr z-score mean %.9g std %.9g (nnU-Net: 195.33304 / 193.79083); normalised before resampling "
                  "max|d| %.3g, %lld values not bit-identical\n",
                  pre.zscoreMean, pre.zscoreStd, dn.maxAbs, static_cast<long long>(dn.differing));
      VERIFY(dn.maxAbs < 1e-6);
    }
    else
      VERIFY(!pre.separateZ.enabled);
    const Diff d = diff(pre.data, readF32(g_fix + "/" + c + "/preprocessed_input.bin"));
    std::printf("  %s preprocessed input %lldx%lldx%lld: max|d| %.3g, %lld of %zu values not bit-identical (%.2f s)\n",
                c.c_str(), static_cast<long long>(pre.shape[0]), static_cast<long long>(pre.shape[1]),
                static_cast<long long>(pre.shape[2]), d.maxAbs, static_cast<long long>(d.differing), pre.data.size(),
                pre.seconds);
    VERIFY(d.maxAbs < 1e-6);
  }
}

void testExport()
{
  for (const std::string c : { "ct", "mr" })
  {
    const V2ModelSpec spec = specOf(c);
    const v2::Preprocessed pre = v2::preprocess(readCase(c), spec.params);
    const std::vector<float> logits = readF16(g_fix + "/" + c + "/logits_preprocessed_fp16.bin");
    const auto t0 = Clock::now();
    const v2::Exported e = v2::exportLogits(logits, 2, pre, spec.params, true);
    const Diff dl = diff(e.logitsAtCrop, readF16(g_fix + "/" + c + "/logits_original_resolution_fp16.bin"));
    std::printf("  %s export of the fixture's logits (%.2f s): resampled float16 logits %lld of %zu differ (max|d| %.3g)\n",
                c.c_str(), since(t0), static_cast<long long>(dl.differing), e.logitsAtCrop.size(), dl.maxAbs);
    VERIFY_EQ(dl.differing, std::int64_t{ 0 });
    compareOutputs(c, e, "export replay");
  }
}

void runPipeline(const std::string& c)
{
  const auto t0 = Clock::now();
  const V2ModelSpec spec = specOf(c);
  const NnUNetCheckpoint ck = readNnUNetCheckpoint(modelDir(c) + "/fold_0/checkpoint_final.pth");
  V2Net net = loadV2Network(spec.network, ck.stateDict, "checkpoint");
  const v2::Preprocessed pre = v2::preprocess(readCase(c), spec.params);
  const Vec3& pv = spec.network.patchSize;
  const panseg::nnunet::Shape3 patch{ pv[0], pv[1], pv[2] };
  v2::SlidingOptions so; // one window per network call, as nnU-Net does on the CPU
  const v2::Logits logits = v2::predictLogits(
      pre.data.data(), 1, pre.shape, patch, 2,
      [&](const float* x, std::int64_t n, float* out)
      {
        c10::InferenceMode guard;
        torch::Tensor t = torch::from_blob(const_cast<float*>(x), { n, 1, patch[0], patch[1], patch[2] }, torch::kFloat);
        torch::Tensor o = net->forward(t).contiguous();
        std::memcpy(out, o.data_ptr<float>(), static_cast<size_t>(o.numel()) * 4);
      },
      so);
  const std::vector<float> refLogits = readF16(g_fix + "/" + c + "/logits_preprocessed_fp16.bin");
  const Diff dl = diff(logits.values, refLogits);
  // The fixture README's acceptance: within 0.02 where the float16 weight sum is normal; up to 0.5
  // where it is subnormal (< 6.1e-5: image corners and edges), where acc / n is coarse.
  const panseg::nnunet::WindowPlan& plan = logits.plan;
  const std::vector<float> g = v2::gaussianFp16(patch);
  const panseg::nnunet::Shape3& P = plan.paddedShape;
  std::vector<float> wsum(static_cast<size_t>(P[0] * P[1] * P[2]), 0.0f);
  for (const auto& st : plan.windowStarts())
    for (std::int64_t z = 0; z < patch[0]; ++z)
      for (std::int64_t y = 0; y < patch[1]; ++y)
        for (std::int64_t x = 0; x < patch[2]; ++x)
        {
          float& w = wsum[static_cast<size_t>(((st[0] + z) * P[1] + st[1] + y) * P[2] + st[2] + x)];
          w = v2::roundHalf(static_cast<double>(w + g[static_cast<size_t>((z * patch[1] + y) * patch[2] + x)]));
        }
  double maxNormal = 0, maxSub = 0;
  const panseg::nnunet::Shape3& S = pre.shape;
  const size_t vox = static_cast<size_t>(S[0] * S[1] * S[2]);
  for (size_t i = 0; i < logits.values.size(); ++i)
  {
    const size_t v = i % vox;
    const std::int64_t z = static_cast<std::int64_t>(v) / (S[1] * S[2]), y = (static_cast<std::int64_t>(v) / S[2]) % S[1],
                       x = static_cast<std::int64_t>(v) % S[2];
    const float w = wsum[static_cast<size_t>(((z + plan.padBefore[0]) * P[1] + y + plan.padBefore[1]) * P[2] + x +
                                             plan.padBefore[2])];
    const double d = std::fabs(static_cast<double>(logits.values[i]) - static_cast<double>(refLogits[i]));
    (w < 6.103515625e-05f ? maxSub : maxNormal) = std::max(w < 6.103515625e-05f ? maxSub : maxNormal, d);
  }
  std::printf("  %s whole case, %lld forward passes: float16 logits max|d| %.3g (%.3g where the weight sum is "
              "normal, %.3g where it is subnormal), %lld of %zu differ\n",
              c.c_str(), static_cast<long long>(logits.forwardPasses), dl.maxAbs, maxNormal, maxSub,
              static_cast<long long>(dl.differing), logits.values.size());
  VERIFY(maxNormal <= 0.02);
  VERIFY(maxSub <= 0.5);
  const v2::Exported e = v2::exportLogits(logits, pre, spec.params, true);
  compareOutputs(c, e, "whole case");
  std::printf("  %s whole case took %.1f s\n", c.c_str(), since(t0));
}

void testPipeline()
{
  runPipeline("mr");
  runPipeline("ct");
}
#endif

void testPackage()
{
  fs::create_directories(g_tmp);
  for (const std::string c : { "ct", "mr" })
  {
    const std::string out = g_tmp + "/pkg_" + c;
    const ModelPackage pkg = importNnUNetV2Result(modelDir(c), out);
    VERIFY(pkg.isNnUNetV2());
    VERIFY(pkg.weightsVerified);
    VERIFY_EQ(pkg.classes.size(), size_t{ 2 });
    VERIFY(pkg.classes[1].name == "pancreas");
    VERIFY(pkg.info.modality == (c == "ct" ? "CT" : "MR"));
    VERIFY((pkg.v2.folds == std::vector<int>{ 0 }));
    VERIFY((pkg.v2.mirrorAxes == std::vector<int>{ 0, 1, 2 }));
    const ModelPackage back = loadModelPackage(out);
    V2Net net = loadV2Network(back.v2.network, readPackageWeights(back), out);
    const Vec3& p = back.v2.network.patchSize;
    const std::vector<float> in = readF32(g_fix + "/" + c + "/network_parity/input.bin");
    torch::Tensor y;
    {
      c10::InferenceMode guard;
      y = net->forward(torch::from_blob(const_cast<float*>(in.data()), { 1, 1, p[0], p[1], p[2] }, torch::kFloat))
              .contiguous();
    }
    const Diff d = diff(std::vector<float>(y.data_ptr<float>(), y.data_ptr<float>() + y.numel()),
                        readF32(g_fix + "/" + c + "/network_parity/output.bin"));
    std::printf("  %s package %s: network through the package max|d| %.3g vs output.bin\n", c.c_str(),
                back.networkSummary().c_str(), d.maxAbs);
    VERIFY_EQ(d.maxAbs, 0.0);
    VERIFY_THROWS(importNnUNetV2Result(modelDir(c), out), "already exists");
  }
  // A missing fold, a missing checkpoint name, a folder that is not a model.
  VERIFY_THROWS(importNnUNetV2Result(modelDir("ct"), g_tmp + "/x", [] { ImportV2Options o; o.folds = { "3" }; return o; }()),
                "fold_3");
  VERIFY_THROWS(importNnUNetV2Result(modelDir("ct"), g_tmp + "/x",
                                     [] { ImportV2Options o; o.checkpoint = "checkpoint_best.pth"; return o; }()),
                "checkpoint_best.pth");
  VERIFY_THROWS(importNnUNetV2Result(g_fix + "/ct", g_tmp + "/x"), "no plans.json");
  VERIFY(!fs::exists(g_tmp + "/x"));
  // The archive nnUNetv2_export_model_to_zip writes: paths relative to nnUNet_results
  // (Dataset981_.../nnUNetTrainer__nnUNetPlans__3d_fullres/{dataset.json, plans.json,
  // dataset_fingerprint.json, fold_0/checkpoint_final.pth, fold_0/training_log.txt}), deflated;
  // made here from the fixture's model folder with the zip tool. Its package holds the same
  // tensors as the folder's.
  if (std::system("command -v zip > /dev/null 2>&1") == 0)
  {
    const std::string zipPath = g_tmp + "/export_ct.zip";
    fs::remove(zipPath);
    const std::string cmd = "cd '" + g_fix + "/models' && zip -q -r '" + zipPath + "' Dataset981_PancreasCTFixture";
    VERIFY(std::system(cmd.c_str()) == 0);
    const ModelPackage fromZip = importNnUNetV2Result(zipPath, g_tmp + "/pkg_zip");
    VERIFY(fromZip.isNnUNetV2() && fromZip.v2.configuration == "3d_fullres");
    VERIFY((fromZip.v2.folds == std::vector<int>{ 0 }));
    const StateDict a = readPackageWeights(fromZip), b = readPackageWeights(loadModelPackage(g_tmp + "/pkg_ct"));
    bool same = a.size() == b.size();
    for (size_t i = 0; same && i < a.size(); ++i)
      same = a[i].first == b[i].first && torch::equal(a[i].second, b[i].second);
    std::printf("  ct package from the export zip: %zu tensors, %s the folder's\n", a.size(),
                same ? "identical to" : "DIFFERENT from");
    VERIFY(same);
    bool leftovers = false;
    for (const auto& e : fs::directory_iterator(g_tmp))
      leftovers = leftovers || e.path().filename().string().find(".unzipping-") != std::string::npos;
    VERIFY(!leftovers);
  }
  else
    std::printf("  SKIP the export-zip import: no zip tool on this machine\n");
#ifdef PANSEG_V2_WITH_IO
  // A 2-fold ensemble: a result folder with fold_0 and fold_1 (copies of the MR checkpoint),
  // imported into one package; then fold 1's last segmentation-head bias is shifted so that the
  // two folds differ. Prediction through the package (Predictor, the worker's path; --fast:
  // 8 forward passes per fold) must equal the hand-computed nnU-Net v2 ensemble of the two
  // single-fold predictions: half(half(a + b) / 2) of the float16 logits, then the export.
  const fs::path res = fs::path(g_tmp) / "Dataset982_Two" / "nnUNetTrainer__nnUNetResEncUNetMPlans__3d_fullres";
  for (const char* f : { "fold_0", "fold_1" })
  {
    fs::create_directories(res / f);
    fs::copy_file(modelDir("mr") + "/fold_0/checkpoint_final.pth", res / f / "checkpoint_final.pth");
  }
  fs::copy_file(modelDir("mr") + "/plans.json", res / "plans.json");
  fs::copy_file(modelDir("mr") + "/dataset.json", res / "dataset.json");
  ModelPackage two = importNnUNetV2Result(res.string(), g_tmp + "/pkg_two");
  VERIFY((two.v2.folds == std::vector<int>{ 0, 1 }));
  StateDict w = readPackageWeights(two);
  VERIFY_EQ(w.size(), size_t{ 2 * 202 });
  bool shifted = false;
  for (auto& kv : w)
    if (kv.first == "fold_1/decoder.seg_layers.3.bias")
    {
      kv.second = kv.second.clone();
      kv.second[1] += 1.0f;
      shifted = true;
    }
  VERIFY(shifted);
  writePackageWeights(two.dir, w);
  writePackageMetadata(two.dir, two);
  two = loadModelPackage(two.dir);
  const std::vector<V2Net> nets = loadV2Networks(two);
  VERIFY_EQ(nets.size(), size_t{ 2 });

  PredictOptions o;
  o.device = "cpu";
  o.fast = true;
  o.estimate = false;
  o.keepProbabilities = true;
  const auto t0 = Clock::now();
  Predictor predictor(two, o);
  VERIFY_EQ(predictor.estimateForwardPasses(readCase("mr").geometry, o), std::int64_t{ 16 });
  const PredictResult r = predictor.predict(readCase("mr"), o);
  VERIFY_EQ(r.forwardPasses, std::int64_t{ 16 });

  const v2::Preprocessed pre = v2::preprocess(readCase("mr"), two.v2.params);
  const Vec3& pv = two.network.patchSize;
  const panseg::nnunet::Shape3 patch{ pv[0], pv[1], pv[2] };
  v2::SlidingOptions so;
  so.stepSize = 1.0;
  so.mirror = false;
  std::vector<v2::Logits> single;
  for (V2Net net : nets)
    single.push_back(v2::predictLogits(
        pre.data.data(), 1, pre.shape, patch, 2,
        [&](const float* x, std::int64_t n, float* out)
        {
          c10::InferenceMode guard;
          torch::Tensor t = torch::from_blob(const_cast<float*>(x), { n, 1, patch[0], patch[1], patch[2] }, torch::kFloat);
          torch::Tensor y = net->forward(t).contiguous();
          std::memcpy(out, y.data_ptr<float>(), static_cast<size_t>(y.numel()) * 4);
        },
        so));
  v2::Logits mean = single[0];
  std::int64_t foldsDiffer = 0;
  for (size_t i = 0; i < mean.values.size(); ++i)
  {
    foldsDiffer += single[0].values[i] != single[1].values[i];
    mean.values[i] = v2::roundHalf(static_cast<double>(
        v2::roundHalf(static_cast<double>(single[0].values[i] + single[1].values[i])) / 2.0f));
  }
  const v2::Exported e = v2::exportLogits(mean, pre, two.v2.params, true);
  const v2::Exported e0 = v2::exportLogits(single[0], pre, two.v2.params, true);
  const Diff dp = diff(r.probabilities, e.probabilities);
  const Diff d0 = diff(r.probabilities, e0.probabilities);
  std::int64_t differ = 0, fg = 0;
  for (size_t i = 0; i < e.mask.voxels.size() && i < r.mask.voxels.size(); ++i)
  {
    differ += e.mask.voxels[i] != r.mask.voxels[i];
    fg += r.mask.voxels[i] != 0;
  }
  std::printf("  mr 2-fold ensemble --fast: %lld forward passes; fold logits differ in %lld values; package vs "
              "hand-computed mean: probabilities max|d| %.3g, %lld mask voxels differ (%lld foreground); vs fold 0 "
              "alone: max|d| %.3g (%.1f s)\n",
              static_cast<long long>(r.forwardPasses), static_cast<long long>(foldsDiffer), dp.maxAbs,
              static_cast<long long>(differ), static_cast<long long>(fg), d0.maxAbs, since(t0));
  VERIFY(foldsDiffer > 0);
  VERIFY_EQ(dp.maxAbs, 0.0);
  VERIFY_EQ(differ, std::int64_t{ 0 });
  VERIFY(d0.maxAbs > 1e-3);
  VERIFY(r.mask.geometry.sameGrid(e.mask.geometry));
#endif
}
} // namespace

int main(int argc, char** argv)
{
  const char* env = std::getenv("PANSEG_SHARED_DIR");
  g_shared = std::string(env && *env ? env : PANSEG_SHARED_DIR);
  g_fix = g_shared + "/fixtures/nnunetv2-pipeline";
  int skipCode = 0;
  std::vector<std::string> wanted;
  for (int i = 1; i < argc; ++i)
  {
    const std::string a = argv[i];
    if (a == "--skip-exit-code" && i + 1 < argc)
      skipCode = std::atoi(argv[++i]);
    else if (a == "--device" && i + 1 < argc)
      g_device = argv[++i];
    else
      wanted.push_back(a);
  }
  if (!fs::is_regular_file(modelDir("ct") + "/fold_0/checkpoint_final.pth"))
  {
    std::printf("SKIP nnunetv2: fixture absent at %s (clone ../shared beside the repo or set PANSEG_SHARED_DIR)\n",
                g_fix.c_str());
    return skipCode;
  }
  g_tmp = (fs::temp_directory_path() / ("panseg_nnunetv2_check_" + std::to_string(::getpid()))).string();
  configureThreads(0);
  struct Group
  {
    const char* name;
    void (*run)();
  };
  std::vector<Group> groups{ { "network", testNetwork }, { "spec", testSpec }, { "sliding", testSliding },
                             { "package", testPackage } };
#ifdef PANSEG_V2_WITH_IO
  groups.push_back({ "preprocess", testPreprocess });
  groups.push_back({ "export", testExport });
  groups.push_back({ "pipeline", testPipeline });
#endif
  int ran = 0, skipped = 0;
  const char* slow = std::getenv("PANSEG_SLOW_TESTS");
  for (const auto& g : groups)
  {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), g.name) == wanted.end())
      continue;
    if (std::string(g.name) == "pipeline" && !(slow && std::string(slow) == "1"))
    {
      std::printf("SKIP nnunetv2 pipeline: whole cases (216 + 288 forward passes, minutes on 2 cores); "
                  "set PANSEG_SLOW_TESTS=1\n");
      ++skipped;
      continue;
    }
    std::printf("== nnunetv2 %s\n", g.name);
    std::fflush(stdout);
    ++ran;
    const int before = g_failures;
    const auto t0 = Clock::now();
    try
    {
      g.run();
    }
    catch (const panseg::Error& e)
    {
      ++g_failures;
      std::printf("  FAIL unexpected panseg::Error: %s\n", e.what());
    }
    catch (const c10::Error& e)
    {
      ++g_failures;
      std::printf("  FAIL unexpected LibTorch error: %s\n", e.what_without_backtrace());
    }
    catch (const std::exception& e)
    {
      ++g_failures;
      std::printf("  FAIL unexpected exception: %s\n", e.what());
    }
    std::printf("%s nnunetv2 %s (%.1f s)\n", g_failures == before ? "PASS" : "FAIL", g.name, since(t0));
    std::fflush(stdout);
  }
  std::error_code ec;
  fs::remove_all(g_tmp, ec);
  if (ran == 0 && skipped > 0)
    return skipCode;
  if (ran == 0)
  {
    std::printf("unknown group\n");
    return 2;
  }
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures ? 1 : 0;
}
