#pragma once
// The schema as an ordered list of migrations. A database records the versions it has had
// applied in `schema_version`; opening it applies the missing ones in one transaction.
// Never edit a released migration: add a new one (and extend a frozen-columns trigger when a
// migration adds a column to mask_versions).

#include "database/SqlDialect.h"

#include <string>
#include <vector>

namespace panseg::db
{
struct Migration
{
  int version = 0;
  std::string description;
  std::vector<std::string> statements;
  /// A step in C++ that runs after `statements` (StudyDatabase knows them by name), e.g.
  /// "chain-audit-log" computes the hash chain of the existing audit entries; then
  /// `statementsAfterStep` run.
  std::string step;
  std::vector<std::string> statementsAfterStep;
};

/// All migrations, oldest first, versions 1, 2, ... without gaps.
std::vector<Migration> schemaMigrations(const SqlDialect& dialect);
int latestSchemaVersion();

/// The bookkeeping table itself (created before any migration runs).
std::string schemaVersionTableSql();
} // namespace panseg::db
