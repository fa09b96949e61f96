#pragma once
// The study browser's table as Qt item models (Qt Core only, no widgets): ui/ puts them in a
// QTableView; tests and `panseg bench db` drive them headless.
//  - SeriesTableModel: one row per series (patient, study date, modality, center, description,
//    number of masks, latest mask state and volume).
//  - SeriesFilterModel: modality filter + center filter + free-text search (every word must occur
//    in the row) + sorting by the underlying values (dates as dates, volumes as numbers).

#include "database/StudyDatabase.h"

#include <QAbstractTableModel>
#include <QSortFilterProxyModel>

#include <optional>
#include <vector>

namespace panseg::db
{
class SeriesTableModel : public QAbstractTableModel
{
  Q_OBJECT
public:
  enum Column
  {
    IdColumn,
    PatientColumn,
    StudyDateColumn,
    ModalityColumn,
    CenterColumn,
    DescriptionColumn,
    MaskCountColumn,
    LatestStateColumn,
    VolumeColumn,
    ColumnCount
  };
  enum Role
  {
    SeriesIdRole = Qt::UserRole + 1, // qlonglong series id
    SortRole,                        // value to sort by
  };

  explicit SeriesTableModel(QObject* parent = nullptr);

  /// Replaces all rows (one model reset).
  void setSeries(std::vector<SeriesRecord> rows);
  /// Reads the series from the database (optionally pre-filtered in SQL).
  void reload(const StudyDatabase& db, const SeriesFilter& filter = {});

  const SeriesRecord& seriesAt(int row) const { return m_rows[size_t(row)]; }
  /// Distinct non-empty centers of the rows, sorted (for a center filter's choices).
  QStringList centers() const;
  /// Row of a series id, or -1.
  int rowOfSeries(int64_t seriesId) const;
  /// Lower-case text the free-text search looks in (patient, description, center, modality,
  /// study date, source path, latest state).
  const QString& searchText(int row) const { return m_search[size_t(row)]; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
  std::vector<SeriesRecord> m_rows;
  std::vector<QString> m_search;
};

class SeriesFilterModel : public QSortFilterProxyModel
{
  Q_OBJECT
public:
  explicit SeriesFilterModel(QObject* parent = nullptr);

  /// nullopt = any; Modality::Mri with anyMri = true matches MRI, MRI-T1W and MRI-T2W.
  void setModalityFilter(std::optional<Modality> modality, bool anyMri = true);
  /// Case-insensitive; every whitespace-separated word must occur in the row.
  void setSearchText(const QString& text);
  /// Exact center/site; empty = any.
  void setCenterFilter(const QString& center);

protected:
  bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

private:
  std::optional<Modality> m_modality;
  bool m_anyMri = true;
  QStringList m_words;
  std::string m_center;
};
} // namespace panseg::db
