#include "models/NnUNetV2.h"

#include "core/Error.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

namespace fs = std::filesystem;

namespace panseg::models
{
namespace
{
Vec3 vec3Of(const json::Value& v, const std::string& context)
{
  const std::vector<std::int64_t> x = v.asIntVector(context);
  if (x.size() == 2)
    throw Error(context + ": a 2-D configuration (nnU-Net v2 '2d') is not supported; use 3d_fullres");
  if (x.size() != 3)
    throw Error(context + ": expected 3 values, found " + std::to_string(x.size()));
  return { x[0], x[1], x[2] };
}

std::vector<Vec3> vec3List(const json::Value& v, const std::string& context)
{
  if (!v.isArray())
    throw Error(context + ": expected an array");
  std::vector<Vec3> out;
  for (std::size_t i = 0; i < v.array.size(); ++i)
    out.push_back(vec3Of(v.array[i], context + "[" + std::to_string(i) + "]"));
  return out;
}

std::string lastComponent(const std::string& dotted)
{
  const auto p = dotted.rfind('.');
  return p == std::string::npos ? dotted : dotted.substr(p + 1);
}

/// A configuration with "inherits_from" resolved (child keys win).
json::Value resolvedConfiguration(const json::Value& configurations, const std::string& name,
                                  const std::string& context, int depth = 0)
{
  if (depth > 8)
    throw Error(context + ": configurations inherit in a cycle");
  const json::Value* c = configurations.find(name);
  if (!c || !c->isObject())
  {
    std::string known;
    for (const auto& kv : configurations.object)
      known += (known.empty() ? "" : ", ") + kv.first;
    throw Error(context + ": no configuration '" + name + "' (the plans have: " + known + ")");
  }
  const json::Value* parent = c->find("inherits_from");
  if (!parent)
    return *c;
  json::Value merged = resolvedConfiguration(configurations, parent->asString(context + ".inherits_from"),
                                             context, depth + 1);
  for (const auto& kv : c->object)
  {
    auto it = std::find_if(merged.object.begin(), merged.object.end(),
                           [&](const auto& m) { return m.first == kv.first; });
    if (it != merged.object.end())
      it->second = kv.second;
    else
      merged.object.push_back(kv);
  }
  return merged;
}

int forceSeparateZOf(const json::Value& kwargs, const std::string& context)
{
  const json::Value* f = kwargs.find("force_separate_z");
  if (!f || f->isNull())
    return -1;
  return f->asBool(context + ".force_separate_z") ? 1 : 0;
}

void readResampling(const json::Value& config, const std::string& fnKey, const std::string& kwKey,
                    int& order, int& orderZ, int& force, const std::string& context)
{
  const json::Value* fn = config.find(fnKey);
  if (fn)
  {
    const std::string name = fn->asString(context + "." + fnKey);
    if (name != "resample_data_or_seg_to_shape" && name != "resample_data_or_seg_to_spacing")
      throw Error(context + "." + fnKey + ": resampling function '" + name +
                  "' is not supported (only nnU-Net's default resample_data_or_seg_to_shape)");
  }
  if (const json::Value* kw = config.find(kwKey))
  {
    if (const json::Value* o = kw->find("order"))
      order = static_cast<int>(o->asInt(context + "." + kwKey + ".order"));
    if (const json::Value* o = kw->find("order_z"))
      orderZ = static_cast<int>(o->asInt(context + "." + kwKey + ".order_z"));
    force = forceSeparateZOf(*kw, context + "." + kwKey);
  }
  if (order != 0 && order != 1 && order != 3)
    throw Error(context + "." + kwKey + ".order " + std::to_string(order) + " is not supported (0, 1 or 3)");
  if (orderZ != 0 && orderZ != 1)
    throw Error(context + "." + kwKey + ".order_z " + std::to_string(orderZ) + " is not supported (0 or 1)");
}
} // namespace

// ---- network spec -----------------------------------------------------------------------------------

V2NetworkSpec V2NetworkSpec::fromArchitecture(const json::Value& arch, std::int64_t inputChannels,
                                              std::int64_t numClasses, const Vec3& patch,
                                              const std::string& context)
{
  V2NetworkSpec s;
  const std::string cls = arch.at("network_class_name", context).asString(context + ".network_class_name");
  s.architecture = lastComponent(cls);
  if (s.architecture != "PlainConvUNet" && s.architecture != "ResidualEncoderUNet")
    throw Error(context + ".network_class_name: network class '" + cls +
                "' is not supported (PlainConvUNet and ResidualEncoderUNet are)");
  const std::string kc = context + ".arch_kwargs";
  const json::Value& kw = arch.at("arch_kwargs", context);
  const std::int64_t nStages = kw.at("n_stages", kc).asInt(kc + ".n_stages");
  if (nStages < 2 || nStages > 12)
    throw Error(kc + ".n_stages " + std::to_string(nStages) + " is outside 2..12");
  const std::string convOp = kw.at("conv_op", kc).asString(kc + ".conv_op");
  if (lastComponent(convOp) == "Conv2d")
    throw Error(kc + ".conv_op: a 2-D network (" + convOp + ") is not supported; use the 3d_fullres configuration");
  if (lastComponent(convOp) != "Conv3d")
    throw Error(kc + ".conv_op '" + convOp + "' is not supported (Conv3d is)");
  const json::Value& f = kw.at("features_per_stage", kc);
  if (f.isNumber())
    throw Error(kc + ".features_per_stage: a single number is not supported, expected a list");
  s.features = f.asIntVector(kc + ".features_per_stage");
  s.kernels = vec3List(kw.at("kernel_sizes", kc), kc + ".kernel_sizes");
  s.strides = vec3List(kw.at("strides", kc), kc + ".strides");
  const char* perStageKey = s.residual() ? "n_blocks_per_stage" : "n_conv_per_stage";
  const json::Value& ps = kw.at(perStageKey, kc);
  s.convsPerStage = ps.isNumber() ? std::vector<std::int64_t>(static_cast<std::size_t>(nStages), ps.asInt(kc))
                                  : ps.asIntVector(kc + "." + perStageKey);
  const json::Value& pd = kw.at("n_conv_per_stage_decoder", kc);
  s.convsPerStageDecoder = pd.isNumber()
                               ? std::vector<std::int64_t>(static_cast<std::size_t>(nStages - 1), pd.asInt(kc))
                               : pd.asIntVector(kc + ".n_conv_per_stage_decoder");
  const auto n = static_cast<std::size_t>(nStages);
  if (s.features.size() != n || s.kernels.size() != n || s.strides.size() != n || s.convsPerStage.size() != n)
    throw Error(kc + ": features_per_stage, kernel_sizes, strides and " + perStageKey + " must have n_stages (" +
                std::to_string(nStages) + ") entries");
  if (s.convsPerStageDecoder.size() != n - 1)
    throw Error(kc + ".n_conv_per_stage_decoder must have n_stages - 1 entries");
  if (const json::Value* b = kw.find("conv_bias"))
    s.convBias = b->asBool(kc + ".conv_bias");
  const json::Value& norm = kw.at("norm_op", kc);
  const std::string normOp = norm.isNull() ? std::string("None") : norm.asString(kc + ".norm_op");
  if (lastComponent(normOp) != "InstanceNorm3d")
    throw Error(kc + ".norm_op '" + normOp + "' is not supported (InstanceNorm3d is)");
  if (const json::Value* nk = kw.find("norm_op_kwargs"); nk && nk->isObject())
  {
    if (const json::Value* e = nk->find("eps"))
      s.normEps = e->asNumber(kc + ".norm_op_kwargs.eps");
    if (const json::Value* a = nk->find("affine"))
      s.normAffine = a->asBool(kc + ".norm_op_kwargs.affine");
  }
  const json::Value& nl = kw.at("nonlin", kc);
  const std::string nonlin = nl.isNull() ? std::string("None") : nl.asString(kc + ".nonlin");
  if (lastComponent(nonlin) == "LeakyReLU")
  {
    s.negativeSlope = 0.01;
    if (const json::Value* nk = kw.find("nonlin_kwargs"); nk && nk->isObject())
      if (const json::Value* ns = nk->find("negative_slope"))
        s.negativeSlope = ns->asNumber(kc + ".nonlin_kwargs.negative_slope");
  }
  else if (lastComponent(nonlin) == "ReLU")
    s.negativeSlope = 0.0;
  else
    throw Error(kc + ".nonlin '" + nonlin + "' is not supported (LeakyReLU and ReLU are)");
  for (const char* unsupported : { "block", "bottleneck_channels", "stem_channels" })
    if (const json::Value* v = kw.find(unsupported); v && !v->isNull())
    {
      if (std::string(unsupported) == "block" && lastComponent(v->asString(kc + ".block")) == "BasicBlockD")
        continue;
      if (std::string(unsupported) == "stem_channels" && v->isNumber() && v->asInt(kc) == s.features[0])
        continue;
      throw Error(kc + "." + unsupported + " is not supported");
    }
  s.inputChannels = inputChannels;
  s.numClasses = numClasses;
  s.patchSize = patch;
  s.validate();
  return s;
}

double V2NetworkSpec::parameterCount() const
{
  auto conv = [&](double in, double out, const Vec3& k, bool bias)
  { return in * out * static_cast<double>(k[0] * k[1] * k[2]) + (bias ? out : 0.0); };
  const double normP = normAffine ? 2.0 : 0.0;
  double total = 0.0;
  const std::int64_t n = stages();
  double in = static_cast<double>(inputChannels);
  if (residual())
  {
    total += conv(in, static_cast<double>(features[0]), kernels[0], convBias) + normP * static_cast<double>(features[0]);
    in = static_cast<double>(features[0]);
  }
  for (std::int64_t s = 0; s < n; ++s)
  {
    const auto out = static_cast<double>(features[static_cast<std::size_t>(s)]);
    const Vec3& k = kernels[static_cast<std::size_t>(s)];
    const Vec3& st = strides[static_cast<std::size_t>(s)];
    for (std::int64_t b = 0; b < convsPerStage[static_cast<std::size_t>(s)]; ++b)
    {
      const double cin = b == 0 ? in : out;
      if (residual())
      {
        total += conv(cin, out, k, convBias) + normP * out + conv(out, out, k, convBias) + normP * out;
        const bool strided = b == 0 && (st[0] != 1 || st[1] != 1 || st[2] != 1);
        (void)strided;
        if (b == 0 && cin != out)
          total += conv(cin, out, { 1, 1, 1 }, false) + normP * out;
      }
      else
        total += conv(cin, out, k, convBias) + normP * out;
    }
    in = out;
  }
  for (std::int64_t s = 0; s + 1 < n; ++s)
  {
    const auto below = static_cast<double>(features[static_cast<std::size_t>(n - 1 - s)]);
    const auto skip = static_cast<double>(features[static_cast<std::size_t>(n - 2 - s)]);
    total += conv(below, skip, strides[static_cast<std::size_t>(n - 1 - s)], convBias);
    for (std::int64_t c = 0; c < convsPerStageDecoder[static_cast<std::size_t>(s)]; ++c)
      total += conv(c == 0 ? 2 * skip : skip, skip, kernels[static_cast<std::size_t>(n - 2 - s)], convBias) +
               normP * skip;
    total += conv(skip, static_cast<double>(numClasses), { 1, 1, 1 }, true);
  }
  return total;
}

void V2NetworkSpec::validate() const
{
  const std::string c = "nnU-Net v2 network";
  for (std::size_t i = 0; i < features.size(); ++i)
    if (features[i] < 1 || features[i] > PlanLimits::kMaxFeatures)
      throw Error(c + ": features_per_stage[" + std::to_string(i) + "] " + std::to_string(features[i]) +
                  " is outside 1.." + std::to_string(PlanLimits::kMaxFeatures));
  for (std::size_t i = 0; i < kernels.size(); ++i)
    for (int a = 0; a < 3; ++a)
    {
      const std::int64_t k = kernels[i][static_cast<std::size_t>(a)];
      const std::int64_t st = strides[i][static_cast<std::size_t>(a)];
      if (k < 1 || k > 7 || k % 2 == 0)
        throw Error(c + ": kernel_sizes[" + std::to_string(i) + "] must be odd and 1..7");
      if (st < 1 || st > 4)
        throw Error(c + ": strides[" + std::to_string(i) + "] must be 1..4");
    }
  for (std::size_t i = 0; i < convsPerStage.size(); ++i)
    if (convsPerStage[i] < 1 || convsPerStage[i] > 32)
      throw Error(c + ": convolutions / blocks per stage [" + std::to_string(i) + "] must be 1..32");
  for (std::size_t i = 0; i < convsPerStageDecoder.size(); ++i)
    if (convsPerStageDecoder[i] < 1 || convsPerStageDecoder[i] > 32)
      throw Error(c + ": n_conv_per_stage_decoder[" + std::to_string(i) + "] must be 1..32");
  if (inputChannels < 1 || inputChannels > PlanLimits::kMaxInputChannels)
    throw Error(c + ": input channels " + std::to_string(inputChannels) + " outside 1.." +
                std::to_string(PlanLimits::kMaxInputChannels));
  if (numClasses < 2 || numClasses > PlanLimits::kMaxClasses)
    throw Error(c + ": classes " + std::to_string(numClasses) + " outside 2.." + std::to_string(PlanLimits::kMaxClasses));
  for (int a = 0; a < 3; ++a)
  {
    const std::int64_t p = patchSize[static_cast<std::size_t>(a)];
    if (p < 1 || p > PlanLimits::kMaxPatchAxis)
      throw Error(c + ": patch_size must be 1.." + std::to_string(PlanLimits::kMaxPatchAxis) + " per axis");
    std::int64_t div = 1;
    for (const Vec3& st : strides)
      div *= st[static_cast<std::size_t>(a)];
    if (p % div != 0)
      throw Error(c + ": patch_size " + toString(patchSize) + " is not divisible by the product of the strides");
  }
  if (parameterCount() > PlanLimits::kMaxParameters)
    throw Error(c + ": " + std::to_string(parameterCount()) + " parameters exceed the limit");
}

std::string V2NetworkSpec::summary() const
{
  std::ostringstream s;
  s << architecture << ", patch " << toString(patchSize) << ", " << features.size() << " stages (";
  for (std::size_t i = 0; i < features.size(); ++i)
    s << (i ? "-" : "") << features[i];
  s << ")";
  return s.str();
}

// ---- plans -----------------------------------------------------------------------------------------

V2ModelSpec v2SpecFromPlans(const json::Value& plans, const json::Value& dataset, const std::string& configuration,
                            const std::string& plansSource, const std::string& datasetSource)
{
  V2ModelSpec m;
  m.configuration = configuration;
  m.plansJson = plans;
  m.datasetJson = dataset;
  const std::string pc = plansSource;
  if (const json::Value* v = plans.find("plans_name"))
    m.plansName = v->asString(pc + ": plans_name");
  if (const json::Value* v = plans.find("dataset_name"))
    m.datasetName = v->asString(pc + ": dataset_name");
  if (configuration == "3d_cascade_fullres" || configuration == "3d_lowres")
    throw Error(pc + ": configuration '" + configuration +
                "' belongs to a cascade, which is not supported (use 3d_fullres)");
  const std::string cc = pc + ": configurations." + configuration;
  const json::Value config = resolvedConfiguration(plans.at("configurations", pc), configuration, pc);
  if (const json::Value* prev = config.find("previous_stage"); prev && !prev->isNull())
    throw Error(cc + ".previous_stage: cascade configurations are not supported (use 3d_fullres)");
  const json::Value& patchJ = config.at("patch_size", cc);
  const Vec3 patch = vec3Of(patchJ, cc + ".patch_size");
  const json::Value& spacingJ = config.at("spacing", cc);
  const std::vector<double> spacing = spacingJ.asNumberVector(cc + ".spacing");
  if (spacing.size() != 3)
    throw Error(cc + ".spacing: a 2-D configuration is not supported; use 3d_fullres");

  // Labels: dataset.json "labels" {name: value}; regions are refused.
  const std::string dc = datasetSource;
  if (dataset.find("regions_class_order"))
    throw Error(dc + ": region-based labels (regions_class_order) are not supported");
  const json::Value& labels = dataset.at("labels", dc);
  if (!labels.isObject())
    throw Error(dc + ": labels must be an object {name: value}");
  for (const auto& kv : labels.object)
  {
    if (!kv.second.isNumber())
      throw Error(dc + ": labels." + kv.first + " is a region (a list of values), which is not supported");
    m.labels.emplace_back(static_cast<int>(kv.second.asInt(dc + ": labels." + kv.first)), kv.first);
  }
  std::sort(m.labels.begin(), m.labels.end());
  if (m.labels.empty() || m.labels.front().first != 0)
    throw Error(dc + ": labels must include background = 0");
  for (std::size_t i = 0; i < m.labels.size(); ++i)
    if (m.labels[i].first != static_cast<int>(i))
      throw Error(dc + ": label values must be 0, 1, 2, ... without gaps (found " +
                  std::to_string(m.labels[i].first) + " for '" + m.labels[i].second + "')");
  if (m.labels.size() > 255)
    throw Error(dc + ": more than 255 labels are not supported");
  const json::Value* channels = dataset.find("channel_names");
  if (!channels)
    channels = dataset.find("modality");
  if (!channels || !channels->isObject() || channels->object.empty())
    throw Error(dc + ": missing channel_names");
  for (const auto& kv : channels->object)
    m.channelNames.push_back(kv.second.asString(dc + ": channel_names." + kv.first));
  if (m.channelNames.size() != 1)
    throw Error(dc + ": " + std::to_string(m.channelNames.size()) +
                " input channels; only single-channel models are supported");

  m.network = V2NetworkSpec::fromArchitecture(config.at("architecture", cc), 1,
                                              static_cast<std::int64_t>(m.labels.size()), patch,
                                              cc + ".architecture");

  nnunet::v2::Params& p = m.params;
  m.readerWriter = plans.find("image_reader_writer") ? plans.at("image_reader_writer", pc).asString(pc) : "SimpleITKIO";
  if (m.readerWriter == "NibabelIOWithReorient")
    p.reorientToRas = true;
  else if (m.readerWriter != "NibabelIO" && m.readerWriter != "SimpleITKIO")
    throw Error(pc + ": image_reader_writer '" + m.readerWriter +
                "' is not supported (SimpleITKIO, NibabelIO, NibabelIOWithReorient are)");
  for (const char* key : { "transpose_forward", "transpose_backward" })
  {
    const std::vector<std::int64_t> t = plans.at(key, pc).asIntVector(pc + ": " + key);
    if (t.size() != 3)
      throw Error(pc + ": " + key + " must have 3 entries");
    std::array<int, 3>& dst = std::string(key) == "transpose_forward" ? p.transposeForward : p.transposeBackward;
    for (int a = 0; a < 3; ++a)
    {
      if (t[static_cast<std::size_t>(a)] < 0 || t[static_cast<std::size_t>(a)] > 2)
        throw Error(pc + ": " + key + " is not a permutation of 0, 1, 2");
      dst[static_cast<std::size_t>(a)] = static_cast<int>(t[static_cast<std::size_t>(a)]);
    }
  }
  for (int a = 0; a < 3; ++a)
    if (p.transposeBackward[static_cast<std::size_t>(p.transposeForward[static_cast<std::size_t>(a)])] != a)
      throw Error(pc + ": transpose_backward is not the inverse of transpose_forward");
  p.targetSpacing = { spacing[0], spacing[1], spacing[2] };
  for (double s : spacing)
    if (!(s > 0.0))
      throw Error(cc + ".spacing must be positive");
  const std::vector<std::string> norms = [&]
  {
    std::vector<std::string> out;
    const json::Value& n = config.at("normalization_schemes", cc);
    for (std::size_t i = 0; i < n.array.size(); ++i)
      out.push_back(n.array[i].asString(cc + ".normalization_schemes"));
    return out;
  }();
  if (norms.size() != 1)
    throw Error(cc + ".normalization_schemes: expected one scheme (single-channel models)");
  try
  {
    p.normalization = nnunet::v2::normalizationFromName(norms[0]);
  }
  catch (const Error& e)
  {
    throw Error(cc + ".normalization_schemes: " + e.what());
  }
  if (const json::Value* u = config.find("use_mask_for_norm"))
    if (u->isArray() && !u->array.empty())
      p.useMaskForNorm = u->array[0].asBool(cc + ".use_mask_for_norm");
  if (p.normalization == nnunet::v2::Normalization::CT)
  {
    const std::string ic = pc + ": foreground_intensity_properties_per_channel";
    const json::Value& props = plans.at("foreground_intensity_properties_per_channel", pc);
    const json::Value* c0 = props.find("0");
    if (!c0)
      throw Error(ic + ": missing channel \"0\" (required by CTNormalization)");
    p.intensity.mean = c0->at("mean", ic).asNumber(ic + ".0.mean");
    p.intensity.std = c0->at("std", ic).asNumber(ic + ".0.std");
    p.intensity.percentile00_5 = c0->at("percentile_00_5", ic).asNumber(ic + ".0.percentile_00_5");
    p.intensity.percentile99_5 = c0->at("percentile_99_5", ic).asNumber(ic + ".0.percentile_99_5");
    if (!(p.intensity.percentile00_5 <= p.intensity.percentile99_5))
      throw Error(ic + ".0: percentile_00_5 exceeds percentile_99_5");
  }
  readResampling(config, "resampling_fn_data", "resampling_fn_data_kwargs", p.dataOrder, p.dataOrderZ,
                 p.dataForceSeparateZ, cc);
  readResampling(config, "resampling_fn_probabilities", "resampling_fn_probabilities_kwargs", p.probOrder,
                 p.probOrderZ, p.probForceSeparateZ, cc);
  return m;
}

bool looksLikeNnUNetV2Result(const std::string& dir)
{
  std::error_code ec;
  return fs::is_regular_file(fs::path(dir) / "plans.json", ec) && fs::is_regular_file(fs::path(dir) / "dataset.json", ec);
}

V2ModelSpec readV2ResultFolder(const std::string& resultDir, std::string configuration)
{
  const fs::path dir(resultDir);
  if (!fs::is_directory(dir))
    throw Error("not a folder: " + resultDir);
  for (const char* f : { "plans.json", "dataset.json" })
    if (!fs::is_regular_file(dir / f))
      throw Error("not an nnU-Net v2 result folder (no " + std::string(f) + "): " + resultDir);
  if (configuration.empty())
  {
    const std::string name = fs::absolute(dir).lexically_normal().filename().string().empty()
                                 ? fs::absolute(dir).lexically_normal().parent_path().filename().string()
                                 : fs::absolute(dir).lexically_normal().filename().string();
    const auto p = name.rfind("__");
    configuration = p == std::string::npos ? std::string("3d_fullres") : name.substr(p + 2);
  }
  const std::string plansPath = (dir / "plans.json").string(), datasetPath = (dir / "dataset.json").string();
  V2ModelSpec m = v2SpecFromPlans(json::parseFile(plansPath), json::parseFile(datasetPath), configuration,
                                  plansPath, datasetPath);
  const std::string name = fs::absolute(dir).lexically_normal().filename().string();
  const auto p = name.find("__");
  m.trainerName = p == std::string::npos ? std::string() : name.substr(0, p);
  return m;
}

std::vector<std::string> v2FoldsIn(const std::string& resultDir, const std::string& checkpointName)
{
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(resultDir, ec))
  {
    const std::string n = e.path().filename().string();
    if (e.is_directory() && n.rfind("fold_", 0) == 0 && fs::is_regular_file(e.path() / checkpointName))
      out.push_back(n.substr(5));
  }
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b)
            {
              const bool na = !a.empty() && std::all_of(a.begin(), a.end(), ::isdigit);
              const bool nb = !b.empty() && std::all_of(b.begin(), b.end(), ::isdigit);
              if (na && nb)
                return std::stoll(a) < std::stoll(b);
              return na != nb ? na : a < b;
            });
  return out;
}
} // namespace panseg::models
