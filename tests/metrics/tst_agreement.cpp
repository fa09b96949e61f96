// Agreement metrics (core/metrics): analytic shapes, an independent brute-force implementation,
// empty-mask conventions, grid checks, JSON output, real inter-observer masks from ../shared.

#include "core/Error.h"
#include "core/metrics/Agreement.h"
#include "core/metrics/DistanceTransform.h"

#ifdef PANSEG_HAVE_IO
#include "core/io/ImageIO.h"
#endif

#include "../SharedData.h"

#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

using namespace panseg;

namespace
{
const double kInf = std::numeric_limits<double>::infinity();

LabelMask makeMask(Size3 size, Vec3 spacing)
{
  Geometry g;
  g.size = size;
  g.spacingMm = spacing;
  g.originMm = {-12.5, 40.0, 7.25};
  return LabelMask(g, 0);
}

void paintBox(LabelMask& m, Size3 lo, Size3 hiExclusive, uint8_t value = 1)
{
  for (int64_t z = lo[2]; z < hiExclusive[2]; ++z)
    for (int64_t y = lo[1]; y < hiExclusive[1]; ++y)
      for (int64_t x = lo[0]; x < hiExclusive[0]; ++x)
        if (m.contains(x, y, z))
          m.at(x, y, z) = value;
}

// Ellipsoid given in voxel units (centre and radii per axis).
void paintEllipsoid(LabelMask& m, Vec3 c, Vec3 r, uint8_t value = 1)
{
  for (int64_t z = 0; z < m.nz(); ++z)
    for (int64_t y = 0; y < m.ny(); ++y)
      for (int64_t x = 0; x < m.nx(); ++x)
      {
        const double dx = (static_cast<double>(x) - c[0]) / r[0];
        const double dy = (static_cast<double>(y) - c[1]) / r[1];
        const double dz = (static_cast<double>(z) - c[2]) / r[2];
        if (dx * dx + dy * dy + dz * dz <= 1.0)
          m.at(x, y, z) = value;
      }
}

// ---------------------------------------------------------------------------------------------
// Independent reference implementation: plain loops, no distance transform, no cropping.
namespace brute
{
struct Point
{
  double x, y, z;
};

bool inLabel(const LabelMask& m, int label, int64_t x, int64_t y, int64_t z)
{
  if (!m.contains(x, y, z))
    return false; // outside the grid is background
  const uint8_t v = m.at(x, y, z);
  return label == 0 ? v != 0 : v == label;
}

std::vector<Point> borderPoints(const LabelMask& m, int label)
{
  const Vec3 s = m.geometry.spacingMm;
  std::vector<Point> pts;
  for (int64_t z = 0; z < m.nz(); ++z)
    for (int64_t y = 0; y < m.ny(); ++y)
      for (int64_t x = 0; x < m.nx(); ++x)
      {
        if (!inLabel(m, label, x, y, z))
          continue;
        const bool eroded = inLabel(m, label, x - 1, y, z) && inLabel(m, label, x + 1, y, z) &&
                            inLabel(m, label, x, y - 1, z) && inLabel(m, label, x, y + 1, z) &&
                            inLabel(m, label, x, y, z - 1) && inLabel(m, label, x, y, z + 1);
        if (!eroded)
          pts.push_back({static_cast<double>(x) * s[0], static_cast<double>(y) * s[1],
                         static_cast<double>(z) * s[2]});
      }
  return pts;
}

std::vector<double> directed(const std::vector<Point>& from, const std::vector<Point>& to)
{
  std::vector<double> out;
  out.reserve(from.size());
  for (const Point& p : from)
  {
    double best = kInf;
    for (const Point& q : to)
    {
      const double d2 =
          (p.x - q.x) * (p.x - q.x) + (p.y - q.y) * (p.y - q.y) + (p.z - q.z) * (p.z - q.z);
      best = std::min(best, d2);
    }
    out.push_back(std::sqrt(best));
  }
  return out;
}

double percentile(std::vector<double> v, double p)
{
  std::sort(v.begin(), v.end());
  const double h = (static_cast<double>(v.size()) - 1) * p / 100.0;
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (h - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

double kappaPoPe(double tp, double fp, double fn, double tn)
{
  const double n = tp + fp + fn + tn;
  const double po = (tp + tn) / n;
  const double pa = (tp + fp) / n, pb = (tp + fn) / n;
  const double pe = pa * pb + (1 - pa) * (1 - pb);
  return (po - pe) / (1 - pe);
}

struct Expected
{
  double dice, jaccard, precision, recall, hd95, hd, assd, kappa, kappaBbox;
  int64_t countA, countB, overlap, borderA, borderB;
};

// Both masks must be non-empty.
Expected compute(const LabelMask& a, int la, const LabelMask& b, int lb)
{
  Expected e{};
  int64_t lo[3] = {a.nx(), a.ny(), a.nz()}, hi[3] = {-1, -1, -1};
  for (int64_t z = 0; z < a.nz(); ++z)
    for (int64_t y = 0; y < a.ny(); ++y)
      for (int64_t x = 0; x < a.nx(); ++x)
      {
        const bool ia = inLabel(a, la, x, y, z), ib = inLabel(b, lb, x, y, z);
        e.countA += ia;
        e.countB += ib;
        e.overlap += ia && ib;
        if (ia || ib)
        {
          const int64_t c[3] = {x, y, z};
          for (int i = 0; i < 3; ++i)
          {
            lo[i] = std::min(lo[i], c[i]);
            hi[i] = std::max(hi[i], c[i]);
          }
        }
      }
  const double tp = static_cast<double>(e.overlap);
  const double fp = static_cast<double>(e.countA - e.overlap);
  const double fn = static_cast<double>(e.countB - e.overlap);
  e.dice = 2 * tp / static_cast<double>(e.countA + e.countB);
  e.jaccard = tp / (tp + fp + fn);
  e.precision = tp / static_cast<double>(e.countA);
  e.recall = tp / static_cast<double>(e.countB);
  e.kappa = kappaPoPe(tp, fp, fn, static_cast<double>(a.voxels.size()) - tp - fp - fn);
  const double box =
      static_cast<double>((hi[0] - lo[0] + 1) * (hi[1] - lo[1] + 1) * (hi[2] - lo[2] + 1));
  e.kappaBbox = kappaPoPe(tp, fp, fn, box - tp - fp - fn);

  const auto ba = borderPoints(a, la), bb = borderPoints(b, lb);
  e.borderA = static_cast<int64_t>(ba.size());
  e.borderB = static_cast<int64_t>(bb.size());
  const auto dab = directed(ba, bb), dba = directed(bb, ba);
  double sab = 0, sba = 0;
  for (double d : dab)
    sab += d;
  for (double d : dba)
    sba += d;
  e.assd = 0.5 * (sab / static_cast<double>(dab.size()) + sba / static_cast<double>(dba.size()));
  e.hd = std::max(*std::max_element(dab.begin(), dab.end()),
                  *std::max_element(dba.begin(), dba.end()));
  std::vector<double> pooled = dab;
  pooled.insert(pooled.end(), dba.begin(), dba.end());
  e.hd95 = percentile(pooled, 95.0);
  return e;
}
} // namespace brute

bool near(double a, double b, double tol)
{
  return std::abs(a - b) <= tol;
}

// Overlap metrics to 1e-6, distances to 1e-3 mm (the brief's tolerances), counts exactly.
void compareWithBrute(const AgreementResult& r, const brute::Expected& e)
{
  if (e.borderA * e.borderB > 100000) // the real-data pairs: say which were cross-checked
    qInfo("  brute-force cross-check of %lld x %lld border voxels",
          static_cast<long long>(e.borderA), static_cast<long long>(e.borderB));
  QCOMPARE(r.countA, e.countA);
  QCOMPARE(r.countB, e.countB);
  QCOMPARE(r.overlap, e.overlap);
  QCOMPARE(r.borderVoxelsA, e.borderA);
  QCOMPARE(r.borderVoxelsB, e.borderB);
  QVERIFY2(near(r.dice, e.dice, 1e-6),
           qPrintable(QString("dice %1 vs %2").arg(r.dice).arg(e.dice)));
  QVERIFY(near(r.jaccard, e.jaccard, 1e-6));
  QVERIFY(near(r.precision, e.precision, 1e-6));
  QVERIFY(near(r.recall, e.recall, 1e-6));
  QVERIFY2(near(r.kappa, e.kappa, 1e-6),
           qPrintable(QString("kappa %1 vs %2").arg(r.kappa, 0, 'g', 10).arg(e.kappa, 0, 'g', 10)));
  QVERIFY(near(r.kappaBbox, e.kappaBbox, 1e-6));
  QVERIFY2(near(r.hd95Mm, e.hd95, 1e-3),
           qPrintable(QString("hd95 %1 vs %2").arg(r.hd95Mm, 0, 'g', 10).arg(e.hd95, 0, 'g', 10)));
  QVERIFY2(near(r.hdMm, e.hd, 1e-3),
           qPrintable(QString("hd %1 vs %2").arg(r.hdMm, 0, 'g', 10).arg(e.hd, 0, 'g', 10)));
  QVERIFY2(near(r.assdMm, e.assd, 1e-3),
           qPrintable(QString("assd %1 vs %2").arg(r.assdMm, 0, 'g', 10).arg(e.assd, 0, 'g', 10)));
  QVERIFY(r.distancesDefined);
}

// Random union of ellipsoids, some reaching the grid edge, plus scattered single voxels.
void paintBlobs(LabelMask& m, std::mt19937& rng, int blobs, uint8_t value = 1)
{
  std::uniform_real_distribution<double> ux(-2.0, static_cast<double>(m.nx()) + 1.0);
  std::uniform_real_distribution<double> uy(-2.0, static_cast<double>(m.ny()) + 1.0);
  std::uniform_real_distribution<double> uz(-1.0, static_cast<double>(m.nz()));
  std::uniform_real_distribution<double> ur(1.0, 7.0);
  for (int i = 0; i < blobs; ++i)
    paintEllipsoid(m, {ux(rng), uy(rng), uz(rng)}, {ur(rng), ur(rng), ur(rng) / 2.0}, value);
  std::uniform_int_distribution<size_t> uv(0, m.voxels.size() - 1);
  for (int i = 0; i < 10; ++i)
    m.voxels[uv(rng)] = value;
}
} // namespace

class TestAgreement : public QObject
{
  Q_OBJECT

private slots:
  void distanceTransformMatchesBruteForce();
  void distanceTransformWithoutFeatures();
  void cubeShiftedOnAnisotropicGrid_data();
  void cubeShiftedOnAnisotropicGrid();
  void offsetSpheres();
  void identicalMasks();
  void bothEmpty();
  void oneEmpty();
  void nestedCubesReachVpeBound();
  void vpeBoundsFormula();
  void randomBlobsMatchBruteForce_data();
  void randomBlobsMatchBruteForce();
  void labelSelection();
  void kappaWholeGridVersusBoundingBox();
  void mismatchedGridsThrow_data();
  void mismatchedGridsThrow();
  void jsonHasAgreedKeys();
  void croppedEqualsWholeVolumeOnLargeGrid();
  void deepmindHeadNeckObservers_data();
  void deepmindHeadNeckObservers();
  void totalSegmentatorNormalVersusFast();
  void kits23Annotators();
};

void TestAgreement::distanceTransformMatchesBruteForce()
{
  std::mt19937 rng(7);
  const Size3 n{13, 9, 7};
  const Vec3 s{0.7, 1.3, 2.9};
  std::vector<uint8_t> f(static_cast<size_t>(n[0] * n[1] * n[2]), 0);
  std::bernoulli_distribution coin(0.03);
  for (auto& v : f)
    v = coin(rng);
  f[5] = 1; // at least one feature
  const std::vector<double> d2 = squaredDistanceTransformMm2(f, n, s, 3);
  double maxErr = 0;
  for (int64_t z = 0; z < n[2]; ++z)
    for (int64_t y = 0; y < n[1]; ++y)
      for (int64_t x = 0; x < n[0]; ++x)
      {
        double best = kInf;
        for (int64_t z2 = 0; z2 < n[2]; ++z2)
          for (int64_t y2 = 0; y2 < n[1]; ++y2)
            for (int64_t x2 = 0; x2 < n[0]; ++x2)
              if (f[static_cast<size_t>(x2 + n[0] * (y2 + n[1] * z2))])
              {
                const double dx = static_cast<double>(x - x2) * s[0];
                const double dy = static_cast<double>(y - y2) * s[1];
                const double dz = static_cast<double>(z - z2) * s[2];
                best = std::min(best, dx * dx + dy * dy + dz * dz);
              }
        maxErr =
            std::max(maxErr, std::abs(d2[static_cast<size_t>(x + n[0] * (y + n[1] * z))] - best));
      }
  QVERIFY2(maxErr < 1e-9, qPrintable(QString("max squared-distance error %1").arg(maxErr)));
}

void TestAgreement::distanceTransformWithoutFeatures()
{
  const std::vector<double> d2 =
      squaredDistanceTransformMm2(std::vector<uint8_t>(24, 0), {4, 3, 2}, {1, 1, 1});
  QCOMPARE(d2.size(), size_t(24));
  for (double v : d2)
    QVERIFY(std::isinf(v));
  QVERIFY_THROWS_EXCEPTION(
      Error, squaredDistanceTransformMm2(std::vector<uint8_t>(5, 0), {4, 3, 2}, {1, 1, 1}));
  QVERIFY_THROWS_EXCEPTION(
      Error, squaredDistanceTransformMm2(std::vector<uint8_t>(24, 0), {4, 3, 2}, {1, 0, 1}));
}

void TestAgreement::cubeShiftedOnAnisotropicGrid_data()
{
  QTest::addColumn<int>("axis");
  QTest::addColumn<int>("shift");
  for (int axis = 0; axis < 3; ++axis)
    for (int k : {1, 3})
      QTest::addRow("axis%d_shift%d", axis, k) << axis << k;
}

void TestAgreement::cubeShiftedOnAnisotropicGrid()
{
  QFETCH(int, axis);
  QFETCH(int, shift);
  // A 10x10x10-voxel cube and the same cube moved by `shift` voxels along `axis`.
  // Every border voxel of A has B's translated border voxel exactly shift*spacing away, and a
  // face-centre voxel has nothing closer, so HD = shift * spacing[axis] exactly.
  const Vec3 spacing{0.8, 1.3, 2.5};
  LabelMask a = makeMask({30, 28, 26}, spacing), b = a;
  const Size3 lo{8, 7, 6}, hi{18, 17, 16};
  Size3 lo2 = lo, hi2 = hi;
  lo2[axis] += shift;
  hi2[axis] += shift;
  paintBox(a, lo, hi);
  paintBox(b, lo2, hi2);

  const AgreementResult r = computeAgreement(a, 1, b, 1);
  const double L = 10.0, k = shift;
  QCOMPARE(r.countA, int64_t(1000));
  QCOMPARE(r.countB, int64_t(1000));
  QCOMPARE(r.overlap, int64_t(100 * (10 - shift)));
  QVERIFY(near(r.dice, (L - k) / L, 1e-12));
  QVERIFY(near(r.jaccard, (L - k) / (L + k), 1e-12));
  QVERIFY(near(r.precision, (L - k) / L, 1e-12));
  QVERIFY(near(r.recall, (L - k) / L, 1e-12));
  QVERIFY2(near(r.hdMm, k * spacing[axis], 1e-12),
           qPrintable(QString("HD %1, expected %2").arg(r.hdMm).arg(k * spacing[axis])));
  QVERIFY(r.hd95Mm <= r.hdMm + 1e-12);
  QVERIFY(r.assdMm > 0 && r.assdMm < r.hdMm);
  const double voxelMl = spacing[0] * spacing[1] * spacing[2] / 1000.0;
  QVERIFY(near(r.volumeAMl, 1000 * voxelMl, 1e-12));
  QVERIFY(near(r.volumeBMl, 1000 * voxelMl, 1e-12));
  QCOMPARE(r.vpe, 0.0);
  QCOMPARE(r.bboxVoxels, int64_t(100 * (10 + shift)));
  QVERIFY(r.distancesDefined);
  compareWithBrute(r, brute::compute(a, 1, b, 1));
}

void TestAgreement::offsetSpheres()
{
  // Two balls of radius R = 12 voxels (isotropic 1 mm), centres d = 6 voxels apart along y.
  // Continuous overlap (lens) volume: pi (4R + d)(2R - d)^2 / 12, so Dice ~ lens / (4/3 pi R^3);
  // the voxelised value is within 1.5% of it. HD ~ d (the far pole), within one voxel.
  const double R = 12, d = 6;
  LabelMask a = makeMask({40, 46, 40}, {1, 1, 1}), b = a;
  paintEllipsoid(a, {20, 20, 20}, {R, R, R});
  paintEllipsoid(b, {20, 20 + d, 20}, {R, R, R});
  const AgreementResult r = computeAgreement(a, 0, b, 0);
  const double pi = std::acos(-1.0);
  const double lens = pi * (4 * R + d) * (2 * R - d) * (2 * R - d) / 12.0;
  const double diceContinuous = lens / (4.0 / 3.0 * pi * R * R * R);
  QVERIFY2(near(r.dice, diceContinuous, 0.015),
           qPrintable(QString("dice %1 vs continuous %2").arg(r.dice).arg(diceContinuous)));
  QVERIFY2(near(r.hdMm, d, 1.0), qPrintable(QString("HD %1").arg(r.hdMm)));
  QVERIFY(r.hdMm <= d + 1e-12); // translation by d voxels bounds every directed distance by d
  compareWithBrute(r, brute::compute(a, 0, b, 0));
}

void TestAgreement::identicalMasks()
{
  std::mt19937 rng(3);
  LabelMask a = makeMask({32, 30, 12}, {0.9, 0.9, 3.0});
  paintBlobs(a, rng, 6);
  const AgreementResult r = computeAgreement(a, 1, a, 1);
  QCOMPARE(r.dice, 1.0);
  QCOMPARE(r.jaccard, 1.0);
  QCOMPARE(r.precision, 1.0);
  QCOMPARE(r.recall, 1.0);
  QCOMPARE(r.hd95Mm, 0.0);
  QCOMPARE(r.hdMm, 0.0);
  QCOMPARE(r.assdMm, 0.0);
  QCOMPARE(r.kappa, 1.0);
  QCOMPARE(r.kappaBbox, 1.0);
  QCOMPARE(r.vpe, 0.0);
  QVERIFY(r.countA > 0);
}

void TestAgreement::bothEmpty()
{
  const LabelMask a = makeMask({8, 8, 4}, {1, 1, 2});
  const AgreementResult r = computeAgreement(a, 0, a, 0);
  QCOMPARE(r.dice, 1.0);
  QCOMPARE(r.jaccard, 1.0);
  QCOMPARE(r.precision, 1.0);
  QCOMPARE(r.recall, 1.0);
  QCOMPARE(r.hd95Mm, 0.0);
  QCOMPARE(r.hdMm, 0.0);
  QCOMPARE(r.assdMm, 0.0);
  QVERIFY(r.distancesDefined);
  QCOMPARE(r.kappa, 1.0);
  QCOMPARE(r.kappaBbox, 1.0);
  QCOMPARE(r.vpe, 0.0);
  QCOMPARE(r.bboxVoxels, int64_t(0));
}

void TestAgreement::oneEmpty()
{
  LabelMask full = makeMask({8, 8, 4}, {1, 1, 2});
  const LabelMask empty = full;
  paintBox(full, {2, 2, 1}, {5, 6, 3});
  for (bool testEmpty : {true, false})
  {
    const AgreementResult r =
        testEmpty ? computeAgreement(empty, 0, full, 0) : computeAgreement(full, 0, empty, 0);
    QCOMPARE(r.dice, 0.0);
    QCOMPARE(r.jaccard, 0.0);
    QCOMPARE(r.precision, 0.0);
    QCOMPARE(r.recall, 0.0);
    QVERIFY(!r.distancesDefined);
    QVERIFY(std::isinf(r.hd95Mm) && std::isinf(r.hdMm) && std::isinf(r.assdMm));
    QVERIFY(!std::isnan(r.kappa) && !std::isnan(r.kappaBbox));
    QCOMPARE(r.kappaBbox, 0.0); // the box is the non-empty mask: no agreement beyond chance
    QCOMPARE(r.vpe, testEmpty ? -1.0 : kInf);
    QVERIFY(r.vpe >= r.vpeBounds.min && r.vpe <= r.vpeBounds.max);
    const QJsonObject o = QJsonDocument::fromJson(QByteArray::fromStdString(toJson(r))).object();
    QVERIFY(o.value("hd95_mm").isNull());
    QVERIFY(o.value("hd_mm").isNull());
    QVERIFY(o.value("assd_mm").isNull());
    QCOMPARE(o.value("distances_defined").toBool(true), false);
    QCOMPARE(o.value("dice").toDouble(-1), 0.0);
  }
}

void TestAgreement::nestedCubesReachVpeBound()
{
  // A inside B: I = V_a, so the Dice bound is attained: vpe = D/(2-D) - 1 exactly, and swapping
  // the roles gives the upper end (2-D)/D - 1.
  LabelMask a = makeMask({20, 20, 20}, {1, 2, 3}), b = a;
  paintBox(a, {5, 5, 5}, {10, 10, 10}); // 125 voxels
  paintBox(b, {4, 4, 4}, {12, 11, 10}); // 8*7*6 = 336 voxels, contains A
  const AgreementResult r = computeAgreement(a, 0, b, 0);
  QVERIFY(near(r.vpe, 125.0 / 336.0 - 1.0, 1e-12));
  QVERIFY(near(r.vpe, r.vpeBounds.min, 1e-12));
  const AgreementResult s = computeAgreement(b, 0, a, 0);
  QVERIFY(near(s.vpe, 336.0 / 125.0 - 1.0, 1e-12));
  QVERIFY(near(s.vpe, s.vpeBounds.max, 1e-12));
  QCOMPARE(r.precision, 1.0);
  QCOMPARE(s.recall, 1.0);
}

void TestAgreement::vpeBoundsFormula()
{
  // D = 0.8: [0.8/1.2 - 1, 1.2/0.8 - 1] = [-1/3, 1/2].
  const VpeBounds b = vpeBoundsFromDice(0.8);
  QVERIFY(near(b.min, -1.0 / 3.0, 1e-15));
  QVERIFY(near(b.max, 0.5, 1e-15));
  QCOMPARE(vpeBoundsFromDice(1.0).min, 0.0);
  QCOMPARE(vpeBoundsFromDice(1.0).max, 0.0);
  QCOMPARE(vpeBoundsFromDice(0.0).min, -1.0);
  QVERIFY(std::isinf(vpeBoundsFromDice(0.0).max));
  // Equivalent closed forms of the derivation in Agreement.h.
  for (double d : {0.1, 0.5, 0.809, 0.95})
  {
    QVERIFY(near(vpeBoundsFromDice(d).min, -2 * (1 - d) / (2 - d), 1e-14));
    QVERIFY(near(vpeBoundsFromDice(d).max, 2 * (1 - d) / d, 1e-14));
  }
}

void TestAgreement::randomBlobsMatchBruteForce_data()
{
  QTest::addColumn<int>("seed");
  for (int seed = 1; seed <= 8; ++seed)
    QTest::addRow("seed%d", seed) << seed;
}

void TestAgreement::randomBlobsMatchBruteForce()
{
  QFETCH(int, seed);
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::uniform_real_distribution<double> us(0.4, 3.0);
  LabelMask a = makeMask({36, 31, 17}, {us(rng), us(rng), us(rng)}), b = a;
  paintBlobs(a, rng, 5);
  b = a;
  // B = A with some blobs removed (label 0 painted over) and others added.
  std::mt19937 rngB(static_cast<unsigned>(seed) + 1000);
  paintBlobs(b, rngB, 3, 0);
  paintBlobs(b, rngB, 3, 1);
  if (b.countLabel(1) == 0 || a.countLabel(1) == 0)
    QSKIP("degenerate random draw");
  const brute::Expected e = brute::compute(a, 1, b, 1);
  for (bool crop : {true, false})
    for (int threads : {1, 3})
    {
      AgreementOptions o;
      o.cropToUnion = crop;
      o.threads = threads;
      const AgreementResult r = computeAgreement(a, 1, b, 1, o);
      compareWithBrute(r, e);
    }
}

void TestAgreement::labelSelection()
{
  // Label 2 of A against label 5 of B; label 0 means any non-zero label.
  LabelMask a = makeMask({20, 20, 10}, {1, 1, 1}), b = a;
  paintBox(a, {2, 2, 2}, {8, 8, 6}, 2);
  paintBox(a, {12, 12, 2}, {16, 16, 6}, 3);
  paintBox(b, {3, 2, 2}, {8, 8, 6}, 5);
  paintBox(b, {12, 12, 2}, {16, 16, 6}, 1);
  const AgreementResult r = computeAgreement(a, 2, b, 5);
  QCOMPARE(r.countA, int64_t(6 * 6 * 4));
  QCOMPARE(r.countB, int64_t(5 * 6 * 4));
  QCOMPARE(r.overlap, int64_t(5 * 6 * 4));
  const AgreementResult any = computeAgreement(a, 0, b, 0);
  QCOMPARE(any.countA, int64_t(6 * 6 * 4 + 4 * 4 * 4));
  QCOMPARE(any.overlap, int64_t(5 * 6 * 4 + 4 * 4 * 4));
  const AgreementResult none = computeAgreement(a, 7, b, 5);
  QCOMPARE(none.countA, int64_t(0));
  QVERIFY(!none.distancesDefined);
  QVERIFY_THROWS_EXCEPTION(Error, computeAgreement(a, 300, b, 1));
}

void TestAgreement::kappaWholeGridVersusBoundingBox()
{
  // The same pair of objects in a small and a large field of view: whole-grid kappa grows with
  // the background, bounding-box kappa does not change.
  auto pair = [](Size3 size)
  {
    LabelMask a = makeMask(size, {1, 1, 1}), b = a;
    paintBox(a, {2, 2, 2}, {12, 12, 12});
    paintBox(b, {4, 2, 2}, {14, 12, 12});
    return computeAgreement(a, 0, b, 0);
  };
  const AgreementResult small = pair({16, 16, 16}), large = pair({64, 64, 64});
  QVERIFY(near(small.kappaBbox, large.kappaBbox, 1e-12));
  QVERIFY(large.kappa > small.kappa);
  QVERIFY(large.kappa > large.kappaBbox);
  // Bounding box 12x10x10 = 1200 voxels, TP 800, FP 200, FN 200, TN 0:
  // p_o = 2/3, p_e = (5/6)^2 + (1/6)^2 = 13/18, kappa = (2/3 - 13/18) / (5/18) = -1/5.
  QVERIFY(near(large.kappaBbox, -0.2, 1e-12));
  QCOMPARE(large.bboxVoxels, int64_t(1200));
}

void TestAgreement::mismatchedGridsThrow_data()
{
  QTest::addColumn<QString>("what");
  QTest::addColumn<QString>("expectedWord");
  QTest::newRow("size") << "size"
                        << "size";
  QTest::newRow("spacing") << "spacing"
                           << "spacing";
  QTest::newRow("origin") << "origin"
                          << "origin";
  QTest::newRow("direction") << "direction"
                             << "direction";
}

void TestAgreement::mismatchedGridsThrow()
{
  QFETCH(QString, what);
  QFETCH(QString, expectedWord);
  const LabelMask a = makeMask({10, 10, 5}, {1, 1, 2});
  Geometry g = a.geometry;
  if (what == "size")
    g.size[2] = 6;
  else if (what == "spacing")
    g.spacingMm[1] = 1.5;
  else if (what == "origin")
    g.originMm[0] += 5;
  else
    g.direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};
  const LabelMask b(g, 0);
  try
  {
    computeAgreement(a, 0, b, 0);
    QFAIL("no exception for masks on different grids");
  }
  catch (const Error& e)
  {
    const QString msg = QString::fromStdString(e.what());
    QVERIFY2(msg.contains(expectedWord), qPrintable(msg));
    QVERIFY2(msg.contains("different grids"), qPrintable(msg));
  }
}

void TestAgreement::jsonHasAgreedKeys()
{
  LabelMask a = makeMask({20, 20, 10}, {0.5, 0.5, 2}), b = a;
  paintBox(a, {2, 2, 2}, {9, 9, 6});
  paintBox(b, {3, 2, 2}, {9, 10, 7});
  const AgreementResult r = computeAgreement(a, 0, b, 0);
  const std::string json = toJson(r);
  QJsonParseError err{};
  const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(json), &err);
  QVERIFY2(err.error == QJsonParseError::NoError, qPrintable(err.errorString()));
  const QJsonObject o = doc.object();
  const QStringList required = {"dice",       "jaccard",     "precision",   "recall",
                                "hd95_mm",    "hd_mm",       "assd_mm",     "kappa",
                                "kappa_bbox", "volume_a_ml", "volume_b_ml", "vpe"};
  for (const QString& k : required)
    QVERIFY2(o.contains(k) && o.value(k).isDouble(), qPrintable(k));
  // Shortest round-trip formatting: values come back bit for bit.
  QCOMPARE(o.value("dice").toDouble(), r.dice);
  QCOMPARE(o.value("hd95_mm").toDouble(), r.hd95Mm);
  QCOMPARE(o.value("assd_mm").toDouble(), r.assdMm);
  QCOMPARE(o.value("vpe").toDouble(), r.vpe);
  QCOMPARE(o.value("volume_b_ml").toDouble(), r.volumeBMl);
  QCOMPARE(o.value("count_a").toInteger(), r.countA);
  QCOMPARE(o.value("distances_defined").toBool(false), true);
  // The agreed keys come first, in the agreed order.
  int last = -1;
  for (const QString& k : required)
  {
    const int pos = static_cast<int>(json.find("\"" + k.toStdString() + "\""));
    QVERIFY2(pos > last, qPrintable(k));
    last = pos;
  }
}

void TestAgreement::croppedEqualsWholeVolumeOnLargeGrid()
{
  // A pancreas-sized object on a CT-sized grid (0.8x0.8x1.5 mm). The assertion is that cropping
  // changes nothing and saves time; the timings are printed. The whole-volume path needs ~1.4 GB
  // and several seconds at 512x512x300, so that size runs only with PANSEG_BENCH=1.
  const bool fullSize = qEnvironmentVariableIsSet("PANSEG_BENCH");
  const Size3 size = fullSize ? Size3{512, 512, 300} : Size3{256, 256, 150};
  const double cx = static_cast<double>(size[0]) / 2, cz = static_cast<double>(size[2]) / 2;
  LabelMask a = makeMask(size, {0.8, 0.8, 1.5}), b = a;
  paintEllipsoid(a, {cx - 6, cx + 4, cz}, {45, 20, 18});
  paintEllipsoid(b, {cx - 3, cx + 2, cz + 1}, {43, 22, 17});
  paintEllipsoid(b, {cx + 44, cx + 14, cz + 10}, {8, 6, 5});
  AgreementOptions crop, whole;
  crop.threads = whole.threads = 2;
  whole.cropToUnion = false;
  QElapsedTimer t;
  t.start();
  const AgreementResult rc = computeAgreement(a, 0, b, 0, crop);
  const qint64 msCrop = t.restart();
  const AgreementResult rw = computeAgreement(a, 0, b, 0, whole);
  const qint64 msWhole = t.elapsed();
  qInfo("%lldx%lldx%lld pair, 2 threads: cropped %lld ms, whole volume %lld ms (HD95 %.4f mm)",
        static_cast<long long>(size[0]), static_cast<long long>(size[1]),
        static_cast<long long>(size[2]), static_cast<long long>(msCrop),
        static_cast<long long>(msWhole), rc.hd95Mm);
  QCOMPARE(rc.hd95Mm, rw.hd95Mm);
  QCOMPARE(rc.hdMm, rw.hdMm);
  QVERIFY(near(rc.assdMm, rw.assdMm, 1e-12));
  QCOMPARE(rc.borderVoxelsA, rw.borderVoxelsA);
  QCOMPARE(rc.borderVoxelsB, rw.borderVoxelsB);
  QCOMPARE(rc.dice, rw.dice);
  QVERIFY(msCrop < msWhole);
}

// ---------------------------------------------------------------------------------------------
// Real inter-observer masks (see ../shared/data/SOURCES.md for provenance and the Dice values).

namespace
{
#ifdef PANSEG_HAVE_IO
LabelMask readShared(const QString& rel)
{
  return readMask(paths::shared(rel).toStdString());
}
#endif
// Brute force costs |border A| x |border B|; beyond this it would take too long for a unit test.
constexpr double kBruteForceBudget = 6e7;
} // namespace

void TestAgreement::deepmindHeadNeckObservers_data()
{
  QTest::addColumn<QString>("organ");
  QTest::addColumn<double>("volumeOncologistMl");
  QTest::addColumn<double>("volumeRadiographerMl");
  QTest::addColumn<double>("dice");
  QTest::addColumn<qint64>("countOncologist");
  QTest::addColumn<qint64>("countRadiographer");
  QTest::addColumn<qint64>("overlap");
  // Volumes and Dice: the table in SOURCES.md, section 6. Voxel counts: counted independently of
  // ITK with a standard-library Python NRRD reader (gzip + raw uint8) when this test was written.
  // One SOURCES.md value looks rounded twice: Optic-Nerve-Lt 2*177/(313+215) = 0.670455 is given
  // as 0.671; hence the Dice tolerance of 0.0006 rather than 0.0005 (the counts are exact).
  QTest::newRow("Parotid-Lt") << "Parotid-Lt" << 13.20 << 15.67 << 0.829 << qint64(5497)
                              << qint64(6528) << qint64(4984);
  QTest::newRow("Parotid-Rt") << "Parotid-Rt" << 13.47 << 15.74 << 0.843 << qint64(5609)
                              << qint64(6555) << qint64(5128);
  QTest::newRow("Submandibular-Lt") << "Submandibular-Lt" << 4.57 << 5.56 << 0.815 << qint64(1902)
                                    << qint64(2315) << qint64(1718);
  QTest::newRow("Submandibular-Rt") << "Submandibular-Rt" << 7.55 << 5.65 << 0.784 << qint64(3145)
                                    << qint64(2354) << qint64(2156);
  QTest::newRow("Spinal-Cord") << "Spinal-Cord" << 14.69 << 20.42 << 0.810 << qint64(6120)
                               << qint64(8505) << qint64(5924);
  QTest::newRow("Brainstem") << "Brainstem" << 25.13 << 24.25 << 0.904 << qint64(10468)
                             << qint64(10100) << qint64(9300);
  QTest::newRow("Mandible") << "Mandible" << 50.95 << 49.86 << 0.956 << qint64(21222)
                            << qint64(20768) << qint64(20062);
  QTest::newRow("Optic-Nerve-Lt") << "Optic-Nerve-Lt" << 0.75 << 0.52 << 0.671 << qint64(313)
                                  << qint64(215) << qint64(177);
  QTest::newRow("Lung-Lt") << "Lung-Lt" << 927.0 << 941.0 << 0.991 << qint64(386209)
                           << qint64(391815) << qint64(385413);
  QTest::newRow("Brain") << "Brain" << 1337.0 << 1336.0 << 0.992 << qint64(556870) << qint64(556342)
                         << qint64(552028);
}

void TestAgreement::deepmindHeadNeckObservers()
{
  QFETCH(QString, organ);
  const QString base = "data/deepmind-tcia-hn/0522c0017/";
  PANSEG_REQUIRE_SHARED(base + "oncologist/" + organ + ".nrrd");
#ifndef PANSEG_HAVE_IO
  QSKIP("built without panseg_io (ITK): cannot read NRRD masks");
#else
  QFETCH(double, volumeOncologistMl);
  QFETCH(double, volumeRadiographerMl);
  QFETCH(double, dice);
  QFETCH(qint64, countOncologist);
  QFETCH(qint64, countRadiographer);
  QFETCH(qint64, overlap);
  // Test = radiographer, reference = oncologist (the arbitrated ground truth).
  QElapsedTimer timer;
  timer.start();
  const LabelMask onc = readShared(base + "oncologist/" + organ + ".nrrd");
  const LabelMask rad = readShared(base + "radiographer/" + organ + ".nrrd");
  const qint64 msRead = timer.restart();
  const AgreementResult r = computeAgreement(rad, 0, onc, 0);
  const qint64 msMetrics = timer.elapsed();
  qInfo("%s: Dice %.6f, HD95 %.3f mm, HD %.3f mm, ASSD %.3f mm, kappa %.4f / bbox %.4f, "
        "vpe %+.4f (read %lld ms, metrics %lld ms)",
        qPrintable(organ), r.dice, r.hd95Mm, r.hdMm, r.assdMm, r.kappa, r.kappaBbox, r.vpe,
        static_cast<long long>(msRead), static_cast<long long>(msMetrics));
  QCOMPARE(r.countB, countOncologist);
  QCOMPARE(r.countA, countRadiographer);
  QCOMPARE(r.overlap, overlap);
  QVERIFY2(near(r.dice, dice, 0.0006),
           qPrintable(QString("Dice %1, SOURCES.md says %2").arg(r.dice, 0, 'f', 6).arg(dice)));
  const double volTol = volumeOncologistMl > 100 ? 0.5 : 0.005 + 1e-9;
  QVERIFY(near(r.volumeBMl, volumeOncologistMl, volTol));
  QVERIFY(near(r.volumeAMl, volumeRadiographerMl, volTol));
  QVERIFY(r.vpe >= r.vpeBounds.min && r.vpe <= r.vpeBounds.max);
  if (static_cast<double>(r.borderVoxelsA) * static_cast<double>(r.borderVoxelsB) <
      kBruteForceBudget)
    compareWithBrute(r, brute::compute(rad, 0, onc, 0));
#endif
}

void TestAgreement::totalSegmentatorNormalVersusFast()
{
  const QString base = "data/totalsegmentator/ct_small/";
  PANSEG_REQUIRE_SHARED(base + "example_seg_fast.nii.gz");
#ifndef PANSEG_HAVE_IO
  QSKIP("built without panseg_io (ITK): cannot read NIfTI masks");
#else
  // Pancreas = label 7 (v2 class map). Test = fast model, reference = normal model.
  const LabelMask normal = readShared(base + "example_seg.nii.gz");
  const LabelMask fast = readShared(base + "example_seg_fast.nii.gz");
  const AgreementResult r = computeAgreement(fast, 7, normal, 7);
  qInfo("TotalSegmentator pancreas fast vs normal: Dice %.4f, HD95 %.3f mm, HD %.3f mm, "
        "ASSD %.3f mm, vpe %+.4f",
        r.dice, r.hd95Mm, r.hdMm, r.assdMm, r.vpe);
  QCOMPARE(r.countB, int64_t(644)); // SOURCES.md: 644 vox = 17.39 mL
  QCOMPARE(r.countA, int64_t(548)); // 548 vox = 14.80 mL
  QVERIFY(near(r.volumeBMl, 17.39, 0.005));
  QVERIFY(near(r.volumeAMl, 14.80, 0.005));
  QVERIFY2(near(r.dice, 0.809, 0.0005), qPrintable(QString::number(r.dice, 'f', 4)));
  compareWithBrute(r, brute::compute(fast, 7, normal, 7));
#endif
}

void TestAgreement::kits23Annotators()
{
  const QString base = "data/kits23/case_00061/";
  PANSEG_REQUIRE_SHARED(base + "tumor_instance-1_annotation-1.nii.gz");
#ifndef PANSEG_HAVE_IO
  QSKIP("built without panseg_io (ITK): cannot read NIfTI masks");
#else
  // SOURCES.md section 5: pairwise Dice between the three annotations, for the pairs
  // (1,2), (1,3), (2,3); grid 29x512x512 (I, P, L) at 5 x 0.9766 x 0.9766 mm.
  // The voxel counts were checked independently of ITK (standard-library Python NIfTI reader):
  // tumour pair (1,2) is 0.976478, which SOURCES.md gives as 0.977 (rounded twice), hence the
  // tolerance 0.0006; kidney_instance-2 has no volumes in SOURCES.md (NaN = not checked).
  const double nan = std::numeric_limits<double>::quiet_NaN();
  struct Case
  {
    const char* structure;
    double volumes[3];
    int64_t counts[3];
    double dice[3];
  };
  const Case cases[] = {
      {"kidney_instance-1", {416.57, 415.95, 423.36}, {87361, 87232, 88785}, {0.979, 0.979, 0.982}},
      {"kidney_instance-2", {nan, nan, nan}, {57985, 58452, 58969}, {0.988, 0.990, 0.994}},
      {"tumor_instance-1", {109.83, 113.36, 110.68}, {23034, 23773, 23212}, {0.977, 0.979, 0.981}},
  };
  const int pairs[3][2] = {{1, 2}, {1, 3}, {2, 3}};
  for (const Case& c : cases)
  {
    LabelMask m[3];
    for (int i = 0; i < 3; ++i)
    {
      m[i] = readShared(base + c.structure + "_annotation-" + QString::number(i + 1) + ".nii.gz");
      QVERIFY2(std::isnan(c.volumes[i]) || near(m[i].volumeMl(0), c.volumes[i], 0.005 + 1e-9),
               qPrintable(QString("%1 annotation %2: %3 mL")
                              .arg(c.structure)
                              .arg(i + 1)
                              .arg(m[i].volumeMl(0), 0, 'f', 3)));
    }
    for (int p = 0; p < 3; ++p)
    {
      const int i = pairs[p][0] - 1, j = pairs[p][1] - 1;
      const AgreementResult r = computeAgreement(m[j], 0, m[i], 0);
      qInfo("KiTS23 %s annotation %d vs %d: Dice %.6f, HD95 %.3f mm, ASSD %.3f mm", c.structure,
            j + 1, i + 1, r.dice, r.hd95Mm, r.assdMm);
      QVERIFY2(near(r.dice, c.dice[p], 0.0006),
               qPrintable(QString("%1 pair %2-%3: Dice %4, SOURCES.md says %5")
                              .arg(c.structure)
                              .arg(i + 1)
                              .arg(j + 1)
                              .arg(r.dice, 0, 'f', 6)
                              .arg(c.dice[p])));
      QCOMPARE(r.countA, c.counts[j]);
      QCOMPARE(r.countB, c.counts[i]);
      QVERIFY(r.distancesDefined && r.hd95Mm >= 0 && r.hd95Mm <= r.hdMm);
      if (static_cast<double>(r.borderVoxelsA) * static_cast<double>(r.borderVoxelsB) <
          kBruteForceBudget)
        compareWithBrute(r, brute::compute(m[j], 0, m[i], 0));
    }
  }
#endif
}

QTEST_GUILESS_MAIN(TestAgreement)
#include "tst_agreement.moc"
