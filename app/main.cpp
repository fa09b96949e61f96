// panseg: with no subcommand the workstation GUI opens (optionally on image/mask paths);
// with a subcommand it works headless. `panseg --help` lists the subcommands.
#include "Cli.h"
#include "DbCommands.h"
#include "SegCommands.h"
#include "ServerCommands.h"
#include "VolumeCommands.h"
#include "EditBench.h"
#include "StudyCommands.h"
#include "TrainCommands.h"

#include "database/StudyDatabase.h"

#include <QFileInfo>

#include <algorithm>
#include <cstdio>

static int dispatch(int argc, char** argv)
{
  using namespace panseg::cli;
  QStringList args;
  for (int i = 1; i < argc; ++i)
    args << QString::fromLocal8Bit(argv[i]);

  const QString cmd = args.value(0);
  const QStringList rest = args.mid(1);
  if (cmd == "--version" || cmd == "-V" || cmd == "version")
  {
    std::printf("panseg %s\n", PANSEG_VERSION);
    return Ok;
  }
  if (cmd == "--help" || cmd == "-h" || cmd == "help")
  {
    QString text = usage();
    text.replace("  panseg --version", predictUsage() + "  panseg --version");
    text.replace("  panseg --version", interactUsage() + "  panseg --version");
    text.replace("  panseg --version", segUsage() + "  panseg --version");
    text.replace("  panseg --version", studyUsage() + "  panseg --version");
    text.replace("  panseg --version", volumeUsage() + "  panseg --version");
    text.replace("  panseg --version", trainUsage() + "  panseg --version");
    text.replace("  panseg --version", serverUsage() + "  panseg --version");
    std::printf("%s", qPrintable(text));
    return Ok;
  }
  // Server mode: a password the server asks for and libpq did not find is asked on the
  // terminal, as psql does (database/StudyDatabase.h).
  // A password given at the prompt also goes to this command's child processes (PGPASSWORD).
  panseg::db::StudyDatabase::setDefaultPasswordPrompt([](const std::string& prompt) {
    const std::string password = terminalPassword(prompt);
    if (!password.empty())
      qputenv("PGPASSWORD", QByteArray::fromStdString(password));
    return password;
  });
  // One identity rule: every command that opens the study database acts as --user NAME (else
  // $PANSEG_USER, else the login name); those that open none refuse --user instead of ignoring it.
  static const QStringList kNoDatabase = { "info", "volume", "measure", "agreement", "screenshot", "demo", "bench", "deidentify", "interact",
                                           "import-seg" };
  if (kNoDatabase.contains(cmd) && !(cmd == "bench" && rest.value(0) == "db") &&
      std::any_of(rest.begin(), rest.end(), [](const QString& s) { return s == "--user" || s.startsWith("--user="); }))
  {
    printError("--user: panseg " + cmd + " opens no study database (--user applies to the commands that do)");
    return Usage;
  }
  try
  {
    if (cmd == "server")
      return serverCommand(rest);
    if (cmd == "export-seg")
      return exportSegCommand(rest);
    if (cmd == "import-seg")
      return importSegCommand(rest);
    if (cmd == "deidentify")
      return deidentifyCommand(rest);
    if (cmd == "info")
      return info(rest);
    if (cmd == "volume")
      return volume(rest);
    if (cmd == "measure")
      return measure(rest);
    if (cmd == "demo")
      return demo(rest);
    if (cmd == "import")
      return importCommand(rest);
    if (cmd == "db")
      return dbCommand(rest);
    if (cmd == "volumes")
      return volumesCommand(rest);
    if (cmd == "export")
      return exportCommand(rest);
    if (cmd == "export-nnunet")
      return exportNnUnetCommand(rest);
    if (cmd == "study")
      return studyCommand(rest);
    if (cmd == "report")
      return reportCommand(rest);
    if (cmd == "agreement")
      return agreement(rest);
    if (cmd == "screenshot")
      return screenshot(argc, argv, rest);
    if (cmd == "predict")
      return predict(argc, argv, rest);
    if (cmd == "interact")
      return interact(argc, argv, rest);
    if (cmd == "bench" && rest.value(0) == "interactive")
      return benchInteractive(argc, argv, rest.mid(1));
    if (cmd == "bench" && rest.value(0) == "predict")
      return benchPredict(argc, argv, rest.mid(1));
    if (cmd == "bench" && rest.value(0) == "train")
      return benchTrain(argc, argv, rest.mid(1));
    if (cmd == "train")
      return trainCommand(argc, argv, rest);
    if (cmd == "jobs")
      return jobsCommand(rest);
    if (cmd == "model")
      return modelCommand(argc, argv, rest);
    if (cmd == "bench" && rest.value(0) == "edit")
      return benchEdit(rest.mid(1));
    if (cmd == "bench")
      return bench(argc, argv, rest);
    if (!cmd.isEmpty() && !cmd.startsWith('-') && !cmd.contains('/') && !cmd.contains('.') &&
        !QFileInfo::exists(cmd))
    {
      printError("unknown command '" + cmd + "' (see panseg --help)");
      return Usage;
    }
    return gui(argc, argv, args);
  }
  catch (const std::exception& e)
  {
    printError(e.what());
    return Failed;
  }
}

int main(int argc, char** argv)
{
  // Headless subcommands' application object goes here, before exit() (HeadlessApp.cpp).
  const int code = dispatch(argc, argv);
  panseg::cli::releaseHeadlessApplication();
  return code;
}
