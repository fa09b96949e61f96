#include "ui/ReaderWorklistModel.h"

#include <QDateTime>

namespace panseg::ui
{
ReaderWorklistModel::ReaderWorklistModel(QObject* parent) : QAbstractTableModel(parent) {}

void ReaderWorklistModel::setReads(std::vector<db::ReadRecord> reads)
{
  beginResetModel();
  m_reads = std::move(reads);
  endResetModel();
}

const db::ReadRecord* ReaderWorklistModel::readAt(int row) const
{
  return row >= 0 && row < int(m_reads.size()) ? &m_reads[size_t(row)] : nullptr;
}

int ReaderWorklistModel::rowOf(int64_t readId) const
{
  for (size_t i = 0; i < m_reads.size(); ++i)
    if (m_reads[i].id == readId)
      return int(i);
  return -1;
}

int ReaderWorklistModel::rowCount(const QModelIndex& parent) const
{
  return parent.isValid() ? 0 : int(m_reads.size());
}
int ReaderWorklistModel::columnCount(const QModelIndex& parent) const
{
  return parent.isValid() ? 0 : ColumnCount;
}

QString ReaderWorklistModel::stateText(const db::ReadRecord& r)
{
  QString s = QString::fromStdString(to_string(r.state));
  if (r.locked)
  {
    const QDateTime t =
        QDateTime::fromString(QString::fromStdString(r.unlockAt), Qt::ISODateWithMs);
    s = r.unlockAt.empty()
            ? QObject::tr("locked (after read 1)")
            : QObject::tr("locked until %1 UTC").arg(t.toUTC().toString("yyyy-MM-dd hh:mm"));
  }
  if (r.rating)
    s += QObject::tr(", rated %1").arg(QString::fromStdString(to_string(*r.rating)));
  return s;
}

QVariant ReaderWorklistModel::data(const QModelIndex& index, int role) const
{
  const db::ReadRecord* r = readAt(index.row());
  if (!r)
    return {};
  if (role == ReadIdRole)
    return qlonglong(r->id);
  if (role == Qt::ToolTipRole && (index.column() == CommentColumn || index.column() == StateColumn))
    return data(index, Qt::DisplayRole); // the full text, however narrow the column
  if (role != Qt::DisplayRole)
    return {};
  switch (index.column())
  {
  case PositionColumn:
    return r->orderPosition;
  case ReaderColumn:
    return QString::fromStdString(r->readerName);
  case SeriesColumn:
    return qlonglong(r->seriesId);
  case ReadColumn:
    return r->readNumber;
  case StateColumn:
    return stateText(*r);
  case MaskColumn:
    return r->maskVersionId ? QVariant(qlonglong(r->maskVersionId)) : QVariant(QString());
  case CommentColumn:
    return QString::fromStdString(r->comment);
  default:
    return {};
  }
}

QVariant ReaderWorklistModel::headerData(int section, Qt::Orientation orientation, int role) const
{
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
    return {};
  switch (section)
  {
  case PositionColumn:
    return tr("#");
  case ReaderColumn:
    return tr("Reader");
  case SeriesColumn:
    return tr("Series");
  case ReadColumn:
    return tr("Read");
  case StateColumn:
    return tr("State");
  case MaskColumn:
    return tr("Mask");
  case CommentColumn:
    return tr("Comment");
  default:
    return {};
  }
}
} // namespace panseg::ui
