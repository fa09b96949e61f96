#pragma once
// Is a pancreas mask anatomically plausible? A check of an AI prediction before anyone approves
// it: volume in mL, 26-connected components (count and the largest one's share of the volume),
// position (centroid relative to the image, contact with the image border) and whether the scan
// cuts the mask off at its first or last slice. Standard library only (no Qt, no ITK).
//
// Default limits (PlausibilityLimits; docs/prediction.md, section "Plausibility check"):
//  * Volume 10..250 mL. Adult pancreas volumes on CT are mostly about 40-120 mL (mean near
//    70 mL in adults up to 60 years, smaller in older age, in type 1 and type 2 diabetes and in
//    chronic pancreatitis; Saisho et al., Clin Anat 2007, CT from birth to old age; Syed et al.,
//    Pancreas 2012). Atrophic glands reach about 10-20 mL. The bounds sit well outside that range so that
//    a flag means "look at this", not "a small gland": 1.8 mL (the PNet-MSA case of issue 20)
//    is flagged, a 20 mL real gland is not.
//  * At most 8 components, and the two largest hold at least 80 % of the volume. A pancreas is
//    one organ, but its segmentation often comes apart at the neck (the thinnest part, over the
//    portal and superior mesenteric vessels) into head and body/tail: every TotalSegmentator
//    pancreas of the real abdominal CT in ../shared/data (v1 and v2 models, 3 mm grid) is two
//    pieces of about 50 % each plus a few voxel-sized specks (tests/metrics/tst_plausibility.cpp). More pieces of weight, or a mask scattered over many
//    islands, has picked up other structures (bowel, vessels, spleen).
//  * Centroid inside the central 80 % of the in-plane field of view (a margin of 10 % on each
//    side) and no voxel on the in-plane image border: the pancreas lies in the middle of the
//    upper abdomen, in front of the spine; a mask at the edge of the image is not a pancreas.
//  * Touching the first or last slice (along the patient's head-foot axis) is flagged as
//    "partial": the scan does not cover the whole gland, so its volume is not the gland's.
// A model package may narrow or widen these (model.json "plausibility" block, parsed in
// database/studies/Plausibility.h) and may give its training data's volume range, which is checked too.

#include "core/Volume.h"

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace panseg
{
struct PlausibilityLimits
{
  double minVolumeMl = 10.0;
  double maxVolumeMl = 250.0;
  int maxComponents = 8;            // 26-connected
  double minMainShare = 0.8;        // (largest + second largest component) / whole volume
  double borderMargin = 0.10;       // centroid must lie in [margin, 1 - margin] of each in-plane axis
  bool flagBorderContact = true;    // any voxel on the in-plane border of the image
  bool flagPartialCoverage = true;  // voxels on the first or last slice (head-foot axis)
  std::optional<std::array<double, 2>> trainingVolumeMl; // the model's training data: [min, max] mL
  std::string source = "defaults";  // where the limits come from ("defaults", "model.json of ...")

  /// Throws Error naming the first bad value (negative, min > max, share outside 0..1, ...).
  void validate(const std::string& where) const;
};

struct PlausibilityFinding
{
  std::string code;    // "volume-low", "volume-high", "outside-training-range", "components",
                       // "fragmented", "off-centre", "border", "partial", "empty"
  std::string message; // one line a radiologist understands
};

struct PlausibilityReport
{
  int label = 0;               // label checked (0 = any non-zero)
  int64_t voxels = 0;
  double volumeMl = 0.0;
  int components = 0;          // 26-connected
  double largestShare = 0.0;   // 0..1 (0 for an empty mask)
  double mainShare = 0.0;      // the two largest components' share, 0..1
  std::vector<int64_t> componentVoxels; // sizes of the components, largest first (at most 20)
  std::array<double, 3> centroidIndex{ 0, 0, 0 };    // voxel index space
  std::array<double, 3> centroidRelative{ 0, 0, 0 }; // 0..1 along each index axis
  int headFootAxis = 2;        // index axis closest to the patient's head-foot direction
  std::vector<PlausibilityFinding> findings;
  PlausibilityLimits limits;

  bool flagged() const { return !findings.empty(); }
  /// "volume 1.84 mL is below 10 mL; 3 components, the largest 62 % of the volume", or "plausible".
  std::string summary() const;
};

/// Checks `label` of `mask` (0 = any non-zero label). Never throws for an empty mask: that is the
/// finding "empty".
PlausibilityReport assessPlausibility(const LabelMask& mask, int label, const PlausibilityLimits& limits = {});
} // namespace panseg
