#pragma once
// The workstation `panseg` opens: the main window with the study browser (left), the reader-study
// panel (right), the Volumes and Jobs docks (bottom, tabbed) and the Study menu, wired together.
// Lives in ui/ (not app/) so that tests drive exactly what users get.
//
// Per-user state and blinding: the window's acting user becomes the database's current user (its
// settings, recent files and recovery file are that user's); a mask file is refused when it is a
// mask version the database hides from that user; Predict Pancreas is disabled, with the reason as
// its tooltip, on a series the user reads blinded in an open study that starts from scratch.
#include <QObject>
#include <QString>

#include <cstdint>

class QDockWidget;
class QMenu;

namespace panseg::db
{
class StudyDatabase;
class ReaderStudy;
class WorkstationSession;
} // namespace panseg::db

namespace panseg::ui
{
class JobsDock;
class PacsDock;
class MainWindow;
class ReaderStudyPanel;
class ReviewPanel;
class StudyBrowser;

/// The parts, for the GUI's wiring and for tests; owned by the window (a child QObject).
class Workstation : public QObject
{
  Q_OBJECT
public:
  explicit Workstation(MainWindow& w);
  /// The session every part shares (database/session/WorkstationSession.h): one connection, the
  /// signed-in user, the open series and mask version.
  db::WorkstationSession* session = nullptr;
  StudyBrowser* browser = nullptr;
  QDockWidget* browserDock = nullptr;
  ReaderStudyPanel* readerPanel = nullptr;
  QDockWidget* readerDock = nullptr;
  /// The coordinator's review screen (tabbed with the reader-study dock; shown to coordinators
  /// and admins): what awaits approval, any read read-only, comparison and agreement, decisions.
  ReviewPanel* review = nullptr;
  QDockWidget* reviewDock = nullptr;
  JobsDock* jobs = nullptr;
  QDockWidget* jobsDock = nullptr;
  QMenu* studyMenu = nullptr;
  /// The PACS dock (tabbed with the study browser; Study > PACS): query, retrieve, open, predict.
  PacsDock* pacs = nullptr;
  QDockWidget* pacsDock = nullptr;
  /// Shows the Volumes dock (created on first use, tabbed with Jobs); Study > Pancreas volumes...
  QDockWidget* showVolumes();

  MainWindow* window = nullptr;
  QDockWidget* volumesDock = nullptr;
};

/// Adds everything to `w`, on the study database in `dataFolder` (empty: the default folder).
Workstation* attachWorkstation(MainWindow& w, const QString& dataFolder = {});

/// Why the current user of `db` may not run the AI on `seriesId` (empty: they may): they read it
/// blinded in an open reader study whose readers start from scratch (the AI mask is hidden from
/// them, so predicting it again would unblind them).
QString predictionBlockedReason(const db::StudyDatabase& db, const db::ReaderStudy& rs, int64_t seriesId);
} // namespace panseg::ui
