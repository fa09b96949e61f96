#include "ui/JobsDock.h"

#include "core/Error.h"
#include "database/jobs/FineTuning.h"
#include "database/itemmodels/JobTableModel.h"
#include "database/StudyDatabase.h"
#include "database/session/WorkstationSession.h"
#include "database/jobs/TrainingCurve.h"
#include "ui/TrainingCurveView.h"

#include <QComboBox>
#include <QCoreApplication>
#include <QDateTime>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QProcess>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>

namespace panseg::ui
{
QStringList trainCommandArguments(const FineTuneRequest& r)
{
  QStringList a{"train",
                "--db",
                r.dataFolder,
                "--base-model",
                r.baseModel,
                "--out",
                r.outDir,
                "--epochs",
                QString::number(r.epochs),
                "--iters",
                QString::number(r.iterations),
                "--quiet"};
  if (!r.modality.isEmpty())
    a << "--modality" << r.modality;
  if (!r.center.isEmpty())
    a << "--center" << r.center;
  return a;
}

bool startDetachedTraining(const FineTuneRequest& r, QString* error, qint64* pid)
{
  QProcess p;
  p.setProgram(QCoreApplication::applicationFilePath());
  p.setArguments(trainCommandArguments(r));
  p.setStandardOutputFile(QProcess::nullDevice());
  p.setStandardErrorFile(QProcess::nullDevice());
  if (!p.startDetached(pid))
  {
    if (error)
      *error = QObject::tr("cannot start %1: %2").arg(p.program(), p.errorString());
    return false;
  }
  return true;
}

JobsDock::JobsDock(const QString& dataFolder, QWidget* parent) : JobsDock(nullptr, parent)
{
  m_dataFolder = dataFolder;
  refresh();
}

JobsDock::JobsDock(db::WorkstationSession* session, QWidget* parent) : QWidget(parent), m_session(session)
{
  m_model = new db::JobTableModel(this);
  m_view = new QTableView;
  m_view->setModel(m_model);
  m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_view->setSelectionMode(QAbstractItemView::SingleSelection);
  m_view->horizontalHeader()->setStretchLastSection(false);
  m_view->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  m_view->setWordWrap(false);
  m_view->horizontalHeader()->setSectionResizeMode(db::JobTableModel::MessageColumn,
                                                   QHeaderView::Stretch);
  m_view->verticalHeader()->hide();
  auto* cancel = new QPushButton(tr("Cancel job"));
  cancel->setObjectName("CancelJobButton");
  m_status = new QLabel;
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(cancel);
  buttons->addWidget(m_status, 1);
  m_curve = new TrainingCurveView;
  m_curve->setObjectName("TrainingCurveView");
  auto* split = new QSplitter(Qt::Vertical);
  split->addWidget(m_view);
  split->addWidget(m_curve);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(split);
  layout->addLayout(buttons);
  connect(cancel, &QPushButton::clicked, this, &JobsDock::cancelSelected);
  connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this, &JobsDock::updateCurve);
  // Live state from the job records: every 1.5 s while the dock is shown, every 5 s while it is
  // hidden (so that the workstation can show it when a job starts elsewhere).
  m_timer = new QTimer(this);
  m_timer->setInterval(kHiddenPollMs);
  connect(m_timer, &QTimer::timeout, this, &JobsDock::refresh);
  m_timer->start();
  refresh();
}

JobsDock::~JobsDock() = default;

void JobsDock::showEvent(QShowEvent* e)
{
  QWidget::showEvent(e);
  m_timer->setInterval(kVisiblePollMs);
  refresh(); // at once: what was shown last may be seconds old
}

void JobsDock::hideEvent(QHideEvent* e)
{
  QWidget::hideEvent(e);
  m_timer->setInterval(kHiddenPollMs);
}

void JobsDock::refresh()
{
  try
  {
    if (!m_session && !m_dataFolder.isNull())
    {
      // A dock on its own (tests) opens a session of its own on its folder, once.
      auto own = std::make_unique<db::WorkstationSession>();
      own->open(m_dataFolder.toStdString());
      m_ownSession = std::move(own);
      m_session = m_ownSession.get();
    }
    db::StudyDatabase* database = m_session ? m_session->database() : nullptr;
    if (!database)
      throw Error("no study database is open");
    m_model->reload(*database);
    m_status->clear();
    updateCurve();
  }
  catch (const std::exception& e)
  {
    m_status->setText(tr("Jobs unavailable: %1").arg(QString::fromUtf8(e.what())));
  }
}

void JobsDock::selectRow(int row)
{
  m_view->selectRow(row);
  updateCurve();
}

void JobsDock::updateCurve()
{
  const QModelIndexList rows = m_view->selectionModel()->selectedRows();
  db::StudyDatabase* database = m_session ? m_session->database() : nullptr;
  if (rows.isEmpty() || !database)
  {
    m_curve->setCurve({});
    return;
  }
  try
  {
    m_curve->setCurve(db::readTrainingCurve(*database, m_model->jobAt(rows.first().row()).id));
  }
  catch (const std::exception& e)
  {
    m_curve->setCurve({});
    m_status->setText(tr("Curve unavailable: %1").arg(QString::fromUtf8(e.what())));
  }
}

void JobsDock::cancelSelected()
{
  const QModelIndexList rows = m_view->selectionModel()->selectedRows();
  db::StudyDatabase* database = m_session ? m_session->database() : nullptr;
  if (rows.isEmpty() || !database)
    return;
  const int row = rows.first().row();
  std::string why;
  if (!db::requestJobCancel(*database, m_model->jobAt(row).id, &why))
    QMessageBox::information(this, tr("Cancel job"), QString::fromStdString(why));
  else
    m_status->setText(tr("Cancel requested; the job stops after the current iteration."));
  refresh();
}

FineTuneDialog::FineTuneDialog(const QString& dataFolder, const QString& defaultBaseModel,
                               const QStringList& centers, const std::vector<db::ModelCatalogEntry>& models,
                               QWidget* parent)
    : QDialog(parent), m_dataFolder(dataFolder)
{
  setWindowTitle(tr("Fine-tune model"));
  m_base = new QComboBox;
  m_base->setObjectName(QStringLiteral("BaseModel"));
  m_base->setEditable(true);
  m_base->setInsertPolicy(QComboBox::NoInsert);
  m_base->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  m_base->setMinimumContentsLength(40);
  for (const db::ModelCatalogEntry& e : models)
    if (e.usable())
      m_base->addItem(QString::fromStdString(e.label), QString::fromStdString(e.dir));
  const int preset = db::findModelCatalogEntry(models, defaultBaseModel.toStdString());
  const int item = preset >= 0 ? m_base->findData(QString::fromStdString(models[size_t(preset)].dir)) : -1;
  if (item >= 0)
    m_base->setCurrentIndex(item);
  else
    m_base->setEditText(defaultBaseModel);
  m_modelType = new QLabel;
  m_modelType->setObjectName(QStringLiteral("BaseModelType"));
  m_modelType->setWordWrap(true);
  connect(m_base, &QComboBox::currentTextChanged, this, &FineTuneDialog::updateModelType);
  updateModelType();
  m_modality = new QComboBox;
  m_modality->addItem(tr("any"), QString());
  for (const char* m : {"CT", "MR", "MRI-T1W", "MRI-T2W"})
    m_modality->addItem(m, QString(m));
  m_center = new QComboBox;
  m_center->addItem(tr("any"), QString());
  for (const QString& c : centers)
    m_center->addItem(c, c);
  m_epochs = new QSpinBox;
  m_epochs->setRange(1, 1000);
  m_epochs->setValue(10);
  m_iters = new QSpinBox;
  m_iters->setRange(1, 10000);
  m_iters->setValue(50);
  m_out = new QLineEdit(dataFolder + "/models/finetuned-" +
                        QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss"));
  auto* form = new QFormLayout;
  form->addRow(tr("Base model (folder or registry id)"), m_base);
  form->addRow(QString(), m_modelType);
  form->addRow(tr("Modality"), m_modality);
  form->addRow(tr("Center"), m_center);
  form->addRow(tr("Epochs"), m_epochs);
  form->addRow(tr("Iterations per epoch"), m_iters);
  form->addRow(tr("New model folder"), m_out);
  auto* box = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
  box->button(QDialogButtonBox::Ok)->setText(tr("Start"));
  connect(box, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(box, &QDialogButtonBox::rejected, this, &QDialog::reject);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(
      new QLabel(tr("Trains on the newest approved mask of every matching series. The job runs "
                    "in its own process and keeps running when the workstation closes.")));
  layout->addLayout(form);
  layout->addWidget(box);
}

QString FineTuneDialog::baseModel() const
{
  const int i = m_base->currentIndex();
  if (i >= 0 && m_base->currentText() == m_base->itemText(i))
    return m_base->itemData(i).toString();
  return m_base->currentText().trimmed();
}

void FineTuneDialog::updateModelType()
{
  const QString base = baseModel();
  if (base.isEmpty())
  {
    m_modelType->setText(tr("Choose the model to start from."));
    return;
  }
  if (!QFileInfo(base).isDir())
  {
    m_modelType->setText(tr("Registry id or folder: checked when the job starts."));
    return;
  }
  const db::ModelCatalogEntry e = db::describeModelPackage(base.toStdString());
  if (!e.usable())
  {
    m_modelType->setText(QString::fromStdString(e.error));
    return;
  }
  QString text = tr("Trains a %1 model").arg(QString::fromStdString(db::modelTypeText(e.modelType)));
  if (!e.speedClass.empty())
    text += tr(" (%1)").arg(QString::fromStdString(db::speedClassText(e.speedClass)));
  m_modelType->setText(text + ".");
}

FineTuneRequest FineTuneDialog::request() const
{
  FineTuneRequest r;
  r.dataFolder = m_dataFolder;
  r.baseModel = baseModel();
  r.modality = m_modality->currentData().toString();
  r.center = m_center->currentData().toString();
  r.epochs = m_epochs->value();
  r.iterations = m_iters->value();
  r.outDir = m_out->text().trimmed();
  return r;
}
} // namespace panseg::ui
