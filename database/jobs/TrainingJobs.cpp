#include "database/jobs/TrainingJobs.h"
#include "models/ModelCard.h"

#include "core/AtomicFile.h"
#include "core/Error.h"
#include "core/io/ImageIO.h"
#include "core/metrics/Agreement.h"
#include "core/stats/Comparison.h"
#include "database/registry/ModelRegistry.h"
#include "database/jobs/WorkerCommand.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <csignal>

#include <sys/types.h>
#include <unistd.h>

namespace panseg::db
{
namespace
{
std::string s(const QString& q) { return q.toStdString(); }
QString q(const std::string& s) { return QString::fromStdString(s); }

/// log(printf(format, ...)).
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void say(const JobLog& log, const char* format, ...)
{
  char buf[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  log(buf);
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

} // namespace

std::optional<EvaluationCase> findEvaluationCase(const QString& dataDir, const QString& caseId)
{
  static const QStringList exts = {".nii.gz", ".nii", ".nrrd", ".mha", ".mhd"};
  for (const QString& e : exts)
    if (QFile::exists(dataDir + "/" + caseId + e))
      for (const QString& m : exts)
        if (QFile::exists(dataDir + "/" + caseId + "_seg" + m))
          return EvaluationCase{caseId, dataDir + "/" + caseId + e, dataDir + "/" + caseId + "_seg" + m,
                          0};
  for (const QString& e : exts)
    if (QFile::exists(dataDir + "/imagesTr/" + caseId + "_0000" + e))
      for (const QString& m : exts)
        if (QFile::exists(dataDir + "/labelsTr/" + caseId + m))
          return EvaluationCase{caseId, dataDir + "/imagesTr/" + caseId + "_0000" + e,
                          dataDir + "/labelsTr/" + caseId + m, 0};
  return std::nullopt;
}

/// Predicts every case with both models (see TrainingJobs.h).
QJsonObject evaluateModels(const QString& baseDir, const QString& newDir,
                           const std::vector<EvaluationCase>& cases, const QString& outDir,
                           const QString& device, const JobLog& log)
{
  if (cases.empty())
    throw Error("no held-out cases to evaluate on (the split left no validation case)");
  const QString worker = requireHelperTool("panseg-worker", "PANSEG_WORKER");
  QDir().mkpath(outDir + "/predictions");
  struct Row
  {
    EvaluationCase c;
    AgreementResult base, neu;
  };
  std::vector<Row> rows;
  for (const EvaluationCase& c : cases)
  {
    Row r{c, {}, {}};
    const LabelMask truth = readMask(s(c.truth));
    for (int which = 0; which < 2; ++which)
    {
      const QString model = which == 0 ? baseDir : newDir;
      const QString out =
          outDir + "/predictions/" + c.caseId + (which == 0 ? "_base" : "_new") + ".nii.gz";
      PredictRequest req;
      req.modelDir = model;
      req.inputPath = c.image;
      req.outputPath = out;
      req.device = device.isEmpty() ? QStringLiteral("cpu") : device;
      req.fast = true;
      req.tta = false;
      req.batch = 4;
      req.extraArguments = {"--no-estimate"};
      const ChildOutcome o =
          runHelper(worker, workerPredictArguments(req), [](const QByteArray&) {});
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
  if (log)
  {
    log("");
    say(log, "evaluation on %d held-out case(s) (%s)", int(rows.size()), qPrintable(outDir + "/eval.csv"));
    say(log, "%-16s %10s %10s %12s %12s", "case", "Dice base", "Dice new", "HD95 base", "HD95 new");
    for (const Row& r : rows)
      say(log, "%-16s %10.4f %10.4f %12s %12s", qPrintable(r.c.caseId), r.base.dice, r.neu.dice,
          qPrintable(fmt(r.base.distancesDefined ? r.base.hd95Mm : INFINITY, 2)),
          qPrintable(fmt(r.neu.distancesDefined ? r.neu.hd95Mm : INFINITY, 2)));
    say(log, "%-16s %10.4f %10.4f %12s %12s", "mean", mean(dBase), mean(dNew), qPrintable(fmt(mean(hBase), 2)),
        qPrintable(fmt(mean(hNew), 2)));
    if (tDice)
      say(log, "paired t-test, Dice new - base: %+.4f (95%% CI %+.4f..%+.4f), t = %.3f, df = %.0f, p = %.4g",
          tDice->meanDifference, tDice->ciLower, tDice->ciUpper, tDice->t, tDice->df, tDice->pValue);
    else
      log("paired t-test: needs at least 2 held-out cases");
    if (tHd)
      say(log, "paired t-test, HD95 new - base: %+.2f mm, t = %.3f, p = %.4g", tHd->meanDifference, tHd->t,
          tHd->pValue);
  }
  return summary;
}

QStringList validationCases(const QString& packageDir)
{
  QStringList out;
  const models::ModelCard card = models::readModelCard((packageDir + "/model.json").toStdString());
  if (const auto* lineage = card.json.find("lineage"); lineage && lineage->isObject())
    if (const auto* cases = lineage->find("validation_cases"); cases && cases->isArray())
      for (const auto& c : cases->array)
        if (c.isString())
          out << QString::fromStdString(c.string);
  return out;
}

// ---- jobs --------------------------------------------------------------------------------------
QString jobPidFile(const StudyDatabase& db, int64_t jobId) { return q(jobFolder(db, jobId)) + "/pid"; }

bool jobProcessAlive(const StudyDatabase& db, int64_t jobId)
{
  QFile f(jobPidFile(db, jobId));
  if (!f.open(QIODevice::ReadOnly))
    return false;
  const qint64 pid = f.readAll().trimmed().toLongLong();
  return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0;
}

TrainerRun runTrainer(const QString& trainer, const QStringList& args, StudyDatabase* db, int64_t jobId,
                      const JobLog& log)
{
  if (log)
    log("running " + trainer.toStdString() + " " + args.join(' ').toStdString());
  TrainerRun run;
  run.outcome = runHelper(trainer, args, [&](const QByteArray& line) {
    const auto e = parseTrainerEvent(line.toStdString());
    if (!e)
    {
      if (log)
        log("  " + line.toStdString());
      return;
    }
    run.last = *e;
    run.haveEvent = true;
    if (db && jobId > 0)
    {
      try
      {
        recordTrainerEvent(*db, jobId, *e, line.toStdString());
      }
      catch (const std::exception& ex)
      {
        std::fprintf(stderr, "panseg: warning: progress not recorded: %s\n", ex.what());
      }
    }
    if (log && e->event != "validating")
      log("  " + trainerSummary(*e));
  });
  return run;
}

QStringList trainerArguments(const TrainingJobPlan& p, bool resume)
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

TrainingJobPlan planFromJob(StudyDatabase& db, const Job& job)
{
  TrainingJobPlan p;
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

TrainingJobPlan planResume(StudyDatabase& db, int64_t jobId)
{
  const std::optional<Job> job = db.job(jobId);
  if (!job || job->kind != "training")
    throw Error("no training job " + std::to_string(jobId) + " in " + db.dataFolder() + " (see panseg jobs)");
  if (job->state == JobState::Succeeded)
    throw Error("job " + std::to_string(jobId) + " has already succeeded: " + job->message);
  if (job->state == JobState::Running && jobProcessAlive(db, jobId))
    throw Error("job " + std::to_string(jobId) + " is still running (pid file " + s(jobPidFile(db, jobId)) + ")");
  return planFromJob(db, *job);
}

TrainingJobPlan createTrainingJob(StudyDatabase& db, const NewTrainingJob& request)
{
  const std::vector<TrainingCase> selected = selectApprovedCases(db, request.selection); // throws before any job
  const QString outDir = QDir(request.outDir).absolutePath();
  if (QDir(outDir).exists() && !QDir(outDir).isEmpty())
    throw Error("--out " + s(outDir) + " exists and is not empty; choose a new folder for the model");
  QJsonArray cases;
  for (const TrainingCase& c : selected)
    cases << QJsonObject{ { "case", q(c.caseId) },         { "series_id", qint64(c.seriesId) },
                          { "mask_version_id", qint64(c.maskVersionId) }, { "patient", q(c.patientKey) },
                          { "modality", q(c.modality) },   { "center", q(c.center) },
                          { "date", q(c.date) } };
  const CaseSelection& sel = request.selection;
  const QJsonObject params{ { "base_model_version_id", qint64(request.baseId) },
                            { "base_model_dir", request.baseDir },
                            { "selection", QJsonObject{ { "modality", q(sel.modality) },
                                                        { "center", q(sel.center) },
                                                        { "from", q(sel.fromDate) },
                                                        { "to", q(sel.toDate) } } },
                            { "cases", cases },
                            { "settings", request.trainerSettings },
                            { "model_type", request.modelType },
                            { "out", outDir },
                            { "version", request.version },
                            { "device", request.device },
                            { "evaluate", request.evaluate },
                            { "trainer", request.trainer } };
  Job job;
  job.kind = "training";
  job.modelVersionId = request.baseId;
  job.paramsJson = QJsonDocument(params).toJson(QJsonDocument::Compact).toStdString();
  const int64_t jobId = db.createJob(job);
  const std::optional<Job> stored = db.job(jobId);
  if (!stored)
    throw Error("training job " + std::to_string(jobId) + " vanished right after it was recorded");
  return planFromJob(db, *stored);
}

TrainingJobResult runTrainingJob(StudyDatabase& db, TrainingJobPlan& p, const QString& trainer, bool resume,
                                 const JobLog& log)
{
  const QString jobDir = q(jobFolder(db, p.jobId));
  QDir().mkpath(jobDir);
  writeFileAtomically(s(jobPidFile(db, p.jobId)), std::to_string(::getpid()) + "\n");
  struct PidGuard
  {
    QString path;
    ~PidGuard() { QFile::remove(path); }
  } pidGuard{jobPidFile(db, p.jobId)};
  const QString resumeHint = "resume with: panseg train --resume-job " + QString::number(p.jobId) +
                             " --db " + q(db.dataFolder());
  try
  {
    if (!QFileInfo::exists(p.dataDir + "/patients.csv"))
    {
      db.updateJob(p.jobId, JobState::Running, 0.0,
                   "exporting " + std::to_string(p.cases.size()) + " approved cases");
      if (log)
        say(log, "job %lld: exporting %d approved case(s) to %s", qlonglong(p.jobId), int(p.cases.size()),
            qPrintable(p.dataDir));
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
  const TrainerRun st = runTrainer(trainer, trainerArguments(p, resume), &db, p.jobId, log);
  const ChildOutcome& o = st.outcome;
  const double fraction = st.haveEvent ? trainerFraction(st.last) : 0.0;
  if (o.cancelled)
  {
    const std::string msg = "cancelled" +
                            (st.haveEvent ? " at " + trainerSummary(st.last) : std::string()) +
                            "; " + s(resumeHint);
    db.updateJob(p.jobId, JobState::Cancelled, fraction, msg);
    TrainingJobResult r;
    r.cancelled = true;
    r.message = msg;
    return r;
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
      std::vector<EvaluationCase> cases;
      for (const QString& id : valIds)
      {
        auto c = findEvaluationCase(p.dataDir, id);
        if (!c)
          throw Error("held-out case " + s(id) + " has no files in " + s(p.dataDir));
        for (const TrainingCase& tc : p.cases)
          if (q(tc.caseId) == id)
            c->seriesId = tc.seriesId;
        cases.push_back(*c);
      }
      evalSummary = evaluateModels(p.baseDir, p.outDir, cases, jobDir, p.device, log);
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
    TrainingJobResult r;
    r.modelVersionId = newId;
    r.message = s(msg);
    return r;
  }
  catch (const std::exception& e)
  {
    db.updateJob(p.jobId, JobState::Failed, 1.0, std::string("after training: ") + e.what());
    throw;
  }
}

} // namespace panseg::db
