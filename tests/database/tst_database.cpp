// The study database on real SQLite files in temporary folders: schema and migrations, import
// (synthetic layouts and ../shared/data/totalsegmentator), mask versions, audit log, checks of
// files and of the database itself, the browser's table model. With PANSEG_TEST_BACKEND=postgresql
// (ctest's tst_database_pg) the portable functions run on a fresh database of a real PostgreSQL
// server each (tests/TestBackend.h); those about the SQLite file and its folder skip there.
#include "../SharedData.h"
#include "../TestBackend.h"
#include "DbTestUtil.h"

#include "core/Error.h"
#include "core/io/ImageIO.h"
#include "database/ContentHash.h"
#include "database/Importer.h"
#include "database/ModalityDetection.h"
#include "database/Schema.h"
#include "database/itemmodels/SeriesTableModel.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

using namespace panseg;
using namespace panseg::db;
namespace fs = std::filesystem;

namespace
{
std::string S(const QString& rel) { return paths::shared(rel).toStdString(); }

/// Runs `fn`, expecting panseg::Error whose message contains every word; returns "" or what went wrong.
template <typename Fn> QString expectError(Fn fn, const QStringList& words)
{
  try
  {
    fn();
  }
  catch (const Error& e)
  {
    const QString m = QString::fromStdString(e.what());
    for (const auto& w : words)
      if (!m.contains(w, Qt::CaseInsensitive))
        return "message lacks '" + w + "': " + m;
    if (m.contains('\n'))
      return "message is not one line: " + m;
    return {};
  }
  catch (const std::exception& e)
  {
    return QString("not a panseg::Error: ") + e.what();
  }
  return "no error";
}

/// A synthetic CT-like image (values -1000..1000, not a label map).
Image noiseImage(const Geometry& g, unsigned seed)
{
  Image img(g);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> v(-1000.f, 1000.f);
  for (auto& x : img.voxels)
    x = std::round(v(rng));
  return img;
}

std::string dir(const QTemporaryDir& t, const char* sub = "db") { return (t.path() + "/" + sub).toStdString(); }

/// What a careless tool or an attacker runs below PanSeg: sqlite3 on the file, or on a server
/// psql as the database's owner (the strongest PanSeg account). Returns the error ("" = ran).
QString rawExec(const test::TestDb& where, const StudyDatabase& db, const QString& sql)
{
  if (!where.server())
    return dbtest::RawSql(db.databasePath()).exec(sql);
  QString out, err;
  const std::string owner = where.owner();
  const int rc = where.pg()->psql(QString::fromStdString(owner), QString::fromStdString(test::TestDb::password(owner)),
                                  where.databaseName(), sql, &out, &err);
  return rc == 0 ? QString() : (err.isEmpty() ? QString("error") : err);
}
/// Server only: the first value `sql` gives, run by the owner with psql.
QString ownerScalar(const test::TestDb& where, const QString& sql)
{
  QString out, err;
  const std::string owner = where.owner();
  where.pg()->psql(QString::fromStdString(owner), QString::fromStdString(test::TestDb::password(owner)),
                   where.databaseName(), sql, &out, &err);
  return out;
}

int countFiles(const std::string& folder, const std::string& prefix = {})
{
  int n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(folder, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file() && it->path().filename().string().rfind(prefix, 0) == 0)
      ++n;
  return n;
}
} // namespace

class TstDatabase : public QObject
{
  Q_OBJECT
private slots:
  // ---- schema --------------------------------------------------------------------------
  void freshDatabaseHasLatestSchema()
  {
    PANSEG_LOCAL_ONLY("the SQLite file, its files/masks folder and constraints read with sqlite (server schema: tst_server_db)");
    QTemporaryDir t;
    {
      StudyDatabase db(dir(t));
      QCOMPARE(db.schemaVersion(), latestSchemaVersion());
      QCOMPARE(schemaMigrations(SqlDialect::sqlite()).back().version, latestSchemaVersion());
      QVERIFY(fs::is_directory(dir(t) + "/files/masks"));
      QCOMPARE(db.integrityCheck(), std::string("ok"));
      // The creator is the first user, an admin.
      QCOMPARE(db.users().size(), size_t(1));
      QCOMPARE(db.currentUser().role, Role::Admin);
    }
    dbtest::RawSql raw(dir(t) + "/panseg.sqlite");
    QCOMPARE(raw.scalar("PRAGMA journal_mode").toString(), QString("wal"));
    QCOMPARE(raw.scalar("SELECT COUNT(*) FROM schema_version").toInt(), latestSchemaVersion());
    for (const char* table :
         { "users", "patients", "studies", "series", "mask_versions", "model_versions", "jobs", "audit_log" })
      QVERIFY2(raw.scalar(QString("SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name='%1'").arg(table))
                   .toInt() == 1,
               table);
    // Foreign keys hold: a series needs its study.
    QVERIFY(!raw.exec("INSERT INTO series (study_id, modality, size_x, size_y, size_z, spacing_x_mm, spacing_y_mm,"
                      " spacing_z_mm, origin_x_mm, origin_y_mm, origin_z_mm, direction, format, source_path,"
                      " content_hash, imported_at) VALUES (999, 'CT', 1, 1, 1, 1, 1, 1, 0, 0, 0, '1 0 0 0 1 0 0 0 1',"
                      " 'NIfTI', '/x', 'h', 'now')")
               .isEmpty());
    // A bad enumeration value is refused by CHECK.
    QVERIFY(!raw.exec("INSERT INTO users (username, role, created_at) VALUES ('eve', 'superuser', 'now')").isEmpty());
  }

  void migrationsRunOnOpenAndKeepData()
  {
    PANSEG_LOCAL_ONLY("migrations checked in the SQLite file");
    QTemporaryDir t;
    int64_t series = 0;
    {
      StudyDatabase::OpenOptions o;
      o.maxSchemaVersion = 1;
      StudyDatabase db(dir(t), o);
      QCOMPARE(db.schemaVersion(), 1);
      series = dbtest::addSyntheticSeries(db, dbtest::grid(8, 8, 4), "old");
    }
    {
      dbtest::RawSql raw(dir(t) + "/panseg.sqlite");
      QCOMPARE(raw.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name='series_modality'").toInt(), 0);
    }
    {
      StudyDatabase db(dir(t));
      QCOMPARE(db.schemaVersion(), latestSchemaVersion());
      QVERIFY(db.series(series).has_value());
      bool migrated = false;
      for (const auto& e : db.auditLog())
        migrated |= e.action == "migrate-schema" && e.detailsJson.find("\"from\":1") != std::string::npos;
      QVERIFY(migrated);
    }
    dbtest::RawSql raw(dir(t) + "/panseg.sqlite");
    QCOMPARE(raw.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name='series_modality'").toInt(), 1);
    // Opening again applies nothing.
    QCOMPARE(raw.scalar("SELECT COUNT(*) FROM schema_version").toInt(), latestSchemaVersion());
  }

  void newerSchemaIsRefused()
  {
    PANSEG_LOCAL_ONLY("a newer schema version written into the SQLite file");
    QTemporaryDir t;
    {
      StudyDatabase db(dir(t));
    }
    {
      dbtest::RawSql raw(dir(t) + "/panseg.sqlite");
      QCOMPARE(raw.exec("INSERT INTO schema_version VALUES (99, 'from the future', 'now')"), QString());
    }
    const QString err = expectError([&] { StudyDatabase db(dir(t)); }, { "schema version 99", "newer", "update PanSeg" });
    QVERIFY2(err.isEmpty(), qPrintable(err));
  }

  // ---- clear errors for a bad data folder ---------------------------------------------------
  void garbageFileIsNotADatabase()
  {
    PANSEG_LOCAL_ONLY("the SQLite header");
    QTemporaryDir t;
    QDir().mkpath(QString::fromStdString(dir(t)));
    {
      std::ofstream out(dir(t) + "/panseg.sqlite", std::ios::binary);
      std::mt19937 rng(5);
      for (int i = 0; i < 8192; ++i)
        out.put(char(rng()));
    }
    const QString err =
      expectError([&] { StudyDatabase db(dir(t)); }, { "panseg.sqlite", "is not a SQLite database", "backup" });
    QVERIFY2(err.isEmpty(), qPrintable(err));
  }

  void damagedPagesAreReportedAsCorrupt()
  {
    PANSEG_LOCAL_ONLY("corrupt SQLite pages");
    QTemporaryDir t;
    {
      StudyDatabase db(dir(t));
      const Geometry g = dbtest::grid(8, 8, 4);
      for (int i = 0; i < 40; ++i)
        dbtest::addSyntheticSeries(db, g, "case" + std::to_string(i));
    }
    {
      // Checkpoint the WAL into the main file, then damage pages behind the header page.
      dbtest::RawSql raw(dir(t) + "/panseg.sqlite");
      raw.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    }
    {
      std::fstream f(dir(t) + "/panseg.sqlite", std::ios::binary | std::ios::in | std::ios::out);
      f.seekp(4096);
      std::mt19937 rng(9);
      for (int i = 0; i < 4096 * 6; ++i)
        f.put(char(rng()));
    }
    QString err;
    try
    {
      StudyDatabase db(dir(t));
      db.listSeries();
      const std::string check = db.integrityCheck();
      if (check == "ok")
        err = "damage went unnoticed";
    }
    catch (const Error& e)
    {
      const QString m = e.what();
      if (!m.contains("corrupt") && !m.contains("not a SQLite database"))
        err = "unclear message: " + m;
    }
    QVERIFY2(err.isEmpty(), qPrintable(err));
  }

  void dataFolderThatIsAFile()
  {
    PANSEG_LOCAL_ONLY("the data folder");
    QTemporaryDir t;
    QFile f(t.path() + "/plain");
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.close();
    const QString err = expectError([&] { StudyDatabase db(dir(t, "plain")); }, { "is a file, not a folder" });
    QVERIFY2(err.isEmpty(), qPrintable(err));
  }

  void readOnlyDataFolder()
  {
    PANSEG_LOCAL_ONLY("a read-only data folder");
    // Root ignores permission bits, so the helper drops to "nobody" when the test runs as root.
    QTemporaryDir t;
    {
      StudyDatabase db(dir(t));
    }
    QFile::setPermissions(t.path(), QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner |
                                      QFileDevice::ReadGroup | QFileDevice::ExeGroup | QFileDevice::ReadOther |
                                      QFileDevice::ExeOther);
    QFile::setPermissions(QString::fromStdString(dir(t)), QFileDevice::ReadOwner | QFileDevice::ExeOwner |
                                                            QFileDevice::ReadGroup | QFileDevice::ExeGroup |
                                                            QFileDevice::ReadOther | QFileDevice::ExeOther);
    QProcess p;
    p.start(PANSEG_DB_HELPER, { "open", QString::fromStdString(dir(t)), "--as-nobody" });
    QVERIFY(p.waitForFinished(30000));
    const QString err = QString::fromUtf8(p.readAllStandardError());
    QFile::setPermissions(QString::fromStdString(dir(t)), QFileDevice::ReadOwner | QFileDevice::WriteOwner |
                                                            QFileDevice::ExeOwner);
    QCOMPARE(p.exitCode(), 1);
    QVERIFY2(err.contains("read-only") && err.contains(QString::fromStdString(dir(t))), qPrintable(err));
    QCOMPARE(err.trimmed().count('\n'), 0);
  }

  // ---- series -----------------------------------------------------------------------------
  void seriesDuplicatesAndFilters()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(t)), where.options({}));
    StudyDatabase::NewSeries s;
    s.patientKey = "dicom:P1";
    s.patientId = "P1";
    s.patientName = "DOE^JANE";
    s.studyKey = "dicom:1.2.3";
    s.studyDate = "2024-05-01";
    s.description = "T2 HASTE axial";
    s.modality = Modality::MriT2w;
    s.center = "Site A";
    s.geometry = dbtest::grid(10, 10, 5);
    s.format = "DICOM";
    s.sourcePath = "/data/p1/t2";
    s.contentHash = "h1";
    const auto a = db.addSeries(s);
    QVERIFY(!a.duplicate);
    const auto again = db.addSeries(s);
    QVERIFY(again.duplicate);
    QCOMPARE(again.id, a.id);
    s.contentHash = "h2";
    s.description = "portal venous";
    s.modality = Modality::CT;
    s.center = "Site B";
    const auto b = db.addSeries(s);
    QVERIFY(!b.duplicate);
    QCOMPARE(db.listSeries().size(), size_t(2));
    const auto first = *db.series(a.id);
    QCOMPARE(first.studyId, db.series(b.id)->studyId); // same study, same patient
    QCOMPARE(first.geometry.size, (Size3{ 10, 10, 5 }));
    QCOMPARE(first.geometry.spacingMm, dbtest::grid(10, 10, 5).spacingMm);

    SeriesFilter f;
    f.modality = Modality::Mri;
    f.anyMri = true;
    QCOMPARE(db.listSeries(f).size(), size_t(1));
    f.anyMri = false;
    QCOMPARE(db.listSeries(f).size(), size_t(0));
    SeriesFilter text;
    text.text = "jane VENOUS";
    QCOMPARE(db.listSeries(text).size(), size_t(1));
    QCOMPARE(db.listSeries(text).front().id, b.id);
    text.text = "100%_"; // LIKE wildcards are literal
    QCOMPARE(db.listSeries(text).size(), size_t(0));
    SeriesFilter center;
    center.center = "Site A";
    QCOMPARE(db.listSeries(center).size(), size_t(1));

    db.setSeriesModality(b.id, Modality::Other);
    QCOMPARE(db.series(b.id)->modality, Modality::Other);
    QCOMPARE(db.series(b.id)->modalitySource, std::string("user"));
    QCOMPARE(db.auditLog("series", b.id).back().action, std::string("set-series-modality"));
  }

  // ---- mask versions ----------------------------------------------------------------------
  void maskVersionsAreImmutableWithParentChain()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(t)), where.options({}));
    const Geometry g = dbtest::grid(32, 24, 8);
    const int64_t series = dbtest::addSyntheticSeries(db, g, "chain");
    std::vector<int64_t> ids;
    std::vector<LabelMask> saved;
    for (unsigned i = 0; i < 3; ++i)
    {
      MaskProvenance p;
      p.source = i == 2 ? MaskSource::Consensus : MaskSource::Reader;
      p.parentId = ids.empty() ? 0 : ids.back();
      saved.push_back(dbtest::randomMask(g, 11 + i));
      ids.push_back(db.saveMaskVersion(series, saved.back(), p));
    }
    const auto versions = db.masksOf(series);
    QCOMPARE(versions.size(), size_t(3));
    QCOMPARE(versions[0].parentId, int64_t(0));
    QCOMPARE(versions[1].parentId, ids[0]);
    QCOMPARE(versions[2].parentId, ids[1]);
    QCOMPARE(versions[2].source, MaskSource::Consensus);
    QCOMPARE(versions[0].authorName, db.currentUser().username);
    // Every version stays readable with its own content; statistics are right.
    for (size_t i = 0; i < 3; ++i)
    {
      const LabelMask m = db.loadMask(ids[i]);
      QVERIFY(m.voxels == saved[i].voxels);
      QVERIFY(m.geometry.sameGrid(g));
      QCOMPARE(versions[i].voxelCount, saved[i].countLabel(0));
      QVERIFY(std::abs(versions[i].volumeMl - saved[i].volumeMl(0)) < 1e-9);
      QVERIFY(std::abs(versions[i].labelVolumesMl.at(2) - saved[i].volumeMl(2)) < 1e-9);
      if (where.server()) // the same bytes in mask_blobs, hashed by the server
        QCOMPARE(ownerScalar(where, QString("SELECT encode(sha256(data), 'hex') FROM mask_blobs WHERE mask_version_id = %1")
                                      .arg(ids[i]))
                   .toStdString(),
                 versions[i].sha256);
      else
      {
        QCOMPARE(versions[i].sha256, sha256OfFile(db.absolutePath(versions[i].filePath)));
        QVERIFY(versions[i].filePath.rfind("files/masks/", 0) == 0);
      }
    }
    QCOMPARE(db.series(series)->maskCount, 3);
    QCOMPARE(db.series(series)->latestMaskId, ids[2]);

    // The database refuses to change or delete a version, whoever asks.
    QString e = rawExec(where, db, QString("UPDATE mask_versions SET file_path = 'x.nii.gz' WHERE id = %1").arg(ids[0]));
    QVERIFY2(e.contains("immutable"), qPrintable(e));
    e = rawExec(where, db, QString("UPDATE mask_versions SET volume_ml = 0 WHERE id = %1").arg(ids[0]));
    QVERIFY2(e.contains("immutable"), qPrintable(e));
    e = rawExec(where, db, QString("DELETE FROM mask_versions WHERE id = %1").arg(ids[0]));
    QVERIFY2(e.contains("immutable"), qPrintable(e));
    QCOMPARE(db.masksOf(series).size(), size_t(3));

    // A mask that does not lie on the series' grid is refused before anything is written.
    const int before = countFiles(dir(t) + "/files");
    const QString err = expectError([&] { db.saveMaskVersion(series, dbtest::randomMask(dbtest::grid(8, 8, 8), 1), {}); },
                                    { "does not lie on the series' grid" });
    QVERIFY2(err.isEmpty(), qPrintable(err));
    QCOMPARE(countFiles(dir(t) + "/files"), before);
    QCOMPARE(db.masksOf(series).size(), size_t(3));
    // A parent from another series is refused.
    const int64_t other = dbtest::addSyntheticSeries(db, g, "other");
    MaskProvenance wrongParent;
    wrongParent.parentId = ids[0];
    const QString err2 = expectError([&] { db.saveMaskVersion(other, saved[0], wrongParent); }, { "belongs to series" });
    QVERIFY2(err2.isEmpty(), qPrintable(err2));
    QCOMPARE(countFiles(dir(t) + "/files"), before);
    QVERIFY(db.masksOf(other).empty());
  }

  void reviewWorkflow()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(t)), where.options({}));
    const Geometry g = dbtest::grid(8, 8, 4);
    const int64_t series = dbtest::addSyntheticSeries(db, g, "review");
    const int64_t v = db.saveMaskVersion(series, dbtest::randomMask(g, 3), {});
    QCOMPARE(db.maskVersion(v)->state, MaskState::Draft);
    QString err = expectError([&] { db.setMaskState(v, MaskState::Approved); }, { "from draft to approved" });
    QVERIFY2(err.isEmpty(), qPrintable(err));
    db.setMaskState(v, MaskState::Submitted);
    db.setMaskState(v, MaskState::Approved, "looks right");
    QCOMPARE(db.maskVersion(v)->state, MaskState::Approved);
    QCOMPARE(db.series(series)->latestMaskState, std::optional<MaskState>(MaskState::Approved));
    const auto log = db.auditLog("mask_versions", v);
    QCOMPARE(log.size(), size_t(3)); // save, submit, approve
    QCOMPARE(log[0].action, std::string("save-mask"));
    QVERIFY(log[2].detailsJson.find("looks right") != std::string::npos);
    QCOMPARE(log[2].actor, db.currentUser().username);
  }

  void modelVersionsAndAiMasks()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(t)), where.options({}));
    const Geometry g = dbtest::grid(8, 8, 4);
    const int64_t series = dbtest::addSyntheticSeries(db, g, "ai");
    QString err = expectError(
      [&] {
        MaskProvenance p;
        p.source = MaskSource::AI;
        db.saveMaskVersion(series, dbtest::randomMask(g, 1), p);
      },
      { "model version" });
    QVERIFY2(err.isEmpty(), qPrintable(err));
    ModelVersion m;
    m.modelId = "panseg-ct";
    m.version = "1.0";
    m.files = { { "model.pt", "abc" } };
    const int64_t base = db.registerModelVersion(m);
    m.version = "1.1";
    m.parentId = base;
    const int64_t tuned = db.registerModelVersion(m);
    QCOMPARE(db.modelVersions().size(), size_t(2));
    QCOMPARE(db.modelVersions()[1].parentId, base);
    QCOMPARE(db.modelVersions()[0].files.front().sha256, std::string("abc"));
    err = expectError([&] { db.registerModelVersion(m); }, { "already registered" });
    QVERIFY2(err.isEmpty(), qPrintable(err));
    MaskProvenance p;
    p.source = MaskSource::AI;
    p.modelVersionId = tuned;
    const int64_t v = db.saveMaskVersion(series, dbtest::randomMask(g, 2), p);
    QCOMPARE(db.maskVersion(v)->modelLabel, std::string("panseg-ct 1.1"));

    Job j;
    j.kind = "inference";
    j.seriesId = series;
    j.modelVersionId = tuned;
    const int64_t job = db.createJob(j);
    db.updateJob(job, JobState::Running, 0.5, "half way");
    QVERIFY(!db.job(job)->startedAt.empty());
    db.updateJob(job, JobState::Succeeded, 1.0, "done", v);
    QCOMPARE(db.job(job)->resultMaskVersionId, v);
    QVERIFY(!db.job(job)->finishedAt.empty());
    QCOMPARE(db.jobs().size(), size_t(1));

    const QString e = rawExec(where, db, "UPDATE model_versions SET version = 'x'");
    QVERIFY2(e.contains("immutable"), qPrintable(e));
  }

  void usersAndRoles()
  {
    PANSEG_LOCAL_ONLY("the first user becomes admin and others are created when they open the folder (server accounts: tst_server_db)");
    QTemporaryDir t;
    StudyDatabase::OpenOptions o;
    o.username = "alice";
    StudyDatabase db(dir(t), o);
    QCOMPARE(db.currentUser().username, std::string("alice"));
    QCOMPARE(db.currentUser().role, Role::Admin);
    const User bob = db.addUser("bob", Role::Clinician, "Bob B.");
    QCOMPARE(bob.role, Role::Clinician);
    db.setUserRole(bob.id, Role::Reader);
    QCOMPARE(db.userByName("bob")->role, Role::Reader);
    const QString err = expectError([&] { db.addUser("bob", Role::Reader); }, { "already exists" });
    QVERIFY2(err.isEmpty(), qPrintable(err));
    // Another login opening the same folder is registered as a reader.
    StudyDatabase::OpenOptions o2;
    o2.username = "carol";
    StudyDatabase db2(dir(t), o2);
    QCOMPARE(db2.currentUser().role, Role::Reader);
    QCOMPARE(db2.users().size(), size_t(3));
  }

  // ---- audit log ------------------------------------------------------------------------------
  void auditLogIsAppendOnly()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(t)), where.options({}));
    const Geometry g = dbtest::grid(8, 8, 4);
    const int64_t series = dbtest::addSyntheticSeries(db, g, "audit");
    db.saveMaskVersion(series, dbtest::randomMask(g, 1), {});
    const size_t n = db.auditLog().size();
    QVERIFY(n >= 4); // add-user, add-patient, add-study, import-series, save-mask (+ migrations)
    QString e = rawExec(where, db, "UPDATE audit_log SET actor = 'mallory'");
    QVERIFY2(e.contains("append-only"), qPrintable(e));
    e = rawExec(where, db, "DELETE FROM audit_log");
    QVERIFY2(e.contains("append-only"), qPrintable(e));
    // Appending works (on a server only in one's own name: the actor is the signed-in user).
    const QString actor = QString::fromStdString(db.currentUser().username);
    QCOMPARE(rawExec(where, db, "INSERT INTO audit_log (at, actor, action) VALUES ('now', '" + actor + "', 'note')"),
             QString());
    QCOMPARE(db.auditLog().size(), n + 1);
    for (const auto& entry : db.auditLog())
      QVERIFY(!entry.at.empty() && !entry.actor.empty() && !entry.action.empty());
  }

  // ---- file integrity ---------------------------------------------------------------------
  void loadMaskDetectsTamperingAndLoss()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(t)), where.options({}));
    const Geometry g = dbtest::grid(16, 16, 8);
    const int64_t series = dbtest::addSyntheticSeries(db, g, "tamper");
    const int64_t a = db.saveMaskVersion(series, dbtest::randomMask(g, 1), {});
    const int64_t b = db.saveMaskVersion(series, dbtest::randomMask(g, 2), {});
    const int64_t c = db.saveMaskVersion(series, dbtest::randomMask(g, 3), {});
    QVERIFY(db.verifyFiles().empty());
    // Flip one byte of a's file, delete b's. On a server the bytes are rows of mask_blobs: even
    // the owner cannot change or delete them (triggers); a superuser who turns the triggers off can.
    if (where.server())
    {
      const QString ida = QString::number(a), idb = QString::number(b);
      QString e = rawExec(where, db, "UPDATE mask_blobs SET data = set_byte(data, 100, get_byte(data, 100) # 90)"
                                     " WHERE mask_version_id = " + ida);
      QVERIFY2(e.contains("immutable"), qPrintable(e));
      e = rawExec(where, db, "DELETE FROM mask_blobs WHERE mask_version_id = " + idb);
      QVERIFY2(e.contains("immutable"), qPrintable(e));
      QVERIFY(db.verifyFiles().empty());
      QString why;
      QVERIFY2(where.pg()->superExec(where.databaseName(),
                                     { "ALTER TABLE mask_blobs DISABLE TRIGGER USER",
                                       "UPDATE mask_blobs SET data = set_byte(data, 100, get_byte(data, 100) # 90)"
                                       " WHERE mask_version_id = " + ida,
                                       "DELETE FROM mask_blobs WHERE mask_version_id = " + idb,
                                       "ALTER TABLE mask_blobs ENABLE TRIGGER USER" },
                                     &why),
               qPrintable(why));
    }
    else
    {
      const std::string fa = db.absolutePath(db.maskVersion(a)->filePath);
      {
        std::fstream f(fa, std::ios::binary | std::ios::in | std::ios::out);
        f.seekg(100);
        const char x = char(f.get());
        f.seekp(100);
        f.put(char(x ^ 0x5a));
      }
      fs::remove(db.absolutePath(db.maskVersion(b)->filePath));
    }
    QString err = expectError([&] { db.loadMask(a); }, { "mask version", "altered", "SHA-256" });
    QVERIFY2(err.isEmpty(), qPrintable(err));
    err = expectError([&] { db.loadMask(b); },
                      { "missing", where.server() ? "mask version" : db.maskVersion(b)->filePath.c_str() });
    QVERIFY2(err.isEmpty(), qPrintable(err));
    QVERIFY(db.loadMask(c).voxels == dbtest::randomMask(g, 3).voxels);
    const auto problems = db.verifyFiles();
    QCOMPARE(problems.size(), size_t(2));
    QCOMPARE(problems[0].maskVersionId, a);
    QVERIFY(problems[0].problem.find("altered") != std::string::npos);
    QCOMPARE(problems[1].problem, std::string("missing"));
  }

  void orphansAreSweptOnOpen()
  {
    PANSEG_LOCAL_ONLY("temporary and orphaned files in files/masks");
    QTemporaryDir t;
    int64_t series = 0;
    std::string kept;
    {
      StudyDatabase db(dir(t));
      const Geometry g = dbtest::grid(8, 8, 4);
      series = dbtest::addSyntheticSeries(db, g, "sweep");
      kept = db.maskVersion(db.saveMaskVersion(series, dbtest::randomMask(g, 1), {}))->filePath;
    }
    // What a writer killed mid-save leaves: a temporary file, and a complete file whose row was
    // never committed. Plus a user's own file, which must survive.
    const std::string folder = dir(t) + "/files/masks/" + std::to_string(series);
    for (const char* name : { ".tmp-99999-m20260101T000000000-deadbeef.nii.gz", "m20260101T000000000-deadbeef.nii.gz",
                              "notes.txt" })
      std::ofstream(folder + "/" + name) << "x";
    StudyDatabase db(dir(t));
    QVERIFY(db.openSweepReport().ran);
    QCOMPARE(db.openSweepReport().tempFilesRemoved, 1);
    QCOMPARE(db.openSweepReport().orphanFilesRemoved, 1);
    QVERIFY(fs::exists(folder + "/notes.txt"));
    QVERIFY(fs::exists(db.absolutePath(kept)));
    QVERIFY(db.verifyFiles().empty());
  }

  // ---- helpers of the import ------------------------------------------------------------------
  void modalityRules()
  {
    ImageInfo ct;
    ct.modality = "CT";
    QCOMPARE(detectModality(ct, {}, 0).modality, Modality::CT);
    ImageInfo mr;
    mr.modality = "MR";
    mr.tags["SeriesDescription"] = "t2_haste_tra_mbh";
    QCOMPARE(detectModality(mr, {}, 0).modality, Modality::MriT2w);
    mr.tags["SeriesDescription"] = "T1FS VIBE post";
    QCOMPARE(detectModality(mr, {}, 0).modality, Modality::MriT1w);
    mr.tags["SeriesDescription"] = "localizer";
    mr.tags["RepetitionTime"] = "4.5";
    mr.tags["EchoTime"] = "2.1";
    QCOMPARE(detectModality(mr, {}, 0).modality, Modality::MriT1w);
    mr.tags["RepetitionTime"] = "4000";
    mr.tags["EchoTime"] = "95";
    QCOMPARE(detectModality(mr, {}, 0).modality, Modality::MriT2w);
    QCOMPARE(detectModality(mr, {}, 0).source, std::string("dicom-tags"));
    mr.tags["EchoTime"] = "40"; // intermediate: weighting unknown
    QCOMPARE(detectModality(mr, {}, 0).modality, Modality::Mri);
    ImageInfo none;
    QCOMPARE(detectModality(none, { "example_ct_sm.nii.gz" }, 0).modality, Modality::CT);
    QCOMPARE(detectModality(none, { "example_mr_sm.nii.gz" }, 0).modality, Modality::Mri);
    QCOMPARE(detectModality(none, { "case7_T2W.nii.gz" }, 0).modality, Modality::MriT2w);
    QCOMPARE(detectModality(none, { "contrast.nii.gz", "t1" }, 0).modality, Modality::MriT1w);
    QCOMPARE(detectModality(none, { "scan.nii.gz" }, -1024).source, std::string("intensity"));
    QCOMPARE(detectModality(none, { "scan.nii.gz" }, 0).modality, Modality::Other);
    QCOMPARE(caseNameOf("/x/imagesTr/pancreas_001_0000.nii.gz"), std::string("pancreas_001"));
    QVERIFY(isMaskNamed("/x/case_seg.nii.gz"));
    QVERIFY(isMaskNamed("/x/labelsTr/case.nii.gz"));
    QVERIFY(!isMaskNamed("/x/segment_ct.nii.gz"));
  }

  // ---- import of synthetic layouts ------------------------------------------------------------
  void importPairsLayoutsAndFailures()
  {
    QTemporaryDir t;
    const QString src = t.path() + "/src";
    const Geometry g = dbtest::grid(20, 16, 6);
    QDir().mkpath(src + "/plain");
    QDir().mkpath(src + "/nnunet/imagesTr");
    QDir().mkpath(src + "/nnunet/labelsTr");
    QDir().mkpath(src + "/orphans/labelsTs");
    auto p = [&](const QString& rel) { return (src + "/" + rel).toStdString(); };
    writeImage(noiseImage(g, 1), p("plain/case1.nii.gz"));
    writeMask(dbtest::randomMask(g, 1), p("plain/case1_seg.nii.gz"));
    writeImage(noiseImage(g, 2), p("plain/case2.nrrd"));
    writeMask(dbtest::randomMask(g, 2), p("plain/case2-mask.nrrd"));
    writeImage(noiseImage(g, 3), p("nnunet/imagesTr/pan_001_0000.nii.gz"));
    writeMask(dbtest::randomMask(g, 3), p("nnunet/labelsTr/pan_001.nii.gz"));
    {
      std::ofstream(p("nnunet/dataset.json")) << R"({"channel_names": {"0": "T2"}, "labels": {"background": 0}})";
    }
    writeMask(dbtest::randomMask(g, 4), p("orphans/labelsTs/lonely.nii.gz"));
    std::ofstream(p("plain/broken.nii.gz")) << "this is not a NIfTI file";
    std::ofstream(p("plain/README.md")) << "notes";

    QTemporaryDir dbDir;
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(dbDir)), where.options({}));
    std::vector<ImportProgress> ticks;
    const ImportReport r = importPath(db, src.toStdString(), [&](const ImportProgress& pr) {
      ticks.push_back(pr);
      return true;
    });
    QCOMPARE(r.importedSeries.size(), size_t(3));
    QCOMPARE(r.importedMasks.size(), size_t(3));
    QCOMPARE(r.failures.size(), size_t(1));
    QCOMPARE(QString::fromStdString(r.failures[0].path), src + "/plain/broken.nii.gz");
    QVERIFY(!r.failures[0].reason.empty());
    bool lonelySkipped = false;
    for (const auto& s : r.skipped)
      lonelySkipped |= s.path.find("lonely") != std::string::npos && s.reason.find("no image") != std::string::npos;
    QVERIFY(lonelySkipped);
    QVERIFY(!ticks.empty());
    QCOMPARE(ticks.back().total, 8); // 4 images (one broken) + 4 masks (one without image)

    // Pairs went to the right series; nnU-Net channel name gave the modality.
    for (int64_t id : r.importedSeries)
    {
      const SeriesRecord s = *db.series(id);
      QCOMPARE(s.maskCount, 1);
      const MaskVersion mv = db.masksOf(id).front();
      QCOMPARE(mv.source, MaskSource::Import);
      const std::string stem = caseNameOf(s.sourcePath);
      QVERIFY2(mv.importedFrom.find(stem == "case2" ? "case2-mask" : stem) != std::string::npos, mv.importedFrom.c_str());
      if (stem == "pan_001")
      {
        QCOMPARE(s.modality, Modality::MriT2w);
        QCOMPARE(s.patientName, std::string("pan_001"));
      }
      QVERIFY(db.loadMask(mv.id).voxels == readMask(mv.importedFrom).voxels);
      QCOMPARE(db.loadImage(id).voxels.size(), size_t(g.voxelCount()));
    }
    // The failed file left nothing: three mask files (on a server three rows of mask_blobs) only.
    if (where.server())
      QCOMPARE(ownerScalar(where, "SELECT count(*) FROM mask_blobs"), QString("3"));
    else
      QCOMPARE(countFiles(dir(dbDir) + "/files/masks"), 3);

    // Importing again adds nothing.
    const ImportReport again = importPath(db, src.toStdString());
    QVERIFY(again.importedSeries.empty() && again.importedMasks.empty());
    QCOMPARE(again.duplicateSeries.size(), size_t(3));
    QCOMPARE(again.duplicateMasks.size(), size_t(3));
    QCOMPARE(db.listSeries().size(), size_t(3));

    // An image that changed on disk after import is noticed.
    writeImage(noiseImage(g, 99), p("plain/case1.nii.gz"));
    int64_t case1 = 0;
    for (const auto& s : db.listSeries())
      if (s.sourcePath == p("plain/case1.nii.gz"))
        case1 = s.id;
    const QString err = expectError([&] { db.loadImage(case1); }, { "changed since it was imported" });
    QVERIFY2(err.isEmpty(), qPrintable(err));
  }

  void importCanBeCancelled()
  {
    QTemporaryDir t;
    const Geometry g = dbtest::grid(12, 12, 4);
    for (unsigned i = 0; i < 5; ++i)
      writeImage(noiseImage(g, 100 + i), (t.path() + QString("/c%1.nii.gz").arg(i)).toStdString());
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(t, "db")), where.options({}));
    int calls = 0;
    const ImportReport r = importPath(db, t.path().toStdString() + "/c0.nii.gz");
    QCOMPARE(r.importedSeries.size(), size_t(1));
    std::atomic<bool> stop{ false };
    ImportOptions o;
    o.cancel = &stop;
    const ImportReport c = importPaths(
      db, { t.path().toStdString() }, o, [&](const ImportProgress& pr) {
        if (pr.stage == "image" && ++calls == 3)
          stop = true;
        return true;
      });
    QVERIFY(c.cancelled);
    QVERIFY(c.importedSeries.size() + c.duplicateSeries.size() < 5);
    QCOMPARE(db.integrityCheck(), std::string("ok"));
  }

  // ---- import of the reference data ----------------------------------------------------------
  void importTotalSegmentator()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator");
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(t)), where.options({}));
    const ImportReport r = importPath(db, S("data/totalsegmentator"));
    QString failures;
    for (const auto& f : r.failures)
      failures += QString::fromStdString(f.path + ": " + f.reason + "\n");
    QVERIFY2(r.failures.empty(), qPrintable(failures));
    QCOMPARE(r.importedSeries.size(), size_t(4)); // DICOM CT, CT full, CT small, MR small
    QCOMPARE(r.importedMasks.size(), size_t(7));

    std::map<std::string, SeriesRecord> byName;
    for (const auto& s : db.listSeries())
      byName[fs::path(s.sourcePath).filename().string()] = s;
    QCOMPARE(byName.size(), size_t(4));

    const SeriesRecord& dicom = byName.at("example_ct_dicom");
    QCOMPARE(dicom.format, std::string("DICOM"));
    QCOMPARE(dicom.modality, Modality::CT);
    QCOMPARE(dicom.modalitySource, std::string("dicom-tags"));
    QCOMPARE(dicom.fileCount, 20);
    QCOMPARE(dicom.geometry.size, (Size3{ 512, 512, 20 }));
    QVERIFY(std::abs(dicom.geometry.spacingMm[0] - 0.9766) < 1e-3);
    QVERIFY(std::abs(dicom.geometry.spacingMm[2] - 2.0) < 1e-3);
    QCOMPARE(dicom.studyDate, std::string("2022-12-08"));
    QCOMPARE(dicom.description, std::string("CT Body 3.0"));
    QCOMPARE(dicom.maskCount, 1);
    // The LAS label map was put on the DICOM grid without resampling: pancreas still 1327 voxels.
    const MaskVersion dm = db.masksOf(dicom.id).front();
    QVERIFY(dm.note.find("reoriented") != std::string::npos);
    QCOMPARE(db.loadMask(dm.id).countLabel(7), int64_t(1327));
    QVERIFY(std::abs(dm.labelVolumesMl.at(7) - 2.53) < 0.005);

    const SeriesRecord& full = byName.at("example_ct.nii.gz");
    QCOMPARE(full.modality, Modality::CT);
    QCOMPARE(full.geometry.size, (Size3{ 122, 101, 112 }));
    QCOMPARE(full.maskCount, 3); // fast force-split, v1 multilabel, v1 pancreas (a label map by content)
    std::map<std::string, MaskVersion> fullMasks;
    for (const auto& m : db.masksOf(full.id))
      fullMasks[fs::path(m.importedFrom).filename().string()] = m;
    QVERIFY(std::abs(fullMasks.at("example_seg_fast_force_split.nii.gz").labelVolumesMl.at(7) - 18.77) < 0.005);
    QVERIFY(std::abs(fullMasks.at("example_seg_v1_2022.nii.gz").labelVolumesMl.at(10) - 22.09) < 0.005);
    QVERIFY(std::abs(fullMasks.at("pancreas_v1_2022.nii.gz").volumeMl - 22.09) < 0.005);

    const SeriesRecord& small = byName.at("example_ct_sm.nii.gz");
    QCOMPARE(small.geometry.size, (Size3{ 122, 101, 30 }));
    QCOMPARE(small.maskCount, 2);
    const SeriesRecord& mr = byName.at("example_mr_sm.nii.gz");
    QCOMPARE(mr.modality, Modality::Mri);
    QCOMPARE(mr.modalitySource, std::string("file-name"));
    QCOMPARE(mr.geometry.size, (Size3{ 117, 91, 20 }));
    QCOMPARE(mr.maskCount, 1);
    QVERIFY(std::abs(db.masksOf(mr.id).front().labelVolumesMl.at(7) - 31.75) < 0.005);

    // Re-import: nothing new, everything recognised.
    const ImportReport again = importPath(db, S("data/totalsegmentator"));
    QVERIFY(again.importedSeries.empty());
    QVERIFY(again.importedMasks.empty());
    QCOMPARE(again.duplicateSeries.size(), size_t(4));
    QCOMPARE(again.duplicateMasks.size(), size_t(7));
    QCOMPARE(db.listSeries().size(), size_t(4));
    QCOMPARE(db.integrityCheck(), std::string("ok"));
    QVERIFY(db.verifyFiles().empty());
  }

  void importAllSharedData()
  {
    // Reads every file of ../shared/data (about 3.5 minutes on 2 cores, mostly 42 large
    // head-and-neck label maps): run with PANSEG_LONG_TESTS=1.
    if (qEnvironmentVariableIntValue("PANSEG_LONG_TESTS") != 1)
      QSKIP("set PANSEG_LONG_TESTS=1 to import all of ../shared/data (several minutes)");
    PANSEG_REQUIRE_SHARED("data");
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(t)), where.options({}));
    const ImportReport r = importPath(db, S("data"));
    for (const auto& f : r.failures)
      qInfo("failure: %s: %s", f.path.c_str(), f.reason.c_str());
    for (const auto& s : r.skipped)
      qInfo("skipped: %s: %s", s.path.c_str(), s.reason.c_str());
    // Series: 4 TotalSegmentator, dcmqi CT (3 slices), two pydicom multi-frame objects.
    QCOMPARE(r.importedSeries.size(), size_t(7));
    // Masks: 7 TotalSegmentator, 7 dcmqi NRRD label maps on the 3-slice CT.
    QCOMPARE(r.importedMasks.size(), size_t(14));
    // Refused with a reason: gantry tilt (dcm_qa_ct), non-uniform spacing (highdicom), 2-D MR.
    QCOMPARE(r.failures.size(), size_t(3));
    QCOMPARE(db.integrityCheck(), std::string("ok"));
  }

  // ---- the browser's model ----------------------------------------------------------------
  void seriesTableModelFiltersAndSorts()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(t)), where.options({}));
    std::vector<StudyDatabase::NewSeries> rows;
    const Modality kinds[] = { Modality::CT, Modality::MriT1w, Modality::MriT2w, Modality::Other };
    for (int i = 0; i < 200; ++i)
    {
      StudyDatabase::NewSeries s;
      s.patientKey = "p" + std::to_string(i / 2);
      s.patientId = "P" + std::to_string(i / 2);
      s.studyKey = s.patientKey;
      s.studyDate = "2024-01-" + std::to_string(10 + i % 20);
      s.description = i % 10 == 0 ? "arterial phase" : "venous phase";
      s.modality = kinds[i % 4];
      s.center = i % 3 == 0 ? "Site A" : "Site B";
      s.geometry = dbtest::grid(4, 4, 2);
      s.format = "NIfTI";
      s.sourcePath = "/d/" + std::to_string(i);
      s.contentHash = "row" + std::to_string(i);
      rows.push_back(s);
    }
    db.addSeriesBatch(rows);
    SeriesTableModel model;
    model.reload(db);
    QCOMPARE(model.rowCount(), 200);
    QCOMPARE(model.columnCount(), int(SeriesTableModel::ColumnCount));
    SeriesFilterModel proxy;
    proxy.setSourceModel(&model);
    proxy.setModalityFilter(Modality::Mri, true);
    QCOMPARE(proxy.rowCount(), 100);
    proxy.setSearchText("ARTERIAL 2024-01-10"); // every word must match: rows i % 20 == 0
    QCOMPARE(proxy.rowCount(), 0);              // ... which are all CT
    proxy.setModalityFilter(Modality::CT);
    QCOMPARE(proxy.rowCount(), 10);
    proxy.setModalityFilter(std::nullopt);
    proxy.setSearchText({});
    proxy.sort(SeriesTableModel::StudyDateColumn, Qt::DescendingOrder);
    // Two series share each study (the study date is the first one's): latest is day 28.
    QCOMPARE(proxy.data(proxy.index(0, SeriesTableModel::StudyDateColumn)).toString(), QString("2024-01-28"));
    QCOMPARE(model.headerData(SeriesTableModel::VolumeColumn, Qt::Horizontal).toString(), QString("Volume (mL)"));
    const int row = model.rowOfSeries(rows.size() > 0 ? db.listSeries().front().id : 0);
    QCOMPARE(row, 0);
  }
};

QTEST_GUILESS_MAIN(TstDatabase)
#include "tst_database.moc"
