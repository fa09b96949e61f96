// Synthetic demo study (core/demo/PhantomGenerator): determinism, seed variability, pancreas
// volume and connectivity, anatomical plausibility (patient right/left, anterior/posterior),
// intensities (HU, noise, MR background) and the README text.

#include "core/Error.h"
#include "core/demo/PhantomGenerator.h"

#include <QElapsedTimer>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <vector>

using namespace panseg;
using namespace panseg::demo;

namespace
{
template <typename T> uint64_t fnv1a(const std::vector<T>& v)
{
  uint64_t h = 1469598103934665603ull;
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  for (size_t i = 0; i < v.size() * sizeof(T); ++i)
  {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

struct Centroid
{
  Vec3 mm{ 0, 0, 0 };
  int64_t count = 0;
};

/// Centroids (LPS mm) of every label of a mask.
std::map<int, Centroid> centroids(const LabelMask& m)
{
  std::map<int, Centroid> c;
  for (int64_t z = 0; z < m.nz(); ++z)
    for (int64_t y = 0; y < m.ny(); ++y)
      for (int64_t x = 0; x < m.nx(); ++x)
      {
        const int l = m.at(x, y, z);
        if (!l)
          continue;
        const Vec3 p = m.geometry.indexToPhysical({ double(x), double(y), double(z) });
        Centroid& e = c[l];
        for (int k = 0; k < 3; ++k)
          e.mm[k] += p[k];
        ++e.count;
      }
  for (auto& [l, e] : c)
    for (int k = 0; k < 3; ++k)
      e.mm[k] /= double(e.count);
  return c;
}

/// Number of 6-connected components of the non-zero voxels.
int components6(const LabelMask& m)
{
  std::vector<uint8_t> seen(m.voxels.size(), 0);
  std::vector<int64_t> stack;
  int n = 0;
  const int64_t nx = m.nx(), ny = m.ny();
  for (size_t s = 0; s < m.voxels.size(); ++s)
  {
    if (!m.voxels[s] || seen[s])
      continue;
    ++n;
    seen[s] = 1;
    stack.assign(1, int64_t(s));
    while (!stack.empty())
    {
      const int64_t i = stack.back();
      stack.pop_back();
      const int64_t x = i % nx, y = (i / nx) % ny, z = i / (nx * ny);
      const int64_t nb[6][3] = { { x - 1, y, z }, { x + 1, y, z }, { x, y - 1, z },
                                 { x, y + 1, z }, { x, y, z - 1 }, { x, y, z + 1 } };
      for (const auto& v : nb)
      {
        if (!m.contains(v[0], v[1], v[2]))
          continue;
        const size_t j = m.offset(v[0], v[1], v[2]);
        if (m.voxels[j] && !seen[j])
        {
          seen[j] = 1;
          stack.push_back(int64_t(j));
        }
      }
    }
  }
  return n;
}

/// Binary erosion by the in-plane 4-neighbourhood (`inPlane` times) and along z (`alongZ` times).
std::vector<uint8_t> erode(const LabelMask& m, int label, int inPlane, int alongZ)
{
  std::vector<uint8_t> cur(m.voxels.size());
  for (size_t i = 0; i < cur.size(); ++i)
    cur[i] = m.voxels[i] == label;
  auto pass = [&](bool z) {
    std::vector<uint8_t> out(cur.size(), 0);
    for (int64_t k = 0; k < m.nz(); ++k)
      for (int64_t j = 0; j < m.ny(); ++j)
        for (int64_t i = 0; i < m.nx(); ++i)
        {
          const size_t o = m.offset(i, j, k);
          if (!cur[o])
            continue;
          bool keep = true;
          if (z)
            keep = k > 0 && k + 1 < m.nz() && cur[m.offset(i, j, k - 1)] && cur[m.offset(i, j, k + 1)];
          else
            keep = i > 0 && j > 0 && i + 1 < m.nx() && j + 1 < m.ny() && cur[m.offset(i - 1, j, k)] &&
                   cur[m.offset(i + 1, j, k)] && cur[m.offset(i, j - 1, k)] && cur[m.offset(i, j + 1, k)];
          out[o] = keep;
        }
    cur.swap(out);
  };
  for (int r = 0; r < inPlane; ++r)
    pass(false);
  for (int r = 0; r < alongZ; ++r)
    pass(true);
  return cur;
}

double median(std::vector<double> v)
{
  if (v.empty())
    return std::nan("");
  std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
  return v[v.size() / 2];
}

double robustSd(std::vector<double> v)
{
  const double med = median(v);
  for (double& x : v)
    x = std::abs(x - med);
  return 1.4826 * median(v);
}

double dist(const Vec3& a, const Vec3& b)
{
  return std::sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) + (a[2] - b[2]) * (a[2] - b[2]));
}
} // namespace

class TestPhantom : public QObject
{
  Q_OBJECT

private:
  Phantom def; // seed 1, default options (generated once)
  double defSeconds = 0;

private slots:
  void initTestCase()
  {
    QElapsedTimer t;
    t.start();
    def = generatePhantom();
    defSeconds = t.nsecsElapsed() / 1e9;
    qInfo("default phantom (seed 1, %lldx%lldx%lld, CT + 2 MR): %.3f s, pancreas %.2f mL",
          (long long)def.ct.nx(), (long long)def.ct.ny(), (long long)def.ct.nz(), defSeconds,
          def.pancreasVolumeMl);
    {
      PhantomOptions one;
      one.threads = 1;
      t.restart();
      const Phantom p = generatePhantom(one);
      qInfo("same on one thread: %.3f s", t.nsecsElapsed() / 1e9);
    }
  }

  void geometryAndMetadata()
  {
    const Geometry& g = def.ct.geometry;
    QCOMPARE(g.size, (Size3{ 192, 160, 64 }));
    QCOMPARE(g.spacingMm, (Vec3{ 1.6, 1.6, 3.0 }));
    QCOMPARE(g.direction, (Mat3{ 1, 0, 0, 0, 1, 0, 0, 0, 1 }));
    QCOMPARE(g.orientationCode(), std::string("LPS"));
    // centred in x and y like a scanner reconstruction
    QVERIFY(std::abs(g.originMm[0] + (g.size[0] - 1) * g.spacingMm[0] / 2) < 1e-9);
    QVERIFY(std::abs(g.originMm[1] + (g.size[1] - 1) * g.spacingMm[1] / 2) < 1e-9);
    for (const Volume<uint8_t>* m : { (const Volume<uint8_t>*)&def.organs, (const Volume<uint8_t>*)&def.pancreas,
                                      (const Volume<uint8_t>*)&def.body })
      QVERIFY(m->geometry.sameGrid(g));
    QVERIFY(def.mrT1.geometry.sameGrid(g));
    QVERIFY(def.mrT2.geometry.sameGrid(g));
    QCOMPARE(def.ct.info.modality, std::string("CT"));
    QCOMPARE(def.mrT1.info.modality, std::string("MR"));
    QCOMPARE(def.mrT2.info.modality, std::string("MR"));
    QVERIFY(def.ct.info.tags.at("SeriesDescription").find("PanSeg demo phantom (synthetic)") == 0);
    QCOMPARE(def.seed, 1u);
    QVERIFY(def.description.find("seed 1") != std::string::npos);
    QVERIFY(def.description.find("ynthetic") != std::string::npos);

    // every label 1..10 present; pancreas mask is exactly label 1 and binary
    const std::vector<int> labels = def.organs.labels();
    QCOMPARE(labels, (std::vector<int>{ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }));
    QCOMPARE(def.pancreas.labels(), std::vector<int>{ 1 });
    for (size_t i = 0; i < def.organs.voxels.size(); ++i)
      if ((def.organs.voxels[i] == LabelPancreas) != (def.pancreas.voxels[i] == 1))
        QFAIL("pancreas mask differs from organs label 1");
    QVERIFY(std::abs(def.pancreas.volumeMl(1) - def.pancreasVolumeMl) < 1e-9);

    QCOMPARE(organLabelName(1), std::string("pancreas"));
    QCOMPARE(organLabelName(10), std::string("spine"));
    QCOMPARE(organLabelName(11), std::string());
    QCOMPARE(int(organLabelTable().size()), 10);
  }

  void readme()
  {
    const std::string r = phantomReadme(def);
    QVERIFY(r.find("SYNTHETIC") != std::string::npos);
    QVERIFY(r.find("NOT FOR CLINICAL USE") != std::string::npos);
    QVERIFY(r.find("Seed:      1") != std::string::npos);
    QVERIFY(r.find("LPS") != std::string::npos);
    for (int l = 1; l <= 10; ++l)
      QVERIFY2(r.find(organLabelName(l)) != std::string::npos, organLabelName(l).c_str());
    char vol[32];
    std::snprintf(vol, sizeof vol, "%.1f mL", def.pancreasVolumeMl);
    QVERIFY2(r.find(vol) != std::string::npos, vol);
  }

  void deterministic()
  {
    PhantomOptions o;
    o.seed = 1;
    o.threads = 3; // the result must not depend on the thread count
    const Phantom again = generatePhantom(o);
    QCOMPARE(fnv1a(again.ct.voxels), fnv1a(def.ct.voxels));
    QCOMPARE(fnv1a(again.mrT1.voxels), fnv1a(def.mrT1.voxels));
    QCOMPARE(fnv1a(again.mrT2.voxels), fnv1a(def.mrT2.voxels));
    QCOMPARE(fnv1a(again.organs.voxels), fnv1a(def.organs.voxels));
    QCOMPARE(again.pancreasVolumeMl, def.pancreasVolumeMl);
    QVERIFY(again.ct.voxels == def.ct.voxels);
    QVERIFY(again.organs.voxels == def.organs.voxels);
  }

  void seedsDiffer()
  {
    PhantomOptions o;
    o.seed = 2;
    o.generateMr = false;
    const Phantom p2 = generatePhantom(o);
    QVERIFY(p2.mrT1.voxels.empty());
    QVERIFY(fnv1a(p2.ct.voxels) != fnv1a(def.ct.voxels));
    QVERIFY(fnv1a(p2.organs.voxels) != fnv1a(def.organs.voxels));
    // the anatomy itself differs, not just the noise: pancreas overlap well below identity
    int64_t inter = 0, a = 0, b = 0;
    for (size_t i = 0; i < p2.pancreas.voxels.size(); ++i)
    {
      a += def.pancreas.voxels[i];
      b += p2.pancreas.voxels[i];
      inter += def.pancreas.voxels[i] & p2.pancreas.voxels[i];
    }
    const double dice = 2.0 * double(inter) / double(a + b);
    qInfo("pancreas Dice seed 1 vs seed 2: %.3f", dice);
    QVERIFY(dice < 0.85);
    // organ centroids move by several millimetres
    const auto c1 = centroids(def.organs), c2 = centroids(p2.organs);
    double maxShift = 0;
    for (int l : { LabelLiver, LabelSpleen, LabelKidneyLeft, LabelPancreas })
      maxShift = std::max(maxShift, dist(c1.at(l).mm, c2.at(l).mm));
    QVERIFY(maxShift > 3.0);
  }

  void targetVolume()
  {
    for (double target : { 55.0, 110.0 })
    {
      PhantomOptions o;
      o.seed = 5;
      o.generateMr = false;
      o.targetPancreasMl = target;
      const Phantom p = generatePhantom(o);
      QVERIFY2(std::abs(p.pancreasVolumeMl - target) < 0.03 * target,
               qPrintable(QString("target %1 mL, got %2 mL").arg(target).arg(p.pancreasVolumeMl)));
      QCOMPARE(components6(p.pancreas), 1);
    }
  }

  void invalidOptions()
  {
    PhantomOptions o;
    o.size = { 8, 160, 64 };
    QVERIFY_THROWS_EXCEPTION(Error, generatePhantom(o));
    o = {};
    o.spacingMm = { 0.0, 1.6, 3.0 };
    QVERIFY_THROWS_EXCEPTION(Error, generatePhantom(o));
    o = {};
    o.targetPancreasMl = 500;
    QVERIFY_THROWS_EXCEPTION(Error, generatePhantom(o));
    o = {};
    o.noiseScale = -1;
    QVERIFY_THROWS_EXCEPTION(Error, generatePhantom(o));
  }

  // Seeds 1..10: volume, connectivity and anatomy.
  void anatomyAcrossSeeds_data()
  {
    QTest::addColumn<uint>("seed");
    for (uint s = 1; s <= 10; ++s)
      QTest::newRow(qPrintable(QString("seed %1").arg(s))) << s;
  }
  void anatomyAcrossSeeds()
  {
    QFETCH(uint, seed);
    PhantomOptions o;
    o.seed = seed;
    o.generateMr = false;
    const Phantom p = seed == 1 ? Phantom{} : generatePhantom(o);
    const Phantom& ph = seed == 1 ? def : p;
    qInfo("seed %u: pancreas %.2f mL", seed, ph.pancreasVolumeMl);

    // volume and a single 6-connected component
    QVERIFY2(ph.pancreasVolumeMl >= 50.0 && ph.pancreasVolumeMl <= 120.0,
             qPrintable(QString("pancreas %1 mL").arg(ph.pancreasVolumeMl)));
    QCOMPARE(components6(ph.pancreas), 1);

    const auto c = centroids(ph.organs);
    for (int l = 1; l <= 10; ++l)
      QVERIFY2(c.count(l) && c.at(l).count > 100, qPrintable(QString("label %1 missing or tiny").arg(l)));
    const Vec3 panc = c.at(LabelPancreas).mm, liver = c.at(LabelLiver).mm, spleen = c.at(LabelSpleen).mm;
    const Vec3 kr = c.at(LabelKidneyRight).mm, kl = c.at(LabelKidneyLeft).mm;
    const Vec3 aorta = c.at(LabelAorta).mm, ivc = c.at(LabelIvc).mm, spine = c.at(LabelSpine).mm;
    const Vec3 stomach = c.at(LabelStomach).mm;

    // LPS: patient right = low x, posterior = high y
    QVERIFY(liver[0] < -20.0 && liver[0] < spleen[0]);
    QVERIFY(spleen[0] > 40.0);
    QVERIFY(kr[0] < -30.0 && kl[0] > 30.0);
    QVERIFY(kr[2] < kl[2]); // right kidney sits lower (under the liver)
    QVERIFY(ivc[0] < aorta[0]);
    QVERIFY(spine[1] > aorta[1] + 10.0); // spine posterior to the aorta
    QVERIFY(kr[1] > aorta[1] && kl[1] > aorta[1]);
    QVERIFY(stomach[0] > 0.0 && stomach[1] < spine[1]);
    QVERIFY(panc[1] < aorta[1]); // the pancreas lies anterior to the aorta

    // pancreas between the duodenum (head side) and the spleen (tail side)
    const PhantomLandmarks& lm = ph.landmarks;
    QVERIFY(lm.duodenum[0] < lm.pancreasHead[0]);
    QVERIFY(lm.pancreasHead[0] < lm.portalConfluence[0] + 5.0);
    QVERIFY(lm.pancreasHead[0] < lm.pancreasTail[0]);
    QVERIFY(lm.duodenum[0] < panc[0] && panc[0] < spleen[0]);
    QVERIFY(lm.pancreasTail[2] > lm.pancreasHead[2]); // tail rises toward the splenic hilum
    QVERIFY2(dist(lm.pancreasTail, lm.splenicHilum) < 30.0,
             qPrintable(QString("tail %1 mm from the hilum").arg(dist(lm.pancreasTail, lm.splenicHilum))));
    int64_t xmin = ph.ct.nx(), xmax = -1, ymin = ph.ct.ny(), ymax = -1, zmin = ph.ct.nz(), zmax = -1;
    double anteriorOfAortaY = 0;
    int64_t nAnterior = 0;
    const double aortaIndexX = ph.ct.geometry.physicalToIndex(aorta)[0];
    for (int64_t z = 0; z < ph.ct.nz(); ++z)
      for (int64_t y = 0; y < ph.ct.ny(); ++y)
        for (int64_t x = 0; x < ph.ct.nx(); ++x)
          if (ph.pancreas.at(x, y, z))
          {
            xmin = std::min(xmin, x);
            xmax = std::max(xmax, x);
            ymin = std::min(ymin, y);
            ymax = std::max(ymax, y);
            zmin = std::min(zmin, z);
            zmax = std::max(zmax, z);
            if (std::abs(double(x) - aortaIndexX) < 4.0)
            {
              anteriorOfAortaY += ph.ct.geometry.indexToPhysical({ double(x), double(y), double(z) })[1];
              ++nAnterior;
            }
          }
    const double xminMm = ph.ct.geometry.indexToPhysical({ double(xmin), 0, 0 })[0];
    const double xmaxMm = ph.ct.geometry.indexToPhysical({ double(xmax), 0, 0 })[0];
    QVERIFY(xminMm > lm.duodenum[0] - 10.0);
    QVERIFY(xmaxMm < spleen[0] + 30.0);
    QVERIFY(xmaxMm - xminMm > 90.0); // head to tail spans the upper abdomen
    QVERIFY(nAnterior > 0 && anteriorOfAortaY / double(nAnterior) < aorta[1]); // body crosses in front

    // CT intensities: pancreas parenchyma, fat around it, liver noise, air outside
    const std::vector<uint8_t> core = erode(ph.organs, LabelPancreas, 1, 0);
    std::vector<double> hu;
    for (size_t i = 0; i < core.size(); ++i)
      if (core[i])
        hu.push_back(ph.ct.voxels[i]);
    QVERIFY(hu.size() > 500);
    double mean = 0;
    for (double v : hu)
      mean += v;
    mean /= double(hu.size());
    QVERIFY2(mean > 80.0 && mean < 130.0, qPrintable(QString("pancreas mean %1 HU").arg(mean)));

    // ring 2-3 voxels around the pancreas (in-plane), unlabelled voxels only: mostly fat
    std::vector<double> ring;
    for (int64_t z = zmin; z <= zmax; ++z)
      for (int64_t y = std::max<int64_t>(3, ymin - 3); y <= std::min(ph.ct.ny() - 4, ymax + 3); ++y)
        for (int64_t x = std::max<int64_t>(3, xmin - 3); x <= std::min(ph.ct.nx() - 4, xmax + 3); ++x)
        {
          const size_t o = ph.organs.offset(x, y, z);
          if (ph.organs.voxels[o] != 0)
            continue;
          bool nearP = false, touching = false;
          for (int dy = -3; dy <= 3; ++dy)
            for (int dx = -3; dx <= 3; ++dx)
              if (ph.pancreas.at(x + dx, y + dy, z))
              {
                nearP = true;
                if (std::abs(dx) <= 1 && std::abs(dy) <= 1)
                  touching = true;
              }
          if (nearP && !touching)
            ring.push_back(ph.ct.voxels[o]);
        }
    const double ringMedian = median(ring);
    QVERIFY2(ringMedian < 0.0, qPrintable(QString("peripancreatic median %1 HU").arg(ringMedian)));

    const std::vector<uint8_t> liverCore = erode(ph.organs, LabelLiver, 2, 1);
    std::vector<double> lv;
    for (size_t i = 0; i < liverCore.size(); ++i)
      if (liverCore[i])
        lv.push_back(ph.ct.voxels[i]);
    const double sd = robustSd(lv), liverMedian = median(lv);
    QVERIFY2(sd >= 8.0 && sd <= 20.0, qPrintable(QString("liver noise sd %1 HU").arg(sd)));
    QVERIFY2(liverMedian > 80.0 && liverMedian < 140.0, qPrintable(QString("liver %1 HU").arg(liverMedian)));
    if (seed == 1)
      qInfo("pancreas mean %.1f HU, peripancreatic median %.1f HU, liver median %.1f HU, liver noise sd %.1f HU",
            mean, ringMedian, liverMedian, sd);

    // spine is bone, kidneys enhance, outside the body is air
    std::vector<double> bone;
    for (size_t i = 0; i < ph.organs.voxels.size(); ++i)
      if (ph.organs.voxels[i] == LabelSpine)
        bone.push_back(ph.ct.voxels[i]);
    QVERIFY(median(bone) > 250.0);
    std::vector<double> air;
    for (size_t i = 0; i < ph.body.voxels.size(); ++i)
      if (!ph.body.voxels[i] && ph.ct.voxels[i] < -500)
        air.push_back(ph.ct.voxels[i]);
    QVERIFY(std::abs(median(air) + 1000.0) < 15.0);
  }

  void mrBackgroundAndRange()
  {
    int64_t inside = 0, positive = 0;
    for (const Image* im : { &def.mrT1, &def.mrT2 })
      for (size_t i = 0; i < im->voxels.size(); ++i)
      {
        const float v = im->voxels[i];
        QVERIFY(v >= 0.0f && v <= 1000.0f);
        if (!def.body.voxels[i])
        {
          if (v != 0.0f)
            QFAIL("MR is not zero outside the body");
        }
        else
        {
          ++inside;
          positive += v > 0.0f;
        }
      }
    QVERIFY(inside > 0 && positive > inside * 99 / 100);
    // corners of every slice are outside the body
    for (int64_t z = 0; z < def.ct.nz(); ++z)
      QCOMPARE(def.body.at(0, 0, z), uint8_t(0));

    // T1: fat bright, fluid dark; T2: fluid (CSF, bile, urine) bright, liver dark
    std::map<int, std::vector<double>> t1, t2;
    for (size_t i = 0; i < def.organs.voxels.size(); ++i)
    {
      t1[def.organs.voxels[i]].push_back(def.mrT1.voxels[i]);
      t2[def.organs.voxels[i]].push_back(def.mrT2.voxels[i]);
    }
    QVERIFY(median(t1[LabelPancreas]) > median(t1[LabelLiver])); // pancreas is T1-bright
    QVERIFY(median(t2[LabelSpleen]) > median(t2[LabelLiver]));   // spleen is T2-brighter than liver
    QVERIFY(median(t1[LabelAorta]) < 200.0);                     // flow void
  }

  void noiseFree()
  {
    PhantomOptions o;
    o.noiseScale = 0.0;
    o.generateMr = false;
    const Phantom p = generatePhantom(o);
    // same anatomy as the noisy default
    QVERIFY(p.organs.voxels == def.organs.voxels);
    const std::vector<uint8_t> liverCore = erode(p.organs, LabelLiver, 2, 1);
    std::vector<double> lv;
    for (size_t i = 0; i < liverCore.size(); ++i)
      if (liverCore[i])
        lv.push_back(p.ct.voxels[i]);
    QVERIFY(robustSd(lv) < 8.0);
  }

  void smallGrid()
  {
    PhantomOptions o;
    o.size = { 96, 80, 32 };
    o.spacingMm = { 3.2, 3.2, 6.0 };
    o.generateMr = false;
    const Phantom p = generatePhantom(o);
    QVERIFY(p.pancreasVolumeMl >= 50.0 && p.pancreasVolumeMl <= 120.0);
    QCOMPARE(components6(p.pancreas), 1);
    QVERIFY(std::abs(p.pancreasVolumeMl - def.pancreasVolumeMl) < 0.05 * def.pancreasVolumeMl);
  }
};

QTEST_GUILESS_MAIN(TestPhantom)
#include "tst_phantom.moc"
