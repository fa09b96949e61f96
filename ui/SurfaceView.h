#pragma once
// 3D view: the mask's label surfaces (label colours, lightly smoothed) in patient space, the
// image's bounding box, the linked cursor and an orientation cube. Surfaces are extracted on a
// worker thread so large masks don't freeze the window.

#include "ui/VtkRenderWidget.h"

#include <QFuture>
#include <QFutureWatcher>

#include <array>

#include <vtkSmartPointer.h>

class vtkActor;
class vtkMatrix4x4;
class vtkOrientationMarkerWidget;
class vtkPolyData;
class vtkPolyDataMapper;
class vtkRenderer;
class vtkTextActor;

namespace panseg
{
struct LabelMask;
}

namespace panseg::ui
{
class ViewerModel;

/// Label surfaces of a mask in its index*spacing frame (place them with patientMatrix()).
/// Point scalars carry the label value. Empty polydata for an empty mask. Thread-safe.
vtkSmartPointer<vtkPolyData> buildLabelSurface(const panseg::LabelMask& mask);

class SurfaceView : public VtkRenderWidget
{
  Q_OBJECT
public:
  explicit SurfaceView(ViewerModel* model, QWidget* parent = nullptr);
  ~SurfaceView() override;

  /// Anterior view (patient's left on screen right, superior up) fitted to the surfaces, or to
  /// the image box when there are none.
  void resetCamera();
  /// Blocks until a pending surface extraction has finished and is shown (tests, screenshots).
  void waitForSurface();
  bool isBuilding() const { return m_building; }
  /// Number of surface triangles shown (0 without a mask).
  qint64 surfaceCellCount() const;
  /// Where the camera looks (patient LPS, mm). Showing another mask (or image) reframes the
  /// camera on its surface once it is built; edits of the shown mask keep the camera.
  std::array<double, 3> cameraFocalPoint() const;

signals:
  void surfaceReady();
  void maximizeRequested();

protected:
  void mouseDoubleClickEvent(QMouseEvent* e) override;

private:
  void onImageChanged();
  void onMaskChanged();
  void startBuild();
  void applyBuild();
  void updateCursorMarker();
  void updateCaption();

  ViewerModel* m_model;
  vtkSmartPointer<vtkRenderer> m_renderer;
  vtkSmartPointer<vtkMatrix4x4> m_patientMatrix;
  vtkSmartPointer<vtkPolyDataMapper> m_surfaceMapper;
  vtkSmartPointer<vtkActor> m_surfaceActor;
  vtkSmartPointer<vtkActor> m_boxActor;
  vtkSmartPointer<vtkActor> m_cursorActor;
  vtkSmartPointer<vtkTextActor> m_caption;
  vtkSmartPointer<vtkOrientationMarkerWidget> m_orientationMarker;
  QFuture<vtkSmartPointer<vtkPolyData>> m_future;
  QFutureWatcher<vtkSmartPointer<vtkPolyData>> m_watcher;
  quint64 m_buildRevision = 0;
  bool m_building = false;
  bool m_resetCameraAfterBuild = false;
};

} // namespace panseg::ui
