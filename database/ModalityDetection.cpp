#include "database/ModalityDetection.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace panseg::db
{
namespace
{
std::string tag(const ImageInfo& info, const char* name)
{
  const auto it = info.tags.find(name);
  return it == info.tags.end() ? std::string() : it->second;
}

bool weightedWord(const std::string& w, char digit)
{
  // "t1", or "t1" followed by letters ("t1w", "t1c", "t1fs"); not "t10".
  return w.size() >= 2 && w[0] == 't' && w[1] == digit &&
         (w.size() == 2 || std::isalpha(static_cast<unsigned char>(w[2])));
}

/// T1W / T2W from sequence words, nullopt when the words say neither or both.
std::optional<Modality> weightingFromWords(const std::vector<std::string>& words, std::string* word)
{
  static const std::set<std::string> t1{ "vibe", "lava", "thrive", "flash", "mprage" };
  static const std::set<std::string> t2{ "haste", "ssfse", "flair", "stir" };
  bool isT1 = false, isT2 = false;
  for (const auto& w : words)
  {
    if (weightedWord(w, '1') || t1.count(w))
    {
      isT1 = true;
      if (word && !isT2)
        *word = w;
    }
    if (weightedWord(w, '2') || t2.count(w))
    {
      isT2 = true;
      if (word && !isT1)
        *word = w;
    }
  }
  if (isT1 == isT2)
    return std::nullopt;
  return isT1 ? Modality::MriT1w : Modality::MriT2w;
}

bool parseMs(const std::string& s, double* v)
{
  if (s.empty())
    return false;
  char* end = nullptr;
  *v = std::strtod(s.c_str(), &end);
  return end != s.c_str();
}

std::string fmt(double v)
{
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
} // namespace

std::vector<std::string> nameWords(const std::string& text)
{
  std::vector<std::string> out;
  std::string cur;
  for (char c : text)
  {
    if (std::isalnum(static_cast<unsigned char>(c)))
      cur += char(std::tolower(static_cast<unsigned char>(c)));
    else if (!cur.empty())
    {
      out.push_back(cur);
      cur.clear();
    }
  }
  if (!cur.empty())
    out.push_back(cur);
  return out;
}

std::optional<ModalityGuess> modalityFromDicom(const ImageInfo& info)
{
  std::string dicomModality = info.modality;
  if (dicomModality.empty())
    dicomModality = tag(info, "Modality");
  if (dicomModality.empty())
    return std::nullopt;
  ModalityGuess g;
  g.source = "dicom-tags";
  if (dicomModality == "CT")
  {
    g.modality = Modality::CT;
    g.reason = "DICOM Modality CT";
    return g;
  }
  if (dicomModality != "MR")
  {
    g.modality = Modality::Other;
    g.reason = "DICOM Modality " + dicomModality;
    return g;
  }
  std::vector<std::string> words;
  for (const char* t : { "SeriesDescription", "SequenceName", "ProtocolName" })
    for (auto& w : nameWords(tag(info, t)))
      words.push_back(w);
  std::string word;
  if (const auto w = weightingFromWords(words, &word))
  {
    g.modality = *w;
    g.reason = "DICOM Modality MR, sequence word '" + word + "'";
    return g;
  }
  double tr = 0, te = 0;
  if (parseMs(tag(info, "RepetitionTime"), &tr) && parseMs(tag(info, "EchoTime"), &te))
  {
    const std::string trte = "TR " + fmt(tr) + " ms / TE " + fmt(te) + " ms";
    if (tr <= 1000 && te <= 30)
    {
      g.modality = Modality::MriT1w;
      g.reason = "DICOM Modality MR, short " + trte;
      return g;
    }
    if (tr >= 1500 && te >= 60)
    {
      g.modality = Modality::MriT2w;
      g.reason = "DICOM Modality MR, long " + trte;
      return g;
    }
    g.modality = Modality::Mri;
    g.reason = "DICOM Modality MR, " + trte + " is neither T1 nor T2 weighted";
    return g;
  }
  g.modality = Modality::Mri;
  g.reason = "DICOM Modality MR, no sequence words or TR/TE";
  return g;
}

std::optional<ModalityGuess> modalityFromNames(const std::vector<std::string>& hints)
{
  for (const auto& hint : hints)
  {
    const std::vector<std::string> words = nameWords(hint);
    ModalityGuess g;
    g.source = "file-name";
    std::string word;
    if (const auto w = weightingFromWords(words, &word))
    {
      g.modality = *w;
      g.reason = "name '" + hint + "' says " + word;
      return g;
    }
    const bool mr = std::any_of(words.begin(), words.end(),
                                [](const std::string& w) { return w == "mr" || w == "mri" || w == "mrt"; });
    const bool ct = std::find(words.begin(), words.end(), "ct") != words.end();
    if (mr != ct)
    {
      g.modality = mr ? Modality::Mri : Modality::CT;
      g.reason = "name '" + hint + "' says " + (mr ? "MR" : "CT");
      return g;
    }
  }
  return std::nullopt;
}

ModalityGuess detectModality(const ImageInfo& info, const std::vector<std::string>& nameHints, double minIntensity)
{
  if (auto g = modalityFromDicom(info))
    return *g;
  if (auto g = modalityFromNames(nameHints))
    return *g;
  ModalityGuess g;
  if (minIntensity <= -500.0)
  {
    g.modality = Modality::CT;
    g.source = "intensity";
    g.reason = "minimum intensity " + fmt(minIntensity) + " looks like air in Hounsfield units";
    return g;
  }
  g.modality = Modality::Other;
  g.source = "unknown";
  g.reason = "no DICOM tags, no telling name, intensities not in Hounsfield units";
  return g;
}
} // namespace panseg::db
