#include "core/display/FileRole.h"

#include "core/Error.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>

namespace panseg
{
namespace
{
std::string lower(std::string s)
{
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}
} // namespace

bool nameSuggestsMask(const std::string& path)
{
  const std::string p = lower(path);
  const size_t slash = p.find_last_of("/\\");
  const std::string name = slash == std::string::npos ? p : p.substr(slash + 1);
  std::string parent;
  if (slash != std::string::npos)
  {
    const std::string dir = p.substr(0, slash);
    const size_t s2 = dir.find_last_of("/\\");
    parent = s2 == std::string::npos ? dir : dir.substr(s2 + 1);
  }
  for (const char* key : {"seg", "mask", "label", "annotation"})
    if (name.find(key) != std::string::npos)
      return true;
  return parent.rfind("labelstr", 0) == 0 || parent.rfind("labelsts", 0) == 0;
}

bool looksLikeLabelMap(const Image& image, int maxDistinct)
{
  if (image.voxels.empty())
    return false;
  std::array<bool, 256> seen{};
  int distinct = 0;
  for (float v : image.voxels)
  {
    if (!(v >= 0.0f && v <= 255.0f) || v != std::floor(v))
      return false;
    bool& s = seen[static_cast<size_t>(v)];
    if (!s)
    {
      s = true;
      if (++distinct > maxDistinct)
        return false;
    }
  }
  return true;
}

LabelMask toLabelMask(const Image& image)
{
  if (!looksLikeLabelMap(image, 256))
    throw Error("not a label map (values must be integers 0..255): " + image.info.sourcePath);
  LabelMask m(image.geometry, 0);
  m.sourcePath = image.info.sourcePath;
  for (size_t i = 0; i < image.voxels.size(); ++i)
    m.voxels[i] = static_cast<uint8_t>(image.voxels[i]);
  return m;
}

} // namespace panseg
