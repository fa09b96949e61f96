// Department mode against a real PostgreSQL server (Debian's postgresql, started by the test on
// a free loopback port in a temporary folder): set-up by the owner, sign-in with passwords,
// user administration, a two-reader inter-observer study whose report equals the same study in
// a local SQLite database, blinding enforced by the server (the access matrix, probed with psql
// as a blinded reader), and a server that goes away.
#include "../ErrorOf.h"
#include "../PgTestServer.h"
#include "core/Error.h"
#include "core/demo/PhantomGenerator.h"
#include "core/io/ImageIO.h"
#include "database/ContentHash.h"
#include "database/studies/ReaderStudy.h"
#include "database/StudyDatabase.h"
#include "database/studies/StudyReport.h"
#include "database/server/ChangeListener.h"
#include "database/server/ServerAdmin.h"
#include "database/server/ServerSecurity.h"

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

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
} // namespace

class TstServerDb : public QObject
{
  Q_OBJECT
  test::PgTestServer m_pg;
  QTemporaryDir m_tmp;
  QString m_db = "panseg_dept";
  std::vector<std::string> m_images;
  std::vector<LabelMask> m_truths;

  std::string uri(const QString& user) const { return m_pg.uri(user, m_db).toStdString(); }
  StudyDatabase::OpenOptions pw(const std::string& password) const
  {
    StudyDatabase::OpenOptions o;
    o.password = password;
    return o;
  }
  StudyDatabase::NewSeries seriesOf(size_t i) const
  {
    const Image stored = readImage(m_images[i]);
    StudyDatabase::NewSeries s;
    s.patientKey = "name:case" + std::to_string(i);
    s.patientName = "case" + std::to_string(i);
    s.studyKey = s.patientKey + ":1";
    s.modality = Modality::CT;
    s.center = "north";
    s.geometry = stored.geometry;
    s.format = "NIfTI";
    s.sourcePath = m_images[i];
    s.contentHash = imageContentHash(stored);
    return s;
  }

  /// The same inter-observer study in `location` (a folder or this server): coordinator carol,
  /// readers alice and bob, two phantom cases; alice reads 1 voxel off, bob 2. Returns the
  /// study id; `betweenReads` runs after alice submitted and before bob does.
  int64_t runStudy(const std::string& carolAt, const std::string& aliceAt, const std::string& bobAt,
                   const StudyDatabase::OpenOptions& carolOpt, const StudyDatabase::OpenOptions& aliceOpt,
                   const StudyDatabase::OpenOptions& bobOpt, const std::function<void(int64_t)>& betweenReads = {})
  {
    int64_t studyId = 0;
    {
      StudyDatabase carol(carolAt, carolOpt);
      std::vector<int64_t> ids;
      for (size_t i = 0; i < m_images.size(); ++i)
        ids.push_back(carol.addSeries(seriesOf(i)).id);
      NewReaderStudy s;
      s.name = "dept-inter";
      s.readers = { "alice", "bob" };
      s.seriesIds = ids;
      s.seed = 5;
      studyId = ReaderStudy(carol).createStudy(s);
    }
    auto readAll = [&](const std::string& at, const StudyDatabase::OpenOptions& o, int dx) {
      StudyDatabase db(at, o);
      ReaderStudy rs(db);
      for (const ReadRecord& r : rs.worklist(studyId).reads)
      {
        rs.startRead(r.id);
        const size_t idx = size_t(std::find(m_images.begin(), m_images.end(), db.series(r.seriesId)->sourcePath) -
                                  m_images.begin());
        rs.submitRead(r.id, shifted(m_truths[idx], dx));
      }
    };
    readAll(aliceAt, aliceOpt, 1);
    if (betweenReads)
      betweenReads(studyId);
    readAll(bobAt, bobOpt, 2);
    return studyId;
  }

private slots:
  void initTestCase()
  {
    QString why;
    if (test::PgTestServer::binDir().isEmpty())
      QSKIP("PostgreSQL is not installed (installer/setup.sh installs the Debian package 'postgresql')");
    QVERIFY2(m_pg.start(&why), qPrintable(why));
    QVERIFY2(m_pg.createDatabase(m_db, "owner1", "owner-password", &why), qPrintable(why));
    for (int i = 0; i < 2; ++i)
    {
      demo::PhantomOptions po;
      po.seed = uint32_t(31 + i);
      po.size = { 40, 36, 16 };
      po.spacingMm = { 7.0, 7.0, 10.0 };
      po.noiseScale = 0.2;
      po.threads = 2;
      demo::Phantom ph = demo::generatePhantom(po);
      const std::string path = (m_tmp.path() + QString("/case%1.nii.gz").arg(i)).toStdString();
      writeImage(ph.ct, path);
      m_images.push_back(path);
      m_truths.push_back(ph.pancreas);
    }
  }

  void initAndAccounts()
  {
    const ServerInitReport r = initServer(uri("owner1"), pw("owner-password"));
    QCOMPARE(r.owner, std::string("owner1"));
    QVERIFY(r.schemaVersion >= 4);
    QCOMPARE(r.securityVersion, serverSecurityVersion());
    QVERIFY(QString::fromStdString(r.database).indexOf("owner-password") < 0);
    // Running it again changes nothing and fails on nothing.
    QCOMPARE(initServer(uri("owner1"), pw("owner-password")).schemaVersion, r.schemaVersion);

    StudyDatabase owner(uri("owner1"), pw("owner-password"));
    QCOMPARE(owner.currentUser().role, Role::Admin);
    QVERIFY(owner.isServer());
    serverAddUser(owner, "alice", Role::Reader, "alice-password", "Alice A.");
    serverAddUser(owner, "bob", Role::Reader, "bob-password");
    serverAddUser(owner, "carol", Role::Coordinator, "carol-password");
    serverAddUser(owner, "dave", Role::Reader, "dave-password");
    QVERIFY(errorOf([&] { serverAddUser(owner, "eve", Role::Reader, "short"); }).contains("at least 8"));
    QVERIFY(errorOf([&] { serverAddUser(owner, "alice", Role::Reader, "another-password"); })
              .contains("already exists"));

    // Sign-in: the server decides who you are.
    StudyDatabase alice(uri("alice"), pw("alice-password"));
    QCOMPARE(alice.currentUser().username, std::string("alice"));
    QCOMPARE(alice.currentUser().role, Role::Reader);
    QVERIFY2(errorOf([&] { StudyDatabase x(uri("alice"), pw("wrong-password")); })
               .contains("wrong user name or password"),
             "a wrong password has its own message");
    StudyDatabase::OpenOptions pretend = pw("alice-password");
    pretend.username = "carol";
    QVERIFY(errorOf([&] { StudyDatabase x(uri("alice"), pretend); }).contains("--user is not accepted"));
    StudyDatabase::OpenOptions none;
    QVERIFY(errorOf([&] { StudyDatabase x(uri("alice"), none); }).contains("needs a password"));
    bool prompted = false;
    none.passwordPrompt = [&](const std::string& prompt) {
      prompted = QString::fromStdString(prompt).contains("alice");
      return std::string("alice-password");
    };
    QCOMPARE(StudyDatabase(uri("alice"), none).currentUser().username, std::string("alice"));
    QVERIFY(prompted);
    // A role that is no PanSeg user, and a reader who tries to administer.
    QString why;
    QVERIFY2(m_pg.superExec("postgres", { "CREATE ROLE mallory LOGIN PASSWORD 'mallory-password'" }, &why),
             qPrintable(why));
    QVERIFY(errorOf([&] { StudyDatabase x(uri("mallory"), pw("mallory-password")); })
              .contains("may not use this database"));
    QVERIFY(errorOf([&] { serverAddUser(alice, "eve", Role::Admin, "eve-password-1"); }).contains("only a PanSeg admin"));
    QVERIFY(errorOf([&] { serverSetUserRole(alice, "alice", Role::Coordinator); }).contains("only a PanSeg admin"));
    // Disable / enable, role change, own password change; all audited.
    serverSetUserActive(owner, "dave", false);
    QVERIFY(errorOf([&] { StudyDatabase x(uri("dave"), pw("dave-password")); }).contains("disabled"));
    serverSetUserActive(owner, "dave", true);
    serverSetUserRole(owner, "dave", Role::Clinician);
    QCOMPARE(StudyDatabase(uri("dave"), pw("dave-password")).currentUser().role, Role::Clinician);
    {
      StudyDatabase dave(uri("dave"), pw("dave-password"));
      serverChangeOwnPassword(dave, "dave-new-password");
    }
    QVERIFY(errorOf([&] { StudyDatabase x(uri("dave"), pw("dave-password")); }).contains("wrong user name or password"));
    QCOMPARE(StudyDatabase(uri("dave"), pw("dave-new-password")).currentUser().username, std::string("dave"));
    // Account expiry (VALID UNTIL): past it the password no longer signs in, and the message
    // names expiry; the admin sees it; "never" lifts it. Only admins set it, not on themselves.
    QVERIFY(serverAccountExpiries(owner).count("dave") == 0);
    serverSetUserExpiry(owner, "dave", "2099-01-31");
    QCOMPARE(serverAccountExpiries(owner).at("dave").untilUtc, std::string("2099-01-31 00:00:00"));
    QVERIFY(!serverAccountExpiries(owner).at("dave").expired);
    QCOMPARE(StudyDatabase(uri("dave"), pw("dave-new-password")).currentUser().username, std::string("dave"));
    serverSetUserExpiry(owner, "dave", "2020-06-01T12:00:00");
    QVERIFY(serverAccountExpiries(owner).at("dave").expired);
    QVERIFY(errorOf([&] { StudyDatabase x(uri("dave"), pw("dave-new-password")); }).contains("the account has expired"));
    QVERIFY(errorOf([&] { serverSetUserExpiry(owner, "dave", "next tuesday"); }).contains("is not a date"));
    QVERIFY(errorOf([&] { serverSetUserExpiry(alice, "dave", "never"); }).contains("only a PanSeg admin"));
    QVERIFY(errorOf([&] { serverSetUserExpiry(owner, "owner1", "2020-01-01"); }).contains("your own account"));
    serverSetUserExpiry(owner, "dave", "never");
    QVERIFY(serverAccountExpiries(owner).count("dave") == 0);
    QCOMPARE(StudyDatabase(uri("dave"), pw("dave-new-password")).currentUser().username, std::string("dave"));
    int audited = 0;
    for (const AuditEntry& e : owner.auditLog("users"))
      audited += e.action == "add-user" || e.action == "set-user-role" || e.action == "disable-user" ||
                 e.action == "change-password" || e.action == "set-user-expiry";
    QVERIFY2(audited >= 10, qPrintable(QString::number(audited)));
  }

  void studyBlindedByServerAndReportEqualsLocal()
  {
    // --- the same study in a local SQLite folder ----------------------------------------------
    const std::string local = (m_tmp.path() + "/local").toStdString();
    {
      StudyDatabase::OpenOptions o;
      o.username = "coord";
      StudyDatabase db(local, o);
      db.addUser("carol", Role::Coordinator);
    }
    auto as = [](const std::string& u) {
      StudyDatabase::OpenOptions o;
      o.username = u;
      return o;
    };
    const int64_t localStudy = runStudy(local, local, local, as("carol"), as("alice"), as("bob"));

    // --- on the server, with the access matrix probed while alice's reads are hidden from bob --
    std::vector<QString> matrix;
    const int64_t serverStudy = runStudy(
      uri("carol"), uri("alice"), uri("bob"), pw("carol-password"), pw("alice-password"), pw("bob-password"),
      [&](int64_t studyId) {
        StudyDatabase bob(uri("bob"), pw("bob-password"));
        StudyDatabase alice(uri("alice"), pw("alice-password"));
        const int64_t aliceId = alice.currentUser().id;
        std::vector<int64_t> aliceMasks;
        for (const ReadRecord& r : ReaderStudy(alice).worklist(studyId).reads)
          aliceMasks.push_back(r.maskVersionId);
        QCOMPARE(aliceMasks.size(), size_t(2));
        // Through PanSeg: nothing of alice's.
        for (int64_t s : ReaderStudy(bob).study(studyId).seriesIds)
          QVERIFY(bob.masksOf(s).empty());
        QVERIFY(!errorOf([&] { bob.loadMask(aliceMasks[0]); }).isEmpty());
        // Below PanSeg: psql with bob's own password.
        QString why;
        QVERIFY(m_pg.superExec(m_db, { "ANALYZE" }, &why));
        const QString a = QString::number(aliceId), m0 = QString::number(aliceMasks[0]);
        struct Probe
        {
          QString sql;
          QString expectOut; // exact stdout when it runs; empty = must be refused
        };
        const std::vector<Probe> probes = {
          { "SELECT count(*) FROM mask_versions WHERE author_user_id = " + a, "0" },
          { "SELECT count(*) FROM mask_versions", "0" },
          { "SELECT coalesce(sum(volume_ml), 0) FROM mask_versions", "0" },
          { "SELECT count(*) FROM mask_blobs", "0" },
          { "SELECT count(*) FROM reader_study_reads WHERE reader_id = " + a, "0" },
          { "SELECT count(*) FROM reader_study_reads WHERE mask_version_id IS NOT NULL", "0" },
          { "SELECT count(*) FROM reader_study_consensus", "0" },
          { "SELECT count(*) FROM audit_log WHERE user_id = " + a + " OR details LIKE '%sha256%'", "0" },
          { "SELECT count(*) FROM pg_stats WHERE tablename IN ('mask_versions', 'mask_blobs', 'audit_log')", "0" },
          { "COPY (SELECT id FROM mask_versions) TO STDOUT", "" },
          { "COPY mask_versions TO STDOUT", "" },
          { "UPDATE mask_versions SET state = 'approved' WHERE id = " + m0 + " RETURNING id", "" },
          { "DELETE FROM mask_versions WHERE id = " + m0, "refused" },
          { "DELETE FROM audit_log", "refused" },
          { "UPDATE audit_log SET details = '{}'", "refused" },
          { "TRUNCATE audit_log", "refused" },
          { "UPDATE users SET role = 'admin' WHERE username = 'bob'", "refused" },
          { "INSERT INTO audit_log (at, user_id, actor, action) VALUES ('x', " + a + ", 'alice', 'forged')",
            "refused" },
          { "SET ROLE alice", "refused" },
          { "SET ROLE panseg_coordinator", "refused" },
          { "SELECT panseg_set_user_role('bob', 'coordinator')", "refused" },
          { "CREATE TABLE loot AS SELECT * FROM mask_blobs", "refused" },
          { "ALTER TABLE mask_versions DISABLE ROW LEVEL SECURITY", "refused" },
        };
        for (const Probe& p : probes)
        {
          QString out, err;
          const int rc = m_pg.psql("bob", "bob-password", m_db, p.sql, &out, &err);
          const bool refused = rc != 0;
          QString result = refused ? "refused: " + err.section('\n', 0, 0) : "rows: [" + out + "]";
          matrix.push_back(QString("%1 | %2").arg(p.sql, -80).arg(result));
          if (p.expectOut == "refused")
            QVERIFY2(refused, qPrintable(p.sql + " -> " + result));
          else
            QVERIFY2(!refused && out == p.expectOut, qPrintable(p.sql + " -> " + result));
        }
        // The UPDATE above changed nothing (the row is not bob's to see).
        StudyDatabase carol(uri("carol"), pw("carol-password"));
        QCOMPARE(carol.maskVersion(aliceMasks[0])->state, MaskState::Submitted);
        // Positive control: the coordinator sees alice's masks with plain SQL too.
        QString out, err;
        QCOMPARE(m_pg.psql("carol", "carol-password", m_db, "SELECT count(*) FROM mask_blobs", &out, &err), 0);
        QCOMPARE(out, QString("2"));
        // The verifier of the password never appears in the log of the server's statements.
      });
    qInfo().noquote() << "access matrix, reader bob with psql while alice's reads are blinded:";
    for (const QString& row : matrix)
      qInfo().noquote() << "  " << row;

    // --- the reports agree --------------------------------------------------------------------
    StudyDatabase::OpenOptions carolLocal;
    carolLocal.username = "carol";
    StudyDatabase lc(local, carolLocal);
    StudyDatabase sc(uri("carol"), pw("carol-password"));
    const StudyReportData lr = computeStudyReport(lc, localStudy);
    const StudyReportData sr = computeStudyReport(sc, serverStudy);
    QCOMPARE(sr.pairs.size(), lr.pairs.size());
    QCOMPARE(sr.pairs.size(), size_t(2));
    QCOMPARE(sr.readsDone, lr.readsDone);
    for (size_t i = 0; i < lr.pairs.size(); ++i)
    {
      QCOMPARE(sr.pairs[i].metrics.dice, lr.pairs[i].metrics.dice);
      QCOMPARE(sr.pairs[i].metrics.hd95Mm, lr.pairs[i].metrics.hd95Mm);
    }
    QCOMPARE(sr.table3.size(), lr.table3.size());

    // Closing the study lifts the blinding on the server too.
    ReaderStudy(sc).closeStudy(serverStudy);
    StudyDatabase bob(uri("bob"), pw("bob-password"));
    QString out, err;
    QCOMPARE(m_pg.psql("bob", "bob-password", m_db, "SELECT count(*) FROM mask_blobs", &out, &err), 0);
    QCOMPARE(out, QString("4"));
    QCOMPARE(bob.masksOf(ReaderStudy(bob).study(serverStudy).seriesIds.front()).size(), size_t(2));
    QVERIFY(bob.verifyFiles().empty());
    // One audit hash chain across the server's users (readers find its head through
    // panseg_audit_head(), which row-level security does not limit); only exempt roles verify it.
    const AuditChainReport chain = sc.verifyAuditChain();
    QVERIFY2(chain.ok, chain.problem.c_str());
    QVERIFY(chain.entries > 10);
    QVERIFY(errorOf([&] { bob.verifyAuditChain(); }).contains("only the owner, admins and coordinators"));
  }

  void liveUpdatesAcrossWorkstationsAndRestarts()
  {
    // The coordinator's workstation listens; a reader on another "workstation" (a psql process
    // with her own password) changes her read: the coordinator hears of it within 2 s.
    db::ChangeListener listener(uri("carol"), pw("carol-password"), nullptr, 200);
    QTRY_VERIFY_WITH_TIMEOUT(listener.listening(), 5000);
    QSignalSpy spy(&listener, &db::ChangeListener::changed);
    auto touchRead = [&] {
      QString out, err;
      QCOMPARE(m_pg.psql("bob", "bob-password", m_db,
                         "UPDATE reader_study_reads SET comment = comment WHERE reader_id = panseg_me()", &out, &err),
               0);
    };
    auto heard = [&](const QString& prefix) {
      if (qEnvironmentVariableIsSet("PANSEG_DEBUG_LISTEN"))
        for (const auto& args : spy)
          qInfo() << "heard" << args.value(0).toString();
      for (const auto& args : spy)
        if (args.value(0).toString().startsWith(prefix))
          return true;
      return false;
    };
    QElapsedTimer t;
    t.start();
    touchRead();
    QTRY_VERIFY_WITH_TIMEOUT(heard("reader_study_reads:"), 2000);
    for (const auto& args : spy)
      qInfo() << "heard" << args.value(0).toString();
    qInfo("notification after %lld ms", static_cast<long long>(t.elapsed()));
    // The server restarts: the listener reconnects, resubscribes and hears the next change.
    QString why;
    QVERIFY2(m_pg.restart(&why), qPrintable(why));
    QTRY_VERIFY_WITH_TIMEOUT(heard("reconnected"), 10000);
    QTRY_VERIFY_WITH_TIMEOUT(listener.listening(), 5000);
    spy.clear();
    touchRead();
    QTRY_VERIFY_WITH_TIMEOUT(heard("reader_study_reads:"), 2000);
  }

  void serverDownIsAClearError()
  {
    StudyDatabase carol(uri("carol"), pw("carol-password"));
    const int64_t series = carol.listSeries().front().id;
    m_pg.stop();
    QVERIFY2(errorOf([&] { StudyDatabase x(uri("carol"), pw("carol-password")); }).contains("not reachable"),
             "connecting to a stopped server");
    QVERIFY(errorOf([&] { carol.masksOf(series); }).contains("not reachable"));
    QString why;
    QVERIFY2(m_pg.restart(&why), qPrintable(why));
    // A new session works again once the server is back; nothing was lost. The session that
    // saw the server go away reconnects by itself on its next statement.
    StudyDatabase again(uri("carol"), pw("carol-password"));
    QCOMPARE(again.masksOf(series).size(), size_t(2));
    QCOMPARE(carol.masksOf(series).size(), size_t(2));
  }

  void imagePathsMapToThisWorkstation()
  {
    // The series were imported from m_tmp; another workstation mounts the same folder elsewhere.
    StudyDatabase carol(uri("carol"), pw("carol-password"));
    const auto s = carol.listSeries().front();
    QTemporaryDir elsewhere;
    const QString mount = elsewhere.path() + "/share";
    QVERIFY(QFile::link(m_tmp.path(), mount));
    const QString recordedFolder = QFileInfo(QString::fromStdString(s.sourcePath)).absolutePath();
    qputenv("PANSEG_PATH_MAP", QString("/nowhere/else=/x;%1=%2").arg(recordedFolder, mount).toUtf8());
    QCOMPARE(carol.loadImage(s.id).geometry.size, s.geometry.size);
    qputenv("PANSEG_PATH_MAP", QString("%1=%2/missing").arg(recordedFolder, mount).toUtf8());
    QVERIFY(errorOf([&] { carol.loadImage(s.id); }).contains("mapped to"));
    qunsetenv("PANSEG_PATH_MAP");
  }

  void sqliteModeRefusesServerCommands()
  {
    StudyDatabase::OpenOptions o;
    o.username = "carol";
    StudyDatabase local((m_tmp.path() + "/local").toStdString(), o);
    QVERIFY(errorOf([&] { serverAddUser(local, "zed", Role::Reader, "zed-password"); }).contains("needs a database server"));
    QVERIFY(errorOf([&] { initServer((m_tmp.path() + "/local").toStdString()); }).contains("needs a PostgreSQL URI"));
  }
};

QTEST_GUILESS_MAIN(TstServerDb)
#include "tst_server_db.moc"
