#pragma once
// A reader's worklist (or, for coordinators, every read of a study) as a Qt item model, no
// widgets: one row per read with its position in the reading order, series, read number, state
// (with the wash-out unlock time of locked second reads, and the AI-review verdict), mask
// version and the coordinator's comment. The rows come from database/studies/ReaderStudy.
#include "database/studies/ReaderStudy.h"

#include <QAbstractTableModel>

#include <vector>

namespace panseg::ui
{
class ReaderWorklistModel : public QAbstractTableModel
{
  Q_OBJECT
public:
  enum Column
  {
    PositionColumn,
    ReaderColumn,
    SeriesColumn,
    ReadColumn,
    StateColumn,
    MaskColumn,
    CommentColumn,
    ColumnCount
  };
  static constexpr int ReadIdRole = Qt::UserRole + 1;

  explicit ReaderWorklistModel(QObject* parent = nullptr);
  void setReads(std::vector<db::ReadRecord> reads);
  const std::vector<db::ReadRecord>& reads() const { return m_reads; }
  /// The read of a row (nullptr when out of range).
  const db::ReadRecord* readAt(int row) const;
  /// Row of a read id, -1 when absent.
  int rowOf(int64_t readId) const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;

  /// The state column's text: "pending", "locked until 2026-03-30 09:00 UTC", "submitted", ...
  static QString stateText(const db::ReadRecord& r);

private:
  std::vector<db::ReadRecord> m_reads;
};
} // namespace panseg::ui
