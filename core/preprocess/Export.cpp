#include "core/preprocess/Export.h"
#include "core/preprocess/NnUNetV2.h"

#include "core/Error.h"

#include <algorithm>
#include <string>

namespace panseg::nnunet
{
ExportGeometry exportGeometryOf(const Preprocessed& pre)
{
  ExportGeometry g;
  g.originalGeometry = pre.originalGeometry;
  g.crop = pre.crop;
  g.croppedShape = pre.croppedShape;
  g.originalSpacing = pre.originalSpacing;
  g.spacingAfterResampling = pre.spacingAfterResampling;
  g.transposeBackward = pre.transposeBackward;
  return g;
}

SeparateZ exportSeparateZ(const ExportGeometry& g, const ExportOptions& options)
{
  if (options.forceSeparateZ < 0)
    return decideSeparateZ(g.originalSpacing, g.spacingAfterResampling,
                           options.anisotropyThreshold);
  SeparateZ r;
  if (options.forceSeparateZ > 0)
  {
    const std::vector<int> axes = lowResolutionAxes(g.originalSpacing);
    if (axes.size() == 1)
    {
      r.enabled = true;
      r.axis = axes[0];
    }
  }
  return r;
}

std::vector<float> probabilitiesToCroppedShape(const std::vector<float>& probabilities,
                                               int64_t numClasses, const Shape3& shape,
                                               const ExportGeometry& g,
                                               const ExportOptions& options)
{
  if (numClasses < 1 || static_cast<int64_t>(probabilities.size()) != numClasses * voxelCount(shape))
    throw Error("export: the probabilities do not have " + std::to_string(numClasses) +
                " channels of the predicted shape");
  if (g.transposeBackward != std::array<int, 3>{ 0, 1, 2 })
  {
    // predict_cases: softmax.transpose([0] + [i + 1 for i in transpose_backward])
    const int64_t n = voxelCount(shape);
    std::vector<float> back(probabilities.size());
    for (int64_t k = 0; k < numClasses; ++k)
    {
      const std::vector<float> t = v2::transposeArray(probabilities.data() + k * n, shape, g.transposeBackward);
      std::copy(t.begin(), t.end(), back.begin() + k * n);
    }
    const Shape3 s = v2::permuteShape(shape, g.transposeBackward);
    if (s == g.croppedShape)
      return back;
    return resampleChannels(back.data(), numClasses, s, g.croppedShape, options.order,
                            exportSeparateZ(g, options), options.orderZ, options.threads);
  }
  if (shape == g.croppedShape)
    return probabilities;
  return resampleChannels(probabilities.data(), numClasses, shape, g.croppedShape, options.order,
                          exportSeparateZ(g, options), options.orderZ, options.threads);
}

std::vector<uint8_t> argmaxChannels(const float* values, int64_t numClasses, int64_t voxels)
{
  if (numClasses > 256)
    throw Error("export: more than 256 classes do not fit a label mask");
  std::vector<uint8_t> out(static_cast<size_t>(voxels), 0);
  for (int64_t v = 0; v < voxels; ++v)
  {
    float best = values[v];
    uint8_t arg = 0;
    for (int64_t k = 1; k < numClasses; ++k)
    {
      const float x = values[k * voxels + v];
      if (x > best)
      {
        best = x;
        arg = static_cast<uint8_t>(k);
      }
    }
    out[static_cast<size_t>(v)] = arg;
  }
  return out;
}

LabelMask pasteIntoOriginal(const std::vector<uint8_t>& labels, const ExportGeometry& g)
{
  const Shape3 cs = g.croppedShape;
  if (static_cast<int64_t>(labels.size()) != voxelCount(cs))
    throw Error("export: the label array does not have the cropped shape");
  LabelMask mask(g.originalGeometry, 0);
  const Shape3 os = shapeOf(g.originalGeometry);
  Shape3 end{};
  for (int a = 0; a < 3; ++a)
  {
    if (g.crop.start[a] < 0 || g.crop.start[a] > os[a])
      throw Error("export: the crop box lies outside the original image");
    end[a] = std::min(g.crop.start[a] + cs[a], os[a]);
  }
  for (int64_t z = g.crop.start[0]; z < end[0]; ++z)
    for (int64_t y = g.crop.start[1]; y < end[1]; ++y)
    {
      const uint8_t* src =
        labels.data() + ((z - g.crop.start[0]) * cs[1] + (y - g.crop.start[1])) * cs[2];
      uint8_t* dst = mask.voxels.data() + (z * os[1] + y) * os[2] + g.crop.start[2];
      std::copy(src, src + (end[2] - g.crop.start[2]), dst);
    }
  return mask;
}

int64_t keepLargestComponent(LabelMask& mask, int label)
{
  const int64_t nx = mask.nx(), ny = mask.ny(), nz = mask.nz();
  const int64_t n = nx * ny * nz;
  const uint8_t l = static_cast<uint8_t>(label);
  std::vector<int32_t> comp(static_cast<size_t>(n), 0);
  std::vector<int64_t> sizes{ 0 }; // component id -> voxel count (id 0 unused)
  std::vector<int64_t> stack;
  for (int64_t start = 0; start < n; ++start)
  {
    if (mask.voxels[static_cast<size_t>(start)] != l || comp[static_cast<size_t>(start)] != 0)
      continue;
    const int32_t id = static_cast<int32_t>(sizes.size());
    int64_t count = 0;
    stack.push_back(start);
    comp[static_cast<size_t>(start)] = id;
    while (!stack.empty())
    {
      const int64_t i = stack.back();
      stack.pop_back();
      ++count;
      const int64_t x = i % nx, y = (i / nx) % ny, z = i / (nx * ny);
      auto visit = [&](int64_t j) {
        if (mask.voxels[static_cast<size_t>(j)] == l && comp[static_cast<size_t>(j)] == 0)
        {
          comp[static_cast<size_t>(j)] = id;
          stack.push_back(j);
        }
      };
      if (x > 0)
        visit(i - 1);
      if (x < nx - 1)
        visit(i + 1);
      if (y > 0)
        visit(i - nx);
      if (y < ny - 1)
        visit(i + nx);
      if (z > 0)
        visit(i - nx * ny);
      if (z < nz - 1)
        visit(i + nx * ny);
    }
    sizes.push_back(count);
  }
  if (sizes.size() <= 2)
    return 0;
  const int64_t largest = *std::max_element(sizes.begin() + 1, sizes.end());
  int64_t removed = 0;
  for (int64_t i = 0; i < n; ++i)
  {
    const int32_t id = comp[static_cast<size_t>(i)];
    if (id != 0 && sizes[static_cast<size_t>(id)] != largest)
    {
      mask.voxels[static_cast<size_t>(i)] = 0;
      ++removed;
    }
  }
  return removed;
}

LabelMask exportSegmentation(const std::vector<float>& probabilities, int64_t numClasses,
                             const Shape3& shape, const ExportGeometry& g,
                             const ExportOptions& options)
{
  for (int a = 0; a < 3; ++a)
    if (g.croppedShape[a] <= 0 || g.crop.end[a] - g.crop.start[a] != g.croppedShape[a])
      throw Error("export: the crop box and the cropped shape disagree");
  const std::vector<float> atCrop =
    probabilitiesToCroppedShape(probabilities, numClasses, shape, g, options);
  const std::vector<uint8_t> labels =
    argmaxChannels(atCrop.data(), numClasses, voxelCount(g.croppedShape));
  LabelMask mask = pasteIntoOriginal(labels, g);
  for (const int label : options.largestComponentLabels)
    keepLargestComponent(mask, label);
  return mask;
}

} // namespace panseg::nnunet
