#include "ui/ViewerModel.h"

#include "core/display/LabelColors.h"
#include "core/measure/Measurement.h"

#include <QFileInfo>

#include <algorithm>
#include <cmath>

namespace panseg::ui
{
namespace
{
size_t viewSlot(SliceOrientation o)
{
  return static_cast<size_t>(o);
}

// Intensity per screen pixel for window/level drags: ~500 px of mouse travel cover the
// image's 0.5..99.5 percentile span, whatever its units (HU, MR a.u., normalised floats).
double dragSensitivity(const Image& image)
{
  std::vector<float> s;
  const size_t step = std::max<size_t>(1, image.voxels.size() / 200000);
  for (size_t i = 0; i < image.voxels.size(); i += step)
    if (std::isfinite(image.voxels[i]))
      s.push_back(image.voxels[i]);
  if (s.size() < 2)
    return 1.0;
  auto at = [&s](double q)
  {
    const size_t k = static_cast<size_t>(q * static_cast<double>(s.size() - 1));
    std::nth_element(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(k), s.end());
    return static_cast<double>(s[k]);
  };
  const double span = at(0.995) - at(0.005);
  return span > 0 ? span / 500.0 : 1.0;
}
} // namespace

ViewerModel::ViewerModel(QObject* parent) : QObject(parent) {}
ViewerModel::~ViewerModel() = default;

QString ViewerModel::automaticPresetName()
{
  return QStringLiteral("Automatic (1-99%)");
}

const Image& ViewerModel::image() const
{
  static const Image empty;
  return m_image ? *m_image : empty;
}

const LabelMask& ViewerModel::mask() const
{
  static const LabelMask empty;
  if (m_liveMask)
    return *m_liveMask;
  return m_mask ? *m_mask : empty;
}

void ViewerModel::setLiveMask(std::shared_ptr<const LabelMask> live)
{
  if (live && (!m_mask || !live->geometry.sameGrid(m_mask->geometry)))
    return; // an editor always edits the shown mask
  m_liveMask = std::move(live);
  emit maskPainted();
}

bool ViewerModel::setComparisonMask(LabelMask other, QString* error)
{
  auto fail = [error](const QString& m)
  {
    if (error)
      *error = m;
    return false;
  };
  if (!m_mask)
    return fail(tr("Show a mask before comparing it with another."));
  std::string why;
  if (!other.geometry.sameGrid(m_mask->geometry, &why) || other.voxels.size() != m_mask->voxels.size())
    return fail(tr("The mask to compare does not lie on the image grid (%1).").arg(QString::fromStdString(why)));
  m_comparison = std::make_shared<LabelMask>(std::move(other));
  recountComparison();
  emit overlayChanged(); // the views repaint in agreement colours
  return true;
}

void ViewerModel::clearComparison()
{
  if (!m_comparison)
    return;
  m_comparison.reset();
  m_comparisonCounts = {};
  emit comparisonChanged();
  emit overlayChanged();
}

void ViewerModel::recountComparison()
{
  if (!m_comparison)
    return;
  m_comparisonCounts = m_mask ? edit::countOverlap(mask(), 0, *m_comparison, 0) : edit::OverlapCounts{};
  emit comparisonChanged();
}

Rgb ViewerModel::agreementColor(int agreementClass)
{
  switch (agreementClass)
  {
  case edit::AgreeBoth:
    return {255, 215, 0};
  case edit::AgreeOnlyA:
    return {40, 210, 90};
  case edit::AgreeOnlyB:
    return {230, 60, 230};
  default:
    return {0, 0, 0};
  }
}

Rgb ViewerModel::contourColor(bool b)
{
  return b ? agreementColor(edit::AgreeOnlyB) : agreementColor(edit::AgreeOnlyA);
}

void ViewerModel::setComparisonStyle(ComparisonStyle style)
{
  if (style == m_comparisonStyle)
    return;
  m_comparisonStyle = style;
  emit overlayChanged();
}

void ViewerModel::notifyMaskPainted()
{
  emit maskPainted();
}

void ViewerModel::commitEditedMask(std::shared_ptr<const LabelMask> snapshot)
{
  if (!snapshot || !m_mask || !snapshot->geometry.sameGrid(m_mask->geometry))
    return;
  m_mask = std::move(snapshot);
  ++m_revision;
  recountComparison();
  emit maskEdited();
}

const Geometry& ViewerModel::geometry() const
{
  return image().geometry;
}

SliceMapper ViewerModel::mapper(SliceOrientation o) const
{
  return SliceMapper(geometry(), o);
}

void ViewerModel::setImage(Image image)
{
  auto img = std::make_shared<Image>(std::move(image));
  m_isCt = looksLikeCt(*img);
  m_autoWindow = automaticWindowLevel(*img);
  m_window = m_isCt ? ctWindowPresets().front().window : m_autoWindow;
  m_dragIntensityPerPx = dragSensitivity(*img);
  const Size3 n = img->geometry.size;
  m_image = std::move(img);
  const bool hadMask = static_cast<bool>(m_mask);
  m_mask.reset();
  m_liveMask.reset();
  m_comparison.reset();
  m_comparisonCounts = {};
  ++m_revision;
  m_cursor = {n[0] / 2, n[1] / 2, n[2] / 2};
  m_views = {};
  const bool hadRulers = !m_rulers.empty();
  m_rulers.clear();
  emit imageChanged();
  if (hadRulers)
    emit rulersChanged();
  if (hadMask)
    emit maskChanged();
  emit windowLevelChanged();
  for (SliceOrientation o :
       {SliceOrientation::Axial, SliceOrientation::Coronal, SliceOrientation::Sagittal})
    emit viewStateChanged(o);
  emit cursorChanged();
}

bool ViewerModel::setMask(LabelMask mask, QString* error)
{
  auto fail = [error](const QString& m)
  {
    if (error)
      *error = m;
    return false;
  };
  if (!m_image)
    return fail(tr("Open an image before a mask."));
  std::string why;
  if (!mask.geometry.sameGrid(m_image->geometry, &why))
    return fail(
        tr("The mask does not lie on the image grid (%1).").arg(QString::fromStdString(why)));
  if (mask.voxels.size() != m_image->voxels.size())
    return fail(tr("The mask has %1 voxels, the image %2.")
                    .arg(mask.voxels.size())
                    .arg(m_image->voxels.size()));
  m_mask = std::make_shared<LabelMask>(std::move(mask));
  m_liveMask.reset();
  ++m_revision;
  recountComparison();
  const bool labelsChanged = m_labels != LabelTable::defaults();
  if (labelsChanged)
  {
    m_labels = LabelTable::defaults();
    m_labelColors = m_labels.colors();
  }
  emit maskChanged();
  if (labelsChanged)
    emit labelTableChanged();
  return true;
}

void ViewerModel::setLabelTable(const LabelTable& table)
{
  if (table == m_labels)
    return;
  m_labels = table;
  m_labelColors = m_labels.colors();
  emit labelTableChanged();
}

void ViewerModel::clearMask()
{
  if (!m_mask)
    return;
  m_mask.reset();
  m_liveMask.reset();
  m_comparison.reset();
  m_comparisonCounts = {};
  ++m_revision;
  emit maskChanged();
}

int ViewerModel::addRuler(SliceOrientation o, const Vec3& a, const Vec3& b)
{
  if (!m_image)
    return -1;
  Ruler r;
  r.orientation = o;
  r.slice = sliceIndex(o);
  r.a = a;
  r.b = b;
  r.lengthMm = measure::indexDistanceMm(m_image->geometry, a, b);
  m_rulers.push_back(r);
  emit rulersChanged();
  return static_cast<int>(m_rulers.size()) - 1;
}

void ViewerModel::setRulerEnd(int i, const Vec3& b)
{
  if (i < 0 || i >= static_cast<int>(m_rulers.size()) || !m_image)
    return;
  Ruler& r = m_rulers[static_cast<size_t>(i)];
  r.b = b;
  r.lengthMm = measure::indexDistanceMm(m_image->geometry, r.a, r.b);
  emit rulersChanged();
}

void ViewerModel::removeRuler(int i)
{
  if (i < 0 || i >= static_cast<int>(m_rulers.size()))
    return;
  m_rulers.erase(m_rulers.begin() + i);
  emit rulersChanged();
}

void ViewerModel::clearRulers()
{
  if (m_rulers.empty())
    return;
  m_rulers.clear();
  emit rulersChanged();
}

QString ViewerModel::rulerText(double lengthMm)
{
  return tr("%1 mm").arg(lengthMm, 0, 'f', lengthMm < 10.0 ? 2 : 1);
}

VoxelIndex ViewerModel::clamped(const VoxelIndex& v) const
{
  const Size3& n = geometry().size;
  VoxelIndex c{};
  for (size_t k = 0; k < 3; ++k)
    c[k] = std::clamp<int64_t>(v[k], 0, std::max<int64_t>(0, n[k] - 1));
  return c;
}

void ViewerModel::setCursor(const VoxelIndex& voxel)
{
  const VoxelIndex c = clamped(voxel);
  if (c == m_cursor)
    return;
  m_cursor = c;
  emit cursorChanged();
}

int ViewerModel::sliceIndex(SliceOrientation o) const
{
  return static_cast<int>(m_cursor[static_cast<size_t>(mapper(o).sliceAxis())]);
}

int ViewerModel::sliceCount(SliceOrientation o) const
{
  return hasImage() ? mapper(o).sliceCount() : 0;
}

void ViewerModel::setSliceIndex(SliceOrientation o, int index)
{
  VoxelIndex c = m_cursor;
  c[static_cast<size_t>(mapper(o).sliceAxis())] = index;
  setCursor(c);
}

void ViewerModel::stepSlices(SliceOrientation o, int steps)
{
  setSliceIndex(o, sliceIndex(o) + steps * mapper(o).forwardSliceStep());
}

void ViewerModel::setWindowLevel(WindowLevel wl)
{
  wl.width = std::max(wl.width, kMinWindowWidth);
  if (wl == m_window)
    return;
  m_window = wl;
  emit windowLevelChanged();
}

QStringList ViewerModel::presetNames() const
{
  QStringList names;
  if (m_isCt)
    for (const WindowPreset& p : ctWindowPresets())
      names << QString::fromStdString(p.name);
  names << automaticPresetName();
  return names;
}

bool ViewerModel::applyPreset(const QString& name)
{
  if (!m_image)
    return false;
  if (name == automaticPresetName())
  {
    setWindowLevel(m_autoWindow);
    return true;
  }
  for (const WindowPreset& p : ctWindowPresets())
    if (QString::fromStdString(p.name) == name)
    {
      setWindowLevel(p.window);
      return true;
    }
  return false;
}

QString ViewerModel::activePresetName() const
{
  if (!m_image)
    return {};
  if (m_isCt)
    for (const WindowPreset& p : ctWindowPresets())
      if (p.window == m_window)
        return QString::fromStdString(p.name);
  return m_window == m_autoWindow ? automaticPresetName() : QString();
}

WindowLevel ViewerModel::draggedWindowLevel(const WindowLevel& start, double dxPx,
                                            double dyPx) const
{
  WindowLevel wl;
  wl.width = std::max(start.width + dxPx * m_dragIntensityPerPx, kMinWindowWidth);
  wl.level = start.level + dyPx * m_dragIntensityPerPx;
  return wl;
}

void ViewerModel::setWindowLevelMode(bool on)
{
  if (on == m_windowLevelMode)
    return;
  m_windowLevelMode = on;
  emit windowLevelModeChanged(on);
}

ViewState ViewerModel::viewState(SliceOrientation o) const
{
  return m_views[viewSlot(o)];
}

void ViewerModel::setViewState(SliceOrientation o, const ViewState& s)
{
  ViewState v = s;
  v.zoom = std::clamp(v.zoom, 0.05, 64.0);
  if (v == m_views[viewSlot(o)])
    return;
  m_views[viewSlot(o)] = v;
  emit viewStateChanged(o);
}

void ViewerModel::resetViews()
{
  for (SliceOrientation o :
       {SliceOrientation::Axial, SliceOrientation::Coronal, SliceOrientation::Sagittal})
    setViewState(o, ViewState{});
}

void ViewerModel::setOverlayVisible(bool on)
{
  if (on == m_overlay.visible)
    return;
  m_overlay.visible = on;
  emit overlayChanged();
}

void ViewerModel::setOverlayOpacity(double opacity)
{
  opacity = std::clamp(opacity, 0.0, 1.0);
  if (opacity == m_overlay.opacity)
    return;
  m_overlay.opacity = opacity;
  emit overlayChanged();
}

void ViewerModel::setOverlayMode(OverlayMode mode)
{
  if (mode == m_overlay.mode)
    return;
  m_overlay.mode = mode;
  emit overlayChanged();
}

QImage ViewerModel::renderSlice(SliceOrientation o) const
{
  if (!m_image)
    return {};
  const SliceMapper m = mapper(o);
  const int slice = sliceIndex(o);
  const SliceBuffer<float> grey = extractSlice(*m_image, m, slice);
  QImage out(grey.width, grey.height, QImage::Format_RGB32);
  if (out.isNull())
    return out;
  // Format_RGB32 rows are exactly width * 4 bytes: render row by row in case that changes.
  std::vector<uint32_t> px(grey.pixels.size());
  renderGrey(grey.pixels.data(), grey.pixels.size(), m_window, px.data());
  if (m_mask && m_comparison && m_comparisonStyle == ComparisonStyle::Contours)
    compositeContours(px.data(), extractSlice(mask(), m, slice), contourColor(false),
                      extractSlice(*m_comparison, m, slice), contourColor(true), m_overlay);
  else if (m_mask && m_comparison)
  {
    // Compare mode: agreement classes instead of labels.
    static const LabelColorTable agreement = []
    {
      LabelColorTable t;
      for (int c = edit::AgreeBoth; c <= edit::AgreeOnlyB; ++c)
        t.setColor(c, agreementColor(c));
      return t;
    }();
    SliceBuffer<uint8_t> a = extractSlice(mask(), m, slice);
    const SliceBuffer<uint8_t> b = extractSlice(*m_comparison, m, slice);
    a.pixels = edit::agreementClasses(a.pixels, 0, b.pixels, 0);
    compositeLabels(px.data(), a, agreement, m_overlay);
  }
  else if (m_mask)
    compositeLabels(px.data(), extractSlice(mask(), m, slice), m_labelColors, m_overlay);
  for (int r = 0; r < grey.height; ++r)
    std::copy_n(px.data() + static_cast<size_t>(r) * grey.width, grey.width,
                reinterpret_cast<uint32_t*>(out.scanLine(r)));
  return out;
}

float ViewerModel::intensityAt(const VoxelIndex& v) const
{
  if (!m_image || !m_image->contains(v[0], v[1], v[2]))
    return 0.0f;
  return m_image->at(v[0], v[1], v[2]);
}

int ViewerModel::labelAt(const VoxelIndex& v) const
{
  if (!m_mask || !mask().contains(v[0], v[1], v[2]))
    return 0;
  return mask().at(v[0], v[1], v[2]);
}

QString ViewerModel::describeVoxel(const VoxelIndex& v) const
{
  if (!m_image)
    return {};
  const Vec3 mm = geometry().indexToPhysical(
      {static_cast<double>(v[0]), static_cast<double>(v[1]), static_cast<double>(v[2])});
  const float value = intensityAt(v);
  const QString valueText = value == std::floor(value) && std::abs(value) < 1e7
                                ? QString::number(static_cast<qint64>(value))
                                : QString::number(static_cast<double>(value), 'g', 5);
  QString s = tr("Voxel (%1, %2, %3)    LPS (%4, %5, %6) mm    Value %7")
                  .arg(v[0])
                  .arg(v[1])
                  .arg(v[2])
                  .arg(mm[0], 0, 'f', 1)
                  .arg(mm[1], 0, 'f', 1)
                  .arg(mm[2], 0, 'f', 1)
                  .arg(valueText);
  if (m_mask)
  {
    const int label = labelAt(v);
    s += tr("    Label %1").arg(label);
    if (label > 0) // its name from the label table
      s += " " + QString::fromStdString(m_labels.label(label).name);
  }
  return s;
}

QString ViewerModel::imageSummary() const
{
  if (!m_image)
    return {};
  const Geometry& g = geometry();
  const QString name = QFileInfo(QString::fromStdString(m_image->info.sourcePath)).fileName();
  const QString modality = QString::fromStdString(m_image->info.modality);
  QString s = tr("%1 x %2 x %3   %4 x %5 x %6 mm   %7")
                  .arg(g.size[0])
                  .arg(g.size[1])
                  .arg(g.size[2])
                  .arg(g.spacingMm[0], 0, 'f', 2)
                  .arg(g.spacingMm[1], 0, 'f', 2)
                  .arg(g.spacingMm[2], 0, 'f', 2)
                  .arg(QString::fromStdString(g.orientationCode()));
  if (!modality.isEmpty())
    s += "   " + modality;
  else if (m_isCt)
    s += "   CT";
  if (!name.isEmpty())
    s = name + "   " + s;
  return s;
}

} // namespace panseg::ui
