#pragma once
// Writing the clinicians' volume table (database/exports/VolumeTable) as CSV, XLSX (libxlsxwriter), PDF
// or HTML (ui/reports/Report). Every file records the software version, the model versions of
// the AI masks in it, the date (UTC), the data folder and the filter. Shared by
// `panseg volumes --out` and the Volumes dock. Writes are atomic; an empty table, an unknown
// extension or an unwritable folder throws panseg::Error and leaves no file.
#include "database/exports/VolumeTable.h"
#include "ui/reports/Report.h"

#include <QDateTime>
#include <QString>

namespace panseg::ui
{
struct VolumeExportInfo
{
  QString softwareVersion;                               // e.g. "0.3.0" (PANSEG_VERSION)
  QDateTime generatedAt = QDateTime::currentDateTimeUtc();
};

/// Machine-readable table (CSV/XLSX column names; volumes and changes in mL and % with 4
/// decimals, spacing with 6 significant digits, ids and counts whole). The XLSX cells hold the
/// same numbers (no float-to-double tails such as 1.600000023841858).
ReportTable volumeRowsTable(const db::VolumeTable& table);
/// Follow-up table (change between consecutive studies).
ReportTable followUpTable(const db::VolumeTable& table);
/// Metadata lines: software, generated (UTC), data folder, filter, label, model versions.
std::vector<std::pair<QString, QString>> volumeMetadata(const db::VolumeTable& table, const VolumeExportInfo& info);
/// The human report (PDF/HTML): metadata, the volume table (2 decimals), follow-up.
Report volumeReport(const db::VolumeTable& table, const VolumeExportInfo& info);

/// CSV text: "# key: value" metadata lines, then the header and rows of volumeRowsTable (or of
/// followUpTable when followUp is true).
QString volumeCsv(const db::VolumeTable& table, const VolumeExportInfo& info, bool followUp = false);

/// Writes by extension: .csv, .xlsx (sheets Volumes, Follow-up, About), .pdf (needs a
/// QGuiApplication), .html.
void exportVolumeTable(const db::VolumeTable& table, const QString& path, const VolumeExportInfo& info,
                       bool followUpCsv = false);
} // namespace panseg::ui
