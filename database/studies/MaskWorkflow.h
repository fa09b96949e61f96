#pragma once
// The steps of one mask version from prediction to submission, written once for the GUI
// (ui/StudyBrowser, ui/Workstation, ui/MainWindowPredict) and the command line (panseg predict
// --series, panseg db save-mask): which model predicts a series, the checks before minutes of
// prediction, storing an AI result, saving a reader's edit, save-and-submit.
#include "core/Volume.h"
#include "core/display/LabelTable.h"

#include <cstdint>
#include <optional>
#include <string>

namespace panseg::db
{
class StudyDatabase;

/// A model package chosen to predict a series, and why it was chosen (for a status line).
struct ModelChoice
{
  std::string dir;
  std::string label; // "panseg-ct 2 (registry id 4)" or the folder name
  std::string why;   // "the promoted CT model panseg-ct 2 (registry id 4)", "the demo model", "given"
};

/// The one default-model rule for a series: the model promoted for the series' modality (panseg
/// model promote; verified against its registered SHA-256), else the installed demo model
/// `demoModelDir` (empty: none installed). nullopt when neither exists. Throws Error when the
/// promoted model was moved or changed (the message says how to fix it).
std::optional<ModelChoice> defaultModelForSeries(const StudyDatabase& db, int64_t seriesId,
                                                 const std::string& demoModelDir);

/// A series prediction checked before it runs.
struct SeriesPrediction
{
  int64_t seriesId = 0;
  std::string imagePath; // the series' image on this workstation (PANSEG_PATH_MAP applied)
  ModelChoice model;
};

/// The checks before computing: the series exists, the acting user is not blinded on it (a reader
/// must not regenerate the AI mask a study hides), a model is given (`modelDir`) or chosen by
/// defaultModelForSeries, and the package's plausibility limits parse. Throws Error with one line.
SeriesPrediction planSeriesPrediction(const StudyDatabase& db, int64_t seriesId, const std::string& modelDir,
                                      const std::string& demoModelDir);

/// Stores a prediction of `seriesId` as an AI draft mask version: the package is registered (once
/// per id and version), the version records it and `note`, and is checked for plausibility.
/// Returns the new version's id.
int64_t storeSeriesPrediction(StudyDatabase& db, int64_t seriesId, const LabelMask& mask, const std::string& modelDir,
                              const std::string& note);

/// A reader's save.
struct SavedVersion
{
  int64_t id = 0;
  /// Non-empty when someone else saved on this series after the version the reader started
  /// from: both versions are kept, and the reader is told so.
  std::string concurrentNote;
};

/// Saves a reader's edit as a new draft version derived from `parentId` (0: none) with its label
/// table (unset: the parent's).
SavedVersion saveReaderVersion(StudyDatabase& db, int64_t seriesId, const LabelMask& mask, int64_t parentId,
                               const std::optional<LabelTable>& labelTable = std::nullopt);

/// Reduces a multi-label version to the pancreas: a new draft version derived from `versionId`
/// that keeps the pancreas its label table names (as 1) and the pancreatic lesions it names (as
/// 2, 3, ...), everything else cleared, with the reduced label table
/// (core/display/LabelPresets.h reduceToPancreas). `panseg db reduce-to-pancreas` and the GUI's
/// Edit > Reduce to Pancreas call it. Throws Error when the table names no pancreas.
SavedVersion savePancreasOnlyVersion(StudyDatabase& db, int64_t versionId);

/// A new draft version derived from `versionId` with the same voxels and the preset's label
/// table (`panseg db labels ID --preset KEY`): the table of an imported mask is always editable.
SavedVersion saveWithLabelTable(StudyDatabase& db, int64_t versionId, const LabelTable& table, const std::string& note);

/// "Note: NAME saved version N of this series after version P that you started from; both
/// versions are kept." or empty.
std::string concurrentSaveNote(const StudyDatabase& db, int64_t seriesId, int64_t parentId, int64_t savedId);

/// Save and submit: `edits` (when the reader has unsaved edits) are saved first as a draft
/// derived from `openedVersion`, then that version (or `openedVersion` when nothing was edited)
/// is submitted for approval. Returns the submitted version; `saved` gets the version saved on the
/// way (0 when none). Throws Error (e.g. nothing to submit, not the author) after a save that did
/// happen is reported through `saved`.
int64_t saveAndSubmit(StudyDatabase& db, int64_t seriesId, int64_t openedVersion, const LabelMask* edits,
                      const std::optional<LabelTable>& labelTable, SavedVersion* saved = nullptr);
} // namespace panseg::db
