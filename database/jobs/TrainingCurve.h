#pragma once
// The loss and validation Dice curves of a fine-tuning job (issue 8), read from the job folder's
// progress.jsonl (one `panseg-train --json` line per event, see recordTrainerEvent): one point per
// "epoch" event. No widgets: ui/TrainingCurveView draws it.
#include <cstdint>
#include <string>
#include <vector>

namespace panseg::db
{
class StudyDatabase;

/// One completed epoch.
struct CurvePoint
{
  int epoch = 0;       // 1-based (the trainer's 0-based "epoch" + 1)
  double loss = -1;    // -1: not given
  double valDice = -1; // -1: not given (no validation cases)
};

struct TrainingCurve
{
  std::vector<CurvePoint> points; // by epoch; a resumed run's repeated epoch replaces the earlier
  int epochs = 0;                 // planned epochs (the largest "epochs" seen), 0 when unknown
  bool empty() const { return points.empty(); }
  /// Largest loss (0 when none): the chart's loss axis runs from 0 to this.
  double maxLoss() const;
  /// Last epoch to show on the x axis: max(planned epochs, last point's epoch), at least 1.
  int lastEpoch() const;
};

/// Parses progress.jsonl text; lines that are not trainer events, and events other than "epoch",
/// are skipped.
TrainingCurve parseTrainingCurve(const std::string& jsonl);
/// The curve of a job: its folder's progress.jsonl; empty when the file does not exist (yet).
TrainingCurve readTrainingCurve(const StudyDatabase& db, int64_t jobId);
} // namespace panseg::db
