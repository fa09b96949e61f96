#pragma once
// A remaining-time estimate for long, evenly divided work (prediction's forward passes) that a
// user can watch without it jumping around (no "5 min left, then 7, then 4").
//
// Fed with (elapsed seconds, units done, units total), it keeps
//  * a smoothed cost per unit: an exponentially forgetting average weighted by units (not by
//    calls: a batch of 8 passes weighs 8 times one pass), which is the plain mean while few units
//    are in it; the first measured interval (warm-up: the first network call allocates, the first
//    window is often slower) is left out once a second one exists;
//  * the shown estimate: unknown (-1) until `minIntervals` reports, then the raw estimate
//    (remaining units x smoothed cost) times `startMargin` (start a little pessimistic: falling is
//    fine, rising is what users notice). It counts down with the clock and moves towards a lower
//    raw estimate by a fraction of the gap per update (smaller while the average holds few units);
//    when the raw estimate is higher it holds (stops counting down) and rises, straight to the
//    raw value, only once the raw estimate has stayed above it by more than the tolerance for
//    `riseAfterSeconds` of wall time and `riseAfterFraction` of the work (a sustained slow-down:
//    another program took the cores), never on jitter.
// Torch-free and Qt-free (the worker and the tests use it); not thread-safe.
#include <cstdint>

namespace panseg
{
class EtaEstimator
{
public:
  struct Options
  {
    /// The cost average forgets with a time constant of this fraction of the total units
    /// (at least one unit).
    double smoothingFraction = 0.05;
    /// Fraction of the gap to a lower raw estimate closed per update (0..1].
    double convergence = 0.35;
    /// The raw estimate must exceed the shown one by more than this fraction (plus
    /// `riseSlackSeconds`) for `riseAfterSeconds` before the shown value rises.
    double riseTolerance = 0.10;
    double riseSlackSeconds = 1.0;
    double riseAfterSeconds = 15.0;
    double riseAfterFraction = 0.10;
    /// Reports (calls with new units) before an estimate is shown; the first is the warm-up.
    int minIntervals = 3;
    double startMargin = 1.2;
  };

  EtaEstimator();
  explicit EtaEstimator(const Options& options);

  /// Forgets everything (a new phase or case).
  void reset();

  /// `seconds`: wall time since the start of the measured phase (non-decreasing); `done`: units
  /// finished (0..total); returns the remaining seconds to show, -1 while unknown (nothing done
  /// yet). Calls with no new units still count the shown value down (or hold it).
  double update(double seconds, double done, double total);

  /// The last shown value (-1 unknown).
  double shown() const { return shown_; }
  /// Smoothed seconds per unit (0 unknown).
  double secondsPerUnit() const { return perUnit_; }
  /// The unsmoothed estimate of the last update: remaining units x smoothed cost.
  double raw() const { return raw_; }
  /// How many times the shown value went up (a sustained slow-down each).
  int rises() const { return rises_; }

private:
  double tau(double total) const;
  Options o_;
  double lastSeconds_ = 0.0, lastDone_ = 0.0;
  double perUnit_ = 0.0;          // smoothed seconds per unit
  double sumSeconds_ = 0.0, sumUnits_ = 0.0; // the decaying sums after the warm-up interval
  int intervals_ = 0;
  double shown_ = -1.0, shownAt_ = 0.0;
  double raw_ = -1.0;
  double aboveSince_ = -1.0; // wall time the raw estimate first exceeded the shown one, -1 not above
  double aboveDone_ = 0.0;   // units done at that time
  int rises_ = 0;
};
} // namespace panseg
