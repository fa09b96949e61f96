#include "database/Importer.h"

#include "core/Text.h"

#include "core/Error.h"
#include "core/Reorient.h"
#include "core/display/LabelPresets.h"
#include "core/io/ImageIO.h"
#include "database/ContentHash.h"
#include "database/ModalityDetection.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

namespace fs = std::filesystem;

namespace panseg::db
{
namespace
{
/// File name without its image extension (".nii.gz" counts as one).
std::string stemOf(const std::string& path)
{
  const std::string name = fs::path(path).filename().string();
  const std::string l = lower(name);
  for (const char* ext : { ".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd" })
    if (endsWith(l, ext))
      return name.substr(0, name.size() - std::string(ext).size());
  return fs::path(path).stem().string();
}

/// NIfTI, NRRD or MetaImage: files read one by one. DICOM files are only ever read as part of a
/// series that listDicomSeries found (a lone DICOM object such as a SEG is never opened as an
/// image: some of them make GDCM abort).
bool isVolumeFile(const std::string& path)
{
  const std::string l = lower(path);
  for (const char* ext : { ".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd" })
    if (endsWith(l, ext))
      return true;
  return false;
}

/// nnU-Net channel suffix "_0000" -> channel number, or -1.
int channelOf(const std::string& stem)
{
  if (stem.size() < 6 || stem[stem.size() - 5] != '_')
    return -1;
  for (size_t i = stem.size() - 4; i < stem.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(stem[i])))
      return -1;
  return std::stoi(stem.substr(stem.size() - 4));
}

const std::set<std::string>& maskWords()
{
  static const std::set<std::string> w{ "seg",         "segmentation", "segmentations", "mask", "masks",
                                        "label",       "labels",       "labelmap",      "annotation",
                                        "annotations", "gt",           "groundtruth" };
  return w;
}

bool isMaskFolderName(const std::string& folderName)
{
  const std::string l = lower(folderName);
  return l.rfind("labels", 0) == 0 || l == "masks" || l == "segmentations" || l == "annotations";
}

/// Files that are neither images nor worth a line in the report.
bool isIgnoredFile(const std::string& path)
{
  const std::string name = lower(fs::path(path).filename().string());
  static const std::set<std::string> ext{ ".raw",  ".zraw", ".json", ".txt", ".md",  ".csv", ".tsv", ".pdf", ".py",
                                          ".sh",   ".pkl",  ".pth",  ".pt",  ".png", ".jpg", ".html", ".xml", ".log",
                                          ".yaml", ".yml",  ".zip", ".tar", ".ini" };
  if (name.empty() || name[0] == '.')
    return true;
  if (name == "sha256sums" || name == "license" || name == "readme" || name == "dicomdir")
    return true;
  return ext.count(fs::path(name).extension().string()) > 0;
}

std::string isoDate(const std::string& dicomDate)
{
  if (dicomDate.size() == 8 && std::all_of(dicomDate.begin(), dicomDate.end(), ::isdigit))
    return dicomDate.substr(0, 4) + "-" + dicomDate.substr(4, 2) + "-" + dicomDate.substr(6, 2);
  return dicomDate;
}

std::string tagOf(const Image& img, const char* name)
{
  const auto it = img.info.tags.find(name);
  return it == img.info.tags.end() ? std::string() : it->second;
}

/// Whole numbers 0..255 with few distinct values: a label map stored as an image.
bool looksLikeLabelMap(const Image& img)
{
  std::array<bool, 256> seen{};
  int distinct = 0;
  for (float v : img.voxels)
  {
    if (!(v >= 0.0f && v <= 255.0f) || v != std::floor(v))
      return false;
    if (!seen[size_t(v)])
    {
      seen[size_t(v)] = true;
      if (++distinct > 64)
        return false;
    }
  }
  return true;
}

/// Channel names of an nnU-Net raw dataset (dataset.json beside imagesTr), by channel number.
std::map<int, std::string> nnunetChannelNames(const fs::path& datasetRoot)
{
  std::map<int, std::string> out;
  QFile f(QString::fromStdString((datasetRoot / "dataset.json").string()));
  if (!f.open(QIODevice::ReadOnly))
    return out;
  const QJsonObject o = QJsonDocument::fromJson(f.readAll()).object();
  const QJsonObject names = o.contains("channel_names") ? o["channel_names"].toObject() : o["modality"].toObject();
  for (auto it = names.begin(); it != names.end(); ++it)
    out[it.key().toInt()] = it.value().toString().toStdString();
  return out;
}

/// The mask on `target`'s grid: unchanged when the grids agree, re-indexed (core/Reorient, never
/// resampled) when only the axis order or direction differs; nullopt with *why otherwise.
std::optional<LabelMask> onGrid(const LabelMask& mask, const Geometry& target, std::string* why, std::string* how)
{
  how->clear();
  std::string sameWhy;
  if (mask.geometry.sameGrid(target, &sameWhy))
    return mask;
  LabelMask out;
  if (reindexOntoGrid(mask, target, &out))
  {
    *how = "reoriented from " + mask.geometry.orientationCode() + " to the image's " + target.orientationCode() +
           " axes (re-indexed: same voxel centres, no resampling)";
    return out;
  }
  *why = sameWhy;
  return std::nullopt;
}

bool isUnder(const std::string& path, const std::string& folder)
{
  if (path == folder)
    return true;
  return path.size() > folder.size() && path.compare(0, folder.size(), folder) == 0 && path[folder.size()] == '/';
}

struct ImageItem
{
  std::string readPath; // what readImage is given: a file, a DICOM folder, or one file of its series
  std::string folder;   // the folder the image lives in
  bool dicom = false;
  int dicomFiles = 0;
  std::string caseName;
  std::string datasetRoot; // nnU-Net dataset folder, when in imagesTr/imagesTs
  int channel = -1;
  // after processing
  bool processed = false;
  bool failed = false;
  bool labelLike = false;
  int64_t seriesId = 0;
  Geometry geometry;
};

struct MaskItem
{
  std::string path;
  std::string folder;
  int pairedImage = -1; // index into images, from rules 1-2
  bool fromContent = false; // an "image" that turned out to be a label map
  Geometry geometry;        // known when fromContent
};

class Importer
{
public:
  Importer(StudyDatabase& db, const ImportOptions& options, const ImportProgressFn& progress)
    : m_db(db), m_options(options), m_progress(progress)
  {
  }

  ImportReport run(const std::vector<std::string>& paths)
  {
    QElapsedTimer timer;
    timer.start();
    for (const auto& p : paths)
    {
      if (cancelled())
        break;
      scan(p);
    }
    pairByName();
    m_total = int(m_images.size() + m_masks.size());
    for (size_t i = 0; i < m_images.size() && !cancelled(); ++i)
      importImage(m_images[i]);
    // Images that turned out to be label maps join the masks.
    m_total = int(m_images.size() + m_masks.size());
    for (size_t i = 0; i < m_masks.size() && !cancelled(); ++i)
      importMask(m_masks[i]);
    m_report.cancelled = m_cancelled;
    m_report.seconds = timer.nsecsElapsed() / 1e9;
    return m_report;
  }

private:
  bool cancelled()
  {
    if (m_options.cancel && m_options.cancel->load())
      m_cancelled = true;
    return m_cancelled;
  }

  bool tick(const std::string& path, const char* stage)
  {
    if (cancelled())
      return false;
    if (m_progress && !m_progress({ m_done, m_total, path, stage }))
      m_cancelled = true;
    return !m_cancelled;
  }

  void fail(const std::string& path, const std::string& reason) { m_report.failures.push_back({ path, reason }); }
  void skip(const std::string& path, const std::string& reason) { m_report.skipped.push_back({ path, reason }); }

  // ---- scanning -------------------------------------------------------------------------
  void scan(const std::string& input)
  {
    std::error_code ec;
    const fs::path p = fs::absolute(input, ec);
    const std::string path = p.lexically_normal().string();
    if (!fs::exists(p, ec))
    {
      fail(input, "file or folder not found");
      return;
    }
    if (fs::is_directory(p, ec))
    {
      const size_t before = m_images.size() + m_masks.size();
      // Folders in sorted order, so that series ids follow the paths whatever the file system.
      std::vector<std::string> folders{ path };
      for (auto it = fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      {
        if (!it->is_directory(ec))
          continue;
        if (it->path().filename().string().rfind('.', 0) == 0)
        {
          it.disable_recursion_pending(); // hidden folders (.git, a data folder's internals)
          continue;
        }
        folders.push_back(it->path().lexically_normal().string());
      }
      std::sort(folders.begin() + 1, folders.end());
      for (const auto& folder : folders)
      {
        if (!tick(folder, "scan"))
          return;
        scanFolder(folder);
      }
      if (ec)
        fail(path, "cannot read the folder completely: " + ec.message());
      if (m_images.size() + m_masks.size() == before)
        skip(path, "no images or DICOM series found");
      return;
    }
    // A single file: an image file, or one file of a DICOM series.
    if (isVolumeFile(path))
    {
      addFile(path);
      return;
    }
    const std::string folder = p.parent_path().string();
    for (const auto& s : listDicomSeriesSafe(folder))
      if (std::find(s.files.begin(), s.files.end(), path) != s.files.end())
      {
        addDicom(folder, s, true);
        return;
      }
    skip(path, "not an image PanSeg reads (NIfTI, NRRD, MetaImage or a DICOM image series)");
  }

  std::vector<DicomSeriesEntry> listDicomSeriesSafe(const std::string& folder)
  {
    try
    {
      return listDicomSeries(folder);
    }
    catch (const std::exception& e)
    {
      fail(folder, std::string("cannot list its DICOM series: ") + e.what());
      return {};
    }
  }

  void scanFolder(const std::string& folder)
  {
    if (!m_scannedFolders.insert(folder).second)
      return;
    const auto series = listDicomSeriesSafe(folder);
    std::set<std::string> dicomFiles;
    for (const auto& s : series)
    {
      for (const auto& f : s.files)
        dicomFiles.insert(fs::path(f).lexically_normal().string());
      addDicom(folder, s, series.size() == 1);
    }
    std::error_code ec;
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(folder, ec))
      if (e.is_regular_file(ec))
        files.push_back(e.path().lexically_normal().string());
    std::sort(files.begin(), files.end());
    for (const auto& f : files)
    {
      if (dicomFiles.count(f) || isIgnoredFile(f))
        continue;
      if (isVolumeFile(f))
        addFile(f);
      else
        skip(f, "not an image PanSeg reads, or a DICOM object that is not an image series (SEG, RTSTRUCT, "
                "report, single 2-D slice set without geometry)");
    }
  }

  void addDicom(const std::string& folder, const DicomSeriesEntry& s, bool onlySeriesInFolder)
  {
    ImageItem it;
    it.dicom = true;
    it.folder = folder;
    // A folder with one series is read as the folder; otherwise one of its files picks the series.
    it.readPath = onlySeriesInFolder ? folder : s.files.front();
    if (!m_seenImages.insert(it.readPath).second)
      return;
    it.dicomFiles = int(s.files.size());
    it.caseName = fs::path(folder).filename().string();
    m_images.push_back(it);
  }

  void addFile(const std::string& path)
  {
    if (!m_seenImages.insert(path).second)
      return;
    const fs::path p(path);
    if (isMaskNamed(path))
    {
      MaskItem m;
      m.path = path;
      m.folder = p.parent_path().string();
      m_masks.push_back(m);
      return;
    }
    ImageItem it;
    it.readPath = path;
    it.folder = p.parent_path().string();
    it.caseName = caseNameOf(path);
    it.channel = channelOf(stemOf(path));
    if (lower(p.parent_path().filename().string()).rfind("images", 0) == 0)
      it.datasetRoot = p.parent_path().parent_path().string();
    m_images.push_back(it);
  }

  /// Rules 1 and 2: nnU-Net folders and CASE_seg-style names.
  void pairByName()
  {
    std::map<std::pair<std::string, std::string>, int> byFolderAndStem; // (folder, stem) -> image
    for (size_t i = 0; i < m_images.size(); ++i)
      if (!m_images[i].dicom)
        byFolderAndStem[{ m_images[i].folder, lower(stemOf(m_images[i].readPath)) }] = int(i);
    auto find = [&](const std::string& folder, const std::string& stem) {
      auto it = byFolderAndStem.find({ folder, lower(stem) });
      if (it == byFolderAndStem.end())
        it = byFolderAndStem.find({ folder, lower(stem) + "_0000" });
      return it == byFolderAndStem.end() ? -1 : it->second;
    };
    for (auto& m : m_masks)
    {
      const fs::path p(m.path);
      const std::string stem = stemOf(m.path);
      const std::string folderName = p.parent_path().filename().string();
      if (lower(folderName).rfind("labels", 0) == 0)
      {
        const std::string imagesFolder =
          (p.parent_path().parent_path() / ("images" + folderName.substr(6))).lexically_normal().string();
        m.pairedImage = find(imagesFolder, stem);
        if (m.pairedImage >= 0)
          continue;
      }
      for (const char* suffix : { "seg", "mask", "label", "labels", "gt", "segmentation" })
      {
        const std::string l = lower(stem);
        for (char sep : { '_', '-', '.' })
        {
          const std::string tail = std::string(1, sep) + suffix;
          if (endsWith(l, tail))
          {
            m.pairedImage = find(m.folder, stem.substr(0, stem.size() - tail.size()));
            if (m.pairedImage >= 0)
              break;
          }
        }
        if (m.pairedImage >= 0)
          break;
      }
    }
  }

  // ---- images ---------------------------------------------------------------------------
  void importImage(ImageItem& item)
  {
    if (!tick(item.readPath, "image"))
      return;
    item.processed = true;
    Image img;
    try
    {
      ReadOptions read;
      read.acceptGaps = m_options.acceptGaps;
      img = readImage(item.readPath, [this](double) { return !cancelled(); }, read);
    }
    catch (const std::exception& e)
    {
      item.failed = true;
      if (!cancelled())
        fail(item.readPath, e.what());
      ++m_done;
      return;
    }
    item.geometry = img.geometry;
    if (!item.dicom && looksLikeLabelMap(img))
    {
      // A label map saved under an image-like name: try it as a mask of a neighbouring image.
      item.labelLike = true;
      MaskItem m;
      m.path = item.readPath;
      m.folder = item.folder;
      m.fromContent = true;
      m.geometry = img.geometry;
      m_masks.push_back(m);
      return; // counted when the mask is processed
    }
    try
    {
      const auto mn = std::min_element(img.voxels.begin(), img.voxels.end());
      std::vector<std::string> hints;
      if (item.channel >= 0 && !item.datasetRoot.empty())
      {
        const auto names = nnunetChannelNames(item.datasetRoot);
        if (auto it = names.find(item.channel); it != names.end())
          hints.push_back(it->second);
      }
      // The file (or DICOM folder) name, then the two folders above it.
      fs::path f = fs::path(item.readPath);
      for (int up = 0; up < 3 && !f.empty() && f != f.root_path(); ++up, f = f.parent_path())
        hints.push_back(f.filename().string());
      const ModalityGuess guess = detectModality(img.info, hints, img.voxels.empty() ? 0.0 : double(*mn));

      StudyDatabase::NewSeries s;
      const std::string patientId = tagOf(img, "PatientID");
      const std::string studyUid = tagOf(img, "StudyInstanceUID");
      if (item.dicom)
      {
        s.patientKey = patientId.empty() ? "dicom-folder:" + item.folder : "dicom:" + patientId;
        s.patientId = patientId;
        s.patientName = tagOf(img, "PatientName");
        if (s.patientName.empty() && patientId.empty())
          s.patientName = item.caseName;
        s.studyKey = !studyUid.empty() ? "dicom:" + studyUid
                                       : "derived:" + s.patientKey + "|" + tagOf(img, "StudyDate") + "|" +
                                           tagOf(img, "StudyTime");
      }
      else
      {
        // No tags: the case name (and where it lives) stands in for the patient, one study each.
        const std::string root = item.datasetRoot.empty() ? item.folder : item.datasetRoot;
        s.patientKey = "file:" + root + "|" + item.caseName;
        s.patientName = item.caseName;
        s.studyKey = s.patientKey;
      }
      s.studyInstanceUid = studyUid;
      s.studyDate = isoDate(tagOf(img, "StudyDate"));
      s.studyDescription = tagOf(img, "StudyDescription");
      s.seriesInstanceUid = tagOf(img, "SeriesInstanceUID");
      s.description = tagOf(img, "SeriesDescription");
      if (s.description.empty())
        s.description = item.dicom ? item.caseName : fs::path(item.readPath).filename().string();
      s.modality = guess.modality;
      s.modalitySource = guess.source;
      s.dicomModality = img.info.modality;
      s.center = !m_options.center.empty() ? m_options.center : tagOf(img, "InstitutionName");
      s.acquisitionDate = s.studyDate;
      s.geometry = img.geometry;
      s.format = img.info.format;
      s.sourcePath = item.readPath;
      s.contentHash = imageContentHash(img);
      s.fileCount = item.dicom ? img.info.dicomFileCount : 1;
      QJsonObject audit{ { "modality_reason", QString::fromStdString(guess.reason) } };
      if (!img.info.warnings.empty())
      {
        QJsonArray w;
        for (const auto& text : img.info.warnings)
          w.append(QString::fromStdString(text));
        audit["warnings"] = w;
      }
      s.auditDetails = QJsonDocument(audit).toJson(QJsonDocument::Compact).toStdString();
      const auto added = m_db.addSeries(s);
      item.seriesId = added.id;
      if (added.duplicate)
        m_report.duplicateSeries.push_back(
          { item.readPath, "same content as series " + std::to_string(added.id) + " already in the database" });
      else
      {
        m_report.importedSeries.push_back(added.id);
        for (const auto& text : img.info.warnings)
          m_report.flagged.push_back({ item.readPath, "series " + std::to_string(added.id) + ": " + text });
      }
    }
    catch (const std::exception& e)
    {
      item.failed = true;
      fail(item.readPath, e.what());
    }
    ++m_done;
  }

  // ---- masks ----------------------------------------------------------------------------
  /// Images a mask could belong to by rule 3: imported images in its folder or below.
  std::vector<int> candidatesFor(const MaskItem& m) const
  {
    std::vector<int> same, below;
    for (size_t i = 0; i < m_images.size(); ++i)
    {
      const ImageItem& im = m_images[i];
      if (im.seriesId == 0 || im.labelLike)
        continue;
      if (im.folder == m.folder)
        same.push_back(int(i));
      else if (isUnder(im.folder, m.folder))
        below.push_back(int(i));
    }
    same.insert(same.end(), below.begin(), below.end());
    return same;
  }

  void importMask(MaskItem& m)
  {
    if (!tick(m.path, "mask"))
      return;
    ++m_done;
    try
    {
      int target = -1;
      std::string note;
      LabelMask mask;
      if (m.pairedImage >= 0)
      {
        const ImageItem& im = m_images[size_t(m.pairedImage)];
        if (im.failed || im.seriesId == 0)
        {
          skip(m.path, "its image " + im.readPath + " could not be imported");
          return;
        }
        mask = readMask(m.path);
        std::string why, how;
        auto aligned = onGrid(mask, im.geometry, &why, &how);
        if (!aligned)
        {
          fail(m.path, "does not lie on the grid of its image " + im.readPath + ": " + why);
          return;
        }
        mask = std::move(*aligned);
        note = how;
        target = m.pairedImage;
      }
      else
      {
        const std::vector<int> candidates = candidatesFor(m);
        if (candidates.empty())
        {
          skip(m.path, m.fromContent ? "looks like a label map (whole numbers, few values) but there is no image "
                                       "beside it to attach it to"
                                     : "a label map with no image beside it to attach it to (name it like its "
                                       "image, e.g. case_seg.nii.gz beside case.nii.gz)");
          return;
        }
        if (m.fromContent)
        {
          // Only exact grids for these: the name gave no hint that it is a mask at all.
          std::vector<int> exact;
          for (int c : candidates)
            if (m.geometry.sameGrid(m_images[size_t(c)].geometry))
              exact.push_back(c);
          if (exact.empty())
          {
            skip(m.path, "looks like a label map but lies on the grid of none of the images beside it");
            return;
          }
          mask = readMask(m.path);
          target = pickOne(m, exact);
          if (target < 0)
            return;
        }
        else
        {
          mask = readMask(m.path);
          std::vector<int> exact, reoriented;
          for (int c : candidates)
          {
            if (mask.geometry.sameGrid(m_images[size_t(c)].geometry))
              exact.push_back(c);
            else if (reindexOntoGrid(mask, m_images[size_t(c)].geometry, nullptr))
              reoriented.push_back(c);
          }
          const std::vector<int>& pool = !exact.empty() ? exact : reoriented;
          if (pool.empty())
          {
            skip(m.path, "lies on the grid of none of the images beside it (" + mask.geometry.describe() + ")");
            return;
          }
          target = pickOne(m, pool);
          if (target < 0)
            return;
          if (exact.empty())
          {
            std::string why, how;
            auto aligned = onGrid(mask, m_images[size_t(target)].geometry, &why, &how);
            if (!aligned)
            {
              fail(m.path, why);
              return;
            }
            mask = std::move(*aligned);
            note = how;
          }
        }
      }
      const ImageItem& im = m_images[size_t(target)];
      const std::string hash = maskContentHash(mask);
      if (const auto existing = m_db.maskIdByContentHash(im.seriesId, hash))
      {
        m_report.duplicateMasks.push_back({ m.path, "same content as mask version " + std::to_string(*existing) +
                                                      " of series " + std::to_string(im.seriesId) });
        return;
      }
      MaskProvenance prov;
      prov.source = MaskSource::Import;
      prov.state = m_options.maskState;
      prov.importedFrom = m.path;
      prov.note = note;
      // The label table of a recognisable label set (core/display/LabelPresets.h), else the
      // defaults; always editable afterwards (Edit > Labels..., panseg db labels --preset).
      std::optional<LabelPreset> preset;
      prov.labelTable = labelTableForValues(mask.labels(), &preset);
      if (preset && *preset != LabelPreset::PanSeg)
        prov.note += std::string(prov.note.empty() ? "" : "; ") + "labels: " + presetTitle(*preset);
      m_report.importedMasks.push_back(m_db.saveMaskVersion(im.seriesId, mask, prov));
    }
    catch (const DuplicateMaskError& e)
    {
      // Another import of the same file committed it between our check and our transaction.
      m_report.duplicateMasks.push_back(
        { m.path, e.existingId ? "same content as mask version " + std::to_string(e.existingId) : std::string(e.what()) });
    }
    catch (const std::exception& e)
    {
      fail(m.path, e.what());
    }
  }

  /// Same-folder candidates win; more than one left is ambiguous.
  int pickOne(const MaskItem& m, const std::vector<int>& pool)
  {
    std::vector<int> same;
    for (int c : pool)
      if (m_images[size_t(c)].folder == m.folder)
        same.push_back(c);
    const std::vector<int>& choice = same.empty() ? pool : same;
    if (choice.size() == 1)
      return choice.front();
    std::string names;
    for (int c : choice)
      names += (names.empty() ? "" : ", ") + m_images[size_t(c)].readPath;
    skip(m.path, "lies on the grid of several images (" + names + "); name it after one of them (CASE_seg)");
    return -1;
  }

  StudyDatabase& m_db;
  ImportOptions m_options;
  ImportProgressFn m_progress;
  std::vector<ImageItem> m_images;
  std::vector<MaskItem> m_masks;
  std::set<std::string> m_scannedFolders;
  std::set<std::string> m_seenImages;
  ImportReport m_report;
  int m_done = 0;
  int m_total = 0;
  bool m_cancelled = false;
};
} // namespace

std::string caseNameOf(const std::string& path)
{
  std::string stem = stemOf(path);
  if (channelOf(stem) >= 0)
    stem = stem.substr(0, stem.size() - 5);
  return stem;
}

bool isMaskNamed(const std::string& path)
{
  const fs::path p(path);
  if (isMaskFolderName(p.parent_path().filename().string()))
    return true;
  for (const auto& w : nameWords(stemOf(path)))
    if (maskWords().count(w))
      return true;
  return false;
}

ImportReport importPaths(StudyDatabase& db, const std::vector<std::string>& paths, const ImportOptions& options,
                         const ImportProgressFn& progress)
{
  Importer importer(db, options, progress);
  return importer.run(paths);
}
} // namespace panseg::db
