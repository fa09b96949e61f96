#pragma once
// Small helpers shared by the DCMTK-based files of panseg_io (DicomSeg, Deidentify). Internal
// header.

#include <string>

namespace panseg
{
/// `s` without leading/trailing spaces and NULs (DICOM pads strings).
std::string trimmed(const std::string& s);

/// "JPEG 2000 Image Compression (Lossless Only) (1.2.840.10008.1.2.4.90)": readable name and UID.
std::string transferSyntaxName(const std::string& uid);

/// Registers the DCMTK decoders this build has (RLE, JPEG baseline/extended/lossless, JPEG-LS)
/// once.
void registerDicomDecoders();

/// DCMTK logs warnings and errors to stderr by default; the workstation reports its own errors in
/// one line, so DCMTK stays silent unless PANSEG_VERBOSE=1.
void quietDcmtkLog();
} // namespace panseg
