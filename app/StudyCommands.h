#pragma once
// `panseg study ...` (reader studies: create, list, show, worklist, read, submit, rate, approve,
// return, consensus, close) and `panseg report --study ID --out FILE.{pdf,csv,html}`.
// See docs/reader-studies.md. Every command takes --db DIR and --user NAME (the acting user;
// default $PANSEG_USER, else the login name).
#include <QString>
#include <QStringList>

namespace panseg::ui
{
class MainWindow;
}

namespace panseg::cli
{
/// panseg study VERB ... (args start with the verb)
int studyCommand(const QStringList& args);
/// panseg report --study ID --out FILE
int reportCommand(const QStringList& args);
/// Usage lines for `panseg --help`.
QString studyUsage();
} // namespace panseg::cli
