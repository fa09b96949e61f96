#pragma once
// `panseg volumes`, `panseg export` and `panseg export-nnunet`: the clinicians' volume table and
// files leaving the study database. Thin wrappers over database/exports/VolumeTable, ui/VolumeExport and
// database/exports/DatasetExport. Each takes the arguments after its subcommand and returns the exit code
// (0 success, 1 failure with one "panseg: error: ..." line, 2 usage error).
#include <QString>
#include <QStringList>

class QMenu;
namespace panseg::ui
{
class MainWindow;
class StudyBrowser;
} // namespace panseg::ui

namespace panseg::cli
{
/// panseg volumes [--db DIR] [--series ID,...] [--modality M] [--center C] [--from DATE] [--to DATE]
///                [--approved-only] [--label N] [--follow-up] [--out FILE.csv|.xlsx|.pdf|.html]
int volumesCommand(const QStringList& args);
/// panseg export [--db DIR] (--mask-version ID [--label N] | --series ID) --out FILE
int exportCommand(const QStringList& args);
/// panseg export-nnunet [--db DIR] --out DIR [--modality M] [--label N] [--approved-only|--include-unapproved]
int exportNnUnetCommand(const QStringList& args);
/// Usage lines for `panseg --help`.
QString volumeUsage();
} // namespace panseg::cli
