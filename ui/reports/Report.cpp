#include "ui/reports/Report.h"

#include "core/AtomicFile.h"
#include "core/Error.h"

#include <QAbstractTextDocumentLayout>
#include <QBuffer>
#include <QGuiApplication>
#include <QPageLayout>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QScreen>
#include <QTextBlock>
#include <QTextCursor>
#include <QTextDocument>
#include <QTextFrame>
#include <QTextTable>
#include <QUrl>

#include <algorithm>
#include <cmath>

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
              " .footer{color:#555;font-size:8pt;} table.grid td{border:none;}</style></head><body>\n";
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
    auto imageHtml = [&](const ReportImage& img)
    {
      const int width = std::min(img.maxWidthPx, img.image.width());
      const QString src = inlineImages ? pngDataUri(img.image) : imageName(imageIndex);
      ++imageIndex;
      return QString("<img src=\"%1\" width=\"%2\" alt=\"%3\"><br><i>%3</i>").arg(src).arg(width).arg(esc(img.caption));
    };
    if (s.imagesPerRow <= 1)
      for (const ReportImage& img : s.images)
        h += "<p>" + imageHtml(img) + "</p>\n";
    else if (!s.images.empty())
    {
      // A grid without rules; each row is laid out (and paginated) as a whole.
      const int perRow = s.imagesPerRow;
      const int cellWidth = 100 / perRow;
      h += "<table class=\"grid\" border=\"0\" cellspacing=\"0\" cellpadding=\"4\" width=\"100%\">\n";
      for (size_t i = 0; i < s.images.size(); i += size_t(perRow))
      {
        h += "<tr>";
        for (size_t j = i; j < i + size_t(perRow); ++j)
          h += QString("<td align=\"center\" valign=\"top\" width=\"%1%\">").arg(cellWidth) +
               (j < s.images.size() ? imageHtml(s.images[j]) : QString()) + "</td>";
        h += "</tr>\n";
      }
      h += "</table>\n";
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

namespace
{
/// The report laid out for a paged device as writePdf prints it: the device's resolution, pages
/// of the device's size with 2 cm margins, headings and captions kept with what follows.
class PagedLayout
{
public:
  PagedLayout(const Report& report, QPagedPaintDevice& device)
  {
    loadIntoDocument(report, m_doc);
    m_doc.documentLayout()->setPaintDevice(&device);
    m_margin = 2.0 / 2.54 * device.logicalDpiY(); // device pixels
    // The layout scales lengths in formats (margins, image sizes in px) from the screen's logical
    // resolution to the device's, so the margin is given in screen pixels.
    const QScreen* screen = QGuiApplication::primaryScreen();
    const qreal screenDpi = screen ? qreal(qRound(screen->logicalDotsPerInchY())) : 96.0;
    QTextFrameFormat root = m_doc.rootFrame()->frameFormat();
    root.setMargin(2.0 / 2.54 * screenDpi);
    m_doc.rootFrame()->setFrameFormat(root);
    m_page = QSizeF(device.width(), device.height());
    m_doc.setPageSize(m_page);
    keepWithNext();
  }

  QTextDocument& document() { return m_doc; }
  qreal margin() const { return m_margin; }
  QSizeF pageSize() const { return m_page; }
  int pageOf(qreal y) const { return int(std::floor(y / m_page.height())); }

  struct Item
  {
    ReportPageItem info;
    QTextBlock block; // the block to break before (tables: the block before them, if any)
    bool keep = false;
    qreal top = 0, bottom = 0;
  };

  /// The top-level items of the root frame with their vertical extent in document coordinates.
  std::vector<Item> items()
  {
    QAbstractTextDocumentLayout* layout = m_doc.documentLayout();
    std::vector<Item> out;
    for (QTextFrame::iterator it = m_doc.rootFrame()->begin(); !it.atEnd(); ++it)
    {
      if (QTextFrame* frame = it.currentFrame())
      {
        auto* table = qobject_cast<QTextTable*>(frame);
        if (!table || table->rows() == 0 || table->columns() == 0)
          continue;
        Item item;
        item.info.kind = ReportPageItem::Kind::Table;
        const int firstBody = std::min(table->rows() - 1, std::max(0, table->format().headerRowCount()));
        const QTextBlock first = table->cellAt(firstBody, 0).firstCursorPosition().block();
        const QTextBlock last = table->cellAt(table->rows() - 1, 0).lastCursorPosition().block();
        item.info.text = table->cellAt(0, 0).firstCursorPosition().block().text();
        item.top = layout->blockBoundingRect(first).top();
        item.bottom = layout->blockBoundingRect(last).bottom();
        out.push_back(item);
        continue;
      }
      const QTextBlock block = it.currentBlock();
      if (!block.isValid() || block.text().trimmed().isEmpty())
        continue;
      Item item;
      item.block = block;
      item.info.text = block.text().trimmed();
      item.info.kind = block.blockFormat().headingLevel() > 0 ? ReportPageItem::Kind::Heading
                                                              : ReportPageItem::Kind::Paragraph;
      const QRectF r = layout->blockBoundingRect(block);
      item.top = r.top();
      item.bottom = r.bottom();
      item.info.breakBefore = block.blockFormat().pageBreakPolicy() & QTextFormat::PageBreak_AlwaysBefore;
      out.push_back(item);
    }
    for (size_t i = 0; i + 1 < out.size(); ++i)
      if (out[i].info.kind == ReportPageItem::Kind::Paragraph &&
          out[i + 1].info.kind == ReportPageItem::Kind::Table)
        out[i].info.kind = ReportPageItem::Kind::Caption;
    for (Item& item : out)
    {
      item.keep = item.info.kind == ReportPageItem::Kind::Heading ||
                  item.info.kind == ReportPageItem::Kind::Caption;
      item.info.firstPage = pageOf(item.top);
      item.info.lastPage = std::max(item.info.firstPage, pageOf(item.bottom - 1));
    }
    return out;
  }

private:
  /// Puts a page break before a heading or caption (or the run of them it ends) that would
  /// otherwise stay at the bottom of a page while what it introduces starts on the next one.
  void keepWithNext()
  {
    for (int round = 0; round < 200; ++round)
    {
      const std::vector<Item> all = items();
      bool changed = false;
      for (size_t i = 0; i + 1 < all.size() && !changed; ++i)
      {
        if (!all[i].keep || all[i].info.lastPage == all[i + 1].info.firstPage)
          continue;
        size_t start = i; // the whole run of headings and captions moves
        while (start > 0 && all[start - 1].keep && all[start - 1].info.lastPage == all[i].info.firstPage)
          --start;
        if (all[start].info.breakBefore || !all[start].block.isValid())
          continue; // already at the top of a page: nothing to gain
        QTextCursor cursor(all[start].block);
        QTextBlockFormat f = all[start].block.blockFormat();
        f.setPageBreakPolicy(f.pageBreakPolicy() | QTextFormat::PageBreak_AlwaysBefore);
        cursor.setBlockFormat(f);
        changed = true;
      }
      if (!changed)
        return;
    }
  }

  QTextDocument m_doc;
  qreal m_margin = 0;
  QSizeF m_page;
};

void setUpWriter(QPdfWriter& writer, const Report& report)
{
  writer.setTitle(report.title);
  writer.setCreator("PanSeg Workstation");
  writer.setResolution(300);
  // No device margins: the document's root frame carries the 2 cm margins on every page.
  writer.setPageLayout(QPageLayout(QPageSize(QPageSize::A4),
                                   report.landscape ? QPageLayout::Landscape : QPageLayout::Portrait,
                                   QMarginsF(0, 0, 0, 0), QPageLayout::Millimeter));
}

void requireGuiApplication(const QString& what)
{
  if (!qobject_cast<QGuiApplication*>(QCoreApplication::instance()))
    throw Error("cannot " + what.toStdString() + ": no QGuiApplication (internal error)");
}
} // namespace

void writePdf(const Report& report, const QString& path)
{
  requireGuiApplication("write the PDF " + path);
  QByteArray bytes;
  {
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    QPdfWriter writer(&buffer);
    setUpWriter(writer, report);
    PagedLayout paged(report, writer);
    QTextDocument& doc = paged.document();
    const int pages = doc.pageCount();
    const QSizeF page = paged.pageSize();
    QPainter painter(&writer);
    QFont small = doc.defaultFont();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    for (int i = 0; i < pages; ++i)
    {
      if (i > 0)
        writer.newPage();
      painter.save();
      const QRectF view(0, i * page.height(), page.width(), page.height());
      painter.translate(0, -view.top());
      painter.setClipRect(view);
      QAbstractTextDocumentLayout::PaintContext context;
      context.clip = view;
      context.palette.setColor(QPalette::Text, Qt::black);
      doc.documentLayout()->draw(&painter, context);
      painter.restore();
      painter.setFont(small);
      painter.setPen(Qt::darkGray);
      painter.drawText(QRectF(0, page.height() - paged.margin() * 0.75, page.width(), paged.margin() * 0.5),
                       Qt::AlignCenter, QString("page %1 of %2").arg(i + 1).arg(pages));
    }
    painter.end();
  }
  if (bytes.isEmpty())
    throw Error("cannot write the PDF " + path.toStdString() + ": nothing was rendered");
  save(path, bytes);
}

ReportPagination paginate(const Report& report)
{
  requireGuiApplication("lay out the report");
  QByteArray bytes;
  QBuffer buffer(&bytes);
  buffer.open(QIODevice::WriteOnly);
  QPdfWriter writer(&buffer);
  setUpWriter(writer, report);
  PagedLayout paged(report, writer);
  ReportPagination out;
  out.pages = paged.document().pageCount();
  for (const auto& item : paged.items())
    out.items.push_back(item.info);
  return out;
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
