#include "database/exports/VolumeTable.h"

#include "core/Error.h"

#include <QDate>
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>

namespace panseg::db
{
namespace
{
bool validDate(const std::string& s)
{
  return s.size() == 10 && QDate::fromString(QString::fromStdString(s), Qt::ISODate).isValid();
}

QJsonObject jsonObject(const std::string& text)
{
  return QJsonDocument::fromJson(QByteArray::fromStdString(text)).object();
}

struct Approval
{
  std::string by, at;
};

/// Who approved each mask version: the last set-mask-state to "approved", or the save/import
/// entry of a version stored as approved.
std::map<int64_t, Approval> approvals(const StudyDatabase& db)
{
  std::map<int64_t, Approval> out;
  for (const AuditEntry& e : db.auditLog("mask_versions"))
  {
    const QJsonObject d = jsonObject(e.detailsJson);
    const bool approvedNow = (e.action == "set-mask-state" && d.value("to").toString() == "approved") ||
                             ((e.action == "save-mask" || e.action == "import-mask") &&
                              d.value("state").toString() == "approved");
    if (approvedNow)
      out[e.recordId] = Approval{ e.actor, e.at };
  }
  return out;
}

std::string sourceKey(const MaskVersion& m)
{
  switch (m.source)
  {
  case MaskSource::AI:
    return "ai:" + std::to_string(m.modelVersionId);
  case MaskSource::Reader:
    return "reader:" + std::to_string(m.authorUserId);
  case MaskSource::Consensus:
    return "consensus";
  case MaskSource::Import: // each imported file is its own source (several files may share an importer)
    return "import:" + m.importedFrom + ":" + std::to_string(m.authorUserId);
  }
  return "?";
}

std::string sourceName(const MaskVersion& m)
{
  if (m.source == MaskSource::AI)
    return "ai: " + (m.modelLabel.empty() ? "model " + std::to_string(m.modelVersionId) : m.modelLabel);
  if (m.source == MaskSource::Import && !m.importedFrom.empty())
    return "import: " + std::filesystem::path(m.importedFrom).filename().string();
  return to_string(m.source) + ": " + m.authorName;
}

bool matches(const SeriesRecord& s, const VolumeFilter& f)
{
  if (f.modality)
  {
    const bool mri = s.modality == Modality::Mri || s.modality == Modality::MriT1w || s.modality == Modality::MriT2w;
    if ((f.anyMri && *f.modality == Modality::Mri) ? !mri : s.modality != *f.modality)
      return false;
  }
  if (!f.center.empty() && s.center != f.center)
    return false;
  if (!f.fromDate.empty() && (s.studyDate.empty() || s.studyDate < f.fromDate))
    return false;
  if (!f.toDate.empty() && (s.studyDate.empty() || s.studyDate > f.toDate))
    return false;
  return true;
}
} // namespace

std::string modalityGroup(Modality m)
{
  switch (m)
  {
  case Modality::CT:
    return "CT";
  case Modality::Mri:
  case Modality::MriT1w:
  case Modality::MriT2w:
    return "MR";
  case Modality::Other:
    break;
  }
  return "other";
}

std::string VolumeTable::filterText() const
{
  std::vector<std::string> parts;
  if (!filter.seriesIds.empty())
    parts.push_back(std::to_string(filter.seriesIds.size()) + " selected series");
  if (filter.modality)
    parts.push_back("modality " + (filter.anyMri && *filter.modality == Modality::Mri ? std::string("MRI (any)")
                                                                                       : to_string(*filter.modality)));
  if (!filter.center.empty())
    parts.push_back("center " + filter.center);
  if (!filter.fromDate.empty() || !filter.toDate.empty())
    parts.push_back("study date " + (filter.fromDate.empty() ? std::string("...") : filter.fromDate) + " to " +
                    (filter.toDate.empty() ? std::string("...") : filter.toDate));
  if (filter.approvedOnly)
    parts.push_back("approved masks only");
  parts.push_back(filter.label == VolumeFilter::kPancreasByName ? std::string("pancreas label of each mask")
                  : filter.label == 0                           ? std::string("any non-zero label")
                                                                : "label " + std::to_string(filter.label));
  std::string out;
  for (const auto& p : parts)
    out += (out.empty() ? "" : ", ") + p;
  return out;
}

void validateFilter(const StudyDatabase& db, const VolumeFilter& f)
{
  if ((f.label < 0 && f.label != VolumeFilter::kPancreasByName) || f.label > 255)
    throw Error("the label must be a whole number from 0 to 255 (0 = any non-zero label), not " +
                std::to_string(f.label));
  if (!f.fromDate.empty() && !validDate(f.fromDate))
    throw Error("the start date '" + f.fromDate + "' is not a date of the form yyyy-mm-dd");
  if (!f.toDate.empty() && !validDate(f.toDate))
    throw Error("the end date '" + f.toDate + "' is not a date of the form yyyy-mm-dd");
  if (!f.fromDate.empty() && !f.toDate.empty() && f.fromDate > f.toDate)
    throw Error("the start date " + f.fromDate + " is after the end date " + f.toDate);
  if (!f.center.empty())
  {
    std::set<std::string> centers;
    for (const SeriesRecord& s : db.listSeries())
      centers.insert(s.center);
    if (!centers.count(f.center))
    {
      std::string known;
      for (const auto& c : centers)
        if (!c.empty())
          known += (known.empty() ? "" : ", ") + c;
      throw Error("no series from center '" + f.center + "' in " + db.dataFolder() +
                  (known.empty() ? std::string(" (no series has a center)") : " (centers: " + known + ")"));
    }
  }
  for (int64_t id : f.seriesIds)
    if (!db.series(id))
      throw Error("no series with id " + std::to_string(id) + " in " + db.dataFolder());
}

VolumeTable buildVolumeTable(const StudyDatabase& db, const VolumeFilter& filter)
{
  validateFilter(db, filter);
  VolumeTable t;
  t.filter = filter;
  t.dataFolder = db.dataFolder();
  const std::set<int64_t> wanted(filter.seriesIds.begin(), filter.seriesIds.end());
  const auto approved = approvals(db);
  std::set<std::string> models;
  t.rule = referenceRule(db);
  std::map<int64_t, ReferenceRow> references;

  for (const SeriesRecord& s : db.listSeries())
  {
    if ((!wanted.empty() && !wanted.count(s.id)) || !matches(s, filter))
      continue;
    const std::vector<MaskVersion> masks = db.masksOf(s.id); // oldest first
    const MaskVersion* approvedVersion = nullptr;
    const ReferenceChoice choice = chooseReferenceMask(masks, t.rule);
    references[s.id] = ReferenceRow{ s.id, choice.maskVersionId, choice.reason };
    std::map<std::string, const MaskVersion*> newestBySource;
    for (const MaskVersion& m : masks)
    {
      if (m.id == choice.maskVersionId)
        approvedVersion = &m;
      if (m.state != MaskState::Rejected)
        newestBySource[sourceKey(m)] = &m;
    }
    std::set<const MaskVersion*> chosen;
    if (approvedVersion)
      chosen.insert(approvedVersion);
    if (!filter.approvedOnly)
      for (const auto& [key, m] : newestBySource)
        chosen.insert(m);
    else
      for (const MaskVersion& m : masks)
        if (m.state == MaskState::Approved)
          chosen.insert(&m);

    const double voxelMm3 = s.geometry.voxelVolumeMm3();
    for (const MaskVersion* m : chosen)
    {
      VolumeRow r;
      r.seriesId = s.id;
      r.maskVersionId = m->id;
      r.patientKey = s.patientKey;
      r.patientId = s.patientId;
      r.patientName = s.patientName;
      r.studyDate = s.studyDate;
      r.seriesDescription = s.description;
      r.modality = s.modality;
      r.center = s.center;
      r.spacingMm = s.geometry.spacingMm;
      r.source = m->source;
      r.sourceName = sourceName(*m);
      r.modelLabel = m->modelLabel;
      r.author = m->authorName;
      r.state = m->state;
      r.approvedMask = m == approvedVersion;
      if (m->state == MaskState::Approved)
      {
        const auto a = approved.find(m->id);
        r.approvedBy = a != approved.end() ? a->second.by : m->authorName;
        r.approvedAt = a != approved.end() ? a->second.at : m->stateChangedAt;
      }
      r.createdAt = m->createdAt;
      r.label = filter.label == VolumeFilter::kPancreasByName ? (m->pancreasLabel > 0 ? m->pancreasLabel : -1)
                                                              : filter.label;
      if (r.label == 0)
        r.volumeMl = m->volumeMl;
      else
      {
        const auto v = m->labelVolumesMl.find(r.label);
        r.volumeMl = v != m->labelVolumesMl.end() ? v->second : 0.0;
      }
      r.voxelCount = voxelMm3 > 0 ? std::llround(r.volumeMl * 1000.0 / voxelMm3) : 0;
      if (m->source == MaskSource::AI && !m->modelLabel.empty())
        models.insert(m->modelLabel);
      t.rows.push_back(std::move(r));
    }
  }
  std::stable_sort(t.rows.begin(), t.rows.end(), [](const VolumeRow& a, const VolumeRow& b) {
    return std::tie(a.patientName, a.patientKey, a.studyDate, a.seriesId, a.maskVersionId) <
           std::tie(b.patientName, b.patientKey, b.studyDate, b.seriesId, b.maskVersionId);
  });
  t.modelVersions.assign(models.begin(), models.end());
  std::set<int64_t> listed;
  for (const VolumeRow& r : t.rows)
    if (listed.insert(r.seriesId).second)
      t.references.push_back(references[r.seriesId]);

  // Follow-up: one reference volume per (patient, modality group, study date).
  struct Reference
  {
    const VolumeRow* row = nullptr;
  };
  std::map<std::tuple<std::string, std::string, std::string>, Reference> refs;
  for (const VolumeRow& r : t.rows)
  {
    if (r.studyDate.empty())
      continue;
    Reference& ref = refs[{ r.patientKey, modalityGroup(r.modality), r.studyDate }];
    // Prefer the approved mask; else the newest version (rows are in version order per series).
    if (!ref.row || (r.approvedMask && !ref.row->approvedMask) ||
        (r.approvedMask == ref.row->approvedMask && r.seriesId == ref.row->seriesId &&
         r.maskVersionId > ref.row->maskVersionId))
      ref.row = &r;
  }
  const VolumeRow* previous = nullptr;
  std::pair<std::string, std::string> previousKey;
  for (const auto& [key, ref] : refs) // ordered by patient, group, date
  {
    const std::pair<std::string, std::string> groupKey{ std::get<0>(key), std::get<1>(key) };
    if (previous && groupKey == previousKey)
    {
      FollowUpRow f;
      f.patientKey = ref.row->patientKey;
      f.patientId = ref.row->patientId;
      f.patientName = ref.row->patientName;
      f.modalityGroup = groupKey.second;
      f.fromSeriesId = previous->seriesId;
      f.toSeriesId = ref.row->seriesId;
      f.fromMaskVersionId = previous->maskVersionId;
      f.toMaskVersionId = ref.row->maskVersionId;
      f.fromDate = previous->studyDate;
      f.toDate = ref.row->studyDate;
      f.days = int(QDate::fromString(QString::fromStdString(f.fromDate), Qt::ISODate)
                       .daysTo(QDate::fromString(QString::fromStdString(f.toDate), Qt::ISODate)));
      f.fromMl = previous->volumeMl;
      f.toMl = ref.row->volumeMl;
      f.deltaMl = f.toMl - f.fromMl;
      f.deltaPercent = f.fromMl > 0 ? 100.0 * f.deltaMl / f.fromMl : std::nan("");
      t.followUp.push_back(std::move(f));
    }
    previous = ref.row;
    previousKey = groupKey;
  }
  return t;
}
} // namespace panseg::db
