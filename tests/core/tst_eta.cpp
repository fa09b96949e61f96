// core/Eta: the remaining-time estimate shown during prediction, on synthetic timelines (a
// constant rate, a slow first window, jitter, a sustained slow-down, batched progress): it counts
// down, converges to the true remaining time and never jumps up and down (no 5 -> 7 -> 4 min).
#include "core/Eta.h"

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace
{
struct Sample
{
  double t = 0, shown = -1, truth = 0, done = 0;
};

/// Runs `costs` (seconds per unit, one report per `perReport` units, as a batched network call)
/// through an estimator; `truth` is the remaining time actually left after each report.
std::vector<Sample> run(const std::vector<double>& costs, int perReport = 1,
                        const panseg::EtaEstimator::Options& o = {}, panseg::EtaEstimator* out = nullptr)
{
  panseg::EtaEstimator eta(o);
  const double total = static_cast<double>(costs.size());
  double sum = 0;
  for (double c : costs)
    sum += c;
  std::vector<Sample> s;
  double t = 0;
  eta.update(0.0, 0.0, total);
  for (std::size_t i = 0; i < costs.size();)
  {
    for (int k = 0; k < perReport && i < costs.size(); ++k, ++i)
      t += costs[i];
    Sample x;
    x.t = t;
    x.done = static_cast<double>(i);
    x.shown = eta.update(t, x.done, total);
    x.truth = sum - t;
    s.push_back(x);
  }
  if (out)
    *out = eta;
  return s;
}

/// Largest rise of the shown estimate between consecutive updates (0 when it never rises).
double largestRise(const std::vector<Sample>& s)
{
  double r = 0;
  for (std::size_t i = 1; i < s.size(); ++i)
    if (s[i - 1].shown >= 0)
      r = std::max(r, s[i].shown - s[i - 1].shown);
  return r;
}

/// A rise followed by a fall below the level before the rise (5 -> 7 -> 4 min): the pattern a
/// user sees as the estimate jumping around. Compared as predicted finishing times (elapsed +
/// shown), so that the clock counting the estimate down is not a fall. Counts such reversals.
int upThenDown(const std::vector<Sample>& s)
{
  int n = 0;
  for (std::size_t i = 1; i + 1 < s.size(); ++i)
    if (s[i - 1].shown >= 0 && s[i].shown > s[i - 1].shown + 1e-9)
      for (std::size_t j = i + 1; j < s.size(); ++j)
        if (s[j].t + s[j].shown < s[i - 1].t + s[i - 1].shown - 1.0)
        {
          ++n;
          break;
        }
  return n;
}

/// The first shown value (after the estimator's warm-up reports).
const Sample& firstShown(const std::vector<Sample>& s)
{
  for (const Sample& x : s)
    if (x.shown >= 0)
      return x;
  return s.back();
}

double relError(const Sample& x)
{
  return std::abs(x.shown - x.truth) / std::max(1.0, x.truth);
}
} // namespace

class TstEta : public QObject
{
  Q_OBJECT
private slots:
  void unknownUntilThreeReports()
  {
    panseg::EtaEstimator eta;
    QCOMPARE(eta.update(0.0, 0.0, 100.0), -1.0);
    QCOMPARE(eta.update(5.0, 0.0, 100.0), -1.0);
    QCOMPARE(eta.update(6.0, 1.0, 100.0), -1.0); // the warm-up report
    QCOMPARE(eta.update(7.0, 2.0, 100.0), -1.0);
    QVERIFY(eta.update(8.0, 3.0, 100.0) > 0);
    QCOMPARE(eta.update(9.0, 100.0, 100.0), 0.0);
  }

  void constantRateNeverRisesAndConverges()
  {
    const std::vector<Sample> s = run(std::vector<double>(480, 0.5));
    QCOMPARE(largestRise(s), 0.0);
    for (const Sample& x : s)
    {
      if (x.shown < 0)
        continue;
      QVERIFY2(x.shown >= x.truth - 1e-6, qPrintable(QString("t %1: shown %2 below truth %3").arg(x.t).arg(x.shown).arg(x.truth)));
      if (x.done >= 96)
        QVERIFY2(relError(x) < 0.02, qPrintable(QString("t %1: shown %2, truth %3").arg(x.t).arg(x.shown).arg(x.truth)));
    }
    QCOMPARE(s.back().shown, 0.0);
  }

  void slowFirstWindowOnlyFalls()
  {
    std::vector<double> costs(480, 0.5);
    for (int i = 0; i < 8; ++i)
      costs[static_cast<std::size_t>(i)] = 2.0; // the first window (8 mirrors) 4x slower: warm-up
    const std::vector<Sample> s = run(costs, 8);
    QCOMPARE(largestRise(s), 0.0);
    QCOMPARE(upThenDown(s), 0);
    // Pessimistic at first, then within 5 % after a fifth of the work.
    QVERIFY(firstShown(s).shown > firstShown(s).truth);
    for (const Sample& x : s)
      if (x.done >= 96)
        QVERIFY2(relError(x) < 0.05, qPrintable(QString("done %1: shown %2, truth %3").arg(x.done).arg(x.shown).arg(x.truth)));
  }

  void jitterNeverRises()
  {
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> u(0.35, 0.65); // +-30 % per forward pass
    for (int perReport : { 1, 8 })
    {
      std::vector<double> costs(480);
      for (double& c : costs)
        c = u(rng);
      const std::vector<Sample> s = run(costs, perReport);
      QCOMPARE(largestRise(s), 0.0);
      QCOMPARE(upThenDown(s), 0);
      for (const Sample& x : s)
        if (x.done >= 120 && x.truth > 20)
          QVERIFY2(relError(x) < 0.15, qPrintable(QString("batch %1, done %2: shown %3, truth %4")
                                                     .arg(perReport).arg(x.done).arg(x.shown).arg(x.truth)));
    }
  }

  void heavyJitterHasNoSawtooth()
  {
    // Calls alternate fast and slow (another program's bursts): still no up-and-down.
    std::mt19937 rng(11);
    std::uniform_real_distribution<double> u(0.1, 1.5);
    std::vector<double> costs(600);
    for (double& c : costs)
      c = u(rng);
    panseg::EtaEstimator eta;
    const std::vector<Sample> s = run(costs, 4, {}, &eta);
    QCOMPARE(upThenDown(s), 0);
    QVERIFY2(eta.rises() <= 1, qPrintable(QString::number(eta.rises())));
  }

  void sustainedSlowDownRisesOnlyAsMuchAsItMust()
  {
    // Half-way, another program takes a core: every pass then costs twice as much, for good.
    std::vector<double> costs(480, 0.5);
    for (std::size_t i = 240; i < costs.size(); ++i)
      costs[i] = 1.0;
    panseg::EtaEstimator eta;
    const std::vector<Sample> s = run(costs, 1, {}, &eta);
    QVERIFY2(eta.rises() >= 1 && eta.rises() <= 4, qPrintable(QString::number(eta.rises())));
    QCOMPARE(upThenDown(s), 0);
    // Each rise lands at or below the true remaining time (never overshoots it by more than 10 %).
    for (std::size_t i = 1; i < s.size(); ++i)
      if (s[i].shown > s[i - 1].shown)
        QVERIFY2(s[i].shown <= 1.10 * s[i].truth, qPrintable(QString("rise to %1, truth %2").arg(s[i].shown).arg(s[i].truth)));
    // Converged again well before the end.
    for (const Sample& x : s)
      if (x.done >= 360 && x.truth > 20)
        QVERIFY2(relError(x) < 0.10, qPrintable(QString("done %1: shown %2, truth %3").arg(x.done).arg(x.shown).arg(x.truth)));
  }

  void speedUpFallsSmoothly()
  {
    std::vector<double> costs(480, 1.0);
    for (std::size_t i = 100; i < costs.size(); ++i)
      costs[i] = 0.5;
    const std::vector<Sample> s = run(costs, 2);
    QCOMPARE(largestRise(s), 0.0);
    for (const Sample& x : s)
      if (x.done >= 250 && x.truth > 20)
        QVERIFY(relError(x) < 0.05);
  }

  void updatesWithoutProgressCountDown()
  {
    panseg::EtaEstimator eta;
    eta.update(0.0, 0.0, 10.0);
    eta.update(10.0, 1.0, 10.0);
    eta.update(20.0, 2.0, 10.0);
    eta.update(30.0, 3.0, 10.0); // 10 s per unit: 70 s left, shown 20 % pessimistic
    QVERIFY(std::abs(eta.raw() - 70.0) < 1e-9);
    QVERIFY(std::abs(eta.shown() - 84.0) < 1e-9);
    const double later = eta.update(35.0, 3.0, 10.0); // no unit finished, 5 s later
    QVERIFY(later < 84.0);
    QVERIFY(later >= 65.0);
  }
};

QTEST_GUILESS_MAIN(TstEta)
#include "tst_eta.moc"
