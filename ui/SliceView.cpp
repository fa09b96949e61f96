#include "ui/SliceView.h"

#include "core/display/ImageAnnotations.h"
#include "ui/EditController.h"
#include "ui/ViewerModel.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

namespace panseg::ui
{
namespace
{
const QColor kBackground(0, 0, 0);
const QColor kCrosshair(90, 200, 255, 200);
const QColor kLetters(255, 214, 140);
const QColor kText(225, 228, 232);
const QColor kDimText(150, 156, 165);
const QColor kFocusFrame(40, 140, 255);
constexpr double kCrosshairGapPx = 7.0;
constexpr int kPageStep = 5;

void shadowedText(QPainter& p, const QRectF& box, int flags, const QString& text, const QColor& c)
{
  p.setPen(QColor(0, 0, 0, 220));
  p.drawText(box.translated(1, 1), flags, text);
  p.setPen(c);
  p.drawText(box, flags, text);
}

// "S 94.3 mm": where the slice lies along the view's normal, in patient terms.
QString slicePositionText(const SliceMapper& m, const Vec3& cursorMm)
{
  static const char pos[3] = {'L', 'P', 'S'};
  static const char neg[3] = {'R', 'A', 'I'};
  const Geometry& g = m.geometry();
  const Vec3 n{g.direction[0 * 3 + m.sliceAxis()], g.direction[1 * 3 + m.sliceAxis()],
               g.direction[2 * 3 + m.sliceAxis()]};
  int axis = 0;
  for (int k = 1; k < 3; ++k)
    if (std::abs(n[k]) > std::abs(n[axis]))
      axis = k;
  const double v = cursorMm[axis];
  return QStringLiteral("%1 %2 mm").arg(v >= 0 ? pos[axis] : neg[axis]).arg(std::abs(v), 0, 'f', 1);
}
} // namespace

SliceView::SliceView(ViewerModel* model, SliceOrientation orientation, QWidget* parent)
    : QWidget(parent), m_model(model), m_orientation(orientation)
{
  setFocusPolicy(Qt::StrongFocus);
  setMouseTracking(true);
  setAttribute(Qt::WA_OpaquePaintEvent);
  setCursor(Qt::CrossCursor);
  setObjectName(QString("sliceView%1").arg(sliceOrientationName(orientation)));

  auto refresh = [this]
  {
    invalidate();
    update();
  };
  connect(m_model, &ViewerModel::imageChanged, this, refresh);
  connect(m_model, &ViewerModel::maskChanged, this, refresh);
  connect(m_model, &ViewerModel::maskPainted, this, refresh);
  connect(m_model, &ViewerModel::maskEdited, this, refresh);
  connect(m_model, &ViewerModel::windowLevelChanged, this, refresh);
  connect(m_model, &ViewerModel::overlayChanged, this, refresh);
  connect(m_model, &ViewerModel::labelTableChanged, this, refresh);
  connect(m_model, &ViewerModel::cursorChanged, this,
          [this]
          {
            // Moving the cursor within this view's slice only moves the crosshair.
            if (m_model->sliceIndex(m_orientation) != m_cachedSlice)
              invalidate();
            update();
          });
  connect(m_model, &ViewerModel::rulersChanged, this, qOverload<>(&SliceView::update));
  connect(m_model, &ViewerModel::viewStateChanged, this,
          [this](SliceOrientation o)
          {
            if (o == m_orientation)
              update();
          });
}

void SliceView::setEditController(EditController* edit)
{
  m_edit = edit;
  if (m_edit)
    connect(m_edit, &EditController::settingsChanged, this, qOverload<>(&SliceView::update));
}

std::array<double, 3> SliceView::widgetToContinuousIndex(const QPointF& pos) const
{
  const SliceMapper m = m_model->mapper(m_orientation);
  const ScreenPoint s = viewTransform().screenToSlice(pos.x(), pos.y());
  return m.sliceToIndex(s.x, s.y, m_model->sliceIndex(m_orientation));
}

// Grow-from-seeds scribbles on this slice: green foreground, magenta background (the scribble's
// centre line; its width is the brush's).
void SliceView::drawGrowSeeds(QPainter& p)
{
  if (!m_edit)
    return;
  const SliceMapper m = m_model->mapper(m_orientation);
  const auto seeds = m_edit->growSeedsOnSlice(m.sliceAxis(), m_model->sliceIndex(m_orientation));
  if (seeds.empty())
    return;
  const ScreenRect r = viewTransform().sliceRect();
  const double px = std::max(2.0, r.width / std::max(1.0, static_cast<double>(m.width())));
  p.setRenderHint(QPainter::Antialiasing, true);
  p.setPen(Qt::NoPen);
  for (const auto& s : seeds)
  {
    p.setBrush(s.second ? QColor(60, 230, 90) : QColor(240, 60, 200));
    p.drawEllipse(voxelToWidget(s.first), px * 0.6, px * 0.6);
  }
}

// The box prompt, where it crosses this view's slice: a dashed cyan rectangle around its voxels.
void SliceView::drawPromptBox(QPainter& p)
{
  if (!m_edit || !m_edit->hasPromptBox())
    return;
  const edit::Box b = m_edit->promptBox();
  const SliceMapper m = m_model->mapper(m_orientation);
  const int axis = m.sliceAxis();
  const int64_t slice = m_model->sliceIndex(m_orientation);
  if (slice < b.lo[axis] || slice >= b.hi[axis])
    return;
  std::array<int64_t, 3> lo = b.lo, hi{b.hi[0] - 1, b.hi[1] - 1, b.hi[2] - 1};
  lo[axis] = hi[axis] = slice;
  const QPointF p0 = voxelToWidget(lo), p1 = voxelToWidget(hi);
  // half a voxel outward on each side, whatever the display's flips
  const ScreenRect r = viewTransform().sliceRect();
  const double hx = 0.5 * r.width / std::max(1.0, double(m.width())), hy = 0.5 * r.height / std::max(1.0, double(m.height()));
  const QRectF rect = QRectF(p0, p1).normalized().adjusted(-hx, -hy, hx, hy);
  p.setRenderHint(QPainter::Antialiasing, false);
  p.setBrush(Qt::NoBrush);
  p.setPen(QPen(QColor(80, 220, 255), 1.5, Qt::DashLine));
  p.drawRect(rect);
}

void SliceView::drawBrushCursor(QPainter& p)
{
  if (!m_edit || !m_hover || m_drag == Drag::Lasso ||
      (m_edit->tool() != EditController::Tool::Paint && m_edit->tool() != EditController::Tool::Erase &&
       m_edit->tool() != EditController::Tool::GrowSeeds))
    return;
  // True size: the brush's extent in mm through the view's pixels per mm, centred on the voxel
  // the stamp would be centred on.
  const SliceMapper m = m_model->mapper(m_orientation);
  const ScreenRect r = viewTransform().sliceRect();
  const double pxPerMmX = r.width / (m.width() * m.pixelWidthMm());
  const double pxPerMmY = r.height / (m.height() * m.pixelHeightMm());
  const QPointF c = voxelToWidget(widgetToVoxel(*m_hover));
  const double rx = m_edit->brushRadiusMm() * pxPerMmX, ry = m_edit->brushRadiusMm() * pxPerMmY;
  p.setRenderHint(QPainter::Antialiasing, true);
  p.setBrush(Qt::NoBrush);
  const QColor colour = m_edit->tool() == EditController::Tool::Erase       ? QColor(255, 120, 120)
                        : m_edit->tool() == EditController::Tool::GrowSeeds ? QColor(90, 230, 120)
                                                                            : QColor(255, 235, 90);
  p.setPen(QPen(colour, 1.2,
                m_edit->brush3D() && m_edit->tool() != EditController::Tool::GrowSeeds ? Qt::DashLine
                                                                                      : Qt::SolidLine));
  const QRectF box(c.x() - rx, c.y() - ry, 2 * rx, 2 * ry);
  if (m_edit->brushShape() == edit::BrushShape::Round)
    p.drawEllipse(box);
  else
    p.drawRect(box);
}

// Continuous index of a ruler end: the point under the mouse on the current slice, kept within
// the image's voxel boxes.
std::array<double, 3> SliceView::rulerPoint(const QPointF& pos) const
{
  std::array<double, 3> idx = widgetToContinuousIndex(pos);
  const Size3 n = m_model->geometry().size;
  for (int k = 0; k < 3; ++k)
    idx[k] = std::clamp(idx[k], -0.5, n[k] - 0.5);
  return idx;
}

QStringList SliceView::rulerLabels() const
{
  QStringList labels;
  const int slice = m_model->sliceIndex(m_orientation);
  for (const Ruler& r : m_model->rulers())
    if (r.orientation == m_orientation && r.slice == slice)
      labels << ViewerModel::rulerText(r.lengthMm);
  return labels;
}

void SliceView::drawRulers(QPainter& p)
{
  const int slice = m_model->sliceIndex(m_orientation);
  const SliceMapper m = m_model->mapper(m_orientation);
  const ViewTransform t = viewTransform();
  auto toWidget = [&](const Vec3& idx)
  {
    const Vec3 s = m.indexToSlice(idx);
    const ScreenPoint sp = t.sliceToScreen(s[0], s[1]);
    return QPointF(sp.x, sp.y);
  };
  const QColor line(150, 255, 90); // lime: apart from the cyan crosshair and amber label 1
  QFont f = font();
  f.setPixelSize(13);
  f.setBold(true);
  p.setFont(f);
  const QFontMetricsF fm(f);
  p.setRenderHint(QPainter::Antialiasing, true);
  for (const Ruler& r : m_model->rulers())
  {
    if (r.orientation != m_orientation || r.slice != slice)
      continue;
    const QPointF a = toWidget(r.a), b = toWidget(r.b);
    QPointF d = b - a;
    const double len = std::hypot(d.x(), d.y());
    const QPointF normal = len > 0 ? QPointF(-d.y() / len, d.x() / len) : QPointF(0, 1);
    const QPointF tick = normal * 5.0;
    for (const auto& [colour, penWidth] : {std::pair{QColor(0, 0, 0, 200), 3.5}, std::pair{line, 1.5}})
    {
      p.setPen(QPen(colour, penWidth, Qt::SolidLine, Qt::RoundCap));
      p.drawLine(a, b);
      p.drawLine(a - tick, a + tick);
      p.drawLine(b - tick, b + tick);
    }
    // The length beside the end the drag finished at, pushed away from the line.
    const QString text = ViewerModel::rulerText(r.lengthMm);
    const QSizeF size = fm.size(Qt::TextSingleLine, text);
    const QPointF dir = len > 0 ? d / len : QPointF(1, 0);
    QPointF anchor = b + dir * 8.0;
    QRectF box(anchor.x() - (dir.x() < 0 ? size.width() : 0), anchor.y() - size.height() / 2, size.width(),
               size.height());
    box.moveLeft(std::clamp(box.left(), 2.0, std::max(2.0, width() - size.width() - 2.0)));
    box.moveTop(std::clamp(box.top(), 2.0, std::max(2.0, height() - size.height() - 2.0)));
    shadowedText(p, box, Qt::AlignLeft | Qt::AlignVCenter, text, line);
  }
}

void SliceView::invalidate()
{
  m_cacheValid = false;
}

ViewTransform SliceView::viewTransform() const
{
  const SliceMapper m = m_model->mapper(m_orientation);
  const ViewState s = m_model->viewState(m_orientation);
  ViewTransform t;
  t.viewWidthPx = width();
  t.viewHeightPx = height();
  t.sliceWidth = m.width();
  t.sliceHeight = m.height();
  t.pixelWidthMm = m.pixelWidthMm();
  t.pixelHeightMm = m.pixelHeightMm();
  t.zoom = s.zoom;
  t.panXPx = s.panXPx;
  t.panYPx = s.panYPx;
  return t;
}

QPointF SliceView::voxelToWidget(const std::array<int64_t, 3>& voxel) const
{
  const Vec3 s = m_model->mapper(m_orientation)
                     .indexToSlice({static_cast<double>(voxel[0]), static_cast<double>(voxel[1]),
                                    static_cast<double>(voxel[2])});
  const ScreenPoint p = viewTransform().sliceToScreen(s[0], s[1]);
  return {p.x, p.y};
}

std::array<int64_t, 3> SliceView::widgetToVoxel(const QPointF& pos) const
{
  const SliceMapper m = m_model->mapper(m_orientation);
  const ScreenPoint s = viewTransform().screenToSlice(pos.x(), pos.y());
  const double col = std::clamp(std::round(s.x), 0.0, std::max(0.0, m.width() - 1.0));
  const double row = std::clamp(std::round(s.y), 0.0, std::max(0.0, m.height() - 1.0));
  const Vec3 idx = m.sliceToIndex(col, row, m_model->sliceIndex(m_orientation));
  return {std::llround(idx[0]), std::llround(idx[1]), std::llround(idx[2])};
}

// ---- painting -------------------------------------------------------------------------------
void SliceView::paintEvent(QPaintEvent*)
{
  QPainter p(this);
  p.fillRect(rect(), kBackground);
  if (!m_model->hasImage())
  {
    QFont f = font();
    f.setPixelSize(13);
    p.setFont(f);
    shadowedText(p, rect().adjusted(8, 6, -8, -6), Qt::AlignLeft | Qt::AlignTop,
                 tr(sliceOrientationName(m_orientation)), kDimText);
    shadowedText(p, rect(), Qt::AlignCenter, tr("Drop an image here\nor use File > Open Image"),
                 kDimText);
  }
  else
  {
    if (!m_cacheValid)
    {
      m_cache = m_model->renderSlice(m_orientation);
      m_cachedSlice = m_model->sliceIndex(m_orientation);
      m_cacheValid = true;
    }
    const ScreenRect r = viewTransform().sliceRect();
    // Nearest neighbour: every voxel stays a sharp rectangle, as in ITK-SNAP.
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);
    p.drawImage(QRectF(r.left, r.top, r.width, r.height), m_cache);

    const QPointF c = voxelToWidget(m_model->cursor());
    p.setRenderHint(QPainter::Antialiasing, false);
    p.setPen(QPen(kCrosshair, 1));
    const double w = width(), h = height();
    p.drawLine(QPointF(0, c.y()), QPointF(std::max(0.0, c.x() - kCrosshairGapPx), c.y()));
    p.drawLine(QPointF(std::min(w, c.x() + kCrosshairGapPx), c.y()), QPointF(w, c.y()));
    p.drawLine(QPointF(c.x(), 0), QPointF(c.x(), std::max(0.0, c.y() - kCrosshairGapPx)));
    p.drawLine(QPointF(c.x(), std::min(h, c.y() + kCrosshairGapPx)), QPointF(c.x(), h));

    drawOverlayText(p);
    drawGrowSeeds(p);
    drawPromptBox(p);
    drawBrushCursor(p);
    drawRulers(p);
    if (m_lassoWidget.size() > 1)
    {
      p.setRenderHint(QPainter::Antialiasing, true);
      p.setPen(QPen(QColor(255, 235, 90), 1.5));
      p.drawPolyline(m_lassoWidget.constData(), static_cast<int>(m_lassoWidget.size()));
    }
  }
  if (hasFocus())
  {
    p.setPen(QPen(kFocusFrame, 2));
    p.setBrush(Qt::NoBrush);
    p.drawRect(QRectF(rect()).adjusted(1, 1, -1, -1));
  }
}

void SliceView::drawOverlayText(QPainter& p)
{
  const SliceMapper m = m_model->mapper(m_orientation);
  const QRectF area = QRectF(rect()).adjusted(8, 6, -8, -6);

  // Orientation letters at the middle of each edge.
  QFont big = font();
  big.setPixelSize(16);
  big.setBold(true);
  p.setFont(big);
  const EdgeLetters e = m.edgeLetters();
  shadowedText(p, area, Qt::AlignLeft | Qt::AlignVCenter, QString::fromStdString(e.left), kLetters);
  shadowedText(p, area, Qt::AlignRight | Qt::AlignVCenter, QString::fromStdString(e.right),
               kLetters);
  shadowedText(p, area, Qt::AlignHCenter | Qt::AlignTop, QString::fromStdString(e.top), kLetters);
  shadowedText(p, area, Qt::AlignHCenter | Qt::AlignBottom, QString::fromStdString(e.bottom),
               kLetters);

  QFont title = font();
  title.setPixelSize(13);
  title.setBold(true);
  QFont small = font();
  small.setPixelSize(12);
  const QFontMetrics fm(small);
  const double line = fm.height();

  p.setFont(title);
  shadowedText(p, area, Qt::AlignLeft | Qt::AlignTop, tr(sliceOrientationName(m_orientation)),
               kText);
  p.setFont(small);
  const QRectF below = area.adjusted(0, line + 2, 0, 0);
  shadowedText(p, below, Qt::AlignLeft | Qt::AlignTop,
               tr("Slice %1 / %2").arg(m_model->sliceIndex(m_orientation) + 1).arg(m.sliceCount()),
               kText);

  const VoxelIndex cur = m_model->cursor();
  const Vec3 mm = m_model->geometry().indexToPhysical(
      {static_cast<double>(cur[0]), static_cast<double>(cur[1]), static_cast<double>(cur[2])});
  shadowedText(p, area, Qt::AlignRight | Qt::AlignTop, slicePositionText(m, mm), kDimText);

  if (m_infoVisible)
  {
    // Patient and study under the slice position, the series under the slice number; each
    // line elided to 45 % of the view so the corners never meet.
    const ImageAnnotations a = imageAnnotations(m_model->image().info);
    const int maxWidth = std::max(40, int(area.width() * 0.45));
    auto lines = [&](const QRectF& from, Qt::Alignment align, const std::vector<std::string>& texts)
    {
      QRectF r = from;
      for (const std::string& t : texts)
      {
        if (t.empty())
          continue;
        shadowedText(p, r, align, fm.elidedText(QString::fromStdString(t), Qt::ElideRight, maxWidth),
                     kText);
        r.adjust(0, line, 0, 0);
      }
    };
    lines(area.adjusted(0, line + 2, 0, 0), Qt::AlignRight | Qt::AlignTop,
          {a.patientName, a.patientId, a.study});
    lines(below.adjusted(0, line, 0, 0), Qt::AlignLeft | Qt::AlignTop, {a.series});
  }

  const WindowLevel wl = m_model->windowLevel();
  QString wlText = tr("W %1  L %2")
                       .arg(wl.width, 0, 'f', wl.width < 10 ? 2 : 0)
                       .arg(wl.level, 0, 'f', wl.width < 10 ? 2 : 0);
  if (m_model->windowLevelMode())
    wlText += tr("  [W/L mode]");
  shadowedText(p, area, Qt::AlignLeft | Qt::AlignBottom, wlText, kText);

  const ViewState s = m_model->viewState(m_orientation);
  if (std::abs(s.zoom - 1.0) > 1e-3)
    shadowedText(p, area, Qt::AlignRight | Qt::AlignBottom,
                 tr("Zoom %1%").arg(std::lround(s.zoom * 100)), kDimText);
}

void SliceView::setInfoVisible(bool visible)
{
  if (visible == m_infoVisible)
    return;
  m_infoVisible = visible;
  update();
}

// ---- input ----------------------------------------------------------------------------------
void SliceView::moveCursorTo(const QPointF& pos)
{
  if (m_model->hasImage())
    m_model->setCursor(widgetToVoxel(pos));
}

void SliceView::reportHover(const QPointF& pos)
{
  if (!m_model->hasImage())
    return;
  const ScreenRect r = viewTransform().sliceRect();
  const bool inside = pos.x() >= r.left && pos.y() >= r.top && pos.x() < r.left + r.width &&
                      pos.y() < r.top + r.height;
  m_hover = pos;
  emit hoverTextChanged(inside ? m_model->describeVoxel(widgetToVoxel(pos)) : QString());
}

void SliceView::mousePressEvent(QMouseEvent* e)
{
  setFocus(Qt::MouseFocusReason);
  m_dragStart = m_dragLast = e->position();
  switch (e->button())
  {
  case Qt::LeftButton:
    if (m_edit && m_edit->tool() == EditController::Tool::Ruler && m_model->hasImage() &&
        !e->modifiers().testFlag(Qt::ShiftModifier))
    {
      m_drag = Drag::Ruler;
      const std::array<double, 3> p = rulerPoint(e->position());
      m_ruler = m_model->addRuler(m_orientation, p, p);
    }
    else if (m_edit && m_edit->isEditingTool() && m_model->hasImage() &&
        !e->modifiers().testFlag(Qt::ShiftModifier))
    {
      if (m_edit->tool() == EditController::Tool::Box)
      {
        m_drag = Drag::Box;
        m_boxStart = widgetToVoxel(e->position());
        m_edit->dragBox(m_orientation, m_boxStart, m_boxStart, false);
      }
      else if (m_edit->tool() == EditController::Tool::Lasso || m_edit->tool() == EditController::Tool::Scissors)
      {
        m_drag = Drag::Lasso;
        m_lassoWidget = {e->position()};
        m_lassoIndex = {widgetToContinuousIndex(e->position())};
      }
      else
      {
        m_drag = Drag::Paint;
        m_edit->pressAt(m_orientation, widgetToVoxel(e->position()),
                        e->modifiers().testFlag(Qt::ControlModifier));
      }
    }
    else if (e->modifiers().testFlag(Qt::ShiftModifier) || m_model->windowLevelMode())
    {
      m_drag = Drag::WindowLevel;
      m_dragStartWidth = m_model->windowLevel().width;
      m_dragStartLevel = m_model->windowLevel().level;
    }
    else
    {
      m_drag = Drag::Cursor;
      moveCursorTo(e->position());
    }
    break;
  case Qt::MiddleButton:
    m_drag = Drag::Pan;
    setCursor(Qt::ClosedHandCursor);
    break;
  case Qt::RightButton:
    m_drag = Drag::Zoom;
    setCursor(Qt::SizeVerCursor);
    break;
  default:
    break;
  }
  e->accept();
}

void SliceView::mouseMoveEvent(QMouseEvent* e)
{
  const QPointF pos = e->position();
  switch (m_drag)
  {
  case Drag::Cursor:
    moveCursorTo(pos);
    break;
  case Drag::Paint:
    m_edit->dragTo(m_orientation, widgetToVoxel(pos));
    if (m_edit->tool() == EditController::Tool::GrowSeeds)
      update(); // the scribble is drawn as it is painted
    break;
  case Drag::Ruler:
    m_model->setRulerEnd(m_ruler, rulerPoint(pos));
    break;
  case Drag::Box:
    m_edit->dragBox(m_orientation, m_boxStart, widgetToVoxel(pos), false);
    break;
  case Drag::Lasso:
    m_lassoWidget.push_back(pos);
    m_lassoIndex.push_back(widgetToContinuousIndex(pos));
    update();
    break;
  case Drag::WindowLevel:
  {
    const QPointF d = pos - m_dragStart;
    m_model->setWindowLevel(
        m_model->draggedWindowLevel({m_dragStartWidth, m_dragStartLevel}, d.x(), d.y()));
    break;
  }
  case Drag::Pan:
  {
    ViewState s = m_model->viewState(m_orientation);
    s.panXPx += pos.x() - m_dragLast.x();
    s.panYPx += pos.y() - m_dragLast.y();
    m_model->setViewState(m_orientation, s);
    break;
  }
  case Drag::Zoom:
  {
    ViewTransform t = viewTransform();
    t.zoomAbout(std::exp(-(pos.y() - m_dragLast.y()) * 0.01), m_dragStart.x(), m_dragStart.y());
    m_model->setViewState(m_orientation, {t.zoom, t.panXPx, t.panYPx});
    break;
  }
  case Drag::None:
    break;
  }
  m_dragLast = pos;
  reportHover(pos);
  if (m_edit && m_edit->isEditingTool())
    update(); // the brush cursor follows the mouse
  e->accept();
}

void SliceView::mouseReleaseEvent(QMouseEvent* e)
{
  if (m_drag == Drag::Paint && m_edit)
    m_edit->release();
  if (m_drag == Drag::Box && m_edit)
  {
    m_drag = Drag::None;
    m_edit->dragBox(m_orientation, m_boxStart, widgetToVoxel(e->position()), true);
  }
  if (m_drag == Drag::Ruler)
  {
    m_model->setRulerEnd(m_ruler, rulerPoint(e->position()));
    // A click without a drag leaves no ruler.
    if ((e->position() - m_dragStart).manhattanLength() < 3)
      m_model->removeRuler(m_ruler);
    m_ruler = -1;
  }
  if (m_drag == Drag::Lasso && m_edit)
  {
    const std::vector<std::array<double, 3>> points = std::move(m_lassoIndex);
    m_lassoIndex.clear();
    m_lassoWidget.clear();
    m_drag = Drag::None;
    const bool ctrl = e->modifiers().testFlag(Qt::ControlModifier);
    if (points.size() >= 3 && m_edit->tool() == EditController::Tool::Scissors)
      m_edit->cutLasso(m_orientation, points, !ctrl);
    else if (points.size() >= 3)
      m_edit->fillLasso(m_orientation, points, ctrl);
    update();
  }
  m_drag = Drag::None;
  setCursor(Qt::CrossCursor);
  e->accept();
}

void SliceView::mouseDoubleClickEvent(QMouseEvent* e)
{
  if (e->button() == Qt::LeftButton)
    emit maximizeRequested();
  e->accept();
}

void SliceView::wheelEvent(QWheelEvent* e)
{
  const int steps = e->angleDelta().y() / 120 != 0 ? e->angleDelta().y() / 120
                    : e->angleDelta().y() > 0      ? 1
                    : e->angleDelta().y() < 0      ? -1
                                                   : 0;
  if (steps == 0 || !m_model->hasImage())
    return;
  if (e->modifiers().testFlag(Qt::ControlModifier))
  {
    ViewTransform t = viewTransform();
    t.zoomAbout(std::pow(1.15, steps), e->position().x(), e->position().y());
    m_model->setViewState(m_orientation, {t.zoom, t.panXPx, t.panYPx});
  }
  else
  {
    m_model->stepSlices(m_orientation, steps);
  }
  reportHover(e->position());
  e->accept();
}

void SliceView::keyPressEvent(QKeyEvent* e)
{
  if (!m_model->hasImage())
  {
    QWidget::keyPressEvent(e);
    return;
  }
  switch (e->key())
  {
  case Qt::Key_Up:
    m_model->stepSlices(m_orientation, 1);
    break;
  case Qt::Key_Down:
    m_model->stepSlices(m_orientation, -1);
    break;
  case Qt::Key_PageUp:
    m_model->stepSlices(m_orientation, kPageStep);
    break;
  case Qt::Key_PageDown:
    m_model->stepSlices(m_orientation, -kPageStep);
    break;
  case Qt::Key_Plus:
  case Qt::Key_Equal:
  case Qt::Key_Minus:
    if (m_edit && m_edit->isEditingTool())
    {
      // ITK-SNAP: +/- change the brush size while a paint tool is active.
      m_edit->stepBrushSize(e->key() == Qt::Key_Minus ? -1 : 1);
      break;
    }
  {
    ViewState s = m_model->viewState(m_orientation);
    s.zoom *= e->key() == Qt::Key_Minus ? 1 / 1.15 : 1.15;
    m_model->setViewState(m_orientation, s);
    break;
  }
  default:
    QWidget::keyPressEvent(e);
    return;
  }
  if (m_hover)
    reportHover(*m_hover);
  e->accept();
}

void SliceView::leaveEvent(QEvent*)
{
  m_hover.reset();
  emit hoverTextChanged(QString());
  if (m_edit)
    update();
}

void SliceView::focusInEvent(QFocusEvent*)
{
  update();
}
void SliceView::focusOutEvent(QFocusEvent*)
{
  update();
}

} // namespace panseg::ui
