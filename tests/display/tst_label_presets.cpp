// core/display/LabelPresets: the presets' pancreas values, the recognition rule on label sets
// (those of the real TotalSegmentator files in ../shared/data, listed in SOURCES.md, and
// generated ones), the pancreas found by name or code, and the reduction to the pancreas.
#include "core/Error.h"
#include "core/display/LabelPresets.h"

#include <QtTest>

#include <numeric>

using namespace panseg;

namespace
{
std::vector<int> range(int from, int to)
{
  std::vector<int> v(size_t(to - from + 1));
  std::iota(v.begin(), v.end(), from);
  return v;
}

LabelMask smallMask()
{
  Geometry g;
  g.size = { 8, 4, 2 };
  g.spacingMm = { 1.0, 1.0, 2.0 };
  return LabelMask(g);
}
} // namespace

class TestLabelPresets : public QObject
{
  Q_OBJECT

private slots:
  void presetsNameThePancreas()
  {
    // TotalSegmentator's class_map (map_to_binary.py): v1 "total_v1" pancreas 10, v2 "total" and
    // "total_mr" pancreas 7; label 1 is the spleen in all three.
    const LabelTable v1 = presetLabelTable(LabelPreset::TotalSegmentatorV1);
    const LabelTable v2 = presetLabelTable(LabelPreset::TotalSegmentatorV2);
    const LabelTable mr = presetLabelTable(LabelPreset::TotalSegmentatorV2Mr);
    QCOMPARE(int(v1.entries().size()), 104);
    QCOMPARE(int(v2.entries().size()), 117);
    QCOMPARE(int(mr.entries().size()), 50);
    QCOMPARE(pancreasLabelOf(v1), 10);
    QCOMPARE(pancreasLabelOf(v2), 7);
    QCOMPARE(pancreasLabelOf(mr), 7);
    for (const LabelTable* t : { &v1, &v2, &mr })
    {
      QCOMPARE(t->label(1).name, std::string("Spleen"));
      QVERIFY(t->label(1).type.value != "15776009");
      QVERIFY(pancreaticLesionLabelsOf(*t).empty()); // kidney cysts are not pancreatic lesions
      QVERIFY(namesOtherStructures(*t));
    }
    QCOMPARE(v2.label(7).type.value, std::string("15776009")); // coded, so DICOM SEG export names it
    QCOMPARE(v2.label(2).name, std::string("Kidney right"));
    QCOMPARE(v2.label(117).name, std::string("Costal cartilages"));
    QCOMPARE(v1.label(104).name, std::string("Urinary bladder"));
    QCOMPARE(mr.label(50).name, std::string("Brain"));

    const LabelTable msd = presetLabelTable(LabelPreset::MsdTask07);
    QCOMPARE(pancreasLabelOf(msd), 1);
    QCOMPARE(pancreaticLesionLabelsOf(msd), std::vector<int>{ 2 });
    QVERIFY(!namesOtherStructures(msd));
    QCOMPARE(pancreasLabelOf(presetLabelTable(LabelPreset::NihPancreasCt)), 1);
    QVERIFY(presetLabelTable(LabelPreset::PanSeg) == LabelTable::defaults());

    for (LabelPreset p : allLabelPresets())
      QCOMPARE(parseLabelPreset(to_string(p)), std::optional<LabelPreset>(p));
    QVERIFY(!parseLabelPreset("totalsegmentator"));
  }

  void pancreasByNameOrCode()
  {
    LabelTable t;
    QCOMPARE(pancreasLabelOf(t), 0); // names none
    LabelInfo liver = LabelTable::defaultLabel(3);
    liver.name = "Liver";
    t.set(liver);
    QCOMPARE(pancreasLabelOf(t), 0);
    LabelInfo p = LabelTable::defaultLabel(9);
    p.name = "PANCREAS (whole)";
    p.category = p.type = {}; // codes from the name
    t.set(p);
    QCOMPARE(pancreasLabelOf(t), 9);
    // A differently named entry coded as the pancreas (e.g. from a DICOM SEG) counts too.
    LabelInfo coded = LabelTable::defaultLabel(4);
    coded.name = "Bauchspeicheldruese";
    coded.type = { "15776009", "SCT", "Pancreas" };
    coded.category = { "91723000", "SCT", "Anatomical Structure" };
    t.set(coded);
    QCOMPARE(pancreasLabelOf(t), 4); // the smallest value
    QVERIFY(wholeMaskLabelOf(t) == 4);  // a liver beside it: a multi-organ table
    QCOMPARE(wholeMaskLabelOf(LabelTable::defaults()), 0);
  }

  void recognitionRule()
  {
    // The label sets of the real files (../shared/data/totalsegmentator, SOURCES.md section 1).
    const std::vector<int> v2Dicom{ 1,  5,  6,  7,  8,   20,  32,  33,  52,  63,  64,  69,  70,  79,  86, 87,
                                    97, 98, 99, 100, 101, 102, 103, 109, 110, 111, 112, 113, 114, 115, 117 };
    const std::vector<int> v1Full{ 1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 16, 17, 18, 19, 20, 21,
                                   22, 23, 24, 44, 51, 52, 53, 54, 55, 56, 57, 64, 65, 66, 67, 68, 69, 76, 77, 78,
                                   79, 80, 81, 88, 89, 90, 91, 92, 94, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104 };
    const std::vector<int> v2Mr{ 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 14, 15, 19, 20, 21, 23, 24, 25, 46, 47, 48, 49 };
    QCOMPARE(detectLabelPreset(v2Dicom), std::optional<LabelPreset>(LabelPreset::TotalSegmentatorV2));
    QCOMPARE(detectLabelPreset(v1Full), std::optional<LabelPreset>(LabelPreset::TotalSegmentatorV1));
    QCOMPARE(detectLabelPreset(v2Mr), std::optional<LabelPreset>(LabelPreset::TotalSegmentatorV2Mr));
    QCOMPARE(detectLabelPreset(range(1, 117)), std::optional<LabelPreset>(LabelPreset::TotalSegmentatorV2));
    QCOMPARE(detectLabelPreset(range(1, 104)), std::optional<LabelPreset>(LabelPreset::TotalSegmentatorV1));
    QCOMPARE(detectLabelPreset({}), std::optional<LabelPreset>(LabelPreset::PanSeg));
    QCOMPARE(detectLabelPreset({ 1 }), std::optional<LabelPreset>(LabelPreset::PanSeg));
    QCOMPARE(detectLabelPreset({ 0, 1, 2 }), std::optional<LabelPreset>(LabelPreset::MsdTask07));
    QCOMPARE(detectLabelPreset({ 2 }), std::optional<LabelPreset>(LabelPreset::MsdTask07));
    QVERIFY(!detectLabelPreset({ 1, 3 }));   // two values, not a known map
    QVERIFY(!detectLabelPreset({ 1, 2, 3 })); // pancreas / tumour / cyst: the defaults, not total_mr
    QVERIFY(!detectLabelPreset({ 1, 200 })); // above TotalSegmentator's 117
    std::optional<LabelPreset> seen;
    QCOMPARE(pancreasLabelOf(labelTableForValues(v2Dicom, &seen)), 7);
    QCOMPARE(seen, std::optional<LabelPreset>(LabelPreset::TotalSegmentatorV2));
    QVERIFY(labelTableForValues({ 1, 3 }, &seen) == LabelTable::defaults());
    QVERIFY(!seen);
  }

  void reduceKeepsPancreasAndLesions()
  {
    // A TotalSegmentator v2 map: spleen 1, liver 5, pancreas 7.
    LabelMask m = smallMask();
    for (size_t i = 0; i < m.voxels.size(); ++i)
      m.voxels[i] = uint8_t(i < 10 ? 1 : i < 20 ? 5 : i < 26 ? 7 : 0);
    const PancreasReduction r = reduceToPancreas(m, presetLabelTable(LabelPreset::TotalSegmentatorV2));
    QCOMPARE(r.pancreasFrom, 7);
    QVERIFY(r.lesionsFrom.empty());
    QCOMPARE(r.mask.countLabel(1), int64_t(6));
    QCOMPARE(r.mask.countLabel(0), int64_t(6));
    QCOMPARE(r.mask.labels(), std::vector<int>{ 1 });
    QCOMPARE(r.mask.geometry.size, m.geometry.size);
    QCOMPARE(r.table.label(1).name, std::string("Pancreas"));
    QCOMPARE(int(r.table.entries().size()), 1);

    // A table with a pancreas at 4 and a tumour at 9 and a cyst at 6: 1, 2 (cyst), 3 (tumour).
    LabelTable t;
    for (auto [value, name] : { std::pair<int, const char*>{ 4, "Pancreas" }, { 6, "Cyst" }, { 9, "Tumour" },
                                { 2, "Duodenum" } })
    {
      LabelInfo l = LabelTable::defaultLabel(value);
      l.name = name;
      l.category = l.type = {};
      t.set(l);
    }
    LabelMask n = smallMask();
    n.voxels[0] = 4;
    n.voxels[1] = 6;
    n.voxels[2] = 9;
    n.voxels[3] = 2;
    const PancreasReduction q = reduceToPancreas(n, t);
    QCOMPARE(q.lesionsFrom, (std::vector<int>{ 6, 9 }));
    QCOMPARE(int(q.mask.voxels[0]), 1);
    QCOMPARE(int(q.mask.voxels[1]), 2);
    QCOMPARE(int(q.mask.voxels[2]), 3);
    QCOMPARE(int(q.mask.voxels[3]), 0);
    QCOMPARE(q.table.label(2).name, std::string("Cyst"));
    QCOMPARE(q.table.label(3).type.value, std::string("108369006"));

    // No pancreas named: a clear error naming the mask.
    LabelTable none;
    LabelInfo liver = LabelTable::defaultLabel(1);
    liver.name = "Liver";
    liver.category = liver.type = {}; // a renamed label loses the pancreas code (as Edit > Labels does)
    none.set(liver);
    QString error;
    try
    {
      reduceToPancreas(n, none, "mask version 12");
    }
    catch (const Error& e)
    {
      error = e.what();
    }
    QVERIFY2(error.startsWith("mask version 12: its label table names no pancreas"), qPrintable(error));
  }
};

QTEST_GUILESS_MAIN(TestLabelPresets)
#include "tst_label_presets.moc"
