// "Predict Pancreas" end to end: the window starts panseg-worker (LibTorch stays out of this
// process) with a package imported from the parity fixture's nnU-Net checkpoint, the mask
// arrives on the image's grid and is painted; Cancel stops the worker and leaves no file.
// The fixture network has random weights, so only the plumbing is checked, not the anatomy.
// Runs under xvfb-run with xcb/GLX (see tests/CMakeLists.txt).
#include "../GuiTestMain.h"
#include "SharedData.h"
#include "SyntheticData.h"
#include "core/io/ImageIO.h"
#include "ui/EditController.h"
#include "ui/MainWindow.h"
#include "ui/SliceView.h"
#include "ui/ViewerModel.h"
#include "ui/WorkerClient.h"

#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QMessageBox>
#include <QProcess>
#include <QToolButton>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <memory>

using namespace panseg;
using panseg::ui::MainWindow;
using panseg::ui::PredictRequest;
using panseg::ui::WorkerClient;
using VK = MainWindow::ViewKind;

namespace
{
QSettings settings()
{
  return QSettings(QStringLiteral("PanSeg"), QStringLiteral("PanSeg Workstation"));
}

void closeMessageBoxes(QWidget& w)
{
  for (QMessageBox* b : w.findChildren<QMessageBox*>())
    b->close();
}
} // namespace

class TstPredict : public QObject
{
  Q_OBJECT
  QTemporaryDir m_tmp;
  QString m_package;
  std::unique_ptr<MainWindow> m_w;

  MainWindow& window()
  {
    m_w = std::make_unique<MainWindow>();
    m_w->resize(1200, 900);
    m_w->show();
    if (!QTest::qWaitForWindowExposed(m_w.get()))
      qWarning("window not exposed");
    return *m_w;
  }

private slots:
  void initTestCase()
  {
    PANSEG_REQUIRE_SHARED("fixtures/pansegnet-parity/model_final_checkpoint.model");
    QVERIFY(m_tmp.isValid());
    qputenv("PANSEG_WORKER", PANSEG_WORKER_PATH);
    // An nnU-Net v1 result folder made of the fixture's checkpoint, imported without Python.
    const QString result = m_tmp.filePath("Task999/nnTransUNetTrainerV2__nnUNetPlansv2.1");
    QVERIFY(QDir().mkpath(result + "/fold_0"));
    for (const QString f : { "model_final_checkpoint.model", "model_final_checkpoint.model.pkl" })
      QVERIFY(QFile::copy(paths::shared("fixtures/pansegnet-parity/" + f), result + "/fold_0/" + f));
    m_package = m_tmp.filePath("package");
    QProcess import;
    import.start(PANSEG_MODELS_TOOL, { "import-nnunet", result, "--out", m_package, "--name", "fixture-test",
                                       "--modality", "CT" });
    QVERIFY(import.waitForFinished(120000));
    QVERIFY2(import.exitCode() == 0, import.readAllStandardError().constData());
    QVERIFY(WorkerClient::looksLikeModelPackage(m_package));
  }

  void cleanup()
  {
    if (m_w)
      closeMessageBoxes(*m_w);
    m_w.reset();
  }

  void workerClientWithoutWindow()
  {
    const QString input = m_tmp.filePath("ct.nii.gz");
    writeImage(synthetic::ct(), input.toStdString());
    PredictRequest req;
    req.modelDir = m_package;
    req.inputPath = input;
    req.outputPath = m_tmp.filePath("out/ct_mask.nii.gz");
    req.device = "cpu";
    req.fast = true;
    WorkerClient w;
    QSignalSpy done(&w, &WorkerClient::finished), failed(&w, &WorkerClient::failed), est(&w, &WorkerClient::estimateReady),
        prog(&w, &WorkerClient::progress);
    QVERIFY(w.start(req));
    QVERIFY(w.waitForFinished(180000));
    QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.at(0).at(0).toString()));
    QCOMPARE(done.size(), 1);
    QCOMPARE(est.size(), 1);
    QVERIFY(prog.size() >= 3);
    QVERIFY(w.estimatedSeconds() > 0);
    QCOMPARE(w.result().value("output").toString(), req.outputPath);
    const LabelMask m = readMaskFor(req.outputPath.toStdString(), synthetic::ctGeometry());
    QCOMPARE(m.countLabel(0), qint64(w.result().value("voxels").toInteger()));
    // Per-label counts and the voxel volume: panseg predict and Predict Pancreas take the pancreas
    // by name from them (db::predictedPancreasVolume); this package names only a pancreas.
    const QJsonObject perLabel = w.result().value("label_voxels").toObject();
    qint64 sum = 0;
    for (const QString& k : perLabel.keys())
    {
      QCOMPARE(m.countLabel(k.toInt()), qint64(perLabel.value(k).toInteger()));
      sum += perLabel.value(k).toInteger();
    }
    QCOMPARE(sum, m.countLabel(0));
    QVERIFY(qAbs(w.result().value("voxel_ml").toDouble() - m.geometry.voxelVolumeMm3() / 1000.0) < 1e-9);
    QCOMPARE(w.result().value("model_dir").toString(), QDir(m_package).absolutePath());
    const panseg::db::PredictedVolume v = panseg::db::predictedPancreasVolume(w.result(), m_package);
    QCOMPARE(v.label, 0);
    QCOMPARE(v.voxels, m.countLabel(0));
    qInfo("worker --fast on a 64x56x40 image: %s forward passes, %.1f s, %.2f mL",
          qPrintable(QString::number(w.result().value("forward_passes").toInteger())),
          w.result().value("seconds").toDouble(), w.result().value("volume_ml").toDouble());
  }

  void missingWorkerAndModel()
  {
    WorkerClient w;
    w.setWorkerPath(m_tmp.filePath("no-such-worker"));
    QSignalSpy failed(&w, &WorkerClient::failed);
    PredictRequest req;
    req.modelDir = m_package;
    req.inputPath = "x.nii.gz";
    req.outputPath = m_tmp.filePath("never.nii.gz");
    QVERIFY(!w.start(req));
    QCOMPARE(failed.size(), 1);
    QVERIFY(failed.at(0).at(0).toString().contains("not found"));

    WorkerClient w2; // real worker, missing model: one-line error from the worker
    QSignalSpy failed2(&w2, &WorkerClient::failed);
    req.modelDir = m_tmp.filePath("no-such-model");
    QVERIFY(w2.start(req));
    QVERIFY(w2.waitForFinished(60000));
    QCOMPARE(failed2.size(), 1);
    QVERIFY2(failed2.at(0).at(0).toString().contains("model package not found"),
             qPrintable(failed2.at(0).at(0).toString()));
  }

  void predictShowsMask()
  {
    settings().setValue(MainWindow::settingsKeyFor(MainWindow::defaultActingUser(), "predict/fast"), true);
    MainWindow& w = window();
    w.setImage(synthetic::ct()); // not from a file: the window writes a temporary NIfTI
    const quint64 before = w.model()->dataRevision();
    QSignalSpy maskChanged(w.model(), &ui::ViewerModel::maskChanged);
    QSignalSpy finished(&w, &MainWindow::predictionFinished);
    QVERIFY(w.predictPancreas(m_package));
    QVERIFY(w.isPredicting());
    // In the background: progress in the status bar, no modal dialog, the views still respond,
    // and the mask about to be replaced refuses edits.
    QWidget* status = w.predictionStatus();
    QVERIFY(status && status->isVisible());
    QVERIFY(!QApplication::activeModalWidget());
    const int slice = w.model()->sliceIndex(panseg::SliceOrientation::Axial);
    w.sliceView(VK::Axial)->setFocus();
    QTest::keyClick(w.sliceView(VK::Axial), Qt::Key_Up);
    QCOMPARE(w.model()->sliceIndex(panseg::SliceOrientation::Axial), slice + 1);
    QVERIFY(w.editController()->isLocked());
    QVERIFY(finished.wait(180000));
    QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(finished.at(0).at(1).toString()));
    qInfo("%s", qPrintable(finished.at(0).at(1).toString()));
    QVERIFY(!status->isVisible());
    QVERIFY(!w.editController()->isLocked());
    QVERIFY(w.model()->hasMask());
    QVERIFY(w.model()->dataRevision() > before);
    QVERIFY(!maskChanged.isEmpty());
    std::string why;
    QVERIFY2(w.model()->mask().geometry.sameGrid(synthetic::ctGeometry(), &why), why.c_str());
    QVERIFY(QFileInfo::exists(w.lastPredictionPath()));
    QCOMPARE(w.predictionModelDir(), QFileInfo(m_package).absoluteFilePath()); // remembered

    // The overlay is painted: with the cursor on a predicted voxel, the axial view differs
    // from the same view without the mask.
    const LabelMask& m = w.model()->mask();
    const auto it = std::find(m.voxels.begin(), m.voxels.end(), uint8_t(1));
    if (it == m.voxels.end())
      QSKIP("the random fixture network predicted no foreground on this image");
    const int64_t i = it - m.voxels.begin();
    w.model()->setCursor({ i % m.nx(), (i / m.nx()) % m.ny(), i / (m.nx() * m.ny()) });
    const QImage withMask = w.grabView(VK::Axial);
    w.model()->clearMask();
    const QImage without = w.grabView(VK::Axial);
    QVERIFY(withMask != without);
  }

  void cancelStopsWorker()
  {
    settings().setValue(MainWindow::settingsKeyFor(MainWindow::defaultActingUser(), "predict/fast"), false); // full TTA: long enough to cancel
    MainWindow& w = window();
    const QString input = m_tmp.filePath("ct_for_cancel.nii.gz");
    writeImage(synthetic::ct(), input.toStdString());
    QString error;
    QVERIFY2(w.loadImageBlocking(input, &error), qPrintable(error)); // from a file: passed as is
    QSignalSpy finished(&w, &MainWindow::predictionFinished);
    QSignalSpy progress(w.workerClient(), &WorkerClient::progress);
    QVERIFY(w.predictPancreas(m_package));
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < 120000 && finished.isEmpty() &&
           !w.workerClient()->lastMessage().contains("forward passes"))
      QTest::qWait(20);
    QVERIFY2(finished.isEmpty(), "finished before it could be cancelled");
    QCOMPARE(w.workerClient()->startedEvent().value("input").toString(), input);
    // Cancel as the user does: the Cancel button in the status bar.
    auto* cancelButton = w.predictionStatus()->findChild<QToolButton*>("cancelPrediction");
    QVERIFY(cancelButton && cancelButton->isVisible());
    t.restart();
    QTest::mouseClick(cancelButton, Qt::LeftButton);
    QVERIFY(finished.wait(30000));
    qInfo("cancelled %.1f s after Cancel", t.elapsed() / 1000.0);
    QCOMPARE(finished.at(0).at(0).toBool(), false);
    QCOMPARE(finished.at(0).at(1).toString(), QString("cancelled"));
    QVERIFY(!w.isPredicting());
    QVERIFY(!w.model()->hasMask());
    QVERIFY(w.workerClient()->wasCancelled());
    // No partial output next to the predictions.
    const QDir out(QFileInfo(WorkerClient::predictionOutputPath("ct_for_cancel.nii.gz", "x")).path());
    QVERIFY(out.entryList({ "*ct_for_cancel*" }, QDir::Files | QDir::Hidden).isEmpty());
  }
};

int main(int argc, char** argv)
{
  return test::runGuiTest<TstPredict>(argc, argv);
}
#include "tst_predict.moc"
