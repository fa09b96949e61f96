#include "core/io/DicomSeg.h"

#include "core/AtomicFile.h"
#include "core/Error.h"
#include "core/io/Deidentify.h"
#include "core/io/DicomCommon.h"

#include <array>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmfg/fgderimg.h>
#include <dcmtk/dcmfg/fgfracon.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmfg/fgplanpo.h>
#include <dcmtk/dcmfg/fgseg.h>
#include <dcmtk/dcmiod/iodmacro.h>
#include <dcmtk/dcmiod/modcommoninstanceref.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/dcmseg/segment.h>
#include <dcmtk/dcmseg/segutils.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <unistd.h>

namespace fs = std::filesystem;

namespace panseg
{
namespace
{
const char* const kSegSopClass = "1.2.840.10008.5.1.4.1.1.66.4";

Vec3 add(const Vec3& a, const Vec3& b)
{
  return {a[0] + b[0], a[1] + b[1], a[2] + b[2]};
}
Vec3 scale(const Vec3& a, double s)
{
  return {a[0] * s, a[1] * s, a[2] * s};
}
Vec3 sub(const Vec3& a, const Vec3& b)
{
  return {a[0] - b[0], a[1] - b[1], a[2] - b[2]};
}
double dot(const Vec3& a, const Vec3& b)
{
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
Vec3 cross(const Vec3& a, const Vec3& b)
{
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}

std::string fmt(double v)
{
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

/// A 2-D frame placed on a 3-D grid: pixel (row r, column c) is voxel origin + c*perColumn +
/// r*perRow.
struct PlaneMap
{
  std::array<int64_t, 3> origin{};
  std::array<int64_t, 3> perColumn{};
  std::array<int64_t, 3> perRow{};
};

/// A frame's plane in patient space (LPS mm).
struct Plane
{
  Vec3 position{};         // ImagePositionPatient: centre of the first pixel
  Vec3 rowDir{};           // direction of increasing column index (IOP values 1-3)
  Vec3 colDir{};           // direction of increasing row index (IOP values 4-6)
  double rowSpacingMm = 0; // PixelSpacing[0]: between rows
  double colSpacingMm = 0; // PixelSpacing[1]: between columns
  int rows = 0;
  int cols = 0;
};

bool nearInteger(double v, int64_t* out, double tol = 0.02)
{
  const double r = std::round(v);
  if (std::fabs(v - r) > tol)
    return false;
  *out = static_cast<int64_t>(r);
  return true;
}

/// Places `plane` on `grid`; false (with a reason) when its pixels are not voxel centres of the
/// grid.
bool mapPlane(const Geometry& grid, const Plane& plane, PlaneMap* out, std::string* why)
{
  const Vec3 i0 = grid.physicalToIndex(plane.position);
  const Vec3 ic =
      sub(grid.physicalToIndex(add(plane.position, scale(plane.rowDir, plane.colSpacingMm))), i0);
  const Vec3 ir =
      sub(grid.physicalToIndex(add(plane.position, scale(plane.colDir, plane.rowSpacingMm))), i0);
  for (int a = 0; a < 3; ++a)
  {
    if (!nearInteger(i0[a], &out->origin[a]))
    {
      *why = "frame position (" + fmt(plane.position[0]) + ", " + fmt(plane.position[1]) + ", " +
             fmt(plane.position[2]) + ") mm is not a voxel centre of the grid (index " +
             fmt(i0[0]) + ", " + fmt(i0[1]) + ", " + fmt(i0[2]) + ")";
      return false;
    }
    if (!nearInteger(ic[a], &out->perColumn[a]) || !nearInteger(ir[a], &out->perRow[a]))
    {
      *why = "frame orientation or pixel spacing differs from the grid (one frame pixel = (" +
             fmt(ic[0]) + ", " + fmt(ic[1]) + ", " + fmt(ic[2]) + ") voxels)";
      return false;
    }
  }
  auto unitAxis = [](const std::array<int64_t, 3>& v)
  { return std::abs(v[0]) + std::abs(v[1]) + std::abs(v[2]) == 1; };
  if (!unitAxis(out->perColumn) || !unitAxis(out->perRow))
  {
    *why = "frame pixel spacing differs from the grid's voxel spacing";
    return false;
  }
  // All pixels inside <=> the four corners inside (the map is affine).
  for (int r : {0, plane.rows - 1})
    for (int c : {0, plane.cols - 1})
      for (int a = 0; a < 3; ++a)
      {
        const int64_t v = out->origin[a] + c * out->perColumn[a] + r * out->perRow[a];
        if (v < 0 || v >= grid.size[a])
        {
          *why = "frame corner (row " + std::to_string(r) + ", column " + std::to_string(c) +
                 ") lies outside the grid (" + std::to_string(grid.size[0]) + "x" +
                 std::to_string(grid.size[1]) + "x" + std::to_string(grid.size[2]) + " voxels)";
          return false;
        }
      }
  return true;
}

std::string getString(DcmItem& item, const DcmTagKey& key, bool searchIntoSub = false)
{
  OFString v;
  if (item.findAndGetOFStringArray(key, v, searchIntoSub).good())
    return trimmed(v.c_str());
  return {};
}

/// One image of the source series, read up to (not including) its pixel data.
struct SourceInstance
{
  std::string file;
  std::string sopClassUid;
  std::string sopInstanceUid;
  std::string seriesUid;
  std::string frameOfReferenceUid;
  std::string ippText; // exact source strings, copied into the SEG
  std::string iopText;
  std::string pixelSpacingText;
  std::string sliceThicknessText;
  Plane plane;
};

bool parsePlane(DcmItem& ds, Plane* p)
{
  Float64 v[6];
  for (unsigned long i = 0; i < 3; ++i)
    if (ds.findAndGetFloat64(DCM_ImagePositionPatient, v[i], i).bad())
      return false;
  p->position = {v[0], v[1], v[2]};
  for (unsigned long i = 0; i < 6; ++i)
    if (ds.findAndGetFloat64(DCM_ImageOrientationPatient, v[i], i).bad())
      return false;
  p->rowDir = {v[0], v[1], v[2]};
  p->colDir = {v[3], v[4], v[5]};
  if (ds.findAndGetFloat64(DCM_PixelSpacing, v[0], 0).bad() ||
      ds.findAndGetFloat64(DCM_PixelSpacing, v[1], 1).bad())
    return false;
  p->rowSpacingMm = v[0];
  p->colSpacingMm = v[1];
  Uint16 rows = 0, cols = 0;
  if (ds.findAndGetUint16(DCM_Rows, rows).bad() || ds.findAndGetUint16(DCM_Columns, cols).bad())
    return false;
  p->rows = rows;
  p->cols = cols;
  return p->rows > 0 && p->cols > 0 && p->rowSpacingMm > 0 && p->colSpacingMm > 0;
}

/// Single-frame images with a plane position in `folder` (non-images, SEG and unreadable files
/// skipped).
std::vector<SourceInstance> scanSourceFolder(const std::string& folder, DcmFileFormat* firstHeader)
{
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folder, ec))
    if (e.is_regular_file())
      files.push_back(e.path().string());
  if (ec)
    throw Error("cannot list the DICOM folder " + folder + ": " + ec.message());
  std::sort(files.begin(), files.end());
  std::vector<SourceInstance> out;
  for (const auto& f : files)
  {
    DcmFileFormat ff;
    if (ff.loadFileUntilTag(f.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect,
                            DCM_PixelData)
            .bad())
      continue;
    DcmDataset& ds = *ff.getDataset();
    SourceInstance s;
    s.file = f;
    s.sopClassUid = getString(ds, DCM_SOPClassUID);
    if (s.sopClassUid.empty())
      s.sopClassUid = getString(*ff.getMetaInfo(), DCM_MediaStorageSOPClassUID);
    s.sopInstanceUid = getString(ds, DCM_SOPInstanceUID);
    if (s.sopInstanceUid.empty())
      s.sopInstanceUid = getString(*ff.getMetaInfo(), DCM_MediaStorageSOPInstanceUID);
    if (s.sopClassUid == kSegSopClass || s.sopInstanceUid.empty())
      continue;
    Sint32 frames = 1;
    if (ds.findAndGetSint32(DCM_NumberOfFrames, frames).good() && frames > 1)
      continue; // multi-frame objects are not a single-slice series
    if (!parsePlane(ds, &s.plane))
      continue;
    s.seriesUid = getString(ds, DCM_SeriesInstanceUID);
    s.frameOfReferenceUid = getString(ds, DCM_FrameOfReferenceUID);
    s.ippText = getString(ds, DCM_ImagePositionPatient);
    s.iopText = getString(ds, DCM_ImageOrientationPatient);
    s.pixelSpacingText = getString(ds, DCM_PixelSpacing);
    s.sliceThicknessText = getString(ds, DCM_SliceThickness);
    if (out.empty() && firstHeader)
      *firstHeader = ff;
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string> splitBackslash(const std::string& s)
{
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;)
  {
    const size_t p = s.find('\\', start);
    parts.push_back(
        trimmed(s.substr(start, p == std::string::npos ? std::string::npos : p - start)));
    if (p == std::string::npos)
      break;
    start = p + 1;
  }
  return parts;
}

void check(const OFCondition& c, const std::string& what)
{
  if (c.bad())
    throw Error(what + ": " + c.text());
}

const char* algoTypeName(DcmSegTypes::E_SegmentAlgoType t)
{
  switch (t)
  {
  case DcmSegTypes::SAT_AUTOMATIC:
    return "AUTOMATIC";
  case DcmSegTypes::SAT_SEMIAUTOMATIC:
    return "SEMIAUTOMATIC";
  case DcmSegTypes::SAT_MANUAL:
    return "MANUAL";
  default:
    return "UNKNOWN";
  }
}
} // namespace

// ------------------------------------------------------------------------------------------------
// export

SegExportReport exportDicomSeg(const LabelMask& mask, const std::string& source,
                               const SegExportOptions& options, const std::string& outPath)
{
  quietDcmtkLog();
  if (mask.geometry.isEmpty())
    throw Error("cannot export an empty mask as DICOM SEG");
  if (!fs::exists(source))
    throw Error("DICOM source not found: " + source);
  const std::string folder =
      fs::is_directory(source) ? source : fs::path(source).parent_path().string();
  DcmFileFormat firstHeader;
  std::vector<SourceInstance> instances =
      scanSourceFolder(folder.empty() ? "." : folder, &firstHeader);
  if (instances.empty())
    throw Error("no DICOM image with a plane position in " + folder +
                " (a SEG must reference its source series)");

  // Which instance holds which mask plane.
  struct Placed
  {
    const SourceInstance* instance;
    PlaneMap map;
    double along; // position along the slice normal, for the dimension index
  };
  std::vector<Placed> placed;
  std::string firstWhy;
  std::set<std::array<int64_t, 3>> seen;
  for (const auto& s : instances)
  {
    PlaneMap m;
    std::string why;
    if (!mapPlane(mask.geometry, s.plane, &m, &why))
    {
      if (firstWhy.empty())
        firstWhy = fs::path(s.file).filename().string() + ": " + why;
      continue;
    }
    if (!seen.insert(m.origin).second)
      throw Error("several DICOM images in " + folder + " lie on the same mask slice (" +
                  fs::path(s.file).filename().string() + "); put one series per folder");
    placed.push_back({&s, m, dot(s.plane.position, cross(s.plane.rowDir, s.plane.colDir))});
  }
  if (placed.empty())
    throw Error("the mask grid does not match the DICOM series in " + folder + ": " + firstWhy);
  const Plane& plane0 = placed.front().instance->plane;
  for (const auto& p : placed)
    if (p.instance->plane.rows != plane0.rows || p.instance->plane.cols != plane0.cols ||
        p.instance->iopText != placed.front().instance->iopText)
      throw Error("the DICOM series in " + folder +
                  " mixes image sizes or orientations; export needs one series");
  std::sort(placed.begin(), placed.end(),
            [](const Placed& a, const Placed& b) { return a.along < b.along; });

  // Segments: explicit specs, or one per label present (a single label is the pancreas).
  std::vector<SegSegmentSpec> specs = options.segments;
  if (specs.empty())
  {
    const std::vector<int> labels = mask.labels();
    if (labels.empty())
      throw Error("the mask is empty: nothing to export as DICOM SEG");
    for (int l : labels)
    {
      SegSegmentSpec s;
      s.label = l;
      if (labels.size() > 1 && l != 1)
      {
        s.name = "Label " + std::to_string(l);
        s.typeCode = s.categoryCode = "85756007";
        s.typeMeaning = s.categoryMeaning = "Tissue";
      }
      s.color = LabelColorTable::standard().color(l);
      specs.push_back(s);
    }
  }
  if (specs.size() > 255)
    throw Error("too many segments for one SEG export");

  // Every labelled voxel must be covered by a source image, or the SEG would silently drop it.
  std::vector<int64_t> maskCount(256, 0);
  for (uint8_t v : mask.voxels)
    ++maskCount[v];

  const Uint16 rows = static_cast<Uint16>(plane0.rows), cols = static_cast<Uint16>(plane0.cols);
  IODGeneralEquipmentModule::EquipmentInfo equipment(
      "PanSeg", "PanSeg Workstation", "1",
      options.softwareVersion.empty() ? "0" : options.softwareVersion);
  ContentIdentificationMacro content(
      "1", options.contentLabel.empty() ? "SEGMENTATION" : options.contentLabel,
      options.seriesDescription, options.contentCreator);
  DcmSegmentation* rawSeg = nullptr;
  check(DcmSegmentation::createBinarySegmentation(rawSeg, rows, cols, equipment, content),
        "cannot create the DICOM SEG");
  std::unique_ptr<DcmSegmentation> seg(rawSeg);
  // Patient/study/frame-of-reference data from an instance of the series the mask lies on.
  DcmFileFormat header;
  if (header
          .loadFileUntilTag(placed.front().instance->file.c_str(), EXS_Unknown, EGL_noChange,
                            DCM_MaxReadLength, ERM_autoDetect, DCM_PixelData)
          .bad())
    header = firstHeader;
  check(seg->importFromSourceImage(*header.getDataset()),
        "cannot take patient/study data from " + placed.front().instance->file);
  // Some series (anonymised exports) carry empty Study Instance UIDs; a SEG needs one.
  OFString studyUid;
  seg->getStudy().getStudyInstanceUID(studyUid);
  if (studyUid.empty())
  {
    char uid[100];
    seg->getStudy().setStudyInstanceUID(dcmGenerateUniqueIdentifier(uid, SITE_STUDY_UID_ROOT));
  }
  const std::string forUid = placed.front().instance->frameOfReferenceUid;
  if (!forUid.empty())
    seg->getFrameOfReference().setFrameOfReferenceUID(forUid.c_str());
  seg->getSeries().setSeriesDescription(options.seriesDescription.c_str());
  seg->getSeries().setSeriesNumber("300");

  // Common Instance Reference: the source series and its instances.
  const std::string seriesUid = placed.front().instance->seriesUid;
  if (!seriesUid.empty())
  {
    auto* item = new IODSeriesAndInstanceReferenceMacro::ReferencedSeriesItem();
    item->setSeriesInstanceUID(seriesUid.c_str());
    for (const auto& p : placed)
      item->addReference(p.instance->sopClassUid.c_str(), p.instance->sopInstanceUid.c_str());
    seg->getCommonInstanceReference().getReferencedSeriesItems().push_back(item);
  }

  // Shared groups: pixel measures and orientation copied verbatim from the source.
  FGPixelMeasures measures;
  check(measures.setPixelSpacing(placed.front().instance->pixelSpacingText.c_str()),
        "pixel spacing");
  std::string thickness = placed.front().instance->sliceThicknessText;
  if (thickness.empty())
    thickness = fmt(mask.geometry.spacingMm[2]);
  check(measures.setSliceThickness(thickness.c_str()), "slice thickness");
  check(seg->addForAllFrames(measures), "cannot add pixel measures");
  const std::vector<std::string> iop = splitBackslash(placed.front().instance->iopText);
  if (iop.size() != 6)
    throw Error("unreadable ImageOrientationPatient in " + placed.front().instance->file);
  std::unique_ptr<FGPlaneOrientationPatient> orient(
      FGPlaneOrientationPatient::createMinimal(iop[0].c_str(), iop[1].c_str(), iop[2].c_str(),
                                               iop[3].c_str(), iop[4].c_str(), iop[5].c_str()));
  if (!orient)
    throw Error("cannot encode the image orientation");
  check(seg->addForAllFrames(*orient), "cannot add the plane orientation");

  char dimUid[100];
  dcmGenerateUniqueIdentifier(dimUid, SITE_INSTANCE_UID_ROOT);
  IODMultiframeDimensionModule& dims = seg->getDimensions();
  check(dims.addDimensionIndex(DCM_ReferencedSegmentNumber, dimUid,
                               DCM_SegmentIdentificationSequence, "ReferencedSegmentNumber"),
        "dimension index");
  check(dims.addDimensionIndex(DCM_ImagePositionPatient, dimUid, DCM_PlanePositionSequence,
                               "ImagePositionPatient"),
        "dimension index");

  SegExportReport report;
  std::vector<Uint8> frame(static_cast<size_t>(rows) * cols);
  for (size_t si = 0; si < specs.size(); ++si)
  {
    const SegSegmentSpec& spec = specs[si];
    if (spec.label < 1 || spec.label > 255)
      throw Error("segment label " + std::to_string(spec.label) + " is outside 1..255");
    const DcmSegTypes::E_SegmentAlgoType algo =
        options.algorithmName.empty() ? DcmSegTypes::SAT_MANUAL : DcmSegTypes::SAT_AUTOMATIC;
    DcmSegment* rawSegment = nullptr;
    check(
        DcmSegment::create(rawSegment, spec.name.c_str(),
                           CodeSequenceMacro(spec.categoryCode.c_str(), spec.categoryScheme.c_str(),
                                             spec.categoryMeaning.c_str()),
                           CodeSequenceMacro(spec.typeCode.c_str(), spec.typeScheme.c_str(),
                                             spec.typeMeaning.c_str()),
                           algo, options.algorithmName.c_str()),
        "cannot create segment '" + spec.name + "'");
    if (!options.algorithmName.empty())
    {
      AlgorithmIdentificationMacro& ai = rawSegment->getSegmentationAlgorithmIdentification();
      ai.getAlgorithmFamilyCode().set("123110", "DCM", "Artificial Intelligence"); // CID 7162
      ai.setAlgorithmName(options.algorithmName.c_str());
      ai.setAlgorithmVersion(options.algorithmVersion.empty() ? "unknown"
                                                              : options.algorithmVersion.c_str());
    }
    {
      const CieLab lab = rgbToLab(spec.color ? *spec.color : LabelColorTable::standard().color(spec.label));
      const std::array<uint16_t, 3> scaled = labToDicom(lab);
      const OFCondition c = rawSegment->setRecommendedDisplayCIELabValue(scaled[0], scaled[1], scaled[2]);
      if (c.bad())
      {
        delete rawSegment;
        throw Error("cannot set the colour of segment '" + spec.name + "': " + c.text());
      }
    }
    Uint16 segmentNumber = 0;
    {
      const OFCondition c = seg->addSegment(rawSegment, segmentNumber);
      if (c.bad())
      {
        delete rawSegment;
        throw Error("cannot add segment '" + spec.name + "': " + c.text());
      }
    }
    int64_t written = 0;
    for (size_t pi = 0; pi < placed.size(); ++pi)
    {
      const Placed& p = placed[pi];
      bool any = false;
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c)
        {
          const int64_t x = p.map.origin[0] + c * p.map.perColumn[0] + r * p.map.perRow[0];
          const int64_t y = p.map.origin[1] + c * p.map.perColumn[1] + r * p.map.perRow[1];
          const int64_t z = p.map.origin[2] + c * p.map.perColumn[2] + r * p.map.perRow[2];
          const bool on = mask.at(x, y, z) == spec.label;
          frame[static_cast<size_t>(r) * cols + c] = on ? 1 : 0;
          if (on)
          {
            any = true;
            ++written;
          }
        }
      if (!any)
        continue;
      const std::vector<std::string> ipp = splitBackslash(p.instance->ippText);
      if (ipp.size() != 3)
        throw Error("unreadable ImagePositionPatient in " + p.instance->file);
      std::unique_ptr<FGPlanePosPatient> pos(
          FGPlanePosPatient::createMinimal(ipp[0].c_str(), ipp[1].c_str(), ipp[2].c_str()));
      FGFrameContent fc;
      fc.setDimensionIndexValues(segmentNumber, 0);
      fc.setDimensionIndexValues(static_cast<Uint32>(pi + 1), 1);
      ImageSOPInstanceReferenceMacro* ref = nullptr;
      check(ImageSOPInstanceReferenceMacro::create(p.instance->sopClassUid.c_str(),
                                                   p.instance->sopInstanceUid.c_str(), ref),
            "cannot reference " + p.instance->file);
      OFVector<ImageSOPInstanceReferenceMacro> refs;
      refs.push_back(*ref);
      delete ref;
      std::unique_ptr<FGDerivationImage> deriv(DcmSegmentation::createDerivationImageFG(refs, ""));
      if (!pos || !deriv)
        throw Error("cannot build the per-frame references for " + p.instance->file);
      OFVector<FGBase*> perFrame;
      perFrame.push_back(pos.get());
      perFrame.push_back(&fc);
      perFrame.push_back(deriv.get());
      check(seg->addFrame(frame.data(), segmentNumber, perFrame), "cannot add a SEG frame");
      ++report.frames;
    }
    if (written != maskCount[spec.label])
      throw Error("the DICOM series in " + folder + " covers " + std::to_string(written) +
                  " of the " + std::to_string(maskCount[spec.label]) + " voxels of label " +
                  std::to_string(spec.label) + "; the mask is not on this series' grid");
    if (written == 0)
      throw Error("label " + std::to_string(spec.label) +
                  " is empty in the mask; nothing to export");
    report.voxels += written;
    ++report.segments;
  }

  const std::string temp =
      (fs::path(outPath).parent_path() /
       (".tmp-" + std::to_string(::getpid()) + "-seg-" + fs::path(outPath).filename().string()))
          .string();
  const OFCondition saved = seg->saveFile(temp.c_str(), EXS_LittleEndianExplicit);
  if (saved.bad())
  {
    std::error_code ec;
    fs::remove(temp, ec);
    throw Error("cannot write DICOM SEG " + outPath + ": " + saved.text());
  }
  if (!options.deidentifySalt.empty())
  {
    try
    {
      Deidentifier(DeidentifyOptions{options.deidentifySalt}).deidentifyFile(temp, outPath);
    }
    catch (...)
    {
      std::error_code ec;
      fs::remove(temp, ec);
      throw;
    }
    std::error_code ec;
    fs::remove(temp, ec);
  }
  else
    commitFile(temp, outPath);
  OFString v;
  seg->getSOPCommon().getSOPInstanceUID(v);
  report.sopInstanceUid = v.c_str();
  report.frameOfReferenceUid = forUid;
  return report;
}

// ------------------------------------------------------------------------------------------------
// import

namespace
{
struct LoadedSeg
{
  std::unique_ptr<DcmSegmentation> seg;
  std::string transferSyntax;
  Uint16 maxFractional = 0;
  Uint16 rows = 0;
  Uint16 cols = 0;
};

/// DICOM RLE (PS3.5 Annex G) of 1-bit SEG frames, which DCMTK's RLE decoder refuses: each frame is
/// one fragment holding one PackBits segment of the frame's packed bytes. Replaces the encapsulated
/// pixel data by native, bit-contiguous frames. False (with a reason) when the data does not have
/// that form.
bool decodeBinaryRle(DcmDataset& ds, Uint16 rows, Uint16 cols, std::string* why)
{
  Sint32 frames = 1;
  ds.findAndGetSint32(DCM_NumberOfFrames, frames);
  DcmElement* elem = nullptr;
  if (frames < 1 || ds.findAndGetElement(DCM_PixelData, elem).bad() || !elem)
    return (*why = "no pixel data", false);
  DcmPixelSequence* seq = nullptr;
  if (static_cast<DcmPixelData*>(elem)
          ->getEncapsulatedRepresentation(EXS_RLELossless, nullptr, seq)
          .bad() ||
      !seq)
    return (*why = "no RLE fragments", false);
  if (seq->card() != static_cast<unsigned long>(frames) + 1)
    return (*why = std::to_string(seq->card() - 1) + " fragments for " + std::to_string(frames) +
                   " frames",
            false);
  const size_t pixels = static_cast<size_t>(rows) * cols;
  const size_t frameBytes = (pixels + 7) / 8;
  std::vector<Uint8> native((pixels * static_cast<size_t>(frames) + 7) / 8, 0);
  std::vector<Uint8> frame;
  for (Sint32 f = 0; f < frames; ++f)
  {
    DcmPixelItem* item = nullptr;
    Uint8* data = nullptr;
    if (seq->getItem(item, static_cast<unsigned long>(f) + 1).bad() || !item ||
        item->getUint8Array(data).bad())
      return (*why = "unreadable fragment", false);
    const size_t len = item->getLength();
    auto u32 = [&](size_t at)
    {
      return at + 4 <= len ? Uint32(data[at]) | Uint32(data[at + 1]) << 8 |
                                 Uint32(data[at + 2]) << 16 | Uint32(data[at + 3]) << 24
                           : 0u;
    };
    if (len < 64 || u32(0) != 1 || u32(4) != 64)
      return (*why = "RLE header does not describe one segment", false);
    frame.clear();
    for (size_t i = 64; i < len && frame.size() < frameBytes;)
    {
      const int n = static_cast<Sint8>(data[i++]);
      if (n >= 0)
      {
        for (int k = 0; k <= n && i < len; ++k)
          frame.push_back(data[i++]);
      }
      else if (n != -128 && i < len)
      {
        frame.insert(frame.end(), static_cast<size_t>(1 - n), data[i++]);
      }
    }
    if (frame.size() < frameBytes)
      return (*why = "frame " + std::to_string(f + 1) + " decodes to too few bytes", false);
    // Frames follow each other bit by bit in native 1-bit pixel data (first pixel = lowest bit).
    const size_t base = pixels * static_cast<size_t>(f);
    for (size_t p = 0; p < pixels; ++p)
      if (frame[p / 8] & (1u << (p % 8)))
        native[(base + p) / 8] |= static_cast<Uint8>(1u << ((base + p) % 8));
  }
  ds.findAndDeleteElement(DCM_PixelData);
  if (ds.putAndInsertUint8Array(DCM_PixelData, native.data(),
                                static_cast<unsigned long>(native.size()))
          .bad())
    return (*why = "cannot store the decoded frames", false);
  return true;
}

LoadedSeg loadSeg(const std::string& path)
{
  quietDcmtkLog();
  if (!fs::exists(path))
    throw Error("DICOM SEG not found: " + path);
  DcmFileFormat ff;
  OFCondition c = ff.loadFile(path.c_str());
  const std::string tsUid =
      ff.getMetaInfo() ? getString(*ff.getMetaInfo(), DCM_TransferSyntaxUID) : std::string();
  // Transfer syntaxes newer than DCMTK (e.g. Deflated Image Frame Compression) may even "load"
  // half-way.
  if (!tsUid.empty() && DcmXfer(tsUid.c_str()).getXfer() == EXS_Unknown)
    throw Error(
        path + " uses transfer syntax " + transferSyntaxName(tsUid) +
        ", which this version cannot decode; re-encode it uncompressed (e.g. gdcmconv --raw)");
  if (c.bad())
    throw Error(path + " is not a readable DICOM file (" + c.text() + ")");
  DcmDataset& ds = *ff.getDataset();
  std::string sop = getString(ds, DCM_SOPClassUID);
  if (sop != kSegSopClass)
    throw Error(path + " is not a DICOM SEG (SOP class " +
                (sop.empty() ? std::string("missing") : sop) + ")");
  LoadedSeg out;
  const E_TransferSyntax xfer = ds.getOriginalXfer();
  out.transferSyntax = tsUid.empty() ? DcmXfer(xfer).getXferID() : tsUid;
  if (DcmXfer(xfer).isEncapsulated())
  {
    registerDicomDecoders();
    Uint16 bits = 0, rows = 0, cols = 0;
    ds.findAndGetUint16(DCM_BitsAllocated, bits);
    ds.findAndGetUint16(DCM_Rows, rows);
    ds.findAndGetUint16(DCM_Columns, cols);
    std::string why;
    if (xfer == EXS_RLELossless && bits == 1 && rows > 0 && cols > 0)
    {
      if (!decodeBinaryRle(ds, rows, cols, &why))
        throw Error(path + ": cannot decode its 1-bit RLE Lossless frames (" + why + ")");
    }
    else if (ds.chooseRepresentation(EXS_LittleEndianExplicit, nullptr).bad() ||
             !ds.canWriteXfer(EXS_LittleEndianExplicit))
      throw Error(
          path + " uses transfer syntax " + transferSyntaxName(out.transferSyntax) +
          (bits == 1 ? " with 1-bit frames" : "") +
          ", which this version cannot decode; re-encode it uncompressed (e.g. gdcmconv --raw)");
  }
  ds.findAndGetUint16(DCM_MaximumFractionalValue, out.maxFractional);
  if (ds.findAndGetUint16(DCM_Rows, out.rows).bad() ||
      ds.findAndGetUint16(DCM_Columns, out.cols).bad() || out.rows == 0 || out.cols == 0)
    throw Error(path + " is not a valid DICOM SEG: no Rows/Columns");
  // DCMTK's segmentation module trusts NumberOfFrames and the pixel data length (a SEG with
  // NumberOfFrames 0 crashed it): both are checked here first.
  {
    OFString framesText;
    Sint32 frames = 0;
    if (ds.findAndGetOFString(DCM_NumberOfFrames, framesText).bad() ||
        ds.findAndGetSint32(DCM_NumberOfFrames, frames).bad() || frames < 1)
      throw Error(path + " is not a valid DICOM SEG: NumberOfFrames is " +
                  (framesText.empty() ? std::string("missing") : std::string(framesText.c_str())) +
                  " (at least 1 is required)");
    Uint16 bits = 0;
    if (ds.findAndGetUint16(DCM_BitsAllocated, bits).bad() || (bits != 1 && bits != 8 && bits != 16))
      throw Error(path + " is not a valid DICOM SEG: BitsAllocated is " + std::to_string(bits) +
                  " (1 or 8 expected)");
    DcmElement* pixel = nullptr;
    const double need = std::ceil(double(out.rows) * out.cols * frames * bits / 8.0);
    if (ds.findAndGetElement(DCM_PixelData, pixel).bad() || !pixel || double(pixel->getLength()) < need)
      throw Error(path + " is not a valid DICOM SEG: its pixel data holds " +
                  std::to_string(pixel ? pixel->getLength() : 0) + " bytes, " + std::to_string(frames) +
                  " frames of " + std::to_string(out.rows) + "x" + std::to_string(out.cols) + " need " +
                  std::to_string(uint64_t(need)));
    DcmSequenceOfItems* perFrame = nullptr;
    if (ds.findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, perFrame).good() && perFrame &&
        perFrame->card() != static_cast<unsigned long>(frames))
      throw Error(path + " is not a valid DICOM SEG: " + std::to_string(perFrame->card()) +
                  " per-frame functional groups for " + std::to_string(frames) + " frames");
  }
  DcmSegmentation* raw = nullptr;
  c = DcmSegmentation::loadDataset(ds, raw);
  if (c.bad() || !raw)
    throw Error(path + " is not a valid DICOM SEG: " + c.text());
  out.seg.reset(raw);
  return out;
}

bool framePlane(DcmSegmentation& seg, size_t frameNo, Plane* plane)
{
  FGInterface& fg = seg.getFunctionalGroups();
  const Uint32 f = static_cast<Uint32>(frameNo);
  auto* pos = OFstatic_cast(FGPlanePosPatient*, fg.get(f, DcmFGTypes::EFG_PLANEPOSPATIENT));
  auto* ori =
      OFstatic_cast(FGPlaneOrientationPatient*, fg.get(f, DcmFGTypes::EFG_PLANEORIENTPATIENT));
  auto* pix = OFstatic_cast(FGPixelMeasures*, fg.get(f, DcmFGTypes::EFG_PIXELMEASURES));
  if (!pos || !ori || !pix)
    return false;
  Float64 v[6];
  if (pos->getImagePositionPatient(v[0], v[1], v[2]).bad())
    return false;
  plane->position = {v[0], v[1], v[2]};
  if (ori->getImageOrientationPatient(v[0], v[1], v[2], v[3], v[4], v[5]).bad())
    return false;
  plane->rowDir = {v[0], v[1], v[2]};
  plane->colDir = {v[3], v[4], v[5]};
  if (pix->getPixelSpacing(v[0], 0).bad() || pix->getPixelSpacing(v[1], 1).bad())
    return false;
  plane->rowSpacingMm = v[0];
  plane->colSpacingMm = v[1];
  return plane->rowSpacingMm > 0 && plane->colSpacingMm > 0;
}

SegImportResult importOnto(LoadedSeg& loaded, const std::string& path, const Geometry& reference)
{
  DcmSegmentation& seg = *loaded.seg;
  SegImportResult result;
  result.mask = LabelMask(reference);
  result.mask.sourcePath = path;
  result.transferSyntax = loaded.transferSyntax;
  const bool fractional = seg.getSegmentationType() == DcmSegTypes::ST_FRACTIONAL;
  result.segmentationType = fractional ? "FRACTIONAL" : "BINARY";
  if (fractional && loaded.maxFractional == 0)
    throw Error(path + " is a FRACTIONAL SEG without a MaximumFractionalValue");
  OFString forUid;
  seg.getFrameOfReference().getFrameOfReferenceUID(forUid);
  result.frameOfReferenceUid = forUid.c_str();

  const size_t nSeg = seg.getNumberOfSegments();
  std::map<Uint16, size_t> segIndex;
  for (size_t n = 1; n <= nSeg; ++n)
  {
    DcmSegment* s = seg.getSegment(n);
    if (!s)
      continue;
    if (n > 255)
      throw Error(path + " has more than 255 segments; a PanSeg mask holds labels 1..255");
    SegSegmentInfo info;
    info.number = static_cast<int>(n);
    OFString v;
    s->getSegmentLabel(v);
    info.label = v.c_str();
    s->getSegmentedPropertyTypeCode().getCodeValue(v);
    info.typeCode = v.c_str();
    s->getSegmentedPropertyTypeCode().getCodeMeaning(v);
    info.typeMeaning = v.c_str();
    s->getSegmentedPropertyTypeCode().getCodingSchemeDesignator(v);
    info.typeScheme = v.c_str();
    s->getSegmentedPropertyCategoryCode().getCodeValue(v);
    info.categoryCode = v.c_str();
    s->getSegmentedPropertyCategoryCode().getCodingSchemeDesignator(v);
    info.categoryScheme = v.c_str();
    s->getSegmentedPropertyCategoryCode().getCodeMeaning(v);
    info.categoryMeaning = v.c_str();
    {
      Uint16 cl = 0, ca = 0, cb = 0;
      if (s->getRecommendedDisplayCIELabValue(cl, ca, cb).good())
        info.color = labToRgb(dicomToLab({ cl, ca, cb }));
    }
    info.algorithmType = algoTypeName(s->getSegmentAlgorithmType());
    segIndex[static_cast<Uint16>(n)] = result.segments.size();
    result.segments.push_back(info);
  }

  const Uint16 rows = loaded.rows, cols = loaded.cols;
  const size_t nFrames = seg.getNumberOfFrames();
  if (nFrames == 0)
    throw Error(path + " holds no frames");
  FGInterface& fg = seg.getFunctionalGroups();
  for (size_t f = 0; f < nFrames; ++f)
  {
    Plane plane;
    if (!framePlane(seg, f, &plane))
      throw Error(path + ": frame " + std::to_string(f + 1) +
                  " has no plane position/orientation/pixel spacing");
    plane.rows = rows;
    plane.cols = cols;
    auto* fgSeg = OFstatic_cast(FGSegmentation*,
                                fg.get(static_cast<Uint32>(f), DcmFGTypes::EFG_SEGMENTATION));
    Uint16 number = 0;
    if (!fgSeg || fgSeg->getReferencedSegmentNumber(number).bad() || !segIndex.count(number))
      throw Error(path + ": frame " + std::to_string(f + 1) + " references no known segment");
    PlaneMap map;
    std::string why;
    if (!mapPlane(reference, plane, &map, &why))
      throw Error("DICOM SEG " + path + " does not lie on the image grid: frame " +
                  std::to_string(f + 1) + ": " + why);
    const DcmIODTypes::Frame* stored = seg.getFrame(f);
    if (!stored || !stored->pixData)
      throw Error(path + ": frame " + std::to_string(f + 1) + " has no pixel data");
    std::unique_ptr<DcmIODTypes::Frame> unpacked;
    const Uint8* pix = stored->pixData;
    const size_t nPix = static_cast<size_t>(rows) * cols;
    if (!fractional)
    {
      unpacked.reset(DcmSegUtils::unpackBinaryFrame(stored, rows, cols));
      if (!unpacked || unpacked->length < nPix)
        throw Error(path + ": frame " + std::to_string(f + 1) + " cannot be unpacked");
      pix = unpacked->pixData;
    }
    else if (stored->length < nPix)
      throw Error(path + ": frame " + std::to_string(f + 1) + " is truncated");
    SegSegmentInfo& info = result.segments[segIndex[number]];
    const uint8_t label = static_cast<uint8_t>(number);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c)
      {
        const Uint8 v = pix[static_cast<size_t>(r) * cols + c];
        // FRACTIONAL: a voxel belongs to the segment from 50 % probability/occupancy up.
        const bool on = fractional ? 2u * v >= loaded.maxFractional : v != 0;
        if (!on)
          continue;
        ++info.voxels;
        uint8_t& dst = result.mask.at(map.origin[0] + c * map.perColumn[0] + r * map.perRow[0],
                                      map.origin[1] + c * map.perColumn[1] + r * map.perRow[1],
                                      map.origin[2] + c * map.perColumn[2] + r * map.perRow[2]);
        if (dst != 0 && dst != label)
          ++result.overlapVoxels;
        dst = std::max(dst, label);
      }
    ++result.frames;
  }
  return result;
}
} // namespace

SegImportResult importDicomSeg(const std::string& path, const Geometry& reference)
{
  LoadedSeg loaded = loadSeg(path);
  return importOnto(loaded, path, reference);
}

SegImportResult importDicomSeg(const std::string& path)
{
  LoadedSeg loaded = loadSeg(path);
  DcmSegmentation& seg = *loaded.seg;
  const size_t nFrames = seg.getNumberOfFrames();
  if (nFrames == 0)
    throw Error(path + " holds no frames");
  const Uint16 rows = loaded.rows, cols = loaded.cols;
  Plane first;
  if (!framePlane(seg, 0, &first))
    throw Error(path + ": frame 1 has no plane position/orientation/pixel spacing");
  const Vec3 normal = cross(first.rowDir, first.colDir);
  std::vector<double> along;
  Vec3 lowest = first.position;
  double lowestAlong = dot(first.position, normal);
  for (size_t f = 0; f < nFrames; ++f)
  {
    Plane p;
    if (!framePlane(seg, f, &p))
      throw Error(path + ": frame " + std::to_string(f + 1) +
                  " has no plane position/orientation/pixel spacing");
    const double d = dot(p.position, normal);
    along.push_back(d);
    if (d < lowestAlong)
    {
      lowestAlong = d;
      lowest = p.position;
    }
  }
  std::sort(along.begin(), along.end());
  std::vector<double> unique;
  for (double d : along)
    if (unique.empty() || d - unique.back() > 1e-3)
      unique.push_back(d);
  double spacing = 0;
  for (size_t i = 1; i < unique.size(); ++i)
    spacing =
        (spacing == 0) ? unique[i] - unique[i - 1] : std::min(spacing, unique[i] - unique[i - 1]);
  if (spacing == 0)
  {
    Float64 t = 0;
    auto* pix = OFstatic_cast(FGPixelMeasures*,
                              seg.getFunctionalGroups().get(0, DcmFGTypes::EFG_PIXELMEASURES));
    if (pix && (pix->getSpacingBetweenSlices(t).good() || pix->getSliceThickness(t).good()) &&
        t > 0)
      spacing = t;
    else
      spacing = 1.0;
  }
  int64_t slices = 1;
  for (double d : unique)
  {
    const double k = (d - unique.front()) / spacing;
    int64_t ki = 0;
    if (!nearInteger(k, &ki, 0.05))
      throw Error(path +
                  ": frames are not evenly spaced; open the SEG over its source series instead");
    slices = std::max(slices, ki + 1);
  }
  Geometry g;
  g.size = {cols, rows, slices};
  g.spacingMm = {first.colSpacingMm, first.rowSpacingMm, spacing};
  g.originMm = lowest;
  g.direction = {first.rowDir[0], first.colDir[0], normal[0],
                 first.rowDir[1], first.colDir[1], normal[1],
                 first.rowDir[2], first.colDir[2], normal[2]};
  return importOnto(loaded, path, g);
}

bool isDicomSegFile(const std::string& path)
{
  quietDcmtkLog();
  DcmFileFormat ff;
  if (ff.loadFileUntilTag(path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength,
                          ERM_autoDetect, DCM_SeriesInstanceUID)
          .bad())
  {
    // Unknown (newer) transfer syntaxes still carry the SOP class in the meta header.
    return ff.getMetaInfo() &&
           getString(*ff.getMetaInfo(), DCM_MediaStorageSOPClassUID) == kSegSopClass;
  }
  std::string sop = getString(*ff.getDataset(), DCM_SOPClassUID);
  if (sop.empty() && ff.getMetaInfo())
    sop = getString(*ff.getMetaInfo(), DCM_MediaStorageSOPClassUID);
  return sop == kSegSopClass;
}

SegSegmentSpec segmentSpecOf(const LabelInfo& label)
{
  SegSegmentSpec s;
  s.label = label.value;
  s.name = label.name;
  s.typeCode = label.type.value;
  s.typeScheme = label.type.scheme;
  s.typeMeaning = label.type.meaning;
  s.categoryCode = label.category.value;
  s.categoryScheme = label.category.scheme;
  s.categoryMeaning = label.category.meaning;
  s.color = label.color;
  return s;
}

std::vector<SegSegmentSpec> segmentSpecsOf(const LabelTable& table, const std::vector<int>& labels)
{
  std::vector<SegSegmentSpec> out;
  for (int l : labels)
    if (l >= 1 && l <= 255)
      out.push_back(segmentSpecOf(table.label(l)));
  return out;
}

LabelTable SegImportResult::labelTable() const
{
  LabelTable t;
  for (const SegSegmentInfo& s : segments)
  {
    LabelInfo l = LabelTable::defaultLabel(s.number);
    if (!s.label.empty())
      l.name = s.label;
    if (s.color)
      l.color = *s.color;
    if (!s.typeCode.empty())
      l.type = { s.typeCode, s.typeScheme, s.typeMeaning };
    if (!s.categoryCode.empty())
      l.category = { s.categoryCode, s.categoryScheme, s.categoryMeaning };
    t.set(l);
  }
  return t;
}

} // namespace panseg
