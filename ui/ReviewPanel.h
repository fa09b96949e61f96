#pragma once
// The coordinator's review screen (issue 20, defect 5): the "Review" dock beside the reader-study
// dock. It lists what awaits approval (submitted reads and consensus masks of open studies, mask
// versions submitted outside a study); picking one, or double-clicking any read in the reader-study
// dock, shows it read-only in the viewer. The coordinator picks what to compare it with (another
// read of the case, the AI mask, a consensus; for a plain version the series' other versions), sees
// both as contours of different colours (or agreement colours) on the slice views with the
// agreement numbers (Dice, Jaccard, precision, recall, volumes and their difference, HD95, ASSD),
// and approves, returns with a comment (required) or approves a consensus.
//
// Every decision and number comes from database/studies/ReadReview and database/studies/ReaderStudy (the same
// functions `panseg study review|compare|approve|return|approve-consensus` call); the panel only
// forwards and shows. The viewer is driven by the workstation through showRequested and
// comparisonChanged (ui/Workstation.cpp).
#include "core/Volume.h"
#include "database/studies/ReadReview.h"

#include <QWidget>

#include <map>
#include <memory>
#include <optional>
#include <vector>

class QComboBox;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QTableWidget;
class QTimer;

namespace panseg::db
{
class StudyDatabase;
class ReaderStudy;
} // namespace panseg::db

namespace panseg::ui
{
class ReviewPanel : public QWidget
{
  Q_OBJECT
public:
  explicit ReviewPanel(QWidget* parent = nullptr);
  ~ReviewPanel() override;

  /// Works on `db` (not owned; the reader-study dock's connection, same thread). Only coordinators
  /// and admins get a queue; for others the panel says so.
  void setDatabase(db::StudyDatabase* db);

  /// What awaits approval, as listed (row order).
  const std::vector<db::ReviewItem>& queue() const { return m_queue; }
  /// Shows a queue row / any read of a study (also pending ones: the series without a mask).
  /// False (and lastError) on refusal.
  bool showQueueItem(int row);
  bool showRead(int64_t readId);

  /// What the shown mask can be compared with (the "Compare with" box, after "nothing").
  const std::vector<db::ComparisonCandidate>& candidates() const { return m_candidates; }
  /// Compares the shown mask with mask version `maskVersionId` (one of candidates(); 0 = stop).
  bool compareWith(int64_t maskVersionId);
  /// Contours (true, the default) or agreement colours on the slice views.
  void setContours(bool on);
  bool contours() const;

  int64_t shownSeriesId() const { return m_subject.seriesId; }
  int64_t shownMaskId() const { return m_subject.maskVersionId; }
  int64_t shownReadId() const { return m_subject.readId; }
  int64_t comparedMaskId() const { return m_comparedId; }
  /// The masks the viewer shows (nullptr: none).
  const LabelMask* shownMask() const { return m_shownMask ? &*m_shownMask : nullptr; }
  const LabelMask* comparedMask() const { return m_comparedMask ? &*m_comparedMask : nullptr; }
  /// The agreement of the shown and the compared mask (core/metrics through db::ReadReview).
  std::optional<AgreementResult> agreement() const { return m_agreement; }
  /// The line above the views while reviewing ("Review (read-only): read 5 by alice ...").
  QString bannerText() const;
  /// Title part for the window ("read 5 (alice) / mask v7").
  QString titleText() const;

  QString lastError() const { return m_lastError; }
  QString statusText() const;

public slots:
  void refresh();
  /// refresh() once after the current burst of changes (one submit notifies several tables);
  /// used for the live updates from the server and the other docks.
  void refreshSoon();
  /// Approves the shown read (or plain version) with the comment box's text (optional).
  bool approve();
  /// Returns the shown read (or plain version) with the comment box's text (required).
  bool returnWithComment();
  /// Approves the shown consensus, else the compared one.
  bool approveConsensus();

signals:
  /// The viewer should show series `seriesId` with shownMask() (none when null), read-only.
  void showRequested(int64_t seriesId);
  /// The compared mask or the style changed: comparedMask(), contours().
  void comparisonChanged();
  /// A read or mask changed state (approved, returned): docks, worklists and mask lists are stale.
  void reviewed(int64_t seriesId);

private:
  struct Subject
  {
    db::ReviewItem::Kind kind = db::ReviewItem::Kind::Read;
    int64_t studyId = 0, seriesId = 0, readId = 0, maskVersionId = 0;
    int label = 0;
    std::string state; // the read's state, else the mask version's
    std::string who;   // reader or author
    int readNumber = 0;
    std::string method; // consensus method
  };
  bool fail(const QString& what, const std::exception& e);
  bool show(const Subject& s);
  void reloadSubjectState();
  void fillCandidates();
  void updateAgreement();
  void updateButtons();
  int64_t consensusToApprove() const;

  db::StudyDatabase* m_db = nullptr;
  std::unique_ptr<db::ReaderStudy> m_rs;
  std::unique_ptr<db::ReadReview> m_review;
  std::vector<db::ReviewItem> m_queue;
  std::vector<db::ComparisonCandidate> m_candidates;
  Subject m_subject;
  std::optional<LabelMask> m_shownMask, m_comparedMask;
  int64_t m_comparedId = 0;
  std::optional<AgreementResult> m_agreement;
  QString m_lastError;

  QTableWidget* m_table = nullptr;
  QLabel* m_subjectLabel = nullptr;
  QComboBox* m_compare = nullptr;
  QComboBox* m_style = nullptr;
  QLabel* m_legend = nullptr;
  std::map<QString, QLabel*> m_values; // agreement numbers by key
  QPlainTextEdit* m_comment = nullptr;
  QPushButton *m_approve = nullptr, *m_return = nullptr, *m_approveConsensus = nullptr, *m_refresh = nullptr;
  QLabel* m_status = nullptr;
  QTimer* m_refreshTimer = nullptr;
};
} // namespace panseg::ui
