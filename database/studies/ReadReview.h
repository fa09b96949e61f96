#pragma once
// The coordinator's review (issue 20, defect 5), the operations behind the GUI's Review dock and
// `panseg study review|compare|approve-consensus|approve-version|return-version`:
//  * what awaits approval: submitted reads and submitted consensus masks of open studies, and
//    mask versions submitted for approval outside any study (Study > Submit mask for approval);
//  * what a read (or consensus) can be compared with: the other reads of the same case that have
//    a mask, the study's AI mask of the case, its consensus masks;
//  * the agreement of two mask versions on the study's label (core/metrics computeAgreement:
//    Dice, Jaccard, volumes, HD95, ASSD, ...);
//  * approving a consensus mask, approving or returning (to draft, with a comment) a mask version
//    submitted outside a study (StudyDatabase::setMaskState: audited).
// Approving and returning reads stay in ReaderStudy (approveRead / returnRead).
//
// Coordinators and admins only: every function refuses other roles with one line, before it
// reads anything. Masks are loaded through StudyDatabase::loadMask (SHA-256 verified).
#include "core/Volume.h"
#include "core/metrics/Agreement.h"
#include "database/studies/ReaderStudy.h"

#include <cstdint>
#include <string>
#include <vector>

namespace panseg::db
{
class StudyDatabase;

/// One thing a coordinator has to decide on.
struct ReviewItem
{
  enum class Kind
  {
    Read,      // a submitted read (approve or return)
    Consensus, // a submitted consensus mask (approve)
    Version    // a mask version submitted outside any reader study (approve or return)
  };
  Kind kind = Kind::Read;
  int64_t studyId = 0; // 0 for Kind::Version
  std::string studyName;
  int label = 0; // the study's label (0 = any non-zero)
  int64_t seriesId = 0;
  int64_t maskVersionId = 0;
  int64_t readId = 0; // Read only
  std::string readerName; // Read; Version: the author
  int readNumber = 0;
  std::string method;      // Consensus only: "majority" or "staple"; Version: the mask's source
  std::string submittedAt; // ISO UTC (the consensus' creation for Kind::Consensus)
};

/// A mask a read can be compared with.
struct ComparisonCandidate
{
  enum class Kind
  {
    Read,
    Ai,
    Consensus,
    Version // another mask version of the series (outside a study)
  };
  Kind kind = Kind::Read;
  int64_t maskVersionId = 0;
  int64_t readId = 0; // Read only
  std::string readerName; // Read; Version: the author
  int readNumber = 0;
  std::string state;  // the read's state (Read) or the mask version's state
  std::string detail; // AI: the model ("demo 1"); consensus: the method; Version: the source
  /// "read 4 by bob (submitted, mask v12)", "AI mask v3 (demo 1)", "consensus v14 (staple, submitted)",
  /// "v9 reader alice (approved)".
  std::string label() const;
};

/// Two mask versions of one series compared on a label: A = the mask under review (test),
/// B = the one it is compared with (reference), as in core/metrics.
struct MaskPairAgreement
{
  int64_t maskA = 0, maskB = 0;
  int label = 0;
  LabelMask a, b;
  AgreementResult agreement;
};

class ReadReview
{
public:
  explicit ReadReview(StudyDatabase& db);

  /// Submitted reads and submitted consensus masks of `studyId` (0: of every open study), by
  /// study, series, then reads before consensus masks.
  std::vector<ReviewItem> awaitingApproval(int64_t studyId = 0) const;
  /// The mask version a coordinator looks at for a read: its submitted (or approved, or returned)
  /// version. Throws when the reader has not submitted anything yet.
  int64_t maskOfRead(int64_t readId) const;
  /// What the mask `exceptMaskVersion` of a case can be compared with: the reads of the series in
  /// the study that have a mask (other than that one), the study's AI mask of the case (else the
  /// series' newest AI mask), the study's consensus masks of the series (newest first).
  std::vector<ComparisonCandidate> comparisonCandidates(int64_t studyId, int64_t seriesId,
                                                        int64_t exceptMaskVersion = 0) const;
  /// What a mask version of a series (outside a study) can be compared with: the series' other
  /// mask versions, newest first (AI ones as Kind::Ai).
  std::vector<ComparisonCandidate> seriesCandidates(int64_t seriesId, int64_t exceptMaskVersion = 0) const;
  /// Loads both versions (same series) and computes their agreement on `label` (0 = any).
  MaskPairAgreement compareMasks(int64_t maskA, int64_t maskB, int label = 0) const;
  /// The same for two reads of one study, on the study's label.
  MaskPairAgreement compareReads(int64_t readA, int64_t readB) const;
  /// Approves a submitted consensus mask of a reader study (refuses other masks).
  void approveConsensus(int64_t maskVersionId, const std::string& comment = {});
  /// Approves, or returns to draft with a comment (required), a mask version submitted outside
  /// any reader study; reads and consensus masks are refused (they have their own steps).
  void approveVersion(int64_t maskVersionId, const std::string& comment = {});
  void returnVersion(int64_t maskVersionId, const std::string& comment);

private:
  StudyDatabase& m_db;
  ReaderStudy m_rs;
};
} // namespace panseg::db
