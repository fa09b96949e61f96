// The clinicians' volume table and its files: volumes on imported reference data against the
// mask files themselves and SOURCES.md, follow-up deltas, filters, exact CSV, XLSX read back from
// the zip, PDF rendered by poppler, the report writer, and bad input. Each study database is a
// SQLite folder, or with PANSEG_TEST_BACKEND=postgresql a fresh database on a real PostgreSQL
// server (tests/TestBackend.h; ctest's tst_volume_table_pg).
#include "ExportTestUtil.h"
#include "../SharedData.h"
#include "../TestBackend.h"

#include "core/Error.h"
#include "core/io/ImageIO.h"
#include "database/Importer.h"
#include "database/exports/VolumeTable.h"
#include "database/studies/MaskWorkflow.h"
#include "core/display/LabelPresets.h"
#include "ui/VolumeExport.h"
#include "ui/VolumeTableModel.h"
#include "ui/VolumeTableView.h"
#include "ui/reports/Report.h"

#include <QDir>
#include <QFile>
#include <QCheckBox>
#include <QComboBox>
#include <QImage>
#include <QLineEdit>
#include <QTableView>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <map>
#include <unistd.h>

using namespace panseg;
using namespace panseg::db;
namespace fs = std::filesystem;

namespace
{
QString dir(const QTemporaryDir& t, const QString& sub = "db") { return t.path() + "/" + sub; }

QByteArray readAll(const QString& path)
{
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

bool haveTool(const QString& name) { return !QStandardPaths::findExecutable(name).isEmpty(); }

/// The two-timepoint patient P1 (CT, center A), a third draft study, and P2 (MRI-T2W, center B).
struct Fixture
{
  int64_t s1 = 0, s2 = 0, s3 = 0, s4 = 0;
  int64_t m1 = 0, ai1 = 0, m2 = 0, m3 = 0, m4 = 0;
};

Fixture buildFixture(StudyDatabase& db)
{
  Fixture f;
  const Geometry g = extest::grid(); // 1.6 mm³ voxels: 1000 voxels = 1.6 mL
  f.s1 = extest::addSeries(db, "P1", "2024-01-10", Modality::CT, "A", g);
  f.s2 = extest::addSeries(db, "P1", "2024-07-10", Modality::CT, "A", g);
  f.s3 = extest::addSeries(db, "P1", "2025-01-10", Modality::CT, "A", g);
  f.s4 = extest::addSeries(db, "P2", "2024-03-01", Modality::MriT2w, "B", extest::grid(1.0, 1.0, 3.0));
  ModelVersion mv;
  mv.modelId = "panseg-ct";
  mv.version = "2026.1";
  const int64_t model = db.registerModelVersion(mv);
  f.m1 = db.saveMaskVersion(f.s1, extest::maskWith(g, 1000, 300), extest::provenance(MaskSource::Reader));
  extest::approve(db, f.m1);
  MaskProvenance ai = extest::provenance(MaskSource::AI);
  ai.modelVersionId = model;
  f.ai1 = db.saveMaskVersion(f.s1, extest::maskWith(g, 900), ai);
  f.m2 = db.saveMaskVersion(f.s2, extest::maskWith(g, 1250), extest::provenance(MaskSource::Reader));
  extest::approve(db, f.m2);
  f.m3 = db.saveMaskVersion(f.s3, extest::maskWith(g, 1100), extest::provenance(MaskSource::Reader));
  f.m4 = db.saveMaskVersion(f.s4, extest::maskWith(extest::grid(1.0, 1.0, 3.0), 500), extest::provenance(MaskSource::Reader));
  return f;
}

ui::VolumeExportInfo fixedInfo()
{
  ui::VolumeExportInfo info;
  info.softwareVersion = "9.9.9";
  info.generatedAt = QDateTime(QDate(2026, 1, 2), QTime(3, 4, 5), Qt::UTC);
  return info;
}

const VolumeRow* rowOf(const VolumeTable& t, int64_t maskId)
{
  for (const auto& r : t.rows)
    if (r.maskVersionId == maskId)
      return &r;
  return nullptr;
}

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
} // namespace

class TestVolumeTable : public QObject
{
  Q_OBJECT

private slots:
  // ---- reference data --------------------------------------------------------------------
  void volumesOfImportedReferenceData()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator");
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(t), "alice"), where.options("alice"));
    const ImportReport r = importPath(db, paths::shared("data/totalsegmentator").toStdString());
    QVERIFY(r.failures.empty());
    QCOMPARE(r.importedMasks.size(), size_t(7));

    // Pancreas = 7 in TotalSegmentator v2 (SOURCES.md section 1).
    VolumeFilter f;
    f.label = 7;
    const VolumeTable table = buildVolumeTable(db, f);
    QCOMPARE(table.rows.size(), size_t(7)); // every imported file is its own source
    const std::map<std::string, double> stated{ { "example_seg.nii.gz", 17.39 },
                                                { "example_seg_fast.nii.gz", 14.80 },
                                                { "example_seg_mr.nii.gz", 31.75 },
                                                { "example_seg_dicom.nii.gz", 2.53 },
                                                { "example_seg_fast_force_split.nii.gz", 18.77 } };
    int checked = 0;
    for (const VolumeRow& row : table.rows)
    {
      const MaskVersion m = *db.maskVersion(row.maskVersionId);
      // What `panseg volume FILE --label 7` computes, from the original file itself.
      const LabelMask original = readMask(m.importedFrom);
      QVERIFY2(std::abs(row.volumeMl - original.volumeMl(7)) < 1e-9, m.importedFrom.c_str());
      QCOMPARE(row.voxelCount, original.countLabel(7));
      QCOMPARE(row.spacingMm, original.geometry.spacingMm);
      const auto s = stated.find(fs::path(m.importedFrom).filename().string());
      if (s != stated.end())
      {
        QVERIFY2(std::abs(row.volumeMl - s->second) < 0.005, m.importedFrom.c_str());
        ++checked;
      }
      QCOMPARE(row.source, MaskSource::Import);
      QVERIFY(QString::fromStdString(row.sourceName).startsWith("import: "));
    }
    QCOMPARE(checked, 5);

    // TotalSegmentator v1: pancreas = 10 (22.09 mL), and label 0 = the binary v1 pancreas file.
    f.label = 10;
    bool sawV1 = false;
    for (const VolumeRow& row : buildVolumeTable(db, f).rows)
      if (db.maskVersion(row.maskVersionId)->importedFrom.find("example_seg_v1_2022") != std::string::npos)
      {
        QVERIFY(std::abs(row.volumeMl - 22.09) < 0.005);
        sawV1 = true;
      }
    QVERIFY(sawV1);
    f.label = 0;
    bool sawBinary = false;
    for (const VolumeRow& row : buildVolumeTable(db, f).rows)
      if (db.maskVersion(row.maskVersionId)->importedFrom.find("pancreas_v1_2022") != std::string::npos)
      {
        QVERIFY(std::abs(row.volumeMl - 22.09) < 0.005);
        sawBinary = true;
      }
    QVERIFY(sawBinary);

    // Modality filter on real series: one MR series (file-name detection: MRI).
    f.label = 7;
    f.modality = Modality::Mri;
    f.anyMri = true;
    const VolumeTable mr = buildVolumeTable(db, f);
    QCOMPARE(mr.rows.size(), size_t(1));
    QVERIFY(std::abs(mr.rows[0].volumeMl - 31.75) < 0.005);
  }

  // ---- the pancreas found by name ------------------------------------------------------------
  // No label number: each imported TotalSegmentator map gets its preset's table on import
  // (core/display/LabelPresets.h), and the table, the study browser's column and the reduction
  // use the pancreas it names: label 7 in v2 maps, 10 in the v1 map, 1 in the binary file.
  void pancreasByNameOnRealMaps()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator");
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(t), "alice"), where.options("alice"));
    const ImportReport r = importPath(db, paths::shared("data/totalsegmentator").toStdString());
    QVERIFY(r.failures.empty());
    QCOMPARE(r.importedMasks.size(), size_t(7));

    const VolumeTable table = buildVolumeTable(db, VolumeFilter{});
    QCOMPARE(table.rows.size(), size_t(7));
    QCOMPARE(table.filterText(), std::string("pancreas label of each mask"));
    const std::map<std::string, double> stated{ { "example_seg.nii.gz", 17.39 },
                                                { "example_seg_fast.nii.gz", 14.80 },
                                                { "example_seg_mr.nii.gz", 31.75 },
                                                { "example_seg_dicom.nii.gz", 2.53 },
                                                { "example_seg_fast_force_split.nii.gz", 18.77 },
                                                { "example_seg_v1_2022.nii.gz", 22.09 },
                                                { "pancreas_v1_2022.nii.gz", 22.09 } };
    int64_t dicomMask = 0;
    for (const VolumeRow& row : table.rows)
    {
      const MaskVersion m = *db.maskVersion(row.maskVersionId);
      const std::string file = fs::path(m.importedFrom).filename().string();
      const int expected = file == "pancreas_v1_2022.nii.gz" ? 1 : file == "example_seg_v1_2022.nii.gz" ? 10 : 7;
      QCOMPARE(row.label, expected);
      const LabelMask original = readMask(m.importedFrom);
      QVERIFY2(std::abs(row.volumeMl - original.volumeMl(expected)) < 1e-9, file.c_str());
      QCOMPARE(row.voxelCount, original.countLabel(expected));
      QVERIFY2(std::abs(row.volumeMl - stated.at(file)) < 0.005, file.c_str());
      if (expected != 1) // not the spleen (label 1 of every TotalSegmentator map)
        QVERIFY2(std::abs(row.volumeMl - original.volumeMl(1)) > 0.01, file.c_str());
      QCOMPARE(db.labelTable(m.id).label(1).name, std::string(expected == 1 ? "Pancreas" : "Spleen"));
      if (file == "example_seg_dicom.nii.gz")
        dicomMask = m.id;
    }

    // The study browser's volume column: the pancreas of the newest version.
    int series = 0;
    for (const SeriesRecord& s : db.listSeries())
    {
      const std::vector<MaskVersion> masks = db.masksOf(s.id);
      if (masks.empty())
        continue;
      QVERIFY(std::abs(s.latestVolumeMl - masks.back().pancreasVolumeMl()) < 1e-9);
      QVERIFY(masks.back().pancreasVolumeMl() > 0);
      ++series;
    }
    QVERIFY(series >= 4);

    // --label N still counts label N of every mask (here the spleen).
    VolumeFilter spleen;
    spleen.label = 1;
    for (const VolumeRow& row : buildVolumeTable(db, spleen).rows)
    {
      QCOMPARE(row.label, 1);
      QVERIFY(std::abs(row.volumeMl - readMask(db.maskVersion(row.maskVersionId)->importedFrom).volumeMl(1)) < 1e-9);
    }

    // Reduced to the pancreas: a new version with label 1 = the 2.53 mL of label 7.
    QVERIFY(dicomMask > 0);
    const SavedVersion reduced = savePancreasOnlyVersion(db, dicomMask);
    const MaskVersion rv = *db.maskVersion(reduced.id);
    QCOMPARE(rv.parentId, dicomMask);
    QCOMPARE(rv.pancreasLabel, 1);
    QCOMPARE(db.loadMask(reduced.id).labels(), std::vector<int>{ 1 });
    QVERIFY(std::abs(rv.volumeMl - 2.53) < 0.005);
    QVERIFY(std::abs(rv.volumeMl - db.maskVersion(dicomMask)->labelVolumesMl.at(7)) < 1e-9);
    QCOMPARE(db.labelTable(reduced.id).label(1).name, std::string("Pancreas"));
    const VolumeRow* reducedRow = rowOf(buildVolumeTable(db, VolumeFilter{}), reduced.id);
    QVERIFY(reducedRow);
    QVERIFY(std::abs(reducedRow->volumeMl - rv.volumeMl) < 1e-9);
  }

  // The same on a generated TotalSegmentator v2-style map (spleen 1 larger than the pancreas 7),
  // an MSD Task07-style pancreas/tumour mask, and an edited table.
  void pancreasByNameOnGeneratedMaps()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(t), "alice"), where.options("alice"));
    const Geometry g = extest::grid(); // 1.6 mm3 voxels
    const std::string src = (t.path() + "/src").toStdString();
    fs::create_directories(src);
    auto image = [&](const std::string& name)
    {
      Image img(g);
      for (size_t i = 0; i < img.voxels.size(); ++i)
        img.voxels[i] = float(int((i * 7919 + name.size() * 13) % 2001) - 1000); // differs per name
      writeImage(img, src + "/" + name + ".nii.gz");
    };
    LabelMask total(g);
    auto paint = [](LabelMask& m, size_t from, size_t n, uint8_t v)
    {
      for (size_t i = from; i < from + n; ++i)
        m.voxels[i] = v;
    };
    paint(total, 0, 800, 1);    // spleen
    paint(total, 800, 500, 5);  // liver
    paint(total, 1300, 250, 7); // pancreas
    paint(total, 1550, 40, 110);
    paint(total, 1590, 20, 117);
    image("total");
    writeMask(total, src + "/total_seg.nii.gz");
    LabelMask msd(g);
    paint(msd, 0, 600, 1); // pancreas
    paint(msd, 600, 90, 2); // tumour
    image("msd");
    writeMask(msd, src + "/msd_seg.nii.gz");
    const ImportReport r = importPath(db, src);
    QVERIFY(r.failures.empty());
    QCOMPARE(r.importedMasks.size(), size_t(2));

    const VolumeTable table = buildVolumeTable(db, VolumeFilter{});
    QCOMPARE(table.rows.size(), size_t(2));
    int64_t totalId = 0;
    for (const VolumeRow& row : table.rows)
    {
      const bool isTotal = row.sourceName == "import: total_seg.nii.gz";
      QCOMPARE(row.label, isTotal ? 7 : 1);
      QCOMPARE(row.voxelCount, int64_t(isTotal ? 250 : 600));
      QVERIFY(std::abs(row.volumeMl - (isTotal ? 250 : 600) * 1.6 / 1000.0) < 1e-6); // spacing via float32 NIfTI
      if (isTotal)
        totalId = row.maskVersionId;
      else
        QCOMPARE(db.labelTable(row.maskVersionId).label(2).name, std::string("Pancreatic tumour"));
    }
    QVERIFY(totalId > 0);
    QCOMPARE(db.labelTable(totalId).label(7).name, std::string("Pancreas"));
    QVERIFY(db.maskVersion(totalId)->note.find("TotalSegmentator v2") != std::string::npos);

    // Reduced: only the 250 pancreas voxels remain, as label 1.
    const SavedVersion reduced = savePancreasOnlyVersion(db, totalId);
    const LabelMask back = db.loadMask(reduced.id);
    QCOMPARE(back.countLabel(1), int64_t(250));
    QCOMPARE(back.countLabel(0), int64_t(250));

    // The table is editable: read as a v1 map, its pancreas is label 10 (absent here: 0 mL).
    const SavedVersion asV1 = saveWithLabelTable(db, totalId, presetLabelTable(LabelPreset::TotalSegmentatorV1), "v1");
    const VolumeRow* v1 = rowOf(buildVolumeTable(db, VolumeFilter{}), asV1.id);
    QVERIFY(v1);
    QCOMPARE(v1->label, 10);
    QCOMPARE(v1->voxelCount, int64_t(0));

    // A table that names no pancreas: no label is counted (volume 0), never label 1's.
    LabelTable none;
    LabelInfo spleen = LabelTable::defaultLabel(1);
    spleen.name = "Spleen";
    spleen.category = spleen.type = {}; // renamed: no longer coded as the pancreas
    none.set(spleen);
    const SavedVersion noPancreas = saveWithLabelTable(db, totalId, none, "no pancreas");
    const VolumeRow* np = rowOf(buildVolumeTable(db, VolumeFilter{}), noPancreas.id);
    QVERIFY(np);
    QCOMPARE(np->label, -1);
    QCOMPARE(np->volumeMl, 0.0);
    QVERIFY(errorOf([&] { savePancreasOnlyVersion(db, noPancreas.id); }).find("names no pancreas") != std::string::npos);
  }

  // ---- sources, approval, follow-up ------------------------------------------------------
  void sourcesApprovalAndFollowUp()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(t), "alice"), where.options("alice"));
    const Fixture fx = buildFixture(db);
    const VolumeTable all = buildVolumeTable(db, VolumeFilter{});
    QCOMPARE(all.rows.size(), size_t(5)); // s1: reader(approved) + AI; s2; s3; s4

    const VolumeRow* approved = rowOf(all, fx.m1);
    QVERIFY(approved);
    QVERIFY(approved->approvedMask);
    QCOMPARE(approved->approvedBy, std::string("alice"));
    QVERIFY(!approved->approvedAt.empty());
    QCOMPARE(approved->voxelCount, int64_t(1000));
    QVERIFY(std::abs(approved->volumeMl - 1.6) < 1e-9); // label 1 only (300 voxels of label 2 left out)
    QCOMPARE(approved->center, std::string("A"));
    QCOMPARE(approved->studyDate, std::string("2024-01-10"));
    const VolumeRow* ai = rowOf(all, fx.ai1);
    QVERIFY(ai);
    QCOMPARE(ai->sourceName, std::string("ai: panseg-ct 2026.1"));
    QVERIFY(!ai->approvedMask);
    QVERIFY(ai->approvedBy.empty());
    QVERIFY(std::abs(ai->volumeMl - 1.44) < 1e-9);
    QCOMPARE(all.modelVersions, std::vector<std::string>{ "panseg-ct 2026.1" });

    // Follow-up of P1: approved 1.6 -> approved 2.0 (+25 %, 182 days) -> newest draft 1.76 (-12 %).
    QCOMPARE(all.followUp.size(), size_t(2));
    const FollowUpRow& a = all.followUp[0];
    QCOMPARE(a.patientId, std::string("P1"));
    QCOMPARE(a.fromMaskVersionId, fx.m1);
    QCOMPARE(a.toMaskVersionId, fx.m2);
    QCOMPARE(a.days, 182);
    QVERIFY(std::abs(a.deltaMl - 0.4) < 1e-9);
    QVERIFY(std::abs(a.deltaPercent - 25.0) < 1e-9);
    const FollowUpRow& b = all.followUp[1];
    QCOMPARE(b.toMaskVersionId, fx.m3);
    QVERIFY(std::abs(b.deltaMl + 0.24) < 1e-9);
    QVERIFY(std::abs(b.deltaPercent + 12.0) < 1e-9);

    // A later draft of the approved source does not hide the approved version.
    const int64_t later = db.saveMaskVersion(fx.s1, extest::maskWith(extest::grid(), 1010),
                                             extest::provenance(MaskSource::Reader, fx.m1));
    const VolumeTable again = buildVolumeTable(db, VolumeFilter{});
    QVERIFY(rowOf(again, fx.m1));
    QVERIFY(rowOf(again, later));
    QCOMPARE(again.followUp[0].fromMaskVersionId, fx.m1);

    // Rejected versions are left out.
    db.setMaskState(fx.m4, MaskState::Rejected);
    QVERIFY(!rowOf(buildVolumeTable(db, VolumeFilter{}), fx.m4));
  }

  void filters()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(t), "alice"), where.options("alice"));
    const Fixture fx = buildFixture(db);
    VolumeFilter f;
    f.approvedOnly = true;
    VolumeTable v = buildVolumeTable(db, f);
    QCOMPARE(v.rows.size(), size_t(2));
    QVERIFY(rowOf(v, fx.m1) && rowOf(v, fx.m2));
    QCOMPARE(v.followUp.size(), size_t(1));

    f = {};
    f.modality = Modality::Mri;
    f.anyMri = true;
    v = buildVolumeTable(db, f);
    QCOMPARE(v.rows.size(), size_t(1));
    QCOMPARE(v.rows[0].maskVersionId, fx.m4);
    f.anyMri = false; // exact "MRI" (unknown weighting) matches nothing here
    QVERIFY(buildVolumeTable(db, f).rows.empty());

    f = {};
    f.center = "B";
    QCOMPARE(buildVolumeTable(db, f).rows.size(), size_t(1));
    f = {};
    f.fromDate = "2024-02-01";
    f.toDate = "2024-12-31";
    v = buildVolumeTable(db, f);
    QCOMPARE(v.rows.size(), size_t(2)); // s2 (2024-07-10) and s4 (2024-03-01)
    QVERIFY(rowOf(v, fx.m2) && rowOf(v, fx.m4));
    f = {};
    f.seriesIds = { fx.s3 };
    QCOMPARE(buildVolumeTable(db, f).rows.size(), size_t(1));
    f = {};
    f.label = 2;
    QVERIFY(std::abs(rowOf(buildVolumeTable(db, f), fx.m1)->volumeMl - 0.48) < 1e-9);

    // Bad filter values: one clear line each.
    f = {};
    f.center = "Nowhere";
    QVERIFY(QString::fromStdString(errorOf([&] { buildVolumeTable(db, f); })).contains("centers: A, B"));
    f = {};
    f.fromDate = "2024-13-01";
    QVERIFY(QString::fromStdString(errorOf([&] { buildVolumeTable(db, f); })).contains("yyyy-mm-dd"));
    f = {};
    f.fromDate = "2025-01-01";
    f.toDate = "2024-01-01";
    QVERIFY(QString::fromStdString(errorOf([&] { buildVolumeTable(db, f); })).contains("after the end date"));
    f = {};
    f.label = 300;
    QVERIFY(!errorOf([&] { buildVolumeTable(db, f); }).empty());
    f = {};
    f.seriesIds = { 999 };
    QVERIFY(QString::fromStdString(errorOf([&] { buildVolumeTable(db, f); })).contains("no series with id 999"));
  }

  // ---- files -------------------------------------------------------------------------------
  void csvIsExact()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(t), "alice"), where.options("alice"));
    const Fixture fx = buildFixture(db);
    VolumeFilter f;
    f.approvedOnly = true;
    const VolumeTable v = buildVolumeTable(db, f);
    const QString path = t.path() + "/volumes.csv";
    ui::exportVolumeTable(v, path, fixedInfo());
    auto line = [&](int64_t series, const char* date, int64_t mask, const VolumeRow* r, const char* voxels,
                    const char* ml) {
      return QString("P1,Name^P1,%1,%2,synthetic CT,CT,A,0.8,0.8,2.5,%3,reader,reader: alice,approved,yes,alice,%4,1,%5,%6\n")
        .arg(date)
        .arg(series)
        .arg(mask)
        .arg(QString::fromStdString(r->approvedAt), voxels, ml);
    };
    const QString expected =
      "# Software: PanSeg Workstation 9.9.9\n"
      "# Generated (UTC): 2026-01-02T03:04:05Z\n"
      "# Data folder: " + QString::fromStdString(db.dataFolder()) + "\n"
      "# Filter: approved masks only, pancreas label of each mask\n"
      "# Label: pancreas of each mask's label table (by name / SCT 15776009)\n"
      "# Model versions: none (no AI mask in the table)\n"
      "# Reference mask: latest approved (default; no rule set)\n"
      "# Rows: 2\n"
      "patient_id,patient_name,study_date,series_id,series_description,modality,center,spacing_x_mm,spacing_y_mm,"
      "spacing_z_mm,mask_version_id,source,source_name,state,approved_mask,approved_by,approved_at,label,voxels,"
      "volume_ml\n" +
      line(fx.s1, "2024-01-10", fx.m1, rowOf(v, fx.m1), "1000", "1.6000") +
      line(fx.s2, "2024-07-10", fx.m2, rowOf(v, fx.m2), "1250", "2.0000");
    QCOMPARE(QString::fromUtf8(readAll(path)), expected);

    // Follow-up as CSV.
    const QString fu = t.path() + "/followup.csv";
    ui::exportVolumeTable(v, fu, fixedInfo(), true);
    QVERIFY(QString::fromUtf8(readAll(fu))
              .endsWith(QString("P1,Name^P1,CT,2024-01-10,2024-07-10,182,%1,%2,%3,%4,1.6000,2.0000,0.4000,25.0000\n")
                          .arg(fx.s1)
                          .arg(fx.s2)
                          .arg(fx.m1)
                          .arg(fx.m2)));
  }

  void xlsxOpensWithTheNumbers()
  {
    if (!haveTool("unzip"))
      QSKIP("unzip is not installed");
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(t), "alice"), where.options("alice"));
    const Fixture fx = buildFixture(db);
    // A series whose spacing came from a float header (NIfTI pixdim): 0.7f, 0.7f, 1.6f are
    // 0.699999988079071 and 1.600000023841858 as doubles; its volume has such a tail too.
    const Geometry floats = extest::grid(double(0.7f), double(0.7f), double(1.6f));
    const int64_t s5 = extest::addSeries(db, "P3", "2024-05-01", Modality::CT, "C", floats);
    db.saveMaskVersion(s5, extest::maskWith(floats, 777), extest::provenance(MaskSource::Reader));
    const VolumeTable v = buildVolumeTable(db, VolumeFilter{});
    const QString path = t.path() + "/volumes.xlsx";
    ui::exportVolumeTable(v, path, fixedInfo());
    const auto list = extest::run("unzip", { "-l", path });
    QCOMPARE(list.code, 0); // a valid zip
    for (const char* part : { "xl/workbook.xml", "xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml",
                              "xl/worksheets/sheet3.xml", "xl/sharedStrings.xml", "[Content_Types].xml" })
      QVERIFY2(list.out.contains(part), part);
    const QString workbook = extest::run("unzip", { "-p", path, "xl/workbook.xml" }).out;
    QVERIFY(workbook.contains("name=\"Volumes\"") && workbook.contains("name=\"Follow-up\"") &&
            workbook.contains("name=\"About\""));

    auto numbers = [&](const char* sheet) {
      std::vector<double> out;
      const QString xml = extest::run("unzip", { "-p", path, sheet }).out;
      // numeric cells have no t="s" attribute
      QRegularExpression re("<c r=\"[A-Z]+\\d+\"(?: s=\"\\d+\")?><v>([^<]+)</v></c>");
      for (auto it = re.globalMatch(xml); it.hasNext();)
        out.push_back(it.next().captured(1).toDouble());
      return out;
    };
    auto has = [](const std::vector<double>& values, double x) {
      return std::any_of(values.begin(), values.end(), [x](double v) { return std::abs(v - x) < 1e-9; });
    };
    // No cell carries a float-to-double tail: every number is written as the CSV prints it
    // (volumes 4 decimals, spacing 6 significant digits), e.g. 1.6 and 0.7, never 1.600000023841858.
    for (const char* sheet : { "xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml" })
    {
      const QString xml = extest::run("unzip", { "-p", path, sheet }).out;
      QRegularExpression re("<v>([^<]+)</v>");
      int cells = 0;
      for (auto it = re.globalMatch(xml); it.hasNext();)
      {
        const QString v = it.next().captured(1);
        bool number = false;
        v.toDouble(&number);
        if (!number)
          continue;
        ++cells;
        const int dot = int(v.indexOf('.'));
        QVERIFY2(dot < 0 || v.size() - dot - 1 <= 4, qPrintable(QString("%1: long number %2").arg(sheet, v)));
      }
      QVERIFY(cells > 0);
    }
    const double floatVolume = 777 * double(0.7f) * double(0.7f) * double(1.6f) / 1000.0;
    const QString csvVolume = QString::number(floatVolume, 'f', 4);
    QCOMPARE(csvVolume, QString("0.6092"));
    const QString sheet1 = extest::run("unzip", { "-p", path, "xl/worksheets/sheet1.xml" }).out;
    QVERIFY2(sheet1.contains("<v>0.6092</v>") && sheet1.contains("<v>0.7</v>") && sheet1.contains("<v>1.6</v>"),
             qPrintable(sheet1.left(4000)));

    const auto vols = numbers("xl/worksheets/sheet1.xml");
    for (double x : { 1.6, 1.44, 2.0, 1.76, 0.5 * 3.0, 1000.0, 900.0, 1250.0, 0.8, 2.5 })
      QVERIFY2(has(vols, x), qPrintable(QString::number(x)));
    QVERIFY(has(vols, double(fx.m4)));
    const auto follow = numbers("xl/worksheets/sheet2.xml");
    for (double x : { 0.4, 25.0, -0.24, -12.0, 182.0 })
      QVERIFY2(has(follow, x), qPrintable(QString::number(x)));
    const QString strings = extest::run("unzip", { "-p", path, "xl/sharedStrings.xml" }).out;
    for (const char* s : { "Name^P1", "volume_ml", "ai: panseg-ct 2026.1", "PanSeg Workstation 9.9.9",
                           "2026-01-02T03:04:05Z", "panseg-ct 2026.1", "alice" })
      QVERIFY2(strings.contains(s), s);
  }

  void pdfRendersTheTable()
  {
    if (!haveTool("pdftoppm") || !haveTool("pdftotext"))
      QSKIP("poppler-utils (pdftoppm, pdftotext) are not installed");
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(t), "alice"), where.options("alice"));
    buildFixture(db);
    const VolumeTable v = buildVolumeTable(db, VolumeFilter{});
    const QString path = t.path() + "/volumes.pdf";
    ui::exportVolumeTable(v, path, fixedInfo());
    QVERIFY(readAll(path).startsWith("%PDF-"));

    const auto text = extest::run("pdftotext", { "-layout", path, "-" });
    QCOMPARE(text.code, 0);
    for (const char* s : { "Pancreas volumes", "PanSeg Workstation 9.9.9", "panseg-ct 2026.1", "2026-01-02T03:04:05Z",
                           "1.60", "1.44", "2.00", "1.76", "1.50", "25.0", "-12.0", "0.40", "alice", "P2",
                           "MRI-T2W" })
      QVERIFY2(text.out.contains(s), s);

    const QString prefix = t.path() + "/page";
    QCOMPARE(extest::run("pdftoppm", { "-r", "40", "-png", "-f", "1", "-l", "1", path, prefix }).code, 0);
    const QStringList pngs = QDir(t.path()).entryList({ "page*.png" });
    QCOMPARE(pngs.size(), 1);
    const QImage page(t.path() + "/" + pngs.first());
    QVERIFY(!page.isNull());
    QVERIFY(page.width() > page.height()); // landscape A4
    // Not blank: some dark pixels (text, table rules).
    int dark = 0;
    for (int y = 0; y < page.height(); ++y)
      for (int x = 0; x < page.width(); ++x)
        dark += qGray(page.pixel(x, y)) < 128;
    QVERIFY(dark > 500);
  }

  void reportWriter()
  {
    QTemporaryDir t;
    ui::Report r;
    r.title = "Reader study <1>";
    r.metadata = { { "Software", "PanSeg 9.9.9" } };
    auto& s = r.addSection("Agreement");
    s.paragraphs << "Dice & friends";
    s.tables.push_back({ "Per reader", { "Reader", "Dice", "Change" }, { { "a, b", "0.81", "-3%" }, { "c \"x\"", "0.9", "" } } });
    QImage img(8, 4, QImage::Format_RGB32);
    img.fill(Qt::red);
    s.images.push_back({ img, "A red box", 600 });
    QVERIFY(s.tables[0].isNumericColumn(1));
    QVERIFY(s.tables[0].isNumericColumn(2));
    QVERIFY(!s.tables[0].isNumericColumn(0));
    QCOMPARE(ui::toCsv(s.tables[0]), QString("Reader,Dice,Change\n\"a, b\",0.81,-3%\n\"c \"\"x\"\"\",0.9,\n"));

    const QString html = t.path() + "/r.html";
    ui::writeHtml(r, html);
    const QString h = QString::fromUtf8(readAll(html));
    QVERIFY(h.contains("Reader study &lt;1&gt;"));
    QVERIFY(h.contains("Dice &amp; friends"));
    QVERIFY(h.contains("<td align=\"right\">0.81</td>"));
    // The image is inlined as a PNG that decodes back to the same pixels.
    const QRegularExpressionMatch m = QRegularExpression("data:image/png;base64,([A-Za-z0-9+/=]+)").match(h);
    QVERIFY(m.hasMatch());
    const QImage back = QImage::fromData(QByteArray::fromBase64(m.captured(1).toLatin1()), "PNG");
    QCOMPARE(back.size(), img.size());
    QCOMPARE(back.pixel(3, 2), img.pixel(3, 2));

    const QString pdf = t.path() + "/r.pdf";
    ui::writePdf(r, pdf);
    QVERIFY(readAll(pdf).startsWith("%PDF-"));
    if (haveTool("pdftotext"))
    {
      const QString text = extest::run("pdftotext", { pdf, "-" }).out;
      QVERIFY(text.contains("Reader study <1>"));
      QVERIFY(text.contains("0.81"));
    }
    // No temporary files left beside the outputs.
    QCOMPARE(QDir(t.path()).entryList(QDir::Files | QDir::Hidden).size(), 2);
  }

  void pdfKeepsHeadingsWithWhatFollows()
  {
    // k filler paragraphs, then a heading with a captioned table, then a heading with a
    // paragraph: for k from 0 to 80 the headings and the caption come to lie at every height of
    // the page, so some would end a page. None may (ui::paginate, the layout writePdf prints).
    int breaks = 0;
    for (int k = 0; k <= 80; ++k)
    {
      ui::Report r;
      r.title = "Layout";
      auto& filler = r.addSection("Filler");
      for (int i = 0; i < k; ++i)
        filler.paragraphs << QString("Paragraph %1 of the filler text.").arg(i);
      auto& a = r.addSection("Table section");
      ui::ReportTable table{ "The caption", { "Name", "Value" }, {} };
      for (int i = 0; i < 6; ++i)
        table.rows.push_back({ QString("row %1").arg(i), QString::number(i) });
      a.tables.push_back(table);
      auto& b = r.addSection("Text section");
      b.paragraphs << "The text under the second heading.";
      const ui::ReportPagination p = ui::paginate(r);
      for (size_t i = 0; i + 1 < p.items.size(); ++i)
      {
        const auto& it = p.items[i];
        breaks += it.breakBefore;
        if (it.kind == ui::ReportPageItem::Kind::Heading || it.kind == ui::ReportPageItem::Kind::Caption)
          QVERIFY2(p.items[i + 1].firstPage == it.lastPage,
                   qPrintable(QString("k = %1: '%2' ends page %3").arg(k).arg(it.text).arg(it.lastPage + 1)));
      }
      QCOMPARE(p.items.back().text, QString("The text under the second heading."));
    }
    QVERIFY(breaks > 0); // the check above was exercised: some headings had to move
  }

  // ---- the Volumes dock (real widgets, offscreen) -----------------------------------------
  void volumeDock()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(t), "alice"), where.options("alice"));
    const Fixture fx = buildFixture(db);
    ui::VolumeTableView view;
    view.setSoftwareVersion("9.9.9");
    view.setDatabase(&db);
    QCOMPARE(view.volumeModel()->rowCount(), 5);
    QCOMPARE(view.followUpModel()->rowCount(), 2);
    QCOMPARE(view.centerBox()->count(), 3); // Any, A, B

    // Sorting by volume (numeric, through the proxy): smallest first = AI 1.44 mL.
    QTableView* table = view.tableView();
    table->sortByColumn(ui::VolumeTableModel::VolumeMl, Qt::AscendingOrder);
    QCOMPARE(table->model()->index(0, ui::VolumeTableModel::VolumeMl).data().toString(), QString("1.44"));
    QCOMPARE(table->model()->index(4, ui::VolumeTableModel::VolumeMl).data().toString(), QString("2.00"));
    QCOMPARE(table->model()->index(0, ui::VolumeTableModel::Source).data().toString(), QString("ai: panseg-ct 2026.1"));

    // Filters from the controls.
    view.approvedOnlyBox()->setChecked(true);
    QCOMPARE(view.volumeModel()->rowCount(), 2);
    view.approvedOnlyBox()->setChecked(false);
    view.modalityBox()->setCurrentIndex(view.modalityBox()->findData("MRI (any)"));
    QCOMPARE(view.volumeModel()->rowCount(), 1);
    QCOMPARE(view.volumeModel()->table().rows[0].maskVersionId, fx.m4);
    view.modalityBox()->setCurrentIndex(0);
    view.centerBox()->setCurrentIndex(view.centerBox()->findData("A"));
    QCOMPARE(view.volumeModel()->rowCount(), 4);
    view.fromEdit()->setText("2024-13-45");
    QVERIFY(!view.refresh());
    QVERIFY(view.lastError().contains("yyyy-mm-dd"));
    QCOMPARE(view.volumeModel()->rowCount(), 0);
    QVERIFY(!view.exportTo(t.path() + "/none.csv")); // nothing shown: nothing written
    QVERIFY(!QFile::exists(t.path() + "/none.csv"));
    view.fromEdit()->setText("2024-07-01");
    QVERIFY(view.refresh());
    QCOMPARE(view.volumeModel()->rowCount(), 2); // s2, s3

    const QString xlsx = t.path() + "/dock.xlsx";
    QVERIFY2(view.exportTo(xlsx), qPrintable(view.lastError()));
    QVERIFY(readAll(xlsx).startsWith("PK"));
  }

  void badInputLeavesNoFile()
  {
    QTemporaryDir t;
    test::TestDb where;
    StudyDatabase db(where.createFor(dir(t), "alice"), where.options("alice"));
    buildFixture(db);
    const VolumeTable v = buildVolumeTable(db, VolumeFilter{});

    // Empty selection: clear message, nothing written, an earlier file untouched.
    VolumeFilter f;
    f.fromDate = "2030-01-01";
    const VolumeTable empty = buildVolumeTable(db, f);
    QVERIFY(empty.rows.empty());
    const QString kept = t.path() + "/kept.csv";
    {
      QFile k(kept);
      QVERIFY(k.open(QIODevice::WriteOnly));
      k.write("earlier");
    }
    for (const QString& name : { QString("empty.csv"), QString("empty.xlsx"), QString("empty.pdf"), QString("kept.csv") })
    {
      const QString e = QString::fromStdString(errorOf([&] { ui::exportVolumeTable(empty, t.path() + "/" + name, fixedInfo()); }));
      QVERIFY2(e.contains("no mask volumes match the selection"), qPrintable(e));
    }
    QCOMPARE(readAll(kept), QByteArray("earlier"));

    // Unknown extension; a folder that does not exist; a read-only folder.
    QVERIFY(QString::fromStdString(errorOf([&] { ui::exportVolumeTable(v, t.path() + "/v.docx", fixedInfo()); }))
              .contains(".csv, .xlsx, .pdf or .html"));
    QVERIFY(QString::fromStdString(errorOf([&] { ui::exportVolumeTable(v, t.path() + "/no/such/v.xlsx", fixedInfo()); }))
              .contains("does not exist"));
    if (::geteuid() != 0) // root ignores permission bits
    {
      const QString ro = t.path() + "/ro";
      QVERIFY(QDir().mkpath(ro));
      QFile::setPermissions(ro, QFileDevice::ReadOwner | QFileDevice::ExeOwner);
      for (const char* name : { "/v.csv", "/v.xlsx", "/v.pdf" })
        QVERIFY(QString::fromStdString(errorOf([&] { ui::exportVolumeTable(v, ro + name, fixedInfo()); }))
                  .contains("not writable"));
      QFile::setPermissions(ro, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner);
      QVERIFY(QDir(ro).entryList(QDir::Files | QDir::Hidden).isEmpty());
    }
    const QStringList left = QDir(t.path()).entryList(QDir::Files | QDir::Hidden);
    QCOMPARE(left, QStringList{ "kept.csv" });
  }
};

QTEST_MAIN(TestVolumeTable)
#include "tst_volume_table.moc"
