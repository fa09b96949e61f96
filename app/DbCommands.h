#pragma once
// `panseg import`, `panseg db ...` and `panseg bench db`: the study database from the command
// line. Each function takes the arguments after its subcommand words and returns the exit code
// (0 success, 1 failure with a one-line "panseg: error: ..." on stderr, 2 usage error).
// None of them needs a display; they create a QCoreApplication when there is none (Qt SQL
// loads its driver as a plugin).
#include <QString>
#include <QStringList>

namespace panseg::cli
{
/// panseg import PATH... [--db DIR] [--center NAME] [--mask-state STATE] [--json] [--verbose]
int importCommand(const QStringList& args);
/// panseg db list|masks|check|set-modality|set-state|audit ... (args start with the verb)
int dbCommand(const QStringList& args);
/// panseg bench db [--reps N] [--rows N] (args after "bench db"; a leading "db" is ignored)
int benchDb(const QStringList& args);
/// Usage lines for `panseg --help`.
QString dbUsage();
} // namespace panseg::cli
