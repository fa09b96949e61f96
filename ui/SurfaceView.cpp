#include "ui/SurfaceView.h"

#include "core/display/LabelColors.h"
#include "ui/ViewerModel.h"

#include <QMouseEvent>
#include <QtConcurrent/QtConcurrentRun>

#include <vtkActor.h>
#include <vtkAnnotatedCubeActor.h>
#include <vtkCamera.h>
#include <vtkDiscreteFlyingEdges3D.h>
#include <vtkGenericOpenGLRenderWindow.h>
#include <vtkGenericRenderWindowInteractor.h>
#include <vtkImageData.h>
#include <vtkLookupTable.h>
#include <vtkMatrix4x4.h>
#include <vtkNew.h>
#include <vtkOrientationMarkerWidget.h>
#include <vtkOutlineSource.h>
#include <vtkPolyData.h>
#include <vtkPolyDataMapper.h>
#include <vtkPolyDataNormals.h>
#include <vtkProperty.h>
#include <vtkRenderer.h>
#include <vtkSphereSource.h>
#include <vtkTextActor.h>
#include <vtkTextProperty.h>
#include <vtkWindowedSincPolyDataFilter.h>

#include <algorithm>
#include <array>

namespace panseg::ui
{
namespace
{
// index*spacing -> LPS mm. VTK 9.1's contour filters ignore vtkImageData's direction matrix,
// so the direction and origin go on the actors instead.
void setPatientMatrix(vtkMatrix4x4* m, const Geometry& g)
{
  m->Identity();
  for (int r = 0; r < 3; ++r)
  {
    for (int c = 0; c < 3; ++c)
      m->SetElement(r, c, g.direction[static_cast<size_t>(r * 3 + c)]);
    m->SetElement(r, 3, g.originMm[static_cast<size_t>(r)]);
  }
}

vtkSmartPointer<vtkLookupTable> labelLookupTable(const LabelColorTable& colors)
{
  auto lut = vtkSmartPointer<vtkLookupTable>::New();
  lut->SetNumberOfTableValues(256);
  lut->SetTableRange(0, 255);
  for (int l = 0; l < 256; ++l)
  {
    const Rgb c = colors.color(l);
    lut->SetTableValue(l, c.r / 255.0, c.g / 255.0, c.b / 255.0, 1.0);
  }
  lut->Build();
  return lut;
}
} // namespace

vtkSmartPointer<vtkPolyData> buildLabelSurface(const LabelMask& mask)
{
  auto empty = vtkSmartPointer<vtkPolyData>::New();
  const Size3 n = mask.geometry.size;
  if (mask.voxels.empty())
    return empty;
  // Only the labelled box (plus one empty voxel around it, so surfaces close at its edges)
  // goes to VTK: a pancreas is a few percent of an abdominal CT.
  std::array<int64_t, 3> lo{n[0], n[1], n[2]}, hi{-1, -1, -1};
  std::array<bool, 256> present{};
  for (int64_t z = 0; z < n[2]; ++z)
    for (int64_t y = 0; y < n[1]; ++y)
    {
      const uint8_t* row = &mask.voxels[mask.offset(0, y, z)];
      for (int64_t x = 0; x < n[0]; ++x)
        if (row[x])
        {
          present[row[x]] = true;
          lo = {std::min(lo[0], x), std::min(lo[1], y), std::min(lo[2], z)};
          hi = {std::max(hi[0], x), std::max(hi[1], y), std::max(hi[2], z)};
        }
    }
  if (hi[0] < 0)
    return empty;

  const std::array<int64_t, 3> dims{hi[0] - lo[0] + 3, hi[1] - lo[1] + 3, hi[2] - lo[2] + 3};
  vtkNew<vtkImageData> labels;
  labels->SetDimensions(static_cast<int>(dims[0]), static_cast<int>(dims[1]),
                        static_cast<int>(dims[2]));
  labels->SetSpacing(mask.geometry.spacingMm.data());
  labels->SetOrigin((lo[0] - 1) * mask.geometry.spacingMm[0],
                    (lo[1] - 1) * mask.geometry.spacingMm[1],
                    (lo[2] - 1) * mask.geometry.spacingMm[2]);
  labels->AllocateScalars(VTK_UNSIGNED_CHAR, 1);
  auto* dst = static_cast<uint8_t*>(labels->GetScalarPointer());
  std::fill_n(dst, dims[0] * dims[1] * dims[2], uint8_t{0});
  for (int64_t z = lo[2]; z <= hi[2]; ++z)
    for (int64_t y = lo[1]; y <= hi[1]; ++y)
    {
      const uint8_t* src = &mask.voxels[mask.offset(lo[0], y, z)];
      uint8_t* out = dst + ((z - lo[2] + 1) * dims[1] + (y - lo[1] + 1)) * dims[0] + 1;
      std::copy_n(src, hi[0] - lo[0] + 1, out);
    }

  vtkNew<vtkDiscreteFlyingEdges3D> contour;
  contour->SetInputData(labels);
  int k = 0;
  for (int l = 1; l < 256; ++l)
    if (present[static_cast<size_t>(l)])
      contour->SetValue(k++, l);
  contour->ComputeScalarsOn();
  contour->ComputeNormalsOff();
  contour->ComputeGradientsOff();

  // Light smoothing: removes the voxel staircase (5 mm slices included) while windowed-sinc
  // keeps the volume, so small structures do not shrink.
  vtkNew<vtkWindowedSincPolyDataFilter> smooth;
  smooth->SetInputConnection(contour->GetOutputPort());
  smooth->SetNumberOfIterations(20);
  smooth->SetPassBand(0.02);
  smooth->NonManifoldSmoothingOn();
  smooth->NormalizeCoordinatesOn();
  smooth->BoundarySmoothingOff();
  smooth->FeatureEdgeSmoothingOff();

  vtkNew<vtkPolyDataNormals> normals;
  normals->SetInputConnection(smooth->GetOutputPort());
  normals->SplittingOff();
  normals->ConsistencyOn();
  normals->Update();

  auto out = vtkSmartPointer<vtkPolyData>::New();
  out->ShallowCopy(normals->GetOutput());
  return out;
}

SurfaceView::SurfaceView(ViewerModel* model, QWidget* parent)
    : VtkRenderWidget(parent), m_model(model)
{
  setMinimumSize(120, 120);
  m_renderer = vtkSmartPointer<vtkRenderer>::New();
  m_renderer->SetBackground(0.03, 0.035, 0.045);
  m_renderer->SetBackground2(0.16, 0.18, 0.22);
  m_renderer->GradientBackgroundOn();
  renderWindow()->AddRenderer(m_renderer);

  m_patientMatrix = vtkSmartPointer<vtkMatrix4x4>::New();

  m_surfaceMapper = vtkSmartPointer<vtkPolyDataMapper>::New();
  m_surfaceMapper->SetLookupTable(labelLookupTable(m_model->labelTable().colors()));
  m_surfaceMapper->SetScalarRange(0, 255);
  m_surfaceMapper->SetScalarModeToUsePointData();
  m_surfaceMapper->SetColorModeToMapScalars(); // label values are indices, not colours
  m_surfaceMapper->ScalarVisibilityOn();
  m_surfaceMapper->SetInputData(vtkSmartPointer<vtkPolyData>::New());
  m_surfaceActor = vtkSmartPointer<vtkActor>::New();
  m_surfaceActor->SetMapper(m_surfaceMapper);
  m_surfaceActor->SetUserMatrix(m_patientMatrix);
  m_surfaceActor->GetProperty()->SetSpecular(0.25);
  m_surfaceActor->GetProperty()->SetSpecularPower(20);
  m_surfaceActor->GetProperty()->SetDiffuse(0.85);
  m_surfaceActor->GetProperty()->SetAmbient(0.12);
  m_renderer->AddActor(m_surfaceActor);

  m_boxActor = vtkSmartPointer<vtkActor>::New();
  m_boxActor->SetUserMatrix(m_patientMatrix);
  m_boxActor->GetProperty()->SetColor(0.45, 0.5, 0.58);
  m_boxActor->GetProperty()->LightingOff();
  m_boxActor->VisibilityOff();
  m_renderer->AddActor(m_boxActor);

  m_cursorActor = vtkSmartPointer<vtkActor>::New();
  m_cursorActor->GetProperty()->SetColor(0.35, 0.75, 1.0);
  m_cursorActor->VisibilityOff();
  m_renderer->AddActor(m_cursorActor);

  m_caption = vtkSmartPointer<vtkTextActor>::New();
  m_caption->GetPositionCoordinate()->SetCoordinateSystemToNormalizedViewport();
  m_caption->SetPosition(0.015, 0.985);
  vtkTextProperty* tp = m_caption->GetTextProperty();
  tp->SetFontFamilyToArial();
  tp->SetFontSize(13);
  tp->SetColor(0.85, 0.87, 0.9);
  tp->SetVerticalJustificationToTop();
  tp->SetJustificationToLeft();
  tp->ShadowOn();
  m_renderer->AddViewProp(m_caption);

  // Orientation cube in the lower-left corner, turning with the camera. World is LPS.
  vtkNew<vtkAnnotatedCubeActor> cube;
  cube->SetXPlusFaceText("L");
  cube->SetXMinusFaceText("R");
  cube->SetYPlusFaceText("P");
  cube->SetYMinusFaceText("A");
  cube->SetZPlusFaceText("S");
  cube->SetZMinusFaceText("I");
  cube->SetFaceTextScale(0.6);
  cube->GetCubeProperty()->SetColor(0.22, 0.25, 0.3);
  cube->GetTextEdgesProperty()->SetColor(0.6, 0.6, 0.6);
  cube->GetTextEdgesProperty()->SetLineWidth(1);
  for (vtkProperty* p : {cube->GetXPlusFaceProperty(), cube->GetXMinusFaceProperty()})
    p->SetColor(1.0, 0.55, 0.45);
  for (vtkProperty* p : {cube->GetYPlusFaceProperty(), cube->GetYMinusFaceProperty()})
    p->SetColor(0.55, 0.9, 0.55);
  for (vtkProperty* p : {cube->GetZPlusFaceProperty(), cube->GetZMinusFaceProperty()})
    p->SetColor(0.55, 0.75, 1.0);
  m_orientationMarker = vtkSmartPointer<vtkOrientationMarkerWidget>::New();
  m_orientationMarker->SetOrientationMarker(cube);
  m_orientationMarker->SetInteractor(interactor());
  m_orientationMarker->SetDefaultRenderer(m_renderer);
  m_orientationMarker->SetViewport(0.0, 0.0, 0.14, 0.14);
  m_orientationMarker->SetEnabled(1);
  m_orientationMarker->InteractiveOff();

  connect(&m_watcher, &QFutureWatcherBase::finished, this, &SurfaceView::applyBuild);
  connect(m_model, &ViewerModel::imageChanged, this, &SurfaceView::onImageChanged);
  connect(m_model, &ViewerModel::maskChanged, this, &SurfaceView::onMaskChanged);
  // After an edit the surface is rebuilt from the committed snapshot; the camera stays. A build
  // in progress restarts itself when it finishes (the data revision moved on). An edit also
  // cancels a pending reframe: the first stroke on an image without a mask starts an empty mask
  // (a maskChanged), and the camera must not then jump to frame that one stroke.
  connect(m_model, &ViewerModel::maskEdited, this,
          [this]
          {
            m_resetCameraAfterBuild = false;
            if (!m_building && m_model->hasMask())
              startBuild();
          });
  connect(m_model, &ViewerModel::cursorChanged, this, &SurfaceView::updateCursorMarker);
  // The label table's colours: only the lookup table changes, no new surfaces.
  connect(m_model, &ViewerModel::labelTableChanged, this,
          [this]
          {
            m_surfaceMapper->SetLookupTable(labelLookupTable(m_model->labelTable().colors()));
            requestRender();
          });
  connect(m_model, &ViewerModel::overlayChanged, this,
          [this]
          {
            m_surfaceActor->SetVisibility(m_model->overlayStyle().visible);
            requestRender();
          });
  onImageChanged();
}

SurfaceView::~SurfaceView()
{
  if (m_future.isValid())
    m_future.waitForFinished(); // the worker holds only shared data, but finish before VTK goes
  m_orientationMarker->SetEnabled(0);
}

void SurfaceView::onImageChanged()
{
  const bool has = m_model->hasImage();
  if (has)
  {
    const Geometry& g = m_model->geometry();
    setPatientMatrix(m_patientMatrix, g);
    vtkNew<vtkOutlineSource> box;
    box->SetBounds(-0.5 * g.spacingMm[0], (g.size[0] - 0.5) * g.spacingMm[0], -0.5 * g.spacingMm[1],
                   (g.size[1] - 0.5) * g.spacingMm[1], -0.5 * g.spacingMm[2],
                   (g.size[2] - 0.5) * g.spacingMm[2]);
    box->Update();
    vtkNew<vtkPolyDataMapper> boxMapper;
    boxMapper->SetInputData(box->GetOutput());
    m_boxActor->SetMapper(boxMapper);
    const double r = 1.2 * std::max({g.spacingMm[0], g.spacingMm[1], g.spacingMm[2], 1.5});
    vtkNew<vtkSphereSource> sphere;
    sphere->SetRadius(r);
    sphere->SetThetaResolution(16);
    sphere->SetPhiResolution(12);
    sphere->Update();
    vtkNew<vtkPolyDataMapper> sphereMapper;
    sphereMapper->SetInputData(sphere->GetOutput());
    m_cursorActor->SetMapper(sphereMapper);
  }
  m_boxActor->SetVisibility(has);
  m_cursorActor->SetVisibility(has);
  updateCursorMarker();
  onMaskChanged();
  resetCamera();
}

void SurfaceView::onMaskChanged()
{
  if (!m_model->hasMask())
  {
    m_surfaceMapper->SetInputData(vtkSmartPointer<vtkPolyData>::New());
    m_building = false;
    updateCaption();
    requestRender();
    return;
  }
  m_resetCameraAfterBuild = true;
  startBuild();
}

void SurfaceView::startBuild()
{
  std::shared_ptr<const LabelMask> mask = m_model->maskShared();
  m_buildRevision = m_model->dataRevision();
  m_building = true;
  m_future = QtConcurrent::run([mask] { return buildLabelSurface(*mask); });
  m_watcher.setFuture(m_future);
  updateCaption();
  requestRender();
}

void SurfaceView::applyBuild()
{
  if (!m_building || !m_future.isValid() || !m_future.isFinished())
    return;
  if (m_buildRevision != m_model->dataRevision())
  {
    // The mask changed while this one was being built.
    if (m_model->hasMask())
      startBuild();
    else
      m_building = false;
    return;
  }
  m_building = false;
  m_surfaceMapper->SetInputData(m_future.result());
  m_surfaceActor->SetVisibility(m_model->overlayStyle().visible);
  updateCaption();
  if (m_resetCameraAfterBuild)
  {
    m_resetCameraAfterBuild = false;
    resetCamera();
  }
  requestRender();
  emit surfaceReady();
}

void SurfaceView::waitForSurface()
{
  while (m_building && m_future.isValid())
  {
    m_future.waitForFinished();
    applyBuild();
  }
}

std::array<double, 3> SurfaceView::cameraFocalPoint() const
{
  double f[3] = { 0, 0, 0 };
  m_renderer->GetActiveCamera()->GetFocalPoint(f);
  return { f[0], f[1], f[2] };
}

qint64 SurfaceView::surfaceCellCount() const
{
  auto* poly = vtkPolyData::SafeDownCast(m_surfaceMapper->GetInput());
  return poly ? poly->GetNumberOfCells() : 0;
}

void SurfaceView::updateCursorMarker()
{
  if (!m_model->hasImage())
    return;
  const VoxelIndex c = m_model->cursor();
  const Vec3 p = m_model->geometry().indexToPhysical(
      {static_cast<double>(c[0]), static_cast<double>(c[1]), static_cast<double>(c[2])});
  m_cursorActor->SetPosition(p[0], p[1], p[2]);
  requestRender();
}

void SurfaceView::updateCaption()
{
  QString text = tr("3D");
  if (!m_model->hasImage())
    text += "\n" + tr("No image");
  else if (!m_model->hasMask())
    text += "\n" + tr("No mask loaded");
  else if (m_building)
    text += "\n" + tr("Extracting surface...");
  else if (surfaceCellCount() == 0)
    text += "\n" + tr("Mask is empty");
  m_caption->SetInput(text.toUtf8().constData());
}

void SurfaceView::resetCamera()
{
  vtkCamera* cam = m_renderer->GetActiveCamera();
  double bounds[6];
  const bool haveSurface = surfaceCellCount() > 0;
  if (haveSurface)
    m_surfaceActor->GetBounds(bounds);
  else if (m_model->hasImage())
    m_boxActor->GetBounds(bounds);
  else
  {
    m_renderer->ResetCamera();
    requestRender();
    return;
  }
  const double centre[3] = {(bounds[0] + bounds[1]) / 2, (bounds[2] + bounds[3]) / 2,
                            (bounds[4] + bounds[5]) / 2};
  // Looking from anterior (-y in LPS) toward posterior, head up: the patient's left is on the
  // right of the screen, as in the coronal slice view.
  cam->SetFocalPoint(centre);
  cam->SetPosition(centre[0], centre[1] - 1.0, centre[2]);
  cam->SetViewUp(0, 0, 1);
  m_renderer->ResetCamera(bounds);
  if (haveSurface)
    cam->Zoom(1.15);
  m_renderer->ResetCameraClippingRange();
  requestRender();
}

void SurfaceView::mouseDoubleClickEvent(QMouseEvent* e)
{
  if (e->button() == Qt::LeftButton)
  {
    emit maximizeRequested();
    e->accept();
    return;
  }
  VtkRenderWidget::mouseDoubleClickEvent(e);
}

} // namespace panseg::ui
