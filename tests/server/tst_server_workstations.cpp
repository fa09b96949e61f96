// Department mode with several workstations, simulated by processes against one real
// PostgreSQL server (tests/PgTestServer.h): the `panseg` command line in server mode (set-up,
// accounts, import, listing, reader study, report; --user refused), clients SIGKILLed while
// saving (no lost or half-written versions), two writers at once, and an approve-vs-return
// race between two coordinators.
#include "../PgTestServer.h"
#include "../database/DbTestUtil.h"
#include "core/demo/PhantomGenerator.h"
#include "core/io/ImageIO.h"
#include "database/StudyDatabase.h"

#include <QProcess>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QDateTime>
#include <QRegularExpression>
#include <QtTest>

#include <csignal>
#include <map>

using namespace panseg;
using namespace panseg::db;

namespace
{
struct Run
{
  int code = -1;
  QString out, err;
};
} // namespace

class TstServerWorkstations : public QObject
{
  Q_OBJECT
  test::PgTestServer m_pg;
  QTemporaryDir m_tmp;
  QString m_db = "panseg_ws";

  QString uri(const QString& user) const { return m_pg.uri(user, m_db); }

  /// `panseg ARGS` as `user` (password by PGPASSWORD, as libpq reads it).
  Run panseg(const QString& user, const QStringList& args, const QString& password = {}) const
  {
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("PGPASSWORD", password.isEmpty() ? user + "-password" : password);
    env.insert("QT_QPA_PLATFORM", "offscreen");
    env.remove("PANSEG_USER");
    p.setProcessEnvironment(env);
    p.start(PANSEG_EXE, args);
    Run r;
    if (!p.waitForFinished(180000))
    {
      p.kill();
      p.waitForFinished();
      return r;
    }
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
  }
  static QString show(const Run& r) { return QString("exit %1\n%2\n%3").arg(r.code).arg(r.out, r.err); }
  StudyDatabase::OpenOptions pw(const std::string& password) const
  {
    StudyDatabase::OpenOptions o;
    o.password = password;
    return o;
  }

private slots:
  void initTestCase()
  {
    if (test::PgTestServer::binDir().isEmpty())
      QSKIP("PostgreSQL is not installed (installer/setup.sh installs the Debian package 'postgresql')");
    QString why;
    QVERIFY2(m_pg.start(&why), qPrintable(why));
    QVERIFY2(m_pg.createDatabase(m_db, "wsowner", "wsowner-password", &why), qPrintable(why));
  }

  void commandLineInServerMode()
  {
    Run r = panseg("wsowner", { "server", "init", uri("wsowner") });
    QVERIFY2(r.code == 0 && r.out.contains("ready for PanSeg"), qPrintable(show(r)));
    for (const auto& [name, role] : std::vector<std::pair<QString, QString>>{
           { "carol", "coordinator" }, { "carl", "coordinator" }, { "alice", "reader" }, { "bob", "reader" } })
    {
      const QString file = m_tmp.path() + "/" + name + ".pw";
      QFile f(file);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write((name + "-password\n").toUtf8());
      f.close();
      r = panseg("wsowner", { "server", "user", "add", name, "--role", role, "--password-file", file, "--db",
                              uri("wsowner") });
      QVERIFY2(r.code == 0, qPrintable(show(r)));
    }
    r = panseg("alice", { "server", "whoami", "--db", uri("alice") });
    QVERIFY2(r.code == 0 && r.out.contains("signed in as alice (reader)"), qPrintable(show(r)));
    r = panseg("alice", { "server", "whoami", "--db", uri("alice") }, "not-her-password");
    QVERIFY2(r.code == 1 && r.err.contains("wrong user name or password") && r.err.count('\n') == 1,
             qPrintable(show(r)));
    r = panseg("alice", { "server", "user", "role", "alice", "admin", "--db", uri("alice") });
    QVERIFY2(r.code == 1 && r.err.contains("only a PanSeg admin"), qPrintable(show(r)));
    r = panseg("wsowner", { "server", "user", "list", "--json", "--db", uri("wsowner") });
    QVERIFY2(r.code == 0 && r.out.contains("\"carl\"") && r.out.contains("\"coordinator\""), qPrintable(show(r)));
    // Account expiry from the command line: carl's account expired yesterday, then never expires.
    const QString yesterday = QDateTime::currentDateTimeUtc().addDays(-1).toString("yyyy-MM-dd");
    r = panseg("wsowner", { "server", "user", "expire", "carl", yesterday, "--db", uri("wsowner") });
    QVERIFY2(r.code == 0 && r.out.contains("carl expired at " + yesterday + " 00:00:00 UTC"), qPrintable(show(r)));
    r = panseg("wsowner", { "server", "user", "list", "--db", uri("wsowner") });
    QVERIFY2(r.code == 0 && QRegularExpression("carl +coordinator +EXPIRED +since " + yesterday).match(r.out).hasMatch(),
             qPrintable(show(r)));
    r = panseg("carl", { "server", "whoami", "--db", uri("carl") });
    QVERIFY2(r.code == 1 && r.err.contains("the account has expired") && r.err.count('\n') == 1, qPrintable(show(r)));
    r = panseg("wsowner", { "server", "user", "expire", "carl", "someday", "--db", uri("wsowner") });
    QVERIFY2(r.code == 1 && r.err.contains("is not a date"), qPrintable(show(r)));
    r = panseg("wsowner", { "server", "user", "expire", "carl", "never", "--db", uri("wsowner") });
    QVERIFY2(r.code == 0 && r.out.contains("carl never expires"), qPrintable(show(r)));
    r = panseg("carl", { "server", "whoami", "--db", uri("carl") });
    QVERIFY2(r.code == 0 && r.out.contains("signed in as carl (coordinator)"), qPrintable(show(r)));

    // Import two phantoms as carol, list them as alice, a study through the CLI.
    for (int i = 0; i < 2; ++i)
    {
      demo::PhantomOptions po;
      po.seed = uint32_t(71 + i);
      po.size = { 40, 36, 16 };
      po.spacingMm = { 7.0, 7.0, 10.0 };
      po.threads = 2;
      const demo::Phantom ph = demo::generatePhantom(po);
      writeImage(ph.ct, (m_tmp.path() + QString("/ws%1.nii.gz").arg(i)).toStdString());
      writeMask(ph.pancreas, (m_tmp.path() + QString("/ws%1_truth.nii.gz").arg(i)).toStdString());
    }
    r = panseg("carol", { "import", m_tmp.path() + "/ws0.nii.gz", m_tmp.path() + "/ws1.nii.gz", "--db", uri("carol") });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    r = panseg("alice", { "db", "list", "--json", "--db", uri("alice") });
    QVERIFY2(r.code == 0 && r.out.count("\"content_hash\"") == 2, qPrintable(show(r)));
    // --user cannot change who you are.
    r = panseg("alice", { "study", "list", "--user", "carol", "--db", uri("alice") });
    QVERIFY2(r.code == 1 && r.err.contains("--user is not accepted"), qPrintable(show(r)));
    r = panseg("carol", { "study", "create", "--name", "ws", "--design", "inter", "--readers", "alice,bob",
                          "--series", "1,2", "--db", uri("carol") });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
  }

  void killedClientsLoseNothing()
  {
    // alice saves masks in a loop on a series outside any study; each client is SIGKILLed after a
    // random 60-450 ms (while connecting, writing the scratch file, inserting, committing).
    StudyDatabase owner(uri("wsowner").toStdString(), pw("wsowner-password"));
    const int64_t series = owner.listSeries().back().id;
    const int trials = qEnvironmentVariableIntValue("PANSEG_PG_KILL_TRIALS") > 0
                         ? qEnvironmentVariableIntValue("PANSEG_PG_KILL_TRIALS")
                         : 100;
    QRandomGenerator rng(20261207);
    std::map<int64_t, QString> committed;
    int killed = 0;
    for (int t = 0; t < trials; ++t)
    {
      QProcess p;
      QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
      env.insert("PGPASSWORD", "alice-password");
      p.setProcessEnvironment(env);
      p.start(PANSEG_DB_HELPER, { "save-loop", uri("alice"), QString::number(series), "0", QString::number(t + 1) });
      QVERIFY(p.waitForStarted());
      QTest::qWait(60 + int(rng.bounded(390)));
      if (p.state() == QProcess::Running)
      {
        ::kill(pid_t(p.processId()), SIGKILL);
        ++killed;
      }
      p.waitForFinished();
      for (const QString& line : QString::fromUtf8(p.readAllStandardOutput()).split('\n', Qt::SkipEmptyParts))
      {
        const QStringList parts = line.split(' ');
        if (parts.size() == 3 && parts[0] == "committed")
          committed[parts[1].toLongLong()] = parts[2];
      }
    }
    // Every reported commit is there with its voxels; no row without voxels; every blob hashes.
    std::map<int64_t, MaskVersion> present;
    for (const MaskVersion& m : owner.masksOf(series))
      present[m.id] = m;
    for (const auto& [id, sha] : committed)
    {
      QVERIFY2(present.count(id), qPrintable(QString("committed version %1 is missing").arg(id)));
      QCOMPARE(QString::fromStdString(present[id].sha256), sha);
    }
    QCOMPARE(owner.integrityCheck(), std::string("ok"));
    QVERIFY(owner.verifyFiles().empty());
    if (!present.empty())
      QCOMPARE(owner.loadMask(present.rbegin()->first).geometry.size, owner.series(series)->geometry.size);
    qInfo("kill test: %d trials, %d killed, %zu versions reported committed, %zu present, 0 lost, 0 half-written",
          trials, killed, committed.size(), present.size());
    QVERIFY(killed >= trials / 2);
  }

  void serverRestartDuringSaves()
  {
    // The server restarts (immediate shutdown: every connection cut) while alice's client saves
    // in a loop: the client stops with the "not reachable" line, and every version it reported
    // committed is there, complete; nothing half-written.
    StudyDatabase::OpenOptions o = pw("wsowner-password");
    int64_t series = 0;
    {
      StudyDatabase owner(uri("wsowner").toStdString(), o);
      series = owner.listSeries().back().id;
    }
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("PGPASSWORD", "alice-password");
    p.setProcessEnvironment(env);
    p.start(PANSEG_DB_HELPER, { "save-loop", uri("alice"), QString::number(series), "0", "777" });
    QVERIFY(p.waitForStarted());
    QTRY_VERIFY_WITH_TIMEOUT(p.bytesAvailable() > 0, 20000); // at least one save committed
    QString why;
    QVERIFY2(m_pg.restart(&why), qPrintable(why));
    QVERIFY(p.waitForFinished(60000));
    const QString err = QString::fromUtf8(p.readAllStandardError());
    QVERIFY2(p.exitCode() != 0 && err.contains("not reachable"), qPrintable(err));
    std::map<int64_t, QString> committed;
    for (const QString& line : QString::fromUtf8(p.readAllStandardOutput()).split('\n', Qt::SkipEmptyParts))
    {
      const QStringList parts = line.split(' ');
      if (parts.size() == 3 && parts[0] == "committed")
        committed[parts[1].toLongLong()] = parts[2];
    }
    QVERIFY(!committed.empty());
    StudyDatabase owner(uri("wsowner").toStdString(), o);
    for (const auto& [id, sha] : committed)
    {
      const auto m = owner.maskVersion(id);
      QVERIFY2(m && QString::fromStdString(m->sha256) == sha, qPrintable(QString("version %1").arg(id)));
    }
    QCOMPARE(owner.integrityCheck(), std::string("ok"));
    QVERIFY(owner.verifyFiles().empty());
    qInfo("server restart during saves: %zu versions committed before the cut, all intact", committed.size());
  }

  void twoWritersAtOnceBothKeepTheirVersions()
  {
    StudyDatabase owner(uri("wsowner").toStdString(), pw("wsowner-password"));
    const int64_t series = owner.listSeries().front().id;
    const size_t before = owner.masksOf(series).size();
    QProcess a, b;
    for (QProcess* p : { &a, &b })
    {
      QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
      env.insert("PGPASSWORD", p == &a ? "carol-password" : "carl-password");
      p->setProcessEnvironment(env);
    }
    a.start(PANSEG_DB_HELPER, { "save-loop", uri("carol"), QString::number(series), "15", "901" });
    b.start(PANSEG_DB_HELPER, { "save-loop", uri("carl"), QString::number(series), "15", "902" });
    QVERIFY(a.waitForFinished(120000) && b.waitForFinished(120000));
    QVERIFY2(a.exitCode() == 0, a.readAllStandardError().constData());
    QVERIFY2(b.exitCode() == 0, b.readAllStandardError().constData());
    QCOMPARE(owner.masksOf(series).size(), before + 30);
  }

  void approveVersusReturnRace()
  {
    // Both readers submit; then for each read the two coordinators act at the same moment:
    // exactly one wins and the other is told that the read was changed.
    for (const char* name : { "alice", "bob" })
    {
      const QString reader = name;
      Run w = panseg(reader, { "study", "worklist", "ws", "--json", "--db", uri(reader) });
      QVERIFY2(w.code == 0, qPrintable(show(w)));
      const QJsonArray reads = QJsonDocument::fromJson(w.out.toUtf8()).object()["reads"].toArray();
      QVERIFY(!reads.isEmpty());
      for (const QJsonValue& v : reads)
      {
        const QString id = QString::number(v.toObject()["id"].toInteger());
        const qint64 seriesId = v.toObject()["series"].toInteger();
        const QString truth = m_tmp.path() + QString("/ws%1_truth.nii.gz").arg(seriesId - 1);
        Run s = panseg(reader, { "study", "read", id, "--db", uri(reader) });
        QVERIFY2(s.code == 0, qPrintable(show(s)));
        s = panseg(reader, { "study", "submit", id, truth, "--db", uri(reader) });
        QVERIFY2(s.code == 0, qPrintable(show(s)));
      }
    }
    StudyDatabase owner(uri("wsowner").toStdString(), pw("wsowner-password"));
    int approved = 0, returned = 0;
    for (int readId = 1; readId <= 4; ++readId)
    {
      QProcess a, b;
      for (QProcess* p : { &a, &b })
      {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("PGPASSWORD", p == &a ? "carol-password" : "carl-password");
        env.insert("QT_QPA_PLATFORM", "offscreen");
        p->setProcessEnvironment(env);
      }
      a.start(PANSEG_EXE, { "study", "approve", QString::number(readId), "--db", uri("carol") });
      b.start(PANSEG_EXE,
              { "study", "return", QString::number(readId), "--comment", "redo the tail", "--db", uri("carl") });
      QVERIFY(a.waitForFinished(60000) && b.waitForFinished(60000));
      const bool aOk = a.exitCode() == 0, bOk = b.exitCode() == 0;
      const QString aErr = QString::fromUtf8(a.readAllStandardError());
      const QString bErr = QString::fromUtf8(b.readAllStandardError());
      QVERIFY2(aOk != bOk, qPrintable(QString("read %1: approve exit %2 (%3), return exit %4 (%5)")
                                        .arg(readId)
                                        .arg(a.exitCode())
                                        .arg(aErr)
                                        .arg(b.exitCode())
                                        .arg(bErr)));
      const QString loser = aOk ? bErr : aErr;
      QVERIFY2(loser.contains("not submitted") || loser.contains("someone else"), qPrintable("loser said: " + loser));
      approved += aOk;
      returned += bOk;
    }
    // The final states agree with the winners: reads and their mask versions alike.
    int readsApproved = 0, masksApproved = 0, masksDraft = 0;
    for (const AuditEntry& e : owner.auditLog("reader_study_reads"))
      readsApproved += e.action == "approve-read";
    for (const auto& s : owner.listSeries())
      for (const MaskVersion& m : owner.masksOf(s.id))
        if (m.source == MaskSource::Reader && m.note.find("helper") == std::string::npos)
        {
          masksApproved += m.state == MaskState::Approved;
          masksDraft += m.state == MaskState::Draft;
        }
    QCOMPARE(readsApproved, approved);
    QCOMPARE(masksApproved, approved);
    QCOMPARE(masksDraft, returned);
    qInfo("race: %d approved, %d returned, no read both", approved, returned);
  }
};

QTEST_GUILESS_MAIN(TstServerWorkstations)
#include "tst_server_workstations.moc"
