#include "core/display/ImageAnnotations.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace panseg
{
namespace
{
std::string trimmed(std::string s)
{
  auto blank = [](unsigned char c) { return std::isspace(c) || c == '\0'; };
  while (!s.empty() && blank(static_cast<unsigned char>(s.back())))
    s.pop_back();
  size_t i = 0;
  while (i < s.size() && blank(static_cast<unsigned char>(s[i])))
    ++i;
  return s.substr(i);
}

bool allDigits(const std::string& s)
{
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string tag(const ImageInfo& info, const char* name)
{
  const auto it = info.tags.find(name);
  return it == info.tags.end() ? std::string() : trimmed(it->second);
}

std::string joined(const std::vector<std::string>& parts, const std::string& separator)
{
  std::string out;
  for (const std::string& p : parts)
    if (!p.empty())
      out += (out.empty() ? "" : separator) + p;
  return out;
}

std::string fileName(const std::string& path)
{
  std::string p = path;
  while (p.size() > 1 && p.back() == '/')
    p.pop_back();
  const size_t slash = p.find_last_of('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}
} // namespace

std::string formatPersonName(const std::string& dicomName)
{
  std::string name = trimmed(dicomName.substr(0, dicomName.find('=')));
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;)
  {
    const size_t caret = name.find('^', start);
    parts.push_back(trimmed(name.substr(start, caret == std::string::npos ? std::string::npos : caret - start)));
    if (caret == std::string::npos)
      break;
    start = caret + 1;
  }
  const std::string family = parts.empty() ? std::string() : parts[0];
  const std::string rest = joined(std::vector<std::string>(parts.begin() + (parts.empty() ? 0 : 1), parts.end()), " ");
  if (family.empty())
    return rest;
  return rest.empty() ? family : family + ", " + rest;
}

std::string formatDicomDate(const std::string& da)
{
  const std::string d = trimmed(da);
  if (d.size() == 8 && allDigits(d))
    return d.substr(0, 4) + "-" + d.substr(4, 2) + "-" + d.substr(6, 2);
  return d;
}

std::string formatDicomTime(const std::string& tm)
{
  std::string t = trimmed(tm);
  t.erase(std::remove(t.begin(), t.end(), ':'), t.end());
  const std::string whole = t.substr(0, t.find('.'));
  if (whole.size() >= 4 && allDigits(whole))
    return whole.substr(0, 2) + ":" + whole.substr(2, 2);
  return trimmed(tm);
}

ImageAnnotations imageAnnotations(const ImageInfo& info)
{
  ImageAnnotations a;
  a.patientName = formatPersonName(tag(info, "PatientName"));
  const std::string id = tag(info, "PatientID");
  a.patientId = id.empty() ? std::string() : "ID " + id;
  a.study = joined({joined({formatDicomDate(tag(info, "StudyDate")), formatDicomTime(tag(info, "StudyTime"))}, " "),
                    tag(info, "StudyDescription")},
                   "  ");
  const std::string number = tag(info, "SeriesNumber");
  const std::string description = tag(info, "SeriesDescription");
  std::string series = number.empty() ? description
                                      : "Series " + number + (description.empty() ? "" : ": " + description);
  if (series.empty() && info.format != "DICOM" && !info.sourcePath.empty())
    series = fileName(info.sourcePath);
  a.series = joined({series, trimmed(info.modality)}, "  ");
  return a;
}
} // namespace panseg
