// `panseg bench edit`: brush stamps, undo/redo, fill between slices, morphology and slice
// rendering on a generated 512x512x300 CT, with baselines measured in the same process (a full
// mask copy = what a copy-based undo would pay per step; rendering without the overlay).
#include "EditBench.h"

#include "BenchSummary.h"
#include "Cli.h"

#include "ui/ViewerModel.h"

#include "core/edit/LabelEditor.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QSysInfo>
#include <QThread>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

namespace panseg::cli
{
namespace
{

double timeMs(const std::function<void()>& fn)
{
  QElapsedTimer timer;
  timer.start();
  fn();
  return static_cast<double>(timer.nsecsElapsed()) / 1e6;
}

/// CT-like volume: air, an elliptic body (fat rim, soft tissue), a pancreas-like ellipsoid at
/// 100 HU, a vertebra at 700 HU, deterministic noise; the mask holds the pancreas as label 1.
void generateCt(Image& image, LabelMask& mask)
{
  Geometry g;
  g.size = {512, 512, 300};
  g.spacingMm = {0.7, 0.7, 1.0};
  image = Image(g, -1000.0f);
  image.info.modality = "CT";
  mask = LabelMask(g, 0);
  uint32_t rng = 12345u;
  for (int64_t z = 0; z < g.size[2]; ++z)
    for (int64_t y = 0; y < g.size[1]; ++y)
      for (int64_t x = 0; x < g.size[0]; ++x)
      {
        const double bx = (x - 256.0) / 230.0, by = (y - 256.0) / 170.0;
        const double body = bx * bx + by * by;
        float v = -1000.0f;
        if (body < 1.0)
          v = body > 0.8 ? -100.0f : 40.0f;
        const double px = (x - 280.0) / 60.0, py = (y - 230.0) / 22.0, pz = (z - 150.0) / 40.0;
        const bool pancreas = px * px + py * py + pz * pz < 1.0;
        if (pancreas)
          v = 100.0f;
        const double vx = (x - 256.0) / 25.0, vy = (y - 350.0) / 25.0;
        if (vx * vx + vy * vy < 1.0)
          v = 700.0f;
        rng = rng * 1664525u + 1013904223u;
        const float noise = static_cast<float>((rng >> 24) % 41) - 20.0f;
        const size_t o = image.offset(x, y, z);
        image.voxels[o] = v + (body < 1.0 ? noise : 0.0f);
        mask.voxels[o] = pancreas ? 1 : 0;
      }
}
} // namespace

int benchEdit(const QStringList& args)
{
  Args a(args, {});
  if (!a.error.isEmpty() || !a.positionals.isEmpty())
  {
    printError(a.error.isEmpty() ? "usage: panseg bench edit [--reps N]" : a.error);
    return Usage;
  }
  bool ok = true;
  const int reps = a.intValue("reps", 50, &ok);
  if (!ok || reps < 5)
  {
    printError("--reps must be a whole number >= 5");
    return Usage;
  }
  std::printf("machine: %s, %d logical cores; panseg %s, Qt %s\n",
              qPrintable(QSysInfo::currentCpuArchitecture()), QThread::idealThreadCount(),
              PANSEG_VERSION, qVersion());

  auto image = std::make_shared<Image>();
  LabelMask mask;
  const double genMs = timeMs([&] { generateCt(*image, mask); });
  const size_t maskBytes = mask.voxels.size();
  std::printf("volume: 512x512x300, spacing 0.7x0.7x1.0 mm, generated in %.0f ms; mask %.1f MB; %d "
              "reps\n\n",
              genMs, static_cast<double>(maskBytes) / 1e6, reps);

  using namespace panseg::edit;
  edit::LabelEditor editor(image, mask);
  editor.setUndoLimit(50);

  // Baseline: one full copy of the mask, what an undo step costs when stored as a copy.
  // Copied into a buffer allocated (and touched) beforehand: the pure copy, favouring the baseline.
  std::vector<double> copyTimes;
  std::vector<uint8_t> copy(maskBytes, 1);
  for (int i = 0; i < 5; ++i)
    copyTimes.push_back(timeMs(
        [&]
        { std::copy(editor.mask().voxels.begin(), editor.mask().voxels.end(), copy.begin()); }));
  if (copy != editor.mask().voxels)
    std::abort();
  copy = std::vector<uint8_t>();
  const double copyMs = benchMedian(copyTimes);

  std::printf("%-52s %12s %16s %10s\n", "operation", "median ms", "baseline ms", "ratio");
  auto row = [](const char* name, double ms, double baseMs, const char* baseName)
  {
    std::printf("%-52s %12.4f %16.3f %10.4f   (baseline: %s)\n", name, ms, baseMs, ms / baseMs,
                baseName);
  };

  // Brush stamps, each its own undo step (delta built and stored), alternating paint / erase
  // over the pancreas so that every stamp changes voxels.
  // Each series paints its own label, so every stamp changes voxels (the count is printed).
  auto stampSeries = [&](double radiusMm, int label, int count, std::vector<double>& times)
  {
    Brush b;
    b.radiusMm = radiusMm;
    b.is3D = true;
    int64_t changed = 0;
    for (int i = 0; i < count; ++i)
    {
      PaintSettings p;
      p.label = label;
      const Index3 c{230 + (i * 13) % 100, 215 + (i * 7) % 30, 120 + (i * 5) % 60};
      times.push_back(timeMs([&] { changed += editor.stamp(c, b, p, i % 4 == 3).voxelsChanged; }));
    }
    return changed / count;
  };
  std::vector<double> stamp10;
  const int64_t changed10 = stampSeries(10.0, 2, reps, stamp10);
  std::vector<double> stamp5;
  const int64_t changed5 = stampSeries(5.0, 3, reps, stamp5);
  row("brush stamp, 3D sphere diameter 10 mm (r 5 mm)", benchMedian(stamp5), copyMs, "full mask copy");
  std::printf("  (%lld voxels changed per stamp on average)\n", static_cast<long long>(changed5));
  row("brush stamp, 3D sphere radius 10 mm", benchMedian(stamp10), copyMs, "full mask copy");
  std::printf("  (%lld voxels changed per stamp on average)\n", static_cast<long long>(changed10));

  // Undo memory of the last 50 steps (the 5 mm stamps when reps >= 50) against as many full copies.
  const size_t undoBytes = editor.undoMemoryBytes();
  const size_t undoSteps = editor.undoCount();
  std::vector<double> undoTimes, redoTimes;
  const size_t steps = editor.undoCount();
  for (size_t i = 0; i < steps; ++i)
    undoTimes.push_back(timeMs([&] { editor.undo(); }));
  for (size_t i = 0; i < steps; ++i)
    redoTimes.push_back(timeMs([&] { editor.redo(); }));
  row("undo (one stamp step)", benchMedian(undoTimes), copyMs, "full mask copy");
  row("redo (one stamp step)", benchMedian(redoTimes), copyMs, "full mask copy");

  // Fill between slices: label 4 drawn as disks on slices 130 and 151 (20 empty slices between).
  {
    Brush disk;
    disk.is3D = false;
    disk.planeAxis = 2;
    PaintSettings p;
    p.label = 4;
    p.overwrite = Overwrite::BackgroundOnly;
    disk.radiusMm = 15.0;
    editor.stamp({150, 300, 130}, disk, p);
    disk.radiusMm = 30.0;
    editor.stamp({170, 310, 151}, disk, p);
  }
  std::vector<double> interpTimes, countTimes;
  size_t proposed = 0;
  for (int i = 0; i < 5; ++i)
  {
    interpTimes.push_back(timeMs(
        [&]
        {
          const InterpolationProposal prop = editor.interpolateSlices(4, 2);
          proposed = prop.offsets.size();
          editor.applyProposal(prop);
        }));
    editor.undo();
    countTimes.push_back(timeMs(
        [&]
        {
          if (editor.mask().countLabel(4) < 0)
            std::abort();
        }));
  }
  row("fill between slices, 20 slices (propose + accept)", benchMedian(interpTimes), benchMedian(countTimes),
      "one pass counting the label");
  std::printf("  (proposal: %zu voxels)\n", proposed);

  // Morphology on the pancreas (label 1, ~ 100x44x80 voxels).
  std::vector<double> closeTimes, islandTimes;
  for (int i = 0; i < 5; ++i)
  {
    closeTimes.push_back(timeMs([&] { editor.closing(1, 2.0); }));
    editor.undo();
    islandTimes.push_back(timeMs([&] { editor.removeIslands(1, 0.5); }));
    editor.undo();
  }
  row("closing 2 mm on the pancreas", benchMedian(closeTimes), copyMs, "full mask copy");
  row("remove islands < 0.5 mL on the pancreas", benchMedian(islandTimes), copyMs, "full mask copy");

  // Slice rendering with the overlay (what a view does per stamp) against no overlay.
  ui::ViewerModel viewer;
  {
    Image img = *image;
    viewer.setImage(std::move(img));
  }
  viewer.setMask(editor.mask());
  viewer.setCursor({280, 230, 150});
  std::vector<double> withOverlay, withoutOverlay;
  for (int i = 0; i < reps; ++i)
  {
    viewer.setOverlayVisible(true);
    withOverlay.push_back(timeMs([&] { (void)viewer.renderSlice(SliceOrientation::Axial); }));
    viewer.setOverlayVisible(false);
    withoutOverlay.push_back(timeMs([&] { (void)viewer.renderSlice(SliceOrientation::Axial); }));
  }
  row("axial slice render 512x512 with overlay", benchMedian(withOverlay), benchMedian(withoutOverlay),
      "no overlay");

  std::printf(
      "\nundo memory, %zu steps (brush stamps): %zu bytes (%.1f KB); %zu full copies: %zu bytes "
      "(%.1f MB); ratio %.5f (%.0fx smaller)\n",
      undoSteps, undoBytes, static_cast<double>(undoBytes) / 1e3, undoSteps, undoSteps * maskBytes,
      static_cast<double>(undoSteps * maskBytes) / 1e6,
      static_cast<double>(undoBytes) / static_cast<double>(undoSteps * maskBytes),
      static_cast<double>(undoSteps * maskBytes) /
          static_cast<double>(std::max<size_t>(1, undoBytes)));
  return Ok;
}
} // namespace panseg::cli
