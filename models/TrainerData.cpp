#include "models/TrainerData.h"

#include "core/AtomicFile.h"
#include "core/Error.h"
#include "core/Random.h"
#include "core/preprocess/Preprocess.h"
#include "core/preprocess/Resample.h"
#include "models/Trainer.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <unistd.h>

namespace panseg::models
{
namespace
{
constexpr double kPi = 3.14159265358979323846;

std::string caseName(const TrainCase& c)
{
  return "case '" + c.id + "'";
}

std::int64_t roundHalfEven(double v)
{
  return static_cast<std::int64_t>(std::nearbyint(v)); // default rounding mode: half to even
}
} // namespace

// ---------------------------------------------------------------------------------------------
// Random numbers

std::uint64_t mix64(std::uint64_t x) { return splitmix64Mix(x + 0x9E3779B97F4A7C15ull); }

TrainRng TrainRng::stream(std::uint64_t seed, std::uint64_t a, std::uint64_t b, std::uint64_t c)
{
  std::uint64_t s = mix64(seed ^ 0x243F6A8885A308D3ull);
  s = mix64(s ^ (a * 0x9E3779B97F4A7C15ull));
  s = mix64(s ^ (b * 0xC2B2AE3D27D4EB4Full));
  s = mix64(s ^ (c * 0x165667B19E3779F9ull));
  return TrainRng(s);
}

std::uint64_t TrainRng::next() { return splitmix64Next(state_); }

double TrainRng::uniform()
{
  return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0);
}

double TrainRng::uniform(double lo, double hi)
{
  return lo + (hi - lo) * uniform();
}

std::uint64_t TrainRng::below(std::uint64_t n)
{
  if (n == 0)
    throw Error("TrainRng::below(0)");
  const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % n);
  std::uint64_t v = next();
  while (v >= limit)
    v = next();
  return v % n;
}

double TrainRng::normal()
{
  double u1 = uniform();
  while (u1 <= 0.0)
    u1 = uniform();
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
}

// ---------------------------------------------------------------------------------------------
// Cases

void checkTrainCase(const TrainCase& c, std::int64_t numClasses)
{
  if (c.id.empty())
    throw Error("a training case has no id");
  if (c.image.geometry.isEmpty() ||
      static_cast<std::int64_t>(c.image.voxels.size()) != c.image.geometry.voxelCount())
    throw Error(caseName(c) + ": the image is empty");
  if (c.mask.geometry.isEmpty() ||
      static_cast<std::int64_t>(c.mask.voxels.size()) != c.mask.geometry.voxelCount())
    throw Error(caseName(c) + ": the mask is empty");
  std::string why;
  if (!c.image.geometry.sameGrid(c.mask.geometry, &why))
    throw Error(caseName(c) + ": the mask does not lie on the image grid (" + why + ")");
  std::int64_t fg = 0;
  int maxLabel = 0;
  for (const std::uint8_t v : c.mask.voxels)
  {
    fg += v != 0;
    maxLabel = std::max<int>(maxLabel, v);
  }
  if (fg == 0)
    throw Error(caseName(c) + ": the mask has no foreground voxel (all labels are 0)");
  if (numClasses > 2 && maxLabel >= numClasses)
    throw Error(caseName(c) + ": the mask has label " + std::to_string(maxLabel) +
                " but the plan has only " + std::to_string(numClasses) + " classes (0.." +
                std::to_string(numClasses - 1) + ")");
}

PreparedCase prepareCase(const TrainCase& c, const PreprocessingSpec& pre,
                         std::int64_t numClasses, int threads)
{
  checkTrainCase(c, numClasses);
  ModelPackage holder;
  holder.preprocessing = pre;
  const nnunet::PreprocessParams pp = holder.preprocessParams(threads);
  nnunet::Preprocessed p;
  try
  {
    p = nnunet::preprocess(c.image, pp);
  }
  catch (const Error& e)
  {
    throw Error(caseName(c) + ": " + e.what());
  }

  // The mask goes through the same crop and nnU-Net's segmentation resampling.
  const nnunet::Shape3 full = nnunet::shapeOf(c.mask.geometry);
  const nnunet::Shape3 cs = p.croppedShape;
  std::vector<std::int8_t> cropped(static_cast<std::size_t>(nnunet::voxelCount(cs)));
  for (std::int64_t z = 0; z < cs[0]; ++z)
    for (std::int64_t y = 0; y < cs[1]; ++y)
    {
      const std::uint8_t* src =
          c.mask.voxels.data() +
          ((p.crop.start[0] + z) * full[1] + (p.crop.start[1] + y)) * full[2] + p.crop.start[2];
      std::int8_t* dst = cropped.data() + (z * cs[1] + y) * cs[2];
      for (std::int64_t x = 0; x < cs[2]; ++x)
        dst[x] = static_cast<std::int8_t>(numClasses == 2 ? (src[x] != 0 ? 1 : 0) : src[x]);
    }
  const std::vector<std::int8_t> seg =
      nnunet::resampleSegmentation(cropped.data(), cs, p.shape, 1, p.separateZ, threads);

  PreparedCase out;
  out.id = c.id;
  out.patientId = c.patientId.empty() ? c.id : c.patientId;
  out.shape = p.shape;
  out.data = std::move(p.data);
  out.seg.resize(seg.size());
  std::vector<std::int64_t> fg;
  for (std::size_t i = 0; i < seg.size(); ++i)
  {
    out.seg[i] = static_cast<std::uint8_t>(std::max<std::int8_t>(seg[i], 0));
    if (seg[i] > 0)
      fg.push_back(static_cast<std::int64_t>(i));
  }
  out.foregroundVoxels = static_cast<std::int64_t>(fg.size());
  if (fg.empty())
    throw Error(caseName(c) + ": no foreground is left after resampling the mask to " +
                std::to_string(pre.targetSpacingMm[0]) + " x " +
                std::to_string(pre.targetSpacingMm[1]) + " x " +
                std::to_string(pre.targetSpacingMm[2]) + " mm (the structure is too small)");
  constexpr std::size_t kMaxSamples = 10000;
  if (fg.size() <= kMaxSamples)
    out.foregroundSamples = std::move(fg);
  else
  {
    out.foregroundSamples.resize(kMaxSamples);
    for (std::size_t i = 0; i < kMaxSamples; ++i)
      out.foregroundSamples[i] = fg[i * fg.size() / kMaxSamples];
  }
  return out;
}

namespace
{
struct Fnv
{
  std::uint64_t h = 1469598103934665603ull;
  void bytes(const void* p, std::size_t n)
  {
    const auto* b = static_cast<const unsigned char*>(p);
    // 8 bytes at a time through mix64 (fast enough for 100 M voxels), then the tail.
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
    {
      std::uint64_t v;
      std::memcpy(&v, b + i, 8);
      h = mix64(h ^ v);
    }
    for (; i < n; ++i)
      h = (h ^ b[i]) * 1099511628211ull;
  }
  template <typename T> void value(const T& v) { bytes(&v, sizeof(v)); }
  void text(const std::string& s)
  {
    value(s.size());
    bytes(s.data(), s.size());
  }
};

constexpr char kCacheMagic[8] = {'P', 'S', 'C', 'A', 'S', 'E', '1', '\n'};

template <typename T> void put(std::string& out, const T& v)
{
  out.append(reinterpret_cast<const char*>(&v), sizeof(v));
}

template <typename T> bool get(std::ifstream& in, T& v)
{
  return static_cast<bool>(in.read(reinterpret_cast<char*>(&v), sizeof(v)));
}

bool readCacheFile(const std::string& path, std::uint64_t key, PreparedCase& out)
{
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, kCacheMagic, 8) != 0)
    return false;
  std::uint64_t k = 0;
  std::int64_t shape[3], nSamples = 0, fgVoxels = 0;
  if (!get(in, k) || k != key || !get(in, shape[0]) || !get(in, shape[1]) || !get(in, shape[2]) ||
      !get(in, nSamples) || !get(in, fgVoxels))
    return false;
  const std::int64_t n = shape[0] * shape[1] * shape[2];
  if (n <= 0 || nSamples < 0 || nSamples > n || n > (std::int64_t{1} << 34))
    return false;
  out.shape = {shape[0], shape[1], shape[2]};
  out.foregroundVoxels = fgVoxels;
  out.data.resize(static_cast<std::size_t>(n));
  out.seg.resize(static_cast<std::size_t>(n));
  out.foregroundSamples.resize(static_cast<std::size_t>(nSamples));
  if (!in.read(reinterpret_cast<char*>(out.data.data()), n * 4) ||
      !in.read(reinterpret_cast<char*>(out.seg.data()), n) ||
      !in.read(reinterpret_cast<char*>(out.foregroundSamples.data()), nSamples * 8))
    return false;
  char extra;
  return !in.read(&extra, 1); // exactly at the end
}
} // namespace

PreparedCase prepareCaseCached(const TrainCase& c, const PreprocessingSpec& pre,
                               std::int64_t numClasses, const std::string& cacheDir, int threads,
                               bool* fromCache)
{
  if (fromCache)
    *fromCache = false;
  if (cacheDir.empty())
    return prepareCase(c, pre, numClasses, threads);
  checkTrainCase(c, numClasses);
  Fnv f;
  f.text("panseg-train-case-1");
  f.text(c.id);
  f.value(c.image.geometry.size);
  f.value(c.image.geometry.spacingMm);
  f.value(c.image.geometry.originMm);
  f.value(c.image.geometry.direction);
  f.bytes(c.image.voxels.data(), c.image.voxels.size() * sizeof(float));
  f.bytes(c.mask.voxels.data(), c.mask.voxels.size());
  f.value(pre.targetSpacingMm);
  f.text(pre.normalization);
  f.value(pre.useMaskForNorm);
  f.value(pre.anisotropyThreshold);
  f.value(pre.intensity.has_value());
  if (pre.intensity)
  {
    f.value(pre.intensity->mean);
    f.value(pre.intensity->sd);
    f.value(pre.intensity->percentile00_5);
    f.value(pre.intensity->percentile99_5);
  }
  f.value(numClasses);
  const std::uint64_t key = f.h;
  char keyText[17];
  std::snprintf(keyText, sizeof(keyText), "%016llx", static_cast<unsigned long long>(key));
  std::string safeId = c.id;
  for (char& ch : safeId)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.'))
      ch = '_';
  const std::string path = cacheDir + "/" + safeId + "-" + keyText + ".pscase";

  PreparedCase cached;
  if (readCacheFile(path, key, cached))
  {
    cached.id = c.id;
    cached.patientId = c.patientId.empty() ? c.id : c.patientId;
    if (fromCache)
      *fromCache = true;
    return cached;
  }
  PreparedCase out = prepareCase(c, pre, numClasses, threads);
  try
  {
    std::filesystem::create_directories(cacheDir);
    std::string bytes;
    const std::int64_t n = nnunet::voxelCount(out.shape);
    bytes.reserve(static_cast<std::size_t>(64 + n * 5 + 8 * out.foregroundSamples.size()));
    bytes.append(kCacheMagic, 8);
    put(bytes, key);
    for (const auto s : out.shape)
      put(bytes, s);
    put(bytes, static_cast<std::int64_t>(out.foregroundSamples.size()));
    put(bytes, out.foregroundVoxels);
    bytes.append(reinterpret_cast<const char*>(out.data.data()), out.data.size() * 4);
    bytes.append(reinterpret_cast<const char*>(out.seg.data()), out.seg.size());
    bytes.append(reinterpret_cast<const char*>(out.foregroundSamples.data()),
                 out.foregroundSamples.size() * 8);
    writeFileAtomically(path, bytes);
  }
  catch (const std::exception&)
  {
    // The cache is an optimisation: a full disk or a read-only folder only costs time.
  }
  return out;
}

double percentileLinear(std::vector<double>& values, double q)
{
  if (values.empty())
    throw Error("percentile of no values");
  std::sort(values.begin(), values.end());
  const double pos = q / 100.0 * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return values[lo] + (values[hi] - values[lo]) * frac;
}

IntensityProperties foregroundIntensityProperties(const std::vector<const TrainCase*>& cases)
{
  std::vector<double> v;
  for (const TrainCase* c : cases)
  {
    std::int64_t k = 0;
    const std::size_t n = std::min(c->image.voxels.size(), c->mask.voxels.size());
    for (std::size_t i = 0; i < n; ++i)
      if (c->mask.voxels[i] != 0)
      {
        if (k % 10 == 0)
          v.push_back(static_cast<double>(c->image.voxels[i]));
        ++k;
      }
  }
  if (v.empty())
    throw Error("intensity statistics: the training masks have no foreground voxel");
  IntensityProperties p;
  double sum = 0.0;
  for (const double x : v)
    sum += x;
  p.mean = sum / static_cast<double>(v.size());
  double ss = 0.0;
  for (const double x : v)
    ss += (x - p.mean) * (x - p.mean);
  p.sd = std::sqrt(ss / static_cast<double>(v.size()));
  p.median = percentileLinear(v, 50.0);
  p.percentile00_5 = percentileLinear(v, 0.5);
  p.percentile99_5 = percentileLinear(v, 99.5);
  p.min = v.front();
  p.max = v.back();
  return p;
}

// ---------------------------------------------------------------------------------------------
// Split

DataSplit splitByPatient(const std::vector<std::pair<std::string, std::string>>& cases,
                         const SplitOptions& options)
{
  if (cases.empty())
    throw Error("no training cases");
  std::set<std::string> ids;
  std::map<std::string, std::vector<std::string>> byPatient;
  for (const auto& [id, patientIn] : cases)
  {
    if (!ids.insert(id).second)
      throw Error("case id '" + id + "' appears twice");
    byPatient[patientIn.empty() ? id : patientIn].push_back(id);
  }
  std::set<std::string> valCases;
  std::ostringstream desc;
  const auto patientOf = [&](const std::string& id) {
    for (const auto& [cid, p] : cases)
      if (cid == id)
        return p.empty() ? cid : p;
    return std::string();
  };
  if (!options.validationIds.empty())
  {
    std::set<std::string> valPatients;
    for (const std::string& id : options.validationIds)
    {
      if (!ids.count(id))
        throw Error("validation case '" + id + "' is not among the training cases");
      valPatients.insert(patientOf(id));
    }
    // Whole patients go to validation, never half of one.
    for (const std::string& p : valPatients)
      for (const std::string& id : byPatient[p])
        valCases.insert(id);
    desc << "explicit validation set (" << valPatients.size() << " of " << byPatient.size()
         << " patients)";
  }
  else
  {
    std::vector<std::string> patients;
    for (const auto& kv : byPatient)
      patients.push_back(kv.first); // sorted (std::map)
    TrainRng rng = TrainRng::stream(options.seed, 0x5711u);
    for (std::size_t i = patients.size(); i > 1; --i)
      std::swap(patients[i - 1], patients[static_cast<std::size_t>(rng.below(i))]);
    const std::size_t n = patients.size();
    std::size_t begin = 0, end = 0;
    if (options.folds >= 2)
    {
      const auto k = static_cast<std::size_t>(options.folds);
      if (options.fold < 0 || options.fold >= options.folds)
        throw Error("fold " + std::to_string(options.fold) + " is out of range for " +
                    std::to_string(options.folds) + " folds (0.." +
                    std::to_string(options.folds - 1) + ")");
      if (k > n)
        throw Error(std::to_string(options.folds) + "-fold cross-validation needs at least " +
                    std::to_string(options.folds) + " patients; there are " + std::to_string(n));
      const auto f = static_cast<std::size_t>(options.fold);
      for (std::size_t i = 0; i < f; ++i)
        begin += n / k + (i < n % k ? 1 : 0);
      end = begin + n / k + (f < n % k ? 1 : 0);
      desc << options.folds << "-fold split by patient, fold " << options.fold << " ("
           << end - begin << " of " << n << " patients validated, seed " << options.seed << ")";
    }
    else if (options.validationFraction > 0.0)
    {
      if (options.validationFraction >= 1.0)
        throw Error("the validation fraction must be below 1");
      if (n < 2)
        throw Error("a hold-out split needs at least 2 patients; there is " + std::to_string(n) +
                    " (use a validation fraction of 0 to train without validation)");
      std::size_t nVal = static_cast<std::size_t>(
          std::max<std::int64_t>(1, roundHalfEven(options.validationFraction * static_cast<double>(n))));
      nVal = std::min(nVal, n - 1);
      end = nVal;
      desc << "hold-out split by patient: " << nVal << " of " << n
           << " patients validated (seed " << options.seed << ")";
    }
    else
      desc << "no validation (" << n << " patients, all trained on)";
    for (std::size_t i = begin; i < end; ++i)
      for (const std::string& id : byPatient[patients[i]])
        valCases.insert(id);
  }
  DataSplit s;
  for (const auto& c : cases)
    (valCases.count(c.first) ? s.validationIds : s.trainIds).push_back(c.first);
  if (s.trainIds.empty())
    throw Error("the split leaves no training case");
  s.description = desc.str();
  return s;
}

// ---------------------------------------------------------------------------------------------
// Patches

bool useTwoDimensionalAugmentation(const Vec3& patch)
{
  const auto mx = std::max(patch[0], std::max(patch[1], patch[2]));
  return static_cast<double>(mx) / static_cast<double>(patch[0]) > 3.0;
}

namespace
{
/// batchgenerators' draw for scale and gamma ranges: below 1 half of the time when possible.
double drawAroundOne(TrainRng& rng, double lo, double hi)
{
  if (rng.uniform() < 0.5 && lo < 1.0)
    return rng.uniform(lo, 1.0);
  return rng.uniform(std::max(lo, 1.0), hi);
}
} // namespace

PatchTransform drawPatchTransform(const std::vector<const PreparedCase*>& cases, int itemInBatch,
                                  int batchSize, double oversample, const Vec3& patch,
                                  const AugmentationOptions& aug, TrainRng& rng)
{
  if (cases.empty())
    throw Error("no training cases to sample from");
  PatchTransform t;
  t.caseIndex = static_cast<std::size_t>(rng.below(cases.size()));
  const PreparedCase& c = *cases[t.caseIndex];
  const std::int64_t firstForced =
      roundHalfEven(static_cast<double>(batchSize) * (1.0 - oversample));
  t.forcedForeground = itemInBatch >= firstForced && !c.foregroundSamples.empty();
  // Lower corner range per axis (nnU-Net v1 DataLoader3D without the augmentation margin):
  // inside the case when it is larger than the patch, centred when it is smaller.
  std::array<std::int64_t, 3> lb{}, ub{};
  for (int a = 0; a < 3; ++a)
  {
    const std::int64_t s = c.shape[static_cast<std::size_t>(a)], p = patch[static_cast<std::size_t>(a)];
    if (s >= p)
    {
      lb[a] = 0;
      ub[a] = s - p;
    }
    else
      lb[a] = ub[a] = -((p - s) / 2);
  }
  if (t.forcedForeground)
  {
    const std::int64_t idx =
        c.foregroundSamples[static_cast<std::size_t>(rng.below(c.foregroundSamples.size()))];
    const std::int64_t v[3] = {idx / (c.shape[1] * c.shape[2]), (idx / c.shape[2]) % c.shape[1],
                               idx % c.shape[2]};
    for (int a = 0; a < 3; ++a)
    {
      const std::int64_t corner = std::clamp(v[a] - patch[static_cast<std::size_t>(a)] / 2, lb[a], ub[a]);
      t.center[static_cast<std::size_t>(a)] = corner + patch[static_cast<std::size_t>(a)] / 2;
    }
  }
  else
    for (int a = 0; a < 3; ++a)
      t.center[static_cast<std::size_t>(a)] =
          lb[a] + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(ub[a] - lb[a] + 1))) +
          patch[static_cast<std::size_t>(a)] / 2;

  if (!aug.enabled)
    return t;
  const bool twoD = useTwoDimensionalAugmentation(patch);
  if (rng.uniform() < aug.rotationProbability)
    t.rotationRad = rng.uniform(-aug.rotationMaxDeg, aug.rotationMaxDeg) * kPi / 180.0;
  if (rng.uniform() < aug.scaleProbability)
  {
    const double s = drawAroundOne(rng, aug.scaleMin, aug.scaleMax);
    t.scale = {twoD ? 1.0 : s, s, s};
  }
  if (rng.uniform() < aug.noiseProbability)
    t.noiseSigma = rng.uniform(0.0, aug.noiseMaxSigma);
  if (rng.uniform() < aug.brightnessProbability)
    t.brightness = rng.uniform(aug.brightnessMin, aug.brightnessMax);
  if (rng.uniform() < aug.gammaInvertedProbability)
    t.gammaInverted = drawAroundOne(rng, aug.gammaMin, aug.gammaMax);
  if (rng.uniform() < aug.gammaProbability)
    t.gamma = drawAroundOne(rng, aug.gammaMin, aug.gammaMax);
  if (aug.mirror)
    for (auto& m : t.mirror)
      m = rng.uniform() < 0.5;
  return t;
}

void applyGamma(float* data, std::int64_t n, double gamma, bool invert)
{
  if (n <= 0)
    return;
  if (invert)
    for (std::int64_t i = 0; i < n; ++i)
      data[i] = -data[i];
  double sum = 0.0, ss = 0.0;
  float mn = data[0], mx = data[0];
  for (std::int64_t i = 0; i < n; ++i)
  {
    sum += data[i];
    mn = std::min(mn, data[i]);
    mx = std::max(mx, data[i]);
  }
  const double mean = sum / static_cast<double>(n);
  for (std::int64_t i = 0; i < n; ++i)
    ss += (data[i] - mean) * (data[i] - mean);
  const double sd = std::sqrt(ss / static_cast<double>(n));
  constexpr double eps = 1e-7;
  const double range = static_cast<double>(mx) - mn;
  double sum2 = 0.0;
  for (std::int64_t i = 0; i < n; ++i)
  {
    const double v = std::pow((data[i] - mn) / (range + eps), gamma) * (range + eps) + mn;
    data[i] = static_cast<float>(v);
    sum2 += v;
  }
  // retain_stats: restore the mean and standard deviation of before.
  const double mean2 = sum2 / static_cast<double>(n);
  double ss2 = 0.0;
  for (std::int64_t i = 0; i < n; ++i)
    ss2 += (data[i] - mean2) * (data[i] - mean2);
  const double sd2 = std::sqrt(ss2 / static_cast<double>(n));
  for (std::int64_t i = 0; i < n; ++i)
  {
    const double v = (data[i] - mean2) / (sd2 + 1e-8) * sd + mean;
    data[i] = static_cast<float>(invert ? -v : v);
  }
}

void extractPatch(const PreparedCase& c, const Vec3& patch, const PatchTransform& t,
                  TrainRng& noiseRng, float* image, std::uint8_t* seg)
{
  const std::int64_t P0 = patch[0], P1 = patch[1], P2 = patch[2];
  const std::int64_t S0 = c.shape[0], S1 = c.shape[1], S2 = c.shape[2];
  const std::int64_t n = P0 * P1 * P2;
  const std::int64_t corner[3] = {t.center[0] - P0 / 2, t.center[1] - P1 / 2, t.center[2] - P2 / 2};
  if (!t.spatial())
  {
    for (std::int64_t d = 0; d < P0; ++d)
      for (std::int64_t h = 0; h < P1; ++h)
      {
        float* img = image + (d * P1 + h) * P2;
        std::uint8_t* sg = seg + (d * P1 + h) * P2;
        const std::int64_t z = corner[0] + d, y = corner[1] + h;
        if (z < 0 || z >= S0 || y < 0 || y >= S1)
        {
          std::fill(img, img + P2, 0.0f);
          std::fill(sg, sg + P2, std::uint8_t{0});
          continue;
        }
        const std::int64_t rowOffset = (z * S1 + y) * S2;
        for (std::int64_t w = 0; w < P2; ++w)
        {
          const std::int64_t x = corner[2] + w;
          const bool in = x >= 0 && x < S2;
          img[w] = in ? c.data[static_cast<std::size_t>(rowOffset + x)] : 0.0f;
          sg[w] = in ? c.seg[static_cast<std::size_t>(rowOffset + x)] : std::uint8_t{0};
        }
      }
  }
  else
  {
    std::uint8_t maxLabel = 0;
    for (const std::uint8_t v : c.seg)
      maxLabel = std::max(maxLabel, v);
    const double cc[3] = {corner[0] + (P0 - 1) / 2.0, corner[1] + (P1 - 1) / 2.0,
                          corner[2] + (P2 - 1) / 2.0};
    const double cs = std::cos(t.rotationRad), sn = std::sin(t.rotationRad);
    std::vector<double> labelAcc(static_cast<std::size_t>(maxLabel) + 1);
    for (std::int64_t d = 0; d < P0; ++d)
      for (std::int64_t h = 0; h < P1; ++h)
        for (std::int64_t w = 0; w < P2; ++w)
        {
          const double od = (d - (P0 - 1) / 2.0) * t.scale[0];
          const double oh = (h - (P1 - 1) / 2.0) * t.scale[1];
          const double ow = (w - (P2 - 1) / 2.0) * t.scale[2];
          const double src[3] = {cc[0] + od, cc[1] + cs * oh - sn * ow, cc[2] + sn * oh + cs * ow};
          std::int64_t i0[3];
          double f[3];
          for (int a = 0; a < 3; ++a)
          {
            const double fl = std::floor(src[a]);
            i0[a] = static_cast<std::int64_t>(fl);
            f[a] = src[a] - fl;
          }
          double acc = 0.0;
          std::fill(labelAcc.begin(), labelAcc.end(), 0.0);
          for (int k = 0; k < 8; ++k)
          {
            const std::int64_t z = i0[0] + (k >> 2), y = i0[1] + ((k >> 1) & 1), x = i0[2] + (k & 1);
            if (z < 0 || z >= S0 || y < 0 || y >= S1 || x < 0 || x >= S2)
              continue;
            const double wgt = ((k >> 2) ? f[0] : 1.0 - f[0]) * (((k >> 1) & 1) ? f[1] : 1.0 - f[1]) *
                               ((k & 1) ? f[2] : 1.0 - f[2]);
            const std::size_t o = static_cast<std::size_t>((z * S1 + y) * S2 + x);
            acc += wgt * c.data[o];
            labelAcc[c.seg[o]] += wgt;
          }
          const std::size_t o = static_cast<std::size_t>((d * P1 + h) * P2 + w);
          image[o] = static_cast<float>(acc);
          std::uint8_t label = 0;
          for (std::size_t l = 1; l < labelAcc.size(); ++l)
            if (labelAcc[l] >= 0.5)
              label = static_cast<std::uint8_t>(l);
          seg[o] = label;
        }
  }

  if (t.noiseSigma > 0.0)
    for (std::int64_t i = 0; i < n; ++i)
      image[i] += static_cast<float>(t.noiseSigma * noiseRng.normal());
  if (t.brightness != 1.0)
    for (std::int64_t i = 0; i < n; ++i)
      image[i] = static_cast<float>(image[i] * t.brightness);
  if (t.gammaInverted != 1.0)
    applyGamma(image, n, t.gammaInverted, true);
  if (t.gamma != 1.0)
    applyGamma(image, n, t.gamma, false);
  const std::int64_t dims[3] = {P0, P1, P2};
  for (int a = 0; a < 3; ++a)
  {
    if (!t.mirror[static_cast<std::size_t>(a)])
      continue;
    const std::int64_t inner = a == 0 ? P1 * P2 : (a == 1 ? P2 : 1);
    const std::int64_t len = dims[a];
    const std::int64_t outer = n / (inner * len);
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t i = 0; i < len / 2; ++i)
        for (std::int64_t k = 0; k < inner; ++k)
        {
          const std::int64_t p = (o * len + i) * inner + k;
          const std::int64_t q = (o * len + (len - 1 - i)) * inner + k;
          std::swap(image[p], image[q]);
          std::swap(seg[p], seg[q]);
        }
  }
}
} // namespace panseg::models
