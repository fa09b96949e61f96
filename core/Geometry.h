#pragma once
// One geometry type for every image and mask in the workstation.
// Conventions (the same as ITK's): index order (x, y, z) with x fastest in memory,
// physical coordinates in millimetres in the LPS frame, direction = 3x3 matrix whose
// COLUMNS are the world directions of the index axes (row-major storage).

#include <array>
#include <cstdint>
#include <string>

namespace panseg
{
using Vec3 = std::array<double, 3>;
using Size3 = std::array<int64_t, 3>;
using Mat3 = std::array<double, 9>; // row-major

struct Geometry
{
  Size3 size{ 0, 0, 0 };
  Vec3 spacingMm{ 1.0, 1.0, 1.0 };
  Vec3 originMm{ 0.0, 0.0, 0.0 }; // centre of voxel (0,0,0), LPS
  Mat3 direction{ 1, 0, 0, 0, 1, 0, 0, 0, 1 };

  int64_t voxelCount() const { return size[0] * size[1] * size[2]; }
  double voxelVolumeMm3() const { return spacingMm[0] * spacingMm[1] * spacingMm[2]; }
  bool isEmpty() const { return voxelCount() == 0; }

  /// Continuous index -> LPS millimetres.
  Vec3 indexToPhysical(const Vec3& index) const;
  /// LPS millimetres -> continuous index.
  Vec3 physicalToIndex(const Vec3& pointMm) const;

  /// True when both grids coincide (size exact; spacing, origin, direction within tolerance).
  /// On mismatch, *why names the first difference in words a user understands.
  bool sameGrid(const Geometry& other, std::string* why = nullptr, double toleranceMm = 1e-3) const;

  /// "512x512x20 voxels, spacing 0.977x0.977x2.000 mm, origin (...), direction ..."
  std::string describe() const;

  /// Three-letter orientation code of the index axes, e.g. "LPS" or "RAS" (closest axes).
  std::string orientationCode() const;
};

/// Letter of the anatomical direction closest to a world (LPS) vector: L R P A S I.
char closestAxisLetter(const Vec3& lpsDirection);

} // namespace panseg
