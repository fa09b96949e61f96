#pragma once
// Fine-tuning jobs on approved masks (issue 8), without LibTorch and without widgets: selecting the
// approved cases, exporting them as a panseg-train data folder, recording the job and its progress,
// registering the trained package with its lineage, and promoting a model to the default of a
// modality (audited). Training itself runs in the `panseg-train` child process that `panseg train`
// starts (app/TrainCommands.cpp). See docs/fine-tuning.md.
#include "database/StudyDatabase.h"

#include <optional>
#include <string>
#include <vector>

namespace panseg::db
{
/// Which approved cases a job trains on. Empty fields match everything.
struct CaseSelection
{
  std::string modality; // "CT", "MR"/"MRI" (any MRI kind), "MRI-T1W", "MRI-T2W"; empty = any
  std::string center;   // exact
  std::string fromDate, toDate; // ISO yyyy-mm-dd, inclusive, on the study (else acquisition) date
};

/// One training case: a series and its newest approved mask version.
struct TrainingCase
{
  int64_t seriesId = 0;
  int64_t maskVersionId = 0;
  std::string caseId;     // "series<ID>": the file stem in the data folder
  std::string patientKey; // split unit (patients.csv)
  std::string modality, center, date;
};

/// Approved cases matching `selection`, oldest series first. Throws Error with a clear message when
/// none match (and says how many approved cases exist at all).
std::vector<TrainingCase> selectApprovedCases(const StudyDatabase& db,
                                              const CaseSelection& selection);

/// Writes `dir`/<caseId>.nii.gz + <caseId>_seg.nii.gz for every case, patients.csv (case,patient)
/// and cases.csv (case, series, mask version, patient, modality, center, date). The image comes
/// from the series' source (content verified), the mask from its version file (SHA-256 verified).
/// Throws Error naming the first case whose mask does not lie on its image's grid.
void exportTrainingCases(const StudyDatabase& db, const std::vector<TrainingCase>& cases,
                         const std::string& dir);

/// DATA/files/jobs/<jobId> (absolute).
std::string jobFolder(const StudyDatabase& db, int64_t jobId);

/// The registry row for a model argument: a whole number is a registry id, anything else a package
/// folder (registered when new, see registerModelPackage). Fills `packageDir` with the folder.
int64_t resolveModel(StudyDatabase& db, const std::string& modelArg, std::string* packageDir);
/// The package folder of a registry row (the folder of its files). Throws when unknown.
std::string modelPackageDir(const StudyDatabase& db, int64_t modelVersionId);

/// One line of `panseg-train --json`.
struct TrainerEvent
{
  std::string event; // preparing, training, validating, epoch, finished
  int epoch = 0, epochs = 0, iteration = 0, iterations = 0;
  double loss = -1, valDice = -1, lr = -1, elapsedS = -1, etaS = -1; // -1: not given
  std::string device, message;
};
/// nullopt for a line that is not such a JSON object.
std::optional<TrainerEvent> parseTrainerEvent(const std::string& line);
/// Fraction of the run done (0..1), from epoch and iteration.
double trainerFraction(const TrainerEvent& e);
/// "epoch 3/10, iteration 20/40, loss 0.512, val Dice 0.734, ETA 2 min, cpu"
std::string trainerSummary(const TrainerEvent& e);
/// Stores the event's progress and summary in the job row (state running) and appends the raw line
/// to the job folder's progress.jsonl (the curves). Throttles database writes of training ticks.
void recordTrainerEvent(StudyDatabase& db, int64_t jobId, const TrainerEvent& e,
                        const std::string& rawLine);

/// Registers the trained package with parent = `baseModelVersionId` after merging `lineage` (a JSON
/// object: base model, job, case ids, settings, metrics) into model.json's "lineage". Idempotent
/// like registerModelPackage. Returns the new row id.
int64_t registerTrainedModel(StudyDatabase& db, const std::string& packageDir,
                             int64_t baseModelVersionId, const std::string& lineageJson);

/// The process running a training job: the pid in its job folder's `pid` file (written by
/// `panseg train` while it runs), or 0 when there is none or that process is gone.
int64_t jobProcessId(const StudyDatabase& db, int64_t jobId);
/// Asks a running training job to stop (SIGTERM to `panseg train`, which forwards it to the
/// trainer; the job then becomes "cancelled" and can be resumed). False with `why` when the job
/// has no live process.
bool requestJobCancel(const StudyDatabase& db, int64_t jobId, std::string* why = nullptr);

/// Makes a registered model the default for `modality` (CT, MR, MRI-T1W, ...): table model_defaults
/// and an audit entry "promote-model" with the previous default. Throws for an unknown id or
/// modality, and for users who are neither coordinator nor admin.
void promoteModel(StudyDatabase& db, int64_t modelVersionId, const std::string& modality);
/// The default model of a modality, if one was promoted.
std::optional<int64_t> defaultModelFor(const StudyDatabase& db, const std::string& modality);
/// The package folder of the model promoted for `modality` (exact match, then "MRI" for an
/// MRI-T1W/MRI-T2W series), or nullopt when none was promoted. Checks that the folder's weights.bin
/// still hashes to the registry's SHA-256; throws Error "promoted model X version V was moved or
/// changed: ..." otherwise. `label` (optional) gets "X V (registry id N)".
std::optional<std::string> promotedModelDir(const StudyDatabase& db, const std::string& modality,
                                            std::string* label = nullptr);
/// "CT", "MRI", "MRI-T1W", "MRI-T2W" for the spellings parseModality accepts (MR -> MRI); throws.
std::string normalizeModality(const std::string& modality);
} // namespace panseg::db
