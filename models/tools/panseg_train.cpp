// panseg-train: trains PanSegNet on a folder of images and masks, or produces the demo model
// from generated phantoms. No Qt (torch and Qt must not share a process); image files are read
// through panseg_io (ITK) when the build has it.
//
//   panseg-train --data DIR --out MODEL_DIR [options]
//   panseg-train demo --out MODEL_DIR [--cases N] [--val-cases N] [options]
//
// Progress goes to stdout (one line per epoch, plus a line every few seconds); --json prints one
// JSON object per line instead (for the worker / GUI). Ctrl-C (SIGINT) or SIGTERM stop at the
// next iteration; the last epoch's checkpoint stays, and --resume continues from it.
#include "core/Error.h"
#include "core/demo/PhantomGenerator.h"
#include "models/Doctor.h"
#include "models/Json.h"
#include "models/ModelPackage.h"
#include "models/PNetMsaTrainer.h"
#include "models/Predictor.h"
#include "models/Guidance.h"
#include "models/Trainer.h"
#include "models/TrainerData.h"

#ifdef PANSEG_TRAIN_WITH_IO
#include "core/io/ImageIO.h"
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <signal.h>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

namespace
{
namespace fs = std::filesystem;
using namespace panseg;
using namespace panseg::models;

std::atomic<bool> g_stop{false};
volatile std::sig_atomic_t g_signal = 0;
volatile std::sig_atomic_t g_signalPid = 0;

extern "C" void onSignal(int sig, siginfo_t* info, void*)
{
  g_signal = sig;
  g_signalPid = info ? static_cast<std::sig_atomic_t>(info->si_pid) : 0;
  g_stop = true;
}

/// `dieWithParent` (--json, i.e. started by panseg / the job system): a SIGTERM arrives when the
/// parent dies, so training stops at the next iteration with its checkpoint instead of running on
/// for hours with nobody reading its output.
void installSignalHandlers(bool dieWithParent)
{
  struct sigaction sa{};
  sa.sa_sigaction = onSignal;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
#ifdef __linux__
  if (dieWithParent)
    prctl(PR_SET_PDEATHSIG, SIGTERM);
#else
  (void)dieWithParent;
#endif
}

const char* kUsage =
    "usage:\n"
    "  panseg-train --data DIR --out MODEL_DIR [options]\n"
    "  panseg-train demo --out MODEL_DIR [--cases N] [--val-cases N] [--phantom-seed S] [options]\n"
    "  panseg-train --model-type pnet-msa --data DIR | demo --out MODEL_DIR [...]\n"
    "  panseg-train --model-type pansegnet-clicks ...   the same as --clicks (below)\n"
    "                           PNet-MSA + BiRNN (see --model-type pnet-msa --help)\n"
    "\n"
    "DIR holds nnU-Net's imagesTr/CASE_0000.nii.gz + labelsTr/CASE.nii.gz, or CASE.nii.gz +\n"
    "CASE_seg.nii.gz pairs (.nii, .nii.gz, .nrrd, .mha, .mhd); an optional DIR/patients.csv\n"
    "(lines 'case,patient') groups cases of one patient for the split.\n"
    "\n"
    "options:\n"
    "  --plan demo|small|tiny|fixture|FILE  network plan (default demo; small = demo)\n"
    "  --target-spacing Z,Y,X   mm (default: median spacing of the data; demo: 6,3.2,3.2)\n"
    "  --base-model DIR         fine-tune this model package (its plan, preprocessing, weights)\n"
    "  --clicks                 a click-conditioned package (model_type pansegnet-clicks: image +\n"
    "                           positive/negative click maps + previous mask), trained with simulated\n"
    "                           corrections; from a plain --base-model its first layer is widened\n"
    "  --click-loop P           with --clicks: the share of iterations that run the network on the\n"
    "                           batch and add a click at its own largest error, 1-2 rounds\n"
    "                           (DeepEdit's network in the loop; default 0.5, 0 = simulated only)\n"
    "  --epochs N  --iters N  --batch N  --lr X   (defaults 50, 250, 2, 0.01; 1e-3 to fine-tune)\n"
    "  --seed S                 weights, sampling and augmentation seed (default 12345)\n"
    "  --folds K --fold F       k-fold split by patient (default: hold-out)\n"
    "  --val-fraction X         hold-out share of patients (default 0.2; 0 = no validation)\n"
    "  --jaccard                Jaccard + CE loss instead of Dice + CE\n"
    "  --no-augmentation\n"
    "  --device cpu|cuda[:N]    (default cpu)   --no-amp   --threads N\n"
    "  --resume                 continue from MODEL_DIR/checkpoint when present\n"
    "  --keep-checkpoint        keep MODEL_DIR/checkpoint after a completed run (removed by default)\n"
    "  --cache DIR              keep preprocessed cases on disk\n"
    "  --name TEXT --version TEXT --modality CT|MR   model card\n"
    "  --json                   progress as JSON lines\n"
    "\n"
    "panseg-train doctor [--device auto|cpu|cuda[:N]] [--threads N] [--passes N] [--json]\n"
    "  this trainer's LibTorch, CUDA and a smoke forward pass (as panseg-worker doctor)\n";

struct Args
{
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;
  std::vector<std::string> flags;
  bool has(const std::string& f) const
  {
    return std::find(flags.begin(), flags.end(), f) != flags.end();
  }
  std::string get(const std::string& k, const std::string& def = "") const
  {
    const auto it = values.find(k);
    return it == values.end() ? def : it->second;
  }
};

Args parseArgs(int argc, char** argv)
{
  static const std::vector<std::string> flagNames = {"resume", "jaccard", "json", "no-amp",
                                                      "no-augmentation", "help", "no-evaluate",
                                                      "keep-checkpoint", "no-birnn", "clicks"};
  Args a;
  for (int i = 1; i < argc; ++i)
  {
    std::string s = argv[i];
    if (s.rfind("--", 0) == 0)
    {
      const std::string name = s.substr(2);
      if (std::find(flagNames.begin(), flagNames.end(), name) != flagNames.end())
        a.flags.push_back(name);
      else if (i + 1 < argc)
        a.values[name] = argv[++i];
      else
        throw Error("option --" + name + " needs a value");
    }
    else
      a.positional.push_back(s);
  }
  return a;
}

long toInt(const std::string& s, const std::string& what)
{
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0')
    throw Error(what + " must be a whole number, not '" + s + "'");
  return v;
}

double toDouble(const std::string& s, const std::string& what)
{
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !std::isfinite(v))
    throw Error(what + " must be a number, not '" + s + "'");
  return v;
}

std::string shellQuote(const std::string& s)
{
  if (!s.empty() && s.find_first_of(" \t\"'\\$`*?;&|<>()") == std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s)
    q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

PlanConfig planFrom(const std::string& name)
{
  if (name.empty() || name == "demo" || name == "small")
    return demoPlan();
  if (name == "tiny")
    return tinyPlan();
  if (name == "fixture")
    return PlanConfig::fixture();
  if (name == "paper")
    return PlanConfig::paperLike();
  return PlanConfig::fromJsonFile(name);
}

std::array<double, 3> parseSpacing(const std::string& s)
{
  std::array<double, 3> v{};
  std::stringstream ss(s);
  std::string item;
  int n = 0;
  while (std::getline(ss, item, ','))
  {
    if (n >= 3)
      throw Error("--target-spacing needs three values Z,Y,X");
    v[static_cast<std::size_t>(n++)] = toDouble(item, "--target-spacing");
  }
  if (n != 3 || v[0] <= 0 || v[1] <= 0 || v[2] <= 0)
    throw Error("--target-spacing needs three positive values Z,Y,X (mm)");
  return v;
}

// ---- reading a data folder -------------------------------------------------------------------

#ifdef PANSEG_TRAIN_WITH_IO
const std::vector<std::string> kExtensions = {".nii.gz", ".nii", ".nrrd", ".mha", ".mhd"};

/// Splits "name.nii.gz" into ("name", ".nii.gz"); empty extension when not an image file.
std::pair<std::string, std::string> splitImageName(const std::string& file)
{
  for (const auto& e : kExtensions)
    if (file.size() > e.size() && file.compare(file.size() - e.size(), e.size(), e) == 0)
      return {file.substr(0, file.size() - e.size()), e};
  return {file, ""};
}

struct CaseFiles
{
  std::string id, image, mask;
};

std::vector<CaseFiles> findCases(const std::string& dir)
{
  std::vector<CaseFiles> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error("data folder not found: " + dir);
  auto listImages = [&](const fs::path& folder) {
    std::vector<std::pair<std::string, std::string>> files; // stem, full path
    for (const auto& e : fs::directory_iterator(folder))
    {
      const auto [stem, ext] = splitImageName(e.path().filename().string());
      if (!ext.empty() && e.is_regular_file())
        files.emplace_back(stem, e.path().string());
    }
    std::sort(files.begin(), files.end());
    return files;
  };
  const fs::path imagesTr = fs::path(dir) / "imagesTr", labelsTr = fs::path(dir) / "labelsTr";
  if (fs::is_directory(imagesTr, ec))
  {
    std::map<std::string, std::string> labels;
    if (fs::is_directory(labelsTr, ec))
      for (const auto& [stem, path] : listImages(labelsTr))
        labels[stem] = path;
    for (const auto& [stem, path] : listImages(imagesTr))
    {
      if (stem.size() < 5 || stem.compare(stem.size() - 5, 5, "_0000") != 0)
      {
        if (stem.size() > 5 && stem[stem.size() - 5] == '_')
          throw Error(path + ": a second input channel; the trainer handles single-channel data only");
        throw Error(path + ": nnU-Net image names end in _0000 (CASE_0000.nii.gz)");
      }
      const std::string id = stem.substr(0, stem.size() - 5);
      const auto it = labels.find(id);
      if (it == labels.end())
        throw Error("case '" + id + "' has no mask " + (labelsTr / (id + ".nii.gz")).string());
      out.push_back({id, path, it->second});
    }
  }
  else
  {
    const auto files = listImages(dir);
    std::map<std::string, std::string> byStem(files.begin(), files.end());
    for (const auto& [stem, path] : files)
    {
      if (stem.size() > 4 && stem.compare(stem.size() - 4, 4, "_seg") == 0)
        continue;
      const auto it = byStem.find(stem + "_seg");
      if (it == byStem.end())
        throw Error("image " + path + " has no mask " + stem + "_seg.* beside it");
      out.push_back({stem, path, it->second});
    }
  }
  if (out.empty())
    throw Error("no training cases in " + dir +
                " (expected imagesTr/CASE_0000.nii.gz + labelsTr/CASE.nii.gz, or CASE.nii.gz + "
                "CASE_seg.nii.gz)");
  return out;
}

std::map<std::string, std::string> readPatients(const std::string& dir)
{
  std::map<std::string, std::string> m;
  std::ifstream in(fs::path(dir) / "patients.csv");
  std::string line;
  while (std::getline(in, line))
  {
    const auto comma = line.find(',');
    if (comma == std::string::npos || line.rfind("case,", 0) == 0)
      continue;
    std::string c = line.substr(0, comma), p = line.substr(comma + 1);
    while (!p.empty() && (p.back() == '\r' || p.back() == ' '))
      p.pop_back();
    m[c] = p;
  }
  return m;
}

#endif

std::vector<TrainCase> loadDataFolder(const std::string& dir, bool json)
{
#ifdef PANSEG_TRAIN_WITH_IO
  const auto files = findCases(dir);
  const auto patients = readPatients(dir);
  std::vector<TrainCase> cases;
  for (const auto& f : files)
  {
    TrainCase c;
    c.id = f.id;
    const auto p = patients.find(f.id);
    c.patientId = p == patients.end() ? "" : p->second;
    c.image = readImage(f.image);
    c.mask = readMask(f.mask);
    if (!json)
      std::printf("read %s: %s\n", f.id.c_str(), c.image.geometry.describe().c_str());
    cases.push_back(std::move(c));
  }
  return cases;
#else
  (void)json;
  throw Error("this panseg-train was built without image I/O (ITK); only 'panseg-train demo' "
              "works here (" + dir + ")");
#endif
}

/// nnU-Net's default target spacing: the median spacing per axis, (z, y, x).
std::array<double, 3> medianSpacing(const std::vector<TrainCase>& cases)
{
  std::array<double, 3> out{};
  for (int a = 0; a < 3; ++a)
  {
    std::vector<double> v;
    for (const auto& c : cases)
      v.push_back(c.image.geometry.spacingMm[static_cast<std::size_t>(2 - a)]);
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    out[static_cast<std::size_t>(a)] = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  }
  return out;
}

// ---- progress --------------------------------------------------------------------------------

std::string jnum(double v)
{
  if (!std::isfinite(v))
    return "null";
  char b[40];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

std::string duration(double s)
{
  if (!std::isfinite(s))
    return "?";
  char b[40];
  if (s < 90)
    std::snprintf(b, sizeof b, "%.0f s", s);
  else if (s < 5400)
    std::snprintf(b, sizeof b, "%.1f min", s / 60);
  else
    std::snprintf(b, sizeof b, "%.1f h", s / 3600);
  return b;
}

TrainProgressFn makeProgress(bool json)
{
  auto last = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
  return [json, last](const TrainProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    const bool periodic = p.phase == TrainProgress::Phase::Training &&
                          std::chrono::duration<double>(now - *last).count() >= 5.0;
    const bool always = p.phase == TrainProgress::Phase::EpochDone ||
                        p.phase == TrainProgress::Phase::Finished ||
                        (p.phase == TrainProgress::Phase::Preparing && !p.message.empty() &&
                         p.message.rfind("note", 0) == 0);
    if (json)
    {
      if (periodic || always || p.phase == TrainProgress::Phase::Preparing ||
          p.phase == TrainProgress::Phase::Validating)
      {
        std::printf("{\"event\": \"%s\", \"epoch\": %d, \"epochs\": %d, \"iteration\": %d, "
                    "\"iterations\": %d, \"loss\": %s, \"val_dice\": %s, \"lr\": %s, "
                    "\"elapsed_s\": %s, \"eta_s\": %s, \"device\": %s, \"message\": %s}\n",
                    toString(p.phase), p.epoch, p.epochs, p.iteration, p.iterations,
                    jnum(p.loss).c_str(), jnum(p.valDice).c_str(), jnum(p.learningRate).c_str(),
                    jnum(p.elapsedSeconds).c_str(), jnum(p.etaSeconds).c_str(),
                    json::quote(p.device).c_str(), json::quote(p.message).c_str());
        std::fflush(stdout);
        if (periodic)
          *last = now;
      }
    }
    else if (always)
    {
      std::printf("%s  [%s elapsed, ETA %s]\n", p.message.c_str(),
                  duration(p.elapsedSeconds).c_str(), duration(p.etaSeconds).c_str());
      std::fflush(stdout);
      *last = now;
    }
    else if (periodic)
    {
      std::printf("  epoch %d/%d, iteration %d/%d: loss %.4f, lr %.5f  [ETA %s]\n", p.epoch + 1,
                  p.epochs, p.iteration, p.iterations, p.loss, p.learningRate,
                  duration(p.etaSeconds).c_str());
      std::fflush(stdout);
      *last = now;
    }
    return !g_stop.load();
  };
}

void printSummary(const TrainResult& r, const std::string& out, bool json)
{
  if (json)
    return;
  std::printf("\nsplit: %s\n", r.splitDescription.c_str());
  std::printf("%-6s %-9s %-9s %-9s %-9s %-9s\n", "epoch", "lr", "loss", "ce", "overlap", "val Dice");
  for (const auto& h : r.history)
    std::printf("%-6d %-9.5f %-9.4f %-9.4f %-9.4f %-9s\n", h.epoch + 1, h.learningRate,
                h.trainLoss, h.trainCe, h.trainOverlap,
                std::isfinite(h.valDice) ? std::to_string(h.valDice).substr(0, 6).c_str() : "-");
  if (std::isfinite(r.initialValDice))
    std::printf("validation Dice before training: %.4f\n", r.initialValDice);
  if (std::isfinite(r.finalValDiceLargestComponent))
    std::printf("final validation Dice with largest-component post-processing: %.4f\n",
                r.finalValDiceLargestComponent);
  std::printf("parameters %lld, device %s, %d threads, preprocessing %.1f s, training %s "
              "(this session %s)\n",
              static_cast<long long>(r.parameters), r.device.c_str(), r.threads,
              r.preparationSeconds, duration(r.totalTrainingSeconds).c_str(),
              duration(r.wallSeconds).c_str());
  if (r.networkLoopRounds > 0)
    std::printf("click simulation: %lld network-in-the-loop rounds\n", static_cast<long long>(r.networkLoopRounds));
  if (r.completed && !out.empty())
    std::printf("model package: %s\n", out.c_str());
}

// ---- commands --------------------------------------------------------------------------------

/// --folds, --fold and --val-fraction onto `so`.
void applySplitOptions(const Args& a, SplitOptions& so)
{
  if (a.values.count("folds"))
    so.folds = static_cast<int>(toInt(a.get("folds"), "--folds"));
  if (a.values.count("fold"))
    so.fold = static_cast<int>(toInt(a.get("fold"), "--fold"));
  if (a.values.count("val-fraction"))
    so.validationFraction = toDouble(a.get("val-fraction"), "--val-fraction");
}

void applyCommonOptions(const Args& a, TrainOptions& o)
{
  if (a.values.count("epochs"))
    o.epochs = static_cast<int>(toInt(a.get("epochs"), "--epochs"));
  if (a.values.count("iters"))
    o.iterationsPerEpoch = static_cast<int>(toInt(a.get("iters"), "--iters"));
  if (a.values.count("batch"))
    o.batchSize = static_cast<int>(toInt(a.get("batch"), "--batch"));
  if (a.values.count("lr"))
    o.initialLearningRate = toDouble(a.get("lr"), "--lr");
  if (a.values.count("seed"))
    o.seed = static_cast<std::uint64_t>(toInt(a.get("seed"), "--seed"));
  applySplitOptions(a, o.split);
  if (a.values.count("threads"))
    o.threads = static_cast<int>(toInt(a.get("threads"), "--threads"));
  if (a.values.count("validate-every"))
    o.validateEvery = static_cast<int>(toInt(a.get("validate-every"), "--validate-every"));
  o.device = a.get("device", "cpu");
  o.amp = !a.has("no-amp");
  o.resume = a.has("resume");
  o.loss = a.has("jaccard") ? LossKind::JaccardCE : LossKind::DiceCE;
  o.augmentation.enabled = !a.has("no-augmentation");
  o.cacheDir = a.get("cache");
  if (a.values.count("name"))
    o.modelInfo.name = a.get("name");
  if (a.values.count("version"))
    o.modelInfo.version = a.get("version");
  if (a.values.count("modality"))
    o.modelInfo.modality = a.get("modality");
}

// ---- PNet-MSA (docs/pnet-msa.md) -------------------------------------------------------------

const char* kPnetUsage =
    "usage:\n"
    "  panseg-train --model-type pnet-msa --data DIR --out MODEL_DIR [options]\n"
    "  panseg-train --model-type pnet-msa demo --out MODEL_DIR [--cases N] [--val-cases N] [--phantom-seed S]\n"
    "Cai et al.'s PNet-MSA + BiRNN: the CNN's epochs first, then the BiRNN's (docs/pnet-msa.md).\n"
    "DIR as for PanSegNet (imagesTr/labelsTr or CASE + CASE_seg pairs, optional patients.csv).\n"
    "options:\n"
    "  --base-model DIR          fine-tune this pnet-msa package (its network, preprocessing, weights)\n"
    "  --epochs N (15)  --cnn-epochs N (80 %)  --iters N per epoch (50)  --batch N slices (8)\n"
    "  --lr X (1e-3; 1e-4 to fine-tune)  --rnn-lr X (1e-2)  --loss jaccard|ce|balanced-ce (jaccard)\n"
    "  --in-plane-spacing MM     network in-plane spacing (3.2)   --modality CT|MR (CT)   --no-birnn\n"
    "  --folds K --fold F | --val-fraction X   split by patient (hold-out 0.2)\n"
    "  --seed S  --threads N  --device cpu|cuda[:N]  --seconds S (wall-clock budget)\n"
    "  --resume  continue from MODEL_DIR.checkpoint   --keep-checkpoint   --json   --name TEXT  --version V\n";

int runPnetMsa(const Args& a, int argc, char** argv)
{
  if (a.has("help"))
  {
    std::printf("%s", kPnetUsage);
    return 0;
  }
  static const std::vector<std::string> known = {
      "model-type", "out",     "data",         "base-model", "epochs", "cnn-epochs", "iters",        "batch",
      "lr",         "rnn-lr",  "loss",         "seed",       "threads", "device",    "seconds",      "name",
      "version",    "modality", "in-plane-spacing", "folds", "fold",   "val-fraction", "cases",      "val-cases",
      "phantom-seed"};
  for (const auto& kv : a.values)
    if (std::find(known.begin(), known.end(), kv.first) == known.end())
      throw Error("option --" + kv.first + " does not apply to --model-type pnet-msa (see --model-type pnet-msa --help)");
  for (const char* f : {"no-augmentation", "no-evaluate"})
    if (a.has(f))
      throw Error(std::string("option --") + f + " does not apply to --model-type pnet-msa");
  const bool demoMode = !a.positional.empty() && a.positional[0] == "demo";
  if (!a.positional.empty() && !demoMode)
    throw Error("unknown command '" + a.positional[0] + "' (see panseg-train --model-type pnet-msa --help)");
  if (demoMode == (a.values.count("data") > 0))
    throw Error("give either --data DIR or the 'demo' command");
  std::string out = a.get("out");
  while (out.size() > 1 && out.back() == '/')
    out.pop_back(); // the checkpoint goes beside it, to MODEL_DIR.checkpoint
  if (out.empty())
    throw Error("--out MODEL_DIR is required");
  const bool json = a.has("json");

  PNetMsaTrainOptions o;
  o.spec.birnn = !a.has("no-birnn");
  if (a.values.count("in-plane-spacing"))
  {
    const double mm = toDouble(a.get("in-plane-spacing"), "--in-plane-spacing");
    if (mm <= 0)
      throw Error("--in-plane-spacing must be positive (mm)");
    o.spec.inPlaneSpacingYxMm = {mm, mm};
  }
  o.modality = a.get("modality", "CT");
  o.loss = a.has("jaccard") ? "jaccard" : a.get("loss", "jaccard");
  o.epochs = static_cast<int>(toInt(a.get("epochs", "15"), "--epochs"));
  o.cnnEpochs = static_cast<int>(toInt(a.get("cnn-epochs", "0"), "--cnn-epochs"));
  o.iterationsPerEpoch = static_cast<int>(toInt(a.get("iters", "50"), "--iters"));
  o.batch = static_cast<int>(toInt(a.get("batch", "8"), "--batch"));
  o.seed = static_cast<std::uint64_t>(toInt(a.get("seed", "1"), "--seed"));
  o.threads = static_cast<int>(toInt(a.get("threads", "0"), "--threads"));
  o.device = a.get("device", "cpu");
  o.maxSeconds = toDouble(a.get("seconds", "0"), "--seconds");
  o.baseModelDir = a.get("base-model");
  o.learningRate = toDouble(a.get("lr", o.baseModelDir.empty() ? "1e-3" : "1e-4"), "--lr");
  o.rnnLearningRate = toDouble(a.get("rnn-lr", o.baseModelDir.empty() ? "1e-2" : "1e-3"), "--rnn-lr");
  o.outputDir = out;
  o.checkpointDir = out + ".checkpoint";
  o.resume = a.has("resume");
  o.info.version = a.get("version", "1");
  std::string cmd = "panseg-train";
  for (int i = 1; i < argc; ++i)
    cmd += " " + shellQuote(argv[i]);
  o.commandLine = cmd;
  if (!json)
    o.log = [](const std::string& s) {
      std::printf("%s\n", s.c_str());
      std::fflush(stdout);
    };
  else
    o.progress = makeProgress(true);
  o.stop = &g_stop;

  std::vector<PNetMsaTrainCase> train, val;
  if (demoMode)
  {
    const int n = static_cast<int>(toInt(a.get("cases", "12"), "--cases"));
    const int nVal = static_cast<int>(toInt(a.get("val-cases", "2"), "--val-cases"));
    if (n < 2 || nVal < 1 || nVal >= n)
      throw Error("demo needs --cases >= 2 and 1 <= --val-cases < --cases");
    const long seed0 = toInt(a.get("phantom-seed", "1001"), "--phantom-seed");
    if (seed0 <= 1 && seed0 + n > 1)
      throw Error("--phantom-seed range must not include seed 1 (the demo study)");
    for (const char* k : {"folds", "fold", "val-fraction"})
      if (a.values.count(k))
        throw Error(std::string("--") + k + " applies to --data; demo validates on the last --val-cases phantoms");
    train = phantomTrainCases(static_cast<std::uint32_t>(seed0), n);
    val.assign(std::make_move_iterator(train.end() - nVal), std::make_move_iterator(train.end()));
    train.resize(static_cast<std::size_t>(n - nVal));
    o.info.name = a.get("name", "PNet-MSA demo (synthetic phantoms)");
    o.info.demo = true;
    std::ostringstream td;
    td << n - nVal << " synthetic abdominal CT phantoms for training and " << nVal
       << " for validation (panseg::demo::generatePhantom seeds " << seed0 << ".." << seed0 + n - 1
       << ", 96 x 80 x 64 voxels of 3.2 x 3.2 x 3.0 mm); no patient data";
    o.info.trainingData = td.str();
    o.info.description = "Cai et al.'s PNet-MSA (2D, 3 adjacent slices) with the bidirectional ConvLSTM, trained "
                         "by panseg-train on generated phantoms. DEMO ONLY: it has never seen a patient and must "
                         "not be used clinically.";
  }
  else
  {
    const std::string data = a.get("data");
    std::vector<TrainCase> cases = loadDataFolder(data, json);
    std::vector<std::pair<std::string, std::string>> ids;
    for (const TrainCase& c : cases)
      ids.emplace_back(c.id, c.patientId);
    SplitOptions so;
    applySplitOptions(a, so);
    so.seed = o.seed;
    const DataSplit split = splitByPatient(ids, so);
    for (TrainCase& c : cases)
    {
      checkTrainCase(c, 2);
      PNetMsaTrainCase pc{c.id, std::move(c.image), std::move(c.mask)};
      const bool isVal = std::find(split.validationIds.begin(), split.validationIds.end(), pc.id) !=
                         split.validationIds.end();
      (isVal ? val : train).push_back(std::move(pc));
    }
    if (!json)
      std::printf("split: %s\n", split.description.c_str());
    o.info.name = a.get("name", o.baseModelDir.empty() ? "PNet-MSA (panseg-train)" : "");
    o.info.trainingData = std::to_string(train.size() + val.size()) + " cases from " + data;
    if (!o.baseModelDir.empty() && !a.values.count("name"))
      o.info.name = loadModelPackage(o.baseModelDir).info.name + " (fine-tuned)";
  }

  installSignalHandlers(json);
  const PNetMsaTrainResult r = trainPnetMsa(train, val, o);
  if (r.cancelled)
  {
    std::printf("%scancelled%s after %d of %d epochs; continue with the same command and --resume\n",
                json ? "" : "\n",
                g_signal ? (" by signal " + std::to_string(static_cast<int>(g_signal)) + " from pid " +
                            std::to_string(static_cast<int>(g_signalPid)))
                               .c_str()
                         : "",
                static_cast<int>(r.history.size()), r.epochs);
    return 130;
  }
  if (!a.has("keep-checkpoint"))
  {
    std::error_code ec;
    fs::remove_all(o.checkpointDir, ec);
  }
  if (!json)
    std::printf("wrote %s: %s, %lld parameters; validation Dice before %.4f, CNN %.4f, CNN + BiRNN %.4f "
                "(%.0f s)\n",
                r.package.dir.c_str(), r.package.networkSummary().c_str(), static_cast<long long>(r.parameters),
                r.diceUntrained, r.diceCnn, r.diceFinal, r.seconds);
  return 0;
}

/// `panseg-train doctor ...` (models/Doctor.h): the same report as `panseg-worker doctor`.
int runDoctorCommand(int argc, char** argv)
{
  DoctorOptions o;
  o.tool = "panseg-train";
  for (int i = 2; i < argc; ++i)
  {
    const std::string k = argv[i];
    if (k == "--json")
    {
      o.json = true;
      continue;
    }
    if ((k != "--device" && k != "--threads" && k != "--passes") || i + 1 >= argc)
      throw Error(k == "--device" || k == "--threads" || k == "--passes"
                      ? "option " + k + " needs a value"
                      : "unknown option " + k + " for 'doctor' (--device, --threads, --passes, --json)");
    const std::string v = argv[++i];
    if (k == "--device")
      o.device = v;
    else if (k == "--threads")
      o.threads = static_cast<int>(toInt(v, "--threads"));
    else
      o.passes = static_cast<int>(std::clamp<std::int64_t>(toInt(v, "--passes"), 0, 1000));
  }
  return runDoctor(o);
}

int run(int argc, char** argv)
{
  if (argc >= 2 && std::string(argv[1]) == "doctor")
    return runDoctorCommand(argc, argv);
  const Args a = parseArgs(argc, argv);
  const std::string modelType = a.get("model-type", "pansegnet");
  if (modelType == "pnet-msa")
    return runPnetMsa(a, argc, argv); // models/PNetMsaTrainer.h, docs/pnet-msa.md
  if (modelType != "pansegnet" && modelType != guidance::kModelType)
    throw Error("--model-type must be pansegnet, pansegnet-clicks or pnet-msa, not '" + modelType + "'");
  if (a.has("help") || argc < 2)
  {
    std::printf("%s", kUsage);
    return argc < 2 ? 2 : 0;
  }
  const bool demoMode = !a.positional.empty() && a.positional[0] == "demo";
  if (!a.positional.empty() && !demoMode)
    throw Error("unknown command '" + a.positional[0] + "' (see panseg-train --help)");
  const std::string out = a.get("out");
  if (out.empty())
    throw Error("--out MODEL_DIR is required");
  const bool json = a.has("json");

  TrainOptions o;
  std::string cmd = "panseg-train";
  for (int i = 1; i < argc; ++i)
    cmd += " " + shellQuote(argv[i]);
  o.commandLine = cmd;
  o.outputDir = out;
  o.checkpointDir = (fs::path(out) / "checkpoint").string();
  o.plan = planFrom(a.get("plan"));
  o.preprocessing.normalization = "CT";
  o.modelInfo.modality = "CT";
  o.modelInfo.version = "1";

  std::vector<TrainCase> cases;
  std::vector<std::uint32_t> demoSeeds;
  if (demoMode)
  {
    const int n = static_cast<int>(toInt(a.get("cases", "24"), "--cases"));
    const int nVal = static_cast<int>(toInt(a.get("val-cases", "4"), "--val-cases"));
    const long seed0 = toInt(a.get("phantom-seed", "1001"), "--phantom-seed");
    if (n < 2 || nVal < 1 || nVal >= n)
      throw Error("demo needs --cases >= 2 and 1 <= --val-cases < --cases");
    if (seed0 <= 1 && seed0 + n > 1)
      throw Error("--phantom-seed range must not include seed 1 (the demo study)");
    o.epochs = 30;
    o.iterationsPerEpoch = 40;
    o.preprocessing.targetSpacingMm = {6.0, 3.2, 3.2};
    o.modelInfo.name = "PanSegNet demo (synthetic phantoms)";
    o.modelInfo.version = "1";
    o.modelInfo.demo = true;
    o.modelInfo.clinicalUse = false;
    applyCommonOptions(a, o);
    const auto tg = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i)
    {
      demo::PhantomOptions po; // the demo study's grid: 192 x 160 x 64 at 1.6 x 1.6 x 3.0 mm
      po.seed = static_cast<std::uint32_t>(seed0 + i);
      po.generateMr = false;
      po.threads = o.threads;
      demo::Phantom ph = demo::generatePhantom(po);
      TrainCase c;
      c.id = "phantom" + std::to_string(po.seed);
      c.image = std::move(ph.ct);
      c.mask = std::move(ph.pancreas);
      cases.push_back(std::move(c));
      demoSeeds.push_back(po.seed);
      if (i >= n - nVal)
        o.split.validationIds.push_back("phantom" + std::to_string(po.seed));
    }
    const double genSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - tg).count();
    if (!json)
      std::printf("generated %d phantoms (seeds %ld..%ld, %.1f s); validation: the last %d\n", n,
                  seed0, seed0 + n - 1, genSeconds, nVal);
    std::ostringstream td;
    td << n - nVal << " synthetic abdominal CT phantoms for training and " << nVal
       << " for validation (panseg::demo::generatePhantom seeds " << seed0 << ".." << seed0 + n - 1
       << ", 192x160x64 voxels at 1.6x1.6x3.0 mm, CT only, noise 1); no patient data";
    o.modelInfo.trainingData = td.str();
    o.modelInfo.description =
        "A small PanSegNet (same architecture, reduced width and attention) trained by "
        "panseg-train on generated phantoms so that the demo study can be segmented out of the "
        "box. DEMO ONLY: it has never seen a patient and must not be used clinically.";
  }
  else
  {
    const std::string data = a.get("data");
    if (data.empty())
      throw Error("--data DIR (or the 'demo' command) is required");
    applyCommonOptions(a, o);
    cases = loadDataFolder(data, json);
  }
  {
    if (a.values.count("base-model"))
    {
      const ModelPackage base = loadModelPackage(a.get("base-model"));
      o.baseModelDir = base.dir;
      o.plan = base.network;
      o.preprocessing = base.preprocessing;
      o.intensityFromData = !base.preprocessing.intensity.has_value();
      o.classes = base.classes;
      o.modelInfo.modality = base.info.modality;
      o.modelInfo.name = base.info.name + " (fine-tuned)";
      o.clickGuidance = guidance::takesClicks(base); // a click package stays one
      if (!a.values.count("lr"))
        o.initialLearningRate = 1e-3;
      if (a.values.count("plan"))
        throw Error("--plan cannot be combined with --base-model (the base model's plan is used)");
    }
    else if (!demoMode)
      o.preprocessing.targetSpacingMm = medianSpacing(cases);
    if ((a.has("clicks") || modelType == guidance::kModelType) && !o.clickGuidance)
    {
      // A click-conditioned package (docs/interactive.md): 3 guidance channels more.
      o.clickGuidance = true;
      o.plan.inputChannels = 1 + guidance::kChannels;
      if (demoMode)
      {
        o.modelInfo.name = "PanSegNet demo with clicks (synthetic phantoms)";
        o.modelInfo.description =
            "A small click-conditioned PanSegNet (image + positive clicks + negative clicks + "
            "previous mask) fine-tuned by panseg-train --clicks on generated phantoms with "
            "simulated corrections; without clicks it predicts like the demo model. DEMO ONLY: "
            "it has never seen a patient and must not be used clinically.";
      }
      else if (!a.values.count("name"))
        o.modelInfo.name += " with clicks";
    }
    if (o.clickGuidance)
      o.clickSimulation.networkLoopProbability =
          a.values.count("click-loop") ? toDouble(a.get("click-loop"), "--click-loop") : 0.5;
    else if (a.values.count("click-loop"))
      throw Error("--click-loop needs a click-conditioned package (--clicks)");
    if (a.values.count("name"))
      o.modelInfo.name = a.get("name");
    if (!demoMode)
      o.modelInfo.trainingData = std::to_string(cases.size()) + " cases from " + a.get("data");
  }
  if (a.values.count("target-spacing"))
    o.preprocessing.targetSpacingMm = parseSpacing(a.get("target-spacing"));
  if (o.modelInfo.name.empty())
    o.modelInfo.name = "PanSegNet (panseg-train)";

  if (!json)
    std::printf("plan: %s; target spacing %.2f x %.2f x %.2f mm (z, y, x); %d epochs x %d "
                "iterations, batch %d, %s, seed %llu, device %s\n",
                o.plan.summary().c_str(), o.preprocessing.targetSpacingMm[0],
                o.preprocessing.targetSpacingMm[1], o.preprocessing.targetSpacingMm[2], o.epochs,
                o.iterationsPerEpoch, o.batchSize,
                o.loss == LossKind::JaccardCE ? "Jaccard + CE" : "Dice + CE",
                static_cast<unsigned long long>(o.seed), o.device.c_str());
  o.validateInitial = true;

  installSignalHandlers(json);
  const TrainResult r = train(cases, o, makeProgress(json));
  printSummary(r, out, json);
  if (r.cancelled)
  {
    std::printf("%scancelled%s after %d of %d epochs; continue with the same command and "
                "--resume\n",
                json ? "" : "\n",
                g_signal ? (" by signal " + std::to_string(static_cast<int>(g_signal)) + " from pid " +
                            std::to_string(static_cast<int>(g_signalPid)))
                               .c_str()
                         : "",
                r.epochsDone, o.epochs);
    return 130;
  }

  if (r.completed && !a.has("keep-checkpoint"))
  {
    std::error_code ec;
    fs::remove_all(o.checkpointDir, ec);
  }

  if (demoMode && r.completed && !a.has("no-evaluate"))
  {
    // End to end on the demo study itself (seed 1, never trained on), through the workstation's
    // predictor: preprocessing, sliding window without mirroring, export to the original grid.
    demo::PhantomOptions po;
    po.seed = 1;
    po.generateMr = false;
    const demo::Phantom ph = demo::generatePhantom(po);
    ModelPackage pkg = loadModelPackage(out);
    PredictOptions popt;
    popt.device = o.device;
    popt.threads = o.threads;
    popt.tta = false;
    popt.estimate = false;
    popt.maxBatch = 4; // batch-1 Conv3d is slow on Debian's CPU LibTorch (see docs/training.md)
    const auto tp = std::chrono::steady_clock::now();
    const PredictResult pr = predictCase(pkg, ph.ct, popt);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - tp).count();
    std::int64_t inter = 0, na = 0, nb = 0;
    for (std::size_t i = 0; i < pr.mask.voxels.size(); ++i)
    {
      const bool x = pr.mask.voxels[i] == 1, y = ph.pancreas.voxels[i] != 0;
      inter += x && y;
      na += x;
      nb += y;
    }
    const double dice = na + nb ? 2.0 * static_cast<double>(inter) / static_cast<double>(na + nb) : 1.0;
    std::printf("demo study (phantom seed 1, not trained on): Dice %.4f at the original 1.6 x 1.6 x "
                "3.0 mm grid, predicted %.1f mL vs %.1f mL ground truth, %.1f s without mirroring\n",
                dice, pr.volumeMl, ph.pancreasVolumeMl, seconds);
    json::Value d;
    d.type = json::Value::Type::Number;
    d.number = std::round(dice * 1e4) / 1e4;
    if (!pkg.info.metrics.isObject())
      pkg.info.metrics.type = json::Value::Type::Object;
    pkg.info.metrics.object.emplace_back("dice_demo_study_seed1", d);
    json::Value note;
    note.type = json::Value::Type::String;
    note.string = "phantom seed 1 (the demo study), CT, full pipeline without mirroring, original grid";
    pkg.info.metrics.object.emplace_back("dice_demo_study_note", note);
    writePackageMetadata(out, pkg);
  }
  return 0;
}
} // namespace

int main(int argc, char** argv)
{
  // LibTorch's OpenMP threads spin between parallel regions by default; on a shared 2-core
  // machine that spinning took 40-80 % of the time (measured with perf). libgomp reads the wait
  // policy once, when it loads, so set it and start again unless the user chose one.
  if (!std::getenv("OMP_WAIT_POLICY"))
  {
    ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    ::execv("/proc/self/exe", argv); // returns only on failure: then run with the default policy
  }
  try
  {
    return run(argc, argv);
  }
  catch (const Error& e)
  {
    std::fprintf(stderr, "panseg-train: %s\n", e.what());
    return 1;
  }
  catch (const std::exception& e)
  {
    std::fprintf(stderr, "panseg-train: unexpected error: %s\n", e.what());
    return 1;
  }
}
