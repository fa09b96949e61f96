// The model catalog (database/registry/ModelCatalog.h): package folders under search roots, the registry's
// model versions and promoted defaults of a real SQLite study database, one entry per folder, the
// menu labels, and broken folders listed with their reason.
#include "database/jobs/FineTuning.h"
#include "database/registry/ModelCatalog.h"
#include "database/registry/ModelRegistry.h"
#include "database/StudyDatabase.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

using namespace panseg::db;

namespace
{
void writeFile(const QString& path, const QByteArray& content)
{
  QFile f(path);
  QVERIFY2(f.open(QIODevice::WriteOnly | QIODevice::Truncate), qPrintable(path));
  QCOMPARE(f.write(content), qint64(content.size()));
}

/// A package folder: model.json with `modelJson`, small plans.json/weights.json/weights.bin
/// (readModelPackageInfo reads model.json only and hashes the others).
QString makePackage(const QString& dir, const QByteArray& modelJson, const QByteArray& weights = "0123")
{
  QDir().mkpath(dir);
  writeFile(dir + "/model.json", modelJson);
  writeFile(dir + "/plans.json", "{}");
  writeFile(dir + "/weights.json", "{\"tensors\": []}");
  writeFile(dir + "/weights.bin", weights);
  return QDir(dir).absolutePath();
}

const QByteArray kPanSegNet = R"({"name": "PanSegNet test", "version": "2", "model_type": "pansegnet",
  "modality": "CT", "demo": true, "description": "a 3D test package"})";
const QByteArray kPNet = R"({"name": "PNet test", "version": "1", "model_type": "pnet-msa",
  "speed_class": "fast-cpu", "modality": "CT", "description": "a 2D test package"})";
const QByteArray kFineTuned = R"({"name": "Fine-tuned MR", "version": "v7", "model_type": "pansegnet",
  "speed_class": "gpu", "modality": "MR"})";

std::string s(const QString& q)
{
  return q.toStdString();
}
} // namespace

class TestModelCatalog : public QObject
{
  Q_OBJECT
  QTemporaryDir m_tmp;
  QString m_root, m_pansegnet, m_pnet, m_broken;

private slots:
  void init()
  {
    QVERIFY(m_tmp.isValid());
    m_root = m_tmp.filePath("bundled");
    m_pansegnet = makePackage(m_root + "/a-pansegnet", kPanSegNet);
    m_pnet = makePackage(m_root + "/b-pnet", kPNet);
    // Broken: model.json that is not JSON and no other file.
    m_broken = m_root + "/c-broken";
    QDir().mkpath(m_broken);
    writeFile(m_broken + "/model.json", "{not json");
    // Not a package at all: no package file.
    QDir().mkpath(m_root + "/d-notes");
    writeFile(m_root + "/d-notes/README.txt", "notes");
    writeFile(m_root + "/loose-file.txt", "x");
  }

  void cleanup()
  {
    QDir(m_tmp.path()).removeRecursively();
    QDir().mkpath(m_tmp.path());
  }

  void speedClassIsRead()
  {
    QCOMPARE(readModelPackageInfo(s(m_pnet)).speedClass, std::string("fast-cpu"));
    QCOMPARE(readModelPackageInfo(s(m_pansegnet)).speedClass, std::string());
    // Listing does not hash; registering does.
    QCOMPARE(readModelPackageInfo(s(m_pnet), false).files.at(3).sha256, std::string());
    QCOMPARE(readModelPackageInfo(s(m_pnet)).files.at(3).sha256.size(), size_t(64));
  }

  void wordsAndLabels()
  {
    QCOMPARE(speedClassText("fast-cpu"), std::string("fast on CPU"));
    QCOMPARE(speedClassText("gpu"), std::string("GPU recommended"));
    QCOMPARE(speedClassText("tpu-only"), std::string("tpu-only"));
    QCOMPARE(speedClassText(""), std::string());
    QCOMPARE(modelTypeText("pnet-msa"), std::string("PNet-MSA 2D + BiRNN"));
    QCOMPARE(modelTypeText("pansegnet"), std::string("PanSegNet 3D"));
    QCOMPARE(modelTypeText("unet-x"), std::string("unet-x"));
    QCOMPARE(modelTypeText("nnunetv2"), std::string("nnU-Net v2 3D"));
    ModelCatalogEntry e;
    e.dir = "/somewhere/pkg";
    QCOMPARE(modelCatalogLabel(e), std::string("pkg"));
    e.name = "PNet-MSA demo (synthetic phantoms)";
    e.version = "1";
    e.modelType = "pnet-msa";
    e.modality = "CT";
    e.speedClass = "fast-cpu";
    e.demo = true;
    QCOMPARE(QString::fromStdString(modelCatalogLabel(e)),
             QString("PNet-MSA demo (synthetic phantoms) v1 \u2014 PNet-MSA 2D + BiRNN \u00b7 CT "
                     "\u00b7 fast on CPU \u00b7 demo"));
    e.promotedFor = { "CT", "MRI" };
    QCOMPARE(QString::fromStdString(modelCatalogLabel(e)),
             QString("PNet-MSA demo (synthetic phantoms) v1 \u2014 PNet-MSA 2D + BiRNN \u00b7 CT "
                     "\u00b7 fast on CPU \u00b7 demo \u00b7 default for CT, MRI"));
    ModelCatalogEntry v;
    v.dir = "/somewhere/tseg";
    v.name = "Dataset982 3d_fullres";
    v.version = "1";
    v.modelType = "nnunetv2";
    v.modality = "MR";
    v.folds = 5;
    QCOMPARE(QString::fromStdString(modelCatalogLabel(v)),
             QString("Dataset982 3d_fullres v1 \u2014 nnU-Net v2 3D \u00b7 MR \u00b7 5 folds"));
  }

  void bundledFoldersWithoutDatabase()
  {
    const auto entries = listModelPackages({ m_root });
    QCOMPARE(entries.size(), size_t(3)); // d-notes and the loose file are not packages
    const ModelCatalogEntry& a = entries[0];
    QCOMPARE(QString::fromStdString(a.dir), m_pansegnet);
    QCOMPARE(QString::fromStdString(a.label),
             QString("PanSegNet test v2 \u2014 PanSegNet 3D \u00b7 CT \u00b7 demo"));
    QCOMPARE(a.modelType, std::string("pansegnet"));
    QCOMPARE(a.speedClass, std::string());
    QCOMPARE(a.modelId, std::string("pansegnet-test"));
    QCOMPARE(a.description, std::string("a 3D test package"));
    QVERIFY(a.usable() && a.bundled && a.demo && !a.registered());

    const ModelCatalogEntry& b = entries[1];
    QCOMPARE(QString::fromStdString(b.dir), m_pnet);
    QCOMPARE(QString::fromStdString(b.label),
             QString("PNet test v1 \u2014 PNet-MSA 2D + BiRNN \u00b7 CT \u00b7 fast on CPU"));
    QCOMPARE(b.speedClass, std::string("fast-cpu"));
    QVERIFY(b.usable() && b.bundled && !b.demo && !b.registered() && b.promotedFor.empty());

    const ModelCatalogEntry& c = entries[2];
    QCOMPARE(QString::fromStdString(c.dir), QDir(m_broken).absolutePath());
    QVERIFY(!c.usable());
    QCOMPARE(QString::fromStdString(c.label), QString("c-broken \u2014 not a usable model package"));
    QCOMPARE(QString::fromStdString(c.error),
             QString("model package %1 has no plans.json (a package needs plans.json, model.json, "
                     "weights.json and weights.bin)")
                 .arg(QDir(m_broken).absolutePath()));

    // The same root twice, spelled differently, and a link to a package: still one entry per folder.
    QVERIFY(QFile::link(m_pnet, m_tmp.filePath("pnet-link")));
    const auto again = listModelPackages({ m_root, m_root + "/../bundled/", m_tmp.filePath("nonexistent") },
                                         nullptr, { m_tmp.filePath("pnet-link"), m_pansegnet });
    QCOMPARE(again.size(), size_t(3));
    QCOMPARE(findModelCatalogEntry(again, s(m_tmp.filePath("pnet-link"))), 1);
    QVERIFY(sameModelDir(s(m_tmp.filePath("pnet-link")), s(m_pnet)));
    QVERIFY(!sameModelDir(s(m_pnet), s(m_pansegnet)));

    // A model.json that is JSON but has no version: listed with that reason.
    makePackage(m_root + "/e-noversion", R"({"name": "No version"})");
    const auto withNoVersion = listModelPackages({ m_root });
    QCOMPARE(withNoVersion.size(), size_t(4));
    QCOMPARE(QString::fromStdString(withNoVersion[3].error),
             QDir(m_root + "/e-noversion").absolutePath() + "/model.json has no \"version\"");
  }

  void registryAndPromotedModels()
  {
    StudyDatabase db(s(m_tmp.filePath("db")));
    const int64_t pnetId = registerModelPackage(db, s(m_pnet));
    // A fine-tuned package outside the search roots, promoted for MRI.
    const QString tuned = makePackage(m_tmp.filePath("jobs/7/package"), kFineTuned, "tuned");
    const int64_t tunedId = registerModelPackage(db, s(tuned));
    promoteModel(db, tunedId, "MR");
    // A registered package that was deleted afterwards.
    const QString gone = makePackage(m_tmp.filePath("old/gone"), R"({"id": "old-model", "version": "3"})");
    const int64_t goneId = registerModelPackage(db, s(gone));
    QVERIFY(QDir(gone).removeRecursively());
    // An extra folder (e.g. the remembered choice) outside roots and registry.
    const QString extra = makePackage(m_tmp.filePath("extra/pkg"), R"({"name": "Extra", "version": "1"})");

    std::string registryError = "unset";
    const auto entries = listModelPackages({ m_root }, &db, { extra, m_pnet }, &registryError);
    QCOMPARE(registryError, std::string("unset"));
    QCOMPARE(entries.size(), size_t(6)); // 3 bundled, tuned, gone, extra; m_pnet once
    QCOMPARE(QString::fromStdString(entries[0].dir), m_pansegnet);
    QVERIFY(!entries[0].registered());
    QCOMPARE(QString::fromStdString(entries[1].dir), m_pnet);
    QCOMPARE(entries[1].registryId, pnetId);
    QVERIFY(entries[1].bundled && entries[1].promotedFor.empty());
    QCOMPARE(QString::fromStdString(entries[1].label),
             QString("PNet test v1 \u2014 PNet-MSA 2D + BiRNN \u00b7 CT \u00b7 fast on CPU"));
    QVERIFY(!entries[2].usable() && !entries[2].registered());

    QCOMPARE(QString::fromStdString(entries[3].dir), tuned);
    QCOMPARE(entries[3].registryId, tunedId);
    QVERIFY(!entries[3].bundled);
    QCOMPARE(entries[3].promotedFor, std::vector<std::string>{ "MRI" });
    QCOMPARE(QString::fromStdString(entries[3].label),
             QString("Fine-tuned MR v7 \u2014 PanSegNet 3D \u00b7 MR \u00b7 GPU recommended "
                     "\u00b7 default for MRI"));

    QCOMPARE(QString::fromStdString(entries[4].dir), gone);
    QCOMPARE(entries[4].registryId, goneId);
    QVERIFY(!entries[4].usable());
    QCOMPARE(QString::fromStdString(entries[4].label),
             QString("old-model v3 \u2014 registered, folder missing"));
    QCOMPARE(QString::fromStdString(entries[4].error),
             QString("registered model old-model version 3 (registry id %1) was moved or deleted: "
                     "%2 does not exist")
                 .arg(goneId)
                 .arg(gone));

    QCOMPARE(QString::fromStdString(entries[5].dir), extra);
    QCOMPARE(QString::fromStdString(entries[5].label), QString("Extra v1"));
    QVERIFY(!entries[5].bundled && !entries[5].registered());

    // Promoting the bundled pnet package for CT shows on its entry.
    promoteModel(db, pnetId, "CT");
    const auto promoted = listModelPackages({ m_root }, &db);
    QCOMPARE(promoted.size(), size_t(5));
    QCOMPARE(promoted[1].promotedFor, std::vector<std::string>{ "CT" });
    QVERIFY(QString::fromStdString(promoted[1].label).endsWith(" \u00b7 fast on CPU \u00b7 default for CT"));
  }

  void folderWithAnotherVersionIsNotTheRegisteredRow()
  {
    StudyDatabase db(s(m_tmp.filePath("db")));
    QVERIFY(registerModelPackage(db, s(m_pnet)) > 0);
    // The folder now holds version 2 (e.g. overwritten by a copy): not the registered version 1.
    writeFile(m_pnet + "/model.json", QByteArray(kPNet).replace("\"1\"", "\"2\""));
    const auto entries = listModelPackages({ m_root }, &db);
    QCOMPARE(entries.size(), size_t(3));
    QCOMPARE(entries[1].version, std::string("2"));
    QVERIFY(!entries[1].registered());
  }

  void defaultRootsExistAndAreDistinct()
  {
    const QStringList roots = defaultModelSearchRoots();
    for (const QString& r : roots)
    {
      QVERIFY2(QFileInfo(r).isDir(), qPrintable(r));
      QCOMPARE(roots.count(r), 1);
    }
  }
};

QTEST_GUILESS_MAIN(TestModelCatalog)
#include "tst_model_catalog.moc"
