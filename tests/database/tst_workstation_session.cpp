// Issue 14: the workstation session (database/session/WorkstationSession.h): one connection, the
// signed-in user, the open series and mask version, and the save / submit / store commands the
// docks share. Both backends (SQLite folders; PostgreSQL with PANSEG_TEST_BACKEND).
#include "../ErrorOf.h"
#include "../TestBackend.h"
#include "DbTestUtil.h"

#include "database/studies/ReaderStudy.h"
#include "database/session/WorkstationSession.h"

#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

using namespace panseg;
using namespace panseg::db;

namespace
{
/// A session signed in as a coordinator on a fresh database with one small CT series.
struct OpenSession
{
  QTemporaryDir t;
  test::TestDb where;
  WorkstationSession session;
  Geometry g = dbtest::grid(8, 8, 4);
  int64_t series = 0;
  OpenSession()
  {
    session.open(where.createFor(t.path() + "/db", "coord"), where.options("coord"));
    series = dbtest::addSyntheticSeries(*session.database(), g, "ct");
  }
};
} // namespace

class TestWorkstationSession : public QObject
{
  Q_OBJECT
private slots:
  void opensOneConnectionForEveryone()
  {
    QTemporaryDir t;
    test::TestDb where;
    const std::string location = where.createFor(t.path() + "/db", "coord");
    WorkstationSession session;
    QSignalSpy opened(&session, &WorkstationSession::databaseOpened);
    QVERIFY(!session.isOpen());
    QVERIFY(errorOf([&] { session.user(); }).contains("no study database is open"));
    session.open(location, where.options("coord"));
    QCOMPARE(opened.count(), 1);
    QVERIFY(session.isOpen());
    QVERIFY(session.openError().empty());
    QCOMPARE(session.user().username, std::string("coord"));
    QVERIFY(session.readerStudy());

    // A location that cannot be a database: the reason, and the session stays closed.
    QFile file(t.path() + "/not-a-folder");
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("x");
    file.close();
    const QString why = errorOf([&] { session.open(file.fileName().toStdString()); });
    QVERIFY2(!why.isEmpty(), "opening a plain file as a study database must fail");
    QVERIFY(!session.isOpen());
    QCOMPARE(QString::fromStdString(session.openError()), why);
    QCOMPARE(opened.count(), 1);
  }

  void savesFollowTheOpenedVersion()
  {
    OpenSession f;
    WorkstationSession& session = f.session;
    StudyDatabase& db = *session.database();
    const Geometry& g = f.g;
    const int64_t series = f.series;

    // Nothing open: refused with the reason, nothing stored.
    QVERIFY(errorOf([&] { session.saveVersion(dbtest::boxMask(g, 1), std::nullopt); })
              .contains("no series of the study database is open"));
    QVERIFY(db.masksOf(series).empty());

    QSignalSpy changed(&session, &WorkstationSession::openedChanged);
    QSignalSpy saved(&session, &WorkstationSession::maskVersionSaved);
    session.setOpened(series, 0);
    session.setOpened(series, 0); // unchanged: no second signal
    QCOMPARE(changed.count(), 1);

    // Every save is a new version edited from the opened one, which it then becomes.
    const SavedVersion first = session.saveVersion(dbtest::boxMask(g, 1), std::nullopt);
    QVERIFY(first.id > 0);
    QCOMPARE(session.openedMask(), first.id);
    const SavedVersion second = session.saveVersion(dbtest::boxMask(g, 2), std::nullopt);
    QCOMPARE(session.openedMask(), second.id);
    QCOMPARE(db.maskVersion(second.id)->parentId, first.id);
    QCOMPARE(saved.count(), 2);
    QCOMPARE(saved.at(1).at(0).toLongLong(), static_cast<qlonglong>(series));
    QCOMPARE(saved.at(1).at(1).toLongLong(), static_cast<qlonglong>(second.id));

    // Save and submit: the edits become a version of their own, submitted and opened.
    const LabelMask edits = dbtest::boxMask(g, 4);
    SavedVersion third;
    const int64_t submitted = session.saveAndSubmit(&edits, std::nullopt, &third);
    QVERIFY(third.id > 0);
    QCOMPARE(submitted, third.id);
    QCOMPARE(session.openedMask(), third.id);
    QCOMPARE(db.maskVersion(third.id)->state, MaskState::Submitted);
    QCOMPARE(db.maskVersion(third.id)->parentId, second.id);
    // Submitting it again is refused by the workflow, and nothing new is saved.
    const size_t before = db.masksOf(series).size();
    QVERIFY(!errorOf([&] { session.saveAndSubmit(nullptr, std::nullopt, nullptr); }).isEmpty());
    QCOMPARE(db.masksOf(series).size(), before);
  }

  void predictionsOnlyForTheOpenedSeries()
  {
    OpenSession f;
    WorkstationSession& session = f.session;
    StudyDatabase& db = *session.database();
    const Geometry& g = f.g;
    const int64_t series = f.series;
    session.setOpened(series, 0);

    // An image opened from a file (another source path): its prediction stays a file.
    Image fromFile(g);
    fromFile.info.sourcePath = "/elsewhere/ct.nii.gz";
    QCOMPARE(session.storePrediction(fromFile, dbtest::boxMask(g, 1), PANSEG_DEMO_MODEL), int64_t(0));
    QVERIFY(db.masksOf(series).empty());

    // The opened series' image: stored as its newest AI version, linked to the model.
    Image shown(g);
    shown.info.sourcePath = db.series(series)->sourcePath;
    const int64_t ai = session.storePrediction(shown, dbtest::boxMask(g, 1), PANSEG_DEMO_MODEL);
    QVERIFY(ai > 0);
    QCOMPARE(session.openedMask(), ai);
    const auto v = db.maskVersion(ai);
    QVERIFY(v);
    QCOMPARE(v->source, MaskSource::AI);
    QVERIFY(v->modelVersionId > 0);
  }
};

QTEST_GUILESS_MAIN(TestWorkstationSession)
#include "tst_workstation_session.moc"
