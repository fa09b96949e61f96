#include "database/studies/ReadReview.h"

#include "core/Error.h"
#include "database/SharedSql.h"
#include "database/StudyDatabase.h"

#include <algorithm>

namespace panseg::db
{
namespace
{
using detail::i64;
using detail::str;

void requireCoordinator(const StudyDatabase& db, const std::string& what)
{
  const User& u = db.currentUser();
  if (!canCoordinate(u.role))
    throw Error("only a coordinator or an admin may " + what + " (user " + u.username + " is a " +
                to_string(u.role) + ")");
}

struct ConsensusRow
{
  int64_t studyId = 0, seriesId = 0, maskVersionId = 0;
  std::string method, createdAt, state;
};

/// The consensus masks of a study (all series when seriesId is 0), newest first.
std::vector<ConsensusRow> consensusRows(const StudyDatabase& db, int64_t studyId, int64_t seriesId)
{
  const detail::SharedSql sql(db);
  QSqlQuery q = sql.exec("SELECT c.study_id, c.series_id, c.mask_version_id, c.method, c.created_at, m.state"
                         " FROM reader_study_consensus c JOIN mask_versions m ON m.id = c.mask_version_id"
                         " WHERE c.study_id = ? ORDER BY c.id DESC",
                         {qlonglong(studyId)},
                         "list the consensus masks of a study");
  std::vector<ConsensusRow> out;
  while (q.next())
    if (seriesId == 0 || i64(q.value(1)) == seriesId)
      out.push_back({i64(q.value(0)), i64(q.value(1)), i64(q.value(2)), str(q.value(3)), str(q.value(4)),
                     str(q.value(5))});
  return out;
}
} // namespace

std::string ComparisonCandidate::label() const
{
  const std::string v = "mask v" + std::to_string(maskVersionId);
  switch (kind)
  {
  case Kind::Read:
    return "read " + std::to_string(readId) + " by " + readerName + (readNumber > 1 ? ", 2nd read" : "") + " (" +
           state + ", " + v + ")";
  case Kind::Ai:
    return "AI " + v + (detail.empty() ? "" : " (" + detail + ")");
  case Kind::Consensus:
    return "consensus v" + std::to_string(maskVersionId) + " (" + detail + ", " + state + ")";
  case Kind::Version:
    return "v" + std::to_string(maskVersionId) + " " + detail + " " + readerName + " (" + state + ")";
  }
  return v;
}

ReadReview::ReadReview(StudyDatabase& db) : m_db(db), m_rs(db) {}

std::vector<ReviewItem> ReadReview::awaitingApproval(int64_t studyId) const
{
  requireCoordinator(m_db, "list what awaits approval");
  std::vector<ReaderStudyInfo> studies;
  if (studyId > 0)
    studies.push_back(m_rs.study(studyId));
  else
    for (const ReaderStudyInfo& s : m_rs.studies())
      if (s.open)
        studies.push_back(s);
  std::vector<ReviewItem> out;
  for (const ReaderStudyInfo& s : studies)
  {
    std::vector<ReviewItem> items;
    for (const ReadRecord& r : m_rs.reads(s.id))
      if (r.state == ReadState::Submitted && r.maskVersionId > 0)
      {
        ReviewItem i;
        i.kind = ReviewItem::Kind::Read;
        i.studyId = s.id;
        i.studyName = s.name;
        i.label = s.label;
        i.seriesId = r.seriesId;
        i.maskVersionId = r.maskVersionId;
        i.readId = r.id;
        i.readerName = r.readerName;
        i.readNumber = r.readNumber;
        i.submittedAt = r.submittedAt;
        items.push_back(i);
      }
    for (const ConsensusRow& c : consensusRows(m_db, s.id, 0))
      if (c.state == to_string(MaskState::Submitted))
      {
        ReviewItem i;
        i.kind = ReviewItem::Kind::Consensus;
        i.studyId = s.id;
        i.studyName = s.name;
        i.label = s.label;
        i.seriesId = c.seriesId;
        i.maskVersionId = c.maskVersionId;
        i.method = c.method;
        i.submittedAt = c.createdAt;
        items.push_back(i);
      }
    std::stable_sort(items.begin(), items.end(),
                     [](const ReviewItem& a, const ReviewItem& b)
                     {
                       if (a.seriesId != b.seriesId)
                         return a.seriesId < b.seriesId;
                       return a.kind == ReviewItem::Kind::Read && b.kind == ReviewItem::Kind::Consensus;
                     });
    out.insert(out.end(), items.begin(), items.end());
  }
  if (studyId > 0)
    return out;
  // Submitted for approval outside the studies (Study > Submit mask for approval).
  const detail::SharedSql sql(m_db);
  QSqlQuery q = sql.exec("SELECT m.id, m.series_id, u.username, m.source, m.state_changed_at FROM mask_versions m"
                         " JOIN users u ON u.id = m.author_user_id WHERE m.state = 'submitted'"
                         " AND NOT EXISTS (SELECT 1 FROM reader_study_reads r WHERE r.mask_version_id = m.id)"
                         " AND NOT EXISTS (SELECT 1 FROM reader_study_consensus c WHERE c.mask_version_id = m.id)"
                         " ORDER BY m.series_id, m.id",
                         {}, "list the mask versions submitted for approval");
  while (q.next())
  {
    ReviewItem i;
    i.kind = ReviewItem::Kind::Version;
    i.maskVersionId = i64(q.value(0));
    i.seriesId = i64(q.value(1));
    i.readerName = str(q.value(2));
    i.method = str(q.value(3));
    i.submittedAt = str(q.value(4));
    out.push_back(i);
  }
  return out;
}

int64_t ReadReview::maskOfRead(int64_t readId) const
{
  requireCoordinator(m_db, "review another reader's read");
  const ReadRecord r = m_rs.read(readId);
  if (r.maskVersionId <= 0)
    throw Error("read " + std::to_string(readId) + " (" + r.readerName + ", series " +
                std::to_string(r.seriesId) + ") has no submitted mask yet: it is " + to_string(r.state));
  return r.maskVersionId;
}

std::vector<ComparisonCandidate> ReadReview::comparisonCandidates(int64_t studyId, int64_t seriesId,
                                                                  int64_t exceptMaskVersion) const
{
  requireCoordinator(m_db, "compare the masks of a reader study");
  const ReaderStudyInfo info = m_rs.study(studyId);
  const auto caseIt = std::find(info.seriesIds.begin(), info.seriesIds.end(), seriesId);
  if (caseIt == info.seriesIds.end())
    throw Error("series " + std::to_string(seriesId) + " is not a case of reader study '" + info.name + "'");
  std::vector<ComparisonCandidate> out;
  for (const ReadRecord& r : m_rs.reads(studyId))
    if (r.seriesId == seriesId && r.maskVersionId > 0 && r.maskVersionId != exceptMaskVersion)
    {
      ComparisonCandidate c;
      c.kind = ComparisonCandidate::Kind::Read;
      c.maskVersionId = r.maskVersionId;
      c.readId = r.id;
      c.readerName = r.readerName;
      c.readNumber = r.readNumber;
      c.state = to_string(r.state);
      out.push_back(c);
    }
  // The study's AI mask of the case; a study from scratch created before any prediction has none
  // recorded: then the series' newest AI mask.
  int64_t ai = info.aiMaskIds[size_t(caseIt - info.seriesIds.begin())];
  std::optional<MaskVersion> aiVersion;
  if (ai > 0)
    aiVersion = m_db.maskVersion(ai);
  else
    for (const MaskVersion& m : m_db.masksOf(seriesId)) // oldest first
      if (m.source == MaskSource::AI)
        aiVersion = m;
  if (aiVersion && aiVersion->id != exceptMaskVersion)
  {
    ComparisonCandidate c;
    c.kind = ComparisonCandidate::Kind::Ai;
    c.maskVersionId = aiVersion->id;
    c.state = to_string(aiVersion->state);
    c.detail = aiVersion->modelLabel;
    out.push_back(c);
  }
  for (const ConsensusRow& row : consensusRows(m_db, studyId, seriesId))
    if (row.maskVersionId != exceptMaskVersion)
    {
      ComparisonCandidate c;
      c.kind = ComparisonCandidate::Kind::Consensus;
      c.maskVersionId = row.maskVersionId;
      c.state = row.state;
      c.detail = row.method;
      out.push_back(c);
    }
  return out;
}

std::vector<ComparisonCandidate> ReadReview::seriesCandidates(int64_t seriesId, int64_t exceptMaskVersion) const
{
  requireCoordinator(m_db, "compare the mask versions of a series");
  std::vector<MaskVersion> masks = m_db.masksOf(seriesId);
  std::vector<ComparisonCandidate> out;
  for (auto it = masks.rbegin(); it != masks.rend(); ++it)
    if (it->id != exceptMaskVersion)
    {
      ComparisonCandidate c;
      c.kind = it->source == MaskSource::AI ? ComparisonCandidate::Kind::Ai : ComparisonCandidate::Kind::Version;
      c.maskVersionId = it->id;
      c.readerName = it->authorName;
      c.state = to_string(it->state);
      c.detail = it->source == MaskSource::AI ? it->modelLabel : to_string(it->source);
      out.push_back(c);
    }
  return out;
}

MaskPairAgreement ReadReview::compareMasks(int64_t maskA, int64_t maskB, int label) const
{
  requireCoordinator(m_db, "compare the masks of a reader study");
  const std::string what = "compare mask versions " + std::to_string(maskA) + " and " + std::to_string(maskB);
  const auto a = m_db.maskVersion(maskA);
  const auto b = m_db.maskVersion(maskB);
  if (!a || !b)
    throw Error("cannot " + what + ": no mask version " + std::to_string(!a ? maskA : maskB) + " in " +
                m_db.databasePath());
  if (a->seriesId != b->seriesId)
    throw Error("cannot " + what + ": they belong to different series (" + std::to_string(a->seriesId) + " and " +
                std::to_string(b->seriesId) + ")");
  MaskPairAgreement out;
  out.maskA = maskA;
  out.maskB = maskB;
  out.label = label;
  out.a = m_db.loadMask(maskA);
  out.b = m_db.loadMask(maskB);
  try
  {
    out.agreement = computeAgreement(out.a, label, out.b, label);
  }
  catch (const Error& e)
  {
    throw Error("cannot " + what + ": " + e.what());
  }
  return out;
}

MaskPairAgreement ReadReview::compareReads(int64_t readA, int64_t readB) const
{
  const ReadRecord a = m_rs.read(readA), b = m_rs.read(readB);
  if (a.studyId != b.studyId || a.seriesId != b.seriesId)
    throw Error("cannot compare reads " + std::to_string(readA) + " and " + std::to_string(readB) +
                ": they are not reads of the same case of one study");
  return compareMasks(maskOfRead(readA), maskOfRead(readB), m_rs.study(a.studyId).label);
}

void ReadReview::approveConsensus(int64_t maskVersionId, const std::string& comment)
{
  requireCoordinator(m_db, "approve a consensus mask");
  const std::string what = "approve consensus mask version " + std::to_string(maskVersionId);
  const detail::SharedSql sql(m_db);
  const QVariant study = sql.scalar("SELECT study_id FROM reader_study_consensus WHERE mask_version_id = ?",
                                    {qlonglong(maskVersionId)}, what);
  if (!study.isValid())
    throw Error("cannot " + what + ": it is not the consensus mask of a reader study");
  const auto m = m_db.maskVersion(maskVersionId);
  if (!m)
    throw Error("cannot " + what + ": no such mask version in " + m_db.databasePath());
  if (m->state != MaskState::Submitted)
    throw Error("cannot " + what + ": it is " + to_string(m->state) + ", not submitted");
  const ReaderStudyInfo info = m_rs.study(study.toLongLong());
  m_db.setMaskState(maskVersionId, MaskState::Approved,
                    comment.empty() ? "consensus of reader study '" + info.name + "' approved"
                                    : "consensus of reader study '" + info.name + "' approved: " + comment);
}
namespace
{
/// A submitted mask version that is neither a read's nor a consensus.
void requirePlainSubmittedVersion(const StudyDatabase& db, int64_t maskVersionId, const std::string& what)
{
  const detail::SharedSql sql(db);
  if (sql.scalar("SELECT id FROM reader_study_reads WHERE mask_version_id = ?", {qlonglong(maskVersionId)}, what)
          .isValid())
    throw Error("cannot " + what + ": it is a read of a reader study (approve or return the read)");
  if (sql.scalar("SELECT id FROM reader_study_consensus WHERE mask_version_id = ?", {qlonglong(maskVersionId)}, what)
          .isValid())
    throw Error("cannot " + what + ": it is a consensus mask (approve the consensus)");
  const auto m = db.maskVersion(maskVersionId);
  if (!m)
    throw Error("cannot " + what + ": no such mask version in " + db.databasePath());
  if (m->state != MaskState::Submitted)
    throw Error("cannot " + what + ": it is " + to_string(m->state) + ", not submitted");
}
} // namespace

void ReadReview::approveVersion(int64_t maskVersionId, const std::string& comment)
{
  requireCoordinator(m_db, "approve a mask version");
  const std::string what = "approve mask version " + std::to_string(maskVersionId);
  requirePlainSubmittedVersion(m_db, maskVersionId, what);
  m_db.setMaskState(maskVersionId, MaskState::Approved, comment);
}

void ReadReview::returnVersion(int64_t maskVersionId, const std::string& comment)
{
  requireCoordinator(m_db, "return a mask version");
  if (comment.empty())
    throw Error("returning a mask version needs a comment for its author");
  const std::string what = "return mask version " + std::to_string(maskVersionId);
  requirePlainSubmittedVersion(m_db, maskVersionId, what);
  m_db.setMaskState(maskVersionId, MaskState::Draft, comment);
}
} // namespace panseg::db
