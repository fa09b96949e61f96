#pragma once
// Grow from seeds (GrowCut as a shortest-path competition, weight-free): foreground and
// background scribbles compete for every voxel of a region; a voxel takes the label of the seed
// it is "closest" to along a path whose cost is the intensity change it crosses (plus a small
// length term). This is the formulation of Slicer's fast GrowCut; it needs no model and works on
// any image and structure.
//
// State is kept between updates: adding scribbles only re-propagates from the new seeds (a
// voxel changes only where a new seed is strictly closer, or equally close with the tie rule),
// and the result is exactly what a from-scratch run with all seeds gives (tested). Costs are
// integers and ties go to the smaller label (foreground), so the result is unique.
//
// The region is the bounding box of all seeds plus a margin in mm, clipped to the image. When
// new seeds lie outside it (or a voxel changes its seed label) the region is rebuilt and the
// next update runs from scratch; stats say which happened.

#include "core/Volume.h"
#include "core/edit/LabelEditor.h"

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

namespace panseg::edit
{
enum class SeedLabel : uint8_t
{
  Foreground = 1,
  Background = 2
};

struct GrowCutOptions
{
  /// Margin around the seeds' bounding box in mm (per axis, at least one voxel).
  double marginMm = 15.0;
  /// Path cost per step = lengthCost * (step length / smallest spacing) + intensity cost, where
  /// the intensity cost is intensityCost * |difference| / noise (noise: the median absolute
  /// difference of neighbours in the region, on the smoothed image).
  double lengthCost = 0.5;
  double intensityCost = 16.0;
  /// Box filter radius (voxels) applied to the region's intensities before the costs (0 = none).
  int smoothRadius = 1;
};

struct GrowCutStats
{
  bool incremental = false;   // false: the region was (re)built and everything recomputed
  int64_t voxelsUpdated = 0;  // voxels whose distance or label changed
  int64_t regionVoxels = 0;
  double milliseconds = 0.0;  // wall time of the update
};

class GrowCut
{
public:
  /// Throws panseg::Error on an empty image.
  explicit GrowCut(std::shared_ptr<const Image> image, GrowCutOptions options = {});

  const GrowCutOptions& options() const { return m_options; }
  const Geometry& geometry() const { return m_image->geometry; }

  /// Adds seed voxels (outside the image are ignored). Takes effect at the next update().
  /// Returns the number of seeds added.
  int64_t addSeeds(const std::vector<Index3>& voxels, SeedLabel label);
  /// A ball of radius `radiusMm` (2D disk on plane `axis` when axis is 0..2, 3D when -1).
  int64_t addSeedBall(const Index3& centre, double radiusMm, SeedLabel label, int axis = -1);
  int64_t seedCount(SeedLabel label) const;
  /// Removes the seeds of `label` whose centres lie within `radiusMm` of `centre` (e.g. the
  /// interior seeds around a negative click). The next update runs from scratch. Returns the
  /// number removed.
  int64_t removeSeedsWithin(const Index3& centre, double radiusMm, SeedLabel label);
  bool hasPendingSeeds() const { return !m_pending.empty(); }
  /// Propagates the seeds added since the last update (incremental when the region holds them).
  GrowCutStats update();
  /// Forgets the state and propagates every seed again (the reference for tests).
  GrowCutStats recomputeFromScratch();
  /// Drops every seed and the result.
  void clear();

  /// The region the seeds so far call for (their bounding box + the margin, clipped to the image):
  /// where the next update grows. Also the region of the editor's ITK region growing.
  Box seedRegion() const { return regionFor(m_seedBox); }
  /// The region (empty before the first update).
  const Box& region() const { return m_region; }
  /// Foreground (1) / not (0) per region voxel, x fastest; empty before the first update.
  std::vector<uint8_t> foregroundInRegion() const;
  /// 0 (outside the region or unreached), 1 foreground, 2 background.
  uint8_t labelAt(const Index3& voxel) const;
  /// Path cost of a region voxel to its seed (UINT32_MAX: unreached/outside).
  uint32_t distanceAt(const Index3& voxel) const;

private:
  size_t local(const Index3& v) const;
  Box regionFor(const Box& seedBox) const;
  void buildRegion(const Box& region);
  void propagate(std::vector<uint32_t>& frontier, GrowCutStats& stats);

  std::shared_ptr<const Image> m_image;
  GrowCutOptions m_options;
  std::unordered_map<size_t, uint8_t> m_seeds; // image offset -> label (1 fg, 2 bg)
  std::vector<std::pair<size_t, uint8_t>> m_pending;
  bool m_needsRebuild = true;
  Box m_seedBox;
  Box m_region;
  Index3 m_n{0, 0, 0};
  std::vector<float> m_smoothed;   // region intensities after the box filter
  std::vector<uint32_t> m_dist;
  std::vector<uint8_t> m_label;
  std::array<uint32_t, 3> m_stepCost{1, 1, 1}; // length cost per axis
  double m_intensityScale = 1.0;               // cost units per intensity unit
  uint32_t m_maxStep = 1;
};

} // namespace panseg::edit
