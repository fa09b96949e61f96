#pragma once
// The label table of a mask: what each label value means (name, display colour, and the coded
// concepts DICOM SEG segments carry). Stored per mask version (database/LabelTables.h), used by
// the slice overlays and 3D surfaces, the label picker and DICOM SEG export and import.
// Standard library only.

#include "core/display/LabelColors.h"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace panseg
{
/// A coded concept (DICOM code sequence item), e.g. {"15776009", "SCT", "Pancreas"}.
struct LabelCode
{
  std::string value, scheme, meaning;
  bool empty() const { return value.empty(); }
  bool operator==(const LabelCode& o) const
  {
    return value == o.value && scheme == o.scheme && meaning == o.meaning;
  }
};

/// One label: value 1..255, name, colour, and the SEG segment's category and type codes.
struct LabelInfo
{
  int value = 1;
  std::string name;
  Rgb color;
  LabelCode category; // SegmentedPropertyCategoryCodeSequence
  LabelCode type;     // SegmentedPropertyTypeCodeSequence
  bool operator==(const LabelInfo& o) const
  {
    return value == o.value && name == o.name && color == o.color && category == o.category && type == o.type;
  }
};

/// Label value -> LabelInfo. Values without an entry fall back to `defaultLabel(value)`.
class LabelTable
{
public:
  /// The table of a new mask: 1 = "Pancreas" (amber, SCT 15776009).
  static LabelTable defaults();
  /// What an undeclared value means: 1 = Pancreas, others "Label N" in the palette colour
  /// (core/display/LabelColors.h), coded as tissue.
  static LabelInfo defaultLabel(int value);
  /// Codes of a few structures known by name (pancreas, tumour/tumor/lesion/neoplasm, cyst),
  /// matched without case, also with a qualifier after the name ("Pancreas (head)"); empty codes
  /// when the name is unknown.
  static std::pair<LabelCode, LabelCode> knownCodes(const std::string& name);

  /// The entry of `value`, or its default when the table has none.
  LabelInfo label(int value) const;
  bool has(int value) const;
  /// Adds or replaces. Throws panseg::Error for a value outside 1..255 or an empty name.
  void set(const LabelInfo& info);
  void remove(int value);
  /// Declared entries, ascending value.
  std::vector<LabelInfo> entries() const;
  /// Declared entries plus the defaults of `values` (e.g. the labels present in a mask) that
  /// have none, ascending value: what a label picker offers.
  std::vector<LabelInfo> entriesWith(const std::vector<int>& values) const;
  bool empty() const { return m_entries.empty(); }
  /// The smallest value 1..255 without an entry (0 when all are taken).
  int nextFreeValue() const;
  /// Colours for every value 0..255 (declared ones from the table, others from the palette).
  LabelColorTable colors() const;

  bool operator==(const LabelTable& o) const { return m_entries == o.m_entries; }
  bool operator!=(const LabelTable& o) const { return !(*this == o); }

private:
  std::map<int, LabelInfo> m_entries;
};

/// "#e6a040" (lower case). parseHexColor accepts "#rrggbb" or "rrggbb", any case.
std::string hexColor(Rgb c);
std::optional<Rgb> parseHexColor(const std::string& text);

/// CIE L*a*b* (D65 white, sRGB companding), L in 0..100, a/b about -128..127.
struct CieLab
{
  double l = 0, a = 0, b = 0;
};
CieLab rgbToLab(Rgb c);
Rgb labToRgb(const CieLab& lab); // out-of-gamut values are clipped
/// DICOM's scaled form (RecommendedDisplayCIELabValue, PS3.3 C.10.7.1.1): L 0..100 -> 0..65535,
/// a/b -128..127 -> 0..65535.
std::array<uint16_t, 3> labToDicom(const CieLab& lab);
CieLab dicomToLab(const std::array<uint16_t, 3>& scaled);

} // namespace panseg
