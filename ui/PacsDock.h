#pragma once
// The PACS dock: server picker (the user's PACS profiles, core/pacs/PacsProfile), search fields,
// a results table (patient, date, modality, description, instances, a mark when the series or
// study is already in the study database), Retrieve and Retrieve and predict. Searching and
// retrieving run on a worker thread (QtConcurrent) through the same services as `panseg pacs`
// (core/pacs clients, database/pacs/PacsService); the dock only shows state and forwards.
#include <QWidget>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/pacs/PacsClient.h"

class QComboBox;
class QLineEdit;
class QLabel;
class QPushButton;
class QTableWidget;
class QProgressBar;

namespace panseg::db
{
class StudyDatabase;
}

namespace panseg::ui
{
class PacsDock : public QWidget
{
  Q_OBJECT
public:
  /// `database` gives the GUI's open study database (the "in database" mark); a retrieve opens its
  /// own connection to the same database, as the same user, in the worker thread.
  explicit PacsDock(std::function<db::StudyDatabase*()> database, QWidget* parent = nullptr);
  ~PacsDock() override;

  // For the GUI's wiring and tests.
  QComboBox* serverBox() const { return m_server; }
  QLineEdit* patientNameEdit() const { return m_patientName; }
  QLineEdit* patientIdEdit() const { return m_patientId; }
  QLineEdit* dateEdit() const { return m_date; }
  QLineEdit* modalityEdit() const { return m_modality; }
  QLineEdit* accessionEdit() const { return m_accession; }
  QComboBox* levelBox() const { return m_level; }
  QTableWidget* results() const { return m_table; }
  QPushButton* searchButton() const { return m_search; }
  QPushButton* retrieveButton() const { return m_retrieve; }
  QPushButton* retrievePredictButton() const { return m_retrievePredict; }
  QPushButton* sendButton() const { return m_send; }
  /// Which mask version *Send mask to PACS* sends (the study browser's selected version).
  void setMaskProvider(std::function<int64_t()> provider) { m_maskProvider = std::move(provider); }
  QLabel* statusLabel() const { return m_status; }
  const std::vector<pacs::PacsRecord>& records() const { return m_records; }
  bool isBusy() const { return m_busy; }
  /// Processes events until the running search or retrieve has finished (tests).
  bool waitForIdle(int timeoutMs = 60000);

public slots:
  /// Re-reads the profile file into the server picker.
  void reloadProfiles();
  void search();
  /// Retrieves the selected rows (a study row: all its series) into the study database.
  void retrieveSelected(bool thenPredict = false);
  void cancel();
  /// Sends the provider's mask version, which must be approved, as DICOM SEG to the chosen PACS.
  void sendMask();

signals:
  /// A series is now in the database (retrieved, or found there); `predict`: the user asked for
  /// a prediction on it. Emitted once per retrieve, for the last series.
  void seriesRetrieved(int64_t seriesId, bool predict);

private:
  void setBusy(bool busy, const QString& message);
  void showRecords();
  void updateButtons();
  pacs::PacsProfile currentProfile() const;

  std::function<db::StudyDatabase*()> m_database;
  QComboBox* m_server = nullptr;
  QLineEdit *m_patientName = nullptr, *m_patientId = nullptr, *m_date = nullptr, *m_modality = nullptr,
            *m_accession = nullptr;
  QComboBox* m_level = nullptr;
  std::function<int64_t()> m_maskProvider;
  QPushButton* m_send = nullptr;
  QPushButton *m_search = nullptr, *m_retrieve = nullptr, *m_retrievePredict = nullptr, *m_cancel = nullptr;
  QTableWidget* m_table = nullptr;
  QProgressBar* m_progress = nullptr;
  QLabel* m_status = nullptr;
  std::vector<pacs::PacsRecord> m_records;
  // Shared with the running retrieve, so that it outlives a dock closed meanwhile.
  std::shared_ptr<std::atomic<bool>> m_cancelFlag = std::make_shared<std::atomic<bool>>(false);
  bool m_busy = false;
};
} // namespace panseg::ui
