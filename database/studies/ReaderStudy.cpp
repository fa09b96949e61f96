#include "database/studies/ReaderStudy.h"
#include "database/QtText.h"

#include "core/Error.h"
#include "core/Random.h"
#include "core/metrics/MajorityVote.h"
#include "core/metrics/Staple.h"
#include "database/SharedSql.h"
#include "database/SqlDialect.h"
#include "database/StudyDatabase.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

namespace panseg::db
{
namespace
{
using detail::i64;
using detail::idOrNull;
using detail::str;
std::string iso(const QDateTime& t)
{
  return t.toUTC().toString(Qt::ISODateWithMs).toStdString();
}

/// Fisher-Yates with splitmix64 (core/Random.h): the reading orders must be the same on every
/// platform for a seed (std::shuffle's algorithm is not specified).
std::vector<int64_t> shuffled(std::vector<int64_t> items, uint64_t seed)
{
  uint64_t state = seed;
  for (size_t i = items.size(); i > 1; --i)
    std::swap(items[i - 1], items[size_t(splitmix64Next(state) % i)]);
  return items;
}

/// SQL on StudyDatabase's own connection (shares its transactions and write lock), plus the audit log.
class Sql : public detail::SharedSql
{
public:
  using SharedSql::SharedSql;
  void audit(const std::string& action, const std::string& table, int64_t recordId,
             const QJsonObject& details, const QDateTime& at) const
  {
    m_db.appendAudit(action, table, recordId, QJsonDocument(details).toJson(QJsonDocument::Compact).toStdString(),
                     iso(at));
  }
};

/// A write transaction (SharedSql::beginWrite) ... COMMIT, rolled back unless committed.
class Transaction
{
public:
  Transaction(const Sql& sql, const std::string& what) : m_sql(sql)
  {
    m_sql.beginWrite(what);
    m_active = true;
  }
  ~Transaction()
  {
    if (m_active)
    {
      QSqlQuery q(m_sql.connection());
      q.exec("ROLLBACK");
    }
  }
  void commit()
  {
    m_sql.exec("COMMIT", {}, "commit");
    m_active = false;
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

private:
  const Sql& m_sql;
  bool m_active = false;
};

const char* kReadSelect = "SELECT r.id, r.study_id, r.reader_id, u.username, r.series_id, "
                          "r.read_number, r.order_position, r.state,"
                          " r.mask_version_id, r.unlock_at, r.started_at, r.submitted_at, "
                          "r.reviewed_by, r.reviewed_at, r.comment"
                          " FROM reader_study_reads r JOIN users u ON u.id = r.reader_id";

ReadRecord readFromRow(const QSqlQuery& q, const QDateTime& now)
{
  ReadRecord r;
  int c = 0;
  r.id = i64(q.value(c++));
  r.studyId = i64(q.value(c++));
  r.readerId = i64(q.value(c++));
  r.readerName = str(q.value(c++));
  r.seriesId = i64(q.value(c++));
  r.readNumber = q.value(c++).toInt();
  r.orderPosition = q.value(c++).toInt();
  r.state = parseReadState(str(q.value(c++))).value_or(ReadState::Pending);
  r.maskVersionId = i64(q.value(c++));
  r.unlockAt = str(q.value(c++));
  r.startedAt = str(q.value(c++));
  r.submittedAt = str(q.value(c++));
  r.reviewedBy = i64(q.value(c++));
  r.reviewedAt = str(q.value(c++));
  r.comment = str(q.value(c++));
  if (r.readNumber > 1 && r.state == ReadState::Pending)
    r.locked = r.unlockAt.empty() || now < QDateTime::fromString(qs(r.unlockAt), Qt::ISODateWithMs);
  return r;
}

bool finished(ReadState s)
{
  return s == ReadState::Submitted || s == ReadState::Approved;
}
} // namespace

// ---- enumerations ---------------------------------------------------------------------------
std::string to_string(StudyDesign d)
{
  switch (d)
  {
  case StudyDesign::InterObserver:
    return "inter";
  case StudyDesign::IntraObserver:
    return "intra";
  case StudyDesign::AiReview:
    return "ai-review";
  }
  return "inter";
}
std::string to_string(StartFrom s)
{
  return s == StartFrom::Ai ? "ai" : "scratch";
}
std::string to_string(ReadState s)
{
  switch (s)
  {
  case ReadState::Pending:
    return "pending";
  case ReadState::InProgress:
    return "in-progress";
  case ReadState::Submitted:
    return "submitted";
  case ReadState::Approved:
    return "approved";
  case ReadState::Returned:
    return "returned";
  }
  return "pending";
}
std::string to_string(AiRating r)
{
  switch (r)
  {
  case AiRating::Accept:
    return "accept";
  case AiRating::Minor:
    return "minor";
  case AiRating::Major:
    return "major";
  case AiRating::Reject:
    return "reject";
  }
  return "accept";
}

std::string to_string(ConsensusMethod m)
{
  return m == ConsensusMethod::Staple ? "staple" : "majority";
}

namespace
{
std::string lower(const std::string& s)
{
  return QString::fromStdString(s).toLower().toStdString();
}
} // namespace
std::optional<StudyDesign> parseStudyDesign(const std::string& text)
{
  const std::string t = lower(text);
  if (t == "inter" || t == "inter-observer")
    return StudyDesign::InterObserver;
  if (t == "intra" || t == "intra-observer")
    return StudyDesign::IntraObserver;
  if (t == "ai-review" || t == "ai")
    return StudyDesign::AiReview;
  return std::nullopt;
}
std::optional<StartFrom> parseStartFrom(const std::string& text)
{
  const std::string t = lower(text);
  if (t == "scratch")
    return StartFrom::Scratch;
  if (t == "ai")
    return StartFrom::Ai;
  return std::nullopt;
}
std::optional<ReadState> parseReadState(const std::string& text)
{
  for (ReadState s : {ReadState::Pending, ReadState::InProgress, ReadState::Submitted,
                      ReadState::Approved, ReadState::Returned})
    if (lower(text) == to_string(s))
      return s;
  return std::nullopt;
}
std::optional<ConsensusMethod> parseConsensusMethod(const std::string& text)
{
  const std::string t = lower(text);
  if (t == "majority" || t == "majority-vote")
    return ConsensusMethod::MajorityVote;
  if (t == "staple")
    return ConsensusMethod::Staple;
  return std::nullopt;
}

std::optional<AiRating> parseAiRating(const std::string& text)
{
  const std::string t = lower(text);
  for (AiRating r : {AiRating::Accept, AiRating::Minor, AiRating::Major, AiRating::Reject})
    if (t == to_string(r) || t == to_string(r) + "-edits")
      return r;
  return std::nullopt;
}

// ---- ReaderStudy ----------------------------------------------------------------------------
ReaderStudy::ReaderStudy(StudyDatabase& db, Clock clock) : m_db(db), m_clock(std::move(clock))
{
  if (m_db.schemaVersion() < 3)
    throw Error("the study database " + m_db.databasePath() + " has schema version " +
                std::to_string(m_db.schemaVersion()) + "; reader studies need version 3");
}

QDateTime ReaderStudy::now() const
{
  return m_clock ? m_clock().toUTC() : QDateTime::currentDateTimeUtc();
}

namespace
{
void requireCoordinator(const StudyDatabase& db, const std::string& what)
{
  const User& u = db.currentUser();
  if (!canCoordinate(u.role))
    throw Error("only a coordinator or an admin may " + what + " (user " + u.username + " is a " +
                to_string(u.role) + ")");
}

int64_t latestAiMask(const Sql& sql, int64_t seriesId)
{
  return i64(sql.scalar("SELECT MAX(id) FROM mask_versions WHERE series_id = ? AND source = 'ai'",
                        {qlonglong(seriesId)},
                        "find the AI mask of series " + std::to_string(seriesId)));
}
} // namespace

int64_t ReaderStudy::createStudy(const NewReaderStudy& s)
{
  const std::string what = "create reader study '" + s.name + "'";
  requireCoordinator(m_db, "create a reader study");
  if (s.name.empty())
    throw Error("a reader study needs a name");
  if (s.seriesIds.empty())
    throw Error("cannot " + what + ": no series given");
  std::set<std::string> names(s.readers.begin(), s.readers.end());
  if (names.size() != s.readers.size())
    throw Error("cannot " + what + ": a reader is named twice");
  const size_t minReaders = s.design == StudyDesign::InterObserver ? 2 : 1;
  if (names.size() < minReaders)
    throw Error("cannot " + what + ": an inter-observer study needs at least two readers");
  if (s.washoutDays < 0)
    throw Error("cannot " + what + ": the wash-out period cannot be negative");
  std::set<int64_t> seriesSet(s.seriesIds.begin(), s.seriesIds.end());
  if (seriesSet.size() != s.seriesIds.size())
    throw Error("cannot " + what + ": a series is listed twice");

  // Readers: existing users must have the reader (or clinician) role, since blinding does not
  // apply to coordinators and admins; missing ones are created as readers (local mode only).
  std::vector<User> readers;
  for (const std::string& name : names)
  {
    auto u = m_db.userByName(name);
    if (u && canCoordinate(u->role))
      throw Error(
          "cannot " + what + ": user " + name + " is a " + to_string(u->role) +
          "; readers need the reader role (blinding does not apply to coordinators and admins)");
    if (u && !u->active)
      throw Error("cannot " + what + ": user " + name + " is deactivated");
    // On a server every reader is an account that signs in; only an admin creates accounts.
    if (!u && m_db.isServer())
      throw Error("cannot " + what + ": reader " + name + " has no account on " + m_db.databasePath() +
                  "; an administrator adds it first with: panseg server user add " + name +
                  " --role reader --db " + m_db.databasePath());
    readers.push_back(u ? *u : m_db.addUser(name, Role::Reader));
  }

  const Sql sql(m_db);
  const QDateTime at = now();
  Transaction tx(sql, what);
  if (sql.scalar("SELECT id FROM reader_studies WHERE name = ?", {qs(s.name)}, what).isValid())
    throw Error("cannot " + what + ": a reader study with that name already exists");
  const bool needsAi = s.design == StudyDesign::AiReview || s.startFrom == StartFrom::Ai;
  std::map<int64_t, int64_t> aiMask;
  for (int64_t id : seriesSet)
  {
    if (!sql.scalar("SELECT id FROM series WHERE id = ?", {qlonglong(id)}, what).isValid())
      throw Error("cannot " + what + ": no series " + std::to_string(id) + " in " +
                  m_db.databasePath());
    aiMask[id] = latestAiMask(sql, id);
    if (needsAi && aiMask[id] == 0)
      throw Error("cannot " + what + ": series " + std::to_string(id) +
                  " has no AI mask (needed for " +
                  (s.design == StudyDesign::AiReview ? "an AI review"
                                                     : "readers starting from the AI mask") +
                  ")");
  }
  if (s.allowPrediction && m_db.schemaVersion() < 8)
    throw Error("cannot " + what + ": the study database " + m_db.databasePath() + " has schema version " +
                std::to_string(m_db.schemaVersion()) + "; allowing prediction needs version 8");
  const int64_t studyId =
      i64(sql.scalar("INSERT INTO reader_studies (name, design, washout_days, start_from, label, "
                     "seed, status, description, created_by,"
                     " created_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?) RETURNING id",
                     {qs(s.name), qs(to_string(s.design)),
                      s.design == StudyDesign::IntraObserver ? s.washoutDays : 0,
                      qs(to_string(s.startFrom)), s.label, qlonglong(s.seed), qs(s.description),
                      qlonglong(m_db.currentUser().id), qs(iso(at))},
                     what));
  if (s.allowPrediction)
    sql.exec("UPDATE reader_studies SET allow_prediction = 1 WHERE id = ?", {qlonglong(studyId)}, what);
  for (int64_t id : seriesSet)
    sql.exec(
        "INSERT INTO reader_study_cases (study_id, series_id, ai_mask_version_id) VALUES (?, ?, ?)",
        {qlonglong(studyId), qlonglong(id), idOrNull(aiMask[id])}, what);
  const std::vector<int64_t> ordered(seriesSet.begin(), seriesSet.end());
  const int reads = s.design == StudyDesign::IntraObserver ? 2 : 1;
  QJsonObject orders;
  for (size_t ri = 0; ri < readers.size();
       ++ri) // readers sorted by name: orders do not depend on user ids
  {
    sql.exec("INSERT INTO reader_study_readers (study_id, user_id) VALUES (?, ?)",
             {qlonglong(studyId), qlonglong(readers[ri].id)}, what);
    QJsonArray readerOrder;
    for (int n = 1; n <= reads; ++n)
    {
      const std::vector<int64_t> order =
          shuffled(ordered, uint64_t(s.seed) * 1000003ull + ri * 17ull + uint64_t(n));
      for (size_t pos = 0; pos < order.size(); ++pos)
      {
        sql.exec(
            "INSERT INTO reader_study_reads (study_id, reader_id, series_id, read_number, "
            "order_position, state)"
            " VALUES (?, ?, ?, ?, ?, 'pending')",
            {qlonglong(studyId), qlonglong(readers[ri].id), qlonglong(order[pos]), n, int(pos + 1)},
            what);
        if (n == 1)
          readerOrder.append(qint64(order[pos]));
      }
    }
    orders[qs(readers[ri].username)] = readerOrder;
  }
  QJsonArray seriesJson;
  for (int64_t id : ordered)
    seriesJson.append(qint64(id));
  sql.audit("create-reader-study", "reader_studies", studyId,
            QJsonObject{{"name", qs(s.name)},
                        {"design", qs(to_string(s.design))},
                        {"washout_days", s.washoutDays},
                        {"start_from", qs(to_string(s.startFrom))},
                        {"allow_prediction", s.allowPrediction},
                        {"seed", qint64(s.seed)},
                        {"series", seriesJson},
                        {"first_read_orders", orders}},
            at);
  tx.commit();
  return studyId;
}

void ReaderStudy::closeStudy(int64_t studyId)
{
  requireCoordinator(m_db, "close a reader study");
  const ReaderStudyInfo info = study(studyId);
  const Sql sql(m_db);
  Transaction tx(sql, "close reader study '" + info.name + "'");
  sql.exec("UPDATE reader_studies SET status = 'closed' WHERE id = ?", {qlonglong(studyId)},
           "close a reader study");
  sql.audit("close-reader-study", "reader_studies", studyId, QJsonObject{{"name", qs(info.name)}},
            now());
  tx.commit();
}

void ReaderStudy::setAllowPrediction(int64_t studyId, bool allow)
{
  requireCoordinator(m_db, "change whether a reader study allows prediction");
  if (m_db.schemaVersion() < 8)
    throw Error("the study database " + m_db.databasePath() + " has schema version " +
                std::to_string(m_db.schemaVersion()) + "; the prediction setting of a study needs version 8");
  const ReaderStudyInfo info = study(studyId);
  const std::string what = "set whether reader study '" + info.name + "' allows prediction";
  const Sql sql(m_db);
  Transaction tx(sql, what);
  const bool before = sql.scalar("SELECT allow_prediction FROM reader_studies WHERE id = ?", {qlonglong(studyId)}, what)
                          .toInt() != 0;
  sql.exec("UPDATE reader_studies SET allow_prediction = ? WHERE id = ?", {allow ? 1 : 0, qlonglong(studyId)}, what);
  sql.audit("set-study-prediction", "reader_studies", studyId,
            QJsonObject{{"name", qs(info.name)}, {"allow_prediction", allow}, {"before", before}}, now());
  tx.commit();
}

std::vector<ReaderStudyInfo> ReaderStudy::studies() const
{
  const Sql sql(m_db);
  QSqlQuery q = sql.exec("SELECT id FROM reader_studies ORDER BY id", {}, "list reader studies");
  std::vector<int64_t> ids;
  while (q.next())
    ids.push_back(i64(q.value(0)));
  std::vector<ReaderStudyInfo> out;
  for (int64_t id : ids)
    out.push_back(study(id));
  return out;
}

ReaderStudyInfo ReaderStudy::study(int64_t studyId) const
{
  const Sql sql(m_db);
  QSqlQuery q = sql.exec(
      "SELECT s.id, s.name, s.design, s.washout_days, s.start_from, s.label, s.seed, s.status,"
      " s.description, s.created_by, u.username, s.created_at FROM reader_studies s"
      " JOIN users u ON u.id = s.created_by WHERE s.id = ?",
      {qlonglong(studyId)}, "read a reader study");
  if (!q.next())
    throw Error("no reader study " + std::to_string(studyId) + " in " + m_db.databasePath());
  ReaderStudyInfo r;
  int c = 0;
  r.id = i64(q.value(c++));
  r.name = str(q.value(c++));
  r.design = parseStudyDesign(str(q.value(c++))).value_or(StudyDesign::InterObserver);
  r.washoutDays = q.value(c++).toInt();
  r.startFrom = parseStartFrom(str(q.value(c++))).value_or(StartFrom::Scratch);
  r.label = q.value(c++).toInt();
  r.seed = uint32_t(q.value(c++).toLongLong());
  r.open = str(q.value(c++)) == "open";
  r.description = str(q.value(c++));
  r.createdBy = i64(q.value(c++));
  r.createdByName = str(q.value(c++));
  r.createdAt = str(q.value(c++));
  if (m_db.schemaVersion() >= 8)
    r.allowPrediction = sql.scalar("SELECT allow_prediction FROM reader_studies WHERE id = ?", {qlonglong(studyId)},
                                   "read a reader study")
                            .toInt() != 0;
  QSqlQuery rq = sql.exec(
      "SELECT u.id, u.username, u.display_name, u.role, u.active, u.created_at FROM"
      " reader_study_readers r JOIN users u ON u.id = r.user_id WHERE r.study_id = ? ORDER BY u.id",
      {qlonglong(studyId)}, "list the readers of a study");
  while (rq.next())
    r.readers.push_back(User{i64(rq.value(0)), str(rq.value(1)), str(rq.value(2)),
                             parseRole(str(rq.value(3))).value_or(Role::Reader),
                             rq.value(4).toInt() != 0, str(rq.value(5))});
  QSqlQuery cq =
      sql.exec("SELECT series_id, ai_mask_version_id FROM reader_study_cases WHERE study_id = ?"
               " ORDER BY series_id",
               {qlonglong(studyId)}, "list the cases of a study");
  while (cq.next())
  {
    r.seriesIds.push_back(i64(cq.value(0)));
    r.aiMaskIds.push_back(i64(cq.value(1)));
  }
  return r;
}

ReaderStudyInfo ReaderStudy::findStudy(const std::string& idOrName) const
{
  bool ok = false;
  const qlonglong id = qs(idOrName).toLongLong(&ok);
  if (ok && id > 0)
    return study(id);
  const QVariant v = Sql(m_db).scalar("SELECT id FROM reader_studies WHERE name = ?",
                                      {qs(idOrName)}, "find a study");
  if (!v.isValid())
    throw Error("no reader study named '" + idOrName + "' in " + m_db.databasePath() +
                " (see panseg study list)");
  return study(v.toLongLong());
}

std::vector<ReadRecord> ReaderStudy::reads(int64_t studyId) const
{
  requireCoordinator(m_db, "see every read of a study");
  const Sql sql(m_db);
  QSqlQuery q =
      sql.exec(std::string(kReadSelect) +
                   " WHERE r.study_id = ? ORDER BY r.series_id, u.username, r.read_number",
               {qlonglong(studyId)}, "list the reads of a study");
  std::vector<ReadRecord> out;
  const QDateTime t = now();
  while (q.next())
    out.push_back(readFromRow(q, t));
  return out;
}

ReadRecord ReaderStudy::read(int64_t readId) const
{
  QSqlQuery q = Sql(m_db).exec(std::string(kReadSelect) + " WHERE r.id = ?", {qlonglong(readId)},
                               "read a read");
  if (!q.next())
  {
    // On a server a reader sees only their own reads (row-level security) while a study is open.
    if (m_db.isServer() && !canCoordinate(m_db.currentUser().role))
      throw Error("read " + std::to_string(readId) + " is not one of your reads (" + m_db.currentUser().username +
                  "): the server shows a reader only their own reads while a study is open (or it does not exist in " +
                  m_db.databasePath() + ")");
    throw Error("no read " + std::to_string(readId) + " in " + m_db.databasePath());
  }
  return readFromRow(q, now());
}

Worklist ReaderStudy::worklist(int64_t studyId, const std::string& readerName) const
{
  const User& me = m_db.currentUser();
  std::string name = readerName.empty() ? me.username : readerName;
  if (name != me.username)
    requireCoordinator(m_db, "see another reader's worklist");
  const ReaderStudyInfo info = study(studyId);
  const auto user = m_db.userByName(name);
  if (!user || std::none_of(info.readers.begin(), info.readers.end(),
                            [&](const User& u) { return u.id == user->id; }))
    throw Error(name + " is not a reader of study '" + info.name + "'");
  QSqlQuery q = Sql(m_db).exec(
      std::string(kReadSelect) +
          " WHERE r.study_id = ? AND r.reader_id = ? ORDER BY r.read_number, r.order_position",
      {qlonglong(studyId), qlonglong(user->id)}, "read a worklist");
  Worklist w;
  const QDateTime t = now();
  while (q.next())
    w.reads.push_back(readFromRow(q, t));
  if (info.design == StudyDesign::AiReview)
    for (const AiRatingRecord& a : ratings(studyId))
      for (ReadRecord& r : w.reads)
        if (a.readerId == user->id && a.seriesId == r.seriesId)
          r.rating = a.rating;
  w.total = int(w.reads.size());
  for (const ReadRecord& r : w.reads)
  {
    w.done += finished(r.state) || r.rating ? 1 : 0;
    w.locked += r.locked ? 1 : 0;
  }
  if (info.open)
  {
    for (const ReadRecord& r : w.reads) // returned reads first, then in order
      if (r.state == ReadState::Returned && !w.next)
        w.next = r;
    for (const ReadRecord& r : w.reads)
      if (!w.next && !r.locked && !r.rating &&
          (r.state == ReadState::InProgress || r.state == ReadState::Pending))
        w.next = r;
  }
  return w;
}

namespace
{
void requireOwnOpenRead(const StudyDatabase& db, const ReaderStudyInfo& info, const ReadRecord& r,
                        const std::string& what)
{
  if (r.readerId != db.currentUser().id)
    throw Error("cannot " + what + ": read " + std::to_string(r.id) + " belongs to " +
                r.readerName + ", not to " + db.currentUser().username);
  if (!info.open)
    throw Error("cannot " + what + ": reader study '" + info.name + "' is closed");
  if (r.locked)
    throw Error(
        "cannot " + what + ": read " + std::to_string(r.id) + " is a second read that unlocks " +
        (r.unlockAt.empty()
             ? std::string("after the wash-out that starts when the first read is submitted")
             : "at " + r.unlockAt + " (wash-out of " + std::to_string(info.washoutDays) +
                   " days)"));
  if (finished(r.state))
    throw Error("cannot " + what + ": read " + std::to_string(r.id) + " is already " +
                to_string(r.state));
}
} // namespace

ReadRecord ReaderStudy::startRead(int64_t readId)
{
  const ReadRecord r = read(readId);
  const ReaderStudyInfo info = study(r.studyId);
  requireOwnOpenRead(m_db, info, r, "start read " + std::to_string(readId));
  if (r.state == ReadState::Pending)
  {
    const Sql sql(m_db);
    const QDateTime at = now();
    Transaction tx(sql, "start a read");
    sql.exec("UPDATE reader_study_reads SET state = 'in-progress', started_at = ? WHERE id = ?",
             {qs(iso(at)), qlonglong(readId)}, "start a read");
    sql.audit("start-read", "reader_study_reads", readId,
              QJsonObject{{"study", qint64(r.studyId)},
                          {"series", qint64(r.seriesId)},
                          {"read", r.readNumber}},
              at);
    tx.commit();
  }
  return read(readId);
}

LabelTable ReaderStudy::startingLabelTable(int64_t readId) const
{
  const ReadRecord r = read(readId);
  const ReaderStudyInfo info = study(r.studyId);
  if (r.readerId != m_db.currentUser().id)
    requireCoordinator(m_db, "see another reader's starting mask");
  if (r.state == ReadState::Returned && r.maskVersionId > 0)
    return m_db.labelTable(r.maskVersionId);
  if (info.startFrom == StartFrom::Ai || info.design == StudyDesign::AiReview)
    for (size_t i = 0; i < info.seriesIds.size(); ++i)
      if (info.seriesIds[i] == r.seriesId && info.aiMaskIds[i] > 0)
        return m_db.labelTable(info.aiMaskIds[i]);
  return LabelTable::defaults();
}

LabelMask ReaderStudy::startingMask(int64_t readId) const
{
  const ReadRecord r = read(readId);
  const ReaderStudyInfo info = study(r.studyId);
  if (r.readerId != m_db.currentUser().id)
    requireCoordinator(m_db, "see another reader's starting mask");
  // A returned read goes on from the reader's last submitted version (kept linked on return).
  if (r.state == ReadState::Returned && r.maskVersionId > 0)
    return m_db.loadMask(r.maskVersionId);
  if (info.startFrom == StartFrom::Ai || info.design == StudyDesign::AiReview)
    for (size_t i = 0; i < info.seriesIds.size(); ++i)
      if (info.seriesIds[i] == r.seriesId && info.aiMaskIds[i] > 0)
        return m_db.loadMask(info.aiMaskIds[i]);
  const auto s = m_db.series(r.seriesId);
  if (!s)
    throw Error("no series " + std::to_string(r.seriesId) + " in " + m_db.databasePath());
  return LabelMask(s->geometry, 0);
}

int64_t ReaderStudy::submitRead(int64_t readId, const LabelMask& mask, const std::string& note,
                                const std::optional<LabelTable>& labels)
{
  const std::string what = "submit read " + std::to_string(readId);
  const ReadRecord r = read(readId);
  const ReaderStudyInfo info = study(r.studyId);
  requireOwnOpenRead(m_db, info, r, what);
  int64_t parent = 0;
  if (info.startFrom == StartFrom::Ai || info.design == StudyDesign::AiReview)
    for (size_t i = 0; i < info.seriesIds.size(); ++i)
      if (info.seriesIds[i] == r.seriesId)
        parent = info.aiMaskIds[i];
  MaskProvenance p;
  p.source = MaskSource::Reader;
  p.parentId = parent;
  p.state = MaskState::Submitted;
  p.labelTable = labels;
  p.note = note.empty() ? "reader study '" + info.name + "', read " + std::to_string(r.readNumber)
                        : note;
  // The mask version is committed first (its own transaction, file verified); the link follows.
  // Should the link fail, the version stays unlinked but still blinded (authored by a reader).
  const int64_t maskId = m_db.saveMaskVersion(r.seriesId, mask, p);
  const Sql sql(m_db);
  const QDateTime at = now();
  Transaction tx(sql, what);
  sql.exec(
      "UPDATE reader_study_reads SET state = 'submitted', mask_version_id = ?, submitted_at = ?,"
      " started_at = CASE WHEN started_at = '' THEN ? ELSE started_at END WHERE id = ?",
      {qlonglong(maskId), qs(iso(at)), qs(iso(at)), qlonglong(readId)}, what);
  if (info.design == StudyDesign::IntraObserver && r.readNumber == 1)
    sql.exec("UPDATE reader_study_reads SET unlock_at = ? WHERE study_id = ? AND reader_id = ? AND "
             "series_id = ?"
             " AND read_number = 2 AND unlock_at = ''",
             {qs(iso(at.addDays(info.washoutDays))), qlonglong(r.studyId), qlonglong(r.readerId),
              qlonglong(r.seriesId)},
             what);
  sql.audit("submit-read", "reader_study_reads", readId,
            QJsonObject{{"study", qint64(r.studyId)},
                        {"series", qint64(r.seriesId)},
                        {"read", r.readNumber},
                        {"mask_version", qint64(maskId)}},
            at);
  tx.commit();
  return maskId;
}

namespace
{
/// Approve or return a submitted read: the read and its mask version change state in ONE write
/// transaction, each only if it is still "submitted", so that two coordinators (one approving,
/// one returning) cannot both win: the second finds nothing left to change and is told so.
void reviewRead(const StudyDatabase& db, const ReadRecord& r, const char* readState, const char* maskState,
                const std::string& comment, const QDateTime& at, const char* action)
{
  const Sql sql(db);
  const std::string what = std::string(action) + " read " + std::to_string(r.id);
  Transaction tx(sql, what);
  const int changed =
      sql.exec("UPDATE reader_study_reads SET state = ?, reviewed_by = ?, reviewed_at = ?, comment = ?"
               " WHERE id = ? AND state = 'submitted'",
               {readState, qlonglong(db.currentUser().id), qs(iso(at)), qs(comment), qlonglong(r.id)}, what)
          .numRowsAffected();
  if (changed != 1)
  {
    const QVariant now =
        sql.scalar("SELECT state FROM reader_study_reads WHERE id = ?", {qlonglong(r.id)}, what);
    throw Error("cannot " + what + ": someone else has just changed it (it is now " +
                now.toString().toStdString() + ")");
  }
  const int masks =
      sql.exec("UPDATE mask_versions SET state = ?, state_changed_at = ? WHERE id = ? AND state = 'submitted'",
               {maskState, qs(iso(at)), qlonglong(r.maskVersionId)}, what)
          .numRowsAffected();
  if (masks != 1)
    throw Error("cannot " + what + ": its mask version " + std::to_string(r.maskVersionId) +
                " is no longer submitted");
  QJsonObject maskDetails{{"from", "submitted"}, {"to", maskState}};
  if (!comment.empty())
    maskDetails["note"] = qs(comment);
  sql.audit("set-mask-state", "mask_versions", r.maskVersionId, maskDetails, at);
  sql.audit(std::string(action) + "-read", "reader_study_reads", r.id,
            QJsonObject{{"mask_version", qint64(r.maskVersionId)}, {"comment", qs(comment)}}, at);
  tx.commit();
}
} // namespace

void ReaderStudy::approveRead(int64_t readId, const std::string& comment)
{
  requireCoordinator(m_db, "approve a read");
  const ReadRecord r = read(readId);
  if (r.state != ReadState::Submitted)
    throw Error("cannot approve read " + std::to_string(readId) + ": it is " + to_string(r.state) +
                ", not submitted");
  reviewRead(m_db, r, "approved", "approved", comment, now(), "approve");
}

void ReaderStudy::returnRead(int64_t readId, const std::string& comment)
{
  requireCoordinator(m_db, "return a read");
  if (comment.empty())
    throw Error("returning a read needs a comment for the reader");
  const ReadRecord r = read(readId);
  if (r.state != ReadState::Submitted)
    throw Error("cannot return read " + std::to_string(readId) + ": it is " + to_string(r.state) +
                ", not submitted");
  reviewRead(m_db, r, "returned", "draft", comment, now(), "return");
}

void ReaderStudy::rateAiMask(int64_t studyId, int64_t seriesId, AiRating rating)
{
  const ReaderStudyInfo info = study(studyId);
  const std::string what =
      "rate the AI mask of series " + std::to_string(seriesId) + " in study '" + info.name + "'";
  const User& me = m_db.currentUser();
  if (info.design != StudyDesign::AiReview)
    throw Error("cannot " + what + ": it is not an AI-review study");
  if (!info.open)
    throw Error("cannot " + what + ": the study is closed");
  if (std::none_of(info.readers.begin(), info.readers.end(),
                   [&](const User& u) { return u.id == me.id; }))
    throw Error("cannot " + what + ": " + me.username + " is not one of its readers");
  const auto it = std::find(info.seriesIds.begin(), info.seriesIds.end(), seriesId);
  if (it == info.seriesIds.end())
    throw Error("cannot " + what + ": the series is not in the study");
  const int64_t aiMask = info.aiMaskIds[size_t(it - info.seriesIds.begin())];
  const Sql sql(m_db);
  const QDateTime at = now();
  Transaction tx(sql, what);
  const QVariant old =
      sql.scalar("SELECT rating FROM reader_study_ratings WHERE study_id = ? AND reader_id = ? AND"
                 " series_id = ?",
                 {qlonglong(studyId), qlonglong(me.id), qlonglong(seriesId)}, what);
  sql.exec("INSERT INTO reader_study_ratings (study_id, reader_id, series_id, ai_mask_version_id, "
           "rating, rated_at)"
           " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (study_id, reader_id, series_id)"
           " DO UPDATE SET rating = excluded.rating, rated_at = excluded.rated_at",
           {qlonglong(studyId), qlonglong(me.id), qlonglong(seriesId), idOrNull(aiMask),
            qs(to_string(rating)), qs(iso(at))},
           what);
  QJsonObject details{{"study", qint64(studyId)},
                      {"series", qint64(seriesId)},
                      {"ai_mask_version", qint64(aiMask)},
                      {"rating", qs(to_string(rating))}};
  if (old.isValid())
    details["from"] = old.toString();
  sql.audit("rate-ai-mask", "reader_study_ratings", 0, details, at);
  tx.commit();
}

std::vector<AiRatingRecord> ReaderStudy::ratings(int64_t studyId) const
{
  const Sql sql(m_db);
  QSqlQuery q = sql.exec(
      "SELECT r.study_id, r.reader_id, u.username, r.series_id, r.ai_mask_version_id, r.rating,"
      " r.rated_at FROM reader_study_ratings r JOIN users u ON u.id = r.reader_id"
      " WHERE r.study_id = ? ORDER BY r.series_id, u.username",
      {qlonglong(studyId)}, "list AI-review ratings");
  const bool all =
      canCoordinate(m_db.currentUser().role);
  std::vector<AiRatingRecord> out;
  while (q.next())
  {
    AiRatingRecord r{i64(q.value(0)), i64(q.value(1)),
                     str(q.value(2)), i64(q.value(3)),
                     i64(q.value(4)), parseAiRating(str(q.value(5))).value_or(AiRating::Accept),
                     str(q.value(6))};
    if (all || r.readerId == m_db.currentUser().id) // readers see only their own verdicts
      out.push_back(r);
  }
  return out;
}

std::map<int64_t, int64_t> ReaderStudy::consensusMasks(int64_t studyId) const
{
  requireCoordinator(m_db, "see the consensus masks of a study");
  const Sql sql(m_db);
  QSqlQuery q = sql.exec("SELECT series_id, mask_version_id FROM reader_study_consensus"
                         " WHERE study_id = ? ORDER BY id",
                         {qlonglong(studyId)}, "list the consensus masks of a study");
  std::map<int64_t, int64_t> out;
  while (q.next())
    out[i64(q.value(0))] = i64(q.value(1)); // later rows replace earlier ones
  return out;
}

int64_t ReaderStudy::buildConsensus(int64_t studyId, int64_t seriesId, ConsensusMethod method)
{
  return buildConsensusWithDetails(studyId, seriesId, method).maskVersionId;
}

ConsensusResult ReaderStudy::buildConsensusWithDetails(int64_t studyId, int64_t seriesId,
                                                       ConsensusMethod method)
{
  requireCoordinator(m_db, "build a consensus mask");
  const ReaderStudyInfo info = study(studyId);
  const std::string what =
      "build the consensus of series " + std::to_string(seriesId) + " in study '" + info.name + "'";
  ConsensusResult result;
  result.method = method;
  for (const ReadRecord& r : reads(studyId))
    if (r.seriesId == seriesId && r.readNumber == 1 && finished(r.state) && r.maskVersionId > 0)
      result.inputs.push_back({r.id, r.maskVersionId, r.readerName, 0, 0});
  const size_t n = result.inputs.size();
  if (n < 2)
    throw Error("cannot " + what + ": it needs at least two submitted first reads (has " +
                std::to_string(n) + ")");
  const uint8_t value = uint8_t(info.label == 0 ? 1 : info.label);
  LabelMask out;
  std::string note;
  QJsonObject details{{"study", qint64(studyId)}, {"series", qint64(seriesId)}};
  if (method == ConsensusMethod::MajorityVote)
  {
    MajorityVote vote(info.label);
    for (const ConsensusResult::Input& in : result.inputs)
    {
      std::string why;
      if (!vote.add(m_db.loadMask(in.maskVersionId), &why))
        throw Error("cannot " + what + ": the mask of read " + std::to_string(in.readId) +
                    " is not on the grid of the first read's mask: " + why);
    }
    out = vote.consensus(value);
    note = "majority vote of " + std::to_string(n) + " reads, reader study '" + info.name + "'";
  }
  else
  {
    std::vector<LabelMask> masks;
    masks.reserve(n);
    for (const ConsensusResult::Input& in : result.inputs)
      masks.push_back(m_db.loadMask(in.maskVersionId));
    std::vector<const LabelMask*> raters;
    for (size_t j = 0; j < n; ++j)
    {
      std::string why;
      if (j > 0 && !masks[j].geometry.sameGrid(masks[0].geometry, &why))
        throw Error("cannot " + what + ": the mask of read " + std::to_string(result.inputs[j].readId) +
                    " is not on the grid of read " + std::to_string(result.inputs[0].readId) + "'s mask: " +
                    why);
      raters.push_back(&masks[j]);
    }
    StapleOptions o;
    o.label = info.label;
    o.foregroundValue = value;
    StapleResult st;
    try
    {
      st = staple(raters, o);
    }
    catch (const Error& e)
    {
      throw Error("cannot " + what + ": " + e.what());
    }
    out = std::move(st.consensus);
    result.prior = st.prior;
    result.iterations = st.iterations;
    result.converged = st.converged;
    // Reads by id (never reader names): the note travels with the mask version.
    note = "STAPLE of " + std::to_string(n) + " reads, reader study '" + info.name + "'; " +
           std::to_string(st.iterations) + " iterations" + (st.converged ? "" : " (not converged)") +
           "; sensitivity/specificity:";
    QJsonArray perRead;
    char buf[96];
    for (size_t j = 0; j < n; ++j)
    {
      ConsensusResult::Input& in = result.inputs[j];
      in.sensitivity = st.sensitivity[j];
      in.specificity = st.specificity[j];
      std::snprintf(buf, sizeof buf, " read %lld %.4f/%.4f", (long long)in.readId, in.sensitivity,
                    in.specificity);
      note += std::string(buf) + (j + 1 < n ? "," : "");
      perRead.append(QJsonObject{{"read", qint64(in.readId)},
                                 {"mask_version", qint64(in.maskVersionId)},
                                 {"sensitivity", in.sensitivity},
                                 {"specificity", in.specificity}});
    }
    details["staple"] = QJsonObject{{"reads", perRead},
                                    {"prior", st.prior},
                                    {"iterations", st.iterations},
                                    {"converged", st.converged},
                                    {"region_voxels", qint64(st.regionVoxels)}};
  }
  MaskProvenance p;
  p.source = MaskSource::Consensus;
  p.state = MaskState::Submitted;
  p.note = note;
  const int64_t maskId = m_db.saveMaskVersion(seriesId, out, p);
  result.maskVersionId = maskId;
  QJsonArray in;
  for (const ConsensusResult::Input& i : result.inputs)
    in.append(qint64(i.maskVersionId));
  const Sql sql(m_db);
  const QDateTime at = now();
  Transaction tx(sql, what);
  const int64_t rowId = i64(
      sql.scalar("INSERT INTO reader_study_consensus (study_id, series_id, mask_version_id, method,"
                 " inputs, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                 " RETURNING id",
                 {qlonglong(studyId), qlonglong(seriesId), qlonglong(maskId), qs(to_string(method)),
                  QString::fromUtf8(QJsonDocument(in).toJson(QJsonDocument::Compact)),
                  qlonglong(m_db.currentUser().id), qs(iso(at))},
                 what));
  details["mask_version"] = qint64(maskId);
  details["method"] = qs(to_string(method));
  details["inputs"] = in;
  sql.audit("build-consensus", "reader_study_consensus", rowId, details, at);
  tx.commit();
  return result;
}
} // namespace panseg::db
