#include "database/jobs/HelperProcess.h"

#include "core/Error.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QProcess>
#include <QStandardPaths>

#include <atomic>
#include <csignal>

#include <sys/types.h>
#include <unistd.h>

namespace panseg::db
{
namespace
{
std::atomic<int> g_stopSignal{ 0 };
extern "C" void onStopSignal(int sig) { g_stopSignal = sig; }

/// SIGINT / SIGTERM / SIGHUP set g_stopSignal while alive; the previous handlers come back after.
class StopSignals
{
public:
  StopSignals()
  {
    struct sigaction sa = {};
    sa.sa_handler = onStopSignal;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; ++i)
      sigaction(kSignals[i], &sa, &m_old[i]);
  }
  ~StopSignals()
  {
    for (int i = 0; i < 3; ++i)
      sigaction(kSignals[i], &m_old[i], nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

private:
  static constexpr int kSignals[3] = { SIGINT, SIGTERM, SIGHUP };
  struct sigaction m_old[3];
};
} // namespace

QList<QPair<QString, QString>> torchHelperDirs()
{
  QList<QPair<QString, QString>> dirs;
  const QString fromEnv = qEnvironmentVariable("PANSEG_TORCH_HELPERS_DIR");
  if (!fromEnv.isEmpty())
    dirs << qMakePair(QDir::cleanPath(fromEnv), QStringLiteral("$PANSEG_TORCH_HELPERS_DIR"));
  if (QCoreApplication::instance())
    dirs << qMakePair(QDir::cleanPath(QCoreApplication::applicationDirPath() + "/../torch-worker"),
                      QStringLiteral("the LibTorch build beside this build (installer/setup.sh with PANSEG_TORCH_DIR)"));
  dirs << qMakePair(QStringLiteral("/usr/local/lib/panseg/torch-worker"),
                    QStringLiteral("the separately built LibTorch helpers folder"));
  return dirs;
}

QString findHelperTool(const QString& name, const char* env, QStringList* tried, QString* how)
{
  QStringList looked;
  const QString fromEnv = qEnvironmentVariable(env);
  if (!fromEnv.isEmpty())
  {
    looked << fromEnv + " ($" + env + ")";
    if (tried)
      *tried = looked;
    if (how)
      *how = QStringLiteral("$") + env;
    return QFileInfo(fromEnv).isExecutable() && QFileInfo(fromEnv).isFile() ? fromEnv : QString();
  }
  const QString appDir = QCoreApplication::instance() ? QCoreApplication::applicationDirPath() : QString();
  QList<QPair<QString, QString>> candidates;
  for (const auto& dir : torchHelperDirs())
    candidates << qMakePair(dir.first + "/" + name, dir.second);
  if (!appDir.isEmpty())
    candidates << qMakePair(appDir + "/" + name, QStringLiteral("installed beside panseg"))
               << qMakePair(appDir + "/../models/" + name, QStringLiteral("the build tree (models/ beside app/)"))
               << qMakePair(appDir + "/../lib/panseg/" + name, QStringLiteral("installed in ../lib/panseg"));
  for (const auto& c : candidates)
  {
    const QString p = QDir::cleanPath(c.first);
    looked << p;
    if (QFileInfo(p).isFile() && QFileInfo(p).isExecutable())
    {
      if (tried)
        *tried = looked;
      if (how)
        *how = c.second;
      return p;
    }
  }
  if (tried)
    *tried = looked;
  return {};
}

QString requireHelperTool(const QString& name, const char* env)
{
  QStringList tried;
  const QString path = findHelperTool(name, env, &tried);
  if (!path.isEmpty())
    return path;
  if (!qEnvironmentVariable(env).isEmpty())
    throw Error(name.toStdString() + " not found: $" + env + " = " + qEnvironmentVariable(env).toStdString() +
                " is not an executable");
  throw Error(name.toStdString() + " not found (tried " + tried.join(", ").toStdString() + "; set $" + env +
              "); it is built with LibTorch (models/)");
}

ChildOutcome runHelper(const QString& exe, const QStringList& args, const std::function<void(const QByteArray&)>& onLine,
                       qint64* childPid, const std::atomic<bool>* cancel)
{
  StopSignals stop;
  g_stopSignal = 0;
  QProcess p;
  p.setProgram(exe);
  p.setArguments(args);
  p.start();
  if (!p.waitForStarted(60000))
    throw Error("cannot start " + exe.toStdString() + ": " + p.errorString().toStdString());
  if (childPid)
    *childPid = p.processId();
  QByteArray buffer, err;
  bool forwarded = false;
  auto drain = [&] {
    buffer += p.readAllStandardOutput();
    err += p.readAllStandardError();
    int nl;
    while ((nl = buffer.indexOf('\n')) >= 0)
    {
      const QByteArray line = buffer.left(nl).trimmed();
      buffer.remove(0, nl + 1);
      if (!line.isEmpty())
        onLine(line);
    }
    if (err.size() > 65536)
      err = err.right(16384);
  };
  while (p.state() != QProcess::NotRunning)
  {
    p.waitForReadyRead(200);
    drain();
    if ((g_stopSignal || (cancel && cancel->load())) && !forwarded)
    {
      ::kill(static_cast<pid_t>(p.processId()), SIGTERM);
      forwarded = true;
    }
  }
  p.waitForFinished(-1);
  drain();
  if (!buffer.trimmed().isEmpty())
    onLine(buffer.trimmed());
  ChildOutcome o;
  o.crashed = p.exitStatus() != QProcess::NormalExit;
  o.exitCode = o.crashed ? -1 : p.exitCode();
  o.cancelled = o.exitCode == 130 || forwarded;
  const QStringList lines = QString::fromUtf8(err).split('\n', Qt::SkipEmptyParts);
  o.error = lines.isEmpty() ? QString() : lines.last().trimmed();
  if (o.error.isEmpty() && o.crashed)
    o.error = exe + " crashed";
  return o;
}
bool looksLikeModelPackage(const QString& dir)
{
  const QDir d(dir);
  return !dir.isEmpty() && d.exists("plans.json") && d.exists("model.json") && d.exists("weights.json");
}

QString installedDemoModelDir()
{
  const QString env = qEnvironmentVariable("PANSEG_MODEL");
  if (!env.isEmpty())
    return looksLikeModelPackage(env) ? QDir(env).absolutePath() : QString();
  QStringList candidates;
  if (QCoreApplication::instance())
  {
    const QString appDir = QCoreApplication::applicationDirPath();
    candidates << appDir + "/models/demo" << appDir + "/../share/panseg/models/demo";
  }
  candidates << QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + "/models/demo";
  for (const QString& c : candidates)
    if (looksLikeModelPackage(c))
      return QDir(c).absolutePath();
  return {};
}
} // namespace panseg::db
