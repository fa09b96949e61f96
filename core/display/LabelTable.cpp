#include "core/display/LabelTable.h"

#include "core/Error.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <tuple>

namespace panseg
{
namespace
{
const LabelCode kAnatomical{ "91723000", "SCT", "Anatomical Structure" };
const LabelCode kTissue{ "85756007", "SCT", "Tissue" };
const LabelCode kAltered{ "49755003", "SCT", "Morphologically Altered Structure" };

std::string lower(std::string s)
{
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// D65 reference white of sRGB.
constexpr double kXn = 0.95047, kYn = 1.0, kZn = 1.08883;

double toLinear(double c) { return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4); }
double toGamma(double c) { return c <= 0.0031308 ? 12.92 * c : 1.055 * std::pow(c, 1.0 / 2.4) - 0.055; }
double labF(double t) { return t > 216.0 / 24389.0 ? std::cbrt(t) : (24389.0 / 27.0 * t + 16.0) / 116.0; }
double labFInv(double f) { return f * f * f > 216.0 / 24389.0 ? f * f * f : (116.0 * f - 16.0) * 27.0 / 24389.0; }
uint8_t clip8(double v) { return static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0)); }
uint16_t clip16(double v) { return static_cast<uint16_t>(std::lround(std::clamp(v, 0.0, 65535.0))); }
} // namespace

std::pair<LabelCode, LabelCode> LabelTable::knownCodes(const std::string& name)
{
  const std::string n = lower(name);
  // The name itself, or the name followed by a qualifier ("Pancreas (head)", "cyst 2").
  auto is = [&n](const char* key)
  {
    const std::string k = key;
    return n == k || (n.size() > k.size() && n.compare(0, k.size(), k) == 0 &&
                      !std::isalpha(static_cast<unsigned char>(n[k.size()])));
  };
  for (const char* k : { "pancreatic tumor", "pancreatic tumour", "pancreatic lesion", "tumor", "tumour", "lesion",
                         "neoplasm" })
    if (is(k))
      return { kAltered, { "108369006", "SCT", "Neoplasm" } };
  for (const char* k : { "pancreatic cyst", "cyst" })
    if (is(k))
      return { kAltered, { "441457006", "SCT", "Cyst" } };
  if (is("pancreas"))
    return { kAnatomical, { "15776009", "SCT", "Pancreas" } };
  return {};
}

LabelInfo LabelTable::defaultLabel(int value)
{
  LabelInfo info;
  info.value = value;
  info.color = LabelColorTable::standard().color(value);
  if (value == 1)
  {
    info.name = "Pancreas";
    std::tie(info.category, info.type) = knownCodes("pancreas");
  }
  else
  {
    info.name = "Label " + std::to_string(value);
    info.category = kTissue;
    info.type = kTissue;
  }
  return info;
}

LabelTable LabelTable::defaults()
{
  LabelTable t;
  t.set(defaultLabel(1));
  return t;
}

LabelInfo LabelTable::label(int value) const
{
  const auto it = m_entries.find(value);
  return it != m_entries.end() ? it->second : defaultLabel(value);
}

bool LabelTable::has(int value) const { return m_entries.count(value) > 0; }

void LabelTable::set(const LabelInfo& info)
{
  if (info.value < 1 || info.value > 255)
    throw Error("label " + std::to_string(info.value) + " is outside 1..255");
  if (info.name.empty())
    throw Error("label " + std::to_string(info.value) + " needs a name");
  LabelInfo stored = info;
  // A label without codes gets those of a structure known by its name, else "tissue": every
  // DICOM SEG segment must carry a category and a type.
  if (stored.category.empty() || stored.type.empty())
  {
    auto [category, type] = knownCodes(stored.name);
    if (category.empty())
      category = type = kTissue;
    if (stored.category.empty())
      stored.category = category;
    if (stored.type.empty())
      stored.type = type;
  }
  m_entries[info.value] = stored;
}

void LabelTable::remove(int value) { m_entries.erase(value); }

std::vector<LabelInfo> LabelTable::entries() const
{
  std::vector<LabelInfo> out;
  out.reserve(m_entries.size());
  for (const auto& [value, info] : m_entries)
    out.push_back(info);
  return out;
}

std::vector<LabelInfo> LabelTable::entriesWith(const std::vector<int>& values) const
{
  std::map<int, LabelInfo> all = m_entries;
  for (int v : values)
    if (v >= 1 && v <= 255 && !all.count(v))
      all[v] = defaultLabel(v);
  std::vector<LabelInfo> out;
  for (const auto& [value, info] : all)
    out.push_back(info);
  return out;
}

int LabelTable::nextFreeValue() const
{
  for (int v = 1; v <= 255; ++v)
    if (!has(v))
      return v;
  return 0;
}

LabelColorTable LabelTable::colors() const
{
  LabelColorTable t = LabelColorTable::standard();
  for (const auto& [value, info] : m_entries)
    t.setColor(value, info.color);
  return t;
}

std::string hexColor(Rgb c)
{
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c.r, c.g, c.b);
  return buf;
}

std::optional<Rgb> parseHexColor(const std::string& text)
{
  std::string s = text;
  if (!s.empty() && s[0] == '#')
    s.erase(0, 1);
  if (s.size() != 6 || !std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
    return std::nullopt;
  const unsigned long v = std::stoul(s, nullptr, 16);
  return Rgb{ static_cast<uint8_t>(v >> 16), static_cast<uint8_t>((v >> 8) & 0xff), static_cast<uint8_t>(v & 0xff) };
}

CieLab rgbToLab(Rgb c)
{
  const double r = toLinear(c.r / 255.0), g = toLinear(c.g / 255.0), b = toLinear(c.b / 255.0);
  const double x = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b;
  const double y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
  const double z = 0.0193339 * r + 0.1191920 * g + 0.9503041 * b;
  const double fx = labF(x / kXn), fy = labF(y / kYn), fz = labF(z / kZn);
  return { 116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz) };
}

Rgb labToRgb(const CieLab& lab)
{
  const double fy = (lab.l + 16.0) / 116.0, fx = fy + lab.a / 500.0, fz = fy - lab.b / 200.0;
  const double x = kXn * labFInv(fx), y = kYn * labFInv(fy), z = kZn * labFInv(fz);
  const double r = 3.2404542 * x - 1.5371385 * y - 0.4985314 * z;
  const double g = -0.9692660 * x + 1.8760108 * y + 0.0415560 * z;
  const double b = 0.0556434 * x - 0.2040259 * y + 1.0572252 * z;
  return { clip8(toGamma(std::clamp(r, 0.0, 1.0))), clip8(toGamma(std::clamp(g, 0.0, 1.0))),
           clip8(toGamma(std::clamp(b, 0.0, 1.0))) };
}

std::array<uint16_t, 3> labToDicom(const CieLab& lab)
{
  return { clip16(lab.l * 65535.0 / 100.0), clip16((lab.a + 128.0) * 65535.0 / 255.0),
           clip16((lab.b + 128.0) * 65535.0 / 255.0) };
}

CieLab dicomToLab(const std::array<uint16_t, 3>& s)
{
  return { s[0] * 100.0 / 65535.0, s[1] * 255.0 / 65535.0 - 128.0, s[2] * 255.0 / 65535.0 - 128.0 };
}

} // namespace panseg
