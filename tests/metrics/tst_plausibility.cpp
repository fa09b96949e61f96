// The plausibility check of pancreas masks (core/metrics/Plausibility.h): volume, 26-connected
// components, position and coverage on synthetic masks with known answers, the limits'
// validation, and real label maps from ../shared/data (TotalSegmentator's pancreas of a real CT:
// plausible; the same label on the 20-slice DICOM series: partial and too small).
#include "../SharedData.h"

#include "core/Error.h"
#include "core/metrics/Plausibility.h"
#ifdef PANSEG_HAVE_IO
#include "core/io/ImageIO.h"
#endif

#include <QtTest>

#include <algorithm>
#include <cmath>

using namespace panseg;

namespace
{
/// 3 x 3 x 3 mm voxels, 100 x 100 x 60 (an abdomen-sized field of view: 300 x 300 x 180 mm), LPS.
Geometry abdomen()
{
  Geometry g;
  g.size = { 100, 100, 60 };
  g.spacingMm = { 3.0, 3.0, 3.0 };
  return g;
}

/// An axis-aligned ellipsoid of label `label` centred at voxel (cx, cy, cz) with radii in voxels.
void ellipsoid(LabelMask& m, double cx, double cy, double cz, double rx, double ry, double rz, uint8_t label = 1)
{
  for (int64_t z = 0; z < m.nz(); ++z)
    for (int64_t y = 0; y < m.ny(); ++y)
      for (int64_t x = 0; x < m.nx(); ++x)
      {
        const double dx = (double(x) - cx) / rx, dy = (double(y) - cy) / ry, dz = (double(z) - cz) / rz;
        if (dx * dx + dy * dy + dz * dz <= 1.0)
          m.at(x, y, z) = label;
      }
}

bool has(const PlausibilityReport& r, const std::string& code)
{
  return std::any_of(r.findings.begin(), r.findings.end(), [&](const PlausibilityFinding& f) { return f.code == code; });
}

QString codes(const PlausibilityReport& r)
{
  QStringList out;
  for (const auto& f : r.findings)
    out << QString::fromStdString(f.code);
  return out.join(",");
}
} // namespace

class TestPlausibility : public QObject
{
  Q_OBJECT
private slots:
  void plausibleGlandHasNoFinding()
  {
    LabelMask m(abdomen());
    ellipsoid(m, 50, 50, 30, 8, 4, 6); // ~ 800 voxels of 27 mm³ = ~ 22 mL
    const PlausibilityReport r = assessPlausibility(m, 1);
    QVERIFY2(!r.flagged(), qPrintable(codes(r) + ": " + QString::fromStdString(r.summary())));
    QCOMPARE(r.components, 1);
    QCOMPARE(r.largestShare, 1.0);
    QVERIFY(r.volumeMl > 15 && r.volumeMl < 30);
    QCOMPARE(r.headFootAxis, 2);
    QVERIFY(std::abs(r.centroidRelative[0] - 50.0 / 99.0) < 1e-9);
    QCOMPARE(r.summary(), std::string("plausible"));
  }

  void tinyPredictionIsFlaggedWithItsVolume()
  {
    // The case: 1.84 mL where the gland has about 20 mL.
    LabelMask m(abdomen());
    ellipsoid(m, 50, 50, 30, 3, 2, 2.5);
    const PlausibilityReport r = assessPlausibility(m, 1);
    QVERIFY(r.volumeMl < 10);
    QVERIFY(has(r, "volume-low"));
    QCOMPARE(r.findings.size(), size_t(1));
    QVERIFY2(r.summary().find("mL is below 10.0 mL") != std::string::npos, r.summary().c_str());
  }

  void hugeVolumeIsFlagged()
  {
    LabelMask m(abdomen());
    ellipsoid(m, 50, 50, 30, 25, 20, 15); // ~ 31,000 voxels = ~ 850 mL
    const PlausibilityReport r = assessPlausibility(m, 1);
    QVERIFY(has(r, "volume-high"));
  }

  void headAndBodyMayComeApartButNotMore()
  {
    // Two pieces of about half each (a gland split at the neck): allowed.
    LabelMask m(abdomen());
    ellipsoid(m, 38, 50, 30, 5, 4, 5);
    ellipsoid(m, 62, 50, 30, 5, 4, 5);
    PlausibilityReport r = assessPlausibility(m, 1);
    QCOMPARE(r.components, 2);
    QVERIFY(std::abs(r.largestShare - 0.5) < 0.01);
    QCOMPARE(r.mainShare, 1.0);
    QVERIFY2(!r.flagged(), r.summary().c_str());
    // Three equal pieces: the two largest hold two thirds.
    ellipsoid(m, 50, 25, 30, 5, 4, 5);
    r = assessPlausibility(m, 1);
    QCOMPARE(r.components, 3);
    QVERIFY(std::abs(r.mainShare - 2.0 / 3.0) < 0.01);
    QVERIFY(has(r, "fragmented"));
    QVERIFY2(r.summary().find("the two largest pieces hold only 67 %") != std::string::npos, r.summary().c_str());
    QVERIFY(!has(r, "components")); // 3 <= 8
    QCOMPARE(r.componentVoxels.size(), size_t(3));
    QCOMPARE(r.componentVoxels[0], r.componentVoxels[2]);
  }

  void diagonalNeighboursAreOneComponent()
  {
    // 26-connectivity: voxels touching only at a corner belong together.
    LabelMask m(abdomen());
    ellipsoid(m, 50, 50, 30, 8, 4, 6);
    for (int k = 0; k < 6; ++k)
      m.at(20 + k, 20 + k, 10 + k) = 1; // a diagonal chain, one component
    const PlausibilityReport r = assessPlausibility(m, 1);
    QCOMPARE(r.components, 2);
  }

  void manySpecksAreTooManyComponents()
  {
    LabelMask m(abdomen());
    ellipsoid(m, 50, 50, 30, 8, 4, 6);
    for (int k = 0; k < 9; ++k)
      m.at(30 + 3 * k, 70, 20) = 1; // 9 isolated voxels: 10 components, largest still > 95 %
    const PlausibilityReport r = assessPlausibility(m, 1);
    QCOMPARE(r.components, 10);
    QVERIFY2(r.summary().find("10 separate pieces (at most 8 expected)") != std::string::npos, r.summary().c_str());
    QVERIFY(has(r, "components"));
    QVERIFY(!has(r, "fragmented"));
  }

  void maskAtTheImageEdgeIsOffCentreAndTouchesTheBorder()
  {
    LabelMask m(abdomen());
    ellipsoid(m, 4, 50, 30, 8, 4, 6); // cut by the x = 0 face
    const PlausibilityReport r = assessPlausibility(m, 1);
    QVERIFY2(has(r, "off-centre") && has(r, "border"), qPrintable(codes(r)));
    // Index x grows toward the patient's left in LPS: x = 0 is the patient-right edge.
    QVERIFY2(r.summary().find("patient-right") != std::string::npos, r.summary().c_str());
  }

  void reachingTheLastSliceIsPartial()
  {
    LabelMask m(abdomen());
    ellipsoid(m, 50, 50, 58, 8, 4, 6); // beyond z = 59
    const PlausibilityReport r = assessPlausibility(m, 1);
    QVERIFY(has(r, "partial"));
    QVERIFY2(r.summary().find("superior end") != std::string::npos, r.summary().c_str());
    PlausibilityLimits off;
    off.flagPartialCoverage = false;
    QVERIFY(!has(assessPlausibility(m, 1, off), "partial"));
  }

  void headFootAxisFollowsTheDirection()
  {
    // A sagittal acquisition: index z runs along patient left, index y along superior.
    Geometry g = abdomen();
    g.direction = { 0, 0, 1, 1, 0, 0, 0, 1, 0 }; // columns: x -> P, y -> S, z -> L
    LabelMask m(g);
    ellipsoid(m, 50, 99, 30, 8, 6, 4); // reaches the last index along y = the superior end
    const PlausibilityReport r = assessPlausibility(m, 1);
    QCOMPARE(r.headFootAxis, 1);
    QVERIFY(has(r, "partial"));
    QVERIFY(!has(r, "border")); // y is not in-plane here
  }

  void emptyMaskAndOtherLabels()
  {
    LabelMask m(abdomen());
    QVERIFY(has(assessPlausibility(m, 0), "empty"));
    ellipsoid(m, 50, 50, 30, 8, 4, 6, 2);
    QVERIFY(has(assessPlausibility(m, 1), "empty"));  // label 1 absent
    QVERIFY(!assessPlausibility(m, 2).flagged());
    QVERIFY(!assessPlausibility(m, 0).flagged());     // any non-zero
  }

  void trainingRangeAndCustomLimits()
  {
    LabelMask m(abdomen());
    ellipsoid(m, 50, 50, 30, 8, 4, 6);
    PlausibilityLimits l;
    l.trainingVolumeMl = std::array<double, 2>{ 40.0, 120.0 };
    const PlausibilityReport r = assessPlausibility(m, 1, l);
    QVERIFY(has(r, "outside-training-range"));
    QVERIFY(r.summary().find("training data (40.0-120.0 mL)") != std::string::npos);
    l.trainingVolumeMl.reset();
    l.minVolumeMl = 30;
    QVERIFY(has(assessPlausibility(m, 1, l), "volume-low"));
  }

  void badLimitsAreNamed()
  {
    auto message = [](PlausibilityLimits l) {
      try
      {
        l.validate("model.json");
      }
      catch (const Error& e)
      {
        return QString::fromStdString(e.what());
      }
      return QString();
    };
    PlausibilityLimits l;
    QVERIFY(message(l).isEmpty());
    l.minVolumeMl = 300;
    QVERIFY(message(l).contains("must be below max_volume_ml"));
    l = {};
    l.minMainShare = 1.5;
    QVERIFY(message(l).contains("min_two_largest_share"));
    l = {};
    l.maxComponents = 0;
    QVERIFY(message(l).contains("max_components"));
    l = {};
    l.borderMargin = 0.7;
    QVERIFY(message(l).contains("border_margin"));
    l = {};
    l.trainingVolumeMl = std::array<double, 2>{ 50.0, 20.0 };
    QVERIFY(message(l).contains("training_volume_ml"));
  }

  void realPancreasOfARealCt()
  {
#ifndef PANSEG_HAVE_IO
    QSKIP("built without panseg_io");
#else
    const QString path = paths::shared("data/totalsegmentator/ct_full/pancreas_v1_2022.nii.gz");
    if (!QFileInfo::exists(path))
      QSKIP(qPrintable("../shared is not here: " + path));
    // TotalSegmentator v1 pancreas of a real abdomen/pelvis CT: 818 voxels = 22.09 mL. At 3 mm it
    // is two pieces (head and body/tail, 425 and 390 voxels) and two specks: plausible.
    const PlausibilityReport r = assessPlausibility(readMask(path.toStdString()), 0);
    QVERIFY(std::abs(r.volumeMl - 22.09) < 0.01);
    QVERIFY2(!r.flagged(), r.summary().c_str());
    QCOMPARE(r.components, 4);
    QCOMPARE(r.componentVoxels[0], int64_t(425));
    QCOMPARE(r.componentVoxels[1], int64_t(390));
    QVERIFY(r.centroidRelative[0] > 0.3 && r.centroidRelative[0] < 0.7);
    QVERIFY(r.centroidRelative[1] > 0.3 && r.centroidRelative[1] < 0.7);

    struct Case
    {
      const char* file;
      int label;
      double ml;
      QStringList findings; // exactly these
    };
    const Case cases[] = {
      // The v2 models on the full CT and on its top 30 slices: plausible.
      { "data/totalsegmentator/ct_full/example_seg_fast_force_split.nii.gz", 7, 18.77, {} },
      { "data/totalsegmentator/ct_small/example_seg.nii.gz", 7, 17.39, {} },
      { "data/totalsegmentator/ct_small/example_seg_fast.nii.gz", 7, 14.80, {} },
      // The 20-slice MR crop cuts the gland at its inferior end.
      { "data/totalsegmentator/mr_small/example_seg_mr.nii.gz", 7, 31.75, { "partial" } },
      // The 20-slice DICOM series covers only the gland's lower 4 slices.
      { "data/totalsegmentator/ct_dicom/example_seg_dicom.nii.gz", 7, 2.53, { "volume-low", "partial" } },
    };
    for (const Case& c : cases)
    {
      const PlausibilityReport x = assessPlausibility(readMask(paths::shared(c.file).toStdString()), c.label);
      QVERIFY2(std::abs(x.volumeMl - c.ml) < 0.01, c.file);
      QCOMPARE(codes(x), c.findings.join(","));
    }
#endif
  }
};

QTEST_APPLESS_MAIN(TestPlausibility)
#include "tst_plausibility.moc"
