#include "models/PanSegNet.h"

#include "core/Error.h"
#include "models/Doctor.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <cmath>
#include <thread>

namespace panseg::models
{
namespace
{
using torch::indexing::None;
using torch::indexing::Slice;

torch::ExpandingArray<3> arr3(const Vec3& v)
{
  return torch::ExpandingArray<3>({v[0], v[1], v[2]});
}

/// nnU-Net: padding 1 on axes with kernel 3, 0 with kernel 1 (generally (k - 1) / 2).
Vec3 samePadding(const Vec3& k)
{
  return {(k[0] - 1) / 2, (k[1] - 1) / 2, (k[2] - 1) / 2};
}

std::string shapeString(const torch::Tensor& t)
{
  std::string s = "[";
  for (std::int64_t i = 0; i < t.dim(); ++i)
    s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

/// nnU-Net v1 InitWeights_He(1e-2): kaiming-normal (leaky slope 0.01) on conv and transposed
/// conv weights, zero conv biases.
void heInit(torch::Tensor& weight, torch::Tensor* bias)
{
  torch::NoGradGuard noGrad;
  torch::nn::init::kaiming_normal_(weight, 0.01, torch::kFanIn, torch::kLeakyReLU);
  if (bias && bias->defined())
    bias->zero_();
}
} // namespace

// ---------------------------------------------------------------------------------------------

InstanceNorm3dImpl::InstanceNorm3dImpl(std::int64_t channels, double eps) : eps_(eps)
{
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
}

torch::Tensor InstanceNorm3dImpl::forward(const torch::Tensor& x)
{
  // Always per-instance statistics (no running stats), biased variance, as in PyTorch.
  return torch::instance_norm(x, weight, bias, /*running_mean=*/{}, /*running_var=*/{},
                              /*use_input_stats=*/true, /*momentum=*/0.1, eps_,
                              /*cudnn_enabled=*/true);
}

ConvNormReluImpl::ConvNormReluImpl(std::int64_t in, std::int64_t out, const Vec3& kernel,
                                   const Vec3& stride)
{
  conv = register_module("conv", torch::nn::Conv3d(torch::nn::Conv3dOptions(in, out, arr3(kernel))
                                                       .stride(arr3(stride))
                                                       .padding(arr3(samePadding(kernel)))
                                                       .bias(true)));
  instnorm = register_module("instnorm", InstanceNorm3d(out, 1e-5));
  heInit(conv->weight, &conv->bias);
}

torch::Tensor ConvNormReluImpl::forward(const torch::Tensor& x)
{
  return torch::leaky_relu(instnorm->forward(conv->forward(x)), 0.01);
}

StackedConvImpl::StackedConvImpl(std::int64_t in, std::int64_t out, const Vec3& kernel,
                                 const Vec3& firstStride, int numConvs)
{
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int i = 0; i < numConvs; ++i)
  {
    ConvNormRelu block(i == 0 ? in : out, out, kernel, i == 0 ? firstStride : Vec3{1, 1, 1});
    blocks_->push_back(block);
    typed_.push_back(block);
  }
}

torch::Tensor StackedConvImpl::forward(torch::Tensor x)
{
  for (auto& b : typed_)
    x = b->forward(x);
  return x;
}

// ---------------------------------------------------------------------------------------------

LinearMultiHeadAttentionImpl::LinearMultiHeadAttentionImpl(std::int64_t dModel,
                                                           std::int64_t numHeads)
    : numHeads_(numHeads), dHead_(dModel / numHeads)
{
  linears_ = register_module("linears", torch::nn::ModuleList());
  for (int i = 0; i < 4; ++i)
  {
    torch::nn::Linear l(torch::nn::LinearOptions(dModel, dModel).bias(true));
    linears_->push_back(l);
    typed_.push_back(l);
  }
}

torch::Tensor LinearMultiHeadAttentionImpl::forward(const torch::Tensor& tokens)
{
  const auto B = tokens.size(0), L = tokens.size(1), D = tokens.size(2);
  auto heads = [&](const torch::Tensor& t) {
    return t.view({B, L, numHeads_, dHead_}).transpose(1, 2);
  };
  // [B, h, L, dk]
  const torch::Tensor q =
      heads(typed_[0]->forward(tokens)).softmax(-1) / std::sqrt(static_cast<double>(dHead_));
  const torch::Tensor k = heads(typed_[1]->forward(tokens)).softmax(-2);
  const torch::Tensor v = heads(typed_[2]->forward(tokens));
  const torch::Tensor context = torch::matmul(k.transpose(-2, -1), v); // [B, h, dk, dk]
  const torch::Tensor out = torch::matmul(q, context);                 // [B, h, L, dk]
  return typed_[3]->forward(out.transpose(1, 2).reshape({B, L, D}));
}

TransformerLayerImpl::TransformerLayerImpl(std::int64_t dModel, std::int64_t numHeads,
                                           std::int64_t dimFeedforward)
{
  self_attn = register_module("self_attn", LinearMultiHeadAttention(dModel, numHeads));
  linear1 = register_module("linear1", torch::nn::Linear(dModel, dimFeedforward));
  linear2 = register_module("linear2", torch::nn::Linear(dimFeedforward, dModel));
  layer_norm1 = register_module(
      "layer_norm1", torch::nn::LayerNorm(
                         torch::nn::LayerNormOptions({dModel}).eps(1e-6).elementwise_affine(true)));
  layer_norm2 = register_module(
      "layer_norm2", torch::nn::LayerNorm(
                         torch::nn::LayerNormOptions({dModel}).eps(1e-6).elementwise_affine(true)));
}

torch::Tensor TransformerLayerImpl::forward(const torch::Tensor& tokens)
{
  // Post-norm; the training-time dropouts are identities at inference.
  torch::Tensor t = layer_norm1->forward(tokens + self_attn->forward(tokens));
  const torch::Tensor ff = linear2->forward(torch::gelu(linear1->forward(t))); // exact (erf) GELU
  return layer_norm2->forward(t + ff);
}

torch::Tensor sinusoidalPositionalEncoding(std::int64_t tokens, std::int64_t dModel)
{
  const torch::Tensor position = torch::arange(tokens, torch::kFloat).unsqueeze(1);
  const torch::Tensor frequency = torch::exp(torch::arange(0, dModel, 2, torch::kFloat) *
                                             (-std::log(10000.0) / static_cast<double>(dModel)));
  torch::Tensor pe = torch::zeros({tokens, dModel});
  pe.index_put_({Slice(), Slice(0, None, 2)}, torch::sin(position * frequency));
  pe.index_put_({Slice(), Slice(1, None, 2)}, torch::cos(position * frequency));
  return pe.unsqueeze(0);
}

SelfAttention3DImpl::SelfAttention3DImpl(std::int64_t inChannels, const AttentionConfig& cfg,
                                         std::int64_t tokens)
{
  linear_proj = register_module("linear_proj", torch::nn::Linear(inChannels, cfg.dModel));
  linear_back_proj = register_module("linear_back_proj", torch::nn::Linear(cfg.dModel, inChannels));
  auto posEncode = std::make_shared<torch::nn::Module>();
  pe_ = posEncode->register_buffer("pe", sinusoidalPositionalEncoding(tokens, cfg.dModel));
  register_module("pos_encode", posEncode);
  auto transformer = std::make_shared<torch::nn::Module>();
  auto layers = transformer->register_module("layers", torch::nn::ModuleList());
  for (std::int64_t j = 0; j < cfg.numLayers; ++j)
  {
    TransformerLayer layer(cfg.dModel, cfg.numHeads, cfg.dimFeedforward);
    layers->push_back(layer);
    layers_.push_back(layer);
  }
  register_module("transformer", transformer);
}

torch::Tensor SelfAttention3DImpl::forward(const torch::Tensor& x, ForwardTrace* trace)
{
  const auto B = x.size(0), C = x.size(1);
  const auto L = x.size(2) * x.size(3) * x.size(4);
  if (L != pe_.size(1))
    throw Error("attention block expects " + std::to_string(pe_.size(1)) +
                " bottleneck tokens, got " + std::to_string(L) + " (input " + shapeString(x) + ")");
  torch::Tensor t = x.flatten(2).transpose(1, 2); // [B, L, C], token = (d * H' + h) * W' + w
  t = linear_proj->forward(t) + pe_;
  if (trace)
    trace->attentionTokens = t;
  for (auto& layer : layers_)
  {
    t = layer->forward(t);
    if (trace)
      trace->attentionLayers.push_back(t);
  }
  t = linear_back_proj->forward(t);
  torch::Tensor y = t.transpose(1, 2).reshape({B, C, x.size(2), x.size(3), x.size(4)});
  if (trace)
    trace->attentionOut = y;
  return y;
}

// ---------------------------------------------------------------------------------------------

PanSegNetImpl::PanSegNetImpl(const PlanConfig& plan) : plan_(plan)
{
  plan_.validate();
  const std::int64_t P = plan_.numPools();
  // Registration order reproduces the Python state_dict order (spec §1.7).
  conv_blocks_localization = register_module("conv_blocks_localization", torch::nn::ModuleList());
  conv_blocks_context = register_module("conv_blocks_context", torch::nn::ModuleList());
  tu = register_module("tu", torch::nn::ModuleList());
  seg_outputs = register_module("seg_outputs", torch::nn::ModuleList());

  std::int64_t in = plan_.inputChannels;
  for (std::int64_t s = 0; s < P; ++s)
  {
    const std::int64_t out = plan_.stageChannels(s);
    StackedConv stage(in, out, plan_.convKernels[static_cast<std::size_t>(s)],
                      plan_.encoderStride(s), 2);
    conv_blocks_context->push_back(stage);
    encoder_.push_back(stage);
    in = out;
  }
  {
    const std::int64_t out = plan_.stageChannels(P);
    const Vec3& k = plan_.convKernels[static_cast<std::size_t>(P)];
    torch::nn::ModuleList bottleneck;
    StackedConv first(in, out, k, plan_.encoderStride(P), 1);
    StackedConv second(out, out, k, Vec3{1, 1, 1}, 1);
    bottleneck->push_back(first);
    bottleneck->push_back(second);
    bottleneck_ = {first, second};
    conv_blocks_context->push_back(bottleneck);
  }
  for (std::int64_t u = 0; u < P; ++u)
  {
    const std::int64_t s = P - 1 - u; // encoder stage whose resolution this level works at
    const std::int64_t deeper = plan_.stageChannels(s + 1), here = plan_.stageChannels(s);
    const Vec3& pool = plan_.poolStrides[static_cast<std::size_t>(s)];
    torch::nn::ConvTranspose3d up(
        torch::nn::ConvTranspose3dOptions(deeper, here, arr3(pool)).stride(arr3(pool)).bias(false));
    heInit(up->weight, nullptr);
    tu->push_back(up);
    upsample_.push_back(up);

    const Vec3 k = plan_.decoderKernel(u);
    torch::nn::ModuleList level;
    StackedConv a(2 * here, here, k, Vec3{1, 1, 1}, 1);
    StackedConv b(here, here, k, Vec3{1, 1, 1}, 1);
    level->push_back(a);
    level->push_back(b);
    conv_blocks_localization->push_back(level);
    localization_.push_back({a, b});

    torch::nn::Conv3d head(torch::nn::Conv3dOptions(here, plan_.numClasses, 1).bias(false));
    heInit(head->weight, nullptr);
    seg_outputs->push_back(head);
    heads_.push_back(head);
  }
  if (plan_.attention.enabled)
    self_atten = register_module(
        "self_atten", SelfAttention3D(plan_.stageChannels(P), plan_.attention, plan_.tokenCount()));
}

void PanSegNetImpl::checkInput(const torch::Tensor& x) const
{
  if (!x.defined() || x.dim() != 5)
    throw Error("PanSegNet input must be a 5-D tensor [N, C, D, H, W], got " +
                (x.defined() ? shapeString(x) : std::string("an undefined tensor")));
  if (x.size(1) != plan_.inputChannels)
    throw Error("PanSegNet input has " + std::to_string(x.size(1)) +
                " channels, the plan expects " + std::to_string(plan_.inputChannels));
  Vec3 total{1, 1, 1};
  for (const auto& p : plan_.poolStrides)
    for (std::size_t a = 0; a < 3; ++a)
      total[a] *= p[a];
  const Vec3 size{x.size(2), x.size(3), x.size(4)};
  if (plan_.attention.enabled && size != plan_.patchSize)
    throw Error("PanSegNet with attention only accepts its plan's patch " +
                toString(plan_.patchSize) + ", got " + toString(size));
  for (std::size_t a = 0; a < 3; ++a)
    if (size[a] < 1 || size[a] % total[a] != 0)
      throw Error("PanSegNet input size " + toString(size) +
                  " is not divisible by the total pooling " + toString(total));
}

std::vector<torch::Tensor> PanSegNetImpl::run(const torch::Tensor& input, bool allHeads,
                                              ForwardTrace* trace)
{
  checkInput(input);
  const std::int64_t P = plan_.numPools();
  std::vector<torch::Tensor> skips;
  torch::Tensor x = input;
  for (std::int64_t s = 0; s < P; ++s)
  {
    x = encoder_[static_cast<std::size_t>(s)]->forward(x);
    skips.push_back(x);
    if (trace)
      trace->encoder.push_back(x);
  }
  x = bottleneck_[1]->forward(bottleneck_[0]->forward(x));
  if (trace)
    trace->encoder.push_back(x);
  if (self_atten)
    x = self_atten->forward(x, trace);

  std::vector<torch::Tensor> heads; // level order, 0 = deepest
  for (std::int64_t u = 0; u < P; ++u)
  {
    const auto uu = static_cast<std::size_t>(u);
    x = upsample_[uu]->forward(x);
    if (trace)
      trace->upsampled.push_back(x);
    x = torch::cat({x, skips[static_cast<std::size_t>(P - 1 - u)]}, 1);
    x = localization_[uu][1]->forward(localization_[uu][0]->forward(x));
    if (trace)
      trace->decoder.push_back(x);
    if (allHeads || u == P - 1)
      heads.push_back(heads_[uu]->forward(x));
  }
  return {heads.rbegin(), heads.rend()}; // highest resolution first
}

torch::Tensor PanSegNetImpl::forward(const torch::Tensor& x)
{
  return run(x, false, nullptr).front();
}

std::vector<torch::Tensor> PanSegNetImpl::forwardDeepSupervision(const torch::Tensor& x)
{
  return run(x, true, nullptr);
}

std::vector<torch::Tensor> PanSegNetImpl::forwardTraced(const torch::Tensor& x, ForwardTrace& trace)
{
  trace = ForwardTrace{};
  return run(x, true, &trace);
}

std::int64_t parameterCount(const torch::nn::Module& module)
{
  std::int64_t n = 0;
  for (const auto& p : module.parameters(true))
    if (p.defined())
      n += p.numel();
  return n;
}

// ---------------------------------------------------------------------------------------------

int configureThreads(int n)
{
  if (n <= 0)
    n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
  return at::get_num_threads();
}

torch::Device parseDevice(const std::string& name)
{
  if (name == "cpu")
    return torch::Device(torch::kCPU);
  if (name == "cuda" || name.rfind("cuda:", 0) == 0)
  {
    if (!torch::cuda::is_available())
      throw Error("device '" + name + "' requested but CUDA is not available: " + cudaUnavailableReason(name));
    try
    {
      torch::Device d(name);
      if (d.has_index() && d.index() >= static_cast<int>(torch::cuda::device_count()))
        throw Error("device '" + name + "' does not exist (" +
                    std::to_string(torch::cuda::device_count()) + " GPUs)");
      return d;
    }
    catch (const c10::Error&)
    {
      throw Error("malformed device name '" + name + "'");
    }
  }
  throw Error("unknown device '" + name + "' (use cpu, cuda or cuda:N)");
}

CudaAutocast::CudaAutocast(bool enable) : active_(enable)
{
  if (!active_)
    return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  previous_ = at::autocast::is_autocast_enabled(at::kCUDA);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
  previous_ = at::autocast::is_enabled();
  at::autocast::set_enabled(true);
#endif
  at::autocast::increment_nesting();
}

CudaAutocast::~CudaAutocast()
{
  if (!active_)
    return;
  if (at::autocast::decrement_nesting() == 0)
    at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::autocast::set_autocast_enabled(at::kCUDA, previous_);
#else
  at::autocast::set_enabled(previous_);
#endif
}

void setCudaTf32(bool allow)
{
  at::globalContext().setAllowTF32CuDNN(allow);
  at::globalContext().setAllowTF32CuBLAS(allow);
}
} // namespace panseg::models
