// The volume table and file exports from the command line (see VolumeCommands.h).
#include "VolumeCommands.h"
#include "database/QtText.h"

#include "Cli.h"

#include "core/Error.h"
#include "database/exports/DatasetExport.h"
#include "database/StudyDatabase.h"
#include "database/exports/VolumeTable.h"
#include "ui/VolumeExport.h"

#include <QCoreApplication>
#include <QFileInfo>
#include <QGuiApplication>

#include <cmath>
#include <cstdio>

namespace panseg::cli
{
namespace
{
using namespace panseg::db;

/// Qt SQL loads its driver as a plugin (needs an application object); PDF needs a
/// QGuiApplication, which runs on the offscreen platform here (no display needed).
void ensureApplication(bool gui)
{
  ensureHeadlessApplication(gui); // offscreen, released by main() (Cli.h)
}

StudyDatabase::OpenOptions openOptions(const Args& a)
{
  StudyDatabase::OpenOptions o;
  o.username = actingUserOption(a);
  return o;
}

std::string dataFolderOf(const Args& a)
{
  return a.has("db") ? a.value("db").toStdString() : StudyDatabase::defaultDataFolder();
}

/// --modality: CT, MRI/MR (every MRI kind), MRI-T1W, MRI-T2W, other. Throws Error otherwise.
void parseModalityOption(const QString& text, std::optional<Modality>& modality, bool& anyMri)
{
  const auto m = parseModality(text.toStdString());
  if (!m)
    throw Error("unknown modality '" + text.toStdString() + "' (use CT, MRI, MRI-T1W, MRI-T2W or other)");
  modality = m;
  anyMri = *m == Modality::Mri;
}

int64_t parseId(const Args& a, const QString& name)
{
  bool ok = false;
  const qlonglong id = a.value(name).toLongLong(&ok);
  if (!ok || id <= 0)
    throw Error("--" + name.toStdString() + " must be a positive whole number, not '" + a.value(name).toStdString() + "'");
  return id;
}

QString pad(const QString& s, int width, bool right = false)
{
  const QString t = s.size() > width ? s.left(width - 1) + "…" : s;
  return right ? t.rightJustified(width) : t.leftJustified(width);
}

void printTable(const VolumeTable& t)
{
  std::printf("%s\n", qPrintable(pad("patient", 18) + " " + pad("study date", 10) + " " + pad("series", 6, true) +
                                 " " + pad("modality", 8) + " " + pad("center", 10) + " " + pad("spacing mm", 17) + " " +
                                 pad("mask", 6, true) + " " + pad("source", 34) + " " + pad("state", 9) + " " +
                                 pad("approved by", 12) + " " + pad("volume mL", 10, true)));
  for (const VolumeRow& r : t.rows)
  {
    const QString spacing = QString("%1x%2x%3").arg(r.spacingMm[0], 0, 'g', 4).arg(r.spacingMm[1], 0, 'g', 4).arg(r.spacingMm[2], 0, 'g', 4);
    std::printf("%s\n",
                qPrintable(pad(qs(r.patientId.empty() ? r.patientName : r.patientId), 18) + " " +
                           pad(qs(r.studyDate), 10) + " " + pad(QString::number(r.seriesId), 6, true) + " " +
                           pad(qs(to_string(r.modality)), 8) + " " + pad(qs(r.center), 10) + " " + pad(spacing, 17) +
                           " " + pad(QString::number(r.maskVersionId) + (r.approvedMask ? "*" : ""), 6, true) + " " +
                           pad(qs(r.sourceName), 34) + " " + pad(qs(to_string(r.state)), 9) + " " +
                           pad(qs(r.approvedBy), 12) + " " + pad(QString::number(r.volumeMl, 'f', 2), 10, true)));
  }
  std::printf("%d row(s); * = reference mask; %s\n", int(t.rows.size()), t.filterText().c_str());
  std::printf("%s\n", t.rule.describe().c_str());
  for (const ReferenceRow& ref : t.references)
    if (!ref.maskVersionId && ref.reason != "no approved version")
      std::printf("series %lld: no reference mask: %s\n", (long long)ref.seriesId, ref.reason.c_str());
  if (!t.followUp.empty())
  {
    std::printf("\nfollow-up\n%s\n", qPrintable(pad("patient", 18) + " " + pad("group", 5) + " " + pad("from", 10) + " " +
                                                 pad("to", 10) + " " + pad("days", 5, true) + " " +
                                                 pad("from mL", 9, true) + " " + pad("to mL", 9, true) + " " +
                                                 pad("change mL", 10, true) + " " + pad("change %", 9, true)));
    for (const FollowUpRow& f : t.followUp)
      std::printf("%s\n", qPrintable(pad(qs(f.patientId.empty() ? f.patientName : f.patientId), 18) + " " +
                                     pad(qs(f.modalityGroup), 5) + " " + pad(qs(f.fromDate), 10) + " " +
                                     pad(qs(f.toDate), 10) + " " + pad(QString::number(f.days), 5, true) + " " +
                                     pad(QString::number(f.fromMl, 'f', 2), 9, true) + " " +
                                     pad(QString::number(f.toMl, 'f', 2), 9, true) + " " +
                                     pad(QString::number(f.deltaMl, 'f', 2), 10, true) + " " +
                                     pad(std::isfinite(f.deltaPercent) ? QString::number(f.deltaPercent, 'f', 1) : "-",
                                         9, true)));
  }
}

const char* kVolumesSynopsis = "panseg volumes [--db DIR] [--user NAME] [--series ID,...] [--modality M] [--center C] [--from DATE] "
                               "[--to DATE] [--approved-only] [--label N] [--follow-up] [--out FILE.csv|.xlsx|.pdf|.html]";
const char* kExportSynopsis = "panseg export [--db DIR] [--user NAME] (--mask-version ID [--label N] | --series ID) --out "
                              "FILE.nii.gz|.nii|.nrrd|.mha";
const char* kNnUnetSynopsis = "panseg export-nnunet [--db DIR] [--user NAME] --out DIR [--modality M] [--label N] "
                              "[--approved-only | --include-unapproved]";
} // namespace

QString volumeUsage()
{
  return QString("  %1\n"
                 "                                   pancreas volume table per series and mask source, follow-up\n"
                 "  %2\n"
                 "                                   one mask version or a series' image as a file\n"
                 "  %3\n"
                 "                                   approved cases as an nnU-Net raw dataset\n")
    .arg(kVolumesSynopsis, kExportSynopsis, kNnUnetSynopsis);
}

int volumesCommand(const QStringList& args)
{
  Args a(args, { "approved-only", "follow-up" });
  if (!checkOptions(args, a,
                    { "db", "user", "series", "modality", "center", "from", "to", "approved-only", "label", "follow-up",
                      "out" },
                    0, 0, kVolumesSynopsis))
    return Usage;
  const QString out = a.value("out");
  ensureApplication(out.endsWith(".pdf", Qt::CaseInsensitive));
  VolumeFilter f;
  if (a.has("modality"))
    parseModalityOption(a.value("modality"), f.modality, f.anyMri);
  f.center = a.value("center").toStdString();
  f.fromDate = a.value("from").toStdString();
  f.toDate = a.value("to").toStdString();
  f.approvedOnly = a.has("approved-only");
  // Without --label: the pancreas of each mask's label table (VolumeFilter::kPancreasByName).
  if (a.has("label"))
  {
    const auto label = labelOption(a, 1, 0, "0 = any non-zero label; without --label the pancreas of each mask's label table");
    if (!label)
      return Usage;
    f.label = *label;
  }
  if (a.has("series"))
    for (const QString& id : a.value("series").split(',', Qt::SkipEmptyParts))
    {
      bool ok = false;
      const qlonglong v = id.trimmed().toLongLong(&ok);
      if (!ok || v <= 0)
        throw Error("--series takes series ids separated by commas, not '" + a.value("series").toStdString() + "'");
      f.seriesIds.push_back(v);
    }
  StudyDatabase::OpenOptions o;
  o.username = actingUserOption(a);
  StudyDatabase db(dataFolderOf(a), o);
  const VolumeTable t = buildVolumeTable(db, f);
  if (out.isEmpty())
  {
    if (t.rows.empty())
      throw Error("no mask volumes match the selection (" + t.filterText() + ") in " + db.dataFolder());
    printTable(t);
    return Ok;
  }
  ui::VolumeExportInfo info;
  info.softwareVersion = PANSEG_VERSION;
  ui::exportVolumeTable(t, out, info, a.has("follow-up"));
  std::printf("wrote %s (%d rows, %d follow-up)\n", qPrintable(out), int(t.rows.size()), int(t.followUp.size()));
  return Ok;
}

int exportCommand(const QStringList& args)
{
  Args a(args, {});
  if (!checkOptions(args, a, { "db", "user", "mask-version", "series", "label", "out" }, 0, 0, kExportSynopsis))
    return Usage;
  if (a.has("mask-version") == a.has("series") || !a.has("out"))
  {
    printError(QString("give --out and one of --mask-version or --series; usage: ") + kExportSynopsis);
    return Usage;
  }
  ensureApplication(false);
  StudyDatabase db(dataFolderOf(a), openOptions(a));
  const std::string out = a.value("out").toStdString();
  if (a.has("mask-version"))
  {
    const auto label = labelOption(a, 0, 0, "0 = every label");
    if (!label)
      return Usage;
    exportMaskVersion(db, parseId(a, "mask-version"), out, *label);
  }
  else
    exportSeriesImage(db, parseId(a, "series"), out);
  std::printf("wrote %s\n", out.c_str());
  return Ok;
}

int exportNnUnetCommand(const QStringList& args)
{
  Args a(args, { "approved-only", "include-unapproved" });
  if (!checkOptions(args, a, { "db", "user", "out", "modality", "label", "approved-only", "include-unapproved" },
                    0, 0, kNnUnetSynopsis))
    return Usage;
  if (!a.has("out") || (a.has("approved-only") && a.has("include-unapproved")))
  {
    printError(QString("usage: ") + kNnUnetSynopsis);
    return Usage;
  }
  ensureApplication(false);
  NnUnetExportOptions o;
  if (a.has("modality"))
    parseModalityOption(a.value("modality"), o.modality, o.anyMri);
  const auto label = labelOption(a, 1, 1, "the pancreas label of the exported masks");
  if (!label)
    return Usage;
  o.label = *label;
  o.approvedOnly = !a.has("include-unapproved");
  o.softwareVersion = PANSEG_VERSION;
  StudyDatabase db(dataFolderOf(a), openOptions(a));
  const NnUnetExportReport r = exportNnUnet(db, a.value("out").toStdString(), o);
  double total = 0;
  for (const auto& c : r.cases)
    total += c.volumeMl;
  std::printf("wrote %s: %d case(s), channel %s, pancreas %.2f mL in all\n", r.folder.c_str(), int(r.cases.size()),
              r.channelName.c_str(), total);
  return Ok;
}
} // namespace panseg::cli
