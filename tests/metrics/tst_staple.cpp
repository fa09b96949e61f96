// STAPLE consensus (core/metrics/Staple.h): identical raters, a bad rater, a case where STAPLE and
// majority vote disagree, a hand-computed EM step, and an independent dense implementation (plain
// per-voxel loops, no pattern histogram, no bounding box) whose fixed point must match to 1e-9.

#include "core/Error.h"
#include "core/metrics/MajorityVote.h"
#include "core/metrics/Staple.h"

#include <QtTest>

#include <cmath>
#include <functional>

using namespace panseg;

namespace
{
LabelMask emptyMask(int64_t nx, int64_t ny, int64_t nz)
{
  Geometry g;
  g.size = {nx, ny, nz};
  g.spacingMm = {0.8, 0.8, 2.0};
  return LabelMask(g, 0);
}

void fillBox(LabelMask& m, int64_t x0, int64_t x1, int64_t y0, int64_t y1, int64_t z0, int64_t z1,
             uint8_t value = 1)
{
  for (int64_t z = z0; z < z1; ++z)
    for (int64_t y = y0; y < y1; ++y)
      for (int64_t x = x0; x < x1; ++x)
        m.at(x, y, z) = value;
}

void clearBox(LabelMask& m, int64_t x0, int64_t x1, int64_t y0, int64_t y1, int64_t z0, int64_t z1)
{
  fillBox(m, x0, x1, y0, y1, z0, z1, 0);
}

/// Independent binary STAPLE: plain loops over every voxel of [b, e), one rater at a time.
struct Dense
{
  std::vector<double> p, q, w; // w per voxel of the box, x fastest
  int iterations = 0;
  bool converged = false;
  double f = 0;
};

Dense denseStaple(const std::vector<const LabelMask*>& masks, std::array<int64_t, 3> b,
                  std::array<int64_t, 3> e, double tolerance, int maxIterations, int label = 0)
{
  std::vector<std::vector<int>> d(masks.size());
  for (size_t j = 0; j < masks.size(); ++j)
    for (int64_t z = b[2]; z < e[2]; ++z)
      for (int64_t y = b[1]; y < e[1]; ++y)
        for (int64_t x = b[0]; x < e[0]; ++x)
        {
          const uint8_t v = masks[j]->at(x, y, z);
          d[j].push_back(label > 0 ? v == label : v != 0);
        }
  const size_t n = d[0].size(), r = masks.size();
  Dense out;
  double marks = 0;
  for (size_t j = 0; j < r; ++j)
    for (size_t i = 0; i < n; ++i)
      marks += d[j][i];
  out.f = marks / double(r * n);
  out.p.assign(r, 0.99);
  out.q.assign(r, 0.99);
  out.w.assign(n, 0);
  auto eStep = [&]
  {
    for (size_t i = 0; i < n; ++i)
    {
      double a = out.f, c = 1 - out.f;
      for (size_t j = 0; j < r; ++j)
      {
        a *= d[j][i] ? out.p[j] : 1 - out.p[j];
        c *= d[j][i] ? 1 - out.q[j] : out.q[j];
      }
      out.w[i] = a / (a + c);
    }
  };
  for (int it = 0; it < maxIterations; ++it)
  {
    eStep();
    double change = 0;
    for (size_t j = 0; j < r; ++j)
    {
      double pn = 0, pd = 0, qn = 0, qd = 0;
      for (size_t i = 0; i < n; ++i)
      {
        pn += out.w[i] * d[j][i];
        pd += out.w[i];
        qn += (1 - out.w[i]) * (1 - d[j][i]);
        qd += 1 - out.w[i];
      }
      change = std::max({change, std::abs(pn / pd - out.p[j]), std::abs(qn / qd - out.q[j])});
      out.p[j] = pn / pd;
      out.q[j] = qn / qd;
    }
    out.iterations = it + 1;
    if (change <= tolerance)
    {
      out.converged = true;
      break;
    }
  }
  eStep();
  return out;
}

std::string errorOf(const std::function<void()>& fn)
{
  try
  {
    fn();
  }
  catch (const Error& e)
  {
    return e.what();
  }
  return {};
}

/// The three-rater toy of handComputedFirstIteration: 6 voxels in a row.
std::vector<LabelMask> toyRaters()
{
  const int rows[3][6] = {{1, 1, 1, 0, 0, 0}, {1, 1, 0, 1, 0, 0}, {1, 0, 1, 0, 0, 0}};
  std::vector<LabelMask> m(3, emptyMask(6, 1, 1));
  for (int j = 0; j < 3; ++j)
    for (int x = 0; x < 6; ++x)
      m[size_t(j)].at(x, 0, 0) = uint8_t(rows[j][x]);
  return m;
}
} // namespace

class TestStaple : public QObject
{
  Q_OBJECT

private slots:
  void identicalRatersGiveTheMaskAndPerfectScores()
  {
    LabelMask m = emptyMask(30, 28, 12);
    fillBox(m, 8, 20, 5, 17, 3, 9);
    m.at(25, 25, 11) = 1; // a second component near the grid edge
    for (StapleRegion region : {StapleRegion::UnionBoundingBox, StapleRegion::WholeGrid})
    {
      StapleOptions o;
      o.region = region;
      const StapleResult r = staple({&m, &m, &m}, o);
      QVERIFY(r.converged);
      QCOMPARE(r.consensus.voxels, m.voxels);
      for (size_t j = 0; j < 3; ++j)
      {
        QVERIFY(std::abs(r.sensitivity[j] - 1.0) < 1e-9);
        QVERIFY(std::abs(r.specificity[j] - 1.0) < 1e-9);
      }
    }
  }

  void badRaterRankedLowest()
  {
    LabelMask truth = emptyMask(40, 40, 20);
    fillBox(truth, 10, 30, 10, 30, 5, 15);
    LabelMask good2 = truth;
    clearBox(good2, 10, 30, 10, 12, 5, 15); // misses a thin strip
    LabelMask bad = truth;
    fillBox(bad, 0, 40, 0, 40, 16, 19); // adds a large false-positive slab
    const StapleResult r = staple({&truth, &good2, &bad});
    QVERIFY(r.converged);
    QCOMPARE(r.consensus.voxels, truth.voxels);
    QVERIFY(r.specificity[2] < r.specificity[0]);
    QVERIFY(r.specificity[2] < r.specificity[1]);
    QVERIFY(r.specificity[2] < 0.95);
    QVERIFY(r.specificity[0] > 1 - 1e-6); // within the default tolerance's reach of 1
    QVERIFY(r.sensitivity[0] > 1 - 1e-6);
    QVERIFY(std::abs(r.sensitivity[1] - 0.9) < 1e-6); // misses 2 of 20 rows
  }

  void stapleKeepsWhatTheReliableRatersAgreeOnWhereMajorityVoteDrops()
  {
    // Two careful raters mark `truth`; two sloppy ones both miss the strip M of it and each adds
    // a false-positive slab. M has 2 votes of 4: majority vote (more than half) drops it, STAPLE
    // keeps it because the raters who mark it never mark background.
    LabelMask truth = emptyMask(40, 40, 20);
    fillBox(truth, 10, 30, 10, 30, 5, 15);
    LabelMask sloppy3 = truth, sloppy4 = truth;
    clearBox(sloppy3, 10, 15, 10, 30, 5, 15);
    clearBox(sloppy4, 10, 15, 10, 30, 5, 15);
    fillBox(sloppy3, 0, 40, 0, 40, 16, 18);
    fillBox(sloppy4, 0, 40, 0, 40, 0, 4);
    const std::vector<const LabelMask*> raters{&truth, &truth, &sloppy3, &sloppy4};

    MajorityVote vote;
    for (const LabelMask* m : raters)
      QVERIFY(vote.add(*m));
    QCOMPARE(vote.raters(), 4);
    const LabelMask majority = vote.consensus(1);
    QVERIFY(majority.voxels != truth.voxels);
    QCOMPARE(majority.countLabel(0), truth.countLabel(0) - 5 * 20 * 10);

    const StapleResult r = staple(raters);
    QVERIFY(r.converged);
    QCOMPARE(r.consensus.voxels, truth.voxels);
    QVERIFY(std::abs(r.sensitivity[2] - 0.75) < 1e-6);
    QVERIFY(std::abs(r.sensitivity[3] - 0.75) < 1e-6);
    QVERIFY(r.specificity[3] < r.specificity[2]);
    QVERIFY(r.specificity[2] < r.specificity[0]);
  }

  void handComputedFirstIteration()
  {
    // Raters over 6 voxels:  r1 = 111000, r2 = 110100, r3 = 101000. f = 8/18.
    const std::vector<LabelMask> m = toyRaters();
    StapleOptions o;
    o.maxIterations = 1;
    const StapleResult r = staple({&m[0], &m[1], &m[2]}, o);
    QCOMPARE(r.iterations, 1);
    QCOMPARE(r.regionVoxels, int64_t(6));
    const double f = 8.0 / 18.0, h = 0.99, l = 0.01;
    QVERIFY(std::abs(r.prior - f) < 1e-15);
    // E-step from p = q = 0.99 by pattern.
    const double w111 = f * h * h * h / (f * h * h * h + (1 - f) * l * l * l);
    const double w110 = f * h / (f * h + (1 - f) * l); // two marks, one miss (also 101)
    const double w010 = f * l / (f * l + (1 - f) * h); // one mark
    const double w000 = f * l * l * l / (f * l * l * l + (1 - f) * h * h * h);
    const double sumW = w111 + 2 * w110 + w010 + 2 * w000;
    const double sumN = 6 - sumW;
    // r1 marks voxels 0,1,2; r2 marks 0,1,3; r3 marks 0,2.
    const double p1 = (w111 + 2 * w110) / sumW, q1 = ((1 - w010) + 2 * (1 - w000)) / sumN;
    const double p2 = (w111 + w110 + w010) / sumW, q2 = ((1 - w110) + 2 * (1 - w000)) / sumN;
    const double p3 = (w111 + w110) / sumW, q3 = ((1 - w110) + (1 - w010) + 2 * (1 - w000)) / sumN;
    const double expectP[3] = {p1, p2, p3}, expectQ[3] = {q1, q2, q3};
    for (int j = 0; j < 3; ++j)
    {
      QVERIFY2(std::abs(r.sensitivity[size_t(j)] - expectP[j]) < 1e-12,
               qPrintable(QString::number(j)));
      QVERIFY2(std::abs(r.specificity[size_t(j)] - expectQ[j]) < 1e-12,
               qPrintable(QString::number(j)));
    }
  }

  void fixedPointMatchesDenseImplementation()
  {
    const std::vector<LabelMask> m = toyRaters();
    const std::vector<const LabelMask*> raters{&m[0], &m[1], &m[2]};
    StapleOptions o;
    o.tolerance = 1e-13;
    o.maxIterations = 100000;
    o.keepProbability = true;
    const StapleResult r = staple(raters, o);
    const Dense d = denseStaple(raters, {0, 0, 0}, {6, 1, 1}, 1e-13, 100000);
    QVERIFY(r.converged);
    QVERIFY(d.converged);
    QVERIFY(std::abs(r.iterations - d.iterations) <= 1); // summation order may matter at 1e-13
    for (size_t j = 0; j < 3; ++j)
    {
      QVERIFY(std::abs(r.sensitivity[j] - d.p[j]) < 1e-9);
      QVERIFY(std::abs(r.specificity[j] - d.q[j]) < 1e-9);
    }
    for (size_t i = 0; i < 6; ++i)
    {
      QVERIFY(std::abs(r.probability[i] - d.w[i]) < 1e-6); // stored as float
      QCOMPARE(r.consensus.voxels[i] != 0, d.w[i] >= 0.5);
    }
    // A fixed point: one more EM step from the result changes nothing.
    std::vector<double> w(6);
    double sumW = 0;
    for (size_t i = 0; i < 6; ++i)
    {
      double a = r.prior, c = 1 - r.prior;
      for (size_t j = 0; j < 3; ++j)
      {
        const bool mark = m[j].voxels[i] != 0;
        a *= mark ? r.sensitivity[j] : 1 - r.sensitivity[j];
        c *= mark ? 1 - r.specificity[j] : r.specificity[j];
      }
      w[i] = a / (a + c);
      sumW += w[i];
    }
    for (size_t j = 0; j < 3; ++j)
    {
      double pn = 0, qn = 0;
      for (size_t i = 0; i < 6; ++i)
      {
        pn += w[i] * (m[j].voxels[i] != 0);
        qn += (1 - w[i]) * (m[j].voxels[i] == 0);
      }
      QVERIFY(std::abs(pn / sumW - r.sensitivity[j]) < 1e-9);
      QVERIFY(std::abs(qn / (6 - sumW) - r.specificity[j]) < 1e-9);
    }
  }

  void boundingBoxRegionMatchesDenseOnThatBox()
  {
    // Noisy raters on a 48^3 grid with the object near one corner: the region is the union's
    // bounding box grown by 5 voxels and clipped to the grid; the dense implementation on exactly
    // that box must give the same estimates, and outside it the consensus is background.
    LabelMask a = emptyMask(48, 48, 48), b = a, c = a;
    fillBox(a, 2, 12, 3, 14, 1, 9, 2);
    fillBox(b, 3, 13, 3, 12, 2, 9, 2);
    fillBox(c, 1, 12, 4, 15, 1, 10, 2);
    fillBox(c, 14, 16, 4, 6, 1, 3, 2);
    a.at(40, 40, 40) = 1; // another label: ignored with label = 2
    uint32_t seed = 7;
    for (LabelMask* m : {&a, &b, &c})
      for (int k = 0; k < 60; ++k)
      {
        seed = seed * 1103515245u + 12345u;
        const int64_t x = 1 + (seed >> 8) % 15, y = 3 + (seed >> 16) % 12, z = 1 + (seed >> 4) % 9;
        m->at(x, y, z) = m->at(x, y, z) ? 0 : 2;
      }
    const std::vector<const LabelMask*> raters{&a, &b, &c};
    StapleOptions o;
    o.label = 2;
    o.tolerance = 1e-12;
    o.maxIterations = 10000;
    const StapleResult r = staple(raters, o);
    QCOMPARE(r.regionBegin[0], int64_t(0));
    QCOMPARE(r.regionBegin[2], int64_t(0));
    QVERIFY(r.regionEnd[0] < 48 && r.regionEnd[1] < 48 && r.regionEnd[2] < 48);
    const Dense d = denseStaple(raters, r.regionBegin, r.regionEnd, 1e-12, 10000, 2);
    QVERIFY(r.converged && d.converged);
    QVERIFY(std::abs(r.prior - d.f) < 1e-12);
    for (size_t j = 0; j < 3; ++j)
    {
      QVERIFY(std::abs(r.sensitivity[j] - d.p[j]) < 1e-9);
      QVERIFY(std::abs(r.specificity[j] - d.q[j]) < 1e-9);
    }
    size_t i = 0;
    int64_t inside = 0;
    for (int64_t z = r.regionBegin[2]; z < r.regionEnd[2]; ++z)
      for (int64_t y = r.regionBegin[1]; y < r.regionEnd[1]; ++y)
        for (int64_t x = r.regionBegin[0]; x < r.regionEnd[0]; ++x, ++i)
        {
          QCOMPARE(r.consensus.at(x, y, z) != 0, d.w[i] >= 0.5);
          inside += r.consensus.at(x, y, z) != 0;
        }
    QCOMPARE(r.consensus.countLabel(0), inside);
    QVERIFY(inside > 500);

    // The whole grid counts more agreed background: higher specificity, lower prior.
    o.region = StapleRegion::WholeGrid;
    const StapleResult whole = staple(raters, o);
    QCOMPARE(whole.regionVoxels, int64_t(48 * 48 * 48));
    QVERIFY(whole.prior < r.prior);
    for (size_t j = 0; j < 3; ++j)
      QVERIFY(whole.specificity[j] > r.specificity[j]);
  }

  void emptyRatersGiveAnEmptyConsensus()
  {
    const LabelMask m = emptyMask(5, 5, 5);
    const StapleResult r = staple({&m, &m});
    QVERIFY(r.converged);
    QCOMPARE(r.consensus.countLabel(0), int64_t(0));
    QCOMPARE(r.sensitivity, std::vector<double>({1.0, 1.0}));
  }

  void majorityVoteCountsMoreThanHalf()
  {
    // Three raters, label 2 votes: voxel a has 3 votes, b 2, c 1; label 1 never votes.
    LabelMask r1 = emptyMask(4, 1, 1), r2 = r1, r3 = r1;
    r1.voxels = { 2, 2, 2, 1 };
    r2.voxels = { 2, 2, 0, 1 };
    r3.voxels = { 2, 0, 0, 1 };
    MajorityVote vote(2);
    QCOMPARE(vote.consensus().voxels.size(), size_t(0)); // nothing added yet
    for (const LabelMask* m : { &r1, &r2, &r3 })
      QVERIFY(vote.add(*m));
    QCOMPARE(vote.consensus(7).voxels, (std::vector<uint8_t>{ 7, 7, 0, 0 }));
    // Any non-zero label votes with label 0; a tie (2 of 4) is not a majority.
    MajorityVote any;
    for (const LabelMask* m : { &r1, &r2, &r3, &r3 })
      QVERIFY(any.add(*m));
    QCOMPARE(any.consensus().voxels, (std::vector<uint8_t>{ 1, 0, 0, 1 }));
    // A mask on another grid is refused with the reason and does not vote.
    LabelMask shifted = r1;
    shifted.geometry.originMm[0] += 5.0;
    std::string why;
    QVERIFY(!vote.add(shifted, &why));
    QVERIFY2(!why.empty(), "no reason given");
    QCOMPARE(vote.raters(), 3);
  }

  void clearErrors()
  {
    const LabelMask a = emptyMask(10, 10, 4);
    QVERIFY(errorOf([&] { staple({&a}); }).find("at least 2 masks (got 1)") != std::string::npos);
    LabelMask shifted = a;
    shifted.geometry.originMm[0] = 5.0;
    const LabelMask smaller = emptyMask(10, 10, 3);
    const std::string why = errorOf([&] { staple({&a, &a, &shifted, &smaller}); });
    QVERIFY2(why.find("mask 3 is not on the grid of mask 1") != std::string::npos, why.c_str());
    QVERIFY2(errorOf(
                 [&] {
                   staple({&a, &smaller});
                 }).find("mask 2") != std::string::npos,
             why.c_str());
    StapleOptions o;
    o.prior = 1.0;
    QVERIFY(errorOf([&] { staple({&a, &a}, o); }).find("prior") != std::string::npos);
  }
};

QTEST_GUILESS_MAIN(TestStaple)
#include "tst_staple.moc"
