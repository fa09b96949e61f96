#include "database/ContentHash.h"

#include "core/Error.h"

#include <QCryptographicHash>
#include <QFile>

#include <algorithm>
#include <cmath>
#include <cstdio>

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
  QCryptographicHash h(QCryptographicHash::Sha256);
  const std::string head = std::string(kind) + "\n" + canonicalGeometry(g) + "\n";
  h.addData(QByteArrayView(head.data(), qsizetype(head.size())));
  const char* p = reinterpret_cast<const char*>(voxels.data());
  const size_t total = voxels.size() * sizeof(T);
  // addData takes qsizetype; feed in chunks to stay independent of its width.
  for (size_t off = 0; off < total; off += (size_t(1) << 28))
    h.addData(QByteArrayView(p + off, qsizetype(std::min(total - off, size_t(1) << 28))));
  return h.result().toHex().toStdString();
}
} // namespace

std::string sha256Hex(const std::string& bytes)
{
  return QCryptographicHash::hash(QByteArrayView(bytes.data(), qsizetype(bytes.size())), QCryptographicHash::Sha256)
    .toHex()
    .toStdString();
}

std::string sha256OfFile(const std::string& path)
{
  QFile f(QString::fromStdString(path));
  if (!f.open(QIODevice::ReadOnly))
    throw Error("cannot read " + path + ": " + f.errorString().toStdString());
  QCryptographicHash h(QCryptographicHash::Sha256);
  if (!h.addData(&f))
    throw Error("cannot read " + path + ": " + f.errorString().toStdString());
  return h.result().toHex().toStdString();
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
