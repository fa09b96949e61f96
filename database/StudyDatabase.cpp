#include "database/StudyDatabase.h"
#include "database/QtText.h"

#include "core/AtomicFile.h"
#include "core/Error.h"
#include "core/io/ImageIO.h"
#include "database/Blinding.h"
#include "database/ContentHash.h"
#include "database/ImagePaths.h"
#include "database/LabelTables.h"
#include "core/display/LabelPresets.h"
#include "database/studies/Plausibility.h"
#include "database/Schema.h"
#include "database/SharedSql.h"
#include "database/SqlDialect.h"
#include "database/server/Connection.h"
#include "database/server/ServerSecurity.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QElapsedTimer>
#include <QThread>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QStandardPaths>
#include <QUrl>
#include <QUrlQuery>
#include <QUuid>
#include <QVariant>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <pwd.h>
#include <set>
#include <thread>
#include <sys/statvfs.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace panseg::db
{
namespace
{
using detail::i64;
using detail::idOrNull;
using detail::str;

std::string nowUtc() { return QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs).toStdString(); }

std::string osUserName()
{
  if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name && *pw->pw_name)
    return pw->pw_name;
  const QByteArray env = qgetenv("USER");
  return env.isEmpty() ? "user-" + std::to_string(::geteuid()) : env.toStdString();
}

std::string directionText(const Mat3& m)
{
  std::string s;
  char buf[40];
  for (double v : m)
  {
    std::snprintf(buf, sizeof buf, "%.17g", v);
    s += (s.empty() ? "" : " ") + std::string(buf);
  }
  return s;
}

Mat3 parseDirection(const std::string& text)
{
  Mat3 m{ 1, 0, 0, 0, 1, 0, 0, 0, 1 };
  const QStringList parts = qs(text).split(' ', Qt::SkipEmptyParts);
  if (parts.size() == 9)
    for (int i = 0; i < 9; ++i)
      m[size_t(i)] = parts[i].toDouble();
  return m;
}

std::string jsonText(const QJsonObject& o) { return QJsonDocument(o).toJson(QJsonDocument::Compact).toStdString(); }

QJsonObject parseJsonObject(const std::string& text)
{
  const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(text));
  return doc.isObject() ? doc.object() : QJsonObject();
}

/// Says whether the disk holding `folder` is full, for messages about failed writes.
std::string freeSpaceNote(const std::string& folder)
{
  struct statvfs st{};
  if (::statvfs(folder.c_str(), &st) != 0)
    return {};
  const double freeMb = double(st.f_bavail) * double(st.f_frsize) / (1024.0 * 1024.0);
  char buf[200];
  if (freeMb < 1.0)
    std::snprintf(buf, sizeof buf, "; the disk holding %s is full (%.0f kB free)", folder.c_str(), freeMb * 1024.0);
  else
    std::snprintf(buf, sizeof buf, " (%.0f MB free on the disk holding %s)", freeMb, folder.c_str());
  return buf;
}

// ---- the audit hash chain ----------------------------------------------------------------------
const std::string kGenesisHash(64, '0'); // prev_hash of the first entry

/// SHA-256 (hex) of an audit entry's canonical serialisation: every column but id and
/// entry_hash, in a fixed order, each typed and length-prefixed (NULL distinct from 0 and "").
std::string auditEntryHash(int64_t seq, const std::string& at, const QVariant& userId, const std::string& actor,
                           const std::string& action, const std::string& table, const QVariant& recordId,
                           const std::string& details, const std::string& prevHash)
{
  std::string s = "panseg-audit-v1;";
  auto text = [&](const std::string& v) { s += "S" + std::to_string(v.size()) + ":" + v + ";"; };
  auto integer = [&](const QVariant& v) {
    s += v.isNull() || !v.isValid() ? std::string("N;") : "I" + std::to_string(v.toLongLong()) + ";";
  };
  integer(QVariant(qlonglong(seq)));
  text(at);
  integer(userId);
  text(actor);
  text(action);
  text(table);
  integer(recordId);
  text(details);
  text(prevHash);
  return QCryptographicHash::hash(QByteArray::fromStdString(s), QCryptographicHash::Sha256).toHex().toStdString();
}

/// Orphan mask files are only ever files PanSeg named: "m<timestamp>-<8 hex>.nii.gz".
bool isManagedMaskName(const std::string& name)
{
  return name.size() > 8 && name[0] == 'm' && name.find('-') != std::string::npos &&
         name.compare(name.size() - 7, 7, ".nii.gz") == 0;
}
} // namespace

// ---------------------------------------------------------------------------------------------
struct StudyDatabase::Impl
{
  SqlDialect dialect = SqlDialect::sqlite();
  bool server = false; // PostgreSQL (server mode): masks in mask_blobs, identity from the server
  mutable bool inTransaction = false; // a WriteTransaction is open on this connection
  OpenOptions options;
  std::string folder;
  std::string dbPath;
  QString connectionName;
  QSqlDatabase db;
  User user;
  int schemaVersion = 0;
  bool auditChained = false; // schema 5: entries carry seq, prev_hash, entry_hash
  mutable bool auditRowSecurityKnown = false, auditRowSecurity = false; // server mode: see appendAudit
  SweepReport openSweep;

  ~Impl()
  {
    if (db.isValid())
      db.close();
    db = QSqlDatabase();
    if (!connectionName.isEmpty())
      QSqlDatabase::removeDatabase(connectionName);
  }

  /// One clear line for a failed statement, naming the database and what was being done.
  Error sqlError(const QSqlError& e, const std::string& what) const
  {
    std::string text = e.text().trimmed().toStdString();
    // A statement on a connection that is not open (the server dropped it and could not be
    // reached again: revive() failed) carries no text of its own: the reason is the
    // connection's, else it is a lost connection.
    if (text.empty() && !db.isOpen())
    {
      const std::string why = db.lastError().text().trimmed().toStdString();
      text = server ? "no connection to the server" + (why.empty() ? std::string() : " (" + why + ")")
                    : (why.empty() ? std::string("the database connection is not open") : why);
    }
    auto has = [&](const char* s) { return text.find(s) != std::string::npos; };
    if (dialect.isBusyError(text))
      return Error("cannot " + what + ": the study database " + dbPath +
                   " is busy (another process has held its write lock for more than " +
                   std::to_string(options.busyTimeoutMs / 1000) + " s); try again");
    if (server)
      return serverError(text, what);
    if (has("file is not a database"))
      return Error(dbPath + " is not a SQLite database (the file is corrupt or is something else); restore it from "
                            "a backup or move it away to start a new study database");
    if (has("malformed") || has("corrupt"))
      return Error("the study database " + dbPath + " is corrupt (" + text +
                   "); restore it from a backup (panseg db check shows what is damaged)");
    if (has("disk is full") || has("database or disk is full"))
      return Error("cannot " + what + ": the disk holding " + dbPath + " is full" + freeSpaceNote(folder));
    if (has("readonly") || has("read-only"))
      return Error("cannot " + what + ": the study database " + dbPath + " is read-only");
    if (has("disk I/O error"))
      return Error("cannot " + what + ": disk I/O error on " + dbPath +
                   " (full disk, file size limit or failing storage)" + freeSpaceNote(folder));
    return Error("cannot " + what + " (" + dbPath + "): " + text);
  }

  /// Server mode: the PostgreSQL error classes users meet, each with its own line.
  Error serverError(const std::string& text, const std::string& what) const
  {
    auto has = [&](const char* s) { return text.find(s) != std::string::npos; };
    if (has("password authentication failed")) // PostgreSQL says no more, also for an expired account
      return Error("sign-in to " + dbPath +
                   " failed: wrong user name or password, or the account has expired (the server does not say "
                   "which; an administrator sees expiry dates in panseg server user list)");
    if (has("no password supplied"))
      return Error("sign-in to " + dbPath +
                   " needs a password (give it at the prompt, in PGPASSWORD or in ~/.pgpass)");
    if (has("is not permitted to log in") || has("has expired"))
      return Error("sign-in to " + dbPath + " refused: the account is disabled or expired; ask an administrator");
    if (SqlDialect::isConnectionLost(text))
      return Error("cannot " + what + ": the database server " + dbPath + " is not reachable (" + firstLine(text) +
                   "); unsaved edits stay in the recovery file, try again when the server is back");
    if (has("permission denied for database"))
      return Error("sign-in to " + dbPath +
                   " refused: this account may not use this database (it is not a PanSeg user there); an "
                   "administrator adds users with panseg server user add");
    if (has("permission denied") || has("row-level security"))
      return Error("cannot " + what + ": your account has no permission for this on " + dbPath + " (" +
                   firstLine(text) + ")");
    if (has("database") && has("does not exist"))
      return Error("the database named in " + dbPath + " does not exist on the server; check the URI");
    if (has("SSL") || has("certificate"))
      return Error("cannot connect securely to " + dbPath + ": " + firstLine(text));
    return Error("cannot " + what + " (" + dbPath + "): " + firstLine(text));
  }
  static std::string firstLine(const std::string& text)
  {
    std::string t = text.substr(0, text.find('\n'));
    while (!t.empty() && (t.back() == ' ' || t.back() == '\r'))
      t.pop_back();
    return t;
  }

  QSqlQuery prepare(const std::string& sql) const
  {
    revive();
    QSqlQuery q(db);
    if (!q.prepare(qs(sql)))
      throw sqlError(q.lastError(), "prepare a statement");
    return q;
  }

  void run(QSqlQuery& q, const std::string& what) const
  {
    if (!q.exec())
    {
      const QSqlError e = q.lastError();
      endAbortedTransaction();
      throw sqlError(e, what);
    }
  }

  /// Server mode: reopens a connection the server dropped (restart) before the next statement.
  void revive() const
  {
    if (server && !inTransaction) // never continue a transaction on a new connection
      reviveIfLost(const_cast<QSqlDatabase&>(db), dialect.connectionSetup(options.busyTimeoutMs));
  }

  void execDirect(const std::string& sql, const std::string& what) const
  {
    if (sql.rfind("ROLLBACK", 0) != 0 && sql.rfind("COMMIT", 0) != 0)
      revive();
    QSqlQuery q(db);
    if (!q.exec(qs(sql)))
    {
      const QSqlError e = q.lastError();
      endAbortedTransaction();
      throw sqlError(e, what);
    }
  }

  /// PostgreSQL: a failed statement aborts the whole transaction; roll it back at once, so that
  /// the failed statement can be released and nothing runs on in it.
  void endAbortedTransaction() const
  {
    if (server)
    {
      QSqlQuery r(db);
      r.exec("ROLLBACK");
    }
  }

  /// First column of the first row, or an invalid QVariant when there is no row.
  QVariant scalar(const std::string& sql, const QVariantList& binds, const std::string& what) const
  {
    QSqlQuery q = prepare(sql);
    for (const auto& b : binds)
      q.addBindValue(b);
    run(q, what);
    return q.next() ? q.value(0) : QVariant();
  }

  int64_t insertReturningId(const std::string& sql, const QVariantList& binds, const std::string& what) const
  {
    const QVariant v = scalar(sql + " RETURNING id", binds, what);
    if (!v.isValid())
      throw Error("cannot " + what + ": the database returned no id");
    return v.toLongLong();
  }

  void audit(const std::string& action, const std::string& table, int64_t recordId, const QJsonObject& details) const
  {
    appendAudit(action, table, recordId, jsonText(details), {});
  }

  /// The one function that writes the audit log (StudyDatabase::appendAudit). The caller's write
  /// transaction holds the write lock, so "read the last hash, insert" cannot interleave.
  void appendAudit(const std::string& action, const std::string& table, int64_t recordId,
                   const std::string& detailsJson, const std::string& atIn, const User* as = nullptr) const
  {
    const std::string at = atIn.empty() ? nowUtc() : atIn;
    const User& author = as ? *as : user;
    const QVariant userId = idOrNull(author.id);
    const std::string actor = author.username.empty() ? osUserName() : author.username;
    const QVariant record = idOrNull(recordId);
    const std::string details = detailsJson.empty() ? "{}" : detailsJson;
    if (!auditChained) // a database opened below schema 5 (tests of migrations)
    {
      QSqlQuery q = prepare("INSERT INTO audit_log (at, user_id, actor, action, table_name, record_id, details)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?)");
      for (const QVariant& v : QVariantList{ qs(at), userId, qs(actor), qs(action), qs(table), record, qs(details) })
        q.addBindValue(v);
      run(q, "write the audit log");
      return;
    }
    // Server mode: the chain's head may lie in rows row-level security hides from this user.
    if (server && !auditRowSecurityKnown)
    {
      auditRowSecurity = !scalar("SELECT pg_catalog.pg_get_userbyid(datdba) = current_user FROM pg_catalog.pg_database"
                                 " WHERE datname = current_database()",
                                 {}, "read the database owner")
                            .toBool();
      auditRowSecurityKnown = true;
    }
    QSqlQuery last = prepare(dialect.auditHeadQuery(server && auditRowSecurity));
    run(last, "read the end of the audit log");
    int64_t seq = 1;
    std::string prev = kGenesisHash;
    if (last.next())
    {
      seq = i64(last.value(0)) + 1;
      prev = str(last.value(1));
    }
    const std::string hash = auditEntryHash(seq, at, userId, actor, action, table, record, details, prev);
    QSqlQuery q = prepare("INSERT INTO audit_log (at, user_id, actor, action, table_name, record_id, details, seq,"
                          " prev_hash, entry_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    for (const QVariant& v : QVariantList{ qs(at), userId, qs(actor), qs(action), qs(table), record, qs(details),
                                           qlonglong(seq), qs(prev), qs(hash) })
      q.addBindValue(v);
    run(q, "write the audit log");
  }

  /// Migration 5: chains the entries written before it, oldest first.
  void chainExistingAuditEntries() const
  {
    struct Row
    {
      int64_t id;
      std::string at, actor, action, table, details;
      QVariant userId, recordId;
    };
    std::vector<Row> rows;
    QSqlQuery q = prepare("SELECT id, at, user_id, actor, action, table_name, record_id, details FROM audit_log ORDER BY id");
    run(q, "read the audit log");
    while (q.next())
      rows.push_back({ i64(q.value(0)), str(q.value(1)), str(q.value(3)), str(q.value(4)), str(q.value(5)),
                       str(q.value(7)), q.value(2), q.value(6) });
    std::string prev = kGenesisHash;
    int64_t seq = 0;
    for (const Row& r : rows)
    {
      ++seq;
      const std::string hash =
        auditEntryHash(seq, r.at, r.userId, r.actor, r.action, r.table, r.recordId, r.details, prev);
      QSqlQuery u = prepare("UPDATE audit_log SET seq = ?, prev_hash = ?, entry_hash = ? WHERE id = ?");
      u.addBindValue(qlonglong(seq));
      u.addBindValue(qs(prev));
      u.addBindValue(qs(hash));
      u.addBindValue(qlonglong(r.id));
      run(u, "chain the existing audit entries");
      prev = hash;
    }
  }

  /// Migration 6: removes the second and later copies of an imported mask on a series (left by
  /// concurrent imports) when nothing refers to them and they are in the first copy's state;
  /// otherwise refuses, naming them. Their files are left to the orphan sweep.
  void removeDuplicateImportMasks() const
  {
    struct Twin
    {
      int64_t id, kept, series;
      std::string file, sha;
      bool removable;
      std::string why;
    };
    std::vector<Twin> twins;
    QSqlQuery q = prepare("SELECT id, series_id, content_hash, state, file_path, sha256 FROM mask_versions"
                          " WHERE source = 'import' ORDER BY series_id, content_hash, id");
    run(q, "look for duplicated imported masks");
    int64_t keptId = 0, keptSeries = -1;
    std::string keptHash, keptState;
    while (q.next())
    {
      const int64_t id = i64(q.value(0)), series = i64(q.value(1));
      const std::string hash = str(q.value(2)), state = str(q.value(3));
      if (series != keptSeries || hash != keptHash)
      {
        keptId = id;
        keptSeries = series;
        keptHash = hash;
        keptState = state;
        continue;
      }
      twins.push_back({ id, keptId, series, str(q.value(4)), str(q.value(5)), state == keptState,
                        state == keptState ? "" : "its review state differs" });
    }
    std::string blocked;
    for (Twin& t : twins)
    {
      const QVariant refs = scalar(
        "SELECT (SELECT COUNT(*) FROM mask_versions WHERE parent_id = ?)"
        " + (SELECT COUNT(*) FROM reader_study_cases WHERE ai_mask_version_id = ?)"
        " + (SELECT COUNT(*) FROM reader_study_reads WHERE mask_version_id = ?)"
        " + (SELECT COUNT(*) FROM reader_study_ratings WHERE ai_mask_version_id = ?)"
        " + (SELECT COUNT(*) FROM reader_study_consensus WHERE mask_version_id = ?)"
        " + (SELECT COUNT(*) FROM jobs WHERE result_mask_version_id = ?)",
        QVariantList(6, qlonglong(t.id)), "look for references to a duplicated mask");
      if (refs.toLongLong() > 0)
      {
        t.removable = false;
        t.why = "other records refer to it";
      }
      if (!t.removable)
        blocked += (blocked.empty() ? "" : "; ") + std::string("mask version ") + std::to_string(t.id) +
                   " (same import as version " + std::to_string(t.kept) + " of series " + std::to_string(t.series) +
                   "): " + t.why;
    }
    if (!blocked.empty())
      throw Error("cannot add the unique index of imported masks: two imports running at once added masks twice, "
                  "and these copies cannot be removed safely: " +
                  blocked + "; the database is left unchanged (open it with the previous PanSeg version)");
    for (const Twin& t : twins)
    {
      QSqlQuery del = prepare("DELETE FROM mask_versions WHERE id = ?");
      del.addBindValue(qlonglong(t.id));
      run(del, "remove duplicated imported mask version " + std::to_string(t.id));
      audit("remove-duplicate-mask", "mask_versions", t.id,
            QJsonObject{ { "kept", qlonglong(t.kept) }, { "series", qlonglong(t.series) }, { "file", qs(t.file) },
                         { "sha256", qs(t.sha) } });
    }
  }

  std::string maskFolder() const { return folder + "/" + kMaskFolder; }

  /// Server mode: a private local file for a mask on its way into or out of the database.
  std::string scratchPath(const std::string& rel) const
  {
    std::error_code ec;
    const fs::path dir = fs::temp_directory_path(ec) / ("panseg-" + std::to_string(::geteuid()));
    fs::create_directories(dir, ec);
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    return (dir / (QUuid::createUuid().toString(QUuid::Id128).left(12).toStdString() + "-" +
                   fs::path(rel).filename().string()))
      .string();
  }
};

namespace
{
/// A write transaction that holds the write lock from its start (BEGIN IMMEDIATE) and rolls
/// back unless committed.
class WriteTransaction
{
public:
  explicit WriteTransaction(const StudyDatabase::Impl& d, const std::string& what) : m_d(d), m_what(what)
  {
    m_d.execDirect(m_d.dialect.beginWrite(), what);
    m_active = true;
    m_d.inTransaction = true;
    if (const std::string lock = m_d.dialect.writeLock(); !lock.empty())
      m_d.execDirect(lock, what);
  }
  ~WriteTransaction()
  {
    m_d.inTransaction = false;
    if (m_active)
    {
      QSqlQuery q(m_d.db);
      q.exec("ROLLBACK");
    }
  }
  void commit()
  {
    m_d.execDirect("COMMIT", m_what);
    m_active = false;
    m_d.inTransaction = false;
  }
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;

private:
  const StudyDatabase::Impl& m_d;
  std::string m_what;
  bool m_active = false;
};

/// The series columns with a summary of the newest mask version: its label volumes and, from
/// schema version 9 on, its label table (the pancreas volume of the study browser).
std::string seriesSelect(int schemaVersion)
{
  return std::string(
           "SELECT s.id, s.study_id, st.patient_id, p.patient_key, p.patient_id, p.patient_name,"
           " st.study_key, st.study_instance_uid, st.study_date, st.description,"
           " s.series_instance_uid, s.description, s.modality, s.modality_source, s.dicom_modality, s.center,"
           " s.acquisition_date, s.size_x, s.size_y, s.size_z, s.spacing_x_mm, s.spacing_y_mm, s.spacing_z_mm,"
           " s.origin_x_mm, s.origin_y_mm, s.origin_z_mm, s.direction, s.format, s.source_path, s.content_hash,"
           " s.file_count, s.imported_at,"
           " (SELECT COUNT(*) FROM mask_versions mc WHERE mc.series_id = s.id),"
           " lm.id, lm.state, lm.volume_ml, lm.label_volumes") +
         (schemaVersion >= 9 ? ", (SELECT lt.labels FROM mask_label_tables lt WHERE lt.mask_version_id = lm.id)" : "") +
         " FROM series s JOIN studies st ON st.id = s.study_id JOIN patients p ON p.id = st.patient_id"
         " LEFT JOIN mask_versions lm ON lm.id = (SELECT MAX(ml.id) FROM mask_versions ml WHERE ml.series_id = s.id)";
}

/// The pancreas label of a stored label table (JSON; empty = none stored: the defaults' 1).
int pancreasLabelOfJson(const QVariant& json)
{
  if (!json.isValid() || json.isNull())
    return 1;
  try
  {
    return pancreasLabelOf(labelTableFromJson(json.toString().toStdString()));
  }
  catch (const Error&)
  {
    return 1; // an unreadable table reads as the defaults here; labelTable() names the problem
  }
}

SeriesRecord seriesFromRow(const QSqlQuery& q)
{
  SeriesRecord r;
  int c = 0;
  r.id = i64(q.value(c++));
  r.studyId = i64(q.value(c++));
  r.patientRowId = i64(q.value(c++));
  r.patientKey = str(q.value(c++));
  r.patientId = str(q.value(c++));
  r.patientName = str(q.value(c++));
  r.studyKey = str(q.value(c++));
  r.studyInstanceUid = str(q.value(c++));
  r.studyDate = str(q.value(c++));
  r.studyDescription = str(q.value(c++));
  r.seriesInstanceUid = str(q.value(c++));
  r.description = str(q.value(c++));
  r.modality = parseModality(str(q.value(c++))).value_or(Modality::Other);
  r.modalitySource = str(q.value(c++));
  r.dicomModality = str(q.value(c++));
  r.center = str(q.value(c++));
  r.acquisitionDate = str(q.value(c++));
  for (int i = 0; i < 3; ++i)
    r.geometry.size[size_t(i)] = i64(q.value(c++));
  for (int i = 0; i < 3; ++i)
    r.geometry.spacingMm[size_t(i)] = q.value(c++).toDouble();
  for (int i = 0; i < 3; ++i)
    r.geometry.originMm[size_t(i)] = q.value(c++).toDouble();
  r.geometry.direction = parseDirection(str(q.value(c++)));
  r.format = str(q.value(c++));
  r.sourcePath = str(q.value(c++));
  r.contentHash = str(q.value(c++));
  r.fileCount = q.value(c++).toInt();
  r.importedAt = str(q.value(c++));
  r.maskCount = q.value(c++).toInt();
  r.latestMaskId = i64(q.value(c++));
  const QVariant state = q.value(c++);
  if (!state.isNull())
    r.latestMaskState = parseMaskState(str(state));
  const QVariant vol = q.value(c++);
  const QJsonObject vols = parseJsonObject(str(q.value(c++)));
  if (!vol.isNull())
  {
    MaskVersion latest;
    for (auto it = vols.begin(); it != vols.end(); ++it)
      latest.labelVolumesMl[it.key().toInt()] = it.value().toDouble();
    latest.pancreasLabel = pancreasLabelOfJson(q.record().count() > c ? q.value(c) : QVariant());
    r.latestVolumeMl = latest.pancreasVolumeMl();
  }
  return r;
}

/// The mask columns, with the stored plausibility check from schema version 7 on and the label
/// table (its pancreas label) from version 9 on.
std::string maskSelect(int schemaVersion)
{
  const bool checks = schemaVersion >= 7;
  return std::string("SELECT m.id, m.series_id, m.parent_id, m.author_user_id, u.username, m.model_version_id, mv.model_id,"
                     " mv.version, m.source, m.state, m.created_at, m.state_changed_at, m.file_path, m.sha256, m.content_hash,"
                     " m.voxel_count, m.volume_ml, m.label_volumes, m.note, m.imported_from") +
         (checks ? ", p.flagged, p.summary, p.findings, p.details, p.limits_source, p.checked_at" : "") +
         (schemaVersion >= 9 ? ", (SELECT lt.labels FROM mask_label_tables lt WHERE lt.mask_version_id = m.id)"
                               " AS label_table_json"
                             : "") +
         " FROM mask_versions m JOIN users u ON u.id = m.author_user_id"
         " LEFT JOIN model_versions mv ON mv.id = m.model_version_id" +
         (checks ? " LEFT JOIN mask_plausibility p ON p.mask_version_id = m.id" : "");
}

MaskVersion maskFromRow(const QSqlQuery& q)
{
  MaskVersion m;
  int c = 0;
  m.id = i64(q.value(c++));
  m.seriesId = i64(q.value(c++));
  m.parentId = i64(q.value(c++));
  m.authorUserId = i64(q.value(c++));
  m.authorName = str(q.value(c++));
  m.modelVersionId = i64(q.value(c++));
  const std::string modelId = str(q.value(c++));
  const std::string modelVersion = str(q.value(c++));
  if (m.modelVersionId)
    m.modelLabel = modelId + " " + modelVersion;
  m.source = parseMaskSource(str(q.value(c++))).value_or(MaskSource::Reader);
  m.state = parseMaskState(str(q.value(c++))).value_or(MaskState::Draft);
  m.createdAt = str(q.value(c++));
  m.stateChangedAt = str(q.value(c++));
  m.filePath = str(q.value(c++));
  m.sha256 = str(q.value(c++));
  m.contentHash = str(q.value(c++));
  m.voxelCount = i64(q.value(c++));
  m.volumeMl = q.value(c++).toDouble();
  const QJsonObject vols = parseJsonObject(str(q.value(c++)));
  for (auto it = vols.begin(); it != vols.end(); ++it)
    m.labelVolumesMl[it.key().toInt()] = it.value().toDouble();
  m.note = str(q.value(c++));
  m.importedFrom = str(q.value(c++));
  if (const int lt = q.record().indexOf("label_table_json"); lt >= 0)
    m.pancreasLabel = pancreasLabelOfJson(q.value(lt));
  if (q.record().count() > c && !q.value(c).isNull())
  {
    MaskPlausibility& p = m.plausibility;
    p.checked = true;
    p.flagged = q.value(c++).toInt() != 0;
    p.summary = str(q.value(c++));
    const QJsonArray findings = QJsonDocument::fromJson(q.value(c++).toByteArray()).array();
    for (const QJsonValue& f : findings)
      p.findings.push_back(f.toString().toStdString());
    p.detailsJson = str(q.value(c++));
    p.limitsSource = str(q.value(c++));
    p.checkedAt = str(q.value(c++));
  }
  return m;
}

User userFromRow(const QSqlQuery& q)
{
  User u;
  u.id = i64(q.value(0));
  u.username = str(q.value(1));
  u.displayName = str(q.value(2));
  u.role = parseRole(str(q.value(3))).value_or(Role::Reader);
  u.active = q.value(4).toInt() != 0;
  u.createdAt = str(q.value(5));
  return u;
}

Job jobFromRow(const QSqlQuery& q)
{
  Job j;
  int c = 0;
  j.id = i64(q.value(c++));
  j.kind = str(q.value(c++));
  j.state = parseJobState(str(q.value(c++))).value_or(JobState::Queued);
  j.paramsJson = str(q.value(c++));
  j.progress = q.value(c++).toDouble();
  j.message = str(q.value(c++));
  j.seriesId = i64(q.value(c++));
  j.modelVersionId = i64(q.value(c++));
  j.resultMaskVersionId = i64(q.value(c++));
  j.createdBy = i64(q.value(c++));
  j.createdAt = str(q.value(c++));
  j.startedAt = str(q.value(c++));
  j.finishedAt = str(q.value(c++));
  return j;
}

const char* kJobSelect = "SELECT id, kind, state, params_json, progress, message, series_id, model_version_id,"
                         " result_mask_version_id, created_by, created_at, started_at, finished_at FROM jobs";
} // namespace

// ---------------------------------------------------------------------------------------------
std::string StudyDatabase::defaultDataFolder()
{
  const QByteArray env = qgetenv("PANSEG_DB_DIR");
  if (!env.isEmpty())
    return QString::fromLocal8Bit(env).toStdString();
  return (QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) + "/panseg/studies").toStdString();
}

StudyDatabase::StudyDatabase(const std::string& dataFolder) : StudyDatabase(dataFolder, OpenOptions{}) {}

namespace
{
/// Local mode: the data folder with panseg.sqlite and files/masks.
void openLocalFile(StudyDatabase::Impl& d, const std::string& dataFolder)
{
  std::error_code ec;
  d.folder = fs::weakly_canonical(fs::absolute(dataFolder, ec), ec).string();
  if (d.folder.empty())
    d.folder = dataFolder;
  while (d.folder.size() > 1 && d.folder.back() == '/')
    d.folder.pop_back();
  d.dbPath = d.folder + "/" + StudyDatabase::kDatabaseFileName;

  // --- the folder: present (or creatable), a folder, writable -------------------------------
  if (fs::exists(d.folder, ec) && !fs::is_directory(d.folder, ec))
    throw Error("the data folder " + d.folder + " is a file, not a folder");
  if (!fs::exists(d.folder, ec))
  {
    fs::create_directories(d.folder, ec);
    if (ec)
      throw Error("cannot create the data folder " + d.folder + ": " + ec.message());
  }
  if (::access(d.folder.c_str(), W_OK | X_OK) != 0)
    throw Error("the data folder " + d.folder + " is read-only for user " + osUserName() + " (" +
                std::strerror(errno) +
                "); the study database needs write access there for its journal and mask files");
  // --- the database file: absent, empty, or a SQLite file we may write ----------------------
  if (fs::exists(d.dbPath, ec))
  {
    if (fs::is_directory(d.dbPath, ec))
      throw Error(d.dbPath + " is a folder, not a study database file");
    const auto size = fs::file_size(d.dbPath, ec);
    if (size > 0)
    {
      std::ifstream in(d.dbPath, std::ios::binary);
      std::string head(16, '\0');
      in.read(head.data(), 16);
      if (!in || head != d.dialect.fileMagic())
        throw Error(d.dbPath + " is not a SQLite database (it does not start with the SQLite header: the file "
                                "is corrupt or is something else); restore it from a backup or move it away to "
                                "start a new study database");
    }
    if (::access(d.dbPath.c_str(), R_OK | W_OK) != 0)
      throw Error("the study database " + d.dbPath + " is read-only for user " + osUserName() + " (" +
                  std::strerror(errno) + ")");
  }
  fs::create_directories(d.maskFolder(), ec);
  if (ec)
    throw Error("cannot create " + d.maskFolder() + ": " + ec.message());

  // --- connect ------------------------------------------------------------------------------
  d.connectionName = "panseg-db-" + QUuid::createUuid().toString(QUuid::WithoutBraces);
  d.db = QSqlDatabase::addDatabase(qs(d.dialect.driver()), d.connectionName);
  if (!d.db.isValid())
    throw Error("the Qt SQLite driver (QSQLITE) is not available; install libqt6sql6-sqlite");
  d.db.setDatabaseName(qs(d.dbPath));
  d.db.setConnectOptions(qs(d.dialect.connectOptions(d.options.busyTimeoutMs)));
  if (!d.db.open())
    throw d.sqlError(d.db.lastError(), "open the study database");
}

/// Server mode: may this connection change the schema (it owns the database)?
bool serverSchemaOwner(const StudyDatabase::Impl& d)
{
  return d.scalar("SELECT pg_catalog.pg_get_userbyid(datdba) = current_user FROM pg_catalog.pg_database"
                  " WHERE datname = current_database()",
                  {}, "read the database owner")
    .toBool();
}

/// Server mode, owner only: creates or refreshes the server-only objects (ServerSecurity.h)
/// when this program's version of them is newer than the database's, in one transaction.
void applyServerSecurity(StudyDatabase::Impl& d)
{
  int applied = 0;
  {
    QSqlQuery q(d.db);
    if (q.exec("SELECT MAX(version) FROM panseg_server_setup") && q.next())
      applied = q.value(0).toInt();
  }
  if (applied >= serverSecurityVersion())
    return;
  const std::string owner = str(d.scalar("SELECT current_user", {}, "read the signed-in role"));
  WriteTransaction tx(d, "set up the database server for PanSeg");
  for (const std::string& sql : serverSecurityStatements())
  {
    try
    {
      d.execDirect(sql, "set up the database server for PanSeg");
    }
    catch (const Error& e)
    {
      if (std::string(e.what()).find("permission denied to create role") != std::string::npos)
        throw Error("cannot set up " + d.dbPath + ": its owner " + owner +
                    " needs the CREATEROLE attribute (ALTER ROLE ... CREATEROLE) to create PanSeg's group roles");
      throw;
    }
  }
  tx.commit();
}
} // namespace

namespace
{
/// Server mode: connects with Qt's PostgreSQL driver. The URI's user, host, port, database and
/// parameters (sslmode, sslrootcert, ...) go to libpq; what the URI leaves out libpq takes from
/// its environment (PGUSER, PGPASSWORD, ~/.pgpass, PGSSLMODE, ...).
void connectServer(StudyDatabase::Impl& d, const std::string& location)
{
  const QUrl url(QString::fromStdString(location), QUrl::StrictMode);
  QUrl shown = url;
  shown.setPassword(QString());
  d.folder = shown.toString(QUrl::RemovePassword).toStdString();
  d.dbPath = d.folder;
  d.connectionName = "panseg-db-" + QUuid::createUuid().toString(QUuid::WithoutBraces);
  d.db = QSqlDatabase::addDatabase(qs(d.dialect.driver()), d.connectionName);
  if (!d.db.isValid())
    throw Error("the Qt PostgreSQL driver (QPSQL) is not available; install libqt6sql6-psql");
  configureServerConnection(d.db, url, d.options.password, qs(d.dialect.connectOptions(d.options.busyTimeoutMs)),
                            d.folder.empty() ? location : d.folder);
  const QString password = d.db.password();
  if (!d.db.open())
  {
    const std::string text = d.db.lastError().text().toStdString();
    if (password.isEmpty() && d.options.passwordPrompt && text.find("no password supplied") != std::string::npos)
    {
      const std::string user = url.userName().isEmpty() ? qgetenv("PGUSER").toStdString() : url.userName().toStdString();
      d.db.setPassword(QString::fromStdString(d.options.passwordPrompt(
        "Password for " + (user.empty() ? std::string("your account") : user) + " on " + d.folder + ": ")));
      if (d.db.open())
        return;
    }
    throw d.sqlError(d.db.lastError(), "connect to the study database server");
  }
}
} // namespace

namespace
{
std::function<std::string(const std::string&)>& defaultPrompt()
{
  static std::function<std::string(const std::string&)> prompt;
  return prompt;
}
} // namespace

void StudyDatabase::setDefaultPasswordPrompt(std::function<std::string(const std::string& prompt)> prompt)
{
  defaultPrompt() = std::move(prompt);
}

bool StudyDatabase::isServer() const { return d->server; }
const SqlDialect& StudyDatabase::dialect() const { return d->dialect; }

int StudyDatabase::busyTimeoutMs() const { return d->options.busyTimeoutMs; }

StudyDatabase::StudyDatabase(const std::string& dataFolder, const OpenOptions& options) : d(std::make_unique<Impl>())
{
  d->options = options;
  if (dataFolder.empty())
    throw Error("no data folder given for the study database");
  if (SqlDialect::isServerLocation(dataFolder))
  {
    d->server = true;
    d->dialect = SqlDialect::postgresql();
    if (!d->options.passwordPrompt)
      d->options.passwordPrompt = defaultPrompt();
    connectServer(*d, dataFolder);
  }
  else
    openLocalFile(*d, dataFolder);
  for (const std::string& sql : d->dialect.connectionSetup(options.busyTimeoutMs))
  {
    QSqlQuery q(d->db);
    bool ok = q.exec(qs(sql));
    // Switching a new database to WAL needs it to itself, and SQLite does not wait for that
    // (no busy handler): two processes creating the same database at once retry here, up to
    // the busy timeout, instead of failing at once.
    QElapsedTimer waited;
    waited.start();
    while (!ok && d->dialect.isBusyError(q.lastError().text().toStdString()) && waited.elapsed() < options.busyTimeoutMs)
    {
      QThread::msleep(20);
      ok = q.exec(qs(sql));
    }
    if (!ok)
      throw d->sqlError(q.lastError(), "set up the study database connection");
    if (sql.find("journal_mode") != std::string::npos && q.next() &&
        q.value(0).toString().compare("wal", Qt::CaseInsensitive) != 0)
      throw Error("cannot switch " + d->dbPath + " to write-ahead logging (journal mode stays '" +
                  q.value(0).toString().toStdString() + "'); is the data folder on a network file system?");
  }
  // Reading the catalogue touches the first pages: garbage past the header shows up here.
  if (!d->server)
    d->scalar("SELECT COUNT(*) FROM sqlite_master", {}, "read the study database");

  // --- schema -------------------------------------------------------------------------------
  const int latest = latestSchemaVersion();
  const int target = options.maxSchemaVersion > 0 ? std::min(options.maxSchemaVersion, latest) : latest;
  auto readVersion = [&]() -> int {
    QSqlQuery q(d->db);
    if (!q.exec("SELECT MAX(version) FROM schema_version"))
    {
      if (d->dialect.isMissingTableError(q.lastError().text().toStdString()))
        return 0;
      throw d->sqlError(q.lastError(), "read the schema version");
    }
    return q.next() ? q.value(0).toInt() : 0;
  };
  int current = readVersion();
  d->auditChained = current >= 5;
  if (current > latest)
    throw Error("the study database " + d->dbPath + " has schema version " + std::to_string(current) +
                ", newer than this PanSeg understands (" + std::to_string(latest) + "); update PanSeg");
  // On a server only the database owner changes the schema (panseg server init); everyone
  // else meets a schema the owner prepared.
  if (d->server && current < target && (!options.setUpServer || !serverSchemaOwner(*d)))
    throw Error(current == 0 ? "the database " + d->dbPath +
                                 " is not set up for PanSeg; its owner runs: panseg server init " + d->dbPath
                             : "the database " + d->dbPath + " has schema version " + std::to_string(current) +
                                 " and this PanSeg needs " + std::to_string(target) +
                                 "; its owner runs: panseg server init " + d->dbPath);
  if (current < target)
  {
    WriteTransaction tx(*d, "upgrade the study database schema");
    d->execDirect(schemaVersionTableSql(), "create the schema_version table");
    current = readVersion(); // another process may have migrated while we waited for the lock
    d->auditChained = current >= 5;
    const int from = current;
    for (const Migration& m : schemaMigrations(d->dialect))
    {
      if (m.version <= current || m.version > target)
        continue;
      const std::string what = "apply schema migration " + std::to_string(m.version) + " (" + m.description + ")";
      for (const std::string& sql : m.statements)
        d->execDirect(d->dialect.adaptDdl(sql), what);
      if (m.step == "chain-audit-log")
      {
        d->chainExistingAuditEntries();
        d->auditChained = true;
      }
      else if (m.step == "remove-duplicate-import-masks")
      {
        try
        {
          d->removeDuplicateImportMasks();
        }
        catch (const std::exception& e)
        {
          throw Error("cannot " + what + " in " + d->dbPath + ": " + e.what());
        }
      }
      else if (!m.step.empty())
        throw Error("cannot " + what + ": unknown migration step " + m.step);
      for (const std::string& sql : m.statementsAfterStep)
        d->execDirect(d->dialect.adaptDdl(sql), what);
      QSqlQuery q = d->prepare("INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)");
      q.addBindValue(m.version);
      q.addBindValue(qs(m.description));
      q.addBindValue(qs(nowUtc()));
      d->run(q, "record schema migration " + std::to_string(m.version));
      current = m.version;
    }
    if (current != from)
      d->audit("migrate-schema", "schema_version", current, QJsonObject{ { "from", from }, { "to", current } });
    tx.commit();
  }
  d->schemaVersion = current;
  if (d->server && options.setUpServer && serverSchemaOwner(*d))
    applyServerSecurity(*d);

  // --- the acting user ----------------------------------------------------------------------
  if (d->server)
  {
    // The server authenticated this connection: its role is the user. No name given on the
    // command line or in the environment can change that.
    const std::string signedIn = str(d->scalar("SELECT session_user", {}, "read the signed-in user"));
    if (!d->options.username.empty() && d->options.username != signedIn)
      throw Error("--user is not accepted with a database server: you are signed in to " + d->dbPath + " as " +
                  signedIn + " (sign in as " + d->options.username + " to act as them)");
    d->options.username = signedIn;
    if (auto u = userByName(signedIn))
      d->user = *u;
    else if (serverSchemaOwner(*d)) // the owner who set the database up is its first admin
      d->user = addUser(signedIn, Role::Admin);
    else
      throw Error("you are signed in to " + d->dbPath + " as " + signedIn +
                  ", who is not a PanSeg user of this database; an administrator adds you with: panseg server "
                  "user add " + signedIn + " --role reader --db " + d->dbPath);
    if (!d->user.active)
      throw Error("user " + signedIn + " is disabled in the study database " + d->dbPath);
    return;
  }
  if (d->options.username.empty())
    d->options.username = QString::fromLocal8Bit(qgetenv("PANSEG_USER")).toStdString();
  const std::string name = d->options.username.empty() ? osUserName() : d->options.username;
  if (auto u = userByName(name))
    d->user = *u;
  else
  {
    try
    {
      d->user = addUser(name, Role::Reader);
    }
    catch (const Error&)
    {
      // Another process opening the database at the same time added this user first.
      const auto again = userByName(name);
      if (!again)
        throw;
      d->user = *again;
    }
  }
  if (!d->user.active)
    throw Error("user " + name + " is deactivated in the study database " + d->dbPath);

  if (options.sweepOrphans)
    d->openSweep = sweepOrphanFiles();
}

StudyDatabase::~StudyDatabase() = default;

const std::string& StudyDatabase::dataFolder() const { return d->folder; }
std::string StudyDatabase::databasePath() const { return d->dbPath; }
std::string StudyDatabase::absolutePath(const std::string& relative) const
{
  return relative.empty() || relative[0] == '/' ? relative : d->folder + "/" + relative;
}
int StudyDatabase::schemaVersion() const { return d->schemaVersion; }
const User& StudyDatabase::currentUser() const { return d->user; }
std::string StudyDatabase::connectionName() const { return d->connectionName.toStdString(); }
const StudyDatabase::SweepReport& StudyDatabase::openSweepReport() const { return d->openSweep; }

// ---- users ----------------------------------------------------------------------------------
User StudyDatabase::addUser(const std::string& username, Role role, const std::string& displayName)
{
  if (username.empty())
    throw Error("a user needs a name");
  WriteTransaction tx(*d, "add user " + username);
  if (d->scalar("SELECT id FROM users WHERE username = ?", { qs(username) }, "look up a user").isValid())
    throw Error("user " + username + " already exists in " + d->dbPath);
  // The first user of a database created it: an admin.
  const bool first = d->scalar("SELECT COUNT(*) FROM users", {}, "count users").toLongLong() == 0;
  const Role r = first ? Role::Admin : role;
  const int64_t id =
    d->insertReturningId("INSERT INTO users (username, display_name, role, active, created_at) VALUES (?, ?, ?, 1, ?)",
                         { qs(username), qs(displayName), qs(to_string(r)), qs(nowUtc()) }, "add user " + username);
  if (d->user.id == 0 && username == (d->options.username.empty() ? osUserName() : d->options.username))
    d->user = User{ id, username, displayName, r, true, nowUtc() };
  d->audit("add-user", "users", id, QJsonObject{ { "username", qs(username) }, { "role", qs(to_string(r)) } });
  tx.commit();
  return *userByName(username);
}

void StudyDatabase::setUserRole(int64_t userId, Role role)
{
  WriteTransaction tx(*d, "change a user's role");
  const QVariant old = d->scalar("SELECT role FROM users WHERE id = ?", { qlonglong(userId) }, "look up a user");
  if (!old.isValid())
    throw Error("no user with id " + std::to_string(userId));
  QSqlQuery q = d->prepare("UPDATE users SET role = ? WHERE id = ?");
  q.addBindValue(qs(to_string(role)));
  q.addBindValue(qlonglong(userId));
  d->run(q, "change a user's role");
  d->audit("set-user-role", "users", userId, QJsonObject{ { "from", old.toString() }, { "to", qs(to_string(role)) } });
  tx.commit();
  if (userId == d->user.id)
    d->user.role = role;
}

namespace
{
void requireAdmin(const User& u, const std::string& what, bool server)
{
  // On a server an account is also a database role with a password: panseg server user ...
  if (server)
    throw Error("on a database server, accounts are managed with panseg server user add|list|role|disable|enable");
  if (u.role != Role::Admin)
    throw Error("only an admin may " + what + " (user " + u.username + " is a " + to_string(u.role) + ")");
}
} // namespace

User StudyDatabase::addUserAsAdmin(const std::string& username, Role role, const std::string& displayName)
{
  requireAdmin(d->user, "add users", d->server);
  addUser(username, role, displayName); // not the first user: an admin exists, the role is kept
  return *userByName(username);
}

void StudyDatabase::setUserRoleAsAdmin(const std::string& username, Role role)
{
  requireAdmin(d->user, "change roles", d->server);
  const auto u = userByName(username);
  if (!u)
    throw Error("no user " + username + " in " + d->dbPath);
  if (u->id == d->user.id && role != Role::Admin)
    throw Error("an admin cannot take away their own admin role (another admin can)");
  setUserRole(u->id, role);
}

void StudyDatabase::setUserActive(const std::string& username, bool active)
{
  requireAdmin(d->user, active ? "enable users" : "disable users", d->server);
  const std::string what = (active ? "enable user " : "disable user ") + username;
  WriteTransaction tx(*d, what);
  const QVariant id = d->scalar("SELECT id FROM users WHERE username = ?", { qs(username) }, what);
  if (!id.isValid())
    throw Error("no user " + username + " in " + d->dbPath);
  if (id.toLongLong() == d->user.id && !active)
    throw Error("an admin cannot disable themselves");
  QSqlQuery q = d->prepare("UPDATE users SET active = ? WHERE id = ?");
  q.addBindValue(active ? 1 : 0);
  q.addBindValue(id);
  d->run(q, what);
  d->audit(active ? "enable-user" : "disable-user", "users", id.toLongLong(), QJsonObject{ { "username", qs(username) } });
  tx.commit();
}

std::vector<User> StudyDatabase::users() const
{
  QSqlQuery q = d->prepare("SELECT id, username, display_name, role, active, created_at FROM users ORDER BY id");
  d->run(q, "list users");
  std::vector<User> out;
  while (q.next())
    out.push_back(userFromRow(q));
  return out;
}

std::optional<User> StudyDatabase::userByName(const std::string& username) const
{
  QSqlQuery q =
    d->prepare("SELECT id, username, display_name, role, active, created_at FROM users WHERE username = ?");
  q.addBindValue(qs(username));
  d->run(q, "look up user " + username);
  if (q.next())
    return userFromRow(q);
  return std::nullopt;
}

// ---- series ---------------------------------------------------------------------------------
namespace
{
StudyDatabase::AddedSeries addOneSeries(const StudyDatabase::Impl& d, const StudyDatabase::NewSeries& s)
{
  if (s.contentHash.empty())
    throw Error("a series needs a content hash");
  if (const QVariant existing =
        d.scalar("SELECT id FROM series WHERE content_hash = ?", { qs(s.contentHash) }, "look for a duplicate series");
      existing.isValid())
    return { existing.toLongLong(), true };
  const std::string now = nowUtc();
  int64_t patient = 0;
  if (const QVariant p = d.scalar("SELECT id FROM patients WHERE patient_key = ?", { qs(s.patientKey) }, "find the patient");
      p.isValid())
    patient = p.toLongLong();
  else
  {
    patient = d.insertReturningId("INSERT INTO patients (patient_key, patient_id, patient_name, created_at) VALUES (?, ?, ?, ?)",
                                  { qs(s.patientKey), qs(s.patientId), qs(s.patientName), qs(now) }, "add a patient");
    d.audit("add-patient", "patients", patient, QJsonObject{ { "patient_key", qs(s.patientKey) } });
  }
  int64_t study = 0;
  if (const QVariant st = d.scalar("SELECT id FROM studies WHERE study_key = ?", { qs(s.studyKey) }, "find the study");
      st.isValid())
    study = st.toLongLong();
  else
  {
    study = d.insertReturningId(
      "INSERT INTO studies (patient_id, study_key, study_instance_uid, study_date, description, created_at)"
      " VALUES (?, ?, ?, ?, ?, ?)",
      { qlonglong(patient), qs(s.studyKey), qs(s.studyInstanceUid), qs(s.studyDate), qs(s.studyDescription), qs(now) },
      "add a study");
    d.audit("add-study", "studies", study, QJsonObject{ { "study_key", qs(s.studyKey) }, { "patient", qlonglong(patient) } });
  }
  const Geometry& g = s.geometry;
  const int64_t id = d.insertReturningId(
    "INSERT INTO series (study_id, series_instance_uid, description, modality, modality_source, dicom_modality, center,"
    " acquisition_date, size_x, size_y, size_z, spacing_x_mm, spacing_y_mm, spacing_z_mm, origin_x_mm, origin_y_mm,"
    " origin_z_mm, direction, format, source_path, content_hash, file_count, imported_at, imported_by)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    { qlonglong(study), qs(s.seriesInstanceUid), qs(s.description), qs(to_string(s.modality)), qs(s.modalitySource),
      qs(s.dicomModality), qs(s.center), qs(s.acquisitionDate), qlonglong(g.size[0]), qlonglong(g.size[1]),
      qlonglong(g.size[2]), g.spacingMm[0], g.spacingMm[1], g.spacingMm[2], g.originMm[0], g.originMm[1], g.originMm[2],
      qs(directionText(g.direction)), qs(s.format), qs(s.sourcePath), qs(s.contentHash), s.fileCount, qs(now),
      idOrNull(d.user.id) },
    "add a series");
  QJsonObject details = parseJsonObject(s.auditDetails);
  details["source_path"] = qs(s.sourcePath);
  details["content_hash"] = qs(s.contentHash);
  details["modality"] = qs(to_string(s.modality));
  d.audit("import-series", "series", id, details);
  return { id, false };
}
} // namespace

StudyDatabase::AddedSeries StudyDatabase::addSeries(const NewSeries& series)
{
  WriteTransaction tx(*d, "add a series");
  const AddedSeries r = addOneSeries(*d, series);
  if (!r.duplicate)
    tx.commit();
  return r;
}

std::vector<StudyDatabase::AddedSeries> StudyDatabase::addSeriesBatch(const std::vector<NewSeries>& series)
{
  WriteTransaction tx(*d, "add series");
  std::vector<AddedSeries> out;
  out.reserve(series.size());
  for (const auto& s : series)
    out.push_back(addOneSeries(*d, s));
  tx.commit();
  return out;
}

std::vector<SeriesRecord> StudyDatabase::listSeries(const SeriesFilter& filter) const
{
  std::string sql = seriesSelect(d->schemaVersion);
  std::vector<std::string> where;
  QVariantList binds;
  if (filter.modality)
  {
    if (filter.anyMri && *filter.modality == Modality::Mri)
      where.push_back("s.modality IN ('MRI', 'MRI-T1W', 'MRI-T2W')");
    else
    {
      where.push_back("s.modality = ?");
      binds << qs(to_string(*filter.modality));
    }
  }
  if (!filter.center.empty())
  {
    where.push_back("s.center = ?");
    binds << qs(filter.center);
  }
  for (const QString& word : qs(filter.text).toLower().split(' ', Qt::SkipEmptyParts))
  {
    QString pattern = word;
    pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_");
    where.push_back("LOWER(p.patient_id || ' ' || p.patient_name || ' ' || s.description || ' ' || s.center || ' ' ||"
                    " st.description || ' ' || s.source_path || ' ' || s.modality) LIKE ? ESCAPE '\\'");
    binds << ("%" + pattern + "%");
  }
  for (size_t i = 0; i < where.size(); ++i)
    sql += (i == 0 ? " WHERE " : " AND ") + where[i];
  sql += " ORDER BY s.id";
  if (filter.limit >= 0)
    sql += " LIMIT " + std::to_string(filter.limit);
  QSqlQuery q = d->prepare(sql);
  q.setForwardOnly(true);
  for (const auto& b : binds)
    q.addBindValue(b);
  d->run(q, "list series");
  std::vector<SeriesRecord> out;
  while (q.next())
    out.push_back(seriesFromRow(q));
  hideBlindedMaskSummaries(out);
  return out;
}

void StudyDatabase::hideBlindedMaskSummaries(std::vector<SeriesRecord>& records) const
{
  if (d->schemaVersion < 3 || BlindingRules::exempt(d->user))
    return;
  const std::set<int64_t> blinded = BlindingRules::blindedSeries(d->connectionName, d->user);
  for (SeriesRecord& r : records)
  {
    if (!blinded.count(r.id))
      continue;
    const std::vector<MaskVersion> visible = masksOf(r.id); // filtered by the blinding rules
    r.maskCount = int(visible.size());
    r.latestMaskId = visible.empty() ? 0 : visible.back().id;
    r.latestMaskState = visible.empty() ? std::nullopt : std::optional<MaskState>(visible.back().state);
    r.latestVolumeMl = visible.empty() ? std::nan("") : visible.back().pancreasVolumeMl();
  }
}

std::optional<SeriesRecord> StudyDatabase::series(int64_t seriesId) const
{
  QSqlQuery q = d->prepare(seriesSelect(d->schemaVersion) + " WHERE s.id = ?");
  q.addBindValue(qlonglong(seriesId));
  d->run(q, "read series " + std::to_string(seriesId));
  if (!q.next())
    return std::nullopt;
  std::vector<SeriesRecord> one{ seriesFromRow(q) };
  hideBlindedMaskSummaries(one);
  return one.front();
}

std::optional<int64_t> StudyDatabase::seriesIdByContentHash(const std::string& contentHash) const
{
  const QVariant v = d->scalar("SELECT id FROM series WHERE content_hash = ?", { qs(contentHash) }, "find a series");
  if (v.isValid())
    return v.toLongLong();
  return std::nullopt;
}

void StudyDatabase::setSeriesModality(int64_t seriesId, Modality modality)
{
  WriteTransaction tx(*d, "change the modality of series " + std::to_string(seriesId));
  const QVariant old = d->scalar("SELECT modality FROM series WHERE id = ?", { qlonglong(seriesId) }, "read a series");
  if (!old.isValid())
    throw Error("no series with id " + std::to_string(seriesId) + " in " + d->dbPath);
  QSqlQuery q = d->prepare("UPDATE series SET modality = ?, modality_source = 'user' WHERE id = ?");
  q.addBindValue(qs(to_string(modality)));
  q.addBindValue(qlonglong(seriesId));
  d->run(q, "change the modality of series " + std::to_string(seriesId));
  d->audit("set-series-modality", "series", seriesId,
           QJsonObject{ { "from", old.toString() }, { "to", qs(to_string(modality)) } });
  tx.commit();
}

Image StudyDatabase::loadImage(int64_t seriesId, bool verifyContent) const
{
  const auto s = series(seriesId);
  if (!s)
    throw Error("no series with id " + std::to_string(seriesId) + " in " + d->dbPath);
  std::error_code ec;
  const std::string path = localImagePath(s->sourcePath); // PANSEG_PATH_MAP (ImagePaths.h)
  const std::string mapped = path == s->sourcePath ? std::string() : " (mapped to " + path + " by PANSEG_PATH_MAP)";
  if (!fs::exists(path, ec))
    throw Error("the image of series " + std::to_string(seriesId) + " is stored by reference at " + s->sourcePath +
                mapped + ", which does not exist on this workstation (moved, deleted, or a share not mounted?)");
  Image img = readImage(path);
  if (verifyContent && imageContentHash(img) != s->contentHash)
    throw Error("the image of series " + std::to_string(seriesId) + " at " + path + mapped +
                " has changed since it was imported (its content hash differs); import it again as a new series");
  return img;
}

// ---- mask versions --------------------------------------------------------------------------
int64_t StudyDatabase::saveMaskVersion(int64_t seriesId, const LabelMask& mask, const MaskProvenance& provenance)
{
  const std::string what = "save a mask version for series " + std::to_string(seriesId);
  const auto s = series(seriesId);
  if (!s)
    throw Error("cannot " + what + ": no such series in " + d->dbPath);
  std::string why;
  if (!mask.geometry.sameGrid(s->geometry, &why))
    throw Error("cannot " + what + ": the mask does not lie on the series' grid: " + why);
  if (mask.voxels.size() != size_t(mask.geometry.voxelCount()))
    throw Error("cannot " + what + ": the mask's voxel buffer does not match its size");
  if (provenance.source == MaskSource::AI && provenance.modelVersionId <= 0)
    throw Error("cannot " + what + ": a mask from AI needs the model version that produced it");

  // Statistics and the content hash (outside the lock) on a second thread while this one
  // compresses the file: together they are most of a save's time (`panseg bench db`).
  std::array<int64_t, 256> counts{};
  std::string contentHash;
  std::exception_ptr statisticsFailed;
  std::thread statistics([&] {
    try
    {
      for (uint8_t v : mask.voxels)
        ++counts[v];
      contentHash = maskContentHash(mask);
    }
    catch (...)
    {
      statisticsFailed = std::current_exception();
    }
  });
  struct Join
  {
    std::thread& t;
    std::exception_ptr& failed;
    void wait()
    {
      if (t.joinable())
        t.join();
      if (failed)
        std::rethrow_exception(failed);
    }
    ~Join()
    {
      if (t.joinable())
        t.join();
    }
  } joinStatistics{ statistics, statisticsFailed };
  const double voxelMl = mask.geometry.voxelVolumeMm3() / 1000.0;
  // AI versions are checked for plausibility (Plausibility.h) with their model's limits; the
  // result is stored with the version, in the same transaction.
  std::optional<MaskPlausibility> check;
  if (provenance.source == MaskSource::AI && d->schemaVersion >= 7)
  {
    ModelPlausibility limits;
    try
    {
      limits = modelPlausibilityOfModelVersion(*this, provenance.modelVersionId);
    }
    catch (const Error& e)
    {
      limits = ModelPlausibility{};
      limits.limits.source = std::string("defaults (the model's limits are unreadable: ") + e.what() + ")";
    }
    check = toRecord(assessPlausibility(mask, limits.label, limits.limits), nowUtc());
  }

  // A model's label names (its package files) are read before any lock is taken.
  std::optional<LabelTable> modelLabels;
  if (d->schemaVersion >= 9 && !provenance.labelTable && provenance.parentId <= 0 && provenance.modelVersionId > 0)
    modelLabels = modelLabelTable(provenance.modelVersionId);

  // The write lock is held from before the file is written until its row is committed: the
  // orphan sweep (which takes the same lock) can then never remove a file a live writer needs.
  // Server mode: the file is a private scratch copy that no sweep touches, so it is compressed
  // and verified before the lock and writers queue only for the insert (docs/department-mode.md).
  std::optional<WriteTransaction> tx;
  if (!d->server)
    tx.emplace(*d, what);
  if (provenance.parentId > 0)
  {
    const QVariant parentSeries = d->scalar("SELECT series_id FROM mask_versions WHERE id = ?",
                                            { qlonglong(provenance.parentId) }, "find the parent version");
    if (!parentSeries.isValid())
      throw Error("cannot " + what + ": parent mask version " + std::to_string(provenance.parentId) + " does not exist");
    if (parentSeries.toLongLong() != seriesId)
      throw Error("cannot " + what + ": parent mask version " + std::to_string(provenance.parentId) +
                  " belongs to series " + std::to_string(parentSeries.toLongLong()));
  }
  if (provenance.modelVersionId > 0 &&
      !d->scalar("SELECT id FROM model_versions WHERE id = ?", { qlonglong(provenance.modelVersionId) }, "find the model")
         .isValid())
    throw Error("cannot " + what + ": model version " + std::to_string(provenance.modelVersionId) + " is not registered");

  if (provenance.source == MaskSource::Import)
  {
    joinStatistics.wait();
    // Inside the write transaction: a concurrent import of the same file cannot slip in between
    // (the unique index of migration 6 backs this up).
    const QVariant twin = d->scalar("SELECT MIN(id) FROM mask_versions WHERE series_id = ? AND content_hash = ?",
                                    { qlonglong(seriesId), qs(contentHash) }, "look for the same mask");
    if (twin.isValid() && !twin.isNull())
      throw DuplicateMaskError(twin.toLongLong(), "cannot " + what + ": the same mask is already version " +
                                                    std::to_string(twin.toLongLong()));
  }
  const std::string stamp = QDateTime::currentDateTimeUtc().toString("yyyyMMddThhmmsszzz").toStdString();
  const std::string rel = std::string(kMaskFolder) + "/" + std::to_string(seriesId) + "/m" + stamp + "-" +
                          QUuid::createUuid().toString(QUuid::Id128).left(8).toStdString() + ".nii.gz";
  // Server mode: the file is a local scratch copy whose bytes go into mask_blobs.
  const std::string abs = d->server ? d->scratchPath(rel) : absolutePath(rel);
  std::error_code ec;
  fs::create_directories(fs::path(abs).parent_path(), ec);
  if (ec)
    throw Error("cannot " + what + ": cannot create " + fs::path(abs).parent_path().string() + ": " + ec.message());
  bool written = false;
  try
  {
    try
    {
      writeMask(mask, abs);
    }
    catch (const std::exception& e)
    {
      throw Error("cannot " + what + ": " + e.what() + freeSpaceNote(d->folder));
    }
    written = true; // and read back: writeMask compares the file's voxels with the mask's
    // Server mode stores these bytes; both modes record their SHA-256.
    std::string bytes;
    {
      std::ifstream in(abs, std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      if (!in.good() && !in.eof())
        throw Error("cannot " + what + ": cannot read " + abs + " again");
    }
    const std::string sha = sha256Hex(bytes);
    joinStatistics.wait();
    const int64_t nonZero = int64_t(mask.voxels.size()) - counts[0];
    QJsonObject labelVolumes;
    for (int l = 1; l < 256; ++l)
      if (counts[size_t(l)] > 0)
        labelVolumes[QString::number(l)] = double(counts[size_t(l)]) * voxelMl;
    if (!tx)
      tx.emplace(*d, what);
    const std::string now = nowUtc();
    int64_t id = 0;
    try
    {
      id = d->insertReturningId(
        "INSERT INTO mask_versions (series_id, parent_id, author_user_id, model_version_id, source, state, created_at,"
        " state_changed_at, file_path, sha256, content_hash, voxel_count, volume_ml, label_volumes, note, imported_from)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        { qlonglong(seriesId), idOrNull(provenance.parentId), qlonglong(d->user.id), idOrNull(provenance.modelVersionId),
          qs(to_string(provenance.source)), qs(to_string(provenance.state)), qs(now), qs(now), qs(rel), qs(sha),
          qs(contentHash), qlonglong(nonZero), double(nonZero) * voxelMl, qs(jsonText(labelVolumes)),
          qs(provenance.note), qs(provenance.importedFrom) },
        what);
    }
    catch (const Error& e)
    {
      if (provenance.source == MaskSource::Import && d->dialect.isUniqueViolation(e.what()))
        throw DuplicateMaskError(0, "cannot " + what + ": the same mask was imported at the same time");
      throw;
    }
    if (d->server)
    {
      QSqlQuery b = d->prepare("INSERT INTO mask_blobs (mask_version_id, data) VALUES (?, ?)");
      b.addBindValue(qlonglong(id));
      b.addBindValue(QByteArray::fromStdString(bytes));
      d->run(b, what);
    }
    if (check)
    {
      QJsonArray findings;
      for (const std::string& f : check->findings)
        findings.append(qs(f));
      QSqlQuery p = d->prepare("INSERT INTO mask_plausibility (mask_version_id, flagged, summary, findings, details,"
                               " limits_source, checked_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
      p.addBindValue(qlonglong(id));
      p.addBindValue(check->flagged ? 1 : 0);
      p.addBindValue(qs(check->summary));
      p.addBindValue(QString::fromUtf8(QJsonDocument(findings).toJson(QJsonDocument::Compact)));
      p.addBindValue(qs(check->detailsJson));
      p.addBindValue(qs(check->limitsSource));
      p.addBindValue(qs(check->checkedAt));
      d->run(p, what);
    }
    if (d->schemaVersion >= 9)
    {
      // The label table: the caller's, else the parent's, else the model's, else the defaults.
      LabelTable labels = LabelTable::defaults();
      if (provenance.labelTable)
        labels = *provenance.labelTable;
      else if (provenance.parentId > 0)
      {
        const QVariant parentLabels = d->scalar("SELECT labels FROM mask_label_tables WHERE mask_version_id = ?",
                                                { qlonglong(provenance.parentId) }, "read the parent's label table");
        if (parentLabels.isValid() && !parentLabels.isNull())
          labels = labelTableFromJson(parentLabels.toString().toStdString(),
                                      "label table of mask version " + std::to_string(provenance.parentId));
      }
      else if (modelLabels)
        labels = *modelLabels;
      QSqlQuery lt = d->prepare("INSERT INTO mask_label_tables (mask_version_id, labels, created_at) VALUES (?, ?, ?)");
      lt.addBindValue(qlonglong(id));
      lt.addBindValue(qs(labelTableToJson(labels)));
      lt.addBindValue(qs(now));
      d->run(lt, what);
    }
    QJsonObject details{ { "series", qlonglong(seriesId) },
                         { "source", qs(to_string(provenance.source)) },
                         { "state", qs(to_string(provenance.state)) },
                         { "file", qs(rel) },
                         { "sha256", qs(sha) },
                         { "volume_ml", double(nonZero) * voxelMl } };
    if (provenance.parentId > 0)
      details["parent"] = qlonglong(provenance.parentId);
    if (provenance.modelVersionId > 0)
      details["model_version"] = qlonglong(provenance.modelVersionId);
    if (!provenance.importedFrom.empty())
      details["imported_from"] = qs(provenance.importedFrom);
    if (check)
      details["plausibility"] = QJsonObject{ { "flagged", check->flagged }, { "summary", qs(check->summary) } };
    d->audit(provenance.source == MaskSource::Import ? "import-mask" : "save-mask", "mask_versions", id, details);
    tx->commit();
    if (d->server)
      fs::remove(abs, ec);
    return id;
  }
  catch (...)
  {
    // Nothing points at the file (the row was not committed) and we still hold the lock.
    if (written)
      fs::remove(abs, ec);
    throw;
  }
}

std::vector<MaskVersion> StudyDatabase::masksOf(int64_t seriesId) const
{
  QSqlQuery q = d->prepare(maskSelect(d->schemaVersion) + " WHERE m.series_id = ? ORDER BY m.id");
  q.addBindValue(qlonglong(seriesId));
  d->run(q, "list the masks of series " + std::to_string(seriesId));
  std::vector<MaskVersion> out;
  while (q.next())
    out.push_back(maskFromRow(q));
  if (d->schemaVersion >= 3 && !BlindingRules::exempt(d->user))
  {
    const BlindingRules rules(d->connectionName, d->user, seriesId);
    if (rules.active())
      out.erase(std::remove_if(out.begin(), out.end(),
                               [&](const MaskVersion& m) { return !rules.reasonHidden(m).empty(); }),
                out.end());
  }
  return out;
}

std::optional<MaskVersion> StudyDatabase::maskVersion(int64_t versionId) const
{
  QSqlQuery q = d->prepare(maskSelect(d->schemaVersion) + " WHERE m.id = ?");
  q.addBindValue(qlonglong(versionId));
  d->run(q, "read mask version " + std::to_string(versionId));
  if (!q.next())
    return std::nullopt;
  MaskVersion m = maskFromRow(q);
  if (d->schemaVersion >= 3 && !BlindingRules::exempt(d->user))
  {
    const std::string why = BlindingRules(d->connectionName, d->user, m.seriesId).reasonHidden(m);
    if (!why.empty())
      throw Error(why);
  }
  return m;
}

LabelTable StudyDatabase::labelTable(int64_t versionId) const
{
  if (!maskVersion(versionId)) // blinding: the rules of maskVersion
    throw Error("mask version " + std::to_string(versionId) + " not found or not visible to " + d->user.username);
  if (d->schemaVersion < 9)
    return LabelTable::defaults();
  const QVariant v = d->scalar("SELECT labels FROM mask_label_tables WHERE mask_version_id = ?", { qlonglong(versionId) },
                               "read the label table of mask version " + std::to_string(versionId));
  if (!v.isValid() || v.isNull())
    return LabelTable::defaults();
  return labelTableFromJson(v.toString().toStdString(), "label table of mask version " + std::to_string(versionId));
}

LabelTable StudyDatabase::modelLabelTable(int64_t modelVersionId) const
{
  for (const ModelVersion& m : modelVersions())
  {
    if (m.id != modelVersionId)
      continue;
    for (const ModelFile& f : m.files)
    {
      std::error_code ec;
      if (fs::path(f.path).filename() == "model.json" && fs::is_regular_file(f.path, ec))
      {
        try
        {
          return labelTableOfModelPackage(fs::path(f.path).parent_path().string());
        }
        catch (const Error&)
        {
          return LabelTable::defaults(); // a package that was usable for prediction; names are optional
        }
      }
    }
  }
  return LabelTable::defaults();
}

std::optional<int64_t> StudyDatabase::maskIdByContentHash(int64_t seriesId, const std::string& contentHash) const
{
  const QVariant v = d->scalar("SELECT MIN(id) FROM mask_versions WHERE series_id = ? AND content_hash = ?",
                               { qlonglong(seriesId), qs(contentHash) }, "find a mask version");
  if (v.isValid() && !v.isNull())
    return v.toLongLong();
  return std::nullopt;
}

void StudyDatabase::setMaskState(int64_t versionId, MaskState state, const std::string& note, bool acceptFlagged)
{
  const std::string what = "change the state of mask version " + std::to_string(versionId);
  // The rules of loadMask: a version hidden from this user is answered like a missing one, so
  // that neither its existence nor its state is disclosed.
  const std::string notVisible = "cannot change its state: mask version " + std::to_string(versionId) +
                                 " not found or not visible to " + d->user.username;
  std::optional<MaskVersion> version;
  try
  {
    version = maskVersion(versionId);
  }
  catch (const Error&)
  {
  }
  if (!version)
    throw Error(notVisible);
  // Approving a flagged AI version needs the caller's confirmation (ImplausibleMaskError), and
  // the approval's audit entry carries the flag. Versions saved before the check existed are
  // checked now.
  std::optional<MaskPlausibility> flag;
  if (state == MaskState::Approved && version->source == MaskSource::AI)
  {
    const MaskPlausibility p = plausibilityOf(*this, *version);
    if (p.flagged)
      flag = p;
  }
  if (flag && !acceptFlagged)
    throw ImplausibleMaskError(versionId, *flag,
                               "mask version " + std::to_string(versionId) + " is flagged as implausible (" +
                                 flag->summary + "); approving it needs a confirmation");
  WriteTransaction tx(*d, what);
  const QVariant old = d->scalar("SELECT state FROM mask_versions WHERE id = ?", { qlonglong(versionId) }, what);
  if (!old.isValid())
    throw Error(notVisible);
  const MaskState from = parseMaskState(str(old)).value_or(MaskState::Draft);
  if (!isAllowedTransition(from, state))
    throw Error("cannot " + what + " from " + to_string(from) + " to " + to_string(state) +
                ": not a step of the review workflow");
  QSqlQuery q = d->prepare("UPDATE mask_versions SET state = ?, state_changed_at = ? WHERE id = ?");
  q.addBindValue(qs(to_string(state)));
  q.addBindValue(qs(nowUtc()));
  q.addBindValue(qlonglong(versionId));
  d->run(q, what);
  QJsonObject details{ { "from", qs(to_string(from)) }, { "to", qs(to_string(state)) } };
  if (!note.empty())
    details["note"] = qs(note);
  if (flag)
  {
    QJsonArray findings;
    for (const std::string& f : flag->findings)
      findings.append(qs(f));
    details["plausibility"] = QJsonObject{ { "flagged", true },
                                           { "summary", qs(flag->summary) },
                                           { "findings", findings },
                                           { "confirmed_by", qs(d->user.username) } };
  }
  d->audit("set-mask-state", "mask_versions", versionId, details);
  tx.commit();
}

bool StudyDatabase::blindedOn(int64_t seriesId) const
{
  if (d->schemaVersion < 3 || BlindingRules::exempt(d->user))
    return false;
  return BlindingRules::blindedSeries(d->connectionName, d->user).count(seriesId) > 0;
}

bool StudyDatabase::blindedAnywhere() const
{
  if (d->schemaVersion < 3 || BlindingRules::exempt(d->user))
    return false;
  return !BlindingRules::blindedSeries(d->connectionName, d->user).empty();
}

LabelMask StudyDatabase::loadMask(int64_t versionId) const
{
  const auto m = maskVersion(versionId);
  if (!m && d->server && d->schemaVersion >= 3)
  {
    // The server's row-level security hides a blinded version outright, so the reason cannot
    // be told apart from absence without asking the server to leak it: name the open studies.
    const std::vector<std::string> open = BlindingRules::openStudiesOf(d->connectionName, d->user);
    std::string studies;
    for (const std::string& name : open)
      studies += (studies.empty() ? "'" : ", '") + name + "'";
    if (!open.empty())
      throw Error("blinded: mask version " + std::to_string(versionId) + " is not visible to " + d->user.username +
                  " on " + d->dbPath + ": the server hides what reader stud" + (open.size() == 1 ? "y " : "ies ") +
                  studies + " blind" + (open.size() == 1 ? "s" : "") + " while open (or the version does not exist)");
  }
  if (!m)
    throw Error("no mask version " + std::to_string(versionId) + " in " + d->dbPath);
  const std::string which = "mask version " + std::to_string(versionId) + " of series " + std::to_string(m->seriesId);
  std::error_code ec;
  if (d->server)
  {
    const QVariant data = d->scalar("SELECT data FROM mask_blobs WHERE mask_version_id = ?", { qlonglong(versionId) },
                                    "read " + which);
    if (!data.isValid())
      throw Error(which + ": its voxels are missing from the database " + d->dbPath + " (or not visible to " +
                  d->user.username + ")");
    const QByteArray bytes = data.toByteArray();
    const std::string sha = sha256Hex(bytes.toStdString());
    if (sha != m->sha256)
      throw Error(which + ": its stored voxels were altered after they were saved (SHA-256 " + sha.substr(0, 12) +
                  "..., expected " + m->sha256.substr(0, 12) + "...); restore the database from a backup");
    const std::string tmp = d->scratchPath(m->filePath);
    fs::create_directories(fs::path(tmp).parent_path(), ec);
    {
      writeFileAtomically(tmp, bytes.toStdString());
    }
    try
    {
      LabelMask mask = readMask(tmp);
      fs::remove(tmp, ec);
      mask.sourcePath.clear();
      return mask;
    }
    catch (...)
    {
      fs::remove(tmp, ec);
      throw;
    }
  }
  const std::string abs = absolutePath(m->filePath);
  if (!fs::exists(abs, ec))
    throw Error(which + ": its file " + abs + " is missing (deleted or moved outside PanSeg); restore it from a backup");
  const std::string sha = sha256OfFile(abs);
  if (sha != m->sha256)
    throw Error(which + ": its file " + abs + " was altered after it was saved (SHA-256 " + sha.substr(0, 12) +
                "..., expected " + m->sha256.substr(0, 12) + "...); restore it from a backup");
  LabelMask mask = readMask(abs);
  mask.sourcePath = abs;
  return mask;
}

// ---- models and jobs ------------------------------------------------------------------------
int64_t StudyDatabase::registerModelVersion(const ModelVersion& model)
{
  if (model.modelId.empty() || model.version.empty())
    throw Error("a model version needs a model id and a version");
  const std::string what = "register model " + model.modelId + " " + model.version;
  WriteTransaction tx(*d, what);
  QJsonArray files;
  for (const auto& f : model.files)
    files.append(QJsonObject{ { "path", qs(f.path) }, { "sha256", qs(f.sha256) } });
  if (d->scalar("SELECT id FROM model_versions WHERE model_id = ? AND version = ?",
                { qs(model.modelId), qs(model.version) }, what)
        .isValid())
    throw Error("cannot " + what + ": that version is already registered");
  const int64_t id = d->insertReturningId(
    "INSERT INTO model_versions (model_id, version, parent_id, files_json, description, created_at, created_by)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)",
    { qs(model.modelId), qs(model.version), idOrNull(model.parentId),
      QString::fromUtf8(QJsonDocument(files).toJson(QJsonDocument::Compact)), qs(model.description), qs(nowUtc()),
      idOrNull(d->user.id) },
    what);
  d->audit("register-model", "model_versions", id,
           QJsonObject{ { "model_id", qs(model.modelId) }, { "version", qs(model.version) }, { "files", files } });
  tx.commit();
  return id;
}

std::vector<ModelVersion> StudyDatabase::modelVersions() const
{
  QSqlQuery q = d->prepare("SELECT id, model_id, version, parent_id, files_json, description, created_at, created_by"
                           " FROM model_versions ORDER BY id");
  d->run(q, "list model versions");
  std::vector<ModelVersion> out;
  while (q.next())
  {
    ModelVersion m;
    m.id = i64(q.value(0));
    m.modelId = str(q.value(1));
    m.version = str(q.value(2));
    m.parentId = i64(q.value(3));
    for (const auto& v : QJsonDocument::fromJson(q.value(4).toString().toUtf8()).array())
      m.files.push_back({ v.toObject()["path"].toString().toStdString(), v.toObject()["sha256"].toString().toStdString() });
    m.description = str(q.value(5));
    m.createdAt = str(q.value(6));
    m.createdBy = i64(q.value(7));
    out.push_back(std::move(m));
  }
  return out;
}

int64_t StudyDatabase::createJob(const Job& job)
{
  if (job.kind.empty())
    throw Error("a job needs a kind");
  WriteTransaction tx(*d, "create a " + job.kind + " job");
  const int64_t id = d->insertReturningId(
    "INSERT INTO jobs (kind, state, params_json, progress, message, series_id, model_version_id, created_by, created_at)"
    " VALUES (?, 'queued', ?, 0, '', ?, ?, ?, ?)",
    { qs(job.kind), qs(job.paramsJson.empty() ? "{}" : job.paramsJson), idOrNull(job.seriesId),
      idOrNull(job.modelVersionId), idOrNull(d->user.id), qs(nowUtc()) },
    "create a " + job.kind + " job");
  d->audit("create-job", "jobs", id, QJsonObject{ { "kind", qs(job.kind) } });
  tx.commit();
  return id;
}

void StudyDatabase::updateJob(int64_t jobId, JobState state, double progress, const std::string& message,
                              int64_t resultMaskVersionId)
{
  const std::string what = "update job " + std::to_string(jobId);
  WriteTransaction tx(*d, what);
  const QVariant old = d->scalar("SELECT state FROM jobs WHERE id = ?", { qlonglong(jobId) }, what);
  if (!old.isValid())
    throw Error("cannot " + what + ": no such job");
  const std::string now = nowUtc();
  const bool finished = state == JobState::Succeeded || state == JobState::Failed || state == JobState::Cancelled;
  QSqlQuery q = d->prepare(
    "UPDATE jobs SET state = ?, progress = ?, message = ?,"
    " result_mask_version_id = COALESCE(?, result_mask_version_id),"
    " started_at = CASE WHEN ? = 1 AND started_at = '' THEN ? ELSE started_at END,"
    " finished_at = CASE WHEN ? = 1 THEN ? ELSE finished_at END WHERE id = ?");
  q.addBindValue(qs(to_string(state)));
  q.addBindValue(progress);
  q.addBindValue(qs(message));
  q.addBindValue(idOrNull(resultMaskVersionId));
  q.addBindValue(state == JobState::Running ? 1 : 0);
  q.addBindValue(qs(now));
  q.addBindValue(finished ? 1 : 0);
  q.addBindValue(qs(now));
  q.addBindValue(qlonglong(jobId));
  d->run(q, what);
  // Progress ticks are not audited; state changes are.
  if (old.toString().toStdString() != to_string(state))
    d->audit("set-job-state", "jobs", jobId,
             QJsonObject{ { "from", old.toString() }, { "to", qs(to_string(state)) }, { "message", qs(message) } });
  tx.commit();
}

std::optional<Job> StudyDatabase::job(int64_t jobId) const
{
  QSqlQuery q = d->prepare(std::string(kJobSelect) + " WHERE id = ?");
  q.addBindValue(qlonglong(jobId));
  d->run(q, "read job " + std::to_string(jobId));
  if (q.next())
    return jobFromRow(q);
  return std::nullopt;
}

std::vector<Job> StudyDatabase::jobs() const
{
  QSqlQuery q = d->prepare(std::string(kJobSelect) + " ORDER BY id");
  d->run(q, "list jobs");
  std::vector<Job> out;
  while (q.next())
    out.push_back(jobFromRow(q));
  return out;
}

// ---- audit and checks -----------------------------------------------------------------------
std::vector<AuditEntry> StudyDatabase::auditLog(const std::string& tableName, int64_t recordId) const
{
  std::string sql = "SELECT id, at, user_id, actor, action, table_name, record_id, details FROM audit_log";
  QVariantList binds;
  if (!tableName.empty())
  {
    sql += " WHERE table_name = ?";
    binds << qs(tableName);
    if (recordId > 0)
    {
      sql += " AND record_id = ?";
      binds << qlonglong(recordId);
    }
  }
  sql += " ORDER BY id";
  QSqlQuery q = d->prepare(sql);
  for (const auto& b : binds)
    q.addBindValue(b);
  d->run(q, "read the audit log");
  std::vector<AuditEntry> out;
  while (q.next())
  {
    AuditEntry e;
    e.id = i64(q.value(0));
    e.at = str(q.value(1));
    e.userId = i64(q.value(2));
    e.actor = str(q.value(3));
    e.action = str(q.value(4));
    e.tableName = str(q.value(5));
    e.recordId = i64(q.value(6));
    e.detailsJson = str(q.value(7));
    out.push_back(std::move(e));
  }
  return out;
}

void StudyDatabase::appendAudit(const std::string& action, const std::string& table, int64_t recordId,
                                const std::string& detailsJson, const std::string& at) const
{
  d->appendAudit(action, table, recordId, detailsJson, at);
}

void StudyDatabase::appendAuditAs(const User& author, const std::string& action, const std::string& table,
                                  int64_t recordId, const std::string& detailsJson, const std::string& at) const
{
  d->appendAudit(action, table, recordId, detailsJson, at, &author);
}

AuditChainReport StudyDatabase::verifyAuditChain() const
{
  AuditChainReport r;
  if (!d->auditChained)
  {
    r.problem = "the audit log is not hash-chained (schema version " + std::to_string(d->schemaVersion) + ")";
    return r;
  }
  // Server mode: row-level security shows readers and clinicians only their own entries.
  if (d->server && !d->scalar("SELECT panseg_exempt()", {}, "check who may read the audit log").toBool())
    throw Error("only the owner, admins and coordinators can verify the audit log of " + d->dbPath +
                " (row-level security shows " + d->user.username + " only their own entries)");
  QSqlQuery q = d->prepare("SELECT id, at, user_id, actor, action, table_name, record_id, details, seq, prev_hash,"
                           " entry_hash FROM audit_log ORDER BY id");
  q.setForwardOnly(true);
  d->run(q, "read the audit log");
  std::string prevHash = kGenesisHash;
  int64_t prevSeq = 0, prevId = 0;
  auto fail = [&](int64_t id, const std::string& why) {
    if (r.brokenEntryId == 0)
    {
      r.brokenEntryId = id;
      r.problem = why;
    }
  };
  while (q.next())
  {
    ++r.entries;
    if (r.brokenEntryId)
      continue; // count the rest
    const int64_t id = i64(q.value(0));
    const QVariant seqV = q.value(8);
    const int64_t seq = i64(seqV);
    const std::string prev = str(q.value(9)), stored = str(q.value(10));
    const std::string entry = "entry " + std::to_string(id);
    const std::string after = prevId ? "entry " + std::to_string(prevId) : "the start of the log";
    if (stored.empty() || seqV.isNull())
    {
      fail(id, entry + " is not chained: it has no hash (written outside PanSeg, e.g. with raw SQL)");
      continue;
    }
    const std::string hash = auditEntryHash(seq, str(q.value(1)), q.value(2), str(q.value(3)), str(q.value(4)),
                                            str(q.value(5)), q.value(6), str(q.value(7)), prev);
    if (hash != stored)
      fail(id, "content altered: " + entry + "'s columns no longer match its hash");
    else if (prev != prevHash)
    {
      if (seq > prevSeq + 1)
      {
        const int64_t gap = seq - prevSeq - 1;
        fail(id, "entry missing: " + std::to_string(gap) + (gap == 1 ? " entry (sequence " : " entries (sequence ") +
                   std::to_string(prevSeq + 1) + (gap > 1 ? ".." + std::to_string(seq - 1) : "") +
                   (gap == 1 ? ") was" : ") were") + " removed between " + after + " and " + entry);
      }
      else
        fail(id, "link broken: " + entry + " does not carry the hash of " + after +
                   " (that entry was altered and re-hashed, or entries were reordered)");
    }
    else if (seq != prevSeq + 1)
      fail(id, "link broken: " + entry + " has sequence number " + std::to_string(seq) + " after " +
                 std::to_string(prevSeq));
    prevHash = stored;
    prevSeq = seq;
    prevId = id;
  }
  r.ok = r.brokenEntryId == 0;
  r.headSeq = prevSeq;
  r.headHash = r.entries ? prevHash : std::string();
  return r;
}

std::string StudyDatabase::integrityCheck() const
{
  QSqlQuery q(d->db);
  if (!q.exec(qs(d->dialect.integrityCheck())))
    throw d->sqlError(q.lastError(), "check the study database");
  std::string out;
  while (q.next())
    out += (out.empty() ? "" : "\n") + str(q.value(0));
  return out;
}

std::vector<FileProblem> StudyDatabase::verifyFiles() const
{
  if (d->server)
  {
    QSqlQuery q = d->prepare("SELECT m.id, m.file_path, m.sha256, b.data FROM mask_versions m"
                             " LEFT JOIN mask_blobs b ON b.mask_version_id = m.id ORDER BY m.id");
    d->run(q, "read the stored masks");
    std::vector<FileProblem> out;
    while (q.next())
    {
      const std::string where = d->dbPath + " mask_blobs/" + str(q.value(0));
      if (q.value(3).isNull())
        out.push_back({ i64(q.value(0)), where, "missing" });
      else if (const std::string sha = sha256Hex(q.value(3).toByteArray().toStdString()); sha != str(q.value(2)))
        out.push_back({ i64(q.value(0)), where, "altered (SHA-256 " + sha + ", expected " + str(q.value(2)) + ")" });
    }
    return out;
  }
  QSqlQuery q = d->prepare("SELECT id, file_path, sha256 FROM mask_versions ORDER BY id");
  d->run(q, "list mask files");
  std::vector<FileProblem> out;
  while (q.next())
  {
    const int64_t id = i64(q.value(0));
    const std::string rel = str(q.value(1));
    const std::string expected = str(q.value(2));
    const std::string abs = absolutePath(rel);
    std::error_code ec;
    if (!fs::exists(abs, ec))
    {
      out.push_back({ id, abs, "missing" });
      continue;
    }
    try
    {
      const std::string sha = sha256OfFile(abs);
      if (sha != expected)
        out.push_back({ id, abs, "altered (SHA-256 " + sha + ", expected " + expected + ")" });
    }
    catch (const std::exception& e)
    {
      out.push_back({ id, abs, e.what() });
    }
  }
  return out;
}

StudyDatabase::SweepReport StudyDatabase::sweepOrphanFiles()
{
  SweepReport report;
  if (d->server) // nothing on disk: a killed client's transaction is rolled back by the server
    return report;
  // Never wait for the lock here: when another process writes, the sweep is simply skipped.
  d->execDirect(d->dialect.setBusyTimeout(0), "set the busy timeout");
  std::optional<WriteTransaction> tx;
  try
  {
    tx.emplace(*d, "clean up orphaned files");
  }
  catch (const Error&)
  {
    d->execDirect(d->dialect.setBusyTimeout(d->options.busyTimeoutMs), "set the busy timeout");
    return report;
  }
  d->execDirect(d->dialect.setBusyTimeout(d->options.busyTimeoutMs), "set the busy timeout");
  std::set<std::string> referenced;
  {
    QSqlQuery q = d->prepare("SELECT file_path FROM mask_versions");
    d->run(q, "list mask files");
    while (q.next())
      referenced.insert(str(q.value(0)));
  }
  report.ran = true;
  std::error_code ec;
  const fs::path root(d->folder);
  for (auto it = fs::recursive_directory_iterator(d->maskFolder(), ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
  {
    if (!it->is_regular_file(ec))
      continue;
    const std::string name = it->path().filename().string();
    const std::string rel = fs::relative(it->path(), root, ec).string();
    if (name.rfind(".tmp-", 0) == 0)
    {
      if (fs::remove(it->path(), ec))
        ++report.tempFilesRemoved;
    }
    else if (isManagedMaskName(name) && !referenced.count(rel))
    {
      if (fs::remove(it->path(), ec))
        ++report.orphanFilesRemoved;
    }
  }
  if (report.tempFilesRemoved + report.orphanFilesRemoved > 0)
    d->audit("sweep-orphan-files", "", 0,
             QJsonObject{ { "temp_files", report.tempFilesRemoved }, { "orphan_files", report.orphanFilesRemoved } });
  tx->commit();
  return report;
}
} // namespace panseg::db
