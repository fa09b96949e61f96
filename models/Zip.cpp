#include "models/Zip.h"

#include "core/Error.h"

#include <algorithm>
#include <array>
#include <cstring>

#ifdef PANSEG_MODELS_HAVE_ZLIB
#include <zlib.h>
#endif

namespace panseg::models
{
namespace
{
constexpr std::uint32_t kEocdSig = 0x06054b50;
constexpr std::uint32_t kZip64EocdSig = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSig = 0x07064b50;
constexpr std::uint32_t kCentralSig = 0x02014b50;
constexpr std::uint32_t kLocalSig = 0x04034b50;

std::uint16_t u16(const std::uint8_t* p)
{
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
std::uint32_t u32(const std::uint8_t* p)
{
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
std::uint64_t u64(const std::uint8_t* p)
{
  return static_cast<std::uint64_t>(u32(p)) | (static_cast<std::uint64_t>(u32(p + 4)) << 32);
}

const std::array<std::uint32_t, 256>& crcTable()
{
  static const std::array<std::uint32_t, 256> table = []
  {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i)
    {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}
} // namespace

std::uint32_t crc32(const std::uint8_t* data, std::size_t n, std::uint32_t crc)
{
  const auto& t = crcTable();
  crc = ~crc;
  for (std::size_t i = 0; i < n; ++i)
    crc = t[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

void ZipArchive::readAt(std::uint64_t offset, void* dst, std::size_t n, const char* what) const
{
  if (offset > fileSize_ || n > fileSize_ - offset)
    throw Error("zip archive truncated (" + std::string(what) +
                " lies beyond the end of the file): " + path_);
  file_.clear();
  file_.seekg(static_cast<std::streamoff>(offset));
  file_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
  if (!file_ || static_cast<std::size_t>(file_.gcount()) != n)
    throw Error("cannot read " + std::string(what) + " from " + path_);
}

ZipArchive::ZipArchive(const std::string& path) : path_(path)
{
  file_.open(path, std::ios::binary);
  if (!file_)
    throw Error("cannot open file: " + path);
  file_.seekg(0, std::ios::end);
  const auto end = file_.tellg();
  if (end < 0)
    throw Error("cannot determine size of " + path);
  fileSize_ = static_cast<std::uint64_t>(end);
  if (fileSize_ < 22)
    throw Error("not a zip archive (file too small, " + std::to_string(fileSize_) +
                " bytes; truncated?): " + path);

  // The end-of-central-directory record sits in the last 22 + up to 65535 (comment) bytes.
  const std::uint64_t tailSize = std::min<std::uint64_t>(fileSize_, 22 + 65535);
  std::vector<std::uint8_t> tail(static_cast<std::size_t>(tailSize));
  readAt(fileSize_ - tailSize, tail.data(), tail.size(), "end of file");
  std::int64_t eocd = -1;
  for (std::int64_t i = static_cast<std::int64_t>(tail.size()) - 22; i >= 0; --i)
    if (u32(&tail[static_cast<std::size_t>(i)]) == kEocdSig)
    {
      eocd = i;
      break;
    }
  if (eocd < 0)
    throw Error("not a zip archive, or truncated (no end-of-central-directory record): " + path);
  const std::uint8_t* e = &tail[static_cast<std::size_t>(eocd)];
  const std::uint64_t eocdOffset = fileSize_ - tailSize + static_cast<std::uint64_t>(eocd);
  std::uint64_t numEntries = u16(e + 10);
  std::uint64_t cdSize = u32(e + 12);
  std::uint64_t cdOffset = u32(e + 16);
  if (u16(e + 4) != 0 || u16(e + 6) != 0)
    throw Error("multi-part zip archives are not supported: " + path);

  // zip64: a locator right before the EOCD points at the zip64 EOCD record.
  if (eocdOffset >= 20)
  {
    std::uint8_t loc[20];
    readAt(eocdOffset - 20, loc, 20, "zip64 locator");
    if (u32(loc) == kZip64LocatorSig)
    {
      const std::uint64_t z64 = u64(loc + 8);
      std::uint8_t rec[56];
      readAt(z64, rec, 56, "zip64 end-of-central-directory record");
      if (u32(rec) != kZip64EocdSig)
        throw Error("corrupt zip64 end-of-central-directory record: " + path);
      numEntries = u64(rec + 32);
      cdSize = u64(rec + 40);
      cdOffset = u64(rec + 48);
    }
  }
  if (cdOffset > fileSize_ || cdSize > fileSize_ - cdOffset)
    throw Error("zip archive truncated (central directory beyond end of file): " + path);
  if (numEntries > cdSize / 46)
    throw Error("corrupt zip central directory (entry count " + std::to_string(numEntries) +
                " does not fit its size): " + path);

  std::vector<std::uint8_t> cd(static_cast<std::size_t>(cdSize));
  readAt(cdOffset, cd.data(), cd.size(), "central directory");
  std::size_t p = 0;
  entries_.reserve(static_cast<std::size_t>(numEntries));
  for (std::uint64_t i = 0; i < numEntries; ++i)
  {
    if (p + 46 > cd.size() || u32(&cd[p]) != kCentralSig)
      throw Error("corrupt zip central directory (entry " + std::to_string(i) + "): " + path);
    const std::uint8_t* h = &cd[p];
    Entry entry;
    entry.method = u16(h + 10);
    entry.crc32 = u32(h + 16);
    entry.compressedSize = u32(h + 20);
    entry.uncompressedSize = u32(h + 24);
    const std::size_t nameLen = u16(h + 28), extraLen = u16(h + 30), commentLen = u16(h + 32);
    entry.localHeaderOffset = u32(h + 42);
    if (p + 46 + nameLen + extraLen + commentLen > cd.size())
      throw Error("corrupt zip central directory (entry " + std::to_string(i) +
                  " overruns it): " + path);
    entry.name.assign(reinterpret_cast<const char*>(h + 46), nameLen);
    // zip64 extended information: present fields replace the 0xFFFFFFFF placeholders in order.
    const std::uint8_t* x = h + 46 + nameLen;
    std::size_t xp = 0;
    while (xp + 4 <= extraLen)
    {
      const std::uint16_t id = u16(x + xp), len = u16(x + xp + 2);
      if (xp + 4 + len > extraLen)
        break;
      if (id == 0x0001)
      {
        const std::uint8_t* f = x + xp + 4;
        std::size_t fp = 0;
        auto take = [&](std::uint64_t& field)
        {
          if (field == 0xFFFFFFFFu)
          {
            if (fp + 8 > len)
              throw Error("corrupt zip64 extra field for " + entry.name + " in " + path);
            field = u64(f + fp);
            fp += 8;
          }
        };
        take(entry.uncompressedSize);
        take(entry.compressedSize);
        take(entry.localHeaderOffset);
      }
      xp += 4u + len;
    }
    entries_.push_back(std::move(entry));
    p += 46 + nameLen + extraLen + commentLen;
  }
}

const ZipArchive::Entry* ZipArchive::find(const std::string& name) const
{
  for (const auto& e : entries_)
    if (e.name == name)
      return &e;
  return nullptr;
}

std::vector<std::uint8_t> ZipArchive::read(const std::string& name) const
{
  const Entry* e = find(name);
  if (!e)
    throw Error("zip archive has no entry \"" + name + "\": " + path_);
  return read(*e);
}

std::vector<std::uint8_t> ZipArchive::read(const Entry& entry) const
{
  std::uint8_t lh[30];
  readAt(entry.localHeaderOffset, lh, 30, ("local header of " + entry.name).c_str());
  if (u32(lh) != kLocalSig)
    throw Error("corrupt zip local header for entry " + entry.name + " in " + path_);
  const std::uint64_t dataOffset = entry.localHeaderOffset + 30 + u16(lh + 26) + u16(lh + 28);
  if (entry.compressedSize > fileSize_ || dataOffset > fileSize_ - entry.compressedSize)
    throw Error("zip archive truncated (entry " + entry.name +
                " extends beyond the end of the file): " + path_);
  if (entry.uncompressedSize > (std::uint64_t(1) << 40))
    throw Error("zip entry " + entry.name + " claims an implausible size in " + path_);

  std::vector<std::uint8_t> out;
  if (entry.method == 0)
  {
    if (entry.compressedSize != entry.uncompressedSize)
      throw Error("corrupt zip entry " + entry.name + " (stored sizes differ) in " + path_);
    out.resize(static_cast<std::size_t>(entry.uncompressedSize));
    readAt(dataOffset, out.data(), out.size(), entry.name.c_str());
  }
  else if (entry.method == 8)
  {
    if (entry.uncompressedSize >
        entry.compressedSize * 1100 + 1024) // deflate cannot exceed ~1032:1
      throw Error("corrupt zip entry " + entry.name + " (implausible compression ratio) in " +
                  path_);
#ifdef PANSEG_MODELS_HAVE_ZLIB
    std::vector<std::uint8_t> packed(static_cast<std::size_t>(entry.compressedSize));
    readAt(dataOffset, packed.data(), packed.size(), entry.name.c_str());
    out.resize(static_cast<std::size_t>(entry.uncompressedSize));
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
      throw Error("zlib initialisation failed while reading " + path_);
    std::size_t inPos = 0, outPos = 0;
    int rc = Z_OK;
    while (rc == Z_OK)
    {
      // zlib counts in uInt; feed large entries in chunks.
      const std::size_t inChunk = std::min<std::size_t>(packed.size() - inPos, 1u << 30);
      const std::size_t outChunk = std::min<std::size_t>(out.size() - outPos, 1u << 30);
      zs.next_in = packed.data() + inPos;
      zs.avail_in = static_cast<uInt>(inChunk);
      zs.next_out = out.data() + outPos;
      zs.avail_out = static_cast<uInt>(outChunk);
      rc = inflate(&zs, Z_NO_FLUSH);
      inPos += inChunk - zs.avail_in;
      outPos += outChunk - zs.avail_out;
      if (rc == Z_OK && zs.avail_in == inChunk && zs.avail_out == outChunk)
        rc = Z_DATA_ERROR; // no progress
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || outPos != out.size())
      throw Error("corrupt deflated zip entry " + entry.name + " in " + path_);
#else
    throw Error("zip entry " + entry.name +
                " is deflate-compressed and this build has no zlib: " + path_);
#endif
  }
  else
    throw Error("zip entry " + entry.name + " uses unsupported compression method " +
                std::to_string(entry.method) + ": " + path_);

  if (crc32(out.data(), out.size()) != entry.crc32)
    throw Error("zip entry " + entry.name + " fails its CRC check (file corrupt): " + path_);
  return out;
}
} // namespace panseg::models
