#pragma once
// The reader-study dock: a study chooser, the worklist with progress, and the actions of the
// current user's role. Readers open the next (or selected) read, which the main window shows
// through readOpened, and submit the shown mask; in AI-review studies they rate the AI mask.
// Coordinators create studies (series filtered by modality and center), see every read, approve
// or return the selected one and write the report (PDF, HTML or CSV). All decisions, including
// blinding, are made by database/studies/ReaderStudy and StudyDatabase; this widget only forwards.
#include "core/Volume.h"
#include "core/display/LabelTable.h"

#include <optional>

#include <QPointer>
#include <QWidget>

#include <memory>

class QCheckBox;
class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QTableView;

class QDialog;

namespace panseg::db
{
class StudyDatabase;
class ReaderStudy;
class WorkstationSession;
} // namespace panseg::db

namespace panseg::ui
{
class ReaderWorklistModel;

class ReaderStudyPanel : public QWidget
{
  Q_OBJECT
public:
  explicit ReaderStudyPanel(QWidget* parent = nullptr);
  ~ReaderStudyPanel() override;

  /// Opens the study database (empty = the default folder). False with a message on failure.
  bool openDatabase(const QString& folder = {}, QString* error = nullptr);
  /// Uses the workstation's session (its connection and reader-study service) instead.
  void setSession(db::WorkstationSession* session);
  db::StudyDatabase* database() const;
  db::ReaderStudy* service() const;

  int64_t currentStudyId() const;
  void selectStudy(int64_t studyId);
  /// The read the user opened last (0 = none).
  int64_t openedReadId() const { return m_openedRead; }
  /// Starts read `readId` and emits readOpened. False (and lastError) on refusal. For coordinators
  /// and admins (who never read) it emits reviewRequested instead: the read opens read-only in
  /// the Review dock (ui/ReviewPanel), whoever's it is.
  bool openRead(int64_t readId);
  /// Submits `mask` for the opened read. Returns the mask version id (0 and lastError on refusal).
  int64_t submitOpenedRead(const LabelMask& mask, const std::optional<panseg::LabelTable>& labels = std::nullopt);
  /// The starting mask and image of a read (for the main window): a returned read starts from
  /// the reader's last submitted version (db::ReaderStudy::startingMask).
  LabelMask startingMask(int64_t readId) const;
  panseg::LabelTable startingLabelTable(int64_t readId) const;
  /// What the reader must see above the views while reading `readId`: for a returned read the
  /// coordinator's comment (empty otherwise).
  QString readBanner(int64_t readId) const;
  Image loadImage(int64_t seriesId) const;
  QString lastError() const { return m_lastError; }
  ReaderWorklistModel* worklistModel() const { return m_model; }
  /// Coordinators: the study's reference-mask rule (database/studies/ReferenceMask.h) in words, and its
  /// choice (data "latest", "consensus", "reader:NAME" for each of the study's readers).
  QLabel* referenceRuleLabel() const { return m_ruleLabel; }
  QComboBox* referenceRuleBox() const { return m_ruleBox; }
  QPushButton* setReferenceRuleButton() const { return m_setRule; }

public slots:
  void refresh();
  void openNext();
  void openSelected();
  void rateSelected();
  void approveSelected();
  void returnSelected();
  /// Builds the consensus of the selected read's case with the chosen method (majority vote or
  /// STAPLE: db::ReaderStudy::buildConsensusWithDetails); the status line gives the new mask
  /// version and, for STAPLE, each read's sensitivity and specificity. Returns the version id
  /// (0 and lastError on refusal).
  int64_t buildConsensusForSelected();
  /// Sets the current study's own reference-mask rule to referenceRuleBox()'s choice (its report
  /// then uses it; db::setReferenceRule: coordinators and admins, audited). False and lastError
  /// on refusal.
  bool setStudyReferenceRule();
  /// Allows or forbids AI prediction during the current study's from-scratch reads (coordinators
  /// and admins; the "Allow AI prediction" box does the same). False (and lastError) on refusal.
  bool setAllowPrediction(bool allow);
  void createStudyDialog();
  void writeReportDialog();
  /// Shows the current study's report (tables and plots, as written to PDF/HTML) in a window;
  /// returns it (nullptr after showing an error). "Save As..." in it writes the files.
  QDialog* showReport();

signals:
  /// The main window should show the series and the mask (startingMask(readId)).
  void readOpened(int64_t readId, int64_t seriesId);
  /// A coordinator opened (double-clicked) a read: show it read-only for review.
  void reviewRequested(int64_t readId);
  /// The user asked to submit the shown mask for the opened read.
  void submitRequested(int64_t readId);
  /// A read was submitted, approved or returned, or a consensus saved: mask lists are stale.
  void studyChanged(int64_t seriesId);
  /// A study's settings changed (e.g. whether prediction is allowed during its reads).
  void studySettingsChanged(int64_t studyId);

private:
  bool fail(const QString& what, const std::exception& e);
  void refreshWorklist();
  int64_t selectedReadId() const;

  QPointer<db::WorkstationSession> m_session;
  std::unique_ptr<db::WorkstationSession> m_ownSession; // openDatabase without a workstation
  ReaderWorklistModel* m_model = nullptr;
  QComboBox* m_studies = nullptr;
  QComboBox* m_rating = nullptr;
  QTableView* m_table = nullptr;
  QProgressBar* m_progress = nullptr;
  QLabel* m_status = nullptr;
  QPushButton *m_next = nullptr, *m_open = nullptr, *m_submit = nullptr, *m_rate = nullptr;
  QPushButton *m_create = nullptr, *m_approve = nullptr, *m_return = nullptr, *m_report = nullptr;
  QPushButton* m_showReport = nullptr;
  QComboBox* m_consensusMethod = nullptr;
  QPushButton* m_consensus = nullptr;
  QLabel* m_ruleLabel = nullptr;
  QComboBox* m_ruleBox = nullptr;
  QPushButton* m_setRule = nullptr;
  QCheckBox* m_allowPrediction = nullptr;
  int64_t m_openedRead = 0;
  QString m_lastError;
};
} // namespace panseg::ui
