#include "ui/VolumeExport.h"
#include "database/QtText.h"

#include "core/AtomicFile.h"
#include "core/Error.h"

#include <QFileInfo>
#include <QGuiApplication>

#include <xlsxwriter.h>

#include <cmath>
#include <filesystem>
#include <unistd.h>
#include <variant>

namespace panseg::ui
{
using namespace panseg::db;

namespace
{
QString fixed(double v, int decimals) { return std::isfinite(v) ? QString::number(v, 'f', decimals) : QString(); }

/// One cell of the machine-readable tables: text, or a number kept at full precision for XLSX.
using Cell = std::variant<QString, double>;
struct Sheet
{
  QStringList columns;
  std::vector<std::vector<Cell>> rows;
};

Sheet volumeSheet(const VolumeTable& t)
{
  Sheet s;
  s.columns = { "patient_id", "patient_name", "study_date", "series_id", "series_description", "modality", "center",
                "spacing_x_mm", "spacing_y_mm", "spacing_z_mm", "mask_version_id", "source", "source_name", "state",
                "approved_mask", "approved_by", "approved_at", "label", "voxels", "volume_ml" };
  for (const VolumeRow& r : t.rows)
    s.rows.push_back({ qs(r.patientId), qs(r.patientName), qs(r.studyDate), double(r.seriesId),
                       qs(r.seriesDescription), qs(to_string(r.modality)), qs(r.center), r.spacingMm[0], r.spacingMm[1],
                       r.spacingMm[2], double(r.maskVersionId), qs(to_string(r.source)), qs(r.sourceName),
                       qs(to_string(r.state)), QString(r.approvedMask ? "yes" : "no"), qs(r.approvedBy), qs(r.approvedAt),
                       double(r.label), double(r.voxelCount), r.volumeMl });
  return s;
}

Sheet followUpSheet(const VolumeTable& t)
{
  Sheet s;
  s.columns = { "patient_id", "patient_name", "modality_group", "from_date", "to_date", "days", "from_series_id",
                "to_series_id", "from_mask_version_id", "to_mask_version_id", "from_ml", "to_ml", "change_ml",
                "change_percent" };
  for (const FollowUpRow& f : t.followUp)
    s.rows.push_back({ qs(f.patientId), qs(f.patientName), qs(f.modalityGroup), qs(f.fromDate), qs(f.toDate),
                       double(f.days), double(f.fromSeriesId), double(f.toSeriesId), double(f.fromMaskVersionId),
                       double(f.toMaskVersionId), f.fromMl, f.toMl, f.deltaMl,
                       std::isfinite(f.deltaPercent) ? Cell(f.deltaPercent) : Cell(QString()) });
  return s;
}

/// Text of a cell for CSV: whole numbers without decimals, spacing 6 significant decimals,
/// volumes and changes with 4 decimals.
QString cellText(const Cell& c, const QString& column)
{
  if (const auto* text = std::get_if<QString>(&c))
    return *text;
  const double v = std::get<double>(c);
  if (column.endsWith("_ml") || column.endsWith("_percent"))
    return fixed(v, 4);
  if (column.startsWith("spacing"))
    return QString::number(v, 'g', 6);
  return QString::number(qint64(std::llround(v)));
}

/// A numeric cell as XLSX stores it: the number the CSV prints (cellText), parsed back, so the
/// workbook holds 1.6 where the spacing came from a float header as 1.600000023841858, and the
/// two files agree digit for digit.
double fileNumber(double v, const QString& column) { return cellText(Cell(v), column).toDouble(); }

ReportTable toReportTable(const Sheet& s)
{
  ReportTable t;
  t.columns = s.columns;
  for (const auto& row : s.rows)
  {
    QStringList cells;
    for (size_t c = 0; c < row.size(); ++c)
      cells << cellText(row[c], s.columns[int(c)]);
    t.rows.push_back(cells);
  }
  return t;
}

void checkWritable(const QString& path)
{
  const std::filesystem::path p(path.toStdString());
  const std::filesystem::path dir = p.parent_path().empty() ? std::filesystem::path(".") : p.parent_path();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw Error("cannot write " + path.toStdString() + ": folder " + dir.string() + " does not exist");
  if (::access(dir.c_str(), W_OK) != 0)
    throw Error("cannot write " + path.toStdString() + ": folder " + dir.string() + " is not writable");
}

void writeXlsx(const VolumeTable& t, const QString& path, const VolumeExportInfo& info)
{
  const std::filesystem::path target(path.toStdString());
  const std::string tmp =
    (target.parent_path() / (".tmp-" + std::to_string(::getpid()) + "-" + target.filename().string())).string();
  lxw_workbook* wb = workbook_new(tmp.c_str());
  if (!wb)
    throw Error("cannot write " + path.toStdString() + ": cannot create the workbook");
  lxw_format* bold = workbook_add_format(wb);
  format_set_bold(bold);
  lxw_format* twoDecimals = workbook_add_format(wb);
  format_set_num_format(twoDecimals, "0.00");

  auto writeSheet = [&](const char* name, const Sheet& s) {
    lxw_worksheet* ws = workbook_add_worksheet(wb, name);
    for (int c = 0; c < s.columns.size(); ++c)
      worksheet_write_string(ws, 0, lxw_col_t(c), s.columns[c].toUtf8().constData(), bold);
    for (size_t r = 0; r < s.rows.size(); ++r)
      for (size_t c = 0; c < s.rows[r].size(); ++c)
      {
        const auto row = lxw_row_t(r + 1);
        const auto col = lxw_col_t(c);
        if (const auto* text = std::get_if<QString>(&s.rows[r][c]))
        {
          if (!text->isEmpty())
            worksheet_write_string(ws, row, col, text->toUtf8().constData(), nullptr);
        }
        else
        {
          const bool ml = s.columns[int(c)].endsWith("_ml") || s.columns[int(c)].endsWith("_percent");
          const double v = std::get<double>(s.rows[r][c]);
          if (std::isfinite(v))
            worksheet_write_number(ws, row, col, fileNumber(v, s.columns[int(c)]), ml ? twoDecimals : nullptr);
        }
      }
    worksheet_set_column(ws, 0, lxw_col_t(s.columns.size() - 1), 14, nullptr);
    worksheet_freeze_panes(ws, 1, 0);
  };
  writeSheet("Volumes", volumeSheet(t));
  writeSheet("Follow-up", followUpSheet(t));
  lxw_worksheet* about = workbook_add_worksheet(wb, "About");
  lxw_row_t r = 0;
  for (const auto& [key, value] : volumeMetadata(t, info))
  {
    worksheet_write_string(about, r, 0, key.toUtf8().constData(), bold);
    worksheet_write_string(about, r, 1, value.toUtf8().constData(), nullptr);
    ++r;
  }
  worksheet_set_column(about, 0, 0, 22, nullptr);
  worksheet_set_column(about, 1, 1, 80, nullptr);

  const QByteArray title = QString("Pancreas volumes").toUtf8();
  const QByteArray comments = ("PanSeg " + info.softwareVersion).toUtf8();
  lxw_doc_properties props{};
  props.title = const_cast<char*>(title.constData());
  props.comments = const_cast<char*>(comments.constData());
  workbook_set_properties(wb, &props);

  const lxw_error err = workbook_close(wb);
  if (err != LXW_NO_ERROR)
  {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw Error("cannot write " + path.toStdString() + ": " + lxw_strerror(err));
  }
  commitFile(tmp, path.toStdString());
}
} // namespace

ReportTable volumeRowsTable(const VolumeTable& table) { return toReportTable(volumeSheet(table)); }

ReportTable followUpTable(const VolumeTable& table) { return toReportTable(followUpSheet(table)); }

std::vector<std::pair<QString, QString>> volumeMetadata(const VolumeTable& t, const VolumeExportInfo& info)
{
  QStringList models;
  for (const auto& m : t.modelVersions)
    models << qs(m);
  return { { "Software", "PanSeg Workstation " + info.softwareVersion },
           { "Generated (UTC)", info.generatedAt.toUTC().toString(Qt::ISODate) },
           { "Data folder", qs(t.dataFolder) },
           { "Filter", qs(t.filterText()) },
           { "Label", t.filter.label == VolumeFilter::kPancreasByName
                        ? QString("pancreas of each mask's label table (by name / SCT 15776009)")
                        : t.filter.label == 0 ? QString("any non-zero") : QString::number(t.filter.label) },
           { "Model versions", models.isEmpty() ? QString("none (no AI mask in the table)") : models.join("; ") },
           { "Reference mask", qs(t.rule.details()) },
           { "Rows", QString::number(t.rows.size()) } };
}

Report volumeReport(const VolumeTable& t, const VolumeExportInfo& info)
{
  Report r;
  r.title = "Pancreas volumes";
  r.metadata = volumeMetadata(t, info);
  r.landscape = true;
  r.footer = "Volumes are voxel counts of the label times the voxel volume of each stored mask (1 mL = 1000 mm³). "
             "Research use only. Not a medical device.";
  ReportSection& s = r.addSection("Volumes by series and mask source");
  ReportTable v;
  v.columns = { "Patient", "Study date", "Series", "Modality", "Center", "Spacing (mm)", "Mask", "Source", "State",
                "Approved by", "Volume (mL)" };
  for (const VolumeRow& row : t.rows)
  {
    const QString patient = qs(row.patientId.empty() ? row.patientName : row.patientId);
    const QString spacing = QString("%1 × %2 × %3")
                              .arg(row.spacingMm[0], 0, 'g', 4)
                              .arg(row.spacingMm[1], 0, 'g', 4)
                              .arg(row.spacingMm[2], 0, 'g', 4);
    v.rows.push_back({ patient, qs(row.studyDate), QString::number(row.seriesId), qs(to_string(row.modality)),
                       qs(row.center), spacing, QString::number(row.maskVersionId) + (row.approvedMask ? " *" : ""),
                       qs(row.sourceName), qs(to_string(row.state)), qs(row.approvedBy), fixed(row.volumeMl, 2) });
  }
  s.tables.push_back(v);
  s.paragraphs << "* = the series' reference mask (" + qs(t.rule.ruleText()) + ", the coordinator's rule).";
  QStringList missing;
  for (const ReferenceRow& ref : t.references)
    if (!ref.maskVersionId && ref.reason != "no approved version")
      missing << QString("series %1: %2").arg(ref.seriesId).arg(qs(ref.reason));
  if (!missing.isEmpty())
    s.paragraphs << "No reference mask by the rule: " + missing.join("; ") + ".";
  ReportSection& f = r.addSection("Follow-up (change between consecutive studies)");
  if (t.followUp.empty())
    f.paragraphs << "No patient has two dated studies of the same modality in this selection.";
  else
  {
    ReportTable ft;
    ft.columns = { "Patient", "Modality", "From", "To", "Days", "From (mL)", "To (mL)", "Change (mL)", "Change (%)" };
    for (const FollowUpRow& row : t.followUp)
      ft.rows.push_back({ qs(row.patientId.empty() ? row.patientName : row.patientId), qs(row.modalityGroup),
                          qs(row.fromDate), qs(row.toDate), QString::number(row.days), fixed(row.fromMl, 2),
                          fixed(row.toMl, 2), fixed(row.deltaMl, 2), fixed(row.deltaPercent, 1) });
    f.tables.push_back(ft);
    f.paragraphs << "Each study is represented by its reference mask (" + qs(t.rule.ruleText()) +
                    "), else by its newest listed mask.";
  }
  return r;
}

QString volumeCsv(const VolumeTable& table, const VolumeExportInfo& info, bool followUp)
{
  QString out;
  for (const auto& [key, value] : volumeMetadata(table, info))
    out += "# " + key + ": " + value + "\n";
  return out + toCsv(followUp ? followUpTable(table) : volumeRowsTable(table));
}

void exportVolumeTable(const VolumeTable& table, const QString& path, const VolumeExportInfo& info, bool followUpCsv)
{
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (suffix != "csv" && suffix != "xlsx" && suffix != "pdf" && suffix != "html")
    throw Error("cannot write " + path.toStdString() + ": choose a file ending in .csv, .xlsx, .pdf or .html");
  if (table.rows.empty())
    throw Error("no mask volumes match the selection (" + table.filterText() + "); nothing was written to " +
                path.toStdString());
  checkWritable(path);
  if (suffix == "csv")
    writeFileAtomically(path.toStdString(), volumeCsv(table, info, followUpCsv).toUtf8().toStdString());
  else if (suffix == "xlsx")
    writeXlsx(table, path, info);
  else if (suffix == "pdf")
    writePdf(volumeReport(table, info), path);
  else
    writeHtml(volumeReport(table, info), path);
}
} // namespace panseg::ui
