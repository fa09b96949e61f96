#pragma once
// The study browser: the series of the study database in a sortable, filterable table (modality,
// center, free-text search), the mask versions of the selected series, import with progress and
// cancel (on a worker thread with its own database connection), and saving masks as new versions.
// A widget to dock in the main window; the tables are database/itemmodels/SeriesTableModel and
// ui/MaskListModel, which hold the logic. Opening a series or a mask is a request (signal) that
// the main window serves with loadSeries / loadMask.

#include "core/Volume.h"
#include "database/Importer.h"
#include "database/StudyDatabase.h"
#include "database/session/WorkstationSession.h"
#include "database/studies/MaskWorkflow.h"

#include <QDialog>
#include <QFutureWatcher>
#include <QPointer>
#include <QProgressDialog>
#include <QString>
#include <QStringList>
#include <QWidget>

#include <functional>
#include <memory>

class QComboBox;
class QLabel;
class QLineEdit;
class QMessageBox;
class QModelIndex;
class QPushButton;
class QTableView;
class QTimer;

namespace panseg::db
{
class SeriesTableModel;
class SeriesFilterModel;
} // namespace panseg::db

namespace panseg::ui
{
class MaskListModel;

class StudyBrowser : public QWidget
{
  Q_OBJECT
public:
  explicit StudyBrowser(QWidget* parent = nullptr);
  /// Cancels a running import and waits for it (the current item finishes or rolls back).
  ~StudyBrowser() override;

  /// Opens (creating when absent) the database in `dataFolder`; empty = the default folder
  /// (StudyDatabase::defaultDataFolder: $PANSEG_DB_DIR or ~/.local/share/panseg/studies).
  /// On failure returns false; the message is shown in the browser and in *error / lastError().
  bool openDatabase(const QString& dataFolder = {}, QString* error = nullptr);
  /// Uses the workstation's session (its connection and its open series/mask) instead.
  void setSession(db::WorkstationSession* session);
  db::WorkstationSession* session() const { return m_session; }
  bool hasDatabase() const { return database() != nullptr; }
  db::StudyDatabase* database() const;
  QString dataFolder() const;

  /// Reads the image of a series / a mask version (content hash resp. SHA-256 checked).
  /// Throw panseg::Error with a one-line message (also when no database is open).
  panseg::Image loadSeries(int64_t seriesId) const;
  panseg::LabelMask loadMask(int64_t maskVersionId) const;
  /// The model Predict Pancreas uses for `seriesId` by default (db::defaultModelForSeries: the
  /// model promoted for its modality, else `demoModelDir`); `why` gets the reason for a status
  /// line. Empty when neither exists. Throws panseg::Error when the promoted model was moved or
  /// changed.
  QString defaultModelDir(int64_t seriesId, const QString& demoModelDir, QString* why = nullptr) const;

  /// The label table saved with edited versions (the shown mask's, as the Labels editor left
  /// it); without a provider a new version inherits its parent's table.
  void setLabelTableProvider(std::function<panseg::LabelTable()> provider) { m_labelTableProvider = std::move(provider); }

  /// Saves a model's prediction as an AI mask version (draft) of the opened series, linked to the
  /// model package's registry row (db/ModelRegistry.h; registered on first use). Does nothing and
  /// returns 0 when the shown image is not the opened series (opened from a file instead: then the
  /// prediction stays a file). Returns the new version's id; 0 after showing an error.
  int64_t savePrediction(const panseg::Image& shownImage, const panseg::LabelMask& mask, const QString& modelDir);

  /// "Submit for approval": moves version `versionId` from draft to submitted through
  /// StudyDatabase::setMaskState (which refuses steps outside the review workflow and audits the
  /// change), then refreshes the mask list. False with the one-line reason in *error (not shown).
  bool submitMaskVersion(int64_t versionId, QString* error);
  /// "Approve" (coordinators and admins): moves a submitted version to approved. An AI version the
  /// plausibility check flags (database/studies/Plausibility.h) first asks for a confirmation in a
  /// window-modal dialog ("flaggedApprovalDialog": Approve anyway / Cancel); confirmed, the
  /// approval's audit entry records the flag. False with the reason in *error (Cancel: "cancelled").
  bool approveMaskVersion(int64_t versionId, QString* error);
  /// The confirmation dialog while it is open (nullptr otherwise), for tests and screenshots.
  QMessageBox* flaggedApprovalDialog() const { return m_flaggedDialog; }
  /// Submits the opened mask version (openedMaskId()). With `unsavedEdits`, first saves that mask
  /// as a new draft version edited from the opened one (like saveMaskVersion; *savedVersion gets
  /// its id, also when the submit then fails) and submits the new version. Returns the submitted
  /// version's id, or 0 with the reason in *error.
  int64_t submitOpenedMask(const panseg::LabelMask* unsavedEdits, int64_t* savedVersion, QString* error);

  /// Series / mask version selected in the tables (0 = none).
  int64_t selectedSeriesId() const;
  int64_t selectedMaskId() const;
  /// Last series / mask version requested to be opened (0 = none): the parent of the next save.
  /// (The session's: WorkstationSession::openedSeries / openedMask.)
  int64_t openedSeriesId() const;
  int64_t openedMaskId() const;
  /// Asked before the browser opens another series or mask (e.g. the window's unsaved-edits
  /// prompt); false leaves everything as it is, including openedSeriesId()/openedMaskId().
  void setOpenGuard(std::function<bool()> guard) { m_openGuard = std::move(guard); }
  /// After openSeriesRequested, also request the series' newest mask version (default on).
  void setOpenLatestMask(bool on) { m_openLatestMask = on; }

  bool isImporting() const;
  /// Processes events until a running import has finished (or timeoutMs passed).
  bool waitForImport(int timeoutMs = 120000);
  /// The outcome of the last finished import (empty before the first).
  const db::ImportReport& lastImportReport() const { return m_lastReport; }
  /// The last error shown to the user.
  QString lastError() const { return m_lastError; }

  // Parts, for the main window's wiring and for tests.
  QTableView* seriesView() const { return m_seriesView; }
  QTableView* maskView() const { return m_maskView; }
  QLineEdit* searchEdit() const { return m_search; }
  QComboBox* modalityCombo() const { return m_modality; }
  QComboBox* centerCombo() const { return m_center; }
  QPushButton* openButton() const { return m_openButton; }
  QPushButton* showMaskButton() const { return m_showButton; }
  QPushButton* exportMaskButton() const { return m_exportButton; }
  /// Submits the selected (saved) mask version for approval.
  QPushButton* submitMaskButton() const { return m_submitButton; }
  /// Approves the selected submitted version (coordinators and admins).
  QPushButton* approveMaskButton() const { return m_approveButton; }
  /// The status line under the tables (plausibility warnings appear here).
  QLabel* statusLabel() const { return m_status; }
  QPushButton* importButton() const { return m_importButton; }
  db::SeriesTableModel* seriesModel() const { return m_seriesModel; }
  db::SeriesFilterModel* seriesFilterModel() const { return m_filterModel; }
  MaskListModel* maskModel() const { return m_maskModel; }
  /// Shown while importing (nullptr otherwise).
  QProgressDialog* importProgressDialog() const { return m_progress; }
  /// Lists the files that failed or were skipped by the last import (nullptr when none / closed).
  QDialog* importReportDialog() const { return m_reportDialog; }

public slots:
  /// Re-reads the series (keeping filters and the selection) and the selected series' masks.
  void refresh();
  /// Selects the series' row (clearing the filters when they hide it); false when unknown.
  bool selectSeries(int64_t seriesId);
  bool selectMask(int64_t maskVersionId);
  /// Emits openSeriesRequested for the selected series (the Open button, double click).
  void openSelectedSeries();
  /// Emits openMaskRequested for the selected version (the Show button, double click); emits
  /// openSeriesRequested first when that series is not the opened one.
  void showSelectedMask();
  /// Asks for a file name (NIfTI *.nii.gz, NRRD *.nrrd, DICOM SEG *.dcm) and exports the selected
  /// mask version there (the Export... button, the mask table's context menu, Study > Export).
  void chooseAndExportMask();
  /// Writes mask version `maskVersionId` to `path` in the format its extension names
  /// (db::exportMaskVersionAs: .dcm = DICOM SEG, only for DICOM series; AI masks carry their model
  /// as the algorithm). True on success; false after showing the error (lastError()).
  bool exportMaskVersion(int64_t maskVersionId, const QString& path);
  /// Asks for a folder (or files) and imports it (the Import... button, File > Import).
  void chooseAndImport();
  void chooseFilesAndImport();
  /// Imports in the background with a progress dialog (counts, Cancel); refreshes afterwards and
  /// lists failures in a dialog. False when refused (no database, an import already running).
  bool importPaths(const QStringList& paths);
  void cancelImport();
  /// A reader's save (db::saveReaderVersion): a new draft version of `seriesId` edited from
  /// `parentId` (0 = none) with the provider's label table; refreshes the tables and selects it.
  /// Every save is a new version; earlier ones stay readable. Returns its id, or 0 after showing
  /// the error.
  int64_t saveMaskVersion(int64_t seriesId, const panseg::LabelMask& mask, int64_t parentId);
  /// Study > Reduce Mask to Pancreas: db::savePancreasOnlyVersion on `versionId` (what
  /// `panseg db reduce-to-pancreas` runs), then opens the new version. Returns its id, or 0 after
  /// showing the error (e.g. the label table names no pancreas).
  int64_t reduceMaskToPancreas(int64_t versionId);

signals:
  void openSeriesRequested(int64_t seriesId);
  void openMaskRequested(int64_t seriesId, int64_t maskVersionId);
  void maskVersionSaved(int64_t seriesId, int64_t maskVersionId);
  /// A mask version was submitted for approval or approved here (the review queue changed).
  void maskStateChanged(int64_t maskVersionId);
  /// After every import (also cancelled or failed ones); lastImportReport() has the details.
  void importFinished(bool anythingNew);

private:
  struct ImportState;
  struct ImportOutcome
  {
    db::ImportReport report;
    std::string error; // the database could not be used at all
  };

  void buildUi();
  void updateMaskList();
  /// After a save: tables refreshed, the version selected (and opened when its series is), the
  /// status line with the concurrent-save note, maskVersionSaved emitted.
  void showSavedVersion(int64_t seriesId, const db::SavedVersion& saved);
  void updateButtons();
  void rebuildCenterChoices();
  void applyModalityFilter();
  void pollImportProgress();
  void finishImport();
  void showImportReport(const ImportOutcome& outcome);
  void showError(const QString& title, const QString& message);
  void showStatus(const QString& text);
  /// The selected version's plausibility warning in the status line (nothing when not flagged).
  void showSelectedMaskCheck();

  QPointer<db::WorkstationSession> m_session;
  std::unique_ptr<db::WorkstationSession> m_ownSession; // openDatabase without a workstation
  db::SeriesTableModel* m_seriesModel = nullptr;
  db::SeriesFilterModel* m_filterModel = nullptr;
  MaskListModel* m_maskModel = nullptr;

  QLineEdit* m_search = nullptr;
  QComboBox* m_modality = nullptr;
  QComboBox* m_center = nullptr;
  QTableView* m_seriesView = nullptr;
  QTableView* m_maskView = nullptr;
  QPushButton* m_importButton = nullptr;
  QPushButton* m_refreshButton = nullptr;
  QPushButton* m_openButton = nullptr;
  QPushButton* m_showButton = nullptr;
  QPushButton* m_exportButton = nullptr;
  QPushButton* m_submitButton = nullptr;
  QPushButton* m_approveButton = nullptr;
  QMessageBox* m_flaggedDialog = nullptr;
  QLabel* m_maskTitle = nullptr;
  QLabel* m_status = nullptr;

  std::shared_ptr<ImportState> m_import;
  QFutureWatcher<ImportOutcome>* m_importWatcher = nullptr;
  QTimer* m_progressTimer = nullptr;
  QPointer<QProgressDialog> m_progress;
  QPointer<QDialog> m_reportDialog;
  db::ImportReport m_lastReport;

  std::function<bool()> m_openGuard;
  bool m_openLatestMask = true;
  QString m_lastError;
  std::function<panseg::LabelTable()> m_labelTableProvider;
};
} // namespace panseg::ui
