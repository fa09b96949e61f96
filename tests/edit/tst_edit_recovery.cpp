// Crash recovery of unsaved mask edits, with a real crash: a child process (this test binary with
// --child) opens an image in the real main window, paints a stroke with simulated mouse events and
// waits for the autosave; the parent then kills it with SIGKILL. A fresh main window in the
// parent finds the recovery file through the same start-up prompt the GUI uses
// (ui::offerRecovery), answers Restore, and the restored mask must equal the painted voxels
// exactly on the image's grid. Offered again, Discard deletes the file.
#include "../ui/SyntheticData.h"

#include "core/io/ImageIO.h"
#include "ui/EditController.h"
#include "ui/MainWindow.h"
#include "ui/RecoveryPrompt.h"
#include "ui/SliceView.h"
#include "ui/ViewerModel.h"

#include <QAbstractButton>
#include <QAction>
#include <QApplication>
#include <QDoubleSpinBox>
#include <QFile>
#include <QMessageBox>
#include <QProcess>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

#include <cstdio>

using namespace panseg;
using panseg::ui::EditController;
using panseg::ui::MainWindow;

namespace
{
// The child's stroke: 2D disks of radius 2 mm around (x, 28, 20) for x = 10..30 (0.8 mm pixels).
LabelMask expectedStroke(const Geometry& g)
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

void setAppNames()
{
  // As the real GUI: the recovery folder is AppDataLocation/recovery of this application.
  QApplication::setApplicationName("PanSeg Workstation");
  QApplication::setOrganizationName("PanSeg");
}

/// The child: paint in the real window, wait for the autosave, print READY, then wait to be killed.
int runChild(int argc, char** argv, const QString& imagePath)
{
  MainWindow::configurePlatform();
  QApplication app(argc, argv);
  setAppNames();
  MainWindow w;
  w.resize(1200, 950);
  w.show();
  if (!QTest::qWaitForWindowExposed(&w))
    return 2;
  QString error;
  if (!w.loadImageBlocking(imagePath, &error))
  {
    std::fprintf(stderr, "child: %s\n", qPrintable(error));
    return 3;
  }
  EditController* edit = w.editController();
  edit->setAutosavePolicy(1, 3600); // autosave after every edit
  w.findChild<QAction*>("toolPaint")->trigger();
  w.findChild<QDoubleSpinBox*>("brushRadiusMm")->setValue(2.0);
  w.setSliceIndex(MainWindow::ViewKind::Axial, 20);
  QApplication::processEvents();
  ui::SliceView* axial = w.sliceView(MainWindow::ViewKind::Axial);
  QTest::mousePress(axial, Qt::LeftButton, {}, axial->voxelToWidget({10, 28, 20}).toPoint());
  for (int64_t x = 12; x <= 30; x += 3)
    QTest::mouseMove(axial, axial->voxelToWidget({x, 28, 20}).toPoint());
  const QPoint end = axial->voxelToWidget({30, 28, 20}).toPoint();
  QTest::mouseMove(axial, end);
  QTest::mouseRelease(axial, Qt::LeftButton, {}, end);
  if (!QTest::qWaitFor([&] { return QFile::exists(edit->recoveryFilePath()); }, 10000))
    return 4;
  std::printf("READY %s\n", qPrintable(edit->recoveryFilePath()));
  std::fflush(stdout);
  return app.exec(); // unsaved edits, until SIGKILL
}
} // namespace

class TestEditRecovery : public QObject
{
  Q_OBJECT

  QTemporaryDir m_tmp;

  // Clicks `button` in the recovery prompt once it is shown.
  static void answer(const QString& button)
  {
    QTimer::singleShot(200,
                       [button]
                       {
                         auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
                         if (!box || box->objectName() != "recoveryPrompt")
                           return;
                         for (QAbstractButton* b : box->buttons())
                           if (b->text() == button)
                           {
                             b->click();
                             return;
                           }
                       });
  }

private slots:
  void killedAppEditsAreRestoredExactly()
  {
    QVERIFY(m_tmp.isValid());
    const QString imagePath = m_tmp.path() + "/crash_ct.nii.gz";
    writeImage(synthetic::ct(), imagePath.toStdString());

    QProcess child;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("XDG_DATA_HOME", qEnvironmentVariable("XDG_DATA_HOME"));
    env.insert("XDG_CONFIG_HOME", qEnvironmentVariable("XDG_CONFIG_HOME"));
    child.setProcessEnvironment(env);
    child.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    child.start(QCoreApplication::applicationFilePath(), {"--child", imagePath});
    QVERIFY2(child.waitForStarted(10000), qPrintable(child.errorString()));
    QByteArray out;
    QVERIFY2(QTest::qWaitFor(
                 [&]
                 {
                   child.waitForReadyRead(100);
                   out += child.readAllStandardOutput();
                   return out.contains("READY") || child.state() == QProcess::NotRunning;
                 },
                 30000),
             "the child never autosaved its edits");
    QVERIFY2(out.contains("READY"), out.constData());
    const QString childRecovery = QString::fromLocal8Bit(out.mid(out.indexOf("READY") + 6)).trimmed();
    child.kill(); // SIGKILL: no destructor, no close event, no save
    QVERIFY(child.waitForFinished(10000));
    QCOMPARE(child.exitStatus(), QProcess::CrashExit);
    QVERIFY2(QFile::exists(childRecovery), qPrintable(childRecovery));

    // "Restart": a fresh window in this process, the GUI's start-up prompt, Restore.
    MainWindow w;
    w.resize(1000, 800);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    EditController* edit = w.editController();
    QCOMPARE(edit->recoveryFilePath(), childRecovery); // same default folder as the killed app
    QVERIFY(!w.model()->hasMask());
    answer("Restore");
    QCOMPARE(ui::offerRecovery(w), ui::RecoveryOutcome::Restored);
    const Image image = readImage(imagePath.toStdString());
    QVERIFY(w.model()->hasMask());
    QVERIFY(w.model()->geometry().sameGrid(image.geometry));
    QVERIFY(w.model()->mask().geometry.sameGrid(image.geometry));
    const LabelMask expected = expectedStroke(image.geometry);
    QVERIFY(expected.countLabel(1) > 60);
    QCOMPARE(w.model()->mask().countLabel(1), expected.countLabel(1));
    QVERIFY(w.model()->mask().voxels == expected.voxels);
    QVERIFY(QFile::exists(childRecovery)); // kept until the restored mask is saved

    // Offered again (say the restored edits were not saved): Discard deletes the file.
    answer("Discard");
    QCOMPARE(ui::offerRecovery(w), ui::RecoveryOutcome::Discarded);
    QVERIFY(!QFile::exists(childRecovery));
    QCOMPARE(ui::offerRecovery(w), ui::RecoveryOutcome::NoFile);
    edit->markSaved();
  }
};

int main(int argc, char** argv)
{
  if (argc == 3 && QByteArray(argv[1]) == "--child")
  {
    int childArgc = 1;
    return runChild(childArgc, argv, QString::fromLocal8Bit(argv[2]));
  }
  // Settings and the recovery folder go to throw-away folders (the child gets the same ones).
  QTemporaryDir home;
  qputenv("XDG_CONFIG_HOME", (home.path() + "/config").toLocal8Bit());
  qputenv("XDG_DATA_HOME", (home.path() + "/data").toLocal8Bit());
  MainWindow::configurePlatform();
  QApplication app(argc, argv);
  setAppNames();
  TestEditRecovery t;
  return QTest::qExec(&t, argc, argv);
}
#include "tst_edit_recovery.moc"
