#include "database/studies/StudyReport.h"

#include "core/Error.h"
#include "core/display/LabelPresets.h"
#include "core/stats/Reliability.h"
#include "database/StudyDatabase.h"

#include <QDateTime>

#include <algorithm>
#include <cmath>
#include <set>

namespace panseg::db
{
const std::vector<std::pair<std::string, std::string>>& table3Metrics()
{
  static const std::vector<std::pair<std::string, std::string>> m = {
      {"dice", "Dice"},     {"jaccard", "Jaccard"},         {"precision", "Precision"},
      {"recall", "Recall"}, {"hd95_mm", "HD95 (mm)"},       {"assd_mm", "ASSD (mm)"},
      {"kappa", "Kappa"},   {"kappa_bbox", "Kappa (bbox)"}, {"vpe", "VPE"},
  };
  return m;
}

double metricValue(const AgreementResult& r, const std::string& metric)
{
  if (metric == "dice")
    return r.dice;
  if (metric == "jaccard")
    return r.jaccard;
  if (metric == "precision")
    return r.precision;
  if (metric == "recall")
    return r.recall;
  if (metric == "hd95_mm")
    return r.hd95Mm;
  if (metric == "hd_mm")
    return r.hdMm;
  if (metric == "assd_mm")
    return r.assdMm;
  if (metric == "kappa")
    return r.kappa;
  if (metric == "kappa_bbox")
    return r.kappaBbox;
  if (metric == "vpe")
    return r.vpe;
  if (metric == "volume_a_ml")
    return r.volumeAMl;
  if (metric == "volume_b_ml")
    return r.volumeBMl;
  throw Error("unknown metric '" + metric + "'");
}

stats::MeanInterval metricMeanInterval(const std::vector<double>& values, const std::string& metric)
{
  stats::MeanInterval ci = stats::meanTInterval(values);
  double lo = -INFINITY, hi = INFINITY;
  if (metric == "dice" || metric == "jaccard" || metric == "precision" || metric == "recall")
    lo = 0, hi = 1;
  else if (metric == "kappa" || metric == "kappa_bbox")
    lo = -1, hi = 1;
  else if (metric == "vpe")
    lo = -1;
  else if (metric.size() > 3 && metric.compare(metric.size() - 3, 3, "_mm") == 0)
    lo = 0;
  if (std::isfinite(ci.lower))
    ci.lower = std::clamp(ci.lower, lo, hi);
  if (std::isfinite(ci.upper))
    ci.upper = std::clamp(ci.upper, lo, hi);
  return ci;
}

stats::BootstrapOptions kappaBootstrapOptions()
{
  stats::BootstrapOptions o;
  o.resamples = 2000;
  o.level = 0.95;
  o.seed = 20240601;
  return o;
}

namespace
{
bool counted(ReadState s)
{
  return s == ReadState::Submitted || s == ReadState::Approved;
}

std::string comparisonOf(StudyDesign d)
{
  return d == StudyDesign::InterObserver   ? "inter"
         : d == StudyDesign::IntraObserver ? "intra"
                                           : "ai-edit";
}

double meanOrNan(const std::vector<double>& v)
{
  return v.empty() ? std::nan("") : stats::mean(v);
}
double sdOrNan(const std::vector<double>& v)
{
  return v.size() < 2 ? std::nan("") : stats::standardDeviation(v);
}
stats::MeanInterval intervalOrNan(const std::vector<double>& v, const std::string& metric)
{
  if (!v.empty())
    return metricMeanInterval(v, metric);
  stats::MeanInterval none;
  none.mean = none.lower = none.upper = std::nan("");
  return none;
}
} // namespace

StudyReportData computeStudyReport(StudyDatabase& db, int64_t studyId)
{
  ReaderStudy rs(db);
  StudyReportData out;
  out.study = rs.study(studyId);
  out.generatedAt = QDateTime::currentDateTimeUtc().toString(Qt::ISODate).toStdString();
  const std::vector<ReadRecord> reads = rs.reads(studyId); // refuses non-coordinators
  const StudyDesign design = out.study.design;
  const std::string comparison = comparisonOf(design);
  const int label = out.study.label;
  out.readsTotal = int(reads.size());
  const std::map<int64_t, int64_t> consensus = rs.consensusMasks(studyId);
  out.referenceRule = referenceRule(db, studyId);

  for (size_t ci = 0; ci < out.study.seriesIds.size(); ++ci)
  {
    const int64_t seriesId = out.study.seriesIds[ci];
    const auto series = db.series(seriesId);
    if (!series)
      throw Error("series " + std::to_string(seriesId) + " of the study is missing from " +
                  db.databasePath());
    {
      StudyReferenceRow ref;
      ref.seriesId = seriesId;
      ref.patient = series->patientId.empty() ? series->patientName : series->patientId;
      const std::vector<MaskVersion> versions = db.masksOf(seriesId);
      const ReferenceChoice choice = chooseReferenceMask(versions, out.referenceRule);
      ref.maskVersionId = choice.maskVersionId;
      ref.reason = choice.reason;
      for (const MaskVersion& m : versions)
        if (m.id == choice.maskVersionId)
          ref.source = m.source == MaskSource::AI ? "ai: " + m.modelLabel : to_string(m.source) + ": " + m.authorName;
      out.references.push_back(ref);
    }
    std::vector<ReadRecord> caseReads;
    for (const ReadRecord& r : reads)
      if (r.seriesId == seriesId && counted(r.state) && r.maskVersionId > 0)
        caseReads.push_back(r);
    out.readsDone += int(caseReads.size());
    std::sort(caseReads.begin(), caseReads.end(),
              [](const ReadRecord& a, const ReadRecord& b)
              {
                return a.readerName != b.readerName ? a.readerName < b.readerName
                                                    : a.readNumber < b.readNumber;
              });
    // Study label 0 compares whole masks, except multi-organ maps (a TotalSegmentator table):
    // those are compared on the pancreas their label table names (core/display/LabelPresets.h).
    std::map<int64_t, int> labels;
    auto labelOf = [&](int64_t id)
    {
      if (label != 0)
        return label;
      auto it = labels.find(id);
      if (it == labels.end())
        it = labels.emplace(id, wholeMaskLabelOf(db.labelTable(id))).first;
      return it->second;
    };
    std::map<int64_t, LabelMask> masks; // this case only
    auto mask = [&](int64_t id) -> const LabelMask&
    {
      auto it = masks.find(id);
      if (it == masks.end())
        it = masks.emplace(id, db.loadMask(id)).first;
      return it->second;
    };
    auto addRow = [&](const std::string& nameA, int64_t a, const std::string& nameB, int64_t b,
                      const std::string& kind)
    {
      StudyPairRow row;
      row.seriesId = seriesId;
      row.patient = series->patientId.empty() ? series->patientName : series->patientId;
      row.modality = to_string(series->modality);
      row.center = series->center;
      row.comparison = kind;
      row.readerA = nameA;
      row.readerB = nameB;
      row.maskA = a;
      row.maskB = b;
      row.metrics = computeAgreement(mask(a), labelOf(a), mask(b), labelOf(b));
      out.pairs.push_back(row);
    };
    if (design == StudyDesign::InterObserver)
    {
      for (size_t i = 0; i < caseReads.size(); ++i)
        for (size_t j = i + 1; j < caseReads.size(); ++j)
          if (caseReads[i].readNumber == 1 && caseReads[j].readNumber == 1)
            addRow(caseReads[j].readerName, caseReads[j].maskVersionId, caseReads[i].readerName,
                   caseReads[i].maskVersionId, comparison);
    }
    else if (design == StudyDesign::IntraObserver)
    {
      for (size_t i = 0; i + 1 < caseReads.size(); ++i)
        if (caseReads[i].readerName == caseReads[i + 1].readerName &&
            caseReads[i].readNumber == 1 && caseReads[i + 1].readNumber == 2)
          addRow(caseReads[i].readerName + " (read 2)", caseReads[i + 1].maskVersionId,
                 caseReads[i].readerName + " (read 1)", caseReads[i].maskVersionId, comparison);
    }
    else if (out.study.aiMaskIds[ci] > 0)
    {
      for (const ReadRecord& r : caseReads)
        addRow(r.readerName, r.maskVersionId, "AI", out.study.aiMaskIds[ci], comparison);
    }
    // Every reader's first read against the AI mask (AI review has this as "ai-edit") and
    // against the study's consensus of the case.
    if (design != StudyDesign::AiReview && out.study.aiMaskIds[ci] > 0)
      for (const ReadRecord& r : caseReads)
        if (r.readNumber == 1)
          addRow(r.readerName, r.maskVersionId, "AI", out.study.aiMaskIds[ci], "reader-ai");
    if (const auto c = consensus.find(seriesId); c != consensus.end())
      for (const ReadRecord& r : caseReads)
        if (r.readNumber == 1)
          addRow(r.readerName, r.maskVersionId, "consensus", c->second, "reader-consensus");
  }

  // ---- Table 3 ----------------------------------------------------------------------------
  std::set<std::string> comparisons;
  for (const auto& p : out.pairs)
    comparisons.insert(p.comparison);
  for (const std::string& c : comparisons)
    for (const auto& [metric, title] : table3Metrics())
    {
      std::vector<double> v;
      size_t excluded = 0;
      for (const auto& p : out.pairs)
        if (p.comparison == c)
        {
          const double x = metricValue(p.metrics, metric);
          if (std::isfinite(x))
            v.push_back(x);
          else
            ++excluded;
        }
      MetricSummary s;
      s.comparison = c;
      s.metric = metric;
      s.excluded = excluded;
      if (!v.empty())
        s.summary = stats::summarize(v);
      else
        s.summary.mean = s.summary.sd = s.summary.median = std::nan("");
      s.ci = intervalOrNan(v, metric);
      out.table3.push_back(s);
    }

  // ---- Table 4 ----------------------------------------------------------------------------
  for (const std::string& c : comparisons)
    for (const std::string groupBy : {"modality", "center"})
    {
      std::map<std::string, std::vector<const StudyPairRow*>> groups;
      for (const auto& p : out.pairs)
        if (p.comparison == c)
          groups[groupBy == "modality" ? p.modality : (p.center.empty() ? "(none)" : p.center)]
              .push_back(&p);
      for (const auto& [group, rows] : groups)
      {
        std::vector<double> dice, hd;
        for (const auto* p : rows)
        {
          dice.push_back(p->metrics.dice);
          if (p->metrics.distancesDefined)
            hd.push_back(p->metrics.hd95Mm);
        }
        out.table4.push_back({c, groupBy, group, rows.size(), meanOrNan(dice), sdOrNan(dice),
                              meanOrNan(hd), sdOrNan(hd), intervalOrNan(dice, "dice"),
                              intervalOrNan(hd, "hd95_mm")});
      }
    }

  // ---- volumes ----------------------------------------------------------------------------
  for (const std::string& c : comparisons)
  {
    std::vector<double> a, b;
    for (const auto& p : out.pairs)
      if (p.comparison == c)
      {
        a.push_back(p.metrics.volumeAMl);
        b.push_back(p.metrics.volumeBMl);
      }
    VolumeComparison v;
    v.comparison = c;
    v.n = a.size();
    v.meanAMl = meanOrNan(a);
    v.meanBMl = meanOrNan(b);
    if (a.size() >= 2)
    {
      v.tTest = stats::pairedTTest(a, b);
      v.blandAltman = stats::blandAltman(a, b);
    }
    if (a.size() >= 3 && stats::standardDeviation(a) > 0 && stats::standardDeviation(b) > 0)
      v.pearson = stats::pearson(a, b);
    out.volumes.push_back(v);
  }

  // ---- each reader against the AI mask or the consensus ------------------------------------
  for (const std::string& c : comparisons)
  {
    if (c != "reader-ai" && c != "reader-consensus" && c != "ai-edit")
      continue;
    std::map<std::string, std::vector<const StudyPairRow*>> byReader;
    for (const auto& p : out.pairs)
      if (p.comparison == c)
        byReader[p.readerA].push_back(&p);
    for (const auto& [reader, rows] : byReader)
    {
      std::vector<double> dice, hd;
      size_t excluded = 0;
      for (const auto* p : rows)
      {
        dice.push_back(p->metrics.dice);
        if (p->metrics.distancesDefined && std::isfinite(p->metrics.hd95Mm))
          hd.push_back(p->metrics.hd95Mm);
        else
          ++excluded;
      }
      out.readerComparisons.push_back({c, reader, rows.size(), intervalOrNan(dice, "dice"),
                                       intervalOrNan(hd, "hd95_mm"), excluded});
    }
  }

  // ---- AI review acceptance ----------------------------------------------------------------
  if (design == StudyDesign::AiReview)
  {
    AcceptanceSummary acc;
    acc.cases = int(out.study.seriesIds.size());
    const auto ratings = rs.ratings(studyId);
    std::map<int64_t, std::map<int64_t, AiRating>> byCase; // series -> reader -> rating
    for (const auto& r : ratings)
    {
      byCase[r.seriesId][r.readerId] = r.rating;
      ++acc.perReader[r.readerName][to_string(r.rating)];
    }
    const size_t readers = out.study.readers.size();
    std::vector<int> r1, r2;
    std::vector<std::vector<int>> counts; // case -> rating category -> readers (Fleiss)
    for (int64_t s : out.study.seriesIds)
    {
      const auto it = byCase.find(s);
      if (it == byCase.end() || it->second.size() != readers)
        continue;
      ++acc.casesRatedByAll;
      bool all = true, allMinor = true;
      for (const auto& [reader, rating] : it->second)
      {
        all = all && rating == AiRating::Accept;
        allMinor = allMinor && (rating == AiRating::Accept || rating == AiRating::Minor);
      }
      acc.casesAllAccept += all ? 1 : 0;
      acc.casesAllAcceptOrMinor += allMinor ? 1 : 0;
      if (readers == 2)
      {
        r1.push_back(int(it->second.begin()->second));
        r2.push_back(int(std::next(it->second.begin())->second));
      }
      std::vector<int> c(4, 0);
      for (const auto& [reader, rating] : it->second)
        ++c[size_t(rating)];
      counts.push_back(c);
    }
    acc.strictRate =
        acc.casesRatedByAll > 0 ? double(acc.casesAllAccept) / acc.casesRatedByAll : 0.0;
    if (!r1.empty())
    {
      const stats::KappaResult k = stats::cohenKappa(r1, r2);
      acc.cohenKappa = k.kappa;
      if (std::isfinite(k.ciLower))
        acc.cohenKappaCi = Interval{k.ciLower, k.ciUpper};
    }
    if (readers >= 3 && !counts.empty())
    {
      acc.fleissKappa = stats::fleissKappa(counts).kappa;
      if (counts.size() >= 2)
      {
        const stats::BootstrapInterval b = stats::fleissKappaBootstrapCi(counts, kappaBootstrapOptions());
        acc.fleissKappaCi = Interval{b.lower, b.upper};
      }
    }
    out.acceptance = acc;
  }
  return out;
}
} // namespace panseg::db
