#include "database/Records.h"

#include <algorithm>
#include <cctype>

namespace panseg::db
{
namespace
{
std::string lower(std::string s)
{
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}
} // namespace

std::string to_string(Modality m)
{
  switch (m)
  {
  case Modality::CT: return "CT";
  case Modality::MriT1w: return "MRI-T1W";
  case Modality::MriT2w: return "MRI-T2W";
  case Modality::Mri: return "MRI";
  case Modality::Other: return "other";
  }
  return "other";
}

std::string to_string(MaskSource s)
{
  switch (s)
  {
  case MaskSource::AI: return "ai";
  case MaskSource::Reader: return "reader";
  case MaskSource::Consensus: return "consensus";
  case MaskSource::Import: return "import";
  }
  return "reader";
}

std::string to_string(MaskState s)
{
  switch (s)
  {
  case MaskState::Draft: return "draft";
  case MaskState::Submitted: return "submitted";
  case MaskState::Approved: return "approved";
  case MaskState::Rejected: return "rejected";
  }
  return "draft";
}

std::string to_string(Role r)
{
  switch (r)
  {
  case Role::Admin: return "admin";
  case Role::Coordinator: return "coordinator";
  case Role::Reader: return "reader";
  case Role::Clinician: return "clinician";
  }
  return "reader";
}

std::string to_string(JobState s)
{
  switch (s)
  {
  case JobState::Queued: return "queued";
  case JobState::Running: return "running";
  case JobState::Succeeded: return "succeeded";
  case JobState::Failed: return "failed";
  case JobState::Cancelled: return "cancelled";
  }
  return "queued";
}

std::optional<Modality> parseModality(const std::string& text)
{
  const std::string t = lower(text);
  if (t == "ct")
    return Modality::CT;
  if (t == "mri-t1w" || t == "t1" || t == "t1w" || t == "mr-t1w")
    return Modality::MriT1w;
  if (t == "mri-t2w" || t == "t2" || t == "t2w" || t == "mr-t2w")
    return Modality::MriT2w;
  if (t == "mri" || t == "mr")
    return Modality::Mri;
  if (t == "other")
    return Modality::Other;
  return std::nullopt;
}

std::optional<MaskSource> parseMaskSource(const std::string& text)
{
  const std::string t = lower(text);
  for (MaskSource s : { MaskSource::AI, MaskSource::Reader, MaskSource::Consensus, MaskSource::Import })
    if (to_string(s) == t)
      return s;
  return std::nullopt;
}

std::optional<MaskState> parseMaskState(const std::string& text)
{
  const std::string t = lower(text);
  for (MaskState s : { MaskState::Draft, MaskState::Submitted, MaskState::Approved, MaskState::Rejected })
    if (to_string(s) == t)
      return s;
  return std::nullopt;
}

std::optional<Role> parseRole(const std::string& text)
{
  const std::string t = lower(text);
  for (Role r : { Role::Admin, Role::Coordinator, Role::Reader, Role::Clinician })
    if (to_string(r) == t)
      return r;
  return std::nullopt;
}

std::optional<JobState> parseJobState(const std::string& text)
{
  const std::string t = lower(text);
  for (JobState s : { JobState::Queued, JobState::Running, JobState::Succeeded, JobState::Failed, JobState::Cancelled })
    if (to_string(s) == t)
      return s;
  return std::nullopt;
}

bool isAllowedTransition(MaskState from, MaskState to)
{
  using S = MaskState;
  switch (from)
  {
  case S::Draft: return to == S::Submitted || to == S::Rejected;
  case S::Submitted: return to == S::Approved || to == S::Rejected || to == S::Draft;
  case S::Approved: return to == S::Rejected;
  case S::Rejected: return to == S::Draft;
  }
  return false;
}

} // namespace panseg::db
