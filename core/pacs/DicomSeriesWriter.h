#pragma once
// Writes a CT image as a DICOM series (one CT Image Storage file per slice, 16-bit signed HU,
// Explicit VR Little Endian) with fresh UIDs: the demo phantom as a PACS would hold it, for
// `panseg bench pacs` and tests. Geometry (origin, spacing, direction) is kept exactly.
#include "core/Volume.h"

#include <QString>

namespace panseg::pacs
{
struct DicomSeriesInfo
{
  QString patientName = "PHANTOM^DEMO";
  QString patientId = "PANSEG-DEMO";
  QString studyDescription = "PanSeg demo phantom";
  QString seriesDescription = "Synthetic CT";
  QString studyDate = "20260101"; // YYYYMMDD
  QString accession = "DEMO0001";
};

struct WrittenSeries
{
  QString studyUid, seriesUid;
  int files = 0;
  qint64 bytes = 0;
};

/// Throws panseg::Error when a file cannot be written.
WrittenSeries writeDicomSeries(const Image& ct, const QString& folder, const DicomSeriesInfo& info = {});
} // namespace panseg::pacs
