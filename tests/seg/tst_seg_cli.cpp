// `panseg export-seg / import-seg / deidentify` driven as a user would, on ../shared/data.
#include "../SharedData.h"

#include "core/io/ImageIO.h"

#include <QDir>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

using namespace panseg;

namespace
{
struct Run
{
  int code = -1;
  QString out;
  QString err;
};

Run runPanseg(const QStringList& args)
{
  QProcess p;
  p.start(PANSEG_EXE, args);
  Run r;
  if (!p.waitForFinished(50000))
    return r;
  r.code = p.exitCode();
  r.out = QString::fromLocal8Bit(p.readAllStandardOutput());
  r.err = QString::fromLocal8Bit(p.readAllStandardError());
  return r;
}
} // namespace

class TestSegCli : public QObject
{
  Q_OBJECT

private slots:
  void exportImportRoundTrip()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator/ct_dicom/example_ct_dicom");
    const QString dicom = paths::shared("data/totalsegmentator/ct_dicom/example_ct_dicom");
    const QString mask = paths::shared("data/totalsegmentator/ct_dicom/example_seg_dicom.nii.gz");
    QTemporaryDir dir;
    const QString seg = dir.filePath("pancreas.dcm");
    Run r = runPanseg({"export-seg", "--image", dicom, "--mask", mask, "--label", "7", "--ai-model",
                       "TotalSegmentator", "--ai-version", "2", "--out", seg});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QVERIFY2(r.out.contains("1 segment(s), 4 frame(s), 1327 voxels"), qPrintable(r.out));

    const QString back = dir.filePath("back.nii.gz");
    r = runPanseg({"import-seg", seg, "--image", dicom, "--out", back, "--json"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QVERIFY2(r.out.contains("\"type_code\":\"15776009\"") &&
                 r.out.contains("\"algorithm_type\":\"AUTOMATIC\""),
             qPrintable(r.out));
    const Image image = readImage(dicom.toStdString());
    const LabelMask expected = readMaskFor(mask.toStdString(), image.geometry).binary(7);
    const LabelMask got = readMaskFor(back.toStdString(), image.geometry);
    QVERIFY(got.voxels == expected.voxels);
  }

  void exportsStoredMaskVersion()
  {
    // A DICOM series and its mask imported into a study database, then exported by version id.
    PANSEG_REQUIRE_SHARED("data/dcmqi/ct-3slice");
    QTemporaryDir dir;
    QVERIFY(QDir().mkpath(dir.filePath("case/ct")));
    for (const QString& f : QDir(paths::shared("data/dcmqi/ct-3slice")).entryList(QDir::Files))
      QVERIFY(
          QFile::copy(paths::shared("data/dcmqi/ct-3slice/" + f), dir.filePath("case/ct/" + f)));
    QVERIFY(QFile::copy(paths::shared("data/dcmqi/liver_seg.nrrd"),
                        dir.filePath("case/ct_labels.nrrd")));
    Run r = runPanseg({"import", dir.filePath("case"), "--db", dir.filePath("db")});
    QVERIFY2(r.code == 0 && r.out.contains("1 series and 1 masks"), qPrintable(r.out + r.err));
    const QString seg = dir.filePath("v1.dcm");
    r = runPanseg({"export-seg", "--db", dir.filePath("db"), "--mask-version", "1", "--out", seg});
    QVERIFY2(r.code == 0 && r.out.contains("107098 voxels"), qPrintable(r.out + r.err));
    const Image image = readImage(dir.filePath("case/ct").toStdString());
    QCOMPARE(readMaskFor(seg.toStdString(), image.geometry).countLabel(1), int64_t(107098));
    r = runPanseg({"export-seg", "--db", dir.filePath("db"), "--mask-version", "7", "--out", seg});
    QVERIFY2(r.code == 1 && r.err.contains("no mask version 7"), qPrintable(r.err));
  }

  void deidentifyAndErrors()
  {
    PANSEG_REQUIRE_SHARED("data/dcmqi/ct-3slice");
    const QString dicom = paths::shared("data/dcmqi/ct-3slice");
    QTemporaryDir dir;
    const QString seg = dir.filePath("liver_anon.dcm");
    Run r = runPanseg({"export-seg", "--image", dicom, "--mask",
                       paths::shared("data/dcmqi/liver_seg.nrrd"), "--out", seg, "--deidentify",
                       "--salt", "s3cret"});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    r = runPanseg({"deidentify", dicom, "--out", dir.filePath("anon"), "--salt", "s3cret"});
    QVERIFY2(r.code == 0 && r.out.contains("wrote 3 de-identified file(s)"),
             qPrintable(r.out + r.err));
    // The de-identified SEG opens over the de-identified series: their UIDs and positions agree.
    r = runPanseg({"import-seg", seg, "--image", dir.filePath("anon"), "--out",
                   dir.filePath("liver.nii.gz")});
    QVERIFY2(r.code == 0 && r.out.contains("107098 voxels"), qPrintable(r.out + r.err));

    // Usage errors exit 2; bad input exits 1 with one line.
    QCOMPARE(runPanseg({"export-seg", "--image", dicom}).code, 2);
    QCOMPARE(runPanseg({"export-seg", "--image", dicom, "--mask", "m.nii.gz", "--out", "x.dcm",
                        "--bogus", "1"})
                 .code,
             2);
    r = runPanseg({"export-seg", "--image", dicom, "--mask",
                   paths::shared("data/dcmqi/liver_seg.nrrd"), "--out", dir.filePath("y.dcm"),
                   "--deidentify"});
    QVERIFY2(r.code == 1 && r.err.contains("--salt"), qPrintable(r.err));
    PANSEG_REQUIRE_SHARED("data/pydicom-data/seg_liver_variants/liver_j2k.dcm");
    r = runPanseg({"import-seg",
                   paths::shared("data/pydicom-data/seg_liver_variants/liver_j2k.dcm"), "--image",
                   dicom, "--out", dir.filePath("z.nii.gz")});
    QVERIFY2(r.code == 1 && r.err.startsWith("panseg: error:") && r.err.contains("JPEG 2000"),
             qPrintable(r.err));
    QVERIFY(!QFile::exists(dir.filePath("z.nii.gz")));
  }
};

QTEST_GUILESS_MAIN(TestSegCli)
#include "tst_seg_cli.moc"
