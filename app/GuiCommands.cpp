// Subcommands that need the real main window: the GUI itself and `screenshot`.
#include "Cli.h"
#include "ServerCommands.h"
#include "StudyCommands.h"
#include "VolumeCommands.h"

#include "ui/EditController.h"
#include "ui/RecoveryPrompt.h"
#include "ui/MainWindow.h"
#include "ui/StudyBrowser.h"
#include "ui/JobsDock.h"
#include "database/JobTableModel.h"
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

/// The study database as a dock beside the views, with a Study menu: import, open a series and
/// its masks, save the shown mask as a new version.
static void attachStudyBrowser(ui::MainWindow& w)
{
  auto* browser = new ui::StudyBrowser;
  auto* dock = new QDockWidget(QObject::tr("Studies"), &w);
  dock->setObjectName("StudyBrowserDock");
  dock->setWidget(browser);
  w.addDockWidget(Qt::LeftDockWidgetArea, dock);
  QString error;
  if (!browser->openDatabase({}, &error))
    w.statusBar()->showMessage(QObject::tr("Study database unavailable: %1").arg(error), 10000);
  // Segmentation > Model also lists the registered models and the promoted defaults.
  w.setModelRegistry([browser] { return browser->database(); });
  auto fail = [&w](const char* what, const std::exception& e) {
    QMessageBox::warning(&w, QObject::tr(what), QString::fromUtf8(e.what()));
  };
  browser->setOpenGuard([&w] { return w.confirmUnsavedEdits(QObject::tr("opening another series or mask")); });
  QObject::connect(browser, &ui::StudyBrowser::openSeriesRequested, &w, [&w, browser, fail](int64_t id) {
    try
    {
      w.setImage(browser->loadSeries(id));
      // Predict Pancreas then uses the model promoted for the series' modality, if any.
      try
      {
        QString label;
        const QString promoted = browser->promotedModelDir(id, &label);
        if (!promoted.isEmpty() && promoted != w.predictionModelDir())
        {
          w.setPredictionModelDir(promoted);
          w.statusBar()->showMessage(QObject::tr("Predict Pancreas uses the promoted model %1.").arg(label), 10000);
        }
      }
      catch (const std::exception& e)
      {
        w.statusBar()->showMessage(QString::fromUtf8(e.what()), 15000);
      }
    }
    catch (const std::exception& e)
    {
      fail("Open series", e);
    }
  });
  QObject::connect(browser, &ui::StudyBrowser::openMaskRequested, &w, [&w, browser, fail](int64_t, int64_t maskId) {
    try
    {
      w.setMask(browser->loadMask(maskId));
    }
    catch (const std::exception& e)
    {
      fail("Open mask", e);
    }
  });
  QMenu* study = w.menuBar()->addMenu(QObject::tr("&Study"));
  study->addAction(QObject::tr("&Import into database..."), QKeySequence(QObject::tr("Ctrl+I")), browser,
                   &ui::StudyBrowser::chooseAndImport);
  study->addAction(QObject::tr("Import &files..."), browser, &ui::StudyBrowser::chooseFilesAndImport);
  study->addAction(QObject::tr("&Export mask version..."), browser, &ui::StudyBrowser::chooseAndExportMask);
  // Saving the shown (possibly edited) mask as a new version; the editor then counts it saved and
  // the recovery file goes. Also what "Save" in the unsaved-edits prompt on close does.
  auto saveShownMask = [&w, browser]() -> bool {
    if (browser->openedSeriesId() <= 0 && w.model()->hasMask())
      return w.saveMaskAsInteractive(); // an image opened from a file: its mask goes to a file
    if (browser->openedSeriesId() <= 0 || !w.model()->hasMask())
    {
      QMessageBox::information(&w, QObject::tr("Save mask"),
                               QObject::tr("Open a series from the study browser and show a mask first."));
      return false;
    }
    const int64_t id = browser->saveMaskVersion(browser->openedSeriesId(), w.model()->mask(), browser->openedMaskId());
    if (id > 0 && w.editController())
      w.editController()->markSaved();
    return id > 0;
  };
  study->addAction(QObject::tr("&Save mask as new version"), QKeySequence::Save, &w, [saveShownMask] { saveShownMask(); });
  w.setSaveMaskHandler(saveShownMask);
  // Submit for approval (draft -> submitted, audited). Unsaved edits are saved first as a new
  // version, and that version is submitted (StudyBrowser::submitOpenedMask).
  study->addAction(QObject::tr("Su&bmit mask for approval"), &w, [&w, browser] {
    ui::EditController* edit = w.editController();
    const bool unsaved = edit && edit->isModified() && w.model()->hasMask();
    if (browser->openedSeriesId() <= 0 || (!unsaved && browser->openedMaskId() <= 0))
    {
      QMessageBox::information(&w, QObject::tr("Submit mask for approval"),
                               QObject::tr("Open a series and a mask version from the study browser first."));
      return;
    }
    int64_t saved = 0;
    QString error;
    const int64_t id = browser->submitOpenedMask(unsaved ? &w.model()->mask() : nullptr, &saved, &error);
    if (saved > 0)
      edit->markSaved();
    if (id <= 0)
      QMessageBox::warning(&w, QObject::tr("Submit mask for approval"), error);
    else
      w.statusBar()->showMessage(QObject::tr("Mask version %1 submitted for approval.").arg(id), 10000);
  });
  // A prediction of a series opened from the database becomes its newest AI mask version.
  QObject::connect(&w, &ui::MainWindow::predictionFinished, browser, [&w, browser](bool ok, const QString&) {
    if (ok && w.model()->hasMask())
      browser->savePrediction(w.model()->image(), w.model()->mask(), w.predictionModelDir());
  });
  study->addAction(dock->toggleViewAction());
  attachVolumeTable(w, browser, study);
  // Fine-tuning jobs (docs/fine-tuning.md): the dock polls the jobs table; the dialog starts
  // `panseg train --db` detached, so the job outlives the GUI and is listed again on reopening.
  auto* jobs = new ui::JobsDock(browser->dataFolder());
  auto* jobsDock = new QDockWidget(QObject::tr("Jobs"), &w);
  jobsDock->setObjectName("JobsDock");
  jobsDock->setWidget(jobs);
  w.addDockWidget(Qt::BottomDockWidgetArea, jobsDock);
  jobsDock->setVisible(jobs->model()->rowCount() > 0);
  study->addAction(QObject::tr("&Fine-tune model..."), &w, [&w, browser, jobs, jobsDock] {
    QStringList centers;
    if (browser->database())
      for (const auto& s : browser->database()->listSeries())
        if (!s.center.empty() && !centers.contains(QString::fromStdString(s.center)))
          centers << QString::fromStdString(s.center);
    const auto models = db::listModelPackages(db::defaultModelSearchRoots(), browser->database(),
                                              {ui::WorkerClient::defaultModelDir()});
    ui::FineTuneDialog dialog(browser->dataFolder(), w.predictionModelDir(), centers, models, &w);
    if (dialog.exec() != QDialog::Accepted)
      return;
    QString error;
    if (!ui::startDetachedTraining(dialog.request(), &error))
      QMessageBox::warning(&w, QObject::tr("Fine-tune model"), error);
    jobsDock->show();
    jobs->refresh();
  });
  study->addAction(jobsDock->toggleViewAction());
}

int gui(int argc, char** argv, const QStringList& paths)
{
  ui::MainWindow::configurePlatform();
  QApplication app(argc, argv);
  QApplication::setApplicationName("PanSeg Workstation");
  QApplication::setOrganizationName("PanSeg");
  QApplication::setApplicationVersion(PANSEG_VERSION);
  // Department mode: sign in before anything opens the database (docs/department-mode.md).
  if (!signInIfServer())
    return Ok;
  ui::MainWindow w;
  w.resize(1400, 950);
  attachStudyBrowser(w);
  attachReaderStudyPanel(w);
  attachServerSession(w);
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
  bool ok = true;
  const int label = a.intValue("label", 0, &ok);
  if (!ok || label < 0 || label > 255)
  {
    printError("--label must be a whole number from 0 to 255");
    return Usage;
  }
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
