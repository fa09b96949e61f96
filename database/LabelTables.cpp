#include "database/LabelTables.h"

#include "core/Error.h"
#include "models/ModelCard.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cctype>
#include <filesystem>
#include <optional>
#include <tuple>

namespace panseg::db
{
namespace
{
QJsonObject codeJson(const LabelCode& c)
{
  return QJsonObject{ { "code", QString::fromStdString(c.value) },
                      { "scheme", QString::fromStdString(c.scheme) },
                      { "meaning", QString::fromStdString(c.meaning) } };
}

LabelCode codeFrom(const QJsonValue& v)
{
  const QJsonObject o = v.toObject();
  return { o.value("code").toString().toStdString(), o.value("scheme").toString().toStdString(),
           o.value("meaning").toString().toStdString() };
}

std::string displayName(std::string name)
{
  if (!name.empty())
    name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
  return name;
}

void declare(LabelTable& table, int value, const std::string& name, const std::string& where)
{
  if (value == 0)
    return; // background
  if (value < 1 || value > 255)
    throw Error(where + ": label " + std::to_string(value) + " is outside 0..255");
  if (name.empty())
    throw Error(where + ": label " + std::to_string(value) + " has no name");
  LabelInfo info = LabelTable::defaultLabel(value);
  info.name = displayName(name);
  std::tie(info.category, info.type) = LabelTable::knownCodes(name);
  table.set(info);
}
} // namespace

std::string labelTableToJson(const LabelTable& table)
{
  QJsonArray a;
  for (const LabelInfo& l : table.entries())
    a.append(QJsonObject{ { "value", l.value },
                          { "name", QString::fromStdString(l.name) },
                          { "color", QString::fromStdString(hexColor(l.color)) },
                          { "category", codeJson(l.category) },
                          { "type", codeJson(l.type) } });
  return QJsonDocument(a).toJson(QJsonDocument::Compact).toStdString();
}

LabelTable labelTableFromJson(const std::string& json, const std::string& where)
{
  QJsonParseError err{};
  const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(json), &err);
  if (err.error != QJsonParseError::NoError || !doc.isArray())
    throw Error(where + ": not a JSON array of labels");
  LabelTable t;
  for (const QJsonValue& v : doc.array())
  {
    const QJsonObject o = v.toObject();
    LabelInfo l;
    l.value = o.value("value").toInt(-1);
    l.name = o.value("name").toString().toStdString();
    const auto color = parseHexColor(o.value("color").toString().toStdString());
    if (!color)
      throw Error(where + ": label " + std::to_string(l.value) + " has no colour #rrggbb");
    l.color = *color;
    l.category = codeFrom(o.value("category"));
    l.type = codeFrom(o.value("type"));
    try
    {
      t.set(l);
    }
    catch (const Error& e)
    {
      throw Error(where + ": " + e.what());
    }
  }
  return t;
}

LabelTable labelTableOfModelPackage(const std::string& packageDir)
{
  const std::filesystem::path dir(packageDir);
  // Only what the package declares: a model whose pancreas is 7 must not also get the defaults'
  // "1 = Pancreas" (its label 1 is another structure, or nothing). None declared: the defaults.
  LabelTable table;
  const std::string plansPath = (dir / "plans.json").string();
  if (std::filesystem::exists(plansPath))
  {
    using models::json::Value;
    const Value plans = models::json::parseFile(plansPath);
    // PanSegNet / PNet-MSA plans: "classes" [{"label": 1, "name": "pancreas"}].
    if (const Value* classes = plans.find("classes"); classes && classes->isArray())
      for (const Value& c : classes->array)
      {
        const Value* label = c.find("label");
        const Value* name = c.find("name");
        declare(table, label && label->isNumber() ? static_cast<int>(label->number) : -1,
                name && name->isString() ? name->string : std::string(), plansPath);
      }
    // nnU-Net v2 packages keep dataset.json verbatim in plans.json: its "labels" {name: value}.
    if (const Value* ds = plans.find("dataset_json"); ds && ds->isObject())
      if (const Value* labels = ds->find("labels"); labels && labels->isObject())
        for (const auto& [name, value] : labels->object)
          if (value.isNumber())
            declare(table, static_cast<int>(value.number), name, plansPath);
  }
  const std::string modelPath = (dir / "model.json").string();
  if (std::filesystem::exists(modelPath))
  {
    // model.json through the one reader (models/ModelCard.h): "labels" {name: value} as nnU-Net's
    // dataset.json writes them, "label_colors" {"value": "#rrggbb"}.
    const models::ModelCard card = models::readModelCard(modelPath);
    for (const auto& [name, value] : card.labels)
      declare(table, value, name, modelPath);
    for (const auto& [value, color] : card.labelColors)
    {
      const auto rgb = parseHexColor(color);
      if (!rgb)
        throw Error(modelPath + ": label_colors." + std::to_string(value) + " must map 1..255 to #rrggbb");
      LabelInfo info = table.label(value);
      info.color = *rgb;
      table.set(info);
    }
  }
  return table.empty() ? LabelTable::defaults() : table;
}
} // namespace panseg::db
