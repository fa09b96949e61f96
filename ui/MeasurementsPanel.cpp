#include "ui/MeasurementsPanel.h"

#include "ui/EditController.h"
#include "ui/ViewerModel.h"

#include <QApplication>
#include <QClipboard>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

namespace panseg::ui
{
namespace
{
QLabel* valueLabel(const char* name, QWidget* parent)
{
  auto* l = new QLabel(parent);
  l->setObjectName(QLatin1String(name));
  l->setTextInteractionFlags(Qt::TextSelectableByMouse);
  l->setWordWrap(true);
  return l;
}

QString number(double v, int decimals = 1)
{
  return QString::number(v, 'f', decimals);
}
} // namespace

MeasurementsPanel::MeasurementsPanel(ViewerModel* model, EditController* edit, QWidget* parent)
    : QWidget(parent), m_model(model), m_edit(edit)
{
  setObjectName("measurementsPanel");
  setMinimumWidth(220);
  auto* layout = new QVBoxLayout(this);
  m_title = valueLabel("measureTitle", this);
  QFont bold = m_title->font();
  bold.setBold(true);
  m_title->setFont(bold);
  layout->addWidget(m_title);

  // One value per row, so that a narrow dock never wraps a number.
  auto* form = new QFormLayout;
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  form->setHorizontalSpacing(14);
  auto addRow = [&](const QString& name, const char* objectName, const QString& tip = {})
  {
    QLabel* v = valueLabel(objectName, this);
    v->setToolTip(tip);
    form->addRow(name, v);
    m_rows.emplace_back(name, v);
    return v;
  };
  auto addSection = [&](const QString& title, const QString& tip)
  {
    auto* l = new QLabel(title, this);
    l->setFont(bold);
    l->setToolTip(tip);
    form->addRow(l);
  };
  m_voxels = addRow(tr("Voxels"), "measureVoxels");
  m_volume = addRow(tr("Volume"), "measureVolume");
  const QString intensityTip = tr("Image intensities inside the label (sample standard deviation)");
  m_intensity = addRow(tr("Mean ± SD"), "measureIntensity", intensityTip);
  m_median = addRow(tr("Median"), "measureMedian", intensityTip);
  m_range = addRow(tr("Min .. max"), "measureRange", intensityTip);
  const QString extentTip = tr("Width of the label along the patient axes (voxel boxes included)");
  addSection(tr("Extent"), extentTip);
  m_extent[0] = addRow(tr("L-R"), "measureExtentLR", extentTip);
  m_extent[1] = addRow(tr("A-P"), "measureExtentAP", extentTip);
  m_extent[2] = addRow(tr("S-I"), "measureExtentSI", extentTip);
  const QString axesTip = tr("Extent along the principal axes (PCA of the voxel positions in mm), longest first. "
                             "Straight lines: a curved pancreas is longer along its centreline.");
  addSection(tr("Principal axes"), axesTip);
  m_axes[0] = addRow(tr("Length"), "measureLength", axesTip);
  m_axes[1] = addRow(tr("Width"), "measureWidth", axesTip);
  m_axes[2] = addRow(tr("Thickness"), "measureThickness", axesTip);
  layout->addLayout(form);

  auto* rulerTitle = new QLabel(tr("Rulers"), this);
  rulerTitle->setFont(bold);
  layout->addWidget(rulerTitle);
  m_rulers = valueLabel("measureRulers", this);
  layout->addWidget(m_rulers);

  auto* buttons = new QHBoxLayout;
  auto* copy = new QPushButton(tr("Copy"), this);
  copy->setObjectName("measureCopy");
  copy->setToolTip(tr("Copy the measurements as text"));
  connect(copy, &QPushButton::clicked, this, [this] { QApplication::clipboard()->setText(summaryText()); });
  buttons->addStretch(1);
  buttons->addWidget(copy);
  layout->addLayout(buttons);
  layout->addStretch(1);

  m_debounce.setSingleShot(true);
  m_debounce.setInterval(kDebounceMs);
  connect(&m_debounce, &QTimer::timeout, this, &MeasurementsPanel::refreshNow);
  // Whole-mask changes and committed edits (one per stroke, undo, redo); live brush stamps
  // (maskPainted) are not measured.
  connect(m_model, &ViewerModel::imageChanged, this, &MeasurementsPanel::schedule);
  connect(m_model, &ViewerModel::maskChanged, this, &MeasurementsPanel::schedule);
  connect(m_model, &ViewerModel::maskEdited, this, &MeasurementsPanel::schedule);
  connect(m_model, &ViewerModel::rulersChanged, this, &MeasurementsPanel::showRulers);
  if (m_edit)
    connect(m_edit, &EditController::settingsChanged, this,
            [this]
            {
              if (!m_has || m_stats.label != label())
                schedule();
            });
  refreshNow();
  showRulers();
}

int MeasurementsPanel::label() const
{
  return m_edit ? m_edit->activeLabel() : 1;
}

void MeasurementsPanel::schedule()
{
  m_stale = true;
  if (isVisible())
    m_debounce.start();
}

void MeasurementsPanel::showEvent(QShowEvent* e)
{
  QWidget::showEvent(e);
  if (m_stale)
    m_debounce.start();
}

void MeasurementsPanel::refreshNow()
{
  m_debounce.stop();
  m_stale = false;
  m_has = false;
  const int lab = label();
  const auto mask = m_model->maskShared();
  const auto image = m_model->imageShared();
  for (const auto& row : m_rows)
    row.second->clear();
  if (!image || !mask)
  {
    m_title->setText(!image ? tr("Open an image and a mask to measure them.")
                            : tr("No mask shown: open, predict or paint one."));
    emit updated();
    return;
  }
  m_stats = measure::maskStatistics(*mask, lab, image.get());
  m_has = true;
  ++m_computeCount;
  const measure::MaskStatistics& s = m_stats;
  const QString unit = m_model->isCt() ? tr(" HU") : QString();
  m_title->setText(tr("Label %1").arg(lab));
  m_voxels->setText(QString::number(s.voxels));
  m_volume->setText(tr("%1 mL").arg(number(s.volumeMl, 2)));
  if (s.voxels == 0)
  {
    m_title->setText(tr("Label %1: no voxels in this mask").arg(lab));
    emit updated();
    return;
  }
  m_intensity->setText(tr("%1 ± %2%3").arg(number(s.intensity.mean), number(s.intensity.sd), unit));
  m_median->setText(number(s.intensity.median) + unit);
  m_range->setText(tr("%1 .. %2%3").arg(number(s.intensity.min), number(s.intensity.max), unit));
  for (int k = 0; k < 3; ++k)
  {
    m_extent[k]->setText(tr("%1 mm").arg(number(s.extentMm[k])));
    m_axes[k]->setText(tr("%1 mm").arg(number(s.axes.lengthsMm[k])));
  }
  emit updated();
}

void MeasurementsPanel::showRulers()
{
  QStringList lines;
  int n = 0;
  for (const Ruler& r : m_model->rulers())
    lines << tr("%1. %2 slice %3: %4")
                 .arg(++n)
                 .arg(tr(sliceOrientationName(r.orientation)))
                 .arg(r.slice + 1)
                 .arg(ViewerModel::rulerText(r.lengthMm));
  m_rulers->setText(lines.isEmpty() ? tr("None. Ruler tool (L): drag on a slice view; Esc clears.")
                                    : lines.join('\n'));
}

QString MeasurementsPanel::summaryText() const
{
  QStringList out;
  out << m_title->text();
  for (const auto& [name, label] : m_rows)
    if (!label->text().isEmpty())
      out << name + ": " + label->text();
  if (!m_model->rulers().empty())
    out << tr("Rulers:") << m_rulers->text();
  return out.join('\n');
}
} // namespace panseg::ui
