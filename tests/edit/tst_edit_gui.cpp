// Mask editing in the real main window under Xvfb: a synthetic CT imported into a real study
// database, a paint stroke with simulated mouse events on the axial view, undo and redo through
// their shortcuts, the autosaved recovery file, saving as a new mask version and reading that
// version back; the unsaved-edits prompt on close.
#include "../GuiTestMain.h"
#include "../ui/SyntheticData.h"

#include "core/edit/RecoveryFile.h"
#include "core/io/ImageIO.h"
#include "database/Importer.h"
#include "database/StudyDatabase.h"
#include "ui/EditController.h"
#include "ui/MainWindow.h"
#include "ui/SliceView.h"
#include "ui/StudyBrowser.h"
#include "ui/ViewerModel.h"

#include <QAction>
#include <QApplication>
#include <QDoubleSpinBox>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QTemporaryDir>
#include <QTimer>
#include <QSignalSpy>
#include <QtTest>

using namespace panseg;
using panseg::ui::EditController;
using panseg::ui::MainWindow;

class TestEditGui : public QObject
{
  Q_OBJECT

  QTemporaryDir m_tmp;

  // The stroke below: 2D disks of radius 2 mm around (x, 28, 20) for x = 10..30 (0.8 mm pixels).
  static LabelMask expectedStroke(const Geometry& g)
  {
    LabelMask m(g, 0);
    for (int64_t y = 0; y < g.size[1]; ++y)
      for (int64_t x = 0; x < g.size[0]; ++x)
        for (int64_t cx = 10; cx <= 30; ++cx)
        {
          const double dx = (x - cx) * g.spacingMm[0], dy = (y - 28) * g.spacingMm[1];
          if (dx * dx + dy * dy <= 4.0 + 1e-9)
            m.at(x, y, 20) = 1;
        }
    return m;
  }

private slots:
  void paintUndoRedoSaveReload()
  {
    QVERIFY(m_tmp.isValid());
    const QString imagePath = m_tmp.path() + "/edit_ct.nii.gz";
    writeImage(synthetic::ct(), imagePath.toStdString());
    const QString dbFolder = m_tmp.path() + "/db";
    int64_t seriesId = 0;
    {
      db::StudyDatabase db(dbFolder.toStdString());
      const db::ImportReport r = db::importPaths(db, {imagePath.toStdString()});
      QCOMPARE(r.importedSeries.size(), size_t(1));
      seriesId = r.importedSeries.front();
    }
    ui::StudyBrowser browser;
    QVERIFY2(browser.openDatabase(dbFolder), qPrintable(browser.lastError()));

    MainWindow w;
    w.resize(1200, 950);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    w.activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(&w)); // window shortcuts (Ctrl+Z) need an active window
    w.setImage(browser.loadSeries(seriesId));
    QVERIFY(!w.model()->hasMask());
    EditController* edit = w.editController();
    QVERIFY(edit);
    edit->setRecoveryDir(m_tmp.path() + "/recovery");
    edit->setAutosavePolicy(1, 3600); // autosave after every edit

    // Paintbrush, 2 mm, 2D, through the toolbar/menu actions like a user.
    auto* paint = w.findChild<QAction*>("toolPaint");
    QVERIFY(paint);
    paint->trigger();
    QCOMPARE(edit->tool(), EditController::Tool::Paint);
    auto* size = w.findChild<QDoubleSpinBox*>("brushRadiusMm");
    QVERIFY(size);
    size->setValue(2.0);
    QCOMPARE(edit->brushRadiusMm(), 2.0);

    w.setSliceIndex(MainWindow::ViewKind::Axial, 20);
    ui::SliceView* axial = w.sliceView(MainWindow::ViewKind::Axial);
    QApplication::processEvents();
    const quint64 revisionBefore = w.model()->dataRevision();
    const QPoint start = axial->voxelToWidget({10, 28, 20}).toPoint();
    QCOMPARE(axial->widgetToVoxel(start), (std::array<int64_t, 3>{10, 28, 20}));
    QTest::mousePress(axial, Qt::LeftButton, {}, start);
    for (int64_t x = 12; x <= 30; x += 3)
      QTest::mouseMove(axial, axial->voxelToWidget({x, 28, 20}).toPoint());
    const QPoint end = axial->voxelToWidget({30, 28, 20}).toPoint();
    QTest::mouseMove(axial, end);
    QTest::mouseRelease(axial, Qt::LeftButton, {}, end);

    const Geometry g = w.model()->geometry();
    const LabelMask expected = expectedStroke(g);
    QVERIFY(w.model()->hasMask());
    QVERIFY(expected.countLabel(1) > 60);
    QCOMPARE(w.model()->mask().countLabel(1), expected.countLabel(1));
    QVERIFY(w.model()->mask().voxels == expected.voxels);
    QVERIFY(w.model()->maskShared()->voxels == expected.voxels); // the committed snapshot
    QVERIFY(w.model()->dataRevision() > revisionBefore);         // the 3D view rebuilds from it
    QVERIFY(edit->isModified());
    QVERIFY(edit->canUndo());

    // Autosaved recovery file: exact.
    const edit::Recovery rec = edit::readRecoveryFile(edit->recoveryFilePath().toStdString());
    QVERIFY(rec.mask.voxels == expected.voxels);
    QVERIFY(rec.mask.geometry.sameGrid(g));

    // Ctrl+Z / Ctrl+Y.
    axial->setFocus();
    QTest::keyClick(axial, Qt::Key_Z, Qt::ControlModifier);
    QCOMPARE(w.model()->mask().countLabel(0), int64_t(0));
    QVERIFY(!edit->canUndo());
    QTest::keyClick(axial, Qt::Key_Y, Qt::ControlModifier);
    QVERIFY(w.model()->mask().voxels == expected.voxels);

    // '+' grows the brush while painting (ITK-SNAP); the view zoom is untouched.
    const double zoom = w.model()->viewState(SliceOrientation::Axial).zoom;
    QTest::keyClick(axial, Qt::Key_Plus);
    QCOMPARE(edit->brushRadiusMm(), 2.5);
    QCOMPARE(w.model()->viewState(SliceOrientation::Axial).zoom, zoom);

    // Save as a new version in the real database, as Study > Save mask does; read it back.
    const int64_t versionId = browser.saveMaskVersion(seriesId, w.model()->mask(), 0);
    QVERIFY2(versionId > 0, qPrintable(browser.lastError()));
    edit->markSaved();
    QVERIFY(!edit->isModified());
    QVERIFY(!QFile::exists(edit->recoveryFilePath()));
    {
      db::StudyDatabase db(dbFolder.toStdString());
      QCOMPARE(db.integrityCheck(), std::string("ok"));
    }
    const LabelMask reloaded = browser.loadMask(versionId);
    QVERIFY(reloaded.geometry.sameGrid(g));
    QVERIFY(reloaded.voxels == expected.voxels);

    // An unsaved edit makes close ask; Cancel keeps the window, Discard closes it.
    QTest::mouseClick(axial, Qt::LeftButton, {}, axial->voxelToWidget({40, 10, 20}).toPoint());
    QVERIFY(edit->isModified());
    auto answer = [](const QString& button)
    {
      QTimer::singleShot(
          300,
          [button]
          {
            auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
            if (!box)
              return;
            for (QAbstractButton* b : box->buttons())
              if (b->text() == button ||
                  (button == "Cancel" && box->buttonRole(b) == QMessageBox::RejectRole))
              {
                b->click();
                return;
              }
          });
    };
    // Opening another image, predicting, or another series from the browser asks the same
    // question; Cancel keeps the image, the edited mask and the browser's opened series.
    const LabelMask edited = w.model()->mask();
    answer("Cancel");
    QVERIFY(!w.openImage(imagePath));
    QVERIFY(edit->isModified());
    QVERIFY(w.model()->mask().voxels == edited.voxels);
    answer("Cancel");
    QVERIFY(!w.predictPancreas(m_tmp.path()));
    QVERIFY(!w.isPredicting());
    browser.setOpenGuard([&w] { return w.confirmUnsavedEdits("opening another series"); });
    QVERIFY(browser.selectSeries(seriesId));
    const int64_t openedBefore = browser.openedSeriesId();
    QSignalSpy openRequests(&browser, &ui::StudyBrowser::openSeriesRequested);
    answer("Cancel");
    browser.openSelectedSeries();
    QCOMPARE(openRequests.size(), 0);
    QCOMPARE(browser.openedSeriesId(), openedBefore);
    QVERIFY(w.model()->mask().voxels == edited.voxels);

    answer("Cancel");
    QVERIFY(!w.close());
    QVERIFY(w.isVisible());
    answer("Discard Edits");
    QVERIFY(w.close());
  }

  // File > Save Mask As: an image and mask opened from files, edited, saved to a new file that
  // reads back exactly; bad names and unwritable folders are refused and keep the edits unsaved;
  // the unsaved-edits prompt offers saving to a file.
  void saveMaskAsFile()
  {
    const QString imagePath = m_tmp.path() + "/file_ct.nii.gz", maskPath = m_tmp.path() + "/file_ct_seg.nii.gz";
    writeImage(synthetic::ct(), imagePath.toStdString());
    writeMask(synthetic::mask(), maskPath.toStdString());
    MainWindow w;
    w.resize(1200, 950);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QVERIFY(w.openImage(imagePath));
    QTRY_VERIFY_WITH_TIMEOUT(w.model()->hasImage(), 20000);
    QVERIFY(w.openMask(maskPath));
    QTRY_VERIFY_WITH_TIMEOUT(w.model()->hasMask(), 20000);
    EditController* edit = w.editController();
    edit->setRecoveryDir(m_tmp.path() + "/recovery-file");
    w.findChild<QAction*>("toolPaint")->trigger();
    w.setSliceIndex(MainWindow::ViewKind::Axial, 20);
    ui::SliceView* axial = w.sliceView(MainWindow::ViewKind::Axial);
    QApplication::processEvents();
    const int64_t before = w.model()->mask().countLabel(1);
    QTest::mouseClick(axial, Qt::LeftButton, {}, axial->voxelToWidget({5, 5, 20}).toPoint());
    QVERIFY(edit->isModified());
    QVERIFY(w.model()->mask().countLabel(1) > before); // countLabel(0) = any non-zero label
    const LabelMask edited = w.model()->mask();

    QVERIFY(w.findChild<QAction*>("saveMaskAs"));
    QVERIFY(!w.saveMaskAs(m_tmp.path() + "/edited.txt"));
    QVERIFY2(w.lastError().contains("choose a .nii.gz, .nii, .nrrd, .mha or .mhd file"), qPrintable(w.lastError()));
    QVERIFY(!w.saveMaskAs(m_tmp.path() + "/no/such/folder/edited.nii.gz"));
    QVERIFY2(w.lastError().contains("The mask was not saved to"), qPrintable(w.lastError()));
    QVERIFY(edit->isModified());
    QVERIFY(!QFile::exists(m_tmp.path() + "/edited.txt"));

    const QString out = m_tmp.path() + "/edited_seg.nrrd";
    QVERIFY2(w.saveMaskAs(out), qPrintable(w.lastError()));
    QVERIFY(!edit->isModified());
    QVERIFY(w.windowTitle().contains("edited_seg.nrrd"));
    const LabelMask back = readMask(out.toStdString());
    QVERIFY(back.geometry.sameGrid(edited.geometry));
    QVERIFY(back.voxels == edited.voxels);
    QVERIFY(readMask(maskPath.toStdString()).voxels == synthetic::mask().voxels); // the original is untouched

    // Another edit: closing asks, and the prompt offers "Save as File...".
    QTest::mouseClick(axial, Qt::LeftButton, {}, axial->voxelToWidget({40, 10, 20}).toPoint());
    QVERIFY(edit->isModified());
    QStringList buttons;
    QTimer::singleShot(300,
                       [&buttons]
                       {
                         auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
                         if (!box)
                           return;
                         for (QAbstractButton* b : box->buttons())
                           buttons << b->text();
                         for (QAbstractButton* b : box->buttons())
                           if (b->text() == "Discard Edits")
                             b->click();
                       });
    QVERIFY(w.close());
    QVERIFY2(buttons.contains("Save as File..."), qPrintable(buttons.join(", ")));
  }

  // Study > Submit mask for approval: unsaved edits are saved as a new version first, and that
  // version goes draft -> submitted in the real database, audited; a second submit is refused.
  void submitForApproval()
  {
    QVERIFY(m_tmp.isValid());
    const QString imagePath = m_tmp.path() + "/submit_ct.nii.gz";
    writeImage(synthetic::ct(), imagePath.toStdString());
    const QString dbFolder = m_tmp.path() + "/submit_db";
    int64_t seriesId = 0;
    {
      db::StudyDatabase db(dbFolder.toStdString());
      const db::ImportReport r = db::importPaths(db, {imagePath.toStdString()});
      QCOMPARE(r.importedSeries.size(), size_t(1));
      seriesId = r.importedSeries.front();
    }
    ui::StudyBrowser browser;
    QVERIFY2(browser.openDatabase(dbFolder), qPrintable(browser.lastError()));
    MainWindow w;
    w.resize(1000, 800);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QObject::connect(&browser, &ui::StudyBrowser::openSeriesRequested, &w,
                     [&](int64_t id) { w.setImage(browser.loadSeries(id)); });
    QVERIFY(browser.selectSeries(seriesId));
    browser.openSelectedSeries();
    QCOMPARE(browser.openedSeriesId(), seriesId);
    QCOMPARE(browser.openedMaskId(), int64_t(0));
    QString error;
    int64_t saved = -1;
    // Nothing opened and nothing edited: nothing to submit.
    QCOMPARE(browser.submitOpenedMask(nullptr, &saved, &error), int64_t(0));
    QVERIFY2(error.contains("no mask version to submit", Qt::CaseInsensitive), qPrintable(error));

    EditController* edit = w.editController();
    edit->setRecoveryDir(m_tmp.path() + "/submit_recovery");
    edit->setTool(EditController::Tool::Paint);
    edit->setBrushRadiusMm(2.0);
    edit->pressAt(SliceOrientation::Axial, {20, 20, 10});
    edit->release();
    QVERIFY(edit->isModified());
    const LabelMask edited = w.model()->mask();
    QVERIFY(edited.countLabel(1) > 0);

    error.clear();
    const int64_t id = browser.submitOpenedMask(&w.model()->mask(), &saved, &error);
    QVERIFY2(id > 0, qPrintable(error));
    QCOMPARE(saved, id);
    QCOMPARE(browser.openedMaskId(), id);
    {
      db::StudyDatabase db(dbFolder.toStdString());
      const auto v = db.maskVersion(id);
      QVERIFY(v.has_value());
      QCOMPARE(v->state, db::MaskState::Submitted);
      QVERIFY(db.loadMask(id).voxels == edited.voxels); // the edits, not the mask before them
      bool audited = false;
      for (const db::AuditEntry& e : db.auditLog("mask_versions", id))
        if (e.action == "set-mask-state" && e.detailsJson.find("\"submitted\"") != std::string::npos &&
            e.detailsJson.find("\"draft\"") != std::string::npos)
          audited = true;
      QVERIFY(audited);
    }

    // Submitting again (nothing unsaved now) is not a step of the review workflow.
    error.clear();
    QCOMPARE(browser.submitOpenedMask(nullptr, &saved, &error), int64_t(0));
    QCOMPARE(saved, int64_t(0));
    QVERIFY2(error.contains("from submitted to submitted: not a step of the review workflow"), qPrintable(error));
    // An approved version cannot be submitted either.
    {
      db::StudyDatabase db(dbFolder.toStdString());
      db.setMaskState(id, db::MaskState::Approved);
    }
    error.clear();
    QVERIFY(!browser.submitMaskVersion(id, &error));
    QVERIFY2(error.contains("from approved to submitted: not a step of the review workflow"), qPrintable(error));
    {
      db::StudyDatabase db(dbFolder.toStdString());
      QCOMPARE(db.maskVersion(id)->state, db::MaskState::Approved);
    }
    edit->markSaved();
  }

  void scissorsCutThroughTheVolume()
  {
    MainWindow w;
    w.resize(1000, 800);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    const Geometry g = synthetic::ctGeometry();
    w.setImage(synthetic::ct());
    LabelMask block(g, 0);
    for (int64_t z = 0; z < g.size[2]; ++z)
      for (int64_t y = 5; y < 45; ++y)
        for (int64_t x = 5; x < 45; ++x)
          block.at(x, y, z) = 1;
    w.setMask(block);
    auto* scissors = w.findChild<QAction*>("toolScissors");
    QVERIFY(scissors);
    scissors->trigger();
    QCOMPARE(w.editController()->tool(), EditController::Tool::Scissors);

    // A square lasso around voxels 15..25 (x, y) on axial slice 20, drawn with the mouse.
    w.setSliceIndex(MainWindow::ViewKind::Axial, 20);
    ui::SliceView* axial = w.sliceView(MainWindow::ViewKind::Axial);
    QApplication::processEvents();
    const std::array<std::array<int64_t, 3>, 5> corners{
        {{14, 14, 20}, {26, 14, 20}, {26, 26, 20}, {14, 26, 20}, {14, 14, 20}}};
    QTest::mousePress(axial, Qt::LeftButton, {}, axial->voxelToWidget(corners[0]).toPoint());
    for (size_t i = 1; i < corners.size(); ++i)
      QTest::mouseMove(axial, axial->voxelToWidget(corners[i]).toPoint());
    QTest::mouseRelease(axial, Qt::LeftButton, {}, axial->voxelToWidget(corners[4]).toPoint());

    // Cut on every slice along the view; outside the lasso nothing changed; one undo step.
    const LabelMask& m = w.model()->mask();
    for (int64_t z = 0; z < g.size[2]; ++z)
    {
      QCOMPARE(int(m.at(20, 20, z)), 0);
      QCOMPARE(int(m.at(16, 24, z)), 0);
      QCOMPARE(int(m.at(8, 8, z)), 1);
      QCOMPARE(int(m.at(40, 20, z)), 1);
      QCOMPARE(int(m.at(20, 40, z)), 1);
    }
    const int64_t removed = block.countLabel(1) - m.countLabel(1);
    QVERIFY2(removed >= 11 * 11 * g.size[2] && removed <= 13 * 13 * g.size[2], qPrintable(QString::number(removed)));
    QVERIFY(w.editController()->canUndo());
    w.editController()->undo();
    QVERIFY(w.model()->mask().voxels == block.voxels);
    w.editController()->markSaved(); // nothing to ask about on close
  }

  void compareModeColoursAndLiveDice()
  {
    MainWindow w;
    w.resize(1000, 800);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    const Geometry g = synthetic::ctGeometry();
    w.setImage(synthetic::ct());
    LabelMask a(g, 0), b(g, 0);
    for (int64_t y = 10; y < 30; ++y)
      for (int64_t x = 10; x < 30; ++x)
      {
        a.at(x, y, 20) = 1;      // A: x 10..29
        b.at(x + 10, y, 20) = 1; // B: x 20..39
      }
    w.setMask(a);
    ui::ViewerModel* m = w.model();
    QVERIFY(m->setComparisonMask(b));
    auto* label = w.findChild<QLabel*>("comparisonLabel");
    QVERIFY(label);
    QVERIFY(label->isVisible());
    QVERIFY2(label->text().contains("Dice 0.500"), qPrintable(label->text()));
    QCOMPARE(m->comparisonCounts().both, int64_t(200));

    // Agreement colours on the axial slice: both yellow, only A green, only B magenta.
    m->setSliceIndex(SliceOrientation::Axial, 20);
    m->setOverlayOpacity(1.0);
    const QImage img = m->renderSlice(SliceOrientation::Axial);
    const SliceMapper map = m->mapper(SliceOrientation::Axial);
    auto colourAt = [&](int64_t x, int64_t y)
    {
      const Vec3 s = map.indexToSlice({double(x), double(y), 20.0});
      return img.pixelColor(int(std::lround(s[0])), int(std::lround(s[1])));
    };
    QCOMPARE(colourAt(25, 20), QColor(255, 215, 0));  // both
    QCOMPARE(colourAt(12, 20), QColor(40, 210, 90));  // only A
    QCOMPARE(colourAt(35, 20), QColor(230, 60, 230)); // only B

    // Painting A over the only-B part raises Dice at once (after the stroke).
    EditController* edit = w.editController();
    edit->setTool(EditController::Tool::Paint);
    edit->setBrushShape(edit::BrushShape::Square);
    edit->setBrushRadiusMm(4.0); // 0.8 mm pixels: 5 voxels each way -> an 11x11 square
    edit->pressAt(SliceOrientation::Axial, {35, 20, 20});
    edit->release();
    const edit::OverlapCounts c = m->comparisonCounts();
    QCOMPARE(c.both, int64_t(200 + 10 * 11)); // square x 30..40, y 15..25; B holds x 30..39 of it
    QVERIFY(c.dice() > 0.5);
    QVERIFY2(label->text().contains(QString::number(c.dice(), 'f', 3)), qPrintable(label->text()));
    m->clearComparison();
    QVERIFY(!label->isVisible());
  }
};

int main(int argc, char** argv)
{
  return test::runGuiTest<TestEditGui>(argc, argv);
}
#include "tst_edit_gui.moc"
