#include "core/edit/RecoveryFile.h"

#include "core/AtomicFile.h"
#include "core/Error.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

namespace panseg::edit
{
namespace
{
const char kMagic[] = "PANSEG-RECOVERY 1\n";

template <typename T> void put(std::string& out, const T& v)
{
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

void putString(std::string& out, const std::string& s)
{
  put(out, static_cast<uint64_t>(s.size()));
  out += s;
}

struct Reader
{
  const std::string& bytes;
  const std::string& path;
  size_t pos = 0;
  template <typename T> T get()
  {
    if (pos + sizeof(T) > bytes.size())
      throw Error(path + ": recovery file is truncated");
    T v;
    std::memcpy(&v, bytes.data() + pos, sizeof v);
    pos += sizeof v;
    return v;
  }
  std::string getString()
  {
    const uint64_t n = get<uint64_t>();
    if (n > bytes.size() - pos)
      throw Error(path + ": recovery file is truncated");
    std::string s = bytes.substr(pos, static_cast<size_t>(n));
    pos += static_cast<size_t>(n);
    return s;
  }
};
} // namespace

void writeRecoveryFile(const std::string& path, const Recovery& r)
{
  const Geometry& g = r.mask.geometry;
  if (r.mask.voxels.size() != static_cast<size_t>(g.voxelCount()))
    throw Error("cannot write recovery file " + path +
                ": mask voxel count does not match its grid");
  std::string out(kMagic);
  putString(out, r.imagePath);
  putString(out, r.note);
  put(out, r.savedAtMs);
  for (int64_t s : g.size)
    put(out, s);
  for (double v : g.spacingMm)
    put(out, v);
  for (double v : g.originMm)
    put(out, v);
  for (double v : g.direction)
    put(out, v);
  // Runs of (value, length).
  const std::vector<uint8_t>& vox = r.mask.voxels;
  uint64_t runs = 0;
  std::string body;
  for (size_t i = 0; i < vox.size();)
  {
    size_t j = i;
    while (j < vox.size() && vox[j] == vox[i] && j - i < UINT32_MAX)
      ++j;
    put(body, vox[i]);
    put(body, static_cast<uint32_t>(j - i));
    ++runs;
    i = j;
  }
  put(out, runs);
  out += body;
  writeFileAtomically(path, out);
}

Recovery readRecoveryFile(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(path + ": cannot open recovery file");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.compare(0, sizeof kMagic - 1, kMagic) != 0)
    throw Error(path + ": not a PanSeg recovery file");
  Reader rd{bytes, path, sizeof kMagic - 1};
  Recovery r;
  r.imagePath = rd.getString();
  r.note = rd.getString();
  r.savedAtMs = rd.get<int64_t>();
  Geometry g;
  for (int64_t& s : g.size)
    s = rd.get<int64_t>();
  for (double& v : g.spacingMm)
    v = rd.get<double>();
  for (double& v : g.originMm)
    v = rd.get<double>();
  for (double& v : g.direction)
    v = rd.get<double>();
  if (g.size[0] <= 0 || g.size[1] <= 0 || g.size[2] <= 0 || g.voxelCount() > (int64_t{1} << 36))
    throw Error(path + ": recovery file has an invalid grid size");
  r.mask = LabelMask(g, 0);
  const uint64_t runs = rd.get<uint64_t>();
  size_t at = 0;
  for (uint64_t k = 0; k < runs; ++k)
  {
    const uint8_t v = rd.get<uint8_t>();
    const uint32_t n = rd.get<uint32_t>();
    if (n > r.mask.voxels.size() - at)
      throw Error(path + ": recovery file holds more voxels than its grid");
    std::memset(r.mask.voxels.data() + at, v, n);
    at += n;
  }
  if (at != r.mask.voxels.size())
    throw Error(path + ": recovery file holds " + std::to_string(at) + " of " +
                std::to_string(r.mask.voxels.size()) + " voxels (truncated)");
  return r;
}
} // namespace panseg::edit
