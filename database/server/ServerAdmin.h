#pragma once
// Server mode (PostgreSQL) administration: set-up of a database by its owner and the accounts
// of the people who use it. Every person is a PostgreSQL login role that PostgreSQL
// authenticates (SCRAM-SHA-256 by default); PanSeg stores no password. Passwords are turned
// into SCRAM verifiers on this machine (libpq), so the plain text never travels or is logged.
// The CLI (`panseg server ...`) and the GUI's account dialog call these functions.

#include "database/StudyDatabase.h"

#include <map>
#include <string>
#include <vector>

namespace panseg::db
{
struct ServerInitReport
{
  std::string database; // the URI without password
  std::string owner;    // the role that ran init (an admin of PanSeg)
  int schemaVersion = 0;
  int securityVersion = 0;
};

/// Run by the database's owner (who needs CREATEROLE): creates or upgrades the schema, the group
/// roles, privileges, row-level security and functions (database/server/ServerSecurity.h), and
/// makes the owner a PanSeg admin. Safe to run again.
ServerInitReport initServer(const std::string& uri, const StudyDatabase::OpenOptions& options = {});

/// Admin only: a new account (a login role with `password`, or an existing role when the
/// password is empty) in the group of `role`, and its PanSeg user row. Audited.
User serverAddUser(StudyDatabase& db, const std::string& name, Role role, const std::string& password,
                   const std::string& displayName = {});
/// Admin only: moves a user to another group role (and users.role). Audited.
void serverSetUserRole(StudyDatabase& db, const std::string& name, Role role);
/// Admin only: disables (NOLOGIN, inactive) or re-enables an account. Audited.
void serverSetUserActive(StudyDatabase& db, const std::string& name, bool active);
/// Admin only: the account stops signing in after `untilUtc` (ISO 8601 date or date and time,
/// UTC; PostgreSQL's VALID UNTIL), or never (an empty string or "never"). Audited.
void serverSetUserExpiry(StudyDatabase& db, const std::string& name, const std::string& untilUtc);
struct AccountExpiry
{
  std::string untilUtc; // "YYYY-MM-DD HH:MM:SS" (UTC); empty = never
  bool expired = false;
};
/// Every PanSeg account's expiry (PostgreSQL's pg_roles, which every user may read).
std::map<std::string, AccountExpiry> serverAccountExpiries(const StudyDatabase& db);
/// The signed-in user changes their own password. Audited (without the password).
void serverChangeOwnPassword(StudyDatabase& db, const std::string& newPassword);
} // namespace panseg::db
