#pragma once
// Validation of hostile or damaged input before ITK, GDCM, DCMTK or the NIfTI library sees it
// (internal to panseg_io). These libraries abort or segfault on some malformed headers, and
// silently read others wrongly (a truncated file as if whole, a NaN origin as 0, a missing
// spacing as 1 mm). Each check throws panseg::Error with one line naming the file and the
// problem. The rules are listed in core/io/README.md.

#include "core/Geometry.h"

#include <cstdint>
#include <cstdio>
#include <string>

namespace panseg::io
{
/// What a header check learnt beyond "the file is sound".
struct HeaderFacts
{
  bool spacingKnown = true; // false: the file gives no voxel spacing (readers would invent 1 mm)
  std::string spacingNote;  // why, for the message ("NRRD 'space directions: none'")
};

/// NIfTI-1/-2 (.nii, .nii.gz): dimensions, datatype, finite pixdim/qform/sform/scaling, and every
/// byte from vox_offset on that the header promises (decompressed size for .nii.gz).
HeaderFacts checkNifti(const std::string& path);
/// MetaImage (.mha, .mhd): finite positive geometry, data file beside the header, no file lists,
/// every promised byte present (compressed data inflated and counted).
HeaderFacts checkMetaImage(const std::string& path);
/// NRRD (.nrrd, .nhdr): finite origin and directions, known spacing, data file beside the
/// header, every promised byte present.
HeaderFacts checkNrrd(const std::string& path);
/// Dispatches on the extension; formats without a check return default facts.
HeaderFacts checkHeader(const std::string& path);

/// Spacing finite, > 0 and at most 10 m; origin and direction finite; direction not singular.
void checkGeometry(const Geometry& g, const std::string& path);

/// One DICOM file examined with DCMTK before GDCM decodes it. problem is empty when the file can
/// be handed to GDCM: readable to its end, grey-scale (SamplesPerPixel 1), BitsAllocated 8/16/32,
/// Rows/Columns/NumberOfFrames > 0, pixel data as long as the header promises (compressed: all
/// fragments present and the JPEG codestream ends with its end-of-image marker).
struct DicomSliceCheck
{
  std::string problem;
  bool pixelSpacingKnown = true; // PixelSpacing or ImagerPixelSpacing present (also nested)
};
DicomSliceCheck checkDicomSlice(const std::string& path);
/// Whether DCMTK parses `path` as a DICOM file to its end (large values are skipped, not loaded):
/// empty when it does, else the reason. GDCM's header scanner asserts on some cut-off files (a
/// preamble and "DICM" with nothing after them), so a single file goes through this first.
std::string dicomParseProblem(const std::string& path);

/// Sends ITK, GDCM and DCMTK messages to the library log instead of the terminal (once per
/// process). See core/io/README.md: PANSEG_LIBRARY_LOG names a file to append them to,
/// PANSEG_VERBOSE=1 echoes them to stderr.
void routeLibraryMessages();

/// While alive, whatever C code prints straight to stderr (the NIfTI library's "** ERROR: ..."
/// lines) goes to the library log instead of the terminal. fd 2 is process-wide: while one thread
/// captures, a capture started by another thread does nothing (it never waits). Keep the scope to
/// one library call.
class StderrToLibraryLog
{
public:
  StderrToLibraryLog();
  ~StderrToLibraryLog();
  StderrToLibraryLog(const StderrToLibraryLog&) = delete;
  StderrToLibraryLog& operator=(const StderrToLibraryLog&) = delete;

private:
  bool m_owner = false;
  int m_saved = -1;
  std::FILE* m_capture = nullptr;
};
} // namespace panseg::io
