#pragma once
// Table models (no widgets) over a db::VolumeTable: the volume rows and the follow-up rows, for
// the Volumes dock. Display text matches the PDF (volumes with 2 decimals); Qt::UserRole gives
// the raw value (numbers as double) so that a QSortFilterProxyModel sorts numerically.
#include "database/exports/VolumeTable.h"

#include <QAbstractTableModel>

namespace panseg::ui
{
class VolumeTableModel : public QAbstractTableModel
{
  Q_OBJECT
public:
  enum Column
  {
    Patient,
    StudyDate,
    Series,
    Modality,
    Center,
    Spacing,
    Mask,
    Source,
    State,
    ApprovedBy,
    VolumeMl,
    ColumnCount
  };
  using QAbstractTableModel::QAbstractTableModel;
  void setTable(const db::VolumeTable& table);
  const db::VolumeTable& table() const { return m_table; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
  db::VolumeTable m_table;
};

class FollowUpTableModel : public QAbstractTableModel
{
  Q_OBJECT
public:
  enum Column
  {
    Patient,
    Group,
    FromDate,
    ToDate,
    Days,
    FromMl,
    ToMl,
    ChangeMl,
    ChangePercent,
    ColumnCount
  };
  using QAbstractTableModel::QAbstractTableModel;
  void setTable(const db::VolumeTable& table);

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
  std::vector<db::FollowUpRow> m_rows;
};
} // namespace panseg::ui
