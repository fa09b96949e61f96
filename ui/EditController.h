#pragma once
// Mask editing state of the viewer without any widget: the active tool, brush, label and
// threshold, and a panseg::edit::LabelEditor over the shown mask. Slice views forward mouse
// input to it in voxel indices; menus call its operations; tests drive it headless.
//
// While a stroke is painted the views read the editor's live mask (ViewerModel::setLiveMask);
// when an edit completes a snapshot is committed so the 3D view (another thread) never reads a
// mask that is being changed. Unsaved edits are autosaved to a recovery file.

#include "core/display/SliceGeometry.h"
#include "core/edit/GrowCut.h"
#include "core/edit/LabelEditor.h"

#include <QDateTime>
#include <QObject>
#include <QString>
#include <QTimer>

#include <array>
#include <functional>
#include <memory>
#include <vector>

namespace panseg::ui
{
class ViewerModel;

class EditController : public QObject
{
  Q_OBJECT
public:
  enum class Tool
  {
    Navigate, // mouse moves the cursor (no editing)
    Paint,
    Erase,
    Lasso,   // freehand polygon filled on release (Erase modifier: Ctrl)
    Scissors, // freehand polygon cut through the whole volume along the view (Ctrl: cut outside)
    Ruler,    // drag measures a length in mm (ViewerModel::addRuler); edits nothing
    GrowSeeds, // drag paints a foreground (Ctrl: background) seed scribble; release grows the
               // active label from all scribbles (core/edit/GrowCut): one undo step per scribble
    Box,       // drag a rectangle: the box prompt (the model predicts inside it; MainWindow)
    Refine     // click: positive (Ctrl: negative) click refinement of the active label by grow from
               // seeds around the click (core/edit/BoxPrompt ClickRefiner); one undo step per click
  };

  explicit EditController(ViewerModel* model, QObject* parent = nullptr);
  ~EditController() override;

  // ---- settings ----------------------------------------------------------------------------
  Tool tool() const { return m_tool; }
  void setTool(Tool t);
  /// A tool that changes the mask (not Navigate, not Ruler).
  bool isEditingTool() const { return m_tool != Tool::Navigate && m_tool != Tool::Ruler; }
  double brushRadiusMm() const { return m_brush.radiusMm; }
  /// Clamped to 0.25..50 mm.
  void setBrushRadiusMm(double mm);
  /// '+' / '-': one step = 0.5 mm of radius (at least 0.25 mm).
  void stepBrushSize(int steps);
  bool brush3D() const { return m_brush.is3D; }
  void setBrush3D(bool on);
  panseg::edit::BrushShape brushShape() const { return m_brush.shape; }
  void setBrushShape(panseg::edit::BrushShape s);
  int activeLabel() const { return m_paint.label; }
  void setActiveLabel(int label); // 1..255
  panseg::edit::IntensityRange threshold() const { return m_paint.range; }
  void setThreshold(const panseg::edit::IntensityRange& r);
  panseg::edit::Overwrite overwrite() const { return m_paint.overwrite; }
  void setOverwrite(panseg::edit::Overwrite o);
  /// The brush a view paints with (2D brushes lie in that view's slice plane).
  panseg::edit::Brush brushFor(panseg::SliceOrientation o) const;

  // ---- input from the views (voxel indices) ---------------------------------------------------
  /// Paint/Erase: starts a stroke with one stamp. Creates an empty mask when none is shown.
  /// GrowSeeds: starts a seed scribble (background when `alternate`, i.e. Ctrl held).
  void pressAt(panseg::SliceOrientation o, const std::array<int64_t, 3>& voxel,
               bool alternate = false);
  /// Continues the stroke to `voxel` (stamps along the way).
  void dragTo(panseg::SliceOrientation o, const std::array<int64_t, 3>& voxel);
  /// Ends the stroke: one undo step; the 3D view refreshes.
  void release();
  bool inStroke() const { return m_inStroke; }
  /// Fills (or with erase clears) a freehand polygon of continuous voxel indices on the view's
  /// current slice.
  void fillLasso(panseg::SliceOrientation o, const std::vector<std::array<double, 3>>& points,
                 bool erase);

  /// Scissors: clears the active label inside (cutInside) or outside the freehand polygon on
  /// every slice along the view's direction (continuous voxel indices of the current slice).
  void cutLasso(panseg::SliceOrientation o, const std::vector<std::array<double, 3>>& points,
                bool cutInside);

  // ---- grow from seeds (docs/interactive.md) ----------------------------------------------------
  /// Seeds painted so far in this grow session (foreground, background voxels).
  std::array<int64_t, 2> growSeedCounts() const;
  /// Seed voxels of the session on one slice (for the views): (voxel, foreground?).
  std::vector<std::pair<std::array<int64_t, 3>, bool>> growSeedsOnSlice(int axis, int64_t index) const;
  /// Statistics of the last grow update (incremental or not, time).
  panseg::edit::GrowCutStats lastGrowStats() const { return m_growStats; }
  /// Forgets the scribbles (the mask keeps what was grown; undo removes it).
  void restartGrowSeeds();
  /// How the Grow tool grows: GrowCut (shortest paths between foreground and background
  /// scribbles, incremental), ITK's confidence-connected region growing or ITK's threshold level
  /// set from the foreground scribbles, background scribbles as barriers
  /// (core/io/ItkRegionGrowing.h). All work in the scribbles' bounding box + 15 mm and write one
  /// undo step per scribble.
  enum class GrowMethod
  {
    GrowCut = 0,
    ConfidenceConnected = 1,
    LevelSet = 2,
  };
  GrowMethod growMethod() const { return m_growMethod; }
  void setGrowMethod(GrowMethod method);

  // ---- box prompt (docs/interactive.md) ------------------------------------------------------------
  /// Box tool: a rectangle dragged from `a` to `b` on a view. The first box takes the view's
  /// two in-plane axes from the rectangle and boxSlices() slices centred on the view's slice;
  /// a rectangle on another view while a box is shown sets that view's two axes and keeps the
  /// third (adjusting the extent). `finished` (mouse released) emits boxPromptRequested.
  void dragBox(panseg::SliceOrientation o, const std::array<int64_t, 3>& a,
               const std::array<int64_t, 3>& b, bool finished);
  /// Slices of a new box along the view's axis (default 20, at least 1).
  int boxSlices() const { return m_boxSlices; }
  void setBoxSlices(int slices);
  bool hasPromptBox() const { return !m_promptBox.empty(); }
  panseg::edit::Box promptBox() const { return m_promptBox; }
  void setPromptBox(const panseg::edit::Box& box);
  void clearPromptBox();
  /// Writes a box prediction: the active label inside `box` becomes `predicted`'s non-zero
  /// voxels there (core/edit/BoxPrompt applyBoxPrediction), one undo step; outside the box
  /// nothing changes. Refused while locked. Returns the voxels changed (-1 on error).
  int64_t applyBoxPrediction(const panseg::edit::Box& box, const panseg::LabelMask& predicted);
  /// Refine tool: a positive (or negative) click at `voxel`, inside the prompt box when the box
  /// holds it, else inside a cube of the click's reach. Returns the voxels changed (-1 on error).
  int64_t refineClick(const std::array<int64_t, 3>& voxel, bool positive);
  /// When this returns true (MainWindow: the prediction model takes clicks), a Refine-tool click
  /// is not grown from seeds but emitted as modelClickRequested() for the click-conditioned model.
  void setModelClickRule(std::function<bool()> rule) { m_modelClickRule = std::move(rule); }

  // ---- mask operations on the active label --------------------------------------------------
  /// Signed-distance interpolation across empty slices along the view's slice axis. The result is
  /// shown at once as a pending step: acceptProposal() keeps it, rejectProposal() removes it.
  /// Returns the number of voxels proposed (0: nothing to fill).
  int64_t proposeFillBetweenSlices(panseg::SliceOrientation o);
  bool hasPendingProposal() const { return m_pendingProposal; }
  void acceptProposal();
  void rejectProposal();
  enum class Smoothing
  {
    Median,
    Closing,
    Opening
  };
  void smooth(Smoothing kind, double radiusMm);
  void fillHoles();
  void keepLargestComponent();
  void removeIslands(double minVolumeMl);

  // ---- undo / state --------------------------------------------------------------------------
  /// Refuses every edit (strokes, lasso, operations, undo/redo) with `reason` through
  /// errorOccurred while it is non-empty, e.g. while a prediction is about to replace the mask.
  void setLocked(const QString& reason);
  bool isLocked() const { return !m_lockReason.isEmpty(); }
  QString lockReason() const { return m_lockReason; }
  bool canUndo() const;
  bool canRedo() const;
  void undo();
  void redo();
  size_t undoMemoryBytes() const;
  /// Edits not yet saved as a mask version.
  bool isModified() const;
  /// Identifies the mask's content (LabelEditor::revision(): undo and redo restore it); 0 before
  /// the first edit of a mask (call ensureEditing() first to read the state an edit starts from).
  /// Revisions count anew for every mask (editorReset()).
  uint64_t maskRevision() const;
  /// Starts editing the shown mask if that has not happened yet (an empty mask when none is
  /// shown), as every edit does itself. False, with lastError(), when it cannot.
  bool ensureEditing() { return ensureEditor(); }
  /// Call after the shown mask was saved (e.g. as a new version).
  void markSaved();
  /// The last error of an operation (also emitted by errorOccurred).
  QString lastError() const { return m_lastError; }

  // ---- crash recovery --------------------------------------------------------------------------
  /// Default folder: QStandardPaths::AppDataLocation + "/recovery".
  static QString defaultRecoveryDir();
  void setRecoveryDir(const QString& dir);
  QString recoveryFilePath() const;
  /// Autosave after this many edits (default 10) and at least every `seconds` (default 60)
  /// while there are unsaved edits.
  void setAutosavePolicy(int edits, int seconds);
  /// Writes the recovery file now (only when modified). Returns false with lastError() on failure.
  bool writeRecoveryNow();
  /// Removes the recovery file (after a save, or when the user discards the edits).
  void discardRecovery();
  /// Text the recovery file carries (e.g. which series and version the mask was edited from).
  void setRecoveryNote(const QString& note) { m_recoveryNote = note; }

signals:
  void settingsChanged();
  /// Undo/redo availability or the modified flag changed.
  void undoStateChanged();
  /// Another image or mask is shown: the undo history and the revisions start over.
  void editorReset();
  /// A committed change (edit, undo, redo): the box of changed voxels.
  void edited();
  void errorOccurred(const QString& message);
  /// The box tool's rectangle was released: predict inside `box` (MainWindow::predictInBox).
  void boxPromptRequested(const panseg::edit::Box& box);
  /// A Refine-tool click for the click-conditioned model (setModelClickRule).
  void modelClickRequested(const std::array<int64_t, 3>& voxel, bool positive);

private:
  bool ensureEditor();
  void resetEditor();
  void commitSnapshot();
  void afterEdit(const panseg::edit::EditResult& r);
  template <typename Fn> void runOperation(Fn&& fn);
  int sliceAxis(panseg::SliceOrientation o) const;

  void finishGrowStroke();

  ViewerModel* m_model;
  std::function<bool()> m_modelClickRule;
  std::shared_ptr<panseg::edit::LabelEditor> m_editor;
  std::unique_ptr<panseg::edit::GrowCut> m_grow;
  std::vector<std::array<int64_t, 3>> m_growStroke; // centres of the scribble being painted
  bool m_growBackground = false;
  int m_growAxis = 2;
  std::vector<std::pair<std::array<int64_t, 3>, bool>> m_growSeeds; // for display
  panseg::edit::GrowCutStats m_growStats;
  GrowMethod m_growMethod = GrowMethod::GrowCut;
  panseg::edit::Box m_promptBox;
  panseg::edit::Box m_boxAtPress; // the box when the drag started (adjusting keeps its third axis)
  bool m_boxDragging = false;
  int m_boxSlices = 20;
  bool m_ignoreMaskChange = false;
  Tool m_tool = Tool::Navigate;
  panseg::edit::Brush m_brush;
  panseg::edit::PaintSettings m_paint;
  bool m_inStroke = false;
  bool m_strokeErase = false;
  std::array<int64_t, 3> m_last{};
  bool m_pendingProposal = false;
  QString m_lockReason;
  QString m_lastError;
  QString m_recoveryDir;
  QString m_recoveryNote;
  int m_autosaveEdits = 10;
  int m_editsSinceAutosave = 0;
  QTimer m_autosaveTimer;
};

} // namespace panseg::ui
