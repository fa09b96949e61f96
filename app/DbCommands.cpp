// The study database from the command line: import, list, masks, checks, and its benchmark.
#include "DbCommands.h"
#include "database/QtText.h"

#include "BenchSummary.h"
#include "Cli.h"

#include "core/Error.h"
#include "core/io/ImageIO.h"
#include "core/display/LabelPresets.h"
#include "database/ContentHash.h"
#include "database/Importer.h"
#include "database/registry/ModelRegistry.h"
#include "database/studies/Plausibility.h"
#include "database/studies/ReferenceMask.h"
#include "database/itemmodels/SeriesTableModel.h"
#include "database/StudyDatabase.h"
#include "database/studies/ReaderStudy.h"
#include "database/server/DatabaseCopy.h"
#include "database/server/ServerAdmin.h"
#include "database/studies/MaskWorkflow.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QUrl>
#include <QUuid>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <unistd.h>

namespace panseg::cli
{
namespace
{
using namespace panseg::db;

/// Qt SQL loads its driver as a plugin, which needs an application object.
void ensureCoreApplication()
{
  ensureHeadlessApplication(false); // released by main() (Cli.h)
}

QString dataFolderOf(const Args& a)
{
  return a.has("db") ? a.value("db") : qs(StudyDatabase::defaultDataFolder());
}

/// --user NAME (else $PANSEG_USER, else the login name): the identity rule of every command.
StudyDatabase::OpenOptions openOptions(const Args& a)
{
  StudyDatabase::OpenOptions o;
  o.username = actingUserOption(a);
  return o;
}

/// Options the synopsis does not name (plus --db and --user) are usage errors: a mistyped
/// --user must not quietly run the command as the login user.
bool unknownOption(const Args& a, const QString& synopsis)
{
  static const QRegularExpression option("--([a-z][a-z-]*)");
  QStringList allowed{ "db", "user" };
  for (auto it = option.globalMatch(synopsis); it.hasNext();)
    allowed << it.next().captured(1);
  for (const QString& key : a.keys())
    if (!allowed.contains(key))
    {
      printError("unknown option --" + key + "; usage: " + synopsis);
      return true;
    }
  return false;
}

bool usageError(const Args& a, const QString& synopsis, int minPos, int maxPos)
{
  if (!a.error.isEmpty())
  {
    printError(a.error);
    return true;
  }
  if (unknownOption(a, synopsis))
    return true;
  if (a.positionals.size() < minPos || (maxPos >= 0 && a.positionals.size() > maxPos))
  {
    printError("usage: " + synopsis);
    return true;
  }
  return false;
}

void printJson(const QJsonObject& o) { std::printf("%s", QJsonDocument(o).toJson(QJsonDocument::Indented).constData()); }

QJsonArray issues(const std::vector<ImportIssue>& list)
{
  QJsonArray a;
  for (const auto& i : list)
    a.append(QJsonObject{ { "path", qs(i.path) }, { "reason", qs(i.reason) } });
  return a;
}

QJsonArray ids(const std::vector<int64_t>& list)
{
  QJsonArray a;
  for (auto id : list)
    a.append(qint64(id));
  return a;
}

std::atomic<bool> g_interrupted{ false };
extern "C" void onInterrupt(int) { g_interrupted = true; }

QString sizeText(const Geometry& g)
{
  return QString("%1x%2x%3").arg(g.size[0]).arg(g.size[1]).arg(g.size[2]);
}

QJsonObject seriesJson(const SeriesRecord& s)
{
  const Geometry& g = s.geometry;
  QJsonObject o{ { "id", qint64(s.id) },
                 { "patient_id", qs(s.patientId) },
                 { "patient_name", qs(s.patientName) },
                 { "study_date", qs(s.studyDate) },
                 { "study_instance_uid", qs(s.studyInstanceUid) },
                 { "series_instance_uid", qs(s.seriesInstanceUid) },
                 { "description", qs(s.description) },
                 { "modality", qs(to_string(s.modality)) },
                 { "modality_source", qs(s.modalitySource) },
                 { "center", qs(s.center) },
                 { "format", qs(s.format) },
                 { "source_path", qs(s.sourcePath) },
                 { "content_hash", qs(s.contentHash) },
                 { "size", QJsonArray{ qint64(g.size[0]), qint64(g.size[1]), qint64(g.size[2]) } },
                 { "spacing_mm", QJsonArray{ g.spacingMm[0], g.spacingMm[1], g.spacingMm[2] } },
                 { "origin_mm", QJsonArray{ g.originMm[0], g.originMm[1], g.originMm[2] } },
                 { "masks", s.maskCount } };
  if (s.latestMaskId)
  {
    o["latest_mask"] = qint64(s.latestMaskId);
    o["latest_mask_state"] = s.latestMaskState ? qs(to_string(*s.latestMaskState)) : QString();
    o["latest_volume_ml"] = s.latestVolumeMl;
  }
  return o;
}

QJsonObject maskJson(const MaskVersion& m)
{
  QJsonObject vols;
  for (const auto& [label, ml] : m.labelVolumesMl)
    vols[QString::number(label)] = ml;
  QJsonObject o{ { "id", qint64(m.id) },
                 { "series", qint64(m.seriesId) },
                 { "parent", m.parentId ? QJsonValue(qint64(m.parentId)) : QJsonValue() },
                 { "source", qs(to_string(m.source)) },
                 { "author", qs(m.authorName) },
                 { "state", qs(to_string(m.state)) },
                 { "created_at", qs(m.createdAt) },
                 { "state_changed_at", qs(m.stateChangedAt) },
                 { "file", qs(m.filePath) },
                 { "sha256", qs(m.sha256) },
                 { "voxels", qint64(m.voxelCount) },
                 { "volume_ml", m.volumeMl },
                 { "label_volumes_ml", vols } };
  if (m.modelVersionId)
    o["model"] = qs(m.modelLabel);
  if (!m.note.empty())
    o["note"] = qs(m.note);
  if (!m.importedFrom.empty())
    o["imported_from"] = qs(m.importedFrom);
  if (m.plausibility.checked)
  {
    QJsonArray findings;
    for (const auto& f : m.plausibility.findings)
      findings.append(qs(f));
    o["plausibility"] = QJsonObject{ { "flagged", m.plausibility.flagged },
                                     { "summary", qs(m.plausibility.summary) },
                                     { "findings", findings },
                                     { "limits", qs(m.plausibility.limitsSource) },
                                     { "details", QJsonDocument::fromJson(QByteArray::fromStdString(
                                                                            m.plausibility.detailsJson))
                                                    .object() } };
  }
  return o;
}

// ---- db verbs ---------------------------------------------------------------------------------
int dbList(const QStringList& args)
{
  const Args a(args, { "json" });
  if (usageError(a, "panseg db list [--db DIR] [--modality CT|MRI|MRI-T1W|MRI-T2W|other] [--search TEXT] "
                    "[--center NAME] [--json]",
                 0, 0))
    return Usage;
  SeriesFilter f;
  if (a.has("modality"))
  {
    const auto m = parseModality(a.value("modality").toStdString());
    if (!m)
    {
      printError("--modality must be CT, MRI, MRI-T1W, MRI-T2W or other");
      return Usage;
    }
    f.modality = m;
    f.anyMri = true; // "MRI" means any MRI
  }
  f.text = a.value("search").toStdString();
  f.center = a.value("center").toStdString();
  StudyDatabase db(dataFolderOf(a).toStdString(), openOptions(a));
  const auto rows = db.listSeries(f);
  if (a.has("json"))
  {
    QJsonArray list;
    for (const auto& s : rows)
      list.append(seriesJson(s));
    printJson(QJsonObject{ { "database", qs(db.dataFolder()) }, { "series", list } });
    return Ok;
  }
  std::printf("%5s  %-22s %-10s %-8s %-12s %-12s %5s %-10s %9s  %s\n", "ID", "PATIENT", "DATE", "MODALITY", "CENTER",
              "SIZE", "MASKS", "LATEST", "VOL mL", "SERIES");
  for (const auto& s : rows)
  {
    QString patient = s.patientId.empty() ? qs(s.patientName) : qs(s.patientId);
    if (patient.size() > 22)
      patient = patient.left(21) + "~";
    std::printf("%5lld  %-22s %-10s %-8s %-12s %-12s %5d %-10s %9s  %s\n", (long long)s.id, qPrintable(patient),
                s.studyDate.empty() ? "-" : s.studyDate.c_str(), to_string(s.modality).c_str(),
                s.center.empty() ? "-" : qPrintable(qs(s.center).left(12)), qPrintable(sizeText(s.geometry)),
                s.maskCount, s.latestMaskState ? to_string(*s.latestMaskState).c_str() : "-",
                std::isnan(s.latestVolumeMl) ? "-" : qPrintable(QString::number(s.latestVolumeMl, 'f', 2)),
                s.description.c_str());
  }
  std::printf("%zu series\n", rows.size());
  return Ok;
}

int dbMasks(const QStringList& args)
{
  const Args a(args, { "json" });
  if (usageError(a, "panseg db masks SERIES_ID [--db DIR] [--json]", 1, 1))
    return Usage;
  bool ok = false;
  const qint64 id = a.positionals[0].toLongLong(&ok);
  if (!ok || id <= 0)
  {
    printError("SERIES_ID must be a positive whole number (see panseg db list)");
    return Usage;
  }
  StudyDatabase db(dataFolderOf(a).toStdString(), openOptions(a));
  const auto s = db.series(id);
  if (!s)
  {
    printError(QString("no series %1 in %2").arg(id).arg(qs(db.dataFolder())));
    return Failed;
  }
  const auto masks = db.masksOf(id);
  if (a.has("json"))
  {
    QJsonArray list;
    for (const auto& m : masks)
      list.append(maskJson(m));
    printJson(QJsonObject{ { "series", seriesJson(*s) }, { "masks", list } });
    return Ok;
  }
  std::printf("series %lld: %s %s, %s, %s\n", (long long)s->id, to_string(s->modality).c_str(),
              qPrintable(sizeText(s->geometry)), s->description.c_str(), s->sourcePath.c_str());
  std::printf("%5s %6s %-9s %-18s %-9s %-24s %9s %9s  %-12s %s\n", "ID", "PARENT", "SOURCE", "AUTHOR/MODEL", "STATE",
              "CREATED (UTC)", "VOXELS", "VOL mL", "SHA-256", "FILE");
  int flagged = 0;
  for (const auto& m : masks)
  {
    const std::string who = m.modelVersionId ? m.modelLabel : m.authorName;
    std::printf("%5lld %6s %-9s %-18s %-9s %-24s %9lld %9.2f  %-12s %s\n", (long long)m.id,
                m.parentId ? std::to_string(m.parentId).c_str() : "-", to_string(m.source).c_str(),
                qPrintable(qs(who).left(18)), to_string(m.state).c_str(), m.createdAt.c_str(),
                (long long)m.voxelCount, m.volumeMl, m.sha256.substr(0, 12).c_str(), m.filePath.c_str());
    if (m.plausibility.flagged)
    {
      ++flagged;
      std::printf("      ! FLAGGED implausible: %s\n", m.plausibility.summary.c_str());
    }
  }
  std::printf("%zu mask versions%s\n", masks.size(),
              flagged ? qPrintable(QString("; %1 flagged as implausible (approving one asks for --accept-flagged)")
                                     .arg(flagged))
                      : "");
  return Ok;
}

QString presetKeys()
{
  QStringList keys;
  for (LabelPreset p : allLabelPresets())
    keys << qs(to_string(p));
  return keys.join(", ");
}

int dbLabels(const QStringList& args)
{
  const Args a(args, { "json" });
  if (usageError(a, "panseg db labels MASK_VERSION_ID [--db DIR] [--preset KEY] [--json]", 1, 1))
    return Usage;
  bool ok = false;
  qint64 id = a.positionals[0].toLongLong(&ok);
  if (!ok || id <= 0)
  {
    printError("MASK_VERSION_ID must be a positive whole number (see panseg db masks)");
    return Usage;
  }
  std::optional<LabelPreset> preset;
  if (a.has("preset"))
  {
    preset = parseLabelPreset(a.value("preset").toStdString());
    if (!preset)
    {
      printError("unknown --preset '" + a.value("preset") + "' (" + presetKeys() + ")");
      return Usage;
    }
  }
  StudyDatabase db(dataFolderOf(a).toStdString(), openOptions(a));
  if (preset) // a new version with the same voxels and the preset's table
  {
    const SavedVersion saved =
      saveWithLabelTable(db, id, presetLabelTable(*preset), "label table: " + presetTitle(*preset));
    if (!a.has("json"))
      std::printf("saved mask version %lld with the %s label table\n", (long long)saved.id,
                  presetTitle(*preset).c_str());
    id = saved.id;
  }
  const LabelTable table = db.labelTable(id); // blinded or missing versions throw
  const auto version = db.maskVersion(id);
  if (a.has("json"))
  {
    QJsonArray list;
    for (const LabelInfo& l : table.entries())
    {
      auto code = [](const LabelCode& c)
      { return QJsonObject{ { "code", qs(c.value) }, { "scheme", qs(c.scheme) }, { "meaning", qs(c.meaning) } }; };
      QJsonObject o{ { "value", l.value },          { "name", qs(l.name) },           { "color", qs(hexColor(l.color)) },
                     { "category", code(l.category) }, { "type", code(l.type) } };
      if (version)
        if (const auto v = version->labelVolumesMl.find(l.value); v != version->labelVolumesMl.end())
          o["volume_ml"] = v->second;
      list.append(o);
    }
    printJson(QJsonObject{ { "mask_version", id }, { "pancreas_label", pancreasLabelOf(table) }, { "labels", list } });
    return Ok;
  }
  std::printf("mask version %lld: %zu label(s); pancreas: %s\n", (long long)id, table.entries().size(),
              pancreasLabelOf(table) ? ("label " + std::to_string(pancreasLabelOf(table))).c_str() : "none named");
  std::printf("%5s  %-24s %-8s %-28s %s\n", "VALUE", "NAME", "COLOUR", "TYPE", "VOL mL");
  for (const LabelInfo& l : table.entries())
  {
    std::string vol = "-";
    if (version)
      if (const auto v = version->labelVolumesMl.find(l.value); v != version->labelVolumesMl.end())
        vol = qPrintable(QString::number(v->second, 'f', 2));
    std::printf("%5d  %-24s %-8s %-28s %s\n", l.value, l.name.c_str(), hexColor(l.color).c_str(),
                (l.type.scheme + " " + l.type.value + " " + l.type.meaning).c_str(), vol.c_str());
  }
  if (version)
    for (const auto& [value, ml] : version->labelVolumesMl)
      if (!table.has(value))
        std::printf("%5d  %-24s %-8s %-28s %.2f  (not in the table: default name)\n", value,
                    table.label(value).name.c_str(), hexColor(table.label(value).color).c_str(), "-", ml);
  return Ok;
}

int dbReduceToPancreas(const QStringList& args)
{
  const Args a(args, { "json" });
  if (usageError(a, "panseg db reduce-to-pancreas MASK_VERSION_ID [--db DIR] [--json]", 1, 1))
    return Usage;
  bool ok = false;
  const qint64 id = a.positionals[0].toLongLong(&ok);
  if (!ok || id <= 0)
  {
    printError("MASK_VERSION_ID must be a positive whole number (see panseg db masks)");
    return Usage;
  }
  StudyDatabase db(dataFolderOf(a).toStdString(), openOptions(a));
  const SavedVersion saved = savePancreasOnlyVersion(db, id);
  const auto version = db.maskVersion(saved.id);
  if (a.has("json"))
  {
    printJson(QJsonObject{ { "mask_version", qint64(saved.id) },
                           { "parent", qint64(id) },
                           { "note", qs(version ? version->note : std::string()) },
                           { "pancreas_volume_ml", version ? version->pancreasVolumeMl() : 0.0 } });
    return Ok;
  }
  std::printf("saved mask version %lld: %s; pancreas %.2f mL\n", (long long)saved.id,
              version ? version->note.c_str() : "", version ? version->pancreasVolumeMl() : 0.0);
  if (!saved.concurrentNote.empty())
    std::printf("%s\n", saved.concurrentNote.c_str());
  return Ok;
}

int dbCheck(const QStringList& args)
{
  const Args a(args, { "json" });
  if (usageError(a, "panseg db check [--db DIR] [--json]", 0, 0))
    return Usage;
  StudyDatabase db(dataFolderOf(a).toStdString(), openOptions(a));
  const std::string integrity = db.integrityCheck();
  auto problems = db.verifyFiles();
  // File problems of mask versions hidden from this user are not named (the rules of loadMask).
  problems.erase(std::remove_if(problems.begin(), problems.end(),
                                [&](const FileProblem& p) {
                                  try
                                  {
                                    return !db.maskVersion(p.maskVersionId);
                                  }
                                  catch (const Error&)
                                  {
                                    return true;
                                  }
                                }),
                 problems.end());
  const auto& sweep = db.openSweepReport();
  if (a.has("json"))
  {
    QJsonArray list;
    for (const auto& p : problems)
      list.append(QJsonObject{ { "mask_version", qint64(p.maskVersionId) }, { "path", qs(p.path) }, { "problem", qs(p.problem) } });
    printJson(QJsonObject{ { "database", qs(db.databasePath()) },
                           { "schema_version", db.schemaVersion() },
                           { "integrity", qs(integrity) },
                           { "file_problems", list },
                           { "removed_temporary_files", sweep.tempFilesRemoved },
                           { "removed_orphan_files", sweep.orphanFilesRemoved } });
  }
  else
  {
    std::printf("database:  %s (schema %d)\n", db.databasePath().c_str(), db.schemaVersion());
    std::printf("integrity: %s\n", integrity.c_str());
    std::printf("files:     %s\n", problems.empty() ? "every mask file present with its SHA-256"
                                                    : qPrintable(QString("%1 problems").arg(problems.size())));
    for (const auto& p : problems)
      std::printf("  mask version %lld: %s: %s\n", (long long)p.maskVersionId, p.path.c_str(), p.problem.c_str());
    if (sweep.tempFilesRemoved + sweep.orphanFilesRemoved > 0)
      std::printf("cleaned:   %d temporary and %d orphaned files of interrupted saves\n", sweep.tempFilesRemoved,
                  sweep.orphanFilesRemoved);
  }
  if (integrity != "ok" || !problems.empty())
  {
    printError(QString("the study database in %1 has problems: integrity %2, %3 mask file problems")
                 .arg(qs(db.dataFolder()), integrity == "ok" ? "ok" : "FAILED")
                 .arg(problems.size()));
    return Failed;
  }
  return Ok;
}

int dbSetModality(const QStringList& args)
{
  const Args a(args, {});
  if (usageError(a, "panseg db set-modality SERIES_ID CT|MRI|MRI-T1W|MRI-T2W|other [--db DIR]", 2, 2))
    return Usage;
  bool ok = false;
  const qint64 id = a.positionals[0].toLongLong(&ok);
  const auto m = parseModality(a.positionals[1].toStdString());
  if (!ok || !m)
  {
    printError("usage: panseg db set-modality SERIES_ID CT|MRI|MRI-T1W|MRI-T2W|other [--db DIR]");
    return Usage;
  }
  StudyDatabase db(dataFolderOf(a).toStdString(), openOptions(a));
  db.setSeriesModality(id, *m);
  std::printf("series %lld: modality %s\n", (long long)id, to_string(*m).c_str());
  return Ok;
}

int dbSetState(const QStringList& args)
{
  const Args a(args, { "accept-flagged" });
  if (usageError(a, "panseg db set-state MASK_VERSION_ID draft|submitted|approved|rejected [--note TEXT] [--accept-flagged] "
                    "[--db DIR] [--user NAME]",
                 2, 2))
    return Usage;
  bool ok = false;
  const qint64 id = a.positionals[0].toLongLong(&ok);
  const auto s = parseMaskState(a.positionals[1].toStdString());
  if (!ok || !s)
  {
    printError("usage: panseg db set-state MASK_VERSION_ID draft|submitted|approved|rejected [--note TEXT] [--db DIR]");
    return Usage;
  }
  StudyDatabase db(dataFolderOf(a).toStdString(), openOptions(a));
  try
  {
    db.setMaskState(id, *s, a.value("note").toStdString(), a.has("accept-flagged"));
  }
  catch (const ImplausibleMaskError& e)
  {
    printError(QString::fromStdString(e.what()) +
               "; look at it, then run again with --accept-flagged to approve it anyway (audited)");
    return Failed;
  }
  std::printf("mask version %lld: %s\n", (long long)id, to_string(*s).c_str());
  if (a.has("accept-flagged") && *s == MaskState::Approved)
    if (const auto m = db.maskVersion(id); m && m->plausibility.flagged)
      std::printf("approved although flagged as implausible (%s); the audit log records it\n",
                  m->plausibility.summary.c_str());
  return Ok;
}

/// panseg db reference-rule [show] [--study ID] [--json] | set latest|consensus|reader NAME [--study ID]
int dbReferenceRule(const QStringList& args)
{
  const QString synopsis =
    "panseg db reference-rule [show] [--study ID] [--json] | set latest|consensus|reader NAME [--study ID] [--db DIR] "
    "[--user NAME]";
  const Args a(args, { "json" });
  if (usageError(a, synopsis, 0, 3))
    return Usage;
  const QString verb = a.positionals.value(0, "show");
  qint64 study = 0;
  if (a.has("study"))
  {
    bool ok = false;
    study = a.value("study").toLongLong(&ok);
    if (!ok || study <= 0)
    {
      printError("--study must be a reader study id (see panseg study list), not '" + a.value("study") + "'");
      return Usage;
    }
  }
  StudyDatabase db(dataFolderOf(a).toStdString(), openOptions(a));
  ReferenceRule rule;
  if (verb == "show")
  {
    if (a.positionals.size() > 1)
    {
      printError("usage: " + synopsis);
      return Usage;
    }
    rule = referenceRule(db, study);
  }
  else if (verb == "set")
  {
    const auto kind = parseReferenceRuleKind(a.positionals.value(1).toStdString());
    if (!kind)
    {
      printError(a.positionals.size() < 2 ? "usage: " + synopsis
                                           : "unknown reference-mask rule '" + a.positionals[1] +
                                               "' (latest, consensus or reader NAME)");
      return Usage;
    }
    if (*kind == ReferenceRuleKind::Reader && a.positionals.size() != 3)
    {
      printError("the rule 'reader' needs the reader's user name: panseg db reference-rule set reader NAME");
      return Usage;
    }
    rule = setReferenceRule(db, *kind, a.positionals.value(2).toStdString(), study);
  }
  else
  {
    printError("unknown reference-rule command '" + verb + "'; usage: " + synopsis);
    return Usage;
  }
  if (a.has("json"))
  {
    printJson(QJsonObject{ { "rule", qs(to_string(rule.kind)) },
                           { "reader", rule.readerName.empty() ? QJsonValue() : QJsonValue(qs(rule.readerName)) },
                           { "study", rule.studyId ? QJsonValue(qint64(rule.studyId)) : QJsonValue() },
                           { "default", rule.isDefault },
                           { "set_by", qs(rule.setBy) },
                           { "set_at", qs(rule.setAt) },
                           { "text", qs(rule.describe()) } });
    return Ok;
  }
  std::printf("%s\n", rule.describe().c_str());
  return Ok;
}

int dbAudit(const QStringList& args)
{
  const Args a(args, { "json" });
  if (usageError(a, "panseg db audit [--db DIR] [--limit N] [--json]", 0, 0))
    return Usage;
  bool ok = true;
  const int limit = a.intValue("limit", 50, &ok);
  if (!ok || limit < 0)
  {
    printError("--limit must be a whole number >= 0 (0 = all)");
    return Usage;
  }
  StudyDatabase db(dataFolderOf(a).toStdString(), openOptions(a));
  auto log = db.auditLog();
  // A reader blinded by an open reader study sees only their own entries: the others name and
  // describe masks, reads, approvals and consensus results the blinding hides (Blinding.h).
  const bool ownOnly = db.blindedAnywhere();
  if (ownOnly)
    log.erase(std::remove_if(log.begin(), log.end(),
                             [&](const AuditEntry& e) { return e.userId != db.currentUser().id; }),
              log.end());
  if (limit > 0 && log.size() > size_t(limit))
    log.erase(log.begin(), log.end() - limit);
  if (a.has("json"))
  {
    QJsonArray list;
    for (const auto& e : log)
      list.append(QJsonObject{ { "id", qint64(e.id) },
                               { "at", qs(e.at) },
                               { "actor", qs(e.actor) },
                               { "action", qs(e.action) },
                               { "table", qs(e.tableName) },
                               { "record", qint64(e.recordId) },
                               { "details", QJsonDocument::fromJson(QByteArray::fromStdString(e.detailsJson)).object() } });
    QJsonObject o{ { "audit", list } };
    if (ownOnly)
      o["only_own_entries"] = true;
    printJson(o);
    return Ok;
  }
  if (ownOnly)
    std::printf("(only your own entries: an open reader study blinds %s)\n", db.currentUser().username.c_str());
  for (const auto& e : log)
    std::printf("%6lld %-24s %-12s %-20s %s %lld %s\n", (long long)e.id, e.at.c_str(), e.actor.c_str(),
                e.action.c_str(), e.tableName.empty() ? "-" : e.tableName.c_str(), (long long)e.recordId,
                e.detailsJson.c_str());
  return Ok;
}

int dbVerifyAudit(const QStringList& args)
{
  const Args a(args, { "json" });
  if (usageError(a, "panseg db verify-audit [--db DIR] [--user NAME] [--json]", 0, 0))
    return Usage;
  StudyDatabase db(dataFolderOf(a).toStdString(), openOptions(a));
  const AuditChainReport r = db.verifyAuditChain();
  if (a.has("json"))
    printJson(QJsonObject{ { "database", qs(db.databasePath()) },
                           { "ok", r.ok },
                           { "entries", qint64(r.entries) },
                           { "broken_entry", r.brokenEntryId ? QJsonValue(qint64(r.brokenEntryId)) : QJsonValue() },
                           { "problem", qs(r.problem) },
                           { "head_seq", qint64(r.headSeq) },
                           { "head_hash", qs(r.headHash) } });
  else if (r.ok)
    std::printf("ok: %lld audit entries, hash chain intact; head: sequence %lld, hash %s\n", (long long)r.entries,
                (long long)r.headSeq, r.headHash.c_str());
  else
    std::printf("BROKEN at entry %lld of %lld: %s\n", (long long)r.brokenEntryId, (long long)r.entries,
                r.problem.c_str());
  std::fflush(stdout);
  if (!r.ok)
  {
    printError(r.brokenEntryId ? QString("the audit log of %1 is broken at entry %2: %3")
                                   .arg(qs(db.databasePath()))
                                   .arg(r.brokenEntryId)
                                   .arg(qs(r.problem))
                               : qs(r.problem));
    return Failed;
  }
  return Ok;
}

int dbUser(const QStringList& args)
{
  const QString synopsis = "panseg db user add NAME --role admin|coordinator|reader|clinician [--display-name TEXT] | "
                           "role NAME ROLE | disable NAME | enable NAME | list [--json]  [--db DIR] [--user NAME]";
  const Args a(args, { "json" });
  if (!a.error.isEmpty() || a.positionals.isEmpty())
  {
    printError(a.error.isEmpty() ? "usage: " + synopsis : a.error);
    return Usage;
  }
  if (unknownOption(a, synopsis))
    return Usage;
  const QString verb = a.positionals[0];
  auto needs = [&](int n) {
    if (a.positionals.size() == n)
      return true;
    printError("usage: " + synopsis);
    return false;
  };
  auto role = [&](const QString& text) -> std::optional<Role> {
    const auto r = parseRole(text.toStdString());
    if (!r)
      printError("unknown role '" + text + "' (admin, coordinator, reader, clinician)");
    return r;
  };
  if (verb == "list")
  {
    if (!needs(1))
      return Usage;
    StudyDatabase db(dataFolderOf(a).toStdString(), openOptions(a));
    const auto users = db.users();
    if (a.has("json"))
    {
      QJsonArray list;
      for (const User& u : users)
        list.append(QJsonObject{ { "id", qint64(u.id) }, { "username", qs(u.username) },
                                 { "display_name", qs(u.displayName) }, { "role", qs(to_string(u.role)) },
                                 { "active", u.active }, { "created_at", qs(u.createdAt) } });
      printJson(QJsonObject{ { "users", list } });
      return Ok;
    }
    std::printf("%5s %-20s %-12s %-8s %s\n", "ID", "USER", "ROLE", "ACTIVE", "DISPLAY NAME");
    for (const User& u : users)
      std::printf("%5lld %-20s %-12s %-8s %s\n", (long long)u.id, u.username.c_str(), to_string(u.role).c_str(),
                  u.active ? "yes" : "no", u.displayName.c_str());
    std::printf("%zu users\n", users.size());
    return Ok;
  }
  if (verb == "add")
  {
    if (!needs(2))
      return Usage;
    if (!a.has("role"))
    {
      printError("db user add needs --role admin|coordinator|reader|clinician");
      return Usage;
    }
    const auto r = role(a.value("role"));
    if (!r)
      return Usage;
    StudyDatabase db(dataFolderOf(a).toStdString(), openOptions(a));
    const User u = db.addUserAsAdmin(a.positionals[1].toStdString(), *r, a.value("display-name").toStdString());
    std::printf("user %s added as %s (id %lld)\n", u.username.c_str(), to_string(u.role).c_str(), (long long)u.id);
    return Ok;
  }
  if (verb == "role")
  {
    if (!needs(3))
      return Usage;
    const auto r = role(a.positionals[2]);
    if (!r)
      return Usage;
    StudyDatabase db(dataFolderOf(a).toStdString(), openOptions(a));
    db.setUserRoleAsAdmin(a.positionals[1].toStdString(), *r);
    std::printf("user %s is now %s\n", qPrintable(a.positionals[1]), to_string(*r).c_str());
    return Ok;
  }
  if (verb == "disable" || verb == "enable")
  {
    if (!needs(2))
      return Usage;
    StudyDatabase db(dataFolderOf(a).toStdString(), openOptions(a));
    db.setUserActive(a.positionals[1].toStdString(), verb == "enable");
    std::printf("user %s %s\n", qPrintable(a.positionals[1]), verb == "enable" ? "enabled" : "disabled");
    return Ok;
  }
  printError("unknown db user command '" + verb + "'; usage: " + synopsis);
  return Usage;
}

// ---- bench ------------------------------------------------------------------------------------
double medianMs(int reps, const std::function<void()>& fn)
{
  std::vector<double> t;
  for (int i = 0; i < reps; ++i)
  {
    QElapsedTimer timer;
    timer.start();
    fn();
    t.push_back(double(timer.nsecsElapsed()) / 1e6);
  }
  std::sort(t.begin(), t.end());
  return t.size() % 2 ? t[t.size() / 2] : 0.5 * (t[t.size() / 2 - 1] + t[t.size() / 2]);
}

std::vector<StudyDatabase::NewSeries> syntheticRows(int n)
{
  static const Modality kinds[] = { Modality::CT, Modality::CT, Modality::MriT1w, Modality::MriT2w, Modality::Mri,
                                    Modality::Other };
  static const char* centers[] = { "Northwest", "Lakeside", "St. Elsewhere", "University Hospital" };
  static const char* phases[] = { "arterial", "portal venous", "T1 VIBE", "T2 HASTE", "DWI b800", "localizer" };
  std::vector<StudyDatabase::NewSeries> rows;
  rows.reserve(size_t(n));
  for (int i = 0; i < n; ++i)
  {
    StudyDatabase::NewSeries s;
    const int patient = i / 3;
    s.patientKey = "synthetic:" + std::to_string(patient);
    s.patientId = "SYN" + std::to_string(100000 + patient);
    s.patientName = "PATIENT^" + std::to_string(patient);
    s.studyKey = s.patientKey;
    s.studyDate = "20" + std::to_string(20 + patient % 6) + "-0" + std::to_string(1 + patient % 9) + "-1" +
                  std::to_string(patient % 10);
    s.description = phases[i % 6];
    s.modality = kinds[i % 6];
    s.modalitySource = "synthetic";
    s.center = centers[patient % 4];
    s.geometry.size = { 512, 512, 80 + i % 200 };
    s.geometry.spacingMm = { 0.78, 0.78, 2.5 };
    s.format = "DICOM";
    s.sourcePath = "/synthetic/" + s.patientId + "/" + std::to_string(i);
    s.contentHash = "synthetic-" + std::to_string(i);
    rows.push_back(std::move(s));
  }
  return rows;
}
// ---- bench db --db URI: the department workload, server next to a local SQLite folder ---------
struct Workload
{
  double worklistMs = 0, loadMs = 0, saveMs = 0;
  double submitP50 = 0, submitP95 = 0;
  int submits = 0, errors = 0;
  std::string firstError;
};

/// One run of the workload on `location` (a folder or a server URI) by `admin` (an admin or
/// coordinator): a series on the mask grid and an inter-observer study with `readers` readers
/// (bench accounts on a server, created with random passwords and disabled at the end). Reader 1
/// times opening the worklist, saving and loading a mask; then every reader, each on their own
/// connection in their own thread, opens the worklist, starts and submits their read at once.
Workload runWorkload(const std::string& location, const StudyDatabase::OpenOptions& adminOptions, int readers,
                     const Size3& size, int reps)
{
  Workload w;
  const bool server = SqlDialect::isServerLocation(location);
  StudyDatabase admin(location, adminOptions);
  if (server && admin.currentUser().role != Role::Admin)
    throw Error("panseg bench db --db needs a PanSeg admin account (it creates " + std::to_string(readers) +
                " bench reader accounts); you are signed in to " + admin.databasePath() + " as " +
                admin.currentUser().username + " (" + to_string(admin.currentUser().role) + ")");
  const std::string tag = "bench" + QUuid::createUuid().toString(QUuid::Id128).left(8).toStdString();
  Geometry g;
  g.size = size;
  g.spacingMm = { 0.78, 0.78, 2.5 };
  StudyDatabase::NewSeries s;
  s.patientKey = "synthetic:" + tag;
  s.patientName = tag;
  s.studyKey = s.patientKey;
  s.modality = Modality::CT;
  s.modalitySource = "synthetic";
  s.geometry = g;
  s.format = "NIfTI";
  s.sourcePath = "/synthetic/" + tag;
  s.contentHash = "synthetic-" + tag;
  const int64_t seriesId = admin.addSeries(s).id;
  // A pancreas-sized ellipsoid (label 1) in the middle of the grid.
  LabelMask mask(g, 0);
  const double rx = std::max(1.0, size[0] / 8.0), ry = std::max(1.0, size[1] / 12.0), rz = std::max(1.0, size[2] / 10.0);
  for (int64_t z = 0; z < size[2]; ++z)
    for (int64_t y = 0; y < size[1]; ++y)
      for (int64_t x = 0; x < size[0]; ++x)
      {
        const double dx = (x - size[0] / 2.0) / rx, dy = (y - size[1] / 2.0) / ry, dz = (z - size[2] / 2.0) / rz;
        if (dx * dx + dy * dy + dz * dz <= 1.0)
          mask.at(x, y, z) = 1;
      }

  std::vector<std::string> names;
  std::vector<StudyDatabase::OpenOptions> readerOptions;
  std::vector<std::string> readerLocations;
  for (int i = 0; i < readers; ++i)
  {
    char buf[16];
    std::snprintf(buf, sizeof buf, "_r%02d", i + 1);
    names.push_back(tag + buf);
    StudyDatabase::OpenOptions o;
    std::string at = location;
    if (server)
    {
      o.password = QUuid::createUuid().toString(QUuid::Id128).toStdString();
      serverAddUser(admin, names.back(), Role::Reader, o.password, "panseg bench db");
      QUrl url(qs(location));
      url.setUserName(qs(names.back()));
      url.setPassword({});
      at = url.toString().toStdString();
    }
    else
      o.username = names.back();
    readerOptions.push_back(o);
    readerLocations.push_back(at);
  }
  NewReaderStudy ns;
  ns.name = tag;
  ns.readers = names;
  ns.seriesIds = { seriesId };
  ns.description = "panseg bench db";
  const int64_t studyId = ReaderStudy(admin).createStudy(ns);

  {
    StudyDatabase r1(readerLocations[0], readerOptions[0]);
    ReaderStudy rs(r1);
    w.worklistMs = medianMs(reps, [&] {
      if (rs.worklist(studyId).reads.empty())
        throw Error("the benchmark worklist is empty");
    });
    MaskProvenance p;
    p.source = MaskSource::Reader;
    int64_t saved = 0;
    w.saveMs = medianMs(reps, [&] { saved = r1.saveMaskVersion(seriesId, mask, p); });
    w.loadMs = medianMs(reps, [&] {
      if (r1.loadMask(saved).voxels != mask.voxels)
        throw Error("the benchmark mask came back different");
    });
  }

  std::atomic<int> ready{ 0 };
  std::atomic<bool> go{ false };
  std::vector<double> latency(size_t(readers), -1.0);
  std::vector<std::string> errors(static_cast<size_t>(readers));
  std::vector<std::thread> threads;
  for (int i = 0; i < readers; ++i)
    threads.emplace_back([&, i] {
      try
      {
        std::unique_ptr<StudyDatabase> db;
        try
        {
          db = std::make_unique<StudyDatabase>(readerLocations[size_t(i)], readerOptions[size_t(i)]);
        }
        catch (...)
        {
          ++ready;
          throw;
        }
        ++ready;
        while (!go)
          std::this_thread::yield();
        QElapsedTimer t;
        t.start();
        ReaderStudy rs(*db);
        const Worklist wl = rs.worklist(studyId);
        if (!wl.next)
          throw Error("no read to do");
        rs.startRead(wl.next->id);
        rs.submitRead(wl.next->id, mask);
        latency[size_t(i)] = double(t.nsecsElapsed()) / 1e6;
      }
      catch (const std::exception& e)
      {
        errors[size_t(i)] = e.what();
      }
    });
  while (ready < readers)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  go = true;
  for (std::thread& t : threads)
    t.join();
  std::vector<double> done;
  for (int i = 0; i < readers; ++i)
  {
    if (latency[size_t(i)] >= 0)
      done.push_back(latency[size_t(i)]);
    if (!errors[size_t(i)].empty())
    {
      ++w.errors;
      if (w.firstError.empty())
        w.firstError = errors[size_t(i)];
    }
  }
  w.submits = int(done.size());
  w.submitP50 = benchQuantile(done, 0.5);
  w.submitP95 = benchQuantile(done, 0.95);
  // Every submitted read is there, with its mask.
  int linked = 0;
  for (const ReadRecord& r : ReaderStudy(admin).reads(studyId))
    linked += r.maskVersionId > 0 && r.state == ReadState::Submitted;
  if (linked != w.submits)
  {
    ++w.errors;
    if (w.firstError.empty())
      w.firstError = std::to_string(w.submits) + " submissions succeeded but " + std::to_string(linked) +
                     " reads hold a submitted mask";
  }
  if (server)
    for (const std::string& n : names)
      serverSetUserActive(admin, n, false);
  return w;
}

int benchDepartment(const Args& a)
{
  const std::string uri = a.value("db").toStdString();
  if (!SqlDialect::isServerLocation(uri))
  {
    printError("panseg bench db --db needs a PostgreSQL URI (postgresql://user@host[:port]/database), not " + a.value("db") +
               "; without --db the benchmark uses temporary local folders");
    return Usage;
  }
  const int reps = std::max(1, a.intValue("reps", 5));
  const int readers = std::max(1, a.intValue("readers", 20));
  Size3 size{ 512, 512, 300 };
  if (a.has("mask"))
  {
    const QStringList parts = a.value("mask").split('x');
    bool ok = parts.size() == 3;
    for (int i = 0; ok && i < 3; ++i)
      size[size_t(i)] = parts[i].toLongLong(&ok);
    if (!ok || size[0] < 4 || size[1] < 4 || size[2] < 2)
    {
      printError("--mask wants XxYxZ (for example 512x512x300), not " + a.value("mask"));
      return Usage;
    }
  }
  QTemporaryDir tmp;
  if (!tmp.isValid())
  {
    printError("cannot create a temporary folder for the SQLite baseline");
    return Failed;
  }
  std::printf("panseg %s; department workload: %d readers, masks %lldx%lldx%lld, medians of %d\n"
              "server %s (it keeps a synthetic series, an open bench study and %d disabled bench "
              "accounts: use a scratch database)\nbaseline: SQLite in %s\n\n",
              PANSEG_VERSION, readers, (long long)size[0], (long long)size[1], (long long)size[2], reps, uri.c_str(),
              readers, qPrintable(tmp.path()));
  std::fflush(stdout);
  StudyDatabase::OpenOptions local;
  local.username = "bench-coordinator";
  const Workload l = runWorkload(tmp.path().toStdString() + "/sqlite", local, readers, size, reps);
  const Workload p = runWorkload(uri, {}, readers, size, reps);
  auto row = [](const char* name, double sqlite, double pg, const char* target) {
    std::printf("%-40s %12.1f %12.1f %7.2fx  %s\n", name, sqlite, pg, sqlite > 0 ? pg / sqlite : 0.0, target);
  };
  std::printf("%-40s %12s %12s %8s  %s\n", "", "SQLite ms", "server ms", "ratio", "target (loopback)");
  row("open worklist (reader, median)", l.worklistMs, p.worklistMs, "<= 100 ms");
  row("load mask (median)", l.loadMs, p.loadMs, "<= 300 ms");
  row("save mask (median)", l.saveMs, p.saveMs, "<= 500 ms");
  char title[80];
  std::snprintf(title, sizeof title, "%d readers submit at once: p50", readers);
  row(title, l.submitP50, p.submitP50, "");
  std::snprintf(title, sizeof title, "%d readers submit at once: p95", readers);
  row(title, l.submitP95, p.submitP95, "");
  std::printf("%-40s %12d %12d %8s  %s\n", "errors", l.errors, p.errors, "", "0");
  if (l.errors + p.errors > 0)
  {
    printError(QString("%1 of %2 submissions failed: %3")
                 .arg(l.errors + p.errors)
                 .arg(2 * readers)
                 .arg(qs(p.firstError.empty() ? l.firstError : p.firstError)));
    return Failed;
  }
  return Ok;
}
} // namespace

// ---- entry points -----------------------------------------------------------------------------
int importCommand(const QStringList& args)
{
  ensureCoreApplication();
  const Args a(args, { "json", "verbose", "accept-gaps" });
  const QString synopsis =
    "panseg import PATH... [--db DIR] [--center NAME] [--mask-state STATE] [--accept-gaps] [--json] [--verbose]";
  if (usageError(a, synopsis, 1, -1))
    return Usage;
  ImportOptions options;
  options.center = a.value("center").toStdString();
  options.acceptGaps = a.has("accept-gaps");
  if (a.has("mask-state"))
  {
    const auto s = parseMaskState(a.value("mask-state").toStdString());
    if (!s)
    {
      printError("--mask-state must be draft, submitted, approved or rejected");
      return Usage;
    }
    options.maskState = *s;
  }
  StudyDatabase db(dataFolderOf(a).toStdString(), openOptions(a));
  std::vector<std::string> paths;
  for (const auto& p : a.positionals)
    paths.push_back(p.toStdString());

  // Ctrl-C cancels between items: nothing is half-written, and the report says what was done.
  g_interrupted = false;
  options.cancel = &g_interrupted;
  auto previous = std::signal(SIGINT, onInterrupt);
  const bool tty = ::isatty(2) && !a.has("json");
  const ImportReport r = importPaths(db, paths, options, [&](const ImportProgress& p) {
    if (tty && p.stage != "scan")
      std::fprintf(stderr, "\r\033[K[%d/%d] %s %s", p.done + 1, p.total, p.stage.c_str(),
                   qPrintable(QFileInfo(qs(p.path)).fileName()));
    return true;
  });
  std::signal(SIGINT, previous);
  if (tty)
    std::fprintf(stderr, "\r\033[K");

  if (a.has("json"))
    printJson(QJsonObject{ { "database", qs(db.dataFolder()) },
                           { "imported_series", ids(r.importedSeries) },
                           { "imported_masks", ids(r.importedMasks) },
                           { "duplicate_series", issues(r.duplicateSeries) },
                           { "duplicate_masks", issues(r.duplicateMasks) },
                           { "skipped", issues(r.skipped) },
                           { "failures", issues(r.failures) },
                           { "flagged", issues(r.flagged) },
                           { "cancelled", r.cancelled },
                           { "seconds", r.seconds } });
  else
  {
    std::printf("imported %zu series and %zu masks into %s in %.1f s\n", r.importedSeries.size(),
                r.importedMasks.size(), db.dataFolder().c_str(), r.seconds);
    if (!r.duplicateSeries.empty() || !r.duplicateMasks.empty())
      std::printf("already in the database: %zu series, %zu masks (not added again)\n", r.duplicateSeries.size(),
                  r.duplicateMasks.size());
    if (!r.skipped.empty())
    {
      std::printf("skipped %zu%s\n", r.skipped.size(), a.has("verbose") ? ":" : " (--verbose lists them)");
      if (a.has("verbose"))
        for (const auto& s : r.skipped)
          std::printf("  %s: %s\n", s.path.c_str(), s.reason.c_str());
    }
    if (!r.flagged.empty())
    {
      std::printf("flagged %zu (imported with an accepted defect):\n", r.flagged.size());
      for (const auto& f : r.flagged)
        std::printf("  %s: %s\n", f.path.c_str(), f.reason.c_str());
    }
    if (!r.failures.empty())
    {
      std::printf("failed %zu:\n", r.failures.size());
      for (const auto& f : r.failures)
        std::printf("  %s: %s\n", f.path.c_str(), f.reason.c_str());
    }
    if (r.cancelled)
      std::printf("cancelled: the items above were completed; nothing else was written\n");
  }
  std::fflush(stdout);
  if (r.cancelled)
  {
    printError("import cancelled");
    return Failed;
  }
  const bool allDuplicates = !r.duplicateSeries.empty() && r.failures.empty();
  if (r.anythingNew() || allDuplicates)
    return Ok;
  if (!r.failures.empty())
    printError(QString("nothing imported: %1 item(s) failed, first %2: %3")
                 .arg(r.failures.size())
                 .arg(qs(r.failures.front().path), qs(r.failures.front().reason)));
  else
    printError("nothing to import in " + a.positionals.join(", ") + " (no readable images or DICOM series)");
  return Failed;
}

int dbModels(const QStringList& args)
{
  const Args a(args, { "json" });
  if (usageError(a, "panseg db models [--db DIR] [--json]", 0, 0))
    return Usage;
  StudyDatabase db(dataFolderOf(a).toStdString(), openOptions(a));
  const auto models = db.modelVersions();
  if (a.has("json"))
  {
    QJsonArray list;
    for (const auto& m : models)
    {
      QJsonArray files;
      for (const auto& f : m.files)
        files.append(QJsonObject{ { "path", qs(f.path) }, { "sha256", qs(f.sha256) } });
      list.append(QJsonObject{ { "id", qint64(m.id) }, { "model_id", qs(m.modelId) }, { "version", qs(m.version) },
                               { "parent_id", qint64(m.parentId) }, { "description", qs(m.description) },
                               { "created_at", qs(m.createdAt) }, { "files", files } });
    }
    printJson(QJsonObject{ { "models", list } });
    return Ok;
  }
  std::printf("%5s %-36s %-10s %6s %-24s %s\n", "ID", "MODEL", "VERSION", "PARENT", "REGISTERED (UTC)", "DESCRIPTION");
  for (const auto& m : models)
    std::printf("%5lld %-36s %-10s %6s %-24s %s\n", (long long)m.id, m.modelId.c_str(), m.version.c_str(),
                m.parentId ? std::to_string(m.parentId).c_str() : "-", m.createdAt.c_str(), m.description.c_str());
  std::printf("%zu model versions\n", models.size());
  return Ok;
}

int dbRegisterModel(const QStringList& args)
{
  const Args a(args, {});
  if (usageError(a, "panseg db register-model PACKAGE_DIR [--db DIR]", 1, 1))
    return Usage;
  StudyDatabase db(dataFolderOf(a).toStdString(), openOptions(a));
  const auto info = readModelPackageInfo(a.positionals[0].toStdString());
  const int64_t id = registerModelPackage(db, info.dir);
  std::printf("model version %lld: %s %s (%s)\n", (long long)id, info.modelId.c_str(), info.version.c_str(),
              info.dir.c_str());
  return Ok;
}

// panseg db copy --from DIR --to URI: moving a local study database to a server.
int dbCopy(const QStringList& args)
{
  const Args a(args, { "json" });
  if (usageError(a, "panseg db copy --from DIR --to postgresql://owner@host[:port]/database [--json]", 0, 0))
    return Usage;
  if (a.has("user") || a.has("db"))
  {
    printError("panseg db copy takes --from DIR --to URI, not --" + QString(a.has("user") ? "user" : "db") +
               ": it reads the folder as it is and signs in to the server as the role in the URI (its owner)");
    return Usage;
  }
  if (!a.has("from") || !a.has("to"))
  {
    printError("usage: panseg db copy --from DIR --to postgresql://owner@host[:port]/database [--json]");
    return Usage;
  }
  const DatabaseCopyReport r = copyDatabaseToServer(a.value("from").toStdString(), a.value("to").toStdString());
  if (a.has("json"))
  {
    QJsonObject rows;
    for (const auto& [table, n] : r.rows)
      rows[qs(table)] = n;
    QJsonArray created;
    for (const User& u : r.usersCreated)
      created.append(QJsonObject{ { "username", qs(u.username) }, { "role", qs(to_string(u.role)) } });
    printJson(QJsonObject{ { "from", qs(r.from) },
                           { "to", qs(r.to) },
                           { "rows", rows },
                           { "mask_bytes", r.maskBytes },
                           { "masks_verified", r.masksVerified },
                           { "users_without_login", created },
                           { "seconds", r.seconds } });
    return Ok;
  }
  std::printf("copied %s into %s in %.1f s\n", r.from.c_str(), r.to.c_str(), r.seconds);
  for (const auto& [table, n] : r.rows)
    std::printf("  %-24s %8lld rows\n", table.c_str(), n);
  std::printf("verified: row counts, and the SHA-256 of all %d masks (%.1f MB) as the server stores them\n",
              r.masksVerified, double(r.maskBytes) / 1e6);
  if (!r.usersMatched.empty())
  {
    std::printf("already users of the server (their rows were used):");
    for (const std::string& n : r.usersMatched)
      std::printf(" %s", n.c_str());
    std::printf("\n");
  }
  if (!r.usersCreated.empty())
  {
    std::printf("%zu users have no account on the server yet; an admin gives each person one:\n", r.usersCreated.size());
    for (const User& u : r.usersCreated)
    {
      const bool valid = std::find(r.invalidLoginNames.begin(), r.invalidLoginNames.end(), u.username) ==
                         r.invalidLoginNames.end();
      if (valid)
        std::printf("  panseg server user add %s --role %s --db %s\n", u.username.c_str(), to_string(u.role).c_str(),
                    r.to.c_str());
      else
        std::printf("  %s: not a valid server login name (lower-case letters, digits, _ . -); their rows stay "
                    "under this name\n",
                    u.username.c_str());
    }
  }
  return Ok;
}

int dbCommand(const QStringList& args)
{
  ensureCoreApplication();
  const QString verb = args.value(0);
  const QStringList rest = args.mid(1);
  if (verb == "list")
    return dbList(rest);
  if (verb == "masks")
    return dbMasks(rest);
  if (verb == "check")
    return dbCheck(rest);
  if (verb == "labels")
    return dbLabels(rest);
  if (verb == "reduce-to-pancreas")
    return dbReduceToPancreas(rest);
  if (verb == "set-modality")
    return dbSetModality(rest);
  if (verb == "set-state")
    return dbSetState(rest);
  if (verb == "audit")
    return dbAudit(rest);
  if (verb == "models")
    return dbModels(rest);
  if (verb == "verify-audit")
    return dbVerifyAudit(rest);
  if (verb == "user")
    return dbUser(rest);
  if (verb == "register-model")
    return dbRegisterModel(rest);
  if (verb == "copy")
    return dbCopy(rest);
  if (verb == "reference-rule")
    return dbReferenceRule(rest);
  printError(verb.isEmpty() ? "usage: panseg db list|masks|labels|reduce-to-pancreas|check|set-modality|set-state|audit|verify-audit|models|"
                              "register-model|user|copy|reference-rule ..."
                            : "unknown db command '" + verb +
                                "' (list, masks, labels, reduce-to-pancreas, check, set-modality, set-state, audit, verify-audit, models, "
                                "register-model, user, copy, reference-rule)");
  return Usage;
}

int benchDb(const QStringList& argsIn)
{
  ensureCoreApplication();
  const QStringList args = argsIn.value(0) == "db" ? argsIn.mid(1) : argsIn;
  const Args a(args, {});
  if (usageError(a, "panseg bench db [--reps N] [--rows N] | --db postgresql://... [--readers N] [--mask XxYxZ] [--reps N]", 0, 0))
    return Usage;
  if (a.has("db"))
    return benchDepartment(a);
  const int reps = std::max(1, a.intValue("reps", 5));
  const int nRows = std::max(1, a.intValue("rows", 10000));
  const QString shared = qEnvironmentVariable("PANSEG_SHARED_DIR", PANSEG_SHARED_DIR);
  QTemporaryDir tmp;
  if (!tmp.isValid())
  {
    printError("cannot create a temporary folder for the benchmark database");
    return Failed;
  }
  std::printf("panseg %s, Qt %s; %d repetitions (medians, odd counts are exact); temporary databases in %s\n\n",
              PANSEG_VERSION, qVersion(), reps, qPrintable(tmp.path()));

  struct Case
  {
    const char* name;
    QString path;
  };
  const Case cases[] = {
    { "TotalSegmentator DICOM series (20 x 512x512, JPEG 2000)", shared + "/data/totalsegmentator/ct_dicom/example_ct_dicom" },
    { "TotalSegmentator CT NIfTI (122x101x112, gzip)", shared + "/data/totalsegmentator/ct_full/example_ct.nii.gz" },
  };
  std::printf("%-58s %12s %14s %8s\n", "import (read, hash, store) into an empty database", "median ms",
              "read-only ms", "ratio");
  int run = 0;
  for (const Case& c : cases)
  {
    if (!QFileInfo::exists(c.path))
    {
      std::printf("%-58s skipped: %s absent\n", c.name, qPrintable(c.path));
      continue;
    }
    // Import and its same-run baseline (reading the image alone, which import must do anyway)
    // alternate, so that a change in machine load affects both alike.
    std::vector<double> importMs, readMs;
    for (int i = 0; i < reps; ++i)
    {
      // A fresh database each time (created outside the timing), so that the series is new.
      StudyDatabase db((tmp.path() + QString("/import%1").arg(run++)).toStdString());
      importMs.push_back(medianMs(1, [&] {
        const ImportReport r = importPath(db, c.path.toStdString());
        if (r.importedSeries.size() != 1)
          throw Error("benchmark import of " + c.path.toStdString() + " did not import one series");
      }));
      readMs.push_back(medianMs(1, [&] { readImage(c.path.toStdString()); }));
    }
    std::sort(importMs.begin(), importMs.end());
    std::sort(readMs.begin(), readMs.end());
    const double import = importMs[importMs.size() / 2], read = readMs[readMs.size() / 2];
    std::printf("%-58s %12.1f %14.1f %7.2fx\n", c.name, import, read, read > 0 ? import / read : 0.0);
  }

  StudyDatabase db((tmp.path() + "/browse").toStdString());
  QElapsedTimer t;
  t.start();
  db.addSeriesBatch(syntheticRows(nRows));
  const double insertMs = double(t.nsecsElapsed()) / 1e6;
  SeriesTableModel model;
  SeriesFilterModel proxy;
  proxy.setSourceModel(&model);
  std::printf("\n%d synthetic series rows (inserted in one transaction in %.0f ms)\n", nRows, insertMs);
  std::printf("%-58s %12s %10s\n", "browser model", "median ms", "rows");
  int shown = 0;
  const double list = medianMs(reps, [&] {
    model.reload(db);
    shown = proxy.rowCount();
  });
  std::printf("%-58s %12.1f %10d\n", "list all (SQL query + model reset)", list, shown);
  const double filterModality = medianMs(reps, [&] {
    proxy.setModalityFilter(Modality::Mri, true);
    shown = proxy.rowCount();
    proxy.setModalityFilter(std::nullopt);
  });
  proxy.setModalityFilter(Modality::Mri, true);
  shown = proxy.rowCount();
  proxy.setModalityFilter(std::nullopt);
  std::printf("%-58s %12.1f %10d\n", "filter in the model: modality MRI (any weighting)", filterModality, shown);
  const double filterText = medianMs(reps, [&] {
    proxy.setSearchText("lakeside haste");
    shown = proxy.rowCount();
    proxy.setSearchText({});
  });
  proxy.setSearchText("lakeside haste");
  shown = proxy.rowCount();
  proxy.setSearchText({});
  std::printf("%-58s %12.1f %10d\n", "filter in the model: free text \"lakeside haste\"", filterText, shown);
  const double sortDate = medianMs(reps, [&] {
    proxy.sort(SeriesTableModel::StudyDateColumn, Qt::DescendingOrder);
    proxy.sort(-1);
  });
  std::printf("%-58s %12.1f %10d\n", "sort by study date", sortDate, proxy.rowCount());
  SeriesFilter sql;
  sql.text = "lakeside haste";
  size_t sqlRows = 0;
  const double sqlFilter = medianMs(reps, [&] { sqlRows = db.listSeries(sql).size(); });
  std::printf("%-58s %12.1f %10zu\n", "baseline: the same text filter in SQL (LIKE)", sqlFilter, sqlRows);
  return Ok;
}

QString dbUsage()
{
  return QStringLiteral(
    "  panseg import PATH... [--db DIR] [--center NAME] [--mask-state STATE] [--accept-gaps] [--json] [--verbose]\n"
    "                                   add DICOM folders, NIfTI/NRRD/MHA files and image+mask pairs to the\n"
    "                                   study database (duplicates are recognised by content)\n"
    "  panseg db list [--db DIR] [--modality M] [--search TEXT] [--center NAME] [--json]\n"
    "  panseg db masks SERIES_ID [--db DIR] [--json]\n"
    "                                   series in the database; the mask versions of one series\n"
    "  panseg db labels MASK_VERSION_ID [--db DIR] [--preset KEY] [--json]\n"
    "                                   the label table: names, colours, codes, the pancreas label; --preset saves\n"
    "                                   a new version with a preset's table (panseg, nih-pancreas-ct, msd-task07,\n"
    "                                   totalsegmentator-v1, totalsegmentator-v2, totalsegmentator-v2-mr)\n"
    "  panseg db reduce-to-pancreas MASK_VERSION_ID [--db DIR] [--json]\n"
    "                                   a new version with only the pancreas (1) and its lesions (2..)\n"
    "  panseg db check [--db DIR]       database integrity and every mask file's SHA-256\n"
    "  panseg db set-modality SERIES_ID MODALITY | set-state MASK_ID STATE [--note TEXT] [--accept-flagged] | audit\n"
    "                                   approving an AI mask flagged as implausible needs --accept-flagged (audited)\n"
    "  panseg db reference-rule [show] [--study ID] [--json] | set latest|consensus|reader NAME [--study ID]\n"
    "                                   which approved mask represents a series in volume tables and reports\n"
    "                                   (setting it: coordinator or admin, audited)\n"
    "  panseg db verify-audit [--db DIR] [--json]\n"
    "                                   recomputes the audit log's hash chain; names the first broken entry\n"
    "  panseg db user add NAME --role R [--display-name TEXT] | role NAME R | disable NAME | enable NAME | list\n"
    "                                   user accounts and roles (admin only, audited)\n"
    "  panseg db models [--db DIR] [--json] | register-model PACKAGE_DIR [--db DIR]\n"
    "                                   the model registry; a package is registered once per id and version\n"
    "  panseg bench db [--reps N] [--rows N]\n"
    "                                   import and browser-model timings (medians)\n"
    "  panseg bench db --db URI [--readers N] [--mask XxYxZ] [--reps N]\n"
    "                                   department workload on a server next to a local SQLite folder\n"
    "  panseg db copy --from DIR --to URI [--json]\n"
    "                                   moving to a server: copy a local study database (owner of the target)\n"
    "  (--db defaults to $PANSEG_DB_DIR, else ~/.local/share/panseg/studies; every command that opens\n"
    "   the database acts as --user NAME, else $PANSEG_USER, else the login name)\n");
}
} // namespace panseg::cli
