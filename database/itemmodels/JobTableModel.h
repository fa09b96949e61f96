#pragma once
// The Jobs dock's table (Qt Core only, no widgets): one row per job of the study database with
// state, progress, the last progress message (epoch, loss, validation Dice, ETA, device) and times.
// ui/JobsDock refreshes it on a timer; the jobs themselves run in other processes.
#include "database/StudyDatabase.h"

#include <QAbstractTableModel>

#include <vector>

namespace panseg::db
{
class JobTableModel : public QAbstractTableModel
{
  Q_OBJECT
public:
  enum Column
  {
    IdColumn,
    KindColumn,
    StateColumn,
    ProgressColumn,
    MessageColumn,
    CreatedColumn,
    ColumnCount
  };
  enum Role
  {
    JobIdRole = Qt::UserRole + 1, // qlonglong
  };

  explicit JobTableModel(QObject* parent = nullptr);
  /// Re-reads the jobs (newest first). Rows whose values did not change emit nothing.
  void reload(const StudyDatabase& db);
  const Job& jobAt(int row) const { return m_rows[size_t(row)]; }
  /// True for a job that is running and whose process is alive (Cancel applies).
  bool isCancellable(int row) const
  {
    return row >= 0 && size_t(row) < m_alive.size() && m_alive[size_t(row)];
  }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;

private:
  std::vector<Job> m_rows;
  std::vector<bool> m_alive;
};
} // namespace panseg::db
