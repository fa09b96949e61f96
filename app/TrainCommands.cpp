// panseg train / jobs / model / bench train (docs/fine-tuning.md). The trainer and the predictor
// run in child processes (panseg-train, panseg-worker): LibTorch never loads into panseg.
#include "TrainCommands.h"

#include "Cli.h"
#include "core/AtomicFile.h"
#include "core/Error.h"
#include "core/io/ImageIO.h"
#include "core/metrics/Agreement.h"
#include "core/stats/Comparison.h"
#include "database/FineTuning.h"
#include "database/ModelRegistry.h"
#include "database/StudyDatabase.h"
#include "ui/WorkerClient.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>

#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

namespace panseg::cli
{
namespace
{
using namespace panseg::db;

std::atomic<int> g_stopSignal{0};
extern "C" void onStopSignal(int sig)
{
  g_stopSignal = sig;
}

/// SIGINT / SIGTERM / SIGHUP set g_stopSignal while alive; the previous handlers come back after.
class StopSignals
{
public:
  StopSignals()
  {
    struct sigaction sa = {};
    sa.sa_handler = onStopSignal;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; ++i)
      sigaction(kSignals[i], &sa, &m_old[i]);
  }
  ~StopSignals()
  {
    for (int i = 0; i < 3; ++i)
      sigaction(kSignals[i], &m_old[i], nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

private:
  static constexpr int kSignals[3] = {SIGINT, SIGTERM, SIGHUP};
  struct sigaction m_old[3];
};

std::string s(const QString& q)
{
  return q.toStdString();
}
QString q(const std::string& s)
{
  return QString::fromStdString(s);
}

/// A tool next to the running executable, in the build tree's models/ folder, or ../lib/panseg;
/// $ENV overrides. Throws naming the places tried.
QString findTool(const QString& name, const char* env)
{
  const QString fromEnv = qEnvironmentVariable(env);
  if (!fromEnv.isEmpty())
  {
    if (QFileInfo(fromEnv).isExecutable())
      return fromEnv;
    throw Error(s(name) + " not found: $" + env + " = " + s(fromEnv) + " is not an executable");
  }
  const QString appDir = QCoreApplication::applicationDirPath();
  QStringList tried;
  for (const QString& c :
       {appDir + "/" + name, appDir + "/../models/" + name, appDir + "/../lib/panseg/" + name})
  {
    const QString p = QDir::cleanPath(c);
    tried << p;
    if (QFileInfo(p).isFile() && QFileInfo(p).isExecutable())
      return p;
  }
  throw Error(s(name) + " not found (tried " + s(tried.join(", ")) + "; set $" + env +
              "); it is built with LibTorch (models/)");
}

struct ChildOutcome
{
  int exitCode = -1;
  bool crashed = false;
  bool cancelled = false; // exit 130 or a stop signal forwarded to the child
  QString error;          // last line of stderr
};

/// Runs `exe args`, calling onLine for every stdout line. A SIGINT/SIGTERM/SIGHUP to this process
/// is forwarded to the child as SIGTERM (the trainer then saves nothing half-done and exits with
/// 130).
ChildOutcome runChild(const QString& exe, const QStringList& args,
                      const std::function<void(const QByteArray&)>& onLine,
                      qint64* childPid = nullptr)
{
  StopSignals stop;
  g_stopSignal = 0;
  QProcess p;
  p.setProgram(exe);
  p.setArguments(args);
  p.start();
  if (!p.waitForStarted(60000))
    throw Error("cannot start " + s(exe) + ": " + s(p.errorString()));
  if (childPid)
    *childPid = p.processId();
  QByteArray buffer, err;
  bool forwarded = false;
  auto drain = [&]
  {
    buffer += p.readAllStandardOutput();
    err += p.readAllStandardError();
    int nl;
    while ((nl = buffer.indexOf('\n')) >= 0)
    {
      const QByteArray line = buffer.left(nl).trimmed();
      buffer.remove(0, nl + 1);
      if (!line.isEmpty())
        onLine(line);
    }
    if (err.size() > 65536)
      err = err.right(16384);
  };
  while (p.state() != QProcess::NotRunning)
  {
    p.waitForReadyRead(200);
    drain();
    if (g_stopSignal && !forwarded)
    {
      ::kill(static_cast<pid_t>(p.processId()), SIGTERM);
      forwarded = true;
    }
  }
  p.waitForFinished(-1);
  drain();
  if (!buffer.trimmed().isEmpty())
    onLine(buffer.trimmed());
  ChildOutcome o;
  o.crashed = p.exitStatus() != QProcess::NormalExit;
  o.exitCode = o.crashed ? -1 : p.exitCode();
  o.cancelled = o.exitCode == 130 || forwarded;
  const QStringList lines = QString::fromUtf8(err).split('\n', Qt::SkipEmptyParts);
  o.error = lines.isEmpty() ? QString() : lines.last().trimmed();
  if (o.error.isEmpty() && o.crashed)
    o.error = exe + " crashed";
  return o;
}

QJsonObject readJsonFile(const QString& path)
{
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly))
    throw Error("cannot read " + s(path) + ": " + s(f.errorString()));
  return QJsonDocument::fromJson(f.readAll()).object();
}

// ---- evaluation -------------------------------------------------------------------------------
struct EvalCase
{
  QString caseId;
  QString image, truth;
  qint64 seriesId = 0;
};

/// Image and mask of a case in a panseg-train data folder (pairs or nnU-Net layout).
std::optional<EvalCase> findCaseFiles(const QString& dataDir, const QString& caseId)
{
  static const QStringList exts = {".nii.gz", ".nii", ".nrrd", ".mha", ".mhd"};
  for (const QString& e : exts)
    if (QFile::exists(dataDir + "/" + caseId + e))
      for (const QString& m : exts)
        if (QFile::exists(dataDir + "/" + caseId + "_seg" + m))
          return EvalCase{caseId, dataDir + "/" + caseId + e, dataDir + "/" + caseId + "_seg" + m,
                          0};
  for (const QString& e : exts)
    if (QFile::exists(dataDir + "/imagesTr/" + caseId + "_0000" + e))
      for (const QString& m : exts)
        if (QFile::exists(dataDir + "/labelsTr/" + caseId + m))
          return EvalCase{caseId, dataDir + "/imagesTr/" + caseId + "_0000" + e,
                          dataDir + "/labelsTr/" + caseId + m, 0};
  return std::nullopt;
}

QString fmt(double v, int decimals = 4)
{
  return std::isfinite(v) ? QString::number(v, 'f', decimals) : QStringLiteral("inf");
}

QJsonValue jnum(double v)
{
  return std::isfinite(v) ? QJsonValue(v) : QJsonValue();
}

QJsonObject ttestJson(const stats::PairedTTestResult& t)
{
  return QJsonObject{{"n", qint64(t.n)},
                     {"mean_difference", jnum(t.meanDifference)},
                     {"t", jnum(t.t)},
                     {"df", jnum(t.df)},
                     {"p_value", jnum(t.pValue)},
                     {"ci95", QJsonArray{jnum(t.ciLower), jnum(t.ciUpper)}}};
}

/// Predicts every case with both models through panseg-worker (no TTA, step 1.0, identical for
/// both), compares with the approved masks (any non-zero label), writes eval.json + eval.csv into
/// outDir and prints a table. Returns the summary that goes into the new model's lineage.
QJsonObject evaluateModels(const QString& baseDir, const QString& newDir,
                           const std::vector<EvalCase>& cases, const QString& outDir,
                           const QString& device, bool quiet)
{
  if (cases.empty())
    throw Error("no held-out cases to evaluate on (the split left no validation case)");
  const QString worker = findTool("panseg-worker", "PANSEG_WORKER");
  QDir().mkpath(outDir + "/predictions");
  struct Row
  {
    EvalCase c;
    AgreementResult base, neu;
  };
  std::vector<Row> rows;
  for (const EvalCase& c : cases)
  {
    Row r{c, {}, {}};
    const LabelMask truth = readMask(s(c.truth));
    for (int which = 0; which < 2; ++which)
    {
      const QString model = which == 0 ? baseDir : newDir;
      const QString out =
          outDir + "/predictions/" + c.caseId + (which == 0 ? "_base" : "_new") + ".nii.gz";
      ui::PredictRequest req;
      req.modelDir = model;
      req.inputPath = c.image;
      req.outputPath = out;
      req.device = device.isEmpty() ? QStringLiteral("cpu") : device;
      req.fast = true;
      req.tta = false;
      req.extraArguments = {"--batch", "4", "--no-estimate"};
      const ChildOutcome o =
          runChild(worker, ui::WorkerClient::argumentsFor(req), [](const QByteArray&) {});
      if (o.cancelled)
        throw Error("evaluation cancelled");
      if (o.exitCode != 0)
        throw Error("evaluation: panseg-worker failed on " + s(c.caseId) + " with " + s(model) +
                    ": " + s(o.error));
      const LabelMask pred = readMask(s(out));
      (which == 0 ? r.base : r.neu) = computeAgreement(pred, 0, truth, 0);
    }
    rows.push_back(r);
  }
  std::vector<double> dNew, dBase, hNew, hBase;
  QString csv = "case,series_id,dice_base,dice_new,hd95_base_mm,hd95_new_mm,volume_truth_ml\n";
  QJsonArray perCase;
  for (const Row& r : rows)
  {
    dNew.push_back(r.neu.dice);
    dBase.push_back(r.base.dice);
    const double hb = r.base.distancesDefined ? r.base.hd95Mm : INFINITY;
    const double hn = r.neu.distancesDefined ? r.neu.hd95Mm : INFINITY;
    if (std::isfinite(hb) && std::isfinite(hn))
    {
      hBase.push_back(hb);
      hNew.push_back(hn);
    }
    csv += r.c.caseId + "," + (r.c.seriesId ? QString::number(r.c.seriesId) : QString()) + "," +
           fmt(r.base.dice, 6) + "," + fmt(r.neu.dice, 6) + "," + fmt(hb, 3) + "," + fmt(hn, 3) +
           "," + fmt(r.base.volumeBMl, 3) + "\n";
    perCase.append(
        QJsonObject{{"case", r.c.caseId},
                    {"series_id", r.c.seriesId ? QJsonValue(r.c.seriesId) : QJsonValue()},
                    {"dice_base", r.base.dice},
                    {"dice_new", r.neu.dice},
                    {"hd95_base_mm", jnum(hb)},
                    {"hd95_new_mm", jnum(hn)}});
  }
  auto mean = [](const std::vector<double>& v)
  {
    double sum = 0;
    for (double x : v)
      sum += x;
    return v.empty() ? NAN : sum / double(v.size());
  };
  QJsonObject summary{{"cases", qint64(rows.size())},
                      {"dice_base_mean", jnum(mean(dBase))},
                      {"dice_new_mean", jnum(mean(dNew))},
                      {"hd95_base_mean_mm", jnum(mean(hBase))},
                      {"hd95_new_mean_mm", jnum(mean(hNew))},
                      {"hd95_pairs", qint64(hNew.size())},
                      {"settings",
                       "panseg-worker predict --fast (no TTA, step 1.0), both models alike; "
                       "any non-zero label vs the approved mask"}};
  std::optional<stats::PairedTTestResult> tDice, tHd;
  if (dNew.size() >= 2)
  {
    tDice = stats::pairedTTest(dNew, dBase);
    summary.insert("paired_t_dice_new_minus_base", ttestJson(*tDice));
  }
  if (hNew.size() >= 2)
  {
    tHd = stats::pairedTTest(hNew, hBase);
    summary.insert("paired_t_hd95_new_minus_base", ttestJson(*tHd));
  }
  QJsonObject report = summary;
  report.insert("base_model", baseDir);
  report.insert("new_model", newDir);
  report.insert("per_case", perCase);
  writeFileAtomically(s(outDir + "/eval.csv"), s(csv));
  writeFileAtomically(s(outDir + "/eval.json"),
                      QJsonDocument(report).toJson(QJsonDocument::Indented).toStdString());
  if (!quiet)
  {
    std::printf("\nevaluation on %d held-out case(s) (%s)\n", int(rows.size()),
                qPrintable(outDir + "/eval.csv"));
    std::printf("%-16s %10s %10s %12s %12s\n", "case", "Dice base", "Dice new", "HD95 base",
                "HD95 new");
    for (const Row& r : rows)
      std::printf("%-16s %10.4f %10.4f %12s %12s\n", qPrintable(r.c.caseId), r.base.dice,
                  r.neu.dice,
                  qPrintable(fmt(r.base.distancesDefined ? r.base.hd95Mm : INFINITY, 2)),
                  qPrintable(fmt(r.neu.distancesDefined ? r.neu.hd95Mm : INFINITY, 2)));
    std::printf("%-16s %10.4f %10.4f %12s %12s\n", "mean", mean(dBase), mean(dNew),
                qPrintable(fmt(mean(hBase), 2)), qPrintable(fmt(mean(hNew), 2)));
    if (tDice)
      std::printf("paired t-test, Dice new - base: %+.4f (95%% CI %+.4f..%+.4f), t = %.3f, df = "
                  "%.0f, p = %.4g\n",
                  tDice->meanDifference, tDice->ciLower, tDice->ciUpper, tDice->t, tDice->df,
                  tDice->pValue);
    else
      std::printf("paired t-test: needs at least 2 held-out cases\n");
    if (tHd)
      std::printf("paired t-test, HD95 new - base: %+.2f mm, t = %.3f, p = %.4g\n",
                  tHd->meanDifference, tHd->t, tHd->pValue);
    std::fflush(stdout);
  }
  return summary;
}

/// The validation case ids a trained package's model.json records.
QStringList validationCases(const QString& packageDir)
{
  QStringList out;
  for (const auto& v : readJsonFile(packageDir + "/model.json")
                           .value("lineage")
                           .toObject()
                           .value("validation_cases")
                           .toArray())
    out << v.toString();
  return out;
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
  if (!asked.isEmpty() && asked != "pansegnet" && asked != "pnet-msa")
    throw Error("--model-type must be pansegnet or pnet-msa, not '" + s(asked) + "'");
  if (baseDir.isEmpty())
    return asked.isEmpty() ? QStringLiteral("pansegnet") : asked;
  const QString baseType = q(readModelPackageInfo(s(baseDir)).modelType);
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

struct RunState
{
  TrainerEvent last;
  bool haveEvent = false;
};

/// Runs panseg-train, relaying its JSON lines to stdout (summaries) and to the job.
ChildOutcome runTrainer(const QString& trainer, const QStringList& args, StudyDatabase* db,
                        int64_t jobId, bool quiet, RunState& st)
{
  if (!quiet)
  {
    std::printf("running %s %s\n", qPrintable(trainer), qPrintable(args.join(' ')));
    std::fflush(stdout);
  }
  return runChild(trainer, args,
                  [&](const QByteArray& line)
                  {
                    const auto e = parseTrainerEvent(line.toStdString());
                    if (!e)
                    {
                      if (!quiet)
                        std::printf("  %s\n", line.constData());
                      return;
                    }
                    st.last = *e;
                    st.haveEvent = true;
                    if (db && jobId > 0)
                    {
                      try
                      {
                        recordTrainerEvent(*db, jobId, *e, line.toStdString());
                      }
                      catch (const std::exception& ex)
                      {
                        std::fprintf(stderr, "panseg: warning: progress not recorded: %s\n",
                                     ex.what());
                      }
                    }
                    if (!quiet && e->event != "training" && e->event != "validating")
                    {
                      std::printf("  %s\n", trainerSummary(*e).c_str());
                      std::fflush(stdout);
                    }
                    else if (!quiet && e->event == "training")
                    {
                      std::printf("  %s\n", trainerSummary(*e).c_str());
                      std::fflush(stdout);
                    }
                  });
}

QString pidFile(const StudyDatabase& db, int64_t jobId)
{
  return q(jobFolder(db, jobId)) + "/pid";
}

/// Everything a training job needs, from its params (so that --resume-job can rebuild it).
struct JobPlan
{
  int64_t jobId = 0;
  QJsonObject params;
  QString dataDir, outDir, baseDir, version, device;
  int64_t baseId = 0;
  std::vector<TrainingCase> cases;
  bool evaluate = true;
};

QStringList trainerArgsFor(const JobPlan& p, bool resume)
{
  QStringList args{"--data", p.dataDir, "--out", p.outDir, "--json", "--version", p.version};
  if (!p.baseDir.isEmpty())
    args << "--base-model" << p.baseDir;
  for (const auto& v : p.params.value("settings").toArray())
    args << v.toString();
  if (resume)
    args << "--resume";
  return args;
}

JobPlan planFromJob(StudyDatabase& db, const Job& job)
{
  JobPlan p;
  p.jobId = job.id;
  p.params = QJsonDocument::fromJson(QByteArray::fromStdString(job.paramsJson)).object();
  p.dataDir = q(jobFolder(db, job.id)) + "/data";
  p.outDir = p.params.value("out").toString();
  p.baseId = p.params.value("base_model_version_id").toInteger();
  p.baseDir = p.params.value("base_model_dir").toString();
  p.evaluate = p.params.value("evaluate").toBool(true);
  p.device = p.params.value("device").toString();
  p.version = p.params.value("version").toString();
  if (p.version.isEmpty())
    p.version =
        (p.baseDir.isEmpty() ? QString("1") : q(readModelPackageInfo(s(p.baseDir)).version)) +
        "-ft" + QString::number(job.id);
  for (const auto& v : p.params.value("cases").toArray())
  {
    const QJsonObject o = v.toObject();
    TrainingCase c;
    c.caseId = s(o.value("case").toString());
    c.seriesId = o.value("series_id").toInteger();
    c.maskVersionId = o.value("mask_version_id").toInteger();
    c.patientKey = s(o.value("patient").toString());
    c.modality = s(o.value("modality").toString());
    c.center = s(o.value("center").toString());
    c.date = s(o.value("date").toString());
    p.cases.push_back(c);
  }
  return p;
}

/// Trains, evaluates and registers one job; the job row follows every step.
int runJob(StudyDatabase& db, JobPlan& p, const QString& trainer, bool resume, bool quiet)
{
  const QString jobDir = q(jobFolder(db, p.jobId));
  QDir().mkpath(jobDir);
  writeFileAtomically(s(pidFile(db, p.jobId)), std::to_string(::getpid()) + "\n");
  struct PidGuard
  {
    QString path;
    ~PidGuard() { QFile::remove(path); }
  } pidGuard{pidFile(db, p.jobId)};
  const QString resumeHint = "resume with: panseg train --resume-job " + QString::number(p.jobId) +
                             " --db " + q(db.dataFolder());
  try
  {
    if (!QFileInfo::exists(p.dataDir + "/patients.csv"))
    {
      db.updateJob(p.jobId, JobState::Running, 0.0,
                   "exporting " + std::to_string(p.cases.size()) + " approved cases");
      if (!quiet)
        std::printf("job %lld: exporting %d approved case(s) to %s\n", qlonglong(p.jobId),
                    int(p.cases.size()), qPrintable(p.dataDir));
      exportTrainingCases(db, p.cases, s(p.dataDir));
    }
    db.updateJob(p.jobId, JobState::Running, 0.0,
                 resume ? "resuming training" : "training started");
  }
  catch (const std::exception& e)
  {
    db.updateJob(p.jobId, JobState::Failed, 0.0, e.what());
    throw;
  }
  RunState st;
  const ChildOutcome o = runTrainer(trainer, trainerArgsFor(p, resume), &db, p.jobId, quiet, st);
  const double fraction = st.haveEvent ? trainerFraction(st.last) : 0.0;
  if (o.cancelled)
  {
    const std::string msg = "cancelled" +
                            (st.haveEvent ? " at " + trainerSummary(st.last) : std::string()) +
                            "; " + s(resumeHint);
    db.updateJob(p.jobId, JobState::Cancelled, fraction, msg);
    std::printf("job %lld %s\n", qlonglong(p.jobId), msg.c_str());
    return 130;
  }
  if (o.exitCode != 0)
  {
    const std::string msg =
        "training failed: " +
        (o.error.isEmpty() ? "exit code " + std::to_string(o.exitCode) : s(o.error));
    db.updateJob(p.jobId, JobState::Failed, fraction, msg);
    throw Error("job " + std::to_string(p.jobId) + ": " + msg);
  }
  try
  {
    QJsonObject evalSummary;
    const QStringList valIds = validationCases(p.outDir);
    if (p.evaluate && !p.baseDir.isEmpty() && !valIds.isEmpty())
    {
      db.updateJob(p.jobId, JobState::Running, 1.0,
                   "evaluating on " + std::to_string(valIds.size()) + " held-out cases");
      std::vector<EvalCase> cases;
      for (const QString& id : valIds)
      {
        auto c = findCaseFiles(p.dataDir, id);
        if (!c)
          throw Error("held-out case " + s(id) + " has no files in " + s(p.dataDir));
        for (const TrainingCase& tc : p.cases)
          if (q(tc.caseId) == id)
            c->seriesId = tc.seriesId;
        cases.push_back(*c);
      }
      evalSummary = evaluateModels(p.baseDir, p.outDir, cases, jobDir, p.device, quiet);
    }
    QJsonArray caseIds, seriesIds, maskIds;
    for (const TrainingCase& c : p.cases)
    {
      caseIds << q(c.caseId);
      seriesIds << qint64(c.seriesId);
      maskIds << qint64(c.maskVersionId);
    }
    QJsonObject lineage{{"job_id", qint64(p.jobId)},
                        {"database", q(db.dataFolder())},
                        {"case_ids", caseIds},
                        {"series_ids", seriesIds},
                        {"mask_version_ids", maskIds},
                        {"case_selection", p.params.value("selection")},
                        {"settings", p.params.value("settings")}};
    if (p.baseId > 0)
    {
      lineage.insert("base_model_version_id", qint64(p.baseId));
      const ModelPackageInfo base = readModelPackageInfo(s(p.baseDir));
      lineage.insert("base_model_id", q(base.modelId));
      lineage.insert("base_model_version", q(base.version));
    }
    if (!evalSummary.isEmpty())
      lineage.insert("evaluation", evalSummary);
    const int64_t newId =
        registerTrainedModel(db, s(p.outDir), p.baseId,
                             QJsonDocument(lineage).toJson(QJsonDocument::Compact).toStdString());
    writeFileAtomically(s(jobDir + "/result.json"),
                        QJsonDocument(QJsonObject{{"model_version_id", qint64(newId)},
                                                  {"parent_model_version_id", qint64(p.baseId)},
                                                  {"package", p.outDir},
                                                  {"evaluation", evalSummary}})
                            .toJson(QJsonDocument::Indented)
                            .toStdString());
    QString msg = "model version " + QString::number(newId) + " registered" +
                  (p.baseId > 0 ? " (parent " + QString::number(p.baseId) + ")" : QString());
    if (st.haveEvent && st.last.valDice >= 0)
      msg += ", val Dice " + QString::number(st.last.valDice, 'f', 3);
    if (!evalSummary.isEmpty())
      msg += "; held-out Dice new " + fmt(evalSummary.value("dice_new_mean").toDouble(NAN), 3) +
             " vs base " + fmt(evalSummary.value("dice_base_mean").toDouble(NAN), 3);
    db.updateJob(p.jobId, JobState::Succeeded, 1.0, s(msg));
    std::printf("job %lld succeeded: %s\n", qlonglong(p.jobId), qPrintable(msg));
    std::printf("promote it with: panseg model promote %lld --modality MODALITY --db %s\n",
                qlonglong(newId), qPrintable(q(db.dataFolder())));
    return Ok;
  }
  catch (const std::exception& e)
  {
    db.updateJob(p.jobId, JobState::Failed, 1.0, std::string("after training: ") + e.what());
    throw;
  }
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
  RunState st;
  const bool quiet = a.has("quiet");
  const ChildOutcome o = runTrainer(trainer, args, nullptr, 0, quiet, st);
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
    std::vector<EvalCase> cases;
    for (const QString& id : valIds)
    {
      auto c = findCaseFiles(data, id);
      if (!c)
        throw Error("held-out case " + s(id) + " has no files in " + s(data));
      cases.push_back(*c);
    }
    evaluateModels(baseDir, out, cases, out + "-evaluation", a.value("device"), quiet);
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

bool pidAlive(const QString& pidPath)
{
  QFile f(pidPath);
  if (!f.open(QIODevice::ReadOnly))
    return false;
  const qint64 pid = f.readAll().trimmed().toLongLong();
  return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0;
}
} // namespace

QString trainUsage()
{
  return QStringLiteral(
      "  panseg train --db DIR [--base-model M | --model-type pansegnet|pnet-msa] --out MODEL_DIR\n"
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
  const QString trainer = findTool("panseg-train", "PANSEG_TRAIN");
  const bool quiet = a.has("quiet");
  if (a.has("data"))
    return trainPlain(a, trainer);

  auto db = openDb(a);
  if (a.has("resume-job"))
  {
    bool ok = false;
    const int64_t id = a.value("resume-job").toLongLong(&ok);
    const std::optional<Job> job = ok ? db->job(id) : std::nullopt;
    if (!job || job->kind != "training")
      throw Error("no training job " + s(a.value("resume-job")) + " in " + db->dataFolder() +
                  " (see panseg jobs)");
    if (job->state == JobState::Succeeded)
      throw Error("job " + std::to_string(id) + " has already succeeded: " + job->message);
    if (job->state == JobState::Running && pidAlive(pidFile(*db, id)))
      throw Error("job " + std::to_string(id) + " is still running (pid file " +
                  s(pidFile(*db, id)) + ")");
    JobPlan p = planFromJob(*db, *job);
    return runJob(*db, p, trainer, true, quiet);
  }

  JobPlan p;
  if (a.has("base-model"))
  {
    std::string dir;
    p.baseId = resolveModel(*db, s(a.value("base-model")), &dir);
    p.baseDir = q(dir);
  }
  const QString modelType = trainingModelType(a, p.baseDir);
  CaseSelection sel;
  sel.modality = s(a.value("modality"));
  sel.center = s(a.value("center"));
  sel.fromDate = s(a.value("from"));
  sel.toDate = s(a.value("to"));
  p.cases = selectApprovedCases(*db, sel); // throws before any job exists
  p.outDir = QDir(a.value("out")).absolutePath();
  if (QDir(p.outDir).exists() && !QDir(p.outDir).isEmpty())
    throw Error("--out " + s(p.outDir) +
                " exists and is not empty; choose a new folder for the model");
  QJsonArray cases;
  for (const TrainingCase& c : p.cases)
    cases << QJsonObject{{"case", q(c.caseId)},
                         {"series_id", qint64(c.seriesId)},
                         {"mask_version_id", qint64(c.maskVersionId)},
                         {"patient", q(c.patientKey)},
                         {"modality", q(c.modality)},
                         {"center", q(c.center)},
                         {"date", q(c.date)}};
  p.params = QJsonObject{{"base_model_version_id", qint64(p.baseId)},
                         {"base_model_dir", p.baseDir},
                         {"selection", QJsonObject{{"modality", q(sel.modality)},
                                                   {"center", q(sel.center)},
                                                   {"from", q(sel.fromDate)},
                                                   {"to", q(sel.toDate)}}},
                         {"cases", cases},
                         {"settings", trainerSettings(a, modelType)},
                         {"model_type", modelType},
                         {"out", p.outDir},
                         {"version", a.value("version")},
                         {"device", a.value("device", "cpu")},
                         {"evaluate", !a.has("no-evaluate")},
                         {"trainer", trainer}};
  Job job;
  job.kind = "training";
  job.modelVersionId = p.baseId;
  job.paramsJson = QJsonDocument(p.params).toJson(QJsonDocument::Compact).toStdString();
  const int64_t jobId = db->createJob(job);
  const std::optional<Job> stored = db->job(jobId);
  JobPlan plan = planFromJob(*db, *stored);
  if (!quiet)
    std::printf("job %lld: %d approved case(s), base model %s, job folder %s\n", qlonglong(jobId),
                int(plan.cases.size()),
                plan.baseId ? qPrintable(QString::number(plan.baseId)) : "none (from scratch)",
                jobFolder(*db, jobId).c_str());
  return runJob(*db, plan, trainer, false, quiet);
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
        j.state == JobState::Running && !pidAlive(pidFile(*db, j.id)) && j.kind == "training";
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
  Args a(args.mid(1), {"quiet"});
  if (!a.error.isEmpty())
  {
    printError(a.error);
    return Usage;
  }
  QCoreApplication app(argc, argv);
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
    std::vector<EvalCase> cases;
    for (const QString& id : ids)
    {
      auto c = findCaseFiles(data, id);
      if (!c)
        throw Error("case " + s(id) + " has no image and mask in " + s(data));
      cases.push_back(*c);
    }
    evaluateModels(QDir(a.value("base")).absolutePath(), newDir, cases,
                   QDir(a.value("out", newDir + "-evaluation")).absolutePath(), a.value("device"),
                   a.has("quiet"));
    return Ok;
  }
  printError("usage: panseg model promote|default|evaluate ... (see panseg --help)");
  return Usage;
}

int benchTrain(int argc, char** argv, const QStringList& args)
{
  Args a(args, {});
  QCoreApplication app(argc, argv);
  const QString trainer = findTool("panseg-train", "PANSEG_TRAIN");
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
    const ChildOutcome o = runChild(trainer, targs,
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
