#include "database/registry/ModelRegistry.h"

#include <algorithm>

#include "database/studies/Plausibility.h"

#include "core/Error.h"
#include "database/ContentHash.h"

#include <QByteArray>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>

#include <cctype>
#include <filesystem>

namespace panseg::db
{
namespace
{
std::string slug(const std::string& text)
{
  std::string out;
  for (const char c : text)
  {
    if (std::isalnum(static_cast<unsigned char>(c)))
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    else if (!out.empty() && out.back() != '-')
      out += '-';
  }
  while (!out.empty() && out.back() == '-')
    out.pop_back();
  return out;
}

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
  QFile f(QString::fromStdString(info.dir + "/model.json"));
  if (!f.open(QIODevice::ReadOnly))
    throw Error("cannot read " + info.dir + "/model.json: " + f.errorString().toStdString());
  QJsonParseError perr;
  const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &perr);
  if (doc.isNull() || !doc.isObject())
    throw Error(info.dir + "/model.json is not a JSON object" +
                (perr.error != QJsonParseError::NoError ? ": " + perr.errorString().toStdString() : std::string()));
  const QJsonObject o = doc.object();
  auto text = [&](const char* key)
  {
    const QJsonValue v = o.value(key);
    return v.isString() ? v.toString().toStdString() : v.isDouble() ? QString::number(v.toDouble()).toStdString()
                                                                   : std::string();
  };
  info.name = text("name");
  info.version = text("version");
  info.modelType = text("model_type");
  info.modality = text("modality");
  info.speedClass = text("speed_class");
  info.description = text("description");
  info.demo = o.value("demo").toBool(false);
  info.folds = std::max(1, o.value("folds").toInt(1));
  info.modelId = text("id");
  if (info.modelId.empty())
    info.modelId = slug(info.name);
  if (info.modelId.empty())
    info.modelId = slug(std::filesystem::path(info.dir).filename().string());
  // A bad "plausibility" block is refused here, where the package is first read.
  modelPlausibilityFromJson(o, info.dir + "/model.json");
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
