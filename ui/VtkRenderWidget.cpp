#include "ui/VtkRenderWidget.h"

#include <QMouseEvent>
#include <QOpenGLContext>
#include <QOpenGLExtraFunctions>
#include <QWheelEvent>

#include <vtkCommand.h>
#include <vtkGenericOpenGLRenderWindow.h>
#include <vtkGenericRenderWindowInteractor.h>
#include <vtkInteractorStyleTrackballCamera.h>
#include <vtkNew.h>
#include <vtkOpenGLFramebufferObject.h>
#include <vtkOpenGLState.h>

namespace panseg::ui
{
VtkRenderWidget::VtkRenderWidget(QWidget* parent) : QOpenGLWidget(parent)
{
  setFocusPolicy(Qt::StrongFocus);
  setMouseTracking(true);
  setUpdateBehavior(QOpenGLWidget::NoPartialUpdate);

  m_window = vtkSmartPointer<vtkGenericOpenGLRenderWindow>::New();
  // paintGL copies VTK's framebuffer into Qt's; VTK must not try to present it itself.
  m_window->SetFrameBlitModeToNoBlit();
  m_window->SetReadyForRendering(false); // no GL context before initializeGL()

  m_interactor = vtkSmartPointer<vtkGenericRenderWindowInteractor>::New();
  m_interactor->SetRenderWindow(m_window);
  vtkNew<vtkInteractorStyleTrackballCamera> style;
  m_interactor->SetInteractorStyle(style);
  m_interactor->Initialize();

  for (unsigned long id : {static_cast<unsigned long>(vtkCommand::WindowMakeCurrentEvent),
                           static_cast<unsigned long>(vtkCommand::WindowIsCurrentEvent),
                           static_cast<unsigned long>(vtkCommand::WindowFrameEvent)})
    m_window->AddObserver(id, this, &VtkRenderWidget::handleVtkEvent);
}

VtkRenderWidget::~VtkRenderWidget()
{
  makeCurrent();
  releaseVtkResources();
  doneCurrent();
}

vtkGenericOpenGLRenderWindow* VtkRenderWidget::renderWindow() const
{
  return m_window;
}
vtkGenericRenderWindowInteractor* VtkRenderWidget::interactor() const
{
  return m_interactor;
}

QSurfaceFormat VtkRenderWidget::vtkSurfaceFormat()
{
  QSurfaceFormat f;
  f.setRenderableType(QSurfaceFormat::OpenGL);
  f.setVersion(3, 2);
  f.setProfile(QSurfaceFormat::CoreProfile);
  f.setSwapBehavior(QSurfaceFormat::DoubleBuffer);
  f.setRedBufferSize(8);
  f.setGreenBufferSize(8);
  f.setBlueBufferSize(8);
  f.setAlphaBufferSize(8);
  f.setDepthBufferSize(8);
  f.setStencilBufferSize(0);
  f.setSamples(0); // multisampling, if any, happens in VTK's own framebuffer
  return f;
}

void VtkRenderWidget::requestRender()
{
  m_renderPending = true;
  update();
}

void VtkRenderWidget::releaseVtkResources()
{
  if (!m_glReady)
    return;
  m_window->Finalize(); // frees VTK's GL objects; the context must be current
  m_window->SetReadyForRendering(false);
  m_glReady = false;
}

void VtkRenderWidget::initializeGL()
{
  // Called again when Qt recreates the context (e.g. re-parenting): VTK starts afresh.
  m_window->SetOwnContext(0);
  vtkOpenGLState* state = m_window->GetState();
  state->Reset();                   // VTK caches GL state and Qt has changed it
  state->vtkglDepthFunc(GL_LEQUAL); // VTK assumes LEQUAL, Qt leaves LESS
  m_window->SetReadyForRendering(true);
  m_window->OpenGLInitContext();
  m_glReady = true;
  m_renderPending = true;
  connect(
      context(), &QOpenGLContext::aboutToBeDestroyed, this,
      [this]
      {
        makeCurrent();
        releaseVtkResources();
        doneCurrent();
      },
      Qt::DirectConnection);
}

void VtkRenderWidget::resizeGL(int w, int h)
{
  const qreal dpr = devicePixelRatioF();
  m_interactor->UpdateSize(qRound(w * dpr), qRound(h * dpr)); // resizes the render window too
  m_window->SetDPI(qRound(72 * dpr));
  m_renderPending = true;
}

void VtkRenderWidget::paintGL()
{
  if (!m_glReady)
    return;
  vtkOpenGLState* state = m_window->GetState();
  state->Reset(); // Qt bound its framebuffer and viewport since VTK last looked
  state->Push();
  state->vtkglDepthFunc(GL_LEQUAL);
  if (m_renderPending && !m_painting)
  {
    m_painting = true;
    m_interactor->Render(); // draws into VTK's offscreen framebuffer
    m_painting = false;
  }
  m_renderPending = false;
  makeCurrent(); // rebinds Qt's framebuffer object as the target

  QOpenGLExtraFunctions* gl = context()->extraFunctions();
  const QSize target = size() * devicePixelRatioF();
  gl->glBindFramebuffer(GL_DRAW_FRAMEBUFFER, defaultFramebufferObject());
  const GLenum colour0 = GL_COLOR_ATTACHMENT0;
  gl->glDrawBuffers(1, &colour0);
  const bool scissor = gl->glIsEnabled(GL_SCISSOR_TEST);
  if (scissor)
  {
    state->vtkglDisable(GL_SCISSOR_TEST);
    gl->glDisable(GL_SCISSOR_TEST);
  }
  const int* source = m_window->GetRenderFramebuffer()->GetLastSize();
  m_window->BlitDisplayFramebuffer(0, 0, 0, source[0], source[1], 0, 0, target.width(),
                                   target.height(), GL_COLOR_BUFFER_BIT, GL_LINEAR);
  // VTK leaves alpha < 1 where the background is; make the result opaque so Qt's
  // compositor does not blend it with whatever lies behind the widget.
  gl->glColorMask(GL_FALSE, GL_FALSE, GL_FALSE, GL_TRUE);
  gl->glViewport(0, 0, target.width(), target.height());
  gl->glClearColor(0, 0, 0, 1);
  gl->glClear(GL_COLOR_BUFFER_BIT);
  gl->glColorMask(GL_TRUE, GL_TRUE, GL_TRUE, GL_TRUE);
  if (scissor)
  {
    state->vtkglEnable(GL_SCISSOR_TEST);
    gl->glEnable(GL_SCISSOR_TEST);
  }
  state->Pop();
}

void VtkRenderWidget::handleVtkEvent(vtkObject*, unsigned long eventId, void* callData)
{
  switch (eventId)
  {
  case vtkCommand::WindowMakeCurrentEvent:
    // Only the context: QOpenGLWidget::makeCurrent() would also rebind Qt's framebuffer
    // behind VTK's state cache while VTK is building its own framebuffers. A widget that was
    // never shown has no context yet (VTK may still ask, e.g. when a widget is disabled).
    if (context() && QOpenGLContext::currentContext() != context())
      context()->makeCurrent(context()->surface());
    break;
  case vtkCommand::WindowIsCurrentEvent:
    *static_cast<bool*>(callData) = context() && QOpenGLContext::currentContext() == context();
    break;
  case vtkCommand::WindowFrameEvent:
    // A render VTK started on its own (camera interaction) finished: show it.
    m_renderPending = false;
    if (!m_painting)
      update();
    break;
  default:
    break;
  }
}

void VtkRenderWidget::passPointer(const QPointF& pos, Qt::KeyboardModifiers mods, bool doubleClick)
{
  const qreal dpr = devicePixelRatioF();
  m_interactor->SetEventInformationFlipY(
      qRound(pos.x() * dpr), qRound(pos.y() * dpr), mods.testFlag(Qt::ControlModifier) ? 1 : 0,
      mods.testFlag(Qt::ShiftModifier) ? 1 : 0, 0, doubleClick ? 1 : 0);
  m_interactor->SetAltKey(mods.testFlag(Qt::AltModifier) ? 1 : 0);
}

void VtkRenderWidget::mousePressEvent(QMouseEvent* e)
{
  passPointer(e->position(), e->modifiers(), e->type() == QEvent::MouseButtonDblClick);
  switch (e->button())
  {
  case Qt::LeftButton:
    m_interactor->InvokeEvent(vtkCommand::LeftButtonPressEvent, e);
    break;
  case Qt::MiddleButton:
    m_interactor->InvokeEvent(vtkCommand::MiddleButtonPressEvent, e);
    break;
  case Qt::RightButton:
    m_interactor->InvokeEvent(vtkCommand::RightButtonPressEvent, e);
    break;
  default:
    break;
  }
  e->accept();
}

void VtkRenderWidget::mouseReleaseEvent(QMouseEvent* e)
{
  passPointer(e->position(), e->modifiers());
  switch (e->button())
  {
  case Qt::LeftButton:
    m_interactor->InvokeEvent(vtkCommand::LeftButtonReleaseEvent, e);
    break;
  case Qt::MiddleButton:
    m_interactor->InvokeEvent(vtkCommand::MiddleButtonReleaseEvent, e);
    break;
  case Qt::RightButton:
    m_interactor->InvokeEvent(vtkCommand::RightButtonReleaseEvent, e);
    break;
  default:
    break;
  }
  e->accept();
}

void VtkRenderWidget::mouseMoveEvent(QMouseEvent* e)
{
  passPointer(e->position(), e->modifiers());
  m_interactor->InvokeEvent(vtkCommand::MouseMoveEvent, e);
  e->accept();
}

void VtkRenderWidget::wheelEvent(QWheelEvent* e)
{
  passPointer(e->position(), e->modifiers());
  const int dy = e->angleDelta().y();
  if (dy != 0)
    m_interactor->InvokeEvent(
        dy > 0 ? vtkCommand::MouseWheelForwardEvent : vtkCommand::MouseWheelBackwardEvent, e);
  e->accept();
}

void VtkRenderWidget::enterEvent(QEnterEvent* e)
{
  passPointer(e->position(), Qt::NoModifier);
  m_interactor->InvokeEvent(vtkCommand::EnterEvent, e);
}

void VtkRenderWidget::leaveEvent(QEvent* e)
{
  m_interactor->InvokeEvent(vtkCommand::LeaveEvent, e);
}

} // namespace panseg::ui
