#include "ui/VolumeTableView.h"

#include "ui/VolumeExport.h"
#include "ui/VolumeTableModel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

#include <set>

namespace panseg::ui
{
using namespace panseg::db;

namespace
{
QTableView* makeTable(QAbstractItemModel* model, QWidget* parent)
{
  auto* v = new QTableView(parent);
  v->setModel(model);
  v->setSortingEnabled(true);
  v->setSelectionBehavior(QAbstractItemView::SelectRows);
  v->setAlternatingRowColors(true);
  v->verticalHeader()->hide();
  v->horizontalHeader()->setStretchLastSection(true);
  return v;
}
} // namespace

VolumeTableView::VolumeTableView(QWidget* parent) : QWidget(parent)
{
  m_modality = new QComboBox(this);
  m_modality->addItem(tr("Any"), QString());
  for (const char* m : { "CT", "MRI (any)", "MRI-T1W", "MRI-T2W", "other" })
    m_modality->addItem(tr(m), QString(m));
  m_center = new QComboBox(this);
  m_center->addItem(tr("Any"), QString());
  m_from = new QLineEdit(this);
  m_from->setPlaceholderText("yyyy-mm-dd");
  m_to = new QLineEdit(this);
  m_to->setPlaceholderText("yyyy-mm-dd");
  m_approvedOnly = new QCheckBox(tr("Approved masks only"), this);
  m_label = new QSpinBox(this);
  m_label->setRange(db::VolumeFilter::kPancreasByName, 255);
  m_label->setSpecialValueText(tr("Pancreas (by name)"));
  m_label->setValue(db::VolumeFilter::kPancreasByName);
  m_label->setToolTip(tr("Pancreas (by name): the label each mask's label table names the pancreas "
                         "(TotalSegmentator v2: 7, v1: 10, PanSeg: 1); a number counts that label in every mask "
                         "(0 = any non-zero label)"));
  auto* refreshButton = new QPushButton(tr("&Refresh"), this);
  auto* exportButton = new QPushButton(tr("&Export..."), this);
  exportButton->setToolTip(tr("CSV, Excel (XLSX), PDF or HTML"));

  auto* filters = new QFormLayout;
  filters->addRow(tr("Modality"), m_modality);
  filters->addRow(tr("Center"), m_center);
  auto* dates = new QHBoxLayout;
  dates->addWidget(m_from);
  dates->addWidget(new QLabel(tr("to"), this));
  dates->addWidget(m_to);
  filters->addRow(tr("Study date"), dates);
  filters->addRow(tr("Label"), m_label);
  filters->addRow(QString(), m_approvedOnly);
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(refreshButton);
  buttons->addWidget(exportButton);
  buttons->addStretch();
  m_ruleLabel = new QLabel(this);
  m_ruleLabel->setObjectName("referenceRuleLabel");
  m_ruleLabel->setWordWrap(true);
  m_ruleBox = new QComboBox(this);
  m_ruleBox->setObjectName("referenceRuleBox");
  m_ruleBox->setToolTip(tr("Which approved mask represents a series (✓) in this table, follow-up and reports"));
  m_setRule = new QPushButton(tr("Set rule"), this);
  m_setRule->setObjectName("setReferenceRuleButton");
  m_setRule->setToolTip(tr("Coordinators and admins: make the chosen rule the database-wide rule (audited)"));
  auto* rule = new QHBoxLayout;
  rule->addWidget(m_ruleLabel, 1);
  rule->addWidget(m_ruleBox);
  rule->addWidget(m_setRule);

  m_model = new VolumeTableModel(this);
  m_sorted = new QSortFilterProxyModel(this);
  m_sorted->setSourceModel(m_model);
  m_sorted->setSortRole(Qt::UserRole);
  m_view = makeTable(m_sorted, this);
  m_followUp = new FollowUpTableModel(this);
  auto* followSorted = new QSortFilterProxyModel(this);
  followSorted->setSourceModel(m_followUp);
  followSorted->setSortRole(Qt::UserRole);
  m_followUpView = makeTable(followSorted, this);
  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(m_view);
  auto* followBox = new QWidget(split);
  auto* followLayout = new QVBoxLayout(followBox);
  followLayout->setContentsMargins(0, 0, 0, 0);
  followLayout->addWidget(new QLabel(tr("Follow-up: change between consecutive studies"), followBox));
  followLayout->addWidget(m_followUpView);
  split->addWidget(followBox);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 1);
  m_status = new QLabel(this);
  m_status->setWordWrap(true);

  auto* layout = new QVBoxLayout(this);
  layout->addLayout(filters);
  layout->addLayout(buttons);
  layout->addLayout(rule);
  layout->addWidget(split, 1);
  layout->addWidget(m_status);

  connect(refreshButton, &QPushButton::clicked, this, [this] { refresh(); });
  connect(exportButton, &QPushButton::clicked, this, &VolumeTableView::chooseAndExport);
  connect(m_setRule, &QPushButton::clicked, this, [this] { applyRule(); });
  for (QComboBox* box : { m_modality, m_center })
    connect(box, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
  connect(m_approvedOnly, &QCheckBox::toggled, this, [this] { refresh(); });
  connect(m_label, &QSpinBox::valueChanged, this, [this] { refresh(); });
  for (QLineEdit* e : { m_from, m_to })
    connect(e, &QLineEdit::editingFinished, this, [this] { refresh(); });
}

void VolumeTableView::setDatabase(StudyDatabase* database)
{
  m_db = database;
  {
    const QSignalBlocker block(m_ruleBox);
    m_ruleBox->clear();
    m_ruleBox->addItem(tr("Latest approved"), QString("latest"));
    m_ruleBox->addItem(tr("Consensus"), QString("consensus"));
    bool reviewer = false;
    if (m_db)
    {
      try
      {
        for (const User& u : m_db->users())
          if (u.active && (u.role == Role::Reader || u.role == Role::Coordinator))
            m_ruleBox->addItem(tr("Reader %1").arg(QString::fromStdString(u.username)),
                               "reader:" + QString::fromStdString(u.username));
      }
      catch (const std::exception& e)
      {
        fail(QString::fromUtf8(e.what()));
      }
      const Role role = m_db->currentUser().role;
      reviewer = canCoordinate(role);
    }
    m_ruleBox->setEnabled(reviewer);
    m_setRule->setEnabled(reviewer);
    m_setRule->setVisible(reviewer);
  }
  const QString current = m_center->currentData().toString();
  {
    const QSignalBlocker block(m_center);
    while (m_center->count() > 1)
      m_center->removeItem(1);
    if (m_db)
    {
      std::set<std::string> centers;
      try
      {
        for (const SeriesRecord& s : m_db->listSeries())
          if (!s.center.empty())
            centers.insert(s.center);
      }
      catch (const std::exception& e)
      {
        fail(QString::fromUtf8(e.what()));
      }
      for (const auto& c : centers)
        m_center->addItem(QString::fromStdString(c), QString::fromStdString(c));
    }
    m_center->setCurrentIndex(std::max(0, m_center->findData(current)));
  }
  refresh();
}

VolumeFilter VolumeTableView::filter() const
{
  VolumeFilter f;
  const QString modality = m_modality->currentData().toString();
  if (modality == "MRI (any)")
  {
    f.modality = Modality::Mri;
    f.anyMri = true;
  }
  else if (!modality.isEmpty())
    f.modality = parseModality(modality.toStdString());
  f.center = m_center->currentData().toString().toStdString();
  f.fromDate = m_from->text().trimmed().toStdString();
  f.toDate = m_to->text().trimmed().toStdString();
  f.approvedOnly = m_approvedOnly->isChecked();
  f.label = m_label->value();
  return f;
}

void VolumeTableView::fail(const QString& message)
{
  m_lastError = message;
  m_status->setText("<span style='color:#b00'>" + message.toHtmlEscaped() + "</span>");
}

bool VolumeTableView::refresh()
{
  if (!m_db)
  {
    fail(tr("No study database is open."));
    return false;
  }
  try
  {
    const VolumeTable t = buildVolumeTable(*m_db, filter());
    m_model->setTable(t);
    m_followUp->setTable(t);
    m_view->resizeColumnsToContents();
    m_followUpView->resizeColumnsToContents();
    m_lastError.clear();
    m_ruleLabel->setText(tr("✓ = %1").arg(QString::fromStdString(t.rule.describe())));
    {
      const QString key = t.rule.kind == ReferenceRuleKind::Reader
                            ? "reader:" + QString::fromStdString(t.rule.readerName)
                            : QString::fromStdString(to_string(t.rule.kind));
      const QSignalBlocker block(m_ruleBox);
      if (const int i = m_ruleBox->findData(key); i >= 0)
        m_ruleBox->setCurrentIndex(i);
    }
    QStringList missing;
    for (const ReferenceRow& ref : t.references)
      if (!ref.maskVersionId && ref.reason != "no approved version")
        missing << tr("series %1: %2").arg(ref.seriesId).arg(QString::fromStdString(ref.reason));
    if (!missing.isEmpty())
      m_ruleLabel->setText(m_ruleLabel->text() + "\n" + tr("No reference mask by the rule: %1").arg(missing.join("; ")));
    m_status->setText(tr("%n row(s), %1 follow-up interval(s); %2", nullptr, int(t.rows.size()))
                        .arg(t.followUp.size())
                        .arg(QString::fromStdString(t.filterText())));
    return true;
  }
  catch (const std::exception& e)
  {
    m_model->setTable(VolumeTable{});
    m_followUp->setTable(VolumeTable{});
    fail(QString::fromUtf8(e.what()));
    return false;
  }
}

bool VolumeTableView::applyRule()
{
  if (!m_db)
  {
    fail(tr("No study database is open."));
    return false;
  }
  const QString key = m_ruleBox->currentData().toString();
  try
  {
    if (key.startsWith("reader:"))
      setReferenceRule(*m_db, ReferenceRuleKind::Reader, key.mid(7).toStdString());
    else
      setReferenceRule(*m_db, parseReferenceRuleKind(key.toStdString()).value_or(ReferenceRuleKind::Latest));
  }
  catch (const std::exception& e)
  {
    fail(QString::fromUtf8(e.what()));
    return false;
  }
  return refresh();
}

bool VolumeTableView::exportTo(const QString& path)
{
  try
  {
    VolumeExportInfo info;
    info.softwareVersion = m_version;
    exportVolumeTable(m_model->table(), path, info);
    m_lastError.clear();
    m_status->setText(tr("Wrote %1").arg(path));
    return true;
  }
  catch (const std::exception& e)
  {
    fail(QString::fromUtf8(e.what()));
    return false;
  }
}

void VolumeTableView::chooseAndExport()
{
  const QString path = QFileDialog::getSaveFileName(
    this, tr("Export volume table"), "pancreas-volumes.xlsx",
    tr("Excel workbook (*.xlsx);;PDF report (*.pdf);;CSV (*.csv);;HTML report (*.html)"));
  if (!path.isEmpty())
    exportTo(path);
}
} // namespace panseg::ui
