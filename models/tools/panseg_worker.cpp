// panseg-worker: the process that runs PanSegNet for the workstation (LibTorch never loads into
// the GUI process). It prints one JSON object per line on stdout (protocol in models/README.md)
// and nothing else there; a line "cancel" on stdin or SIGTERM cancels cleanly (the output is
// written atomically, so a cancelled or killed run leaves no partial file).
//
// Torch-free translation unit: only the torch-free APIs of models/ are used here.
#include "core/Error.h"
#include "core/demo/PhantomGenerator.h"
#include "core/io/ImageIO.h"
#include "models/Doctor.h"
#include "models/Json.h"
#include "models/ModelPackage.h"
#include "models/Predictor.h"
#include "models/tools/WorkerBench.h"
#include "core/edit/BoxPrompt.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#ifndef PANSEG_SHARED_DIR
#define PANSEG_SHARED_DIR ""
#endif

namespace
{
using namespace panseg;
using namespace panseg::models;
namespace fs = std::filesystem;

enum Exit
{
  kOk = 0,
  kFailed = 1,
  kExitUsage = 2,
  kCancelled = 3
};

const char* kUsageText = R"(usage:
  panseg-worker predict --model DIR --input PATH --output PATH [--device auto|cpu|cuda[:N]]
                [--no-tta] [--step S] [--fast] [--threads N] [--batch N] [--streams N] [--no-fp16] [--bf16]
                [--largest-component | --no-largest-component] [--probabilities PATH]
                [--no-estimate] [--roi x0,y0,z0,x1,y1,z1 [--roi-margin MM]] [--strict-modality]
                [--clicks "+x,y,z;-x,y,z" [--previous MASK [--previous-label N]]]
      Predict one image; JSON lines on stdout (started, estimate, progress, message, done |
      error | cancelled). --fast = no mirroring and step 1.0 (an explicit --step wins).
      --probabilities writes the foreground probability (float32) on the input's grid.
      --roi: a box prompt (inclusive voxel corners): the network sees only the box plus
      --roi-margin mm (default 10) and the output has labels inside the box, 0 elsewhere.
      --strict-modality: a model/image modality mismatch is an error, not a note.
      --clicks / --previous: for a click-conditioned package (model_type pansegnet-clicks): positive
      and negative clicks (voxel indices of the whole image) and the mask being corrected; any
      other package refuses them. With a previous mask the output is that mask changed only where
      the newest click asks: what the network adds (+) or removes (-) connected to the click,
      within its reach.
      --batch: patches per network call (CPU default 1, bit-exact with the authors' pipeline;
      more is several times faster on the CPU but not bit-exact). --streams: CPU network calls
      at the same time (default 2, bit-exact). --bf16: CPU bfloat16 autocast (faster on CPUs
      with AVX512-BF16 / AMX, not bit-exact). Measured effects: docs/performance.md.
  panseg-worker session --model DIR --input PATH [--device D] [--threads N] [--no-fast] [--strict-modality]
      Interactive session: the model is loaded and the image read once ("ready"), then stdin lines
      "box x0,y0,z0,x1,y1,z1 OUTPUT [MARGIN_MM] [clicks=+x,y,z;-x,y,z] [previous=MASK] [label=N]"
      are each answered by a "done" (or "error",
      "cancelled") event with the request number; "quit" or EOF ends it.
  panseg-worker info --model DIR
      Validate a model package and print it as one JSON line.
  panseg-worker bench [--device auto|cpu|cuda] [--reps N] [--paper-reps N] [--case PATH]
                [--shared DIR] [--skip-paper] [--skip-case] [--fast-only] [--demo-models DIR] [--skip-demo]
                [--skip-levers] [--skip-v2] [--bf16] [--vs-reference [--reference-case ct|mr]] [--interop-threads N]
      Per-patch forward time (fp32, and fp16 on CUDA) for the paper-like and the fixture plan,
      whole-case time with and without TTA on a real CT (pipeline fixture CT plans + fixture
      weights; --fast-only: the --fast mode only), then PNet-MSA + BiRNN (random weights) on the
      same case; the shipped demo packages (DIR/demo, DIR/pnet-msa-demo) on the demo study with
      their Dice; peak RSS and GPU memory. On the CPU also the levers one at a time (patches per
      call, threads, channels-last, --bf16 autocast) with ratios against the authors' settings in
      the same process, and the paper-size network's whole-case estimate. --vs-reference: the
      pipeline fixture's case with the authors' settings' equivalent next to PanSeg's default
      (outputs compared, ratio; with --bf16 also a bf16 run with its label changes and near ties).
      Then the nnU-Net v2 networks of the nnunetv2-pipeline fixture (PlainConvUNet, ResEnc):
      per-patch and whole-case times (--skip-case: per patch only; --skip-v2 leaves them out).
      Human-readable text, not JSON.
  panseg-worker doctor [--device auto|cpu|cuda[:N]] [--threads N] [--passes N] [--json]
      What this worker's LibTorch can do: its version and library, CUDA runtime / cuDNN, whether
      CUDA is usable and why not, GPUs, fp16/bf16/TF32, CPU threads and features, and a smoke
      forward pass (small PanSegNet, random weights) on the device with its time. Text, or one
      JSON object with --json. Exit 1 (reason on stderr) when the device cannot be used.
Exit status: 0 done, 1 error, 2 usage error, 3 cancelled.
Stdin: a line "cancel" cancels (as does SIGTERM; a step that cannot be interrupted is ended after
a 1 s grace, a second signal ends the worker at once). The worker ends with its parent.
)";

/// Bad command line: reported with exit status 2.
struct UsageError : Error
{
  using Error::Error;
};

std::atomic<bool> g_cancel{ false };
std::mutex g_outMutex;
/// The first SIGTERM / SIGINT (0: none yet) and the process that started the worker.
volatile std::sig_atomic_t g_signal = 0;
pid_t g_parent = 0;

/// Async-signal-safe: write(2) only.
void rawStderr(const char* text)
{
  const ssize_t ignored = ::write(2, text, std::strlen(text));
  (void)ignored;
}

bool parentGone()
{
  return g_parent > 1 && ::getppid() != g_parent;
}

/// SIGTERM / SIGINT: cancel at the next check (between network calls), and the watchdog ends the
/// process after a short grace when the current step cannot be interrupted (building a network,
/// one long forward pass). A second signal, or a signal after the parent died, ends it at once.
extern "C" void onSignal(int sig)
{
  if (parentGone())
  {
    rawStderr("panseg-worker: the parent process ended; stopping\n");
    ::_exit(kCancelled);
  }
  if (g_signal != 0)
  {
    rawStderr("panseg-worker: stopped by a second signal\n");
    ::_exit(kCancelled);
  }
  g_signal = sig;
  g_cancel.store(true);
}

/// One JSON object per line, flushed immediately (the client reads line by line).
class Event
{
public:
  explicit Event(const std::string& name) { s_ << "{\"event\":" << json::quote(name); }
  Event& str(const std::string& k, const std::string& v)
  {
    s_ << "," << json::quote(k) << ":" << json::quote(v);
    return *this;
  }
  Event& num(const std::string& k, double v)
  {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.10g", v);
    s_ << "," << json::quote(k) << ":" << buf;
    return *this;
  }
  Event& integer(const std::string& k, long long v)
  {
    s_ << "," << json::quote(k) << ":" << v;
    return *this;
  }
  Event& boolean(const std::string& k, bool v)
  {
    s_ << "," << json::quote(k) << ":" << (v ? "true" : "false");
    return *this;
  }
  /// k: {"value": voxels, ...} for every non-zero value of `mask` (one pass).
  Event& labelVoxels(const std::string& k, const LabelMask& mask)
  {
    std::array<long long, 256> n{};
    for (const std::uint8_t v : mask.voxels)
      ++n[v];
    s_ << "," << json::quote(k) << ":{";
    bool first = true;
    for (int v = 1; v < 256; ++v)
      if (n[v] > 0)
      {
        s_ << (first ? "" : ",") << json::quote(std::to_string(v)) << ":" << n[v];
        first = false;
      }
    s_ << "}";
    return *this;
  }
  Event& null(const std::string& k)
  {
    s_ << "," << json::quote(k) << ":null";
    return *this;
  }
  void emit()
  {
    s_ << "}\n";
    const std::string line = s_.str();
    std::lock_guard<std::mutex> lock(g_outMutex);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
  }

private:
  std::ostringstream s_;
};

std::string oneLine(std::string s)
{
  for (char& c : s)
    if (c == '\n' || c == '\r')
      c = ' ';
  return s;
}

int emitError(const std::string& message, int code = kFailed)
{
  Event("error").str("message", oneLine(message)).emit();
  return code;
}

struct Args
{
  std::string command;
  std::map<std::string, std::string> options;
  std::vector<std::string> positional;
  bool has(const std::string& k) const { return options.count(k) != 0; }
  std::string get(const std::string& k, const std::string& fallback = {}) const
  {
    const auto it = options.find(k);
    return it == options.end() ? fallback : it->second;
  }
  double getDouble(const std::string& k, double fallback) const
  {
    if (!has(k))
      return fallback;
    try
    {
      std::size_t used = 0;
      const double v = std::stod(get(k), &used);
      if (used == get(k).size())
        return v;
    }
    catch (const std::exception&)
    {
    }
    throw UsageError("option " + k + " expects a number, got '" + get(k) + "'");
  }
  int getInt(const std::string& k, int fallback) const
  {
    const double v = getDouble(k, fallback);
    if (v != static_cast<int>(v))
      throw UsageError("option " + k + " expects a whole number, got '" + get(k) + "'");
    return static_cast<int>(v);
  }
};

Args parseArgs(int argc, char** argv)
{
  static const std::vector<std::string> withValue = { "--model", "--input", "--output", "--device",
                                                      "--step", "--threads", "--batch",
                                                      "--probabilities", "--reps", "--paper-reps",
                                                      "--case", "--shared", "--demo-models", "--roi",
                                                       "--roi-margin", "--passes", "--reference-case", "--interop-threads", "--streams",
                                                       "--clicks", "--previous", "--previous-label" };
  Args a;
  for (int i = 1; i < argc; ++i)
  {
    std::string s = argv[i];
    if (s.rfind("--", 0) == 0)
    {
      std::string value;
      const auto eq = s.find('=');
      if (eq != std::string::npos)
      {
        value = s.substr(eq + 1);
        s = s.substr(0, eq);
      }
      else if (std::find(withValue.begin(), withValue.end(), s) != withValue.end())
      {
        if (i + 1 >= argc)
          throw UsageError("option " + s + " needs a value");
        value = argv[++i];
      }
      a.options[s] = value;
    }
    else if (a.command.empty())
      a.command = s;
    else
      a.positional.push_back(s);
  }
  return a;
}

void checkKnown(const Args& a, const std::vector<std::string>& known)
{
  for (const auto& kv : a.options)
    if (std::find(known.begin(), known.end(), kv.first) == known.end())
      throw UsageError("unknown option " + kv.first + " for '" + a.command + "' (see panseg-worker --help)");
  if (!a.positional.empty())
    throw UsageError("unexpected argument '" + a.positional.front() + "'");
}

// Session mode (`panseg-worker session`): stdin lines other than "cancel" are requests, queued
// for the main thread; EOF ends the session.
std::atomic<bool> g_sessionMode{ false };
std::mutex g_requestMutex;
std::condition_variable g_requestCv;
std::deque<std::string> g_requests;
bool g_stdinClosed = false;
bool g_sessionBusy = false; // a request is being answered (guarded by g_requestMutex)

/// Reads stdin lines on a detached thread: "cancel" sets the flag. EOF just ends the thread
/// (a worker started with stdin closed keeps running). In session mode other lines are queued.
void watchStdin()
{
  std::thread(
      []
      {
        std::string line;
        char c;
        while (::read(0, &c, 1) == 1)
        {
          if (c != '\n')
          {
            line += c;
            continue;
          }
          while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
            line.pop_back();
          if (line == "cancel" && g_sessionMode.load())
          {
            // In a session a cancel applies to the request running or queued, never to a later one.
            std::lock_guard<std::mutex> lock(g_requestMutex);
            if (g_sessionBusy || !g_requests.empty())
              g_cancel.store(true);
          }
          else if (line == "cancel")
            g_cancel.store(true);
          else if (g_sessionMode.load() && !line.empty())
          {
            std::lock_guard<std::mutex> lock(g_requestMutex);
            g_requests.push_back(line);
            g_requestCv.notify_one();
          }
          line.clear();
        }
        std::lock_guard<std::mutex> lock(g_requestMutex);
        g_stdinClosed = true;
        g_requestCv.notify_one();
      })
      .detach();
}

/// Seconds a signalled worker may take to stop cooperatively before the watchdog ends it
/// (PANSEG_WORKER_SIGNAL_GRACE_MS overrides, 0..60000 ms).
int signalGraceMs()
{
  const char* env = std::getenv("PANSEG_WORKER_SIGNAL_GRACE_MS");
  const int ms = env && *env ? std::atoi(env) : 1000;
  return std::clamp(ms, 0, 60000);
}

/// Ends the process when the parent is gone (checked every 100 ms, also where PR_SET_PDEATHSIG
/// does not exist) or when a signal was not honoured within the grace period.
void startWatchdog()
{
  std::thread(
      []
      {
        const int graceMs = signalGraceMs();
        int waitedMs = 0;
        for (;;)
        {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          if (parentGone())
          {
            rawStderr("panseg-worker: the parent process ended; stopping\n");
            ::_exit(kCancelled);
          }
          if (g_signal == 0)
            continue;
          waitedMs += 50;
          if (waitedMs < graceMs)
            continue;
          const std::string msg = "panseg-worker: stopped by signal " + std::to_string(static_cast<int>(g_signal)) +
                                  " during a step that cannot be interrupted (after " +
                                  std::to_string(graceMs) + " ms)\n";
          rawStderr(msg.c_str());
          {
            // The client reads "cancelled" as for a cooperative cancel; take the lock briefly so
            // the line does not land inside another one, but never wait on a stuck writer.
            std::unique_lock<std::mutex> lock(g_outMutex, std::defer_lock);
            for (int i = 0; i < 20 && !lock.try_lock(); ++i)
              std::this_thread::sleep_for(std::chrono::milliseconds(5));
            const char line[] = "{\"event\":\"cancelled\",\"forced\":true}\n";
            const ssize_t ignored = ::write(1, line, sizeof line - 1);
            (void)ignored;
          }
          ::_exit(kCancelled);
        }
      })
      .detach();
}

void installCancelHandlers()
{
  struct sigaction sa
  {
  };
  sa.sa_handler = onSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  // Who started us: PANSEG_PARENT_PID when the client sets it (ui::WorkerClient does, so a parent
  // that died before this line is noticed too), else the current parent.
  const char* env = std::getenv("PANSEG_PARENT_PID");
  g_parent = env && *env ? static_cast<pid_t>(std::atol(env)) : ::getppid();
#ifdef __linux__
  // If the workstation dies, the worker is told to stop instead of running on alone.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
  if (parentGone())
  {
    rawStderr("panseg-worker: the parent process ended before the worker started; stopping\n");
    ::_exit(kCancelled);
  }
  startWatchdog();
  watchStdin();
}

/// Test hook (PANSEG_TEST_WORKER_STALL_SECONDS=N): after loading the package, spin for N seconds
/// without looking at the cancel flag, like a step that cannot be interrupted (building a very
/// large network, one paper-size forward pass on a CPU). Lets tests check that SIGTERM and the
/// parent's death still end the worker promptly.
void testStall()
{
  const char* env = std::getenv("PANSEG_TEST_WORKER_STALL_SECONDS");
  if (!env || !*env)
    return;
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(std::atof(env));
  // Tests wait for this line (not a fixed time): the signal handlers and the watchdog are in place.
  Event("message").str("message", "test stall: busy without checking for cancel").emit();
  volatile double sink = 0;
  while (std::chrono::steady_clock::now() < until)
    for (int i = 0; i < 100000; ++i)
      sink = sink + 1.0;
}

/// Patches per call for box prompts, clicks and sessions when --batch is not given: several
/// (oneDNN, Predictor.h kInteractiveBatch) for nnU-Net packages; a PNet-MSA package keeps its
/// own slices per call (its batch is slices of one sequence, not windows).
int interactiveBatch(const ModelPackage& pkg)
{
  return pkg.info.modelType == "pnet-msa" ? 0 : kInteractiveBatch;
}

double secondsSince(std::chrono::steady_clock::time_point t0)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// The clicks of a request for a click-conditioned package: "+x,y,z;-x,y,z" (voxel indices of
/// the whole image) and the mask being corrected (a file on the image's grid, one label), moved
/// into the crop that the network sees when there is one.
struct RequestClicks
{
  ClickGuidance guidance;
  LabelMask previous;     // as the network sees it (cropped)
  LabelMask previousFull; // on the image's grid
  int label = 1;
  std::optional<edit::Click> last; // the newest click, image voxels
  bool given = false;

  RequestClicks(const std::string& clicksText, const std::string& previousPath, int label,
                const Image& image, const edit::Box* crop)
  {
    given = !clicksText.empty() || !previousPath.empty();
    std::size_t start = 0;
    while (start < clicksText.size())
    {
      const std::size_t end = std::min(clicksText.find(';', start), clicksText.size());
      const std::string one = clicksText.substr(start, end - start);
      start = end + 1;
      if (one.empty())
        continue;
      const edit::Click c = edit::parseClick(one, image.geometry, false);
      last = c;
      std::array<std::int64_t, 3> v{ c.voxel[0], c.voxel[1], c.voxel[2] };
      if (crop)
      {
        if (!edit::boxHolds(*crop, c.voxel))
          throw Error("the click " + one + " is outside the region the model sees (" + edit::boxText(*crop) + ")");
        for (std::size_t k = 0; k < 3; ++k)
          v[k] -= crop->lo[k];
      }
      (c.positive ? guidance.positive : guidance.negative).push_back(v);
    }
    if (!previousPath.empty())
    {
      if (label < 1 || label > 255)
        throw Error("the previous mask's label must be 1..255");
      previousFull = readMaskFor(previousPath, image.geometry);
      previous = crop ? edit::cropMask(previousFull, *crop) : previousFull;
      guidance.previousLabel = label;
      this->label = label;
    }
  }
  /// The answer as the user gets it (edit::answerModelClick: only the change the newest click asks
  /// for, or grow from seeds when the network changed nothing there); without a previous mask and
  /// a click the answer itself. `method`: "model", "grow from seeds", or "" without clicks.
  LabelMask accepted(const LabelMask& answer, const edit::Box& box, const std::shared_ptr<const Image>& image,
                     std::string& method) const
  {
    method.clear();
    if (!last || previousFull.voxels.empty())
      return answer;
    return edit::answerModelClick(image, previousFull, label, answer, box, *last, &method);
  }
  /// For PredictOptions::clicks (null when the request has none).
  const ClickGuidance* get()
  {
    if (!given)
      return nullptr;
    guidance.previous = previous.voxels.empty() ? nullptr : &previous;
    return &guidance;
  }
};

PredictOptions predictOptionsFrom(const Args& a)
{
  PredictOptions o;
  o.device = a.get("--device", "auto");
  o.threads = a.getInt("--threads", 0);
  o.tta = !a.has("--no-tta");
  o.fast = a.has("--fast");
  o.step = a.getDouble("--step", 0.0);
  if (a.has("--step") && !(o.step > 0 && o.step <= 1))
    throw UsageError("--step must be in (0, 1], e.g. 0.5 (nnU-Net's default)");
  o.fp16 = a.has("--no-fp16") ? 0 : -1;
  o.maxBatch = a.getInt("--batch", 0);
  if (o.maxBatch < 0)
    throw UsageError("--batch must be positive");
  o.bf16 = a.has("--bf16");
  o.streams = a.getInt("--streams", 0);
  if (o.streams < 0)
    throw UsageError("--streams must be positive");
  if (a.has("--largest-component") && a.has("--no-largest-component"))
    throw UsageError("choose one of --largest-component and --no-largest-component");
  o.largestComponent = a.has("--largest-component") ? 1 : a.has("--no-largest-component") ? 0 : -1;
  o.estimate = !a.has("--no-estimate");
  o.keepProbabilityMap = a.has("--probabilities");
  o.cancel = &g_cancel;
  return o;
}

int cmdPredict(const Args& a)
{
  checkKnown(a, { "--model", "--input", "--output", "--device", "--no-tta", "--step", "--fast",
                  "--threads", "--batch", "--streams", "--no-fp16", "--bf16", "--largest-component",
                  "--no-largest-component", "--probabilities", "--no-estimate", "--roi", "--roi-margin",
                  "--strict-modality", "--clicks", "--previous", "--previous-label" });
  for (const char* k : { "--model", "--input", "--output" })
    if (a.get(k).empty())
      return emitError(std::string("predict needs ") + k + " (see panseg-worker --help)", kExitUsage);
  const std::string input = a.get("--input"), output = a.get("--output");
  const std::string probPath = a.get("--probabilities");
  if (!looksLikeImagePath(output) || fs::is_directory(output))
    throw Error("--output must be an image file path (.nii.gz, .nii, .nrrd, .mha): " + output);
  PredictOptions opt = predictOptionsFrom(a);
  // Box prompt (docs/interactive.md): predict only the box plus a margin, labels inside the box.
  const bool useRoi = a.has("--roi");
  const double roiMarginMm = a.getDouble("--roi-margin", 10.0);
  if (useRoi && !(roiMarginMm >= 0.0 && roiMarginMm <= 200.0))
    throw UsageError("--roi-margin must be 0..200 mm");
  if (useRoi && !probPath.empty())
    throw UsageError("--probabilities and --roi exclude each other");
  const ModelPackage pkg = loadModelPackage(a.get("--model"));
  if ((useRoi || a.has("--clicks") || a.has("--previous")) && !a.has("--batch"))
    opt.maxBatch = interactiveBatch(pkg); // interactive: oneDNN, as in the session
  if (const std::string note = unverifiedWeightsNote(pkg); !note.empty())
    Event("message").str("message", note).emit();
  testStall();

  auto lastEmit = std::chrono::steady_clock::now() - std::chrono::seconds(10);
  double lastFraction = -1.0;
  opt.progress = [&](const PredictProgress& p)
  {
    const auto now = std::chrono::steady_clock::now();
    // At most ~5 lines a second, but every phase change and the end.
    if (p.fraction >= 1.0 || p.fraction - lastFraction >= 0.01 ||
        now - lastEmit > std::chrono::milliseconds(200))
    {
      Event e("progress");
      e.num("fraction", p.fraction).str("message", p.message);
      if (p.etaSeconds >= 0)
        e.num("eta_seconds", p.etaSeconds);
      e.emit();
      lastEmit = now;
      lastFraction = p.fraction;
    }
    return !g_cancel.load();
  };
  opt.message = [](const std::string& m) { Event("message").str("message", oneLine(m)).emit(); };
  opt.onEstimate = [](const PredictEstimate& e)
  {
    Event("estimate")
        .integer("forward_passes", e.forwardPasses)
        .integer("windows", e.windows)
        .integer("folds", e.folds)
        .num("seconds_per_pass", e.secondsPerPass)
        .num("seconds", e.seconds)
        .str("device", e.device)
        .emit();
  };

  const auto t0 = std::chrono::steady_clock::now();
  Predictor predictor(pkg, opt);
  const nnunet::SlidingWindowOptions so = slidingWindowOptionsFor(pkg, opt);
  Event("started")
      .str("model", pkg.id())
      .str("model_dir", pkg.dir)
      .str("modality", pkg.info.modality)
      .boolean("demo", pkg.info.demo)
      .str("input", input)
      .str("output", output)
      .str("device", predictor.device())
      .boolean("fp16", predictor.fp16())
      .boolean("bf16", predictor.bf16())
      .integer("batch", predictor.batch())
      .integer("streams", predictor.streams())
      .integer("threads", cpuThreads())
      .boolean("tta", so.mirror)
      .num("step", so.stepSize)
      .integer("pid", ::getpid())
      .boolean("weights_verified", pkg.weightsVerified)
      .emit();
  if (g_cancel.load())
    throw Error("cancelled");
  Event("progress").num("fraction", 0.0).str("message", "reading " + input).emit();
  const auto imagePtr = std::make_shared<const Image>(readImage(input, [](double) { return !g_cancel.load(); }));
  const Image& image = *imagePtr;
  if (a.has("--strict-modality"))
    edit::checkModality(image, pkg.info.modality, pkg.id());
  edit::Box roi, crop;
  if (useRoi)
  {
    roi = edit::parseBox(a.get("--roi"), image.geometry, false);
    crop = edit::boxWithMarginMm(roi, image.geometry, roiMarginMm);
  }
  RequestClicks clicks(a.get("--clicks"), a.get("--previous"), a.getInt("--previous-label", 1), image,
                       useRoi ? &crop : nullptr);
  opt.clicks = clicks.get();
  PredictResult r = predictor.predict(useRoi ? edit::cropImage(image, crop) : image, opt);
  if (g_cancel.load())
    throw Error("cancelled");
  if (useRoi)
  {
    // Labels inside the box only (the margin gave the network context); 0 elsewhere.
    r.mask = edit::pasteInside(image.geometry, r.mask, crop, roi);
  }
  std::string clickMethod;
  if (clicks.given)
  {
    edit::Box whole;
    whole.hi = { image.geometry.size[0], image.geometry.size[1], image.geometry.size[2] };
    r.mask = clicks.accepted(r.mask, useRoi ? roi : whole, imagePtr, clickMethod);
  }
  if (useRoi || clicks.given)
  {
    r.foregroundVoxels = r.mask.countLabel(0);
    r.volumeMl = r.mask.volumeMl(0);
  }
  // Atomic writes (temporary sibling + rename): a reader never sees a partial mask.
  fs::path outDir = fs::path(output).parent_path();
  if (!outDir.empty())
    fs::create_directories(outDir);
  writeMask(r.mask, output);
  if (!probPath.empty())
    writeImage(r.foregroundProbability, probPath);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Event done("done");
  done.str("output", output)
      .num("volume_ml", r.volumeMl)
      .integer("voxels", r.foregroundVoxels)
      .labelVoxels("label_voxels", r.mask)
      .num("voxel_ml", r.mask.geometry.voxelVolumeMm3() / 1000.0)
      .num("seconds", seconds)
      .num("predict_seconds", r.seconds)
      .integer("forward_passes", r.forwardPasses)
      .integer("windows", r.windows)
      .str("device", r.device)
      .boolean("fp16", r.fp16)
      .boolean("bf16", r.bf16)
      .boolean("fell_back_to_cpu", r.fellBackToCpu)
      .integer("batch", r.finalBatch)
      .integer("largest_component_removed", r.largestComponentRemoved)
      .str("model", pkg.id())
      .str("model_dir", pkg.dir)
      .boolean("demo", pkg.info.demo);
  if (useRoi)
    done.str("roi", edit::boxText(roi)).str("crop", edit::boxText(crop)).num("roi_margin_mm", roiMarginMm);
  if (!clickMethod.empty())
    done.str("click_method", clickMethod);
  if (probPath.empty())
    done.null("probabilities");
  else
    done.str("probabilities", probPath);
  done.emit();
  return kOk;
}

/// `panseg-worker session`: the model loaded once and the image read once, then box requests on
/// stdin answered one after the other (docs/interactive.md):
///   box x0,y0,z0,x1,y1,z1 OUTPUT [MARGIN_MM]   -> done {request, output, roi, crop, seconds, ...}
///   quit (or EOF)                               -> the worker ends (exit 0)
///   cancel                                      -> the running box stops: cancelled {request}
/// A bad request is an `error` event with its request number; the session goes on.
int cmdSession(const Args& a)
{
  checkKnown(a, { "--model", "--input", "--device", "--threads", "--no-tta", "--no-fast", "--strict-modality",
                  "--no-estimate", "--batch", "--streams", "--bf16" });
  for (const char* k : { "--model", "--input" })
    if (a.get(k).empty())
      return emitError(std::string("session needs ") + k + " (see panseg-worker --help)", kExitUsage);
  const auto t0 = std::chrono::steady_clock::now();
  PredictOptions opt = predictOptionsFrom(a);
  opt.fast = !a.has("--no-fast");
  opt.estimate = false;
  opt.message = [](const std::string& m) { Event("message").str("message", oneLine(m)).emit(); };
  const ModelPackage pkg = loadModelPackage(a.get("--model"));
  if (!a.has("--batch"))
    opt.maxBatch = interactiveBatch(pkg); // a box or a click in a fraction of the time (Predictor.h)
  Predictor predictor(pkg, opt);
  const auto imagePtr =
      std::make_shared<const Image>(readImage(a.get("--input"), [](double) { return !g_cancel.load(); }));
  const Image& image = *imagePtr;
  if (a.has("--strict-modality"))
    edit::checkModality(image, pkg.info.modality, pkg.id());
  Event("ready")
      .str("model", pkg.id())
      .str("input", a.get("--input"))
      .str("device", predictor.device())
      .integer("threads", cpuThreads())
      .num("seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count())
      .integer("pid", ::getpid())
      .emit();
  long long request = 0;
  for (;;)
  {
    std::string line;
    {
      std::unique_lock<std::mutex> lock(g_requestMutex);
      g_requestCv.wait(lock, [] { return !g_requests.empty() || g_stdinClosed; });
      if (g_requests.empty())
        return kOk; // stdin closed
      line = g_requests.front();
      g_requests.pop_front();
      g_sessionBusy = true;
    }
    struct Idle // the request is over: a later cancel no longer applies to it
    {
      ~Idle()
      {
        std::lock_guard<std::mutex> lock(g_requestMutex);
        g_sessionBusy = false;
        g_cancel.store(false);
      }
    } idle;
    std::istringstream in(line);
    std::string verb, boxText, output, marginText;
    in >> verb >> boxText >> output;
    // Then optionally MARGIN_MM and key=value options (clicks=, previous=, label=).
    std::map<std::string, std::string> options;
    for (std::string tok; in >> tok;)
    {
      const std::size_t eq = tok.find('=');
      if (eq == std::string::npos && marginText.empty() && options.empty())
        marginText = tok;
      else if (eq != std::string::npos)
        options[tok.substr(0, eq)] = tok.substr(eq + 1);
      else
        marginText = "?" + tok;
    }
    if (verb == "quit")
      return kOk;
    ++request;
    try
    {
      if (verb != "box" || boxText.empty() || output.empty())
        throw Error("unknown request '" + line + "' (box x0,y0,z0,x1,y1,z1 OUTPUT [MARGIN_MM] "
                    "[clicks=+x,y,z;-x,y,z] [previous=MASK] [label=N], quit)");
      for (const auto& kv : options)
        if (kv.first != "clicks" && kv.first != "previous" && kv.first != "label")
          throw Error("unknown option '" + kv.first + "' (clicks=, previous=, label=)");
      double margin = 10.0;
      if (!marginText.empty())
      {
        char* end = nullptr;
        margin = std::strtod(marginText.c_str(), &end);
        if (*end != '\0' || !(margin >= 0.0 && margin <= 200.0))
          throw Error("the margin must be 0..200 mm, got '" + marginText + "'");
      }
      const auto r0 = std::chrono::steady_clock::now();
      const edit::Box roi = edit::parseBox(boxText, image.geometry, false);
      const edit::Box crop = edit::boxWithMarginMm(roi, image.geometry, margin);
      PredictOptions o = opt;
      o.cancel = &g_cancel;
      int label = 1;
      if (const auto it = options.find("label"); it != options.end())
      {
        char* end = nullptr;
        const long v = std::strtol(it->second.c_str(), &end, 10);
        if (it->second.empty() || *end != '\0' || v < 1 || v > 255)
          throw Error("label= must be 1..255, got '" + it->second + "'");
        label = static_cast<int>(v);
      }
      RequestClicks clicks(options["clicks"], options["previous"], label, image, &crop);
      o.clicks = clicks.get();
      const double readSeconds = secondsSince(r0);
      PredictResult r = predictor.predict(edit::cropImage(image, crop), o);
      if (g_cancel.load())
        throw Error("cancelled");
      const auto a0 = std::chrono::steady_clock::now();
      std::string clickMethod;
      const LabelMask mask =
          clicks.accepted(edit::pasteInside(image.geometry, r.mask, crop, roi), roi, imagePtr, clickMethod);
      const double answerSeconds = secondsSince(a0);
      const auto w0 = std::chrono::steady_clock::now();
      fs::path outDir = fs::path(output).parent_path();
      if (!outDir.empty())
        fs::create_directories(outDir);
      writeMask(mask, output);
      const double writeSeconds = secondsSince(w0);
      Event done("done");
      done.integer("request", request)
          .str("output", output)
          .str("roi", edit::boxText(roi))
          .str("crop", edit::boxText(crop))
          .integer("voxels", mask.countLabel(0))
          .num("volume_ml", mask.volumeMl(0))
          .integer("forward_passes", r.forwardPasses)
          .num("seconds", secondsSince(r0))
          // Where the time went: parsing and reading the previous mask, the predictor's three
          // phases, taking the answer (edit::answerModelClick), writing OUTPUT.
          .num("read_seconds", readSeconds)
          .num("preprocess_seconds", r.preprocessSeconds)
          .num("network_seconds", r.networkSeconds)
          .num("export_seconds", r.exportSeconds)
          .num("answer_seconds", answerSeconds)
          .num("write_seconds", writeSeconds)
          .str("device", r.device);
      if (!clickMethod.empty())
        done.str("click_method", clickMethod);
      done.emit();
    }
    catch (const Error& e)
    {
      if (g_cancel.load() || std::string(e.what()) == "cancelled")
        Event("cancelled").integer("request", request).emit();
      else
        Event("error").integer("request", request).str("message", oneLine(e.what())).emit();
    }
  }
}

int cmdInfo(const Args& a)
{
  checkKnown(a, { "--model" });
  const ModelPackage pkg = loadModelPackage(a.get("--model"));
  Event("model")
      .str("dir", pkg.dir)
      .str("name", pkg.info.name)
      .str("version", pkg.info.version)
      .str("id", pkg.id())
      .str("modality", pkg.info.modality)
      .str("model_type", pkg.info.modelType)
      .boolean("demo", pkg.info.demo)
      .boolean("clinical_use", pkg.info.clinicalUse)
      .str("network", pkg.networkSummary())
      .str("speed_class", pkg.info.speedClass)
      .str("normalization", pkg.preprocessing.normalization)
      .integer("tensors", static_cast<long long>(pkg.weights.size()))
      .integer("weights_bytes", pkg.weightsBytes)
      .str("weights_sha256", pkg.weightsSha256)
      .boolean("weights_verified", pkg.weightsVerified)
      .emit();
  return kOk;
}

// ---- bench --------------------------------------------------------------------------------------

double median(std::vector<double> v)
{
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

/// The two shipped demo packages (PanSegNet and PNet-MSA, trained on generated phantoms) on the
/// demo study (phantom seed 1, never trained on): whole-case time and Dice against its truth.
void benchDemoPackages(const std::string& dir, const PredictOptions& base, int reps)
{
  const std::string pansegnetDir = dir + "/demo", pnetDir = dir + "/pnet-msa-demo";
  if (dir.empty() || !fs::is_directory(pansegnetDir) || !fs::is_directory(pnetDir))
  {
    std::printf("\ndemo packages skipped: %s/{demo,pnet-msa-demo} absent\n", dir.empty() ? "--demo-models" : dir.c_str());
    return;
  }
  demo::PhantomOptions po;
  po.seed = 1;
  po.generateMr = false;
  const demo::Phantom ph = demo::generatePhantom(po);
  std::printf("\ndemo packages on the demo study (phantom seed 1, %lld x %lld x %lld, not trained on), Dice "
              "against its truth\n",
              static_cast<long long>(ph.ct.geometry.size[0]), static_cast<long long>(ph.ct.geometry.size[1]),
              static_cast<long long>(ph.ct.geometry.size[2]));
  std::printf("%-34s %8s %10s %10s %8s\n", "model", "passes", "median s", "net s", "Dice");
  struct Row
  {
    const char* name;
    std::string dir;
    bool fast;
  };
  double pansegnetSeconds = 0.0, pnetSeconds = 0.0;
  for (const Row& row : { Row{ "PanSegNet demo, no TTA", pansegnetDir, false },
                          Row{ "PanSegNet demo, --fast", pansegnetDir, true },
                          Row{ "PNet-MSA demo (2D + BiRNN)", pnetDir, false } })
  {
    try
    {
      const ModelPackage pkg = loadModelPackage(row.dir);
      PredictOptions o = base;
      o.tta = false;
      o.fast = row.fast;
      Predictor predictor(pkg, o);
      std::vector<double> total, net;
      PredictResult r;
      for (int i = 0; i < reps + 1; ++i) // the first run warms up (not counted)
      {
        r = predictor.predict(ph.ct, o);
        if (i == 0)
          continue;
        total.push_back(r.seconds);
        net.push_back(r.networkSeconds);
      }
      std::int64_t inter = 0, na = 0, nb = 0;
      for (std::size_t i = 0; i < r.mask.voxels.size(); ++i)
      {
        const bool x = r.mask.voxels[i] != 0, y = ph.pancreas.voxels[i] != 0;
        inter += x && y;
        na += x;
        nb += y;
      }
      const double dice = na + nb ? 2.0 * static_cast<double>(inter) / static_cast<double>(na + nb) : 1.0;
      std::printf("%-34s %8lld %10.2f %10.2f %8.4f\n", row.name, static_cast<long long>(r.forwardPasses),
                  median(total), median(net), dice);
      std::fflush(stdout);
      if (pkg.isPnetMsa())
        pnetSeconds = median(total);
      else if (!row.fast)
        pansegnetSeconds = median(total);
    }
    catch (const Error& e)
    {
      std::printf("%-34s failed: %s\n", row.name, e.what());
    }
  }
  if (pansegnetSeconds > 0 && pnetSeconds > 0)
    std::printf("whole-case time ratio PanSegNet demo (no TTA) / PNet-MSA demo = %.2f\n", pansegnetSeconds / pnetSeconds);
}

int cmdBench(const Args& a)
{
  checkKnown(a, { "--device", "--reps", "--paper-reps", "--case", "--shared", "--skip-paper",
                  "--skip-case", "--threads", "--fast-only", "--demo-models", "--skip-demo", "--skip-levers", "--skip-v2",
                  "--bf16", "--vs-reference", "--reference-case", "--interop-threads" });
  // Before any parallel work: LibTorch accepts the inter-op pool size only then.
  if (a.has("--interop-threads") && !setInteropThreads(a.getInt("--interop-threads", 0)))
    throw UsageError("--interop-threads could not be applied (LibTorch already started its inter-op pool)");
  const std::string referenceCase = a.get("--reference-case", "ct");
  if (referenceCase != "ct" && referenceCase != "mr")
    throw UsageError("--reference-case must be ct or mr, got '" + referenceCase + "'");
  const std::string shared = a.get("--shared", std::getenv("PANSEG_SHARED_DIR") && *std::getenv("PANSEG_SHARED_DIR")
                                                   ? std::getenv("PANSEG_SHARED_DIR")
                                                   : PANSEG_SHARED_DIR);
  PredictOptions base;
  base.device = resolveDevice(a.get("--device", "auto"));
  base.threads = a.getInt("--threads", 0);
  base.estimate = false;
  const bool cuda = base.device.rfind("cuda", 0) == 0;
  const int reps = std::max(1, a.getInt("--reps", cuda ? 20 : 3));
  const int paperReps = std::max(1, a.getInt("--paper-reps", cuda ? 20 : 1));

  // Load the fixture-derived CT package first (configures threads).
  const std::string ctPlans = shared + "/fixtures/pansegnet-pipeline/ct/plans.json";
  const std::string parity = shared + "/fixtures/pansegnet-parity";
  std::unique_ptr<Predictor> predictor;
  ModelPackage pkg;
  const bool haveFixture = fs::is_regular_file(ctPlans) && fs::is_regular_file(parity + "/weights.bin");
  if (haveFixture)
  {
    pkg = packageFromPipelineFixture(ctPlans, parity);
    predictor = std::make_unique<Predictor>(pkg, base);
  }
  std::printf("PanSegNet prediction benchmark\n");
  std::printf("device: %s\n", describeDevice(base.device).c_str());
  std::printf("repetitions: %d (paper-like plan: %d), medians\n\n", reps, paperReps);
  std::fflush(stdout);

  std::printf("%-44s %-14s %12s %10s %12s\n", "per-patch forward pass (batch 1)", "precision", "median ms",
              "min ms", "GPU peak MiB");
  struct PlanCase
  {
    std::string name;
    PlanConfig plan;
    int reps;
  };
  std::vector<PlanCase> plans;
  if (!a.has("--skip-paper"))
    plans.push_back({ "paper-like 32x224x224 (43.9 M params)", PlanConfig::paperLike(), paperReps });
  plans.push_back({ "demo/fixture 16x48x80 (0.48 M params)", PlanConfig::fixture(), reps });
  double paperFp32Ms = 0.0;
  for (const PlanCase& pc : plans)
    for (bool fp16 : { false, true })
    {
      if (fp16 && !cuda)
        continue;
      const ForwardTiming t = benchForwardPass(pc.plan, pc.name, base.device, fp16, pc.reps, cuda ? 3 : 1);
      char gpu[32] = "-";
      if (t.gpuPeakMb >= 0)
        std::snprintf(gpu, sizeof gpu, "%.0f", t.gpuPeakMb);
      std::printf("%-44s %-14s %12.1f %10.1f %12s\n", pc.name.c_str(), t.precision.c_str(), t.medianMs,
                  t.minMs, gpu);
      std::fflush(stdout);
      if (!fp16 && pc.name.rfind("paper", 0) == 0)
        paperFp32Ms = t.medianMs;
    }
  // CPU: the paper-size network's whole-case estimate and the levers one at a time
  // (docs/performance.md).
  if (!cuda && paperFp32Ms > 0)
    bench::paperEstimate(base, paperFp32Ms, paperReps, a.has("--bf16"));
  if (!cuda && haveFixture && !a.has("--skip-levers"))
    bench::cpuLevers(pkg, base, reps);
  if (a.has("--vs-reference"))
    bench::vsReference(shared, referenceCase, base, a.has("--bf16"));
  // nnU-Net v2 networks next to PanSegNet (issue 18): per patch and whole case.
  if (!a.has("--skip-v2"))
    bench::nnunetV2Rows(shared, base, cuda ? 20 : std::max(1, reps), !a.has("--skip-case"));

  if (!a.has("--skip-case"))
  {
    const std::string casePath = a.get("--case", shared + "/data/totalsegmentator/ct_full/example_ct.nii.gz");
    if (!haveFixture)
      std::printf("\nwhole case skipped: pipeline/parity fixtures absent under %s\n", shared.c_str());
    else if (!fs::exists(casePath))
      std::printf("\nwhole case skipped: %s absent\n", casePath.c_str());
    else
    {
      const Image ct = readImage(casePath);
      std::printf("\nwhole case: %s (%lld x %lld x %lld), fixture network with the pipeline fixture's CT plans\n",
                  casePath.c_str(), static_cast<long long>(ct.geometry.size[0]),
                  static_cast<long long>(ct.geometry.size[1]), static_cast<long long>(ct.geometry.size[2]));
      std::printf("%-34s %8s %10s %10s %10s %10s %8s\n", "mode", "passes", "median s", "prep s", "net s",
                  "export s", "mL");
      std::fflush(stdout);
      struct Mode
      {
        const char* name;
        bool tta;
        bool fast;
      };
      const int caseReps = cuda ? 3 : 1;
      double fastSeconds = 0.0;
      for (const Mode& m : { Mode{ "TTA (8 mirrors), step 0.5", true, false },
                             Mode{ "no TTA, step 0.5", false, false }, Mode{ "--fast (no TTA, step 1.0)", false, true } })
      {
        if (a.has("--fast-only") && !m.fast)
          continue;
        PredictOptions o = base;
        o.tta = m.tta;
        o.fast = m.fast;
        std::vector<double> total, prep, net, exp;
        PredictResult r;
        for (int i = 0; i < caseReps; ++i)
        {
          r = predictor->predict(ct, o);
          total.push_back(r.seconds);
          prep.push_back(r.preprocessSeconds);
          net.push_back(r.networkSeconds);
          exp.push_back(r.exportSeconds);
        }
        std::printf("%-34s %8lld %10.2f %10.2f %10.2f %10.2f %8.1f\n", m.name,
                    static_cast<long long>(r.forwardPasses), median(total), median(prep), median(net),
                    median(exp), r.volumeMl);
        std::fflush(stdout);
        if (m.fast)
          fastSeconds = median(total);
      }
      // The second model family on the same case: PNet-MSA + BiRNN (2D, docs/pnet-msa.md), random
      // weights (the time does not depend on them), 8 slices per network call.
      const fs::path pnetDir = fs::temp_directory_path() / ("panseg_bench_pnet_" + std::to_string(::getpid()));
      try
      {
        const ModelPackage pnetPkg = writeRandomPnetMsaPackage(pnetDir.string(), "CT", 0);
        Predictor pnet(pnetPkg, base);
        std::vector<double> total, prep, net, exp;
        PredictResult r;
        for (int i = 0; i < caseReps + 1; ++i) // the first run warms up (not counted)
        {
          r = pnet.predict(ct, base);
          if (i == 0)
            continue;
          total.push_back(r.seconds);
          prep.push_back(r.preprocessSeconds);
          net.push_back(r.networkSeconds);
          exp.push_back(r.exportSeconds);
        }
        std::printf("%-34s %8lld %10.2f %10.2f %10.2f %10.2f %8.1f\n", "PNet-MSA + BiRNN (2D, 8 slices/call)",
                    static_cast<long long>(r.forwardPasses), median(total), median(prep), median(net),
                    median(exp), r.volumeMl);
        std::printf("PNet-MSA: %s, %lld parameters, %s at %.4g x %.4g mm in-plane; whole-case time ratio "
                    "PanSegNet --fast / PNet-MSA = %.2f (PanSegNet here is the 0.48 M fixture-size network)\n",
                    pnetPkg.networkSummary().c_str(), static_cast<long long>(pnet.parameterCount()),
                    std::to_string(r.windows).append(" slices").c_str(), pnetPkg.pnet.inPlaneSpacingYxMm[0],
                    pnetPkg.pnet.inPlaneSpacingYxMm[1], fastSeconds > 0 ? fastSeconds / median(total) : 0.0);
      }
      catch (const Error& e)
      {
        std::printf("PNet-MSA row failed: %s\n", e.what());
      }
      std::error_code ec;
      fs::remove_all(pnetDir, ec);
    }
  }
  if (!a.has("--skip-demo"))
    benchDemoPackages(a.get("--demo-models", ""), base, cuda ? 3 : 1);
  std::printf("\npeak RSS: %.0f MiB", peakRssMb());
  const double gpu = gpuPeakMemoryMb();
  if (gpu >= 0)
    std::printf(", GPU peak allocated (since the last reset): %.0f MiB", gpu);
  std::printf("\n");
  return kOk;
}
int cmdDoctor(const Args& a)
{
  checkKnown(a, { "--device", "--threads", "--passes", "--json" });
  DoctorOptions o;
  o.tool = "panseg-worker";
  o.device = a.get("--device", "auto");
  o.threads = a.getInt("--threads", 0);
  o.passes = a.getInt("--passes", 3);
  if (o.passes < 0 || o.passes > 1000)
    throw UsageError("--passes must be 0..1000");
  o.json = a.has("--json");
  return runDoctor(o);
}
} // namespace

int main(int argc, char** argv)
{
  std::string command;
  try
  {
    const Args a = parseArgs(argc, argv);
    command = a.command;
    if (a.command.empty() || a.command == "help" || a.has("--help") || a.has("-h"))
    {
      std::fputs(kUsageText, a.command.empty() && !a.has("--help") ? stderr : stdout);
      return a.command.empty() && !a.has("--help") ? kExitUsage : kOk;
    }
    if (a.command == "--version" || a.has("--version"))
    {
      std::printf("panseg-worker (LibTorch %s)\n", describeDevice("cpu").c_str());
      return kOk;
    }
    if (a.command == "predict")
    {
      installCancelHandlers();
      return cmdPredict(a);
    }
    if (a.command == "info")
    {
      installCancelHandlers();
      return cmdInfo(a);
    }
    if (a.command == "session")
    {
      g_sessionMode.store(true);
      installCancelHandlers();
      return cmdSession(a);
    }
    if (a.command == "bench")
    {
      installCancelHandlers();
      return cmdBench(a);
    }
    if (a.command == "doctor")
      return cmdDoctor(a);
    return emitError("unknown command '" + a.command + "' (predict, session, info, bench, doctor; see --help)",
                     kExitUsage);
  }
  catch (const UsageError& e)
  {
    if (command == "bench" || command == "doctor")
    {
      std::fprintf(stderr, "panseg-worker: error: %s\n", e.what());
      return kExitUsage;
    }
    return emitError(e.what(), kExitUsage);
  }
  catch (const Error& e)
  {
    const std::string m = e.what();
    if (m == "cancelled" || g_cancel.load())
    {
      Event("cancelled").emit();
      return kCancelled;
    }
    if (command == "bench" || command == "doctor")
    {
      std::fprintf(stderr, "panseg-worker: error: %s\n", oneLine(m).c_str());
      return kFailed;
    }
    return emitError(m);
  }
  catch (const std::exception& e)
  {
    if (g_cancel.load())
    {
      Event("cancelled").emit();
      return kCancelled;
    }
    return emitError(std::string("unexpected error: ") + e.what());
  }
}
