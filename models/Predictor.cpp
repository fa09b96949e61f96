#include "models/Predictor.h"
#include "models/Guidance.h"

#include "core/Error.h"
#include "core/Eta.h"
#include "core/preprocess/Export.h"
#include "core/preprocess/Preprocess.h"
#include "core/preprocess/Resample.h"
#include "core/preprocess/SlidingWindow.h"
#include "models/NnUNetV2Net.h"
#include "models/PNetMsa.h"
#include "core/preprocess/NnUNetV2.h"
#include "models/PackageWeights.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <cstring>
#include <fstream>
#include <new>
#include <sstream>
#include <sys/resource.h>

#include <ATen/autocast_mode.h>
#include <ATen/Config.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

#if defined(PANSEG_TORCH_CUDA) && __has_include(<c10/cuda/CUDACachingAllocator.h>)
#include <c10/cuda/CUDACachingAllocator.h>
#define PANSEG_HAVE_CUDA_ALLOCATOR 1
#endif

namespace panseg::models
{
namespace
{
using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0)
{
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

bool isOutOfMemory(const std::string& what)
{
  return what.find("out of memory") != std::string::npos ||
         what.find("ALLOC_FAILED") != std::string::npos ||
         what.find("OutOfMemory") != std::string::npos;
}

std::string firstLine(const std::string& s)
{
  const auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

void freeGpuCache()
{
#ifdef PANSEG_HAVE_CUDA_ALLOCATOR
  c10::cuda::CUDACachingAllocator::emptyCache();
#endif
}

/// CPU bfloat16 autocast for the guard's lifetime (convolutions, linear layers and matrix
/// products in bfloat16 on CPUs with AVX512-BF16 / AMX), through the API of the LibTorch it is
/// compiled against. No effect when `enable` is false.
class CpuBf16Autocast
{
public:
  explicit CpuBf16Autocast(bool enable) : active_(enable)
  {
    if (!active_)
      return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    previous_ = at::autocast::is_autocast_enabled(at::kCPU);
    previousType_ = at::autocast::get_autocast_dtype(at::kCPU);
    at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCPU, true);
#else
    previous_ = at::autocast::is_cpu_enabled();
    previousType_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
#endif
    at::autocast::increment_nesting();
  }
  ~CpuBf16Autocast()
  {
    if (!active_)
      return;
    if (at::autocast::decrement_nesting() == 0)
      at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCPU, previous_);
    at::autocast::set_autocast_dtype(at::kCPU, previousType_);
#else
    at::autocast::set_cpu_enabled(previous_);
    at::autocast::set_autocast_cpu_dtype(previousType_);
#endif
  }
  CpuBf16Autocast(const CpuBf16Autocast&) = delete;
  CpuBf16Autocast& operator=(const CpuBf16Autocast&) = delete;

private:
  bool active_ = false;
  bool previous_ = false;
  at::ScalarType previousType_ = at::kBFloat16;
};

/// Threads that run network calls at the same time on the CPU, each with its own intra-op thread
/// count (LibTorch's OpenMP thread count is per calling thread). Created once per predictor and
/// reused: task i of run() goes to thread i.
class StreamPool
{
public:
  StreamPool(int streams, int threadsEach)
  {
    std::unique_lock<std::mutex> lock(m_);
    for (int i = 0; i < streams; ++i)
      threads_.emplace_back([this, i, threadsEach] { loop(i, threadsEach); });
    cv_.wait(lock, [&] { return ready_ == streams; }); // every thread configured before any work
  }
  ~StreamPool()
  {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      t.join();
  }
  StreamPool(const StreamPool&) = delete;
  StreamPool& operator=(const StreamPool&) = delete;

  int size() const { return static_cast<int>(threads_.size()); }

  /// Runs tasks[i] on thread i (tasks.size() <= size()) and waits; rethrows the first failure.
  void run(const std::vector<std::function<void()>>& tasks)
  {
    std::unique_lock<std::mutex> lock(m_);
    tasks_ = &tasks;
    errors_.assign(tasks.size(), nullptr);
    pending_ = static_cast<int>(tasks.size());
    ++generation_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return pending_ == 0; });
    tasks_ = nullptr;
    for (const auto& e : errors_)
      if (e)
        std::rethrow_exception(e);
  }

private:
  void loop(int index, int threadsEach)
  {
    {
      // at::set_num_threads also resets shared state (oneDNN caches): one thread at a time,
      // before any network call.
      std::lock_guard<std::mutex> lock(m_);
      at::internal::lazy_init_num_threads(); // now, so that no later first call resets the count
      at::set_num_threads(std::max(1, threadsEach));
      ++ready_;
    }
    cv_.notify_all();
    std::uint64_t seen = 0;
    for (;;)
    {
      const std::function<void()>* task = nullptr;
      {
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_)
          return;
        seen = generation_;
        if (tasks_ && index < static_cast<int>(tasks_->size()))
          task = &(*tasks_)[static_cast<std::size_t>(index)];
      }
      if (!task)
        continue;
      std::exception_ptr error;
      try
      {
        (*task)();
      }
      catch (...)
      {
        error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(m_);
        errors_[static_cast<std::size_t>(index)] = error;
        --pending_;
      }
      cv_.notify_all();
    }
  }

  std::mutex m_;
  std::condition_variable cv_;
  std::vector<std::thread> threads_;
  const std::vector<std::function<void()>>* tasks_ = nullptr;
  std::vector<std::exception_ptr> errors_;
  std::uint64_t generation_ = 0;
  int pending_ = 0, ready_ = 0;
  bool stop_ = false;
};

/// The network input of a click-conditioned package: the preprocessed image, then the guidance
/// channels painted on its grid (all zero without clicks: the automatic mode).
std::vector<float> withClickGuidance(const nnunet::Preprocessed& pre, const ClickGuidance* clicks)
{
  const std::int64_t n = nnunet::voxelCount(pre.shape);
  std::vector<float> input(static_cast<std::size_t>((1 + guidance::kChannels) * n));
  std::copy(pre.data.begin(), pre.data.begin() + n, input.begin());
  std::vector<guidance::GridClick> grid;
  std::vector<std::uint8_t> previous;
  if (clicks)
  {
    for (const bool positive : { true, false })
      for (const auto& xyz : positive ? clicks->positive : clicks->negative)
      {
        guidance::GridClick c;
        c.positive = positive;
        if (!guidance::toNetworkGrid(pre, xyz, c.zyx))
          throw Error("the click " + std::string(positive ? "+" : "-") + std::to_string(xyz[0]) + "," +
                      std::to_string(xyz[1]) + "," + std::to_string(xyz[2]) +
                      " lies in the image's empty border (cropped away before the network)");
        grid.push_back(c);
      }
    if (clicks->previous)
      previous = guidance::maskToNetworkGrid(pre, *clicks->previous, clicks->previousLabel);
  }
  guidance::paint(input.data() + n, pre.shape, grid, previous.empty() ? nullptr : previous.data());
  return input;
}

/// Puts every 5-D parameter and buffer of `m` into the channels-last 3-D memory format.
void toChannelsLast(torch::nn::Module& m)
{
  torch::NoGradGuard noGrad;
  for (auto& p : m.parameters(true))
    if (p.defined() && p.dim() == 5)
      p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast3d));
}

/// Test hook (documented in models/README.md): PANSEG_TEST_FAKE_OOM=N makes every network call
/// with more than N windows fail like a GPU out-of-memory, on any device, until the predictor has
/// "fallen back"; N = 0 forces the fallback. Lets CI exercise the recovery path without a GPU.
long fakeOomLimit()
{
  const char* v = std::getenv("PANSEG_TEST_FAKE_OOM");
  if (!v || !*v)
    return -1;
  return std::max(0L, std::strtol(v, nullptr, 10));
}
} // namespace

std::string resolveDevice(const std::string& device)
{
  if (device.empty() || device == "auto")
    return torch::cuda::is_available() ? "cuda" : "cpu";
  return device;
}

std::string describeDevice(const std::string& device)
{
  const std::string d = resolveDevice(device);
  if (d.rfind("cuda", 0) == 0)
    return d + " (" + std::to_string(torch::cuda::device_count()) + " CUDA GPU(s) visible, LibTorch " +
           TORCH_VERSION + ")";
  return "cpu (" + std::to_string(at::get_num_threads()) + " threads, LibTorch " + TORCH_VERSION + ")";
}

int cpuThreads()
{
  return at::get_num_threads();
}

bool setInteropThreads(int n)
{
  if (n <= 0)
    return true;
  try
  {
    at::set_num_interop_threads(n);
    return true;
  }
  catch (const c10::Error&)
  {
    return false; // already started: LibTorch allows it only before the first parallel work
  }
}

int interopThreads()
{
  return at::get_num_interop_threads();
}

bool oneDnnAvailable()
{
  return AT_MKLDNN_ENABLED() && at::hasMKLDNN();
}

std::string cpuBf16Support()
{
  std::ifstream in("/proc/cpuinfo");
  std::string line, out;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0)
    {
      std::istringstream words(line);
      for (std::string w; words >> w;)
        if ((w == "avx512_bf16" || w == "amx_bf16") && out.find(w) == std::string::npos)
          out += (out.empty() ? "" : " ") + w;
      break;
    }
  return out;
}

std::string torchConfig()
{
  return at::show_config();
}

double peakRssMb()
{
  struct rusage ru
  {
  };
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0; // Linux: KiB
}

double gpuPeakMemoryMb()
{
#ifdef PANSEG_HAVE_CUDA_ALLOCATOR
  if (!torch::cuda::is_available())
    return -1.0;
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(0);
  return static_cast<double>(stats.allocated_bytes[0].peak) / (1024.0 * 1024.0); // [0] = aggregate
#else
  return -1.0;
#endif
}

void resetGpuPeakMemory()
{
#ifdef PANSEG_HAVE_CUDA_ALLOCATOR
  if (torch::cuda::is_available())
    c10::cuda::CUDACachingAllocator::resetPeakStats(0);
#endif
}

nnunet::SlidingWindowOptions slidingWindowOptionsFor(const ModelPackage& pkg, const PredictOptions& opt)
{
  nnunet::SlidingWindowOptions so;
  so.stepSize = opt.step > 0 ? opt.step : (opt.fast ? 1.0 : pkg.preprocessing.stepSize);
  if (!(so.stepSize > 0 && so.stepSize <= 1))
    throw Error("step must be in (0, 1], got " + std::to_string(so.stepSize));
  so.mirror = opt.tta && !opt.fast;
  so.mirrorAxes = pkg.preprocessing.mirrorAxes;
  return so;
}

struct Predictor::Impl
{
  ModelPackage pkg;
  PanSegNet net{ nullptr };            // the fold running now
  std::vector<PanSegNet> nets;         // every fold of an nnU-Net v1 ensemble (softmax averaged)
  torch::Device device{ torch::kCPU };
  bool fp16 = false;
  bool bf16 = false;          // CPU bfloat16 autocast
  bool channelsLast = false;  // channels-last 3-D input and weights
  int streams = 1;            // concurrent network calls (CPU)
  int threadsPerStream = 1;
  std::unique_ptr<StreamPool> pool; // when streams > 1
  bool fellBack = false;
  std::int64_t batch = 1;     // current windows per call (halved after out-of-memory)
  std::int64_t parameters = 0;
  long fakeOom = -1;
  std::unique_ptr<PNetMsaRunner> pnet; // model_type "pnet-msa" (then `net` stays empty)
  V2Net v2net{ nullptr };              // model_type "nnunetv2": the fold running now
  std::vector<V2Net> v2nets;           // every fold of an nnunetv2 package (averaged)

  std::int64_t inPer() const
  {
    const Vec3& p = pkg.network.patchSize;
    return pkg.network.inputChannels * p[0] * p[1] * p[2];
  }
  std::int64_t outPer() const
  {
    const Vec3& p = pkg.network.patchSize;
    return pkg.network.numClasses * p[0] * p[1] * p[2];
  }

  void toCpu()
  {
    if (v2net)
      for (auto& n : v2nets)
        n->to(torch::kCPU);
    else
      for (auto& n : nets)
        n->to(torch::kCPU);
    freeGpuCache();
    device = torch::Device(torch::kCPU);
    fp16 = false;
    fellBack = true;
    batch = 1;
  }

  std::int64_t defaultBatch() const
  {
    return device.is_cuda() ? 4 : kCpuDefaultBatch;
  }

  /// One network call on `n` patches; logits returned as contiguous float32 on the CPU.
  torch::Tensor forwardOnce(const float* x, std::int64_t n)
  {
    if (fakeOom >= 0 && !fellBack && n > fakeOom)
      TORCH_CHECK(false, "CUDA out of memory (simulated by PANSEG_TEST_FAKE_OOM)");
    const Vec3& p = pkg.network.patchSize;
    c10::InferenceMode guard;
    torch::Tensor in =
        torch::from_blob(const_cast<float*>(x), { n, pkg.network.inputChannels, p[0], p[1], p[2] },
                         torch::kFloat)
            .to(device);
    // On the CPU one fp32 patch per call takes LibTorch's native slow_conv3d for most of these
    // networks' layers, several patches take oneDNN (5-15x faster per patch; docs/performance.md).
    // When batching is allowed (results are then oneDNN's, not bit-exact with the authors'
    // anyway), a lone patch goes in twice so that oneDNN computes it like its neighbours.
    const bool pairUp = n == 1 && batch > 1 && !device.is_cuda() && !bf16;
    if (pairUp)
      in = in.repeat({ 2, 1, 1, 1, 1 });
    if (channelsLast)
      in = in.contiguous(at::MemoryFormat::ChannelsLast3d);
    CudaAutocast autocast(fp16 && device.is_cuda());
    CpuBf16Autocast cpuAutocast(bf16 && !device.is_cuda());
    torch::Tensor out = v2net ? v2net->forward(in) : net->forward(in);
    if (pairUp)
      out = out.narrow(0, 0, 1);
    return out.to(torch::kCPU, torch::kFloat).contiguous();
  }

  /// The sliding window's network callback: splits into `batch`-sized calls and recovers from
  /// GPU out-of-memory (halve the batch, then continue on the CPU).
  /// Patches the sliding window hands over per step: every stream gets whole calls.
  std::int64_t gather() const
  {
    const std::int64_t perStep = batch * std::max(1, streams);
    return streams > 1 ? std::max<std::int64_t>(perStep, (8 + perStep - 1) / perStep * perStep) : batch;
  }

  static Error cpuError(const c10::Error& e)
  {
    const std::string what = e.what_without_backtrace();
    if (isOutOfMemory(what) || what.find("not enough memory") != std::string::npos ||
        what.find("can't allocate") != std::string::npos)
      return Error("not enough memory for the network on the CPU (" + firstLine(what) + ")");
    return Error("the network failed: " + firstLine(what));
  }

  void forward(const float* x, std::int64_t n, float* logits,
               const std::function<void(const std::string&)>& message)
  {
    // CPU streams: contiguous shares of the patches, each in calls of `batch` patches. With one
    // call in all (e.g. two windows of a box at 8 per call) the caller's thread makes it, with
    // every thread, instead of one stream's share.
    const std::int64_t streamsUsed = pool ? std::min<std::int64_t>(pool->size(), (n + batch - 1) / batch) : 0;
    if (pool && !device.is_cuda() && n > 1 && streamsUsed > 1 && !(fakeOom >= 0 && !fellBack))
    {
      const std::int64_t s = streamsUsed;
      const std::int64_t calls = (n + batch - 1) / batch, callsEach = (calls + s - 1) / s;
      std::vector<std::function<void()>> tasks;
      for (std::int64_t i = 0; i < s; ++i)
      {
        const std::int64_t from = std::min(n, i * callsEach * batch), to = std::min(n, (i + 1) * callsEach * batch);
        tasks.push_back([this, x, logits, from, to]
                        {
                          try
                          {
                            for (std::int64_t j = from; j < to; j += batch)
                            {
                              const std::int64_t b = std::min(batch, to - j);
                              const torch::Tensor out = forwardOnce(x + j * inPer(), b);
                              std::memcpy(logits + j * outPer(), out.data_ptr<float>(),
                                          static_cast<std::size_t>(b * outPer()) * sizeof(float));
                            }
                          }
                          catch (const c10::Error& e)
                          {
                            throw cpuError(e);
                          }
                          catch (const std::bad_alloc&)
                          {
                            throw Error("not enough memory for the network on the CPU");
                          }
                        });
      }
      pool->run(tasks);
      return;
    }
    std::int64_t done = 0;
    while (done < n)
    {
      const std::int64_t b = std::min(batch, n - done);
      try
      {
        const torch::Tensor out = forwardOnce(x + done * inPer(), b);
        std::memcpy(logits + done * outPer(), out.data_ptr<float>(),
                    static_cast<std::size_t>(b * outPer()) * sizeof(float));
        done += b;
      }
      catch (const c10::Error& e)
      {
        const std::string what = e.what_without_backtrace();
        const bool simulated = fakeOom >= 0 && !fellBack;
        if (!(device.is_cuda() || simulated) || !isOutOfMemory(what))
        {
          if (isOutOfMemory(what) || what.find("not enough memory") != std::string::npos ||
              what.find("can't allocate") != std::string::npos)
            throw Error("not enough memory for the network on the CPU (" + firstLine(what) + ")");
          throw Error("the network failed: " + firstLine(what));
        }
        freeGpuCache();
        if (b > 1)
        {
          batch = std::max<std::int64_t>(1, b / 2);
          if (message)
            message("GPU out of memory with " + std::to_string(b) + " windows per call; retrying with " +
                    std::to_string(batch));
          continue;
        }
        if (message)
          message("GPU out of memory even with one window per call; continuing on the CPU (much slower)");
        toCpu();
      }
      catch (const std::bad_alloc&)
      {
        throw Error("not enough memory for the network on the CPU");
      }
    }
  }
};

Predictor::Predictor(const ModelPackage& pkg, const PredictOptions& opt) : impl_(std::make_unique<Impl>())
{
  Impl& d = *impl_;
  d.pkg = pkg;
  d.fakeOom = fakeOomLimit();
  configureThreads(opt.threads);
  d.device = parseDevice(resolveDevice(opt.device));
  d.fp16 = d.device.is_cuda() && opt.fp16 != 0;
  if (opt.fp16 == 1 && !d.device.is_cuda() && opt.message)
    opt.message("fp16 is CUDA autocast only; the CPU predicts in float32");
  if (pkg.isPnetMsa())
  {
    // 2D slices, no sliding window: GPU out-of-memory halves the slices per call, then moves to
    // the CPU (Predictor::predict).
    d.pnet = std::make_unique<PNetMsaRunner>(pkg, d.device);
    d.parameters = d.pnet->parameterCount();
    d.fp16 = false;
    d.batch = opt.maxBatch > 0 ? opt.maxBatch : pkg.pnet.sliceBatch;
    return;
  }
  if (pkg.isNnUNetV2())
  {
    d.v2nets = loadV2Networks(pkg);
    d.v2net = d.v2nets.front();
    d.parameters = models::parameterCount(*d.v2net) * static_cast<std::int64_t>(d.v2nets.size());
  }
  else
  {
    d.nets = loadPackageNetworks(pkg);
    d.net = d.nets.front();
    d.parameters = models::parameterCount(*d.net) * static_cast<std::int64_t>(d.nets.size());
  }
  if (d.device.is_cuda())
  {
    try
    {
      if (d.v2net)
        for (auto& n : d.v2nets)
          n->to(d.device);
      else
        for (auto& n : d.nets)
          n->to(d.device);
      at::globalContext().setBenchmarkCuDNN(true); // as nnU-Net (cudnn.benchmark = True)
    }
    catch (const c10::Error& e)
    {
      if (!isOutOfMemory(e.what_without_backtrace()))
        throw Error("cannot move the network to " + d.device.str() + ": " +
                    firstLine(e.what_without_backtrace()));
      if (opt.message)
        opt.message("GPU out of memory while loading the network; predicting on the CPU");
      d.toCpu();
    }
  }
  d.batch = opt.maxBatch > 0 ? opt.maxBatch : d.defaultBatch();
  if (!d.device.is_cuda())
  {
    const int threads = at::get_num_threads();
    d.streams = std::clamp(opt.streams > 0 ? opt.streams : kCpuDefaultStreams, 1, std::max(1, threads));
    d.threadsPerStream = std::max(1, threads / d.streams);
    if (d.streams > 1)
      d.pool = std::make_unique<StreamPool>(d.streams, d.threadsPerStream);
  }
  d.bf16 = opt.bf16 && !d.device.is_cuda();
  if (opt.bf16 && d.device.is_cuda() && opt.message)
    opt.message("bf16 is the CPU's autocast; on CUDA the network runs in fp16 (or fp32 with --no-fp16)");
  if (d.bf16 && cpuBf16Support().empty() && opt.message)
    opt.message("this CPU has no bfloat16 instructions (AVX512-BF16, AMX): bf16 will be slower than float32");
  d.channelsLast = opt.channelsLast;
  if (d.channelsLast)
  {
    if (d.v2net)
      for (auto& n : d.v2nets)
        toChannelsLast(*n);
    else
      for (auto& n : d.nets) // every fold of an ensemble
        toChannelsLast(*n);
  }
}

Predictor::~Predictor() = default;

std::string Predictor::device() const
{
  return impl_->device.str();
}

bool Predictor::fp16() const
{
  return impl_->fp16;
}

bool Predictor::bf16() const
{
  return impl_->bf16;
}

std::int64_t Predictor::inputValuesPerPatch() const
{
  return impl_->inPer();
}

std::int64_t Predictor::outputValuesPerPatch() const
{
  return impl_->outPer();
}

std::int64_t Predictor::batch() const
{
  return impl_->batch;
}

int Predictor::streams() const
{
  return impl_->pool ? impl_->streams : 1;
}

int Predictor::threadsPerStream() const
{
  return impl_->pool ? impl_->threadsPerStream : at::get_num_threads();
}

std::vector<float> Predictor::runNetwork(const std::vector<float>& patches, std::int64_t count)
{
  Impl& d = *impl_;
  if (d.pnet)
    throw Error("runNetwork is for the 3-D networks (PanSegNet, nnU-Net v2)");
  if (count < 1 || static_cast<std::int64_t>(patches.size()) != count * d.inPer())
    throw Error("runNetwork: expected " + std::to_string(count) + " patches of " + std::to_string(d.inPer()) +
                " values, got " + std::to_string(patches.size()) + " values");
  std::vector<float> logits(static_cast<std::size_t>(count * d.outPer()));
  d.forward(patches.data(), count, logits.data(), {});
  return logits;
}

const ModelPackage& Predictor::package() const
{
  return impl_->pkg;
}

std::int64_t Predictor::parameterCount() const
{
  return impl_->parameters;
}

std::int64_t Predictor::estimateForwardPasses(const Geometry& g, const PredictOptions& opt) const
{
  if (impl_->pnet)
  {
    const std::int64_t batch = opt.maxBatch > 0 ? opt.maxBatch : impl_->pkg.pnet.sliceBatch;
    return (g.size[2] + batch - 1) / batch;
  }
  if (impl_->v2net)
  {
    const ModelPackage& pkg = impl_->pkg;
    const nnunet::v2::ReaderOrder r = nnunet::v2::readerOrderOf(g, pkg.v2.params.reorientToRas);
    const nnunet::Shape3 shape =
        nnunet::resampledShape(nnunet::v2::permuteShape(r.shape, pkg.v2.params.transposeForward),
                               nnunet::v2::permuteSpacing(r.spacing, pkg.v2.params.transposeForward),
                               pkg.v2.params.targetSpacing);
    const Vec3& p = pkg.network.patchSize;
    const nnunet::SlidingWindowOptions so = slidingWindowOptionsFor(pkg, opt);
    nnunet::v2::SlidingOptions vo;
    vo.stepSize = so.stepSize;
    vo.mirror = so.mirror;
    vo.mirrorAxes = pkg.v2.mirrorAxes;
    return nnunet::v2::forwardPasses(shape, { p[0], p[1], p[2] }, vo) *
           static_cast<std::int64_t>(impl_->v2nets.size());
  }
  const nnunet::PreprocessParams pp = impl_->pkg.preprocessParams();
  const nnunet::Shape3 shape =
      nnunet::resampledShape(nnunet::v2::permuteShape(nnunet::shapeOf(g), pp.transposeForward),
                             nnunet::v2::permuteSpacing(nnunet::spacingOf(g), pp.transposeForward),
                             impl_->pkg.preprocessing.targetSpacingMm);
  const Vec3& p = impl_->pkg.network.patchSize;
  return nnunet::estimateForwardPasses(shape, { p[0], p[1], p[2] }, slidingWindowOptionsFor(impl_->pkg, opt)) *
         static_cast<std::int64_t>(impl_->nets.size()); // a v1 fold ensemble runs every fold
}

double Predictor::timeForwardPassMs(int reps, int warmup, std::int64_t batch)
{
  Impl& d = *impl_;
  if (d.pnet)
    return d.pnet->timeBatchMs(reps, warmup, batch);
  const std::vector<float> input = [&]
  {
    torch::manual_seed(0);
    const torch::Tensor r = torch::randn({ batch * d.inPer() });
    return std::vector<float>(r.data_ptr<float>(), r.data_ptr<float>() + r.numel());
  }();
  std::vector<float> logits(static_cast<std::size_t>(batch * d.outPer()));
  std::vector<double> ms;
  for (int i = 0; i < warmup + std::max(1, reps); ++i)
  {
    const auto t0 = Clock::now();
    d.forward(input.data(), batch, logits.data(), {});
    if (d.device.is_cuda())
      torch::cuda::synchronize();
    if (i >= warmup)
      ms.push_back(secondsSince(t0) * 1e3);
  }
  std::sort(ms.begin(), ms.end());
  return ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
}

PredictResult Predictor::predict(const Image& image, const PredictOptions& opt)
{
  Impl& d = *impl_;
  if (d.pnet)
  {
    for (;;)
    {
      std::string what;
      try
      {
        if (d.fakeOom >= 0 && !d.fellBack && d.batch > d.fakeOom)
          TORCH_CHECK(false, "CUDA out of memory (simulated by PANSEG_TEST_FAKE_OOM)");
        PredictOptions o = opt;
        o.maxBatch = d.batch;
        PredictResult r = d.pnet->predict(image, o);
        r.fellBackToCpu = d.fellBack;
        return r;
      }
      catch (const c10::Error& e)
      {
        what = e.what_without_backtrace();
      }
      const bool simulated = d.fakeOom >= 0 && !d.fellBack;
      if (!(d.device.is_cuda() || simulated) || !isOutOfMemory(what))
      {
        if (isOutOfMemory(what) || what.find("not enough memory") != std::string::npos ||
            what.find("can't allocate") != std::string::npos)
          throw Error("not enough memory for the network on the CPU (" + firstLine(what) + ")");
        throw Error("the network failed: " + firstLine(what));
      }
      freeGpuCache();
      if (d.batch > 1)
      {
        d.batch = std::max<std::int64_t>(1, d.batch / 2);
        if (opt.message)
          opt.message("GPU out of memory; retrying with " + std::to_string(d.batch) +
                      (d.batch == 1 ? " slice per call" : " slices per call"));
        continue;
      }
      if (opt.message)
        opt.message("GPU out of memory even with one slice per call; continuing on the CPU");
      d.pnet = std::make_unique<PNetMsaRunner>(d.pkg, torch::Device(torch::kCPU));
      d.device = torch::Device(torch::kCPU);
      d.fellBack = true;
    }
  }
  const ModelPackage& pkg = d.pkg;
  const auto t0 = Clock::now();
  PredictResult r;
  auto cancelled = [&] { return opt.cancel && opt.cancel->load(); };
  auto keepGoing = [&](double f, const std::string& msg, double eta = -1.0)
  { return !cancelled() && (!opt.progress || opt.progress({ std::clamp(f, 0.0, 1.0), msg, eta })); };
  auto report = [&](double f, const std::string& msg)
  {
    if (!keepGoing(f, msg))
      throw Error("cancelled");
  };
  if (opt.maxBatch > 0 && !d.fellBack)
    d.batch = opt.maxBatch;

  const std::string& mod = image.info.modality;
  if (opt.message && !mod.empty() && (mod == "CT" || mod == "MR") && mod != pkg.info.modality)
    opt.message("the image is " + mod + " but the model was trained on " + pkg.info.modality);
  const bool clickModel = guidance::takesClicks(pkg);
  if (opt.clicks && !clickModel)
    throw Error("the model " + pkg.id() + " has no click channels (model_type " + pkg.info.modelType +
                "): it cannot take clicks; use a click-conditioned package (panseg-train --clicks) or "
                "refine by grow from seeds");

  if (d.v2net)
    return predictV2(image, opt);

  // 1. preprocessing (crop, resample, normalise): ~5 % of the bar
  report(0.0, "preprocessing");
  nnunet::PreprocessParams pp = pkg.preprocessParams(at::get_num_threads());
  pp.progress = [&](double f) { return keepGoing(0.05 * f, "preprocessing"); };
  nnunet::Preprocessed pre = nnunet::preprocess(image, pp);
  if (clickModel)
    pre.data = withClickGuidance(pre, opt.clicks);
  const std::int64_t channels = pkg.network.inputChannels;
  r.preprocessSeconds = secondsSince(t0);

  nnunet::SlidingWindowOptions so = slidingWindowOptionsFor(pkg, opt);
  so.maxBatch = d.gather();
  const Vec3& pv = pkg.network.patchSize;
  const nnunet::Shape3 patch{ pv[0], pv[1], pv[2] };
  const auto folds = static_cast<std::int64_t>(d.nets.size());
  r.forwardPasses = nnunet::estimateForwardPasses(pre.shape, patch, so) * folds; // the cost scales with the folds
  r.windows = nnunet::planWindows(pre.shape, patch, so.stepSize).numWindows();
  if (folds > 1 && opt.message)
    opt.message("ensemble of " + std::to_string(folds) + " folds: " + std::to_string(folds) +
                " x the forward passes (and time) of one network");

  // 2. estimate: one real-size forward pass, timed
  if (opt.estimate)
  {
    report(0.05, "timing one forward pass");
    PredictEstimate est;
    est.folds = folds;
    est.forwardPasses = r.forwardPasses;
    est.windows = r.windows;
    // One call per stream at the same time (one pass each), as the sliding window runs them.
    est.secondsPerPass = timeForwardPassMs(1, d.device.is_cuda() ? 1 : 0, d.pool ? d.streams : 1) / 1e3 /
                         (d.pool ? d.streams : 1);
    est.seconds = static_cast<double>(r.forwardPasses) * est.secondsPerPass + 2.0 * r.preprocessSeconds;
    est.device = d.device.str();
    if (opt.onEstimate)
      opt.onEstimate(est);
  }

  // 3. sliding window
  const auto tNet = Clock::now();
  const std::int64_t total = r.forwardPasses;
  EtaEstimator etaEstimator;
  so.progress = [&](double f)
  {
    const auto done = static_cast<std::int64_t>(f * static_cast<double>(total) + 0.5);
    double eta = etaEstimator.update(secondsSince(tNet), f * static_cast<double>(total), static_cast<double>(total));
    if (eta >= 0)
      eta += r.preprocessSeconds; // the export takes about as long as the preprocessing
    return keepGoing(0.06 + 0.89 * f,
                     "network: " + std::to_string(done) + " of " + std::to_string(total) + " forward passes",
                     eta);
  };
  // nnU-Net v1's fold ensemble (nnUNet_predict): each fold's softmax at the network resolution,
  // summed in float32 in fold order and divided by the fold count, then exported once.
  const auto soAll = so.progress;
  nnunet::Prediction pred;
  for (std::int64_t f = 0; f < folds; ++f)
  {
    d.net = d.nets[static_cast<std::size_t>(f)];
    so.progress = [&, f](double x) { return soAll((static_cast<double>(f) + x) / static_cast<double>(folds)); };
    nnunet::Prediction one = nnunet::predictSlidingWindow(
        pre.data.data(), channels, pre.shape, patch, pkg.network.numClasses,
        [&](const float* x, std::int64_t n, float* logits)
        {
          if (cancelled())
            throw Error("cancelled");
          d.forward(x, n, logits, opt.message);
        },
        so);
    if (f == 0)
      pred = std::move(one);
    else
      for (std::size_t i = 0; i < pred.probabilities.size(); ++i)
        pred.probabilities[i] += one.probabilities[i];
  }
  if (folds > 1)
    for (float& v : pred.probabilities)
      v /= static_cast<float>(folds);
  r.networkSeconds = secondsSince(tNet);

  // 4. export onto the input's grid + post-processing
  report(0.95, "exporting");
  const auto tExp = Clock::now();
  nnunet::ExportOptions eo;
  eo.anisotropyThreshold = pkg.preprocessing.anisotropyThreshold;
  eo.threads = at::get_num_threads();
  const nnunet::ExportGeometry eg = nnunet::exportGeometryOf(pre);
  if (opt.keepProbabilityMap)
  {
    // exportSegmentation's steps, keeping the probabilities at the original resolution.
    const std::vector<float> atCrop =
        nnunet::probabilitiesToCroppedShape(pred.probabilities, pred.numClasses, pred.shape, eg, eo);
    const std::int64_t cropVox = nnunet::voxelCount(eg.croppedShape);
    r.mask = nnunet::pasteIntoOriginal(nnunet::argmaxChannels(atCrop.data(), pred.numClasses, cropVox), eg);
    r.foregroundProbability = Image(eg.originalGeometry, 0.0f);
    r.foregroundProbability.info.modality.clear();
    const nnunet::Shape3 os = nnunet::shapeOf(eg.originalGeometry), cs = eg.croppedShape;
    for (std::int64_t z = 0; z < cs[0]; ++z)
      for (std::int64_t y = 0; y < cs[1]; ++y)
        for (std::int64_t x = 0; x < cs[2]; ++x)
        {
          const std::int64_t zz = z + eg.crop.start[0], yy = y + eg.crop.start[1], xx = x + eg.crop.start[2];
          if (zz >= os[0] || yy >= os[1] || xx >= os[2])
            continue;
          r.foregroundProbability.voxels[static_cast<std::size_t>((zz * os[1] + yy) * os[2] + xx)] =
              1.0f - atCrop[static_cast<std::size_t>((z * cs[1] + y) * cs[2] + x)];
        }
  }
  else
    r.mask = nnunet::exportSegmentation(pred.probabilities, pred.numClasses, pred.shape, eg, eo);
  std::vector<int> lcc;
  if (opt.largestComponent < 0)
    lcc = pkg.preprocessing.largestComponentLabels;
  else if (opt.largestComponent > 0)
    for (int l = 1; l < pkg.network.numClasses; ++l)
      lcc.push_back(l);
  for (int l : lcc)
    r.largestComponentRemoved += nnunet::keepLargestComponent(r.mask, l);
  r.exportSeconds = secondsSince(tExp);

  r.numClasses = pred.numClasses;
  if (opt.keepProbabilities)
  {
    r.probabilities = std::move(pred.probabilities);
    r.probabilityShape = pred.shape;
  }
  r.foregroundVoxels = r.mask.countLabel(0);
  r.volumeMl = r.mask.volumeMl(0);
  r.device = d.device.str();
  r.fp16 = d.fp16;
  r.bf16 = d.bf16 && !d.device.is_cuda();
  r.fellBackToCpu = d.fellBack;
  r.finalBatch = d.batch;
  r.seconds = secondsSince(t0);
  report(1.0, "done");
  return r;
}

PredictResult Predictor::predictV2(const Image& image, const PredictOptions& opt)
{
  Impl& d = *impl_;
  const ModelPackage& pkg = d.pkg;
  const auto t0 = Clock::now();
  PredictResult r;
  auto cancelled = [&] { return opt.cancel && opt.cancel->load(); };
  auto keepGoing = [&](double f, const std::string& msg, double eta = -1.0)
  { return !cancelled() && (!opt.progress || opt.progress({ std::clamp(f, 0.0, 1.0), msg, eta })); };
  auto report = [&](double f, const std::string& msg)
  {
    if (!keepGoing(f, msg))
      throw Error("cancelled");
  };
  report(0.0, "preprocessing");
  nnunet::v2::Params params = pkg.v2.params;
  params.threads = at::get_num_threads();
  const nnunet::v2::Preprocessed pre = nnunet::v2::preprocess(image, params);
  r.preprocessSeconds = secondsSince(t0);

  const nnunet::SlidingWindowOptions so = slidingWindowOptionsFor(pkg, opt);
  nnunet::v2::SlidingOptions vo;
  vo.stepSize = so.stepSize;
  vo.mirror = so.mirror;
  vo.mirrorAxes = pkg.v2.mirrorAxes;
  vo.maxBatch = std::max<std::int64_t>(1, d.gather()); // mirror variants per step (split over the streams)
  const Vec3& pv = pkg.network.patchSize;
  const nnunet::Shape3 patch{ pv[0], pv[1], pv[2] };
  const auto folds = static_cast<std::int64_t>(d.v2nets.size());
  r.forwardPasses = nnunet::v2::forwardPasses(pre.shape, patch, vo) * folds; // the cost scales with the folds
  r.windows = nnunet::planWindows(pre.shape, patch, vo.stepSize).numWindows();
  if (folds > 1 && opt.message)
    opt.message("ensemble of " + std::to_string(folds) + " folds: " + std::to_string(folds) +
                " x the forward passes (and time) of one network");
  if (opt.estimate)
  {
    report(0.05, "timing one forward pass");
    PredictEstimate est;
    est.folds = folds;
    est.forwardPasses = r.forwardPasses;
    est.windows = r.windows;
    // One call per stream at the same time (one pass each), as the sliding window runs them.
    est.secondsPerPass = timeForwardPassMs(1, d.device.is_cuda() ? 1 : 0, d.pool ? d.streams : 1) / 1e3 /
                         (d.pool ? d.streams : 1);
    est.seconds = static_cast<double>(r.forwardPasses) * est.secondsPerPass + 2.0 * r.preprocessSeconds;
    est.device = d.device.str();
    if (opt.onEstimate)
      opt.onEstimate(est);
  }
  const auto tNet = Clock::now();
  const std::int64_t total = r.forwardPasses;
  EtaEstimator etaEstimator;
  vo.progress = [&](double f)
  {
    const auto done = static_cast<std::int64_t>(f * static_cast<double>(total) + 0.5);
    double eta = etaEstimator.update(secondsSince(tNet), f * static_cast<double>(total), static_cast<double>(total));
    if (eta >= 0)
      eta += r.preprocessSeconds; // the export takes about as long as the preprocessing
    return keepGoing(0.06 + 0.89 * f,
                     "network: " + std::to_string(done) + " of " + std::to_string(total) + " forward passes", eta);
  };
  // Fold ensemble as nnU-Net v2 does it: each fold's float16 logits summed in float16, then
  // divided by the fold count (in float16).
  nnunet::v2::Logits logits;
  const auto progressAll = vo.progress;
  for (std::int64_t f = 0; f < folds; ++f)
  {
    d.v2net = d.v2nets[static_cast<std::size_t>(f)];
    vo.progress = [&, f](double x) { return progressAll((static_cast<double>(f) + x) / static_cast<double>(folds)); };
    nnunet::v2::Logits one = nnunet::v2::predictLogits(
        pre.data.data(), 1, pre.shape, patch, pkg.network.numClasses,
        [&](const float* x, std::int64_t n, float* out)
        {
          if (cancelled())
            throw Error("cancelled");
          d.forward(x, n, out, opt.message);
        },
        vo);
    if (f == 0)
      logits = std::move(one);
    else
    {
      for (std::size_t i = 0; i < logits.values.size(); ++i)
        logits.values[i] = nnunet::v2::roundHalf(static_cast<double>(logits.values[i] + one.values[i]));
      logits.forwardPasses += one.forwardPasses;
    }
  }
  if (folds > 1)
    for (float& v : logits.values)
      v = nnunet::v2::roundHalf(static_cast<double>(v / static_cast<float>(folds)));
  d.v2net = d.v2nets.front();
  r.networkSeconds = secondsSince(tNet);
  report(0.95, "exporting");
  const auto tExp = Clock::now();
  nnunet::v2::Exported e = nnunet::v2::exportLogits(logits, pre, params, opt.keepProbabilityMap || opt.keepProbabilities);
  r.mask = std::move(e.mask);
  if (opt.keepProbabilityMap)
  {
    const std::int64_t tv = static_cast<std::int64_t>(e.readerLabels.size());
    const std::vector<float> bg =
        nnunet::v2::fromReaderOrder(e.probabilities.data(), pre.originalGeometry, pre.reader);
    (void)tv;
    r.foregroundProbability = Image(pre.originalGeometry, 0.0f);
    r.foregroundProbability.info.modality.clear();
    for (std::size_t i = 0; i < bg.size(); ++i)
      r.foregroundProbability.voxels[i] = 1.0f - bg[i];
  }
  if (opt.keepProbabilities)
  {
    r.probabilities = std::move(e.probabilities); // [K, reader order] at the original resolution
    r.probabilityShape = pre.reader.shape;
  }
  if (opt.largestComponent > 0)
    for (int l = 1; l < pkg.network.numClasses; ++l)
      r.largestComponentRemoved += nnunet::keepLargestComponent(r.mask, l);
  r.exportSeconds = secondsSince(tExp);
  r.numClasses = pkg.network.numClasses;
  r.foregroundVoxels = r.mask.countLabel(0);
  r.volumeMl = r.mask.volumeMl(0);
  r.device = d.device.str();
  r.fp16 = d.fp16;
  r.bf16 = d.bf16 && !d.device.is_cuda();
  r.fellBackToCpu = d.fellBack;
  r.finalBatch = d.batch;
  r.seconds = secondsSince(t0);
  report(1.0, "done");
  return r;
}

PredictResult predictCase(const ModelPackage& pkg, const Image& image, const PredictOptions& opt)
{
  Predictor p(pkg, opt);
  return p.predict(image, opt);
}

ForwardTiming benchForwardPass(const PlanConfig& plan, const std::string& planName,
                               const std::string& deviceName, bool fp16, int reps, int warmup)
{
  ForwardTiming t;
  const torch::Device device = parseDevice(resolveDevice(deviceName));
  if (fp16 && !device.is_cuda())
    throw Error("fp16 (CUDA autocast) needs a CUDA device");
  t.plan = planName;
  t.precision = fp16 ? "fp16 autocast" : "fp32";
  t.device = device.str();
  t.reps = std::max(1, reps);
  torch::manual_seed(0);
  PanSegNet net(plan);
  net->eval();
  net->to(device);
  t.parameters = models::parameterCount(*net);
  if (device.is_cuda())
    at::globalContext().setBenchmarkCuDNN(true);
  const Vec3& p = plan.patchSize;
  const torch::Tensor input = torch::randn({ 1, plan.inputChannels, p[0], p[1], p[2] }).to(device);
  resetGpuPeakMemory();
  std::vector<double> ms;
  for (int i = 0; i < std::max(0, warmup) + t.reps; ++i)
  {
    const auto t0 = Clock::now();
    {
      c10::InferenceMode guard;
      CudaAutocast autocast(fp16);
      const torch::Tensor out = net->forward(input);
      (void)out.to(torch::kCPU);
    }
    if (device.is_cuda())
      torch::cuda::synchronize();
    if (i >= warmup)
      ms.push_back(secondsSince(t0) * 1e3);
  }
  std::sort(ms.begin(), ms.end());
  t.minMs = ms.front();
  t.medianMs = ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
  if (device.is_cuda())
    t.gpuPeakMb = gpuPeakMemoryMb();
  return t;
}

ForwardTiming benchForwardPassWith(const PlanConfig& plan, const std::string& planName, const std::string& deviceName,
                                   const ForwardBenchOptions& o, int reps, int warmup)
{
  ForwardTiming t;
  const torch::Device device = parseDevice(resolveDevice(deviceName));
  if (o.fp16 && !device.is_cuda())
    throw Error("fp16 (CUDA autocast) needs a CUDA device");
  const std::int64_t batch = std::max<std::int64_t>(1, o.batch);
  t.plan = planName;
  t.precision = o.fp16 ? "fp16 autocast" : (o.bf16 && !device.is_cuda()) ? "bf16 autocast" : "fp32";
  if (batch > 1)
    t.precision += ", " + std::to_string(batch) + "/call";
  if (o.channelsLast)
    t.precision += ", channels-last";
  t.device = device.str();
  t.reps = std::max(1, reps);
  torch::manual_seed(0);
  PanSegNet net(plan);
  net->eval();
  net->to(device);
  if (o.channelsLast)
    toChannelsLast(*net);
  t.parameters = models::parameterCount(*net);
  if (device.is_cuda())
    at::globalContext().setBenchmarkCuDNN(true);
  const Vec3& p = plan.patchSize;
  torch::Tensor input = torch::randn({ batch, plan.inputChannels, p[0], p[1], p[2] }).to(device);
  if (o.channelsLast)
    input = input.contiguous(at::MemoryFormat::ChannelsLast3d);
  resetGpuPeakMemory();
  std::vector<double> ms;
  for (int i = 0; i < std::max(0, warmup) + t.reps; ++i)
  {
    const auto t0 = Clock::now();
    {
      c10::InferenceMode guard;
      CudaAutocast autocast(o.fp16);
      CpuBf16Autocast cpuAutocast(o.bf16 && !device.is_cuda());
      const torch::Tensor out = net->forward(input);
      (void)out.to(torch::kCPU, torch::kFloat);
    }
    if (device.is_cuda())
      torch::cuda::synchronize();
    if (i >= warmup)
      ms.push_back(secondsSince(t0) * 1e3);
  }
  std::sort(ms.begin(), ms.end());
  t.minMs = ms.front();
  t.medianMs = ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
  if (device.is_cuda())
    t.gpuPeakMb = gpuPeakMemoryMb();
  return t;
}

int setCpuThreads(int n)
{
  return configureThreads(n);
}
} // namespace panseg::models
