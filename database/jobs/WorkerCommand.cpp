#include "database/jobs/WorkerCommand.h"

namespace panseg::db
{
QStringList workerPredictArguments(const PredictRequest& r)
{
  QStringList a{ "predict", "--model", r.modelDir, "--input", r.inputPath, "--output", r.outputPath };
  if (!r.device.isEmpty())
    a << "--device" << r.device;
  if (!r.tta)
    a << "--no-tta";
  if (r.step > 0)
    a << "--step" << QString::number(r.step, 'g', 10);
  if (r.fast)
    a << "--fast";
  if (r.threads > 0)
    a << "--threads" << QString::number(r.threads);
  if (!r.probabilitiesPath.isEmpty())
    a << "--probabilities" << r.probabilitiesPath;
  if (!r.roi.isEmpty())
    a << "--roi" << r.roi;
  if (!r.roi.isEmpty() && r.roiMarginMm >= 0)
    a << "--roi-margin" << QString::number(r.roiMarginMm, 'g', 10);
  if (r.strictModality)
    a << "--strict-modality";
  a << r.extraArguments;
  return a;
}
} // namespace panseg::db
