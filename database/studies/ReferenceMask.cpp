#include "database/studies/ReferenceMask.h"
#include "database/QtText.h"

#include "database/SharedSql.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <tuple>

namespace panseg::db
{
namespace
{
using detail::str;

std::optional<ReferenceRule> storedRule(const StudyDatabase& db, int64_t studyId)
{
  const detail::SharedSql sql(db);
  QSqlQuery q = sql.exec("SELECT r.rule, r.reader_user_id, ru.username, u.username, r.set_at"
                         " FROM reference_mask_rules r JOIN users u ON u.id = r.set_by"
                         " LEFT JOIN users ru ON ru.id = r.reader_user_id"
                         " WHERE r.scope = ? AND " +
                           std::string(studyId > 0 ? "r.study_id = ?" : "r.study_id IS NULL AND ? = 0") +
                           " ORDER BY r.id DESC LIMIT 1",
                         { QString(studyId > 0 ? "study" : "database"), qlonglong(studyId) },
                         "read the reference-mask rule");
  if (!q.next())
    return std::nullopt;
  ReferenceRule r;
  r.kind = parseReferenceRuleKind(str(q.value(0))).value_or(ReferenceRuleKind::Latest);
  r.readerId = q.value(1).toLongLong();
  r.readerName = str(q.value(2));
  r.setBy = str(q.value(3));
  r.setAt = str(q.value(4));
  r.studyId = studyId;
  r.isDefault = false;
  return r;
}

std::string studyNameOf(const StudyDatabase& db, int64_t studyId)
{
  const detail::SharedSql sql(db);
  const QVariant v = sql.scalar("SELECT name FROM reader_studies WHERE id = ?", { qlonglong(studyId) },
                                "read reader study " + std::to_string(studyId));
  if (!v.isValid())
    throw Error("no reader study with id " + std::to_string(studyId) + " in " + db.dataFolder());
  return str(v);
}
} // namespace

std::string to_string(ReferenceRuleKind k)
{
  switch (k)
  {
  case ReferenceRuleKind::Latest: return "latest";
  case ReferenceRuleKind::Consensus: return "consensus";
  case ReferenceRuleKind::Reader: return "reader";
  }
  return "latest";
}

std::optional<ReferenceRuleKind> parseReferenceRuleKind(const std::string& text)
{
  const QString t = qs(text).trimmed().toLower();
  if (t == "latest" || t == "latest-approved")
    return ReferenceRuleKind::Latest;
  if (t == "consensus")
    return ReferenceRuleKind::Consensus;
  if (t == "reader")
    return ReferenceRuleKind::Reader;
  return std::nullopt;
}

std::string ReferenceRule::ruleText() const
{
  switch (kind)
  {
  case ReferenceRuleKind::Latest: return "latest approved";
  case ReferenceRuleKind::Consensus: return "consensus";
  case ReferenceRuleKind::Reader: return "reader " + readerName;
  }
  return "latest approved";
}

std::string ReferenceRule::details() const
{
  if (isDefault)
    return ruleText() + " (default; no rule set)";
  const std::string scope = studyId > 0 ? "reader study '" + studyName + "'" : std::string("database-wide");
  return ruleText() + " (" + scope + ", set by " + setBy + " " + setAt + ")";
}

ReferenceRule referenceRule(const StudyDatabase& db, int64_t studyId)
{
  ReferenceRule r;
  const std::string studyName = studyId > 0 && db.schemaVersion() >= 3 ? studyNameOf(db, studyId) : std::string();
  if (db.schemaVersion() < 7)
    return r;
  if (studyId > 0)
    if (auto own = storedRule(db, studyId))
    {
      own->studyName = studyName;
      return *own;
    }
  if (auto wide = storedRule(db, 0))
    return *wide;
  return r;
}

ReferenceRule setReferenceRule(StudyDatabase& db, ReferenceRuleKind kind, const std::string& readerName,
                               int64_t studyId)
{
  const User& me = db.currentUser();
  const std::string what = "set the reference-mask rule";
  if (!canCoordinate(me.role))
    throw Error("only a coordinator or an admin may " + what + " (user " + me.username + " is a " +
                to_string(me.role) + ")");
  if (db.schemaVersion() < 7)
    throw Error("cannot " + what + ": the study database " + db.dataFolder() + " has schema version " +
                std::to_string(db.schemaVersion()) + "; reference-mask rules need version 7");
  int64_t readerId = 0;
  if (kind == ReferenceRuleKind::Reader)
  {
    if (readerName.empty())
      throw Error("cannot " + what + ": the rule 'reader' needs the reader's user name");
    const auto u = db.userByName(readerName);
    if (!u)
    {
      std::string known;
      for (const User& x : db.users())
        if (x.role == Role::Reader || x.role == Role::Coordinator)
          known += (known.empty() ? "" : ", ") + x.username;
      throw Error("cannot " + what + ": no user '" + readerName + "' in " + db.dataFolder() +
                  (known.empty() ? std::string() : " (readers: " + known + ")"));
    }
    readerId = u->id;
  }
  else if (!readerName.empty())
    throw Error("cannot " + what + ": only the rule 'reader' takes a user name (got '" + readerName + "' with '" +
                to_string(kind) + "')");
  const std::string studyName = studyId > 0 ? studyNameOf(db, studyId) : std::string();
  const std::string at = QDateTime::currentDateTimeUtc().toString(Qt::ISODate).toStdString();

  const detail::SharedSql sql(db);
  sql.beginWrite(what);
  try
  {
    const QVariant id = sql.scalar(
      "INSERT INTO reference_mask_rules (scope, study_id, rule, reader_user_id, set_by, set_at)"
      " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
      { QString(studyId > 0 ? "study" : "database"), studyId > 0 ? QVariant(qlonglong(studyId)) : QVariant(),
        qs(to_string(kind)), readerId > 0 ? QVariant(qlonglong(readerId)) : QVariant(), qlonglong(me.id), qs(at) },
      what);
    QJsonObject details{ { "scope", studyId > 0 ? "study" : "database" }, { "rule", qs(to_string(kind)) } };
    if (studyId > 0)
    {
      details["study"] = qlonglong(studyId);
      details["study_name"] = qs(studyName);
    }
    if (readerId > 0)
      details["reader"] = qs(readerName);
    db.appendAudit("set-reference-rule", "reference_mask_rules", id.toLongLong(),
                   QJsonDocument(details).toJson(QJsonDocument::Compact).toStdString(), at);
    sql.exec("COMMIT", {}, what);
  }
  catch (...)
  {
    sql.rollback();
    throw;
  }
  return referenceRule(db, studyId);
}

ReferenceChoice chooseReferenceMask(const std::vector<MaskVersion>& masks, const ReferenceRule& rule)
{
  std::vector<const MaskVersion*> approved;
  for (const MaskVersion& m : masks)
    if (m.state == MaskState::Approved)
      approved.push_back(&m);
  ReferenceChoice out;
  if (approved.empty())
  {
    out.reason = "no approved version";
    return out;
  }
  auto matches = [&](const MaskVersion& m) {
    switch (rule.kind)
    {
    case ReferenceRuleKind::Latest: return true;
    case ReferenceRuleKind::Consensus: return m.source == MaskSource::Consensus;
    case ReferenceRuleKind::Reader: return m.source == MaskSource::Reader && m.authorUserId == rule.readerId;
    }
    return false;
  };
  // When it was approved: state_changed_at (the only later change of an approved version is its
  // revocation, after which it is no longer approved). Timestamps with and without milliseconds.
  auto approvedAt = [](const MaskVersion& m) {
    return QDateTime::fromString(qs(m.stateChangedAt), Qt::ISODateWithMs).toMSecsSinceEpoch();
  };
  const MaskVersion* best = nullptr;
  for (const MaskVersion* m : approved)
    if (matches(*m) && (!best || std::make_tuple(approvedAt(*m), m->id) > std::make_tuple(approvedAt(*best), best->id)))
      best = m;
  if (!best)
  {
    const std::string what = rule.kind == ReferenceRuleKind::Consensus ? "no approved consensus version"
                                                                       : "no approved version by " + rule.readerName;
    out.reason = what + " (" + std::to_string(approved.size()) + " other approved version" +
                 (approved.size() == 1 ? "" : "s") + ")";
    return out;
  }
  out.maskVersionId = best->id;
  out.reason = rule.kind == ReferenceRuleKind::Latest      ? "approved last"
               : rule.kind == ReferenceRuleKind::Consensus ? "newest approved consensus"
                                                           : "newest approved version by " + rule.readerName;
  return out;
}
} // namespace panseg::db
