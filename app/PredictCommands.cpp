// `panseg predict` and `panseg bench predict`: PanSegNet through the worker process
// (panseg-worker; LibTorch never loads into this process). Progress goes to stderr, results to
// stdout.
#include "Cli.h"

#include "core/AtomicFile.h"
#include "core/io/ImageIO.h"
#include "database/jobs/FineTuning.h"
#include "database/ImagePaths.h"
#include "database/registry/ModelRegistry.h"
#include "database/studies/Plausibility.h"
#include "database/StudyDatabase.h"
#include "database/jobs/HelperProcess.h"
#include "database/studies/MaskWorkflow.h"
#include "ui/WorkerClient.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTextStream>

#include <cstdio>
#include <memory>
#include <unistd.h>

namespace panseg::cli
{
namespace
{
const char* const kPredictSynopsis =
  "panseg predict --model DIR --input PATH --output PATH [--device auto|cpu|cuda] [--no-tta] [--step S] "
  "[--fast] [--threads N] [--batch N] [--streams N] [--bf16] [--csv FILE] [--probabilities PATH]\n"
  "       panseg predict --series ID [--db DIR] [--model DIR] [--output PATH] [options]";

struct Case
{
  QString name;  // for the CSV
  QString input;
  QString output;
};

bool isListFile(const QString& path)
{
  const QString suffix = QFileInfo(path).suffix().toLower();
  return QFileInfo(path).isFile() && (suffix == "txt" || suffix == "lst" || suffix == "list" || suffix == "csv");
}

QString caseNameOf(const QString& path)
{
  QString name = QFileInfo(path).fileName();
  for (const char* ext : { ".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd" })
    if (name.endsWith(ext, Qt::CaseInsensitive))
      return name.left(name.size() - int(qstrlen(ext)));
  return name; // DICOM folder
}

/// Image files directly inside a folder (a folder of DICOM files is one case, not a batch).
QStringList imagesIn(const QString& dir)
{
  QStringList out;
  for (const QFileInfo& fi : QDir(dir).entryInfoList(QDir::Files, QDir::Name))
  {
    const QString n = fi.fileName().toLower();
    if (n.endsWith(".nii.gz") || n.endsWith(".nii") || n.endsWith(".nrrd") || n.endsWith(".nhdr") ||
        n.endsWith(".mha") || n.endsWith(".mhd"))
      out << fi.absoluteFilePath();
  }
  return out;
}

class Relay
{
public:
  explicit Relay(bool quiet) : m_quiet(quiet), m_tty(isatty(2)) {}
  void attach(ui::WorkerClient& w, const QString& caseLabel)
  {
    QObject::connect(&w, &ui::WorkerClient::started, [this, caseLabel](const QJsonObject& e)
                     {
                       if (m_quiet)
                         return;
                       endLine();
                       std::fprintf(stderr, "%s%s: %s on %s%s, %s, step %g\n", qPrintable(caseLabel),
                                    caseLabel.isEmpty() ? "model" : " - model", qPrintable(e["model"].toString()),
                                    qPrintable(e["device"].toString()), e["fp16"].toBool() ? " (fp16)" : "",
                                    e["tta"].toBool() ? "TTA on" : "TTA off", e["step"].toDouble());
                       if (e["demo"].toBool())
                         std::fprintf(stderr, "note: demo model - not for clinical use\n");
                     });
    QObject::connect(&w, &ui::WorkerClient::estimateReady, [this](qint64 passes, double s, const QString& dev)
                     {
                       if (m_quiet)
                         return;
                       endLine();
                       std::fprintf(stderr, "estimate: %lld forward passes on %s, %s\n", (long long)passes,
                                    qPrintable(dev), qPrintable(ui::WorkerClient::formatDuration(s)));
                     });
    QObject::connect(&w, &ui::WorkerClient::note, [this](const QString& m)
                     {
                       endLine();
                       std::fprintf(stderr, "panseg: note: %s\n", qPrintable(m));
                     });
    QObject::connect(&w, &ui::WorkerClient::progress, [this](double f, const QString& msg, double eta)
                     {
                       if (m_quiet)
                         return;
                       const int pct = int(f * 100.0);
                       const QString etaText = eta >= 0 ? ", " + ui::WorkerClient::formatDuration(eta) + " left" : QString();
                       if (m_tty)
                       {
                         std::fprintf(stderr, "\r%3d%%  %-60s", pct, qPrintable(msg + etaText));
                         m_open = true;
                       }
                       else if (pct >= m_nextPct)
                       {
                         std::fprintf(stderr, "%3d%%  %s\n", pct, qPrintable(msg + etaText));
                         m_nextPct = (pct / 10 + 1) * 10;
                       }
                       std::fflush(stderr);
                     });
  }
  void endLine()
  {
    if (m_open)
      std::fprintf(stderr, "\n");
    m_open = false;
  }
  void reset() { m_nextPct = 0; }

private:
  bool m_quiet, m_tty, m_open = false;
  int m_nextPct = 0;
};

struct Outcome
{
  bool ok = false;
  bool cancelled = false;
  QJsonObject done;
  QString error;
};

Outcome runOne(ui::WorkerClient& worker, const ui::PredictRequest& req)
{
  Outcome o;
  QObject ctx;
  QObject::connect(&worker, &ui::WorkerClient::finished, &ctx, [&](const QJsonObject& d) { o.ok = true; o.done = d; });
  QObject::connect(&worker, &ui::WorkerClient::failed, &ctx, [&](const QString& e) { o.error = e; });
  QObject::connect(&worker, &ui::WorkerClient::cancelled, &ctx, [&] { o.cancelled = true; o.error = "cancelled"; });
  if (worker.start(req))
    worker.waitForFinished(-1);
  if (!o.ok && o.error.isEmpty())
    o.error = worker.errorString();
  return o;
}

QString csvField(const QString& s)
{
  if (s.contains(',') || s.contains('"') || s.contains('\n'))
    return '"' + QString(s).replace('"', "\"\"") + '"';
  return s;
}
} // namespace

QString predictUsage()
{
  return QStringLiteral(
    "  panseg predict --model DIR --input PATH --output PATH [--device auto|cpu|cuda] [--no-tta]\n"
    "                 [--step S] [--fast] [--threads N] [--batch N] [--streams N] [--bf16]\n"
    "                 [--probabilities PATH]\n"
    "                                   PanSegNet pancreas mask (worker process); --input a folder or a list\n"
    "                                   file and --output a folder = batch, with volumes.csv (or --csv FILE);\n"
    "                                   CPU speed: --streams N network calls at once (default 2,\n"
    "                                   bit-exact); --batch 8 and --bf16 are faster, not bit-exact\n"
    "                                   (docs/performance.md)\n"
    "  panseg predict --series ID [--db DIR] [--model DIR] [--output PATH] [same options]\n"
    "                                   predict a database series and save the result as its newest AI mask\n"
    "                                   version (draft), linked to the model's registry entry; --model\n"
    "                                   defaults to the model promoted for the series' modality\n"
    "                                   (panseg model promote), else the installed demo model\n"
    "  panseg bench predict [--device D] [--reps N] [--paper-reps N] [--case CT] [--skip-paper] [--fast-only]\n"
    "                       [--skip-levers] [--bf16] [--vs-reference [--reference-case ct|mr]]\n"
    "                                   forward-pass and whole-case prediction timings (PanSegNet, PNet-MSA),\n"
    "                                   the CPU levers one at a time, the authors' settings next to PanSeg's\n"
    "                                   default (docs/performance.md)\n");
}

int predict(int argc, char** argv, const QStringList& args)
{
  Args a(args, { "no-tta", "fast", "quiet", "force", "bf16" });
  if (!a.error.isEmpty() || !a.positionals.isEmpty())
  {
    printError(a.error.isEmpty() ? QString("usage: ") + kPredictSynopsis : a.error);
    return Usage;
  }
  if (a.has("user") && !a.has("series"))
  {
    printError("--user applies to the database form (--series ID); predicting files opens no database");
    return Usage;
  }
  QCoreApplication app(argc, argv);
  // Database form: the series' image in, a new AI mask version out.
  std::unique_ptr<db::StudyDatabase> database;
  int64_t seriesId = 0;
  QTemporaryDir seriesTemp;
  QString modelArg = a.value("model"), inputArg = a.value("input"), outputArg = a.value("output");
  if (a.has("series"))
  {
    bool okId = false;
    seriesId = a.value("series").toLongLong(&okId);
    if (!okId || seriesId <= 0 || a.has("input"))
    {
      printError(a.has("input") ? "--series and --input exclude each other"
                                : "--series must be a positive whole number (see panseg db list)");
      return Usage;
    }
    db::StudyDatabase::OpenOptions openOptions;
    openOptions.username = actingUserOption(a);
    database = std::make_unique<db::StudyDatabase>(
      a.has("db") ? a.value("db").toStdString() : db::StudyDatabase::defaultDataFolder(), openOptions);
    // The series, the blinding rule and the one default-model rule (database/studies/MaskWorkflow.h).
    try
    {
      const db::SeriesPrediction plan = db::planSeriesPrediction(*database, seriesId, modelArg.toStdString(),
                                                                 db::installedDemoModelDir().toStdString());
      inputArg = QString::fromStdString(plan.imagePath);
      modelArg = QString::fromStdString(plan.model.dir);
      if (plan.model.why != "given")
        std::fprintf(stderr, "using %s\n", plan.model.why.c_str());
    }
    catch (const std::exception& e)
    {
      printError(QString::fromUtf8(e.what()));
      return Failed;
    }
    if (outputArg.isEmpty())
      outputArg = seriesTemp.filePath("prediction.nii.gz");
  }
  for (const auto& [k, v] : { std::pair<QString, QString>{ "model", modelArg }, { "input", inputArg },
                              { "output", outputArg } })
    if (v.isEmpty())
    {
      printError("--" + k + " is required; usage: " + kPredictSynopsis);
      return Usage;
    }
  bool ok = true;
  const int threads = a.intValue("threads", 0, &ok);
  if (!ok || threads < 0)
  {
    printError("--threads must be a whole number (0 = all cores)");
    return Usage;
  }
  const int batchSize = a.intValue("batch", 0, &ok);
  if (!ok || batchSize < 0)
  {
    printError("--batch must be a whole number (patches per network call; 0 = the default)");
    return Usage;
  }
  const int streams = a.intValue("streams", 0, &ok);
  if (!ok || streams < 0)
  {
    printError("--streams must be a whole number (CPU network calls at the same time; 0 = the default)");
    return Usage;
  }
  double step = 0.0;
  if (a.has("step"))
  {
    step = a.value("step").toDouble(&ok);
    if (!ok || !(step > 0 && step <= 1))
    {
      printError("--step must be a number in (0, 1], e.g. 0.5");
      return Usage;
    }
  }
  const QString device = a.value("device", "auto");
  if (device != "auto" && device != "cpu" && device != "cuda" && !device.startsWith("cuda:"))
  {
    printError("--device must be auto, cpu, cuda or cuda:N");
    return Usage;
  }
  const QString model = modelArg, input = inputArg, output = outputArg;
  if (!QFileInfo(model).isDir())
  {
    printError("model package not found: " + model);
    return Failed;
  }
  if (!QFileInfo::exists(input))
  {
    printError("input not found: " + input);
    return Failed;
  }
  // The package's plausibility limits are read now: a bad "plausibility" block is an error before
  // minutes of prediction, not after.
  try
  {
    db::modelPlausibilityOfPackage(model.toStdString());
  }
  catch (const std::exception& e)
  {
    printError(QString::fromUtf8(e.what()));
    return Failed;
  }

  // Single case or batch (a folder of image files, or a list file with one path per line).
  QList<Case> cases;
  const bool batch = isListFile(input) || (QFileInfo(input).isDir() && !imagesIn(input).isEmpty());
  if (batch)
  {
    if (QFileInfo(output).exists() && !QFileInfo(output).isDir())
    {
      printError("with a folder or list as --input, --output must be a folder: " + output);
      return Usage;
    }
    QStringList inputs;
    if (isListFile(input))
    {
      QFile f(input);
      if (!f.open(QIODevice::ReadOnly | QIODevice::Text))
      {
        printError("cannot read list " + input);
        return Failed;
      }
      const QDir base = QFileInfo(input).absoluteDir();
      QTextStream ts(&f);
      while (!ts.atEnd())
      {
        const QString line = ts.readLine().trimmed();
        if (line.isEmpty() || line.startsWith('#'))
          continue;
        inputs << (QDir::isAbsolutePath(line) ? line : base.filePath(line));
      }
    }
    else
      inputs = imagesIn(input);
    if (inputs.isEmpty())
    {
      printError("no images listed in " + input);
      return Failed;
    }
    if (!QDir().mkpath(output))
    {
      printError("cannot create folder " + output);
      return Failed;
    }
    QStringList names;
    for (const QString& in : inputs)
    {
      QString name = caseNameOf(in);
      for (int k = 2; names.contains(name); ++k)
        name = caseNameOf(in) + "_" + QString::number(k);
      names << name;
      cases.append({ name, in, QDir(output).filePath(name + ".nii.gz") });
    }
  }
  else
  {
    if (!looksLikeImagePath(output.toStdString()) || QFileInfo(output).isDir())
    {
      printError("--output must be a mask file path (.nii.gz, .nii, .nrrd, .mha): " + output);
      return Usage;
    }
    cases.append({ caseNameOf(input), input, output });
  }

  // The pancreas is found by name in the package's labels (db::predictedPancreasVolume); the
  // csv's last column says which label was counted (0 = every non-zero label).
  Relay relay(a.has("quiet"));
  QString csv = "case,volume_ml,voxels,seconds,output,status,label\n";
  int failures = 0;
  for (int i = 0; i < cases.size(); ++i)
  {
    const Case& c = cases[i];
    ui::PredictRequest req;
    req.modelDir = model;
    req.inputPath = c.input;
    req.outputPath = c.output;
    req.device = device;
    req.tta = !a.has("no-tta");
    req.fast = a.has("fast");
    req.step = step;
    req.threads = threads;
    req.batch = batchSize;
    req.streams = streams;
    req.bf16 = a.has("bf16");
    if (!batch)
      req.probabilitiesPath = a.value("probabilities");
    relay.reset();
    const QString label = batch ? QString("[%1/%2] %3").arg(i + 1).arg(cases.size()).arg(c.name) : QString();
    ui::WorkerClient one;
    relay.attach(one, label);
    const Outcome o = runOne(one, req);
    relay.endLine();
    if (!o.ok)
    {
      if (!batch)
      {
        printError(o.error);
        return Failed;
      }
      ++failures;
      printError(c.name + ": " + o.error);
      csv += csvField(c.name) + ",,,," + csvField(c.output) + "," + csvField("error: " + o.error) + ",\n";
      if (o.cancelled)
        break;
      continue;
    }
    const db::PredictedVolume volume = db::predictedPancreasVolume(o.done, model);
    const double ml = volume.ml;
    const qint64 voxels = volume.voxels;
    const QString which = volume.note();
    const double seconds = o.done["seconds"].toDouble();
    // The plausibility check (database/studies/Plausibility.h) of every prediction: one warning line.
    auto warnIfImplausible = [&](const db::MaskPlausibility& p, const QString& who)
    {
      if (p.flagged)
        std::printf("warning: implausible prediction%s: %s; check it before anyone approves it\n",
                    qPrintable(who.isEmpty() ? QString() : " (" + who + ")"), p.summary.c_str());
    };
    auto checkFile = [&]() -> db::MaskPlausibility
    {
      const db::ModelPlausibility limits = db::modelPlausibilityOfPackage(model.toStdString());
      return db::toRecord(assessPlausibility(readMask(c.output.toStdString()), limits.label, limits.limits), {});
    };
    if (batch)
    {
      std::printf("%s: %.2f mL (%lld voxels%s), %.1f s -> %s\n", qPrintable(c.name), ml, (long long)voxels,
                  qPrintable(which.isEmpty() ? which : "; " + which), seconds, qPrintable(c.output));
      warnIfImplausible(checkFile(), c.name);
      csv += csvField(c.name) + "," + QString::number(ml, 'f', 3) + "," + QString::number(voxels) + "," +
             QString::number(seconds, 'f', 2) + "," + csvField(c.output) + ",ok," + QString::number(volume.label) + "\n";
    }
    else
    {
      std::printf("pancreas: %.2f mL (%lld voxels%s)\n", ml, (long long)voxels,
                  qPrintable(which.isEmpty() ? which : "; " + which));
      std::printf("model: %s%s; %.1f s on %s%s; %lld forward passes\n", qPrintable(o.done["model"].toString()),
                  o.done["demo"].toBool() ? " (demo, not for clinical use)" : "", seconds,
                  qPrintable(o.done["device"].toString()),
                  o.done["fell_back_to_cpu"].toBool() ? " (fell back from the GPU)" : "",
                  (long long)o.done["forward_passes"].toInteger());
      if (database)
      {
        const int64_t version = db::storeSeriesPrediction(*database, seriesId, readMask(c.output.toStdString()),
                                                          model.toStdString(), "panseg predict --series");
        std::printf("saved as mask version %lld of series %lld (ai, draft, model version %lld)\n",
                    (long long)version, (long long)seriesId, (long long)database->maskVersion(version)->modelVersionId);
        warnIfImplausible(db::plausibilityOf(*database, version), {});
        if (a.has("output"))
          std::printf("wrote %s\n", qPrintable(c.output));
      }
      else
      {
        std::printf("wrote %s\n", qPrintable(c.output));
        warnIfImplausible(checkFile(), {});
      }
    }
    std::fflush(stdout);
  }
  if (batch)
  {
    const QString csvPath = a.value("csv", QDir(output).filePath("volumes.csv"));
    writeFileAtomically(csvPath.toStdString(), csv.toStdString());
    std::printf("%lld of %lld cases predicted; volumes in %s\n", (long long)(cases.size() - failures),
                (long long)cases.size(), qPrintable(csvPath));
    return failures ? Failed : Ok;
  }
  return Ok;
}

int benchPredict(int argc, char** argv, const QStringList& args)
{
  // The measurements run inside the worker (LibTorch); its report is passed through.
  QCoreApplication app(argc, argv);
  QStringList searched;
  const QString worker = ui::WorkerClient::findWorker(&searched);
  if (worker.isEmpty())
  {
    printError("the prediction worker (panseg-worker) was not found (looked at " + searched.join(", ") +
               "); set PANSEG_WORKER to its path");
    return Failed;
  }
  QStringList workerArgs{ "bench" };
  Args a(args, { "skip-paper", "skip-case", "fast-only", "skip-demo", "skip-levers", "skip-v2", "bf16", "vs-reference" });
  if (!a.error.isEmpty() || !a.positionals.isEmpty())
  {
    printError(a.error.isEmpty() ? "usage: panseg bench predict [--device auto|cpu|cuda] [--reps N] [--paper-reps N] "
                                   "[--case CT.nii.gz] [--skip-paper] [--skip-case] [--fast-only] [--skip-demo] "
                                   "[--skip-levers] [--skip-v2] [--bf16] [--vs-reference [--reference-case ct|mr]] "
                                   "[--interop-threads N]"
                                 : a.error);
    return Usage;
  }
  for (const QString k : { "device", "reps", "paper-reps", "case", "threads", "reference-case", "interop-threads" })
    if (a.has(k))
      workerArgs << "--" + k << a.value(k);
  for (const QString k : { "skip-paper", "skip-case", "fast-only", "skip-demo", "skip-levers", "skip-v2", "bf16", "vs-reference" })
    if (a.has(k))
      workerArgs << "--" + k;
  // The shipped demo packages (next to the executable in a build, share/panseg/models installed).
  for (const QString& dir : { QCoreApplication::applicationDirPath() + "/models",
                              QCoreApplication::applicationDirPath() + "/../share/panseg/models" })
    if (QFileInfo(dir + "/demo/model.json").exists() && QFileInfo(dir + "/pnet-msa-demo/model.json").exists())
    {
      workerArgs << "--demo-models" << QDir(dir).absolutePath();
      break;
    }
  const QByteArray sharedEnv = qgetenv("PANSEG_SHARED_DIR");
  workerArgs << "--shared" << (sharedEnv.isEmpty() ? QString(PANSEG_SHARED_DIR) : QString::fromLocal8Bit(sharedEnv));
  QProcess p;
  p.setProcessChannelMode(QProcess::ForwardedChannels);
  p.start(worker, workerArgs);
  if (!p.waitForStarted())
  {
    printError("could not start " + worker + ": " + p.errorString());
    return Failed;
  }
  p.waitForFinished(-1);
  return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : Failed;
}
} // namespace panseg::cli
