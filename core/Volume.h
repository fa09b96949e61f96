#pragma once
// Voxel containers sharing one Geometry. Image = intensities (float32), LabelMask = labels (uint8).

#include "core/Geometry.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace panseg
{
template <typename T> struct Volume
{
  Geometry geometry;
  std::vector<T> voxels; // x fastest, then y, then z

  Volume() = default;
  explicit Volume(const Geometry& g, T fill = T{})
    : geometry(g), voxels(static_cast<size_t>(g.voxelCount()), fill) {}

  int64_t nx() const { return geometry.size[0]; }
  int64_t ny() const { return geometry.size[1]; }
  int64_t nz() const { return geometry.size[2]; }
  size_t offset(int64_t x, int64_t y, int64_t z) const
  {
    return static_cast<size_t>(x + geometry.size[0] * (y + geometry.size[1] * z));
  }
  bool contains(int64_t x, int64_t y, int64_t z) const
  {
    return x >= 0 && y >= 0 && z >= 0 && x < nx() && y < ny() && z < nz();
  }
  T& at(int64_t x, int64_t y, int64_t z) { return voxels[offset(x, y, z)]; }
  const T& at(int64_t x, int64_t y, int64_t z) const { return voxels[offset(x, y, z)]; }
};

/// What is known about where an image came from (filled by the readers).
struct ImageInfo
{
  std::string sourcePath;
  std::string format;   // "NIfTI", "NRRD", "MetaImage", "DICOM"
  std::string modality; // "CT", "MR", ... or empty when unknown
  int dicomFileCount = 0;
  std::string pixelType; // component type in the file, e.g. "int16"
  std::map<std::string, std::string> tags; // selected DICOM tags (PatientID, SeriesDescription, ...)
  bool spacingKnown = true;  // false: the file gives no voxel spacing (geometry shows 1 mm)
  std::string spacingNote;   // why it is unknown, e.g. "no PixelSpacing"
  std::vector<std::string> warnings; // accepted defects the user should see (e.g. a slice gap)
};

struct Image : Volume<float>
{
  using Volume<float>::Volume;
  ImageInfo info;
};

struct LabelMask : Volume<uint8_t>
{
  using Volume<uint8_t>::Volume;
  std::string sourcePath;

  /// Number of voxels carrying `label` (label 0 = count of non-zero voxels).
  int64_t countLabel(int label) const;
  /// Volume in millilitres of `label` (label 0 = any non-zero label).
  double volumeMl(int label) const;
  /// 0/1 mask of one label (label 0 = any non-zero).
  LabelMask binary(int label) const;
  /// Distinct non-zero labels present.
  std::vector<int> labels() const;
};

} // namespace panseg
