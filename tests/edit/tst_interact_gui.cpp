// Grow from seeds in the real main window under Xvfb (docs/interactive.md): the Grow tool from
// the Edit toolbar, foreground scribbles (left drag) and background scribbles (Ctrl + left drag)
// with simulated mouse events on the axial view of a generated phantom; every scribble that grows
// is one undo step, the result approaches the phantom's pancreas, nothing is saved. A screenshot
// of the window with the scribbles goes to /tmp/panseg-interact/grow.png.
#include "core/demo/PhantomGenerator.h"
#include "core/edit/RobotUser.h"
#include "core/metrics/DistanceTransform.h"
#include "ui/EditController.h"
#include "ui/MainWindow.h"
#include "ui/SliceView.h"
#include "ui/ViewerModel.h"

#include <QAction>
#include <QApplication>
#include <QDir>
#include <QDoubleSpinBox>
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
};

QTEST_MAIN(TestInteractGui)
#include "tst_interact_gui.moc"
