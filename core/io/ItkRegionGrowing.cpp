#include "core/io/ItkRegionGrowing.h"

#include "core/Error.h"

#include <itkConfidenceConnectedImageFilter.h>
#include <itkImage.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace panseg::edit
{
std::vector<uint8_t> confidenceConnectedInRegion(const Image& image, const Box& regionIn,
                                                 const std::vector<Index3>& foregroundSeeds,
                                                 const std::vector<Index3>& backgroundSeeds,
                                                 const ConfidenceConnectedOptions& options)
{
  const Geometry& g = image.geometry;
  Box region = regionIn;
  for (int a = 0; a < 3; ++a)
  {
    region.lo[a] = std::clamp<int64_t>(region.lo[a], 0, g.size[a]);
    region.hi[a] = std::clamp<int64_t>(region.hi[a], 0, g.size[a]);
  }
  if (region.empty())
    throw Error("region growing: the region lies outside the image");
  const int64_t nx = region.hi[0] - region.lo[0], ny = region.hi[1] - region.lo[1], nz = region.hi[2] - region.lo[2];
  auto inside = [&](const Index3& p)
  {
    for (int a = 0; a < 3; ++a)
      if (p[a] < region.lo[a] || p[a] >= region.hi[a])
        return false;
    return true;
  };
  // Offset of an image voxel inside the region's buffer (x fastest).
  auto offset = [&](const Index3& p) { return ((p[2] - region.lo[2]) * ny + (p[1] - region.lo[1])) * nx + (p[0] - region.lo[0]); };

  using ItkImage = itk::Image<float, 3>;
  using ItkMask = itk::Image<unsigned char, 3>;
  auto itkImage = ItkImage::New();
  ItkImage::SizeType size;
  size[0] = static_cast<itk::SizeValueType>(nx);
  size[1] = static_cast<itk::SizeValueType>(ny);
  size[2] = static_cast<itk::SizeValueType>(nz);
  itkImage->SetRegions(ItkImage::RegionType(size));
  ItkImage::SpacingType spacing;
  for (int a = 0; a < 3; ++a)
    spacing[a] = g.spacingMm[a];
  itkImage->SetSpacing(spacing);
  itkImage->Allocate();
  float* out = itkImage->GetBufferPointer();
  for (int64_t z = 0; z < nz; ++z)
    for (int64_t y = 0; y < ny; ++y)
      for (int64_t x = 0; x < nx; ++x)
        out[(z * ny + y) * nx + x] = image.at(region.lo[0] + x, region.lo[1] + y, region.lo[2] + z);

  // Background scribbles as barriers: an intensity no interval can hold.
  const float barrier = std::numeric_limits<float>::lowest();
  const int64_t r[3] = { static_cast<int64_t>(std::floor(options.backgroundRadiusMm / g.spacingMm[0])),
                         static_cast<int64_t>(std::floor(options.backgroundRadiusMm / g.spacingMm[1])),
                         static_cast<int64_t>(std::floor(options.backgroundRadiusMm / g.spacingMm[2])) };
  const double r2 = options.backgroundRadiusMm * options.backgroundRadiusMm;
  for (const Index3& b : backgroundSeeds)
    for (int64_t dz = -r[2]; dz <= r[2]; ++dz)
      for (int64_t dy = -r[1]; dy <= r[1]; ++dy)
        for (int64_t dx = -r[0]; dx <= r[0]; ++dx)
        {
          const Index3 p{ b[0] + dx, b[1] + dy, b[2] + dz };
          const double d2 = std::pow(dx * g.spacingMm[0], 2) + std::pow(dy * g.spacingMm[1], 2) +
                            std::pow(dz * g.spacingMm[2], 2);
          if (d2 <= r2 + 1e-9 && inside(p))
            out[offset(p)] = barrier;
        }

  using Filter = itk::ConfidenceConnectedImageFilter<ItkImage, ItkMask>;
  auto filter = Filter::New();
  filter->SetInput(itkImage);
  filter->SetMultiplier(options.multiplier);
  filter->SetNumberOfIterations(static_cast<unsigned int>(std::max(0, options.iterations)));
  filter->SetInitialNeighborhoodRadius(static_cast<unsigned int>(std::max(0, options.neighbourhoodRadius)));
  filter->SetReplaceValue(1);
  int seeds = 0;
  for (const Index3& s : foregroundSeeds)
  {
    if (!inside(s))
      continue;
    // A seed next to a background scribble would put the barrier into the first estimate.
    bool nearBarrier = false;
    const int64_t nr = std::max(0, options.neighbourhoodRadius);
    for (int64_t dz = -nr; dz <= nr && !nearBarrier; ++dz)
      for (int64_t dy = -nr; dy <= nr && !nearBarrier; ++dy)
        for (int64_t dx = -nr; dx <= nr && !nearBarrier; ++dx)
        {
          const Index3 p{ s[0] + dx, s[1] + dy, s[2] + dz };
          nearBarrier = inside(p) && out[offset(p)] == barrier;
        }
    if (nearBarrier)
      continue;
    ItkImage::IndexType idx;
    for (int a = 0; a < 3; ++a)
      idx[a] = s[a] - region.lo[a];
    filter->AddSeed(idx);
    ++seeds;
  }
  if (seeds == 0)
    throw Error("region growing needs a foreground seed inside the region");
  try
  {
    filter->Update();
  }
  catch (const itk::ExceptionObject& e)
  {
    throw Error(std::string("region growing failed: ") + e.GetDescription());
  }
  const unsigned char* grown = filter->GetOutput()->GetBufferPointer();
  std::vector<uint8_t> result(static_cast<size_t>(nx * ny * nz));
  for (size_t i = 0; i < result.size(); ++i)
    result[i] = grown[i] ? 1 : 0;
  return result;
}
} // namespace panseg::edit
