// The coordinator's review from the command line (issue 20, defect 5), through the real `panseg`:
// `panseg study review` lists what awaits approval, `panseg study compare` gives the agreement of a
// read with another read, the AI mask or the consensus (the numbers core/metrics computes on the
// stored masks), `approve-consensus`, `approve-version` and `return-version` change states; readers
// are refused; usage errors exit 2.
#include "ReviewFixture.h"

#include "core/metrics/Agreement.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

using namespace review;

namespace
{
struct Result
{
  int code = -1;
  QString out, err;
};

Result run(const Fixture& f, const QString& user, QStringList args)
{
  args << "--db" << f.dir << "--user" << user;
  QProcess p;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.remove("PANSEG_USER");
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
  r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
  r.out = QString::fromUtf8(p.readAllStandardOutput());
  r.err = QString::fromUtf8(p.readAllStandardError());
  return r;
}

QString describe(const Result& r)
{
  return QString("exit %1\nstdout: %2\nstderr: %3").arg(r.code).arg(r.out.right(2000), r.err.right(2000));
}

LabelMask shifted(const LabelMask& m, int dx)
{
  LabelMask out(m.geometry, 0);
  for (int64_t z = 0; z < m.nz(); ++z)
    for (int64_t y = 0; y < m.ny(); ++y)
      for (int64_t x = 0; x < m.nx(); ++x)
        if (x - dx >= 0 && x - dx < m.nx())
          out.at(x, y, z) = m.at(x - dx, y, z);
  return out;
}
} // namespace

class TstReviewCompareCli : public QObject
{
  Q_OBJECT
private slots:
  void reviewCompareAndApproveFromTheCommandLine()
  {
    Fixture f;
    setUp(f, 1);
    QVERIFY(!QTest::currentTestFailed());
    const int64_t study = createStudy(f, "cli review");
    const LabelMask aliceMask = f.truths[0], bobMask = shifted(f.truths[0], 2);
    int64_t aliceRead = 0, bobRead = 0;
    for (const char* who : {"alice", "bob"})
    {
      StudyDatabase db(f.dir.toStdString(), as(who));
      ReaderStudy rs(db);
      const ReadRecord r = rs.worklist(study).reads.front();
      rs.startRead(r.id);
      const bool alice = std::string(who) == "alice";
      rs.submitRead(r.id, alice ? aliceMask : bobMask);
      (alice ? aliceRead : bobRead) = r.id;
    }
    int64_t consensus = 0;
    {
      StudyDatabase db(f.dir.toStdString(), as("carol"));
      consensus = ReaderStudy(db).buildConsensus(study, f.series[0]);
    }

    // What awaits approval: two reads and the consensus.
    Result r = run(f, "carol", {"study", "review", "--json"});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    const QJsonArray items = QJsonDocument::fromJson(r.out.toUtf8()).object()["awaiting_approval"].toArray();
    QCOMPARE(items.size(), 3);
    QCOMPARE(items[0].toObject()["kind"].toString(), QString("read"));
    QCOMPARE(items[2].toObject()["kind"].toString(), QString("consensus"));
    QCOMPARE(items[2].toObject()["mask_version"].toInteger(), consensus);
    r = run(f, "carol", {"study", "review", "cli review"});
    QVERIFY2(r.code == 0 && r.out.contains("3 awaiting approval") && r.out.contains("alice"), qPrintable(describe(r)));

    // Read against read: the numbers of core/metrics on the stored masks (their spacing went
    // through the NIfTI header's float32).
    StudyDatabase db(f.dir.toStdString(), as("carol"));
    const LabelMask storedAlice = db.loadMask(ReaderStudy(db).read(aliceRead).maskVersionId);
    const LabelMask storedBob = db.loadMask(ReaderStudy(db).read(bobRead).maskVersionId);
    const AgreementResult expected = computeAgreement(storedAlice, 0, storedBob, 0);
    QVERIFY(expected.dice > 0.1 && expected.dice < 0.99);
    r = run(f, "carol", {"study", "compare", QString::number(aliceRead), "--read", QString::number(bobRead), "--json"});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8()).object();
    QCOMPARE(o["dice"].toDouble(), expected.dice);
    QCOMPARE(o["hd95_mm"].toDouble(), expected.hd95Mm);
    QCOMPARE(o["volume_a_ml"].toDouble(), expected.volumeAMl);
    QCOMPARE(o["read"].toInteger(), aliceRead);
    r = run(f, "carol", {"study", "compare", QString::number(aliceRead), "--read", QString::number(bobRead)});
    QVERIFY2(r.code == 0 && r.out.contains(QString("dice       %1").arg(expected.dice, 0, 'f', 4)), qPrintable(describe(r)));
    // Against the AI mask (the phantom's truth = alice's mask) and the consensus (the intersection).
    r = run(f, "carol", {"study", "compare", QString::number(aliceRead), "--ai", "--json"});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    QCOMPARE(QJsonDocument::fromJson(r.out.toUtf8()).object()["dice"].toDouble(), 1.0);
    QCOMPARE(QJsonDocument::fromJson(r.out.toUtf8()).object()["mask_b"].toInteger(), f.aiMasks[0]);
    r = run(f, "carol", {"study", "compare", QString::number(bobRead), "--consensus", "--json"});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    LabelMask both(aliceMask.geometry, 0);
    for (size_t i = 0; i < both.voxels.size(); ++i)
      both.voxels[i] = aliceMask.voxels[i] && bobMask.voxels[i] ? 1 : 0;
    QCOMPARE(QJsonDocument::fromJson(r.out.toUtf8()).object()["dice"].toDouble(),
             computeAgreement(bobMask, 0, both, 0).dice);
    QCOMPARE(QJsonDocument::fromJson(r.out.toUtf8()).object()["mask_b"].toInteger(), consensus);

    // Refusals and usage errors.
    r = run(f, "bob", {"study", "compare", QString::number(bobRead), "--read", QString::number(aliceRead)});
    QVERIFY2(r.code == 1 && r.err.contains("only a coordinator or an admin"), qPrintable(describe(r)));
    QVERIFY2(!r.out.contains("dice"), qPrintable(describe(r)));
    r = run(f, "bob", {"study", "review"});
    QVERIFY2(r.code == 1 && r.err.contains("only a coordinator or an admin"), qPrintable(describe(r)));
    r = run(f, "carol", {"study", "compare", QString::number(aliceRead)});
    QVERIFY2(r.code == 2 && r.err.contains("exactly one"), qPrintable(describe(r)));
    r = run(f, "carol", {"study", "compare", QString::number(aliceRead), "--ai", "--consensus"});
    QCOMPARE(r.code, 2);

    // Approve the consensus; a read is not a consensus.
    r = run(f, "carol", {"study", "approve-consensus", QString::number(consensus)});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    r = run(f, "carol", {"study", "approve-consensus", QString::number(consensus)});
    QVERIFY2(r.code == 1 && r.err.contains("approved, not submitted"), qPrintable(describe(r)));
    QCOMPARE(db.maskVersion(consensus)->state, MaskState::Approved);
    const int64_t aliceVersion = ReaderStudy(db).read(aliceRead).maskVersionId;
    r = run(f, "carol", {"study", "approve-consensus", QString::number(aliceVersion)});
    QVERIFY2(r.code == 1 && r.err.contains("not the consensus mask"), qPrintable(describe(r)));
    r = run(f, "carol", {"study", "approve-version", QString::number(aliceVersion)});
    QVERIFY2(r.code == 1 && r.err.contains("is a read of a reader study"), qPrintable(describe(r)));

    // A mask version submitted outside the study: listed, returned only with a comment, approved.
    MaskProvenance p;
    p.source = MaskSource::Reader;
    const int64_t plain = db.saveMaskVersion(f.series[0], shifted(f.truths[0], -1), p);
    db.setMaskState(plain, MaskState::Submitted);
    r = run(f, "carol", {"study", "review", "--json"});
    QVERIFY2(r.code == 0 && r.out.contains("\"version\""), qPrintable(describe(r)));
    r = run(f, "carol", {"study", "return-version", QString::number(plain)});
    QVERIFY2(r.code == 1 && r.err.contains("needs a comment"), qPrintable(describe(r)));
    r = run(f, "carol", {"study", "return-version", QString::number(plain), "--comment", "head missing"});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    QCOMPARE(db.maskVersion(plain)->state, MaskState::Draft);
    db.setMaskState(plain, MaskState::Submitted);
    r = run(f, "carol", {"study", "approve-version", QString::number(plain)});
    QVERIFY2(r.code == 0, qPrintable(describe(r)));
    QCOMPARE(db.maskVersion(plain)->state, MaskState::Approved);
  }
};

QTEST_MAIN(TstReviewCompareCli)
#include "tst_review_compare_cli.moc"
