// The workstation radiologists use for daily review (issue 20), driven as users drive it: the real
// main window with ui::attachWorkstation (what `panseg` opens) on a real study database, under Xvfb.
//  * blinding: recent files and settings are per PanSeg user; a mask file the database hides from
//    the acting user is refused (File > Open Mask, Recent Files); Predict Pancreas is disabled,
//    with the reason as its tooltip, during a blinded read that starts from scratch;
//  * a returned read reopens on the reader's submitted version, the coordinator's comment above
//    the views; the mask list follows submissions;
//  * the Jobs dock shows a job while it runs, with its live progress;
//  * layout: bottom docks tabbed, views keep most of the window, states not cut, the title names
//    patient / series / mask version, brush keys work wherever the focus is, Help last with About;
//  * prediction in the background (real panseg-worker, demo model): no modal dialog, the views
//    respond, the mask being replaced refuses edits until it lands.
#include "ReviewFixture.h"

#include "database/jobs/FineTuning.h"
#include "database/itemmodels/JobTableModel.h"
#include "database/session/WorkstationSession.h"
#include "ui/EditController.h"
#include "ui/JobsDock.h"
#include "ui/MainWindow.h"
#include "ui/MaskListModel.h"
#include "ui/ReaderStudyPanel.h"
#include "ui/SliceView.h"
#include "ui/StudyBrowser.h"
#include "ui/ViewerModel.h"
#include "ui/Workstation.h"

#include <QApplication>
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QSettings>
#include <QDockWidget>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QTableView>
#include <QToolButton>

#include <memory>

using namespace review;
using panseg::ui::MainWindow;
using VK = panseg::ui::MainWindow::ViewKind;

namespace
{
void closeMessageBoxes()
{
  for (QWidget* top : QApplication::topLevelWidgets())
    if (auto* box = qobject_cast<QMessageBox*>(top))
      box->close();
}

QMenu* menuNamed(MainWindow& w, const QString& name)
{
  for (QAction* a : w.menuBar()->actions())
    if (a->menu() && a->text().remove('&') == name)
      return a->menu();
  return nullptr;
}

QPushButton* buttonNamed(QWidget* parent, const QString& text)
{
  for (QPushButton* b : parent->findChildren<QPushButton*>())
    if (b->text() == text)
      return b;
  return nullptr;
}

/// The window `panseg` opens, as `user`, on the fixture's database.
struct Session
{
  std::unique_ptr<MainWindow> w;
  panseg::ui::Workstation* ws = nullptr;
  Session(const Fixture& f, const char* user)
  {
    qputenv("PANSEG_USER", user);
    w = std::make_unique<MainWindow>();
    w->resize(1400, 950);
    ws = panseg::ui::attachWorkstation(*w, f.dir);
    w->show();
    w->activateWindow();
    if (!QTest::qWaitForWindowExposed(w.get()))
      qWarning("window not exposed");
    if (!QTest::qWaitForWindowActive(w.get()))
      qWarning("window not active");
  }
  ~Session()
  {
    if (w && w->editController())
      w->editController()->markSaved(); // no unsaved-edits prompt on close
    closeMessageBoxes();
  }
};

/// With $PANSEG_REVIEW_SCREENSHOTS set, saves the whole window there (for people to look at).
void screenshot(MainWindow& w, const QString& name)
{
  const QString dir = qEnvironmentVariable("PANSEG_REVIEW_SCREENSHOTS");
  if (!dir.isEmpty())
  {
    QTest::qWait(300);
    QVERIFY(w.saveScreenshot(dir + "/" + name + ".png"));
  }
}

bool sameVoxels(const LabelMask& a, const LabelMask& b)
{
  return a.geometry.sameGrid(b.geometry) && a.voxels == b.voxels;
}
} // namespace

class TstReviewWorkstation : public QObject
{
  Q_OBJECT
private slots:
  void cleanup()
  {
    closeMessageBoxes();
    qunsetenv("PANSEG_USER");
  }

  // ---- 1. blinding through the GUI --------------------------------------------------------------
  void recentFilesAndSettingsArePerPansegUser()
  {
    Fixture f;
    setUp(f, 1);
    QVERIFY(!QTest::currentTestFailed());
    // alice, on the shared operating-system account, opens her AI prediction file.
    {
      MainWindow alice;
      alice.setActingUser("alice");
      QString error;
      QVERIFY2(alice.loadImageBlocking(f.imagePaths[0], &error), qPrintable(error));
      QVERIFY2(alice.loadMaskBlocking(f.aiMaskPaths[0], &error), qPrintable(error));
      QCOMPARE(alice.recentFiles().size(), 2);
      QVERIFY(alice.recentFiles().first().endsWith(QFileInfo(f.aiMaskPaths[0]).fileName()));
    }
    // A list kept per operating-system account by an earlier version is dropped, never shown.
    QSettings(QStringLiteral("PanSeg"), QStringLiteral("PanSeg Workstation"))
        .setValue("viewer/recentFiles", QStringList{"mask|" + f.aiMaskPaths[0]});
    // bob, on the same account, gets his own (empty) list, in the API and in File > Recent Files.
    MainWindow bob;
    bob.setActingUser("bob");
    QVERIFY(bob.recentFiles().isEmpty());
    QMenu* recent = nullptr;
    for (QAction* a : menuNamed(bob, "File")->actions())
      if (a->menu() && a->text().remove('&') == "Recent Files")
        recent = a->menu();
    QVERIFY(recent);
    for (QAction* a : recent->actions())
      QVERIFY2(!a->text().contains("pred") && !a->toolTip().contains("pred"), qPrintable(a->text()));
    QVERIFY(bob.userSettingsKey("predict/modelDir") != MainWindow::settingsKeyFor("alice", "predict/modelDir"));
    QVERIFY(!QSettings(QStringLiteral("PanSeg"), QStringLiteral("PanSeg Workstation")).contains("viewer/recentFiles"));
    // Back to alice: hers are still there.
    bob.setActingUser("alice");
    QCOMPARE(bob.recentFiles().size(), 2);
  }

  void blindedMaskFileIsRefusedAndPredictionOff()
  {
    Fixture f;
    setUp(f, 2);
    QVERIFY(!QTest::currentTestFailed());
    const int64_t study = createStudy(f, "scratch study");
    Session bob(f, "bob");
    MainWindow& w = *bob.w;
    QCOMPARE(w.actingUser(), QString("bob"));
    QString error;
    QVERIFY2(w.loadImageBlocking(f.imagePaths[0], &error), qPrintable(error));
    // Predict Pancreas is off on a series bob reads from scratch, and says why.
    QVERIFY(!w.predictAction()->isEnabled());
    QVERIFY2(w.predictAction()->toolTip().contains("scratch study"), qPrintable(w.predictAction()->toolTip()));
    QVERIFY(!w.predictPancreas());
    closeMessageBoxes();
    // alice's AI mask, as a file (Recent Files / Open Mask take this path): refused, nothing shown.
    QSignalSpy loaded(&w, &MainWindow::loadFinished);
    QVERIFY(w.openMask(f.aiMaskPaths[0]));
    QVERIFY(w.waitForLoading(30000));
    QCOMPARE(loaded.size(), 1);
    QVERIFY(!loaded.at(0).at(0).toBool());
    QVERIFY(!w.model()->hasMask());
    QVERIFY2(w.lastError().contains("blinded"), qPrintable(w.lastError()));
    QVERIFY(!w.loadMaskBlocking(f.aiMaskPaths[0], &error));
    QVERIFY2(error.contains("blinded"), qPrintable(error));
    QVERIFY(w.recentFiles().filter("pred").isEmpty());
    // Also when the read is opened from the reader-study panel.
    const int64_t read = [&] {
      StudyDatabase db(f.dir.toStdString(), as("bob"));
      return ReaderStudy(db).worklist(study).reads.front().id;
    }();
    QVERIFY(bob.ws->readerPanel->openRead(read));
    QVERIFY(!w.predictAction()->isEnabled());

    // Once the study is closed the blinding is lifted: the same file opens, prediction is back.
    {
      StudyDatabase db(f.dir.toStdString(), as("carol"));
      ReaderStudy(db).closeStudy(study);
    }
    QVERIFY2(w.loadImageBlocking(f.imagePaths[0], &error), qPrintable(error));
    QVERIFY(w.predictAction()->isEnabled());
    QVERIFY2(w.loadMaskBlocking(f.aiMaskPaths[0], &error), qPrintable(error));
    QVERIFY(w.model()->hasMask());
  }

  void predictionStaysOnWhenStartingFromAi()
  {
    Fixture f;
    setUp(f, 1, "coord"); // the AI was run by the admin, not by a reader of the study
    QVERIFY(!QTest::currentTestFailed());
    createStudy(f, "ai study", StartFrom::Ai);
    Session bob(f, "bob");
    QString error;
    QVERIFY2(bob.w->loadImageBlocking(f.imagePaths[0], &error), qPrintable(error));
    QVERIFY(bob.w->predictAction()->isEnabled());
    // The study's AI mask is what bob starts from: visible, so its file opens too.
    QVERIFY2(bob.w->loadMaskBlocking(f.aiMaskPaths[0], &error), qPrintable(error));
  }

  // ---- 2. returned reads, 10. mask list and title -------------------------------------------------
  void returnedReadReopensOnSubmittedVersionWithComment()
  {
    Fixture f;
    setUp(f, 1);
    QVERIFY(!QTest::currentTestFailed());
    const int64_t study = createStudy(f, "return study");
    Session bob(f, "bob");
    MainWindow& w = *bob.w;
    panseg::ui::ReaderStudyPanel* panel = bob.ws->readerPanel;
    panseg::ui::StudyBrowser* browser = bob.ws->browser;
    QVERIFY(bob.ws->readerDock->isVisible());
    QVERIFY(browser->selectSeries(f.series[0]));
    const int masksBefore = browser->maskModel()->rowCount();

    // bob reads from scratch, draws (here: the phantom's pancreas shifted by a voxel), submits.
    panel->openNext();
    const int64_t read = panel->openedReadId();
    QVERIFY(read > 0);
    QCOMPARE(w.model()->mask().countLabel(0), int64_t(0)); // from scratch
    LabelMask drawn(f.truths[0].geometry, 0);
    for (int64_t z = 0; z < drawn.nz(); ++z)
      for (int64_t y = 0; y < drawn.ny(); ++y)
        for (int64_t x = 1; x < drawn.nx(); ++x)
          drawn.at(x, y, z) = f.truths[0].at(x - 1, y, z);
    QVERIFY(drawn.countLabel(0) > 0);
    w.setMask(drawn);
    QPushButton* submit = buttonNamed(panel, "Submit shown mask");
    QVERIFY(submit && submit->isVisible());
    QTest::mouseClick(submit, Qt::LeftButton);
    // The browser's mask list shows the submitted version at once (no manual refresh).
    QCOMPARE(browser->maskModel()->rowCount(), masksBefore + 1);
    const int64_t submitted = browser->maskModel()->index(masksBefore, panseg::ui::MaskListModel::IdColumn)
                                  .data()
                                  .toLongLong();
    QVERIFY(submitted > 0);

    // carol returns it with a comment.
    const QString comment = "Please include the pancreatic tail near the splenic hilum.";
    {
      StudyDatabase db(f.dir.toStdString(), as("carol"));
      ReaderStudy(db).returnRead(read, comment.toStdString());
    }
    // bob opens it again: his submitted version, not an empty mask, and the comment above the views.
    w.setMask(LabelMask(drawn.geometry, 0));
    panel->refresh();
    QVERIFY(panel->openRead(read));
    QVERIFY(w.model()->hasMask());
    QVERIFY2(sameVoxels(w.model()->mask(), drawn), "the returned read did not reopen on the submitted version");
    QVERIFY2(w.reviewBanner().contains(comment), qPrintable(w.reviewBanner()));
    auto* banner = w.findChild<QLabel*>("reviewBanner");
    QVERIFY(banner && banner->isVisible());
    const QPoint bannerAt = banner->mapTo(&w, QPoint(0, 0));
    const QPoint viewAt = w.sliceView(VK::Axial)->mapTo(&w, QPoint(0, 0));
    QVERIFY(bannerAt.y() < viewAt.y()); // above the views
    QVERIFY(banner->width() >= w.sliceView(VK::Axial)->width()); // full width, not a cut column
    screenshot(w, "returned-read");
    // The title names patient, series and read, never the internal file names.
    QVERIFY2(w.windowTitle().contains("PAT-100"), qPrintable(w.windowTitle()));
    QVERIFY2(!w.windowTitle().contains(".nii"), qPrintable(w.windowTitle()));
    // Submitting again clears the banner and the list grows again.
    QTest::mouseClick(submit, Qt::LeftButton);
    QVERIFY(w.reviewBanner().isEmpty());
    QCOMPARE(browser->maskModel()->rowCount(), masksBefore + 2);
    Q_UNUSED(study);
  }

  void maskListAndTitleFollowTheDatabase()
  {
    Fixture f;
    setUp(f, 1);
    QVERIFY(!QTest::currentTestFailed());
    Session coord(f, "coord");
    MainWindow& w = *coord.w;
    panseg::ui::StudyBrowser* browser = coord.ws->browser;
    // One session for every dock (issue 14): one connection, one open series and mask.
    panseg::db::WorkstationSession* session = coord.ws->session;
    QVERIFY(session && session->database());
    QCOMPARE(browser->database(), session->database());
    QCOMPARE(coord.ws->readerPanel->database(), session->database());
    QCOMPARE(coord.ws->readerPanel->service(), session->readerStudy());
    QVERIFY(browser->selectSeries(f.series[0]));
    QTest::mouseClick(browser->openButton(), Qt::LeftButton); // the series and its newest mask
    QVERIFY(w.model()->hasMask());
    QCOMPARE(session->openedSeries(), f.series[0]);
    QCOMPARE(session->openedMask(), f.aiMasks[0]);
    const QString title = w.windowTitle();
    QVERIFY2(title.contains("PAT-100") && title.contains("venous phase 0") &&
                 title.contains(QString("mask v%1").arg(f.aiMasks[0])),
             qPrintable(title));
    QVERIFY2(!title.contains(".nii") && !title.contains("m20"), qPrintable(title));
    // Submit for approval: the state column shows the whole word, never "subm".
    QTest::mouseClick(browser->submitMaskButton(), Qt::LeftButton);
    QTableView* masks = browser->maskView();
    const int row = browser->maskModel()->rowCount() - 1;
    const QModelIndex state = browser->maskModel()->index(row, panseg::ui::MaskListModel::StateColumn);
    QCOMPARE(state.data().toString(), QString("submitted"));
    coord.ws->browserDock->show();
    QApplication::processEvents();
    const int needed = masks->fontMetrics().horizontalAdvance(state.data().toString());
    QVERIFY2(masks->columnWidth(panseg::ui::MaskListModel::StateColumn) >= needed,
             qPrintable(QString("%1 < %2").arg(masks->columnWidth(panseg::ui::MaskListModel::StateColumn)).arg(needed)));
  }

  // ---- 3. the Jobs dock while a job runs -----------------------------------------------------------
  void jobsDockShowsARunningJobLive()
  {
    Fixture f;
    setUp(f, 1);
    QVERIFY(!QTest::currentTestFailed());
    Session s(f, "coord");
    QDockWidget* dock = s.ws->jobsDock;
    QVERIFY(!dock->isVisible()); // no job yet
    // A job started elsewhere (another process writes the same database): running, 55 %.
    StudyDatabase other(f.dir.toStdString(), as("coord"));
    Job job;
    job.kind = "training";
    const int64_t id = other.createJob(job);
    QProcess sleeper; // the job's process (stands in for `panseg train`)
    sleeper.start("sleep", {"60"});
    QVERIFY(sleeper.waitForStarted());
    {
      const QString folder = QString::fromStdString(panseg::db::jobFolder(other, id));
      QVERIFY(QDir().mkpath(folder));
      QFile pid(folder + "/pid");
      QVERIFY(pid.open(QIODevice::WriteOnly));
      pid.write(QByteArray::number(sleeper.processId()) + "\n");
    }
    other.updateJob(id, JobState::Running, 0.55, "epoch 3/5, loss 0.4200");
    const panseg::db::JobTableModel* model = s.ws->jobs->model();
    QTRY_VERIFY_WITH_TIMEOUT(model->rowCount() == 1, 8000);
    QTRY_VERIFY_WITH_TIMEOUT(dock->isVisible(), 8000);
    QCOMPARE(model->index(0, panseg::db::JobTableModel::StateColumn).data().toString(), QString("running"));
    QCOMPARE(model->index(0, panseg::db::JobTableModel::ProgressColumn).data().toString(), QString("55%"));
    other.updateJob(id, JobState::Running, 0.8, "epoch 4/5, loss 0.3100");
    QTRY_COMPARE_WITH_TIMEOUT(model->index(0, panseg::db::JobTableModel::ProgressColumn).data().toString(),
                              QString("80%"), 4000); // polled every 1.5 s while the dock is shown
    QVERIFY(model->index(0, panseg::db::JobTableModel::MessageColumn).data().toString().contains("epoch 4/5"));
    sleeper.kill();
    sleeper.waitForFinished();
  }

  // ---- 10. layout, shortcuts, Help ------------------------------------------------------------------
  void layoutKeepsTheViewsLarge()
  {
    Fixture f;
    setUp(f, 1);
    QVERIFY(!QTest::currentTestFailed());
    Session s(f, "coord");
    MainWindow& w = *s.w;
    s.ws->jobsDock->show();
    QDockWidget* volumes = s.ws->showVolumes();
    QApplication::processEvents();
    QTest::qWait(100);
    // Jobs and Volumes share one tabbed area; the views keep most of the height and width.
    QVERIFY(w.tabifiedDockWidgets(s.ws->jobsDock).contains(volumes));
    QVERIFY(s.ws->browser->selectSeries(f.series[0]));
    QTest::mouseClick(s.ws->browser->openButton(), Qt::LeftButton);
    screenshot(w, "layout");
    const QWidget* views = w.centralWidget();
    QVERIFY2(views->height() >= w.height() * 55 / 100,
             qPrintable(QString("views %1 of %2 px high").arg(views->height()).arg(w.height())));
    QVERIFY2(views->width() >= w.width() * 40 / 100,
             qPrintable(QString("views %1 of %2 px wide").arg(views->width()).arg(w.width())));
    // Help is the last menu (after the workstation's Study menu) and has About.
    const QList<QAction*> menus = w.menuBar()->actions();
    QCOMPARE(menus.last()->text().remove('&'), QString("Help"));
    QAction* about = w.findChild<QAction*>("aboutAction");
    QVERIFY(about && menus.last()->menu()->actions().contains(about));
    about->trigger();
    auto* box = w.findChild<QMessageBox*>("aboutBox");
    QVERIFY(box);
    QVERIFY2(box->text().contains(QApplication::applicationVersion()) && box->text().contains("Research use only") &&
                 box->text().contains("Licence"),
             qPrintable(box->text()));
    box->close();
  }

  void brushKeysWorkWhereverTheFocusIs()
  {
    Fixture f;
    setUp(f, 1);
    QVERIFY(!QTest::currentTestFailed());
    Session s(f, "coord");
    MainWindow& w = *s.w;
    QString error;
    QVERIFY2(w.loadImageBlocking(f.imagePaths[0], &error), qPrintable(error));
    panseg::ui::EditController* edit = w.editController();
    edit->setTool(panseg::ui::EditController::Tool::Paint);
    // Focus in the study browser's table, not in a slice view.
    QTableView* table = s.ws->browser->seriesView();
    table->setFocus();
    QTRY_VERIFY(table->hasFocus());
    const double before = edit->brushRadiusMm();
    QTest::keyClick(table, Qt::Key_Plus);
    QVERIFY2(edit->brushRadiusMm() > before, qPrintable(QString("%1 -> %2").arg(before).arg(edit->brushRadiusMm())));
    const double larger = edit->brushRadiusMm();
    QTest::keyClick(table, Qt::Key_Minus);
    QVERIFY(edit->brushRadiusMm() < larger);
    // With the navigation tool the keys zoom the focused slice view as before.
    edit->setTool(panseg::ui::EditController::Tool::Navigate);
    const double zoom = w.model()->viewState(panseg::SliceOrientation::Axial).zoom;
    w.sliceView(VK::Axial)->setFocus();
    QTest::keyClick(w.sliceView(VK::Axial), Qt::Key_Plus);
    QVERIFY(w.model()->viewState(panseg::SliceOrientation::Axial).zoom > zoom);
  }

#ifdef PANSEG_WORKER_PATH
  // ---- 7. prediction in the background -------------------------------------------------------------
  void predictionRunsInTheBackground()
  {
    Fixture f;
    setUp(f, 1);
    QVERIFY(!QTest::currentTestFailed());
    qputenv("PANSEG_WORKER", PANSEG_WORKER_PATH);
    // Fast mode (no TTA), remembered for coord: the CPU here needs minutes for the full TTA.
    QSettings(QStringLiteral("PanSeg"), QStringLiteral("PanSeg Workstation"))
        .setValue(MainWindow::settingsKeyFor("coord", "predict/fast"), true);
    Session s(f, "coord");
    MainWindow& w = *s.w;
    QVERIFY(s.ws->browser->selectSeries(f.series[0]));
    QTest::mouseClick(s.ws->browser->openButton(), Qt::LeftButton);
    QVERIFY(w.model()->hasMask());
    const LabelMask shown = w.model()->mask();
    QSignalSpy finished(&w, &MainWindow::predictionFinished);
    QVERIFY(w.predictPancreas(PANSEG_DEMO_MODEL));
    QVERIFY(w.isPredicting());
    QVERIFY(w.predictionStatus()->isVisible());
    QVERIFY(!QApplication::activeModalWidget());
    auto* cancel = w.predictionStatus()->findChild<QToolButton*>("cancelPrediction");
    QVERIFY(cancel && cancel->isVisible());
    screenshot(w, "predicting");
    // The views respond: a slice step.
    const int slice = w.model()->sliceIndex(panseg::SliceOrientation::Axial);
    w.sliceView(VK::Axial)->setFocus();
    QTest::keyClick(w.sliceView(VK::Axial), Qt::Key_Down);
    QCOMPARE(w.model()->sliceIndex(panseg::SliceOrientation::Axial), slice - 1);
    // An edit of the mask being replaced is refused, with the reason.
    panseg::ui::EditController* edit = w.editController();
    edit->setTool(panseg::ui::EditController::Tool::Paint);
    QSignalSpy refused(edit, &panseg::ui::EditController::errorOccurred);
    edit->pressAt(panseg::SliceOrientation::Axial, {24, 20, int64_t(slice - 1)});
    edit->release();
    QVERIFY(!edit->isModified());
    QVERIFY(sameVoxels(w.model()->mask(), shown));
    QVERIFY(!refused.isEmpty());
    QVERIFY2(refused.last().at(0).toString().contains("prediction"), qPrintable(refused.last().at(0).toString()));
    // It lands: edits are allowed again.
    QVERIFY(finished.wait(300000));
    QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(finished.at(0).at(1).toString()));
    QVERIFY(!w.predictionStatus()->isVisible());
    QVERIFY(!edit->isLocked());
    edit->pressAt(panseg::SliceOrientation::Axial, {24, 20, int64_t(slice - 1)});
    edit->release();
    QVERIFY(edit->isModified());
  }
#endif
};

int main(int argc, char** argv)
{
  // Settings, recovery files and predictions go to throw-away folders, not the user's.
  QTemporaryDir config, data;
  qputenv("XDG_CONFIG_HOME", config.path().toLocal8Bit());
  qputenv("XDG_DATA_HOME", data.path().toLocal8Bit());
  MainWindow::configurePlatform();
  QApplication app(argc, argv);
  QApplication::setApplicationName("PanSeg Workstation");
  QApplication::setOrganizationName("PanSeg");
  QApplication::setApplicationVersion("9.8.7-test");
  qputenv("QTEST_FUNCTION_TIMEOUT", "900000"); // the prediction on a shared 2-core CPU
  TstReviewWorkstation t;
  return QTest::qExec(&t, argc, argv);
}
#include "tst_review_workstation.moc"
