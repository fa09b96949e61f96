#include "database/session/WorkstationSession.h"

#include "core/Error.h"
#include "database/studies/ReaderStudy.h"
#include "database/StudyDatabase.h"

namespace panseg::db
{
WorkstationSession::WorkstationSession(QObject* parent) : QObject(parent) {}

WorkstationSession::~WorkstationSession()
{
  m_readerStudy.reset(); // holds a reference to the connection
  m_db.reset();
}

void WorkstationSession::open(const std::string& dataFolder) { open(dataFolder, StudyDatabase::OpenOptions{}); }

void WorkstationSession::open(const std::string& dataFolder, const StudyDatabase::OpenOptions& options)
{
  m_readerStudy.reset();
  m_db.reset();
  m_openedSeries = m_openedMask = 0;
  m_openError.clear();
  try
  {
    auto db = std::make_unique<StudyDatabase>(dataFolder.empty() ? StudyDatabase::defaultDataFolder() : dataFolder,
                                              options);
    m_readerStudy = std::make_unique<ReaderStudy>(*db);
    m_db = std::move(db);
  }
  catch (const std::exception& e)
  {
    m_readerStudy.reset();
    m_openError = e.what();
    throw;
  }
  emit databaseOpened();
}

std::string WorkstationSession::dataFolder() const { return m_db ? m_db->dataFolder() : std::string(); }

const User& WorkstationSession::user() const
{
  if (!m_db)
    throw Error("no study database is open");
  return m_db->currentUser();
}

void WorkstationSession::setOpened(int64_t seriesId, int64_t maskVersionId)
{
  if (seriesId == m_openedSeries && maskVersionId == m_openedMask)
    return;
  m_openedSeries = seriesId;
  m_openedMask = maskVersionId;
  emit openedChanged(seriesId, maskVersionId);
}

void WorkstationSession::requireOpenSeries(const char* what) const
{
  if (!m_db)
    throw Error(std::string(what) + ": no study database is open");
  if (m_openedSeries <= 0)
    throw Error(std::string(what) + ": no series of the study database is open");
}

SavedVersion WorkstationSession::saveVersion(const LabelMask& mask, const std::optional<LabelTable>& labels)
{
  requireOpenSeries("save mask");
  const int64_t series = m_openedSeries;
  SavedVersion saved = saveReaderVersion(*m_db, series, mask, m_openedMask, labels);
  setOpened(series, saved.id);
  emit maskVersionSaved(series, saved.id);
  return saved;
}

int64_t WorkstationSession::saveAndSubmit(const LabelMask* edits, const std::optional<LabelTable>& labels,
                                          SavedVersion* saved)
{
  requireOpenSeries("submit mask");
  const int64_t series = m_openedSeries;
  SavedVersion local;
  SavedVersion& out = saved ? *saved : local;
  int64_t submitted = 0;
  try
  {
    submitted = db::saveAndSubmit(*m_db, series, m_openedMask, edits, labels, &out);
  }
  catch (...)
  {
    if (out.id > 0) // the edits were saved before the submit failed: they are the opened version now
    {
      setOpened(series, out.id);
      emit maskVersionSaved(series, out.id);
    }
    throw;
  }
  if (out.id > 0)
  {
    setOpened(series, out.id);
    emit maskVersionSaved(series, out.id);
  }
  return submitted;
}

int64_t WorkstationSession::storePrediction(const Image& shownImage, const LabelMask& mask, const std::string& modelDir)
{
  if (!m_db || m_openedSeries <= 0)
    return 0;
  const auto series = m_db->series(m_openedSeries);
  if (!series || series->sourcePath != shownImage.info.sourcePath)
    return 0; // the image on screen did not come from the opened series
  const int64_t seriesId = m_openedSeries;
  const int64_t id = storeSeriesPrediction(*m_db, seriesId, mask, modelDir, "predicted from " + modelDir);
  setOpened(seriesId, id);
  emit maskVersionSaved(seriesId, id);
  return id;
}
} // namespace panseg::db
