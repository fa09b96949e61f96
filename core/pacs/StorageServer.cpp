#include "core/pacs/StorageServer.h"

#include "core/Error.h"
#include "core/pacs/DcmtkLog.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcobject.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/dstorscp.h>

#include <QDir>

#include <thread>

namespace panseg::pacs
{
namespace
{
class Scp : public DcmStorageSCP
{
public:
  std::atomic<bool> stopRequested{ false };
  mutable std::atomic<int> stored{ 0 };

protected:
  OFBool stopAfterConnectionTimeout() override { return stopRequested.load(); }
  OFBool stopAfterCurrentAssociation() override { return stopRequested.load(); }
  void notifyInstanceStored(const OFString&, const OFString&, const OFString&, DcmDataset* = nullptr) const override
  {
    ++stored;
  }
};
} // namespace

QString seriesInstanceUidOf(const QString& file)
{
  DcmFileFormat ff;
  if (ff.loadFile(file.toLocal8Bit().constData(), EXS_Unknown, EGL_noChange, 4096, ERM_autoDetect).bad())
    return {};
  OFString uid;
  ff.getDataset()->findAndGetOFString(DCM_SeriesInstanceUID, uid);
  return QString::fromLatin1(uid.c_str()).trimmed();
}

struct StorageServer::Impl
{
  Scp scp;
  std::thread thread;
};

StorageServer::StorageServer(const QString& aeTitle, int port, const QString& folder) : d(std::make_unique<Impl>())
{
  quietDcmtkLog();
  if (aeTitle.trimmed().isEmpty() || aeTitle.size() > 16)
    throw Error("storage AE title '" + aeTitle.toStdString() + "' must be 1 to 16 characters");
  if (port < 1 || port > 65535)
    throw Error("storage port " + std::to_string(port) + " is outside 1..65535");
  Scp& scp = d->scp;
  scp.setAETitle(aeTitle.toLatin1().constData());
  scp.setPort(Uint16(port));
  if (scp.setOutputDirectory(QDir(folder).absolutePath().toLocal8Bit().constData()).bad())
    throw Error("cannot store received instances in " + folder.toStdString());
  scp.setDirectoryGenerationMode(DcmStorageSCP::DGM_NoSubdirectory);
  scp.setFilenameGenerationMode(DcmStorageSCP::FGM_SOPInstanceUID);
  scp.setFilenameExtension(".dcm");
  scp.setConnectionBlockingMode(DUL_NOBLOCK);
  scp.setConnectionTimeout(1);
  scp.setHostLookupEnabled(OFFalse);
  OFList<OFString> ts;
  for (const char* uid : { UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax,
                           UID_BigEndianExplicitTransferSyntax, UID_JPEG2000LosslessOnlyTransferSyntax,
                           UID_JPEG2000TransferSyntax, UID_JPEGProcess14SV1TransferSyntax,
                           UID_JPEGProcess1TransferSyntax, UID_JPEGLSLosslessTransferSyntax,
                           UID_RLELosslessTransferSyntax, UID_DeflatedExplicitVRLittleEndianTransferSyntax })
    ts.push_back(uid);
  // (DcmStorageSCP offers Verification itself; an SCP profile may name each SOP class once.)
  // An association profile holds at most 128 presentation contexts: DCMTK's list of the 120 most
  // used storage SOP classes (CT, MR, PET, SEG, RT, SR, ... as storescp offers).
  for (int i = 0; i < numberOfDcmLongSCUStorageSOPClassUIDs; ++i)
    if (scp.addPresentationContext(dcmLongSCUStorageSOPClassUIDs[i], ts).bad())
      throw Error("cannot configure the storage SCP's presentation contexts");
  // DcmSCP switches dcmdata's automatic input correction off for the whole process; the rest of
  // PanSeg (DICOM SEG export reads the source series) relies on the default, so it is restored.
  const OFBool correction = dcmEnableAutomaticInputDataCorrection.get();
  const OFCondition c = scp.openListenPort();
  dcmEnableAutomaticInputDataCorrection.set(correction);
  if (c.bad())
    throw Error("cannot listen for DICOM on port " + std::to_string(port) + ": " + c.text() +
                " (is another program using it?)");
  d->thread = std::thread([this]() { d->scp.acceptAssociations(); });
}

StorageServer::~StorageServer()
{
  stop();
}

int StorageServer::received() const
{
  return d->scp.stored.load();
}

void StorageServer::stop()
{
  d->scp.stopRequested = true;
  if (d->thread.joinable())
    d->thread.join();
}
} // namespace panseg::pacs
