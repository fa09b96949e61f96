// core/display: slice extraction, orientation, screen mapping, window/level, overlays.
// Pure C++ under test; Qt Test only drives it.
#include "core/display/FileRole.h"
#include "core/display/ImageAnnotations.h"
#include "core/display/LabelColors.h"
#include "core/display/LabelTable.h"
#include "core/Error.h"
#include "core/display/SliceGeometry.h"
#include "core/display/SliceRendering.h"
#include "core/display/ViewTransform.h"
#include "core/display/WindowLevel.h"

#include <QtTest>

#include <cmath>
#include <set>

using namespace panseg;

namespace
{
// Voxel value encodes its index: x + 10 y + 100 z.
Image indexCodedImage(const Geometry& g)
{
  Image img(g, 0.0f);
  for (int64_t z = 0; z < g.size[2]; ++z)
    for (int64_t y = 0; y < g.size[1]; ++y)
      for (int64_t x = 0; x < g.size[0]; ++x)
        img.at(x, y, z) = static_cast<float>(x + 10 * y + 100 * z);
  return img;
}

Geometry grid(Size3 size, Vec3 spacing, Mat3 direction = {1, 0, 0, 0, 1, 0, 0, 0, 1})
{
  Geometry g;
  g.size = size;
  g.spacingMm = spacing;
  g.originMm = {-10.0, 20.0, 30.0};
  g.direction = direction;
  return g;
}

const Mat3 kRas{-1, 0, 0, 0, -1, 0, 0, 0, 1};
// kits23 storage: index 0 runs S->I, index 1 A->P, index 2 R->L (columns are index axes).
const Mat3 kPermuted{0, 0, 1, 0, 1, 0, -1, 0, 0};

void compareLetters(const EdgeLetters& e, const char* left, const char* right, const char* top,
                    const char* bottom)
{
  QCOMPARE(QString::fromStdString(e.left), QString(left));
  QCOMPARE(QString::fromStdString(e.right), QString(right));
  QCOMPARE(QString::fromStdString(e.top), QString(top));
  QCOMPARE(QString::fromStdString(e.bottom), QString(bottom));
}
} // namespace

class TstDisplay : public QObject
{
  Q_OBJECT
private slots:
  void imageAnnotationsFromDicomTags()
  {
    QCOMPARE(formatPersonName("DOE^JANE"), std::string("DOE, JANE"));
    QCOMPARE(formatPersonName("Doe^Jane^Q^Dr.^PhD"), std::string("Doe, Jane Q Dr. PhD"));
    QCOMPARE(formatPersonName("DOE^^^^"), std::string("DOE"));
    QCOMPARE(formatPersonName("^JANE"), std::string("JANE"));
    QCOMPARE(formatPersonName("YAMADA^TARO=山田^太郎"), std::string("YAMADA, TARO"));
    QCOMPARE(formatPersonName("  "), std::string());
    QCOMPARE(formatDicomDate("20230115"), std::string("2023-01-15"));
    QCOMPARE(formatDicomDate("2023.01.15 "), std::string("2023.01.15"));
    QCOMPARE(formatDicomTime("140215.123456"), std::string("14:02"));
    QCOMPARE(formatDicomTime("1402"), std::string("14:02"));
    QCOMPARE(formatDicomTime("14:02:15"), std::string("14:02"));
    QCOMPARE(formatDicomTime("14"), std::string("14"));

    ImageInfo dicom;
    dicom.format = "DICOM";
    dicom.modality = "CT";
    dicom.sourcePath = "/data/ct_dicom";
    dicom.tags = {{"PatientName", "DOE^JANE"}, {"PatientID", "P-0042 "},      {"StudyDate", "20230115"},
                  {"StudyTime", "140215"},    {"StudyDescription", "CT ABDOMEN"}, {"SeriesNumber", "3"},
                  {"SeriesDescription", "Portal venous"}};
    const ImageAnnotations a = imageAnnotations(dicom);
    QCOMPARE(a.patientName, std::string("DOE, JANE"));
    QCOMPARE(a.patientId, std::string("ID P-0042"));
    QCOMPARE(a.study, std::string("2023-01-15 14:02  CT ABDOMEN"));
    QCOMPARE(a.series, std::string("Series 3: Portal venous  CT"));

    // A NIfTI file: no patient or study, the file name as the series.
    ImageInfo nifti;
    nifti.format = "NIfTI";
    nifti.sourcePath = "/data/case_00012/imaging.nii.gz";
    const ImageAnnotations n = imageAnnotations(nifti);
    QVERIFY(n.patientName.empty() && n.patientId.empty() && n.study.empty());
    QCOMPARE(n.series, std::string("imaging.nii.gz"));
    // A DICOM series without a description keeps what it has.
    ImageInfo bare;
    bare.format = "DICOM";
    bare.modality = "MR";
    bare.tags = {{"StudyDate", "20240301"}};
    const ImageAnnotations b = imageAnnotations(bare);
    QCOMPARE(b.study, std::string("2024-03-01"));
    QCOMPARE(b.series, std::string("MR"));
  }

  void sliceExtractionAnisotropic()
  {
    const Geometry g = grid({4, 3, 5}, {0.8, 0.8, 3.0});
    const Image img = indexCodedImage(g);

    const SliceMapper axial(g, SliceOrientation::Axial);
    const SliceBuffer<float> a = extractSlice(img, axial, 2);
    QCOMPARE(a.width, 4);
    QCOMPARE(a.height, 3);
    QCOMPARE(a.pixelWidthMm, 0.8);
    QCOMPARE(a.pixelHeightMm, 0.8);
    QCOMPARE(a.at(0, 0), 200.0f); // LPS grid: x to the right, y (posterior) down
    QCOMPARE(a.at(3, 2), 3.0f + 20.0f + 200.0f);

    const SliceMapper coronal(g, SliceOrientation::Coronal);
    const SliceBuffer<float> c = extractSlice(img, coronal, 1);
    QCOMPARE(c.width, 4);
    QCOMPARE(c.height, 5);
    QCOMPARE(c.pixelWidthMm, 0.8);
    QCOMPARE(c.pixelHeightMm, 3.0); // true aspect: 3.2 mm wide, 15 mm high
    QCOMPARE(c.widthMm(), 4 * 0.8);
    QCOMPARE(c.heightMm(), 15.0);
    QCOMPARE(c.at(0, 0), 10.0f + 400.0f); // superior (z = 4) at the top
    QCOMPARE(c.at(2, 4), 2.0f + 10.0f);

    const SliceMapper sagittal(g, SliceOrientation::Sagittal);
    const SliceBuffer<float> s = extractSlice(img, sagittal, 2);
    QCOMPARE(s.width, 3);
    QCOMPARE(s.height, 5);
    QCOMPARE(s.pixelWidthMm, 0.8);
    QCOMPARE(s.pixelHeightMm, 3.0);
    QCOMPARE(s.at(0, 0), 2.0f + 0.0f + 400.0f); // anterior (y = 0) on the left, superior on top
    QCOMPARE(s.at(2, 4), 2.0f + 20.0f);

    // Out-of-range slice indices clamp instead of reading outside the volume.
    QCOMPARE(extractSlice(img, axial, 99).at(0, 0), 400.0f);

    // The fitted rectangle keeps the physical aspect of the coronal slice.
    ViewTransform t{300, 300, c.width, c.height, c.pixelWidthMm, c.pixelHeightMm};
    const ScreenRect r = t.sliceRect();
    QVERIFY(std::abs(r.width / r.height - (3.2 / 15.0)) < 1e-9);
    QVERIFY(std::abs(r.height - 300.0) < 1e-9);
  }

  void orientationLettersLps()
  {
    const Geometry g = grid({8, 8, 8}, {1, 1, 1});
    QCOMPARE(QString::fromStdString(g.orientationCode()), QString("LPS"));
    compareLetters(SliceMapper(g, SliceOrientation::Axial).edgeLetters(), "R", "L", "A", "P");
    compareLetters(SliceMapper(g, SliceOrientation::Coronal).edgeLetters(), "R", "L", "S", "I");
    compareLetters(SliceMapper(g, SliceOrientation::Sagittal).edgeLetters(), "A", "P", "S", "I");
    const SliceMapper axial(g, SliceOrientation::Axial);
    QVERIFY(!axial.columnFlipped());
    QVERIFY(!axial.rowFlipped());
    QCOMPARE(axial.forwardSliceStep(), 1); // z index grows toward superior
  }

  void orientationLettersRas()
  {
    const Geometry g = grid({4, 3, 5}, {0.8, 0.8, 3.0}, kRas);
    QCOMPARE(QString::fromStdString(g.orientationCode()), QString("RAS"));
    // Stored RAS, shown the same as LPS: the index axes run against the screen.
    const SliceMapper axial(g, SliceOrientation::Axial);
    compareLetters(axial.edgeLetters(), "R", "L", "A", "P");
    compareLetters(SliceMapper(g, SliceOrientation::Coronal).edgeLetters(), "R", "L", "S", "I");
    compareLetters(SliceMapper(g, SliceOrientation::Sagittal).edgeLetters(), "A", "P", "S", "I");
    QVERIFY(axial.columnFlipped());
    QVERIFY(axial.rowFlipped());
    const Image img = indexCodedImage(g);
    const SliceBuffer<float> a = extractSlice(img, axial, 1);
    QCOMPARE(a.at(0, 0), 3.0f + 20.0f + 100.0f); // top-left = most right (x=3), anterior (y=2)
    QCOMPARE(a.at(3, 2), 100.0f);
    // Screen right really is the patient's left in world coordinates.
    const Vec3 p0 = axial.sliceToPhysical(0, 0, 1), p1 = axial.sliceToPhysical(3, 0, 1);
    QVERIFY(p1[0] > p0[0]);
  }

  void orientationLettersPermuted()
  {
    const Geometry g = grid({5, 4, 3}, {5.0, 0.8, 0.7}, kPermuted);
    QCOMPARE(QString::fromStdString(g.orientationCode()), QString("IPL"));
    const SliceMapper axial(g, SliceOrientation::Axial);
    QCOMPARE(axial.sliceAxis(), 0);
    QCOMPARE(axial.columnAxis(), 2);
    QCOMPARE(axial.rowAxis(), 1);
    QCOMPARE(axial.sliceCount(), 5);
    QCOMPARE(axial.forwardSliceStep(), -1); // index 0 grows toward inferior
    compareLetters(axial.edgeLetters(), "R", "L", "A", "P");
    const SliceMapper coronal(g, SliceOrientation::Coronal);
    QCOMPARE(coronal.sliceAxis(), 1);
    QCOMPARE(coronal.rowAxis(), 0);
    QVERIFY(!coronal.rowFlipped()); // index 0 already runs downward (S->I)
    QCOMPARE(coronal.pixelHeightMm(), 5.0);
    compareLetters(coronal.edgeLetters(), "R", "L", "S", "I");
    compareLetters(SliceMapper(g, SliceOrientation::Sagittal).edgeLetters(), "A", "P", "S", "I");

    // An oblique grid (30 degrees about z) shows its tilt with a second letter.
    const double c = std::cos(M_PI / 6), s = std::sin(M_PI / 6);
    const Geometry ob = grid({8, 8, 8}, {1, 1, 1}, {c, -s, 0, s, c, 0, 0, 0, 1});
    const EdgeLetters e = SliceMapper(ob, SliceOrientation::Axial).edgeLetters();
    QCOMPARE(QString::fromStdString(e.right), QString("LP"));
    QCOMPARE(QString::fromStdString(e.left), QString("RA"));
  }

  void indexScreenRoundTrip()
  {
    for (const Mat3& dir : {Mat3{1, 0, 0, 0, 1, 0, 0, 0, 1}, kRas, kPermuted})
    {
      const Geometry g = grid({6, 7, 9}, {0.7, 0.9, 2.5}, dir);
      for (SliceOrientation o :
           {SliceOrientation::Axial, SliceOrientation::Coronal, SliceOrientation::Sagittal})
      {
        const SliceMapper m(g, o);
        ViewTransform t{317, 211, m.width(), m.height(), m.pixelWidthMm(), m.pixelHeightMm()};
        t.zoom = 2.5;
        t.panXPx = 13;
        t.panYPx = -7;
        for (int64_t z = 0; z < 9; z += 4)
          for (int64_t y = 0; y < 7; y += 3)
            for (int64_t x = 0; x < 6; x += 5)
            {
              const Vec3 idx{double(x), double(y), double(z)};
              const Vec3 sl = m.indexToSlice(idx);
              const ScreenPoint sp = t.sliceToScreen(sl[0], sl[1]);
              const ScreenPoint back = t.screenToSlice(sp.x, sp.y);
              const Vec3 idx2 = m.sliceToIndex(back.x, back.y, sl[2]);
              for (int k = 0; k < 3; ++k)
                QVERIFY(std::abs(idx2[k] - idx[k]) < 1e-9);
              const Vec3 mm = g.indexToPhysical(idx);
              const Vec3 sl2 = m.physicalToSlice(mm);
              for (int k = 0; k < 3; ++k)
                QVERIFY(std::abs(sl2[k] - sl[k]) < 1e-9);
            }
        // Zooming about a point keeps the slice pixel under it in place.
        ViewTransform zoomed = t;
        const ScreenPoint before = zoomed.screenToSlice(40, 150);
        zoomed.zoomAbout(1.7, 40, 150);
        const ScreenPoint after = zoomed.screenToSlice(40, 150);
        QVERIFY(std::abs(after.x - before.x) < 1e-9 && std::abs(after.y - before.y) < 1e-9);
        QVERIFY(std::abs(zoomed.zoom - 2.5 * 1.7) < 1e-12);
        // Pixel centre 0 sits half a pixel inside the slice's left edge.
        const ScreenRect r = t.sliceRect();
        const ScreenPoint edge = t.sliceToScreen(-0.5, -0.5);
        QVERIFY(std::abs(edge.x - r.left) < 1e-9 && std::abs(edge.y - r.top) < 1e-9);
      }
    }
  }

  void windowPresets()
  {
    const auto& presets = ctWindowPresets();
    QVERIFY(presets.size() >= 4);
    QCOMPARE(QString::fromStdString(presets[0].name), QString("Abdomen"));
    QCOMPARE(presets[0].window.width, 400.0);
    QCOMPARE(presets[0].window.level, 40.0);
    bool bone = false;
    for (const auto& p : presets)
      if (p.name == "Bone")
        bone = p.window.width == 1800.0 && p.window.level == 400.0;
    QVERIFY(bone);

    const WindowLevel wl{400, 40};
    QCOMPARE(int(wl.grey(-160)), 0);
    QCOMPARE(int(wl.grey(-1000)), 0);
    QCOMPARE(int(wl.grey(240)), 255);
    QVERIFY(std::abs(int(wl.grey(40)) - 128) <= 1);
    const float values[3] = {-1000.f, 40.f, 3000.f};
    uint32_t px[3];
    renderGrey(values, 3, wl, px);
    QCOMPARE(px[0], 0xFF000000u);
    QCOMPARE(px[2], 0xFFFFFFFFu);
    QCOMPARE(px[1] & 0xFF, (px[1] >> 8) & 0xFF);

    Geometry g = grid({10, 10, 10}, {1, 1, 1});
    Image ct(g, 40.0f);
    for (int i = 0; i < 300; ++i)
      ct.voxels[size_t(i)] = -1000.0f;
    QVERIFY(looksLikeCt(ct));
    QCOMPARE(defaultWindowLevel(ct), presets[0].window);
    Image mr(g, 300.0f);
    mr.info.modality = "MR";
    QVERIFY(!looksLikeCt(mr));
  }

  void mriAutomaticPercentiles()
  {
    // Half background (0), half "body" uniform over 200..1199.
    Geometry g = grid({100, 100, 20}, {1, 1, 1});
    Image mr(g, 0.0f);
    mr.info.modality = "MR";
    for (size_t i = 0; i < mr.voxels.size(); ++i)
      if (i % 2 == 1)
        mr.voxels[i] = static_cast<float>(200 + (i / 2) % 1000);
    const auto [lo, hi] = bodyPercentiles(mr);
    QVERIFY2(std::abs(lo - 210.0) < 2.0, qPrintable(QString::number(lo)));
    QVERIFY2(std::abs(hi - 1189.0) < 2.0, qPrintable(QString::number(hi)));
    const WindowLevel wl = defaultWindowLevel(mr);
    QVERIFY(std::abs(wl.width - (hi - lo)) < 1e-6);
    QVERIFY(std::abs(wl.level - (hi + lo) / 2) < 1e-6);
  }

  void overlayFillAndOutline()
  {
    SliceBuffer<uint8_t> labels;
    labels.width = labels.height = 7;
    labels.pixels.assign(49, 0);
    for (int y = 2; y <= 4; ++y)
      for (int x = 2; x <= 4; ++x)
        labels.pixels[size_t(y * 7 + x)] = 1;
    const LabelColorTable& colors = LabelColorTable::standard();
    const Rgb c1 = colors.color(1);
    const uint32_t grey = 0xFF404040u;
    const uint32_t pure = 0xFF000000u | (uint32_t(c1.r) << 16) | (uint32_t(c1.g) << 8) | c1.b;
    auto count = [&](const std::vector<uint32_t>& px, uint32_t v)
    { return int(std::count(px.begin(), px.end(), v)); };

    std::vector<uint32_t> fill(49, grey);
    compositeLabels(fill.data(), labels, colors, {true, 1.0, OverlayMode::Fill});
    QCOMPARE(count(fill, pure), 9);
    QCOMPARE(count(fill, grey), 40);

    std::vector<uint32_t> half(49, grey);
    compositeLabels(half.data(), labels, colors, {true, 0.5, OverlayMode::Fill});
    const uint32_t centre = half[3 * 7 + 3];
    QCOMPARE(int((centre >> 16) & 0xFF), int(std::lround((0x40 + c1.r) / 2.0)));
    QCOMPARE(count(half, grey), 40);

    std::vector<uint32_t> outline(49, grey);
    compositeLabels(outline.data(), labels, colors, {true, 0.3, OverlayMode::Outline});
    QCOMPARE(count(outline, pure), 8);  // the ring, opaque whatever the fill opacity
    QCOMPARE(outline[3 * 7 + 3], grey); // the inside stays visible
    QVERIFY(isOutlinePixel(labels.pixels.data(), 7, 7, 2, 2));
    QVERIFY(!isOutlinePixel(labels.pixels.data(), 7, 7, 3, 3));

    std::vector<uint32_t> hidden(49, grey);
    compositeLabels(hidden.data(), labels, colors, {false, 1.0, OverlayMode::Fill});
    QCOMPARE(count(hidden, grey), 49);
  }

  void labelColorsDistinct()
  {
    const LabelColorTable& t = LabelColorTable::standard();
    std::set<std::tuple<int, int, int>> seen;
    for (int l = 1; l < 256; ++l)
    {
      const Rgb c = t.color(l);
      const int mx = std::max({c.r, c.g, c.b}), mn = std::min({c.r, c.g, c.b});
      QVERIFY2(mx - mn > 60, qPrintable(QString("label %1 is greyish").arg(l))); // not grey
      if (l <= 12)
        QVERIFY(seen.insert({c.r, c.g, c.b}).second);
    }
    const Rgb p = t.color(1);
    QVERIFY(p.r > 200 && p.b < 60); // pancreas: warm amber
  }

  // Issue 20: named, coloured labels.
  void labelTableDefaults()
  {
    const LabelTable t = LabelTable::defaults();
    QCOMPARE(t.entries().size(), size_t(1));
    const LabelInfo p = t.label(1);
    QCOMPARE(p.name, std::string("Pancreas"));
    QVERIFY(p.color == LabelColorTable::standard().color(1)); // the amber overlays always had
    QCOMPARE(p.type.value, std::string("15776009"));
    QCOMPARE(p.category.value, std::string("91723000"));
    // Undeclared values: "Label N", the palette colour, coded as tissue.
    const LabelInfo l3 = t.label(3);
    QCOMPARE(l3.name, std::string("Label 3"));
    QVERIFY(l3.color == LabelColorTable::standard().color(3));
    QCOMPARE(l3.type.value, std::string("85756007"));
    QVERIFY(!t.has(3));
    QCOMPARE(t.nextFreeValue(), 2);
    // The picker's list: declared entries plus the values present in a mask.
    const auto listed = t.entriesWith({ 4, 1, 0, 300 });
    QCOMPARE(listed.size(), size_t(2));
    QCOMPARE(listed[0].value, 1);
    QCOMPARE(listed[1].name, std::string("Label 4"));
  }

  void labelTableEditsAndColours()
  {
    LabelTable t = LabelTable::defaults();
    LabelInfo tumour;
    tumour.value = 2;
    tumour.name = "Tumour";
    tumour.color = { 200, 30, 30 };
    t.set(tumour); // codes from the name
    QCOMPARE(t.label(2).type.value, std::string("108369006"));
    LabelInfo other;
    other.value = 9;
    other.name = "Splenic vein";
    other.color = { 10, 20, 250 };
    t.set(other); // unknown name: tissue
    QCOMPARE(t.label(9).category.meaning, std::string("Tissue"));
    // Known names also with a qualifier; not as part of another word.
    QCOMPARE(LabelTable::knownCodes("Pancreas (head)").second.value, std::string("15776009"));
    QCOMPARE(LabelTable::knownCodes("pancreatic tumour").second.value, std::string("108369006"));
    QVERIFY(LabelTable::knownCodes("Pancreaticoduodenal vein").second.empty());
    QVERIFY(LabelTable::knownCodes("Cystic duct").second.empty());
    QVERIFY(t.colors().color(2) == (Rgb{ 200, 30, 30 }));
    QVERIFY(t.colors().color(5) == LabelColorTable::standard().color(5));
    LabelInfo bad = other;
    bad.value = 0;
    QVERIFY_THROWS_EXCEPTION(Error, t.set(bad));
    bad.value = 3;
    bad.name.clear();
    QVERIFY_THROWS_EXCEPTION(Error, t.set(bad));
    t.remove(9);
    QVERIFY(!t.has(9));
    QVERIFY(t != LabelTable::defaults());

    QCOMPARE(hexColor({ 230, 160, 64 }), std::string("#e6a040"));
    QVERIFY(parseHexColor("#E6A040") == (Rgb{ 230, 160, 64 }));
    QVERIFY(parseHexColor("e6a040") == (Rgb{ 230, 160, 64 }));
    QVERIFY(!parseHexColor("#e6a04"));
    QVERIFY(!parseHexColor("#e6a04g"));
  }

  void cieLabConversion()
  {
    // Reference values (sRGB, D65): white, black, pure red.
    const CieLab white = rgbToLab({ 255, 255, 255 });
    QVERIFY(std::abs(white.l - 100.0) < 0.01 && std::abs(white.a) < 0.01 && std::abs(white.b) < 0.01);
    const CieLab black = rgbToLab({ 0, 0, 0 });
    QVERIFY(std::abs(black.l) < 0.01);
    const CieLab red = rgbToLab({ 255, 0, 0 });
    QVERIFY2(std::abs(red.l - 53.24) < 0.05 && std::abs(red.a - 80.09) < 0.05 && std::abs(red.b - 67.20) < 0.05,
             qPrintable(QString("%1 %2 %3").arg(red.l).arg(red.a).arg(red.b)));
    // DICOM's scaled form: L 0..100 and a/b -128..127 onto 0..65535.
    QCOMPARE(labToDicom(white)[0], uint16_t(65535));
    QCOMPARE(labToDicom({ 0, -128, 127 })[1], uint16_t(0));
    QCOMPARE(labToDicom({ 0, -128, 127 })[2], uint16_t(65535));
    // RGB -> Lab -> DICOM -> Lab -> RGB gives the colour back (within one step) on a grid of the
    // whole cube.
    int worst = 0;
    for (int r = 0; r < 256; r += 15)
      for (int g = 0; g < 256; g += 15)
        for (int b = 0; b < 256; b += 15)
        {
          const Rgb c{ uint8_t(r), uint8_t(g), uint8_t(b) };
          const Rgb back = labToRgb(dicomToLab(labToDicom(rgbToLab(c))));
          worst = std::max({ worst, std::abs(back.r - r), std::abs(back.g - g), std::abs(back.b - b) });
        }
    QVERIFY2(worst <= 1, qPrintable(QString("worst channel error %1").arg(worst)));
    // dcmqi's liver segment (41661\41167\40792) is Slicer's liver colour (221, 130, 101).
    const Rgb liver = labToRgb(dicomToLab({ 41661, 41167, 40792 }));
    QVERIFY2(std::abs(liver.r - 221) <= 2 && std::abs(liver.g - 130) <= 2 && std::abs(liver.b - 101) <= 2,
             qPrintable(QString::fromStdString(hexColor(liver))));
  }

  void dropRoles()
  {
    QVERIFY(nameSuggestsMask("/data/case1/example_seg.nii.gz"));
    QVERIFY(nameSuggestsMask("Pancreas_MASK.nrrd"));
    QVERIFY(nameSuggestsMask("/k/kidney_instance-1_annotation-1.nii.gz"));
    QVERIFY(nameSuggestsMask("/word/labelsTs/word_0001.nii.gz"));
    QVERIFY(!nameSuggestsMask("/data/segments/example_ct_sm.nii.gz"));
    Geometry g = grid({4, 4, 4}, {1, 1, 1});
    Image labels(g, 0.0f);
    labels.voxels[5] = 7.0f;
    QVERIFY(looksLikeLabelMap(labels));
    QCOMPARE(int(toLabelMask(labels).voxels[5]), 7);
    Image ct(g, -1000.0f);
    QVERIFY(!looksLikeLabelMap(ct));
    Image frac(g, 0.5f);
    QVERIFY(!looksLikeLabelMap(frac));
  }
};

QTEST_APPLESS_MAIN(TstDisplay)
#include "tst_display.moc"
