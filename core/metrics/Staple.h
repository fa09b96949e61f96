#pragma once
// STAPLE (Simultaneous Truth And Performance Level Estimation; Warfield, Zou and Wells, IEEE TMI
// 2004): a reference mask estimated from several raters' binary masks by expectation-maximisation,
// together with each rater's sensitivity p_j and specificity q_j.
//
// With D_ij = 1 when rater j marks voxel i and the prior f = P(T_i = 1):
//   E-step  W_i = a_i / (a_i + b_i),  a_i = f  * prod_j p_j^D_ij (1 - p_j)^(1 - D_ij),
//                                     b_i = (1 - f) * prod_j q_j^(1 - D_ij) (1 - q_j)^D_ij
//   M-step  p_j = sum_i W_i D_ij / sum_i W_i,  q_j = sum_i (1 - W_i)(1 - D_ij) / sum_i (1 - W_i)
// until no p_j or q_j changes by more than the tolerance. Consensus = voxels with W_i >= threshold.
//
// Region: p_j and q_j depend only on the voxels considered, but q_j and the default prior depend
// on how much agreed background is counted (the more field of view, the closer q_j gets to 1 and f
// to 0). The default region is the bounding box of the union of all raters' foreground grown by
// `marginVoxels` (5) on every side and clipped to the grid, so results do not depend on the scan's
// field of view; StapleRegion::WholeGrid counts every voxel (ITK's STAPLEImageFilter). Voxels
// outside the region are ones every rater calls background: they get the probability of that
// pattern (W of the all-background pattern) in the probability map and the mask.
//
// W_i depends only on which raters mark voxel i, so the EM runs on a histogram of the 2^R rater
// patterns (R <= 20 raters): one pass over the voxels, then iterations that cost O(2^R * R).

#include "core/Volume.h"

#include <array>
#include <cstdint>
#include <vector>

namespace panseg
{
enum class StapleRegion
{
  UnionBoundingBox, // bounding box of all raters' foreground + marginVoxels (default)
  WholeGrid         // every voxel of the grid (ITK's STAPLEImageFilter)
};

struct StapleOptions
{
  /// Foreground of each mask: voxels == label when label > 0, else every non-zero voxel.
  int label = 0;
  /// P(T = 1). Negative = the raters' mean foreground fraction over the region (ITK's default).
  /// Otherwise it must lie strictly between 0 and 1.
  double prior = -1.0;
  double initialSensitivity = 0.99;
  double initialSpecificity = 0.99;
  int maxIterations = 100;
  /// Converged when no sensitivity or specificity changed by more than this in one iteration.
  double tolerance = 1e-7;
  /// Consensus = voxels whose probability of being foreground is >= threshold.
  double threshold = 0.5;
  StapleRegion region = StapleRegion::UnionBoundingBox;
  int marginVoxels = 5; // UnionBoundingBox only
  /// Also return the per-voxel probability map (float, one per voxel of the grid).
  bool keepProbability = false;
  /// Voxel value of the consensus foreground.
  uint8_t foregroundValue = 1;
};

struct StapleResult
{
  LabelMask consensus;             // on the raters' grid: foregroundValue where W >= threshold
  std::vector<double> sensitivity; // p_j per mask, input order
  std::vector<double> specificity; // q_j per mask, input order
  double prior = 0;                // f used
  int iterations = 0;              // EM iterations run
  bool converged = false;
  /// Region the estimates were computed on: [begin, end) per axis, and its voxel count.
  std::array<int64_t, 3> regionBegin{0, 0, 0};
  std::array<int64_t, 3> regionEnd{0, 0, 0};
  int64_t regionVoxels = 0;
  std::vector<float> probability; // W per voxel (same layout as the mask), when asked for
};

/// Binary STAPLE of `masks` (at least 2, at most 20, all on the same grid). Throws panseg::Error
/// naming the first mask whose grid differs from the first mask's, or any invalid option.
/// When no rater marks any voxel the consensus is empty, every p_j = q_j = 1, prior 0,
/// iterations 0 and converged = true (nothing to estimate).
StapleResult staple(const std::vector<const LabelMask*>& masks, const StapleOptions& options = {});
} // namespace panseg
