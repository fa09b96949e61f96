#pragma once
// model.json, read once for everyone: the worker and the tools (ModelPackage.h, which adds the
// package's strict rules), and the study database (registry, catalog, plausibility limits, label
// names). Torch-free: part of panseg_model_format, which the GUI build links without LibTorch.
// Keys (models/README.md): format, id, name, version, model_type, modality, description,
// training_data, created, speed_class, demo, clinical_use, folds, weights.sha256, labels,
// label_colors; the blocks other code owns (metrics, lineage, plausibility) stay in `json`.
#include "models/Json.h"

#include <string>
#include <utility>
#include <vector>

namespace panseg::models
{
struct ModelCard
{
  json::Value json;         // the whole object, for the blocks their owners read
  std::string format;       // "panseg-model-1" or empty
  std::string id;           // "id"; empty when absent (see cardId)
  std::string name;
  std::string version;      // a number is kept as its shortest text ("2", "1.5")
  std::string modelType;    // "pansegnet", "pnet-msa", "nnunetv2"; empty when absent
  std::string modality;
  std::string description;
  std::string trainingData;
  std::string created;
  std::string speedClass;
  std::string weightsSha256; // lower case; empty when not recorded
  bool demo = false;
  bool hasClinicalUse = false;
  bool clinicalUse = false;
  int folds = 1;             // fold ensembles (v1 and v2); 1 when absent
  std::vector<std::pair<std::string, int>> labels;     // "labels" {name: value}, file order
  std::vector<std::pair<int, std::string>> labelColors; // "label_colors" {"value": "#rrggbb"}

  /// The registry id: "id", else the name as a slug ("PanSegNet CT" -> "pansegnet-ct").
  std::string cardId() const;
  /// A click-conditioned package (models/Guidance.h): model_type kClickModelType.
  bool takesClicks() const;
};

/// model_type of click-conditioned PanSegNet packages (models/Guidance.h, docs/interactive.md).
constexpr const char* kClickModelType = "pansegnet-clicks";

/// Reads `model` (already parsed); every key that is present must have its type (a string, a
/// boolean, an integer, 64 hex digits for weights.sha256, ...), absent keys keep the defaults.
/// Throws panseg::Error "WHERE: KEY: expected ..." naming the key. Required keys are the
/// caller's rule (ModelPackage: name, modality, model_type, clinical_use; the registry: version).
ModelCard parseModelCard(const json::Value& model, const std::string& where = "model.json");
/// Reads and parses the file; errors name the path.
ModelCard readModelCard(const std::string& path);

/// "PanSegNet CT" -> "pansegnet-ct" (lower-case letters and digits, single dashes).
std::string slug(const std::string& text);
/// The shortest text that reads back as `v` ("2", "0.1").
std::string shortestNumber(double v);
} // namespace panseg::models
