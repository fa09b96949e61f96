// Subcommands that need the real main window: the GUI itself and `screenshot`.
#include "Cli.h"
#include "ServerCommands.h"
#include "ui/ServerSession.h"
#include "StudyCommands.h"
#include "VolumeCommands.h"

#include "ui/EditController.h"
#include "ui/RecoveryPrompt.h"
#include "ui/MainWindow.h"
#include "ui/Workstation.h"
#include "ui/WorkerClient.h"
#include "ui/ViewerModel.h"

#include "core/Error.h"
#include "core/io/ImageIO.h"

#include <QApplication>
#include <QDockWidget>
#include <QMenuBar>
#include <QStatusBar>
#include <QMessageBox>
#include <QDir>
#include <QElapsedTimer>
#include <QProcess>
#include <QStandardPaths>
#include <QWindow>

#include <cstdio>

namespace panseg::cli
{
/// Commands that render must work on a machine without a display: they re-run themselves
/// under xvfb-run.
bool needsVirtualDisplay()
{
  return qEnvironmentVariableIsEmpty("DISPLAY") && qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY") &&
         qEnvironmentVariableIsEmpty("PANSEG_IN_XVFB");
}

int rerunUnderXvfb(char** argv, const QStringList& args)
{
  const QString xvfb = QStandardPaths::findExecutable("xvfb-run");
  if (xvfb.isEmpty())
  {
    printError("no display and xvfb-run is not installed (apt-get install xvfb xauth), or set DISPLAY");
    return Failed;
  }
  QProcess p;
  p.setProcessChannelMode(QProcess::ForwardedChannels);
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert("PANSEG_IN_XVFB", "1");
  p.setProcessEnvironment(env);
  QStringList xargs{ "-a", "-s", "-screen 0 1920x1200x24", QString::fromLocal8Bit(argv[0]) };
  xargs << args;
  p.start(xvfb, xargs);
  if (!p.waitForStarted(10000) || !p.waitForFinished(-1))
  {
    printError("could not run xvfb-run: " + p.errorString());
    return Failed;
  }
  return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : Failed;
}

int gui(int argc, char** argv, const QStringList& paths)
{
  ui::MainWindow::configurePlatform();
  QApplication app(argc, argv);
  QApplication::setApplicationName("PanSeg Workstation");
  QApplication::setOrganizationName("PanSeg");
  QApplication::setApplicationVersion(PANSEG_VERSION);
  // Department mode: sign in before anything opens the database (docs/department-mode.md).
  if (!ui::signInIfServer())
    return Ok;
  ui::MainWindow w;
  w.resize(1400, 950);
  ui::Workstation* ws = ui::attachWorkstation(w); // study browser, reader study, Volumes and Jobs docks, Study menu
  ui::attachServerSession(*ws);
  w.show();
  // Unsaved mask edits autosaved before a crash are offered at start (ui/RecoveryPrompt).
  ui::offerRecovery(w);
  if (!paths.isEmpty())
  {
    if (w.openImage(paths[0]) && paths.size() > 1)
      w.openMask(paths[1]);
  }
  return app.exec();
}

int screenshot(int argc, char** argv, const QStringList& args)
{
  Args a(args, {});
  if (!a.error.isEmpty() || a.positionals.size() != 1 || !a.has("out"))
  {
    printError(a.error.isEmpty() ? "usage: panseg screenshot IMAGE [--mask MASK] [--label N] --out FILE.png "
                                   "[--view axial|coronal|sagittal|3d|all] [--slice K]"
                                 : a.error);
    return Usage;
  }
  const QString view = a.value("view", "all").toLower();
  static const QStringList views{ "axial", "coronal", "sagittal", "3d", "all" };
  if (!views.contains(view))
  {
    printError("--view must be one of axial, coronal, sagittal, 3d, all");
    return Usage;
  }
  const QString out = a.value("out");
  if (!out.endsWith(".png", Qt::CaseInsensitive))
  {
    printError("--out must name a .png file");
    return Usage;
  }
  const auto labelArg = labelOption(a, 0, 0, "0 = any non-zero label");
  if (!labelArg)
    return Usage;
  const int label = *labelArg;
  bool ok = true;
  const int slice = a.intValue("slice", -1, &ok);
  if (!ok)
  {
    printError("--slice must be a whole number");
    return Usage;
  }
  if (needsVirtualDisplay())
    return rerunUnderXvfb(argv, QStringList{ "screenshot" } + args);

  // Read (and validate) the inputs before any window exists: errors stay one line.
  Image image = readImage(a.positionals[0].toStdString());
  LabelMask mask;
  bool haveMask = false;
  if (a.has("mask"))
  {
    mask = readMaskFor(a.value("mask").toStdString(), image.geometry);
    if (label != 0)
    {
      if (mask.countLabel(label) == 0)
        throw Error("label " + std::to_string(label) + " does not occur in " + a.value("mask").toStdString());
      mask = mask.binary(label);
    }
    haveMask = true;
  }

  ui::MainWindow::configurePlatform();
  QApplication app(argc, argv);
  ui::MainWindow w;
  w.resize(1400, 1000);
  w.setImage(std::move(image));
  if (haveMask)
    w.setMask(std::move(mask));
  w.show();
  QElapsedTimer exposeTimer;
  exposeTimer.start();
  while (!(w.windowHandle() && w.windowHandle()->isExposed()) && exposeTimer.elapsed() < 10000)
    QApplication::processEvents(QEventLoop::AllEvents, 50);
  if (!(w.windowHandle() && w.windowHandle()->isExposed()))
  {
    printError("the window was never shown (no working display?)");
    return Failed;
  }
  using VK = ui::MainWindow::ViewKind;
  const VK kind = view == "axial" ? VK::Axial : view == "coronal" ? VK::Coronal : view == "sagittal" ? VK::Sagittal : VK::Surface3D;
  if (slice >= 0)
    w.setSliceIndex(view == "all" || view == "3d" ? VK::Axial : kind, slice);
  // let the 3-D surface and the slice views finish their first paint
  QElapsedTimer t;
  t.start();
  while (t.elapsed() < 400)
    QApplication::processEvents(QEventLoop::AllEvents, 50);
  const QImage img = view == "all" ? w.grabAll() : w.grabView(kind);
  if (img.isNull())
  {
    printError("rendering produced no image");
    return Failed;
  }
  if (!img.save(out, "PNG"))
  {
    printError("cannot write " + out + " (folder missing or not writable?)");
    return Failed;
  }
  std::printf("wrote %s (%dx%d)\n", qPrintable(out), img.width(), img.height());
  return Ok;
}
} // namespace panseg::cli
