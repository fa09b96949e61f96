#pragma once
// The study browser's list of mask versions of one series, as a Qt item model (no widgets):
// one row per version, oldest first, with source, author (or producing model), review state,
// volume (per label in the tooltip), creation date (local time), the version it was edited from
// and, for AI versions, the plausibility check (flagged versions in red, findings in the tooltip).

#include "database/StudyDatabase.h"

#include <QAbstractTableModel>

#include <vector>

namespace panseg::ui
{
class MaskListModel : public QAbstractTableModel
{
  Q_OBJECT
public:
  enum Column
  {
    IdColumn,
    SourceColumn,
    AuthorColumn,
    StateColumn,
    VolumeColumn,
    DateColumn,
    ParentColumn,
    CheckColumn, // plausibility of AI versions: "⚠ implausible" (summary in the tooltip), "ok" or empty
    ColumnCount
  };
  enum Role
  {
    MaskIdRole = Qt::UserRole + 1, // qlonglong mask version id
    SortRole,                      // value to sort by
  };

  explicit MaskListModel(QObject* parent = nullptr);

  /// Replaces all rows (one model reset).
  void setMasks(int64_t seriesId, std::vector<db::MaskVersion> masks);
  /// Reads the versions of `seriesId` (0 = none: empties the list).
  void reload(const db::StudyDatabase& db, int64_t seriesId);
  void clear() { setMasks(0, {}); }

  int64_t seriesId() const { return m_seriesId; }
  const db::MaskVersion& maskAt(int row) const { return m_rows[size_t(row)]; }
  /// Row of a mask version id, or -1.
  int rowOfMask(int64_t maskId) const;

  /// "2026-03-01 14:05" in local time from the database's ISO UTC timestamp (as given if unparsable).
  static QString formatTimestamp(const std::string& isoUtc);
  /// "reader", or "ai" with the model ("ai (panseg-ct 2026.1)").
  static QString sourceText(const db::MaskVersion& m);
  /// The author's name, or the model for AI versions without an author name.
  static QString authorText(const db::MaskVersion& m);
  /// "⚠ implausible", "ok" (checked, plausible) or "" (not checked) for the check column.
  static QString checkText(const db::MaskVersion& m);
  /// One line per label: "label 3: 2.53 mL" (the volume column's tooltip).
  static QString labelVolumesText(const db::MaskVersion& m);

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
  int64_t m_seriesId = 0;
  std::vector<db::MaskVersion> m_rows;
};
} // namespace panseg::ui
