#include "database/jobs/TrainingCurve.h"

#include "database/jobs/FineTuning.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace panseg::db
{
double TrainingCurve::maxLoss() const
{
  double m = 0;
  for (const CurvePoint& p : points)
    m = std::max(m, p.loss);
  return m;
}

int TrainingCurve::lastEpoch() const
{
  return std::max({1, epochs, points.empty() ? 0 : points.back().epoch});
}

TrainingCurve parseTrainingCurve(const std::string& jsonl)
{
  TrainingCurve c;
  std::istringstream in(jsonl);
  std::string line;
  while (std::getline(in, line))
  {
    const auto e = parseTrainerEvent(line);
    if (!e)
      continue;
    c.epochs = std::max(c.epochs, e->epochs);
    if (e->event != "epoch")
      continue;
    CurvePoint p{e->epoch + 1, e->loss, e->valDice};
    auto it = std::lower_bound(c.points.begin(), c.points.end(), p.epoch,
                               [](const CurvePoint& a, int epoch) { return a.epoch < epoch; });
    if (it != c.points.end() && it->epoch == p.epoch)
      *it = p;
    else
      c.points.insert(it, p);
  }
  return c;
}

TrainingCurve readTrainingCurve(const StudyDatabase& db, int64_t jobId)
{
  std::ifstream in(std::filesystem::path(jobFolder(db, jobId)) / "progress.jsonl");
  if (!in)
    return {};
  std::ostringstream text;
  text << in.rdbuf();
  return parseTrainingCurve(text.str());
}
} // namespace panseg::db
