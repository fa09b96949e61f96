#pragma once
// The training-job engine (docs/fine-tuning.md): a fine-tuning job planned from the approved
// masks of the study database, panseg-train run as a child process with its progress recorded
// in the job row, the new model evaluated against its base on the held-out cases through
// panseg-worker, and the result registered with its lineage. `panseg train`, `panseg model
// evaluate` and the GUI's Fine-tune dialog (which starts `panseg train`) all come here; app/
// only parses options and prints.
#include "database/jobs/FineTuning.h"
#include "database/StudyDatabase.h"
#include "database/jobs/HelperProcess.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace panseg::db
{
/// Where the engine tells a person what it does, a line at a time; an empty function: quiet.
using JobLog = std::function<void(const std::string&)>;

// ---- evaluation --------------------------------------------------------------------------------
/// A case of a panseg-train data folder (pairs CASE.nii.gz + CASE_seg.nii.gz, or the nnU-Net
/// layout imagesTr/CASE_0000 + labelsTr/CASE) and the series it came from (0 when unknown).
struct EvaluationCase
{
  QString caseId;
  QString image, truth;
  qint64 seriesId = 0;
};
std::optional<EvaluationCase> findEvaluationCase(const QString& dataDir, const QString& caseId);
/// The validation case ids a trained package's model.json records (its lineage).
QStringList validationCases(const QString& packageDir);
/// Predicts every case with both models through panseg-worker (no TTA, step 1.0, identical for
/// both), compares with the reference masks (any non-zero label), writes eval.json + eval.csv
/// into outDir and logs a table. Returns the summary that goes into the new model's lineage.
QJsonObject evaluateModels(const QString& baseDir, const QString& newDir, const std::vector<EvaluationCase>& cases,
                           const QString& outDir, const QString& device, const JobLog& log);

// ---- jobs --------------------------------------------------------------------------------------
/// Everything a training job needs, kept in its params (so that a resumed job rebuilds it).
struct TrainingJobPlan
{
  int64_t jobId = 0;
  QJsonObject params;
  QString dataDir, outDir, baseDir, version, device;
  int64_t baseId = 0;
  std::vector<TrainingCase> cases;
  bool evaluate = true;
};

/// What a new training job is asked to do.
struct NewTrainingJob
{
  int64_t baseId = 0; // registry id of the base model (0: from scratch)
  QString baseDir;    // its package folder
  CaseSelection selection;
  QString outDir;              // the new package's folder: must not exist or be empty
  QJsonArray trainerSettings;  // options passed to panseg-train unchanged
  QString modelType = QStringLiteral("pansegnet");
  QString version;             // empty: BASE-ftJOB
  QString device = QStringLiteral("cpu");
  bool evaluate = true;        // against the base model on the held-out cases
  QString trainer;             // recorded in the params
};

/// Selects the approved cases (throws before any job exists when there are none, or when the
/// output folder is not empty), records the job and returns its plan.
TrainingJobPlan createTrainingJob(StudyDatabase& db, const NewTrainingJob& request);
/// The plan of a recorded job (from its params).
TrainingJobPlan planFromJob(StudyDatabase& db, const Job& job);
/// The plan of a job that may be resumed: throws naming why not (no such training job, already
/// succeeded, still running).
TrainingJobPlan planResume(StudyDatabase& db, int64_t jobId);
/// panseg-train's arguments for a plan.
QStringList trainerArguments(const TrainingJobPlan& plan, bool resume);

/// The job's pid file (in its job folder), and whether the process it names is alive.
QString jobPidFile(const StudyDatabase& db, int64_t jobId);
bool jobProcessAlive(const StudyDatabase& db, int64_t jobId);

struct TrainerRun
{
  ChildOutcome outcome;
  TrainerEvent last;
  bool haveEvent = false;
};
/// Runs panseg-train with `args`, logging its progress lines and, with a database, recording
/// every event in job `jobId`.
TrainerRun runTrainer(const QString& trainer, const QStringList& args, StudyDatabase* db, int64_t jobId,
                      const JobLog& log);

struct TrainingJobResult
{
  bool cancelled = false;
  int64_t modelVersionId = 0; // the registered model (succeeded)
  std::string message;        // what the job row says at the end
};
/// Exports the cases (once), trains, evaluates and registers; the job row follows every step.
/// A cancelled run (stop signal or exit 130) is a result; a failure marks the job failed and
/// throws.
TrainingJobResult runTrainingJob(StudyDatabase& db, TrainingJobPlan& plan, const QString& trainer, bool resume,
                                 const JobLog& log);
} // namespace panseg::db
