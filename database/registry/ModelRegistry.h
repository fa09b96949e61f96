#pragma once
// Model packages (models/ModelPackage.h: plans.json, model.json, weights.bin, weights.json) as rows
// of the study database's model registry. Reading model.json needs no LibTorch: this layer only
// identifies a package (id, version, file hashes); running it is the worker's job.
#include "database/StudyDatabase.h"

#include <string>
#include <vector>

namespace panseg::db
{
/// What the registry records about a package folder.
struct ModelPackageInfo
{
  std::string dir;          // absolute
  std::string modelId;      // model.json "id", else the name turned into a slug
  std::string version;      // model.json "version"
  std::string name;         // model.json "name"
  std::string modelType;    // "pansegnet", "pnet-msa", ...
  std::string modality;     // "CT", "MR", ...
  std::string speedClass;   // model.json "speed_class" ("fast-cpu", "gpu", ...); empty when absent
  std::string description;
  bool demo = false;        // model.json "demo" (not for clinical use)
  int folds = 1;            // model.json "folds" (nnU-Net v2 fold ensembles; 1 when absent)
  std::vector<ModelFile> files; // the package's files with their SHA-256
};

/// Reads DIR/model.json and hashes the package files. Throws panseg::Error naming the problem
/// (not a folder, missing file, model.json not JSON, no version). `hashFiles` false: the files are
/// checked and listed with an empty SHA-256 (cheap; for listing packages, not for registering).
ModelPackageInfo readModelPackageInfo(const std::string& dir, bool hashFiles = true);

/// The registry id of the package: the existing row when (id, version) is registered with the same
/// weights, a new row otherwise (audited by StudyDatabase). Throws when (id, version) is already
/// registered with other weights: versions are immutable, like mask versions.
int64_t registerModelPackage(StudyDatabase& db, const std::string& dir);
} // namespace panseg::db
