#include "models/ModelPackage.h"
#include "models/Guidance.h"
#include "models/ModelCard.h"

#include "core/AtomicFile.h"
#include "core/Error.h"
#include "models/Sha256.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace panseg::models
{
namespace
{
const char* const kSupportedTypes =
    "(expected \"pansegnet\", \"pansegnet-clicks\", \"pnet-msa\" or \"nnunetv2\")";

bool supportedModelType(const std::string& t)
{
  return t == "pansegnet" || t == guidance::kModelType || t == "pnet-msa" || t == "nnunetv2";
}
const char* kPlansFormat = "panseg-plans-1";
const char* kModelFormat = "panseg-model-1";
const char* kPnetPlansFormat = "panseg-pnet-msa-plans-1";
const char* kV2PlansFormat = "panseg-nnunetv2-plans-1";

/// plans.json of an "nnunetv2" package: nnU-Net's plans.json and dataset.json verbatim plus the
/// configuration, trainer, folds and inference settings (docs/nnunet-models.md).
void readV2Plans(const json::Value& plans, ModelPackage& pkg)
{
  const std::string c = "plans.json";
  if (!plans.isObject())
    throw Error(c + ": expected a JSON object");
  const std::string format = plans.at("format", c).asString(c + ": format");
  if (format != kV2PlansFormat)
    throw Error(c + ": unknown format \"" + format + "\" (expected " + kV2PlansFormat + ")");
  V2ModelSpec v = v2SpecFromPlans(plans.at("nnunet_plans", c), plans.at("dataset_json", c),
                                  plans.at("configuration", c).asString(c + ": configuration"),
                                  "plans.json: nnunet_plans", "plans.json: dataset_json");
  if (const auto* t = plans.find("trainer"))
    v.trainerName = t->asString(c + ": trainer");
  for (std::int64_t f : plans.at("folds", c).asIntVector(c + ": folds"))
    v.folds.push_back(static_cast<int>(f));
  if (const auto* inf = plans.find("inference"))
  {
    if (const auto* m = inf->find("mirror_axes"))
    {
      v.mirrorAxes.clear();
      for (std::int64_t a : m->asIntVector(c + ": inference.mirror_axes"))
      {
        if (a < 0 || a > 2)
          throw Error(c + ": inference.mirror_axes: axis " + std::to_string(a) + " is not 0, 1 or 2");
        v.mirrorAxes.push_back(static_cast<int>(a));
      }
    }
    if (const auto* st = inf->find("step_size"))
      v.stepSize = st->asNumber(c + ": inference.step_size");
  }
  pkg.network = PlanConfig{};
  pkg.network.attention.enabled = false;
  pkg.network.patchSize = v.network.patchSize;
  pkg.network.numClasses = v.network.numClasses;
  pkg.network.inputChannels = 1;
  pkg.preprocessing.stepSize = v.stepSize;
  pkg.preprocessing.mirrorAxes = { false, false, false };
  for (int a : v.mirrorAxes)
    pkg.preprocessing.mirrorAxes[static_cast<std::size_t>(a)] = true;
  pkg.preprocessing.targetSpacingMm = v.params.targetSpacing;
  pkg.classes.clear();
  for (const auto& [value, name] : v.labels)
    pkg.classes.push_back({ value, name });
  pkg.v2 = std::move(v);
}

std::string readText(const std::string& path, const std::string& what)
{
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(what + " missing: " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad())
    throw Error("cannot read " + what + ": " + path);
  return ss.str();
}

std::string number(double v) { return shortestNumber(v); }

template <typename T, std::size_t N> std::string array(const std::array<T, N>& a)
{
  std::string s = "[";
  for (std::size_t i = 0; i < N; ++i)
    s += (i ? ", " : "") + number(static_cast<double>(a[i]));
  return s + "]";
}

std::array<double, 3> spacing3(const json::Value& v, const std::string& ctx)
{
  const std::vector<double> d = v.asNumberVector(ctx);
  if (d.size() != 3)
    throw Error(ctx + ": expected 3 values (z, y, x), found " + std::to_string(d.size()));
  for (double x : d)
    if (!(x > 0) || !std::isfinite(x))
      throw Error(ctx + ": spacings must be positive, found " + number(x));
  return { d[0], d[1], d[2] };
}

std::array<std::int64_t, 3> int3(const json::Value& v, const std::string& ctx)
{
  const std::vector<std::int64_t> d = v.asIntVector(ctx);
  if (d.size() != 3)
    throw Error(ctx + ": expected 3 values, found " + std::to_string(d.size()));
  return { d[0], d[1], d[2] };
}

IntensityProperties intensityFrom(const json::Value& v, const std::string& ctx)
{
  if (!v.isObject())
    throw Error(ctx + ": expected an object with mean, sd, percentile_00_5, percentile_99_5");
  IntensityProperties p;
  p.mean = v.at("mean", ctx).asNumber(ctx + ".mean");
  p.sd = v.at("sd", ctx).asNumber(ctx + ".sd");
  p.percentile00_5 = v.at("percentile_00_5", ctx).asNumber(ctx + ".percentile_00_5");
  p.percentile99_5 = v.at("percentile_99_5", ctx).asNumber(ctx + ".percentile_99_5");
  if (const auto* m = v.find("median"))
    p.median = m->asNumber(ctx + ".median");
  if (const auto* m = v.find("mn"))
    p.min = m->asNumber(ctx + ".mn");
  if (const auto* m = v.find("mx"))
    p.max = m->asNumber(ctx + ".mx");
  return p;
}

std::string modalityFromPlans(const std::vector<std::string>& modalities)
{
  if (modalities.empty())
    return "";
  std::string m = modalities.front();
  std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return std::toupper(c); });
  if (m == "CT")
    return "CT";
  if (m.rfind("MR", 0) == 0 || m.find("T1") != std::string::npos || m.find("T2") != std::string::npos)
    return "MR";
  return modalities.front();
}

std::vector<ClassInfo> defaultClasses(std::int64_t k)
{
  std::vector<ClassInfo> out;
  for (std::int64_t c = 0; c < k; ++c)
    out.push_back({ static_cast<int>(c), c == 0 ? "background" : (k == 2 ? "pancreas" : "class " + std::to_string(c)) });
  return out;
}

} // namespace

std::string toJsonText(const json::Value& v, int indent)
{
  const std::string pad(static_cast<std::size_t>(indent + 2), ' ');
  const std::string end(static_cast<std::size_t>(indent), ' ');
  switch (v.type)
  {
  case json::Value::Type::Null:
    return "null";
  case json::Value::Type::Bool:
    return v.boolean ? "true" : "false";
  case json::Value::Type::Number:
    return number(v.number);
  case json::Value::Type::String:
    return json::quote(v.string);
  case json::Value::Type::Array:
  {
    if (v.array.empty())
      return "[]";
    std::string s = "[";
    for (std::size_t i = 0; i < v.array.size(); ++i)
      s += (i ? ", " : "") + toJsonText(v.array[i], indent);
    return s + "]";
  }
  case json::Value::Type::Object:
  {
    if (v.object.empty())
      return "{}";
    std::string s = "{\n";
    for (std::size_t i = 0; i < v.object.size(); ++i)
      s += pad + json::quote(v.object[i].first) + ": " + toJsonText(v.object[i].second, indent + 2) +
           (i + 1 < v.object.size() ? ",\n" : "\n");
    return s + end + "}";
  }
  }
  return "null";
}

std::string PNetMsaSpec::summary() const
{
  return "PNet-MSA " + std::to_string(units) + " units x " + std::to_string(convsPerUnit) + " convs, " +
         std::to_string(features) + " ch, " + std::to_string(inputSlices) + " slices, " +
         (birnn ? "BiRNN" : "no BiRNN");
}

void PNetMsaSpec::validate() const
{
  if (units < 1 || units > 6)
    throw Error("plans.json: pnet_msa.units must be 1..6, found " + std::to_string(units));
  if (convsPerUnit < 1 || convsPerUnit > 8)
    throw Error("plans.json: pnet_msa.convs_per_unit must be 1..8, found " + std::to_string(convsPerUnit));
  if (features < 1 || features > 512 || sideFeatures < 1 || sideFeatures > 512)
    throw Error("plans.json: pnet_msa.features and side_features must be 1..512");
  if (inputSlices > 31)
    throw Error("plans.json: pnet_msa.input_slices " + std::to_string(inputSlices) + " exceeds the limit of 31");
  if (sliceBatch > 1024)
    throw Error("plans.json: inference.slice_batch " + std::to_string(sliceBatch) + " exceeds the limit of 1024");
  if (inputSlices < 1 || inputSlices % 2 == 0)
    throw Error("plans.json: pnet_msa.input_slices must be odd and positive, found " +
                std::to_string(inputSlices));
  for (double s : inPlaneSpacingYxMm)
    if (!(s > 0) || !std::isfinite(s))
      throw Error("plans.json: preprocessing.in_plane_spacing_yx_mm must be positive");
  if (!(threshold > 0 && threshold < 1))
    throw Error("plans.json: inference.threshold must be in (0, 1), found " + number(threshold));
  if (sliceBatch < 1)
    throw Error("plans.json: inference.slice_batch must be positive");
}

std::string ModelPackage::networkSummary() const
{
  if (isNnUNetV2())
    return v2.network.summary();
  return isPnetMsa() ? pnet.summary() : network.summary();
}

std::string ModelPackage::id() const
{
  return info.name + " " + info.version;
}

nnunet::PreprocessParams ModelPackage::preprocessParams(int threads) const
{
  nnunet::PreprocessParams p;
  p.targetSpacing = preprocessing.targetSpacingMm;
  p.scheme = nnunet::normalizationSchemeFromName(preprocessing.normalization);
  if (preprocessing.intensity)
  {
    const IntensityProperties& ip = *preprocessing.intensity;
    p.intensity.mean = ip.mean;
    p.intensity.sd = ip.sd;
    p.intensity.percentile00_5 = ip.percentile00_5;
    p.intensity.percentile99_5 = ip.percentile99_5;
  }
  p.useMaskForNorm = preprocessing.useMaskForNorm;
  p.anisotropyThreshold = preprocessing.anisotropyThreshold;
  for (std::size_t a = 0; a < 3; ++a)
  {
    p.transposeForward[a] = static_cast<int>(preprocessing.transposeForward[a]);
    p.transposeBackward[a] = static_cast<int>(preprocessing.transposeBackward[a]);
  }
  p.threads = threads;
  return p;
}

void ModelPackage::validate() const
{
  if (!supportedModelType(info.modelType))
    throw Error("model.json: model_type \"" + info.modelType + "\" is not supported " + kSupportedTypes);
  if (isNnUNetV2())
  {
    v2.network.validate();
    const double values = v2.network.parameterCount() * static_cast<double>(std::max<std::size_t>(1, v2.folds.size()));
    if (weightsBytes > 0 && values * 4 != static_cast<double>(weightsBytes))
      throw Error("plans.json: the network it describes (" + v2.network.summary() + ", " +
                  std::to_string(v2.folds.size()) + " fold(s)) has " + number(values) +
                  " weight values but weights.bin holds " + std::to_string(weightsBytes / 4) +
                  ": the plan does not belong to these weights");
    if (!(v2.stepSize > 0 && v2.stepSize <= 1))
      throw Error("plans.json: inference.step_size must be in (0, 1]");
    if (v2.folds.empty())
      throw Error("plans.json: \"folds\" is empty");
    if (static_cast<std::int64_t>(classes.size()) != v2.network.numClasses)
      throw Error("plans.json: dataset_json labels and the network's classes disagree");
    return;
  }
  if (isPnetMsa())
  {
    pnet.validate();
    if (network.numClasses != 2)
      throw Error("plans.json: a pnet-msa model predicts 2 classes (background, pancreas)");
  }
  else
    network.validate();
  const PreprocessingSpec& pp = preprocessing;
  // One image channel; a click-conditioned package adds its guidance channels (Guidance.h).
  const std::int64_t channels = guidance::takesClicks(info.modelType) ? 1 + guidance::kChannels : 1;
  if (network.inputChannels != channels)
    throw Error("plans.json: input_channels is " + std::to_string(network.inputChannels) +
                (channels == 1 ? std::string("; the workstation predicts single-modality models only")
                               : "; a " + std::string(guidance::kModelType) +
                                     " package has 4 (the image, positive and negative clicks, the previous mask)"));
  for (double s : pp.targetSpacingMm)
    if (!(s > 0) || !std::isfinite(s))
      throw Error("plans.json: preprocessing.target_spacing_zyx_mm must be positive");
  // normalizationSchemeFromName maps every unknown name to nonCT, so check the name itself.
  if (pp.normalization != "CT" && pp.normalization != "CT2" && pp.normalization != "nonCT" &&
      pp.normalization != "noNorm")
    throw Error("plans.json: preprocessing.normalization_scheme \"" + pp.normalization +
                "\" is not one of CT, CT2, nonCT, noNorm");
  const nnunet::NormalizationScheme scheme = nnunet::normalizationSchemeFromName(pp.normalization);
  if ((scheme == nnunet::NormalizationScheme::CT || scheme == nnunet::NormalizationScheme::CT2) &&
      !pp.intensity)
    throw Error("plans.json: preprocessing.intensity_properties is required for the " +
                pp.normalization + " normalisation");
  if (pp.intensity)
  {
    const IntensityProperties& ip = *pp.intensity;
    const std::string ic = "plans.json: preprocessing.intensity_properties.";
    for (const auto& [name, v] : { std::pair<const char*, double>{ "mean", ip.mean }, { "sd", ip.sd },
                                   { "percentile_00_5", ip.percentile00_5 },
                                   { "percentile_99_5", ip.percentile99_5 }, { "median", ip.median },
                                   { "mn", ip.min }, { "mx", ip.max } })
      if (!std::isfinite(v))
        throw Error(ic + name + " must be a finite number");
    if (!(ip.sd > 0))
      throw Error(ic + "sd must be positive, found " + number(ip.sd));
    if (!(ip.percentile00_5 < ip.percentile99_5))
      throw Error(ic + "percentile_00_5 (" + number(ip.percentile00_5) +
                  ") must be below percentile_99_5 (" + number(ip.percentile99_5) +
                  "): the clipping range is reversed or empty");
    if (ip.min > ip.max)
      throw Error(ic + "mn (" + number(ip.min) + ") is above mx (" + number(ip.max) + ")");
  }
  if (!(pp.anisotropyThreshold > 0) || !std::isfinite(pp.anisotropyThreshold))
    throw Error("plans.json: preprocessing.anisotropy_threshold must be positive, found " +
                number(pp.anisotropyThreshold));
  for (std::size_t i = 0; i < pp.folds.size(); ++i)
    if (pp.folds[i] < 0 || std::count(pp.folds.begin(), pp.folds.end(), pp.folds[i]) > 1)
      throw Error("plans.json: folds must be distinct fold numbers >= 0, found " + std::to_string(pp.folds[i]));
  if (!isPnetMsa() && weightsBytes > 0)
  {
    // The plan must describe exactly the tensors weights.bin holds; checked here, before any
    // network is built, so a plan that asks for 100000 layers fails at once instead of allocating.
    const double values = network.stateDictValues() * static_cast<double>(pp.foldCount());
    if (values * 4 != static_cast<double>(weightsBytes))
    {
      char buf[200];
      std::snprintf(buf, sizeof buf,
                    " has %.0f weight values (%.1f MB) but weights.bin holds %lld (%.1f MB): the plan "
                    "does not belong to these weights",
                    values, values * 4 / 1e6, static_cast<long long>(weightsBytes / 4),
                    static_cast<double>(weightsBytes) / 1e6);
      throw Error("plans.json: the network it describes (" + network.summary() +
                  (pp.foldCount() > 1 ? ", " + std::to_string(pp.foldCount()) + " folds" : std::string()) + ")" + buf);
    }
  }
  {
    // Any permutation, with transpose_backward its inverse (nnU-Net v1 puts the coarsest axis first).
    std::array<bool, 3> seen{ false, false, false };
    for (std::int64_t a : pp.transposeForward)
    {
      if (a < 0 || a > 2 || seen[static_cast<std::size_t>(a)])
        throw Error("plans.json: preprocessing.transpose_forward is not a permutation of 0, 1, 2");
      seen[static_cast<std::size_t>(a)] = true;
    }
    for (std::size_t a = 0; a < 3; ++a)
    {
      const std::int64_t b = pp.transposeBackward[static_cast<std::size_t>(pp.transposeForward[a])];
      if (b != static_cast<std::int64_t>(a))
        throw Error("plans.json: preprocessing.transpose_backward is not the inverse of transpose_forward");
    }
  }
  if (!(pp.stepSize > 0 && pp.stepSize <= 1))
    throw Error("plans.json: inference.step_size must be in (0, 1]");
  if (static_cast<std::int64_t>(classes.size()) != network.numClasses)
    throw Error("plans.json: \"classes\" lists " + std::to_string(classes.size()) +
                " classes but the network has num_classes " + std::to_string(network.numClasses));
  for (std::size_t i = 0; i < classes.size(); ++i)
    if (classes[i].label != static_cast<int>(i))
      throw Error("plans.json: classes[" + std::to_string(i) + "].label must be " +
                  std::to_string(i) + " (labels are the output channels in order)");
  for (int l : pp.largestComponentLabels)
    if (l <= 0 || l >= network.numClasses)
      throw Error("plans.json: inference.largest_component_labels has label " + std::to_string(l) +
                  " outside 1.." + std::to_string(network.numClasses - 1));
  if (info.name.empty())
    throw Error("model.json: \"name\" must not be empty");
  if (info.modality != "CT" && info.modality != "MR")
    throw Error("model.json: \"modality\" must be \"CT\" or \"MR\", found \"" + info.modality + "\"");
  if (info.demo && info.clinicalUse)
    throw Error("model.json: a demo model cannot have \"clinical_use\": true");
}

bool looksLikeModelPackage(const std::string& dir)
{
  std::error_code ec;
  return fs::is_regular_file(fs::path(dir) / "plans.json", ec) &&
         fs::is_regular_file(fs::path(dir) / "model.json", ec) &&
         fs::is_regular_file(fs::path(dir) / "weights.json", ec);
}

namespace
{
/// plans.json "intensity_properties": the CT statistics, or null (both package types).
std::string intensityJson(const PreprocessingSpec& pp)
{
  if (!pp.intensity)
    return "null";
  const IntensityProperties& ip = *pp.intensity;
  std::ostringstream s;
  s << "{\"mean\": " << number(ip.mean) << ", \"sd\": " << number(ip.sd)
    << ", \"percentile_00_5\": " << number(ip.percentile00_5) << ", \"percentile_99_5\": " << number(ip.percentile99_5)
    << ", \"median\": " << number(ip.median) << ", \"mn\": " << number(ip.min) << ", \"mx\": " << number(ip.max)
    << "}";
  return s.str();
}

std::string pnetPlansJsonText(const ModelPackage& pkg)
{
  const PNetMsaSpec& n = pkg.pnet;
  const PreprocessingSpec& pp = pkg.preprocessing;
  std::ostringstream s;
  s << "{\n  \"format\": " << json::quote(kPnetPlansFormat) << ",\n";
  s << "  \"pnet_msa\": {\"units\": " << n.units << ", \"convs_per_unit\": " << n.convsPerUnit
    << ", \"features\": " << n.features << ", \"side_features\": " << n.sideFeatures
    << ", \"input_slices\": " << n.inputSlices << ", \"birnn\": " << (n.birnn ? "true" : "false") << "},\n";
  s << "  \"num_classes\": 2,\n";
  s << "  \"modality\": " << json::quote(pkg.info.modality) << ",\n";
  s << "  \"preprocessing\": {\n"
    << "    \"in_plane_spacing_yx_mm\": [" << number(n.inPlaneSpacingYxMm[0]) << ", "
    << number(n.inPlaneSpacingYxMm[1]) << "],\n"
    << "    \"normalization_scheme\": " << json::quote(pp.normalization) << ",\n";
  s << "    \"intensity_properties\": " << intensityJson(pp) << ",\n";
  s << "    \"use_mask_for_norm\": " << (pp.useMaskForNorm ? "true" : "false") << "\n  },\n";
  std::string lcc = "[";
  for (std::size_t i = 0; i < pp.largestComponentLabels.size(); ++i)
    lcc += (i ? ", " : "") + std::to_string(pp.largestComponentLabels[i]);
  lcc += "]";
  s << "  \"inference\": {\"threshold\": " << number(n.threshold) << ", \"slice_batch\": " << n.sliceBatch
    << ", \"largest_component_labels\": " << lcc << "},\n";
  s << "  \"classes\": [";
  for (std::size_t i = 0; i < pkg.classes.size(); ++i)
    s << (i ? ", " : "") << "{\"label\": " << pkg.classes[i].label
      << ", \"name\": " << json::quote(pkg.classes[i].name) << "}";
  s << "]\n}\n";
  return s.str();
}
} // namespace

std::string plansJsonText(const ModelPackage& pkg)
{
  if (pkg.isPnetMsa())
    return pnetPlansJsonText(pkg);
  if (pkg.isNnUNetV2())
  {
    const V2ModelSpec& v = pkg.v2;
    std::ostringstream s;
    s << "{\n  \"format\": \"" << kV2PlansFormat << "\",\n";
    s << "  \"modality\": " << json::quote(pkg.info.modality) << ",\n";
    s << "  \"configuration\": " << json::quote(v.configuration) << ",\n";
    s << "  \"trainer\": " << json::quote(v.trainerName) << ",\n";
    s << "  \"folds\": [";
    for (std::size_t i = 0; i < v.folds.size(); ++i)
      s << (i ? ", " : "") << v.folds[i];
    s << "],\n  \"inference\": {\"mirror_axes\": [";
    for (std::size_t i = 0; i < v.mirrorAxes.size(); ++i)
      s << (i ? ", " : "") << v.mirrorAxes[i];
    s << "], \"step_size\": " << number(v.stepSize) << "},\n";
    s << "  \"nnunet_plans\": " << toJsonText(v.plansJson, 2) << ",\n";
    s << "  \"dataset_json\": " << toJsonText(v.datasetJson, 2) << "\n}\n";
    return s.str();
  }
  std::string net = pkg.network.toJson();
  const std::size_t close = net.rfind('}');
  net = net.substr(0, close);
  while (!net.empty() && (net.back() == '\n' || net.back() == ' '))
    net.pop_back();
  const PreprocessingSpec& pp = pkg.preprocessing;
  std::ostringstream s;
  s << net << ",\n";
  s << "  \"modality\": " << json::quote(pkg.info.modality) << ",\n";
  s << "  \"preprocessing\": {\n"
    << "    \"target_spacing_zyx_mm\": " << array(pp.targetSpacingMm) << ",\n"
    << "    \"normalization_scheme\": " << json::quote(pp.normalization) << ",\n";
  s << "    \"intensity_properties\": " << intensityJson(pp) << ",\n";
  s << "    \"use_mask_for_norm\": " << (pp.useMaskForNorm ? "true" : "false") << ",\n"
    << "    \"anisotropy_threshold\": " << number(pp.anisotropyThreshold) << ",\n"
    << "    \"transpose_forward\": " << array(pp.transposeForward) << ",\n"
    << "    \"transpose_backward\": " << array(pp.transposeBackward) << "\n"
    << "  },\n";
  std::string axes = "[";
  for (int a = 0; a < 3; ++a)
    if (pp.mirrorAxes[static_cast<std::size_t>(a)])
      axes += (axes.size() > 1 ? ", " : "") + std::to_string(a);
  axes += "]";
  std::string lcc = "[";
  for (std::size_t i = 0; i < pp.largestComponentLabels.size(); ++i)
    lcc += (i ? ", " : "") + std::to_string(pp.largestComponentLabels[i]);
  lcc += "]";
  s << "  \"inference\": {\"mirror_axes\": " << axes << ", \"step_size\": " << number(pp.stepSize)
    << ", \"largest_component_labels\": " << lcc << "},\n";
  if (pp.foldCount() > 1) // nnU-Net v1 fold ensemble
  {
    s << "  \"folds\": [";
    for (std::size_t i = 0; i < pp.folds.size(); ++i)
      s << (i ? ", " : "") << pp.folds[i];
    s << "],\n";
  }
  s << "  \"classes\": [";
  for (std::size_t i = 0; i < pkg.classes.size(); ++i)
    s << (i ? ", " : "") << "{\"label\": " << pkg.classes[i].label
      << ", \"name\": " << json::quote(pkg.classes[i].name) << "}";
  s << "]\n}\n";
  return s.str();
}

std::string modelJsonText(const ModelPackage& pkg)
{
  const ModelInfo& m = pkg.info;
  json::Value metrics = m.metrics, lineage = m.lineage;
  if (!metrics.isObject())
    metrics.type = json::Value::Type::Object;
  if (!lineage.isObject())
    lineage.type = json::Value::Type::Object;
  std::ostringstream s;
  s << "{\n"
    << "  \"format\": " << json::quote(kModelFormat) << ",\n"
    << "  \"name\": " << json::quote(m.name) << ",\n"
    << "  \"version\": " << json::quote(m.version) << ",\n"
    << "  \"model_type\": " << json::quote(m.modelType) << ",\n"
    << "  \"modality\": " << json::quote(m.modality) << ",\n"
    << "  \"description\": " << json::quote(m.description) << ",\n"
    << "  \"training_data\": " << json::quote(m.trainingData) << ",\n"
    << "  \"metrics\": " << toJsonText(metrics, 2) << ",\n"
    << "  \"lineage\": " << toJsonText(lineage, 2) << ",\n"
    << "  \"demo\": " << (m.demo ? "true" : "false") << ",\n"
    << "  \"clinical_use\": " << (m.clinicalUse ? "true" : "false") << ",\n";
  if (!m.speedClass.empty())
    s << "  \"speed_class\": " << json::quote(m.speedClass) << ",\n";
  if (pkg.isNnUNetV2())
    s << "  \"folds\": " << std::max<std::size_t>(1, pkg.v2.folds.size()) << ",\n"; // catalog and time estimate
  else if (pkg.preprocessing.foldCount() > 1)
    s << "  \"folds\": " << pkg.preprocessing.foldCount() << ",\n"; // nnU-Net v1 ensemble
  s
    << "  \"created\": " << json::quote(m.created.empty() ? utcNowIso() : m.created) << ",\n"
    << "  \"weights\": {\"file\": \"weights.bin\", \"index\": \"weights.json\", \"dtype\": \"float32\""
    << (m.weightsSha256.empty() ? std::string() : ", \"sha256\": " + json::quote(m.weightsSha256)) << "}\n"
    << "}\n";
  return s.str();
}

void writePackageMetadata(const std::string& dir, const ModelPackage& pkgIn)
{
  ModelPackage pkg = pkgIn;
  const fs::path weights = fs::path(dir) / "weights.bin";
  std::error_code ec;
  if (fs::is_regular_file(weights, ec))
  {
    // Record what is on disk now (a package copied from a base model must not keep the base's).
    pkg.info.weightsSha256 = scanWeightsFile(weights.string()).sha256;
    pkg.weightsBytes = static_cast<std::int64_t>(fs::file_size(weights, ec));
    if (ec)
      pkg.weightsBytes = 0;
  }
  pkg.validate();
  writeFileAtomically((fs::path(dir) / "plans.json").string(), plansJsonText(pkg));
  writeFileAtomically((fs::path(dir) / "model.json").string(), modelJsonText(pkg));
}

std::string unverifiedWeightsNote(const ModelPackage& pkg)
{
  if (pkg.weightsVerified)
    return "";
  return "model package " + pkg.dir + ": model.json records no SHA-256 for weights.bin (written "
         "before checksums), so its weights are unverified (SHA-256 now " +
         pkg.weightsSha256.substr(0, 16) + "...)";
}

ModelPackage loadModelPackage(const std::string& dirIn)
{
  std::error_code ec;
  if (dirIn.empty())
    throw Error("no model package given");
  if (!fs::exists(dirIn, ec))
    throw Error("model package not found: " + dirIn);
  if (!fs::is_directory(dirIn, ec))
    throw Error("model package must be a folder (with plans.json, model.json, weights.bin, "
                "weights.json): " + dirIn);
  const fs::path dir = fs::absolute(dirIn, ec);
  const std::string where = "model package " + dir.string() + ": ";
  ModelPackage pkg;
  pkg.dir = dir.string();
  try
  {
    for (const char* f : { "plans.json", "model.json", "weights.json", "weights.bin" })
      if (!fs::is_regular_file(dir / f, ec))
        throw Error(std::string(f) + " missing");

    // ---- model type first (it decides the plans.json format)
    const json::Value model = json::parseFile((dir / "model.json").string());
    const std::string mc = "model.json";
    // One reader of model.json (ModelCard.h, shared with the study database); the package's own
    // rules (required keys, supported types and formats) are checked here.
    const ModelCard card = parseModelCard(model, mc);
    model.at("model_type", mc);
    pkg.info.modelType = card.modelType;
    if (!supportedModelType(pkg.info.modelType))
      throw Error(mc + ": model_type \"" + pkg.info.modelType + "\" is not supported " + kSupportedTypes);
    const bool pnet = pkg.isPnetMsa();

    // ---- plans.json
    const std::string plansText = readText((dir / "plans.json").string(), "plans.json");
    json::Value plans;
    if (pkg.isNnUNetV2())
    {
      plans = json::parse(plansText, "plans.json");
      readV2Plans(plans, pkg);
    }
    else
    {
    if (!pnet)
      pkg.network = PlanConfig::fromJsonText(plansText, "plans.json");
    plans = json::parse(plansText, "plans.json");
    const char* expectedFormat = pnet ? kPnetPlansFormat : kPlansFormat;
    if (const auto* f = plans.find("format"); f && f->asString("plans.json: format") != expectedFormat)
      throw Error("plans.json: unknown format \"" + f->string + "\" (expected " + expectedFormat + ")");
    const std::string pc = "plans.json: preprocessing";
    const json::Value& pre = plans.at("preprocessing", "plans.json");
    if (!pre.isObject())
      throw Error(pc + ": expected an object");
    PreprocessingSpec& pp = pkg.preprocessing;
    if (pnet)
    {
      const std::string nc = "plans.json: pnet_msa";
      const json::Value& n = plans.at("pnet_msa", "plans.json");
      if (!n.isObject())
        throw Error(nc + ": expected an object");
      PNetMsaSpec& ps = pkg.pnet;
      ps.units = n.at("units", nc).asInt(nc + ".units");
      ps.convsPerUnit = n.at("convs_per_unit", nc).asInt(nc + ".convs_per_unit");
      ps.features = n.at("features", nc).asInt(nc + ".features");
      ps.sideFeatures = n.at("side_features", nc).asInt(nc + ".side_features");
      ps.inputSlices = n.at("input_slices", nc).asInt(nc + ".input_slices");
      ps.birnn = n.at("birnn", nc).asBool(nc + ".birnn");
      if (const auto* v = plans.find("num_classes"))
        pkg.network.numClasses = v->asInt("plans.json: num_classes");
      const std::vector<double> ip = pre.at("in_plane_spacing_yx_mm", pc).asNumberVector(pc + ".in_plane_spacing_yx_mm");
      if (ip.size() != 2)
        throw Error(pc + ".in_plane_spacing_yx_mm: expected 2 values (y, x)");
      ps.inPlaneSpacingYxMm = { ip[0], ip[1] };
      pp.targetSpacingMm = { 1.0, ip[0], ip[1] }; // z: the image's own spacing, per case
      if (const auto* inf = plans.find("inference"))
      {
        const std::string ic = "plans.json: inference";
        if (const auto* v = inf->find("threshold"))
          ps.threshold = v->asNumber(ic + ".threshold");
        if (const auto* v = inf->find("slice_batch"))
          ps.sliceBatch = v->asInt(ic + ".slice_batch");
      }
    }
    else
      pp.targetSpacingMm = spacing3(pre.at("target_spacing_zyx_mm", pc), pc + ".target_spacing_zyx_mm");
    pp.normalization = pre.at("normalization_scheme", pc).asString(pc + ".normalization_scheme");
    if (const auto* ip = pre.find("intensity_properties"); ip && !ip->isNull())
      pp.intensity = intensityFrom(*ip, pc + ".intensity_properties");
    if (const auto* v = pre.find("use_mask_for_norm"))
      pp.useMaskForNorm = v->asBool(pc + ".use_mask_for_norm");
    if (const auto* v = pre.find("anisotropy_threshold"))
      pp.anisotropyThreshold = v->asNumber(pc + ".anisotropy_threshold");
    if (const auto* v = pre.find("transpose_forward"))
      pp.transposeForward = int3(*v, pc + ".transpose_forward");
    if (const auto* v = pre.find("transpose_backward"))
      pp.transposeBackward = int3(*v, pc + ".transpose_backward");
    if (const auto* inf = plans.find("inference"))
    {
      const std::string ic = "plans.json: inference";
      if (!inf->isObject())
        throw Error(ic + ": expected an object");
      if (const auto* v = pnet ? nullptr : inf->find("mirror_axes"))
      {
        pp.mirrorAxes = { false, false, false };
        for (std::int64_t a : v->asIntVector(ic + ".mirror_axes"))
        {
          if (a < 0 || a > 2)
            throw Error(ic + ".mirror_axes: axis " + std::to_string(a) + " is not 0, 1 or 2");
          pp.mirrorAxes[static_cast<std::size_t>(a)] = true;
        }
      }
      if (const auto* v = pnet ? nullptr : inf->find("step_size"))
        pp.stepSize = v->asNumber(ic + ".step_size");
      if (const auto* v = inf->find("largest_component_labels"))
        for (std::int64_t l : v->asIntVector(ic + ".largest_component_labels"))
          pp.largestComponentLabels.push_back(static_cast<int>(l));
    }
    if (const auto* f = pnet ? nullptr : plans.find("folds"))
      for (std::int64_t k : f->asIntVector("plans.json: folds"))
        pp.folds.push_back(static_cast<int>(k));
    if (const auto* cl = plans.find("classes"))
    {
      if (!cl->isArray())
        throw Error("plans.json: \"classes\" must be an array of {label, name}");
      for (std::size_t i = 0; i < cl->array.size(); ++i)
      {
        const std::string cc = "plans.json: classes[" + std::to_string(i) + "]";
        ClassInfo c;
        c.label = static_cast<int>(cl->array[i].at("label", cc).asInt(cc + ".label"));
        c.name = cl->array[i].at("name", cc).asString(cc + ".name");
        pkg.classes.push_back(c);
      }
    }
    else
      pkg.classes = defaultClasses(pkg.network.numClasses);
    } // pansegnet / pnet-msa plans

    // ---- model.json
    if (!card.format.empty() && card.format != kModelFormat)
      throw Error(mc + ": unknown format \"" + card.format + "\" (expected " + kModelFormat + ")");
    ModelInfo& m = pkg.info;
    model.at("name", mc);
    model.at("modality", mc);
    model.at("clinical_use", mc);
    m.name = card.name;
    if (!card.version.empty())
      m.version = card.version;
    m.modality = card.modality;
    m.description = card.description;
    m.trainingData = card.trainingData;
    if (const auto* v = model.find("metrics"))
      m.metrics = *v;
    if (const auto* v = model.find("lineage"))
      m.lineage = *v;
    m.demo = card.demo;
    m.clinicalUse = card.clinicalUse;
    m.created = card.created;
    m.speedClass = card.speedClass;
    m.weightsSha256 = card.weightsSha256;
    if (const auto* pm = plans.find("modality"); pm && pm->isString() && pm->string != m.modality)
      throw Error("plans.json says modality \"" + pm->string + "\" but model.json says \"" +
                  m.modality + "\"");

    // ---- weights.json against weights.bin
    pkg.weightsPath = (dir / "weights.bin").string();
    pkg.weightsIndexPath = (dir / "weights.json").string();
    const json::Value index = json::parseFile(pkg.weightsIndexPath);
    const std::string wc = "weights.json";
    const std::int64_t fileBytes = static_cast<std::int64_t>(fs::file_size(pkg.weightsPath, ec));
    if (ec)
      throw Error("cannot stat weights.bin");
    const std::int64_t total = index.at("total_bytes", wc).asInt(wc + ": total_bytes");
    if (total != fileBytes)
      throw Error("weights.bin has " + std::to_string(fileBytes) + " bytes but weights.json says " +
                  std::to_string(total) + " (truncated or mismatched file)");
    const json::Value& tensors = index.at("tensors", wc);
    if (!tensors.isArray() || tensors.array.empty())
      throw Error(wc + ": \"tensors\" must be a non-empty array");
    for (std::size_t i = 0; i < tensors.array.size(); ++i)
    {
      const json::Value& t = tensors.array[i];
      const std::string tc = wc + ": tensors[" + std::to_string(i) + "]";
      WeightEntry e;
      e.name = t.at("name", tc).asString(tc + ".name");
      const std::string kc = wc + ": \"" + e.name + "\"";
      e.shape = t.at("shape", tc).asIntVector(kc + ".shape");
      const std::string dtype = t.at("dtype", tc).asString(kc + ".dtype");
      if (dtype != "float32")
        throw Error(kc + ": dtype " + dtype + " (packages store float32)");
      e.offset = t.at("offset", tc).asInt(kc + ".offset");
      e.nbytes = t.at("nbytes", tc).asInt(kc + ".nbytes");
      std::int64_t numel = 1;
      for (std::int64_t d : e.shape)
      {
        if (d < 0)
          throw Error(kc + ": negative dimension in shape");
        if (d > 0 && numel > fileBytes / d)
          throw Error(kc + ": shape is larger than weights.bin");
        numel *= d;
      }
      if (e.nbytes != numel * 4)
        throw Error(kc + ": nbytes " + std::to_string(e.nbytes) + " does not match its shape (" +
                    std::to_string(numel * 4) + " bytes)");
      if (e.offset < 0 || e.offset + e.nbytes > fileBytes)
        throw Error(kc + ": lies outside weights.bin (offset " + std::to_string(e.offset) + ")");
      pkg.weights.push_back(std::move(e));
    }
    pkg.weightsBytes = fileBytes;
    pkg.validate();

    // ---- weights.bin itself: one pass for the checksum and the sanity of the values
    const WeightsScan scan = scanWeightsFile(pkg.weightsPath);
    pkg.weightsSha256 = scan.sha256;
    if (!m.weightsSha256.empty() && m.weightsSha256 != scan.sha256)
      throw Error("weights.bin: SHA-256 mismatch (model.json records " + m.weightsSha256 +
                  ", the file hashes to " + scan.sha256 +
                  "): the weights were changed or damaged after the package was written");
    pkg.weightsVerified = !m.weightsSha256.empty();
    if (scan.allZero)
      throw Error("weights.bin: every weight is zero (a wiped or never-written file)");
    if (scan.firstNonFiniteOffset >= 0)
    {
      std::string name = "?";
      for (const WeightEntry& e : pkg.weights)
        if (scan.firstNonFiniteOffset >= e.offset && scan.firstNonFiniteOffset < e.offset + e.nbytes)
          name = e.name;
      throw Error("weights.bin: tensor '" + name + "' holds NaN or infinite values (byte offset " +
                  std::to_string(scan.firstNonFiniteOffset) + ")");
    }
  }
  catch (const Error& e)
  {
    const std::string msg = e.what();
    if (msg.find(pkg.dir) != std::string::npos)
      throw;
    throw Error(where + msg);
  }
  return pkg;
}

ModelPackage packageFromNnUNetPlans(const NnUNetPlans& plans, const PlanConfig& network)
{
  ModelPackage pkg;
  pkg.network = network;
  PreprocessingSpec& pp = pkg.preprocessing;
  pp.targetSpacingMm = plans.targetSpacingMm;
  if (plans.normalizationSchemes.empty())
    throw Error("plans: no normalization_schemes");
  pp.normalization = plans.normalizationSchemes.front();
  if (!plans.intensityProperties.empty() && plans.intensityProperties.front())
    pp.intensity = *plans.intensityProperties.front();
  if (!plans.useMaskForNorm.empty())
    pp.useMaskForNorm = plans.useMaskForNorm.front();
  pp.transposeForward = plans.transposeForward;
  pp.transposeBackward = plans.transposeBackward;
  pkg.classes = defaultClasses(network.numClasses);
  pkg.info.modality = modalityFromPlans(plans.modalities);
  if (pkg.info.modality.empty())
    pkg.info.modality = pp.normalization == "CT" || pp.normalization == "CT2" ? "CT" : "MR";
  return pkg;
}

ModelPackage packageFromPipelineFixture(const std::string& plansPath, const std::string& parityDir)
{
  const json::Value root = json::parseFile(plansPath);
  const std::string ctx = plansPath + ": summary";
  const json::Value& s = root.at("summary", plansPath);
  ModelPackage pkg;
  PlanConfig& n = pkg.network;
  n.patchSize = int3(s.at("patch_size_zyx", ctx), ctx + ".patch_size_zyx");
  auto vecs = [&](const char* key)
  {
    std::vector<Vec3> out;
    const json::Value& v = s.at(key, ctx);
    for (std::size_t i = 0; i < v.array.size(); ++i)
      out.push_back(int3(v.array[i], ctx + "." + key));
    return out;
  };
  n.convKernels = vecs("conv_kernel_sizes");
  n.poolStrides = vecs("pool_op_kernel_sizes");
  n.baseFeatures = s.at("base_num_features", ctx).asInt(ctx);
  n.inputChannels = s.at("num_input_channels", ctx).asInt(ctx);
  n.numClasses = s.at("num_output_channels_K", ctx).asInt(ctx);
  const json::Value& extra = s.at("network_not_in_plans", ctx);
  n.maxFeatures = extra.at("max_num_features", ctx).asInt(ctx);
  n.attention.enabled = true;
  n.attention.dModel = extra.at("attention_d_model", ctx).asInt(ctx);
  n.attention.numHeads = extra.at("attention_heads", ctx).asInt(ctx);
  n.attention.numLayers = extra.at("attention_layers", ctx).asInt(ctx);
  n.attention.dimFeedforward = n.attention.dModel; // the fixture's FFN width equals d_model
  PreprocessingSpec& pp = pkg.preprocessing;
  pp.targetSpacingMm = spacing3(s.at("target_spacing_zyx_mm", ctx), ctx + ".target_spacing_zyx_mm");
  pp.normalization = s.at("normalization_scheme", ctx).asString(ctx);
  if (const auto* ip = s.find("intensity_properties"); ip && !ip->isNull())
    pp.intensity = intensityFrom(*ip, ctx + ".intensity_properties");
  pp.useMaskForNorm = s.at("use_mask_for_norm", ctx).asBool(ctx);
  pp.transposeForward = int3(s.at("transpose_forward", ctx), ctx);
  pp.transposeBackward = int3(s.at("transpose_backward", ctx), ctx);
  if (const auto* v = s.find("separate_z_anisotropy_threshold"))
    pp.anisotropyThreshold = v->asNumber(ctx);
  if (const auto* inf = s.find("inference"))
  {
    if (const auto* v = inf->find("mirror_axes"))
    {
      pp.mirrorAxes = { false, false, false };
      for (std::int64_t a : v->asIntVector(ctx + ".inference.mirror_axes"))
        if (a >= 0 && a <= 2)
          pp.mirrorAxes[static_cast<std::size_t>(a)] = true;
    }
    if (const auto* v = inf->find("step_size"))
      pp.stepSize = v->asNumber(ctx);
  }
  pkg.classes = defaultClasses(n.numClasses);
  pkg.info.name = "PanSegNet pipeline fixture (random weights)";
  pkg.info.version = "1";
  pkg.info.modality = modalityFromPlans({ s.at("modality", ctx).asString(ctx) });
  pkg.info.description = "Small random-weight network of shared/fixtures/pansegnet-parity; test only";
  pkg.info.demo = true;
  pkg.weightsPath = (fs::path(parityDir) / "weights.bin").string();
  pkg.weightsIndexPath = (fs::path(parityDir) / "weights.json").string();
  pkg.validate();
  return pkg;
}
std::string utcNowIso()
{
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
} // namespace panseg::models
