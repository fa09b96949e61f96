// core/measure against hand-computed values: distances on a rotated anisotropic grid, a box with
// known intensities (mean, sample SD, median, extent), an ellipsoid with known semi-axes on a
// rotated anisotropic grid (axis lengths within one voxel, directions), empty and wrong-grid
// inputs, and the real TotalSegmentator pancreas against a brute-force voxel-corner oracle.
#include "../SharedData.h"

#include "core/Error.h"
#include "core/measure/Measurement.h"
#ifdef PANSEG_HAVE_IO
#include "core/io/ImageIO.h"
#endif

#include <QElapsedTimer>
#include <QtTest>

#include <cmath>

using namespace panseg;
using namespace panseg::measure;

namespace
{
// Rotation matrix (row-major) about a unit axis by `degrees` (Rodrigues).
Mat3 rotation(Vec3 axis, double degrees)
{
  const double n = std::sqrt(axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]);
  for (double& v : axis)
    v /= n;
  const double t = degrees * M_PI / 180.0, c = std::cos(t), s = std::sin(t), C = 1 - c;
  const double x = axis[0], y = axis[1], z = axis[2];
  return {c + x * x * C,     x * y * C - z * s, x * z * C + y * s, //
          y * x * C + z * s, c + y * y * C,     y * z * C - x * s, //
          z * x * C - y * s, z * y * C + x * s, c + z * z * C};
}

Vec3 column(const Mat3& m, int c)
{
  return {m[0 * 3 + c], m[1 * 3 + c], m[2 * 3 + c]};
}

double dot(const Vec3& a, const Vec3& b)
{
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

// Width of one voxel box of `g` projected on the unit vector e.
double footprint(const Geometry& g, const Vec3& e)
{
  double w = 0;
  for (int j = 0; j < 3; ++j)
    w += std::abs(dot(e, column(g.direction, j))) * g.spacingMm[j];
  return w;
}

// An ellipsoid: centre, semi-axes (mm) along the columns of R.
struct Ellipsoid
{
  Vec3 centre;
  Vec3 semi;
  Mat3 R;
  bool contains(const Vec3& p) const
  {
    const Vec3 d{p[0] - centre[0], p[1] - centre[1], p[2] - centre[2]};
    double s = 0;
    for (int k = 0; k < 3; ++k)
    {
      const double q = dot(d, column(R, k)) / semi[k];
      s += q * q;
    }
    return s <= 1.0;
  }
};

// Rotated, anisotropic grid whose centre voxel lies at `centre`.
Geometry rotatedGrid(const Size3& size, const Vec3& spacing, const Mat3& direction, const Vec3& centre)
{
  Geometry g;
  g.size = size;
  g.spacingMm = spacing;
  g.direction = direction;
  g.originMm = {0, 0, 0};
  const Vec3 mid = g.indexToPhysical({(size[0] - 1) / 2.0, (size[1] - 1) / 2.0, (size[2] - 1) / 2.0});
  g.originMm = {centre[0] - mid[0], centre[1] - mid[1], centre[2] - mid[2]};
  return g;
}

LabelMask rasterise(const Geometry& g, const Ellipsoid& e, uint8_t label)
{
  LabelMask m(g, 0);
  for (int64_t z = 0; z < g.size[2]; ++z)
    for (int64_t y = 0; y < g.size[1]; ++y)
      for (int64_t x = 0; x < g.size[0]; ++x)
        if (e.contains(g.indexToPhysical({double(x), double(y), double(z)})))
          m.at(x, y, z) = label;
  return m;
}

// Oracle: min/max of e . corner over all 8 corners of every voxel of the label.
double cornerExtent(const LabelMask& m, int label, const Vec3& e)
{
  double lo = 1e300, hi = -1e300;
  for (int64_t z = 0; z < m.nz(); ++z)
    for (int64_t y = 0; y < m.ny(); ++y)
      for (int64_t x = 0; x < m.nx(); ++x)
      {
        const uint8_t v = m.at(x, y, z);
        if (label == 0 ? v == 0 : v != label)
          continue;
        for (int c = 0; c < 8; ++c)
        {
          const Vec3 p = m.geometry.indexToPhysical(
              {x + ((c & 1) ? 0.5 : -0.5), y + ((c & 2) ? 0.5 : -0.5), z + ((c & 4) ? 0.5 : -0.5)});
          lo = std::min(lo, dot(p, e));
          hi = std::max(hi, dot(p, e));
        }
      }
  return hi - lo;
}
} // namespace

class TestMeasure : public QObject
{
  Q_OBJECT
private slots:
  void distances()
  {
    QCOMPARE(distanceMm({1, 2, 3}, {4, 6, 3}), 5.0);
    Geometry g;
    g.size = {10, 10, 10};
    g.spacingMm = {0.5, 2.0, 3.0};
    g.direction = rotation({1, 2, 3}, 30);
    g.originMm = {-100, 20, 7};
    // Index steps scale by the spacing whatever the direction and origin.
    QVERIFY(std::abs(indexDistanceMm(g, {0, 0, 0}, {4, 0, 0}) - 2.0) < 1e-12);
    QVERIFY(std::abs(indexDistanceMm(g, {1, 1, 1}, {1, 2, 2}) - std::sqrt(13.0)) < 1e-12);
    QVERIFY(std::abs(indexDistanceMm(g, {0.5, 0, 0}, {0.5, 0, 2.5}) - 7.5) < 1e-12);
    QVERIFY(std::abs(indexDistanceMm(g, {0, 0, 0}, {2, 3, 4}) - std::sqrt(1.0 + 36 + 144)) < 1e-12);
    QCOMPARE(indexDistanceMm(g, {3, 3, 3}, {3, 3, 3}), 0.0);
  }

  void eigenDecomposition()
  {
    const Mat3 R = rotation({0.3, -1, 0.5}, 47);
    const Vec3 lambda{2.0, 9.0, 0.5};
    Mat3 m{};
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c)
        for (int k = 0; k < 3; ++k)
          m[r * 3 + c] += R[r * 3 + k] * lambda[k] * R[c * 3 + k];
    Vec3 values{};
    std::array<Vec3, 3> vectors{};
    symmetricEigen(m, values, vectors);
    QVERIFY(std::abs(values[0] - 9.0) < 1e-12);
    QVERIFY(std::abs(values[1] - 2.0) < 1e-12);
    QVERIFY(std::abs(values[2] - 0.5) < 1e-12);
    QVERIFY(std::abs(std::abs(dot(vectors[0], column(R, 1))) - 1) < 1e-12);
    QVERIFY(std::abs(std::abs(dot(vectors[1], column(R, 0))) - 1) < 1e-12);
    QVERIFY(std::abs(std::abs(dot(vectors[2], column(R, 2))) - 1) < 1e-12);
  }

  void boxWithKnownIntensities_data()
  {
    QTest::addColumn<bool>("flipped");
    QTest::newRow("LPS") << false;
    QTest::newRow("RAS") << true; // direction diag(-1, -1, 1): same extent and lengths
  }
  void boxWithKnownIntensities()
  {
    QFETCH(bool, flipped);
    Geometry g;
    g.size = {10, 8, 6};
    g.spacingMm = {0.7, 0.9, 2.5};
    if (flipped)
      g.direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};
    Image img(g, -1000.0f);
    LabelMask m(g, 0);
    // A 4 x 3 x 2 box of label 2 at (3..6, 2..4, 1..2) with intensities 0..23; a voxel of label 1
    // elsewhere (counted for label 0 only).
    float v = 0;
    for (int64_t z = 1; z <= 2; ++z)
      for (int64_t y = 2; y <= 4; ++y)
        for (int64_t x = 3; x <= 6; ++x)
        {
          m.at(x, y, z) = 2;
          img.at(x, y, z) = v++;
        }
    m.at(0, 0, 5) = 1;
    img.at(0, 0, 5) = 500;

    const MaskStatistics s = maskStatistics(m, 2, &img);
    QCOMPARE(s.voxels, int64_t(24));
    QVERIFY(std::abs(s.volumeMl - 24 * 0.7 * 0.9 * 2.5 / 1000.0) < 1e-12); // 0.0378 mL
    QVERIFY(s.hasIntensities);
    QCOMPARE(s.intensity.count, int64_t(24));
    // 0..23: mean 11.5; sample variance = n(n+1)/12 = 24 * 25 / 12 = 50; median (11 + 12) / 2.
    QVERIFY(std::abs(s.intensity.mean - 11.5) < 1e-12);
    QVERIFY(std::abs(s.intensity.sd - std::sqrt(50.0)) < 1e-12);
    QCOMPARE(s.intensity.median, 11.5);
    QCOMPARE(s.intensity.min, 0.0);
    QCOMPARE(s.intensity.max, 23.0);
    QCOMPARE(s.boxMinIndex, (Size3{3, 2, 1}));
    QCOMPARE(s.boxMaxIndex, (Size3{6, 4, 2}));
    QVERIFY(std::abs(s.extentMm[0] - 2.8) < 1e-12);
    QVERIFY(std::abs(s.extentMm[1] - 2.7) < 1e-12);
    QVERIFY(std::abs(s.extentMm[2] - 5.0) < 1e-12);
    // Principal axes of a box: its edges, longest first.
    QVERIFY(s.axes.defined);
    QVERIFY(std::abs(s.axes.lengthsMm[0] - 5.0) < 1e-9);
    QVERIFY(std::abs(s.axes.lengthsMm[1] - 2.8) < 1e-9);
    QVERIFY(std::abs(s.axes.lengthsMm[2] - 2.7) < 1e-9);
    QVERIFY(std::abs(s.axes.directions[0][2] - 1.0) < 1e-9); // along S (sign: towards S)
    QVERIFY(std::abs(std::abs(s.axes.directions[1][0]) - 1.0) < 1e-9);
    const Vec3 centre = g.indexToPhysical({4.5, 3.0, 1.5});
    for (int k = 0; k < 3; ++k)
      QVERIFY(std::abs(s.axes.centroidMm[k] - centre[k]) < 1e-9);

    // Label 0 = any non-zero: 25 voxels, the extent now reaches the far voxel.
    const MaskStatistics any = maskStatistics(m, 0, &img);
    QCOMPARE(any.voxels, int64_t(25));
    QVERIFY(std::abs(any.intensity.mean - (276.0 + 500.0) / 25.0) < 1e-12);
    QCOMPARE(any.intensity.median, 12.0);
    QVERIFY(std::abs(any.extentMm[0] - 7 * 0.7) < 1e-12);
    QVERIFY(std::abs(any.extentMm[1] - 5 * 0.9) < 1e-12);
    QVERIFY(std::abs(any.extentMm[2] - 5 * 2.5) < 1e-12); // z = 1..5

    // Without an image: geometry only.
    const MaskStatistics noImage = maskStatistics(m, 2);
    QVERIFY(!noImage.hasIntensities);
    QCOMPARE(noImage.intensity.count, int64_t(0));
    QCOMPARE(noImage.extentMm, s.extentMm);
  }

  void ellipsoidOnRotatedAnisotropicGrid()
  {
    // Semi-axes 32, 16, 9 mm along a rotated frame; grid 0.8 x 1.1 x 2.0 mm, rotated otherwise.
    Ellipsoid e;
    e.centre = {12.0, -40.0, 250.0};
    e.semi = {32.0, 16.0, 9.0};
    e.R = rotation({1, 2, -0.5}, 35);
    const Geometry g = rotatedGrid({130, 96, 52}, {0.8, 1.1, 2.0}, rotation({-0.4, 0.2, 1}, 20),
                                   {e.centre[0] + 0.3, e.centre[1] - 0.2, e.centre[2] + 0.7});
    const LabelMask m = rasterise(g, e, 1);
    const MaskStatistics s = maskStatistics(m, 1);
    // The volume within 2 % of 4/3 pi abc.
    const double trueMl = 4.0 / 3.0 * M_PI * 32 * 16 * 9 / 1000.0;
    QVERIFY2(std::abs(s.volumeMl - trueMl) < 0.02 * trueMl, qPrintable(QString::number(s.volumeMl)));
    QVERIFY(s.axes.defined);
    for (int k = 0; k < 3; ++k)
    {
      const Vec3 axis = column(e.R, k);
      const double tolerance = footprint(g, axis); // one voxel along that axis
      QVERIFY2(std::abs(s.axes.lengthsMm[k] - 2 * e.semi[k]) <= tolerance,
               qPrintable(QString("axis %1: %2 mm, expected %3 +- %4").arg(k).arg(s.axes.lengthsMm[k])
                              .arg(2 * e.semi[k]).arg(tolerance)));
      QVERIFY2(std::abs(dot(s.axes.directions[k], axis)) > 0.995,
               qPrintable(QString("axis %1 direction off by %2 degrees").arg(k).arg(
                   std::acos(std::min(1.0, std::abs(dot(s.axes.directions[k], axis)))) * 180 / M_PI)));
      // Moment-based diameters: the solid ellipsoid's 2 sqrt(5 variance) = 2a, within 3 %.
      QVERIFY(std::abs(s.axes.ellipsoidDiametersMm[k] - 2 * e.semi[k]) < 0.03 * 2 * e.semi[k]);
      // Extent along L-R, A-P, S-I: the ellipsoid's bounding box 2 sqrt(sum_k (R_ik a_k)^2),
      // within one voxel along that patient axis.
      double half = 0;
      for (int j = 0; j < 3; ++j)
        half += (e.R[k * 3 + j] * e.semi[j]) * (e.R[k * 3 + j] * e.semi[j]);
      Vec3 patientAxis{0, 0, 0};
      patientAxis[k] = 1;
      QVERIFY2(std::abs(s.extentMm[k] - 2 * std::sqrt(half)) <= footprint(g, patientAxis),
               qPrintable(QString("extent %1: %2 mm, expected %3").arg(k).arg(s.extentMm[k]).arg(2 * std::sqrt(half))));
    }
    QVERIFY(s.axes.lengthsMm[0] >= s.axes.lengthsMm[1] && s.axes.lengthsMm[1] >= s.axes.lengthsMm[2]);
    for (int k = 0; k < 3; ++k)
      QVERIFY(std::abs(s.axes.centroidMm[k] - e.centre[k]) < 0.2);
    // The exact definitions, against the voxel-corner oracle.
    for (int k = 0; k < 3; ++k)
      QVERIFY(std::abs(s.axes.lengthsMm[k] - cornerExtent(m, 1, s.axes.directions[k])) < 1e-9);
    // principalAxes() alone gives the same.
    const PrincipalAxes p = principalAxes(m, 1);
    QCOMPARE(p.lengthsMm, s.axes.lengthsMm);
  }

  void emptyAndWrongGrid()
  {
    Geometry g;
    g.size = {5, 5, 5};
    const LabelMask empty(g, 0);
    const Image img(g, 40.0f);
    const MaskStatistics s = maskStatistics(empty, 1, &img);
    QCOMPARE(s.voxels, int64_t(0));
    QCOMPARE(s.volumeMl, 0.0);
    QVERIFY(!s.axes.defined);
    QCOMPARE(s.intensity.count, int64_t(0));
    QVERIFY(std::isfinite(s.intensity.mean) && std::isfinite(s.intensity.sd));
    QCOMPARE(s.extentMm, (Vec3{0, 0, 0}));

    LabelMask one(g, 0);
    one.at(2, 2, 2) = 1;
    const MaskStatistics single = maskStatistics(one, 1, &img);
    QCOMPARE(single.intensity.sd, 0.0);
    QCOMPARE(single.intensity.median, 40.0);
    QCOMPARE(single.axes.lengthsMm, (Vec3{1, 1, 1})); // one 1 mm voxel

    Geometry other = g;
    other.spacingMm = {1, 1, 2};
    const Image wrong(other, 0.0f);
    try
    {
      maskStatistics(one, 1, &wrong);
      QFAIL("a mask on another grid was measured");
    }
    catch (const Error& e)
    {
      QVERIFY2(QString(e.what()).contains("spacing differs"), e.what());
    }
  }

  void timingOnACtSizedGrid()
  {
    // What the Measurements dock costs after an edit: a 512 x 512 x 300 CT with a pancreas-sized
    // ellipsoid (about 60 mL).
    Ellipsoid e;
    e.centre = {0, 0, 0};
    e.semi = {75.0, 20.0, 10.0};
    e.R = rotation({0, 0, 1}, 20);
    const Geometry g = rotatedGrid({512, 512, 300}, {0.75, 0.75, 1.0}, rotation({1, 0, 0}, 0), e.centre);
    LabelMask m(g, 0);
    Image img(g, -1000.0f);
    const Vec3 lo = g.physicalToIndex({-80, -80, -20}), hi = g.physicalToIndex({80, 80, 20});
    for (int64_t z = int64_t(lo[2]); z <= int64_t(hi[2]); ++z)
      for (int64_t y = int64_t(lo[1]); y <= int64_t(hi[1]); ++y)
        for (int64_t x = int64_t(lo[0]); x <= int64_t(hi[0]); ++x)
          if (e.contains(g.indexToPhysical({double(x), double(y), double(z)})))
          {
            m.at(x, y, z) = 1;
            img.at(x, y, z) = float((x + y + z) % 200);
          }
    QElapsedTimer t;
    t.start();
    const MaskStatistics s = maskStatistics(m, 1, &img);
    const qint64 ms = t.elapsed();
    qInfo("512x512x300, %.1f mL: maskStatistics %lld ms", s.volumeMl, ms);
    QVERIFY(std::abs(s.axes.lengthsMm[0] - 150.0) < 1.5);
    QVERIFY(ms < 5000);
  }

  void realPancreas()
  {
#ifndef PANSEG_HAVE_IO
    QSKIP("built without panseg_io");
#else
    PANSEG_REQUIRE_SHARED("data/totalsegmentator/ct_full/example_seg_fast_force_split.nii.gz");
    const Image ct = readImage(paths::shared("data/totalsegmentator/ct_full/example_ct.nii.gz").toStdString());
    const LabelMask seg = readMaskFor(
        paths::shared("data/totalsegmentator/ct_full/example_seg_fast_force_split.nii.gz").toStdString(),
        ct.geometry);
    const MaskStatistics s = maskStatistics(seg, 7, &ct);
    // data/SOURCES.md: label 7 = 695 voxels = 18.77 mL (3 mm isotropic).
    QCOMPARE(s.voxels, int64_t(695));
    QVERIFY(std::abs(s.volumeMl - 18.765) < 1e-9);
    // Intensities against a plain double-precision loop.
    double sum = 0, sumSq = 0;
    for (size_t i = 0; i < seg.voxels.size(); ++i)
      if (seg.voxels[i] == 7)
        sum += ct.voxels[i];
    const double mean = sum / 695.0;
    for (size_t i = 0; i < seg.voxels.size(); ++i)
      if (seg.voxels[i] == 7)
        sumSq += (ct.voxels[i] - mean) * (ct.voxels[i] - mean);
    QVERIFY(std::abs(s.intensity.mean - mean) < 1e-9);
    QVERIFY(std::abs(s.intensity.sd - std::sqrt(sumSq / 694.0)) < 1e-9);
    // Soft tissue mixed with fat: at 3 mm the pancreas' border voxels average with the fat
    // around it (this one: about -6 HU).
    QVERIFY2(s.intensity.mean > -100 && s.intensity.mean < 250, qPrintable(QString::number(s.intensity.mean)));
    // Extent and axis lengths against the voxel-corner oracle (exact definitions).
    for (int k = 0; k < 3; ++k)
    {
      Vec3 axis{0, 0, 0};
      axis[k] = 1;
      QVERIFY(std::abs(s.extentMm[k] - cornerExtent(seg, 7, axis)) < 1e-9);
      QVERIFY(std::abs(s.axes.lengthsMm[k] - cornerExtent(seg, 7, s.axes.directions[k])) < 1e-9);
    }
    // An adult pancreas: roughly 12-20 cm long, a few cm wide and thick.
    QVERIFY2(s.axes.lengthsMm[0] > 90 && s.axes.lengthsMm[0] < 250, qPrintable(QString::number(s.axes.lengthsMm[0])));
    QVERIFY(s.axes.lengthsMm[2] > 9 && s.axes.lengthsMm[2] < 80);
    qInfo("TotalSegmentator pancreas: %.2f mL, mean %.1f +- %.1f HU, extent %.0f x %.0f x %.0f mm, "
          "axes %.1f x %.1f x %.1f mm",
          s.volumeMl, s.intensity.mean, s.intensity.sd, s.extentMm[0], s.extentMm[1], s.extentMm[2],
          s.axes.lengthsMm[0], s.axes.lengthsMm[1], s.axes.lengthsMm[2]);
#endif
  }
};

QTEST_APPLESS_MAIN(TestMeasure)
#include "tst_measure.moc"
