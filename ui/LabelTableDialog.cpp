#include "ui/LabelTableDialog.h"

#include "core/Error.h"
#include "core/display/LabelPresets.h"

#include <QColorDialog>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QHeaderView>
#include <QIcon>
#include <QLabel>
#include <QMessageBox>
#include <QPainter>
#include <QPixmap>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

namespace panseg::ui
{
namespace
{
enum Column
{
  ValueColumn,
  ColorColumn,
  NameColumn,
  TypeColumn
};
}

QIcon labelSwatch(Rgb c, int size)
{
  QPixmap pm(size, size);
  pm.fill(QColor(c.r, c.g, c.b));
  QPainter p(&pm);
  p.setPen(QColor(40, 40, 40));
  p.drawRect(0, 0, size - 1, size - 1);
  return QIcon(pm);
}

LabelTableDialog::LabelTableDialog(const LabelTable& table, const std::vector<int>& present, QWidget* parent)
    : QDialog(parent)
{
  setWindowTitle(tr("Labels"));
  setObjectName("labelTableDialog");
  // Labels present in the mask become entries, so that the saved table names every one.
  m_present = present;
  for (const LabelInfo& l : table.entriesWith(present))
    m_table.set(l);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(new QLabel(tr("Names and colours of the shown mask's labels; saved with the next mask "
                                  "version and used for DICOM SEG export."),
                               this));
  m_grid = new QTableWidget(0, 4, this);
  m_grid->setObjectName("labelGrid");
  m_grid->setHorizontalHeaderLabels({ tr("Value"), tr("Colour"), tr("Name"), tr("DICOM type") });
  m_grid->verticalHeader()->hide();
  m_grid->horizontalHeader()->setStretchLastSection(true);
  m_grid->setSelectionBehavior(QAbstractItemView::SelectRows);
  layout->addWidget(m_grid);
  auto* row = new QHBoxLayout;
  auto* add = new QPushButton(tr("&Add label"), this);
  add->setObjectName("addLabel");
  auto* remove = new QPushButton(tr("&Remove"), this);
  remove->setObjectName("removeLabel");
  remove->setToolTip(tr("Removes the entry; voxels with this value keep it and show the default name"));
  row->addWidget(add);
  row->addWidget(remove);
  row->addStretch(1);
  auto* preset = new QComboBox(this);
  preset->setObjectName("labelPreset");
  preset->addItem(tr("Preset..."), QString());
  for (LabelPreset p : allLabelPresets())
    preset->addItem(QString::fromStdString(presetTitle(p)), QString::fromStdString(to_string(p)));
  preset->setToolTip(tr("Replace the table with the names of a known label map; the pancreas is then found by name"));
  connect(preset, &QComboBox::activated, this,
          [this, preset](int index)
          {
            if (index > 0)
              applyPreset(preset->itemData(index).toString());
            preset->setCurrentIndex(0);
          });
  row->addWidget(preset);
  layout->addLayout(row);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  layout->addWidget(buttons);
  connect(buttons, &QDialogButtonBox::accepted, this, &LabelTableDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &LabelTableDialog::reject);
  connect(add, &QPushButton::clicked, this, [this] { addLabel(); });
  connect(remove, &QPushButton::clicked, this,
          [this]
          {
            const int r = m_grid->currentRow();
            if (r < 0)
              return;
            m_table.remove(m_grid->item(r, ValueColumn)->data(Qt::UserRole).toInt());
            fill();
          });
  connect(m_grid, &QTableWidget::cellDoubleClicked, this,
          [this](int r, int column)
          {
            if (column == ColorColumn)
              chooseColor(r);
          });
  connect(m_grid, &QTableWidget::cellChanged, this,
          [this](int r, int column)
          {
            if (column != NameColumn)
              return;
            const int value = m_grid->item(r, ValueColumn)->data(Qt::UserRole).toInt();
            const QString name = m_grid->item(r, NameColumn)->text().trimmed();
            if (!name.isEmpty())
              setName(value, name);
          });
  fill();
  resize(560, 320);
}

bool LabelTableDialog::applyPreset(const QString& key)
{
  const auto preset = parseLabelPreset(key.toStdString());
  if (!preset)
    return false;
  m_table = LabelTable();
  for (const LabelInfo& l : presetLabelTable(*preset).entriesWith(m_present))
    m_table.set(l);
  fill();
  return true;
}

void LabelTableDialog::fill()
{
  const QSignalBlocker block(m_grid);
  const auto entries = m_table.entries();
  m_grid->setRowCount(static_cast<int>(entries.size()));
  for (int r = 0; r < static_cast<int>(entries.size()); ++r)
  {
    const LabelInfo& l = entries[static_cast<size_t>(r)];
    auto* value = new QTableWidgetItem(QString::number(l.value));
    value->setData(Qt::UserRole, l.value);
    value->setFlags(Qt::ItemIsSelectable | Qt::ItemIsEnabled);
    m_grid->setItem(r, ValueColumn, value);
    auto* color = new QTableWidgetItem(labelSwatch(l.color), QString::fromStdString(hexColor(l.color)));
    color->setFlags(Qt::ItemIsSelectable | Qt::ItemIsEnabled);
    color->setToolTip(tr("Double-click to choose a colour"));
    m_grid->setItem(r, ColorColumn, color);
    m_grid->setItem(r, NameColumn, new QTableWidgetItem(QString::fromStdString(l.name)));
    auto* type = new QTableWidgetItem(QString::fromStdString(l.type.meaning + " (" + l.type.scheme + " " +
                                                             l.type.value + ")"));
    type->setFlags(Qt::ItemIsSelectable | Qt::ItemIsEnabled);
    m_grid->setItem(r, TypeColumn, type);
  }
  m_grid->resizeColumnsToContents();
}

int LabelTableDialog::rowOf(int value) const
{
  for (int r = 0; r < m_grid->rowCount(); ++r)
    if (m_grid->item(r, ValueColumn)->data(Qt::UserRole).toInt() == value)
      return r;
  return -1;
}

void LabelTableDialog::chooseColor(int row)
{
  const int value = m_grid->item(row, ValueColumn)->data(Qt::UserRole).toInt();
  const Rgb c = m_table.label(value).color;
  const QColor chosen = QColorDialog::getColor(QColor(c.r, c.g, c.b), this, tr("Colour of label %1").arg(value));
  if (chosen.isValid())
    setColor(value, Rgb{ static_cast<uint8_t>(chosen.red()), static_cast<uint8_t>(chosen.green()),
                         static_cast<uint8_t>(chosen.blue()) });
}

bool LabelTableDialog::setColor(int value, Rgb color)
{
  if (!m_table.has(value))
    return false;
  LabelInfo l = m_table.label(value);
  l.color = color;
  m_table.set(l);
  fill();
  return true;
}

bool LabelTableDialog::setName(int value, const QString& name)
{
  if (!m_table.has(value) || name.trimmed().isEmpty())
    return false;
  LabelInfo l = m_table.label(value);
  const std::string newName = name.trimmed().toStdString();
  if (l.name != newName)
  {
    // A renamed label takes the codes of a structure known by its new name, else tissue codes
    // (LabelTable::set): "Pancreas" renamed to "Cyst" is no longer coded as pancreas.
    auto [category, type] = LabelTable::knownCodes(newName);
    l.name = newName;
    l.category = category;
    l.type = type;
  }
  m_table.set(l);
  fill();
  return true;
}

int LabelTableDialog::addLabel()
{
  const int value = m_table.nextFreeValue();
  if (value == 0)
    return 0;
  m_table.set(LabelTable::defaultLabel(value));
  fill();
  m_grid->selectRow(rowOf(value));
  return value;
}

void LabelTableDialog::accept()
{
  // Names typed but not yet committed by the editor are taken too.
  for (int r = 0; r < m_grid->rowCount(); ++r)
  {
    const QString name = m_grid->item(r, NameColumn)->text().trimmed();
    if (name.isEmpty())
    {
      QMessageBox::warning(this, tr("Labels"),
                           tr("Label %1 needs a name.").arg(m_grid->item(r, ValueColumn)->text()));
      return;
    }
  }
  QDialog::accept();
}
} // namespace panseg::ui
