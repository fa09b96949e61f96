#pragma once
// Shared by the jobs tests: run the real `panseg`, and build a study database of generated phantoms
// whose masks are imported as approved.
#include "core/demo/PhantomGenerator.h"
#include "core/io/ImageIO.h"
#include "../ProcessRun.h"

#include <QDir>
#include <QProcess>
#include <QString>
#include <QStringList>

#include <string>

namespace jobs_test
{
using testproc::Run;
using testproc::show;

inline Run runPanseg(const QStringList& args, int timeoutMs = 240000)
{
  return testproc::run(PANSEG_EXE, args, timeoutMs);
}

/// Small CT phantoms (the demo study's field of view at a coarser grid, so that tests stay fast):
/// DIR/ctNN.nii.gz + DIR/ctNN_seg.nii.gz for seeds first..first+count-1.
inline void writePhantoms(const QString& dir, int first, int count)
{
  QDir().mkpath(dir);
  for (int i = 0; i < count; ++i)
  {
    panseg::demo::PhantomOptions o;
    o.seed = static_cast<uint32_t>(first + i);
    o.size = {128, 107, 48};
    o.spacingMm = {2.4, 2.4, 4.0};
    o.generateMr = false;
    const panseg::demo::Phantom ph = panseg::demo::generatePhantom(o);
    const std::string base = (dir + "/ct" + QString::number(first + i)).toStdString();
    panseg::writeImage(ph.ct, base + ".nii.gz");
    panseg::writeMask(ph.pancreas, base + "_seg.nii.gz");
  }
}
} // namespace jobs_test
