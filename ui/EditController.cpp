#include "ui/EditController.h"

#include "core/io/ItkRegionGrowing.h"

#include "ui/ViewerModel.h"

#include "core/Error.h"
#include "core/edit/BoxPrompt.h"
#include "core/edit/RecoveryFile.h"

#include <QElapsedTimer>
#include <QDir>
#include <QFile>
#include <QStandardPaths>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace panseg::ui
{
using namespace panseg::edit;

EditController::EditController(ViewerModel* model, QObject* parent)
    : QObject(parent), m_model(model)
{
  m_recoveryDir = defaultRecoveryDir();
  // A different image or mask (opened, reloaded) ends the editing session of the old one.
  connect(m_model, &ViewerModel::imageChanged, this, &EditController::resetEditor);
  connect(m_model, &ViewerModel::maskChanged, this,
          [this]
          {
            if (!m_ignoreMaskChange)
              resetEditor();
          });
  m_autosaveTimer.setInterval(60 * 1000);
  connect(&m_autosaveTimer, &QTimer::timeout, this,
          [this]
          {
            if (isModified())
              writeRecoveryNow();
          });
  m_autosaveTimer.start();
}

EditController::~EditController() = default;

QString EditController::defaultRecoveryDir()
{
  return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + "/recovery";
}

// ---- settings -----------------------------------------------------------------------------------

void EditController::setTool(Tool t)
{
  if (m_inStroke)
    release();
  if (t == m_tool)
    return;
  m_tool = t;
  emit settingsChanged();
}

void EditController::setBrushRadiusMm(double mm)
{
  mm = std::clamp(mm, 0.25, 50.0);
  if (mm == m_brush.radiusMm)
    return;
  m_brush.radiusMm = mm;
  emit settingsChanged();
}

void EditController::stepBrushSize(int steps)
{
  setBrushRadiusMm(m_brush.radiusMm + 0.5 * steps);
}

void EditController::setBrush3D(bool on)
{
  if (on == m_brush.is3D)
    return;
  m_brush.is3D = on;
  emit settingsChanged();
}

void EditController::setBrushShape(BrushShape s)
{
  if (s == m_brush.shape)
    return;
  m_brush.shape = s;
  emit settingsChanged();
}

void EditController::setActiveLabel(int label)
{
  label = std::clamp(label, 1, 255);
  if (label == m_paint.label)
    return;
  m_paint.label = label;
  emit settingsChanged();
}

void EditController::setThreshold(const IntensityRange& r)
{
  m_paint.range = r;
  if (m_paint.range.enabled && m_paint.range.minimum > m_paint.range.maximum)
    std::swap(m_paint.range.minimum, m_paint.range.maximum);
  emit settingsChanged();
}

void EditController::setOverwrite(Overwrite o)
{
  m_paint.overwrite = o;
  emit settingsChanged();
}

int EditController::sliceAxis(SliceOrientation o) const
{
  return m_model->mapper(o).sliceAxis();
}

Brush EditController::brushFor(SliceOrientation o) const
{
  Brush b = m_brush;
  b.planeAxis = m_model->hasImage() ? sliceAxis(o) : 2;
  return b;
}

// ---- editor lifetime --------------------------------------------------------------------------

bool EditController::ensureEditor()
{
  if (!m_lockReason.isEmpty())
  {
    m_lastError = m_lockReason;
    emit errorOccurred(m_lastError);
    return false;
  }
  if (m_editor)
    return true;
  if (!m_model->hasImage())
    return false;
  try
  {
    if (!m_model->hasMask())
    {
      // Painting on an image without a mask starts an empty one.
      m_ignoreMaskChange = true;
      m_model->setMask(LabelMask(m_model->geometry(), 0));
      m_ignoreMaskChange = false;
    }
    m_editor = std::make_shared<LabelEditor>(m_model->imageShared(), m_model->mask());
    m_model->setLiveMask(std::shared_ptr<const LabelMask>(m_editor, &m_editor->mask()));
  }
  catch (const panseg::Error& e)
  {
    m_ignoreMaskChange = false;
    m_lastError = QString::fromUtf8(e.what());
    emit errorOccurred(m_lastError);
    return false;
  }
  return true;
}

void EditController::resetEditor()
{
  const bool had = static_cast<bool>(m_editor);
  m_editor.reset();
  m_promptBox = Box{};
  m_boxDragging = false;
  m_grow.reset();
  m_growSeeds.clear();
  m_growStroke.clear();
  m_inStroke = false;
  m_pendingProposal = false;
  m_editsSinceAutosave = 0;
  if (had)
    emit undoStateChanged();
  emit editorReset();
}

void EditController::commitSnapshot()
{
  // The views keep reading the live mask; the snapshot is what other threads read.
  m_model->commitEditedMask(std::make_shared<const LabelMask>(m_editor->mask()));
}

void EditController::afterEdit(const EditResult& r)
{
  if (r.voxelsChanged == 0 && r.changed.empty())
    return;
  commitSnapshot();
  emit edited();
  emit undoStateChanged();
  if (++m_editsSinceAutosave >= m_autosaveEdits)
    writeRecoveryNow();
}

template <typename Fn> void EditController::runOperation(Fn&& fn)
{
  if (m_inStroke)
    release();
  if (!ensureEditor())
    return;
  try
  {
    afterEdit(fn(*m_editor));
  }
  catch (const panseg::Error& e)
  {
    m_lastError = QString::fromUtf8(e.what());
    emit errorOccurred(m_lastError);
  }
}

// ---- strokes ----------------------------------------------------------------------------------

void EditController::pressAt(SliceOrientation o, const std::array<int64_t, 3>& voxel,
                             bool alternate)
{
  if (m_tool == Tool::Refine)
  {
    if (m_modelClickRule && m_modelClickRule())
      emit modelClickRequested(voxel, !alternate);
    else
      refineClick(voxel, !alternate);
    return;
  }
  if (m_tool == Tool::GrowSeeds)
  {
    if (m_pendingProposal)
      acceptProposal();
    if (!ensureEditor())
      return;
    m_inStroke = true;
    m_growBackground = alternate;
    m_growAxis = sliceAxis(o);
    m_growStroke.assign(1, voxel);
    m_last = voxel;
    return;
  }
  if (m_tool != Tool::Paint && m_tool != Tool::Erase)
    return;
  if (m_pendingProposal)
    acceptProposal();
  if (!ensureEditor())
    return;
  m_strokeErase = m_tool == Tool::Erase;
  try
  {
    m_editor->beginStroke();
    m_inStroke = true;
    m_last = voxel;
    m_editor->stamp(voxel, brushFor(o), m_paint, m_strokeErase);
    m_model->notifyMaskPainted();
  }
  catch (const panseg::Error& e)
  {
    m_editor->endStroke();
    m_inStroke = false;
    m_lastError = QString::fromUtf8(e.what());
    emit errorOccurred(m_lastError);
  }
}

void EditController::dragTo(SliceOrientation o, const std::array<int64_t, 3>& voxel)
{
  if (!m_inStroke || !m_editor || voxel == m_last)
    return;
  if (m_tool == Tool::GrowSeeds)
  {
    // every voxel step along the segment, like a brush stroke
    const std::array<int64_t, 3> from = m_last;
    int64_t steps = 0;
    for (int a = 0; a < 3; ++a)
      steps = std::max<int64_t>(steps, std::abs(voxel[a] - from[a]));
    for (int64_t k = 1; k <= steps; ++k)
    {
      std::array<int64_t, 3> p{};
      for (int a = 0; a < 3; ++a)
        p[a] = from[a] + static_cast<int64_t>(std::llround(static_cast<double>(voxel[a] - from[a]) * k / steps));
      m_growStroke.push_back(p);
    }
    m_last = voxel;
    Q_UNUSED(o);
    return;
  }
  try
  {
    const EditResult r =
        m_editor->strokeSegment(m_last, voxel, brushFor(o), m_paint, m_strokeErase);
    m_last = voxel;
    if (r.voxelsChanged > 0)
      m_model->notifyMaskPainted();
  }
  catch (const panseg::Error& e)
  {
    m_lastError = QString::fromUtf8(e.what());
    emit errorOccurred(m_lastError);
  }
}

void EditController::release()
{
  if (!m_inStroke || !m_editor)
    return;
  m_inStroke = false;
  if (m_tool == Tool::GrowSeeds || !m_growStroke.empty())
  {
    finishGrowStroke();
    return;
  }
  afterEdit(m_editor->endStroke());
}

void EditController::fillLasso(SliceOrientation o, const std::vector<std::array<double, 3>>& points,
                               bool erase)
{
  const int axis = sliceAxis(o);
  const auto [au, av] = planeAxes(axis);
  std::vector<Point2> poly;
  poly.reserve(points.size());
  for (const auto& p : points)
    poly.push_back({p[au], p[av]});
  const SlicePlane plane{axis, static_cast<int64_t>(m_model->sliceIndex(o))};
  runOperation([&](LabelEditor& ed) { return ed.fillPolygon(plane, poly, m_paint, erase); });
}

void EditController::cutLasso(SliceOrientation o, const std::vector<std::array<double, 3>>& points,
                              bool cutInside)
{
  const int axis = sliceAxis(o);
  const auto [au, av] = planeAxes(axis);
  std::vector<Point2> poly;
  poly.reserve(points.size());
  for (const auto& p : points)
    poly.push_back({p[au], p[av]});
  runOperation([&](LabelEditor& ed) { return ed.scissors(axis, poly, cutInside, m_paint); });
}

// ---- grow from seeds ---------------------------------------------------------------------------

void EditController::finishGrowStroke()
{
  std::vector<std::array<int64_t, 3>> stroke;
  stroke.swap(m_growStroke);
  if (stroke.empty() || !m_editor)
    return;
  try
  {
    if (!m_grow)
      m_grow = std::make_unique<GrowCut>(m_model->imageShared());
    const SeedLabel l = m_growBackground ? SeedLabel::Background : SeedLabel::Foreground;
    // The brush radius in the view's plane (a 2D scribble), every voxel of the stroke.
    for (const auto& c : stroke)
      m_grow->addSeedBall(c, m_brush.radiusMm, l, m_growAxis);
    m_growSeeds.reserve(m_growSeeds.size() + stroke.size());
    for (const auto& c : stroke)
      m_growSeeds.push_back({c, !m_growBackground});
    emit settingsChanged(); // the views draw the scribbles
    if (m_grow->seedCount(SeedLabel::Foreground) == 0)
      return; // nothing can grow before the first foreground scribble
    if (m_growMethod == GrowMethod::ConfidenceConnected || m_growMethod == GrowMethod::LevelSet)
    {
      // ITK region growing or level set from every scribble so far, in the region GrowCut would use.
      std::vector<Index3> fg, bg;
      for (const auto& [c, foreground] : m_growSeeds)
        (foreground ? fg : bg).push_back(c);
      const Box box = m_grow->seedRegion(); // the GrowCut rule: scribbles' box + 15 mm
      QElapsedTimer timer;
      timer.start();
      std::vector<uint8_t> grown;
      if (m_growMethod == GrowMethod::LevelSet)
      {
        LevelSetOptions options;
        options.backgroundRadiusMm = m_brush.radiusMm;
        grown = levelSetInRegion(m_model->image(), box, fg, bg, options);
      }
      else
      {
        ConfidenceConnectedOptions options;
        options.backgroundRadiusMm = m_brush.radiusMm;
        grown = confidenceConnectedInRegion(m_model->image(), box, fg, bg, options);
      }
      m_growStats = GrowCutStats{};
      m_growStats.milliseconds = timer.nsecsElapsed() / 1e6;
      m_growStats.regionVoxels = box.voxelCount();
      afterEdit(m_editor->replaceInBox(m_paint.label, box, grown));
      return;
    }
    m_growStats = m_grow->update();
    afterEdit(m_editor->replaceInBox(m_paint.label, m_grow->region(), m_grow->foregroundInRegion()));
  }
  catch (const panseg::Error& e)
  {
    m_lastError = QString::fromUtf8(e.what());
    emit errorOccurred(m_lastError);
  }
}

std::array<int64_t, 2> EditController::growSeedCounts() const
{
  if (!m_grow)
    return {0, 0};
  return {m_grow->seedCount(SeedLabel::Foreground), m_grow->seedCount(SeedLabel::Background)};
}

std::vector<std::pair<std::array<int64_t, 3>, bool>> EditController::growSeedsOnSlice(int axis,
                                                                                       int64_t index) const
{
  std::vector<std::pair<std::array<int64_t, 3>, bool>> out;
  if (axis < 0 || axis > 2)
    return out;
  for (const auto& s : m_growSeeds)
    if (s.first[axis] == index)
      out.push_back(s);
  for (const auto& c : m_growStroke)
    if (c[axis] == index)
      out.push_back({c, !m_growBackground});
  return out;
}

void EditController::setGrowMethod(GrowMethod method)
{
  if (method == m_growMethod)
    return;
  m_growMethod = method;
  emit settingsChanged();
}

void EditController::restartGrowSeeds()
{
  m_grow.reset();
  m_growSeeds.clear();
  m_growStroke.clear();
  m_growStats = GrowCutStats{};
  emit settingsChanged();
}

// ---- box prompt ----------------------------------------------------------------------------------

void EditController::setBoxSlices(int slices)
{
  slices = std::clamp(slices, 1, 2048);
  if (slices == m_boxSlices)
    return;
  m_boxSlices = slices;
  emit settingsChanged();
}

void EditController::dragBox(SliceOrientation o, const std::array<int64_t, 3>& a,
                             const std::array<int64_t, 3>& b, bool finished)
{
  if (!m_model->hasImage())
    return;
  const Geometry& g = m_model->geometry();
  const int axis = sliceAxis(o);
  if (!m_boxDragging)
  {
    m_boxAtPress = m_promptBox;
    m_boxDragging = true;
  }
  Box box = m_boxAtPress;
  if (box.empty())
  {
    // A new box: the view's slices around the current one.
    const int64_t slice = m_model->sliceIndex(o);
    box.lo[axis] = std::max<int64_t>(0, slice - m_boxSlices / 2);
    box.hi[axis] = std::min<int64_t>(g.size[axis], box.lo[axis] + m_boxSlices);
  }
  for (int k : planeAxes(axis))
  {
    box.lo[k] = std::clamp<int64_t>(std::min(a[k], b[k]), 0, g.size[k] - 1);
    box.hi[k] = std::clamp<int64_t>(std::max(a[k], b[k]) + 1, 1, g.size[k]);
  }
  m_promptBox = box;
  emit settingsChanged(); // the views draw it
  if (!finished)
    return;
  m_boxDragging = false;
  // A click without a drag (a rectangle of one voxel) asks for nothing.
  const auto [u, v] = planeAxes(axis);
  if (box.hi[u] - box.lo[u] < 2 || box.hi[v] - box.lo[v] < 2)
  {
    m_promptBox = m_boxAtPress;
    emit settingsChanged();
    return;
  }
  emit boxPromptRequested(m_promptBox);
}

void EditController::setPromptBox(const Box& box)
{
  m_promptBox = box;
  emit settingsChanged();
}

void EditController::clearPromptBox()
{
  m_promptBox = Box{};
  m_boxDragging = false;
  emit settingsChanged();
}

int64_t EditController::applyBoxPrediction(const Box& box, const LabelMask& predicted)
{
  if (m_inStroke)
    release();
  if (!ensureEditor())
    return -1;
  try
  {
    const EditResult r = panseg::edit::applyBoxPrediction(*m_editor, m_paint.label, box, predicted);
    afterEdit(r);
    return r.voxelsChanged;
  }
  catch (const panseg::Error& e)
  {
    m_lastError = QString::fromUtf8(e.what());
    emit errorOccurred(m_lastError);
    return -1;
  }
}

int64_t EditController::refineClick(const std::array<int64_t, 3>& voxel, bool positive)
{
  if (m_inStroke)
    release();
  if (!ensureEditor())
    return -1;
  try
  {
    const Geometry& g = m_model->geometry();
    ClickRefineOptions ro;
    Box box = m_promptBox;
    if (!boxHolds(box, voxel))
    {
      Box around;
      around.include(voxel);
      box = boxWithMarginMm(around, g, ro.reachMm > 0 ? ro.reachMm : 40.0);
    }
    ClickRefiner refiner(m_model->imageShared(), m_editor->mask(), m_paint.label, box, ro);
    const std::vector<uint8_t> raster = refiner.click(Click{voxel, positive});
    const EditResult r = m_editor->replaceInBox(m_paint.label, box, raster);
    afterEdit(r);
    return r.voxelsChanged;
  }
  catch (const panseg::Error& e)
  {
    m_lastError = QString::fromUtf8(e.what());
    emit errorOccurred(m_lastError);
    return -1;
  }
}

// ---- operations -----------------------------------------------------------------------------

int64_t EditController::proposeFillBetweenSlices(SliceOrientation o)
{
  if (m_pendingProposal)
    acceptProposal();
  if (m_inStroke)
    release();
  if (!ensureEditor())
    return 0;
  try
  {
    const InterpolationProposal p = m_editor->interpolateSlices(m_paint.label, sliceAxis(o));
    if (p.offsets.empty())
      return 0;
    afterEdit(m_editor->applyProposal(p));
    m_pendingProposal = true;
    return static_cast<int64_t>(p.offsets.size());
  }
  catch (const panseg::Error& e)
  {
    m_lastError = QString::fromUtf8(e.what());
    emit errorOccurred(m_lastError);
    return 0;
  }
}

void EditController::setLocked(const QString& reason)
{
  if (!reason.isEmpty() && m_inStroke)
    release();
  m_lockReason = reason;
  emit settingsChanged();
}

void EditController::acceptProposal()
{
  m_pendingProposal = false;
}

void EditController::rejectProposal()
{
  if (!m_pendingProposal)
    return;
  m_pendingProposal = false;
  undo();
}

void EditController::smooth(Smoothing kind, double radiusMm)
{
  runOperation(
      [&](LabelEditor& ed)
      {
        switch (kind)
        {
        case Smoothing::Median:
          return ed.median(m_paint.label, radiusMm);
        case Smoothing::Closing:
          return ed.closing(m_paint.label, radiusMm);
        case Smoothing::Opening:
          break;
        }
        return ed.opening(m_paint.label, radiusMm);
      });
}

void EditController::fillHoles()
{
  runOperation([&](LabelEditor& ed) { return ed.fillHoles(m_paint.label); });
}

void EditController::keepLargestComponent()
{
  runOperation([&](LabelEditor& ed) { return ed.keepLargestComponent(m_paint.label); });
}

void EditController::removeIslands(double minVolumeMl)
{
  runOperation([&](LabelEditor& ed) { return ed.removeIslands(m_paint.label, minVolumeMl); });
}

// ---- undo -----------------------------------------------------------------------------------

bool EditController::canUndo() const
{
  return m_editor && m_editor->canUndo();
}

bool EditController::canRedo() const
{
  return m_editor && m_editor->canRedo();
}

void EditController::undo()
{
  if (m_inStroke)
    release();
  if (!m_editor || !m_editor->canUndo() || !ensureEditor())
    return;
  m_pendingProposal = false;
  afterEdit(m_editor->undo());
}

void EditController::redo()
{
  if (!m_editor || m_inStroke || !m_editor->canRedo() || !ensureEditor())
    return;
  afterEdit(m_editor->redo());
}

size_t EditController::undoMemoryBytes() const
{
  return m_editor ? m_editor->undoMemoryBytes() : 0;
}

bool EditController::isModified() const
{
  return m_editor && m_editor->isModified();
}

uint64_t EditController::maskRevision() const
{
  return m_editor ? m_editor->revision() : 0;
}

void EditController::markSaved()
{
  if (m_editor)
    m_editor->markSaved();
  m_editsSinceAutosave = 0;
  discardRecovery();
  emit undoStateChanged();
}

// ---- recovery -------------------------------------------------------------------------------

void EditController::setRecoveryDir(const QString& dir)
{
  m_recoveryDir = dir;
}

QString EditController::recoveryFilePath() const
{
  return m_recoveryDir + "/unsaved-mask.psrec";
}

void EditController::setAutosavePolicy(int edits, int seconds)
{
  m_autosaveEdits = std::max(1, edits);
  m_autosaveTimer.setInterval(std::max(1, seconds) * 1000);
}

bool EditController::writeRecoveryNow()
{
  m_editsSinceAutosave = 0;
  if (!isModified())
    return true;
  try
  {
    if (!QDir().mkpath(m_recoveryDir))
      throw panseg::Error("cannot create the recovery folder " + m_recoveryDir.toStdString());
    Recovery r;
    r.imagePath = m_model->image().info.sourcePath;
    r.note = m_recoveryNote.toStdString();
    r.savedAtMs = QDateTime::currentMSecsSinceEpoch();
    r.mask = m_editor->mask();
    writeRecoveryFile(recoveryFilePath().toStdString(), r);
    return true;
  }
  catch (const panseg::Error& e)
  {
    m_lastError = QString::fromUtf8(e.what());
    emit errorOccurred(m_lastError);
    return false;
  }
}

void EditController::discardRecovery()
{
  QFile::remove(recoveryFilePath());
}

} // namespace panseg::ui
