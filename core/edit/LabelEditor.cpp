#include "core/edit/LabelEditor.h"

#include "core/Error.h"
#include "core/metrics/DistanceTransform.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace panseg::edit
{
namespace
{
// Tolerance on squared-mm comparisons so that a voxel exactly on the brush surface is inside
// whatever rounding the spacing carries.
constexpr double kEpsMm2 = 1e-6;

std::string str(double v)
{
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

/// 0/1 raster (u fastest) of the voxel centres inside a polygon (even-odd rule).
std::vector<uint8_t> rasterizePolygon(const std::vector<Point2>& poly, int64_t nu, int64_t nv)
{
  std::vector<uint8_t> out(static_cast<size_t>(nu * nv), 0);
  double vmin = poly[0][1], vmax = poly[0][1];
  for (const Point2& p : poly)
  {
    vmin = std::min(vmin, p[1]);
    vmax = std::max(vmax, p[1]);
  }
  const int64_t v0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(vmin)));
  const int64_t v1 = std::min<int64_t>(nv - 1, static_cast<int64_t>(std::ceil(vmax)));
  std::vector<double> xs;
  for (int64_t v = v0; v <= v1; ++v)
  {
    const double y = static_cast<double>(v);
    xs.clear();
    for (size_t i = 0, j = poly.size() - 1; i < poly.size(); j = i++)
    {
      const Point2& a = poly[i];
      const Point2& b = poly[j];
      if ((a[1] > y) != (b[1] > y))
        xs.push_back(a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]));
    }
    std::sort(xs.begin(), xs.end());
    for (size_t k = 0; k + 1 < xs.size(); k += 2)
    {
      // Centres u with xs[k] <= u < xs[k+1] have an odd number of crossings to their right.
      const int64_t ua = std::max<int64_t>(0, static_cast<int64_t>(std::ceil(xs[k])));
      const int64_t ub = std::min<int64_t>(nu, static_cast<int64_t>(std::ceil(xs[k + 1])));
      for (int64_t u = ua; u < ub; ++u)
        out[static_cast<size_t>(u + nu * v)] = 1;
    }
  }
  return out;
}

void checkPolygon(const std::vector<Point2>& poly)
{
  if (poly.size() < 3)
    throw Error("polygon has " + std::to_string(poly.size()) + " points; at least 3 are needed");
  for (const Point2& p : poly)
    if (!std::isfinite(p[0]) || !std::isfinite(p[1]))
      throw Error("polygon has a point that is not a finite number");
}

void checkRadius(double radiusMm)
{
  if (!std::isfinite(radiusMm) || radiusMm <= 0.0)
    throw Error("brush/element radius must be a positive number of mm, got " + str(radiusMm));
}

/// 6-connected components of the 1-voxels of `binary` (box of size `n`). Returns the
/// component id per voxel (0 = none) and the voxel count per id (index 0 unused).
std::vector<int64_t> components(const std::vector<uint8_t>& binary, const Index3& n,
                                std::vector<int32_t>& ids)
{
  ids.assign(binary.size(), 0);
  std::vector<int64_t> sizes(1, 0);
  std::vector<size_t> queue;
  const int64_t sx = 1, sy = n[0], sz = n[0] * n[1];
  for (size_t seed = 0; seed < binary.size(); ++seed)
  {
    if (!binary[seed] || ids[seed])
      continue;
    const int32_t id = static_cast<int32_t>(sizes.size());
    sizes.push_back(0);
    queue.assign(1, seed);
    ids[seed] = id;
    while (!queue.empty())
    {
      const size_t o = queue.back();
      queue.pop_back();
      ++sizes.back();
      const int64_t x = static_cast<int64_t>(o) % n[0];
      const int64_t y = (static_cast<int64_t>(o) / n[0]) % n[1];
      const int64_t z = static_cast<int64_t>(o) / sz;
      auto visit = [&](bool ok, int64_t step)
      {
        if (!ok)
          return;
        const size_t q = static_cast<size_t>(static_cast<int64_t>(o) + step);
        if (binary[q] && !ids[q])
        {
          ids[q] = id;
          queue.push_back(q);
        }
      };
      visit(x > 0, -sx);
      visit(x + 1 < n[0], sx);
      visit(y > 0, -sy);
      visit(y + 1 < n[1], sy);
      visit(z > 0, -sz);
      visit(z + 1 < n[2], sz);
    }
  }
  return sizes;
}
} // namespace

void Box::include(const Index3& p)
{
  if (empty())
  {
    lo = p;
    hi = {p[0] + 1, p[1] + 1, p[2] + 1};
    return;
  }
  for (int a = 0; a < 3; ++a)
  {
    lo[a] = std::min(lo[a], p[a]);
    hi[a] = std::max(hi[a], p[a] + 1);
  }
}

void Box::include(const Box& o)
{
  if (o.empty())
    return;
  if (empty())
  {
    *this = o;
    return;
  }
  for (int a = 0; a < 3; ++a)
  {
    lo[a] = std::min(lo[a], o.lo[a]);
    hi[a] = std::max(hi[a], o.hi[a]);
  }
}

std::array<int, 2> planeAxes(int axis)
{
  switch (axis)
  {
  case 0:
    return {1, 2};
  case 1:
    return {0, 2};
  default:
    return {0, 1};
  }
}

IntensityRange pancreasCtRange()
{
  return IntensityRange{true, -100.0f, 240.0f};
}

size_t LabelEditor::Delta::bytes() const
{
  return sizeof(Delta) + runStarts.capacity() * sizeof(uint64_t) +
         runLengths.capacity() * sizeof(uint32_t) +
         (oldValues.capacity() + newValues.capacity()) * sizeof(std::pair<uint8_t, uint32_t>);
}

int64_t LabelEditor::Delta::voxelCount() const
{
  int64_t n = 0;
  for (uint32_t l : runLengths)
    n += l;
  return n;
}

LabelEditor::LabelEditor(std::shared_ptr<const Image> image, LabelMask mask)
    : m_image(std::move(image))
{
  resetMask(std::move(mask));
}

void LabelEditor::resetMask(LabelMask mask)
{
  std::string why;
  if (m_image && !m_image->geometry.sameGrid(mask.geometry, &why))
    throw Error("mask grid differs from the image: " + why);
  if (mask.voxels.size() != static_cast<size_t>(mask.geometry.voxelCount()))
    throw Error("mask holds " + std::to_string(mask.voxels.size()) + " voxels but its grid has " +
                std::to_string(mask.geometry.voxelCount()));
  if (m_strokeDepth > 0)
    throw Error("cannot replace the mask during a brush stroke");
  m_mask = std::move(mask);
  m_touched.assign(m_mask.voxels.size() / 64 + 1, 0);
  m_pending.clear();
  m_pendingBox = Box{};
  m_undo.clear();
  m_redo.clear();
  m_revision = ++m_nextRevision;
  m_savedRevision = m_revision;
}

LabelMask LabelEditor::takeMask()
{
  if (m_strokeDepth > 0)
    endStroke();
  LabelMask out = std::move(m_mask);
  m_mask = LabelMask{};
  m_touched.clear();
  m_undo.clear();
  m_redo.clear();
  return out;
}

void LabelEditor::checkLabel(int label) const
{
  if (label < 1 || label > 255)
    throw Error("label " + std::to_string(label) + " is out of range 1..255");
}

void LabelEditor::checkAxis(int axis) const
{
  if (axis < 0 || axis > 2)
    throw Error("slice axis " + std::to_string(axis) + " is not 0, 1 or 2");
}

void LabelEditor::set(size_t offset, uint8_t value)
{
  uint8_t& v = m_mask.voxels[offset];
  if (v == value)
    return;
  const uint64_t bit = uint64_t{1} << (offset & 63);
  uint64_t& word = m_touched[offset >> 6];
  if (!(word & bit))
  {
    word |= bit;
    m_pending.emplace_back(offset, v);
  }
  v = value;
  ++m_opChanged;
  const int64_t o = static_cast<int64_t>(offset);
  const Index3 p{o % m_mask.nx(), (o / m_mask.nx()) % m_mask.ny(), o / (m_mask.nx() * m_mask.ny())};
  m_opBox.include(p);
}

bool LabelEditor::paintable(size_t offset, const PaintSettings& paint, bool erase) const
{
  const uint8_t v = m_mask.voxels[offset];
  if (erase)
  {
    if (v == 0 || (!paint.eraseAllLabels && v != paint.label))
      return false;
  }
  else if (v == paint.label || (paint.overwrite == Overwrite::BackgroundOnly && v != 0))
    return false;
  return !paint.range.enabled || paint.range.contains(m_image->voxels[offset]);
}

EditResult LabelEditor::finishOperation()
{
  const uint64_t before = m_strokeDepth == 0 ? m_revision : m_strokeStartRevision;
  EditResult r{m_opBox, m_opChanged};
  m_pendingBox.include(m_opBox);
  m_opBox = Box{};
  m_opChanged = 0;
  if (r.voxelsChanged > 0)
    m_revision = ++m_nextRevision;
  if (m_strokeDepth == 0)
    commit(before);
  return r;
}

void LabelEditor::beginStroke()
{
  if (m_strokeDepth == 0)
    m_strokeStartRevision = m_revision;
  ++m_strokeDepth;
}

EditResult LabelEditor::endStroke()
{
  if (m_strokeDepth == 0)
    return {};
  if (--m_strokeDepth > 0)
    return {};
  EditResult r{m_pendingBox, 0};
  r.voxelsChanged = commit(m_strokeStartRevision);
  return r;
}

int64_t LabelEditor::commit(uint64_t before)
{
  std::sort(m_pending.begin(), m_pending.end());
  Delta d;
  const int64_t nx = m_mask.nx(), nxy = m_mask.nx() * m_mask.ny();
  auto pushValue = [](std::vector<std::pair<uint8_t, uint32_t>>& rle, uint8_t v)
  {
    if (!rle.empty() && rle.back().first == v && rle.back().second < UINT32_MAX)
      ++rle.back().second;
    else
      rle.emplace_back(v, 1u);
  };
  for (const auto& [offset, oldValue] : m_pending)
  {
    m_touched[offset >> 6] &= ~(uint64_t{1} << (offset & 63));
    const uint8_t now = m_mask.voxels[offset];
    if (now == oldValue)
      continue;
    if (!d.runStarts.empty() && d.runStarts.back() + d.runLengths.back() == offset &&
        d.runLengths.back() < UINT32_MAX)
      ++d.runLengths.back();
    else
    {
      d.runStarts.push_back(offset);
      d.runLengths.push_back(1);
    }
    pushValue(d.oldValues, oldValue);
    pushValue(d.newValues, now);
    const int64_t o = static_cast<int64_t>(offset);
    d.box.include(Index3{o % nx, (o / nx) % m_mask.ny(), o / nxy});
  }
  m_pending.clear();
  m_pending.shrink_to_fit();
  m_pendingBox = Box{};
  const int64_t changed = d.voxelCount();
  if (changed == 0)
  {
    m_revision = before; // the step changed nothing in the end
    return 0;
  }
  d.runStarts.shrink_to_fit();
  d.runLengths.shrink_to_fit();
  d.oldValues.shrink_to_fit();
  d.newValues.shrink_to_fit();
  d.revisionBefore = before;
  d.revisionAfter = m_revision;
  m_undo.push_back(std::move(d));
  if (m_undo.size() > m_undoLimit)
    m_undo.erase(m_undo.begin(),
                 m_undo.begin() + static_cast<std::ptrdiff_t>(m_undo.size() - m_undoLimit));
  m_redo.clear();
  return changed;
}

EditResult LabelEditor::applyDelta(const Delta& d, bool forward)
{
  const auto& values = forward ? d.newValues : d.oldValues;
  size_t vi = 0;
  uint32_t used = 0;
  for (size_t r = 0; r < d.runStarts.size(); ++r)
  {
    uint8_t* p = m_mask.voxels.data() + d.runStarts[r];
    for (uint32_t k = 0; k < d.runLengths[r]; ++k)
    {
      p[k] = values[vi].first;
      if (++used == values[vi].second)
      {
        ++vi;
        used = 0;
      }
    }
  }
  m_revision = forward ? d.revisionAfter : d.revisionBefore;
  return EditResult{d.box, d.voxelCount()};
}

EditResult LabelEditor::undo()
{
  if (m_strokeDepth > 0)
  {
    m_strokeDepth = 1;
    endStroke();
  }
  if (m_undo.empty())
    return {};
  Delta d = std::move(m_undo.back());
  m_undo.pop_back();
  const EditResult r = applyDelta(d, false);
  m_redo.push_back(std::move(d));
  return r;
}

EditResult LabelEditor::redo()
{
  if (m_strokeDepth > 0 || m_redo.empty())
    return {};
  Delta d = std::move(m_redo.back());
  m_redo.pop_back();
  const EditResult r = applyDelta(d, true);
  m_undo.push_back(std::move(d));
  return r;
}

void LabelEditor::setUndoLimit(size_t steps)
{
  m_undoLimit = std::max<size_t>(50, steps);
  if (m_undo.size() > m_undoLimit)
    m_undo.erase(m_undo.begin(),
                 m_undo.begin() + static_cast<std::ptrdiff_t>(m_undo.size() - m_undoLimit));
}

size_t LabelEditor::undoMemoryBytes() const
{
  size_t n = 0;
  for (const Delta& d : m_undo)
    n += d.bytes();
  for (const Delta& d : m_redo)
    n += d.bytes();
  return n;
}

// ---- brush ------------------------------------------------------------------------------------

EditResult LabelEditor::stamp(const Index3& c, const Brush& brush, const PaintSettings& paint,
                              bool erase)
{
  checkLabel(paint.label);
  checkRadius(brush.radiusMm);
  if (!brush.is3D)
    checkAxis(brush.planeAxis);
  if (paint.range.enabled && !m_image)
    throw Error("threshold-limited paint needs the image");
  const Vec3& sp = m_mask.geometry.spacingMm;
  Index3 ext{};
  for (int a = 0; a < 3; ++a)
    ext[a] = (!brush.is3D && a == brush.planeAxis)
                 ? 0
                 : static_cast<int64_t>(std::floor(brush.radiusMm / sp[a] + 1e-9));
  const double r2 = brush.radiusMm * brush.radiusMm + kEpsMm2;
  const double r1 = brush.radiusMm + 1e-9;
  for (int64_t dz = -ext[2]; dz <= ext[2]; ++dz)
  {
    const int64_t z = c[2] + dz;
    if (z < 0 || z >= m_mask.nz())
      continue;
    for (int64_t dy = -ext[1]; dy <= ext[1]; ++dy)
    {
      const int64_t y = c[1] + dy;
      if (y < 0 || y >= m_mask.ny())
        continue;
      for (int64_t dx = -ext[0]; dx <= ext[0]; ++dx)
      {
        const int64_t x = c[0] + dx;
        if (x < 0 || x >= m_mask.nx())
          continue;
        const double ux = static_cast<double>(dx) * sp[0], uy = static_cast<double>(dy) * sp[1],
                     uz = static_cast<double>(dz) * sp[2];
        const bool inside = brush.shape == BrushShape::Round
                                ? ux * ux + uy * uy + uz * uz <= r2
                                : std::max({std::abs(ux), std::abs(uy), std::abs(uz)}) <= r1;
        if (!inside)
          continue;
        const size_t o = m_mask.offset(x, y, z);
        if (paintable(o, paint, erase))
          set(o, erase ? uint8_t{0} : static_cast<uint8_t>(paint.label));
      }
    }
  }
  return finishOperation();
}

EditResult LabelEditor::strokeSegment(const Index3& from, const Index3& to, const Brush& brush,
                                      const PaintSettings& paint, bool erase)
{
  const int64_t steps = std::max({std::abs(to[0] - from[0]), std::abs(to[1] - from[1]),
                                  std::abs(to[2] - from[2]), int64_t{0}});
  beginStroke();
  EditResult total;
  try
  {
    for (int64_t i = 0; i <= steps; ++i)
    {
      const double t = steps == 0 ? 0.0 : static_cast<double>(i) / static_cast<double>(steps);
      Index3 p{};
      for (int a = 0; a < 3; ++a)
        p[a] =
            from[a] + static_cast<int64_t>(std::llround(t * static_cast<double>(to[a] - from[a])));
      const EditResult r = stamp(p, brush, paint, erase);
      total.changed.include(r.changed);
      total.voxelsChanged += r.voxelsChanged;
    }
  }
  catch (...)
  {
    endStroke();
    throw;
  }
  endStroke();
  return total;
}

// ---- polygon, lasso, scissors -----------------------------------------------------------------

EditResult LabelEditor::fillPolygon(const SlicePlane& plane, const std::vector<Point2>& polygon,
                                    const PaintSettings& paint, bool erase)
{
  checkLabel(paint.label);
  checkAxis(plane.axis);
  checkPolygon(polygon);
  if (plane.index < 0 || plane.index >= m_mask.geometry.size[plane.axis])
    throw Error("slice " + std::to_string(plane.index) + " is outside 0.." +
                std::to_string(m_mask.geometry.size[plane.axis] - 1));
  if (paint.range.enabled && !m_image)
    throw Error("threshold-limited paint needs the image");
  const auto [au, av] = planeAxes(plane.axis);
  const int64_t nu = m_mask.geometry.size[au], nv = m_mask.geometry.size[av];
  const std::vector<uint8_t> inside = rasterizePolygon(polygon, nu, nv);
  Index3 idx{};
  idx[plane.axis] = plane.index;
  for (int64_t v = 0; v < nv; ++v)
    for (int64_t u = 0; u < nu; ++u)
    {
      if (!inside[static_cast<size_t>(u + nu * v)])
        continue;
      idx[au] = u;
      idx[av] = v;
      const size_t o = m_mask.offset(idx[0], idx[1], idx[2]);
      if (paintable(o, paint, erase))
        set(o, erase ? uint8_t{0} : static_cast<uint8_t>(paint.label));
    }
  return finishOperation();
}

EditResult LabelEditor::scissors(int axis, const std::vector<Point2>& polygon, bool cutInside,
                                 const PaintSettings& paint)
{
  checkAxis(axis);
  checkPolygon(polygon);
  if (!paint.eraseAllLabels)
    checkLabel(paint.label);
  const auto [au, av] = planeAxes(axis);
  const int64_t nu = m_mask.geometry.size[au], nv = m_mask.geometry.size[av];
  const std::vector<uint8_t> inside = rasterizePolygon(polygon, nu, nv);
  Index3 idx{};
  for (int64_t s = 0; s < m_mask.geometry.size[axis]; ++s)
  {
    idx[axis] = s;
    for (int64_t v = 0; v < nv; ++v)
      for (int64_t u = 0; u < nu; ++u)
      {
        if ((inside[static_cast<size_t>(u + nu * v)] != 0) != cutInside)
          continue;
        idx[au] = u;
        idx[av] = v;
        const size_t o = m_mask.offset(idx[0], idx[1], idx[2]);
        const uint8_t cur = m_mask.voxels[o];
        if (cur != 0 && (paint.eraseAllLabels || cur == paint.label))
          set(o, 0);
      }
  }
  return finishOperation();
}

// ---- fill between slices ----------------------------------------------------------------------

InterpolationProposal LabelEditor::interpolateSlices(int label, int axis) const
{
  checkLabel(label);
  checkAxis(axis);
  InterpolationProposal p;
  p.label = label;
  p.axis = axis;
  const auto [au, av] = planeAxes(axis);
  const Size3& n = m_mask.geometry.size;
  const int64_t nu = n[au], nv = n[av];
  const Vec3& sp = m_mask.geometry.spacingMm;
  const uint8_t l = static_cast<uint8_t>(label);
  auto offsetOf = [&](int64_t u, int64_t v, int64_t s)
  {
    Index3 idx{};
    idx[au] = u;
    idx[av] = v;
    idx[axis] = s;
    return m_mask.offset(idx[0], idx[1], idx[2]);
  };
  auto sliceBinary = [&](int64_t s)
  {
    std::vector<uint8_t> b(static_cast<size_t>(nu * nv));
    for (int64_t v = 0; v < nv; ++v)
      for (int64_t u = 0; u < nu; ++u)
        b[static_cast<size_t>(u + nu * v)] = m_mask.voxels[offsetOf(u, v, s)] == l;
    return b;
  };
  // One pass in memory order marks the slices that hold the label.
  std::vector<uint8_t> hasLabel(static_cast<size_t>(n[axis]), 0);
  for (int64_t z = 0; z < n[2]; ++z)
    for (int64_t y = 0; y < n[1]; ++y)
    {
      const uint8_t* row = m_mask.voxels.data() + m_mask.offset(0, y, z);
      if (axis == 0)
      {
        for (int64_t x = 0; x < n[0]; ++x)
          hasLabel[static_cast<size_t>(x)] |= row[x] == l;
      }
      else if (!hasLabel[static_cast<size_t>(axis == 1 ? y : z)])
        hasLabel[static_cast<size_t>(axis == 1 ? y : z)] =
            std::find(row, row + n[0], l) != row + n[0];
    }
  for (int64_t s = 0; s < n[axis]; ++s)
    if (hasLabel[static_cast<size_t>(s)])
      p.keySlices.push_back(s);
  const Size3 size2{nu, nv, 1};
  const Vec3 sp2{sp[au], sp[av], 1.0};
  const double far = static_cast<double>(nu) * sp[au] + static_cast<double>(nv) * sp[av];
  // Signed distance in mm: inside -(distance to the nearest outside pixel), outside +(distance
  // to the nearest inside pixel). Linear blending of two such maps morphs one contour into the
  // other; a slice blended with itself is reproduced exactly.
  auto signedDistance = [&](int64_t s)
  {
    std::vector<uint8_t> in = sliceBinary(s);
    std::vector<uint8_t> out(in.size());
    for (size_t i = 0; i < in.size(); ++i)
      out[i] = !in[i];
    const std::vector<double> dIn = squaredDistanceTransformMm2(in, size2, sp2, 1);
    const std::vector<double> dOut = squaredDistanceTransformMm2(out, size2, sp2, 1);
    std::vector<double> sd(in.size());
    for (size_t i = 0; i < in.size(); ++i)
      sd[i] = in[i] ? -std::min(far, std::sqrt(dOut[i])) : std::min(far, std::sqrt(dIn[i]));
    return sd;
  };
  std::vector<double> prev;
  for (size_t k = 0; k + 1 < p.keySlices.size(); ++k)
  {
    const int64_t k0 = p.keySlices[k], k1 = p.keySlices[k + 1];
    if (k1 - k0 < 2)
    {
      prev.clear();
      continue;
    }
    const std::vector<double> d0 = prev.empty() ? signedDistance(k0) : prev;
    const std::vector<double> d1 = signedDistance(k1);
    for (int64_t s = k0 + 1; s < k1; ++s)
    {
      p.filledSlices.push_back(s);
      const double t = static_cast<double>(s - k0) / static_cast<double>(k1 - k0);
      for (int64_t v = 0; v < nv; ++v)
        for (int64_t u = 0; u < nu; ++u)
        {
          const size_t i = static_cast<size_t>(u + nu * v);
          if ((1.0 - t) * d0[i] + t * d1[i] > 0.0)
            continue;
          const size_t o = offsetOf(u, v, s);
          if (m_mask.voxels[o] != 0)
            continue;
          p.offsets.push_back(o);
          Index3 idx{};
          idx[au] = u;
          idx[av] = v;
          idx[axis] = s;
          p.box.include(idx);
        }
    }
    prev = d1;
  }
  std::sort(p.offsets.begin(), p.offsets.end());
  return p;
}

EditResult LabelEditor::applyProposal(const InterpolationProposal& proposal)
{
  checkLabel(proposal.label);
  for (size_t o : proposal.offsets)
  {
    if (o >= m_mask.voxels.size())
      throw Error("interpolation proposal does not belong to this mask (voxel outside the grid)");
  }
  for (size_t o : proposal.offsets)
    if (m_mask.voxels[o] == 0)
      set(o, static_cast<uint8_t>(proposal.label));
  return finishOperation();
}

// ---- morphology and clean-up ------------------------------------------------------------------

Box LabelEditor::labelBox(int label, const Index3& margin) const
{
  Box b;
  const uint8_t l = static_cast<uint8_t>(label);
  Index3 lo{m_mask.nx(), m_mask.ny(), m_mask.nz()}, hi{-1, -1, -1};
  for (int64_t z = 0; z < m_mask.nz(); ++z)
    for (int64_t y = 0; y < m_mask.ny(); ++y)
    {
      const uint8_t* row = m_mask.voxels.data() + m_mask.offset(0, y, z);
      for (int64_t x = 0; x < m_mask.nx(); ++x)
        if (row[x] == l)
        {
          lo = {std::min(lo[0], x), std::min(lo[1], y), std::min(lo[2], z)};
          hi = {std::max(hi[0], x), std::max(hi[1], y), std::max(hi[2], z)};
        }
    }
  if (hi[0] < 0)
    return b;
  for (int a = 0; a < 3; ++a)
  {
    b.lo[a] = std::max<int64_t>(0, lo[a] - margin[a]);
    b.hi[a] = std::min<int64_t>(m_mask.geometry.size[a], hi[a] + 1 + margin[a]);
  }
  return b;
}

std::vector<uint8_t> LabelEditor::extractBinary(int label, const Box& box) const
{
  std::vector<uint8_t> b(static_cast<size_t>(box.voxelCount()));
  size_t i = 0;
  for (int64_t z = box.lo[2]; z < box.hi[2]; ++z)
    for (int64_t y = box.lo[1]; y < box.hi[1]; ++y)
      for (int64_t x = box.lo[0]; x < box.hi[0]; ++x)
        b[i++] = m_mask.at(x, y, z) == label;
  return b;
}

EditResult LabelEditor::applyBinary(int label, const Box& box, const std::vector<uint8_t>& binary)
{
  const uint8_t l = static_cast<uint8_t>(label);
  size_t i = 0;
  for (int64_t z = box.lo[2]; z < box.hi[2]; ++z)
    for (int64_t y = box.lo[1]; y < box.hi[1]; ++y)
      for (int64_t x = box.lo[0]; x < box.hi[0]; ++x, ++i)
      {
        const size_t o = m_mask.offset(x, y, z);
        const uint8_t cur = m_mask.voxels[o];
        if (cur == l && !binary[i])
          set(o, 0);
        else if (cur == 0 && binary[i])
          set(o, l);
      }
  return finishOperation();
}

EditResult LabelEditor::replaceInBox(int label, const Box& box, const std::vector<uint8_t>& binary)
{
  checkLabel(label);
  for (int a = 0; a < 3; ++a)
    if (box.lo[a] < 0 || box.hi[a] > m_mask.geometry.size[a])
      throw Error("the box [" + std::to_string(box.lo[0]) + "," + std::to_string(box.lo[1]) + "," +
                  std::to_string(box.lo[2]) + ")-(" + std::to_string(box.hi[0]) + "," +
                  std::to_string(box.hi[1]) + "," + std::to_string(box.hi[2]) +
                  ") leaves the mask's grid");
  if (box.empty())
    return {};
  if (binary.size() != static_cast<size_t>(box.voxelCount()))
    throw Error("result has " + std::to_string(binary.size()) + " voxels but the box has " +
                std::to_string(box.voxelCount()));
  return applyBinary(label, box, binary);
}

namespace
{
Index3 boxSize(const Box& b)
{
  return {b.hi[0] - b.lo[0], b.hi[1] - b.lo[1], b.hi[2] - b.lo[2]};
}

std::vector<uint8_t> dilateBinary(const std::vector<uint8_t>& b, const Index3& n, const Vec3& sp,
                                  double r)
{
  const std::vector<double> d = squaredDistanceTransformMm2(b, n, sp);
  std::vector<uint8_t> out(b.size());
  const double r2 = r * r + kEpsMm2;
  for (size_t i = 0; i < b.size(); ++i)
    out[i] = d[i] <= r2;
  return out;
}

std::vector<uint8_t> erodeBinary(const std::vector<uint8_t>& b, const Index3& n, const Vec3& sp,
                                 double r)
{
  std::vector<uint8_t> bg(b.size());
  for (size_t i = 0; i < b.size(); ++i)
    bg[i] = !b[i];
  const std::vector<double> d = squaredDistanceTransformMm2(bg, n, sp);
  std::vector<uint8_t> out(b.size());
  const double r2 = r * r + kEpsMm2;
  for (size_t i = 0; i < b.size(); ++i)
    out[i] = b[i] && d[i] > r2;
  return out;
}

Index3 marginFor(const Vec3& sp, double r, int64_t extra)
{
  Index3 m{};
  for (int a = 0; a < 3; ++a)
    m[a] = static_cast<int64_t>(std::ceil(r / sp[a])) + extra;
  return m;
}
} // namespace

EditResult LabelEditor::dilate(int label, double radiusMm)
{
  checkLabel(label);
  checkRadius(radiusMm);
  const Box box = labelBox(label, marginFor(m_mask.geometry.spacingMm, radiusMm, 1));
  if (box.empty())
    return {};
  const Index3 n = boxSize(box);
  return applyBinary(
      label, box, dilateBinary(extractBinary(label, box), n, m_mask.geometry.spacingMm, radiusMm));
}

EditResult LabelEditor::erode(int label, double radiusMm)
{
  checkLabel(label);
  checkRadius(radiusMm);
  const Box box = labelBox(label, Index3{1, 1, 1});
  if (box.empty())
    return {};
  const Index3 n = boxSize(box);
  return applyBinary(
      label, box, erodeBinary(extractBinary(label, box), n, m_mask.geometry.spacingMm, radiusMm));
}

EditResult LabelEditor::closing(int label, double radiusMm)
{
  checkLabel(label);
  checkRadius(radiusMm);
  const Vec3& sp = m_mask.geometry.spacingMm;
  const Box box = labelBox(label, marginFor(sp, radiusMm, 2));
  if (box.empty())
    return {};
  const Index3 n = boxSize(box);
  return applyBinary(
      label, box,
      erodeBinary(dilateBinary(extractBinary(label, box), n, sp, radiusMm), n, sp, radiusMm));
}

EditResult LabelEditor::opening(int label, double radiusMm)
{
  checkLabel(label);
  checkRadius(radiusMm);
  const Vec3& sp = m_mask.geometry.spacingMm;
  const Box box = labelBox(label, marginFor(sp, radiusMm, 2));
  if (box.empty())
    return {};
  const Index3 n = boxSize(box);
  return applyBinary(
      label, box,
      dilateBinary(erodeBinary(extractBinary(label, box), n, sp, radiusMm), n, sp, radiusMm));
}

EditResult LabelEditor::median(int label, double radiusMm)
{
  checkLabel(label);
  checkRadius(radiusMm);
  const Vec3& sp = m_mask.geometry.spacingMm;
  const Box box = labelBox(label, marginFor(sp, radiusMm, 1));
  if (box.empty())
    return {};
  const Index3 n = boxSize(box);
  const std::vector<uint8_t> b = extractBinary(label, box);
  const Index3 ext = marginFor(sp, radiusMm, 0);
  const double r2 = radiusMm * radiusMm + kEpsMm2;
  std::vector<Index3> ball;
  for (int64_t dz = -ext[2]; dz <= ext[2]; ++dz)
    for (int64_t dy = -ext[1]; dy <= ext[1]; ++dy)
      for (int64_t dx = -ext[0]; dx <= ext[0]; ++dx)
      {
        const double ux = static_cast<double>(dx) * sp[0], uy = static_cast<double>(dy) * sp[1],
                     uz = static_cast<double>(dz) * sp[2];
        if (ux * ux + uy * uy + uz * uz <= r2)
          ball.push_back({dx, dy, dz});
      }
  std::vector<uint8_t> out(b.size());
  size_t i = 0;
  for (int64_t z = 0; z < n[2]; ++z)
    for (int64_t y = 0; y < n[1]; ++y)
      for (int64_t x = 0; x < n[0]; ++x, ++i)
      {
        int64_t inVolume = 0, on = 0;
        for (const Index3& d : ball)
        {
          const int64_t gx = box.lo[0] + x + d[0], gy = box.lo[1] + y + d[1],
                        gz = box.lo[2] + z + d[2];
          if (!m_mask.contains(gx, gy, gz))
            continue;
          ++inVolume;
          const int64_t bx = x + d[0], by = y + d[1], bz = z + d[2];
          if (bx >= 0 && by >= 0 && bz >= 0 && bx < n[0] && by < n[1] && bz < n[2])
            on += b[static_cast<size_t>(bx + n[0] * (by + n[1] * bz))];
        }
        out[i] = 2 * on > inVolume;
      }
  return applyBinary(label, box, out);
}

EditResult LabelEditor::fillHoles(int label)
{
  checkLabel(label);
  const Box box = labelBox(label, Index3{1, 1, 1});
  if (box.empty())
    return {};
  const Index3 n = boxSize(box);
  const std::vector<uint8_t> b = extractBinary(label, box);
  std::vector<uint8_t> notLabel(b.size());
  for (size_t i = 0; i < b.size(); ++i)
    notLabel[i] = !b[i];
  std::vector<int32_t> ids;
  const std::vector<int64_t> sizes = components(notLabel, n, ids);
  // Components touching the box border are outside; the others are enclosed cavities.
  std::vector<uint8_t> outside(sizes.size(), 0);
  for (int64_t z = 0; z < n[2]; ++z)
    for (int64_t y = 0; y < n[1]; ++y)
      for (int64_t x = 0; x < n[0]; ++x)
      {
        const bool border =
            x == 0 || y == 0 || z == 0 || x == n[0] - 1 || y == n[1] - 1 || z == n[2] - 1;
        if (border)
          outside[static_cast<size_t>(ids[static_cast<size_t>(x + n[0] * (y + n[1] * z))])] = 1;
      }
  std::vector<uint8_t> filled(b);
  for (size_t i = 0; i < b.size(); ++i)
    if (ids[i] && !outside[static_cast<size_t>(ids[i])])
      filled[i] = 1;
  return applyBinary(label, box, filled);
}

EditResult LabelEditor::keepLargestComponent(int label)
{
  checkLabel(label);
  const Box box = labelBox(label, Index3{0, 0, 0});
  if (box.empty())
    return {};
  std::vector<uint8_t> b = extractBinary(label, box);
  std::vector<int32_t> ids;
  const std::vector<int64_t> sizes = components(b, boxSize(box), ids);
  const auto largest = std::max_element(sizes.begin() + 1, sizes.end()) - sizes.begin();
  for (size_t i = 0; i < b.size(); ++i)
    b[i] = ids[i] == largest;
  return applyBinary(label, box, b);
}

EditResult LabelEditor::removeIslands(int label, double minVolumeMl)
{
  checkLabel(label);
  if (!std::isfinite(minVolumeMl) || minVolumeMl < 0.0)
    throw Error("minimum island volume must be a non-negative number of mL, got " +
                str(minVolumeMl));
  const Box box = labelBox(label, Index3{0, 0, 0});
  if (box.empty())
    return {};
  std::vector<uint8_t> b = extractBinary(label, box);
  std::vector<int32_t> ids;
  const std::vector<int64_t> sizes = components(b, boxSize(box), ids);
  const double voxelMl = m_mask.geometry.voxelVolumeMm3() / 1000.0;
  for (size_t i = 0; i < b.size(); ++i)
    b[i] =
        ids[i] && static_cast<double>(sizes[static_cast<size_t>(ids[i])]) * voxelMl >= minVolumeMl;
  return applyBinary(label, box, b);
}

} // namespace panseg::edit
