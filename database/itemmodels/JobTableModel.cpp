#include "database/itemmodels/JobTableModel.h"

#include "database/jobs/FineTuning.h"

#include <algorithm>

namespace panseg::db
{
JobTableModel::JobTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void JobTableModel::reload(const StudyDatabase& db)
{
  std::vector<Job> rows = db.jobs();
  std::reverse(rows.begin(), rows.end());
  std::vector<bool> alive;
  for (const Job& j : rows)
    alive.push_back(j.state == JobState::Running && jobProcessId(db, j.id) > 0);
  const bool sameShape = rows.size() == m_rows.size() &&
                         std::equal(rows.begin(), rows.end(), m_rows.begin(),
                                    [](const Job& a, const Job& b) { return a.id == b.id; });
  if (!sameShape)
  {
    beginResetModel();
    m_rows = std::move(rows);
    m_alive = std::move(alive);
    endResetModel();
    return;
  }
  for (size_t i = 0; i < rows.size(); ++i)
  {
    const Job& a = rows[i];
    const Job& b = m_rows[i];
    const bool changed = a.state != b.state || a.progress != b.progress || a.message != b.message ||
                         alive[i] != m_alive[i];
    m_rows[i] = a;
    m_alive[i] = alive[i];
    if (changed)
      emit dataChanged(index(int(i), 0), index(int(i), ColumnCount - 1));
  }
}

int JobTableModel::rowCount(const QModelIndex& parent) const
{
  return parent.isValid() ? 0 : int(m_rows.size());
}
int JobTableModel::columnCount(const QModelIndex& parent) const
{
  return parent.isValid() ? 0 : ColumnCount;
}

QVariant JobTableModel::data(const QModelIndex& index, int role) const
{
  if (!index.isValid() || index.row() >= int(m_rows.size()))
    return {};
  const Job& j = m_rows[size_t(index.row())];
  if (role == JobIdRole)
    return qlonglong(j.id);
  if (role != Qt::DisplayRole && role != Qt::ToolTipRole)
    return {};
  switch (index.column())
  {
  case IdColumn:
    return qlonglong(j.id);
  case KindColumn:
    return QString::fromStdString(j.kind);
  case StateColumn:
  {
    QString s = QString::fromStdString(to_string(j.state));
    if (j.state == JobState::Running && !m_alive[size_t(index.row())] && j.kind == "training")
      s += tr(" (process gone)");
    return s;
  }
  case ProgressColumn:
    return QString::number(100.0 * j.progress, 'f', 0) + "%";
  case MessageColumn:
    return QString::fromStdString(j.message);
  case CreatedColumn:
    return QString::fromStdString(j.createdAt.substr(0, 19)).replace('T', ' ');
  default:
    return {};
  }
}

QVariant JobTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
    return {};
  static const char* names[ColumnCount] = {"Job", "Kind", "State", "Done", "Progress", "Created"};
  return section >= 0 && section < ColumnCount ? tr(names[section]) : QVariant();
}
} // namespace panseg::db
