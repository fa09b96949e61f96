#pragma once
// Descriptive statistics for report tables: mean ± SD, median and IQR, seeded bootstrap CIs.
// Inputs must be finite (an empty mask's infinite HD95 has to be filtered or reported apart by
// the caller): every function throws panseg::Error on empty input or on a NaN or infinity.
// A quantity that the data cannot determine (the SD of one value) is NaN.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace panseg::stats
{
struct Summary
{
  size_t n = 0;
  double mean = 0;
  double sd = 0; // sample SD (n - 1 denominator); NaN for n = 1
  double median = 0;
  double q1 = 0; // 25th percentile, linear interpolation (see quantile)
  double q3 = 0;
  double iqr = 0; // q3 - q1
  double min = 0;
  double max = 0;
};
Summary summarize(const std::vector<double>& values);

/// Quantile with linear interpolation between order statistics (Hyndman & Fan type 7: R's
/// default, numpy.percentile's default). probability in [0, 1].
double quantile(std::vector<double> values, double probability);

struct BootstrapOptions
{
  int resamples = 2000;
  double level = 0.95;
  uint64_t seed = 20240601; // same seed, same data: same interval on every platform
};

struct BootstrapInterval
{
  double estimate = 0; // the statistic on the original sample
  double lower = 0;
  double upper = 0;
};

/// Percentile bootstrap: resamples with replacement (std::mt19937_64 and an unbiased index draw
/// of our own, so the sequence does not depend on the standard library), evaluates `statistic`
/// on each resample and returns the (1-level)/2 and (1+level)/2 quantiles of those values.
/// Resamples on which the statistic is not finite are left out (all of them: throws).
BootstrapInterval bootstrapCi(const std::vector<double>& values,
                              const std::function<double(const std::vector<double>&)>& statistic,
                              const BootstrapOptions& options = {});
/// bootstrapCi of the mean.
BootstrapInterval bootstrapMeanCi(const std::vector<double>& values,
                                  const BootstrapOptions& options = {});

/// Student's t confidence interval of the mean: mean ± t(n-1, (1+level)/2) · SD / sqrt(n).
/// n = 1 gives NaN bounds (no spread to estimate); every value equal gives lower = upper = mean.
struct MeanInterval
{
  size_t n = 0;
  double mean = 0;
  double lower = 0;
  double upper = 0;
  double level = 0.95;
};
MeanInterval meanTInterval(const std::vector<double>& values, double level = 0.95);

double mean(const std::vector<double>& values);
/// Sample standard deviation (n - 1); NaN for a single value.
double standardDeviation(const std::vector<double>& values);

} // namespace panseg::stats
