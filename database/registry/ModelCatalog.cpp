#include "database/registry/ModelCatalog.h"
#include "database/registry/ModelImport.h"

#include "database/jobs/FineTuning.h"
#include "database/registry/ModelRegistry.h"
#include "database/StudyDatabase.h"
#include "models/ModelCard.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <map>

namespace panseg::db
{
namespace
{
const char* const kDash = " \u2014 "; // em dash
const char* const kDot = " \u00b7 ";  // middle dot

/// The folder's path with links and ".." resolved when it exists, else absolute and cleaned.
QString canonicalDir(const std::string& dir)
{
  const QFileInfo fi(QString::fromStdString(dir));
  const QString canonical = fi.canonicalFilePath();
  return canonical.isEmpty() ? QDir::cleanPath(fi.absoluteFilePath()) : canonical;
}

bool hasAnyPackageFile(const QDir& d)
{
  for (const char* name : { "model.json", "plans.json", "weights.json", "weights.bin" })
    if (d.exists(QString::fromLatin1(name)))
      return true;
  return false;
}

std::string folderName(const std::string& dir)
{
  return QFileInfo(QDir::cleanPath(QString::fromStdString(dir))).fileName().toStdString();
}
} // namespace

std::string speedClassText(const std::string& speedClass)
{
  if (speedClass == "fast-cpu")
    return "fast on CPU";
  if (speedClass == "gpu")
    return "GPU recommended";
  return speedClass;
}

std::string modelTypeText(const std::string& modelType)
{
  if (modelType == "pansegnet")
    return "PanSegNet 3D";
  if (modelType == models::kClickModelType)
    return "PanSegNet 3D + clicks";
  if (modelType == "pnet-msa")
    return "PNet-MSA 2D + BiRNN";
  if (modelType == "nnunetv2")
    return "nnU-Net v2 3D";
  return modelType;
}

std::string modelCatalogLabel(const ModelCatalogEntry& e)
{
  if (!e.usable() && e.registered())
    return e.modelId + " v" + e.version + kDash + "registered, folder missing";
  if (!e.usable())
    return folderName(e.dir) + kDash + "not a usable model package";
  std::string head = e.name.empty() ? folderName(e.dir) : e.name;
  if (!e.version.empty())
    head += (e.version[0] == 'v' || e.version[0] == 'V' ? " " : " v") + e.version;
  std::vector<std::string> parts;
  for (const std::string& p : { modelTypeText(e.modelType), e.modality, speedClassText(e.speedClass) })
    if (!p.empty())
      parts.push_back(p);
  if (e.folds > 1)
    parts.push_back(std::to_string(e.folds) + " folds");
  if (e.demo)
    parts.push_back("demo");
  if (!e.promotedFor.empty())
  {
    std::string d = "default for ";
    for (size_t i = 0; i < e.promotedFor.size(); ++i)
      d += (i ? ", " : "") + e.promotedFor[i];
    parts.push_back(d);
  }
  std::string label = head;
  for (size_t i = 0; i < parts.size(); ++i)
    label += (i ? kDot : kDash) + parts[i];
  return label;
}

ModelCatalogEntry describeModelPackage(const std::string& dir)
{
  ModelCatalogEntry e;
  e.dir = QDir::cleanPath(QFileInfo(QString::fromStdString(dir)).absoluteFilePath()).toStdString();
  try
  {
    const ModelPackageInfo info = readModelPackageInfo(dir, /*hashFiles=*/false);
    e.dir = info.dir;
    e.modelId = info.modelId;
    e.name = info.name;
    e.version = info.version;
    e.modelType = info.modelType;
    e.speedClass = info.speedClass;
    e.folds = info.folds;
    e.modality = info.modality;
    e.description = info.description;
    e.demo = info.demo;
  }
  catch (const std::exception& ex)
  {
    e.error = ex.what();
  }
  e.label = modelCatalogLabel(e);
  return e;
}

bool sameModelDir(const std::string& a, const std::string& b)
{
  return !a.empty() && !b.empty() && canonicalDir(a) == canonicalDir(b);
}

int findModelCatalogEntry(const std::vector<ModelCatalogEntry>& entries, const std::string& dir)
{
  if (dir.empty())
    return -1;
  const QString wanted = canonicalDir(dir);
  for (size_t i = 0; i < entries.size(); ++i)
    if (canonicalDir(entries[i].dir) == wanted)
      return int(i);
  return -1;
}

std::vector<ModelCatalogEntry> listModelPackages(const QStringList& searchRoots, const StudyDatabase* db,
                                                 const QStringList& extraPackages, std::string* registryError)
{
  std::vector<ModelCatalogEntry> out;
  std::map<QString, size_t> byFolder; // canonical folder -> index in out
  auto add = [&](ModelCatalogEntry e) -> ModelCatalogEntry&
  {
    const QString key = canonicalDir(e.dir);
    const auto it = byFolder.find(key);
    if (it != byFolder.end())
      return out[it->second];
    byFolder.emplace(key, out.size());
    out.push_back(std::move(e));
    return out.back();
  };

  for (const QString& root : searchRoots)
  {
    const QDir r(root);
    if (root.isEmpty() || !r.exists())
      continue;
    for (const QString& sub : r.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name))
    {
      const QString path = r.filePath(sub);
      if (!hasAnyPackageFile(QDir(path)))
        continue;
      ModelCatalogEntry& e = add(describeModelPackage(path.toStdString()));
      e.bundled = true;
    }
  }

  if (db)
  {
    try
    {
      std::map<int64_t, std::vector<std::string>> promoted;
      for (const char* modality : { "CT", "MRI", "MRI-T1W", "MRI-T2W" })
        if (const auto id = defaultModelFor(*db, modality))
          promoted[*id].push_back(modality);
      for (const ModelVersion& m : db->modelVersions())
      {
        std::string folder;
        for (const ModelFile& f : m.files)
          if (std::filesystem::path(f.path).filename() == "model.json")
            folder = std::filesystem::path(f.path).parent_path().string();
        if (folder.empty() && !m.files.empty())
          folder = std::filesystem::path(m.files.front().path).parent_path().string();
        if (folder.empty())
          continue;
        const int known = findModelCatalogEntry(out, folder);
        ModelCatalogEntry* e = nullptr;
        if (known >= 0)
          e = &out[size_t(known)];
        else if (QFileInfo(QString::fromStdString(folder)).isDir())
          e = &add(describeModelPackage(folder));
        else
        {
          ModelCatalogEntry gone;
          gone.dir = folder;
          gone.modelId = m.modelId;
          gone.version = m.version;
          gone.error = "registered model " + m.modelId + " version " + m.version + " (registry id " +
                       std::to_string(m.id) + ") was moved or deleted: " + folder + " does not exist";
          e = &add(std::move(gone));
        }
        // A folder whose model.json now names another id or version is not this row any more.
        if (e->registryId > 0 || e->modelId != m.modelId || e->version != m.version)
          continue;
        e->registryId = m.id;
        const auto p = promoted.find(m.id);
        e->promotedFor = p == promoted.end() ? std::vector<std::string>() : p->second;
      }
    }
    catch (const std::exception& ex)
    {
      if (registryError)
        *registryError = ex.what();
    }
  }

  for (const QString& extra : extraPackages)
    if (!extra.isEmpty() && findModelCatalogEntry(out, extra.toStdString()) < 0)
      add(describeModelPackage(extra.toStdString()));

  for (ModelCatalogEntry& e : out)
    e.label = modelCatalogLabel(e);
  return out;
}

QStringList defaultModelSearchRoots()
{
  QStringList candidates;
  if (QCoreApplication::instance())
  {
    const QString appDir = QCoreApplication::applicationDirPath();
    candidates << appDir + "/models" << appDir + "/../share/panseg/models";
  }
  const QString data = QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation);
  if (!data.isEmpty())
    candidates << data + "/models";
  candidates << userModelsFolder(); // File > Import Model / panseg model import put packages here
  QStringList roots;
  for (const QString& c : candidates)
  {
    const QString clean = QDir::cleanPath(c);
    if (QFileInfo(clean).isDir() && !roots.contains(clean))
      roots << clean;
  }
  return roots;
}
} // namespace panseg::db
