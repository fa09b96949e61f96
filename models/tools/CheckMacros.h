#pragma once
// The check tools' assertions (panseg_models_check, panseg_train_check, panseg_pnet_check,
// panseg_pipeline_check): plain executables run by ctest, counting checks and failures instead of a test framework (models/
// builds with LibTorch alone). Include once per tool, inside nothing.
#include "core/Error.h"

#include <cmath>
#include <cstdio>
#include <string>

namespace
{
int g_failures = 0;
int g_checks = 0;

#define VERIFY(cond)                                                                               \
  do                                                                                               \
  {                                                                                                \
    ++g_checks;                                                                                    \
    if (!(cond))                                                                                   \
    {                                                                                              \
      ++g_failures;                                                                                \
      std::printf("  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                                \
    }                                                                                              \
  } while (0)

#define VERIFY_NEAR(a, b, tol)                                                                     \
  do                                                                                               \
  {                                                                                                \
    ++g_checks;                                                                                    \
    const double va_ = (a), vb_ = (b);                                                             \
    if (!(std::abs(va_ - vb_) <= (tol)))                                                           \
    {                                                                                              \
      ++g_failures;                                                                                \
      std::printf("  FAIL %s:%d: %s = %.9g, expected %.9g (tol %g)\n", __FILE__, __LINE__, #a,     \
                  va_, vb_, static_cast<double>(tol));                                             \
    }                                                                                              \
  } while (0)

/// `expr` must throw panseg::Error whose message contains `needle`; the message is printed.
#define VERIFY_THROWS(expr, needle)                                                                \
  do                                                                                               \
  {                                                                                                \
    ++g_checks;                                                                                    \
    try                                                                                            \
    {                                                                                              \
      expr;                                                                                        \
      ++g_failures;                                                                                \
      std::printf("  FAIL %s:%d: no panseg::Error from %s\n", __FILE__, __LINE__, #expr);          \
    }                                                                                              \
    catch (const panseg::Error& e_)                                                                \
    {                                                                                              \
      const std::string m_ = e_.what();                                                            \
      if (m_.find(needle) == std::string::npos)                                                    \
      {                                                                                            \
        ++g_failures;                                                                              \
        std::printf("  FAIL %s:%d: message lacks \"%s\": %s\n", __FILE__, __LINE__, needle,        \
                    m_.c_str());                                                                   \
      }                                                                                            \
      else                                                                                         \
        std::printf("  ok   error as expected: %s\n", m_.c_str());                                 \
    }                                                                                              \
    catch (const std::exception& e_)                                                               \
    {                                                                                              \
      ++g_failures;                                                                                \
      std::printf("  FAIL %s:%d: %s threw a non-panseg exception: %s\n", __FILE__, __LINE__,       \
                  #expr, e_.what());                                                               \
    }                                                                                              \
  } while (0)

#define VERIFY_EQ(a, b)                                                                            \
  do                                                                                               \
  {                                                                                                \
    ++g_checks;                                                                                    \
    const auto va_ = (a);                                                                          \
    const auto vb_ = (b);                                                                          \
    if (!(va_ == vb_))                                                                             \
    {                                                                                              \
      ++g_failures;                                                                                \
      std::printf("  FAIL %s:%d: %s == %s (%s vs %s)\n", __FILE__, __LINE__, #a, #b,               \
                  std::to_string(va_).c_str(), std::to_string(vb_).c_str());                       \
    }                                                                                              \
  } while (0)

} // namespace
