// ViewerModel without a display: state, signals, rendering of slices into QImages.
#include "SyntheticData.h"
#include "core/display/LabelColors.h"
#include "ui/MainWindow.h"
#include "ui/ViewerModel.h"

#include <QApplication>

#include <QSignalSpy>
#include <QtTest>

using namespace panseg;
using panseg::ui::ViewerModel;
using panseg::ui::VoxelIndex;

namespace
{
// True when `px` is some grey blended with `c` at opacity `alpha` (what a Fill overlay gives).
bool isTint(QRgb px, Rgb c, double alpha)
{
  const double r = (qRed(px) - alpha * c.r) / (1 - alpha);
  const double g = (qGreen(px) - alpha * c.g) / (1 - alpha);
  const double b = (qBlue(px) - alpha * c.b) / (1 - alpha);
  return std::abs(r - g) < 3 && std::abs(g - b) < 3 && std::abs(r - b) < 3;
}
bool isGrey(QRgb px)
{
  return qRed(px) == qGreen(px) && qGreen(px) == qBlue(px);
}

QPoint pixelOf(const ViewerModel& m, SliceOrientation o, const VoxelIndex& v)
{
  const Vec3 s = m.mapper(o).indexToSlice({double(v[0]), double(v[1]), double(v[2])});
  return {int(s[0]), int(s[1])};
}
} // namespace

class TstViewerModel : public QObject
{
  Q_OBJECT
private slots:
  void openCtSetsDefaults()
  {
    ViewerModel m;
    QSignalSpy imageSpy(&m, &ViewerModel::imageChanged);
    QSignalSpy cursorSpy(&m, &ViewerModel::cursorChanged);
    m.setImage(synthetic::ct());
    QCOMPARE(imageSpy.count(), 1);
    QVERIFY(cursorSpy.count() >= 1);
    QVERIFY(m.hasImage());
    QVERIFY(!m.hasMask());
    QCOMPARE(m.cursor(), (VoxelIndex{32, 28, 20}));
    QCOMPARE(m.windowLevel(), (WindowLevel{400, 40}));
    QVERIFY(m.presetNames().contains("Abdomen"));
    QVERIFY(m.presetNames().contains("Bone"));
    QVERIFY(m.presetNames().contains(ViewerModel::automaticPresetName()));
    QCOMPARE(m.activePresetName(), QString("Abdomen"));
    QVERIFY(m.applyPreset("Liver"));
    QCOMPARE(m.windowLevel().width, 150.0);
    QCOMPARE(m.activePresetName(), QString("Liver"));
    m.setWindowLevel({151, 30});
    QVERIFY(m.activePresetName().isEmpty());
    QVERIFY(m.applyPreset(ViewerModel::automaticPresetName()));
    QCOMPARE(m.windowLevel(), m.automaticWindow());
    QVERIFY(!m.applyPreset("no such preset"));
    QCOMPARE(m.sliceCount(SliceOrientation::Axial), 40);
    QCOMPARE(m.sliceCount(SliceOrientation::Coronal), 56);
    QCOMPARE(m.sliceCount(SliceOrientation::Sagittal), 64);
  }

  void mrUsesAutomaticWindow()
  {
    ViewerModel m;
    Image mr = synthetic::ct();
    mr.info.modality = "MR";
    for (float& v : mr.voxels)
      v = v < -500 ? 0.0f : v + 400.0f; // background 0, tissue ~430, sphere 550
    m.setImage(mr);
    QCOMPARE(m.presetNames(), QStringList{ViewerModel::automaticPresetName()});
    const WindowLevel wl = m.windowLevel();
    QVERIFY2(wl.lower() >= 400 && wl.upper() <= 560,
             qPrintable(QString("W %1 L %2").arg(wl.width).arg(wl.level)));
  }

  void maskOnOtherGridIsRefused()
  {
    ViewerModel m;
    QString error;
    QVERIFY(!m.setMask(synthetic::mask(), &error)); // no image yet
    QVERIFY(!error.isEmpty());
    m.setImage(synthetic::ct());
    QVERIFY(m.setMask(synthetic::mask(), &error));
    const quint64 rev = m.dataRevision();
    QSignalSpy maskSpy(&m, &ViewerModel::maskChanged);

    Geometry other = synthetic::ctGeometry();
    other.size[2] = 39;
    QVERIFY(!m.setMask(LabelMask(other, 1), &error));
    QVERIFY2(error.contains("size differs"), qPrintable(error));
    other = synthetic::ctGeometry();
    other.spacingMm[2] = 2.5;
    QVERIFY(!m.setMask(LabelMask(other, 1), &error));
    QVERIFY2(error.contains("spacing"), qPrintable(error));
    QCOMPARE(maskSpy.count(), 0);
    QCOMPARE(m.dataRevision(), rev);
    QVERIFY(m.hasMask());
    QCOMPARE(m.mask().countLabel(1), synthetic::mask().countLabel(1)); // the previous mask
  }

  void cursorAndSlices()
  {
    ViewerModel m;
    m.setImage(synthetic::ct());
    QSignalSpy spy(&m, &ViewerModel::cursorChanged);
    m.setSliceIndex(SliceOrientation::Axial, 5);
    QCOMPARE(m.cursor()[2], int64_t(5));
    QCOMPARE(m.sliceIndex(SliceOrientation::Axial), 5);
    m.stepSlices(SliceOrientation::Axial, 3); // toward superior = +z on an LPS grid
    QCOMPARE(m.sliceIndex(SliceOrientation::Axial), 8);
    m.setSliceIndex(SliceOrientation::Axial, 1000); // clamped
    QCOMPARE(m.sliceIndex(SliceOrientation::Axial), 39);
    m.setCursor({-4, 70, 3});
    QCOMPARE(m.cursor(), (VoxelIndex{0, 55, 3}));
    QCOMPARE(spy.count(), 4);
    m.setCursor({0, 55, 3}); // unchanged: no signal
    QCOMPARE(spy.count(), 4);

    // kits23-like storage: index 0 runs toward inferior, so "forward" decreases it.
    Geometry g;
    g.size = {20, 30, 30};
    g.direction = {0, 0, 1, 0, 1, 0, -1, 0, 0};
    m.setImage(Image(g, 0.0f));
    QCOMPARE(m.sliceCount(SliceOrientation::Axial), 20);
    const int before = m.sliceIndex(SliceOrientation::Axial);
    m.stepSlices(SliceOrientation::Axial, 2);
    QCOMPARE(m.sliceIndex(SliceOrientation::Axial), before - 2);
  }

  void renderedSliceShowsMaskAndWindow()
  {
    ViewerModel m;
    const Geometry g = synthetic::ctGeometry();
    m.setImage(synthetic::ct());
    QVERIFY(m.setMask(synthetic::mask()));
    const auto sp = synthetic::sphere();
    m.setCursor({int64_t(sp.cx), int64_t(sp.cy), int64_t(sp.cz)});

    const QImage axial = m.renderSlice(SliceOrientation::Axial);
    QCOMPARE(axial.size(), QSize(64, 56));
    const QImage coronal = m.renderSlice(SliceOrientation::Coronal);
    QCOMPARE(coronal.size(), QSize(64, 40));

    const Rgb c1 = LabelColorTable::standard().color(1);
    const double alpha = m.overlayStyle().opacity;
    int inside = 0, outside = 0;
    for (int64_t y = 0; y < g.size[1]; ++y)
      for (int64_t x = 0; x < g.size[0]; ++x)
      {
        const VoxelIndex v{x, y, int64_t(sp.cz)};
        const QRgb px = axial.pixel(pixelOf(m, SliceOrientation::Axial, v));
        if (m.labelAt(v) == 1)
        {
          QVERIFY(isTint(px, c1, alpha));
          ++inside;
        }
        else
        {
          QVERIFY(isGrey(px));
          ++outside;
        }
      }
    QVERIFY(inside > 100 && outside > 1000);

    // Window/level changes the grey of body voxels.
    const VoxelIndex body{20, 28, int64_t(sp.cz)};
    const QRgb before = axial.pixel(pixelOf(m, SliceOrientation::Axial, body));
    m.setWindowLevel({100, 80});
    const QRgb after =
        m.renderSlice(SliceOrientation::Axial).pixel(pixelOf(m, SliceOrientation::Axial, body));
    QVERIFY(qRed(after) < qRed(before));

    // Outline: the sphere's centre is no longer tinted; hidden: nothing is.
    m.setOverlayMode(OverlayMode::Outline);
    const VoxelIndex centre{int64_t(sp.cx), int64_t(sp.cy), int64_t(sp.cz)};
    QVERIFY(isGrey(
        m.renderSlice(SliceOrientation::Axial).pixel(pixelOf(m, SliceOrientation::Axial, centre))));
    m.setOverlayMode(OverlayMode::Fill);
    m.setOverlayVisible(false);
    QVERIFY(isGrey(
        m.renderSlice(SliceOrientation::Axial).pixel(pixelOf(m, SliceOrientation::Axial, centre))));
  }

  void windowDragAndText()
  {
    ViewerModel m;
    m.setImage(synthetic::ct());
    const WindowLevel start = m.windowLevel();
    const WindowLevel wider = m.draggedWindowLevel(start, 50, 0);
    QVERIFY(wider.width > start.width);
    QCOMPARE(wider.level, start.level);
    const WindowLevel darker = m.draggedWindowLevel(start, 0, 30);
    QVERIFY(darker.level > start.level);
    QVERIFY(m.draggedWindowLevel(start, -1e6, 0).width >= kMinWindowWidth);

    QVERIFY(m.setMask(synthetic::mask()));
    const auto sp = synthetic::sphere();
    const QString text = m.describeVoxel({int64_t(sp.cx), int64_t(sp.cy), int64_t(sp.cz)});
    QVERIFY2(text.contains("Voxel (40, 24, 22)"), qPrintable(text));
    QVERIFY2(text.contains("LPS (7.0, -0.8, 144.0) mm"), qPrintable(text));
    QVERIFY2(text.contains("Value 150"), qPrintable(text));
    QVERIFY2(text.contains("Label 1"), qPrintable(text));
    QVERIFY(m.imageSummary().contains("64 x 56 x 40"));

    QSignalSpy views(&m, &ViewerModel::viewStateChanged);
    m.setViewState(SliceOrientation::Coronal, {2.0, 10, 0});
    QCOMPARE(views.count(), 1);
    QCOMPARE(views.at(0).at(0).value<SliceOrientation>(), SliceOrientation::Coronal);
    m.resetViews();
    QCOMPARE(m.viewState(SliceOrientation::Coronal).zoom, 1.0);
  }

  void windowWithoutOpenGl()
  {
    const QString platform = QGuiApplication::platformName();
    if (platform != "offscreen" && platform != "minimal")
      QSKIP("checks the offscreen fallback");
    panseg::ui::MainWindow w; // must not create a QOpenGLWidget here (Qt 6.4 crashes)
    QCOMPARE(w.surfaceView(), nullptr);
    w.setImage(synthetic::ct());
    w.setMask(synthetic::mask());
    QVERIFY(w.model()->hasMask());
    using VK = panseg::ui::MainWindow::ViewKind;
    QCOMPARE(w.grabView(VK::Axial).isNull(), false);
    QCOMPARE(w.grabView(VK::Surface3D).isNull(), false);
    QCOMPARE(w.grabAll().isNull(), false);
    QString error;
    QVERIFY(!w.loadImageBlocking("/nonexistent/ct.nii.gz", &error));
    QVERIFY(!error.isEmpty());
    QVERIFY(w.model()->hasImage()); // the previous image stays
  }
};

int main(int argc, char** argv)
{
  // No display needed: the offscreen platform (where the window must do without its 3D view).
  if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
    qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  TstViewerModel t;
  return QTest::qExec(&t, argc, argv);
}
#include "tst_viewer_model.moc"
