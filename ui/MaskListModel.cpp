#include "ui/MaskListModel.h"
#include "database/QtText.h"

#include <QBrush>
#include <QColor>
#include <QDateTime>

namespace panseg::ui
{
MaskListModel::MaskListModel(QObject* parent) : QAbstractTableModel(parent) {}

void MaskListModel::setMasks(int64_t seriesId, std::vector<db::MaskVersion> masks)
{
  beginResetModel();
  m_seriesId = seriesId;
  m_rows = std::move(masks);
  endResetModel();
}

void MaskListModel::reload(const db::StudyDatabase& db, int64_t seriesId)
{
  setMasks(seriesId, seriesId ? db.masksOf(seriesId) : std::vector<db::MaskVersion>{});
}

int MaskListModel::rowOfMask(int64_t maskId) const
{
  for (size_t i = 0; i < m_rows.size(); ++i)
    if (m_rows[i].id == maskId)
      return int(i);
  return -1;
}

QString MaskListModel::formatTimestamp(const std::string& isoUtc)
{
  QDateTime t = QDateTime::fromString(qs(isoUtc), Qt::ISODateWithMs);
  if (!t.isValid())
    t = QDateTime::fromString(qs(isoUtc), Qt::ISODate);
  if (!t.isValid())
    return qs(isoUtc);
  return t.toLocalTime().toString("yyyy-MM-dd HH:mm");
}

QString MaskListModel::sourceText(const db::MaskVersion& m)
{
  QString s = qs(db::to_string(m.source));
  if (m.source == db::MaskSource::AI && !m.modelLabel.empty())
    s += " (" + qs(m.modelLabel) + ")";
  return s;
}

QString MaskListModel::authorText(const db::MaskVersion& m)
{
  if (!m.authorName.empty())
    return qs(m.authorName);
  return m.modelVersionId ? qs(m.modelLabel) : QString();
}

QString MaskListModel::checkText(const db::MaskVersion& m)
{
  if (!m.plausibility.checked)
    return {};
  return m.plausibility.flagged ? QString::fromUtf8("\u26A0 implausible") : tr("ok");
}

QString MaskListModel::labelVolumesText(const db::MaskVersion& m)
{
  QStringList parts;
  for (const auto& [label, ml] : m.labelVolumesMl)
    parts << tr("label %1: %2 mL").arg(label).arg(ml, 0, 'f', 2);
  return parts.join('\n');
}

int MaskListModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(m_rows.size()); }

int MaskListModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant MaskListModel::data(const QModelIndex& index, int role) const
{
  if (!index.isValid() || index.row() < 0 || size_t(index.row()) >= m_rows.size())
    return {};
  const db::MaskVersion& m = m_rows[size_t(index.row())];
  if (role == MaskIdRole)
    return qlonglong(m.id);
  if (role == Qt::TextAlignmentRole)
  {
    if (index.column() == IdColumn || index.column() == VolumeColumn || index.column() == ParentColumn)
      return int(Qt::AlignRight | Qt::AlignVCenter);
    return {};
  }
  if (role == Qt::ToolTipRole && index.column() == VolumeColumn)
    return labelVolumesText(m);
  if (m.plausibility.flagged && role == Qt::ForegroundRole &&
      (index.column() == CheckColumn || index.column() == VolumeColumn || index.column() == StateColumn))
    return QBrush(QColor(190, 30, 30));
  if (role == Qt::ToolTipRole && index.column() == CheckColumn && m.plausibility.checked)
    return m.plausibility.flagged
             ? tr("Flagged as implausible: %1\nLimits: %2\nApproving it asks for a confirmation.")
                 .arg(qs(m.plausibility.summary), qs(m.plausibility.limitsSource))
             : tr("Plausible (limits: %1)").arg(qs(m.plausibility.limitsSource));
  if (role == Qt::ToolTipRole)
  {
    if (!m.note.empty())
      return qs(m.note);
    if (!m.importedFrom.empty())
      return tr("imported from %1").arg(qs(m.importedFrom));
    return {};
  }
  if (role != Qt::DisplayRole && role != SortRole)
    return {};
  const bool sort = role == SortRole;
  switch (index.column())
  {
  case IdColumn: return qlonglong(m.id);
  case SourceColumn: return sourceText(m);
  case AuthorColumn: return authorText(m);
  case StateColumn: return qs(db::to_string(m.state));
  case VolumeColumn: return sort ? QVariant(m.volumeMl) : QVariant(QString::number(m.volumeMl, 'f', 2));
  case DateColumn: return sort ? QVariant(qs(m.createdAt)) : QVariant(formatTimestamp(m.createdAt));
  case ParentColumn:
    if (sort)
      return qlonglong(m.parentId);
    return m.parentId ? QVariant(qlonglong(m.parentId)) : QVariant(QString());
  case CheckColumn: return checkText(m);
  default: return {};
  }
}

QVariant MaskListModel::headerData(int section, Qt::Orientation orientation, int role) const
{
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
    return QAbstractTableModel::headerData(section, orientation, role);
  switch (section)
  {
  case IdColumn: return tr("Version");
  case SourceColumn: return tr("Source");
  case AuthorColumn: return tr("Author");
  case StateColumn: return tr("State");
  case VolumeColumn: return tr("Volume (mL)");
  case DateColumn: return tr("Date");
  case ParentColumn: return tr("Parent");
  case CheckColumn: return tr("Check");
  default: return {};
  }
}
} // namespace panseg::ui
