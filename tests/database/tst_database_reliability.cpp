// Reliability of the study database under the failures a workstation meets: a process killed
// at random points while saving or importing, two processes writing at once, a writer that
// holds the lock too long, a full disk (file size limit; a real full tmpfs where mounting is
// permitted). Each uses the helper process db_helper and checks afterwards that
//  - PRAGMA integrity_check says ok,
//  - no row points at a missing or partial file (every file still has its recorded SHA-256),
//  - every version the helper reported as committed is there with the same SHA-256,
//  - nothing is left behind in files/masks once the database is opened again.
#include "DbTestUtil.h"

#include "core/Error.h"
#include "core/io/ImageIO.h"
#include "database/Importer.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <csignal>
#include <filesystem>
#include <random>
#include <set>

using namespace panseg;
using namespace panseg::db;
namespace fs = std::filesystem;

namespace
{
struct Committed
{
  int64_t id = 0;
  std::string sha256;
};

std::vector<Committed> parseCommitted(const QByteArray& out)
{
  std::vector<Committed> c;
  for (const QByteArray& line : out.split('\n'))
  {
    const QList<QByteArray> f = line.split(' ');
    if (f.size() == 3 && f[0] == "committed" && f[2].size() == 64) // a cut-off last line is ignored
      c.push_back({ f[1].toLongLong(), f[2].toStdString() });
  }
  return c;
}

/// Files under files/masks: (temporary files, mask files).
std::pair<int, int> filesInStorage(const std::string& dataDir)
{
  int tmp = 0, masks = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dataDir + "/files/masks", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file())
      (it->path().filename().string().rfind(".tmp-", 0) == 0 ? tmp : masks)++;
  return { tmp, masks };
}

/// The checks every scenario ends with; returns "" or the first problem.
QString checkDatabase(const std::string& dataDir, const std::vector<Committed>& committed,
                      StudyDatabase::SweepReport* sweep = nullptr)
{
  StudyDatabase db(dataDir); // opening sweeps what a killed writer left
  if (sweep)
    *sweep = db.openSweepReport();
  const std::string integrity = db.integrityCheck();
  if (integrity != "ok")
    return "integrity_check: " + QString::fromStdString(integrity);
  for (const auto& p : db.verifyFiles())
    return QString("mask version %1: %2 (%3)").arg(p.maskVersionId).arg(p.path.c_str(), p.problem.c_str());
  for (const auto& c : committed)
  {
    const auto mv = db.maskVersion(c.id);
    if (!mv)
      return QString("committed version %1 is missing").arg(c.id);
    if (mv->sha256 != c.sha256)
      return QString("committed version %1 has another SHA-256").arg(c.id);
  }
  const auto [tmp, files] = filesInStorage(dataDir);
  size_t rows = 0;
  for (const auto& s : db.listSeries())
    rows += size_t(s.maskCount);
  if (tmp != 0)
    return QString("%1 temporary files left after open").arg(tmp);
  if (size_t(files) != rows)
    return QString("%1 mask files for %2 mask rows after open").arg(files).arg(rows);
  return {};
}

QString runHelper(const QStringList& args, int* exitCode, QByteArray* out = nullptr, int timeoutMs = 60000)
{
  QProcess p;
  p.start(PANSEG_DB_HELPER, args);
  if (!p.waitForFinished(timeoutMs))
  {
    p.kill();
    p.waitForFinished();
    *exitCode = -1;
    return "timeout";
  }
  *exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
  if (out)
    *out = p.readAllStandardOutput();
  return QString::fromUtf8(p.readAllStandardError()).trimmed();
}

Image noiseImage(const Geometry& g, unsigned seed)
{
  Image img(g);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> v(-1000.f, 1000.f);
  for (auto& x : img.voxels)
    x = std::round(v(rng));
  return img;
}
} // namespace

class TstDatabaseReliability : public QObject
{
  Q_OBJECT
private slots:
  void killedWritersLoseNothing()
  {
    QTemporaryDir t;
    const std::string dataDir = (t.path() + "/db").toStdString();
    const Geometry big = dbtest::grid(128, 128, 32); // ~0.3 MB compressed noise: writes take a while
    int64_t series = 0;
    {
      StudyDatabase db(dataDir);
      series = dbtest::addSyntheticSeries(db, big, "killed");
    }
    // An import source: 8 image + mask pairs.
    const QString src = t.path() + "/src";
    QDir().mkpath(src);
    const Geometry small = dbtest::grid(64, 64, 24);
    for (unsigned i = 0; i < 8; ++i)
    {
      writeImage(noiseImage(small, 500 + i), (src + QString("/case%1.nii.gz").arg(i)).toStdString());
      writeMask(dbtest::randomMask(small, 600 + i), (src + QString("/case%1_seg.nii.gz").arg(i)).toStdString());
    }

    const int seedEnv = qEnvironmentVariableIntValue("PANSEG_KILL_SEED");
    const unsigned seed = seedEnv > 0 ? unsigned(seedEnv) : 20260122u;
    std::mt19937 rng(seed);
    // The helper needs ~0.3 s to start and ~0.1 s per save: kills land while opening, writing a
    // file, verifying it, inserting or committing.
    std::uniform_int_distribution<int> delayMs(100, 1500);
    const int trials = 24;
    int killed = 0, totalCommitted = 0, importTrials = 0;
    int tempSwept = 0, orphansSwept = 0;
    QElapsedTimer timer;
    timer.start();
    for (int trial = 0; trial < trials; ++trial)
    {
      const bool import = trial % 3 == 2;
      importTrials += import;
      QStringList args = import ? QStringList{ "import", QString::fromStdString(dataDir), src }
                                : QStringList{ "save-loop", QString::fromStdString(dataDir), QString::number(series),
                                               "0", QString::number(1000 + trial) };
      QProcess p;
      p.start(PANSEG_DB_HELPER, args);
      QVERIFY(p.waitForStarted());
      const int delay = delayMs(rng);
      if (!p.waitForFinished(delay))
      {
        ::kill(pid_t(p.processId()), SIGKILL);
        p.waitForFinished(10000);
        ++killed;
      }
      const auto committed = parseCommitted(p.readAllStandardOutput());
      totalCommitted += int(committed.size());
      StudyDatabase::SweepReport sweep;
      const QString problem = checkDatabase(dataDir, committed, &sweep);
      tempSwept += sweep.tempFilesRemoved;
      orphansSwept += sweep.orphanFilesRemoved;
      QVERIFY2(problem.isEmpty(), qPrintable(QString("trial %1 (%2, killed after %3 ms): %4")
                                                .arg(trial)
                                                .arg(import ? "import" : "save")
                                                .arg(delay)
                                                .arg(problem)));
    }
    // Finishing the interrupted imports gives each case exactly once, each with its mask.
    int code = 0;
    const QString err = runHelper({ "import", QString::fromStdString(dataDir), src }, &code);
    QVERIFY2(code == 0, qPrintable(err));
    StudyDatabase db(dataDir);
    int cases = 0;
    for (const auto& s : db.listSeries())
      if (s.id != series)
      {
        ++cases;
        QCOMPARE(s.maskCount, 1);
      }
    QCOMPARE(cases, 8);
    const auto versions = db.masksOf(series);
    QVERIFY(!versions.empty());
    QVERIFY(db.loadMask(versions.back().id).geometry.sameGrid(big));
    qInfo("kill test (seed %u): %d trials (%d import, %d save), %d killed, %d versions reported committed, "
          "%zu saved in all; swept after kills: %d temporary files, %d files whose row never committed; %.1f s",
          seed, trials, importTrials, trials - importTrials, killed, totalCommitted, versions.size(), tempSwept,
          orphansSwept, timer.nsecsElapsed() / 1e9);
    QVERIFY(killed >= trials / 2); // the kills really hit running writers
  }

  void twoWritersLoseNothing()
  {
    QTemporaryDir t;
    const std::string dataDir = (t.path() + "/db").toStdString();
    const Geometry g = dbtest::grid(64, 64, 16);
    int64_t series = 0;
    {
      StudyDatabase db(dataDir);
      series = dbtest::addSyntheticSeries(db, g, "shared");
    }
    const int perWriter = 25;
    QProcess a, b;
    const QStringList common{ "save-loop", QString::fromStdString(dataDir), QString::number(series),
                              QString::number(perWriter) };
    a.start(PANSEG_DB_HELPER, common + QStringList{ "1" });
    b.start(PANSEG_DB_HELPER, common + QStringList{ "2" });
    QVERIFY(a.waitForFinished(60000));
    QVERIFY(b.waitForFinished(60000));
    QVERIFY2(a.exitCode() == 0, a.readAllStandardError().constData());
    QVERIFY2(b.exitCode() == 0, b.readAllStandardError().constData());
    auto ca = parseCommitted(a.readAllStandardOutput());
    const auto cb = parseCommitted(b.readAllStandardOutput());
    QCOMPARE(int(ca.size()), perWriter);
    QCOMPARE(int(cb.size()), perWriter);
    std::set<int64_t> ids;
    for (const auto& c : ca)
      ids.insert(c.id);
    for (const auto& c : cb)
      ids.insert(c.id);
    QCOMPARE(int(ids.size()), 2 * perWriter);
    ca.insert(ca.end(), cb.begin(), cb.end());
    const QString problem = checkDatabase(dataDir, ca);
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    StudyDatabase db(dataDir);
    QCOMPARE(int(db.masksOf(series).size()), 2 * perWriter);
    int saves = 0;
    for (const auto& e : db.auditLog("mask_versions"))
      saves += e.action == "save-mask";
    QCOMPARE(saves, 2 * perWriter);
  }

  void lockHeldTooLongIsAClearError()
  {
    QTemporaryDir t;
    const std::string dataDir = (t.path() + "/db").toStdString();
    const Geometry g = dbtest::grid(16, 16, 4);
    int64_t series = 0;
    {
      StudyDatabase db(dataDir);
      series = dbtest::addSyntheticSeries(db, g, "locked");
    }
    dbtest::RawSql other(dataDir + "/panseg.sqlite");
    QCOMPARE(other.exec("BEGIN IMMEDIATE"), QString());
    StudyDatabase::OpenOptions o;
    o.busyTimeoutMs = 300;
    StudyDatabase db(dataDir, o);
    QVERIFY(!db.openSweepReport().ran); // the sweep does not wait for the lock
    QElapsedTimer timer;
    timer.start();
    QString message;
    try
    {
      db.saveMaskVersion(series, dbtest::randomMask(g, 1), {});
    }
    catch (const Error& e)
    {
      message = e.what();
    }
    QVERIFY2(message.contains("busy") && message.contains("write lock"), qPrintable(message));
    QVERIFY(timer.elapsed() >= 250);
    other.exec("ROLLBACK");
    QVERIFY(db.masksOf(series).empty());
    QCOMPARE(filesInStorage(dataDir).second, 0); // no file was written for the refused save
    db.saveMaskVersion(series, dbtest::randomMask(g, 1), {});
    QCOMPARE(db.masksOf(series).size(), size_t(1));
  }

  void fullDiskIsAClearErrorAndKeepsEarlierData_data()
  {
    QTest::addColumn<long>("limitBytes");
    QTest::addColumn<bool>("quiet");
    QTest::addColumn<QString>("expected");
    // A noisy 128x128x32 mask compresses to ~60 kB: the mask file cannot be written.
    QTest::newRow("mask file too large") << 16384L << false << "cannot save a mask version";
    // A near-empty mask fits, but the database's write-ahead log cannot grow.
    QTest::newRow("database cannot grow") << 8192L << true << "cannot save a mask version";
  }
  void fullDiskIsAClearErrorAndKeepsEarlierData()
  {
    QFETCH(long, limitBytes);
    QFETCH(bool, quiet);
    QFETCH(QString, expected);
    QTemporaryDir t;
    const std::string dataDir = (t.path() + "/db").toStdString();
    const Geometry g = dbtest::grid(128, 128, 32);
    std::vector<Committed> before;
    int64_t series = 0;
    {
      StudyDatabase db(dataDir);
      series = dbtest::addSyntheticSeries(db, g, "full");
      for (unsigned i = 0; i < 2; ++i)
      {
        const int64_t id = db.saveMaskVersion(series, dbtest::randomMask(g, 40 + i), {});
        before.push_back({ id, db.maskVersion(id)->sha256 });
      }
    }
    int code = 0;
    const QString err = runHelper({ "fsize-limit", QString::fromStdString(dataDir), QString::number(series),
                                    QString::number(limitBytes), "77", quiet ? "quiet" : "" },
                                  &code);
    QCOMPARE(code, 1);
    // The NIfTI library may print its own complaint first; ours is the last line.
    const QString line = err.split('\n').last();
    qInfo("%s", qPrintable(line));
    QVERIFY2(line.startsWith("error: ") && line.contains(expected), qPrintable(err));
    StudyDatabase::SweepReport sweep;
    const QString problem = checkDatabase(dataDir, before, &sweep);
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    StudyDatabase db(dataDir);
    QCOMPARE(db.masksOf(series).size(), size_t(2));
    // The failed save cleaned up after itself.
    QCOMPARE(sweep.tempFilesRemoved + sweep.orphanFilesRemoved, 0);
  }

  void fullTmpfs()
  {
    QTemporaryDir t;
    const QString mountPoint = t.path() + "/small";
    QDir().mkpath(mountPoint);
    int code = 0;
    QByteArray out;
    const QString err = runHelper({ "tmpfs-full", mountPoint }, &code, &out);
    if (code == 77)
      QSKIP(qPrintable("cannot mount a tmpfs here (needs CAP_SYS_ADMIN); the RLIMIT_FSIZE test covers a full disk: " +
                       QString::fromUtf8(out).trimmed()));
    qInfo("%s", out.constData());
    QVERIFY2(code == 0, qPrintable(QString::fromUtf8(out) + err));
    QVERIFY2(out.contains("error cannot save a mask version") && out.contains("is full"), out.constData());
  }
};

QTEST_GUILESS_MAIN(TstDatabaseReliability)
#include "tst_database_reliability.moc"
