#pragma once
// Mask editing without a display: brush and eraser, threshold-limited paint, polygon/lasso fill,
// scissors, fill between slices, morphology in mm, hole filling, connected-component clean-up,
// and undo/redo stored as compact deltas (like ITK-SNAP's UndoDataManager, never full copies).
//
// Coordinates are voxel indices (x, y, z; x fastest). A slice plane is "index axis + index"
// (axial = the axis shown through the axial view's slices, see SliceMapper::sliceAxis()); points
// on a plane are continuous (u, v) indices along the plane's two other axes in increasing axis
// order (planeAxes()). Views convert their screen pixels with SliceMapper::sliceToIndex.
//
// Every operation returns the box it changed so views refresh only what is needed. Operations
// on a label never overwrite voxels of other labels unless the paint settings allow it.

#include "core/Volume.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace panseg::edit
{
using Index3 = std::array<int64_t, 3>;

/// Voxel box [lo, hi) (hi exclusive). Empty when any hi <= lo.
struct Box
{
  Index3 lo{0, 0, 0};
  Index3 hi{0, 0, 0};
  bool empty() const { return hi[0] <= lo[0] || hi[1] <= lo[1] || hi[2] <= lo[2]; }
  int64_t voxelCount() const
  {
    return empty() ? 0 : (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]);
  }
  void include(const Index3& p);
  void include(const Box& other);
};

/// What an operation (or an undo/redo) changed.
struct EditResult
{
  Box changed; // bounding box of the changed voxels (empty: nothing changed)
  int64_t voxelsChanged = 0;
};

/// A slice of the volume: the index axis normal to it (0, 1, 2) and the index along that axis.
struct SlicePlane
{
  int axis = 2;
  int64_t index = 0;
};
/// The two in-plane axes (u, v) of a plane normal to `axis`, in increasing order.
std::array<int, 2> planeAxes(int axis);

using Point2 = std::array<double, 2>; // continuous (u, v) voxel indices on a plane

/// Intensity window for threshold-limited paint (inclusive).
struct IntensityRange
{
  bool enabled = false;
  float minimum = 0.0f;
  float maximum = 0.0f;
  bool contains(float v) const { return !enabled || (v >= minimum && v <= maximum); }
};
/// Pancreas CT preset: -100..240 HU. Pancreatic parenchyma enhances to ~40-200 HU (portal
/// venous phase); the margins admit partial-volume edge voxels while excluding fat (< -100) and
/// bone / contrast-filled vessels at their brightest (> 240).
IntensityRange pancreasCtRange();

enum class Overwrite
{
  AllLabels,     // paint replaces any label
  BackgroundOnly // paint changes only voxels that are 0
};

/// How paint, erase, polygon fill and scissors decide which voxels change.
struct PaintSettings
{
  int label = 1; // active label, 1..255
  Overwrite overwrite = Overwrite::AllLabels;
  bool eraseAllLabels = false; // eraser/scissors clear any label, not only the active one
  IntensityRange range;        // only voxels whose intensity lies in range change
};

enum class BrushShape
{
  Round, // disk / sphere in mm
  Square // square / cube in mm (half-side = radius)
};

struct Brush
{
  double radiusMm = 2.0;
  BrushShape shape = BrushShape::Round;
  bool is3D = false; // sphere / cube through slices; otherwise a disk on `planeAxis` slices
  int planeAxis = 2; // slice axis of the view that paints (2D brush)
};

/// Result of fill-between-slices: voxels that would be set to `label`. Nothing is changed until
/// LabelEditor::applyProposal() (one undo step); dropping the proposal rejects it.
struct InterpolationProposal
{
  int label = 1;
  int axis = 2;
  std::vector<int64_t> keySlices; // slices drawn by the user
  std::vector<int64_t> filledSlices;
  std::vector<size_t> offsets; // voxel offsets to set, ascending
  Box box;
};

class LabelEditor
{
public:
  /// Edits `mask` (owned) over `image` (shared, read for threshold paint; may be null when no
  /// threshold is used). Throws panseg::Error when the grids differ.
  LabelEditor(std::shared_ptr<const Image> image, LabelMask mask);

  const LabelMask& mask() const { return m_mask; }
  const Geometry& geometry() const { return m_mask.geometry; }
  /// Replaces the mask (clears the undo history). Throws on a grid that differs from the image.
  void resetMask(LabelMask mask);
  /// Takes the mask out (the editor is left empty; call resetMask before further use).
  LabelMask takeMask();

  // ---- tools -------------------------------------------------------------------------------
  /// One brush stamp centred on voxel `centre` (outside voxels are clipped). `erase` clears.
  EditResult stamp(const Index3& centre, const Brush& brush, const PaintSettings& paint,
                   bool erase = false);
  /// Stamps along the segment from `from` to `to` (every voxel step), as one continuous stroke.
  EditResult strokeSegment(const Index3& from, const Index3& to, const Brush& brush,
                           const PaintSettings& paint, bool erase = false);
  /// Fills the polygon (or freehand lasso: many points) on one slice; voxel centres inside
  /// (even-odd rule) change. Needs >= 3 points.
  EditResult fillPolygon(const SlicePlane& plane, const std::vector<Point2>& polygon,
                         const PaintSettings& paint, bool erase = false);
  /// Scissors: clears the active label (or every label) inside (cutInside) or outside the
  /// polygon on every slice along `axis` (the view direction).
  EditResult scissors(int axis, const std::vector<Point2>& polygon, bool cutInside,
                      const PaintSettings& paint);
  /// Signed-distance interpolation of `label` across the empty slices between drawn slices
  /// along `axis`. Only background voxels are proposed.
  InterpolationProposal interpolateSlices(int label, int axis) const;
  EditResult applyProposal(const InterpolationProposal& proposal);

  /// Binary morphology of `label` with an ellipsoidal element of radius `radiusMm` (exact
  /// Euclidean, spacing-aware). Growing never overwrites other labels.
  EditResult dilate(int label, double radiusMm);
  EditResult erode(int label, double radiusMm);
  EditResult closing(int label, double radiusMm);
  EditResult opening(int label, double radiusMm);
  /// Majority vote of `label` in a ball of radius `radiusMm` (binary median).
  EditResult median(int label, double radiusMm);
  /// Fills background cavities fully enclosed by `label` (6-connected background) in 3D.
  EditResult fillHoles(int label);
  /// Keeps the largest 6-connected component of `label`, clears the others.
  EditResult keepLargestComponent(int label);
  /// Clears 6-connected components of `label` smaller than `minVolumeMl`.
  EditResult removeIslands(int label, double minVolumeMl);
  /// Replaces `label` inside `box` by a 0/1 raster of the box (x fastest): voxels of `label` where
  /// it is 0 are cleared, unlabelled voxels where it is 1 get `label`; other labels are kept.
  /// Grow from seeds and box prompts write their result with it (one undo step). Throws
  /// panseg::Error when the box leaves the grid or the raster's size differs from the box's.
  EditResult replaceInBox(int label, const Box& box, const std::vector<uint8_t>& binary);

  // ---- undo / redo ---------------------------------------------------------------------------
  /// Groups the following edits (e.g. the stamps of one mouse drag) into one undo step.
  void beginStroke();
  /// Closes the group; returns what the whole stroke changed.
  EditResult endStroke();
  bool inStroke() const { return m_strokeDepth > 0; }

  bool canUndo() const { return !m_undo.empty(); }
  bool canRedo() const { return !m_redo.empty(); }
  EditResult undo();
  EditResult redo();
  size_t undoCount() const { return m_undo.size(); }
  size_t redoCount() const { return m_redo.size(); }
  /// Steps kept (oldest dropped first); at least 50. Default 100.
  void setUndoLimit(size_t steps);
  size_t undoLimit() const { return m_undoLimit; }
  /// Bytes held by the undo and redo deltas.
  size_t undoMemoryBytes() const;
  /// Identifies the mask's content: new on every edit and reset; undo/redo restore the id of
  /// the state they return to.
  uint64_t revision() const { return m_revision; }
  /// True when the mask differs from the state at the last markSaved() (undoing back to it
  /// clears the flag).
  bool isModified() const { return m_revision != m_savedRevision; }
  void markSaved() { m_savedRevision = m_revision; }

  /// A compact change: changed voxels as runs of offsets, old and new values run-length coded.
  struct Delta
  {
    Box box;
    std::vector<uint64_t> runStarts; // volume offsets of the first voxel of each run
    std::vector<uint32_t> runLengths;
    std::vector<std::pair<uint8_t, uint32_t>> oldValues; // (value, count), in run order
    std::vector<std::pair<uint8_t, uint32_t>> newValues;
    uint64_t revisionBefore = 0, revisionAfter = 0;
    size_t bytes() const;
    int64_t voxelCount() const;
  };

private:
  void checkLabel(int label) const;
  void checkAxis(int axis) const;
  void set(size_t offset, uint8_t value);
  EditResult finishOperation();
  int64_t commit(uint64_t revisionBefore);
  bool paintable(size_t offset, const PaintSettings& paint, bool erase) const;
  /// Writes a binary result for `label` inside `box`: voxels leaving it -> 0, voxels joining it
  /// (currently 0) -> label.
  EditResult applyBinary(int label, const Box& box, const std::vector<uint8_t>& binary);
  Box labelBox(int label, const Index3& margin) const;
  std::vector<uint8_t> extractBinary(int label, const Box& box) const;
  EditResult applyDelta(const Delta& d, bool forward);

  std::shared_ptr<const Image> m_image;
  LabelMask m_mask;
  // Pending change of the current step: old values of touched voxels (+ a bitset of them).
  std::vector<uint64_t> m_touched;
  std::vector<std::pair<size_t, uint8_t>> m_pending;
  Box m_pendingBox;
  Box m_opBox;
  int64_t m_opChanged = 0;
  int m_strokeDepth = 0;
  std::vector<Delta> m_undo, m_redo;
  size_t m_undoLimit = 100;
  uint64_t m_revision = 0;
  uint64_t m_nextRevision = 0;
  uint64_t m_strokeStartRevision = 0;
  uint64_t m_savedRevision = 0;
};

} // namespace panseg::edit
