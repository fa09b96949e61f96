#pragma once
// Plain records the study database hands out. No Qt and no SQL here: ui/ and app/ read these,
// tests compare them. Enumerations have one spelling on disk (to_string) and one parser.

#include "core/Geometry.h"
#include "core/display/LabelTable.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace panseg::db
{
/// What the series shows. MRI = magnetic resonance whose weighting could not be told
/// (neither tags nor names say T1 or T2); users may correct it (StudyDatabase::setSeriesModality).
enum class Modality
{
  CT,
  MriT1w,
  MriT2w,
  Mri,
  Other
};
/// Who or what produced a mask version.
enum class MaskSource
{
  AI,
  Reader,
  Consensus,
  Import
};
/// Review state of a mask version (the only field of a version that may change).
enum class MaskState
{
  Draft,
  Submitted,
  Approved,
  Rejected
};
enum class Role
{
  Admin,
  Coordinator,
  Reader,
  Clinician
};
/// Coordinators and admins run reader studies, approve masks, see every read and set the
/// reference rule: the one test for "may coordinate", used by the permission checks and the GUI.
inline bool canCoordinate(Role role) { return role == Role::Admin || role == Role::Coordinator; }
enum class JobState
{
  Queued,
  Running,
  Succeeded,
  Failed,
  Cancelled
};

std::string to_string(Modality m);   // "CT", "MRI-T1W", "MRI-T2W", "MRI", "other"
std::string to_string(MaskSource s); // "ai", "reader", "consensus", "import"
std::string to_string(MaskState s);  // "draft", "submitted", "approved", "rejected"
std::string to_string(Role r);       // "admin", "coordinator", "reader", "clinician"
std::string to_string(JobState s);   // "queued", "running", "succeeded", "failed", "cancelled"
/// Parsers accept the spellings above, case-insensitively (and "MR" for MRI, "T1"/"T2" for the
/// weighted MRI kinds); they return nullopt for anything else.
std::optional<Modality> parseModality(const std::string& text);
std::optional<MaskSource> parseMaskSource(const std::string& text);
std::optional<MaskState> parseMaskState(const std::string& text);
std::optional<Role> parseRole(const std::string& text);
std::optional<JobState> parseJobState(const std::string& text);

/// Review workflow: draft -> submitted | rejected (discarded); submitted -> approved | rejected |
/// draft (sent back); approved -> rejected (revoked); rejected -> draft (reopened). Staying in the
/// same state is not a transition. Who may make a transition is decided by the permissions layer.
bool isAllowedTransition(MaskState from, MaskState to);

struct User
{
  int64_t id = 0;
  std::string username;
  std::string displayName;
  Role role = Role::Reader;
  bool active = true;
  std::string createdAt;
};

/// One image series with its patient and study, as the browser shows it.
struct SeriesRecord
{
  int64_t id = 0;
  int64_t studyId = 0;
  int64_t patientRowId = 0;
  // patient
  std::string patientKey;  // identity used for grouping: "dicom:<PatientID>" or "name:<case>"
  std::string patientId;   // DICOM PatientID (empty for files without tags)
  std::string patientName; // DICOM PatientName, or the case name for files without tags
  // study
  std::string studyKey;
  std::string studyInstanceUid;
  std::string studyDate; // ISO yyyy-mm-dd, or empty when unknown
  std::string studyDescription;
  // series
  std::string seriesInstanceUid;
  std::string description;
  Modality modality = Modality::Other;
  std::string modalitySource; // "dicom-tags", "file-name", "intensity", "user", "unknown"
  std::string dicomModality;  // raw DICOM Modality (0008,0060), e.g. "MR"
  std::string center;         // site / institution
  std::string acquisitionDate; // ISO yyyy-mm-dd or empty
  Geometry geometry;
  std::string format;     // "DICOM", "NIfTI", "NRRD", "MetaImage"
  std::string sourcePath; // absolute; the image is stored by reference (see README)
  std::string contentHash; // SHA-256 of geometry + voxels (see README)
  int fileCount = 1;
  std::string importedAt;
  // summary of its masks (filled by listSeries / series)
  int maskCount = 0;
  int64_t latestMaskId = 0; // 0 = no mask
  std::optional<MaskState> latestMaskState;
  double latestVolumeMl = std::nan(""); // pancreas volume of the newest version (MaskVersion::pancreasVolumeMl)
};

struct SeriesFilter
{
  /// Exact modality, or Modality::Mri with anyMri = true to match MRI, MRI-T1W and MRI-T2W.
  std::optional<Modality> modality;
  bool anyMri = false;
  /// Free text, case-insensitive; every whitespace-separated word must occur in one of patient
  /// id/name, description, center, study description, source path or modality.
  std::string text;
  std::string center; // exact, empty = any
  int limit = -1;
};

/// The plausibility check of an AI mask version (core/metrics/Plausibility.h), stored when the
/// version is saved (table mask_plausibility, schema version 7) or computed on demand for older
/// versions (database/studies/Plausibility.h).
struct MaskPlausibility
{
  bool checked = false;  // false: no stored check (not an AI mask, or saved before version 7)
  bool flagged = false;
  std::string summary;   // "volume 1.84 mL is below 10.0 mL; ..." or "plausible"
  std::vector<std::string> findings; // the finding codes ("volume-low", "fragmented", ...)
  std::string limitsSource;          // "defaults" or "model.json of <package>"
  std::string detailsJson;           // volume, components, largest share, centroid, messages
  std::string checkedAt;
};

/// An immutable saved mask. Only `state` and `stateChangedAt` ever change (database triggers
/// refuse any other UPDATE and every DELETE).
struct MaskVersion
{
  int64_t id = 0;
  int64_t seriesId = 0;
  int64_t parentId = 0;       // 0 = none (first version or imported)
  int64_t authorUserId = 0;   // the user who saved, ran the model or imported it
  std::string authorName;
  int64_t modelVersionId = 0; // 0 = not produced by a model
  std::string modelLabel;     // "model_id version" when modelVersionId != 0
  MaskSource source = MaskSource::Reader;
  MaskState state = MaskState::Draft;
  std::string createdAt;
  std::string stateChangedAt;
  std::string filePath; // relative to the data folder
  std::string sha256;   // of the file's bytes
  std::string contentHash; // of geometry + voxels (duplicate detection on import)
  int64_t voxelCount = 0;  // non-zero voxels
  double volumeMl = 0.0;   // of the non-zero voxels
  std::map<int, double> labelVolumesMl; // per label present
  std::string note;
  std::string importedFrom; // original path for imported masks
  MaskPlausibility plausibility; // stored check (AI versions)
  /// The value its label table names the pancreas (core/display/LabelPresets.h pancreasLabelOf:
  /// by SCT 15776009 or the name), 0 when the table names none; 1 for versions without a table.
  int pancreasLabel = 1;
  /// The volume of that label (0 when it is absent or the table names no pancreas).
  double pancreasVolumeMl() const
  {
    const auto it = labelVolumesMl.find(pancreasLabel);
    return pancreasLabel > 0 && it != labelVolumesMl.end() ? it->second : 0.0;
  }
};

/// How a new mask version came about. The author is always the database's current user.
struct MaskProvenance
{
  MaskSource source = MaskSource::Reader;
  int64_t parentId = 0;       // version this one was edited from (0 = none)
  int64_t modelVersionId = 0; // required for MaskSource::AI
  MaskState state = MaskState::Draft;
  std::string note;
  std::string importedFrom;
  /// The version's label table (database/LabelTables.h); unset = the parent's, else (AI) the
  /// model package's labels, else LabelTable::defaults().
  std::optional<LabelTable> labelTable;
};

struct ModelFile
{
  std::string path;
  std::string sha256;
};

struct ModelVersion
{
  int64_t id = 0;
  std::string modelId; // e.g. "panseg-ct"
  std::string version; // e.g. "2026.1"
  int64_t parentId = 0; // fine-tuned from (lineage)
  std::vector<ModelFile> files;
  std::string description;
  std::string createdAt;
  int64_t createdBy = 0;
};

struct Job
{
  int64_t id = 0;
  std::string kind; // "inference", "training", "import", ...
  JobState state = JobState::Queued;
  std::string paramsJson = "{}";
  double progress = 0.0;
  std::string message;
  int64_t seriesId = 0;
  int64_t modelVersionId = 0;
  int64_t resultMaskVersionId = 0;
  int64_t createdBy = 0;
  std::string createdAt, startedAt, finishedAt;
};

struct AuditEntry
{
  int64_t id = 0;
  std::string at;    // ISO UTC
  int64_t userId = 0;
  std::string actor; // username at the time
  std::string action; // "import-series", "save-mask", "set-mask-state", ...
  std::string tableName;
  int64_t recordId = 0;
  std::string detailsJson;
};

/// A problem with the managed files found by StudyDatabase::verifyFiles.
struct FileProblem
{
  int64_t maskVersionId = 0;
  std::string path;
  std::string problem; // "missing", "altered (SHA-256 ...)", ...
};

} // namespace panseg::db
