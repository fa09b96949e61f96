#include "SegCommands.h"
#include "database/QtText.h"

#include "Cli.h"

#include "core/Error.h"
#include "core/io/Deidentify.h"
#include "core/io/DicomSeg.h"
#include "core/io/ImageIO.h"
#include "database/exports/DatasetExport.h"
#include "database/StudyDatabase.h"

#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>
#include <memory>

namespace panseg::cli
{
namespace
{
/// Qt SQL loads its driver as a plugin, which needs an application object.
void ensureCoreApplication()
{
  ensureHeadlessApplication(false); // released by main() (Cli.h)
}
} // namespace

QString segUsage()
{
  return "  panseg export-seg --image DICOM_DIR --mask MASK --out FILE.dcm [--label N]\n"
         "                   [--ai-model NAME --ai-version V] [--creator NAME] [--deidentify "
         "[--salt S]]\n"
         "  panseg export-seg --db DIR --mask-version ID --out FILE.dcm [--deidentify [--salt S]]\n"
         "                                   write a mask as DICOM SEG referencing its DICOM "
         "series\n"
         "  panseg import-seg FILE.dcm [--image DICOM_DIR] --out MASK.nii.gz [--json]\n"
         "                                   read a DICOM SEG onto its series' grid (or the SEG's "
         "own)\n"
         "  panseg deidentify DICOM_DIR --out DIR [--salt S] [--seg FILE.dcm --seg-out FILE.dcm]\n"
         "                                   copy a series with identifiers removed, dates "
         "shifted, UIDs remapped\n";
}

int exportSegCommand(const QStringList& args)
{
  const QString synopsis =
      "panseg export-seg (--image DICOM_DIR --mask MASK | --db DIR --mask-version ID) "
      "--out FILE.dcm [--label N] [--ai-model NAME --ai-version V] [--description TEXT] "
      "[--creator NAME] [--deidentify [--salt S]]";
  Args a(args, {"deidentify"});
  if (!checkOptions(args, a,
                    {"image", "mask", "db", "user", "mask-version", "out", "label", "ai-model",
                     "ai-version", "description", "creator", "deidentify", "salt"},
                    0, 0, synopsis))
    return Usage;
  const bool fromDb = a.has("db") || a.has("mask-version");
  if (!a.has("out") ||
      (fromDb ? !(a.has("db") && a.has("mask-version")) : !(a.has("image") && a.has("mask"))))
  {
    printError("usage: " + synopsis);
    return Usage;
  }
  const auto labelArg = labelOption(a, 0, 0, "the label exported as the pancreas; 0 = every label");
  if (!labelArg)
    return Usage;
  const int label = *labelArg;
  if (a.has("salt") && !a.has("deidentify"))
  {
    printError("--salt needs --deidentify");
    return Usage;
  }

  SegExportOptions opt;
  opt.softwareVersion = PANSEG_VERSION;
  opt.algorithmName = a.value("ai-model").toStdString();
  opt.algorithmVersion = a.value("ai-version").toStdString();
  opt.contentCreator = a.value("creator").toStdString();
  if (a.has("description"))
    opt.seriesDescription = a.value("description").toStdString();
  LabelMask mask;
  std::string source;
  if (fromDb)
  {
    ensureCoreApplication();
    bool ok = false;
    const int64_t id = a.value("mask-version").toLongLong(&ok);
    if (!ok || id <= 0)
    {
      printError("--mask-version must be a mask version id (see panseg db masks)");
      return Usage;
    }
    if (a.has("deidentify"))
    {
      opt.deidentifySalt = a.value("salt").toStdString();
      if (opt.deidentifySalt.empty())
        throw Error("--deidentify needs --salt S (the same secret as `panseg deidentify` of the "
                    "series, so the SEG's UIDs and dates match the de-identified images)");
    }
    db::StudyDatabase::OpenOptions o;
    o.username = actingUserOption(a);
    db::StudyDatabase db(a.value("db").toStdString(), o);
    if (!db.maskVersion(id))
      throw Error("no mask version " + std::to_string(id) + " in " + a.value("db").toStdString());
    const SegExportReport r = db::exportMaskVersionAsSeg(db, id, a.value("out").toStdString(), opt, label);
    std::printf("wrote %s: %d segment(s), %d frame(s), %lld voxels%s\n", qPrintable(a.value("out")), r.segments,
                r.frames, static_cast<long long>(r.voxels), a.has("deidentify") ? ", de-identified" : "");
    return Ok;
  }
  source = a.value("image").toStdString();
  const Image image = readImage(source);
  if (image.info.format != "DICOM")
    throw Error(source + " is not a DICOM series; DICOM SEG export needs the DICOM source images");
  mask = readMaskFor(a.value("mask").toStdString(), image.geometry);
  if (label > 0)
  {
    if (mask.countLabel(label) == 0)
      throw Error("label " + std::to_string(label) + " is empty in the mask");
    mask = mask.binary(label);
  }
  if (a.has("deidentify"))
  {
    opt.deidentifySalt = a.value("salt").toStdString();
    if (opt.deidentifySalt.empty())
      throw Error("--deidentify needs --salt S (the same secret as `panseg deidentify` of the "
                  "series, so the "
                  "SEG's UIDs and dates match the de-identified images)");
  }
  const SegExportReport r = exportDicomSeg(mask, source, opt, a.value("out").toStdString());
  std::printf("wrote %s: %d segment(s), %d frame(s), %lld voxels%s\n", qPrintable(a.value("out")),
              r.segments, r.frames, static_cast<long long>(r.voxels),
              a.has("deidentify") ? ", de-identified" : "");
  return Ok;
}

int importSegCommand(const QStringList& args)
{
  const QString synopsis =
      "panseg import-seg FILE.dcm [--image DICOM_DIR] --out MASK.nii.gz [--json]";
  Args a(args, {"json"});
  if (!checkOptions(args, a, {"image", "out", "json"}, 1, 1, synopsis))
    return Usage;
  if (!a.has("out"))
  {
    printError("usage: " + synopsis);
    return Usage;
  }
  const std::string path = a.positionals[0].toStdString();
  SegImportResult r;
  if (a.has("image"))
    r = importDicomSeg(path, readImage(a.value("image").toStdString()).geometry);
  else
    r = importDicomSeg(path);
  writeMask(r.mask, a.value("out").toStdString());
  if (a.has("json"))
  {
    QJsonObject o;
    o["seg"] = a.positionals[0];
    o["out"] = a.value("out");
    o["type"] = qs(r.segmentationType);
    o["transfer_syntax"] = qs(r.transferSyntax);
    o["frames"] = r.frames;
    o["overlap_voxels"] = qint64(r.overlapVoxels);
    QJsonArray segs;
    for (const auto& s : r.segments)
      segs.append(QJsonObject{{"number", s.number},
                              {"label", qs(s.label)},
                              {"type_code", qs(s.typeCode)},
                              {"type", qs(s.typeMeaning)},
                              {"color", s.color ? qs(hexColor(*s.color)) : QJsonValue()},
                              {"algorithm_type", qs(s.algorithmType)},
                              {"voxels", qint64(s.voxels)},
                              {"volume_ml", r.mask.volumeMl(s.number)}});
    o["segments"] = segs;
    std::printf("%s\n", QJsonDocument(o).toJson(QJsonDocument::Compact).constData());
    return Ok;
  }
  std::printf("wrote %s (%s SEG, %d frame(s))\n", qPrintable(a.value("out")),
              r.segmentationType.c_str(), r.frames);
  for (const auto& s : r.segments)
    std::printf("  segment %d = label %d: %s (%s)%s, %lld voxels, %.2f mL\n", s.number, s.number,
                s.label.c_str(), s.typeMeaning.c_str(), s.color ? (" " + hexColor(*s.color)).c_str() : "",
                static_cast<long long>(s.voxels), r.mask.volumeMl(s.number));
  if (r.overlapVoxels > 0)
    std::printf(
        "  note: %lld voxels belong to several segments; the higher segment number was kept\n",
        static_cast<long long>(r.overlapVoxels));
  return Ok;
}

int deidentifyCommand(const QStringList& args)
{
  const QString synopsis =
      "panseg deidentify DICOM_DIR --out DIR [--salt S] [--seg FILE.dcm --seg-out FILE.dcm]";
  Args a(args, {});
  if (!checkOptions(args, a, {"out", "salt", "seg", "seg-out"}, 1, 1, synopsis))
    return Usage;
  if (!a.has("out") || a.has("seg") != a.has("seg-out"))
  {
    printError("usage: " + synopsis);
    return Usage;
  }
  const bool randomSalt = !a.has("salt");
  const Deidentifier d(DeidentifyOptions{a.value("salt").toStdString()});
  const DeidentifyReport r =
      d.deidentifyFolder(a.positionals[0].toStdString(), a.value("out").toStdString());
  if (a.has("seg"))
    d.deidentifyFile(a.value("seg").toStdString(), a.value("seg-out").toStdString());
  std::printf("wrote %d de-identified file(s) to %s%s%s\n", r.files, qPrintable(a.value("out")),
              a.has("seg") ? " and the SEG to " : "",
              a.has("seg") ? qPrintable(a.value("seg-out")) : "");
  if (r.skipped > 0)
    std::printf("  %d non-DICOM file(s) left out\n", r.skipped);
  if (randomSalt)
    std::printf("  a random salt was used: UIDs and dates cannot be matched with later exports "
                "(pass --salt)\n");
  return Ok;
}

} // namespace panseg::cli
