#pragma once
// A VTK render window inside a Qt 6 QOpenGLWidget. Debian's VTK Qt module is built against
// Qt 5, so the workstation hosts vtkGenericOpenGLRenderWindow itself: VTK renders into its own
// framebuffer with Qt's context current, and paintGL copies the result into Qt's framebuffer.
// Mouse input goes to a vtkGenericRenderWindowInteractor (trackball camera); keys stay with Qt.

#include <QOpenGLWidget>
#include <QSurfaceFormat>

#include <vtkSmartPointer.h>

class vtkGenericOpenGLRenderWindow;
class vtkGenericRenderWindowInteractor;
class vtkObject;

namespace panseg::ui
{
class VtkRenderWidget : public QOpenGLWidget
{
  Q_OBJECT
public:
  explicit VtkRenderWidget(QWidget* parent = nullptr);
  ~VtkRenderWidget() override;

  vtkGenericOpenGLRenderWindow* renderWindow() const;
  vtkGenericRenderWindowInteractor* interactor() const;

  /// The surface format VTK needs (OpenGL 3.2 core, 8-bit RGBA, depth). Must be the default
  /// format before QApplication exists (MainWindow::configurePlatform() does it).
  static QSurfaceFormat vtkSurfaceFormat();

  /// Asks for a new VTK render at the next paint (after the scene changed).
  void requestRender();

protected:
  void initializeGL() override;
  void resizeGL(int w, int h) override;
  void paintGL() override;

  void mousePressEvent(QMouseEvent* e) override;
  void mouseReleaseEvent(QMouseEvent* e) override;
  void mouseMoveEvent(QMouseEvent* e) override;
  void wheelEvent(QWheelEvent* e) override;
  void enterEvent(QEnterEvent* e) override;
  void leaveEvent(QEvent* e) override;

private:
  void handleVtkEvent(vtkObject* caller, unsigned long eventId, void* callData);
  void passPointer(const QPointF& pos, Qt::KeyboardModifiers mods, bool doubleClick = false);
  void releaseVtkResources();

  vtkSmartPointer<vtkGenericOpenGLRenderWindow> m_window;
  vtkSmartPointer<vtkGenericRenderWindowInteractor> m_interactor;
  bool m_glReady = false;
  bool m_renderPending = true;
  bool m_painting = false;
};

} // namespace panseg::ui
