#include "database/jobs/WorkerCommand.h"

#include "core/display/LabelPresets.h"
#include "database/LabelTables.h"

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
  if (r.batch > 0)
    a << "--batch" << QString::number(r.batch);
  if (r.streams > 0)
    a << "--streams" << QString::number(r.streams);
  if (r.bf16)
    a << "--bf16";
  a << r.extraArguments;
  return a;
}

void applyCpuSpeed(PredictRequest& r, CpuSpeed speed)
{
  r.batch = speed == CpuSpeed::Exact ? 0 : 8;
  r.bf16 = speed == CpuSpeed::Bf16;
}

QString to_string(CpuSpeed speed)
{
  switch (speed)
  {
  case CpuSpeed::BatchMirrors: return QStringLiteral("batch");
  case CpuSpeed::Bf16: return QStringLiteral("bf16");
  case CpuSpeed::Exact: break;
  }
  return QStringLiteral("exact");
}

CpuSpeed parseCpuSpeed(const QString& text)
{
  if (text == QLatin1String("batch"))
    return CpuSpeed::BatchMirrors;
  if (text == QLatin1String("bf16"))
    return CpuSpeed::Bf16;
  return CpuSpeed::Exact;
}

QString PredictedVolume::note() const
{
  if (label <= 0)
    return {};
  return QStringLiteral("label %1 \"%2\" of %3 labels; all labels %4 mL")
      .arg(label)
      .arg(labelName)
      .arg(labelCount)
      .arg(allLabelsMl, 0, 'f', 2);
}

PredictedVolume predictedPancreasVolume(const QJsonObject& done, const QString& packageDir)
{
  const LabelTable table = labelTableOfModelPackage(packageDir.toStdString());
  PredictedVolume v;
  v.allLabelsMl = done.value("volume_ml").toDouble();
  v.labelCount = int(table.entries().size());
  v.label = wholeMaskLabelOf(table);
  if (v.label <= 0 || !done.value("label_voxels").isObject())
  {
    v.label = 0;
    v.ml = v.allLabelsMl;
    v.voxels = done.value("voxels").toInteger();
    return v;
  }
  v.labelName = QString::fromStdString(table.label(v.label).name);
  v.voxels = done.value("label_voxels").toObject().value(QString::number(v.label)).toInteger();
  v.ml = double(v.voxels) * done.value("voxel_ml").toDouble();
  return v;
}
} // namespace panseg::db
