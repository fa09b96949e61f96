#pragma once
// Crash recovery of unsaved mask edits: the mask, run-length coded, with its grid and the image it
// belongs to, written atomically (core/AtomicFile). A pancreas mask of a 512x512x300 CT is a few
// kB, so autosaving often costs nothing noticeable.

#include "core/Volume.h"

#include <string>

namespace panseg::edit
{
struct Recovery
{
  std::string imagePath; // where the image was opened from (to reopen it)
  std::string note;      // free text, e.g. "series 12, edited from mask version 3"
  int64_t savedAtMs = 0; // milliseconds since the Unix epoch
  LabelMask mask;
};

/// Writes `r` to `path` atomically. Throws panseg::Error on failure.
void writeRecoveryFile(const std::string& path, const Recovery& r);
/// Reads a file written by writeRecoveryFile. Throws panseg::Error naming the file and the
/// problem (missing, not a recovery file, truncated, voxel count mismatch).
Recovery readRecoveryFile(const std::string& path);
} // namespace panseg::edit
