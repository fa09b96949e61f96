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
// Only submitted or approved reads count. Needs a coordinator or admin (it reads every mask).

#include "core/metrics/Agreement.h"
#include "core/stats/Comparison.h"
#include "core/stats/Descriptive.h"
#include "database/ReaderStudy.h"
#include "database/ReferenceMask.h"

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
  std::optional<double> fleissKappa; // among all readers' ratings (three or more readers), over
                                     // the cases rated by all; categories accept/minor/major/reject
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
} // namespace panseg::db
