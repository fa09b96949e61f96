#pragma once
// Reliability between raters: intraclass correlation for continuous ratings (Shrout & Fleiss
// 1979), Cohen's kappa for two raters and Fleiss' kappa for many raters on categorical ratings.
// Malformed input (ragged tables, too few targets or raters) throws panseg::Error.

#include "core/stats/Descriptive.h"

#include <cstddef>
#include <limits>
#include <vector>

namespace panseg::stats
{
struct IccEstimate
{
  double value = 0;
  double f = 0; // F statistic of H0: ICC = 0, with df1 and df2
  double df1 = 0;
  double df2 = 0;
  double pValue = 1;
  double ciLower = 0;
  double ciUpper = 0;
};

struct IccResult
{
  size_t targets = 0; // n, the rated things (cases)
  size_t raters = 0;  // k
  // Two-way ANOVA mean squares (Shrout & Fleiss notation).
  double bms = 0;    // between targets
  double jms = 0;    // between judges (raters)
  double ems = 0;    // residual
  double wms = 0;    // within targets (one-way)
  IccEstimate icc11; // one-way random, single rater
  IccEstimate icc21; // two-way random, absolute agreement, single rater
  IccEstimate icc31; // two-way mixed, consistency, single rater
};

/// ratings[target][rater], n >= 2 targets, k >= 2 raters, every row of length k, finite values.
/// Confidence intervals as in Shrout & Fleiss (1979) (ICC(2,1) with Satterthwaite's degrees of
/// freedom); an ICC whose denominator vanishes (all ratings equal) is NaN.
IccResult intraclassCorrelation(const std::vector<std::vector<double>>& ratings,
                                double level = 0.95);

struct KappaResult
{
  size_t subjects = 0;
  double kappa = 0;
  double observedAgreement = 0; // p_o (Fleiss: mean P_i)
  double chanceAgreement = 0;   // p_e
  // Cohen's kappa only: large-sample standard error of Fleiss, Cohen & Everitt (1969) (not the
  // SE under H0: kappa = 0) and the Wald interval kappa ± z SE, truncated to [-1, 1]. NaN when
  // it cannot be estimated (chance agreement 1). Fleiss' kappa leaves these NaN: see
  // fleissKappaBootstrapCi.
  double standardError = std::numeric_limits<double>::quiet_NaN();
  double ciLower = std::numeric_limits<double>::quiet_NaN();
  double ciUpper = std::numeric_limits<double>::quiet_NaN();
};

/// Cohen's kappa between two raters' categories for the same subjects (n >= 1).
/// When chance agreement is 1 (both used one and the same category throughout) kappa is 1.
/// The confidence interval at `level` uses the standard error described in KappaResult.
KappaResult cohenKappa(const std::vector<int>& rater1, const std::vector<int>& rater2,
                       double level = 0.95);

/// Fleiss' kappa. counts[subject][category] = how many raters put the subject in the category;
/// every subject must have the same number m >= 2 of ratings. Chance agreement 1 gives kappa 1.
KappaResult fleissKappa(const std::vector<std::vector<int>>& counts);
/// The same from ratings[subject][rater] = category (any integers), every subject rated by m >= 2.
KappaResult fleissKappaFromRatings(const std::vector<std::vector<int>>& ratings);

/// Percentile bootstrap interval of Fleiss' kappa over subjects: the rows of `counts` are
/// resampled with replacement (core/stats/Descriptive.h bootstrapCi: seeded, the same interval on
/// every platform) and kappa is recomputed on each resample.
BootstrapInterval fleissKappaBootstrapCi(const std::vector<std::vector<int>>& counts,
                                         const BootstrapOptions& options = {});

} // namespace panseg::stats
