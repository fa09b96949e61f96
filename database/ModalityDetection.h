#pragma once
// Which kind of scan a series is, from what the import has: DICOM tags, file and folder names,
// intensities. The result is a best guess with its reason; users correct it in the browser
// (StudyDatabase::setSeriesModality), and the correction is recorded as source "user".
//
// Rules, first match wins:
//  1. DICOM Modality (0008,0060) "CT" -> CT. "MR" -> MRI, then the weighting:
//     a. words in SeriesDescription / SequenceName (and ProtocolName when the reader kept it):
//        t1 or t1 followed by letters (t1w, t1c, t1fs), vibe, lava, thrive, flash, mprage -> T1W;
//        t2 or t2 followed by letters (t2w, t2fs), haste, ssfse, flair, stir -> T2W;
//     b. otherwise RepetitionTime / EchoTime: TR <= 1000 ms and TE <= 30 ms -> T1W,
//        TR >= 1500 ms and TE >= 60 ms -> T2W (classic spin-echo weighting);
//     c. otherwise MRI (weighting unknown). Other DICOM modalities -> other.
//  2. Names (file name, then the two enclosing folders; nnU-Net dataset.json channel names are
//     passed in as hints): the T1/T2 words of 1a, then mr/mri/mrt -> MRI, ct -> CT. A name that
//     says both CT and MR is ignored.
//     "Words" are split at anything not a letter or digit, so "example_ct_sm" says CT and
//     "contrast" does not.
//  3. Intensities: minimum <= -500 (air in Hounsfield units) -> CT.
//  4. Otherwise other, source "unknown".

#include "core/Volume.h"
#include "database/Records.h"

#include <string>
#include <vector>

namespace panseg::db
{
struct ModalityGuess
{
  Modality modality = Modality::Other;
  std::string source; // "dicom-tags", "file-name", "intensity", "unknown"
  std::string reason; // e.g. "DICOM Modality MR, TR 4.5 ms / TE 2.1 ms"
};

/// From the tags the reader kept (info.modality and info.tags); nullopt when info carries no
/// DICOM Modality.
std::optional<ModalityGuess> modalityFromDicom(const ImageInfo& info);
/// From names or other free text (file names, folder names, channel names).
std::optional<ModalityGuess> modalityFromNames(const std::vector<std::string>& hints);

/// All rules in order. `minIntensity` is the image's minimum voxel value.
ModalityGuess detectModality(const ImageInfo& info, const std::vector<std::string>& nameHints, double minIntensity);

/// Lower-case words of a name ("T2W_TSE-axial" -> t2w tse axial).
std::vector<std::string> nameWords(const std::string& text);
} // namespace panseg::db
