#pragma once
// The numbers of a reader-study report (no formatting, no widgets): one agreement row per case
// and pair of masks, the paper's Table 3 (mean ± SD of each metric per comparison) and Table 4
// (Dice and HD95 grouped by modality and by center), volume agreement between the two sides of
// each comparison (paired t-test, Pearson R², Bland–Altman) and the AI-review acceptance rates.
//
// Pairs (A = test, B = reference, as in core/metrics/Agreement.h):
//  * inter-observer: every pair of readers on each case, first reads; A = the reader whose name
//    sorts later, B = the earlier one;
//  * intra-observer: per reader and case, A = second read, B = first read;
//  * AI review: per reader and case with a submitted edit, A = the edited mask, B = the AI mask.
//  * reader against the AI mask ("reader-ai"; inter- and intra-observer studies whose case has an
//    AI mask): A = the reader's first read, B = the study's AI mask of the case;
//  * reader against the consensus ("reader-consensus"; cases with a consensus built in this
//    study, the newest one): A = the reader's first read, B = the consensus.
// Masks are compared on the study's label; label 0 = the whole mask, except a multi-organ map
// (a label table naming other structures, e.g. TotalSegmentator's) is compared on its pancreas.
// Only submitted or approved reads count. Needs a coordinator or admin (it reads every mask).
//
// Confidence intervals (95 %): every mean (Table 3, Table 4, per reader) has Student's t interval
// mean ± t(n-1) SD / sqrt(n), truncated to the metric's possible range (overlap metrics [0, 1],
// kappa [-1, 1], distances >= 0; the report's methods section says so); the mean volume
// difference has the paired t interval; Cohen's kappa of the AI-review ratings the large-sample
// interval of Fleiss, Cohen & Everitt (1969); Fleiss' kappa a percentile bootstrap over cases
// (2000 resamples, fixed seed 20240601).

#include "core/metrics/Agreement.h"
#include "core/stats/Comparison.h"
#include "core/stats/Descriptive.h"
#include "database/studies/ReaderStudy.h"
#include "database/studies/ReferenceMask.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace panseg::db
{
class StudyDatabase;

struct StudyPairRow
{
  int64_t seriesId = 0;
  std::string patient;  // patient id, or name when there is no id
  std::string modality; // to_string(Modality)
  std::string center;
  std::string comparison;       // "inter", "intra", "ai-edit"
  std::string readerA, readerB; // test, reference ("AI" for the AI mask)
  int64_t maskA = 0, maskB = 0;
  AgreementResult metrics;
};

/// Mean ± SD etc. of one metric over the rows of one comparison (distances over the rows
/// where they are defined: `excluded` counts the others).
struct MetricSummary
{
  std::string comparison;
  std::string metric; // "dice", "jaccard", "precision", "recall", "hd95_mm", "assd_mm", "kappa",
                      // "kappa_bbox", "vpe"
  stats::Summary summary;
  stats::MeanInterval ci; // of the mean, truncated to the metric's range (NaN bounds for n < 2)
  size_t excluded = 0;
};

struct GroupSummary
{
  std::string comparison;
  std::string groupBy; // "modality" or "center"
  std::string group;
  size_t n = 0;
  double diceMean = 0, diceSd = 0;
  double hd95Mean = 0, hd95Sd = 0; // over the rows with defined distances (NaN when none)
  stats::MeanInterval diceCi, hd95Ci; // t intervals of the two means (NaN bounds for n < 2)
};

/// One reader against a reference ("reader-ai", "reader-consensus", "ai-edit"): the reader's
/// mean Dice and HD95 with their t intervals.
struct ReaderComparison
{
  std::string comparison;
  std::string reader;
  size_t n = 0;
  stats::MeanInterval dice;
  stats::MeanInterval hd95; // over the pairs with defined distances
  size_t hd95Excluded = 0;
};

struct Interval
{
  double lower = 0;
  double upper = 0;
};

struct VolumeComparison
{
  std::string comparison;
  size_t n = 0;
  double meanAMl = 0, meanBMl = 0;
  std::optional<stats::PairedTTestResult> tTest;       // n >= 2
  std::optional<stats::PearsonResult> pearson;         // n >= 3 and both sides vary
  std::optional<stats::BlandAltmanResult> blandAltman; // n >= 2
};

struct AcceptanceSummary
{
  int cases = 0;           // cases in the study
  int casesRatedByAll = 0; // every reader rated the case
  int casesAllAccept = 0;  // strict rule: every reader rated "accept"
  int casesAllAcceptOrMinor = 0;
  double strictRate = 0; // casesAllAccept / casesRatedByAll (0 when none)
  std::map<std::string, std::map<std::string, int>> perReader; // reader -> rating -> count
  std::optional<double> cohenKappa; // between the two readers' ratings (exactly two readers)
  std::optional<Interval> cohenKappaCi; // Fleiss, Cohen & Everitt (1969) large-sample, 95 %
  std::optional<double> fleissKappa; // among all readers' ratings (three or more readers), over
                                     // the cases rated by all; categories accept/minor/major/reject
  std::optional<Interval> fleissKappaCi; // percentile bootstrap over cases, 95 %
};

/// The reference mask of one case by the study's reference-mask rule (ReferenceMask.h).
struct StudyReferenceRow
{
  int64_t seriesId = 0;
  std::string patient;
  int64_t maskVersionId = 0; // 0 = the rule picks none
  std::string source;        // "consensus", "reader: alice", ... (empty when none)
  std::string reason;
};

struct StudyReportData
{
  ReaderStudyInfo study;
  std::string generatedAt; // ISO UTC
  std::vector<StudyPairRow> pairs;
  std::vector<MetricSummary> table3;
  std::vector<GroupSummary> table4;
  std::vector<VolumeComparison> volumes;
  std::vector<ReaderComparison> readerComparisons; // per reader, for the comparisons above
  std::optional<AcceptanceSummary> acceptance; // AI-review studies
  int readsTotal = 0, readsDone = 0;
  ReferenceRule referenceRule;                // the study's rule, else the database-wide one
  std::vector<StudyReferenceRow> references;  // one per case, in case order
};

/// Loads every counted mask of the study and computes the report. Throws Error on a mask that
/// cannot be read (its message) or when the user may not see every read.
StudyReportData computeStudyReport(StudyDatabase& db, int64_t studyId);

/// The metric names of Table 3, in order, and their display labels ("Dice", "HD95 (mm)", ...).
const std::vector<std::pair<std::string, std::string>>& table3Metrics();
/// A metric of a row by its Table 3 name.
double metricValue(const AgreementResult& r, const std::string& metric);
/// The t interval of the mean of `values` with its bounds truncated to the metric's possible
/// range (dice, jaccard, precision, recall: [0, 1]; kappa: [-1, 1]; *_mm: >= 0; vpe: >= -1).
stats::MeanInterval metricMeanInterval(const std::vector<double>& values, const std::string& metric);
/// The bootstrap's settings of the Fleiss' kappa interval (named in the report's methods).
stats::BootstrapOptions kappaBootstrapOptions();
} // namespace panseg::db
