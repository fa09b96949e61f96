// panseg train / jobs / model / bench train (docs/fine-tuning.md): options in, lines out. The job
// engine is database/jobs/TrainingJobs.h; the trainer and the predictor
// run in child processes (panseg-train, panseg-worker): LibTorch never loads into panseg.
#include "TrainCommands.h"

#include "Cli.h"
#include "core/Error.h"
#include "database/jobs/FineTuning.h"
#include "database/registry/ModelImport.h"
#include "database/registry/ModelRegistry.h"
#include "database/StudyDatabase.h"
#include "database/jobs/TrainingJobs.h"
#include "models/ModelCard.h"

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>

#include <cmath>
#include <cstdio>
#include <memory>

#include <sys/resource.h>

namespace panseg::cli
{
namespace
{
using namespace panseg::db;

std::string s(const QString& q)
{
  return q.toStdString();
}
QString q(const std::string& s)
{
  return QString::fromStdString(s);
}

QString fmt(double v, int decimals = 4)
{
  return std::isfinite(v) ? QString::number(v, 'f', decimals) : QStringLiteral("inf");
}

// ---- train ------------------------------------------------------------------------------------
const QStringList kTrainValueOptions = {
    "db",      "data",  "base-model", "modality", "center", "from",         "to",   "epochs",
    "iters",   "batch", "lr",         "folds",    "fold",   "val-fraction", "seed", "device",
    "threads", "out",   "resume-job", "version",  "name",   "plan",         "model-type", "loss",
    "cnn-epochs", "user"};
const QStringList kTrainFlags = {"no-evaluate", "quiet", "jaccard", "no-augmentation", "resume"};
/// Options passed to panseg-train unchanged.
const QStringList kPassedValues = {"epochs", "iters",  "batch",   "lr",   "folds", "fold",      "val-fraction",
                                   "seed",   "device", "threads", "plan", "loss",  "cnn-epochs"};
const QStringList kPassedFlags = {"jaccard", "no-augmentation"};

/// The model type to train: the base model's (a different --model-type is refused), else
/// --model-type, else PanSegNet.
QString trainingModelType(const Args& a, const QString& baseDir)
{
  const QString asked = a.value("model-type");
  if (!asked.isEmpty() && asked != "pansegnet" && asked != "pnet-msa" && asked != models::kClickModelType)
    throw Error("--model-type must be pansegnet, pansegnet-clicks (click-conditioned, docs/interactive.md) or "
                "pnet-msa, not '" + s(asked) + "'");
  if (baseDir.isEmpty())
    return asked.isEmpty() ? QStringLiteral("pansegnet") : asked;
  const QString baseType = q(readModelPackageInfo(s(baseDir)).modelType);
  // A plain PanSegNet base becomes click-conditioned (its first layer widened, docs/interactive.md).
  if (asked == models::kClickModelType && baseType == "pansegnet")
    return asked;
  if (!asked.isEmpty() && asked != baseType)
    throw Error("the base model " + s(baseDir) + " is a " + s(baseType) + " model; --model-type " + s(asked) +
                " needs a base model of that type (or no base model to train from scratch)");
  return baseType.isEmpty() ? QStringLiteral("pansegnet") : baseType;
}

/// Options for panseg-train: the model type (when not PanSegNet) and the options passed unchanged.
QJsonArray trainerSettings(const Args& a, const QString& modelType)
{
  QJsonArray out;
  if (modelType != "pansegnet")
    out << "--model-type" << modelType;
  for (const QString& k : kPassedValues)
    if (a.has(k))
      out << "--" + k << a.value(k);
  for (const QString& k : kPassedFlags)
    if (a.has(k))
      out << "--" + k;
  return out;
}

/// The engine's log on stdout (nothing with --quiet).
JobLog printer(bool quiet)
{
  if (quiet)
    return {};
  return [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  };
}

/// Runs a planned job and prints how it ended; the exit code.
int runAndReport(StudyDatabase& db, TrainingJobPlan& plan, const QString& trainer, bool resume, bool quiet)
{
  const TrainingJobResult r = runTrainingJob(db, plan, trainer, resume, printer(quiet));
  if (r.cancelled)
  {
    std::printf("job %lld %s\n", qlonglong(plan.jobId), r.message.c_str());
    return 130;
  }
  std::printf("job %lld succeeded: %s\n", qlonglong(plan.jobId), r.message.c_str());
  std::printf("promote it with: panseg model promote %lld --modality MODALITY --db %s\n",
              qlonglong(r.modelVersionId), db.dataFolder().c_str());
  return Ok;
}

int trainPlain(const Args& a, const QString& trainer)
{
  const QString out = QDir(a.value("out")).absolutePath();
  const QString data = QDir(a.value("data")).absolutePath();
  QStringList args{"--data", data, "--out", out, "--json"};
  QString baseDir;
  if (a.has("base-model"))
  {
    baseDir = QDir(a.value("base-model")).absolutePath();
    args << "--base-model" << baseDir;
  }
  if (a.has("version"))
    args << "--version" << a.value("version");
  if (a.has("name"))
    args << "--name" << a.value("name");
  for (const auto& v : trainerSettings(a, trainingModelType(a, baseDir)))
    args << v.toString();
  if (a.has("resume"))
    args << "--resume";
  const bool quiet = a.has("quiet");
  const ChildOutcome o = runTrainer(trainer, args, nullptr, 0, printer(quiet)).outcome;
  if (o.cancelled)
  {
    std::printf("cancelled; continue with the same command and --resume\n");
    return 130;
  }
  if (o.exitCode != 0)
    throw Error("training failed: " +
                (o.error.isEmpty() ? "exit code " + std::to_string(o.exitCode) : s(o.error)));
  std::printf("model package: %s\n", qPrintable(out));
  const QStringList valIds = validationCases(out);
  if (!baseDir.isEmpty() && !a.has("no-evaluate") && !valIds.isEmpty())
  {
    std::vector<EvaluationCase> cases;
    for (const QString& id : valIds)
    {
      auto c = findEvaluationCase(data, id);
      if (!c)
        throw Error("held-out case " + s(id) + " has no files in " + s(data));
      cases.push_back(*c);
    }
    evaluateModels(baseDir, out, cases, out + "-evaluation", a.value("device"), printer(quiet));
  }
  return Ok;
}

std::unique_ptr<StudyDatabase> openDb(const Args& a)
{
  const QString dir = a.value("db", q(StudyDatabase::defaultDataFolder()));
  StudyDatabase::OpenOptions o;
  o.username = actingUserOption(a);
  return std::make_unique<StudyDatabase>(s(dir), o);
}

} // namespace

QString trainUsage()
{
  return QStringLiteral(
      "  panseg train --db DIR [--base-model M] [--model-type pansegnet|pansegnet-clicks|pnet-msa] --out MODEL_DIR\n"
      "               [--modality CT|MR] [--center C] [--from DATE]\n"
      "               [--to DATE] [--epochs N] [--iters N] [--folds K --fold F | --val-fraction X] "
      "[--seed S]\n"
      "               [--device cpu|cuda] [--threads N] [--version V] [--no-evaluate] [--quiet]\n"
      "                                   fine-tune M (package folder or registry id; its model type) "
      "on approved\n"
      "                                   masks as a job, or train a new model of the type; evaluates "
      "against M on\n"
      "                                   the held-out cases and registers the model. pnet-msa also "
      "takes\n"
      "                                   [--cnn-epochs N] [--loss jaccard|ce|balanced-ce] "
      "(docs/pnet-msa.md)\n"
      "  panseg train --data DIR --out MODEL_DIR [--base-model DIR] [same options] [--resume]\n"
      "  panseg train --resume-job ID [--db DIR]   continue a cancelled or failed job from its "
      "checkpoint\n"
      "  panseg jobs [--db DIR] [--json]  jobs with state, progress and message\n"
      "  panseg model import RESULT_DIR|MODEL.zip [--out DIR] [--name N] [--version V] [--modality CT|MR]\n"
      "               [--folds 0,2] [--checkpoint NAME] [--force] [--no-register] [--db DIR] [--json]\n"
      "                                   an nnU-Net v1 result folder, v2 trained-model folder or v2 zip\n"
      "                                   as a model package (default ~/.local/share/panseg/models/NAME),\n"
      "                                   registered in the study database (docs/nnunet-models.md)\n"
      "  panseg model promote MODEL_VERSION_ID --modality M [--db DIR] | model default M [--db "
      "DIR]\n"
      "  panseg model evaluate --base DIR --new DIR --data DIR [--cases A,B] [--out DIR] [--device "
      "D]\n"
      "  panseg bench train [--iters N] [--threads N] [--plans demo,paper]\n"
      "                                   trainer iterations/s and peak memory (CPU, fp32)\n");
}

int trainCommand(int argc, char** argv, const QStringList& args)
{
  Args a(args, kTrainFlags);
  QString bad = a.error;
  if (bad.isEmpty() && !a.positionals.isEmpty())
    bad = "unexpected argument '" + a.positionals.first() + "'";
  if (bad.isEmpty())
    for (const QString& k : args)
      if (k.startsWith("--") && !kTrainValueOptions.contains(k.mid(2).section('=', 0, 0)) &&
          !kTrainFlags.contains(k.mid(2)))
        bad = "unknown option " + k;
  if (bad.isEmpty() && a.has("user") && a.has("data"))
    bad = "--user applies to the database form (--db DIR); training on --data opens no database";
  if (bad.isEmpty() && !a.has("resume-job") && !a.has("out"))
    bad = "--out MODEL_DIR is required";
  if (bad.isEmpty() && !a.has("resume-job") && a.has("data") == a.has("db"))
    bad = "give either --db DIR (approved cases of the study database) or --data DIR (a folder)";
  if (!bad.isEmpty())
  {
    printError(bad + "\nusage:\n" + trainUsage().section("\n  panseg jobs", 0, 0));
    return Usage;
  }
  QCoreApplication app(argc, argv);
  const QString trainer = requireHelperTool("panseg-train", "PANSEG_TRAIN");
  const bool quiet = a.has("quiet");
  if (a.has("data"))
    return trainPlain(a, trainer);

  auto db = openDb(a);
  if (a.has("resume-job"))
  {
    bool ok = false;
    const int64_t id = a.value("resume-job").toLongLong(&ok);
    if (!ok || id <= 0)
      throw Error("no training job " + s(a.value("resume-job")) + " in " + db->dataFolder() + " (see panseg jobs)");
    TrainingJobPlan p = planResume(*db, id);
    return runAndReport(*db, p, trainer, true, quiet);
  }

  NewTrainingJob request;
  if (a.has("base-model"))
  {
    std::string dir;
    request.baseId = resolveModel(*db, s(a.value("base-model")), &dir);
    request.baseDir = q(dir);
  }
  request.modelType = trainingModelType(a, request.baseDir);
  request.selection.modality = s(a.value("modality"));
  request.selection.center = s(a.value("center"));
  request.selection.fromDate = s(a.value("from"));
  request.selection.toDate = s(a.value("to"));
  request.outDir = a.value("out");
  request.trainerSettings = trainerSettings(a, request.modelType);
  request.version = a.value("version");
  request.device = a.value("device", "cpu");
  request.evaluate = !a.has("no-evaluate");
  request.trainer = trainer;
  TrainingJobPlan plan = createTrainingJob(*db, request);
  if (!quiet)
    std::printf("job %lld: %d approved case(s), base model %s, job folder %s\n", qlonglong(plan.jobId),
                int(plan.cases.size()), plan.baseId ? qPrintable(QString::number(plan.baseId)) : "none (from scratch)",
                jobFolder(*db, plan.jobId).c_str());
  return runAndReport(*db, plan, trainer, false, quiet);
}

int jobsCommand(const QStringList& args)
{
  Args a(args, {"json"});
  if (!a.error.isEmpty() || !a.positionals.isEmpty())
  {
    printError("usage: panseg jobs [--db DIR] [--json]");
    return Usage;
  }
  int argc = 1;
  char name[] = "panseg";
  char* argv[] = {name, nullptr};
  QCoreApplication app(argc, argv);
  auto db = openDb(a);
  QJsonArray arr;
  if (!a.has("json"))
    std::printf("%-4s %-10s %-10s %6s  %-20s %s\n", "id", "kind", "state", "done", "created",
                "message");
  for (const Job& j : db->jobs())
  {
    // A prediction job of a series the user is blinded on names the AI mask the study hides.
    if (j.seriesId > 0 && db->blindedOn(j.seriesId))
      continue;
    QString state = q(to_string(j.state));
    const bool stale =
        j.state == JobState::Running && !jobProcessAlive(*db, j.id) && j.kind == "training";
    if (stale)
      state += " (process gone)";
    if (a.has("json"))
      arr << QJsonObject{
          {"id", qint64(j.id)},
          {"kind", q(j.kind)},
          {"state", q(to_string(j.state))},
          {"process_gone", stale},
          {"progress", j.progress},
          {"message", q(j.message)},
          {"model_version_id", qint64(j.modelVersionId)},
          {"created_at", q(j.createdAt)},
          {"started_at", q(j.startedAt)},
          {"finished_at", q(j.finishedAt)},
          {"job_dir", q(jobFolder(*db, j.id))},
          {"params", QJsonDocument::fromJson(QByteArray::fromStdString(j.paramsJson)).object()}};
    else
      std::printf("%-4lld %-10s %-10s %5.0f%%  %-20s %s\n", qlonglong(j.id), j.kind.c_str(),
                  qPrintable(state), 100.0 * j.progress, j.createdAt.substr(0, 19).c_str(),
                  j.message.c_str());
  }
  if (a.has("json"))
    std::printf(
        "%s\n",
        QJsonDocument(QJsonObject{{"jobs", arr}}).toJson(QJsonDocument::Indented).constData());
  return Ok;
}

int modelCommand(int argc, char** argv, const QStringList& args)
{
  const QString verb = args.value(0);
  Args a(args.mid(1), {"quiet", "force", "no-register", "json"});
  if (!a.error.isEmpty())
  {
    printError(a.error);
    return Usage;
  }
  QCoreApplication app(argc, argv);
  if (verb == "import")
  {
    if (a.positionals.size() != 1)
    {
      printError("usage: panseg model import RESULT_DIR|MODEL.zip [--out DIR] [--name N] [--version V] "
                 "[--modality CT|MR] [--folds 0,2] [--checkpoint NAME] [--force] [--no-register] [--db DIR] "
                 "[--json]");
      return Usage;
    }
    ModelImportRequest r;
    r.source = a.positionals.first();
    r.outDir = a.value("out");
    r.name = a.value("name");
    r.version = a.value("version", "1");
    r.modality = a.value("modality");
    r.folds = a.value("folds");
    r.checkpoint = a.value("checkpoint");
    r.force = a.has("force");
    r.registerModel = !a.has("no-register");
    const QString kind = describeModelSource(r.source);
    if (!a.has("json") && !a.has("quiet"))
      std::printf("importing %s (%s)\n", qPrintable(r.source), qPrintable(kind));
    std::unique_ptr<StudyDatabase> db = r.registerModel ? openDb(a) : nullptr;
    const bool quiet = a.has("json") || a.has("quiet");
    const ModelImportResult res =
        importModel(r, db.get(), [quiet](const QString& line) { if (!quiet) std::printf("  %s\n", qPrintable(line)); });
    if (a.has("json"))
    {
      std::printf("%s\n", QJsonDocument(QJsonObject{{"package", res.packageDir},
                                                    {"kind", kind},
                                                    {"model_id", res.modelId},
                                                    {"version", res.version},
                                                    {"modality", res.modality},
                                                    {"folds", res.folds},
                                                    {"model_version_id", res.modelVersionId}})
                               .toJson(QJsonDocument::Compact)
                               .constData());
      return Ok;
    }
    std::printf("package: %s\n", qPrintable(res.packageDir));
    if (res.modelVersionId > 0)
      std::printf("registered as model version %lld (%s %s); make it the default with: panseg model promote %lld "
                  "--modality %s\n",
                  qlonglong(res.modelVersionId), qPrintable(res.modelId), qPrintable(res.version),
                  qlonglong(res.modelVersionId), res.modality.isEmpty() ? "CT|MR" : qPrintable(res.modality));
    else
      std::printf("not registered (--no-register); Segmentation > Model lists it from %s\n",
                  qPrintable(userModelsFolder()));
    return Ok;
  }
  if (verb == "promote")
  {
    bool ok = false;
    const qint64 id = a.positionals.value(0).toLongLong(&ok);
    if (a.positionals.size() != 1 || !ok || id <= 0 || !a.has("modality"))
    {
      printError("usage: panseg model promote MODEL_VERSION_ID --modality CT|MR|MRI-T1W|MRI-T2W "
                 "[--db DIR]");
      return Usage;
    }
    auto db = openDb(a);
    const auto previous = defaultModelFor(*db, s(a.value("modality")));
    promoteModel(*db, id, s(a.value("modality")));
    std::printf("model version %lld is now the default %s model%s\n", id,
                normalizeModality(s(a.value("modality"))).c_str(),
                previous ? qPrintable(" (was " + QString::number(*previous) + ")")
                         : " (there was none)");
    return Ok;
  }
  if (verb == "default")
  {
    if (a.positionals.size() != 1)
    {
      printError("usage: panseg model default CT|MR|MRI-T1W|MRI-T2W [--db DIR]");
      return Usage;
    }
    auto db = openDb(a);
    const auto id = defaultModelFor(*db, s(a.positionals.first()));
    if (!id)
    {
      std::printf("no default %s model has been promoted\n",
                  normalizeModality(s(a.positionals.first())).c_str());
      return Ok;
    }
    std::printf("%lld %s\n", qlonglong(*id), modelPackageDir(*db, *id).c_str());
    return Ok;
  }
  if (verb == "evaluate")
  {
    if (!a.has("base") || !a.has("new") || !a.has("data"))
    {
      printError("usage: panseg model evaluate --base DIR --new DIR --data DIR [--cases A,B] "
                 "[--out DIR] [--device D]");
      return Usage;
    }
    const QString data = QDir(a.value("data")).absolutePath();
    const QString newDir = QDir(a.value("new")).absolutePath();
    const QStringList ids =
        a.has("cases") ? a.value("cases").split(',', Qt::SkipEmptyParts) : validationCases(newDir);
    std::vector<EvaluationCase> cases;
    for (const QString& id : ids)
    {
      auto c = findEvaluationCase(data, id);
      if (!c)
        throw Error("case " + s(id) + " has no image and mask in " + s(data));
      cases.push_back(*c);
    }
    evaluateModels(QDir(a.value("base")).absolutePath(), newDir, cases,
                   QDir(a.value("out", newDir + "-evaluation")).absolutePath(), a.value("device"),
                   printer(a.has("quiet")));
    return Ok;
  }
  printError("usage: panseg model import|promote|default|evaluate ... (see panseg --help)");
  return Usage;
}

int benchTrain(int argc, char** argv, const QStringList& args)
{
  Args a(args, {});
  QCoreApplication app(argc, argv);
  const QString trainer = requireHelperTool("panseg-train", "PANSEG_TRAIN");
  bool ok = true;
  const int iters = a.intValue("iters", 6, &ok);
  const int threads = a.intValue("threads", 2, &ok);
  if (!ok || iters < 2)
  {
    printError("usage: panseg bench train [--iters N (>= 2)] [--threads N] [--plans demo,paper]");
    return Usage;
  }
  const QStringList plans = a.value("plans", "demo").split(',', Qt::SkipEmptyParts);
  std::printf("panseg bench train: panseg-train demo, 2 epochs x %d iterations (the 2nd is timed), "
              "batch 2, CPU fp32, %d threads, "
              "2 generated phantoms (1 train, 1 validation)\n",
              iters, threads);
  std::printf("%-8s %12s %14s %12s %14s\n", "plan", "iter/s", "s/iteration", "peak RSS",
              "ratio vs demo");
  double demoRate = NAN;
  for (const QString& plan : plans)
  {
    QTemporaryDir tmp;
    QStringList targs{"demo",
                      "--out",
                      tmp.filePath("model"),
                      "--plan",
                      plan,
                      "--cases",
                      "2",
                      "--val-cases",
                      "1",
                      "--epochs",
                      "2",
                      "--iters",
                      QString::number(iters),
                      "--threads",
                      QString::number(threads),
                      "--device",
                      "cpu",
                      "--json",
                      "--no-evaluate",
                      "--validate-every",
                      "0"};
    // Iterations per second from the two "epoch" events: the second epoch's time excludes warm-up
    // and preprocessing (validation is off; the checkpoint write is included).
    std::vector<double> epochEnd;
    QElapsedTimer wall;
    wall.start();
    const ChildOutcome o = runHelper(trainer, targs,
                                    [&](const QByteArray& line)
                                    {
                                      const auto e = parseTrainerEvent(line.toStdString());
                                      if (e && e->event == "epoch" && e->elapsedS >= 0)
                                        epochEnd.push_back(e->elapsedS);
                                    });
    struct rusage after = {};
    getrusage(RUSAGE_CHILDREN, &after);
    if (o.exitCode != 0)
    {
      std::printf("%-8s failed: %s\n", qPrintable(plan), qPrintable(o.error));
      continue;
    }
    const double rate = epochEnd.size() >= 2 && epochEnd[1] > epochEnd[0]
                            ? iters / (epochEnd[1] - epochEnd[0])
                            : NAN;
    // ru_maxrss of children is the largest child so far (kB on Linux).
    const double rssMb = after.ru_maxrss / 1024.0;
    if (plan == "demo")
      demoRate = rate;
    std::printf("%-8s %12.3f %14.3f %10.0f MB %14s   (wall %.1f s incl. preprocessing)\n",
                qPrintable(plan), rate, 1.0 / rate, rssMb,
                std::isfinite(demoRate) ? qPrintable(fmt(rate / demoRate, 3)) : "-",
                wall.elapsed() / 1000.0);
    std::fflush(stdout);
  }
  return Ok;
}
} // namespace panseg::cli
