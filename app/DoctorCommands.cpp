// panseg doctor (docs/gpu.md): which panseg-worker and panseg-train are used and what their
// LibTorch can do. The work is db::collectSystemInfo (database/jobs/SystemInfo.h), which Help >
// System Information shows too; this file parses options and prints.
#include "Cli.h"

#include "database/jobs/SystemInfo.h"

#include <QCoreApplication>
#include <QJsonDocument>

#include <cstdio>

namespace panseg::cli
{
QString doctorUsage()
{
  return QStringLiteral(
      "  panseg doctor [--device auto|cpu|cuda[:N]] [--passes N] [--json]\n"
      "                                   which panseg-worker / panseg-train are used and why, their\n"
      "                                   LibTorch, CUDA (and why not), GPUs, CPU, a smoke forward pass\n");
}

int doctorCommand(const QStringList& args)
{
  const Args a(args, { "json" });
  const QString synopsis = "panseg doctor [--device auto|cpu|cuda[:N]] [--passes N] [--json]";
  if (!checkOptions(args, a, { "device", "passes", "json" }, 0, 0, synopsis))
    return Usage;
  db::SystemInfoOptions o;
  o.device = a.value("device", "auto");
  bool ok = true;
  o.passes = a.intValue("passes", 3, &ok);
  if (!ok || o.passes < 0 || o.passes > 1000)
  {
    printError("--passes must be a whole number from 0 to 1000, not '" + a.value("passes") + "'");
    return Usage;
  }
  if (o.device != "auto" && o.device != "cpu" && o.device != "cuda" && !o.device.startsWith("cuda:"))
  {
    printError("--device must be auto, cpu, cuda or cuda:N, not '" + o.device + "'");
    return Usage;
  }
  ensureHeadlessApplication(false);
  QCoreApplication::setApplicationVersion(PANSEG_VERSION);
  const db::SystemInfo info = db::collectSystemInfo(o);
  if (a.has("json"))
    std::printf("%s\n", QJsonDocument(db::systemInfoJson(info)).toJson(QJsonDocument::Compact).constData());
  else
    std::printf("%s", qPrintable(db::systemInfoText(info)));
  std::fflush(stdout);
  if (!info.ok())
  {
    printError(info.firstError());
    return Failed;
  }
  return Ok;
}
} // namespace panseg::cli
