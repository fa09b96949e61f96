#pragma once
// The models a user can choose for prediction: every package folder under the bundled search roots
// (models/ next to the executable, share/panseg/models, <app data>/models), the model versions of
// the study database's registry (with the modalities they are promoted for) and any extra folders
// (the remembered choice, $PANSEG_MODEL), one entry per folder, each with a one-line label for
// menus ("PNet-MSA demo (synthetic phantoms) v1 — PNet-MSA 2D + BiRNN · CT · fast on CPU · demo").
// Reading only model.json: nothing here loads or hashes weights (prediction checks those).
#include <QStringList>

#include <cstdint>
#include <string>
#include <vector>

namespace panseg::db
{
class StudyDatabase;

/// One model package of the catalog.
struct ModelCatalogEntry
{
  std::string dir;         // absolute package folder (as found; compare with sameModelDir)
  std::string modelId;     // registry id of the model (model.json "id", else the name as a slug)
  std::string name;        // model.json "name" (empty when unreadable)
  std::string version;     // model.json "version"
  std::string modelType;   // "pansegnet", "pnet-msa", ...
  std::string speedClass;  // "fast-cpu", "gpu", ... or empty
  std::string modality;    // "CT", "MR", ...
  std::string description;
  bool demo = false;
  int folds = 1;            // folds averaged at inference (nnU-Net v2 ensembles)
  bool bundled = false;     // found under one of the search roots
  int64_t registryId = 0;   // model_versions row with this folder, id and version; 0 = not registered
  std::vector<std::string> promotedFor; // modalities this registry row is the default for ("CT", ...)
  std::string error;        // why the folder is not a usable package; empty when it is
  std::string label;        // modelCatalogLabel(*this)

  bool usable() const { return error.empty(); }
  bool registered() const { return registryId > 0; }
};

/// "fast-cpu" -> "fast on CPU", "gpu" -> "GPU recommended", "" -> "", anything else unchanged.
std::string speedClassText(const std::string& speedClass);
/// "pansegnet" -> "PanSegNet 3D", "pnet-msa" -> "PNet-MSA 2D + BiRNN", "" -> "", else unchanged.
std::string modelTypeText(const std::string& modelType);
/// The one-line label of an entry: "NAME vVERSION — TYPE · MODALITY · SPEED · demo · default for CT"
/// (empty parts left out; the folder name when there is no name). An unusable entry:
/// "FOLDER — not a usable model package", or "ID vVERSION — registered, folder missing".
std::string modelCatalogLabel(const ModelCatalogEntry& entry);

/// Reads one package folder into an entry (not bundled, not registered); an unreadable folder
/// gives an entry with `error` set instead of throwing.
ModelCatalogEntry describeModelPackage(const std::string& dir);

/// The catalog, in this order: the package folders that are direct sub-folders of `searchRoots`
/// (root order, then by folder name; a sub-folder holding none of plans.json, model.json,
/// weights.json, weights.bin is not a package and is skipped, one holding some but unreadable is
/// listed with its error), then the registry's model versions whose folders were not listed yet
/// (when `db` is given; a folder that is gone is listed with the error "registered model ... was
/// moved or deleted"), then `extraPackages` not listed yet. One entry per folder (compared after
/// resolving links and "..", see sameModelDir). A registry row marks the entry of its folder when
/// its id and version match that folder's model.json. Errors of the registry itself do not throw:
/// they go to `registryError` (when given) and the rest is listed.
std::vector<ModelCatalogEntry> listModelPackages(const QStringList& searchRoots,
                                                 const StudyDatabase* db = nullptr,
                                                 const QStringList& extraPackages = {},
                                                 std::string* registryError = nullptr);

/// Whether two folder paths name the same folder (links and ".." resolved when they exist).
bool sameModelDir(const std::string& a, const std::string& b);
/// Index of the entry for folder `dir`, or -1.
int findModelCatalogEntry(const std::vector<ModelCatalogEntry>& entries, const std::string& dir);

/// Where bundled packages are looked for: <appDir>/models, <appDir>/../share/panseg/models (when a
/// QCoreApplication exists), <AppLocalDataLocation>/models and userModelsFolder() (imported models,
/// ModelImport.h); only those that exist, cleaned.
QStringList defaultModelSearchRoots();
} // namespace panseg::db
