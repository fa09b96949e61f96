// `panseg predict --series`: a database series predicted with the shipped demo model through the real
// executable and worker; the result becomes an AI mask version linked to the model registry.
// Registering a package is idempotent; other weights under a registered version are refused.
#include "../ProcessRun.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

namespace
{
using testproc::Run;
using testproc::show;

Run panseg(const QStringList& args, int timeoutMs = 300000)
{
  return testproc::run(PANSEG_EXE, args, timeoutMs);
}

QJsonObject json(const Run& r) { return QJsonDocument::fromJson(r.out.toUtf8()).object(); }

bool copyFolder(const QString& from, const QString& to)
{
  if (!QDir().mkpath(to))
    return false;
  for (const QString& f : QDir(from).entryList(QDir::Files))
    if (!QFile::copy(from + "/" + f, to + "/" + f))
      return false;
  return true;
}
} // namespace

class TstPredictDb : public QObject
{
  Q_OBJECT
private slots:
  void predictSeriesStoresAiVersion()
  {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString demo = tmp.filePath("demo"), db = tmp.filePath("db");
    const QString model = PANSEG_DEMO_MODEL;
    QVERIFY2(QFile::exists(model + "/weights.bin"), qPrintable(model));
    Run r = panseg({ "demo", "--out", demo, "--seed", "1" });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    r = panseg({ "import", demo + "/ct.nii.gz", "--db", db, "--json" });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    const QJsonArray imported = json(r)["imported_series"].toArray();
    QCOMPARE(imported.size(), 1);
    const QString series = QString::number(imported.at(0).toInteger());
    QVERIFY(series.toLongLong() > 0);

    r = panseg({ "predict", "--series", series, "--db", db, "--model", model, "--fast", "--quiet" });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    QVERIFY2(r.out.contains(QRegularExpression("saved as mask version 1 of series " + series +
                                               " \\(ai, draft, model version 1\\)")),
             qPrintable(r.out));
    // Registering the same package again finds the same row.
    r = panseg({ "db", "register-model", model, "--db", db });
    QVERIFY2(r.code == 0 && r.out.startsWith("model version 1:"), qPrintable(show(r)));
    r = panseg({ "db", "models", "--db", db, "--json" });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    const QJsonArray models = json(r)["models"].toArray();
    QCOMPARE(models.size(), 1);
    QCOMPARE(models.at(0).toObject()["model_id"].toString(), QString("pansegnet-demo-synthetic-phantoms"));
    QCOMPARE(models.at(0).toObject()["version"].toString(), QString("1"));
    QFile weights(model + "/weights.bin");
    QVERIFY(weights.open(QIODevice::ReadOnly));
    const QString sha = QCryptographicHash::hash(weights.readAll(), QCryptographicHash::Sha256).toHex();
    bool found = false;
    for (const auto f : models.at(0).toObject()["files"].toArray())
      found = found || (f.toObject()["path"].toString().endsWith("weights.bin") && f.toObject()["sha256"].toString() == sha);
    QVERIFY2(found, "weights.bin's SHA-256 is recorded");

    r = panseg({ "db", "masks", series, "--db", db, "--json" });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    const QJsonArray masks = json(r)["masks"].toArray();
    QCOMPARE(masks.size(), 1);
    for (const auto v : masks)
    {
      const QJsonObject m = v.toObject();
      QCOMPARE(m["source"].toString(), QString("ai"));
      QCOMPARE(m["state"].toString(), QString("draft"));
      QVERIFY2(m["model"].toString().contains("pansegnet-demo"), qPrintable(QJsonDocument(m).toJson()));
    }
    // The stored mask is the demo model's pancreas: it overlaps the phantom's truth.
    const QString file = db + "/" + masks.at(0).toObject()["file"].toString();
    QVERIFY2(QFile::exists(file), qPrintable(file));
    r = panseg({ "agreement", file, demo + "/ct_pancreas.nii.gz", "--label-a", "1", "--label-b", "1", "--json" });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    const double dice = json(r)["dice"].toDouble();
    QVERIFY2(dice > 0.6, qPrintable(QString::number(dice)));
    QVERIFY(masks.at(0).toObject()["voxels"].toInteger() > 1000);

    // Issue 20 defect 8: the prediction was checked for plausibility when it was saved; the demo
    // model's pancreas of the demo phantom is plausible, and predict printed no warning.
    const QJsonObject check = masks.at(0).toObject()["plausibility"].toObject();
    QCOMPARE(check["flagged"].toBool(true), false);
    QCOMPARE(check["summary"].toString(), QString("plausible"));
    QCOMPARE(check["details"].toObject()["components"].toInt(), 1);
  }

  void implausiblePredictionIsFlagged()
  {
    // The demo package with a training range the phantom's gland (about 80-120 mL) lies outside.
    QTemporaryDir tmp;
    const QString demo = tmp.filePath("demo"), db = tmp.filePath("db"), model = tmp.filePath("narrow");
    QVERIFY(copyFolder(PANSEG_DEMO_MODEL, model));
    QFile mj(model + "/model.json");
    QVERIFY(mj.open(QIODevice::ReadOnly));
    QJsonObject o = QJsonDocument::fromJson(mj.readAll()).object();
    mj.close();
    o["version"] = "1-narrow";
    o["plausibility"] = QJsonObject{ { "training_volume_ml", QJsonArray{ 10, 40 } } };
    QVERIFY(mj.open(QIODevice::WriteOnly | QIODevice::Truncate));
    mj.write(QJsonDocument(o).toJson());
    mj.close();
    Run r = panseg({ "demo", "--out", demo, "--seed", "1" });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    r = panseg({ "import", demo + "/ct.nii.gz", "--db", db, "--json" });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    const QString series = QString::number(json(r)["imported_series"].toArray().at(0).toInteger());
    r = panseg({ "predict", "--series", series, "--db", db, "--model", model, "--fast", "--quiet" });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    QVERIFY2(r.out.contains(QRegularExpression("warning: implausible prediction: volume [0-9.]+ mL is outside the "
                                               "model's training data \\(10.0-40.0 mL\\); check it before anyone "
                                               "approves it")),
             qPrintable(r.out));
    r = panseg({ "db", "masks", series, "--db", db });
    QVERIFY2(r.code == 0 && r.out.contains("! FLAGGED implausible"), qPrintable(show(r)));
    // Approving it needs the confirmation (submit first: draft -> submitted -> approved).
    QCOMPARE(panseg({ "db", "set-state", "1", "submitted", "--db", db }).code, 0);
    r = panseg({ "db", "set-state", "1", "approved", "--db", db });
    QVERIFY2(r.code == 1 && r.err.contains("--accept-flagged"), qPrintable(show(r)));
    // A bad plausibility block is refused before anything runs, naming the key.
    o["plausibility"] = QJsonObject{ { "min_volume", 5 } };
    QVERIFY(mj.open(QIODevice::WriteOnly | QIODevice::Truncate));
    mj.write(QJsonDocument(o).toJson());
    mj.close();
    r = panseg({ "predict", "--series", series, "--db", db, "--model", model, "--fast", "--quiet" });
    QVERIFY2(r.code != 0 && r.err.contains("unknown key plausibility.min_volume"), qPrintable(show(r)));
  }

  void badInput()
  {
    QTemporaryDir tmp;
    const QString db = tmp.filePath("db");
    const QString model = PANSEG_DEMO_MODEL;
    Run r = panseg({ "db", "register-model", model, "--db", db });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    QVERIFY(r.out.startsWith("model version 1: pansegnet-demo-synthetic-phantoms 1"));

    // Same id and version, other weights: refused, the registered row is unchanged.
    const QString altered = tmp.filePath("altered");
    QVERIFY(copyFolder(model, altered));
    QFile w(altered + "/weights.bin");
    QVERIFY(w.open(QIODevice::ReadWrite));
    QByteArray bytes = w.readAll();
    bytes[100] = char(bytes[100] ^ 0x55);
    QVERIFY(w.seek(0) && w.write(bytes) == bytes.size());
    w.close();
    r = panseg({ "db", "register-model", altered, "--db", db });
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("already registered with other weights"), qPrintable(show(r)));
    r = panseg({ "db", "models", "--db", db, "--json" });
    QCOMPARE(json(r)["models"].toArray().size(), 1);

    r = panseg({ "db", "register-model", tmp.filePath("missing"), "--db", db });
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("is not a folder"), qPrintable(show(r)));
    QVERIFY(QFile::remove(altered + "/model.json"));
    r = panseg({ "db", "register-model", altered, "--db", db });
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("has no model.json"), qPrintable(show(r)));

    r = panseg({ "predict", "--series", "99", "--db", db, "--model", model });
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("no series 99"), qPrintable(show(r)));
    r = panseg({ "predict", "--series", "x", "--db", db });
    QCOMPARE(r.code, 2);
  }
};

QTEST_GUILESS_MAIN(TstPredictDb)
#include "tst_predict_db.moc"
