#include "core/metrics/MajorityVote.h"

#include "core/Error.h"

namespace panseg
{
bool MajorityVote::add(const LabelMask& mask, std::string* why)
{
  if (m_raters == 0)
  {
    m_geometry = mask.geometry;
    m_votes.assign(mask.voxels.size(), 0);
  }
  else if (!mask.geometry.sameGrid(m_geometry, why) || mask.voxels.size() != m_votes.size())
    return false;
  if (m_raters == 65535)
    throw Error("majority vote: more than 65535 raters");
  for (size_t i = 0; i < m_votes.size(); ++i)
    m_votes[i] += (m_label == 0 ? mask.voxels[i] != 0 : mask.voxels[i] == m_label) ? 1 : 0;
  ++m_raters;
  return true;
}

LabelMask MajorityVote::consensus(uint8_t value) const
{
  if (m_raters == 0)
    return LabelMask();
  LabelMask out(m_geometry, 0);
  for (size_t i = 0; i < m_votes.size(); ++i)
    out.voxels[i] = 2 * int(m_votes[i]) > m_raters ? value : 0;
  return out;
}
} // namespace panseg
