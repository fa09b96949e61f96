#pragma once
// The helper executables (panseg-train, panseg-worker: LibTorch never loads into panseg or the
// GUI) and running one to its end while relaying its stdout lines. Used by the training-job
// engine (TrainingJobs.h) and the prediction worker's client (ui/WorkerClient).
#include <QByteArray>
#include <QList>
#include <QPair>
#include <QString>
#include <QStringList>

#include <atomic>
#include <functional>

namespace panseg::db
{
/// A helper's path: $ENV when set (empty if that is not an executable); else a helper built against
/// another LibTorch (a CUDA one, docs/gpu.md), looked for in torchHelperDirs(); else next to the
/// running executable, in the build tree's models/ folder beside it, or in ../lib/panseg. Empty
/// when none exists; `tried` then lists the places looked at, for the error message. `how` says
/// why the path was chosen ("$PANSEG_WORKER", "LibTorch helper folder ...", ...).
QString findHelperTool(const QString& name, const char* env, QStringList* tried = nullptr, QString* how = nullptr);
/// Folders whose helpers win over the ones installed with panseg, in order: $PANSEG_TORCH_HELPERS_DIR
/// when set; the build's torch-worker/ folder beside its app/ (installer/setup.sh with
/// PANSEG_TORCH_DIR builds there); /usr/local/lib/panseg/torch-worker (for the .deb). Each with the
/// reason shown by `panseg doctor`.
QList<QPair<QString, QString>> torchHelperDirs();
/// findHelperTool, or an Error naming the places tried and the variable that overrides them.
QString requireHelperTool(const QString& name, const char* env);

/// True when `dir` holds a model package's three index files (plans.json, model.json,
/// weights.json); the package is checked in full when a worker loads it.
bool looksLikeModelPackage(const QString& dir);
/// The demo model installed with the program: $PANSEG_MODEL when set (empty if that is no
/// package), else models/demo beside the executable, ../share/panseg/models/demo, or the user's
/// data folder. Empty when none is installed.
QString installedDemoModelDir();

struct ChildOutcome
{
  int exitCode = -1;
  bool crashed = false;
  bool cancelled = false; // exit 130, or a stop signal forwarded to the child
  QString error;          // last line of stderr
};

/// Runs `exe args` to its end, calling onLine for every non-empty stdout line. A SIGINT, SIGTERM
/// or SIGHUP to this process meanwhile is forwarded to the child as SIGTERM (panseg-train then
/// keeps its last checkpoint and exits with 130); the previous handlers come back afterwards.
/// A `cancel` flag that becomes true does the same (checked every 200 ms; for callers in a GUI
/// thread pool). Throws when the child cannot be started.
ChildOutcome runHelper(const QString& exe, const QStringList& args, const std::function<void(const QByteArray&)>& onLine,
                       qint64* childPid = nullptr, const std::atomic<bool>* cancel = nullptr);
} // namespace panseg::db
