#pragma once
// SHA-256 (FIPS 180-4) for model package checksums: weights.bin's digest is stored in model.json
// ("weights": {"sha256": ...}) and checked when a package is loaded. Standard library only (models/
// must build without Qt); `sha256sum` prints the same hex digest.
#include "core/Sha256.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace panseg::models
{
using panseg::Sha256;   // core/Sha256.h
using panseg::sha256Hex;

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
