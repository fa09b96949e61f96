#pragma once
// De-identification of DICOM files on export (a subset of the DICOM PS3.15 Basic Application
// Confidentiality Profile with the Retain Longitudinal Temporal Information with Modified Dates
// option). Everything is derived from a secret salt, so the same salt gives the same pseudonym,
// date offset and UIDs in every export: a series and the SEG exported for it stay consistent. DCMTK
// does the work.

#include <string>

namespace panseg
{
struct DeidentifyOptions
{
  /// Secret that keys pseudonyms, date offsets and UIDs; empty = a random salt for this
  /// Deidentifier.
  std::string salt;
};

/// What de-identifying a folder did.
struct DeidentifyReport
{
  int files = 0;   // DICOM files written
  int skipped = 0; // non-DICOM files left out
};

class Deidentifier
{
public:
  explicit Deidentifier(DeidentifyOptions options = {});

  /// Writes a de-identified copy of one DICOM file to `outPath` (atomically). Pixel data is copied
  /// unchanged in its transfer syntax (burned-in text is not removed).
  void deidentifyFile(const std::string& inPath, const std::string& outPath) const;

  /// De-identifies every DICOM file directly in `folder` into `outFolder` (created), named
  /// IM00001.dcm ...
  DeidentifyReport deidentifyFolder(const std::string& folder, const std::string& outFolder) const;

  /// "2.25.<decimal>": the UID keyed by the salt (DICOM-defined UIDs 1.2.840.10008.* are kept).
  std::string mapUid(const std::string& uid) const;
  /// Days added to every date of this patient (negative, 1..3650 days back).
  int dateOffsetDays(const std::string& patientId) const;
  /// "ANON" + 10 hex digits keyed by the salt: replaces PatientID and PatientName.
  std::string pseudonym(const std::string& patientId) const;

private:
  std::string salt_;
};

/// SHA-256 of `bytes` (32 raw bytes); exposed for tests.
std::string sha256(const std::string& bytes);

} // namespace panseg
