#include "core/Eta.h"

#include <algorithm>
#include <cmath>

namespace panseg
{
EtaEstimator::EtaEstimator() : EtaEstimator(Options{}) {}

EtaEstimator::EtaEstimator(const Options& options) : o_(options)
{
  o_.convergence = std::clamp(o_.convergence, 0.01, 1.0);
  o_.smoothingFraction = std::max(0.0, o_.smoothingFraction);
  o_.riseTolerance = std::max(0.0, o_.riseTolerance);
  o_.riseSlackSeconds = std::max(0.0, o_.riseSlackSeconds);
  o_.riseAfterSeconds = std::max(0.0, o_.riseAfterSeconds);
  o_.riseAfterFraction = std::clamp(o_.riseAfterFraction, 0.0, 1.0);
  o_.minIntervals = std::max(1, o_.minIntervals);
  o_.startMargin = std::max(1.0, o_.startMargin);
}

void EtaEstimator::reset()
{
  *this = EtaEstimator(o_);
}

double EtaEstimator::tau(double total) const
{
  return std::max(1.0, o_.smoothingFraction * total);
}

double EtaEstimator::update(double seconds, double done, double total)
{
  if (!std::isfinite(seconds) || !std::isfinite(done) || !std::isfinite(total) || total <= 0)
    return shown_;
  seconds = std::max(seconds, lastSeconds_);
  done = std::clamp(done, 0.0, total);
  if (done > lastDone_)
  {
    const double du = done - lastDone_, dt = seconds - lastSeconds_;
    ++intervals_;
    if (intervals_ == 1)
      perUnit_ = dt / du; // holds the warm-up: used only until a second interval exists
    else
    {
      const double keep = std::exp(-du / tau(total));
      sumSeconds_ = sumSeconds_ * keep + dt;
      sumUnits_ = sumUnits_ * keep + du;
      perUnit_ = sumSeconds_ / sumUnits_;
    }
    lastSeconds_ = seconds;
    lastDone_ = done;
  }
  if (intervals_ == 0 || (shown_ < 0 && intervals_ < o_.minIntervals && done < total))
    return shown_;
  if (done >= total)
  {
    raw_ = 0.0;
    shown_ = 0.0;
    shownAt_ = seconds;
    aboveSince_ = -1.0;
    return shown_;
  }
  // The unit under way has already run since the last report.
  raw_ = std::max(0.0, (total - lastDone_) * perUnit_ - (seconds - lastSeconds_));
  if (shown_ < 0)
  {
    shown_ = raw_ * o_.startMargin;
    shownAt_ = seconds;
    return shown_;
  }
  const double countdown = std::max(0.0, shown_ - (seconds - shownAt_));
  double next = shown_;
  if (raw_ <= countdown * (1.0 + o_.riseTolerance) + o_.riseSlackSeconds)
  {
    aboveSince_ = -1.0;
    if (raw_ < countdown) // towards it, slower while the average holds few units
      next = countdown - o_.convergence * std::min(1.0, sumUnits_ / tau(total)) * (countdown - raw_);
    else
      next = std::min(raw_, shown_); // within the tolerance above the countdown: hold, never rise
  }
  else
  {
    if (aboveSince_ < 0)
    {
      aboveSince_ = seconds;
      aboveDone_ = done;
    }
    if (seconds - aboveSince_ >= o_.riseAfterSeconds && done - aboveDone_ >= o_.riseAfterFraction * total)
    {
      next = raw_; // a sustained slow-down: rise once, to what the rate now says
      ++rises_;
      aboveSince_ = -1.0;
    }
  }
  shown_ = next;
  shownAt_ = seconds;
  return shown_;
}
} // namespace panseg
