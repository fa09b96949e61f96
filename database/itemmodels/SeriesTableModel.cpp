#include "database/itemmodels/SeriesTableModel.h"
#include "database/QtText.h"

#include <cmath>

namespace panseg::db
{
namespace
{
QString patientText(const SeriesRecord& r)
{
  if (r.patientId.empty())
    return qs(r.patientName);
  if (r.patientName.empty())
    return qs(r.patientId);
  return qs(r.patientId) + " (" + qs(r.patientName) + ")";
}

bool isMri(Modality m) { return m == Modality::Mri || m == Modality::MriT1w || m == Modality::MriT2w; }
} // namespace

SeriesTableModel::SeriesTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void SeriesTableModel::setSeries(std::vector<SeriesRecord> rows)
{
  beginResetModel();
  m_rows = std::move(rows);
  m_search.clear();
  m_search.reserve(m_rows.size());
  for (const auto& r : m_rows)
  {
    QString s = patientText(r) + ' ' + qs(r.description) + ' ' + qs(r.center) + ' ' + qs(to_string(r.modality)) +
                ' ' + qs(r.studyDate) + ' ' + qs(r.studyDescription) + ' ' + qs(r.sourcePath);
    if (r.latestMaskState)
      s += ' ' + qs(to_string(*r.latestMaskState));
    m_search.push_back(s.toLower());
  }
  endResetModel();
}

void SeriesTableModel::reload(const StudyDatabase& db, const SeriesFilter& filter) { setSeries(db.listSeries(filter)); }

QStringList SeriesTableModel::centers() const
{
  QStringList out;
  for (const auto& r : m_rows)
    if (!r.center.empty())
      out << qs(r.center);
  out.removeDuplicates();
  out.sort(Qt::CaseInsensitive);
  return out;
}

int SeriesTableModel::rowOfSeries(int64_t seriesId) const
{
  for (size_t i = 0; i < m_rows.size(); ++i)
    if (m_rows[i].id == seriesId)
      return int(i);
  return -1;
}

int SeriesTableModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(m_rows.size()); }

int SeriesTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant SeriesTableModel::data(const QModelIndex& index, int role) const
{
  if (!index.isValid() || index.row() < 0 || size_t(index.row()) >= m_rows.size())
    return {};
  const SeriesRecord& r = m_rows[size_t(index.row())];
  if (role == SeriesIdRole)
    return qlonglong(r.id);
  if (role == Qt::TextAlignmentRole)
  {
    if (index.column() == IdColumn || index.column() == MaskCountColumn || index.column() == VolumeColumn)
      return int(Qt::AlignRight | Qt::AlignVCenter);
    return {};
  }
  if (role == Qt::ToolTipRole && index.column() == DescriptionColumn)
    return qs(r.sourcePath);
  if (role == Qt::ToolTipRole && index.column() == ModalityColumn)
    return "detected from " + qs(r.modalitySource);
  if (role != Qt::DisplayRole && role != SortRole)
    return {};
  const bool sort = role == SortRole;
  switch (index.column())
  {
  case IdColumn: return qlonglong(r.id);
  case PatientColumn: return patientText(r);
  case StudyDateColumn: return qs(r.studyDate);
  case ModalityColumn: return qs(to_string(r.modality));
  case CenterColumn: return qs(r.center);
  case DescriptionColumn: return qs(r.description);
  case MaskCountColumn: return r.maskCount;
  case LatestStateColumn:
    return r.latestMaskState ? qs(to_string(*r.latestMaskState)) : QString();
  case VolumeColumn:
    if (std::isnan(r.latestVolumeMl))
      return sort ? QVariant(-1.0) : QVariant(QString());
    return sort ? QVariant(r.latestVolumeMl) : QVariant(QString::number(r.latestVolumeMl, 'f', 2));
  default: return {};
  }
}

QVariant SeriesTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
  if (orientation == Qt::Horizontal && role == Qt::ToolTipRole && section == VolumeColumn)
    return tr("Pancreas volume of the newest mask version: the label its label table names the pancreas "
              "(TotalSegmentator v2: 7, v1: 10, PanSeg: 1)");
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
    return QAbstractTableModel::headerData(section, orientation, role);
  switch (section)
  {
  case IdColumn: return tr("ID");
  case PatientColumn: return tr("Patient");
  case StudyDateColumn: return tr("Study date");
  case ModalityColumn: return tr("Modality");
  case CenterColumn: return tr("Center");
  case DescriptionColumn: return tr("Series");
  case MaskCountColumn: return tr("Masks");
  case LatestStateColumn: return tr("Latest mask");
  case VolumeColumn: return tr("Volume (mL)");
  default: return {};
  }
}

SeriesFilterModel::SeriesFilterModel(QObject* parent) : QSortFilterProxyModel(parent)
{
  setSortRole(SeriesTableModel::SortRole);
}

void SeriesFilterModel::setModalityFilter(std::optional<Modality> modality, bool anyMri)
{
  m_modality = modality;
  m_anyMri = anyMri;
  invalidateFilter();
}

void SeriesFilterModel::setSearchText(const QString& text)
{
  m_words = text.toLower().split(' ', Qt::SkipEmptyParts);
  invalidateFilter();
}

void SeriesFilterModel::setCenterFilter(const QString& center)
{
  m_center = center.toStdString();
  invalidateFilter();
}

bool SeriesFilterModel::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const
{
  const auto* model = qobject_cast<const SeriesTableModel*>(sourceModel());
  if (!model || sourceParent.isValid())
    return true;
  const SeriesRecord& r = model->seriesAt(sourceRow);
  if (m_modality)
  {
    const bool match = (m_anyMri && *m_modality == Modality::Mri) ? isMri(r.modality) : r.modality == *m_modality;
    if (!match)
      return false;
  }
  if (!m_center.empty() && r.center != m_center)
    return false;
  const QString& text = model->searchText(sourceRow);
  for (const QString& w : m_words)
    if (!text.contains(w))
      return false;
  return true;
}
} // namespace panseg::db
