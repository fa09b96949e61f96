#include "database/Blinding.h"

#include "core/Error.h"
#include "database/SqlDialect.h"

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

namespace panseg::db
{
namespace
{
/// The error of a failed blinding query; a lost server connection says so, as StudyDatabase does.
Error blindingError(const QSqlQuery& q)
{
  std::string text = q.lastError().text().toStdString();
  if (!SqlDialect::isConnectionLost(text))
    return Error("cannot check reader-study blinding: " + text);
  text = text.substr(0, text.find('\n'));
  return Error("cannot check reader-study blinding: the database server is not reachable (" + text +
               "); unsaved edits stay in the recovery file, try again when the server is back");
}

QSqlQuery runQuery(const QString& connection, const char* sql, const QVariantList& binds)
{
  QSqlQuery q(QSqlDatabase::database(connection, false));
  if (!q.prepare(sql))
    throw blindingError(q);
  for (const auto& b : binds)
    q.addBindValue(b);
  if (!q.exec())
    throw blindingError(q);
  return q;
}
} // namespace

bool BlindingRules::exempt(const User& user)
{
  return canCoordinate(user.role);
}

BlindingRules::BlindingRules(const QString& connection, const User& user, int64_t seriesId)
    : m_user(user)
{
  if (exempt(user) || user.id <= 0)
    return;
  QSqlQuery q = runQuery(
      connection,
      "SELECT s.id, s.name, s.design, s.start_from, c.ai_mask_version_id FROM reader_studies s"
      " JOIN reader_study_cases c ON c.study_id = s.id"
      " JOIN reader_study_readers r ON r.study_id = s.id"
      " WHERE s.status = 'open' AND c.series_id = ? AND r.user_id = ? ORDER BY s.id",
      {qlonglong(seriesId), qlonglong(user.id)});
  while (q.next())
  {
    Study st;
    st.id = q.value(0).toLongLong();
    st.name = q.value(1).toString().toStdString();
    st.aiVisible = q.value(2).toString() == "ai-review" || q.value(3).toString() == "ai";
    st.aiMaskId = q.value(4).isNull() ? 0 : q.value(4).toLongLong();
    m_studies.push_back(st);
  }
  for (Study& st : m_studies)
  {
    QSqlQuery r =
        runQuery(connection, "SELECT user_id FROM reader_study_readers WHERE study_id = ?",
                 {qlonglong(st.id)});
    while (r.next())
      st.readers.insert(r.value(0).toLongLong());
    QSqlQuery reads =
        runQuery(connection,
                 "SELECT reader_id, read_number, mask_version_id FROM reader_study_reads"
                 " WHERE study_id = ? AND series_id = ?",
                 {qlonglong(st.id), qlonglong(seriesId)});
    while (reads.next())
      st.reads.push_back({reads.value(0).toLongLong(), reads.value(1).toInt(),
                          reads.value(2).isNull() ? 0 : reads.value(2).toLongLong()});
  }
}

std::string BlindingRules::reasonHidden(const MaskVersion& mask) const
{
  const std::string which = "blinded: mask version " + std::to_string(mask.id);
  for (const Study& st : m_studies)
  {
    const std::string in = " in reader study '" + st.name + "'";
    const Read* linked = nullptr;
    for (const Read& r : st.reads)
      if (r.maskId == mask.id)
        linked = &r;
    if (linked)
    {
      if (linked->readerId != m_user.id)
        return which + " belongs to another reader" + in;
      for (const Read& r : st.reads)
        if (r.readerId == m_user.id && r.readNumber > linked->readNumber)
          return which + " is your earlier read of this case" + in;
      continue; // the user's own current read
    }
    if (mask.authorUserId != m_user.id && st.readers.count(mask.authorUserId))
      return which + " belongs to another reader" + in;
    if (mask.authorUserId == m_user.id)
      continue;
    if (st.aiVisible && mask.id == st.aiMaskId)
      continue;
    return which + " is hidden from the readers" + in + " until the study is closed";
  }
  return {};
}

std::vector<std::string> BlindingRules::openStudiesOf(const QString& connection, const User& user)
{
  std::vector<std::string> out;
  if (exempt(user) || user.id <= 0)
    return out;
  QSqlQuery q = runQuery(connection,
                         "SELECT s.name FROM reader_studies s"
                         " JOIN reader_study_readers r ON r.study_id = s.id"
                         " WHERE s.status = 'open' AND r.user_id = ? ORDER BY s.id",
                         {qlonglong(user.id)});
  while (q.next())
    out.push_back(q.value(0).toString().toStdString());
  return out;
}

std::set<int64_t> BlindingRules::blindedSeries(const QString& connection, const User& user)
{
  std::set<int64_t> out;
  if (exempt(user) || user.id <= 0)
    return out;
  QSqlQuery q = runQuery(connection,
                         "SELECT DISTINCT c.series_id FROM reader_study_cases c"
                         " JOIN reader_studies s ON s.id = c.study_id"
                         " JOIN reader_study_readers r ON r.study_id = s.id"
                         " WHERE s.status = 'open' AND r.user_id = ?",
                         {qlonglong(user.id)});
  while (q.next())
    out.insert(q.value(0).toLongLong());
  return out;
}
} // namespace panseg::db
