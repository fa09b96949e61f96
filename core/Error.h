#pragma once
#include <stdexcept>
#include <string>

namespace panseg
{
/// Every user-facing failure: the message is one line that says what is wrong and with what.
class Error : public std::runtime_error
{
public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};
} // namespace panseg
