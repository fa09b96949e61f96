#pragma once
// A generic document for reports leaving the workstation (volume tables, reader studies, ...):
// a title, metadata (software version, date, model versions, database, filters ...) and
// sections, each with a heading, paragraphs, tables and images. Qt Gui only (no widgets), so
// command-line tools can write reports too (PDF needs a QGuiApplication; the `offscreen`
// platform is enough).
//
//   panseg::ui::Report r;
//   r.title = "Pancreas volumes";
//   r.metadata = { { "Software", "PanSeg 0.3.0" }, { "Date", "2026-11-22 23:05 UTC" } };
//   auto& s = r.addSection("Volumes");
//   s.paragraphs.push_back("Volumes in mL from the stored masks and their spacing.");
//   s.tables.push_back({ "Volumes by series", { "Patient", "Volume (mL)" }, { { "P1", "70.36" } } });
//   s.images.push_back({ QImage("axial.png"), "Axial slice 42" });
//   panseg::ui::writeHtml(r, "report.html");   // one self-contained file (PNG data URIs)
//   panseg::ui::writePdf(r, "report.pdf");     // A4, page numbers in the footer
//   panseg::ui::writeCsv(s.tables[0], "volumes.csv");
//
// Cells are strings, written as given; a column is right-aligned in HTML/PDF when every
// non-empty cell of it parses as a number (ReportTable::isNumericColumn). Every writer saves
// atomically (core/AtomicFile): a failure throws panseg::Error naming the file and leaves no
// partial file behind (an earlier file at that path stays as it was).
#include <QImage>
#include <QString>
#include <QStringList>

#include <utility>
#include <vector>

class QTextDocument;

namespace panseg::ui
{
struct ReportTable
{
  QString caption;                // shown above the table (empty = none)
  QStringList columns;            // header cells
  std::vector<QStringList> rows;  // each row has columns.size() cells (shorter rows are padded)
  /// True when every non-empty cell of the column is a number (such columns are right-aligned).
  bool isNumericColumn(int column) const;
};

struct ReportImage
{
  QImage image;
  QString caption;
  int maxWidthPx = 600; // displayed width limit (HTML px; PDF scales to the page)
};

struct ReportSection
{
  QString heading;
  QStringList paragraphs;          // plain text (escaped when written)
  std::vector<ReportTable> tables; // written after the paragraphs
  std::vector<ReportImage> images; // written after the tables
  int imagesPerRow = 1;            // > 1: the images side by side in a grid, this many per row
};

struct Report
{
  QString title;
  std::vector<std::pair<QString, QString>> metadata; // key/value, in this order
  std::vector<ReportSection> sections;
  QString footer; // small print at the end (e.g. "Research use only. Not a medical device.")
  bool landscape = false; // PDF page orientation (wide tables)

  ReportSection& addSection(const QString& heading)
  {
    sections.push_back(ReportSection{ heading, {}, {}, {}, 1 });
    return sections.back();
  }
};

/// The report as one HTML document. With inlineImages the images are PNG data URIs (one
/// self-contained file); otherwise they reference resources "report-image:N" (used for PDF).
QString toHtml(const Report& report, bool inlineImages = true);
/// Puts the report into a QTextDocument with its images as resources (what writePdf prints and what
/// the GUI's report viewer shows in a QTextBrowser).
void loadIntoDocument(const Report& report, QTextDocument& document);
/// Writes toHtml(report) as UTF-8.
void writeHtml(const Report& report, const QString& path);
/// Writes an A4 PDF (portrait or landscape, 2 cm margins, "page N of M" at the bottom). Needs a
/// QGuiApplication. Headings and table captions are kept with what follows them: when one would
/// be the last thing on a page, a page break is put before it (see paginate).
void writePdf(const Report& report, const QString& path);

/// Where the top-level items of the PDF land: what writePdf prints, page by page (0-based).
struct ReportPageItem
{
  enum class Kind
  {
    Heading,   // h1/h2
    Caption,   // a paragraph directly followed by a table (the table's caption)
    Paragraph, // other text, images with their captions
    Table
  };
  Kind kind = Kind::Paragraph;
  QString text;      // the block's text (tables: their first cell's text)
  int firstPage = 0; // tables: the page of their first body row (after the header rows)
  int lastPage = 0;
  bool breakBefore = false; // a page break was put before it to keep it with the next item
};
struct ReportPagination
{
  int pages = 0;
  std::vector<ReportPageItem> items; // in document order; empty paragraphs are left out
};
/// Lays the report out as writePdf does (A4 at 300 dpi, same margins) and reports the pages of
/// its items. Needs a QGuiApplication.
ReportPagination paginate(const Report& report);
/// RFC 4180 CSV: comma separated, header row first, fields quoted when they hold a comma, quote
/// or line break; "\n" line ends; UTF-8 without BOM.
QString toCsv(const ReportTable& table);
void writeCsv(const ReportTable& table, const QString& path);
} // namespace panseg::ui
