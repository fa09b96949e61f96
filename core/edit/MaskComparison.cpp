#include "core/edit/MaskComparison.h"

#include "core/Error.h"

#include <string>

namespace panseg::edit
{
namespace
{
bool in(uint8_t v, int label)
{
  return label == 0 ? v != 0 : v == label;
}

void checkLabels(int labelA, int labelB)
{
  for (int l : {labelA, labelB})
    if (l < 0 || l > 255)
      throw Error("label " + std::to_string(l) + " is out of range 0..255");
}
} // namespace

double OverlapCounts::dice() const
{
  const int64_t sum = 2 * both + onlyA + onlyB;
  return sum == 0 ? 1.0 : 2.0 * static_cast<double>(both) / static_cast<double>(sum);
}

OverlapCounts countOverlap(const LabelMask& a, int labelA, const LabelMask& b, int labelB)
{
  checkLabels(labelA, labelB);
  std::string why;
  if (!a.geometry.sameGrid(b.geometry, &why) || a.voxels.size() != b.voxels.size())
    throw Error("cannot compare masks on different grids: " + why);
  OverlapCounts c;
  c.voxelVolumeMl = a.geometry.voxelVolumeMm3() / 1000.0;
  for (size_t i = 0; i < a.voxels.size(); ++i)
  {
    const bool ia = in(a.voxels[i], labelA), ib = in(b.voxels[i], labelB);
    c.both += ia && ib;
    c.onlyA += ia && !ib;
    c.onlyB += ib && !ia;
  }
  return c;
}

std::vector<uint8_t> agreementClasses(const std::vector<uint8_t>& a, int labelA,
                                      const std::vector<uint8_t>& b, int labelB)
{
  checkLabels(labelA, labelB);
  if (a.size() != b.size())
    throw Error("cannot compare slices of different sizes");
  std::vector<uint8_t> out(a.size(), AgreeNone);
  for (size_t i = 0; i < a.size(); ++i)
  {
    const bool ia = in(a[i], labelA), ib = in(b[i], labelB);
    out[i] = ia && ib ? AgreeBoth : ia ? AgreeOnlyA : ib ? AgreeOnlyB : AgreeNone;
  }
  return out;
}
} // namespace panseg::edit
