// `panseg bench ...`: speed figures as medians, each with a baseline measured in the same run.
#include "Cli.h"
#include "DbCommands.h"

#include "ui/MainWindow.h"

#include "core/Error.h"
#include "core/io/ImageIO.h"
#include "core/metrics/Agreement.h"
#include "core/metrics/Staple.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QSysInfo>
#include <QDir>
#include <QThread>
#include <QWindow>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <fstream>
#include <vector>

#include <zlib.h>

namespace panseg::cli
{
namespace
{
double medianMs(int reps, const std::function<void()>& fn)
{
  std::vector<double> t;
  for (int i = 0; i < reps; ++i)
  {
    QElapsedTimer timer;
    timer.start();
    fn();
    t.push_back(timer.nsecsElapsed() / 1e6);
  }
  std::sort(t.begin(), t.end());
  return t.size() % 2 ? t[t.size() / 2] : 0.5 * (t[t.size() / 2 - 1] + t[t.size() / 2]);
}

QString cpuModel()
{
  QFile f("/proc/cpuinfo");
  if (f.open(QIODevice::ReadOnly))
    for (const QByteArray& line : f.readAll().split('\n'))
      if (line.startsWith("model name"))
        return QString::fromLatin1(line.mid(line.indexOf(':') + 1)).trimmed();
  return QSysInfo::currentCpuArchitecture();
}

void printMachine()
{
  std::printf("machine: %s, %d logical cores, %s\n", qPrintable(cpuModel()), QThread::idealThreadCount(),
              qPrintable(QSysInfo::prettyProductName()));
  std::printf("panseg %s, Qt %s\n", PANSEG_VERSION, qVersion());
}

/// Baseline for file loading: just reading (and gunzipping) the bytes, no parsing or conversion.
size_t readAllBytes(const QString& path)
{
  size_t total = 0;
  std::vector<char> buf(1 << 20);
  auto one = [&](const QString& f) {
    if (f.endsWith(".gz"))
    {
      gzFile gz = gzopen(f.toLocal8Bit().constData(), "rb");
      int n;
      while (gz && (n = gzread(gz, buf.data(), unsigned(buf.size()))) > 0)
        total += size_t(n);
      if (gz)
        gzclose(gz);
    }
    else
    {
      std::ifstream in(f.toStdString(), std::ios::binary);
      while (in.read(buf.data(), std::streamsize(buf.size())) || in.gcount() > 0)
        total += size_t(in.gcount());
    }
  };
  QFileInfo fi(path);
  if (fi.isDir())
    for (const QFileInfo& e : QDir(path).entryInfoList(QDir::Files))
      one(e.filePath());
  else
    one(path);
  return total;
}

int benchIo(int argc, char** argv, const Args& a)
{
  const int reps = std::max(1, a.intValue("reps", 5));
  const QString shared = qEnvironmentVariable("PANSEG_SHARED_DIR", PANSEG_SHARED_DIR);
  printMachine();
  std::printf("repetitions: %d (medians)\n\n", reps);

  struct Case
  {
    QString name, path;
  };
  const std::vector<Case> cases = {
    { "TotalSegmentator DICOM series (20 x 512x512, JPEG 2000)", shared + "/data/totalsegmentator/ct_dicom/example_ct_dicom" },
    { "TotalSegmentator CT NIfTI (122x101x112, gzip)", shared + "/data/totalsegmentator/ct_full/example_ct.nii.gz" },
  };
  Image rendered;
  LabelMask renderedMask;
  bool haveRenderData = false;
  std::printf("%-58s %12s %14s %8s\n", "load", "median ms", "bytes-only ms", "ratio");
  for (const Case& c : cases)
  {
    if (!QFileInfo::exists(c.path))
    {
      std::printf("%-58s skipped: %s absent\n", qPrintable(c.name), qPrintable(c.path));
      continue;
    }
    Image img;
    const double load = medianMs(reps, [&] { img = readImage(c.path.toStdString()); });
    const double raw = medianMs(reps, [&] { readAllBytes(c.path); });
    std::printf("%-58s %12.1f %14.1f %7.1fx\n", qPrintable(c.name), load, raw, raw > 0 ? load / raw : 0.0);
    if (!haveRenderData && c.path.endsWith(".nii.gz"))
    {
      rendered = img;
      const QString seg = shared + "/data/totalsegmentator/ct_full/example_seg_fast_force_split.nii.gz";
      renderedMask = QFileInfo::exists(seg) ? readMaskFor(seg.toStdString(), img.geometry).binary(7)
                                            : LabelMask(img.geometry, 0);
      haveRenderData = true;
    }
  }
  if (!haveRenderData)
  {
    std::printf("\nslice rendering skipped: no CT available\n");
    return Ok;
  }

  ui::MainWindow::configurePlatform();
  QApplication app(argc, argv);
  ui::MainWindow w;
  w.resize(1400, 1000);
  w.setImage(rendered);
  w.setMask(renderedMask);
  w.show();
  QElapsedTimer t;
  t.start();
  while (!(w.windowHandle() && w.windowHandle()->isExposed()) && t.elapsed() < 10000)
    QApplication::processEvents(QEventLoop::AllEvents, 50);
  using VK = ui::MainWindow::ViewKind;
  int slice = 0;
  const int nz = int(rendered.geometry.size[2]);
  auto renderOnce = [&] {
    w.setSliceIndex(VK::Axial, slice++ % nz);
    const QImage img = w.grabView(VK::Axial);
    if (img.isNull())
      throw Error("slice view produced no image");
  };
  const int renderReps = std::max(reps, 21);
  const double withOverlay = medianMs(renderReps, renderOnce);
  w.setMask(LabelMask(rendered.geometry, 0));
  const double without = medianMs(renderReps, renderOnce);
  std::printf("\n%-58s %12s %14s %8s\n", "render (offscreen grab of the axial view)", "median ms", "no-overlay ms",
              "ratio");
  std::printf("%-58s %12.2f %14.2f %7.2fx\n", "axial slice with pancreas overlay", withOverlay, without,
              without > 0 ? withOverlay / without : 0.0);
  return Ok;
}

/// Two pancreas-sized, partly overlapping lobulated blobs on a 512x512x300 CT grid.
std::pair<LabelMask, LabelMask> benchMaskPair()
{
  Geometry g;
  g.size = { 512, 512, 300 };
  g.spacingMm = { 0.78, 0.78, 1.0 };
  LabelMask a(g, 0), b(g, 0);
  for (int64_t z = 0; z < g.size[2]; ++z)
    for (int64_t y = 0; y < g.size[1]; ++y)
      for (int64_t x = 0; x < g.size[0]; ++x)
      {
        const double px = (x - 256) * 0.78, py = (y - 240) * 0.78, pz = (z - 150) * 1.0;
        // a curved tube: centre line bends with x, radius varies
        const double cy = 12.0 * std::sin(px / 40.0), cz = 0.004 * px * px;
        const double r = 13.0 - 0.03 * px;
        const double d = std::hypot(py - cy, pz - cz);
        if (std::abs(px) < 80 && d < r)
          a.at(x, y, z) = 1;
        const double d2 = std::hypot(py - cy - 2.0, pz - cz + 1.5);
        if (px > -76 && px < 84 && d2 < r * 0.95)
          b.at(x, y, z) = 1;
      }
  return { std::move(a), std::move(b) };
}

int benchAgreement(const Args& a)
{
  const int reps = std::max(1, a.intValue("reps", 3));
  printMachine();
  const auto [ma, mb] = benchMaskPair();
  std::printf("pair: 512x512x300 voxels, 0.78x0.78x1.0 mm; %.1f mL vs %.1f mL; %d repetitions (medians)\n\n",
              ma.volumeMl(1), mb.volumeMl(1), reps);
  AgreementResult cropped, whole;
  AgreementOptions crop;
  crop.cropToUnion = true;
  AgreementOptions plain;
  plain.cropToUnion = false;
  const double tCrop = medianMs(reps, [&] { cropped = computeAgreement(ma, 1, mb, 1, crop); });
  const double tWhole = medianMs(reps, [&] { whole = computeAgreement(ma, 1, mb, 1, plain); });
  std::printf("%-48s %12s\n", "all metrics (Dice..HD95, ASSD, kappa, volumes)", "median ms");
  std::printf("%-48s %12.1f\n", "cropped to the union's bounding box", tCrop);
  std::printf("%-48s %12.1f\n", "baseline: whole volume, no cropping", tWhole);
  const double maxDiff = std::max({ std::abs(cropped.dice - whole.dice), std::abs(cropped.hd95Mm - whole.hd95Mm),
                                     std::abs(cropped.hdMm - whole.hdMm), std::abs(cropped.assdMm - whole.assdMm) });
  std::printf("speed-up: %.1fx; largest difference between the two paths: %.2e (dice %.4f, hd95 %.3f mm, assd %.3f mm)\n",
              tWhole / tCrop, maxDiff, cropped.dice, cropped.hd95Mm, cropped.assdMm);

  // Consensus of three readers (the pair plus the first mask shifted by 3 voxels in y).
  LabelMask mc(ma.geometry, 0);
  for (int64_t z = 0; z < ma.nz(); ++z)
    for (int64_t y = 3; y < ma.ny(); ++y)
      for (int64_t x = 0; x < ma.nx(); ++x)
        mc.at(x, y, z) = ma.at(x, y - 3, z);
  const std::vector<const LabelMask*> readers{ &ma, &mb, &mc };
  LabelMask vote;
  const double tVote = medianMs(reps, [&] {
    vote = LabelMask(ma.geometry, 0); // as ReaderStudy::buildConsensus: strictly more than half
    for (size_t i = 0; i < vote.voxels.size(); ++i)
      vote.voxels[i] = 2 * ((ma.voxels[i] != 0) + (mb.voxels[i] != 0) + (mc.voxels[i] != 0)) > 3 ? 1 : 0;
  });
  StapleResult boxed, grid;
  StapleOptions wholeGrid;
  wholeGrid.region = StapleRegion::WholeGrid;
  const double tStaple = medianMs(reps, [&] { boxed = staple(readers, {}); });
  const double tStapleGrid = medianMs(reps, [&] { grid = staple(readers, wholeGrid); });
  std::printf("\n%-48s %12s\n", "consensus of 3 readers on the same grid", "median ms");
  std::printf("%-48s %12.1f\n", "baseline: majority vote", tVote);
  std::printf("%-48s %12.1f\n", "STAPLE, union bounding box + 5 voxels (default)", tStaple);
  std::printf("%-48s %12.1f\n", "STAPLE, whole grid", tStapleGrid);
  std::printf("STAPLE / majority vote: %.1fx (whole grid %.1fx); %d iterations; consensus %.1f mL"
              " (vote %.1f mL); region %lld voxels\n",
              tStaple / tVote, tStapleGrid / tVote, boxed.iterations, boxed.consensus.volumeMl(1),
              vote.volumeMl(1), (long long)boxed.regionVoxels);
  for (size_t j = 0; j < 3; ++j)
    std::printf("  reader %zu: sensitivity %.4f specificity %.4f (whole grid: %.4f %.6f)\n", j + 1,
                boxed.sensitivity[j], boxed.specificity[j], grid.sensitivity[j], grid.specificity[j]);
  return Ok;
}

} // namespace

int bench(int argc, char** argv, const QStringList& args)
{
  Args a(args, {});
  const QString what = a.positionals.value(0);
  if (!a.error.isEmpty() || what.isEmpty())
  {
    printError(a.error.isEmpty() ? "usage: panseg bench io|agreement|db [--reps N]" : a.error);
    return Usage;
  }
  if (what == "io")
  {
    if (needsVirtualDisplay())
      return rerunUnderXvfb(argv, QStringList{ "bench" } + args);
    return benchIo(argc, argv, a);
  }
  if (what == "agreement")
    return benchAgreement(a);
  if (what == "db")
    return benchDb(args.mid(1));
  printError("unknown benchmark '" + what + "' (available: io, agreement, db)");
  return Usage;
}
} // namespace panseg::cli
