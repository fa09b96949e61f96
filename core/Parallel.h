#pragma once
// Internal to core: split [0, count) into contiguous chunks run on std::threads. Callers compute
// every element with the same arithmetic whatever the chunking, so results never depend on the
// number of threads.

#include <algorithm>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

namespace panseg::detail
{
inline int resolveThreads(int requested)
{
  if (requested > 0)
    return requested;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min(hw, 16u));
}

/// Calls fn(begin, end) on disjoint chunks covering [0, count); the calling thread takes one chunk.
/// The first exception thrown by a chunk is rethrown after all threads have joined.
template <typename Fn> void parallelFor(int64_t count, int threads, Fn&& fn)
{
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(resolveThreads(threads), count));
  if (workers <= 1 || count < 2)
  {
    if (count > 0)
      fn(int64_t{0}, count);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(workers));
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(workers - 1));
  auto chunk = [&](int64_t w)
  {
    const int64_t begin = count * w / workers;
    const int64_t end = count * (w + 1) / workers;
    try
    {
      fn(begin, end);
    }
    catch (...)
    {
      errors[static_cast<size_t>(w)] = std::current_exception();
    }
  };
  for (int64_t w = 1; w < workers; ++w)
    pool.emplace_back(chunk, w);
  chunk(0);
  for (auto& t : pool)
    t.join();
  for (auto& e : errors)
    if (e)
      std::rethrow_exception(e);
}
} // namespace panseg::detail
