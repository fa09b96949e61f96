#pragma once
// Server mode: the QPSQL connection details shared by the study database's connection
// (StudyDatabase), the live-update listener (ChangeListener) and account administration.
#include <QSqlDatabase>
#include <QString>
#include <QUrl>

#include <string>
#include <vector>

struct pg_conn; // libpq's PGconn

namespace panseg::db
{
/// Sets host, port, database, user and password (`password` when given, else the URI's) and the
/// URI's libpq parameters (sslmode, sslrootcert, ...) after `connectOptions` on a QPSQL
/// connection; what the URI leaves out libpq takes from its environment (PGUSER, PGPASSWORD,
/// ~/.pgpass, ...). Throws Error for a URI without host or database, or with a parameter PanSeg
/// does not pass on. `shown` names the URI in messages (without its password).
void configureServerConnection(QSqlDatabase& db, const QUrl& url, const std::string& password,
                               const QString& connectOptions, const std::string& shown);

/// The libpq connection behind an open QPSQL connection, or nullptr.
pg_conn* libpqConnection(const QSqlDatabase& db);

/// A connection whose server went away (restart, network) stays broken in Qt until it is opened
/// again. Before each statement the repositories call reviveIfLost(): when libpq reports the
/// connection as bad it is reopened (with the same credentials, kept in memory) and set up
/// again, so a workstation's session carries on once the server is back. A statement that failed
/// is never repeated: the user was told, and decides. True when it was reopened now.
bool reviveIfLost(QSqlDatabase& db, const std::vector<std::string>& setupStatements);
} // namespace panseg::db
