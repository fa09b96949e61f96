// `panseg interact` (a box prompt and clicks on one image, for scripting and tests) and
// `panseg bench interactive` (the robot user's table). The model runs in panseg-worker with a
// region of interest (LibTorch never loads here); merging into the mask, clicks and grow from
// seeds are core/edit (BoxPrompt, GrowCut, RobotUser), the same calls the GUI makes.
#include "BenchSummary.h"
#include "Cli.h"

#include "core/Error.h"
#include "core/demo/PhantomGenerator.h"
#include "core/edit/BoxPrompt.h"
#include "core/edit/GrowCut.h"
#include "core/edit/RobotUser.h"
#include "core/io/ImageIO.h"
#include "core/io/ItkRegionGrowing.h"
#include "core/metrics/DistanceTransform.h"
#include "ui/WorkerClient.h"

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QProcess>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSysInfo>
#include <QTemporaryDir>
#include <QThread>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>

namespace panseg::cli
{
namespace
{
const char* kInteractSynopsis =
  "panseg interact --input IMG --box x0,y0,z0,x1,y1,z1 --output OUT [--model DIR] [--mask START] "
  "[--click +x,y,z|-x,y,z ... | --grow +x,y,z|-x,y,z ...] [--grow-method growcut|confidence|levelset] [--mm] [--label N] "
  "[--margin MM] [--device D] [--no-fast] [--json]";

/// Pulls every `--name VALUE` out of args (repeatable options).
QStringList takeRepeated(QStringList& args, const QString& name, QString* error)
{
  QStringList values;
  for (int i = 0; i < args.size();)
  {
    if (args[i] == name)
    {
      if (i + 1 >= args.size())
      {
        *error = name + " needs a value";
        return values;
      }
      values << args[i + 1];
      args.removeAt(i);
      args.removeAt(i);
    }
    else if (args[i].startsWith(name + "="))
    {
      values << args[i].mid(name.size() + 1);
      args.removeAt(i);
    }
    else
      ++i;
  }
  return values;
}

struct BoxRun
{
  bool ok = false;
  QString error;
  LabelMask mask; // labels inside the box, 0 elsewhere
  double seconds = 0.0;
  qint64 forwardPasses = 0;
  QString clickMethod; // for clicks: "model" or "grow from seeds" (the model changed nothing there)
};

/// The model inside `box` (+ margin) through the worker; synchronous (runs an event loop).
BoxRun predictInBox(const QString& model, const QString& input, const edit::Box* box, const Geometry& grid,
                    double marginMm, const QString& device, bool fast, const QStringList& extraArguments = {})
{
  BoxRun run;
  QTemporaryDir tmp;
  ui::WorkerClient worker;
  ui::PredictRequest req;
  req.modelDir = model;
  req.inputPath = input;
  req.outputPath = tmp.path() + "/box.nii.gz";
  req.device = device;
  req.fast = fast;
  req.strictModality = true;
  req.extraArguments << "--no-estimate" << extraArguments; // no timed extra forward pass: a box is short
  if (box)
  {
    req.roi = QString::fromStdString(edit::boxText(*box));
    req.roiMarginMm = marginMm;
  }
  QObject ctx;
  QObject::connect(&worker, &ui::WorkerClient::finished, &ctx, [&](const QJsonObject& d) {
    run.ok = true;
    run.seconds = d["seconds"].toDouble();
    run.forwardPasses = d["forward_passes"].toInteger();
    run.clickMethod = d["click_method"].toString();
  });
  QObject::connect(&worker, &ui::WorkerClient::failed, &ctx, [&](const QString& e) { run.error = e; });
  QObject::connect(&worker, &ui::WorkerClient::cancelled, &ctx, [&] { run.error = "cancelled"; });
  if (worker.start(req))
    worker.waitForFinished(-1);
  if (!run.ok)
  {
    if (run.error.isEmpty())
      run.error = worker.errorString();
    return run;
  }
  run.mask = readMaskFor(req.outputPath.toStdString(), grid);
  return run;
}

/// The "done when" case on any truth: the pancreatic tail (the truth's voxels in the
/// patient-left 30 % of its L-R extent) removed and a false ball of 6 mm added where the box is
/// farthest from the truth.
LabelMask damagedMask(const LabelMask& truth, int label, const edit::Box& box)
{
  const Geometry& g = truth.geometry;
  LabelMask m(g, 0);
  double lo = 1e300, hi = -1e300;
  for (int64_t z = 0; z < truth.nz(); ++z)
    for (int64_t y = 0; y < truth.ny(); ++y)
      for (int64_t x = 0; x < truth.nx(); ++x)
        if (truth.at(x, y, z) == label)
        {
          const double l = g.indexToPhysical({double(x), double(y), double(z)})[0]; // LPS x: to the left
          lo = std::min(lo, l);
          hi = std::max(hi, l);
        }
  const double cut = lo + 0.7 * (hi - lo);
  for (int64_t z = 0; z < truth.nz(); ++z)
    for (int64_t y = 0; y < truth.ny(); ++y)
      for (int64_t x = 0; x < truth.nx(); ++x)
        if (truth.at(x, y, z) == label && g.indexToPhysical({double(x), double(y), double(z)})[0] < cut)
          m.at(x, y, z) = 1;
  // the box voxel farthest from the truth
  const Size3 n{box.hi[0] - box.lo[0], box.hi[1] - box.lo[1], box.hi[2] - box.lo[2]};
  const std::vector<uint8_t> feature = edit::binaryInBox(truth, label, box);
  const std::vector<double> d2 = squaredDistanceTransformMm2(feature, n, g.spacingMm, 1);
  const size_t far = size_t(std::max_element(d2.begin(), d2.end()) - d2.begin());
  const edit::Index3 c{box.lo[0] + int64_t(far) % n[0], box.lo[1] + (int64_t(far) / n[0]) % n[1],
                       box.lo[2] + int64_t(far) / (n[0] * n[1])};
  for (int64_t z = box.lo[2]; z < box.hi[2]; ++z)
    for (int64_t y = box.lo[1]; y < box.hi[1]; ++y)
      for (int64_t x = box.lo[0]; x < box.hi[0]; ++x)
      {
        const double dx = (x - c[0]) * g.spacingMm[0], dy = (y - c[1]) * g.spacingMm[1], dz = (z - c[2]) * g.spacingMm[2];
        if (dx * dx + dy * dy + dz * dz <= 36.0 && truth.at(x, y, z) != label)
          m.at(x, y, z) = 1;
      }
  return m;
}

/// A warm worker session (`panseg-worker session`): the model loaded and the image read once,
/// then `reps` box requests; ready time and the box times (worker-side seconds), or an error.
struct SessionTiming
{
  bool ok = false;
  QString error;
  double readySeconds = 0.0, wallReadySeconds = 0.0;
  std::vector<double> boxSeconds, boxWallSeconds;
};

/// A `panseg-worker session` driven synchronously: the bench's latency table and its robot user
/// of click-conditioned models.
class BenchSession
{
public:
  /// Starts the session and waits for "ready"; false with the reason in error().
  bool start(const QString& model, const QString& input, const QString& device)
  {
    QStringList tried;
    const QString exe = ui::WorkerClient::findWorker(&tried);
    if (exe.isEmpty())
    {
      m_error = "panseg-worker not found";
      return false;
    }
    m_process.setProcessChannelMode(QProcess::SeparateChannels);
    QElapsedTimer wall;
    wall.start();
    m_process.start(exe, {"session", "--model", model, "--input", input, "--device", device, "--strict-modality"});
    QJsonObject e;
    if (!nextEvent(&e) || e["event"].toString() != "ready")
    {
      m_error = e["message"].toString().isEmpty() ? QString("the session did not start") : e["message"].toString();
      m_process.kill();
      m_process.waitForFinished();
      return false;
    }
    m_readySeconds = e["seconds"].toDouble();
    m_wallReadySeconds = wall.nsecsElapsed() / 1e9;
    return true;
  }
  /// One request line; its "done" event, or false with the message in error().
  bool request(const QString& line, QJsonObject* done)
  {
    m_process.write((line + "\n").toUtf8());
    if (!nextEvent(done) || (*done)["event"].toString() != "done")
    {
      m_error = (*done)["message"].toString();
      if (m_error.isEmpty())
        m_error = "the session ended";
      return false;
    }
    return true;
  }
  ~BenchSession()
  {
    if (m_process.state() == QProcess::NotRunning)
      return;
    m_process.write("quit\n");
    m_process.closeWriteChannel();
    if (!m_process.waitForFinished(30000))
      m_process.kill();
  }
  const QString& error() const { return m_error; }
  double readySeconds() const { return m_readySeconds; }
  double wallReadySeconds() const { return m_wallReadySeconds; }

private:
  bool nextEvent(QJsonObject* out)
  {
    while (true)
    {
      while (!m_process.canReadLine())
        if (!m_process.waitForReadyRead(600000))
          return false;
      const QJsonObject o = QJsonDocument::fromJson(m_process.readLine()).object();
      if (!o.isEmpty() && o["event"].toString() != "message")
      {
        *out = o;
        return true;
      }
    }
  }
  QProcess m_process;
  QString m_error;
  double m_readySeconds = 0.0, m_wallReadySeconds = 0.0;
};

SessionTiming timeSession(const QString& model, const QString& input, const edit::Box& box, const QString& device,
                          int reps)
{
  SessionTiming t;
  QTemporaryDir tmp;
  BenchSession session;
  if (!session.start(model, input, device))
  {
    t.error = session.error();
    return t;
  }
  t.readySeconds = session.readySeconds();
  t.wallReadySeconds = session.wallReadySeconds();
  QElapsedTimer wall;
  for (int k = 0; k < reps; ++k)
  {
    wall.start();
    QJsonObject e;
    if (!session.request(QString("box %1 %2").arg(QString::fromStdString(edit::boxText(box)),
                                                  tmp.filePath(QString("b%1.nii.gz").arg(k))),
                         &e))
    {
      t.error = session.error();
      break;
    }
    t.boxSeconds.push_back(e["seconds"].toDouble());
    t.boxWallSeconds.push_back(wall.nsecsElapsed() / 1e9);
  }
  t.ok = t.error.isEmpty();
  return t;
}

/// A click-model robot curve and its clicks that the model left unchanged (grown from seeds).
struct ClickModelCurve
{
  edit::RobotCurve curve;
  /// Per click (not the box): the worker's phases in seconds, keyed as in its done event
  /// (read, preprocess, network, export, answer, write) plus "total".
  std::map<QString, std::vector<double>> phases;
  int grown = 0;
  QString note() const { return grown ? QString(" (%1 grown)").arg(grown) : QString(); }
};

/// The robot user with a click-conditioned model in a worker session: from `start` (or, when
/// null, the model's box prediction in automatic mode) each click at the centre of the largest
/// error goes to the model with all clicks so far and the current mask. Dice after the start and
/// each click; per-interaction worker seconds in updateMs (as ms).
ClickModelCurve runClickModelRobot(BenchSession& session, const Geometry& grid, const LabelMask* start,
                                    const edit::Box& box, const LabelMask& truth, int tl, int clicks,
                                    const QString& folder, QString* error)
{
  ClickModelCurve result;
  edit::RobotCurve& curve = result.curve;
  const QString boxText = QString::fromStdString(edit::boxText(box));
  LabelMask current(grid, 0);
  QJsonObject e;
  if (start)
    current = start->binary(0);
  else
  {
    const QString out = folder + "/click-box.nii.gz";
    if (!session.request(QString("box %1 %2").arg(boxText, out), &e))
    {
      *error = session.error();
      return result;
    }
    current = readMaskFor(out.toStdString(), grid).binary(0);
    curve.updateMs.push_back(e["seconds"].toDouble() * 1000.0);
  }
  curve.dice.push_back(edit::diceOf(current, 1, truth, tl));
  QStringList sofar;
  for (int k = 0; k < clicks; ++k)
  {
    const std::optional<edit::RobotClick> c = edit::nextRobotClick(current, 1, truth, tl);
    if (!c)
    {
      curve.dice.push_back(curve.dice.back());
      continue;
    }
    curve.clicks.push_back(*c);
    sofar << QString("%1%2,%3,%4").arg(c->positive ? '+' : '-').arg(c->voxel[0]).arg(c->voxel[1]).arg(c->voxel[2]);
    const QString previous = folder + "/click-previous.nii.gz", out = folder + "/click-out.nii.gz";
    writeMask(current, previous.toStdString());
    if (!session.request(QString("box %1 %2 10 clicks=%3 previous=%4 label=1").arg(boxText, out, sofar.join(';'), previous),
                         &e))
    {
      *error = session.error();
      return result;
    }
    // The answer replaces the mask inside the box (outside it the worker's output is 0).
    const LabelMask answer = readMaskFor(out.toStdString(), grid);
    for (int64_t z = box.lo[2]; z < box.hi[2]; ++z)
      for (int64_t y = box.lo[1]; y < box.hi[1]; ++y)
        for (int64_t x = box.lo[0]; x < box.hi[0]; ++x)
          current.at(x, y, z) = answer.at(x, y, z) ? 1 : 0;
    curve.dice.push_back(edit::diceOf(current, 1, truth, tl));
    curve.updateMs.push_back(e["seconds"].toDouble() * 1000.0);
    result.phases["total"].push_back(e["seconds"].toDouble());
    result.phases["passes"].push_back(e["forward_passes"].toDouble());
    for (const char* phase : { "read", "preprocess", "network", "export", "answer", "write" })
      result.phases[phase].push_back(e[QString(phase) + "_seconds"].toDouble());
    result.grown += e["click_method"].toString() == "grow from seeds" ? 1 : 0;
  }
  return result;
}

QString fixed(double v, int d = 3)
{
  return QString::number(v, 'f', d);
}
} // namespace

QString interactUsage()
{
  return QStringLiteral(
    "  panseg interact --input IMG --box x0,y0,z0,x1,y1,z1 --output OUT [--model DIR] [--mask START]\n"
    "                  [--click +x,y,z|-x,y,z ... | --grow +x,y,z|-x,y,z ...] [--grow-method growcut|confidence|levelset]\n"
    "                  [--mm] [--label N] [--margin MM] [--device D] [--no-fast]\n"
    "                                   box prompt: the model predicts only inside the box (+ margin, default\n"
    "                                   10 mm; worker process) and replaces START's label inside it; each\n"
    "                                   --click is answered by a click-conditioned model (pansegnet-clicks:\n"
    "                                   all clicks so far + the current mask; with START no box run first);\n"
    "                                   each --grow click refines locally (grow from seeds); without\n"
    "                                   --model the clicks refine START, and without START too the box and\n"
    "                                   clicks run grow from seeds alone. Voxel indices\n"
    "                                   (inclusive corners), LPS mm with --mm (docs/interactive.md)\n"
    "  panseg bench interactive [--model DIR] [--click-model DIR] [--phantoms N] [--clicks N] [--skip-real]\n"
    "                           [--skip-model]\n"
    "                                   robot user: a box then clicks at the largest error's centre; Dice per\n"
    "                                   interaction, area under the curve, clicks to Dice 0.9, next to the\n"
    "                                   automatic mask and grow from seeds (phantoms, real CT pancreas)\n");
}

int interact(int argc, char** argv, const QStringList& argsIn)
{
  QStringList args = argsIn;
  QString repeatError;
  const QStringList growTexts = takeRepeated(args, "--grow", &repeatError);
  const QStringList modelClickTexts = takeRepeated(args, "--click", &repeatError);
  Args a(args, { "mm", "json", "no-fast" });
  if (!repeatError.isEmpty() || !a.error.isEmpty() || !a.positionals.isEmpty() || !a.has("input") ||
      !a.has("box") || !a.has("output"))
  {
    printError(!repeatError.isEmpty() ? repeatError
               : !a.error.isEmpty()   ? a.error
                                      : QString("usage: ") + kInteractSynopsis);
    return Usage;
  }
  // --click: clicks the model answers (a click-conditioned package); --grow: grow-from-seeds clicks.
  const bool modelClicks = !modelClickTexts.isEmpty();
  if (modelClicks && !growTexts.isEmpty())
  {
    printError("--click (clicks the model answers) and --grow (grow-from-seeds clicks) exclude each other");
    return Usage;
  }
  if (modelClicks && !a.has("model"))
  {
    printError("--click needs --model DIR, a click-conditioned package (model_type pansegnet-clicks, e.g. "
               "resources/models/demo-clicks); for clicks without a model use --grow");
    return Usage;
  }
  const QStringList clickTexts = modelClicks ? modelClickTexts : growTexts;
  int label = 1;
  if (a.has("label"))
  {
    bool ok = false;
    label = a.intValue("label", 1, &ok);
    if (!ok || label < 1 || label > 255)
    {
      printError("--label must be a whole number from 1 to 255");
      return Usage;
    }
  }
  bool marginOk = true;
  const double marginMm = a.value("margin", "10").toDouble(&marginOk);
  if (!marginOk || marginMm < 0 || marginMm > 200)
  {
    printError("--margin must be a number of mm from 0 to 200");
    return Usage;
  }
  const QString growMethod = a.value("grow-method", "growcut");
  if (growMethod != "growcut" && growMethod != "confidence" && growMethod != "levelset")
  {
    printError("--grow-method must be growcut (shortest-path GrowCut, foreground and background seeds), "
               "confidence (ITK confidence-connected region growing from the foreground seeds) or levelset "
               "(ITK threshold level set: a smooth surface grown from the foreground seeds)");
    return Usage;
  }
  const bool itkGrow = growMethod == "confidence" || growMethod == "levelset";
  if (itkGrow && (a.has("model") || a.has("mask")))
  {
    printError("--grow-method " + growMethod + " grows a new region in the box: it takes no --model or --mask");
    return Usage;
  }
  QCoreApplication app(argc, argv);
  const bool mm = a.has("mm");
  const QString input = a.value("input"), output = a.value("output");
  // Everything the user typed is checked before any work: a bad box or click leaves no output.
  auto image = std::make_shared<Image>(readImage(input.toStdString()));
  const edit::Box box = edit::parseBox(a.value("box").toStdString(), image->geometry, mm);
  std::vector<edit::Click> clicks;
  for (const QString& t : clickTexts)
  {
    const edit::Click c = edit::parseClick(t.toStdString(), image->geometry, mm);
    if (!edit::boxHolds(box, c.voxel))
      throw Error("the click " + t.toStdString() + " is outside the box " + edit::boxText(box) +
                  " (clicks refine the mask inside the box)");
    clicks.push_back(c);
  }
  LabelMask start = a.has("mask") ? readMaskFor(a.value("mask").toStdString(), image->geometry)
                                  : LabelMask(image->geometry, 0);
  edit::LabelEditor editor(image, start);
  QJsonObject report;
  report["box"] = QString::fromStdString(edit::boxText(box));
  QJsonArray steps;
  if (a.has("model") && !(modelClicks && a.has("mask")))
  {
    const BoxRun run = predictInBox(a.value("model"), input, &box, image->geometry, marginMm,
                                    a.value("device", "auto"), !a.has("no-fast"));
    if (!run.ok)
      throw Error(run.error.toStdString());
    const edit::EditResult r = edit::applyBoxPrediction(editor, label, box, run.mask);
    steps.append(QJsonObject{{"step", "box"}, {"voxels_changed", qint64(r.voxelsChanged)},
                             {"seconds", run.seconds}, {"forward_passes", run.forwardPasses}});
  }
  if (modelClicks)
  {
    // Each click: the model again in the box, with every click so far and the current mask as
    // its guidance (one step each, as the GUI's Refine tool with a click model).
    QTemporaryDir tmp;
    QStringList sofar;
    for (size_t k = 0; k < clicks.size(); ++k)
    {
      const edit::Click& c = clicks[k];
      sofar << QString("%1%2,%3,%4").arg(c.positive ? '+' : '-').arg(c.voxel[0]).arg(c.voxel[1]).arg(c.voxel[2]);
      const QString previous = tmp.path() + "/previous.nii.gz";
      writeMask(editor.mask(), previous.toStdString());
      const BoxRun run = predictInBox(a.value("model"), input, &box, image->geometry, marginMm,
                                      a.value("device", "auto"), !a.has("no-fast"),
                                      {"--clicks", sofar.join(';'), "--previous", previous, "--previous-label",
                                       QString::number(label)});
      if (!run.ok)
        throw Error(run.error.toStdString());
      const edit::EditResult r = edit::applyBoxPrediction(editor, label, box, run.mask);
      steps.append(QJsonObject{{"step", "model click " + sofar.last()}, {"voxels_changed", qint64(r.voxelsChanged)},
                               {"seconds", run.seconds}, {"forward_passes", run.forwardPasses},
                               {"method", run.clickMethod}});
    }
    clicks.clear(); // the model answered them
  }
  else if (itkGrow)
  {
    // ITK's confidence-connected region growing or threshold level set in the box from the
    // positive clicks (or the box's centre); negative clicks are barriers.
    std::vector<edit::Index3> fg, bg;
    for (const edit::Click& c : clicks)
      (c.positive ? fg : bg).push_back(c.voxel);
    if (fg.empty())
      fg.push_back({(box.lo[0] + box.hi[0] - 1) / 2, (box.lo[1] + box.hi[1] - 1) / 2, (box.lo[2] + box.hi[2] - 1) / 2});
    QElapsedTimer timer;
    timer.start();
    const std::vector<uint8_t> grown = growMethod == "levelset"
                                           ? edit::levelSetInRegion(*image, box, fg, bg)
                                           : edit::confidenceConnectedInRegion(*image, box, fg, bg);
    const double seconds = timer.nsecsElapsed() / 1e9;
    const edit::EditResult r = editor.replaceInBox(label, box, grown);
    steps.append(QJsonObject{{"step", growMethod == "levelset" ? "level set (ITK)" : "region growing (ITK)"},
                             {"voxels_changed", qint64(r.voxelsChanged)}, {"seconds", seconds}});
    clicks.clear(); // they were the seeds
  }
  else if (!a.has("mask"))
  {
    // Weight-free: grow from seeds in the box (background on its faces, foreground at the
    // positive clicks, or at the box's centre when there is none).
    edit::GrowCut gc(image);
    gc.addSeeds(edit::boxShell(box), edit::SeedLabel::Background);
    bool anyPositive = false;
    for (const edit::Click& c : clicks)
    {
      gc.addSeedBall(c.voxel, 3.0, c.positive ? edit::SeedLabel::Foreground : edit::SeedLabel::Background);
      anyPositive = anyPositive || c.positive;
    }
    if (!anyPositive)
      gc.addSeedBall({(box.lo[0] + box.hi[0] - 1) / 2, (box.lo[1] + box.hi[1] - 1) / 2, (box.lo[2] + box.hi[2] - 1) / 2},
                     3.0, edit::SeedLabel::Foreground);
    const edit::GrowCutStats st = gc.update();
    const LabelMask grown = edit::growCutMask(gc, image->geometry);
    const edit::EditResult r = editor.replaceInBox(label, box, edit::binaryInBox(grown, 1, box));
    steps.append(QJsonObject{{"step", "grow from seeds"}, {"voxels_changed", qint64(r.voxelsChanged)},
                             {"seconds", st.milliseconds / 1000.0}});
    clicks.clear(); // they were the seeds
  }
  if (!clicks.empty())
  {
    edit::ClickRefiner refiner(image, editor.mask(), label, box);
    for (size_t k = 0; k < clicks.size(); ++k)
    {
      const std::vector<uint8_t> raster = refiner.click(clicks[k]);
      const edit::EditResult r = editor.replaceInBox(label, box, raster);
      steps.append(QJsonObject{{"step", QString("%1%2").arg(clicks[k].positive ? '+' : '-').arg(clickTexts[int(k)].mid(1))},
                               {"voxels_changed", qint64(r.voxelsChanged)},
                               {"seconds", refiner.lastStats().milliseconds / 1000.0}});
    }
  }
  writeMask(editor.mask(), output.toStdString());
  report["steps"] = steps;
  report["output"] = output;
  report["label"] = label;
  report["voxels"] = qint64(editor.mask().countLabel(label));
  report["volume_ml"] = editor.mask().volumeMl(label);
  if (a.has("json"))
    std::printf("%s\n", QJsonDocument(report).toJson(QJsonDocument::Compact).constData());
  else
  {
    for (const auto& s : steps)
    {
      const QJsonObject o = s.toObject();
      std::printf("%-22s %8lld voxels changed  %.3f s\n", qPrintable(o["step"].toString()),
                  static_cast<long long>(o["voxels_changed"].toInteger()), o["seconds"].toDouble());
    }
    std::printf("label %d: %lld voxels, %.2f mL -> %s\n", label, static_cast<long long>(report["voxels"].toInteger()),
                report["volume_ml"].toDouble(), qPrintable(output));
  }
  return Ok;
}

// ---- panseg bench interactive ---------------------------------------------------------------

int benchInteractive(int argc, char** argv, const QStringList& args)
{
  Args a(args, { "skip-real", "skip-model" });
  if (!a.error.isEmpty() || !a.positionals.isEmpty())
  {
    printError(a.error.isEmpty() ? "usage: panseg bench interactive [--model DIR] [--click-model DIR] [--phantoms N] "
                                   "[--clicks N] [--skip-real] [--skip-model] [--device D]"
                                 : a.error);
    return Usage;
  }
  QCoreApplication app(argc, argv);
  bool ok = true;
  const int phantoms = a.intValue("phantoms", 2, &ok);
  const int clicks = a.intValue("clicks", 5, &ok);
  if (!ok || phantoms < 0 || phantoms > 20 || clicks < 0 || clicks > 20)
  {
    printError("--phantoms and --clicks must be whole numbers from 0 to 20");
    return Usage;
  }
  QString model = a.value("model");
  if (model.isEmpty() && !a.has("skip-model"))
    model = ui::WorkerClient::defaultModelDir();
  const bool useModel = !a.has("skip-model") && !model.isEmpty();
  const QString device = a.value("device", "cpu");
  // A click-conditioned package for the model-click rows: --click-model DIR, else the shipped
  // demo-clicks package beside the demo model.
  QString clickModel; // empty: none
  {
    QString dir = a.value("click-model");
    if (dir.isEmpty() && !a.has("skip-model") && !model.isEmpty())
      dir = QFileInfo(model).absolutePath() + "/demo-clicks";
    if (!dir.isEmpty() && QFileInfo::exists(dir + "/model.json"))
      clickModel = dir;
    else if (a.has("click-model"))
    {
      printError("--click-model " + dir + " is not a model package (no model.json)");
      return Usage;
    }
  }

  std::printf("machine: %s, %d logical cores; panseg %s\n", qPrintable(QSysInfo::currentCpuArchitecture()),
              QThread::idealThreadCount(), PANSEG_VERSION);
  {
    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) == 3)
      std::printf("load average at start: %.2f %.2f %.2f (timings are noisy when other work runs)\n", load[0],
                  load[1], load[2]);
  }
  std::printf("robot user: a box (the truth's bounding box) then up to %d clicks at the centre of the largest "
              "error component\n",
              clicks);
  std::printf("model: %s\n", useModel ? qPrintable(model + " (--fast, device " + device + ")")
                                        : "none (--skip-model or no demo model installed)");
  std::printf("click model: %s\n\n", !clickModel.isEmpty() ? qPrintable(clickModel + " (in a worker session, --fast)")
                                                : "none (--click-model DIR)");

  struct Case
  {
    QString name;
    QString imagePath;
    std::shared_ptr<Image> image;
    LabelMask truth;
    int truthLabel = 1;
  };
  std::vector<Case> cases;
  QTemporaryDir tmp;
  for (int k = 0; k < phantoms; ++k)
  {
    demo::PhantomOptions po;
    po.seed = static_cast<uint32_t>(1 + k); // the training phantoms are 1001..; seed 1 is the demo study
    po.generateMr = false;
    demo::Phantom ph = demo::generatePhantom(po);
    Case c;
    c.name = QString("phantom %1").arg(po.seed);
    c.imagePath = tmp.path() + QString("/phantom%1.nii.gz").arg(po.seed);
    writeImage(ph.ct, c.imagePath.toStdString());
    c.image = std::make_shared<Image>(std::move(ph.ct));
    c.truth = std::move(ph.pancreas);
    cases.push_back(std::move(c));
  }
  const QString shared = qEnvironmentVariable("PANSEG_SHARED_DIR", PANSEG_SHARED_DIR);
  const QString realCt = shared + "/data/totalsegmentator/ct_full/example_ct.nii.gz";
  const QString realSeg = shared + "/data/totalsegmentator/ct_full/example_seg_fast_force_split.nii.gz";
  if (!a.has("skip-real"))
  {
    if (QFileInfo::exists(realCt) && QFileInfo::exists(realSeg))
    {
      Case c;
      c.name = "real CT (TotalSeg.)";
      c.imagePath = realCt;
      c.image = std::make_shared<Image>(readImage(realCt.toStdString()));
      c.truth = readMaskFor(realSeg.toStdString(), c.image->geometry);
      c.truthLabel = 7;
      cases.push_back(std::move(c));
    }
    else
      std::printf("real CT skipped: %s absent\n", qPrintable(realCt));
  }

  std::printf("%-20s %-40s", "case", "method");
  for (int k = 0; k <= clicks; ++k)
    std::printf(" %6s", k == 0 ? "box" : qPrintable(QString("+%1").arg(k)));
  std::printf(" %6s %8s %10s\n", "AUC", "to 0.9", "median ms");
  auto row = [&](const QString& caseName, const QString& method, const std::vector<double>& dice,
                 const std::vector<double>& ms)
  {
    std::printf("%-20s %-40s", qPrintable(caseName), qPrintable(method));
    for (int k = 0; k <= clicks; ++k)
      std::printf(" %6s", k < int(dice.size()) ? qPrintable(fixed(dice[size_t(k)])) : "");
    const int reach = edit::interactionsToReach(dice, 0.9);
    std::vector<double> sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    std::printf(" %6s %8s %10s\n", qPrintable(fixed(edit::diceCurveArea(dice))),
                reach < 0 ? "never" : qPrintable(QString::number(reach)),
                sorted.empty() ? "" : qPrintable(fixed(sorted[sorted.size() / 2], 1)));
    std::fflush(stdout);
  };

  struct Latency
  {
    QString name;
    double wholeSeconds = -1, oneShotBoxSeconds = -1;
    SessionTiming session;
  };
  std::vector<Latency> latencies;
  std::vector<std::pair<QString, std::map<QString, std::vector<double>>>> clickLatencies;
  for (const Case& c : cases)
  {
    const int tl = c.truthLabel;
    Latency lat;
    lat.name = c.name;
    const edit::Box tb = edit::labelBoundingBox(c.truth, tl);
    // The user's box: the truth's bounding box grown by 2 voxels in-plane and 1 slice.
    const edit::Box box = edit::grownBox(tb, {2, 2, 1}, c.image->geometry.size);
    edit::GrowCutRobotOptions ro;
    ro.clicks = clicks;
    if (useModel)
    {
      const BoxRun whole = predictInBox(model, c.imagePath, nullptr, c.image->geometry, 0, device, true);
      if (!whole.ok)
        std::printf("%-20s automatic mask failed: %s\n", qPrintable(c.name), qPrintable(whole.error));
      else
      {
        const double d = edit::diceOf(whole.mask, 0, c.truth, tl);
        lat.wholeSeconds = whole.seconds;
        row(c.name, QString("no interaction (auto, %1 s)").arg(whole.seconds, 0, 'f', 1),
            std::vector<double>(size_t(clicks) + 1, d), {});
        const edit::RobotCurve auto_ = edit::runRefineRobot(c.image, whole.mask.binary(0), 1, box, c.truth, tl, ro);
        row(c.name, "auto mask + clicks", auto_.dice, auto_.updateMs);
      }
      const BoxRun boxed = predictInBox(model, c.imagePath, &box, c.image->geometry, 10.0, device, true);
      if (!boxed.ok)
        std::printf("%-20s box prompt failed: %s\n", qPrintable(c.name), qPrintable(boxed.error));
      else
      {
        const edit::RobotCurve curve =
          edit::runRefineRobot(c.image, boxed.mask.binary(0), 1, box, c.truth, tl, ro);
        std::vector<double> ms = curve.updateMs;
        ms[0] = boxed.seconds * 1000.0;
        lat.oneShotBoxSeconds = boxed.seconds;
        row(c.name, QString("model box (%1 s) + clicks").arg(boxed.seconds, 0, 'f', 1), curve.dice, ms);
      }
    }
    const edit::RobotCurve grow = edit::runGrowCutRobot(c.image, c.truth, tl, ro);
    row(c.name, "grow from seeds (box + strokes)", grow.dice, grow.updateMs);
    const edit::RobotCurve damaged =
      edit::runRefineRobot(c.image, damagedMask(c.truth, tl, box), 1, box, c.truth, tl, ro);
    row(c.name, "damaged mask + clicks", damaged.dice, damaged.updateMs);
    if (!clickModel.isEmpty())
    {
      // The click-conditioned model answers the clicks (docs/interactive.md).
      BenchSession session;
      QString error;
      if (!session.start(clickModel, c.imagePath, device))
        std::printf("%-20s click model session failed: %s\n", qPrintable(c.name), qPrintable(session.error()));
      else
      {
        const ClickModelCurve fromBox = runClickModelRobot(session, c.image->geometry, nullptr, box, c.truth, tl,
                                                            clicks, tmp.path(), &error);
        if (error.isEmpty())
          row(c.name, "click model: box + its clicks" + fromBox.note(), fromBox.curve.dice, fromBox.curve.updateMs);
        const LabelMask damagedStart = damagedMask(c.truth, tl, box);
        const ClickModelCurve fromDamaged = runClickModelRobot(session, c.image->geometry, &damagedStart, box,
                                                                c.truth, tl, clicks, tmp.path(), &error);
        if (error.isEmpty())
          row(c.name, "damaged + model clicks" + fromDamaged.note(), fromDamaged.curve.dice,
              fromDamaged.curve.updateMs);
        else
          std::printf("%-20s click model failed: %s\n", qPrintable(c.name), qPrintable(error));
        std::map<QString, std::vector<double>> phases = fromBox.phases;
        for (const auto& [phase, values] : fromDamaged.phases)
          phases[phase].insert(phases[phase].end(), values.begin(), values.end());
        if (!phases["total"].empty())
          clickLatencies.emplace_back(c.name, std::move(phases));
      }
    }
    if (useModel)
    {
      lat.session = timeSession(model, c.imagePath, box, device, 3);
      latencies.push_back(lat);
    }
  }
  if (!latencies.empty())
  {
    std::printf("\nbox prompt latency (model %s, worker-side seconds; one-shot = a new panseg-worker per box)\n",
                qPrintable(QFileInfo(model).fileName()));
    std::printf("%-20s %12s %14s %16s %18s\n", "case", "whole image", "box one-shot", "session ready", "box in session");
    for (const Latency& l : latencies)
    {
      if (!l.session.ok)
      {
        std::printf("%-20s session failed: %s\n", qPrintable(l.name), qPrintable(l.session.error));
        continue;
      }
      std::printf("%-20s %11.1fs %13.1fs %15.2fs %12.2fs (med of %d)\n", qPrintable(l.name), l.wholeSeconds,
                  l.oneShotBoxSeconds, l.session.readySeconds, benchMedian(l.session.boxSeconds),
                  int(l.session.boxSeconds.size()));
    }
  }
  if (!clickLatencies.empty())
  {
    std::printf("\nclick model latency (%s, worker seconds per click in a warm session, both click-model rows)\n",
                qPrintable(QFileInfo(clickModel).fileName()));
    std::printf("%-20s %6s %8s %8s %8s |%8s %10s %8s %8s %8s %8s  (median s) %7s\n", "case", "clicks", "median",
                "p95", "max", "read", "preprocess", "network", "export", "answer", "write", "passes");
    for (const auto& [name, phases] : clickLatencies)
    {
      const std::vector<double>& total = phases.at("total");
      std::printf("%-20s %6d %8.3f %8.3f %8.3f |", qPrintable(name), int(total.size()), benchMedian(total),
                  benchQuantile(total, 0.95), *std::max_element(total.begin(), total.end()));
      std::printf("%8.3f %10.3f %8.3f %8.3f %8.3f %8.3f %19.0f\n", benchMedian(phases.at("read")),
                  benchMedian(phases.at("preprocess")), benchMedian(phases.at("network")), benchMedian(phases.at("export")),
                  benchMedian(phases.at("answer")), benchMedian(phases.at("write")), benchMedian(phases.at("passes")));
    }
  }
  std::printf("\ndamaged mask: the truth without its tail (patient-left 30 %% of its L-R extent) and with a false "
              "6 mm ball where the box is farthest from the truth; column 'box' = that mask\n");
  std::printf("Dice after the box (column 'box') and after each click; AUC: mean of the trapezoids over the "
              "interactions; 'to 0.9': interactions (0 = the box) until Dice >= 0.9; median ms: per update "
              "(model rows: the box's worker time end to end incl. start and reading, clicks: grow from seeds; "
              "click-model rows: worker seconds per request in a warm session; '(k grown)': k clicks whose model "
              "answer changed nothing there, refined by grow from seeds instead)\n");
  return Ok;
}

} // namespace panseg::cli
