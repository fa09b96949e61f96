// Hostile and damaged input through the real `panseg` executable (issue 21, parts 1, 2 and 6).
// A corpus of small malformed files is written at test time, with a fixed seed, from the real
// files in ../shared/data (NIfTI, NRRD, DICOM series, JPEG 2000 DICOM, DICOM SEG) plus
// MetaImage files generated from the same voxels. Every file goes through `panseg info`,
// `panseg volume` (masks) and `panseg import` into a temporary --db as a child process:
//  - no signal and no hang (each run has a timeout);
//  - every "wrong but exit 0" class is refused with its specific one-line message;
//  - stderr holds nothing but that one `panseg: error:` line (no ITK/GDCM/DCMTK/NIfTI noise).
// Randomised header mutants (seeded) only have to obey the first and last rule.
#include "../ProcessRun.h"
#include "../SharedData.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/oflog/oflog.h>

#include <zlib.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>

namespace
{
using testproc::Run;
using testproc::show;

constexpr int kTimeoutMs = 60000; // a run longer than this is a hang

Run panseg(const QStringList& args) { return testproc::run(PANSEG_EXE, args, kTimeoutMs); }

QByteArray readFile(const QString& path)
{
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly))
    return {};
  return f.readAll();
}

void writeFile(const QString& path, const QByteArray& bytes)
{
  QDir().mkpath(QFileInfo(path).absolutePath());
  QFile f(path);
  QVERIFY2(f.open(QIODevice::WriteOnly | QIODevice::Truncate), qPrintable(path));
  f.write(bytes);
}

QByteArray gunzip(const QString& path)
{
  QByteArray out;
  gzFile gz = gzopen(path.toLocal8Bit().constData(), "rb");
  if (!gz)
    return out;
  char buf[65536];
  int n = 0;
  while ((n = gzread(gz, buf, sizeof buf)) > 0)
    out.append(buf, n);
  gzclose(gz);
  return out;
}

void writeGz(const QString& path, const QByteArray& bytes)
{
  QDir().mkpath(QFileInfo(path).absolutePath());
  gzFile gz = gzopen(path.toLocal8Bit().constData(), "wb");
  QVERIFY(gz);
  gzwrite(gz, bytes.constData(), unsigned(bytes.size()));
  gzclose(gz);
}

/// zlib stream (what MetaImage's CompressedData holds).
QByteArray zlibCompress(const QByteArray& raw) { return qCompress(raw).mid(4); }

template <typename T> void put(QByteArray& b, int offset, T v) { std::memcpy(b.data() + offset, &v, sizeof v); }

/// Loads a DICOM file, lets `edit` change its dataset, saves it under `out` (same transfer syntax).
void editDicom(const QString& in, const QString& out, const std::function<void(DcmDataset&)>& edit)
{
  DcmFileFormat ff;
  QVERIFY2(ff.loadFile(in.toLocal8Bit().constData()).good(), qPrintable(in));
  edit(*ff.getDataset());
  QDir().mkpath(QFileInfo(out).absolutePath());
  QVERIFY2(ff.saveFile(out.toLocal8Bit().constData(), ff.getDataset()->getOriginalXfer()).good(), qPrintable(out));
}

/// One malformed input and what each command must say about it.
struct Case
{
  QString name;
  QString path;        // file or folder handed to the commands
  bool isMask = false; // also run `panseg volume`
  QString expect;      // regex the error line (or import's reason) must match; empty: only "no crash, no noise"
  QString infoExpect;  // for `info` when it may succeed with a visible state instead (e.g. unknown spacing)
};

/// No signal, no hang; on failure exactly one stderr line, the panseg error line.
QString cleanFailureProblem(const Run& r)
{
  if (r.code == -2)
    return "killed by a signal";
  if (r.code == -1)
    return "hung (timeout) or did not start";
  const QString err = r.err.trimmed();
  if (r.code == 0)
    return err.isEmpty() ? QString() : "exit 0 but stderr is not empty";
  const QStringList lines = err.split('\n');
  if (lines.size() != 1 || !lines[0].startsWith("panseg: error: "))
    return "stderr is not exactly one 'panseg: error:' line (library noise?)";
  return {};
}
} // namespace

class TstIoHostile : public QObject
{
  Q_OBJECT

  QTemporaryDir m_dir;
  QList<Case> m_cases;
  QList<Case> m_random;

  QString at(const QString& rel) const { return m_dir.filePath(rel); }

  void buildNifti()
  {
    // example_seg.nii.gz: 122x101x30 uint8 mask, label 7 = 17.39 mL, vox_offset 352.
    const QByteArray nii = gunzip(paths::shared("data/totalsegmentator/ct_small/example_seg.nii.gz"));
    QVERIFY(nii.size() > 352);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    auto variant = [&](const QString& name, const std::function<void(QByteArray&)>& edit, bool gz, const QString& expect) {
      QByteArray b = nii;
      edit(b);
      const QString path = at("nifti/" + name + (gz ? ".nii.gz" : ".nii"));
      if (gz)
        writeGz(path, b);
      else
        writeFile(path, b);
      m_cases.append({ name, path, true, expect, {} });
    };
    variant("sform_nan", [&](QByteArray& b) { put<int16_t>(b, 254, 1); put<float>(b, 280, nan); }, true, "sform holds a non-finite");
    variant("qform_nan", [&](QByteArray& b) { put<int16_t>(b, 252, 1); put<float>(b, 256, nan); }, false, "qform holds a non-finite");
    variant("pixdim_nan", [&](QByteArray& b) { put<float>(b, 80, nan); }, true, "pixdim\\[1\\]");
    variant("pixdim_huge", [&](QByteArray& b) { for (int i = 1; i <= 3; ++i) put<float>(b, 76 + 4 * i, 1e30f); }, false, "pixdim\\[1\\] = 1e\\+30 is not a physical voxel spacing");
    variant("more_slices", [&](QByteArray& b) { put<int16_t>(b, 46, 60); }, true, "truncated");
    variant("claims_1000_cubed", [&](QByteArray& b) { for (int i = 1; i <= 3; ++i) put<int16_t>(b, 40 + 2 * i, 1000); }, true, "truncated");
    variant("vox_offset_beyond", [&](QByteArray& b) { put<float>(b, 108, 352.0f + 100000.0f); }, false, "truncated");
    variant("cut_half", [&](QByteArray& b) { b.truncate(352 + (b.size() - 352) / 2); }, false, "truncated");
    // A gzip stream cut short.
    const QString gzCut = at("nifti/gzip_cut.nii.gz");
    writeGz(gzCut, nii);
    QByteArray gzBytes = readFile(gzCut);
    writeFile(gzCut, gzBytes.left(gzBytes.size() / 2));
    m_cases.append({ "gzip_cut", gzCut, true, "truncated or corrupt", {} });
  }

  void buildMetaImage()
  {
    const QByteArray nii = gunzip(paths::shared("data/totalsegmentator/ct_small/example_seg.nii.gz"));
    float voxOffset = 0;
    std::memcpy(&voxOffset, nii.constData() + 108, sizeof voxOffset);
    const QByteArray voxels = nii.mid(int(voxOffset));
    QCOMPARE(voxels.size(), 122 * 101 * 30);
    auto header = [](const QString& extra, const QString& spacing, const QString& dataFile) {
      return QString("ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\n%1"
                     "TransformMatrix = 1 0 0 0 1 0 0 0 1\nOffset = 0 0 0\nElementSpacing = %2\n"
                     "DimSize = 122 101 30\nElementType = MET_UCHAR\nElementDataFile = %3\n")
        .arg(extra, spacing, dataFile)
        .toLatin1();
    };
    // The whole file first: it must read, and give 17.39 mL (the corpus' control).
    writeFile(at("meta/whole.mha"), header("", "3 3 3", "LOCAL") + voxels);
    writeFile(at("meta/cut.mha"), header("", "3 3 3", "LOCAL") + voxels.left(voxels.size() / 3));
    m_cases.append({ "mha_cut", at("meta/cut.mha"), true, "truncated", {} });
    const QByteArray z = zlibCompress(voxels);
    writeFile(at("meta/compressed_size_zero.mha"),
              header("CompressedData = True\nCompressedDataSize = 0\n", "3 3 3", "LOCAL") + z);
    m_cases.append({ "mha_compressed_size_zero", at("meta/compressed_size_zero.mha"), true, "CompressedDataSize", {} });
    writeFile(at("meta/compressed_cut.mha"),
              header(QString("CompressedData = True\nCompressedDataSize = %1\n").arg(z.size()), "3 3 3", "LOCAL") +
                z.left(z.size() / 2));
    m_cases.append({ "mha_compressed_cut", at("meta/compressed_cut.mha"), true, "truncated", {} });
    writeFile(at("meta/list/slice0.raw"), voxels.left(122 * 101));
    writeFile(at("meta/list/list.mhd"), header("", "3 3 3", "LIST") + "slice0.raw\nslice0.raw\n");
    m_cases.append({ "mhd_list", at("meta/list/list.mhd"), true, "several data files", {} });
    writeFile(at("meta/spacing_1e308.mha"), header("", "1e308 1 1", "LOCAL") + voxels);
    m_cases.append({ "mha_spacing_1e308", at("meta/spacing_1e308.mha"), true, "ElementSpacing 1e\\+308", {} });
    writeFile(at("meta/passwd/passwd.mhd"), header("", "3 3 3", "/etc/passwd"));
    m_cases.append({ "mhd_etc_passwd", at("meta/passwd/passwd.mhd"), true, "beside the header|header's folder", {} });
    writeFile(at("meta/outside.raw"), voxels);
    writeFile(at("meta/up/up.mhd"), header("", "3 3 3", "../outside.raw"));
    m_cases.append({ "mhd_parent_folder", at("meta/up/up.mhd"), true, "header's folder", {} });
  }

  void buildNrrd()
  {
    const QByteArray nrrd = readFile(paths::shared("data/dcmqi/liver_seg.nrrd"));
    const int end = nrrd.indexOf("\n\n");
    QVERIFY(end > 0);
    QStringList lines = QString::fromLatin1(nrrd.left(end)).split('\n');
    const QByteArray data = nrrd.mid(end + 2);
    auto variant = [&](const QString& name, const std::function<void(QStringList&, QByteArray&)>& edit,
                       const QString& expect, const QString& infoExpect = {}) {
      QStringList l = lines;
      QByteArray d = data;
      edit(l, d);
      const QString path = at("nrrd/" + name + ".nrrd");
      writeFile(path, l.join('\n').toLatin1() + "\n\n" + d);
      m_cases.append({ name, path, true, expect, infoExpect });
    };
    auto replaceField = [](QStringList& l, const QString& field, const QString& value) {
      for (auto& line : l)
        if (line.startsWith(field + ":"))
          line = field + ": " + value;
    };
    variant("origin_nan", [&](QStringList& l, QByteArray&) { replaceField(l, "space origin", "(nan,0,0)"); },
            "space origin holds a non-finite");
    variant("directions_none", [&](QStringList& l, QByteArray&) { replaceField(l, "space directions", "none none none"); },
            "space directions' says none", "spacing: +unknown \\(NRRD 'space directions' says none\\)");
    variant("gzip_cut", [&](QStringList&, QByteArray& d) { d.truncate(d.size() / 2); }, "truncated or corrupt");
    variant("sizes_doubled", [&](QStringList& l, QByteArray&) {
      for (auto& line : l)
        if (line.startsWith("sizes:"))
        {
          QStringList s = line.mid(6).trimmed().split(' ');
          s.last() = QString::number(s.last().toInt() * 2);
          line = "sizes: " + s.join(' ');
        }
    }, "truncated or corrupt");
  }

  void buildDicom()
  {
    const QString ct = paths::shared("data/dcmqi/ct-3slice/");
    // Folder = 01, 03 intact and 02 damaged: the whole series must be refused naming 02.dcm.
    auto series = [&](const QString& name, const std::function<void(const QString& in, const QString& out)>& make02,
                      const QString& expect) {
      const QString dir = at("dicom/" + name);
      QDir().mkpath(dir);
      QFile::copy(ct + "01.dcm", dir + "/01.dcm");
      QFile::copy(ct + "03.dcm", dir + "/03.dcm");
      make02(ct + "02.dcm", dir + "/02.dcm");
      m_cases.append({ name, dir, false, expect, {} });
    };
    auto setU16 = [&](const DcmTagKey& tag, Uint16 v) {
      return [=](const QString& in, const QString& out) {
        editDicom(in, out, [&](DcmDataset& ds) { ds.putAndInsertUint16(tag, v); });
      };
    };
    series("spp_513", setU16(DCM_SamplesPerPixel, 513), "02\\.dcm \\(SamplesPerPixel is 513");
    series("bits_allocated_1", setU16(DCM_BitsAllocated, 1), "02\\.dcm \\(BitsAllocated is 1 ");
    series("bits_allocated_12", setU16(DCM_BitsAllocated, 12), "02\\.dcm \\(BitsAllocated is 12 ");
    series("rows_4096", setU16(DCM_Rows, 4096), "02\\.dcm \\(pixel data holds");
    series("pixel_data_cut", [](const QString& in, const QString& out) {
      const QByteArray b = readFile(in);
      writeFile(out, b.left(b.size() * 6 / 10));
    }, "02\\.dcm \\(not readable to its end");
    series("header_cut", [](const QString& in, const QString& out) { writeFile(out, readFile(in).left(600)); },
           "unreadable slice: 02\\.dcm");
    series("garbage_slice", [](const QString&, const QString& out) {
      QByteArray b(4096, '\0');
      std::mt19937 rng(2101);
      for (auto& c : b)
        c = char(rng() & 0xff);
      std::memset(b.data(), 0, 128);
      std::memcpy(b.data() + 128, "DICM", 4);
      writeFile(out, b);
    }, "unreadable slice: 02\\.dcm");

    // JPEG 2000: three slices of the TotalSegmentator series, the middle one cut short.
    const QDir j2kDir(paths::shared("data/totalsegmentator/ct_dicom/example_ct_dicom"));
    const QStringList j2k = j2kDir.entryList(QDir::Files, QDir::Name);
    QVERIFY(j2k.size() >= 3);
    const QString jdir = at("dicom/j2k_cut");
    QDir().mkpath(jdir);
    for (int i = 0; i < 3; ++i)
    {
      const QByteArray b = readFile(j2kDir.filePath(j2k[i]));
      writeFile(jdir + "/" + j2k[i] + ".dcm", i == 1 ? b.left(b.size() - 2000) : b);
    }
    m_cases.append({ "j2k_cut", jdir, false, "unreadable slice: .*\\.dcm", {} });

    // No PixelSpacing: `info` shows it marked unknown, import refuses it.
    const QString nodir = at("dicom/no_pixel_spacing");
    for (const char* f : { "01.dcm", "02.dcm", "03.dcm" })
      editDicom(ct + f, nodir + "/" + f, [](DcmDataset& ds) { ds.findAndDeleteElement(DCM_PixelSpacing); });
    m_cases.append({ "no_pixel_spacing", nodir, false, "no PixelSpacing",
                     "spacing: +unknown \\(no PixelSpacing\\), shown as 1\\.0000 x 1\\.0000" });

    // DICOM SEG with NumberOfFrames 0.
    editDicom(paths::shared("data/dcmqi/liver.dcm"), at("seg/frames0/liver_frames0.dcm"),
              [](DcmDataset& ds) { ds.putAndInsertString(DCM_NumberOfFrames, "0"); });
    m_cases.append({ "seg_frames_0", at("seg/frames0/liver_frames0.dcm"), true, "NumberOfFrames is 0", {} });
  }

  /// Seeded random header damage: 1 to 4 bytes of the header changed.
  void buildRandom()
  {
    std::mt19937 rng(21);
    const QByteArray nii = gunzip(paths::shared("data/totalsegmentator/ct_small/example_seg.nii.gz"));
    const QByteArray dcm = readFile(paths::shared("data/dcmqi/ct-3slice/02.dcm"));
    const QByteArray nrrd = readFile(paths::shared("data/dcmqi/liver_seg.nrrd"));
    const int nrrdHeader = nrrd.indexOf("\n\n");
    for (int i = 0; i < 12; ++i)
    {
      QByteArray b = nii;
      for (int k = 0, n = 1 + int(rng() % 4); k < n; ++k)
        b[int(rng() % 352)] = char(rng() & 0xff);
      const QString p = at(QString("random/nii_%1.nii").arg(i));
      writeFile(p, b);
      m_random.append({ QString("random nii %1").arg(i), p, true, {}, {} });
    }
    for (int i = 0; i < 6; ++i)
    {
      QByteArray b = nrrd;
      for (int k = 0, n = 1 + int(rng() % 3); k < n; ++k)
        b[4 + int(rng() % (nrrdHeader - 4))] = "0123456789.-,() nax\n"[rng() % 20];
      const QString p = at(QString("random/nrrd_%1.nrrd").arg(i));
      writeFile(p, b);
      m_random.append({ QString("random nrrd %1").arg(i), p, true, {}, {} });
    }
    for (int i = 0; i < 8; ++i)
    {
      QByteArray b = dcm;
      for (int k = 0, n = 1 + int(rng() % 4); k < n; ++k)
        b[132 + int(rng() % 1400)] = char(rng() & 0xff);
      const QString dir = at(QString("random/dcm_%1").arg(i));
      writeFile(dir + "/02.dcm", b);
      QFile::copy(paths::shared("data/dcmqi/ct-3slice/01.dcm"), dir + "/01.dcm");
      QFile::copy(paths::shared("data/dcmqi/ct-3slice/03.dcm"), dir + "/03.dcm");
      m_random.append({ QString("random dcm %1").arg(i), dir, false, {}, {} });
    }
  }

  void runCase(const Case& c, bool strict)
  {
    const QRegularExpression expect(c.expect);
    auto refusedAsExpected = [&](const Run& r, const QString& what, const QString& where) {
      const QString problem = cleanFailureProblem(r);
      QVERIFY2(problem.isEmpty(), qPrintable(c.name + " / " + what + ": " + problem + "\n" + show(r)));
      if (!strict)
        return;
      QVERIFY2(r.code != 0, qPrintable(c.name + " / " + what + " was accepted (exit 0)\n" + show(r)));
      QVERIFY2(expect.match(where).hasMatch(),
               qPrintable(c.name + " / " + what + ": message does not match '" + c.expect + "'\n" + show(r)));
    };
    const bool seg = c.path.endsWith("frames0.dcm");
    // info
    Run r = panseg({ "info", c.path });
    if (strict && !c.infoExpect.isEmpty())
    {
      QVERIFY2(r.code == 0 && r.err.isEmpty(), qPrintable(c.name + " / info\n" + show(r)));
      QVERIFY2(QRegularExpression(c.infoExpect).match(r.out).hasMatch(),
               qPrintable(c.name + " / info does not show the unknown spacing\n" + show(r)));
    }
    else if (seg)
    {
      // a SEG is a mask, not an image: info refuses it for its SOP class, without opening it in GDCM
      QVERIFY2(cleanFailureProblem(r).isEmpty() && r.code != 0 && r.err.contains("Segmentation"),
               qPrintable(c.name + " / info\n" + show(r)));
    }
    else
      refusedAsExpected(r, "info", r.err);
    // volume (masks)
    if (c.isMask)
    {
      r = panseg({ "volume", c.path });
      refusedAsExpected(r, "volume", r.err);
    }
    // import into a fresh database: nothing imported, the reason in the report
    QTemporaryDir db;
    r = panseg({ "import", c.path, "--db", db.path() });
    if (seg)
    {
      // a lone SEG file is not an image series: skipped, never opened as an image
      QVERIFY2(cleanFailureProblem(r).isEmpty() && r.code != 0, qPrintable(c.name + " / import\n" + show(r)));
      return;
    }
    refusedAsExpected(r, "import", r.out + r.err);
  }

private slots:
  void initTestCase()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator/ct_small/example_seg.nii.gz");
    PANSEG_REQUIRE_SHARED("data/dcmqi/ct-3slice/02.dcm");
    PANSEG_REQUIRE_SHARED("data/totalsegmentator/ct_dicom/example_ct_dicom");
    OFLog::configure(OFLogger::OFF_LOG_LEVEL);
    QVERIFY(m_dir.isValid());
    buildNifti();
    buildMetaImage();
    buildNrrd();
    buildDicom();
    buildRandom();
    QVERIFY(m_cases.size() >= 25);
  }

  /// The generated files that are NOT damaged read correctly: the corpus tests the checks, not
  /// a broken generator.
  void controlsAreRead()
  {
    Run r = panseg({ "volume", at("meta/whole.mha"), "--label", "7" });
    QVERIFY2(r.code == 0 && r.out.contains("17.39 mL") && r.err.isEmpty(), qPrintable(show(r)));
    r = panseg({ "info", paths::shared("data/dcmqi/ct-3slice") });
    QVERIFY2(r.code == 0 && r.err.isEmpty() && r.out.contains("spacing:     0.8105"), qPrintable(show(r)));
    r = panseg({ "volume", paths::shared("data/dcmqi/liver_seg.nrrd") });
    QVERIFY2(r.code == 0 && r.out.contains("70.36 mL"), qPrintable(show(r)));
  }

  void everyMalformedFileIsRefused()
  {
    for (const Case& c : m_cases)
      runCase(c, true);
  }

  void randomMutantsNeverCrashOrMumble()
  {
    for (const Case& c : m_random)
      runCase(c, false);
  }

  void segWithoutFramesIsRefusedEverywhere()
  {
    const QString seg = at("seg/frames0/liver_frames0.dcm");
    const QString good = paths::shared("data/dcmqi/liver.dcm");
    const QString out = at("seg/out.nii.gz");
    const QList<QStringList> runs{ { "volume", seg },
                                   { "agreement", seg, good },
                                   { "import-seg", seg, "--out", out },
                                   { "import-seg", seg, "--image", paths::shared("data/dcmqi/ct-3slice"), "--out", out } };
    for (const auto& args : runs)
    {
      const Run r = panseg(args);
      QVERIFY2(cleanFailureProblem(r).isEmpty() && r.code != 0 && r.err.contains("NumberOfFrames is 0"),
               qPrintable(args.join(' ') + "\n" + show(r)));
    }
    QVERIFY(!QFile::exists(out));
  }

  /// One bad file in a folder does not stop the import of the good ones; the bad ones are listed
  /// with their reasons.
  void importGoesOnPastBadFiles()
  {
    const QString dir = at("mixed");
    QDir().mkpath(dir + "/ct");
    QDir().mkpath(dir + "/mr");
    QVERIFY(QFile::copy(paths::shared("data/totalsegmentator/ct_small/example_ct_sm.nii.gz"), dir + "/ct/ct.nii.gz"));
    QVERIFY(QFile::copy(paths::shared("data/totalsegmentator/mr_small/example_mr_sm.nii.gz"), dir + "/mr/mr.nii.gz"));
    QVERIFY(QFile::copy(at("nifti/sform_nan.nii.gz"), dir + "/broken_sform.nii.gz"));
    QVERIFY(QFile::copy(at("meta/passwd/passwd.mhd"), dir + "/passwd.mhd"));
    QDir().mkpath(dir + "/series");
    for (const char* f : { "01.dcm", "02.dcm", "03.dcm" })
      QVERIFY(QFile::copy(at(QString("dicom/spp_513/") + f), dir + "/series/" + f));
    QTemporaryDir db;
    const Run r = panseg({ "import", dir, "--db", db.path() });
    QVERIFY2(r.code == 0 && r.err.isEmpty(), qPrintable(show(r)));
    QVERIFY2(r.out.contains("imported 2 series"), qPrintable(show(r)));
    QVERIFY2(r.out.contains("failed 3:"), qPrintable(show(r)));
    QVERIFY2(QRegularExpression("broken_sform\\.nii\\.gz: .*sform holds a non-finite").match(r.out).hasMatch(),
             qPrintable(show(r)));
    QVERIFY2(QRegularExpression("passwd\\.mhd: .*header's folder").match(r.out).hasMatch(), qPrintable(show(r)));
    QVERIFY2(QRegularExpression("series: .*02\\.dcm \\(SamplesPerPixel is 513").match(r.out).hasMatch(),
             qPrintable(show(r)));
  }

  /// The library messages kept off the terminal are not lost: PANSEG_LIBRARY_LOG collects them.
  void libraryMessagesGoToTheLog()
  {
    const QString log = at("library.log");
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("PANSEG_LIBRARY_LOG", log);
    p.setProcessEnvironment(env);
    p.start(PANSEG_EXE, { "info", at("dicom/garbage_slice") });
    QVERIFY(p.waitForFinished(kTimeoutMs));
    const QString err = QString::fromUtf8(p.readAllStandardError()).trimmed();
    QVERIFY2(p.exitCode() == 1 && err.startsWith("panseg: error: ") && !err.contains('\n'), qPrintable(err));
    QVERIFY2(readFile(log).contains("GDCM: "), readFile(log).constData());
  }

  /// A series with an unreadable slice in the middle: refused naming the slice, or with
  /// --accept-gaps imported from its readable slices and flagged.
  void sliceGapRefusedUnlessAccepted()
  {
    const QString series = at("dicom/header_cut");
    QTemporaryDir db;
    Run r = panseg({ "import", series, "--db", db.path() });
    QVERIFY2(r.code != 0 && r.out.contains("02.dcm") && r.out.contains("--accept-gaps"), qPrintable(show(r)));
    r = panseg({ "import", series, "--db", db.path(), "--accept-gaps" });
    QVERIFY2(r.code == 0 && r.err.isEmpty(), qPrintable(show(r)));
    QVERIFY2(r.out.contains("imported 1 series"), qPrintable(show(r)));
    QVERIFY2(QRegularExpression("flagged 1 .*\\n.*slice gap accepted: 1 unreadable file\\(s\\) left out: 02\\.dcm")
               .match(r.out)
               .hasMatch(),
             qPrintable(show(r)));
  }
};

QTEST_GUILESS_MAIN(TstIoHostile)
#include "tst_io_hostile.moc"
