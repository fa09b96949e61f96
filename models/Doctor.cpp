#include "models/Doctor.h"

#include "core/Error.h"
#include "models/Json.h"
#include "models/PanSegNet.h"
#include "models/Plans.h"
#include "models/Predictor.h"

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <dlfcn.h>

#ifdef PANSEG_HAVE_CUDART
#include <cuda_runtime_api.h>
#endif

namespace panseg::models
{
namespace
{
namespace fs = std::filesystem;

std::string trim(const std::string& s)
{
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos)
    return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string firstLine(const std::string& s)
{
  const auto nl = s.find('\n');
  return trim(nl == std::string::npos ? s : s.substr(0, nl));
}

/// The value after "KEY=" in LibTorch's build settings (at::show_config()), "" when absent.
std::string buildSetting(const std::string& config, const std::string& key)
{
  const std::string needle = key + "=";
  std::size_t at = 0;
  while ((at = config.find(needle, at)) != std::string::npos)
  {
    if (at == 0 || config[at - 1] == ' ' || config[at - 1] == ',')
    {
      const std::size_t start = at + needle.size();
      const std::size_t end = config.find_first_of(", \n", start);
      return config.substr(start, end == std::string::npos ? std::string::npos : end - start);
    }
    at += needle.size();
  }
  return {};
}

bool truthy(const std::string& v)
{
  return v == "ON" || v == "1" || v == "TRUE" || v == "True" || v == "on";
}

/// "12.1" from 12010 (CUDA's encoding: major * 1000 + minor * 10).
std::string cudaVersionText(long v)
{
  if (v <= 0)
    return {};
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

/// cuDNN 8: major * 1000 + minor * 100 + patch; cuDNN 9 and later: major * 10000 + minor * 100 + patch.
std::string cudnnVersionText(long v)
{
  if (v <= 0)
    return {};
  const long major = v >= 90000 ? v / 10000 : v / 1000;
  const long minor = v >= 90000 ? (v % 10000) / 100 : (v % 1000) / 100;
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(v % 100);
}

std::string libtorchConfig()
{
  try
  {
    return at::show_config();
  }
  catch (const std::exception&)
  {
    return {};
  }
}

bool libtorchBuiltWithCuda(const std::string& config)
{
#ifdef PANSEG_TORCH_CUDA
  (void)config;
  return true;
#else
  if (truthy(buildSetting(config, "USE_CUDA")))
    return true;
  try
  {
    return at::detail::getCUDAHooks().hasCUDART();
  }
  catch (const std::exception&)
  {
    return false;
  }
#endif
}

/// The NVIDIA kernel module's version from /proc/driver/nvidia/version ("" when none is loaded).
std::string nvidiaDriverVersion()
{
  std::ifstream in("/proc/driver/nvidia/version");
  std::string line;
  if (!in || !std::getline(in, line))
    return {};
  const auto km = line.find("Kernel Module");
  if (km != std::string::npos)
  {
    std::istringstream rest(line.substr(km + 13));
    std::string v;
    if (rest >> v)
      return v;
  }
  return trim(line);
}

std::vector<std::string> driverGpuModels()
{
  std::vector<std::string> out;
  std::error_code ec;
  const fs::path dir("/proc/driver/nvidia/gpus");
  if (!fs::is_directory(dir, ec))
    return out;
  for (const auto& entry : fs::directory_iterator(dir, ec))
  {
    std::ifstream in(entry.path() / "information");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("Model:", 0) == 0)
        out.push_back(trim(line.substr(6)) + " (" + entry.path().filename().string() + ")");
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string cpuInfoField(const std::string& key)
{
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0)
    {
      const auto colon = line.find(':');
      if (colon != std::string::npos)
        return trim(line.substr(colon + 1));
    }
  return {};
}

std::string visibleDevicesNote()
{
  const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
  if (!v)
    return {};
  return std::string(" (CUDA_VISIBLE_DEVICES=\"") + v + "\")";
}

/// Why CUDA is unusable in this process ("" when it is usable).
std::string computeCudaReason()
{
  if (torch::cuda::is_available())
    return {};
  const std::string config = libtorchConfig();
  const std::string driver = nvidiaDriverVersion();
  if (!libtorchBuiltWithCuda(config))
  {
    std::string r = std::string("this LibTorch (") + TORCH_VERSION +
                    ") is CPU-only (built without CUDA); build panseg-worker and panseg-train against a CUDA "
                    "LibTorch with PANSEG_TORCH_DIR (docs/gpu.md)";
    if (!driver.empty())
      r += "; an NVIDIA driver " + driver + " is loaded";
    return r;
  }
  if (driver.empty())
    return "no NVIDIA driver is loaded (/proc/driver/nvidia/version is absent); install the NVIDIA driver "
           "(docs/gpu.md)";
#ifdef PANSEG_HAVE_CUDART
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  (void)cudaGetLastError();
  int driverCuda = 0, runtimeCuda = 0;
  cudaDriverGetVersion(&driverCuda);
  cudaRuntimeGetVersion(&runtimeCuda);
  if (e == cudaErrorInsufficientDriver)
    return "the NVIDIA driver " + driver + " is too old for this LibTorch's CUDA runtime " +
           cudaVersionText(runtimeCuda) + " (the driver supports CUDA " + cudaVersionText(driverCuda) +
           "); update the driver or use a LibTorch built for an older CUDA";
  if (e == cudaErrorNoDevice || (e == cudaSuccess && count == 0))
    return "no CUDA device is visible to this process (NVIDIA driver " + driver + ")" + visibleDevicesNote();
  if (e != cudaSuccess)
    return std::string("CUDA cannot be initialised: ") + cudaGetErrorString(e) + " (NVIDIA driver " + driver + ")" +
           visibleDevicesNote();
  return "LibTorch sees no usable CUDA device although the CUDA runtime reports " + std::to_string(count) +
         " (NVIDIA driver " + driver + ")";
#else
  return "no usable CUDA device (NVIDIA driver " + driver +
         "): the driver may be too old for this LibTorch's CUDA, or no device is visible" + visibleDevicesNote();
#endif
}
} // namespace

std::string cudaUnavailableReason(const std::string& device)
{
  if (device.rfind("cuda", 0) != 0)
    return {};
  return computeCudaReason();
}

TorchReport torchReport()
{
  TorchReport r;
  r.torchVersion = TORCH_VERSION;
  {
    // Where at::get_num_threads lives: the libtorch_cpu this process actually loaded.
    int (*fn)() = &at::get_num_threads;
    void* address = nullptr;
    std::memcpy(&address, &fn, sizeof address);
    Dl_info info{};
    if (dladdr(address, &info) != 0 && info.dli_fname)
    {
      std::error_code ec;
      const fs::path canonical = fs::weakly_canonical(info.dli_fname, ec);
      r.torchLibrary = ec ? std::string(info.dli_fname) : canonical.string();
    }
  }
  const std::string config = libtorchConfig();
  r.builtWithCuda = libtorchBuiltWithCuda(config);
  try
  {
    const auto& hooks = at::detail::getCUDAHooks();
    if (hooks.hasCUDART())
      r.cudaRuntime = cudaVersionText(hooks.versionCUDART());
  }
  catch (const std::exception&)
  {
  }
  try
  {
    const auto& hooks = at::detail::getCUDAHooks();
    if (hooks.compiledWithCuDNN())
      r.cudnn = cudnnVersionText(hooks.versionCuDNN());
  }
  catch (const std::exception&)
  {
  }
  r.cudaAvailable = torch::cuda::is_available();
  r.cudaDevices = r.cudaAvailable ? static_cast<int>(torch::cuda::device_count()) : 0;
  r.cudaUnavailableReason = computeCudaReason();
  r.nvidiaDriver = nvidiaDriverVersion();
  r.driverGpus = driverGpuModels();
#ifdef PANSEG_HAVE_CUDART
  for (int i = 0; i < r.cudaDevices; ++i)
  {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess)
      continue;
    GpuInfo g;
    g.index = i;
    g.name = p.name;
    g.memoryMb = static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0);
    g.major = p.major;
    g.minor = p.minor;
    const int cc = p.major * 10 + p.minor;
    g.fp16 = cc >= 70; // tensor cores (fp16 runs from 5.3, fast from 7.0)
    g.bf16 = cc >= 80;
    g.tf32 = cc >= 80;
    r.gpus.push_back(g);
  }
#else
  for (int i = 0; i < r.cudaDevices; ++i)
  {
    GpuInfo g;
    g.index = i;
    g.name = i < static_cast<int>(r.driverGpus.size()) ? r.driverGpus[static_cast<std::size_t>(i)] : "CUDA device";
    r.gpus.push_back(g);
  }
#endif
  r.cpuThreads = at::get_num_threads();
  r.interopThreads = at::get_num_interop_threads();
  r.hardwareThreads = static_cast<int>(std::thread::hardware_concurrency());
  r.cpuModel = cpuInfoField("model name");
  std::istringstream flags(" " + cpuInfoField("flags") + " ");
  std::vector<std::string> have;
  for (std::string f; flags >> f;)
    have.push_back(f);
  for (const char* f : { "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16" })
    if (std::find(have.begin(), have.end(), f) != have.end())
      r.cpuFeatures.push_back(f);
  r.cpuBf16Fast = std::find(have.begin(), have.end(), "avx512_bf16") != have.end() ||
                  std::find(have.begin(), have.end(), "amx_bf16") != have.end();
  const auto cap = config.find("CPU capability usage:");
  if (cap != std::string::npos)
    r.cpuCapability = firstLine(config.substr(cap + 21));
  r.mkldnn = at::hasMKLDNN();
  r.openmp = at::hasOpenMP();
  return r;
}

SmokeResult smokeForwardPass(const std::string& device, bool fp16, int passes)
{
  using Clock = std::chrono::steady_clock;
  SmokeResult s;
  s.precision = fp16 ? "fp16 autocast" : "fp32";
  const PlanConfig plan = PlanConfig::fixture();
  const Vec3& p = plan.patchSize;
  char name[96];
  std::snprintf(name, sizeof name, "fixture plan %lldx%lldx%lld (%.2f M parameters, random weights)",
                static_cast<long long>(p[0]), static_cast<long long>(p[1]), static_cast<long long>(p[2]),
                plan.parameterCount() / 1e6);
  s.plan = name;
  s.device = device;
  try
  {
    const torch::Device d = parseDevice(resolveDevice(device));
    s.device = d.str();
    if (fp16 && !d.is_cuda())
      throw Error("fp16 autocast needs a CUDA device");
    torch::manual_seed(0);
    PanSegNet net(plan);
    net->eval();
    net->to(d);
    const torch::Tensor x = torch::randn({ 1, plan.inputChannels, p[0], p[1], p[2] }).to(d);
    std::vector<double> ms;
    s.finite = true;
    for (int i = 0; i < 1 + std::max(0, passes); ++i)
    {
      const auto t0 = Clock::now();
      {
        c10::InferenceMode guard;
        CudaAutocast autocast(fp16);
        const torch::Tensor out = net->forward(x).to(torch::kCPU).to(torch::kFloat);
        s.finite = s.finite && out.dim() == 5 && out.size(1) == plan.numClasses && out.size(2) == p[0] &&
                   out.size(3) == p[1] && out.size(4) == p[2] && torch::isfinite(out).all().item<bool>();
      }
      if (d.is_cuda())
        torch::cuda::synchronize();
      const double elapsed = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (i == 0)
        s.firstMs = elapsed;
      else
        ms.push_back(elapsed);
    }
    s.passes = static_cast<int>(ms.size());
    if (!ms.empty())
    {
      std::sort(ms.begin(), ms.end());
      s.medianMs = ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
    }
  }
  catch (const std::exception& e)
  {
    s.error = firstLine(e.what());
    s.finite = false;
  }
  return s;
}

namespace
{
std::string q(const std::string& s)
{
  return json::quote(s);
}

std::string num(double v)
{
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

const char* yesNo(bool b)
{
  return b ? "true" : "false";
}

std::string list(const std::vector<std::string>& v, const std::string& empty = "none")
{
  if (v.empty())
    return empty;
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : ", ") + s;
  return out;
}
} // namespace

std::string doctorJson(const DoctorOptions& o, const TorchReport& r, const std::vector<SmokeResult>& smoke)
{
  std::ostringstream j;
  j << "{\"event\":\"doctor\",\"tool\":" << q(o.tool) << ",\"requested_device\":" << q(o.device);
  j << ",\"libtorch\":{\"version\":" << q(r.torchVersion) << ",\"library\":" << q(r.torchLibrary)
    << ",\"built_with_cuda\":" << yesNo(r.builtWithCuda) << ",\"cuda_runtime\":" << q(r.cudaRuntime)
    << ",\"cudnn\":" << q(r.cudnn) << ",\"cpu_capability\":" << q(r.cpuCapability)
    << ",\"mkldnn\":" << yesNo(r.mkldnn) << ",\"openmp\":" << yesNo(r.openmp) << "}";
  j << ",\"cuda\":{\"available\":" << yesNo(r.cudaAvailable) << ",\"reason\":" << q(r.cudaUnavailableReason)
    << ",\"devices\":" << r.cudaDevices << ",\"nvidia_driver\":" << q(r.nvidiaDriver) << ",\"driver_gpus\":[";
  for (std::size_t i = 0; i < r.driverGpus.size(); ++i)
    j << (i ? "," : "") << q(r.driverGpus[i]);
  j << "],\"gpus\":[";
  for (std::size_t i = 0; i < r.gpus.size(); ++i)
  {
    const GpuInfo& g = r.gpus[i];
    j << (i ? "," : "") << "{\"index\":" << g.index << ",\"name\":" << q(g.name) << ",\"memory_mb\":" << num(g.memoryMb)
      << ",\"compute_capability\":" << q(std::to_string(g.major) + "." + std::to_string(g.minor))
      << ",\"fp16\":" << yesNo(g.fp16) << ",\"bf16\":" << yesNo(g.bf16) << ",\"tf32\":" << yesNo(g.tf32) << "}";
  }
  j << "]}";
  j << ",\"cpu\":{\"model\":" << q(r.cpuModel) << ",\"hardware_threads\":" << r.hardwareThreads
    << ",\"torch_threads\":" << r.cpuThreads << ",\"interop_threads\":" << r.interopThreads << ",\"features\":[";
  for (std::size_t i = 0; i < r.cpuFeatures.size(); ++i)
    j << (i ? "," : "") << q(r.cpuFeatures[i]);
  j << "],\"bf16_fast\":" << yesNo(r.cpuBf16Fast) << "}";
  j << ",\"smoke\":[";
  for (std::size_t i = 0; i < smoke.size(); ++i)
  {
    const SmokeResult& s = smoke[i];
    j << (i ? "," : "") << "{\"device\":" << q(s.device) << ",\"precision\":" << q(s.precision)
      << ",\"plan\":" << q(s.plan) << ",\"ok\":" << yesNo(s.error.empty() && s.finite)
      << ",\"first_ms\":" << num(s.firstMs) << ",\"median_ms\":" << num(s.medianMs) << ",\"passes\":" << s.passes
      << ",\"finite\":" << yesNo(s.finite) << ",\"error\":" << q(s.error) << "}";
  }
  j << "],\"text\":" << q(doctorText(o, r, smoke)) << "}";
  return j.str();
}

std::string doctorText(const DoctorOptions& o, const TorchReport& r, const std::vector<SmokeResult>& smoke)
{
  std::ostringstream t;
  t << o.tool << " doctor\n";
  t << "LibTorch:        " << r.torchVersion << (r.builtWithCuda ? " (CUDA build)" : " (CPU only)") << "\n";
  t << "  library:       " << (r.torchLibrary.empty() ? "unknown" : r.torchLibrary) << "\n";
  if (r.builtWithCuda)
    t << "  CUDA runtime:  " << (r.cudaRuntime.empty() ? "unknown" : r.cudaRuntime)
      << ", cuDNN " << (r.cudnn.empty() ? "unknown" : r.cudnn) << "\n";
  t << "CUDA available:  " << (r.cudaAvailable ? "yes, " + std::to_string(r.cudaDevices) + " device(s)"
                                               : "no: " + r.cudaUnavailableReason)
    << "\n";
  t << "NVIDIA driver:   " << (r.nvidiaDriver.empty() ? "none loaded" : r.nvidiaDriver) << "\n";
  if (!r.driverGpus.empty())
    t << "  driver's GPUs: " << list(r.driverGpus) << "\n";
  for (const GpuInfo& g : r.gpus)
  {
    t << "GPU " << g.index << ":           " << g.name;
    if (g.memoryMb > 0)
      t << ", " << num(g.memoryMb / 1024.0) << " GiB";
    if (g.major > 0)
      t << ", compute " << g.major << "." << g.minor << "; fp16 " << (g.fp16 ? "yes" : "slow") << ", bf16 "
        << (g.bf16 ? "yes" : "no") << ", TF32 " << (g.tf32 ? "yes" : "no");
    t << "\n";
  }
  t << "CPU:             " << (r.cpuModel.empty() ? "unknown" : r.cpuModel) << "\n";
  t << "  threads:       " << r.cpuThreads << " LibTorch intra-op (" << r.interopThreads << " inter-op) of "
    << r.hardwareThreads << " hardware threads\n";
  t << "  features:      " << list(r.cpuFeatures) << "; LibTorch kernels "
    << (r.cpuCapability.empty() ? "unknown" : r.cpuCapability) << "; oneDNN " << (r.mkldnn ? "yes" : "no")
    << ", OpenMP " << (r.openmp ? "yes" : "no") << "\n";
  t << "  bf16 on CPU:   " << (r.cpuBf16Fast ? "in hardware (AVX512-BF16 / AMX)" : "emulated (slow)") << "\n";
  for (const SmokeResult& s : smoke)
  {
    t << "Smoke pass:      " << s.device << ", " << s.precision << ", " << s.plan << ": ";
    if (!s.error.empty())
      t << "FAILED: " << s.error << "\n";
    else
      t << (s.finite ? "ok" : "NON-FINITE OUTPUT") << ", first " << num(s.firstMs) << " ms, median "
        << num(s.medianMs) << " ms of " << s.passes << "\n";
  }
  return t.str();
}

void allowCudaTf32(bool allow)
{
  setCudaTf32(allow);
}

int runDoctor(const DoctorOptions& o)
{
  configureThreads(o.threads); // as the Predictor does: <= 0 means every hardware thread
  const TorchReport report = torchReport();
  std::vector<SmokeResult> smoke;
  if (o.smoke)
  {
    smoke.push_back(smokeForwardPass(o.device, false, o.passes));
    if (smoke.back().error.empty() && smoke.back().device.rfind("cuda", 0) == 0)
      smoke.push_back(smokeForwardPass(o.device, true, o.passes));
  }
  const std::string out = o.json ? doctorJson(o, report, smoke) + "\n" : doctorText(o, report, smoke);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  for (const SmokeResult& s : smoke)
    if (!s.error.empty() || !s.finite)
    {
      std::fprintf(stderr, "%s: error: %s\n", o.tool.c_str(),
                   s.error.empty() ? "the smoke forward pass gave non-finite logits" : s.error.c_str());
      return 1;
    }
  return 0;
}
} // namespace panseg::models
