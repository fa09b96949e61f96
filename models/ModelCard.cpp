#include "models/ModelCard.h"

#include "core/Error.h"
#include "models/Sha256.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace panseg::models
{
std::string shortestNumber(double v)
{
  if (std::isfinite(v) && v == std::floor(v) && std::abs(v) < 1e15)
    return std::to_string(static_cast<long long>(v));
  char buf[40];
  for (int precision : { 15, 16, 17 }) // shortest text that reads back as the same double
  {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v)
      break;
  }
  return buf;
}

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

bool ModelCard::takesClicks() const
{
  return modelType == kClickModelType;
}

std::string ModelCard::cardId() const { return id.empty() ? slug(name) : id; }

ModelCard parseModelCard(const json::Value& model, const std::string& where)
{
  if (!model.isObject())
    throw Error(where + ": expected a JSON object");
  ModelCard c;
  c.json = model;
  auto text = [&](const char* key, std::string& out)
  {
    if (const auto* v = model.find(key); v && !v->isNull())
      out = v->asString(where + ": " + key);
  };
  text("format", c.format);
  text("id", c.id);
  text("name", c.name);
  if (const auto* v = model.find("version"); v && !v->isNull())
    c.version = v->isNumber() ? shortestNumber(v->number) : v->asString(where + ": version");
  text("model_type", c.modelType);
  text("modality", c.modality);
  text("description", c.description);
  text("training_data", c.trainingData);
  text("created", c.created);
  text("speed_class", c.speedClass);
  if (const auto* v = model.find("demo"); v && !v->isNull())
    c.demo = v->asBool(where + ": demo");
  if (const auto* v = model.find("clinical_use"); v && !v->isNull())
  {
    c.clinicalUse = v->asBool(where + ": clinical_use");
    c.hasClinicalUse = true;
  }
  if (const auto* v = model.find("folds"); v && !v->isNull())
  {
    const std::int64_t n = v->asInt(where + ": folds");
    if (n < 1 || n > 1000)
      throw Error(where + ": folds must be a fold count of at least 1, found " + std::to_string(n));
    c.folds = static_cast<int>(n);
  }
  if (const auto* w = model.find("weights"); w && w->isObject())
    if (const auto* v = w->find("sha256"); v && !v->isNull())
    {
      c.weightsSha256 = v->asString(where + ": weights.sha256");
      if (!looksLikeSha256(c.weightsSha256))
        throw Error(where + ": weights.sha256 must be 64 hexadecimal digits, found \"" + c.weightsSha256 + "\"");
      std::transform(c.weightsSha256.begin(), c.weightsSha256.end(), c.weightsSha256.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    }
  if (const auto* v = model.find("labels"); v && !v->isNull())
  {
    if (!v->isObject())
      throw Error(where + ": \"labels\" must be an object {\"name\": value}");
    for (const auto& [name, value] : v->object)
    {
      if (!value.isNumber())
        throw Error(where + ": labels." + name + " must be a label value");
      c.labels.emplace_back(name, static_cast<int>(value.asInt(where + ": labels." + name)));
    }
  }
  if (const auto* v = model.find("label_colors"); v && !v->isNull())
  {
    if (!v->isObject())
      throw Error(where + ": \"label_colors\" must be an object {\"value\": \"#rrggbb\"}");
    for (const auto& [key, value] : v->object)
    {
      char* end = nullptr;
      const long n = std::strtol(key.c_str(), &end, 10);
      if (key.empty() || *end != '\0' || n < 1 || n > 255 || !value.isString())
        throw Error(where + ": label_colors." + key + " must map 1..255 to #rrggbb");
      c.labelColors.emplace_back(static_cast<int>(n), value.string);
    }
  }
  return c;
}

ModelCard readModelCard(const std::string& path) { return parseModelCard(json::parseFile(path), path); }
} // namespace panseg::models
