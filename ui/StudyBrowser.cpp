#include "ui/StudyBrowser.h"

#include "core/Error.h"
#include "database/exports/DatasetExport.h"
#include "database/jobs/FineTuning.h"
#include "database/registry/ModelRegistry.h"
#include "database/studies/Plausibility.h"
#include "database/QtText.h"
#include "database/itemmodels/SeriesTableModel.h"
#include "ui/MaskListModel.h"

#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDir>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QProgressDialog>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>
#include <QTableWidget>
#include <QThread>
#include <QTimer>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <mutex>

namespace panseg::ui
{
namespace
{
// Modality filter choices: the combo's item data is an index into this table.
struct ModalityChoice
{
  const char* label;
  std::optional<db::Modality> modality;
  bool anyMri;
};
const ModalityChoice kModalityChoices[] = {
  { "All modalities", std::nullopt, false },
  { "CT", db::Modality::CT, false },
  { "MRI (all)", db::Modality::Mri, true },
  { "MRI-T1W", db::Modality::MriT1w, false },
  { "MRI-T2W", db::Modality::MriT2w, false },
  { "MRI (weighting unknown)", db::Modality::Mri, false },
  { "Other", db::Modality::Other, false },
};
} // namespace

// Shared between the GUI thread and the import worker.
struct StudyBrowser::ImportState
{
  std::atomic<bool> cancel{ false };
  std::mutex mutex;
  db::ImportProgress progress; // latest, under mutex
  bool haveProgress = false;
};

StudyBrowser::StudyBrowser(QWidget* parent) : QWidget(parent)
{
  setObjectName("studyBrowser");
  m_seriesModel = new db::SeriesTableModel(this);
  m_filterModel = new db::SeriesFilterModel(this);
  m_filterModel->setSourceModel(m_seriesModel);
  m_maskModel = new MaskListModel(this);
  m_importWatcher = new QFutureWatcher<ImportOutcome>(this);
  connect(m_importWatcher, &QFutureWatcherBase::finished, this, &StudyBrowser::finishImport);
  m_progressTimer = new QTimer(this);
  m_progressTimer->setInterval(100);
  connect(m_progressTimer, &QTimer::timeout, this, &StudyBrowser::pollImportProgress);
  buildUi();
  updateButtons();
}

StudyBrowser::~StudyBrowser()
{
  if (m_import)
    m_import->cancel = true;
  m_importWatcher->disconnect(this);
  m_importWatcher->waitForFinished();
}

void StudyBrowser::buildUi()
{
  // Filters.
  m_search = new QLineEdit;
  m_search->setObjectName("studySearch");
  m_search->setPlaceholderText(tr("Search patient, series, center, state..."));
  m_search->setClearButtonEnabled(true);
  m_modality = new QComboBox;
  m_modality->setObjectName("modalityFilter");
  for (int i = 0; i < int(std::size(kModalityChoices)); ++i)
    m_modality->addItem(tr(kModalityChoices[i].label), i);
  m_center = new QComboBox;
  m_center->setObjectName("centerFilter");
  m_center->addItem(tr("All centers"), QString());
  m_center->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  auto* filters = new QHBoxLayout;
  filters->addWidget(m_search, 1);
  filters->addWidget(m_modality);
  filters->addWidget(m_center);

  // Series table.
  m_seriesView = new QTableView;
  m_seriesView->setObjectName("seriesTable");
  m_seriesView->setModel(m_filterModel);
  m_seriesView->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_seriesView->setSelectionMode(QAbstractItemView::SingleSelection);
  m_seriesView->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_seriesView->setAlternatingRowColors(true);
  m_seriesView->setSortingEnabled(true);
  m_seriesView->sortByColumn(db::SeriesTableModel::IdColumn, Qt::AscendingOrder);
  m_seriesView->verticalHeader()->hide();
  m_seriesView->horizontalHeader()->setStretchLastSection(true);
  m_seriesView->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);

  m_importButton = new QPushButton(tr("Import..."));
  m_importButton->setObjectName("importButton");
  auto* importMenu = new QMenu(m_importButton);
  importMenu->addAction(tr("Folder..."), this, &StudyBrowser::chooseAndImport);
  importMenu->addAction(tr("Files..."), this, &StudyBrowser::chooseFilesAndImport);
  m_importButton->setMenu(importMenu);
  m_refreshButton = new QPushButton(tr("Refresh"));
  m_openButton = new QPushButton(tr("Open"));
  m_openButton->setObjectName("openSeriesButton");
  m_openButton->setToolTip(tr("Open the selected series in the viewer"));
  auto* seriesButtons = new QHBoxLayout;
  seriesButtons->addWidget(m_importButton);
  seriesButtons->addWidget(m_refreshButton);
  seriesButtons->addStretch(1);
  seriesButtons->addWidget(m_openButton);

  auto* top = new QWidget;
  auto* topLayout = new QVBoxLayout(top);
  topLayout->setContentsMargins(0, 0, 0, 0);
  topLayout->addLayout(filters);
  topLayout->addWidget(m_seriesView, 1);
  topLayout->addLayout(seriesButtons);

  // Mask versions of the selected series.
  m_maskTitle = new QLabel(tr("Masks"));
  m_maskView = new QTableView;
  m_maskView->setObjectName("maskTable");
  m_maskView->setModel(m_maskModel);
  m_maskView->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_maskView->setSelectionMode(QAbstractItemView::SingleSelection);
  m_maskView->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_maskView->setAlternatingRowColors(true);
  m_maskView->verticalHeader()->hide();
  // Columns as wide as their contents: states ("submitted", "approved") are never cut.
  m_maskView->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  m_maskView->horizontalHeader()->setStretchLastSection(true);
  m_maskView->setWordWrap(false);
  m_showButton = new QPushButton(tr("Show"));
  m_showButton->setObjectName("showMaskButton");
  m_showButton->setToolTip(tr("Show the selected mask version in the viewer"));
  m_submitButton = new QPushButton(tr("Submit"));
  m_submitButton->setObjectName("submitMaskButton");
  m_submitButton->setToolTip(tr("Submit the selected (saved) draft mask version for approval"));
  m_approveButton = new QPushButton(tr("Approve"));
  m_approveButton->setObjectName("approveMaskButton");
  m_approveButton->setToolTip(tr("Approve the selected submitted mask version (coordinators and admins); a version "
                                 "flagged as implausible asks for a confirmation"));
  m_exportButton = new QPushButton(tr("Export..."));
  m_exportButton->setObjectName("exportMaskButton");
  m_exportButton->setToolTip(tr("Export the selected mask version as NIfTI, NRRD or DICOM SEG"));
  m_maskView->setContextMenuPolicy(Qt::ActionsContextMenu);
  auto* showAction = new QAction(tr("Show"), m_maskView);
  auto* exportAction = new QAction(tr("Export..."), m_maskView);
  m_maskView->addAction(showAction);
  m_maskView->addAction(exportAction);
  connect(showAction, &QAction::triggered, this, &StudyBrowser::showSelectedMask);
  connect(exportAction, &QAction::triggered, this, &StudyBrowser::chooseAndExportMask);
  auto* maskButtons = new QHBoxLayout;
  maskButtons->addStretch(1);
  maskButtons->addWidget(m_exportButton);
  maskButtons->addWidget(m_submitButton);
  maskButtons->addWidget(m_approveButton);
  maskButtons->addWidget(m_showButton);

  auto* bottom = new QWidget;
  auto* bottomLayout = new QVBoxLayout(bottom);
  bottomLayout->setContentsMargins(0, 0, 0, 0);
  bottomLayout->addWidget(m_maskTitle);
  bottomLayout->addWidget(m_maskView, 1);
  bottomLayout->addLayout(maskButtons);

  auto* splitter = new QSplitter(Qt::Vertical);
  splitter->addWidget(top);
  splitter->addWidget(bottom);
  splitter->setStretchFactor(0, 3);
  splitter->setStretchFactor(1, 2);

  m_status = new QLabel;
  m_status->setObjectName("studyBrowserStatus");
  m_status->setWordWrap(true);
  m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);

  auto* layout = new QVBoxLayout(this);
  layout->addWidget(splitter, 1);
  layout->addWidget(m_status);

  connect(m_search, &QLineEdit::textChanged, m_filterModel, &db::SeriesFilterModel::setSearchText);
  connect(m_modality, &QComboBox::currentIndexChanged, this, &StudyBrowser::applyModalityFilter);
  connect(m_center, &QComboBox::currentIndexChanged, this,
          [this] { m_filterModel->setCenterFilter(m_center->currentData().toString()); });
  connect(m_seriesView->selectionModel(), &QItemSelectionModel::selectionChanged, this,
          &StudyBrowser::updateMaskList);
  // A filter that hides the current row leaves no current row: keep the mask list in step.
  connect(m_filterModel, &QAbstractItemModel::rowsRemoved, this, &StudyBrowser::updateMaskList);
  connect(m_filterModel, &QAbstractItemModel::modelReset, this, &StudyBrowser::updateMaskList);
  connect(m_filterModel, &QAbstractItemModel::layoutChanged, this, &StudyBrowser::updateButtons);
  connect(m_maskView->selectionModel(), &QItemSelectionModel::selectionChanged, this, &StudyBrowser::updateButtons);
  connect(m_maskView->selectionModel(), &QItemSelectionModel::selectionChanged, this,
          &StudyBrowser::showSelectedMaskCheck);
  connect(m_seriesView, &QAbstractItemView::doubleClicked, this, &StudyBrowser::openSelectedSeries);
  connect(m_maskView, &QAbstractItemView::doubleClicked, this, &StudyBrowser::showSelectedMask);
  connect(m_openButton, &QPushButton::clicked, this, &StudyBrowser::openSelectedSeries);
  connect(m_showButton, &QPushButton::clicked, this, &StudyBrowser::showSelectedMask);
  connect(m_exportButton, &QPushButton::clicked, this, &StudyBrowser::chooseAndExportMask);
  connect(m_submitButton, &QPushButton::clicked, this,
          [this]
          {
            QString error;
            if (!submitMaskVersion(selectedMaskId(), &error))
              showError(tr("Submit for approval"), error);
          });
  connect(m_approveButton, &QPushButton::clicked, this,
          [this]
          {
            QString error;
            if (!approveMaskVersion(selectedMaskId(), &error) && error != "cancelled")
              showError(tr("Approve"), error);
          });
  connect(m_refreshButton, &QPushButton::clicked, this, &StudyBrowser::refresh);
}

bool StudyBrowser::openDatabase(const QString& dataFolder, QString* error)
{
  // A browser on its own (tests, tools) gets a session of its own; the workstation gives its
  // shared one (setSession).
  auto own = std::make_unique<db::WorkstationSession>();
  try
  {
    own->open(dataFolder.toStdString());
  }
  catch (const std::exception& e)
  {
    const QString message = QString::fromUtf8(e.what());
    if (error)
      *error = message;
    m_lastError = message;
    m_status->setText(tr("No study database: %1").arg(message));
    updateButtons();
    return false;
  }
  setSession(own.get());
  m_ownSession = std::move(own);
  return true;
}

void StudyBrowser::setSession(db::WorkstationSession* session)
{
  m_session = session;
  m_ownSession.reset();
  if (!session || !session->database())
  {
    m_status->setText(session && !session->openError().empty()
                        ? tr("No study database: %1").arg(QString::fromStdString(session->openError()))
                        : tr("No study database"));
    updateButtons();
    return;
  }
  refresh();
  showStatus(tr("Study database: %1").arg(qs(session->dataFolder())));
}

db::StudyDatabase* StudyBrowser::database() const { return m_session ? m_session->database() : nullptr; }
int64_t StudyBrowser::openedSeriesId() const { return m_session ? m_session->openedSeries() : 0; }
int64_t StudyBrowser::openedMaskId() const { return m_session ? m_session->openedMask() : 0; }

QString StudyBrowser::dataFolder() const { return m_session ? qs(m_session->dataFolder()) : QString(); }

QString StudyBrowser::defaultModelDir(int64_t seriesId, const QString& demoModelDir, QString* why) const
{
  if (!database())
    return {};
  const auto choice = db::defaultModelForSeries(*database(), seriesId, demoModelDir.toStdString());
  if (!choice)
    return {};
  if (why)
    *why = QString::fromStdString(choice->why);
  return QString::fromStdString(choice->dir);
}

panseg::Image StudyBrowser::loadSeries(int64_t seriesId) const
{
  if (!database())
    throw Error("no study database is open");
  return database()->loadImage(seriesId);
}

panseg::LabelMask StudyBrowser::loadMask(int64_t maskVersionId) const
{
  if (!database())
    throw Error("no study database is open");
  return database()->loadMask(maskVersionId);
}

int64_t StudyBrowser::selectedSeriesId() const
{
  const QModelIndexList rows = m_seriesView->selectionModel()->selectedRows();
  return rows.isEmpty() ? 0 : rows.first().data(db::SeriesTableModel::SeriesIdRole).toLongLong();
}

int64_t StudyBrowser::selectedMaskId() const
{
  const QModelIndexList rows = m_maskView->selectionModel()->selectedRows();
  return rows.isEmpty() ? 0 : rows.first().data(MaskListModel::MaskIdRole).toLongLong();
}

void StudyBrowser::refresh()
{
  if (!database())
    return;
  const int64_t series = selectedSeriesId();
  const int64_t mask = selectedMaskId();
  try
  {
    m_seriesModel->reload(*database());
  }
  catch (const std::exception& e)
  {
    showError(tr("Study database"), QString::fromUtf8(e.what()));
    return;
  }
  rebuildCenterChoices();
  m_seriesView->resizeColumnsToContents();
  if (series && !selectSeries(series))
    updateMaskList();
  if (mask)
    selectMask(mask);
  updateButtons();
}

bool StudyBrowser::selectSeries(int64_t seriesId)
{
  const int sourceRow = m_seriesModel->rowOfSeries(seriesId);
  if (sourceRow < 0)
    return false;
  QModelIndex proxy = m_filterModel->mapFromSource(m_seriesModel->index(sourceRow, 0));
  if (!proxy.isValid())
  {
    // Hidden by the filters: show everything again rather than select an invisible row.
    m_search->clear();
    m_modality->setCurrentIndex(0);
    m_center->setCurrentIndex(0);
    proxy = m_filterModel->mapFromSource(m_seriesModel->index(sourceRow, 0));
  }
  m_seriesView->selectionModel()->setCurrentIndex(
      proxy, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
  m_seriesView->scrollTo(proxy);
  if (m_maskModel->seriesId() != seriesId)
    updateMaskList();
  return true;
}

bool StudyBrowser::selectMask(int64_t maskVersionId)
{
  const int row = m_maskModel->rowOfMask(maskVersionId);
  if (row < 0)
    return false;
  const QModelIndex index = m_maskModel->index(row, 0);
  m_maskView->selectionModel()->setCurrentIndex(index,
                                                QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
  m_maskView->scrollTo(index);
  updateButtons();
  return true;
}

void StudyBrowser::updateMaskList()
{
  // Always re-read, also for the same series (a save or an import may have added versions),
  // keeping the selected version.
  const int64_t series = selectedSeriesId();
  const int64_t mask = series == m_maskModel->seriesId() ? selectedMaskId() : 0;
  try
  {
    if (database() && series)
      m_maskModel->reload(*database(), series);
    else
      m_maskModel->clear();
  }
  catch (const std::exception& e)
  {
    m_maskModel->clear();
    showError(tr("Study database"), QString::fromUtf8(e.what()));
  }
  if (series)
  {
    const auto& r = m_seriesModel->seriesAt(m_seriesModel->rowOfSeries(series));
    const int n = m_maskModel->rowCount();
    m_maskTitle->setText(tr("Masks of series %1 (%2): %3")
                             .arg(series)
                             .arg(qs(r.patientName.empty() ? r.patientId : r.patientName))
                             .arg(n == 1 ? tr("1 version") : tr("%1 versions").arg(n)));
  }
  else
    m_maskTitle->setText(tr("Masks (select a series)"));
  m_maskView->resizeColumnsToContents();
  if (mask)
    selectMask(mask);
  updateButtons();
}

void StudyBrowser::updateButtons()
{
  const bool importing = isImporting();
  m_importButton->setEnabled(database() && !importing);
  m_refreshButton->setEnabled(database() != nullptr);
  m_openButton->setEnabled(selectedSeriesId() != 0);
  m_showButton->setEnabled(selectedMaskId() != 0);
  m_exportButton->setEnabled(selectedMaskId() != 0);
  m_submitButton->setEnabled(selectedMaskId() != 0);
  const int row = m_maskModel->rowOfMask(selectedMaskId());
  const bool reviewer = database() && db::canCoordinate(database()->currentUser().role);
  m_approveButton->setVisible(reviewer);
  m_approveButton->setEnabled(reviewer && row >= 0 && m_maskModel->maskAt(row).state == db::MaskState::Submitted);
}

void StudyBrowser::showSelectedMaskCheck()
{
  const int row = m_maskModel->rowOfMask(selectedMaskId());
  if (row < 0)
    return;
  const db::MaskVersion& m = m_maskModel->maskAt(row);
  if (m.plausibility.flagged)
  {
    m_status->setStyleSheet("color: #b01e1e;");
    m_status->setText(tr("\u26A0 Mask version %1 is flagged as implausible: %2. Look at it before approving it.")
                        .arg(m.id)
                        .arg(qs(m.plausibility.summary)));
  }
  else if (!m_status->styleSheet().isEmpty())
    showStatus(QString()); // the previous selection's warning no longer applies
}

void StudyBrowser::rebuildCenterChoices()
{
  const QString current = m_center->currentData().toString();
  const QStringList centers = m_seriesModel->centers();
  const QSignalBlocker block(m_center);
  m_center->clear();
  m_center->addItem(tr("All centers"), QString());
  for (const QString& c : centers)
    m_center->addItem(c, c);
  const int index = current.isEmpty() ? 0 : m_center->findData(current);
  m_center->setCurrentIndex(index < 0 ? 0 : index);
  m_filterModel->setCenterFilter(m_center->currentData().toString());
}

void StudyBrowser::applyModalityFilter()
{
  const int i = m_modality->currentData().toInt();
  if (i < 0 || i >= int(std::size(kModalityChoices)))
    return;
  m_filterModel->setModalityFilter(kModalityChoices[i].modality, kModalityChoices[i].anyMri);
}

void StudyBrowser::openSelectedSeries()
{
  const int64_t series = selectedSeriesId();
  if (!series || !m_session || (m_openGuard && !m_openGuard()))
    return;
  m_session->setOpened(series, 0);
  emit openSeriesRequested(series);
  if (m_openLatestMask && m_maskModel->seriesId() == series && m_maskModel->rowCount() > 0)
  {
    const int64_t latest = m_maskModel->maskAt(m_maskModel->rowCount() - 1).id;
    selectMask(latest);
    m_session->setOpened(series, latest);
    emit openMaskRequested(series, latest);
  }
}

void StudyBrowser::showSelectedMask()
{
  const int64_t mask = selectedMaskId();
  const int64_t series = m_maskModel->seriesId();
  if (!mask || !series || !m_session || (m_openGuard && !m_openGuard()))
    return;
  if (series != openedSeriesId())
  {
    m_session->setOpened(series, 0);
    emit openSeriesRequested(series);
  }
  m_session->setOpened(series, mask);
  emit openMaskRequested(series, mask);
}

void StudyBrowser::chooseAndImport()
{
  const QString folder = QFileDialog::getExistingDirectory(this, tr("Import a folder (DICOM, NIfTI, NRRD, nnU-Net)"));
  if (!folder.isEmpty())
    importPaths({ folder });
}

void StudyBrowser::chooseFilesAndImport()
{
  const QStringList files = QFileDialog::getOpenFileNames(
      this, tr("Import images and masks"), {},
      tr("Images (*.nii *.nii.gz *.nrrd *.nhdr *.mha *.mhd *.dcm);;All files (*)"));
  if (!files.isEmpty())
    importPaths(files);
}

bool StudyBrowser::isImporting() const { return m_importWatcher->isRunning() || m_import != nullptr; }

bool StudyBrowser::importPaths(const QStringList& paths)
{
  if (!database())
  {
    showError(tr("Import"), tr("No study database is open."));
    return false;
  }
  if (isImporting())
  {
    showStatus(tr("An import is already running."));
    return false;
  }
  if (paths.isEmpty())
    return false;

  std::vector<std::string> list;
  for (const QString& p : paths)
    list.push_back(p.toStdString());
  auto state = std::make_shared<ImportState>();
  m_import = state;

  m_progress = new QProgressDialog(this);
  m_progress->setObjectName("importProgressDialog");
  m_progress->setWindowTitle(tr("Import"));
  m_progress->setLabelText(tr("Looking for images and masks..."));
  m_progress->setRange(0, 0);
  m_progress->setMinimumDuration(0);
  m_progress->setAutoClose(false);
  m_progress->setAutoReset(false);
  m_progress->setWindowModality(Qt::WindowModal);
  m_progress->setMinimumWidth(420);
  connect(m_progress, &QProgressDialog::canceled, this, &StudyBrowser::cancelImport);
  m_progress->show();

  // The worker opens its own connection (one StudyDatabase per thread), as the same user.
  db::StudyDatabase::OpenOptions options;
  options.username = database()->currentUser().username;
  options.sweepOrphans = false; // this process's GUI connection already swept on open
  const std::string folder = database()->dataFolder();
  m_importWatcher->setFuture(QtConcurrent::run([state, folder, options, list]() {
    ImportOutcome out;
    try
    {
      db::StudyDatabase db(folder, options);
      db::ImportOptions io;
      io.cancel = &state->cancel;
      out.report = db::importPaths(db, list, io, [state](const db::ImportProgress& p) {
        {
          std::lock_guard<std::mutex> lock(state->mutex);
          state->progress = p;
          state->haveProgress = true;
        }
        return !state->cancel.load();
      });
    }
    catch (const std::exception& e)
    {
      out.error = e.what();
    }
    return out;
  }));
  m_progressTimer->start();
  showStatus(tr("Importing %1...").arg(paths.join(", ")));
  updateButtons();
  return true;
}

void StudyBrowser::cancelImport()
{
  if (!m_import)
    return;
  m_import->cancel = true;
  if (m_progress)
    m_progress->setLabelText(tr("Cancelling after the current item..."));
}

void StudyBrowser::pollImportProgress()
{
  if (!m_import || !m_progress || m_import->cancel)
    return;
  db::ImportProgress p;
  {
    std::lock_guard<std::mutex> lock(m_import->mutex);
    if (!m_import->haveProgress)
      return;
    p = m_import->progress;
  }
  if (p.total > 0)
  {
    m_progress->setRange(0, p.total);
    m_progress->setLabelText(tr("Imported %1 of %2 items\n%3 (%4)")
                                 .arg(p.done)
                                 .arg(p.total)
                                 .arg(QFileInfo(qs(p.path)).fileName(), qs(p.stage)));
    // Last: a window-modal QProgressDialog processes events in setValue(), where the import may
    // finish (finishImport clears m_progress), so nothing may use m_progress after it.
    m_progress->setValue(std::min(p.done, p.total));
  }
  else
    m_progress->setLabelText(tr("Looking for images and masks...\n%1").arg(qs(p.path)));
}

bool StudyBrowser::waitForImport(int timeoutMs)
{
  QElapsedTimer t;
  t.start();
  while (isImporting() && t.elapsed() < timeoutMs)
  {
    QApplication::processEvents(QEventLoop::AllEvents, 50);
    QThread::msleep(5);
  }
  QApplication::processEvents();
  return !isImporting();
}

void StudyBrowser::finishImport()
{
  m_progressTimer->stop();
  const ImportOutcome outcome = m_importWatcher->result();
  m_import.reset();
  if (m_progress)
  {
    m_progress->hide();
    m_progress->deleteLater();
    m_progress = nullptr;
  }
  m_lastReport = outcome.report;
  refresh();
  if (!outcome.report.importedSeries.empty())
    selectSeries(outcome.report.importedSeries.back());
  showImportReport(outcome);
  updateButtons();
  emit importFinished(outcome.report.anythingNew());
}

void StudyBrowser::showImportReport(const ImportOutcome& outcome)
{
  const db::ImportReport& r = outcome.report;
  QString summary;
  if (!outcome.error.empty())
    summary = tr("Import failed: %1").arg(qs(outcome.error));
  else
  {
    summary = tr("%1: %2 new series, %3 new masks, %4 duplicates, %5 failed, %6 skipped (%7 s).")
                  .arg(r.cancelled ? tr("Import cancelled") : tr("Import finished"))
                  .arg(r.importedSeries.size())
                  .arg(r.importedMasks.size())
                  .arg(r.duplicateSeries.size() + r.duplicateMasks.size())
                  .arg(r.failures.size())
                  .arg(r.skipped.size())
                  .arg(r.seconds, 0, 'f', 1);
  }
  showStatus(summary);
  if (outcome.error.empty() && r.failures.empty() && r.skipped.empty())
    return;
  if (!outcome.error.empty())
    m_lastError = qs(outcome.error);

  if (m_reportDialog)
    m_reportDialog->close();
  auto* dialog = new QDialog(this);
  dialog->setObjectName("importReportDialog");
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->setWindowTitle(tr("Import report"));
  auto* layout = new QVBoxLayout(dialog);
  auto* label = new QLabel(summary);
  label->setWordWrap(true);
  layout->addWidget(label);
  auto* table = new QTableWidget(0, 3);
  table->setObjectName("importIssues");
  table->setHorizontalHeaderLabels({ tr("Outcome"), tr("File"), tr("Reason") });
  table->verticalHeader()->hide();
  table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table->horizontalHeader()->setStretchLastSection(true);
  auto add = [table](const QString& kind, const db::ImportIssue& issue) {
    const int row = table->rowCount();
    table->insertRow(row);
    table->setItem(row, 0, new QTableWidgetItem(kind));
    auto* file = new QTableWidgetItem(QFileInfo(qs(issue.path)).fileName());
    file->setToolTip(qs(issue.path));
    file->setData(Qt::UserRole, qs(issue.path));
    table->setItem(row, 1, file);
    auto* reason = new QTableWidgetItem(qs(issue.reason));
    reason->setToolTip(qs(issue.reason));
    table->setItem(row, 2, reason);
  };
  for (const auto& issue : r.failures)
    add(tr("failed"), issue);
  for (const auto& issue : r.skipped)
    add(tr("skipped"), issue);
  table->resizeColumnsToContents();
  table->setVisible(table->rowCount() > 0);
  layout->addWidget(table, 1);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
  connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::reject);
  layout->addWidget(buttons);
  dialog->resize(720, 320);
  m_reportDialog = dialog;
  dialog->show();
}

int64_t StudyBrowser::saveMaskVersion(int64_t seriesId, const panseg::LabelMask& mask, int64_t parentId)
{
  if (!database())
  {
    showError(tr("Save mask"), tr("No study database is open."));
    return 0;
  }
  db::SavedVersion saved;
  try
  {
    QApplication::setOverrideCursor(Qt::WaitCursor);
    saved = db::saveReaderVersion(*database(), seriesId, mask, parentId,
                                  m_labelTableProvider ? std::optional<panseg::LabelTable>(m_labelTableProvider())
                                                       : std::nullopt);
    QApplication::restoreOverrideCursor();
  }
  catch (const std::exception& e)
  {
    QApplication::restoreOverrideCursor();
    m_lastError = QString::fromUtf8(e.what());
    showError(tr("Save mask"), m_lastError);
    return 0;
  }
  showSavedVersion(seriesId, saved);
  return saved.id;
}

int64_t StudyBrowser::reduceMaskToPancreas(int64_t versionId)
{
  if (!database() || versionId <= 0)
  {
    showError(tr("Reduce mask to pancreas"), tr("Open a series and a mask version from the study browser first."));
    return 0;
  }
  db::SavedVersion saved;
  int64_t seriesId = 0;
  try
  {
    QApplication::setOverrideCursor(Qt::WaitCursor);
    if (const auto v = database()->maskVersion(versionId))
      seriesId = v->seriesId;
    saved = db::savePancreasOnlyVersion(*database(), versionId);
    QApplication::restoreOverrideCursor();
  }
  catch (const std::exception& e)
  {
    QApplication::restoreOverrideCursor();
    m_lastError = QString::fromUtf8(e.what());
    showError(tr("Reduce mask to pancreas"), m_lastError);
    return 0;
  }
  showSavedVersion(seriesId, saved);
  emit openMaskRequested(seriesId, saved.id);
  return saved.id;
}

void StudyBrowser::showSavedVersion(int64_t seriesId, const db::SavedVersion& saved)
{
  refresh();
  selectSeries(seriesId);
  updateMaskList();
  selectMask(saved.id);
  if (m_session && seriesId == openedSeriesId())
    m_session->setOpened(seriesId, saved.id);
  QString status = tr("Saved mask version %1 of series %2.").arg(saved.id).arg(seriesId);
  if (!saved.concurrentNote.empty())
    status += " " + qs(saved.concurrentNote);
  showStatus(status);
  emit maskVersionSaved(seriesId, saved.id);
}

bool StudyBrowser::submitMaskVersion(int64_t versionId, QString* error)
{
  QString message;
  if (!database())
    message = tr("No study database is open.");
  else if (versionId <= 0)
    message = tr("No mask version to submit: open or save a mask version first.");
  else
  {
    try
    {
      database()->setMaskState(versionId, db::MaskState::Submitted);
    }
    catch (const std::exception& e)
    {
      message = QString::fromUtf8(e.what());
    }
  }
  if (!message.isEmpty())
  {
    m_lastError = message;
    if (error)
      *error = message;
    return false;
  }
  refresh();
  selectMask(versionId);
  showStatus(tr("Submitted mask version %1 for approval.").arg(versionId));
  emit maskStateChanged(versionId);
  return true;
}

bool StudyBrowser::approveMaskVersion(int64_t versionId, QString* error)
{
  QString message;
  bool flagged = false;
  if (!database())
    message = tr("No study database is open.");
  else if (versionId <= 0)
    message = tr("No mask version to approve: select a submitted version.");
  else
  {
    try
    {
      try
      {
        database()->setMaskState(versionId, db::MaskState::Approved);
      }
      catch (const db::ImplausibleMaskError& e)
      {
        // Ask, window-modal, with the findings; only "Approve anyway" approves (audited with the flag).
        QMessageBox box(QMessageBox::Warning, tr("Approve an implausible AI mask?"),
                        tr("Mask version %1 was flagged by the plausibility check:\n\n%2\n\nLimits: %3\n\n"
                           "Approve it anyway? The audit log records that you confirmed the flag.")
                          .arg(versionId)
                          .arg(qs(e.plausibility.summary).replace("; ", "\n"))
                          .arg(qs(e.plausibility.limitsSource)),
                        QMessageBox::NoButton, this);
        box.setObjectName("flaggedApprovalDialog");
        QPushButton* approve = box.addButton(tr("Approve anyway"), QMessageBox::AcceptRole);
        approve->setObjectName("approveAnywayButton");
        QPushButton* cancel = box.addButton(QMessageBox::Cancel);
        box.setDefaultButton(cancel);
        box.setWindowModality(Qt::WindowModal);
        m_flaggedDialog = &box;
        box.exec();
        m_flaggedDialog = nullptr;
        if (box.clickedButton() != approve)
        {
          if (error)
            *error = "cancelled";
          showStatus(tr("Mask version %1 was not approved (flagged as implausible).").arg(versionId));
          return false;
        }
        database()->setMaskState(versionId, db::MaskState::Approved, "approved although flagged as implausible", true);
        flagged = true;
      }
    }
    catch (const std::exception& e)
    {
      message = QString::fromUtf8(e.what());
    }
  }
  if (!message.isEmpty())
  {
    m_lastError = message;
    if (error)
      *error = message;
    return false;
  }
  refresh();
  selectMask(versionId);
  showStatus(flagged ? tr("Approved mask version %1 although it is flagged as implausible (recorded in the audit log).")
                         .arg(versionId)
                     : tr("Approved mask version %1.").arg(versionId));
  emit maskStateChanged(versionId);
  return true;
}

int64_t StudyBrowser::submitOpenedMask(const panseg::LabelMask* unsavedEdits, int64_t* savedVersion, QString* error)
{
  if (savedVersion)
    *savedVersion = 0;
  QString message;
  db::SavedVersion saved;
  int64_t submitted = 0;
  if (!database())
    message = tr("No study database is open.");
  else
  {
    try
    {
      QApplication::setOverrideCursor(Qt::WaitCursor);
      submitted = m_session->saveAndSubmit(
          unsavedEdits, m_labelTableProvider ? std::optional<panseg::LabelTable>(m_labelTableProvider()) : std::nullopt,
          &saved);
      QApplication::restoreOverrideCursor();
    }
    catch (const std::exception& e)
    {
      QApplication::restoreOverrideCursor();
      message = QString::fromUtf8(e.what());
    }
  }
  if (saved.id > 0)
  {
    showSavedVersion(openedSeriesId(), saved);
    if (savedVersion)
      *savedVersion = saved.id;
  }
  if (!message.isEmpty())
  {
    m_lastError = message;
    if (error)
      *error = message;
    return 0;
  }
  refresh();
  selectMask(submitted);
  showStatus(tr("Submitted mask version %1 for approval.").arg(submitted));
  emit maskStateChanged(submitted);
  return submitted;
}

int64_t StudyBrowser::savePrediction(const panseg::Image& shownImage, const panseg::LabelMask& mask,
                                     const QString& modelDir)
{
  if (!database() || openedSeriesId() <= 0)
    return 0;
  db::SavedVersion saved;
  try
  {
    QApplication::setOverrideCursor(Qt::WaitCursor);
    saved.id = m_session->storePrediction(shownImage, mask, modelDir.toStdString());
    QApplication::restoreOverrideCursor();
  }
  catch (const std::exception& e)
  {
    QApplication::restoreOverrideCursor();
    showError(tr("Save prediction"), QString::fromUtf8(e.what()));
    return 0;
  }
  if (saved.id <= 0)
    return 0; // the image on screen did not come from the opened series
  showSavedVersion(openedSeriesId(), saved);
  showSelectedMaskCheck(); // a flagged prediction says so at once, in red
  return saved.id;
}

void StudyBrowser::chooseAndExportMask()
{
  const int64_t id = selectedMaskId();
  if (!database() || id == 0)
  {
    showError(tr("Export mask"), tr("Select a mask version to export."));
    return;
  }
  const QString nifti = tr("NIfTI (*.nii.gz)");
  const QString nrrd = tr("NRRD (*.nrrd)");
  const QString seg = tr("DICOM SEG (*.dcm)");
  QString filter = nifti;
  QString path = QFileDialog::getSaveFileName(this, tr("Export mask version %1").arg(id),
                                              QStringLiteral("mask_version_%1.nii.gz").arg(id),
                                              nifti + ";;" + nrrd + ";;" + seg, &filter);
  if (path.isEmpty())
    return;
  // The dialog may not append the filter's extension: add it when the name has none we write.
  const QString lower = path.toLower();
  if (!lower.endsWith(".nii.gz") && !lower.endsWith(".nii") && !lower.endsWith(".nrrd") &&
      !lower.endsWith(".mha") && !lower.endsWith(".dcm"))
    path += filter == seg ? ".dcm" : filter == nrrd ? ".nrrd" : ".nii.gz";
  exportMaskVersion(id, path);
}

bool StudyBrowser::exportMaskVersion(int64_t maskVersionId, const QString& path)
{
  if (!database())
  {
    showError(tr("Export mask"), tr("No study database is open."));
    return false;
  }
  try
  {
    QApplication::setOverrideCursor(Qt::WaitCursor);
    db::MaskExportOptions options;
    options.softwareVersion = QApplication::applicationVersion().toStdString();
    db::exportMaskVersionAs(*database(), maskVersionId, path.toStdString(), options);
    QApplication::restoreOverrideCursor();
  }
  catch (const std::exception& e)
  {
    QApplication::restoreOverrideCursor();
    showError(tr("Export mask"), QString::fromUtf8(e.what()));
    return false;
  }
  showStatus(tr("Exported mask version %1 to %2.").arg(maskVersionId).arg(QDir::toNativeSeparators(path)));
  return true;
}

void StudyBrowser::showError(const QString& title, const QString& message)
{
  m_lastError = message;
  m_status->setText(title + ": " + message);
  auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
  box->setObjectName("studyBrowserError");
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open(); // not exec(): never blocks the caller (slots, tests)
}

void StudyBrowser::showStatus(const QString& text)
{
  m_status->setStyleSheet(QString());
  m_status->setText(text);
}
} // namespace panseg::ui
