#pragma once
// splitmix64 (Steele, Lea and Flood 2014): the project's one portable 64-bit generator. Its
// output is the same on every platform and compiler for a seed (std::shuffle and the standard
// distributions are not), which reader-study reading orders, the demo phantom and training runs
// that resume bit-exactly rely on.
#include <cstdint>

namespace panseg
{
/// The splitmix64 output function (a strong 64-bit mixer on its own).
inline std::uint64_t splitmix64Mix(std::uint64_t z)
{
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// Advances `state` by the golden-ratio increment and returns the next output.
inline std::uint64_t splitmix64Next(std::uint64_t& state) { return splitmix64Mix(state += 0x9E3779B97F4A7C15ull); }
} // namespace panseg
