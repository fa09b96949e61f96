#pragma once
// One way to save files: write to a temporary sibling, flush it to disk, rename over the target,
// flush the folder. A reader (or the database) never sees a half-written file, and a process
// killed mid-save leaves the previous version intact.
#include <string>

namespace panseg
{
/// Moves a fully written temporary file onto `finalPath` durably (fsync file, rename, fsync dir).
/// Throws panseg::Error (the temporary is removed) when any step fails, e.g. a full disk.
void commitFile(const std::string& tempPath, const std::string& finalPath);

/// Writes `bytes` to `path` atomically via commitFile.
void writeFileAtomically(const std::string& path, const std::string& bytes);
} // namespace panseg
