// `panseg interact` as a user runs it (docs/interactive.md): bad input is one line and leaves the
// mask alone; grow from seeds alone; the shipped demo model inside a box through panseg-worker,
// then robot clicks that raise Dice on a phantom the model never saw.
#include "../ProcessRun.h"

#include "core/demo/PhantomGenerator.h"
#include "core/edit/BoxPrompt.h"
#include "core/edit/RobotUser.h"
#include "core/io/ImageIO.h"
#include "core/io/ItkRegionGrowing.h"

#include <QCryptographicHash>
#include <QElapsedTimer>

#include "DamagedPhantom.h"
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <cmath>
#include <utility>

#include <QtTest>

using namespace panseg;

namespace
{
QByteArray sha(const QString& path)
{
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly))
    return {};
  return QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256);
}
} // namespace

class TestInteractCli : public QObject
{
  Q_OBJECT
  QTemporaryDir m_tmp;
  demo::Phantom m_ph;
  QString m_ct, m_mr, m_truth;
  edit::Box m_box;

  testproc::Run panseg(const QStringList& args, int timeoutMs = 300000)
  {
    return testproc::run(PANSEG_EXE, QStringList{"interact"} + args, timeoutMs);
  }
  QString boxArg() const { return QString::fromStdString(edit::boxText(m_box)); }

private slots:
  void initTestCase()
  {
    QVERIFY(m_tmp.isValid());
    demo::PhantomOptions o;
    o.seed = 2; // not a training phantom (those are 1001..)
    m_ph = demo::generatePhantom(o);
    m_ct = m_tmp.path() + "/ct.nii.gz";
    m_mr = m_tmp.path() + "/mr.nii.gz";
    m_truth = m_tmp.path() + "/truth.nii.gz";
    writeImage(m_ph.ct, m_ct.toStdString());
    writeImage(m_ph.mrT1, m_mr.toStdString());
    writeMask(m_ph.pancreas, m_truth.toStdString());
    m_box = edit::grownBox(edit::labelBoundingBox(m_ph.pancreas, 1), {2, 2, 1}, m_ph.ct.geometry.size);
  }

  void badInputIsOneLineAndChangesNothing()
  {
    const QString start = m_tmp.path() + "/start.nii.gz";
    QVERIFY(QFile::copy(m_truth, start));
    const QByteArray before = sha(start);
    struct Bad
    {
      QStringList args;
      QString expect;
    };
    const QList<Bad> cases = {
      {{"--box", "10,10,10,300,20,20"}, "is not inside the image (192x160x64 voxels"},
      {{"--box", "10,10,10,20,20"}, "has 5 numbers; 6 are needed"},
      {{"--box", "0,0,0,0,0,0.5", "--mm"}, "holds no voxel centre"},
      {{"--box", boxArg(), "--grow", "+500,1,1"}, "is outside the image"},
      {{"--box", boxArg(), "--grow", QString("+%1,%2,%3").arg(m_box.lo[0] - 1).arg(m_box.lo[1]).arg(m_box.lo[2])},
       "is outside the box"},
      {{"--box", boxArg(), "--grow", "*1,2,3"}, "must start with + (positive) or - (negative)"},
    };
    for (const Bad& b : cases)
    {
      // the output is the start mask itself: a refused run must not touch it
      const testproc::Run r = panseg(QStringList{"--input", m_ct, "--mask", start, "--output", start} + b.args);
      QVERIFY2(r.code == 1, qPrintable(testproc::show(r)));
      QVERIFY2(r.err.startsWith("panseg: error: ") && r.err.trimmed().count('\n') == 0, qPrintable(r.err));
      QVERIFY2(r.err.contains(b.expect), qPrintable(r.err));
      QCOMPARE(sha(start), before);
    }
  }

  void growFromSeedsAloneAndMmEqualsVoxels()
  {
    // A positive click at the deepest pancreas voxel; box faces are the background.
    const auto click = edit::nextRobotClick(LabelMask(m_ph.ct.geometry, 0), 1, m_ph.pancreas, 1);
    QVERIFY(click && click->positive);
    const QString clickArg = QString("+%1,%2,%3").arg(click->voxel[0]).arg(click->voxel[1]).arg(click->voxel[2]);
    const QString out = m_tmp.path() + "/grow.nii.gz";
    const testproc::Run r = panseg({"--input", m_ct, "--box", boxArg(), "--grow", clickArg, "--output", out});
    QVERIFY2(r.code == 0, qPrintable(testproc::show(r)));
    const LabelMask grown = readMaskFor(out.toStdString(), m_ph.ct.geometry);
    const double dice = edit::diceOf(grown, 1, m_ph.pancreas, 1);
    qInfo("grow from seeds, box + one click: Dice %.3f", dice);
    QVERIFY2(dice > 0.5, qPrintable(QString::number(dice)));
    // The same box and click in LPS mm give the same mask.
    const Geometry& g = m_ph.ct.geometry;
    const Vec3 p0 = g.indexToPhysical({double(m_box.lo[0]), double(m_box.lo[1]), double(m_box.lo[2])});
    const Vec3 p1 = g.indexToPhysical({double(m_box.hi[0] - 1), double(m_box.hi[1] - 1), double(m_box.hi[2] - 1)});
    const Vec3 pc = g.indexToPhysical({double(click->voxel[0]), double(click->voxel[1]), double(click->voxel[2])});
    const QString outMm = m_tmp.path() + "/grow_mm.nii.gz";
    const testproc::Run rm = panseg({"--input", m_ct, "--mm", "--box",
                                     QString("%1,%2,%3,%4,%5,%6").arg(p0[0]).arg(p0[1]).arg(p0[2]).arg(p1[0]).arg(p1[1]).arg(p1[2]),
                                     "--grow", QString("+%1,%2,%3").arg(pc[0]).arg(pc[1]).arg(pc[2]), "--output", outMm});
    QVERIFY2(rm.code == 0, qPrintable(testproc::show(rm)));
    QVERIFY(readMaskFor(outMm.toStdString(), g).voxels == grown.voxels);
  }

  // ITK's confidence-connected region growing (core/io/ItkRegionGrowing.h): in-process on a
  // synthetic image whose answer is known, then through `panseg interact --grow-method confidence`.
  void itkRegionGrowing()
  {
    // Two bright balls (100 ± noise) in a dark background (0 ± noise), joined by a bright bridge.
    Geometry g;
    g.size = {40, 30, 20};
    g.spacingMm = {1.0, 1.0, 2.0};
    Image img(g, 0.0f);
    LabelMask left(g, 0), right(g, 0);
    uint32_t state = 12345;
    auto noise = [&] { state = state * 1664525u + 1013904223u; return float((state >> 8) % 1000) / 1000.0f * 6.0f - 3.0f; };
    for (int64_t z = 0; z < 20; ++z)
      for (int64_t y = 0; y < 30; ++y)
        for (int64_t x = 0; x < 40; ++x)
        {
          const double dl = std::hypot(x - 10.0, y - 15.0, (z - 10.0) * 2.0), dr = std::hypot(x - 30.0, y - 15.0, (z - 10.0) * 2.0);
          const bool bridge = x >= 10 && x <= 30 && std::abs(y - 15) <= 1 && std::abs(z - 10) <= 0;
          left.at(x, y, z) = dl <= 6.0;
          right.at(x, y, z) = dr <= 6.0;
          img.at(x, y, z) = (dl <= 6.0 || dr <= 6.0 || bridge ? 100.0f : 0.0f) + noise();
        }
    const edit::Box all{{0, 0, 0}, {40, 30, 20}};
    const std::vector<uint8_t> both = edit::confidenceConnectedInRegion(img, all, {{10, 15, 10}}, {});
    int64_t inLeft = 0, inRight = 0, outside = 0;
    for (size_t i = 0; i < both.size(); ++i)
    {
      inLeft += both[i] && left.voxels[i];
      inRight += both[i] && right.voxels[i];
      outside += both[i] && !left.voxels[i] && !right.voxels[i];
    }
    QCOMPARE(inLeft, left.countLabel(1)); // the whole seeded ball
    QCOMPARE(inRight, right.countLabel(1)); // and, over the bridge, the other one
    QVERIFY2(outside <= 30, qPrintable(QString::number(outside))); // the bridge only, no background
    // A background scribble on the bridge is a barrier: the right ball stays out.
    const std::vector<uint8_t> cut = edit::confidenceConnectedInRegion(img, all, {{10, 15, 10}}, {{20, 15, 10}});
    int64_t cutLeft = 0, cutRight = 0;
    for (size_t i = 0; i < cut.size(); ++i)
    {
      cutLeft += cut[i] && left.voxels[i];
      cutRight += cut[i] && right.voxels[i];
    }
    QCOMPARE(cutLeft, left.countLabel(1));
    QCOMPARE(cutRight, int64_t{0});
    // Only the region is grown, and its raster has the region's size.
    const edit::Box half{{0, 0, 0}, {20, 30, 20}};
    QCOMPARE(edit::confidenceConnectedInRegion(img, half, {{10, 15, 10}}, {}).size(), size_t(20 * 30 * 20));
    // No foreground seed in the region, or a region outside the image: named.
    bool threw = false;
    try
    {
      edit::confidenceConnectedInRegion(img, half, {{30, 15, 10}}, {});
    }
    catch (const std::exception& e)
    {
      threw = QString(e.what()).contains("needs a foreground seed inside the region");
    }
    QVERIFY(threw);

    // The threshold level set from the same seed: a smooth surface that fills the seeded ball and
    // is too smooth to pass the thin bridge. Over a thick neck (7 voxels wide, 5 slices) it
    // reaches the other ball, unless a wall of background scribbles across the neck stops it.
    Image wide = img;
    for (int64_t z = 8; z <= 12; ++z)
      for (int64_t y = 12; y <= 18; ++y)
        for (int64_t x = 10; x <= 30; ++x)
          wide.at(x, y, z) = 100.0f + float((x * 7 + y * 13 + z * 29) % 7) - 3.0f;
    std::vector<edit::Index3> wall;
    for (int64_t z = 7; z <= 13; ++z)
      for (int64_t y = 11; y <= 19; ++y)
        wall.push_back({20, y, z});
    for (const int variant : {0, 1, 2}) // the thin bridge; the neck; the neck with the wall
    {
      QElapsedTimer timer;
      timer.start();
      const bool barrier = variant == 2;
      const std::vector<uint8_t> ls = edit::levelSetInRegion(variant == 0 ? img : wide, all, {{10, 15, 10}},
                                                             barrier ? wall : std::vector<edit::Index3>{});
      int64_t lsLeft = 0, lsRight = 0, lsOutside = 0;
      for (size_t i = 0; i < ls.size(); ++i)
      {
        lsLeft += ls[i] && left.voxels[i];
        lsRight += ls[i] && right.voxels[i];
        lsOutside += ls[i] && !left.voxels[i] && !right.voxels[i];
      }
      qInfo("level set (%s): %lld of %lld voxels of the seeded ball, %lld of the other, %lld elsewhere (%.0f ms)",
            variant == 0 ? "thin bridge" : variant == 1 ? "thick neck" : "thick neck, wall of background scribbles",
            (long long)lsLeft, (long long)left.countLabel(1), (long long)lsRight, (long long)lsOutside,
            timer.nsecsElapsed() / 1e6);
      // (With the wall the front stops a little short of the ball's side that faces it.)
      QVERIFY2(lsLeft >= (barrier ? 0.9 : 0.95) * double(left.countLabel(1)), "the seeded ball is not filled");
      if (variant == 0)
      {
        QCOMPARE(lsRight, int64_t{0});
        QVERIFY2(lsOutside <= 0.1 * double(left.countLabel(1)), "the surface leaked into the background");
      }
      else if (variant == 1)
        QVERIFY2(lsRight >= 0.9 * double(right.countLabel(1)), "the surface did not pass the neck");
      else
        QCOMPARE(lsRight, int64_t{0});
    }
    threw = false;
    try
    {
      edit::levelSetInRegion(img, half, {{30, 15, 10}}, {});
    }
    catch (const std::exception& e)
    {
      threw = QString(e.what()).contains("needs a foreground seed inside the region");
    }
    QVERIFY(threw);

    // The command line on the phantom: the box and one positive click, ITK's method.
    const auto click = edit::nextRobotClick(LabelMask(m_ph.ct.geometry, 0), 1, m_ph.pancreas, 1);
    QVERIFY(click);
    const QString clickArg = QString("+%1,%2,%3").arg(click->voxel[0]).arg(click->voxel[1]).arg(click->voxel[2]);
    // Both ITK methods through the command line: something grows around the click, inside the box.
    const QString out = m_tmp.path() + "/region.nii.gz";
    for (const auto& [method, step] : {std::pair<QString, QString>{"confidence", "region growing (ITK)"},
                                       std::pair<QString, QString>{"levelset", "level set (ITK)"}})
    {
      const testproc::Run r = panseg(
          {"--input", m_ct, "--box", boxArg(), "--grow", clickArg, "--grow-method", method, "--output", out, "--json"});
      QVERIFY2(r.code == 0, qPrintable(testproc::show(r)));
      QVERIFY(r.out.contains(step));
      const LabelMask grown = readMaskFor(out.toStdString(), m_ph.ct.geometry);
      qInfo("ITK %s, box + one click on phantom 2: Dice %.3f", qPrintable(method),
            edit::diceOf(grown, 1, m_ph.pancreas, 1));
      QVERIFY2(grown.countLabel(1) > 0, "something grew");
      QCOMPARE(grown.at(click->voxel[0], click->voxel[1], click->voxel[2]), uint8_t(1));
      for (int64_t z = 0; z < grown.nz(); ++z) // nothing outside the box
        for (int64_t y = 0; y < grown.ny(); ++y)
          for (int64_t x = 0; x < grown.nx(); ++x)
            if (grown.at(x, y, z))
              QVERIFY(edit::boxHolds(m_box, {x, y, z}));
    }
    // A method that does not exist is a usage error.
    const testproc::Run bad = panseg({"--input", m_ct, "--box", boxArg(), "--grow-method", "magic", "--output", out});
    QCOMPARE(bad.code, 2);
    QVERIFY(bad.err.contains("--grow-method must be growcut"));
  }

  void modelBoxThenClicksRaiseDice()
  {
    if (!QFileInfo::exists(PANSEG_DEMO_MODEL "/model.json"))
      QSKIP("the shipped demo model is absent");
    // Model/image modality mismatch: refused before anything is written.
    const QString refused = m_tmp.path() + "/refused.nii.gz";
    const testproc::Run mr = panseg({"--model", PANSEG_DEMO_MODEL, "--input", m_mr, "--box", boxArg(), "--output", refused});
    QVERIFY2(mr.code == 1 && mr.err.contains("the image is MR") && mr.err.contains("trained on CT"),
             qPrintable(testproc::show(mr)));
    QVERIFY(!QFileInfo::exists(refused));

    // The start mask has one voxel outside the box, which the box prediction must not touch.
    LabelMask start(m_ph.ct.geometry, 0);
    start.at(0, 0, 0) = 1;
    const QString startPath = m_tmp.path() + "/start.nii.gz";
    writeMask(start, startPath.toStdString());
    const QString out1 = m_tmp.path() + "/box.nii.gz";
    const testproc::Run r1 = panseg({"--model", PANSEG_DEMO_MODEL, "--input", m_ct, "--mask", startPath, "--box",
                                     boxArg(), "--output", out1, "--json"});
    QVERIFY2(r1.code == 0, qPrintable(testproc::show(r1)));
    QVERIFY2(r1.out.contains("\"step\":\"box\""), qPrintable(r1.out));
    LabelMask cur = readMaskFor(out1.toStdString(), m_ph.ct.geometry);
    QCOMPARE(cur.at(0, 0, 0), uint8_t(1));
    cur.at(0, 0, 0) = 0;
    std::vector<double> dice{edit::diceOf(cur, 1, m_ph.pancreas, 1)};
    QString prev = out1;
    for (int k = 1; k <= 2; ++k)
    {
      auto c = edit::nextRobotClick(cur, 1, m_ph.pancreas, 1);
      QVERIFY(c.has_value());
      for (int a = 0; a < 3; ++a)
        c->voxel[a] = std::clamp(c->voxel[a], m_box.lo[a], m_box.hi[a] - 1);
      const QString next = m_tmp.path() + QString("/click%1.nii.gz").arg(k);
      const testproc::Run r = panseg({"--input", m_ct, "--mask", prev, "--box", boxArg(), "--grow",
                                      QString("%1%2,%3,%4").arg(c->positive ? '+' : '-').arg(c->voxel[0]).arg(c->voxel[1]).arg(c->voxel[2]),
                                      "--output", next});
      QVERIFY2(r.code == 0, qPrintable(testproc::show(r)));
      cur = readMaskFor(next.toStdString(), m_ph.ct.geometry);
      cur.at(0, 0, 0) = 0;
      dice.push_back(edit::diceOf(cur, 1, m_ph.pancreas, 1));
      prev = next;
    }
    qInfo("demo model in the box: Dice %.3f, after click 1: %.3f, after click 2: %.3f", dice[0], dice[1], dice[2]);
    QVERIFY2(dice[0] > 0.6, "the box prediction failed");
    QVERIFY2(dice[1] > dice[0] - 0.01 && dice[2] > dice[1] - 0.01, "a click made the mask worse");
    QVERIFY2(dice[2] > dice[0], "clicks did not raise Dice");
  }

  void clickModelAnswersClicks()
  {
    // The "done when" on the command line: a damaged mask (the tail cut away, a false
    // ball by the truth) corrected by the shipped click-conditioned demo model, robot clicks
    // given with --click (each answered by the model with all clicks so far and the current
    // mask). A plain package asked for clicks, and --click without a model, are clear errors.
    const QString clickModel = QString(PANSEG_DEMO_MODEL) + "/../demo-clicks";
    if (!QFileInfo::exists(clickModel + "/model.json"))
      QSKIP("the shipped click-conditioned demo model (resources/models/demo-clicks) is absent");
    const QString damagedPath = m_tmp.path() + "/damaged.nii.gz";
    const LabelMask damaged = testdata::damagedPancreas(m_ph);
    writeMask(damaged, damagedPath.toStdString());
    const QByteArray before = sha(damagedPath);

    // Bad input first: nothing is written.
    const QString never = m_tmp.path() + "/never-click.nii.gz";
    const testproc::Run noModel = panseg({"--input", m_ct, "--mask", damagedPath, "--box", boxArg(), "--click",
                                          "+90,70,30", "--output", never});
    QCOMPARE(noModel.code, 2);
    QVERIFY2(noModel.err.contains("--click needs --model"), qPrintable(testproc::show(noModel)));
    const testproc::Run plain = panseg({"--model", PANSEG_DEMO_MODEL, "--input", m_ct, "--mask", damagedPath, "--box",
                                        boxArg(), "--click", "+90,70,30", "--output", never});
    QVERIFY2(plain.code == 1 && plain.err.contains("has no click channels"), qPrintable(testproc::show(plain)));
    QVERIFY(!QFileInfo::exists(never));
    QCOMPARE(sha(damagedPath), before);

    // Robot clicks, one run per click (each run is given every click so far).
    std::vector<double> dice{edit::diceOf(damaged, 1, m_ph.pancreas, 1)};
    QStringList clicks;
    LabelMask cur = damaged;
    for (int k = 1; k <= 3; ++k)
    {
      auto c = edit::nextRobotClick(cur, 1, m_ph.pancreas, 1);
      QVERIFY(c.has_value());
      for (int a = 0; a < 3; ++a)
        c->voxel[a] = std::clamp(c->voxel[a], m_box.lo[a], m_box.hi[a] - 1);
      clicks << "--click" << QString("%1%2,%3,%4").arg(c->positive ? '+' : '-').arg(c->voxel[0]).arg(c->voxel[1]).arg(c->voxel[2]);
      const QString out = m_tmp.path() + QString("/model-click%1.nii.gz").arg(k);
      const testproc::Run r = panseg(QStringList{"--model", clickModel, "--input", m_ct, "--mask", damagedPath, "--box",
                                                 boxArg(), "--output", out, "--json"} + clicks);
      QVERIFY2(r.code == 0, qPrintable(testproc::show(r)));
      QCOMPARE(r.out.count("model click"), k);
      QVERIFY(!r.out.contains("\"step\":\"box\"")); // with --mask START the model starts from it
      cur = readMaskFor(out.toStdString(), m_ph.ct.geometry);
      dice.push_back(edit::diceOf(cur, 1, m_ph.pancreas, 1));
    }
    qInfo("click model on the damaged mask (phantom 2): Dice %.3f -> %.3f %.3f %.3f", dice[0], dice[1], dice[2], dice[3]);
    QCOMPARE(sha(damagedPath), before);
    QVERIFY2(dice[3] > dice[0] + 0.03, "the click model did not repair the mask");
    QVERIFY2(dice[3] > 0.9, qPrintable(QString::number(dice[3])));
  }

#ifdef PANSEG_WORKER_PATH
  void workerSessionAnswersBoxes()
  {
    // The interactive session: model and image loaded once, box requests on stdin; each answer
    // equals a one-shot `panseg-worker predict --roi` voxel for voxel; a bad request is an error
    // event and the session goes on; quit ends it with exit 0.
    if (!QFileInfo::exists(PANSEG_DEMO_MODEL "/model.json"))
      QSKIP("the shipped demo model is absent");
    const QString oneShot = m_tmp.path() + "/oneshot.nii.gz";
    const testproc::Run r = testproc::run(PANSEG_WORKER_PATH, {"predict", "--model", PANSEG_DEMO_MODEL, "--input", m_ct,
                                                               "--output", oneShot, "--fast", "--roi", boxArg()},
                                          300000);
    QVERIFY2(r.code == 0, qPrintable(testproc::show(r)));
    QProcess p;
    p.start(PANSEG_WORKER_PATH, {"session", "--model", PANSEG_DEMO_MODEL, "--input", m_ct, "--strict-modality"});
    auto next = [&p]() -> QJsonObject {
      while (!p.canReadLine())
        if (!p.waitForReadyRead(300000))
          return {};
      return QJsonDocument::fromJson(p.readLine()).object();
    };
    QJsonObject e = next();
    QCOMPARE(e["event"].toString(), QString("ready"));
    const QString s1 = m_tmp.path() + "/session1.nii.gz", s2 = m_tmp.path() + "/session2.nii.gz";
    p.write(QString("box %1 %2\n").arg(boxArg(), s1).toUtf8());
    p.write("box 1,2,3 " + (m_tmp.path() + "/never.nii.gz").toUtf8() + "\n");
    p.write(QString("box %1 %2\n").arg(boxArg(), s2).toUtf8());
    e = next();
    QCOMPARE(e["event"].toString(), QString("done"));
    QCOMPARE(e["request"].toInt(), 1);
    QCOMPARE(e["roi"].toString(), boxArg());
    const double first = e["seconds"].toDouble();
    e = next();
    QCOMPARE(e["event"].toString(), QString("error"));
    QVERIFY2(e["message"].toString().contains("6 are needed"), qPrintable(e["message"].toString()));
    e = next();
    QCOMPARE(e["event"].toString(), QString("done"));
    QCOMPARE(e["request"].toInt(), 3);
    qInfo("session: boxes answered in %.2f s and %.2f s (one-shot worker: %s)", first, e["seconds"].toDouble(),
          qPrintable(r.out.split('\n', Qt::SkipEmptyParts).last().section("\"seconds\":", 1).section(',', 0, 0)));
    p.write("quit\n");
    QVERIFY(p.waitForFinished(30000));
    QCOMPARE(p.exitCode(), 0);
    QVERIFY(!QFileInfo::exists(m_tmp.path() + "/never.nii.gz"));
    const LabelMask a = readMaskFor(oneShot.toStdString(), m_ph.ct.geometry);
    QVERIFY(readMaskFor(s1.toStdString(), m_ph.ct.geometry).voxels == a.voxels);
    QVERIFY(readMaskFor(s2.toStdString(), m_ph.ct.geometry).voxels == a.voxels);
  }
#endif
};

QTEST_APPLESS_MAIN(TestInteractCli)
#include "tst_interact_cli.moc"
