// `panseg measure`: mask statistics and principal-axis lengths, or the distance between two
// points, on an image. The numbers come from core/measure (definitions in its README).
#include "Cli.h"

#include "core/Error.h"
#include "core/display/WindowLevel.h"
#include "core/io/ImageIO.h"
#include "core/measure/Measurement.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cmath>
#include <cstdio>

namespace panseg::cli
{
namespace
{
const char* kSynopsis = "panseg measure IMAGE --mask MASK [--label N] [--json]  |  "
                        "panseg measure IMAGE --from X,Y,Z --to X,Y,Z [--voxel] [--json]";

QJsonArray jsonVec(const Vec3& v)
{
  return {v[0], v[1], v[2]};
}

QString vecText(const Vec3& v, int decimals)
{
  return QStringLiteral("(%1, %2, %3)").arg(v[0], 0, 'f', decimals).arg(v[1], 0, 'f', decimals).arg(v[2], 0, 'f', decimals);
}

// "X,Y,Z" -> three finite numbers.
bool parsePoint(const QString& text, Vec3* out)
{
  const QStringList parts = text.split(',');
  if (parts.size() != 3)
    return false;
  for (int k = 0; k < 3; ++k)
  {
    bool ok = false;
    (*out)[k] = parts[k].trimmed().toDouble(&ok);
    if (!ok || !std::isfinite((*out)[k]))
      return false;
  }
  return true;
}

bool insideImage(const Geometry& g, const Vec3& index)
{
  for (int k = 0; k < 3; ++k)
    if (index[k] < -0.5 || index[k] > g.size[k] - 0.5)
      return false;
  return true;
}

int distanceCommand(const Args& a, const Image& img, const Vec3& from, const Vec3& to)
{
  const Geometry& g = img.geometry;
  const bool voxel = a.has("voxel");
  const Vec3 fromMm = voxel ? g.indexToPhysical(from) : from, toMm = voxel ? g.indexToPhysical(to) : to;
  const Vec3 fromIdx = voxel ? from : g.physicalToIndex(from), toIdx = voxel ? to : g.physicalToIndex(to);
  const double d = measure::distanceMm(fromMm, toMm);
  const Vec3 delta{toMm[0] - fromMm[0], toMm[1] - fromMm[1], toMm[2] - fromMm[2]};
  for (const auto& [name, idx] : {std::pair{"--from", fromIdx}, std::pair{"--to", toIdx}})
    if (!insideImage(g, idx))
      std::fprintf(stderr, "panseg: note: %s lies outside the image (voxel %s of %lldx%lldx%lld)\n", name,
                   qPrintable(vecText(idx, 2)), (long long)g.size[0], (long long)g.size[1], (long long)g.size[2]);
  if (a.has("json"))
  {
    QJsonObject o;
    o["image"] = a.positionals[0];
    o["from_mm"] = jsonVec(fromMm);
    o["to_mm"] = jsonVec(toMm);
    o["from_index"] = jsonVec(fromIdx);
    o["to_index"] = jsonVec(toIdx);
    o["delta_mm"] = jsonVec(delta);
    o["distance_mm"] = d;
    std::printf("%s", QJsonDocument(o).toJson(QJsonDocument::Indented).constData());
    return Ok;
  }
  std::printf("from:      %s mm LPS = voxel %s\n", qPrintable(vecText(fromMm, 2)), qPrintable(vecText(fromIdx, 2)));
  std::printf("to:        %s mm LPS = voxel %s\n", qPrintable(vecText(toMm, 2)), qPrintable(vecText(toIdx, 2)));
  std::printf("distance:  %.2f mm\n", d);
  std::printf("offset:    %+.2f mm L, %+.2f mm P, %+.2f mm S (to - from)\n", delta[0], delta[1], delta[2]);
  return Ok;
}

int statisticsCommand(const Args& a, const Image& img, int label)
{
  const LabelMask mask = readMaskFor(a.value("mask").toStdString(), img.geometry);
  const measure::MaskStatistics s = measure::maskStatistics(mask, label, &img);
  const bool ct = looksLikeCt(img);
  const char* axisNames[3] = {"length", "width", "thickness"};
  if (a.has("json"))
  {
    QJsonObject o;
    o["image"] = a.positionals[0];
    o["mask"] = a.value("mask");
    o["label"] = label;
    o["voxels"] = qint64(s.voxels);
    o["voxel_volume_mm3"] = s.voxelVolumeMm3;
    o["volume_ml"] = s.volumeMl;
    o["intensity_unit"] = ct ? "HU" : "";
    QJsonObject in;
    in["mean"] = s.intensity.mean;
    in["sd"] = s.intensity.sd;
    in["median"] = s.intensity.median;
    in["min"] = s.intensity.min;
    in["max"] = s.intensity.max;
    o["intensity"] = in;
    o["extent_mm"] = QJsonObject{{"lr", s.extentMm[0]}, {"ap", s.extentMm[1]}, {"si", s.extentMm[2]}};
    o["bbox_index_min"] = QJsonArray{qint64(s.boxMinIndex[0]), qint64(s.boxMinIndex[1]), qint64(s.boxMinIndex[2])};
    o["bbox_index_max"] = QJsonArray{qint64(s.boxMaxIndex[0]), qint64(s.boxMaxIndex[1]), qint64(s.boxMaxIndex[2])};
    QJsonObject axes;
    axes["defined"] = s.axes.defined;
    if (s.axes.defined)
    {
      for (int k = 0; k < 3; ++k)
        axes[QString(axisNames[k]) + "_mm"] = s.axes.lengthsMm[k];
      axes["directions_lps"] = QJsonArray{jsonVec(s.axes.directions[0]), jsonVec(s.axes.directions[1]),
                                          jsonVec(s.axes.directions[2])};
      axes["ellipsoid_diameters_mm"] = jsonVec(s.axes.ellipsoidDiametersMm);
      axes["centroid_mm"] = jsonVec(s.axes.centroidMm);
    }
    o["principal_axes"] = axes;
    std::printf("%s", QJsonDocument(o).toJson(QJsonDocument::Indented).constData());
  }
  else
  {
    const char* unit = ct ? " HU" : "";
    std::printf("image:       %s\n", qPrintable(a.positionals[0]));
    std::printf("mask:        %s, label %d%s\n", qPrintable(a.value("mask")), label, label == 0 ? " (any non-zero)" : "");
    std::printf("voxels:      %lld (voxel %.4f mm3)\n", (long long)s.voxels, s.voxelVolumeMm3);
    std::printf("volume:      %.2f mL\n", s.volumeMl);
    if (s.voxels > 0)
    {
      std::printf("intensity:   mean %.1f%s, SD %.1f, median %.1f, min %.1f, max %.1f\n", s.intensity.mean, unit,
                  s.intensity.sd, s.intensity.median, s.intensity.min, s.intensity.max);
      std::printf("extent:      %.1f mm L-R x %.1f mm A-P x %.1f mm S-I\n", s.extentMm[0], s.extentMm[1], s.extentMm[2]);
      std::printf("axes:        length %.1f mm, width %.1f mm, thickness %.1f mm (principal axes)\n",
                  s.axes.lengthsMm[0], s.axes.lengthsMm[1], s.axes.lengthsMm[2]);
      for (int k = 0; k < 3; ++k)
        std::printf("  %-9s  direction %s LPS\n", axisNames[k], qPrintable(vecText(s.axes.directions[k], 3)));
      std::printf("centroid:    %s mm LPS\n", qPrintable(vecText(s.axes.centroidMm, 1)));
      std::printf("voxel box:   x %lld..%lld, y %lld..%lld, z %lld..%lld\n", (long long)s.boxMinIndex[0],
                  (long long)s.boxMaxIndex[0], (long long)s.boxMinIndex[1], (long long)s.boxMaxIndex[1],
                  (long long)s.boxMinIndex[2], (long long)s.boxMaxIndex[2]);
    }
  }
  if (s.voxels == 0)
  {
    QStringList present;
    for (int l : mask.labels())
      present << QString::number(l);
    std::fprintf(stderr, "panseg: note: label %d is absent; labels present: %s\n", label,
                 present.isEmpty() ? "none" : qPrintable(present.join(' ')));
  }
  return Ok;
}
} // namespace

QString measureUsage()
{
  return QStringLiteral(
    "  panseg measure IMAGE --mask MASK [--label N] [--json]\n"
    "                                   volume, mean/SD/median/min/max intensity (HU on CT), extent\n"
    "                                   and principal-axis lengths of a label (0 = any non-zero)\n"
    "  panseg measure IMAGE --from X,Y,Z --to X,Y,Z [--voxel] [--json]\n"
    "                                   distance in mm between two LPS points (voxel indices with --voxel)\n");
}

int measure(const QStringList& args)
{
  Args a(args, {"json", "voxel"});
  if (!a.error.isEmpty())
  {
    printError(a.error);
    return Usage;
  }
  static const QStringList known = {"json", "voxel", "mask", "label", "from", "to"};
  for (const QString& k : a.keys())
    if (!known.contains(k))
    {
      printError("unknown option --" + k + "; usage: " + kSynopsis);
      return Usage;
    }
  const bool stats = a.has("mask"), distance = a.has("from") || a.has("to");
  if (a.positionals.size() != 1 || stats == distance || (distance && !(a.has("from") && a.has("to"))) ||
      (stats && a.has("voxel")) || (distance && a.has("label")))
  {
    printError(QString("usage: ") + kSynopsis);
    return Usage;
  }
  int label = 0;
  if (!anyLabelOption(a, &label))
    return Usage;
  Vec3 from{}, to{};
  if (distance && (!parsePoint(a.value("from"), &from) || !parsePoint(a.value("to"), &to)))
  {
    printError("--from and --to take three numbers X,Y,Z (LPS mm, or voxel indices with --voxel)");
    return Usage;
  }
  const Image img = readImage(a.positionals[0].toStdString());
  return stats ? statisticsCommand(a, img, label) : distanceCommand(a, img, from, to);
}
} // namespace panseg::cli
