// Exporting a mask version from the study browser (the Export... button's dialog-free path) on a
// real database in a temporary folder: the dcmqi liver CT (DICOM, ../shared/data) with a manual
// and an AI mask, and a NIfTI series. Read back: NIfTI voxels equal the stored mask; the DICOM SEG
// re-imports onto the series' grid with identical voxels and names the model for AI masks; a
// NIfTI series' mask cannot become a SEG (clear message, no file). Runs under xvfb-run.
#include "../SharedData.h"
#include "core/io/DicomSeg.h"
#include "core/io/ImageIO.h"
#include "database/Importer.h"
#include "database/StudyDatabase.h"
#include "ui/StudyBrowser.h"

#include <QApplication>
#include <QFile>
#include <QPushButton>
#include <QTemporaryDir>
#include <QtTest>

using namespace panseg;
using namespace panseg::db;
using panseg::ui::StudyBrowser;

namespace
{
std::string s(const QString& q) { return q.toStdString(); }

int64_t differing(const LabelMask& a, const LabelMask& b)
{
  if (a.voxels.size() != b.voxels.size())
    return -1;
  int64_t n = 0;
  for (size_t i = 0; i < a.voxels.size(); ++i)
    n += a.voxels[i] != b.voxels[i];
  return n;
}
} // namespace

class TstExportGui : public QObject
{
  Q_OBJECT
  QTemporaryDir m_tmp;
  QString m_db;
  int64_t m_dicom = 0, m_nifti = 0, m_manual = 0, m_ai = 0, m_niftiMask = 0;

private slots:
  void initTestCase()
  {
    PANSEG_REQUIRE_SHARED("data/dcmqi/ct-3slice");
    PANSEG_REQUIRE_SHARED("data/dcmqi/liver_seg.nrrd");
    QVERIFY(m_tmp.isValid());
    m_db = m_tmp.path() + "/db";
    StudyDatabase db(s(m_db));
    const ImportReport r = importPaths(db, { s(paths::shared("data/dcmqi/ct-3slice")) });
    QCOMPARE(r.importedSeries.size(), size_t(1));
    m_dicom = db.listSeries().front().id;
    QCOMPARE(db.series(m_dicom)->format, std::string("DICOM"));
    const Image ct = db.loadImage(m_dicom, true);
    const LabelMask liver = readMaskFor(s(paths::shared("data/dcmqi/liver_seg.nrrd")), ct.geometry);
    QVERIFY(liver.countLabel(0) > 0);
    m_manual = db.saveMaskVersion(m_dicom, liver, MaskProvenance{});
    ModelVersion model;
    model.modelId = "panseg-ct";
    model.version = "2026.1";
    MaskProvenance ai;
    ai.source = MaskSource::AI;
    ai.modelVersionId = db.registerModelVersion(model);
    m_ai = db.saveMaskVersion(m_dicom, liver.binary(0), ai);

    // A NIfTI series with a mask (the same voxels on its own grid).
    Geometry g;
    g.size = { 12, 10, 4 };
    g.spacingMm = { 1.0, 1.0, 2.0 };
    Image img(g);
    for (size_t i = 0; i < img.voxels.size(); ++i)
      img.voxels[i] = float(i % 97);
    const QString nii = m_tmp.path() + "/src/ct_plain.nii.gz";
    QVERIFY(QDir().mkpath(m_tmp.path() + "/src"));
    writeImage(img, s(nii));
    const ImportReport rn = importPaths(db, { s(nii) });
    QCOMPARE(rn.importedSeries.size(), size_t(1));
    for (const SeriesRecord& sr : db.listSeries())
      if (sr.id != m_dicom)
        m_nifti = sr.id;
    LabelMask box(g);
    for (int z = 1; z < 3; ++z)
      for (int y = 2; y < 6; ++y)
        for (int x = 3; x < 9; ++x)
          box.at(x, y, z) = 1;
    m_niftiMask = db.saveMaskVersion(m_nifti, box, MaskProvenance{});
    QVERIFY(m_manual && m_ai && m_nifti && m_niftiMask);
  }

  void exportButtonFollowsSelection()
  {
    StudyBrowser b;
    QVERIFY(b.openDatabase(m_db));
    QVERIFY(b.selectSeries(m_dicom));
    QVERIFY(b.selectMask(m_manual));
    QVERIFY(b.exportMaskButton()->isEnabled());
    QCOMPARE(b.selectedMaskId(), m_manual);
  }

  void niftiAndNrrdEqualTheStoredMask()
  {
    StudyBrowser b;
    QVERIFY(b.openDatabase(m_db));
    StudyDatabase db(s(m_db));
    const LabelMask stored = db.loadMask(m_manual);
    const Geometry grid = db.loadImage(m_dicom, true).geometry;
    QTemporaryDir out;
    for (const char* name : { "liver.nii.gz", "liver.nrrd" })
    {
      const QString path = out.filePath(name);
      QVERIFY2(b.exportMaskVersion(m_manual, path), qPrintable(b.lastError()));
      const LabelMask back = readMaskFor(s(path), grid);
      QCOMPARE(differing(back, stored), int64_t(0));
    }
  }

  void dicomSegReimportsIdentically()
  {
    StudyBrowser b;
    QVERIFY(b.openDatabase(m_db));
    StudyDatabase db(s(m_db));
    const Geometry grid = db.loadImage(m_dicom, true).geometry;
    QTemporaryDir out;
    // Manual mask: MANUAL algorithm type.
    const QString manualPath = out.filePath("liver_manual.dcm");
    QVERIFY2(b.exportMaskVersion(m_manual, manualPath), qPrintable(b.lastError()));
    QVERIFY(isDicomSegFile(s(manualPath)));
    const SegImportResult manual = importDicomSeg(s(manualPath), grid);
    QCOMPARE(differing(manual.mask, db.loadMask(m_manual)), int64_t(0));
    QCOMPARE(manual.segments.at(0).algorithmType, std::string("MANUAL"));
    // AI mask: AUTOMATIC, with the model's id and version as the algorithm identification.
    const QString aiPath = out.filePath("liver_ai.dcm");
    QVERIFY2(b.exportMaskVersion(m_ai, aiPath), qPrintable(b.lastError()));
    const SegImportResult ai = importDicomSeg(s(aiPath), grid);
    QCOMPARE(differing(ai.mask, db.loadMask(m_ai)), int64_t(0));
    QCOMPARE(ai.segments.at(0).algorithmType, std::string("AUTOMATIC"));
    QFile f(aiPath);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QByteArray bytes = f.readAll();
    QVERIFY(bytes.contains("panseg-ct"));
    QVERIFY(bytes.contains("2026.1"));
  }

  void niftiSeriesAsSegIsRefused()
  {
    StudyBrowser b;
    QVERIFY(b.openDatabase(m_db));
    QTemporaryDir out;
    const QString path = out.filePath("plain.dcm");
    QVERIFY(!b.exportMaskVersion(m_niftiMask, path));
    QVERIFY2(b.lastError().contains("belongs to a NIfTI series; DICOM SEG export needs a DICOM source series"),
             qPrintable(b.lastError()));
    QVERIFY(!QFile::exists(path));
    QCOMPARE(QDir(out.path()).entryList(QDir::Files | QDir::Hidden).size(), 0);
    // The same mask as NIfTI works.
    QVERIFY2(b.exportMaskVersion(m_niftiMask, out.filePath("plain.nii.gz")), qPrintable(b.lastError()));
  }
};

int main(int argc, char** argv)
{
  QApplication app(argc, argv);
  TstExportGui t;
  return QTest::qExec(&t, argc, argv);
}
#include "tst_export_gui.moc"
