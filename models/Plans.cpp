#include "models/Plans.h"

#include "core/Error.h"
#include "models/Json.h"
#include "models/Pickle.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace panseg::models
{
namespace
{
Vec3 toVec3(const std::vector<std::int64_t>& v, const std::string& context)
{
  if (v.size() != 3)
    throw Error(context + ": expected 3 values (D, H, W), found " + std::to_string(v.size()));
  return {v[0], v[1], v[2]};
}

std::vector<Vec3> toVec3List(const json::Value& v, const std::string& context)
{
  if (!v.isArray())
    throw Error(context + ": expected an array of [D, H, W] triples");
  std::vector<Vec3> out;
  for (std::size_t i = 0; i < v.array.size(); ++i)
  {
    const std::string c = context + "[" + std::to_string(i) + "]";
    out.push_back(toVec3(v.array[i].asIntVector(c), c));
  }
  return out;
}

std::string vecListJson(const std::vector<Vec3>& list)
{
  std::string s = "[";
  for (std::size_t i = 0; i < list.size(); ++i)
  {
    s += (i ? ", [" : "[") + std::to_string(list[i][0]) + ", " + std::to_string(list[i][1]) + ", " +
         std::to_string(list[i][2]) + "]";
  }
  return s + "]";
}
} // namespace

std::string toString(const Vec3& v, char sep)
{
  return std::to_string(v[0]) + sep + std::to_string(v[1]) + sep + std::to_string(v[2]);
}

bool AttentionConfig::operator==(const AttentionConfig& o) const
{
  if (enabled != o.enabled)
    return false;
  if (!enabled)
    return true;
  return dModel == o.dModel && numHeads == o.numHeads && numLayers == o.numLayers &&
         dimFeedforward == o.dimFeedforward;
}

bool PlanConfig::operator==(const PlanConfig& o) const
{
  return patchSize == o.patchSize && convKernels == o.convKernels && poolStrides == o.poolStrides &&
         baseFeatures == o.baseFeatures && maxFeatures == o.maxFeatures &&
         inputChannels == o.inputChannels && numClasses == o.numClasses && attention == o.attention;
}

PlanConfig PlanConfig::fixture()
{
  PlanConfig p;
  p.patchSize = {16, 48, 80};
  p.convKernels = {{1, 3, 3}, {1, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}};
  p.poolStrides = {{1, 2, 2}, {1, 2, 2}, {2, 2, 2}, {2, 2, 2}};
  p.baseFeatures = 8;
  p.maxFeatures = 32;
  p.inputChannels = 1;
  p.numClasses = 2;
  p.attention = {true, 96, 8, 2, 96};
  return p;
}

PlanConfig PlanConfig::paperLike()
{
  PlanConfig p;
  p.patchSize = {32, 224, 224};
  p.convKernels = {{1, 3, 3}, {1, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}};
  p.poolStrides = {{1, 2, 2}, {1, 2, 2}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}};
  p.baseFeatures = 32;
  p.maxFeatures = 320;
  p.inputChannels = 1;
  p.numClasses = 2;
  p.attention = {true, 512, 8, 8, 512};
  return p;
}

std::int64_t PlanConfig::stageChannels(std::int64_t stage) const
{
  std::int64_t c = baseFeatures;
  for (std::int64_t s = 0; s < stage && c < maxFeatures; ++s)
    c *= 2;
  return std::min(c, maxFeatures);
}

Vec3 PlanConfig::encoderStride(std::int64_t stage) const
{
  if (stage == 0)
    return {1, 1, 1};
  return poolStrides.at(static_cast<std::size_t>(stage - 1));
}

Vec3 PlanConfig::decoderKernel(std::int64_t level) const
{
  return convKernels.at(static_cast<std::size_t>(numPools() - level));
}

Vec3 PlanConfig::bottleneckGrid() const
{
  Vec3 g = patchSize;
  for (const auto& p : poolStrides)
    for (int a = 0; a < 3; ++a)
      g[static_cast<std::size_t>(a)] /= std::max<std::int64_t>(1, p[static_cast<std::size_t>(a)]);
  return g;
}

std::int64_t PlanConfig::tokenCount() const
{
  const Vec3 g = bottleneckGrid();
  return g[0] * g[1] * g[2];
}

void PlanConfig::validate() const
{
  const std::string ctx = "invalid network plan: ";
  if (poolStrides.empty())
    throw Error(ctx + "at least one down-sampling (pool_op_kernel_sizes) is required");
  if (poolStrides.size() > 12)
    throw Error(ctx + "too many down-samplings (" + std::to_string(poolStrides.size()) + ")");
  if (convKernels.size() != poolStrides.size() + 1)
    throw Error(ctx + "conv_kernel_sizes needs one entry per stage (" +
                std::to_string(poolStrides.size() + 1) + "), found " +
                std::to_string(convKernels.size()));
  for (std::size_t s = 0; s < convKernels.size(); ++s)
    for (const auto k : convKernels[s])
      if (k < 1 || k % 2 == 0 || k > 15)
        throw Error(ctx + "conv kernel of stage " + std::to_string(s) +
                    " must be odd (1 or 3), found " + toString(convKernels[s]));
  Vec3 total{1, 1, 1};
  for (std::size_t i = 0; i < poolStrides.size(); ++i)
    for (std::size_t a = 0; a < 3; ++a)
    {
      const auto p = poolStrides[i][a];
      if (p < 1 || p > 8)
        throw Error(ctx + "pool stride " + std::to_string(i) + " must be 1 or 2 per axis, found " +
                    toString(poolStrides[i]));
      total[a] *= p;
    }
  for (std::size_t a = 0; a < 3; ++a)
    if (patchSize[a] < 1 || patchSize[a] % total[a] != 0)
      throw Error(ctx + "patch " + toString(patchSize) + " is not divisible by the total pooling " +
                  toString(total));
  if (baseFeatures < 1 || maxFeatures < 1 || inputChannels < 1 || numClasses < 1)
    throw Error(ctx + "feature, channel and class counts must be positive");
  // Bounds per field, so that an absurd plan names what is wrong before anything is allocated.
  auto limit = [&](const char* field, std::int64_t value, std::int64_t max, const char* usual)
  {
    if (value > max)
      throw Error(ctx + field + " " + std::to_string(value) + " exceeds the limit of " +
                  std::to_string(max) + " (" + usual + ")");
  };
  for (std::size_t a = 0; a < 3; ++a)
    limit("patch_size", patchSize[a], PlanLimits::kMaxPatchAxis, "per axis; the paper uses 32x224x224");
  limit("base_num_features", baseFeatures, PlanLimits::kMaxBaseFeatures, "the paper uses 32");
  limit("max_num_features", maxFeatures, PlanLimits::kMaxFeatures, "the paper uses 320");
  limit("input_channels", inputChannels, PlanLimits::kMaxInputChannels, "one per modality");
  limit("num_classes", numClasses, PlanLimits::kMaxClasses, "output channels, background included");
  if (attention.enabled)
  {
    if (attention.dModel < 2 || attention.numHeads < 1 || attention.numLayers < 1 ||
        attention.dimFeedforward < 1)
      throw Error(ctx + "attention sizes must be positive");
    limit("attention.num_layers", attention.numLayers, PlanLimits::kMaxAttentionLayers, "the paper uses 8");
    limit("attention.d_model", attention.dModel, PlanLimits::kMaxDModel, "the paper uses 512");
    limit("attention.nhead", attention.numHeads, PlanLimits::kMaxHeads, "the paper uses 8");
    limit("attention.dim_feedforward", attention.dimFeedforward, PlanLimits::kMaxFeedforward,
          "the paper uses 512");
    if (attention.dModel % attention.numHeads != 0)
      throw Error(ctx + "attention d_model " + std::to_string(attention.dModel) +
                  " is not divisible by nhead " + std::to_string(attention.numHeads));
    if (attention.dModel % 2 != 0)
      throw Error(ctx + "attention d_model must be even (sinusoidal positional encoding)");
  }
  char buf[200];
  const double params = parameterCount();
  if (params > PlanLimits::kMaxParameters)
  {
    std::snprintf(buf, sizeof buf,
                  "the network would have %.3g parameters (%.1f GB of float32), above the limit of "
                  "%.3g; check base_num_features, max_num_features and attention",
                  params, params * 4 / 1e9, PlanLimits::kMaxParameters);
    throw Error(ctx + buf);
  }
  const double act = activationBytesEstimate();
  if (act > PlanLimits::kMaxActivationBytes)
  {
    std::snprintf(buf, sizeof buf,
                  "patch_size %s with %lld features at full resolution needs about %.0f GiB of "
                  "activations per forward pass, above the limit of %.0f GiB",
                  toString(patchSize).c_str(), static_cast<long long>(baseFeatures), act / (1ull << 30),
                  PlanLimits::kMaxActivationBytes / (1ull << 30));
    throw Error(ctx + buf);
  }
}

double PlanConfig::parameterCount() const
{
  auto vol = [](const Vec3& k) { return static_cast<double>(k[0]) * static_cast<double>(k[1]) * static_cast<double>(k[2]); };
  // Conv3d with bias + InstanceNorm3d (affine): in*out*k + out + 2*out.
  auto convNorm = [&](double in, double out, const Vec3& k) { return in * out * vol(k) + 3 * out; };
  const std::int64_t P = numPools();
  double n = 0;
  double in = static_cast<double>(inputChannels);
  for (std::int64_t s = 0; s <= P; ++s)
  {
    const double out = static_cast<double>(stageChannels(s));
    const Vec3& k = convKernels[static_cast<std::size_t>(s)];
    n += convNorm(in, out, k) + convNorm(out, out, k);
    in = out;
  }
  for (std::int64_t u = 0; u < P; ++u)
  {
    const std::int64_t s = P - 1 - u;
    const double deeper = static_cast<double>(stageChannels(s + 1)), here = static_cast<double>(stageChannels(s));
    const Vec3 k = decoderKernel(u);
    n += deeper * here * vol(poolStrides[static_cast<std::size_t>(s)]); // transposed conv, no bias
    n += convNorm(2 * here, here, k) + convNorm(here, here, k);
    n += here * static_cast<double>(numClasses); // 1x1x1 head, no bias
  }
  if (attention.enabled)
  {
    const double c = static_cast<double>(stageChannels(P)), d = static_cast<double>(attention.dModel),
                 f = static_cast<double>(attention.dimFeedforward);
    n += (c * d + d) + (d * c + c);                                                    // projections
    n += static_cast<double>(attention.numLayers) * (4 * (d * d + d) + (d * f + f) + (f * d + d) + 4 * d);
  }
  return n;
}

double PlanConfig::stateDictValues() const
{
  double n = parameterCount();
  if (attention.enabled)
  {
    double tokens = 1;
    const Vec3 g = bottleneckGrid();
    for (std::int64_t v : g)
      tokens *= static_cast<double>(v);
    n += tokens * static_cast<double>(attention.dModel); // pos_encode.pe
  }
  return n;
}

double PlanConfig::activationBytesEstimate() const
{
  double bytes = 0;
  Vec3 grid = patchSize;
  double fullVoxels = 1;
  for (std::int64_t v : patchSize)
    fullVoxels *= static_cast<double>(v);
  for (std::int64_t s = 0; s <= numPools(); ++s)
  {
    if (s > 0)
      for (std::size_t a = 0; a < 3; ++a)
        grid[a] /= std::max<std::int64_t>(1, poolStrides[static_cast<std::size_t>(s - 1)][a]);
    double voxels = 1;
    for (std::int64_t v : grid)
      voxels *= static_cast<double>(v);
    // conv output, norm output and the activation kept for the skip, plus the decoder's copy.
    bytes += 4.0 * 4 * static_cast<double>(stageChannels(s)) * voxels;
  }
  bytes += 4.0 * 2 * static_cast<double>(numClasses) * fullVoxels;
  if (attention.enabled)
  {
    double tokens = 1;
    for (std::int64_t v : grid)
      tokens *= static_cast<double>(v);
    bytes += 4.0 * 2 * tokens * static_cast<double>(4 * attention.dModel + attention.dimFeedforward);
  }
  return bytes;
}

std::string PlanConfig::summary() const
{
  std::ostringstream s;
  s << "patch " << toString(patchSize) << ", " << convKernels.size() << " stages (";
  for (std::size_t i = 0; i < convKernels.size(); ++i)
    s << (i ? "-" : "") << stageChannels(static_cast<std::int64_t>(i));
  s << "), in " << inputChannels << ", classes " << numClasses;
  if (attention.enabled)
    s << ", attention " << attention.dModel << "/" << attention.numHeads << "/"
      << attention.numLayers << "/" << attention.dimFeedforward << " on " << tokenCount()
      << " tokens";
  else
    s << ", no attention";
  return s.str();
}

PlanConfig PlanConfig::fromJsonText(const std::string& text, const std::string& sourceName)
{
  const json::Value root = json::parse(text, sourceName);
  if (!root.isObject())
    throw Error(sourceName + ": a plans file must be a JSON object");
  const std::string& ctx = sourceName;
  PlanConfig p;
  const json::Value* patch = root.find("patch_size");
  if (!patch)
    patch = root.find("patch_size_DHW");
  if (!patch)
    throw Error(ctx + ": missing key \"patch_size\"");
  p.patchSize = toVec3(patch->asIntVector(ctx + ": patch_size"), ctx + ": patch_size");
  const json::Value* kernels = root.find("conv_kernel_sizes");
  if (!kernels)
    kernels = root.find("conv_kernel_sizes_per_stage");
  if (!kernels)
    throw Error(ctx + ": missing key \"conv_kernel_sizes\"");
  p.convKernels = toVec3List(*kernels, ctx + ": conv_kernel_sizes");
  p.poolStrides = toVec3List(root.at("pool_op_kernel_sizes", ctx), ctx + ": pool_op_kernel_sizes");
  if (const auto* v = root.find("base_num_features"))
    p.baseFeatures = v->asInt(ctx + ": base_num_features");
  if (const auto* v = root.find("max_num_features"))
    p.maxFeatures = v->asInt(ctx + ": max_num_features");
  if (const auto* v = root.find("input_channels"))
    p.inputChannels = v->asInt(ctx + ": input_channels");
  if (const auto* v = root.find("num_classes"))
    p.numClasses = v->asInt(ctx + ": num_classes");
  if (const auto* a = root.find("attention"))
  {
    if (a->isNull() || (a->isBool() && !a->boolean))
      p.attention.enabled = false;
    else if (a->isBool())
      p.attention.enabled = true;
    else
    {
      const std::string ac = ctx + ": attention";
      if (!a->isObject())
        throw Error(ac + ": expected an object, null or a boolean");
      if (const auto* v = a->find("enabled"))
        p.attention.enabled = v->asBool(ac + ".enabled");
      if (const auto* v = a->find("d_model"))
        p.attention.dModel = v->asInt(ac + ".d_model");
      if (const auto* v = a->find("nhead"))
        p.attention.numHeads = v->asInt(ac + ".nhead");
      if (const auto* v = a->find("num_layers"))
        p.attention.numLayers = v->asInt(ac + ".num_layers");
      if (const auto* v = a->find("dim_feedforward"))
        p.attention.dimFeedforward = v->asInt(ac + ".dim_feedforward");
    }
  }
  try
  {
    p.validate();
  }
  catch (const Error& e)
  {
    throw Error(ctx + ": " + e.what());
  }
  return p;
}

PlanConfig PlanConfig::fromJsonFile(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error("cannot open plans file: " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad())
    throw Error("cannot read plans file: " + path);
  return fromJsonText(ss.str(), path);
}

std::string PlanConfig::toJson() const
{
  std::ostringstream s;
  s << "{\n"
    << "  \"format\": \"panseg-plans-1\",\n"
    << "  \"patch_size\": [" << patchSize[0] << ", " << patchSize[1] << ", " << patchSize[2]
    << "],\n"
    << "  \"conv_kernel_sizes\": " << vecListJson(convKernels) << ",\n"
    << "  \"pool_op_kernel_sizes\": " << vecListJson(poolStrides) << ",\n"
    << "  \"base_num_features\": " << baseFeatures << ",\n"
    << "  \"max_num_features\": " << maxFeatures << ",\n"
    << "  \"input_channels\": " << inputChannels << ",\n"
    << "  \"num_classes\": " << numClasses << ",\n";
  if (attention.enabled)
    s << "  \"attention\": {\"enabled\": true, \"d_model\": " << attention.dModel
      << ", \"nhead\": " << attention.numHeads << ", \"num_layers\": " << attention.numLayers
      << ", \"dim_feedforward\": " << attention.dimFeedforward << "}\n";
  else
    s << "  \"attention\": {\"enabled\": false}\n";
  s << "}\n";
  return s.str();
}

// ---------------------------------------------------------------------------------------------
// nnU-Net v1 plans pickles

namespace
{
/// Per-modality dicts in the plans are keyed by channel index 0..C-1 (OrderedDict or dict).
const pickle::Value* channelEntry(const pickle::Value& dict, std::int64_t c)
{
  return dict.get(c);
}
} // namespace

NnUNetPlans nnUNetPlansFromPickle(const pickle::Value& rootIn, int stage,
                                  const std::string& sourceName)
{
  using Kind = pickle::Value::Kind;
  const pickle::Value* root = &rootIn;
  NnUNetPlans out;
  if (!root->is(Kind::Dict))
    throw Error(sourceName + ": expected a dict at the top level, found " + root->describe());
  if (const pickle::Value* plans = root->get("plans"))
  {
    // .model.pkl: {'init': ..., 'name': ..., 'class': ..., 'plans': {...}}
    if (const pickle::Value* name = root->get("name"); name && name->is(Kind::String))
      out.trainerName = name->str;
    root = plans;
    if (!root->is(Kind::Dict))
      throw Error(sourceName + ": 'plans' is not a dict (found " + root->describe() + ")");
  }
  const std::string ctx = sourceName + ": plans";
  const pickle::Value& stages = root->at("plans_per_stage", ctx);
  if (!stages.is(Kind::Dict) || stages.dict.empty())
    throw Error(ctx + ": 'plans_per_stage' is empty or not a dict");
  std::int64_t chosen = stage;
  if (chosen < 0)
  {
    chosen = -1;
    for (const auto& kv : stages.dict)
      chosen = std::max(chosen, kv.first->asInt(ctx + ": plans_per_stage key"));
  }
  const pickle::Value* st = stages.get(chosen);
  if (!st)
    throw Error(ctx + ": no stage " + std::to_string(chosen) + " in plans_per_stage");
  out.stage = chosen;
  const std::string sctx = ctx + ".plans_per_stage[" + std::to_string(chosen) + "]";

  PlanConfig& net = out.network;
  net.patchSize =
      toVec3(st->at("patch_size", sctx).asIntList(sctx + ".patch_size"), sctx + ".patch_size");
  for (const auto& row :
       st->at("pool_op_kernel_sizes", sctx).asIntMatrix(sctx + ".pool_op_kernel_sizes"))
    net.poolStrides.push_back(toVec3(row, sctx + ".pool_op_kernel_sizes"));
  for (const auto& row : st->at("conv_kernel_sizes", sctx).asIntMatrix(sctx + ".conv_kernel_sizes"))
    net.convKernels.push_back(toVec3(row, sctx + ".conv_kernel_sizes"));
  const auto spacing = st->at("current_spacing", sctx).asDoubleList(sctx + ".current_spacing");
  if (spacing.size() != 3)
    throw Error(sctx + ".current_spacing: expected 3 values");
  out.targetSpacingMm = {spacing[0], spacing[1], spacing[2]};
  if (const auto* v = st->get("original_spacing"))
  {
    const auto o = v->asDoubleList(sctx + ".original_spacing");
    if (o.size() == 3)
      out.originalSpacingMm = {o[0], o[1], o[2]};
  }
  if (const auto* v = st->get("batch_size"))
    out.batchSize = v->asInt(sctx + ".batch_size");
  if (const auto* v = st->get("do_dummy_2D_data_aug"))
    out.doDummy2DDataAug = v->asBool(sctx + ".do_dummy_2D_data_aug");

  out.numModalities = root->at("num_modalities", ctx).asInt(ctx + ".num_modalities");
  out.numForegroundClasses = root->at("num_classes", ctx).asInt(ctx + ".num_classes");
  if (out.numModalities < 1 || out.numModalities > 64)
    throw Error(ctx + ".num_modalities: implausible value " + std::to_string(out.numModalities));
  if (out.numForegroundClasses < 1 || out.numForegroundClasses > 1000)
    throw Error(ctx + ".num_classes: implausible value " +
                std::to_string(out.numForegroundClasses));
  if (const auto* v = root->get("all_classes"); v && !v->isNone())
    out.allClasses = v->asIntList(ctx + ".all_classes");
  net.inputChannels = out.numModalities;
  net.numClasses = out.numForegroundClasses + 1;
  net.baseFeatures = 32;
  if (const auto* v = root->get("base_num_features"))
    net.baseFeatures = v->asInt(ctx + ".base_num_features");
  net.maxFeatures = 320; // nnU-Net v1 Generic_UNet.MAX_NUM_FILTERS_3D
  if (const auto* v = root->get("conv_per_stage"))
    out.convPerStage = v->asInt(ctx + ".conv_per_stage");
  if (out.convPerStage != 2)
    throw Error(ctx + ".conv_per_stage is " + std::to_string(out.convPerStage) +
                "; PanSegNet networks use 2 convolutions per stage");

  const std::int64_t C = out.numModalities;
  if (const auto* m = root->get("modalities"); m && m->is(Kind::Dict))
    for (std::int64_t c = 0; c < C; ++c)
      if (const auto* e = channelEntry(*m, c); e && e->is(Kind::String))
        out.modalities.push_back(e->str);
  const pickle::Value& norm = root->at("normalization_schemes", ctx);
  for (std::int64_t c = 0; c < C; ++c)
  {
    const auto* e = channelEntry(norm, c);
    if (!e)
      throw Error(ctx + ".normalization_schemes: no entry for channel " + std::to_string(c));
    out.normalizationSchemes.push_back(e->asString(ctx + ".normalization_schemes"));
  }
  if (const auto* m = root->get("use_mask_for_norm"); m && m->is(Kind::Dict))
    for (std::int64_t c = 0; c < C; ++c)
    {
      const auto* e = channelEntry(*m, c);
      out.useMaskForNorm.push_back(e ? e->asBool(ctx + ".use_mask_for_norm") : false);
    }
  else
    out.useMaskForNorm.assign(static_cast<std::size_t>(C), false);

  if (const auto* dp = root->get("dataset_properties"); dp && dp->is(Kind::Dict))
  {
    const auto* ip = dp->get("intensityproperties");
    if (ip && ip->is(Kind::Dict))
    {
      for (std::int64_t c = 0; c < C; ++c)
      {
        const auto* e = channelEntry(*ip, c);
        if (!e || !e->is(Kind::Dict))
        {
          out.intensityProperties.emplace_back(std::nullopt);
          continue;
        }
        const std::string ictx =
            ctx + ".dataset_properties.intensityproperties[" + std::to_string(c) + "]";
        IntensityProperties p;
        p.mean = e->at("mean", ictx).asDouble(ictx + ".mean");
        p.sd = e->at("sd", ictx).asDouble(ictx + ".sd");
        p.percentile00_5 = e->at("percentile_00_5", ictx).asDouble(ictx + ".percentile_00_5");
        p.percentile99_5 = e->at("percentile_99_5", ictx).asDouble(ictx + ".percentile_99_5");
        if (const auto* v = e->get("median"))
          p.median = v->asDouble(ictx + ".median");
        if (const auto* v = e->get("mn"))
          p.min = v->asDouble(ictx + ".mn");
        if (const auto* v = e->get("mx"))
          p.max = v->asDouble(ictx + ".mx");
        out.intensityProperties.emplace_back(p);
      }
    }
  }
  for (std::int64_t c = 0; c < C; ++c)
    if (out.normalizationSchemes[static_cast<std::size_t>(c)] == "CT" &&
        (out.intensityProperties.size() <= static_cast<std::size_t>(c) ||
         !out.intensityProperties[static_cast<std::size_t>(c)]))
      throw Error(ctx + ": channel " + std::to_string(c) +
                  " uses CT normalisation but the plans carry no intensity properties for it");

  auto axes = [&](const char* key, std::array<std::int64_t, 3>& dst)
  {
    if (const auto* v = root->get(key); v && !v->isNone())
    {
      const auto a = v->asIntList(ctx + "." + key);
      if (a.size() != 3)
        throw Error(ctx + "." + key + ": expected 3 axes");
      std::array<bool, 3> seen{false, false, false};
      for (std::size_t i = 0; i < 3; ++i)
      {
        if (a[i] < 0 || a[i] > 2 || seen[static_cast<std::size_t>(a[i])])
          throw Error(ctx + "." + key + ": not a permutation of (0, 1, 2)");
        seen[static_cast<std::size_t>(a[i])] = true;
        dst[i] = a[i];
      }
    }
  };
  axes("transpose_forward", out.transposeForward);
  axes("transpose_backward", out.transposeBackward);
  if (const auto* v = root->get("preprocessor_name"); v && v->is(Kind::String))
    out.preprocessorName = v->str;

  try
  {
    net.validate();
  }
  catch (const Error& e)
  {
    throw Error(sourceName + ": " + e.what());
  }
  return out;
}

NnUNetPlans readNnUNetPlans(const std::string& path, int stage)
{
  const pickle::ValuePtr root = pickle::unpickleFile(path);
  return nnUNetPlansFromPickle(*root, stage, path);
}
} // namespace panseg::models
