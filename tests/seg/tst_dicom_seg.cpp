// DICOM SEG export/import and de-identification on real public data (../shared/data).
#include "../SharedData.h"

#include "core/Error.h"
#include "core/io/Deidentify.h"
#include "core/io/DicomSeg.h"
#include "core/io/ImageIO.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QTemporaryDir>
#include <QtTest>

using namespace panseg;

namespace
{
std::string s(const QString& q)
{
  return q.toStdString();
}

QString dcmdump(const QString& file, const QStringList& extra = {})
{
  QProcess p;
  p.start("dcmdump", QStringList() << extra << file);
  if (!p.waitForFinished(20000))
    return {};
  return QString::fromLatin1(p.readAllStandardOutput());
}

/// Runs `fn` and returns the Error message ("" when nothing was thrown).
template <typename Fn> QString errorOf(Fn fn)
{
  try
  {
    fn();
  }
  catch (const Error& e)
  {
    return QString::fromStdString(e.what());
  }
  return {};
}

int64_t differing(const LabelMask& a, const LabelMask& b)
{
  if (a.voxels.size() != b.voxels.size())
    return -1;
  int64_t n = 0;
  for (size_t i = 0; i < a.voxels.size(); ++i)
    n += a.voxels[i] != b.voxels[i];
  return n;
}

/// SOP Instance UIDs of a source folder (dataset value, else the file meta value).
QSet<QString> sopInstanceUids(const QString& folder)
{
  QSet<QString> uids;
  for (const QString& f : QDir(folder).entryList(QDir::Files))
  {
    const QString dump = dcmdump(folder + "/" + f, {"+P", "0002,0003", "+P", "0008,0018"});
    static const QRegularExpression re("UI \\[([0-9.]+)\\]");
    auto it = re.globalMatch(dump);
    while (it.hasNext())
      uids.insert(it.next().captured(1));
  }
  return uids;
}
} // namespace

class TestDicomSeg : public QObject
{
  Q_OBJECT

private slots:
  void roundTripTotalSegmentatorSeries();
  void roundTripDcmqiLiverCt();
  void roundTripKeepsLabelNamesAndColours();
  void importsDcmqiAndPydicomVariants_data();
  void importsDcmqiAndPydicomVariants();
  void importsHighdicomSamples();
  void readMaskRoutesSegFiles();
  void badInputGivesClearErrors();
  void deidentifiesSeriesAndSegConsistently();
  void deidentifiesJpeg2000SeriesWithoutDecoding();
};

void TestDicomSeg::roundTripTotalSegmentatorSeries()
{
  PANSEG_REQUIRE_SHARED("data/totalsegmentator/ct_dicom/example_ct_dicom");
  const QString folder = paths::shared("data/totalsegmentator/ct_dicom/example_ct_dicom");
  const Image image = readImage(s(folder));
  // The provided mask is stored LAS (row axis reversed); readMaskFor re-indexes it onto the series
  // grid.
  const LabelMask multi = readMaskFor(
      s(paths::shared("data/totalsegmentator/ct_dicom/example_seg_dicom.nii.gz")), image.geometry);
  const LabelMask pancreas = multi.binary(7);
  QCOMPARE(pancreas.countLabel(1), int64_t(1327)); // SOURCES.md: label 7 = 1327 voxels

  QTemporaryDir dir;
  const QString out = dir.filePath("pancreas_seg.dcm");
  SegExportOptions opt;
  opt.algorithmName = "TotalSegmentator";
  opt.algorithmVersion = "2.0 fast";
  const SegExportReport rep = exportDicomSeg(pancreas, s(folder), opt, s(out));
  QCOMPARE(rep.voxels, int64_t(1327));
  QCOMPARE(rep.segments, 1);
  QCOMPARE(rep.frames, 4); // only the 4 bottom slices hold pancreas

  const SegImportResult back = importDicomSeg(s(out), image.geometry);
  QCOMPARE(differing(back.mask, pancreas), int64_t(0));
  QCOMPARE(back.segmentationType, std::string("BINARY"));
  QCOMPARE(back.segments.size(), size_t(1));
  QCOMPARE(back.segments[0].typeCode, std::string("15776009"));
  QCOMPARE(back.segments[0].algorithmType, std::string("AUTOMATIC"));
  QCOMPARE(back.overlapVoxels, int64_t(0));

  const QString dump = dcmdump(out);
  QVERIFY(dump.contains(
      "[1.3.12.2.1107.5.1.4.60064.30000022120807274275100000041]")); // Frame of Reference
  QVERIFY(dump.contains("[15776009]"));
  QVERIFY(dump.contains("[91723000]"));
  QVERIFY(dump.contains("[TotalSegmentator]"));
  QVERIFY(dump.contains("[123110]")); // algorithm family: Artificial Intelligence
  const QSet<QString> sources = sopInstanceUids(folder);
  QCOMPARE(sources.size(), 20);
  int referenced = 0;
  static const QRegularExpression ref("\\(0008,1155\\) UI \\[([0-9.]+)\\]");
  for (auto it = ref.globalMatch(dump); it.hasNext();)
    referenced += sources.contains(it.next().captured(1));
  QCOMPARE(referenced, 4); // one Source Image reference per frame

  // Standalone import (grid from the SEG itself) holds the same voxel count.
  QCOMPARE(importDicomSeg(s(out)).mask.countLabel(1), int64_t(1327));
}

void TestDicomSeg::roundTripDcmqiLiverCt()
{
  PANSEG_REQUIRE_SHARED("data/dcmqi/ct-3slice");
  const QString folder = paths::shared("data/dcmqi/ct-3slice");
  const Image image = readImage(s(folder));
  const LabelMask mask =
      readMaskFor(s(paths::shared("data/dcmqi/liver_spine_seg.nrrd")), image.geometry);
  QCOMPARE(mask.labels(), (std::vector<int>{1, 2}));
  QTemporaryDir dir;
  const QString out = dir.filePath("liver_spine.dcm");
  SegExportOptions opt;
  opt.contentCreator = "Reader^One";
  const SegExportReport rep = exportDicomSeg(mask, s(folder), opt, s(out));
  QCOMPARE(rep.segments, 2);
  const SegImportResult back = importDicomSeg(s(out), image.geometry);
  QCOMPARE(differing(back.mask, mask), int64_t(0));
  QCOMPARE(back.segments[0].algorithmType, std::string("MANUAL"));

  const QString dump = dcmdump(out);
  const QString src =
      dcmdump(folder + "/01.dcm", {"+P", "0020,000d", "+P", "0020,000e", "+P", "0020,0052"});
  static const QRegularExpression uid("UI \\[([0-9.]+)\\]");
  int n = 0;
  for (auto it = uid.globalMatch(src); it.hasNext(); ++n)
    QVERIFY2(dump.contains("[" + it.next().captured(1) + "]"),
             "study/series/frame-of-reference UID missing");
  QCOMPARE(n, 3);
  for (const QString& sop : sopInstanceUids(folder))
    QVERIFY(dump.contains("[" + sop + "]"));
}

// Issue 20: the label table's names, codes and colours go into the segments (SegmentLabel,
// RecommendedDisplayCIELabValue) and come back as a label table.
void TestDicomSeg::roundTripKeepsLabelNamesAndColours()
{
  PANSEG_REQUIRE_SHARED("data/dcmqi/ct-3slice");
  const QString folder = paths::shared("data/dcmqi/ct-3slice");
  const Image image = readImage(s(folder));
  const LabelMask mask =
      readMaskFor(s(paths::shared("data/dcmqi/liver_spine_seg.nrrd")), image.geometry);
  LabelTable table = LabelTable::defaults();
  LabelInfo liver;
  liver.value = 1;
  liver.name = "Liver (reader A)";
  liver.color = {221, 130, 101};
  table.set(liver);
  LabelInfo spine;
  spine.value = 2;
  spine.name = "Tumour";
  spine.color = {30, 200, 90};
  table.set(spine);
  QTemporaryDir dir;
  const QString out = dir.filePath("named.dcm");
  SegExportOptions opt;
  opt.segments = segmentSpecsOf(table, mask.labels());
  QCOMPARE(opt.segments.size(), size_t(2));
  exportDicomSeg(mask, s(folder), opt, s(out));

  const QString dump = dcmdump(out);
  QVERIFY(dump.contains("[Liver (reader A)]"));
  QVERIFY(dump.contains("[108369006]")); // "Tumour" is coded as a neoplasm
  QVERIFY2(dump.contains("RecommendedDisplayCIELabValue"), "no display colour written");

  const SegImportResult back = importDicomSeg(s(out), image.geometry);
  QCOMPARE(differing(back.mask, mask), int64_t(0));
  const LabelTable read = back.labelTable();
  QCOMPARE(read.entries().size(), size_t(2));
  for (const LabelInfo& want : table.entries())
  {
    const LabelInfo got = read.label(want.value);
    QCOMPARE(got.name, want.name);
    QCOMPARE(got.type.value, want.type.value);
    QCOMPARE(got.category.value, want.category.value);
    QVERIFY2(std::abs(got.color.r - want.color.r) <= 1 && std::abs(got.color.g - want.color.g) <= 1 &&
                 std::abs(got.color.b - want.color.b) <= 1,
             qPrintable(QString::fromStdString(hexColor(got.color) + " vs " + hexColor(want.color))));
  }

  // A SEG written by another tool: dcmqi's liver segment carries Slicer's liver colour.
  PANSEG_REQUIRE_SHARED("data/dcmqi/liver.dcm");
  const SegImportResult dcmqi = importDicomSeg(s(paths::shared("data/dcmqi/liver.dcm")));
  QVERIFY(!dcmqi.segments.empty() && dcmqi.segments[0].color);
  const LabelInfo l = dcmqi.labelTable().label(dcmqi.segments[0].number);
  QCOMPARE(l.name, std::string("Liver"));
  QVERIFY2(std::abs(l.color.r - 221) <= 2 && std::abs(l.color.g - 130) <= 2 && std::abs(l.color.b - 101) <= 2,
           qPrintable(QString::fromStdString(hexColor(l.color))));
}

void TestDicomSeg::importsDcmqiAndPydicomVariants_data()
{
  QTest::addColumn<QString>("file");
  QTest::addColumn<QString>("refusal"); // empty: must import
  QTest::newRow("dcmqi liver") << "data/dcmqi/liver.dcm"
                               << "";
  QTest::newRow("pydicom liver") << "data/pydicom-data/seg_liver_variants/liver.dcm"
                                 << "";
  QTest::newRow("big endian") << "data/pydicom-data/seg_liver_variants/liver_expb.dcm"
                              << "";
  QTest::newRow("rle (1-bit, decoded by PanSeg)")
      << "data/pydicom-data/seg_liver_variants/liver_rle.dcm"
      << "";
  QTest::newRow("jpeg2000") << "data/pydicom-data/seg_liver_variants/liver_j2k.dcm"
                            << "JPEG 2000 (Lossless only) (1.2.840.10008.1.2.4.90)";
  QTest::newRow("deflate frames") << "data/pydicom-data/seg_liver_variants/liver_deflate.dcm"
                                  << "Deflated Image Frame Compression (1.2.840.10008.1.2.8.1)";
  QTest::newRow("510 frames") << "data/pydicom-data/seg_liver_variants/liver_nonbyte_aligned.dcm"
                              << "";
  QTest::newRow("510 rle") << "data/pydicom-data/seg_liver_variants/liver_nonbyte_aligned_rle.dcm"
                           << "";
  QTest::newRow("510 jpeg2000")
      << "data/pydicom-data/seg_liver_variants/liver_nonbyte_aligned_j2k.dcm"
      << "JPEG 2000 (Lossless only)";
  QTest::newRow("510 deflate")
      << "data/pydicom-data/seg_liver_variants/liver_nonbyte_aligned_deflate.dcm"
      << "Deflated Image Frame Compression";
}

void TestDicomSeg::importsDcmqiAndPydicomVariants()
{
  QFETCH(QString, file);
  QFETCH(QString, refusal);
  PANSEG_REQUIRE_SHARED("data/dcmqi/ct-3slice");
  PANSEG_REQUIRE_SHARED(file);
  const Image image = readImage(s(paths::shared("data/dcmqi/ct-3slice")));
  if (!refusal.isEmpty())
  {
    const QString err = errorOf([&] { importDicomSeg(s(paths::shared(file)), image.geometry); });
    QVERIFY2(err.contains(refusal) && err.contains("cannot decode"), qPrintable(err));
    return;
  }
  const SegImportResult r = importDicomSeg(s(paths::shared(file)), image.geometry);
  QCOMPARE(r.segments.size(), size_t(1));
  QCOMPARE(r.segments[0].label, std::string("Liver"));
  const LabelMask reference =
      readMaskFor(s(paths::shared("data/dcmqi/liver_seg.nrrd")), image.geometry);
  if (file.contains("nonbyte"))
  {
    const SegImportResult plain = importDicomSeg(
        s(paths::shared("data/pydicom-data/seg_liver_variants/liver_nonbyte_aligned.dcm")),
        image.geometry);
    QCOMPARE(differing(r.mask, plain.mask), int64_t(0)); // every encoding of the 510 frames agrees
    // 510x510 re-encoding: the same liver, cropped by one column/row; every voxel agrees with the
    // reference.
    QVERIFY(r.mask.countLabel(1) > 100000);
    for (size_t i = 0; i < r.mask.voxels.size(); ++i)
      if (r.mask.voxels[i])
        QVERIFY(reference.voxels[i] == 1);
    return;
  }
  QCOMPARE(r.mask.countLabel(1), int64_t(107098)); // SOURCES.md: 107,098 voxels = 70.36 mL
  QCOMPARE(differing(r.mask, reference), int64_t(0));
  QVERIFY(std::abs(r.mask.volumeMl(1) - 70.36) < 0.01);
}

void TestDicomSeg::importsHighdicomSamples()
{
  // source_CT2 has a 200 mm gap between its slices, which the series reader refuses; the SEGs whose
  // frames are evenly spaced open standalone (grid from the SEG), the others are refused clearly.
  PANSEG_REQUIRE_SHARED("data/highdicom/seg_image_ct_binary.dcm");
  const SegImportResult bin =
      importDicomSeg(s(paths::shared("data/highdicom/seg_image_ct_binary.dcm")));
  QCOMPARE(bin.segments.size(), size_t(1));
  QCOMPARE(bin.segments[0].label, std::string("first segment"));
  QCOMPARE(bin.mask.geometry.size, (Size3{16, 16, 3}));
  QVERIFY(bin.mask.countLabel(1) > 0);
  QCOMPARE(bin.mask.countLabel(1), bin.segments[0].voxels);
  // Overlapping segments, and one frame 200 mm away: the grid spans it in 1.25 mm steps (165
  // slices).
  const SegImportResult overlap =
      importDicomSeg(s(paths::shared("data/highdicom/seg_image_ct_binary_overlap.dcm")));
  QCOMPARE(overlap.segments.size(), size_t(2));
  QCOMPARE(overlap.mask.geometry.size, (Size3{16, 16, 165}));
  QVERIFY(overlap.overlapVoxels > 0);
  QCOMPARE(overlap.mask.countLabel(2), overlap.segments[1].voxels);
  const SegImportResult frac =
      importDicomSeg(s(paths::shared("data/highdicom/seg_image_ct_true_fractional.dcm")));
  QCOMPARE(frac.segmentationType, std::string("FRACTIONAL"));
  QVERIFY(frac.mask.countLabel(1) > 0);
  QVERIFY(frac.mask.countLabel(1) < frac.mask.geometry.voxelCount());

  PANSEG_REQUIRE_SHARED("data/dcmqi/partial_overlaps.dcm");
  const Image liverCt = readImage(s(paths::shared("data/dcmqi/ct-3slice")));
  const SegImportResult five =
      importDicomSeg(s(paths::shared("data/dcmqi/partial_overlaps.dcm")), liverCt.geometry);
  QCOMPARE(five.segments.size(), size_t(5));
  QCOMPARE(five.frames, 7);
  QVERIFY(five.overlapVoxels > 0); // overlapping segments: the higher segment number wins, counted
  QCOMPARE(five.mask.countLabel(5), five.segments[4].voxels);
}

void TestDicomSeg::readMaskRoutesSegFiles()
{
  PANSEG_REQUIRE_SHARED("data/dcmqi/liver.dcm");
  const Image image = readImage(s(paths::shared("data/dcmqi/ct-3slice")));
  const LabelMask onGrid = readMaskFor(s(paths::shared("data/dcmqi/liver.dcm")), image.geometry);
  QCOMPARE(onGrid.countLabel(1), int64_t(107098));
  QVERIFY(onGrid.geometry.sameGrid(image.geometry));
  QCOMPARE(readMask(s(paths::shared("data/dcmqi/liver.dcm"))).countLabel(1), int64_t(107098));
  // Opening a SEG as an image is still refused, with the hint to open it as a mask.
  QVERIFY(
      errorOf([&] { readImage(s(paths::shared("data/dcmqi/liver.dcm"))); }).contains("as a mask"));
}

void TestDicomSeg::badInputGivesClearErrors()
{
  PANSEG_REQUIRE_SHARED("data/dcmqi/liver.dcm");
  PANSEG_REQUIRE_SHARED("data/totalsegmentator/ct_dicom/example_ct_dicom");
  QTemporaryDir dir;
  // Truncated SEG.
  QFile in(paths::shared("data/dcmqi/liver.dcm"));
  QVERIFY(in.open(QIODevice::ReadOnly));
  const QByteArray bytes = in.readAll();
  QFile cut(dir.filePath("truncated.dcm"));
  QVERIFY(cut.open(QIODevice::WriteOnly));
  cut.write(bytes.left(bytes.size() / 2));
  cut.close();
  const Image liverCt = readImage(s(paths::shared("data/dcmqi/ct-3slice")));
  QString err = errorOf([&] { importDicomSeg(s(cut.fileName()), liverCt.geometry); });
  QVERIFY2(err.contains("truncated.dcm"), qPrintable(err));

  // SEG of another series.
  const QString tsFolder = paths::shared("data/totalsegmentator/ct_dicom/example_ct_dicom");
  const Image ts = readImage(s(tsFolder));
  err = errorOf([&] { importDicomSeg(s(paths::shared("data/dcmqi/liver.dcm")), ts.geometry); });
  QVERIFY2(err.contains("does not lie on the image grid"), qPrintable(err));

  // A mask on another grid than the series.
  const LabelMask liver = readMask(s(paths::shared("data/dcmqi/liver_seg.nrrd")));
  err = errorOf([&] { exportDicomSeg(liver, s(tsFolder), {}, s(dir.filePath("x.dcm"))); });
  QVERIFY2(err.contains("does not match the DICOM series"), qPrintable(err));
  QVERIFY(!QFile::exists(dir.filePath("x.dcm")));

  // Not a SEG at all.
  err = errorOf(
      [&] { importDicomSeg(s(paths::shared("data/dcmqi/ct-3slice/01.dcm")), liverCt.geometry); });
  QVERIFY2(err.contains("is not a DICOM SEG"), qPrintable(err));
}

namespace
{
struct DumpLine
{
  QString tag; // "0010,0010"
  QString vr;
  QString value;
};

std::vector<DumpLine> dumpLines(const QString& file)
{
  std::vector<DumpLine> out;
  static const QRegularExpression re(
      "^\\s*\\(([0-9a-f]{4},[0-9a-f]{4})\\) ([A-Z][A-Z]) \\[([^\\]]*)\\]");
  for (const QString& line : dcmdump(file, {"+L"}).split('\n'))
  {
    const auto m = re.match(line);
    if (m.hasMatch())
      out.push_back({m.captured(1), m.captured(2), m.captured(3).trimmed()});
  }
  return out;
}

/// Values that identify the patient, study or instances in a source file.
QSet<QString> identifiersOf(const QString& file)
{
  static const QSet<QString> identifyingTags = {"0010,0010", "0010,0020", "0008,0080",
                                                "0008,0081", "0008,1010", "0020,0010",
                                                "0008,0050", "0010,0021", "0018,1000"};
  QSet<QString> ids;
  for (const DumpLine& l : dumpLines(file))
  {
    if (l.tag.startsWith("0002,") && l.tag != "0002,0003")
      continue; // meta header: transfer syntax, implementation class (DCMTK's own)
    const bool uid = l.vr == "UI" && !l.value.startsWith("1.2.840.10008.");
    const bool dateOrName = l.vr == "DA" || l.vr == "DT" || l.vr == "PN";
    if ((uid || dateOrName || identifyingTags.contains(l.tag)) && l.value.size() >= 3)
      ids.insert(l.value.section('\\', 0, 0));
  }
  return ids;
}

QString valueOf(const QString& file, const QString& tag)
{
  for (const DumpLine& l : dumpLines(file))
    if (l.tag == tag)
      return l.value;
  return {};
}

QByteArray bytesOf(const QString& file)
{
  QFile f(file);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}
} // namespace

void TestDicomSeg::deidentifiesSeriesAndSegConsistently()
{
  PANSEG_REQUIRE_SHARED("data/dcmqi/ct-3slice");
  const QString folder = paths::shared("data/dcmqi/ct-3slice");
  QTemporaryDir dir;
  const QString outSeries = dir.filePath("series");
  const std::string salt = "site-secret-42";
  Deidentifier deid(DeidentifyOptions{salt});
  const DeidentifyReport rep = deid.deidentifyFolder(s(folder), s(outSeries));
  QCOMPARE(rep.files, 3);

  const Image image = readImage(s(folder));
  const LabelMask liver =
      readMaskFor(s(paths::shared("data/dcmqi/liver_seg.nrrd")), image.geometry);
  SegExportOptions opt;
  opt.deidentifySalt = salt;
  opt.contentCreator = "Reader^One";
  const QString segFile = dir.filePath("liver_deid.dcm");
  exportDicomSeg(liver, s(folder), opt, s(segFile));

  QSet<QString> originals;
  for (const QString& f : QDir(folder).entryList(QDir::Files))
    originals += identifiersOf(folder + "/" + f);
  QVERIFY(originals.contains("JANCT000") || !valueOf(folder + "/01.dcm", "0010,0010").isEmpty());
  QVERIFY(originals.contains("99000"));    // PatientID
  QVERIFY(originals.contains("20030417")); // StudyDate
  QVERIFY(originals.size() >= 9);

  QStringList outputs;
  for (const QString& f : QDir(outSeries).entryList(QDir::Files))
    outputs << outSeries + "/" + f;
  outputs << segFile;
  static const QRegularExpression privateTag("^\\s*\\([0-9a-f]{3}[13579bdf],",
                                             QRegularExpression::MultilineOption);
  for (const QString& out : outputs)
  {
    const QByteArray raw = bytesOf(out);
    const QString dump = dcmdump(out, {"+L"});
    QVERIFY2(!dump.isEmpty(), qPrintable(out));
    QSet<QString> values;
    for (const DumpLine& l : dumpLines(out))
      values.insert(l.value);
    for (const QString& id : originals)
    {
      // Long identifiers must not appear anywhere in the file; short ones (e.g. a 5-digit
      // PatientID, which may occur by chance inside a hashed UID) must not be any element's value.
      if (id.size() >= 8)
        QVERIFY2(!raw.contains(id.toLatin1()) && !dump.contains(id),
                 qPrintable(out + " still holds " + id));
      QVERIFY2(!values.contains(id), qPrintable(out + " still holds " + id));
    }
    QVERIFY2(!privateTag.match(dump).hasMatch(), qPrintable(out + " still holds private tags"));
    QCOMPARE(valueOf(out, "0012,0062"), QString("YES"));
  }

  // Consistency: the SEG points at the de-identified instances, in the same study and frame of
  // reference.
  const QString first = outputs.front();
  QCOMPARE(valueOf(segFile, "0020,000d"), valueOf(first, "0020,000d"));
  QCOMPARE(valueOf(segFile, "0020,0052"), valueOf(first, "0020,0052"));
  QCOMPARE(valueOf(segFile, "0010,0020"), valueOf(first, "0010,0020"));
  QCOMPARE(valueOf(first, "0020,0052"),
           QString::fromStdString(deid.mapUid(s(valueOf(folder + "/01.dcm", "0020,0052")))));
  QSet<QString> deidSops;
  for (int i = 0; i < 3; ++i)
    deidSops.insert(valueOf(outputs[i], "0008,0018"));
  int refs = 0;
  for (const DumpLine& l : dumpLines(segFile))
    if (l.tag == "0008,1155")
    {
      QVERIFY2(deidSops.contains(l.value),
               qPrintable("SEG references unknown instance " + l.value));
      ++refs;
    }
  QVERIFY(refs >= 3);

  // Dates: shifted by the same per-patient offset in the series and the SEG's study.
  const QString origDate = valueOf(folder + "/01.dcm", "0008,0020");
  const int offset = deid.dateOffsetDays(s(valueOf(folder + "/01.dcm", "0010,0020")));
  QVERIFY(offset < 0);
  const QString shifted =
      QDate::fromString(origDate, "yyyyMMdd").addDays(offset).toString("yyyyMMdd");
  QCOMPARE(valueOf(first, "0008,0020"), shifted);
  QCOMPARE(valueOf(segFile, "0008,0020"), shifted);

  // The de-identified pair still works: same pixels, and the SEG re-opens on the de-identified
  // series.
  const Image deidImage = readImage(s(outSeries));
  QVERIFY(deidImage.geometry.sameGrid(image.geometry));
  QVERIFY(deidImage.voxels == image.voxels);
  QCOMPARE(differing(importDicomSeg(s(segFile), deidImage.geometry).mask, liver), int64_t(0));

  // Same salt -> same UIDs in a second session; another salt -> different ones.
  QCOMPARE(Deidentifier(DeidentifyOptions{salt}).mapUid("1.2.3.4"), deid.mapUid("1.2.3.4"));
  QVERIFY(Deidentifier(DeidentifyOptions{"other"}).mapUid("1.2.3.4") != deid.mapUid("1.2.3.4"));
  QVERIFY(deid.mapUid("1.2.3.4").rfind("2.25.", 0) == 0 && deid.mapUid("1.2.3.4").size() <= 64);
}

void TestDicomSeg::deidentifiesJpeg2000SeriesWithoutDecoding()
{
  PANSEG_REQUIRE_SHARED("data/totalsegmentator/ct_dicom/example_ct_dicom");
  const QString folder = paths::shared("data/totalsegmentator/ct_dicom/example_ct_dicom");
  QTemporaryDir dir;
  Deidentifier deid(DeidentifyOptions{"k"});
  QCOMPARE(deid.deidentifyFolder(s(folder), s(dir.filePath("out"))).files, 20);
  QSet<QString> originals;
  for (const QString& f : QDir(folder).entryList(QDir::Files))
    originals += identifiersOf(folder + "/" + f);
  QVERIFY(originals.contains("1.3.12.2.1107.5.1.4.60064.30000022120807274275100000041"));
  for (const QString& f : QDir(dir.filePath("out")).entryList(QDir::Files))
  {
    const QByteArray raw = bytesOf(dir.filePath("out/" + f));
    for (const QString& id : originals)
      if (id.size() >= 8)
        QVERIFY2(!raw.contains(id.toLatin1()), qPrintable(f + " still holds " + id));
    QVERIFY(!raw.contains("Petersgraben"));
  }
  // Pixel data passes through in JPEG 2000; the series still reads identically.
  const Image a = readImage(s(folder));
  const Image b = readImage(s(dir.filePath("out")));
  QVERIFY(a.geometry.sameGrid(b.geometry));
  QVERIFY(a.voxels == b.voxels);
}

QTEST_GUILESS_MAIN(TestDicomSeg)
#include "tst_dicom_seg.moc"
