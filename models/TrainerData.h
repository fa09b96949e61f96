#pragma once
// The trainer's data side, torch-free (plain C++17 on panseg_core): checking and preprocessing
// training cases, dataset intensity statistics, the split by patient, the deterministic random
// number generator, and patch sampling with nnU-Net-style augmentation.
//
// Everything here is deterministic: the same inputs and the same generator state give the same
// bytes, whatever the number of threads.
#include "core/Volume.h"
#include "core/preprocess/Common.h"
#include "models/ModelPackage.h"
#include "models/Plans.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace panseg::models
{
struct TrainCase;
struct AugmentationOptions;
struct SplitOptions;

// ---------------------------------------------------------------------------------------------
// Random numbers

/// splitmix64-based generator. Counter-derived streams (seed, epoch, iteration) make every
/// iteration's randomness a pure function of its position in the run, so a resumed run draws
/// exactly the numbers the uninterrupted run would have drawn.
class TrainRng
{
public:
  explicit TrainRng(std::uint64_t state = 0) : state_(state) {}
  /// Stream for one (seed, a, b, c) position, e.g. (seed, kind, epoch, iteration).
  static TrainRng stream(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0,
                         std::uint64_t c = 0);

  std::uint64_t next();
  double uniform();                   // [0, 1), 53 bits
  double uniform(double lo, double hi); // [lo, hi)
  std::uint64_t below(std::uint64_t n); // [0, n), n > 0 (no modulo bias)
  double normal();                    // standard normal (Box-Muller, no cached second value)
  std::uint64_t state() const { return state_; }

private:
  std::uint64_t state_;
};

/// 64-bit mixing function (splitmix64 finaliser).
std::uint64_t mix64(std::uint64_t x);

// ---------------------------------------------------------------------------------------------
// Cases

/// One case after nnU-Net preprocessing, held in memory for patch sampling.
struct PreparedCase
{
  std::string id;
  std::string patientId;
  nnunet::Shape3 shape{0, 0, 0}; // (D, H, W) at the target spacing
  std::vector<float> data;       // normalised image [D, H, W]
  std::vector<std::uint8_t> seg; // class labels 0..K-1 [D, H, W]
  /// Linear indices of foreground voxels (label > 0) used for foreground oversampling: all of
  /// them, or 10,000 evenly spaced ones when there are more (nnU-Net keeps 10,000 random ones).
  std::vector<std::int64_t> foregroundSamples;
  std::int64_t foregroundVoxels = 0;
};

/// Checks one case and throws panseg::Error naming it: empty image, mask not on the image grid
/// (with the first difference), labels the plan cannot hold, no foreground.
void checkTrainCase(const TrainCase& c, std::int64_t numClasses);

/// Crop to non-zero, resample (image order 3, mask nnU-Net's per-label order 1), normalise, as
/// panseg::nnunet::preprocess does at inference. With numClasses == 2 every non-zero mask label
/// is foreground (1); otherwise labels must be < numClasses. Throws panseg::Error naming the case
/// (also when resampling removes all foreground).
PreparedCase prepareCase(const TrainCase& c, const PreprocessingSpec& pre,
                         std::int64_t numClasses, int threads = 0);

/// Same, going through a disk cache folder when `cacheDir` is not empty: the preprocessed case
/// is stored as `<cacheDir>/<id>-<key>.pscase`, key = hash of the voxels, grid and settings, and
/// read back on the next run. A cache file that cannot be written only costs the time.
PreparedCase prepareCaseCached(const TrainCase& c, const PreprocessingSpec& pre,
                               std::int64_t numClasses, const std::string& cacheDir,
                               int threads = 0, bool* fromCache = nullptr);

/// nnU-Net's dataset intensity properties of the foreground (mask > 0): every 10th foreground
/// voxel of each case (in memory order), pooled; mean, sd (population), median, min, max and the
/// 0.5 / 99.5 percentiles (numpy's linear interpolation). Throws when there is no foreground.
IntensityProperties foregroundIntensityProperties(const std::vector<const TrainCase*>& cases);

/// numpy.percentile(values, q) with linear interpolation; `values` is sorted in place.
double percentileLinear(std::vector<double>& values, double q);

// ---------------------------------------------------------------------------------------------
// Split by patient

struct DataSplit
{
  std::vector<std::string> trainIds;      // case ids, in input order
  std::vector<std::string> validationIds; // case ids, in input order
  std::string description;                // e.g. "hold-out 20 % of 15 patients (seed 12345)"
};

/// Splits case ids by patient so that no patient is on both sides.
/// `cases` = (case id, patient id; empty patient id = the case id). Patients are sorted, then
/// shuffled with TrainRng(seed); k-fold takes contiguous chunks (sizes differ by at most one, as
/// sklearn's KFold does, though the shuffle itself is not numpy's); hold-out takes
/// max(1, round(fraction * patients)) patients. Explicit validation ids override both.
/// Throws panseg::Error for duplicate case ids, unknown explicit ids, a fold out of range, or a
/// split that leaves no training case.
DataSplit splitByPatient(const std::vector<std::pair<std::string, std::string>>& cases,
                         const SplitOptions& options);

// ---------------------------------------------------------------------------------------------
// Patches

/// Random spatial/intensity parameters of one patch (drawn by drawPatchTransform).
struct PatchTransform
{
  std::size_t caseIndex = 0;
  bool forcedForeground = false;
  std::array<std::int64_t, 3> center{0, 0, 0}; // voxel the patch is centred on (D, H, W)
  double rotationRad = 0.0;                     // in-plane (H, W) rotation
  std::array<double, 3> scale{1.0, 1.0, 1.0};   // per axis (> 1 = larger field of view)
  std::array<bool, 3> mirror{false, false, false};
  double noiseSigma = 0.0;       // 0 = no noise
  double brightness = 1.0;       // multiplicative
  double gammaInverted = 1.0;    // 1 = not applied
  double gamma = 1.0;            // 1 = not applied
  bool spatial() const { return rotationRad != 0.0 || scale != std::array<double, 3>{1.0, 1.0, 1.0}; }
};

/// nnU-Net's do_dummy_2D_aug rule: max(patch) / patch[0] > 3.
bool useTwoDimensionalAugmentation(const Vec3& patch);

/// Draws where and how to sample batch item `itemInBatch`: the case uniformly among `cases`;
/// items with itemInBatch >= round(batchSize * (1 - oversample)) are centred on a random
/// foreground voxel (nnU-Net v1's rule: 1 of 2 at batch size 2), the others anywhere in the
/// case; then the augmentation parameters per AugmentationOptions.
PatchTransform drawPatchTransform(const std::vector<const PreparedCase*>& cases, int itemInBatch,
                                  int batchSize, double oversample, const Vec3& patch,
                                  const AugmentationOptions& aug, TrainRng& rng);

/// Writes the patch into image [D, H, W] and seg [D, H, W] buffers of patch size. Without
/// rotation/scaling it is an exact copy (zeros outside the case); with them the image is
/// sampled trilinearly and the mask by thresholding its trilinear interpolation at 0.5 per
/// label (nnU-Net's order-1 segmentation resampling), zeros outside. Then noise, brightness,
/// inverted gamma, gamma (statistics retained), mirroring. `noiseRng` supplies the noise.
void extractPatch(const PreparedCase& c, const Vec3& patch, const PatchTransform& t,
                  TrainRng& noiseRng, float* image, std::uint8_t* seg);

/// nnU-Net's gamma augmentation of one patch in place (rescale to [0, 1] by min/max, power,
/// back; optionally inverted; mean and sd restored).
void applyGamma(float* data, std::int64_t n, double gamma, bool invert);
} // namespace panseg::models
