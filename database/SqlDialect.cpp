#include "database/SqlDialect.h"

namespace panseg::db
{
SqlDialect SqlDialect::sqlite() { return SqlDialect(Engine::SQLite); }

std::string SqlDialect::driver() const { return "QSQLITE"; }

std::string SqlDialect::connectOptions(int busyTimeoutMs) const
{
  return "QSQLITE_BUSY_TIMEOUT=" + std::to_string(busyTimeoutMs);
}

std::vector<std::string> SqlDialect::connectionSetup(int busyTimeoutMs) const
{
  return {
    setBusyTimeout(busyTimeoutMs),
    // WAL: readers never block the writer and a killed writer leaves the file consistent.
    "PRAGMA journal_mode=WAL",
    // FULL: a commit is on disk when COMMIT returns (also across power loss, not only a crash).
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
  };
}

std::string SqlDialect::setBusyTimeout(int busyTimeoutMs) const
{
  return "PRAGMA busy_timeout=" + std::to_string(busyTimeoutMs);
}

std::string SqlDialect::beginWrite() const { return "BEGIN IMMEDIATE"; }

std::string SqlDialect::idColumn() const { return "INTEGER PRIMARY KEY"; }

std::vector<std::string> SqlDialect::appendOnlyTriggers(const std::string& table, const std::string& message) const
{
  return {
    "CREATE TRIGGER " + table + "_no_update BEFORE UPDATE ON " + table + " BEGIN SELECT RAISE(ABORT, '" + message +
      "'); END",
    "CREATE TRIGGER " + table + "_no_delete BEFORE DELETE ON " + table + " BEGIN SELECT RAISE(ABORT, '" + message +
      "'); END",
  };
}

std::vector<std::string> SqlDialect::frozenColumnsTriggers(const std::string& table,
                                                           const std::vector<std::string>& frozenColumns,
                                                           const std::string& message) const
{
  std::string cols;
  for (const auto& c : frozenColumns)
    cols += (cols.empty() ? "" : ", ") + c;
  return {
    "CREATE TRIGGER " + table + "_frozen BEFORE UPDATE OF " + cols + " ON " + table +
      " BEGIN SELECT RAISE(ABORT, '" + message + "'); END",
    "CREATE TRIGGER " + table + "_no_delete BEFORE DELETE ON " + table + " BEGIN SELECT RAISE(ABORT, '" + message +
      "'); END",
  };
}

std::string SqlDialect::integrityCheck() const { return "PRAGMA integrity_check"; }

std::string SqlDialect::fileMagic() const { return std::string("SQLite format 3\0", 16); }

bool SqlDialect::isBusyError(const std::string& message) const
{
  return message.find("database is locked") != std::string::npos ||
         message.find("database is busy") != std::string::npos;
}
} // namespace panseg::db
