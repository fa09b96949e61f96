#pragma once
// Which approved mask version represents a series (its "reference mask") in volume tables,
// follow-up and reader-study reports, by a rule the coordinator sets rather than by click order:
//  * latest    — the version approved last (the default while no rule was set);
//  * consensus — the newest approved consensus version (ReaderStudy::buildConsensus);
//  * reader N  — the newest approved version that reader N saved.
// A series whose approved versions do not satisfy the rule has no reference mask; the reason is
// given ("no approved consensus version; 2 other approved versions") instead of a silent fallback.
//
// Rules live in reference_mask_rules (schema version 7): one database-wide rule and, optionally,
// one per reader study (its report uses the study's rule, else the database-wide one). Setting a
// rule is for coordinators and admins only, appends a row (the older rows are the history) and an
// audit entry ("set-reference-rule"). Volume tables use the database-wide rule.

#include "database/StudyDatabase.h"

#include <optional>
#include <string>
#include <vector>

namespace panseg::db
{
enum class ReferenceRuleKind
{
  Latest,
  Consensus,
  Reader
};
std::string to_string(ReferenceRuleKind k); // "latest", "consensus", "reader"
std::optional<ReferenceRuleKind> parseReferenceRuleKind(const std::string& text);

struct ReferenceRule
{
  ReferenceRuleKind kind = ReferenceRuleKind::Latest;
  int64_t readerId = 0;   // kind Reader
  std::string readerName;
  int64_t studyId = 0;    // 0 = database-wide
  std::string studyName;
  bool isDefault = true;  // no rule was ever set for this scope (or any broader one)
  std::string setBy, setAt;

  /// "latest approved", "consensus", "reader alice".
  std::string ruleText() const;
  /// "consensus (database-wide, set by carol 2026-12-07T11:02:03Z)" or
  /// "latest approved (default; no rule set)".
  std::string details() const;
  /// "reference mask: " + details().
  std::string describe() const { return "reference mask: " + details(); }
};

/// The rule in force for a reader study (studyId > 0: its own rule, else the database-wide one)
/// or for the whole database (studyId = 0). The default (latest approved) before any rule is set.
ReferenceRule referenceRule(const StudyDatabase& db, int64_t studyId = 0);

/// Sets the rule of a scope (studyId 0 = database-wide). Coordinators and admins only; a reader
/// rule names an existing user; audited. Returns the rule now in force.
ReferenceRule setReferenceRule(StudyDatabase& db, ReferenceRuleKind kind, const std::string& readerName = {},
                               int64_t studyId = 0);

struct ReferenceChoice
{
  int64_t maskVersionId = 0; // 0 = none
  std::string reason;        // why none, or which version and why ("approved last", ...)
};

/// Applies a rule to the versions of one series (any order).
ReferenceChoice chooseReferenceMask(const std::vector<MaskVersion>& masks, const ReferenceRule& rule);
} // namespace panseg::db
