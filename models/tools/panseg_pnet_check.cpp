// Tests of PNet-MSA + BiRNN (models/PNetMsa.h, PNetMsaTrainer.h): plain C++, no Qt, no data files
// (generated phantoms), so they also run in the standalone GPU build.
//   panseg_pnet_check [group...]   groups: network convlstm loss package predict train (default: all)
#include "core/Error.h"
#include "core/demo/PhantomGenerator.h"
#include "models/ModelPackage.h"
#include "models/PNetMsa.h"
#include "models/PNetMsaTrainer.h"
#include "models/PackageWeights.h"
#include "models/Predictor.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>
#include "CheckMacros.h"

namespace
{
namespace fs = std::filesystem;
using namespace panseg;
using namespace panseg::models;

std::string g_tmp;

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point t0)
{
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

bool sameBits(const torch::Tensor& a, const torch::Tensor& b)
{
  const torch::Tensor x = a.contiguous().cpu(), y = b.contiguous().cpu();
  return x.sizes() == y.sizes() && x.scalar_type() == y.scalar_type() &&
         std::memcmp(x.data_ptr(), y.data_ptr(), static_cast<std::size_t>(x.nbytes())) == 0;
}

double sigmoid(double v)
{
  return 1.0 / (1.0 + std::exp(-v));
}

// ---- network ------------------------------------------------------------------------------------

void testNetwork()
{
  const PNetMsaSpec spec;
  PNetMsaModel model(spec);
  // Expected count from the architecture's description (docs/pnet-msa.md), written out by hand.
  std::int64_t expected = 0;
  const std::int64_t f = 64, s = 16;
  for (int k = 0; k < 5; ++k)
  {
    for (int c = 0; c < 4; ++c)
    {
      const std::int64_t in = (k == 0 && c == 0) ? 3 : f;
      expected += in * f * 9 + f; // conv 3x3 + bias
      expected += 2 * f;          // BatchNorm weight + bias
    }
    const std::int64_t sc = std::int64_t{ 1 } << k;
    expected += f * s * sc * sc + s;  // deconvolution to full resolution
    expected += s * (k + 1) * 9 + 1;  // side output conv over the concatenation
  }
  expected += 5 + 1;                  // fusion
  const std::int64_t rnn = 2 * (4 * 2 * 9 + 4) + 2 + 1;
  const std::int64_t cnnCount = parameterCount(*model->cnn), total = parameterCount(*model);
  std::printf("  PNet-MSA parameters: %lld (CNN) + %lld (BiRNN) = %lld\n", static_cast<long long>(cnnCount),
              static_cast<long long>(total - cnnCount), static_cast<long long>(total));
  VERIFY(cnnCount == expected);
  VERIFY(total - cnnCount == rnn);
  VERIFY(total < 3000000);

  // Shapes: every side output and the fusion at the input's resolution.
  model->eval();
  torch::manual_seed(3);
  const torch::Tensor x = torch::randn({ 2, 3, 64, 48 });
  PNetMsaOutputs out;
  {
    torch::NoGradGuard ng;
    out = model->cnn->forwardAll(x);
  }
  VERIFY(out.sides.size() == 5);
  for (const torch::Tensor& t : out.sides)
    VERIFY(t.sizes() == torch::IntArrayRef({ 2, 1, 64, 48 }));
  VERIFY(out.fused.sizes() == torch::IntArrayRef({ 2, 1, 64, 48 }));
  VERIFY_THROWS(model->cnn->forward(torch::zeros({ 1, 3, 40, 48 })), "multiples of 16");
  VERIFY_THROWS(model->cnn->forward(torch::zeros({ 1, 1, 32, 32 })), "[B, 3, H, W]");
  {
    torch::NoGradGuard ng;
    const torch::Tensor r = model->rnn->forward(torch::rand({ 5, 1, 32, 16 }));
    VERIFY(r.sizes() == torch::IntArrayRef({ 5, 1, 32, 16 }));
  }

  // Deterministic: the same seed gives the same weights and the same output bits; another seed not.
  auto run = [](std::uint64_t seed)
  {
    torch::manual_seed(seed);
    PNetMsaModel m{ PNetMsaSpec{} };
    m->eval();
    torch::manual_seed(99);
    const torch::Tensor vol = torch::randn({ 6, 48, 32 });
    return pnetMsaProbabilities(m, vol, 4, true);
  };
  const torch::Tensor a = run(11), b = run(11), c = run(12);
  VERIFY(a.sizes() == torch::IntArrayRef({ 6, 48, 32 }));
  VERIFY(sameBits(a, b));
  VERIFY(!sameBits(a, c));
  // Batch size does not change the result beyond float rounding.
  {
    torch::manual_seed(11);
    PNetMsaModel m{ PNetMsaSpec{} };
    m->eval();
    torch::manual_seed(99);
    const torch::Tensor vol = torch::randn({ 6, 48, 32 });
    VERIFY((pnetMsaProbabilities(m, vol, 1, true) - a).abs().max().item<double>() < 1e-5);
  }

  // Slice stacks: neighbours, edges repeated; padding to multiples.
  const torch::Tensor v = torch::arange(4, torch::kFloat).view({ 4, 1, 1 }).expand({ 4, 2, 2 }).contiguous();
  const torch::Tensor st = sliceStacks(v, 3);
  VERIFY(st.sizes() == torch::IntArrayRef({ 4, 3, 2, 2 }));
  VERIFY(st[0][0][0][0].item<float>() == 0.f && st[0][1][0][0].item<float>() == 0.f && st[0][2][0][0].item<float>() == 1.f);
  VERIFY(st[3][0][0][0].item<float>() == 2.f && st[3][1][0][0].item<float>() == 3.f && st[3][2][0][0].item<float>() == 3.f);
  VERIFY(padToMultiple(torch::ones({ 2, 17, 33 }), 16).sizes() == torch::IntArrayRef({ 2, 32, 48 }));
}

// ---- ConvLSTM: eqs. 5-9 against hand-written formulas ------------------------------------------------

void testConvLstm()
{
  ConvLstmCell cell(1, 1, 3);
  // Chosen weights: gates.weight [4 gates (i, f, o, g), 2 inputs (x, h), 3, 3], gates.bias [4].
  auto wv = [](int g, int ch, int ky, int kx)
  { return 0.1 * (g + 1) * (ch == 0 ? 1.0 : -0.7) + 0.05 * ky - 0.03 * kx + 0.01 * g * ky * kx; };
  const double bias[4] = { 0.1, -0.2, 0.3, -0.05 };
  {
    torch::NoGradGuard ng;
    for (int g = 0; g < 4; ++g)
    {
      cell->gates->bias[g] = bias[g];
      for (int ch = 0; ch < 2; ++ch)
        for (int ky = 0; ky < 3; ++ky)
          for (int kx = 0; kx < 3; ++kx)
            cell->gates->weight[g][ch][ky][kx] = wv(g, ch, ky, kx);
    }
  }
  const double xs[3][3] = { { 0.2, 0.9, 0.1 }, { 0.5, 0.7, 0.3 }, { 0.0, 0.4, 1.0 } };
  const double hs[3][3] = { { -0.3, 0.1, 0.2 }, { 0.4, -0.1, 0.0 }, { 0.25, 0.05, -0.2 } };
  const double cs[3][3] = { { 0.5, -0.4, 0.3 }, { 0.1, 0.2, -0.6 }, { 0.0, 0.8, 0.15 } };
  torch::Tensor x = torch::zeros({ 1, 1, 3, 3 }), h = torch::zeros({ 1, 1, 3, 3 }), c = torch::zeros({ 1, 1, 3, 3 });
  for (int y = 0; y < 3; ++y)
    for (int xx = 0; xx < 3; ++xx)
    {
      x[0][0][y][xx] = xs[y][xx];
      h[0][0][y][xx] = hs[y][xx];
      c[0][0][y][xx] = cs[y][xx];
    }
  torch::Tensor h1, c1;
  {
    torch::NoGradGuard ng;
    std::tie(h1, c1) = cell->forward(x, h, c);
  }
  // Pre-activation of gate g at (y, x): W_xg * x + W_hg * h + b_g, 3x3 convolution, zero padding.
  auto pre = [&](int g, int y, int xx)
  {
    double s = bias[g];
    for (int ky = 0; ky < 3; ++ky)
      for (int kx = 0; kx < 3; ++kx)
      {
        const int yy = y + ky - 1, x2 = xx + kx - 1;
        if (yy < 0 || yy > 2 || x2 < 0 || x2 > 2)
          continue;
        s += wv(g, 0, ky, kx) * xs[yy][x2] + wv(g, 1, ky, kx) * hs[yy][x2];
      }
    return s;
  };
  double maxErr = 0;
  for (int y = 0; y < 3; ++y)
    for (int xx = 0; xx < 3; ++xx)
    {
      const double i = sigmoid(pre(0, y, xx));                    // eq. 5
      const double f = sigmoid(pre(1, y, xx));                    // eq. 6
      const double o = sigmoid(pre(2, y, xx));                    // eq. 7
      const double cn = f * cs[y][xx] + i * std::tanh(pre(3, y, xx)); // eq. 8
      const double hn = o * std::tanh(cn);                        // eq. 9
      maxErr = std::max({ maxErr, std::abs(c1[0][0][y][xx].item<double>() - cn),
                          std::abs(h1[0][0][y][xx].item<double>() - hn) });
    }
  std::printf("  ConvLSTM 3x3 case: max |torch - hand| = %.3g\n", maxErr);
  VERIFY(maxErr < 1e-6);
  // Undefined state = zeros.
  {
    torch::NoGradGuard ng;
    const auto z = cell->forward(x, torch::Tensor(), torch::Tensor());
    const auto z2 = cell->forward(x, torch::zeros({ 1, 1, 3, 3 }), torch::zeros({ 1, 1, 3, 3 }));
    VERIFY(sameBits(z.first, z2.first) && sameBits(z.second, z2.second));
  }

  // BiRNN on a 1x1 sequence of 3 slices: only the centre taps act; recursions written out.
  BiConvLstm rnn;
  const double w0 = 1.7, w1 = -0.6, b0 = 0.2;
  {
    torch::NoGradGuard ng;
    rnn->combineWeight[0] = w0;
    rnn->combineWeight[1] = w1;
    rnn->combineBias[0] = b0;
  }
  const double p[3] = { 0.1, 0.8, 0.45 };
  torch::Tensor seq = torch::zeros({ 3, 1, 1, 1 });
  for (int t = 0; t < 3; ++t)
    seq[t][0][0][0] = p[t];
  torch::Tensor outT;
  {
    torch::NoGradGuard ng;
    outT = rnn->forward(seq);
  }
  auto run = [&](ConvLstmCell& cl, int t0, int step)
  {
    std::vector<double> hsOut(3);
    double hh = 0, cc = 0;
    const torch::Tensor w = cl->gates->weight, b = cl->gates->bias;
    for (int t = t0; t >= 0 && t < 3; t += step)
    {
      double a[4];
      for (int g = 0; g < 4; ++g)
        a[g] = w[g][0][1][1].item<double>() * p[t] + w[g][1][1][1].item<double>() * hh + b[g].item<double>();
      cc = sigmoid(a[1]) * cc + sigmoid(a[0]) * std::tanh(a[3]);
      hh = sigmoid(a[2]) * std::tanh(cc);
      hsOut[static_cast<std::size_t>(t)] = hh;
    }
    return hsOut;
  };
  const std::vector<double> hf = run(rnn->forwardCell, 0, 1), hb = run(rnn->backwardCell, 2, -1);
  double maxErr2 = 0;
  for (int t = 0; t < 3; ++t)
    maxErr2 = std::max(maxErr2, std::abs(outT[t][0][0][0].item<double>() -
                                         (w0 * hf[static_cast<std::size_t>(t)] + w1 * hb[static_cast<std::size_t>(t)] + b0)));
  std::printf("  BiRNN 3-slice 1x1 case: max |torch - hand| = %.3g\n", maxErr2);
  VERIFY(maxErr2 < 1e-6);
}

// ---- losses -------------------------------------------------------------------------------------

void testLoss()
{
  const torch::Tensor zero = torch::zeros({ 4 }), t = torch::tensor({ 1.f, 0.f, 1.f, 0.f });
  VERIFY_NEAR(jaccardLoss(zero, t).item<double>(), 1.0 - 1.0 / 3.0, 1e-5); // p = 0.5: 1 / (2 + 2 - 1)
  VERIFY_NEAR(jaccardLoss(torch::tensor({ 30.f, -30.f, 30.f, -30.f }), t).item<double>(), 0.0, 1e-5);
  VERIFY_NEAR(binaryCrossEntropyLoss(zero, t).item<double>(), std::log(2.0), 1e-6);
  const torch::Tensor one = torch::tensor({ 1.f, 0.f, 0.f, 0.f });
  // beta = 3/4 on the single foreground pixel, 1/4 on the three background pixels.
  VERIFY_NEAR(balancedCrossEntropyLoss(zero, one).item<double>(), (0.75 + 0.25 * 3) * std::log(2.0) / 4, 1e-6);
  const torch::Tensor l = torch::tensor({ 2.f, -1.f, 0.5f, -3.f });
  double hand = 0;
  const double lv[4] = { 2, -1, 0.5, -3 }, yv[4] = { 1, 0, 0, 0 };
  for (int i = 0; i < 4; ++i)
    hand += -(0.75 * yv[i] * std::log(sigmoid(lv[i])) + 0.25 * (1 - yv[i]) * std::log(1 - sigmoid(lv[i])));
  VERIFY_NEAR(balancedCrossEntropyLoss(l, one).item<double>(), hand / 4, 1e-5);
  VERIFY_THROWS(pnetLoss("dice", zero, t), "unknown loss");
}

// ---- packages -----------------------------------------------------------------------------------

void rewrite(const fs::path& f, const std::string& from, const std::string& to)
{
  std::ifstream in(f);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  const auto pos = s.find(from);
  if (pos == std::string::npos)
    throw std::runtime_error("test setup: '" + from + "' not in " + f.string());
  s.replace(pos, from.size(), to);
  std::ofstream(f) << s;
}

void testPackage()
{
  torch::manual_seed(5);
  PNetMsaModel model{ PNetMsaSpec{} };
  ModelPackage meta = pnetMsaPackageTemplate("CT");
  meta.info.name = "PNet-MSA test";
  meta.pnet.threshold = 0.4;
  const std::string dir = g_tmp + "/pkg";
  const ModelPackage pkg = savePnetMsaPackage(dir, meta, model);
  VERIFY(pkg.isPnetMsa());
  VERIFY(pkg.info.speedClass == "fast-cpu");
  VERIFY(pkg.pnet.units == 5 && pkg.pnet.features == 64 && pkg.pnet.inputSlices == 3 && pkg.pnet.birnn);
  VERIFY_NEAR(pkg.pnet.threshold, 0.4, 0);
  VERIFY(pkg.preprocessing.normalization == "CT" && pkg.preprocessing.intensity);
  VERIFY(pkg.networkSummary().find("PNet-MSA") == 0);
  std::printf("  %s: %zu tensors, %lld bytes; %s\n", pkg.dir.c_str(), pkg.weights.size(),
              static_cast<long long>(pkg.weightsBytes), pkg.networkSummary().c_str());
  // Weights round trip bit for bit.
  PNetMsaModel back = loadPnetMsaNetwork(pkg);
  const StateDict a = stateDictOf(*model), b = stateDictOf(*back);
  VERIFY(a.size() == b.size());
  bool same = a.size() == b.size();
  for (std::size_t i = 0; same && i < a.size(); ++i)
    same = a[i].first == b[i].first && sameBits(a[i].second, b[i].second);
  VERIFY(same);
  // Metadata survives a second save over the first (replace), text identical.
  const ModelPackage again = savePnetMsaPackage(dir, pkg, back);
  VERIFY(plansJsonText(again) == plansJsonText(pkg));
  VERIFY(!fs::exists(dir + ".writing-" + std::to_string(::getpid())));

  // Broken packages: one clear line each.
  auto broken = [&](const std::string& name, const std::function<void(const fs::path&)>& edit)
  {
    const fs::path d = fs::path(g_tmp) / name;
    fs::remove_all(d);
    fs::copy(dir, d, fs::copy_options::recursive);
    edit(d);
    return d.string();
  };
  VERIFY_THROWS(loadModelPackage(broken("b1", [](const fs::path& d) { rewrite(d / "model.json", "\"pnet-msa\"", "\"unet\""); })),
                "model_type");
  VERIFY_THROWS(loadModelPackage(broken("b2", [](const fs::path& d) { rewrite(d / "plans.json", "\"pnet_msa\"", "\"pnet\""); })),
                "missing key \"pnet_msa\"");
  VERIFY_THROWS(loadModelPackage(broken("b3", [](const fs::path& d) { rewrite(d / "plans.json", "\"threshold\": 0.4", "\"threshold\": 1.5"); })),
                "threshold");
  VERIFY_THROWS(loadModelPackage(broken("b4", [](const fs::path& d) { rewrite(d / "plans.json", "\"input_slices\": 3", "\"input_slices\": 2"); })),
                "input_slices");
  const ModelPackage wrong = loadModelPackage(broken("b5", [](const fs::path& d) { rewrite(d / "plans.json", "\"features\": 64", "\"features\": 32"); }));
  VERIFY_THROWS(loadPnetMsaNetwork(wrong), "cnn.units.0.0.weight");
  VERIFY_THROWS(loadPnetMsaNetwork(loadModelPackage(broken("b6", [](const fs::path& d) { rewrite(d / "plans.json", "\"birnn\": true", "\"birnn\": false"); }))),
                "rnn.");
  // Refuses to overwrite something that is not a package.
  fs::create_directories(g_tmp + "/notapkg");
  std::ofstream(g_tmp + "/notapkg/file.txt") << "keep me";
  VERIFY_THROWS(savePnetMsaPackage(g_tmp + "/notapkg", meta, model), "not a model package");
  VERIFY(fs::exists(g_tmp + "/notapkg/file.txt"));
}

// ---- prediction through the Predictor ----------------------------------------------------------

demo::Phantom demoStudyLikePhantom(std::uint32_t seed)
{
  demo::PhantomOptions po; // the demo study's grid: 192 x 160 x 64 at 1.6 x 1.6 x 3.0 mm
  po.seed = seed;
  po.generateMr = false;
  return demo::generatePhantom(po);
}

double diceOf(const LabelMask& a, const LabelMask& b)
{
  double inter = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < a.voxels.size(); ++i)
  {
    inter += a.voxels[i] && b.voxels[i];
    na += a.voxels[i] != 0;
    nb += b.voxels[i] != 0;
  }
  return na + nb > 0 ? 2 * inter / (na + nb) : 1.0;
}

void testPredict()
{
  // A narrow network (16 channels) keeps the group within the CI time budget on 2 cores; the
  // default 64-channel one costs ~2.5 GFLOP per 96 x 80 slice (timings: panseg bench predict).
  PNetMsaSpec spec;
  spec.features = 16;
  spec.sideFeatures = 8;
  torch::manual_seed(21);
  PNetMsaModel model{ spec };
  const ModelPackage pkg = savePnetMsaPackage(g_tmp + "/pred", pnetMsaPackageTemplate("CT", spec), model);
  const demo::Phantom ph = demoStudyLikePhantom(1);
  PredictOptions opt;
  opt.device = "cpu";
  opt.keepProbabilityMap = true;
  std::vector<std::string> messages;
  opt.progress = [&](const PredictProgress& p)
  {
    messages.push_back(p.message);
    return true;
  };
  PredictEstimate est;
  opt.onEstimate = [&](const PredictEstimate& e) { est = e; };
  Predictor predictor(pkg, opt);
  VERIFY(predictor.parameterCount() == parameterCount(*model));
  VERIFY(predictor.estimateForwardPasses(ph.ct.geometry, opt) == 8); // 64 slices / 8 per call
  const PredictResult r = predictor.predict(ph.ct, opt);
  std::string why;
  VERIFY(r.mask.geometry.sameGrid(ph.ct.geometry, &why));
  VERIFY(r.mask.voxels.size() == ph.ct.voxels.size());
  VERIFY(r.foregroundProbability.geometry.sameGrid(ph.ct.geometry));
  VERIFY(r.windows == 64 && r.forwardPasses == 8 && est.forwardPasses == 8);
  VERIFY(r.numClasses == 2);
  // The mask is exactly "probability > threshold" on the input grid (ties impossible in practice).
  std::int64_t mismatch = 0;
  for (std::size_t i = 0; i < r.mask.voxels.size(); ++i)
    mismatch += (r.foregroundProbability.voxels[i] > 0.5f) != (r.mask.voxels[i] != 0);
  VERIFY(mismatch == 0);
  VERIFY(std::find_if(messages.begin(), messages.end(), [](const std::string& m)
                      { return m.find("slices") != std::string::npos; }) != messages.end());
  std::printf("  random-weight 16-channel package on phantom seed 1 (192x160x64): %.2f s (prep %.2f, net %.2f, export %.2f), "
              "%lld foreground voxels\n",
              r.seconds, r.preprocessSeconds, r.networkSeconds, r.exportSeconds,
              static_cast<long long>(r.foregroundVoxels));
  // Same package, same case: same mask (deterministic); cancel works.
  const PredictResult r2 = predictor.predict(ph.ct, opt);
  VERIFY(r2.mask.voxels == r.mask.voxels);
  PredictOptions c = opt;
  c.progress = [](const PredictProgress& p) { return p.message.find("network") == std::string::npos; };
  VERIFY_THROWS(predictor.predict(ph.ct, c), "cancelled");

  // GPU out of memory (simulated: PANSEG_TEST_FAKE_OOM=N fails calls of more than N slices until
  // the fallback): fewer slices per call, then the CPU; the same mask either way.
  for (const char* limit : { "2", "0" })
  {
    setenv("PANSEG_TEST_FAKE_OOM", limit, 1);
    std::vector<std::string> notes;
    PredictOptions o = opt;
    o.message = [&](const std::string& m) { notes.push_back(m); };
    Predictor oom(pkg, o);
    const PredictResult ro = oom.predict(ph.ct, o);
    unsetenv("PANSEG_TEST_FAKE_OOM");
    std::string all;
    for (const std::string& n : notes)
      all += n + "; ";
    std::printf("  simulated out of memory above %s slices per call: %s\n", limit, all.c_str());
    VERIFY(ro.mask.voxels == r.mask.voxels);
    VERIFY(all.find("retrying with 4 slices per call") != std::string::npos);
    VERIFY(all.find("retrying with 2 slices per call") != std::string::npos);
    VERIFY(ro.fellBackToCpu == (limit[0] == '0'));
    VERIFY((all.find("continuing on the CPU") != std::string::npos) == (limit[0] == '0'));
  }
}

// ---- a short training run ------------------------------------------------------------------------

void testTrain()
{
  const auto t0 = Clock::now();
  std::vector<PNetMsaTrainCase> cases = phantomTrainCases(2001, 5);
  std::vector<PNetMsaTrainCase> val;
  val.push_back(std::move(cases.back()));
  cases.pop_back();
  std::printf("  4 training + 1 validation phantoms generated in %.1f s\n", secondsSince(t0));
  // Sized for the 60 s budget on 2 cores: 16 channels (16x fewer FLOPs in the 64-channel convs)
  // at 6.4 mm in-plane (the 3.2 mm phantoms are resampled to 48 x 40, masks too).
  PNetMsaTrainOptions o;
  o.spec.features = 16;
  o.spec.sideFeatures = 8;
  o.spec.inPlaneSpacingYxMm = { 6.4, 6.4 };
  o.epochs = 8; // 7 CNN epochs of 20 steps, then 1 BiRNN epoch of 20 steps
  o.cnnEpochs = 7;
  o.iterationsPerEpoch = 20;
  o.batch = 4;
  o.learningRate = 3e-3;
  o.foregroundSliceFraction = 0.9;
  o.rnnSequence = 10;
  o.maxSeconds = 35;
  o.seed = 1;
  o.outputDir = g_tmp + "/trained";
  o.log = [](const std::string& s) { std::printf("  %s\n", s.c_str()); };
  const PNetMsaTrainResult r = trainPnetMsa(cases, val, o);
  std::printf("  validation Dice: untrained %.4f, CNN %.4f, CNN + BiRNN %.4f; %d + %d iterations, %.1f s\n",
              r.diceUntrained, r.diceCnn, r.diceFinal, r.cnnIterations, r.rnnIterations, r.seconds);
  VERIFY(r.diceUntrained < 0.2);
  VERIFY(r.diceFinal > 0.3);
  VERIFY(r.diceFinal > r.diceUntrained + 0.25);
  VERIFY(r.cnnLoss.size() == static_cast<std::size_t>(r.cnnIterations));
  VERIFY(!r.cnnLoss.empty() && r.cnnLoss.back() < r.cnnLoss.front());
  VERIFY(r.thresholdDice.size() == 9);
  std::string th;
  for (const auto& [t, d] : r.thresholdDice)
    th += " " + std::to_string(t).substr(0, 3) + ":" + std::to_string(d).substr(0, 5);
  std::printf("  Dice vs threshold (network grid):%s\n", th.c_str());
  const ModelPackage pkg = loadModelPackage(o.outputDir);
  VERIFY(pkg.weightsVerified); // the trained package records weights.bin's SHA-256
  VERIFY(pkg.isPnetMsa() && pkg.info.metrics.find("dice_val_network_grid"));
  // Through the Predictor on the validation phantom's own grid: Dice against its mask.
  PredictOptions po;
  po.device = "cpu";
  po.estimate = false;
  const PredictResult pr = predictCase(pkg, val[0].image, po);
  const double d = diceOf(pr.mask, val[0].mask);
  std::printf("  Predictor on the validation phantom: Dice %.4f (%.2f s); whole run %.1f s\n", d, pr.seconds,
              secondsSince(t0));
  VERIFY(pr.mask.geometry.sameGrid(val[0].image.geometry));
  VERIFY(d > 0.3);
}


// ---- checkpoints, resume and fine-tuning ---------------------------------------------------------

double maxWeightDifference(const ModelPackage& a, const ModelPackage& b)
{
  const StateDict wa = readPackageWeights(a), wb = readPackageWeights(b);
  if (wa.size() != wb.size())
    return 1e30;
  double m = 0;
  for (std::size_t i = 0; i < wa.size(); ++i)
  {
    if (wa[i].first != wb[i].first || wa[i].second.sizes() != wb[i].second.sizes())
      return 1e30;
    m = std::max(m, (wa[i].second - wb[i].second).abs().max().item<double>());
  }
  return m;
}

void testResume()
{
  std::vector<PNetMsaTrainCase> cases = phantomTrainCases(2101, 3);
  std::vector<PNetMsaTrainCase> val;
  val.push_back(std::move(cases.back()));
  cases.pop_back();
  PNetMsaTrainOptions o;
  o.spec.features = 8;
  o.spec.sideFeatures = 4;
  o.spec.inPlaneSpacingYxMm = { 6.4, 6.4 };
  o.epochs = 3; // 2 CNN epochs, then 1 BiRNN epoch
  o.iterationsPerEpoch = 4;
  o.batch = 2;
  o.rnnSequence = 6;
  o.seed = 7;

  // The uninterrupted run.
  PNetMsaTrainOptions full = o;
  full.outputDir = g_tmp + "/resume-full";
  full.checkpointDir = g_tmp + "/resume-full.ckpt";
  const PNetMsaTrainResult a = trainPnetMsa(cases, val, full);
  VERIFY(a.completed && !a.cancelled && a.cnnEpochs == 2 && a.history.size() == 3);
  VERIFY(a.history[0].stage == "cnn" && a.history[2].stage == "birnn");
  VERIFY(fs::exists(full.checkpointDir + "/" + kCheckpointFileName));

  // Cancelled after epoch 1 (inside the CNN stage: Adam's state must come back) and after epoch 2
  // (the stage boundary: the BiRNN optimizer starts fresh), then resumed: the same weights.
  for (const int cancelAfter : { 1, 2 })
  {
    PNetMsaTrainOptions part = o;
    part.outputDir = g_tmp + "/resume-part" + std::to_string(cancelAfter);
    part.checkpointDir = part.outputDir + ".ckpt";
    // Cancels at the first step after epoch `cancelAfter` (that epoch's checkpoint is written).
    part.progress = [cancelAfter](const TrainProgress& p)
    { return !(p.phase == TrainProgress::Phase::Training && p.epoch == cancelAfter); };
    const PNetMsaTrainResult b = trainPnetMsa(cases, val, part);
    VERIFY(b.cancelled && !b.completed && static_cast<int>(b.history.size()) == cancelAfter);
    VERIFY(!fs::exists(part.outputDir));
    PNetMsaTrainOptions resumed = o;
    resumed.outputDir = part.outputDir;
    resumed.checkpointDir = part.checkpointDir;
    resumed.resume = true;
    const PNetMsaTrainResult c = trainPnetMsa(cases, val, resumed);
    VERIFY(c.completed && c.startEpoch == cancelAfter && c.history.size() == 3);
    const double diff = maxWeightDifference(loadModelPackage(full.outputDir), loadModelPackage(resumed.outputDir));
    std::printf("  cancelled after epoch %d and resumed: max |weight difference| to the uninterrupted run %.3g; "
                "final Dice %.4f vs %.4f\n",
                cancelAfter, diff, c.diceFinal, a.diceFinal);
    VERIFY(diff == 0.0);
    VERIFY_NEAR(c.diceFinal, a.diceFinal, 0.0);
    VERIFY_NEAR(c.history[0].loss, a.history[0].loss, 0.0);
  }

  // A checkpoint of other settings is refused, naming the setting; the checkpoint stays.
  PNetMsaTrainOptions other = o;
  other.learningRate = 5e-3;
  other.checkpointDir = full.checkpointDir;
  other.resume = true;
  VERIFY_THROWS(trainPnetMsa(cases, val, other), "learning_rate");
  VERIFY(fs::exists(full.checkpointDir + "/" + kCheckpointFileName));

  // Fine-tuning: the base model's weights and preprocessing; its Dice is the starting point.
  PNetMsaTrainOptions ft = o;
  ft.baseModelDir = full.outputDir;
  ft.spec = PNetMsaSpec{}; // ignored: the base model's network is used
  ft.epochs = 1;
  ft.learningRate = 1e-4;
  ft.outputDir = g_tmp + "/resume-ft";
  const PNetMsaTrainResult f = trainPnetMsa(cases, val, ft);
  std::printf("  fine-tuned from the base model: starting Dice %.4f (base %.4f), final %.4f\n", f.diceUntrained,
              a.diceFinal, f.diceFinal);
  VERIFY_NEAR(f.diceUntrained, a.diceFinal, 1e-9);
  const ModelPackage fp = loadModelPackage(ft.outputDir);
  VERIFY(fp.pnet.features == 8 && fp.info.metrics.find("dice_val_base_model"));
  VERIFY(fp.info.lineage.find("base_model_id") && fp.info.lineage.find("validation_cases"));
  VERIFY(fp.preprocessing.intensity && a.package.preprocessing.intensity &&
         fp.preprocessing.intensity->mean == a.package.preprocessing.intensity->mean);
  // A missing base model is named.
  PNetMsaTrainOptions wrong = o;
  wrong.baseModelDir = g_tmp + "/no-such-model";
  VERIFY_THROWS(trainPnetMsa(cases, val, wrong), "no-such-model");
}

struct Group
{
  const char* name;
  void (*fn)();
};
} // namespace

int main(int argc, char** argv)
{
  std::vector<std::string> wanted(argv + 1, argv + argc);
  g_tmp = (fs::temp_directory_path() / ("panseg_pnet_check_" + std::to_string(::getpid()))).string();
  fs::create_directories(g_tmp);
  configureThreads(0);
  const Group groups[] = { { "network", testNetwork }, { "convlstm", testConvLstm }, { "loss", testLoss },
                           { "package", testPackage }, { "predict", testPredict }, { "train", testTrain },
                           { "resume", testResume } };
  int ran = 0;
  for (const Group& g : groups)
  {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), g.name) == wanted.end())
      continue;
    std::printf("== pnet %s\n", g.name);
    const auto t0 = Clock::now();
    try
    {
      g.fn();
    }
    catch (const std::exception& e)
    {
      ++g_failures;
      std::printf("  FAIL unexpected exception: %s\n", e.what());
    }
    std::printf("   (%.1f s)\n", secondsSince(t0));
    ++ran;
  }
  std::error_code ec;
  fs::remove_all(g_tmp, ec);
  std::printf("%d group(s), %d checks, %d failure(s)\n", ran, g_checks, g_failures);
  return g_failures == 0 && ran > 0 ? 0 : 1;
}
