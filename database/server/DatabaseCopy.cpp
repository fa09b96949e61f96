#include "database/server/DatabaseCopy.h"
#include "database/QtText.h"

#include "core/Error.h"
#include "database/ContentHash.h"
#include "database/Schema.h"
#include "database/SharedSql.h"
#include "database/server/ServerSecurity.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSqlRecord>
#include <QUuid>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>

namespace panseg::db
{
namespace
{
using detail::str;

/// A copied table: whether it has an `id` column (kept), and its columns that name a user.
struct TableSpec
{
  const char* name;
  bool hasId;
  std::vector<std::string> userColumns;
};

// In an order that satisfies every foreign key (rows of one table ordered by id: a parent mask
// or model version is always older than its child).
const std::vector<TableSpec>& copiedTables()
{
  static const std::vector<TableSpec> tables = {
    { "patients", true, {} },
    { "studies", true, {} },
    { "series", true, { "imported_by" } },
    { "model_versions", true, { "created_by" } },
    { "mask_versions", true, { "author_user_id" } },
    { "mask_plausibility", false, {} },
    { "mask_label_tables", false, {} },
    { "model_defaults", false, { "promoted_by" } },
    { "jobs", true, { "created_by" } },
    { "reader_studies", true, { "created_by" } },
    { "reader_study_readers", false, { "user_id" } },
    { "reader_study_cases", false, {} },
    { "reader_study_reads", true, { "reader_id", "reviewed_by" } },
    { "reader_study_ratings", true, { "reader_id" } },
    { "reader_study_consensus", true, { "created_by" } },
    { "reference_mask_rules", true, { "reader_user_id", "set_by" } },
  };
  return tables;
}

/// The local database, opened read-only on its own connection (opening it as a StudyDatabase
/// would add the acting user and sweep files: the source of a copy stays untouched).
class Source
{
public:
  explicit Source(const std::string& folder) : m_folder(folder)
  {
    const std::string file = folder + "/" + StudyDatabase::kDatabaseFileName;
    if (!QFileInfo(qs(folder)).isDir())
      throw Error("cannot copy " + folder + ": no such folder");
    if (!QFileInfo::exists(qs(file)))
      throw Error("cannot copy " + folder + ": it holds no study database (" + file + " is missing)");
    m_name = "panseg-copy-src-" + QUuid::createUuid().toString(QUuid::WithoutBraces);
    m_db = QSqlDatabase::addDatabase("QSQLITE", m_name);
    m_db.setDatabaseName(qs(file));
    m_db.setConnectOptions("QSQLITE_OPEN_READONLY;QSQLITE_BUSY_TIMEOUT=30000");
    if (!m_db.open())
      throw Error("cannot open " + file + " to copy it: " + m_db.lastError().text().toStdString());
    m_file = file;
  }
  ~Source()
  {
    m_db.close();
    m_db = QSqlDatabase();
    QSqlDatabase::removeDatabase(m_name);
  }
  QSqlQuery query(const std::string& sql) const
  {
    QSqlQuery q(m_db);
    q.setForwardOnly(true);
    if (!q.exec(qs(sql)))
      throw Error("cannot read " + m_file + " (" + sql.substr(0, 60) + "): " + q.lastError().text().toStdString());
    return q;
  }
  long long count(const std::string& table) const
  {
    QSqlQuery q = query("SELECT COUNT(*) FROM " + table);
    return q.next() ? q.value(0).toLongLong() : 0;
  }
  std::vector<std::string> columns(const std::string& table) const
  {
    std::vector<std::string> out;
    QSqlQuery q = query("PRAGMA table_info(" + table + ")");
    while (q.next())
      out.push_back(str(q.value(1)));
    return out;
  }
  std::string absolute(const std::string& rel) const { return !rel.empty() && rel[0] == '/' ? rel : m_folder + "/" + rel; }
  const std::string& file() const { return m_file; }

  /// BEGIN on the source: every table is read from one snapshot (a running workstation may go on
  /// writing; the copy sees the database as it was when it started).
  void beginSnapshot() const
  {
    query("BEGIN");
    query("SELECT COUNT(*) FROM sqlite_master");
  }

private:
  std::string m_folder, m_file;
  QString m_name;
  QSqlDatabase m_db;
};

class Target : public detail::SharedSql
{
public:
  using SharedSql::SharedSql;
  /// A prepared statement run once per row.
  QSqlQuery prepared(const std::string& sql, const std::string& what) const
  {
    QSqlQuery q(m_conn);
    if (!q.prepare(qs(sql)))
    {
      rollback();
      throw Error("cannot " + what + " (" + m_db.databasePath() + "): " + q.lastError().text().toStdString());
    }
    return q;
  }
  void run(QSqlQuery& q, const std::string& what) const
  {
    if (!q.exec())
    {
      const std::string text = q.lastError().text().toStdString();
      rollback();
      throw Error("cannot " + what + " (" + m_db.databasePath() + "): " + text.substr(0, text.find('\n')) +
                  "; nothing was copied");
    }
  }
  long long count(const std::string& table) const
  {
    return scalar("SELECT COUNT(*) FROM " + table, {}, "count the rows of " + table).toLongLong();
  }
};

QVariant nullId() { return QVariant(QMetaType::fromType<qlonglong>()); }

bool validLoginName(const std::string& name)
{
  static const QRegularExpression re("^[a-z_][a-z0-9_.-]*$");
  return re.match(qs(name)).hasMatch() && name.rfind("panseg_", 0) != 0 && name.rfind("pg_", 0) != 0;
}
} // namespace

DatabaseCopyReport copyDatabaseToServer(const std::string& dataFolder, const std::string& uri,
                                        const StudyDatabase::OpenOptions& options)
{
  QElapsedTimer clock;
  clock.start();
  if (!SqlDialect::isServerLocation(uri))
    throw Error("panseg db copy copies into a database server: --to needs a PostgreSQL URI "
                "(postgresql://owner@host[:port]/database), not " + uri);
  if (SqlDialect::isServerLocation(dataFolder))
    throw Error("panseg db copy copies a local study database: --from needs a data folder, not " + dataFolder);
  const std::string from = QFileInfo(qs(dataFolder)).absoluteFilePath().toStdString();
  Source src(from);
  src.beginSnapshot();

  // --- the source: a PanSeg database of this version, with no table we would leave behind -----
  {
    QSqlQuery q = src.query("SELECT MAX(version) FROM schema_version");
    const int version = q.next() ? q.value(0).toInt() : 0;
    if (version < latestSchemaVersion())
      throw Error("the study database " + src.file() + " has schema version " + std::to_string(version) + ", older than " +
                  std::to_string(latestSchemaVersion()) + "; open it once with this PanSeg (panseg db check --db " +
                  from + ") to upgrade it, then copy");
    if (version > latestSchemaVersion())
      throw Error("the study database " + src.file() + " has schema version " + std::to_string(version) +
                  ", newer than this PanSeg understands; update PanSeg");
    std::set<std::string> known = { "users", "audit_log", "schema_version" };
    for (const TableSpec& t : copiedTables())
      known.insert(t.name);
    QSqlQuery tables = src.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
    while (tables.next())
      if (!known.count(str(tables.value(0))))
        throw Error("cannot copy " + from + ": it has a table this PanSeg does not know how to copy (" +
                    str(tables.value(0)) + "); update PanSeg");
  }

  // --- the target: set up, signed in as its owner, empty ------------------------------------
  StudyDatabase::OpenOptions o = options;
  o.setUpServer = false; // a database nobody set up is refused, not set up by the copy
  StudyDatabase target(uri, o);
  const Target sql(target);
  DatabaseCopyReport report;
  report.from = from;
  report.to = target.databasePath();
  if (sql.scalar("SELECT to_regclass('public.panseg_server_setup') IS NULL", {}, "read the set-up").toBool() ||
      sql.scalar("SELECT COALESCE(MAX(version), 0) FROM panseg_server_setup", {}, "read the set-up").toInt() <
        serverSecurityVersion())
    throw Error("the database " + report.to + " is not set up for this PanSeg; its owner runs: panseg server init " +
                report.to);
  const QVariant owner = sql.scalar("SELECT pg_catalog.pg_get_userbyid(datdba)::text FROM pg_catalog.pg_database"
                                    " WHERE datname = current_database()",
                                    {}, "read the database owner");
  const std::string me = target.currentUser().username;
  if (str(owner) != me)
    throw Error("panseg db copy is run by the owner of " + report.to + " (" + str(owner) +
                "), who sees every row and may keep the audit log's authors; you are signed in as " + me);

  sql.beginWrite("copy " + from + " into " + report.to);
  try
  {
    // Nothing but what `panseg server init` and account administration write.
    std::string held;
    for (const TableSpec& t : copiedTables())
      if (const long long n = sql.count(t.name); n > 0)
        held += (held.empty() ? "" : ", ") + std::to_string(n) + " " + t.name;
    if (const long long n = sql.count("mask_blobs"); n > 0)
      held += (held.empty() ? "" : ", ") + std::to_string(n) + " mask_blobs";
    if (!held.empty())
      throw Error("the database " + report.to + " already holds data (" + held +
                  "); panseg db copy copies only into a database that panseg server init prepared and nobody has "
                  "used yet (nothing was copied)");

    // --- users: matched by name; the others become PanSeg users without a login -------------
    std::map<long long, long long> userId; // local id -> server id
    {
      std::map<std::string, long long> existing;
      QSqlQuery q = sql.exec("SELECT id, username FROM users", {}, "read the users");
      while (q.next())
        existing[str(q.value(1))] = q.value(0).toLongLong();
      QSqlQuery add = sql.prepared("INSERT INTO users (username, display_name, role, active, created_at)"
                                   " VALUES (?, ?, ?, ?, ?) RETURNING id",
                                   "add the copied users");
      QSqlQuery u = src.query("SELECT id, username, display_name, role, active, created_at FROM users ORDER BY id");
      while (u.next())
      {
        const std::string name = str(u.value(1));
        ++report.rows["users"];
        if (auto it = existing.find(name); it != existing.end())
        {
          userId[u.value(0).toLongLong()] = it->second;
          report.usersMatched.push_back(name);
          continue;
        }
        for (int i = 1; i <= 5; ++i)
          add.bindValue(i - 1, u.value(i));
        sql.run(add, "add the copied user " + name);
        if (!add.next())
          throw Error("cannot add the copied user " + name + ": no id returned");
        userId[u.value(0).toLongLong()] = add.value(0).toLongLong();
        User created;
        created.id = userId[u.value(0).toLongLong()];
        created.username = name;
        created.displayName = str(u.value(2));
        created.role = parseRole(str(u.value(3))).value_or(Role::Reader);
        report.usersCreated.push_back(created);
        if (!validLoginName(name))
          report.invalidLoginNames.push_back(name);
      }
    }
    auto mapUser = [&](const QVariant& v, const std::string& table) -> QVariant {
      if (v.isNull())
        return nullId();
      const auto it = userId.find(v.toLongLong());
      if (it == userId.end())
        throw Error("cannot copy " + table + ": it names user id " + std::to_string(v.toLongLong()) +
                    ", who is not in the users table of " + from + " (nothing was copied)");
      return qlonglong(it->second);
    };

    // --- the tables, ids kept ------------------------------------------------------------------
    for (const TableSpec& t : copiedTables())
    {
      const std::vector<std::string> cols = src.columns(t.name);
      std::string names, marks;
      std::vector<bool> isUser;
      for (const std::string& c : cols)
      {
        names += (names.empty() ? "" : ", ") + c;
        marks += marks.empty() ? "?" : ", ?";
        isUser.push_back(std::find(t.userColumns.begin(), t.userColumns.end(), c) != t.userColumns.end());
      }
      QSqlQuery ins = sql.prepared("INSERT INTO " + std::string(t.name) + " (" + names + ") VALUES (" + marks + ")",
                                   std::string("copy ") + t.name);
      QSqlQuery blob = sql.prepared("INSERT INTO mask_blobs (mask_version_id, data) VALUES (?, ?)", "store the mask voxels");
      QSqlQuery rows = src.query("SELECT " + names + " FROM " + t.name + (t.hasId ? " ORDER BY id" : ""));
      const int fileCol = int(std::find(cols.begin(), cols.end(), "file_path") - cols.begin());
      const int shaCol = int(std::find(cols.begin(), cols.end(), "sha256") - cols.begin());
      const bool masks = std::string(t.name) == "mask_versions";
      long long n = 0;
      while (rows.next())
      {
        for (int i = 0; i < int(cols.size()); ++i)
          ins.bindValue(i, isUser[size_t(i)] ? mapUser(rows.value(i), t.name) : rows.value(i));
        sql.run(ins, std::string("copy ") + t.name + " row " + str(rows.value(0)));
        ++n;
        if (!masks)
          continue;
        // The voxels: the local file, checked against the SHA-256 its row recorded.
        const std::string path = src.absolute(str(rows.value(fileCol)));
        std::ifstream in(path, std::ios::binary);
        if (!in)
          throw Error("cannot copy mask version " + str(rows.value(0)) + ": its file " + path +
                      " is missing (panseg db check --db " + from + " lists damaged masks; nothing was copied)");
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (sha256Hex(bytes) != str(rows.value(shaCol)))
          throw Error("cannot copy mask version " + str(rows.value(0)) + ": its file " + path +
                      " no longer has the recorded SHA-256 (altered or damaged; panseg db check --db " + from +
                      "; nothing was copied)");
        blob.bindValue(0, rows.value(0).toLongLong());
        blob.bindValue(1, QByteArray::fromStdString(bytes));
        sql.run(blob, "store the voxels of mask version " + str(rows.value(0)));
        report.maskBytes += static_cast<long long>(bytes.size());
      }
      report.rows[t.name] = n;
    }

    // --- the audit log: appended to the server's hash chain, authors and times kept -----------
    const long long auditBefore = sql.count("audit_log");
    std::string localHead;
    {
      QSqlQuery rows =
        src.query("SELECT at, user_id, actor, action, table_name, record_id, details, entry_hash FROM audit_log"
                  " ORDER BY id");
      long long n = 0;
      while (rows.next())
      {
        User author;
        const QVariant uid = mapUser(rows.value(1), "audit_log");
        author.id = uid.isNull() ? 0 : uid.toLongLong();
        author.username = str(rows.value(2));
        // An entry about a user names the user's row: its id on the server.
        const bool aboutUser = rows.value(4).toString() == "users" && !rows.value(5).isNull() &&
                               userId.count(rows.value(5).toLongLong());
        const long long record =
          aboutUser ? mapUser(rows.value(5), "audit_log").toLongLong() : rows.value(5).toLongLong();
        target.appendAuditAs(author, str(rows.value(3)), str(rows.value(4)), record, str(rows.value(6)),
                             str(rows.value(0)));
        localHead = str(rows.value(7));
        ++n;
      }
      report.rows["audit_log"] = n;
    }

    // --- identities continue after the copied ids ---------------------------------------------
    std::vector<std::string> withId = { "users", "audit_log" };
    for (const TableSpec& t : copiedTables())
      if (t.hasId)
        withId.push_back(t.name);
    for (const std::string& t : withId)
      sql.exec("SELECT setval(pg_get_serial_sequence('public." + t + "', 'id'), max(id)) FROM " + t +
                 " HAVING max(id) IS NOT NULL",
               {}, "continue the ids of " + t);

    // --- verify before committing: counts, and the server's SHA-256 of every mask -------------
    for (const TableSpec& t : copiedTables())
      if (const long long n = sql.count(t.name); n != src.count(t.name))
        throw Error("the copy of " + std::string(t.name) + " holds " + std::to_string(n) + " rows instead of " +
                    std::to_string(src.count(t.name)) + "; nothing was copied");
    if (sql.count("audit_log") != auditBefore + report.rows["audit_log"])
      throw Error("the copy of the audit log is incomplete; nothing was copied");
    {
      QSqlQuery q = sql.exec("SELECT m.id, m.sha256, encode(sha256(b.data), 'hex') FROM mask_versions m"
                             " LEFT JOIN mask_blobs b ON b.mask_version_id = m.id ORDER BY m.id",
                             {}, "verify the copied masks");
      while (q.next())
      {
        if (q.value(2).isNull() || q.value(1).toString() != q.value(2).toString())
          throw Error("mask version " + str(q.value(0)) + " did not arrive intact on " + report.to +
                      " (SHA-256 differs); nothing was copied");
        ++report.masksVerified;
      }
      if (report.masksVerified != report.rows["mask_versions"])
        throw Error("the copy holds " + std::to_string(report.masksVerified) + " masks instead of " +
                    std::to_string(report.rows["mask_versions"]) + "; nothing was copied");
    }

    QJsonObject rows;
    for (const auto& [table, n] : report.rows)
      rows[qs(table)] = n;
    // The folder's own chain head, so that the folder kept as backup can still be checked.
    target.appendAudit("copy-database", "", 0,
                       QJsonDocument(QJsonObject{ { "from", qs(from) },
                                                  { "rows", rows },
                                                  { "mask_bytes", report.maskBytes },
                                                  { "local_audit_head", qs(localHead) },
                                                  { "users_without_login", qlonglong(report.usersCreated.size()) } })
                         .toJson(QJsonDocument::Compact)
                         .toStdString());
    sql.exec("COMMIT", {}, "commit the copy");
  }
  catch (...)
  {
    sql.rollback();
    throw;
  }
  report.seconds = double(clock.nsecsElapsed()) / 1e9;
  return report;
}
} // namespace panseg::db
