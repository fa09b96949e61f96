#pragma once
// Client of an interactive worker session (`panseg-worker session`, docs/interactive.md): the
// model is loaded and the image read once, then each box request costs only its forward passes.
// Not a widget. Per requestBox() exactly one of finished(), failed() or cancelled() follows.
// A request for another model or image ends the old session and starts a new one.

#include <QJsonObject>
#include <QObject>
#include <QProcess>
#include <QString>

namespace panseg::ui
{
class WorkerSession : public QObject
{
  Q_OBJECT
public:
  explicit WorkerSession(QObject* parent = nullptr);
  ~WorkerSession() override; // the worker is told to quit, then killed

  /// Predicts inside `roi` ("x0,y0,z0,x1,y1,z1", inclusive voxel corners) into `output`, starting
  /// the session for (modelDir, inputPath) first when needed. False (and failed()) when a request
  /// is already running or the worker cannot be found.
  /// `options`: further request words, e.g. "clicks=+1,2,3 previous=PATH label=1" (click models).
  bool requestBox(const QString& modelDir, const QString& inputPath, const QString& roi, const QString& output,
                  const QString& options = {});
  /// Stops the running request ("cancel" on the worker's stdin); cancelled() follows.
  void cancel();
  /// Ends the session (e.g. another image was opened).
  void stop();
  bool isBusy() const { return m_busy; }
  bool isRunning() const { return m_process && m_process->state() != QProcess::NotRunning; }
  /// Sessions started so far (tests: a second box reuses the first session).
  int sessionsStarted() const { return m_sessionsStarted; }
  QJsonObject readyEvent() const { return m_ready; }

signals:
  void finished(const QJsonObject& done);
  void failed(const QString& error);
  void cancelled();

private:
  void onReadyRead();
  void onFinished();
  void sendPending();
  void report(int outcome, const QJsonObject& done = {}, const QString& error = {});

  QProcess* m_process = nullptr;
  QString m_modelDir, m_inputPath;
  QString m_pending; // request line waiting for "ready"
  QByteArray m_buffer;
  QString m_stderrTail;
  QJsonObject m_ready;
  bool m_isReady = false;
  bool m_busy = false;
  int m_sessionsStarted = 0;
};
} // namespace panseg::ui
