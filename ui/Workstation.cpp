#include "ui/Workstation.h"
#include "database/QtText.h"

#include "core/Error.h"
#include "database/ContentHash.h"
#include "database/studies/ReaderStudy.h"
#include "database/StudyDatabase.h"
#include "database/session/WorkstationSession.h"
#include "database/itemmodels/JobTableModel.h"
#include "ui/EditController.h"
#include "ui/JobsDock.h"
#include "ui/PacsDock.h"
#include "ui/MainWindow.h"
#include "ui/ReaderStudyPanel.h"
#include "ui/ReviewPanel.h"
#include "ui/StudyBrowser.h"
#include "ui/VolumeTableView.h"
#include "ui/ViewerModel.h"
#include "ui/WorkerClient.h"

#include <QAction>
#include <QCoreApplication>
#include <QDockWidget>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QScrollArea>
#include <QStatusBar>

#include <algorithm>
#include <memory>

namespace panseg::ui
{
namespace
{
/// The series' content hash, computed once per shown image (the voxel buffer identifies it).
struct ImageHashCache
{
  const void* data = nullptr;
  size_t size = 0;
  std::string hash;
  const std::string& of(const Image& image)
  {
    if (image.voxels.data() != data || image.voxels.size() != size || hash.empty())
    {
      hash = db::imageContentHash(image);
      data = image.voxels.data();
      size = image.voxels.size();
    }
    return hash;
  }
};

/// "PAT-100 Patient 0 / venous phase 0": who and what, never a file name.
QString seriesTitle(const db::SeriesRecord& s)
{
  QStringList who;
  if (!s.patientId.empty())
    who << qs(s.patientId);
  if (!s.patientName.empty() && s.patientName != s.patientId)
    who << qs(s.patientName);
  QString what = qs(s.description);
  if (what.isEmpty())
    what = qs(to_string(s.modality));
  if (!s.studyDate.empty())
    what += " " + qs(s.studyDate);
  return (who.isEmpty() ? QObject::tr("series %1").arg(s.id) : who.join(' ')) + " / " + what;
}

QString maskTitle(const db::MaskVersion& m)
{
  QString source = qs(to_string(m.source));
  if (m.source == db::MaskSource::AI && !m.modelLabel.empty())
    source += " " + qs(m.modelLabel);
  return QObject::tr("mask v%1 (%2, %3)").arg(m.id).arg(source, qs(to_string(m.state)));
}
} // namespace

QString predictionBlockedReason(const db::StudyDatabase& db, const db::ReaderStudy& rs, int64_t seriesId)
{
  const db::User& me = db.currentUser();
  if (db::canCoordinate(me.role))
    return {};
  for (const db::ReaderStudyInfo& s : rs.studies())
  {
    // Start-from-AI and AI-review studies show the AI mask anyway; a from-scratch study may allow
    // prediction by its coordinator's choice (ReaderStudyInfo::allowPrediction, off by default).
    if (!s.open || s.startFrom != db::StartFrom::Scratch || s.design == db::StudyDesign::AiReview || s.allowPrediction)
      continue;
    const bool reader = std::any_of(s.readers.begin(), s.readers.end(), [&](const db::User& u) { return u.id == me.id; });
    if (reader && std::find(s.seriesIds.begin(), s.seriesIds.end(), seriesId) != s.seriesIds.end())
      return QObject::tr("Predict Pancreas is off during your blinded read in reader study '%1': its readers "
                         "segment from scratch, without the AI (the study's coordinator can allow prediction).")
          .arg(qs(s.name));
  }
  return {};
}

QDockWidget* Workstation::showVolumes()
{
  if (!volumesDock)
  {
    auto* view = new VolumeTableView;
    const QString version = QCoreApplication::applicationVersion();
    view->setSoftwareVersion(version.isEmpty() ? QStringLiteral("(development build)") : version);
    volumesDock = new QDockWidget(QObject::tr("Volumes"), window);
    volumesDock->setObjectName("VolumeTableDock");
    // Scrolls instead of demanding its full height (filters and two tables) from the views.
    auto* scroll = new QScrollArea;
    scroll->setObjectName("volumeScroll");
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setWidget(view);
    volumesDock->setWidget(scroll);
    window->addDockWidget(Qt::BottomDockWidgetArea, volumesDock);
    // Tabbed with Jobs: the bottom area never takes more than one dock's height from the views.
    window->tabifyDockWidget(jobsDock, volumesDock);
  }
  auto* view = volumesDock->findChild<VolumeTableView*>();
  view->setDatabase(browser->database()); // also refreshes: imports and approvals since last time
  volumesDock->show();
  volumesDock->raise();
  window->resizeDocks({volumesDock}, {std::max(180, window->height() / 4)}, Qt::Vertical);
  return volumesDock;
}

Workstation::Workstation(MainWindow& w) : QObject(&w), window(&w) {}

Workstation* attachWorkstation(MainWindow& w, const QString& dataFolder)
{
  auto* wsp = new Workstation(w);
  Workstation& ws = *wsp;
  auto* browser = ws.browser = new StudyBrowser;
  auto* dock = ws.browserDock = new QDockWidget(QObject::tr("Studies"), &w);
  dock->setObjectName("StudyBrowserDock");
  dock->setWidget(browser);
  w.addDockWidget(Qt::LeftDockWidgetArea, dock);
  // One session (one connection, the signed-in user, the open series and mask) for every dock.
  auto* session = ws.session = new db::WorkstationSession(&ws);
  try
  {
    session->open(dataFolder.toStdString());
  }
  catch (const std::exception& e)
  {
    w.statusBar()->showMessage(QObject::tr("Study database unavailable: %1").arg(QString::fromUtf8(e.what())), 10000);
  }
  browser->setSession(session);
  // Settings, recent files and the recovery file are the database user's, not the login's.
  if (browser->database())
    w.setActingUser(qs(browser->database()->currentUser().username));
  // Segmentation > Model also lists the registered models and the promoted defaults.
  w.setModelRegistry([browser] { return browser->database(); });

  // Blinding also holds for masks opened as files (File > Open Mask, Recent Files, drops): a file
  // holding a mask version the database hides from this user is refused with the database's reason.
  auto hashes = std::make_shared<ImageHashCache>();
  w.setMaskGuard(
      [browser, hashes](const Image& image, const LabelMask& mask) -> QString
      {
        db::StudyDatabase* database = browser->database();
        if (!database)
          return {};
        const auto series = database->seriesIdByContentHash(hashes->of(image));
        if (!series)
          return {};
        const auto version = database->maskIdByContentHash(*series, db::maskContentHash(mask));
        if (!version)
          return {};
        try
        {
          database->maskVersion(*version); // throws "blinded: ..." when hidden from this user
        }
        catch (const std::exception& e)
        {
          return QString::fromUtf8(e.what());
        }
        return {};
      });

  auto* panel = ws.readerPanel = new ReaderStudyPanel;
  // While a read-only review is shown (below), a prediction would replace the reviewed mask in the
  // viewer and end the review: Predict is refused then, whatever else allows it.
  auto inReview = std::make_shared<bool>(false);
  w.setPredictionPolicy(
      [browser, panel, hashes, inReview](const Image& image) -> QString
      {
        if (*inReview)
          return QObject::tr("Predict Pancreas is off during a read-only review: compare with the AI mask in the "
                             "Review dock, or open the series from the study browser to predict.");
        db::StudyDatabase* database = browser->database();
        if (!database || !panel->service())
          return {};
        try
        {
          const auto series = database->seriesIdByContentHash(hashes->of(image));
          return series ? predictionBlockedReason(*database, *panel->service(), *series) : QString();
        }
        catch (const std::exception& e)
        {
          return QObject::tr("Predict Pancreas is unavailable: %1").arg(QString::fromUtf8(e.what()));
        }
      });

  auto fail = [&w](const char* what, const std::exception& e)
  { QMessageBox::warning(&w, QObject::tr(what), QString::fromUtf8(e.what())); };
  browser->setOpenGuard([&w] { return w.confirmUnsavedEdits(QObject::tr("opening another series or mask")); });
  QObject::connect(browser, &StudyBrowser::openSeriesRequested, &w,
                   [&w, browser, fail](int64_t id)
                   {
                     try
                     {
                       w.setImage(browser->loadSeries(id));
                       if (const auto s = browser->database()->series(id))
                         w.setDocumentTitle(seriesTitle(*s));
                       // Predict Pancreas then uses the series' default model (the one rule of
                       // db::defaultModelForSeries: the model promoted for its modality, else the
                       // one chosen in Segmentation > Model, itself the demo model by default).
                       try
                       {
                         QString why;
                         const QString chosen = browser->defaultModelDir(id, w.predictionModelDir(), &why);
                         if (!chosen.isEmpty() && chosen != w.predictionModelDir())
                         {
                           w.setPredictionModelDir(chosen);
                           w.statusBar()->showMessage(QObject::tr("Predict Pancreas uses %1.").arg(why), 10000);
                         }
                       }
                       catch (const std::exception& e)
                       {
                         w.statusBar()->showMessage(QString::fromUtf8(e.what()), 15000);
                       }
                     }
                     catch (const std::exception& e)
                     {
                       fail("Open series", e);
                     }
                   });
  QObject::connect(browser, &StudyBrowser::openMaskRequested, &w,
                   [&w, browser, fail](int64_t seriesId, int64_t maskId)
                   {
                     try
                     {
                       w.setMask(browser->loadMask(maskId));
                       w.model()->setLabelTable(browser->database()->labelTable(maskId));
                       const auto s = browser->database()->series(seriesId);
                       const auto m = browser->database()->maskVersion(maskId);
                       if (s && m)
                         w.setDocumentTitle(seriesTitle(*s) + " / " + maskTitle(*m));
                     }
                     catch (const std::exception& e)
                     {
                       fail("Open mask", e);
                     }
                   });
  // The title follows the saved version (every save is a new one).
  QObject::connect(browser, &StudyBrowser::maskVersionSaved, &w,
                   [&w, browser](int64_t seriesId, int64_t maskId)
                   {
                     try
                     {
                       const auto s = browser->database()->series(seriesId);
                       const auto m = browser->database()->maskVersion(maskId);
                       if (s && m)
                         w.setDocumentTitle(seriesTitle(*s) + " / " + maskTitle(*m));
                     }
                     catch (const std::exception&)
                     {
                     }
                   });

  QMenu* study = ws.studyMenu = w.menuBar()->addMenu(QObject::tr("&Study"));
  study->setObjectName("studyMenu");
  study->addAction(QObject::tr("&Import into database..."), QKeySequence(QObject::tr("Ctrl+I")), browser,
                   &StudyBrowser::chooseAndImport);
  study->addAction(QObject::tr("Import &files..."), browser, &StudyBrowser::chooseFilesAndImport);
  study->addAction(QObject::tr("&Export mask version..."), browser, &StudyBrowser::chooseAndExportMask);
  // Saving the shown (possibly edited) mask as a new version; the editor then counts it saved and
  // the recovery file goes. Also what "Save" in the unsaved-edits prompt on close does.
  auto saveShownMask = [&w, browser]() -> bool
  {
    if (browser->openedSeriesId() <= 0 && w.model()->hasMask())
      return w.saveMaskAsInteractive(); // an image opened from a file: its mask goes to a file
    if (browser->openedSeriesId() <= 0 || !w.model()->hasMask())
    {
      QMessageBox::information(&w, QObject::tr("Save mask"),
                               QObject::tr("Open a series from the study browser and show a mask first."));
      return false;
    }
    const int64_t id = browser->saveMaskVersion(browser->openedSeriesId(), w.model()->mask(), browser->openedMaskId());
    if (id > 0 && w.editController())
      w.editController()->markSaved();
    return id > 0;
  };
  study->addAction(QObject::tr("&Save mask as new version"), QKeySequence::Save, &w, [saveShownMask] { saveShownMask(); });
  w.setSaveMaskHandler(saveShownMask);
  // Edited versions carry the shown mask's label table (Edit > Labels...).
  browser->setLabelTableProvider([&w] { return w.model()->labelTable(); });
  // Submit for approval (draft -> submitted, audited). Unsaved edits are saved first as a new
  // version, and that version is submitted (StudyBrowser::submitOpenedMask).
  study->addAction(QObject::tr("Su&bmit mask for approval"), &w,
                   [&w, browser]
                   {
                     EditController* edit = w.editController();
                     const bool unsaved = edit && edit->isModified() && w.model()->hasMask();
                     if (browser->openedSeriesId() <= 0 || (!unsaved && browser->openedMaskId() <= 0))
                     {
                       QMessageBox::information(&w, QObject::tr("Submit mask for approval"),
                                                QObject::tr("Open a series and a mask version from the study browser first."));
                       return;
                     }
                     int64_t saved = 0;
                     QString error;
                     const int64_t id = browser->submitOpenedMask(unsaved ? &w.model()->mask() : nullptr, &saved, &error);
                     if (saved > 0)
                       edit->markSaved();
                     if (id <= 0)
                       QMessageBox::warning(&w, QObject::tr("Submit mask for approval"), error);
                     else
                       w.statusBar()->showMessage(QObject::tr("Mask version %1 submitted for approval.").arg(id), 10000);
                   });
  // A multi-label mask (TotalSegmentator, a many-class model) reduced to the pancreas and its
  // lesions, as a new version (db::savePancreasOnlyVersion; panseg db reduce-to-pancreas).
  QAction* reduce = study->addAction(QObject::tr("&Reduce mask to pancreas"), &w,
                                     [&w, browser]
                                     {
                                       EditController* edit = w.editController();
                                       if (edit && edit->isModified())
                                       {
                                         QMessageBox::information(&w, QObject::tr("Reduce mask to pancreas"),
                                                                  QObject::tr("Save or discard your edits first."));
                                         return;
                                       }
                                       const int64_t from = browser->openedMaskId() > 0 ? browser->openedMaskId()
                                                                                        : browser->selectedMaskId();
                                       if (browser->reduceMaskToPancreas(from) > 0 && edit)
                                         edit->markSaved();
                                     });
  reduce->setObjectName("reduceToPancreasAction");
  reduce->setToolTip(QObject::tr("A new version keeping only the pancreas (1) and its lesions (2..) that the mask's "
                                 "label table names"));
  // A prediction of a series opened from the database becomes its newest AI mask version.
  QObject::connect(&w, &MainWindow::predictionFinished, browser,
                   [&w, browser](bool ok, const QString&)
                   {
                     if (!ok || !w.model()->hasMask())
                       return;
                     const int64_t id =
                       browser->savePrediction(w.model()->image(), w.model()->mask(), w.predictionModelDir());
                     // The AI version's label table (the model package's names) is the shown one.
                     try
                     {
                       if (id > 0 && browser->database())
                         w.model()->setLabelTable(browser->database()->labelTable(id));
                     }
                     catch (const std::exception&)
                     {
                     }
                     // A flagged prediction says so where the radiologist looks (database/studies/Plausibility.h).
                     try
                     {
                       const auto m = id > 0 && browser->database() ? browser->database()->maskVersion(id)
                                                                    : std::optional<db::MaskVersion>{};
                       if (m && m->plausibility.flagged)
                         w.statusBar()->showMessage(
                           QObject::tr("\u26A0 Prediction saved as mask version %1 is flagged as implausible: %2")
                             .arg(id)
                             .arg(QString::fromStdString(m->plausibility.summary)));
                     }
                     catch (const std::exception&)
                     {
                       // the browser's status line already shows database problems
                     }
                   });
  study->addAction(dock->toggleViewAction());

  // Fine-tuning jobs (docs/fine-tuning.md): the dock polls the job table; the dialog starts
  // `panseg train --db` detached, so the job outlives the GUI and is listed again on reopening.
  auto* jobs = ws.jobs = new JobsDock(session);
  auto* jobsDock = ws.jobsDock = new QDockWidget(QObject::tr("Jobs"), &w);
  jobsDock->setObjectName("JobsDock");
  jobsDock->setWidget(jobs);
  w.addDockWidget(Qt::BottomDockWidgetArea, jobsDock);
  jobsDock->setVisible(jobs->model()->rowCount() > 0);
  // A job started elsewhere (`panseg train`, another workstation) shows up while it runs.
  QObject::connect(jobs->model(), &QAbstractItemModel::modelReset, jobsDock,
                   [jobs, jobsDock]
                   {
                     if (jobs->model()->rowCount() > 0 && !jobsDock->isVisible() &&
                         jobs->model()->jobAt(0).state == db::JobState::Running)
                       jobsDock->show();
                   });

  study->addAction(QObject::tr("Pancreas &volumes..."), &w, [wsp] { wsp->showVolumes(); });
  study->addAction(QObject::tr("&Fine-tune model..."), &w,
                   [&w, browser, jobs, jobsDock]
                   {
                     QStringList centers;
                     if (browser->database())
                       for (const auto& s : browser->database()->listSeries())
                         if (!s.center.empty() && !centers.contains(qs(s.center)))
                           centers << qs(s.center);
                     const auto models = db::listModelPackages(db::defaultModelSearchRoots(), browser->database(),
                                                               {WorkerClient::defaultModelDir()});
                     FineTuneDialog dialog(browser->dataFolder(), w.predictionModelDir(), centers, models, &w);
                     if (dialog.exec() != QDialog::Accepted)
                       return;
                     QString error;
                     if (!startDetachedTraining(dialog.request(), &error))
                       QMessageBox::warning(&w, QObject::tr("Fine-tune model"), error);
                     jobsDock->show();
                     jobs->refresh();
                   });
  study->addAction(jobsDock->toggleViewAction());

  // ---- reader study ------------------------------------------------------------------------
  auto* readerDock = ws.readerDock = new QDockWidget(QObject::tr("Reader study"), &w);
  readerDock->setObjectName("ReaderStudyDock");
  readerDock->setWidget(panel);
  w.addDockWidget(Qt::RightDockWidgetArea, readerDock);
  panel->setSession(session);
  readerDock->setVisible(panel->currentStudyId() > 0); // shown for users with a study
  QObject::connect(panel, &ReaderStudyPanel::readOpened, &w,
                   [&w, panel, browser](int64_t readId, int64_t seriesId)
                   {
                     try
                     {
                       w.setImage(panel->loadImage(seriesId));
                       w.setMask(panel->startingMask(readId));
                       w.model()->setLabelTable(panel->startingLabelTable(readId));
                       if (const auto s = panel->database()->series(seriesId))
                         w.setDocumentTitle(seriesTitle(*s) + QObject::tr(" / read %1").arg(readId));
                       w.setReviewBanner(panel->readBanner(readId));
                       browser->refresh(); // a return or approval by the coordinator since
                       // setImage asked the policy by content; the read knows its series for sure.
                       if (panel->service())
                         w.setPredictionBlocked(predictionBlockedReason(*panel->database(), *panel->service(), seriesId));
                     }
                     catch (const std::exception& e)
                     {
                       QMessageBox::warning(&w, QObject::tr("Open read"), QString::fromUtf8(e.what()));
                     }
                   });
  QObject::connect(panel, &ReaderStudyPanel::submitRequested, &w,
                   [&w, panel](int64_t)
                   {
                     if (!w.model()->hasMask())
                     {
                       QMessageBox::information(&w, QObject::tr("Submit"), QObject::tr("Open a read first: no mask is shown."));
                       return;
                     }
                     if (panel->submitOpenedRead(w.model()->mask(), w.model()->labelTable()) > 0)
                     {
                       if (w.editController())
                         w.editController()->markSaved();
                       w.setReviewBanner({});
                     }
                   });
  // Submissions, approvals, returns and consensus masks are new versions or states: the mask list
  // of the browser shows them at once.
  QObject::connect(panel, &ReaderStudyPanel::studyChanged, browser, [browser](int64_t) { browser->refresh(); });
  // A coordinator allowing or forbidding prediction during a study's reads: Predict follows at once.
  QObject::connect(panel, &ReaderStudyPanel::studySettingsChanged, &w, [&w](int64_t) { w.reapplyPredictionPolicy(); });
  study->addAction(readerDock->toggleViewAction());

  // ---- the coordinator's review screen (ui/ReviewPanel.h) -------------------------------------
  auto* review = ws.review = new ReviewPanel;
  auto* reviewDock = ws.reviewDock = new QDockWidget(QObject::tr("Review"), &w);
  reviewDock->setObjectName("ReviewDock");
  reviewDock->setWidget(review);
  w.addDockWidget(Qt::RightDockWidgetArea, reviewDock);
  w.tabifyDockWidget(readerDock, reviewDock);
  review->setDatabase(panel->database());
  const bool coordinator = panel->database() && db::canCoordinate(panel->database()->currentUser().role);
  reviewDock->setVisible(coordinator);
  if (coordinator && readerDock->isVisible())
    readerDock->raise();
  // What the review shows is read-only: the editor refuses strokes until another image or mask is
  // shown (from the browser, a file, a read), which also drops the review's banner and comparison.
  const QString reviewLock = QObject::tr("Read-only review: open the mask from the study browser to edit it as a new "
                                         "version.");
  auto reviewing = std::make_shared<bool>(false); // inside the review's own setImage / setMask
  QObject::connect(review, &ReviewPanel::showRequested, &w,
                   [&w, review, panel, reviewing, reviewLock, inReview](int64_t seriesId)
                   {
                     if (!w.confirmUnsavedEdits(QObject::tr("reviewing a read")))
                       return;
                     try
                     {
                       *reviewing = true;
                       w.setImage(panel->loadImage(seriesId));
                       if (review->shownMask())
                         w.setMask(*review->shownMask());
                       *reviewing = false;
                     }
                     catch (const std::exception& e)
                     {
                       *reviewing = false;
                       QMessageBox::warning(&w, QObject::tr("Review"), QString::fromUtf8(e.what()));
                       return;
                     }
                     if (w.editController())
                       w.editController()->setLocked(reviewLock);
                     *inReview = true; // Predict refused while reviewing (the policy above)
                     w.reapplyPredictionPolicy();
                     if (const auto s = panel->database()->series(seriesId))
                       w.setDocumentTitle(seriesTitle(*s) + " / " + review->titleText());
                     w.setReviewBanner(review->bannerText());
                   });
  QObject::connect(review, &ReviewPanel::comparisonChanged, &w,
                   [&w, review, reviewing]
                   {
                     if (!w.model()->hasImage())
                       return;
                     *reviewing = true;
                     QString error;
                     if (review->comparedMask() && w.model()->hasMask())
                     {
                       if (!w.model()->setComparisonMask(*review->comparedMask(), &error))
                         w.statusBar()->showMessage(error, 10000);
                     }
                     else
                       w.model()->clearComparison();
                     w.model()->setComparisonStyle(review->contours() ? ViewerModel::ComparisonStyle::Contours
                                                                      : ViewerModel::ComparisonStyle::Agreement);
                     *reviewing = false;
                     w.setReviewBanner(review->bannerText());
                   });
  auto leaveReview = [&w, reviewing, reviewLock, inReview]
  {
    if (*reviewing)
      return;
    if (*inReview)
    {
      *inReview = false;
      w.reapplyPredictionPolicy(); // Predict as the shown series allows again
    }
    EditController* edit = w.editController();
    if (!edit || edit->lockReason() != reviewLock)
      return;
    edit->setLocked({});
    w.model()->clearComparison();
    w.model()->setComparisonStyle(ViewerModel::ComparisonStyle::Agreement);
    if (w.reviewBanner().startsWith(QObject::tr("Review (read-only)")))
      w.setReviewBanner({});
  };
  QObject::connect(w.model(), &ViewerModel::imageChanged, &w, leaveReview);
  QObject::connect(w.model(), &ViewerModel::maskChanged, &w, leaveReview);
  // A coordinator double-clicking any read in the reader-study dock reviews it.
  QObject::connect(panel, &ReaderStudyPanel::reviewRequested, review,
                   [review, reviewDock](int64_t readId)
                   {
                     reviewDock->show();
                     reviewDock->raise();
                     review->showRead(readId);
                   });
  // Decisions in either dock refresh the other, the worklists and the mask lists.
  QObject::connect(review, &ReviewPanel::reviewed, panel, [panel, browser](int64_t) {
    panel->refresh();
    browser->refresh();
  });
  QObject::connect(panel, &ReaderStudyPanel::studyChanged, review, [review](int64_t) { review->refresh(); });
  // ... and so do versions submitted or approved in the study browser (outside any study). In
  // department mode the server's change notifications refresh the queue too (ui/ServerSession).
  QObject::connect(browser, &StudyBrowser::maskStateChanged, review, [review](int64_t) { review->refreshSoon(); });
  study->addAction(reviewDock->toggleViewAction());

  // PACS (docs/pacs.md): query and retrieve through database/pacs; a retrieved series opens, and
  // Retrieve and predict runs Predict Pancreas on it.
  auto* pacsPanel = ws.pacs = new PacsDock([browser] { return browser->database(); });
  pacsPanel->setMaskProvider([browser] { return browser->selectedMaskId(); });
  auto* pacsDock = ws.pacsDock = new QDockWidget(QObject::tr("PACS"), &w);
  pacsDock->setObjectName("PacsDock");
  pacsDock->setWidget(pacsPanel);
  w.addDockWidget(Qt::LeftDockWidgetArea, pacsDock);
  w.tabifyDockWidget(dock, pacsDock);
  dock->raise();
  QObject::connect(pacsPanel, &PacsDock::seriesRetrieved, &w, [&w, browser](int64_t id, bool predict) {
    browser->refresh();
    if (!browser->selectSeries(id))
      return;
    browser->openSelectedSeries();
    if (predict && w.predictAction()->isEnabled())
      w.predictAction()->trigger();
  });
  study->addAction(pacsDock->toggleViewAction());

  // Layout: the views keep most of the window; the bottom docks share one tabbed area.
  w.resizeDocks({dock}, {360}, Qt::Horizontal);
  if (readerDock->isVisible())
    w.resizeDocks({readerDock}, {420}, Qt::Horizontal);
  w.resizeDocks({jobsDock}, {std::max(180, w.height() / 4)}, Qt::Vertical);
  return wsp;
}
} // namespace panseg::ui
