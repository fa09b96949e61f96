#pragma once
// The workstation session (Qt Core, no widgets; ITK-SNAP's GlobalUIModel is the example): the one
// study-database connection of a workstation window, the signed-in user, the series and mask
// version open in the viewer, and the commands users give on them (save a version, save and
// submit, store a prediction). The study browser, the reader-study panel, the review dock, the
// Jobs and Volumes docks and the window's Study menu all share it (ui/Workstation.cpp); none opens
// a database of its own. The commands are the services of database/studies/MaskWorkflow.h, the
// same ones the command line calls without a session.
//
// Threads: the connection belongs to the thread that opened the session (the GUI thread);
// background work (imports, PACS retrieval) opens its own StudyDatabase on the same folder.
#include "core/Volume.h"
#include "core/display/LabelTable.h"
#include "database/StudyDatabase.h"
#include "database/studies/MaskWorkflow.h"

#include <QObject>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace panseg::db
{
class ReaderStudy;
struct User;

class WorkstationSession : public QObject
{
  Q_OBJECT
public:
  explicit WorkstationSession(QObject* parent = nullptr);
  ~WorkstationSession() override;

  /// Opens (creating when absent) the study database in `dataFolder`, a folder or a
  /// postgresql:// location; empty = StudyDatabase::defaultDataFolder(). Replaces an open one
  /// (the open series and mask are forgotten) and emits databaseOpened. Throws panseg::Error
  /// with the database's one-line reason; the session is then closed.
  void open(const std::string& dataFolder = {});
  /// The same with explicit options (user, password; tests and tools).
  void open(const std::string& dataFolder, const StudyDatabase::OpenOptions& options);
  bool isOpen() const { return m_db != nullptr; }
  /// Why the last open() failed (empty after a successful one).
  const std::string& openError() const { return m_openError; }
  /// The connection (nullptr when closed) and the reader-study service on it.
  StudyDatabase* database() const { return m_db.get(); }
  ReaderStudy* readerStudy() const { return m_readerStudy.get(); }
  std::string dataFolder() const;
  /// The signed-in user (the database's current user). Throws when closed.
  const User& user() const;

  /// The series and mask version shown in the viewer (0 = none): the parent of the next save.
  int64_t openedSeries() const { return m_openedSeries; }
  int64_t openedMask() const { return m_openedMask; }
  /// Records what the viewer shows; emits openedChanged when it differs.
  void setOpened(int64_t seriesId, int64_t maskVersionId);

  /// A reader's save (db::saveReaderVersion) of `mask` as a new draft version of the opened series
  /// edited from the opened version; the new version becomes the opened one. Throws when no
  /// series is open or the database refuses.
  SavedVersion saveVersion(const LabelMask& mask, const std::optional<LabelTable>& labels);
  /// Save and submit (db::saveAndSubmit) of the opened version, first saving `edits` when given
  /// (*saved gets that version, also when the submit then fails). Returns the submitted id.
  int64_t saveAndSubmit(const LabelMask* edits, const std::optional<LabelTable>& labels, SavedVersion* saved);
  /// Stores a prediction of `modelDir` as the opened series' newest AI version
  /// (db::storeSeriesPrediction). Returns 0 without storing anything when `shownImage` did not
  /// come from the opened series (an image opened from a file keeps its prediction as a file).
  int64_t storePrediction(const Image& shownImage, const LabelMask& mask, const std::string& modelDir);

signals:
  void databaseOpened();
  void openedChanged(int64_t seriesId, int64_t maskVersionId);
  /// A new version of `seriesId` was saved through this session.
  void maskVersionSaved(int64_t seriesId, int64_t maskVersionId);

private:
  void requireOpenSeries(const char* what) const;
  std::unique_ptr<StudyDatabase> m_db;
  std::unique_ptr<ReaderStudy> m_readerStudy;
  int64_t m_openedSeries = 0;
  int64_t m_openedMask = 0;
  std::string m_openError;
};
} // namespace panseg::db
