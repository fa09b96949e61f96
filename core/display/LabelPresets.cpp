#include "core/display/LabelPresets.h"

#include "core/Error.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <tuple>

namespace panseg
{
namespace
{
// TotalSegmentator's class names (map_to_binary.py class_map), value = index + 1.
const char* const kTotalV1[] = {
  "spleen", "kidney_right", "kidney_left", "gallbladder", "liver", "stomach", "aorta", "inferior_vena_cava",
  "portal_vein_and_splenic_vein", "pancreas", "adrenal_gland_right", "adrenal_gland_left", "lung_upper_lobe_left",
  "lung_lower_lobe_left", "lung_upper_lobe_right", "lung_middle_lobe_right", "lung_lower_lobe_right",
  "vertebrae_L5", "vertebrae_L4", "vertebrae_L3", "vertebrae_L2", "vertebrae_L1", "vertebrae_T12",
  "vertebrae_T11", "vertebrae_T10", "vertebrae_T9", "vertebrae_T8", "vertebrae_T7", "vertebrae_T6",
  "vertebrae_T5", "vertebrae_T4", "vertebrae_T3", "vertebrae_T2", "vertebrae_T1", "vertebrae_C7",
  "vertebrae_C6", "vertebrae_C5", "vertebrae_C4", "vertebrae_C3", "vertebrae_C2", "vertebrae_C1", "esophagus",
  "trachea", "heart_myocardium", "heart_atrium_left", "heart_ventricle_left", "heart_atrium_right",
  "heart_ventricle_right", "pulmonary_artery", "brain", "iliac_artery_left", "iliac_artery_right",
  "iliac_vena_left", "iliac_vena_right", "small_bowel", "duodenum", "colon", "rib_left_1", "rib_left_2",
  "rib_left_3", "rib_left_4", "rib_left_5", "rib_left_6", "rib_left_7", "rib_left_8", "rib_left_9",
  "rib_left_10", "rib_left_11", "rib_left_12", "rib_right_1", "rib_right_2", "rib_right_3", "rib_right_4",
  "rib_right_5", "rib_right_6", "rib_right_7", "rib_right_8", "rib_right_9", "rib_right_10", "rib_right_11",
  "rib_right_12", "humerus_left", "humerus_right", "scapula_left", "scapula_right", "clavicula_left",
  "clavicula_right", "femur_left", "femur_right", "hip_left", "hip_right", "sacrum", "face",
  "gluteus_maximus_left", "gluteus_maximus_right", "gluteus_medius_left", "gluteus_medius_right",
  "gluteus_minimus_left", "gluteus_minimus_right", "autochthon_left", "autochthon_right", "iliopsoas_left",
  "iliopsoas_right", "urinary_bladder"
};

const char* const kTotalV2[] = {
  "spleen", "kidney_right", "kidney_left", "gallbladder", "liver", "stomach", "pancreas", "adrenal_gland_right",
  "adrenal_gland_left", "lung_upper_lobe_left", "lung_lower_lobe_left", "lung_upper_lobe_right",
  "lung_middle_lobe_right", "lung_lower_lobe_right", "esophagus", "trachea", "thyroid_gland", "small_bowel",
  "duodenum", "colon", "urinary_bladder", "prostate", "kidney_cyst_left", "kidney_cyst_right", "sacrum",
  "vertebrae_S1", "vertebrae_L5", "vertebrae_L4", "vertebrae_L3", "vertebrae_L2", "vertebrae_L1",
  "vertebrae_T12", "vertebrae_T11", "vertebrae_T10", "vertebrae_T9", "vertebrae_T8", "vertebrae_T7",
  "vertebrae_T6", "vertebrae_T5", "vertebrae_T4", "vertebrae_T3", "vertebrae_T2", "vertebrae_T1",
  "vertebrae_C7", "vertebrae_C6", "vertebrae_C5", "vertebrae_C4", "vertebrae_C3", "vertebrae_C2",
  "vertebrae_C1", "heart", "aorta", "pulmonary_vein", "brachiocephalic_trunk", "subclavian_artery_right",
  "subclavian_artery_left", "common_carotid_artery_right", "common_carotid_artery_left",
  "brachiocephalic_vein_left", "brachiocephalic_vein_right", "atrial_appendage_left", "superior_vena_cava",
  "inferior_vena_cava", "portal_vein_and_splenic_vein", "iliac_artery_left", "iliac_artery_right",
  "iliac_vena_left", "iliac_vena_right", "humerus_left", "humerus_right", "scapula_left", "scapula_right",
  "clavicula_left", "clavicula_right", "femur_left", "femur_right", "hip_left", "hip_right", "spinal_cord",
  "gluteus_maximus_left", "gluteus_maximus_right", "gluteus_medius_left", "gluteus_medius_right",
  "gluteus_minimus_left", "gluteus_minimus_right", "autochthon_left", "autochthon_right", "iliopsoas_left",
  "iliopsoas_right", "brain", "skull", "rib_left_1", "rib_left_2", "rib_left_3", "rib_left_4", "rib_left_5",
  "rib_left_6", "rib_left_7", "rib_left_8", "rib_left_9", "rib_left_10", "rib_left_11", "rib_left_12",
  "rib_right_1", "rib_right_2", "rib_right_3", "rib_right_4", "rib_right_5", "rib_right_6", "rib_right_7",
  "rib_right_8", "rib_right_9", "rib_right_10", "rib_right_11", "rib_right_12", "sternum", "costal_cartilages"
};

const char* const kTotalV2Mr[] = {
  "spleen", "kidney_right", "kidney_left", "gallbladder", "liver", "stomach", "pancreas", "adrenal_gland_right",
  "adrenal_gland_left", "lung_left", "lung_right", "esophagus", "small_bowel", "duodenum", "colon",
  "urinary_bladder", "prostate", "sacrum", "vertebrae", "intervertebral_discs", "spinal_cord", "heart", "aorta",
  "inferior_vena_cava", "portal_vein_and_splenic_vein", "iliac_artery_left", "iliac_artery_right",
  "iliac_vena_left", "iliac_vena_right", "humerus_left", "humerus_right", "scapula_left", "scapula_right",
  "clavicula_left", "clavicula_right", "femur_left", "femur_right", "hip_left", "hip_right",
  "gluteus_maximus_left", "gluteus_maximus_right", "gluteus_medius_left", "gluteus_medius_right",
  "gluteus_minimus_left", "gluteus_minimus_right", "autochthon_left", "autochthon_right", "iliopsoas_left",
  "iliopsoas_right", "brain"
};

/// "kidney_right" -> "Kidney right"; vertebra names keep their capitals ("Vertebrae L5").
std::string displayName(const std::string& key)
{
  std::string s = key;
  std::replace(s.begin(), s.end(), '_', ' ');
  if (!s.empty())
    s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

template <size_t N>
LabelTable tableOf(const char* const (&names)[N])
{
  LabelTable t;
  for (size_t i = 0; i < N; ++i)
  {
    LabelInfo info = LabelTable::defaultLabel(int(i) + 1);
    info.name = displayName(names[i]);
    std::tie(info.category, info.type) = LabelTable::knownCodes(info.name);
    t.set(info);
  }
  return t;
}

bool isPancreas(const LabelInfo& l)
{
  return l.type.value == "15776009" || LabelTable::knownCodes(l.name).second.value == "15776009";
}

bool isLesion(const LabelInfo& l)
{
  for (const char* code : { "108369006", "441457006" })
    if (l.type.value == code || LabelTable::knownCodes(l.name).second.value == code)
      return true;
  return false;
}
} // namespace

const std::vector<LabelPreset>& allLabelPresets()
{
  static const std::vector<LabelPreset> all{ LabelPreset::PanSeg,
                                             LabelPreset::NihPancreasCt,
                                             LabelPreset::MsdTask07,
                                             LabelPreset::TotalSegmentatorV1,
                                             LabelPreset::TotalSegmentatorV2,
                                             LabelPreset::TotalSegmentatorV2Mr };
  return all;
}

std::string to_string(LabelPreset preset)
{
  switch (preset)
  {
  case LabelPreset::PanSeg:
    return "panseg";
  case LabelPreset::NihPancreasCt:
    return "nih-pancreas-ct";
  case LabelPreset::MsdTask07:
    return "msd-task07";
  case LabelPreset::TotalSegmentatorV1:
    return "totalsegmentator-v1";
  case LabelPreset::TotalSegmentatorV2:
    return "totalsegmentator-v2";
  case LabelPreset::TotalSegmentatorV2Mr:
    return "totalsegmentator-v2-mr";
  }
  return "panseg";
}

std::string presetTitle(LabelPreset preset)
{
  switch (preset)
  {
  case LabelPreset::PanSeg:
    return "PanSeg (1 pancreas)";
  case LabelPreset::NihPancreasCt:
    return "NIH Pancreas-CT (1 pancreas)";
  case LabelPreset::MsdTask07:
    return "MSD Task07 Pancreas (1 pancreas, 2 tumour)";
  case LabelPreset::TotalSegmentatorV1:
    return "TotalSegmentator v1 (104 classes, pancreas 10)";
  case LabelPreset::TotalSegmentatorV2:
    return "TotalSegmentator v2 total, CT (117 classes, pancreas 7)";
  case LabelPreset::TotalSegmentatorV2Mr:
    return "TotalSegmentator v2 total_mr (50 classes, pancreas 7)";
  }
  return {};
}

std::optional<LabelPreset> parseLabelPreset(const std::string& key)
{
  for (LabelPreset p : allLabelPresets())
    if (to_string(p) == key)
      return p;
  return std::nullopt;
}

LabelTable presetLabelTable(LabelPreset preset)
{
  switch (preset)
  {
  case LabelPreset::PanSeg:
  case LabelPreset::NihPancreasCt:
    return LabelTable::defaults();
  case LabelPreset::MsdTask07:
  {
    LabelTable t = LabelTable::defaults();
    LabelInfo tumour = LabelTable::defaultLabel(2);
    tumour.name = "Pancreatic tumour";
    std::tie(tumour.category, tumour.type) = LabelTable::knownCodes(tumour.name);
    t.set(tumour);
    return t;
  }
  case LabelPreset::TotalSegmentatorV1:
    return tableOf(kTotalV1);
  case LabelPreset::TotalSegmentatorV2:
    return tableOf(kTotalV2);
  case LabelPreset::TotalSegmentatorV2Mr:
    return tableOf(kTotalV2Mr);
  }
  return LabelTable::defaults();
}

std::optional<LabelPreset> detectLabelPreset(const std::vector<int>& values)
{
  const std::set<int> present(values.begin(), values.end());
  std::set<int> nonZero;
  for (int v : present)
    if (v != 0)
      nonZero.insert(v);
  if (nonZero.empty() || nonZero == std::set<int>{ 1 })
    return LabelPreset::PanSeg;
  if (nonZero == std::set<int>{ 2 } || nonZero == std::set<int>{ 1, 2 })
    return LabelPreset::MsdTask07;
  const int largest = *nonZero.rbegin();
  if (largest >= 105 && largest <= 117)
    return LabelPreset::TotalSegmentatorV2;
  if (largest >= 51 && largest <= 104)
    return LabelPreset::TotalSegmentatorV1;
  // A total_mr map holds many structures (the real example 23, up to 49); a few low values such as
  // {1, 2, 3} are more likely a pancreas / tumour / cyst map, which keeps the defaults.
  if (largest >= 11 && largest <= 50 && nonZero.size() >= 8)
    return LabelPreset::TotalSegmentatorV2Mr;
  return std::nullopt;
}

LabelTable labelTableForValues(const std::vector<int>& values, std::optional<LabelPreset>* detected)
{
  const auto preset = detectLabelPreset(values);
  if (detected)
    *detected = preset;
  return preset ? presetLabelTable(*preset) : LabelTable::defaults();
}

int pancreasLabelOf(const LabelTable& table)
{
  for (const LabelInfo& l : table.entries()) // ascending value
    if (isPancreas(l))
      return l.value;
  return 0;
}

std::vector<int> pancreaticLesionLabelsOf(const LabelTable& table)
{
  std::vector<int> out;
  for (const LabelInfo& l : table.entries())
    if (isLesion(l) && !isPancreas(l))
      out.push_back(l.value);
  return out;
}

bool namesOtherStructures(const LabelTable& table)
{
  for (const LabelInfo& l : table.entries())
    if (!isPancreas(l) && !isLesion(l) && l.name != LabelTable::defaultLabel(l.value).name)
      return true;
  return false;
}

int wholeMaskLabelOf(const LabelTable& table)
{
  return namesOtherStructures(table) ? pancreasLabelOf(table) : 0;
}

PancreasReduction reduceToPancreas(const LabelMask& mask, const LabelTable& table, const std::string& where)
{
  PancreasReduction r;
  r.pancreasFrom = pancreasLabelOf(table);
  if (r.pancreasFrom == 0)
    throw Error(where + ": its label table names no pancreas (no label named \"pancreas\" or coded SCT 15776009)");
  r.lesionsFrom = pancreaticLesionLabelsOf(table);
  if (r.lesionsFrom.size() > 254)
    r.lesionsFrom.resize(254);
  uint8_t lut[256] = {};
  lut[r.pancreasFrom] = 1;
  LabelInfo pancreas = table.label(r.pancreasFrom);
  pancreas.value = 1;
  r.table.set(pancreas);
  for (size_t i = 0; i < r.lesionsFrom.size(); ++i)
  {
    const int to = int(i) + 2;
    lut[r.lesionsFrom[i]] = uint8_t(to);
    LabelInfo lesion = table.label(r.lesionsFrom[i]);
    lesion.value = to;
    r.table.set(lesion);
  }
  r.mask = mask;
  for (uint8_t& v : r.mask.voxels)
    v = lut[v];
  return r;
}
} // namespace panseg
