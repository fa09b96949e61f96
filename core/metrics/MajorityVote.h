#pragma once
// Majority vote of raters' masks: a voxel is in the consensus when more than half of the raters
// mark it. Masks are added one at a time (a reader study's reads are loaded one by one), so the
// memory is one vote counter per voxel. The other consensus method, STAPLE, is in Staple.h.
#include "core/Volume.h"

#include <cstdint>
#include <string>
#include <vector>

namespace panseg
{
class MajorityVote
{
public:
  /// `label` is the label that votes (0 = any non-zero label).
  explicit MajorityVote(int label = 0) : m_label(label) {}
  /// Adds one rater's mask. False (with `why`) when it is not on the first mask's grid; the vote
  /// is then unchanged.
  bool add(const LabelMask& mask, std::string* why = nullptr);
  int raters() const { return m_raters; }
  /// The consensus on the raters' grid: `value` where more than half of the raters voted, 0
  /// elsewhere. An empty mask before any rater was added.
  LabelMask consensus(uint8_t value = 1) const;

private:
  int m_label = 0;
  int m_raters = 0;
  Geometry m_geometry;
  std::vector<uint16_t> m_votes;
};
} // namespace panseg
