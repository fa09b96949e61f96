// Statistics (core/stats) against published worked examples. Each expected number names its
// source; where a source prints rounded values the tolerance is half a unit of the last digit.

#include "core/Error.h"
#include "core/stats/Comparison.h"
#include "core/stats/Descriptive.h"
#include "core/stats/Reliability.h"

#include <QtTest>

#include <cmath>
#include <random>

using namespace panseg;
using namespace panseg::stats;

namespace
{
bool near(double a, double b, double tol)
{
  return std::abs(a - b) <= tol;
}

#define VERIFY_NEAR(actual, expected, tol)                                                         \
  QVERIFY2(near((actual), (expected), (tol)), qPrintable(QString("%1 = %2, expected %3 ± %4")      \
                                                             .arg(#actual)                         \
                                                             .arg((actual), 0, 'g', 10)            \
                                                             .arg((expected), 0, 'g', 10)          \
                                                             .arg((tol))))

// Student (1908) / Cushny & Peebles sleep data, R's `sleep` data set: extra hours of sleep with
// drug 1 and drug 2 in the same 10 patients.
const std::vector<double> kSleepDrug1{0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
const std::vector<double> kSleepDrug2{1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};

// Shrout & Fleiss (1979), Psychological Bulletin 86:420, Table 2: 6 targets rated by 4 judges.
const std::vector<std::vector<double>> kShroutFleiss{
    {9, 2, 5, 8}, {6, 1, 3, 2}, {8, 4, 6, 8}, {7, 1, 2, 6}, {10, 5, 6, 9}, {6, 2, 4, 7},
};
} // namespace

class TestStats : public QObject
{
  Q_OBJECT

private slots:
  void summaryOfOneToTen();
  void summaryRejectsBadInput();
  void bootstrapIsSeededAndSensible();
  void pairedTTestSleepData();
  void wilcoxonExactHollanderWolfe();
  void wilcoxonNormalApproximationWithTies();
  void wilcoxonExactAndNormalAgreeForLargerSamples();
  void pearsonAnscombe();
  void blandAltmanPeakFlow();
  void iccShroutFleiss();
  void iccIntervalsCoverTrueValue();
  void iccRejectsRaggedTable();
  void cohenKappaWorkedExample();
  void cohenKappaDegenerate();
  void fleissKappaWorkedExample();
  void meanTIntervalByHand();
  void cohenKappaStandardErrorByHand();
  void fleissKappaBootstrapInterval();
};

void TestStats::summaryOfOneToTen()
{
  // 1..10: mean 5.5, SD sqrt(55/6) = 3.0276503540974917; R quantile(1:10, c(.25,.5,.75)) (type 7)
  // = 3.25, 5.5, 7.75.
  std::vector<double> v;
  for (int i = 10; i >= 1; --i)
    v.push_back(i);
  const Summary s = summarize(v);
  QCOMPARE(s.n, size_t(10));
  VERIFY_NEAR(s.mean, 5.5, 1e-15);
  VERIFY_NEAR(s.sd, std::sqrt(55.0 / 6.0), 1e-14);
  VERIFY_NEAR(s.median, 5.5, 1e-15);
  VERIFY_NEAR(s.q1, 3.25, 1e-15);
  VERIFY_NEAR(s.q3, 7.75, 1e-15);
  VERIFY_NEAR(s.iqr, 4.5, 1e-15);
  QCOMPARE(s.min, 1.0);
  QCOMPARE(s.max, 10.0);
  VERIFY_NEAR(quantile(v, 0.95), 9.55, 1e-12); // numpy.percentile(range(1, 11), 95)
  QVERIFY(std::isnan(summarize({4.0}).sd));
}

void TestStats::summaryRejectsBadInput()
{
  QVERIFY_THROWS_EXCEPTION(Error, summarize({}));
  QVERIFY_THROWS_EXCEPTION(Error, summarize({1.0, std::nan("")}));
  QVERIFY_THROWS_EXCEPTION(Error, summarize({1.0, INFINITY}));
  QVERIFY_THROWS_EXCEPTION(Error, quantile({1.0, 2.0}, 1.5));
  QVERIFY_THROWS_EXCEPTION(Error, pairedTTest({1, 2, 3}, {1, 2}));
}

void TestStats::bootstrapIsSeededAndSensible()
{
  std::mt19937 rng(11);
  std::normal_distribution<double> dist(10.0, 2.0);
  std::vector<double> v(200);
  for (double& x : v)
    x = dist(rng);
  BootstrapOptions o;
  const BootstrapInterval a = bootstrapMeanCi(v, o), b = bootstrapMeanCi(v, o);
  QCOMPARE(a.lower, b.lower); // same seed, same interval
  QCOMPARE(a.upper, b.upper);
  o.seed = 99;
  const BootstrapInterval c = bootstrapMeanCi(v, o);
  QVERIFY(c.lower != a.lower || c.upper != a.upper);
  // The percentile bootstrap of a mean agrees with the t interval to within a few percent of its
  // width for n = 200.
  const double m = mean(v), se = standardDeviation(v) / std::sqrt(200.0);
  QVERIFY(a.lower < a.estimate && a.estimate < a.upper);
  VERIFY_NEAR(a.estimate, m, 1e-12);
  VERIFY_NEAR(a.lower, m - 1.972 * se, 0.1 * se * 1.972);
  VERIFY_NEAR(a.upper, m + 1.972 * se, 0.1 * se * 1.972);
  // Any statistic: the median.
  const BootstrapInterval med = bootstrapCi(
      v, [](const std::vector<double>& s) { return quantile(s, 0.5); }, o);
  QVERIFY(med.lower <= med.estimate && med.estimate <= med.upper);
}

void TestStats::pairedTTestSleepData()
{
  // R: t.test(sleep$extra[1:10], sleep$extra[11:20], paired = TRUE)
  //   t = -4.0621, df = 9, p-value = 0.002833,
  //   95 percent confidence interval: -2.4598858 -0.7001142, mean difference -1.58.
  const PairedTTestResult r = pairedTTest(kSleepDrug1, kSleepDrug2);
  QCOMPARE(r.n, size_t(10));
  VERIFY_NEAR(r.meanDifference, -1.58, 1e-12);
  VERIFY_NEAR(r.t, -4.0621, 0.00005);
  QCOMPARE(r.df, 9.0);
  VERIFY_NEAR(r.pValue, 0.002833, 0.0000005);
  VERIFY_NEAR(r.ciLower, -2.4598858, 0.00000005);
  VERIFY_NEAR(r.ciUpper, -0.7001142, 0.00000005);
}

void TestStats::wilcoxonExactHollanderWolfe()
{
  // Hollander & Wolfe (1973), p. 29: depression scale before (x) and after (y) therapy, the
  // example in R's ?wilcox.test. R: wilcox.test(x, y, paired = TRUE, alternative = "greater")
  // gives V = 40, p-value = 0.01953 (= 10/512); the two-sided p is twice that, 20/512.
  const std::vector<double> x{1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30};
  const std::vector<double> y{0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29};
  const WilcoxonResult r = wilcoxonSignedRank(x, y);
  QVERIFY(r.exact);
  QCOMPARE(r.n, size_t(9));
  QCOMPARE(r.wPlus, 40.0);
  QCOMPARE(r.wMinus, 5.0);
  VERIFY_NEAR(r.pValue, 20.0 / 512.0, 1e-15);
  // Symmetry: swapping the samples swaps W+ and W-, not the p-value.
  const WilcoxonResult s = wilcoxonSignedRank(y, x);
  QCOMPARE(s.wPlus, 5.0);
  VERIFY_NEAR(s.pValue, r.pValue, 1e-15);
}

void TestStats::wilcoxonNormalApproximationWithTies()
{
  // Differences 1, 2, 2, 3, -1 and one zero (dropped). Hand computation with R's method
  // (wilcox.test(d), correct = TRUE): ranks of |d| 1.5, 3.5, 3.5, 5, 1.5 -> V = 13.5;
  // mean 7.5; variance 5*6*11/24 - (6 + 6)/48 = 13.5; z = (13.5 - 7.5 - 0.5)/sqrt(13.5)
  // = 1.496910; p = 2 (1 - Phi(z)) = erfc(z / sqrt 2) = 0.1344166 (R prints 0.1344).
  const std::vector<double> a{1, 2, 2, 3, -1, 0};
  const std::vector<double> zero(6, 0.0);
  const WilcoxonResult r = wilcoxonSignedRank(a, zero);
  QVERIFY(!r.exact);
  QCOMPARE(r.n, size_t(5));
  QCOMPARE(r.zeros, size_t(1));
  QCOMPARE(r.wPlus, 13.5);
  QCOMPARE(r.wMinus, 1.5);
  VERIFY_NEAR(r.z, 5.5 / std::sqrt(13.5), 1e-12);
  VERIFY_NEAR(r.pValue, 0.1344166, 0.00000005);
  QCOMPARE(wilcoxonSignedRank({1, 2}, {1, 2}).pValue, 1.0);
}

void TestStats::wilcoxonExactAndNormalAgreeForLargerSamples()
{
  // For n = 45 without ties the exact and the (continuity-corrected) normal p-values differ by
  // well under 0.01; forcing a zero difference switches to the approximation.
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(-1.0, 1.3);
  std::vector<double> a(46), b(46, 0.0);
  for (double& x : a)
    x = u(rng);
  a.back() = 0.0; // the zero: approximation, with the same 45 non-zero differences
  const WilcoxonResult approx = wilcoxonSignedRank(a, b);
  a.pop_back();
  b.pop_back();
  const WilcoxonResult exact = wilcoxonSignedRank(a, b);
  QVERIFY(exact.exact && !approx.exact);
  QCOMPARE(exact.wPlus, approx.wPlus);
  VERIFY_NEAR(exact.pValue, approx.pValue, 0.01);
}

void TestStats::pearsonAnscombe()
{
  // Anscombe (1973) quartet, data set I: r = 0.816, R^2 = 0.67 (published). R:
  // cor.test(anscombe$x1, anscombe$y1): t = 4.2415, df = 9, p-value = 0.00217,
  // 95 percent CI 0.4243912 0.9506933.
  const std::vector<double> x{10, 8, 13, 9, 11, 14, 6, 4, 12, 7, 5};
  const std::vector<double> y{8.04, 6.95, 7.58, 8.81, 8.33, 9.96, 7.24, 4.26, 10.84, 4.82, 5.68};
  const PearsonResult r = pearson(x, y);
  VERIFY_NEAR(r.r, 0.816, 0.0005);
  VERIFY_NEAR(r.rSquared, 0.67, 0.005);
  VERIFY_NEAR(r.t, 4.2415, 0.00005);
  VERIFY_NEAR(r.pValue, 0.00217, 0.000005);
  VERIFY_NEAR(r.ciLower, 0.4243912, 0.0000005);
  VERIFY_NEAR(r.ciUpper, 0.9506933, 0.0000005);
  QVERIFY_THROWS_EXCEPTION(Error, pearson({1, 1, 1}, {1, 2, 3}));
}

void TestStats::blandAltmanPeakFlow()
{
  // Bland & Altman (1986), Lancet i:307, Table 1: peak expiratory flow (l/min) of 17 subjects,
  // first Wright meter reading vs first mini Wright reading. Published: mean difference -2.1,
  // SD 38.8, limits of agreement (mean ± 2 SD) -79.7 to 75.5.
  const std::vector<double> wright{494, 395, 516, 434, 476, 557, 413, 442, 650,
                                   433, 417, 656, 267, 478, 178, 423, 427};
  const std::vector<double> mini{512, 430, 520, 428, 500, 600, 364, 380, 658,
                                 445, 432, 626, 260, 477, 259, 350, 451};
  const BlandAltmanResult r = blandAltman(wright, mini, 2.0);
  QCOMPARE(r.n, size_t(17));
  VERIFY_NEAR(r.bias, -2.1, 0.05);
  VERIFY_NEAR(r.sdDifference, 38.8, 0.05);
  // The paper computed the limits from the rounded -2.1 and 38.8; ours use the unrounded values.
  VERIFY_NEAR(r.lowerLimit, -79.7, 0.1);
  VERIFY_NEAR(r.upperLimit, 75.5, 0.1);
  VERIFY_NEAR(r.lowerLimit, r.bias - 2 * r.sdDifference, 1e-12);
  QVERIFY(r.biasCiLower < r.bias && r.bias < r.biasCiUpper);
  const BlandAltmanResult r196 = blandAltman(wright, mini);
  VERIFY_NEAR(r196.upperLimit - r196.lowerLimit, 2 * 1.96 * r.sdDifference, 1e-9);
}

void TestStats::iccShroutFleiss()
{
  // Shrout & Fleiss (1979): ANOVA of Table 2 -> BMS 11.24, JMS 32.49, EMS 1.02, WMS 6.26;
  // Table 4: ICC(1,1) = .17, ICC(2,1) = .29, ICC(3,1) = .71.
  const IccResult r = intraclassCorrelation(kShroutFleiss);
  QCOMPARE(r.targets, size_t(6));
  QCOMPARE(r.raters, size_t(4));
  VERIFY_NEAR(r.bms, 11.24, 0.005);
  VERIFY_NEAR(r.jms, 32.49, 0.005);
  VERIFY_NEAR(r.ems, 1.02, 0.005);
  VERIFY_NEAR(r.wms, 6.26, 0.005);
  VERIFY_NEAR(r.icc11.value, 0.17, 0.005);
  VERIFY_NEAR(r.icc21.value, 0.29, 0.005);
  VERIFY_NEAR(r.icc31.value, 0.71, 0.005);
  // F test of ICC(3,1) and ICC(2,1): F = BMS/EMS on (5, 15) df.
  VERIFY_NEAR(r.icc31.f, r.bms / r.ems, 1e-12);
  QCOMPARE(r.icc31.df1, 5.0);
  QCOMPARE(r.icc31.df2, 15.0);
  QVERIFY(r.icc31.pValue < 0.001);
  for (const IccEstimate* e : {&r.icc11, &r.icc21, &r.icc31})
    QVERIFY(e->ciLower < e->value && e->value < e->ciUpper);
}

void TestStats::iccIntervalsCoverTrueValue()
{
  // Two-way random model x_ij = t_i + r_j + e_ij with var(t) = 4, var(r) = 1, var(e) = 1:
  // ICC(2,1) = 4 / 6, ICC(3,1) = 4 / 5. The 95% intervals must cover the true values in about
  // 95% of 600 simulated studies of 20 targets x 3 raters (binomial SD ~0.9%). The ICC(2,1)
  // interval (Satterthwaite df) is known to run a little narrow with few raters: 0.92 here.
  std::mt19937 rng(2024);
  std::normal_distribution<double> n01(0.0, 1.0);
  int cover2 = 0, cover3 = 0;
  const int studies = 600;
  for (int s = 0; s < studies; ++s)
  {
    std::vector<double> raterEffect(3);
    for (double& r : raterEffect)
      r = n01(rng);
    std::vector<std::vector<double>> x(20, std::vector<double>(3));
    for (auto& row : x)
    {
      const double t = 2.0 * n01(rng);
      for (size_t j = 0; j < 3; ++j)
        row[j] = t + raterEffect[j] + n01(rng);
    }
    const IccResult r = intraclassCorrelation(x);
    cover2 += r.icc21.ciLower <= 4.0 / 6.0 && 4.0 / 6.0 <= r.icc21.ciUpper;
    cover3 += r.icc31.ciLower <= 0.8 && 0.8 <= r.icc31.ciUpper;
  }
  const double c2 = cover2 / double(studies), c3 = cover3 / double(studies);
  qInfo("coverage of nominal 95%% intervals: ICC(2,1) %.3f, ICC(3,1) %.3f", c2, c3);
  QVERIFY2(c2 > 0.90 && c2 < 0.99, qPrintable(QString::number(c2)));
  QVERIFY2(c3 > 0.92 && c3 < 0.98, qPrintable(QString::number(c3)));
}

void TestStats::iccRejectsRaggedTable()
{
  QVERIFY_THROWS_EXCEPTION(Error, intraclassCorrelation({{1, 2}, {3}}));
  QVERIFY_THROWS_EXCEPTION(Error, intraclassCorrelation({{1, 2}}));
  QVERIFY_THROWS_EXCEPTION(Error, intraclassCorrelation({{1}, {2}}));
}

void TestStats::cohenKappaWorkedExample()
{
  // Worked example of the Wikipedia article "Cohen's kappa": 50 proposals, both readers "yes" 20,
  // A yes / B no 5, A no / B yes 10, both "no" 15: p_o = 0.7, p_e = 0.5, kappa = 0.4.
  std::vector<int> a, b;
  auto add = [&](int n, int ra, int rb)
  {
    for (int i = 0; i < n; ++i)
    {
      a.push_back(ra);
      b.push_back(rb);
    }
  };
  add(20, 1, 1);
  add(5, 1, 0);
  add(10, 0, 1);
  add(15, 0, 0);
  const KappaResult k = cohenKappa(a, b);
  QCOMPARE(k.subjects, size_t(50));
  VERIFY_NEAR(k.observedAgreement, 0.7, 1e-15);
  VERIFY_NEAR(k.chanceAgreement, 0.5, 1e-15);
  VERIFY_NEAR(k.kappa, 0.4, 1e-14);
}

void TestStats::cohenKappaDegenerate()
{
  QCOMPARE(cohenKappa({2, 2, 2}, {2, 2, 2}).kappa, 1.0); // p_e = 1: defined as 1
  QCOMPARE(cohenKappa({1, 2, 3}, {1, 2, 3}).kappa, 1.0);
  QVERIFY_THROWS_EXCEPTION(Error, cohenKappa({1, 2}, {1}));
  QVERIFY_THROWS_EXCEPTION(Error, cohenKappa({}, {}));
}

void TestStats::fleissKappaWorkedExample()
{
  // Worked example of the Wikipedia article "Fleiss' kappa": 10 subjects, 14 raters, 5 categories.
  // Published: P-bar = 0.378, P-bar_e = 0.213, kappa = 0.210.
  const std::vector<std::vector<int>> counts{
      {0, 0, 0, 0, 14}, {0, 2, 6, 4, 2}, {0, 0, 3, 5, 6}, {0, 3, 9, 2, 0}, {2, 2, 8, 1, 1},
      {7, 7, 0, 0, 0},  {3, 2, 6, 3, 0}, {2, 5, 3, 2, 2}, {6, 5, 2, 1, 0}, {0, 2, 2, 3, 7},
  };
  const KappaResult k = fleissKappa(counts);
  QCOMPARE(k.subjects, size_t(10));
  VERIFY_NEAR(k.observedAgreement, 0.378, 0.0005);
  VERIFY_NEAR(k.chanceAgreement, 0.213, 0.0005);
  VERIFY_NEAR(k.kappa, 0.210, 0.0005);
  // The same table given as raw ratings (category numbers 10..50, any integers work).
  std::vector<std::vector<int>> ratings;
  for (const auto& row : counts)
  {
    std::vector<int> r;
    for (size_t c = 0; c < row.size(); ++c)
      for (int i = 0; i < row[c]; ++i)
        r.push_back(10 * static_cast<int>(c + 1));
    ratings.push_back(r);
  }
  VERIFY_NEAR(fleissKappaFromRatings(ratings).kappa, k.kappa, 1e-15);
  QVERIFY_THROWS_EXCEPTION(Error, fleissKappa({{1, 2}, {2, 2}})); // 3 vs 4 ratings
}

void TestStats::meanTIntervalByHand()
{
  // Three Dice values 0.80, 0.85, 0.90: mean 0.85, SD 0.05, t(2; 0.975) = 4.302652729911275
  // (tables; R: qt(0.975, 2)), half width 4.302653 * 0.05 / sqrt(3) = 0.1242069:
  // [0.7257931, 0.9742069] (R: t.test(c(0.80, 0.85, 0.90))$conf.int).
  const MeanInterval d = meanTInterval({0.80, 0.85, 0.90});
  QCOMPARE(d.n, size_t(3));
  VERIFY_NEAR(d.mean, 0.85, 1e-15);
  VERIFY_NEAR(d.lower, 0.85 - 4.302652729911275 * 0.05 / std::sqrt(3.0), 1e-10);
  VERIFY_NEAR(d.upper, 0.9742068856, 1e-9);
  // Sleep data, drug 1: mean 0.75, SD 1.789010, t(9; 0.975) = 2.262157;
  // R: t.test(sleep$extra[1:10])$conf.int = -0.5297804 2.0297804.
  const MeanInterval s = meanTInterval(kSleepDrug1);
  VERIFY_NEAR(s.lower, -0.5297804, 5e-8);
  VERIFY_NEAR(s.upper, 2.0297804, 5e-8);
  // A 90 % interval is narrower; one value has no interval; equal values a zero-width one.
  const MeanInterval s90 = meanTInterval(kSleepDrug1, 0.90);
  QVERIFY(s90.lower > s.lower && s90.upper < s.upper);
  const MeanInterval one = meanTInterval({0.9});
  QVERIFY(std::isnan(one.lower) && std::isnan(one.upper));
  VERIFY_NEAR(one.mean, 0.9, 0);
  const MeanInterval same = meanTInterval({2.0, 2.0, 2.0});
  QCOMPARE(same.lower, 2.0);
  QCOMPARE(same.upper, 2.0);
  QVERIFY_THROWS_EXCEPTION(Error, meanTInterval({}));
  QVERIFY_THROWS_EXCEPTION(Error, meanTInterval({1.0, NAN}));
}

namespace
{
/// Large-sample variance of Cohen's kappa in the original form of Fleiss, Cohen & Everitt
/// (1969), Psychol. Bull. 72:323, eq. 13, from a contingency table of counts (rows rater 1):
/// [sum_i p_ii ((1-pe) - (p_i.+p_.i)(1-po))^2 + (1-po)^2 sum_{i!=j} p_ij (p_.i+p_j.)^2
///  - (po pe - 2 pe + po)^2] / (n (1-pe)^4). Written independently of core/stats.
double fceStandardError(const std::vector<std::vector<double>>& table)
{
  const size_t k = table.size();
  double n = 0;
  for (const auto& row : table)
    for (double c : row)
      n += c;
  std::vector<double> rowP(k, 0), colP(k, 0);
  for (size_t i = 0; i < k; ++i)
    for (size_t j = 0; j < k; ++j)
    {
      rowP[i] += table[i][j] / n;
      colP[j] += table[i][j] / n;
    }
  double po = 0, pe = 0;
  for (size_t i = 0; i < k; ++i)
  {
    po += table[i][i] / n;
    pe += rowP[i] * colP[i];
  }
  double a = 0, b = 0;
  for (size_t i = 0; i < k; ++i)
    for (size_t j = 0; j < k; ++j)
      if (i == j)
        a += table[i][i] / n * std::pow((1 - pe) - (rowP[i] + colP[i]) * (1 - po), 2);
      else
        b += table[i][j] / n * std::pow(colP[i] + rowP[j], 2);
  b *= (1 - po) * (1 - po);
  const double c = std::pow(po * pe - 2 * pe + po, 2);
  return std::sqrt((a + b - c) / (n * std::pow(1 - pe, 4)));
}

void ratingsFromTable(const std::vector<std::vector<double>>& table, std::vector<int>& a,
                      std::vector<int>& b)
{
  for (size_t i = 0; i < table.size(); ++i)
    for (size_t j = 0; j < table.size(); ++j)
      for (int c = 0; c < int(table[i][j]); ++c)
      {
        a.push_back(int(i));
        b.push_back(int(j));
      }
}
} // namespace

void TestStats::cohenKappaStandardErrorByHand()
{
  // The Wikipedia table of cohenKappaWorkedExample, by hand with the 1969 formula above:
  // p_o 0.7, p_e 0.5; first sum 0.4 (0.5 - 1.1 * 0.3)^2 + 0.3 (0.5 - 0.9 * 0.3)^2 = 0.02743,
  // second 0.3^2 (0.1 * 1.1^2 + 0.2 * 0.9^2) = 0.02547, third (0.35 - 1 + 0.7)^2 = 0.0025;
  // var = 0.0504 / (50 * 0.5^4) = 0.016128, SE = 0.126996.
  {
    const std::vector<std::vector<double>> table{{20, 5}, {10, 15}};
    std::vector<int> a, b;
    ratingsFromTable(table, a, b);
    const KappaResult k = cohenKappa(a, b);
    VERIFY_NEAR(k.kappa, 0.4, 1e-14);
    VERIFY_NEAR(k.standardError, fceStandardError(table), 1e-12);
    VERIFY_NEAR(k.standardError, 0.1269961, 5e-8);
    VERIFY_NEAR(k.ciLower, 0.4 - 1.959963985 * k.standardError, 1e-9);
    VERIFY_NEAR(k.ciUpper, 0.4 + 1.959963985 * k.standardError, 1e-9);
  }
  // The three-category diagnosis table of Fleiss, Levin & Paik (2003), ch. 18 (100 patients,
  // two psychiatrists; proportions 0.75 0.01 0.04 / 0.05 0.04 0.01 / 0 0 0.10): kappa 0.676;
  // SE 0.0877 by the 1969 formula (computed by hand, not quoted from the book).
  {
    const std::vector<std::vector<double>> table{{75, 1, 4}, {5, 4, 1}, {0, 0, 10}};
    std::vector<int> a, b;
    ratingsFromTable(table, a, b);
    const KappaResult k = cohenKappa(a, b);
    VERIFY_NEAR(k.kappa, 0.676, 0.0005);
    VERIFY_NEAR(k.standardError, fceStandardError(table), 1e-12);
    VERIFY_NEAR(k.standardError, 0.0877, 0.00005);
  }
  // Perfect agreement on several categories: SE 0, interval [1, 1]; p_e = 1: no interval.
  const KappaResult perfect = cohenKappa({1, 2, 3, 1}, {1, 2, 3, 1});
  QCOMPARE(perfect.standardError, 0.0);
  QCOMPARE(perfect.ciLower, 1.0);
  QCOMPARE(perfect.ciUpper, 1.0);
  QVERIFY(std::isnan(cohenKappa({2, 2}, {2, 2}).standardError));
  // A small table: the Wald interval is truncated to [-1, 1].
  const KappaResult small = cohenKappa({1, 0, 1}, {0, 1, 1});
  QVERIFY(small.ciLower >= -1.0 && small.ciUpper <= 1.0);
}

void TestStats::fleissKappaBootstrapInterval()
{
  // 200 subjects, 3 raters, 3 categories: each rater copies a latent category with probability
  // 0.7. The percentile bootstrap over subjects must be seeded (same interval twice), contain
  // the estimate, and have about the width of a jackknife interval computed here by hand
  // (kappa_(-i) leaving one subject out; SE^2 = (n-1)/n sum (kappa_(-i) - mean)^2).
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> category(0, 2);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::vector<int>> counts;
  for (int s = 0; s < 200; ++s)
  {
    const int truth = category(rng);
    std::vector<int> c(3, 0);
    for (int r = 0; r < 3; ++r)
      ++c[size_t(u(rng) < 0.7 ? truth : category(rng))];
    counts.push_back(c);
  }
  const double kappa = fleissKappa(counts).kappa;
  const BootstrapInterval ci = fleissKappaBootstrapCi(counts);
  QCOMPARE(ci.estimate, kappa);
  QVERIFY(ci.lower < kappa && kappa < ci.upper);
  const BootstrapInterval again = fleissKappaBootstrapCi(counts);
  QCOMPARE(again.lower, ci.lower);
  QCOMPARE(again.upper, ci.upper);
  std::vector<double> leaveOut;
  for (size_t i = 0; i < counts.size(); ++i)
  {
    auto rest = counts;
    rest.erase(rest.begin() + long(i));
    leaveOut.push_back(fleissKappa(rest).kappa);
  }
  double m = 0, ss = 0;
  for (double k : leaveOut)
    m += k / double(leaveOut.size());
  for (double k : leaveOut)
    ss += (k - m) * (k - m);
  const double n = double(counts.size());
  const double jackknifeWidth = 2 * 1.959964 * std::sqrt((n - 1) / n * ss);
  const double width = ci.upper - ci.lower;
  QVERIFY2(width > 0.8 * jackknifeWidth && width < 1.25 * jackknifeWidth,
           qPrintable(QString("bootstrap width %1, jackknife width %2").arg(width).arg(jackknifeWidth)));
  // Everyone agrees on every subject: every resample gives 1.
  const BootstrapInterval perfect = fleissKappaBootstrapCi({{3, 0}, {0, 3}, {3, 0}});
  QCOMPARE(perfect.lower, 1.0);
  QCOMPARE(perfect.upper, 1.0);
}

QTEST_GUILESS_MAIN(TestStats)
#include "tst_stats.moc"
