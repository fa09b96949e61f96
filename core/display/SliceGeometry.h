#pragma once
// How an axial, coronal or sagittal view shows an image, whatever order and direction the voxels
// are stored in. The one place that converts between screen-oriented slice pixels and voxel
// indices (and, through Geometry, LPS millimetres) for display.
//
// Display convention (radiological):
//   axial    - viewed from the feet: patient left on screen right, anterior at the top
//   coronal  - viewed from the front: patient left on screen right, superior at the top
//   sagittal - viewed from the patient's left: anterior on screen left, superior at the top
//
// Each view picks the index axis closest to the wanted world axis, so RAS NIfTI, LPS DICOM or
// permuted storage (kits23 keeps z first) are all shown the same way. Oblique grids are shown
// along their closest axes without resampling; the edge letters then show the true tilt.

#include "core/Geometry.h"

#include <array>
#include <string>

namespace panseg
{
enum class SliceOrientation
{
  Axial,
  Coronal,
  Sagittal
};

/// "Axial", "Coronal", "Sagittal".
const char* sliceOrientationName(SliceOrientation o);

/// For each index axis c, the world axis (0 = x L/R, 1 = y P/A, 2 = z S/I) it is closest to.
/// Always a permutation, also for strongly oblique matrices (largest entries are taken first).
std::array<int, 3> closestWorldAxes(const Mat3& direction);

/// Anatomical letters of an LPS direction: the dominant letter, followed by a second one when
/// the vector is tilted more than ~15 degrees toward it (e.g. "L", "LA").
std::string directionLetters(const Vec3& lpsDirection);

struct EdgeLetters
{
  std::string left, right, top, bottom;
};

class SliceMapper
{
public:
  SliceMapper() = default;
  SliceMapper(const Geometry& geometry, SliceOrientation orientation);

  SliceOrientation orientation() const { return m_orientation; }
  const Geometry& geometry() const { return m_geometry; }

  /// Index axes shown along screen columns (left to right), rows (top to bottom) and through
  /// the slices; "flipped" means the index decreases as the screen coordinate increases.
  int columnAxis() const { return m_columnAxis; }
  int rowAxis() const { return m_rowAxis; }
  int sliceAxis() const { return m_sliceAxis; }
  bool columnFlipped() const { return m_columnFlipped; }
  bool rowFlipped() const { return m_rowFlipped; }

  int width() const { return static_cast<int>(m_geometry.size[m_columnAxis]); }
  int height() const { return static_cast<int>(m_geometry.size[m_rowAxis]); }
  int sliceCount() const { return static_cast<int>(m_geometry.size[m_sliceAxis]); }
  double pixelWidthMm() const { return m_geometry.spacingMm[m_columnAxis]; }
  double pixelHeightMm() const { return m_geometry.spacingMm[m_rowAxis]; }
  double sliceSpacingMm() const { return m_geometry.spacingMm[m_sliceAxis]; }

  /// Slice index step (+1 or -1) that moves toward superior (axial), anterior (coronal) or the
  /// patient's left (sagittal): the direction "next slice" (wheel forward, Up) goes.
  int forwardSliceStep() const { return m_forwardStep; }

  /// Continuous slice pixel (column, row; pixel centres at integers) on slice `slice`
  /// (an index along sliceAxis()) -> continuous voxel index.
  Vec3 sliceToIndex(double column, double row, double slice) const;
  /// Continuous voxel index -> (column, row, slice).
  Vec3 indexToSlice(const Vec3& index) const;
  Vec3 sliceToPhysical(double column, double row, double slice) const;
  Vec3 physicalToSlice(const Vec3& pointMm) const;

  /// World (LPS) unit vectors of the screen's right and down directions for this grid.
  Vec3 screenRightLps() const;
  Vec3 screenDownLps() const;
  /// Letters for the four screen edges, from the direction matrix.
  EdgeLetters edgeLetters() const;

private:
  Geometry m_geometry;
  SliceOrientation m_orientation = SliceOrientation::Axial;
  int m_columnAxis = 0, m_rowAxis = 1, m_sliceAxis = 2;
  bool m_columnFlipped = false, m_rowFlipped = false;
  int m_forwardStep = 1;
};

} // namespace panseg
