// Issue 20, "named, coloured labels", in the study database (both backends: SQLite folders, and
// with PANSEG_TEST_BACKEND=postgresql a real PostgreSQL server with row-level security):
//  * a mask version stores its label table (names, colours, SEG codes); a new version inherits
//    its parent's, an AI version gets its model package's label names;
//  * a reader blinded by a reader study sees no other reader's label table, through PanSeg and
//    (server) through SQL;
//  * the stored form and the model package declarations (plans.json "classes", model.json
//    "labels" as in nnU-Net's dataset.json, "label_colors"); `panseg db labels`.
#include "../ErrorOf.h"
#include "../ProcessRun.h"
#include "../TestBackend.h"
#include "DbTestUtil.h"

#include "../SharedData.h"

#include "core/Error.h"
#include "core/io/DicomSeg.h"
#include "core/io/ImageIO.h"
#include "core/display/LabelPresets.h"
#include "database/Importer.h"
#include "database/LabelTables.h"
#include "database/jobs/WorkerCommand.h"
#include "database/registry/ModelRegistry.h"
#include "database/studies/ReaderStudy.h"
#include "database/Schema.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

using namespace panseg;
using namespace panseg::db;

namespace
{
void writeJson(const QString& path, const QJsonObject& o)
{
  QFile f(path);
  QVERIFY(f.open(QIODevice::WriteOnly));
  f.write(QJsonDocument(o).toJson());
}

/// A package folder (models/ModelPackage.h layout) with the given plans.json and model.json.
QString writePackage(const QString& dir, const QJsonObject& plans, const QJsonObject& modelExtra)
{
  QDir().mkpath(dir);
  QJsonObject model{ { "name", "Label test model" }, { "id", "labels-test" }, { "version", "1" } };
  for (auto it = modelExtra.begin(); it != modelExtra.end(); ++it)
    model[it.key()] = it.value();
  writeJson(dir + "/model.json", model);
  writeJson(dir + "/plans.json", plans);
  for (const char* name : { "weights.json", "weights.bin" })
  {
    QFile x(dir + "/" + name);
    if (x.open(QIODevice::WriteOnly))
      x.write("{}");
  }
  return dir;
}

LabelMask twoLabels(const Geometry& g)
{
  LabelMask m(g);
  for (int64_t z = 1; z < 3; ++z)
    for (int64_t y = 1; y < 5; ++y)
    {
      m.at(1, y, z) = 1;
      m.at(2, y, z) = 2;
    }
  return m;
}

[[maybe_unused]] testproc::Run runCli(const test::TestDb& where, const std::string& user, const QStringList& args)
{
#ifdef PANSEG_EXE
  QProcess p;
  QProcessEnvironment env = where.cliEnv(user);
  env.insert("QT_QPA_PLATFORM", "offscreen");
  p.setProcessEnvironment(env);
  p.start(PANSEG_EXE, args + where.cliArgs(user));
  testproc::Run r;
  if (!p.waitForFinished(120000))
  {
    p.kill();
    p.waitForFinished();
    r.err = "timed out";
    return r;
  }
  r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
  r.out = QString::fromUtf8(p.readAllStandardOutput());
  r.err = QString::fromUtf8(p.readAllStandardError());
  return r;
#else
  Q_UNUSED(where);
  Q_UNUSED(user);
  Q_UNUSED(args);
  return {};
#endif
}
} // namespace

class TestLabelTables : public QObject
{
  Q_OBJECT
private slots:
  void storedFormRoundTrips()
  {
    LabelTable t = LabelTable::defaults();
    LabelInfo cyst;
    cyst.value = 4;
    cyst.name = "Cyst \"A\" — ünïcode";
    cyst.color = { 12, 200, 99 };
    t.set(cyst);
    const std::string json = labelTableToJson(t);
    QVERIFY2(json.find("\"#ffa000\"") != std::string::npos, json.c_str());
    QVERIFY(labelTableFromJson(json) == t);
    QVERIFY(errorOf([] { labelTableFromJson("{}"); }).contains("not a JSON array"));
    QVERIFY(errorOf([] { labelTableFromJson("[{\"value\": 1, \"name\": \"x\", \"color\": \"red\"}]"); }).contains("colour"));
    QVERIFY(errorOf([] { labelTableFromJson("[{\"value\": 0, \"name\": \"x\", \"color\": \"#000000\"}]"); })
              .contains("outside 1..255"));
  }

  void modelPackagesNameTheirLabels()
  {
    QTemporaryDir t;
    // plans.json "classes" (the shipped demo packages).
    const QString classes = writePackage(
      t.path() + "/classes",
      QJsonObject{ { "classes", QJsonArray{ QJsonObject{ { "label", 0 }, { "name", "background" } },
                                            QJsonObject{ { "label", 1 }, { "name", "pancreas" } },
                                            QJsonObject{ { "label", 2 }, { "name", "tumor" } } } } },
      {});
    const LabelTable a = labelTableOfModelPackage(classes.toStdString());
    QCOMPARE(a.entries().size(), size_t(2));
    QCOMPARE(a.label(1).name, std::string("Pancreas"));
    QCOMPARE(a.label(1).type.value, std::string("15776009"));
    QCOMPARE(a.label(2).name, std::string("Tumor"));
    QCOMPARE(a.label(2).type.value, std::string("108369006"));
    // model.json "labels" as nnU-Net's dataset.json writes them (name -> value), with colours.
    const QString nnunet =
      writePackage(t.path() + "/nnunet", {},
                   QJsonObject{ { "labels", QJsonObject{ { "background", 0 }, { "pancreas", 1 }, { "duct", 3 } } },
                                { "label_colors", QJsonObject{ { "3", "#2060ff" } } } });
    const LabelTable b = labelTableOfModelPackage(nnunet.toStdString());
    QCOMPARE(b.label(3).name, std::string("Duct"));
    QVERIFY(b.label(3).color == (Rgb{ 0x20, 0x60, 0xff }));
    QCOMPARE(b.label(3).type.meaning, std::string("Tissue"));
    // An nnU-Net v2 package keeps dataset.json in plans.json: a TotalSegmentator-like model's
    // predictions name its pancreas (7), so volume tables find it by name.
    const QString v2 = writePackage(
      t.path() + "/v2",
      QJsonObject{ { "dataset_json",
                     QJsonObject{ { "labels", QJsonObject{ { "background", 0 }, { "spleen", 1 }, { "pancreas", 7 } } } } } },
      {});
    const LabelTable c = labelTableOfModelPackage(v2.toStdString());
    QCOMPARE(c.label(1).name, std::string("Spleen"));
    QCOMPARE(c.label(1).type.meaning, std::string("Tissue"));
    QCOMPARE(c.label(7).name, std::string("Pancreas"));
    QCOMPARE(pancreasLabelOf(c), 7);
    QCOMPARE(c.entries().size(), size_t(2));
    // A package whose only label is a pancreas at 7 does not get the defaults' "1 = Pancreas"
    // beside it (the pancreas would then be found at 1, where there is nothing).
    const QString only7 = writePackage(
      t.path() + "/only7",
      QJsonObject{ { "dataset_json", QJsonObject{ { "labels", QJsonObject{ { "background", 0 }, { "pancreas", 7 } } } } } },
      {});
    const LabelTable d = labelTableOfModelPackage(only7.toStdString());
    QVERIFY(!d.has(1));
    QCOMPARE(pancreasLabelOf(d), 7);
    // A package that declares nothing gets the defaults.
    QCOMPARE(labelTableOfModelPackage(writePackage(t.path() + "/none", {}, {}).toStdString()), LabelTable::defaults());

    // What panseg predict and Predict Pancreas report from the worker's "done" event: the pancreas
    // the package names (7 of a multi-organ map), not every structure; every label otherwise.
    const QJsonObject done{ { "volume_ml", 50.0 },
                            { "voxels", 5000 },
                            { "voxel_ml", 0.01 },
                            { "label_voxels", QJsonObject{ { "1", 4500 }, { "7", 500 } } } };
    const PredictedVolume pv = predictedPancreasVolume(done, v2);
    QCOMPARE(pv.label, 7);
    QCOMPARE(pv.voxels, qint64(500));
    QVERIFY(qAbs(pv.ml - 5.0) < 1e-9);
    QCOMPARE(pv.note(), QString("label 7 \"Pancreas\" of 2 labels; all labels 50.00 mL"));
    const PredictedVolume whole = predictedPancreasVolume(done, classes); // pancreas + tumour: both
    QCOMPARE(whole.label, 0);
    QCOMPARE(whole.voxels, qint64(5000));
    QVERIFY(qAbs(whole.ml - 50.0) < 1e-9);
    QVERIFY(whole.note().isEmpty());
    // An older worker's event without per-label counts: every label, not a wrong zero.
    QJsonObject old = done;
    old.remove("label_voxels");
    QCOMPARE(predictedPancreasVolume(old, v2).voxels, qint64(5000));
    // The shipped demo model.
    const LabelTable demo = labelTableOfModelPackage(PANSEG_DEMO_MODEL);
    QCOMPARE(demo.label(1).name, std::string("Pancreas"));
    // Bad declarations are named.
    const QString bad = writePackage(t.path() + "/bad", {}, QJsonObject{ { "labels", QJsonArray{ 1 } } });
    QVERIFY(errorOf([&] { labelTableOfModelPackage(bad.toStdString()); }).contains("\"labels\" must be an object"));
    const QString badColor =
      writePackage(t.path() + "/badc", {}, QJsonObject{ { "label_colors", QJsonObject{ { "1", "orange" } } } });
    QVERIFY(errorOf([&] { labelTableOfModelPackage(badColor.toStdString()); }).contains("label_colors.1"));
  }

  void versionsStoreAndInheritTheirTable()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(t.path() + "/db", "coord"), where.options("coord"));
    const Geometry g = dbtest::grid(8, 8, 4);
    const int64_t series = dbtest::addSyntheticSeries(db, g, "labels");

    // Without a table: the defaults.
    const int64_t first = db.saveMaskVersion(series, twoLabels(g), MaskProvenance{});
    QVERIFY(db.labelTable(first) == LabelTable::defaults());

    // An edited table is stored with the version...
    LabelTable edited = LabelTable::defaults();
    LabelInfo p = edited.label(1);
    p.color = { 0xe6, 0xa0, 0x40 };
    edited.set(p);
    LabelInfo vein;
    vein.value = 2;
    vein.name = "Splenic vein";
    vein.color = { 40, 60, 230 };
    edited.set(vein);
    MaskProvenance withTable;
    withTable.parentId = first;
    withTable.labelTable = edited;
    const int64_t second = db.saveMaskVersion(series, twoLabels(g), withTable);
    QVERIFY(db.labelTable(second) == edited);
    QVERIFY(db.labelTable(first) == LabelTable::defaults()); // the parent is untouched

    // ... and a child saved without one inherits its parent's.
    MaskProvenance child;
    child.parentId = second;
    const int64_t third = db.saveMaskVersion(series, twoLabels(g), child);
    QVERIFY(db.labelTable(third) == edited);

    // AI versions: the model package's label names.
    const QString pkg = writePackage(
      t.path() + "/pkg",
      QJsonObject{ { "classes", QJsonArray{ QJsonObject{ { "label", 1 }, { "name", "pancreas" } },
                                            QJsonObject{ { "label", 2 }, { "name", "lesion" } } } } },
      {});
    MaskProvenance ai;
    ai.source = MaskSource::AI;
    ai.modelVersionId = registerModelPackage(db, pkg.toStdString());
    const int64_t predicted = db.saveMaskVersion(series, twoLabels(g), ai);
    QCOMPARE(db.labelTable(predicted).label(2).name, std::string("Lesion"));

    QVERIFY(errorOf([&] { db.labelTable(999999); }).contains("not found"));
    if (!where.server())
    {
      dbtest::RawSql raw(db.databasePath());
      const QString err = raw.exec("UPDATE mask_label_tables SET labels = '[]'");
      QVERIFY2(err.contains("immutable"), qPrintable(err));
    }

#ifdef PANSEG_EXE
    const testproc::Run text = runCli(where, "coord", { "db", "labels", QString::number(second) });
    QVERIFY2(text.code == 0, qPrintable(testproc::show(text)));
    QVERIFY2(text.out.contains("Splenic vein") && text.out.contains("#e6a040") && text.out.contains("15776009"),
             qPrintable(text.out));
    const testproc::Run json = runCli(where, "coord", { "db", "labels", QString::number(second), "--json" });
    QVERIFY2(json.code == 0, qPrintable(testproc::show(json)));
    const QJsonArray rows = QJsonDocument::fromJson(json.out.toUtf8()).object().value("labels").toArray();
    QCOMPARE(rows.size(), 2);
    QCOMPARE(rows[1].toObject().value("name").toString(), QString("Splenic vein"));
    QCOMPARE(rows[1].toObject().value("color").toString(), QString("#283ce6"));
    QVERIFY(rows[1].toObject().value("volume_ml").toDouble() > 0);
    const testproc::Run missing = runCli(where, "coord", { "db", "labels", "424242" });
    QCOMPARE(missing.code, 1);
#endif
  }

  void blindedReadersSeeNoOtherReadersTable()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase coord(where.createFor(t.path() + "/db", "coord"), where.options("coord"));
    where.addUser(coord, "alice", Role::Reader);
    where.addUser(coord, "bob", Role::Reader);
    const Geometry g = dbtest::grid(8, 8, 4);
    const int64_t series = dbtest::addSyntheticSeries(coord, g, "blind");
    ReaderStudy rs(coord);
    NewReaderStudy ns;
    ns.name = "labels-blind";
    ns.readers = { "alice", "bob" };
    ns.seriesIds = { series };
    const int64_t study = rs.createStudy(ns);

    StudyDatabase alice(where.location("alice"), where.options("alice"));
    ReaderStudy ars(alice);
    const auto list = ars.worklist(study);
    QVERIFY(!list.reads.empty());
    ars.startRead(list.reads.front().id);
    const int64_t read = ars.submitRead(list.reads.front().id, twoLabels(g));
    QVERIFY(alice.labelTable(read) == LabelTable::defaults()); // her own: visible

    StudyDatabase bob(where.location("bob"), where.options("bob"));
    const QString err = errorOf([&] { bob.labelTable(read); });
    QVERIFY2(!err.isEmpty(), "bob read alice's label table");
    QVERIFY2(!err.contains("Pancreas"), qPrintable(err));
    QVERIFY(errorOf([&] { coord.labelTable(read); }).isEmpty()); // the coordinator sees every read

    if (where.server())
    {
      auto psql = [&](const char* user, const QString& sql)
      {
        QString out, e;
        const int rc = where.pg()->psql(user, QString(user) + "-password", where.databaseName(), sql, &out, &e);
        return rc == 0 ? out.trimmed() : "refused: " + e.trimmed();
      };
      QCOMPARE(psql("coord", "SELECT count(*) FROM mask_label_tables"), QString("1"));
      QCOMPARE(psql("alice", "SELECT count(*) FROM mask_label_tables"), QString("1"));
      QCOMPARE(psql("bob", "SELECT count(*) FROM mask_label_tables"), QString("0"));
      // Nobody writes a table for a version they cannot see, nor changes one.
      const QString insert = psql("bob", QString("INSERT INTO mask_label_tables (mask_version_id, labels, created_at)"
                                                 " VALUES (%1, '[]', 'x')")
                                           .arg(read));
      QVERIFY2(insert.startsWith("refused"), qPrintable(insert));
      const QString update = psql("coord", "UPDATE mask_label_tables SET labels = '[]'");
      QVERIFY2(update.contains("immutable"), qPrintable(update));
    }
  }

  // `panseg export-seg --db --mask-version` names and colours the segments from the version's
  // table, and `panseg import-seg --json` reads them back.
  void exportSegUsesTheVersionsNames()
  {
#ifndef PANSEG_EXE
    QSKIP("needs the panseg executable");
#else
    PANSEG_REQUIRE_SHARED("data/dcmqi/ct-3slice");
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(t.path() + "/db", "coord"), where.options("coord"));
    const ImportReport r = importPaths(db, { paths::shared("data/dcmqi/ct-3slice").toStdString() });
    QCOMPARE(r.importedSeries.size(), size_t(1));
    const int64_t series = r.importedSeries.front();
    const Image ct = db.loadImage(series, true);
    const LabelMask mask =
      readMaskFor(paths::shared("data/dcmqi/liver_spine_seg.nrrd").toStdString(), ct.geometry);
    LabelTable table = LabelTable::defaults();
    LabelInfo liver = LabelTable::defaultLabel(1);
    liver.name = "Liver";
    liver.category = liver.type = {};
    liver.color = { 221, 130, 101 };
    table.set(liver);
    LabelInfo spine = LabelTable::defaultLabel(2);
    spine.name = "Spine";
    spine.color = { 241, 214, 145 };
    table.set(spine);
    MaskProvenance p;
    p.labelTable = table;
    const int64_t version = db.saveMaskVersion(series, mask, p);

    const QString seg = t.path() + "/named.dcm";
    const testproc::Run exported =
      runCli(where, "coord", { "export-seg", "--mask-version", QString::number(version), "--out", seg });
    QVERIFY2(exported.code == 0, qPrintable(testproc::show(exported)));
    const SegImportResult back = importDicomSeg(seg.toStdString(), ct.geometry);
    const LabelTable read = back.labelTable();
    QCOMPARE(read.label(1).name, std::string("Liver"));
    QCOMPARE(read.label(2).name, std::string("Spine"));
    QCOMPARE(read.label(1).type.meaning, std::string("Tissue")); // unknown name: tissue, not pancreas
    for (int v : { 1, 2 })
    {
      const Rgb a = read.label(v).color, b = table.label(v).color;
      QVERIFY2(std::abs(a.r - b.r) <= 1 && std::abs(a.g - b.g) <= 1 && std::abs(a.b - b.b) <= 1,
               (hexColor(a) + " vs " + hexColor(b)).c_str());
    }
    // --label 2 alone: one segment, named and coloured as label 2.
    const QString one = t.path() + "/spine.dcm";
    const testproc::Run single = runCli(
      where, "coord", { "export-seg", "--mask-version", QString::number(version), "--label", "2", "--out", one });
    QVERIFY2(single.code == 0, qPrintable(testproc::show(single)));
    const SegImportResult spineOnly = importDicomSeg(one.toStdString(), ct.geometry);
    QCOMPARE(spineOnly.segments.size(), size_t(1));
    QCOMPARE(spineOnly.segments[0].label, std::string("Spine"));
    // import-seg prints the colours.
    QProcess p2;
    p2.start(PANSEG_EXE, { "import-seg", seg, "--out", t.path() + "/back.nii.gz", "--json" });
    QVERIFY(p2.waitForFinished(60000));
    const QJsonArray segs =
      QJsonDocument::fromJson(p2.readAllStandardOutput()).object().value("segments").toArray();
    QCOMPARE(segs.size(), 2);
    QCOMPARE(segs[0].toObject().value("label").toString(), QString("Liver"));
    QVERIFY(segs[0].toObject().value("color").toString().startsWith("#"));
#endif
  }

  void olderDatabasesUseTheDefaults()
  {
    if (test::onPostgres())
      QSKIP("schema versions below the latest are a local-mode test (server init applies all)");
    QTemporaryDir t;
    StudyDatabase::OpenOptions o;
    o.username = "coord";
    o.maxSchemaVersion = 7;
    const std::string folder = t.path().toStdString() + "/db";
    int64_t old = 0, series = 0;
    {
      StudyDatabase db(folder, o);
      const Geometry g = dbtest::grid(8, 8, 4);
      series = dbtest::addSyntheticSeries(db, g, "old");
      old = db.saveMaskVersion(series, twoLabels(g), MaskProvenance{});
      QVERIFY(db.labelTable(old) == LabelTable::defaults());
    }
    o.maxSchemaVersion = 0;
    StudyDatabase db(folder, o); // migrates to the latest version (label tables: 9)
    QCOMPARE(db.schemaVersion(), latestSchemaVersion());
    QVERIFY(db.labelTable(old) == LabelTable::defaults());
    MaskProvenance child;
    child.parentId = old;
    const int64_t v = db.saveMaskVersion(series, db.loadMask(old), child);
    QVERIFY(db.labelTable(v) == LabelTable::defaults());
  }
};

QTEST_GUILESS_MAIN(TestLabelTables)
#include "tst_label_tables.moc"
