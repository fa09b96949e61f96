#pragma once
// Two people may save on top of the same mask version: both keep their version (versions are
// immutable; nothing is overwritten). What the one who saves second must be told: the versions
// someone else saved on this series since the version they started from.
#include "database/Records.h"

#include <string>
#include <vector>

namespace panseg::db
{
/// Versions of `masksOfSeries` newer than `startedFrom`, other than `saved`, authored by someone
/// other than `myUserId` (only those the user may see: masksOf applies the blinding rules).
inline std::vector<MaskVersion> newerVersionsByOthers(const std::vector<MaskVersion>& masksOfSeries,
                                                      int64_t startedFrom, int64_t saved, int64_t myUserId)
{
  std::vector<MaskVersion> out;
  if (startedFrom <= 0)
    return out;
  for (const MaskVersion& m : masksOfSeries)
    if (m.id > startedFrom && m.id != saved && m.authorUserId != myUserId)
      out.push_back(m);
  return out;
}
} // namespace panseg::db
