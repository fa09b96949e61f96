// Issue 20, "named, coloured labels", in the window (under xvfb, xcb/GLX): the toolbar's label
// picker shows the shown mask's labels with swatch and name; Edit > Labels... renames and
// recolours; the slice overlays and the 3D surface take the new colour. Screenshots go to
// /tmp/panseg-labels/.
#include "../GuiTestMain.h"
#include "SyntheticData.h"
#include "core/display/LabelPresets.h"
#include "core/display/LabelTable.h"
#include "core/io/ImageIO.h"
#include "database/ContentHash.h"
#include "database/StudyDatabase.h"
#include "ui/LabelTableDialog.h"
#include "ui/MainWindow.h"
#include "ui/SliceView.h"
#include "ui/StudyBrowser.h"
#include "ui/SurfaceView.h"
#include "ui/ViewerModel.h"
#include "ui/Workstation.h"

#include <QAction>
#include <QMenu>
#include <QMenuBar>

#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QtTest>

using namespace panseg;
using panseg::ui::LabelTableDialog;
using panseg::ui::MainWindow;
using panseg::ui::VoxelIndex;
using VK = MainWindow::ViewKind;

namespace
{
const QString kShots = "/tmp/panseg-labels";

// `px` is some grey blended with `c` at `alpha` (the Fill overlay).
bool isTint(QRgb px, Rgb c, double alpha)
{
  const double r = (qRed(px) - alpha * c.r) / (1 - alpha);
  const double g = (qGreen(px) - alpha * c.g) / (1 - alpha);
  const double b = (qBlue(px) - alpha * c.b) / (1 - alpha);
  return std::abs(r - g) < 4 && std::abs(g - b) < 4 && std::abs(r - b) < 4;
}

/// Voxels of the axial slice through the cursor whose label is `label`, and how many of them
/// show a tint of `colour` on screen (crosshair and edges skipped).
std::pair<int, int> tinted(MainWindow& w, int label, Rgb colour)
{
  auto* v = w.sliceView(VK::Axial);
  const QImage shot = w.grabView(VK::Axial);
  const double dpr = shot.devicePixelRatio();
  auto* m = w.model();
  const SliceMapper mapper = m->mapper(v->orientation());
  const QPointF cross = v->voxelToWidget(m->cursor());
  int checked = 0, hits = 0;
  for (int row = 0; row < mapper.height(); ++row)
    for (int col = 0; col < mapper.width(); ++col)
    {
      const Vec3 idx = mapper.sliceToIndex(col, row, m->sliceIndex(v->orientation()));
      const VoxelIndex vox{ int64_t(idx[0]), int64_t(idx[1]), int64_t(idx[2]) };
      if (m->labelAt(vox) != label)
        continue;
      const QPointF p = v->voxelToWidget(vox);
      if (std::abs(p.x() - cross.x()) < 3 || std::abs(p.y() - cross.y()) < 3)
        continue;
      ++checked;
      hits += isTint(shot.pixel(int(p.x() * dpr), int(p.y() * dpr)), colour, m->overlayStyle().opacity);
    }
  return { checked, hits };
}

/// Pixels of the 3D view that are clearly of hue `c` (the surface, shaded).
int surfacePixels(MainWindow& w, Rgb c)
{
  const QImage shot = w.grabView(VK::Surface3D).convertToFormat(QImage::Format_RGB32);
  const QColor want(c.r, c.g, c.b);
  int n = 0;
  for (int y = 0; y < shot.height(); ++y)
    for (int x = 0; x < shot.width(); ++x)
    {
      const QColor px(shot.pixel(x, y));
      if (px.saturation() > 90 && px.value() > 60 && std::abs(px.hue() - want.hue()) < 12)
        ++n;
    }
  return n;
}
} // namespace

class TstLabelsGui : public QObject
{
  Q_OBJECT
private slots:
  void initTestCase() { QDir().mkpath(kShots); }

  void pickerNamesLabelsAndColoursFollowTheTable()
  {
    MainWindow w;
    w.resize(1200, 900);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    const Geometry g = synthetic::ctGeometry();
    w.setImage(synthetic::ct(g));
    LabelMask mask = synthetic::mask(g);
    for (int64_t y = 10; y < 18; ++y) // a second label beside the sphere
      for (int64_t x = 14; x < 24; ++x)
        for (int64_t z = 18; z < 26; ++z)
          mask.at(x, y, z) = 2;
    w.setMask(mask);
    QVERIFY(w.model()->hasMask());
    w.model()->setCursor({ 40, 24, 22 });
    if (w.surfaceView())
      w.surfaceView()->waitForSurface();

    // The picker: one row per label of the mask, swatch + name.
    QComboBox* picker = w.labelPicker();
    QVERIFY(picker);
    QCOMPARE(picker->count(), 2);
    QCOMPARE(picker->itemText(0), QString("1  Pancreas"));
    QCOMPARE(picker->itemText(1), QString("2  Label 2"));
    QCOMPARE(picker->currentIndex(), 0); // the active label
    const QImage swatch = picker->itemIcon(0).pixmap(14, 14).toImage();
    const Rgb amber = LabelColorTable::standard().color(1);
    QCOMPARE(QColor(swatch.pixel(7, 7)), QColor(amber.r, amber.g, amber.b));
    // Choosing a label in the picker sets the active label.
    picker->setCurrentIndex(1);
    emit picker->activated(1);
    QCOMPARE(w.findChild<QSpinBox*>("activeLabel")->value(), 2);

    auto [checked, amberHits] = tinted(w, 1, amber);
    QVERIFY2(checked > 20 && amberHits == checked, qPrintable(QString("%1 of %2").arg(amberHits).arg(checked)));
    const int amber3d = w.surfaceView() ? surfacePixels(w, amber) : 0;
    w.grabAll().save(kShots + "/before.png");

    // Edit > Labels...: rename and recolour label 1, add a label.
    w.editLabelTable();
    auto* dialog = w.findChild<LabelTableDialog*>();
    QVERIFY(dialog);
    QVERIFY(dialog->isVisible());
    const Rgb blue{ 40, 110, 255 };
    QVERIFY(dialog->setName(1, "Pancreas (head)"));
    QVERIFY(dialog->setColor(1, blue));
    QCOMPARE(dialog->addLabel(), 3);
    QTest::qWait(50);
    dialog->grab().save(kShots + "/labels-dialog.png");
    dialog->accept();
    QTRY_VERIFY(!w.findChild<LabelTableDialog*>());

    const LabelTable& t = w.model()->labelTable();
    QCOMPARE(t.label(1).name, std::string("Pancreas (head)"));
    QCOMPARE(t.label(1).type.value, std::string("15776009")); // still coded as the pancreas
    QVERIFY(t.label(1).color == blue);
    QVERIFY(t.has(2) && t.has(3));
    QCOMPARE(picker->itemText(0), QString("1  Pancreas (head)"));
    QCOMPARE(picker->count(), 3);

    // The overlay pixels of label 1 are now blue, those of label 2 unchanged.
    auto [checked2, blueHits] = tinted(w, 1, blue);
    QVERIFY2(blueHits == checked2 && checked2 == checked, qPrintable(QString("%1 of %2").arg(blueHits).arg(checked2)));
    QCOMPARE(tinted(w, 1, amber).second, 0);
    const auto label2 = tinted(w, 2, LabelColorTable::standard().color(2));
    QCOMPARE(label2.second, label2.first);
    // The 3D surface too (same surfaces, new lookup table).
    if (w.surfaceView())
    {
      const int blue3d = surfacePixels(w, blue);
      QVERIFY2(amber3d > 100 && blue3d > 100 && surfacePixels(w, amber) < amber3d / 10,
               qPrintable(QString("amber before %1, blue after %2, amber after %3")
                            .arg(amber3d)
                            .arg(blue3d)
                            .arg(surfacePixels(w, amber))));
    }
    w.grabAll().save(kShots + "/after.png");
    w.grab().save(kShots + "/window.png");

    // A new mask (another file) starts from the defaults again.
    w.setMask(synthetic::mask(g));
    QVERIFY(w.model()->labelTable() == LabelTable::defaults());
    QCOMPARE(picker->itemText(0), QString("1  Pancreas"));
  }

  // File > Open Mask of a label map a research team brings: the preset is recognised from the
  // values present (LabelPresets.h) and the pancreas is found by name, not as label 1.
  void openedMaskFilesGetTheirPreset()
  {
    QTemporaryDir tmp;
    MainWindow w;
    w.resize(900, 700);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    const Geometry g = synthetic::ctGeometry();
    w.setImage(synthetic::ct(g));
    auto write = [&](const QString& name, const std::vector<int>& values)
    {
      LabelMask m(g);
      int64_t i = 0;
      for (int v : values) // a short run of voxels per value
        for (int k = 0; k < 20; ++k)
          m.voxels[static_cast<size_t>(i++ * 37 % int64_t(m.voxels.size()))] = static_cast<uint8_t>(v);
      const QString path = tmp.filePath(name);
      writeMask(m, path.toStdString());
      return path;
    };
    // File > Open Mask loads in the background (as the menu, recent files and drops do).
    auto open = [&](const QString& path)
    {
      QSignalSpy done(&w, &MainWindow::loadFinished);
      if (!w.openMask(path))
        return false;
      if (done.isEmpty() && !done.wait(30000))
        return false;
      return done.at(0).at(0).toBool();
    };
    // TotalSegmentator v2 "total" (largest value 117): 1 = spleen, 7 = pancreas.
    QVERIFY(open(write("total.nii.gz", { 1, 2, 3, 5, 7, 21, 117 })));
    const LabelTable& total = w.model()->labelTable();
    QCOMPARE(total.label(1).name, std::string("Spleen"));
    QCOMPARE(total.label(7).name, std::string("Pancreas"));
    QCOMPARE(pancreasLabelOf(total), 7);
    QComboBox* picker = w.labelPicker();
    QVERIFY(picker->findText("7  Pancreas") >= 0);
    QVERIFY(picker->findText("1  Spleen") >= 0);
    // MSD Task07: 1 = pancreas, 2 = pancreatic tumour.
    QVERIFY(open(write("msd.nii.gz", { 1, 2 })));
    QCOMPARE(w.model()->labelTable().label(2).name, std::string("Pancreatic tumour"));
    QCOMPARE(pancreasLabelOf(w.model()->labelTable()), 1);
    // Not recognisable ({1, 3}): the defaults, 1 = Pancreas.
    QVERIFY(open(write("other.nii.gz", { 1, 3 })));
    QVERIFY(w.model()->labelTable() == LabelTable::defaults());
  }

  // The workstation on a study database: a version opened from the browser shows its stored
  // names and colours; labels edited in the window are saved with the next version.
  void workstationShowsAndSavesTheVersionsTable()
  {
    QTemporaryDir tmp;
    const QString dir = tmp.path() + "/db";
    const Geometry g = synthetic::ctGeometry();
    const std::string ctPath = (tmp.path() + "/ct.nii.gz").toStdString();
    writeImage(synthetic::ct(g), ctPath);
    int64_t series = 0, version = 0;
    {
      qputenv("PANSEG_USER", "rad");
      db::StudyDatabase db(dir.toStdString());
      db::StudyDatabase::NewSeries ns;
      ns.patientKey = ns.studyKey = "name:labels";
      ns.patientName = "labels";
      ns.modality = db::Modality::CT;
      ns.geometry = readImage(ctPath).geometry;
      ns.format = "NIfTI";
      ns.sourcePath = ctPath;
      ns.contentHash = db::imageContentHash(readImage(ctPath));
      series = db.addSeries(ns).id;
      // The synthetic sphere (label 1) and a box (label 2) on the grid as read back from the file.
      LabelMask mask(ns.geometry);
      mask.voxels = synthetic::mask(g).voxels;
      for (int64_t y = 10; y < 18; ++y)
        for (int64_t x = 14; x < 24; ++x)
          for (int64_t z = 18; z < 26; ++z)
            mask.at(x, y, z) = 2;
      LabelTable table = LabelTable::defaults();
      LabelInfo vein = LabelTable::defaultLabel(2);
      vein.name = "Splenic vein";
      vein.color = { 200, 40, 200 };
      table.set(vein);
      db::MaskProvenance p;
      p.labelTable = table;
      version = db.saveMaskVersion(series, mask, p);
    }
    MainWindow w;
    w.resize(1200, 900);
    panseg::ui::Workstation* ws = panseg::ui::attachWorkstation(w, dir);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QVERIFY(ws->browser->selectSeries(series));
    QVERIFY(ws->browser->selectMask(version));
    ws->browser->showSelectedMask();
    QTRY_VERIFY(w.model()->hasMask());
    QCOMPARE(w.model()->labelTable().label(2).name, std::string("Splenic vein"));
    QComboBox* picker = w.labelPicker();
    QCOMPARE(picker->count(), 2);
    QCOMPARE(picker->itemText(1), QString("2  Splenic vein"));
    const QImage swatch = picker->itemIcon(1).pixmap(14, 14).toImage();
    QCOMPARE(QColor(swatch.pixel(7, 7)), QColor(200, 40, 200));
    w.model()->setCursor({ 18, 14, 22 });
    QVERIFY2(w.model()->describeVoxel({ 18, 14, 22 }).endsWith("Label 2 Splenic vein"),
             qPrintable(w.model()->describeVoxel({ 18, 14, 22 })));
    const auto veinPixels = tinted(w, 2, Rgb{ 200, 40, 200 });
    QVERIFY2(veinPixels.first > 10 && veinPixels.second == veinPixels.first,
             qPrintable(QString("%1 of %2").arg(veinPixels.second).arg(veinPixels.first)));
    w.grab().save(kShots + "/workstation.png");

    // Edit > Labels...: rename label 2; Study > Save mask as new version stores it.
    w.editLabelTable();
    auto* dialog = w.findChild<LabelTableDialog*>();
    QVERIFY(dialog);
    QVERIFY(dialog->setName(2, "Splenic vein (patent)"));
    dialog->accept();
    QTRY_VERIFY(!w.findChild<LabelTableDialog*>());
    QAction* save = nullptr;
    for (QAction* a : w.findChildren<QAction*>())
      if (a->text().remove('&') == "Save mask as new version")
        save = a;
    QVERIFY(save);
    save->trigger();
    const int64_t saved = ws->browser->openedMaskId();
    QVERIFY(saved > version);
    db::StudyDatabase check(dir.toStdString());
    const LabelTable stored = check.labelTable(saved);
    QCOMPARE(stored.label(2).name, std::string("Splenic vein (patent)"));
    QVERIFY(stored.label(2).color == (Rgb{ 200, 40, 200 }));
    QCOMPARE(check.labelTable(version).label(2).name, std::string("Splenic vein")); // unchanged
    QCOMPARE(check.maskVersion(saved)->parentId, version);

    // Study > Reduce mask to pancreas (db::savePancreasOnlyVersion, as `panseg db
    // reduce-to-pancreas`): the splenic vein (2) goes, the pancreas stays as 1, and the new
    // version is shown.
    QAction* reduce = w.findChild<QAction*>("reduceToPancreasAction");
    QVERIFY(reduce);
    reduce->trigger();
    const int64_t reduced = ws->browser->openedMaskId();
    QVERIFY(reduced > saved);
    db::StudyDatabase after(dir.toStdString());
    QCOMPARE(after.maskVersion(reduced)->parentId, saved);
    QCOMPARE(after.loadMask(reduced).labels(), std::vector<int>{ 1 });
    QCOMPARE(after.loadMask(reduced).countLabel(1), after.loadMask(saved).countLabel(1));
    QTRY_VERIFY(w.model()->hasMask() && w.model()->mask().labels() == std::vector<int>{ 1 });

    // The Preset box of Edit > Labels...: MSD Task07 names label 2 the pancreatic tumour.
    w.editLabelTable();
    dialog = w.findChild<LabelTableDialog*>();
    QVERIFY(dialog);
    QVERIFY(dialog->applyPreset("msd-task07"));
    QCOMPARE(dialog->table().label(2).name, std::string("Pancreatic tumour"));
    QVERIFY(!dialog->applyPreset("no-such-preset"));
    dialog->reject();
    QTRY_VERIFY(!w.findChild<LabelTableDialog*>());
  }
};

int main(int argc, char** argv)
{
  return test::runGuiTest<TstLabelsGui>(argc, argv);
}
#include "tst_labels_gui.moc"
