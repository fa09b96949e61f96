#pragma once
// errorOf(fn): the message of the exception `fn` throws, "" when it throws none. Tests assert on
// the one-line messages users see.
#include <QString>

#include <exception>
#include <utility>

namespace
{
template <typename Fn> QString errorOf(Fn&& fn)
{
  try
  {
    std::forward<Fn>(fn)();
  }
  catch (const std::exception& e)
  {
    return QString::fromUtf8(e.what());
  }
  return {};
}
} // namespace
