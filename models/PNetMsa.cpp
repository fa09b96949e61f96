#include "models/PNetMsa.h"

#include "core/Error.h"
#include "core/preprocess/Export.h"
#include "core/preprocess/Preprocess.h"
#include "models/PackageWeights.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <unistd.h>

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

/// BatchNorm2d with float buffers only (running_mean, running_var; no integer
/// num_batches_tracked, which package weights cannot hold), momentum 0.1, eps 1e-5.
class PnetBatchNormImpl : public torch::nn::Module
{
public:
  explicit PnetBatchNormImpl(std::int64_t channels)
  {
    weight = register_parameter("weight", torch::ones({ channels }));
    bias = register_parameter("bias", torch::zeros({ channels }));
    runningMean = register_buffer("running_mean", torch::zeros({ channels }));
    runningVar = register_buffer("running_var", torch::ones({ channels }));
  }
  torch::Tensor forward(const torch::Tensor& x)
  {
    return torch::batch_norm(x, weight, bias, runningMean, runningVar, is_training(), 0.1, 1e-5,
                             at::globalContext().userEnabledCuDNN());
  }
  torch::Tensor weight, bias, runningMean, runningVar;
};
TORCH_MODULE(PnetBatchNorm);
} // namespace

// ---- PNet-MSA --------------------------------------------------------------------------------

PNetMsaImpl::PNetMsaImpl(const PNetMsaSpec& spec) : spec_(spec)
{
  spec_.validate();
  auto units = register_module("units", torch::nn::ModuleList());
  auto deconvs = register_module("deconvs", torch::nn::ModuleList());
  auto sides = register_module("sides", torch::nn::ModuleList());
  const std::int64_t f = spec_.features, s = spec_.sideFeatures;
  for (std::int64_t k = 0; k < spec_.units; ++k)
  {
    torch::nn::Sequential unit;
    for (std::int64_t c = 0; c < spec_.convsPerUnit; ++c)
    {
      const std::int64_t in = (k == 0 && c == 0) ? spec_.inputSlices : f;
      unit->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, f, 3).padding(1)));
      unit->push_back(PnetBatchNorm(f));
      unit->push_back(torch::nn::ReLU());
    }
    units->push_back(unit);
    units_.push_back(unit);
    const std::int64_t scale = std::int64_t{ 1 } << k;
    torch::nn::ConvTranspose2d deconv(torch::nn::ConvTranspose2dOptions(f, s, scale).stride(scale));
    deconvs->push_back(deconv);
    deconvs_.push_back(deconv);
    torch::nn::Conv2d side(torch::nn::Conv2dOptions(s * (k + 1), 1, 3).padding(1));
    sides->push_back(side);
    sides_.push_back(side);
  }
  fuse_ = register_module("fuse", torch::nn::Conv2d(torch::nn::Conv2dOptions(spec_.units, 1, 1)));
  torch::NoGradGuard noGrad;
  fuse_->weight.fill_(1.0 / static_cast<double>(spec_.units));
  fuse_->bias.zero_();
}

PNetMsaOutputs PNetMsaImpl::forwardAll(const torch::Tensor& input)
{
  const std::int64_t div = spec_.sizeDivisor();
  if (input.dim() != 4 || input.size(1) != spec_.inputSlices || input.size(2) % div || input.size(3) % div)
    throw Error("PNet-MSA input must be [B, " + std::to_string(spec_.inputSlices) + ", H, W] with H and W " +
                "multiples of " + std::to_string(div) + ", got " + shapeToString(input.sizes()));
  PNetMsaOutputs out;
  std::vector<torch::Tensor> up;
  torch::Tensor x = input;
  for (std::int64_t k = 0; k < spec_.units; ++k)
  {
    if (k > 0)
      x = torch::max_pool2d(x, 2);
    x = units_[static_cast<std::size_t>(k)]->forward(x);
    up.push_back(torch::relu(deconvs_[static_cast<std::size_t>(k)]->forward(x)));
    out.sides.push_back(sides_[static_cast<std::size_t>(k)]->forward(torch::cat(up, 1)));
  }
  out.fused = fuse_->forward(torch::cat(out.sides, 1));
  return out;
}

torch::Tensor PNetMsaImpl::forward(const torch::Tensor& x)
{
  return forwardAll(x).fused;
}

// ---- ConvLSTM ----------------------------------------------------------------------------------

ConvLstmCellImpl::ConvLstmCellImpl(std::int64_t inputChannels, std::int64_t hiddenChannels, std::int64_t kernel)
  : hidden(hiddenChannels)
{
  gates = register_module("gates", torch::nn::Conv2d(torch::nn::Conv2dOptions(inputChannels + hiddenChannels,
                                                                              4 * hiddenChannels, kernel)
                                                         .padding(kernel / 2)));
}

std::pair<torch::Tensor, torch::Tensor> ConvLstmCellImpl::forward(const torch::Tensor& x, torch::Tensor h,
                                                                  torch::Tensor c)
{
  if (!h.defined())
    h = torch::zeros({ x.size(0), hidden, x.size(2), x.size(3) }, x.options());
  if (!c.defined())
    c = torch::zeros_like(h);
  const std::vector<torch::Tensor> g = gates->forward(torch::cat({ x, h }, 1)).chunk(4, 1);
  const torch::Tensor i = torch::sigmoid(g[0]);  // eq. 5
  const torch::Tensor f = torch::sigmoid(g[1]);  // eq. 6
  const torch::Tensor o = torch::sigmoid(g[2]);  // eq. 7
  torch::Tensor cNext = f * c + i * torch::tanh(g[3]); // eq. 8
  torch::Tensor hNext = o * torch::tanh(cNext);        // eq. 9
  return { hNext, cNext };
}

BiConvLstmImpl::BiConvLstmImpl()
{
  forwardCell = register_module("forward_cell", ConvLstmCell(1, 1, 3));
  backwardCell = register_module("backward_cell", ConvLstmCell(1, 1, 3));
  combineWeight = register_parameter("combine_weight", torch::full({ 2 }, 2.5));
  combineBias = register_parameter("combine_bias", torch::zeros({ 1 }));
  // Start near the identity: the candidate follows the probability (centre tap 4, bias -2), the
  // input and output gates open, the forget gate mostly closed; training adds the context.
  torch::NoGradGuard noGrad;
  auto init = [](ConvLstmCell& cell)
  {
    torch::Tensor w = cell->gates->weight, b = cell->gates->bias; // [4, 2, 3, 3], [4]
    w.mul_(0.25);
    w[3][0][1][1] = 4.0;
    b[0] = 2.0;  // i
    b[1] = -2.0; // f
    b[2] = 2.0;  // o
    b[3] = -2.0; // g
  };
  init(forwardCell);
  init(backwardCell);
}

torch::Tensor BiConvLstmImpl::forward(const torch::Tensor& p)
{
  const std::int64_t d = p.size(0);
  std::vector<torch::Tensor> hf(static_cast<std::size_t>(d)), hb(static_cast<std::size_t>(d));
  torch::Tensor h, c;
  for (std::int64_t t = 0; t < d; ++t)
  {
    std::tie(h, c) = forwardCell->forward(p.narrow(0, t, 1), h, c);
    hf[static_cast<std::size_t>(t)] = h;
  }
  h = torch::Tensor();
  c = torch::Tensor();
  for (std::int64_t t = d - 1; t >= 0; --t)
  {
    std::tie(h, c) = backwardCell->forward(p.narrow(0, t, 1), h, c);
    hb[static_cast<std::size_t>(t)] = h;
  }
  return combineWeight[0] * torch::cat(hf, 0) + combineWeight[1] * torch::cat(hb, 0) + combineBias;
}

PNetMsaModelImpl::PNetMsaModelImpl(const PNetMsaSpec& spec)
{
  cnn = register_module("cnn", PNetMsa(spec));
  if (spec.birnn)
    rnn = register_module("rnn", BiConvLstm());
}

// ---- losses ------------------------------------------------------------------------------------

torch::Tensor jaccardLoss(const torch::Tensor& logits, const torch::Tensor& target)
{
  const torch::Tensor p = torch::sigmoid(logits);
  const torch::Tensor inter = (p * target).sum();
  const torch::Tensor uni = p.sum() + target.sum() - inter;
  return 1.0 - (inter + 1e-6) / (uni + 1e-6);
}

torch::Tensor binaryCrossEntropyLoss(const torch::Tensor& logits, const torch::Tensor& target)
{
  return torch::binary_cross_entropy_with_logits(logits, target);
}

torch::Tensor balancedCrossEntropyLoss(const torch::Tensor& logits, const torch::Tensor& target)
{
  const double n = static_cast<double>(target.numel());
  const torch::Tensor beta = (n - target.sum()) / n; // |Y-| / |Y|
  const torch::Tensor pos = target * torch::log_sigmoid(logits);
  const torch::Tensor neg = (1.0 - target) * torch::log_sigmoid(-logits);
  return -(beta * pos + (1.0 - beta) * neg).mean();
}

torch::Tensor pnetLoss(const std::string& name, const torch::Tensor& logits, const torch::Tensor& target)
{
  if (name == "jaccard")
    return jaccardLoss(logits, target);
  if (name == "ce")
    return binaryCrossEntropyLoss(logits, target);
  if (name == "balanced-ce")
    return balancedCrossEntropyLoss(logits, target);
  throw Error("unknown loss '" + name + "' (jaccard, ce, balanced-ce)");
}

// ---- volumes -----------------------------------------------------------------------------------

torch::Tensor sliceStacks(const torch::Tensor& volume, std::int64_t k)
{
  const std::int64_t d = volume.size(0), half = (k - 1) / 2;
  std::vector<torch::Tensor> parts;
  const torch::Tensor base = torch::arange(d, torch::TensorOptions().dtype(torch::kLong).device(volume.device()));
  for (std::int64_t o = -half; o <= half; ++o)
    parts.push_back(volume.index_select(0, torch::clamp(base + o, 0, d - 1)));
  return torch::stack(parts, 1);
}

torch::Tensor padToMultiple(const torch::Tensor& x, std::int64_t divisor)
{
  const std::int64_t h = x.size(-2), w = x.size(-1);
  const std::int64_t ph = (divisor - h % divisor) % divisor, pw = (divisor - w % divisor) % divisor;
  if (ph == 0 && pw == 0)
    return x;
  return torch::constant_pad_nd(x, { 0, pw, 0, ph }, 0.0);
}

torch::Tensor pnetMsaProbabilities(PNetMsaModel& model, const torch::Tensor& volume, std::int64_t batch,
                                   bool useRnn, const std::function<bool(std::int64_t, std::int64_t)>& progress)
{
  torch::NoGradGuard noGrad;
  const PNetMsaSpec& spec = model->cnn->spec();
  const torch::Device device = model->cnn->parameters().front().device();
  const std::int64_t d = volume.size(0), h = volume.size(1), w = volume.size(2);
  const torch::Tensor stacks = sliceStacks(padToMultiple(volume, spec.sizeDivisor()), spec.inputSlices);
  torch::Tensor probs = torch::empty({ d, 1, stacks.size(2), stacks.size(3) });
  batch = std::max<std::int64_t>(1, batch);
  for (std::int64_t s = 0; s < d; s += batch)
  {
    const std::int64_t n = std::min(batch, d - s);
    probs.narrow(0, s, n).copy_(torch::sigmoid(model->cnn->forward(stacks.narrow(0, s, n).to(device))).cpu());
    if (progress && !progress(s + n, d))
      throw Error("cancelled");
  }
  if (useRnn && model->rnn)
    probs = torch::sigmoid(model->rnn->forward(probs.to(device))).cpu();
  return probs.squeeze(1).narrow(1, 0, h).narrow(2, 0, w).contiguous();
}

// ---- packages ----------------------------------------------------------------------------------

PNetMsaModel loadPnetMsaNetwork(const ModelPackage& pkg)
{
  if (!pkg.isPnetMsa())
    throw Error("model package " + pkg.dir + " is a " + pkg.info.modelType + " model, not pnet-msa");
  PNetMsaModel model(pkg.pnet);
  try
  {
    loadStateDict(*model, readPackageWeights(pkg));
  }
  catch (const Error& e)
  {
    throw Error("model package " + pkg.dir + ": " + e.what());
  }
  model->eval();
  return model;
}

ModelPackage pnetMsaPackageTemplate(const std::string& modality, const PNetMsaSpec& spec)
{
  ModelPackage pkg;
  pkg.info.modelType = "pnet-msa";
  pkg.info.name = "PNet-MSA " + modality;
  pkg.info.modality = modality;
  pkg.info.speedClass = "fast-cpu";
  pkg.info.description = "Cai et al. PNet-MSA + bidirectional ConvLSTM (2D, 3 adjacent slices); research use only.";
  pkg.pnet = spec;
  pkg.network = PlanConfig{};
  pkg.network.numClasses = 2;
  pkg.preprocessing.targetSpacingMm = { 1.0, spec.inPlaneSpacingYxMm[0], spec.inPlaneSpacingYxMm[1] };
  if (modality == "CT")
  {
    pkg.preprocessing.normalization = "CT";
    IntensityProperties ip; // generic abdominal soft tissue; trained packages store their own
    ip.mean = 80;
    ip.sd = 60;
    ip.percentile00_5 = -100;
    ip.percentile99_5 = 240;
    ip.median = 80;
    ip.min = -1000;
    ip.max = 3000;
    pkg.preprocessing.intensity = ip;
  }
  else
    pkg.preprocessing.normalization = "nonCT";
  pkg.classes = { { 0, "background" }, { 1, "pancreas" } };
  pkg.info.metrics.type = json::Value::Type::Object;
  pkg.info.lineage.type = json::Value::Type::Object;
  return pkg;
}

ModelPackage savePnetMsaPackage(const std::string& dir, ModelPackage meta, PNetMsaModel& model)
{
  meta.info.modelType = "pnet-msa";
  const PNetMsaSpec& arch = model->cnn->spec(); // the architecture is the model's; inference
  meta.pnet.units = arch.units;                 // settings (spacing, threshold) stay meta's
  meta.pnet.convsPerUnit = arch.convsPerUnit;
  meta.pnet.features = arch.features;
  meta.pnet.sideFeatures = arch.sideFeatures;
  meta.pnet.inputSlices = arch.inputSlices;
  meta.pnet.birnn = static_cast<bool>(model->rnn);
  if (meta.info.created.empty())
    meta.info.created = utcNowIso();
  if (meta.classes.empty())
    meta.classes = { { 0, "background" }, { 1, "pancreas" } };
  meta.preprocessing.targetSpacingMm = { 1.0, meta.pnet.inPlaneSpacingYxMm[0], meta.pnet.inPlaneSpacingYxMm[1] };
  std::error_code ec;
  const fs::path out = fs::absolute(dir, ec);
  if (fs::exists(out, ec) && !(fs::is_directory(out, ec) && (fs::is_empty(out, ec) || looksLikeModelPackage(out.string()))))
    throw Error("refusing to replace " + out.string() + ": it is not a model package");
  if (!out.parent_path().empty())
    fs::create_directories(out.parent_path(), ec);
  const std::string pid = std::to_string(::getpid());
  const fs::path tmp = out.string() + ".writing-" + pid, old = out.string() + ".old-" + pid;
  fs::remove_all(tmp, ec);
  if (!fs::create_directories(tmp, ec))
    throw Error("cannot create folder " + tmp.string() + ": " + ec.message());
  try
  {
    const bool training = model->is_training();
    model->eval();
    StateDict sd;
    for (const auto& kv : stateDictOf(*model))
      sd.emplace_back(kv.first, kv.second.detach().to(torch::kCPU));
    model->train(training);
    writePackageWeights(tmp.string(), sd);
    writePackageMetadata(tmp.string(), meta);
    (void)loadPnetMsaNetwork(loadModelPackage(tmp.string()));
    const bool replace = fs::exists(out, ec);
    if (replace)
    {
      fs::remove_all(old, ec);
      fs::rename(out, old, ec);
      if (ec)
        throw Error("cannot move the previous package aside: " + ec.message());
    }
    fs::rename(tmp, out, ec);
    if (ec)
    {
      std::error_code ignore;
      if (replace)
        fs::rename(old, out, ignore);
      throw Error("cannot move the package to " + out.string() + ": " + ec.message());
    }
    if (replace)
      fs::remove_all(old, ec);
  }
  catch (...)
  {
    std::error_code ignore;
    fs::remove_all(tmp, ignore);
    throw;
  }
  return loadModelPackage(out.string());
}

ModelPackage writeRandomPnetMsaPackage(const std::string& dir, const std::string& modality, std::uint64_t seed)
{
  torch::manual_seed(seed);
  PNetMsaModel model{ PNetMsaSpec{} };
  ModelPackage meta = pnetMsaPackageTemplate(modality);
  meta.info.name = "PNet-MSA random weights (benchmark)";
  meta.info.demo = true;
  meta.info.description = "Randomly initialised PNet-MSA + BiRNN: timings and plumbing only, meaningless masks.";
  return savePnetMsaPackage(dir, meta, model);
}

// ---- whole-case prediction ---------------------------------------------------------------------

PNetMsaRunner::PNetMsaRunner(const ModelPackage& pkg, torch::Device device) : pkg_(pkg), device_(device)
{
  model_ = loadPnetMsaNetwork(pkg);
  if (device_.is_cuda())
  {
    try
    {
      model_->to(device_);
    }
    catch (const c10::Error& e)
    {
      throw Error("cannot move the PNet-MSA network to " + device_.str() + ": " +
                  std::string(e.what_without_backtrace()).substr(0, 200));
    }
  }
}

std::int64_t PNetMsaRunner::parameterCount() const
{
  return models::parameterCount(*model_);
}

double PNetMsaRunner::timeBatchMs(int reps, int warmup, std::int64_t batch, std::int64_t h, std::int64_t w)
{
  const std::int64_t div = pkg_.pnet.sizeDivisor();
  h = (h + div - 1) / div * div;
  w = (w + div - 1) / div * div;
  torch::manual_seed(0);
  const torch::Tensor x = torch::randn({ batch, pkg_.pnet.inputSlices, h, w }).to(device_);
  std::vector<double> ms;
  for (int i = 0; i < warmup + std::max(1, reps); ++i)
  {
    const auto t0 = Clock::now();
    {
      c10::InferenceMode guard;
      (void)model_->cnn->forward(x).cpu();
    }
    if (i >= warmup)
      ms.push_back(secondsSince(t0) * 1e3);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

PredictResult PNetMsaRunner::predict(const Image& image, const PredictOptions& opt)
{
  const ModelPackage& pkg = pkg_;
  const auto t0 = Clock::now();
  PredictResult r;
  auto cancelled = [&] { return opt.cancel && opt.cancel->load(); };
  auto keepGoing = [&](double f, const std::string& msg, double eta = -1.0)
  { return !cancelled() && (!opt.progress || opt.progress({ std::clamp(f, 0.0, 1.0), msg, eta })); };
  auto report = [&](double f, const std::string& msg)
  {
    if (!keepGoing(f, msg))
      throw Error("cancelled");
  };
  const std::string& mod = image.info.modality;
  if (opt.message && (mod == "CT" || mod == "MR") && mod != pkg.info.modality)
    opt.message("the image is " + mod + " but the model was trained on " + pkg.info.modality);

  // 1. crop, in-plane resampling (z kept), normalisation
  report(0.0, "preprocessing");
  nnunet::PreprocessParams pp = pkg.preprocessParams(at::get_num_threads());
  const nnunet::Spacing3 sp = nnunet::spacingOf(image.geometry);
  pp.targetSpacing = { sp[0], pkg.pnet.inPlaneSpacingYxMm[0], pkg.pnet.inPlaneSpacingYxMm[1] };
  pp.progress = [&](double f) { return keepGoing(0.05 * f, "preprocessing"); };
  nnunet::Preprocessed pre = nnunet::preprocess(image, pp);
  r.preprocessSeconds = secondsSince(t0);
  const std::int64_t d = pre.shape[0], h = pre.shape[1], w = pre.shape[2];
  const std::int64_t batch = opt.maxBatch > 0 ? opt.maxBatch : pkg.pnet.sliceBatch;
  r.windows = d;
  r.forwardPasses = (d + batch - 1) / batch;

  if (opt.estimate)
  {
    report(0.05, "timing one forward pass");
    PredictEstimate est;
    est.forwardPasses = r.forwardPasses;
    est.windows = r.windows;
    est.secondsPerPass = timeBatchMs(1, 0, std::min(batch, d), h, w) / 1e3;
    est.seconds = static_cast<double>(r.forwardPasses) * est.secondsPerPass * 1.1 + 2.0 * r.preprocessSeconds;
    est.device = device_.str();
    if (opt.onEstimate)
      opt.onEstimate(est);
  }

  // 2. CNN over slice stacks, then the BiRNN over the sequence
  const auto tNet = Clock::now();
  const torch::Tensor vol = torch::from_blob(pre.data.data(), { d, h, w }, torch::kFloat);
  const torch::Tensor probs = pnetMsaProbabilities(
      model_, vol, batch, true,
      [&](std::int64_t done, std::int64_t total)
      {
        const double f = static_cast<double>(done) / static_cast<double>(total);
        const double elapsed = secondsSince(tNet);
        return keepGoing(0.06 + 0.85 * f,
                         "network: " + std::to_string(done) + " of " + std::to_string(total) + " slices",
                         f > 0 ? elapsed * (1.0 - f) / f + r.preprocessSeconds : -1.0);
      });
  r.networkSeconds = secondsSince(tNet);

  // 3. export: channel 0 = the threshold everywhere, channel 1 = p, so the export's resampling +
  //    argmax (ties to background) gives exactly "interpolated p > threshold" on the input's grid.
  report(0.95, "exporting");
  const auto tExp = Clock::now();
  const std::int64_t n = d * h * w;
  const float* p = probs.data_ptr<float>();
  std::vector<float> two(static_cast<std::size_t>(2 * n));
  std::fill(two.begin(), two.begin() + n, static_cast<float>(pkg.pnet.threshold));
  std::copy(p, p + n, two.begin() + n);
  nnunet::ExportOptions eo;
  eo.anisotropyThreshold = pkg.preprocessing.anisotropyThreshold;
  eo.threads = at::get_num_threads();
  const nnunet::ExportGeometry eg = nnunet::exportGeometryOf(pre);
  if (opt.keepProbabilityMap)
  {
    const std::vector<float> atCrop = nnunet::probabilitiesToCroppedShape(two, 2, pre.shape, eg, eo);
    const std::int64_t cropVox = nnunet::voxelCount(eg.croppedShape);
    r.mask = nnunet::pasteIntoOriginal(nnunet::argmaxChannels(atCrop.data(), 2, cropVox), eg);
    r.foregroundProbability = Image(eg.originalGeometry, 0.0f);
    r.foregroundProbability.info.modality.clear();
    const nnunet::Shape3 os = nnunet::shapeOf(eg.originalGeometry), cs = eg.croppedShape;
    for (std::int64_t z = 0; z < cs[0]; ++z)
      for (std::int64_t y = 0; y < cs[1]; ++y)
        for (std::int64_t x = 0; x < cs[2]; ++x)
        {
          const std::int64_t zz = z + eg.crop.start[0], yy = y + eg.crop.start[1], xx = x + eg.crop.start[2];
          if (zz < os[0] && yy < os[1] && xx < os[2])
            r.foregroundProbability.voxels[static_cast<std::size_t>((zz * os[1] + yy) * os[2] + xx)] =
                atCrop[static_cast<std::size_t>(cropVox + (z * cs[1] + y) * cs[2] + x)];
        }
  }
  else
    r.mask = nnunet::exportSegmentation(two, 2, pre.shape, eg, eo);
  if (opt.largestComponent > 0 || (opt.largestComponent < 0 && !pkg.preprocessing.largestComponentLabels.empty()))
    r.largestComponentRemoved += nnunet::keepLargestComponent(r.mask, 1);
  r.exportSeconds = secondsSince(tExp);

  r.numClasses = 2;
  if (opt.keepProbabilities)
  {
    r.probabilities.assign(static_cast<std::size_t>(2 * n), 0.0f);
    for (std::int64_t i = 0; i < n; ++i)
    {
      r.probabilities[static_cast<std::size_t>(i)] = 1.0f - p[i];
      r.probabilities[static_cast<std::size_t>(n + i)] = p[i];
    }
    r.probabilityShape = pre.shape;
  }
  r.foregroundVoxels = r.mask.countLabel(0);
  r.volumeMl = r.mask.volumeMl(0);
  r.device = device_.str();
  r.finalBatch = batch;
  r.seconds = secondsSince(t0);
  report(1.0, "done");
  return r;
}
} // namespace panseg::models
