#include "ui/MainWindow.h"

#include "core/display/LabelPresets.h"
#include "core/Error.h"
#include "core/display/FileRole.h"
#include "core/io/ImageIO.h"
#include "ui/EditController.h"
#include "ui/PropertyBinding.h"
#include "ui/SliceView.h"
#include "ui/SurfaceView.h"
#include "ui/SystemInfoDialog.h"
#include "ui/ViewerModel.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QLabel>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressDialog>
#include <QSettings>
#include <QSlider>
#include <QStatusBar>
#include <QSurfaceFormat>
#include <QToolBar>
#include <QVBoxLayout>
#include <QWindow>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <optional>

namespace panseg::ui
{
namespace
{
constexpr int kMaxRecentFiles = 10;
const char* const kRecentKey = "viewer/recentFiles";
const char* const kInfoKey = "viewer/dicomInfo";

struct LoadOutcome
{
  std::shared_ptr<Image> image;
  std::shared_ptr<LabelMask> mask;
  QString error;
  bool cancelled = false;
};

QString messageOf(const std::exception& e)
{
  const QString m = QString::fromLocal8Bit(e.what());
  return m.isEmpty() ? QObject::tr("unknown error") : m;
}

} // namespace

/// The study database's rule for the acting user without a database: $PANSEG_USER, else the
/// operating-system login name.
QString MainWindow::defaultActingUser()
{
  QString u = qEnvironmentVariable("PANSEG_USER");
  if (u.isEmpty())
    u = qEnvironmentVariable("USER");
  if (u.isEmpty())
    u = qEnvironmentVariable("LOGNAME");
  return u.isEmpty() ? QStringLiteral("unknown") : u;
}

namespace
{

QSettings makeSettings()
{
  // The application normally names itself; fall back to a fixed name so that recent files
  // never end up under "Unknown Organization".
  if (QCoreApplication::organizationName().isEmpty())
    return QSettings(QStringLiteral("PanSeg"), QStringLiteral("PanSeg Workstation"));
  return QSettings();
}

SliceOrientation toOrientation(MainWindow::ViewKind k)
{
  switch (k)
  {
  case MainWindow::ViewKind::Coronal:
    return SliceOrientation::Coronal;
  case MainWindow::ViewKind::Sagittal:
    return SliceOrientation::Sagittal;
  default:
    return SliceOrientation::Axial;
  }
}

bool platformHasOpenGl()
{
  const QString p = QGuiApplication::platformName();
  // Qt 6.4 crashes creating a QOpenGLWidget on 'offscreen'; 'minimal' has no GL either.
  return p != QLatin1String("offscreen") && p != QLatin1String("minimal");
}
} // namespace

struct MainWindow::Job
{
  Request request;
  std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
  QFuture<LoadOutcome> future;
  QFutureWatcher<LoadOutcome> watcher;
};

// ---- construction ----------------------------------------------------------------------------
void MainWindow::configurePlatform()
{
  if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
  {
    // VTK here only speaks GLX: X11 (or XWayland) it is. Without any display there is no
    // window to show; 'offscreen' keeps command-line use working (3D view disabled).
    const bool haveDisplay = qEnvironmentVariableIsSet("DISPLAY");
    qputenv("QT_QPA_PLATFORM", haveDisplay ? "xcb" : "offscreen");
  }
  if (!qEnvironmentVariableIsSet("QT_XCB_GL_INTEGRATION"))
    qputenv("QT_XCB_GL_INTEGRATION", "xcb_glx");
  QSurfaceFormat::setDefaultFormat(VtkRenderWidget::vtkSurfaceFormat());
}

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent), m_model(new ViewerModel(this)), m_user(defaultActingUser())
{
  setObjectName("PanSegMainWindow");
  setAcceptDrops(true);
  resize(1280, 900);
  applyDarkTheme();
  buildViews();
  buildMenus();
  buildToolBar();
  buildEditToolBar();
  buildMeasurements();
  {
    // Earlier versions kept these per operating-system account, where every PanSeg user of a
    // shared login saw them: they are dropped, never shown to anyone.
    QSettings legacy = makeSettings();
    for (const char* key : {kRecentKey, "predict/modelDir", "predict/fast"})
      legacy.remove(QLatin1String(key));
  }
  {
    // Per-user settings and recovery folder for the default user (setActingUser changes them).
    const QString user = m_user;
    m_user.clear();
    setActingUser(user);
  }

  m_hoverLabel = new QLabel(this);
  m_infoLabel = new QLabel(this);
  m_infoLabel->setStyleSheet("color: #9aa3ad;");
  statusBar()->addWidget(m_hoverLabel, 1);
  statusBar()->addPermanentWidget(m_infoLabel);

  connect(m_model, &ViewerModel::imageChanged, this,
          [this]
          {
            setPredictionBlocked(m_predictPolicy && m_model->hasImage() ? m_predictPolicy(m_model->image())
                                                                        : QString());
            updateTitle();
            m_infoLabel->setText(m_model->imageSummary());
          });
  connect(m_model, &ViewerModel::maskChanged, this,
          [this]
          {
            if (!m_model->hasMask())
              m_maskPath.clear();
            updateTitle();
          });
  connect(m_model, &ViewerModel::windowLevelModeChanged, m_windowModeAction, &QAction::setChecked);
  // The readout shows the voxel under the mouse, or the cursor's when the mouse is elsewhere.
  auto cursorReadout = [this]
  {
    if (!m_hoverLabel->property("hovering").toBool())
      m_hoverLabel->setText(m_model->describeVoxel(m_model->cursor()));
  };
  connect(m_model, &ViewerModel::cursorChanged, this, cursorReadout);
  connect(m_model, &ViewerModel::maskChanged, this, cursorReadout);

  updateTitle();
  showStatus(tr("Open an image (Ctrl+O) or drop files on the window"));
  m_views[0]->setFocus();
}

MainWindow::~MainWindow()
{
  if (m_job)
  {
    m_job->cancel->store(true);
    m_job->future.waitForFinished();
  }
  // The views use the model until they are gone (leave/focus events while being destroyed);
  // QObject would delete the model, created first, before them.
  delete takeCentralWidget();
}

void MainWindow::applyDarkTheme()
{
  QPalette pal;
  pal.setColor(QPalette::Window, QColor(36, 38, 42));
  pal.setColor(QPalette::WindowText, QColor(222, 225, 229));
  pal.setColor(QPalette::Base, QColor(26, 28, 31));
  pal.setColor(QPalette::AlternateBase, QColor(40, 43, 47));
  pal.setColor(QPalette::Text, QColor(222, 225, 229));
  pal.setColor(QPalette::Button, QColor(48, 51, 56));
  pal.setColor(QPalette::ButtonText, QColor(222, 225, 229));
  pal.setColor(QPalette::ToolTipBase, QColor(48, 51, 56));
  pal.setColor(QPalette::ToolTipText, QColor(222, 225, 229));
  pal.setColor(QPalette::Highlight, QColor(42, 130, 218));
  pal.setColor(QPalette::HighlightedText, Qt::white);
  pal.setColor(QPalette::Disabled, QPalette::Text, QColor(120, 124, 130));
  pal.setColor(QPalette::Disabled, QPalette::WindowText, QColor(120, 124, 130));
  pal.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(120, 124, 130));
  setPalette(pal);
}

void MainWindow::buildViews()
{
  auto* central = m_viewArea = new QWidget(this);
  central->setObjectName("viewArea");
  central->setAutoFillBackground(true);
  QPalette pal = central->palette();
  pal.setColor(QPalette::Window, QColor(58, 62, 68)); // the thin lines between the views
  central->setPalette(pal);
  m_grid = new QGridLayout(central);
  m_grid->setContentsMargins(0, 0, 0, 0);
  m_grid->setSpacing(2);

  const SliceOrientation orientations[3] = {SliceOrientation::Axial, SliceOrientation::Coronal,
                                            SliceOrientation::Sagittal};
  for (int i = 0; i < 3; ++i)
  {
    m_views[i] = new SliceView(m_model, orientations[i], central);
    connect(m_views[i], &SliceView::hoverTextChanged, this,
            [this](const QString& t)
            {
              m_hoverLabel->setProperty("hovering", !t.isEmpty());
              m_hoverLabel->setText(t.isEmpty() ? m_model->describeVoxel(m_model->cursor()) : t);
            });
    connect(m_views[i], &SliceView::maximizeRequested, this,
            [this, i] { toggleMaximized(static_cast<ViewKind>(i)); });
  }
  if (platformHasOpenGl())
  {
    m_surface = new SurfaceView(m_model, central);
    m_surfaceWidget = m_surface;
    connect(m_surface, &SurfaceView::maximizeRequested, this,
            [this] { toggleMaximized(ViewKind::Surface3D); });
  }
  else
  {
    auto* placeholder = new QLabel(tr("3D view needs an X11 display with OpenGL"), central);
    placeholder->setAlignment(Qt::AlignCenter);
    placeholder->setAutoFillBackground(true);
    QPalette pp = placeholder->palette();
    pp.setColor(QPalette::Window, Qt::black);
    pp.setColor(QPalette::WindowText, QColor(150, 156, 165));
    placeholder->setPalette(pp);
    m_surfaceWidget = placeholder;
  }
  layoutViews();
  // The review banner (e.g. a returned read's comment) sits above the views, where the reader works.
  auto* container = new QWidget(this);
  container->setObjectName("viewContainer");
  auto* column = new QVBoxLayout(container);
  column->setContentsMargins(0, 0, 0, 0);
  column->setSpacing(0);
  m_banner = new QLabel(container);
  m_banner->setObjectName("reviewBanner");
  m_banner->setWordWrap(true);
  m_banner->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_banner->setStyleSheet("QLabel { background: #5a4a12; color: #fff3c4; padding: 6px 10px; font-weight: bold; }");
  m_banner->hide();
  column->addWidget(m_banner);
  column->addWidget(central, 1);
  setCentralWidget(container);
}

void MainWindow::layoutViews()
{
  QWidget* all[4] = {m_views[0], m_views[1], m_views[2], m_surfaceWidget};
  for (QWidget* w : all)
    m_grid->removeWidget(w);
  if (m_maximized < 0)
  {
    // Axial and coronal on top, sagittal and 3D below.
    m_grid->addWidget(all[0], 0, 0);
    m_grid->addWidget(all[1], 0, 1);
    m_grid->addWidget(all[2], 1, 0);
    m_grid->addWidget(all[3], 1, 1);
    for (QWidget* w : all)
      w->show();
    m_grid->setRowStretch(0, 1);
    m_grid->setRowStretch(1, 1);
    m_grid->setColumnStretch(0, 1);
    m_grid->setColumnStretch(1, 1);
  }
  else
  {
    for (int i = 0; i < 4; ++i)
      all[i]->setVisible(i == m_maximized);
    m_grid->addWidget(all[m_maximized], 0, 0, 2, 2);
  }
}

void MainWindow::toggleMaximized(ViewKind kind)
{
  const int k = static_cast<int>(kind);
  m_maximized = m_maximized == k ? -1 : k;
  layoutViews();
}

void MainWindow::buildMenus()
{
  QMenu* file = menuBar()->addMenu(tr("&File"));
  QAction* openImage = m_openImageAction = file->addAction(
      tr("Open &Image..."), this,
      [this]
      {
        const QString path = QFileDialog::getOpenFileName(
            this, tr("Open Image"), QFileInfo(m_imagePath).path(),
            tr("Images (*.nii *.nii.gz *.nrrd *.nhdr *.mha *.mhd *.dcm);;All files (*)"));
        if (!path.isEmpty())
          this->openImage(path);
      });
  openImage->setShortcut(QKeySequence::Open);
  QAction* openDicom =
      file->addAction(tr("Open &DICOM Folder..."), this,
                      [this]
                      {
                        const QString dir = QFileDialog::getExistingDirectory(
                            this, tr("Open DICOM Series Folder"), QFileInfo(m_imagePath).path());
                        if (!dir.isEmpty())
                          this->openImage(dir);
                      });
  openDicom->setShortcut(QKeySequence(tr("Ctrl+D")));
  QAction* openMask = m_openMaskAction = file->addAction(
      tr("Open &Mask..."), this,
      [this]
      {
        const QString path = QFileDialog::getOpenFileName(
            this, tr("Open Mask"), QFileInfo(m_imagePath).path(),
            tr("Label maps (*.nii *.nii.gz *.nrrd *.nhdr *.mha *.mhd);;DICOM SEG (*.dcm);;All files (*)"));
        if (!path.isEmpty())
          this->openMask(path);
      });
  openMask->setShortcut(QKeySequence(tr("Ctrl+Shift+O")));
  m_saveMaskAsAction = file->addAction(tr("Save Mask &As..."), this, [this] { saveMaskAsInteractive(); });
  m_saveMaskAsAction->setObjectName(QStringLiteral("saveMaskAs"));
  m_saveMaskAsAction->setShortcut(QKeySequence(tr("Ctrl+Alt+S")));
  m_recentMenu = file->addMenu(tr("&Recent Files"));
  rebuildRecentMenu();
  file->addSeparator();
  file->addAction(tr("Import &Model..."), this, [this] { showModelImportDialog(); })
      ->setObjectName(QStringLiteral("importModel"));
  file->addSeparator();
  QAction* shot =
      file->addAction(tr("&Screenshot..."), this,
                      [this]
                      {
                        const QString path = QFileDialog::getSaveFileName(
                            this, tr("Save Screenshot"), "panseg-screenshot.png",
                            tr("PNG image (*.png);;JPEG image (*.jpg)"));
                        if (!path.isEmpty() && !saveScreenshot(path))
                          showError(tr("Screenshot"), tr("Could not write %1").arg(path));
                      });
  shot->setShortcut(QKeySequence(tr("Ctrl+Shift+S")));
  file->addSeparator();
  QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
  quit->setShortcut(QKeySequence::Quit);

  QMenu* view = m_viewMenu = menuBar()->addMenu(tr("&View"));
  m_presetMenu = view->addMenu(tr("Window &Presets"));
  m_presetGroup = new QActionGroup(this);
  m_presetGroup->setExclusive(true);
  // One checkable action per preset of the image's modality (Ctrl+1..9), the active one checked.
  couple(m_presetMenu, m_presetGroup,
         PropertyModel<QString>{ [this] { return m_model->activePresetName(); },
                                 [this](const QString& name) { m_model->applyPreset(name); } },
         [this] { return m_model->presetNames(); },
         [](QAction* a, int i)
         {
           if (i < 9)
             a->setShortcut(QKeySequence(Qt::CTRL | static_cast<Qt::Key>(Qt::Key_1 + i)));
         },
         m_model, &ViewerModel::windowLevelChanged);
  m_windowModeAction = view->addAction(tr("&Window/Level Mode (left drag)"));
  m_windowModeAction->setCheckable(true);
  m_windowModeAction->setShortcut(QKeySequence(Qt::Key_W));
  connect(m_windowModeAction, &QAction::toggled, m_model, &ViewerModel::setWindowLevelMode);
  view->addSeparator();

  m_overlayAction = view->addAction(tr("Show &Mask Overlay"));
  m_overlayAction->setCheckable(true);
  m_overlayAction->setChecked(true);
  m_overlayAction->setShortcut(QKeySequence(Qt::Key_M));
  couple(m_overlayAction,
         PropertyModel<bool>{ [this] { return m_model->overlayStyle().visible; },
                              [this](bool on) { m_model->setOverlayVisible(on); } },
         m_model, &ViewerModel::overlayChanged);
  m_outlineAction = view->addAction(tr("&Outline Only"));
  m_outlineAction->setCheckable(true);
  m_outlineAction->setShortcut(QKeySequence(Qt::Key_O));
  couple(m_outlineAction,
         PropertyModel<bool>{ [this] { return m_model->overlayStyle().mode == OverlayMode::Outline; },
                              [this](bool on) { m_model->setOverlayMode(on ? OverlayMode::Outline : OverlayMode::Fill); } },
         m_model, &ViewerModel::overlayChanged);
  QMenu* opacity = view->addMenu(tr("Overlay O&pacity"));
  for (int pct : {25, 50, 75, 100})
    opacity->addAction(tr("%1%").arg(pct), this,
                       [this, pct] { m_model->setOverlayOpacity(pct / 100.0); });
  opacity->addSeparator();
  QAction* more = opacity->addAction(
      tr("More Opaque"), this,
      [this] { m_model->setOverlayOpacity(m_model->overlayStyle().opacity + 0.1); });
  more->setShortcut(QKeySequence(Qt::Key_BracketRight));
  QAction* less = opacity->addAction(
      tr("More Transparent"), this,
      [this] { m_model->setOverlayOpacity(m_model->overlayStyle().opacity - 0.1); });
  less->setShortcut(QKeySequence(Qt::Key_BracketLeft));
  view->addSeparator();

  // Patient, study and series in the corners of the slice views; remembered per PanSeg user.
  m_infoAction = view->addAction(tr("Show &DICOM Information"));
  m_infoAction->setObjectName("dicomInfoAction");
  m_infoAction->setCheckable(true);
  m_infoAction->setChecked(true);
  m_infoAction->setShortcut(QKeySequence(tr("Ctrl+Shift+I")));
  connect(m_infoAction, &QAction::toggled, this,
          [this](bool on)
          {
            for (SliceView* v : m_views)
              v->setInfoVisible(on);
            makeSettings().setValue(userSettingsKey(kInfoKey), on);
          });

  QAction* maximize = view->addAction(tr("Maximize &Active View"), this,
                                      [this]
                                      {
                                        for (int i = 0; i < 3; ++i)
                                          if (m_views[i]->hasFocus())
                                          {
                                            toggleMaximized(static_cast<ViewKind>(i));
                                            return;
                                          }
                                        if (m_surfaceWidget->hasFocus())
                                          toggleMaximized(ViewKind::Surface3D);
                                        else if (m_maximized >= 0)
                                          toggleMaximized(static_cast<ViewKind>(m_maximized));
                                      });
  maximize->setShortcut(QKeySequence(Qt::Key_F));
  QAction* reset = view->addAction(tr("&Reset Views"), this,
                                   [this]
                                   {
                                     m_model->resetViews();
                                     if (m_surface)
                                       m_surface->resetCamera();
                                   });
  reset->setShortcut(QKeySequence(Qt::Key_R));
  view->addSeparator();
  buildCaptureActions(view);

  buildSegmentationMenu();
  buildEditMenu();

  buildHelpMenu();

  for (QMenu* m : menuBar()->findChildren<QMenu*>())
    m->setPalette(palette());
}

void MainWindow::buildHelpMenu()
{
  QMenu* help = m_helpMenu = menuBar()->addMenu(tr("&Help"));
  help->setObjectName("helpMenu");
  help->addAction(tr("Mouse and &Keyboard..."), this,
                  [this]
                  {
                    auto* box = new QMessageBox(
                        QMessageBox::NoIcon, tr("Viewer Controls"),
                        tr("<table cellspacing=4>"
                           "<tr><td><b>Left click / drag</b></td><td>move the linked "
                           "cursor (all views follow)</td></tr>"
                           "<tr><td><b>Shift + left drag</b></td><td>window/level "
                           "(right: wider, down: darker)</td></tr>"
                           "<tr><td><b>W</b></td><td>W/L mode: plain left drag adjusts "
                           "window/level</td></tr>"
                           "<tr><td><b>Wheel, Up/Down</b></td><td>next/previous slice"
                           "</td></tr>"
                           "<tr><td><b>PageUp/PageDown</b></td><td>5 slices</td></tr>"
                           "<tr><td><b>Ctrl + wheel, right drag, +/-</b></td><td>zoom"
                           "</td></tr>"
                           "<tr><td><b>Middle drag</b></td><td>pan</td></tr>"
                           "<tr><td><b>Double click, F</b></td><td>maximise view / "
                           "back to 2x2</td></tr>"
                           "<tr><td><b>M / O / [ ]</b></td><td>overlay on/off, outline, "
                           "opacity</td></tr>"
                           "<tr><td><b>Ctrl+1..5</b></td><td>window presets</td></tr>"
                           "<tr><td><b>R</b></td><td>reset zoom, pan and 3D camera</td>"
                           "</tr>"
                           "<tr><td><b>3D: left / middle / right drag, wheel</b></td>"
                           "<td>rotate / pan / zoom</td></tr>"
                           "<tr><td><b>N / B / E / P</b></td><td>editing: navigate, paintbrush, "
                           "eraser, lasso fill (Ctrl at release clears)</td></tr>"
                           "<tr><td><b>+ / -, D, T, I</b></td><td>while editing: brush size, "
                           "3D brush, threshold paint, fill between slices</td></tr>"
                           "<tr><td><b>Ctrl+Z / Ctrl+Y</b></td><td>undo / redo an edit</td></tr>"
                           "</table>"),
                        QMessageBox::Close, this);
                    box->setAttribute(Qt::WA_DeleteOnClose);
                    box->open();
                  });

  // The prediction worker's and the trainer's LibTorch, CUDA and a smoke pass (`panseg doctor`).
  QAction* systemInfo = help->addAction(tr("System &Information..."), this,
                                        [this]
                                        {
                                          auto* dialog = new SystemInfoDialog(this);
                                          dialog->setAttribute(Qt::WA_DeleteOnClose);
                                          dialog->open();
                                        });
  systemInfo->setObjectName("systemInfoAction");

  help->addSeparator();
  QAction* about = help->addAction(tr("&About PanSeg Workstation..."), this,
                  [this]
                  {
                    const QString version = QCoreApplication::applicationVersion();
                    auto* box = new QMessageBox(
                        QMessageBox::Information, tr("About PanSeg Workstation"),
                        tr("<h3>PanSeg Workstation %1</h3>"
                           "<p>Pancreas segmentation on CT and MRI: review, editing, reader studies, "
                           "volumes, fine-tuning (PanSegNet, PNet-MSA).</p>"
                           "<p><b>Research use only. Not a medical device.</b> Not for diagnosis or "
                           "treatment decisions.</p>"
                           "<p>Licence: the terms of this build are set by its distributor (the "
                           "source tree ships no licence file yet). Libraries keep their own: Qt 6 "
                           "(LGPL v3), VTK, ITK and DCMTK (BSD-style), LibTorch (BSD-style, worker "
                           "processes only).</p>"
                           "<p>Signed in as <b>%2</b>.</p>")
                            .arg(version.isEmpty() ? tr("(development build)") : version.toHtmlEscaped(),
                                 m_user.toHtmlEscaped()),
                        QMessageBox::Close, this);
                    box->setObjectName("aboutBox");
                    box->setAttribute(Qt::WA_DeleteOnClose);
                    box->open();
                  });
  about->setObjectName("aboutAction");
  about->setMenuRole(QAction::AboutRole);
  // Menus added later (the workstation's Study menu, ...) go before Help.
  menuBar()->installEventFilter(this);
}

bool MainWindow::eventFilter(QObject* watched, QEvent* event)
{
  if (event->type() == QEvent::MouseButtonPress)
  {
    for (int i = 0; i < 3; ++i)
      if (watched == m_views[i])
        m_activeView = i;
    if (watched == m_surfaceWidget)
      m_activeView = int(ViewKind::Surface3D);
  }
  if (watched == menuBar() && event->type() == QEvent::ActionAdded && m_helpMenu)
  {
    const QList<QAction*> actions = menuBar()->actions();
    QAction* help = m_helpMenu->menuAction();
    if (!actions.isEmpty() && actions.last() != help)
    {
      // Re-appended after the event (removing inside the event handler confuses QMenuBar).
      QMetaObject::invokeMethod(
          this,
          [this, help]
          {
            if (menuBar()->actions().isEmpty() || menuBar()->actions().last() == help)
              return;
            menuBar()->removeAction(help);
            menuBar()->addAction(help);
          },
          Qt::QueuedConnection);
    }
  }
  return QMainWindow::eventFilter(watched, event);
}

void MainWindow::buildToolBar()
{
  QToolBar* bar = addToolBar(tr("Viewer"));
  bar->setObjectName("viewerToolBar");
  bar->setMovable(false);
  bar->addAction(m_openImageAction);
  bar->addAction(m_openMaskAction);
  bar->addSeparator();
  bar->addWidget(new QLabel(tr(" Window "), bar));
  m_presetCombo = new QComboBox(bar);
  m_presetCombo->setMinimumContentsLength(16);
  m_presetCombo->setObjectName("presetCombo");
  // The presets of the image's modality, the active one or "Custom W L" (ui/PropertyBinding.h).
  couple(m_presetCombo,
         PropertyModel<QString>{ [this]
                                 {
                                   const QString active = m_model->activePresetName();
                                   const WindowLevel wl = m_model->windowLevel();
                                   return active.isEmpty() ? tr("Custom W %1 L %2")
                                                                 .arg(wl.width, 0, 'f', 0)
                                                                 .arg(wl.level, 0, 'f', 0)
                                                           : active;
                                 },
                                 [this](const QString& name)
                                 {
                                   if (m_model->presetNames().contains(name))
                                     m_model->applyPreset(name);
                                 },
                                 [this] { return m_model->hasImage(); } },
         [this] { return m_model->presetNames(); }, m_model, &ViewerModel::windowLevelChanged);
  bar->addWidget(m_presetCombo);
  bar->addSeparator();
  m_overlayAction->setIconText(tr("Overlay"));
  m_outlineAction->setIconText(tr("Outline"));
  m_windowModeAction->setIconText(tr("W/L Mode"));
  m_openImageAction->setIconText(tr("Open Image"));
  m_openMaskAction->setIconText(tr("Open Mask"));
  bar->addAction(m_overlayAction);
  bar->addAction(m_outlineAction);
  bar->addWidget(new QLabel(tr(" Opacity "), bar));
  m_opacitySlider = new QSlider(Qt::Horizontal, bar);
  m_opacitySlider->setObjectName("opacitySlider");
  m_opacitySlider->setRange(0, 100);
  m_opacitySlider->setFixedWidth(120);
  couple(m_opacitySlider,
         PropertyModel<int>{ [this] { return static_cast<int>(std::lround(m_model->overlayStyle().opacity * 100)); },
                             [this](int v) { m_model->setOverlayOpacity(v / 100.0); },
                             [this] { return m_model->overlayStyle().mode == OverlayMode::Fill; } },
         m_model, &ViewerModel::overlayChanged);
  bar->addWidget(m_opacitySlider);
  bar->addSeparator();
  bar->addAction(m_windowModeAction);
}

void MainWindow::updateTitle()
{
  QString t = tr("PanSeg Workstation");
  if (!m_documentTitle.isEmpty())
    t += QStringLiteral(" - ") + m_documentTitle;
  else
  {
    if (!m_imagePath.isEmpty())
      t += QStringLiteral(" - ") + QFileInfo(m_imagePath).fileName();
    if (!m_maskPath.isEmpty() && m_model->hasMask())
      t += QStringLiteral(" + ") + QFileInfo(m_maskPath).fileName();
  }
  if (m_edit && m_edit->isModified())
    t += tr(" [edited]");
  setWindowTitle(t);
}

// ---- data ------------------------------------------------------------------------------------
ViewerModel* MainWindow::model()
{
  return m_model;
}

SliceView* MainWindow::sliceView(ViewKind kind) const
{
  return kind == ViewKind::Surface3D ? nullptr : m_views[static_cast<int>(kind)];
}

SurfaceView* MainWindow::surfaceView() const
{
  return m_surface;
}

void MainWindow::setImage(Image image)
{
  if (image.info.sourcePath.empty())
    m_imagePath.clear();
  else
    m_imagePath = QString::fromStdString(image.info.sourcePath);
  m_maskPath.clear();
  m_documentTitle.clear(); // the caller names a database series again after this
  setReviewBanner({});
  m_model->setImage(std::move(image));
  m_hoverLabel->setText(m_model->describeVoxel(m_model->cursor()));
}

void MainWindow::setMask(LabelMask mask)
{
  const QString path = QString::fromStdString(mask.sourcePath);
  QString error;
  if (!m_model->setMask(std::move(mask), &error))
  {
    showError(tr("Mask refused"), error);
    return;
  }
  m_maskPath = path;
  updateTitle();
  m_hoverLabel->setText(m_model->describeVoxel(m_model->cursor()));
}

void MainWindow::setSliceIndex(ViewKind kind, int index)
{
  if (kind != ViewKind::Surface3D)
    m_model->setSliceIndex(toOrientation(kind), index);
}

bool MainWindow::loadImageBlocking(const QString& path, QString* error)
{
  try
  {
    Image image = readImage(path.toStdString());
    if (image.info.sourcePath.empty())
      image.info.sourcePath = path.toStdString();
    setImage(std::move(image));
    addRecentFile(path, false);
    return true;
  }
  catch (const std::exception& e)
  {
    m_lastError = tr("Could not open %1: %2").arg(path, messageOf(e));
  }
  if (error)
    *error = m_lastError;
  return false;
}

bool MainWindow::loadMaskBlocking(const QString& path, QString* error)
{
  QString message;
  if (!m_model->hasImage())
  {
    message = tr("Open an image before a mask.");
  }
  else
  {
    try
    {
      LabelMask mask = readMaskFor(path.toStdString(), m_model->geometry());
      mask.sourcePath = path.toStdString();
      message = maskRefusal(mask);
      // A recognisable label set gets its preset's names (TotalSegmentator, MSD; LabelPresets.h).
      const LabelTable labels = labelTableForValues(mask.labels());
      if (message.isEmpty() && m_model->setMask(std::move(mask), &message))
      {
        m_model->setLabelTable(labels);
        m_maskPath = path;
        updateTitle();
        addRecentFile(path, true);
        return true;
      }
    }
    catch (const std::exception& e)
    {
      message = messageOf(e);
    }
  }
  m_lastError = tr("Could not open mask %1: %2").arg(path, message);
  if (error)
    *error = m_lastError;
  return false;
}

bool MainWindow::openImage(const QString& path)
{
  if (path.isEmpty() || !confirmUnsavedEdits(tr("opening another image")))
    return false;
  enqueue(LoadKind::Image, path);
  return true;
}

bool MainWindow::openMask(const QString& path)
{
  if (path.isEmpty())
    return false;
  bool imageComing = m_model->hasImage() || (m_job && m_job->request.kind != LoadKind::Mask);
  for (const Request& r : m_queue)
    imageComing = imageComing || r.kind != LoadKind::Mask;
  if (!imageComing)
  {
    showError(tr("Open Mask"), tr("Open an image before a mask."));
    return false;
  }
  if (!confirmUnsavedEdits(tr("opening another mask")))
    return false;
  enqueue(LoadKind::Mask, path);
  return true;
}

// ---- background loading ----------------------------------------------------------------------
void MainWindow::enqueue(LoadKind kind, const QString& path)
{
  m_queue.append({kind, path});
  if (!m_job)
    startNextJob();
}

void MainWindow::startNextJob()
{
  while (!m_queue.isEmpty() && !m_job)
  {
    const Request req = m_queue.takeFirst();
    std::optional<Geometry> reference;
    if (m_model->hasImage())
      reference = m_model->geometry();
    if (req.kind == LoadKind::Mask && !reference)
    {
      showError(tr("Open Mask"), tr("Open an image before a mask (%1).").arg(req.path));
      emit loadFinished(false, m_lastError);
      continue;
    }
    m_job = std::make_unique<Job>();
    m_job->request = req;

    m_progress = new QProgressDialog(tr("Loading %1...").arg(QFileInfo(req.path).fileName()),
                                     tr("Cancel"), 0, 100, this);
    m_progress->setWindowTitle(req.kind == LoadKind::Mask ? tr("Open Mask") : tr("Open Image"));
    m_progress->setWindowModality(Qt::NonModal); // the views stay usable while loading
    m_progress->setMinimumDuration(300);
    m_progress->setAutoClose(false);
    m_progress->setAutoReset(false);
    m_progress->setValue(0);
    auto cancel = m_job->cancel;
    connect(m_progress, &QProgressDialog::canceled, this, [cancel] { cancel->store(true); });

    // Progress arrives on the worker thread; hop to the GUI thread, skipping repeats.
    auto lastPercent = std::make_shared<std::atomic<int>>(-1);
    ProgressFn progress = [this, cancel, lastPercent](double f)
    {
      const int pct = static_cast<int>(f * 100);
      if (lastPercent->exchange(pct) != pct)
        QMetaObject::invokeMethod(
            this,
            [this, pct]
            {
              if (m_progress)
                m_progress->setValue(std::clamp(pct, 0, 99));
            },
            Qt::QueuedConnection);
      return !cancel->load();
    };
    const std::string path = req.path.toStdString();
    const LoadKind kind = req.kind;
    m_job->future = QtConcurrent::run(
        [kind, path, reference, progress, cancel]
        {
          LoadOutcome out;
          try
          {
            switch (kind)
            {
            case LoadKind::Image:
              out.image = std::make_shared<Image>(readImage(path, progress));
              break;
            case LoadKind::Mask:
              out.mask = std::make_shared<LabelMask>(readMaskFor(path, *reference));
              out.mask->sourcePath = path;
              break;
            case LoadKind::ImageOrMask:
            {
              Image img = readImage(path, progress);
              if (img.info.sourcePath.empty())
                img.info.sourcePath = path;
              if (reference && looksLikeLabelMap(img) && img.geometry.sameGrid(*reference))
              {
                out.mask = std::make_shared<LabelMask>(toLabelMask(img));
                out.mask->sourcePath = path;
              }
              else
              {
                out.image = std::make_shared<Image>(std::move(img));
              }
              break;
            }
            }
            if (out.image && out.image->info.sourcePath.empty())
              out.image->info.sourcePath = path;
          }
          catch (const std::exception& e)
          {
            out.cancelled = cancel->load();
            out.error = messageOf(e);
          }
          catch (...)
          {
            out.error = QObject::tr("unknown error");
          }
          return out;
        });
    connect(&m_job->watcher, &QFutureWatcherBase::finished, this, &MainWindow::finishJob);
    m_job->watcher.setFuture(m_job->future);
    showStatus(tr("Loading %1...").arg(req.path));
  }
}

void MainWindow::finishJob()
{
  if (!m_job || !m_job->future.isFinished())
    return;
  const Request req = m_job->request;
  LoadOutcome out = m_job->future.result();
  m_job.reset();
  if (m_progress)
  {
    m_progress->close();
    m_progress->deleteLater();
    m_progress = nullptr;
  }

  bool ok = false;
  if (out.cancelled)
  {
    showStatus(tr("Loading cancelled: %1").arg(req.path));
    m_lastError = tr("cancelled");
  }
  else if (!out.error.isEmpty())
  {
    showError(req.kind == LoadKind::Mask ? tr("Open Mask") : tr("Open Image"),
              tr("Could not open %1:\n%2").arg(req.path, out.error));
  }
  else if (out.image)
  {
    setImage(std::move(*out.image));
    m_imagePath = req.path;
    updateTitle();
    addRecentFile(req.path, false);
    showStatus(tr("Opened %1").arg(req.path));
    ok = true;
  }
  else if (out.mask)
  {
    QString error;
    const std::vector<int> values = out.mask->labels();
    const int labels = static_cast<int>(values.size());
    // A recognisable label set gets its preset's names (TotalSegmentator, MSD; LabelPresets.h),
    // as in loadMaskBlocking: menu, recent files and drops come this way.
    const LabelTable table = labelTableForValues(values);
    error = maskRefusal(*out.mask);
    if (error.isEmpty() && m_model->setMask(std::move(*out.mask), &error))
    {
      m_model->setLabelTable(table);
      m_maskPath = req.path;
      updateTitle();
      addRecentFile(req.path, true);
      showStatus(tr("Opened mask %1 (%2 labels)").arg(req.path).arg(labels));
      ok = true;
    }
    else
    {
      showError(tr("Mask refused"), tr("%1:\n%2").arg(req.path, error));
    }
  }
  if (!ok && req.kind != LoadKind::Mask)
  {
    // The masks dropped together with a failed image belong to it, not to the one shown.
    m_queue.erase(std::remove_if(m_queue.begin(), m_queue.end(),
                                 [](const Request& r) { return r.kind == LoadKind::Mask; }),
                  m_queue.end());
  }
  emit loadFinished(ok, ok ? QString() : m_lastError);
  startNextJob();
}

bool MainWindow::waitForLoading(int timeoutMs)
{
  QElapsedTimer t;
  t.start();
  while ((m_job || !m_queue.isEmpty()) && t.elapsed() < timeoutMs)
    QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
  return !m_job && m_queue.isEmpty();
}

void MainWindow::showStatus(const QString& text)
{
  // One line shared with the voxel readout: the next mouse move replaces it. (QStatusBar's
  // temporary messages draw over the permanent widgets.)
  m_hoverLabel->setText(text);
}

void MainWindow::showError(const QString& title, const QString& message)
{
  m_lastError = message;
  showStatus(message.section('\n', -1));
  // Window-modal and opened asynchronously: never blocks the caller (or a test).
  auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
}

// ---- drag and drop ---------------------------------------------------------------------------
void MainWindow::dragEnterEvent(QDragEnterEvent* e)
{
  if (!e->mimeData()->hasUrls())
    return;
  for (const QUrl& u : e->mimeData()->urls())
    if (u.isLocalFile())
    {
      e->acceptProposedAction();
      return;
    }
}

void MainWindow::dropEvent(QDropEvent* e)
{
  QStringList images, masks;
  for (const QUrl& u : e->mimeData()->urls())
  {
    if (!u.isLocalFile())
      continue;
    const QString path = u.toLocalFile();
    (nameSuggestsMask(path.toStdString()) ? masks : images) << path;
  }
  if (images.isEmpty() && masks.isEmpty())
    return;
  e->acceptProposedAction();
  if (!images.isEmpty())
  {
    // With an image open and nothing else dropped, a second file may well be a mask with an
    // unhelpful name: decide from its content. Otherwise the first file is the new image.
    if (m_model->hasImage() && images.size() == 1 && masks.isEmpty())
    {
      if (confirmUnsavedEdits(tr("opening the dropped file")))
        enqueue(LoadKind::ImageOrMask, images.first());
    }
    else
      openImage(images.first());
    for (int i = 1; i < images.size(); ++i)
      showStatus(tr("Only one image at a time: ignored %1").arg(images[i]));
  }
  if (!masks.isEmpty())
    openMask(masks.first());
}

void MainWindow::closeEvent(QCloseEvent* e)
{
  if (!confirmUnsavedEdits(tr("closing")))
  {
    e->ignore();
    return;
  }
  if (m_job)
  {
    m_job->cancel->store(true);
    m_job->future.waitForFinished();
  }
  QMainWindow::closeEvent(e);
}

// ---- recent files ----------------------------------------------------------------------------
QStringList MainWindow::recentFiles() const
{
  return makeSettings().value(userSettingsKey(kRecentKey)).toStringList();
}

void MainWindow::addRecentFile(const QString& path, bool asMask)
{
  const QString entry = (asMask ? QStringLiteral("mask|") : QStringLiteral("image|")) +
                        QFileInfo(path).absoluteFilePath();
  QSettings s = makeSettings();
  QStringList list = s.value(userSettingsKey(kRecentKey)).toStringList();
  list.removeAll(entry);
  list.prepend(entry);
  while (list.size() > kMaxRecentFiles)
    list.removeLast();
  s.setValue(userSettingsKey(kRecentKey), list);
  rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu()
{
  m_recentMenu->clear();
  const QStringList list = recentFiles();
  int n = 0;
  for (const QString& entry : list)
  {
    const bool isMask = entry.startsWith(QLatin1String("mask|"));
    const QString path = entry.section('|', 1);
    QAction* a = m_recentMenu->addAction(
        tr("&%1  %2  (%3)")
            .arg(++n)
            .arg(QFileInfo(path).fileName(), isMask ? tr("mask") : tr("image")),
        this, [this, path, isMask] { isMask ? openMask(path) : openImage(path); });
    a->setToolTip(path);
    a->setStatusTip(path);
  }
  if (list.isEmpty())
    m_recentMenu->addAction(tr("(none)"))->setEnabled(false);
  else
  {
    m_recentMenu->addSeparator();
    m_recentMenu->addAction(tr("Clear List"), this,
                            [this]
                            {
                              makeSettings().remove(userSettingsKey(kRecentKey));
                              rebuildRecentMenu();
                            });
  }
}

// ---- acting user and review context ----------------------------------------------------------
QString MainWindow::settingsKeyFor(const QString& user, const QString& key)
{
  // One group per PanSeg user; '/' and '\\' in a name must not open other groups.
  QString name = user;
  name.replace('/', '_').replace('\\', '_');
  return QStringLiteral("users/") + name + '/' + key;
}

void MainWindow::setActingUser(const QString& user)
{
  const QString u = user.isEmpty() ? defaultActingUser() : user;
  if (u == m_user)
    return;
  m_user = u;
  rebuildRecentMenu();
  if (m_fastAction)
  {
    const QSignalBlocker block(m_fastAction);
    m_fastAction->setChecked(makeSettings().value(userSettingsKey("predict/fast"), false).toBool());
  }
  emit predictionSettingsChanged(); // the CPU speed is the user's too
  if (m_infoAction)
  {
    const bool on = makeSettings().value(userSettingsKey(kInfoKey), true).toBool();
    const QSignalBlocker block(m_infoAction);
    m_infoAction->setChecked(on);
    for (SliceView* v : m_views)
      v->setInfoVisible(on);
  }
  // Unsaved edits are autosaved per user too: nobody is offered another user's recovery file.
  if (m_edit)
  {
    QString name = m_user;
    name.replace('/', '_').replace('\\', '_');
    m_edit->setRecoveryDir(EditController::defaultRecoveryDir() + "/users/" + name);
  }
}

QString MainWindow::maskRefusal(const LabelMask& mask) const
{
  if (!m_maskGuard || !m_model->hasImage())
    return {};
  try
  {
    return m_maskGuard(m_model->image(), mask);
  }
  catch (const std::exception& e)
  {
    return messageOf(e);
  }
}

void MainWindow::reapplyPredictionPolicy()
{
  if (m_predictPolicy && m_model->hasImage())
    setPredictionBlocked(m_predictPolicy(m_model->image()));
}

void MainWindow::setPredictionBlocked(const QString& reason)
{
  m_predictBlocked = reason;
  applyPredictAvailability();
}

void MainWindow::applyPredictAvailability()
{
  if (!m_predictAction)
    return;
  m_predictAction->setEnabled(m_predictBlocked.isEmpty());
  m_predictAction->setToolTip(m_predictBlocked.isEmpty() ? tr("Predict the pancreas on the shown image (Ctrl+P)")
                                                         : m_predictBlocked);
  m_predictAction->setStatusTip(m_predictAction->toolTip());
}

void MainWindow::setReviewBanner(const QString& text)
{
  if (!m_banner)
    return;
  m_banner->setText(text);
  m_banner->setVisible(!text.isEmpty());
}

QString MainWindow::reviewBanner() const
{
  return m_banner && m_banner->isVisible() ? m_banner->text() : QString();
}

void MainWindow::setDocumentTitle(const QString& title)
{
  m_documentTitle = title;
  updateTitle();
}

// ---- capture ---------------------------------------------------------------------------------
void MainWindow::showCaptureReady()
{
  if (!isVisible())
    show();
  QElapsedTimer t;
  t.start();
  while ((!windowHandle() || !windowHandle()->isExposed()) && t.elapsed() < 3000)
    QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
  if (m_surface)
    m_surface->waitForSurface();
  QCoreApplication::processEvents();
}

QImage MainWindow::grabView(ViewKind kind)
{
  showCaptureReady();
  if (kind == ViewKind::Surface3D)
    return m_surface ? m_surface->grabFramebuffer() : m_surfaceWidget->grab().toImage();
  return m_views[static_cast<int>(kind)]->grab().toImage();
}

QImage MainWindow::grabAll()
{
  showCaptureReady();
  return grab().toImage();
}

bool MainWindow::saveScreenshot(const QString& path)
{
  const QImage img = grabAll();
  return !img.isNull() && img.save(path);
}

} // namespace panseg::ui
