#pragma once
// Everything that differs between SQL engines lives here, so that a PostgreSQL backend (for
// sites sharing one database between workstations) is a second implementation of this file and
// not a hunt through the repositories. The rest of database/ writes portable SQL: TEXT, INTEGER,
// REAL, `?` placeholders, INSERT ... RETURNING id, ISO-8601 UTC timestamps as TEXT.

#include <string>
#include <vector>

namespace panseg::db
{
class SqlDialect
{
public:
  enum class Engine
  {
    SQLite,
    PostgreSQL
  };
  static SqlDialect sqlite();
  static SqlDialect postgresql();
  /// True for a location that names a PostgreSQL server ("postgresql://..." or "postgres://...")
  /// rather than a data folder.
  static bool isServerLocation(const std::string& location);

  Engine engine() const { return m_engine; }
  /// Qt SQL driver name ("QSQLITE").
  std::string driver() const;
  /// Qt connect options (busy timeout at the driver level).
  std::string connectOptions(int busyTimeoutMs) const;
  /// Per-connection settings run right after opening: WAL journal, full fsync on commit,
  /// foreign keys, busy timeout. Each statement must succeed.
  std::vector<std::string> connectionSetup(int busyTimeoutMs) const;
  /// Statement that changes the busy timeout of an open connection (0 = fail at once when locked).
  std::string setBusyTimeout(int busyTimeoutMs) const;
  /// Starts a write transaction that takes the write lock at once (SQLite: BEGIN IMMEDIATE), so a
  /// writer waits for the lock up front instead of failing when it upgrades a read transaction.
  std::string beginWrite() const;
  /// Statement run right after beginWrite() that serialises writers (PostgreSQL: a
  /// transaction-scoped advisory lock, so that writers queue as they do on SQLite's write lock;
  /// waits at most the lock timeout). Empty for SQLite.
  std::string writeLock() const;
  /// Rewrites a portable CREATE TABLE statement for this engine (PostgreSQL: INTEGER becomes
  /// BIGINT, REAL becomes DOUBLE PRECISION, so ids and volumes keep SQLite's 64-bit range).
  std::string adaptDdl(const std::string& sql) const;
  /// True when an error text means "the table does not exist".
  bool isMissingTableError(const std::string& message) const;
  /// Column type of surrogate primary keys.
  std::string idColumn() const;
  /// Triggers that refuse every UPDATE and DELETE on `table` with `message`.
  std::vector<std::string> appendOnlyTriggers(const std::string& table, const std::string& message) const;
  /// Drops the triggers of appendOnlyTriggers(table) (a migration that must rewrite rows
  /// recreates them afterwards, in the same transaction).
  std::vector<std::string> dropAppendOnlyTriggers(const std::string& table) const;
  /// Drops one trigger of `table` when it exists.
  std::string dropTrigger(const std::string& table, const std::string& trigger) const;
  /// The last audit entry's (seq, entry_hash), for StudyDatabase::appendAudit. With
  /// `rowSecurity` (PostgreSQL, a signed-in user whom row-level security shows only their own
  /// entries) through panseg_audit_head(), which reads every row (ServerSecurity.cpp).
  std::string auditHeadQuery(bool rowSecurity) const;
  /// True when an error text of this engine means a UNIQUE constraint refused a row.
  bool isUniqueViolation(const std::string& message) const;
  /// Trigger that refuses DELETE on `table`, and UPDATE of any of `frozenColumns`.
  std::vector<std::string> frozenColumnsTriggers(const std::string& table, const std::vector<std::string>& frozenColumns,
                                                 const std::string& message) const;
  /// Query returning one row per problem, or a single row "ok".
  std::string integrityCheck() const;
  /// First bytes of a database file of this engine (empty when the engine has no file).
  std::string fileMagic() const;
  /// True when an error text of this engine means "another writer holds the lock".
  bool isBusyError(const std::string& message) const;
  /// True when an error text (libpq's, through Qt) means the connection to the server is gone:
  /// refused, cut, restarted, timed out. SQLite has no connection to lose.
  static bool isConnectionLost(const std::string& message);

private:
  explicit SqlDialect(Engine e) : m_engine(e) {}
  Engine m_engine;
};
} // namespace panseg::db
