#pragma once
// `panseg bench edit`: mask editing speed and undo memory on a generated 512x512x300 CT.
#include <QStringList>

namespace panseg::cli
{
/// panseg bench edit [--reps N] (args after "bench edit").
int benchEdit(const QStringList& args);
} // namespace panseg::cli
