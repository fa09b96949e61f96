// Masks and images leaving the database: NIfTI/NRRD export of a mask version and of a series'
// image (read back equal), and the nnU-Net raw dataset of approved cases (layout, dataset.json,
// labels equal to the approved pancreas), with the failures that must leave nothing behind.
#include "ExportTestUtil.h"
#include "../SharedData.h"

#include "core/Error.h"
#include "core/io/ImageIO.h"
#include "database/exports/DatasetExport.h"
#include "database/Importer.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>

using namespace panseg;
using namespace panseg::db;
namespace fs = std::filesystem;

namespace
{
std::string errorOf(const std::function<void()>& f)
{
  try
  {
    f();
  }
  catch (const Error& e)
  {
    return e.what();
  }
  return {};
}

/// ct_small (2 masks) and mr_small (1 mask) of the TotalSegmentator samples.
struct Imported
{
  int64_t ct = 0, mr = 0;
  int64_t ctSeg = 0, ctFast = 0, mrSeg = 0;
};

Imported importSmall(StudyDatabase& db)
{
  const ImportReport r = importPaths(db, { paths::shared("data/totalsegmentator/ct_small").toStdString(),
                                           paths::shared("data/totalsegmentator/mr_small").toStdString() });
  Imported out;
  for (const SeriesRecord& s : db.listSeries())
  {
    const bool ct = s.modality == Modality::CT;
    (ct ? out.ct : out.mr) = s.id;
    for (const MaskVersion& m : db.masksOf(s.id))
    {
      const std::string name = fs::path(m.importedFrom).filename().string();
      if (name == "example_seg.nii.gz")
        out.ctSeg = m.id;
      else if (name == "example_seg_fast.nii.gz")
        out.ctFast = m.id;
      else if (name == "example_seg_mr.nii.gz")
        out.mrSeg = m.id;
    }
  }
  return out;
}
} // namespace

class TestDatasetExport : public QObject
{
  Q_OBJECT

private slots:
  void maskAndImageFiles()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator/ct_small");
    QTemporaryDir t;
    StudyDatabase db((t.path() + "/db").toStdString());
    const Imported im = importSmall(db);
    QVERIFY(im.ctSeg && im.ct);
    const LabelMask stored = db.loadMask(im.ctSeg);

    for (const char* ext : { ".nii.gz", ".nrrd", ".nii", ".mha" })
    {
      const std::string out = t.path().toStdString() + "/mask" + ext;
      exportMaskVersion(db, im.ctSeg, out);
      const LabelMask back = readMask(out);
      QVERIFY2(back.voxels == stored.voxels, ext);
      QVERIFY(back.geometry.sameGrid(stored.geometry));
    }
    // Only the pancreas (label 7), as 1: 644 voxels = 17.39 mL (SOURCES.md).
    const std::string pancreas = t.path().toStdString() + "/pancreas.nrrd";
    exportMaskVersion(db, im.ctSeg, pancreas, 7);
    const LabelMask p = readMask(pancreas);
    QCOMPARE(p.countLabel(1), int64_t(644));
    QCOMPARE(p.labels(), std::vector<int>{ 1 });
    QVERIFY(std::abs(p.volumeMl(1) - 17.39) < 0.005);

    const std::string image = t.path().toStdString() + "/ct.nii.gz";
    exportSeriesImage(db, im.ct, image);
    const Image a = readImage(image);
    const Image b = db.loadImage(im.ct);
    QVERIFY(a.voxels == b.voxels);
    QVERIFY(a.geometry.sameGrid(b.geometry));

    // Failures: unknown version, missing label, missing folder, unknown format.
    QVERIFY(QString::fromStdString(errorOf([&] { exportMaskVersion(db, 999, t.path().toStdString() + "/x.nii.gz"); }))
              .contains("no mask version 999"));
    QVERIFY(QString::fromStdString(errorOf([&] { exportMaskVersion(db, im.ctSeg, t.path().toStdString() + "/y.nii.gz", 200); }))
              .contains("no voxel with label 200"));
    QVERIFY(QString::fromStdString(errorOf([&] { exportMaskVersion(db, im.ctSeg, t.path().toStdString() + "/no/z.nii.gz"); }))
              .contains("does not exist"));
    QVERIFY(!errorOf([&] { exportMaskVersion(db, im.ctSeg, t.path().toStdString() + "/z.png"); }).empty());
    for (const char* gone : { "/x.nii.gz", "/y.nii.gz", "/z.png" })
      QVERIFY(!QFile::exists(t.path() + gone));
    QVERIFY(QDir(t.path()).entryList({ ".tmp*" }, QDir::Files | QDir::Hidden).isEmpty());
  }

  void nnUnetDatasetOfApprovedCases()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator/ct_small");
    QTemporaryDir t;
    StudyDatabase db((t.path() + "/db").toStdString());
    const Imported im = importSmall(db);
    const QString out = t.path() + "/Dataset501_Pancreas";
    NnUnetExportOptions o;
    o.label = 7; // TotalSegmentator's pancreas
    o.softwareVersion = "9.9.9";

    // Nothing approved yet: a clear error and no folder.
    QVERIFY(QString::fromStdString(errorOf([&] { exportNnUnet(db, out.toStdString(), o); })).contains("approved mask"));
    QVERIFY(!QFileInfo::exists(out));

    extest::approve(db, im.ctSeg);
    extest::approve(db, im.mrSeg);
    // CT and MR approved: one dataset cannot mix them.
    QVERIFY(QString::fromStdString(errorOf([&] { exportNnUnet(db, out.toStdString(), o); })).contains("mix CT and MRI"));
    QVERIFY(!QFileInfo::exists(out));

    o.modality = Modality::CT;
    const NnUnetExportReport r = exportNnUnet(db, out.toStdString(), o);
    QCOMPARE(r.cases.size(), size_t(1));
    const std::string caseId = r.cases[0].caseId;
    QCOMPARE(r.cases[0].maskVersionId, im.ctSeg);
    QVERIFY(std::abs(r.cases[0].volumeMl - 17.39) < 0.005);
    QCOMPARE(QDir(out + "/imagesTr").entryList(QDir::Files), QStringList{ QString::fromStdString(caseId + "_0000.nii.gz") });
    QCOMPARE(QDir(out + "/labelsTr").entryList(QDir::Files), QStringList{ QString::fromStdString(caseId + ".nii.gz") });

    QFile jf(out + "/dataset.json");
    QVERIFY(jf.open(QIODevice::ReadOnly));
    const QJsonObject ds = QJsonDocument::fromJson(jf.readAll()).object();
    QCOMPARE(ds["channel_names"].toObject()["0"].toString(), QString("CT"));
    QCOMPARE(ds["labels"].toObject()["background"].toInt(-1), 0);
    QCOMPARE(ds["labels"].toObject()["pancreas"].toInt(), 1);
    QCOMPARE(ds["numTraining"].toInt(), 1);
    QCOMPARE(ds["file_ending"].toString(), QString(".nii.gz"));
    QCOMPARE(ds["panseg_software_version"].toString(), QString("9.9.9"));

    // The label file reads back equal to the approved mask's pancreas; the image to the series.
    const LabelMask label = readMask(out.toStdString() + "/labelsTr/" + caseId + ".nii.gz");
    QVERIFY(label.voxels == db.loadMask(im.ctSeg).binary(7).voxels);
    const Image image = readImage(out.toStdString() + "/imagesTr/" + caseId + "_0000.nii.gz");
    QVERIFY(image.voxels == db.loadImage(im.ct).voxels);
    QVERIFY(label.geometry.sameGrid(image.geometry));

    // Exporting again onto the non-empty folder is refused and changes nothing.
    QVERIFY(QString::fromStdString(errorOf([&] { exportNnUnet(db, out.toStdString(), o); })).contains("not an empty folder"));
    QCOMPARE(QDir(out + "/labelsTr").entryList(QDir::Files).size(), 1);

    // MRI: channel name "MRI"; an empty existing folder may be filled.
    const QString mrOut = t.path() + "/mr";
    QVERIFY(QDir().mkpath(mrOut));
    o.modality = Modality::Mri;
    o.anyMri = true;
    const NnUnetExportReport mr = exportNnUnet(db, mrOut.toStdString() + "/", o);
    QCOMPARE(mr.channelName, std::string("MRI"));
    QVERIFY(std::abs(mr.cases.at(0).volumeMl - 31.75) < 0.005);
    // No hidden temporary folders left beside the outputs.
    QVERIFY(QDir(t.path()).entryList({ ".tmp*" }, QDir::AllEntries | QDir::Hidden).isEmpty());
  }
};

QTEST_GUILESS_MAIN(TestDatasetExport)
#include "tst_dataset_export.moc"
