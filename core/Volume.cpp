#include "core/Volume.h"

#include <array>

namespace panseg
{
int64_t LabelMask::countLabel(int label) const
{
  int64_t n = 0;
  if (label == 0)
  {
    for (uint8_t v : voxels)
      n += v != 0;
  }
  else
  {
    const uint8_t l = static_cast<uint8_t>(label);
    for (uint8_t v : voxels)
      n += v == l;
  }
  return n;
}

double LabelMask::volumeMl(int label) const
{
  return static_cast<double>(countLabel(label)) * geometry.voxelVolumeMm3() / 1000.0;
}

LabelMask LabelMask::binary(int label) const
{
  LabelMask out(geometry, 0);
  out.sourcePath = sourcePath;
  for (size_t i = 0; i < voxels.size(); ++i)
    out.voxels[i] = label == 0 ? (voxels[i] != 0) : (voxels[i] == label);
  return out;
}

std::vector<int> LabelMask::labels() const
{
  std::array<bool, 256> seen{};
  for (uint8_t v : voxels)
    seen[v] = true;
  std::vector<int> out;
  for (int i = 1; i < 256; ++i)
    if (seen[i])
      out.push_back(i);
  return out;
}
} // namespace panseg
