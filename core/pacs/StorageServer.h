#pragma once
// A local C-STORE SCP (DCMTK's DcmStorageSCP on a background thread): the destination of a C-MOVE
// (the PACS opens a second association to us and stores the instances) and the building block of
// an incoming node. Accepts every storage SOP class, uncompressed and the common compressed
// transfer syntaxes, as the given AE title, on 0.0.0.0:port. Files land in one folder, named by
// SOP instance UID.
#include <QString>

#include <atomic>
#include <memory>

namespace panseg::pacs
{
/// The SeriesInstanceUID of a DICOM file (header only); empty when it is not readable DICOM.
QString seriesInstanceUidOf(const QString& file);

class StorageServer
{
public:
  /// Opens the listening port at once; throws panseg::Error when the port is taken or the AE
  /// title is invalid. The folder must exist.
  StorageServer(const QString& aeTitle, int port, const QString& folder);
  ~StorageServer(); // stops
  /// Instances stored so far.
  int received() const;
  /// Stops accepting (returns within about a second; a running association finishes first).
  void stop();

private:
  struct Impl;
  std::unique_ptr<Impl> d;
};
} // namespace panseg::pacs
