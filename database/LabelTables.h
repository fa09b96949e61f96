#pragma once
// Label tables in the study database and in model packages. The table type is
// core/display/LabelTable.h; here: its stored JSON form (table mask_label_tables, one row per mask
// version, written in the transaction that saves the version and as immutable as it), and the
// label names a model package declares. StudyDatabase::saveMaskVersion stores the table it is
// given, else the parent version's, else (AI versions) the model's, else the defaults;
// StudyDatabase::labelTable reads it back under the blinding rules of maskVersion.
//
// Stored JSON: [{"value": 1, "name": "Pancreas", "color": "#ffa000",
//                "category": {"code": "91723000", "scheme": "SCT", "meaning": "Anatomical Structure"},
//                "type": {"code": "15776009", "scheme": "SCT", "meaning": "Pancreas"}}, ...]
//
// Model packages declare labels in plans.json "classes" ([{"label": 1, "name": "pancreas"}]), in
// the nnU-Net v2 dataset.json kept in plans.json ("dataset_json": {"labels": {"pancreas": 7}}), or,
// as nnU-Net's dataset.json does, in model.json "labels" ({"background": 0, "pancreas": 1});
// model.json may add "label_colors": {"1": "#e6a040"}. Label 0 (background) is left out; a name is
// shown with its first letter upper-case ("pancreas" -> "Pancreas").

#include "core/display/LabelTable.h"

#include <string>

namespace panseg::db
{
std::string labelTableToJson(const LabelTable& table);
/// Throws panseg::Error naming the problem (`where` names the source).
LabelTable labelTableFromJson(const std::string& json, const std::string& where = "label table");

/// The labels a model package declares (see above), and only those (no default "1 = Pancreas"
/// beside a declared pancreas 7); the defaults when it declares none. Throws Error for unreadable
/// or malformed declarations.
LabelTable labelTableOfModelPackage(const std::string& packageDir);
} // namespace panseg::db
