#pragma once
// SQL on a StudyDatabase's own connection, for the database/ services that keep tables of their
// own (ReaderStudy, FineTuning): same transactions, write lock and error wording as StudyDatabase.
// Internal to database/ (Qt SQL never appears in public headers).
#include "core/Error.h"
#include "database/SqlDialect.h"
#include "database/StudyDatabase.h"

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QString>
#include <QVariant>

#include <string>

namespace panseg::db::detail
{
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
    QSqlQuery q(m_conn);
    if (!q.prepare(QString::fromStdString(sql)))
      throw Error("cannot " + what + " (" + m_db.databasePath() + "): " + q.lastError().text().toStdString());
    for (const auto& b : binds)
      q.addBindValue(b);
    if (!q.exec())
    {
      const std::string text = q.lastError().text().toStdString();
      if (SqlDialect::sqlite().isBusyError(text))
        throw Error("cannot " + what + ": the study database " + m_db.databasePath() + " is busy; try again");
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
  void rollback() const
  {
    QSqlQuery q(m_conn);
    q.exec("ROLLBACK");
  }
  QSqlDatabase connection() const { return m_conn; }

protected:
  const StudyDatabase& m_db;
  QSqlDatabase m_conn;
};
} // namespace panseg::db::detail
