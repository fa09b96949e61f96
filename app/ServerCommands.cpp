// Department mode from the command line: setting up a PostgreSQL database for PanSeg and
// managing its accounts (database/server/ServerAdmin.h). Parsing and printing only.
#include "ServerCommands.h"
#include "database/QtText.h"

#include "Cli.h"

#include "core/Error.h"
#include "database/StudyDatabase.h"
#include "database/server/ServerAdmin.h"

#include <QCoreApplication>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

namespace panseg::cli
{
using namespace panseg::db;

std::string terminalPassword(const std::string& prompt)
{
  const int fd = ::open("/dev/tty", O_RDWR | O_NOCTTY);
  if (fd < 0)
    return {};
  termios old{};
  const bool term = ::tcgetattr(fd, &old) == 0;
  if (term)
  {
    termios quiet = old;
    quiet.c_lflag &= ~tcflag_t(ECHO);
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  if (::write(fd, prompt.data(), prompt.size()) < 0)
  {
    ::close(fd);
    return {};
  }
  std::string line;
  char c = 0;
  while (::read(fd, &c, 1) == 1 && c != '\n')
    line += c;
  if (term)
    ::tcsetattr(fd, TCSAFLUSH, &old);
  if (::write(fd, "\n", 1) < 0)
  {
  }
  ::close(fd);
  return line;
}

namespace
{
void ensureCoreApplication()
{
  ensureHeadlessApplication(false); // released by main() before exit (Cli.h)
}

std::string location(const Args& a)
{
  return (a.has("db") ? a.value("db") : qs(StudyDatabase::defaultDataFolder())).toStdString();
}

/// A new password: from --password-file (first line), else asked twice on the terminal.
std::string newPassword(const Args& a, const std::string& whose)
{
  if (a.has("password-file"))
  {
    QFile f(a.value("password-file"));
    if (!f.open(QIODevice::ReadOnly))
      throw Error("cannot read the password file " + a.value("password-file").toStdString() + ": " +
                  f.errorString().toStdString());
    const std::string pw = QString::fromUtf8(f.readLine()).trimmed().toStdString();
    if (pw.empty())
      throw Error("the password file " + a.value("password-file").toStdString() + " is empty");
    return pw;
  }
  const std::string first = terminalPassword("New password for " + whose + ": ");
  if (first.empty())
    throw Error("no password given: use --password-file FILE (or run on a terminal to be asked)");
  if (terminalPassword("Repeat the password: ") != first)
    throw Error("the two passwords differ; nothing was changed");
  return first;
}

Role roleArg(const QString& text)
{
  const auto r = parseRole(text.toStdString());
  if (!r)
    throw Error("unknown role '" + text.toStdString() + "' (admin, coordinator, reader, clinician)");
  return *r;
}

bool usageError(const Args& a, const QString& synopsis, int n)
{
  if (!a.error.isEmpty())
  {
    printError(a.error);
    return true;
  }
  if (a.positionals.size() != n)
  {
    printError("usage: " + synopsis);
    return true;
  }
  return false;
}
} // namespace

QString serverUsage()
{
  return "  panseg server init URI                            set up a PostgreSQL database for PanSeg (its owner)\n"
         "  panseg server whoami --db URI                     who the server signed you in as\n"
         "  panseg server user add NAME --role R [--display-name D] [--password-file F] --db URI\n"
         "  panseg server user list|role NAME R|disable NAME|enable NAME --db URI [--json]\n"
         "  panseg server user expire NAME YYYY-MM-DD[THH:MM:SS]|never --db URI   (UTC)\n"
         "  panseg server password [--password-file F] --db URI   change your own password\n";
}

int serverCommand(const QStringList& args)
{
  ensureCoreApplication();
  const QString sub = args.value(0);
  const QStringList rest = args.mid(1);
  if (sub == "init")
  {
    Args a(rest, { "json" });
    if (usageError(a, "panseg server init postgresql://[user@]host[:port]/database", 1))
      return Usage;
    const ServerInitReport r = initServer(a.positionals[0].toStdString());
    std::printf("%s is ready for PanSeg: schema version %d, server set-up version %d; %s is its admin\n",
                r.database.c_str(), r.schemaVersion, r.securityVersion, r.owner.c_str());
    std::printf("next: panseg server user add NAME --role reader|coordinator|clinician|admin --db %s\n",
                r.database.c_str());
    return Ok;
  }
  if (sub == "whoami")
  {
    Args a(rest, { "json" });
    if (usageError(a, "panseg server whoami --db URI", 0))
      return Usage;
    StudyDatabase db(location(a), {});
    const User& u = db.currentUser();
    std::printf("signed in as %s (%s) on %s\n", u.username.c_str(), to_string(u.role).c_str(),
                db.databasePath().c_str());
    return Ok;
  }
  if (sub == "password")
  {
    Args a(rest, {});
    if (usageError(a, "panseg server password [--password-file F] --db URI", 0))
      return Usage;
    StudyDatabase db(location(a), {});
    serverChangeOwnPassword(db, newPassword(a, db.currentUser().username));
    std::printf("password of %s changed\n", db.currentUser().username.c_str());
    return Ok;
  }
  if (sub == "user")
  {
    const QString verb = rest.value(0);
    Args a(rest.mid(1), { "json" });
    if (verb == "add")
    {
      if (usageError(a, "panseg server user add NAME --role R [--display-name D] [--password-file F] --db URI", 1))
        return Usage;
      if (!a.has("role"))
      {
        printError("usage: panseg server user add NAME --role admin|coordinator|reader|clinician --db URI");
        return Usage;
      }
      const Role role = roleArg(a.value("role"));
      StudyDatabase db(location(a), {});
      const std::string name = a.positionals[0].toStdString();
      const User u = serverAddUser(db, name, role, newPassword(a, name), a.value("display-name").toStdString());
      std::printf("added %s (%s) to %s\n", u.username.c_str(), to_string(u.role).c_str(), db.databasePath().c_str());
      return Ok;
    }
    if (verb == "list")
    {
      if (usageError(a, "panseg server user list --db URI [--json]", 0))
        return Usage;
      StudyDatabase db(location(a), {});
      const std::map<std::string, AccountExpiry> expiries = serverAccountExpiries(db);
      QJsonArray list;
      for (const User& u : db.users())
      {
        const auto e = expiries.find(u.username);
        const bool expired = e != expiries.end() && e->second.expired;
        const std::string until = e == expiries.end() ? std::string() : e->second.untilUtc;
        if (a.has("json"))
          list.append(QJsonObject{ { "id", qlonglong(u.id) },
                                   { "username", qs(u.username) },
                                   { "display_name", qs(u.displayName) },
                                   { "role", qs(to_string(u.role)) },
                                   { "active", u.active },
                                   { "valid_until_utc", until.empty() ? QJsonValue() : QJsonValue(qs(until)) },
                                   { "expired", expired } });
        else
        {
          const std::string state = !u.active ? "disabled" : expired ? "EXPIRED" : "active";
          const std::string expiry = until.empty() ? "" : (expired ? "since " : "until ") + until + " UTC";
          std::printf("%-20s %-12s %-8s %-30s %s\n", u.username.c_str(), to_string(u.role).c_str(), state.c_str(),
                      expiry.c_str(), u.displayName.c_str());
        }
      }
      if (a.has("json"))
        std::printf("%s", QJsonDocument(QJsonObject{ { "users", list } }).toJson(QJsonDocument::Indented).constData());
      return Ok;
    }
    if (verb == "role")
    {
      if (usageError(a, "panseg server user role NAME admin|coordinator|reader|clinician --db URI", 2))
        return Usage;
      const Role role = roleArg(a.positionals[1]);
      StudyDatabase db(location(a), {});
      serverSetUserRole(db, a.positionals[0].toStdString(), role);
      std::printf("%s is now %s\n", qPrintable(a.positionals[0]), to_string(role).c_str());
      return Ok;
    }
    if (verb == "expire")
    {
      if (usageError(a, "panseg server user expire NAME YYYY-MM-DD[THH:MM:SS]|never --db URI", 2))
        return Usage;
      StudyDatabase db(location(a), {});
      serverSetUserExpiry(db, a.positionals[0].toStdString(), a.positionals[1].toStdString());
      const auto e = serverAccountExpiries(db);
      const auto it = e.find(a.positionals[0].toStdString());
      if (it == e.end())
        std::printf("%s never expires\n", qPrintable(a.positionals[0]));
      else
        std::printf("%s %s %s UTC\n", qPrintable(a.positionals[0]), it->second.expired ? "expired at" : "expires at",
                    it->second.untilUtc.c_str());
      return Ok;
    }
    if (verb == "disable" || verb == "enable")
    {
      if (usageError(a, "panseg server user " + verb + " NAME --db URI", 1))
        return Usage;
      StudyDatabase db(location(a), {});
      serverSetUserActive(db, a.positionals[0].toStdString(), verb == "enable");
      std::printf("%s %s\n", qPrintable(a.positionals[0]), verb == "enable" ? "enabled" : "disabled");
      return Ok;
    }
  }
  printError("usage:\n" + serverUsage().trimmed());
  return Usage;
}
} // namespace panseg::cli
