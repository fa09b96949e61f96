#include "database/server/ServerAdmin.h"
#include "database/QtText.h"

#include "core/Error.h"
#include "database/SharedSql.h"
#include "database/server/Connection.h"
#include "database/server/ServerSecurity.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSqlDriver>
#include <QSqlQuery>

#include <libpq-fe.h>

namespace panseg::db
{
namespace
{
void requireServer(const StudyDatabase& db, const char* what)
{
  if (!db.isServer())
    throw Error(std::string(what) + " needs a database server (--db postgresql://...); the local study database " +
                db.databasePath() + " has users without passwords (panseg db user ...)");
}

/// The SCRAM-SHA-256 verifier of `password` for role `name`, computed here by libpq.
std::string scramVerifier(const StudyDatabase& db, const std::string& name, const std::string& password)
{
  PGconn* pg = libpqConnection(QSqlDatabase::database(qs(db.connectionName()), false));
  if (!pg)
    throw Error("cannot hash the password: no PostgreSQL connection");
  char* verifier = PQencryptPasswordConn(pg, password.c_str(), name.c_str(), "scram-sha-256");
  if (!verifier)
    throw Error(std::string("cannot hash the password: ") + PQerrorMessage(pg));
  std::string out = verifier;
  PQfreemem(verifier);
  return out;
}

void checkPassword(const std::string& password)
{
  if (password.size() < 8)
    throw Error("the password must have at least 8 characters");
}

class AdminSql : public detail::SharedSql
{
public:
  using SharedSql::SharedSql;
  void audit(const std::string& action, const std::string& name, const QJsonObject& details) const
  {
    const QVariant target = scalar("SELECT id FROM users WHERE username = ?", { qs(name) }, "find user " + name);
    m_db.appendAudit(action, "users", target.isValid() ? target.toLongLong() : 0,
                     QJsonDocument(details).toJson(QJsonDocument::Compact).toStdString());
  }
  void commit() const { exec("COMMIT", {}, "commit"); }
};

/// Runs `body` in one write transaction; rolls back on failure.
template <typename F>
void inTransaction(const AdminSql& sql, const std::string& what, F body)
{
  sql.beginWrite(what);
  try
  {
    body();
    sql.commit();
  }
  catch (...)
  {
    sql.rollback();
    throw;
  }
}
} // namespace

ServerInitReport initServer(const std::string& uri, const StudyDatabase::OpenOptions& options)
{
  if (!SqlDialect::isServerLocation(uri))
    throw Error("panseg server init needs a PostgreSQL URI (postgresql://host[:port]/database), not " + uri);
  StudyDatabase::OpenOptions o = options;
  StudyDatabase db(uri, o); // the owner's open applies migrations and the server objects
  const AdminSql sql(db);
  ServerInitReport r;
  r.database = db.databasePath();
  r.owner = db.currentUser().username;
  r.schemaVersion = db.schemaVersion();
  r.securityVersion = sql.scalar("SELECT MAX(version) FROM panseg_server_setup", {}, "read the set-up version").toInt();
  return r;
}

User serverAddUser(StudyDatabase& db, const std::string& name, Role role, const std::string& password,
                   const std::string& displayName)
{
  requireServer(db, "panseg server user add");
  if (!password.empty())
    checkPassword(password);
  const AdminSql sql(db);
  const std::string verifier = password.empty() ? std::string() : scramVerifier(db, name, password);
  inTransaction(sql, "add user " + name, [&] {
    sql.exec("SELECT panseg_add_user(?, ?, ?, ?)", { qs(name), qs(to_string(role)), qs(displayName), qs(verifier) },
             "add user " + name);
    sql.audit("add-user", name, QJsonObject{ { "username", qs(name) }, { "role", qs(to_string(role)) } });
  });
  return *db.userByName(name);
}

void serverSetUserRole(StudyDatabase& db, const std::string& name, Role role)
{
  requireServer(db, "panseg server user role");
  const AdminSql sql(db);
  inTransaction(sql, "change the role of " + name, [&] {
    const QVariant old = sql.scalar("SELECT role FROM users WHERE username = ?", { qs(name) }, "find user " + name);
    sql.exec("SELECT panseg_set_user_role(?, ?)", { qs(name), qs(to_string(role)) }, "change the role of " + name);
    sql.audit("set-user-role", name, QJsonObject{ { "from", old.toString() }, { "to", qs(to_string(role)) } });
  });
}

void serverSetUserActive(StudyDatabase& db, const std::string& name, bool active)
{
  requireServer(db, "panseg server user disable");
  const AdminSql sql(db);
  inTransaction(sql, std::string(active ? "enable" : "disable") + " user " + name, [&] {
    sql.exec("SELECT panseg_set_user_active(?, ?)", { qs(name), active }, "change account " + name);
    sql.audit(active ? "enable-user" : "disable-user", name, QJsonObject{ { "username", qs(name) } });
  });
}

void serverSetUserExpiry(StudyDatabase& db, const std::string& name, const std::string& untilUtc)
{
  requireServer(db, "panseg server user expire");
  QVariant until; // NULL: never
  if (!untilUtc.empty() && untilUtc != "never")
  {
    QDateTime t = QDateTime::fromString(qs(untilUtc), Qt::ISODate);
    if (!t.isValid())
      t = QDateTime::fromString(qs(untilUtc), "yyyy-MM-dd HH:mm:ss");
    if (!t.isValid())
      throw Error("the expiry '" + untilUtc + "' is not a date (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS, in UTC) or 'never'");
    if (t.timeSpec() == Qt::LocalTime)
      t.setTimeSpec(Qt::UTC);
    until = t.toUTC().toString("yyyy-MM-dd HH:mm:ss") + "+00";
  }
  const AdminSql sql(db);
  inTransaction(sql, "set the expiry of user " + name, [&] {
    sql.exec("SELECT panseg_set_user_expiry(?, CAST(? AS timestamptz))", { qs(name), until }, "change account " + name);
    sql.audit("set-user-expiry", name,
              QJsonObject{ { "username", qs(name) }, { "valid_until", until.isNull() ? "never" : until.toString() } });
  });
}

std::map<std::string, AccountExpiry> serverAccountExpiries(const StudyDatabase& db)
{
  requireServer(db, "account expiry");
  const AdminSql sql(db);
  std::map<std::string, AccountExpiry> out;
  QSqlQuery q = sql.exec("SELECT u.username, to_char(r.rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),"
                         " r.rolvaliduntil < now() FROM users u JOIN pg_catalog.pg_roles r ON r.rolname = u.username"
                         " WHERE r.rolvaliduntil IS NOT NULL AND r.rolvaliduntil <> 'infinity'",
                         {}, "read the account expiries");
  while (q.next())
    out[q.value(0).toString().toStdString()] = AccountExpiry{ q.value(1).toString().toStdString(), q.value(2).toBool() };
  return out;
}

void serverChangeOwnPassword(StudyDatabase& db, const std::string& newPassword)
{
  requireServer(db, "changing a password");
  checkPassword(newPassword);
  const std::string me = db.currentUser().username;
  const AdminSql sql(db);
  const std::string verifier = scramVerifier(db, me, newPassword);
  // ALTER ROLE takes no parameters: the verifier is a quoted literal ('SCRAM-SHA-256$...' holds
  // no quote), the name an identifier quoted by the server.
  if (verifier.find('\'') != std::string::npos)
    throw Error("cannot change the password: unexpected verifier");
  const std::string ident = sql.scalar("SELECT quote_ident(?)", { qs(me) }, "quote the user name").toString().toStdString();
  inTransaction(sql, "change the password of " + me, [&] {
    QSqlQuery q(sql.connection());
    if (!q.exec(qs("ALTER ROLE " + ident + " PASSWORD '" + verifier + "'")))
      throw Error("cannot change the password of " + me + ": " + q.lastError().text().toStdString());
    sql.audit("change-password", me, QJsonObject{});
  });
}
} // namespace panseg::db
