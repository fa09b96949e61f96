#pragma once
// Importing images and masks from folders into the study database.
//
// What is found (folders are walked recursively, hidden folders skipped):
//  - DICOM: every folder is asked for its image series (core listDicomSeries: grouped by
//    SeriesInstanceUID, or by modality/number/description/orientation/matrix when UIDs are
//    empty). One series record per DICOM series.
//  - Files: NIfTI, NRRD, MetaImage. A file is a *mask* when its name has a word seg,
//    segmentation, mask, label(s), labelmap, annotation or gt, or when it sits in a folder named
//    labels*, masks, segmentations or annotations. Other files are images, except that an image
//    whose voxels are all whole numbers 0..255 with at most 64 distinct values is treated as a
//    label map too (DICOM series never are).
// How a mask finds its image, first rule that applies:
//  1. nnU-Net raw layout: labelsTr/CASE.nii.gz -> imagesTr/CASE_0000.nii.gz (other channels
//     _0001... are imported as their own series, without the mask).
//  2. Name pairs in one folder: CASE.ext + CASE_seg / _mask / _label / _labels / _gt /
//     _segmentation (also with '-' or '.').
//  3. Otherwise the one image in the mask's folder or below it whose grid the mask lies on
//     (same-folder images first). A mask on the same voxel centres with permuted/flipped axes
//     (e.g. LAS against a DICOM series' LPS) is reoriented (never resampled), and says so in its
//     note. Several candidates or none: the mask is skipped with the reason.
// Each series and each mask is one transaction; a failure is reported with its reason and
// leaves nothing of that item behind, and the import goes on with the next item (a damaged or
// hostile file is refused by core/io with one line, never a crash: core/io/README.md). Duplicates (same content hash) are counted, not added.
// Images are stored by reference (absolute path + content hash); masks are copied into the
// data folder (files/masks) as new immutable versions with source "import".

#include "database/StudyDatabase.h"

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace panseg::db
{
struct ImportOptions
{
  std::string center;                    // site for series whose tags name none (overrides tags when set)
  MaskState maskState = MaskState::Draft; // review state of imported masks
  const std::atomic<bool>* cancel = nullptr; // set from another thread to stop after the current item
  /// A DICOM series with unreadable slices is refused unless this is set; then its readable
  /// slices are imported and the series is listed in ImportReport::flagged with the gap.
  bool acceptGaps = false;
};

struct ImportProgress
{
  int done = 0;  // items finished
  int total = 0; // items found (series + masks)
  std::string path; // the item being imported now
  std::string stage; // "scan", "image", "mask"
};
/// Return false to cancel (the current item finishes or rolls back; nothing is half-written).
using ImportProgressFn = std::function<bool(const ImportProgress&)>;

struct ImportIssue
{
  std::string path;
  std::string reason;
};

struct ImportReport
{
  std::vector<int64_t> importedSeries;
  std::vector<int64_t> importedMasks;
  std::vector<ImportIssue> duplicateSeries; // reason names the existing series
  std::vector<ImportIssue> duplicateMasks;
  std::vector<ImportIssue> failures; // could not be read or stored
  std::vector<ImportIssue> skipped;  // deliberately not imported (no image for a mask, not an image, ...)
  std::vector<ImportIssue> flagged;  // imported with a defect the user accepted (a slice gap); also in the audit
  bool cancelled = false;
  double seconds = 0.0;

  bool anythingNew() const { return !importedSeries.empty() || !importedMasks.empty(); }
};

/// Imports every path (file or folder). Never throws for a bad item: it is reported in
/// failures. Throws panseg::Error only when the database itself cannot be used.
ImportReport importPaths(StudyDatabase& db, const std::vector<std::string>& paths, const ImportOptions& options = {},
                         const ImportProgressFn& progress = {});
inline ImportReport importPath(StudyDatabase& db, const std::string& path, const ImportProgressFn& progress = {},
                               const ImportOptions& options = {})
{
  return importPaths(db, { path }, options, progress);
}

/// "case" for "case_0000.nii.gz", "case.nrrd", ...: the file name without image extension and
/// without an nnU-Net channel suffix.
std::string caseNameOf(const std::string& path);
/// True when the file name or its folder marks it as a label map (rules above).
bool isMaskNamed(const std::string& path);
} // namespace panseg::db
