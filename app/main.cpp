// panseg: with no subcommand the workstation GUI opens (optionally on image/mask paths);
// with a subcommand it works headless. `panseg --help` lists the subcommands.
#include "Cli.h"
#include "DbCommands.h"
#include "PacsCommands.h"
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
#include <functional>
#include <vector>

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
    text.replace("  panseg --version", pacsUsage() + "  panseg --version");
    text.replace("  panseg --version", doctorUsage() + "  panseg --version");
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
  // The command table: a subcommand (and for bench, its first argument), whether it opens the
  // study database, and the function that parses and prints (the work is in the services).
  struct Command
  {
    const char* name;
    const char* sub; // first argument that selects this row (nullptr: any)
    bool dropsSub;   // the handler gets the arguments after `sub`
    bool opensDatabase;
    std::function<int(const QStringList&)> run;
  };
  const std::vector<Command> commands = {
    { "server", nullptr, false, true, serverCommand },
    { "pacs", nullptr, false, true, pacsCommand },
    { "listen", nullptr, false, true, listenCommand },
    { "export-seg", nullptr, false, true, exportSegCommand },
    { "import-seg", nullptr, false, false, importSegCommand },
    { "deidentify", nullptr, false, false, deidentifyCommand },
    { "info", nullptr, false, false, info },
    { "volume", nullptr, false, false, volume },
    { "measure", nullptr, false, false, measure },
    { "demo", nullptr, false, false, demo },
    { "import", nullptr, false, true, importCommand },
    { "db", nullptr, false, true, dbCommand },
    { "volumes", nullptr, false, true, volumesCommand },
    { "export", nullptr, false, true, exportCommand },
    { "export-nnunet", nullptr, false, true, exportNnUnetCommand },
    { "study", nullptr, false, true, studyCommand },
    { "report", nullptr, false, true, reportCommand },
    { "agreement", nullptr, false, false, agreement },
    { "interact", nullptr, false, false, [&](const QStringList& r) { return interact(argc, argv, r); } },
    { "screenshot", nullptr, false, false, [&](const QStringList& r) { return screenshot(argc, argv, r); } },
    { "predict", nullptr, false, true, [&](const QStringList& r) { return predict(argc, argv, r); } },
    { "train", nullptr, false, true, [&](const QStringList& r) { return trainCommand(argc, argv, r); } },
    { "jobs", nullptr, false, true, jobsCommand },
    { "doctor", nullptr, false, false, doctorCommand },
    { "model", nullptr, false, true, [&](const QStringList& r) { return modelCommand(argc, argv, r); } },
    { "bench", "predict", true, false, [&](const QStringList& r) { return benchPredict(argc, argv, r); } },
    { "bench", "train", true, false, [&](const QStringList& r) { return benchTrain(argc, argv, r); } },
    { "bench", "edit", true, false, benchEdit },
    { "bench", "pacs", true, false, benchPacs },
    { "bench", "interactive", true, false, [&](const QStringList& r) { return benchInteractive(argc, argv, r); } },
    { "bench", "db", false, true, [&](const QStringList& r) { return bench(argc, argv, r); } },
    { "bench", nullptr, false, false, [&](const QStringList& r) { return bench(argc, argv, r); } },
  };
  const auto row = std::find_if(commands.begin(), commands.end(), [&](const Command& c)
                                { return cmd == c.name && (!c.sub || rest.value(0) == c.sub); });
  // One identity rule: every command that opens the study database acts as --user NAME (else
  // $PANSEG_USER, else the login name); those that open none refuse --user instead of ignoring it.
  if (row != commands.end() && !row->opensDatabase &&
      std::any_of(rest.begin(), rest.end(), [](const QString& s) { return s == "--user" || s.startsWith("--user="); }))
  {
    printError("--user: panseg " + cmd + " opens no study database (--user applies to the commands that do)");
    return Usage;
  }
  try
  {
    if (row != commands.end())
      return row->run(row->dropsSub ? rest.mid(1) : rest);
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
