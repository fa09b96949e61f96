#pragma once
// The viewer's state without any widget: image, mask, cursor, window/level, per-view zoom/pan
// and overlay style. Views show it and forward user intent to it; tests drive it headless.

#include "core/Volume.h"
#include "core/display/LabelTable.h"
#include "core/display/SliceGeometry.h"
#include "core/display/SliceRendering.h"
#include "core/display/WindowLevel.h"
#include "core/edit/MaskComparison.h"

#include <QImage>
#include <QObject>
#include <QString>
#include <QStringList>

#include <array>
#include <memory>
#include <vector>

namespace panseg::ui
{
using VoxelIndex = std::array<int64_t, 3>;

/// Zoom and pan of one slice view (see panseg::ViewTransform).
struct ViewState
{
  double zoom = 1.0;
  double panXPx = 0.0, panYPx = 0.0;
  bool operator==(const ViewState& o) const
  {
    return zoom == o.zoom && panXPx == o.panXPx && panYPx == o.panYPx;
  }
};

/// A ruler drawn on a slice view: two points on one slice of one view, and its length.
struct Ruler
{
  panseg::SliceOrientation orientation = panseg::SliceOrientation::Axial;
  int slice = 0;                  // the view's slice it was drawn on (shown there only)
  panseg::Vec3 a{0, 0, 0};        // end points, continuous voxel indices
  panseg::Vec3 b{0, 0, 0};
  double lengthMm = 0.0;          // core/measure indexDistanceMm(geometry, a, b)
};

class ViewerModel : public QObject
{
  Q_OBJECT
public:
  explicit ViewerModel(QObject* parent = nullptr);
  ~ViewerModel() override;

  /// Name of the window preset that spans the body's 1st..99th intensity percentile.
  static QString automaticPresetName();

  // ---- data ----------------------------------------------------------------------------
  /// Shows a new image: cursor to the centre, default window for its modality, views reset.
  /// The previous mask is dropped (it belonged to the previous image).
  void setImage(panseg::Image image);
  /// Shows a mask over the image. Refused (returns false, state unchanged) when there is no
  /// image or the mask's grid differs; *error then names the difference.
  bool setMask(panseg::LabelMask mask, QString* error = nullptr);
  void clearMask();
  /// The shown mask's label table (names, colours; core/display/LabelTable.h). setMask resets
  /// it to LabelTable::defaults(); whoever knows better (the study database) sets it afterwards.
  /// Overlays and 3D surfaces use its colours. Emits labelTableChanged().
  void setLabelTable(const panseg::LabelTable& table);
  const panseg::LabelTable& labelTable() const { return m_labels; }

  bool hasImage() const { return static_cast<bool>(m_image); }
  bool hasMask() const { return static_cast<bool>(m_mask); }
  const panseg::Image& image() const;
  const panseg::LabelMask& mask() const;
  /// Shared ownership, for work on other threads (3D surface extraction). While an editor
  /// paints this is the last committed snapshot, never the live mask.
  std::shared_ptr<const panseg::LabelMask> maskShared() const { return m_mask; }
  std::shared_ptr<const panseg::Image> imageShared() const { return m_image; }

  // ---- editing (see EditController) -----------------------------------------------------------
  /// Shows a mask that an editor changes in place (same grid as the current mask; nullptr
  /// stops). Slice views read it on the GUI thread; maskShared() stays the last snapshot.
  void setLiveMask(std::shared_ptr<const panseg::LabelMask> live);
  /// The live mask changed (a brush stamp): emits maskPainted().
  void notifyMaskPainted();
  /// An edit is complete: `snapshot` (immutable, same grid) becomes the shown mask and the
  /// one other threads read; emits maskEdited() (the 3D view rebuilds, keeping its camera).
  void commitEditedMask(std::shared_ptr<const panseg::LabelMask> snapshot);
  const panseg::Geometry& geometry() const;
  /// Grows by one on every setImage / setMask / clearMask.
  quint64 dataRevision() const { return m_revision; }

  panseg::SliceMapper mapper(panseg::SliceOrientation o) const;

  // ---- compare mode ------------------------------------------------------------------------
  /// Compares the shown mask (A, edits included) with `other` (B, same grid): the views colour
  /// agreement (both yellow, only A green, only B magenta) instead of labels, any non-zero label
  /// counting. Refused (false, *error) without a shown mask or on another grid.
  bool setComparisonMask(panseg::LabelMask other, QString* error = nullptr);
  void clearComparison();
  bool hasComparison() const { return static_cast<bool>(m_comparison); }
  const panseg::LabelMask* comparisonMask() const { return m_comparison.get(); }
  /// A vs B counts (Dice, volumes), refreshed after every committed edit and mask change.
  panseg::edit::OverlapCounts comparisonCounts() const { return m_comparisonCounts; }
  /// Colour of an agreement class in compare mode (panseg::edit::AgreementClass).
  static panseg::Rgb agreementColor(int agreementClass);
  /// How compare mode draws the two masks: agreement colours (filled or outlined like the
  /// overlay), or each mask's contour in its own colour (A green, B magenta: contourColor).
  enum class ComparisonStyle
  {
    Agreement,
    Contours
  };
  ComparisonStyle comparisonStyle() const { return m_comparisonStyle; }
  void setComparisonStyle(ComparisonStyle style);
  /// Contour colour of mask A (`b` false) or B in ComparisonStyle::Contours.
  static panseg::Rgb contourColor(bool b);

  // ---- cursor and slices -----------------------------------------------------------------
  VoxelIndex cursor() const { return m_cursor; }
  /// Moves the linked cursor (clamped into the image); every view follows.
  void setCursor(const VoxelIndex& voxel);
  /// Slice shown by a view: the cursor's index along that view's slice axis.
  int sliceIndex(panseg::SliceOrientation o) const;
  int sliceCount(panseg::SliceOrientation o) const;
  void setSliceIndex(panseg::SliceOrientation o, int index);
  /// Moves `steps` slices forward: toward superior (axial), anterior (coronal), left (sagittal).
  void stepSlices(panseg::SliceOrientation o, int steps);

  // ---- window / level --------------------------------------------------------------------
  panseg::WindowLevel windowLevel() const { return m_window; }
  void setWindowLevel(panseg::WindowLevel wl);
  /// Presets offered for this image: the CT presets (for CT), then the automatic window.
  QStringList presetNames() const;
  bool applyPreset(const QString& name);
  /// The automatic (percentile) window of the current image, computed once when it was set.
  panseg::WindowLevel automaticWindow() const { return m_autoWindow; }
  /// Name of the preset the current window equals, or empty for a custom window.
  QString activePresetName() const;
  /// Window after dragging (dx, dy) screen pixels from `start`: right widens the window,
  /// down raises the level (darker image). Sensitivity follows the image's intensity span.
  panseg::WindowLevel draggedWindowLevel(const panseg::WindowLevel& start, double dxPx,
                                         double dyPx) const;
  /// Whether a plain left-drag in a slice view adjusts window/level (W/L mode) instead of
  /// moving the cursor. Shift+left-drag always adjusts window/level.
  bool windowLevelMode() const { return m_windowLevelMode; }
  void setWindowLevelMode(bool on);

  // ---- per-view zoom/pan -------------------------------------------------------------------
  ViewState viewState(panseg::SliceOrientation o) const;
  void setViewState(panseg::SliceOrientation o, const ViewState& s);
  /// Zoom 1, no pan, in every view; cursor kept.
  void resetViews();

  // ---- overlay ---------------------------------------------------------------------------
  panseg::OverlayStyle overlayStyle() const { return m_overlay; }
  void setOverlayVisible(bool on);
  void setOverlayOpacity(double opacity); // clamped to 0..1
  void setOverlayMode(panseg::OverlayMode mode);

  // ---- what the views show -----------------------------------------------------------------
  /// The current slice of a view at slice resolution (one pixel per voxel, screen oriented),
  /// grey through the window with the mask overlay composited. Null without an image.
  QImage renderSlice(panseg::SliceOrientation o) const;
  /// Intensity and label at a voxel (0 outside or without a mask).
  float intensityAt(const VoxelIndex& v) const;
  int labelAt(const VoxelIndex& v) const;
  /// "Voxel (x, y, z)   LPS (x, y, z) mm   Value v   Label n" for the status bar.
  QString describeVoxel(const VoxelIndex& v) const;
  /// One line about the image: file name, size, spacing, orientation, modality.
  QString imageSummary() const;
  /// The image is CT (modality, or Hounsfield-like intensities): intensities are HU.
  bool isCt() const { return m_isCt; }

  // ---- rulers (Ruler tool; core/measure) ----------------------------------------------------------
  /// Adds a ruler from `a` to `b` (continuous voxel indices on view `o`'s current slice); returns
  /// its index. Rulers stay until removed or cleared; another image clears them.
  int addRuler(panseg::SliceOrientation o, const panseg::Vec3& a, const panseg::Vec3& b);
  /// Moves the second end of ruler `i` (while it is dragged) and recomputes its length.
  void setRulerEnd(int i, const panseg::Vec3& b);
  void removeRuler(int i);
  void clearRulers();
  const std::vector<Ruler>& rulers() const { return m_rulers; }
  /// What a view writes beside a ruler: "42.3 mm" (two decimals below 10 mm).
  static QString rulerText(double lengthMm);

signals:
  void imageChanged();
  void maskChanged();
  /// Live paint changed voxels of the shown mask (slice views repaint).
  void maskPainted();
  /// An edit, undo or redo was committed (new snapshot; not a different mask).
  void maskEdited();
  void cursorChanged();
  void windowLevelChanged();
  void windowLevelModeChanged(bool on);
  void viewStateChanged(panseg::SliceOrientation o);
  void overlayChanged();
  /// Compare mode switched on/off or its counts changed.
  void comparisonChanged();
  /// A ruler was added, moved, removed, or the rulers were cleared.
  void rulersChanged();
  /// The label table changed (names or colours).
  void labelTableChanged();

private:
  VoxelIndex clamped(const VoxelIndex& v) const;

  std::shared_ptr<const panseg::Image> m_image;
  std::shared_ptr<const panseg::LabelMask> m_mask;
  std::shared_ptr<const panseg::LabelMask> m_liveMask; // editor's mask while editing
  std::shared_ptr<const panseg::LabelMask> m_comparison;
  panseg::edit::OverlapCounts m_comparisonCounts;
  ComparisonStyle m_comparisonStyle = ComparisonStyle::Agreement;
  void recountComparison();
  quint64 m_revision = 0;
  VoxelIndex m_cursor{0, 0, 0};
  panseg::WindowLevel m_window;
  panseg::WindowLevel m_autoWindow;
  double m_dragIntensityPerPx = 4.0;
  bool m_isCt = false;
  bool m_windowLevelMode = false;
  std::array<ViewState, 3> m_views{};
  panseg::OverlayStyle m_overlay;
  std::vector<Ruler> m_rulers;
  panseg::LabelTable m_labels = panseg::LabelTable::defaults();
  panseg::LabelColorTable m_labelColors = panseg::LabelTable::defaults().colors();
};

} // namespace panseg::ui
