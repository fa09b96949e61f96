#pragma once
// Read-only access to the zip container that torch.save (>= 1.6) writes.
// Handles stored entries (what torch.save writes) and zip64 records; deflated entries are
// inflated when the library was built with zlib (PANSEG_MODELS_HAVE_ZLIB), otherwise they
// raise panseg::Error. Every entry's CRC-32 is verified on read. Pure C++, no LibTorch.
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace panseg::models
{
class ZipArchive
{
public:
  struct Entry
  {
    std::string name;
    std::uint16_t method = 0; // 0 stored, 8 deflate
    std::uint32_t crc32 = 0;
    std::uint64_t compressedSize = 0;
    std::uint64_t uncompressedSize = 0;
    std::uint64_t localHeaderOffset = 0;
  };

  /// Opens `path` and reads its central directory; throws panseg::Error when the file is not a
  /// zip archive, is truncated, or its directory is inconsistent.
  explicit ZipArchive(const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<Entry>& entries() const { return entries_; }
  /// nullptr when there is no entry of that exact name.
  const Entry* find(const std::string& name) const;
  /// Entire (decompressed, CRC-checked) content of an entry; throws panseg::Error on failure.
  std::vector<std::uint8_t> read(const Entry& entry) const;
  std::vector<std::uint8_t> read(const std::string& name) const;

private:
  std::string path_;
  std::uint64_t fileSize_ = 0;
  mutable std::ifstream file_;
  std::vector<Entry> entries_;

  void readAt(std::uint64_t offset, void* dst, std::size_t n, const char* what) const;
};

/// Standard CRC-32 (zip / zlib polynomial), exposed for tests that build archives.
std::uint32_t crc32(const std::uint8_t* data, std::size_t n, std::uint32_t crc = 0);
} // namespace panseg::models
