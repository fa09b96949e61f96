#pragma once
// The "Labels" editor: rename, recolour, add and remove labels of the shown mask's label table
// (core/display/LabelTable.h), or replace it with a preset (TotalSegmentator v1/v2, MSD Task07, ...). The dialog only edits a copy; the caller applies table() to the
// ViewerModel, and the study database stores it with the next saved mask version.

#include "core/display/LabelTable.h"

#include <QDialog>

class QTableWidget;

namespace panseg::ui
{
class LabelTableDialog : public QDialog
{
  Q_OBJECT
public:
  /// `present`: label values in the mask (listed even when the table has no entry for them).
  LabelTableDialog(const panseg::LabelTable& table, const std::vector<int>& present, QWidget* parent = nullptr);
  /// The edited table (valid after accept()).
  panseg::LabelTable table() const { return m_table; }
  /// Sets the colour of the row of `value` (what the colour button's dialog does; tests).
  bool setColor(int value, panseg::Rgb color);
  bool setName(int value, const QString& name);
  /// Adds the next free label value; returns it (0 when all 255 are used).
  int addLabel();
  /// Replaces the table with a preset's (core/display/LabelPresets.h: "totalsegmentator-v2", ...;
  /// what the Preset box does). False for an unknown key.
  bool applyPreset(const QString& key);

  void accept() override;

private:
  void fill();
  int rowOf(int value) const;
  void chooseColor(int row);
  panseg::LabelTable m_table;
  std::vector<int> m_present;
  QTableWidget* m_grid = nullptr;
};

/// A small square swatch of a label's colour, for pickers and tables.
QIcon labelSwatch(panseg::Rgb color, int size = 14);
} // namespace panseg::ui
