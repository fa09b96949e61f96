// nnU-Net v1 inference pipeline without the network (core/preprocess):
//  * synthetic unit checks (resampling identities, window plans, Gaussian, TTA loop, argmax,
//    hole filling, connected components);
//  * parity with ../shared/fixtures/pansegnet-pipeline (CT and MR cases): crop box, resampled
//    shape, resampled and normalised input, separate-z source slices, use_mask_for_norm variant,
//    Gaussian map, window starts, aggregation (MR), export to the original geometry.
// Figures reached are printed with qInfo so a run documents them.

#include "../SharedData.h"

#include "core/Error.h"
#include "core/preprocess/Export.h"
#include "core/preprocess/Preprocess.h"
#include "core/preprocess/Resample.h"
#include "core/preprocess/SlidingWindow.h"

#ifdef PANSEG_HAVE_IO
#include "core/io/ImageIO.h"
#endif

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>

using namespace panseg;
using namespace panseg::nnunet;

namespace
{
const QString kFixture = "fixtures/pansegnet-pipeline";

QString fx(const QString& rel) { return paths::shared(kFixture + "/" + rel); }

template <typename T> std::vector<T> readBin(const QString& path)
{
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly))
    return {};
  const QByteArray bytes = f.readAll();
  std::vector<T> out(static_cast<size_t>(bytes.size()) / sizeof(T));
  std::memcpy(out.data(), bytes.constData(), out.size() * sizeof(T));
  return out;
}

QJsonObject readJson(const QString& path)
{
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly))
    return {};
  return QJsonDocument::fromJson(f.readAll()).object();
}

Shape3 shape3(const QJsonValue& v)
{
  const QJsonArray a = v.toArray();
  return { a.at(0).toInteger(), a.at(1).toInteger(), a.at(2).toInteger() };
}

Spacing3 spacing3(const QJsonValue& v)
{
  const QJsonArray a = v.toArray();
  return { a.at(0).toDouble(), a.at(1).toDouble(), a.at(2).toDouble() };
}

std::vector<int64_t> intList(const QJsonValue& v)
{
  std::vector<int64_t> out;
  for (const auto& x : v.toArray())
    out.push_back(x.toInteger());
  return out;
}

struct Diff
{
  double maxAbs = 0.0;
  double meanAbs = 0.0;
  int64_t different = 0;
  int64_t total = 0;
  QString text() const
  {
    return QString("max|d| %1, mean|d| %2, %3 of %4 values differ (bit-exact %5%)")
      .arg(maxAbs, 0, 'g', 3)
      .arg(meanAbs, 0, 'g', 3)
      .arg(different)
      .arg(total)
      .arg(total ? 100.0 * double(total - different) / double(total) : 100.0, 0, 'f', 3);
  }
};

Diff compare(const float* a, const float* b, size_t n)
{
  Diff d;
  d.total = static_cast<int64_t>(n);
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i)
  {
    const double e = std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    if (a[i] != b[i])
      ++d.different;
    d.maxAbs = std::max(d.maxAbs, e);
    sum += e;
  }
  d.meanAbs = n ? sum / static_cast<double>(n) : 0.0;
  return d;
}

#ifdef PANSEG_HAVE_IO
/// The fixture's plans.json summary as pipeline parameters.
PreprocessParams paramsFor(const QString& caseName)
{
  const QJsonObject s = readJson(fx(caseName + "/plans.json"))["summary"].toObject();
  PreprocessParams p;
  p.targetSpacing = spacing3(s["target_spacing_zyx_mm"]);
  p.scheme = normalizationSchemeFromName(s["normalization_scheme"].toString().toStdString());
  p.useMaskForNorm = s["use_mask_for_norm"].toBool();
  p.anisotropyThreshold = s["separate_z_anisotropy_threshold"].toDouble();
  const QJsonObject ip = s["intensity_properties"].toObject();
  if (!ip.isEmpty())
  {
    p.intensity.mean = ip["mean"].toDouble();
    p.intensity.sd = ip["sd"].toDouble();
    p.intensity.percentile00_5 = ip["percentile_00_5"].toDouble();
    p.intensity.percentile99_5 = ip["percentile_99_5"].toDouble();
  }
  return p;
}
#endif

Shape3 patchFor(const QString& caseName)
{
  return shape3(readJson(fx(caseName + "/plans.json"))["summary"].toObject()["patch_size_zyx"]);
}

#ifdef PANSEG_HAVE_IO
/// properties.json names the input as it was on the machine that made the fixture; the same
/// file lies under ../shared/data here.
QString inputImagePath(const QString& caseName)
{
  const QString original =
    readJson(fx(caseName + "/properties.json"))["input_image"].toObject()["path"].toString();
  const int at = original.indexOf("/shared/");
  return paths::shared(original.mid(at + 8));
}

const Image& fixtureImage(const QString& caseName)
{
  static std::map<QString, Image> cache;
  auto it = cache.find(caseName);
  if (it == cache.end())
    it = cache.emplace(caseName, readImage(inputImagePath(caseName).toStdString())).first;
  return it->second;
}
#endif

/// Runs fn and returns the panseg::Error message ("" when nothing was thrown).
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

std::vector<double> randomVolume(const Shape3& s, unsigned seed)
{
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(-50.0, 120.0);
  std::vector<double> v(static_cast<size_t>(voxelCount(s)));
  for (double& x : v)
    x = dist(gen);
  return v;
}

/// 1-D reference of the order-3 zoom: explicit 12-sample edge padding, a textbook direct
/// evaluation of the prefilter as a solved linear system (mirror boundary), cubic B-spline sum.
std::vector<double> referenceCubic1D(const std::vector<double>& x, int64_t nOut)
{
  const int64_t n = static_cast<int64_t>(x.size());
  const int64_t np = n + 24;
  std::vector<double> p(static_cast<size_t>(np));
  for (int64_t i = 0; i < np; ++i)
    p[static_cast<size_t>(i)] = x[static_cast<size_t>(std::clamp<int64_t>(i - 12, 0, n - 1))];
  // Interpolation conditions c[i-1]/6 + 4c[i]/6 + c[i+1]/6 = p[i], mirror: c[-1] = c[1],
  // c[np] = c[np-2]. Dense Gaussian elimination (np is small).
  std::vector<std::vector<double>> A(static_cast<size_t>(np), std::vector<double>(static_cast<size_t>(np), 0.0));
  for (int64_t i = 0; i < np; ++i)
  {
    auto add = [&](int64_t j, double w) {
      if (j < 0)
        j = -j;
      if (j >= np)
        j = 2 * (np - 1) - j;
      A[static_cast<size_t>(i)][static_cast<size_t>(j)] += w;
    };
    add(i - 1, 1.0 / 6.0);
    add(i, 4.0 / 6.0);
    add(i + 1, 1.0 / 6.0);
  }
  std::vector<double> c = p;
  for (int64_t k = 0; k < np; ++k)
    for (int64_t i = k + 1; i < np; ++i)
    {
      const double f = A[static_cast<size_t>(i)][static_cast<size_t>(k)] / A[static_cast<size_t>(k)][static_cast<size_t>(k)];
      if (f == 0.0)
        continue;
      for (int64_t j = k; j < np; ++j)
        A[static_cast<size_t>(i)][static_cast<size_t>(j)] -= f * A[static_cast<size_t>(k)][static_cast<size_t>(j)];
      c[static_cast<size_t>(i)] -= f * c[static_cast<size_t>(k)];
    }
  for (int64_t i = np - 1; i >= 0; --i)
  {
    double s = c[static_cast<size_t>(i)];
    for (int64_t j = i + 1; j < np; ++j)
      s -= A[static_cast<size_t>(i)][static_cast<size_t>(j)] * c[static_cast<size_t>(j)];
    c[static_cast<size_t>(i)] = s / A[static_cast<size_t>(i)][static_cast<size_t>(i)];
  }
  auto beta = [](double t) {
    t = std::abs(t);
    if (t < 1.0)
      return 2.0 / 3.0 - t * t + t * t * t / 2.0;
    if (t < 2.0)
      return (2.0 - t) * (2.0 - t) * (2.0 - t) / 6.0;
    return 0.0;
  };
  std::vector<double> out(static_cast<size_t>(nOut));
  const double zoom = double(n) / double(nOut);
  for (int64_t k = 0; k < nOut; ++k)
  {
    const double pos = (double(k) + 0.5) * zoom - 0.5 + 12.0;
    double s = 0.0;
    for (int64_t j = static_cast<int64_t>(std::floor(pos)) - 2; j <= static_cast<int64_t>(std::floor(pos)) + 3; ++j)
      if (j >= 0 && j < np)
        s += c[static_cast<size_t>(j)] * beta(pos - double(j));
    out[static_cast<size_t>(k)] = s;
  }
  const auto [mn, mx] = std::minmax_element(x.begin(), x.end());
  for (double& v : out)
    v = std::clamp(v, *mn, *mx);
  return out;
}
} // namespace

class TstPipeline : public QObject
{
  Q_OBJECT
private slots:
  // ---------------------------------------------------------------- synthetic: resampling
  void resampledShapeRoundsHalfToEven()
  {
    // MR fixture: 136.5 -> 136 (C round() would say 137); 9.23 -> 9; 174 -> 174.
    QCOMPARE(resampledShape({ 20, 91, 116 }, { 3, 3, 3 }, { 6.5, 2, 2 }), (Shape3{ 9, 136, 174 }));
    QCOMPARE(resampledShape({ 112, 101, 122 }, { 3, 3, 3 }, { 4, 3.4, 3.4 }),
             (Shape3{ 84, 89, 108 }));
    // 2.5 -> 2, 3.5 -> 4, 137.5 -> 138
    QCOMPARE(resampledShape({ 5, 7, 275 }, { 1, 1, 1 }, { 2, 2, 2 }), (Shape3{ 2, 4, 138 }));
    QVERIFY(!errorOf([] { resampledShape({ 4, 4, 4 }, { 1, 1, 1 }, { 0, 1, 1 }); }).isEmpty());
  }

  void separateZRule()
  {
    // Original spacing first, then target; the coarsest axis must be unique.
    QCOMPARE(decideSeparateZ({ 3, 3, 3 }, { 6.5, 2, 2 }), (SeparateZ{ true, 0 }));
    QCOMPARE(decideSeparateZ({ 3, 3, 3 }, { 4, 3.4, 3.4 }), (SeparateZ{ false, -1 }));
    QCOMPARE(decideSeparateZ({ 0.8, 0.8, 5.0 }, { 1, 1, 1 }), (SeparateZ{ true, 2 }));
    // First anisotropic but not unique: no separate z, and the target is not consulted.
    QCOMPARE(decideSeparateZ({ 4, 4, 1 }, { 6, 1, 1 }), (SeparateZ{ false, -1 }));
    // Ratio exactly 3 is not "> 3".
    QCOMPARE(decideSeparateZ({ 3, 1, 1 }, { 3, 1, 1 }), (SeparateZ{ false, -1 }));
    QCOMPARE(lowResolutionAxes({ 2, 2, 1 }), (std::vector<int>{ 0, 1 }));
  }

  void resampleConstantStaysConstant()
  {
    const Shape3 in{ 7, 11, 13 };
    const std::vector<float> v(static_cast<size_t>(voxelCount(in)), 42.25f);
    for (int order : { 0, 1, 3 })
      for (const SeparateZ sep : { SeparateZ{}, SeparateZ{ true, 0 }, SeparateZ{ true, 2 } })
      {
        const Shape3 out{ 4, 17, 9 };
        const std::vector<float> r = resampleData(v.data(), in, out, order, sep);
        QCOMPARE(static_cast<int64_t>(r.size()), voxelCount(out));
        for (float x : r)
          QCOMPARE(x, 42.25f);
      }
  }

  void identityZoomReturnsInput()
  {
    const Shape3 s{ 5, 9, 12 };
    const std::vector<double> v = randomVolume(s, 3);
    for (int order : { 0, 1, 3 })
      QVERIFY(resizeArray(v, s, s, order) == v);
    const std::vector<float> f(v.begin(), v.end());
    QVERIFY(resampleData(f.data(), s, s, 3, SeparateZ{ true, 0 }) == f);
    // Only the axes whose size changes are touched: a 3-D resize that keeps z equals the 2-D
    // resize of each slice, up to the clip range (the volume's versus the slice's).
    const std::vector<double> r = resizeArray(v, s, { 5, 18, 6 }, 3);
    const std::vector<double> slice0(v.begin(), v.begin() + 9 * 12);
    const std::vector<double> r0 = resizeArray(slice0, { 1, 9, 12 }, { 1, 18, 6 }, 3);
    const auto [mn, mx] = std::minmax_element(slice0.begin(), slice0.end());
    for (size_t i = 0; i < r0.size(); ++i)
      QCOMPARE(std::clamp(r[i], *mn, *mx), r0[i]);
  }

  void linearRampPreservedByOrder1()
  {
    const int64_t n = 17, m = 40;
    std::vector<double> v(static_cast<size_t>(3 * 2 * n));
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = 2.5 * static_cast<double>(i % n) - 7.0;
    const std::vector<double> r = resizeArray(v, { 3, 2, n }, { 3, 2, m }, 1);
    for (int64_t k = 0; k < m; ++k)
    {
      const double c = std::clamp((double(k) + 0.5) * double(n) / double(m) - 0.5, 0.0, double(n - 1));
      QVERIFY(std::abs(r[static_cast<size_t>(k)] - (2.5 * c - 7.0)) < 1e-12);
      QVERIFY(std::abs(r[static_cast<size_t>(5 * m + k)] - (2.5 * c - 7.0)) < 1e-12);
    }
    // Along z too (strided axis), and downsampling.
    std::vector<double> z(static_cast<size_t>(n * 3));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < 3; ++j)
        z[static_cast<size_t>(i * 3 + j)] = double(i);
    const std::vector<double> rz = resizeArray(z, { n, 1, 3 }, { 6, 1, 3 }, 1);
    for (int64_t k = 0; k < 6; ++k)
      QVERIFY(std::abs(rz[static_cast<size_t>(k * 3 + 1)] -
                       std::clamp((double(k) + 0.5) * double(n) / 6.0 - 0.5, 0.0, double(n - 1))) < 1e-12);
  }

  void cubicReproducesRampInside()
  {
    // Cubic B-splines reproduce linear functions; away from the (edge-padded) borders the
    // zoom of a ramp is the ramp (the edge padding disturbs the spline coefficients by a
    // factor |sqrt(3) - 2|^d at distance d from the border: check from d = 25 on).
    const int64_t n = 100, m = 161;
    std::vector<double> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      v[static_cast<size_t>(i)] = 0.75 * double(i) + 3.0;
    const std::vector<double> r = resizeArray(v, { 1, 1, n }, { 1, 1, m }, 3);
    for (int64_t k = 0; k < m; ++k)
    {
      const double c = (double(k) + 0.5) * double(n) / double(m) - 0.5;
      if (c < 25.0 || c > double(n) - 26.0)
        continue;
      QVERIFY2(std::abs(r[static_cast<size_t>(k)] - (0.75 * c + 3.0)) < 1e-9,
               qPrintable(QString::number(k)));
    }
  }

  void cubicMatchesDirectSolve()
  {
    // An independent formulation (dense linear solve of the interpolation conditions) agrees
    // with the recursive prefilter to float64 rounding.
    std::mt19937 gen(7);
    std::uniform_real_distribution<double> dist(-100.0, 400.0);
    for (const auto& [n, m] : std::vector<std::pair<int64_t, int64_t>>{ { 20, 9 }, { 91, 136 }, { 5, 13 }, { 116, 174 } })
    {
      std::vector<double> v(static_cast<size_t>(n));
      for (double& x : v)
        x = dist(gen);
      const std::vector<double> ref = referenceCubic1D(v, m);
      const std::vector<double> got = resizeArray(v, { 1, 1, n }, { 1, 1, m }, 3);
      const std::vector<double> gotY = resizeArray(v, { 1, n, 1 }, { 1, m, 1 }, 3);
      double worst = 0.0;
      for (int64_t k = 0; k < m; ++k)
      {
        worst = std::max(worst, std::abs(got[static_cast<size_t>(k)] - ref[static_cast<size_t>(k)]));
        QCOMPARE(gotY[static_cast<size_t>(k)], got[static_cast<size_t>(k)]);
      }
      QVERIFY2(worst < 1e-10, qPrintable(QString("%1 -> %2: %3").arg(n).arg(m).arg(worst)));
    }
  }

  void resultsIndependentOfThreads()
  {
    const Shape3 in{ 23, 31, 37 }, out{ 17, 45, 29 };
    const std::vector<double> v = randomVolume(in, 11);
    for (int order : { 1, 3 })
      QVERIFY(resizeArray(v, in, out, order, 1) == resizeArray(v, in, out, order, 4));
    const std::vector<float> f(v.begin(), v.end());
    QVERIFY(resampleData(f.data(), in, out, 3, { true, 0 }, 0, 1) ==
            resampleData(f.data(), in, out, 3, { true, 0 }, 0, 3));
  }

  void nearestAlongZ()
  {
    // The fixture's rule: c = (n_in / n_out)(k + 0.5) - 0.5, floor(c + 0.5), clamped;
    // 9.5 goes to 10.
    QCOMPARE(nearestSourceIndices(20, 9), (std::vector<int64_t>{ 1, 3, 5, 7, 10, 12, 14, 16, 18 }));
    QCOMPARE(nearestSourceIndices(9, 20),
             (std::vector<int64_t>{ 0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 6, 7, 7, 8, 8 }));
    QCOMPARE(nearestSourceIndices(4, 4), (std::vector<int64_t>{ 0, 1, 2, 3 }));
  }

  void segmentationResize()
  {
    // A -1 / 0 map: linear per label, >= 0.5 wins, labels ascending; constant maps stay.
    const Shape3 in{ 4, 6, 6 };
    std::vector<int8_t> seg(static_cast<size_t>(voxelCount(in)), -1);
    for (int64_t z = 0; z < 4; ++z)
      for (int64_t y = 1; y < 5; ++y)
        for (int64_t x = 2; x < 6; ++x)
          seg[static_cast<size_t>((z * 6 + y) * 6 + x)] = 0;
    const std::vector<int8_t> up = resampleSegmentation(seg.data(), in, { 4, 12, 12 }, 1, {});
    // Exactly 0.5 on the boundary: label 0 (processed after -1) wins.
    int64_t inside = 0;
    for (int8_t v : up)
      inside += v == 0;
    QVERIFY(inside > 0);
    QCOMPARE(up[static_cast<size_t>((0 * 12 + 0) * 12 + 0)], int8_t(-1));
    QCOMPARE(up[static_cast<size_t>((0 * 12 + 5) * 12 + 8)], int8_t(0));
    const std::vector<int8_t> all(static_cast<size_t>(voxelCount(in)), -1);
    for (int8_t v : resampleSegmentation(all.data(), in, { 2, 9, 3 }, 1, { true, 0 }))
      QCOMPARE(v, int8_t(-1));
  }

  // ---------------------------------------------------------------- synthetic: preprocessing
  void fillHolesAndCrop()
  {
    const Shape3 s{ 9, 10, 11 };
    std::vector<float> v(static_cast<size_t>(voxelCount(s)), 0.0f);
    // Hollow box 2..6 x 2..7 x 3..8 (shell only) -> its inside is a hole.
    for (int64_t z = 2; z <= 6; ++z)
      for (int64_t y = 2; y <= 7; ++y)
        for (int64_t x = 3; x <= 8; ++x)
        {
          const bool shell = z == 2 || z == 6 || y == 2 || y == 7 || x == 3 || x == 8;
          if (shell)
            v[static_cast<size_t>((z * 10 + y) * 11 + x)] = 5.0f;
        }
    // A notch open to the outside: not a hole.
    v[static_cast<size_t>((4 * 10 + 4) * 11 + 3)] = 0.0f;
    const CropResult c = cropToNonzero(v.data(), s);
    QCOMPARE(c.box.start, (Shape3{ 2, 2, 3 }));
    QCOMPARE(c.box.end, (Shape3{ 7, 8, 9 }));
    // The notch connects the cavity to the outside: it is not a hole and stays -1.
    QCOMPARE(c.helper[static_cast<size_t>((2 * 6 + 2) * 6 + 2)], int8_t(-1));
    // Close the notch: the cavity becomes a hole and is filled.
    v[static_cast<size_t>((4 * 10 + 4) * 11 + 3)] = 1.0f;
    const CropResult d = cropToNonzero(v.data(), s);
    QCOMPARE(d.outsideVoxels, int64_t(0));
    // NaN counts as non-zero for the crop.
    std::vector<float> w(static_cast<size_t>(voxelCount(s)), 0.0f);
    w[static_cast<size_t>((1 * 10 + 2) * 11 + 3)] = std::nanf("");
    const CropResult e = cropToNonzero(w.data(), s);
    QCOMPARE(e.box.start, (Shape3{ 1, 2, 3 }));
    QCOMPARE(e.box.end, (Shape3{ 2, 3, 4 }));
    const std::vector<float> zeros(27, 0.0f);
    QVERIFY(errorOf([&] { cropToNonzero(zeros.data(), { 3, 3, 3 }); }).contains("non-zero"));
  }

  void pairwiseSummation()
  {
    // Small n: sequential; blocks of 8 accumulators up to 128; halves above (multiple of 8).
    std::vector<float> a{ 1e8f, 1.0f, -1e8f, 1.0f, 3.0f };
    QCOMPARE(numpyPairwiseSum(a.data(), 5), ((((0.0f + 1e8f) + 1.0f) - 1e8f) + 1.0f) + 3.0f);
    std::vector<float> b(1000);
    for (size_t i = 0; i < b.size(); ++i)
      b[i] = 0.1f * float(i % 7);
    double exact = 0.0;
    for (float x : b)
      exact += x;
    QVERIFY(std::abs(double(numpyPairwiseSum(b.data(), 1000)) - exact) < 1e-3);
    const Float32Stats st = numpyMeanStd({ 1.0f, 2.0f, 3.0f, 4.0f });
    QCOMPARE(st.mean, 2.5f);
    QCOMPARE(st.std, std::sqrt(1.25f));
  }

  void ctNormalisationIsTrueDivision()
  {
    std::vector<float> v{ -1000.0f, 0.0f, 81.0f, 299.0f, 5000.0f };
    IntensityProperties p;
    p.mean = 80;
    p.sd = 60;
    p.percentile00_5 = -100;
    p.percentile99_5 = 300;
    normalize(v, nullptr, NormalizationScheme::CT, p, false);
    QCOMPARE(v[0], (-100.0f - 80.0f) / 60.0f);
    QCOMPARE(v[2], (81.0f - 80.0f) / 60.0f);
    QCOMPARE(v[4], (300.0f - 80.0f) / 60.0f);
  }

  // ---------------------------------------------------------------- synthetic: sliding window
  void windowStartsForPatchSizedInput()
  {
    const WindowPlan p = planWindows({ 16, 48, 80 }, { 16, 48, 80 });
    QCOMPARE(p.numWindows(), int64_t(1));
    QCOMPARE(p.steps[0], (std::vector<int64_t>{ 0 }));
    QCOMPARE(p.paddedShape, (Shape3{ 16, 48, 80 }));
    QCOMPARE(p.padBefore, (Shape3{ 0, 0, 0 }));
    // Smaller than the patch: padded, floor(diff / 2) before.
    const WindowPlan q = planWindows({ 9, 48, 81 }, { 16, 48, 80 });
    QCOMPARE(q.paddedShape, (Shape3{ 16, 48, 81 }));
    QCOMPARE(q.padBefore, (Shape3{ 3, 0, 0 }));
    QCOMPARE(q.padAfter, (Shape3{ 4, 0, 0 }));
    QCOMPARE(q.steps[2], (std::vector<int64_t>{ 0, 1 }));
    // Half-way start rounds to even: (89 - 48) / 2 = 20.5 -> 20.
    QCOMPARE(planWindows({ 16, 89, 80 }, { 16, 48, 80 }).steps[1], (std::vector<int64_t>{ 0, 20, 41 }));
    QVERIFY(!errorOf([] { planWindows({ 4, 4, 4 }, { 2, 2, 2 }, 0.0); }).isEmpty());
  }

  void gaussianShape()
  {
    const std::vector<float> g = gaussianImportanceMap({ 16, 48, 80 });
    const auto mx = std::max_element(g.begin(), g.end());
    QCOMPARE(*mx, 1.0f);
    QCOMPARE(static_cast<int64_t>(mx - g.begin()), (8 * 48 + 24) * 80 + 40);
    // Not symmetric: the centre is at p // 2 of an even patch.
    QVERIFY(g[0] != g[g.size() - 1]);
    QVERIFY(*std::min_element(g.begin(), g.end()) > 0.0f);
  }

  void forwardPassEstimate()
  {
    SlidingWindowOptions o;
    QCOMPARE(estimateForwardPasses({ 84, 89, 108 }, { 16, 48, 80 }, o), int64_t(480));
    QCOMPARE(estimateForwardPasses({ 9, 136, 174 }, { 16, 48, 80 }, o), int64_t(160));
    o.mirror = false;
    QCOMPARE(estimateForwardPasses({ 84, 89, 108 }, { 16, 48, 80 }, o), int64_t(60));
    o.mirror = true;
    o.mirrorAxes = { false, true, true };
    QCOMPARE(mirrorVariants(o), int64_t(4));
  }

  void slidingWindowWithPointwiseNetwork()
  {
    // logits = (0, x): every mirror variant flipped back gives sigmoid(x) at the same voxel, so
    // the TTA average and the weighted mean over windows both return sigmoid(x).
    const Shape3 s{ 11, 30, 41 }, patch{ 8, 16, 16 };
    std::vector<float> in(static_cast<size_t>(voxelCount(s)));
    for (size_t i = 0; i < in.size(); ++i)
      in[i] = std::sin(0.37f * float(i)) * 3.0f;
    const int64_t pv = voxelCount(patch);
    std::vector<std::vector<float>> seen;
    NetworkFn net = [&](const float* x, int64_t n, float* logits) {
      for (int64_t b = 0; b < n; ++b)
      {
        seen.emplace_back(x + b * pv, x + (b + 1) * pv);
        for (int64_t i = 0; i < pv; ++i)
        {
          logits[(b * 2) * pv + i] = 0.0f;
          logits[(b * 2 + 1) * pv + i] = x[b * pv + i];
        }
      }
    };
    SlidingWindowOptions o;
    o.maxBatch = 3;
    const Prediction p = predictSlidingWindow(in.data(), 1, s, patch, 2, net, o);
    QCOMPARE(p.forwardPasses, p.plan.numWindows() * 8);
    QCOMPARE(static_cast<int64_t>(seen.size()), p.forwardPasses);
    double worst = 0.0;
    for (size_t i = 0; i < in.size(); ++i)
    {
      const double expect = 1.0 / (1.0 + std::exp(-double(in[i])));
      worst = std::max(worst, std::abs(double(p.probabilities[in.size() + i]) - expect));
      worst = std::max(worst, std::abs(double(p.probabilities[i]) - (1.0 - expect)));
    }
    QVERIFY2(worst < 2e-6, qPrintable(QString::number(worst)));
    // Variant 1 of the first window is the x-flip of variant 0; variant 4 the z-flip.
    for (int64_t z = 0; z < patch[0]; ++z)
      for (int64_t y = 0; y < patch[1]; ++y)
        for (int64_t x = 0; x < patch[2]; ++x)
        {
          const float v0 = seen[0][static_cast<size_t>((z * patch[1] + y) * patch[2] + x)];
          QCOMPARE(seen[1][static_cast<size_t>((z * patch[1] + y) * patch[2] + (patch[2] - 1 - x))], v0);
          QCOMPARE(seen[2][static_cast<size_t>((z * patch[1] + (patch[1] - 1 - y)) * patch[2] + x)], v0);
          QCOMPARE(seen[4][static_cast<size_t>(((patch[0] - 1 - z) * patch[1] + y) * patch[2] + x)], v0);
        }
    // Batch size does not change the result; neither does it without TTA.
    seen.clear();
    o.maxBatch = 1;
    QVERIFY(predictSlidingWindow(in.data(), 1, s, patch, 2, net, o).probabilities == p.probabilities);
    seen.clear();
    o.maxBatch = 8;
    o.mirror = false;
    const Prediction fast = predictSlidingWindow(in.data(), 1, s, patch, 2, net, o);
    QCOMPARE(fast.forwardPasses, p.plan.numWindows());

    // Thinner than the patch along z: zero padding (1 before, 2 after) is removed again.
    const Shape3 thin{ 5, 20, 33 };
    std::vector<float> tin(static_cast<size_t>(voxelCount(thin)));
    for (size_t i = 0; i < tin.size(); ++i)
      tin[i] = std::cos(0.11f * float(i)) * 2.0f;
    o.mirror = true;
    const Prediction t = predictSlidingWindow(tin.data(), 1, thin, patch, 2, net, o);
    QCOMPARE(t.plan.padBefore, (Shape3{ 1, 0, 0 }));
    QCOMPARE(t.plan.padAfter, (Shape3{ 2, 0, 0 }));
    QCOMPARE(static_cast<int64_t>(t.probabilities.size()), 2 * voxelCount(thin));
    worst = 0.0;
    for (size_t i = 0; i < tin.size(); ++i)
      worst = std::max(worst, std::abs(double(t.probabilities[tin.size() + i]) -
                                       1.0 / (1.0 + std::exp(-double(tin[i])))));
    QVERIFY2(worst < 2e-6, qPrintable(QString::number(worst)));
  }

  void slidingWindowCancel()
  {
    const Shape3 s{ 8, 20, 20 }, patch{ 8, 16, 16 };
    std::vector<float> in(static_cast<size_t>(voxelCount(s)), 1.0f);
    int calls = 0;
    NetworkFn net = [&](const float*, int64_t n, float* logits) {
      std::fill(logits, logits + n * 2 * voxelCount(patch), 0.0f);
    };
    SlidingWindowOptions o;
    o.progress = [&](double f) {
      ++calls;
      return f < 0.3;
    };
    QCOMPARE(errorOf([&] { predictSlidingWindow(in.data(), 1, s, patch, 2, net, o); }),
             QString("cancelled"));
    QVERIFY(calls >= 2);
  }

  // ---------------------------------------------------------------- synthetic: export
  void argmaxTiesGoToClassZero()
  {
    const std::vector<float> p{ 0.5f, 0.2f, 0.3f, /**/ 0.5f, 0.7f, 0.3f, /**/ 0.0f, 0.1f, 0.4f };
    QCOMPARE(argmaxChannels(p.data(), 3, 3), (std::vector<uint8_t>{ 0, 1, 2 }));
    const std::vector<float> q{ 0.5f, 0.5f };
    QCOMPARE(argmaxChannels(q.data(), 2, 1), (std::vector<uint8_t>{ 0 }));
  }

  void largestComponent()
  {
    Geometry g;
    g.size = { 10, 10, 3 };
    LabelMask m(g, 0);
    for (int64_t x = 0; x < 4; ++x)
      m.at(x, 0, 0) = 1; // 4 voxels
    m.at(9, 9, 2) = 1;   // 1 voxel
    m.at(5, 5, 1) = 1;   // diagonal neighbours are not 6-connected
    m.at(6, 6, 1) = 1;
    m.at(0, 9, 0) = 2;
    QCOMPARE(keepLargestComponent(m, 1), int64_t(3));
    QCOMPARE(m.countLabel(1), int64_t(4));
    QCOMPARE(m.at(0, 9, 0), uint8_t(2));
  }

  void exportPastesIntoBox()
  {
    ExportGeometry g;
    g.originalGeometry.size = { 6, 5, 4 }; // (x, y, z)
    g.originalGeometry.spacingMm = { 1, 1, 1 };
    g.crop.start = { 1, 1, 2 };
    g.crop.end = { 3, 4, 5 };
    g.croppedShape = { 2, 3, 3 };
    g.originalSpacing = { 1, 1, 1 };
    g.spacingAfterResampling = { 1, 1, 1 };
    std::vector<float> probs(2 * 18);
    for (int i = 0; i < 18; ++i)
    {
      probs[static_cast<size_t>(i)] = 0.3f;
      probs[static_cast<size_t>(18 + i)] = 0.7f;
    }
    const LabelMask m = exportSegmentation(probs, 2, { 2, 3, 3 }, g);
    QCOMPARE(m.countLabel(1), int64_t(18));
    QCOMPARE(m.at(2, 1, 1), uint8_t(1));
    QCOMPARE(m.at(1, 1, 1), uint8_t(0));
    QCOMPARE(m.at(4, 3, 2), uint8_t(1));
    QCOMPARE(m.at(5, 3, 2), uint8_t(0));
  }

  // ---------------------------------------------------------------- fixture
  void fixtureGaussian()
  {
    PANSEG_REQUIRE_SHARED(kFixture);
    for (const QString c : { "ct", "mr" })
    {
      const std::vector<float> ref = readBin<float>(fx(c + "/gaussian_importance_map.bin"));
      const std::vector<float> g = gaussianImportanceMap(patchFor(c));
      QCOMPARE(g.size(), ref.size());
      QVERIFY2(std::memcmp(g.data(), ref.data(), g.size() * sizeof(float)) == 0,
               qPrintable(compare(g.data(), ref.data(), g.size()).text()));
    }
    qInfo("Gaussian importance map: bit-identical (both cases)");
  }

  void fixtureWindows_data()
  {
    QTest::addColumn<QString>("caseName");
    QTest::newRow("ct") << "ct";
    QTest::newRow("mr") << "mr";
  }
  void fixtureWindows()
  {
    PANSEG_REQUIRE_SHARED(kFixture);
    QFETCH(QString, caseName);
    const QJsonObject w = readJson(fx(caseName + "/windows.json"));
    const QJsonObject props = readJson(fx(caseName + "/properties.json"));
    const QJsonArray inShape = props["sliding_window"].toObject()["input_shape_czyx"].toArray();
    const Shape3 shape{ inShape.at(1).toInteger(), inShape.at(2).toInteger(), inShape.at(3).toInteger() };
    const WindowPlan p = planWindows(shape, shape3(w["patch_size_zyx"]), w["step_size"].toDouble());
    QCOMPARE(p.paddedShape, shape3(w["padded_shape_zyx"]));
    QCOMPARE(p.padBefore, shape3(w["pad_before_zyx"]));
    QCOMPARE(p.padAfter, shape3(w["pad_after_zyx"]));
    const QJsonArray steps = w["steps_per_axis_zyx"].toArray();
    for (int a = 0; a < 3; ++a)
      QCOMPARE(p.steps[static_cast<size_t>(a)], intList(steps.at(a)));
    const QJsonArray starts = w["window_starts_zyx_in_padded_coords"].toArray();
    const std::vector<Shape3> mine = p.windowStarts();
    QCOMPARE(static_cast<qsizetype>(mine.size()), starts.size());
    for (qsizetype i = 0; i < starts.size(); ++i)
      QCOMPARE(mine[static_cast<size_t>(i)], shape3(starts.at(i)));
    QCOMPARE(p.numWindows(), static_cast<int64_t>(w["num_windows"].toInteger()));
    QCOMPARE(estimateForwardPasses(shape, p.patch), p.numWindows() * 8);
  }

  void fixtureAggregationMr()
  {
    // The recorded accumulator divided by our weight sum (same windows, same Gaussian, same
    // float32 accumulation order) gives the recorded probabilities exactly.
    PANSEG_REQUIRE_SHARED(kFixture);
    const WindowPlan p = planWindows({ 9, 136, 174 }, patchFor("mr"));
    const std::vector<float> w = windowWeightSum(p);
    const std::vector<float> sum = readBin<float>(fx("mr/softmax_sum_unnormalized.bin"));
    const std::vector<float> prob = readBin<float>(fx("mr/probabilities.bin"));
    QCOMPARE(sum.size(), 2 * w.size());
    QCOMPARE(prob.size(), sum.size());
    std::vector<float> mine(sum.size());
    for (size_t k = 0; k < 2; ++k)
      for (size_t i = 0; i < w.size(); ++i)
        mine[k * w.size() + i] = sum[k * w.size() + i] / w[i];
    const Diff d = compare(mine.data(), prob.data(), mine.size());
    qInfo("MR aggregation: sum / weights vs probabilities.bin: %s", qPrintable(d.text()));
    QCOMPARE(d.different, int64_t(0));
  }

  void fixtureCrop_data() { fixtureWindows_data(); }
  void fixtureCrop()
  {
#ifndef PANSEG_HAVE_IO
    QSKIP("built without panseg_io (ITK): the fixture's NIfTI input cannot be read");
#else
    PANSEG_REQUIRE_SHARED(kFixture);
    QFETCH(QString, caseName);
    PANSEG_REQUIRE_SHARED("data/totalsegmentator");
    const Image& img = fixtureImage(caseName);
    const QJsonObject cb = readJson(fx(caseName + "/crop_bbox.json"));
    QCOMPARE(shapeOf(img.geometry), shape3(cb["original_size_zyx"]));
    const CropResult c = cropToNonzero(img.voxels.data(), shapeOf(img.geometry));
    const QJsonArray box = cb["crop_bbox_zyx"].toArray();
    for (int a = 0; a < 3; ++a)
    {
      QCOMPARE(c.box.start[a], box.at(a).toArray().at(0).toInteger());
      QCOMPARE(c.box.end[a], box.at(a).toArray().at(1).toInteger());
    }
    QCOMPARE(c.box.size(), shape3(cb["size_after_cropping_zyx"]));
    const QJsonObject crop = readJson(fx(caseName + "/properties.json"))["crop"].toObject();
    QCOMPARE(c.outsideVoxels, crop["nonzero_mask_voxels_outside_in_crop"].toInteger());
#endif
  }

  void fixturePreprocess_data() { fixtureWindows_data(); }
  void fixturePreprocess()
  {
#ifndef PANSEG_HAVE_IO
    QSKIP("built without panseg_io (ITK): the fixture's NIfTI input cannot be read");
#else
    PANSEG_REQUIRE_SHARED(kFixture);
    PANSEG_REQUIRE_SHARED("data/totalsegmentator");
    QFETCH(QString, caseName);
    const Image& img = fixtureImage(caseName);
    PreprocessParams params = paramsFor(caseName);
    params.keepResampled = true;
    const Preprocessed pre = preprocess(img, params);
    const QJsonObject props = readJson(fx(caseName + "/properties.json"));
    const QJsonObject rs = props["resampling"].toObject();

    QCOMPARE(pre.shape, shape3(rs["size_after_resampling_zyx"]));
    const QJsonArray raw = rs["new_shape_raw_float64"].toArray();
    for (int a = 0; a < 3; ++a)
      QCOMPARE(pre.resampledShapeUnrounded[static_cast<size_t>(a)], raw.at(a).toDouble());
    const QJsonObject data = rs["data"].toObject();
    QCOMPARE(pre.separateZ.enabled, data["do_separate_z"].toBool());
    if (pre.separateZ.enabled)
      QCOMPARE(int64_t(pre.separateZ.axis), data["axis"].toArray().at(0).toInteger());
    QCOMPARE(pre.originalSpacing, spacing3(rs["original_spacing_zyx"]));

    const std::vector<float> ref = readBin<float>(fx(caseName + "/preprocessed_input.bin"));
    QCOMPARE(pre.data.size(), ref.size());
    const Diff d = compare(pre.data.data(), ref.data(), ref.size());
    qInfo("%s preprocessed_input: %s (%.3f s)", qPrintable(caseName), qPrintable(d.text()),
          pre.seconds);
    QVERIFY2(d.maxAbs <= 1e-5, qPrintable(d.text()));

    const QJsonObject norm = props["normalization"].toObject();
    if (params.scheme == NormalizationScheme::NonCT)
    {
      QCOMPARE(float(pre.normalization.mean), float(norm["mean_numpy_float32"].toDouble()));
      QCOMPARE(float(pre.normalization.divisor), float(norm["divisor_as_used"].toDouble()));
      qInfo("%s nonCT statistics: mean %.8g std %.8g (fixture %.8g %.8g)", qPrintable(caseName),
            pre.normalization.mean, pre.normalization.divisor,
            norm["mean_numpy_float32"].toDouble(), norm["std_numpy_float32"].toDouble());
    }
    else
    {
      QCOMPARE(pre.normalization.mean, norm["mean"].toDouble());
      QCOMPARE(pre.normalization.divisor, norm["sd"].toDouble());
      // Clipping counts: 408,757 low and 8,126 high in the CT case (README).
      int64_t low = 0, high = 0;
      const float lo = (float(norm["lower"].toDouble()) - 80.0f) / 60.0f;
      const float hi = (float(norm["upper"].toDouble()) - 80.0f) / 60.0f;
      for (float v : pre.data)
      {
        low += v == lo;
        high += v == hi;
      }
      qInfo("CT clipped voxels: %lld low, %lld high", static_cast<long long>(low),
            static_cast<long long>(high));
    }

    // Before normalisation (recorded for MR; for CT the unclipped voxels recover as x*60+80).
    if (QFile::exists(fx(caseName + "/resampled_before_normalization.bin")))
    {
      const std::vector<float> rb = readBin<float>(fx(caseName + "/resampled_before_normalization.bin"));
      QCOMPARE(pre.resampled.size(), rb.size());
      const Diff r = compare(pre.resampled.data(), rb.data(), rb.size());
      const auto [mn, mx] = std::minmax_element(rb.begin(), rb.end());
      qInfo("%s resampled_before_normalization: %s; relative to the range %.3g",
            qPrintable(caseName), qPrintable(r.text()), r.maxAbs / double(*mx - *mn));
      QVERIFY2(r.maxAbs / double(*mx - *mn) < 1e-6, qPrintable(r.text()));
    }
    QVERIFY2(pre.seconds < 10.0, qPrintable(QString::number(pre.seconds)));
#endif
  }

  void fixtureSeparateZSlices()
  {
    PANSEG_REQUIRE_SHARED(kFixture);
    const QJsonObject props = readJson(fx("mr/properties.json"));
    const QJsonObject pre =
      props["resampling"].toObject()["separate_z_nearest_source_slices"].toObject();
    QCOMPARE(nearestSourceIndices(20, 9), intList(pre["source_index_per_output_slice"]));
    const QJsonObject ex =
      props["export"].toObject()["separate_z_nearest_source_slices"].toObject();
    QCOMPARE(nearestSourceIndices(9, 20), intList(ex["source_index_per_output_slice"]));
    // Export decision from the spacing after resampling (the original is isotropic).
    ExportGeometry g;
    g.originalSpacing = { 3, 3, 3 };
    g.spacingAfterResampling = spacing3(props["resampling"].toObject()["target_spacing_zyx"]);
    QCOMPARE(exportSeparateZ(g), (SeparateZ{ true, 0 }));
    g.spacingAfterResampling = { 4.0, 3.4, 3.4 };
    QCOMPARE(exportSeparateZ(g), (SeparateZ{ false, -1 }));
  }

  void fixtureMaskForNorm()
  {
#ifndef PANSEG_HAVE_IO
    QSKIP("built without panseg_io (ITK): the fixture's NIfTI input cannot be read");
#else
    PANSEG_REQUIRE_SHARED(kFixture);
    PANSEG_REQUIRE_SHARED("data/totalsegmentator");
    PreprocessParams params = paramsFor("mr");
    params.useMaskForNorm = true;
    const Preprocessed pre = preprocess(fixtureImage("mr"), params);
    const QString dir = "mr/variant_use_mask_for_norm/";
    const std::vector<int8_t> mask = readBin<int8_t>(fx(dir + "resampled_nonzero_mask.bin"));
    QCOMPARE(pre.helperMask.size(), mask.size());
    int64_t maskDiff = 0;
    for (size_t i = 0; i < mask.size(); ++i)
      maskDiff += pre.helperMask[i] != mask[i];
    QCOMPARE(maskDiff, int64_t(0));
    const QJsonObject n = readJson(fx(dir + "normalization.json"));
    QCOMPARE(pre.normalization.statisticsVoxels, n["voxels_inside"].toInteger());
    QCOMPARE(float(pre.normalization.mean), float(n["mean_numpy_float32"].toDouble()));
    QCOMPARE(float(pre.normalization.divisor), float(n["std_numpy_float32"].toDouble()));
    const std::vector<float> ref = readBin<float>(fx(dir + "preprocessed_input.bin"));
    const Diff d = compare(pre.data.data(), ref.data(), ref.size());
    qInfo("MR use_mask_for_norm: helper mask identical; preprocessed_input: %s", qPrintable(d.text()));
    QVERIFY2(d.maxAbs <= 1e-5, qPrintable(d.text()));
#endif
  }

  void fixtureExport_data() { fixtureWindows_data(); }
  void fixtureExport()
  {
#ifndef PANSEG_HAVE_IO
    QSKIP("built without panseg_io (ITK): the fixture's NIfTI files cannot be read");
#else
    PANSEG_REQUIRE_SHARED(kFixture);
    PANSEG_REQUIRE_SHARED("data/totalsegmentator");
    QFETCH(QString, caseName);
    const Image& img = fixtureImage(caseName);
    const QJsonObject props = readJson(fx(caseName + "/properties.json"));
    const QJsonObject cb = readJson(fx(caseName + "/crop_bbox.json"));
    ExportGeometry g;
    g.originalGeometry = img.geometry;
    const QJsonArray box = cb["crop_bbox_zyx"].toArray();
    for (int a = 0; a < 3; ++a)
    {
      g.crop.start[a] = box.at(a).toArray().at(0).toInteger();
      g.crop.end[a] = box.at(a).toArray().at(1).toInteger();
    }
    g.croppedShape = shape3(cb["size_after_cropping_zyx"]);
    g.originalSpacing = spacing3(props["resampling"].toObject()["original_spacing_zyx"]);
    g.spacingAfterResampling = spacing3(props["resampling"].toObject()["target_spacing_zyx"]);
    const Shape3 shape = shape3(props["resampling"].toObject()["size_after_resampling_zyx"]);

    const std::vector<float> prob = readBin<float>(fx(caseName + "/probabilities.bin"));
    QCOMPARE(static_cast<int64_t>(prob.size()), 2 * voxelCount(shape));
    const std::vector<float> atCrop = probabilitiesToCroppedShape(prob, 2, shape, g);
    const int64_t nc = voxelCount(g.croppedShape);
    QCOMPARE(static_cast<int64_t>(atCrop.size()), 2 * nc);

    // Stored original-resolution probabilities: CT foreground only, MR both channels.
    const bool ct = QFile::exists(fx(caseName + "/probabilities_original_resolution_class1.bin"));
    const std::vector<float> refOrig = readBin<float>(
      fx(caseName + (ct ? "/probabilities_original_resolution_class1.bin"
                        : "/probabilities_original_resolution.bin")));
    const float* ref1 = refOrig.data() + (ct ? 0 : nc);
    const Diff d1 = compare(atCrop.data() + nc, ref1, static_cast<size_t>(nc));
    qInfo("%s probabilities at the original resolution (foreground): %s", qPrintable(caseName),
          qPrintable(d1.text()));
    QVERIFY2(d1.maxAbs <= 1e-4, qPrintable(d1.text()));
    if (!ct)
    {
      const Diff d0 = compare(atCrop.data(), refOrig.data(), static_cast<size_t>(nc));
      qInfo("%s probabilities at the original resolution (background): %s", qPrintable(caseName),
            qPrintable(d0.text()));
      QVERIFY2(d0.maxAbs <= 1e-4, qPrintable(d0.text()));
    }

    const LabelMask mine = exportSegmentation(prob, 2, shape, g);
    QVERIFY(mine.geometry.sameGrid(img.geometry, nullptr, 0.0));
    const LabelMask theirs = readMask(fx(caseName + "/segmentation.nii.gz").toStdString());
    std::string why;
    QVERIFY2(theirs.geometry.sameGrid(img.geometry, &why), why.c_str());
    int64_t flips = 0, unexplained = 0;
    const Shape3 os = shapeOf(img.geometry);
    for (int64_t z = 0; z < os[0]; ++z)
      for (int64_t y = 0; y < os[1]; ++y)
        for (int64_t x = 0; x < os[2]; ++x)
        {
          const size_t i = static_cast<size_t>((z * os[1] + y) * os[2] + x);
          if (mine.voxels[i] == theirs.voxels[i])
            continue;
          ++flips;
          const bool inBox = z >= g.crop.start[0] && z < g.crop.end[0] && y >= g.crop.start[1] &&
                             y < g.crop.end[1] && x >= g.crop.start[2] && x < g.crop.end[2];
          if (!inBox)
          {
            ++unexplained;
            continue;
          }
          const int64_t ci = ((z - g.crop.start[0]) * g.croppedShape[1] + (y - g.crop.start[1])) *
                               g.croppedShape[2] +
                             (x - g.crop.start[2]);
          if (!(std::abs(double(ref1[ci]) - 0.5) < 1e-4))
            ++unexplained;
        }
    const QJsonArray counts = props["output_segmentation"].toObject()["label_counts"].toArray();
    qInfo("%s segmentation: %lld voxels differ from segmentation.nii.gz (%lld not at a near tie); "
          "labels 0/1: %lld/%lld (fixture %lld/%lld)",
          qPrintable(caseName), static_cast<long long>(flips),
          static_cast<long long>(unexplained),
          static_cast<long long>(mine.voxels.size()) - static_cast<long long>(mine.countLabel(1)),
          static_cast<long long>(mine.countLabel(1)),
          static_cast<long long>(counts.at(0).toInteger()),
          static_cast<long long>(counts.at(1).toInteger()));
    QCOMPARE(unexplained, int64_t(0));
#endif
  }
};

QTEST_GUILESS_MAIN(TstPipeline)
#include "tst_pipeline.moc"
