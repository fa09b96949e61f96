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
// Torch-free and deterministic: the same patch and generator state give the same channels.
// Not done (docs/interactive.md): DeepEdit's clicks from the network's own errors during training.
#include "core/preprocess/Common.h"
#include "models/TrainerData.h"

#include <cstdint>
#include <string>

namespace panseg::models
{
struct ClickSimulationOptions
{
  double automaticProbability = 0.3;    // all three guidance channels zero
  double emptyPreviousProbability = 0.2; // of the others: no previous mask, clicks on nothing
  int maxClicks = 3;                     // clicks of a simulated correction (1..maxClicks)
};

struct SimulatedGuidance
{
  bool automatic = false;
  std::string damage; // "none", "empty", "cut", "blob", "cut+blob"
  int clicks = 0;     // clicks painted
  int positiveClicks = 0;
};

/// Writes the guidance channels [3, D, H, W] (Guidance.h) of one training patch whose truth is
/// `seg` [D, H, W] (foreground = any non-zero class) with voxel spacing `spacingZyx` (mm).
SimulatedGuidance simulateClickGuidance(const std::uint8_t* seg, const nnunet::Shape3& patch,
                                        const nnunet::Spacing3& spacingZyx,
                                        const ClickSimulationOptions& options, TrainRng& rng,
                                        float* guidanceOut);
} // namespace panseg::models
