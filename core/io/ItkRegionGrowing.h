#pragma once
// Seeded region growing with ITK for the editor's Grow tool (docs/interactive.md), next to the
// weight-free GrowCut of core/edit: ITK's confidence-connected filter (Slicer's and ITK-SNAP's
// classic region growing) and a threshold level set (ITK-SNAP's active contour with a region
// speed: a smooth surface that grows from the seeds while the intensity fits). ITK stays in
// core/io (docs/architecture.md); callers see plain types.
#include "core/Volume.h"
#include "core/edit/LabelEditor.h"

#include <cstdint>
#include <vector>

namespace panseg::edit
{
struct ConfidenceConnectedOptions
{
  /// The intensity interval is mean ± multiplier × SD of the voxels grown so far (first: of the
  /// seeds' neighbourhoods), re-estimated `iterations` times (ITK's ConfidenceConnectedImageFilter).
  double multiplier = 2.5;
  int iterations = 4;
  int neighbourhoodRadius = 1; // voxels around each seed for the first estimate
  /// Background scribbles are barriers: voxels within this radius (mm, in every axis) of a
  /// background seed are never grown into.
  double backgroundRadiusMm = 2.0;
};

/// Grows from the foreground seeds inside `region` (clipped to the image) and returns 0/1 per
/// region voxel, x fastest (the layout of GrowCut::foregroundInRegion, for
/// LabelEditor::replaceInBox). Seeds outside the region are ignored. Throws panseg::Error when
/// no foreground seed lies in the region or the region is empty.
std::vector<uint8_t> confidenceConnectedInRegion(const Image& image, const Box& region,
                                                 const std::vector<Index3>& foregroundSeeds,
                                                 const std::vector<Index3>& backgroundSeeds,
                                                 const ConfidenceConnectedOptions& options = {});
struct LevelSetOptions
{
  /// The intensity window the surface may grow through: mean ± multiplier × SD of the foreground
  /// seeds' neighbourhoods (`neighbourhoodRadius` voxels around each).
  double multiplier = 2.5;
  int neighbourhoodRadius = 1;
  /// The starting surface: balls of this radius at the seeds, at least one voxel on every axis
  /// (a thinner start collapses under its own curvature).
  double seedRadiusMm = 3.0;
  double curvatureScaling = 0.2;   // smoothness against propagationScaling (ITK's weights; ITK-SNAP's 0.2)
  double propagationScaling = 1.0;
  int maxIterations = 400;
  double maxRmsChange = 0.01;      // stop when the surface moves less (ITK's RMS change)
  double backgroundRadiusMm = 2.0; // background seeds are barriers within this radius
};

/// ITK's ThresholdSegmentationLevelSetImageFilter inside `region`: the surface starts as balls
/// at the foreground seeds and moves outward where the intensity lies in the window, inward
/// where not, kept smooth by its curvature. Returns 0/1 per region voxel (the layout of
/// confidenceConnectedInRegion). Throws panseg::Error like confidenceConnectedInRegion.
std::vector<uint8_t> levelSetInRegion(const Image& image, const Box& region, const std::vector<Index3>& foregroundSeeds,
                                      const std::vector<Index3>& backgroundSeeds, const LevelSetOptions& options = {});
} // namespace panseg::edit
