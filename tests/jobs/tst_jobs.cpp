// `panseg train --db`: approved phantom masks -> a tiny fine-tuning run of the shipped demo model
// as a job -> new registry row with parent = base, lineage in model.json, eval.csv against the
// base; promotion (default model + audit); no approved cases; a case whose image no longer matches
// its mask. Runs on both backends (tests/TestBackend.h): in the PostgreSQL run the database is a
// real server, every `panseg` child signs in as its admin (PGPASSWORD), and the job folder is the
// workstation's own (PANSEG_JOBS_DIR, under the test's temporary folder).
#include "JobsTestUtil.h"
#include "../TestBackend.h"

#include "database/jobs/FineTuning.h"
#include "database/itemmodels/JobTableModel.h"
#include "database/StudyDatabase.h"
#include "database/jobs/TrainingCurve.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include <memory>

using namespace jobs_test;

class TstJobs : public QObject
{
  Q_OBJECT
  QTemporaryDir m_tmp;
  panseg::test::TestDb m_backend, m_emptyBackend;
  QString m_db;
  int64_t m_newModel = 0;

  /// The test's database as its admin (a folder, or the server with the admin's password).
  std::unique_ptr<panseg::db::StudyDatabase> open() const
  {
    return std::make_unique<panseg::db::StudyDatabase>(m_db.toStdString(), m_backend.options({}));
  }

private slots:
  void initTestCase()
  {
    QVERIFY(m_tmp.isValid());
    m_tmp.setAutoRemove(qEnvironmentVariableIsEmpty("PANSEG_KEEP_TEST_DIR"));
    QVERIFY2(QFile::exists(QString(PANSEG_DEMO_MODEL) + "/weights.bin"), PANSEG_DEMO_MODEL);
    QString why;
    QVERIFY2(m_backend.create(m_tmp.filePath("db"), {}, &why), qPrintable(why));
    m_db = QString::fromStdString(m_backend.location({}));
    m_backend.actAs({}); // the `panseg` children inherit PGPASSWORD (server) or PANSEG_USER
    qputenv("PANSEG_JOBS_DIR", m_tmp.filePath("server-jobs").toUtf8());
    writePhantoms(m_tmp.filePath("data"), 2001, 4);
    const Run r = runPanseg({"import", m_tmp.filePath("data"), "--db", m_db, "--center", "site-a",
                             "--mask-state", "approved"});
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    const auto database_ = open();
    panseg::db::StudyDatabase& database = *database_;
    const auto series = database.listSeries();
    QCOMPARE(int(series.size()), 4);
    for (const auto& s : series)
      QVERIFY(s.latestMaskState == panseg::db::MaskState::Approved);
  }

  void noApprovedCasesIsAClearErrorAndNoJob()
  {
    Run r = runPanseg({"train", "--db", m_db, "--base-model", PANSEG_DEMO_MODEL, "--center",
                       "elsewhere", "--out", m_tmp.filePath("never")});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains(
                 "no approved cases to train on (center elsewhere; 4 series have an approved mask"),
             qPrintable(show(r)));
    // An empty database: the same, with 0.
    QString why;
    QVERIFY2(m_emptyBackend.create(m_tmp.filePath("emptydb"), {}, &why), qPrintable(why));
    const QString empty = QString::fromStdString(m_emptyBackend.location({}));
    r = runPanseg({"train", "--db", empty, "--base-model", PANSEG_DEMO_MODEL, "--out",
                   m_tmp.filePath("never")});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("no approved cases to train on (no filter; 0 series"),
             qPrintable(show(r)));
    const auto database_ = open();
    panseg::db::StudyDatabase& database = *database_;
    QVERIFY(database.jobs().empty());
    QVERIFY(!QFile::exists(m_tmp.filePath("never")));
  }

  void fineTuneRegistersEvaluatesAndRecordsTheJob()
  {
    const QString out = m_tmp.filePath("ft1");
    const Run r = runPanseg({"train", "--db", m_db, "--base-model", PANSEG_DEMO_MODEL, "--out", out,
                             "--epochs", "1", "--iters", "2", "--val-fraction", "0.5", "--threads",
                             "2", "--seed", "7"});
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    if (!m_tmp.autoRemove())
      qInfo("%s", qPrintable(r.out));
    QVERIFY2(r.out.contains(
                 QRegularExpression("job 1 succeeded: model version 2 registered \\(parent 1\\)")),
             qPrintable(show(r)));
    QVERIFY2(r.out.contains("paired t-test, Dice new - base"), qPrintable(show(r)));

    const auto database_ = open();
    panseg::db::StudyDatabase& database = *database_;
    const auto jobs = database.jobs();
    QCOMPARE(int(jobs.size()), 1);
    QCOMPARE(jobs[0].kind, std::string("training"));
    QVERIFY(jobs[0].state == panseg::db::JobState::Succeeded);
    QCOMPARE(jobs[0].progress, 1.0);
    QCOMPARE(jobs[0].modelVersionId, int64_t(1));
    const auto models = database.modelVersions();
    QCOMPARE(int(models.size()), 2);
    QCOMPARE(models[1].parentId, models[0].id);
    QCOMPARE(models[1].version, std::string("1-ft1"));
    m_newModel = models[1].id;

    // Lineage in the package's model.json.
    QFile mj(out + "/model.json");
    QVERIFY(mj.open(QIODevice::ReadOnly));
    const QJsonObject lineage =
        QJsonDocument::fromJson(mj.readAll()).object().value("lineage").toObject();
    QCOMPARE(lineage.value("base_model_version_id").toInteger(), qint64(1));
    QCOMPARE(lineage.value("job_id").toInteger(), qint64(1));
    QCOMPARE(lineage.value("case_ids").toArray().size(), 4);
    QCOMPARE(lineage.value("mask_version_ids").toArray().size(), 4);
    QVERIFY(lineage.value("settings").toArray().contains("--epochs"));
    QCOMPARE(lineage.value("validation_cases").toArray().size(), 2);
    QVERIFY(lineage.value("evaluation").toObject().contains("dice_new_mean"));

    // Job folder: the exported data (patients.csv by patient key), progress log, evaluation.
    const QString jobDir = QString::fromStdString(panseg::db::jobFolder(database, 1));
    // Department mode: the job's files are on this workstation, the job record on the server.
    QCOMPARE(jobDir.startsWith(m_tmp.filePath("server-jobs") + "/"), m_backend.server());
    QCOMPARE(database.isServer(), m_backend.server());
    QFile patients(jobDir + "/data/patients.csv");
    QVERIFY(patients.open(QIODevice::ReadOnly));
    QVERIFY(
        QString::fromUtf8(patients.readAll())
            .contains("series1," + QString::fromStdString(database.series(1)->patientKey) + "\n"));
    QFile progress(jobDir + "/progress.jsonl");
    QVERIFY(progress.open(QIODevice::ReadOnly));
    const QByteArray progressText = progress.readAll();
    QVERIFY(progressText.contains("\"event\": \"epoch\""));
    // The Jobs dock's curve: one point per "epoch" line, with its loss and validation Dice.
    QJsonArray epochLines;
    for (const QByteArray& line : progressText.split('\n'))
    {
      const QJsonObject o = QJsonDocument::fromJson(line).object();
      if (o.value("event").toString() == "epoch")
        epochLines.append(o);
    }
    QCOMPARE(epochLines.size(), 1);
    const panseg::db::TrainingCurve curve = panseg::db::readTrainingCurve(database, 1);
    QCOMPARE(int(curve.points.size()), epochLines.size());
    QCOMPARE(curve.epochs, 1);
    QCOMPARE(curve.lastEpoch(), 1);
    for (int i = 0; i < epochLines.size(); ++i)
    {
      const QJsonObject o = epochLines[i].toObject();
      QCOMPARE(curve.points[size_t(i)].epoch, o.value("epoch").toInt() + 1);
      QCOMPARE(curve.points[size_t(i)].loss, o.value("loss").toDouble());
      QCOMPARE(curve.points[size_t(i)].valDice, o.value("val_dice").toDouble());
      QVERIFY(curve.points[size_t(i)].loss > 0);
      QVERIFY(curve.points[size_t(i)].valDice >= 0 && curve.points[size_t(i)].valDice <= 1);
    }
    QFile csv(jobDir + "/eval.csv");
    QVERIFY(csv.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(csv.readAll()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 3); // header + 2 held-out cases
    QVERIFY(lines[0].startsWith("case,series_id,dice_base,dice_new"));
    for (int i = 1; i < lines.size(); ++i)
    {
      const QStringList f = lines[i].split(',');
      bool ok1 = false, ok2 = false;
      const double base = f.value(2).toDouble(&ok1), neu = f.value(3).toDouble(&ok2);
      QVERIFY(ok1 && ok2);
      QVERIFY2(base > 0.3 && base <= 1.0, qPrintable(lines[i])); // the demo model segments phantoms
      QVERIFY(neu >= 0.0 && neu <= 1.0);
    }
    QVERIFY(QFile::exists(jobDir + "/eval.json"));
    QVERIFY(!QFile::exists(jobDir + "/pid"));

    // The Jobs dock's model shows it (newest first).
    panseg::db::JobTableModel table;
    table.reload(database);
    QCOMPARE(table.rowCount(), 1);
    QCOMPARE(table.index(0, panseg::db::JobTableModel::StateColumn).data().toString(),
             QString("succeeded"));
    QCOMPARE(table.index(0, panseg::db::JobTableModel::ProgressColumn).data().toString(),
             QString("100%"));
    QVERIFY(table.index(0, panseg::db::JobTableModel::MessageColumn)
                .data()
                .toString()
                .contains("registered"));
    QVERIFY(!table.isCancellable(0));

    // `panseg jobs --json` shows it.
    const Run j = runPanseg({"jobs", "--db", m_db, "--json"});
    QVERIFY2(j.code == 0, qPrintable(show(j)));
    const QJsonArray arr = QJsonDocument::fromJson(j.out.toUtf8()).object().value("jobs").toArray();
    QCOMPARE(arr.size(), 1);
    QCOMPARE(arr[0].toObject().value("state").toString(), QString("succeeded"));
  }

  void promotionIsAuditedAndSetsTheDefault()
  {
    QVERIFY(m_newModel > 0);
    {
      const auto database_ = open();
    panseg::db::StudyDatabase& database = *database_;
      QVERIFY(!panseg::db::defaultModelFor(database, "CT").has_value());
    }
    Run r = runPanseg(
        {"model", "promote", QString::number(m_newModel), "--modality", "CT", "--db", m_db});
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    QVERIFY2(r.out.contains("is now the default CT model (there was none)"), qPrintable(show(r)));
    r = runPanseg({"model", "promote", "999", "--modality", "CT", "--db", m_db});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("no model version 999"), qPrintable(show(r)));
    r = runPanseg({"model", "promote", "1", "--modality", "PET", "--db", m_db});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("unknown modality 'PET'"), qPrintable(show(r)));

    const auto database_ = open();
    panseg::db::StudyDatabase& database = *database_;
    QCOMPARE(panseg::db::defaultModelFor(database, "ct").value_or(0), m_newModel);
    QVERIFY(!panseg::db::defaultModelFor(database, "MR").has_value());
    int promotions = 0;
    for (const auto& e : database.auditLog("model_versions", m_newModel))
      if (e.action == "promote-model")
      {
        ++promotions;
        QVERIFY(QString::fromStdString(e.detailsJson).contains("\"modality\":\"CT\""));
      }
    QCOMPARE(promotions, 1);
    // Promoting the base back replaces the default and records the previous one.
    panseg::db::promoteModel(database, 1, "CT");
    QCOMPARE(panseg::db::defaultModelFor(database, "CT").value_or(0), int64_t(1));
    const auto entries = database.auditLog("model_versions", 1);
    QVERIFY(QString::fromStdString(entries.back().detailsJson)
                .contains("\"previous_model_version_id\":" + QString::number(m_newModel)));
  }

  void predictWithoutModelUsesThePromotedModel()
  {
    QVERIFY(m_newModel > 0);
    Run r = runPanseg(
        {"model", "promote", QString::number(m_newModel), "--modality", "CT", "--db", m_db});
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    r = runPanseg(
        {"predict", "--series", "2", "--db", m_db, "--threads", "2", "--no-tta", "--step", "1"});
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    QVERIFY2(r.err.contains(QRegularExpression("using the promoted CT model \\S+ 1-ft1 \\(registry id " +
                                               QString::number(m_newModel) + "\\)")),
             qPrintable(show(r)));
    const auto database_ = open();
    panseg::db::StudyDatabase& database = *database_;
    const auto masks = database.masksOf(2);
    QVERIFY(!masks.empty());
    QVERIFY(masks.back().source == panseg::db::MaskSource::AI);
    QCOMPARE(masks.back().modelVersionId, m_newModel);
    QCOMPARE(int(database.modelVersions().size()), 2); // no new registry row
  }

  void promotedModelMovedOrChangedIsAClearError()
  {
    const QString out = m_tmp.filePath("ft1");
    const auto masksBefore = [&]
    {
      const auto database_ = open();
    panseg::db::StudyDatabase& database = *database_;
      return database.masksOf(2).size();
    }();
    // Changed weights: the SHA-256 no longer matches the registry.
    {
      QFile w(out + "/weights.bin");
      QVERIFY(w.open(QIODevice::Append));
      w.write("x");
    }
    Run r = runPanseg({"predict", "--series", "2", "--db", m_db});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains(QRegularExpression(
                 "promoted model \\S+ version 1-ft1 was moved or changed: .*weights.bin no longer has "
                 "the registered SHA-256")),
             qPrintable(show(r)));
    // Moved folder.
    QVERIFY(QDir().rename(out, m_tmp.filePath("ft1-moved")));
    r = runPanseg({"predict", "--series", "2", "--db", m_db});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains(QRegularExpression(
                 "promoted model \\S+ version 1-ft1 was moved or changed: .*ft1/weights.bin does not "
                 "exist")),
             qPrintable(show(r)));
    const auto database_ = open();
    panseg::db::StudyDatabase& database = *database_;
    QCOMPARE(database.masksOf(2).size(), masksBefore); // nothing saved
  }

  void mismatchedGeometryIsAClearErrorAndTheJobFails()
  {
    // Replace the image of the first series by one on another grid (spacing changed).
    const auto database_ = open();
    panseg::db::StudyDatabase& database = *database_;
    const auto series = database.listSeries();
    const std::string path = series.front().sourcePath;
    panseg::Image img = panseg::readImage(path);
    img.geometry.spacingMm[0] = 3.0;
    panseg::writeImage(img, path);
    const Run r = runPanseg({"train", "--db", m_db, "--base-model", PANSEG_DEMO_MODEL, "--out",
                             m_tmp.filePath("ft2"), "--epochs", "1", "--iters", "1"});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains(QRegularExpression(
                 "case series\\d+: approved mask version \\d+ does not lie on the grid "
                 "of series \\d+'s image \\(.*spacing")),
             qPrintable(show(r)));
    const auto after_ = open();
    panseg::db::StudyDatabase& after = *after_;
    const auto jobs = after.jobs();
    QCOMPARE(int(jobs.size()), 2);
    QVERIFY(jobs.back().state == panseg::db::JobState::Failed);
    QVERIFY(QString::fromStdString(jobs.back().message).contains("does not lie on the grid"));
    QCOMPARE(int(after.modelVersions().size()), 2);
  }
};

QTEST_GUILESS_MAIN(TstJobs)
#include "tst_jobs.moc"
