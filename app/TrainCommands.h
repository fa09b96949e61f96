#pragma once
// Fine-tuning from the command line (docs/fine-tuning.md): `panseg train` runs panseg-train as a
// child process (LibTorch never loads into panseg), records the job in the study database,
// evaluates the new model against its base on the held-out cases through panseg-worker and
// registers it; `panseg jobs`, `panseg model promote|evaluate|default`, `panseg bench train`.
#include <QString>
#include <QStringList>

namespace panseg::cli
{
/// panseg train --db DIR | --data DIR ... | --resume-job ID --db DIR
int trainCommand(int argc, char** argv, const QStringList& args);
/// panseg jobs [--db DIR] [--json]
int jobsCommand(const QStringList& args);
/// panseg model promote ID --modality M [--db DIR] | default M [--db DIR] | evaluate ...
int modelCommand(int argc, char** argv, const QStringList& args);
/// panseg bench train [--iters N] [--threads N] [--plans demo,paper] (args after "bench train")
int benchTrain(int argc, char** argv, const QStringList& args);
/// Usage lines for `panseg --help`.
QString trainUsage();
} // namespace panseg::cli
