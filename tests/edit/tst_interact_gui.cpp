// Grow from seeds in the real main window under Xvfb (docs/interactive.md): the Grow tool from
// the Edit toolbar, foreground scribbles (left drag) and background scribbles (Ctrl + left drag)
// with simulated mouse events on the axial view of a generated phantom; every scribble that grows
// is one undo step, the result approaches the phantom's pancreas, nothing is saved. A screenshot
// of the window with the scribbles goes to /tmp/panseg-interact/grow.png.
#include "../GuiTestMain.h"
#include "core/demo/PhantomGenerator.h"
#include "core/edit/RobotUser.h"
#include "core/metrics/DistanceTransform.h"
#include "ui/EditController.h"
#include "ui/MainWindow.h"
#include "ui/SliceView.h"
#include "ui/ViewerModel.h"
#include "ui/WorkerSession.h"

#include "DamagedPhantom.h"
#include <QAction>
#include <QApplication>
#include <QDir>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QSpinBox>

#include <QtTest>

using namespace panseg;
using panseg::ui::EditController;
using panseg::ui::MainWindow;

namespace
{
/// The pancreas voxel of slice z farthest from the organ's border in that slice.
std::array<int64_t, 3> deepestOnSlice(const LabelMask& truth, int64_t z)
{
  const Size3 n{truth.nx(), truth.ny(), 1};
  std::vector<uint8_t> outside(static_cast<size_t>(n[0] * n[1]));
  for (int64_t y = 0; y < n[1]; ++y)
    for (int64_t x = 0; x < n[0]; ++x)
      outside[static_cast<size_t>(x + n[0] * y)] = truth.at(x, y, z) == 0;
  const std::vector<double> d = squaredDistanceTransformMm2(outside, n, truth.geometry.spacingMm, 1);
  const size_t best = static_cast<size_t>(std::max_element(d.begin(), d.end()) - d.begin());
  return {static_cast<int64_t>(best) % n[0], static_cast<int64_t>(best) / n[0], z};
}
} // namespace

class TestInteractGui : public QObject
{
  Q_OBJECT
private slots:
  void growFromSeedsWithTheMouse()
  {
    demo::PhantomOptions po;
    po.seed = 7;
    po.generateMr = false;
    const demo::Phantom ph = demo::generatePhantom(po);
    const edit::Box tb = edit::labelBoundingBox(ph.pancreas, 1);

    MainWindow w;
    w.resize(1200, 950);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    w.setImage(ph.ct);
    EditController* edit = w.editController();
    QVERIFY(edit);
    edit->setRecoveryDir(QDir::tempPath() + "/panseg-interact-recovery");
    auto* grow = w.findChild<QAction*>("toolGrowSeeds");
    QVERIFY(grow);
    grow->trigger();
    QCOMPARE(edit->tool(), EditController::Tool::GrowSeeds);
    auto* size = w.findChild<QDoubleSpinBox*>("brushRadiusMm");
    QVERIFY(size);
    size->setValue(2.0);

    ui::SliceView* axial = w.sliceView(MainWindow::ViewKind::Axial);
    const int64_t zc = (tb.lo[2] + tb.hi[2]) / 2;
    std::vector<double> dice;
    size_t undoSteps = 0;
    for (int64_t z : {zc, zc - 3, zc + 3})
    {
      w.setSliceIndex(MainWindow::ViewKind::Axial, static_cast<int>(z));
      QApplication::processEvents();
      // Foreground: a short scribble through the slice's deepest pancreas voxel.
      const auto c = deepestOnSlice(ph.pancreas, z);
      QVERIFY(ph.pancreas.at(c[0], c[1], c[2]) == 1);
      QTest::mousePress(axial, Qt::LeftButton, {}, axial->voxelToWidget(c).toPoint());
      for (int64_t dx = -2; dx <= 2; ++dx)
        if (ph.pancreas.at(c[0] + dx, c[1], z))
          QTest::mouseMove(axial, axial->voxelToWidget({c[0] + dx, c[1], z}).toPoint());
      QTest::mouseRelease(axial, Qt::LeftButton, {}, axial->voxelToWidget(c).toPoint());
      // Background: Ctrl + a rectangle around the organ's box on this slice.
      const int64_t x0 = tb.lo[0] - 4, x1 = tb.hi[0] + 3, y0 = tb.lo[1] - 4, y1 = tb.hi[1] + 3;
      const std::array<std::array<int64_t, 3>, 5> corners{
        {{x0, y0, z}, {x1, y0, z}, {x1, y1, z}, {x0, y1, z}, {x0, y0, z}}};
      QTest::mousePress(axial, Qt::LeftButton, Qt::ControlModifier,
                        axial->voxelToWidget(corners[0]).toPoint());
      for (const auto& p : corners)
        QTest::mouseMove(axial, axial->voxelToWidget(p).toPoint());
      QTest::mouseRelease(axial, Qt::LeftButton, Qt::ControlModifier,
                          axial->voxelToWidget(corners.back()).toPoint());
      QApplication::processEvents();
      QVERIFY(w.model()->hasMask());
      dice.push_back(edit::diceOf(w.model()->mask(), 1, ph.pancreas, 1));
      QVERIFY2(edit->undoMemoryBytes() > 0, "grown result is an undo step");
      undoSteps += 2;
      QVERIFY(edit->lastGrowStats().regionVoxels > 0);
    }
    qInfo("Dice after each pair of scribbles: %.3f %.3f %.3f (last update %.1f ms, %s)", dice[0], dice[1],
          dice[2], edit->lastGrowStats().milliseconds,
          edit->lastGrowStats().incremental ? "incremental" : "from scratch");
    const auto counts = edit->growSeedCounts();
    QVERIFY(counts[0] > 0 && counts[1] > 0);
    QVERIFY2(dice.back() > 0.5, qPrintable(QString("Dice %1").arg(dice.back())));
    QVERIFY2(dice.back() > dice.front(), "more scribbles must improve the result");
    QVERIFY(edit->isModified()); // nothing saved until the user saves

    // Screenshot with the scribbles on the axial view.
    w.setSliceIndex(MainWindow::ViewKind::Axial, static_cast<int>(zc));
    QDir().mkpath("/tmp/panseg-interact");
    QVERIFY(w.grabAll().save("/tmp/panseg-interact/grow.png"));

    // Each grown scribble is one undo step: undo them all back to an empty mask.
    int undone = 0;
    while (edit->canUndo())
    {
      edit->undo();
      ++undone;
    }
    QVERIFY(undone >= 3 && static_cast<size_t>(undone) <= undoSteps);
    QCOMPARE(w.model()->mask().countLabel(1), int64_t{0});
    edit->restartGrowSeeds();
    QCOMPARE(edit->growSeedCounts()[0], int64_t{0});
  }

  // Edit > Grow Method > Region Growing (ITK confidence connected): the same Grow tool, another
  // method; one foreground scribble grows a region, one undo step takes it back.
  void regionGrowingMethodInTheWindow()
  {
    demo::PhantomOptions po;
    po.seed = 7;
    po.generateMr = false;
    const demo::Phantom ph = demo::generatePhantom(po);
    const edit::Box tb = edit::labelBoundingBox(ph.pancreas, 1);
    MainWindow w;
    w.resize(1200, 950);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    w.setImage(ph.ct);
    EditController* edit = w.editController();
    edit->setRecoveryDir(QDir::tempPath() + "/panseg-interact-recovery");
    auto* method = w.findChild<QAction*>("growMethod-confidence");
    QVERIFY(method);
    method->trigger();
    QCOMPARE(edit->growMethod(), EditController::GrowMethod::ConfidenceConnected);
    QVERIFY(!w.findChild<QAction*>("growMethod-growcut")->isChecked());
    w.findChild<QAction*>("toolGrowSeeds")->trigger();
    w.findChild<QDoubleSpinBox*>("brushRadiusMm")->setValue(2.0);
    ui::SliceView* axial = w.sliceView(MainWindow::ViewKind::Axial);
    const int64_t z = (tb.lo[2] + tb.hi[2]) / 2;
    w.setSliceIndex(MainWindow::ViewKind::Axial, static_cast<int>(z));
    QApplication::processEvents();
    const auto c = deepestOnSlice(ph.pancreas, z);
    QTest::mousePress(axial, Qt::LeftButton, {}, axial->voxelToWidget(c).toPoint());
    QTest::mouseMove(axial, axial->voxelToWidget({c[0] + 1, c[1], z}).toPoint());
    QTest::mouseRelease(axial, Qt::LeftButton, {}, axial->voxelToWidget({c[0] + 1, c[1], z}).toPoint());
    QApplication::processEvents();
    QVERIFY(w.model()->hasMask());
    const int64_t grown = w.model()->mask().countLabel(1);
    const double dice = edit::diceOf(w.model()->mask(), 1, ph.pancreas, 1);
    qInfo("ITK region growing from one scribble: %lld voxels, Dice %.3f, %.1f ms", static_cast<long long>(grown), dice,
          edit->lastGrowStats().milliseconds);
    QVERIFY(grown > 0);
    QVERIFY(edit->lastGrowStats().regionVoxels > 0);
    QVERIFY(edit->isModified());
    edit->undo(); // one undo step
    QCOMPARE(w.model()->mask().countLabel(1), int64_t{0});
    // The level set from the same scribble: a smooth region around it, one undo step.
    edit->restartGrowSeeds();
    w.findChild<QAction*>("growMethod-levelset")->trigger();
    QCOMPARE(edit->growMethod(), EditController::GrowMethod::LevelSet);
    QVERIFY(!method->isChecked());
    QTest::mousePress(axial, Qt::LeftButton, {}, axial->voxelToWidget(c).toPoint());
    QTest::mouseMove(axial, axial->voxelToWidget({c[0] + 1, c[1], z}).toPoint());
    QTest::mouseRelease(axial, Qt::LeftButton, {}, axial->voxelToWidget({c[0] + 1, c[1], z}).toPoint());
    QApplication::processEvents();
    const int64_t levelSet = w.model()->mask().countLabel(1);
    qInfo("ITK level set from one scribble: %lld voxels, Dice %.3f, %.1f ms", static_cast<long long>(levelSet),
          edit::diceOf(w.model()->mask(), 1, ph.pancreas, 1), edit->lastGrowStats().milliseconds);
    QVERIFY(levelSet > 1000); // far more than its start (ellipsoids of 3 mm around the scribble)
    QVERIFY(edit::diceOf(w.model()->mask(), 1, ph.pancreas, 1) > 0.25);
    QCOMPARE(w.model()->mask().at(c[0], c[1], c[2]), uint8_t(1));
    QVERIFY(w.grabAll().save("/tmp/panseg-interact/levelset.png"));
    edit->undo();
    QCOMPARE(w.model()->mask().countLabel(1), int64_t{0});
    w.findChild<QAction*>("growMethod-growcut")->trigger();
    QCOMPARE(edit->growMethod(), EditController::GrowMethod::GrowCut);
  }

  void refineClicksWithTheMouse()
  {
    // A damaged mask (tail cut off, a false blob by the duodenum); robot clicks by mouse on the
    // axial view (Ctrl = negative) with the Refine tool; each click one undo step.
    demo::PhantomOptions po;
    po.seed = 5;
    po.generateMr = false;
    const demo::Phantom ph = demo::generatePhantom(po);
    const LabelMask damaged = testdata::damagedPancreas(ph);

    MainWindow w;
    w.resize(1200, 950);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    w.setImage(ph.ct);
    w.setMask(damaged);
    EditController* edit = w.editController();
    edit->setRecoveryDir(QDir::tempPath() + "/panseg-interact-recovery");
    QVERIFY(!w.modelTakesClicks()); // the default model: clicks grow from seeds
    auto* refine = w.findChild<QAction*>("toolRefine");
    QVERIFY(refine);
    refine->trigger();
    QCOMPARE(edit->tool(), EditController::Tool::Refine);
    ui::SliceView* axial = w.sliceView(MainWindow::ViewKind::Axial);
    std::vector<double> dice{edit::diceOf(w.model()->mask(), 1, ph.pancreas, 1)};
    bool sawNegative = false;
    for (int k = 0; k < 4; ++k)
    {
      const auto c = edit::nextRobotClick(w.model()->mask(), 1, ph.pancreas, 1);
      QVERIFY(c.has_value());
      sawNegative = sawNegative || !c->positive;
      w.setSliceIndex(MainWindow::ViewKind::Axial, int(c->voxel[2]));
      QApplication::processEvents();
      const QPoint pt = axial->voxelToWidget(c->voxel).toPoint();
      QCOMPARE(axial->widgetToVoxel(pt), c->voxel);
      QTest::mouseClick(axial, Qt::LeftButton, c->positive ? Qt::KeyboardModifiers{} : Qt::ControlModifier, pt);
      dice.push_back(edit::diceOf(w.model()->mask(), 1, ph.pancreas, 1));
    }
    qInfo("Refine clicks by mouse: Dice %.3f -> %.3f %.3f %.3f %.3f", dice[0], dice[1], dice[2], dice[3], dice[4]);
    QVERIFY2(dice.back() > 0.9, qPrintable(QString::number(dice.back())));
    QVERIFY(dice[1] > dice[0]);
    Q_UNUSED(sawNegative);
    int undone = 0;
    while (edit->canUndo())
    {
      edit->undo();
      ++undone;
    }
    QCOMPARE(undone, 4);
    QVERIFY(w.model()->mask().voxels == damaged.voxels);
  }

#ifdef PANSEG_WORKER_PATH
  void clickModelRepairsWithTheMouse()
  {
    // The same damaged mask, the Refine tool, and Segmentation > Model = the shipped
    // click-conditioned demo package: each mouse click goes to the model in the worker session
    // (every click so far + the current mask), its answer is one undo step.
    const QString clickModel = QString(PANSEG_DEMO_MODEL) + "/../demo-clicks";
    if (!QFileInfo::exists(clickModel + "/model.json"))
      QSKIP("the shipped click-conditioned demo model (resources/models/demo-clicks) is absent");
    qputenv("PANSEG_WORKER", PANSEG_WORKER_PATH);
    demo::PhantomOptions po;
    po.seed = 5;
    po.generateMr = false;
    const demo::Phantom ph = demo::generatePhantom(po);
    const LabelMask damaged = testdata::damagedPancreas(ph);

    MainWindow w;
    w.resize(1200, 950);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    w.setPredictionModelDir(clickModel);
    QVERIFY(w.modelTakesClicks());
    QVERIFY(!w.modelTakesClicks(PANSEG_DEMO_MODEL));
    w.setImage(ph.ct);
    w.setMask(damaged);
    EditController* edit = w.editController();
    edit->setRecoveryDir(QDir::tempPath() + "/panseg-interact-recovery");
    auto* refine = w.findChild<QAction*>("toolRefine");
    QVERIFY(refine);
    refine->trigger();
    ui::SliceView* axial = w.sliceView(MainWindow::ViewKind::Axial);
    std::vector<double> dice{edit::diceOf(w.model()->mask(), 1, ph.pancreas, 1)};
    QStringList seconds, onScreen;
    int steps = 0;
    for (int k = 0; k < 3; ++k)
    {
      const auto c = edit::nextRobotClick(w.model()->mask(), 1, ph.pancreas, 1);
      QVERIFY(c.has_value());
      w.setSliceIndex(MainWindow::ViewKind::Axial, int(c->voxel[2]));
      QApplication::processEvents();
      QSignalSpy done(&w, &MainWindow::boxPromptFinished);
      QElapsedTimer wall;
      wall.start();
      QTest::mouseClick(axial, Qt::LeftButton, c->positive ? Qt::KeyboardModifiers{} : Qt::ControlModifier,
                        axial->voxelToWidget(c->voxel).toPoint());
      QVERIFY2(done.wait(300000), "no answer from the click model");
      QApplication::processEvents(); // the overlay repaints
      onScreen << QString::number(wall.nsecsElapsed() / 1e9, 'f', 2);
      QVERIFY2(done.first().at(0).toBool(), qPrintable(done.first().at(1).toString()));
      QVERIFY2(done.first().at(1).toString().startsWith("Click " + QString(c->positive ? "+" : "-")),
               qPrintable(done.first().at(1).toString()));
      seconds << done.first().at(1).toString().section(" in ", 1).section(' ', 0, 0);
      const qint64 changed = done.first().at(1).toString().section(": ", 1).section(' ', 0, 0).toLongLong();
      steps += changed > 0 ? 1 : 0; // a click that changes nothing leaves no undo step
      dice.push_back(edit::diceOf(w.model()->mask(), 1, ph.pancreas, 1));
    }
    qInfo("click model by mouse: Dice %.3f -> %.3f %.3f %.3f (worker seconds %s; click to repainted overlay %s s, "
          "the first one starting the session)",
          dice[0], dice[1], dice[2], dice[3], qPrintable(seconds.join(", ")), qPrintable(onScreen.join(", ")));
    QVERIFY2(dice[3] > dice[0] + 0.03, "the click model's answers did not repair the mask");
    QVERIFY2(dice[3] > 0.9, qPrintable(QString::number(dice[3])));
    QVERIFY(w.grabAll().save("/tmp/panseg-interact/click-model.png"));
    // Undo takes the third answer back, and its click with it (Redo brings both back): the next
    // click goes to the model with the two clicks that still stand, not with the undone one.
    QCOMPARE(steps, 3); // every click of this case changes the mask (one undo step each)
    QCOMPARE(w.modelClickHistory().standing().size(), size_t(3));
    const LabelMask afterThree = w.model()->mask();
    edit->undo();
    QCOMPARE(w.modelClickHistory().standing().size(), size_t(2));
    edit->redo();
    QCOMPARE(w.modelClickHistory().standing().size(), size_t(3));
    edit->undo();
    QCOMPARE(w.modelClickHistory().standing().size(), size_t(2));
    {
      const auto c = edit::nextRobotClick(w.model()->mask(), 1, ph.pancreas, 1);
      QVERIFY(c.has_value());
      w.setSliceIndex(MainWindow::ViewKind::Axial, int(c->voxel[2]));
      QApplication::processEvents();
      QSignalSpy done(&w, &MainWindow::boxPromptFinished);
      QTest::mouseClick(axial, Qt::LeftButton, c->positive ? Qt::KeyboardModifiers{} : Qt::ControlModifier,
                        axial->voxelToWidget(c->voxel).toPoint());
      QVERIFY2(done.wait(300000), "no answer from the click model");
      QVERIFY2(done.first().at(0).toBool(), qPrintable(done.first().at(1).toString()));
      const std::vector<edit::Click> standing = w.modelClickHistory().standing();
      QCOMPARE(standing.size(), size_t(3)); // two that stood + this one (not 4)
      QVERIFY(standing.back().voxel == c->voxel);
      // The robot clicks where it clicked before the undo, and the model sees what it saw then.
      QVERIFY(w.model()->mask().voxels == afterThree.voxels);
    }
    int undone = 0;
    while (edit->canUndo())
    {
      edit->undo();
      ++undone;
    }
    QCOMPARE(undone, steps);
    QVERIFY(steps >= 1);
    QVERIFY(w.model()->mask().voxels == damaged.voxels);
    // Back at the mask before the first click (the editor's first state): no click stands.
    QVERIFY(w.modelClickHistory().standing().empty());
  }

  void boxPromptWithTheMouse()
  {
    qputenv("PANSEG_WORKER", PANSEG_WORKER_PATH);
    demo::PhantomOptions po;
    po.seed = 9; // not a training phantom
    po.generateMr = false;
    const demo::Phantom ph = demo::generatePhantom(po);
    const edit::Box tb = edit::labelBoundingBox(ph.pancreas, 1);

    MainWindow w;
    w.resize(1200, 950);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    w.setPredictionModelDir(PANSEG_DEMO_MODEL);
    w.setImage(ph.ct);
    LabelMask start(ph.ct.geometry, 0);
    start.at(2, 2, 2) = 1; // outside any box below: must survive
    w.setMask(start);
    EditController* edit = w.editController();
    edit->setRecoveryDir(QDir::tempPath() + "/panseg-interact-recovery");
    auto* boxTool = w.findChild<QAction*>("toolBox");
    QVERIFY(boxTool);
    boxTool->trigger();
    QCOMPARE(edit->tool(), EditController::Tool::Box);
    auto* slices = w.findChild<QSpinBox*>("boxSlices");
    QVERIFY(slices);
    slices->setValue(int(tb.hi[2] - tb.lo[2]) + 2);

    // Drag the rectangle on the axial view at the organ's middle slice.
    const int64_t zc = (tb.lo[2] + tb.hi[2]) / 2;
    w.setSliceIndex(MainWindow::ViewKind::Axial, int(zc));
    ui::SliceView* axial = w.sliceView(MainWindow::ViewKind::Axial);
    QApplication::processEvents();
    QSignalSpy done(&w, &MainWindow::boxPromptFinished);
    const std::array<int64_t, 3> a{tb.lo[0] - 2, tb.lo[1] - 2, zc}, b{tb.hi[0] + 1, tb.hi[1] + 1, zc};
    QTest::mousePress(axial, Qt::LeftButton, {}, axial->voxelToWidget(a).toPoint());
    QTest::mouseMove(axial, axial->voxelToWidget({(a[0] + b[0]) / 2, (a[1] + b[1]) / 2, zc}).toPoint());
    QTest::mouseMove(axial, axial->voxelToWidget(b).toPoint());
    QTest::mouseRelease(axial, Qt::LeftButton, {}, axial->voxelToWidget(b).toPoint());
    QVERIFY(edit->hasPromptBox());
    const edit::Box box = edit->promptBox();
    QCOMPARE(box.lo[0], a[0]);
    QCOMPARE(box.hi[1], b[1] + 1);
    QCOMPARE(box.hi[2] - box.lo[2], int64_t(slices->value()));
    // The worker runs in the background: the window keeps answering meanwhile.
    QVERIFY(w.isBoxPredicting());
    QElapsedTimer responsive;
    responsive.start();
    QApplication::processEvents();
    QVERIFY(responsive.elapsed() < 500);
    QVERIFY2(done.wait(300000), "no box result");
    QVERIFY2(done.first().at(0).toBool(), qPrintable(done.first().at(1).toString()));
    const double d = edit::diceOf(w.model()->mask().binary(1), 1, ph.pancreas, 1);
    qInfo("box prompt through the GUI: %s; Dice %.3f", qPrintable(done.first().at(1).toString()), d);
    QVERIFY2(d > 0.6, qPrintable(QString::number(d)));
    QCOMPARE(w.model()->mask().at(2, 2, 2), uint8_t(1));
    for (int64_t z = 0; z < ph.ct.nz(); ++z) // nothing outside the box but that voxel
      for (int64_t y = 0; y < ph.ct.ny(); ++y)
        for (int64_t x = 0; x < ph.ct.nx(); ++x)
          if ((x < box.lo[0] || x >= box.hi[0] || y < box.lo[1] || y >= box.hi[1] || z < box.lo[2] || z >= box.hi[2]) &&
              !(x == 2 && y == 2 && z == 2))
            QVERIFY(w.model()->mask().at(x, y, z) == 0);
    QVERIFY(edit->isModified());
    QDir().mkpath("/tmp/panseg-interact");
    QVERIFY(w.grabAll().save("/tmp/panseg-interact/box.png"));

    // A rectangle on the coronal view adjusts the box's x and z, keeping y.
    ui::SliceView* coronal = w.sliceView(MainWindow::ViewKind::Coronal);
    w.setSliceIndex(MainWindow::ViewKind::Coronal, int((box.lo[1] + box.hi[1]) / 2));
    QApplication::processEvents();
    const int64_t yc = (box.lo[1] + box.hi[1]) / 2;
    const std::array<int64_t, 3> c0{box.lo[0], yc, box.lo[2] + 2}, c1{box.hi[0] - 1, yc, box.hi[2] - 3};
    QSignalSpy done2(&w, &MainWindow::boxPromptFinished);
    QTest::mousePress(coronal, Qt::LeftButton, {}, coronal->voxelToWidget(c0).toPoint());
    QTest::mouseMove(coronal, coronal->voxelToWidget(c1).toPoint());
    QTest::mouseRelease(coronal, Qt::LeftButton, {}, coronal->voxelToWidget(c1).toPoint());
    const edit::Box adjusted = edit->promptBox();
    QCOMPARE(adjusted.lo[1], box.lo[1]);
    QCOMPARE(adjusted.hi[1], box.hi[1]);
    QCOMPARE(adjusted.lo[2], box.lo[2] + 2);
    QCOMPARE(adjusted.hi[2], box.hi[2] - 2);
    // Cancel at once: the mask stays as it was. The second box went to the same worker session.
    const LabelMask before = w.model()->mask();
    QVERIFY(w.isBoxPredicting());
    QCOMPARE(w.boxSession()->sessionsStarted(), 1);
    w.cancelBoxPrompt();
    QVERIFY(done2.wait(60000));
    QCOMPARE(done2.first().at(0).toBool(), false);
    QCOMPARE(done2.first().at(1).toString(), QString("cancelled"));
    QVERIFY(w.model()->mask().voxels == before.voxels);
    // The box result is one undo step.
    edit->undo();
    QCOMPARE(w.model()->mask().countLabel(1), int64_t{1});
  }
#endif
};

int main(int argc, char** argv)
{
  return test::runGuiTest<TestInteractGui>(argc, argv);
}
#include "tst_interact_gui.moc"
