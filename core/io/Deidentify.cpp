#include "core/io/Deidentify.h"

#include "core/Sha256.h"

#include "core/AtomicFile.h"
#include "core/Error.h"
#include "core/io/DicomCommon.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcsequen.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <set>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace panseg
{
// ------------------------------------------------------------------------------------------------
// SHA-256

std::string sha256(const std::string& bytes) { return sha256Digest(bytes); } // core/Sha256.h

namespace
{
/// Decimal digits of a big-endian unsigned integer (long division on 32-bit limbs).
std::string toDecimal(const std::string& bigEndian)
{
  std::vector<uint32_t> limbs;
  for (size_t i = 0; i + 3 < bigEndian.size(); i += 4)
    limbs.push_back(
        (uint32_t(uint8_t(bigEndian[i])) << 24) | (uint32_t(uint8_t(bigEndian[i + 1])) << 16) |
        (uint32_t(uint8_t(bigEndian[i + 2])) << 8) | uint32_t(uint8_t(bigEndian[i + 3])));
  std::string digits;
  auto isZero = [&]
  { return std::all_of(limbs.begin(), limbs.end(), [](uint32_t v) { return v == 0; }); };
  while (!isZero())
  {
    uint64_t rem = 0;
    for (auto& l : limbs)
    {
      const uint64_t cur = (rem << 32) | l;
      l = static_cast<uint32_t>(cur / 10);
      rem = cur % 10;
    }
    digits.push_back(static_cast<char>('0' + rem));
  }
  if (digits.empty())
    digits = "0";
  std::reverse(digits.begin(), digits.end());
  return digits;
}

uint64_t keyed64(const std::string& salt, const std::string& what)
{
  const std::string d = sha256(salt + "\x1f" + what);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | uint8_t(d[i]);
  return v;
}

// Civil date <-> days since 1970-01-01 (proleptic Gregorian).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d)
{
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d)
{
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

/// "YYYYMMDD" shifted by `days`; empty when the value is not a plain date.
std::string shiftDate(const std::string& v, int days)
{
  if (v.size() < 8 ||
      !std::all_of(v.begin(), v.begin() + 8, [](char c) { return c >= '0' && c <= '9'; }))
    return {};
  const int64_t y = std::stoll(v.substr(0, 4));
  const unsigned m = static_cast<unsigned>(std::stoi(v.substr(4, 2)));
  const unsigned d = static_cast<unsigned>(std::stoi(v.substr(6, 2)));
  if (m < 1 || m > 12 || d < 1 || d > 31)
    return {};
  int64_t ny = 0;
  unsigned nm = 0, nd = 0;
  civilFromDays(daysFromCivil(y, m, d) + days, &ny, &nm, &nd);
  if (ny < 1 || ny > 9999)
    return {};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld%02u%02u", static_cast<long long>(ny), nm, nd);
  return buf;
}

/// Attributes removed outright (identifying, or free text that may be).
const std::set<DcmTagKey>& removedTags()
{
  static const std::set<DcmTagKey> tags = {
      DCM_InstitutionName,
      DCM_InstitutionAddress,
      DCM_InstitutionalDepartmentName,
      DCM_InstitutionCodeSequence,
      DCM_StationName,
      DCM_IssuerOfPatientID,
      DCM_IssuerOfPatientIDQualifiersSequence,
      DCM_OtherPatientIDsSequence,
      DCM_RETIRED_OtherPatientIDs,
      DCM_OtherPatientNames,
      DCM_PatientAddress,
      DCM_PatientTelephoneNumbers,
      DCM_PatientBirthTime,
      DCM_PatientBirthName,
      DCM_PatientMotherBirthName,
      DCM_MilitaryRank,
      DCM_BranchOfService,
      DCM_RETIRED_MedicalRecordLocator,
      DCM_EthnicGroup,
      DCM_Occupation,
      DCM_AdditionalPatientHistory,
      DCM_PatientComments,
      DCM_PatientAge,
      DCM_ReferencedPatientSequence,
      DCM_ReferencedStudySequence,
      DCM_ReferencedPerformedProcedureStepSequence,
      DCM_RequestAttributesSequence,
      DCM_RequestingService,
      DCM_PerformedProcedureStepID,
      DCM_ScheduledProcedureStepID,
      DCM_RequestedProcedureID,
      DCM_PerformedProcedureStepDescription,
      DCM_RETIRED_StudyComments,
      DCM_ImageComments,
      DCM_ProtocolName,
      DCM_PhysiciansOfRecordIdentificationSequence,
      DCM_PerformingPhysicianIdentificationSequence,
      DCM_ReferringPhysicianIdentificationSequence,
      DCM_OperatorIdentificationSequence,
      DCM_ReferringPhysicianAddress,
      DCM_ReferringPhysicianTelephoneNumbers,
      DCM_PatientInsurancePlanCodeSequence,
      DCM_RETIRED_InsurancePlanIdentification,
      DCM_CountryOfResidence,
      DCM_RegionOfResidence,
      DCM_CurrentPatientLocation,
      DCM_PatientInstitutionResidence,
      DCM_ResponsibleOrganization,
      DCM_ResponsiblePerson,
      DCM_IrradiationEventUID, // re-identifying across modalities; not needed for the pixels
  };
  return tags;
}

class Rules
{
public:
  Rules(const Deidentifier& d, int offsetDays, std::string pseudonym)
      : d_(d), offsetDays_(offsetDays), pseudonym_(std::move(pseudonym))
  {
  }

  void apply(DcmItem& item, bool topLevel) const
  {
    for (unsigned long i = item.card(); i-- > 0;)
    {
      DcmElement* e = item.getElement(i);
      if (!e)
        continue;
      const DcmTag tag = e->getTag();
      const DcmTagKey key = tag.getXTag();
      const DcmEVR vr = e->ident();
      if ((key.getGroup() & 1u) == 1u || removedTags().count(key) || vr == EVR_LT || vr == EVR_ST ||
          vr == EVR_UT)
      {
        delete item.remove(e);
        continue;
      }
      if (vr == EVR_SQ)
      {
        auto* sq = static_cast<DcmSequenceOfItems*>(e);
        for (unsigned long n = 0; n < sq->card(); ++n)
          apply(*sq->getItem(n), false);
        continue;
      }
      if (key == DCM_PatientName || key == DCM_PatientID)
      {
        e->putString(topLevel ? pseudonym_.c_str() : "");
        continue;
      }
      if (vr == EVR_PN || key == DCM_AccessionNumber || key == DCM_StudyID ||
          key == DCM_PatientBirthDate)
      {
        e->putString("");
        continue;
      }
      if (key == DCM_DeviceSerialNumber)
      {
        e->putString("0");
        continue;
      }
      OFString value;
      if (vr == EVR_UI)
      {
        if (e->getOFStringArray(value).good() && !value.empty())
          e->putString(mapUids(value.c_str()).c_str());
        continue;
      }
      if (vr == EVR_DA || vr == EVR_DT)
      {
        if (e->getOFStringArray(value).good() && !value.empty())
        {
          const std::string v = trimmed(value.c_str());
          const std::string shifted = shiftDate(v, offsetDays_);
          // DT keeps its time part; anything that is not a plain date is emptied.
          e->putString(shifted.empty() ? ""
                                       : (vr == EVR_DT ? shifted + v.substr(8) : shifted).c_str());
        }
        continue;
      }
    }
  }

  std::string mapUids(const std::string& multi) const
  {
    std::string out;
    size_t start = 0;
    for (;;)
    {
      const size_t p = multi.find('\\', start);
      const std::string one =
          trimmed(multi.substr(start, p == std::string::npos ? std::string::npos : p - start));
      if (!out.empty() || start > 0)
        out += "\\";
      out += d_.mapUid(one);
      if (p == std::string::npos)
        break;
      start = p + 1;
    }
    return out;
  }

private:
  const Deidentifier& d_;
  int offsetDays_;
  std::string pseudonym_;
};

std::string getString(DcmItem& item, const DcmTagKey& key)
{
  OFString v;
  return item.findAndGetOFStringArray(key, v).good() ? trimmed(v.c_str()) : std::string();
}
} // namespace

// ------------------------------------------------------------------------------------------------
// Deidentifier

Deidentifier::Deidentifier(DeidentifyOptions options) : salt_(std::move(options.salt))
{
  if (salt_.empty())
  {
    std::random_device rd;
    for (int i = 0; i < 4; ++i)
      salt_ += std::to_string(rd());
  }
}

std::string Deidentifier::mapUid(const std::string& uid) const
{
  if (uid.empty() || uid.rfind("1.2.840.10008.", 0) == 0)
    return uid;
  return "2.25." + toDecimal(sha256(salt_ + "\x1fuid\x1f" + uid).substr(0, 16));
}

int Deidentifier::dateOffsetDays(const std::string& patientId) const
{
  return -static_cast<int>(1 + keyed64(salt_, "date\x1f" + patientId) % 3650);
}

std::string Deidentifier::pseudonym(const std::string& patientId) const
{
  char buf[32];
  std::snprintf(
      buf, sizeof buf, "ANON%010llX",
      static_cast<unsigned long long>(keyed64(salt_, "pid\x1f" + patientId) & 0xFFFFFFFFFFull));
  return buf;
}

void Deidentifier::deidentifyFile(const std::string& inPath, const std::string& outPath) const
{
  quietDcmtkLog();
  DcmFileFormat ff;
  const OFCondition c = ff.loadFile(inPath.c_str());
  if (c.bad())
    throw Error("cannot de-identify " + inPath + ": not a readable DICOM file (" + c.text() + ")");
  DcmDataset& ds = *ff.getDataset();
  DcmMetaInfo& meta = *ff.getMetaInfo();
  const std::string patientId = getString(ds, DCM_PatientID);
  // Some exports leave SOP Class/Instance UID only in the file meta header; keep them in the
  // dataset.
  if (getString(ds, DCM_SOPClassUID).empty() &&
      !getString(meta, DCM_MediaStorageSOPClassUID).empty())
    ds.putAndInsertString(DCM_SOPClassUID, getString(meta, DCM_MediaStorageSOPClassUID).c_str());
  if (getString(ds, DCM_SOPInstanceUID).empty() &&
      !getString(meta, DCM_MediaStorageSOPInstanceUID).empty())
    ds.putAndInsertString(DCM_SOPInstanceUID,
                          getString(meta, DCM_MediaStorageSOPInstanceUID).c_str());

  Rules rules(*this, dateOffsetDays(patientId), pseudonym(patientId));
  rules.apply(ds, true);
  ds.putAndInsertString(DCM_PatientIdentityRemoved, "YES");
  ds.putAndInsertString(DCM_LongitudinalTemporalInformationModified, "MODIFIED");
  ds.putAndInsertString(
      DCM_DeidentificationMethod,
      "PanSeg: basic profile subset; dates shifted; UIDs remapped; private tags removed");
  ds.findAndDeleteElement(DCM_DeidentificationMethodCodeSequence);
  const char* codes[][2] = {
      {"113100", "Basic Application Confidentiality Profile"},
      {"113107", "Retain Longitudinal Temporal Information Modified Dates Option"},
      {"113108", "Retain Patient Characteristics Option"}};
  for (long i = 0; i < 3; ++i)
  {
    DcmItem* it = nullptr;
    if (ds.findOrCreateSequenceItem(DCM_DeidentificationMethodCodeSequence, it, -2).good() && it)
    {
      it->putAndInsertString(DCM_CodeValue, codes[i][0]);
      it->putAndInsertString(DCM_CodingSchemeDesignator, "DCM");
      it->putAndInsertString(DCM_CodeMeaning, codes[i][1]);
    }
  }
  // The meta header is rebuilt from the dataset on save (Media Storage SOP Instance UID included).
  meta.findAndDeleteElement(DCM_MediaStorageSOPInstanceUID);
  meta.findAndDeleteElement(DCM_SourceApplicationEntityTitle);
  meta.findAndDeleteElement(DCM_SendingApplicationEntityTitle);
  meta.findAndDeleteElement(DCM_ReceivingApplicationEntityTitle);
  meta.findAndDeleteElement(DCM_PrivateInformationCreatorUID);
  meta.findAndDeleteElement(DCM_PrivateInformation);

  const fs::path out(outPath);
  const std::string temp =
      (out.parent_path() / (".tmp-" + std::to_string(::getpid()) + "-" + out.filename().string()))
          .string();
  const OFCondition saved = ff.saveFile(temp.c_str(), EXS_Unknown);
  if (saved.bad())
  {
    std::error_code ec;
    fs::remove(temp, ec);
    throw Error("cannot write de-identified " + outPath + ": " + saved.text());
  }
  commitFile(temp, outPath);
}

DeidentifyReport Deidentifier::deidentifyFolder(const std::string& folder,
                                                const std::string& outFolder) const
{
  quietDcmtkLog();
  if (!fs::is_directory(folder))
    throw Error("not a folder: " + folder);
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(folder))
    if (e.is_regular_file())
      files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  std::error_code ec;
  fs::create_directories(outFolder, ec);
  if (ec)
    throw Error("cannot create " + outFolder + ": " + ec.message());
  if (fs::equivalent(folder, outFolder, ec))
    throw Error("the output folder must differ from the input folder " + folder);
  DeidentifyReport report;
  for (const auto& f : files)
  {
    DcmFileFormat probe;
    if (probe
            .loadFileUntilTag(f.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength,
                              ERM_autoDetect, DCM_SOPClassUID)
            .bad())
    {
      ++report.skipped;
      continue;
    }
    char name[32];
    std::snprintf(name, sizeof name, "IM%05d.dcm", report.files + 1);
    deidentifyFile(f, (fs::path(outFolder) / name).string());
    ++report.files;
  }
  if (report.files == 0)
    throw Error("no DICOM files in " + folder);
  return report;
}

} // namespace panseg
