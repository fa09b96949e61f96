// DIMSE client with DCMTK's DcmSCU: C-ECHO, C-FIND (study root), C-GET (series, received over
// the same association into a folder), C-STORE. No DCMTK type leaves this file.
#include "core/pacs/DcmtkLog.h"
#include "core/pacs/PacsClient.h"
#include "core/pacs/StorageServer.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/cond.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/dcmnet/scu.h>
#include <dcmtk/oflog/oflog.h>

#include <QDir>
#include <QFileInfo>

#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>
#include <functional>
#include <set>

namespace panseg::pacs
{
namespace
{
OFString of(const QString& s)
{
  return OFString(s.toLatin1().constData());
}
QString qs(const OFString& s)
{
  return QString::fromLatin1(s.c_str()).trimmed();
}

/// The keys of a series-level C-GET / C-MOVE request.
void seriesKeys(DcmDataset& q, const QString& studyUid, const QString& seriesUid)
{
  q.putAndInsertOFStringArray(DCM_QueryRetrieveLevel, "SERIES");
  q.putAndInsertOFStringArray(DCM_StudyInstanceUID, of(studyUid));
  q.putAndInsertOFStringArray(DCM_SeriesInstanceUID, of(seriesUid));
}

/// The status and failed sub-operations of the last C-GET / C-MOVE response; frees them all.
Uint16 lastRetrieveStatus(OFList<RetrieveResponse*>& responses, int* failed)
{
  Uint16 status = 0;
  for (RetrieveResponse* r : responses)
  {
    status = r->m_status;
    *failed = r->m_numberOfFailedSubops;
    delete r;
  }
  responses.clear();
  return status;
}

OFList<OFString> uncompressed()
{
  OFList<OFString> ts;
  ts.push_back(UID_LittleEndianExplicitTransferSyntax);
  ts.push_back(UID_LittleEndianImplicitTransferSyntax);
  ts.push_back(UID_BigEndianExplicitTransferSyntax);
  return ts;
}

/// DcmSCU that counts, reports and can cancel the C-STORE sub-operations of a C-GET.
class Scu : public DcmSCU
{
public:
  ProgressFn progress;
  TransferProgress tp;
  bool cancelled = false;

  OFCondition handleSTORERequest(const T_ASC_PresentationContextID presID, DcmDataset* incomingObject,
                                 OFBool& continueCGETSession, Uint16& cStoreReturnStatus) override
  {
    if (cancelled)
    {
      delete incomingObject;
      continueCGETSession = OFFalse;
      cStoreReturnStatus = STATUS_STORE_Refused_OutOfResources;
      return EC_Normal;
    }
    const OFCondition cond = DcmSCU::handleSTORERequest(presID, incomingObject, continueCGETSession, cStoreReturnStatus);
    if (cond.good() && cStoreReturnStatus == STATUS_Success)
      ++tp.files;
    if (progress && !progress(tp))
    {
      cancelled = true;
      continueCGETSession = OFFalse;
    }
    return cond;
  }

  /// C-MOVE: called for each response; `onMoveResponse` reports progress and may cancel.
  std::function<bool()> onMoveResponse;
  OFCondition handleMOVEResponse(const T_ASC_PresentationContextID presID, RetrieveResponse* response,
                                 OFBool& waitForNextResponse) override
  {
    const OFCondition c = DcmSCU::handleMOVEResponse(presID, response, waitForNextResponse);
    if (onMoveResponse && !onMoveResponse())
    {
      cancelled = true;
      waitForNextResponse = OFFalse;
    }
    return c;
  }
};

class DimseClient final : public PacsClient
{
public:
  explicit DimseClient(PacsProfile p) : PacsClient(std::move(p)) { quietDcmtkLog(); }

  void echo() override
  {
    Scu scu;
    scu.addPresentationContext(UID_VerificationSOPClass, uncompressed());
    associate(scu, "C-ECHO");
    const OFCondition c = scu.sendECHORequest(0);
    if (c.bad())
      fail("C-ECHO", c);
    scu.releaseAssociation();
  }

  std::vector<PacsRecord> find(const QueryFilter& f) override
  {
    Scu scu;
    scu.addPresentationContext(UID_FINDStudyRootQueryRetrieveInformationModel, uncompressed());
    associate(scu, "C-FIND");
    const T_ASC_PresentationContextID pc =
        scu.findPresentationContextID(UID_FINDStudyRootQueryRetrieveInformationModel, "");
    if (pc == 0)
      failText("PACS " + m_profile.name + " does not offer study-root C-FIND to AE " + m_profile.callingAet);
    DcmDataset q;
    const bool series = f.level == Level::Series;
    q.putAndInsertOFStringArray(DCM_QueryRetrieveLevel, series ? "SERIES" : "STUDY");
    q.putAndInsertOFStringArray(DCM_PatientName, of(f.patientName));
    q.putAndInsertOFStringArray(DCM_PatientID, of(f.patientId));
    q.putAndInsertOFStringArray(DCM_StudyDate, f.dateRange.isEmpty() ? OFString() : of(normalizeDateRange(f.dateRange)));
    q.putAndInsertOFStringArray(DCM_AccessionNumber, of(f.accession));
    q.putAndInsertOFStringArray(DCM_StudyInstanceUID, of(f.studyUid));
    q.putAndInsertOFStringArray(DCM_StudyDescription, "");
    if (series)
    {
      q.putAndInsertOFStringArray(DCM_SeriesInstanceUID, of(f.seriesUid));
      q.putAndInsertOFStringArray(DCM_Modality, of(f.modality));
      q.putAndInsertOFStringArray(DCM_SeriesDescription, "");
      q.putAndInsertOFStringArray(DCM_SeriesNumber, "");
      q.putAndInsertOFStringArray(DCM_NumberOfSeriesRelatedInstances, "");
    }
    else
    {
      q.putAndInsertOFStringArray(DCM_ModalitiesInStudy, of(f.modality));
      q.putAndInsertOFStringArray(DCM_NumberOfStudyRelatedInstances, "");
    }
    OFList<QRResponse*> responses;
    const OFCondition c = scu.sendFINDRequest(pc, &q, &responses);
    std::vector<PacsRecord> out;
    Uint16 finalStatus = 0;
    for (QRResponse* r : responses)
    {
      if (r->m_dataset && (r->m_status == STATUS_Pending || r->m_status == STATUS_FIND_Pending_WarningUnsupportedOptionalKeys))
      {
        DcmDataset* d = r->m_dataset;
        auto get = [&](const DcmTagKey& k) {
          OFString v;
          d->findAndGetOFStringArray(k, v);
          return qs(v);
        };
        PacsRecord rec;
        rec.level = f.level;
        rec.patientName = get(DCM_PatientName);
        rec.patientId = get(DCM_PatientID);
        rec.studyDate = get(DCM_StudyDate);
        rec.accession = get(DCM_AccessionNumber);
        rec.studyUid = get(DCM_StudyInstanceUID);
        bool ok = false;
        if (series)
        {
          rec.seriesUid = get(DCM_SeriesInstanceUID);
          rec.modality = get(DCM_Modality);
          rec.description = get(DCM_SeriesDescription);
          rec.seriesNumber = get(DCM_SeriesNumber).toInt(&ok);
          if (!ok)
            rec.seriesNumber = -1;
          rec.instances = get(DCM_NumberOfSeriesRelatedInstances).toInt(&ok);
        }
        else
        {
          rec.modality = get(DCM_ModalitiesInStudy);
          rec.description = get(DCM_StudyDescription);
          rec.instances = get(DCM_NumberOfStudyRelatedInstances).toInt(&ok);
        }
        if (!ok)
          rec.instances = -1;
        out.push_back(rec);
      }
      else
        finalStatus = r->m_status;
      delete r;
    }
    if (c.bad())
      fail("C-FIND", c);
    scu.releaseAssociation();
    if (finalStatus != STATUS_Success && finalStatus != STATUS_Pending)
      failText(QString("PACS %1 refused the C-FIND (status 0x%2)").arg(m_profile.name).arg(finalStatus, 4, 16, QChar('0')));
    // C-FIND has no paging: offset and limit apply to the answer.
    if (f.offset > 0)
      out.erase(out.begin(), out.begin() + std::min<size_t>(out.size(), size_t(f.offset)));
    if (f.limit > 0 && out.size() > size_t(f.limit))
      out.resize(size_t(f.limit));
    return out;
  }

  RetrieveResult retrieveSeries(const QString& studyUidIn, const QString& seriesUid, const QString& folder,
                                const ProgressFn& progress) override
  {
    QString studyUid = studyUidIn;
    int expected = -1;
    if (studyUid.isEmpty())
    {
      const PacsRecord rec = findSeries(*this, seriesUid);
      studyUid = rec.studyUid;
      expected = rec.instances;
    }
    if (!QFileInfo(folder).isDir())
      failText("cannot retrieve into " + folder + ": not a folder");
    if (m_profile.useMove)
      return moveSeries(studyUid, seriesUid, folder, expected, progress);
    Scu scu;
    scu.progress = progress;
    scu.tp.expectedFiles = expected;
    scu.setStorageDir(of(QDir(folder).absolutePath()));
    scu.setStorageMode(DCMSCU_STORAGE_DISK);
    scu.addPresentationContext(UID_GETStudyRootQueryRetrieveInformationModel, uncompressed());
    // The PACS sends each instance back over this association (C-STORE sub-operations): we act as
    // storage SCP for the storage SOP classes (at most 128 presentation contexts in all).
    for (int i = 0; i < numberOfDcmLongSCUStorageSOPClassUIDs && i < 120; ++i)
      scu.addPresentationContext(dcmLongSCUStorageSOPClassUIDs[i], uncompressed(), ASC_SC_ROLE_SCP);
    associate(scu, "C-GET");
    const T_ASC_PresentationContextID pc = scu.findPresentationContextID(UID_GETStudyRootQueryRetrieveInformationModel, "");
    if (pc == 0)
      failText("PACS " + m_profile.name + " does not offer study-root C-GET to AE " + m_profile.callingAet);
    DcmDataset q;
    seriesKeys(q, studyUid, seriesUid);
    OFList<RetrieveResponse*> responses;
    const OFCondition c = scu.sendCGETRequest(pc, &q, &responses);
    int failed = 0;
    const Uint16 finalStatus = lastRetrieveStatus(responses, &failed);
    if (scu.cancelled)
    {
      scu.closeAssociation(DCMSCU_ABORT_ASSOCIATION);
      throw Cancelled();
    }
    if (c.bad())
      fail("C-GET", c);
    scu.releaseAssociation();
    if (finalStatus != STATUS_Success && finalStatus != STATUS_GET_Warning_SubOperationsCompleteOneOrMoreFailures)
      failText(QString("PACS %1 refused the C-GET of series %2 (status 0x%3)")
                 .arg(m_profile.name, seriesUid)
                 .arg(finalStatus, 4, 16, QChar('0')));
    RetrieveResult result;
    for (const QFileInfo& fi : QDir(folder).entryInfoList(QDir::Files, QDir::Name))
    {
      result.files << fi.absoluteFilePath();
      result.bytes += fi.size();
    }
    if (failed > 0)
      failText(QString("PACS %1 could not send %2 instance(s) of series %3 (C-GET sub-operations failed)")
                 .arg(m_profile.name)
                 .arg(failed)
                 .arg(seriesUid));
    if (result.files.isEmpty())
      failText("series " + seriesUid + " not found on PACS " + m_profile.name + " (C-GET returned no instances)");
    if (expected > 0 && result.files.size() != expected)
      failText(QString("PACS %1 sent %2 of the %3 instances of series %4")
                 .arg(m_profile.name)
                 .arg(result.files.size())
                 .arg(expected)
                 .arg(seriesUid));
    return result;
  }

  void store(const QStringList& files, const ProgressFn& progress) override
  {
    struct Item
    {
      QString path;
      OFString sopClass, ts;
    };
    std::vector<Item> items;
    std::set<std::pair<OFString, OFString>> contexts;
    for (const QString& path : files)
    {
      DcmFileFormat ff;
      if (ff.loadFile(of(path)).bad())
        failText("cannot read DICOM file " + path);
      OFString sopClass;
      ff.getMetaInfo()->findAndGetOFString(DCM_MediaStorageSOPClassUID, sopClass);
      if (sopClass.empty())
        ff.getDataset()->findAndGetOFString(DCM_SOPClassUID, sopClass);
      if (sopClass.empty())
        failText(path + " has no SOP class UID; it cannot be stored");
      OFString ts;
      ff.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, ts);
      if (ts.empty())
        ts = UID_LittleEndianImplicitTransferSyntax;
      items.push_back({ path, sopClass, ts });
      contexts.insert({ sopClass, ts });
    }
    Scu scu;
    scu.setDatasetConversionMode(OFTrue);
    for (const auto& [sopClass, ts] : contexts)
    {
      OFList<OFString> list;
      list.push_back(ts);
      if (ts != UID_LittleEndianExplicitTransferSyntax)
        list.push_back(UID_LittleEndianExplicitTransferSyntax);
      if (ts != UID_LittleEndianImplicitTransferSyntax)
        list.push_back(UID_LittleEndianImplicitTransferSyntax);
      scu.addPresentationContext(sopClass, list);
    }
    associate(scu, "C-STORE");
    TransferProgress tp;
    tp.expectedFiles = int(items.size());
    for (const Item& it : items)
    {
      T_ASC_PresentationContextID pc = scu.findPresentationContextID(it.sopClass, it.ts);
      if (pc == 0)
        pc = scu.findAnyPresentationContextID(it.sopClass, it.ts);
      if (pc == 0)
        failText("PACS " + m_profile.name + " does not accept SOP class " + qs(it.sopClass) + " (" + it.path + ")");
      Uint16 status = 0;
      const OFCondition c = scu.sendSTORERequest(pc, OFFilename(it.path.toLocal8Bit().constData()), nullptr, status);
      if (c.bad())
        fail("C-STORE", c);
      if (status != STATUS_Success && (status & 0xF000) != 0xB000)
        failText(QString("PACS %1 refused %2 (C-STORE status 0x%3)").arg(m_profile.name, it.path).arg(status, 4, 16, QChar('0')));
      ++tp.files;
      tp.bytes += QFileInfo(it.path).size();
      if (progress && !progress(tp))
      {
        scu.closeAssociation(DCMSCU_ABORT_ASSOCIATION);
        throw Cancelled();
      }
    }
    scu.releaseAssociation();
  }

private:
  /// C-MOVE to our own storage SCP (StorageServer on profile.storagePort as callingAet).
  RetrieveResult moveSeries(const QString& studyUid, const QString& seriesUid, const QString& folder, int expected,
                            const ProgressFn& progress)
  {
    StorageServer server(m_profile.callingAet, m_profile.storagePort, folder);
    Scu scu;
    TransferProgress tp;
    tp.expectedFiles = expected;
    scu.onMoveResponse = [&]() {
      tp.files = server.received();
      return !progress || progress(tp);
    };
    scu.addPresentationContext(UID_MOVEStudyRootQueryRetrieveInformationModel, uncompressed());
    associate(scu, "C-MOVE");
    const T_ASC_PresentationContextID pc = scu.findPresentationContextID(UID_MOVEStudyRootQueryRetrieveInformationModel, "");
    if (pc == 0)
      failText("PACS " + m_profile.name + " does not offer study-root C-MOVE to AE " + m_profile.callingAet);
    DcmDataset q;
    seriesKeys(q, studyUid, seriesUid);
    OFList<RetrieveResponse*> responses;
    const OFCondition c = scu.sendMOVERequest(pc, of(m_profile.callingAet), &q, &responses);
    int failed = 0;
    const Uint16 finalStatus = lastRetrieveStatus(responses, &failed);
    if (scu.cancelled)
    {
      scu.closeAssociation(DCMSCU_ABORT_ASSOCIATION);
      server.stop();
      throw Cancelled();
    }
    if (c.bad())
      fail("C-MOVE", c);
    scu.releaseAssociation();
    server.stop();
    if (finalStatus == STATUS_MOVE_Failed_MoveDestinationUnknown)
      failText(QString("PACS %1 does not know the move destination '%2': register AE %2 at this computer, port %3, "
                       "on the PACS")
                 .arg(m_profile.name, m_profile.callingAet)
                 .arg(m_profile.storagePort));
    if (finalStatus != STATUS_Success && finalStatus != STATUS_MOVE_Warning_SubOperationsCompleteOneOrMoreFailures)
      failText(QString("PACS %1 refused the C-MOVE of series %2 (status 0x%3)")
                 .arg(m_profile.name, seriesUid)
                 .arg(finalStatus, 4, 16, QChar('0')));
    RetrieveResult result;
    for (const QFileInfo& fi : QDir(folder).entryInfoList(QDir::Files, QDir::Name))
    {
      result.files << fi.absoluteFilePath();
      result.bytes += fi.size();
    }
    if (failed > 0)
      failText(QString("PACS %1 could not send %2 instance(s) of series %3 to our storage SCP on port %4 (C-MOVE "
                       "sub-operations failed)")
                 .arg(m_profile.name)
                 .arg(failed)
                 .arg(seriesUid)
                 .arg(m_profile.storagePort));
    if (result.files.isEmpty())
      failText("series " + seriesUid + " not found on PACS " + m_profile.name + " (C-MOVE moved no instances)");
    if (expected > 0 && result.files.size() != expected)
      failText(QString("PACS %1 sent %2 of the %3 instances of series %4")
                 .arg(m_profile.name)
                 .arg(result.files.size())
                 .arg(expected)
                 .arg(seriesUid));
    tp.files = int(result.files.size());
    tp.bytes = result.bytes;
    if (progress)
      progress(tp);
    return result;
  }

  [[noreturn]] void failText(const QString& message) const { throw Error(message.toStdString()); }

  [[noreturn]] void fail(const char* what, const OFCondition& c) const
  {
    const QString where = QString("%1:%2").arg(m_profile.host).arg(m_profile.port);
    const QString text = QString::fromLatin1(c.text());
    if (c == DUL_ASSOCIATIONREJECTED)
      failText(QString("PACS %1 rejected the association (called AE '%2', calling AE '%3'): check that both AE titles "
                       "are registered on the server")
                 .arg(m_profile.name, m_profile.calledAet, m_profile.callingAet));
    if (text.contains("Connection refused", Qt::CaseInsensitive))
      failText("PACS " + m_profile.name + ": connection refused at " + where + " (is the server running?)");
    if (text.contains("timed out", Qt::CaseInsensitive) || text.contains("timeout", Qt::CaseInsensitive) ||
        c == DUL_READTIMEOUT)
      failText(QString("PACS %1: no answer from %2 within %3 s (%4)").arg(m_profile.name, where).arg(m_profile.timeoutMs / 1000.0).arg(what));
    if (c == NET_EC_NoAcceptablePresentationContexts)
      failText(QString("PACS %1 accepted none of the presentation contexts of the %2").arg(m_profile.name, what));
    failText(QString("PACS %1 (%2): %3 failed: %4").arg(m_profile.name, where, what, text));
  }

  void associate(Scu& scu, const char* what)
  {
    const int seconds = std::max(1, int(std::ceil(m_profile.timeoutMs / 1000.0)));
    scu.setAETitle(of(m_profile.callingAet));
    scu.setPeerAETitle(of(m_profile.calledAet));
    scu.setPeerHostName(of(m_profile.host));
    scu.setPeerPort(Uint16(m_profile.port));
    scu.setConnectionTimeout(seconds);
    scu.setACSETimeout(Uint32(seconds));
    scu.setDIMSETimeout(Uint32(std::max(seconds, 30)));
    scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
    scu.setMaxReceivePDULength(ASC_DEFAULTMAXPDU);
    OFCondition c = scu.initNetwork();
    if (c.bad())
      fail(what, c);
    c = scu.negotiateAssociation();
    if (c.bad())
      fail(what, c);
  }
};
} // namespace

std::unique_ptr<PacsClient> makeDimseClient(const PacsProfile& profile)
{
  return std::make_unique<DimseClient>(profile);
}
} // namespace panseg::pacs
