#include "ui/WorkerSession.h"

#include "ui/WorkerClient.h"

#include <QCoreApplication>
#include <QFileInfo>
#include <QJsonDocument>
#include <QProcessEnvironment>

namespace panseg::ui
{
namespace
{
enum Outcome
{
  kDone,
  kFailed,
  kCancelled
};
}

WorkerSession::WorkerSession(QObject* parent) : QObject(parent) {}

WorkerSession::~WorkerSession()
{
  stop();
}

void WorkerSession::stop()
{
  if (!m_process)
    return;
  QProcess* p = m_process;
  m_process = nullptr;
  p->disconnect(this);
  if (p->state() != QProcess::NotRunning)
  {
    p->write("quit\n");
    p->closeWriteChannel();
    if (!p->waitForFinished(2000))
    {
      p->kill();
      p->waitForFinished(2000);
    }
  }
  p->deleteLater();
  m_isReady = false;
  m_pending.clear();
  if (m_busy)
    report(kCancelled);
}

bool WorkerSession::requestBox(const QString& modelDir, const QString& inputPath, const QString& roi,
                               const QString& output, const QString& options)
{
  if (m_busy)
  {
    emit failed(tr("a box prediction is already running"));
    return false;
  }
  if (m_process && (modelDir != m_modelDir || inputPath != m_inputPath))
    stop();
  m_busy = true;
  m_pending = options.isEmpty() ? QStringLiteral("box %1 %2\n").arg(roi, output)
                                : QStringLiteral("box %1 %2 10 %3\n").arg(roi, output, options);
  if (!m_process)
  {
    QStringList searched;
    const QString worker = WorkerClient::findWorker(&searched);
    if (worker.isEmpty() || !QFileInfo(worker).isExecutable())
    {
      report(kFailed, {},
             tr("the prediction worker (panseg-worker) was not found (looked at %1); set PANSEG_WORKER to its path")
               .arg(searched.join(", ")));
      return false;
    }
    m_modelDir = modelDir;
    m_inputPath = inputPath;
    m_buffer.clear();
    m_stderrTail.clear();
    m_ready = QJsonObject();
    m_isReady = false;
    m_process = new QProcess(this);
    m_process->setProcessChannelMode(QProcess::SeparateChannels);
    connect(m_process, &QProcess::readyReadStandardOutput, this, &WorkerSession::onReadyRead);
    connect(m_process, &QProcess::readyReadStandardError, this, [this] {
      m_stderrTail += QString::fromLocal8Bit(m_process->readAllStandardError());
      m_stderrTail = m_stderrTail.right(2000);
    });
    connect(m_process, &QProcess::finished, this, &WorkerSession::onFinished);
    connect(m_process, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
      if (e == QProcess::FailedToStart)
        onFinished();
    });
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("PANSEG_PARENT_PID", QString::number(QCoreApplication::applicationPid()));
    m_process->setProcessEnvironment(env);
    ++m_sessionsStarted;
    m_process->start(worker, {"session", "--model", modelDir, "--input", inputPath, "--strict-modality"});
    return true;
  }
  sendPending();
  return true;
}

void WorkerSession::sendPending()
{
  if (!m_isReady || m_pending.isEmpty() || !m_process)
    return;
  m_process->write(m_pending.toUtf8());
  m_pending.clear();
}

void WorkerSession::cancel()
{
  if (!m_busy)
    return;
  if (!m_isReady)
  {
    stop(); // still loading: end the session (reports cancelled)
    return;
  }
  if (m_process)
    m_process->write("cancel\n");
}

void WorkerSession::onReadyRead()
{
  m_buffer += m_process->readAllStandardOutput();
  int nl;
  while ((nl = m_buffer.indexOf('\n')) >= 0)
  {
    const QByteArray line = m_buffer.left(nl).trimmed();
    m_buffer.remove(0, nl + 1);
    const QJsonObject e = QJsonDocument::fromJson(line).object();
    const QString ev = e.value("event").toString();
    if (ev == "ready")
    {
      m_ready = e;
      m_isReady = true;
      sendPending();
    }
    else if (ev == "done")
      report(kDone, e);
    else if (ev == "cancelled")
      report(kCancelled);
    else if (ev == "error" && e.contains("request"))
      report(kFailed, {}, e.value("message").toString());
    else if (ev == "error") // the session could not start; the process ends
      m_stderrTail = e.value("message").toString();
  }
}

void WorkerSession::onFinished()
{
  if (!m_process)
    return;
  QProcess* p = m_process;
  m_process = nullptr;
  p->deleteLater();
  m_isReady = false;
  m_pending.clear();
  if (m_busy)
    report(kFailed, {}, m_stderrTail.trimmed().isEmpty() ? tr("the worker session ended") : m_stderrTail.trimmed());
}

void WorkerSession::report(int outcome, const QJsonObject& done, const QString& error)
{
  m_busy = false;
  if (outcome == kDone)
    emit finished(done);
  else if (outcome == kCancelled)
    emit cancelled();
  else
    emit failed(error);
}
} // namespace panseg::ui
