#pragma once
// Plausibility of AI masks in the study database: the limits a model package sets in its
// model.json ("plausibility" block) and the one function the command line and the GUI call to
// learn whether a mask version is flagged (plausibilityOf). The check itself is
// core/metrics/Plausibility.h; StudyDatabase::saveMaskVersion runs it for every AI version and
// stores the result with the version (table mask_plausibility), and setMaskState refuses to
// approve a flagged AI version unless the caller confirms (ImplausibleMaskError).
//
// model.json:
//   "plausibility": {
//     "min_volume_ml": 10, "max_volume_ml": 250,          // mL
//     "max_components": 8, "min_two_largest_share": 0.8,
//     "border_margin": 0.1,                               // share of the in-plane field of view
//     "flag_border_contact": true, "flag_partial_coverage": true,
//     "training_volume_ml": [18.5, 141.0],                // the training data's pancreas volumes
//     "label": 1                                          // label to check; 0 = any non-zero
//   }
// Every key is optional; an unknown key or a bad value is an error naming it (a package with a bad
// block is refused when it is registered or used for prediction).

#include "core/Error.h"
#include "core/metrics/Plausibility.h"
#include "database/Records.h"

#include "models/Json.h"

#include <QJsonObject>

#include <string>

namespace panseg::db
{
class StudyDatabase;

/// Thrown by StudyDatabase::setMaskState when approving a flagged AI version without confirming.
class ImplausibleMaskError : public Error
{
public:
  ImplausibleMaskError(int64_t version, const MaskPlausibility& p, const std::string& message)
    : Error(message), maskVersionId(version), plausibility(p)
  {
  }
  int64_t maskVersionId = 0;
  MaskPlausibility plausibility;
};

struct ModelPlausibility
{
  PlausibilityLimits limits;
  int label = 0; // 0 = any non-zero label
};

/// The limits of a model.json object (defaults when it has no "plausibility" block). `where`
/// names the file in errors ("/models/x/model.json").
ModelPlausibility modelPlausibilityFromJson(const models::json::Value& modelJson, const std::string& where);
/// DIR/model.json of a package; throws Error when it cannot be read or its block is bad.
ModelPlausibility modelPlausibilityOfPackage(const std::string& packageDir);
/// The limits of a registered model version: its package's model.json when the registry's file
/// list names one that still exists (and is readable), else the defaults with a source that says so.
ModelPlausibility modelPlausibilityOfModelVersion(const StudyDatabase& db, int64_t modelVersionId);

/// The stored form of a report.
MaskPlausibility toRecord(const PlausibilityReport& report, const std::string& checkedAt);

/// Whether a mask version is flagged: its stored check, else (versions saved before schema
/// version 7, or any version on request) the check computed now from its voxels with the limits
/// of its model (the defaults for masks not produced by a model). Throws what loadMask throws.
MaskPlausibility plausibilityOf(const StudyDatabase& db, const MaskVersion& version);
MaskPlausibility plausibilityOf(const StudyDatabase& db, int64_t maskVersionId);

/// One line for the terminal and the GUI: "implausible: volume 1.84 mL is below 10.0 mL" /
/// "plausible" / "not checked".
std::string plausibilityLine(const MaskPlausibility& p);
} // namespace panseg::db
