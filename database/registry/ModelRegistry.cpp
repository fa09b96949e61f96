#include "database/registry/ModelRegistry.h"

#include <algorithm>

#include "database/studies/Plausibility.h"

#include "core/Error.h"
#include "database/ContentHash.h"
#include "models/ModelCard.h"

#include <filesystem>

namespace panseg::db
{
namespace
{
const ModelFile* findFile(const std::vector<ModelFile>& files, const std::string& name)
{
  for (const auto& f : files)
    if (std::filesystem::path(f.path).filename() == name)
      return &f;
  return nullptr;
}
} // namespace

ModelPackageInfo readModelPackageInfo(const std::string& dirIn, bool hashFiles)
{
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dirIn, ec))
    throw Error("model package not found: " + dirIn + " is not a folder");
  ModelPackageInfo info;
  info.dir = fs::absolute(dirIn, ec).lexically_normal().string();
  if (!info.dir.empty() && info.dir.back() == '/')
    info.dir.pop_back();
  for (const char* name : { "model.json", "plans.json", "weights.json", "weights.bin" })
  {
    const fs::path p = fs::path(info.dir) / name;
    if (!fs::is_regular_file(p, ec))
      throw Error("model package " + info.dir + " has no " + name + " (a package needs plans.json, model.json, "
                  "weights.json and weights.bin)");
    info.files.push_back({ p.string(), hashFiles ? sha256OfFile(p.string()) : std::string() });
  }
  // The one model.json reader (models/ModelCard.h, shared with the worker): every key present
  // must have its type; the registry needs a version and an id (or a name to make one).
  const std::string path = info.dir + "/model.json";
  const models::ModelCard card = models::readModelCard(path);
  info.name = card.name;
  info.version = card.version;
  info.modelType = card.modelType;
  info.modality = card.modality;
  info.speedClass = card.speedClass;
  info.description = card.description;
  info.demo = card.demo;
  info.folds = card.folds;
  info.modelId = card.cardId();
  if (info.modelId.empty())
    info.modelId = models::slug(std::filesystem::path(info.dir).filename().string());
  // A bad "plausibility" block is refused here, where the package is first read.
  modelPlausibilityFromJson(card.json, path);
  if (info.version.empty())
    throw Error(info.dir + "/model.json has no \"version\"");
  if (info.modelId.empty())
    throw Error(info.dir + "/model.json has neither \"id\" nor \"name\"");
  return info;
}

int64_t registerModelPackage(StudyDatabase& db, const std::string& dir)
{
  const ModelPackageInfo info = readModelPackageInfo(dir);
  const ModelFile* weights = findFile(info.files, "weights.bin");
  for (const ModelVersion& m : db.modelVersions())
  {
    if (m.modelId != info.modelId || m.version != info.version)
      continue;
    const ModelFile* known = findFile(m.files, "weights.bin");
    if (known && weights && known->sha256 == weights->sha256)
      return m.id;
    throw Error("model '" + info.modelId + "' version '" + info.version +
                "' is already registered with other weights (" + (known ? known->sha256.substr(0, 12) : "none") +
                " vs " + (weights ? weights->sha256.substr(0, 12) : "none") +
                "); give the new package its own version in model.json");
  }
  ModelVersion mv;
  mv.modelId = info.modelId;
  mv.version = info.version;
  mv.files = info.files;
  mv.description = info.name + (info.demo ? " [demo, not for clinical use]" : "") +
                   (info.modality.empty() ? "" : " (" + info.modality + ")");
  return db.registerModelVersion(mv);
}
} // namespace panseg::db
