// MainWindow's "Segmentation" menu: prediction of the open image through the worker process
// (WorkerClient) and the Model submenu. Only the glue lives here: the protocol is WorkerClient's,
// the model and output locations are WorkerClient's helpers, the list of models and their labels
// db::listModelPackages (database/registry/ModelCatalog), the mask goes to the ViewerModel.
#include "ui/MainWindow.h"
#include "ui/ModelImportDialog.h"
#include "ui/PropertyBinding.h"

#include "core/io/ImageIO.h"
#include "ui/ViewerModel.h"
#include "ui/WorkerClient.h"

#include <QAction>
#include <QActionGroup>
#include <QCoreApplication>
#include <QFileDialog>
#include <QFileInfo>
#include <QJsonObject>
#include <QMenu>
#include <QMenuBar>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QStatusBar>
#include <QToolButton>
#include "ui/EditController.h"
#include <QSettings>
#include <QTemporaryDir>

namespace panseg::ui
{
namespace
{
const char* const kModelKey = "predict/modelDir";
const char* const kFastKey = "predict/fast";
const char* const kCpuSpeedKey = "predict/cpuSpeed";

QSettings settings()
{
  if (QCoreApplication::organizationName().isEmpty())
    return QSettings(QStringLiteral("PanSeg"), QStringLiteral("PanSeg Workstation"));
  return QSettings();
}

/// The open image's file when the worker can read it as is (a single image file).
bool readableAsIs(const QString& path)
{
  const QString n = path.toLower();
  return QFileInfo(path).isFile() &&
         (n.endsWith(".nii.gz") || n.endsWith(".nii") || n.endsWith(".nrrd") || n.endsWith(".nhdr") ||
          n.endsWith(".mha") || n.endsWith(".mhd"));
}
} // namespace

void MainWindow::buildSegmentationMenu()
{
  m_worker = new WorkerClient(this);
  connect(m_model, &ViewerModel::imageChanged, this, [this] { ++m_imageGeneration; });

  QMenu* seg = menuBar()->addMenu(tr("&Segmentation"));
  m_predictAction = seg->addAction(tr("&Predict Pancreas..."), this, [this] { predictPancreas(); });
  m_predictAction->setShortcut(QKeySequence(tr("Ctrl+P")));
  // One checkable action per package of the catalog, rebuilt each time the submenu opens.
  m_modelSearchRoots = db::defaultModelSearchRoots();
  m_modelMenu = seg->addMenu(tr("&Model"));
  m_modelMenu->setObjectName(QStringLiteral("modelMenu"));
  m_modelMenu->setToolTipsVisible(true);
  connect(m_modelMenu, &QMenu::aboutToShow, this, &MainWindow::rebuildModelMenu);
  rebuildModelMenu(); // so that the menu is not empty before it is first shown (shortcuts, tests)
  m_fastAction = seg->addAction(tr("&Fast Mode (no TTA, fewer windows)"));
  m_fastAction->setCheckable(true);
  m_fastAction->setChecked(settings().value(userSettingsKey(kFastKey), false).toBool());
  connect(m_fastAction, &QAction::toggled, this, [this](bool on) { settings().setValue(userSettingsKey(kFastKey), on); });
  // CPU speed (db::CpuSpeed, measured in docs/performance.md): exact by default; the faster
  // settings say what they change.
  QMenu* speed = seg->addMenu(tr("CPU &Speed"));
  speed->setObjectName(QStringLiteral("cpuSpeedMenu"));
  speed->setToolTipsVisible(true);
  auto* speedGroup = new QActionGroup(speed);
  speedGroup->setExclusive(true);
  const struct
  {
    db::CpuSpeed speed;
    const char* text;
    const char* tip;
  } speeds[] = {
    { db::CpuSpeed::Exact, QT_TR_NOOP("&Exact (the authors' results, bit for bit)"),
      QT_TR_NOOP("One patch per network call, two calls at once: the same probabilities as the authors' pipeline") },
    { db::CpuSpeed::BatchMirrors, QT_TR_NOOP("&Faster (8 mirrors per call, not bit-exact)"),
      QT_TR_NOOP("About twice as fast on a CPU; probabilities differ by about 1e-6 (the masks were identical on "
                 "the measured cases)") },
    { db::CpuSpeed::Bf16, QT_TR_NOOP("Fa&stest (+ bfloat16, CPUs with AVX512-BF16 / AMX)"),
      QT_TR_NOOP("About twice as fast again on CPUs with bfloat16 instructions (slower on others); voxels "
                 "within 0.01 of a tie may change label") },
  };
  for (const auto& sp : speeds)
  {
    QAction* a = speed->addAction(tr(sp.text));
    a->setCheckable(true);
    a->setToolTip(tr(sp.tip));
    a->setData(static_cast<int>(sp.speed));
    a->setObjectName(QStringLiteral("cpuSpeed-") + db::to_string(sp.speed));
    speedGroup->addAction(a);
  }
  couple(speedGroup,
         PropertyModel<int>{ [this] { return static_cast<int>(cpuSpeed()); },
                             [this](int v) { setCpuSpeed(static_cast<db::CpuSpeed>(v)); } },
         this, &MainWindow::predictionSettingsChanged);
  seg->addSeparator();
  QAction* cancel = seg->addAction(tr("&Cancel Prediction"), this, &MainWindow::cancelPrediction);
  cancel->setEnabled(false);
  buildBoxPrompt(seg); // MainWindowInteract.cpp

  connect(m_worker, &WorkerClient::started, this,
          [this, cancel](const QJsonObject&)
          {
            cancel->setEnabled(true);
            m_predictAction->setEnabled(false);
          });
  // Progress lives in the status bar (no dialog): the views stay usable while the worker runs.
  m_predictStatus = new QWidget(this);
  m_predictStatus->setObjectName("predictionStatus");
  auto* row = new QHBoxLayout(m_predictStatus);
  row->setContentsMargins(0, 0, 0, 0);
  m_predictLabel = new QLabel(m_predictStatus);
  m_predictLabel->setObjectName("predictionLabel");
  m_predictBar = new QProgressBar(m_predictStatus);
  m_predictBar->setObjectName("predictionProgress");
  m_predictBar->setRange(0, 1000);
  m_predictBar->setFixedWidth(160);
  m_predictBar->setTextVisible(true);
  m_predictBar->setFormat(QStringLiteral("%p%"));
  auto* cancelButton = new QToolButton(m_predictStatus);
  cancelButton->setObjectName("cancelPrediction");
  cancelButton->setText(tr("Cancel"));
  cancelButton->setToolTip(tr("Stop the prediction (the shown mask stays as it is)"));
  connect(cancelButton, &QToolButton::clicked, this, &MainWindow::cancelPrediction);
  row->addWidget(m_predictLabel);
  row->addWidget(m_predictBar);
  row->addWidget(cancelButton);
  statusBar()->addPermanentWidget(m_predictStatus);
  m_predictStatus->hide();

  connect(m_worker, &WorkerClient::estimateReady, this,
          [this](qint64 passes, double seconds, const QString& device)
          {
            m_predictEstimate = tr("estimated %1 (%2 forward passes on %3)")
                                    .arg(WorkerClient::formatDuration(seconds))
                                    .arg(passes)
                                    .arg(device);
            m_predictBar->setToolTip(m_predictEstimate);
          });
  connect(m_worker, &WorkerClient::progress, this,
          [this](double f, const QString& message, double eta)
          {
            if (!isPredicting() || m_worker->wasCancelled())
              return;
            QString text = message;
            if (eta >= 0)
              text += tr(", %1 left").arg(WorkerClient::formatDuration(eta));
            m_predictLabel->setText(text);
            m_predictLabel->setToolTip(m_predictTitle + (m_predictEstimate.isEmpty() ? QString() : "\n" + m_predictEstimate));
            m_predictBar->setValue(qBound(0, int(f * 1000), 999));
          });
  connect(m_worker, &WorkerClient::note, this, [this](const QString& m) { showStatus(m); });
  auto done = [this, cancel](bool ok, const QString& message)
  {
    cancel->setEnabled(false);
    finishPrediction(ok, message);
    applyPredictAvailability();
  };
  connect(m_worker, &WorkerClient::finished, this,
          [done](const QJsonObject& result)
          {
            Q_UNUSED(result);
            done(true, {});
          });
  connect(m_worker, &WorkerClient::failed, this, [done](const QString& e) { done(false, e); });
  connect(m_worker, &WorkerClient::cancelled, this, [done] { done(false, QStringLiteral("cancelled")); });
}

QString MainWindow::predictionModelDir() const
{
  const QString remembered = settings().value(userSettingsKey(kModelKey)).toString();
  if (WorkerClient::looksLikeModelPackage(remembered))
    return remembered;
  return WorkerClient::defaultModelDir();
}

void MainWindow::setPredictionModelDir(const QString& dir)
{
  settings().setValue(userSettingsKey(kModelKey), QFileInfo(dir).absoluteFilePath());
}

std::vector<db::ModelCatalogEntry> MainWindow::modelCatalog(QString* registryError) const
{
  QStringList extra;
  for (const QString& dir : { predictionModelDir(), WorkerClient::defaultModelDir() })
    if (!dir.isEmpty() && !extra.contains(dir))
      extra << dir;
  const db::StudyDatabase* registry = m_modelRegistry ? m_modelRegistry() : nullptr;
  std::string error;
  auto entries = db::listModelPackages(m_modelSearchRoots, registry, extra, &error);
  if (registryError)
    *registryError = QString::fromStdString(error);
  return entries;
}

QString MainWindow::modelLabel(const QString& dir) const
{
  const db::ModelCatalogEntry e = db::describeModelPackage(dir.toStdString());
  return e.usable() ? QString::fromStdString(e.label) : QFileInfo(dir).fileName();
}

void MainWindow::rebuildModelMenu()
{
  m_modelMenu->clear();
  delete m_modelGroup; // and the model actions, its children
  m_modelGroup = new QActionGroup(m_modelMenu);
  m_modelGroup->setExclusive(true);
  QString registryError;
  const std::vector<db::ModelCatalogEntry> entries = modelCatalog(&registryError);
  const std::string current = predictionModelDir().toStdString();
  const int checked = db::findModelCatalogEntry(entries, current);
  for (size_t i = 0; i < entries.size(); ++i)
  {
    const db::ModelCatalogEntry& e = entries[i];
    const QString label = QString::fromStdString(e.label);
    const QString dir = QString::fromStdString(e.dir);
    auto* a = new QAction(QString(label).replace('&', QStringLiteral("&&")), m_modelGroup);
    a->setCheckable(true);
    a->setChecked(int(i) == checked);
    a->setEnabled(e.usable());
    a->setData(dir);
    QStringList tip;
    if (!e.description.empty())
      tip << QString::fromStdString(e.description);
    tip << dir;
    if (e.registered())
      tip << tr("Registered in the study database (registry id %1)").arg(e.registryId);
    if (!e.usable())
      tip << QString::fromStdString(e.error);
    a->setToolTip(tip.join('\n'));
    connect(a, &QAction::triggered, this,
            [this, dir, label]
            {
              setPredictionModelDir(dir);
              showStatus(tr("Predict Pancreas uses %1.").arg(label));
            });
    m_modelMenu->addAction(a);
  }
  if (entries.empty())
    m_modelMenu->addAction(tr("No model packages found"))->setEnabled(false);
  if (!registryError.isEmpty())
    m_modelMenu->addAction(tr("Study database models unavailable: %1").arg(registryError))->setEnabled(false);
  m_modelMenu->addSeparator();
  m_modelMenu->addAction(tr("Other Model Package &Folder..."), this, &MainWindow::chooseModelPackageFolder);
  m_modelMenu->addAction(tr("&Import nnU-Net Model..."), this, [this] { showModelImportDialog(); });
}

ModelImportDialog* MainWindow::showModelImportDialog()
{
  if (!m_modelImportDialog)
  {
    m_modelImportDialog = new ModelImportDialog(m_modelRegistry, this);
    m_modelImportDialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(m_modelImportDialog, &ModelImportDialog::imported, this,
            [this](const QString& dir, const QString& summary)
            {
              setPredictionModelDir(dir);
              showStatus(tr("Imported %1. Predict Pancreas uses it.").arg(summary));
            });
    connect(m_modelImportDialog, &ModelImportDialog::importFailed, this,
            [this](const QString& error) { showStatus(tr("Model import failed: %1").arg(error)); });
  }
  m_modelImportDialog->show();
  m_modelImportDialog->raise();
  m_modelImportDialog->activateWindow();
  return m_modelImportDialog;
}

void MainWindow::chooseModelPackageFolder()
{
  const QString dir =
      QFileDialog::getExistingDirectory(this, tr("Choose Model Package Folder"), predictionModelDir());
  if (dir.isEmpty())
    return;
  if (!WorkerClient::looksLikeModelPackage(dir))
    showError(tr("Model Package"),
              tr("%1 is not a model package (it needs plans.json, model.json and weights.json)").arg(dir));
  else
  {
    setPredictionModelDir(dir);
    showStatus(tr("Predict Pancreas uses %1.").arg(modelLabel(dir)));
  }
}

db::CpuSpeed MainWindow::cpuSpeed() const
{
  return db::parseCpuSpeed(settings().value(userSettingsKey(kCpuSpeedKey)).toString());
}

void MainWindow::setCpuSpeed(db::CpuSpeed speed)
{
  if (speed == cpuSpeed())
    return;
  settings().setValue(userSettingsKey(kCpuSpeedKey), db::to_string(speed));
  emit predictionSettingsChanged();
}

bool MainWindow::isPredicting() const
{
  return m_worker && m_worker->isRunning();
}

void MainWindow::cancelPrediction()
{
  if (!isPredicting())
    return;
  m_worker->cancel();
  m_predictLabel->setText(tr("Cancelling..."));
}

bool MainWindow::predictPancreas(const QString& modelDirIn)
{
  if (isPredicting())
  {
    showStatus(tr("A prediction is already running."));
    return false;
  }
  if (!m_model->hasImage())
  {
    showError(tr("Predict Pancreas"), tr("Open an image first."));
    return false;
  }
  if (!m_predictBlocked.isEmpty())
  {
    showError(tr("Predict Pancreas"), m_predictBlocked);
    return false;
  }
  // The prediction replaces the shown mask: unsaved edits are saved or given up first.
  if (!confirmUnsavedEdits(tr("predicting a new mask")))
    return false;
  QString modelDir = modelDirIn.isEmpty() ? predictionModelDir() : modelDirIn;
  if (modelDir.isEmpty())
  {
    modelDir = QFileDialog::getExistingDirectory(this, tr("Choose Model Package Folder"));
    if (modelDir.isEmpty())
      return false;
  }
  if (!WorkerClient::looksLikeModelPackage(modelDir))
  {
    showError(tr("Predict Pancreas"),
              tr("%1 is not a model package (it needs plans.json, model.json and weights.json)").arg(modelDir));
    return false;
  }
  setPredictionModelDir(modelDir);

  // The worker reads the image from a file: the open one, or a temporary NIfTI of what is shown.
  PredictRequest req;
  req.modelDir = modelDir;
  req.fast = m_fastAction && m_fastAction->isChecked();
  db::applyCpuSpeed(req, cpuSpeed());
  m_predictTemp.reset();
  if (readableAsIs(m_imagePath))
    req.inputPath = m_imagePath;
  else
  {
    m_predictTemp = std::make_shared<QTemporaryDir>();
    if (!m_predictTemp->isValid())
    {
      showError(tr("Predict Pancreas"), tr("Cannot create a temporary folder for the image."));
      return false;
    }
    req.inputPath = m_predictTemp->filePath("image.nii");
    try
    {
      writeImage(m_model->image(), req.inputPath.toStdString());
    }
    catch (const std::exception& e)
    {
      showError(tr("Predict Pancreas"), tr("Cannot write the image for the worker: %1").arg(e.what()));
      return false;
    }
  }
  const QString modelName = QFileInfo(modelDir).fileName();
  req.outputPath = WorkerClient::predictionOutputPath(
      m_imagePath.isEmpty() ? QStringLiteral("image") : m_imagePath, modelName);
  m_predictPending = req.outputPath;
  m_predictGeneration = m_imageGeneration;

  const QString title = tr("Predicting the pancreas with %1%2...")
                            .arg(modelLabel(modelDir), req.fast ? tr(" (fast mode)") : QString());
  m_predictTitle = title;
  m_predictEstimate.clear();
  m_predictLabel->setText(tr("Predicting: starting the worker"));
  m_predictLabel->setToolTip(title);
  m_predictBar->setValue(0);
  m_predictBar->setToolTip(QString());
  m_predictStatus->show();
  showStatus(title);
  // The prediction replaces the shown mask: editing it now would be lost when it lands.
  // A lock that was there before (e.g. a read-only review) comes back when the prediction ends.
  if (m_edit)
  {
    m_lockBeforePrediction = m_edit->lockReason();
    m_edit->setLocked(predictionLockReason());
  }
  m_worker->start(req); // a missing worker reports through failed()
  return true;
}

QString MainWindow::predictionLockReason() const
{
  return tr("A prediction is replacing this mask: edits are refused until it has finished (or Cancel in the "
            "status bar).");
}

void MainWindow::finishPrediction(bool ok, const QString& error)
{
  m_predictStatus->hide();
  // Only the prediction's own lock is lifted: a lock set meanwhile (a review opened while the
  // worker ran) stays, and the one from before the prediction comes back.
  if (m_edit && m_edit->lockReason() == predictionLockReason())
    m_edit->setLocked(m_lockBeforePrediction);
  m_lockBeforePrediction.clear();
  m_predictTemp.reset();
  if (!ok)
  {
    if (error == "cancelled")
    {
      showStatus(tr("Prediction cancelled."));
      emit predictionFinished(false, error);
      return;
    }
    showError(tr("Predict Pancreas"), tr("Prediction failed: %1").arg(error));
    emit predictionFinished(false, error);
    return;
  }
  const QJsonObject r = m_worker->result();
  const QString saved = m_predictPending;
  // The pancreas the package's labels name (label 7 of a TotalSegmentator map), not every organ.
  db::PredictedVolume volume;
  try
  {
    volume = db::predictedPancreasVolume(
        r, r.value("model_dir").toString().isEmpty() ? predictionModelDir() : r.value("model_dir").toString());
  }
  catch (const std::exception&)
  {
    volume.ml = r.value("volume_ml").toDouble(); // an unreadable label table: every non-zero label
  }
  QString summary = tr("Pancreas %1 mL%2 predicted by %3%4 in %5 s on %6; saved to %7")
                        .arg(volume.ml, 0, 'f', 2)
                        .arg(volume.label > 0 ? tr(" (label %1)").arg(volume.label) : QString())
                        .arg(r.value("model").toString(),
                             r.value("demo").toBool() ? tr(" (demo model, not for clinical use)") : QString())
                        .arg(r.value("seconds").toDouble(), 0, 'f', 1)
                        .arg(r.value("device").toString(), saved);
  if (m_predictGeneration != m_imageGeneration)
  {
    // Another image was opened meanwhile: keep the file, do not paint it over the wrong image.
    summary = tr("Prediction finished for the previous image; saved to %1").arg(saved);
    showStatus(summary);
    emit predictionFinished(false, summary);
    return;
  }
  QString error2;
  if (!loadMaskBlocking(saved, &error2))
  {
    showError(tr("Predict Pancreas"), error2);
    emit predictionFinished(false, error2);
    return;
  }
  m_predictOutput = saved;
  showStatus(summary);
  emit predictionFinished(true, summary);
}
} // namespace panseg::ui
