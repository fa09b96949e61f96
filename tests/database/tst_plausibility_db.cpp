// Issue 20, defects 8 and 9, in the study database (both backends: SQLite folders, and with
// PANSEG_TEST_BACKEND=postgresql a real PostgreSQL server with row-level security):
//  * every AI mask version is checked for plausibility when it is saved, with the limits of its
//    model package's model.json; the check is stored with the version and shown by `panseg db
//    masks`; approving a flagged version needs a confirmation and the approval is audited with
//    the flag;
//  * the reference-mask rule (latest approved / consensus / a reader), set by a coordinator,
//    audited, refused for readers, picks the version the volume table, `panseg volumes` and the
//    study report use, per series, and says when the rule picks none.
#include "../ErrorOf.h"
#include "../ProcessRun.h"
#include "../TestBackend.h"
#include "DbTestUtil.h"

#include "core/Error.h"
#include "database/registry/ModelRegistry.h"
#include "database/studies/Plausibility.h"
#include "database/studies/ReaderStudy.h"
#include "database/studies/ReferenceMask.h"
#include "database/studies/StudyReport.h"
#include "database/exports/VolumeTable.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>

#include <algorithm>

using namespace panseg;
using namespace panseg::db;

namespace
{
/// 100 x 100 x 60 voxels of 3 mm (300 x 300 x 180 mm, an abdomen).
Geometry abdomen()
{
  Geometry g;
  g.size = { 100, 100, 60 };
  g.spacingMm = { 3.0, 3.0, 3.0 };
  return g;
}

/// A centred ellipsoid with radii in voxels (label 1).
LabelMask gland(const Geometry& g, double rx, double ry, double rz, double cx = 50)
{
  LabelMask m(g);
  for (int64_t z = 0; z < m.nz(); ++z)
    for (int64_t y = 0; y < m.ny(); ++y)
      for (int64_t x = 0; x < m.nx(); ++x)
      {
        const double dx = (double(x) - cx) / rx, dy = (double(y) - 50) / ry, dz = (double(z) - 30) / rz;
        if (dx * dx + dy * dy + dz * dz <= 1.0)
          m.at(x, y, z) = 1;
      }
  return m;
}

/// A package folder as models/ModelPackage.h lays it out, with `extra` merged into model.json.
QString writePackage(const QString& dir, const QJsonObject& extra)
{
  QDir().mkpath(dir);
  QJsonObject model{ { "name", "Plausibility test model" }, { "id", "plaus-test" }, { "version", "1" } };
  for (auto it = extra.begin(); it != extra.end(); ++it)
    model[it.key()] = it.value();
  QFile f(dir + "/model.json");
  f.open(QIODevice::WriteOnly);
  f.write(QJsonDocument(model).toJson());
  f.close();
  for (const char* name : { "plans.json", "weights.json", "weights.bin" })
  {
    QFile x(dir + "/" + name);
    x.open(QIODevice::WriteOnly);
    x.write("{}");
  }
  return dir;
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

class TestPlausibilityDb : public QObject
{
  Q_OBJECT
private slots:
  void aiVersionsAreCheckedWithTheirModelsLimits()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(t.path() + "/db", "coord"), where.options("coord"));
    const Geometry g = abdomen();
    const int64_t series = dbtest::addSyntheticSeries(db, g, "p1");
    // The package narrows the volume bound and records its training data's range.
    const QString pkg = writePackage(t.path() + "/pkg", QJsonObject{ { "plausibility",
                                                                       QJsonObject{ { "min_volume_ml", 5 },
                                                                                    { "training_volume_ml",
                                                                                      QJsonArray{ 15, 60 } } } } });
    const int64_t model = registerModelPackage(db, pkg.toStdString());
    MaskProvenance ai;
    ai.source = MaskSource::AI;
    ai.modelVersionId = model;

    // ~1.8 mL, the PNet-MSA result: below 5 mL and outside the training range.
    const int64_t tiny = db.saveMaskVersion(series, gland(g, 3, 2, 2.6), ai);
    const MaskVersion t1 = *db.maskVersion(tiny);
    QVERIFY(t1.plausibility.checked);
    QVERIFY(t1.plausibility.flagged);
    QVERIFY(std::count(t1.plausibility.findings.begin(), t1.plausibility.findings.end(), "volume-low") == 1);
    QVERIFY(std::count(t1.plausibility.findings.begin(), t1.plausibility.findings.end(), "outside-training-range") == 1);
    QVERIFY2(t1.plausibility.summary.find("below 5.0 mL") != std::string::npos, t1.plausibility.summary.c_str());
    QVERIFY2(t1.plausibility.limitsSource.find("model.json") != std::string::npos, t1.plausibility.limitsSource.c_str());
    const QJsonObject details = QJsonDocument::fromJson(QByteArray::fromStdString(t1.plausibility.detailsJson)).object();
    QCOMPARE(details.value("components").toInt(), 1);
    QVERIFY(std::abs(details.value("volume_ml").toDouble() - t1.volumeMl) < 1e-9);
    // The save's audit entry carries the flag.
    const auto saved = db.auditLog("mask_versions", tiny);
    QVERIFY(saved.front().detailsJson.find("\"flagged\":true") != std::string::npos);

    // ~22 mL, one piece, in the middle: plausible for this model.
    const int64_t fine = db.saveMaskVersion(series, gland(g, 8, 4, 6), ai);
    QVERIFY(db.maskVersion(fine)->plausibility.checked);
    QVERIFY2(!db.maskVersion(fine)->plausibility.flagged, db.maskVersion(fine)->plausibility.summary.c_str());
    QCOMPARE(plausibilityLine(db.maskVersion(fine)->plausibility), std::string("plausible"));

    // A reader's version is not checked when saved; plausibilityOf computes it on request.
    const int64_t reader = db.saveMaskVersion(series, gland(g, 3, 2, 2.6), MaskProvenance{});
    QVERIFY(!db.maskVersion(reader)->plausibility.checked);
    const MaskPlausibility onDemand = plausibilityOf(db, reader);
    QVERIFY(onDemand.checked && onDemand.flagged);
    QCOMPARE(onDemand.limitsSource, std::string("defaults"));

    // masksOf (the browser, `db masks`) carries the stored checks.
    const auto list = db.masksOf(series);
    QCOMPARE(list.size(), size_t(3));
    QVERIFY(list[0].plausibility.flagged && !list[1].plausibility.flagged && !list[2].plausibility.checked);

    if (!where.server())
    {
      // The stored check is as immutable as the version.
      dbtest::RawSql raw(db.databasePath());
      const QString err = raw.exec("UPDATE mask_plausibility SET flagged = 0");
      QVERIFY2(err.contains("immutable"), qPrintable(err));
    }

#ifdef PANSEG_EXE
    const testproc::Run masks = runCli(where, "coord", { "db", "masks", QString::number(series) });
    QVERIFY2(masks.code == 0, qPrintable(testproc::show(masks)));
    QVERIFY2(masks.out.contains("! FLAGGED implausible: volume"), qPrintable(masks.out));
    QVERIFY(masks.out.contains("1 flagged as implausible"));
    const testproc::Run json = runCli(where, "coord", { "db", "masks", QString::number(series), "--json" });
    const QJsonArray rows = QJsonDocument::fromJson(json.out.toUtf8()).object().value("masks").toArray();
    QCOMPARE(rows.size(), 3);
    QCOMPARE(rows[0].toObject().value("plausibility").toObject().value("flagged").toBool(), true);
    QCOMPARE(rows[1].toObject().value("plausibility").toObject().value("flagged").toBool(), false);
    QVERIFY(!rows[2].toObject().contains("plausibility"));
#endif
  }

  void approvingAFlaggedAiVersionNeedsAConfirmation()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(t.path() + "/db", "coord"), where.options("coord"));
    const Geometry g = abdomen();
    const int64_t series = dbtest::addSyntheticSeries(db, g, "p2");
    ModelVersion mv;
    mv.modelId = "gone";
    mv.version = "1";
    mv.files = { { "/nonexistent/package/model.json", "abc" } };
    MaskProvenance ai;
    ai.source = MaskSource::AI;
    ai.modelVersionId = db.registerModelVersion(mv);
    // A model whose package is gone: the defaults, and the source says why.
    const int64_t flagged = db.saveMaskVersion(series, gland(g, 3, 2, 2.6), ai);
    QVERIFY(db.maskVersion(flagged)->plausibility.limitsSource.find("is gone") != std::string::npos);
    const int64_t fine = db.saveMaskVersion(series, gland(g, 8, 4, 6), ai);
    db.setMaskState(flagged, MaskState::Submitted);
    db.setMaskState(fine, MaskState::Submitted);

    bool threw = false;
    try
    {
      db.setMaskState(flagged, MaskState::Approved);
    }
    catch (const ImplausibleMaskError& e)
    {
      threw = true;
      QCOMPARE(e.maskVersionId, flagged);
      QVERIFY(e.plausibility.flagged);
      QVERIFY2(QString(e.what()).contains("flagged as implausible (volume"), e.what());
    }
    QVERIFY(threw);
    QCOMPARE(db.maskVersion(flagged)->state, MaskState::Submitted); // nothing changed

#ifdef PANSEG_EXE
    const testproc::Run refused = runCli(where, "coord", { "db", "set-state", QString::number(flagged), "approved" });
    QCOMPARE(refused.code, 1);
    QVERIFY2(refused.err.contains("--accept-flagged"), qPrintable(testproc::show(refused)));
    const testproc::Run accepted =
      runCli(where, "coord", { "db", "set-state", QString::number(flagged), "approved", "--accept-flagged" });
    QVERIFY2(accepted.code == 0, qPrintable(testproc::show(accepted)));
    QVERIFY(accepted.out.contains("approved although flagged as implausible"));
#else
    db.setMaskState(flagged, MaskState::Approved, {}, true);
#endif
    QCOMPARE(db.maskVersion(flagged)->state, MaskState::Approved);
    const auto log = db.auditLog("mask_versions", flagged);
    const QJsonObject last = QJsonDocument::fromJson(QByteArray::fromStdString(log.back().detailsJson)).object();
    QCOMPARE(last.value("to").toString(), QString("approved"));
    QCOMPARE(last.value("plausibility").toObject().value("flagged").toBool(), true);
    QCOMPARE(last.value("plausibility").toObject().value("confirmed_by").toString(),
             QString::fromStdString(db.currentUser().username));
    QVERIFY(last.value("plausibility").toObject().value("findings").toArray().contains("volume-low"));

    // A plausible AI version approves without a question, and its audit entry has no flag.
    db.setMaskState(fine, MaskState::Approved);
    QVERIFY(db.auditLog("mask_versions", fine).back().detailsJson.find("plausibility") == std::string::npos);
  }

  void badPlausibilityBlocksAreNamed()
  {
    // model.json as the one reader (models/ModelCard.h) gives it to the plausibility rules.
    const auto asModelJson = [](const QJsonObject& o)
    { return panseg::models::json::parse(QJsonDocument(o).toJson().toStdString()); };
    const auto message = [&](const QJsonObject& block) {
      return errorOf([&] { modelPlausibilityFromJson(asModelJson(QJsonObject{ { "plausibility", block } }), "x/model.json"); });
    };
    QVERIFY(message(QJsonObject{ { "min_volume_ml", 12 } }).isEmpty());
    QVERIFY(message(QJsonObject{ { "max_volume", 12 } }).contains("unknown key plausibility.max_volume"));
    QVERIFY(message(QJsonObject{ { "min_volume_ml", "ten" } }).contains("plausibility.min_volume_ml must be a number"));
    QVERIFY(message(QJsonObject{ { "min_volume_ml", 300 } }).contains("must be below max_volume_ml"));
    QVERIFY(message(QJsonObject{ { "training_volume_ml", QJsonArray{ 1 } } }).contains("[min, max]"));
    QVERIFY(message(QJsonObject{ { "max_components", 2.5 } }).contains("whole number"));
    QVERIFY(message(QJsonObject{ { "label", 300 } }).contains("plausibility.label"));
    QVERIFY(errorOf([&] { modelPlausibilityFromJson(asModelJson(QJsonObject{ { "plausibility", 3 } }), "m.json"); })
              .contains("must be an object"));
    // A package with a bad block is refused where it is first read (registration, prediction).
    QTemporaryDir t;
    const QString pkg = writePackage(t.path() + "/bad", QJsonObject{ { "plausibility",
                                                                       QJsonObject{ { "border_margin", 0.9 } } } });
    const QString why = errorOf([&] { readModelPackageInfo(pkg.toStdString(), false); });
    QVERIFY2(why.contains("model.json: border_margin must lie between 0 and 0.5"), qPrintable(why));
  }

  void referenceRuleDecidesWhichApprovedMaskCounts()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase coord(where.createFor(t.path() + "/db", "coord"), where.options("coord"));
    where.addUser(coord, "alice", Role::Reader);
    where.addUser(coord, "bob", Role::Reader);
    const Geometry g = dbtest::grid(12, 12, 6);
    const int64_t s1 = dbtest::addSyntheticSeries(coord, g, "r1");
    const int64_t s2 = dbtest::addSyntheticSeries(coord, g, "r2");
    auto saveAs = [&](const std::string& user, int64_t series, unsigned seed, MaskSource source) {
      StudyDatabase db(where.location(user), where.options(user));
      MaskProvenance p;
      p.source = source;
      const int64_t v = db.saveMaskVersion(series, dbtest::randomMask(g, seed), p);
      db.setMaskState(v, MaskState::Submitted);
      return v;
    };
    const int64_t alice = saveAs("alice", s1, 1, MaskSource::Reader);
    const int64_t bob = saveAs("bob", s1, 2, MaskSource::Reader);
    const int64_t consensus = saveAs("coord", s1, 3, MaskSource::Consensus);
    const int64_t imported = saveAs("coord", s2, 4, MaskSource::Reader);
    // Approval order: consensus, alice, bob (click order: bob last).
    for (int64_t v : { consensus, alice, bob, imported })
    {
      coord.setMaskState(v, MaskState::Approved);
      QThread::msleep(15);
    }

    // Default: the version approved last, and the rule says it is the default.
    ReferenceRule rule = referenceRule(coord);
    QVERIFY(rule.isDefault);
    QCOMPARE(rule.kind, ReferenceRuleKind::Latest);
    QCOMPARE(chooseReferenceMask(coord.masksOf(s1), rule).maskVersionId, bob);
    VolumeTable vt = buildVolumeTable(coord, VolumeFilter{});
    auto referenceOf = [](const VolumeTable& t, int64_t series) {
      for (const VolumeRow& r : t.rows)
        if (r.seriesId == series && r.approvedMask)
          return r.maskVersionId;
      return int64_t(0);
    };
    QCOMPARE(referenceOf(vt, s1), bob);
    QVERIFY(vt.rule.describe().find("latest approved (default; no rule set)") != std::string::npos);

    // Readers and clinicians may not set it.
    {
      StudyDatabase reader(where.location("alice"), where.options("alice"));
      const QString why = errorOf([&] { setReferenceRule(reader, ReferenceRuleKind::Reader, "alice"); });
      QVERIFY2(why.contains("only a coordinator or an admin may set the reference-mask rule (user alice is a reader)"),
               qPrintable(why));
    }
    QVERIFY(errorOf([&] { setReferenceRule(coord, ReferenceRuleKind::Reader, "zed"); }).contains("no user 'zed'"));
    QVERIFY(errorOf([&] { setReferenceRule(coord, ReferenceRuleKind::Reader, ""); }).contains("needs the reader's user name"));
    QVERIFY(errorOf([&] { setReferenceRule(coord, ReferenceRuleKind::Consensus, "alice"); })
              .contains("only the rule 'reader' takes a user name"));
    QVERIFY(errorOf([&] { setReferenceRule(coord, ReferenceRuleKind::Latest, {}, 999); })
              .contains("no reader study with id 999"));

    // Consensus: series 1 uses its consensus; series 2 has none and says so.
    rule = setReferenceRule(coord, ReferenceRuleKind::Consensus);
    QVERIFY(!rule.isDefault);
    QCOMPARE(rule.setBy, std::string("coord"));
    vt = buildVolumeTable(coord, VolumeFilter{});
    QCOMPARE(vt.rule.kind, ReferenceRuleKind::Consensus);
    QCOMPARE(referenceOf(vt, s1), consensus);
    QCOMPARE(referenceOf(vt, s2), int64_t(0));
    const auto ref2 = std::find_if(vt.references.begin(), vt.references.end(),
                                   [&](const ReferenceRow& r) { return r.seriesId == s2; });
    QVERIFY(ref2 != vt.references.end());
    QCOMPARE(ref2->reason, std::string("no approved consensus version (1 other approved version)"));

    // A named reader.
    setReferenceRule(coord, ReferenceRuleKind::Reader, "alice");
    QCOMPARE(referenceOf(buildVolumeTable(coord, VolumeFilter{}), s1), alice);

    // Audited, with its history kept.
    const auto audit = coord.auditLog("reference_mask_rules");
    QCOMPARE(audit.size(), size_t(2));
    QCOMPARE(audit.back().action, std::string("set-reference-rule"));
    QVERIFY(audit.back().detailsJson.find("\"reader\":\"alice\"") != std::string::npos);

    // A reader study's own rule overrides the database-wide one in its report only.
    ReaderStudy rs(coord);
    NewReaderStudy ns;
    ns.name = "rule study";
    ns.readers = { "alice", "bob" };
    ns.seriesIds = { s1, s2 };
    const int64_t study = rs.createStudy(ns);
    QCOMPARE(referenceRule(coord, study).kind, ReferenceRuleKind::Reader); // inherits the database rule
    setReferenceRule(coord, ReferenceRuleKind::Consensus, {}, study);
    rule = referenceRule(coord, study);
    QCOMPARE(rule.kind, ReferenceRuleKind::Consensus);
    QCOMPARE(rule.studyName, std::string("rule study"));
    QVERIFY(rule.describe().find("reader study 'rule study'") != std::string::npos);
    QCOMPARE(referenceRule(coord).kind, ReferenceRuleKind::Reader);
    const StudyReportData report = computeStudyReport(coord, study);
    QCOMPARE(report.referenceRule.kind, ReferenceRuleKind::Consensus);
    QCOMPARE(report.references.size(), size_t(2));
    QCOMPARE(report.references[0].maskVersionId, consensus);
    QCOMPARE(report.references[0].source, std::string("consensus: coord"));
    QCOMPARE(report.references[1].maskVersionId, int64_t(0));

#ifdef PANSEG_EXE
    const testproc::Run show = runCli(where, "alice", { "db", "reference-rule", "--json" });
    QVERIFY2(show.code == 0, qPrintable(testproc::show(show)));
    const QJsonObject shown = QJsonDocument::fromJson(show.out.toUtf8()).object();
    QCOMPARE(shown.value("rule").toString(), QString("reader"));
    QCOMPARE(shown.value("reader").toString(), QString("alice"));
    const testproc::Run denied = runCli(where, "bob", { "db", "reference-rule", "set", "latest" });
    QCOMPARE(denied.code, 1);
    QVERIFY2(denied.err.contains("only a coordinator or an admin"), qPrintable(testproc::show(denied)));
    const testproc::Run bad = runCli(where, "coord", { "db", "reference-rule", "set", "newest" });
    QCOMPARE(bad.code, 2);
    QVERIFY(bad.err.contains("unknown reference-mask rule 'newest'"));
    const testproc::Run set = runCli(where, "coord", { "db", "reference-rule", "set", "reader", "bob" });
    QVERIFY2(set.code == 0, qPrintable(testproc::show(set)));
    QVERIFY(set.out.contains("reference mask: reader bob (database-wide, set by coord"));
    const testproc::Run volumes = runCli(where, "coord", { "volumes" });
    QVERIFY2(volumes.code == 0, qPrintable(testproc::show(volumes)));
    QVERIFY2(volumes.out.contains("reference mask: reader bob"), qPrintable(volumes.out));
    QVERIFY(volumes.out.contains(QString("%1*").arg(bob)));
    QVERIFY2(volumes.out.contains(QString("series %1: no reference mask: no approved version by bob").arg(s2)),
             qPrintable(volumes.out));
    const testproc::Run studyShow =
      runCli(where, "coord", { "db", "reference-rule", "show", "--study", QString::number(study) });
    QVERIFY(studyShow.out.contains("consensus (reader study 'rule study'"));
    // The study report names the rule and each case's reference mask.
    const QString html = t.path() + "/report.html";
    const testproc::Run rep = runCli(where, "coord", { "report", "--study", QString::number(study), "--out", html });
    QVERIFY2(rep.code == 0, qPrintable(testproc::show(rep)));
    QFile f(html);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QString page = QString::fromUtf8(f.readAll());
    QVERIFY(page.contains("Reference masks"));
    QVERIFY2(page.contains("Rule: consensus (reader study"), qPrintable(page.left(3000)));
    QVERIFY(page.contains("newest approved consensus"));
    QVERIFY(page.contains("no approved consensus version (1 other approved version)"));
    if (!qEnvironmentVariableIsEmpty("PANSEG_SCREENSHOT_DIR"))
    {
      const QString pdf = qEnvironmentVariable("PANSEG_SCREENSHOT_DIR") + "/study-report-reference.pdf";
      runCli(where, "coord", { "report", "--study", QString::number(study), "--out", pdf });
    }
#endif
  }

  void serverHidesTheChecksOfHiddenMasksAndRulesFromReaders()
  {
    if (!test::onPostgres())
      QSKIP("row-level security: the PostgreSQL run (tst_plausibility_db_pg)");
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase coord(where.createFor(t.path() + "/db", "coord"), where.options("coord"));
    where.addUser(coord, "alice", Role::Reader);
    where.addUser(coord, "bob", Role::Reader);
    const Geometry g = abdomen();
    const int64_t series = dbtest::addSyntheticSeries(coord, g, "rls");
    ModelVersion mv;
    mv.modelId = "rls";
    mv.version = "1";
    MaskProvenance ai;
    ai.source = MaskSource::AI;
    ai.modelVersionId = coord.registerModelVersion(mv);
    coord.saveMaskVersion(series, gland(g, 3, 2, 2.6), ai);
    // A from-scratch study: its readers may not see the AI mask, nor therefore its check.
    ReaderStudy rs(coord);
    NewReaderStudy ns;
    ns.name = "blind";
    ns.readers = { "alice", "bob" };
    ns.seriesIds = { series };
    rs.createStudy(ns);
    auto psql = [&](const char* user, const QString& sql, QString* out) {
      QString err;
      const int rc = where.pg()->psql(user, QString(user) + "-password", where.databaseName(), sql, out, &err);
      if (rc != 0)
        *out = "refused: " + err.trimmed();
    };
    QString out;
    psql("coord", "SELECT count(*) FROM mask_plausibility", &out);
    QCOMPARE(out.trimmed(), QString("1"));
    psql("alice", "SELECT count(*) FROM mask_plausibility", &out);
    QCOMPARE(out.trimmed(), QString("0"));
    psql("alice",
         "INSERT INTO reference_mask_rules (scope, rule, set_by, set_at) SELECT 'database', 'latest', id, 'x' FROM users"
         " WHERE username = 'alice'",
         &out);
    QVERIFY2(out.contains("row-level security"), qPrintable(out));
    psql("coord", "UPDATE mask_plausibility SET flagged = 0", &out);
    QVERIFY2(out.contains("immutable"), qPrintable(out));
    // Through PanSeg the reader gets the same answer: the version is not visible at all.
    StudyDatabase alice(where.location("alice"), where.options("alice"));
    QVERIFY(alice.masksOf(series).empty());
  }

  void olderDatabasesKeepTheDefault()
  {
    QTemporaryDir t;
    if (test::onPostgres())
      QSKIP("schema versions below the latest are a local-mode test (server init applies all)");
    StudyDatabase::OpenOptions o;
    o.username = "coord";
    o.maxSchemaVersion = 6;
    StudyDatabase db(t.path().toStdString() + "/db", o);
    QCOMPARE(db.schemaVersion(), 6);
    QVERIFY(referenceRule(db).isDefault);
    QVERIFY(errorOf([&] { setReferenceRule(db, ReferenceRuleKind::Consensus); }).contains("need version 7"));
    const Geometry g = dbtest::grid(8, 8, 4);
    const int64_t series = dbtest::addSyntheticSeries(db, g, "old");
    ModelVersion mv;
    mv.modelId = "m";
    mv.version = "1";
    MaskProvenance ai;
    ai.source = MaskSource::AI;
    ai.modelVersionId = db.registerModelVersion(mv);
    const int64_t v = db.saveMaskVersion(series, dbtest::randomMask(g, 5), ai);
    QVERIFY(!db.maskVersion(v)->plausibility.checked); // no table yet: checked on demand
    QVERIFY(plausibilityOf(db, v).checked);
  }
};

QTEST_GUILESS_MAIN(TestPlausibilityDb)
#include "tst_plausibility_db.moc"
