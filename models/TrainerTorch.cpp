#include "models/TrainerTorch.h"

#include "core/AtomicFile.h"
#include "core/Error.h"
#include "core/preprocess/Resample.h"
#include "models/Json.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>

#include <unistd.h>

namespace panseg::models
{
namespace
{
std::string errnoText(int err)
{
  return std::strerror(err);
}

std::string tempSibling(const std::string& path)
{
  const std::filesystem::path p(path);
  return (p.parent_path() / (".tmp-" + std::to_string(::getpid()) + "-" + p.filename().string()))
      .string();
}

std::string shapeJson(c10::IntArrayRef shape)
{
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// Writes `chunks` to `path` through a temporary sibling and commitFile. Every write error
/// (ENOSPC, EFBIG, EIO, ...) is reported with the path and the reason; the temporary is removed.
void writeChunksAtomically(const std::string& path,
                           const std::vector<std::pair<const void*, std::size_t>>& chunks,
                           const std::string& what)
{
  const std::string tmp = tempSibling(path);
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f)
    throw Error("cannot write " + what + " " + path + ": cannot create " + tmp + ": " +
                errnoText(errno));
  int err = 0;
  for (const auto& [data, size] : chunks)
    if (size > 0 && std::fwrite(data, 1, size, f) != size)
    {
      err = errno;
      break;
    }
  if (err == 0 && std::fflush(f) != 0)
    err = errno;
  if (std::fclose(f) != 0 && err == 0)
    err = errno;
  if (err != 0)
  {
    std::remove(tmp.c_str());
    throw Error("cannot write " + what + " " + path + ": " + errnoText(err) +
                " (the previous file, if any, is unchanged)");
  }
  try
  {
    commitFile(tmp, path);
  }
  catch (const Error& e)
  {
    throw Error("cannot write " + what + " " + path + ": " + e.what() +
                " (the previous file, if any, is unchanged)");
  }
}
} // namespace

// ---------------------------------------------------------------------------------------------
// Losses

std::vector<double> deepSupervisionWeights(std::int64_t outputs)
{
  if (outputs <= 0)
    throw Error("deep supervision needs at least one output");
  if (outputs == 1)
    return {1.0};
  std::vector<double> w(static_cast<std::size_t>(outputs));
  double sum = 0.0;
  for (std::int64_t i = 0; i < outputs; ++i)
  {
    w[static_cast<std::size_t>(i)] = i == outputs - 1 ? 0.0 : 1.0 / std::pow(2.0, static_cast<double>(i));
    sum += w[static_cast<std::size_t>(i)];
  }
  for (double& x : w)
    x /= sum;
  return w;
}

torch::Tensor oneHot(const torch::Tensor& target, std::int64_t numClasses)
{
  // [B, ...] -> [B, ..., K] -> [B, K, ...]
  torch::Tensor oh = torch::one_hot(target.to(torch::kLong), numClasses).to(torch::kFloat);
  std::vector<std::int64_t> perm{0, oh.dim() - 1};
  for (std::int64_t d = 1; d < oh.dim() - 1; ++d)
    perm.push_back(d);
  return oh.permute(perm).contiguous();
}

namespace
{
struct OverlapSums
{
  torch::Tensor tp, sumP, sumG; // [K]
};

OverlapSums overlapSums(const torch::Tensor& probs, const torch::Tensor& g)
{
  if (probs.sizes() != g.sizes())
    throw Error("loss: prediction " + shapeToString(probs.sizes()) + " and target " +
                shapeToString(g.sizes()) + " differ in shape");
  std::vector<std::int64_t> axes{0};
  for (std::int64_t d = 2; d < probs.dim(); ++d)
    axes.push_back(d);
  return {(probs * g).sum(axes), probs.sum(axes), g.sum(axes)};
}
} // namespace

torch::Tensor softDiceLoss(const torch::Tensor& probs, const torch::Tensor& targetOneHot,
                           double smooth)
{
  const OverlapSums s = overlapSums(probs, targetOneHot);
  // fp = sumP - tp, fn = sumG - tp  =>  2tp + fp + fn = sumP + sumG
  const torch::Tensor dc = (2.0 * s.tp + smooth) / (s.sumP + s.sumG + smooth + 1e-8);
  return 1.0 - dc.slice(0, 1).mean();
}

torch::Tensor softJaccardLoss(const torch::Tensor& probs, const torch::Tensor& targetOneHot,
                              double smooth)
{
  const OverlapSums s = overlapSums(probs, targetOneHot);
  const torch::Tensor j = (s.tp + smooth) / (s.sumP + s.sumG - s.tp + smooth + 1e-8);
  return 1.0 - j.slice(0, 1).mean();
}

torch::Tensor crossEntropyLoss(const torch::Tensor& logits, const torch::Tensor& target)
{
  return torch::nn::functional::cross_entropy(logits, target.to(torch::kLong));
}

torch::Tensor downsampleTarget(const torch::Tensor& target, const std::vector<std::int64_t>& size)
{
  torch::Tensor t = target;
  const std::int64_t first = t.dim() - static_cast<std::int64_t>(size.size());
  for (std::size_t a = 0; a < size.size(); ++a)
  {
    const std::int64_t dim = first + static_cast<std::int64_t>(a);
    const std::int64_t nIn = t.size(dim), nOut = size[a];
    if (nIn == nOut)
      continue;
    const std::vector<std::int64_t> idx = nnunet::nearestSourceIndices(nIn, nOut);
    t = t.index_select(dim, torch::tensor(idx, torch::kLong).to(t.device()));
  }
  return t.contiguous();
}

LossValue segmentationLoss(const torch::Tensor& logitsIn, const torch::Tensor& target, LossKind kind)
{
  const torch::Tensor logits = logitsIn.to(torch::kFloat);
  const torch::Tensor probs = torch::softmax(logits, 1);
  const torch::Tensor g = oneHot(target, logits.size(1));
  LossValue v;
  v.ce = crossEntropyLoss(logits, target);
  v.overlap = kind == LossKind::JaccardCE ? softJaccardLoss(probs, g) : softDiceLoss(probs, g);
  v.total = v.ce + v.overlap;
  return v;
}

LossValue deepSupervisionLoss(const std::vector<torch::Tensor>& outputs, const torch::Tensor& target,
                              LossKind kind, const std::vector<double>& weights)
{
  if (outputs.size() != weights.size())
    throw Error("deep supervision: " + std::to_string(outputs.size()) + " outputs but " +
                std::to_string(weights.size()) + " weights");
  LossValue sum;
  for (std::size_t i = 0; i < outputs.size(); ++i)
  {
    if (weights[i] == 0.0)
      continue;
    const auto sizes = outputs[i].sizes();
    const std::vector<std::int64_t> spatial(sizes.begin() + 2, sizes.end());
    const LossValue l = segmentationLoss(outputs[i], downsampleTarget(target, spatial), kind);
    if (!sum.total.defined())
    {
      sum.total = weights[i] * l.total;
      sum.ce = weights[i] * l.ce;
      sum.overlap = weights[i] * l.overlap;
    }
    else
    {
      sum.total = sum.total + weights[i] * l.total;
      sum.ce = sum.ce + weights[i] * l.ce;
      sum.overlap = sum.overlap + weights[i] * l.overlap;
    }
  }
  if (!sum.total.defined())
    throw Error("deep supervision: every weight is 0");
  return sum;
}

// ---------------------------------------------------------------------------------------------
// Optimisation

double polyLearningRate(int epoch, int epochs, double lr0, double exponent)
{
  if (epochs <= 0)
    return lr0;
  return lr0 * std::pow(1.0 - static_cast<double>(epoch) / static_cast<double>(epochs), exponent);
}

NesterovSgd::NesterovSgd(std::vector<torch::Tensor> params, double momentum, double weightDecay)
  : params_(std::move(params)), buffers_(params_.size()), momentum_(momentum),
    weightDecay_(weightDecay)
{
}

void NesterovSgd::zeroGrad()
{
  for (auto& p : params_)
    if (p.grad().defined())
      p.mutable_grad() = torch::Tensor();
}

void NesterovSgd::step(double lr)
{
  torch::NoGradGuard noGrad;
  for (std::size_t i = 0; i < params_.size(); ++i)
  {
    torch::Tensor& p = params_[i];
    torch::Tensor d = p.grad().defined() ? p.grad() : torch::zeros_like(p);
    if (weightDecay_ != 0.0)
      d = d.add(p, weightDecay_);
    if (momentum_ != 0.0)
    {
      torch::Tensor& buf = buffers_[i];
      if (!buf.defined())
        buf = d.clone().detach();
      else
        buf.mul_(momentum_).add_(d, 1.0);
      d = d.add(buf, momentum_); // Nesterov
    }
    p.add_(d, -lr);
  }
}

bool LossScale::update(bool finite)
{
  if (!finite)
  {
    scale *= 0.5;
    goodSteps = 0;
    return false;
  }
  if (++goodSteps >= 2000)
  {
    scale *= 2.0;
    goodSteps = 0;
  }
  return true;
}

double unscaleAndClipGradients(const std::vector<torch::Tensor>& params, double scale,
                               double maxNorm)
{
  torch::NoGradGuard noGrad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined())
    {
      if (scale != 1.0)
        p.grad().mul_(1.0 / scale);
      grads.push_back(p.grad());
    }
  if (grads.empty())
    return 0.0;
  // clip_grad_norm_ (L2): total = ||(||g_i||)_i||, coefficient max / (total + 1e-6) if < 1.
  std::vector<torch::Tensor> norms;
  norms.reserve(grads.size());
  for (const auto& g : grads)
    norms.push_back(g.norm(2).to(torch::kFloat));
  const double total = torch::stack(norms).norm(2).item<double>();
  if (!std::isfinite(total))
    return total;
  const double coef = maxNorm / (total + 1e-6);
  if (maxNorm > 0.0 && coef < 1.0)
    for (auto& g : grads)
      g.mul_(coef);
  return total;
}

// ---------------------------------------------------------------------------------------------
// Files

namespace
{
constexpr char kCkptMagic[8] = {'P', 'S', 'T', 'R', 'A', 'I', 'N', '1'};
}

void writeCheckpoint(const std::string& path, const CheckpointData& data)
{
  // Layout: magic (8) | header length (8, LE) | header JSON | float32 tensors.
  std::vector<torch::Tensor> tensors;
  std::ostringstream index;
  std::int64_t offset = 0;
  auto add = [&](const std::string& group, const std::string& name, const torch::Tensor& t) {
    const torch::Tensor f = t.detach().to(torch::kCPU).to(torch::kFloat).contiguous();
    index << (tensors.empty() ? "" : ",\n") << "  {\"group\": \"" << group
          << "\", \"name\": " << json::quote(name) << ", \"shape\": " << shapeJson(f.sizes())
          << ", \"offset\": " << offset << ", \"nbytes\": " << f.numel() * 4 << "}";
    offset += f.numel() * 4;
    tensors.push_back(f);
  };
  for (const auto& [name, t] : data.weights)
    add("weights", name, t);
  for (std::size_t i = 0; i < data.momentum.size(); ++i)
    if (data.momentum[i].defined())
      add("momentum", std::to_string(i), data.momentum[i]);
  std::string header = "{\n \"state\": " + data.headerJson + ",\n \"tensors\": [\n" + index.str() +
                       "\n ],\n \"data_bytes\": " + std::to_string(offset) + "\n}\n";
  const std::uint64_t headerLen = header.size();
  std::vector<std::pair<const void*, std::size_t>> chunks;
  chunks.emplace_back(kCkptMagic, 8);
  chunks.emplace_back(&headerLen, 8);
  chunks.emplace_back(header.data(), header.size());
  for (const auto& t : tensors)
    chunks.emplace_back(t.data_ptr(), static_cast<std::size_t>(t.numel() * 4));
  writeChunksAtomically(path, chunks, "checkpoint");
}

CheckpointData readCheckpoint(const std::string& path)
{
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f)
    throw Error("cannot read checkpoint " + path + ": " + errnoText(errno));
  std::string bytes;
  char buf[1 << 16];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0)
    bytes.append(buf, n);
  std::fclose(f);
  if (bytes.size() < 16 || std::memcmp(bytes.data(), kCkptMagic, 8) != 0)
    throw Error(path + " is not a panseg-train checkpoint");
  std::uint64_t headerLen = 0;
  std::memcpy(&headerLen, bytes.data() + 8, 8);
  if (headerLen > bytes.size() - 16)
    throw Error("checkpoint " + path + " is truncated (header)");
  const std::string headerText = bytes.substr(16, headerLen);
  const json::Value header = json::parse(headerText, path);
  const std::size_t dataStart = 16 + headerLen;
  const std::int64_t dataBytes = header.at("data_bytes", path).asInt(path + ": data_bytes");
  if (static_cast<std::int64_t>(bytes.size() - dataStart) != dataBytes)
    throw Error("checkpoint " + path + " has " + std::to_string(bytes.size() - dataStart) +
                " data bytes but its header says " + std::to_string(dataBytes) +
                " (truncated or damaged)");
  CheckpointData out;
  // The "state" object is handed back as text: find its span in the header.
  const std::size_t s0 = headerText.find("\"state\": ");
  const std::size_t s1 = headerText.rfind(",\n \"tensors\": [");
  if (s0 == std::string::npos || s1 == std::string::npos || s1 < s0)
    throw Error("checkpoint " + path + ": malformed header");
  out.headerJson = headerText.substr(s0 + 9, s1 - (s0 + 9));
  const json::Value& tensors = header.at("tensors", path);
  for (std::size_t i = 0; i < tensors.array.size(); ++i)
  {
    const json::Value& t = tensors.array[i];
    const std::string ctx = path + ": tensors[" + std::to_string(i) + "]";
    const std::string& group = t.at("group", ctx).asString(ctx);
    const std::string& name = t.at("name", ctx).asString(ctx);
    const auto shape = t.at("shape", ctx).asIntVector(ctx);
    const std::int64_t off = t.at("offset", ctx).asInt(ctx);
    const std::int64_t nb = t.at("nbytes", ctx).asInt(ctx);
    std::int64_t numel = 1;
    for (const auto s : shape)
      numel *= s;
    if (nb != numel * 4 || off < 0 || off + nb > dataBytes)
      throw Error(ctx + " (" + name + ") is inconsistent with the file");
    torch::Tensor tensor = torch::empty(shape, torch::kFloat);
    std::memcpy(tensor.data_ptr(), bytes.data() + dataStart + off, static_cast<std::size_t>(nb));
    if (group == "weights")
      out.weights.emplace_back(name, tensor);
    else if (group == "momentum")
    {
      const auto k = static_cast<std::size_t>(std::stoul(name));
      if (out.momentum.size() <= k)
        out.momentum.resize(k + 1);
      out.momentum[k] = tensor;
    }
    else
      throw Error(ctx + ": unknown group '" + group + "'");
  }
  return out;
}

double maxAbsDifference(const StateDict& a, const StateDict& b)
{
  if (a.size() != b.size())
    throw Error("state dicts differ in size: " + std::to_string(a.size()) + " vs " +
                std::to_string(b.size()));
  double m = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i)
  {
    if (a[i].first != b[i].first || a[i].second.sizes() != b[i].second.sizes())
      throw Error("state dicts differ at '" + a[i].first + "' / '" + b[i].first + "'");
    const double d = (a[i].second.to(torch::kCPU).to(torch::kDouble) -
                      b[i].second.to(torch::kCPU).to(torch::kDouble))
                         .abs()
                         .max()
                         .item<double>();
    m = std::max(m, d);
  }
  return m;
}
} // namespace panseg::models
