#include "models/Guidance.h"

#include "core/Error.h"
#include "models/ModelPackage.h"

#include <algorithm>
#include <cmath>

namespace panseg::models::guidance
{
bool takesClicks(const std::string& modelType)
{
  return modelType == kModelType;
}

bool takesClicks(const ModelPackage& pkg)
{
  return takesClicks(pkg.info.modelType);
}

void paint(float* out, const nnunet::Shape3& shape, const std::vector<GridClick>& clicks,
           const std::uint8_t* previous)
{
  const std::int64_t n = nnunet::voxelCount(shape);
  std::fill(out, out + kChannels * n, 0.0f);
  const auto r = static_cast<std::int64_t>(std::floor(kClickRadiusVoxels));
  const double r2 = kClickRadiusVoxels * kClickRadiusVoxels;
  for (const GridClick& c : clicks)
  {
    float* channel = out + (c.positive ? 0 : n);
    for (std::int64_t dz = -r; dz <= r; ++dz)
      for (std::int64_t dy = -r; dy <= r; ++dy)
        for (std::int64_t dx = -r; dx <= r; ++dx)
        {
          if (static_cast<double>(dz * dz + dy * dy + dx * dx) > r2)
            continue;
          const std::int64_t z = c.zyx[0] + dz, y = c.zyx[1] + dy, x = c.zyx[2] + dx;
          if (z < 0 || y < 0 || x < 0 || z >= shape[0] || y >= shape[1] || x >= shape[2])
            continue;
          channel[(z * shape[1] + y) * shape[2] + x] = 1.0f;
        }
  }
  if (previous)
  {
    float* channel = out + 2 * n;
    for (std::int64_t i = 0; i < n; ++i)
      channel[i] = previous[i] ? 1.0f : 0.0f;
  }
}

namespace
{
/// The cropped (untransposed) extent of each network axis.
nnunet::Shape3 croppedTransposed(const nnunet::Preprocessed& pre)
{
  nnunet::Shape3 ct{ 0, 0, 0 };
  for (int i = 0; i < 3; ++i)
    ct[static_cast<std::size_t>(i)] = pre.croppedShape[static_cast<std::size_t>(pre.transposeForward[static_cast<std::size_t>(i)])];
  return ct;
}
} // namespace

bool toNetworkGrid(const nnunet::Preprocessed& pre, const std::array<std::int64_t, 3>& xyz,
                   std::array<std::int64_t, 3>& zyx)
{
  const std::array<std::int64_t, 3> orig{ xyz[2], xyz[1], xyz[0] };
  std::array<std::int64_t, 3> c{ 0, 0, 0 };
  for (std::size_t i = 0; i < 3; ++i)
  {
    c[i] = orig[i] - pre.crop.start[i];
    if (c[i] < 0 || c[i] >= pre.croppedShape[i])
      return false;
  }
  const nnunet::Shape3 ct = croppedTransposed(pre);
  for (std::size_t i = 0; i < 3; ++i)
  {
    const auto t = static_cast<double>(c[static_cast<std::size_t>(pre.transposeForward[i])]);
    const auto v = static_cast<std::int64_t>(std::floor((t + 0.5) * static_cast<double>(pre.shape[i]) /
                                                        static_cast<double>(ct[i])));
    zyx[i] = std::clamp<std::int64_t>(v, 0, pre.shape[i] - 1);
  }
  return true;
}

std::vector<std::uint8_t> maskToNetworkGrid(const nnunet::Preprocessed& pre, const LabelMask& mask, int label)
{
  const nnunet::Shape3 os = nnunet::shapeOf(mask.geometry);
  if (os != pre.originalShape)
    throw Error("the previous mask (" + std::to_string(os[2]) + "x" + std::to_string(os[1]) + "x" +
                std::to_string(os[0]) + " voxels) is not on the image's grid (" +
                std::to_string(pre.originalShape[2]) + "x" + std::to_string(pre.originalShape[1]) + "x" +
                std::to_string(pre.originalShape[0]) + ")");
  const nnunet::Shape3 ct = croppedTransposed(pre);
  // Per network axis, the cropped index its voxel centres fall in.
  std::array<std::vector<std::int64_t>, 3> src;
  for (std::size_t i = 0; i < 3; ++i)
  {
    src[i].resize(static_cast<std::size_t>(pre.shape[i]));
    for (std::int64_t k = 0; k < pre.shape[i]; ++k)
    {
      const auto t = static_cast<std::int64_t>(std::floor((static_cast<double>(k) + 0.5) *
                                                          static_cast<double>(ct[i]) /
                                                          static_cast<double>(pre.shape[i])));
      src[i][static_cast<std::size_t>(k)] = std::clamp<std::int64_t>(t, 0, ct[i] - 1);
    }
  }
  std::vector<std::uint8_t> out(static_cast<std::size_t>(nnunet::voxelCount(pre.shape)), 0);
  std::size_t o = 0;
  for (std::int64_t a = 0; a < pre.shape[0]; ++a)
    for (std::int64_t b = 0; b < pre.shape[1]; ++b)
      for (std::int64_t d = 0; d < pre.shape[2]; ++d, ++o)
      {
        std::array<std::int64_t, 3> c{ 0, 0, 0 };
        c[static_cast<std::size_t>(pre.transposeForward[0])] = src[0][static_cast<std::size_t>(a)];
        c[static_cast<std::size_t>(pre.transposeForward[1])] = src[1][static_cast<std::size_t>(b)];
        c[static_cast<std::size_t>(pre.transposeForward[2])] = src[2][static_cast<std::size_t>(d)];
        const std::int64_t z = c[0] + pre.crop.start[0], y = c[1] + pre.crop.start[1], x = c[2] + pre.crop.start[2];
        out[o] = mask.voxels[static_cast<std::size_t>((z * os[1] + y) * os[2] + x)] == label ? 1 : 0;
      }
  return out;
}
} // namespace panseg::models::guidance
