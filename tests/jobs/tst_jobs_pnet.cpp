// PNet-MSA (docs/pnet-msa.md) through the same commands as PanSegNet: `panseg predict --model` with
// the shipped PNet-MSA demo package (real worker), `panseg train --data --model-type pnet-msa`, and a
// fine-tuning job on approved masks (`panseg train --db --base-model`) that is cancelled with SIGTERM,
// resumed with --resume-job, evaluated against its base and registered. The real panseg, panseg-train
// and panseg-worker on generated phantoms.
#include "JobsTestUtil.h"

#include "core/io/ImageIO.h"
#include "database/jobs/FineTuning.h"
#include "database/StudyDatabase.h"
#include "database/jobs/TrainingCurve.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include <csignal>

using namespace jobs_test;

namespace
{
QJsonObject readJson(const QString& path)
{
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly))
    return {};
  return QJsonDocument::fromJson(f.readAll()).object();
}

double diceOf(const panseg::LabelMask& a, const panseg::LabelMask& b)
{
  double inter = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.voxels.size() && i < b.voxels.size(); ++i)
  {
    const bool x = a.voxels[i] != 0, y = b.voxels[i] != 0;
    inter += x && y;
    na += x;
    nb += y;
  }
  return na + nb > 0 ? 2 * inter / (na + nb) : 1.0;
}
} // namespace

class TstJobsPnet : public QObject
{
  Q_OBJECT
  QTemporaryDir m_tmp;
  QString m_db;

private slots:
  void initTestCase()
  {
    QVERIFY(m_tmp.isValid());
    m_tmp.setAutoRemove(qEnvironmentVariableIsEmpty("PANSEG_KEEP_TEST_DIR"));
    QVERIFY2(QFile::exists(QString(PANSEG_PNET_DEMO_MODEL) + "/weights.bin"), PANSEG_PNET_DEMO_MODEL);
    QCOMPARE(readJson(QString(PANSEG_PNET_DEMO_MODEL) + "/model.json").value("model_type").toString(),
             QString("pnet-msa"));
    m_db = m_tmp.filePath("db");
    writePhantoms(m_tmp.filePath("data"), 3101, 4);
    const Run r = runPanseg({"import", m_tmp.filePath("data"), "--db", m_db, "--mask-state", "approved"});
    QVERIFY2(r.code == 0, qPrintable(show(r)));
  }

  void predictWithThePnetPackage()
  {
    const QString in = m_tmp.filePath("data/ct3101.nii.gz"), out = m_tmp.filePath("pred3101.nii.gz");
    const Run r = runPanseg({"predict", "--model", PANSEG_PNET_DEMO_MODEL, "--input", in, "--output", out,
                             "--device", "cpu"});
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    const panseg::Image image = panseg::readImage(in.toStdString());
    const panseg::LabelMask truth = panseg::readMask(m_tmp.filePath("data/ct3101_seg.nii.gz").toStdString());
    const panseg::LabelMask mask = panseg::readMask(out.toStdString());
    QVERIFY(mask.geometry.sameGrid(image.geometry));
    const double dice = diceOf(mask, truth);
    qInfo("PNet-MSA demo package on phantom 3101 (not trained on): Dice %.3f", dice);
    QVERIFY2(dice > 0.5, qPrintable(QString::number(dice)));

    // On a series of the database: a new AI mask version linked to the registered package.
    const Run s = runPanseg({"predict", "--series", "1", "--db", m_db, "--model", PANSEG_PNET_DEMO_MODEL});
    QVERIFY2(s.code == 0, qPrintable(show(s)));
    panseg::db::StudyDatabase database(m_db.toStdString());
    const auto models = database.modelVersions();
    QCOMPARE(int(models.size()), 1);
    QCOMPARE(models[0].modelId, std::string("pnet-msa-demo-synthetic-phantoms")); // the name as a slug
    const auto masks = database.masksOf(1);
    QVERIFY(!masks.empty());
    QCOMPARE(masks.back().modelVersionId, models[0].id);
  }

  void modelTypeMismatchIsRefusedBeforeAnyJob()
  {
    Run r = runPanseg({"train", "--db", m_db, "--base-model", PANSEG_PNET_DEMO_MODEL, "--model-type",
                       "pansegnet", "--out", m_tmp.filePath("never")});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("is a pnet-msa model; --model-type pansegnet needs a base model of that type"),
             qPrintable(show(r)));
    r = runPanseg({"train", "--db", m_db, "--model-type", "unet", "--out", m_tmp.filePath("never")});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("--model-type must be pansegnet, pansegnet-clicks (click-conditioned, "
                            "docs/interactive.md) or pnet-msa, not 'unet'"),
             qPrintable(show(r)));
    panseg::db::StudyDatabase database(m_db.toStdString());
    QVERIFY(database.jobs().empty());
    QVERIFY(!QFile::exists(m_tmp.filePath("never")));
  }

  void trainFromAFolderWithModelType()
  {
    const QString out = m_tmp.filePath("plain");
    const Run r = runPanseg({"train", "--data", m_tmp.filePath("data"), "--model-type", "pnet-msa", "--out", out,
                             "--epochs", "2", "--iters", "1", "--batch", "2", "--val-fraction", "0.25",
                             "--threads", "2"});
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    const QJsonObject model = readJson(out + "/model.json");
    QCOMPARE(model.value("model_type").toString(), QString("pnet-msa"));
    QCOMPARE(model.value("speed_class").toString(), QString("fast-cpu"));
    const QJsonObject lineage = model.value("lineage").toObject();
    QCOMPARE(lineage.value("training_cases").toArray().size(), 3);
    QCOMPARE(lineage.value("validation_cases").toArray().size(), 1);
    QCOMPARE(lineage.value("cnn_epochs").toInt(), 1);
    QVERIFY(!QFile::exists(out + ".checkpoint")); // removed after a completed run

    // Options of the other model type are refused by name.
    const Run bad = runPanseg({"train", "--data", m_tmp.filePath("data"), "--model-type", "pnet-msa", "--out",
                               m_tmp.filePath("never"), "--plan", "tiny"});
    QCOMPARE(bad.code, 1);
    QVERIFY2(bad.err.contains("option --plan does not apply to --model-type pnet-msa"), qPrintable(show(bad)));
  }

  void fineTuneJobCancelResumeEvaluateRegister()
  {
    const QString out = m_tmp.filePath("ft");
    QProcess p;
    p.start(PANSEG_EXE, {"train", "--db", m_db, "--base-model", PANSEG_PNET_DEMO_MODEL, "--out", out, "--epochs",
                         "2", "--iters", "2", "--batch", "2", "--val-fraction", "0.25", "--threads", "2", "--seed",
                         "5"});
    QVERIFY(p.waitForStarted());
    // The first checkpoint (end of epoch 1), then SIGTERM to `panseg train` (the GUI's Cancel).
    QElapsedTimer t;
    t.start();
    const QString ckpt = out + ".checkpoint/checkpoint_latest.pstrain";
    while (!QFile::exists(ckpt) && p.state() != QProcess::NotRunning && t.elapsed() < 120000)
      p.waitForFinished(100);
    QVERIFY2(QFile::exists(ckpt), qPrintable(QString::fromUtf8(p.readAllStandardOutput() + p.readAllStandardError())));
    ::kill(static_cast<pid_t>(p.processId()), SIGTERM);
    QVERIFY(p.waitForFinished(60000));
    const QString cancelled = QString::fromUtf8(p.readAllStandardOutput());
    QCOMPARE(p.exitCode(), 130);
    QVERIFY2(cancelled.contains("resume with: panseg train --resume-job 1"), qPrintable(cancelled));
    {
      panseg::db::StudyDatabase database(m_db.toStdString());
      QVERIFY(database.job(1)->state == panseg::db::JobState::Cancelled);
      QCOMPARE(int(database.modelVersions().size()), 1); // only the base (registered by predict)
    }

    const Run r = runPanseg({"train", "--resume-job", "1", "--db", m_db});
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    QVERIFY2(r.out.contains("job 1 succeeded: model version 2 registered (parent 1)"), qPrintable(show(r)));
    QVERIFY2(r.out.contains(QRegularExpression("held-out Dice new [0-9.]+ vs base [0-9.]+")), qPrintable(show(r)));

    const QJsonObject model = readJson(out + "/model.json");
    QCOMPARE(model.value("model_type").toString(), QString("pnet-msa"));
    const QJsonObject lineage = model.value("lineage").toObject();
    QVERIFY2(lineage.value("resumed_from_epoch").toInt() >= 1, qPrintable(QJsonDocument(lineage).toJson()));
    QCOMPARE(lineage.value("base_model_version_id").toInteger(), qint64(1));
    QCOMPARE(lineage.value("validation_cases").toArray().size(), 1);
    QCOMPARE(lineage.value("cnn_epochs").toInt(), 1); // epoch 1 the CNN, epoch 2 the BiRNN
    QVERIFY(lineage.value("settings").toArray().contains("pnet-msa"));
    QVERIFY(lineage.value("evaluation").toObject().contains("dice_new_mean"));

    panseg::db::StudyDatabase database(m_db.toStdString());
    QVERIFY(database.job(1)->state == panseg::db::JobState::Succeeded);
    const auto models = database.modelVersions();
    QCOMPARE(int(models.size()), 2);
    QCOMPARE(models[1].parentId, models[0].id);
    // The Jobs dock's curve: one point per epoch, across the cancel and the resume.
    const panseg::db::TrainingCurve curve = panseg::db::readTrainingCurve(database, 1);
    QCOMPARE(curve.epochs, 2);
    QCOMPARE(int(curve.points.size()), 2);
    for (const auto& pt : curve.points)
      QVERIFY(pt.loss > 0 && pt.valDice >= 0 && pt.valDice <= 1);
    // Held-out evaluation of base and new model through the worker.
    QFile csv(QString::fromStdString(panseg::db::jobFolder(database, 1)) + "/eval.csv");
    QVERIFY(csv.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(csv.readAll()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 2); // header + the held-out case
    for (int i = 1; i < lines.size(); ++i)
    {
      const double base = lines[i].split(',').value(2).toDouble();
      QVERIFY2(base > 0.5, qPrintable(lines[i])); // the demo PNet-MSA segments phantoms
    }
  }
};

QTEST_GUILESS_MAIN(TstJobsPnet)
#include "tst_jobs_pnet.moc"
