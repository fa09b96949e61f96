// Reader studies on real study databases (a SQLite folder, or with PANSEG_TEST_BACKEND=postgresql
// a fresh database on a real PostgreSQL server: tests/TestBackend.h), with synthetic phantoms as
// the series and perturbed ground truths as the readers' masks.
#include "../ErrorOf.h"
#include "../TestBackend.h"
#include "core/Error.h"
#include "core/demo/PhantomGenerator.h"
#include "core/io/ImageIO.h"
#include "core/metrics/Agreement.h"
#include "core/metrics/Staple.h"
#include "core/display/LabelPresets.h"
#include "database/ContentHash.h"
#include "database/studies/ReaderStudy.h"
#include "database/StudyDatabase.h"
#include "database/studies/StudyReport.h"
#include "ui/MaskListModel.h"
#include "ui/ReaderStudyPanel.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMessageBox>
#include <QDialog>
#include <QImage>
#include <QLabel>
#include <QPushButton>
#include <QTableView>
#include <QScrollBar>
#include <QTextBrowser>
#include <QTextDocument>
#include "ui/ReaderWorklistModel.h"
#include "ui/reports/StudyCharts.h"
#include "ui/reports/StudyReportDocument.h"
#include "core/stats/Reliability.h"

#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <set>

using namespace panseg;
using namespace panseg::db;

namespace
{
struct Case
{
  int64_t seriesId = 0;
  LabelMask truth;
};

/// Shifts a mask by (dx, dy, dz) voxels (outside = 0): a reader who draws a little off.
LabelMask shifted(const LabelMask& m, int dx, int dy, int dz)
{
  LabelMask out(m.geometry, 0);
  for (int64_t z = 0; z < m.nz(); ++z)
    for (int64_t y = 0; y < m.ny(); ++y)
      for (int64_t x = 0; x < m.nx(); ++x)
        if (m.contains(x - dx, y - dy, z - dz))
          out.at(x, y, z) = m.at(x - dx, y - dy, z - dz);
  return out;
}

/// Grows a mask by one voxel in +x and -x (a generous reader).
LabelMask grownX(const LabelMask& m)
{
  LabelMask out = m;
  for (int64_t z = 0; z < m.nz(); ++z)
    for (int64_t y = 0; y < m.ny(); ++y)
      for (int64_t x = 0; x < m.nx(); ++x)
        if (m.at(x, y, z) && (x > 0 && x + 1 < m.nx()))
          out.at(x - 1, y, z) = out.at(x + 1, y, z) = 1;
  return out;
}

struct Env
{
  QTemporaryDir tmp;
  test::TestDb db;
  std::vector<Case> cases;
  /// Where and how `user` opens the study database.
  std::string at(const std::string& user) const { return db.location(user); }
  StudyDatabase::OpenOptions as(const std::string& user) const { return db.options(user); }
};

/// A database owned by "coord" (the first user: admin), with coordinator "carol", and `n`
/// phantom series (alternating CT / MRI-T1W and centers "north" / "south"). On a server the
/// readers alice, bob and dave get their accounts here (local mode creates them on the fly).
void setUp(Env& e, int n)
{
  QVERIFY(e.tmp.isValid());
  QString why;
  QVERIFY2(e.db.create(e.tmp.path() + "/db", "coord", &why), qPrintable(why));
  StudyDatabase db(e.at("coord"), e.as("coord"));
  e.db.addUser(db, "carol", Role::Coordinator);
  e.db.addAccounts(db, {"alice", "bob", "dave"});
  for (int i = 0; i < n; ++i)
  {
    demo::PhantomOptions po;
    po.seed = uint32_t(11 + i);
    po.size = {48, 40, 20};
    po.spacingMm = {6.4, 6.4, 9.6};
    po.generateMr = (i % 2) == 1;
    po.noiseScale = 0.2;
    po.threads = 2;
    demo::Phantom ph = demo::generatePhantom(po);
    const Image& img = (i % 2) ? ph.mrT1 : ph.ct;
    const std::string path = (e.tmp.path() + QString("/case%1.nii.gz").arg(i)).toStdString();
    writeImage(img, path);
    const Image stored = readImage(path); // the series is what the file holds
    StudyDatabase::NewSeries s;
    s.patientKey = "name:case" + std::to_string(i);
    s.patientName = "case" + std::to_string(i);
    s.studyKey = s.patientKey + ":1";
    s.description = "phantom " + std::to_string(i);
    s.modality = (i % 2) ? Modality::MriT1w : Modality::CT;
    s.center = (i / 2) % 2 ? "south" : "north";
    s.geometry = stored.geometry;
    s.format = "NIfTI";
    s.sourcePath = path;
    s.contentHash = imageContentHash(stored);
    const auto added = db.addSeries(s);
    QVERIFY(!added.duplicate);
    e.cases.push_back({added.id, ph.pancreas});
  }
}

std::vector<int64_t> seriesIds(const Env& e)
{
  std::vector<int64_t> out;
  for (const auto& c : e.cases)
    out.push_back(c.seriesId);
  return out;
}

const LabelMask& truthOf(const Env& e, int64_t seriesId)
{
  for (const auto& c : e.cases)
    if (c.seriesId == seriesId)
      return c.truth;
  throw Error("no such case");
}

/// Runs the real panseg executable; returns exit code, stdout and stderr.
struct Run
{
  int code = -1;
  QString out, err;
};
/// `args` + the database arguments of `user` (tests/TestBackend.h).
Run runPanseg(const Env& e, const QStringList& args, const std::string& user)
{
  QProcess p;
  QProcessEnvironment env = e.db.cliEnv(user);
  env.insert("QT_QPA_PLATFORM", "offscreen");
  p.setProcessEnvironment(env);
  p.start(PANSEG_EXE, args + e.db.cliArgs(user));
  Run r;
  if (!p.waitForFinished(50000))
  {
    p.kill();
    return r;
  }
  r.code = p.exitCode();
  r.out = QString::fromUtf8(p.readAllStandardOutput());
  r.err = QString::fromUtf8(p.readAllStandardError());
  return r;
}

} // namespace

class TstReaderStudy : public QObject
{
  Q_OBJECT

private slots:
  void readingOrderIsRandomButDeterministic();
  void onlyCoordinatorsCreateAndReview();
  void blindingOnEveryRoute();
  void intraObserverWashOut();
  void aiReviewStrictBothAccept();
  void aiReviewFleissKappaAmongThreeReaders();
  void consensusMajorityVoteAndReturn();
  void reportComparesMultiOrganMasksOnTheirPancreas();
  void consensusStapleMatchesCore();
  void scriptedEndToEndStudyCsvMatchesPdf();
  void reportComparesReadersWithAiAndConsensus();
  void panelOpensAndSubmitsReads();
  void allowPredictionIsAStudySetting();
};

void TstReaderStudy::readingOrderIsRandomButDeterministic()
{
  Env e;
  setUp(e, 6);
  StudyDatabase db(e.at("coord"), e.as("coord"));
  ReaderStudy rs(db);
  auto orders = [&](int64_t studyId)
  {
    std::map<std::string, std::vector<int64_t>> out;
    for (const ReadRecord& r : rs.reads(studyId))
      out[r.readerName].resize(6);
    for (const ReadRecord& r : rs.reads(studyId))
      out[r.readerName][size_t(r.orderPosition - 1)] = r.seriesId;
    return out;
  };
  NewReaderStudy s;
  s.name = "order-1";
  s.readers = {"alice", "bob"};
  s.seriesIds = seriesIds(e);
  s.seed = 7;
  const auto a = orders(rs.createStudy(s));
  s.name = "order-2"; // same seed, readers and series: the same orders
  const auto b = orders(rs.createStudy(s));
  s.name = "order-3";
  s.seed = 8;
  const auto c = orders(rs.createStudy(s));
  QCOMPARE(a, b);
  QVERIFY(a != c);
  QVERIFY(a.at("alice") != a.at("bob")); // each reader has an own order
  for (const auto& [reader, order] : a)  // a permutation of the series
  {
    std::vector<int64_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    QCOMPARE(sorted, seriesIds(e));
  }
  // The orders are in the audit log of the creation.
  bool found = false;
  for (const auto& entry : db.auditLog("reader_studies"))
    found = found || (entry.action == "create-reader-study" &&
                      entry.detailsJson.find("first_read_orders") != std::string::npos);
  QVERIFY(found);
  // Duplicate names and too few readers are refused.
  QVERIFY(errorOf([&] { rs.createStudy(s); }).contains("already exists"));
  s.name = "one-reader";
  s.readers = {"alice"};
  QVERIFY(errorOf([&] { rs.createStudy(s); }).contains("at least two readers"));
}

void TstReaderStudy::onlyCoordinatorsCreateAndReview()
{
  Env e;
  setUp(e, 2);
  {
    StudyDatabase db(e.at("carol"), e.as("carol"));
    NewReaderStudy s;
    s.name = "roles";
    s.readers = {"alice", "bob"};
    s.seriesIds = seriesIds(e);
    ReaderStudy(db).createStudy(s);
    s.name = "coordinator-reads";
    s.readers = {"alice", "carol"};
    QVERIFY(
        errorOf([&] { ReaderStudy(db).createStudy(s); }).contains("readers need the reader role"));
    // A reader without an account: local mode adds her; on a server only an admin creates
    // accounts, and the error says how.
    s.name = "new-reader";
    s.readers = {"alice", "erin"};
    if (e.db.server())
    {
      const QString err = errorOf([&] { ReaderStudy(db).createStudy(s); });
      QVERIFY2(err.contains("reader erin has no account") &&
                   err.contains("panseg server user add erin --role reader --db postgresql://"),
               qPrintable(err));
      QVERIFY(!db.userByName("erin"));
    }
    else
    {
      ReaderStudy(db).createStudy(s);
      QCOMPARE(db.userByName("erin")->role, Role::Reader);
    }
  }
  StudyDatabase db(e.at("alice"), e.as("alice"));
  ReaderStudy rs(db);
  NewReaderStudy s;
  s.name = "by-a-reader";
  s.readers = {"bob", "dave"};
  s.seriesIds = seriesIds(e);
  QVERIFY(errorOf([&] { rs.createStudy(s); }).contains("only a coordinator or an admin"));
  const int64_t study = rs.findStudy("roles").id;
  QVERIFY(errorOf([&] { rs.reads(study); }).contains("only a coordinator"));
  QVERIFY(errorOf([&] { rs.worklist(study, "bob"); }).contains("only a coordinator"));
  const Worklist w = rs.worklist(study);
  QCOMPARE(w.total, 2);
  QVERIFY(w.next);
  // Someone else's read cannot be started or submitted.
  StudyDatabase bobDb(e.at("bob"), e.as("bob"));
  const Worklist bw = ReaderStudy(bobDb).worklist(study);
  // (On a server alice cannot even see bob's read: row-level security.)
  const QString foreign = errorOf([&] { rs.startRead(bw.reads[0].id); });
  QVERIFY2(foreign.contains(e.db.server() ? "is not one of your reads (alice)" : "belongs to bob"),
           qPrintable(foreign));
  rs.startRead(w.next->id);
  const int64_t mask = rs.submitRead(w.next->id, truthOf(e, w.next->seriesId));
  QCOMPARE(db.maskVersion(mask)->state, MaskState::Submitted);
  QCOMPARE(db.maskVersion(mask)->source, MaskSource::Reader);
  QVERIFY(errorOf([&] { rs.approveRead(w.next->id); }).contains("only a coordinator"));
  QVERIFY(errorOf([&] { rs.submitRead(w.next->id, truthOf(e, w.next->seriesId)); })
              .contains("already submitted"));
  QCOMPARE(rs.worklist(study).done, 1);
}

void TstReaderStudy::blindingOnEveryRoute()
{
  Env e;
  setUp(e, 2);
  const int64_t series = e.cases[0].seriesId;
  int64_t studyId = 0, aliceMask = 0, truthMask = 0;
  {
    StudyDatabase db(e.at("coord"), e.as("coord"));
    MaskProvenance p;
    p.source = MaskSource::Import;
    p.importedFrom = "/reference/truth.nii.gz";
    truthMask = db.saveMaskVersion(series, e.cases[0].truth, p); // a reference readers must not see
    NewReaderStudy s;
    s.name = "blind";
    s.readers = {"alice", "bob"};
    s.seriesIds = seriesIds(e);
    studyId = ReaderStudy(db).createStudy(s);
  }
  {
    StudyDatabase db(e.at("alice"), e.as("alice"));
    ReaderStudy rs(db);
    for (const ReadRecord& r : rs.worklist(studyId).reads)
      if (r.seriesId == series)
        aliceMask = rs.submitRead(rs.startRead(r.id).id, shifted(e.cases[0].truth, 1, 0, 0));
    // Her own read: visible to her.
    QCOMPARE(db.loadMask(aliceMask).voxels, shifted(e.cases[0].truth, 1, 0, 0).voxels);
  }
  StudyDatabase bob(e.at("bob"), e.as("bob"));
  // loadMask and maskVersion refuse with the reason and the study. On a server the server hides
  // the rows themselves (row-level security): PanSeg names the open study, not whose mask it is.
  const QString load = errorOf([&] { bob.loadMask(aliceMask); });
  const QString truth = errorOf([&] { bob.loadMask(truthMask); });
  if (e.db.server())
  {
    for (const QString& m : {load, truth})
      QVERIFY2(m.startsWith("blinded: mask version") &&
                   m.contains("the server hides what reader study 'blind' blinds while open"),
               qPrintable(m));
    QVERIFY(!bob.maskVersion(aliceMask));
    QVERIFY(!bob.maskVersion(truthMask));
  }
  else
  {
    QVERIFY2(load.startsWith("blinded: mask version") &&
                 load.contains("belongs to another reader in reader study 'blind'"),
             qPrintable(load));
    QVERIFY(errorOf([&] { bob.maskVersion(aliceMask); }).contains("another reader"));
    QVERIFY2(truth.contains("hidden from the readers in reader study 'blind'"), qPrintable(truth));
  }
  // Listing: neither Alice's read nor the reference; the series summary does not leak them.
  QVERIFY(bob.masksOf(series).empty());
  QCOMPARE(bob.series(series)->maskCount, 0);
  QCOMPARE(bob.series(series)->latestMaskId, int64_t(0));
  for (const auto& r : bob.listSeries())
    QVERIFY(r.latestMaskId != aliceMask && r.latestMaskId != truthMask);
  // The study browser's mask list (widget-free model over the same database).
  ui::MaskListModel model;
  model.reload(bob, series);
  QCOMPARE(model.rowCount(), 0);
  // The command line: `panseg db masks` and `panseg db list` as Bob.
  const Run masks = runPanseg(e, {"db", "masks", QString::number(series), "--json"}, "bob");
  QCOMPARE(masks.code, 0);
  QVERIFY2(!masks.out.contains(QString("\"id\": %1,").arg(aliceMask)), qPrintable(masks.out));
  QVERIFY(QJsonDocument::fromJson(masks.out.toUtf8()).object()["masks"].toArray().isEmpty());
  const Run list =
      runPanseg(e, {"db", "list", "--json"}, "bob");
  QCOMPARE(list.code, 0);
  QVERIFY(!list.out.contains("latest_mask\""));
  const Run other = runPanseg(e, {"study", "worklist", "blind", "--reader", "alice"}, "bob");
  QCOMPARE(other.code, 1);
  QVERIFY(other.err.contains("only a coordinator"));
  // Alice's mask is visible to the coordinator, and to Bob once the study is closed.
  {
    StudyDatabase carol(e.at("carol"), e.as("carol"));
    QCOMPARE(carol.masksOf(series).size(), size_t(2));
    const Run asCarol = runPanseg(e, {"db", "masks", QString::number(series), "--json"}, "carol");
    QVERIFY(asCarol.out.contains(QString("\"id\": %1").arg(aliceMask)));
    ReaderStudy(carol).closeStudy(studyId);
  }
  QCOMPARE(bob.masksOf(series).size(), size_t(2));
  QCOMPARE(bob.loadMask(aliceMask).voxels.size(), e.cases[0].truth.voxels.size());
}

void TstReaderStudy::intraObserverWashOut()
{
  Env e;
  setUp(e, 2);
  QDateTime clock = QDateTime(QDate(2026, 3, 2), QTime(9, 0), Qt::UTC);
  auto now = [&] { return clock; };
  int64_t studyId = 0;
  {
    StudyDatabase db(e.at("carol"), e.as("carol"));
    NewReaderStudy s;
    s.name = "intra";
    s.design = StudyDesign::IntraObserver;
    s.washoutDays = 28;
    s.readers = {"alice"};
    s.seriesIds = seriesIds(e);
    studyId = ReaderStudy(db, now).createStudy(s);
  }
  StudyDatabase db(e.at("alice"), e.as("alice"));
  ReaderStudy rs(db, now);
  Worklist w = rs.worklist(studyId);
  QCOMPARE(w.total, 4);
  QCOMPARE(w.locked, 2);
  const ReadRecord first = *w.next;
  QCOMPARE(first.readNumber, 1);
  ReadRecord second;
  for (const auto& r : w.reads)
    if (r.readNumber == 2 && r.seriesId == first.seriesId)
      second = r;
  QVERIFY(second.locked);
  QVERIFY(errorOf([&] { rs.startRead(second.id); }).contains("unlocks after the wash-out"));
  rs.startRead(first.id);
  const int64_t read1 = rs.submitRead(first.id, truthOf(e, first.seriesId));
  // Wash-out: locked until exactly 28 days after the submission.
  clock = clock.addDays(27);
  QVERIFY(rs.read(second.id).locked);
  QCOMPARE(rs.read(second.id).unlockAt, QDateTime(QDate(2026, 3, 30), QTime(9, 0), Qt::UTC)
                                            .toString(Qt::ISODateWithMs)
                                            .toStdString());
  QVERIFY(
      errorOf([&] { rs.startRead(second.id); }).contains("unlocks at 2026-03-30T09:00:00.000Z"));
  clock = clock.addDays(1).addSecs(1);
  QVERIFY(!rs.read(second.id).locked);
  // Her earlier read of the case is now blinded to her.
  const QString earlier = errorOf([&] { db.loadMask(read1); });
  QVERIFY2(earlier.contains(e.db.server() ? "the server hides what reader study 'intra' blinds while open"
                                          : "is your earlier read of this case in reader study 'intra'"),
           qPrintable(earlier));
  QVERIFY(db.masksOf(first.seriesId).empty());
  rs.startRead(second.id);
  const int64_t read2 = rs.submitRead(second.id, grownX(truthOf(e, first.seriesId)));
  QCOMPARE(db.loadMask(read2).voxels,
           grownX(truthOf(e, first.seriesId)).voxels); // the latest read stays hers
  // The report pairs read 2 (test) with read 1 (reference).
  StudyDatabase carol(e.at("carol"), e.as("carol"));
  const StudyReportData data = computeStudyReport(carol, studyId);
  QCOMPARE(data.pairs.size(), size_t(1));
  QCOMPARE(data.pairs[0].maskA, read2);
  QCOMPARE(data.pairs[0].maskB, read1);
  const AgreementResult expected =
      computeAgreement(grownX(truthOf(e, first.seriesId)), 0, truthOf(e, first.seriesId), 0);
  QCOMPARE(data.pairs[0].metrics.dice, expected.dice);
  QVERIFY(data.pairs[0].metrics.vpe > 0);
  bool audited = false;
  for (const auto& a : carol.auditLog("reader_study_reads", second.id))
    audited = audited || a.action == "submit-read";
  QVERIFY(audited);
}

void TstReaderStudy::aiReviewStrictBothAccept()
{
  Env e;
  setUp(e, 3);
  int64_t studyId = 0;
  std::vector<int64_t> aiMasks;
  {
    StudyDatabase db(e.at("carol"), e.as("carol"));
    ModelVersion mv;
    mv.modelId = "panseg-ct";
    mv.version = "test";
    const int64_t model = db.registerModelVersion(mv);
    for (const auto& c : e.cases)
    {
      MaskProvenance p;
      p.source = MaskSource::AI;
      p.modelVersionId = model;
      aiMasks.push_back(db.saveMaskVersion(c.seriesId, shifted(c.truth, 0, 1, 0), p));
    }
    NewReaderStudy s;
    s.name = "ai";
    s.design = StudyDesign::AiReview;
    s.readers = {"alice", "bob"};
    s.seriesIds = seriesIds(e);
    studyId = ReaderStudy(db).createStudy(s);
  }
  const std::vector<AiRating> alice = {AiRating::Accept, AiRating::Accept, AiRating::Reject};
  const std::vector<AiRating> bob = {AiRating::Accept, AiRating::Minor, AiRating::Accept};
  for (const auto& [name, ratings] : {std::make_pair("alice", alice), std::make_pair("bob", bob)})
  {
    StudyDatabase db(e.at(name), e.as(name));
    ReaderStudy rs(db);
    // The AI mask is what readers review: visible, and the starting mask of their reads.
    QCOMPARE(db.masksOf(e.cases[0].seriesId).size(), size_t(1));
    for (size_t i = 0; i < e.cases.size(); ++i)
    {
      if (i == 2)
        rs.rateAiMask(studyId, e.cases[i].seriesId, AiRating::Major); // changed below
      rs.rateAiMask(studyId, e.cases[i].seriesId, ratings[i]);
    }
    const Worklist w = rs.worklist(studyId);
    QCOMPARE(w.done, 3);
    QVERIFY(!w.next);
    if (std::string(name) == "bob") // Bob edits the AI mask of case 1 (minor edits)
    {
      for (const auto& r : w.reads)
        if (r.seriesId == e.cases[1].seriesId)
        {
          QCOMPARE(rs.startingMask(r.id).voxels, shifted(e.cases[1].truth, 0, 1, 0).voxels);
          const int64_t m = rs.submitRead(r.id, e.cases[1].truth);
          QCOMPARE(db.maskVersion(m)->parentId, aiMasks[1]);
        }
    }
  }
  {
    StudyDatabase dave(e.at("dave"), e.as("dave"));
    QVERIFY(
        errorOf([&]
                { ReaderStudy(dave).rateAiMask(studyId, e.cases[0].seriesId, AiRating::Accept); })
            .contains("not one of its readers"));
  }
  StudyDatabase carol(e.at("carol"), e.as("carol"));
  const StudyReportData data = computeStudyReport(carol, studyId);
  QVERIFY(data.acceptance);
  QCOMPARE(data.acceptance->cases, 3);
  QCOMPARE(data.acceptance->casesRatedByAll, 3);
  QCOMPARE(data.acceptance->casesAllAccept, 1); // only case 0: both accepted
  QCOMPARE(data.acceptance->casesAllAcceptOrMinor, 2);
  QCOMPARE(data.acceptance->strictRate, 1.0 / 3.0);
  QCOMPARE(data.acceptance->perReader.at("alice").at("accept"), 2);
  QCOMPARE(data.acceptance->perReader.at("alice").count("major"),
           size_t(0)); // re-rating replaced it
  QVERIFY(data.acceptance->cohenKappa);
  QCOMPARE(data.pairs.size(), size_t(1)); // Bob's edit against the AI mask
  QCOMPARE(data.pairs[0].readerB, std::string("AI"));
  const QString html = ui::toHtml(ui::buildStudyReport(data, "test", false));
  QVERIFY(html.contains("Accepted 1 of 3 cases rated by all readers (33.3 %)"));
  // Cohen's kappa with its large-sample interval, by hand (Fleiss, Cohen & Everitt 1969): the
  // pairs (accept, accept), (accept, minor), (reject, accept): p_o = 1/3, p_e = 4/9, kappa = -0.2;
  // sums 0.037037 + 0.131687 - 0.165981 = 0.0027435, var = 0.0027435 / (3 (5/9)^4) = 0.0096,
  // SE = 0.0979796; interval -0.2 ± 1.959964 SE = [-0.392036, -0.007964].
  QVERIFY(std::abs(*data.acceptance->cohenKappa + 0.2) < 1e-12);
  QVERIFY(data.acceptance->cohenKappaCi);
  QVERIFY(std::abs(data.acceptance->cohenKappaCi->lower + 0.3920365) < 1e-6);
  QVERIFY(std::abs(data.acceptance->cohenKappaCi->upper + 0.0079635) < 1e-6);
  QVERIFY2(html.contains("Cohen's kappa between the two readers' ratings: -0.200 (95 % CI -0.392 to -0.008)."),
           qPrintable(html));
  QVERIFY(html.contains("Fleiss, Cohen &amp; Everitt (1969)"));
}

void TstReaderStudy::aiReviewFleissKappaAmongThreeReaders()
{
  Env e;
  setUp(e, 3);
  int64_t studyId = 0;
  {
    StudyDatabase db(e.at("carol"), e.as("carol"));
    ModelVersion mv;
    mv.modelId = "panseg-ct";
    mv.version = "test";
    const int64_t model = db.registerModelVersion(mv);
    for (const auto& c : e.cases)
    {
      MaskProvenance p;
      p.source = MaskSource::AI;
      p.modelVersionId = model;
      db.saveMaskVersion(c.seriesId, c.truth, p);
    }
    NewReaderStudy s;
    s.name = "ai3";
    s.design = StudyDesign::AiReview;
    s.readers = {"alice", "bob", "dave"};
    s.seriesIds = seriesIds(e);
    studyId = ReaderStudy(db).createStudy(s);
  }
  // Per case (accept, minor, major, reject) counts: (3,0,0,0), (2,1,0,0), (0,0,1,2). By hand:
  // P_i = 1, 1/3, 1/3 -> P = 5/9; p_j = 5/9, 1/9, 1/9, 2/9 -> P_e = 31/81; kappa = 14/50 = 0.28.
  const std::map<std::string, std::vector<AiRating>> ratings = {
      {"alice", {AiRating::Accept, AiRating::Accept, AiRating::Reject}},
      {"bob", {AiRating::Accept, AiRating::Minor, AiRating::Reject}},
      {"dave", {AiRating::Accept, AiRating::Accept, AiRating::Major}}};
  for (const auto& [name, r] : ratings)
  {
    StudyDatabase db(e.at(name), e.as(name));
    ReaderStudy rs(db);
    for (size_t i = 0; i < e.cases.size(); ++i)
      rs.rateAiMask(studyId, e.cases[i].seriesId, r[i]);
  }
  StudyDatabase carol(e.at("carol"), e.as("carol"));
  const StudyReportData data = computeStudyReport(carol, studyId);
  QVERIFY(data.acceptance);
  QCOMPARE(data.acceptance->casesRatedByAll, 3);
  QVERIFY(!data.acceptance->cohenKappa); // three readers: Fleiss, not Cohen
  QVERIFY(data.acceptance->fleissKappa);
  QVERIFY(std::abs(*data.acceptance->fleissKappa - 0.28) < 1e-12);
  // Its interval: the seeded percentile bootstrap over the three cases of core/stats.
  QVERIFY(data.acceptance->fleissKappaCi);
  const stats::BootstrapInterval boot =
      stats::fleissKappaBootstrapCi({{3, 0, 0, 0}, {2, 1, 0, 0}, {0, 0, 1, 2}}, kappaBootstrapOptions());
  QCOMPARE(data.acceptance->fleissKappaCi->lower, boot.lower);
  QCOMPARE(data.acceptance->fleissKappaCi->upper, boot.upper);
  QVERIFY(boot.lower <= 0.28 && 0.28 <= boot.upper);
  const QString html = ui::toHtml(ui::buildStudyReport(data, "test", false));
  QVERIFY2(html.contains("Fleiss' kappa among the 3 readers' ratings (accept, minor, major, reject; cases "
                         "rated by all): 0.280 (95 % CI "),
           qPrintable(html));
}

/// A study of one case read by alice, bob and dave, created by the coordinator carol.
int64_t createThreeReaderStudy(const Env& e, const std::string& name, int64_t series)
{
  StudyDatabase db(e.at("carol"), e.as("carol"));
  NewReaderStudy s;
  s.name = name;
  s.readers = {"alice", "bob", "dave"};
  s.seriesIds = {series};
  return ReaderStudy(db).createStudy(s);
}

// Study label 0: a reader's TotalSegmentator-style map (pancreas 7, spleen 1, by its label table)
// is compared on its pancreas, not as a whole; a PanSeg mask as a whole.
void TstReaderStudy::reportComparesMultiOrganMasksOnTheirPancreas()
{
  Env e;
  setUp(e, 1);
  const int64_t series = e.cases[0].seriesId;
  const LabelMask& truth = e.cases[0].truth;
  int64_t studyId = 0;
  {
    StudyDatabase db(e.at("carol"), e.as("carol"));
    NewReaderStudy s;
    s.name = "organs";
    s.readers = {"alice", "bob"};
    s.seriesIds = {series};
    studyId = ReaderStudy(db).createStudy(s);
  }
  LabelMask organs(truth.geometry, 0);
  int64_t spleen = 0;
  for (size_t i = 0; i < truth.voxels.size(); ++i)
    if (truth.voxels[i] != 0)
      organs.voxels[i] = 7;
    else if (spleen < 300)
    {
      organs.voxels[i] = 1;
      ++spleen;
    }
  for (const std::string name : {"alice", "bob"})
  {
    StudyDatabase db(e.at(name), e.as(name));
    ReaderStudy rs(db);
    const ReadRecord r = rs.startRead(rs.worklist(studyId).next->id);
    if (name == "alice")
      rs.submitRead(r.id, truth);
    else
      rs.submitRead(r.id, organs, {}, presetLabelTable(LabelPreset::TotalSegmentatorV2));
  }
  StudyDatabase carol(e.at("carol"), e.as("carol"));
  const StudyReportData data = computeStudyReport(carol, studyId);
  QCOMPARE(data.pairs.size(), size_t(1));
  const AgreementResult whole = computeAgreement(organs, 0, truth, 0);
  QVERIFY(whole.dice < 0.99); // what "any non-zero label" would report
  QCOMPARE(data.pairs[0].metrics.dice, 1.0);
  QCOMPARE(data.pairs[0].metrics.volumeAMl, data.pairs[0].metrics.volumeBMl);
}

void TstReaderStudy::consensusMajorityVoteAndReturn()
{
  Env e;
  setUp(e, 1);
  const int64_t series = e.cases[0].seriesId;
  const LabelMask& truth = e.cases[0].truth;
  const int64_t studyId = createThreeReaderStudy(e, "consensus", series);
  const std::vector<LabelMask> drawn = {shifted(truth, 1, 0, 0), shifted(truth, 0, 1, 0),
                                        grownX(truth)};
  const std::vector<std::string> names = {"alice", "bob", "dave"};
  int64_t bobRead = 0;
  for (size_t i = 0; i < 3; ++i)
  {
    StudyDatabase db(e.at(names[i]), e.as(names[i]));
    ReaderStudy rs(db);
    const ReadRecord r = rs.startRead(rs.worklist(studyId).next->id);
    rs.submitRead(r.id, i == 1 ? truth : drawn[i]); // Bob's first try is returned below
    if (i == 1)
      bobRead = r.id;
  }
  StudyDatabase carol(e.at("carol"), e.as("carol"));
  ReaderStudy rs(carol);
  QVERIFY(errorOf([&] { rs.returnRead(bobRead, ""); }).contains("needs a comment"));
  const int64_t firstMask = rs.read(bobRead).maskVersionId;
  rs.returnRead(bobRead, "please include the uncinate process");
  QCOMPARE(carol.maskVersion(firstMask)->state, MaskState::Draft);
  {
    StudyDatabase db(e.at("bob"), e.as("bob"));
    ReaderStudy bobRs(db);
    const Worklist w = bobRs.worklist(studyId);
    QVERIFY(w.next);
    QCOMPARE(w.next->id, bobRead);
    QCOMPARE(w.next->state, ReadState::Returned);
    QCOMPARE(w.next->comment, std::string("please include the uncinate process"));
    bobRs.submitRead(bobRead, drawn[1]);
  }
  rs.approveRead(bobRead, "ok");
  QCOMPARE(carol.maskVersion(rs.read(bobRead).maskVersionId)->state, MaskState::Approved);
  const int64_t consensus = rs.buildConsensus(studyId, series);
  const MaskVersion mv = *carol.maskVersion(consensus);
  QCOMPARE(mv.source, MaskSource::Consensus);
  const LabelMask vote = carol.loadMask(consensus);
  int64_t differing = 0, positives = 0;
  for (size_t i = 0; i < vote.voxels.size(); ++i)
  {
    const int votes =
        (drawn[0].voxels[i] != 0) + (drawn[1].voxels[i] != 0) + (drawn[2].voxels[i] != 0);
    const uint8_t expected = votes >= 2 ? 1 : 0;
    differing += vote.voxels[i] != expected;
    positives += expected;
  }
  QCOMPARE(differing, int64_t(0));
  QVERIFY(positives > 20);
  // Readers are blinded to the consensus while the study is open.
  StudyDatabase alice(e.at("alice"), e.as("alice"));
  QVERIFY(errorOf([&] { alice.loadMask(consensus); }).contains("blinded"));
}

void TstReaderStudy::consensusStapleMatchesCore()
{
  Env e;
  setUp(e, 1);
  const int64_t series = e.cases[0].seriesId;
  const LabelMask& truth = e.cases[0].truth;
  const int64_t studyId = createThreeReaderStudy(e, "staple", series);
  // Dave adds a false-positive slab: STAPLE must give him the lowest specificity.
  LabelMask sloppy = grownX(truth);
  for (int64_t y = 0; y < 6; ++y)
    for (int64_t x = 0; x < truth.nx(); ++x)
      sloppy.at(x, y, truth.nz() / 2) = 1;
  const std::vector<LabelMask> drawn = {truth, shifted(truth, 1, 0, 0), sloppy};
  const std::vector<std::string> names = {"alice", "bob", "dave"};
  for (size_t i = 0; i < 3; ++i)
  {
    StudyDatabase db(e.at(names[i]), e.as(names[i]));
    ReaderStudy rs(db);
    const ReadRecord r = rs.startRead(rs.worklist(studyId).next->id);
    rs.submitRead(r.id, drawn[i]);
  }
  const Run wrong = runPanseg(e, {"study", "consensus", "staple", QString::number(series), "--method", "vote"},
                              "carol");
  QVERIFY(wrong.code != 0);
  QVERIFY2(wrong.err.contains("unknown consensus method 'vote' (allowed: majority, staple)"),
           qPrintable(wrong.err));

  const Run ok =
    runPanseg(e, {"study", "consensus", "staple", QString::number(series), "--method", "staple"}, "carol");
  QVERIFY2(ok.code == 0, qPrintable(ok.err));
  const QRegularExpressionMatch m =
      QRegularExpression("consensus \\(STAPLE\\) of 3 reads saved as mask version (\\d+)").match(ok.out);
  QVERIFY2(m.hasMatch(), qPrintable(ok.out));
  const int64_t consensus = m.captured(1).toLongLong();

  StudyDatabase carol(e.at("carol"), e.as("carol"));
  ReaderStudy rs(carol);
  std::vector<LabelMask> stored;
  std::vector<std::string> readers;
  for (const ReadRecord& r : rs.reads(studyId))
  {
    stored.push_back(carol.loadMask(r.maskVersionId));
    readers.push_back(r.readerName);
  }
  QCOMPARE(stored.size(), size_t(3));
  const StapleResult expected = staple({&stored[0], &stored[1], &stored[2]});
  const LabelMask saved = carol.loadMask(consensus);
  QCOMPARE(saved.voxels, expected.consensus.voxels);
  QVERIFY(saved.countLabel(0) > 20);
  // One line per reader with the same estimates, rounded to 4 decimals.
  for (size_t j = 0; j < 3; ++j)
  {
    const QString line = QString("%1 %2 %3")
                             .arg(QString::fromStdString(readers[j]), -14)
                             .arg(expected.sensitivity[j], 12, 'f', 4)
                             .arg(expected.specificity[j], 12, 'f', 4);
    QVERIFY2(ok.out.contains(line), qPrintable(ok.out + "\nmissing: " + line));
  }
  const size_t dave = size_t(std::find(readers.begin(), readers.end(), "dave") - readers.begin());
  QVERIFY(dave < 3);
  for (size_t j = 0; j < 3; ++j)
    if (j != dave)
      QVERIFY(expected.specificity[dave] < expected.specificity[j]);

  const MaskVersion mv = *carol.maskVersion(consensus);
  QCOMPARE(mv.source, MaskSource::Consensus);
  const QString note = QString::fromStdString(mv.note);
  QVERIFY2(note.startsWith("STAPLE of 3 reads, reader study 'staple'"), qPrintable(note));
  QVERIFY2(!note.contains("alice") && !note.contains("bob") && !note.contains("dave"), qPrintable(note));

  // The API gives the full-precision estimates and records the method.
  const ConsensusResult api = rs.buildConsensusWithDetails(studyId, series, ConsensusMethod::Staple);
  QCOMPARE(carol.loadMask(api.maskVersionId).voxels, expected.consensus.voxels);
  for (size_t j = 0; j < 3; ++j)
  {
    QCOMPARE(api.inputs[j].sensitivity, expected.sensitivity[j]);
    QCOMPARE(api.inputs[j].specificity, expected.specificity[j]);
  }
  QCOMPARE(api.iterations, expected.iterations);
  // Readers stay blinded to it while the study is open.
  StudyDatabase alice(e.at("alice"), e.as("alice"));
  QVERIFY(errorOf([&] { alice.loadMask(consensus); }).contains("blinded"));

  // The coordinator's dock: choose STAPLE, select a read of the case, Build consensus.
  ui::ReaderStudyPanel panel;
  QVERIFY(panel.openDatabase(e.db.actAs("carol")));
  test::TestDb::stopActing();
  panel.selectStudy(studyId);
  auto* method = panel.findChild<QComboBox*>("consensusMethod");
  auto* build = panel.findChild<QPushButton*>("buildConsensus");
  auto* status = panel.findChild<QLabel*>("studyStatus");
  QVERIFY(method && build && status);
  QCOMPARE(panel.buildConsensusForSelected(), int64_t(0)); // nothing selected
  QVERIFY(panel.lastError().contains("Select a read"));
  method->setCurrentIndex(method->findData("staple"));
  auto* table = panel.findChild<QTableView*>();
  QVERIFY(table);
  table->selectRow(0);
  const size_t versionsBefore = carol.masksOf(series).size();
  build->click();
  const auto after = carol.masksOf(series);
  QCOMPARE(after.size(), versionsBefore + 1);
  QCOMPARE(after.back().source, MaskSource::Consensus);
  QCOMPARE(carol.loadMask(after.back().id).voxels, expected.consensus.voxels);
  QVERIFY2(status->text().startsWith("Consensus (STAPLE) of 3 reads saved as mask version " +
                                     QString::number(after.back().id)),
           qPrintable(status->text()));
  QVERIFY2(status->text().contains(QString("specificity %1").arg(expected.specificity[dave], 0, 'f', 4)),
           qPrintable(status->text()));
}

void TstReaderStudy::scriptedEndToEndStudyCsvMatchesPdf()
{
  if (QStandardPaths::findExecutable("pdftotext").isEmpty())
    QSKIP("pdftotext (poppler-utils) is not installed");
  Env e;
  setUp(e, 4);
  auto run = [&](const QStringList& args, const QString& user)
  {
    Run r = runPanseg(e, args, user.toStdString());
    if (r.code != 0)
      qWarning("panseg %s: %s", qPrintable(args.join(' ')), qPrintable(r.err));
    return r;
  };
  // The coordinator creates the study from the CT and MRI series of both centers.
  QCOMPARE(run({"study", "create", "--name", "e2e", "--design", "inter", "--readers", "alice,bob",
                "--series",
                QString("%1,%2,%3,%4")
                    .arg(e.cases[0].seriesId)
                    .arg(e.cases[1].seriesId)
                    .arg(e.cases[2].seriesId)
                    .arg(e.cases[3].seriesId),
                "--seed", "3"},
               "carol")
               .code,
           0);
  // Alice reads through the service (as the GUI does), Bob through the command line; each works
  // through the worklist in its order: start the read, draw, submit.
  {
    StudyDatabase db(e.at("alice"), e.as("alice"));
    ReaderStudy rs(db);
    const int64_t study = rs.findStudy("e2e").id;
    for (int k = 0; k < 4; ++k)
    {
      const Worklist w = rs.worklist(study);
      QCOMPARE(w.done, k);
      QVERIFY(w.next);
      QCOMPARE(w.next->orderPosition, k + 1);
      rs.startRead(w.next->id);
      QCOMPARE(rs.startingMask(w.next->id).countLabel(0), int64_t(0)); // from scratch: empty
      rs.submitRead(w.next->id, shifted(truthOf(e, w.next->seriesId), 1, 0, 0));
    }
  }
  auto worklist = [&](const QString& reader)
  {
    const Run w = run({"study", "worklist", "e2e", "--json"}, reader);
    return QJsonDocument::fromJson(w.out.toUtf8()).object();
  };
  {
    const QString reader = "bob";
    const QJsonObject before = worklist(reader);
    QCOMPARE(before["done"].toInt(), 0);
    QCOMPARE(before["total"].toInt(), 4);
    const QJsonArray reads = before["reads"].toArray();
    QCOMPARE(before["next"].toInteger(), reads[0].toObject()["id"].toInteger());
    for (int k = 0; k < 4; ++k)
    {
      const QJsonObject r = reads[k].toObject();
      QCOMPARE(r["position"].toInt(), k + 1);
      const qint64 id = r["id"].toInteger();
      const int64_t series = r["series"].toInteger();
      const QString start = e.tmp.path() + QString("/start-%1-%2.nii.gz").arg(reader).arg(id);
      QCOMPARE(run({"study", "read", QString::number(id), "--out", start}, reader).code, 0);
      QCOMPARE(readMask(start.toStdString()).countLabel(0), int64_t(0)); // from scratch: empty
      const LabelMask& truth = truthOf(e, series);
      const LabelMask drawn = grownX(shifted(truth, 0, k % 2, 0));
      const QString file = e.tmp.path() + QString("/%1-%2.nii.gz").arg(reader).arg(id);
      writeMask(drawn, file.toStdString());
      QCOMPARE(run({"study", "submit", QString::number(id), file}, reader).code, 0);
    }
  }
  const QJsonObject after = worklist("bob");
  QCOMPARE(after["done"].toInt(), 4);
  QVERIFY(!after.contains("next"));
  const QString csvPath = e.tmp.path() + "/e2e.csv", pdfPath = e.tmp.path() + "/e2e.pdf",
                htmlPath = e.tmp.path() + "/e2e.html";
  QCOMPARE(run({"report", "--study", "e2e", "--out", csvPath}, "alice").code,
           1); // readers get no report
  for (const QString& out : {csvPath, pdfPath, htmlPath})
    QCOMPARE(run({"report", "--study", "e2e", "--out", out}, "carol").code, 0);

  QFile csv(csvPath);
  QVERIFY(csv.open(QIODevice::ReadOnly));
  const QStringList lines = QString::fromUtf8(csv.readAll()).split('\n', Qt::SkipEmptyParts);
  QCOMPARE(lines.size(), 5); // header + one row per case (one pair of readers)
  const QStringList header = lines[0].split(',');
  const int diceCol = int(header.indexOf("dice")), hdCol = int(header.indexOf("hd95_mm")),
            volCol = int(header.indexOf("volume_a_ml")),
            seriesCol = int(header.indexOf("series_id"));
  QVERIFY(diceCol > 0 && hdCol > 0 && volCol > 0);

  QProcess p;
  p.start("pdftotext", {"-layout", pdfPath, "-"});
  QVERIFY(p.waitForFinished(30000));
  const QString pdf = QString::fromUtf8(p.readAllStandardOutput());
  QVERIFY(pdf.contains("Reader study report: e2e"));
  if (const QString shots = qEnvironmentVariable("PANSEG_TEST_SCREENSHOTS"); !shots.isEmpty())
    QFile::copy(pdfPath, shots + "/study-report.pdf");
  QVERIFY(pdf.contains("PanSeg Workstation"));
  std::vector<double> dice;
  StudyDatabase carol(e.at("carol"), e.as("carol"));
  const StudyReportData data = computeStudyReport(carol, ReaderStudy(carol).findStudy("e2e").id);
  for (int i = 1; i < lines.size(); ++i)
  {
    const QStringList f = lines[i].split(',');
    // Every row of the CSV is in the PDF's per-case table with the same digits.
    const QRegularExpression row(QString("\\b%1\\b.*\\b%2\\b.*\\b%3\\b.*\\b%4\\b")
                                     .arg(f[seriesCol], QRegularExpression::escape(f[diceCol]),
                                          QRegularExpression::escape(f[hdCol]),
                                          QRegularExpression::escape(f[volCol])));
    QVERIFY2(row.match(pdf).hasMatch(), qPrintable(lines[i]));
    dice.push_back(f[diceCol].toDouble());
    // And the CSV digits are the engine's numbers.
    const auto& pr = data.pairs[size_t(i - 1)];
    QCOMPARE(f[diceCol].toDouble(), std::round(pr.metrics.dice * 1e4) / 1e4);
    const AgreementResult direct =
        computeAgreement(carol.loadMask(pr.maskA), 0, carol.loadMask(pr.maskB), 0);
    QCOMPARE(pr.metrics.dice, direct.dice);
    QCOMPARE(pr.metrics.hd95Mm, direct.hd95Mm);
  }
  // Table 3: the PDF's mean Dice is the mean of the CSV's Dice column (to the 4 printed decimals).
  const QRegularExpression t3("Inter-observer\\s+Dice\\s+([0-9.]+) ± ([0-9.]+)");
  const auto m = t3.match(pdf);
  QVERIFY2(m.hasMatch(), qPrintable(pdf.left(3000)));
  double mean = 0;
  for (double d : dice)
    mean += d / double(dice.size());
  QVERIFY(std::fabs(m.captured(1).toDouble() - mean) < 1.5e-4);
  // ... with its 95 % t interval, by hand from the CSV's Dice: mean ± t(3; 0.975) SD / sqrt(4),
  // t(3; 0.975) = 3.182446305284263 (tables; R: qt(0.975, 3)).
  {
    const QRegularExpression ci("Inter-observer\\s+Dice\\s+[0-9.]+ ± [0-9.]+\\s+\\[([0-9.]+), ([0-9.]+)\\]");
    const auto c = ci.match(pdf);
    QVERIFY2(c.hasMatch(), qPrintable(pdf.left(3000)));
    double ss = 0;
    for (double d : dice)
      ss += (d - mean) * (d - mean);
    const double half = 3.182446305284263 * std::sqrt(ss / 3.0) / 2.0;
    QVERIFY2(std::fabs(c.captured(1).toDouble() - std::max(0.0, mean - half)) < 3e-4, qPrintable(c.captured(0)));
    QVERIFY2(std::fabs(c.captured(2).toDouble() - std::min(1.0, mean + half)) < 3e-4, qPrintable(c.captured(0)));
  }
  QVERIFY(pdf.contains("Statistical methods") && pdf.contains("Student's t"));
  // Table 4 groups by modality (CT, MRI-T1W) and center (north, south).
  QVERIFY(pdf.contains("MRI-T1W") && pdf.contains("north") && pdf.contains("south"));
  // HTML: self-contained with the four plots.
  QFile html(htmlPath);
  QVERIFY(html.open(QIODevice::ReadOnly));
  const QString htmlText = QString::fromUtf8(html.readAll());
  QCOMPARE(htmlText.count("data:image/png;base64,"), 4);
  // Side by side: four grid cells of half the width, in two rows.
  QCOMPARE(htmlText.count("<td align=\"center\" valign=\"top\" width=\"50%\"><img"), 4);

  // Page layout of the PDF: no heading or table caption is the last thing on its page, and the
  // four plots are laid out two by two (two rows: one page, or two when the page breaks between
  // the rows), not one plot per half-empty page.
  const ui::Report report = ui::buildStudyReport(data, "test");
  const ui::ReportPagination pages = ui::paginate(report);
  QVERIFY(pages.pages >= 2);
  for (size_t i = 0; i + 1 < pages.items.size(); ++i)
  {
    const auto& it = pages.items[i];
    if (it.kind == ui::ReportPageItem::Kind::Heading || it.kind == ui::ReportPageItem::Kind::Caption)
      QVERIFY2(pages.items[i + 1].firstPage == it.lastPage,
               qPrintable(QString("'%1' ends page %2; '%3' starts page %4")
                              .arg(it.text)
                              .arg(it.lastPage + 1)
                              .arg(pages.items[i + 1].text.left(40))
                              .arg(pages.items[i + 1].firstPage + 1)));
  }
  const auto plotsHeading =
      std::find_if(pages.items.begin(), pages.items.end(), [](const ui::ReportPageItem& it) { return it.text == "Plots"; });
  QVERIFY(plotsHeading != pages.items.end() && plotsHeading + 1 != pages.items.end());
  QCOMPARE((plotsHeading + 1)->kind, ui::ReportPageItem::Kind::Table);
  QVERIFY((plotsHeading + 1)->lastPage - (plotsHeading + 1)->firstPage <= 1);
  // The same page count as the PDF written by the CLI.
  QProcess info;
  info.start("pdfinfo", {pdfPath});
  if (info.waitForFinished(30000) && info.exitCode() == 0)
    QVERIFY2(QString::fromUtf8(info.readAllStandardOutput())
                 .contains(QRegularExpression(QString("Pages:\\s+%1\\n").arg(pages.pages))),
             qPrintable(QString::number(pages.pages)));
  QVERIFY(pdf.contains(QString("page 1 of %1").arg(pages.pages)));

  // Round axis ticks on every plot; the Dice plot has a category axis (the modalities), not a
  // numeric 0-1 one, and its Dice axis ends at 1 at most.
  std::vector<double> va, vb, vpe;
  std::map<QString, std::vector<double>> byModality;
  for (const auto& pr : data.pairs)
  {
    va.push_back(pr.metrics.volumeAMl);
    vb.push_back(pr.metrics.volumeBMl);
    vpe.push_back(pr.metrics.vpe);
    byModality[QString::fromStdString(pr.modality)].push_back(pr.metrics.dice);
  }
  std::vector<double> pairDice;
  for (const auto& pr : data.pairs)
    pairDice.push_back(pr.metrics.dice);
  ui::ChartAxes scatter, ba, diceAxes, vpeAxes;
  ui::volumeScatterChart(va, vb, "A", "B", "v", {}, &scatter);
  ui::blandAltmanChart(va, vb, "ba", {}, &ba);
  ui::diceDistributionChart(byModality, "d", "modality", {}, &diceAxes);
  ui::vpeDiceChart(pairDice, vpe, "vpe", {}, &vpeAxes);
  auto round = [](const std::vector<double>& ticks)
  {
    if (ticks.size() < 2)
      return false;
    const double step = ticks[1] - ticks[0];
    const double e = std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    const double m = step / e;
    if (!(std::fabs(m - 1) < 1e-9 || std::fabs(m - 2) < 1e-9 || std::fabs(m - 5) < 1e-9))
      return false;
    for (double t : ticks)
      if (std::fabs(t / step - std::round(t / step)) > 1e-6)
        return false;
    return true;
  };
  for (const ui::ChartAxes* a : {&scatter, &ba, &vpeAxes})
  {
    QVERIFY(round(a->xTicks));
    QVERIFY(round(a->yTicks));
  }
  QVERIFY(diceAxes.xTicks.empty());
  QCOMPARE(diceAxes.xCategories, (std::vector<QString>{"CT (n = 2)", "MRI-T1W (n = 2)"}));
  QVERIFY(round(diceAxes.yTicks));
  QVERIFY(diceAxes.y1 <= 1.0);
  // Every data point lies inside the plotted ranges.
  for (size_t i = 0; i < va.size(); ++i)
    QVERIFY(va[i] >= scatter.y0 && va[i] <= scatter.y1 && vb[i] >= scatter.x0 && vb[i] <= scatter.x1);
  for (double d : pairDice)
    QVERIFY(d >= diceAxes.y0 && d <= diceAxes.y1 && d >= vpeAxes.x0);
}

void TstReaderStudy::reportComparesReadersWithAiAndConsensus()
{
  // Three cases with an AI mask, read by alice, bob and dave (inter-observer); the coordinator
  // builds the consensus of cases 0 and 1. The report compares every first read with the AI mask
  // (3 x 3 pairs) and with the consensus (2 x 3 pairs), per reader with t intervals.
  Env e;
  setUp(e, 3);
  int64_t studyId = 0;
  std::map<int64_t, int64_t> aiOf;
  {
    StudyDatabase db(e.at("carol"), e.as("carol"));
    ModelVersion mv;
    mv.modelId = "panseg-ct";
    mv.version = "test";
    const int64_t model = db.registerModelVersion(mv);
    for (const auto& c : e.cases)
    {
      MaskProvenance p;
      p.source = MaskSource::AI;
      p.modelVersionId = model;
      aiOf[c.seriesId] = db.saveMaskVersion(c.seriesId, shifted(c.truth, 0, 1, 0), p);
    }
    NewReaderStudy s;
    s.name = "vs-ai";
    s.readers = {"alice", "bob", "dave"};
    s.seriesIds = seriesIds(e);
    studyId = ReaderStudy(db).createStudy(s);
  }
  const std::vector<std::string> names = {"alice", "bob", "dave"};
  auto drawnBy = [&](size_t reader, int64_t series)
  {
    const LabelMask& t = truthOf(e, series);
    return reader == 0 ? shifted(t, 1, 0, 0) : reader == 1 ? grownX(t) : shifted(t, 0, 0, 1);
  };
  for (size_t i = 0; i < names.size(); ++i)
  {
    StudyDatabase db(e.at(names[i]), e.as(names[i]));
    ReaderStudy rs(db);
    while (const auto next = rs.worklist(studyId).next)
    {
      rs.startRead(next->id);
      rs.submitRead(next->id, drawnBy(i, next->seriesId));
    }
  }
  StudyDatabase carol(e.at("carol"), e.as("carol"));
  ReaderStudy rs(carol);
  std::map<int64_t, int64_t> consensusOf;
  for (size_t c = 0; c < 2; ++c)
    consensusOf[e.cases[c].seriesId] = rs.buildConsensus(studyId, e.cases[c].seriesId);
  QCOMPARE(rs.consensusMasks(studyId), consensusOf);
  const StudyReportData data = computeStudyReport(carol, studyId);

  size_t vsAi = 0, vsConsensus = 0;
  for (const auto& p : data.pairs)
  {
    vsAi += p.comparison == "reader-ai";
    vsConsensus += p.comparison == "reader-consensus";
    if (p.comparison == "reader-ai")
    {
      QCOMPARE(p.readerB, std::string("AI"));
      QCOMPARE(p.maskB, aiOf.at(p.seriesId));
    }
    if (p.comparison == "reader-consensus")
      QCOMPARE(p.maskB, consensusOf.at(p.seriesId));
  }
  QCOMPARE(vsAi, size_t(9));
  QCOMPARE(vsConsensus, size_t(6));

  // Per reader, against the AI mask: Dice computed here from the masks themselves, and the t
  // interval by hand, t(2; 0.975) = 4.302652729911275 (R: qt(0.975, 2)).
  for (size_t i = 0; i < names.size(); ++i)
  {
    std::vector<double> dice;
    for (const auto& c : e.cases)
      dice.push_back(computeAgreement(drawnBy(i, c.seriesId), 0, shifted(c.truth, 0, 1, 0), 0).dice);
    const double m = (dice[0] + dice[1] + dice[2]) / 3;
    double ss = 0;
    for (double d : dice)
      ss += (d - m) * (d - m);
    const double half = 4.302652729911275 * std::sqrt(ss / 2) / std::sqrt(3.0);
    const auto it = std::find_if(data.readerComparisons.begin(), data.readerComparisons.end(),
                                 [&](const ReaderComparison& r)
                                 { return r.comparison == "reader-ai" && r.reader == names[i]; });
    QVERIFY(it != data.readerComparisons.end());
    QCOMPARE(it->n, size_t(3));
    QVERIFY(std::abs(it->dice.mean - m) < 1e-12);
    QVERIFY(std::abs(it->dice.lower - std::max(0.0, m - half)) < 1e-9);
    QVERIFY(std::abs(it->dice.upper - std::min(1.0, m + half)) < 1e-9);
  }
  // Table 3, reader vs consensus, Dice: six pairs, t(5; 0.975) = 2.570581835636314.
  {
    std::vector<double> dice;
    for (const auto& p : data.pairs)
      if (p.comparison == "reader-consensus")
      {
        const size_t reader = size_t(std::find(names.begin(), names.end(), p.readerA) - names.begin());
        dice.push_back(computeAgreement(drawnBy(reader, p.seriesId), 0, carol.loadMask(consensusOf.at(p.seriesId)), 0).dice);
      }
    QCOMPARE(dice.size(), size_t(6));
    double m = 0, ss = 0;
    for (double d : dice)
      m += d / 6;
    for (double d : dice)
      ss += (d - m) * (d - m);
    const double half = 2.570581835636314 * std::sqrt(ss / 5) / std::sqrt(6.0);
    const auto t3 = std::find_if(data.table3.begin(), data.table3.end(), [](const MetricSummary& s)
                                 { return s.comparison == "reader-consensus" && s.metric == "dice"; });
    QVERIFY(t3 != data.table3.end());
    QCOMPARE(t3->ci.n, size_t(6));
    QVERIFY(std::abs(t3->ci.lower - std::max(0.0, m - half)) < 1e-9);
    QVERIFY(std::abs(t3->ci.upper - std::min(1.0, m + half)) < 1e-9);
  }
  const QString html = ui::toHtml(ui::buildStudyReport(data, "test", false));
  QVERIFY(html.contains("Readers against the AI mask and the consensus"));
  QVERIFY(html.contains("Reader vs AI") && html.contains("Reader vs consensus"));
  QVERIFY(html.contains("Statistical methods"));
  // The whole document with its twelve plots (three comparisons): no heading or caption ends a
  // page, and the plots take three pages at most beyond the first row's.
  const ui::Report report = ui::buildStudyReport(data, "test");
  const ui::ReportPagination pages = ui::paginate(report);
  for (size_t i = 0; i + 1 < pages.items.size(); ++i)
    if (pages.items[i].kind == ui::ReportPageItem::Kind::Heading ||
        pages.items[i].kind == ui::ReportPageItem::Kind::Caption)
      QVERIFY2(pages.items[i + 1].firstPage == pages.items[i].lastPage, qPrintable(pages.items[i].text));
  const auto grid = std::find_if(pages.items.begin(), pages.items.end(),
                                 [](const ui::ReportPageItem& it) { return it.text == "Plots"; }) + 1;
  QVERIFY(grid < pages.items.end() && grid->kind == ui::ReportPageItem::Kind::Table);
  QVERIFY(grid->lastPage - grid->firstPage <= 3); // 6 rows of two: 3 pages, 4 when it starts low
  if (const QString shots = qEnvironmentVariable("PANSEG_TEST_SCREENSHOTS"); !shots.isEmpty())
    ui::writePdf(report, shots + "/study-report-ai-consensus.pdf");
}

void TstReaderStudy::panelOpensAndSubmitsReads()
{
  Env e;
  setUp(e, 2);
  int64_t studyId = 0;
  {
    StudyDatabase db(e.at("carol"), e.as("carol"));
    NewReaderStudy s;
    s.name = "panel";
    s.readers = {"alice", "bob"};
    s.seriesIds = seriesIds(e);
    studyId = ReaderStudy(db).createStudy(s);
  }
  {
    ui::ReaderStudyPanel panel;
    QVERIFY(panel.openDatabase(e.db.actAs("alice")));
    QCOMPARE(panel.currentStudyId(), studyId);
    QCOMPARE(panel.worklistModel()->rowCount(), 2);
    QSignalSpy opened(&panel, &ui::ReaderStudyPanel::readOpened);
    panel.openNext();
    QCOMPARE(opened.count(), 1);
    const int64_t readId = opened[0][0].toLongLong(), seriesId = opened[0][1].toLongLong();
    QCOMPARE(panel.openedReadId(), readId);
    QCOMPARE(panel.worklistModel()->readAt(panel.worklistModel()->rowOf(readId))->state,
             ReadState::InProgress);
    QCOMPARE(panel.loadImage(seriesId).geometry.size, truthOf(e, seriesId).geometry.size);
    QCOMPARE(panel.startingMask(readId).countLabel(0), int64_t(0));
    QVERIFY(panel.submitOpenedRead(truthOf(e, seriesId)) > 0);
    const auto* row = panel.worklistModel()->readAt(panel.worklistModel()->rowOf(readId));
    QCOMPARE(row->state, ReadState::Submitted);
    QCOMPARE(ui::ReaderWorklistModel::stateText(*row), QString("submitted"));
    QCOMPARE(panel.submitOpenedRead(truthOf(e, seriesId)), int64_t(0)); // nothing opened any more
    QVERIFY(!panel.lastError().isEmpty());
  }
  {
    ui::ReaderStudyPanel panel; // bob reads both cases: alice's case becomes a compared pair
    QVERIFY(panel.openDatabase(e.db.actAs("bob")));
    for (int i = 0; i < 2; ++i)
    {
      QSignalSpy opened(&panel, &ui::ReaderStudyPanel::readOpened);
      panel.openNext();
      QCOMPARE(opened.count(), 1);
      QVERIFY(panel.submitOpenedRead(truthOf(e, opened[0][1].toLongLong())) > 0);
    }
  }
  {
    ui::ReaderStudyPanel panel;
    QVERIFY(panel.openDatabase(e.db.actAs("carol")));
    QCOMPARE(panel.worklistModel()->rowCount(), 4); // the coordinator sees every read
    // The report in the GUI: the same document as the PDF, with its plots as resources.
    QDialog* viewer = panel.showReport();
    QVERIFY(viewer);
    auto* text = viewer->findChild<QTextBrowser*>("studyReportText");
    QVERIFY(text);
    QVERIFY2(text->toPlainText().contains("panel"), qPrintable(text->toPlainText().left(400)));
    // It opens at the title, not scrolled to the end.
    QVERIFY(QTest::qWaitForWindowExposed(viewer));
    QCoreApplication::processEvents();
    QVERIFY(text->verticalScrollBar()->maximum() > 0); // longer than the window
    QCOMPARE(text->verticalScrollBar()->value(), 0);
    QCOMPARE(text->textCursor().position(), 0);
    if (const QString shots = qEnvironmentVariable("PANSEG_TEST_SCREENSHOTS"); !shots.isEmpty())
    {
      viewer->grab().save(shots + "/report-viewer.png");
      text->scrollToAnchor("plots");
      text->verticalScrollBar()->setValue(text->verticalScrollBar()->maximum());
      viewer->grab().save(shots + "/report-viewer-end.png");
    }
    const QImage plot =
        text->document()->resource(QTextDocument::ImageResource, QUrl("report-image:0")).value<QImage>();
    QVERIFY(!plot.isNull());
    viewer->close();
  }
  test::TestDb::stopActing();
}

// Prediction during from-scratch reads (issue 20, defect 1): a study setting, off by default, set by
// coordinators at creation (`study create --allow-prediction`) and afterwards (`study set`),
// audited; readers cannot change it (service, command line, the dock's box).
void TstReaderStudy::allowPredictionIsAStudySetting()
{
  Env e;
  setUp(e, 2);
  int64_t plain = 0, allowed = 0;
  {
    StudyDatabase db(e.at("carol"), e.as("carol"));
    ReaderStudy rs(db);
    NewReaderStudy s;
    s.name = "plain";
    s.readers = {"alice", "bob"};
    s.seriesIds = seriesIds(e);
    plain = rs.createStudy(s);
    QVERIFY(!rs.study(plain).allowPrediction); // off by default
    s.name = "allowed";
    s.allowPrediction = true;
    allowed = rs.createStudy(s);
    QVERIFY(rs.study(allowed).allowPrediction);
    const auto created = db.auditLog("reader_studies", allowed);
    QVERIFY(!created.empty());
    QVERIFY2(QString::fromStdString(created.front().detailsJson).contains("\"allow_prediction\":true"),
             created.front().detailsJson.c_str());
    rs.setAllowPrediction(plain, true);
    QVERIFY(rs.study(plain).allowPrediction);
    rs.setAllowPrediction(plain, false);
    QVERIFY(!rs.study(plain).allowPrediction);
    const auto log = db.auditLog("reader_studies", plain);
    int changes = 0;
    for (const auto& a : log)
      changes += a.action == "set-study-prediction";
    QCOMPARE(changes, 2);
  }
  {
    // A reader sees the setting and cannot change it (on a server also refused by the policies).
    StudyDatabase db(e.at("alice"), e.as("alice"));
    ReaderStudy rs(db);
    QVERIFY(rs.study(allowed).allowPrediction);
    const QString err = errorOf([&] { rs.setAllowPrediction(allowed, false); });
    QVERIFY2(err.contains("only a coordinator or an admin"), qPrintable(err));
    QVERIFY(rs.study(allowed).allowPrediction);
  }
  // The command line.
  const QStringList create = {"study", "create", "--name", "cli-allowed", "--design", "inter", "--readers",
                              "alice,bob", "--series", QString::number(e.cases[0].seriesId), "--allow-prediction"};
  const Run made = runPanseg(e, create, "carol");
  QVERIFY2(made.code == 0 && made.out.contains("AI prediction allowed"), qPrintable(made.out + made.err));
  const Run shown = runPanseg(e, {"study", "show", "cli-allowed", "--json"}, "carol");
  QCOMPARE(shown.code, 0);
  QCOMPARE(QJsonDocument::fromJson(shown.out.toUtf8()).object().value("allow_prediction").toBool(), true);
  const Run off = runPanseg(e, {"study", "set", "cli-allowed", "--allow-prediction", "off"}, "carol");
  QVERIFY2(off.code == 0 && off.out.contains("not allowed"), qPrintable(off.out + off.err));
  const Run text = runPanseg(e, {"study", "show", "cli-allowed"}, "carol");
  QVERIFY2(text.out.contains("AI prediction during reads: not allowed"), qPrintable(text.out));
  const Run byReader = runPanseg(e, {"study", "set", "cli-allowed", "--allow-prediction", "on"}, "bob");
  QCOMPARE(byReader.code, 1);
  QVERIFY2(byReader.err.contains("only a coordinator or an admin"), qPrintable(byReader.err));
  const Run wrong = runPanseg(e, {"study", "set", "cli-allowed", "--allow-prediction", "maybe"}, "carol");
  QCOMPARE(wrong.code, 2);
  QVERIFY2(wrong.err.contains("on or off"), qPrintable(wrong.err));
  const Run plainJson = runPanseg(e, {"study", "show", "plain", "--json"}, "carol");
  QCOMPARE(QJsonDocument::fromJson(plainJson.out.toUtf8()).object().value("allow_prediction").toBool(true), false);

  // The dock: the coordinator's box changes the setting; the reader's box is disabled.
  {
    ui::ReaderStudyPanel panel;
    QVERIFY(panel.openDatabase(e.db.actAs("carol")));
    panel.selectStudy(plain);
    auto* box = panel.findChild<QCheckBox*>("studyAllowPrediction");
    QVERIFY(box);
    QVERIFY(!box->isHidden());
    QVERIFY(box->isEnabled());
    QVERIFY(!box->isChecked());
    QSignalSpy changed(&panel, &ui::ReaderStudyPanel::studySettingsChanged);
    box->click();
    QCOMPARE(changed.count(), 1);
    QVERIFY(box->isChecked());
    StudyDatabase db(e.at("carol"), e.as("carol"));
    QVERIFY(ReaderStudy(db).study(plain).allowPrediction);
  }
  {
    ui::ReaderStudyPanel panel;
    QVERIFY(panel.openDatabase(e.db.actAs("alice")));
    panel.selectStudy(plain);
    auto* box = panel.findChild<QCheckBox*>("studyAllowPrediction");
    QVERIFY(box);
    QVERIFY(!box->isHidden());
    QVERIFY(box->isChecked());
    QVERIFY(!box->isEnabled());
    QVERIFY(!panel.setAllowPrediction(false));
    QVERIFY2(panel.lastError().contains("only a coordinator"), qPrintable(panel.lastError()));
    for (QWidget* top : QApplication::topLevelWidgets())
      if (auto* m = qobject_cast<QMessageBox*>(top))
        m->close();
  }
  test::TestDb::stopActing();
}

QTEST_MAIN(TstReaderStudy)
#include "tst_reader_study.moc"
