// Grow from seeds (core/edit/GrowCut) and the robot user (core/edit/RobotUser), headless, on
// generated phantoms (core/demo) and, when ../shared is there, the real TotalSegmentator CT.
#include "core/Error.h"
#include "core/demo/PhantomGenerator.h"
#include "core/edit/BoxPrompt.h"
#include "core/edit/GrowCut.h"
#include "core/edit/LabelEditor.h"
#include "core/edit/RobotUser.h"

#include "DamagedPhantom.h"

#include <QtTest>

#include <memory>

using namespace panseg;
using namespace panseg::edit;

namespace
{
demo::Phantom makePhantom(uint32_t seed)
{
  demo::PhantomOptions o;
  o.seed = seed;
  o.generateMr = false;
  return demo::generatePhantom(o);
}

/// Two-region image: a bright ball (radius r voxels) in a dark, noisy background.
std::shared_ptr<Image> ballImage(const Size3& size, double r, LabelMask* truth)
{
  Geometry g;
  g.size = size;
  auto img = std::make_shared<Image>(g, 0.0f);
  *truth = LabelMask(g, 0);
  uint64_t state = 12345;
  for (int64_t z = 0; z < size[2]; ++z)
    for (int64_t y = 0; y < size[1]; ++y)
      for (int64_t x = 0; x < size[0]; ++x)
      {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        const double noise = static_cast<double>((state >> 33) % 2001) / 100.0 - 10.0; // +-10
        const double dx = x - size[0] / 2.0, dy = y - size[1] / 2.0, dz = z - size[2] / 2.0;
        const bool in = dx * dx + dy * dy + dz * dz <= r * r;
        img->at(x, y, z) = static_cast<float>((in ? 100.0 : 0.0) + noise);
        truth->at(x, y, z) = in ? 1 : 0;
      }
  return img;
}
} // namespace

class TestGrowCut : public QObject
{
  Q_OBJECT
private slots:
  void separatesABallFromTwoSeeds()
  {
    LabelMask truth;
    auto img = ballImage({48, 48, 32}, 10.0, &truth);
    GrowCut gc(img);
    gc.addSeedBall({24, 24, 16}, 2.0, SeedLabel::Foreground);
    gc.addSeedBall({4, 4, 4}, 1.0, SeedLabel::Background);
    const GrowCutStats st = gc.update();
    QVERIFY(!st.incremental);
    QVERIFY(st.regionVoxels > 0);
    const LabelMask m = growCutMask(gc, truth.geometry);
    const double d = diceOf(m, 1, truth, 1);
    qInfo("ball: Dice %.4f, region %lld voxels, %.1f ms", d, static_cast<long long>(st.regionVoxels),
          st.milliseconds);
    QVERIFY2(d > 0.95, qPrintable(QString("Dice %1").arg(d)));
  }

  void incrementalEqualsFromScratch()
  {
    const demo::Phantom ph = makePhantom(3);
    auto img = std::make_shared<Image>(ph.ct);
    const Box tb = labelBoundingBox(ph.pancreas, 1);
    QVERIFY(!tb.empty());
    GrowCutOptions opt;
    // First strokes: the box's faces (background) and its centre (foreground).
    const std::vector<Index3> shell = boxShell(grownBox(tb, {3, 3, 2}, ph.ct.geometry.size));
    const Index3 centre{(tb.lo[0] + tb.hi[0]) / 2, (tb.lo[1] + tb.hi[1]) / 2, (tb.lo[2] + tb.hi[2]) / 2};
    GrowCut inc(img, opt);
    inc.addSeeds(shell, SeedLabel::Background);
    inc.addSeedBall(centre, 3.0, SeedLabel::Foreground);
    const GrowCutStats first = inc.update();
    QVERIFY(!first.incremental);
    // More strokes at the robot's clicks, inside the region: incremental.
    for (int k = 0; k < 3; ++k)
    {
      const LabelMask m = growCutMask(inc, ph.ct.geometry);
      const auto c = nextRobotClick(m, 1, ph.pancreas, 1);
      QVERIFY(c.has_value());
      const SeedLabel l = c->positive ? SeedLabel::Foreground : SeedLabel::Background;
      inc.addSeedBall(c->voxel, std::min(3.0, c->depthMm), l);
      const GrowCutStats st = inc.update();
      QVERIFY2(st.incremental, "a stroke inside the region must update incrementally");
      QVERIFY(st.voxelsUpdated > 0);
      QVERIFY2(st.voxelsUpdated < first.voxelsUpdated,
               qPrintable(QString("incremental touched %1 voxels, from scratch %2")
                            .arg(st.voxelsUpdated).arg(first.voxelsUpdated)));
    }
    // The same seeds, propagated from scratch on a copy (same seed record, state dropped).
    GrowCut scratch = inc;
    const GrowCutStats rs = scratch.recomputeFromScratch();
    QVERIFY(!rs.incremental);
    QCOMPARE(scratch.region().lo, inc.region().lo);
    QCOMPARE(scratch.region().hi, inc.region().hi);
    int64_t labelDiff = 0, distDiff = 0;
    const Box& r = inc.region();
    for (int64_t z = r.lo[2]; z < r.hi[2]; ++z)
      for (int64_t y = r.lo[1]; y < r.hi[1]; ++y)
        for (int64_t x = r.lo[0]; x < r.hi[0]; ++x)
        {
          labelDiff += inc.labelAt({x, y, z}) != scratch.labelAt({x, y, z});
          distDiff += inc.distanceAt({x, y, z}) != scratch.distanceAt({x, y, z});
        }
    QCOMPARE(distDiff, int64_t{0});
    QCOMPARE(labelDiff, int64_t{0});
  }

  void seedOutsideRegionOrRelabelledStartsAgain()
  {
    LabelMask truth;
    auto img = ballImage({64, 64, 40}, 8.0, &truth);
    GrowCutOptions o;
    o.marginMm = 3.0;
    GrowCut gc(img, o);
    gc.addSeedBall({32, 32, 20}, 2.0, SeedLabel::Foreground);
    gc.addSeedBall({22, 32, 20}, 1.0, SeedLabel::Background);
    QVERIFY(!gc.update().incremental);
    const Box before = gc.region();
    gc.addSeeds({{60, 60, 38}}, SeedLabel::Background); // far outside the region
    const GrowCutStats st = gc.update();
    QVERIFY(!st.incremental);
    QVERIFY(gc.region().hi[0] > before.hi[0]);
    QCOMPARE(gc.labelAt({60, 60, 38}), uint8_t(2));
    // A foreground voxel painted as background: the seed changes label, full recomputation.
    gc.addSeeds({{32, 32, 20}}, SeedLabel::Background);
    QVERIFY(!gc.update().incremental);
    QCOMPARE(gc.labelAt({32, 32, 20}), uint8_t(2));
    QCOMPARE(gc.seedCount(SeedLabel::Background) > 0, true);
    gc.clear();
    QVERIFY(gc.region().empty());
    QCOMPARE(gc.update().regionVoxels, int64_t{0});
  }

  void robotRaisesDiceOnPhantoms()
  {
    // Phantoms the method never saw (it has no training); Dice after each interaction.
    for (uint32_t seed : {5u, 11u})
    {
      const demo::Phantom ph = makePhantom(seed);
      const RobotCurve c = runGrowCutRobot(std::make_shared<Image>(ph.ct), ph.pancreas, 1);
      QString line;
      for (double d : c.dice)
        line += QString::number(d, 'f', 3) + " ";
      qInfo("phantom seed %u: Dice per interaction %s", seed, qPrintable(line));
      QVERIFY(c.dice.size() >= 2);
      QVERIFY2(c.dice.back() > c.dice.front() + 0.3,
               qPrintable("clicks did not raise Dice: " + line));
      QVERIFY2(c.dice.back() > 0.7, qPrintable("final Dice too low: " + line));
      for (size_t k = 1; k < c.incremental.size(); ++k)
        QVERIFY(c.incremental[k]);
    }
  }

  void robotClickIsInsideTheLargestError()
  {
    Geometry g;
    g.size = {40, 40, 20};
    LabelMask truth(g, 0), pred(g, 0);
    for (int64_t z = 5; z < 15; ++z)
      for (int64_t y = 5; y < 35; ++y)
        for (int64_t x = 5; x < 35; ++x)
          truth.at(x, y, z) = 1;
    pred = truth;
    for (int64_t z = 5; z < 15; ++z) // a missed slab x 25..34 (300 x 10 voxels)
      for (int64_t y = 5; y < 35; ++y)
        for (int64_t x = 25; x < 35; ++x)
          pred.at(x, y, z) = 0;
    pred.at(1, 1, 1) = 1; // a one-voxel false positive
    const auto c = nextRobotClick(pred, 1, truth, 1);
    QVERIFY(c.has_value());
    QVERIFY(c->positive);
    QCOMPARE(c->componentVoxels, int64_t{3000});
    QVERIFY(c->voxel[0] >= 25 && c->voxel[0] < 35);
    QVERIFY(c->voxel[0] >= 28 && c->voxel[0] <= 31); // centre of the slab in x
    QVERIFY(c->voxel[2] >= 8 && c->voxel[2] <= 11);
    QVERIFY(!nextRobotClick(truth, 1, truth, 1).has_value());
    QCOMPARE(diceCurveArea({0.5, 0.7, 0.9}), (0.6 + 0.8) / 2);
    QCOMPARE(interactionsToReach({0.5, 0.7, 0.9}, 0.9), 2);
    QCOMPARE(interactionsToReach({0.5, 0.7}, 0.9), -1);
  }

  void resultIsOneUndoStep()
  {
    LabelMask truth;
    auto img = ballImage({32, 32, 24}, 6.0, &truth);
    LabelEditor ed(img, LabelMask(truth.geometry, 0));
    GrowCut gc(img);
    gc.addSeedBall({16, 16, 12}, 1.0, SeedLabel::Foreground);
    gc.addSeeds({{2, 2, 2}}, SeedLabel::Background);
    gc.update();
    const EditResult r = ed.replaceInBox(1, gc.region(), gc.foregroundInRegion());
    QVERIFY(r.voxelsChanged > 0);
    QCOMPARE(ed.undoCount(), size_t{1});
    QVERIFY(diceOf(ed.mask(), 1, truth, 1) > 0.9);
    ed.undo();
    QCOMPARE(ed.mask().countLabel(1), int64_t{0});
    QVERIFY_EXCEPTION_THROWN(ed.replaceInBox(1, Box{{0, 0, 0}, {40, 2, 2}}, std::vector<uint8_t>(160)),
                             panseg::Error);
    QVERIFY_EXCEPTION_THROWN(ed.replaceInBox(1, Box{{0, 0, 0}, {2, 2, 2}}, std::vector<uint8_t>(7)),
                             panseg::Error);
  }

  void boxAndClickParsing()
  {
    Geometry g;
    g.size = {100, 80, 40};
    g.spacingMm = {0.8, 0.8, 2.5};
    g.originMm = {-40, -30, 100};
    const Box b = parseBox("10,20,5,30,40,15", g, false);
    QCOMPARE(b.lo, (Index3{10, 20, 5}));
    QCOMPARE(b.hi, (Index3{31, 41, 16}));
    QCOMPARE(parseBox("30,40,15,10,20,5", g, false).lo, b.lo); // corners in any order
    QCOMPARE(QString::fromStdString(boxText(b)), QString("10,20,5,30,40,15"));
    // mm: corners at voxel centres give the same box
    const Vec3 p0 = g.indexToPhysical({10, 20, 5}), p1 = g.indexToPhysical({30, 40, 15});
    const Box bm = parseBox(QString("%1,%2,%3,%4,%5,%6").arg(p0[0]).arg(p0[1]).arg(p0[2]).arg(p1[0]).arg(p1[1]).arg(p1[2])
                              .toStdString(), g, true);
    QCOMPARE(bm.lo, b.lo);
    QCOMPARE(bm.hi, b.hi);
    auto fails = [&](const char* text, bool mm, const char* expect)
    {
      try
      {
        parseBox(text, g, mm);
      }
      catch (const panseg::Error& e)
      {
        const QString m = QString::fromUtf8(e.what());
        QVERIFY2(m.contains(expect), qPrintable(m));
        QVERIFY(!m.contains('\n'));
        return;
      }
      QFAIL(qPrintable(QString("accepted %1").arg(text)));
    };
    fails("10,20,5,130,40,15", false, "not inside the image");
    fails("-1,20,5,30,40,15", false, "not inside the image");
    fails("10,20,5,30,40", false, "5 numbers");
    fails("10,20,5,30,40,x", false, "comma-separated");
    fails("10.5,20,5,30,40,15", false, "whole numbers");
    fails("0,0,101,0,0,101.2", true, "holds no voxel centre");
    const Click c = parseClick("-12,30,7", g, false);
    QVERIFY(!c.positive);
    QCOMPARE(c.voxel, (Index3{12, 30, 7}));
    QVERIFY(parseClick("+1,2,3", g, false).positive);
    QVERIFY_EXCEPTION_THROWN(parseClick("+1,2,40", g, false), panseg::Error);
    QVERIFY_EXCEPTION_THROWN(parseClick("1,2,3", g, false), panseg::Error);
    QVERIFY_EXCEPTION_THROWN(checkBox(Box{{5, 5, 5}, {5, 9, 9}}, g), panseg::Error);
  }

  void cropAndPasteBack()
  {
    const demo::Phantom ph = makePhantom(4);
    const Box box{{60, 50, 20}, {110, 90, 40}};
    const Box crop = boxWithMarginMm(box, ph.ct.geometry, 10.0);
    QCOMPARE(crop.lo[0], box.lo[0] - 7); // 10 mm / 1.6 mm -> 7 voxels
    QCOMPARE(crop.lo[2], box.lo[2] - 4); // 10 mm / 3 mm -> 4 slices
    const Image ci = cropImage(ph.ct, crop);
    // the crop's voxel (0,0,0) sits where the full image's crop.lo sits, in mm
    const Vec3 a = ci.geometry.indexToPhysical({0, 0, 0});
    const Vec3 b = ph.ct.geometry.indexToPhysical({double(crop.lo[0]), double(crop.lo[1]), double(crop.lo[2])});
    for (int k = 0; k < 3; ++k)
      QVERIFY(std::abs(a[k] - b[k]) < 1e-9);
    QCOMPARE(ci.at(3, 4, 5), ph.ct.at(crop.lo[0] + 3, crop.lo[1] + 4, crop.lo[2] + 5));
    const LabelMask cm = cropMask(ph.organs, crop);
    const LabelMask back = pasteInside(ph.organs.geometry, cm, crop, box);
    int64_t inside = 0, wrong = 0;
    for (int64_t z = 0; z < back.nz(); ++z)
      for (int64_t y = 0; y < back.ny(); ++y)
        for (int64_t x = 0; x < back.nx(); ++x)
        {
          const bool in = x >= box.lo[0] && x < box.hi[0] && y >= box.lo[1] && y < box.hi[1] &&
                          z >= box.lo[2] && z < box.hi[2];
          inside += in;
          wrong += back.at(x, y, z) != (in ? ph.organs.at(x, y, z) : 0);
        }
    QCOMPARE(inside, box.voxelCount());
    QCOMPARE(wrong, int64_t{0});
  }

  void modalityGuessAndMismatch()
  {
    demo::PhantomOptions o;
    o.seed = 2;
    o.size = {64, 56, 24};
    const demo::Phantom ph = demo::generatePhantom(o);
    Image ct = ph.ct, mr = ph.mrT1;
    ct.info.modality.clear();
    mr.info.modality.clear();
    QCOMPARE(QString::fromStdString(guessModality(ct)), QString("CT"));
    QCOMPARE(QString::fromStdString(guessModality(mr)), QString("MR"));
    checkModality(ct, "CT", "demo");
    try
    {
      checkModality(mr, "CT", "PanSegNet demo");
      QFAIL("an MR image passed a CT model");
    }
    catch (const panseg::Error& e)
    {
      QVERIFY2(QString(e.what()).contains("the image is MR (judged from its intensities) but the model PanSegNet demo "
                                          "was trained on CT"),
               e.what());
    }
  }

  void clicksRepairADamagedMask()
  {
    // The scenario on phantoms: a mask missing the pancreatic tail, with a false blob by
    // the duodenum; a box and at most three robot clicks must bring it to Dice >= 0.9, and a
    // click never changes voxels farther than its reach.
    for (uint32_t seed : {5u, 11u})
    {
      const demo::Phantom ph = makePhantom(seed);
      auto img = std::make_shared<Image>(ph.ct);
      const Box tb = labelBoundingBox(ph.pancreas, 1);
      const LabelMask damaged = testdata::damagedPancreas(ph);
      const Box box = grownBox(tb, {6, 6, 3}, ph.ct.geometry.size);
      GrowCutRobotOptions o;
      o.clicks = 3;
      const RobotCurve c = runRefineRobot(img, damaged, 1, box, ph.pancreas, 1, o);
      QString line;
      for (double v : c.dice)
        line += QString::number(v, 'f', 3) + " ";
      qInfo("damaged phantom %u: Dice start, then per click: %s", seed, qPrintable(line));
      QVERIFY2(c.dice.front() < 0.88, qPrintable(line));
      QVERIFY2(c.dice.back() >= 0.9, qPrintable(line));
      QVERIFY(c.clicks.size() >= 1 && c.clicks.front().positive); // the tail first: the largest error
    }
    // Locality: one click on a mask leaves everything beyond its reach alone.
    const demo::Phantom ph = makePhantom(5);
    auto img = std::make_shared<Image>(ph.ct);
    const Box box{{20, 20, 10}, {170, 140, 55}};
    ClickRefineOptions ro;
    ro.reachMm = 20.0; // fixed (the default adapts it up to 40 mm)
    ClickRefiner r(img, ph.organs, 2, box, ro); // the liver
    const auto before = binaryInBox(ph.organs, 2, box);
    const Click click{{100, 80, 30}, true};
    const auto after = r.click(click);
    int64_t far = 0;
    size_t i = 0;
    for (int64_t z = box.lo[2]; z < box.hi[2]; ++z)
      for (int64_t y = box.lo[1]; y < box.hi[1]; ++y)
        for (int64_t x = box.lo[0]; x < box.hi[0]; ++x, ++i)
          if (before[i] != after[i] &&
              (std::abs(x - 100) * 1.6 > ro.reachMm + 2 || std::abs(y - 80) * 1.6 > ro.reachMm + 2 ||
               std::abs(z - 30) * 3.0 > ro.reachMm + 3))
            ++far;
    QCOMPARE(far, int64_t{0});
    QVERIFY_EXCEPTION_THROWN(r.click(Click{{5, 5, 5}, true}), panseg::Error);
  }

  void modelClickHistoryFollowsUndo()
  {
    // The click model's guidance in the GUI: each answered click remembers the mask revisions
    // around its answer; undo and redo move the standing clicks with the mask, another edit
    // keeps the standing ones and forgets the undone ones (as the editor forgets its redo steps).
    edit::ModelClickHistory h;
    const edit::Box box{{1, 2, 3}, {10, 20, 30}};
    h.restart(box);
    QVERIFY(h.box().lo == box.lo && h.box().hi == box.hi);
    const edit::Click a{{2, 3, 4}, true}, b{{5, 6, 7}, false}, c{{8, 9, 10}, true};
    QCOMPARE(QString::fromStdString(h.guidanceText(&a)), QString("+2,3,4"));
    // The box's answer took the mask from 99 to 100; then three clicks 100 -> 101 -> 102 -> 103.
    h.add(a, 100, 101);
    h.add(b, 101, 102);
    h.add(c, 102, 103);
    QCOMPARE(QString::fromStdString(h.guidanceText()), QString("+2,3,4;-5,6,7;+8,9,10"));
    h.follow(103); // nothing undone
    QCOMPARE(h.standing().size(), size_t(3));
    h.follow(102); // undo
    QCOMPARE(h.standing().size(), size_t(2));
    QCOMPARE(QString::fromStdString(h.guidanceText(&c)), QString("+2,3,4;-5,6,7;+8,9,10"));
    h.follow(103); // redo brings it back
    QCOMPARE(h.standing().size(), size_t(3));
    h.follow(101);
    h.follow(100); // undone back to the box's answer: no click stands
    QVERIFY(h.standing().empty());
    h.follow(102); // redo twice
    QCOMPARE(h.standing().size(), size_t(2));
    h.follow(250); // a brush stroke after an undo: the undone click is gone for good
    QCOMPARE(h.standing().size(), size_t(2));
    h.follow(103);
    QCOMPARE(h.standing().size(), size_t(2));
    h.add(c, 250, 251); // the next click follows the stroke
    QCOMPARE(QString::fromStdString(h.guidanceText()), QString("+2,3,4;-5,6,7;+8,9,10"));
    h.follow(250); // undoing it goes back to the stroke
    QCOMPARE(h.standing().size(), size_t(2));
    // A click whose answer changed nothing leaves the revision where it was: it stays with the
    // click before it, and an undo of that earlier click's step drops both.
    h.restart(box);
    h.add(a, 100, 101);
    h.add(b, 101, 101);
    h.follow(101);
    QCOMPARE(h.standing().size(), size_t(2));
    h.follow(100);
    QVERIFY(h.standing().empty());
    h.restart(edit::Box());
    QVERIFY(h.standing().empty() && h.box().empty());
    QVERIFY(edit::boxHolds(box, {1, 2, 3}));
    QVERIFY(edit::boxHolds(box, {9, 19, 29}));
    QVERIFY(!edit::boxHolds(box, {10, 2, 3}));
    QVERIFY(!edit::boxHolds(box, {1, 2, 2}));
    QVERIFY(!edit::boxHolds(edit::Box(), {0, 0, 0}));
  }

  void modelClickAnswersAreTakenLocally()
  {
    // edit::answerModelClick on a 60x60x30 grid (1 mm): the previous mask is a slab A with a
    // false blob D; the "network's answer" adds a region B touching the click, a far region C,
    // drops D and shaves A's far side. A positive click in B takes B only; a negative click in
    // D removes D only; an answer that changes nothing there falls back to grow from seeds.
    Geometry g;
    g.size = {60, 60, 30};
    auto img = std::make_shared<Image>(g, 0.0f);
    LabelMask previous(g, 0), answer(g, 0);
    auto fill = [](LabelMask& m, int x0, int x1, int y0, int y1, int z0, int z1, uint8_t v)
    {
      for (int z = z0; z < z1; ++z)
        for (int y = y0; y < y1; ++y)
          for (int x = x0; x < x1; ++x)
            m.at(x, y, z) = v;
    };
    fill(previous, 10, 30, 20, 40, 10, 20, 1); // A
    fill(previous, 40, 44, 10, 14, 12, 16, 1); // D, the false blob
    fill(answer, 12, 30, 20, 40, 10, 20, 1);   // A without its far side x 10..11
    fill(answer, 30, 38, 25, 35, 12, 18, 1);   // B, joined to A
    fill(answer, 45, 55, 45, 55, 5, 10, 1);    // C, far away
    for (int z = 0; z < 30; ++z) // the image: bright where the truth (A + B) is
      for (int y = 0; y < 60; ++y)
        for (int x = 0; x < 60; ++x)
          img->at(x, y, z) = (previous.at(x, y, z) && x < 40) || answer.at(x, y, z) ? 100.0f : 0.0f;
    const Box box{{0, 0, 0}, {60, 60, 30}};
    std::string method;
    const LabelMask plus = answerModelClick(img, previous, 1, answer, box, Click{{34, 30, 15}, true}, &method);
    QCOMPARE(method, std::string("model"));
    QCOMPARE(plus.countLabel(1), previous.countLabel(1) + 8 * 10 * 6); // + B, nothing else
    QCOMPARE(plus.at(50, 50, 7), uint8_t(0)); // C not taken
    QCOMPARE(plus.at(10, 30, 15), uint8_t(1)); // A's far side kept
    QCOMPARE(plus.at(42, 12, 14), uint8_t(1)); // D untouched by a positive click
    const LabelMask minus = answerModelClick(img, plus, 1, answer, box, Click{{42, 12, 14}, false}, &method);
    QCOMPARE(method, std::string("model"));
    QCOMPARE(minus.countLabel(1), plus.countLabel(1) - 4 * 4 * 4); // - D only
    QCOMPARE(minus.at(10, 30, 15), uint8_t(1));
    // A positive click where the answer adds nothing: grown from seeds, still a change there.
    const LabelMask grown = answerModelClick(img, previous, 1, previous, box, Click{{33, 30, 15}, true}, &method);
    QCOMPARE(method, std::string("grow from seeds"));
    QVERIFY(grown.at(33, 30, 15) == 1);
    QVERIFY_EXCEPTION_THROWN(answerModelClick(img, previous, 1, LabelMask(Geometry{}, 0), box,
                                              Click{{33, 30, 15}, true}, &method),
                             panseg::Error);
  }

  void updateTimeOn200x200x100()
  {
    // Benchmark figure (not a pass/fail on time: the CI machine is shared). The incremental
    // stroke must touch far fewer voxels than the first update.
    LabelMask truth;
    auto img = ballImage({230, 230, 130}, 40.0, &truth);
    GrowCutOptions o;
    o.marginMm = 15.0;
    GrowCut gc(img, o);
    // seeds spanning 200 x 200 x 100 with the margin
    gc.addSeedBall({115, 115, 65}, 4.0, SeedLabel::Foreground);
    gc.addSeeds(boxShell(Box{{30, 30, 30}, {200, 200, 100}}), SeedLabel::Background);
    const GrowCutStats first = gc.update();
    gc.addSeedBall({130, 115, 65}, 3.0, SeedLabel::Foreground);
    const GrowCutStats second = gc.update();
    gc.addSeedBall({160, 115, 65}, 3.0, SeedLabel::Background);
    const GrowCutStats third = gc.update();
    qInfo("region %lld voxels: first update %.1f ms; stroke updates %.1f ms (%lld voxels), %.1f ms "
          "(%lld voxels)",
          static_cast<long long>(first.regionVoxels), first.milliseconds, second.milliseconds,
          static_cast<long long>(second.voxelsUpdated), third.milliseconds,
          static_cast<long long>(third.voxelsUpdated));
    QVERIFY(first.regionVoxels >= 200LL * 200 * 100);
    QVERIFY(second.incremental && third.incremental);
    QVERIFY(second.voxelsUpdated < first.voxelsUpdated);
  }
};

QTEST_APPLESS_MAIN(TestGrowCut)
#include "tst_growcut.moc"
