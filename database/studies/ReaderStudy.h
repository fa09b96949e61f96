#pragma once
// Reader studies (the PanSegNet paper's observer studies) on top of the study database:
// inter-observer (several readers segment the same series), intra-observer (each reader reads
// every case twice, the second read unlocking only after a wash-out period) and AI review
// (readers rate the AI mask accept / minor / major / reject and may edit it).
//
// A coordinator (or admin) creates a study with its series and readers; every reader gets the
// cases in a random order drawn from the study's seed (deterministic). Readers start a read, and
// submit a mask, which is saved as a new immutable mask version (source "reader", state
// "submitted") and linked to the read. The coordinator approves the read or returns it with a
// comment; a consensus mask (voxel-wise majority vote, or STAPLE: core/metrics/Staple.h) is saved
// with source "consensus".
// Every change is one transaction with an audit entry. Blinding is enforced by StudyDatabase
// itself (Blinding.h), not here, so that no route around this class can leak a mask.
//
// Uses the StudyDatabase's own connection (one thread). Times come from an injectable clock.
// Every failure throws panseg::Error with one line.

#include "core/Volume.h"
#include "database/Records.h"

#include <QDateTime>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace panseg::db
{
class StudyDatabase;

enum class StudyDesign
{
  InterObserver, // "inter"
  IntraObserver, // "intra"
  AiReview       // "ai-review"
};
enum class StartFrom
{
  Scratch, // "scratch": readers segment on an empty mask
  Ai       // "ai": readers edit the AI mask of the case
};
enum class ReadState
{
  Pending,    // "pending" (a second read may still be locked: see ReadRecord::locked)
  InProgress, // "in-progress"
  Submitted,  // "submitted"
  Approved,   // "approved"
  Returned    // "returned" (to the reader, with a comment; read again)
};
enum class ConsensusMethod
{
  MajorityVote, // "majority"
  Staple        // "staple": STAPLE (EM estimate of each reader's sensitivity and specificity)
};
enum class AiRating
{
  Accept, // "accept"
  Minor,  // "minor": acceptable after minor edits
  Major,  // "major": needs major edits
  Reject  // "reject"
};
std::string to_string(StudyDesign d);
std::string to_string(StartFrom s);
std::string to_string(ReadState s);
std::string to_string(AiRating r);
std::string to_string(ConsensusMethod m);
std::optional<ConsensusMethod> parseConsensusMethod(const std::string& text); // also "majority-vote"
std::optional<StudyDesign>
parseStudyDesign(const std::string& text); // also "inter-observer", "intra-observer"
std::optional<StartFrom> parseStartFrom(const std::string& text);
std::optional<ReadState> parseReadState(const std::string& text);
std::optional<AiRating> parseAiRating(const std::string& text); // also "minor-edits", "major-edits"

struct NewReaderStudy
{
  std::string name;
  StudyDesign design = StudyDesign::InterObserver;
  int washoutDays = 28; // intra-observer only (the paper used four weeks)
  StartFrom startFrom = StartFrom::Scratch;
  int label = 0;                    // label compared in reports (0 = any non-zero)
  uint32_t seed = 1;                // reading orders
  std::vector<std::string> readers; // user names (readers are created when missing)
  std::vector<int64_t> seriesIds;
  std::string description;
  /// Whether readers may run AI prediction (Segmentation > Predict Pancreas) during their
  /// reads when the study starts from scratch. Off by default: the AI's answer is what they
  /// must not see. Start-from-AI and AI-review studies show the AI mask anyway.
  bool allowPrediction = false;
};

struct ReaderStudyInfo
{
  int64_t id = 0;
  std::string name;
  StudyDesign design = StudyDesign::InterObserver;
  int washoutDays = 0;
  StartFrom startFrom = StartFrom::Scratch;
  int label = 0;
  uint32_t seed = 1;
  bool open = true;
  std::string description;
  bool allowPrediction = false; // see NewReaderStudy::allowPrediction (schema version 8)
  int64_t createdBy = 0;
  std::string createdByName;
  std::string createdAt;
  std::vector<User> readers;      // by user id
  std::vector<int64_t> seriesIds; // ascending
  std::vector<int64_t> aiMaskIds; // per series (0 = none), same order
};

struct ReadRecord
{
  int64_t id = 0;
  int64_t studyId = 0;
  int64_t readerId = 0;
  std::string readerName;
  int64_t seriesId = 0;
  int readNumber = 1;    // 2 = intra-observer second read
  int orderPosition = 0; // 1-based position in the reader's worklist for this read number
  ReadState state = ReadState::Pending;
  int64_t maskVersionId = 0; // submitted mask (0 = none yet)
  std::string
      unlockAt; // second reads: when the wash-out ends (ISO UTC; empty = first read not done)
  bool locked = false; // a second read whose wash-out has not ended (at the clock's time)
  std::string startedAt, submittedAt, reviewedAt, comment;
  int64_t reviewedBy = 0;
  std::optional<AiRating> rating; // AI review: the reader's verdict on this case (worklist only)
};

struct Worklist
{
  std::vector<ReadRecord> reads; // first reads in order, then second reads in order
  int done = 0;                  // submitted or approved (AI review: or rated)
  int total = 0;
  int locked = 0;
  std::optional<ReadRecord> next; // first unlocked read still to do (returned reads first)
};

struct AiRatingRecord
{
  int64_t studyId = 0;
  int64_t readerId = 0;
  std::string readerName;
  int64_t seriesId = 0;
  int64_t aiMaskVersionId = 0;
  AiRating rating = AiRating::Accept;
  std::string ratedAt;
};

/// What buildConsensusWithDetails produced. Reader names are only filled here (for coordinators,
/// who see them in reads() anyway); the saved note and audit entry name reads by id.
struct ConsensusResult
{
  int64_t maskVersionId = 0;
  ConsensusMethod method = ConsensusMethod::MajorityVote;
  struct Input
  {
    int64_t readId = 0;
    int64_t maskVersionId = 0;
    std::string readerName;
    double sensitivity = 0; // STAPLE only
    double specificity = 0; // STAPLE only
  };
  std::vector<Input> inputs; // the first reads used, in reads() order
  // STAPLE only (core/metrics/Staple.h):
  double prior = 0;
  int iterations = 0;
  bool converged = false;
};

class ReaderStudy
{
public:
  using Clock = std::function<QDateTime()>;
  /// `clock` defaults to the current UTC time.
  explicit ReaderStudy(StudyDatabase& db, Clock clock = {});

  // ---- coordinator ---------------------------------------------------------------------------
  /// Creates the study, its readers' reads and their random order; returns its id. Needs the
  /// admin or coordinator role. For AI review and start-from-AI studies every series needs an
  /// AI mask (its latest one is used).
  int64_t createStudy(const NewReaderStudy& study);
  /// Marks the study closed (lifts blinding; no more reads).
  void closeStudy(int64_t studyId);
  /// Allows or forbids AI prediction during the study's from-scratch reads (coordinators and
  /// admins; audited as "set-study-prediction" with the old and new value). Needs schema
  /// version 8.
  void setAllowPrediction(int64_t studyId, bool allow);
  /// Approves a submitted read (its mask version becomes approved).
  void approveRead(int64_t readId, const std::string& comment = {});
  /// Returns a submitted read to its reader with a comment (its mask version goes back to draft).
  void returnRead(int64_t readId, const std::string& comment);
  /// Consensus of the submitted or approved first reads of the case (at least two). Majority
  /// vote: voxels marked by strictly more than half of the masks (ties go to background). STAPLE:
  /// core::staple with its defaults on the study label (probability >= 0.5), the note recording
  /// each read's sensitivity and specificity. Saved as a MaskSource::Consensus version whose
  /// voxels carry the study label (1 when the label is 0). Returns the version id.
  int64_t buildConsensus(int64_t studyId, int64_t seriesId,
                         ConsensusMethod method = ConsensusMethod::MajorityVote);
  /// The same, returning the inputs and (STAPLE) the per-read estimates.
  ConsensusResult buildConsensusWithDetails(int64_t studyId, int64_t seriesId, ConsensusMethod method);
  /// Every read of the study (coordinators only: readers see their worklist).
  std::vector<ReadRecord> reads(int64_t studyId) const;
  std::vector<AiRatingRecord> ratings(int64_t studyId) const;
  /// The newest consensus mask version of each case of the study that has one (series id ->
  /// mask version id; coordinators only).
  std::map<int64_t, int64_t> consensusMasks(int64_t studyId) const;

  // ---- everyone --------------------------------------------------------------------------------
  std::vector<ReaderStudyInfo> studies() const;
  ReaderStudyInfo study(int64_t studyId) const;
  /// A study by id ("12") or by name.
  ReaderStudyInfo findStudy(const std::string& idOrName) const;

  // ---- readers ---------------------------------------------------------------------------------
  /// The current user's worklist (coordinators may name another reader).
  Worklist worklist(int64_t studyId, const std::string& readerName = {}) const;
  /// Marks the read in progress and returns it; refuses a locked, finished or foreign read.
  ReadRecord startRead(int64_t readId);
  /// The mask a read starts from: for a returned read the reader's last submitted version; else
  /// the study's AI mask of the case (start from AI, AI review), or an empty mask on the grid.
  LabelMask startingMask(int64_t readId) const;
  /// The label table of that starting mask (the defaults for an empty one).
  LabelTable startingLabelTable(int64_t readId) const;
  /// Saves `mask` as the read's mask version (reader, submitted) and links it; returns its id.
  /// `labels`: the version's label table (the GUI's Labels editor); unset = the parent's.
  int64_t submitRead(int64_t readId, const LabelMask& mask, const std::string& note = {},
                     const std::optional<LabelTable>& labels = std::nullopt);
  /// The current reader's verdict on the AI mask of a case (AI-review studies). Rating again
  /// replaces the earlier verdict (both stay in the audit log).
  void rateAiMask(int64_t studyId, int64_t seriesId, AiRating rating);

  ReadRecord read(int64_t readId) const;
  QDateTime now() const;

private:
  StudyDatabase& m_db;
  Clock m_clock;
};
} // namespace panseg::db
