// Cancelling `panseg train --db` with SIGTERM (what the GUI's Cancel and Ctrl-C do): the trainer
// stops, the job is "cancelled" with a resume hint, and `panseg train --resume-job` continues from
// the last checkpoint to a registered model.
#include "JobsTestUtil.h"

#include "database/StudyDatabase.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <csignal>

using namespace jobs_test;

class TstJobsCancel : public QObject
{
  Q_OBJECT
private slots:
  void cancelThenResume()
  {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString dbDir = tmp.filePath("db"), out = tmp.filePath("ft");
    writePhantoms(tmp.filePath("data"), 3001, 3);
    Run r = runPanseg({"import", tmp.filePath("data"), "--db", dbDir, "--mask-state", "approved"});
    QVERIFY2(r.code == 0, qPrintable(show(r)));

    QProcess p;
    p.start(PANSEG_EXE,
            {"train", "--db", dbDir, "--base-model", PANSEG_DEMO_MODEL, "--out", out, "--epochs",
             "4", "--iters", "2", "--val-fraction", "0.34", "--threads", "2", "--no-evaluate"});
    QVERIFY(p.waitForStarted());
    // Wait for the first checkpoint (end of epoch 1), then SIGTERM `panseg train` itself.
    QElapsedTimer t;
    t.start();
    const QString ckpt = out + "/checkpoint/checkpoint_latest.pstrain";
    while (!QFile::exists(ckpt) && p.state() != QProcess::NotRunning && t.elapsed() < 120000)
      p.waitForFinished(100);
    QVERIFY2(QFile::exists(ckpt),
             qPrintable(QString::fromUtf8(p.readAllStandardOutput() + p.readAllStandardError())));
    ::kill(static_cast<pid_t>(p.processId()), SIGTERM);
    QVERIFY(p.waitForFinished(60000));
    const QString outText = QString::fromUtf8(p.readAllStandardOutput());
    QCOMPARE(p.exitCode(), 130);
    QVERIFY2(outText.contains("resume with: panseg train --resume-job 1"), qPrintable(outText));
    {
      panseg::db::StudyDatabase database(dbDir.toStdString());
      const auto job = database.job(1);
      QVERIFY(job.has_value());
      QVERIFY2(job->state == panseg::db::JobState::Cancelled, job->message.c_str());
      QVERIFY(job->progress > 0.0 && job->progress < 1.0);
      QCOMPARE(int(database.modelVersions().size()), 1); // only the base
    }
    QVERIFY(QFile::exists(ckpt));

    r = runPanseg({"train", "--resume-job", "1", "--db", dbDir});
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    QVERIFY2(r.out.contains("job 1 succeeded: model version 2 registered (parent 1)"),
             qPrintable(show(r)));
    panseg::db::StudyDatabase database(dbDir.toStdString());
    QVERIFY(database.job(1)->state == panseg::db::JobState::Succeeded);
    QFile mj(out + "/model.json");
    QVERIFY(mj.open(QIODevice::ReadOnly));
    const QJsonObject lineage =
        QJsonDocument::fromJson(mj.readAll()).object().value("lineage").toObject();
    QVERIFY2(lineage.value("resumed_from_epoch").toInt() >= 1,
             qPrintable(QJsonDocument(lineage).toJson()));
    QCOMPARE(lineage.value("epochs").toInt(), 4);

    // A finished job cannot be resumed again.
    r = runPanseg({"train", "--resume-job", "1", "--db", dbDir});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("job 1 has already succeeded"), qPrintable(show(r)));
  }
};

QTEST_GUILESS_MAIN(TstJobsCancel)
#include "tst_jobs_cancel.moc"
