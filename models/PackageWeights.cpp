#include "models/PackageWeights.h"

#include "core/AtomicFile.h"
#include "core/Error.h"
#include "models/Json.h"

#include <ctime>
#include <filesystem>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace panseg::models
{
namespace
{
json::Value jobj()
{
  json::Value v;
  v.type = json::Value::Type::Object;
  return v;
}

/// postprocessing.json (nnU-Net v1 consolidation): {"for_which_classes": [1] or [[1]], ...}.
std::vector<int> readPostprocessing(const fs::path& path)
{
  const json::Value root = json::parseFile(path.string());
  const std::string ctx = path.string();
  std::vector<int> labels;
  const json::Value* classes = root.find("for_which_classes");
  if (!classes)
    return labels;
  if (!classes->isArray())
    throw Error(ctx + ": for_which_classes must be a list");
  for (const json::Value& c : classes->array)
  {
    if (c.isNumber())
      labels.push_back(static_cast<int>(c.asInt(ctx + ": for_which_classes")));
    else if (c.isArray() && c.array.size() == 1)
      labels.push_back(static_cast<int>(c.array[0].asInt(ctx + ": for_which_classes")));
    else
      throw Error(ctx + ": for_which_classes entries that merge several classes are not supported");
  }
  return labels;
}
} // namespace

StateDict readPackageWeights(const ModelPackage& pkg)
{
  return readFixtureWeights(pkg.weightsPath, pkg.weightsIndexPath);
}

void writePackageWeights(const std::string& dir, const StateDict& weights)
{
  std::vector<torch::Tensor> flat;
  std::ostringstream idx;
  std::int64_t offset = 0, params = 0;
  idx << "{\n \"file\": \"weights.bin\",\n \"byte_order\": \"little\",\n \"tensors\": [";
  for (std::size_t i = 0; i < weights.size(); ++i)
  {
    const auto& [rawName, t] = weights[i];
    const std::string name = rawName.rfind("module.", 0) == 0 ? rawName.substr(7) : rawName;
    if (!t.defined() || !t.is_floating_point())
      throw Error("cannot store weight '" + name + "': not a floating-point tensor");
    const torch::Tensor f = t.detach().to(torch::kCPU).to(torch::kFloat).contiguous().reshape({ -1 });
    const std::int64_t nbytes = f.numel() * 4;
    idx << (i ? "," : "") << "\n  {\"name\": " << json::quote(name) << ", \"shape\": [";
    for (std::int64_t d = 0; d < t.dim(); ++d)
      idx << (d ? ", " : "") << t.size(d);
    idx << "], \"dtype\": \"float32\", \"offset\": " << offset << ", \"nbytes\": " << nbytes << "}";
    offset += nbytes;
    params += f.numel();
    flat.push_back(f);
  }
  idx << "\n ],\n \"num_tensors\": " << weights.size() << ",\n \"num_values\": " << params
      << ",\n \"total_bytes\": " << offset << "\n}\n";
  const std::string bin = (fs::path(dir) / "weights.bin").string();
  const std::string tmp = bin + ".tmp";
  writeRawTensor(tmp, flat.empty() ? torch::zeros({ 0 }) : torch::cat(flat));
  commitFile(tmp, bin);
  writeFileAtomically((fs::path(dir) / "weights.json").string(), idx.str());
}

PanSegNet loadPackageNetwork(const ModelPackage& pkg)
{
  try
  {
    PanSegNet net(pkg.network);
    loadStateDict(*net, readPackageWeights(pkg));
    net->eval();
    return net;
  }
  catch (const Error& e)
  {
    throw Error("model package " + (pkg.dir.empty() ? pkg.weightsPath : pkg.dir) + ": " + e.what());
  }
}

ModelPackage importNnUNetResult(const std::string& resultDir, const std::string& outDir,
                                const ImportOptions& opt)
{
  std::error_code ec;
  const fs::path root = fs::absolute(resultDir, ec);
  if (!fs::is_directory(root, ec))
    throw Error("nnU-Net result folder not found: " + resultDir);
  if (outDir.empty())
    throw Error("import needs an output folder (--out)");
  const std::string foldName = "fold_" + std::to_string(opt.fold);
  const fs::path ckpt = root / foldName / (opt.checkpoint + ".model");
  const fs::path ckptPkl = root / foldName / (opt.checkpoint + ".model.pkl");
  const fs::path plansPkl = root / "plans.pkl";
  if (!fs::is_regular_file(ckpt, ec))
    throw Error(resultDir + ": no " + foldName + "/" + opt.checkpoint +
                ".model (expected an nnU-Net v1 result folder such as "
                ".../3d_fullres/TaskXXX/nnTransUNetTrainerV2__nnUNetPlansv2.1)");
  const bool havePkl = fs::is_regular_file(ckptPkl, ec);
  const bool havePlans = fs::is_regular_file(plansPkl, ec);
  if (!havePkl && !havePlans)
    throw Error(resultDir + ": neither " + foldName + "/" + opt.checkpoint +
                ".model.pkl nor plans.pkl found (the plans are needed)");

  // nnU-Net restores the trainer from the checkpoint's .model.pkl; plans.pkl is the fallback.
  const fs::path plansSource = havePkl ? ckptPkl : plansPkl;
  const NnUNetPlans plans = readNnUNetPlans(plansSource.string());
  std::string plansNote;
  if (havePkl && havePlans)
  {
    const NnUNetPlans other = readNnUNetPlans(plansPkl.string());
    plansNote = (other.network.patchSize == plans.network.patchSize &&
                 other.network.convKernels == plans.network.convKernels &&
                 other.network.poolStrides == plans.network.poolStrides &&
                 other.targetSpacingMm == plans.targetSpacingMm)
                    ? "plans.pkl agrees with the checkpoint's plans"
                    : "plans.pkl differs from the checkpoint's plans; the checkpoint's were used "
                      "(as nnU-Net does)";
  }
  const NnUNetCheckpoint ck = readNnUNetCheckpoint(ckpt.string());
  const PlanConfig network = planMatchingStateDict(plans.network, ck.stateDict);

  ModelPackage pkg = packageFromNnUNetPlans(plans, network);
  if (fs::is_regular_file(root / "postprocessing.json", ec))
    pkg.preprocessing.largestComponentLabels = readPostprocessing(root / "postprocessing.json");
  ModelInfo& info = pkg.info;
  if (!opt.modality.empty())
  {
    if (opt.modality != "CT" && opt.modality != "MR")
      throw Error("--modality must be CT or MR, not '" + opt.modality + "'");
    info.modality = opt.modality;
  }
  const std::string trainer = plans.trainerName.empty() ? std::string("nnU-Net v1") : plans.trainerName;
  info.name = opt.name.empty() ? trainer + " " + root.filename().string() : opt.name;
  info.version = opt.version.empty() ? "1" : opt.version;
  info.demo = opt.demo;
  info.clinicalUse = false;
  info.trainingData = opt.trainingData.empty()
                          ? "not recorded in the nnU-Net result folder; see the model's publication"
                          : opt.trainingData;
  info.description = "PanSegNet (Generic_TransUNet) imported from an nnU-Net v1 result folder; " +
                     network.summary() + ". Research use only.";
  info.created = utcNowIso();
  info.metrics = jobj();
  info.lineage = jobj();
  auto& l = info.lineage.object;
  l.emplace_back("source", json::text("nnU-Net v1 result folder"));
  l.emplace_back("result_folder", json::text(root.string()));
  l.emplace_back("checkpoint", json::text(foldName + "/" + opt.checkpoint + ".model"));
  l.emplace_back("plans", json::text(fs::relative(plansSource, root, ec).string()));
  if (!plansNote.empty())
    l.emplace_back("plans_note", json::text(plansNote));
  l.emplace_back("epoch", json::number(static_cast<double>(ck.epoch)));
  l.emplace_back("trainer", json::text(plans.trainerName));
  l.emplace_back("plans_stage", json::number(static_cast<double>(plans.stage)));
  l.emplace_back("postprocessing", json::text(pkg.preprocessing.largestComponentLabels.empty()
                                            ? "none"
                                            : "largest connected component (postprocessing.json)"));
  l.emplace_back("imported_by", json::text("panseg-models import-nnunet"));
  l.emplace_back("imported_at", json::text(info.created));

  // Write into a temporary sibling, verify by loading it back, then move it into place.
  const fs::path out = fs::absolute(outDir, ec);
  if (fs::exists(out, ec))
  {
    const bool empty = fs::is_directory(out, ec) && fs::is_empty(out, ec);
    if (!empty && !opt.force)
      throw Error("output folder already exists: " + out.string() + " (use --force to replace a package)");
    if (!empty && !looksLikeModelPackage(out.string()))
      throw Error("refusing to replace " + out.string() + ": it is not a model package");
  }
  if (!out.parent_path().empty())
    fs::create_directories(out.parent_path(), ec);
  const fs::path tmp = out.string() + ".importing-" + std::to_string(::getpid());
  fs::remove_all(tmp, ec);
  if (!fs::create_directories(tmp, ec))
    throw Error("cannot create folder " + tmp.string() + ": " + ec.message());
  try
  {
    writePackageWeights(tmp.string(), ck.stateDict);
    writePackageMetadata(tmp.string(), pkg);
    const ModelPackage check = loadModelPackage(tmp.string());
    (void)loadPackageNetwork(check);
    if (fs::exists(out, ec))
      fs::remove_all(out, ec);
    fs::rename(tmp, out, ec);
    if (ec)
      throw Error("cannot move the package to " + out.string() + ": " + ec.message());
  }
  catch (...)
  {
    std::error_code ignore;
    fs::remove_all(tmp, ignore);
    throw;
  }
  return loadModelPackage(out.string());
}
} // namespace panseg::models
