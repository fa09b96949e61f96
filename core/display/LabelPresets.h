#pragma once
// Label-table presets of the label maps research teams bring (TotalSegmentator v1 and v2, MSD
// Task07, NIH Pancreas-CT, PanSeg's own), the rule that recognises one from the values a mask
// holds, where the pancreas is in a table (by its SNOMED code or its name, never by a number),
// and the reduction of a multi-label mask to the pancreas and its lesions. Standard library only.
//
// Recognition rule (detectLabelPreset, on the distinct non-zero values present):
//   nothing or {1}                   -> PanSeg's own (1 = Pancreas; the NIH Pancreas-CT table is the same)
//   {2} or {1, 2}                    -> MSD Task07 (1 = Pancreas, 2 = Pancreatic tumour)
//   largest value 105..117           -> TotalSegmentator v2 "total" (CT, 117 classes; pancreas 7)
//   largest value 51..104            -> TotalSegmentator v1 (2022, 104 classes; pancreas 10)
//   largest value 11..50, >= 8 values -> TotalSegmentator v2 "total_mr" (50 classes; pancreas 7)
//   anything else (e.g. {1, 3}, or a largest value above 117) -> none: the defaults apply
// The TotalSegmentator class names are those of its map_to_binary.py class_map ("total_v1",
// "total", "total_mr"), shown with spaces and a capital ("kidney_right" -> "Kidney right").

#include "core/Volume.h"
#include "core/display/LabelTable.h"

#include <optional>
#include <string>
#include <vector>

namespace panseg
{
enum class LabelPreset
{
  PanSeg,
  NihPancreasCt,
  MsdTask07,
  TotalSegmentatorV1,
  TotalSegmentatorV2,
  TotalSegmentatorV2Mr,
};

/// Every preset, in menu order.
const std::vector<LabelPreset>& allLabelPresets();
/// "panseg", "nih-pancreas-ct", "msd-task07", "totalsegmentator-v1", "totalsegmentator-v2",
/// "totalsegmentator-v2-mr".
std::string to_string(LabelPreset preset);
/// "TotalSegmentator v2 (total, CT)", ...
std::string presetTitle(LabelPreset preset);
std::optional<LabelPreset> parseLabelPreset(const std::string& key);

/// The preset's table (label 0 = background is never in a table).
LabelTable presetLabelTable(LabelPreset preset);
/// The rule above; `values` are the distinct non-zero values present (any order).
std::optional<LabelPreset> detectLabelPreset(const std::vector<int>& values);
/// The table of a mask imported from a file: the recognised preset's, else the defaults.
LabelTable labelTableForValues(const std::vector<int>& values, std::optional<LabelPreset>* detected = nullptr);

/// The pancreas of a table: the smallest declared value whose type is SCT 15776009 or whose
/// name is "pancreas" (any case, also "Pancreas (head)"); 0 when the table names none
/// (LabelTable::defaults() has 1 = Pancreas).
int pancreasLabelOf(const LabelTable& table);
/// Declared values that are pancreatic lesions (neoplasm or cyst types, SCT 108369006 /
/// 441457006, e.g. MSD Task07's "Pancreatic tumour"), ascending.
std::vector<int> pancreaticLesionLabelsOf(const LabelTable& table);

/// True when the table declares a structure other than the pancreas and its lesions (a
/// multi-organ map such as TotalSegmentator's); entries with their default name ("Label 3") do
/// not count.
bool namesOtherStructures(const LabelTable& table);
/// The label a comparison "of the whole mask" should use: the pancreas for a multi-organ table
/// (namesOtherStructures), else 0 (any non-zero label). Reader-study reports with label 0 use it.
int wholeMaskLabelOf(const LabelTable& table);

struct PancreasReduction
{
  LabelMask mask;            // 1 = pancreas, 2.. = the lesions in ascending source value
  LabelTable table;          // their names, colours and codes (from the source table)
  int pancreasFrom = 0;      // the source value of the pancreas
  std::vector<int> lesionsFrom; // source values of the lesions, in output order 2, 3, ...
};
/// Keeps the pancreas (and the pancreatic lesions, where the table has them) of a multi-label
/// mask and clears everything else. Throws panseg::Error when the table names no pancreas
/// (`where` names the mask in the message).
PancreasReduction reduceToPancreas(const LabelMask& mask, const LabelTable& table, const std::string& where = "mask");
} // namespace panseg
