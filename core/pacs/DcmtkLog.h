#pragma once
// DCMTK's own log lines (association received, C-STORE request, ...) stay off unless
// PANSEG_VERBOSE=1: PanSeg reports each event and failure itself in one line. Internal to core/pacs.
#include <dcmtk/config/osconfig.h>
#include <dcmtk/oflog/oflog.h>

#include <cstdlib>
#include <mutex>
#include <string>

namespace panseg::pacs
{
inline void quietDcmtkLog()
{
  static std::once_flag once;
  std::call_once(once, [] {
    const char* v = std::getenv("PANSEG_VERBOSE");
    OFLog::configure(v && *v && std::string(v) != "0" ? OFLogger::INFO_LOG_LEVEL : OFLogger::OFF_LOG_LEVEL);
  });
}
} // namespace panseg::pacs
