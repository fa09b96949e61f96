#pragma once
// nnU-Net v1 export (save_segmentation_nifti_from_softmax): class probabilities at the
// preprocessed resolution -> the cropped original shape (order 1; separate z with order 0
// along the coarse axis, decided from the original spacing and then the spacing after
// resampling) -> argmax (ties to the lowest class) -> pasted into a zero volume of the original
// size at the crop box, on the input image's exact geometry. Optional post-processing: keep only
// the largest 6-connected component of chosen labels (nnU-Net's postprocessing.json).

#include "core/Volume.h"
#include "core/preprocess/Common.h"
#include "core/preprocess/Preprocess.h"
#include "core/preprocess/Resample.h"

#include <cstdint>
#include <vector>

namespace panseg::nnunet
{
/// What the export needs to know about the preprocessing.
struct ExportGeometry
{
  Geometry originalGeometry; // output grid
  CropBox crop;
  Shape3 croppedShape{ 0, 0, 0 };
  Spacing3 originalSpacing{ 0, 0, 0 };        // (z, y, x)
  Spacing3 spacingAfterResampling{ 0, 0, 0 }; // transposed order, as nnU-Net v1 stores it
  std::array<int, 3> transposeBackward{ 0, 1, 2 }; // applied to the probabilities first
};
ExportGeometry exportGeometryOf(const Preprocessed& pre);

struct ExportOptions
{
  int order = 1;  // interpolation order of the probabilities
  int orderZ = 0; // order along the separate axis
  double anisotropyThreshold = kSeparateZThreshold;
  int forceSeparateZ = -1; // -1: nnU-Net's rule (force_separate_z None); 0: never; 1: always
  /// Labels for which only the largest 6-connected component is kept (others set to 0).
  std::vector<int> largestComponentLabels;
  int threads = 0;
};

/// The separate-z decision the export makes.
SeparateZ exportSeparateZ(const ExportGeometry& g, const ExportOptions& options = {});

/// [K, D, H, W] probabilities (transposed order) -> transpose_backward -> [K, cropped shape]
/// (float64 internally, float32 result). The separate-z decision is nnU-Net v1's: the original
/// spacing first, then spacing_after_resampling as stored, i.e. in the transposed order.
/// Returned unchanged when the shapes already agree.
std::vector<float> probabilitiesToCroppedShape(const std::vector<float>& probabilities,
                                               int64_t numClasses, const Shape3& shape,
                                               const ExportGeometry& g,
                                               const ExportOptions& options = {});

/// Index of the largest value per voxel of a [K, N] array (first maximum wins, like
/// numpy.argmax).
std::vector<uint8_t> argmaxChannels(const float* values, int64_t numClasses, int64_t voxels);

/// Pastes a [cropped shape] label array into a zero mask on the original geometry.
LabelMask pasteIntoOriginal(const std::vector<uint8_t>& labels, const ExportGeometry& g);

/// Keeps only the largest 6-connected component of `label` (all components of the largest
/// size when several tie, as nnU-Net does); returns the number of voxels removed.
int64_t keepLargestComponent(LabelMask& mask, int label);

/// The whole export. Throws panseg::Error.
LabelMask exportSegmentation(const std::vector<float>& probabilities, int64_t numClasses,
                             const Shape3& shape, const ExportGeometry& g,
                             const ExportOptions& options = {});

} // namespace panseg::nnunet
