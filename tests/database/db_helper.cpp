// A small process the reliability tests start, kill, limit and run side by side.
//   db_helper save-loop DIR SERIES COUNT SEED   save COUNT masks (0 = until killed); after each
//                                               commit print "committed ID SHA256"
//   db_helper import DIR PATH                   import PATH; print "imported-series N", ...
//   db_helper open DIR [--as-nobody]            open the database; print "ok"; with --as-nobody
//                                               (when root) drop to uid/gid 65534 first
//   db_helper fsize-limit DIR SERIES BYTES SEED [quiet]
//                                               open, then limit the size of any file this process
//                                               writes (RLIMIT_FSIZE, SIGXFSZ ignored) and save
//                                               one mask (noisy, or near-empty with "quiet")
//   db_helper tmpfs-full DIR                    in a private mount namespace, mount a 1 MiB tmpfs
//                                               on DIR, fill it with masks until the disk is full,
//                                               then check what was committed; exit 77 when
//                                               mounting is not permitted
// Errors go to stderr as one line "error: ..."; exit 1.
#include "DbTestUtil.h"

#include "core/Error.h"
#include "database/Importer.h"

#include <QCoreApplication>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <grp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

using namespace panseg;
using namespace panseg::db;

namespace
{
int saveLoop(const std::string& dir, int64_t series, long count, unsigned seed)
{
  StudyDatabase db(dir);
  const auto s = db.series(series);
  if (!s)
    throw Error("no series " + std::to_string(series));
  int64_t parent = 0;
  for (long i = 0; count == 0 || i < count; ++i)
  {
    MaskProvenance p;
    p.source = MaskSource::Reader;
    p.parentId = parent;
    p.note = "helper " + std::to_string(seed) + " #" + std::to_string(i);
    const int64_t id = db.saveMaskVersion(series, dbtest::randomMask(s->geometry, seed * 100003u + unsigned(i)), p);
    const auto mv = db.maskVersion(id);
    std::printf("committed %lld %s\n", (long long)id, mv ? mv->sha256.c_str() : "?");
    std::fflush(stdout);
    parent = id;
  }
  return 0;
}

int importOne(const std::string& dir, const std::string& path)
{
  StudyDatabase db(dir);
  const ImportReport r = importPath(db, path);
  for (auto id : r.importedSeries)
    std::printf("imported-series %lld\n", (long long)id);
  for (auto id : r.importedMasks)
    std::printf("imported-mask %lld\n", (long long)id);
  for (const auto& f : r.failures)
    std::printf("failure %s: %s\n", f.path.c_str(), f.reason.c_str());
  std::fflush(stdout);
  return r.failures.empty() ? 0 : 1;
}

int openAs(const std::string& dir, bool asNobody)
{
  if (asNobody && ::geteuid() == 0)
  {
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)
      throw Error(std::string("cannot drop privileges: ") + std::strerror(errno));
  }
  StudyDatabase db(dir);
  std::printf("ok schema %d\n", db.schemaVersion());
  return 0;
}

int fsizeLimit(const std::string& dir, int64_t series, long bytes, unsigned seed, bool quiet)
{
  StudyDatabase db(dir);
  const auto s = db.series(series);
  if (!s)
    throw Error("no series " + std::to_string(series));
  const LabelMask mask = dbtest::randomMask(s->geometry, seed, !quiet);
  std::signal(SIGXFSZ, SIG_IGN); // writes past the limit fail with EFBIG instead of killing us
  rlimit lim{ rlim_t(bytes), rlim_t(bytes) };
  if (::setrlimit(RLIMIT_FSIZE, &lim) != 0)
    throw Error(std::string("setrlimit: ") + std::strerror(errno));
  MaskProvenance p;
  const int64_t id = db.saveMaskVersion(series, mask, p);
  std::printf("saved %lld\n", (long long)id);
  return 0;
}

int tmpfsFull(const std::string& dir)
{
  if (::unshare(CLONE_NEWNS) != 0)
  {
    std::printf("skip: unshare(CLONE_NEWNS): %s\n", std::strerror(errno));
    return 77;
  }
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=1m") != 0)
  {
    std::printf("skip: mount tmpfs: %s\n", std::strerror(errno));
    return 77;
  }
  const Geometry g = dbtest::grid(64, 64, 16);
  int64_t series = 0;
  std::vector<std::pair<int64_t, std::string>> committed;
  std::string error;
  {
    StudyDatabase db(dir);
    series = dbtest::addSyntheticSeries(db, g, "tmpfs");
    for (unsigned i = 0; i < 1000; ++i)
    {
      try
      {
        MaskProvenance p;
        const int64_t id = db.saveMaskVersion(series, dbtest::randomMask(g, 7000 + i), p);
        committed.push_back({ id, db.maskVersion(id)->sha256 });
      }
      catch (const std::exception& e)
      {
        error = e.what();
        break;
      }
    }
  }
  std::printf("committed %zu\nerror %s\n", committed.size(), error.c_str());
  if (error.empty())
    throw Error("the 1 MiB tmpfs never filled up");
  // Reopen on the full disk and check everything committed before it filled up.
  StudyDatabase db(dir);
  const std::string integrity = db.integrityCheck();
  const auto problems = db.verifyFiles();
  const auto masks = db.masksOf(series);
  std::printf("integrity %s\nfile-problems %zu\nmasks %zu\n", integrity.c_str(), problems.size(), masks.size());
  bool ok = integrity == "ok" && problems.empty() && masks.size() == committed.size();
  for (size_t i = 0; ok && i < committed.size(); ++i)
    ok = masks[i].id == committed[i].first && masks[i].sha256 == committed[i].second;
  std::fflush(stdout);
  return ok ? 0 : 1;
}
} // namespace

int main(int argc, char** argv)
{
  QCoreApplication app(argc, argv);
  const QStringList a = app.arguments().mid(1);
  try
  {
    const std::string mode = a.value(0).toStdString();
    const std::string dir = a.value(1).toStdString();
    if (mode == "save-loop" && a.size() == 5)
      return saveLoop(dir, a[2].toLongLong(), a[3].toLong(), a[4].toUInt());
    if (mode == "import" && a.size() == 3)
      return importOne(dir, a[2].toStdString());
    if (mode == "open" && (a.size() == 2 || a.size() == 3))
      return openAs(dir, a.value(2) == "--as-nobody");
    if (mode == "fsize-limit" && (a.size() == 5 || a.size() == 6))
      return fsizeLimit(dir, a[2].toLongLong(), a[3].toLong(), a[4].toUInt(), a.value(5) == "quiet");
    if (mode == "tmpfs-full" && a.size() == 2)
      return tmpfsFull(dir);
    std::fprintf(stderr, "usage: db_helper save-loop|import|open|fsize-limit|tmpfs-full ...\n");
    return 2;
  }
  catch (const std::exception& e)
  {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
