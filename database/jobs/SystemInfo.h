#pragma once
// System information (`panseg doctor`, Help > System Information): which panseg-worker and
// panseg-train are used and why, and what their LibTorch can do. Each helper is run as
// `HELPER doctor --json` (models/Doctor.h): LibTorch / CUDA / cuDNN versions, whether CUDA is
// usable and why not, GPUs, precision support, CPU threads and features, a smoke forward pass.
// LibTorch never loads into this process; the GUI dialog and the command line show the same text.
#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

namespace panseg::db
{
struct HelperDoctor
{
  QString name;       // "panseg-worker"
  QString env;        // the variable that overrides its path ("PANSEG_WORKER")
  QString path;       // empty: not found
  QString how;        // why this path (findHelperTool)
  QStringList tried;  // the places looked at
  int exitCode = -1;  // of `HELPER doctor --json`; -1 not run / crashed / timed out
  QJsonObject report; // the helper's JSON (empty when it printed none)
  QString error;      // one line: not found, failed to start, or the helper's stderr error
  double seconds = 0.0;
  bool ok() const { return exitCode == 0 && error.isEmpty(); }
};

struct SystemInfo
{
  QString pansegVersion;
  QString pansegPath;
  QString device; // requested for the smoke passes
  QList<HelperDoctor> helpers;
  bool ok() const;
  /// The first helper's error, prefixed with its name ("" when all are fine).
  QString firstError() const;
};

struct SystemInfoOptions
{
  QString device = QStringLiteral("auto"); // "auto", "cpu", "cuda", "cuda:N"
  int passes = 3;                          // timed smoke passes per helper
  int timeoutMs = 180000;                  // per helper
};

/// Finds and runs both helpers (blocking; the GUI calls it off the main thread).
SystemInfo collectSystemInfo(const SystemInfoOptions& options = {});
/// The readable report (`panseg doctor`, the dialog).
QString systemInfoText(const SystemInfo& info);
/// The report as JSON (`panseg doctor --json`): panseg's version and, per helper, path, how,
/// tried, exit code, error and the helper's own report.
QJsonObject systemInfoJson(const SystemInfo& info);
} // namespace panseg::db
