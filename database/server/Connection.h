#pragma once
// Server mode: a connection whose server went away (restart, network) stays broken in Qt until
// it is opened again. Before each statement the repositories call reviveIfLost(): when libpq
// reports the connection as bad it is reopened (with the same credentials, kept in memory) and
// set up again, so a workstation's session carries on once the server is back. A statement
// that failed is never repeated: the user was told, and decides.
#include <QSqlDatabase>

#include <string>
#include <vector>

namespace panseg::db
{
/// True when the connection was lost and has been reopened now.
bool reviveIfLost(QSqlDatabase& db, const std::vector<std::string>& setupStatements);
} // namespace panseg::db
