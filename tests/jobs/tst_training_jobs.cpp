// The training-job engine in-process (database/jobs/TrainingJobs.h), as `panseg train` and the
// GUI's Fine-tune dialog use it: helper lookup, job creation from the approved masks (and its
// refusals), a plan rebuilt from the job row, resume rules, and one short real run of
// panseg-train recorded in the job row with the model registered.
#include "JobsTestUtil.h"

#include "database/jobs/FineTuning.h"
#include "database/Importer.h"
#include "database/StudyDatabase.h"
#include "database/jobs/TrainingJobs.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

using namespace panseg::db;

class TstTrainingJobs : public QObject
{
  Q_OBJECT
  QTemporaryDir m_tmp;
  QString m_db;

private slots:
  void initTestCase()
  {
    QVERIFY(m_tmp.isValid());
    m_db = m_tmp.filePath("db");
    jobs_test::writePhantoms(m_tmp.filePath("data"), 3001, 3);
    const jobs_test::Run r = jobs_test::runPanseg({ "import", m_tmp.filePath("data"), "--db", m_db, "--center", "site-b",
                                                    "--mask-state", "approved" });
    QVERIFY2(r.code == 0, qPrintable(jobs_test::show(r)));
  }

  void helperLookup()
  {
    qputenv("PANSEG_TRAIN", "/nonexistent/panseg-train");
    QStringList tried;
    QVERIFY(findHelperTool("panseg-train", "PANSEG_TRAIN", &tried).isEmpty());
    QCOMPARE(tried, QStringList{ "/nonexistent/panseg-train ($PANSEG_TRAIN)" });
    try
    {
      requireHelperTool("panseg-train", "PANSEG_TRAIN");
      QFAIL("a missing helper was accepted");
    }
    catch (const std::exception& e)
    {
      QVERIFY2(QString(e.what()).contains("$PANSEG_TRAIN = /nonexistent/panseg-train is not an executable"), e.what());
    }
    qputenv("PANSEG_TRAIN", PANSEG_TRAIN_EXE);
    QCOMPARE(requireHelperTool("panseg-train", "PANSEG_TRAIN"), QString(PANSEG_TRAIN_EXE));
    qunsetenv("PANSEG_TRAIN");
  }

  void evaluationCasesInBothLayouts()
  {
    const QString pairs = m_tmp.filePath("pairs"), nnunet = m_tmp.filePath("nnunet");
    QDir().mkpath(pairs);
    QDir().mkpath(nnunet + "/imagesTr");
    QDir().mkpath(nnunet + "/labelsTr");
    for (const QString& f : { pairs + "/c1.nii.gz", pairs + "/c1_seg.nii.gz", nnunet + "/imagesTr/c2_0000.nii.gz",
                              nnunet + "/labelsTr/c2.nii.gz", pairs + "/lonely.nii.gz" })
    {
      QFile file(f);
      QVERIFY(file.open(QIODevice::WriteOnly));
    }
    const auto c1 = findEvaluationCase(pairs, "c1");
    QVERIFY(c1);
    QCOMPARE(c1->truth, pairs + "/c1_seg.nii.gz");
    const auto c2 = findEvaluationCase(nnunet, "c2");
    QVERIFY(c2);
    QCOMPARE(c2->image, nnunet + "/imagesTr/c2_0000.nii.gz");
    QVERIFY(!findEvaluationCase(pairs, "lonely")); // an image without its mask
    QVERIFY(!findEvaluationCase(pairs, "missing"));
  }

  void createRefusesBeforeAnyJob()
  {
    StudyDatabase db(m_db.toStdString());
    NewTrainingJob request;
    request.selection.center = "elsewhere";
    request.outDir = m_tmp.filePath("never");
    try
    {
      createTrainingJob(db, request);
      QFAIL("a job without approved cases was created");
    }
    catch (const std::exception& e)
    {
      QVERIFY2(QString(e.what()).contains("no approved cases to train on (center elsewhere"), e.what());
    }
    QDir().mkpath(m_tmp.filePath("full"));
    QFile keep(m_tmp.filePath("full/keep.txt"));
    QVERIFY(keep.open(QIODevice::WriteOnly));
    keep.close();
    request.selection.center.clear();
    request.outDir = m_tmp.filePath("full");
    try
    {
      createTrainingJob(db, request);
      QFAIL("a job writing into a non-empty folder was created");
    }
    catch (const std::exception& e)
    {
      QVERIFY2(QString(e.what()).contains("exists and is not empty"), e.what());
    }
    QVERIFY(db.jobs().empty());
    try
    {
      planResume(db, 42);
      QFAIL("an unknown job was resumed");
    }
    catch (const std::exception& e)
    {
      QVERIFY2(QString(e.what()).contains("no training job 42"), e.what());
    }
  }

  void jobRunsAndIsRecorded()
  {
    StudyDatabase db(m_db.toStdString());
    NewTrainingJob request;
    request.baseDir = PANSEG_DEMO_MODEL;
    request.baseId = resolveModel(db, PANSEG_DEMO_MODEL, nullptr);
    request.outDir = m_tmp.filePath("model");
    request.trainerSettings = QJsonArray{ "--epochs", "1", "--iters", "1", "--threads", "2", "--seed", "3",
                                          "--val-fraction", "0.34" };
    request.evaluate = false;
    request.version = "t1";
    TrainingJobPlan plan = createTrainingJob(db, request);
    QCOMPARE(int(plan.cases.size()), 3);
    QCOMPARE(plan.outDir, m_tmp.filePath("model"));
    // The plan comes back from the job row alone (what --resume-job relies on).
    const TrainingJobPlan again = planFromJob(db, *db.job(plan.jobId));
    QCOMPARE(again.cases.size(), plan.cases.size());
    QCOMPARE(again.cases[1].maskVersionId, plan.cases[1].maskVersionId);
    QCOMPARE(again.baseDir, plan.baseDir);
    QCOMPARE(trainerArguments(again, false), trainerArguments(plan, false));
    QVERIFY(trainerArguments(plan, true).endsWith("--resume"));
    QVERIFY(!trainerArguments(plan, false).contains("--resume"));
    QVERIFY(trainerArguments(plan, false).contains("--iters"));

    QStringList lines;
    const TrainingJobResult r =
        runTrainingJob(db, plan, PANSEG_TRAIN_EXE, false, [&](const std::string& l) { lines << QString::fromStdString(l); });
    QVERIFY(!r.cancelled);
    QVERIFY2(r.modelVersionId > request.baseId, r.message.c_str());
    QVERIFY2(QString::fromStdString(r.message).contains("registered (parent " + QString::number(request.baseId) + ")"),
             r.message.c_str());
    QVERIFY2(lines.filter("exporting 3 approved case(s)").size() == 1, qPrintable(lines.join('\n')));
    QVERIFY2(!lines.filter(QRegularExpression("^running .*panseg-train")).isEmpty(), qPrintable(lines.join('\n')));
    const auto job = db.job(plan.jobId);
    QVERIFY(job->state == JobState::Succeeded);
    QCOMPARE(job->progress, 1.0);
    QCOMPARE(job->message, r.message);
    QVERIFY(!QFile::exists(jobPidFile(db, plan.jobId))); // removed at the end
    QVERIFY(!jobProcessAlive(db, plan.jobId));
    try
    {
      planResume(db, plan.jobId);
      QFAIL("a succeeded job was resumed");
    }
    catch (const std::exception& e)
    {
      QVERIFY2(QString(e.what()).contains("has already succeeded"), e.what());
    }
  }
};

QTEST_GUILESS_MAIN(TstTrainingJobs)
#include "tst_training_jobs.moc"
