#pragma once
// Reading and writing images and masks. ITK does the work; no ITK type leaves this module.
// Every failure throws panseg::Error with a one-line message naming the file and the problem.

#include "core/Volume.h"

#include <functional>
#include <string>
#include <vector>

namespace panseg
{
/// Progress callback: fraction in [0,1]; return false to cancel (throws Error "cancelled").
using ProgressFn = std::function<bool(double)>;

/// What a reader may accept beyond a sound, complete file (both off by default: refused).
struct ReadOptions
{
  /// DICOM: read a series although some of its slices are unreadable (or a DICOM file in its
  /// folder cannot be read); the bad slices are left out and info.warnings names them.
  bool acceptGaps = false;
  /// Read an image whose file gives no voxel spacing (DICOM without PixelSpacing, NRRD without
  /// space directions/spacings): the geometry shows 1 mm, info.spacingKnown is false and
  /// info.spacingNote says why. Otherwise such an image is refused.
  bool allowUnknownSpacing = false;
};

/// Reads NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr), MetaImage (.mha, .mhd) or a DICOM series
/// (path = folder or one file of the series). Intensities are converted to float32
/// (DICOM rescale slope/intercept applied). Damaged or hostile files are refused with one line
/// (core/io/README.md lists the rules): every byte the header promises must be there, geometry
/// must be finite, a DICOM series must have no unreadable slice.
Image readImage(const std::string& path, const ProgressFn& progress = {}, const ReadOptions& options = {});

/// Reads a label map of any integer or float pixel type; values must be integers in 0..255.
/// A mask whose file gives no spacing is refused (its volume would be wrong).
LabelMask readMask(const std::string& path);

/// Reads a mask and checks it lies on `reference`'s grid; throws Error naming the difference.
LabelMask readMaskFor(const std::string& path, const Geometry& reference);

/// Writes by extension (.nii, .nii.gz, .nrrd, .mha, .mhd) atomically (temp file + rename).
void writeImage(const Image& image, const std::string& path);
void writeMask(const LabelMask& mask, const std::string& path);

/// True when the path looks like something readImage accepts (extension or folder).
bool looksLikeImagePath(const std::string& path);

/// DICOM series found under a folder (not recursive), for choosing one when there are several.
struct DicomSeriesEntry
{
  std::string id;          // series key used for grouping
  std::string description; // SeriesDescription / modality / number of files
  std::vector<std::string> files;
};
std::vector<DicomSeriesEntry> listDicomSeries(const std::string& folder);

} // namespace panseg
