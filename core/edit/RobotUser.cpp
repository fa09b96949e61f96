#include "core/edit/RobotUser.h"

#include "core/Error.h"
#include "core/edit/BoxPrompt.h"
#include "core/metrics/DistanceTransform.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace panseg::edit
{
namespace
{
inline bool has(uint8_t v, int label) { return label == 0 ? v != 0 : v == label; }

void checkGrids(const LabelMask& a, const LabelMask& b)
{
  std::string why;
  if (!a.geometry.sameGrid(b.geometry, &why))
    throw Error("the prediction and the truth are on different grids: " + why);
}
} // namespace

Box labelBoundingBox(const LabelMask& m, int label)
{
  Box b;
  for (int64_t z = 0; z < m.nz(); ++z)
    for (int64_t y = 0; y < m.ny(); ++y)
    {
      const uint8_t* row = &m.voxels[m.offset(0, y, z)];
      for (int64_t x = 0; x < m.nx(); ++x)
        if (has(row[x], label))
          b.include(Index3{x, y, z});
    }
  return b;
}

double diceOf(const LabelMask& a, int la, const LabelMask& b, int lb)
{
  checkGrids(a, b);
  int64_t na = 0, nb = 0, both = 0;
  for (size_t i = 0; i < a.voxels.size(); ++i)
  {
    const bool x = has(a.voxels[i], la), y = has(b.voxels[i], lb);
    na += x;
    nb += y;
    both += x && y;
  }
  return na + nb == 0 ? 1.0 : 2.0 * static_cast<double>(both) / static_cast<double>(na + nb);
}

std::optional<RobotClick> nextRobotClick(const LabelMask& pred, int lp, const LabelMask& truth,
                                         int lt)
{
  checkGrids(pred, truth);
  // Errors lie within the union's bounding box.
  Box box;
  for (int64_t z = 0; z < pred.nz(); ++z)
    for (int64_t y = 0; y < pred.ny(); ++y)
      for (int64_t x = 0; x < pred.nx(); ++x)
      {
        const size_t o = pred.offset(x, y, z);
        if (has(pred.voxels[o], lp) != has(truth.voxels[o], lt))
          box.include(Index3{x, y, z});
      }
  if (box.empty())
    return std::nullopt;
  const Index3 n{box.hi[0] - box.lo[0], box.hi[1] - box.lo[1], box.hi[2] - box.lo[2]};
  const size_t count = static_cast<size_t>(box.voxelCount());
  // error type per box voxel: 0 none, 1 missed (positive), 2 false (negative)
  std::vector<uint8_t> err(count, 0);
  size_t i = 0;
  for (int64_t z = box.lo[2]; z < box.hi[2]; ++z)
    for (int64_t y = box.lo[1]; y < box.hi[1]; ++y)
      for (int64_t x = box.lo[0]; x < box.hi[0]; ++x, ++i)
      {
        const size_t o = pred.offset(x, y, z);
        const bool p = has(pred.voxels[o], lp), t = has(truth.voxels[o], lt);
        err[i] = p == t ? 0 : (t ? 1 : 2);
      }
  // largest 6-connected component of one error type
  std::vector<int32_t> ids(count, 0);
  std::vector<size_t> queue;
  int32_t best = 0, next = 0;
  int64_t bestSize = 0;
  uint8_t bestType = 0;
  const int64_t sy = n[0], sz = n[0] * n[1];
  for (size_t s = 0; s < count; ++s)
  {
    if (!err[s] || ids[s])
      continue;
    const int32_t id = ++next;
    const uint8_t type = err[s];
    int64_t size = 0;
    queue.assign(1, s);
    ids[s] = id;
    while (!queue.empty())
    {
      const size_t o = queue.back();
      queue.pop_back();
      ++size;
      const int64_t x = static_cast<int64_t>(o) % n[0];
      const int64_t y = (static_cast<int64_t>(o) / n[0]) % n[1];
      const int64_t z = static_cast<int64_t>(o) / sz;
      auto visit = [&](bool ok, int64_t step)
      {
        if (!ok)
          return;
        const size_t q = static_cast<size_t>(static_cast<int64_t>(o) + step);
        if (err[q] == type && !ids[q])
        {
          ids[q] = id;
          queue.push_back(q);
        }
      };
      visit(x > 0, -1);
      visit(x + 1 < n[0], 1);
      visit(y > 0, -sy);
      visit(y + 1 < n[1], sy);
      visit(z > 0, -sz);
      visit(z + 1 < n[2], sz);
    }
    if (size > bestSize)
    {
      bestSize = size;
      best = id;
      bestType = type;
    }
  }
  // Depth of each voxel of the chosen component: distance to the nearest voxel outside it, in a
  // box padded by one voxel so that the box's faces count as outside.
  const Index3 pn{n[0] + 2, n[1] + 2, n[2] + 2};
  std::vector<uint8_t> outside(static_cast<size_t>(pn[0] * pn[1] * pn[2]), 1);
  i = 0;
  for (int64_t z = 0; z < n[2]; ++z)
    for (int64_t y = 0; y < n[1]; ++y)
      for (int64_t x = 0; x < n[0]; ++x, ++i)
        if (ids[i] == best)
          outside[static_cast<size_t>((x + 1) + pn[0] * ((y + 1) + pn[1] * (z + 1)))] = 0;
  const std::vector<double> d2 = squaredDistanceTransformMm2(outside, pn, pred.geometry.spacingMm, 1);
  RobotClick c;
  c.positive = bestType == 1;
  c.componentVoxels = bestSize;
  double bestD = -1.0;
  i = 0;
  for (int64_t z = 0; z < n[2]; ++z)
    for (int64_t y = 0; y < n[1]; ++y)
      for (int64_t x = 0; x < n[0]; ++x, ++i)
        if (ids[i] == best)
        {
          const double d = d2[static_cast<size_t>((x + 1) + pn[0] * ((y + 1) + pn[1] * (z + 1)))];
          if (d > bestD)
          {
            bestD = d;
            c.voxel = {box.lo[0] + x, box.lo[1] + y, box.lo[2] + z};
          }
        }
  c.depthMm = std::sqrt(std::max(0.0, bestD));
  return c;
}

Box grownBox(const Box& b, const Index3& by, const Size3& size)
{
  Box g;
  for (int a = 0; a < 3; ++a)
  {
    g.lo[a] = std::max<int64_t>(0, b.lo[a] - by[a]);
    g.hi[a] = std::min<int64_t>(size[a], b.hi[a] + by[a]);
  }
  return g;
}

std::vector<Index3> boxShell(const Box& b)
{
  std::vector<Index3> out;
  for (int64_t z = b.lo[2]; z < b.hi[2]; ++z)
    for (int64_t y = b.lo[1]; y < b.hi[1]; ++y)
      for (int64_t x = b.lo[0]; x < b.hi[0]; ++x)
        if (x == b.lo[0] || x + 1 == b.hi[0] || y == b.lo[1] || y + 1 == b.hi[1] || z == b.lo[2] ||
            z + 1 == b.hi[2])
          out.push_back({x, y, z});
  return out;
}

LabelMask growCutMask(const GrowCut& gc, const Geometry& g)
{
  LabelMask m(g, 0);
  const Box& r = gc.region();
  const std::vector<uint8_t> fg = gc.foregroundInRegion();
  size_t i = 0;
  for (int64_t z = r.lo[2]; z < r.hi[2]; ++z)
    for (int64_t y = r.lo[1]; y < r.hi[1]; ++y)
      for (int64_t x = r.lo[0]; x < r.hi[0]; ++x, ++i)
        m.voxels[m.offset(x, y, z)] = fg[i];
  return m;
}

RobotCurve runGrowCutRobot(std::shared_ptr<const Image> image, const LabelMask& truth,
                           int truthLabel, const GrowCutRobotOptions& o)
{
  std::string why;
  if (!image->geometry.sameGrid(truth.geometry, &why))
    throw Error("the image and the truth are on different grids: " + why);
  const Box tb = labelBoundingBox(truth, truthLabel);
  if (tb.empty())
    throw Error("the truth has no voxel of label " + std::to_string(truthLabel));
  RobotCurve curve;
  GrowCut gc(std::move(image), o.growCut);
  // The box: background on the faces of the truth's box grown by the margin, foreground at
  // the box's centre (all a box says).
  const Vec3& sp = truth.geometry.spacingMm;
  Index3 by{};
  for (int a = 0; a < 3; ++a)
    by[a] = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(o.boxMarginMm / sp[a] - 1e-9)));
  gc.addSeeds(boxShell(grownBox(tb, by, truth.geometry.size)), SeedLabel::Background);
  gc.addSeedBall({(tb.lo[0] + tb.hi[0] - 1) / 2, (tb.lo[1] + tb.hi[1] - 1) / 2,
                  (tb.lo[2] + tb.hi[2] - 1) / 2},
                 o.seedRadiusMm, SeedLabel::Foreground);
  GrowCutStats st = gc.update();
  LabelMask result = growCutMask(gc, truth.geometry);
  curve.dice.push_back(diceOf(result, 1, truth, truthLabel));
  curve.updateMs.push_back(st.milliseconds);
  curve.incremental.push_back(st.incremental);
  for (int k = 0; k < o.clicks; ++k)
  {
    const std::optional<RobotClick> c = nextRobotClick(result, 1, truth, truthLabel);
    if (!c)
      break;
    curve.clicks.push_back(*c);
    gc.addSeedBall(c->voxel, std::min(o.seedRadiusMm, c->depthMm), c->positive ? SeedLabel::Foreground : SeedLabel::Background);
    st = gc.update();
    result = growCutMask(gc, truth.geometry);
    curve.dice.push_back(diceOf(result, 1, truth, truthLabel));
    curve.updateMs.push_back(st.milliseconds);
    curve.incremental.push_back(st.incremental);
  }
  return curve;
}

RobotCurve runRefineRobot(std::shared_ptr<const Image> image, const LabelMask& start, int label,
                          const Box& box, const LabelMask& truth, int truthLabel,
                          const GrowCutRobotOptions& o)
{
  RobotCurve curve;
  LabelEditor editor(image, start);
  curve.dice.push_back(diceOf(editor.mask(), label, truth, truthLabel));
  curve.updateMs.push_back(0.0);
  curve.incremental.push_back(false);
  ClickRefineOptions ro;
  ro.seedRadiusMm = o.seedRadiusMm;
  ro.growCut = o.growCut;
  ClickRefiner refiner(image, start, label, box, ro);
  for (int k = 0; k < o.clicks; ++k)
  {
    std::optional<RobotClick> c = nextRobotClick(editor.mask(), label, truth, truthLabel);
    if (!c)
      break;
    // The robot clicks inside the box (errors outside it cannot be fixed there).
    for (int a = 0; a < 3; ++a)
      c->voxel[a] = std::clamp(c->voxel[a], box.lo[a], box.hi[a] - 1);
    curve.clicks.push_back(*c);
    const std::vector<uint8_t> raster = refiner.click(Click{c->voxel, c->positive});
    editor.replaceInBox(label, box, raster);
    curve.dice.push_back(diceOf(editor.mask(), label, truth, truthLabel));
    curve.updateMs.push_back(refiner.lastStats().milliseconds);
    curve.incremental.push_back(refiner.lastStats().incremental);
  }
  return curve;
}

double diceCurveArea(const std::vector<double>& v)
{
  if (v.empty())
    return 0.0;
  if (v.size() == 1)
    return v[0];
  double a = 0.0;
  for (size_t k = 1; k < v.size(); ++k)
    a += 0.5 * (v[k - 1] + v[k]);
  return a / static_cast<double>(v.size() - 1);
}

int interactionsToReach(const std::vector<double>& v, double threshold)
{
  for (size_t k = 0; k < v.size(); ++k)
    if (v[k] >= threshold)
      return static_cast<int>(k);
  return -1;
}

} // namespace panseg::edit
