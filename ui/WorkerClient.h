#pragma once
// Client of the prediction worker (panseg-worker, models/tools/panseg_worker.cpp): starts it with
// QProcess, parses its JSON lines and turns them into signals. LibTorch stays in the worker
// process; the GUI and the `panseg predict` command both use this class. Not a widget.
//
// Per start() exactly one of finished(), failed() or cancelled() follows.

#include "database/jobs/WorkerCommand.h"

#include <QJsonObject>
#include <QObject>
#include <QProcess>
#include <QString>
#include <QStringList>

class QTimer;

namespace panseg::ui
{
/// What to predict (the worker's `predict` options): database/jobs/WorkerCommand.h.
using PredictRequest = db::PredictRequest;

class WorkerClient : public QObject
{
  Q_OBJECT
public:
  explicit WorkerClient(QObject* parent = nullptr);
  ~WorkerClient() override; // a running worker is killed

  /// panseg-worker's path: $PANSEG_WORKER, else next to the running executable, else the build
  /// tree's models/ folder beside it, else ../lib/panseg. Empty when none exists; `searched`
  /// then lists the places tried (for the error message).
  static QString findWorker(QStringList* searched = nullptr);
  /// Overrides findWorker() for this client.
  void setWorkerPath(const QString& path) { m_workerPath = path; }

  /// The worker's command line for a request (after the executable).
  static QStringList argumentsFor(const PredictRequest& request);

  /// Starts a prediction. Returns false (and emits failed()) when the worker cannot be found
  /// or started, or when one is already running.
  bool start(const PredictRequest& request);
  /// Asks the worker to stop: "cancel" on its stdin, SIGTERM after 2 s, SIGKILL after 10 s.
  /// The worker writes its output atomically, so a cancelled run leaves no file.
  void cancel();
  bool isRunning() const;
  /// Runs the event loop until the worker has ended (or timeoutMs passed); true when it ended.
  bool waitForFinished(int timeoutMs = -1);

  // Last known state of the current / last run.
  double fraction() const { return m_fraction; }
  QString lastMessage() const { return m_lastMessage; }
  double estimatedSeconds() const { return m_estimatedSeconds; } // -1 before the estimate
  qint64 forwardPasses() const { return m_forwardPasses; }
  QJsonObject startedEvent() const { return m_started; }
  QJsonObject result() const { return m_done; } // the "done" event
  QString errorString() const { return m_error; }
  QStringList notes() const { return m_notes; } // "message" events
  bool wasCancelled() const { return m_cancelled; }

  /// "about 3 min" / "about 40 s" for an estimate in seconds.
  static QString formatDuration(double seconds);

  /// True when `dir` holds a model package's plans.json, model.json and weights.json.
  static bool looksLikeModelPackage(const QString& dir);
  /// The demo model package, when one is installed: $PANSEG_MODEL, else models/demo next to the
  /// executable, ../share/panseg/models/demo, or <app data>/models/demo. Empty when none.
  static QString defaultModelDir();
  /// Where the GUI saves a prediction until the database takes it: <app data>/predictions/
  /// <image name>_<model name>_<yyyyMMdd-HHmmss>.nii.gz (folder created).
  static QString predictionOutputPath(const QString& imagePath, const QString& modelName);

signals:
  void started(const QJsonObject& event);
  void estimateReady(qint64 forwardPasses, double seconds, const QString& device);
  void progress(double fraction, const QString& message, double etaSeconds);
  void note(const QString& text);
  void finished(const QJsonObject& done);
  void failed(const QString& error);
  void cancelled();
  /// Every JSON line, as parsed.
  void event(const QJsonObject& event);

private:
  void onReadyRead();
  void onFinished(int exitCode, QProcess::ExitStatus status);
  void onErrorOccurred(QProcess::ProcessError error);
  void handleLine(const QByteArray& line);
  void finish(int outcome, const QString& error = {}); // 0 done, 1 failed, 2 cancelled

  QProcess* m_process = nullptr;
  QTimer* m_terminateTimer = nullptr;
  QTimer* m_killTimer = nullptr;
  QString m_workerPath;
  QByteArray m_buffer;
  QString m_stderrTail;
  bool m_running = false;
  bool m_cancelled = false;
  bool m_reported = false;
  double m_fraction = 0.0;
  double m_estimatedSeconds = -1.0;
  qint64 m_forwardPasses = 0;
  QString m_lastMessage;
  QString m_error;
  QStringList m_notes;
  QJsonObject m_started, m_done, m_errorEvent;
};
} // namespace panseg::ui
