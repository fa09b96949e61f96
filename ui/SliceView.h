#pragma once
// One 2D slice view (axial, coronal or sagittal) of the ViewerModel, painted with QPainter, with
// orientation letters, slice number and position, W/L, zoom and the DICOM information in the
// corners.
// It shows the model's state and turns mouse/keyboard input into model changes; it keeps no
// state of its own besides the drag in progress.

#include "core/display/SliceGeometry.h"
#include "core/display/ViewTransform.h"

#include <QImage>
#include <QPointF>
#include <QStringList>
#include <QWidget>

#include <QVector>

#include <array>
#include <optional>
#include <vector>

namespace panseg::ui
{
class EditController;
class ViewerModel;

class SliceView : public QWidget
{
  Q_OBJECT
public:
  SliceView(ViewerModel* model, panseg::SliceOrientation orientation, QWidget* parent = nullptr);

  panseg::SliceOrientation orientation() const { return m_orientation; }
  /// Where the current slice lies in this widget (fit, zoom and pan applied).
  panseg::ViewTransform viewTransform() const;
  /// Widget position of a voxel's centre projected on this view.
  QPointF voxelToWidget(const std::array<int64_t, 3>& voxel) const;
  /// Voxel under a widget position (clamped into the image).
  std::array<int64_t, 3> widgetToVoxel(const QPointF& pos) const;
  /// Continuous voxel index under a widget position on the current slice (not clamped).
  std::array<double, 3> widgetToIndex(const QPointF& pos) const { return widgetToContinuousIndex(pos); }
  /// The lengths this view writes beside its rulers (those on its current slice), in order.
  QStringList rulerLabels() const;

  /// Mask editing: with an editing tool active, a plain left drag paints/erases or draws a
  /// lasso through `edit` (nullptr: view only).
  void setEditController(EditController* edit);

  /// The DICOM information overlay: patient name and ID, study date and description (top
  /// right, under the slice position) and the series (top left, under the slice number), from
  /// core/display/ImageAnnotations. On by default; View > Show DICOM Information toggles it.
  void setInfoVisible(bool visible);
  bool infoVisible() const { return m_infoVisible; }

  QSize sizeHint() const override { return {400, 400}; }
  QSize minimumSizeHint() const override { return {120, 120}; }

signals:
  /// Text for the status bar about the voxel under the mouse (empty when it left the view).
  void hoverTextChanged(const QString& text);
  void maximizeRequested();

protected:
  void paintEvent(QPaintEvent* e) override;
  void mousePressEvent(QMouseEvent* e) override;
  void mouseMoveEvent(QMouseEvent* e) override;
  void mouseReleaseEvent(QMouseEvent* e) override;
  void mouseDoubleClickEvent(QMouseEvent* e) override;
  void wheelEvent(QWheelEvent* e) override;
  void keyPressEvent(QKeyEvent* e) override;
  void leaveEvent(QEvent* e) override;
  void focusInEvent(QFocusEvent* e) override;
  void focusOutEvent(QFocusEvent* e) override;

private:
  enum class Drag
  {
    None,
    Cursor,
    WindowLevel,
    Pan,
    Zoom,
    Paint,
    Lasso,
    Ruler,
    Box
  };
  void invalidate();
  void moveCursorTo(const QPointF& pos);
  void drawOverlayText(QPainter& p);
  void reportHover(const QPointF& pos);
  void drawBrushCursor(QPainter& p);
  void drawGrowSeeds(QPainter& p);
  void drawPromptBox(QPainter& p);
  void drawRulers(QPainter& p);
  std::array<double, 3> rulerPoint(const QPointF& pos) const;
  std::array<double, 3> widgetToContinuousIndex(const QPointF& pos) const;

  ViewerModel* m_model;
  panseg::SliceOrientation m_orientation;
  QImage m_cache; // the rendered slice at slice resolution, until the model changes
  bool m_cacheValid = false;
  int m_cachedSlice = -1;

  std::array<int64_t, 3> m_boxStart{};
  Drag m_drag = Drag::None;
  QPointF m_dragStart;
  QPointF m_dragLast;
  double m_dragStartWidth = 0, m_dragStartLevel = 0;
  std::optional<QPointF> m_hover;
  EditController* m_edit = nullptr;
  bool m_infoVisible = true;
  QVector<QPointF> m_lassoWidget;                 // lasso outline in widget pixels
  std::vector<std::array<double, 3>> m_lassoIndex; // the same points as voxel indices
  int m_ruler = -1;                                 // the ruler being dragged
};

} // namespace panseg::ui
