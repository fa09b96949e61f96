#include "database/studies/MaskWorkflow.h"

#include "database/studies/ConcurrentVersions.h"
#include "database/jobs/FineTuning.h"
#include "database/ImagePaths.h"
#include "database/registry/ModelRegistry.h"
#include "database/studies/Plausibility.h"
#include "database/StudyDatabase.h"

#include "core/Error.h"
#include "core/display/LabelPresets.h"

#include <filesystem>

namespace panseg::db
{
namespace
{
SeriesRecord requireSeries(const StudyDatabase& db, int64_t seriesId)
{
  const auto series = db.series(seriesId);
  if (!series)
    throw Error("no series " + std::to_string(seriesId) + " in " + db.dataFolder() + " (see panseg db list)");
  return *series;
}
} // namespace

std::optional<ModelChoice> defaultModelForSeries(const StudyDatabase& db, int64_t seriesId,
                                                 const std::string& demoModelDir)
{
  const SeriesRecord series = requireSeries(db, seriesId);
  if (series.modality != Modality::Other)
  {
    std::string label;
    if (const auto dir = promotedModelDir(db, to_string(series.modality), &label))
      return ModelChoice{ *dir, label, "the promoted " + to_string(series.modality) + " model " + label };
  }
  if (!demoModelDir.empty())
    return ModelChoice{ demoModelDir, std::filesystem::path(demoModelDir).filename().string(),
                        "the demo model " + demoModelDir + " (no model promoted for " + to_string(series.modality) + ")" };
  return std::nullopt;
}

SeriesPrediction planSeriesPrediction(const StudyDatabase& db, int64_t seriesId, const std::string& modelDir,
                                      const std::string& demoModelDir)
{
  const SeriesRecord series = requireSeries(db, seriesId);
  // A reader blinded on this series must not regenerate the AI mask the study hides (or see a
  // volume that hints at it): the rules of loadMask, applied before anything is computed.
  if (db.blindedOn(seriesId))
    throw Error("cannot predict series " + std::to_string(seriesId) + " as " + db.currentUser().username +
                ": an open reader study you read blinds you on it (predictions are for coordinators and "
                "admins until it is closed)");
  SeriesPrediction plan;
  plan.seriesId = seriesId;
  plan.imagePath = localImagePath(series.sourcePath);
  if (!modelDir.empty())
    plan.model = ModelChoice{ modelDir, std::filesystem::path(modelDir).filename().string(), "given" };
  else if (auto chosen = defaultModelForSeries(db, seriesId, demoModelDir))
    plan.model = std::move(*chosen);
  else
    throw Error("no model promoted for " + to_string(series.modality) +
                " and no demo model installed; choose a model package (--model DIR)");
  std::error_code ec;
  if (!std::filesystem::is_directory(plan.model.dir, ec))
    throw Error("model package not found: " + plan.model.dir);
  // A bad "plausibility" block is an error before minutes of prediction, not after.
  modelPlausibilityOfPackage(plan.model.dir);
  return plan;
}

int64_t storeSeriesPrediction(StudyDatabase& db, int64_t seriesId, const LabelMask& mask, const std::string& modelDir,
                              const std::string& note)
{
  MaskProvenance provenance;
  provenance.source = MaskSource::AI;
  provenance.state = MaskState::Draft;
  provenance.modelVersionId = registerModelPackage(db, modelDir);
  provenance.note = note;
  return db.saveMaskVersion(seriesId, mask, provenance);
}

std::string concurrentSaveNote(const StudyDatabase& db, int64_t seriesId, int64_t parentId, int64_t savedId)
{
  const auto others = newerVersionsByOthers(db.masksOf(seriesId), parentId, savedId, db.currentUser().id);
  if (others.empty())
    return {};
  return "Note: " + others.back().authorName + " saved version " + std::to_string(others.back().id) +
         " of this series after version " + std::to_string(parentId) +
         " that you started from; both versions are kept.";
}

SavedVersion saveReaderVersion(StudyDatabase& db, int64_t seriesId, const LabelMask& mask, int64_t parentId,
                               const std::optional<LabelTable>& labelTable)
{
  MaskProvenance provenance;
  provenance.source = MaskSource::Reader;
  provenance.state = MaskState::Draft;
  provenance.parentId = parentId;
  provenance.labelTable = labelTable;
  SavedVersion out;
  out.id = db.saveMaskVersion(seriesId, mask, provenance);
  try
  {
    out.concurrentNote = concurrentSaveNote(db, seriesId, parentId, out.id);
  }
  catch (const std::exception&)
  {
    // The save happened; the note is a courtesy.
  }
  return out;
}

int64_t saveAndSubmit(StudyDatabase& db, int64_t seriesId, int64_t openedVersion, const LabelMask* edits,
                      const std::optional<LabelTable>& labelTable, SavedVersion* saved)
{
  if (saved)
    *saved = {};
  int64_t version = openedVersion;
  if (edits)
  {
    if (seriesId <= 0)
      throw Error("open a series from the study browser first");
    const SavedVersion s = saveReaderVersion(db, seriesId, *edits, openedVersion, labelTable);
    if (saved)
      *saved = s;
    version = s.id;
  }
  if (version <= 0)
    throw Error("no mask version to submit: open or save a mask version first");
  db.setMaskState(version, MaskState::Submitted);
  return version;
}
namespace
{
SavedVersion saveDerived(StudyDatabase& db, const MaskVersion& from, const LabelMask& mask, const LabelTable& table,
                         const std::string& note)
{
  MaskProvenance provenance;
  provenance.source = MaskSource::Reader;
  provenance.state = MaskState::Draft;
  provenance.parentId = from.id;
  provenance.labelTable = table;
  provenance.note = note;
  SavedVersion out;
  out.id = db.saveMaskVersion(from.seriesId, mask, provenance);
  try
  {
    out.concurrentNote = concurrentSaveNote(db, from.seriesId, from.id, out.id);
  }
  catch (const std::exception&)
  {
  }
  return out;
}

MaskVersion versionOrThrow(const StudyDatabase& db, int64_t versionId)
{
  const auto v = db.maskVersion(versionId); // blinding: throws for hidden versions
  if (!v)
    throw Error("no mask version " + std::to_string(versionId) + " in " + db.dataFolder());
  return *v;
}
} // namespace

SavedVersion savePancreasOnlyVersion(StudyDatabase& db, int64_t versionId)
{
  const MaskVersion from = versionOrThrow(db, versionId);
  const LabelTable table = db.labelTable(versionId);
  const PancreasReduction r =
    reduceToPancreas(db.loadMask(versionId), table, "mask version " + std::to_string(versionId));
  std::string note = "reduced to the pancreas (label " + std::to_string(r.pancreasFrom) + ")";
  if (!r.lesionsFrom.empty())
  {
    note += " and its lesions (label";
    for (size_t i = 0; i < r.lesionsFrom.size(); ++i)
      note += (i ? ", " : " ") + std::to_string(r.lesionsFrom[i]);
    note += ")";
  }
  note += " of version " + std::to_string(versionId);
  return saveDerived(db, from, r.mask, r.table, note);
}

SavedVersion saveWithLabelTable(StudyDatabase& db, int64_t versionId, const LabelTable& table, const std::string& note)
{
  const MaskVersion from = versionOrThrow(db, versionId);
  return saveDerived(db, from, db.loadMask(versionId), table, note);
}
} // namespace panseg::db
