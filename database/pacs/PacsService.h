#pragma once
// PACS and the study database: retrieve a series into the database (core/pacs streams the
// instances, database/Importer imports them with their UIDs) and send a mask version's DICOM SEG
// back. The command line (`panseg pacs get|send`) and the GUI's PACS dock call these, nothing else.
//
// Retrieved instances are images stored by reference like any import, so they are kept in
// <data folder>/files/pacs/<SeriesInstanceUID>/ (server mode: <GenericDataLocation>/panseg/pacs/).
// They arrive in a hidden sibling folder (".partial-<uid>-<random>") that becomes the series'
// folder only when every instance is there, just before the import; a failure or cancel removes
// it and leaves the database as it was.
#include "core/pacs/PacsClient.h"
#include "database/StudyDatabase.h"

#include <atomic>
#include <functional>
#include <optional>
#include <string>

namespace panseg::db
{
/// The folder that keeps retrieved series of this database.
std::string pacsStorageFolder(const StudyDatabase& db);

/// The database's series with this SeriesInstanceUID, if any (first one).
std::optional<int64_t> seriesIdByInstanceUid(const StudyDatabase& db, const std::string& seriesInstanceUid);

struct PacsRetrieveOptions
{
  QString studyUid; // empty = looked up on the PACS
  std::string center; // as ImportOptions::center
  const std::atomic<bool>* cancel = nullptr;
  /// Progress lines ("retrieve 3/20 files, 1.2 MB"); called on the calling thread.
  std::function<void(const pacs::TransferProgress&)> progress;
};

struct PacsRetrieveResult
{
  int64_t seriesId = 0;
  bool alreadyPresent = false; // nothing fetched: the database had the series
  bool duplicateContent = false; // fetched, but the same voxels were already imported (folder removed)
  int files = 0;
  qint64 bytes = 0;
  double seconds = 0;          // in all
  double transferSeconds = 0;  // of which the transfer to disk
  std::string folder; // where the instances are kept
};

/// Retrieves one series into the database. Throws panseg::Error (pacs::Cancelled when cancelled);
/// in both cases nothing is left behind.
PacsRetrieveResult retrieveSeries(StudyDatabase& db, pacs::PacsClient& client, const QString& seriesUid,
                                  const PacsRetrieveOptions& options = {});

struct PacsSendResult
{
  std::string sopInstanceUid; // of the SEG that was sent
  int frames = 0;
  int segments = 0;
};

/// Exports a mask version as DICOM SEG (database/exports/DatasetExport: label table, AI algorithm
/// identification, referencing its DICOM source series) to a temporary file and stores it on the
/// PACS. Throws Error when the version has no DICOM source or the PACS refuses it.
PacsSendResult sendMaskVersion(const StudyDatabase& db, pacs::PacsClient& client, int64_t maskVersionId);
} // namespace panseg::db
