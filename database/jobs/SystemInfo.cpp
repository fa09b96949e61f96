#include "database/jobs/SystemInfo.h"

#include "database/jobs/HelperProcess.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>

namespace panseg::db
{
namespace
{
QString lastLine(const QByteArray& text)
{
  const QStringList lines = QString::fromUtf8(text).split('\n', Qt::SkipEmptyParts);
  return lines.isEmpty() ? QString() : lines.last().trimmed();
}

HelperDoctor runHelperDoctor(const QString& name, const char* env, const SystemInfoOptions& o)
{
  HelperDoctor h;
  h.name = name;
  h.env = QString::fromLatin1(env);
  h.path = findHelperTool(name, env, &h.tried, &h.how);
  if (h.path.isEmpty())
  {
    h.error = name + " not found (looked at " + h.tried.join(", ") + "; set $" + h.env + ")";
    return h;
  }
  QProcess p;
  p.setProgram(h.path);
  p.setArguments({ "doctor", "--json", "--device", o.device, "--passes", QString::number(o.passes) });
  QElapsedTimer timer;
  timer.start();
  p.start();
  if (!p.waitForStarted(30000))
  {
    h.error = "cannot start " + h.path + ": " + p.errorString();
    return h;
  }
  if (!p.waitForFinished(o.timeoutMs))
  {
    p.kill();
    p.waitForFinished(5000);
    h.error = h.path + " doctor did not finish within " + QString::number(o.timeoutMs / 1000) + " s";
    return h;
  }
  h.seconds = static_cast<double>(timer.elapsed()) / 1000.0;
  h.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
  const QByteArray out = p.readAllStandardOutput();
  const QByteArray err = p.readAllStandardError();
  for (const QByteArray& line : out.split('\n'))
  {
    const QJsonDocument doc = QJsonDocument::fromJson(line.trimmed());
    if (doc.isObject() && doc.object().value("event").toString() == "doctor")
      h.report = doc.object();
  }
  if (h.exitCode != 0)
  {
    QString e = lastLine(err);
    // "panseg-worker: error: REASON" -> REASON (the caller adds the helper's name).
    const QString prefix = name + ": error: ";
    if (e.startsWith(prefix))
      e = e.mid(prefix.size());
    h.error = e.isEmpty() ? (h.exitCode < 0 ? h.path + " crashed" : h.path + " doctor exited with status " +
                                                                         QString::number(h.exitCode))
                          : e;
  }
  else if (h.report.isEmpty())
    h.error = h.path + " doctor printed no report (an older helper without the doctor command?)";
  return h;
}
} // namespace

bool SystemInfo::ok() const
{
  for (const HelperDoctor& h : helpers)
    if (!h.ok())
      return false;
  return !helpers.isEmpty();
}

QString SystemInfo::firstError() const
{
  for (const HelperDoctor& h : helpers)
    if (!h.ok())
      return h.name + ": " + h.error;
  return {};
}

SystemInfo collectSystemInfo(const SystemInfoOptions& options)
{
  SystemInfo info;
  info.device = options.device;
  if (QCoreApplication::instance())
  {
    info.pansegVersion = QCoreApplication::applicationVersion();
    info.pansegPath = QCoreApplication::applicationFilePath();
  }
  info.helpers << runHelperDoctor("panseg-worker", "PANSEG_WORKER", options)
               << runHelperDoctor("panseg-train", "PANSEG_TRAIN", options);
  return info;
}

QString systemInfoText(const SystemInfo& info)
{
  QString t;
  t += "PanSeg Workstation " + (info.pansegVersion.isEmpty() ? QStringLiteral("(development build)") : info.pansegVersion);
  if (!info.pansegPath.isEmpty())
    t += " (" + info.pansegPath + ")";
  t += "\nLibTorch runs only in the helper processes below; smoke pass device requested: " + info.device + "\n";
  for (const HelperDoctor& h : info.helpers)
  {
    t += "\n" + h.name + ": ";
    if (h.path.isEmpty())
    {
      t += "NOT FOUND\n  looked at: " + h.tried.join(", ") + "\n  set $" + h.env + " to its path\n";
      continue;
    }
    t += h.path + "\n  chosen because: " + h.how + "\n";
    const QString text = h.report.value("text").toString();
    if (!text.isEmpty())
    {
      QStringList lines = text.split('\n', Qt::SkipEmptyParts);
      if (!lines.isEmpty() && lines.first().endsWith(" doctor"))
        lines.removeFirst(); // "panseg-worker doctor": the heading above says it
      for (const QString& line : lines)
        t += "  " + line + "\n";
    }
    if (!h.error.isEmpty())
      t += "  ERROR: " + h.error + "\n";
    else
      t += QString("  (report in %1 s)\n").arg(h.seconds, 0, 'f', 1);
  }
  return t;
}

QJsonObject systemInfoJson(const SystemInfo& info)
{
  QJsonObject o;
  o["panseg_version"] = info.pansegVersion;
  o["panseg_path"] = info.pansegPath;
  o["device"] = info.device;
  o["ok"] = info.ok();
  QJsonArray helpers;
  for (const HelperDoctor& h : info.helpers)
  {
    QJsonObject j;
    j["name"] = h.name;
    j["path"] = h.path;
    j["how"] = h.how;
    j["tried"] = QJsonArray::fromStringList(h.tried);
    j["exit_code"] = h.exitCode;
    j["error"] = h.error;
    j["seconds"] = h.seconds;
    j["report"] = h.report;
    helpers.append(j);
  }
  o["helpers"] = helpers;
  return o;
}
} // namespace panseg::db
