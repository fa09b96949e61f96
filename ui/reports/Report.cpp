#include "ui/reports/Report.h"

#include "core/AtomicFile.h"
#include "core/Error.h"

#include <QBuffer>
#include <QGuiApplication>
#include <QPageLayout>
#include <QPageSize>
#include <QPdfWriter>
#include <QTextDocument>
#include <QUrl>

#include <algorithm>

namespace panseg::ui
{
namespace
{
QString esc(const QString& s) { return s.toHtmlEscaped(); }

QString pngDataUri(const QImage& image)
{
  QByteArray png;
  QBuffer buffer(&png);
  buffer.open(QIODevice::WriteOnly);
  image.save(&buffer, "PNG");
  return "data:image/png;base64," + QString::fromLatin1(png.toBase64());
}

QString imageName(size_t index) { return QString("report-image:%1").arg(index); }

void save(const QString& path, const QByteArray& bytes)
{
  if (path.isEmpty())
    throw Error("cannot write the report: no output file given");
  writeFileAtomically(path.toStdString(), bytes.toStdString());
}

QString tableHtml(const ReportTable& t)
{
  QString h;
  if (!t.caption.isEmpty())
    h += "<p class=\"caption\"><b>" + esc(t.caption) + "</b></p>\n";
  h += "<table border=\"1\" cellspacing=\"0\" cellpadding=\"3\" width=\"100%\">\n<thead><tr>";
  std::vector<bool> numeric;
  for (int c = 0; c < t.columns.size(); ++c)
  {
    numeric.push_back(t.isNumericColumn(c));
    h += QString("<th align=\"%1\" bgcolor=\"#e8e8e8\">").arg(numeric.back() ? "right" : "left") +
         esc(t.columns[c]) + "</th>";
  }
  h += "</tr></thead>\n<tbody>\n";
  for (const QStringList& row : t.rows)
  {
    h += "<tr>";
    for (int c = 0; c < t.columns.size(); ++c)
      h += QString("<td align=\"%1\">").arg(numeric[size_t(c)] ? "right" : "left") + esc(row.value(c)) + "</td>";
    h += "</tr>\n";
  }
  return h + "</tbody></table>\n";
}

QString csvField(const QString& s)
{
  if (!s.contains(',') && !s.contains('"') && !s.contains('\n') && !s.contains('\r'))
    return s;
  QString q = s;
  q.replace("\"", "\"\"");
  return "\"" + q + "\"";
}
} // namespace

bool ReportTable::isNumericColumn(int column) const
{
  bool any = false;
  for (const QStringList& row : rows)
  {
    const QString cell = row.value(column).trimmed();
    if (cell.isEmpty())
      continue;
    bool ok = false;
    QString number = cell;
    if (number.endsWith('%'))
      number.chop(1);
    number.toDouble(&ok);
    if (!ok)
      return false;
    any = true;
  }
  return any;
}

QString toHtml(const Report& report, bool inlineImages)
{
  QString h = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + esc(report.title) +
              "</title>\n<style>body{font-family:sans-serif;font-size:10pt;} table{border-collapse:collapse;}"
              " th,td{padding:3px 6px;border:1px solid #999;} th{background:#e8e8e8;}"
              " .meta td{border:none;padding:1px 8px 1px 0;} .caption{margin-bottom:2px;}"
              " .footer{color:#555;font-size:8pt;}</style></head><body>\n";
  h += "<h1>" + esc(report.title) + "</h1>\n";
  if (!report.metadata.empty())
  {
    h += "<table class=\"meta\" border=\"0\" cellspacing=\"0\" cellpadding=\"1\">\n";
    for (const auto& [key, value] : report.metadata)
      h += "<tr><td><b>" + esc(key) + "</b></td><td>" + esc(value) + "</td></tr>\n";
    h += "</table>\n";
  }
  size_t imageIndex = 0;
  for (const ReportSection& s : report.sections)
  {
    if (!s.heading.isEmpty())
      h += "<h2>" + esc(s.heading) + "</h2>\n";
    for (const QString& p : s.paragraphs)
      h += "<p>" + esc(p) + "</p>\n";
    for (const ReportTable& t : s.tables)
      h += tableHtml(t) + "<p></p>\n";
    for (const ReportImage& img : s.images)
    {
      const int width = std::min(img.maxWidthPx, img.image.width());
      const QString src = inlineImages ? pngDataUri(img.image) : imageName(imageIndex);
      ++imageIndex;
      h += QString("<p><img src=\"%1\" width=\"%2\" alt=\"%3\"><br><i>%3</i></p>\n").arg(src).arg(width).arg(esc(img.caption));
    }
  }
  if (!report.footer.isEmpty())
    h += "<p class=\"footer\"><small>" + esc(report.footer) + "</small></p>\n";
  return h + "</body></html>\n";
}

void writeHtml(const Report& report, const QString& path) { save(path, toHtml(report, true).toUtf8()); }

void loadIntoDocument(const Report& report, QTextDocument& doc)
{
  size_t imageIndex = 0;
  for (const ReportSection& s : report.sections)
    for (const ReportImage& img : s.images)
      doc.addResource(QTextDocument::ImageResource, QUrl(imageName(imageIndex++)), img.image);
  doc.setHtml(toHtml(report, false));
}

void writePdf(const Report& report, const QString& path)
{
  if (!qobject_cast<QGuiApplication*>(QCoreApplication::instance()))
    throw Error("cannot write the PDF " + path.toStdString() + ": no QGuiApplication (internal error)");
  QTextDocument doc;
  loadIntoDocument(report, doc);

  QByteArray bytes;
  {
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    QPdfWriter writer(&buffer);
    writer.setTitle(report.title);
    writer.setCreator("PanSeg Workstation");
    writer.setResolution(300);
    // No page margins here: QTextDocument::print adds its own 2 cm when the document has no page
    // size, lays it out for the writer's page and draws the page numbers at the bottom.
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize::A4),
                                     report.landscape ? QPageLayout::Landscape : QPageLayout::Portrait,
                                     QMarginsF(0, 0, 0, 0), QPageLayout::Millimeter));
    doc.print(&writer);
  }
  if (bytes.isEmpty())
    throw Error("cannot write the PDF " + path.toStdString() + ": nothing was rendered");
  save(path, bytes);
}

QString toCsv(const ReportTable& table)
{
  QString out;
  QStringList header;
  for (const QString& c : table.columns)
    header << csvField(c);
  out += header.join(',') + "\n";
  for (const QStringList& row : table.rows)
  {
    QStringList cells;
    for (int c = 0; c < table.columns.size(); ++c)
      cells << csvField(row.value(c));
    out += cells.join(',') + "\n";
  }
  return out;
}

void writeCsv(const ReportTable& table, const QString& path) { save(path, toCsv(table).toUtf8()); }
} // namespace panseg::ui
