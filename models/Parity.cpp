#include "models/Parity.h"

#include "core/Error.h"
#include "models/Json.h"
#include "models/PanSegNet.h"
#include "models/Weights.h"

#include <chrono>
#include <map>
#include <tuple>

namespace panseg::models
{
Precision parsePrecision(const std::string& name)
{
  if (name == "fp32" || name == "float32")
    return Precision::Float32;
  if (name == "fp64" || name == "float64")
    return Precision::Float64;
  if (name == "fp16" || name == "autocast")
    return Precision::Float16Autocast;
  if (name == "half")
    return Precision::Float16;
  throw Error("unknown precision '" + name + "' (use fp32, fp64, fp16 or half)");
}

std::string toString(Precision p)
{
  switch (p)
  {
  case Precision::Float32:
    return "fp32";
  case Precision::Float64:
    return "fp64";
  case Precision::Float16Autocast:
    return "fp16 autocast";
  case Precision::Float16:
    return "half";
  }
  return "?";
}

std::pair<double, double> absDifference(const torch::Tensor& a, const torch::Tensor& b,
                                        const std::string& what)
{
  if (a.sizes() != b.sizes())
    throw Error(what + ": shape " + shapeToString(a.sizes()) + " differs from the reference's " +
                shapeToString(b.sizes()));
  const torch::Tensor d =
      (a.detach().to(torch::kCPU, torch::kDouble) - b.detach().to(torch::kCPU, torch::kDouble))
          .abs();
  if (d.numel() == 0)
    return {0.0, 0.0};
  return {d.max().item<double>(), d.mean().item<double>()};
}

ParityReport runFixtureParity(const ParityOptions& o)
{
  const std::string dir = o.fixtureDir;
  const torch::Device device = parseDevice(o.device);
  const bool cuda = device.is_cuda();
  if ((o.precision == Precision::Float16 || o.precision == Precision::Float16Autocast) && !cuda)
    throw Error("fp16 parity needs --device cuda (CPU half kernels are not what inference uses)");
  if (cuda)
    setCudaTf32(o.allowTf32);

  const PlanConfig plan = PlanConfig::fromJsonFile(dir + "/config.json");
  const StateDict weights =
      o.weightsFromCheckpoint
          ? readNnUNetCheckpoint(dir + "/model_final_checkpoint.model").stateDict
          : readFixtureWeights(dir + "/weights.bin", dir + "/weights.json");
  PanSegNet net(planMatchingStateDict(plan, weights));
  loadStateDict(*net, weights);
  net->eval();

  ParityReport report;
  report.parameterCount = parameterCount(*net);

  const json::Value index = json::parseFile(dir + "/tensors.json");
  auto shapeOf = [&](const std::string& file)
  { return index.at(file, dir + "/tensors.json").at("shape", file).asIntVector(file + ".shape"); };
  auto load = [&](const std::string& file)
  {
    const std::string dtype =
        index.at(file, dir + "/tensors.json").at("dtype", file).asString(file + ".dtype");
    return readRawTensor(dir + "/" + file, shapeOf(file),
                         dtype == "float64" ? torch::kDouble : torch::kFloat);
  };

  torch::ScalarType computeType = torch::kFloat;
  if (o.precision == Precision::Float64)
    computeType = torch::kDouble;
  else if (o.precision == Precision::Float16)
    computeType = torch::kHalf;
  net->to(device, computeType);
  const torch::Tensor input = load("input.bin").to(device, computeType);

  ForwardTrace trace;
  std::vector<torch::Tensor> ds;
  torch::Tensor logits;
  {
    c10::InferenceMode inference;
    CudaAutocast autocast(o.precision == Precision::Float16Autocast);
    ds = net->forwardTraced(input, trace); // also the warm-up for the timed inference pass
    if (cuda)
      torch::cuda::synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    logits = net->forward(input);
    if (cuda)
      torch::cuda::synchronize();
    report.forwardSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  // Our tensor for each fixture file.
  std::map<std::string, torch::Tensor> ours;
  for (std::size_t s = 0; s < trace.encoder.size(); ++s)
    ours["intermediates/enc" + std::to_string(s) + "_out.bin"] = trace.encoder[s];
  if (trace.attentionTokens.defined())
    ours["intermediates/attn_tokens_after_proj_and_pos.bin"] = trace.attentionTokens;
  for (std::size_t j = 0; j < trace.attentionLayers.size(); ++j)
    ours["intermediates/attn_layer" + std::to_string(j) + "_out.bin"] = trace.attentionLayers[j];
  if (trace.attentionOut.defined())
    ours["intermediates/attn_out.bin"] = trace.attentionOut;
  if (!trace.upsampled.empty())
    ours["intermediates/dec0_transpconv_out.bin"] = trace.upsampled[0];
  for (std::size_t u = 0; u < trace.decoder.size(); ++u)
    ours["intermediates/dec" + std::to_string(u) + "_out.bin"] = trace.decoder[u];
  for (std::size_t i = 0; i < ds.size(); ++i)
    ours["ds_output" + std::to_string(i) + ".bin"] = ds[i];

  const bool half = o.precision == Precision::Float16 || o.precision == Precision::Float16Autocast;
  double tolerance = cuda ? 1e-3 : 1e-4;
  if (half)
    tolerance = 0.0; // informational; judged on argmax
  const std::string floatRef = "output_ref_float64.bin";
  if (o.precision == Precision::Float64)
    tolerance = 1e-4; // fp32 references: the fp32 noise itself (<= 1.6e-5) dominates

  report.pass = true;
  for (const auto& kv : index.object)
  {
    const std::string& file = kv.first;
    if (file == "input.bin" || file == "output.bin" || file == floatRef)
      continue;
    const auto it = ours.find(file);
    if (it == ours.end())
      throw Error("fixture tensor " + file + " has no counterpart in this implementation's trace");
    TensorComparison c;
    c.name = file;
    const torch::Tensor ref = load(file);
    std::tie(c.maxAbs, c.meanAbs) = absDifference(it->second, ref, file);
    c.referenceMaxAbs = ref.abs().max().item<double>();
    c.tolerance = tolerance;
    c.pass = tolerance == 0.0 || c.maxAbs <= tolerance;
    report.pass = report.pass && c.pass;
    report.tensors.push_back(c);
  }

  const torch::Tensor ref32 = load("output.bin");
  const torch::Tensor ref64 = load(floatRef);
  {
    TensorComparison c;
    c.name = "output.bin";
    std::tie(c.maxAbs, c.meanAbs) = absDifference(logits, ref32, "output.bin");
    c.referenceMaxAbs = ref32.abs().max().item<double>();
    c.tolerance = tolerance;
    c.pass = tolerance == 0.0 || c.maxAbs <= tolerance;
    report.pass = report.pass && c.pass;
    report.outputMaxAbs = c.maxAbs;
    report.tensors.push_back(c);
  }
  {
    TensorComparison c;
    c.name = floatRef;
    std::tie(c.maxAbs, c.meanAbs) = absDifference(logits, ref64, floatRef);
    c.referenceMaxAbs = ref64.abs().max().item<double>();
    c.tolerance = half ? 0.0 : (o.precision == Precision::Float64 ? 1e-9 : tolerance);
    c.pass = c.tolerance == 0.0 || c.maxAbs <= c.tolerance;
    report.pass = report.pass && c.pass;
    report.outputMaxAbsVsFloat64 = c.maxAbs;
    report.tensors.push_back(c);
  }
  const torch::Tensor ourLabels = logits.detach().to(torch::kCPU, torch::kFloat).argmax(1);
  report.voxels = ourLabels.numel();
  report.argmaxMismatches = ourLabels.ne(ref32.argmax(1)).sum().item<std::int64_t>();
  report.argmaxMismatchesVsFloat64 = ourLabels.ne(ref64.argmax(1)).sum().item<std::int64_t>();
  if (half)
    report.pass = report.pass && report.argmaxMismatches * 1000 <= report.voxels;
  else
    report.pass = report.pass && report.argmaxMismatches == 0;
  return report;
}
} // namespace panseg::models
