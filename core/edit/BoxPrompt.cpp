#include "core/edit/BoxPrompt.h"

#include "core/Error.h"
#include "core/metrics/DistanceTransform.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

namespace panseg::edit
{
namespace
{
std::vector<double> numbers(const std::string& text, size_t expected, const std::string& what)
{
  std::vector<double> v;
  std::string item;
  std::stringstream ss(text);
  while (std::getline(ss, item, ','))
  {
    char* end = nullptr;
    const double d = std::strtod(item.c_str(), &end);
    if (item.empty() || end == item.c_str() || *end != '\0' || !std::isfinite(d))
      throw Error(what + " '" + text + "' is not " + std::to_string(expected) +
                  " comma-separated numbers");
    v.push_back(d);
  }
  if (v.size() != expected)
    throw Error(what + " '" + text + "' has " + std::to_string(v.size()) + " numbers; " +
                std::to_string(expected) + " are needed");
  return v;
}

std::string sizeText(const Geometry& g)
{
  return std::to_string(g.size[0]) + "x" + std::to_string(g.size[1]) + "x" + std::to_string(g.size[2]);
}
} // namespace

std::string boxText(const Box& b)
{
  return std::to_string(b.lo[0]) + "," + std::to_string(b.lo[1]) + "," + std::to_string(b.lo[2]) + "," +
         std::to_string(b.hi[0] - 1) + "," + std::to_string(b.hi[1] - 1) + "," + std::to_string(b.hi[2] - 1);
}

bool boxHolds(const Box& b, const Index3& voxel)
{
  for (int a = 0; a < 3; ++a)
    if (voxel[a] < b.lo[a] || voxel[a] >= b.hi[a])
      return false;
  return true;
}

void checkBox(const Box& b, const Geometry& g)
{
  if (b.empty())
    throw Error("the box " + boxText(b) + " is empty");
  for (int a = 0; a < 3; ++a)
    if (b.lo[a] < 0 || b.hi[a] > g.size[a])
      throw Error("the box " + boxText(b) + " is not inside the image (" + sizeText(g) +
                  " voxels, indices 0.." + std::to_string(g.size[0] - 1) + ",0.." +
                  std::to_string(g.size[1] - 1) + ",0.." + std::to_string(g.size[2] - 1) + ")");
}

Box parseBox(const std::string& text, const Geometry& g, bool mm)
{
  const std::vector<double> v = numbers(text, 6, "box");
  Box b;
  if (!mm)
  {
    for (int a = 0; a < 3; ++a)
    {
      const double lo = std::min(v[a], v[a + 3]), hi = std::max(v[a], v[a + 3]);
      if (lo != std::floor(lo) || hi != std::floor(hi))
        throw Error("box '" + text + "': voxel indices must be whole numbers (use --mm for millimetres)");
      b.lo[a] = static_cast<int64_t>(lo);
      b.hi[a] = static_cast<int64_t>(hi) + 1;
    }
    checkBox(b, g);
    return b;
  }
  // Millimetres: the voxels whose centres lie between the two corners' continuous indices.
  const Vec3 i0 = g.physicalToIndex({v[0], v[1], v[2]});
  const Vec3 i1 = g.physicalToIndex({v[3], v[4], v[5]});
  for (int a = 0; a < 3; ++a)
  {
    const double lo = std::min(i0[a], i1[a]), hi = std::max(i0[a], i1[a]);
    b.lo[a] = static_cast<int64_t>(std::ceil(lo - 1e-6));
    b.hi[a] = static_cast<int64_t>(std::floor(hi + 1e-6)) + 1;
  }
  if (b.empty())
    throw Error("the box " + text + " mm holds no voxel centre (it is thinner than a voxel)");
  for (int a = 0; a < 3; ++a)
    if (b.lo[a] < 0 || b.hi[a] > g.size[a])
      throw Error("the box " + text + " mm (voxels " + boxText(b) + ") is not inside the image (" +
                  sizeText(g) + " voxels)");
  return b;
}

Click parseClick(const std::string& text, const Geometry& g, bool mm)
{
  if (text.size() < 2 || (text[0] != '+' && text[0] != '-'))
    throw Error("click '" + text + "' must start with + (positive) or - (negative), e.g. +40,52,18");
  Click c;
  c.positive = text[0] == '+';
  const std::vector<double> v = numbers(text.substr(1), 3, "click");
  Vec3 idx{v[0], v[1], v[2]};
  if (mm)
    idx = g.physicalToIndex(idx);
  else
    for (int a = 0; a < 3; ++a)
      if (v[a] != std::floor(v[a]))
        throw Error("click '" + text + "': voxel indices must be whole numbers (use --mm for millimetres)");
  for (int a = 0; a < 3; ++a)
  {
    c.voxel[a] = static_cast<int64_t>(std::llround(idx[a]));
    if (c.voxel[a] < 0 || c.voxel[a] >= g.size[a])
      throw Error("click '" + text + "' is outside the image (" + sizeText(g) + " voxels)");
  }
  return c;
}

Box boxWithMarginMm(const Box& b, const Geometry& g, double marginMm)
{
  Box out;
  for (int a = 0; a < 3; ++a)
  {
    const int64_t m = std::max<int64_t>(0, static_cast<int64_t>(std::ceil(marginMm / g.spacingMm[a] - 1e-9)));
    out.lo[a] = std::max<int64_t>(0, b.lo[a] - m);
    out.hi[a] = std::min<int64_t>(g.size[a], b.hi[a] + m);
  }
  return out;
}

namespace
{
Geometry cropGeometry(const Geometry& g, const Box& b)
{
  Geometry c = g;
  c.size = {b.hi[0] - b.lo[0], b.hi[1] - b.lo[1], b.hi[2] - b.lo[2]};
  c.originMm = g.indexToPhysical(
    {static_cast<double>(b.lo[0]), static_cast<double>(b.lo[1]), static_cast<double>(b.lo[2])});
  return c;
}

template <typename V> void copyBox(const V& from, V& to, const Box& b)
{
  size_t i = 0;
  for (int64_t z = b.lo[2]; z < b.hi[2]; ++z)
    for (int64_t y = b.lo[1]; y < b.hi[1]; ++y)
    {
      const auto* row = &from.voxels[from.offset(b.lo[0], y, z)];
      std::copy(row, row + (b.hi[0] - b.lo[0]), to.voxels.begin() + static_cast<std::ptrdiff_t>(i));
      i += static_cast<size_t>(b.hi[0] - b.lo[0]);
    }
}
} // namespace

Image cropImage(const Image& image, const Box& b)
{
  checkBox(b, image.geometry);
  Image c(cropGeometry(image.geometry, b));
  c.info = image.info;
  copyBox(image, c, b);
  return c;
}

LabelMask cropMask(const LabelMask& mask, const Box& b)
{
  checkBox(b, mask.geometry);
  LabelMask c(cropGeometry(mask.geometry, b));
  copyBox(mask, c, b);
  return c;
}

LabelMask pasteInside(const Geometry& full, const LabelMask& crop, const Box& cropBox, const Box& inner)
{
  checkBox(cropBox, full);
  for (int a = 0; a < 3; ++a)
    if (inner.lo[a] < cropBox.lo[a] || inner.hi[a] > cropBox.hi[a] ||
        crop.geometry.size[a] != cropBox.hi[a] - cropBox.lo[a])
      throw Error("the prediction's crop does not cover the box " + boxText(inner));
  LabelMask out(full, 0);
  for (int64_t z = inner.lo[2]; z < inner.hi[2]; ++z)
    for (int64_t y = inner.lo[1]; y < inner.hi[1]; ++y)
      for (int64_t x = inner.lo[0]; x < inner.hi[0]; ++x)
        out.at(x, y, z) = crop.at(x - cropBox.lo[0], y - cropBox.lo[1], z - cropBox.lo[2]);
  return out;
}

std::vector<uint8_t> binaryInBox(const LabelMask& mask, int label, const Box& b)
{
  checkBox(b, mask.geometry);
  std::vector<uint8_t> out(static_cast<size_t>(b.voxelCount()));
  size_t i = 0;
  for (int64_t z = b.lo[2]; z < b.hi[2]; ++z)
    for (int64_t y = b.lo[1]; y < b.hi[1]; ++y)
      for (int64_t x = b.lo[0]; x < b.hi[0]; ++x, ++i)
        out[i] = label == 0 ? mask.at(x, y, z) != 0 : mask.at(x, y, z) == label;
  return out;
}

EditResult applyBoxPrediction(LabelEditor& editor, int label, const Box& box, const LabelMask& predicted)
{
  std::string why;
  if (!editor.geometry().sameGrid(predicted.geometry, &why))
    throw Error("the box prediction is not on the mask's grid: " + why);
  checkBox(box, predicted.geometry);
  return editor.replaceInBox(label, box, binaryInBox(predicted, 0, box));
}

std::string guessModality(const Image& image)
{
  if (image.voxels.empty())
    return {};
  int64_t air = 0, below200 = 0;
  for (float v : image.voxels)
  {
    air += v < -500.0f;
    below200 += v < -200.0f;
  }
  if (static_cast<double>(air) >= 0.01 * static_cast<double>(image.voxels.size()))
    return "CT";
  if (below200 == 0)
    return "MR";
  return {};
}

void checkModality(const Image& image, const std::string& modelModality, const std::string& modelName)
{
  std::string m = image.info.modality;
  if (m != "CT" && m != "MR")
    m = guessModality(image);
  if (m.empty() || modelModality.empty() || m == modelModality)
    return;
  throw Error("the image is " + m + (image.info.modality.empty() ? " (judged from its intensities)" : "") +
              " but the model " + modelName + " was trained on " + modelModality +
              "; choose a model trained on " + m);
}

double adaptiveClickReachMm(const std::vector<uint8_t>& raster, const Box& box, const Geometry& g, const Click& c)
{
  // distance (mm) from the click to the nearest voxel of the other side of the mask's border
  const bool want = c.positive; // a positive click looks for mask voxels
  double best2 = std::numeric_limits<double>::infinity();
  size_t i = 0;
  for (int64_t z = box.lo[2]; z < box.hi[2]; ++z)
    for (int64_t y = box.lo[1]; y < box.hi[1]; ++y)
      for (int64_t x = box.lo[0]; x < box.hi[0]; ++x, ++i)
        if ((raster[i] != 0) == want)
        {
          const double dx = (x - c.voxel[0]) * g.spacingMm[0], dy = (y - c.voxel[1]) * g.spacingMm[1],
                       dz = (z - c.voxel[2]) * g.spacingMm[2];
          best2 = std::min(best2, dx * dx + dy * dy + dz * dz);
        }
  const double dist = std::isfinite(best2) ? std::sqrt(best2) : 40.0;
  return std::clamp(10.0 + 2.0 * dist, 10.0, 40.0);
}

LabelMask acceptClickAnswer(const LabelMask& previous, int label, const LabelMask& answer, const Box& box,
                            const Click& click)
{
  const Geometry& g = previous.geometry;
  std::string why;
  if (!answer.geometry.sameGrid(g, &why))
    throw Error("the model's answer is not on the mask's grid: " + why);
  checkBox(box, g);
  const Size3 n{box.hi[0] - box.lo[0], box.hi[1] - box.lo[1], box.hi[2] - box.lo[2]};
  std::vector<uint8_t> before = binaryInBox(previous, label, box);
  const double reach = adaptiveClickReachMm(before, box, g, click);
  auto dist2 = [&](int64_t x, int64_t y, int64_t z)
  {
    const double dx = (x - click.voxel[0]) * g.spacingMm[0], dy = (y - click.voxel[1]) * g.spacingMm[1],
                 dz = (z - click.voxel[2]) * g.spacingMm[2];
    return dx * dx + dy * dy + dz * dz;
  };
  // The voxels the click may change: what the answer adds (positive) or removes (negative), in reach.
  std::vector<uint8_t> candidate(before.size(), 0);
  size_t i = 0;
  for (int64_t z = box.lo[2]; z < box.hi[2]; ++z)
    for (int64_t y = box.lo[1]; y < box.hi[1]; ++y)
      for (int64_t x = box.lo[0]; x < box.hi[0]; ++x, ++i)
      {
        const bool a = answer.at(x, y, z) != 0, b = before[i] != 0;
        candidate[i] = (click.positive ? (a && !b) : (!a && b)) && dist2(x, y, z) <= reach * reach;
      }
  // Grown from the candidates in the click's 3 mm ball, 6-connected.
  std::vector<size_t> stack;
  i = 0;
  for (int64_t z = box.lo[2]; z < box.hi[2]; ++z)
    for (int64_t y = box.lo[1]; y < box.hi[1]; ++y)
      for (int64_t x = box.lo[0]; x < box.hi[0]; ++x, ++i)
        if (candidate[i] && dist2(x, y, z) <= 9.0 + 1e-9)
          stack.push_back(i);
  const auto sx = static_cast<size_t>(n[0]), sxy = static_cast<size_t>(n[0] * n[1]),
             total = before.size();
  while (!stack.empty())
  {
    const size_t v = stack.back();
    stack.pop_back();
    if (!candidate[v])
      continue;
    candidate[v] = 0;
    before[v] = click.positive ? 1 : 0;
    const size_t x = v % sx, y = (v / sx) % static_cast<size_t>(n[1]), z = v / sxy;
    if (x > 0) stack.push_back(v - 1);
    if (x + 1 < sx) stack.push_back(v + 1);
    if (y > 0) stack.push_back(v - sx);
    if (y + 1 < static_cast<size_t>(n[1])) stack.push_back(v + sx);
    if (z > 0) stack.push_back(v - sxy);
    if (v + sxy < total) stack.push_back(v + sxy);
  }
  LabelMask out(g, 0);
  i = 0;
  for (int64_t z = box.lo[2]; z < box.hi[2]; ++z)
    for (int64_t y = box.lo[1]; y < box.hi[1]; ++y)
      for (int64_t x = box.lo[0]; x < box.hi[0]; ++x, ++i)
        out.at(x, y, z) = before[i];
  return out;
}

ClickRefiner::ClickRefiner(std::shared_ptr<const Image> image, const LabelMask& mask, int label,
                           const Box& box, ClickRefineOptions options)
  : m_image(std::move(image)), m_box(box), m_options(options)
{
  checkBox(box, m_image->geometry);
  std::string why;
  if (!m_image->geometry.sameGrid(mask.geometry, &why))
    throw Error("the mask is not on the image's grid: " + why);
  m_raster = binaryInBox(mask, label, box);
}

std::vector<uint8_t> ClickRefiner::click(const Click& c)
{
  if (!boxHolds(m_box, c.voxel))
    throw Error("the click " + std::to_string(c.voxel[0]) + "," + std::to_string(c.voxel[1]) + "," +
                std::to_string(c.voxel[2]) + " is outside the box " + boxText(m_box));
  const Geometry& g = m_image->geometry;
  double reach = m_options.reachMm;
  if (!(reach > 0.0))
    reach = adaptiveClickReachMm(m_raster, m_box, g, c);
  // The local cube around the click, inside the box.
  Box local;
  for (int a = 0; a < 3; ++a)
  {
    const int64_t r = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(reach / g.spacingMm[a])));
    local.lo[a] = std::max(m_box.lo[a], c.voxel[a] - r);
    local.hi[a] = std::min(m_box.hi[a], c.voxel[a] + r + 1);
  }
  auto inMask = [&](int64_t x, int64_t y, int64_t z)
  {
    return m_raster[static_cast<size_t>((x - m_box.lo[0]) +
                                        (m_box.hi[0] - m_box.lo[0]) *
                                          ((y - m_box.lo[1]) + (m_box.hi[1] - m_box.lo[1]) * (z - m_box.lo[2])))] != 0;
  };
  GrowCutOptions go = m_options.growCut;
  go.marginMm = 0.0;
  GrowCut gc(m_image, go);
  std::vector<Index3> fg, bg;
  const double keep2 = m_options.keepMm * m_options.keepMm;
  // Intensity statistics of the foreground near a positive click (the mask and the click's ball).
  double gateLo = -std::numeric_limits<double>::infinity(), gateHi = std::numeric_limits<double>::infinity();
  if (c.positive && m_options.intensityGateSd > 0.0)
  {
    double sum = 0.0, sum2 = 0.0;
    int64_t count = 0;
    const double r2 = std::max(m_options.seedRadiusMm * m_options.seedRadiusMm, 1e-6);
    for (int64_t z = local.lo[2]; z < local.hi[2]; ++z)
      for (int64_t y = local.lo[1]; y < local.hi[1]; ++y)
        for (int64_t x = local.lo[0]; x < local.hi[0]; ++x)
        {
          const double dx = (x - c.voxel[0]) * g.spacingMm[0], dy = (y - c.voxel[1]) * g.spacingMm[1],
                       dz = (z - c.voxel[2]) * g.spacingMm[2];
          if (inMask(x, y, z) || dx * dx + dy * dy + dz * dz <= r2 + 1e-6)
          {
            const double v = m_image->at(x, y, z);
            sum += v;
            sum2 += v * v;
            ++count;
          }
        }
    if (count >= 8)
    {
      const double mean = sum / double(count);
      const double sd = std::sqrt(std::max(0.0, sum2 / double(count) - mean * mean));
      gateLo = mean - m_options.intensityGateSd * sd;
      gateHi = mean + m_options.intensityGateSd * sd;
    }
  }
  for (int64_t z = local.lo[2]; z < local.hi[2]; ++z)
    for (int64_t y = local.lo[1]; y < local.hi[1]; ++y)
      for (int64_t x = local.lo[0]; x < local.hi[0]; ++x)
      {
        const float value = m_image->at(x, y, z);
        const bool face = x == local.lo[0] || x + 1 == local.hi[0] || y == local.lo[1] ||
                          y + 1 == local.hi[1] || z == local.lo[2] || z + 1 == local.hi[2];
        const bool m = inMask(x, y, z);
        if (c.positive)
        {
          if (m)
            fg.push_back({x, y, z});
          else if (face || value < gateLo || value > gateHi)
            bg.push_back({x, y, z});
        }
        else
        {
          const double dx = (x - c.voxel[0]) * g.spacingMm[0], dy = (y - c.voxel[1]) * g.spacingMm[1],
                       dz = (z - c.voxel[2]) * g.spacingMm[2];
          if (m && dx * dx + dy * dy + dz * dz > keep2)
            fg.push_back({x, y, z});
          else if (!m && face)
            bg.push_back({x, y, z});
        }
      }
  gc.addSeeds(bg, SeedLabel::Background);
  gc.addSeeds(fg, SeedLabel::Foreground);
  // The click's ball, clipped to the local cube, wins over the seeds above.
  {
    const SeedLabel l = c.positive ? SeedLabel::Foreground : SeedLabel::Background;
    Index3 r{};
    for (int a = 0; a < 3; ++a)
      r[a] = static_cast<int64_t>(std::floor(m_options.seedRadiusMm / g.spacingMm[a] + 1e-9));
    std::vector<Index3> ball;
    const double r2 = m_options.seedRadiusMm * m_options.seedRadiusMm + 1e-6;
    for (int64_t dz = -r[2]; dz <= r[2]; ++dz)
      for (int64_t dy = -r[1]; dy <= r[1]; ++dy)
        for (int64_t dx = -r[0]; dx <= r[0]; ++dx)
        {
          const Index3 v{c.voxel[0] + dx, c.voxel[1] + dy, c.voxel[2] + dz};
          const bool inside = boxHolds(local, v);
          const double d2 = (dx * g.spacingMm[0]) * (dx * g.spacingMm[0]) +
                            (dy * g.spacingMm[1]) * (dy * g.spacingMm[1]) +
                            (dz * g.spacingMm[2]) * (dz * g.spacingMm[2]);
          if (inside && d2 <= r2)
            ball.push_back(v);
        }
    gc.addSeeds(ball, l);
  }
  m_stats = gc.update();
  const int64_t bx = m_box.hi[0] - m_box.lo[0], by = m_box.hi[1] - m_box.lo[1];
  for (int64_t z = local.lo[2]; z < local.hi[2]; ++z)
    for (int64_t y = local.lo[1]; y < local.hi[1]; ++y)
      for (int64_t x = local.lo[0]; x < local.hi[0]; ++x)
      {
        uint8_t& v = m_raster[static_cast<size_t>((x - m_box.lo[0]) + bx * ((y - m_box.lo[1]) + by * (z - m_box.lo[2])))];
        const bool grown = gc.labelAt({x, y, z}) == static_cast<uint8_t>(SeedLabel::Foreground);
        if (c.positive && grown)
          v = 1;
        else if (!c.positive && !grown)
          v = 0;
      }
  return m_raster;
}

LabelMask answerModelClick(std::shared_ptr<const Image> image, const LabelMask& previous, int label,
                           const LabelMask& answer, const Box& box, const Click& click, std::string* method)
{
  LabelMask out = acceptClickAnswer(previous, label, answer, box, click);
  if (binaryInBox(out, 1, box) != binaryInBox(previous, label, box))
  {
    if (method)
      *method = "model";
    return out;
  }
  if (method)
    *method = "grow from seeds";
  ClickRefiner refiner(std::move(image), previous, label, box);
  const std::vector<uint8_t> raster = refiner.click(click);
  size_t i = 0;
  for (int64_t z = box.lo[2]; z < box.hi[2]; ++z)
    for (int64_t y = box.lo[1]; y < box.hi[1]; ++y)
      for (int64_t x = box.lo[0]; x < box.hi[0]; ++x, ++i)
        out.at(x, y, z) = raster[i];
  return out;
}

void ModelClickHistory::restart(const Box& box)
{
  m_box = box;
  m_entries.clear();
  m_standing = 0;
}

void ModelClickHistory::follow(uint64_t revision)
{
  for (std::size_t k = m_entries.size(); k > 0; --k)
    if (m_entries[k - 1].after == revision)
    {
      m_standing = k;
      return;
    }
  for (std::size_t k = m_entries.size(); k > 0; --k)
    if (m_entries[k - 1].before == revision)
    {
      m_standing = k - 1;
      return;
    }
  m_entries.resize(m_standing); // another edit: the undone clicks cannot come back
}

void ModelClickHistory::add(const Click& click, uint64_t revisionBefore, uint64_t revisionAfter)
{
  m_entries.resize(m_standing);
  m_entries.push_back({click, revisionBefore, revisionAfter});
  m_standing = m_entries.size();
}

std::vector<Click> ModelClickHistory::standing() const
{
  std::vector<Click> out;
  for (std::size_t k = 0; k < m_standing; ++k)
    out.push_back(m_entries[k].click);
  return out;
}

std::string ModelClickHistory::guidanceText(const Click* next) const
{
  std::string text;
  auto one = [&text](const Click& c)
  {
    if (!text.empty())
      text += ';';
    text += (c.positive ? '+' : '-') + std::to_string(c.voxel[0]) + ',' + std::to_string(c.voxel[1]) + ',' +
            std::to_string(c.voxel[2]);
  };
  for (const Click& c : standing())
    one(c);
  if (next)
    one(*next);
  return text;
}

} // namespace panseg::edit
