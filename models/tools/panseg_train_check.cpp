// Tests of the trainer (models/Trainer*.h): plain C++ (no Qt), registered as models_train_*.
//   panseg_train_check [--tool PATH_TO_panseg-train] group...
// Groups: loss data badinput short resume clicks kill (default: all but kill).
#include "core/Error.h"
#include "core/demo/PhantomGenerator.h"
#include "models/ClickSimulation.h"
#include "models/Guidance.h"
#include "models/ModelPackage.h"
#include "models/PackageWeights.h"
#include "models/Predictor.h"
#include "models/PanSegNet.h"
#include "models/Trainer.h"
#include "models/TrainerData.h"
#include "models/TrainerTorch.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "CheckMacros.h"

extern char** environ;

namespace
{
namespace fs = std::filesystem;
using namespace panseg;
using namespace panseg::models;

std::string g_tool;
std::string g_tmp;

double secondsSince(std::chrono::steady_clock::time_point t0)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string tmpDir(const std::string& name)
{
  const std::string d = g_tmp + "/" + name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// ---- data for the training tests ---------------------------------------------------------------

/// Small phantoms generated directly on a coarse grid (3.2 x 3.2 x 6 mm, 96 x 80 x 32 voxels:
/// the demo study's field of view), CT only. Same seeds -> same bytes.
std::vector<TrainCase> phantomCases(int n, std::uint32_t seed0)
{
  std::vector<TrainCase> cases;
  for (int i = 0; i < n; ++i)
  {
    demo::PhantomOptions po;
    po.seed = seed0 + static_cast<std::uint32_t>(i);
    po.size = {96, 80, 32};
    po.spacingMm = {3.2, 3.2, 6.0};
    po.generateMr = false;
    demo::Phantom ph = demo::generatePhantom(po);
    TrainCase c;
    c.id = "ph" + std::to_string(po.seed);
    c.image = std::move(ph.ct);
    c.mask = std::move(ph.pancreas);
    cases.push_back(std::move(c));
  }
  return cases;
}

TrainOptions tinyOptions()
{
  TrainOptions o;
  o.plan = tinyPlan();
  o.preprocessing.targetSpacingMm = {6.0, 3.2, 3.2};
  o.preprocessing.normalization = "CT";
  o.threads = 2;
  o.seed = 7;
  o.modelInfo.name = "test model";
  o.modelInfo.modality = "CT";
  return o;
}

// ---- loss --------------------------------------------------------------------------------------

void testLoss()
{
  std::printf("[loss]\n");
  // Deep-supervision weights (reference §5): P = 5 -> 0.533, 0.267, 0.133, 0.067, 0.
  const auto w = deepSupervisionWeights(5);
  VERIFY(w.size() == 5);
  VERIFY_NEAR(w[0], 8.0 / 15.0, 1e-12);
  VERIFY_NEAR(w[1], 4.0 / 15.0, 1e-12);
  VERIFY_NEAR(w[2], 2.0 / 15.0, 1e-12);
  VERIFY_NEAR(w[3], 1.0 / 15.0, 1e-12);
  VERIFY(w[4] == 0.0);
  std::printf("  deep supervision weights P=5: %.4f %.4f %.4f %.4f %.4f\n", w[0], w[1], w[2], w[3], w[4]);
  VERIFY(deepSupervisionWeights(1) == std::vector<double>{1.0});

  // Tiny batch: B = 1, K = 2, 4 voxels. Foreground probabilities p = (0.9, 0.2, 0.6, 0.1),
  // ground truth g = (1, 0, 1, 0).
  // Dice (class 1): tp = 0.9 + 0.6 = 1.5, sum p = 1.8, sum g = 2 ->
  //   (2*1.5 + 1e-5) / (3.8 + 1e-5 + 1e-8); loss = 1 - that = 0.21052...
  // Jaccard: (1.5 + 1e-5) / (1.8 + 2 - 1.5 + 1e-5 + 1e-8) = 0.652176..., loss 0.347823...
  const torch::Tensor p1 = torch::tensor({0.9f, 0.2f, 0.6f, 0.1f}).reshape({1, 1, 4});
  const torch::Tensor probs = torch::cat({1.0f - p1, p1}, 1);
  const torch::Tensor g = torch::tensor({1, 0, 1, 0}, torch::kLong).reshape({1, 4});
  const torch::Tensor gh = oneHot(g, 2);
  VERIFY(gh.sizes() == probs.sizes());
  const double dice = softDiceLoss(probs, gh).item<double>();
  const double diceRef = 1.0 - (3.0 + 1e-5) / (3.8 + 1e-5 + 1e-8);
  VERIFY_NEAR(dice, diceRef, 1e-6);
  const double jac = softJaccardLoss(probs, gh).item<double>();
  const double jacRef = 1.0 - (1.5 + 1e-5) / (2.3 + 1e-5 + 1e-8);
  VERIFY_NEAR(jac, jacRef, 1e-6);
  std::printf("  dice loss %.6f (hand %.6f), jaccard loss %.6f (hand %.6f)\n", dice, diceRef, jac,
              jacRef);
  // Batch Dice sums over the batch before dividing: two items, one perfect, one empty prediction.
  {
    const torch::Tensor pa = torch::tensor({1.0f, 0.0f}).reshape({1, 1, 2});
    const torch::Tensor pb = torch::tensor({0.0f, 0.0f}).reshape({1, 1, 2});
    const torch::Tensor pp = torch::cat({torch::cat({1 - pa, pa}, 1), torch::cat({1 - pb, pb}, 1)}, 0);
    const torch::Tensor gg = oneHot(torch::tensor({1, 0, 1, 0}, torch::kLong).reshape({2, 2}), 2);
    // tp = 1, sum p = 1, sum g = 2 -> 1 - 2/3
    VERIFY_NEAR(softDiceLoss(pp, gg).item<double>(), 1.0 - (2.0 + 1e-5) / (3.0 + 1e-5 + 1e-8), 1e-6);
  }
  // Cross-entropy of logits (0, ln 3) for class 1: softmax p1 = 3/4 -> CE = -ln(3/4).
  {
    const torch::Tensor logits =
        torch::tensor({0.0f, 0.0f, static_cast<float>(std::log(3.0)), static_cast<float>(std::log(3.0))})
            .reshape({1, 2, 2}); // [B=1, K=2, N=2]: both voxels logits (0, ln3)
    const torch::Tensor t = torch::tensor({1, 0}, torch::kLong).reshape({1, 2});
    const double ce = crossEntropyLoss(logits, t).item<double>();
    const double ceRef = 0.5 * (-std::log(0.75) - std::log(0.25));
    VERIFY_NEAR(ce, ceRef, 1e-6);
    const LossValue lv = segmentationLoss(logits, t, LossKind::DiceCE);
    VERIFY_NEAR(lv.total.item<double>(), lv.ce.item<double>() + lv.overlap.item<double>(), 1e-6);
    std::printf("  cross-entropy %.6f (hand %.6f)\n", ce, ceRef);
  }
  // Deep-supervision target down-sampling picks source index floor((k + 0.5) * 2 - 0.5 + 0.5) =
  // 2k + 1 for a factor 2 (skimage order 0), and leaves unchanged axes alone.
  {
    const torch::Tensor t = torch::arange(2 * 4 * 6, torch::kLong).reshape({1, 2, 4, 6});
    const torch::Tensor d = downsampleTarget(t, {2, 2, 3});
    VERIFY(d.sizes() == torch::IntArrayRef({1, 2, 2, 3}));
    VERIFY(d[0][0][0][0].item<std::int64_t>() == 0 * 24 + 1 * 6 + 1);
    VERIFY(d[0][1][1][2].item<std::int64_t>() == 1 * 24 + 3 * 6 + 5);
  }
  // Deep-supervision loss = weighted sum of the heads' losses (zero-weight head skipped).
  {
    torch::manual_seed(3);
    const torch::Tensor target = (torch::rand({2, 4, 8, 8}) > 0.7).to(torch::kLong);
    std::vector<torch::Tensor> outs = {torch::randn({2, 2, 4, 8, 8}), torch::randn({2, 2, 4, 4, 4}),
                                       torch::randn({2, 2, 2, 2, 2})};
    const auto wds = deepSupervisionWeights(3); // 2/3, 1/3, 0
    const LossValue l = deepSupervisionLoss(outs, target, LossKind::DiceCE, wds);
    const double ref =
        wds[0] * segmentationLoss(outs[0], target, LossKind::DiceCE).total.item<double>() +
        wds[1] * segmentationLoss(outs[1], downsampleTarget(target, {4, 4, 4}), LossKind::DiceCE)
                     .total.item<double>();
    VERIFY_NEAR(l.total.item<double>(), ref, 1e-5);
  }
  // Poly learning rate.
  VERIFY_NEAR(polyLearningRate(0, 100, 0.01), 0.01, 1e-15);
  VERIFY_NEAR(polyLearningRate(50, 100, 0.01), 0.01 * std::pow(0.5, 0.9), 1e-15);
  VERIFY_NEAR(polyLearningRate(99, 100, 0.01), 0.01 * std::pow(0.01, 0.9), 1e-15);

  // Our Nesterov SGD equals LibTorch's torch::optim::SGD(nesterov) step for step.
  {
    torch::manual_seed(11);
    torch::Tensor a = torch::randn({5, 3}).requires_grad_(true);
    torch::Tensor b = a.detach().clone().requires_grad_(true);
    NesterovSgd mine({a}, 0.99, 3e-5);
    torch::optim::SGD ref({b}, torch::optim::SGDOptions(0.01).momentum(0.99).nesterov(true).weight_decay(3e-5));
    for (int step = 0; step < 5; ++step)
    {
      const torch::Tensor x = torch::randn({3});
      mine.zeroGrad();
      ref.zero_grad();
      (a.matmul(x).pow(2).sum()).backward();
      (b.matmul(x).pow(2).sum()).backward();
      mine.step(0.01);
      ref.step();
    }
    const double d = (a - b).abs().max().item<double>();
    std::printf("  Nesterov SGD vs torch::optim::SGD after 5 steps: max|diff| %.3g\n", d);
    VERIFY(d <= 1e-6);
  }
  // Gradient clipping equals clip_grad_norm_.
  {
    torch::manual_seed(12);
    torch::Tensor a = torch::randn({10}).requires_grad_(true);
    torch::Tensor b = a.detach().clone().requires_grad_(true);
    (a * 100).sum().backward();
    (b * 100).sum().backward();
    const double n1 = unscaleAndClipGradients({a}, 1.0, 12.0);
    const double n2 = torch::nn::utils::clip_grad_norm_(std::vector<torch::Tensor>{b}, 12.0);
    VERIFY_NEAR(n1, n2, 1e-3);
    VERIFY_NEAR((a.grad() - b.grad()).abs().max().item<double>(), 0.0, 1e-5);
    VERIFY_NEAR(a.grad().norm().item<double>(), 12.0, 1e-3);
    // Loss-scale unscaling: gradients of (s * loss) / s.
    torch::Tensor c = torch::ones({4}).requires_grad_(true);
    (c * 1024.0f * 0.5f).sum().backward();
    unscaleAndClipGradients({c}, 1024.0, 0.0);
    VERIFY_NEAR(c.grad()[0].item<double>(), 0.5, 1e-7);
  }
  {
    LossScale ls;
    VERIFY(!ls.update(false) && ls.scale == 32768.0);
    for (int i = 0; i < 2000; ++i)
      VERIFY(ls.update(true));
    VERIFY(ls.scale == 65536.0);
  }
}

// ---- data --------------------------------------------------------------------------------------

void testData()
{
  std::printf("[data]\n");
  // RNG streams are pure functions of their position.
  {
    TrainRng a = TrainRng::stream(5, 1, 2, 3), b = TrainRng::stream(5, 1, 2, 3),
             c = TrainRng::stream(5, 1, 2, 4);
    const auto va = a.next();
    VERIFY(va == b.next());
    VERIFY(va != c.next());
    double sum = 0, ss = 0;
    TrainRng r(1);
    for (int i = 0; i < 20000; ++i)
    {
      const double x = r.normal();
      sum += x;
      ss += x * x;
    }
    VERIFY_NEAR(sum / 20000, 0.0, 0.03);
    VERIFY_NEAR(ss / 20000, 1.0, 0.05);
  }
  // Percentiles and intensity properties (numpy's linear interpolation).
  {
    std::vector<double> v{4, 1, 3, 2};
    VERIFY_NEAR(percentileLinear(v, 50), 2.5, 1e-12);
    VERIFY_NEAR(percentileLinear(v, 0.5), 1.015, 1e-12);
    VERIFY_NEAR(percentileLinear(v, 99.5), 3.985, 1e-12);
    TrainCase c;
    c.id = "x";
    Geometry g;
    g.size = {30, 1, 1};
    c.image = Image(g);
    c.mask = LabelMask(g);
    for (int i = 0; i < 30; ++i)
    {
      c.image.voxels[static_cast<std::size_t>(i)] = static_cast<float>(i);
      c.mask.voxels[static_cast<std::size_t>(i)] = i >= 5 ? 1 : 0;
    }
    // Foreground 5..29 (25 voxels), every 10th: 5, 15, 25.
    const IntensityProperties ip = foregroundIntensityProperties({&c});
    VERIFY_NEAR(ip.mean, 15.0, 1e-12);
    VERIFY_NEAR(ip.sd, std::sqrt(200.0 / 3.0), 1e-12);
    VERIFY_NEAR(ip.median, 15.0, 1e-12);
    VERIFY_NEAR(ip.percentile00_5, 5.1, 1e-12);
    VERIFY_NEAR(ip.percentile99_5, 24.9, 1e-12);
  }
  // Split by patient.
  {
    std::vector<std::pair<std::string, std::string>> ids;
    for (int i = 0; i < 10; ++i)
      ids.emplace_back("c" + std::to_string(i), "p" + std::to_string(i / 2)); // 5 patients
    SplitOptions so;
    so.folds = 5;
    std::set<std::string> seenVal;
    for (int f = 0; f < 5; ++f)
    {
      so.fold = f;
      const DataSplit s = splitByPatient(ids, so);
      VERIFY(s.validationIds.size() == 2 && s.trainIds.size() == 8);
      std::set<std::string> valPatients, trainPatients;
      for (const auto& id : s.validationIds)
      {
        valPatients.insert("p" + std::to_string((id[1] - '0') / 2));
        seenVal.insert(id);
      }
      for (const auto& id : s.trainIds)
        trainPatients.insert("p" + std::to_string((id[1] - '0') / 2));
      for (const auto& p : valPatients)
        VERIFY(!trainPatients.count(p));
    }
    VERIFY(seenVal.size() == 10); // every case validated exactly once over the folds
    SplitOptions ho;
    ho.validationFraction = 0.2;
    const DataSplit h1 = splitByPatient(ids, ho), h2 = splitByPatient(ids, ho);
    VERIFY(h1.validationIds == h2.validationIds && h1.validationIds.size() == 2);
    std::printf("  %s: validation %s, %s\n", h1.description.c_str(), h1.validationIds[0].c_str(),
                h1.validationIds[1].c_str());
    SplitOptions ex;
    ex.validationIds = {"c3"}; // patient p1 -> c2 and c3
    const DataSplit e = splitByPatient(ids, ex);
    VERIFY((e.validationIds == std::vector<std::string>{"c2", "c3"}));
  }
  // Preprocessing of a phantom: shape at the target spacing, labels, foreground samples.
  const std::vector<TrainCase> cases = phantomCases(1, 500);
  PreprocessingSpec pre;
  pre.targetSpacingMm = {6.0, 3.2, 3.2};
  pre.normalization = "CT";
  pre.intensity = foregroundIntensityProperties({&cases[0]});
  const PreparedCase pc = prepareCase(cases[0], pre, 2);
  VERIFY((pc.shape == nnunet::Shape3{32, 80, 96}));
  VERIFY(pc.foregroundVoxels == cases[0].mask.countLabel(1));
  VERIFY(!pc.foregroundSamples.empty());
  std::printf("  phantom: shape %lldx%lldx%lld, %lld foreground voxels, CT mean %.1f sd %.1f\n",
              static_cast<long long>(pc.shape[0]), static_cast<long long>(pc.shape[1]),
              static_cast<long long>(pc.shape[2]), static_cast<long long>(pc.foregroundVoxels),
              pre.intensity->mean, pre.intensity->sd);
  // Disk cache: the second read comes from the file and is identical.
  {
    const std::string cache = tmpDir("cache");
    bool hit = true;
    const PreparedCase a = prepareCaseCached(cases[0], pre, 2, cache, 0, &hit);
    VERIFY(!hit);
    const PreparedCase b = prepareCaseCached(cases[0], pre, 2, cache, 0, &hit);
    VERIFY(hit);
    VERIFY(a.data == b.data && a.seg == b.seg && a.foregroundSamples == b.foregroundSamples);
    VERIFY(a.data == pc.data);
  }
  // Patch without spatial augmentation = plain crop; with rotation 0 and scale 1 through the
  // interpolating path it is the same (exact integer positions).
  {
    const models::Vec3 patch{16, 32, 32};
    PatchTransform t;
    t.center = {10, 40, 50};
    TrainRng noise(1);
    std::vector<float> img(16 * 32 * 32), img2(img.size());
    std::vector<std::uint8_t> seg(img.size()), seg2(img.size());
    extractPatch(pc, patch, t, noise, img.data(), seg.data());
    bool same = true;
    for (std::int64_t d = 0; d < 16 && same; ++d)
      for (std::int64_t h = 0; h < 32; ++h)
        for (std::int64_t w = 0; w < 32; ++w)
        {
          const std::int64_t z = 10 - 8 + d, y = 40 - 16 + h, x = 50 - 16 + w;
          const std::size_t src = static_cast<std::size_t>((z * 80 + y) * 96 + x);
          const std::size_t dst = static_cast<std::size_t>((d * 32 + h) * 32 + w);
          same = same && img[dst] == pc.data[src] && seg[dst] == pc.seg[src];
        }
    VERIFY(same);
    PatchTransform tr = t;
    tr.scale = {1.0, 1.0, 1.0 + 1e-15}; // forces the interpolating path, same positions
    extractPatch(pc, patch, tr, noise, img2.data(), seg2.data());
    double md = 0;
    for (std::size_t i = 0; i < img.size(); ++i)
      md = std::max(md, static_cast<double>(std::abs(img[i] - img2[i])));
    VERIFY(md < 1e-4);
    VERIFY(seg == seg2);
    // Mirroring on all axes reverses the patch.
    PatchTransform tm = t;
    tm.mirror = {true, true, true};
    extractPatch(pc, patch, tm, noise, img2.data(), seg2.data());
    VERIFY(img2.front() == img.back() && seg2.front() == seg.back());
    // Gamma keeps mean and sd.
    std::vector<float> gv(img);
    applyGamma(gv.data(), static_cast<std::int64_t>(gv.size()), 1.4, false);
    double m0 = 0, m1 = 0;
    for (std::size_t i = 0; i < gv.size(); ++i)
    {
      m0 += img[i];
      m1 += gv[i];
    }
    VERIFY_NEAR(m0 / gv.size(), m1 / gv.size(), 1e-3);
    VERIFY(gv != img);
  }
  // Foreground oversampling at batch size 2: item 1 is centred on foreground, item 0 anywhere.
  {
    const std::vector<const PreparedCase*> set{&pc};
    AugmentationOptions aug;
    int fgHits = 0;
    for (int i = 0; i < 50; ++i)
    {
      TrainRng r = TrainRng::stream(1, 9, static_cast<std::uint64_t>(i));
      const PatchTransform t0 = drawPatchTransform(set, 0, 2, 0.33, tinyPlan().patchSize, aug, r);
      const PatchTransform t1 = drawPatchTransform(set, 1, 2, 0.33, tinyPlan().patchSize, aug, r);
      VERIFY(!t0.forcedForeground && t1.forcedForeground);
      std::vector<float> im(16 * 48 * 64);
      std::vector<std::uint8_t> sg(im.size());
      TrainRng nr(2);
      extractPatch(pc, tinyPlan().patchSize, t1, nr, im.data(), sg.data());
      fgHits += std::count(sg.begin(), sg.end(), 1) > 0;
    }
    std::printf("  foreground-forced patches containing pancreas: %d of 50\n", fgHits);
    VERIFY(fgHits >= 45);
  }
}

// ---- bad input ---------------------------------------------------------------------------------

void testBadInput()
{
  std::printf("[badinput]\n");
  TrainOptions o = tinyOptions();
  o.epochs = 1;
  o.iterationsPerEpoch = 1;
  VERIFY_THROWS(train({}, o), "no training cases");

  std::vector<TrainCase> cases = phantomCases(3, 600);
  {
    std::vector<TrainCase> bad = cases;
    bad[1].mask.geometry.spacingMm[0] = 3.0; // mask on another grid
    VERIFY_THROWS(train(bad, o), "case 'ph601': the mask does not lie on the image grid");
  }
  {
    std::vector<TrainCase> bad = cases;
    Geometry g = bad[2].mask.geometry;
    g.size[2] = 31;
    bad[2].mask = LabelMask(g); // other size (and empty)
    VERIFY_THROWS(train(bad, o), "case 'ph602': the mask does not lie on the image grid");
  }
  {
    std::vector<TrainCase> bad = cases;
    std::fill(bad[0].mask.voxels.begin(), bad[0].mask.voxels.end(), 0);
    VERIFY_THROWS(train(bad, o), "case 'ph600': the mask has no foreground");
  }
  {
    std::vector<TrainCase> bad = cases;
    bad[0].image.voxels.clear();
    VERIFY_THROWS(train(bad, o), "case 'ph600': the image is empty");
  }
  {
    TrainOptions k = o;
    k.split.folds = 5;
    VERIFY_THROWS(train(cases, k), "5-fold cross-validation needs at least 5 patients");
    k.split.folds = 3;
    k.split.fold = 3;
    VERIFY_THROWS(train(cases, k), "fold 3 is out of range");
  }
  {
    std::vector<TrainCase> one(cases.begin(), cases.begin() + 1);
    VERIFY_THROWS(train(one, o), "a hold-out split needs at least 2 patients");
  }
  if (!torch::cuda::is_available())
  {
    TrainOptions c = o;
    c.device = "cuda";
    VERIFY_THROWS(train(cases, c), "CUDA");
  }

  // Out of disk while writing a checkpoint: a file-size limit makes write() fail (EFBIG) exactly
  // like a full disk (ENOSPC) does. The error says so and the previous checkpoint stays intact.
  {
    const std::string dir = tmpDir("disk");
    TrainOptions d = o;
    d.epochs = 3;
    d.iterationsPerEpoch = 2;
    d.checkpointDir = dir + "/ckpt";
    const std::string ck = d.checkpointDir + "/" + kCheckpointFileName;
    rlimit old{};
    getrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, SIG_IGN);
    std::uintmax_t firstSize = 0;
    bool limited = false;
    VERIFY_THROWS(train(cases, d,
                        [&](const TrainProgress& p) {
                          if (p.phase == TrainProgress::Phase::EpochDone && p.epoch == 0)
                          {
                            firstSize = fs::file_size(ck);
                            rlimit lim = old;
                            lim.rlim_cur = firstSize / 2; // the next checkpoint cannot fit
                            limited = setrlimit(RLIMIT_FSIZE, &lim) == 0;
                          }
                          return true;
                        }),
                  "cannot write checkpoint");
    setrlimit(RLIMIT_FSIZE, &old);
    VERIFY(limited);
    VERIFY(fs::file_size(ck) == firstSize);
    const CheckpointSummary s = readCheckpointSummary(ck);
    VERIFY(s.epochsCompleted == 1);
    std::size_t temps = 0;
    for (const auto& e : fs::directory_iterator(d.checkpointDir))
      temps += e.path().filename().string().rfind(".tmp-", 0) == 0;
    VERIFY(temps == 0);
    std::printf("  previous checkpoint intact after the failed write: epoch %d, %ju bytes\n",
                s.epochsCompleted, firstSize);

    // Resuming that checkpoint with other settings is refused, naming the setting.
    TrainOptions r = d;
    r.resume = true;
    r.initialLearningRate = 0.02;
    VERIFY_THROWS(train(cases, r), "learning_rate");
    r = d;
    r.resume = true;
    r.seed = 8;
    VERIFY_THROWS(train(cases, r), "seed = 7, this run has 8");
    // A damaged checkpoint is reported, not half-loaded.
    fs::resize_file(ck, fs::file_size(ck) - 100);
    r = d;
    r.resume = true;
    VERIFY_THROWS(train(cases, r), "truncated");
  }
  // An unwritable output folder fails with the path.
  {
    TrainOptions w = o;
    w.outputDir = "/proc/panseg-no-such-dir/model";
    VERIFY_THROWS(train(cases, w), "cannot create folder /proc/panseg-no-such-dir/model");
  }
}

// ---- short training run ------------------------------------------------------------------------

void testShort()
{
  std::printf("[short]\n");
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<TrainCase> cases = phantomCases(8, 700);
  TrainOptions o = tinyOptions();
  o.epochs = 12;
  o.iterationsPerEpoch = 25;
  o.split.validationIds = {"ph706", "ph707"};
  o.validateInitial = true;
  o.outputDir = tmpDir("short") + "/model";
  o.modelInfo.name = "short test";
  const TrainResult r = train(cases, o);
  VERIFY(r.completed && r.history.size() == 12);
  std::printf("  %s\n  epoch  loss     val Dice\n", r.splitDescription.c_str());
  for (const auto& h : r.history)
    std::printf("  %-6d %-8.4f %.4f\n", h.epoch + 1, h.trainLoss, h.valDice);
  const double first = r.history.front().trainLoss;
  const double lastTwo = 0.5 * (r.history[10].trainLoss + r.history[11].trainLoss);
  const double val = r.history.back().valDice;
  std::printf("  untrained validation Dice %.4f, after training %.4f; loss %.4f -> %.4f; %.1f s "
              "(%d threads)\n",
              r.initialValDice, val, first, lastTwo, secondsSince(t0), r.threads);
  VERIFY(lastTwo < first - 0.5);
  // An untrained network predicts noise around a 50/50 softmax: its Dice is about twice the
  // foreground share (~0.01-0.03 here). The trained one must be far above it.
  VERIFY(r.initialValDice < 0.1);
  VERIFY(val > 0.25);
  VERIFY(val > r.initialValDice + 0.2);
  // The written package loads, its weights equal the network's, and its card is complete.
  const ModelPackage pkg = loadModelPackage(o.outputDir);
  VERIFY(pkg.network == o.plan);
  VERIFY(pkg.preprocessing.intensity.has_value());
  VERIFY(std::abs(pkg.preprocessing.intensity->mean - r.intensity.mean) < 1e-9);
  VERIFY(pkg.info.metrics.find("dice_val") && pkg.info.lineage.find("curve"));
  VERIFY(pkg.weightsVerified); // panseg-train's package records weights.bin's SHA-256
  const PanSegNet net = loadPackageNetwork(pkg);
  VERIFY(parameterCount(*net) == r.parameters);
  VERIFY(static_cast<std::int64_t>(pkg.network.parameterCount()) == r.parameters); // the plan's own count
  std::printf("  largest-component post-processing: val Dice %.4f -> %.4f, package labels %zu\n",
              val, r.finalValDiceLargestComponent, pkg.preprocessing.largestComponentLabels.size());
  VERIFY(pkg.preprocessing.largestComponentLabels.empty() ==
         (r.finalValDiceLargestComponent < val));

  // The Jaccard + CE option trains too (short run: finite, decreasing loss).
  TrainOptions j = tinyOptions();
  j.loss = LossKind::JaccardCE;
  j.epochs = 2;
  j.iterationsPerEpoch = 8;
  j.split.validationIds = {"ph707"};
  const TrainResult rj = train(cases, j);
  VERIFY(rj.completed && std::isfinite(rj.history[1].trainLoss));
  VERIFY(rj.history[1].trainLoss < rj.history[0].trainLoss);
  std::printf("  Jaccard + CE: loss %.4f -> %.4f\n", rj.history[0].trainLoss, rj.history[1].trainLoss);
}

// ---- resume after a crash (in process) ---------------------------------------------------------

StateDict finalWeights(const std::string& modelDir)
{
  return readPackageWeights(loadModelPackage(modelDir));
}

void testResume()
{
  std::printf("[resume]\n");
  std::vector<TrainCase> cases = phantomCases(4, 800);
  TrainOptions o = tinyOptions();
  o.epochs = 4;
  o.iterationsPerEpoch = 5;
  o.split.validationIds = {"ph803"};
  const std::string root = tmpDir("resume");

  TrainOptions a = o;
  a.checkpointDir = root + "/a/checkpoint";
  a.outputDir = root + "/a";
  const TrainResult ra = train(cases, a);
  VERIFY(ra.completed);

  // "Crash" in epoch 3 (0-based 2) after 3 iterations: the in-memory state is dropped, only the
  // checkpoint of epoch 2 remains on disk.
  TrainOptions b = o;
  b.checkpointDir = root + "/b/checkpoint";
  b.outputDir = root + "/b";
  const TrainResult rb = train(cases, b, [](const TrainProgress& p) {
    return !(p.phase == TrainProgress::Phase::Training && p.epoch == 2 && p.iteration == 3);
  });
  VERIFY(rb.cancelled && !rb.completed && rb.epochsDone == 2);
  VERIFY(!fs::exists(b.outputDir + "/weights.bin"));
  VERIFY(readCheckpointSummary(b.checkpointDir + "/" + kCheckpointFileName).epochsCompleted == 2);

  TrainOptions c = b;
  c.resume = true;
  const TrainResult rc = train(cases, c);
  VERIFY(rc.completed && rc.startEpoch == 2 && rc.history.size() == 4);
  const double d = maxAbsDifference(finalWeights(a.outputDir), finalWeights(c.outputDir));
  std::printf("  uninterrupted vs crashed-at-epoch-3-and-resumed (same seed, %d threads): final "
              "weights max|diff| = %.3g\n",
              ra.threads, d);
  VERIFY(d == 0.0);
  for (std::size_t i = 0; i < 4; ++i)
    VERIFY(ra.history[i].trainLoss == rc.history[i].trainLoss);
  VERIFY(ra.history.back().valDice == rc.history.back().valDice);

  // A different seed gives different weights (the comparison above is not vacuous).
  TrainOptions e = o;
  e.seed = 8;
  e.epochs = 1;
  e.outputDir = root + "/e";
  TrainOptions a1 = o;
  a1.epochs = 1;
  a1.outputDir = root + "/a1";
  train(cases, e);
  train(cases, a1);
  const double de = maxAbsDifference(finalWeights(a1.outputDir), finalWeights(e.outputDir));
  std::printf("  seed 7 vs seed 8 after one epoch: max|diff| = %.3g\n", de);
  VERIFY(de > 1e-3);
}

// ---- kill -9 of the tool, then --resume ---------------------------------------------------------

pid_t spawnTool(const std::vector<std::string>& args, const std::string& logPath)
{
  std::vector<std::string> full = {g_tool};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : full)
    argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, logPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, g_tool.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    throw Error("cannot start " + g_tool + ": " + std::strerror(rc));
  return pid;
}

int waitTool(pid_t pid)
{
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void testKill()
{
  std::printf("[kill]\n");
  if (g_tool.empty() || !fs::exists(g_tool))
  {
    std::printf("  FAIL: --tool PATH_TO_panseg-train is required\n");
    ++g_failures;
    return;
  }
  const std::string root = tmpDir("kill");
  const std::vector<std::string> common = {"demo",     "--plan",      "tiny", "--cases", "4",
                                           "--val-cases", "1",         "--epochs", "4",  "--iters",
                                           "5",        "--threads",   "2",    "--no-evaluate",
                                           "--phantom-seed", "900"};
  auto with = [&](const std::string& out, std::vector<std::string> extra = {}) {
    std::vector<std::string> v = common;
    v.push_back("--out");
    v.push_back(out);
    v.insert(v.end(), extra.begin(), extra.end());
    return v;
  };
  const auto t0 = std::chrono::steady_clock::now();
  VERIFY(waitTool(spawnTool(with(root + "/a"), root + "/a.log")) == 0);

  const pid_t pid = spawnTool(with(root + "/b"), root + "/b.log");
  const std::string ck = root + "/b/checkpoint/" + kCheckpointFileName;
  bool killed = false;
  int seenEpochs = 0;
  for (int i = 0; i < 6000 && !killed; ++i) // up to 10 minutes
  {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (fs::exists(ck))
    {
      try
      {
        seenEpochs = readCheckpointSummary(ck).epochsCompleted;
      }
      catch (const Error&)
      {
        continue; // cannot happen with atomic renames; a partial file would show up here
      }
      if (seenEpochs >= 2)
      {
        // Into the next epoch a little, then SIGKILL: no handler, no cleanup.
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        killed = kill(pid, SIGKILL) == 0;
      }
    }
    int status = 0;
    if (!killed && waitpid(pid, &status, WNOHANG) == pid)
      break;
  }
  VERIFY(killed);
  const int killedRc = waitTool(pid);
  VERIFY(killedRc == 128 + SIGKILL);
  const int atKill = readCheckpointSummary(ck).epochsCompleted;
  std::printf("  killed (SIGKILL) with %d epoch(s) checkpointed\n", atKill);
  VERIFY(atKill >= 2 && atKill < 4);
  VERIFY(!fs::exists(root + "/b/weights.bin"));

  VERIFY(waitTool(spawnTool(with(root + "/b", {"--resume"}), root + "/b2.log")) == 0);
  const double d = maxAbsDifference(finalWeights(root + "/a"), finalWeights(root + "/b"));
  std::printf("  panseg-train uninterrupted vs killed + --resume: final weights max|diff| = %.3g "
              "(%.0f s)\n",
              d, secondsSince(t0));
  VERIFY(d == 0.0);
  VERIFY(!fs::exists(root + "/b/checkpoint")); // removed after the completed run
}
} // namespace


// ---- click-conditioned packages (Guidance.h, ClickSimulation.h) --------------------------------

void testClicks()
{
  std::printf("[clicks]\n");
  // 1. The simulated guidance: a ball truth in a patch. Channels hold only 0 and 1, the same
  //    generator state gives the same bytes, positive clicks lie where the truth is and the
  //    previous mask is not, negative ones the other way round.
  const nnunet::Shape3 ps{16, 48, 64};
  const std::int64_t n = ps[0] * ps[1] * ps[2];
  std::vector<std::uint8_t> seg(static_cast<std::size_t>(n), 0);
  for (std::int64_t z = 0; z < ps[0]; ++z)
    for (std::int64_t y = 0; y < ps[1]; ++y)
      for (std::int64_t x = 0; x < ps[2]; ++x)
      {
        const double dz = (z - 8) * 2.0, dy = y - 24.0, dx = x - 32.0;
        if (dz * dz + dy * dy + dx * dx <= 100.0)
          seg[static_cast<std::size_t>((z * ps[1] + y) * ps[2] + x)] = 1;
      }
  ClickSimulationOptions co;
  int automatic = 0, withClicks = 0, positives = 0, negatives = 0;
  std::map<std::string, int> damages;
  for (std::uint64_t it = 0; it < 200; ++it)
  {
    std::vector<float> g(static_cast<std::size_t>(3 * n)), again(static_cast<std::size_t>(3 * n));
    TrainRng r1 = TrainRng::stream(5, 3, 0, it), r2 = TrainRng::stream(5, 3, 0, it);
    const SimulatedGuidance sg = simulateClickGuidance(seg.data(), ps, {6.0, 3.2, 3.2}, co, r1, g.data());
    simulateClickGuidance(seg.data(), ps, {6.0, 3.2, 3.2}, co, r2, again.data());
    VERIFY(g == again);
    VERIFY(std::all_of(g.begin(), g.end(), [](float v) { return v == 0.0f || v == 1.0f; }));
    ++damages[sg.damage];
    if (sg.automatic)
    {
      ++automatic;
      VERIFY(std::all_of(g.begin(), g.end(), [](float v) { return v == 0.0f; }));
      continue;
    }
    withClicks += sg.clicks > 0;
    VERIFY(sg.clicks >= 0 && sg.clicks <= co.maxClicks);
    // Each click's centre voxel: a positive one in a voxel the truth has, a negative one not.
    const float* pos = g.data();
    const float* neg = g.data() + n;
    std::int64_t posVoxels = 0, negVoxels = 0;
    for (std::int64_t i = 0; i < n; ++i)
    {
      posVoxels += pos[i] > 0;
      negVoxels += neg[i] > 0;
    }
    VERIFY((posVoxels > 0) == (sg.positiveClicks > 0));
    VERIFY((negVoxels > 0) == (sg.clicks - sg.positiveClicks > 0));
    positives += sg.positiveClicks;
    negatives += sg.clicks - sg.positiveClicks;
  }
  std::printf("  200 patches: %d automatic, %d with clicks (%d positive, %d negative clicks);", automatic,
              withClicks, positives, negatives);
  for (const auto& [k, v] : damages)
    std::printf(" %s %d", k.c_str(), v);
  std::printf("\n");
  VERIFY(automatic > 30 && automatic < 90); // 30 % of 200
  VERIFY(withClicks > 80 && positives > 40 && negatives > 20);

  // 1b. DeepEdit's network in the loop: the network's answer becomes the previous mask and one
  //     more click goes to the centre of its largest error, keeping the earlier clicks. Here the
  //     "answer" misses the ball's upper half: the new click is positive, in the missed part.
  {
    std::vector<float> g(static_cast<std::size_t>(3 * n));
    SimulatedGuidance sg;
    std::uint64_t draw = 0;
    do // a guided patch (not an automatic one)
    {
      TrainRng r = TrainRng::stream(5, 3, 1, draw++);
      sg = simulateClickGuidance(seg.data(), ps, {6.0, 3.2, 3.2}, co, r, g.data());
    } while (sg.automatic);
    const int before = sg.clicks;
    std::vector<std::uint8_t> answer = seg;
    for (std::int64_t i = 0; i < n; ++i)
      if ((i / ps[2]) % ps[1] < 24) // y < 24: missed
        answer[static_cast<std::size_t>(i)] = 0;
    VERIFY(addClickAtNetworkError(seg.data(), answer.data(), ps, {6.0, 3.2, 3.2}, sg, g.data()));
    VERIFY(sg.clicks == before + 1 && static_cast<int>(sg.painted.size()) == sg.clicks);
    const guidance::GridClick& added = sg.painted.back();
    VERIFY(added.positive && added.zyx[1] < 24);
    VERIFY(seg[static_cast<std::size_t>((added.zyx[0] * ps[1] + added.zyx[1]) * ps[2] + added.zyx[2])] == 1);
    VERIFY(g[static_cast<std::size_t>((added.zyx[0] * ps[1] + added.zyx[1]) * ps[2] + added.zyx[2])] == 1.0f);
    for (std::int64_t i = 0; i < n; ++i) // the previous-mask channel is the answer
      VERIFY(g[static_cast<std::size_t>(2 * n + i)] == static_cast<float>(answer[static_cast<std::size_t>(i)]));
    // A perfect answer gets no click; an automatic patch is left alone.
    VERIFY(!addClickAtNetworkError(seg.data(), seg.data(), ps, {6.0, 3.2, 3.2}, sg, g.data()));
    VERIFY(sg.clicks == before + 1);
    SimulatedGuidance automaticPatch;
    automaticPatch.automatic = true;
    std::vector<float> zeros(static_cast<std::size_t>(3 * n), 0.0f);
    VERIFY(!addClickAtNetworkError(seg.data(), answer.data(), ps, {6.0, 3.2, 3.2}, automaticPatch, zeros.data()));
    VERIFY(std::all_of(zeros.begin(), zeros.end(), [](float v) { return v == 0.0f; }));
    std::printf("  network in the loop: click %d added at z %lld y %lld x %lld (positive, in the missed half)\n",
                sg.clicks, static_cast<long long>(added.zyx[0]), static_cast<long long>(added.zyx[1]),
                static_cast<long long>(added.zyx[2]));
  }

  // 2. The image -> network grid mapping of the predictor: a mask and a click inside it land on
  //    the same network voxel, whatever the crop and resampling did.
  std::vector<TrainCase> cases = phantomCases(3, 760);
  {
    nnunet::PreprocessParams pp;
    pp.targetSpacing = {6.0, 3.2, 3.2};
    pp.scheme = nnunet::NormalizationScheme::NonCT;
    const nnunet::Preprocessed pre = nnunet::preprocess(cases[0].image, pp);
    const std::vector<std::uint8_t> onGrid = guidance::maskToNetworkGrid(pre, cases[0].mask, 1);
    std::int64_t inside = 0, checked = 0;
    const LabelMask& m = cases[0].mask;
    for (std::int64_t z = 0; z < m.nz(); ++z)
      for (std::int64_t y = 0; y < m.ny(); ++y)
        for (std::int64_t x = 0; x < m.nx(); ++x)
          if (m.at(x, y, z) == 1)
          {
            std::array<std::int64_t, 3> zyx{};
            VERIFY(guidance::toNetworkGrid(pre, {x, y, z}, zyx));
            ++checked;
            inside += onGrid[static_cast<std::size_t>((zyx[0] * pre.shape[1] + zyx[1]) * pre.shape[2] + zyx[2])];
          }
    std::printf("  %lld of %lld mask voxels map into the mask on the network grid\n",
                static_cast<long long>(inside), static_cast<long long>(checked));
    VERIFY(checked > 100 && inside == checked); // same grid spacing here: nearest neighbour is exact
  }

  // 3. Training from a plain base package: the first layer is widened with zero weights, so the
  //    click network's automatic-mode validation before training equals the base's.
  TrainOptions o = tinyOptions();
  o.epochs = 2;
  o.iterationsPerEpoch = 4;
  o.split.validationIds = {"ph762"};
  o.outputDir = tmpDir("clicks-base") + "/model";
  const TrainResult base = train(cases, o);
  VERIFY(base.completed);
  TrainOptions c = tinyOptions();
  c.clickGuidance = true;
  c.plan.inputChannels = 4;
  c.epochs = 1;
  c.iterationsPerEpoch = 4;
  c.split.validationIds = {"ph762"};
  c.validateInitial = true;
  c.baseModelDir = o.outputDir;
  c.intensityFromData = false;
  c.preprocessing = loadModelPackage(o.outputDir).preprocessing;
  c.outputDir = tmpDir("clicks") + "/model";
  c.clickSimulation.networkLoopProbability = 1.0; // every iteration runs the network in the loop
  const TrainResult r = train(cases, c);
  VERIFY(r.networkLoopRounds >= c.iterationsPerEpoch);
  std::printf("  base val Dice %.6f; widened click network before training %.6f, after %d iterations %.6f\n",
              base.history.back().valDice, r.initialValDice, c.iterationsPerEpoch, r.history.back().valDice);
  VERIFY(r.completed);
  VERIFY(std::abs(r.initialValDice - base.history.back().valDice) < 1e-3);
  const ModelPackage pkg = loadModelPackage(c.outputDir);
  VERIFY(pkg.info.modelType == "pansegnet-clicks" && guidance::takesClicks(pkg));
  VERIFY(pkg.network.inputChannels == 4);

  // 4. The predictor: clicks reach a click package; a plain package refuses them by name.
  ClickGuidance clicks;
  clicks.positive.push_back({48, 40, 16});
  clicks.negative.push_back({10, 10, 5});
  clicks.previous = &cases[0].mask;
  PredictOptions po;
  po.device = "cpu";
  po.fast = true;
  po.estimate = false;
  po.clicks = &clicks;
  const PredictResult withGuidance = predictCase(pkg, cases[0].image, po);
  VERIFY(withGuidance.mask.geometry.size == cases[0].image.geometry.size);
  VERIFY_THROWS(predictCase(loadModelPackage(o.outputDir), cases[0].image, po), "has no click channels");
  // A plan with the wrong channel count is refused before any work.
  TrainOptions bad = tinyOptions();
  bad.clickGuidance = true;
  VERIFY_THROWS(train(cases, bad), "a click-conditioned plan has 4 input channels");
}

int main(int argc, char** argv)
{
  // LibTorch's OpenMP threads spin between parallel regions by default; on a shared 2-core
  // machine that spinning took 40-80 % of the time (measured with perf). libgomp reads the wait
  // policy once, when it loads, so set it and start again unless the user chose one.
  if (!std::getenv("OMP_WAIT_POLICY"))
  {
    ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    ::execv("/proc/self/exe", argv); // returns only on failure: then run with the default policy
  }
  std::vector<std::string> groups;
  for (int i = 1; i < argc; ++i)
  {
    const std::string a = argv[i];
    if (a == "--tool" && i + 1 < argc)
      g_tool = argv[++i];
    else
      groups.push_back(a);
  }
  if (groups.empty())
    groups = {"loss", "data", "badinput", "short", "resume", "clicks"};
  g_tmp = (fs::temp_directory_path() / ("panseg_train_check-" + std::to_string(::getpid()))).string();
  fs::create_directories(g_tmp);
  configureThreads(2);
  const std::map<std::string, std::function<void()>> table = {
      {"loss", testLoss},   {"data", testData},     {"badinput", testBadInput},
      {"short", testShort}, {"resume", testResume}, {"kill", testKill}, {"clicks", testClicks}};
  for (const auto& g : groups)
  {
    const auto it = table.find(g);
    if (it == table.end())
    {
      std::printf("unknown group %s\n", g.c_str());
      return 2;
    }
    const auto t0 = std::chrono::steady_clock::now();
    try
    {
      it->second();
    }
    catch (const std::exception& e)
    {
      ++g_failures;
      std::printf("  FAIL: %s threw: %s\n", g.c_str(), e.what());
    }
    std::printf("  (%s: %.1f s)\n", g.c_str(), secondsSince(t0));
  }
  std::error_code ec;
  fs::remove_all(g_tmp, ec);
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures ? 1 : 0;
}
