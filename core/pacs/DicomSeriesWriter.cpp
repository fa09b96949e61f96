#include "core/pacs/DicomSeriesWriter.h"

#include "core/Error.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <QDir>
#include <QFileInfo>

#include <algorithm>
#include <cmath>
#include <vector>

namespace panseg::pacs
{
namespace
{
OFString uid()
{
  char buf[100];
  dcmGenerateUniqueIdentifier(buf, SITE_INSTANCE_UID_ROOT);
  return buf;
}
OFString num(double v)
{
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}
OFString lat(const QString& s)
{
  return s.toLatin1().constData();
}
} // namespace

WrittenSeries writeDicomSeries(const Image& ct, const QString& folder, const DicomSeriesInfo& info)
{
  const Geometry& g = ct.geometry;
  if (g.isEmpty())
    throw Error("cannot write an empty image as DICOM");
  if (!QDir().mkpath(folder))
    throw Error("cannot create " + folder.toStdString());
  WrittenSeries out;
  const OFString study = uid(), series = uid(), frame = uid();
  out.studyUid = QString::fromLatin1(study.c_str());
  out.seriesUid = QString::fromLatin1(series.c_str());
  const Mat3& d = g.direction; // columns = index axes
  const OFString orientation = num(d[0]) + "\\" + num(d[3]) + "\\" + num(d[6]) + "\\" + num(d[1]) + "\\" + num(d[4]) +
                               "\\" + num(d[7]);
  const OFString spacing = num(g.spacingMm[1]) + "\\" + num(g.spacingMm[0]); // row spacing (y), column spacing (x)
  const int64_t nx = g.size[0], ny = g.size[1], nz = g.size[2];
  std::vector<Sint16> pixels(size_t(nx * ny));
  for (int64_t k = 0; k < nz; ++k)
  {
    DcmFileFormat ff;
    DcmDataset* ds = ff.getDataset();
    const OFString sop = uid();
    const Vec3 pos = g.indexToPhysical({ 0.0, 0.0, double(k) });
    ds->putAndInsertString(DCM_SOPClassUID, UID_CTImageStorage);
    ds->putAndInsertString(DCM_SOPInstanceUID, sop.c_str());
    ds->putAndInsertString(DCM_StudyInstanceUID, study.c_str());
    ds->putAndInsertString(DCM_SeriesInstanceUID, series.c_str());
    ds->putAndInsertString(DCM_FrameOfReferenceUID, frame.c_str());
    ds->putAndInsertString(DCM_Modality, "CT");
    ds->putAndInsertString(DCM_PatientName, lat(info.patientName).c_str());
    ds->putAndInsertString(DCM_PatientID, lat(info.patientId).c_str());
    ds->putAndInsertString(DCM_StudyDate, lat(info.studyDate).c_str());
    ds->putAndInsertString(DCM_SeriesDate, lat(info.studyDate).c_str());
    ds->putAndInsertString(DCM_StudyTime, "120000");
    ds->putAndInsertString(DCM_AccessionNumber, lat(info.accession).c_str());
    ds->putAndInsertString(DCM_StudyDescription, lat(info.studyDescription).c_str());
    ds->putAndInsertString(DCM_SeriesDescription, lat(info.seriesDescription).c_str());
    ds->putAndInsertString(DCM_StudyID, "1");
    ds->putAndInsertString(DCM_SeriesNumber, "1");
    ds->putAndInsertString(DCM_InstanceNumber, std::to_string(k + 1).c_str());
    ds->putAndInsertString(DCM_ImageType, "DERIVED\\SECONDARY\\AXIAL");
    ds->putAndInsertString(DCM_Manufacturer, "PanSeg (synthetic)");
    ds->putAndInsertString(DCM_ImagePositionPatient, (num(pos[0]) + "\\" + num(pos[1]) + "\\" + num(pos[2])).c_str());
    ds->putAndInsertString(DCM_ImageOrientationPatient, orientation.c_str());
    ds->putAndInsertString(DCM_PixelSpacing, spacing.c_str());
    ds->putAndInsertString(DCM_SliceThickness, num(g.spacingMm[2]).c_str());
    ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
    ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
    ds->putAndInsertUint16(DCM_Rows, Uint16(ny));
    ds->putAndInsertUint16(DCM_Columns, Uint16(nx));
    ds->putAndInsertUint16(DCM_BitsAllocated, 16);
    ds->putAndInsertUint16(DCM_BitsStored, 16);
    ds->putAndInsertUint16(DCM_HighBit, 15);
    ds->putAndInsertUint16(DCM_PixelRepresentation, 1);
    ds->putAndInsertString(DCM_RescaleIntercept, "0");
    ds->putAndInsertString(DCM_RescaleSlope, "1");
    ds->putAndInsertString(DCM_RescaleType, "HU");
    ds->putAndInsertString(DCM_WindowCenter, "40");
    ds->putAndInsertString(DCM_WindowWidth, "400");
    const float* src = ct.voxels.data() + k * nx * ny;
    for (int64_t i = 0; i < nx * ny; ++i)
      pixels[size_t(i)] = Sint16(std::clamp(std::lround(src[i]), -32768L, 32767L));
    ds->putAndInsertUint16Array(DCM_PixelData, reinterpret_cast<const Uint16*>(pixels.data()), unsigned(nx * ny));
    const QString path = QDir(folder).filePath(QString("CT%1.dcm").arg(k + 1, 4, 10, QChar('0')));
    const OFCondition c = ff.saveFile(path.toLocal8Bit().constData(), EXS_LittleEndianExplicit);
    if (c.bad())
      throw Error("cannot write " + path.toStdString() + ": " + c.text());
    ++out.files;
    out.bytes += QFileInfo(path).size();
  }
  return out;
}
} // namespace panseg::pacs
