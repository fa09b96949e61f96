#pragma once
// Talking to one PACS: verification, query (study / series level), series retrieve to a folder
// and store, over DICOMweb (DicomWebClient.cpp: QIDO-RS, WADO-RS, STOW-RS in Qt Network) or DIMSE
// (DimseClient.cpp: C-ECHO, C-FIND, C-GET, C-STORE with DCMTK). Calls block; use one client per
// thread. Every failure throws panseg::Error with one line naming the PACS and the problem
// (server down, refused credentials, unknown UID, association rejected, truncated response);
// a cancelled transfer throws Cancelled. No database here: database/pacs imports what arrives.
#include "core/Error.h"
#include "core/pacs/PacsProfile.h"

#include <QString>
#include <QStringList>

#include <functional>
#include <memory>
#include <vector>

namespace panseg::pacs
{
class Cancelled : public Error
{
public:
  Cancelled() : Error("cancelled") {}
};

enum class Level
{
  Study,
  Series
};

struct QueryFilter
{
  Level level = Level::Study;
  QString patientName; // wildcards * and ?
  QString patientId;
  QString dateRange; // DICOM range: 20240101-20241231, 20240101-, -20241231 or one date
  QString modality;  // CT, MR, ... (ModalitiesInStudy at study level)
  QString accession;
  QString studyUid;
  QString seriesUid;
  int limit = 0; // 0 = no limit
  int offset = 0;
};

/// Normalises --date: "2024-01-01-2024-12-31", "20240101-20241231", "2024-01-01", "20240101-"
/// to DICOM's range form; throws Error for anything else.
QString normalizeDateRange(const QString& text);

struct PacsRecord
{
  Level level = Level::Study;
  QString patientName, patientId, studyDate, accession;
  QString studyUid, seriesUid;
  QString modality; // series: Modality; study: ModalitiesInStudy joined with '\'
  QString description; // study or series description
  int seriesNumber = -1;
  int instances = -1; // -1 = not reported
};

struct TransferProgress
{
  int files = 0;
  int expectedFiles = -1; // -1 = unknown
  qint64 bytes = 0;
};
/// Return false to cancel.
using ProgressFn = std::function<bool(const TransferProgress&)>;

struct RetrieveResult
{
  QStringList files; // absolute paths in the target folder
  qint64 bytes = 0;
};

class PacsClient
{
public:
  virtual ~PacsClient() = default;
  /// C-ECHO, or a QIDO-RS request with limit=1: throws when the PACS cannot be used.
  virtual void echo() = 0;
  virtual std::vector<PacsRecord> find(const QueryFilter& filter) = 0;
  /// Every instance of one series into `folder` (which must exist). An empty studyUid is looked
  /// up first. Throws Error for an unknown series ("not found") and removes nothing it did not
  /// write; the caller owns the folder.
  virtual RetrieveResult retrieveSeries(const QString& studyUid, const QString& seriesUid, const QString& folder,
                                        const ProgressFn& progress = {}) = 0;
  /// Sends DICOM files (one transaction / association); throws Error when any is refused.
  virtual void store(const QStringList& files, const ProgressFn& progress = {}) = 0;

  const PacsProfile& profile() const { return m_profile; }

protected:
  explicit PacsClient(PacsProfile profile) : m_profile(std::move(profile)) {}
  PacsProfile m_profile;
};

/// The client for a profile's protocol. Validates the profile (Error when incomplete).
std::unique_ptr<PacsClient> makeClient(const PacsProfile& profile);
std::unique_ptr<PacsClient> makeDicomWebClient(const PacsProfile& profile);
std::unique_ptr<PacsClient> makeDimseClient(const PacsProfile& profile);

/// The series of one study or the one series with this UID (a study-level query first when the
/// study is unknown); throws Error "series UID not found on PACS NAME" when it is absent.
PacsRecord findSeries(PacsClient& client, const QString& seriesUid);
} // namespace panseg::pacs
