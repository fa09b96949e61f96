#include "models/PackageWeights.h"

#include "core/AtomicFile.h"
#include "core/Error.h"
#include "models/Json.h"
#include "models/NnUNetV2Net.h"
#include "models/Zip.h"

#include <algorithm>
#include <ctime>
#include <fstream>
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

/// Writes a package into a temporary sibling of `out`, verifies it by loading it back (`check`
/// builds the network from it), then moves it into place; nothing is left behind on failure. An
/// existing non-empty `out` is replaced only with `force` and only when it is a package.
template <typename Weights, typename Check>
ModelPackage writePackageVerified(const fs::path& out, const Weights& weights, const ModelPackage& pkg, bool force,
                                  Check check)
{
  std::error_code ec;
  if (fs::exists(out, ec))
  {
    const bool empty = fs::is_directory(out, ec) && fs::is_empty(out, ec);
    if (!empty && !force)
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
    writePackageWeights(tmp.string(), weights);
    writePackageMetadata(tmp.string(), pkg);
    check(loadModelPackage(tmp.string()));
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
  if (pkg.preprocessing.foldCount() > 1)
    throw Error("model package " + (pkg.dir.empty() ? pkg.weightsPath : pkg.dir) + " is an ensemble of " +
                std::to_string(pkg.preprocessing.foldCount()) + " folds (load it with loadPackageNetworks)");
  return loadPackageNetworks(pkg).front();
}

namespace
{
/// The weights of fold i of n (keys "fold_<k>/..." without the prefix; a single fold's keys have no '/').
StateDict foldWeights(const StateDict& all, std::size_t i, std::size_t n)
{
  const std::string prefix = v2FoldWeightPrefix(i, n);
  StateDict fold;
  for (const auto& kv : all)
    if (kv.first.compare(0, prefix.size(), prefix) == 0 && (n > 1 || kv.first.find('/') == std::string::npos))
      fold.emplace_back(kv.first.substr(prefix.size()), kv.second);
  return fold;
}
} // namespace


std::vector<PanSegNet> loadPackageNetworks(const ModelPackage& pkg)
{
  const std::string where = "model package " + (pkg.dir.empty() ? pkg.weightsPath : pkg.dir);
  const StateDict all = readPackageWeights(pkg);
  const std::size_t n = pkg.preprocessing.foldCount();
  std::vector<PanSegNet> nets;
  for (std::size_t i = 0; i < n; ++i)
  {
    const StateDict fold = foldWeights(all, i, n);
    try
    {
      PanSegNet net(pkg.network);
      loadStateDict(*net, fold);
      net->eval();
      nets.push_back(net);
    }
    catch (const Error& e)
    {
      throw Error(where + (n > 1 ? " (fold " + std::to_string(pkg.preprocessing.folds[i]) + ")" : "") + ": " +
                  e.what());
    }
  }
  return nets;
}

namespace
{
/// Fold numbers of a v1 result folder holding `checkpoint`.model (fold_0 ... fold_N), sorted.
std::vector<int> v1FoldsIn(const fs::path& root, const std::string& checkpoint)
{
  std::vector<int> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec))
  {
    const std::string n = e.path().filename().string();
    if (n.size() > 5 && n.compare(0, 5, "fold_") == 0 && n.find_first_not_of("0123456789", 5) == std::string::npos &&
        n.size() < 12 && fs::is_regular_file(e.path() / (checkpoint + ".model"), ec))
      out.push_back(std::stoi(n.substr(5)));
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// The first difference between two folds' plans that changes the network or its input, or "".
std::string plansDifference(const NnUNetPlans& a, const NnUNetPlans& b)
{
  if (a.network.patchSize != b.network.patchSize)
    return "patch_size";
  if (a.network.convKernels != b.network.convKernels)
    return "conv_kernel_sizes";
  if (a.network.poolStrides != b.network.poolStrides)
    return "pool_op_kernel_sizes";
  if (a.numForegroundClasses != b.numForegroundClasses)
    return "num_classes";
  if (a.targetSpacingMm != b.targetSpacingMm)
    return "current_spacing (target spacing)";
  if (a.normalizationSchemes != b.normalizationSchemes)
    return "normalization_schemes";
  if (a.transposeForward != b.transposeForward)
    return "transpose_forward";
  return {};
}
} // namespace

ModelPackage importNnUNetResult(const std::string& resultDir, const std::string& outDir,
                                const ImportOptions& opt)
{
  std::error_code ec;
  const fs::path root = fs::absolute(resultDir, ec);
  if (!fs::is_directory(root, ec))
    throw Error("nnU-Net result folder not found: " + resultDir);
  if (outDir.empty())
    throw Error("import needs an output folder (--out)");
  const std::vector<int> available = v1FoldsIn(root, opt.checkpoint);
  std::string listed;
  for (int f : available)
    listed += (listed.empty() ? "" : ", ") + std::to_string(f);
  std::vector<int> folds = opt.folds.empty() ? available : opt.folds;
  if (folds.empty())
    throw Error(resultDir + ": no fold_N/" + opt.checkpoint +
                ".model (expected an nnU-Net v1 result folder such as "
                ".../3d_fullres/TaskXXX/nnTransUNetTrainerV2__nnUNetPlansv2.1 with fold_0/" + opt.checkpoint +
                ".model)");
  for (std::size_t i = 0; i < folds.size(); ++i)
  {
    if (std::count(folds.begin(), folds.end(), folds[i]) > 1)
      throw Error("--folds names fold " + std::to_string(folds[i]) + " twice");
    if (std::find(available.begin(), available.end(), folds[i]) == available.end())
      throw Error((root / ("fold_" + std::to_string(folds[i])) / (opt.checkpoint + ".model")).string() +
                  ": missing (folds with that checkpoint: " + (listed.empty() ? std::string("none") : listed) + ")");
  }
  const fs::path plansPkl = root / "plans.pkl";
  const bool havePlans = fs::is_regular_file(plansPkl, ec);

  // Each fold: its checkpoint, its plans (the checkpoint's .model.pkl, else plans.pkl, as nnU-Net
  // restores the trainer), the network its state dict implies. Every fold must match the first.
  NnUNetPlans plans;
  PlanConfig network;
  fs::path plansSource;
  std::string plansNote, firstCheckpoint;
  std::int64_t epoch = -1;
  StateDict weights;
  for (std::size_t i = 0; i < folds.size(); ++i)
  {
    const std::string foldName = "fold_" + std::to_string(folds[i]);
    const fs::path ckpt = root / foldName / (opt.checkpoint + ".model");
    const fs::path ckptPkl = root / foldName / (opt.checkpoint + ".model.pkl");
    const bool havePkl = fs::is_regular_file(ckptPkl, ec);
    if (!havePkl && !havePlans)
      throw Error(resultDir + ": neither " + foldName + "/" + opt.checkpoint +
                  ".model.pkl nor plans.pkl found (the plans are needed)");
    const fs::path source = havePkl ? ckptPkl : plansPkl;
    const NnUNetPlans foldPlans = readNnUNetPlans(source.string());
    if (i > 0)
      if (const std::string key = plansDifference(plans, foldPlans); !key.empty())
        throw Error(source.string() + ": " + key + " differs from fold_" + std::to_string(folds[0]) +
                    "'s plans (the folds of one ensemble must share one plan)");
    const NnUNetCheckpoint ck = readNnUNetCheckpoint(ckpt.string());
    PlanConfig foldNetwork;
    try
    {
      foldNetwork = planMatchingStateDict(foldPlans.network, ck.stateDict);
    }
    catch (const Error& e)
    {
      const std::string what = e.what();
      throw Error(what.find(ckpt.string()) == std::string::npos ? ckpt.string() + ": " + what : what);
    }
    if (i == 0)
    {
      plans = foldPlans;
      network = foldNetwork;
      plansSource = source;
      firstCheckpoint = foldName + "/" + opt.checkpoint + ".model";
      epoch = ck.epoch;
      if (havePkl && havePlans)
      {
        const NnUNetPlans other = readNnUNetPlans(plansPkl.string());
        plansNote = plansDifference(other, plans).empty()
                        ? "plans.pkl agrees with the checkpoint's plans"
                        : "plans.pkl differs from the checkpoint's plans; the checkpoint's were used "
                          "(as nnU-Net does)";
      }
    }
    else
    {
      if (!(foldNetwork == network))
        throw Error(ckpt.string() + ": its network (" + foldNetwork.summary() + ") differs from fold_" +
                    std::to_string(folds[0]) + "'s (" + network.summary() + ")");
    }
    // Strict check now, so that a key that does not fit names this fold's file.
    try
    {
      PanSegNet check(network);
      loadStateDict(*check, ck.stateDict);
    }
    catch (const Error& e)
    {
      throw Error(ckpt.string() + ": " + e.what());
    }
    const std::string prefix = v2FoldWeightPrefix(i, folds.size());
    for (const auto& [key, t] : ck.stateDict)
    {
      const std::string name = key.rfind("module.", 0) == 0 ? key.substr(7) : key;
      weights.emplace_back(prefix + name, t);
    }
  }
  ModelPackage pkg = packageFromNnUNetPlans(plans, network);
  if (folds.size() > 1)
    pkg.preprocessing.folds = folds;
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
  l.emplace_back("checkpoint", json::text(firstCheckpoint));
  if (folds.size() > 1)
    l.emplace_back("folds", json::number(static_cast<double>(folds.size())));
  l.emplace_back("plans", json::text(fs::relative(plansSource, root, ec).string()));
  if (!plansNote.empty())
    l.emplace_back("plans_note", json::text(plansNote));
  l.emplace_back("epoch", json::number(static_cast<double>(epoch)));
  l.emplace_back("trainer", json::text(plans.trainerName));
  l.emplace_back("plans_stage", json::number(static_cast<double>(plans.stage)));
  l.emplace_back("postprocessing", json::text(pkg.preprocessing.largestComponentLabels.empty()
                                            ? "none"
                                            : "largest connected component (postprocessing.json)"));
  l.emplace_back("imported_by", json::text("panseg-models import-nnunet"));
  l.emplace_back("imported_at", json::text(info.created));

  // Write into a temporary sibling, verify by loading it back, then move it into place.
  const fs::path out = fs::absolute(outDir, ec);
  return writePackageVerified(out, weights, pkg, opt.force,
                              [](const ModelPackage& check) { (void)loadPackageNetworks(check); });
}
} // namespace panseg::models

namespace panseg::models
{
std::string v2FoldWeightPrefix(std::size_t position, std::size_t folds)
{
  return folds > 1 ? "fold_" + std::to_string(position) + "/" : std::string();
}

std::vector<V2Net> loadV2Networks(const ModelPackage& pkg)
{
  const StateDict all = readPackageWeights(pkg);
  const std::size_t n = std::max<std::size_t>(1, pkg.v2.folds.size());
  std::vector<V2Net> nets;
  for (std::size_t i = 0; i < n; ++i)
  {
    const StateDict fold = foldWeights(all, i, n);
    nets.push_back(loadV2Network(pkg.v2.network, fold,
                                 "model package " + pkg.dir + (n > 1 ? " (fold " + std::to_string(pkg.v2.folds[i]) + ")" : "")));
  }
  return nets;
}

namespace
{
/// Extracts the model folder of an nnUNetv2_export_model_to_zip archive (the folder holding
/// plans.json and dataset.json, and its fold_*/checkpoint_*.pth) into `dst`. Entry names are
/// never used as paths: only the files nnU-Net needs are written, under names built here.
fs::path extractV2Zip(const std::string& zipPath, const fs::path& dst)
{
  const ZipArchive zip(zipPath);
  std::string prefix;
  bool found = false;
  for (const auto& e : zip.entries())
  {
    const std::string tail = "plans.json";
    if (e.name.size() >= tail.size() && e.name.compare(e.name.size() - tail.size(), tail.size(), tail) == 0 &&
        (e.name.size() == tail.size() || e.name[e.name.size() - tail.size() - 1] == '/'))
    {
      const std::string pre = e.name.substr(0, e.name.size() - tail.size());
      if (zip.find(pre + "dataset.json"))
      {
        if (found)
          throw Error(zipPath + ": the archive holds more than one model folder (" + prefix + ", " + pre + ")");
        prefix = pre;
        found = true;
      }
    }
  }
  if (!found)
    throw Error(zipPath + ": no model folder with plans.json and dataset.json in the archive (not an "
                "nnUNetv2_export_model_to_zip file)");
  std::string name = prefix;
  while (!name.empty() && name.back() == '/')
    name.pop_back();
  const auto slash = name.rfind('/');
  const std::string folder = slash == std::string::npos ? (name.empty() ? std::string("model") : name) : name.substr(slash + 1);
  if (folder.empty() || folder == "." || folder == ".." || folder.find('\\') != std::string::npos)
    throw Error(zipPath + ": unusable model folder name in the archive");
  const fs::path root = dst / folder;
  fs::create_directories(root);
  auto write = [&](const std::string& entry, const fs::path& to)
  {
    const std::vector<std::uint8_t> bytes = zip.read(entry);
    std::ofstream o(to, std::ios::binary);
    o.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!o)
      throw Error("cannot write " + to.string());
  };
  write(prefix + "plans.json", root / "plans.json");
  write(prefix + "dataset.json", root / "dataset.json");
  for (const auto& e : zip.entries())
  {
    if (e.name.compare(0, prefix.size(), prefix) != 0)
      continue;
    const std::string rel = e.name.substr(prefix.size());
    const auto s = rel.find('/');
    if (s == std::string::npos || rel.compare(0, 5, "fold_") != 0)
      continue;
    const std::string fold = rel.substr(0, s), file = rel.substr(s + 1);
    const bool foldOk = fold.size() > 5 && fold.find_first_not_of("0123456789", 5) == std::string::npos;
    const bool fileOk = file == "checkpoint_final.pth" || file == "checkpoint_best.pth";
    if (!(foldOk || fold == "fold_all") || !fileOk)
      continue;
    fs::create_directories(root / fold);
    write(e.name, root / fold / file);
  }
  return root;
}
} // namespace

ModelPackage importNnUNetV2Result(const std::string& resultDirOrZip, const std::string& outDir,
                                  const ImportV2Options& opt)
{
  std::error_code ec;
  if (outDir.empty())
    throw Error("import needs an output folder (--out)");
  const fs::path out = fs::absolute(outDir, ec);
  fs::path root = fs::absolute(resultDirOrZip, ec);
  fs::path unzipDir;
  struct Cleanup
  {
    fs::path p;
    ~Cleanup()
    {
      std::error_code e;
      if (!p.empty())
        fs::remove_all(p, e);
    }
  } cleanup;
  if (fs::is_regular_file(root, ec))
  {
    unzipDir = out.string() + ".unzipping-" + std::to_string(::getpid());
    cleanup.p = unzipDir;
    fs::remove_all(unzipDir, ec);
    fs::create_directories(unzipDir, ec);
    root = extractV2Zip(resultDirOrZip, unzipDir);
  }
  else if (!fs::is_directory(root, ec))
    throw Error("nnU-Net v2 model folder not found: " + resultDirOrZip);
  const std::string source = resultDirOrZip;
  V2ModelSpec spec = readV2ResultFolder(root.string(), opt.configuration);

  const std::vector<std::string> available = v2FoldsIn(root.string(), opt.checkpoint);
  auto listed = [&]
  {
    std::string l;
    for (const auto& f : available)
      l += (l.empty() ? "" : ", ") + f;
    return l.empty() ? std::string("none") : l;
  };
  std::vector<std::string> folds = opt.folds;
  if (folds.empty())
  {
    for (const auto& f : available)
      if (f != "all")
        folds.push_back(f);
    if (folds.empty() && !available.empty())
      folds = available;
    if (folds.empty())
      throw Error(source + ": no fold_*/" + opt.checkpoint + " found (an nnU-Net v2 model folder holds "
                  "fold_0/checkpoint_final.pth)");
  }
  for (const auto& f : folds)
    if (std::find(available.begin(), available.end(), f) == available.end())
      throw Error(source + ": no fold_" + f + "/" + opt.checkpoint + " (folds with that checkpoint: " + listed() + ")");
  StateDict weights;
  std::string firstCheckpoint;
  std::int64_t epoch = -1;
  for (std::size_t i = 0; i < folds.size(); ++i)
  {
    const std::string& fold = folds[i];
    spec.folds.push_back(fold == "all" ? -1 : std::stoi(fold));
    const fs::path ckptPath = root / ("fold_" + fold) / opt.checkpoint;
    const NnUNetCheckpoint ck = readNnUNetCheckpoint(ckptPath.string());
    if (!ck.v2)
      throw Error(ckptPath.string() + ": not an nnU-Net v2 checkpoint (no 'network_weights')");
    if (!ck.configuration.empty() && ck.configuration != spec.configuration)
      throw Error(ckptPath.string() + ": the checkpoint was trained for configuration '" + ck.configuration +
                  "' but the folder says '" + spec.configuration + "'");
    if (!ck.trainerName.empty())
    {
      if (!spec.trainerName.empty() && spec.trainerName != ck.trainerName)
        throw Error(ckptPath.string() + ": trainer '" + ck.trainerName + "' differs from the folder's '" +
                    spec.trainerName + "'");
      spec.trainerName = ck.trainerName;
    }
    if (i == 0)
    {
      // nnU-Net takes the mirroring axes from the first fold's checkpoint.
      spec.mirrorAxes.clear();
      if (ck.hasMirrorAxes)
        for (std::int64_t a : ck.mirrorAxes)
          spec.mirrorAxes.push_back(static_cast<int>(a));
      firstCheckpoint = "fold_" + fold + "/" + opt.checkpoint;
      epoch = ck.epoch;
    }
    (void)loadV2Network(spec.network, ck.stateDict, ckptPath.string()); // strict check, names the key
    const std::string prefix = v2FoldWeightPrefix(i, folds.size());
    for (auto& kv : canonicalV2StateDict(ck.stateDict))
      weights.emplace_back(prefix + kv.first, kv.second);
  }

  ModelPackage pkg;
  pkg.info.modelType = "nnunetv2";
  std::string modality = opt.modality;
  if (modality.empty())
  {
    const std::string ch = spec.channelNames.empty() ? std::string() : spec.channelNames[0];
    std::string up = ch;
    std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    modality = up == "CT" ? "CT" : (up.find("MR") != std::string::npos || up.find("T1") != std::string::npos ||
                                    up.find("T2") != std::string::npos)
                                       ? "MR"
                                       : (spec.params.normalization == nnunet::v2::Normalization::CT ? "CT" : "MR");
  }
  if (modality != "CT" && modality != "MR")
    throw Error("--modality must be CT or MR, not '" + modality + "'");
  ModelInfo& info = pkg.info;
  info.modality = modality;
  info.name = opt.name.empty() ? (spec.datasetName.empty() ? root.filename().string() : spec.datasetName) + " " +
                                     spec.configuration
                               : opt.name;
  info.version = opt.version.empty() ? "1" : opt.version;
  info.clinicalUse = false;
  info.trainingData = opt.trainingData.empty() ? "not recorded in the nnU-Net model folder" : opt.trainingData;
  info.description = "nnU-Net v2 model (" + spec.trainerName + "__" + spec.plansName + "__" + spec.configuration +
                     ") imported without Python; " + spec.network.summary() + ". Research use only.";
  info.speedClass = "gpu-recommended";
  info.created = utcNowIso();
  info.metrics = jobj();
  info.lineage = jobj();
  auto& l = info.lineage.object;
  l.emplace_back("source", json::text(unzipDir.empty() ? "nnU-Net v2 model folder" : "nnUNetv2_export_model_to_zip archive"));
  l.emplace_back("result_folder", json::text(fs::absolute(resultDirOrZip, ec).string()));
  l.emplace_back("checkpoint", json::text(firstCheckpoint));
  l.emplace_back("folds", json::number(static_cast<double>(folds.size())));
  l.emplace_back("epoch", json::number(static_cast<double>(epoch)));
  l.emplace_back("trainer", json::text(spec.trainerName));
  l.emplace_back("plans", json::text(spec.plansName));
  l.emplace_back("configuration", json::text(spec.configuration));
  l.emplace_back("imported_by", json::text("panseg-models import-nnunet"));
  l.emplace_back("imported_at", json::text(info.created));
  pkg.v2 = spec;
  pkg.network.attention.enabled = false;
  pkg.network.patchSize = spec.network.patchSize;
  pkg.network.numClasses = spec.network.numClasses;
  for (const auto& [value, name] : spec.labels)
    pkg.classes.push_back({ value, name });

  return writePackageVerified(out, weights, pkg, opt.force,
                              [](const ModelPackage& check) { (void)loadV2Networks(check); });
}
} // namespace panseg::models
