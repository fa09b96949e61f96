#pragma once
// The `panseg` command line: one function per subcommand, each returning the process exit code.
// Subcommands that need no display never construct a QApplication.
#include <QMap>
#include <QString>
#include <QStringList>

#include <optional>
#include <string>

namespace panseg::cli
{
/// Exit codes: 0 success, 1 failure (one-line error on stderr), 2 usage error.
enum ExitCode
{
  Ok = 0,
  Failed = 1,
  Usage = 2
};

/// Small argument reader: positionals and --key value / --flag options.
class Args
{
public:
  Args(const QStringList& args, const QStringList& flagNames);
  QStringList positionals;
  bool has(const QString& name) const { return m_values.contains(name); }
  QString value(const QString& name, const QString& fallback = {}) const { return m_values.value(name, fallback); }
  int intValue(const QString& name, int fallback, bool* ok = nullptr) const;
  /// The option names given (without "--").
  QStringList keys() const { return m_values.keys(); }
  QString error; // unknown option or missing value
  QStringList unknown;

private:
  QMap<QString, QString> m_values;
};

int info(const QStringList& args);
int volume(const QStringList& args);
/// panseg measure (MeasureCommands.cpp): mask statistics and axis lengths, or a distance.
int measure(const QStringList& args);
QString measureUsage();
int demo(const QStringList& args);
int agreement(const QStringList& args);
int screenshot(int argc, char** argv, const QStringList& args);
int gui(int argc, char** argv, const QStringList& paths);
int bench(int argc, char** argv, const QStringList& args);
/// panseg interact / panseg bench interactive (InteractCommands.cpp): box prompts, clicks, grow
/// from seeds, the robot user (docs/interactive.md).
int interact(int argc, char** argv, const QStringList& args);
int benchInteractive(int argc, char** argv, const QStringList& args);
QString interactUsage();
/// panseg predict ... (PredictCommands.cpp): PanSegNet through the panseg-worker process.
int predict(int argc, char** argv, const QStringList& args);
/// panseg bench predict ... (args after "bench predict"): runs `panseg-worker bench`.
int benchPredict(int argc, char** argv, const QStringList& args);
/// Usage lines of predict / bench predict for `panseg --help`.
QString predictUsage();
/// panseg doctor (DoctorCommands.cpp): the helpers, their LibTorch and CUDA (db::collectSystemInfo).
int doctorCommand(const QStringList& args);
QString doctorUsage();

QString usage();
/// True when no display is available (and we are not already inside xvfb-run).
bool needsVirtualDisplay();
/// Runs `panseg ARGS` again under xvfb-run and returns its exit code.
int rerunUnderXvfb(char** argv, const QStringList& args);
void printError(const QString& message);
/// The option check of subcommands with a fixed option set: an option not in `allowed` (names
/// without "--"), a missing value, or fewer than `minPos` / more than `maxPos` positional
/// arguments print one usage line and return false.
bool checkOptions(const QStringList& args, const Args& a, const QStringList& allowed, int minPos, int maxPos,
                  const QString& synopsis);
/// The one --label check: a whole number from `minimum` to 255, `fallback` when absent; nullopt
/// after printing "--label must be a whole number from MIN to 255 (MEANING), not 'X'" (callers
/// return Usage).
std::optional<int> labelOption(const Args& a, int fallback, int minimum, const char* meaning = nullptr);
/// --label N for commands where 0 means any non-zero label (0 when absent); false after printing
/// the error when it is not a whole number from 0 to 255.
bool anyLabelOption(const Args& a, int* label);
/// The one identity rule of every command that opens the study database: `--user NAME`, else
/// $PANSEG_USER, else the login name (StudyDatabase::OpenOptions::username; empty = the rest of
/// the rule). Throws Error for an empty --user. Commands that never open the database refuse
/// --user as an unknown option.
std::string actingUserOption(const Args& a);
/// The application object of a headless subcommand (HeadlessApp.cpp): QCoreApplication, or with
/// `gui` a QGuiApplication on the offscreen platform (never a display). main() releases it (after
/// flushing stdout) before returning, so nothing Qt is torn down during exit().
void ensureHeadlessApplication(bool gui);
void releaseHeadlessApplication();
} // namespace panseg::cli
