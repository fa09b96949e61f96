// Issue 20's leftovers between the features, driven as users drive them: the real main window with
// ui::attachWorkstation on a real study database (local mode), under Xvfb.
//  * prediction during a from-scratch read follows the study's setting (off by default; the
//    coordinator allows it in the New study dialog or the dock's box; a reader cannot change it);
//  * the Review dock's queue follows submissions without Refresh (the in-process signals; the
//    server's notifications are tests/server/tst_server_gui);
//  * a read-only review refuses Predict with its reason, and its lock stays;
//  * the 3D view reframes on a newly shown mask but not on edits of the shown one;
//  * View > Save Screenshot of Active View / of All Views (PNG of the expected size, not blank) and
//    Copy View to Clipboard.
#include "ReviewFixture.h"

#include "ui/EditController.h"
#include "ui/MainWindow.h"
#include "ui/ReaderStudyPanel.h"
#include "ui/ReviewPanel.h"
#include "ui/SliceView.h"
#include "ui/StudyBrowser.h"
#include "ui/SurfaceView.h"
#include "ui/ViewerModel.h"
#include "ui/Workstation.h"

#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDockWidget>
#include <QDir>
#include <QImageReader>
#include <QLineEdit>
#include <QMessageBox>
#include <QTimer>

#include <cmath>
#include <memory>
#include <set>

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
      w->editController()->markSaved();
    closeMessageBoxes();
  }
};

/// Saves a widget's picture in $PANSEG_REVIEW_SCREENSHOTS (for people to look at).
void screenshot(QWidget* widget, const QString& name)
{
  const QString dir = qEnvironmentVariable("PANSEG_REVIEW_SCREENSHOTS");
  if (dir.isEmpty())
    return;
  QDir().mkpath(dir);
  QTest::qWait(200);
  QVERIFY(widget->grab().save(dir + "/" + name + ".png"));
}

/// The number of distinct colours in `img` (a blank picture has one or two).
int colourCount(const QImage& img)
{
  std::set<QRgb> colours;
  const QImage rgb = img.convertToFormat(QImage::Format_RGB32);
  for (int y = 0; y < rgb.height(); y += 2)
    for (int x = 0; x < rgb.width(); x += 2)
    {
      colours.insert(rgb.pixel(x, y));
      if (colours.size() > 200)
        return int(colours.size());
    }
  return int(colours.size());
}

/// A box of label 1 on `like`'s grid, voxels [x0, x1) x [y0, y1) x [z0, z1).
LabelMask boxMask(const LabelMask& like, int x0, int x1, int y0, int y1, int z0, int z1)
{
  LabelMask m(like.geometry, 0);
  for (int z = z0; z < z1; ++z)
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x)
        m.at(x, y, z) = 1;
  return m;
}

/// The physical centre of the box's voxel centres.
std::array<double, 3> boxCentre(const LabelMask& like, int x0, int x1, int y0, int y1, int z0, int z1)
{
  const auto p = like.geometry.indexToPhysical({(x0 + x1 - 1) / 2.0, (y0 + y1 - 1) / 2.0, (z0 + z1 - 1) / 2.0});
  return {p[0], p[1], p[2]};
}

double distance(const std::array<double, 3>& a, const std::array<double, 3>& b)
{
  return std::sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) + (a[2] - b[2]) * (a[2] - b[2]));
}
} // namespace

class TstReviewJoints : public QObject
{
  Q_OBJECT
private slots:
  void cleanup()
  {
    closeMessageBoxes();
    qunsetenv("PANSEG_USER");
  }

  // ---- prediction during a from-scratch read is the study's setting -------------------------------
  void predictFollowsTheStudySetting()
  {
    Fixture f;
    setUp(f, 1, "coord");
    QVERIFY(!QTest::currentTestFailed());
    const int64_t study = createStudy(f, "scratch study");
    auto setAllowed = [&](bool on)
    {
      StudyDatabase db(f.dir.toStdString(), as("carol"));
      ReaderStudy(db).setAllowPrediction(study, on);
    };
    Session bob(f, "bob");
    MainWindow& w = *bob.w;
    const int64_t read = [&] {
      StudyDatabase db(f.dir.toStdString(), as("bob"));
      return ReaderStudy(db).worklist(study).reads.front().id;
    }();
    QVERIFY(bob.ws->readerPanel->openRead(read));
    // Off by default: the tooltip says why and who can change it.
    QVERIFY(!w.predictAction()->isEnabled());
    QVERIFY2(w.predictAction()->toolTip().contains("coordinator can allow"), qPrintable(w.predictAction()->toolTip()));
    // The reader sees the study's setting in the dock, but cannot change it.
    auto* box = bob.ws->readerPanel->findChild<QCheckBox*>("studyAllowPrediction");
    QVERIFY(box);
    QVERIFY(!box->isHidden());
    QVERIFY(!box->isChecked());
    QVERIFY(!box->isEnabled());
    QVERIFY(!bob.ws->readerPanel->setAllowPrediction(true));
    closeMessageBoxes();
    screenshot(&w, "joints-predict-off");

    // The coordinator allows it: the next time the read is shown (or the policy is asked again),
    // Predict is on; forbidding it turns it off again.
    setAllowed(true);
    QVERIFY(bob.ws->readerPanel->openRead(read));
    QVERIFY2(w.predictAction()->isEnabled(), qPrintable(w.predictAction()->toolTip()));
    bob.ws->readerPanel->refresh();
    QVERIFY(box->isChecked());
    QVERIFY(!box->isEnabled());
    screenshot(&w, "joints-predict-allowed");
    setAllowed(false);
    w.reapplyPredictionPolicy();
    QVERIFY(!w.predictAction()->isEnabled());
    QString error;
    QVERIFY2(w.loadImageBlocking(f.imagePaths[0], &error), qPrintable(error)); // also when opened as a file
    QVERIFY(!w.predictAction()->isEnabled());
  }

  void coordinatorSetsPredictionInTheDialogAndTheDock()
  {
    Fixture f;
    setUp(f, 1, "coord");
    QVERIFY(!QTest::currentTestFailed());
    Session carol(f, "carol");
    panseg::ui::ReaderStudyPanel* panel = carol.ws->readerPanel;
    carol.ws->readerDock->show();
    carol.ws->readerDock->raise();
    // New study... with the box ticked.
    bool filled = false;
    QTimer::singleShot(200, [&] {
      auto* dlg = qobject_cast<QDialog*>(QApplication::activeModalWidget());
      if (!dlg || dlg->objectName() != "newReaderStudyDialog")
        return;
      dlg->findChild<QLineEdit*>("name")->setText("dialog study");
      dlg->findChild<QLineEdit*>("readers")->setText("alice, bob");
      auto* allow = dlg->findChild<QCheckBox*>("allowPrediction");
      QVERIFY(allow && allow->isEnabled() && !allow->isChecked()); // off by default
      allow->setChecked(true);
      screenshot(dlg, "joints-new-study-dialog");
      filled = true;
      dlg->accept();
    });
    panel->createStudyDialog();
    QVERIFY(filled);
    StudyDatabase db(f.dir.toStdString(), as("carol"));
    const ReaderStudyInfo info = ReaderStudy(db).findStudy("dialog study");
    QVERIFY(info.allowPrediction);
    QCOMPARE(panel->currentStudyId(), info.id);
    // The dock's box shows it and, for the coordinator, changes it (audited).
    auto* box = panel->findChild<QCheckBox*>("studyAllowPrediction");
    QVERIFY(box && !box->isHidden() && box->isEnabled() && box->isChecked());
    screenshot(carol.ws->readerDock, "joints-reader-dock-coordinator");
    box->click();
    QVERIFY(!ReaderStudy(db).study(info.id).allowPrediction);
    QCOMPARE(db.auditLog("reader_studies", info.id).back().action, std::string("set-study-prediction"));
    // A start-from-AI study has nothing to allow: the dialog's box is off and disabled there.
    QTimer::singleShot(200, [&] {
      auto* dlg = qobject_cast<QDialog*>(QApplication::activeModalWidget());
      if (!dlg)
        return;
      auto* allow = dlg->findChild<QCheckBox*>("allowPrediction");
      allow->setChecked(true);
      for (QComboBox* c : dlg->findChildren<QComboBox*>())
        if (c->findText("ai") >= 0 && c->findText("scratch") >= 0)
          c->setCurrentText("ai");
      filled = !allow->isEnabled() && !allow->isChecked();
      dlg->reject();
    });
    filled = false;
    panel->createStudyDialog();
    QVERIFY(filled);
  }

  // ---- the Review dock follows submissions ----------------------------------------------------------
  void reviewQueueFollowsSubmissionsWithoutRefresh()
  {
    Fixture f;
    setUp(f, 2, "coord");
    QVERIFY(!QTest::currentTestFailed());
    createStudy(f, "queue study");
    Session carol(f, "carol");
    panseg::ui::ReviewPanel* review = carol.ws->review;
    const size_t before = review->queue().size();
    // A version submitted for approval in the study browser (outside any study).
    panseg::ui::StudyBrowser* browser = carol.ws->browser;
    browser->selectSeries(f.series[1]);
    const int64_t version = browser->saveMaskVersion(f.series[1], f.truths[1], f.aiMasks[1]);
    QVERIFY(version > 0);
    QString error;
    QVERIFY2(browser->submitMaskVersion(version, &error), qPrintable(error));
    QTRY_COMPARE_WITH_TIMEOUT(review->queue().size(), before + 1, 2000);
    carol.ws->reviewDock->show();
    carol.ws->reviewDock->raise();
    screenshot(carol.ws->reviewDock, "joints-review-queue");
    // Approving it in the browser takes it off the queue, again without Refresh.
    QVERIFY2(browser->approveMaskVersion(version, &error), qPrintable(error));
    QTRY_COMPARE_WITH_TIMEOUT(review->queue().size(), before, 2000);
  }

  // ---- a review stays read-only: Predict refused -------------------------------------------------------
  void reviewRefusesPredictionAndKeepsItsLock()
  {
    Fixture f;
    setUp(f, 1, "coord");
    QVERIFY(!QTest::currentTestFailed());
    const int64_t study = createStudy(f, "review lock");
    {
      StudyDatabase db(f.dir.toStdString(), as("alice"));
      ReaderStudy rs(db);
      const int64_t read = rs.worklist(study).reads.front().id;
      rs.startRead(read);
      rs.submitRead(read, f.truths[0]);
    }
    Session carol(f, "carol");
    MainWindow& w = *carol.w;
    panseg::ui::ReviewPanel* review = carol.ws->review;
    review->refresh();
    QVERIFY(!review->queue().empty());
    QVERIFY(review->showQueueItem(0));
    QTRY_VERIFY(w.model()->hasMask());
    panseg::ui::EditController* edit = w.editController();
    QVERIFY(edit->isLocked());
    const QString lock = edit->lockReason();
    QVERIFY(!w.predictAction()->isEnabled());
    QVERIFY2(w.predictAction()->toolTip().contains("read-only review"), qPrintable(w.predictAction()->toolTip()));
    QVERIFY(!w.predictPancreas());
    closeMessageBoxes();
    QCOMPARE(edit->lockReason(), lock); // still read-only
    screenshot(&w, "joints-review-predict-off");
    // Leaving the review (the series opened from the browser) gives Predict back to the coordinator.
    QString error;
    QVERIFY2(w.loadImageBlocking(f.imagePaths[0], &error), qPrintable(error));
    QVERIFY(!edit->isLocked());
    QVERIFY2(w.predictAction()->isEnabled(), qPrintable(w.predictAction()->toolTip()));
  }

  // ---- the 3D view reframes on a new mask -----------------------------------------------------------
  void surfaceReframesOnANewMaskOnly()
  {
    Fixture f;
    setUp(f, 1, "coord");
    QVERIFY(!QTest::currentTestFailed());
    MainWindow w;
    w.resize(1200, 900);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QString error;
    QVERIFY2(w.loadImageBlocking(f.imagePaths[0], &error), qPrintable(error));
    panseg::ui::SurfaceView* surface = w.surfaceView();
    QVERIFY(surface);
    const LabelMask& like = f.truths[0]; // 48 x 40 x 20
    // A mask in one corner of the volume: the camera looks at its centre.
    w.setMask(boxMask(like, 2, 10, 3, 9, 2, 6));
    surface->waitForSurface();
    const auto a = boxCentre(like, 2, 10, 3, 9, 2, 6);
    QVERIFY2(distance(surface->cameraFocalPoint(), a) < 8.0,
             qPrintable(QString("focal %1 %2 %3, mask A centre %4 %5 %6")
                            .arg(surface->cameraFocalPoint()[0]).arg(surface->cameraFocalPoint()[1])
                            .arg(surface->cameraFocalPoint()[2]).arg(a[0]).arg(a[1]).arg(a[2])));
    // An edit of the shown mask far away (a committed stroke) keeps the camera.
    const auto before = surface->cameraFocalPoint();
    w.model()->commitEditedMask(std::make_shared<const LabelMask>(
        [&] {
          LabelMask m = boxMask(like, 2, 10, 3, 9, 2, 6);
          for (int z = 14; z < 18; ++z)
            for (int y = 30; y < 36; ++y)
              for (int x = 38; x < 45; ++x)
                m.at(x, y, z) = 1;
          return m;
        }()));
    surface->waitForSurface();
    QTest::qWait(100);
    QVERIFY(distance(surface->cameraFocalPoint(), before) < 1e-6);
    // Another mask elsewhere in the volume (opened, e.g. another version): the camera moves to it.
    w.setMask(boxMask(like, 36, 46, 28, 38, 12, 18));
    surface->waitForSurface();
    const auto b = boxCentre(like, 36, 46, 28, 38, 12, 18);
    QVERIFY2(distance(surface->cameraFocalPoint(), b) < 8.0,
             qPrintable(QString("focal %1 %2 %3, mask B centre %4 %5 %6")
                            .arg(surface->cameraFocalPoint()[0]).arg(surface->cameraFocalPoint()[1])
                            .arg(surface->cameraFocalPoint()[2]).arg(b[0]).arg(b[1]).arg(b[2])));
    QVERIFY(distance(a, b) > 100.0); // the two are far apart: the check above means something
    // The first stroke on an image without a mask starts an empty one; the camera does not jump to
    // frame that single stroke.
    QVERIFY2(w.loadImageBlocking(f.imagePaths[0], &error), qPrintable(error));
    surface->waitForSurface();
    const auto boxCentreView = surface->cameraFocalPoint();
    w.model()->setMask(LabelMask(like.geometry, 0));
    w.model()->commitEditedMask(std::make_shared<const LabelMask>(boxMask(like, 2, 6, 3, 6, 2, 4)));
    surface->waitForSurface();
    QTest::qWait(100);
    QVERIFY2(distance(surface->cameraFocalPoint(), boxCentreView) < 1e-6,
             qPrintable(QString("moved by %1 mm").arg(distance(surface->cameraFocalPoint(), boxCentreView))));
  }

  // ---- screenshots and the clipboard ------------------------------------------------------------------
  void screenshotsAndClipboard()
  {
    Fixture f;
    setUp(f, 1, "coord");
    QVERIFY(!QTest::currentTestFailed());
    MainWindow w;
    w.resize(1200, 900);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QString error;
    QVERIFY2(w.loadImageBlocking(f.imagePaths[0], &error), qPrintable(error));
    w.setMask(f.truths[0]);
    w.surfaceView()->waitForSurface();
    w.activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(&w));
    QTemporaryDir out;
    // The active view is the one clicked last: the coronal view.
    QTest::mouseClick(w.sliceView(VK::Coronal), Qt::LeftButton, {}, w.sliceView(VK::Coronal)->rect().center());
    QTRY_COMPARE(w.activeView(), VK::Coronal);
    const QString coronal = out.filePath("coronal"); // ".png" is added
    QVERIFY2(w.saveViewScreenshot(coronal, false, &error), qPrintable(error));
    QImageReader reader(coronal + ".png");
    QCOMPARE(reader.format(), QByteArray("png"));
    const QImage c = reader.read();
    const qreal dpr = w.sliceView(VK::Coronal)->devicePixelRatioF();
    QCOMPARE(c.size(), w.sliceView(VK::Coronal)->size() * dpr);
    QVERIFY2(colourCount(c) > 20, qPrintable(QString::number(colourCount(c))));
    // The 3D view, from its framebuffer.
    QTest::mouseClick(w.surfaceView(), Qt::LeftButton, {}, QPoint(5, 5));
    QTRY_COMPARE(w.activeView(), VK::Surface3D);
    const QString three = out.filePath("3d.png");
    QVERIFY2(w.saveViewScreenshot(three, false, &error), qPrintable(error));
    const QImage t(three);
    QCOMPARE(t.size(), w.surfaceView()->size() * dpr);
    QVERIFY2(colourCount(t) > 20, qPrintable(QString::number(colourCount(t))));
    // The whole grid: as large as the view area, the 3D quadrant not blank either.
    const QString grid = out.filePath("grid.png");
    QVERIFY2(w.saveViewScreenshot(grid, true, &error), qPrintable(error));
    const QImage g(grid);
    QWidget* area = w.findChild<QWidget*>("viewArea");
    QVERIFY(area);
    QCOMPARE(g.size(), area->size() * dpr);
    const QRect r3d(w.surfaceView()->mapTo(area, QPoint(0, 0)) * dpr, w.surfaceView()->size() * dpr);
    QVERIFY2(colourCount(g.copy(r3d)) > 20, qPrintable(QString::number(colourCount(g.copy(r3d)))));
    QVERIFY(colourCount(g.copy(QRect(QPoint(0, 0), w.sliceView(VK::Axial)->size() * dpr))) > 20);
    if (const QString dir = qEnvironmentVariable("PANSEG_REVIEW_SCREENSHOTS"); !dir.isEmpty())
    {
      QDir().mkpath(dir);
      g.save(dir + "/joints-grid-screenshot.png");
      t.save(dir + "/joints-3d-screenshot.png");
    }
    // An unwritable place is an error with the path.
    QVERIFY(!w.saveViewScreenshot("/nonexistent-folder/x.png", true, &error));
    QVERIFY2(error.contains("/nonexistent-folder/x.png"), qPrintable(error));
    // Copy View to Clipboard (Ctrl+Shift+C): the active view as an image.
    QGuiApplication::clipboard()->clear();
    auto* copy = w.findChild<QAction*>("copyViewToClipboard");
    QVERIFY(copy);
    QCOMPARE(copy->shortcut(), QKeySequence(QStringLiteral("Ctrl+Shift+C")));
    copy->trigger();
    QTRY_VERIFY(!QGuiApplication::clipboard()->image().isNull());
    const QImage clip = QGuiApplication::clipboard()->image();
    QCOMPARE(clip.size(), w.surfaceView()->size() * dpr);
    QVERIFY(colourCount(clip) > 20);
    QVERIFY(w.findChild<QAction*>("saveActiveViewScreenshot"));
    QVERIFY(w.findChild<QAction*>("saveViewGridScreenshot"));
  }
};

int main(int argc, char** argv)
{
  // Settings and recovery files go to throw-away folders, not the user's.
  QTemporaryDir config, data;
  qputenv("XDG_CONFIG_HOME", config.path().toLocal8Bit());
  qputenv("XDG_DATA_HOME", data.path().toLocal8Bit());
  MainWindow::configurePlatform();
  QApplication app(argc, argv);
  QApplication::setApplicationName("PanSeg Workstation");
  QApplication::setOrganizationName("PanSeg");
  TstReviewJoints t;
  return QTest::qExec(&t, argc, argv);
}
#include "tst_review_joints.moc"
