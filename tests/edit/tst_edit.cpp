// Mask editing (core/edit): every tool against exact voxel expectations computed independently
// here (through Geometry::indexToPhysical, a point-in-polygon test, analytic shapes), undo/redo
// of many steps, and bad input.

#include "core/Error.h"
#include "core/edit/LabelEditor.h"
#include "core/edit/MaskComparison.h"
#include "core/edit/RecoveryFile.h"
#include "core/metrics/Agreement.h"

#include <QFile>
#include <QTemporaryDir>

#include <QtTest>

#include <cmath>
#include <memory>

using namespace panseg;
using namespace panseg::edit;

namespace
{
Geometry makeGeometry(Size3 size, Vec3 spacing)
{
  Geometry g;
  g.size = size;
  g.spacingMm = spacing;
  g.originMm = {-20.0, 35.5, 102.0};
  return g;
}

double physicalDistance2(const Geometry& g, const Index3& a, const Index3& b)
{
  const Vec3 pa = g.indexToPhysical({double(a[0]), double(a[1]), double(a[2])});
  const Vec3 pb = g.indexToPhysical({double(b[0]), double(b[1]), double(b[2])});
  double d2 = 0;
  for (int i = 0; i < 3; ++i)
    d2 += (pa[i] - pb[i]) * (pa[i] - pb[i]);
  return d2;
}

// Independent point-in-polygon (W. R. Franklin's PNPOLY).
bool pnpoly(const std::vector<Point2>& poly, double x, double y)
{
  bool c = false;
  for (size_t i = 0, j = poly.size() - 1; i < poly.size(); j = i++)
    if (((poly[i][1] > y) != (poly[j][1] > y)) &&
        (x < (poly[j][0] - poly[i][0]) * (y - poly[i][1]) / (poly[j][1] - poly[i][1]) + poly[i][0]))
      c = !c;
  return c;
}

void paintBox(LabelMask& m, Index3 lo, Index3 hi, uint8_t value)
{
  for (int64_t z = lo[2]; z < hi[2]; ++z)
    for (int64_t y = lo[1]; y < hi[1]; ++y)
      for (int64_t x = lo[0]; x < hi[0]; ++x)
        m.at(x, y, z) = value;
}

int64_t sliceArea(const LabelMask& m, int64_t z, uint8_t label)
{
  int64_t n = 0;
  for (int64_t y = 0; y < m.ny(); ++y)
    for (int64_t x = 0; x < m.nx(); ++x)
      n += m.at(x, y, z) == label;
  return n;
}

void paintDisk(LabelMask& m, int64_t z, double cx, double cy, double r, uint8_t value)
{
  for (int64_t y = 0; y < m.ny(); ++y)
    for (int64_t x = 0; x < m.nx(); ++x)
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r)
        m.at(x, y, z) = value;
}
} // namespace

class TestEdit : public QObject
{
  Q_OBJECT

private slots:
  void sphereBrushOnAnisotropicGrid()
  {
    const Geometry g = makeGeometry({41, 37, 23}, {0.7, 0.9, 2.5});
    LabelEditor ed(nullptr, LabelMask(g, 0));
    const Index3 c{20, 18, 11};
    Brush b;
    b.radiusMm = 4.3;
    b.is3D = true;
    PaintSettings p;
    p.label = 3;
    const EditResult r = ed.stamp(c, b, p);
    int64_t expected = 0;
    Box box;
    for (int64_t z = 0; z < g.size[2]; ++z)
      for (int64_t y = 0; y < g.size[1]; ++y)
        for (int64_t x = 0; x < g.size[0]; ++x)
        {
          const bool in = physicalDistance2(g, {x, y, z}, c) <= 4.3 * 4.3;
          QCOMPARE(int(ed.mask().at(x, y, z)), in ? 3 : 0);
          if (in)
          {
            ++expected;
            box.include(Index3{x, y, z});
          }
        }
    QVERIFY(expected > 100);
    QCOMPARE(r.voxelsChanged, expected);
    QCOMPARE(r.changed.lo, box.lo);
    QCOMPARE(r.changed.hi, box.hi);
    // Along z (2.5 mm) the sphere reaches only one slice each way.
    QCOMPARE(box.lo[2], int64_t{10});
    QCOMPARE(box.hi[2], int64_t{13});
  }

  void diskBrushInEachPlaneAndSquare()
  {
    const Geometry g = makeGeometry({30, 30, 30}, {0.8, 1.1, 1.7});
    for (int axis = 0; axis < 3; ++axis)
      for (BrushShape shape : {BrushShape::Round, BrushShape::Square})
      {
        LabelEditor ed(nullptr, LabelMask(g, 0));
        const Index3 c{15, 14, 13};
        Brush b;
        b.radiusMm = 3.5;
        b.shape = shape;
        b.planeAxis = axis;
        ed.stamp(c, b, PaintSettings{});
        for (int64_t z = 0; z < 30; ++z)
          for (int64_t y = 0; y < 30; ++y)
            for (int64_t x = 0; x < 30; ++x)
            {
              const Index3 p{x, y, z};
              bool in = p[axis] == c[axis];
              if (shape == BrushShape::Round)
                in = in && physicalDistance2(g, p, c) <= 3.5 * 3.5;
              else
                for (int a = 0; a < 3; ++a)
                  in = in && std::abs(double(p[a] - c[a])) * g.spacingMm[a] <= 3.5;
              if (int(ed.mask().at(x, y, z)) != (in ? 1 : 0))
                QFAIL(qPrintable(QString("axis %1 shape %2 voxel %3,%4,%5")
                                     .arg(axis)
                                     .arg(int(shape))
                                     .arg(x)
                                     .arg(y)
                                     .arg(z)));
            }
      }
  }

  void overwriteRulesAndEraser()
  {
    const Geometry g = makeGeometry({20, 20, 5}, {1, 1, 1});
    LabelMask m(g, 0);
    paintBox(m, {0, 0, 2}, {10, 20, 3}, 2); // left half of slice 2 = label 2
    LabelEditor ed(nullptr, m);
    Brush b;
    b.radiusMm = 4;
    PaintSettings p;
    p.label = 1;
    p.overwrite = Overwrite::BackgroundOnly;
    ed.stamp({10, 10, 2}, b, p);
    QCOMPARE(int(ed.mask().at(9, 10, 2)), 2); // label 2 kept
    QCOMPARE(int(ed.mask().at(10, 10, 2)), 1);
    p.overwrite = Overwrite::AllLabels;
    ed.stamp({10, 10, 2}, b, p);
    QCOMPARE(int(ed.mask().at(9, 10, 2)), 1);
    // The eraser clears only the active label unless told otherwise.
    p.label = 2;
    ed.stamp({10, 10, 2}, b, p, true);
    QCOMPARE(int(ed.mask().at(10, 10, 2)), 1);
    p.eraseAllLabels = true;
    ed.stamp({10, 10, 2}, b, p, true);
    QCOMPARE(int(ed.mask().at(10, 10, 2)), 0);
    QCOMPARE(int(ed.mask().at(9, 10, 2)), 0);
    QCOMPARE(int(ed.mask().at(2, 10, 2)), 2); // outside the brush
  }

  void thresholdPaintRespectsRange()
  {
    const Geometry g = makeGeometry({32, 32, 8}, {0.75, 0.75, 3.0});
    auto image = std::make_shared<Image>(g, 0.0f);
    for (int64_t i = 0; i < g.voxelCount(); ++i)
      image->voxels[size_t(i)] = float((i * 37) % 700) - 300.0f; // -300..399 HU
    LabelEditor ed(image, LabelMask(g, 0));
    Brush b;
    b.radiusMm = 6;
    b.is3D = true;
    PaintSettings p;
    p.label = 7;
    p.range = pancreasCtRange();
    QCOMPARE(p.range.minimum, -100.0f);
    QCOMPARE(p.range.maximum, 240.0f);
    const Index3 c{16, 16, 4};
    ed.stamp(c, b, p);
    int64_t painted = 0, skipped = 0;
    for (int64_t z = 0; z < 8; ++z)
      for (int64_t y = 0; y < 32; ++y)
        for (int64_t x = 0; x < 32; ++x)
        {
          const float v = image->at(x, y, z);
          const bool in = physicalDistance2(g, {x, y, z}, c) <= 36.0 && v >= -100.0f && v <= 240.0f;
          QCOMPARE(int(ed.mask().at(x, y, z)), in ? 7 : 0);
          painted += in;
          skipped += !in && physicalDistance2(g, {x, y, z}, c) <= 36.0;
        }
    QVERIFY(painted > 50);
    QVERIFY(skipped > 50);
  }

  void polygonFillOnAxialAndCoronalSlices()
  {
    const Geometry g = makeGeometry({40, 30, 20}, {0.9, 0.9, 2.0});
    // Concave polygon (an arrow) with non-integer vertices.
    const std::vector<Point2> poly{
        {2.3, 3.1}, {30.7, 4.2}, {18.5, 12.5}, {33.2, 25.9}, {4.1, 17.6}};
    for (int axis : {2, 1, 0})
    {
      LabelEditor ed(nullptr, LabelMask(g, 0));
      const SlicePlane plane{axis, 7};
      PaintSettings p;
      p.label = 4;
      const EditResult r = ed.fillPolygon(plane, poly, p);
      const auto [au, av] = planeAxes(axis);
      int64_t expected = 0;
      for (int64_t z = 0; z < g.size[2]; ++z)
        for (int64_t y = 0; y < g.size[1]; ++y)
          for (int64_t x = 0; x < g.size[0]; ++x)
          {
            const Index3 q{x, y, z};
            const bool in = q[axis] == 7 && pnpoly(poly, double(q[au]), double(q[av]));
            QCOMPARE(int(ed.mask().at(x, y, z)), in ? 4 : 0);
            expected += in;
          }
      QVERIFY(expected > 40);
      QCOMPARE(r.voxelsChanged, expected);
    }
  }

  void lassoAndScissors()
  {
    const Geometry g = makeGeometry({40, 40, 12}, {1, 1, 1});
    LabelMask m(g, 0);
    paintBox(m, {5, 5, 0}, {35, 35, 12}, 1);
    paintBox(m, {5, 5, 6}, {10, 10, 7}, 2);
    LabelEditor ed(nullptr, m);
    std::vector<Point2> circle; // freehand lasso: 64 points
    for (int i = 0; i < 64; ++i)
      circle.push_back({20 + 8 * std::cos(i * M_PI / 32), 20 + 8 * std::sin(i * M_PI / 32)});
    PaintSettings p;
    p.label = 1;
    ed.scissors(2, circle, true, p); // cut inside, through every slice
    for (int64_t z = 0; z < 12; ++z)
      for (int64_t y = 0; y < 40; ++y)
        for (int64_t x = 0; x < 40; ++x)
        {
          const bool cut = pnpoly(circle, double(x), double(y));
          const int original = m.at(x, y, z);
          QCOMPARE(int(ed.mask().at(x, y, z)), cut && original == 1 ? 0 : original);
        }
    QCOMPARE(int(ed.mask().at(20, 20, 11)), 0);
    // Cut outside: only the circle stays (label 2 is kept: it is not the active label).
    ed.undo();
    ed.scissors(2, circle, false, p);
    QCOMPARE(int(ed.mask().at(20, 20, 3)), 1);
    QCOMPARE(int(ed.mask().at(6, 30, 3)), 0);
    QCOMPARE(int(ed.mask().at(6, 6, 6)), 2);
  }

  void interpolationBetweenDisks()
  {
    const Geometry g = makeGeometry({64, 64, 11}, {1.0, 1.0, 2.0});
    LabelMask m(g, 0);
    paintDisk(m, 0, 32, 32, 6, 1);
    paintDisk(m, 10, 32, 32, 16, 1);
    LabelEditor ed(nullptr, m);
    const InterpolationProposal prop = ed.interpolateSlices(1, 2);
    QCOMPARE(prop.keySlices, (std::vector<int64_t>{0, 10}));
    QCOMPARE(int(prop.filledSlices.size()), 9);
    QCOMPARE(ed.mask().voxels, m.voxels); // nothing changes before accepting
    const EditResult r = ed.applyProposal(prop);
    QCOMPARE(r.voxelsChanged, int64_t(prop.offsets.size()));
    // Slice z must be the disk of radius r(z) = 6 + z to within half a voxel: it contains the
    // disk of radius r - 0.5 and lies inside the disk of radius r + 0.5; its area is within 5%
    // of pi r^2 and grows monotonically.
    int64_t prev = sliceArea(ed.mask(), 0, 1);
    for (int64_t z = 1; z < 10; ++z)
    {
      const double radius = 6 + (16 - 6) * z / 10.0;
      for (int64_t y = 0; y < 64; ++y)
        for (int64_t x = 0; x < 64; ++x)
        {
          const double rho = std::hypot(x - 32.0, y - 32.0);
          const bool in = ed.mask().at(x, y, z) == 1;
          if ((rho <= radius - 0.5 && !in) || (rho > radius + 0.5 && in))
            QFAIL(qPrintable(
                QString("slice %1 voxel %2,%3 (radius %4)").arg(z).arg(x).arg(y).arg(rho)));
        }
      const int64_t area = sliceArea(ed.mask(), z, 1);
      const double expected = M_PI * radius * radius;
      if (z >= 3)
        QVERIFY2(
            std::abs(area - expected) / expected < 0.05,
            qPrintable(QString("slice %1 area %2 expected %3").arg(z).arg(area).arg(expected)));
      QVERIFY(area > prev);
      prev = area;
    }
    ed.undo();
    QCOMPARE(ed.mask().voxels, m.voxels);
  }

  void interpolationOfIdenticalShapesIsExact()
  {
    const Geometry g = makeGeometry({30, 30, 9}, {0.7, 1.3, 3.0});
    LabelMask m(g, 0);
    paintBox(m, {4, 6, 1}, {20, 13, 2}, 5);
    paintBox(m, {4, 6, 7}, {20, 13, 8}, 5);
    m.at(10, 20, 4) = 3; // another label in the gap is never overwritten
    LabelEditor ed(nullptr, m);
    ed.applyProposal(ed.interpolateSlices(5, 2));
    for (int64_t z = 1; z < 8; ++z)
      for (int64_t y = 0; y < 30; ++y)
        for (int64_t x = 0; x < 30; ++x)
        {
          if (x == 10 && y == 20 && z == 4)
            continue;
          QCOMPARE(int(ed.mask().at(x, y, z)), (x >= 4 && x < 20 && y >= 6 && y < 13) ? 5 : 0);
        }
    QCOMPARE(int(ed.mask().at(10, 20, 4)), 3);
    QCOMPARE(int(ed.mask().at(5, 7, 0)), 0);
  }

  void undoRedoManySteps()
  {
    const Geometry g = makeGeometry({64, 64, 32}, {0.8, 0.8, 2.0});
    LabelEditor ed(nullptr, LabelMask(g, 0));
    ed.setUndoLimit(10); // never below 50
    QCOMPARE(ed.undoLimit(), size_t{50});
    Brush b;
    b.radiusMm = 3;
    b.is3D = true;
    std::vector<std::vector<uint8_t>> states{ed.mask().voxels};
    for (int i = 0; states.size() < 61; ++i)
    {
      PaintSettings p;
      p.label = 1 + i % 3;
      // Every 7th edit erases; an edit that changes nothing is no undo step.
      if (ed.stamp({5 + i % 55, 10 + (i * 7) % 40, 3 + i % 25}, b, p, i % 7 == 6).voxelsChanged > 0)
        states.push_back(ed.mask().voxels);
    }
    QCOMPARE(ed.undoCount(), size_t{50});
    QVERIFY(ed.isModified());
    const size_t maskBytes = ed.mask().voxels.size();
    QVERIFY2(ed.undoMemoryBytes() * 20 < 50 * maskBytes,
             qPrintable(QString::number(ed.undoMemoryBytes())));
    for (int i = 59; i >= 10; --i)
    {
      ed.undo();
      QVERIFY2(ed.mask().voxels == states[size_t(i)],
               qPrintable(QString("after undo to state %1").arg(i)));
    }
    QVERIFY(!ed.canUndo());
    QCOMPARE(ed.undo().voxelsChanged, int64_t{0});
    for (int i = 11; i <= 40; ++i)
    {
      const EditResult r = ed.redo();
      QVERIFY(!r.changed.empty());
      QVERIFY(ed.mask().voxels == states[size_t(i)]);
    }
    // A new edit drops the redo steps.
    Brush b2;
    b2.radiusMm = 1;
    ed.stamp({1, 1, 1}, b2, PaintSettings{});
    QVERIFY(!ed.canRedo());
  }

  void strokeIsOneStepAndSavedStateTracksUndo()
  {
    const Geometry g = makeGeometry({50, 50, 4}, {1, 1, 1});
    LabelEditor ed(nullptr, LabelMask(g, 0));
    QVERIFY(!ed.isModified());
    Brush b;
    b.radiusMm = 2;
    ed.beginStroke();
    ed.strokeSegment({5, 5, 1}, {40, 20, 1}, b, PaintSettings{});
    ed.strokeSegment({40, 20, 1}, {40, 45, 1}, b, PaintSettings{});
    const EditResult r = ed.endStroke();
    QCOMPARE(ed.undoCount(), size_t{1});
    QCOMPARE(r.voxelsChanged, ed.mask().countLabel(1));
    QCOMPARE(r.changed.lo, (Index3{3, 3, 1}));
    QCOMPARE(r.changed.hi, (Index3{43, 48, 2}));
    QCOMPARE(int(ed.mask().at(22, 12, 1)), 1); // on the line between the ends
    ed.markSaved();
    QVERIFY(!ed.isModified());
    ed.undo();
    QVERIFY(ed.isModified());
    QCOMPARE(ed.mask().countLabel(0), int64_t{0});
    ed.redo();
    QVERIFY(!ed.isModified());
  }

  void morphologyInMm()
  {
    const Geometry g = makeGeometry({30, 30, 30}, {1, 1, 1});
    {
      LabelMask m(g, 0);
      m.at(15, 15, 15) = 1;
      LabelEditor ed(nullptr, m);
      ed.dilate(1, 1.0); // 6-neighbourhood
      QCOMPARE(ed.mask().countLabel(1), int64_t{7});
      ed.erode(1, 1.0);
      QCOMPARE(ed.mask().countLabel(1), int64_t{1});
    }
    {
      // Closing bridges a 1-voxel gap between two blocks; opening removes a thin spur.
      LabelMask m(g, 0);
      paintBox(m, {5, 5, 5}, {14, 25, 25}, 1);
      paintBox(m, {15, 5, 5}, {25, 25, 25}, 1);
      LabelEditor ed(nullptr, m);
      ed.closing(1, 2.0);
      QCOMPARE(int(ed.mask().at(14, 15, 15)), 1);
      QCOMPARE(int(ed.mask().at(4, 15, 15)), 0);
      // The 1-voxel notch stays open only on the outer faces, where a 2 mm ball fits into it.
      QCOMPARE(ed.mask().countLabel(1), int64_t{20 * 20 * 20 - (4 * 20 - 4)});
      QCOMPARE(int(ed.mask().at(14, 5, 15)), 0);
    }
    {
      LabelMask m(g, 0);
      paintBox(m, {5, 5, 5}, {15, 15, 15}, 1);
      paintBox(m, {15, 9, 9}, {25, 10, 10}, 1); // 1-voxel spur
      m.at(27, 27, 27) = 2;                     // other label untouched
      LabelEditor ed(nullptr, m);
      ed.opening(1, 1.5);
      QCOMPARE(int(ed.mask().at(20, 9, 9)), 0);
      QCOMPARE(int(ed.mask().at(10, 10, 10)), 1);
      QCOMPARE(int(ed.mask().at(27, 27, 27)), 2);
      ed.undo();
      QCOMPARE(ed.mask().voxels, m.voxels);
      ed.median(1, 1.5); // removes the spur as well, keeps the block's interior
      QCOMPARE(int(ed.mask().at(20, 9, 9)), 0);
      QCOMPARE(int(ed.mask().at(10, 10, 10)), 1);
    }
    // Anisotropic element: 2 mm reaches 2 voxels in x (1 mm) but none in z (2.5 mm).
    {
      LabelMask m(makeGeometry({20, 20, 20}, {1, 1, 2.5}), 0);
      m.at(10, 10, 10) = 1;
      LabelEditor ed(nullptr, m);
      ed.dilate(1, 2.0);
      QCOMPARE(int(ed.mask().at(12, 10, 10)), 1);
      QCOMPARE(int(ed.mask().at(10, 10, 11)), 0);
    }
  }

  void fillHolesLargestComponentIslands()
  {
    const Geometry g = makeGeometry({30, 30, 30}, {2, 2, 2}); // 8 mm^3 per voxel
    LabelMask m(g, 0);
    paintBox(m, {2, 2, 2}, {12, 12, 12}, 1);
    paintBox(m, {4, 4, 4}, {8, 8, 8}, 0);       // enclosed cavity of 64 voxels
    m.at(5, 5, 5) = 3;                          // other label inside the cavity stays
    paintBox(m, {20, 20, 20}, {26, 26, 26}, 1); // 216 voxels = 1.728 mL
    paintBox(m, {20, 2, 2}, {23, 5, 5}, 1);     // 27 voxels = 0.216 mL
    paintBox(m, {2, 20, 2}, {6, 24, 3}, 1);     // open dish: not a hole
    LabelEditor ed(nullptr, m);
    const EditResult h = ed.fillHoles(1);
    QCOMPARE(h.voxelsChanged, int64_t{63});
    QCOMPARE(int(ed.mask().at(6, 6, 6)), 1);
    QCOMPARE(int(ed.mask().at(5, 5, 5)), 3);
    const int64_t afterFill = ed.mask().countLabel(1);
    ed.removeIslands(1, 0.2); // keeps >= 0.2 mL
    QCOMPARE(ed.mask().countLabel(1), afterFill - 16);
    ed.removeIslands(1, 0.3);
    QCOMPARE(ed.mask().countLabel(1), afterFill - 16 - 27);
    ed.keepLargestComponent(1);
    QCOMPARE(ed.mask().countLabel(1), int64_t{1000 - 1}); // the big cube (one voxel is label 3)
    ed.undo();
    ed.undo();
    ed.undo();
    ed.undo();
    QCOMPARE(ed.mask().voxels, m.voxels);
  }

  void recoveryFileRoundTripAndDamage()
  {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    Geometry g = makeGeometry({33, 21, 17}, {0.7, 0.8, 2.5});
    g.direction = {0, 1, 0, -1, 0, 0, 0, 0, 1};
    Recovery r;
    r.imagePath = "/data/ct 1.nii.gz";
    r.note = "series 4, edited from version 2";
    r.savedAtMs = 1234567890123;
    r.mask = LabelMask(g, 0);
    for (size_t i = 0; i < r.mask.voxels.size(); i += 7)
      r.mask.voxels[i] = uint8_t(i % 5);
    const std::string path = (dir.path() + "/unsaved.psrec").toStdString();
    writeRecoveryFile(path, r);
    const Recovery back = readRecoveryFile(path);
    QCOMPARE(back.imagePath, r.imagePath);
    QCOMPARE(back.note, r.note);
    QCOMPARE(back.savedAtMs, r.savedAtMs);
    QVERIFY(back.mask.geometry.sameGrid(g));
    QVERIFY(back.mask.voxels == r.mask.voxels);
    // Truncated and foreign files are refused with a message naming the file.
    QFile f(QString::fromStdString(path));
    QVERIFY(f.open(QIODevice::ReadWrite));
    f.resize(f.size() - 3);
    f.close();
    try
    {
      readRecoveryFile(path);
      QFAIL("a truncated recovery file was accepted");
    }
    catch (const panseg::Error& e)
    {
      QVERIFY2(QString(e.what()).contains("truncated"), e.what());
    }
    QVERIFY_THROWS_EXCEPTION(panseg::Error,
                             readRecoveryFile((dir.path() + "/missing.psrec").toStdString()));
  }

  void comparisonCountsMatchCoreMetrics()
  {
    const Geometry g = makeGeometry({30, 24, 12}, {0.8, 0.8, 2.5});
    LabelMask a(g, 0), b(g, 0);
    paintBox(a, {4, 4, 2}, {16, 14, 8}, 1);
    paintBox(b, {8, 6, 3}, {20, 18, 9}, 2);
    b.at(0, 0, 0) = 3;
    const OverlapCounts c = countOverlap(a, 1, b, 2);
    const AgreementResult ref = computeAgreement(a, 1, b, 2);
    QCOMPARE(c.both, int64_t(8 * 8 * 5));
    QCOMPARE(c.both + c.onlyA, a.countLabel(1));
    QVERIFY(std::abs(c.dice() - ref.dice) < 1e-12);
    QVERIFY(std::abs(c.volumeAMl() - ref.volumeAMl) < 1e-9);
    QVERIFY(std::abs(c.volumeBMl() - ref.volumeBMl) < 1e-9);
    QCOMPARE(countOverlap(a, 0, b, 0).onlyB, c.onlyB + 1); // label 0 = any label
    QCOMPARE(countOverlap(LabelMask(g, 0), 0, LabelMask(g, 0), 0).dice(), 1.0);
    const std::vector<uint8_t> cls = agreementClasses({0, 1, 1, 0, 2}, 1, {0, 1, 0, 5, 5}, 5);
    QCOMPARE(cls,
             (std::vector<uint8_t>{AgreeNone, AgreeOnlyA, AgreeOnlyA, AgreeOnlyB, AgreeOnlyB}));
    Geometry other = g;
    other.originMm[0] += 5;
    QVERIFY_THROWS_EXCEPTION(panseg::Error, countOverlap(a, 1, LabelMask(other, 0), 1));
  }

  void badInput()
  {
    const Geometry g = makeGeometry({10, 10, 10}, {1, 1, 1});
    LabelEditor ed(nullptr, LabelMask(g, 0));
    PaintSettings p;
    Brush b;
    p.label = 0;
    QVERIFY_THROWS_EXCEPTION(panseg::Error, ed.stamp({5, 5, 5}, b, p));
    p.label = 256;
    QVERIFY_THROWS_EXCEPTION(panseg::Error, ed.stamp({5, 5, 5}, b, p));
    p.label = 1;
    b.radiusMm = 0;
    QVERIFY_THROWS_EXCEPTION(panseg::Error, ed.stamp({5, 5, 5}, b, p));
    b.radiusMm = std::nan("");
    QVERIFY_THROWS_EXCEPTION(panseg::Error, ed.stamp({5, 5, 5}, b, p));
    b.radiusMm = 2;
    p.range = pancreasCtRange(); // no image to threshold
    QVERIFY_THROWS_EXCEPTION(panseg::Error, ed.stamp({5, 5, 5}, b, p));
    p.range = IntensityRange{};
    QVERIFY_THROWS_EXCEPTION(panseg::Error, ed.fillPolygon({2, 3}, {{1, 1}, {5, 5}}, p));
    QVERIFY_THROWS_EXCEPTION(panseg::Error, ed.fillPolygon({2, 10}, {{1, 1}, {5, 5}, {1, 5}}, p));
    QVERIFY_THROWS_EXCEPTION(panseg::Error, ed.fillPolygon({3, 1}, {{1, 1}, {5, 5}, {1, 5}}, p));
    QVERIFY_THROWS_EXCEPTION(panseg::Error, ed.scissors(2, {{1, 1}}, true, p));
    QVERIFY_THROWS_EXCEPTION(panseg::Error, ed.interpolateSlices(300, 2));
    QVERIFY_THROWS_EXCEPTION(panseg::Error, ed.closing(1, -1.0));
    QVERIFY_THROWS_EXCEPTION(panseg::Error, ed.removeIslands(1, -0.5));
    InterpolationProposal bogus;
    bogus.offsets = {size_t(5000)};
    QVERIFY_THROWS_EXCEPTION(panseg::Error, ed.applyProposal(bogus));
    QCOMPARE(ed.mask().countLabel(0), int64_t{0}); // nothing changed by the failures
    QCOMPARE(ed.undoCount(), size_t{0});
    // Mismatched grid.
    auto image = std::make_shared<Image>(g, 0.0f);
    Geometry other = g;
    other.spacingMm[2] = 1.5;
    try
    {
      LabelEditor bad(image, LabelMask(other, 0));
      QFAIL("a mask on another grid was accepted");
    }
    catch (const panseg::Error& e)
    {
      QVERIFY(QString(e.what()).contains("grid"));
    }
    LabelEditor good(image, LabelMask(g, 0));
    QVERIFY_THROWS_EXCEPTION(panseg::Error, good.resetMask(LabelMask(other, 0)));
    QCOMPARE(good.mask().geometry.spacingMm[2], 1.0);
  }
};

QTEST_GUILESS_MAIN(TestEdit)
#include "tst_edit.moc"
