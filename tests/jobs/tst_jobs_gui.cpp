// The Jobs dock and the Fine-tune dialog: the dock lists the database's jobs and its Cancel button
// sends SIGTERM to the process recorded for a running job; the dialog builds the `panseg train
// --db` command line that the GUI starts detached.
#include "database/FineTuning.h"
#include "database/JobTableModel.h"
#include "database/StudyDatabase.h"
#include "ui/JobsDock.h"

#include <QApplication>
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QPushButton>
#include <QTableView>
#include <QTemporaryDir>
#include <QtTest>

class TstJobsGui : public QObject
{
  Q_OBJECT
private slots:
  void dialogBuildsTheTrainCommand()
  {
    panseg::ui::FineTuneDialog dialog("/data/studies", "/models/demo", {"site-a", "site-b"});
    panseg::ui::FineTuneRequest r = dialog.request();
    QCOMPARE(r.baseModel, QString("/models/demo"));
    QCOMPARE(r.dataFolder, QString("/data/studies"));
    QVERIFY(r.outDir.startsWith("/data/studies/models/finetuned-"));
    r.modality = "CT";
    r.center = "site-b";
    r.epochs = 3;
    r.iterations = 7;
    const QStringList a = panseg::ui::trainCommandArguments(r);
    QCOMPARE(a.mid(0, 3), QStringList({"train", "--db", "/data/studies"}));
    QVERIFY(a.join(' ').contains("--base-model /models/demo"));
    QVERIFY(a.join(' ').contains("--epochs 3 --iters 7"));
    QVERIFY(a.join(' ').contains("--modality CT --center site-b"));
  }

  void dockListsJobsAndCancelsARunningOne()
  {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString dbDir = tmp.filePath("db");
    int64_t jobId = 0;
    QProcess sleeper; // stands in for `panseg train`
    sleeper.start("sleep", {"60"});
    QVERIFY(sleeper.waitForStarted());
    {
      panseg::db::StudyDatabase db(dbDir.toStdString());
      panseg::db::Job job;
      job.kind = "training";
      jobId = db.createJob(job);
      db.updateJob(jobId, panseg::db::JobState::Running, 0.25,
                   "epoch 1/4, loss 0.5000, val Dice 0.700, cpu");
      const QString folder = QString::fromStdString(panseg::db::jobFolder(db, jobId));
      QVERIFY(QDir().mkpath(folder));
      QFile pid(folder + "/pid");
      QVERIFY(pid.open(QIODevice::WriteOnly));
      pid.write(QByteArray::number(sleeper.processId()) + "\n");
    }
    panseg::ui::JobsDock dock(dbDir);
    dock.show();
    QCOMPARE(dock.model()->rowCount(), 1);
    QCOMPARE(dock.model()->index(0, panseg::db::JobTableModel::StateColumn).data().toString(),
             QString("running"));
    QCOMPARE(dock.model()->index(0, panseg::db::JobTableModel::ProgressColumn).data().toString(),
             QString("25%"));
    QVERIFY(dock.model()->isCancellable(0));
    auto* view = dock.findChild<QTableView*>();
    QVERIFY(view);
    view->selectRow(0);
    auto* cancel = dock.findChild<QPushButton*>("CancelJobButton");
    QVERIFY(cancel);
    cancel->click();
    QVERIFY(sleeper.waitForFinished(5000));
    QCOMPARE(sleeper.exitStatus(), QProcess::CrashExit); // ended by SIGTERM
    // Its process is gone: the row says so and Cancel no longer applies.
    dock.refresh();
    QVERIFY(!dock.model()->isCancellable(0));
    QVERIFY(dock.model()
                ->index(0, panseg::db::JobTableModel::StateColumn)
                .data()
                .toString()
                .contains("process gone"));
  }
};

QTEST_MAIN(TstJobsGui)
#include "tst_jobs_gui.moc"
