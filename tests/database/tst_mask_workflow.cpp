// Issue 14: the steps of one mask version written once (database/studies/MaskWorkflow.h) and
// called by the GUI and the CLI alike: the one default-model rule for predicting a series, the
// checks before a prediction runs, storing an AI result, a reader's save with the concurrent-save
// note, save and submit. Both backends (SQLite folders; PostgreSQL with PANSEG_TEST_BACKEND).
#include "../ErrorOf.h"
#include "../TestBackend.h"
#include "DbTestUtil.h"

#include "database/jobs/FineTuning.h"
#include "database/registry/ModelRegistry.h"
#include "database/studies/ReaderStudy.h"
#include "database/studies/MaskWorkflow.h"

#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>

using namespace panseg;
using namespace panseg::db;

namespace
{
std::string canonical(const std::string& p) { return std::filesystem::weakly_canonical(p).string(); }
} // namespace

class TestMaskWorkflow : public QObject
{
  Q_OBJECT
private slots:
  void oneDefaultModelRule()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(t.path() + "/db", "coord"), where.options("coord"));
    const Geometry g = dbtest::grid(8, 8, 4);
    const int64_t ct = dbtest::addSyntheticSeries(db, g, "ct");
    const int64_t other = dbtest::addSyntheticSeries(db, g, "other", Modality::Other);
    // A copy of the demo package, so that it can be moved away later.
    const QString demo = t.path() + "/demo";
    QDir().mkpath(demo);
    for (const QString& f : QDir(PANSEG_DEMO_MODEL).entryList(QDir::Files))
      QVERIFY(QFile::copy(QString(PANSEG_DEMO_MODEL) + "/" + f, demo + "/" + f));

    // Nothing promoted: the installed demo model, else none.
    auto c = defaultModelForSeries(db, ct, demo.toStdString());
    QVERIFY(c);
    QCOMPARE(c->dir, demo.toStdString());
    QVERIFY2(QString::fromStdString(c->why).contains("the demo model") &&
               QString::fromStdString(c->why).contains("no model promoted for CT"),
             c->why.c_str());
    QVERIFY(!defaultModelForSeries(db, ct, {}));
    QVERIFY(errorOf([&] { planSeriesPrediction(db, ct, {}, {}); })
              .contains("no model promoted for CT and no demo model installed"));

    // Promoted for CT: that model, for CT series only.
    const int64_t registered = registerModelPackage(db, demo.toStdString());
    promoteModel(db, registered, "CT");
    c = defaultModelForSeries(db, ct, "/somewhere/else");
    QVERIFY(c);
    QCOMPARE(canonical(c->dir), canonical(demo.toStdString()));
    QVERIFY2(QString::fromStdString(c->why).startsWith("the promoted CT model") &&
               QString::fromStdString(c->why).contains("registry id " + QString::number(registered)),
             c->why.c_str());
    const auto forOther = defaultModelForSeries(db, other, "/the/demo");
    QVERIFY(forOther);
    QCOMPARE(forOther->dir, std::string("/the/demo"));

    // The plan: the series' image, the chosen model; a given model wins.
    const SeriesPrediction plan = planSeriesPrediction(db, ct, {}, {});
    QCOMPARE(plan.imagePath, std::string("/nonexistent/ct.nii.gz"));
    QCOMPARE(canonical(plan.model.dir), canonical(demo.toStdString()));
    const SeriesPrediction given = planSeriesPrediction(db, ct, PANSEG_DEMO_MODEL, {});
    QCOMPARE(given.model.why, std::string("given"));
    QCOMPARE(given.model.dir, std::string(PANSEG_DEMO_MODEL));
    QVERIFY(errorOf([&] { planSeriesPrediction(db, ct, t.path().toStdString() + "/missing", {}); })
              .contains("model package not found"));
    QVERIFY(errorOf([&] { planSeriesPrediction(db, 987654, {}, {}); }).contains("no series 987654"));

    // The promoted model's weights changed on disk: refused with the way out, never another model.
    {
      QFile w(demo + "/weights.bin");
      QVERIFY(w.open(QIODevice::ReadWrite));
      w.seek(10);
      const char byte = 0x5a;
      w.write(&byte, 1);
    }
    const QString moved = errorOf([&] { defaultModelForSeries(db, ct, "/the/demo"); });
    QVERIFY2(moved.contains("was moved or changed") && moved.contains("panseg model promote"), qPrintable(moved));
  }

  void blindedReaderCannotPredict()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase coord(where.createFor(t.path() + "/db", "coord"), where.options("coord"));
    where.addUser(coord, "alice", Role::Reader);
    where.addUser(coord, "bob", Role::Reader);
    const Geometry g = dbtest::grid(8, 8, 4);
    const int64_t series = dbtest::addSyntheticSeries(coord, g, "blind");
    ReaderStudy rs(coord);
    NewReaderStudy ns;
    ns.name = "workflow-blind";
    ns.readers = { "alice", "bob" };
    ns.seriesIds = { series };
    rs.createStudy(ns);

    StudyDatabase alice(where.location("alice"), where.options("alice"));
    const QString why = errorOf([&] { planSeriesPrediction(alice, series, PANSEG_DEMO_MODEL, {}); });
    QVERIFY2(why.contains("cannot predict series " + QString::number(series) + " as alice") &&
               why.contains("blinds you"),
             qPrintable(why));
    // The coordinator may.
    QCOMPARE(planSeriesPrediction(coord, series, PANSEG_DEMO_MODEL, {}).seriesId, series);
  }

  void storeSaveAndSubmit()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase coord(where.createFor(t.path() + "/db", "coord"), where.options("coord"));
    where.addUser(coord, "carol", Role::Coordinator);
    const Geometry g = dbtest::grid(8, 8, 4);
    const int64_t series = dbtest::addSyntheticSeries(coord, g, "save");

    // An AI result: source AI, the registered model, the note, a draft.
    const int64_t ai = storeSeriesPrediction(coord, series, dbtest::boxMask(g, 1), PANSEG_DEMO_MODEL, "test prediction");
    const auto aiVersion = coord.maskVersion(ai);
    QVERIFY(aiVersion);
    QCOMPARE(aiVersion->source, MaskSource::AI);
    QCOMPARE(aiVersion->state, MaskState::Draft);
    QCOMPARE(aiVersion->note, std::string("test prediction"));
    QCOMPARE(aiVersion->modelVersionId, registerModelPackage(coord, PANSEG_DEMO_MODEL)); // registered once

    // Two people edit the AI version; the second to save is told about the first.
    StudyDatabase carol(where.location("carol"), where.options("carol"));
    const SavedVersion hers = saveReaderVersion(carol, series, dbtest::boxMask(g, 2), ai);
    QVERIFY(hers.concurrentNote.empty());
    const SavedVersion mine = saveReaderVersion(coord, series, dbtest::boxMask(g, 3), ai);
    QVERIFY2(mine.concurrentNote.find("carol saved version " + std::to_string(hers.id)) != std::string::npos &&
               mine.concurrentNote.find("both versions are kept") != std::string::npos,
             mine.concurrentNote.c_str());
    QCOMPARE(coord.maskVersion(mine.id)->parentId, ai);
    QCOMPARE(coord.maskVersion(mine.id)->source, MaskSource::Reader);

    // Save and submit with edits: a new draft from the opened version, then submitted.
    SavedVersion saved;
    const LabelMask edits = dbtest::boxMask(g, 4);
    const int64_t submitted = saveAndSubmit(coord, series, mine.id, &edits, std::nullopt, &saved);
    QVERIFY(saved.id > mine.id);
    QCOMPARE(submitted, saved.id);
    QCOMPARE(coord.maskVersion(submitted)->state, MaskState::Submitted);
    QCOMPARE(coord.maskVersion(submitted)->parentId, mine.id);
    // Without edits: the opened version itself; nothing opened: nothing to submit, nothing saved.
    QCOMPARE(saveAndSubmit(carol, series, hers.id, nullptr, std::nullopt, &saved), hers.id);
    QCOMPARE(saved.id, int64_t(0));
    const size_t before = coord.masksOf(series).size();
    QVERIFY(errorOf([&] { saveAndSubmit(coord, series, 0, nullptr, std::nullopt, &saved); })
              .contains("no mask version to submit"));
    QCOMPARE(coord.masksOf(series).size(), before);
    // Submitting a submitted version is not a workflow step.
    QVERIFY(errorOf([&] { saveAndSubmit(coord, series, submitted, nullptr, std::nullopt); })
              .contains("not a step of the review workflow"));
  }
};

QTEST_GUILESS_MAIN(TestMaskWorkflow)
#include "tst_mask_workflow.moc"
