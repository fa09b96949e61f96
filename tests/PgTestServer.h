#pragma once
// A real PostgreSQL server for tests: initdb in a temporary folder, started on a free loopback
// port, stopped and removed at the end. PostgreSQL refuses to run as root, so as root the
// server runs as the `postgres` system user that Debian's package creates (runuser).
// Password sign-in (SCRAM-SHA-256) over TCP on 127.0.0.1; the superuser "panseg_super".
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QStringList>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QUuid>

#include <cerrno>
#include <csignal>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

namespace panseg::test
{
class PgTestServer
{
public:
  static constexpr const char* kSuperUser = "panseg_super";
  static constexpr const char* kSuperPassword = "super-secret-pw";

  /// The folder with initdb and pg_ctl, or empty.
  static QString binDir()
  {
    QDir base("/usr/lib/postgresql");
    QStringList versions = base.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name | QDir::Reversed);
    for (const QString& v : versions)
      if (QFile::exists(base.filePath(v + "/bin/pg_ctl")))
        return base.filePath(v + "/bin");
    return {};
  }

  ~PgTestServer() { stop(); }

  /// Starts the server; false with `error` set when it cannot.
  bool start(QString* error)
  {
    m_bin = binDir();
    if (m_bin.isEmpty())
      return fail(error, "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/pg_ctl); installer/setup.sh installs it");
    if (!m_tmp.isValid())
      return fail(error, "no temporary folder");
    m_asRoot = ::geteuid() == 0;
    stopServersOfDeadTests();
    {
      QFile owner(m_tmp.path() + "/" + kOwnerFile);
      owner.open(QIODevice::WriteOnly);
      owner.write(QByteArray::number(qint64(::getpid())));
    }
    ::chmod(m_tmp.path().toLocal8Bit().constData(), 0755);
    m_data = m_tmp.path() + "/data";
    m_socket = m_tmp.path() + "/sock";
    QDir().mkpath(m_data);
    QDir().mkpath(m_socket);
    const QString pwfile = m_tmp.path() + "/pw";
    {
      QFile f(pwfile);
      f.open(QIODevice::WriteOnly);
      f.write(kSuperPassword);
    }
    if (m_asRoot)
    {
      const passwd* pw = ::getpwnam("postgres");
      if (!pw)
        return fail(error, "running as root and there is no 'postgres' system user to run PostgreSQL");
      for (const QString& p : { m_data, m_socket, pwfile, m_tmp.path() })
        if (::chown(p.toLocal8Bit().constData(), pw->pw_uid, pw->pw_gid) != 0)
          return fail(error, "cannot hand " + p + " to the postgres user");
      ::chmod(m_data.toLocal8Bit().constData(), 0700);
    }
    if (!run({ m_bin + "/initdb", "-D", m_data, "-U", kSuperUser, "--pwfile=" + pwfile, "--auth-local=trust",
               "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync" },
             error))
      return false;
    m_port = freePort();
    return launch(error);
  }

  /// Stops the server now (immediate) or restarts it later with start-again.
  void stop()
  {
    if (m_running)
    {
      QString ignored;
      run({ m_bin + "/pg_ctl", "-D", m_data, "-m", "immediate", "-w", "stop" }, &ignored);
      m_running = false;
    }
  }
  bool restart(QString* error)
  {
    stop();
    return launch(error);
  }

  int port() const { return m_port; }
  QString bin() const { return m_bin; }

  /// postgresql://user@127.0.0.1:port/db (the password goes by PGPASSWORD or the options).
  QString uri(const QString& user, const QString& database) const
  {
    return QString("postgresql://%1@127.0.0.1:%2/%3").arg(user).arg(m_port).arg(database);
  }

  /// Runs SQL as the superuser on `database`; false with `error` on failure.
  bool superExec(const QString& database, const QStringList& statements, QString* error) const
  {
    const QString name = "pg-test-" + QUuid::createUuid().toString(QUuid::WithoutBraces);
    bool ok = true;
    {
      QSqlDatabase db = QSqlDatabase::addDatabase("QPSQL", name);
      db.setHostName("127.0.0.1");
      db.setPort(m_port);
      db.setDatabaseName(database);
      db.setUserName(kSuperUser);
      db.setPassword(kSuperPassword);
      if (!db.open())
      {
        ok = fail(error, db.lastError().text());
      }
      else
        for (const QString& sql : statements)
        {
          QSqlQuery q(db);
          if (!q.exec(sql))
          {
            ok = fail(error, sql + ": " + q.lastError().text());
            break;
          }
        }
      db.close();
    }
    QSqlDatabase::removeDatabase(name);
    return ok;
  }

  /// A new database owned by a new login role `owner` (with CREATEROLE, as a site's PanSeg owner
  /// account would have); returns false with `error` on failure.
  bool createDatabase(const QString& database, const QString& owner, const QString& password, QString* error) const
  {
    return superExec("postgres",
                     { QString("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%1') THEN "
                               "CREATE ROLE %1 LOGIN CREATEROLE PASSWORD '%2'; END IF; END $$")
                         .arg(owner, password),
                       QString("CREATE DATABASE %1 OWNER %2").arg(database, owner) },
                     error);
  }

  /// Runs psql as `user` with `password` on `database`; returns exit code, stdout and stderr.
  int psql(const QString& user, const QString& password, const QString& database, const QString& sql, QString* out,
           QString* err) const
  {
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("PGPASSWORD", password);
    env.remove("PGSERVICE");
    p.setProcessEnvironment(env);
    p.start(m_bin + "/psql", { "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                               QString::number(m_port), "-U", user, "-d", database, "-c", sql });
    p.waitForFinished(30000);
    if (out)
      *out = QString::fromUtf8(p.readAllStandardOutput()).trimmed();
    if (err)
      *err = QString::fromUtf8(p.readAllStandardError()).trimmed();
    return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
  }

private:
  /// pg_ctl start on m_port, listening on 127.0.0.1 only; waits until it accepts connections.
  bool launch(QString* error)
  {
    const QString opts = QString("-p %1 -c listen_addresses=127.0.0.1 -c unix_socket_directories=%2 -c fsync=off "
                                 "-c max_connections=60 -c shared_buffers=32MB")
                           .arg(m_port)
                           .arg(m_socket);
    if (!run({ m_bin + "/pg_ctl", "-D", m_data, "-o", opts, "-l", m_tmp.path() + "/log", "-w", "-t", "60", "start" },
             error))
      return false;
    m_running = true;
    return true;
  }

  static constexpr const char* kOwnerFile = "panseg-pgtest-owner.pid";

  /// A test process that crashed never stopped its server: stop the servers whose test process
  /// is gone (their folders hold kOwnerFile with a pid that no longer runs) and remove them.
  void stopServersOfDeadTests() const
  {
    const QDir tmp = QDir::temp();
    for (const QString& name : tmp.entryList(QDir::Dirs | QDir::NoDotAndDotDot))
    {
      const QString dir = tmp.filePath(name);
      QFile owner(dir + "/" + kOwnerFile);
      if (!owner.open(QIODevice::ReadOnly))
        continue;
      const qint64 pid = owner.readAll().trimmed().toLongLong();
      if (pid <= 0 || ::kill(pid_t(pid), 0) == 0 || errno != ESRCH)
        continue;
      if (QFile::exists(dir + "/data/postmaster.pid"))
      {
        QString ignored;
        run({ m_bin + "/pg_ctl", "-D", dir + "/data", "-m", "immediate", "-w", "stop" }, &ignored);
      }
      QDir(dir).removeRecursively();
    }
  }

  static bool fail(QString* error, const QString& why)
  {
    if (error)
      *error = why;
    return false;
  }
  static int freePort()
  {
    QTcpServer s;
    s.listen(QHostAddress::LocalHost, 0);
    return s.serverPort();
  }
  bool run(QStringList args, QString* error) const
  {
    QString program = args.takeFirst();
    if (m_asRoot)
    {
      args.prepend(program);
      args = QStringList{ "-u", "postgres", "--" } + args;
      program = "runuser";
    }
    QProcess p;
    p.setWorkingDirectory(m_tmp.path());
    p.start(program, args);
    if (!p.waitForFinished(120000) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
      return fail(error, program + " " + args.join(' ') + " failed: " + QString::fromUtf8(p.readAllStandardError()) +
                           QString::fromUtf8(p.readAllStandardOutput()));
    return true;
  }

  QTemporaryDir m_tmp;
  QString m_bin, m_data, m_socket;
  int m_port = 0;
  bool m_asRoot = false;
  bool m_running = false;
};
} // namespace panseg::test
