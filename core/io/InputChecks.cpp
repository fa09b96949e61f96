#include "core/io/InputChecks.h"

#include "core/Text.h"
#include "core/io/DicomCommon.h"

#include "core/Error.h"

#include <itkOutputWindow.h>
#include <itkObjectFactory.h>

#include <gdcmTrace.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/oflog/oflog.h>

#include <zlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <streambuf>
#include <vector>

namespace fs = std::filesystem;

namespace panseg::io
{
namespace
{
std::string trim(const std::string& s)
{
  const char* ws = " \t\r\n";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string::npos)
    return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string num(double v)
{
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

/// Largest voxel count a header may announce (2^36, 256 GiB of float32): beyond it the size
/// arithmetic is not trusted and the volume could not be held anyway.
constexpr double kMaxVoxels = 68719476736.0;

/// Bytes a zlib or gzip stream inflates to, reading at most `limit` bytes of `in` from the
/// current position (limit < 0: to the end). *ok is false when the stream is corrupt or ends
/// before its end marker.
uint64_t inflatedSize(std::istream& in, int64_t limit, bool* ok, std::string* why)
{
  z_stream zs{};
  *ok = false;
  if (inflateInit2(&zs, 15 + 32) != Z_OK) // 15 bits window, zlib or gzip header
  {
    *why = "zlib cannot start";
    return 0;
  }
  std::vector<unsigned char> inBuf(1 << 16), outBuf(1 << 18);
  uint64_t total = 0;
  int64_t left = limit;
  bool eof = false;
  auto refill = [&]() {
    if (eof || left == 0)
      return false;
    std::streamsize want = std::streamsize(inBuf.size());
    if (left > 0)
      want = std::min<std::streamsize>(want, std::streamsize(left));
    in.read(reinterpret_cast<char*>(inBuf.data()), want);
    const std::streamsize got = in.gcount();
    if (got <= 0)
    {
      eof = true;
      return false;
    }
    if (left > 0)
      left -= got;
    zs.next_in = inBuf.data();
    zs.avail_in = unsigned(got);
    return true;
  };
  for (;;)
  {
    if (zs.avail_in == 0 && !refill())
    {
      *why = "the compressed stream ends early";
      break;
    }
    zs.next_out = outBuf.data();
    zs.avail_out = unsigned(outBuf.size());
    const int rc = inflate(&zs, Z_NO_FLUSH);
    total += outBuf.size() - zs.avail_out;
    if (rc == Z_STREAM_END)
    {
      // Concatenated gzip members (pigz, bgzip) continue; anything else after the end is ignored.
      if (zs.avail_in == 0)
        refill();
      if (limit < 0 && zs.avail_in >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b)
      {
        inflateReset(&zs);
        continue;
      }
      *ok = true;
      break;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR)
    {
      *why = zs.msg ? zs.msg : ("zlib error " + std::to_string(rc));
      break;
    }
    if (total > uint64_t(kMaxVoxels) * 16)
    {
      *why = "the stream inflates beyond any image PanSeg can hold";
      break;
    }
  }
  inflateEnd(&zs);
  return total;
}

std::string truncatedMessage(const std::string& path, uint64_t have, uint64_t need, const char* what)
{
  return path + " is truncated: it holds " + std::to_string(have) + " bytes of " + what + ", the header promises " +
         std::to_string(need);
}

/// A data file named in a header must be a plain file name in the header's own folder.
fs::path dataFileBeside(const std::string& header, const std::string& name, const char* field)
{
  if (name.empty())
    throw Error(header + ": " + field + " is empty");
  const fs::path p(name);
  if (p.is_absolute() || name.find('/') != std::string::npos || name.find('\\') != std::string::npos ||
      name == "." || name == "..")
    throw Error(header + ": " + field + " '" + name +
                "' is not a file beside the header; external data files must sit in the header's folder");
  const fs::path dir = fs::path(header).parent_path();
  const fs::path full = (dir.empty() ? fs::path(".") : dir) / p;
  std::error_code ec;
  if (!fs::is_regular_file(full, ec))
    throw Error(header + ": its data file " + full.string() + " (" + field + ") is missing");
  return full;
}

// ---- NIfTI ----------------------------------------------------------------------------------
int niftiBytesPerVoxel(int datatype)
{
  switch (datatype)
  {
    case 2: case 256: return 1;        // uint8, int8
    case 4: case 512: return 2;        // int16, uint16
    case 8: case 16: case 768: return 4; // int32, float32, uint32
    case 64: case 1024: case 1280: case 32: return 8; // float64, int64, uint64, complex64
    case 128: return 3;                 // RGB24
    case 2304: return 4;                // RGBA32
    case 1536: case 1792: return 16;    // float128, complex128
    case 2048: return 32;               // complex256
    default: return 0;
  }
}

template <typename T> T readAt(const std::vector<unsigned char>& h, size_t off, bool swap)
{
  T v;
  unsigned char b[sizeof(T)];
  std::memcpy(b, h.data() + off, sizeof(T));
  if (swap)
    std::reverse(b, b + sizeof(T));
  std::memcpy(&v, b, sizeof(T));
  return v;
}
} // namespace

HeaderFacts checkNifti(const std::string& path)
{
  const bool gz = endsWith(lower(path), ".gz");
  std::vector<unsigned char> h(540, 0);
  size_t got = 0;
  uint64_t total = 0;
  if (gz)
  {
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f)
      throw Error("cannot open " + path);
    const int n = gzread(f, h.data(), unsigned(h.size()));
    gzclose(f);
    got = n > 0 ? size_t(n) : 0;
    std::ifstream in(path, std::ios::binary);
    bool ok = false;
    std::string why;
    total = inflatedSize(in, -1, &ok, &why);
    if (!ok)
      throw Error(path + " is truncated or corrupt (gzip: " + why + ")");
  }
  else
  {
    std::ifstream in(path, std::ios::binary);
    if (!in)
      throw Error("cannot open " + path);
    in.read(reinterpret_cast<char*>(h.data()), std::streamsize(h.size()));
    got = size_t(in.gcount());
    total = fs::file_size(path);
  }
  if (got < 348)
    throw Error(path + " is too short for a NIfTI header (" + std::to_string(got) + " bytes)");
  const int32_t s1 = readAt<int32_t>(h, 0, false);
  const int32_t s1s = readAt<int32_t>(h, 0, true);
  const bool v2 = s1 == 540 || s1s == 540;
  const bool swap = v2 ? s1s == 540 : s1s == 348;
  if (!v2 && s1 != 348 && s1s != 348)
    throw Error(path + " is not a NIfTI file (header size field " + std::to_string(s1) + ")");
  if (v2 && got < 540)
    throw Error(path + " is too short for a NIfTI-2 header");

  int64_t dim[8];
  double pixdim[8];
  int datatype = 0, qform = 0, sform = 0;
  double voxOffset = 0, slope = 0, inter = 0, quat[6], srow[12];
  if (!v2)
  {
    for (int i = 0; i < 8; ++i)
    {
      dim[i] = readAt<int16_t>(h, 40 + 2 * size_t(i), swap);
      pixdim[i] = readAt<float>(h, 76 + 4 * size_t(i), swap);
    }
    datatype = readAt<int16_t>(h, 70, swap);
    voxOffset = readAt<float>(h, 108, swap);
    slope = readAt<float>(h, 112, swap);
    inter = readAt<float>(h, 116, swap);
    qform = readAt<int16_t>(h, 252, swap);
    sform = readAt<int16_t>(h, 254, swap);
    for (int i = 0; i < 6; ++i)
      quat[i] = readAt<float>(h, 256 + 4 * size_t(i), swap);
    for (int i = 0; i < 12; ++i)
      srow[i] = readAt<float>(h, 280 + 4 * size_t(i), swap);
  }
  else
  {
    for (int i = 0; i < 8; ++i)
    {
      dim[i] = readAt<int64_t>(h, 16 + 8 * size_t(i), swap);
      pixdim[i] = readAt<double>(h, 104 + 8 * size_t(i), swap);
    }
    datatype = readAt<int16_t>(h, 12, swap);
    voxOffset = double(readAt<int64_t>(h, 168, swap));
    slope = readAt<double>(h, 176, swap);
    inter = readAt<double>(h, 184, swap);
    qform = readAt<int32_t>(h, 344, swap);
    sform = readAt<int32_t>(h, 348, swap);
    for (int i = 0; i < 6; ++i)
      quat[i] = readAt<double>(h, 352 + 8 * size_t(i), swap);
    for (int i = 0; i < 12; ++i)
      srow[i] = readAt<double>(h, 400 + 8 * size_t(i), swap);
  }
  if (dim[0] < 1 || dim[0] > 7)
    throw Error(path + ": NIfTI header has " + std::to_string(dim[0]) + " dimensions (1 to 7 allowed)");
  double voxels = 1;
  for (int i = 1; i <= dim[0]; ++i)
  {
    if (dim[i] < 1)
      throw Error(path + ": NIfTI header gives dimension " + std::to_string(i) + " a size of " +
                  std::to_string(dim[i]));
    voxels *= double(dim[i]);
  }
  if (voxels > kMaxVoxels)
    throw Error(path + ": NIfTI header announces " + num(voxels) + " voxels, more than PanSeg can hold");
  const int bpv = niftiBytesPerVoxel(datatype);
  if (bpv == 0)
    throw Error(path + ": unsupported NIfTI datatype " + std::to_string(datatype));
  for (int i = 1; i <= std::min<int64_t>(3, dim[0]); ++i)
    if (!std::isfinite(pixdim[i]) || pixdim[i] == 0.0 || std::abs(pixdim[i]) > 1e4)
      throw Error(path + ": NIfTI voxel size pixdim[" + std::to_string(i) + "] = " + num(pixdim[i]) +
                  " is not a physical voxel spacing (must be finite, non-zero and at most 10 m)");
  if (!std::isfinite(slope) || !std::isfinite(inter))
    throw Error(path + ": NIfTI intensity scaling (scl_slope " + num(slope) + ", scl_inter " + num(inter) +
                ") is not finite");
  if (qform > 0)
    for (double q : quat)
      if (!std::isfinite(q))
        throw Error(path + ": NIfTI qform holds a non-finite value (" + num(q) + ")");
  if (sform > 0)
  {
    for (double s : srow)
      if (!std::isfinite(s))
        throw Error(path + ": NIfTI sform holds a non-finite value (" + num(s) + ")");
    const double det = srow[0] * (srow[5] * srow[10] - srow[6] * srow[9]) -
                       srow[1] * (srow[4] * srow[10] - srow[6] * srow[8]) +
                       srow[2] * (srow[4] * srow[9] - srow[5] * srow[8]);
    if (!(std::abs(det) > 1e-12))
      throw Error(path + ": NIfTI sform matrix is singular (its voxel axes span no volume)");
    for (int c = 0; c < 3; ++c)
    {
      const double len = std::sqrt(srow[c] * srow[c] + srow[4 + c] * srow[4 + c] + srow[8 + c] * srow[8 + c]);
      if (len > 1e4)
        throw Error(path + ": NIfTI sform gives voxel axis " + std::to_string(c + 1) + " a length of " + num(len) +
                    " mm, not a physical voxel spacing (at most 10 m)");
    }
  }
  const double hdrSize = v2 ? 540 : 348;
  if (!std::isfinite(voxOffset) || voxOffset < 0)
    throw Error(path + ": NIfTI vox_offset " + num(voxOffset) + " is invalid");
  const double start = std::max(voxOffset, hdrSize);
  const double need = start + voxels * bpv;
  if (double(total) < need)
    throw Error(truncatedMessage(path, total > start ? uint64_t(double(total) - start) : 0,
                                 uint64_t(voxels * bpv), "voxels after vox_offset"));
  return {};
}

// ---- MetaImage ------------------------------------------------------------------------------
namespace
{
int metaTypeBytes(const std::string& t)
{
  static const std::map<std::string, int> sizes{
    { "MET_CHAR", 1 },      { "MET_UCHAR", 1 },     { "MET_ASCII_CHAR", 1 }, { "MET_SHORT", 2 },
    { "MET_USHORT", 2 },    { "MET_INT", 4 },       { "MET_UINT", 4 },       { "MET_LONG", 4 },
    { "MET_ULONG", 4 },     { "MET_LONG_LONG", 8 }, { "MET_ULONG_LONG", 8 }, { "MET_FLOAT", 4 },
    { "MET_DOUBLE", 8 },
  };
  const auto it = sizes.find(t);
  return it == sizes.end() ? 0 : it->second;
}

std::vector<double> numbers(const std::string& s, const std::string& path, const std::string& field)
{
  std::vector<double> v;
  std::istringstream ss(s);
  std::string w;
  while (ss >> w)
  {
    char* end = nullptr;
    const double d = std::strtod(w.c_str(), &end);
    if (end == w.c_str() || *end != '\0')
      throw Error(path + ": " + field + " holds '" + w + "', not a number");
    v.push_back(d);
  }
  return v;
}

void requireFinite(const std::vector<double>& v, const std::string& path, const std::string& field)
{
  for (double d : v)
    if (!std::isfinite(d))
      throw Error(path + ": " + field + " holds a non-finite value (" + num(d) + ")");
}

void requireSpacing(const std::vector<double>& v, size_t n, const std::string& path, const std::string& field)
{
  double product = 1;
  for (size_t i = 0; i < std::min(n, v.size()); ++i)
  {
    if (!std::isfinite(v[i]) || v[i] <= 0 || v[i] > 1e4)
      throw Error(path + ": " + field + " " + num(v[i]) +
                  " mm is not a physical voxel spacing (must be finite, > 0 and at most 10 m)");
    product *= v[i];
  }
  if (!std::isfinite(product) || product <= 0)
    throw Error(path + ": " + field + " gives a voxel volume that is not a finite positive number");
}
} // namespace

HeaderFacts checkMetaImage(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error("cannot open " + path);
  std::map<std::string, std::string> f; // lower-case key -> value
  std::string line;
  bool haveData = false;
  std::streamoff headerEnd = 0;
  for (int lines = 0; lines < 200 && std::getline(in, line); ++lines)
  {
    const auto eq = line.find('=');
    if (eq == std::string::npos)
    {
      if (trim(line).empty())
        continue;
      throw Error(path + ": MetaImage header line '" + trim(line).substr(0, 40) + "' is not 'Key = Value'");
    }
    const std::string key = lower(trim(line.substr(0, eq)));
    f[key] = trim(line.substr(eq + 1));
    if (key == "elementdatafile")
    {
      haveData = true;
      headerEnd = in.tellg();
      break;
    }
  }
  if (!haveData)
    throw Error(path + ": MetaImage header has no ElementDataFile line");

  const auto ndimsIt = f.find("ndims");
  if (ndimsIt == f.end())
    throw Error(path + ": MetaImage header has no NDims");
  const auto nd = numbers(ndimsIt->second, path, "NDims");
  if (nd.size() != 1 || nd[0] < 1 || nd[0] > 10 || nd[0] != std::floor(nd[0]))
    throw Error(path + ": MetaImage NDims '" + ndimsIt->second + "' is invalid");
  const size_t ndims = size_t(nd[0]);
  const auto dims = numbers(f["dimsize"], path, "DimSize");
  if (dims.size() != ndims)
    throw Error(path + ": MetaImage DimSize has " + std::to_string(dims.size()) + " values for NDims " +
                std::to_string(ndims));
  double voxels = 1;
  for (double d : dims)
  {
    if (!(d >= 1) || d != std::floor(d))
      throw Error(path + ": MetaImage DimSize value " + num(d) + " is not a positive whole number");
    voxels *= d;
  }
  if (voxels > kMaxVoxels)
    throw Error(path + ": MetaImage header announces " + num(voxels) + " voxels, more than PanSeg can hold");
  for (const char* key : { "elementspacing", "elementsize" })
    if (f.count(key))
    {
      const auto v = numbers(f[key], path, key == std::string("elementspacing") ? "ElementSpacing" : "ElementSize");
      requireSpacing(v, std::min<size_t>(3, ndims), path, key == std::string("elementspacing") ? "ElementSpacing" : "ElementSize");
    }
  for (const char* key : { "offset", "position", "origin", "transformmatrix", "rotation", "orientation",
                           "centerofrotation" })
    if (f.count(key))
      requireFinite(numbers(f[key], path, key), path, key);

  const int bytes = metaTypeBytes(f["elementtype"]);
  if (bytes == 0)
    throw Error(path + ": unsupported MetaImage ElementType '" + f["elementtype"] + "'");
  double channels = 1;
  if (f.count("elementnumberofchannels"))
  {
    const auto c = numbers(f["elementnumberofchannels"], path, "ElementNumberOfChannels");
    if (c.size() != 1 || !(c[0] >= 1 && c[0] <= 64))
      throw Error(path + ": MetaImage ElementNumberOfChannels is invalid");
    channels = c[0];
  }
  if (f.count("binarydata") && lower(f["binarydata"]) == "false")
    return {}; // ASCII voxels: ITK parses them and fails on a short list
  const double need = voxels * bytes * channels;

  const std::string dataName = f["elementdatafile"];
  const std::string dataLower = lower(dataName);
  fs::path dataPath;
  std::streamoff offset = 0;
  if (dataLower == "local")
  {
    dataPath = path;
    offset = headerEnd;
  }
  else if (dataLower.rfind("list", 0) == 0 || dataName.find('%') != std::string::npos ||
           dataName.find(' ') != std::string::npos)
    throw Error(path + ": MetaImage ElementDataFile '" + dataName +
                "' lists several data files; only one data file beside the header (or LOCAL) is supported");
  else
    dataPath = dataFileBeside(path, dataName, "ElementDataFile");

  const uint64_t fileSize = fs::file_size(dataPath);
  if (f.count("headersize") && dataLower != "local")
  {
    const auto hs = numbers(f["headersize"], path, "HeaderSize");
    if (hs.size() != 1 || !std::isfinite(hs[0]))
      throw Error(path + ": MetaImage HeaderSize is invalid");
    offset = hs[0] < 0 ? std::streamoff(0) : std::streamoff(hs[0]); // -1: the data is at the end
  }
  const bool compressed = f.count("compresseddata") && lower(f["compresseddata"]) == "true";
  const uint64_t available = fileSize > uint64_t(offset) ? fileSize - uint64_t(offset) : 0;
  if (!compressed)
  {
    if (double(available) < need)
      throw Error(truncatedMessage(path, available, uint64_t(need), "voxel data"));
    return {};
  }
  int64_t limit = -1;
  if (f.count("compresseddatasize"))
  {
    const auto cs = numbers(f["compresseddatasize"], path, "CompressedDataSize");
    if (cs.size() != 1 || !(cs[0] >= 1))
      throw Error(path + ": MetaImage CompressedDataSize '" + f["compresseddatasize"] +
                  "' is not a positive byte count");
    if (cs[0] > double(available))
      throw Error(truncatedMessage(path, available, uint64_t(cs[0]), "compressed data"));
    limit = int64_t(cs[0]);
  }
  std::ifstream data(dataPath, std::ios::binary);
  data.seekg(offset);
  bool ok = false;
  std::string why;
  const uint64_t inflated = inflatedSize(data, limit, &ok, &why);
  if (double(inflated) < need)
    throw Error(path + " is truncated or corrupt: its compressed data inflates to " + std::to_string(inflated) +
                " bytes, the header promises " + std::to_string(uint64_t(need)) + (ok ? "" : " (" + why + ")"));
  return {};
}

// ---- NRRD -----------------------------------------------------------------------------------
namespace
{
int nrrdTypeBytes(const std::string& t)
{
  static const std::map<std::string, int> sizes{
    { "signed char", 1 },  { "int8", 1 },          { "int8_t", 1 },        { "uchar", 1 },
    { "unsigned char", 1 }, { "uint8", 1 },        { "uint8_t", 1 },       { "short", 2 },
    { "short int", 2 },    { "signed short", 2 },  { "signed short int", 2 }, { "int16", 2 },
    { "int16_t", 2 },      { "ushort", 2 },        { "unsigned short", 2 }, { "unsigned short int", 2 },
    { "uint16", 2 },       { "uint16_t", 2 },      { "int", 4 },           { "signed int", 4 },
    { "int32", 4 },        { "int32_t", 4 },       { "uint", 4 },          { "unsigned int", 4 },
    { "uint32", 4 },       { "uint32_t", 4 },      { "longlong", 8 },      { "long long", 8 },
    { "long long int", 8 }, { "signed long long", 8 }, { "signed long long int", 8 }, { "int64", 8 },
    { "int64_t", 8 },      { "ulonglong", 8 },     { "unsigned long long", 8 }, { "unsigned long long int", 8 },
    { "uint64", 8 },       { "uint64_t", 8 },      { "float", 4 },         { "double", 8 },
  };
  const auto it = sizes.find(t);
  return it == sizes.end() ? 0 : it->second;
}

/// "(1,0,0) none (0,1,0)" -> vectors; "none" gives an empty vector.
std::vector<std::vector<double>> nrrdVectors(const std::string& s, const std::string& path, const std::string& field)
{
  std::vector<std::vector<double>> out;
  size_t i = 0;
  while (i < s.size())
  {
    if (std::isspace(static_cast<unsigned char>(s[i])))
    {
      ++i;
      continue;
    }
    if (s.compare(i, 4, "none") == 0)
    {
      out.emplace_back();
      i += 4;
      continue;
    }
    if (s[i] != '(')
      throw Error(path + ": NRRD '" + field + "' is malformed ('" + s.substr(0, 60) + "')");
    const size_t close = s.find(')', i);
    if (close == std::string::npos)
      throw Error(path + ": NRRD '" + field + "' is malformed (no closing parenthesis)");
    std::string inner = s.substr(i + 1, close - i - 1);
    std::replace(inner.begin(), inner.end(), ',', ' ');
    out.push_back(numbers(inner, path, "NRRD " + field));
    i = close + 1;
  }
  return out;
}
} // namespace

HeaderFacts checkNrrd(const std::string& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error("cannot open " + path);
  std::string line;
  std::getline(in, line);
  if (line.rfind("NRRD", 0) != 0)
    throw Error(path + " is not a NRRD file (no NRRD magic)");
  std::map<std::string, std::string> f;
  bool blank = false;
  for (int lines = 0; lines < 1000 && std::getline(in, line); ++lines)
  {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.empty())
    {
      blank = true;
      break;
    }
    if (line[0] == '#' || line.find(":=") != std::string::npos)
      continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos)
      throw Error(path + ": NRRD header line '" + line.substr(0, 40) + "' is not 'field: value'");
    f[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  const std::streamoff headerEnd = blank ? std::streamoff(in.tellg()) : std::streamoff(-1);
  const auto dimV = numbers(f["dimension"], path, "NRRD dimension");
  if (dimV.size() != 1 || dimV[0] < 1 || dimV[0] > 16 || dimV[0] != std::floor(dimV[0]))
    throw Error(path + ": NRRD dimension '" + f["dimension"] + "' is invalid");
  const size_t dim = size_t(dimV[0]);
  const auto sizes = numbers(f["sizes"], path, "NRRD sizes");
  if (sizes.size() != dim)
    throw Error(path + ": NRRD sizes has " + std::to_string(sizes.size()) + " values for dimension " +
                std::to_string(dim));
  double voxels = 1;
  for (double s : sizes)
  {
    if (!(s >= 1) || s != std::floor(s))
      throw Error(path + ": NRRD size " + num(s) + " is not a positive whole number");
    voxels *= s;
  }
  if (voxels > kMaxVoxels)
    throw Error(path + ": NRRD header announces " + num(voxels) + " voxels, more than PanSeg can hold");
  const int bytes = nrrdTypeBytes(lower(f["type"]));
  if (bytes == 0)
    throw Error(path + ": unsupported NRRD type '" + f["type"] + "'");

  HeaderFacts facts;
  if (f.count("space origin"))
  {
    const auto o = nrrdVectors(f["space origin"], path, "space origin");
    if (o.size() != 1 || o[0].empty())
      throw Error(path + ": NRRD 'space origin' is malformed");
    requireFinite(o[0], path, "NRRD space origin");
  }
  // Spatial axes: those with a direction vector (or, without 'space directions', all of them).
  size_t spatialWithVector = 0, noneAxes = 0;
  if (f.count("space directions"))
  {
    const auto dirs = nrrdVectors(f["space directions"], path, "space directions");
    if (dirs.size() != dim)
      throw Error(path + ": NRRD 'space directions' has " + std::to_string(dirs.size()) + " entries for dimension " +
                  std::to_string(dim));
    for (const auto& d : dirs)
    {
      if (d.empty())
      {
        ++noneAxes;
        continue;
      }
      requireFinite(d, path, "NRRD space directions");
      double n2 = 0;
      for (double v : d)
        n2 += v * v;
      const double len = std::sqrt(n2);
      if (!(len > 1e-6 && len <= 1e4))
        throw Error(path + ": NRRD space direction of length " + num(len) +
                    " mm is not a physical voxel spacing (must be > 0 and at most 10 m)");
      ++spatialWithVector;
    }
  }
  if (spatialWithVector < std::min<size_t>(dim, 3))
  {
    // No usable direction vectors for the spatial axes: only 'spacings' can give the size.
    std::vector<double> sp;
    if (f.count("spacings"))
      sp = numbers(f["spacings"], path, "NRRD spacings");
    size_t finite = 0;
    for (double v : sp)
      if (std::isfinite(v))
      {
        if (v <= 0 || v > 1e4)
          throw Error(path + ": NRRD spacing " + num(v) +
                      " mm is not a physical voxel spacing (must be > 0 and at most 10 m)");
        ++finite;
      }
    if (finite < std::min<size_t>(dim, 3))
    {
      facts.spacingKnown = false;
      facts.spacingNote = noneAxes > 0 ? "NRRD 'space directions' says none" : "NRRD header gives no spacing";
    }
  }

  const std::string enc = lower(f["encoding"]);
  if (enc != "raw" && enc != "gzip" && enc != "gz")
    return facts; // ascii, hex, bzip2: Teem checks them while reading
  if (f.count("line skip") && trim(f["line skip"]) != "0")
    return facts;
  fs::path dataPath = path;
  std::streamoff offset = headerEnd;
  const std::string dataName = f.count("data file") ? f["data file"] : f["datafile"];
  if (!dataName.empty())
  {
    if (lower(dataName).rfind("list", 0) == 0 || dataName.find('%') != std::string::npos ||
        dataName.find(' ') != std::string::npos)
      throw Error(path + ": NRRD 'data file: " + dataName +
                  "' names several data files; only one data file beside the header is supported");
    dataPath = dataFileBeside(path, dataName, "NRRD data file");
    offset = 0;
  }
  else if (headerEnd < 0)
    throw Error(path + ": NRRD header has no data (no blank line after the header and no 'data file')");
  const double need = voxels * bytes;
  const uint64_t fileSize = fs::file_size(dataPath);
  if (f.count("byte skip"))
  {
    const auto bs = numbers(f["byte skip"], path, "NRRD byte skip");
    if (bs.size() != 1 || !std::isfinite(bs[0]))
      throw Error(path + ": NRRD byte skip is invalid");
    if (bs[0] < 0)
    {
      if (enc == "raw" && double(fileSize) < need)
        throw Error(truncatedMessage(path, fileSize, uint64_t(need), "voxel data"));
      return facts;
    }
    offset += std::streamoff(bs[0]);
  }
  const uint64_t available = fileSize > uint64_t(offset) ? fileSize - uint64_t(offset) : 0;
  if (enc == "raw")
  {
    if (double(available) < need)
      throw Error(truncatedMessage(path, available, uint64_t(need), "voxel data"));
    return facts;
  }
  std::ifstream data(dataPath, std::ios::binary);
  data.seekg(offset);
  bool ok = false;
  std::string why;
  const uint64_t inflated = inflatedSize(data, -1, &ok, &why);
  if (!ok || double(inflated) < need)
    throw Error(path + " is truncated or corrupt: its gzip data inflates to " + std::to_string(inflated) +
                " bytes, the header promises " + std::to_string(uint64_t(need)) + (ok ? "" : " (" + why + ")"));
  return facts;
}

HeaderFacts checkHeader(const std::string& path)
{
  const std::string l = lower(path);
  if (endsWith(l, ".nii") || endsWith(l, ".nii.gz"))
    return checkNifti(path);
  if (endsWith(l, ".mha") || endsWith(l, ".mhd"))
    return checkMetaImage(path);
  if (endsWith(l, ".nrrd") || endsWith(l, ".nhdr"))
    return checkNrrd(path);
  return {};
}

void checkGeometry(const Geometry& g, const std::string& path)
{
  for (int i = 0; i < 3; ++i)
    if (!std::isfinite(g.spacingMm[i]) || g.spacingMm[i] <= 0 || g.spacingMm[i] > 1e4)
    {
      char buf[160];
      std::snprintf(buf, sizeof buf, "voxel spacing %g x %g x %g mm", g.spacingMm[0], g.spacingMm[1], g.spacingMm[2]);
      throw Error(path + ": " + buf + " is not physical (each must be finite, > 0 and at most 10 m)");
    }
  const double v = g.voxelVolumeMm3();
  if (!std::isfinite(v) || v <= 0)
    throw Error(path + ": the voxel volume is not a finite positive number");
  for (double o : g.originMm)
    if (!std::isfinite(o) || std::abs(o) > 1e9)
      throw Error(path + ": origin (" + num(g.originMm[0]) + ", " + num(g.originMm[1]) + ", " + num(g.originMm[2]) +
                  ") mm is not finite");
  for (double d : g.direction)
    if (!std::isfinite(d))
      throw Error(path + ": the direction matrix holds a non-finite value");
  const auto& m = g.direction;
  const double det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
                     m[2] * (m[3] * m[7] - m[4] * m[6]);
  if (!(std::abs(det) > 1e-3))
    throw Error(path + ": the direction matrix is singular (the voxel axes span no volume)");
}

// ---- DICOM ----------------------------------------------------------------------------------
std::string dicomParseProblem(const std::string& path)
{
  quietDcmtkLog();
  DcmFileFormat ff;
  const OFCondition c = ff.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, 4096);
  if (c.bad())
    return std::string("not readable to its end (") + c.text() + ")";
  if (ff.getDataset() == nullptr || ff.getDataset()->card() == 0)
    return "it holds no data elements";
  return {};
}

DicomSliceCheck checkDicomSlice(const std::string& path)
{
  quietDcmtkLog();
  DicomSliceCheck out;
  DcmFileFormat ff;
  const OFCondition c = ff.loadFile(path.c_str());
  if (c.bad())
  {
    out.problem = std::string("not readable to its end (") + c.text() + ")";
    return out;
  }
  DcmDataset& ds = *ff.getDataset();
  Uint16 spp = 1, bits = 0, stored = 0, high = 0, rows = 0, cols = 0;
  if (ds.findAndGetUint16(DCM_SamplesPerPixel, spp).bad())
    spp = 1;
  if (spp != 1)
  {
    out.problem = "SamplesPerPixel is " + std::to_string(spp) + " (a grey-scale volume has 1)";
    return out;
  }
  if (ds.findAndGetUint16(DCM_BitsAllocated, bits).bad() || (bits != 8 && bits != 16 && bits != 32))
  {
    out.problem = "BitsAllocated is " + (bits ? std::to_string(bits) : std::string("missing")) +
                  " (8, 16 or 32 are supported)";
    return out;
  }
  if (ds.findAndGetUint16(DCM_BitsStored, stored).good() && (stored == 0 || stored > bits))
  {
    out.problem = "BitsStored " + std::to_string(stored) + " does not fit BitsAllocated " + std::to_string(bits);
    return out;
  }
  if (ds.findAndGetUint16(DCM_HighBit, high).good() && high >= bits)
  {
    out.problem = "HighBit " + std::to_string(high) + " does not fit BitsAllocated " + std::to_string(bits);
    return out;
  }
  if (ds.findAndGetUint16(DCM_Rows, rows).bad() || ds.findAndGetUint16(DCM_Columns, cols).bad() || rows == 0 ||
      cols == 0)
  {
    out.problem = "Rows/Columns missing or zero";
    return out;
  }
  Sint32 frames = 1;
  OFString framesText;
  if (ds.findAndGetOFString(DCM_NumberOfFrames, framesText).good())
  {
    if (ds.findAndGetSint32(DCM_NumberOfFrames, frames).bad() || frames < 1)
    {
      out.problem = "NumberOfFrames is " + std::string(framesText.c_str()) + " (at least 1 is required)";
      return out;
    }
  }
  DcmElement* pixel = nullptr;
  if (ds.findAndGetElement(DCM_PixelData, pixel).bad() || !pixel)
  {
    out.problem = "has no pixel data";
    return out;
  }
  const DcmXfer xfer(ds.getOriginalXfer());
  const double need = double(rows) * cols * frames * (bits / 8);
  if (!xfer.isEncapsulated())
  {
    if (double(pixel->getLength()) < need)
    {
      out.problem = "pixel data holds " + std::to_string(pixel->getLength()) + " bytes, " + std::to_string(rows) +
                    "x" + std::to_string(cols) + "x" + std::to_string(frames) + " pixels of " + std::to_string(bits) +
                    " bits need " + std::to_string(uint64_t(need));
      return out;
    }
  }
  else
  {
    auto* pd = dynamic_cast<DcmPixelData*>(pixel);
    DcmPixelSequence* seq = nullptr;
    if (!pd || pd->getEncapsulatedRepresentation(ds.getOriginalXfer(), nullptr, seq).bad() || !seq ||
        seq->card() < 2 || seq->card() - 1 < unsigned(frames))
    {
      out.problem = "its compressed pixel data has fewer fragments than frames";
      return out;
    }
    const std::string uid = xfer.getXferID() ? xfer.getXferID() : "";
    if (uid.rfind("1.2.840.10008.1.2.4.", 0) == 0)
    {
      // JPEG, JPEG-LS and JPEG 2000 codestreams end with the EOI marker FF D9 (one pad byte allowed).
      DcmPixelItem* last = nullptr;
      Uint8* data = nullptr;
      if (seq->getItem(last, seq->card() - 1).bad() || !last || last->getUint8Array(data).bad() || !data)
      {
        out.problem = "its compressed pixel data cannot be read";
        return out;
      }
      const Uint32 n = last->getLength();
      const bool eoi = (n >= 2 && data[n - 2] == 0xFF && data[n - 1] == 0xD9) ||
                       (n >= 3 && data[n - 3] == 0xFF && data[n - 2] == 0xD9 && data[n - 1] == 0x00);
      if (!eoi)
      {
        out.problem = "its compressed pixel data is cut short (no end-of-image marker)";
        return out;
      }
    }
  }
  DcmElement* e = nullptr;
  out.pixelSpacingKnown = ds.findAndGetElement(DCM_PixelSpacing, e, OFTrue).good() ||
                          ds.findAndGetElement(DCM_ImagerPixelSpacing, e, OFTrue).good();
  return out;
}

// ---- library messages -----------------------------------------------------------------------
namespace
{
std::mutex g_logMutex;

void logLine(const std::string& text)
{
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    return;
  std::lock_guard<std::mutex> lock(g_logMutex);
  if (const char* file = std::getenv("PANSEG_LIBRARY_LOG"); file && *file)
    if (FILE* out = std::fopen(file, "a"))
    {
      std::fputs(text.c_str(), out);
      if (text.back() != '\n')
        std::fputc('\n', out);
      std::fclose(out);
    }
  if (const char* v = std::getenv("PANSEG_VERBOSE"); v && *v && std::string(v) != "0")
  {
    std::fputs(text.c_str(), stderr);
    if (text.back() != '\n')
      std::fputc('\n', stderr);
  }
}

class LogOutputWindow : public itk::OutputWindow
{
public:
  ITK_DISALLOW_COPY_AND_ASSIGN(LogOutputWindow);
  using Self = LogOutputWindow;
  using Superclass = itk::OutputWindow;
  using Pointer = itk::SmartPointer<Self>;
  itkNewMacro(Self)
  void DisplayText(const char* text) override { logLine(std::string("ITK: ") + (text ? text : "")); }

protected:
  LogOutputWindow() = default;
  ~LogOutputWindow() override = default;
};

class LogStreamBuf : public std::streambuf
{
protected:
  int overflow(int c) override
  {
    if (c == EOF)
      return 0;
    if (c == '\n')
    {
      logLine("GDCM: " + m_line);
      m_line.clear();
    }
    else
      m_line.push_back(char(c));
    return c;
  }

private:
  std::string m_line;
};
} // namespace

namespace
{
std::recursive_mutex g_stderrMutex; // recursive: a progress callback may read again
}

StderrToLibraryLog::StderrToLibraryLog()
{
  // Another thread's capture already holds fd 2 (and will log what this call prints): never
  // wait for it, a long read must not block a write in the GUI thread.
  if (!g_stderrMutex.try_lock())
    return;
  m_owner = true;
  std::fflush(stderr);
  m_capture = std::tmpfile();
  if (!m_capture)
    return;
  m_saved = ::dup(2);
  if (m_saved < 0 || ::dup2(::fileno(m_capture), 2) < 0)
  {
    if (m_saved >= 0)
      ::close(m_saved);
    m_saved = -1;
  }
}

StderrToLibraryLog::~StderrToLibraryLog()
{
  if (!m_owner)
    return;
  std::fflush(stderr);
  if (m_saved >= 0)
  {
    ::dup2(m_saved, 2);
    ::close(m_saved);
  }
  if (m_capture)
  {
    std::rewind(m_capture);
    char line[1024];
    while (std::fgets(line, sizeof line, m_capture))
    {
      std::string text(line);
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
        text.pop_back();
      logLine("stderr: " + text);
    }
    std::fclose(m_capture);
  }
  g_stderrMutex.unlock();
}

void routeLibraryMessages()
{
  static std::once_flag once;
  std::call_once(once, [] {
    itk::OutputWindow::SetInstance(LogOutputWindow::New());
    static LogStreamBuf buf;
    static std::ostream gdcmLog(&buf);
    gdcm::Trace::SetStream(gdcmLog);
    gdcm::Trace::SetWarningStream(gdcmLog);
    gdcm::Trace::SetErrorStream(gdcmLog);
    gdcm::Trace::SetDebugStream(gdcmLog);
    gdcm::Trace::DebugOff();
    quietDcmtkLog();
  });
}
} // namespace panseg::io
