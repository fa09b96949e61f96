#include "database/studies/Plausibility.h"
#include "database/QtText.h"

#include "database/StudyDatabase.h"
#include "models/ModelCard.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>

#include <cmath>
#include <filesystem>
#include <set>

namespace panseg::db
{
namespace
{
std::string nowUtc() { return QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs).toStdString(); }

using models::json::Value;

double numberOf(const Value& o, const char* key, double fallback, const std::string& where)
{
  const Value* v = o.find(key);
  if (!v)
    return fallback;
  if (!v->isNumber() || !std::isfinite(v->number))
    throw Error(where + ": plausibility." + key + " must be a number");
  return v->number;
}

bool boolOf(const Value& o, const char* key, bool fallback, const std::string& where)
{
  const Value* v = o.find(key);
  if (!v)
    return fallback;
  if (!v->isBool())
    throw Error(where + ": plausibility." + key + " must be true or false");
  return v->boolean;
}

int wholeOf(const Value& o, const char* key, int fallback, const std::string& where)
{
  const double v = numberOf(o, key, fallback, where);
  if (v != std::floor(v) || std::abs(v) > 1e6)
    throw Error(where + ": plausibility." + key + " must be a whole number");
  return int(v);
}
} // namespace

ModelPlausibility modelPlausibilityFromJson(const models::json::Value& modelJson, const std::string& where)
{
  ModelPlausibility out;
  const Value* block = modelJson.find("plausibility");
  if (!block || block->isNull())
    return out;
  if (!block->isObject())
    throw Error(where + ": \"plausibility\" must be an object (min_volume_ml, max_volume_ml, ...)");
  const Value& o = *block;
  static const std::set<std::string> known = { "min_volume_ml", "max_volume_ml", "max_components",
                                           "min_two_largest_share", "border_margin", "flag_border_contact",
                                           "flag_partial_coverage", "training_volume_ml", "label", "note" };
  for (const auto& [key, value] : o.object)
    if (!known.count(key))
      throw Error(where + ": unknown key plausibility." + key +
                  " (known: min_volume_ml, max_volume_ml, max_components, min_two_largest_share, border_margin, "
                  "flag_border_contact, flag_partial_coverage, training_volume_ml, label, note)");
  PlausibilityLimits& l = out.limits;
  l.minVolumeMl = numberOf(o, "min_volume_ml", l.minVolumeMl, where);
  l.maxVolumeMl = numberOf(o, "max_volume_ml", l.maxVolumeMl, where);
  l.maxComponents = wholeOf(o, "max_components", l.maxComponents, where);
  l.minMainShare = numberOf(o, "min_two_largest_share", l.minMainShare, where);
  l.borderMargin = numberOf(o, "border_margin", l.borderMargin, where);
  l.flagBorderContact = boolOf(o, "flag_border_contact", l.flagBorderContact, where);
  l.flagPartialCoverage = boolOf(o, "flag_partial_coverage", l.flagPartialCoverage, where);
  if (const Value* range = o.find("training_volume_ml"))
  {
    if (!range->isArray() || range->array.size() != 2 || !range->array[0].isNumber() || !range->array[1].isNumber())
      throw Error(where + ": plausibility.training_volume_ml must be [min, max] in mL");
    l.trainingVolumeMl = std::array<double, 2>{ range->array[0].number, range->array[1].number };
  }
  out.label = wholeOf(o, "label", 0, where);
  if (out.label < 0 || out.label > 255)
    throw Error(where + ": plausibility.label must be 0..255 (0 = any non-zero label), not " +
                std::to_string(out.label));
  l.source = "model.json (" + where + ")";
  l.validate(where);
  return out;
}

ModelPlausibility modelPlausibilityOfPackage(const std::string& packageDir)
{
  const std::string path = (std::filesystem::path(packageDir) / "model.json").string();
  return modelPlausibilityFromJson(models::readModelCard(path).json, path);
}

ModelPlausibility modelPlausibilityOfModelVersion(const StudyDatabase& db, int64_t modelVersionId)
{
  ModelPlausibility out;
  if (modelVersionId <= 0)
    return out;
  for (const ModelVersion& m : db.modelVersions())
  {
    if (m.id != modelVersionId)
      continue;
    for (const ModelFile& f : m.files)
    {
      if (std::filesystem::path(f.path).filename() != "model.json")
        continue;
      std::error_code ec;
      if (!std::filesystem::is_regular_file(f.path, ec))
      {
        out.limits.source = "defaults (" + f.path + " of model " + m.modelId + " " + m.version + " is gone)";
        return out;
      }
      return modelPlausibilityOfPackage(std::filesystem::path(f.path).parent_path().string());
    }
    out.limits.source = "defaults (model " + m.modelId + " " + m.version + " lists no model.json)";
    return out;
  }
  return out;
}

MaskPlausibility toRecord(const PlausibilityReport& r, const std::string& checkedAt)
{
  MaskPlausibility p;
  p.checked = true;
  p.flagged = r.flagged();
  p.summary = r.summary();
  p.limitsSource = r.limits.source;
  p.checkedAt = checkedAt;
  QJsonArray messages;
  for (const PlausibilityFinding& f : r.findings)
  {
    p.findings.push_back(f.code);
    messages.append(QJsonObject{ { "code", qs(f.code) }, { "message", qs(f.message) } });
  }
  QJsonObject limits{ { "min_volume_ml", r.limits.minVolumeMl },
                      { "max_volume_ml", r.limits.maxVolumeMl },
                      { "max_components", r.limits.maxComponents },
                      { "min_two_largest_share", r.limits.minMainShare },
                      { "border_margin", r.limits.borderMargin },
                      { "flag_border_contact", r.limits.flagBorderContact },
                      { "flag_partial_coverage", r.limits.flagPartialCoverage } };
  if (r.limits.trainingVolumeMl)
    limits["training_volume_ml"] = QJsonArray{ (*r.limits.trainingVolumeMl)[0], (*r.limits.trainingVolumeMl)[1] };
  const QJsonObject details{
    { "label", r.label },
    { "voxels", qint64(r.voxels) },
    { "volume_ml", r.volumeMl },
    { "components", r.components },
    { "largest_share", r.largestShare },
    { "two_largest_share", r.mainShare },
    { "centroid_relative",
      QJsonArray{ r.centroidRelative[0], r.centroidRelative[1], r.centroidRelative[2] } },
    { "head_foot_axis", r.headFootAxis },
    { "findings", messages },
    { "limits", limits },
  };
  p.detailsJson = QJsonDocument(details).toJson(QJsonDocument::Compact).toStdString();
  return p;
}

MaskPlausibility plausibilityOf(const StudyDatabase& db, const MaskVersion& version)
{
  if (version.plausibility.checked)
    return version.plausibility;
  const ModelPlausibility limits = modelPlausibilityOfModelVersion(db, version.modelVersionId);
  return toRecord(assessPlausibility(db.loadMask(version.id), limits.label, limits.limits), nowUtc());
}

MaskPlausibility plausibilityOf(const StudyDatabase& db, int64_t maskVersionId)
{
  const auto m = db.maskVersion(maskVersionId);
  if (!m)
    throw Error("no mask version " + std::to_string(maskVersionId) + " in " + db.dataFolder());
  return plausibilityOf(db, *m);
}

std::string plausibilityLine(const MaskPlausibility& p)
{
  if (!p.checked)
    return "not checked";
  return p.flagged ? "implausible: " + p.summary : "plausible";
}
} // namespace panseg::db
