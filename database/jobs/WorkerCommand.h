#pragma once
// The prediction worker's command line (panseg-worker predict, models/tools/panseg_worker.cpp):
// what the GUI's worker client and the training-job engine's evaluation both start.
#include <QJsonObject>
#include <QString>
#include <QStringList>

namespace panseg::db
{
/// What to predict (the worker's `predict` options).
struct PredictRequest
{
  QString modelDir;
  QString inputPath;  // image file or DICOM folder
  QString outputPath; // mask file (.nii.gz, .nii, .nrrd, .mha), written atomically
  QString device = QStringLiteral("auto"); // auto, cpu, cuda, cuda:N
  bool tta = true;
  double step = 0.0;  // 0: the package's (0.5)
  bool fast = false;  // no TTA, step 1.0
  int threads = 0;    // 0: all cores
  QString probabilitiesPath; // optional foreground probability map
  QString roi;               // box prompt "x0,y0,z0,x1,y1,z1" (inclusive voxel corners); empty: whole image
  double roiMarginMm = -1;   // context around the box in mm; < 0: the worker's default (10 mm)
  bool strictModality = false; // a model/image modality mismatch fails instead of a note
  int batch = 0;             // > 0: network calls of N patches (8 = the mirrors of a window); not bit-exact
  int streams = 0;           // > 0: network calls at once (worker default 2, bit-exact)
  bool bf16 = false;         // CPU bfloat16 autocast (AVX512-BF16 / AMX); not bit-exact
  QStringList extraArguments;
};

/// The CPU speed settings users choose from (Segmentation > CPU Speed; `panseg predict --batch 8
/// [--bf16]`), measured in docs/performance.md: Exact = the authors' results bit for bit;
/// BatchMirrors = the 8 mirrors of a window in one call (about 2x faster, same masks, probabilities
/// within 1e-5); Bf16 = that plus bfloat16 autocast (about 2x more on CPUs with AVX512-BF16 / AMX;
/// voxels within 0.01 of a tie may change).
enum class CpuSpeed
{
  Exact = 0,
  BatchMirrors = 1,
  Bf16 = 2,
};
void applyCpuSpeed(PredictRequest& request, CpuSpeed speed);
/// "exact", "batch", "bf16" (settings); parseCpuSpeed returns Exact for anything else.
QString to_string(CpuSpeed speed);
CpuSpeed parseCpuSpeed(const QString& text);

/// The worker's arguments for a request (after the executable).
QStringList workerPredictArguments(const PredictRequest& request);

/// The pancreas volume of a prediction, from the worker's "done" event ("label_voxels",
/// "voxel_ml", "volume_ml", "voxels"): the label the package's label table names as the pancreas
/// when it names other structures too (label 7 of a TotalSegmentator v2 map, not all 117), else
/// every non-zero label (a pancreas model, pancreas + lesions). `panseg predict` and the GUI's
/// Predict Pancreas report this number.
struct PredictedVolume
{
  double ml = 0;
  qint64 voxels = 0;
  int label = 0;        // 0 = every non-zero label
  QString labelName;    // the table's name of `label`
  int labelCount = 0;   // labels the package declares
  double allLabelsMl = 0;
  /// "" for label 0, else `label 7 "pancreas" of 117 labels; all labels 1234.56 mL`.
  QString note() const;
};
PredictedVolume predictedPancreasVolume(const QJsonObject& done, const QString& packageDir);
} // namespace panseg::db
