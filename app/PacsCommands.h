#pragma once
// `panseg pacs add|list|remove|echo|find|get|send`: PACS profiles (core/pacs/PacsProfile), query
// and the retrieve / send services of database/pacs. Returns the exit code (0 ok, 1 failure with
// "panseg: error: ...", 2 usage).
#include <QString>
#include <QStringList>

namespace panseg::cli
{
/// The arguments after `pacs`.
int pacsCommand(const QStringList& args);
/// `panseg listen ...`: the incoming node (database/pacs/IncomingNode) until SIGINT/SIGTERM.
int listenCommand(const QStringList& args);
/// `panseg bench pacs [--slices N] [--reps N]` (PacsBench.cpp; args after "bench pacs").
int benchPacs(const QStringList& args);
/// Usage lines for `panseg --help`.
QString pacsUsage();
} // namespace panseg::cli
