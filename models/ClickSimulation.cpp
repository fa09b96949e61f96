#include "models/ClickSimulation.h"

#include "core/edit/RobotUser.h"
#include "models/Guidance.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace panseg::models
{
namespace
{
/// Removes the foreground beyond a random plane across one in-plane axis (H or W): between 30 %
/// and 70 % of the foreground's extent along it, a random side.
void cutAway(std::vector<std::uint8_t>& m, const nnunet::Shape3& s, TrainRng& rng)
{
  const std::size_t axis = rng.uniform() < 0.5 ? 1 : 2;
  std::int64_t lo = s[axis], hi = -1;
  std::size_t i = 0;
  for (std::int64_t z = 0; z < s[0]; ++z)
    for (std::int64_t y = 0; y < s[1]; ++y)
      for (std::int64_t x = 0; x < s[2]; ++x, ++i)
        if (m[i])
        {
          const std::int64_t c = axis == 1 ? y : x;
          lo = std::min(lo, c);
          hi = std::max(hi, c);
        }
  if (hi < lo)
    return;
  const double cut = static_cast<double>(lo) + rng.uniform(0.3, 0.7) * static_cast<double>(hi - lo);
  const bool above = rng.uniform() < 0.5;
  i = 0;
  for (std::int64_t z = 0; z < s[0]; ++z)
    for (std::int64_t y = 0; y < s[1]; ++y)
      for (std::int64_t x = 0; x < s[2]; ++x, ++i)
      {
        const auto c = static_cast<double>(axis == 1 ? y : x);
        if (above ? c > cut : c < cut)
          m[i] = 0;
      }
}

/// Adds a false ball (radius 1.5..3 voxels in-plane, 1 slice either side) 3..7 voxels in-plane
/// from a random truth voxel (or anywhere when the truth is empty), on background only.
void addBlob(std::vector<std::uint8_t>& m, const std::vector<std::uint8_t>& truth,
             const std::vector<std::int64_t>& fg, const nnunet::Shape3& s, TrainRng& rng)
{
  std::int64_t cz = 0, cy = 0, cx = 0;
  if (fg.empty())
  {
    cz = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(s[0])));
    cy = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(s[1])));
    cx = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(s[2])));
  }
  else
  {
    const std::int64_t v = fg[static_cast<std::size_t>(rng.below(fg.size()))];
    cz = v / (s[1] * s[2]);
    const double angle = rng.uniform(0.0, 6.283185307179586), dist = rng.uniform(3.0, 7.0);
    cy = std::clamp<std::int64_t>((v / s[2]) % s[1] + std::llround(dist * std::sin(angle)), 0, s[1] - 1);
    cx = std::clamp<std::int64_t>(v % s[2] + std::llround(dist * std::cos(angle)), 0, s[2] - 1);
  }
  const double r = rng.uniform(1.5, 3.0);
  const auto ri = static_cast<std::int64_t>(std::ceil(r));
  for (std::int64_t z = std::max<std::int64_t>(0, cz - 1); z <= std::min(s[0] - 1, cz + 1); ++z)
    for (std::int64_t y = std::max<std::int64_t>(0, cy - ri); y <= std::min(s[1] - 1, cy + ri); ++y)
      for (std::int64_t x = std::max<std::int64_t>(0, cx - ri); x <= std::min(s[2] - 1, cx + ri); ++x)
      {
        const double dy = static_cast<double>(y - cy), dx = static_cast<double>(x - cx);
        const auto i = static_cast<std::size_t>((z * s[1] + y) * s[2] + x);
        if (dy * dy + dx * dx <= r * r && !truth[i])
          m[i] = 1;
      }
}

/// Sets the 6-connected component of disagreement between `m` and `truth` that holds `seed` to
/// the truth (what a perfect answer to a click there would do).
void fixComponent(std::vector<std::uint8_t>& m, const std::vector<std::uint8_t>& truth,
                  const nnunet::Shape3& s, std::int64_t seed)
{
  std::vector<std::int64_t> stack{ seed };
  const std::uint8_t wrong = m[static_cast<std::size_t>(seed)];
  while (!stack.empty())
  {
    const std::int64_t v = stack.back();
    stack.pop_back();
    const auto i = static_cast<std::size_t>(v);
    if (m[i] != wrong || truth[i] == wrong)
      continue;
    m[i] = truth[i];
    const std::int64_t z = v / (s[1] * s[2]), y = (v / s[2]) % s[1], x = v % s[2];
    if (z > 0) stack.push_back(v - s[1] * s[2]);
    if (z + 1 < s[0]) stack.push_back(v + s[1] * s[2]);
    if (y > 0) stack.push_back(v - s[2]);
    if (y + 1 < s[1]) stack.push_back(v + s[2]);
    if (x > 0) stack.push_back(v - 1);
    if (x + 1 < s[2]) stack.push_back(v + 1);
  }
}
} // namespace

SimulatedGuidance simulateClickGuidance(const std::uint8_t* seg, const nnunet::Shape3& s,
                                        const nnunet::Spacing3& spacingZyx,
                                        const ClickSimulationOptions& o, TrainRng& rng,
                                        float* out)
{
  SimulatedGuidance result;
  const std::int64_t n = nnunet::voxelCount(s);
  if (rng.uniform() < o.automaticProbability)
  {
    guidance::paint(out, s, {}, nullptr);
    result.automatic = true;
    result.damage = "none";
    return result;
  }
  std::vector<std::uint8_t> truth(static_cast<std::size_t>(n));
  std::vector<std::int64_t> fg;
  for (std::int64_t i = 0; i < n; ++i)
    if ((truth[static_cast<std::size_t>(i)] = seg[i] ? 1 : 0))
      fg.push_back(i);

  std::vector<std::uint8_t> prev;
  const double u = rng.uniform();
  if (fg.empty())
  {
    prev.assign(truth.size(), 0);
    result.damage = "blob";
    addBlob(prev, truth, fg, s, rng);
  }
  else if (u < o.emptyPreviousProbability)
  {
    prev.assign(truth.size(), 0);
    result.damage = "empty";
  }
  else
  {
    prev = truth;
    const double kind = rng.uniform();
    result.damage = kind < 0.45 ? "cut" : kind < 0.7 ? "blob" : "cut+blob";
    if (result.damage != "blob")
      cutAway(prev, s, rng);
    if (result.damage != "cut")
      addBlob(prev, truth, fg, s, rng);
  }

  // The robot's correction: click the largest error's centre, fix that component, repeat.
  Geometry g;
  g.size = { s[2], s[1], s[0] };
  g.spacingMm = { spacingZyx[2], spacingZyx[1], spacingZyx[0] };
  LabelMask truthMask(g, 0);
  truthMask.voxels = truth;
  LabelMask step(g, 0);
  step.voxels = prev;
  const int planned = 1 + static_cast<int>(rng.below(static_cast<std::uint64_t>(std::max(1, o.maxClicks))));
  std::vector<guidance::GridClick> clicks;
  std::vector<std::vector<std::uint8_t>> before; // the mask each click was placed on
  for (int k = 0; k < planned; ++k)
  {
    const std::optional<edit::RobotClick> c = edit::nextRobotClick(step, 1, truthMask, 1);
    if (!c)
      break;
    before.push_back(step.voxels);
    clicks.push_back({ { c->voxel[2], c->voxel[1], c->voxel[0] }, c->positive });
    fixComponent(step.voxels, truth, s, (c->voxel[2] * s[1] + c->voxel[1]) * s[2] + c->voxel[0]);
  }
  if (clicks.empty())
  {
    guidance::paint(out, s, {}, prev.data());
    return result;
  }
  // The k-th step of the correction: the mask after k-1 fixes, the first k clicks.
  const std::size_t k = 1 + static_cast<std::size_t>(rng.below(clicks.size()));
  clicks.resize(k);
  guidance::paint(out, s, clicks, before[k - 1].data());
  result.clicks = static_cast<int>(k);
  for (const auto& c : clicks)
    result.positiveClicks += c.positive ? 1 : 0;
  result.painted = std::move(clicks);
  return result;
}

bool addClickAtNetworkError(const std::uint8_t* seg, const std::uint8_t* predicted, const nnunet::Shape3& s,
                            const nnunet::Spacing3& spacingZyx, SimulatedGuidance& g, float* out)
{
  if (g.automatic)
    return false;
  const std::int64_t n = nnunet::voxelCount(s);
  Geometry grid;
  grid.size = { s[2], s[1], s[0] };
  grid.spacingMm = { spacingZyx[2], spacingZyx[1], spacingZyx[0] };
  LabelMask truth(grid, 0), answer(grid, 0);
  for (std::int64_t i = 0; i < n; ++i)
  {
    truth.voxels[static_cast<std::size_t>(i)] = seg[i] ? 1 : 0;
    answer.voxels[static_cast<std::size_t>(i)] = predicted[i] ? 1 : 0;
  }
  const std::optional<edit::RobotClick> c = edit::nextRobotClick(answer, 1, truth, 1);
  if (c)
  {
    g.painted.push_back({ { c->voxel[2], c->voxel[1], c->voxel[0] }, c->positive });
    ++g.clicks;
    g.positiveClicks += c->positive ? 1 : 0;
  }
  guidance::paint(out, s, g.painted, answer.voxels.data());
  return c.has_value();
}
} // namespace panseg::models
