#pragma once
// The workstation's viewer window: axial, coronal, sagittal and 3D views of one image and its
// mask, with file loading (in the background), window presets, overlay controls, drag-and-drop,
// recent files and screenshots.

#include "core/Volume.h"
#include "core/edit/BoxPrompt.h"
#include "core/edit/LabelEditor.h"
#include "database/jobs/WorkerCommand.h"
#include "database/registry/ModelCatalog.h"

#include <QFuture>
#include <QFutureWatcher>
#include <QJsonObject>
#include <QMainWindow>
#include <QPointer>
#include <QStringList>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>

class QActionGroup;
class QComboBox;
class QDockWidget;
class QDoubleSpinBox;
class QSpinBox;
class QGridLayout;
class QLabel;
class QMenu;
class QProgressBar;
class QProgressDialog;
class QSlider;
class QTemporaryDir;

namespace panseg::db
{
class StudyDatabase;
}

namespace panseg::ui
{
class EditController;
class MeasurementsPanel;
class SliceView;
class SurfaceView;
class ViewerModel;
class ModelImportDialog;
class WorkerClient;
class WorkerSession;

class MainWindow : public QMainWindow
{
  Q_OBJECT
public:
  enum class ViewKind
  {
    Axial,
    Coronal,
    Sagittal,
    Surface3D
  };

  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  /// Call before QApplication exists: selects the xcb platform with GLX (Debian's VTK is
  /// GLX-only) unless QT_QPA_PLATFORM / QT_XCB_GL_INTEGRATION are set, and makes VTK's
  /// OpenGL 3.2 core format the default surface format.
  static void configurePlatform();

  /// Loads in the background with a progress dialog; errors are shown in a message box.
  /// Returns false when the request was refused outright (empty path, mask without image).
  /// loadFinished() reports the outcome.
  bool openImage(const QString& path);
  bool openMask(const QString& path);

  /// Synchronous loading for the command line and tests: no dialogs; *error gets the message.
  bool loadImageBlocking(const QString& path, QString* error);
  bool loadMaskBlocking(const QString& path, QString* error);

  void setImage(panseg::Image image);
  /// Shows the mask; a mask on another grid is refused with a message (state unchanged).
  void setMask(panseg::LabelMask mask);

  ViewerModel* model();
  SliceView* sliceView(ViewKind kind) const; // nullptr for Surface3D
  SurfaceView* surfaceView() const;          // nullptr on platforms without OpenGL

  /// Screen capture of one view (the 3D view through its framebuffer) or the whole window.
  /// Shows the window first when it is hidden.
  QImage grabView(ViewKind kind);
  QImage grabAll();
  /// Writes grabAll() to a PNG/JPEG file; returns false when it could not be written.
  bool saveScreenshot(const QString& path);

  // ---- View > Save Screenshot / Copy View to Clipboard (MainWindowCapture.cpp) ----------------
  /// The view the user worked in last (the one that had the keyboard focus last; the maximised
  /// one while a view fills the window). Axial at start.
  ViewKind activeView() const;
  /// The active view as shown (the 3D view from its framebuffer), or the whole view grid
  /// (the four views or the maximised one, without menus, docks and status bar).
  QImage captureActiveView();
  QImage captureViewGrid();
  /// Writes captureActiveView() (or captureViewGrid() when `wholeGrid`) as PNG (".png" is added
  /// when the name has no suffix). False and *error when nothing could be written.
  bool saveViewScreenshot(const QString& path, bool wholeGrid, QString* error = nullptr);
  /// Puts captureActiveView() (or the grid) on the clipboard as an image.
  bool copyViewToClipboard(bool wholeGrid = false);

  void setSliceIndex(ViewKind kind, int index);

  bool isLoading() const { return m_job != nullptr; }
  /// Processes events until background loading has finished (or timeoutMs passed).
  bool waitForLoading(int timeoutMs = 60000);
  /// The last error shown to the user (or returned by a blocking load).
  QString lastError() const { return m_lastError; }
  QStringList recentFiles() const;

  /// Single view filling the window, or the 2x2 layout when `kind` is already maximised.
  void toggleMaximized(ViewKind kind);

  // ---- the acting PanSeg user and review context ----------------------------------------------
  /// Everything the window remembers (recent files, model choice, fast mode, the edit recovery
  /// file) is kept per PanSeg user, not per operating-system account: QSettings keys under
  /// "users/<name>/". Default: $PANSEG_USER, else the login name (the study database's rule);
  /// the workstation sets the database's current user. The recent-files menu is rebuilt.
  void setActingUser(const QString& user);
  QString actingUser() const { return m_user; }
  /// The QSettings key of `key` for the acting user ("users/<name>/<key>").
  QString userSettingsKey(const QString& key) const { return settingsKeyFor(m_user, key); }
  static QString settingsKeyFor(const QString& user, const QString& key);
  /// $PANSEG_USER, else the login name: the acting user before setActingUser.
  static QString defaultActingUser();
  /// Asked before a mask read from a file is shown (File > Open Mask, Recent Files, drops):
  /// returns why the acting user may not see it (e.g. the study database hides it by blinding),
  /// or an empty string. The mask is then refused with that reason.
  void setMaskGuard(std::function<QString(const panseg::Image&, const panseg::LabelMask&)> guard)
  {
    m_maskGuard = std::move(guard);
  }
  /// Disables Segmentation > Predict Pancreas with `reason` as its tooltip (empty: allowed again),
  /// e.g. during a blinded read that starts from scratch.
  void setPredictionBlocked(const QString& reason);
  /// Asked whenever another image is shown: why prediction is not allowed on it (empty = it is);
  /// the answer goes to setPredictionBlocked.
  void setPredictionPolicy(std::function<QString(const panseg::Image&)> policy)
  {
    m_predictPolicy = std::move(policy);
  }
  /// Asks the prediction policy again about the shown image (e.g. after a study's setting
  /// changed); nothing without a policy or an image.
  void reapplyPredictionPolicy();
  QString predictionBlockedReason() const { return m_predictBlocked; }
  QAction* predictAction() const { return m_predictAction; }
  /// A line above the views for what the reader must see while working (e.g. the coordinator's
  /// comment on a returned read); empty hides it.
  void setReviewBanner(const QString& text);
  QString reviewBanner() const;
  /// What the window title names instead of file names (e.g. "PAT-100 / venous phase / mask v3
  /// (draft)"); empty = the file names. Cleared when another image is opened from a file.
  void setDocumentTitle(const QString& title);

  // ---- prediction (MainWindowPredict.cpp) ------------------------------------------------
  /// Predicts the pancreas on the open image in the worker process, in the background: progress,
  /// estimate and Cancel sit in the status bar (predictionStatus()), the views stay usable, and
  /// edits of the shown mask are refused until the prediction replaces it (or fails, or is
  /// cancelled). `modelDir` empty: the remembered package, else the demo package, else
  /// a folder dialog. The mask becomes the overlay and is saved under
  /// WorkerClient::predictionOutputPath(). Returns false when refused (no image, running, no
  /// model); predictionFinished() reports the outcome otherwise.
  bool predictPancreas(const QString& modelDir = {});
  void cancelPrediction();
  bool isPredicting() const;
  /// The status-bar part shown while predicting (label "predictionLabel", progress bar
  /// "predictionProgress", button "cancelPrediction"); hidden otherwise.
  QWidget* predictionStatus() const { return m_predictStatus; }
  WorkerClient* workerClient() const { return m_worker; }

  // ---- box prompt (MainWindowInteract.cpp, docs/interactive.md) --------------------------------
  /// Predicts inside `box` (+ a 10 mm margin) with the prediction model in the worker, in the
  /// background; the result replaces the active label inside the box as one undo step
  /// (EditController::applyBoxPrediction). The box tool calls it when a rectangle is released.
  /// Returns false when refused (no image, a prediction or box prompt running, no model, a
  /// reader blinded from prediction); boxPromptFinished() reports the outcome otherwise.
  bool predictInBox(const panseg::edit::Box& box, const QString& modelDir = {});
  /// Refine tool with a click-conditioned model (modelTakesClicks()): the click goes to the model
  /// in the box's worker session with every click since the box was drawn and the current mask
  /// (model_type pansegnet-clicks, docs/interactive.md); the answer replaces the active label
  /// inside the box (the prompt box when it holds the click, else the label's bounding box and the
  /// click grown by 10 mm) as one undo step. Refused like predictInBox; reported by
  /// boxPromptFinished().
  bool clickWithModel(const std::array<int64_t, 3>& voxel, bool positive, const QString& modelDir = {});
  /// Whether the prediction model (Segmentation > Model) is a click-conditioned package.
  bool modelTakesClicks(const QString& modelDir = {}) const;
  /// The clicks the click model has been given in the current region (what the next click sends
  /// with it, once Undo's are accounted for).
  const panseg::edit::ModelClickHistory& modelClickHistory() const { return m_modelClicks; }
  void cancelBoxPrompt();
  bool isBoxPredicting() const;
  /// The interactive worker session boxes run in (model loaded and image read once).
  WorkerSession* boxSession() const { return m_boxSession; }

  // ---- mask editing (MainWindowEdit.cpp) ------------------------------------------------------
  /// The editing model: tools, brush, undo/redo, recovery (see EditController).
  EditController* editController() const { return m_edit; }
  /// Edit > Labels...: the label table editor (LabelTableDialog) for the shown mask; on OK the
  /// table goes to the model (overlays, 3D, picker) and is saved with the next mask version.
  void editLabelTable();
  /// The label picker beside the Label spin box (swatch + name per label; tests).
  QComboBox* labelPicker() const { return m_labelPicker; }
  /// How "Save" in the unsaved-edits prompt on close saves the mask (e.g. as a new version in
  /// the study database). Returns true when saved. Without a handler the prompt offers
  /// Discard / Cancel only.
  void setSaveMaskHandler(std::function<bool()> handler) { m_saveMaskHandler = std::move(handler); }
  /// Asks what to do with unsaved edits (Save / Discard / Cancel); true when it is fine to go on.
  bool confirmUnsavedEdits(const QString& action);
  /// Writes the shown mask to `path` (.nii.gz, .nii, .nrrd, .mha or .mhd; atomic and read back, so
  /// a failed write leaves the old file) and marks the edits saved; the mask is then that file.
  /// On failure shows the error and returns false, and the edits stay unsaved.
  bool saveMaskAs(const QString& path);
  /// File > Save Mask As...: asks for the file (default: the mask's own file when it is one of
  /// those formats, else next to the image) and saves there.
  bool saveMaskAsInteractive();
  /// The model package used by "Predict Pancreas" (QSettings "predict/modelDir", else the demo).
  QString predictionModelDir() const;
  void setPredictionModelDir(const QString& dir);
  /// Where Segmentation > Model looks for package folders (default db::defaultModelSearchRoots()).
  void setModelSearchRoots(const QStringList& roots) { m_modelSearchRoots = roots; }
  QStringList modelSearchRoots() const { return m_modelSearchRoots; }
  /// The study database whose registered and promoted models Segmentation > Model lists; asked
  /// each time the menu opens (nullptr: none open).
  void setModelRegistry(std::function<db::StudyDatabase*()> provider)
  {
    m_modelRegistry = std::move(provider);
  }
  /// What Segmentation > Model lists: db::listModelPackages over the search roots, the registry and
  /// the current choice. `registryError` gets a registry failure (the rest is still listed).
  std::vector<db::ModelCatalogEntry> modelCatalog(QString* registryError = nullptr) const;
  /// Segmentation > CPU Speed (QSettings per user, db::CpuSpeed): what Predict Pancreas asks the
  /// worker for on a CPU.
  db::CpuSpeed cpuSpeed() const;
  void setCpuSpeed(db::CpuSpeed speed);
  /// File > Import Model...: the import dialog (non-modal; one at a time). When it imports a
  /// package, Predict Pancreas uses it. Returns the dialog (tests drive it).
  ModelImportDialog* showModelImportDialog();
  /// The catalog label of the package in `dir` ("NAME vX — TYPE · CT · fast on CPU · demo"), or its
  /// folder name when it cannot be read.
  QString modelLabel(const QString& dir) const;
  /// Where the last successful prediction was saved.
  QString lastPredictionPath() const { return m_predictOutput; }

  // ---- measurement (MainWindowMeasure.cpp) ----------------------------------------------------
  /// The "Measurements" dock (View > Measurements, Ctrl+Shift+M; hidden at start): statistics of
  /// the shown mask's active label and the rulers. The Ruler tool (L) is an Edit tool.
  QDockWidget* measurementsDock() const { return m_measureDock; }
  MeasurementsPanel* measurementsPanel() const { return m_measurePanel; }

signals:
  /// After an asynchronous load: ok, and the error message when not.
  void loadFinished(bool ok, const QString& message);
  /// After predictPancreas(): ok, and a one-line summary or the error ("cancelled" when cancelled).
  void predictionFinished(bool ok, const QString& message);
  /// After predictInBox(): ok, and a one-line summary or the error ("cancelled" when cancelled).
  void boxPromptFinished(bool ok, const QString& message);
  /// A prediction setting changed (the CPU speed, or the user whose settings apply).
  void predictionSettingsChanged();

protected:
  void dragEnterEvent(QDragEnterEvent* e) override;
  void dropEvent(QDropEvent* e) override;
  void closeEvent(QCloseEvent* e) override;

private:
  enum class LoadKind
  {
    Image,
    Mask,
    ImageOrMask // decide from the content: a label map on the image's grid becomes the mask
  };
  struct Job;
  struct Request
  {
    LoadKind kind;
    QString path;
  };

  void buildMenus();
  void buildSegmentationMenu();
  void buildBoxPrompt(QMenu* segmentationMenu);
  void finishBoxPrompt(bool ok, const QString& message);
  void buildEditMenu();
  void buildEditToolBar();
  void buildMeasurements();
  void refreshLabelPicker();
  void finishPrediction(bool ok, const QString& message);
  QString predictionLockReason() const;
  void rebuildModelMenu();
  void chooseModelPackageFolder();
  void buildToolBar();
  void buildViews();
  void applyDarkTheme();
  void enqueue(LoadKind kind, const QString& path);
  void startNextJob();
  void finishJob();
  void showError(const QString& title, const QString& message);
  void showStatus(const QString& text);
  void addRecentFile(const QString& path, bool asMask);
  void rebuildRecentMenu();
  void updateTitle();
  void showCaptureReady();
  void layoutViews();

  ViewerModel* m_model;
  SliceView* m_views[3] = {};
  SurfaceView* m_surface = nullptr;
  QWidget* m_surfaceWidget = nullptr; // m_surface, or a placeholder without OpenGL
  QGridLayout* m_grid = nullptr;
  int m_maximized = -1; // index of the maximised view, -1 for 2x2
  int m_activeView = 0; // ViewKind of the view that had the focus last
  QWidget* m_viewArea = nullptr; // the grid of views
  void buildCaptureActions(QMenu* view);

  QString m_user;
  std::function<QString(const panseg::Image&, const panseg::LabelMask&)> m_maskGuard;
  QString m_predictBlocked;
  std::function<QString(const panseg::Image&)> m_predictPolicy;
  QString m_documentTitle;
  QLabel* m_banner = nullptr;
  QMenu* m_helpMenu = nullptr;
  bool eventFilter(QObject* watched, QEvent* event) override;
  QString maskRefusal(const panseg::LabelMask& mask) const;
  void buildHelpMenu();
  void applyPredictAvailability();
  QMenu* m_recentMenu = nullptr;
  QMenu* m_presetMenu = nullptr;
  QActionGroup* m_presetGroup = nullptr;
  QAction* m_openImageAction = nullptr;
  QAction* m_openMaskAction = nullptr;
  QAction* m_overlayAction = nullptr;
  QAction* m_outlineAction = nullptr;
  QAction* m_infoAction = nullptr; // View > Show DICOM Information (per PanSeg user)
  QAction* m_windowModeAction = nullptr;
  QComboBox* m_presetCombo = nullptr;
  QSlider* m_opacitySlider = nullptr;
  QLabel* m_hoverLabel = nullptr;
  QLabel* m_infoLabel = nullptr;

  QList<Request> m_queue;
  std::unique_ptr<Job> m_job;
  QProgressDialog* m_progress = nullptr;
  QString m_lastError;
  QString m_imagePath, m_maskPath;

  // editing (MainWindowEdit.cpp)
  EditController* m_edit = nullptr;
  std::function<bool()> m_saveMaskHandler;
  QActionGroup* m_toolGroup = nullptr;
  QAction* m_undoAction = nullptr;
  QAction* m_redoAction = nullptr;
  QAction* m_brush3DAction = nullptr;
  QAction* m_brushLargerAction = nullptr;
  QAction* m_brushSmallerAction = nullptr;
  QAction* m_thresholdAction = nullptr;
  QDoubleSpinBox* m_brushSizeSpin = nullptr;
  QSpinBox* m_labelSpin = nullptr;
  QComboBox* m_labelPicker = nullptr;
  std::vector<int> m_presentLabels; // labels of the shown mask when it was shown
  QAction* m_labelsAction = nullptr;
  QDoubleSpinBox* m_thresholdMinSpin = nullptr;
  QDoubleSpinBox* m_thresholdMaxSpin = nullptr;
  // measurement (MainWindowMeasure.cpp)
  QMenu* m_viewMenu = nullptr;
  QDockWidget* m_measureDock = nullptr;
  MeasurementsPanel* m_measurePanel = nullptr;
  QAction* m_clearRulersAction = nullptr;
  // prediction (MainWindowPredict.cpp)
  WorkerClient* m_worker = nullptr;
  // box prompt (MainWindowInteract.cpp)
  WorkerSession* m_boxSession = nullptr;
  std::shared_ptr<QTemporaryDir> m_boxInputTemp; // the image for the session when it has no file
  std::shared_ptr<QTemporaryDir> m_boxTemp;      // the worker's output of the running box
  panseg::edit::Box m_boxPending;
  QJsonObject m_boxResult; // the session's "done" event
  quint64 m_boxGeneration = 0;
  QString m_boxWhat;                         // "Box 1,2,3,4,5,6" or "Click +x,y,z" for the status bar
  panseg::edit::ModelClickHistory m_modelClicks;          // the click model's clicks in one region, undo-aware
  std::optional<panseg::edit::Click> m_pendingModelClick; // the click whose answer is awaited
  /// The box request behind predictInBox (`clicks` empty) and clickWithModel ("+x,y,z;-x,y,z":
  /// the current mask goes with them as the previous mask).
  bool startBoxRequest(const panseg::edit::Box& box, const QString& modelDir, const QString& clicks,
                       const QString& what);
  QAction* m_cancelBoxAction = nullptr;
  QSpinBox* m_boxSlicesSpin = nullptr;
  QWidget* m_predictStatus = nullptr; // in the status bar while predicting: text, bar, Cancel
  QLabel* m_predictLabel = nullptr;
  QProgressBar* m_predictBar = nullptr;
  QString m_predictTitle, m_predictEstimate;
  QString m_lockBeforePrediction; // EditController lock to restore when the prediction ends
  std::shared_ptr<QTemporaryDir> m_predictTemp; // temporary input (shared_ptr: incomplete type)
  QString m_predictOutput, m_predictPending;
  QAction* m_predictAction = nullptr;
  QAction* m_fastAction = nullptr;
  QAction* m_saveMaskAsAction = nullptr;
  QMenu* m_modelMenu = nullptr;          // Segmentation > Model, rebuilt when it opens
  QActionGroup* m_modelGroup = nullptr;  // its exclusive model actions
  QStringList m_modelSearchRoots;
  std::function<db::StudyDatabase*()> m_modelRegistry;
  QPointer<ModelImportDialog> m_modelImportDialog;
  quint64 m_imageGeneration = 0, m_predictGeneration = 0;
};

} // namespace panseg::ui
