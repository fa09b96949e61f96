#pragma once
// DICOM Segmentation (SEG) export and import through DCMTK's dcmseg. No DCMTK type leaves this
// module. Geometry: frames are matched to voxels by their physical position (ImagePositionPatient,
// ImageOrientationPatient, PixelSpacing), so a mask stored with flipped or permuted axes (e.g. a
// LAS NIfTI of a DICOM series) maps onto the right source instance. Failures throw panseg::Error.

#include "core/Volume.h"
#include "core/display/LabelTable.h"

#include <optional>
#include <string>
#include <vector>

namespace panseg
{
/// One exported segment: which mask label it comes from and how it is coded.
struct SegSegmentSpec
{
  int label = 1;                     // mask value exported as this segment
  std::string name = "Pancreas";     // SegmentLabel
  std::string typeCode = "15776009"; // SegmentedPropertyTypeCodeSequence (SNOMED CT)
  std::string typeScheme = "SCT";
  std::string typeMeaning = "Pancreas";
  std::string categoryCode = "91723000"; // SegmentedPropertyCategoryCodeSequence
  std::string categoryScheme = "SCT";
  std::string categoryMeaning = "Anatomical Structure";
  /// RecommendedDisplayCIELabValue (converted from RGB); unset = the palette colour of `label`.
  std::optional<Rgb> color;
};

/// The segment of one label of a label table: its name, codes and colour.
SegSegmentSpec segmentSpecOf(const LabelInfo& label);
/// One segment per label value in `labels` (those present in a mask), described by `table`.
std::vector<SegSegmentSpec> segmentSpecsOf(const LabelTable& table, const std::vector<int>& labels);

struct SegExportOptions
{
  /// Segments to write; empty = one "Pancreas" segment per non-zero label present (label n ->
  /// segment n).
  std::vector<SegSegmentSpec> segments;
  /// Empty algorithmName = MANUAL; otherwise AUTOMATIC with this name and version (AI masks).
  std::string algorithmName;
  std::string algorithmVersion;
  std::string seriesDescription = "PanSeg segmentation";
  std::string contentCreator; // ContentCreatorName (PN), e.g. "Doe^Jane"; may be empty
  std::string contentLabel = "PANCREAS";
  std::string softwareVersion = "0.1.0";
  /// De-identify the written SEG (core/io/Deidentify) keyed by this salt; use the salt the series
  /// was de-identified with so UIDs, pseudonym and dates match. Empty salt = no de-identification.
  std::string deidentifySalt;
};

struct SegExportReport
{
  int frames = 0;
  int segments = 0;
  int64_t voxels = 0; // non-zero voxels written (summed over segments)
  std::string sopInstanceUid;
  std::string frameOfReferenceUid;
};

/// Writes `mask` as a BINARY DICOM SEG referencing the DICOM series in `sourceFolder` (a folder, or
/// one file of it). One frame per (segment, slice) that contains the segment; empty slices are left
/// out. Every non-zero voxel must fall on a source instance, else Error. Written atomically.
SegExportReport exportDicomSeg(const LabelMask& mask, const std::string& sourceFolder,
                               const SegExportOptions& options, const std::string& outPath);

/// Which segments an imported SEG held (segment number = label in the returned mask).
struct SegSegmentInfo
{
  int number = 0;
  std::string label;
  std::string typeCode;      // e.g. "15776009"
  std::string typeScheme;    // e.g. "SCT"
  std::string typeMeaning;   // e.g. "Pancreas"
  std::string categoryCode, categoryScheme, categoryMeaning;
  std::optional<Rgb> color;  // from RecommendedDisplayCIELabValue, when present
  std::string algorithmType; // MANUAL / SEMIAUTOMATIC / AUTOMATIC
  int64_t voxels = 0;        // set voxels of this segment (before overlap resolution)
};

struct SegImportResult
{
  LabelMask mask;
  std::vector<SegSegmentInfo> segments;
  std::string segmentationType; // BINARY or FRACTIONAL
  std::string transferSyntax;
  std::string frameOfReferenceUid;
  int frames = 0;
  int64_t overlapVoxels = 0; // voxels claimed by several segments (the highest segment number wins)
  /// The segments as a label table (segment number = label value; name, codes, colour; a
  /// segment without a colour gets the palette's).
  LabelTable labelTable() const;
};

/// Reads a DICOM SEG onto `reference` (the grid of its source series). Frames are placed by their
/// plane position; a frame that is not on the grid throws Error. FRACTIONAL frames are thresholded
/// at 50 % of MaximumFractionalValue. Segment numbers must be 1..255.
SegImportResult importDicomSeg(const std::string& path, const Geometry& reference);

/// Reads a DICOM SEG on a grid derived from the SEG itself (its frames' positions, orientation and
/// pixel spacing; slices between the first and last frame included).
SegImportResult importDicomSeg(const std::string& path);

/// True when the file is a DICOM object whose SOP class is Segmentation Storage.
bool isDicomSegFile(const std::string& path);

} // namespace panseg
