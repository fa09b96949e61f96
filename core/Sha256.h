#pragma once
// SHA-256 (FIPS 180-4), standard library only: model package checksums (models/), DICOM
// de-identification (core/io/Deidentify). `sha256sum` prints the same hex digest.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace panseg
{
class Sha256
{
public:
  Sha256();
  void update(const void* data, std::size_t size);
  /// The 32-byte digest; the object must not be updated afterwards (one of the two, once).
  std::string digest();
  /// The digest as 64 lowercase hex characters; likewise once.
  std::string hexDigest();

  /// Whether this processor has the x86 SHA extensions, which update() then uses for whole
  /// blocks (about ten times the portable speed: content hashes of large masks, `panseg bench db`).
  static bool processorInstructionsAvailable();
  /// Tests and benchmarks: use them (when available) or the portable code; returns the previous
  /// setting. Not for use while another thread hashes.
  static bool setProcessorInstructions(bool on);

private:
  void block(const std::uint8_t* p);
  std::array<std::uint32_t, 8> h_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t used_ = 0;
  std::uint64_t totalBytes_ = 0;
};

std::string sha256Hex(const std::string& bytes);
/// The 32-byte digest of `bytes`.
std::string sha256Digest(const std::string& bytes);
} // namespace panseg
