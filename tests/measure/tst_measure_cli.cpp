// `panseg measure` run as a separate process: statistics and axis lengths of a synthetic box on a
// rotated anisotropic grid (hand-computed values and core/measure in-process), the real
// TotalSegmentator pancreas, distances in LPS mm and in voxel indices, and the usage errors.
#include "../ProcessRun.h"
#include "../SharedData.h"

#include "core/io/ImageIO.h"
#include "core/measure/Measurement.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace panseg;
using testproc::Run;
using testproc::show;

namespace
{
Run runPanseg(const QStringList& args)
{
  return testproc::run(PANSEG_EXE, args, 120000);
}

QJsonObject json(const Run& r)
{
  return QJsonDocument::fromJson(r.out.toUtf8()).object();
}

bool near(double a, double b, double tol = 1e-4)
{
  return std::abs(a - b) <= tol;
}
} // namespace

class TestMeasureCli : public QObject
{
  Q_OBJECT
  QTemporaryDir m_tmp;
  QString m_image, m_mask;
  Geometry m_geometry;

private slots:
  void initTestCase()
  {
    QVERIFY(m_tmp.isValid());
    // A CT-like image on a grid rotated 30 degrees about S, 0.7 x 0.9 x 2.5 mm; a 4 x 3 x 2 box of
    // label 2 with intensities 0..23 and one voxel of label 1.
    Geometry g;
    g.size = {12, 10, 8};
    g.spacingMm = {0.7, 0.9, 2.5};
    const double c = std::cos(M_PI / 6), s = std::sin(M_PI / 6);
    g.direction = {c, -s, 0, s, c, 0, 0, 0, 1};
    g.originMm = {-20.0, 35.0, 110.0};
    Image img(g, -1000.0f);
    img.info.modality = "CT";
    LabelMask m(g, 0);
    float v = 0;
    for (int64_t z = 3; z <= 4; ++z)
      for (int64_t y = 2; y <= 4; ++y)
        for (int64_t x = 3; x <= 6; ++x)
        {
          m.at(x, y, z) = 2;
          img.at(x, y, z) = v++;
        }
    m.at(10, 8, 7) = 1;
    m_image = m_tmp.filePath("box_ct.nii.gz");
    m_mask = m_tmp.filePath("box_seg.nii.gz");
    writeImage(img, m_image.toStdString());
    writeMask(m, m_mask.toStdString());
    m_geometry = readImage(m_image.toStdString()).geometry; // as stored (float precision)
  }

  void help()
  {
    const Run r = runPanseg({"--help"});
    QCOMPARE(r.code, 0);
    QVERIFY(r.out.contains("panseg measure IMAGE --mask MASK"));
    QVERIFY(r.out.contains("panseg measure IMAGE --from X,Y,Z --to X,Y,Z"));
  }

  void boxStatistics()
  {
    Run r = runPanseg({"measure", m_image, "--mask", m_mask, "--label", "2", "--json"});
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    const QJsonObject o = json(r);
    QCOMPARE(o["voxels"].toInt(), 24);
    QVERIFY(near(o["volume_ml"].toDouble(), 24 * 0.7 * 0.9 * 2.5 / 1000.0, 1e-8)); // NIfTI spacing is float32
    QCOMPARE(o["intensity_unit"].toString(), QString("HU"));
    const QJsonObject in = o["intensity"].toObject();
    QVERIFY(near(in["mean"].toDouble(), 11.5, 1e-9));
    QVERIFY(near(in["sd"].toDouble(), std::sqrt(50.0), 1e-9)); // sample SD of 0..23
    QVERIFY(near(in["median"].toDouble(), 11.5, 1e-9));
    QCOMPARE(in["min"].toDouble(), 0.0);
    QCOMPARE(in["max"].toDouble(), 23.0);
    // Principal axes of the box = its edges: 2 x 2.5, 4 x 0.7, 3 x 0.9 mm, whatever the rotation.
    const QJsonObject axes = o["principal_axes"].toObject();
    QVERIFY(axes["defined"].toBool());
    QVERIFY2(near(axes["length_mm"].toDouble(), 5.0), qPrintable(show(r)));
    QVERIFY(near(axes["width_mm"].toDouble(), 2.8));
    QVERIFY(near(axes["thickness_mm"].toDouble(), 2.7));
    // Extent along the patient axes of a box rotated 30 degrees about S:
    // L-R = 2.8 cos 30 + 2.7 sin 30, A-P = 2.8 sin 30 + 2.7 cos 30, S-I = 5.
    const QJsonObject extent = o["extent_mm"].toObject();
    const double c = std::cos(M_PI / 6), s = std::sin(M_PI / 6);
    QVERIFY2(near(extent["lr"].toDouble(), 2.8 * c + 2.7 * s), qPrintable(show(r)));
    QVERIFY(near(extent["ap"].toDouble(), 2.8 * s + 2.7 * c));
    QVERIFY(near(extent["si"].toDouble(), 5.0));
    // The same numbers as core/measure on the stored files.
    const Image img = readImage(m_image.toStdString());
    const measure::MaskStatistics st = measure::maskStatistics(readMaskFor(m_mask.toStdString(), img.geometry), 2, &img);
    QVERIFY(near(axes["length_mm"].toDouble(), st.axes.lengthsMm[0], 1e-9));
    QVERIFY(near(extent["lr"].toDouble(), st.extentMm[0], 1e-9));

    // Text output.
    r = runPanseg({"measure", m_image, "--mask", m_mask, "--label", "2"});
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    QVERIFY2(r.out.contains("voxels:      24"), qPrintable(r.out));
    QVERIFY(r.out.contains("volume:      0.04 mL"));
    QVERIFY(r.out.contains("mean 11.5 HU, SD 7.1, median 11.5, min 0.0, max 23.0"));
    QVERIFY(r.out.contains("length 5.0 mm, width 2.8 mm, thickness 2.7 mm"));

    // Label 0 = any non-zero; an absent label is a note, not an error.
    r = runPanseg({"measure", m_image, "--mask", m_mask, "--json"});
    QCOMPARE(json(r)["voxels"].toInt(), 25);
    r = runPanseg({"measure", m_image, "--mask", m_mask, "--label", "9"});
    QCOMPARE(r.code, 0);
    QVERIFY(r.out.contains("voxels:      0"));
    QVERIFY2(r.err.contains("label 9 is absent; labels present: 1 2"), qPrintable(r.err));
  }

  void realPancreas()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator/ct_full/example_seg_fast_force_split.nii.gz");
    const QString ct = paths::shared("data/totalsegmentator/ct_full/example_ct.nii.gz");
    const QString seg = paths::shared("data/totalsegmentator/ct_full/example_seg_fast_force_split.nii.gz");
    const Run r = runPanseg({"measure", ct, "--mask", seg, "--label", "7", "--json"});
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    const QJsonObject o = json(r);
    QCOMPARE(o["voxels"].toInt(), 695);
    QCOMPARE(QString::number(o["volume_ml"].toDouble(), 'f', 2), QString("18.77")); // data/SOURCES.md
    const Image img = readImage(ct.toStdString());
    const measure::MaskStatistics s = measure::maskStatistics(readMaskFor(seg.toStdString(), img.geometry), 7, &img);
    QVERIFY(near(o["intensity"].toObject()["mean"].toDouble(), s.intensity.mean, 1e-9));
    QVERIFY(near(o["principal_axes"].toObject()["length_mm"].toDouble(), s.axes.lengthsMm[0], 1e-9));
    QVERIFY(near(o["extent_mm"].toObject()["si"].toDouble(), s.extentMm[2], 1e-9));
  }

  void distance()
  {
    // LPS millimetres: a 3-4-12 offset is 13 mm.
    Run r = runPanseg({"measure", m_image, "--from", "-10,20,100", "--to", "-7,24,112"});
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    QVERIFY2(r.out.contains("distance:  13.00 mm"), qPrintable(r.out));
    QVERIFY(r.out.contains("+3.00 mm L, +4.00 mm P, +12.00 mm S"));
    // Voxel indices (anisotropic, rotated grid): 4 steps in x and 2 in z = sqrt(2.8^2 + 5^2).
    r = runPanseg({"measure", m_image, "--from", "1,2,3", "--to", "5,2,5", "--voxel", "--json"});
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    const QJsonObject o = json(r);
    QVERIFY(near(o["distance_mm"].toDouble(), std::sqrt(2.8 * 2.8 + 25.0)));
    QVERIFY(near(o["distance_mm"].toDouble(), measure::indexDistanceMm(m_geometry, {1, 2, 3}, {5, 2, 5}), 1e-9));
    const Vec3 from = m_geometry.indexToPhysical({1, 2, 3});
    for (int k = 0; k < 3; ++k)
      QVERIFY(near(o["from_mm"].toArray().at(k).toDouble(), from[k], 1e-9));
    // A point outside the image is measured, with a note.
    r = runPanseg({"measure", m_image, "--from", "0,0,0", "--to", "100,0,0", "--voxel"});
    QCOMPARE(r.code, 0);
    QVERIFY(r.out.contains("distance:  70.00 mm"));
    QVERIFY2(r.err.contains("--to lies outside the image"), qPrintable(r.err));
  }

  void usageAndErrors()
  {
    for (const QStringList& args :
         {QStringList{"measure"}, QStringList{"measure", m_image}, QStringList{"measure", m_image, "--from", "1,2,3"},
          QStringList{"measure", m_image, "--from", "1,2", "--to", "1,2,3"},
          QStringList{"measure", m_image, "--from", "a,b,c", "--to", "1,2,3"},
          QStringList{"measure", m_image, "--mask", m_mask, "--from", "1,2,3", "--to", "1,2,3"},
          QStringList{"measure", m_image, "--mask", m_mask, "--label", "999"},
          QStringList{"measure", m_image, "--mask", m_mask, "--frobnicate", "1"},
          QStringList{"measure", m_image, "--mask", m_mask, "--user", "bob"}})
    {
      const Run r = runPanseg(args);
      QVERIFY2(r.code == 2, qPrintable(args.join(' ') + "\n" + show(r)));
      QVERIFY2(r.err.startsWith("panseg: error: "), qPrintable(show(r)));
    }
    // A mask on another grid: refused with the difference named.
    Geometry other = m_geometry;
    other.spacingMm = {1, 1, 1};
    const QString wrong = m_tmp.filePath("wrong_seg.nii.gz");
    writeMask(LabelMask(other, 1), wrong.toStdString());
    Run r = runPanseg({"measure", m_image, "--mask", wrong});
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("spacing"), qPrintable(show(r)));
    r = runPanseg({"measure", m_tmp.filePath("missing.nii.gz"), "--mask", m_mask});
    QCOMPARE(r.code, 1);
  }
};

QTEST_GUILESS_MAIN(TestMeasureCli)
#include "tst_measure_cli.moc"
