#pragma once
// The Volumes dock for clinicians: filters (modality, center, study-date range, approved only,
// label), the sortable volume table and the follow-up table (ui/VolumeTableModel over
// db::VolumeTable), and Export... to CSV, XLSX, PDF or HTML (ui/VolumeExport). The widget only
// turns its controls into a db::VolumeFilter and shows the result; the table is built by
// database/exports/VolumeTable. Errors go to the status line and lastError(), never a blocking dialog.
// The reference-mask rule (database/studies/ReferenceMask.h: which approved version represents a series,
// marked ✓) is shown above the table; coordinators and admins change it there (Set rule).
#include "database/StudyDatabase.h"
#include "database/exports/VolumeTable.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSortFilterProxyModel;
class QSpinBox;
class QTableView;

namespace panseg::ui
{
class VolumeTableModel;
class FollowUpTableModel;

class VolumeTableView : public QWidget
{
  Q_OBJECT
public:
  explicit VolumeTableView(QWidget* parent = nullptr);
  /// The database to read (not owned; e.g. StudyBrowser::database()). Refills the center list.
  void setDatabase(db::StudyDatabase* database);
  /// Recorded in exported files (PANSEG_VERSION of the app).
  void setSoftwareVersion(const QString& version) { m_version = version; }

  /// The filter the controls describe.
  db::VolumeFilter filter() const;
  /// Rebuilds the tables; false (and lastError) when the filter or the database fails.
  bool refresh();
  /// Writes the shown table (as last refreshed) to `path` (.csv, .xlsx, .pdf, .html).
  bool exportTo(const QString& path);
  QString lastError() const { return m_lastError; }

  VolumeTableModel* volumeModel() const { return m_model; }
  FollowUpTableModel* followUpModel() const { return m_followUp; }
  QComboBox* modalityBox() const { return m_modality; }
  QComboBox* centerBox() const { return m_center; }
  QLineEdit* fromEdit() const { return m_from; }
  QLineEdit* toEdit() const { return m_to; }
  QCheckBox* approvedOnlyBox() const { return m_approvedOnly; }
  QSpinBox* labelBox() const { return m_label; }
  QTableView* tableView() const { return m_view; }
  /// The rule in force, in words ("reference mask: consensus (database-wide, set by ...)").
  QLabel* ruleLabel() const { return m_ruleLabel; }
  /// Latest approved / Consensus / Reader NAME (data: "latest", "consensus", "reader:NAME");
  /// enabled for coordinators and admins only, like the Set rule button.
  QComboBox* ruleBox() const { return m_ruleBox; }
  QPushButton* setRuleButton() const { return m_setRule; }
  /// Sets the database-wide rule chosen in ruleBox() (db::setReferenceRule: coordinators and
  /// admins, audited) and refreshes; false with lastError() otherwise.
  bool applyRule();

public slots:
  /// File dialog, then exportTo.
  void chooseAndExport();

private:
  void fail(const QString& message);
  db::StudyDatabase* m_db = nullptr;
  QString m_version;
  QString m_lastError;
  QComboBox* m_modality = nullptr;
  QComboBox* m_center = nullptr;
  QLineEdit* m_from = nullptr;
  QLineEdit* m_to = nullptr;
  QCheckBox* m_approvedOnly = nullptr;
  QSpinBox* m_label = nullptr;
  QTableView* m_view = nullptr;
  QTableView* m_followUpView = nullptr;
  QLabel* m_status = nullptr;
  QLabel* m_ruleLabel = nullptr;
  QComboBox* m_ruleBox = nullptr;
  QPushButton* m_setRule = nullptr;
  VolumeTableModel* m_model = nullptr;
  FollowUpTableModel* m_followUp = nullptr;
  QSortFilterProxyModel* m_sorted = nullptr;
};
} // namespace panseg::ui
