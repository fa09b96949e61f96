#include "database/pacs/PacsService.h"

#include "core/Error.h"
#include "database/exports/DatasetExport.h"
#include "database/Importer.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QUuid>

namespace panseg::db
{
std::string pacsStorageFolder(const StudyDatabase& db)
{
  if (db.isServer())
    return (QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) + "/panseg/pacs").toStdString();
  return db.absolutePath("files/pacs");
}

std::optional<int64_t> seriesIdByInstanceUid(const StudyDatabase& db, const std::string& uid)
{
  if (uid.empty())
    return std::nullopt;
  for (const SeriesRecord& s : db.listSeries())
    if (s.seriesInstanceUid == uid)
      return s.id;
  return std::nullopt;
}

namespace
{
/// Removes a folder on scope exit unless released.
struct FolderGuard
{
  QString path;
  ~FolderGuard()
  {
    if (!path.isEmpty())
      QDir(path).removeRecursively();
  }
};
} // namespace

PacsRetrieveResult retrieveSeries(StudyDatabase& db, pacs::PacsClient& client, const QString& seriesUid,
                                  const PacsRetrieveOptions& options)
{
  static const QRegularExpression uidRe("^[0-9]+(\\.[0-9]+)*$");
  if (seriesUid.size() > 64 || !uidRe.match(seriesUid).hasMatch())
    throw Error("'" + seriesUid.toStdString() + "' is not a DICOM UID (digits and dots, at most 64 characters)");
  QElapsedTimer timer;
  timer.start();
  PacsRetrieveResult result;
  if (const auto existing = seriesIdByInstanceUid(db, seriesUid.toStdString()))
  {
    result.seriesId = *existing;
    result.alreadyPresent = true;
    if (const auto rec = db.series(*existing))
      result.folder = rec->sourcePath;
    return result;
  }
  const QString root = QString::fromStdString(pacsStorageFolder(db));
  if (!QDir().mkpath(root))
    throw Error("cannot create the PACS storage folder " + root.toStdString());
  const QString finalPath = QDir(root).filePath(seriesUid);
  FolderGuard partial{ QDir(root).filePath(".partial-" + seriesUid + "-" +
                                          QUuid::createUuid().toString(QUuid::Id128).left(8)) };
  if (!QDir().mkpath(partial.path))
    throw Error("cannot create " + partial.path.toStdString());

  const pacs::ProgressFn progress = [&](const pacs::TransferProgress& p) {
    if (options.progress)
      options.progress(p);
    return !(options.cancel && options.cancel->load());
  };
  const pacs::RetrieveResult got = client.retrieveSeries(options.studyUid, seriesUid, partial.path, progress);
  if (options.cancel && options.cancel->load())
    throw pacs::Cancelled();
  result.files = int(got.files.size());
  result.bytes = got.bytes;
  result.transferSeconds = timer.elapsed() / 1000.0;

  // Every instance is here: the folder becomes the series' folder. A folder of an earlier
  // attempt that never made it into the database is replaced.
  if (QFileInfo::exists(finalPath) && !QDir(finalPath).removeRecursively())
    throw Error("cannot replace the leftover folder " + finalPath.toStdString());
  if (!QDir().rename(partial.path, finalPath))
    throw Error("cannot move the retrieved series to " + finalPath.toStdString());
  partial.path.clear();
  FolderGuard kept{ finalPath }; // removed unless the import succeeds

  ImportOptions io;
  io.center = options.center;
  io.cancel = options.cancel;
  const ImportReport report = importPaths(db, { finalPath.toStdString() }, io);
  if (report.cancelled || (options.cancel && options.cancel->load() && report.importedSeries.empty()))
    throw pacs::Cancelled();
  if (!report.importedSeries.empty())
  {
    result.seriesId = report.importedSeries.front();
    result.folder = finalPath.toStdString();
    kept.path.clear();
  }
  else if (!report.duplicateSeries.empty())
  {
    // The same voxels are already in the database under another path: keep that one.
    static const QRegularExpression idRe("series (\\d+)");
    const auto m = idRe.match(QString::fromStdString(report.duplicateSeries.front().reason));
    result.seriesId = m.hasMatch() ? m.captured(1).toLongLong() : 0;
    result.duplicateContent = true;
    if (result.seriesId > 0)
      if (const auto rec = db.series(result.seriesId))
        result.folder = rec->sourcePath;
  }
  else if (!report.failures.empty())
    throw Error("series " + seriesUid.toStdString() + " was retrieved but cannot be imported: " +
                report.failures.front().reason);
  else if (!report.skipped.empty())
    throw Error("series " + seriesUid.toStdString() + " was retrieved but holds no image: " +
                report.skipped.front().reason);
  else
    throw Error("series " + seriesUid.toStdString() + " was retrieved but holds no image series to import");
  result.seconds = timer.elapsed() / 1000.0;
  return result;
}

PacsSendResult sendMaskVersion(const StudyDatabase& db, pacs::PacsClient& client, int64_t maskVersionId)
{
  QTemporaryDir tmp;
  if (!tmp.isValid())
    throw Error("cannot create a temporary folder for the DICOM SEG");
  const std::string path = tmp.filePath("seg.dcm").toStdString();
  SegExportOptions options;
  const SegExportReport r = exportMaskVersionAsSeg(db, maskVersionId, path, options, 0);
  client.store({ QString::fromStdString(path) });
  PacsSendResult out;
  out.sopInstanceUid = r.sopInstanceUid;
  out.frames = r.frames;
  out.segments = r.segments;
  return out;
}
} // namespace panseg::db
