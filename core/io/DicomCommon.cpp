#include "core/io/DicomCommon.h"

#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <cstdlib>
#include <map>
#include <mutex>

namespace panseg
{
std::string trimmed(const std::string& s)
{
  const char* ws = " \t\r\n";
  std::string t = s;
  while (!t.empty() && (t.back() == '\0' || std::string(ws).find(t.back()) != std::string::npos))
    t.pop_back();
  const size_t b = t.find_first_not_of(ws);
  return b == std::string::npos ? std::string() : t.substr(b);
}

std::string transferSyntaxName(const std::string& uid)
{
  // Transfer syntaxes newer than DCMTK 3.6.7's dictionary.
  static const std::map<std::string, std::string> newer = {
      {"1.2.840.10008.1.2.8.1", "Deflated Image Frame Compression"},
      {"1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000 Image Compression (Lossless Only)"},
      {"1.2.840.10008.1.2.4.202",
       "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)"},
      {"1.2.840.10008.1.2.4.203", "High-Throughput JPEG 2000 Image Compression"},
      {"1.2.840.10008.1.2.4.110", "JPEG XL Lossless"},
  };
  const auto it = newer.find(uid);
  if (it != newer.end())
    return it->second + " (" + uid + ")";
  const DcmXfer xfer(uid.c_str());
  if (xfer.getXfer() != EXS_Unknown)
    return std::string(xfer.getXferName()) + " (" + uid + ")";
  return "unknown (" + uid + ")";
}

void registerDicomDecoders()
{
  static std::once_flag once;
  std::call_once(once,
                 []
                 {
                   DcmRLEDecoderRegistration::registerCodecs();
                   DJDecoderRegistration::registerCodecs();
                   DJLSDecoderRegistration::registerCodecs();
                 });
}

void quietDcmtkLog()
{
  static std::once_flag once;
  std::call_once(once, [] {
    // Errors included: the workstation reports each failure itself in one line; PANSEG_VERBOSE=1
    // brings DCMTK's own warnings back for debugging.
    const char* v = std::getenv("PANSEG_VERBOSE");
    OFLog::configure(v && *v && std::string(v) != "0" ? OFLogger::WARN_LOG_LEVEL : OFLogger::OFF_LOG_LEVEL);
  });
}
} // namespace panseg
