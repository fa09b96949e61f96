#pragma once
// Signing in to a department server: what the GUI's sign-in dialog and the command line share.
// A profile is the server's URI without user or password (postgresql://host[:port]/database
// plus TLS parameters); the user name and password are given at sign-in. PanSeg never stores a
// password: the GUI keeps it in memory for the session's connections only.
#include "database/StudyDatabase.h"

#include <memory>
#include <string>

namespace panseg::db
{
struct SignInRequest
{
  std::string serverUri;  // postgresql://host[:port]/database[?...] (a user in it is replaced)
  std::string user;       // the PostgreSQL login role
  std::string password;   // empty: libpq's PGPASSWORD / ~/.pgpass
  bool verifyFull = false; // TLS with the server's certificate checked against caFile (sslmode=verify-full)
  std::string caFile;     // root certificate for verify-full (empty: ~/.postgresql/root.crt)
};

/// The location to open: the URI with the user and the TLS parameters, without the password.
/// Throws Error for a URI that is not postgresql:// or names no host or database.
std::string signInLocation(const SignInRequest& request);

/// Signs in (opens the database as the user); throws Error with the one-line reason (wrong
/// password, server down, not a PanSeg user, disabled account, TLS failure, ...).
std::unique_ptr<StudyDatabase> signIn(const SignInRequest& request);

/// "signed in as NAME (role) on URI" or "local study database DIR (names are not verified)".
std::string sessionSummary(const StudyDatabase& db);
} // namespace panseg::db
