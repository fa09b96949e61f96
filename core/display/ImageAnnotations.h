#pragma once
// The image information a slice view prints in its corners (the DICOM information overlay):
// patient, study and series, from the DICOM tags the reader kept (ImageInfo::tags), or the file
// name for NIfTI/NRRD/MetaImage files, which carry no such information.

#include "core/Volume.h"

#include <string>

namespace panseg
{
struct ImageAnnotations
{
  std::string patientName; // "DOE, JANE" from "DOE^JANE" (empty when unknown)
  std::string patientId;   // "ID 12345" (empty when unknown)
  std::string study;       // "2023-01-15 14:02  CT ABDOMEN": date, time, study description
  std::string series;      // "Series 3: Portal venous  CT", or the file name for non-DICOM files
};

ImageAnnotations imageAnnotations(const ImageInfo& info);

/// DICOM person name (PN) for display: "FAMILY^GIVEN^MIDDLE^PREFIX^SUFFIX" -> "FAMILY, GIVEN
/// MIDDLE PREFIX SUFFIX" (empty components dropped; only the first of several "=" groups).
std::string formatPersonName(const std::string& dicomName);
/// DICOM date (DA) "YYYYMMDD" -> "YYYY-MM-DD"; anything else is returned trimmed as it is.
std::string formatDicomDate(const std::string& da);
/// DICOM time (TM) "HHMMSS.FFFFFF" (or "HHMM", "HH:MM:SS") -> "HH:MM"; else trimmed as it is.
std::string formatDicomTime(const std::string& tm);
} // namespace panseg
