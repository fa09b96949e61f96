// Moving to a server (database/server/DatabaseCopy.h, `panseg db copy`) and the department
// benchmark (`panseg bench db --db URI`), against a real PostgreSQL started by the test.
// A local study database with a finished two-reader study that started from AI masks (approved
// read, consensus, job, model) is copied: the report computed by the coordinator on the server
// equals the local one, every mask loads with the same voxels, counts match, copied users get
// accounts afterwards; a second copy, a copy into a database nobody set up, a copy by someone
// who is not the owner and a copy of a folder with an altered mask file are refused and leave
// nothing behind.
#include "../ErrorOf.h"
#include "../PgTestServer.h"
#include "core/Error.h"
#include "core/demo/PhantomGenerator.h"
#include "core/io/ImageIO.h"
#include "database/ContentHash.h"
#include "database/studies/ReaderStudy.h"
#include "database/StudyDatabase.h"
#include "database/studies/StudyReport.h"
#include "database/server/DatabaseCopy.h"
#include "database/server/ServerAdmin.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <functional>

using namespace panseg;
using namespace panseg::db;

namespace
{
LabelMask shifted(const LabelMask& m, int dx)
{
  LabelMask out(m.geometry, 0);
  for (int64_t z = 0; z < m.nz(); ++z)
    for (int64_t y = 0; y < m.ny(); ++y)
      for (int64_t x = 0; x < m.nx(); ++x)
        if (m.contains(x - dx, y, z))
          out.at(x, y, z) = m.at(x - dx, y, z);
  return out;
}

StudyDatabase::OpenOptions as(const std::string& user)
{
  StudyDatabase::OpenOptions o;
  o.username = user;
  return o;
}
StudyDatabase::OpenOptions pw(const std::string& password)
{
  StudyDatabase::OpenOptions o;
  o.password = password;
  return o;
}
} // namespace

class TstServerCopy : public QObject
{
  Q_OBJECT
  test::PgTestServer m_pg;
  QTemporaryDir m_tmp;
  std::string m_local;
  int64_t m_study = 0;

  std::string uri(const QString& user, const QString& db) const { return m_pg.uri(user, db).toStdString(); }
  QString psqlOwner(const QString& db, const QString& sql)
  {
    QString out, err;
    if (m_pg.psql("copyowner", "owner-password", db, sql, &out, &err) != 0)
      return "error: " + err;
    return out;
  }

private slots:
  void initTestCase()
  {
    QString why;
    if (test::PgTestServer::binDir().isEmpty())
      QSKIP("PostgreSQL is not installed (installer/setup.sh installs the Debian package 'postgresql')");
    QVERIFY2(m_pg.start(&why), qPrintable(why));
    for (const char* db : { "panseg_copy", "panseg_bare", "panseg_cli", "panseg_bench" })
      QVERIFY2(m_pg.createDatabase(db, "copyowner", "owner-password", &why), qPrintable(why));
    for (const char* db : { "panseg_copy", "panseg_cli", "panseg_bench" })
      initServer(uri("copyowner", db), pw("owner-password"));

    // --- the local study database: a finished two-reader study that started from AI masks ----
    m_local = (m_tmp.path() + "/local").toStdString();
    std::vector<LabelMask> truths;
    std::vector<int64_t> seriesIds;
    {
      StudyDatabase coord(m_local, as("coord")); // the first user: admin
      coord.addUser("carol", Role::Coordinator);
    }
    StudyDatabase carol(m_local, as("carol"));
    ModelVersion mv;
    mv.modelId = "panseg-ct";
    mv.version = "2026.1";
    mv.description = "test model";
    const int64_t model = carol.registerModelVersion(mv);
    for (int i = 0; i < 2; ++i)
    {
      demo::PhantomOptions po;
      po.seed = uint32_t(41 + i);
      po.size = { 40, 36, 16 };
      po.spacingMm = { 7.0, 7.0, 10.0 };
      po.noiseScale = 0.2;
      po.threads = 2;
      demo::Phantom ph = demo::generatePhantom(po);
      const std::string path = (m_tmp.path() + QString("/case%1.nii.gz").arg(i)).toStdString();
      writeImage(ph.ct, path);
      StudyDatabase::NewSeries s;
      s.patientKey = "name:case" + std::to_string(i);
      s.patientName = "case" + std::to_string(i);
      s.studyKey = s.patientKey + ":1";
      s.modality = Modality::CT;
      s.center = i == 0 ? "north" : "south";
      s.geometry = ph.ct.geometry;
      s.format = "NIfTI";
      s.sourcePath = path;
      s.contentHash = imageContentHash(readImage(path));
      seriesIds.push_back(carol.addSeries(s).id);
      truths.push_back(ph.pancreas);
      MaskProvenance ai;
      ai.source = MaskSource::AI;
      ai.modelVersionId = model;
      ai.state = MaskState::Submitted;
      // A named, recoloured label table (issue 20), which the reads starting from it inherit.
      LabelTable named = LabelTable::defaults();
      LabelInfo pancreas = named.label(1);
      pancreas.name = "Pancreas (copy test)";
      pancreas.color = { 10, 120, 250 };
      named.set(pancreas);
      ai.labelTable = named;
      const int64_t aiMask = carol.saveMaskVersion(seriesIds.back(), shifted(ph.pancreas, 1), ai);
      Job job;
      job.kind = "inference";
      job.seriesId = seriesIds.back();
      job.modelVersionId = model;
      const int64_t jobId = carol.createJob(job);
      carol.updateJob(jobId, JobState::Succeeded, 1.0, "done", aiMask);
    }
    NewReaderStudy ns;
    ns.name = "copy-inter";
    ns.readers = { "alice", "bob" };
    ns.seriesIds = seriesIds;
    ns.startFrom = StartFrom::Ai;
    ns.seed = 3;
    m_study = ReaderStudy(carol).createStudy(ns);
    for (const auto& [reader, dx] : { std::pair<std::string, int>{ "alice", 0 }, { "bob", 2 } })
    {
      StudyDatabase db(m_local, as(reader));
      ReaderStudy rs(db);
      for (const ReadRecord& r : rs.worklist(m_study).reads)
      {
        rs.startRead(r.id);
        const size_t idx = size_t(std::find(seriesIds.begin(), seriesIds.end(), r.seriesId) - seriesIds.begin());
        rs.submitRead(r.id, shifted(truths[idx], dx));
      }
    }
    ReaderStudy coordinator(carol);
    coordinator.approveRead(coordinator.reads(m_study).front().id, "fine");
    coordinator.buildConsensus(m_study, seriesIds.front());
    coordinator.closeStudy(m_study);
  }

  void refusedCopiesLeaveNothing()
  {
    // A target nobody set up: refused, and the copy does not set it up either.
    QVERIFY2(errorOf([&] { copyDatabaseToServer(m_local, uri("copyowner", "panseg_bare"), pw("owner-password")); })
               .contains("its owner runs: panseg server init"),
             "a target that is not set up");
    QCOMPARE(psqlOwner("panseg_bare", "SELECT to_regclass('public.schema_version') IS NULL"), QString("t"));

    // A folder whose mask file was altered: refused, nothing written (not even the users).
    const std::string tampered = (m_tmp.path() + "/tampered").toStdString();
    std::filesystem::copy(m_local, tampered, std::filesystem::copy_options::recursive);
    {
      StudyDatabase t(tampered, as("carol"));
      const std::string file = t.absolutePath(t.masksOf(t.listSeries().back().id).back().filePath);
      QFile f(QString::fromStdString(file));
      QVERIFY(f.open(QIODevice::Append));
      f.write("x");
    }
    const QString users = psqlOwner("panseg_copy", "SELECT count(*) FROM users");
    const QString audit = psqlOwner("panseg_copy", "SELECT count(*) FROM audit_log");
    QVERIFY2(errorOf([&] { copyDatabaseToServer(tampered, uri("copyowner", "panseg_copy"), pw("owner-password")); })
               .contains("no longer has the recorded SHA-256"),
             "an altered mask file");
    QCOMPARE(psqlOwner("panseg_copy", "SELECT count(*) FROM series"), QString("0"));
    QCOMPARE(psqlOwner("panseg_copy", "SELECT count(*) FROM users"), users);
    QCOMPARE(psqlOwner("panseg_copy", "SELECT count(*) FROM audit_log"), audit);

    // Not a data folder, not a URI.
    QVERIFY(errorOf([&] { copyDatabaseToServer((m_tmp.path() + "/nothing").toStdString(), uri("copyowner", "panseg_copy"),
                                               pw("owner-password")); })
              .contains("no such folder"));
    QVERIFY(errorOf([&] { copyDatabaseToServer(m_local, m_local); }).contains("needs a PostgreSQL URI"));
  }

  void copyKeepsTheStudy()
  {
    const std::string target = uri("copyowner", "panseg_copy");
    StudyDatabase before(m_local, as("carol"));
    const size_t localAudit = before.auditLog().size();
    const size_t localUsers = before.users().size();

    const DatabaseCopyReport r = copyDatabaseToServer(m_local, target, pw("owner-password"));
    QCOMPARE(r.rows.at("series"), 2LL);
    QCOMPARE(r.rows.at("mask_versions"), 2LL + 4LL + 1LL); // AI, reads, consensus
    QCOMPARE(r.masksVerified, 7);
    QCOMPARE(r.rows.at("reader_study_reads"), 4LL);
    QCOMPARE(r.rows.at("jobs"), 2LL);
    QCOMPARE(r.rows.at("model_versions"), 1LL);
    QCOMPARE(r.rows.at("audit_log"), (long long)localAudit);
    QCOMPARE(r.usersCreated.size(), localUsers); // coord, carol, alice, bob: no login yet
    QVERIFY(r.maskBytes > 0);
    // The source is untouched.
    QCOMPARE(before.auditLog().size(), localAudit);
    QCOMPARE(before.users().size(), localUsers);

    // Counts as the owner sees them, against the local database.
    const std::vector<std::pair<QString, long long>> counts = {
      { "series", 2 }, { "mask_versions", 7 }, { "mask_blobs", 7 }, { "reader_study_reads", 4 },
      { "reader_study_consensus", 1 }, { "reader_study_cases", 2 }, { "reader_study_readers", 2 }, { "jobs", 2 },
      { "mask_label_tables", 7 },
    };
    for (const auto& [table, n] : counts)
      QCOMPARE(psqlOwner("panseg_copy", "SELECT count(*) FROM " + table), QString::number(n));

    // An admin gives the copied users their accounts; their rows (and ids) stay.
    StudyDatabase owner(target, pw("owner-password"));
    const int64_t carolId = owner.userByName("carol")->id;
    QCOMPARE(serverAddUser(owner, "carol", Role::Coordinator, "carol-password").id, carolId);
    serverAddUser(owner, "alice", Role::Reader, "alice-password");
    QVERIFY(errorOf([&] { serverAddUser(owner, "alice", Role::Reader, "alice-password-2"); }).contains("already exists"));
    QVERIFY(errorOf([&] { serverAddUser(owner, "copyowner", Role::Reader, "owner-password-2"); }).contains("already exists"));

    // The coordinator's report on the server equals the local one.
    StudyDatabase lc(m_local, as("carol"));
    StudyDatabase sc(uri("carol", "panseg_copy"), pw("carol-password"));
    QCOMPARE(sc.currentUser().role, Role::Coordinator);
    const StudyReportData lr = computeStudyReport(lc, m_study);
    const StudyReportData sr = computeStudyReport(sc, m_study);
    QCOMPARE(sr.pairs.size(), lr.pairs.size());
    QVERIFY(!sr.pairs.empty());
    QCOMPARE(sr.readsDone, lr.readsDone);
    for (size_t i = 0; i < lr.pairs.size(); ++i)
    {
      QCOMPARE(sr.pairs[i].comparison, lr.pairs[i].comparison);
      QCOMPARE(sr.pairs[i].readerA, lr.pairs[i].readerA);
      QCOMPARE(sr.pairs[i].metrics.dice, lr.pairs[i].metrics.dice);
      QCOMPARE(sr.pairs[i].metrics.hd95Mm, lr.pairs[i].metrics.hd95Mm);
    }
    QCOMPARE(sr.table3.size(), lr.table3.size());
    for (size_t i = 0; i < lr.table3.size(); ++i)
      QCOMPARE(sr.table3[i].summary.mean, lr.table3[i].summary.mean);

    // Every mask loads with the same voxels; same provenance and label table.
    int compared = 0, named = 0;
    for (const SeriesRecord& s : lc.listSeries())
    {
      const std::vector<MaskVersion> lm = lc.masksOf(s.id), sm = sc.masksOf(s.id);
      QCOMPARE(sm.size(), lm.size());
      for (size_t i = 0; i < lm.size(); ++i)
      {
        QCOMPARE(sm[i].id, lm[i].id);
        QCOMPARE(sm[i].sha256, lm[i].sha256);
        QCOMPARE(sm[i].parentId, lm[i].parentId);
        QVERIFY(sc.loadMask(sm[i].id).voxels == lc.loadMask(lm[i].id).voxels);
        QVERIFY(sc.labelTable(sm[i].id) == lc.labelTable(lm[i].id));
        named += sc.labelTable(sm[i].id).label(1).name == "Pancreas (copy test)";
        ++compared;
      }
    }
    QCOMPARE(compared, 7);
    QCOMPARE(named, 6); // the AI masks and the reads from them; the consensus has the defaults
    QCOMPARE(sc.jobs().size(), lc.jobs().size());
    QCOMPARE(sc.modelVersions().size(), lc.modelVersions().size());
    // The audit log keeps who did what.
    int aliceSubmits = 0;
    for (const AuditEntry& e : sc.auditLog("reader_study_reads"))
      aliceSubmits += e.action == "submit-read" && e.actor == "alice";
    QCOMPARE(aliceSubmits, 2);
    QCOMPARE(psqlOwner("panseg_copy", "SELECT count(*) FROM audit_log WHERE action = 'copy-database'"), QString("1"));
    // The copied entries are part of the server's hash chain.
    const AuditChainReport chain = owner.verifyAuditChain();
    QVERIFY2(chain.ok, chain.problem.c_str());

    // Ids go on after the copied ones.
    int64_t maxMask = 0;
    for (const SeriesRecord& s : sc.listSeries())
      for (const MaskVersion& m : sc.masksOf(s.id))
        maxMask = std::max(maxMask, m.id);
    MaskProvenance p;
    p.source = MaskSource::Reader;
    const int64_t series = sc.listSeries().front().id;
    const int64_t next = sc.saveMaskVersion(series, sc.loadMask(sc.masksOf(series).front().id), p);
    QVERIFY2(next > maxMask, qPrintable(QString("%1 after %2").arg(next).arg(maxMask)));

    // The copied reader signs in and reads her own (closed) study.
    StudyDatabase alice(uri("alice", "panseg_copy"), pw("alice-password"));
    QCOMPARE(ReaderStudy(alice).worklist(m_study).done, 2);

    // A second copy, and a copy by someone who is not the owner, are refused.
    QVERIFY2(errorOf([&] { copyDatabaseToServer(m_local, target, pw("owner-password")); }).contains("already holds data"),
             "a second copy");
    QVERIFY(errorOf([&] { copyDatabaseToServer(m_local, uri("carol", "panseg_copy"), pw("carol-password")); })
              .contains("run by the owner"));
    QCOMPARE(psqlOwner("panseg_copy", "SELECT count(*) FROM series"), QString("2"));
  }

  void commandLine()
  {
#ifndef PANSEG_EXE
    QSKIP("built without the panseg executable");
#else
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("PGPASSWORD", "owner-password");
    env.remove("PANSEG_DB_DIR");
    auto panseg = [&](const QStringList& args, QString* out) {
      QProcess p;
      p.setProcessEnvironment(env);
      p.start(PANSEG_EXE, args);
      p.waitForFinished(300000);
      *out = QString::fromUtf8(p.readAllStandardOutput()) + QString::fromUtf8(p.readAllStandardError());
      return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    };
    QString out;
    const QString cli = QString::fromStdString(uri("copyowner", "panseg_cli"));
    QCOMPARE(panseg({ "db", "copy", "--from", QString::fromStdString(m_local), "--to", cli }, &out), 0);
    qInfo().noquote() << out;
    QVERIFY2(out.contains("panseg server user add alice --role reader --db " + cli), qPrintable(out));
    QVERIFY2(out.contains("SHA-256 of all 7 masks"), qPrintable(out));
    QCOMPARE(panseg({ "db", "copy", "--from", QString::fromStdString(m_local), "--to", cli }, &out), 1);
    QVERIFY2(out.startsWith("panseg: error:") && out.contains("already holds data"), qPrintable(out));
    QCOMPARE(panseg({ "db", "copy", "--from", QString::fromStdString(m_local) }, &out), 2);

    // The department benchmark with tiny sizes: it runs, every reader's submission is there.
    const QString bench = QString::fromStdString(uri("copyowner", "panseg_bench"));
    QCOMPARE(panseg({ "bench", "db", "--db", bench, "--readers", "3", "--mask", "24x20x6", "--reps", "1" }, &out), 0);
    qInfo().noquote() << out;
    QVERIFY2(out.contains("readers submit at once") && out.contains("errors"), qPrintable(out));
    QCOMPARE(psqlOwner("panseg_bench", "SELECT count(*) FROM reader_study_reads WHERE state = 'submitted'"
                                       " AND mask_version_id IS NOT NULL"),
             QString("3"));
    QCOMPARE(psqlOwner("panseg_bench", "SELECT count(*) FROM mask_blobs"), QString("4")); // 3 reads + 1 timed save
    // The bench accounts are disabled afterwards.
    QCOMPARE(psqlOwner("panseg_bench", "SELECT count(*) FROM users WHERE username LIKE 'bench%' AND active = 1"),
             QString("0"));
    QCOMPARE(panseg({ "bench", "db", "--db", QString::fromStdString(m_local) }, &out), 2);
#endif
  }
};

QTEST_GUILESS_MAIN(TstServerCopy)
#include "tst_server_copy.moc"
