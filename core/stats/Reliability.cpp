#include "core/stats/Reliability.h"

#include "core/stats/StatsCheck.h"

#include <boost/math/distributions/fisher_f.hpp>
#include <boost/math/distributions/normal.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace panseg::stats
{
namespace
{
const double kNaN = std::numeric_limits<double>::quiet_NaN();

double fQuantile(double df1, double df2, double p)
{
  return boost::math::quantile(boost::math::fisher_f_distribution<double>(df1, df2), p);
}

double fUpperTail(double f, double df1, double df2)
{
  if (!std::isfinite(f))
    return std::isnan(f) ? kNaN : 0.0;
  if (f <= 0)
    return 1.0;
  return boost::math::cdf(
      boost::math::complement(boost::math::fisher_f_distribution<double>(df1, df2), f));
}

double ratio(double num, double den)
{
  return den != 0 ? num / den : kNaN;
}
} // namespace

IccResult intraclassCorrelation(const std::vector<std::vector<double>>& ratings, double level)
{
  detail::requireLevel(level, "ICC");
  const size_t n = ratings.size();
  if (n < 2)
    throw Error("ICC: needs at least 2 targets, got " + std::to_string(n));
  const size_t k = ratings.front().size();
  if (k < 2)
    throw Error("ICC: needs at least 2 raters, got " + std::to_string(k));
  for (size_t i = 0; i < n; ++i)
  {
    if (ratings[i].size() != k)
      throw Error("ICC: target " + std::to_string(i) + " has " + std::to_string(ratings[i].size()) +
                  " ratings, target 0 has " + std::to_string(k));
    detail::requireFinite(ratings[i], "ICC");
  }

  const double N = static_cast<double>(n), K = static_cast<double>(k);
  double grand = 0;
  std::vector<double> rowMean(n, 0.0), colMean(k, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < k; ++j)
    {
      rowMean[i] += ratings[i][j] / K;
      colMean[j] += ratings[i][j] / N;
      grand += ratings[i][j];
    }
  grand /= N * K;
  double ssTotal = 0, ssRows = 0, ssCols = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < k; ++j)
      ssTotal += (ratings[i][j] - grand) * (ratings[i][j] - grand);
  for (double m : rowMean)
    ssRows += K * (m - grand) * (m - grand);
  for (double m : colMean)
    ssCols += N * (m - grand) * (m - grand);
  const double ssError = std::max(0.0, ssTotal - ssRows - ssCols);
  const double ssWithin = std::max(0.0, ssTotal - ssRows);

  IccResult r;
  r.targets = n;
  r.raters = k;
  r.bms = ssRows / (N - 1);
  r.jms = ssCols / (K - 1);
  r.ems = ssError / ((N - 1) * (K - 1));
  r.wms = ssWithin / (N * (K - 1));
  const double alpha = 1.0 - level;
  const double q = 1.0 - alpha / 2;

  // ICC(1,1): one-way random effects.
  {
    IccEstimate& e = r.icc11;
    e.value = ratio(r.bms - r.wms, r.bms + (K - 1) * r.wms);
    e.df1 = N - 1;
    e.df2 = N * (K - 1);
    e.f = ratio(r.bms, r.wms);
    e.pValue = fUpperTail(e.f, e.df1, e.df2);
    const double fl = e.f / fQuantile(e.df1, e.df2, q);
    const double fu = e.f * fQuantile(e.df2, e.df1, q);
    e.ciLower = (fl - 1) / (fl + K - 1);
    e.ciUpper = (fu - 1) / (fu + K - 1);
  }
  // ICC(3,1): two-way mixed, consistency.
  {
    IccEstimate& e = r.icc31;
    e.value = ratio(r.bms - r.ems, r.bms + (K - 1) * r.ems);
    e.df1 = N - 1;
    e.df2 = (N - 1) * (K - 1);
    e.f = ratio(r.bms, r.ems);
    e.pValue = fUpperTail(e.f, e.df1, e.df2);
    const double fl = e.f / fQuantile(e.df1, e.df2, q);
    const double fu = e.f * fQuantile(e.df2, e.df1, q);
    e.ciLower = (fl - 1) / (fl + K - 1);
    e.ciUpper = (fu - 1) / (fu + K - 1);
  }
  // ICC(2,1): two-way random, absolute agreement. Same F test as ICC(3,1); the interval uses
  // Satterthwaite's approximate degrees of freedom v (Shrout & Fleiss 1979, eq. for case 2).
  {
    IccEstimate& e = r.icc21;
    e.value = ratio(r.bms - r.ems, r.bms + (K - 1) * r.ems + K * (r.jms - r.ems) / N);
    e.df1 = N - 1;
    e.df2 = (N - 1) * (K - 1);
    e.f = r.icc31.f;
    e.pValue = r.icc31.pValue;
    const double icc = e.value;
    const double fj = ratio(r.jms, r.ems);
    const double a = K * icc;
    const double b = N * (1 + (K - 1) * icc) - K * icc;
    const double v =
        (K - 1) * (N - 1) * (a * fj + b) * (a * fj + b) / ((N - 1) * a * a * fj * fj + b * b);
    if (std::isfinite(v) && v > 0 && std::isfinite(icc))
    {
      const double fStar = fQuantile(N - 1, v, q);
      const double fStar2 = fQuantile(v, N - 1, q);
      const double c = K * r.jms + (K * N - K - N) * r.ems;
      e.ciLower = N * (r.bms - fStar * r.ems) / (fStar * c + N * r.bms);
      e.ciUpper = N * (fStar2 * r.bms - r.ems) / (c + N * fStar2 * r.bms);
    }
    else
      e.ciLower = e.ciUpper = kNaN;
  }
  return r;
}

KappaResult cohenKappa(const std::vector<int>& rater1, const std::vector<int>& rater2, double level)
{
  detail::requireLevel(level, "Cohen's kappa");
  if (rater1.size() != rater2.size())
    throw Error("Cohen's kappa: the raters rated different numbers of subjects (" +
                std::to_string(rater1.size()) + " vs " + std::to_string(rater2.size()) + ")");
  if (rater1.empty())
    throw Error("Cohen's kappa: no subjects");
  std::map<int, double> m1, m2;
  size_t agree = 0;
  for (size_t i = 0; i < rater1.size(); ++i)
  {
    m1[rater1[i]] += 1;
    m2[rater2[i]] += 1;
    agree += rater1[i] == rater2[i];
  }
  const double n = static_cast<double>(rater1.size());
  KappaResult r;
  r.subjects = rater1.size();
  r.observedAgreement = static_cast<double>(agree) / n;
  for (const auto& [category, count] : m1)
  {
    const auto it = m2.find(category);
    if (it != m2.end())
      r.chanceAgreement += (count / n) * (it->second / n);
  }
  r.kappa = r.chanceAgreement >= 1.0
                ? 1.0
                : (r.observedAgreement - r.chanceAgreement) / (1.0 - r.chanceAgreement);
  if (r.chanceAgreement < 1.0)
  {
    // Fleiss, Cohen & Everitt (1969), in the form of Fleiss, Levin & Paik (2003), eq. 18.13:
    // var = (A + B - C) / (n (1 - p_e)^2) with
    //   A = sum_i p_ii [1 - (p_i. + p_.i)(1 - k)]^2,
    //   B = (1 - k)^2 sum_{i != j} p_ij (p_.i + p_j.)^2,   C = [k - p_e (1 - k)]^2.
    std::map<std::pair<int, int>, double> cells; // (rater 1, rater 2) -> proportion
    for (size_t i = 0; i < rater1.size(); ++i)
      cells[{rater1[i], rater2[i]}] += 1.0 / n;
    auto share = [n](const std::map<int, double>& m, int c)
    {
      const auto it = m.find(c);
      return it == m.end() ? 0.0 : it->second / n;
    };
    const double k = r.kappa, pe = r.chanceAgreement;
    double a = 0, b = 0;
    for (const auto& [cell, p] : cells)
    {
      const auto [i, j] = cell;
      if (i == j)
        a += p * std::pow(1.0 - (share(m1, i) + share(m2, i)) * (1.0 - k), 2);
      else
        b += p * std::pow(share(m2, i) + share(m1, j), 2);
    }
    b *= (1.0 - k) * (1.0 - k);
    const double c = std::pow(k - pe * (1.0 - k), 2);
    const double variance = std::max(0.0, a + b - c) / (n * (1.0 - pe) * (1.0 - pe));
    r.standardError = std::sqrt(variance);
    const double z =
        boost::math::quantile(boost::math::normal_distribution<double>(), 0.5 + level / 2);
    r.ciLower = std::max(-1.0, k - z * r.standardError);
    r.ciUpper = std::min(1.0, k + z * r.standardError);
  }
  return r;
}

KappaResult fleissKappa(const std::vector<std::vector<int>>& counts)
{
  if (counts.empty())
    throw Error("Fleiss' kappa: no subjects");
  const size_t categories = counts.front().size();
  long long m = -1;
  for (size_t i = 0; i < counts.size(); ++i)
  {
    if (counts[i].size() != categories)
      throw Error("Fleiss' kappa: subject " + std::to_string(i) + " has " +
                  std::to_string(counts[i].size()) + " categories, subject 0 has " +
                  std::to_string(categories));
    long long sum = 0;
    for (int c : counts[i])
    {
      if (c < 0)
        throw Error("Fleiss' kappa: negative count for subject " + std::to_string(i));
      sum += c;
    }
    if (m < 0)
      m = sum;
    else if (sum != m)
      throw Error("Fleiss' kappa: subject " + std::to_string(i) + " has " + std::to_string(sum) +
                  " ratings, subject 0 has " + std::to_string(m));
  }
  if (m < 2)
    throw Error("Fleiss' kappa: needs at least 2 ratings per subject");
  const double M = static_cast<double>(m), N = static_cast<double>(counts.size());
  std::vector<double> pj(categories, 0.0);
  double pBar = 0;
  for (const auto& row : counts)
  {
    double sq = 0;
    for (size_t j = 0; j < categories; ++j)
    {
      pj[j] += row[j] / (N * M);
      sq += static_cast<double>(row[j]) * row[j];
    }
    pBar += (sq - M) / (M * (M - 1)) / N;
  }
  KappaResult r;
  r.subjects = counts.size();
  r.observedAgreement = pBar;
  for (double p : pj)
    r.chanceAgreement += p * p;
  r.kappa = r.chanceAgreement >= 1.0 ? 1.0 : (pBar - r.chanceAgreement) / (1 - r.chanceAgreement);
  return r;
}

KappaResult fleissKappaFromRatings(const std::vector<std::vector<int>>& ratings)
{
  std::map<int, size_t> index;
  for (const auto& row : ratings)
    for (int c : row)
      index.emplace(c, 0);
  size_t next = 0;
  for (auto& entry : index)
    entry.second = next++;
  std::vector<std::vector<int>> counts(ratings.size(), std::vector<int>(index.size(), 0));
  for (size_t i = 0; i < ratings.size(); ++i)
    for (int c : ratings[i])
      ++counts[i][index[c]];
  return fleissKappa(counts);
}

BootstrapInterval fleissKappaBootstrapCi(const std::vector<std::vector<int>>& counts,
                                         const BootstrapOptions& options)
{
  const KappaResult whole = fleissKappa(counts); // checks the table
  // Resample subject indices; the statistic rebuilds the table from them.
  std::vector<double> subjects(counts.size());
  for (size_t i = 0; i < subjects.size(); ++i)
    subjects[i] = static_cast<double>(i);
  std::vector<std::vector<int>> sample(counts.size());
  BootstrapInterval out = bootstrapCi(
      subjects,
      [&](const std::vector<double>& drawn)
      {
        for (size_t i = 0; i < drawn.size(); ++i)
          sample[i] = counts[static_cast<size_t>(drawn[i])];
        return fleissKappa(sample).kappa;
      },
      options);
  out.estimate = whole.kappa;
  return out;
}

} // namespace panseg::stats
