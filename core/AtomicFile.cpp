#include "core/AtomicFile.h"

#include "core/Error.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

namespace panseg
{
namespace
{
std::string errnoText() { return std::strerror(errno); }

void fsyncPath(const std::string& path, bool directory)
{
  const int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0)
    throw Error("cannot open " + path + " to flush it: " + errnoText());
  const int rc = ::fsync(fd);
  const std::string err = rc != 0 ? errnoText() : std::string();
  ::close(fd);
  if (rc != 0 && !directory)
    throw Error("cannot flush " + path + " to disk: " + err);
}
} // namespace

void commitFile(const std::string& tempPath, const std::string& finalPath)
{
  try
  {
    fsyncPath(tempPath, false);
    if (std::rename(tempPath.c_str(), finalPath.c_str()) != 0)
      throw Error("cannot move " + tempPath + " to " + finalPath + ": " + errnoText());
  }
  catch (...)
  {
    std::remove(tempPath.c_str());
    throw;
  }
  const auto dir = std::filesystem::path(finalPath).parent_path();
  fsyncPath(dir.empty() ? std::string(".") : dir.string(), true);
}

void writeFileAtomically(const std::string& path, const std::string& bytes)
{
  const auto p = std::filesystem::path(path);
  const std::string tmp =
    (p.parent_path() / (".tmp-" + std::to_string(::getpid()) + "-" + p.filename().string())).string();
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f)
    throw Error("cannot create " + tmp + ": " + errnoText());
  const size_t n = std::fwrite(bytes.data(), 1, bytes.size(), f);
  const bool ok = n == bytes.size() && std::fflush(f) == 0;
  const std::string err = ok ? std::string() : errnoText();
  std::fclose(f);
  if (!ok)
  {
    std::remove(tmp.c_str());
    throw Error("cannot write " + path + ": " + err);
  }
  commitFile(tmp, path);
}
} // namespace panseg
