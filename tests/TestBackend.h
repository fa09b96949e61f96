#pragma once
// One test suite, two backends. Without PANSEG_TEST_BACKEND a test database is a data folder
// (SQLite, local mode), exactly as before. With PANSEG_TEST_BACKEND=postgresql (ctest's NAME_pg
// variants) the same test runs in department mode: ONE real PostgreSQL server per test process,
// started on first use (tests/PgTestServer.h) and stopped when the application object goes, and
// a fresh database per test database, owned by the test's first user (who becomes its admin by
// `panseg server init`). Every user name is then a real login role with the password
// NAME-password, and the tests open `StudyDatabase(db.location(user), db.options(user))`.
//
//   test::TestDb db;
//   QVERIFY2(db.create(tmp.path() + "/db", "coord", &why), qPrintable(why));
//   StudyDatabase coord(db.location("coord"), db.options("coord"));
//   db.addUser(coord, "carol", Role::Coordinator);     // local: a label; server: an account
//   db.addAccounts(coord, {"alice", "bob"});            // server only: readers must exist first
//   runPanseg(QStringList{"db", "list"} + db.cliArgs("alice"), db.cliEnv("alice"));
#include "PgTestServer.h"

#include "database/StudyDatabase.h"
#include "database/server/ServerAdmin.h"

#include <QCoreApplication>
#include <QProcessEnvironment>
#include <QStringList>

#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>

namespace panseg::test
{
/// True in the PostgreSQL run of a parametrised test (PANSEG_TEST_BACKEND=postgresql).
inline bool onPostgres() { return qgetenv("PANSEG_TEST_BACKEND") == "postgresql"; }

/// The process's PostgreSQL server, started on the first call; nullptr (with `why`) when it
/// cannot start. It is stopped when the QCoreApplication is destroyed (end of the test run).
inline PgTestServer* sharedPgServer(QString* why)
{
  static PgTestServer* server = nullptr;
  static QString error;
  static bool tried = false;
  if (!tried)
  {
    tried = true;
    if (PgTestServer::binDir().isEmpty())
      error = "PostgreSQL is not installed (installer/setup.sh installs the Debian package 'postgresql')";
    else
    {
      auto s = std::make_unique<PgTestServer>();
      if (s->start(&error))
      {
        server = s.release();
        qAddPostRoutine([] {
          delete server;
          server = nullptr;
        });
      }
    }
  }
  if (!server && why)
    *why = "PANSEG_TEST_BACKEND=postgresql: " + error;
  return server;
}

/// A test's study database: a folder (local mode) or a fresh PostgreSQL database (server mode).
class TestDb
{
public:
  TestDb() = default;
  TestDb(const TestDb&) = delete;
  TestDb& operator=(const TestDb&) = delete;
  ~TestDb()
  {
    if (m_pg && !m_name.isEmpty())
    {
      QString ignored;
      m_pg->superExec("postgres", { "DROP DATABASE IF EXISTS " + m_name + " WITH (FORCE)" }, &ignored);
    }
  }

  /// The server-side name of the "default user" (an empty name: locally the login name).
  static constexpr const char* kDefaultServerUser = "coord";
  static std::string password(const std::string& user) { return user + "-password"; }

  /// Local: remembers `folder` (created by the first open, as before). Server: creates a new
  /// database owned by the login role `owner` and runs `server init` as that owner. An empty
  /// name is the default user everywhere: locally the login name, on a server "coord".
  bool create(const QString& folder, const std::string& owner, QString* why)
  {
    m_folder = folder.toStdString();
    m_owner = serverName(owner);
    if (!onPostgres())
      return true;
    m_pg = sharedPgServer(why);
    if (!m_pg)
      return false;
    static int counter = 0;
    m_name = QString("panseg_t%1").arg(++counter);
    if (!m_pg->createDatabase(m_name, QString::fromStdString(m_owner), QString::fromStdString(password(m_owner)),
                              why))
      return false;
    try
    {
      db::initServer(location(m_owner), options(m_owner));
    }
    catch (const std::exception& e)
    {
      *why = QString("server init of ") + m_name + ": " + e.what();
      return false;
    }
    return true;
  }

  /// create() for a test that opens the database right away: returns location(owner); throws
  /// (a test failure with the reason) when the database cannot be made.
  std::string createFor(const QString& folder, const std::string& owner = {})
  {
    QString why;
    if (!create(folder, owner, &why))
      throw std::runtime_error(why.toStdString());
    return location(owner);
  }

  std::string createFor(const std::string& folder, const std::string& owner = {})
  {
    return createFor(QString::fromStdString(folder), owner);
  }

  bool server() const { return m_pg != nullptr; }
  PgTestServer* pg() const { return m_pg; }
  QString databaseName() const { return m_name; }
  const std::string& owner() const { return m_owner; }

  /// Where `user` opens the database: the folder, or the URI with `user` in it.
  std::string location(const std::string& user) const
  {
    return m_pg ? m_pg->uri(QString::fromStdString(serverName(user)), m_name).toStdString() : m_folder;
  }
  /// How `user` opens it: as a local user name, or with the account's password.
  /// (Decided by the backend, not by create(): it may be evaluated before createFor().)
  db::StudyDatabase::OpenOptions options(const std::string& user) const
  {
    db::StudyDatabase::OpenOptions o;
    if (onPostgres())
      o.password = password(serverName(user));
    else
      o.username = user;
    return o;
  }

  /// A user with `role`, added by `admin`: local, a name in the users table; server, also a
  /// login role with the password NAME-password (a role left by an earlier test database of
  /// this cluster is reused: roles are cluster-wide).
  db::User addUser(db::StudyDatabase& admin, const std::string& name, db::Role role) const
  {
    if (!m_pg)
      return admin.addUser(name, role);
    QString out, err;
    const bool exists = m_pg->psql(PgTestServer::kSuperUser, PgTestServer::kSuperPassword, "postgres",
                                   "SELECT count(*) FROM pg_roles WHERE rolname = '" + QString::fromStdString(name) + "'",
                                   &out, &err) == 0 &&
                        out == "1";
    return db::serverAddUser(admin, name, role, exists ? std::string() : password(name));
  }
  /// Server only: accounts that local mode creates on the fly (the readers of a reader study,
  /// whoever opens a local database first). Local: nothing, the tests keep relying on that.
  void addAccounts(db::StudyDatabase& admin, std::initializer_list<const char*> names,
                   db::Role role = db::Role::Reader) const
  {
    if (!m_pg)
      return;
    for (const char* n : names)
      if (!admin.userByName(n))
        addUser(admin, n, role);
  }

  /// The command line's database arguments for `user`: `--db DIR --user U` or `--db URI`.
  QStringList cliArgs(const std::string& user) const
  {
    if (m_pg)
      return { "--db", QString::fromStdString(location(user)) };
    if (user.empty())
      return { "--db", QString::fromStdString(m_folder) };
    return { "--db", QString::fromStdString(m_folder), "--user", QString::fromStdString(user) };
  }
  /// The environment for a `panseg` run as `user`: PGPASSWORD on a server; locally PANSEG_USER
  /// (the `panseg db ...` commands take no --user: they act as $PANSEG_USER or the login name).
  QProcessEnvironment cliEnv(const std::string& user,
                             QProcessEnvironment env = QProcessEnvironment::systemEnvironment()) const
  {
    env.remove("PANSEG_USER");
    env.remove("PGPASSWORD");
    if (m_pg)
      env.insert("PGPASSWORD", QString::fromStdString(password(serverName(user))));
    else if (!user.empty())
      env.insert("PANSEG_USER", QString::fromStdString(user));
    return env;
  }
  /// For code that opens the database itself from a location only (GUI panels): sets
  /// PANSEG_USER (local) or PGPASSWORD (server) in this process; returns the location.
  QString actAs(const std::string& user) const
  {
    if (m_pg)
    {
      qunsetenv("PANSEG_USER");
      qputenv("PGPASSWORD", QByteArray::fromStdString(password(serverName(user))));
    }
    else
      qputenv("PANSEG_USER", QByteArray::fromStdString(user));
    return QString::fromStdString(location(user));
  }
  static void stopActing()
  {
    qunsetenv("PANSEG_USER");
    qunsetenv("PGPASSWORD");
  }

private:
  static std::string serverName(const std::string& user) { return user.empty() ? kDefaultServerUser : user; }

  PgTestServer* m_pg = nullptr;
  std::string m_folder, m_owner;
  QString m_name;
};

/// QSKIPs the test function in the PostgreSQL run: `PANSEG_LOCAL_ONLY("the SQLite header");`
#define PANSEG_LOCAL_ONLY(reason)                                                                    \
  do                                                                                               \
  {                                                                                                \
    if (::panseg::test::onPostgres())                                                              \
      QSKIP("local mode only: " reason);                                                           \
  } while (0)
} // namespace panseg::test
