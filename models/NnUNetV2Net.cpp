#include "models/NnUNetV2Net.h"

#include "core/Error.h"

namespace panseg::models
{
namespace
{
torch::ExpandingArray<3> arr3(const Vec3& v)
{
  return torch::ExpandingArray<3>({ v[0], v[1], v[2] });
}

bool isOne(const Vec3& v)
{
  return v[0] == 1 && v[1] == 1 && v[2] == 1;
}

/// ConvDropoutNormReLU: children `conv`, `norm` (InstanceNorm3d; weight/bias when affine).
class ConvBlockImpl : public torch::nn::Module
{
public:
  ConvBlockImpl(std::int64_t in, std::int64_t out, const Vec3& kernel, const Vec3& stride, bool bias,
                const V2NetworkSpec& s, bool nonlin)
      : eps_(s.normEps), slope_(s.negativeSlope), nonlin_(nonlin)
  {
    const Vec3 pad{ (kernel[0] - 1) / 2, (kernel[1] - 1) / 2, (kernel[2] - 1) / 2 };
    conv = register_module("conv", torch::nn::Conv3d(torch::nn::Conv3dOptions(in, out, arr3(kernel))
                                                         .stride(arr3(stride))
                                                         .padding(arr3(pad))
                                                         .bias(bias)));
    norm = register_module("norm", std::make_shared<torch::nn::Module>());
    if (s.normAffine)
    {
      weight = norm->register_parameter("weight", torch::ones({ out }));
      normBias = norm->register_parameter("bias", torch::zeros({ out }));
    }
  }
  torch::Tensor forward(const torch::Tensor& x)
  {
    torch::Tensor y = torch::instance_norm(conv->forward(x), weight, normBias, {}, {}, true, 0.1, eps_, true);
    if (!nonlin_)
      return y;
    return slope_ == 0.0 ? torch::relu(y) : torch::leaky_relu(y, slope_);
  }
  torch::nn::Conv3d conv{ nullptr };
  std::shared_ptr<torch::nn::Module> norm;
  torch::Tensor weight, normBias;

private:
  double eps_, slope_;
  bool nonlin_;
};
TORCH_MODULE(ConvBlock);

/// StackedConvBlocks: child `convs` (first one strided).
class StackedImpl : public torch::nn::Module
{
public:
  StackedImpl(std::int64_t n, std::int64_t in, std::int64_t out, const Vec3& kernel, const Vec3& stride,
              const V2NetworkSpec& s)
  {
    convs_ = register_module("convs", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < n; ++i)
    {
      blocks_.push_back(ConvBlock(i == 0 ? in : out, out, kernel, i == 0 ? stride : Vec3{ 1, 1, 1 }, s.convBias, s, true));
      convs_->push_back(blocks_.back());
    }
  }
  torch::Tensor forward(torch::Tensor x)
  {
    for (auto& b : blocks_)
      x = b->forward(x);
    return x;
  }

private:
  torch::nn::ModuleList convs_{ nullptr };
  std::vector<ConvBlock> blocks_;
};
TORCH_MODULE(Stacked);

/// PlainConvUNet encoder stage: nn.Sequential(StackedConvBlocks) -> child `0`.
class PlainStageImpl : public torch::nn::Module
{
public:
  PlainStageImpl(std::int64_t n, std::int64_t in, std::int64_t out, const Vec3& kernel, const Vec3& stride,
                 const V2NetworkSpec& s)
  {
    inner_ = register_module("0", Stacked(n, in, out, kernel, stride, s));
  }
  torch::Tensor forward(const torch::Tensor& x) { return inner_->forward(x); }

private:
  Stacked inner_{ nullptr };
};
TORCH_MODULE(PlainStage);

/// BasicBlockD: conv1 (strided, with non-linearity), conv2 (no non-linearity), skip
/// (AvgPool(stride) then 1x1x1 conv without bias + norm when the channels change), sum, non-linearity.
class BasicBlockImpl : public torch::nn::Module
{
public:
  BasicBlockImpl(std::int64_t in, std::int64_t out, const Vec3& kernel, const Vec3& stride, const V2NetworkSpec& s)
      : stride_(stride), slope_(s.negativeSlope)
  {
    conv1 = register_module("conv1", ConvBlock(in, out, kernel, stride, s.convBias, s, true));
    conv2 = register_module("conv2", ConvBlock(out, out, kernel, Vec3{ 1, 1, 1 }, s.convBias, s, false));
    pool_ = !isOne(stride);
    if (in != out)
    {
      auto skip = register_module("skip", std::make_shared<torch::nn::Module>());
      skipConv = skip->register_module(pool_ ? "1" : "0", ConvBlock(in, out, Vec3{ 1, 1, 1 }, Vec3{ 1, 1, 1 }, false, s, false));
    }
  }
  torch::Tensor forward(const torch::Tensor& x)
  {
    torch::Tensor r = x;
    if (pool_)
      r = torch::avg_pool3d(r, arr3(stride_), arr3(stride_));
    if (skipConv)
      r = skipConv->forward(r);
    torch::Tensor y = conv2->forward(conv1->forward(x));
    y = y + r;
    return slope_ == 0.0 ? torch::relu(y) : torch::leaky_relu(y, slope_);
  }
  ConvBlock conv1{ nullptr }, conv2{ nullptr }, skipConv{ nullptr };

private:
  Vec3 stride_;
  double slope_;
  bool pool_ = false;
};
TORCH_MODULE(BasicBlock);

/// StackedResidualBlocks: child `blocks`.
class ResStageImpl : public torch::nn::Module
{
public:
  ResStageImpl(std::int64_t n, std::int64_t in, std::int64_t out, const Vec3& kernel, const Vec3& stride,
               const V2NetworkSpec& s)
  {
    list_ = register_module("blocks", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < n; ++i)
    {
      blocks_.push_back(BasicBlock(i == 0 ? in : out, out, kernel, i == 0 ? stride : Vec3{ 1, 1, 1 }, s));
      list_->push_back(blocks_.back());
    }
  }
  torch::Tensor forward(torch::Tensor x)
  {
    for (auto& b : blocks_)
      x = b->forward(x);
    return x;
  }

private:
  torch::nn::ModuleList list_{ nullptr };
  std::vector<BasicBlock> blocks_;
};
TORCH_MODULE(ResStage);
} // namespace

struct V2NetImpl::Parts
{
  Stacked stem{ nullptr };
  std::vector<PlainStage> plainStages;
  std::vector<ResStage> resStages;
  std::vector<torch::nn::ConvTranspose3d> transp;
  std::vector<Stacked> decStages;
  std::vector<torch::nn::Conv3d> seg;
};

V2NetImpl::V2NetImpl(const V2NetworkSpec& spec) : spec_(spec), parts_(std::make_shared<Parts>())
{
  spec_.validate();
  const V2NetworkSpec& s = spec_;
  const auto n = static_cast<std::size_t>(s.stages());
  auto encoder = register_module("encoder", std::make_shared<torch::nn::Module>());
  std::int64_t in = s.inputChannels;
  if (s.residual())
  {
    parts_->stem = encoder->register_module("stem", Stacked(std::int64_t{ 1 }, in, s.features[0], s.kernels[0], Vec3{ 1, 1, 1 }, s));
    in = s.features[0];
  }
  auto stages = encoder->register_module("stages", torch::nn::ModuleList());
  for (std::size_t i = 0; i < n; ++i)
  {
    if (s.residual())
    {
      parts_->resStages.push_back(ResStage(s.convsPerStage[i], in, s.features[i], s.kernels[i], s.strides[i], s));
      stages->push_back(parts_->resStages.back());
    }
    else
    {
      parts_->plainStages.push_back(PlainStage(s.convsPerStage[i], in, s.features[i], s.kernels[i], s.strides[i], s));
      stages->push_back(parts_->plainStages.back());
    }
    in = s.features[i];
  }
  auto decoder = register_module("decoder", std::make_shared<torch::nn::Module>());
  auto decStages = decoder->register_module("stages", torch::nn::ModuleList());
  auto transp = decoder->register_module("transpconvs", torch::nn::ModuleList());
  auto seg = decoder->register_module("seg_layers", torch::nn::ModuleList());
  for (std::size_t u = 0; u + 1 < n; ++u)
  {
    const std::int64_t below = s.features[n - 1 - u], skip = s.features[n - 2 - u];
    const Vec3& st = s.strides[n - 1 - u];
    parts_->transp.push_back(torch::nn::ConvTranspose3d(
        torch::nn::ConvTranspose3dOptions(below, skip, arr3(st)).stride(arr3(st)).bias(s.convBias)));
    transp->push_back(parts_->transp.back());
    parts_->decStages.push_back(Stacked(s.convsPerStageDecoder[u], 2 * skip, skip, s.kernels[n - 2 - u], Vec3{ 1, 1, 1 }, s));
    decStages->push_back(parts_->decStages.back());
    parts_->seg.push_back(torch::nn::Conv3d(torch::nn::Conv3dOptions(skip, s.numClasses, 1).bias(true)));
    seg->push_back(parts_->seg.back());
  }
}

torch::Tensor V2NetImpl::forward(const torch::Tensor& input)
{
  Parts& p = *parts_;
  std::vector<torch::Tensor> skips;
  torch::Tensor x = input;
  if (spec_.residual())
  {
    x = p.stem->forward(x);
    for (auto& st : p.resStages)
    {
      x = st->forward(x);
      skips.push_back(x);
    }
  }
  else
    for (auto& st : p.plainStages)
    {
      x = st->forward(x);
      skips.push_back(x);
    }
  torch::Tensor lres = skips.back();
  const std::size_t n = skips.size();
  for (std::size_t u = 0; u + 1 < n; ++u)
  {
    torch::Tensor y = p.transp[u]->forward(lres);
    y = torch::cat({ y, skips[n - 2 - u] }, 1);
    lres = p.decStages[u]->forward(y);
  }
  return p.seg.back()->forward(lres);
}

bool isV2AliasKey(const std::string& key)
{
  return key.find(".all_modules.") != std::string::npos || key.rfind("decoder.encoder.", 0) == 0;
}

StateDict canonicalV2StateDict(const StateDict& weights)
{
  StateDict out;
  for (const auto& kv : weights)
  {
    std::string name = kv.first;
    if (name.rfind("_orig_mod.", 0) == 0)
      name = name.substr(10);
    if (name.rfind("module.", 0) == 0)
      name = name.substr(7);
    if (!isV2AliasKey(name))
      out.emplace_back(name, kv.second);
  }
  return out;
}

V2Net loadV2Network(const V2NetworkSpec& spec, const StateDict& weights, const std::string& sourceName)
{
  V2Net net(spec);
  try
  {
    loadStateDict(*net, canonicalV2StateDict(weights));
  }
  catch (const Error& e)
  {
    throw Error(sourceName + ": " + e.what());
  }
  net->eval();
  return net;
}
} // namespace panseg::models
