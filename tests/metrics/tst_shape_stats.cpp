// Per-mask shape statistics (core/metrics/ShapeStats.h): inter-slice smoothness on shapes whose
// answer is known in closed form.

#include "core/Error.h"
#include "core/metrics/ShapeStats.h"

#include <QtTest>

#include <cmath>

using namespace panseg;

namespace
{
LabelMask emptyMask(int64_t nx, int64_t ny, int64_t nz, double sx = 1.0, double sy = 1.0, double sz = 2.5)
{
  Geometry g;
  g.size = { nx, ny, nz };
  g.spacingMm = { sx, sy, sz };
  return LabelMask(g, 0);
}

void disk(LabelMask& m, int64_t z, double cx, double cy, double r, uint8_t label = 1)
{
  for (int64_t y = 0; y < m.ny(); ++y)
    for (int64_t x = 0; x < m.nx(); ++x)
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r)
        m.at(x, y, z) = label;
}
} // namespace

class TestShapeStats : public QObject
{
  Q_OBJECT

private slots:
  void identicalSlicesScoreZero()
  {
    LabelMask m = emptyMask(40, 40, 6);
    for (int64_t z = 1; z < 5; ++z)
      disk(m, z, 20, 20, 8);
    const InterSliceSmoothness s = interSliceSmoothness(m);
    QCOMPARE(s.pairs, int64_t{ 3 });
    QCOMPARE(s.pairsOneEmpty, int64_t{ 2 }); // the object starts after slice 0 and ends before 5
    QCOMPARE(s.averageHdMm, 0.0);
    QCOMPARE(s.maxHdMm, 0.0);
  }

  void singlePixelsGiveTheirDistance()
  {
    // One pixel per slice: AHD = the distance between them, in mm with anisotropic spacing.
    LabelMask m = emptyMask(10, 10, 3, 0.5, 2.0);
    m.at(2, 2, 0) = 1;
    m.at(5, 2, 1) = 1; // 3 px along x = 1.5 mm
    m.at(5, 4, 2) = 1; // 2 px along y = 4 mm
    const InterSliceSmoothness s = interSliceSmoothness(m);
    QCOMPARE(s.pairs, int64_t{ 2 });
    QVERIFY(std::abs(s.averageHdMm - (1.5 + 4.0) / 2) < 1e-12);
    QVERIFY(std::abs(s.maxHdMm - 4.0) < 1e-12);
  }

  void asymmetricPairIsTheMeanOfBothDirections()
  {
    // Slice 0: pixels (0,0) and (4,0); slice 1: pixel (0,0). A->B: (0 + 4)/2 = 2, B->A: 0; AHD 1.
    LabelMask m = emptyMask(8, 3, 2);
    m.at(0, 0, 0) = 1;
    m.at(4, 0, 0) = 1;
    m.at(0, 0, 1) = 1;
    QVERIFY(std::abs(interSliceSmoothness(m).averageHdMm - 1.0) < 1e-12);
  }

  void growingDisksAboutTheRadiusStep()
  {
    // Radius grows by 2 px (2 mm) per slice: the outlines are ~2 mm apart.
    LabelMask m = emptyMask(64, 64, 5);
    for (int64_t z = 0; z < 5; ++z)
      disk(m, z, 32, 32, 6 + 2.0 * static_cast<double>(z));
    const InterSliceSmoothness s = interSliceSmoothness(m);
    QCOMPARE(s.pairs, int64_t{ 4 });
    QVERIFY2(s.averageHdMm > 1.5 && s.averageHdMm < 2.5, qPrintable(QString::number(s.averageHdMm)));
    // A jittery stack (same disks, centres jumping by 6 px) scores clearly worse.
    LabelMask j = emptyMask(64, 64, 5);
    for (int64_t z = 0; z < 5; ++z)
      disk(j, z, 32 + (z % 2 ? 6 : -6), 32, 6 + 2.0 * static_cast<double>(z));
    QVERIFY(interSliceSmoothness(j).averageHdMm > s.averageHdMm + 3);
  }

  void labelsAndEmptyMasks()
  {
    LabelMask m = emptyMask(20, 20, 4);
    disk(m, 1, 10, 10, 4, 2);
    disk(m, 2, 10, 10, 4, 2);
    disk(m, 2, 3, 3, 1, 1);
    QCOMPARE(interSliceSmoothness(m, 2).averageHdMm, 0.0);
    QCOMPARE(interSliceSmoothness(m, 2).pairs, int64_t{ 1 });
    QVERIFY(interSliceSmoothness(m, 0).averageHdMm > 0); // any label: slice 2 has the extra blob
    const InterSliceSmoothness e = interSliceSmoothness(emptyMask(5, 5, 5));
    QCOMPARE(e.pairs, int64_t{ 0 });
    QCOMPARE(e.averageHdMm, 0.0);
    LabelMask bad = emptyMask(5, 5, 5);
    bad.voxels.pop_back();
    QVERIFY_THROWS_EXCEPTION(Error, interSliceSmoothness(bad));
  }
};

QTEST_GUILESS_MAIN(TestShapeStats)
#include "tst_shape_stats.moc"
