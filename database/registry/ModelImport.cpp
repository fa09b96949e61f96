#include "database/registry/ModelImport.h"

#include "core/Error.h"
#include "database/jobs/HelperProcess.h"
#include "database/registry/ModelRegistry.h"

#include <QDir>
#include <QFileInfo>
#include <QRegularExpression>
#include <QStandardPaths>

namespace panseg::db
{
namespace
{
std::string s(const QString& q) { return q.toStdString(); }

bool hasFoldWith(const QDir& dir, const QStringList& patterns)
{
  for (const QString& fold : dir.entryList({ "fold_*" }, QDir::Dirs | QDir::NoDotAndDotDot))
    if (!QDir(dir.filePath(fold)).entryList(patterns, QDir::Files).isEmpty())
      return true;
  return false;
}

bool isV1Result(const QDir& d) { return hasFoldWith(d, { "*.model" }); }
bool isV2Result(const QDir& d)
{
  return d.exists("dataset.json") && d.exists("plans.json") && hasFoldWith(d, { "*.pth" });
}

QString kindOf(const QString& path)
{
  const QFileInfo fi(path);
  if (fi.isFile())
    return fi.suffix().compare("zip", Qt::CaseInsensitive) == 0 ? QStringLiteral("nnU-Net v2 model zip") : QString();
  const QDir d(path);
  if (isV2Result(d))
    return QStringLiteral("nnU-Net v2 trained-model folder");
  if (isV1Result(d))
    return QStringLiteral("nnU-Net v1 result folder");
  return {};
}
} // namespace

QString describeModelSource(const QString& sourceIn, QString* resolved)
{
  const QString source = QDir::cleanPath(QFileInfo(sourceIn).absoluteFilePath());
  if (sourceIn.trimmed().isEmpty())
    throw Error("no model to import: give an nnU-Net result folder or an nnU-Net v2 model zip");
  const QFileInfo fi(source);
  if (!fi.exists())
    throw Error("model to import not found: " + s(sourceIn));
  if (fi.isFile() && fi.suffix().compare("zip", Qt::CaseInsensitive) != 0)
    throw Error(s(sourceIn) + " is a file but not a zip: give an nnU-Net result folder (with fold_N/) or the zip "
                              "that nnUNetv2_export_model_to_zip writes");
  QString kind = kindOf(source);
  QString path = source;
  if (kind.isEmpty() && fi.isDir())
  {
    // A dataset / task folder holding exactly one trained configuration: take that one.
    QStringList inner;
    const QDir d(source);
    for (const QString& sub : d.entryList(QDir::Dirs | QDir::NoDotAndDotDot))
      if (!kindOf(d.filePath(sub)).isEmpty())
        inner << d.filePath(sub);
    if (inner.size() == 1)
    {
      path = inner.first();
      kind = kindOf(path);
    }
    else if (inner.size() > 1)
      throw Error(s(sourceIn) + " holds several trained models (" +
                  s(inner.replaceInStrings(source + "/", QString()).join(", ")) + "): choose one of them");
  }
  if (kind.isEmpty())
    throw Error(s(sourceIn) +
                " is not an nnU-Net model: expected fold_N/model_final_checkpoint.model (v1 result folder) or "
                "dataset.json, plans.json and fold_N/checkpoint_final.pth (v2 trained-model folder)");
  if (resolved)
    *resolved = path;
  return kind;
}

QString userModelsFolder()
{
  const QString data = QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation);
  return QDir::cleanPath((data.isEmpty() ? QDir::homePath() + "/.local/share" : data) + "/panseg/models");
}

QString suggestedPackageName(const QString& source, const QString& name)
{
  QString base = name.trimmed();
  if (base.isEmpty())
  {
    QFileInfo fi(QDir::cleanPath(source));
    base = fi.isFile() ? fi.completeBaseName() : fi.fileName();
    // nnUNetTrainer__nnUNetPlans__3d_fullres says how, not what: the dataset / task folder above does.
    if (base.contains("__") || base.startsWith("fold_"))
      base = QFileInfo(fi.absolutePath()).fileName();
  }
  base.replace(QRegularExpression("[^A-Za-z0-9._-]+"), "-");
  base.remove(QRegularExpression("^[.-]+"));
  return base.isEmpty() ? QStringLiteral("imported-model") : base;
}

QString packageDirFor(const ModelImportRequest& r, const QString& resolvedSource)
{
  const QString out = r.outDir.trimmed();
  return QDir::cleanPath(QFileInfo(out.isEmpty() ? userModelsFolder() + "/" + suggestedPackageName(resolvedSource, r.name)
                                                 : out)
                             .absoluteFilePath());
}

ModelImportResult importModel(const ModelImportRequest& r, StudyDatabase* registerIn,
                              const std::function<void(const QString&)>& log, const std::atomic<bool>* cancel)
{
  QString source;
  describeModelSource(r.source, &source);
  const QString out = packageDirFor(r, source);
  if (QFileInfo(out).isFile())
    throw Error("the package folder " + s(out) + " is a file");
  if (!QDir().mkpath(QFileInfo(out).absolutePath()))
    throw Error("cannot create folder " + s(QFileInfo(out).absolutePath()));

  QStringList args{ "import-nnunet", source, "--out", out };
  if (!r.name.trimmed().isEmpty())
    args << "--name" << r.name.trimmed();
  if (!r.version.trimmed().isEmpty())
    args << "--version" << r.version.trimmed();
  if (!r.modality.trimmed().isEmpty())
    args << "--modality" << r.modality.trimmed();
  if (!r.folds.trimmed().isEmpty())
    args << "--folds" << r.folds.trimmed();
  if (!r.checkpoint.trimmed().isEmpty())
    args << "--checkpoint" << r.checkpoint.trimmed();
  if (r.force)
    args << "--force";

  const QString tool = requireHelperTool("panseg-models", "PANSEG_MODELS");
  ModelImportResult result;
  const ChildOutcome o = runHelper(
      tool, args,
      [&](const QByteArray& line)
      {
        result.summary << QString::fromUtf8(line);
        if (log)
          log(QString::fromUtf8(line));
      },
      nullptr, cancel);
  if (o.cancelled)
    throw Error("model import cancelled; nothing was written to " + s(out));
  if (o.exitCode != 0)
    throw Error(o.error.isEmpty() ? "panseg-models import-nnunet failed (exit " + std::to_string(o.exitCode) + ")"
                                  : s(o.error.startsWith("error: ") ? o.error.mid(7) : o.error));
  const ModelPackageInfo info = readModelPackageInfo(s(out), false);
  result.packageDir = out;
  result.modelId = QString::fromStdString(info.modelId);
  result.version = QString::fromStdString(info.version);
  result.folds = info.folds;
  result.modality = QString::fromStdString(info.modality);
  if (r.registerModel && registerIn)
    registerImportedModel(result, *registerIn);
  return result;
}

void registerImportedModel(ModelImportResult& result, StudyDatabase& db)
{
  try
  {
    result.modelVersionId = registerModelPackage(db, s(result.packageDir));
  }
  catch (const std::exception& e)
  {
    throw Error("the package was written to " + s(result.packageDir) + " but not registered: " + e.what());
  }
}
} // namespace panseg::db
