// Reader studies from the command line (database/studies/ReaderStudy.h) and their reports.
#include "StudyCommands.h"
#include "database/QtText.h"

#include "Cli.h"

#include "core/Error.h"
#include "core/io/ImageIO.h"
#include "database/studies/ReadReview.h"
#include "database/studies/ReaderStudy.h"
#include "database/StudyDatabase.h"
#include "database/studies/StudyReport.h"
#include "ui/reports/StudyReportDocument.h"

#include <QGuiApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>
#include <set>

namespace panseg::cli
{
namespace
{
using namespace panseg::db;

const char* kindName(ReviewItem::Kind k)
{
  switch (k)
  {
  case ReviewItem::Kind::Read:
    return "read";
  case ReviewItem::Kind::Consensus:
    return "consensus";
  case ReviewItem::Kind::Version:
    return "version";
  }
  return "read";
}

/// PDF output needs a QGuiApplication: offscreen, never a display (Cli.h).
void ensureGuiApplication()
{
  ensureHeadlessApplication(true);
}

std::unique_ptr<StudyDatabase> openDb(const Args& a)
{
  ensureGuiApplication();
  StudyDatabase::OpenOptions o;
  o.username = actingUserOption(a);
  return std::make_unique<StudyDatabase>(
      (a.has("db") ? a.value("db") : qs(StudyDatabase::defaultDataFolder())).toStdString(), o);
}

void printJson(const QJsonObject& o)
{
  std::printf("%s", QJsonDocument(o).toJson(QJsonDocument::Indented).constData());
}

bool bad(const Args& a, const QString& synopsis, int minPos, int maxPos)
{
  if (!a.error.isEmpty())
  {
    printError(a.error);
    return true;
  }
  if (a.positionals.size() < minPos || a.positionals.size() > maxPos)
  {
    printError("usage: " + synopsis);
    return true;
  }
  return false;
}

int64_t positiveId(const QString& text, const char* what)
{
  bool ok = false;
  const qlonglong id = text.toLongLong(&ok);
  if (!ok || id <= 0)
    throw Error(std::string(what) + " must be a positive whole number, not '" + text.toStdString() +
                "'");
  return id;
}

QJsonObject readJson(const ReadRecord& r)
{
  QJsonObject o{
      {"id", qint64(r.id)},   {"reader", qs(r.readerName)},  {"series", qint64(r.seriesId)},
      {"read", r.readNumber}, {"position", r.orderPosition}, {"state", qs(to_string(r.state))},
      {"locked", r.locked}};
  if (r.maskVersionId)
    o["mask_version"] = qint64(r.maskVersionId);
  if (!r.unlockAt.empty())
    o["unlock_at"] = qs(r.unlockAt);
  if (!r.comment.empty())
    o["comment"] = qs(r.comment);
  if (r.rating)
    o["rating"] = qs(to_string(*r.rating));
  return o;
}

QJsonObject studyJson(const ReaderStudyInfo& s)
{
  QJsonArray readers, series;
  for (const auto& u : s.readers)
    readers.append(qs(u.username));
  for (auto id : s.seriesIds)
    series.append(qint64(id));
  return QJsonObject{{"id", qint64(s.id)},
                     {"name", qs(s.name)},
                     {"design", qs(to_string(s.design))},
                     {"washout_days", s.washoutDays},
                     {"start_from", qs(to_string(s.startFrom))},
                     {"allow_prediction", s.allowPrediction},
                     {"label", s.label},
                     {"seed", qint64(s.seed)},
                     {"status", s.open ? "open" : "closed"},
                     {"created_by", qs(s.createdByName)},
                     {"created_at", qs(s.createdAt)},
                     {"readers", readers},
                     {"series", series}};
}

void printRead(const ReadRecord& r)
{
  std::string state = to_string(r.state);
  if (r.locked)
    state = r.unlockAt.empty() ? "locked (after read 1)" : "locked until " + r.unlockAt;
  if (r.rating)
    state += ", rated " + to_string(*r.rating);
  std::printf("%6lld %-14s %6lld %4d %4d  %-30s %s%s\n", (long long)r.id, r.readerName.c_str(),
              (long long)r.seriesId, r.readNumber, r.orderPosition, state.c_str(),
              r.maskVersionId ? ("mask " + std::to_string(r.maskVersionId)).c_str() : "",
              r.comment.empty() ? "" : ("  \"" + r.comment + "\"").c_str());
}

void printReadHeader()
{
  std::printf("%6s %-14s %6s %4s %4s  %-30s %s\n", "READ", "READER", "SERIES", "NO", "POS", "STATE",
              "MASK / COMMENT");
}

std::vector<std::string> splitList(const QString& text)
{
  std::vector<std::string> out;
  for (const QString& p : text.split(',', Qt::SkipEmptyParts))
    out.push_back(p.trimmed().toStdString());
  return out;
}

int create(const QStringList& args)
{
  const Args a(args, {"allow-prediction"});
  const QString syn =
      "panseg study create --name NAME --design inter|intra|ai-review --readers A,B "
      "(--series ID,ID,... | --modality M [--center C]) [--washout-days N] [--start scratch|ai] "
      "[--allow-prediction] [--label N] [--seed N] [--description TEXT] [--db DIR] [--user NAME]";
  if (bad(a, syn, 0, 0))
    return Usage;
  if (!a.has("name") || !a.has("design") || !a.has("readers") ||
      (!a.has("series") && !a.has("modality") && !a.has("center")))
  {
    printError("usage: " + syn);
    return Usage;
  }
  NewReaderStudy s;
  s.name = a.value("name").toStdString();
  const auto design = parseStudyDesign(a.value("design").toStdString());
  if (!design)
  {
    printError("--design must be inter, intra or ai-review, not '" + a.value("design") + "'");
    return Usage;
  }
  s.design = *design;
  const auto start = parseStartFrom(a.value("start", "scratch").toStdString());
  if (!start)
  {
    printError("--start must be scratch or ai");
    return Usage;
  }
  s.startFrom = *start;
  s.allowPrediction = a.has("allow-prediction");
  bool ok = true;
  s.washoutDays = a.intValue("washout-days", 28, &ok);
  if (!ok)
    return Usage;
  s.label = a.intValue("label", 0, &ok);
  if (!ok)
    return Usage;
  s.seed = uint32_t(a.intValue("seed", 1, &ok));
  if (!ok)
    return Usage;
  s.description = a.value("description").toStdString();
  s.readers = splitList(a.value("readers"));
  auto db = openDb(a);
  if (a.has("series"))
    for (const QString& id : a.value("series").split(',', Qt::SkipEmptyParts))
      s.seriesIds.push_back(positiveId(id.trimmed(), "a series id"));
  else
  {
    SeriesFilter f;
    if (a.has("modality"))
    {
      f.modality = parseModality(a.value("modality").toStdString());
      if (!f.modality)
        throw Error("unknown modality '" + a.value("modality").toStdString() +
                    "' (CT, MRI-T1W, MRI-T2W, MRI, other)");
      f.anyMri = *f.modality == Modality::Mri;
    }
    f.center = a.value("center").toStdString();
    for (const auto& r : db->listSeries(f))
      s.seriesIds.push_back(r.id);
    if (s.seriesIds.empty())
      throw Error("no series match the modality/center filter");
  }
  ReaderStudy rs(*db);
  const int64_t id = rs.createStudy(s);
  const ReaderStudyInfo info = rs.study(id);
  std::printf("created reader study %lld '%s': %s, %zu cases, %zu readers%s\n", (long long)id,
              info.name.c_str(), to_string(info.design).c_str(), info.seriesIds.size(),
              info.readers.size(), info.allowPrediction ? ", AI prediction allowed during reads" : "");
  return Ok;
}

/// panseg study set STUDY --allow-prediction on|off (coordinators and admins; audited).
int setStudy(const QStringList& args)
{
  const Args a(args, {});
  const QString syn = "panseg study set STUDY --allow-prediction on|off [--db DIR] [--user NAME]";
  if (bad(a, syn, 1, 1))
    return Usage;
  if (!a.has("allow-prediction"))
  {
    printError("usage: " + syn);
    return Usage;
  }
  const QString v = a.value("allow-prediction").toLower();
  bool allow = false;
  if (v == "on" || v == "yes" || v == "true" || v == "1")
    allow = true;
  else if (!(v == "off" || v == "no" || v == "false" || v == "0"))
  {
    printError("--allow-prediction must be on or off, not '" + a.value("allow-prediction") + "'");
    return Usage;
  }
  auto db = openDb(a);
  ReaderStudy rs(*db);
  const ReaderStudyInfo s = rs.findStudy(a.positionals[0].toStdString());
  rs.setAllowPrediction(s.id, allow);
  std::printf("reader study %lld '%s': AI prediction during reads %s\n", (long long)s.id, s.name.c_str(),
              allow ? "allowed" : "not allowed");
  return Ok;
}

int list(const QStringList& args)
{
  const Args a(args, {"json"});
  if (bad(a, "panseg study list [--db DIR] [--user NAME] [--json]", 0, 0))
    return Usage;
  auto db = openDb(a);
  ReaderStudy rs(*db);
  const auto studies = rs.studies();
  if (a.has("json"))
  {
    QJsonArray arr;
    for (const auto& s : studies)
      arr.append(studyJson(s));
    printJson(QJsonObject{{"studies", arr}});
    return Ok;
  }
  std::printf("%5s %-24s %-10s %-8s %6s %7s %s\n", "ID", "NAME", "DESIGN", "STATUS", "CASES",
              "READERS", "CREATED (UTC)");
  for (const auto& s : studies)
    std::printf("%5lld %-24s %-10s %-8s %6zu %7zu %s\n", (long long)s.id, s.name.c_str(),
                to_string(s.design).c_str(), s.open ? "open" : "closed", s.seriesIds.size(),
                s.readers.size(), s.createdAt.c_str());
  std::printf("%zu reader studies\n", studies.size());
  return Ok;
}

int show(const QStringList& args)
{
  const Args a(args, {"json"});
  if (bad(a, "panseg study show STUDY [--db DIR] [--user NAME] [--json]", 1, 1))
    return Usage;
  auto db = openDb(a);
  ReaderStudy rs(*db);
  const ReaderStudyInfo s = rs.findStudy(a.positionals[0].toStdString());
  const auto reads = rs.reads(s.id); // coordinators only
  if (a.has("json"))
  {
    QJsonObject o = studyJson(s);
    QJsonArray arr;
    for (const auto& r : reads)
      arr.append(readJson(r));
    o["reads"] = arr;
    printJson(o);
    return Ok;
  }
  std::printf("reader study %lld '%s': %s%s, start from %s, %s, seed %u, created %s by %s\n",
              (long long)s.id, s.name.c_str(), to_string(s.design).c_str(),
              s.design == StudyDesign::IntraObserver
                  ? (", wash-out " + std::to_string(s.washoutDays) + " days").c_str()
                  : "",
              to_string(s.startFrom).c_str(), s.open ? "open" : "closed", s.seed,
              s.createdAt.c_str(), s.createdByName.c_str());
  std::printf("AI prediction during reads: %s\n", s.allowPrediction ? "allowed" : "not allowed");
  printReadHeader();
  for (const auto& r : reads)
    printRead(r);
  return Ok;
}

int worklist(const QStringList& args)
{
  const Args a(args, {"json"});
  if (bad(a, "panseg study worklist STUDY [--reader NAME] [--db DIR] [--user NAME] [--json]", 1, 1))
    return Usage;
  auto db = openDb(a);
  ReaderStudy rs(*db);
  const ReaderStudyInfo s = rs.findStudy(a.positionals[0].toStdString());
  const Worklist w = rs.worklist(s.id, a.value("reader").toStdString());
  if (a.has("json"))
  {
    QJsonArray arr;
    for (const auto& r : w.reads)
      arr.append(readJson(r));
    QJsonObject o{{"study", qs(s.name)},
                  {"done", w.done},
                  {"total", w.total},
                  {"locked", w.locked},
                  {"reads", arr}};
    if (w.next)
      o["next"] = qint64(w.next->id);
    printJson(o);
    return Ok;
  }
  std::printf("study '%s': %d of %d reads done, %d locked%s\n", s.name.c_str(), w.done, w.total,
              w.locked, w.next ? (", next: read " + std::to_string(w.next->id)).c_str() : "");
  printReadHeader();
  for (const auto& r : w.reads)
    printRead(r);
  return Ok;
}

int read(const QStringList& args)
{
  const Args a(args, {});
  if (bad(a, "panseg study read READ_ID [--out MASK.nii.gz] [--db DIR] [--user NAME]", 1, 1))
    return Usage;
  auto db = openDb(a);
  ReaderStudy rs(*db);
  const ReadRecord r = rs.startRead(positiveId(a.positionals[0], "READ_ID"));
  const auto series = db->series(r.seriesId);
  std::printf("read %lld in progress: series %lld (read %d), image %s\n", (long long)r.id,
              (long long)r.seriesId, r.readNumber, series ? series->sourcePath.c_str() : "?");
  if (a.has("out"))
  {
    writeMask(rs.startingMask(r.id), a.value("out").toStdString());
    std::printf("starting mask written to %s\n", qPrintable(a.value("out")));
  }
  return Ok;
}

int submit(const QStringList& args)
{
  const Args a(args, {});
  if (bad(a, "panseg study submit READ_ID MASK [--note TEXT] [--db DIR] [--user NAME]", 2, 2))
    return Usage;
  auto db = openDb(a);
  ReaderStudy rs(*db);
  const int64_t id = positiveId(a.positionals[0], "READ_ID");
  const int64_t mask =
      rs.submitRead(id, readMask(a.positionals[1].toStdString()), a.value("note").toStdString());
  std::printf("read %lld submitted as mask version %lld\n", (long long)id, (long long)mask);
  return Ok;
}

int rate(const QStringList& args)
{
  const Args a(args, {});
  if (bad(a, "panseg study rate STUDY SERIES_ID accept|minor|major|reject [--db DIR] [--user NAME]",
          3, 3))
    return Usage;
  const auto rating = parseAiRating(a.positionals[2].toStdString());
  if (!rating)
  {
    printError("the rating must be accept, minor, major or reject");
    return Usage;
  }
  auto db = openDb(a);
  ReaderStudy rs(*db);
  const ReaderStudyInfo s = rs.findStudy(a.positionals[0].toStdString());
  rs.rateAiMask(s.id, positiveId(a.positionals[1], "SERIES_ID"), *rating);
  std::printf("rated the AI mask of series %s: %s\n", qPrintable(a.positionals[1]),
              to_string(*rating).c_str());
  return Ok;
}

int review(const QStringList& args, bool approve)
{
  const Args a(args, {});
  if (bad(a,
          approve ? "panseg study approve READ_ID [--comment TEXT] [--db DIR] [--user NAME]"
                  : "panseg study return READ_ID --comment TEXT [--db DIR] [--user NAME]",
          1, 1))
    return Usage;
  auto db = openDb(a);
  ReaderStudy rs(*db);
  const int64_t id = positiveId(a.positionals[0], "READ_ID");
  if (approve)
    rs.approveRead(id, a.value("comment").toStdString());
  else
    rs.returnRead(id, a.value("comment").toStdString());
  std::printf("read %lld %s\n", (long long)id, approve ? "approved" : "returned to its reader");
  return Ok;
}

int consensus(const QStringList& args)
{
  const Args a(args, {});
  if (bad(a,
          "panseg study consensus STUDY SERIES_ID [--method majority|staple] [--db DIR] [--user "
          "NAME]",
          2, 2))
    return Usage;
  const std::optional<ConsensusMethod> method =
      parseConsensusMethod(a.value("method", "majority").toStdString());
  if (!method)
  {
    printError("unknown consensus method '" + a.value("method") + "' (allowed: majority, staple)");
    return Usage;
  }
  auto db = openDb(a);
  ReaderStudy rs(*db);
  const ReaderStudyInfo s = rs.findStudy(a.positionals[0].toStdString());
  const ConsensusResult r =
      rs.buildConsensusWithDetails(s.id, positiveId(a.positionals[1], "SERIES_ID"), *method);
  if (*method == ConsensusMethod::MajorityVote)
  {
    std::printf("consensus (majority vote) saved as mask version %lld\n", (long long)r.maskVersionId);
    return Ok;
  }
  std::printf("consensus (STAPLE) of %zu reads saved as mask version %lld; %d iterations%s, prior %.6f\n",
              r.inputs.size(), (long long)r.maskVersionId, r.iterations,
              r.converged ? "" : " (not converged)", r.prior);
  std::printf("%6s %-14s %12s %12s\n", "read", "reader", "sensitivity", "specificity");
  for (const ConsensusResult::Input& in : r.inputs)
    std::printf("%6lld %-14s %12.4f %12.4f\n", (long long)in.readId, in.readerName.c_str(), in.sensitivity,
                in.specificity);
  return Ok;
}

int close(const QStringList& args)
{
  const Args a(args, {});
  if (bad(a, "panseg study close STUDY [--db DIR] [--user NAME]", 1, 1))
    return Usage;
  auto db = openDb(a);
  ReaderStudy rs(*db);
  const ReaderStudyInfo s = rs.findStudy(a.positionals[0].toStdString());
  rs.closeStudy(s.id);
  std::printf("reader study '%s' closed (blinding lifted)\n", s.name.c_str());
  return Ok;
}

// ---- the coordinator's review (database/studies/ReadReview.h) --------------------------------------------
int reviewQueue(const QStringList& args)
{
  const Args a(args, {"json"});
  if (bad(a, "panseg study review [STUDY] [--db DIR] [--user NAME] [--json]", 0, 1))
    return Usage;
  auto db = openDb(a);
  ReaderStudy rs(*db);
  const int64_t study = a.positionals.isEmpty() ? 0 : rs.findStudy(a.positionals[0].toStdString()).id;
  const std::vector<ReviewItem> items = ReadReview(*db).awaitingApproval(study);
  if (a.has("json"))
  {
    QJsonArray arr;
    for (const ReviewItem& i : items)
    {
      QJsonObject o{{"kind", kindName(i.kind)},
                    {"study", i.studyId ? QJsonValue(qs(i.studyName)) : QJsonValue()},
                    {"study_id", qint64(i.studyId)},
                    {"series", qint64(i.seriesId)},
                    {"mask_version", qint64(i.maskVersionId)},
                    {"submitted_at", qs(i.submittedAt)}};
      if (i.kind == ReviewItem::Kind::Read)
      {
        o["read"] = qint64(i.readId);
        o["reader"] = qs(i.readerName);
        o["read_number"] = i.readNumber;
      }
      else if (i.kind == ReviewItem::Kind::Consensus)
        o["method"] = qs(i.method);
      else
      {
        o["author"] = qs(i.readerName);
        o["source"] = qs(i.method);
      }
      arr.append(o);
    }
    printJson(QJsonObject{{"awaiting_approval", arr}});
    return Ok;
  }
  std::printf("%-24s %-10s %6s %6s %-14s %4s %6s %s\n", "STUDY", "KIND", "SERIES", "READ", "BY", "NO", "MASK",
              "SUBMITTED (UTC)");
  for (const ReviewItem& i : items)
    std::printf("%-24s %-10s %6lld %6s %-14s %4s %6lld %s\n", i.studyId ? i.studyName.c_str() : "(no study)",
                kindName(i.kind), (long long)i.seriesId, i.readId ? std::to_string(i.readId).c_str() : "-",
                i.kind == ReviewItem::Kind::Consensus ? i.method.c_str() : i.readerName.c_str(),
                i.readNumber ? std::to_string(i.readNumber).c_str() : "-", (long long)i.maskVersionId,
                i.submittedAt.c_str());
  std::printf("%zu awaiting approval\n", items.size());
  return Ok;
}

int compare(const QStringList& args)
{
  const Args a(args, {"json", "ai", "consensus"});
  const QString syn = "panseg study compare READ_ID (--read READ_ID | --ai | --consensus | --mask-version ID) "
                      "[--db DIR] [--user NAME] [--json]";
  if (bad(a, syn, 1, 1))
    return Usage;
  const int targets = int(a.has("read")) + int(a.has("ai")) + int(a.has("consensus")) + int(a.has("mask-version"));
  if (targets != 1)
  {
    printError("name exactly one mask to compare with: --read, --ai, --consensus or --mask-version\nusage: " + syn);
    return Usage;
  }
  auto db = openDb(a);
  ReaderStudy rs(*db);
  ReadReview rr(*db);
  const ReadRecord r = rs.read(positiveId(a.positionals[0], "READ_ID"));
  const int64_t maskA = rr.maskOfRead(r.id);
  const int label = rs.study(r.studyId).label;
  int64_t maskB = 0;
  std::string what;
  if (a.has("read"))
  {
    const ReadRecord other = rs.read(positiveId(a.value("read"), "--read"));
    if (other.studyId != r.studyId || other.seriesId != r.seriesId)
      throw Error("read " + std::to_string(other.id) + " is not a read of the same case (study " +
                  std::to_string(r.studyId) + ", series " + std::to_string(r.seriesId) + ")");
    maskB = rr.maskOfRead(other.id);
    what = "read " + std::to_string(other.id) + " by " + other.readerName +
           (other.readNumber > 1 ? ", 2nd read" : "");
  }
  else if (a.has("mask-version"))
  {
    maskB = positiveId(a.value("mask-version"), "--mask-version");
    what = "mask version " + std::to_string(maskB);
  }
  else
  {
    const auto kind = a.has("ai") ? ComparisonCandidate::Kind::Ai : ComparisonCandidate::Kind::Consensus;
    for (const ComparisonCandidate& c : rr.comparisonCandidates(r.studyId, r.seriesId, maskA))
      if (c.kind == kind && maskB == 0) // the newest consensus comes first
      {
        maskB = c.maskVersionId;
        what = c.label();
      }
    if (maskB == 0)
      throw Error("series " + std::to_string(r.seriesId) + " has no " + (a.has("ai") ? "AI mask" : "consensus mask") +
                  " to compare read " + std::to_string(r.id) + " with");
  }
  const MaskPairAgreement p = rr.compareMasks(maskA, maskB, label);
  const AgreementResult& m = p.agreement;
  if (a.has("json"))
  {
    std::string json = toJson(m);
    json.pop_back(); // the closing brace
    std::printf("%s, \"read\": %lld, \"mask_a\": %lld, \"mask_b\": %lld, \"label\": %d}\n", json.c_str(),
                (long long)r.id, (long long)maskA, (long long)maskB, label);
    return Ok;
  }
  auto dist = [&](double v)
  { return m.distancesDefined ? QString::number(v, 'f', 2) + " mm" : QString("n/a (one mask is empty)"); };
  std::printf("A: read %lld by %s%s (mask version %lld)\nB: %s (mask version %lld), reference\n"
              "label %d%s\n",
              (long long)r.id, r.readerName.c_str(), r.readNumber > 1 ? ", 2nd read" : "", (long long)maskA,
              what.c_str(), (long long)maskB, label, label == 0 ? " (any non-zero)" : "");
  std::printf("dice       %.4f\njaccard    %.4f\nprecision  %.4f\nrecall     %.4f\n", m.dice, m.jaccard, m.precision,
              m.recall);
  std::printf("volume A   %.2f mL\nvolume B   %.2f mL\nA - B      %+.2f mL (vpe %+.4f)\n", m.volumeAMl, m.volumeBMl,
              m.volumeAMl - m.volumeBMl, m.vpe);
  std::printf("hd95       %s\nassd       %s\nhd         %s\n", qPrintable(dist(m.hd95Mm)), qPrintable(dist(m.assdMm)),
              qPrintable(dist(m.hdMm)));
  return Ok;
}

int approveConsensus(const QStringList& args)
{
  const Args a(args, {});
  if (bad(a, "panseg study approve-consensus MASK_VERSION_ID [--comment TEXT] [--db DIR] [--user NAME]", 1, 1))
    return Usage;
  auto db = openDb(a);
  const int64_t id = positiveId(a.positionals[0], "MASK_VERSION_ID");
  ReadReview(*db).approveConsensus(id, a.value("comment").toStdString());
  std::printf("consensus mask version %lld approved\n", (long long)id);
  return Ok;
}

int reviewVersion(const QStringList& args, bool approve)
{
  const Args a(args, {});
  if (bad(a,
          approve ? "panseg study approve-version MASK_VERSION_ID [--comment TEXT] [--db DIR] [--user NAME]"
                  : "panseg study return-version MASK_VERSION_ID --comment TEXT [--db DIR] [--user NAME]",
          1, 1))
    return Usage;
  auto db = openDb(a);
  const int64_t id = positiveId(a.positionals[0], "MASK_VERSION_ID");
  if (approve)
    ReadReview(*db).approveVersion(id, a.value("comment").toStdString());
  else
    ReadReview(*db).returnVersion(id, a.value("comment").toStdString());
  std::printf("mask version %lld %s\n", (long long)id, approve ? "approved" : "returned to draft");
  return Ok;
}
} // namespace

int studyCommand(const QStringList& args)
{
  const QString verb = args.value(0);
  const QStringList rest = args.mid(1);
  if (verb == "create")
    return create(rest);
  if (verb == "list")
    return list(rest);
  if (verb == "show")
    return show(rest);
  if (verb == "worklist")
    return worklist(rest);
  if (verb == "read")
    return read(rest);
  if (verb == "submit")
    return submit(rest);
  if (verb == "rate")
    return rate(rest);
  if (verb == "approve")
    return review(rest, true);
  if (verb == "return")
    return review(rest, false);
  if (verb == "consensus")
    return consensus(rest);
  if (verb == "close")
    return close(rest);
  if (verb == "set")
    return setStudy(rest);
  if (verb == "review")
    return reviewQueue(rest);
  if (verb == "compare")
    return compare(rest);
  if (verb == "approve-consensus")
    return approveConsensus(rest);
  if (verb == "approve-version")
    return reviewVersion(rest, true);
  if (verb == "return-version")
    return reviewVersion(rest, false);
  printError(verb.isEmpty()
                 ? "usage: panseg study "
                   "create|list|show|set|worklist|read|submit|rate|approve|return|consensus|close|review|compare|"
                   "approve-consensus|approve-version|return-version ..."
                 : "unknown study command '" + verb +
                       "' (create, list, show, set, worklist, read, submit, rate, approve, return, "
                       "consensus, close, review, compare, approve-consensus, approve-version, "
                       "return-version)");
  return Usage;
}

int reportCommand(const QStringList& args)
{
  const Args a(args, {"no-charts"});
  if (bad(a, "panseg report --study STUDY --out FILE.{pdf,csv,html} [--db DIR] [--user NAME]", 0,
          0))
    return Usage;
  if (!a.has("study") || !a.has("out"))
  {
    printError(
        "usage: panseg report --study STUDY --out FILE.{pdf,csv,html} [--db DIR] [--user NAME]");
    return Usage;
  }
  auto db = openDb(a);
  ReaderStudy rs(*db);
  const ReaderStudyInfo s = rs.findStudy(a.value("study").toStdString());
  const StudyReportData data = computeStudyReport(*db, s.id);
  ui::writeStudyReport(data, a.value("out"), PANSEG_VERSION);
  std::printf("report of study '%s' (%zu pairs) written to %s\n", s.name.c_str(), data.pairs.size(),
              qPrintable(a.value("out")));
  return Ok;
}

QString studyUsage()
{
  return "  panseg study create --name NAME --design inter|intra|ai-review --readers A,B\n"
         "                      (--series IDS | --modality M [--center C]) [--washout-days N] "
         "[--start scratch|ai]\n"
         "                      [--allow-prediction] [--label N] [--seed N] [--description TEXT] [--db DIR] [--user "
         "NAME]\n"
         "  panseg study set STUDY --allow-prediction on|off   AI prediction during from-scratch reads (default off)\n"
         "  panseg study list|show STUDY|worklist STUDY [--reader NAME] [--json] [--db DIR] "
         "[--user NAME]\n"
         "  panseg study read READ_ID [--out MASK] | submit READ_ID MASK | rate STUDY SERIES "
         "accept|minor|major|reject\n"
         "  panseg study approve READ_ID [--comment T] | return READ_ID --comment T | consensus "
         "STUDY SERIES\n"
         "                      [--method majority|staple] | close STUDY\n"
         "  panseg study review [STUDY] [--json]   what awaits approval (submitted reads, consensus masks)\n"
         "  panseg study compare READ_ID (--read READ_ID | --ai | --consensus | --mask-version ID) [--json]\n"
         "  panseg study approve-consensus MASK_VERSION_ID [--comment T] | approve-version MASK_VERSION_ID\n"
         "                      [--comment T] | return-version MASK_VERSION_ID --comment T\n"
         "  panseg report --study STUDY --out FILE.{pdf,csv,html} [--db DIR] [--user NAME]\n"
         "                                   reader studies (docs/reader-studies.md); --user "
         "defaults to $PANSEG_USER\n";
}
} // namespace panseg::cli
