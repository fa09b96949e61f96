#pragma once
// Compare mode: agreement of two masks on the same grid (e.g. AI vs reader, reader A vs reader B)
// as voxel counts cheap enough to refresh after every edit, and the per-voxel agreement class the
// views colour (both / only A / only B). Full metrics (HD95, ASSD, kappa) are core/metrics.

#include "core/Volume.h"

#include <cstdint>
#include <vector>

namespace panseg::edit
{
struct OverlapCounts
{
  int64_t both = 0, onlyA = 0, onlyB = 0;
  double voxelVolumeMl = 0.0;
  /// 2|A∩B| / (|A| + |B|); 1 when both are empty (core/metrics' convention).
  double dice() const;
  double volumeAMl() const { return static_cast<double>(both + onlyA) * voxelVolumeMl; }
  double volumeBMl() const { return static_cast<double>(both + onlyB) * voxelVolumeMl; }
  /// V_A - V_B in mL.
  double volumeDifferenceMl() const { return volumeAMl() - volumeBMl(); }
};

/// Counts over the grid; label 0 = any non-zero label. Throws panseg::Error when the grids differ
/// or a label is outside 0..255.
OverlapCounts countOverlap(const LabelMask& a, int labelA, const LabelMask& b, int labelB);

/// Agreement classes of one slice's labels: 0 neither, 1 both, 2 only A, 3 only B.
enum AgreementClass : uint8_t
{
  AgreeNone = 0,
  AgreeBoth = 1,
  AgreeOnlyA = 2,
  AgreeOnlyB = 3
};
std::vector<uint8_t> agreementClasses(const std::vector<uint8_t>& a, int labelA,
                                      const std::vector<uint8_t>& b, int labelB);
} // namespace panseg::edit
