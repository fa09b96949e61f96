#include "database/LabelTables.h"

#include "core/Error.h"

#include <QFile>
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

std::optional<QJsonObject> readJsonObject(const std::string& path)
{
  QFile f(QString::fromStdString(path));
  if (!f.exists())
    return std::nullopt;
  if (!f.open(QIODevice::ReadOnly))
    throw Error("cannot read " + path);
  QJsonParseError err{};
  const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &err);
  if (err.error != QJsonParseError::NoError || !doc.isObject())
    throw Error(path + ": not a JSON object");
  return doc.object();
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
  if (const auto plans = readJsonObject(plansPath); plans && plans->contains("classes"))
  {
    for (const QJsonValue& c : plans->value("classes").toArray())
    {
      const QJsonObject o = c.toObject();
      declare(table, o.value("label").toInt(-1), o.value("name").toString().toStdString(), plansPath);
    }
  }
  // nnU-Net v2 packages keep dataset.json verbatim in plans.json: its "labels" {name: value}.
  if (const auto plans = readJsonObject(plansPath); plans && plans->value("dataset_json").isObject())
  {
    const QJsonObject labels = plans->value("dataset_json").toObject().value("labels").toObject();
    for (auto it = labels.begin(); it != labels.end(); ++it)
      if (it.value().isDouble())
        declare(table, it.value().toInt(), it.key().toStdString(), plansPath);
  }
  const std::string modelPath = (dir / "model.json").string();
  if (const auto model = readJsonObject(modelPath))
  {
    const QJsonValue labels = model->value("labels");
    if (labels.isObject()) // nnU-Net dataset.json style: name -> value
    {
      const QJsonObject o = labels.toObject();
      for (auto it = o.begin(); it != o.end(); ++it)
      {
        if (!it.value().isDouble())
          throw Error(modelPath + ": labels." + it.key().toStdString() + " must be a label value");
        declare(table, it.value().toInt(), it.key().toStdString(), modelPath);
      }
    }
    else if (!labels.isUndefined())
      throw Error(modelPath + ": \"labels\" must be an object {\"name\": value}");
    const QJsonObject colors = model->value("label_colors").toObject();
    for (auto it = colors.begin(); it != colors.end(); ++it)
    {
      bool ok = false;
      const int value = it.key().toInt(&ok);
      const auto rgb = parseHexColor(it.value().toString().toStdString());
      if (!ok || value < 1 || value > 255 || !rgb)
        throw Error(modelPath + ": label_colors." + it.key().toStdString() + " must map 1..255 to #rrggbb");
      LabelInfo info = table.label(value);
      info.color = *rgb;
      table.set(info);
    }
  }
  return table.empty() ? LabelTable::defaults() : table;
}
} // namespace panseg::db
