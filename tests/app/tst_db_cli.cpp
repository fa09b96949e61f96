// The study database through the real `panseg` executable, as the users of issue 21 and 15 would
// run it: a blinded reader walking every subcommand, two imports of one folder at once, the
// audit log's hash chain against raw-SQL tampering, user administration, and the migration that
// removes masks a concurrent import added twice.
#include "../ProcessRun.h"

#include "core/io/ImageIO.h"
#include "database/Importer.h"
#include "database/registry/ModelRegistry.h"
#include "database/studies/ReaderStudy.h"
#include "database/Schema.h"
#include "database/StudyDatabase.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QProcessEnvironment>
#include <QRegularExpression>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QUuid>
#include <QtTest>

#include <filesystem>
#include <random>

using namespace panseg;
using namespace panseg::db;
using testproc::Run;
using testproc::show;

namespace
{
Run runPanseg(const QStringList& args, const QString& user = {}, int timeoutMs = 120000)
{
  QProcess p;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.remove("PANSEG_USER");
  if (!user.isEmpty())
    env.insert("PANSEG_USER", user);
  env.insert("QT_QPA_PLATFORM", "offscreen");
  p.setProcessEnvironment(env);
  p.start(PANSEG_EXE, args);
  Run r;
  if (!p.waitForFinished(timeoutMs))
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
}

StudyDatabase::OpenOptions as(const std::string& user)
{
  StudyDatabase::OpenOptions o;
  o.username = user;
  return o;
}

Geometry grid(int nx, int ny, int nz)
{
  Geometry g;
  g.size = { nx, ny, nz };
  g.spacingMm = { 1.25, 1.25, 2.5 };
  g.originMm = { -20.0, 10.0, 5.0 };
  return g;
}

/// A CT-like noise image (many distinct values, so the importer never takes it for a mask).
Image noiseImage(const Geometry& g, unsigned seed)
{
  Image img(g);
  std::mt19937 rng(seed);
  std::normal_distribution<float> hu(40.0f, 200.0f);
  for (float& v : img.voxels)
    v = hu(rng);
  return img;
}

/// A box of label 1 offset by `shift` voxels: reads that overlap but differ.
LabelMask boxMask(const Geometry& g, int shift, int size = 6)
{
  LabelMask m(g);
  for (int z = 1; z < g.size[2] - 1; ++z)
    for (int y = 3 + shift; y < 3 + shift + size; ++y)
      for (int x = 3; x < 3 + size + shift; ++x)
        m.voxels[size_t((int64_t(z) * g.size[1] + y) * g.size[0] + x)] = 1;
  return m;
}

/// A raw second connection to the SQLite file: what someone with write access can do.
class RawSql
{
public:
  explicit RawSql(const QString& dir) : m_name("raw-" + QUuid::createUuid().toString(QUuid::Id128))
  {
    QSqlDatabase db = QSqlDatabase::addDatabase("QSQLITE", m_name);
    db.setDatabaseName(dir + "/panseg.sqlite");
    db.open();
  }
  ~RawSql()
  {
    QSqlDatabase::database(m_name).close();
    QSqlDatabase::removeDatabase(m_name);
  }
  QString exec(const QString& sql) const
  {
    QSqlQuery q(QSqlDatabase::database(m_name));
    return q.exec(sql) ? QString() : q.lastError().text();
  }
  QVariant scalar(const QString& sql) const
  {
    QSqlQuery q(QSqlDatabase::database(m_name));
    if (!q.exec(sql) || !q.next())
      return {};
    return q.value(0);
  }

private:
  QString m_name;
};

/// Ten image + mask pairs ("caseN.nii.gz" + "caseN_seg.nii.gz") in `dir`.
void writePairs(const QString& dir, int n)
{
  QDir().mkpath(dir);
  for (int i = 0; i < n; ++i)
  {
    const Geometry g = grid(24, 20, 8);
    writeImage(noiseImage(g, unsigned(100 + i)), (dir + QString("/case%1.nii.gz").arg(i)).toStdString());
    writeMask(boxMask(g, i % 5, 4 + i % 4), (dir + QString("/case%1_seg.nii.gz").arg(i)).toStdString());
  }
}
} // namespace

class TstDbCli : public QObject
{
  Q_OBJECT

  /// An open inter-observer study that starts from scratch, on a series with an AI mask; alice
  /// and carol have submitted, the coordinator approved alice's read with a comment and built a
  /// STAPLE consensus. Everything of those is what bob must not learn.
  struct Scene
  {
    QString dir, imageDir, alicePackage;
    int64_t series = 0, otherSeries = 0;
    int64_t aiMask = 0, aliceMask = 0, carolMask = 0, consensusMask = 0;
    int64_t aliceRead = 0, bobRead = 0;
    QStringList secrets;          // strings that must not appear in bob's output
    QList<int64_t> hiddenIds;     // mask version ids bob must not see
  };

  static void buildScene(Scene& s, const QString& root)
  {
    s.dir = root + "/db";
    s.imageDir = root + "/images";
    QDir().mkpath(s.imageDir);
    const Geometry g = grid(24, 20, 8);
    writeImage(noiseImage(g, 1), (s.imageDir + "/study_case.nii.gz").toStdString());
    writeImage(noiseImage(g, 2), (s.imageDir + "/other_case.nii.gz").toStdString());
    {
      StudyDatabase admin(s.dir.toStdString(), as("admin")); // the first user: admin
      const ImportReport r = importPaths(admin, { s.imageDir.toStdString() });
      QCOMPARE(int(r.importedSeries.size()), 2);
      for (const auto& rec : admin.listSeries())
        (rec.sourcePath.find("study_case") != std::string::npos ? s.series : s.otherSeries) = rec.id;
      // Push mask ids away from the user and series ids, so that an id in the output means it.
      for (int i = 0; i < 30; ++i)
      {
        MaskProvenance p;
        p.source = MaskSource::Reader;
        admin.saveMaskVersion(s.otherSeries, boxMask(g, i % 3), p);
      }
      ModelVersion mv;
      mv.modelId = "test-model";
      mv.version = "1";
      const int64_t model = admin.registerModelVersion(mv);
      MaskProvenance ai;
      ai.source = MaskSource::AI;
      ai.modelVersionId = model;
      s.aiMask = admin.saveMaskVersion(s.series, boxMask(g, 2, 7), ai);
      admin.addUser("coord", Role::Coordinator);
      admin.addUser("alice", Role::Reader);
      admin.addUser("bob", Role::Reader);
      admin.addUser("carol", Role::Reader);
    }
    int64_t studyId = 0;
    {
      StudyDatabase coord(s.dir.toStdString(), as("coord"));
      NewReaderStudy st;
      st.name = "blind";
      st.design = StudyDesign::InterObserver;
      st.startFrom = StartFrom::Scratch;
      st.readers = { "alice", "bob", "carol" };
      st.seriesIds = { s.series };
      studyId = ReaderStudy(coord).createStudy(st);
    }
    for (const std::string reader : { "alice", "carol" })
    {
      StudyDatabase db(s.dir.toStdString(), as(reader));
      ReaderStudy rs(db);
      const ReadRecord r = *rs.worklist(studyId).next;
      const int64_t mask = rs.submitRead(rs.startRead(r.id).id, boxMask(g, reader == "alice" ? 1 : 0, 5),
                                         reader == "alice" ? "alice-note-7f3e" : "");
      (reader == "alice" ? s.aliceMask : s.carolMask) = mask;
      if (reader == "alice")
        s.aliceRead = r.id;
    }
    {
      StudyDatabase coord(s.dir.toStdString(), as("coord"));
      ReaderStudy rs(coord);
      rs.approveRead(s.aliceRead, "alice-comment-91c2");
      const ConsensusResult c = rs.buildConsensusWithDetails(studyId, s.series, ConsensusMethod::Staple);
      s.consensusMask = c.maskVersionId;
      for (const auto& in : c.inputs)
        for (double v : { in.sensitivity, in.specificity })
        {
          const QString text = QString::number(v, 'f', 4);
          if (text != "1.0000" && text != "0.0000")
            s.secrets << text;
        }
      for (const ReadRecord& r : rs.reads(studyId))
        if (r.readerName == "bob")
          s.bobRead = r.id;
      for (int64_t id : { s.aiMask, s.aliceMask, s.carolMask, s.consensusMask })
      {
        const MaskVersion m = *coord.maskVersion(id);
        s.secrets << QString::fromStdString(m.sha256) << QString::fromStdString(m.sha256.substr(0, 12))
                  << QString::fromStdString(std::filesystem::path(m.filePath).filename().string())
                  << QString::number(m.volumeMl, 'f', 3) << QString::number(m.volumeMl, 'f', 2) + " ";
        s.hiddenIds << id;
      }
      s.secrets << "alice-comment-91c2" << "alice-note-7f3e";
    }
  }

  /// Everything of the hidden reads that appears in `text` (allowing an id bob typed himself in
  /// the refusal that names it).
  static QStringList leaks(const Scene& s, QString text)
  {
    QStringList found;
    for (const QString& secret : s.secrets)
      if (text.contains(secret))
        found << secret;
    for (int64_t id : s.hiddenIds)
    {
      const QString n = QString::number(id);
      text.remove(QRegularExpression("mask version " + n + " not found or not visible to bob"));
      text.remove(QRegularExpression("blinded: mask version " + n + " (belongs to another reader|is hidden from the readers)"));
      text.remove(QRegularExpression("--mask-version " + n + "\\b"));
      const QRegularExpression mention("(mask version|mask|version|\"id\":|\"latest_mask\":|\"record\":|"
                                       "\"mask_version\":|\"mask_version_id\":|\"kept\":)\\s*" + n + "\\b");
      if (mention.match(text).hasMatch())
        found << "mask version id " + n + " (" + mention.match(text).captured(0) + ")";
    }
    for (const char* state : { "approved", "submitted" })
      if (text.contains(QString("from ") + state) || text.contains(QString("is ") + state) ||
          text.contains(QString("\"state\": \"") + state))
        found << QString("state ") + state;
    return found;
  }

private slots:
  void blindedReaderWalksEverySubcommand()
  {
    QTemporaryDir tmp;
    Scene s;
    buildScene(s, tmp.path());
    if (QTest::currentTestFailed())
      return;
    const QString db = s.dir, out = tmp.path() + "/out";
    QDir().mkpath(out);
    const QString series = QString::number(s.series), alice = QString::number(s.aliceMask),
                  ai = QString::number(s.aiMask), consensus = QString::number(s.consensusMask);

    // The scene is real: the admin sees what bob must not.
    {
      const Run r = runPanseg({ "db", "masks", series, "--db", db, "--user", "admin" });
      QVERIFY2(r.code == 0, qPrintable(show(r)));
      QVERIFY2(!leaks(s, r.out).isEmpty(), qPrintable(r.out));
      const Run audit = runPanseg({ "db", "audit", "--db", db, "--limit", "0" }, "admin");
      QVERIFY2(audit.out.contains("alice-comment-91c2"), qPrintable(audit.out));
    }

    struct Step
    {
      QStringList args;
      int expect; // -1: any exit code (only the output is checked)
      QString mustSay; // part of the expected output or refusal
    };
    const QList<Step> steps = {
      { { "--help" }, 0, "verify-audit" },
      { { "db", "list", "--db", db }, 0, "series" },
      { { "db", "list", "--db", db, "--json" }, 0, "\"series\"" },
      { { "db", "masks", series, "--db", db }, 0, "0 mask versions" },
      { { "db", "masks", series, "--db", db, "--json" }, 0, "\"masks\"" },
      { { "db", "check", "--db", db }, 0, "integrity" },
      { { "db", "check", "--db", db, "--json" }, 0, "integrity" },
      { { "db", "audit", "--db", db, "--limit", "0" }, 0, "only your own entries" },
      { { "db", "audit", "--db", db, "--limit", "0", "--json" }, 0, "only_own_entries" },
      { { "db", "verify-audit", "--db", db }, 0, "ok:" },
      { { "db", "verify-audit", "--db", db, "--json" }, 0, "\"ok\": true" },
      { { "db", "models", "--db", db }, 0, "test-model" },
      { { "db", "user", "list", "--db", db }, 0, "alice" },
      { { "db", "user", "add", "mallory", "--role", "admin", "--db", db }, 1, "only an admin" },
      { { "db", "set-state", alice, "approved", "--db", db }, 1, "not found or not visible to bob" },
      { { "db", "set-state", alice, "rejected", "--db", db }, 1, "not found or not visible to bob" },
      { { "db", "set-state", alice, "draft", "--db", db }, 1, "not found or not visible to bob" },
      { { "db", "set-state", ai, "approved", "--db", db }, 1, "not found or not visible to bob" },
      { { "db", "set-state", consensus, "approved", "--db", db }, 1, "not found or not visible to bob" },
      { { "db", "set-state", "999999", "approved", "--db", db }, 1, "not found or not visible to bob" },
      { { "db", "register-model", tmp.path() + "/no-such-package", "--db", db }, 1, "" },
      { { "import", tmp.path() + "/no-such-folder", "--db", db }, 1, "" },
      { { "volumes", "--db", db }, -1, "" },
      { { "volumes", "--db", db, "--out", out + "/volumes.csv" }, -1, "" },
      { { "export", "--db", db, "--mask-version", alice, "--out", out + "/alice.nii.gz" }, 1, "blinded" },
      { { "export", "--db", db, "--mask-version", ai, "--out", out + "/ai.nii.gz" }, 1, "blinded" },
      { { "export", "--db", db, "--mask-version", consensus, "--out", out + "/c.nii.gz" }, 1, "blinded" },
      { { "export", "--db", db, "--series", series, "--out", out + "/image.nii.gz" }, 0, "wrote" },
      { { "export-nnunet", "--db", db, "--out", out + "/nnunet", "--include-unapproved" }, -1, "" },
      { { "export-seg", "--db", db, "--mask-version", alice, "--out", out + "/alice.dcm" }, 1, "blinded" },
      { { "predict", "--series", series, "--db", db }, 1, "blinds you" },
      { { "study", "list", "--db", db }, 0, "blind" },
      { { "study", "show", "blind", "--db", db }, 1, "coordinator" },
      { { "study", "worklist", "blind", "--db", db }, 0, "" },
      { { "study", "worklist", "blind", "--reader", "alice", "--db", db }, 1, "coordinator" },
      { { "study", "read", QString::number(s.aliceRead), "--db", db }, 1, "" },
      { { "study", "submit", QString::number(s.aliceRead), out + "/image.nii.gz", "--db", db }, 1, "" },
      { { "study", "approve", QString::number(s.aliceRead), "--db", db }, 1, "coordinator" },
      { { "study", "return", QString::number(s.aliceRead), "--comment", "x", "--db", db }, 1, "coordinator" },
      { { "study", "consensus", "blind", series, "--method", "staple", "--db", db }, 1, "coordinator" },
      { { "study", "rate", "blind", series, "accept", "--db", db }, 1, "" },
      { { "study", "close", "blind", "--db", db }, 1, "coordinator" },
      { { "report", "--study", "blind", "--out", out + "/report.csv", "--db", db }, 1, "coordinator" },
      { { "jobs", "--db", db }, 0, "" },
      { { "jobs", "--db", db, "--json" }, 0, "" },
      { { "model", "default", "CT", "--db", db }, 0, "" },
      { { "model", "promote", "1", "--modality", "CT", "--db", db }, 1, "only a coordinator or an admin" },
      { { "demo", "--out", out + "/demo", "--seed", "2" }, -1, "" },
      { { "import-seg", out + "/none.dcm", "--out", out + "/none.nii.gz" }, -1, "" },
      { { "deidentify", out + "/none", "--out", out + "/deid", "--salt", "s" }, -1, "" },
      { { "train", "--resume-job", "1", "--db", db }, -1, "" },
      { { "train", "--db", db, "--out", out + "/model", "--epochs", "1" }, -1, "" },
      { { "info", out + "/image.nii.gz" }, 0, "" },
      { { "volume", out + "/image.nii.gz" }, -1, "" },
      { { "agreement", out + "/image.nii.gz", out + "/image.nii.gz" }, -1, "" },
    };
    std::vector<MaskState> statesBefore;
    {
      StudyDatabase admin(db.toStdString(), as("admin"));
      for (int64_t id : s.hiddenIds)
        statesBefore.push_back(admin.maskVersion(id)->state);
    }
    int n = 0;
    for (const Step& st : steps)
      for (int mode = 0; mode < 2; ++mode) // --user bob, then PANSEG_USER=bob
      {
        QStringList args = st.args;
        const bool opensDb = args.contains("--db");
        if (mode == 0 && opensDb)
          args << "--user" << "bob";
        const Run r = runPanseg(args, mode == 1 || !opensDb ? "bob" : "admin");
        const QString all = r.out + "\n" + r.err;
        const QString what = args.join(' ') + (mode ? " [PANSEG_USER=bob]" : "") + "\n" + show(r);
        QVERIFY2(r.code >= 0, qPrintable(what));
        if (st.expect >= 0)
          QVERIFY2(r.code == st.expect, qPrintable(what));
        if (!st.mustSay.isEmpty())
          QVERIFY2(all.contains(st.mustSay), qPrintable(what));
        const QStringList found = leaks(s, all);
        QVERIFY2(found.isEmpty(), qPrintable("leaked " + found.join(", ") + " by " + what));
        ++n;
      }
    // Files bob wrote: the volume table and the nnU-Net export hold nothing of the hidden masks.
    for (const QString& f : { out + "/volumes.csv", out + "/nnunet/dataset.json" })
      if (QFile::exists(f))
      {
        QFile file(f);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QStringList found = leaks(s, QString::fromUtf8(file.readAll()));
        QVERIFY2(found.isEmpty(), qPrintable(f + " leaks " + found.join(", ")));
      }
    QVERIFY(!QFile::exists(out + "/alice.nii.gz") && !QFile::exists(out + "/alice.dcm"));
    // Nothing bob tried changed a hidden mask's state.
    StudyDatabase admin(db.toStdString(), as("admin"));
    for (int i = 0; i < s.hiddenIds.size(); ++i)
      QCOMPARE(admin.maskVersion(s.hiddenIds[i])->state, statesBefore[i]);
    QVERIFY(n >= 100);
    // Commands that open no database refuse --user instead of ignoring it.
    const Run info = runPanseg({ "info", out + "/image.nii.gz", "--user", "bob" });
    QCOMPARE(info.code, 2);
    QVERIFY2(info.err.contains("opens no study database"), qPrintable(show(info)));
    const Run predictFile = runPanseg({ "predict", "--input", out + "/image.nii.gz", "--output", out + "/p.nii.gz",
                                     "--user", "bob" });
    QCOMPARE(predictFile.code, 2);
  }

  void concurrentImportsAddEveryMaskOnce()
  {
    QTemporaryDir tmp;
    const QString data = tmp.path() + "/pairs";
    writePairs(data, 10);
    // Sequential reference: 10 series, 10 masks; importing again adds nothing.
    {
      const QString db = tmp.path() + "/sequential";
      Run r = runPanseg({ "import", data, "--db", db });
      QVERIFY2(r.code == 0, qPrintable(show(r)));
      r = runPanseg({ "import", data, "--db", db });
      QVERIFY2(r.code == 0, qPrintable(show(r)));
      StudyDatabase check(db.toStdString(), as("admin"));
      int masks = 0;
      for (const auto& s : check.listSeries())
        masks += int(check.masksOf(s.id).size());
      QCOMPARE(int(check.listSeries().size()), 10);
      QCOMPARE(masks, 10);
    }
    for (int round = 0; round < 4; ++round)
    {
      const QString db = tmp.path() + QString("/concurrent%1").arg(round);
      QProcess a, b;
      a.start(PANSEG_EXE, { "import", data, "--db", db });
      b.start(PANSEG_EXE, { "import", data, "--db", db });
      QVERIFY(a.waitForFinished(120000) && b.waitForFinished(120000));
      QVERIFY2(a.exitCode() == 0, qPrintable(QString::fromUtf8(a.readAllStandardError())));
      QVERIFY2(b.exitCode() == 0, qPrintable(QString::fromUtf8(b.readAllStandardError())));
      StudyDatabase check(db.toStdString(), as("admin"));
      int masks = 0;
      for (const auto& s : check.listSeries())
        masks += int(check.masksOf(s.id).size());
      QCOMPARE(int(check.listSeries().size()), 10);
      QCOMPARE(masks, 10);
      QCOMPARE(check.verifyAuditChain().ok, true);
    }
  }

  void verifyAuditNamesTheTamperedEntry()
  {
    QTemporaryDir tmp;
    const QString db = tmp.path() + "/db";
    writePairs(tmp.path() + "/pairs", 2);
    Run r = runPanseg({ "import", tmp.path() + "/pairs", "--db", db }, "admin");
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    r = runPanseg({ "db", "verify-audit", "--db", db, "--json" }, "admin");
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    const QJsonObject ok = QJsonDocument::fromJson(r.out.toUtf8()).object();
    QCOMPARE(ok["ok"].toBool(), true);
    const int entries = ok["entries"].toInt();
    QVERIFY(entries >= 6);
    RawSql raw(db);
    // The trigger still refuses; someone with write access drops it and edits one entry.
    QVERIFY(!raw.exec("UPDATE audit_log SET actor = 'mallory' WHERE id = 3").isEmpty());
    QCOMPARE(raw.exec("DROP TRIGGER audit_log_no_update"), QString());
    QCOMPARE(raw.exec("UPDATE audit_log SET details = '{\"forged\":1}' WHERE id = 3"), QString());
    r = runPanseg({ "db", "verify-audit", "--db", db }, "admin");
    QCOMPARE(r.code, 1);
    QVERIFY2(r.out.contains("BROKEN at entry 3") && r.err.contains("content altered"), qPrintable(show(r)));
    r = runPanseg({ "db", "verify-audit", "--db", db, "--json" }, "admin");
    QCOMPARE(r.code, 1);
    QCOMPARE(QJsonDocument::fromJson(r.out.toUtf8()).object()["broken_entry"].toInt(), 3);

    // Removing the edited entry outright: the gap is named.
    QCOMPARE(raw.exec("DROP TRIGGER audit_log_no_delete"), QString());
    QCOMPARE(raw.exec("DELETE FROM audit_log WHERE id = 3"), QString());
    r = runPanseg({ "db", "verify-audit", "--db", db }, "admin");
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("entry missing") && r.err.contains("between entry 2 and entry 4"), qPrintable(show(r)));

    // Swapping two entries' link hashes: the link is broken (not a gap in the sequence).
    QCOMPARE(raw.exec("UPDATE audit_log SET prev_hash = (SELECT entry_hash FROM audit_log WHERE id = 1), seq = 3"
                      " WHERE id = 4"),
             QString());
    r = runPanseg({ "db", "verify-audit", "--db", db }, "admin");
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("entry 4"), qPrintable(show(r)));
  }

  void auditChainSurvivesMigrationOfAnOldDatabase()
  {
    QTemporaryDir tmp;
    const std::string dir = (tmp.path() + "/db").toStdString();
    {
      StudyDatabase::OpenOptions o = as("admin");
      o.maxSchemaVersion = 4;
      StudyDatabase old(dir, o);
      QCOMPARE(old.schemaVersion(), 4);
      old.addUser("alice", Role::Reader);
      old.addUser("bob", Role::Reader);
      QCOMPARE(old.verifyAuditChain().ok, false); // not chained below schema 5
    }
    StudyDatabase now(dir, as("admin"));
    QCOMPARE(now.schemaVersion(), latestSchemaVersion());
    const AuditChainReport r = now.verifyAuditChain();
    QVERIFY2(r.ok, r.problem.c_str());
    QCOMPARE(r.entries, int64_t(now.auditLog().size()));
    QCOMPARE(r.headSeq, r.entries);
    // The triggers are back after the migration.
    RawSql raw(tmp.path() + "/db");
    QVERIFY(raw.exec("UPDATE audit_log SET actor = 'x'").contains("append-only"));
    QVERIFY(raw.exec("DELETE FROM audit_log").contains("append-only"));
  }

  void migrationRemovesSafeImportTwinsAndRefusesReferencedOnes()
  {
    QTemporaryDir tmp;
    const QString folder = tmp.path() + "/db";
    writePairs(tmp.path() + "/pairs", 2);
    int64_t first = 0, series = 0;
    {
      StudyDatabase::OpenOptions o = as("admin");
      o.maxSchemaVersion = 5;
      StudyDatabase old(folder.toStdString(), o);
      const ImportReport r = importPaths(old, { (tmp.path() + "/pairs").toStdString() });
      QCOMPARE(int(r.importedMasks.size()), 2);
      first = r.importedMasks.front();
      series = old.maskVersion(first)->seriesId;
    }
    // What a concurrent import used to leave: a second row with the same content (own file).
    RawSql raw(folder);
    auto addTwin = [&](const QString& suffix) {
      const QString rel = raw.scalar(QString("SELECT file_path FROM mask_versions WHERE id = %1").arg(first)).toString();
      const QString twinRel = rel.left(rel.size() - 7) + suffix + ".nii.gz";
      QFile::copy(folder + "/" + rel, folder + "/" + twinRel);
      const QString err = raw.exec(
        QString("INSERT INTO mask_versions (series_id, parent_id, author_user_id, model_version_id, source, state,"
                " created_at, state_changed_at, file_path, sha256, content_hash, voxel_count, volume_ml, label_volumes,"
                " note, imported_from) SELECT series_id, parent_id, author_user_id, model_version_id, source, state,"
                " created_at, state_changed_at, '%1', sha256, content_hash, voxel_count, volume_ml, label_volumes, note,"
                " imported_from FROM mask_versions WHERE id = %2")
          .arg(twinRel)
          .arg(first));
      return err.isEmpty() ? raw.scalar("SELECT MAX(id) FROM mask_versions").toLongLong() : -1;
    };
    const qint64 twin = addTwin("-twin");
    QVERIFY(twin > 0);
    // A twin that another mask derives from cannot go: the migration refuses and changes nothing.
    const qint64 referenced = addTwin("-twin2");
    QVERIFY(referenced > 0);
    QVERIFY(raw.exec(QString("INSERT INTO mask_versions (series_id, parent_id, author_user_id, source, state, created_at,"
                             " state_changed_at, file_path, sha256, content_hash, voxel_count, volume_ml)"
                             " VALUES (%1, %2, 1, 'reader', 'draft', 'x', 'x', 'files/masks/child.nii.gz', 'x', 'child',"
                             " 0, 0)")
                       .arg(series)
                       .arg(referenced))
              .isEmpty());
    try
    {
      StudyDatabase refused(folder.toStdString(), as("admin"));
      QFAIL("the migration should have refused");
    }
    catch (const Error& e)
    {
      const QString msg = e.what();
      QVERIFY2(msg.contains(QString("mask version %1").arg(referenced)) && msg.contains("other records refer to it") &&
                 msg.contains("left unchanged"),
               qPrintable(msg));
    }
    QCOMPARE(raw.scalar("SELECT MAX(version) FROM schema_version").toInt(), 5);
    QCOMPARE(raw.scalar("SELECT COUNT(*) FROM mask_versions").toInt(), 5);
    // Without the child, both twins go; their files are swept; the chain records it.
    QCOMPARE(raw.exec("DROP TRIGGER mask_versions_no_delete"), QString());
    QCOMPARE(raw.exec("DELETE FROM mask_versions WHERE content_hash = 'child'"), QString());
    {
      StudyDatabase db(folder.toStdString(), as("admin"));
      QCOMPARE(db.schemaVersion(), latestSchemaVersion());
      QCOMPARE(int(db.masksOf(series).size()), 1);
      QCOMPARE(db.masksOf(series).front().id, first);
      QVERIFY(db.openSweepReport().orphanFilesRemoved >= 2);
      int removed = 0;
      for (const AuditEntry& e : db.auditLog("mask_versions"))
        removed += e.action == "remove-duplicate-mask";
      QCOMPARE(removed, 2);
      QVERIFY2(db.verifyAuditChain().ok, db.verifyAuditChain().problem.c_str());
      QVERIFY(db.verifyFiles().empty());
    }
    // The unique index now refuses a twin outright, and the immutability triggers are back.
    QVERIFY(addTwin("-twin3") < 0);
    QVERIFY(raw.exec(QString("DELETE FROM mask_versions WHERE id = %1").arg(first)).contains("immutable"));
  }

  void userAdministrationIsAdminOnlyAndAudited()
  {
    QTemporaryDir tmp;
    const QString db = tmp.path() + "/db";
    Run r = runPanseg({ "db", "user", "list", "--db", db, "--user", "root-admin" });
    QVERIFY2(r.code == 0 && r.out.contains("root-admin") && r.out.contains("admin"), qPrintable(show(r)));
    r = runPanseg({ "db", "user", "add", "carla", "--role", "reader", "--db", db }, "root-admin");
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    // A reader may not make herself (or anyone) a coordinator.
    r = runPanseg({ "db", "user", "role", "carla", "coordinator", "--db", db, "--user", "carla" });
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("only an admin may change roles (user carla is a reader)"), qPrintable(show(r)));
    r = runPanseg({ "db", "user", "add", "eve", "--role", "admin", "--db", db }, "carla");
    QCOMPARE(r.code, 1);
    r = runPanseg({ "db", "user", "disable", "root-admin", "--db", db }, "carla");
    QCOMPARE(r.code, 1);
    // The admin can.
    r = runPanseg({ "db", "user", "role", "carla", "coordinator", "--db", db, "--user", "root-admin" });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    r = runPanseg({ "db", "user", "add", "dan", "--role", "clinician", "--display-name", "Dr Dan", "--db", db },
               "root-admin");
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    r = runPanseg({ "db", "user", "disable", "dan", "--db", db }, "root-admin");
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    r = runPanseg({ "db", "list", "--db", db, "--user", "dan" });
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("deactivated"), qPrintable(show(r)));
    r = runPanseg({ "db", "user", "disable", "root-admin", "--db", db }, "root-admin");
    QCOMPARE(r.code, 1);
    r = runPanseg({ "db", "user", "role", "carla", "wizard", "--db", db }, "root-admin");
    QCOMPARE(r.code, 2);
    // A mistyped --user is a usage error, not a silent run as the login user.
    r = runPanseg({ "db", "user", "add", "x", "--role", "admin", "--db", db, "--usr", "root-admin" }, "carla");
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains("unknown option --usr"), qPrintable(show(r)));
    r = runPanseg({ "db", "list", "--db", db, "--usr", "carla" });
    QCOMPARE(r.code, 2);
    r = runPanseg({ "db", "user", "list", "--db", db, "--json" }, "root-admin");
    const QJsonArray users = QJsonDocument::fromJson(r.out.toUtf8()).object()["users"].toArray();
    QCOMPARE(users.size(), 3);
    QMap<QString, QJsonObject> byName;
    for (const auto& u : users)
      byName[u.toObject()["username"].toString()] = u.toObject();
    QCOMPARE(byName["carla"]["role"].toString(), QString("coordinator"));
    QCOMPARE(byName["dan"]["role"].toString(), QString("clinician"));
    QCOMPARE(byName["dan"]["display_name"].toString(), QString("Dr Dan"));
    QCOMPARE(byName["dan"]["active"].toBool(), false);
    // Audited, by the admin, in the chain.
    StudyDatabase check(db.toStdString(), as("root-admin"));
    QStringList actions;
    for (const AuditEntry& e : check.auditLog("users"))
      if (e.actor == "root-admin")
        actions << QString::fromStdString(e.action);
    QVERIFY2(actions.contains("set-user-role") && actions.contains("disable-user") && actions.count("add-user") >= 2,
             qPrintable(actions.join(',')));
    QVERIFY(check.verifyAuditChain().ok);
  }
};

QTEST_GUILESS_MAIN(TstDbCli)
#include "tst_db_cli.moc"
