#pragma once
// PanSegNet prediction of one image, nnU-Net v1 style: core/preprocess (crop, resample,
// normalise) -> sliding window with Gaussian weighting and mirror TTA (network in LibTorch) ->
// export to the input's exact geometry -> optional largest connected component.
//
// The API is torch-free (the implementation is not), so the worker and the tests include it
// without compiling torch headers. Still: link it only into processes that may load LibTorch
// (never the GUI; see docs/architecture.md).
#include "models/ModelPackage.h"

#include "core/Volume.h"
#include "core/preprocess/Common.h"
#include "core/preprocess/SlidingWindow.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace panseg::models
{
struct PredictProgress
{
  double fraction = 0.0; // 0..1 over the whole case
  std::string message;   // "preprocessing", "network: 24 of 160 forward passes", "exporting", ...
  /// Remaining time (core/Eta.h: from the measured rate of forward passes, smoothed; counts down,
  /// rises only on a sustained slow-down), -1 unknown (the first calls of the network phase).
  double etaSeconds = -1;
};

struct PredictEstimate
{
  std::int64_t forwardPasses = 0; // windows x mirror variants
  std::int64_t windows = 0;
  double secondsPerPass = 0.0;    // measured with one forward pass of the real patch size
  double seconds = 0.0;           // forwardPasses x secondsPerPass (+ export allowance)
  std::int64_t folds = 1;         // networks averaged (nnU-Net v2 fold ensembles); included in forwardPasses
  std::string device;
};

/// Clicks and the mask being corrected, for click-conditioned packages (models/Guidance.h).
/// Coordinates are voxel indices (x, y, z) of the image given to predict().
struct ClickGuidance
{
  std::vector<std::array<std::int64_t, 3>> positive; // "add here"
  std::vector<std::array<std::int64_t, 3>> negative; // "remove here"
  const LabelMask* previous = nullptr; // on the image's grid; null = no previous mask
  int previousLabel = 1;               // the label of `previous` being corrected
};

struct PredictOptions
{
  std::string device = "auto"; // "cpu", "cuda", "cuda:N", "auto" (CUDA when available)
  int threads = 0;             // CPU threads (<= 0: all cores)
  bool tta = true;             // 8-way mirroring (the package's mirror axes)
  double step = 0.0;           // sliding-window step as a fraction of the patch; 0: the package's (0.5)
  /// --fast: no mirroring and step 1.0 (windows touch instead of overlapping by half). About
  /// 8 x (windows at 0.5 / windows at 1.0) fewer forward passes; slightly less accurate.
  bool fast = false;
  int fp16 = -1;               // CUDA autocast: -1 on for CUDA (nnUNet_predict's default), 0 off, 1 on
  /// CPU bfloat16 autocast (convolutions and matrix products in bfloat16, the rest float32): faster
  /// on CPUs with AVX512-BF16 or AMX, not bit-exact (docs/performance.md has the measured label
  /// differences); ignored on CUDA (fp16 there).
  bool bf16 = false;
  /// Patches per network call (v1: window x mirror passes in order, so 8 = the 8 mirrors of one
  /// window, 16 = two windows; v2: mirror variants of one window, at most 8). 0: 4 on CUDA,
  /// kCpuDefaultBatch on the CPU. On the CPU more than one patch per call is much faster but not
  /// bit-exact: LibTorch then takes oneDNN's convolution instead of the one a single patch gets
  /// (the authors' nnUNet_predict path); docs/performance.md has the measured differences.
  int maxBatch = 0;
  /// CPU: network calls run at the same time, each on threads / streams intra-op threads (a single
  /// patch's convolution uses one core, so this is how one-patch calls use several cores; results
  /// are bit-identical to one stream). 0: kCpuDefaultStreams capped by the threads; ignored on CUDA.
  int streams = 0;
  /// Channels-last 3-D memory format for the network (CPU experiment, docs/performance.md).
  bool channelsLast = false;
  int largestComponent = -1;   // -1: the package's postprocessing; 0: off; 1: every foreground label
  bool keepProbabilities = false; // fill PredictResult::probabilities
  bool keepProbabilityMap = false; // fill PredictResult::foregroundProbability
  bool estimate = true;           // time one forward pass first and report onEstimate
  /// Progress; return false to cancel (predictCase then throws panseg::Error("cancelled")).
  std::function<bool(const PredictProgress&)> progress;
  std::function<void(const PredictEstimate&)> onEstimate;
  /// Notes for the user (device fallback after GPU out-of-memory, modality mismatch, ...).
  std::function<void(const std::string&)> message;
  /// Polled between network calls; true cancels like progress returning false.
  const std::atomic<bool>* cancel = nullptr;
  /// Clicks for a click-conditioned package (null or empty: its automatic mode). Given to any
  /// other package, predict() throws panseg::Error ("has no click channels").
  const ClickGuidance* clicks = nullptr;
};

/// Patches per network call on the CPU when PredictOptions::maxBatch is 0 (1: bit-exact with the
/// authors' pipeline; docs/performance.md).
constexpr int kCpuDefaultBatch = 1;
/// Patches per network call for interactive requests (box prompts, clicks, the worker's session)
/// when none is asked for: oneDNN's convolution (a lone window goes in twice), several times
/// faster on the CPU than one patch per call. Not bit-exact with the authors' pipeline, which has
/// no box prompts; whole-image prediction keeps kCpuDefaultBatch.
constexpr int kInteractiveBatch = 8;
/// Concurrent network calls on the CPU when PredictOptions::streams is 0 (at most the threads).
constexpr int kCpuDefaultStreams = 2;

struct PredictResult
{
  LabelMask mask; // on the input image's exact geometry, labels 0..K-1
  /// [K, D, H, W] softmax probabilities at the network's resolution (nnU-Net's probabilities
  /// before export), when PredictOptions::keepProbabilities.
  std::vector<float> probabilities;
  nnunet::Shape3 probabilityShape{ 0, 0, 0 };
  /// 1 - p(background) on the input's geometry (0 outside the crop box), when
  /// PredictOptions::keepProbabilityMap.
  Image foregroundProbability;
  std::int64_t numClasses = 0;
  std::int64_t forwardPasses = 0, windows = 0;
  std::int64_t foregroundVoxels = 0;
  double volumeMl = 0.0; // all foreground labels
  double seconds = 0.0, preprocessSeconds = 0.0, networkSeconds = 0.0, exportSeconds = 0.0;
  std::string device;          // where the last forward pass ran ("cuda:0", "cpu")
  bool fp16 = false;
  bool bf16 = false;           // CPU bfloat16 autocast
  bool fellBackToCpu = false;  // after GPU out-of-memory at one window per batch
  std::int64_t finalBatch = 0; // windows per network call at the end (after OOM halving)
  std::int64_t largestComponentRemoved = 0; // voxels removed by the post-processing
};

/// A loaded network on its device, reusable over many cases (batch prediction, benchmarks).
class Predictor
{
public:
  /// Loads the package's weights (strict) and moves the network to opt.device; configures the
  /// CPU threads. Throws panseg::Error (unusable device, corrupt weights naming the key).
  explicit Predictor(const ModelPackage& pkg, const PredictOptions& deviceOptions = {});
  ~Predictor();
  Predictor(const Predictor&) = delete;
  Predictor& operator=(const Predictor&) = delete;

  /// Predicts one image. Only the per-case fields of `opt` are used (tta, step, fast, maxBatch,
  /// largestComponent, keepProbabilities, estimate, callbacks, cancel); device and fp16 are the
  /// constructor's (unless a GPU out-of-memory moved the network to the CPU).
  PredictResult predict(const Image& image, const PredictOptions& opt);

  /// Forward passes the case would take with these options (after preprocessing's resampling,
  /// computed from the geometry alone: an upper bound, cropping can only reduce it).
  std::int64_t estimateForwardPasses(const Geometry& g, const PredictOptions& opt) const;
  /// Median milliseconds of one forward pass of a batch of `batch` patches (random input).
  double timeForwardPassMs(int reps = 1, int warmup = 0, std::int64_t batch = 1);
  /// Runs `count` patches [count, C, patch] through the network as prediction does (split into
  /// the constructor's patches per call, bf16 / channels-last as configured) and returns the
  /// logits [count, K, patch] as float32 (benchmarks compare configurations with it).
  std::vector<float> runNetwork(const std::vector<float>& patches, std::int64_t count);
  /// Values per input patch (C x patch voxels) and per output patch (K x patch voxels).
  std::int64_t inputValuesPerPatch() const;
  std::int64_t outputValuesPerPatch() const;
  /// Patches per network call in effect.
  std::int64_t batch() const;
  /// Concurrent network calls in effect (CPU), and the intra-op threads of each.
  int streams() const;
  int threadsPerStream() const;

  std::string device() const;
  bool fp16() const;
  bool bf16() const;
  const ModelPackage& package() const;
  std::int64_t parameterCount() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  PredictResult predictV2(const Image& image, const PredictOptions& opt);
};

/// One-shot convenience: Predictor(pkg, opt).predict(image, opt).
PredictResult predictCase(const ModelPackage& pkg, const Image& image, const PredictOptions& opt = {});

/// Effective sliding-window settings for `opt` (fast / tta / step resolved against the package).
nnunet::SlidingWindowOptions slidingWindowOptionsFor(const ModelPackage& pkg,
                                                     const PredictOptions& opt);

// ---- benchmark helpers (torch-free API) -------------------------------------------------------

struct ForwardTiming
{
  std::string plan, precision, device;
  std::int64_t parameters = 0;
  int reps = 0;
  double medianMs = 0.0, minMs = 0.0;
  double gpuPeakMb = -1.0; // -1 when not measurable (CPU, or a LibTorch without CUDA)
};

/// Times the inference forward pass of a randomly initialised network of `plan` (batch 1).
ForwardTiming benchForwardPass(const PlanConfig& plan, const std::string& planName,
                               const std::string& device, bool fp16, int reps, int warmup);

/// Variants of the forward-pass timing (CPU levers, docs/performance.md).
struct ForwardBenchOptions
{
  bool fp16 = false;         // CUDA autocast
  bool bf16 = false;         // CPU bfloat16 autocast
  std::int64_t batch = 1;    // patches per call (the time reported is per call)
  bool channelsLast = false; // channels-last 3-D input and weights
};
/// benchForwardPass with a batch size, CPU bf16 autocast or channels-last.
ForwardTiming benchForwardPassWith(const PlanConfig& plan, const std::string& planName, const std::string& device,
                                   const ForwardBenchOptions& options, int reps, int warmup);

/// Sets LibTorch's intra-op CPU threads (<= 0: all cores); returns the count in effect.
int setCpuThreads(int n);

/// "cpu (N threads)" or "cuda:0 (NVIDIA H100 ...)" for reports.
std::string describeDevice(const std::string& device);
/// LibTorch's intra-op CPU threads in effect.
int cpuThreads();
/// LibTorch's inter-op thread pool size (set once, before any parallel work; false when too late).
bool setInteropThreads(int n);
int interopThreads();
/// Whether this LibTorch uses oneDNN (MKL-DNN) on the CPU, and the CPU's bfloat16 instructions
/// ("avx512_bf16", "amx_bf16" from /proc/cpuinfo; empty when none).
bool oneDnnAvailable();
std::string cpuBf16Support();
/// The LibTorch build configuration (at::show_config), for reports.
std::string torchConfig();
/// Resolves "auto" to "cuda" or "cpu".
std::string resolveDevice(const std::string& device);
/// Peak resident set size of this process in MiB (getrusage).
double peakRssMb();
/// Peak GPU memory allocated by LibTorch since the last reset, MiB; -1 without CUDA support.
double gpuPeakMemoryMb();
void resetGpuPeakMemory();
} // namespace panseg::models
