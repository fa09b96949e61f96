// No command-line subcommand may need a display or crash at exit: `panseg study list|show` and
// `panseg report` with QT_QPA_PLATFORM=xcb set (as a desktop session or the GUI tests' environment
// has it), once with DISPLAY unset and once under the test's own Xvfb display, stdout piped
// (QProcess): exit 0 and the complete output.
#include "ReviewFixture.h"

#include <QFile>
#include <QProcess>

using namespace review;

namespace
{
struct Result
{
  int code = -1;
  bool crashed = false;
  QString out, err;
};

Result runPanseg(const QStringList& args, bool withDisplay)
{
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert("QT_QPA_PLATFORM", "xcb");
  env.insert("QT_XCB_GL_INTEGRATION", "xcb_glx");
  env.insert("PANSEG_USER", "carol");
  if (!withDisplay)
  {
    env.remove("DISPLAY");
    env.remove("WAYLAND_DISPLAY");
  }
  QProcess p;
  p.setProcessEnvironment(env);
  p.start(PANSEG_EXE, args);
  Result r;
  if (!p.waitForFinished(120000))
  {
    p.kill();
    p.waitForFinished();
    r.err = "timed out";
    return r;
  }
  r.crashed = p.exitStatus() != QProcess::NormalExit;
  r.code = p.exitCode();
  r.out = QString::fromUtf8(p.readAllStandardOutput());
  r.err = QString::fromUtf8(p.readAllStandardError());
  return r;
}

QString describe(const Result& r)
{
  return QString("crashed %1 exit %2\nstdout: %3\nstderr: %4")
      .arg(r.crashed)
      .arg(r.code)
      .arg(r.out.right(2000), r.err.right(2000));
}
} // namespace

class TstReviewCli : public QObject
{
  Q_OBJECT
private slots:
  void initTestCase()
  {
    setUp(m_f, 2);
    QVERIFY(!QTest::currentTestFailed());
    for (int i = 0; i < 5; ++i)
      m_studies.push_back(createStudy(m_f, "cli study " + std::to_string(i)));
  }

  void studyCommandsExitCleanly_data()
  {
    QTest::addColumn<bool>("withDisplay");
    QTest::newRow("xcb, DISPLAY unset") << false;
    QTest::newRow("xcb, Xvfb display") << true;
  }
  void studyCommandsExitCleanly()
  {
    QFETCH(bool, withDisplay);
    if (withDisplay && qEnvironmentVariableIsEmpty("DISPLAY"))
      QSKIP("no display (the test runs under xvfb-run through ctest)");
    const Result list = runPanseg({"study", "list", "--db", m_f.dir}, withDisplay);
    QVERIFY2(!list.crashed && list.code == 0, qPrintable(describe(list)));
    for (int i = 0; i < 5; ++i)
      QVERIFY2(list.out.contains(QString("cli study %1").arg(i)), qPrintable(describe(list)));
    QVERIFY2(list.out.contains("5 reader studies"), qPrintable(describe(list))); // the last line

    const Result show = runPanseg({"study", "show", QString::number(m_studies[2]), "--db", m_f.dir}, withDisplay);
    QVERIFY2(!show.crashed && show.code == 0, qPrintable(describe(show)));
    QVERIFY2(show.out.contains("'cli study 2'"), qPrintable(describe(show)));
    // every read listed: 2 readers x 2 series
    QCOMPARE(show.out.count("alice") + show.out.count("bob"), 4);

    for (const QString ext : {"pdf", "csv"})
    {
      const QString out = m_f.tmp.path() + QString("/report-%1.%2").arg(withDisplay).arg(ext);
      const Result rep = runPanseg({"report", "--study", QString::number(m_studies[0]), "--out", out, "--db", m_f.dir},
                                   withDisplay);
      QVERIFY2(!rep.crashed && rep.code == 0, qPrintable(describe(rep)));
      QVERIFY2(rep.out.contains("written to " + out), qPrintable(describe(rep)));
      QVERIFY(QFile(out).size() > 100);
    }
  }

private:
  Fixture m_f;
  std::vector<int64_t> m_studies;
};

QTEST_GUILESS_MAIN(TstReviewCli)
#include "tst_review_cli.moc"
