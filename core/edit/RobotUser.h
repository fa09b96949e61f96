#pragma once
// The simulated user of interactive segmentation benchmarks (the CVPR 2025 interactive 3D
// segmentation challenge's protocol): a box from the truth's bounding box, then clicks, each at
// the centre of the largest remaining error component (positive in a missed region, negative in
// a false one). The "centre" is the component voxel farthest (in mm) from the component's
// border, so it always lies inside the component, even for a curved or ring-shaped one.

#include "core/Volume.h"
#include "core/edit/GrowCut.h"
#include "core/edit/LabelEditor.h"

#include <memory>

#include <optional>
#include <vector>

namespace panseg::edit
{
/// Bounding box [lo, hi) of the voxels where `mask` has `label` (0 = any non-zero); empty if none.
Box labelBoundingBox(const LabelMask& mask, int label);

/// Dice of `a` label la against `b` label lb (0 = any non-zero); 1 when both are empty.
double diceOf(const LabelMask& a, int la, const LabelMask& b, int lb);

struct RobotClick
{
  Index3 voxel{0, 0, 0};
  bool positive = true;          // true: the truth has it, the prediction missed it
  int64_t componentVoxels = 0;   // size of the error component clicked
  double depthMm = 0.0;          // distance of the click to the component's border
};

/// The next click: centre of the largest 6-connected component of the disagreement between
/// `prediction` (label lp; 0 = any non-zero) and `truth` (label lt). None when they agree.
/// Throws panseg::Error when the grids differ.
std::optional<RobotClick> nextRobotClick(const LabelMask& prediction, int lp,
                                         const LabelMask& truth, int lt);

/// `b` grown by `by` voxels per axis, clipped to `size`.
Box grownBox(const Box& b, const Index3& by, const Size3& size);
/// The voxels on the faces of `b`.
std::vector<Index3> boxShell(const Box& b);
/// The grow-from-seeds result as a 0/1 mask on grid `g` (1 = foreground inside the region).
LabelMask growCutMask(const GrowCut& gc, const Geometry& g);

struct GrowCutRobotOptions
{
  int clicks = 5;
  double seedRadiusMm = 3.0;  // a click's seed stroke: a ball (clipped to the component's depth)
  double boxMarginMm = 5.0;   // background seeds lie on the truth's box grown by this
  GrowCutOptions growCut;
};

struct RobotCurve
{
  std::vector<double> dice;       // after the box, then after each click
  std::vector<double> updateMs;   // grow-from-seeds update time per interaction
  std::vector<bool> incremental;  // whether that update was incremental
  std::vector<RobotClick> clicks;
};

/// Grow from seeds driven by the robot user: the box (background seeds on its faces, one
/// foreground ball at its centre), then up to `clicks` seed strokes at the robot's clicks.
RobotCurve runGrowCutRobot(std::shared_ptr<const Image> image, const LabelMask& truth,
                           int truthLabel, const GrowCutRobotOptions& options = {});

/// Click refinement of a starting mask (e.g. the model's box result) driven by the robot:
/// interaction 0 = the starting mask, then up to `clicks` clicks refined by grow from seeds
/// inside `box` (core/edit/BoxPrompt.h ClickRefiner). The mask outside the box is kept.
RobotCurve runRefineRobot(std::shared_ptr<const Image> image, const LabelMask& start, int label,
                          const Box& box, const LabelMask& truth, int truthLabel,
                          const GrowCutRobotOptions& options = {});

/// Area under the Dice-per-interaction curve, normalised to [0, 1] (trapezoids over the
/// interactions, divided by their number - 1; a single value is returned as is).
double diceCurveArea(const std::vector<double>& dicePerInteraction);

/// Interactions needed to reach `threshold` (index into the curve), or -1 when never reached.
int interactionsToReach(const std::vector<double>& dicePerInteraction, double threshold);

} // namespace panseg::edit
