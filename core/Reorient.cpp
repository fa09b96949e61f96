#include "core/Reorient.h"

#include <cmath>

namespace panseg
{
bool reindexOntoGrid(const LabelMask& mask, const Geometry& ref, LabelMask* out, std::string* why)
{
  auto fail = [&](const std::string& m) {
    if (why)
      *why = m;
    return false;
  };
  const Geometry& g = mask.geometry;
  int axisOf[3];   // image axis matching mask axis i
  int signOf[3];   // +1 same direction, -1 flipped
  bool used[3] = { false, false, false };
  for (int i = 0; i < 3; ++i)
  {
    axisOf[i] = -1;
    for (int j = 0; j < 3; ++j)
    {
      double d = 0;
      for (int r = 0; r < 3; ++r)
        d += g.direction[r * 3 + i] * ref.direction[r * 3 + j];
      if (std::abs(std::abs(d) - 1.0) < 1e-4 && !used[j])
      {
        axisOf[i] = j;
        signOf[i] = d > 0 ? 1 : -1;
        used[j] = true;
        break;
      }
    }
    if (axisOf[i] < 0)
      return fail("axes are not parallel to the image axes");
    const int j = axisOf[i];
    if (g.size[i] != ref.size[j])
      return fail("size differs along an axis");
    if (std::abs(g.spacingMm[i] - ref.spacingMm[j]) > 1e-3)
      return fail("spacing differs along an axis");
  }
  // Image index of the mask's first voxel: must be the matching corner.
  const Vec3 r0 = ref.physicalToIndex(g.originMm);
  for (int i = 0; i < 3; ++i)
  {
    const int j = axisOf[i];
    const double expected = signOf[i] > 0 ? 0.0 : double(ref.size[j] - 1);
    if (std::abs(r0[j] - expected) > 1e-3)
      return fail("origin does not fall on the image's corner voxel");
  }
  if (!out)
    return true;
  LabelMask result(ref, 0);
  result.sourcePath = mask.sourcePath;
  int64_t m[3];
  for (m[2] = 0; m[2] < g.size[2]; ++m[2])
    for (m[1] = 0; m[1] < g.size[1]; ++m[1])
      for (m[0] = 0; m[0] < g.size[0]; ++m[0])
      {
        int64_t r[3];
        for (int i = 0; i < 3; ++i)
        {
          const int j = axisOf[i];
          r[j] = signOf[i] > 0 ? m[i] : ref.size[j] - 1 - m[i];
        }
        result.at(r[0], r[1], r[2]) = mask.at(m[0], m[1], m[2]);
      }
  *out = std::move(result);
  return true;
}
} // namespace panseg
