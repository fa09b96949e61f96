#pragma once
// Simulated clicks for training click-conditioned packages (models/Guidance.h), in the style of
// DeepEdit (Diaz-Pinto et al.): some patches get no guidance at all (the automatic mode), the
// others a "previous mask" that is a damaged copy of the truth (a part cut away, as a missing
// pancreatic tail; a false blob beside the organ; both; or nothing) and clicks where the robot
// user of the benchmarks would put them: at the centre of the largest remaining error component
// (core/edit/RobotUser.h), each click fixing its component before the next one is placed. The
// patch then shows the k-th step of that correction: the mask after k-1 fixes and the first k
// clicks, the target being the truth.
//
// DeepEdit's network in the loop is the second step (addClickAtNetworkError, run by the trainer
// on some iterations): the network answers the guidance so far, its answer becomes the previous
// mask, and one more click goes where that answer is most wrong. So the model learns to fix its
// own errors, not only simulated damage.
//
// Torch-free and deterministic: the same patch and generator state give the same channels.
#include "core/preprocess/Common.h"
#include "models/Guidance.h"
#include "models/TrainerData.h"

#include <cstdint>
#include <string>
#include <vector>

namespace panseg::models
{
struct ClickSimulationOptions
{
  double automaticProbability = 0.3;    // all three guidance channels zero
  double emptyPreviousProbability = 0.2; // of the others: no previous mask, clicks on nothing
  int maxClicks = 3;                     // clicks of a simulated correction (1..maxClicks)
  /// DeepEdit's network in the loop: the probability that an iteration runs the network on its
  /// batch and adds a click at each (guided) patch's largest error, 1..loopClicks times.
  double networkLoopProbability = 0.0;
  int loopClicks = 2;
};

struct SimulatedGuidance
{
  bool automatic = false;
  std::string damage; // "none", "empty", "cut", "blob", "cut+blob"
  int clicks = 0;     // clicks painted
  int positiveClicks = 0;
  std::vector<guidance::GridClick> painted; // the clicks in the channels (network grid, z y x)
};

/// Writes the guidance channels [3, D, H, W] (Guidance.h) of one training patch whose truth is
/// `seg` [D, H, W] (foreground = any non-zero class) with voxel spacing `spacingZyx` (mm).
SimulatedGuidance simulateClickGuidance(const std::uint8_t* seg, const nnunet::Shape3& patch,
                                        const nnunet::Spacing3& spacingZyx,
                                        const ClickSimulationOptions& options, TrainRng& rng,
                                        float* guidanceOut);
/// DeepEdit's network-in-the-loop step for one guided patch: the network's answer `predicted`
/// [D, H, W] (0/1) to the guidance so far becomes the previous mask, and one more click goes to
/// the centre of that answer's largest error component against `seg` (positive where it misses
/// the truth, negative where it is false). Rewrites the guidance channels [3, D, H, W] and `g`.
/// Returns false (only the previous mask updated) when the answer has no error, and does nothing
/// to an automatic patch (its channels stay zero).
bool addClickAtNetworkError(const std::uint8_t* seg, const std::uint8_t* predicted, const nnunet::Shape3& patch,
                            const nnunet::Spacing3& spacingZyx, SimulatedGuidance& g, float* guidanceOut);
} // namespace panseg::models
