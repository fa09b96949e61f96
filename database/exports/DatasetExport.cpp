#include "database/exports/DatasetExport.h"
#include "database/QtText.h"

#include "core/AtomicFile.h"
#include "core/Error.h"
#include "core/io/ImageIO.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <unistd.h>

namespace panseg::db
{
namespace fs = std::filesystem;

namespace
{
bool isMri(Modality m) { return m == Modality::Mri || m == Modality::MriT1w || m == Modality::MriT2w; }

void checkOutputFolder(const std::string& path)
{
  const fs::path p(path);
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error("cannot write " + path + ": folder " + dir.string() + " does not exist");
  if (::access(dir.c_str(), W_OK) != 0)
    throw Error("cannot write " + path + ": folder " + dir.string() + " is not writable");
}

LabelMask keepLabel(const LabelMask& mask, int label)
{
  return label > 0 ? mask.binary(label) : mask;
}

std::string padded(int64_t id)
{
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04lld", static_cast<long long>(id));
  return buf;
}
} // namespace

void exportMaskVersion(const StudyDatabase& db, int64_t maskVersionId, const std::string& path, int label)
{
  if (label < 0 || label > 255)
    throw Error("the label must be a whole number from 0 to 255, not " + std::to_string(label));
  checkOutputFolder(path);
  const LabelMask mask = db.loadMask(maskVersionId);
  if (label > 0 && mask.countLabel(label) == 0)
    throw Error("mask version " + std::to_string(maskVersionId) + " has no voxel with label " + std::to_string(label));
  writeMask(keepLabel(mask, label), path);
}

void exportSeriesImage(const StudyDatabase& db, int64_t seriesId, const std::string& path)
{
  checkOutputFolder(path);
  writeImage(db.loadImage(seriesId, true), path);
}

SegExportReport exportMaskVersionAsSeg(const StudyDatabase& db, int64_t maskVersionId, const std::string& path,
                                       SegExportOptions options, int label)
{
  if (label < 0 || label > 255)
    throw Error("the label must be a whole number from 0 to 255, not " + std::to_string(label));
  const auto version = db.maskVersion(maskVersionId);
  if (!version)
    throw Error("no mask version " + std::to_string(maskVersionId) + " in the study database");
  const auto series = db.series(version->seriesId);
  if (!series || series->format != "DICOM")
    throw Error("mask version " + std::to_string(maskVersionId) + " belongs to a " +
                (series ? series->format : "missing") + " series; DICOM SEG export needs a DICOM source series");
  checkOutputFolder(path);
  LabelMask mask = db.loadMask(maskVersionId);
  if (version->modelVersionId != 0 && options.algorithmName.empty())
  {
    const size_t space = version->modelLabel.find(' ');
    options.algorithmName = version->modelLabel.substr(0, space);
    if (space != std::string::npos)
      options.algorithmVersion = version->modelLabel.substr(space + 1);
  }
  if (options.contentCreator.empty() && version->modelVersionId == 0)
    options.contentCreator = version->authorName;
  // Segments named, coded and coloured by the version's label table.
  const LabelTable labels = db.labelTable(maskVersionId);
  if (label > 0)
  {
    if (mask.countLabel(label) == 0)
      throw Error("label " + std::to_string(label) + " is empty in the mask");
    mask = mask.binary(label);
    if (options.segments.empty())
    {
      SegSegmentSpec spec = segmentSpecOf(labels.label(label));
      spec.label = 1; // the binary mask's value
      options.segments.push_back(spec);
    }
  }
  else if (options.segments.empty())
    options.segments = segmentSpecsOf(labels, mask.labels());
  return exportDicomSeg(mask, series->sourcePath, options, path);
}

namespace
{
bool endsWith(const std::string& s, const std::string& suffix)
{
  if (s.size() < suffix.size())
    return false;
  for (size_t i = 0; i < suffix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[s.size() - suffix.size() + i])) != suffix[i])
      return false;
  return true;
}
} // namespace

void exportMaskVersionAs(const StudyDatabase& db, int64_t maskVersionId, const std::string& path,
                         const MaskExportOptions& options)
{
  if (endsWith(path, ".dcm"))
  {
    SegExportOptions seg;
    if (!options.softwareVersion.empty())
      seg.softwareVersion = options.softwareVersion;
    exportMaskVersionAsSeg(db, maskVersionId, path, seg, options.label);
    return;
  }
  exportMaskVersion(db, maskVersionId, path, options.label);
}

NnUnetExportReport exportNnUnet(const StudyDatabase& db, const std::string& folder, const NnUnetExportOptions& options)
{
  if (options.label < 1 || options.label > 255)
    throw Error("the pancreas label must be a whole number from 1 to 255, not " + std::to_string(options.label));
  if (folder.empty())
    throw Error("no output folder given for the nnU-Net dataset");
  fs::path out = fs::absolute(folder).lexically_normal();
  if (!out.has_filename())
    out = out.parent_path(); // "DIR/"
  std::error_code ec;
  if (fs::exists(out, ec) && !(fs::is_directory(out, ec) && fs::is_empty(out, ec)))
    throw Error("cannot export the nnU-Net dataset to " + out.string() + ": it exists and is not an empty folder");
  const fs::path parent = out.parent_path();
  if (!fs::is_directory(parent, ec))
    throw Error("cannot export the nnU-Net dataset to " + out.string() + ": folder " + parent.string() +
                " does not exist");
  if (::access(parent.c_str(), W_OK) != 0)
    throw Error("cannot export the nnU-Net dataset to " + out.string() + ": folder " + parent.string() +
                " is not writable");

  // Select the cases first: nothing is written when the selection is empty or mixed.
  struct Pick
  {
    SeriesRecord series;
    MaskVersion mask;
  };
  std::vector<Pick> picks;
  bool anyCt = false, anyMr = false;
  for (const SeriesRecord& s : db.listSeries())
  {
    if (options.modality)
    {
      const bool ok = (options.anyMri && *options.modality == Modality::Mri) ? isMri(s.modality)
                                                                             : s.modality == *options.modality;
      if (!ok)
        continue;
    }
    std::optional<MaskVersion> chosen, newest;
    for (const MaskVersion& m : db.masksOf(s.id))
    {
      if (m.state == MaskState::Approved)
        chosen = m;
      if (m.state != MaskState::Rejected)
        newest = m;
    }
    if (!chosen && !options.approvedOnly)
      chosen = newest;
    if (!chosen)
      continue;
    anyCt = anyCt || s.modality == Modality::CT;
    anyMr = anyMr || isMri(s.modality);
    picks.push_back({ s, *chosen });
  }
  if (picks.empty())
    throw Error(std::string("no series in ") + db.dataFolder() + " matches: none has " +
                (options.approvedOnly ? "an approved mask" : "a mask") +
                (options.modality ? " with modality " + to_string(*options.modality) : std::string()));
  if (anyCt && anyMr)
    throw Error("the selected cases mix CT and MRI, which one nnU-Net dataset cannot train on; choose one with "
                "--modality CT or --modality MRI");
  for (const Pick& p : picks)
    if (p.series.modality == Modality::Other)
      throw Error("series " + std::to_string(p.series.id) + " has modality 'other'; set its modality "
                  "(panseg db set-modality) or choose --modality");

  NnUnetExportReport report;
  report.folder = out.string();
  report.channelName = anyCt ? "CT" : "MRI";
  const fs::path tmp = parent / (".tmp-" + std::to_string(::getpid()) + "-" + out.filename().string());
  fs::remove_all(tmp, ec);
  try
  {
    fs::create_directories(tmp / "imagesTr");
    fs::create_directories(tmp / "labelsTr");
    QJsonArray training;
    std::string csv = "case,series_id,mask_version_id,mask_state,volume_ml\n";
    for (const Pick& p : picks)
    {
      const std::string caseId = "panseg_" + padded(p.series.id);
      const LabelMask mask = db.loadMask(p.mask.id);
      const Image image = db.loadImage(p.series.id, true);
      const LabelMask label = mask.binary(options.label);
      writeImage(image, (tmp / "imagesTr" / (caseId + "_0000.nii.gz")).string());
      writeMask(label, (tmp / "labelsTr" / (caseId + ".nii.gz")).string());
      const double ml = label.volumeMl(1);
      report.cases.push_back({ caseId, p.series.id, p.mask.id, ml });
      char line[256];
      std::snprintf(line, sizeof line, "%s,%lld,%lld,%s,%.4f\n", caseId.c_str(), static_cast<long long>(p.series.id),
                    static_cast<long long>(p.mask.id), to_string(p.mask.state).c_str(), ml);
      csv += line;
      training.append(QJsonObject{ { "image", qs("./imagesTr/" + caseId + "_0000.nii.gz") },
                                   { "label", qs("./labelsTr/" + caseId + ".nii.gz") } });
    }
    QJsonObject ds{
      { "name", qs(options.datasetName) },
      { "description", "Pancreas masks exported from PanSeg Workstation (research use only)" },
      { "channel_names", QJsonObject{ { "0", qs(report.channelName) } } },
      { "labels", QJsonObject{ { "background", 0 }, { "pancreas", 1 } } },
      { "numTraining", int(picks.size()) },
      { "file_ending", ".nii.gz" },
      { "panseg_software_version", qs(options.softwareVersion) },
      { "panseg_exported_at", QDateTime::currentDateTimeUtc().toString(Qt::ISODate) },
      { "panseg_source_label", options.label },
      { "panseg_masks", options.approvedOnly ? "approved" : "approved, else newest non-rejected" },
    };
    writeFileAtomically((tmp / "dataset.json").string(), QJsonDocument(ds).toJson(QJsonDocument::Indented).toStdString());
    writeFileAtomically((tmp / "cases.csv").string(), csv);
    if (fs::exists(out, ec))
      fs::remove(out); // the empty folder we were allowed to fill
    fs::rename(tmp, out);
  }
  catch (const fs::filesystem_error& e)
  {
    fs::remove_all(tmp, ec);
    throw Error("cannot export the nnU-Net dataset to " + out.string() + ": " + e.code().message());
  }
  catch (...)
  {
    fs::remove_all(tmp, ec);
    throw;
  }
  return report;
}
} // namespace panseg::db
