#pragma once
// Blinding of reader studies, enforced in the data layer: StudyDatabase consults these rules in
// masksOf, maskVersion, loadMask, series and listSeries, so the GUI, the command line and any
// later route see the same refusals. Internal to database/ (uses Qt SQL on StudyDatabase's
// connection); the rules are documented in docs/reader-studies.md:
//
// A user is blinded on a series when they are a reader of an OPEN reader study that contains
// the series and their role is neither admin nor coordinator. For such a user a mask version
// of that series is hidden when it is
//  * the read of another reader of that study, or authored by another reader of that study;
//  * their own read whose case they read again later in that study (intra-observer: read 1 is
//    hidden once read 2 exists);
//  * anything else that is not theirs (AI, imported reference, consensus, other users), except
//    the study's AI mask of the case when the study starts from the AI mask or is an AI review.
// Closing the study lifts its blinding.

#include "database/Records.h"

#include <QString>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace panseg::db
{
class BlindingRules
{
public:
  /// Loads the rules for `user` on `seriesId` from the connection named `connection` (schema 3).
  BlindingRules(const QString& connection, const User& user, int64_t seriesId);
  /// True when some reader study blinds this user on this series.
  bool active() const { return !m_studies.empty(); }
  /// Empty when the user may see `mask`, else the one-line reason ("blinded: ...").
  std::string reasonHidden(const MaskVersion& mask) const;

  /// Series on which `user` is blinded (empty for admins and coordinators).
  static std::set<int64_t> blindedSeries(const QString& connection, const User& user);
  /// Names of the open reader studies that `user` reads (empty for admins and coordinators).
  /// Server mode uses them to explain a mask version the server's row-level security hides.
  static std::vector<std::string> openStudiesOf(const QString& connection, const User& user);
  /// Admins and coordinators are never blinded.
  static bool exempt(const User& user);

private:
  struct Read
  {
    int64_t readerId = 0;
    int readNumber = 1;
    int64_t maskId = 0;
  };
  struct Study
  {
    int64_t id = 0;
    std::string name;
    bool aiVisible = false; // start from AI, or AI review
    int64_t aiMaskId = 0;
    std::set<int64_t> readers;
    std::vector<Read> reads;
  };
  User m_user;
  std::vector<Study> m_studies;
};
} // namespace panseg::db
