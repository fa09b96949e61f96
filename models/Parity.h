#pragma once
// Comparing this implementation against the reference fixture written with the authors' Python
// classes (shared/fixtures/pansegnet-parity). Used by the tests and by `panseg-models parity`.
//
// LibTorch header: include only from Qt-free translation units.
#include <torch/torch.h>

#include <string>
#include <vector>

namespace panseg::models
{
enum class Precision
{
  Float32,         // fp32 module and input
  Float64,         // module and input cast to double (compare with output_ref_float64.bin)
  Float16Autocast, // CUDA autocast, like nnUNet_predict on GPU
  Float16          // module and input cast to half (CUDA)
};

Precision parsePrecision(const std::string& name); // "fp32", "fp64", "fp16" (autocast), "half"
std::string toString(Precision p);

struct TensorComparison
{
  std::string name;  // fixture file, e.g. "intermediates/enc0_out.bin"
  double maxAbs = 0; // max |ours - reference|
  double meanAbs = 0;
  double referenceMaxAbs = 0;
  double tolerance = 0; // pass bound on maxAbs; 0 = informational only
  bool pass = true;
};

struct ParityOptions
{
  std::string fixtureDir;
  std::string device = "cpu";
  Precision precision = Precision::Float32;
  bool weightsFromCheckpoint = false; // model_final_checkpoint.model instead of weights.bin
  bool allowTf32 = false;             // CUDA: leave TF32 on (off by default for parity)
};

struct ParityReport
{
  std::vector<TensorComparison> tensors; // every fixture tensor, output.bin last
  double outputMaxAbs = 0;               // logits vs output.bin
  double outputMaxAbsVsFloat64 = 0;      // logits vs output_ref_float64.bin
  std::int64_t argmaxMismatches = 0;     // voxels whose argmax differs from output.bin's
  std::int64_t argmaxMismatchesVsFloat64 = 0;
  std::int64_t voxels = 0;
  double forwardSeconds = 0; // one inference forward pass (after the traced one)
  std::int64_t parameterCount = 0;
  bool pass = false;
};

/// Builds the fixture network from config.json, loads its weights, runs the traced forward pass
/// and the inference forward pass, and compares every tensor listed in tensors.json.
/// Tolerances: fp32 CPU 1e-4, fp32 CUDA 1e-3 (TF32 off), fp64 1e-9 vs the float64 reference;
/// fp16 is judged on argmax agreement (>= 99.9 %) only. Throws panseg::Error on unreadable data.
ParityReport runFixtureParity(const ParityOptions& options);

/// max / mean |a - b| in double precision (shapes must match, else panseg::Error).
std::pair<double, double> absDifference(const torch::Tensor& a, const torch::Tensor& b,
                                        const std::string& what);
} // namespace panseg::models
