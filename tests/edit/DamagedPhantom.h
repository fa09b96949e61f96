#pragma once
// The "done when" mask for the interactive tests (docs/interactive.md): a phantom's
// pancreas with its tail cut off (the voxels beyond 70 % of its x extent) and a false 9 x 9 x 5
// voxel blob by the duodenum.
#include "core/demo/PhantomGenerator.h"
#include "core/edit/RobotUser.h"

#include <cmath>

namespace panseg::testdata
{
inline LabelMask damagedPancreas(const demo::Phantom& ph)
{
  const edit::Box tb = edit::labelBoundingBox(ph.pancreas, 1);
  LabelMask damaged = ph.pancreas;
  const int64_t cut = tb.lo[0] + (tb.hi[0] - tb.lo[0]) * 7 / 10;
  for (size_t i = 0; i < damaged.voxels.size(); ++i)
    if (static_cast<int64_t>(i) % damaged.nx() >= cut)
      damaged.voxels[i] = 0;
  const Vec3 d = ph.ct.geometry.physicalToIndex(ph.landmarks.duodenum);
  for (int64_t z = -2; z <= 2; ++z)
    for (int64_t y = -4; y <= 4; ++y)
      for (int64_t x = -4; x <= 4; ++x)
        damaged.at(std::llround(d[0]) + x, std::llround(d[1]) + y, std::llround(d[2]) + z) = 1;
  return damaged;
}
} // namespace panseg::testdata
