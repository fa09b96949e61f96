#include "database/ContentHash.h"

#include "core/Error.h"
#include "core/Sha256.h"

#include <QFile>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace panseg::db
{
namespace
{
// Rounds and prints so that -0.0 and 0.0 (and float/double renderings of one value) agree.
std::string num(double v, int decimals)
{
  const double scale = std::pow(10.0, decimals);
  double r = std::round(v * scale) / scale;
  if (r == 0.0)
    r = 0.0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, r);
  return buf;
}

template <typename T> std::string contentHash(const char* kind, const Geometry& g, const std::vector<T>& voxels)
{
  // core/Sha256 (the processor's SHA instructions where it has them: a 512x512x300 mask hashes
  // in about a tenth of the time of a portable implementation; `panseg bench db`).
  Sha256 h;
  const std::string head = std::string(kind) + "\n" + canonicalGeometry(g) + "\n";
  h.update(head.data(), head.size());
  h.update(voxels.data(), voxels.size() * sizeof(T));
  return h.hexDigest();
}
} // namespace

std::string sha256Hex(const std::string& bytes)
{
  return panseg::sha256Hex(bytes);
}

std::string sha256OfFile(const std::string& path)
{
  QFile f(QString::fromStdString(path));
  if (!f.open(QIODevice::ReadOnly))
    throw Error("cannot read " + path + ": " + f.errorString().toStdString());
  Sha256 h;
  std::vector<char> buf(size_t(1) << 20);
  for (;;)
  {
    const qint64 n = f.read(buf.data(), qint64(buf.size()));
    if (n < 0)
      throw Error("cannot read " + path + ": " + f.errorString().toStdString());
    if (n == 0)
      break;
    h.update(buf.data(), size_t(n));
  }
  return h.hexDigest();
}

std::string canonicalGeometry(const Geometry& g)
{
  std::string s = "size " + std::to_string(g.size[0]) + " " + std::to_string(g.size[1]) + " " +
                  std::to_string(g.size[2]) + "; spacing";
  for (double v : g.spacingMm)
    s += " " + num(v, 6);
  s += "; origin";
  for (double v : g.originMm)
    s += " " + num(v, 4);
  s += "; direction";
  for (double v : g.direction)
    s += " " + num(v, 6);
  return s;
}

std::string imageContentHash(const Image& image) { return contentHash("panseg-image-v1", image.geometry, image.voxels); }

std::string maskContentHash(const LabelMask& mask) { return contentHash("panseg-mask-v1", mask.geometry, mask.voxels); }
} // namespace panseg::db
