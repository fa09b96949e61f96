#include "core/io/ItkRegionGrowing.h"

#include "core/Error.h"
#include "core/edit/BoxPrompt.h"

#include <itkConfidenceConnectedImageFilter.h>
#include <itkImage.h>
#include <itkSignedMaurerDistanceMapImageFilter.h>
#include <itkThresholdSegmentationLevelSetImageFilter.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace panseg::edit
{
namespace
{
using ItkImage = itk::Image<float, 3>;
using ItkMask = itk::Image<unsigned char, 3>;

/// The region of an image both methods work in: clipped to the image, copied into an ITK image
/// (x fastest), with helpers to address it.
struct RegionImage
{
  Box region;
  int64_t nx = 0, ny = 0, nz = 0;
  ItkImage::Pointer itk;
  float* data = nullptr;

  RegionImage(const Image& image, const Box& regionIn, const char* method)
  {
    const Geometry& g = image.geometry;
    region = regionIn;
    for (int a = 0; a < 3; ++a)
    {
      region.lo[a] = std::clamp<int64_t>(region.lo[a], 0, g.size[a]);
      region.hi[a] = std::clamp<int64_t>(region.hi[a], 0, g.size[a]);
    }
    if (region.empty())
      throw Error(std::string(method) + ": the region lies outside the image");
    nx = region.hi[0] - region.lo[0];
    ny = region.hi[1] - region.lo[1];
    nz = region.hi[2] - region.lo[2];
    itk = ItkImage::New();
    itk->SetRegions(ItkImage::RegionType(itkSize()));
    ItkImage::SpacingType spacing;
    for (int a = 0; a < 3; ++a)
      spacing[a] = g.spacingMm[a];
    itk->SetSpacing(spacing);
    itk->Allocate();
    data = itk->GetBufferPointer();
    for (int64_t z = 0; z < nz; ++z)
      for (int64_t y = 0; y < ny; ++y)
        for (int64_t x = 0; x < nx; ++x)
          data[(z * ny + y) * nx + x] = image.at(region.lo[0] + x, region.lo[1] + y, region.lo[2] + z);
  }
  ItkImage::SizeType itkSize() const
  {
    ItkImage::SizeType size;
    size[0] = static_cast<itk::SizeValueType>(nx);
    size[1] = static_cast<itk::SizeValueType>(ny);
    size[2] = static_cast<itk::SizeValueType>(nz);
    return size;
  }
  int64_t voxels() const { return nx * ny * nz; }
  bool inside(const Index3& p) const { return boxHolds(region, p); }
  /// Offset of an image voxel inside the region's buffer.
  int64_t offset(const Index3& p) const
  {
    return ((p[2] - region.lo[2]) * ny + (p[1] - region.lo[1])) * nx + (p[0] - region.lo[0]);
  }
  /// Region voxels within `radiusMm` (in every axis) of any of `centres`, each once.
  template <typename Fn>
  void forBalls(const std::vector<Index3>& centres, double radiusMm, const Geometry& g, Fn fn) const
  {
    const int64_t r[3] = { static_cast<int64_t>(std::floor(radiusMm / g.spacingMm[0])),
                           static_cast<int64_t>(std::floor(radiusMm / g.spacingMm[1])),
                           static_cast<int64_t>(std::floor(radiusMm / g.spacingMm[2])) };
    const double r2 = radiusMm * radiusMm;
    for (const Index3& c : centres)
      for (int64_t dz = -r[2]; dz <= r[2]; ++dz)
        for (int64_t dy = -r[1]; dy <= r[1]; ++dy)
          for (int64_t dx = -r[0]; dx <= r[0]; ++dx)
          {
            const Index3 p{ c[0] + dx, c[1] + dy, c[2] + dz };
            const double d2 = std::pow(dx * g.spacingMm[0], 2) + std::pow(dy * g.spacingMm[1], 2) +
                              std::pow(dz * g.spacingMm[2], 2);
            if (d2 <= r2 + 1e-9 && inside(p))
              fn(offset(p));
          }
  }
  /// The foreground seeds that are inside the region and whose neighbourhood (radius `nr`
  /// voxels) has no voxel in `barred` (a background scribble's ball).
  std::vector<Index3> usableSeeds(const std::vector<Index3>& seeds, int64_t nr, const std::vector<uint8_t>& barred) const
  {
    std::vector<Index3> out;
    for (const Index3& s : seeds)
    {
      if (!inside(s))
        continue;
      bool nearBarrier = false;
      for (int64_t dz = -nr; dz <= nr && !nearBarrier; ++dz)
        for (int64_t dy = -nr; dy <= nr && !nearBarrier; ++dy)
          for (int64_t dx = -nr; dx <= nr && !nearBarrier; ++dx)
          {
            const Index3 p{ s[0] + dx, s[1] + dy, s[2] + dz };
            nearBarrier = inside(p) && barred[static_cast<size_t>(offset(p))];
          }
      if (!nearBarrier)
        out.push_back(s);
    }
    return out;
  }
};
} // namespace

std::vector<uint8_t> confidenceConnectedInRegion(const Image& image, const Box& regionIn,
                                                 const std::vector<Index3>& foregroundSeeds,
                                                 const std::vector<Index3>& backgroundSeeds,
                                                 const ConfidenceConnectedOptions& options)
{
  const RegionImage r(image, regionIn, "region growing");
  // Background scribbles as barriers: an intensity no interval can hold.
  std::vector<uint8_t> barred(static_cast<size_t>(r.voxels()), 0);
  r.forBalls(backgroundSeeds, options.backgroundRadiusMm, image.geometry,
             [&](int64_t o) { barred[static_cast<size_t>(o)] = 1; });
  const float barrier = std::numeric_limits<float>::lowest();
  for (size_t i = 0; i < barred.size(); ++i)
    if (barred[i])
      r.data[i] = barrier;

  using Filter = itk::ConfidenceConnectedImageFilter<ItkImage, ItkMask>;
  auto filter = Filter::New();
  filter->SetInput(r.itk);
  filter->SetMultiplier(options.multiplier);
  filter->SetNumberOfIterations(static_cast<unsigned int>(std::max(0, options.iterations)));
  filter->SetInitialNeighborhoodRadius(static_cast<unsigned int>(std::max(0, options.neighbourhoodRadius)));
  filter->SetReplaceValue(1);
  // A seed next to a background scribble would put the barrier into the first estimate.
  const std::vector<Index3> seeds = r.usableSeeds(foregroundSeeds, std::max(0, options.neighbourhoodRadius), barred);
  if (seeds.empty())
    throw Error("region growing needs a foreground seed inside the region");
  for (const Index3& s : seeds)
  {
    ItkImage::IndexType idx;
    for (int a = 0; a < 3; ++a)
      idx[a] = s[a] - r.region.lo[a];
    filter->AddSeed(idx);
  }
  try
  {
    filter->Update();
  }
  catch (const itk::ExceptionObject& e)
  {
    throw Error(std::string("region growing failed: ") + e.GetDescription());
  }
  const unsigned char* grown = filter->GetOutput()->GetBufferPointer();
  std::vector<uint8_t> result(static_cast<size_t>(r.voxels()));
  for (size_t i = 0; i < result.size(); ++i)
    result[i] = grown[i] ? 1 : 0;
  return result;
}

std::vector<uint8_t> levelSetInRegion(const Image& image, const Box& regionIn, const std::vector<Index3>& foregroundSeeds,
                                      const std::vector<Index3>& backgroundSeeds, const LevelSetOptions& options)
{
  const Geometry& g = image.geometry;
  const RegionImage r(image, regionIn, "level set");
  std::vector<uint8_t> barred(static_cast<size_t>(r.voxels()), 0);
  r.forBalls(backgroundSeeds, options.backgroundRadiusMm, g, [&](int64_t o) { barred[static_cast<size_t>(o)] = 1; });
  const int64_t nr = std::max(0, options.neighbourhoodRadius);
  const std::vector<Index3> seeds = r.usableSeeds(foregroundSeeds, nr, barred);
  if (seeds.empty())
    throw Error("the level set needs a foreground seed inside the region");

  // The intensity window from the seeds' neighbourhoods (each voxel once).
  std::vector<uint8_t> counted(barred.size(), 0);
  double sum = 0, sum2 = 0, n = 0;
  for (const Index3& s : seeds)
    for (int64_t dz = -nr; dz <= nr; ++dz)
      for (int64_t dy = -nr; dy <= nr; ++dy)
        for (int64_t dx = -nr; dx <= nr; ++dx)
        {
          const Index3 p{ s[0] + dx, s[1] + dy, s[2] + dz };
          if (!r.inside(p))
            continue;
          const auto o = static_cast<size_t>(r.offset(p));
          if (counted[o])
            continue;
          counted[o] = 1;
          const double v = r.data[o];
          sum += v;
          sum2 += v * v;
          n += 1;
        }
  const double mean = sum / n;
  const double sd = std::sqrt(std::max(0.0, sum2 / n - mean * mean));
  const double half = std::max(options.multiplier * sd, 1e-3 * std::max(1.0, std::abs(mean)));

  // The feature image in window units, bounded so that no far-off intensity (bone, air) slows
  // the front elsewhere: (v - mean) / half, clamped to [-3, 3]; the window is then [-1, 1] and
  // the speed (ITK: v - lower below the middle, upper - v above) lies in [-2, 1]. Background
  // scribbles get -3: the front retreats from them.
  for (size_t i = 0; i < barred.size(); ++i)
    r.data[i] = barred[i] ? -3.0f : static_cast<float>(std::clamp((r.data[i] - mean) / half, -3.0, 3.0));

  // The starting surface: balls at the seeds, as a signed distance (negative inside, mm).
  auto start = ItkMask::New();
  start->SetRegions(ItkMask::RegionType(r.itkSize()));
  start->SetSpacing(r.itk->GetSpacing());
  start->Allocate();
  start->FillBuffer(0);
  unsigned char* s0 = start->GetBufferPointer();
  // Ellipsoids of seedRadiusMm, at least one voxel either side on every axis: a start thinner
  // than three voxels on some axis collapses under its own curvature on thick slices.
  int64_t rv[3];
  for (int a = 0; a < 3; ++a)
    rv[a] = std::max<int64_t>(1, std::llround(std::max(0.0, options.seedRadiusMm) / g.spacingMm[a]));
  for (const Index3& s : seeds)
    for (int64_t dz = -rv[2]; dz <= rv[2]; ++dz)
      for (int64_t dy = -rv[1]; dy <= rv[1]; ++dy)
        for (int64_t dx = -rv[0]; dx <= rv[0]; ++dx)
        {
          const Index3 p{ s[0] + dx, s[1] + dy, s[2] + dz };
          const double q = std::pow(dx / (rv[0] + 0.5), 2) + std::pow(dy / (rv[1] + 0.5), 2) +
                           std::pow(dz / (rv[2] + 0.5), 2);
          if (q <= 1.0 && r.inside(p))
            s0[r.offset(p)] = 1;
        }

  using Distance = itk::SignedMaurerDistanceMapImageFilter<ItkMask, ItkImage>;
  auto distance = Distance::New();
  distance->SetInput(start);
  distance->SetUseImageSpacing(true);
  distance->SetInsideIsPositive(false);
  distance->SetSquaredDistance(false);
  using LevelSet = itk::ThresholdSegmentationLevelSetImageFilter<ItkImage, ItkImage, float>;
  auto filter = LevelSet::New();
  filter->SetInput(distance->GetOutput());
  filter->SetFeatureImage(r.itk);
  filter->SetLowerThreshold(-1.0f);
  filter->SetUpperThreshold(1.0f);
  filter->SetCurvatureScaling(options.curvatureScaling);
  filter->SetPropagationScaling(options.propagationScaling);
  filter->SetMaximumRMSError(options.maxRmsChange);
  filter->SetNumberOfIterations(static_cast<unsigned int>(std::max(1, options.maxIterations)));
  filter->SetIsoSurfaceValue(0.0);
  try
  {
    filter->Update();
  }
  catch (const itk::ExceptionObject& e)
  {
    throw Error(std::string("the level set failed: ") + e.GetDescription());
  }
  const float* phi = filter->GetOutput()->GetBufferPointer();
  std::vector<uint8_t> result(static_cast<size_t>(r.voxels()));
  for (size_t i = 0; i < result.size(); ++i)
    result[i] = phi[i] <= 0.0f && !barred[i] ? 1 : 0;
  return result;
}
} // namespace panseg::edit
