#pragma once
// Hashes the database stores.
//  - sha256 of a file's bytes: what a mask file must still hash to when it is loaded again
//    (`sha256sum` gives the same value).
//  - content hash of an image or mask: SHA-256 of a canonical geometry text followed by the raw
//    voxels. It identifies the *data*, not its encoding: the same scan imported once from DICOM
//    and once from a NIfTI conversion, or from two copies in different folders, has the same
//    hash when voxels and grid agree, and re-importing is recognised as a duplicate.
//    Geometry is rounded (spacing/direction to 1e-6, origin to 1e-4 mm) so that float32 headers
//    and float64 headers of the same grid agree. Voxels are hashed as stored in memory (float32
//    for images, uint8 for masks, little-endian).

#include "core/Volume.h"

#include <string>

namespace panseg::db
{
std::string sha256Hex(const std::string& bytes);
/// Throws panseg::Error naming the file when it cannot be read.
std::string sha256OfFile(const std::string& path);
std::string canonicalGeometry(const Geometry& g);
std::string imageContentHash(const Image& image);
std::string maskContentHash(const LabelMask& mask);
} // namespace panseg::db
