#pragma once
// A small CT-like volume for viewer tests: air around an elliptic body of soft tissue with a
// bright sphere (label 1) off-centre. Anisotropic voxels so aspect handling shows.

#include "core/Volume.h"

#include <cmath>

namespace synthetic
{
struct Sphere
{
  double cx, cy, cz, radiusMm;
};

inline panseg::Geometry ctGeometry()
{
  panseg::Geometry g;
  g.size = {64, 56, 40};
  g.spacingMm = {0.8, 0.8, 2.0};
  g.originMm = {-25.0, -20.0, 100.0};
  return g;
}

/// Sphere of label 1, in voxel index coordinates (centre) and mm (radius).
inline Sphere sphere()
{
  return {40.0, 24.0, 22.0, 7.0};
}

inline bool inSphere(const panseg::Geometry& g, int64_t x, int64_t y, int64_t z)
{
  const Sphere s = sphere();
  const double dx = (x - s.cx) * g.spacingMm[0], dy = (y - s.cy) * g.spacingMm[1],
               dz = (z - s.cz) * g.spacingMm[2];
  return dx * dx + dy * dy + dz * dz <= s.radiusMm * s.radiusMm;
}

inline bool inBody(const panseg::Geometry& g, int64_t x, int64_t y)
{
  const double ex = (x - (g.size[0] - 1) / 2.0) / (g.size[0] * 0.42);
  const double ey = (y - (g.size[1] - 1) / 2.0) / (g.size[1] * 0.40);
  return ex * ex + ey * ey <= 1.0;
}

inline panseg::Image ct(const panseg::Geometry& g = ctGeometry())
{
  panseg::Image img(g, -1000.0f);
  img.info.modality = "CT";
  img.info.sourcePath = "synthetic_ct";
  for (int64_t z = 0; z < g.size[2]; ++z)
    for (int64_t y = 0; y < g.size[1]; ++y)
      for (int64_t x = 0; x < g.size[0]; ++x)
      {
        float v = -1000.0f;
        if (inBody(g, x, y))
          v = 30.0f + static_cast<float>(((x * 7 + y * 13 + z * 5) % 11) - 5); // soft tissue
        if (inSphere(g, x, y, z))
          v = 150.0f;
        img.at(x, y, z) = v;
      }
  return img;
}

inline panseg::LabelMask mask(const panseg::Geometry& g = ctGeometry())
{
  panseg::LabelMask m(g, 0);
  m.sourcePath = "synthetic_mask";
  for (int64_t z = 0; z < g.size[2]; ++z)
    for (int64_t y = 0; y < g.size[1]; ++y)
      for (int64_t x = 0; x < g.size[0]; ++x)
        if (inSphere(g, x, y, z))
          m.at(x, y, z) = 1;
  return m;
}

} // namespace synthetic
