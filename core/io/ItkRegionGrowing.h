#pragma once
// Seeded region growing with ITK for the editor's Grow tool (docs/interactive.md), next to the
// weight-free GrowCut of core/edit: ITK's confidence-connected filter (Slicer's and ITK-SNAP's
// classic region growing). ITK stays in core/io (docs/architecture.md); callers see plain types.
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
} // namespace panseg::edit
