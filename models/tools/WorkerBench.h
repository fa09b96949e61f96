#pragma once
// CPU prediction-speed benchmarks of `panseg-worker bench` (docs/performance.md): the levers one
// by one on the fixture network, the paper-size network's whole-case estimate, and the
// authors'-settings reference row. Torch-free (the Predictor API only).
#include "models/ModelPackage.h"
#include "models/Predictor.h"

#include <string>

namespace panseg::models::bench
{
/// Forward-pass throughput of the fixture network (16x48x80 patch, 0.48 M parameters) per
/// configuration (patches per call, threads, channels-last, bf16 autocast), each row the median
/// of `reps` runs of 16 patches, with its ratio to the baseline (1 patch per call, fp32, the
/// given threads: the authors' nnUNet_predict settings) measured in the same process and the
/// logits' difference from it (bit-identical or max |d| and flipped argmax voxels).
void cpuLevers(const ModelPackage& fixturePackage, const PredictOptions& base, int reps);

/// Paper-size network on the CPU: forward-pass time in fp32 (`fp32MsPerPass`, measured by the
/// caller with 1 patch per call; 2 patches per call measured here) and bf16 when asked, and the
/// whole-case estimate (a 512 x 512 x 300 grid at the network's resolution, step 0.5) with and
/// without TTA computed from them.
void paperEstimate(const PredictOptions& base, double fp32MsPerPass, int reps, bool bf16);

/// `--vs-reference`: the pipeline fixture's case (`caseName` "ct" or "mr") predicted with the
/// authors' settings' equivalent (1 patch per network call, one mirror per call, fp32) and with
/// PanSeg's default in the same process; outputs compared; ratio printed; the authors' recorded
/// nnUNet_predict times from the fixture README printed as recorded. With `bf16`, a third run
/// with CPU bf16 autocast: time, differing voxels, near-tie counts. Returns false when the
/// fixtures are absent (printed).
bool vsReference(const std::string& shared, const std::string& caseName, const PredictOptions& base, bool bf16);
/// nnU-Net v2 networks next to PanSegNet (issue 18): the two trained models of the nnunetv2-pipeline
/// fixture (PlainConvUNet on CT, ResidualEncoderUNet on MR), imported into temporary packages:
/// parameters, per-patch forward time (median of `reps` after a warm-up) and the whole-case time
/// with the package's settings (TTA, step 0.5, every fold) on the fixture's real input image
/// (`wholeCase` false: per patch only). Returns false when the fixtures are absent (printed).
bool nnunetV2Rows(const std::string& shared, const PredictOptions& base, int reps, bool wholeCase);
} // namespace panseg::models::bench
