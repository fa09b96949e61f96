// The viewer window driven like a user would: keys, wheel, drags, drops; then the pixels on
// screen are checked. Runs under xvfb-run with xcb/GLX (see tests/CMakeLists.txt).
#include "../GuiTestMain.h"
#include "SharedData.h"
#include "SyntheticData.h"
#include "core/display/LabelColors.h"
#include "ui/MainWindow.h"
#include "ui/SliceView.h"
#include "ui/SurfaceView.h"
#include "ui/ViewerModel.h"

#include <QAction>
#include <QApplication>
#include <QLabel>
#include <QMessageBox>
#include <QMimeData>
#include <QSignalSpy>
#include <QStatusBar>
#include <QtTest>

using namespace panseg;
using panseg::ui::MainWindow;
using panseg::ui::SliceView;
using panseg::ui::VoxelIndex;
using VK = MainWindow::ViewKind;

namespace
{
// `px` is some grey blended with `c` at `alpha`, as the Fill overlay draws it.
bool isTint(QRgb px, Rgb c, double alpha)
{
  const double r = (qRed(px) - alpha * c.r) / (1 - alpha);
  const double g = (qGreen(px) - alpha * c.g) / (1 - alpha);
  const double b = (qBlue(px) - alpha * c.b) / (1 - alpha);
  return std::abs(r - g) < 4 && std::abs(g - b) < 4 && std::abs(r - b) < 4;
}

struct OverlayCheck
{
  int maskTinted = 0, maskChecked = 0, otherTinted = 0, otherChecked = 0;
};

// Samples the centre of every voxel of the view's current slice on the captured widget and
// counts which carry the label tint. Skips the crosshair and the text along the edges.
OverlayCheck checkOverlay(MainWindow& w, VK kind, int label)
{
  SliceView* v = w.sliceView(kind);
  const QImage shot = w.grabView(kind);
  const double dpr = shot.devicePixelRatio();
  auto* m = w.model();
  const SliceOrientation o = v->orientation();
  const SliceMapper mapper = m->mapper(o);
  const QPointF cross = v->voxelToWidget(m->cursor());
  const Rgb colour = LabelColorTable::standard().color(label);
  const double alpha = m->overlayStyle().opacity;
  OverlayCheck r;
  for (int row = 0; row < mapper.height(); ++row)
    for (int col = 0; col < mapper.width(); ++col)
    {
      const Vec3 idx = mapper.sliceToIndex(col, row, m->sliceIndex(o));
      const VoxelIndex vox{int64_t(idx[0]), int64_t(idx[1]), int64_t(idx[2])};
      const QPointF p = v->voxelToWidget(vox);
      if (p.x() < 30 || p.y() < 46 || p.x() > v->width() - 30 || p.y() > v->height() - 26)
        continue; // orientation letters, titles, W/L text
      if (std::abs(p.x() - cross.x()) < 3 || std::abs(p.y() - cross.y()) < 3)
        continue;
      const QRgb px = shot.pixel(int(p.x() * dpr), int(p.y() * dpr));
      const bool tinted =
          isTint(px, colour, alpha) && !(qRed(px) == qGreen(px) && qGreen(px) == qBlue(px));
      if (m->labelAt(vox) == label)
      {
        ++r.maskChecked;
        r.maskTinted += tinted;
      }
      else
      {
        ++r.otherChecked;
        r.otherTinted += tinted;
      }
    }
  return r;
}

// Saturated pixels of a 3D capture outside the orientation cube (lower-left fifth).
int surfacePixels(const QImage& img, const std::function<bool(QRgb)>& accept)
{
  int n = 0;
  for (int y = 0; y < img.height(); ++y)
    for (int x = 0; x < img.width(); ++x)
    {
      if (x < img.width() / 4 && y > img.height() * 3 / 4)
        continue;
      if (accept(img.pixel(x, y)))
        ++n;
    }
  return n;
}

bool amber(QRgb c)
{
  return qRed(c) > qBlue(c) + 80 && qGreen(c) > qBlue(c) + 40 && qRed(c) >= qGreen(c);
}

bool saturated(QRgb c)
{
  return std::max({qRed(c), qGreen(c), qBlue(c)}) - std::min({qRed(c), qGreen(c), qBlue(c)}) > 70;
}

void sendWheel(QWidget* w, int delta, Qt::KeyboardModifiers mods = Qt::NoModifier)
{
  const QPointF pos(w->width() / 2.0, w->height() / 2.0);
  QWheelEvent e(pos, w->mapToGlobal(pos), QPoint(), QPoint(0, delta), Qt::NoButton, mods,
                Qt::NoScrollPhase, false);
  QApplication::sendEvent(w, &e);
}

void sendDrag(QWidget* w, QPoint from, QPoint to, Qt::MouseButton button,
              Qt::KeyboardModifiers mods)
{
  QTest::mousePress(w, button, mods, from);
  for (int i = 1; i <= 5; ++i)
  {
    const QPointF p = from + (to - from) * (i / 5.0);
    QMouseEvent move(QEvent::MouseMove, p, w->mapToGlobal(p), Qt::NoButton, button, mods);
    QApplication::sendEvent(w, &move);
  }
  QTest::mouseRelease(w, button, mods, to);
}

void closeMessageBoxes(QWidget& w)
{
  for (QMessageBox* b : w.findChildren<QMessageBox*>())
    b->close();
}

QString outPath(const QString& name)
{
  return QString(PANSEG_TEST_BINARY_DIR) + "/" + name;
}

void dropFile(MainWindow& w, const QString& path)
{
  QMimeData data;
  data.setUrls({QUrl::fromLocalFile(path)});
  const QPoint pos(w.width() / 2, w.height() / 2);
  QDragEnterEvent enter(pos, Qt::CopyAction, &data, Qt::LeftButton, Qt::NoModifier);
  QApplication::sendEvent(&w, &enter);
  QVERIFY(enter.isAccepted());
  QDropEvent drop(QPointF(pos), Qt::CopyAction, &data, Qt::LeftButton, Qt::NoModifier);
  QApplication::sendEvent(&w, &drop);
}
} // namespace

class TstViewer : public QObject
{
  Q_OBJECT
  std::unique_ptr<MainWindow> m_w;

  MainWindow& window()
  {
    m_w = std::make_unique<MainWindow>();
    m_w->resize(1200, 900);
    m_w->show();
    if (!QTest::qWaitForWindowExposed(m_w.get()))
      qWarning("window not exposed");
    // Window shortcuts (M, W, Ctrl+4, ...) need the active window.
    m_w->activateWindow();
    if (!QTest::qWaitForWindowActive(m_w.get()))
      qWarning("window not active");
    return *m_w;
  }

  void openSynthetic(MainWindow& w)
  {
    w.setImage(synthetic::ct());
    w.setMask(synthetic::mask());
    const auto s = synthetic::sphere();
    w.model()->setCursor({int64_t(s.cx), int64_t(s.cy), int64_t(s.cz)});
  }

private slots:
  void cleanup()
  {
    if (m_w)
      closeMessageBoxes(*m_w);
    m_w.reset();
  }

  void emptyWindowShows()
  {
    MainWindow& w = window();
    QVERIFY(!w.model()->hasImage());
    QVERIFY(!w.grabAll().isNull());
    QCOMPARE(w.sliceView(VK::Surface3D), nullptr);
    QVERIFY(w.sliceView(VK::Axial) != nullptr);
  }

  void maskColourWhereMaskIs()
  {
    MainWindow& w = window();
    openSynthetic(w);
    for (VK kind : {VK::Axial, VK::Coronal, VK::Sagittal})
    {
      const OverlayCheck r = checkOverlay(w, kind, 1);
      const QString msg = QString("view %1: mask %2/%3 tinted, other %4/%5 tinted")
                              .arg(int(kind))
                              .arg(r.maskTinted)
                              .arg(r.maskChecked)
                              .arg(r.otherTinted)
                              .arg(r.otherChecked);
      QVERIFY2(r.maskChecked > 20 && r.maskTinted == r.maskChecked, qPrintable(msg));
      QVERIFY2(r.otherChecked > 500 && r.otherTinted == 0, qPrintable(msg));
    }
    // Toggling the overlay (key M) removes the tint.
    QTest::keyClick(&w, Qt::Key_M);
    QVERIFY(!w.model()->overlayStyle().visible);
    QCOMPARE(checkOverlay(w, VK::Axial, 1).maskTinted, 0);
    QTest::keyClick(&w, Qt::Key_M);
    QVERIFY(w.model()->overlayStyle().visible);
    QVERIFY(w.grabAll().save(outPath("viewer_synthetic.png")));
  }

  void dicomInformationOverlayPerUser()
  {
    MainWindow& w = window();
    w.setActingUser("alice");
    panseg::Image img = synthetic::ct();
    img.info.format = "DICOM";
    img.info.tags = {{"PatientName", "DOE^JANE"}, {"PatientID", "P-0042"},         {"StudyDate", "20230115"},
                     {"StudyTime", "140215"},    {"StudyDescription", "CT ABDOMEN"}, {"SeriesNumber", "3"},
                     {"SeriesDescription", "Portal venous"}};
    w.setImage(img);
    auto* action = w.findChild<QAction*>("dicomInfoAction");
    QVERIFY(action);
    QVERIFY(action->isCheckable() && action->isChecked()); // on by default
    SliceView* axial = w.sliceView(VK::Axial);
    QVERIFY(axial->infoVisible());
    QVERIFY(w.grabAll().save(outPath("viewer_dicom_info.png")));
    const QImage on = w.grabView(VK::Axial);
    // Off through the shortcut: the corners lose the patient and series lines.
    QTest::keyClick(&w, Qt::Key_I, Qt::ControlModifier | Qt::ShiftModifier);
    QVERIFY(!action->isChecked());
    for (VK kind : {VK::Axial, VK::Coronal, VK::Sagittal})
      QVERIFY(!w.sliceView(kind)->infoVisible());
    const QImage off = w.grabView(VK::Axial);
    QCOMPARE(on.size(), off.size());
    auto differing = [&](const QRect& r)
    {
      int n = 0;
      for (int y = r.top(); y <= r.bottom(); ++y)
        for (int x = r.left(); x <= r.right(); ++x)
          n += on.pixel(x, y) != off.pixel(x, y);
      return n;
    };
    const int w3 = on.width() / 3, band = 80;
    QVERIFY2(differing(QRect(on.width() - w3, 14, w3, band)) > 50, "patient and study lines (top right)");
    QVERIFY2(differing(QRect(0, 30, w3, band)) > 20, "series line (top left)");
    QCOMPARE(differing(QRect(0, on.height() / 2 - 20, on.width(), 40)), 0); // nothing else changed
    // Remembered per PanSeg user: bob starts with the default, alice gets hers back.
    w.setActingUser("bob");
    QVERIFY(action->isChecked() && axial->infoVisible());
    w.setActingUser("alice");
    QVERIFY(!action->isChecked() && !axial->infoVisible());
    {
      MainWindow again; // a new session of alice
      again.setActingUser("alice");
      QVERIFY(!again.findChild<QAction*>("dicomInfoAction")->isChecked());
      QVERIFY(!again.sliceView(VK::Axial)->infoVisible());
    }
    action->trigger();
    QVERIFY(axial->infoVisible());
  }

  void scrollWithWheelAndKeys()
  {
    MainWindow& w = window();
    openSynthetic(w);
    SliceView* axial = w.sliceView(VK::Axial);
    auto* m = w.model();
    axial->setFocus();
    const int s0 = m->sliceIndex(SliceOrientation::Axial);
    QTest::keyClick(axial, Qt::Key_Up);
    QCOMPARE(m->sliceIndex(SliceOrientation::Axial), s0 + 1);
    QTest::keyClick(axial, Qt::Key_PageDown);
    QCOMPARE(m->sliceIndex(SliceOrientation::Axial), s0 + 1 - 5);
    QTest::keyClick(axial, Qt::Key_Down);
    QCOMPARE(m->sliceIndex(SliceOrientation::Axial), s0 - 5);
    sendWheel(axial, 120);
    sendWheel(axial, 120);
    QCOMPARE(m->sliceIndex(SliceOrientation::Axial), s0 - 3);
    sendWheel(axial, -120);
    QCOMPARE(m->sliceIndex(SliceOrientation::Axial), s0 - 4);
    // The coronal and sagittal views keep their slices (the cursor moved along z only).
    const auto sp = synthetic::sphere();
    QCOMPARE(m->sliceIndex(SliceOrientation::Coronal), int(sp.cy));

    // Ctrl+wheel zooms; the rendered image changes.
    const QImage before = w.grabView(VK::Coronal);
    sendWheel(w.sliceView(VK::Coronal), 240, Qt::ControlModifier);
    QVERIFY(m->viewState(SliceOrientation::Coronal).zoom > 1.2);
    QVERIFY(w.grabView(VK::Coronal) != before);
    w.setSliceIndex(VK::Sagittal, 3);
    QCOMPARE(m->cursor()[0], int64_t(3));
  }

  void clickMovesLinkedCursor()
  {
    MainWindow& w = window();
    openSynthetic(w);
    SliceView* axial = w.sliceView(VK::Axial);
    auto* m = w.model();
    const int z = m->sliceIndex(SliceOrientation::Axial);
    const VoxelIndex target{12, 17, z};
    QTest::mouseClick(axial, Qt::LeftButton, Qt::NoModifier,
                      axial->voxelToWidget(target).toPoint());
    QCOMPARE(m->cursor(), target);
    QCOMPARE(m->sliceIndex(SliceOrientation::Coronal), 17);
    QCOMPARE(m->sliceIndex(SliceOrientation::Sagittal), 12);
    // The crosshair in the coronal view is drawn through the new cursor.
    SliceView* coronal = w.sliceView(VK::Coronal);
    const QImage shot = w.grabView(VK::Coronal);
    const QPointF c = coronal->voxelToWidget(m->cursor());
    const QRgb onLine = shot.pixel(int(c.x()), std::max(2, int(c.y()) - 40));
    QVERIFY2(qBlue(onLine) > qRed(onLine) + 40, "crosshair line missing");

    // Hovering reports the voxel under the mouse in the status bar.
    const QPointF over = axial->voxelToWidget({20, 30, z});
    QMouseEvent move(QEvent::MouseMove, over, axial->mapToGlobal(over), Qt::NoButton, Qt::NoButton,
                     Qt::NoModifier);
    QApplication::sendEvent(axial, &move);
    bool reported = false;
    for (QLabel* l : w.statusBar()->findChildren<QLabel*>())
      reported = reported || l->text().startsWith(QString("Voxel (20, 30, %1)").arg(z));
    QVERIFY(reported);

    // Double click maximises a view, a second one restores the 2x2 layout.
    QTest::mouseDClick(coronal, Qt::LeftButton, Qt::NoModifier, QPoint(50, 50));
    QVERIFY(coronal->isVisible() && !axial->isVisible());
    QTest::mouseDClick(coronal, Qt::LeftButton, Qt::NoModifier, QPoint(50, 50));
    QVERIFY(coronal->isVisible() && axial->isVisible());
  }

  void windowLevelByShiftDrag()
  {
    MainWindow& w = window();
    openSynthetic(w);
    SliceView* axial = w.sliceView(VK::Axial);
    auto* m = w.model();
    const VoxelIndex cursor = m->cursor();
    const VoxelIndex body{16, 28, cursor[2]};
    const QPointF at = axial->voxelToWidget(body);
    const QRgb before = w.grabView(VK::Axial).pixel(at.toPoint());
    const WindowLevel wl0 = m->windowLevel();

    sendDrag(axial, QPoint(300, 300), QPoint(360, 340), Qt::LeftButton, Qt::ShiftModifier);
    const WindowLevel wl1 = m->windowLevel();
    QVERIFY2(wl1.width > wl0.width && wl1.level > wl0.level,
             qPrintable(QString("W %1 L %2").arg(wl1.width).arg(wl1.level)));
    QCOMPARE(m->cursor(), cursor); // a W/L drag leaves the cursor alone
    const QRgb after = w.grabView(VK::Axial).pixel(at.toPoint());
    QVERIFY2(qRed(after) != qRed(before),
             qPrintable(QString("grey %1 -> %2").arg(qRed(before)).arg(qRed(after))));

    // W/L mode (key W): a plain left drag adjusts the window too.
    QTest::keyClick(&w, Qt::Key_W);
    QVERIFY(m->windowLevelMode());
    sendDrag(axial, QPoint(300, 300), QPoint(250, 300), Qt::LeftButton, Qt::NoModifier);
    QVERIFY(m->windowLevel().width < wl1.width);
    QCOMPARE(m->cursor(), cursor);
    QTest::keyClick(&w, Qt::Key_W);
    QVERIFY(!m->windowLevelMode());

    // Presets from the keyboard: Ctrl+4 is Bone.
    QTest::keyClick(&w, Qt::Key_4, Qt::ControlModifier);
    QCOMPARE(m->windowLevel(), (WindowLevel{1800, 400}));

    // Middle drag pans, right drag zooms.
    sendDrag(axial, QPoint(200, 200), QPoint(240, 230), Qt::MiddleButton, Qt::NoModifier);
    QCOMPARE(m->viewState(SliceOrientation::Axial).panXPx, 40.0);
    sendDrag(axial, QPoint(200, 300), QPoint(200, 250), Qt::RightButton, Qt::NoModifier);
    QVERIFY(m->viewState(SliceOrientation::Axial).zoom > 1.3);
    QTest::keyClick(&w, Qt::Key_R);
    QCOMPARE(m->viewState(SliceOrientation::Axial).zoom, 1.0);
  }

  void surfaceShowsMask()
  {
    MainWindow& w = window();
    if (!w.surfaceView())
      QSKIP("no OpenGL on this platform (run under xvfb-run with xcb)");
    openSynthetic(w);
    const QImage img = w.grabView(VK::Surface3D);
    img.save(outPath("viewer_synthetic_3d.png"));
    QVERIFY(w.surfaceView()->surfaceCellCount() > 100);
    const int n = surfacePixels(img, amber);
    QVERIFY2(n > 500, qPrintable(QString("%1 surface pixels").arg(n)));

    // Patient left (label 1, high x) is on screen right, superior up, as in the coronal view:
    // add label 2 on the patient's right, below the sphere.
    LabelMask two = synthetic::mask();
    for (int64_t z = 4; z < 10; ++z)
      for (int64_t y = 20; y < 30; ++y)
        for (int64_t x = 8; x < 18; ++x)
          two.at(x, y, z) = 2;
    w.setMask(two);
    const QImage both = w.grabView(VK::Surface3D);
    both.save(outPath("viewer_synthetic_3d_two.png"));
    const Rgb c2 = LabelColorTable::standard().color(2);
    double ax = 0, ay = 0, bx = 0, by = 0;
    int na = 0, nb = 0;
    for (int y = 0; y < both.height(); ++y)
      for (int x = both.width() / 4; x < both.width(); ++x)
      {
        const QRgb p = both.pixel(x, y);
        if (amber(p))
        {
          ax += x;
          ay += y;
          ++na;
        }
        // label 2 is sky blue: blue dominant, red low (lighting scales all channels)
        else if (qBlue(p) > qRed(p) + 90 && qGreen(p) > qRed(p) + 50 && c2.b > c2.r)
        {
          bx += x;
          by += y;
          ++nb;
        }
      }
    QVERIFY2(na > 300 && nb > 300, qPrintable(QString("%1 amber, %2 blue").arg(na).arg(nb)));
    QVERIFY2(ax / na > bx / nb + 20, "patient left is not on screen right in 3D");
    QVERIFY2(ay / na < by / nb - 20, "superior is not up in 3D");

    w.model()->clearMask();
    const int none = surfacePixels(w.grabView(VK::Surface3D), amber);
    QVERIFY2(none < 20, qPrintable(QString("%1 surface pixels without a mask").arg(none)));
  }

  void mismatchedMaskKeepsState()
  {
    MainWindow& w = window();
    openSynthetic(w);
    const qint64 voxels = w.model()->mask().countLabel(1);
    const quint64 rev = w.model()->dataRevision();
    Geometry other = synthetic::ctGeometry();
    other.size[0] = 60;
    w.setMask(LabelMask(other, 1));
    QVERIFY2(w.lastError().contains("size differs"), qPrintable(w.lastError()));
    QCOMPARE(w.model()->dataRevision(), rev);
    QCOMPARE(w.model()->mask().countLabel(1), voxels);
    QVERIFY(!w.findChildren<QMessageBox*>().isEmpty()); // the user was told
    closeMessageBoxes(w);
    QCOMPARE(checkOverlay(w, VK::Axial, 1).otherTinted, 0);
  }

  void totalSegmentatorCt()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator/ct_small");
    const QString dir = paths::shared("data/totalsegmentator/");
    MainWindow& w = window();
    QString error;
    QVERIFY2(w.loadImageBlocking(dir + "ct_small/example_ct_sm.nii.gz", &error), qPrintable(error));
    QVERIFY2(w.loadMaskBlocking(dir + "ct_small/example_seg.nii.gz", &error), qPrintable(error));
    auto* m = w.model();
    QCOMPARE(m->mask().countLabel(7), int64_t(644));    // pancreas, per SOURCES.md
    QCOMPARE(m->windowLevel(), (WindowLevel{400, 40})); // NIfTI CT recognised as CT

    // Cursor to the pancreas' centre of mass.
    double sx = 0, sy = 0, sz = 0;
    int64_t n = 0;
    const Geometry& g = m->geometry();
    for (int64_t z = 0; z < g.size[2]; ++z)
      for (int64_t y = 0; y < g.size[1]; ++y)
        for (int64_t x = 0; x < g.size[0]; ++x)
          if (m->mask().at(x, y, z) == 7)
          {
            sx += x;
            sy += y;
            sz += z;
            ++n;
          }
    w.model()->setCursor({std::llround(sx / n), std::llround(sy / n), std::llround(sz / n)});
    const OverlayCheck r = checkOverlay(w, VK::Axial, 7);
    QVERIFY2(r.maskChecked > 10 && r.maskTinted == r.maskChecked,
             qPrintable(QString("%1/%2").arg(r.maskTinted).arg(r.maskChecked)));
    QCOMPARE(r.otherTinted, 0);
    // RAS NIfTI shown radiologically: spleen (label 1, patient left) right of the liver
    // (label 5) on screen, in the axial and the coronal view.
    auto centroid = [m](int label)
    {
      const Geometry& gg = m->geometry();
      double cx = 0, cy = 0, cz = 0;
      int64_t k = 0;
      for (int64_t z = 0; z < gg.size[2]; ++z)
        for (int64_t y = 0; y < gg.size[1]; ++y)
          for (int64_t x = 0; x < gg.size[0]; ++x)
            if (m->mask().at(x, y, z) == label)
            {
              cx += x;
              cy += y;
              cz += z;
              ++k;
            }
      return VoxelIndex{std::llround(cx / k), std::llround(cy / k), std::llround(cz / k)};
    };
    const VoxelIndex spleen = centroid(1), liver = centroid(5);
    for (VK kind : {VK::Axial, VK::Coronal})
      QVERIFY(w.sliceView(kind)->voxelToWidget(spleen).x() >
              w.sliceView(kind)->voxelToWidget(liver).x() + 50);
    const auto letters = m->mapper(SliceOrientation::Axial).edgeLetters();
    QCOMPARE(QString::fromStdString(letters.right), QString("L"));

    if (w.surfaceView())
    {
      const int px = surfacePixels(w.grabView(VK::Surface3D), saturated);
      QVERIFY2(px > 3000, qPrintable(QString("%1 surface pixels").arg(px)));
    }
    QVERIFY(w.grabAll().save(outPath("viewer_totalseg.png")));

    // A mask from the full CT (112 slices) does not fit the 30-slice image.
    const quint64 rev = m->dataRevision();
    QVERIFY(!w.loadMaskBlocking(dir + "ct_full/example_seg_fast_force_split.nii.gz", &error));
    QVERIFY2(error.contains("size", Qt::CaseInsensitive), qPrintable(error));
    QCOMPARE(m->dataRevision(), rev);
    QCOMPARE(m->mask().countLabel(7), int64_t(644));
  }

  void asynchronousOpenAndDrop()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator/mr_small");
    const QString dir = paths::shared("data/totalsegmentator/mr_small/");
    MainWindow& w = window();
    QSignalSpy done(&w, &MainWindow::loadFinished);
    QVERIFY(w.openImage(dir + "example_mr_sm.nii.gz"));
    QVERIFY(done.wait(30000));
    QVERIFY2(done.at(0).at(0).toBool(), qPrintable(done.at(0).at(1).toString()));
    QVERIFY(w.model()->hasImage());
    QCOMPARE(w.model()->presetNames(), QStringList{panseg::ui::ViewerModel::automaticPresetName()});
    QVERIFY(w.recentFiles().first().endsWith("example_mr_sm.nii.gz"));

    // Dropping a file named *seg* while an image is open loads it as the mask.
    dropFile(w, dir + "example_seg_mr.nii.gz");
    QVERIFY(done.wait(30000));
    QVERIFY2(done.at(1).at(0).toBool(), qPrintable(done.at(1).at(1).toString()));
    QVERIFY(w.model()->hasMask());
    QCOMPARE(w.model()->mask().countLabel(7), int64_t(1176));
    QVERIFY(w.windowTitle().contains("example_seg_mr"));

    // A missing file reports an error instead of crashing; the image stays.
    QVERIFY(w.openImage(dir + "does_not_exist.nii.gz"));
    QVERIFY(done.wait(30000));
    QVERIFY(!done.at(2).at(0).toBool());
    QVERIFY(!w.lastError().isEmpty());
    QVERIFY(w.model()->hasImage() && w.model()->hasMask());
    QVERIFY(w.grabAll().save(outPath("viewer_mr.png")));
  }

  void dropDecidesMaskByContent()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator/ct_full");
    const QString dir = paths::shared("data/totalsegmentator/ct_full/");
    MainWindow& w = window();
    QString error;
    QVERIFY2(w.loadImageBlocking(dir + "example_ct.nii.gz", &error), qPrintable(error));
    QSignalSpy done(&w, &MainWindow::loadFinished);
    // No mask-like name, but float64 0/1 voxels on the image's grid: it is the mask.
    dropFile(w, dir + "pancreas_v1_2022.nii.gz");
    QVERIFY(done.wait(30000));
    QVERIFY2(done.at(0).at(0).toBool(), qPrintable(done.at(0).at(1).toString()));
    QVERIFY(w.model()->hasMask());
    QCOMPARE(w.model()->mask().countLabel(1), int64_t(818));
    QVERIFY(w.windowTitle().contains("example_ct.nii.gz"));
    // An intensity image dropped next replaces the image (and drops the mask).
    dropFile(w, paths::shared("data/totalsegmentator/ct_small/example_ct_sm.nii.gz"));
    QVERIFY(done.wait(30000));
    QVERIFY(done.at(1).at(0).toBool());
    QCOMPARE(w.model()->geometry().size[2], int64_t(30));
    QVERIFY(!w.model()->hasMask());
  }
};

int main(int argc, char** argv)
{
  return test::runGuiTest<TstViewer>(argc, argv);
}
#include "tst_viewer.moc"
