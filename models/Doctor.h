#pragma once
// What the LibTorch of this process can do (`panseg-worker doctor`, `panseg-train doctor`, and
// through them `panseg doctor` and Help > System Information): LibTorch and CUDA/cuDNN versions,
// whether CUDA is usable and why not, the GPUs, precision support, CPU threads and features, and
// a short smoke forward pass. Torch-free API (the implementation is not).
#include <cstdint>
#include <string>
#include <vector>

namespace panseg::models
{
struct GpuInfo
{
  int index = 0;
  std::string name;
  double memoryMb = -1.0;          // total device memory, -1 unknown
  int major = 0, minor = 0;        // compute capability, 0.0 unknown
  bool fp16 = false, bf16 = false, tf32 = false; // fast paths by compute capability
};

struct TorchReport
{
  std::string torchVersion;        // "1.13.1"
  std::string torchLibrary;        // the LibTorch shared library this process loaded (dladdr)
  bool builtWithCuda = false;      // this LibTorch has CUDA kernels
  std::string cudaRuntime;         // "12.1" ("" unknown / none)
  std::string cudnn;               // "8.9.2" ("" unknown / none)
  bool cudaAvailable = false;      // torch::cuda::is_available()
  std::string cudaUnavailableReason; // one line; empty when available
  int cudaDevices = 0;
  std::vector<GpuInfo> gpus;
  std::string nvidiaDriver;        // from /proc/driver/nvidia/version ("" when no driver loaded)
  std::vector<std::string> driverGpus; // GPU models the driver lists (/proc/driver/nvidia/gpus)
  // CPU
  int cpuThreads = 0;              // LibTorch intra-op threads in effect
  int interopThreads = 0;          // LibTorch inter-op threads
  int hardwareThreads = 0;         // std::thread::hardware_concurrency()
  std::string cpuModel;            // /proc/cpuinfo "model name"
  std::vector<std::string> cpuFeatures; // of avx2, fma, avx512f, avx512_vnni, avx512_bf16, avx512_fp16, amx_bf16, amx_tile
  std::string cpuCapability;       // the kernels LibTorch chose ("AVX2", "AVX512", "DEFAULT"; "" unknown)
  bool cpuBf16Fast = false;        // AVX512-BF16 or AMX-BF16: bfloat16 matmul/conv in hardware
  bool mkldnn = false;             // oneDNN (MKL-DNN) compiled in
  bool openmp = false;             // OpenMP compiled in
};

/// Collects the report (cheap: no network is built). Initialises CUDA when LibTorch has it.
TorchReport torchReport();

/// Why `device` ("cuda", "cuda:N") cannot be used, one line; empty when it can (or when it is a
/// CPU device). The same text parseDevice() puts in its error, so predict, bench, train and doctor
/// name the same reason.
std::string cudaUnavailableReason(const std::string& device = "cuda");

struct SmokeResult
{
  std::string device;              // resolved ("cpu", "cuda:0")
  std::string precision;           // "fp32", "fp16 autocast"
  std::string plan;                // "fixture 16x48x80 (0.48 M parameters)"
  double firstMs = 0.0;            // first pass (includes one-time set-up)
  double medianMs = 0.0;           // median of the following passes
  int passes = 0;                  // passes after the first
  bool finite = false;             // every logit finite and the output shape right
  std::string error;               // non-empty: the pass could not run (device unusable, ...)
};

/// A small PanSegNet (the parity fixture's plan, random weights, seed 0) on `device` ("auto",
/// "cpu", "cuda[:N]"): one pass, then `passes` more timed. Never throws: errors go in `error`.
SmokeResult smokeForwardPass(const std::string& device, bool fp16, int passes = 3);

/// setCudaTf32 (PanSegNet.h) for torch-free translation units (panseg_pipeline_check): TF32 off
/// for fp32 parity on Ampere and newer GPUs. No effect without CUDA.
void allowCudaTf32(bool allow);

struct DoctorOptions
{
  std::string tool = "panseg-worker"; // the executable reporting
  std::string device = "auto";        // the smoke pass's device ("auto": CUDA when usable)
  int threads = 0;                    // LibTorch intra-op threads (<= 0: all hardware threads, as predict)
  int passes = 3;                     // timed smoke passes after the first
  bool json = false;                  // one JSON object on one line instead of text
  bool smoke = true;
};

/// One JSON object (one line, no newline) / a readable report of `report` and the smoke passes.
std::string doctorJson(const DoctorOptions& o, const TorchReport& report, const std::vector<SmokeResult>& smoke);
std::string doctorText(const DoctorOptions& o, const TorchReport& report, const std::vector<SmokeResult>& smoke);

/// `TOOL doctor [--device D] [--threads N] [--passes N] [--json]`: prints the report on stdout;
/// returns 0, or 1 after "TOOL: error: REASON" on stderr when a smoke pass failed (e.g. --device
/// cuda that cannot be honoured: the reason is parseDevice's, as for predict).
int runDoctor(const DoctorOptions& o);
} // namespace panseg::models
