// The Ruler tool and the Measurements dock in the real main window under Xvfb: mouse drags on
// the axial and coronal views (anisotropic voxels), the length written on the view against
// core/measure for the same two points, the ruler's pixels, Esc, the dock's statistics against
// core/measure, recomputation after a paint stroke (once, not per stamp) and after a label
// change, and the real TotalSegmentator pancreas. Screenshots go to /tmp/panseg-measure/.
#include "../SharedData.h"
#include "../ui/SyntheticData.h"

#include "core/measure/Measurement.h"
#include "ui/EditController.h"
#include "ui/MainWindow.h"
#include "ui/MeasurementsPanel.h"
#include "ui/SliceView.h"
#include "ui/ViewerModel.h"

#include <QAction>
#include <QApplication>
#include <QDir>
#include <QDockWidget>
#include <QLabel>
#include <QRegularExpression>
#include <QSpinBox>
#include <QtTest>

#include <cmath>

using namespace panseg;
using panseg::ui::EditController;
using panseg::ui::MainWindow;
using panseg::ui::SliceView;
using panseg::ui::ViewerModel;

namespace
{
const QString kShots = "/tmp/panseg-measure";

void save(const QImage& img, const QString& name)
{
  QDir().mkpath(kShots);
  QVERIFY2(img.save(kShots + "/" + name), qPrintable(name));
}

// Drags with the left button from `from` to `to` in a few steps, as a hand would.
void drag(QWidget* w, QPoint from, QPoint to)
{
  QTest::mousePress(w, Qt::LeftButton, {}, from);
  for (int i = 1; i <= 6; ++i)
    QTest::mouseMove(w, from + (to - from) * i / 6);
  QTest::mouseRelease(w, Qt::LeftButton, {}, to);
}

double coreLength(const Geometry& g, const std::array<double, 3>& a, const std::array<double, 3>& b)
{
  return measure::distanceMm(g.indexToPhysical(a), g.indexToPhysical(b));
}
} // namespace

class TestMeasureGui : public QObject
{
  Q_OBJECT

  std::unique_ptr<MainWindow> m_w;

  void openWindow()
  {
    m_w = std::make_unique<MainWindow>();
    m_w->resize(1280, 950);
    m_w->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_w.get()));
    m_w->activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(m_w.get())); // window shortcuts (L, Esc) need it
  }

private slots:
  void init() { openWindow(); }
  void cleanup() { m_w.reset(); }

  void rulerOnAxialAndCoronal()
  {
    MainWindow& w = *m_w;
    w.setImage(synthetic::ct()); // 0.8 x 0.8 x 2.0 mm voxels
    w.setMask(synthetic::mask());
    const LabelMask maskBefore = w.model()->mask();
    const Geometry g = w.model()->geometry();
    w.model()->setCursor({32, 28, 20});
    EditController* edit = w.editController();

    // The ruler through its key, like a user.
    QTest::keyClick(&w, Qt::Key_L);
    QCOMPARE(edit->tool(), EditController::Tool::Ruler);
    QVERIFY(w.findChild<QAction*>("toolRuler")->isChecked());
    QVERIFY(!edit->isEditingTool());

    SliceView* axial = w.sliceView(MainWindow::ViewKind::Axial);
    QApplication::processEvents();
    const QPoint p1 = axial->voxelToWidget({10, 28, 20}).toPoint();
    const QPoint p2 = axial->voxelToWidget({40, 40, 20}).toPoint();
    drag(axial, p1, p2);
    QCOMPARE(w.model()->rulers().size(), size_t(1));
    const double expected = coreLength(g, axial->widgetToIndex(p1), axial->widgetToIndex(p2));
    QVERIFY(std::abs(w.model()->rulers()[0].lengthMm - expected) < 1e-9);
    // What the view writes: one decimal at and above 10 mm.
    QCOMPARE(axial->rulerLabels(), QStringList{QString::number(expected, 'f', 1) + " mm"});
    // ... and about the voxel centres' distance: 30 and 12 voxels of 0.8 mm (within 2 pixels).
    const double mmPerPx = 0.8 / (axial->voxelToWidget({11, 28, 20}).x() - axial->voxelToWidget({10, 28, 20}).x());
    QVERIFY2(std::abs(expected - std::hypot(30 * 0.8, 12 * 0.8)) < 2 * std::abs(mmPerPx),
             qPrintable(QString::number(expected)));
    // The ruler measures; it neither edits nor moves the cursor.
    QVERIFY(w.model()->mask().voxels == maskBefore.voxels);
    QCOMPARE(w.model()->cursor(), (ui::VoxelIndex{32, 28, 20}));

    // Its pixels: the line's midpoint is drawn in the ruler's green.
    const QImage shot = axial->grab().toImage();
    save(shot, "ruler_axial.png");
    const QPoint mid = (p1 + p2) / 2;
    bool green = false;
    for (int dy = -1; dy <= 1 && !green; ++dy)
      for (int dx = -1; dx <= 1 && !green; ++dx)
      {
        const QColor c = shot.pixelColor(mid + QPoint(dx, dy));
        green = c.green() > 200 && c.red() < 190 && c.blue() < 150;
      }
    QVERIFY2(green, "no ruler pixels at the line's midpoint");

    // Coronal: 2 mm between slices along S, 0.8 mm along L-R. A vertical ruler over 20 slices.
    SliceView* coronal = w.sliceView(MainWindow::ViewKind::Coronal);
    const QPoint c1 = coronal->voxelToWidget({20, 28, 10}).toPoint();
    const QPoint c2 = coronal->voxelToWidget({20, 28, 30}).toPoint();
    drag(coronal, c1, c2);
    QCOMPARE(w.model()->rulers().size(), size_t(2));
    const double cExpected = coreLength(g, coronal->widgetToIndex(c1), coronal->widgetToIndex(c2));
    QCOMPARE(coronal->rulerLabels(), QStringList{ViewerModel::rulerText(cExpected)});
    const double pxPerSlice = std::abs(coronal->voxelToWidget({20, 28, 11}).y() - coronal->voxelToWidget({20, 28, 10}).y());
    QVERIFY2(std::abs(cExpected - 40.0) < 2.0 / pxPerSlice * 2.0, qPrintable(QString::number(cExpected)));
    // Each view shows its own rulers only, and only on their slice.
    QCOMPARE(axial->rulerLabels().size(), 1);
    w.model()->setSliceIndex(SliceOrientation::Axial, 21);
    QVERIFY(axial->rulerLabels().isEmpty());
    w.model()->setSliceIndex(SliceOrientation::Axial, 20);
    QCOMPARE(axial->rulerLabels().size(), 1);

    // A click without a drag adds nothing.
    QTest::mouseClick(axial, Qt::LeftButton, {}, p1);
    QCOMPARE(w.model()->rulers().size(), size_t(2));
    // A short ruler gets two decimals.
    drag(axial, axial->voxelToWidget({20, 10, 20}).toPoint(), axial->voxelToWidget({26, 10, 20}).toPoint());
    QCOMPARE(w.model()->rulers().size(), size_t(3));
    QVERIFY(axial->rulerLabels().last().contains(QRegularExpression("^\\d\\.\\d\\d mm$")));
    save(w.grabAll(), "ruler_window.png");

    // Esc clears them all (the window shortcut, from the focused view).
    axial->setFocus();
    QTest::keyClick(axial, Qt::Key_Escape);
    QVERIFY(w.model()->rulers().empty());
    QVERIFY(axial->rulerLabels().isEmpty());
    QVERIFY(!w.findChild<QAction*>("clearRulers")->isEnabled());
    // Another image clears them too.
    drag(axial, p1, p2);
    QCOMPARE(w.model()->rulers().size(), size_t(1));
    w.setImage(synthetic::ct());
    QVERIFY(w.model()->rulers().empty());
    // Shift+drag is still window/level with the ruler chosen.
    const auto wl = w.model()->windowLevel();
    QTest::mousePress(axial, Qt::LeftButton, Qt::ShiftModifier, p1);
    QTest::mouseMove(axial, p1 + QPoint(40, 0));
    QTest::mouseRelease(axial, Qt::LeftButton, Qt::ShiftModifier, p1 + QPoint(40, 0));
    QVERIFY(w.model()->rulers().empty());
    QVERIFY(w.model()->windowLevel().width != wl.width);
  }

  void dockStatistics()
  {
    MainWindow& w = *m_w;
    const Image img = synthetic::ct();
    w.setImage(img);
    w.setMask(synthetic::mask());
    QVERIFY(!w.measurementsDock()->isVisible()); // hidden at start
    QAction* toggle = w.findChild<QAction*>("measurementsAction");
    QVERIFY(toggle);
    toggle->trigger();
    QVERIFY(w.measurementsDock()->isVisible());
    ui::MeasurementsPanel* panel = w.measurementsPanel();
    QTRY_VERIFY(panel->hasStatistics() && !panel->isPending());

    const measure::MaskStatistics core = measure::maskStatistics(w.model()->mask(), 1, &img);
    QCOMPARE(panel->label(), 1);
    QCOMPARE(panel->statistics().voxels, core.voxels);
    QCOMPARE(panel->statistics().volumeMl, core.volumeMl);
    auto text = [&](const char* name) { return w.findChild<QLabel*>(name)->text(); };
    QCOMPARE(text("measureVolume"), QString::number(core.volumeMl, 'f', 2) + " mL");
    QCOMPARE(text("measureVoxels"), QString::number(core.voxels));
    // The sphere is 150 HU everywhere: mean 150, SD 0.
    QCOMPARE(text("measureIntensity"), QString("150.0 ± 0.0 HU"));
    QCOMPARE(text("measureMedian"), QString("150.0 HU"));
    QCOMPARE(text("measureRange"), QString("150.0 .. 150.0 HU"));
    QCOMPARE(text("measureLength"), QString::number(core.axes.lengthsMm[0], 'f', 1) + " mm");
    QCOMPARE(text("measureThickness"), QString::number(core.axes.lengthsMm[2], 'f', 1) + " mm");
    QCOMPARE(text("measureExtentLR"), QString::number(core.extentMm[0], 'f', 1) + " mm");
    QCOMPARE(text("measureExtentSI"), QString::number(core.extentMm[2], 'f', 1) + " mm");

    // A paint stroke of label 1: measured once after the stroke, not per stamp.
    w.findChild<QAction*>("toolPaint")->trigger();
    w.model()->setSliceIndex(SliceOrientation::Axial, 20);
    SliceView* axial = w.sliceView(MainWindow::ViewKind::Axial);
    QApplication::processEvents();
    const int before = panel->computeCount();
    const QPoint s1 = axial->voxelToWidget({8, 10, 20}).toPoint(), s2 = axial->voxelToWidget({24, 12, 20}).toPoint();
    QTest::mousePress(axial, Qt::LeftButton, {}, s1);
    for (int i = 1; i <= 8; ++i)
      QTest::mouseMove(axial, s1 + (s2 - s1) * i / 8);
    QCOMPARE(panel->computeCount(), before); // nothing while painting
    QTest::mouseRelease(axial, Qt::LeftButton, {}, s2);
    QVERIFY(panel->isPending());
    QTRY_VERIFY(!panel->isPending());
    QCOMPARE(panel->computeCount(), before + 1);
    const measure::MaskStatistics painted = measure::maskStatistics(*w.model()->maskShared(), 1, &img);
    QVERIFY(painted.voxels > core.voxels);
    QCOMPARE(panel->statistics().voxels, painted.voxels);
    QCOMPARE(text("measureVolume"), QString::number(painted.volumeMl, 'f', 2) + " mL");
    // Undo: measured again.
    QTest::keyClick(&w, Qt::Key_Z, Qt::ControlModifier);
    QTRY_COMPARE(panel->statistics().voxels, core.voxels);

    // The toolbar's label: label 2 is absent.
    w.findChild<QSpinBox*>("activeLabel")->setValue(2);
    QTRY_VERIFY(!panel->isPending());
    QCOMPARE(panel->label(), 2);
    QCOMPARE(panel->statistics().voxels, int64_t(0));
    QVERIFY(text("measureTitle").contains("no voxels"));
    w.findChild<QSpinBox*>("activeLabel")->setValue(1);
    QTRY_COMPARE(panel->statistics().voxels, core.voxels);

    // Rulers are listed in the dock; Copy has them all as text.
    w.findChild<QAction*>("toolRuler")->trigger();
    const QPoint p1 = axial->voxelToWidget({10, 28, 20}).toPoint(), p2 = axial->voxelToWidget({40, 28, 20}).toPoint();
    drag(axial, p1, p2);
    QVERIFY(text("measureRulers").startsWith("1. Axial slice 21: "));
    QVERIFY(panel->summaryText().contains("Volume: " + text("measureVolume")));
    QVERIFY(panel->summaryText().contains(axial->rulerLabels().value(0)));
    save(w.grabAll(), "dock_synthetic.png");
    save(w.measurementsDock()->grab().toImage(), "dock_panel.png");

    // Hidden, it does not compute; shown again, it catches up.
    w.measurementsDock()->hide();
    const int hiddenCount = panel->computeCount();
    w.model()->clearMask();
    QTest::qWait(ui::MeasurementsPanel::kDebounceMs + 100);
    QCOMPARE(panel->computeCount(), hiddenCount);
    w.measurementsDock()->show();
    QTRY_VERIFY(!panel->isPending());
    QVERIFY(!panel->hasStatistics());
    QVERIFY(text("measureTitle").contains("No mask"));
  }

  void realPancreas()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator/ct_full/example_seg_fast_force_split.nii.gz");
    MainWindow& w = *m_w;
    QString error;
    QVERIFY2(w.loadImageBlocking(paths::shared("data/totalsegmentator/ct_full/example_ct.nii.gz"), &error),
             qPrintable(error));
    QVERIFY2(w.loadMaskBlocking(paths::shared("data/totalsegmentator/ct_full/example_seg_fast_force_split.nii.gz"),
                                &error),
             qPrintable(error));
    w.findChild<QSpinBox*>("activeLabel")->setValue(7); // TotalSegmentator's pancreas
    w.findChild<QAction*>("measurementsAction")->trigger();
    ui::MeasurementsPanel* panel = w.measurementsPanel();
    QTRY_VERIFY(panel->hasStatistics() && !panel->isPending());
    QCOMPARE(panel->statistics().voxels, int64_t(695));
    QCOMPARE(w.findChild<QLabel*>("measureVolume")->text(), QString("18.77 mL")); // data/SOURCES.md
    const measure::MaskStatistics s = measure::maskStatistics(w.model()->mask(), 7, &w.model()->image());
    QCOMPARE(panel->statistics().axes.lengthsMm, s.axes.lengthsMm);

    // A ruler along the pancreas' long axis on the axial slice through its centroid.
    const Geometry& g = w.model()->geometry();
    const Vec3 c = g.physicalToIndex(s.axes.centroidMm);
    const ui::VoxelIndex centre{std::llround(c[0]), std::llround(c[1]), std::llround(c[2])};
    w.model()->setCursor(centre);
    w.findChild<QAction*>("toolRuler")->trigger();
    SliceView* axial = w.sliceView(MainWindow::ViewKind::Axial);
    QApplication::processEvents();
    auto alongAxis = [&](double t)
    {
      const Vec3& e = s.axes.directions[0];
      const double half = s.axes.lengthsMm[0] / 2 * t;
      const Vec3 idx = g.physicalToIndex(
          {s.axes.centroidMm[0] + e[0] * half, s.axes.centroidMm[1] + e[1] * half, s.axes.centroidMm[2] + e[2] * half});
      return axial->voxelToWidget({std::llround(idx[0]), std::llround(idx[1]), centre[2]}).toPoint();
    };
    const QPoint p1 = alongAxis(-1), p2 = alongAxis(1);
    drag(axial, p1, p2);
    const double expected = coreLength(w.model()->geometry(), axial->widgetToIndex(p1), axial->widgetToIndex(p2));
    QCOMPARE(axial->rulerLabels(), QStringList{ViewerModel::rulerText(expected)});
    save(w.grabAll(), "dock_pancreas.png");
    save(axial->grab().toImage(), "ruler_pancreas_axial.png");
  }
};

QTEST_MAIN(TestMeasureGui)
#include "tst_measure_gui.moc"
