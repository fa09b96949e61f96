#pragma once
// Agreement between two label masks on the same grid: overlap, surface distances in mm,
// voxel-level Cohen's kappa, volumes and relative volume error.
//
// Argument order everywhere: A = the mask under test (e.g. a model or a second reader),
// B = the reference. Surface-distance definitions follow MedPy (the library behind nnU-Net's
// evaluation), so numbers are comparable with published nnU-Net / PanSegNet tables:
//  * border of a mask = mask minus its erosion by the 6-connected cross; voxels outside the grid
//    count as background (scipy binary_erosion's border_value=0), so foreground on the grid edge
//    is border;
//  * directed distances = for every border voxel of one mask, the exact Euclidean distance in mm
//    (voxel centre to voxel centre, anisotropic spacing) to the nearest border voxel of the other;
//  * hd95Mm = 95th percentile (linear interpolation, numpy's default) of both directed sets pooled;
//    hdMm = the largest directed distance; assdMm = mean of the two directed means.
//
// Conventions for empty masks (chosen so that no NaN ever appears):
//  * both empty: dice = jaccard = precision = recall = 1, distances 0, distancesDefined = true,
//    kappa = kappaBbox = 1, vpe = 0;
//  * exactly one empty: dice = jaccard = precision = recall = 0 (the 0/0 of precision or recall
//    reads as 0), distances +infinity with distancesDefined = false, vpe = +infinity when B is
//    empty (-1 when A is). toJson writes every non-finite number as null.

#include "core/Volume.h"

#include <cstdint>
#include <string>

namespace panseg
{
struct AgreementOptions
{
  /// Run the distance transforms on the bounding box of A ∪ B plus a one-voxel margin instead of
  /// the whole grid. Exact: every border voxel lies in that box, and outside the grid counts as
  /// background either way. Off only for benchmarks and cross-checks.
  bool cropToUnion = true;
  /// Worker threads for the distance transforms (0 = hardware concurrency).
  int threads = 0;
  /// Percentile of the pooled directed distances reported as hd95Mm.
  double percentile = 95.0;
};

/// Range of the relative volume error allowed by a Dice value (PanSegNet paper, section 4.7).
/// With volumes V_a, V_b and overlap I: D = 2I / (V_a + V_b) and I <= min(V_a, V_b), hence
/// D <= 2 min(r, 1) / (r + 1) with r = V_a / V_b, i.e. r in [D / (2 - D), (2 - D) / D], and
/// vpe = r - 1 lies in [D / (2 - D) - 1, (2 - D) / D - 1] = [-2(1-D)/(2-D), 2(1-D)/D].
/// Both ends are reached (one mask containing the other). D = 0 gives [-1, +infinity].
struct VpeBounds
{
  double min = 0;
  double max = 0;
};
VpeBounds vpeBoundsFromDice(double dice);

struct AgreementResult
{
  // Overlap (A = test, B = reference).
  double dice = 0;      // 2|A∩B| / (|A| + |B|)
  double jaccard = 0;   // |A∩B| / |A∪B|
  double precision = 0; // |A∩B| / |A|
  double recall = 0;    // |A∩B| / |B| (sensitivity)

  // Surface distances in millimetres (see the header comment for the definitions).
  double hd95Mm = 0;
  double hdMm = 0;
  double assdMm = 0;
  bool distancesDefined = true; // false when exactly one mask is empty (distances = +infinity)
  int64_t borderVoxelsA = 0;
  int64_t borderVoxelsB = 0;

  // Voxel-level Cohen's kappa between the two masks seen as raters of every voxel.
  // kappa counts every voxel of the grid: the many agreed background voxels raise the chance
  // agreement and make the value depend on the field of view. kappaBbox counts only the voxels in
  // the bounding box of A ∪ B (no margin), which removes most of that dependence.
  double kappa = 1;
  double kappaBbox = 1;

  // Volumes and relative volume error.
  double volumeAMl = 0;
  double volumeBMl = 0;
  double vpe = 0;      // (V_a - V_b) / V_b
  VpeBounds vpeBounds; // range of vpe allowed by `dice` (vpe always lies inside)

  // Counts.
  int64_t countA = 0;
  int64_t countB = 0;
  int64_t overlap = 0;
  int64_t gridVoxels = 0;
  int64_t bboxVoxels = 0; // voxels in the bounding box of A ∪ B (0 when both are empty)
};

/// Compares label `labelA` of `a` (test) with label `labelB` of `b` (reference);
/// label 0 means "any non-zero label". Throws panseg::Error when the grids differ (the message
/// names the difference) or a mask's voxel count does not match its geometry.
AgreementResult computeAgreement(const LabelMask& a, int labelA, const LabelMask& b, int labelB,
                                 const AgreementOptions& options = {});

/// One JSON object with the keys dice, jaccard, precision, recall, hd95_mm, hd_mm, assd_mm, kappa,
/// kappa_bbox, volume_a_ml, volume_b_ml, vpe, followed by vpe_min_from_dice, vpe_max_from_dice,
/// distances_defined, count_a, count_b, overlap, border_voxels_a, border_voxels_b, grid_voxels,
/// bbox_voxels. Numbers are written in shortest round-trip form; non-finite values as null.
std::string toJson(const AgreementResult& result);

} // namespace panseg
