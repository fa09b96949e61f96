#include "core/io/ImageIO.h"

#include "core/Text.h"
#include "core/io/DicomSeg.h"
#include "core/io/InputChecks.h"

#include "core/Error.h"
#include "core/Reorient.h"
#include "core/AtomicFile.h"

#include <itkCommand.h>
#include <itkGDCMImageIO.h>
#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkImageIOFactory.h>
#include <itkImageSeriesReader.h>
#include <itkMetaDataObject.h>

#include <gdcmScanner.h>
#include <zlib.h>
#include <gdcmTag.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <vector>
#include <unistd.h>

namespace fs = std::filesystem;

namespace panseg
{
namespace
{
using FloatImage = itk::Image<float, 3>;
using DoubleImage = itk::Image<double, 3>;
using ByteImage = itk::Image<unsigned char, 3>;

std::string formatOf(const std::string& path)
{
  const std::string l = lower(path);
  if (endsWith(l, ".nii") || endsWith(l, ".nii.gz"))
    return "NIfTI";
  if (endsWith(l, ".nrrd") || endsWith(l, ".nhdr"))
    return "NRRD";
  if (endsWith(l, ".mha") || endsWith(l, ".mhd"))
    return "MetaImage";
  if (endsWith(l, ".dcm") || endsWith(l, ".ima"))
    return "DICOM";
  return "";
}

/// First line of an ITK exception, without the file/line noise.
std::string itkMessage(const itk::ExceptionObject& e)
{
  std::string d = e.GetDescription();
  while (!d.empty() && (d.back() == '\n' || d.back() == ' '))
    d.pop_back();
  const auto nl = d.find('\n');
  if (nl != std::string::npos)
    d = d.substr(0, nl);
  return d;
}

std::string trim(std::string s)
{
  const char* ws = " \t\r\n";
  s.erase(0, s.find_first_not_of(ws));
  const auto e = s.find_last_not_of(ws);
  s.erase(e == std::string::npos ? 0 : e + 1);
  // DICOM pads with NUL too
  while (!s.empty() && s.back() == '\0')
    s.pop_back();
  return s;
}

std::vector<double> parseDecimals(const std::string& s)
{
  std::vector<double> v;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, '\\'))
  {
    try
    {
      v.push_back(std::stod(part));
    }
    catch (...)
    {
      return {};
    }
  }
  return v;
}

template <typename TImage> Geometry geometryOf(const TImage* img)
{
  Geometry g;
  const auto region = img->GetLargestPossibleRegion();
  for (int i = 0; i < 3; ++i)
  {
    g.size[i] = static_cast<int64_t>(region.GetSize()[i]);
    g.spacingMm[i] = img->GetSpacing()[i];
    g.originMm[i] = img->GetOrigin()[i];
    for (int j = 0; j < 3; ++j)
      g.direction[i * 3 + j] = img->GetDirection()[i][j];
  }
  return g;
}

template <typename TImage> void applyGeometry(const Geometry& g, TImage* img)
{
  typename TImage::RegionType region;
  typename TImage::SpacingType sp;
  typename TImage::PointType org;
  typename TImage::DirectionType dir;
  for (unsigned i = 0; i < 3; ++i)
  {
    region.SetSize(i, static_cast<itk::SizeValueType>(g.size[i]));
    region.SetIndex(i, 0);
    sp[i] = g.spacingMm[i];
    org[i] = g.originMm[i];
    for (unsigned j = 0; j < 3; ++j)
      dir[i][j] = g.direction[i * 3 + j];
  }
  img->SetRegions(region);
  img->SetSpacing(sp);
  img->SetOrigin(org);
  img->SetDirection(dir);
}

/// "DICM" after the 128-byte preamble (DICOM Part 10).
bool hasDicomMagic(const std::string& path)
{
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f)
    return false;
  char magic[132] = {};
  const size_t n = std::fread(magic, 1, sizeof magic, f);
  std::fclose(f);
  return n == sizeof magic && std::memcmp(magic + 128, "DICM", 4) == 0;
}

/// Inspects a file's header: dimension and components. Throws a clear Error when it is not a
/// 3-D scalar volume.
itk::ImageIOBase::Pointer probe(const std::string& path, io::HeaderFacts* facts = nullptr)
{
  io::routeLibraryMessages();
  if (!fs::exists(path))
    throw Error("file not found: " + path);
  if (fs::is_regular_file(path) && fs::file_size(path) == 0)
    throw Error("empty file: " + path);
  // GDCM's CanReadFile, asked by the factory, asserts on a DICOM file cut short after its
  // preamble: DCMTK parses a file with the DICOM magic first.
  if (fs::is_regular_file(path) && hasDicomMagic(path))
    if (const std::string problem = io::dicomParseProblem(path); !problem.empty())
      throw Error("not a readable DICOM file: " + path + ": " + problem);
  auto io = itk::ImageIOFactory::CreateImageIO(path.c_str(), itk::ImageIOFactory::FileModeEnum::ReadMode);
  if (!io)
    throw Error("unsupported or unreadable image format: " + path +
                " (expected NIfTI .nii/.nii.gz, NRRD, MetaImage .mha/.mhd or DICOM)");
  io->SetFileName(path);
  // Our own header checks first: the libraries abort on some malformed headers (a NaN in a NIfTI
  // sform) and read others wrongly (truncated data, a NaN origin, a missing spacing).
  const io::HeaderFacts checked = io::checkHeader(path);
  if (facts)
    *facts = checked;
  try
  {
    io::StderrToLibraryLog quiet;
    io->ReadImageInformation();
  }
  catch (const itk::ExceptionObject& e)
  {
    throw Error("cannot read header of " + path + ": " + itkMessage(e));
  }
  const unsigned dim = io->GetNumberOfDimensions();
  if (io->GetNumberOfComponents() != 1)
    throw Error(path + " has " + std::to_string(io->GetNumberOfComponents()) +
                " components per voxel (colour or vector image); a scalar volume is required");
  if (dim > 3)
  {
    size_t extra = 1;
    for (unsigned d = 3; d < dim; ++d)
      extra *= io->GetDimensions(d);
    if (extra > 1)
      throw Error(path + " is a " + std::to_string(dim) + "-D image (" + std::to_string(extra) +
                  " volumes); only single 3-D volumes are supported — split the time series first");
  }
  if (dim < 3 || io->GetDimensions(2) < 2)
    throw Error(path + " is a 2-D image (" + std::to_string(io->GetDimensions(0)) + "x" +
                std::to_string(dim > 1 ? io->GetDimensions(1) : 1) +
                "); a 3-D volume with at least 2 slices is required");
  return io;
}

/// Runs an ITK reader with progress reporting and cancellation; ITK failures become Errors
/// that name `what`.
void runWithProgress(itk::ProcessObject* po, const ProgressFn& progress, const std::string& what)
{
  struct Ctx
  {
    const ProgressFn* fn;
    itk::ProcessObject* po;
  } ctx{ &progress, po };
  auto cmd = itk::CStyleCommand::New();
  unsigned long tag = 0;
  if (progress)
  {
    cmd->SetClientData(&ctx);
    cmd->SetCallback([](itk::Object*, const itk::EventObject&, void* data) {
      auto* c = static_cast<Ctx*>(data);
      if (!(*c->fn)(c->po->GetProgress()))
        c->po->AbortGenerateDataOn();
    });
    tag = po->AddObserver(itk::ProgressEvent(), cmd);
  }
  try
  {
    io::StderrToLibraryLog quiet;
    po->Update();
  }
  catch (const itk::ProcessAborted&)
  {
    if (progress)
      po->RemoveObserver(tag);
    throw Error("cancelled while reading " + what);
  }
  catch (const itk::ExceptionObject& e)
  {
    if (progress)
      po->RemoveObserver(tag);
    throw Error("cannot read " + what + ": " + itkMessage(e));
  }
  if (progress)
    po->RemoveObserver(tag);
}

template <typename TImage> typename TImage::Pointer readFile(const std::string& path, const ProgressFn& progress)
{
  auto reader = itk::ImageFileReader<TImage>::New();
  reader->SetFileName(path);
  runWithProgress(reader, progress, path);
  return reader->GetOutput();
}

// ---------------------------------------------------------------------------------------------
// DICOM
const gdcm::Tag kSeriesUid(0x0020, 0x000e);
const gdcm::Tag kStudyUid(0x0020, 0x000d);
const gdcm::Tag kIop(0x0020, 0x0037);
const gdcm::Tag kIpp(0x0020, 0x0032);
const gdcm::Tag kModality(0x0008, 0x0060);
const gdcm::Tag kSopClass(0x0008, 0x0016);
const gdcm::Tag kMediaSopClass(0x0002, 0x0002);
const gdcm::Tag kSeriesDescription(0x0008, 0x103e);
const gdcm::Tag kSeriesNumber(0x0020, 0x0011);
const gdcm::Tag kRows(0x0028, 0x0010);
const gdcm::Tag kColumns(0x0028, 0x0011);
const gdcm::Tag kFrames(0x0028, 0x0008);
const gdcm::Tag kGantryTilt(0x0018, 0x1120);

// Storage classes that are not image slices of a volume (segmentation, structure sets, reports...).
bool isNonImageSopClass(const std::string& uid)
{
  static const char* prefixes[] = {
    "1.2.840.10008.5.1.4.1.1.66",   // Segmentation, Raw data, Spatial registration...
    "1.2.840.10008.5.1.4.1.1.481",  // RT objects
    "1.2.840.10008.5.1.4.1.1.88",   // Structured reports
    "1.2.840.10008.5.1.4.1.1.11",   // Presentation states
    "1.2.840.10008.5.1.4.1.1.104",  // Encapsulated PDF/CDA
  };
  for (const char* p : prefixes)
    if (uid.rfind(p, 0) == 0)
      return true;
  return false;
}

struct SliceFile
{
  std::string path;
  std::vector<double> ipp;
  std::vector<double> iop;
  std::string seriesUid;
  std::string sopClass;
};

struct ScanResult
{
  std::map<std::string, std::vector<SliceFile>> groups; // key -> files
  std::map<std::string, std::string> describe;           // key -> description
  size_t filesExamined = 0;
  size_t dicomFiles = 0;
  std::vector<std::string> unreadable; // DICOM-looking files (DICM magic, .dcm/.ima) GDCM cannot parse
  std::vector<SliceFile> noPixels;     // image-class DICOM files without Rows (cut-off headers)
};

/// "DICM" after the 128-byte preamble, or a DICOM extension: a file meant to be DICOM.
bool looksLikeDicom(const std::string& path)
{
  const std::string l = lower(path);
  return endsWith(l, ".dcm") || endsWith(l, ".ima") || hasDicomMagic(path);
}

ScanResult scanFolder(const std::string& folder)
{
  io::routeLibraryMessages();
  ScanResult r;
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec))
    if (entry.is_regular_file())
      files.push_back(entry.path().string());
  if (ec)
    throw Error("cannot list folder " + folder + ": " + ec.message());
  std::sort(files.begin(), files.end());
  r.filesExamined = files.size();
  if (files.empty())
    return r;

  gdcm::Scanner scanner;
  for (const auto& t : { kSeriesUid, kStudyUid, kIop, kIpp, kModality, kSopClass, kMediaSopClass,
                         kSeriesDescription, kSeriesNumber, kRows, kColumns })
    scanner.AddTag(t);
  gdcm::Directory::FilenamesType names(files.begin(), files.end());
  scanner.Scan(names);

  for (const auto& f : files)
  {
    if (!scanner.IsKey(f.c_str()))
    {
      if (looksLikeDicom(f))
        r.unreadable.push_back(f);
      continue; // not DICOM
    }
    ++r.dicomFiles;
    auto value = [&](const gdcm::Tag& t) {
      const char* v = scanner.GetValue(f.c_str(), t);
      return v ? trim(v) : std::string();
    };
    std::string sop = value(kSopClass);
    if (sop.empty())
      sop = value(kMediaSopClass);
    if (isNonImageSopClass(sop))
      continue;
    SliceFile s{ f, parseDecimals(value(kIpp)), parseDecimals(value(kIop)), value(kSeriesUid), sop };
    if (value(kRows).empty())
    {
      r.noPixels.push_back(s); // no pixel matrix: a slice whose header is cut off, or another object
      continue;
    }
    std::string key = value(kSeriesUid);
    if (key.empty())
    {
      // Empty Study/Series UIDs happen in anonymised exports: group by what identifies an
      // acquisition instead (modality, series number and description, orientation, matrix).
      key = "noUID|" + value(kModality) + "|" + value(kSeriesNumber) + "|" + value(kSeriesDescription) +
            "|" + value(kIop) + "|" + value(kRows) + "x" + value(kColumns);
    }
    else
    {
      // One SeriesInstanceUID may still hold differently oriented stacks (localisers).
      key += "|" + value(kIop);
    }
    r.groups[key].push_back(s);
    std::string desc = value(kSeriesDescription);
    r.describe[key] = (value(kModality).empty() ? std::string("?") : value(kModality)) + " " +
                      (desc.empty() ? std::string("(no description)") : desc);
  }
  return r;
}

Vec3 cross(const Vec3& a, const Vec3& b)
{
  return { a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0] };
}
double dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

struct SortedSeries
{
  std::vector<std::string> files;
  double sliceSpacingMm = 0;   // mean along the normal
  Vec3 normal{ 0, 0, 1 };
  bool haveGeometry = false;
};

/// Orders slices along the normal and refuses stacks that one regular grid cannot represent.
SortedSeries sortAndCheck(std::vector<SliceFile> slices, const std::string& folder)
{
  SortedSeries out;
  const bool geo = std::all_of(slices.begin(), slices.end(), [](const SliceFile& s) {
    return s.ipp.size() == 3 && s.iop.size() == 6;
  });
  if (!geo || slices.size() < 2)
  {
    for (auto& s : slices)
      out.files.push_back(s.path);
    return out;
  }
  out.haveGeometry = true;
  const Vec3 row{ slices[0].iop[0], slices[0].iop[1], slices[0].iop[2] };
  const Vec3 col{ slices[0].iop[3], slices[0].iop[4], slices[0].iop[5] };
  out.normal = cross(row, col);
  auto pos = [&](const SliceFile& s) { return dot({ s.ipp[0], s.ipp[1], s.ipp[2] }, out.normal); };
  std::stable_sort(slices.begin(), slices.end(),
                   [&](const SliceFile& a, const SliceFile& b) { return pos(a) < pos(b); });

  double minGap = 1e300, maxGap = 0, maxTiltDeg = 0;
  int duplicates = 0;
  for (size_t i = 1; i < slices.size(); ++i)
  {
    const Vec3 d{ slices[i].ipp[0] - slices[i - 1].ipp[0], slices[i].ipp[1] - slices[i - 1].ipp[1],
                  slices[i].ipp[2] - slices[i - 1].ipp[2] };
    const double along = dot(d, out.normal);
    if (std::abs(along) < 1e-4)
    {
      ++duplicates;
      continue;
    }
    const double total = std::sqrt(dot(d, d));
    const double perp = std::sqrt(std::max(0.0, total * total - along * along));
    maxTiltDeg = std::max(maxTiltDeg, std::atan2(perp, std::abs(along)) * 180.0 / M_PI);
    minGap = std::min(minGap, along);
    maxGap = std::max(maxGap, along);
  }
  if (duplicates > 0)
    throw Error("DICOM series in " + folder + " has " + std::to_string(duplicates) +
                " slices at the same position (several stacks or time points in one series); "
                "select a single stack");
  char buf[512];
  if (maxTiltDeg > 0.5)
  {
    std::snprintf(buf, sizeof buf,
                  "DICOM series in %s is sheared: slice positions deviate %.1f degrees from the slice "
                  "normal (gantry tilt); a tilted stack is not a regular grid and is refused rather than "
                  "shown distorted — reconstruct it without tilt (e.g. dcm2niix) first",
                  folder.c_str(), maxTiltDeg);
    throw Error(buf);
  }
  const double tolerance = std::max(0.01, 0.01 * maxGap);
  if (maxGap - minGap > tolerance)
  {
    std::snprintf(buf, sizeof buf,
                  "DICOM series in %s has non-uniform slice spacing (%.2f to %.2f mm between "
                  "neighbouring slices; missing slices or variable reconstruction); refused because "
                  "one regular grid cannot represent it",
                  folder.c_str(), minGap, maxGap);
    throw Error(buf);
  }
  out.sliceSpacingMm = (pos(slices.back()) - pos(slices.front())) / double(slices.size() - 1);
  for (auto& s : slices)
    out.files.push_back(s.path);
  return out;
}

std::string metaString(const itk::MetaDataDictionary& dict, const std::string& key)
{
  std::string v;
  itk::ExposeMetaData<std::string>(dict, key, v);
  return trim(v);
}

Image toImage(const FloatImage* img)
{
  Image out(geometryOf(img));
  const float* p = img->GetBufferPointer();
  std::copy(p, p + out.voxels.size(), out.voxels.begin());
  return out;
}

Image readDicomSeries(const std::string& folder, const std::string& preferredFile, const ProgressFn& progress,
                      const ReadOptions& options)
{
  io::routeLibraryMessages();
  ScanResult scan = scanFolder(folder);
  if (scan.filesExamined == 0)
    throw Error("folder is empty: " + folder);
  if (scan.groups.empty())
    throw Error("no DICOM image series in " + folder + " (" + std::to_string(scan.filesExamined) +
                " files examined, " + std::to_string(scan.dicomFiles) + " DICOM)");
  // The series holding the preferred file, else the one with most slices.
  auto chosen = scan.groups.end();
  for (auto it = scan.groups.begin(); it != scan.groups.end(); ++it)
  {
    if (!preferredFile.empty())
    {
      for (const auto& s : it->second)
        if (fs::equivalent(s.path, preferredFile))
          chosen = it;
    }
    else if (chosen == scan.groups.end() || it->second.size() > chosen->second.size())
      chosen = it;
  }
  if (chosen == scan.groups.end())
    throw Error(preferredFile + " is not an image slice of a DICOM series in " + folder);

  // Every slice is examined with DCMTK before GDCM decodes it (GDCM asserts or crashes on some
  // malformed headers and only warns about truncated pixel data), and a DICOM file of the folder
  // that cannot be parsed at all may be a slice of this series: either makes a gap.
  std::vector<SliceFile> readable;
  std::vector<std::string> bad;
  bool spacingKnown = true;
  for (const auto& s : chosen->second)
  {
    const io::DicomSliceCheck check = io::checkDicomSlice(s.path);
    if (!check.problem.empty())
    {
      if (!preferredFile.empty() && fs::equivalent(s.path, preferredFile))
        throw Error("DICOM " + s.path + ": " + check.problem);
      bad.push_back(fs::path(s.path).filename().string() + " (" + check.problem + ")");
      continue;
    }
    spacingKnown = spacingKnown && check.pixelSpacingKnown;
    readable.push_back(s);
  }
  for (const auto& u : scan.unreadable)
    bad.push_back(fs::path(u).filename().string() + " (not a readable DICOM file)");
  // A file of the same series and class without a pixel matrix is a slice cut off in its header.
  const SliceFile& first = chosen->second.front();
  for (const auto& n : scan.noPixels)
    if ((n.seriesUid.empty() || n.seriesUid == first.seriesUid) && (n.sopClass.empty() || n.sopClass == first.sopClass))
      bad.push_back(fs::path(n.path).filename().string() + " (no pixel data: its header is cut off)");
  std::vector<std::string> warnings;
  if (!bad.empty())
  {
    std::string list = bad.front();
    if (bad.size() > 1)
      list += " and " + std::to_string(bad.size() - 1) + " more";
    if (!options.acceptGaps)
      throw Error("DICOM series in " + folder + " has an unreadable slice: " + list +
                  "; refused because a series with a missing slice is measured wrong (panseg import "
                  "--accept-gaps imports the readable slices, flagged)");
    std::string all;
    for (const auto& b : bad)
      all += (all.empty() ? "" : "; ") + b;
    warnings.push_back("slice gap accepted: " + std::to_string(bad.size()) + " unreadable file(s) left out: " + all);
  }
  if (readable.empty())
    throw Error("no readable slice in the DICOM series in " + folder);
  if (!spacingKnown && !options.allowUnknownSpacing)
    throw Error("DICOM series in " + folder +
                " has no PixelSpacing: its voxel size is unknown, so every length and volume would be wrong; "
                "refused (panseg info shows it with the spacing marked unknown)");

  SortedSeries series = sortAndCheck(readable, folder);
  auto gdcmIO = itk::GDCMImageIO::New();
  FloatImage::Pointer out;
  if (series.files.size() == 1)
  {
    // single file: multi-frame object or a lone 2-D slice
    gdcmIO->SetFileName(series.files[0]);
    try
    {
      io::StderrToLibraryLog quiet;
      gdcmIO->ReadImageInformation();
    }
    catch (const itk::ExceptionObject& e)
    {
      throw Error("cannot read DICOM " + series.files[0] + ": " + itkMessage(e));
    }
    if (gdcmIO->GetNumberOfDimensions() < 3 || gdcmIO->GetDimensions(2) < 2)
      throw Error(series.files[0] + " is a single 2-D DICOM slice; a 3-D series (at least 2 slices) is "
                                    "required");
    auto reader = itk::ImageFileReader<FloatImage>::New();
    reader->SetImageIO(gdcmIO);
    reader->SetFileName(series.files[0]);
    try
    {
      io::StderrToLibraryLog quiet;
      reader->Update();
    }
    catch (const itk::ExceptionObject& e)
    {
      throw Error("cannot read DICOM " + series.files[0] + ": " + itkMessage(e));
    }
    out = reader->GetOutput();
  }
  else
  {
    auto reader = itk::ImageSeriesReader<FloatImage>::New();
    reader->SetImageIO(gdcmIO);
    reader->SetFileNames(series.files);
    reader->ForceOrthogonalDirectionOff(); // we checked the geometry ourselves
    runWithProgress(reader, progress, "the DICOM series in " + folder);
    out = reader->GetOutput();
  }

  Image image = toImage(out);
  if (series.haveGeometry && series.sliceSpacingMm > 0)
  {
    // Spacing from the positions of all slices, direction from orientation + normal.
    image.geometry.spacingMm[2] = series.sliceSpacingMm;
    for (int r = 0; r < 3; ++r)
      image.geometry.direction[r * 3 + 2] = series.normal[r];
  }
  const auto& dict = gdcmIO->GetMetaDataDictionary();
  image.info.format = "DICOM";
  image.info.sourcePath = folder;
  image.info.dicomFileCount = static_cast<int>(series.files.size());
  image.info.modality = metaString(dict, "0008|0060");
  static const std::pair<const char*, const char*> keep[] = {
    { "0010|0010", "PatientName" },        { "0010|0020", "PatientID" },
    { "0008|0020", "StudyDate" },          { "0008|0030", "StudyTime" },
    { "0008|1030", "StudyDescription" },   { "0008|103e", "SeriesDescription" },
    { "0020|000d", "StudyInstanceUID" },   { "0020|000e", "SeriesInstanceUID" },
    { "0020|0052", "FrameOfReferenceUID" }, { "0008|0070", "Manufacturer" },
    { "0008|1090", "ManufacturerModelName" }, { "0018|0050", "SliceThickness" },
    { "0018|0015", "BodyPartExamined" },   { "0018|0020", "ScanningSequence" },
    { "0018|0021", "SequenceVariant" },    { "0018|0024", "SequenceName" },
    { "0018|0080", "RepetitionTime" },     { "0018|0081", "EchoTime" },
    { "0008|0080", "InstitutionName" },    { "0020|0011", "SeriesNumber" },
    { "0002|0010", "TransferSyntaxUID" },  { "0008|0016", "SOPClassUID" },
  };
  for (const auto& [tag, name] : keep)
  {
    const std::string v = metaString(dict, tag);
    if (!v.empty())
      image.info.tags[name] = v;
  }
  image.info.tags["SeriesKey"] = chosen->first;
  image.info.warnings = warnings;
  if (!spacingKnown)
  {
    image.info.spacingKnown = false;
    image.info.spacingNote = "no PixelSpacing";
    image.info.warnings.push_back("spacing unknown (no PixelSpacing), shown as 1 mm");
  }
  return image;
}

/// DICOM Part 10 files carry "DICM" after a 128-byte preamble. Checked by hand: GDCM's own
/// CanReadFile decodes enough of some objects (RLE-encoded SEG) to hit an assertion that aborts
/// the process, and a reader must never take the workstation down.
bool isDicomFile(const std::string& path)
{
  io::routeLibraryMessages();
  if (hasDicomMagic(path))
    return true;
  if (!fs::is_regular_file(path) || fs::file_size(path) < 8)
    return false;
  // Raw datasets without the preamble: let the header-only scanner decide.
  gdcm::Scanner scanner;
  scanner.AddTag(kSopClass);
  gdcm::Directory::FilenamesType one{ path };
  return scanner.Scan(one) && scanner.IsKey(path.c_str());
}

std::string sopClassOf(const std::string& path)
{
  io::routeLibraryMessages();
  gdcm::Scanner scanner;
  scanner.AddTag(kSopClass);
  scanner.AddTag(kMediaSopClass);
  gdcm::Directory::FilenamesType one{ path };
  if (!scanner.Scan(one) || !scanner.IsKey(path.c_str()))
    return {};
  const char* v = scanner.GetValue(path.c_str(), kSopClass);
  if (!v || trim(v).empty())
    v = scanner.GetValue(path.c_str(), kMediaSopClass);
  return v ? trim(v) : std::string();
}

std::string sopClassName(const std::string& uid)
{
  if (uid == "1.2.840.10008.5.1.4.1.1.66.4")
    return "Segmentation";
  if (uid.rfind("1.2.840.10008.5.1.4.1.1.481", 0) == 0)
    return "RT";
  if (uid.rfind("1.2.840.10008.5.1.4.1.1.88", 0) == 0)
    return "Structured Report";
  if (uid.rfind("1.2.840.10008.5.1.4.1.1.11", 0) == 0)
    return "Presentation State";
  return "non-image (SOP class " + uid + ")";
}

std::string tempSibling(const std::string& path)
{
  const fs::path p(path);
  const std::string name = p.filename().string();
  // keep the (possibly double) extension so ITK picks the same writer
  const std::string l = lower(name);
  std::string ext = p.extension().string();
  if (endsWith(l, ".nii.gz"))
    ext = name.substr(name.size() - 7);
  return (p.parent_path() / (".tmp-" + std::to_string(::getpid()) + "-" + name.substr(0, name.size() - ext.size()) + ext)).string();
}

/// For a NIfTI file (.nii or .nii.gz, NIfTI-1 or -2 as ITK writes them on this machine): whether
/// its voxel data, from the header's vox_offset to the end, is exactly `bytes` at `data`. Streams
/// (no second copy of the volume). nullopt when the header is not one this check understands:
/// the caller then reads the file back with ITK.
std::optional<bool> niftiHoldsVoxels(const std::string& path, const void* data, size_t bytes, std::string* why)
{
  gzFile gz = gzopen(path.c_str(), "rb"); // reads .nii as it is and .nii.gz inflated
  if (!gz)
  {
    *why = "cannot open it again";
    return false;
  }
  struct Close
  {
    gzFile f;
    ~Close() { gzclose(f); }
  } closer{ gz };
  gzbuffer(gz, 1 << 20);
  unsigned char header[540] = {};
  const int got = gzread(gz, header, 4);
  int32_t sizeofHdr = 0;
  std::memcpy(&sizeofHdr, header, 4);
  if (got != 4 || (sizeofHdr != 348 && sizeofHdr != 540))
    return std::nullopt; // another byte order or not NIfTI: ITK decides
  if (gzread(gz, header + 4, unsigned(sizeofHdr - 4)) != sizeofHdr - 4)
  {
    *why = "the header was cut short";
    return false;
  }
  int64_t offset = 0;
  if (sizeofHdr == 348)
  {
    float f = 0;
    std::memcpy(&f, header + 108, 4);
    offset = int64_t(f);
  }
  else
    std::memcpy(&offset, header + 168, 8);
  if (offset < sizeofHdr)
    return std::nullopt;
  std::vector<unsigned char> buf(1 << 20);
  for (int64_t skip = offset - sizeofHdr; skip > 0;)
  {
    const int n = gzread(gz, buf.data(), unsigned(std::min<int64_t>(skip, int64_t(buf.size()))));
    if (n <= 0)
    {
      *why = "the file was cut short before its voxels";
      return false;
    }
    skip -= n;
  }
  const auto* expected = static_cast<const unsigned char*>(data);
  size_t done = 0;
  for (;;)
  {
    const int n = gzread(gz, buf.data(), unsigned(buf.size()));
    if (n < 0)
    {
      int errnum = Z_OK;
      const char* msg = gzerror(gz, &errnum);
      *why = std::string("the file was cut short while writing (gzip: ") + (msg ? msg : "") + ")";
      return false;
    }
    if (n == 0)
      break;
    if (done + size_t(n) > bytes || std::memcmp(buf.data(), expected + done, size_t(n)) != 0)
    {
      *why = "the voxels read back differ from those written";
      return false;
    }
    done += size_t(n);
  }
  if (done != bytes)
  {
    *why = "the file was cut short (" + std::to_string(done) + " of " + std::to_string(bytes) + " voxel bytes)";
    return false;
  }
  return true;
}

template <typename TImage> void writeAtomically(TImage* img, const std::string& path)
{
  io::routeLibraryMessages();
  if (formatOf(path).empty() || formatOf(path) == "DICOM")
    throw Error("cannot write " + path + ": use .nii, .nii.gz, .nrrd, .mha or .mhd");
  const fs::path dir = fs::path(path).parent_path().empty() ? fs::path(".") : fs::path(path).parent_path();
  if (!fs::is_directory(dir))
    throw Error("cannot write " + path + ": folder " + dir.string() + " does not exist");
  // Detached-header formats (.mhd + .raw, .nhdr + .raw) name their data file inside the header,
  // so a temp-then-rename would leave the header pointing at the temp name: written in place.
  const bool detached = endsWith(lower(path), ".mhd") || endsWith(lower(path), ".nhdr");
  const std::string tmp = detached ? path : tempSibling(path);
  auto writer = itk::ImageFileWriter<TImage>::New();
  writer->SetFileName(tmp);
  writer->SetInput(img);
  writer->SetUseCompression(true);
  try
  {
    io::StderrToLibraryLog quiet;
    writer->Update();
  }
  catch (const itk::ExceptionObject& e)
  {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw Error("cannot write " + path + ": " + itkMessage(e));
  }
  // ITK's writers report a short write (full disk, file-size limit) only as a console warning and
  // return normally: read the file back and compare before it replaces anything. NIfTI (what the
  // study database and the exports write) is streamed and compared in place; the other formats
  // are read back through ITK.
  try
  {
    const size_t bytes = img->GetLargestPossibleRegion().GetNumberOfPixels() * sizeof(typename TImage::PixelType);
    std::optional<bool> same;
    std::string why;
    if (formatOf(path) == "NIfTI")
      same = niftiHoldsVoxels(tmp, img->GetBufferPointer(), bytes, &why);
    if (!same)
    {
      auto check = readFile<TImage>(tmp, {});
      same = check->GetLargestPossibleRegion() == img->GetLargestPossibleRegion() &&
             std::memcmp(check->GetBufferPointer(), img->GetBufferPointer(), bytes) == 0;
      why = "the voxels read back differ from those written";
    }
    if (!*same)
      throw Error(why);
  }
  catch (const Error& e)
  {
    std::error_code ec;
    if (!detached)
      fs::remove(tmp, ec);
    std::string free;
    const auto space = fs::space(dir, ec);
    if (!ec)
      free = " (" + std::to_string(space.available / 1024) + " kB free on that disk)";
    throw Error("cannot write " + path + ": the written file is incomplete or unreadable" + free + ": " + e.what());
  }
  if (!detached)
    commitFile(tmp, path);
}
} // namespace

static Image readImageUnchecked(const std::string& path, const ProgressFn& progress, const ReadOptions& options);
static LabelMask readMaskAs(const std::string& path, itk::IOComponentEnum type);

bool looksLikeImagePath(const std::string& path)
{
  if (fs::is_directory(path))
    return true;
  return !formatOf(path).empty();
}

Image readImage(const std::string& path, const ProgressFn& progress, const ReadOptions& options)
{
  Image image = readImageUnchecked(path, progress, options);
  io::checkGeometry(image.geometry, path);
  return image;
}

static Image readImageUnchecked(const std::string& path, const ProgressFn& progress, const ReadOptions& options)
{
  if (path.empty())
    throw Error("no image path given");
  if (!fs::exists(path))
    throw Error("file or folder not found: " + path);
  if (fs::is_directory(path))
    return readDicomSeries(path, "", progress, options);
  if (formatOf(path) == "DICOM" || (formatOf(path).empty() && isDicomFile(path)))
  {
    if (fs::file_size(path) == 0)
      throw Error("empty file: " + path);
    if (!isDicomFile(path))
      throw Error("not a readable DICOM file: " + path);
    if (const std::string problem = io::dicomParseProblem(path); !problem.empty())
      throw Error("not a readable DICOM file: " + path + ": " + problem);
    const std::string sop = sopClassOf(path);
    if (isNonImageSopClass(sop))
      throw Error(path + " is a DICOM " + sopClassName(sop) + " object, not an image series" +
                  (sop == "1.2.840.10008.5.1.4.1.1.66.4" ? "; open it as a mask (DICOM SEG) instead" : ""));
    const std::string folder = fs::path(path).parent_path().empty() ? "." : fs::path(path).parent_path().string();
    return readDicomSeries(folder, path, progress, options);
  }
  io::HeaderFacts facts;
  auto io = probe(path, &facts);
  if (!facts.spacingKnown && !options.allowUnknownSpacing)
    throw Error(path + ": " + facts.spacingNote +
                ", so the voxel size is unknown and every length and volume would be wrong; refused");
  auto itkImg = readFile<FloatImage>(path, progress);
  Image image = toImage(itkImg);
  if (!facts.spacingKnown)
  {
    image.info.spacingKnown = false;
    image.info.spacingNote = facts.spacingNote;
    image.info.warnings.push_back("spacing unknown (" + facts.spacingNote + "), shown as 1 mm");
  }
  image.info.sourcePath = path;
  image.info.format = formatOf(path);
  image.info.pixelType = itk::ImageIOBase::GetComponentTypeAsString(io->GetComponentType());
  return image;
}

namespace
{
/// Reads a label map in its stored pixel type (no float64 detour for the usual uint8/int16 maps)
/// and checks every value is a whole number 0..255.
template <typename TPixel> LabelMask readLabelsAs(const std::string& path)
{
  using ImageType = itk::Image<TPixel, 3>;
  auto img = readFile<ImageType>(path, {});
  LabelMask mask(geometryOf(img.GetPointer()));
  mask.sourcePath = path;
  const TPixel* p = img->GetBufferPointer();
  for (size_t i = 0; i < mask.voxels.size(); ++i)
  {
    const TPixel v = p[i];
    if (!(v >= TPixel(0) && v <= TPixel(255)) || static_cast<double>(v) != std::floor(static_cast<double>(v)))
    {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
      throw Error(path + " is not a label map: voxel value " + buf +
                  " (labels must be whole numbers from 0 to 255)");
    }
    mask.voxels[i] = static_cast<uint8_t>(v);
  }
  return mask;
}
} // namespace

/// DICOM SEG masks are read by core/io/DicomSeg (DCMTK); every other format by ITK below.
static bool isSegMaskPath(const std::string& path)
{
  return fs::is_regular_file(path) && (formatOf(path) == "DICOM" || formatOf(path).empty()) && isDicomFile(path) &&
         isDicomSegFile(path);
}

LabelMask readMask(const std::string& path)
{
  if (fs::is_directory(path))
    throw Error(path + " is a folder; a mask must be a NIfTI, NRRD or MetaImage file or a DICOM SEG file");
  if (isSegMaskPath(path))
    return importDicomSeg(path).mask; // grid from the SEG's own frames
  io::HeaderFacts facts;
  auto io = probe(path, &facts);
  LabelMask mask = readMaskAs(path, io->GetComponentType());
  if (!facts.spacingKnown)
    throw Error(path + ": " + facts.spacingNote + ", so the voxel size is unknown and its volume would be wrong");
  io::checkGeometry(mask.geometry, path);
  return mask;
}

static LabelMask readMaskAs(const std::string& path, itk::IOComponentEnum type)
{
  using C = itk::IOComponentEnum;
  switch (type)
  {
    case C::UCHAR:
      return readLabelsAs<unsigned char>(path);
    case C::CHAR:
      return readLabelsAs<signed char>(path);
    case C::USHORT:
      return readLabelsAs<unsigned short>(path);
    case C::SHORT:
      return readLabelsAs<short>(path);
    case C::UINT:
      return readLabelsAs<unsigned int>(path);
    case C::INT:
      return readLabelsAs<int>(path);
    case C::FLOAT:
      return readLabelsAs<float>(path);
    default:
      return readLabelsAs<double>(path);
  }
}

LabelMask readMaskFor(const std::string& path, const Geometry& reference)
{
  if (isSegMaskPath(path))
    return importDicomSeg(path, reference).mask; // frames placed on the image grid by plane position
  LabelMask m = readMask(path);
  std::string why;
  if (m.geometry.sameGrid(reference, &why))
    return m;
  // Same voxels stored with flipped/permuted axes (another tool's convention): re-index exactly.
  LabelMask reindexed;
  if (reindexOntoGrid(m, reference, &reindexed))
    return reindexed;
  throw Error("mask " + path + " does not match the image grid: " + why);
}

void writeImage(const Image& image, const std::string& path)
{
  // CT and most MR hold whole numbers: store them as int16 like scanners do (half the size,
  // faster to compress, and other tools see the usual type); anything else stays float32.
  const bool integral = std::all_of(image.voxels.begin(), image.voxels.end(), [](float v) {
    return v >= -32768.0f && v <= 32767.0f && v == std::floor(v);
  });
  if (integral)
  {
    using ShortImage = itk::Image<short, 3>;
    auto img = ShortImage::New();
    applyGeometry(image.geometry, img.GetPointer());
    img->Allocate();
    std::transform(image.voxels.begin(), image.voxels.end(), img->GetBufferPointer(),
                   [](float v) { return static_cast<short>(v); });
    writeAtomically(img.GetPointer(), path);
    return;
  }
  auto img = FloatImage::New();
  applyGeometry(image.geometry, img.GetPointer());
  img->Allocate();
  std::copy(image.voxels.begin(), image.voxels.end(), img->GetBufferPointer());
  writeAtomically(img.GetPointer(), path);
}

void writeMask(const LabelMask& mask, const std::string& path)
{
  auto img = ByteImage::New();
  applyGeometry(mask.geometry, img.GetPointer());
  img->Allocate();
  std::copy(mask.voxels.begin(), mask.voxels.end(), img->GetBufferPointer());
  writeAtomically(img.GetPointer(), path);
}

std::vector<DicomSeriesEntry> listDicomSeries(const std::string& folder)
{
  std::vector<DicomSeriesEntry> out;
  ScanResult scan = scanFolder(folder);
  for (auto& [key, files] : scan.groups)
  {
    DicomSeriesEntry e;
    e.id = key;
    e.description = scan.describe[key] + " (" + std::to_string(files.size()) + " files)";
    for (auto& f : files)
      e.files.push_back(f.path);
    out.push_back(std::move(e));
  }
  return out;
}

} // namespace panseg
