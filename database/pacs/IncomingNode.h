#pragma once
// The incoming node behind `panseg listen`: a C-STORE SCP (core/pacs/StorageServer) receives
// instances into <PACS storage>/incoming/; once a series has been quiet for a while its instances
// move to <PACS storage>/<SeriesInstanceUID>/ and are imported (database/Importer); each new
// series gets a job file in <PACS storage>/queue/ that, one at a time, runs the prediction
// (`panseg predict --series`, the worker process) and sends the AI mask back as DICOM SEG. Both
// folders are the persisted queue: a restart resumes with what was received or queued before.
#include "database/StudyDatabase.h"

#include <QString>

#include <functional>
#include <memory>

namespace panseg::db
{
struct IncomingOptions
{
  QString aeTitle = "PANSEG";
  int port = 11112;
  std::string center;       // as ImportOptions::center
  QString predictModel;     // model folder for `panseg predict --series`; empty = no prediction
  bool fast = true;         // --fast for the prediction
  QString sendTo;           // PACS profile that receives the AI mask as DICOM SEG; empty = none
  int settleMs = 3000;      // a series is complete when nothing arrived for this long
  QString pansegExecutable; // the `panseg` to run for predictions (default: this program)
  std::function<void(const QString&)> log; // one line per event
};

class IncomingNode
{
public:
  /// Opens the listening port (throws panseg::Error when it cannot).
  IncomingNode(StudyDatabase& db, IncomingOptions options);
  ~IncomingNode();
  /// Imports the series that have settled, then runs at most one queued job. Returns the number
  /// of things done (0 = idle). Never throws for a bad series or a failed job: it is logged (and a
  /// job is retried on the next polls, up to three attempts).
  int poll();
  int queuedJobs() const;
  int receivedInstances() const;

private:
  struct Impl;
  std::unique_ptr<Impl> d;
};
} // namespace panseg::db
