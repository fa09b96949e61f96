#pragma once
// SQL on a StudyDatabase's own connection, for the database/ services that keep tables of their
// own (ReaderStudy, FineTuning): same transactions, write lock and error wording as StudyDatabase.
// Internal to database/ (Qt SQL never appears in public headers).
#include "core/Error.h"
#include "database/SqlDialect.h"
#include "database/StudyDatabase.h"
#include "database/server/Connection.h"

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QString>
#include <QVariant>

#include <string>

namespace panseg::db::detail
{
/// A query value as text / as an id (NULL = 0), and an id's bind value (0 = NULL): one spelling
/// for StudyDatabase and the services beside it.
inline std::string str(const QVariant& v) { return v.toString().toStdString(); }
inline int64_t i64(const QVariant& v) { return v.isNull() ? 0 : v.toLongLong(); }
inline QVariant idOrNull(int64_t id)
{
  return id > 0 ? QVariant(qlonglong(id)) : QVariant(QMetaType::fromType<qlonglong>());
}

class SharedSql
{
public:
  explicit SharedSql(const StudyDatabase& db)
      : m_db(db), m_conn(QSqlDatabase::database(QString::fromStdString(db.connectionName()), false))
  {
  }

  /// Prepares, binds and runs one statement; throws panseg::Error "cannot WHAT (...)", or names a
  /// busy database.
  QSqlQuery exec(const std::string& sql, const QVariantList& binds, const std::string& what) const
  {
    if (m_db.isServer())
      reviveIfLost(m_conn, m_db.dialect().connectionSetup(m_db.busyTimeoutMs()));
    QSqlQuery q(m_conn);
    // Without binds the statement runs as it is: PostgreSQL cannot prepare BEGIN or COMMIT.
    bool ok = false;
    if (binds.isEmpty())
      ok = q.exec(QString::fromStdString(sql));
    else
    {
      if (!q.prepare(QString::fromStdString(sql)))
        throw Error("cannot " + what + " (" + m_db.databasePath() + "): " + q.lastError().text().toStdString());
      for (const auto& b : binds)
        q.addBindValue(b);
      ok = q.exec();
    }
    if (!ok)
    {
      const std::string text = q.lastError().text().toStdString();
      // PostgreSQL: a failed statement aborts the transaction; end it now, so that the
      // statement can be released and nothing runs on in an aborted transaction.
      if (m_db.isServer())
        rollback();
      if (m_db.dialect().isBusyError(text))
        throw Error("cannot " + what + ": the study database " + m_db.databasePath() + " is busy; try again");
      if (m_db.isServer() && SqlDialect::isConnectionLost(text))
        throw Error("cannot " + what + ": the database server " + m_db.databasePath() + " is not reachable (" +
                    text.substr(0, text.find('\n')) + "); unsaved edits stay in the recovery file, try again when "
                    "the server is back");
      throw Error("cannot " + what + " (" + m_db.databasePath() + "): " + text);
    }
    return q;
  }
  /// First column of the first row, or a null QVariant.
  QVariant scalar(const std::string& sql, const QVariantList& binds, const std::string& what) const
  {
    QSqlQuery q = exec(sql, binds, what);
    return q.next() ? q.value(0) : QVariant();
  }
  /// Starts a write transaction holding the database's write lock (StudyDatabase's rule).
  void beginWrite(const std::string& what) const
  {
    exec(m_db.dialect().beginWrite(), {}, what);
    if (const std::string lock = m_db.dialect().writeLock(); !lock.empty())
    {
      try
      {
        exec(lock, {}, what);
      }
      catch (...)
      {
        rollback();
        throw;
      }
    }
  }
  void rollback() const
  {
    QSqlQuery q(m_conn);
    q.exec("ROLLBACK");
  }
  QSqlDatabase connection() const { return m_conn; }

protected:
  const StudyDatabase& m_db;
  mutable QSqlDatabase m_conn;
};
} // namespace panseg::db::detail
