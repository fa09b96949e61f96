// Image and mask I/O on real public data (../shared/data) and on crafted bad input.
#include "../SharedData.h"

#include "core/Error.h"
#include "core/io/ImageIO.h"

#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <csignal>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmath>
#include <fstream>

using namespace panseg;

namespace
{
std::string S(const QString& rel) { return paths::shared(rel).toStdString(); }

void writeBytes(const QString& path, const QByteArray& bytes)
{
  QFile f(path);
  QVERIFY(f.open(QIODevice::WriteOnly));
  f.write(bytes);
}

/// Runs `fn`, expects panseg::Error whose message contains every fragment.
template <typename Fn> QString expectError(Fn fn, const QStringList& fragments)
{
  try
  {
    fn();
  }
  catch (const Error& e)
  {
    const QString msg = QString::fromStdString(e.what());
    for (const auto& f : fragments)
      if (!msg.contains(f, Qt::CaseInsensitive))
        return "message lacks '" + f + "': " + msg;
    return {};
  }
  catch (const std::exception& e)
  {
    return QString("wrong exception type: ") + e.what();
  }
  return "no error thrown";
}
} // namespace

class TstIo : public QObject
{
  Q_OBJECT
private slots:
  void niftiCtGeometry()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator");
    const Image img = readImage(S("data/totalsegmentator/ct_full/example_ct.nii.gz"));
    QCOMPARE(img.geometry.size, (Size3{ 122, 101, 112 }));
    for (int i = 0; i < 3; ++i)
      QCOMPARE(img.geometry.spacingMm[i], 3.0);
    // SOURCES.md / pipeline README: origin LPS (177.956, -11.319, 94.302), direction diag(-1,-1,1)
    QVERIFY(std::abs(img.geometry.originMm[0] - 177.956) < 1e-3);
    QVERIFY(std::abs(img.geometry.originMm[1] - -11.319) < 1e-3);
    QVERIFY(std::abs(img.geometry.originMm[2] - 94.302) < 1e-3);
    QCOMPARE(img.geometry.direction, (Mat3{ -1, 0, 0, 0, -1, 0, 0, 0, 1 }));
    QCOMPARE(QString::fromStdString(img.geometry.orientationCode()), QString("RAS"));
    const auto [mn, mx] = std::minmax_element(img.voxels.begin(), img.voxels.end());
    QCOMPARE(*mn, -1207.0f);
    QCOMPARE(*mx, 3382.0f);
    QCOMPARE(QString::fromStdString(img.info.format), QString("NIfTI"));
  }

  void niftiMrGeometry()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator");
    const Image img = readImage(S("data/totalsegmentator/mr_small/example_mr_sm.nii.gz"));
    QCOMPARE(img.geometry.size, (Size3{ 117, 91, 20 }));
    QVERIFY(std::abs(img.geometry.originMm[0] - -168.600) < 1e-3);
    QVERIFY(std::abs(img.geometry.originMm[1] - -166.359) < 1e-3);
    QVERIFY(std::abs(img.geometry.originMm[2] - 28.990) < 1e-3);
    QCOMPARE(QString::fromStdString(img.geometry.orientationCode()), QString("LPS"));
    const auto [mn, mx] = std::minmax_element(img.voxels.begin(), img.voxels.end());
    QCOMPARE(*mn, -47.0f);
    QCOMPARE(*mx, 833.0f);
  }

  void dicomJpeg2000WithEmptyUids()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator/ct_dicom/example_ct_dicom");
    const Image img = readImage(S("data/totalsegmentator/ct_dicom/example_ct_dicom"));
    QCOMPARE(img.geometry.size, (Size3{ 512, 512, 20 }));
    QCOMPARE(img.info.dicomFileCount, 20);
    QVERIFY(std::abs(img.geometry.spacingMm[0] - 0.9766) < 1e-3);
    QVERIFY(std::abs(img.geometry.spacingMm[2] - 2.0) < 1e-6);
    // z from -804.5 to -766.5
    const Vec3 first = img.geometry.indexToPhysical({ 0, 0, 0 });
    const Vec3 last = img.geometry.indexToPhysical({ 0, 0, 19 });
    QVERIFY2(std::abs(std::min(first[2], last[2]) - -804.5) < 1e-3, qPrintable(QString::number(first[2])));
    QVERIFY(std::abs(std::max(first[2], last[2]) - -766.5) < 1e-3);
    const auto [mn, mx] = std::minmax_element(img.voxels.begin(), img.voxels.end());
    QCOMPARE(*mn, -1024.0f);
    QCOMPARE(*mx, 1839.0f);
    QCOMPARE(QString::fromStdString(img.info.modality), QString("CT"));
  }

  void dicomFromOneFileOfTheSeries()
  {
    PANSEG_REQUIRE_SHARED("data/dcmqi/ct-3slice");
    const Image img = readImage(S("data/dcmqi/ct-3slice/02.dcm"));
    QCOMPARE(img.geometry.size, (Size3{ 512, 512, 3 }));
    QVERIFY(std::abs(img.geometry.spacingMm[0] - 0.8105) < 1e-3);
    QVERIFY(std::abs(img.geometry.spacingMm[2] - 1.0) < 1e-4);
    const auto [mn, mx] = std::minmax_element(img.voxels.begin(), img.voxels.end());
    QCOMPARE(*mn, -3024.0f);
    QCOMPARE(*mx, 1381.0f);
  }

  void dicomGantryTiltRefused()
  {
    PANSEG_REQUIRE_SHARED("data/dcm_qa_ct/GE");
    const QString err = expectError([] { readImage(S("data/dcm_qa_ct/GE")); }, { "GE" });
    QVERIFY2(err.isEmpty(), qPrintable(err));
    try
    {
      readImage(S("data/dcm_qa_ct/GE"));
    }
    catch (const Error& e)
    {
      const QString m = e.what();
      QVERIFY2(m.contains("gantry tilt") || m.contains("non-uniform slice spacing"), qPrintable(m));
    }
  }

  void maskVolumesFromSources_data()
  {
    QTest::addColumn<QString>("file");
    QTest::addColumn<int>("label");
    QTest::addColumn<qint64>("voxels");
    QTest::addColumn<double>("ml");
    // Figures from ../shared/data/SOURCES.md
    QTest::newRow("ct_full v2 fast-fs") << "data/totalsegmentator/ct_full/example_seg_fast_force_split.nii.gz" << 7
                                        << qint64(695) << 18.77;
    QTest::newRow("ct_full v1 float64") << "data/totalsegmentator/ct_full/example_seg_v1_2022.nii.gz" << 10
                                        << qint64(818) << 22.09;
    QTest::newRow("ct_full v1 binary") << "data/totalsegmentator/ct_full/pancreas_v1_2022.nii.gz" << 1 << qint64(818)
                                       << 22.09;
    QTest::newRow("ct_small normal") << "data/totalsegmentator/ct_small/example_seg.nii.gz" << 7 << qint64(644) << 17.39;
    QTest::newRow("ct_small fast") << "data/totalsegmentator/ct_small/example_seg_fast.nii.gz" << 7 << qint64(548)
                                   << 14.80;
    QTest::newRow("mr total_mr") << "data/totalsegmentator/mr_small/example_seg_mr.nii.gz" << 7 << qint64(1176) << 31.75;
    QTest::newRow("ct_dicom seg") << "data/totalsegmentator/ct_dicom/example_seg_dicom.nii.gz" << 7 << qint64(1327)
                                  << 2.53;
    QTest::newRow("word template") << "data/word/word_annotation_template_label.nii.gz" << 8
                                   << qint64(33664) << 88.76;
    QTest::newRow("dcmqi liver nrrd") << "data/dcmqi/liver_seg.nrrd" << 1 << qint64(107098) << 70.36;
  }
  void maskVolumesFromSources()
  {
    QFETCH(QString, file);
    QFETCH(int, label);
    QFETCH(qint64, voxels);
    QFETCH(double, ml);
    PANSEG_REQUIRE_SHARED(file);
    const LabelMask m = readMask(S(file));
    QCOMPARE(qint64(m.countLabel(label)), voxels);
    QVERIFY2(std::abs(m.volumeMl(label) - ml) < 0.005, qPrintable(QString::number(m.volumeMl(label), 'f', 4)));
  }

  void maskOnImageGrid()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator/ct_small");
    const Image img = readImage(S("data/totalsegmentator/ct_small/example_ct_sm.nii.gz"));
    const LabelMask m = readMaskFor(S("data/totalsegmentator/ct_small/example_seg.nii.gz"), img.geometry);
    QCOMPARE(m.geometry.size, img.geometry.size);
    // The ct_small mask is NOT on the ct_full grid (30 vs 112 slices): refused, naming the size.
    const Image full = readImage(S("data/totalsegmentator/ct_full/example_ct.nii.gz"));
    const QString err = expectError(
      [&] { readMaskFor(S("data/totalsegmentator/ct_small/example_seg.nii.gz"), full.geometry); },
      { "does not match", "size differs", "122x101x30" });
    QVERIFY2(err.isEmpty(), qPrintable(err));
  }

  void flippedMaskIsReindexedOntoDicomGrid()
  {
    // SOURCES.md: the DICOM mask is LAS, its row axis reversed relative to the LPS DICOM series.
    PANSEG_REQUIRE_SHARED("data/totalsegmentator/ct_dicom");
    const Image img = readImage(S("data/totalsegmentator/ct_dicom/example_ct_dicom"));
    const LabelMask raw = readMask(S("data/totalsegmentator/ct_dicom/example_seg_dicom.nii.gz"));
    QVERIFY(!raw.geometry.sameGrid(img.geometry));
    const LabelMask m = readMaskFor(S("data/totalsegmentator/ct_dicom/example_seg_dicom.nii.gz"), img.geometry);
    QVERIFY(m.geometry.sameGrid(img.geometry));
    QCOMPARE(m.countLabel(7), raw.countLabel(7));
    QCOMPARE(m.countLabel(7), int64_t(1327));
    // every voxel keeps its physical position
    for (int64_t z = 0; z < raw.nz(); z += 3)
      for (int64_t y = 0; y < raw.ny(); y += 7)
        for (int64_t x = 0; x < raw.nx(); x += 5)
        {
          const Vec3 idx = img.geometry.physicalToIndex(raw.geometry.indexToPhysical({ double(x), double(y), double(z) }));
          const int64_t ix = std::llround(idx[0]), iy = std::llround(idx[1]), iz = std::llround(idx[2]);
          QVERIFY(m.contains(ix, iy, iz));
          QCOMPARE(m.at(ix, iy, iz), raw.at(x, y, z));
        }
  }

  void kitsPermutedAxes()
  {
    PANSEG_REQUIRE_SHARED("data/kits23/case_00061");
    const LabelMask m = readMask(S("data/kits23/case_00061/segmentation.nii.gz"));
    QCOMPARE(m.geometry.size, (Size3{ 29, 512, 512 }));
    QCOMPARE(m.geometry.spacingMm[0], 5.0);
    QVERIFY(std::abs(m.volumeMl(1) - 590.47) < 0.01);
    QVERIFY(std::abs(m.volumeMl(2) - 111.58) < 0.01);
    QCOMPARE(QString::fromStdString(m.geometry.orientationCode()).left(1), QString("I")); // (I, P, L) axes
  }

  void roundTripsKeepVoxelsAndGeometry()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator/mr_small");
    QTemporaryDir dir;
    const Image src = readImage(S("data/totalsegmentator/mr_small/example_mr_sm.nii.gz"));
    const QStringList chain = { "a.nrrd", "b.mha", "c.nii.gz", "d.mhd", "e.nii" };
    Image cur = src;
    for (const QString& name : chain)
    {
      const std::string p = dir.filePath(name).toStdString();
      writeImage(cur, p);
      cur = readImage(p);
      QVERIFY2(cur.voxels == src.voxels, qPrintable("voxels changed after " + name));
      std::string why;
      QVERIFY2(cur.geometry.sameGrid(src.geometry, &why, 1e-5), qPrintable(name + ": " + QString::fromStdString(why)));
    }
    // masks too (uint8 on disk)
    const LabelMask m = readMask(S("data/totalsegmentator/mr_small/example_seg_mr.nii.gz"));
    LabelMask mc = m;
    for (const QString& name : { QString("m.nrrd"), QString("m.mha"), QString("m.nii.gz") })
    {
      writeMask(mc, dir.filePath(name).toStdString());
      mc = readMask(dir.filePath(name).toStdString());
      QVERIFY(mc.voxels == m.voxels);
      QVERIFY(mc.geometry.sameGrid(m.geometry, nullptr, 1e-5));
    }
    // no temporary files left behind by the atomic writer
    QCOMPARE(QDir(dir.path()).entryList(QStringList() << ".tmp-*", QDir::Files | QDir::Hidden).size(), 0);
  }

  void badInput()
  {
    QTemporaryDir dir;
    auto p = [&](const QString& n) { return dir.filePath(n).toStdString(); };
    QString err;

    err = expectError([&] { readImage(p("missing.nii.gz")); }, { "not found", "missing.nii.gz" });
    QVERIFY2(err.isEmpty(), qPrintable(err));

    writeBytes(dir.filePath("empty.nii"), {});
    err = expectError([&] { readImage(p("empty.nii")); }, { "empty file" });
    QVERIFY2(err.isEmpty(), qPrintable(err));

    writeBytes(dir.filePath("garbage.nii"), QByteArray(4096, 'x'));
    err = expectError([&] { readImage(p("garbage.nii")); }, { "garbage.nii" });
    QVERIFY2(err.isEmpty(), qPrintable(err));

    writeBytes(dir.filePath("notes.txt"), "hello");
    err = expectError([&] { readImage(p("notes.txt")); }, { "unsupported" });
    QVERIFY2(err.isEmpty(), qPrintable(err));

    QDir(dir.path()).mkdir("emptyfolder");
    err = expectError([&] { readImage(p("emptyfolder")); }, { "empty" });
    QVERIFY2(err.isEmpty(), qPrintable(err));

    QDir(dir.path()).mkdir("textfolder");
    writeBytes(dir.filePath("textfolder/a.txt"), "not dicom");
    err = expectError([&] { readImage(p("textfolder")); }, { "no DICOM image series", "1 files examined" });
    QVERIFY2(err.isEmpty(), qPrintable(err));

    // 2-D NRRD
    QByteArray twoD = "NRRD0004\ntype: uint8\ndimension: 2\nsizes: 4 3\nencoding: raw\n\n";
    twoD += QByteArray(12, '\1');
    writeBytes(dir.filePath("slice.nrrd"), twoD);
    err = expectError([&] { readImage(p("slice.nrrd")); }, { "2-D image" });
    QVERIFY2(err.isEmpty(), qPrintable(err));

    // 4-D NRRD with 3 time points
    QByteArray fourD = "NRRD0004\ntype: uint8\ndimension: 4\nsizes: 2 2 2 3\nencoding: raw\n\n";
    fourD += QByteArray(24, '\1');
    writeBytes(dir.filePath("series4d.nrrd"), fourD);
    err = expectError([&] { readImage(p("series4d.nrrd")); }, { "4-D", "3 volumes" });
    QVERIFY2(err.isEmpty(), qPrintable(err));

    // float label map with a non-integer value
    QByteArray floats = "NRRD0004\ntype: float\ndimension: 3\nsizes: 2 2 2\nencoding: raw\nendian: little\n\n";
    const float vals[8] = { 0, 1, 1, 0, 2, 0, 0.5f, 0 };
    floats += QByteArray(reinterpret_cast<const char*>(vals), sizeof vals);
    writeBytes(dir.filePath("fractional.nrrd"), floats);
    err = expectError([&] { readMask(p("fractional.nrrd")); }, { "not a label map", "0.5" });
    QVERIFY2(err.isEmpty(), qPrintable(err));

    // writing to a folder that does not exist
    Image tiny(Geometry{ { 2, 2, 2 }, { 1, 1, 1 }, { 0, 0, 0 }, { 1, 0, 0, 0, 1, 0, 0, 0, 1 } });
    err = expectError([&] { writeImage(tiny, p("nope/out.nii.gz")); }, { "does not exist" });
    QVERIFY2(err.isEmpty(), qPrintable(err));
    err = expectError([&] { writeImage(tiny, p("out.png")); }, { "use .nii" });
    QVERIFY2(err.isEmpty(), qPrintable(err));
  }

  void segObjectsAreRefusedNotFatal()
  {
    // GDCM asserts (aborting the process) when probing some RLE-encoded SEG objects: the reader
    // must answer with an error instead.
    PANSEG_REQUIRE_SHARED("data/pydicom-data/seg_liver_variants");
    const QList<QPair<QString, QStringList>> cases = {
      { "liver_rle.dcm", { "Segmentation", "not an image" } },
      { "liver.dcm", { "Segmentation", "not an image" } },
      // deflated dataset: GDCM's header scanner cannot parse it; still an error, not a crash
      { "liver_deflate.dcm", { "no DICOM image series" } },
    };
    for (const auto& [f, fragments] : cases)
    {
      const std::string path = S("data/pydicom-data/seg_liver_variants/" + f);
      if (!QFileInfo::exists(QString::fromStdString(path)))
        continue;
      const QString err = expectError([&] { readImage(path); }, fragments);
      QVERIFY2(err.isEmpty(), qPrintable(f + ": " + err));
    }
  }

  void fullDiskKeepsThePreviousFile()
  {
    // A file-size limit makes every write past 64 kB fail, as a full disk does. ITK only warns on
    // a short write; writeImage must throw and leave the earlier file untouched.
    QTemporaryDir dir;
    const std::string path = dir.filePath("kept.nii.gz").toStdString();
    Image small(Geometry{ { 8, 8, 8 }, { 1, 1, 1 }, { 0, 0, 0 }, { 1, 0, 0, 0, 1, 0, 0, 0, 1 } }, 7.0f);
    writeImage(small, path);
    const pid_t pid = fork();
    QVERIFY(pid >= 0);
    if (pid == 0)
    {
      signal(SIGXFSZ, SIG_IGN);
      rlimit lim{ 64 * 1024, 64 * 1024 };
      setrlimit(RLIMIT_FSIZE, &lim);
      Image big(Geometry{ { 200, 200, 50 }, { 1, 1, 1 }, { 0, 0, 0 }, { 1, 0, 0, 0, 1, 0, 0, 0, 1 } });
      uint64_t state = 42;
      for (float& v : big.voxels)
      {
        state = state * 6364136223846793005ull + 1442695040888963407ull; // LCG: incompressible noise
        v = float((state >> 33) % 4096) - 1024.0f;
      }
      int code = 3;
      try
      {
        writeImage(big, path);
        code = 1; // no error: wrong
      }
      catch (const Error& e)
      {
        code = std::string(e.what()).find("incomplete") != std::string::npos ? 0 : 2;
      }
      _exit(code);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    QVERIFY(WIFEXITED(status));
    QCOMPARE(WEXITSTATUS(status), 0);
    const Image back = readImage(path);
    QVERIFY(back.voxels == small.voxels);
    QCOMPARE(QDir(dir.path()).entryList(QStringList() << ".tmp-*", QDir::Files | QDir::Hidden).size(), 0);
  }

  void truncatedFiles()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator/mr_small");
    QTemporaryDir dir;
    QFile src(paths::shared("data/totalsegmentator/mr_small/example_mr_sm.nii.gz"));
    QVERIFY(src.open(QIODevice::ReadOnly));
    const QByteArray all = src.readAll();
    writeBytes(dir.filePath("cut.nii.gz"), all.left(all.size() / 2));
    const QString err = expectError([&] { readImage(dir.filePath("cut.nii.gz").toStdString()); }, { "cut.nii.gz" });
    QVERIFY2(err.isEmpty(), qPrintable(err));
    // an uncompressed NIfTI cut in the middle of its voxels
    const std::string full = dir.filePath("full.nii").toStdString();
    writeImage(readImage(src.fileName().toStdString()), full);
    QFile f(QString::fromStdString(full));
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QByteArray raw = f.readAll();
    writeBytes(dir.filePath("cut.nii"), raw.left(raw.size() - 1000));
    const QString err2 = expectError([&] { readImage(dir.filePath("cut.nii").toStdString()); }, { "cut.nii" });
    QVERIFY2(err2.isEmpty(), qPrintable(err2));
  }
};

QTEST_GUILESS_MAIN(TstIo)
#include "tst_io.moc"
