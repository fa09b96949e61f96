// Predict on a series opened from the study database: the window runs the shipped demo model in
// panseg-worker, and the study browser stores the result as an AI mask version linked to the model
// registry (the wiring app/GuiCommands.cpp uses). An image opened from another file stays a file.
// Runs under xvfb-run with xcb/GLX (see tests/CMakeLists.txt).
#include "../GuiTestMain.h"
#include "core/demo/PhantomGenerator.h"
#include "core/io/ImageIO.h"
#include "core/metrics/Agreement.h"
#include "database/StudyDatabase.h"
#include "ui/MainWindow.h"
#include "ui/StudyBrowser.h"
#include "ui/ViewerModel.h"

#include <QApplication>
#include <QFile>
#include <QMessageBox>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

using namespace panseg;
using panseg::ui::MainWindow;
using panseg::ui::StudyBrowser;

class TstPredictStudy : public QObject
{
  Q_OBJECT
  QTemporaryDir m_tmp;

private slots:
  void initTestCase()
  {
    QVERIFY(m_tmp.isValid());
    qputenv("PANSEG_WORKER", PANSEG_WORKER_PATH);
    QSettings(QStringLiteral("PanSeg"), QStringLiteral("PanSeg Workstation"))
        .setValue(MainWindow::settingsKeyFor(MainWindow::defaultActingUser(), "predict/fast"), true);
  }

  void predictionOfSeriesBecomesAiVersion()
  {
    demo::PhantomOptions po;
    po.seed = 1;
    po.generateMr = false;
    const demo::Phantom ph = demo::generatePhantom(po);
    const QString ct = m_tmp.filePath("ct.nii.gz"), copy = m_tmp.filePath("copy_of_ct.nii.gz");
    writeImage(ph.ct, ct.toStdString());
    writeImage(ph.ct, copy.toStdString());

    StudyBrowser browser;
    QString error;
    QVERIFY2(browser.openDatabase(m_tmp.filePath("db"), &error), qPrintable(error));
    QVERIFY(browser.importPaths({ ct }));
    QVERIFY(browser.waitForImport());
    const int64_t series = browser.selectedSeriesId();
    QVERIFY(series > 0);

    MainWindow w;
    w.resize(1000, 800);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    connect(&browser, &StudyBrowser::openSeriesRequested, &w, [&](int64_t id) { w.setImage(browser.loadSeries(id)); });
    connect(&w, &MainWindow::predictionFinished, &browser, [&](bool ok, const QString&) {
      if (ok && w.model()->hasMask())
        browser.savePrediction(w.model()->image(), w.model()->mask(), w.predictionModelDir());
    });
    QSignalSpy saved(&browser, &StudyBrowser::maskVersionSaved);
    browser.selectSeries(series);
    browser.openSelectedSeries();
    QCOMPARE(browser.openedSeriesId(), series);
    QVERIFY(w.model()->hasImage());

    QSignalSpy finished(&w, &MainWindow::predictionFinished);
    QVERIFY(w.predictPancreas(PANSEG_DEMO_MODEL));
    QVERIFY(finished.wait(300000));
    QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(finished.at(0).at(1).toString()));
    QCOMPARE(saved.size(), 1);

    const auto masks = browser.database()->masksOf(series);
    QCOMPARE(masks.size(), size_t(1));
    const db::MaskVersion& v = masks[0];
    QCOMPARE(v.source, db::MaskSource::AI);
    QCOMPARE(v.state, db::MaskState::Draft);
    QVERIFY(v.modelVersionId > 0);
    QVERIFY2(v.modelLabel.find("pansegnet-demo") != std::string::npos, v.modelLabel.c_str());
    QCOMPARE(browser.openedMaskId(), v.id);
    // The stored voxels are the ones on screen, and they are the phantom's pancreas.
    const LabelMask stored = browser.loadMask(v.id);
    QVERIFY(stored.voxels == w.model()->mask().voxels);
    const double dice = computeAgreement(stored, 1, ph.pancreas, 1).dice;
    QVERIFY2(dice > 0.6, qPrintable(QString::number(dice)));

    // The same pixels opened from another file: the prediction stays a file, nothing is saved.
    QString loadError;
    QVERIFY2(w.loadImageBlocking(copy, &loadError), qPrintable(loadError));
    QCOMPARE(browser.savePrediction(w.model()->image(), stored, PANSEG_DEMO_MODEL), int64_t(0));
    QCOMPARE(saved.size(), 1);
    QCOMPARE(browser.database()->masksOf(series).size(), size_t(1));
    for (QMessageBox* b : w.findChildren<QMessageBox*>())
      b->close();
  }
};

int main(int argc, char** argv)
{
  return test::runGuiTest<TstPredictStudy>(argc, argv);
}
#include "tst_predict_study.moc"
