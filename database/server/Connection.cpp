#include "database/server/Connection.h"

#include <QSqlDriver>
#include <QSqlQuery>
#include <QVariant>

#include <libpq-fe.h>

namespace panseg::db
{
bool reviveIfLost(QSqlDatabase& db, const std::vector<std::string>& setupStatements)
{
  if (!db.isValid() || db.driverName() != "QPSQL")
    return false;
  const QVariant handle = db.driver() ? db.driver()->handle() : QVariant();
  PGconn* pg = handle.isValid() ? *static_cast<PGconn* const*>(handle.constData()) : nullptr;
  if (db.isOpen() && pg && PQstatus(pg) == CONNECTION_OK)
    return false;
  db.close();
  if (!db.open())
    return false;
  for (const std::string& sql : setupStatements)
  {
    QSqlQuery q(db);
    q.exec(QString::fromStdString(sql));
  }
  return true;
}
} // namespace panseg::db
