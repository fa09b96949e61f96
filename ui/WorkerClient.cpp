#include "ui/WorkerClient.h"

#include "database/jobs/HelperProcess.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFileInfo>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTimer>

namespace panseg::ui
{
namespace
{
enum Outcome
{
  kDone = 0,
  kFailed = 1,
  kCancelled = 2
};

const char* const kWorkerName = "panseg-worker";
} // namespace

WorkerClient::WorkerClient(QObject* parent) : QObject(parent)
{
  m_terminateTimer = new QTimer(this);
  m_terminateTimer->setSingleShot(true);
  m_killTimer = new QTimer(this);
  m_killTimer->setSingleShot(true);
  connect(m_terminateTimer, &QTimer::timeout, this,
          [this]
          {
            if (m_process && m_process->state() != QProcess::NotRunning)
              m_process->terminate(); // SIGTERM: the worker cancels at its next check
          });
  connect(m_killTimer, &QTimer::timeout, this,
          [this]
          {
            if (m_process && m_process->state() != QProcess::NotRunning)
              m_process->kill(); // a long forward pass on the CPU cannot be interrupted
          });
}

WorkerClient::~WorkerClient()
{
  if (m_process && m_process->state() != QProcess::NotRunning)
  {
    m_process->disconnect(this);
    m_process->kill();
    m_process->waitForFinished(3000);
  }
}

QString WorkerClient::findWorker(QStringList* searched)
{
  return db::findHelperTool(kWorkerName, "PANSEG_WORKER", searched);
}

QStringList WorkerClient::argumentsFor(const PredictRequest& r) { return db::workerPredictArguments(r); }

QString WorkerClient::formatDuration(double s)
{
  if (s < 0)
    return tr("unknown");
  if (s < 90)
    return tr("about %1 s").arg(qMax(1, qRound(s)));
  if (s < 5400)
    return tr("about %1 min").arg(qRound(s / 60.0));
  return tr("about %1 h").arg(s / 3600.0, 0, 'f', 1);
}

bool WorkerClient::looksLikeModelPackage(const QString& dir) { return db::looksLikeModelPackage(dir); }

QString WorkerClient::defaultModelDir() { return db::installedDemoModelDir(); }

QString WorkerClient::predictionOutputPath(const QString& imagePath, const QString& modelName)
{
  QString base = QFileInfo(imagePath).fileName();
  for (const char* ext : { ".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd" })
    if (base.endsWith(ext, Qt::CaseInsensitive))
      base.chop(int(qstrlen(ext)));
  if (base.isEmpty())
    base = "image";
  QString model = modelName;
  model.replace(QRegularExpression("[^A-Za-z0-9._-]+"), "_");
  const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + "/predictions";
  QDir().mkpath(dir);
  return dir + "/" + base + "_" + (model.isEmpty() ? QString("model") : model) + "_" +
         QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss") + ".nii.gz";
}

bool WorkerClient::isRunning() const
{
  return m_running;
}

bool WorkerClient::start(const PredictRequest& request)
{
  if (m_running)
  {
    m_error = tr("a prediction is already running");
    return false;
  }
  m_buffer.clear();
  m_stderrTail.clear();
  m_cancelled = m_reported = false;
  m_fraction = 0.0;
  m_estimatedSeconds = -1.0;
  m_forwardPasses = 0;
  m_lastMessage.clear();
  m_error.clear();
  m_notes.clear();
  m_started = m_done = m_errorEvent = QJsonObject();

  QStringList searched;
  const QString worker = m_workerPath.isEmpty() ? findWorker(&searched) : m_workerPath;
  if (worker.isEmpty() || !QFileInfo(worker).isExecutable())
  {
    if (!m_workerPath.isEmpty())
      searched = QStringList{ m_workerPath };
    m_running = true; // so that finish() reports
    finish(kFailed, tr("the prediction worker (%1) was not found (looked at %2); set PANSEG_WORKER to its path")
                        .arg(kWorkerName, searched.join(", ")));
    return false;
  }
  if (m_process)
    m_process->deleteLater();
  m_process = new QProcess(this);
  m_process->setProcessChannelMode(QProcess::SeparateChannels);
  connect(m_process, &QProcess::readyReadStandardOutput, this, &WorkerClient::onReadyRead);
  connect(m_process, &QProcess::readyReadStandardError, this,
          [this]
          {
            m_stderrTail += QString::fromLocal8Bit(m_process->readAllStandardError());
            if (m_stderrTail.size() > 4000)
              m_stderrTail = m_stderrTail.right(4000);
          });
  connect(m_process, &QProcess::finished, this, &WorkerClient::onFinished);
  connect(m_process, &QProcess::errorOccurred, this, &WorkerClient::onErrorOccurred);
  // The worker ends itself when this process dies (PR_SET_PDEATHSIG + a watchdog); naming us lets
  // it notice a death that happened before it could ask for that signal.
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert("PANSEG_PARENT_PID", QString::number(QCoreApplication::applicationPid()));
  m_process->setProcessEnvironment(env);
  m_running = true;
  m_process->start(worker, argumentsFor(request));
  return true;
}

void WorkerClient::cancel()
{
  if (!m_running || !m_process || m_cancelled)
    return;
  m_cancelled = true;
  if (m_process->state() == QProcess::Running)
    m_process->write("cancel\n");
  m_terminateTimer->start(2000);
  m_killTimer->start(10000);
}

bool WorkerClient::waitForFinished(int timeoutMs)
{
  QElapsedTimer timer;
  timer.start();
  while (m_running && (timeoutMs < 0 || timer.elapsed() < timeoutMs))
    QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 50);
  return !m_running;
}

void WorkerClient::onReadyRead()
{
  m_buffer += m_process->readAllStandardOutput();
  int nl;
  while ((nl = m_buffer.indexOf('\n')) >= 0)
  {
    const QByteArray line = m_buffer.left(nl).trimmed();
    m_buffer.remove(0, nl + 1);
    if (!line.isEmpty())
      handleLine(line);
  }
}

void WorkerClient::handleLine(const QByteArray& line)
{
  QJsonParseError err;
  const QJsonDocument doc = QJsonDocument::fromJson(line, &err);
  if (err.error != QJsonParseError::NoError || !doc.isObject())
  {
    // Not protocol: keep it for a crash report, like stderr.
    m_stderrTail += QString::fromLocal8Bit(line) + "\n";
    return;
  }
  const QJsonObject e = doc.object();
  const QString kind = e.value("event").toString();
  emit event(e);
  if (kind == "started")
  {
    m_started = e;
    emit started(e);
  }
  else if (kind == "estimate")
  {
    m_forwardPasses = e.value("forward_passes").toInteger();
    m_estimatedSeconds = e.value("seconds").toDouble(-1.0);
    emit estimateReady(m_forwardPasses, m_estimatedSeconds, e.value("device").toString());
  }
  else if (kind == "progress")
  {
    m_fraction = e.value("fraction").toDouble();
    m_lastMessage = e.value("message").toString();
    emit progress(m_fraction, m_lastMessage, e.value("eta_seconds").toDouble(-1.0));
  }
  else if (kind == "message")
  {
    m_notes << e.value("message").toString();
    emit note(m_notes.last());
  }
  else if (kind == "done")
    m_done = e;
  else if (kind == "error")
    m_errorEvent = e;
}

void WorkerClient::onFinished(int exitCode, QProcess::ExitStatus status)
{
  onReadyRead();
  if (!m_buffer.trimmed().isEmpty())
    handleLine(m_buffer.trimmed());
  m_buffer.clear();
  m_terminateTimer->stop();
  m_killTimer->stop();
  if (status == QProcess::NormalExit && exitCode == 0 && !m_done.isEmpty())
    finish(kDone);
  else if (m_cancelled)
    finish(kCancelled);
  else if (!m_errorEvent.isEmpty())
    finish(kFailed, m_errorEvent.value("message").toString());
  else
  {
    const QString tail = m_stderrTail.trimmed().section('\n', -3).simplified();
    finish(kFailed, status == QProcess::CrashExit
                        ? tr("the prediction worker crashed%1").arg(tail.isEmpty() ? QString() : ": " + tail)
                        : tr("the prediction worker ended with status %1%2")
                              .arg(exitCode)
                              .arg(tail.isEmpty() ? QString() : ": " + tail));
  }
}

void WorkerClient::onErrorOccurred(QProcess::ProcessError error)
{
  if (error == QProcess::FailedToStart)
    finish(kFailed, tr("could not start the prediction worker %1: %2")
                        .arg(m_process->program(), m_process->errorString()));
}

void WorkerClient::finish(int outcome, const QString& error)
{
  if (!m_running || m_reported)
    return;
  m_reported = true;
  m_running = false;
  m_terminateTimer->stop();
  m_killTimer->stop();
  if (outcome == kDone)
    emit finished(m_done);
  else if (outcome == kCancelled)
    emit cancelled();
  else
  {
    m_error = error;
    emit failed(error);
  }
}
} // namespace panseg::ui
