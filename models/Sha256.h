#pragma once
// SHA-256 (FIPS 180-4) for model package checksums: weights.bin's digest is stored in model.json
// ("weights": {"sha256": ...}) and checked when a package is loaded. Standard library only (models/
// must build without Qt); `sha256sum` prints the same hex digest.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace panseg::models
{
class Sha256
{
public:
  Sha256();
  void update(const void* data, std::size_t size);
  /// The digest as 64 lowercase hex characters; the object must not be updated afterwards.
  std::string hexDigest();

private:
  void block(const std::uint8_t* p);
  std::array<std::uint32_t, 8> h_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t used_ = 0;
  std::uint64_t totalBytes_ = 0;
};

std::string sha256Hex(const std::string& bytes);

/// What one pass over weights.bin finds: its SHA-256, whether every byte is zero, and the byte
/// offset of the first float32 that is NaN or infinite (-1 when none).
struct WeightsScan
{
  std::string sha256;
  bool allZero = true;
  std::int64_t firstNonFiniteOffset = -1;
  std::int64_t bytes = 0;
};
/// Throws panseg::Error naming the file when it cannot be read.
WeightsScan scanWeightsFile(const std::string& path);

/// True for 64 hex characters (either case).
bool looksLikeSha256(const std::string& s);
} // namespace panseg::models
