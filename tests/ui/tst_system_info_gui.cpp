// Help > System Information in the real main window under Xvfb: the dialog runs the real
// panseg-worker and panseg-train doctors (database/jobs/SystemInfo.h, the service behind
// `panseg doctor`) and shows their paths and LibTorch version. A screenshot of the dialog is
// saved as tst_system_info.png in the test binary folder.
#include "ui/MainWindow.h"
#include "ui/SystemInfoDialog.h"

#include <QAction>
#include <QApplication>
#include <QMenu>
#include <QMenuBar>
#include <QPlainTextEdit>
#include <QSignalSpy>
#include <QtTest>

using panseg::ui::MainWindow;
using panseg::ui::SystemInfoDialog;

class TstSystemInfoGui : public QObject
{
  Q_OBJECT

private slots:
  void helpMenuShowsTheHelpersReport()
  {
    qputenv("PANSEG_WORKER", PANSEG_WORKER_EXE);
    qputenv("PANSEG_TRAIN", PANSEG_TRAIN_EXE);
    MainWindow w;
    w.resize(1000, 760);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));

    // The action sits in the Help menu.
    QMenu* help = w.findChild<QMenu*>(QStringLiteral("helpMenu"));
    QVERIFY(help);
    QAction* action = nullptr;
    for (QAction* a : help->actions())
      if (a->objectName() == "systemInfoAction")
        action = a;
    QVERIFY(action);
    QCOMPARE(action->text(), QString("System &Information..."));
    action->trigger();

    SystemInfoDialog* dialog = nullptr;
    QTRY_VERIFY_WITH_TIMEOUT((dialog = w.findChild<SystemInfoDialog*>("systemInfoDialog")) != nullptr, 5000);
    QVERIFY(dialog->isVisible());
    auto* text = dialog->findChild<QPlainTextEdit*>("systemInfoText");
    QVERIFY(text);
    QTRY_VERIFY_WITH_TIMEOUT(!dialog->busy(), 240000);
    const QString shown = text->toPlainText();
    QVERIFY2(shown.contains(QString("panseg-worker: ") + PANSEG_WORKER_EXE), qPrintable(shown));
    QVERIFY2(shown.contains(QString("panseg-train: ") + PANSEG_TRAIN_EXE), qPrintable(shown));
    QVERIFY2(shown.contains("chosen because: $PANSEG_WORKER"), qPrintable(shown));
    QVERIFY2(shown.contains(QString("LibTorch:        ") + PANSEG_EXPECTED_TORCH_VERSION), qPrintable(shown));
    QVERIFY2(shown.contains("CUDA available:  "), qPrintable(shown));
    QVERIFY2(shown.contains("Smoke pass:      "), qPrintable(shown));
    QVERIFY2(!shown.contains("ERROR:"), qPrintable(shown));
    QTest::qWait(100);
    const QString png = QString(PANSEG_TEST_BINARY_DIR) + "/tst_system_info.png";
    QVERIFY(dialog->grab().save(png));
    qInfo("screenshot: %s", qPrintable(png));

    // Refresh runs the helpers again; Close closes.
    QSignalSpy finished(dialog, &SystemInfoDialog::finished);
    dialog->refresh();
    QVERIFY(dialog->busy());
    QVERIFY(finished.wait(240000));
    QCOMPARE(finished.first().first().toBool(), true);
    dialog->reject();
    QTRY_VERIFY(w.findChild<SystemInfoDialog*>("systemInfoDialog") == nullptr);
  }
};

QTEST_MAIN(TstSystemInfoGui)
#include "tst_system_info_gui.moc"
