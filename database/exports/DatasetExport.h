#pragma once
// Masks and images leaving the study database as files other tools read: one mask version or
// one series' image as NIfTI / NRRD / MetaImage, and the approved cases as an nnU-Net raw
// dataset for training elsewhere. Every file is written atomically (core/io writers); the
// nnU-Net folder is assembled in a hidden sibling and renamed into place only when complete, so
// a failure never leaves a partial dataset. Errors throw panseg::Error with one line.
#include "core/io/DicomSeg.h"
#include "database/StudyDatabase.h"

#include <optional>
#include <string>
#include <vector>

namespace panseg::db
{
/// Writes mask version `maskVersionId` (its file is checked against its SHA-256 first) to `path`
/// (.nii.gz, .nii, .nrrd, .mha). With label > 0 only that label is kept, as 1.
void exportMaskVersion(const StudyDatabase& db, int64_t maskVersionId, const std::string& path, int label = 0);
/// Writes the image of series `seriesId` (read from its source and checked against its content
/// hash) to `path`.
void exportSeriesImage(const StudyDatabase& db, int64_t seriesId, const std::string& path);

/// Writes mask version `maskVersionId` as a DICOM SEG referencing its series' DICOM source
/// (`panseg export-seg --db --mask-version`, the study browser's Export...). Throws when the series
/// is not a DICOM series. AI masks get the model label ("model_id version") as algorithm name and
/// version unless `options` names one; manual masks get their author as content creator unless
/// set. With label > 0 only that label is kept, as 1. Blinding applies (StudyDatabase::loadMask).
SegExportReport exportMaskVersionAsSeg(const StudyDatabase& db, int64_t maskVersionId, const std::string& path,
                                       SegExportOptions options, int label = 0);

struct MaskExportOptions
{
  int label = 0;               // > 0: keep only this label, as 1
  std::string softwareVersion; // DICOM SEG: SoftwareVersions (empty = the SEG writer's default)
};

/// Writes mask version `maskVersionId` in the format its path names: .dcm = DICOM SEG
/// (exportMaskVersionAsSeg), else .nii.gz / .nii / .nrrd / .mha (exportMaskVersion).
void exportMaskVersionAs(const StudyDatabase& db, int64_t maskVersionId, const std::string& path,
                         const MaskExportOptions& options = {});

struct NnUnetExportOptions
{
  std::optional<Modality> modality; // with anyMri for every MRI kind
  bool anyMri = false;
  bool approvedOnly = true;  // false: also series whose newest non-rejected mask is not approved
  int label = 1;             // the pancreas label in the stored masks; exported as label 1
  std::string datasetName = "PanSegPancreas";
  std::string softwareVersion; // recorded in dataset.json
};

struct NnUnetCase
{
  std::string caseId; // e.g. "panseg_0007" (series id, zero-padded)
  int64_t seriesId = 0;
  int64_t maskVersionId = 0;
  double volumeMl = 0.0;
};

struct NnUnetExportReport
{
  std::string folder;
  std::vector<NnUnetCase> cases;
  std::string channelName; // "CT" or "MRI"
};

/// Writes OUT/imagesTr/CASE_0000.nii.gz, OUT/labelsTr/CASE.nii.gz (0 background, 1 pancreas),
/// OUT/dataset.json (nnU-Net v2: channel_names, labels, numTraining, file_ending, plus
/// provenance) and OUT/cases.csv (case, series, mask version, volume). Each case is a series
/// with an approved mask (the newest approved version). `folder` must not exist or be empty.
/// Throws when no case matches, when CT and MR would be mixed (choose with a modality), or on
/// any read/write failure (nothing is left at `folder` then).
NnUnetExportReport exportNnUnet(const StudyDatabase& db, const std::string& folder,
                                const NnUnetExportOptions& options);
} // namespace panseg::db
