#include "database/server/Connection.h"

#include "core/Error.h"

#include <QSqlDriver>
#include <QSqlQuery>
#include <QStringList>
#include <QUrlQuery>
#include <QVariant>

#include <libpq-fe.h>

namespace panseg::db
{
void configureServerConnection(QSqlDatabase& db, const QUrl& url, const std::string& password,
                               const QString& connectOptions, const std::string& shown)
{
  if (!url.isValid() || url.host().isEmpty())
    throw Error("not a PostgreSQL URI: " + shown + " (expected postgresql://[user@]host[:port]/database)");
  const QString database = url.path().mid(1);
  if (database.isEmpty() || database.contains('/'))
    throw Error("the PostgreSQL URI " + shown + " names no database (postgresql://host[:port]/database)");
  db.setHostName(url.host());
  if (url.port() > 0)
    db.setPort(url.port());
  db.setDatabaseName(database);
  if (!url.userName().isEmpty())
    db.setUserName(url.userName());
  const QString pw = password.empty() ? url.password() : QString::fromStdString(password);
  if (!pw.isEmpty())
    db.setPassword(pw);
  QStringList options{ connectOptions };
  for (const auto& [key, value] : QUrlQuery(url).queryItems(QUrl::FullyDecoded))
  {
    if (key.contains(';') || value.contains(';') || key == "password")
      throw Error("the PostgreSQL URI " + shown + " has a parameter PanSeg does not pass on: " + key.toStdString());
    options << key + "=" + value;
  }
  db.setConnectOptions(options.join(';'));
}

pg_conn* libpqConnection(const QSqlDatabase& db)
{
  const QVariant handle = db.isValid() && db.driver() ? db.driver()->handle() : QVariant();
  if (!handle.isValid() || (qstrcmp(handle.typeName(), "PGconn*") != 0 && qstrcmp(handle.typeName(), "pg_conn*") != 0))
    return nullptr;
  return *static_cast<PGconn* const*>(handle.constData());
}

bool reviveIfLost(QSqlDatabase& db, const std::vector<std::string>& setupStatements)
{
  if (!db.isValid() || db.driverName() != "QPSQL")
    return false;
  PGconn* pg = libpqConnection(db);
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
