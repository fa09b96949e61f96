// Synthetic abdominal phantom: analytic anatomy -> tissue map -> CT / MR intensities.
//
// Pipeline
//  1. Anatomy: every structure is defined in a "reference" frame (mm, x = patient left,
//     y = posterior, z = superior, origin near the body centre at the level of the pancreas) and
//     jittered from the seed. The reference frame is stretched onto the seed's body cavity
//     (piecewise-linear scale in x, y, z), so a slimmer or larger body keeps its organs inside.
//  2. Pancreas: a Catmull-Rom centreline with a radius profile; field = distance / radius plus
//     low-frequency value noise (lobulation). The threshold on that field is chosen so that the
//     voxel count hits the target volume exactly (nth_element), then the largest 6-connected
//     component is kept (and the target re-hit if an island was dropped).
//  3. Classification: one priority chain per voxel (air, spine, subcutaneous fat, abdominal wall
//     and ribs, vessels, muscles, thorax/diaphragm, crura, kidneys, duodenum, pancreas,
//     gallbladder, liver, spleen, stomach, colon, small bowel, fat). It yields a tissue class and
//     an organ label.
//  4. Intensities per tissue with texture noise, a small partial-volume blur, then noise: CT
//     correlated Gaussian (sd ~12 HU), MR Rician with a smooth bias field, zero outside the body.
//
// All randomness: splitmix64 for parameters, integer hashes of (seed, lattice point) for value
// noise and of (seed, stream, voxel index) for voxel noise, so results are independent of
// threading and of the standard library.

#include "core/demo/PhantomGenerator.h"

#include "core/Error.h"
#include "core/Parallel.h"
#include "core/Random.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <thread>

namespace panseg::demo
{
namespace
{
constexpr double kPi = 3.14159265358979323846;

// ---------------------------------------------------------------------------------------------
// Small vector maths
struct V
{
  double x = 0, y = 0, z = 0;
};
inline V operator+(V a, V b) { return { a.x + b.x, a.y + b.y, a.z + b.z }; }
inline V operator-(V a, V b) { return { a.x - b.x, a.y - b.y, a.z - b.z }; }
inline V operator*(V a, double s) { return { a.x * s, a.y * s, a.z * s }; }
inline double dot(V a, V b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
inline double len(V a) { return std::sqrt(dot(a, a)); }
inline V normalize(V a)
{
  const double l = len(a);
  return l > 0 ? a * (1.0 / l) : V{ 0, 0, 1 };
}
inline V cross(V a, V b) { return { a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x }; }
inline double clamp01(double v) { return v < 0 ? 0 : (v > 1 ? 1 : v); }
inline double sq(double v) { return v * v; }

struct Box
{
  V lo{ 1e30, 1e30, 1e30 };
  V hi{ -1e30, -1e30, -1e30 };
  void add(V p, double pad)
  {
    lo = { std::min(lo.x, p.x - pad), std::min(lo.y, p.y - pad), std::min(lo.z, p.z - pad) };
    hi = { std::max(hi.x, p.x + pad), std::max(hi.y, p.y + pad), std::max(hi.z, p.z + pad) };
  }
  void add(const Box& b)
  {
    add(b.lo, 0);
    add(b.hi, 0);
  }
  bool in(V p) const
  {
    return p.x >= lo.x && p.x <= hi.x && p.y >= lo.y && p.y <= hi.y && p.z >= lo.z && p.z <= hi.z;
  }
};

// ---------------------------------------------------------------------------------------------
// Randomness
struct SplitMix64
{
  uint64_t state;
  explicit SplitMix64(uint64_t s) : state(s) {}
  uint64_t next() { return splitmix64Next(state); }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  double uniform(double a, double b) { return a + (b - a) * uniform(); }
  double jitter(double amp) { return uniform(-amp, amp); }
  V jitter3(double ax, double ay, double az) { return { jitter(ax), jitter(ay), jitter(az) }; }
};

inline uint64_t mix64(uint64_t z) { return splitmix64Mix(z); }

inline uint32_t hash3(uint32_t seed, int32_t x, int32_t y, int32_t z)
{
  uint32_t h = seed * 0x9E3779B1u;
  h ^= static_cast<uint32_t>(x) * 0x8DA6B343u;
  h = (h ^ (h >> 15)) * 0x2C1B3C6Du;
  h ^= static_cast<uint32_t>(y) * 0xD8163841u;
  h = (h ^ (h >> 12)) * 0x297A2D39u;
  h ^= static_cast<uint32_t>(z) * 0xCB1AB31Fu;
  h ^= h >> 16;
  h *= 0x7FEB352Du;
  h ^= h >> 15;
  h *= 0x846CA68Bu;
  h ^= h >> 16;
  return h;
}

inline double unitFromHash(uint32_t h) { return static_cast<double>(h) * (1.0 / 4294967296.0); }

/// Value noise in [-1, 1]: random lattice values (a 64^3 periodic table filled from the seed),
/// smoothstep-weighted trilinear interpolation. A stream number selects a shifted, mirrored copy.
class ValueNoise
{
public:
  explicit ValueNoise(uint64_t seed = 0) : table(kN * kN * kN)
  {
    SplitMix64 rng(seed ^ 0xA5A5A5A5DEADBEEFull);
    for (float& v : table)
      v = static_cast<float>(rng.uniform() * 2.0 - 1.0);
  }
  double at(uint32_t stream, double x, double y, double z) const
  {
    const uint32_t h = hash3(stream, 17, 29, 41);
    if (h & 1u)
      x = -x;
    if (h & 2u)
      y = -y;
    const double fx = std::floor(x), fy = std::floor(y), fz = std::floor(z);
    const uint32_t ix = static_cast<uint32_t>(static_cast<int32_t>(fx)) + (h >> 8);
    const uint32_t iy = static_cast<uint32_t>(static_cast<int32_t>(fy)) + (h >> 14);
    const uint32_t iz = static_cast<uint32_t>(static_cast<int32_t>(fz)) + (h >> 20);
    const double tx = x - fx, ty = y - fy, tz = z - fz;
    const double ux = tx * tx * (3 - 2 * tx), uy = ty * ty * (3 - 2 * ty), uz = tz * tz * (3 - 2 * tz);
    const uint32_t x0 = ix & kMask, x1 = (ix + 1) & kMask;
    const uint32_t y0 = (iy & kMask) * kN, y1 = ((iy + 1) & kMask) * kN;
    const uint32_t z0 = (iz & kMask) * kN * kN, z1 = ((iz + 1) & kMask) * kN * kN;
    auto T = [&](uint32_t zz, uint32_t yy, uint32_t xx) { return static_cast<double>(table[zz + yy + xx]); };
    const double c00 = T(z0, y0, x0) + (T(z0, y0, x1) - T(z0, y0, x0)) * ux;
    const double c10 = T(z0, y1, x0) + (T(z0, y1, x1) - T(z0, y1, x0)) * ux;
    const double c01 = T(z1, y0, x0) + (T(z1, y0, x1) - T(z1, y0, x0)) * ux;
    const double c11 = T(z1, y1, x0) + (T(z1, y1, x1) - T(z1, y1, x0)) * ux;
    const double a = c00 + (c10 - c00) * uy;
    const double b = c01 + (c11 - c01) * uy;
    return a + (b - a) * uz;
  }
  double at(uint32_t stream, V p, double scaleMm) const
  {
    const double s = 1.0 / scaleMm;
    return at(stream, p.x * s, p.y * s, p.z * s);
  }

private:
  static constexpr uint32_t kN = 64, kMask = 63;
  std::vector<float> table;
};

/// Standard-normal-like deviate from a 64-bit hash: Irwin-Hall sum of four 16-bit uniforms,
/// rescaled to unit variance (bounded at +-3.46 sd, identical on every platform).
inline double gaussFromHash(uint64_t h)
{
  const double s = static_cast<double>(h & 0xFFFF) + static_cast<double>((h >> 16) & 0xFFFF) +
                   static_cast<double>((h >> 32) & 0xFFFF) + static_cast<double>(h >> 48);
  return (s / 65535.0 - 2.0) * 1.7320508075688772;
}
inline double voxelGauss(uint64_t seed, uint64_t stream, uint64_t index)
{
  return gaussFromHash(mix64(seed * 0x9E3779B97F4A7C15ull + stream * 0xD1B54A32D192ED03ull +
                             (index + 1) * 0xAEF17502108EF2D9ull));
}

// ---------------------------------------------------------------------------------------------
// Shapes
struct Ellipsoid
{
  V c, u1{ 1, 0, 0 }, u2{ 0, 1, 0 }, u3{ 0, 0, 1 }, r{ 1, 1, 1 };
  Box box;
  Ellipsoid() = default;
  /// radii along (u1, u2, u3); u3 = axis3, u1 = hint made orthogonal to u3, u2 = u3 x u1.
  Ellipsoid(V centre, V radii, V axis3 = { 0, 0, 1 }, V hint = { 1, 0, 0 }) : c(centre), r(radii)
  {
    u3 = normalize(axis3);
    u1 = normalize(hint - u3 * dot(hint, u3));
    u2 = cross(u3, u1);
    box.add(c, std::max({ r.x, r.y, r.z }) + 1.0);
  }
  V local(V p) const
  {
    const V d = p - c;
    return { dot(d, u1) / r.x, dot(d, u2) / r.y, dot(d, u3) / r.z };
  }
  /// Approximate signed distance in mm (exact on the surface, good near it).
  double sdf(V p) const
  {
    if (!box.in(p))
      return 1e9;
    const V d = p - c;
    const double a = dot(d, u1) / r.x, b = dot(d, u2) / r.y, e = dot(d, u3) / r.z;
    const double k0 = std::sqrt(a * a + b * b + e * e);
    const double k1 = std::sqrt(sq(a / r.x) + sq(b / r.y) + sq(e / r.z));
    if (k1 < 1e-12)
      return -std::min({ r.x, r.y, r.z });
    return k0 * (k0 - 1.0) / k1;
  }
};

struct TubeHit
{
  double sdf = 1e9;  // min over segments of (distance - radius), mm
  double norm = 1e9; // min over segments of distance / radius
  double s = 0;      // arc length of the closest point (of the sdf minimum), mm
  double radius = 0;
  V closest;
};

/// A tube around a Catmull-Rom spline through control points, with a radius per control point.
class Tube
{
public:
  Box box;
  double length = 0;

  /// pad: how far (mm, plus padFactor * radius) outside the surface queries must stay exact.
  void build(const std::vector<V>& ctrl, const std::vector<double>& radii, double stepMm,
             double padMm = 2.0, double padFactor = 0.0)
  {
    std::vector<V> pts;
    std::vector<double> rad;
    const size_t n = ctrl.size();
    auto P = [&](long i) -> V {
      if (i < 0)
        return ctrl[0] * 2.0 - ctrl[1];
      if (i >= static_cast<long>(n))
        return ctrl[n - 1] * 2.0 - ctrl[n - 2];
      return ctrl[static_cast<size_t>(i)];
    };
    for (size_t i = 0; i + 1 < n; ++i)
    {
      const V p0 = P(static_cast<long>(i) - 1), p1 = ctrl[i], p2 = ctrl[i + 1], p3 = P(static_cast<long>(i) + 2);
      const int m = std::max(2, static_cast<int>(std::ceil(len(p2 - p1) / stepMm)));
      for (int k = 0; k < m; ++k)
      {
        const double t = static_cast<double>(k) / m, t2 = t * t, t3 = t2 * t;
        const V pt = (p1 * 2.0 + (p2 - p0) * t + (p0 * 2.0 - p1 * 5.0 + p2 * 4.0 - p3) * t2 +
                      (p1 * 3.0 - p0 - p2 * 3.0 + p3) * t3) *
                     0.5;
        const double u = t * t * (3 - 2 * t);
        pts.push_back(pt);
        rad.push_back(radii[i] + (radii[i + 1] - radii[i]) * u);
      }
    }
    pts.push_back(ctrl[n - 1]);
    rad.push_back(radii[n - 1]);

    segs.clear();
    chunks.clear();
    box = Box{};
    double s = 0;
    for (size_t i = 0; i + 1 < pts.size(); ++i)
    {
      Seg g;
      g.a = pts[i];
      g.ab = pts[i + 1] - pts[i];
      const double l2 = dot(g.ab, g.ab);
      g.inv = l2 > 1e-12 ? 1.0 / l2 : 0.0;
      g.r0 = rad[i];
      g.r1 = rad[i + 1];
      g.s0 = s;
      g.len = std::sqrt(l2);
      s += g.len;
      segs.push_back(g);
    }
    length = s;
    const size_t per = 6;
    for (size_t b = 0; b < segs.size(); b += per)
    {
      Chunk c;
      c.begin = b;
      c.end = std::min(segs.size(), b + per);
      for (size_t i = c.begin; i < c.end; ++i)
      {
        const double pad = std::max(segs[i].r0, segs[i].r1) * (1.0 + padFactor) + padMm;
        c.box.add(segs[i].a, pad);
        c.box.add(segs[i].a + segs[i].ab, pad);
      }
      box.add(c.box);
      chunks.push_back(c);
    }
  }

  TubeHit query(V p) const
  {
    TubeHit h;
    if (!box.in(p))
      return h;
    for (const Chunk& c : chunks)
    {
      if (!c.box.in(p))
        continue;
      for (size_t i = c.begin; i < c.end; ++i)
      {
        const Seg& g = segs[i];
        const V ap = p - g.a;
        const double t = clamp01(dot(ap, g.ab) * g.inv);
        const V q = g.a + g.ab * t;
        const double d = len(p - q);
        const double r = g.r0 + (g.r1 - g.r0) * t;
        const double v = d - r;
        if (v < h.sdf)
        {
          h.sdf = v;
          h.s = g.s0 + t * g.len;
          h.radius = r;
          h.closest = q;
        }
        const double nrm = d / r;
        if (nrm < h.norm)
          h.norm = nrm;
      }
    }
    return h;
  }

private:
  struct Seg
  {
    V a, ab;
    double inv = 0, r0 = 0, r1 = 0, s0 = 0, len = 0;
  };
  struct Chunk
  {
    Box box;
    size_t begin = 0, end = 0;
  };
  std::vector<Seg> segs;
  std::vector<Chunk> chunks;
};

inline double smin(double a, double b, double k)
{
  const double h = clamp01(0.5 + 0.5 * (b - a) / k);
  return b + (a - b) * h - k * h * (1.0 - h);
}

// ---------------------------------------------------------------------------------------------
// Tissues
enum Tissue : uint8_t
{
  Outside,
  TableSkin,
  TableCore,
  SubcutFat,
  VisceralFat,
  Muscle,
  Lung,
  CorticalBone,
  CancellousBone,
  PosteriorBone,
  Disc,
  Csf,
  Cord,
  RibCortex,
  RibMarrow,
  Cartilage,
  Liver,
  HepaticVein,
  Gallbladder,
  Spleen,
  KidneyCortex,
  KidneyMedulla,
  RenalSinusFat,
  Urine,
  Pancreas,
  PancreaticDuct,
  Aorta,
  Artery,
  Ivc,
  Vein,
  PortalVein,
  StomachWall,
  StomachFluid,
  StomachAir,
  BowelWall,
  BowelFluid,
  BowelAir,
  Stool,
  EsophagusWall,
  Adrenal,
  TissueCount,
  Unclaimed = 255
};

struct TissueProps
{
  float ct, ctTex, t1, t2, mrTex; // mrTex: relative texture amplitude
};

// Portal venous phase CT (HU); T1: in-phase gradient echo-like; T2: single-shot FSE-like.
const TissueProps kProps[TissueCount] = {
  /* Outside        */ { -1000, 0, 0, 0, 0 },
  /* TableSkin      */ { 250, 10, 0, 0, 0 },
  /* TableCore      */ { -850, 10, 0, 0, 0 },
  /* SubcutFat      */ { -105, 7, 820, 620, 0.03f },
  /* VisceralFat    */ { -98, 9, 800, 600, 0.04f },
  /* Muscle         */ { 52, 5, 280, 140, 0.04f },
  /* Lung           */ { -860, 15, 15, 12, 0.2f },
  /* CorticalBone   */ { 950, 60, 25, 20, 0.1f },
  /* CancellousBone */ { 400, 45, 520, 380, 0.08f },
  /* PosteriorBone  */ { 650, 60, 300, 220, 0.08f },
  /* Disc           */ { 95, 8, 220, 600, 0.05f },
  /* Csf            */ { 10, 4, 90, 950, 0.02f },
  /* Cord           */ { 35, 4, 320, 380, 0.03f },
  /* RibCortex      */ { 850, 50, 30, 25, 0.1f },
  /* RibMarrow      */ { 300, 40, 500, 360, 0.08f },
  /* Cartilage      */ { 130, 10, 260, 240, 0.05f },
  /* Liver          */ { 112, 5, 440, 170, 0.03f },
  /* HepaticVein    */ { 165, 5, 70, 50, 0.05f },
  /* Gallbladder    */ { 8, 3, 120, 960, 0.02f },
  /* Spleen         */ { 120, 5, 310, 430, 0.03f },
  /* KidneyCortex   */ { 175, 6, 340, 420, 0.03f },
  /* KidneyMedulla  */ { 135, 6, 240, 560, 0.03f },
  /* RenalSinusFat  */ { -85, 8, 780, 580, 0.04f },
  /* Urine          */ { 12, 3, 80, 940, 0.02f },
  /* Pancreas       */ { 106, 0, 540, 270, 0.0f }, // lobular texture below
  /* PancreaticDuct */ { 20, 3, 110, 900, 0.02f },
  /* Aorta          */ { 178, 4, 60, 40, 0.05f },
  /* Artery         */ { 172, 4, 60, 40, 0.05f },
  /* Ivc            */ { 145, 5, 70, 50, 0.05f },
  /* Vein           */ { 160, 5, 70, 50, 0.05f },
  /* PortalVein     */ { 185, 4, 75, 55, 0.05f },
  /* StomachWall    */ { 78, 6, 300, 200, 0.04f },
  /* StomachFluid   */ { 12, 3, 90, 900, 0.02f },
  /* StomachAir     */ { -990, 3, 5, 5, 0.0f },
  /* BowelWall      */ { 82, 6, 300, 220, 0.04f },
  /* BowelFluid     */ { 18, 4, 100, 880, 0.03f },
  /* BowelAir       */ { -985, 3, 5, 5, 0.0f },
  /* Stool          */ { 10, 0, 250, 300, 0.0f }, // mottled texture below
  /* EsophagusWall  */ { 50, 5, 270, 150, 0.04f },
  /* Adrenal        */ { 60, 5, 300, 200, 0.04f },
};

struct Cls
{
  uint8_t tissue;
  uint8_t label;
};

// ---------------------------------------------------------------------------------------------
// Anatomy
struct Anatomy
{
  // Body outline (anatomical frame: body-centred, mm)
  double a0 = 140, bAnt = 109, bPost = 106, tAnt = 20, tLat = 17, tPost = 10;
  double mAnt = 11, mLat = 11.5, mPost = 7;
  double bodyPhaseA = 0, bodyPhaseB = 0, tableY = 0;
  // reference -> anatomical scaling
  double sx = 1, syA = 1, syP = 1, sz = 1, dz = 0;
  // spine, ribs, diaphragm
  double vertPhase = 0, ribZ0 = -6, ribPitch = 28, ribSlope = 0.3, diaTop = 122;
  double stomachAirY = -38, colonAir = 0.3;
  uint32_t seedBody = 0, seedTex = 0, seedPanc = 0, seedBowel = 0, seedOrgan = 0;

  Ellipsoid liverR, liverL, caudate, spleen, spleenCut, kidney[2], sinus[2], pelvis[2], gallbladder;
  Tube aorta, ivc, portal, portalLeft, splenicVein, sma, celiac, splenicArtery;
  Tube renalVein[2], renalArtery[2], ureter[2], hepaticVein[3];
  Tube stomach, duodenum, colon, esophagus, pancreasLine, duct, crus[2], adrenal[4];
  double liverInfZ0 = -20;
  Box liverBox, spleenBox;

  // Landmarks (reference frame)
  V lmHead, lmNeck, lmTail, lmConfluence, lmDuodenum, lmHilum, lmSma;

  ValueNoise noise;

  // Pancreas mask over the whole grid (filled by stage 2)
  std::vector<uint8_t> pancMask;

  V toRef(V a) const
  {
    const double y = a.y < 0 ? a.y / syA : a.y / syP;
    return { a.x / sx, y, (a.z - dz) / sz };
  }
  V fromRef(V q) const
  {
    const double y = q.y < 0 ? q.y * syA : q.y * syP;
    return { q.x * sx, y, q.z * sz + dz };
  }

  struct BodyAxes
  {
    double a = 1, bAnt = 1, bPost = 1;
  };
  BodyAxes axesAt(double z) const
  {
    const double zn = z / 100.0;
    const double fb = 1.0 + 0.02 * std::sin(1.7 * zn + bodyPhaseB);
    return { a0 * (1.0 - 0.03 * zn + 0.02 * std::sin(2.3 * zn + bodyPhaseA)), bAnt * fb, bPost * fb };
  }

  /// Outline radius R at the direction of (dx, dy) (anterior half an ellipse, posterior half a
  /// flatter superellipse of exponent 3), subcutaneous fat and wall muscle thickness there.
  void ring(double dx, double dy, double r, double z, const BodyAxes& ax, double& R, double& fat,
            double& mus) const
  {
    const double c = r > 1e-9 ? dx / r : 1.0, s = r > 1e-9 ? dy / r : 0.0;
    if (dy < 0)
      R = 1.0 / std::sqrt(sq(c / ax.a) + sq(s / ax.bAnt));
    else
    {
      const double u = std::abs(c) / ax.a, v = s / ax.bPost;
      R = 1.0 / std::cbrt(u * u * u + v * v * v);
    }
    R *= 1.0 + 0.016 * noise.at(seedBody, 2.5 * c + 10, 2.5 * s + 10, z / 60.0);
    const double wa = s < 0 ? s * s : 0.0, wp = s > 0 ? s * s : 0.0;
    fat = tLat + (tAnt - tLat) * wa + (tPost - tLat) * wp +
          3.0 * noise.at(seedBody + 1, 3.0 * c + 20, 3.0 * s + 20, z / 40.0);
    fat = std::max(fat, 3.0);
    if (dy < 0)
    {
      // rectus abdominis beside the midline, thin aponeurosis, then the flank muscles
      const double ax = std::abs(dx);
      const double f = clamp01((ax - 50.0) / 12.0), h = clamp01((ax - 75.0) / 20.0);
      mus = (mAnt * (1.0 - f) + 5.5 * f) * (1.0 - h) + mLat * h;
    }
    else
      mus = mLat + (mPost - mLat) * wp;
  }

  double diaphragmZ(V q) const
  {
    return diaTop - 0.0022 * q.x * q.x - 0.5 * std::max(0.0, q.y + 20.0) +
           (q.x < 0 ? 10.0 * std::min(1.0, -q.x / 60.0) : 0.0);
  }

  bool spine(V q, Cls& c) const
  {
    const double ax = std::abs(q.x);
    if (ax > 48 || q.y < 20 || q.y > 104)
      return false;
    double zz = std::fmod(q.z - vertPhase, 34.0);
    if (zz < 0)
      zz += 34.0;
    const bool disc = zz < 7.0;
    // vertebral body
    double e2 = sq(q.x / 21.0) + sq((q.y - 40.0) / 17.0);
    if (e2 < 1.0)
    {
      if (disc)
        c = { Disc, LabelSpine };
      else
      {
        const bool shell = std::sqrt(e2) > 0.87 || zz < 8.5 || zz > 32.5;
        c = { static_cast<uint8_t>(shell ? CorticalBone : CancellousBone), LabelSpine };
      }
      return true;
    }
    // canal
    e2 = sq(q.x / 10.0) + sq((q.y - 67.0) / 8.5);
    if (e2 < 1.0)
    {
      c = { static_cast<uint8_t>(sq(q.x) + sq(q.y - 66.0) < 4.5 * 4.5 ? Cord : Csf), 0 };
      return true;
    }
    if (disc && zz < 4.0)
      return false;
    // arch, pedicles, spinous and transverse processes
    const bool arch = sq(q.x / 17.5) + sq((q.y - 67.0) / 15.5) < 1.0;
    const bool pedicle = ax > 6.0 && ax < 15.0 && q.y > 50.0 && q.y < 62.0;
    const bool spinous = zz > 9.0 && zz < 31.0 && sq(q.x / 4.5) + sq((q.y - 88.0) / 14.0) < 1.0;
    const bool transverse = zz > 13.0 && zz < 21.0 && sq((ax - 27.0) / 11.0) + sq((q.y - 62.0) / 4.5) < 1.0;
    if (arch || pedicle || spinous || transverse)
    {
      c = { PosteriorBone, LabelSpine };
      return true;
    }
    return false;
  }

  bool rib(V q, double dx, double dy, double depth, double fat, double mus, Cls& c) const
  {
    const double theta = std::atan2(std::abs(dx), dy); // 0 = posterior midline, pi = anterior
    const double s = theta * 95.0;
    if (s < 35.0)
      return false;
    // ribs descend from the spine to the flank, the costal cartilages rise again anteriorly
    const double drop = ribSlope * std::min(s, 160.0) - 0.3 * std::max(0.0, s - 160.0);
    const double k = std::floor((q.z + drop - ribZ0) / ribPitch + 0.5);
    if (k < 0 || k > 6)
      return false;
    const double sEnd = k < 0.5 ? 120.0 : (k < 1.5 ? 165.0 : (k < 2.5 ? 240.0 : 330.0));
    if (s > sEnd)
      return false;
    const double zc = ribZ0 + k * ribPitch - drop;
    const double dc = fat + 0.5 * mus;
    const double rr = sq((depth - dc) / std::max(2.5, 0.45 * mus)) + sq((q.z - zc) / 5.5);
    if (rr >= 1.0)
      return false;
    if (s > 230.0 && k > 1.5)
      c = { Cartilage, 0 };
    else
      c = { static_cast<uint8_t>(rr > 0.45 ? RibCortex : RibMarrow), 0 };
    return true;
  }

  bool muscles(V q) const
  {
    const double ax = std::abs(q.x);
    if (sq((ax - 33.0) / 26.0) + sq((q.y - 82.0) / 19.0) < 1.0) // erector spinae
      return true;
    if (q.z < 12.0) // psoas, growing caudally
    {
      const double rp = std::min(22.0, 4.0 + (12.0 - q.z) * 0.16);
      if (sq((ax - 22.0 - 0.65 * rp) / rp) + sq((q.y - 38.0 + 0.1 * rp) / (0.85 * rp)) < 1.0)
        return true;
    }
    if (q.z < 10.0) // quadratus lumborum
    {
      const double w = std::min(1.0, std::max(0.3, (10.0 - q.z) / 40.0));
      if (sq((ax - 58.0) / (14.0 * w)) + sq((q.y - 64.0) / (9.0 * w)) < 1.0)
        return true;
    }
    return false;
  }

  bool vessels(V q, Cls& c) const
  {
    auto hit = [&](const Tube& t, Tissue tissue, uint8_t label) {
      if (t.query(q).sdf >= 0)
        return false;
      c = { static_cast<uint8_t>(tissue), label };
      return true;
    };
    if (hit(aorta, Aorta, LabelAorta) || hit(ivc, Ivc, LabelIvc))
      return true;
    if (hit(portal, PortalVein, LabelPortalSplenicVein) || hit(portalLeft, PortalVein, LabelPortalSplenicVein) ||
        hit(splenicVein, PortalVein, LabelPortalSplenicVein))
      return true;
    if (hit(sma, Artery, 0) || hit(celiac, Artery, 0) || hit(splenicArtery, Artery, 0))
      return true;
    for (int k = 0; k < 2; ++k)
      if (hit(renalVein[k], Vein, 0) || hit(renalArtery[k], Artery, 0) || hit(ureter[k], Urine, 0))
        return true;
    return false;
  }

  /// Signed distance-like value of the column around spine, aorta and crura (negative inside).
  static double retroperitoneum(V q)
  {
    return (std::sqrt(sq((q.x - 5.0) / 38.0) + sq((q.y - 45.0) / 35.0)) - 1.0) * 35.0;
  }

  bool pancreasNear(V q, double limit) const
  {
    if (!pancreasLine.box.in(q))
      return false;
    return pancreasLine.query(q).norm < limit;
  }

  bool smallBowel(V q, Cls& c) const
  {
    // the region test is applied to each loop's centre below, so loops are never cut flat;
    // here only a coarse bound
    auto inRegion = [](V v) { return v.y < 26.0 && v.z < -10.0 + 0.3 * v.x; };
    if (q.y > 40.0 || q.z > 12.0 + 0.3 * q.x)
      return false;
    if (pancreasNear(q, 2.3))
      return false;
    // warped cellular pattern: curved, irregular loops instead of straight Voronoi walls
    const V qw = q + V{ 7.0 * noise.at(seedBowel + 1, q, 22.0), 7.0 * noise.at(seedBowel + 2, q, 22.0),
                        7.0 * noise.at(seedBowel + 3, q, 22.0) };
    // one loop segment per jittered cell: an ellipsoid of random orientation and calibre; the
    // cell whose loop is relatively closest wins, thin fat between touching loops
    const double cs[3] = { 22.0, 22.0, 28.0 };
    const double g[3] = { qw.x / cs[0], qw.y / cs[1], qw.z / cs[2] };
    const int32_t ic[3] = { static_cast<int32_t>(std::floor(g[0])), static_cast<int32_t>(std::floor(g[1])),
                            static_cast<int32_t>(std::floor(g[2])) };
    double rho1 = 1e30, rho2 = 1e30, R1 = 1;
    uint32_t h1 = 0;
    V c1;
    for (int k = -1; k <= 1; ++k)
      for (int j = -1; j <= 1; ++j)
        for (int i = -1; i <= 1; ++i)
        {
          const int32_t cx = ic[0] + i, cy = ic[1] + j, cz = ic[2] + k;
          const uint32_t ha = hash3(seedBowel, cx, cy, cz);
          const uint32_t hb = hash3(seedBowel + 77, cx, cy, cz);
          const uint32_t hc = hash3(seedBowel + 78, cx, cy, cz);
          const V f{ (cx + 0.2 + 0.6 * unitFromHash(ha)) * cs[0], (cy + 0.2 + 0.6 * unitFromHash(hb)) * cs[1],
                     (cz + 0.2 + 0.6 * unitFromHash(ha ^ hb)) * cs[2] };
          const V u = normalize({ unitFromHash(hc) - 0.5, unitFromHash(hc * 2654435761u) - 0.5,
                                  unitFromHash(hc ^ 0xA511E9B3u) - 0.5 });
          const double R = 9.0 + 4.5 * unitFromHash(hb ^ 0x9E3779B9u);
          const V w = qw - f;
          const double wu = dot(w, u);
          const double rho = std::sqrt(std::max(0.0, dot(w, w) - 0.7 * wu * wu)) / R;
          if (rho < rho1)
          {
            rho2 = rho1;
            rho1 = rho;
            R1 = R;
            h1 = hb;
            c1 = f;
          }
          else if (rho < rho2)
            rho2 = rho;
        }
    if (rho1 >= 1.0 || !inRegion(c1))
      return false;
    const double u = unitFromHash(h1 * 2654435761u + 12345u);
    if (u < 0.05)
      return false; // mesenteric fat
    const double sep = (rho2 - rho1) * R1; // ~ mm to the neighbouring loop
    const double gap = 0.8 + 1.6 * unitFromHash(h1 ^ 0x5555u), wall = 2.2;
    if (sep < gap)
      return false;
    if (u < 0.22 || sep < gap + wall || rho1 > 1.0 - wall / R1)
      c = { BowelWall, 0 };
    else if (u > 0.85 && qw.y < c1.y - 0.25 * R1)
      c = { BowelAir, 0 };
    else
      c = { BowelFluid, 0 };
    return true;
  }

  Cls classify(V p, size_t idx, bool eligibility, const BodyAxes& ax) const
  {
    const double dx = p.x, dy = p.y;
    const double r = std::sqrt(dx * dx + dy * dy);
    const V q = toRef(p);
    // Quick test: the outline contains the ellipse of the same semi-axes; well inside that
    // (minus the thickest fat + muscle) is the cavity, with no outline evaluation needed.
    double depth = 1e9, fat = 0, mus = 0;
    const double rEll = r > 1e-9 ? 1.0 / std::sqrt(sq(dx / r / ax.a) + sq(dy / r / (dy < 0 ? ax.bAnt : ax.bPost))) : 1e9;
    if (r > 0.98 * rEll - 50.0)
    {
      double R = 0;
      ring(dx, dy, r, p.z, ax, R, fat, mus);
      depth = R - r;
      if (depth <= 0)
      {
        const double yt = tableY - 0.0009 * dx * dx;
        if (dy > yt && dy < yt + 5.0 && std::abs(dx) < 150.0)
          return { static_cast<uint8_t>((dy < yt + 1.6 || dy > yt + 3.4) ? TableSkin : TableCore), 0 };
        return { Outside, 0 };
      }
    }
    Cls c{ Outside, 0 };
    if (spine(q, c))
      return c;
    if (depth < fat)
      return { SubcutFat, 0 };
    if (depth < fat + mus)
    {
      if (rib(q, dx, dy, depth, fat, mus, c))
        return c;
      if (dy < 0 && std::abs(dx) < 3.5 && q.z < 60)
        return { SubcutFat, 0 }; // linea alba
      return { Muscle, 0 };
    }
    if (vessels(q, c))
      return c;
    if (muscles(q) || crus[0].query(q).sdf < 0 || crus[1].query(q).sdf < 0)
      return { Muscle, 0 };
    for (const Tube& t : adrenal)
      if (t.query(q).sdf < 0)
        return { Adrenal, 0 };
    {
      const TubeHit h = esophagus.query(q);
      if (h.sdf < 0)
        return { static_cast<uint8_t>(h.sdf < -(h.radius - 2.5) ? BowelAir : EsophagusWall), 0 };
    }
    const double zd = diaphragmZ(q);
    if (q.z > zd)
      return { Lung, 0 };
    if (q.z > zd - 5.0)
      return { Muscle, 0 };
    for (int k = 0; k < 2; ++k)
    {
      const double s = kidney[k].sdf(q);
      if (s < 0)
      {
        const uint8_t lab = k == 0 ? LabelKidneyRight : LabelKidneyLeft;
        const double ss = sinus[k].sdf(q);
        if (ss < 0)
          return pelvis[k].sdf(q) < 0 ? Cls{ Urine, lab } : Cls{ RenalSinusFat, 0 };
        const bool medulla =
          s < -6.5 && ss > 1.5 && noise.at(seedOrgan + 11 + static_cast<uint32_t>(k), q, 7.0) > -0.3;
        return { static_cast<uint8_t>(medulla ? KidneyMedulla : KidneyCortex), lab };
      }
    }
    {
      const TubeHit h = duodenum.query(q);
      if (h.sdf < 0)
      {
        if (h.sdf > -2.5)
          return { BowelWall, 0 };
        const bool air = h.s < 45.0 && q.y < h.closest.y - 0.4 * h.radius;
        return { static_cast<uint8_t>(air ? BowelAir : BowelFluid), 0 };
      }
    }
    if (eligibility)
      return { Unclaimed, 0 };
    if (pancMask[idx])
      return { static_cast<uint8_t>(duct.query(q).sdf < 0 ? PancreaticDuct : Pancreas), LabelPancreas };
    if (gallbladder.sdf(q) < 0)
      return { Gallbladder, 0 };
    if (liverBox.in(q))
    {
      // inferior surface rising medially (the liver stays above the pancreatic head and the
      // duodenum), and no liver behind the IVC around the spine
      const double zInf = liverInfZ0 + 0.75 * (q.x + 90.0) - 0.8 * std::max(0.0, -(q.y + 10.0)) +
                          0.002 * sq(q.x + 60.0) + 8.0 * noise.at(seedOrgan + 4, q, 30.0);
      const double s = std::max({ smin(smin(liverR.sdf(q), liverL.sdf(q), 12.0), caudate.sdf(q), 8.0) +
                                    2.5 * noise.at(seedOrgan + 1, q, 25.0),
                                  0.6 * (zInf - q.z), -retroperitoneum(q) });
      if (s < 0)
      {
        for (const Tube& t : hepaticVein)
          if (t.query(q).sdf < 0)
            return { HepaticVein, LabelLiver };
        return { Liver, LabelLiver };
      }
    }
    if (spleenBox.in(q))
    {
      const double s = std::max(spleen.sdf(q), -spleenCut.sdf(q)) + 1.5 * noise.at(seedOrgan + 2, q, 15.0);
      if (s < 0)
        return { Spleen, LabelSpleen };
    }
    {
      const TubeHit h = stomach.query(q);
      if (h.sdf < 0 && retroperitoneum(q) > 0)
      {
        const double wall = 4.0 + 1.8 * noise.at(seedOrgan + 3, q, 6.0);
        if (h.sdf > -wall)
          return { StomachWall, LabelStomach };
        return { static_cast<uint8_t>(q.y < stomachAirY ? StomachAir : StomachFluid), LabelStomach };
      }
    }
    {
      const TubeHit h = colon.query(q);
      if (h.sdf < 0)
      {
        const double haustra = h.radius * 0.12 * (0.5 + 0.5 * std::cos(2.0 * kPi * h.s / 30.0));
        const double s = h.sdf + haustra;
        if (s < 0)
        {
          if (s > -2.5)
            return { BowelWall, 0 };
          const bool air = q.y - h.closest.y < -(1.0 - 2.0 * colonAir) * h.radius;
          return { static_cast<uint8_t>(air ? BowelAir : Stool), 0 };
        }
      }
    }
    if (smallBowel(q, c))
      return c;
    return { VisceralFat, 0 };
  }
};

Tube makeTube(const std::vector<V>& ctrl, const std::vector<double>& radii, double step, double pad = 2.0,
              double padFactor = 0.0)
{
  Tube t;
  t.build(ctrl, radii, step, pad, padFactor);
  return t;
}

Anatomy buildAnatomy(uint32_t seed)
{
  Anatomy A;
  SplitMix64 rng(0x5EED0000ull + seed * 0x100000001B3ull);
  A.noise = ValueNoise(rng.next());
  A.seedBody = static_cast<uint32_t>(rng.next());
  A.seedTex = static_cast<uint32_t>(rng.next());
  A.seedPanc = static_cast<uint32_t>(rng.next());
  A.seedBowel = static_cast<uint32_t>(rng.next());
  A.seedOrgan = static_cast<uint32_t>(rng.next());

  // Body habitus
  A.a0 = rng.uniform(132, 146);
  A.bAnt = rng.uniform(103, 113);
  A.bPost = rng.uniform(101, 109);
  A.tAnt = rng.uniform(12, 30);
  A.tLat = rng.uniform(10, 24);
  A.tPost = rng.uniform(6, 14);
  A.mLat = rng.uniform(10, 13);
  A.bodyPhaseA = rng.uniform(0, 2 * kPi);
  A.bodyPhaseB = rng.uniform(0, 2 * kPi);
  A.tableY = A.bPost * 1.02 + 4.0;
  A.sx = std::clamp((A.a0 - A.tLat - A.mLat) / (140.0 - 17.0 - 11.5), 0.85, 1.15);
  A.mAnt = rng.uniform(9, 13);
  A.syA = std::clamp((A.bAnt - A.tAnt - A.mAnt) / (109.0 - 20.0 - 11.0), 0.82, 1.18);
  A.syP = std::clamp((A.bPost - A.tPost - A.mPost) / (106.0 - 10.0 - 7.0), 0.88, 1.12);
  A.sz = rng.uniform(0.94, 1.06);
  A.dz = rng.uniform(-10, 10);

  A.vertPhase = rng.uniform(0, 34);
  A.ribZ0 = rng.uniform(8, 22);
  A.ribPitch = rng.uniform(28, 32);
  A.ribSlope = rng.uniform(0.5, 0.6);
  A.diaTop = rng.uniform(116, 128);
  A.stomachAirY = rng.uniform(-46, -32);
  A.colonAir = rng.uniform(0.2, 0.45);

  // Great vessels
  const V ao = rng.jitter3(3, 2, 0);
  A.aorta = makeTube({ V{ 13, 10, 125 } + ao, V{ 12, 10, 40 } + ao, V{ 12, 10, 0 } + ao,
                       V{ 14, 12, -60 } + ao, V{ 16, 14, -125 } + ao },
                     { 12.5, 12, 11, 10, 9.5 }, 4.0);
  const V vc = rng.jitter3(3, 2, 0);
  A.ivc = makeTube({ V{ -24, 8, -125 } + vc, V{ -24, 8, -40 } + vc, V{ -24, 6, 10 } + vc,
                     V{ -22, 8, 50 } + vc, V{ -20, 14, 90 } + vc, V{ -18, 14, 125 } + vc },
                   { 11, 12, 13, 13, 14, 14 }, 4.0);

  // Diaphragmatic crura beside the aorta, joining in front of it at the hiatus
  A.crus[0] = makeTube({ V{ 0, 26, -35 } + ao, V{ -6, 14, 0 } + ao, V{ -4, 2, 35 } + ao, V{ 10, -8, 58 } + ao },
                       { 4, 6, 6, 5 }, 3.0);
  A.crus[1] = makeTube({ V{ 22, 26, -30 } + ao, V{ 28, 14, 0 } + ao, V{ 26, 2, 35 } + ao, V{ 14, -8, 58 } + ao },
                       { 3.5, 5, 5.5, 5 }, 3.0);

  // Kidneys (0 = right, patient right = low x; 1 = left)
  for (int k = 0; k < 2; ++k)
  {
    const double side = k == 0 ? -1.0 : 1.0;
    const V c = V{ side * 68.0, 50.0, k == 0 ? -38.0 : -22.0 } + rng.jitter3(5, 4, 8);
    const V axis{ -side * 0.18, 0.15, 1.0 };
    const V hilumDir = normalize({ -side * 1.0, -0.7 + rng.jitter(0.15), 0 });
    const double rw = 28 * rng.uniform(0.92, 1.08), rt = 21 * rng.uniform(0.92, 1.08),
                 rl = 55 * rng.uniform(0.92, 1.08);
    A.kidney[k] = Ellipsoid(c, { rw, rt, rl }, axis, hilumDir);
    const V u1 = A.kidney[k].u1;
    A.sinus[k] = Ellipsoid(c + u1 * (0.5 * rw), { 0.55 * rw, 0.45 * rt, 0.55 * rl }, axis, hilumDir);
    A.pelvis[k] = Ellipsoid(c + u1 * (0.8 * rw), { 0.35 * rw, 0.3 * rt, 0.2 * rl }, axis, hilumDir);
    const V hilum = c + u1 * rw;
    if (k == 0)
    {
      A.renalVein[k] = makeTube({ hilum, V{ -34, 16, hilum.z + 6 }, V{ -25, 8, hilum.z + 10 } + vc },
                                { 4.5, 5, 5 }, 2.0);
      A.renalArtery[k] = makeTube({ V{ 10, 16, hilum.z + 18 } + ao, V{ -20, 26, hilum.z + 12 },
                                    V{ -38, 32, hilum.z + 4 }, hilum + V{ 0, 4, 0 } },
                                  { 3, 3, 3, 2.5 }, 2.0);
    }
    else
    {
      A.renalVein[k] = makeTube({ hilum, V{ 30, 4, hilum.z + 10 }, V{ 12, -8, hilum.z + 13 } + ao,
                                  V{ -8, -6, hilum.z + 13 }, V{ -22, 2, hilum.z + 12 } + vc },
                                { 4.5, 4.5, 4.2, 4.8, 5 }, 2.0);
      A.renalArtery[k] = makeTube({ V{ 20, 14, hilum.z + 8 } + ao, V{ 36, 28, hilum.z + 4 },
                                    hilum + V{ 0, 4, 0 } },
                                  { 3, 3, 2.5 }, 2.0);
    }
    A.ureter[k] = makeTube({ hilum + u1 * 3.0, V{ side * 46, 30, hilum.z - 40 }, V{ side * 42, 28, -130 } },
                           { 3.0, 2.5, 2.5 }, 3.0);
  }

  // Adrenal glands: inverted-V limbs above and medial to the upper poles
  {
    const V ra = V{ -34, 28, 34 } + rng.jitter3(2, 2, 3);
    const V la = V{ 36, 22, 30 } + rng.jitter3(2, 2, 3);
    A.adrenal[0] = makeTube({ ra, ra + V{ -6, 12, -18 } }, { 3, 2 }, 2.0);
    A.adrenal[1] = makeTube({ ra, ra + V{ 6, 14, -16 } }, { 3, 2 }, 2.0);
    A.adrenal[2] = makeTube({ la, la + V{ 8, 14, -20 } }, { 3, 2 }, 2.0);
    A.adrenal[3] = makeTube({ la, la + V{ -4, 16, -18 } }, { 3, 2 }, 2.0);
  }

  // Spleen and its hilum
  const V spc = V{ 78, 46, 42 } + rng.jitter3(6, 5, 7);
  const double sscale = rng.uniform(0.85, 1.12);
  const V su1 = normalize({ 0.85, 0.52, -0.1 });
  A.spleen = Ellipsoid(spc, V{ 20, 52, 45 } * sscale, { 0, 0, 1 }, su1);
  A.spleenCut = Ellipsoid(spc - A.spleen.u1 * (20 * sscale * 1.45), V{ 16, 23, 20 } * sscale, { 0, 0, 1 }, su1);
  A.spleenBox = A.spleen.box;
  const V hilum = spc - A.spleen.u1 * (20 * sscale * 0.85);
  A.lmHilum = hilum;

  // Liver
  const double ls = rng.uniform(0.92, 1.08);
  const V lc = rng.jitter3(5, 4, 6);
  A.liverR = Ellipsoid(V{ -58, 5, 45 } + lc, V{ 62, 80, 72 } * ls);
  A.liverL = Ellipsoid(V{ 2, -52, 64 } + lc + rng.jitter3(6, 4, 5), V{ 52 * rng.uniform(0.85, 1.15), 26, 28 } * ls);
  A.caudate = Ellipsoid(V{ -16, 6, 40 } + lc, V{ 14, 18, 24 } * ls);
  A.liverInfZ0 = rng.uniform(-26, -14);
  A.liverBox = A.liverR.box;
  A.liverBox.add(A.liverL.box);
  A.liverBox.add(A.caudate.box);
  A.liverBox.add(A.liverBox.lo, 12.0);
  A.liverBox.add(A.liverBox.hi, 12.0);
  const V ivcTop = V{ -20, 12, 88 } + vc;
  A.hepaticVein[0] = makeTube({ ivcTop, V{ -55, 16, 74 } + lc, V{ -92, 12, 58 } + lc }, { 6, 5, 3 }, 3.0);
  A.hepaticVein[1] = makeTube({ ivcTop, V{ -38, -18, 72 } + lc, V{ -50, -48, 52 } + lc }, { 6, 5, 3 }, 3.0);
  A.hepaticVein[2] = makeTube({ ivcTop + V{ 4, -4, 2 }, V{ -4, -24, 82 } + lc, V{ 18, -48, 68 } + lc },
                              { 5.5, 4.5, 3 }, 3.0);
  A.gallbladder = Ellipsoid(V{ -62, -48, -4 } + lc + rng.jitter3(4, 4, 6),
                            V{ 13, 14, 28 } * rng.uniform(0.8, 1.15), { 0.15, 0.35, 1 }, { 1, 0, 0 });

  // Pancreas centreline (head -> tail) and the veins around it
  const V pg = rng.jitter3(5, 4, 5); // whole-gland shift
  const double tailLift = rng.uniform(-8, 10);
  const double bodySag = rng.uniform(-6, 6);
  const double arch = rng.uniform(-5, 5); // anterior bowing of neck and body
  std::vector<V> pc = {
    V{ -4, -3, -20 } + pg + rng.jitter3(3, 2, 3),  // uncinate tip, behind the SMV
    V{ -28, -10, -16 } + pg + rng.jitter3(3, 3, 3), // inferior head
    V{ -33, -18, -1 } + pg + rng.jitter3(3, 3, 3),  // superior head
    V{ -8, -33 - 0.5 * arch, 8 } + pg + rng.jitter3(3, 2, 3), // neck, anterior to the confluence
    V{ 18, -33 + bodySag - arch, 13 } + pg + rng.jitter3(4, 2, 4), // body, anterior to SMA/aorta
    V{ 42, -20 - 0.5 * arch, 19 + 0.5 * tailLift } + pg + rng.jitter3(4, 3, 4),
    V{ 56, -2, 27 + tailLift } + rng.jitter3(4, 3, 4),
    hilum + V{ -4, -12, -8 } + rng.jitter3(2, 2, 3), // tail tip at the splenic hilum
  };
  const double hr = rng.uniform(0.9, 1.1), br = rng.uniform(0.9, 1.1), tr = rng.uniform(0.9, 1.1);
  std::vector<double> pr = { 6 * hr, 13 * hr, 15 * hr, 10 * br, 10 * br, 9 * tr, 8 * tr, 6 * tr };
  A.pancreasLine = makeTube(pc, pr, 1.0, 0.0, 1.6);
  A.lmHead = (pc[1] + pc[2]) * 0.5;
  A.lmNeck = pc[3];
  A.lmTail = pc[7];
  A.duct = makeTube({ V{ -50, -14, -6 } + pg, (pc[1] + pc[2]) * 0.5 + V{ -2, -2, 0 }, pc[3], pc[4], pc[5], pc[6] },
                    { 1.6, 1.6, 1.4, 1.3, 1.2, 1.0 }, 1.0);

  const V conf = V{ -10, -14, 8 } + pg * 0.6;
  A.lmConfluence = conf;
  A.portal = makeTube({ V{ -10, -30, -125 }, V{ -10, -24, -40 }, V{ -10, -20, -5 } + pg * 0.5, conf,
                        V{ -25, -10, 22 } + lc * 0.5, V{ -42, -4, 34 } + lc, V{ -50, 0, 40 } + lc,
                        V{ -72, 5, 46 } + lc, V{ -95, 8, 44 } + lc },
                      { 5, 6, 7, 8, 7.5, 7, 6.5, 5, 3 }, 3.0);
  A.portalLeft = makeTube({ V{ -50, 0, 40 } + lc, V{ -25, -22, 50 } + lc, V{ -5, -40, 56 } + lc }, { 6, 4.5, 3 }, 3.0);
  A.splenicVein = makeTube({ conf, V{ 12, -19, 12 } + pg * 0.8, V{ 40, -8, 17 } + pg * 0.7,
                             V{ 56, 12, 25 + 0.5 * tailLift }, hilum + V{ -6, 2, -2 }, hilum + A.spleen.u1 * 8.0 },
                           { 7, 5.5, 5, 5, 5, 4 }, 2.0);
  const V smaO = V{ 12, -1, 15 } + ao;
  A.lmSma = smaO;
  A.sma = makeTube({ smaO, V{ 11, -13, 5 } + ao * 0.5, V{ 9, -22, -20 }, V{ 6, -26, -60 }, V{ 4, -30, -125 } },
                   { 4.5, 4.5, 4, 3.5, 3 }, 3.0);
  const V ct = V{ 11, -13, 28 } + ao * 0.5;
  A.celiac = makeTube({ V{ 12, -1, 30 } + ao, ct, V{ -10, -22, 27 }, V{ -34, -16, 33 } + lc * 0.5,
                        V{ -48, -4, 38 } + lc },
                      { 4, 3.8, 3, 2.6, 2.4 }, 2.0);
  A.splenicArtery = makeTube({ ct, V{ 28, -24, 25 } + pg * 0.5, V{ 44, -8, 31 }, V{ 54, 4, 26 },
                               hilum + V{ -4, -2, 4 }, hilum + A.spleen.u1 * 6.0 },
                             { 3, 3, 3, 2.8, 2.6, 2.4 }, 2.0);

  // Duodenal C-loop around the head
  const V dd = pg + rng.jitter3(2, 2, 3);
  A.duodenum = makeTube({ V{ -24, -50, 16 }, V{ -42, -42, 18 } + dd * 0.5, V{ -56, -26, 14 } + dd,
                          V{ -60, -14, 0 } + dd, V{ -58, -10, -22 } + dd, V{ -46, -8, -36 } + dd,
                          V{ -15, -10, -42 } + dd * 0.5, V{ 15, -10, -42 }, V{ 32, -14, -30 }, V{ 36, -20, -14 } },
                        { 9, 13, 11, 11, 11, 10, 9, 9, 10, 10 }, 2.0);
  A.lmDuodenum = V{ -60, -14, 0 } + dd;

  // Stomach (fundus -> pylorus) and oesophagus
  const V sj = rng.jitter3(5, 4, 5);
  const double sr = rng.uniform(0.85, 1.12);
  A.stomach = makeTube({ V{ 46, 22, 92 } + sj, V{ 56, -4, 74 } + sj, V{ 50, -34, 48 } + sj + rng.jitter3(4, 3, 4),
                         V{ 26, -52, 28 } + sj * 0.5 + rng.jitter3(4, 3, 4), V{ -4, -54, 20 } + sj * 0.3,
                         V{ -24, -50, 16 } },
                       { 28 * sr, 34 * sr, 30 * sr, 22 * sr, 16 * sr, 9 }, 3.0);
  A.esophagus = makeTube({ V{ 4, -12, 125 }, V{ 12, -12, 96 }, V{ 26, -10, 84 } + sj * 0.5, V{ 38, -6, 78 } + sj },
                         { 9, 9, 10, 12 }, 3.0);

  // Colon (ascending -> transverse -> descending)
  const double cr = rng.uniform(0.85, 1.1);
  std::vector<V> cc = { { -92, 16, -125 }, { -92, 12, -60 }, { -88, -6, -32 }, { -60, -46, -34 },
                        { -20, -56, -42 }, { 25, -54, -34 }, { 62, -40, -8 }, { 86, -18, 8 },
                        { 96, 6, -14 },    { 95, 12, -55 },  { 93, 14, -125 } };
  for (size_t i = 1; i + 1 < cc.size(); ++i)
    cc[i] = cc[i] + rng.jitter3(5, 5, 6);
  A.colon = makeTube(cc, { 22 * cr, 24 * cr, 22 * cr, 20 * cr, 19 * cr, 19 * cr, 18 * cr, 17 * cr, 16 * cr,
                           16 * cr, 15 * cr },
                     3.0, 4.0);
  return A;
}

// ---------------------------------------------------------------------------------------------
// Threading: dynamic scheduling over slices; results do not depend on the thread count.
/// fn(z) for every slice z in [0, n), on core/Parallel.h's chunks (each slice is computed the same
/// way whatever the chunking, so the phantom does not depend on the number of threads).
template <class F> void parallelSlices(int64_t n, int threads, F&& fn)
{
  detail::parallelFor(n, std::max(1, threads), [&](int64_t begin, int64_t end) {
    for (int64_t z = begin; z < end; ++z)
      fn(z);
  });
}

/// 3-tap blur along one axis with weights (side, centre, side)/(2 side + centre), edges clamped.
/// The result replaces img; scratch is a reusable buffer.
void blurAxis(std::vector<float>& img, std::vector<float>& scratch, const Size3& n, int axis, float side,
              float centre, int threads)
{
  const int64_t nx = n[0], ny = n[1], nz = n[2];
  const float norm = 1.0f / (2 * side + centre);
  scratch.resize(img.size());
  const std::vector<float>& src = img;
  std::vector<float>& dst = scratch;
  parallelSlices(nz, threads, [&](int64_t z) {
    for (int64_t y = 0; y < ny; ++y)
      for (int64_t x = 0; x < nx; ++x)
      {
        const size_t i = static_cast<size_t>(x + nx * (y + ny * z));
        size_t im = i, ip = i;
        if (axis == 0)
        {
          im = x > 0 ? i - 1 : i;
          ip = x + 1 < nx ? i + 1 : i;
        }
        else if (axis == 1)
        {
          im = y > 0 ? i - static_cast<size_t>(nx) : i;
          ip = y + 1 < ny ? i + static_cast<size_t>(nx) : i;
        }
        else
        {
          im = z > 0 ? i - static_cast<size_t>(nx * ny) : i;
          ip = z + 1 < nz ? i + static_cast<size_t>(nx * ny) : i;
        }
        dst[i] = (side * (src[im] + src[ip]) + centre * src[i]) * norm;
      }
  });
  img.swap(scratch);
}

/// Keeps the largest 6-connected component of a box-local 0/1 mask; returns its size.
int64_t keepLargestComponent(std::vector<uint8_t>& m, int64_t bx, int64_t by, int64_t bz)
{
  std::vector<int32_t> comp(m.size(), -1);
  std::vector<int64_t> sizes;
  std::vector<int64_t> stack;
  for (size_t s = 0; s < m.size(); ++s)
  {
    if (!m[s] || comp[s] >= 0)
      continue;
    const int32_t id = static_cast<int32_t>(sizes.size());
    int64_t count = 0;
    stack.assign(1, static_cast<int64_t>(s));
    comp[s] = id;
    while (!stack.empty())
    {
      const int64_t i = stack.back();
      stack.pop_back();
      ++count;
      const int64_t x = i % bx, y = (i / bx) % by, z = i / (bx * by);
      const int64_t nb[6][3] = { { x - 1, y, z }, { x + 1, y, z }, { x, y - 1, z },
                                 { x, y + 1, z }, { x, y, z - 1 }, { x, y, z + 1 } };
      for (const auto& v : nb)
      {
        if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[0] >= bx || v[1] >= by || v[2] >= bz)
          continue;
        const size_t j = static_cast<size_t>(v[0] + bx * (v[1] + by * v[2]));
        if (m[j] && comp[j] < 0)
        {
          comp[j] = id;
          stack.push_back(static_cast<int64_t>(j));
        }
      }
    }
    sizes.push_back(count);
  }
  if (sizes.empty())
    return 0;
  const int32_t best = static_cast<int32_t>(std::max_element(sizes.begin(), sizes.end()) - sizes.begin());
  for (size_t s = 0; s < m.size(); ++s)
    m[s] = comp[s] == best ? 1 : 0;
  return sizes[static_cast<size_t>(best)];
}

std::string fmtNum(double v, int prec)
{
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  return buf;
}

} // namespace

// =============================================================================================
std::string organLabelName(int label)
{
  switch (label)
  {
  case LabelBackground: return "background";
  case LabelPancreas: return "pancreas";
  case LabelLiver: return "liver";
  case LabelSpleen: return "spleen";
  case LabelKidneyRight: return "kidney_right";
  case LabelKidneyLeft: return "kidney_left";
  case LabelAorta: return "aorta";
  case LabelIvc: return "inferior_vena_cava";
  case LabelPortalSplenicVein: return "portal_splenic_vein";
  case LabelStomach: return "stomach";
  case LabelSpine: return "spine";
  default: return "";
  }
}

std::vector<std::pair<int, std::string>> organLabelTable()
{
  std::vector<std::pair<int, std::string>> t;
  for (int l = 1; l <= 10; ++l)
    t.emplace_back(l, organLabelName(l));
  return t;
}

Phantom generatePhantom(const PhantomOptions& opt)
{
  for (int i = 0; i < 3; ++i)
  {
    if (opt.size[i] < 16 || opt.size[i] > 1024)
      throw Error("demo phantom: size " + std::to_string(opt.size[i]) + " on axis " + std::to_string(i) +
                  " is outside 16..1024 voxels");
    if (!(opt.spacingMm[i] >= 0.2 && opt.spacingMm[i] <= 10.0))
      throw Error("demo phantom: spacing " + fmtNum(opt.spacingMm[i], 3) + " mm on axis " + std::to_string(i) +
                  " is outside 0.2..10 mm");
  }
  if (opt.targetPancreasMl != 0.0 && !(opt.targetPancreasMl >= 30.0 && opt.targetPancreasMl <= 150.0))
    throw Error("demo phantom: target pancreas volume " + fmtNum(opt.targetPancreasMl, 1) +
                " mL is outside 30..150 mL");
  if (!(opt.noiseScale >= 0.0 && opt.noiseScale <= 10.0))
    throw Error("demo phantom: noise scale " + fmtNum(opt.noiseScale, 2) + " is outside 0..10");

  int threads = opt.threads > 0 ? opt.threads : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::clamp(threads, 1, 8);

  Geometry g;
  g.size = opt.size;
  g.spacingMm = opt.spacingMm;
  const double zCentre = -150.0; // scanner-like table position of the volume centre
  g.originMm = { -(static_cast<double>(opt.size[0]) - 1) * opt.spacingMm[0] / 2.0,
                 -(static_cast<double>(opt.size[1]) - 1) * opt.spacingMm[1] / 2.0,
                 zCentre - (static_cast<double>(opt.size[2]) - 1) * opt.spacingMm[2] / 2.0 };
  const int64_t nx = g.size[0], ny = g.size[1], nz = g.size[2];
  const size_t nvox = static_cast<size_t>(g.voxelCount());

  Anatomy A = buildAnatomy(opt.seed);
  SplitMix64 rng(0xC0FFEEull ^ (static_cast<uint64_t>(opt.seed) << 20));
  const V bodyShift{ rng.jitter(8.0), rng.jitter(6.0) + 4.0, 0.0 };
  const double targetMl = opt.targetPancreasMl > 0 ? opt.targetPancreasMl : rng.uniform(60.0, 100.0);

  auto worldOf = [&](int64_t x, int64_t y, int64_t z) {
    return V{ g.originMm[0] + x * g.spacingMm[0], g.originMm[1] + y * g.spacingMm[1],
              g.originMm[2] + z * g.spacingMm[2] };
  };
  auto anatOf = [&](V w) { return V{ w.x - bodyShift.x, w.y - bodyShift.y, w.z - zCentre }; };
  auto worldOfRef = [&](V q) {
    const V a = A.fromRef(q);
    return Vec3{ a.x + bodyShift.x, a.y + bodyShift.y, a.z + zCentre };
  };

  // ---- Stage 2: pancreas mask with an exact target volume ------------------------------------
  A.pancMask.assign(nvox, 0);
  {
    // index box of the pancreas field's reference box
    const Box& rb = A.pancreasLine.box;
    double lo[3] = { 1e30, 1e30, 1e30 }, hi[3] = { -1e30, -1e30, -1e30 };
    for (int c = 0; c < 8; ++c)
    {
      const V q{ (c & 1) ? rb.hi.x : rb.lo.x, (c & 2) ? rb.hi.y : rb.lo.y, (c & 4) ? rb.hi.z : rb.lo.z };
      const Vec3 w = worldOfRef(q);
      for (int k = 0; k < 3; ++k)
      {
        const double id = (w[k] - g.originMm[k]) / g.spacingMm[k];
        lo[k] = std::min(lo[k], id);
        hi[k] = std::max(hi[k], id);
      }
    }
    int64_t b0[3], b1[3];
    for (int k = 0; k < 3; ++k)
    {
      b0[k] = std::clamp<int64_t>(static_cast<int64_t>(std::floor(lo[k])) - 1, 0, g.size[k]);
      b1[k] = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(hi[k])) + 2, 0, g.size[k]);
    }
    const int64_t bx = b1[0] - b0[0], by = b1[1] - b0[1], bz = b1[2] - b0[2];
    if (bx > 0 && by > 0 && bz > 0)
    {
      const size_t bn = static_cast<size_t>(bx * by * bz);
      std::vector<float> field(bn, std::numeric_limits<float>::infinity());
      parallelSlices(bz, threads, [&](int64_t lz) {
        for (int64_t ly = 0; ly < by; ++ly)
          for (int64_t lx = 0; lx < bx; ++lx)
          {
            const int64_t x = b0[0] + lx, y = b0[1] + ly, z = b0[2] + lz;
            const V p = anatOf(worldOf(x, y, z));
            const size_t gi = static_cast<size_t>(x + nx * (y + ny * z));
            if (A.classify(p, gi, true, A.axesAt(p.z)).tissue != Unclaimed)
              continue;
            const V q = A.toRef(p);
            const TubeHit h = A.pancreasLine.query(q);
            if (h.norm > 5.0)
              continue;
            const double lob = 0.34 * A.noise.at(A.seedPanc, q, 8.0) + 0.17 * A.noise.at(A.seedPanc + 1, q, 4.0);
            field[static_cast<size_t>(lx + bx * (ly + by * lz))] = static_cast<float>(h.norm + lob);
          }
      });
      std::vector<float> candidates;
      for (float f : field)
        if (f < 2.2f)
          candidates.push_back(f);
      std::sort(candidates.begin(), candidates.end());
      const double voxMl = g.voxelVolumeMm3() / 1000.0;
      const int64_t target = std::max<int64_t>(1, static_cast<int64_t>(std::llround(targetMl / voxMl)));
      int64_t want = target;
      std::vector<uint8_t> local(bn, 0);
      for (int iter = 0; iter < 5 && !candidates.empty(); ++iter)
      {
        const size_t k = static_cast<size_t>(std::min<int64_t>(want, static_cast<int64_t>(candidates.size())) - 1);
        const float thr = candidates[k];
        for (size_t i = 0; i < bn; ++i)
          local[i] = field[i] <= thr ? 1 : 0;
        const int64_t kept = keepLargestComponent(local, bx, by, bz);
        if (kept >= target - target / 200 || want >= static_cast<int64_t>(candidates.size()))
          break;
        want += target - kept;
      }
      for (int64_t lz = 0; lz < bz; ++lz)
        for (int64_t ly = 0; ly < by; ++ly)
          for (int64_t lx = 0; lx < bx; ++lx)
            if (local[static_cast<size_t>(lx + bx * (ly + by * lz))])
              A.pancMask[static_cast<size_t>((b0[0] + lx) + nx * ((b0[1] + ly) + ny * (b0[2] + lz)))] = 1;
    }
  }

  // ---- Stage 3: classification and noise-free intensities ------------------------------------
  Phantom ph;
  ph.seed = opt.seed;
  ph.organs = LabelMask(g, 0);
  ph.body = LabelMask(g, 0);
  std::vector<uint8_t> tissue(nvox, 0);
  std::vector<float> ct(nvox, 0.0f), t1, t2;
  if (opt.generateMr)
  {
    t1.assign(nvox, 0.0f);
    t2.assign(nvox, 0.0f);
  }
  parallelSlices(nz, threads, [&](int64_t z) {
    const Anatomy::BodyAxes ax = A.axesAt(anatOf(worldOf(0, 0, z)).z);
    for (int64_t y = 0; y < ny; ++y)
      for (int64_t x = 0; x < nx; ++x)
      {
        const size_t i = static_cast<size_t>(x + nx * (y + ny * z));
        const V p = anatOf(worldOf(x, y, z));
        const Cls c = A.classify(p, i, false, ax);
        tissue[i] = c.tissue;
        ph.organs.voxels[i] = c.label;
        ph.body.voxels[i] = (c.tissue != Outside && c.tissue != TableSkin && c.tissue != TableCore) ? 1 : 0;
        const TissueProps& tp = kProps[c.tissue];
        double vct = tp.ct, v1 = tp.t1, v2 = tp.t2;
        if (c.tissue == Outside)
        {
          ct[i] = static_cast<float>(vct);
          continue;
        }
        double n = 0.0;
        if (c.tissue == Pancreas)
        {
          // lobular parenchyma with a few interlobular fat clefts
          const double lobule = A.noise.at(A.seedTex + 5, p, 3.0);
          const double cleft = clamp01((A.noise.at(A.seedTex + 6, p, 4.5) - 0.42) * 4.0) * 0.55;
          const TissueProps& f = kProps[VisceralFat];
          vct = tp.ct + 16.0 * lobule;
          v1 = tp.t1 * (1.0 + 0.05 * lobule);
          v2 = tp.t2 * (1.0 + 0.05 * lobule);
          vct += (f.ct - vct) * cleft;
          v1 += (f.t1 - v1) * cleft;
          v2 += (f.t2 - v2) * cleft;
        }
        else if (c.tissue == Stool)
        {
          const double bubble = clamp01((A.noise.at(A.seedTex + 7, p, 3.5) - 0.15) * 3.0);
          const TissueProps& a = kProps[BowelAir];
          vct = tp.ct + 30.0 * A.noise.at(A.seedTex + 8, p, 2.0);
          vct += (a.ct - vct) * bubble * 0.85;
          v1 += (a.t1 - v1) * bubble;
          v2 += (a.t2 - v2) * bubble;
        }
        else if (c.tissue == Lung)
        {
          const double vessel = clamp01((A.noise.at(A.seedTex + 9, p, 3.0) - 0.45) * 5.0);
          vct = tp.ct + 15.0 * A.noise.at(A.seedTex + 10, p, 5.0) + 420.0 * vessel;
        }
        else
        {
          const double scale = (c.tissue == CancellousBone || c.tissue == RibMarrow) ? 1.6 : 5.0;
          n = 0.7 * A.noise.at(A.seedTex, p, scale) + 0.45 * A.noise.at(A.seedTex + 1, p, scale * 0.45);
          vct += 2.5 * tp.ctTex * n;
          v1 *= 1.0 + 2.5 * tp.mrTex * n;
          v2 *= 1.0 + 2.5 * tp.mrTex * n;
        }
        ct[i] = static_cast<float>(vct);
        if (opt.generateMr)
        {
          t1[i] = static_cast<float>(v1);
          t2[i] = static_cast<float>(v2);
        }
      }
  });

  // ---- Stage 4: partial volume, noise, bias ------------------------------------------------
  std::vector<float> scratch;
  auto partialVolume = [&](std::vector<float>& img) {
    blurAxis(img, scratch, g.size, 0, 1.0f, 4.0f, threads);
    blurAxis(img, scratch, g.size, 1, 1.0f, 4.0f, threads);
    blurAxis(img, scratch, g.size, 2, 1.0f, 6.0f, threads);
  };
  partialVolume(ct);
  const uint64_t nseed = static_cast<uint64_t>(opt.seed) * 0x2545F4914F6CDD1Dull + 0x1234567ull;
  if (opt.noiseScale > 0)
  {
    // CT: white noise blurred in-plane ([1 2 1]/4 twice keeps 0.375 of the sd) -> correlated grain
    std::vector<float> noise(nvox);
    parallelSlices(nz, threads, [&](int64_t z) {
      const size_t base = static_cast<size_t>(nx * ny * z);
      for (size_t i = base; i < base + static_cast<size_t>(nx * ny); ++i)
        noise[i] = static_cast<float>(voxelGauss(nseed, 1, i));
    });
    blurAxis(noise, scratch, g.size, 0, 1.0f, 2.0f, threads);
    blurAxis(noise, scratch, g.size, 1, 1.0f, 2.0f, threads);
    const double sdCt = 12.0 * opt.noiseScale / 0.375;
    for (size_t i = 0; i < nvox; ++i)
      ct[i] += static_cast<float>(sdCt * noise[i]);
  }
  for (float& v : ct)
    v = static_cast<float>(std::nearbyint(std::clamp(static_cast<double>(v), -1024.0, 3071.0)));
  ph.ct.geometry = g;
  ph.ct.voxels = std::move(ct);

  if (opt.generateMr)
  {
    partialVolume(t1);
    partialVolume(t2);
    const double sdMr = 11.0 * opt.noiseScale;
    parallelSlices(nz, threads, [&](int64_t z) {
      for (int64_t y = 0; y < ny; ++y)
        for (int64_t x = 0; x < nx; ++x)
        {
          const size_t i = static_cast<size_t>(x + nx * (y + ny * z));
          if (!ph.body.voxels[i])
          {
            t1[i] = t2[i] = 0.0f;
            continue;
          }
          const V p = anatOf(worldOf(x, y, z));
          const double yn = p.y / 110.0, xn = p.x / 140.0;
          const double b1 = std::clamp(0.84 + 0.3 * yn * yn + 0.08 * xn + 0.1 * A.noise.at(A.seedTex + 20, p, 90.0),
                                       0.6, 1.3);
          const double b2 = std::clamp(0.86 + 0.26 * yn * yn - 0.06 * xn + 0.1 * A.noise.at(A.seedTex + 21, p, 90.0),
                                       0.6, 1.3);
          auto rician = [&](double s, uint64_t stream) {
            if (sdMr <= 0)
              return s;
            const double a = s + sdMr * voxelGauss(nseed, stream, i);
            const double b = sdMr * voxelGauss(nseed, stream + 1, i);
            return std::sqrt(a * a + b * b);
          };
          const double v1 = rician(t1[i] * b1, 10), v2 = rician(t2[i] * b2, 20);
          t1[i] = static_cast<float>(std::nearbyint(std::clamp(v1, 0.0, 1000.0)));
          t2[i] = static_cast<float>(std::nearbyint(std::clamp(v2, 0.0, 1000.0)));
        }
    });
    ph.mrT1.geometry = g;
    ph.mrT1.voxels = std::move(t1);
    ph.mrT2.geometry = g;
    ph.mrT2.voxels = std::move(t2);
  }

  // ---- Outputs ----------------------------------------------------------------------------
  ph.pancreas = ph.organs.binary(LabelPancreas);
  ph.pancreasVolumeMl = ph.pancreas.volumeMl(1);
  const std::string series = "PanSeg demo phantom (synthetic)";
  ph.ct.info.modality = "CT";
  ph.ct.info.pixelType = "int16";
  ph.ct.info.tags["SeriesDescription"] = series + " CT portal venous";
  ph.ct.info.tags["PatientID"] = "PANSEG-DEMO-" + std::to_string(opt.seed);
  ph.ct.info.tags["PatientName"] = "Demo^Phantom";
  if (opt.generateMr)
  {
    for (Image* im : { &ph.mrT1, &ph.mrT2 })
    {
      im->info.modality = "MR";
      im->info.pixelType = "uint16";
      im->info.tags["PatientID"] = ph.ct.info.tags["PatientID"];
      im->info.tags["PatientName"] = "Demo^Phantom";
    }
    ph.mrT1.info.tags["SeriesDescription"] = series + " MR T1W";
    ph.mrT2.info.tags["SeriesDescription"] = series + " MR T2W";
  }

  ph.landmarks.pancreasHead = worldOfRef(A.lmHead);
  ph.landmarks.pancreasNeck = worldOfRef(A.lmNeck);
  ph.landmarks.pancreasTail = worldOfRef(A.lmTail);
  ph.landmarks.portalConfluence = worldOfRef(A.lmConfluence);
  ph.landmarks.duodenum = worldOfRef(A.lmDuodenum);
  ph.landmarks.splenicHilum = worldOfRef(A.lmHilum);
  ph.landmarks.smaOrigin = worldOfRef(A.lmSma);

  ph.description = "Synthetic abdominal phantom (not patient data), seed " + std::to_string(opt.seed) + ", " +
                   std::to_string(nx) + "x" + std::to_string(ny) + "x" + std::to_string(nz) + " voxels of " +
                   fmtNum(g.spacingMm[0], 2) + "x" + fmtNum(g.spacingMm[1], 2) + "x" + fmtNum(g.spacingMm[2], 2) +
                   " mm, pancreas " + fmtNum(ph.pancreasVolumeMl, 1) + " mL";
  return ph;
}

std::string phantomReadme(const Phantom& p)
{
  std::ostringstream o;
  const Geometry& g = p.ct.geometry;
  o << "PanSeg Workstation - synthetic demo study\n"
    << "=========================================\n\n"
    << "These images are SYNTHETIC. They were generated by a program from geometric shapes and\n"
    << "noise; they do not come from any patient. They are NOT FOR CLINICAL USE: not for\n"
    << "diagnosis, treatment planning, or training/validating models for clinical use.\n\n"
    << "Seed:      " << p.seed << " (the same seed always gives the same images)\n"
    << "Geometry:  " << g.describe() << "\n"
    << "Frame:     LPS (x -> patient Left, y -> Posterior, z -> Superior), direction identity\n"
    << "Series:    CT (portal venous phase, Hounsfield units)";
  if (!p.mrT1.voxels.empty())
    o << "; MR T1-weighted and T2-weighted (arbitrary units 0..1000, bias field, Rician noise)";
  o << "\n\nOrgan labels (organs mask):\n";
  for (const auto& [label, name] : organLabelTable())
  {
    const double ml = p.organs.voxels.empty() ? 0.0 : p.organs.volumeMl(label);
    char line[96];
    std::snprintf(line, sizeof line, "  %2d  %-22s %8.1f mL\n", label, name.c_str(), ml);
    o << line;
  }
  o << "\nPancreas ground truth (pancreas mask, 0/1): " << fmtNum(p.pancreasVolumeMl, 1) << " mL\n"
    << "The pancreas has a head in the duodenal C-loop, a neck anterior to the portal confluence,\n"
    << "a body crossing anterior to the SMA and aorta, and a tail reaching the splenic hilum.\n";
  return o.str();
}

} // namespace panseg::demo
