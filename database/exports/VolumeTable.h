#pragma once
// The clinicians' volume table: pancreas volume in mL (the pancreas label of each mask's label
// table unless a label number is given) of the stored mask versions, one row per
// series and mask source, with the series' context (patient, modality, center, study date,
// spacing) and its review state (who approved, when), plus per-patient follow-up (change in mL
// and % between consecutive studies). No widgets and no files here: ui/VolumeExport writes it as
// CSV, XLSX or PDF; `panseg volumes` and the Volumes dock show it.
//
// Volumes are the ones recorded when each version was saved (StudyDatabase::saveMaskVersion
// counts the voxels of each label on the mask's own grid and multiplies by its voxel volume),
// i.e. exactly LabelMask::volumeMl, which is what `panseg volume` and the viewer print.
//
// Rows of a series ("sources"): for each AI model version, each reader, consensus and each
// imported file, the newest version that is not rejected; and always the series' reference mask
// (the approved version the database-wide reference-mask rule picks, ReferenceMask.h), even when
// a later draft of the same source exists. `approvedOnly` keeps approved versions only.
#include "database/studies/ReferenceMask.h"
#include "database/StudyDatabase.h"

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace panseg::db
{
struct VolumeFilter
{
  std::vector<int64_t> seriesIds; // empty = every series
  std::optional<Modality> modality;
  bool anyMri = false;     // with modality = Mri: MRI, MRI-T1W and MRI-T2W
  std::string center;      // exact; empty = any
  std::string fromDate;    // study date yyyy-mm-dd, inclusive; empty = open
  std::string toDate;      // inclusive; empty = open. Series without a study date fail date filters.
  bool approvedOnly = false;
  /// kPancreasByName (the default): the pancreas of each mask's own label table (by SCT
  /// 15776009 or the name, core/display/LabelPresets.h), so a TotalSegmentator v2 map counts its
  /// label 7, a v1 map its label 10 and a PanSeg mask its label 1; N = label N of every mask
  /// (`--label N`); 0 = any non-zero label.
  int label = kPancreasByName;
  static constexpr int kPancreasByName = -1;
};

struct VolumeRow
{
  int64_t seriesId = 0;
  int64_t maskVersionId = 0;
  std::string patientKey, patientId, patientName;
  std::string studyDate; // yyyy-mm-dd or empty
  std::string seriesDescription;
  Modality modality = Modality::Other;
  std::string center;
  std::array<double, 3> spacingMm{ 0, 0, 0 };
  MaskSource source = MaskSource::Reader;
  std::string sourceName; // "ai: panseg-ct 2026.1", "reader: alice", "consensus: bob", "import: seg.nii.gz"
  std::string modelLabel; // "panseg-ct 2026.1" for AI masks, else empty
  std::string author;
  MaskState state = MaskState::Draft;
  bool approvedMask = false; // the series' reference mask (the approved version the rule picks)
  std::string approvedBy;    // user who set it approved (audit log); the importer for imported-approved
  std::string approvedAt;    // ISO UTC
  std::string createdAt;
  int label = 1;             // the label counted (the mask's pancreas by default); 0 = any non-zero,
                             // -1 = none (its label table names no pancreas: volume 0)
  int64_t voxelCount = 0;    // voxels of the label
  double volumeMl = 0.0;     // of the label
};

/// Which version represents a series, by the rule (one per listed series).
struct ReferenceRow
{
  int64_t seriesId = 0;
  int64_t maskVersionId = 0; // 0 = the rule picks none
  std::string reason;        // "approved last", "no approved consensus version (2 other approved versions)"
};

/// Change between consecutive studies of one patient and modality group (CT or MR), using each
/// study's reference volume: its reference mask, else (unless approvedOnly) its newest listed row.
struct FollowUpRow
{
  std::string patientKey, patientId, patientName;
  std::string modalityGroup; // "CT", "MR" or "other"
  int64_t fromSeriesId = 0, toSeriesId = 0;
  int64_t fromMaskVersionId = 0, toMaskVersionId = 0;
  std::string fromDate, toDate;
  int days = 0;
  double fromMl = 0.0, toMl = 0.0;
  double deltaMl = 0.0;
  double deltaPercent = 0.0; // NaN when fromMl is 0
};

struct VolumeTable
{
  VolumeFilter filter;
  std::vector<VolumeRow> rows;           // patient, study date, series, source order
  std::vector<FollowUpRow> followUp;     // patient, group, date order
  std::vector<std::string> modelVersions; // "panseg-ct 2026.1" of the AI rows, sorted, unique
  ReferenceRule rule;                     // the database-wide reference-mask rule applied
  std::vector<ReferenceRow> references;   // per listed series, in row order
  std::string dataFolder;
  /// One line describing the filter ("modality CT, center A, approved only, pancreas label of each mask").
  std::string filterText() const;
};

/// Checks a filter against the database and throws Error with a clear line for an unknown
/// center (naming the known ones), a malformed date (not yyyy-mm-dd), from > to, or a label
/// outside 0..255 (other than kPancreasByName).
void validateFilter(const StudyDatabase& db, const VolumeFilter& filter);

/// Builds the table (validateFilter first). An empty result is not an error here.
VolumeTable buildVolumeTable(const StudyDatabase& db, const VolumeFilter& filter);

/// "CT" for CT, "MR" for every MRI kind, "other" otherwise (follow-up compares within a group).
std::string modalityGroup(Modality m);
} // namespace panseg::db
