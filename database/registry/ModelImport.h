#pragma once
// Importing a trained nnU-Net model into a model package and the registry: *File > Import Model*
// and `panseg model import` call this one service. The conversion itself (reading the pickled
// checkpoints, checking them against the plan, writing weights.bin) is `panseg-models
// import-nnunet` (models/, LibTorch), run as a child process: LibTorch stays out of the
// workstation (docs/architecture.md). Formats: docs/nnunet-models.md.
#include "database/StudyDatabase.h"

#include <QString>
#include <QStringList>

#include <atomic>
#include <functional>

namespace panseg::db
{
/// What the user brings: an nnU-Net v1 result folder (fold_N/model_final_checkpoint.model + .pkl,
/// plans.pkl), an nnU-Net v2 trained-model folder (dataset.json, plans.json,
/// fold_N/checkpoint_final.pth) or the zip nnUNetv2_export_model_to_zip writes.
struct ModelImportRequest
{
  QString source;
  QString outDir;        // empty: userModelsFolder()/<suggestedPackageName(source)>
  QString name;          // empty: the tool's default (the result folder's task / dataset)
  QString version = "1";
  QString modality;      // "CT", "MR" or empty (from the plans / dataset.json)
  QString folds;         // "0,2"; empty: every fold found (averaged at prediction)
  QString checkpoint;    // empty: model_final_checkpoint (v1) / checkpoint_final.pth (v2)
  bool force = false;    // replace an existing package folder
  bool registerModel = true; // add it to the registry of the database given to importModel
};

/// Which kind of source a path is: "nnU-Net v1 result folder", "nnU-Net v2 trained-model folder",
/// "nnU-Net v2 model zip"; throws panseg::Error naming what is missing otherwise (before any
/// child process starts).
QString describeModelSource(const QString& source, QString* resolved = nullptr);

struct ModelImportResult
{
  QString packageDir;   // absolute
  QStringList summary;  // what panseg-models printed (plan, folds, classes)
  QString modelId;      // model.json id and version of the package written
  QString version;
  QString modality;     // model.json modality ("CT", "MR")
  int folds = 1;
  qint64 modelVersionId = 0; // registry row; 0 when not registered
};

/// ~/.local/share/panseg/models ($XDG_DATA_HOME/panseg/models): where imported packages go by
/// default; Segmentation > Model lists it (defaultModelSearchRoots).
QString userModelsFolder();
/// A folder name for the package of `source`: `name` when given, else the dataset / task folder's
/// name (Dataset981_PancreasCTFixture, Task007_Pancreas) rather than the trainer folder's.
QString suggestedPackageName(const QString& source, const QString& name = {});
/// Where a request's package goes: its outDir, else userModelsFolder()/suggestedPackageName
/// (of the resolved source); absolute.
QString packageDirFor(const ModelImportRequest& request, const QString& resolvedSource);

/// Runs the import; `log` gets each line panseg-models prints. A `cancel` flag set meanwhile
/// stops the child (nothing is written: the package is assembled aside and renamed when
/// complete). With `registerIn` and `registerModel` the package is registered (an existing package
/// of the same id and version with other weights is refused, as `panseg db register-model`).
/// Throws panseg::Error with one line: the source is not a model, the destination exists, the
/// checkpoint does not fit the plan (panseg-models' own message, naming the file and the key).
ModelImportResult importModel(const ModelImportRequest& request, StudyDatabase* registerIn,
                              const std::function<void(const QString&)>& log = {},
                              const std::atomic<bool>* cancel = nullptr);
/// The registration step of importModel on its own, for callers that convert in another thread
/// (a database connection belongs to the thread that opened it): sets result.modelVersionId.
void registerImportedModel(ModelImportResult& result, StudyDatabase& db);
} // namespace panseg::db
