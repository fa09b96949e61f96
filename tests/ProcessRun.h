#pragma once
// Runs a real executable (panseg, panseg-worker, ...) the way a user's shell would and keeps its
// exit code and output, for the tests that drive the command line.
#include <QProcess>
#include <QString>
#include <QStringList>

namespace testproc
{
struct Run
{
  int code = -1; // exit code; -2 = crashed, -1 = timed out or did not start
  QString out, err;
};

inline Run run(const QString& program, const QStringList& args, int timeoutMs = 120000)
{
  QProcess p;
  p.start(program, args);
  Run r;
  if (!p.waitForFinished(timeoutMs))
  {
    p.kill();
    p.waitForFinished();
    r.err = program + " timed out (or did not start): " + p.errorString();
    return r;
  }
  r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
  r.out = QString::fromUtf8(p.readAllStandardOutput());
  r.err = QString::fromUtf8(p.readAllStandardError());
  return r;
}

/// For failure messages: exit code and the end of both streams.
inline QString show(const Run& r)
{
  return QString("exit %1\nstdout: %2\nstderr: %3").arg(r.code).arg(r.out.right(4000), r.err.right(4000));
}
} // namespace testproc
