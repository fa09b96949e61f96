// Headless subcommands: info, volume, demo, agreement. No QApplication is created here.
#include "Cli.h"
#include "DbCommands.h"

#include "core/AtomicFile.h"
#include "core/Error.h"
#include "core/demo/PhantomGenerator.h"
#include "core/metrics/Agreement.h"
#include "core/metrics/ShapeStats.h"
#include "core/io/ImageIO.h"

#include <QDir>
#include <QElapsedTimer>
#include <QStandardPaths>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace panseg::cli
{
Args::Args(const QStringList& args, const QStringList& flagNames)
{
  for (int i = 0; i < args.size(); ++i)
  {
    const QString& a = args[i];
    if (a.startsWith("--"))
    {
      QString key = a.mid(2), val;
      const int eq = key.indexOf('=');
      if (eq >= 0)
      {
        val = key.mid(eq + 1);
        key = key.left(eq);
      }
      else if (!flagNames.contains(key))
      {
        if (i + 1 >= args.size())
        {
          error = "option --" + key + " needs a value";
          continue;
        }
        val = args[++i];
      }
      m_values[key] = val;
    }
    else
      positionals << a;
  }
}

std::string actingUserOption(const Args& a)
{
  if (a.has("user") && a.value("user").trimmed().isEmpty())
    throw Error("--user needs a user name");
  return a.value("user").trimmed().toStdString();
}

int Args::intValue(const QString& name, int fallback, bool* ok) const
{
  if (!has(name))
  {
    if (ok)
      *ok = true;
    return fallback;
  }
  bool good = false;
  const int v = value(name).toInt(&good);
  if (ok)
    *ok = good;
  return good ? v : fallback;
}

void printError(const QString& message)
{
  QString m = message.simplified();
  std::fprintf(stderr, "panseg: error: %s\n", qPrintable(m));
}

QString usage()
{
  return QStringLiteral(
    "PanSeg Workstation %1 — pancreas segmentation on CT and MRI\n"
    "\n"
    "Usage:\n"
    "  panseg [IMAGE [MASK]]            open the workstation (optionally on an image and its mask)\n"
    "  panseg info PATH [--json]        geometry, modality, intensity range of an image or DICOM folder\n"
    "  panseg volume MASK [--label N] [--json]\n"
    "                                   voxel count and volume in mL (label 0 = any non-zero label)\n"
    "%3"
    "  panseg agreement A B [--label-a N] [--label-b N] [--json]\n"
    "                                   Dice, Jaccard, precision, recall, HD95, HD, ASSD, kappa, volumes\n"
    "  panseg screenshot IMAGE [--mask MASK] [--label N] --out FILE.png\n"
    "                    [--view axial|coronal|sagittal|3d|all] [--slice K]\n"
    "                                   render the workstation's views to a PNG (Xvfb when no display)\n"
    "  panseg demo [--out DIR] [--seed N]\n"
    "                                   generate a synthetic abdominal demo study (CT, MR, masks)\n"
    "  panseg bench io|agreement|db [--reps N]\n"
    "                                   benchmarks: medians with a same-run baseline\n"
    "  panseg --version | --help\n"
    "\n"
    "%2"
    "\n"
    "Exit status: 0 success, 1 failure (one-line error on stderr), 2 usage error.\n")
    .arg(PANSEG_VERSION, dbUsage(), measureUsage());
}

namespace
{
QJsonArray arr3(const std::array<double, 3>& v)
{
  return { v[0], v[1], v[2] };
}

bool checkArgs(const Args& a, int minPos, int maxPos, const QString& synopsis)
{
  if (!a.error.isEmpty())
  {
    printError(a.error);
    return false;
  }
  if (a.positionals.size() < minPos || a.positionals.size() > maxPos)
  {
    printError("usage: " + synopsis);
    return false;
  }
  return true;
}
} // namespace

bool checkOptions(const QStringList& args, const Args& a, const QStringList& allowed, int minPos, int maxPos,
                  const QString& synopsis)
{
  for (const QString& arg : args)
    if (arg.startsWith("--") && !allowed.contains(arg.mid(2).section('=', 0, 0)))
    {
      printError("unknown option " + arg.section('=', 0, 0) + "; usage: " + synopsis);
      return false;
    }
  if (!a.error.isEmpty())
  {
    printError(a.error + "; usage: " + synopsis);
    return false;
  }
  if (a.positionals.size() < minPos || a.positionals.size() > maxPos)
  {
    printError(a.positionals.size() > maxPos && maxPos == 0
                 ? "unexpected argument '" + a.positionals.first() + "'; usage: " + synopsis
                 : "usage: " + synopsis);
    return false;
  }
  return true;
}

std::optional<int> labelOption(const Args& a, int fallback, int minimum, const char* meaning)
{
  bool ok = true;
  const int label = a.intValue("label", fallback, &ok);
  if (ok && label >= minimum && label <= 255)
    return label;
  printError(QString("--label must be a whole number from %1 to 255%2, not '%3'")
               .arg(minimum)
               .arg(meaning ? QString(" (%1)").arg(meaning) : QString())
               .arg(a.value("label")));
  return std::nullopt;
}

bool anyLabelOption(const Args& a, int* label)
{
  const auto l = labelOption(a, 0, 0, "0 = any non-zero label");
  *label = l.value_or(0);
  return l.has_value();
}

int info(const QStringList& args)
{
  Args a(args, { "json" });
  if (!checkArgs(a, 1, 1, "panseg info PATH [--json]"))
    return Usage;
  ReadOptions read;
  read.allowUnknownSpacing = true; // shown, marked unknown; volume/import refuse such images
  const Image img = readImage(a.positionals[0].toStdString(), {}, read);
  const auto [mn, mx] = std::minmax_element(img.voxels.begin(), img.voxels.end());
  const Geometry& g = img.geometry;
  if (a.has("json"))
  {
    QJsonObject o;
    o["path"] = a.positionals[0];
    o["format"] = QString::fromStdString(img.info.format);
    o["size"] = QJsonArray{ qint64(g.size[0]), qint64(g.size[1]), qint64(g.size[2]) };
    o["spacing_mm"] = arr3(g.spacingMm);
    o["spacing_known"] = img.info.spacingKnown;
    QJsonArray warnings;
    for (const auto& w : img.info.warnings)
      warnings.append(QString::fromStdString(w));
    if (!warnings.isEmpty())
      o["warnings"] = warnings;
    o["origin_mm"] = arr3(g.originMm);
    QJsonArray dir;
    for (double d : g.direction)
      dir.append(d);
    o["direction"] = dir;
    o["orientation"] = QString::fromStdString(g.orientationCode());
    o["modality"] = img.info.modality.empty() ? QJsonValue() : QJsonValue(QString::fromStdString(img.info.modality));
    o["min"] = double(*mn);
    o["max"] = double(*mx);
    o["dicom_files"] = img.info.dicomFileCount;
    o["pixel_type"] = QString::fromStdString(img.info.pixelType);
    QJsonObject tags;
    for (const auto& [k, v] : img.info.tags)
      tags[QString::fromStdString(k)] = QString::fromStdString(v);
    if (!tags.isEmpty())
      o["dicom_tags"] = tags;
    std::printf("%s", QJsonDocument(o).toJson(QJsonDocument::Indented).constData());
    return Ok;
  }
  std::printf("path:        %s\n", qPrintable(a.positionals[0]));
  std::printf("format:      %s%s\n", img.info.format.c_str(),
              img.info.pixelType.empty() ? "" : (" (" + img.info.pixelType + ")").c_str());
  std::printf("size:        %lld x %lld x %lld voxels\n", (long long)g.size[0], (long long)g.size[1], (long long)g.size[2]);
  if (img.info.spacingKnown)
    std::printf("spacing:     %.4f x %.4f x %.4f mm\n", g.spacingMm[0], g.spacingMm[1], g.spacingMm[2]);
  else
    std::printf("spacing:     unknown (%s), shown as %.4f x %.4f x %.4f mm\n", img.info.spacingNote.c_str(),
                g.spacingMm[0], g.spacingMm[1], g.spacingMm[2]);
  std::printf("origin:      (%.3f, %.3f, %.3f) mm LPS\n", g.originMm[0], g.originMm[1], g.originMm[2]);
  std::printf("direction:   [%.4f %.4f %.4f; %.4f %.4f %.4f; %.4f %.4f %.4f] (%s)\n", g.direction[0], g.direction[1],
              g.direction[2], g.direction[3], g.direction[4], g.direction[5], g.direction[6], g.direction[7],
              g.direction[8], g.orientationCode().c_str());
  std::printf("modality:    %s\n", img.info.modality.empty() ? "unknown" : img.info.modality.c_str());
  std::printf("intensity:   %g .. %g\n", double(*mn), double(*mx));
  if (img.info.dicomFileCount > 0)
    std::printf("dicom files: %d\n", img.info.dicomFileCount);
  for (const auto& w : img.info.warnings)
    std::printf("warning:     %s\n", w.c_str());
  for (const auto& [k, v] : img.info.tags)
    if (k != "SeriesKey")
      std::printf("  %-22s %s\n", k.c_str(), v.c_str());
  return Ok;
}

int volume(const QStringList& args)
{
  Args a(args, { "json" });
  if (!checkArgs(a, 1, 1, "panseg volume MASK [--label N] [--json]"))
    return Usage;
  int label = 0;
  if (!anyLabelOption(a, &label))
    return Usage;
  const LabelMask m = readMask(a.positionals[0].toStdString());
  const int64_t n = m.countLabel(label);
  const double ml = m.volumeMl(label);
  if (a.has("json"))
  {
    QJsonObject o;
    o["path"] = a.positionals[0];
    o["label"] = label;
    o["voxels"] = qint64(n);
    o["voxel_volume_mm3"] = m.geometry.voxelVolumeMm3();
    o["volume_ml"] = ml;
    QJsonArray present;
    for (int l : m.labels())
      present.append(l);
    o["labels_present"] = present;
    std::printf("%s", QJsonDocument(o).toJson(QJsonDocument::Indented).constData());
  }
  else
  {
    std::printf("label %d: %lld voxels, %.2f mL (voxel %.4f mm3)\n", label, (long long)n, ml,
                m.geometry.voxelVolumeMm3());
  }
  if (n == 0 && label != 0)
  {
    // Not an error for the arithmetic, but almost always a wrong --label: say so on stderr.
    QStringList present;
    for (int l : m.labels())
      present << QString::number(l);
    std::fprintf(stderr, "panseg: note: label %d is absent; labels present: %s\n", label,
                 present.isEmpty() ? "none" : qPrintable(present.join(' ')));
  }
  return Ok;
}
int demo(const QStringList& args)
{
  Args a(args, {});
  if (!checkArgs(a, 0, 0, "panseg demo [--out DIR] [--seed N]"))
    return Usage;
  bool ok = true;
  const int seed = a.intValue("seed", 1, &ok);
  if (!ok || seed < 0)
  {
    printError("--seed must be a non-negative whole number");
    return Usage;
  }
  QString out = a.value("out");
  if (out.isEmpty())
    out = QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + "/demo";
  if (!QDir().mkpath(out))
  {
    printError("cannot create folder " + out);
    return Failed;
  }
  QElapsedTimer timer;
  timer.start();
  demo::PhantomOptions opt;
  opt.seed = static_cast<uint32_t>(seed);
  const demo::Phantom ph = demo::generatePhantom(opt);
  const std::string dir = QDir(out).absolutePath().toStdString() + "/";
  writeImage(ph.ct, dir + "ct.nii.gz");
  writeMask(ph.pancreas, dir + "ct_pancreas.nii.gz");
  writeImage(ph.mrT1, dir + "mr_t1.nii.gz");
  writeImage(ph.mrT2, dir + "mr_t2.nii.gz");
  writeMask(ph.pancreas, dir + "mr_pancreas.nii.gz");
  writeMask(ph.organs, dir + "organs.nii.gz");
  writeFileAtomically(dir + "README.txt", demo::phantomReadme(ph));
  std::printf("%s\n", ph.description.c_str());
  std::printf("wrote %s: ct.nii.gz, ct_pancreas.nii.gz, mr_t1.nii.gz, mr_t2.nii.gz, mr_pancreas.nii.gz, "
              "organs.nii.gz, README.txt (%.1f s)\n",
              qPrintable(QDir(out).absolutePath()), timer.elapsed() / 1000.0);
  std::printf("pancreas: %.2f mL (ground truth)\n", ph.pancreasVolumeMl);
  return Ok;
}

int agreement(const QStringList& args)
{
  Args a(args, { "json" });
  if (!checkArgs(a, 2, 2, "panseg agreement A B [--label-a N] [--label-b N] [--json]"))
    return Usage;
  bool okA = true, okB = true;
  const int la = a.intValue("label-a", 0, &okA);
  const int lb = a.intValue("label-b", la, &okB);
  if (!okA || !okB || la < 0 || la > 255 || lb < 0 || lb > 255)
  {
    printError("--label-a/--label-b must be whole numbers from 0 to 255 (0 = any non-zero label)");
    return Usage;
  }
  const LabelMask ma = readMask(a.positionals[0].toStdString());
  const LabelMask mb = readMask(a.positionals[1].toStdString());
  const AgreementResult r = computeAgreement(ma, la, mb, lb);
  // Per-mask shape statistic: inter-slice smoothness (core/metrics/ShapeStats.h).
  const InterSliceSmoothness sa = interSliceSmoothness(ma, la, 0), sb = interSliceSmoothness(mb, lb, 0);
  if (a.has("json"))
  {
    std::string json = toJson(r);
    char extra[160];
    std::snprintf(extra, sizeof extra, ", \"interslice_hd_a_mm\": %.6f, \"interslice_hd_b_mm\": %.6f}",
                  sa.averageHdMm, sb.averageHdMm);
    json.pop_back(); // the closing brace
    std::printf("%s%s\n", json.c_str(), extra);
    return Ok;
  }
  auto dist = [&](double v) {
    return r.distancesDefined ? QString::number(v, 'f', 3) + " mm" : QString("undefined (one mask is empty)");
  };
  std::printf("A: %s (label %d)\nB: %s (label %d), reference\n", qPrintable(a.positionals[0]), la,
              qPrintable(a.positionals[1]), lb);
  std::printf("dice       %.4f\njaccard    %.4f\nprecision  %.4f\nrecall     %.4f\n", r.dice, r.jaccard,
              r.precision, r.recall);
  std::printf("hd95       %s\nhd         %s\nassd       %s\n", qPrintable(dist(r.hd95Mm)), qPrintable(dist(r.hdMm)),
              qPrintable(dist(r.assdMm)));
  std::printf("kappa      %.4f (whole grid)\nkappa_bbox %.4f (bounding box of the union)\n", r.kappa, r.kappaBbox);
  std::printf("volume A   %.2f mL\nvolume B   %.2f mL\nvpe        %+.4f\n", r.volumeAMl, r.volumeBMl, r.vpe);
  std::printf("interslice A %.3f mm, B %.3f mm (average Hausdorff distance between neighbouring slices)\n",
              sa.averageHdMm, sb.averageHdMm);
  return Ok;
}
} // namespace panseg::cli
