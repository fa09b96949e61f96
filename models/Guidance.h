#pragma once
// Click guidance of click-conditioned PanSegNet packages (model_type "pansegnet-clicks",
// docs/interactive.md): the network takes the image and three more input channels,
//   1  positive clicks   (balls of 1 at each "add here" click)
//   2  negative clicks   (balls of 1 at each "remove here" click)
//   3  previous mask     (the mask being corrected, 0/1)
// all on the network's grid (after nnU-Net's crop, transpose and resampling). All zero = the
// automatic mode: the package then predicts like a plain PanSegNet package.
//
// Torch-free: the predictor paints the channels at inference and the trainer (ClickSimulation.h)
// at training with the same function, so both see the same encoding.
#include "core/Volume.h"
#include "core/preprocess/Preprocess.h"
#include "models/ModelCard.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace panseg::models
{
struct ModelPackage;

namespace guidance
{
/// model.json "model_type" of a click-conditioned PanSegNet package.
constexpr const char* kModelType = kClickModelType;
/// Input channels besides the image.
constexpr std::int64_t kChannels = 3;
/// A click is a ball of this radius in network voxels ((dz² + dy² + dx²) <= r²): 19 voxels.
constexpr double kClickRadiusVoxels = 1.5;

/// A click on the network's grid, (z, y, x) = (D, H, W) index.
struct GridClick
{
  std::array<std::int64_t, 3> zyx{ 0, 0, 0 };
  bool positive = true;
};

/// Whether the package takes clicks (its model type), and its total input channels then.
bool takesClicks(const ModelPackage& pkg);
bool takesClicks(const std::string& modelType);

/// Paints the three guidance channels [3, D, H, W] into `out` (overwritten): the click balls and
/// the previous mask (`previous` [D, H, W] 0/1, or null for none). Clicks outside the grid are
/// ignored (a ball near the border is clipped).
void paint(float* out, const nnunet::Shape3& shape, const std::vector<GridClick>& clicks,
           const std::uint8_t* previous);

/// Where the image voxel (x, y, z) lands on the network grid of `pre`: crop, transpose and
/// resampling applied (the voxel whose centre is nearest). Returns false when the voxel lies
/// outside the crop (nnU-Net cropped it away).
bool toNetworkGrid(const nnunet::Preprocessed& pre, const std::array<std::int64_t, 3>& xyz,
                   std::array<std::int64_t, 3>& zyx);

/// `label` of a mask on the image's grid, on the network grid of `pre` [D, H, W] (0/1; nearest
/// neighbour: each network voxel takes the image voxel its centre falls in). Throws panseg::Error
/// when the mask is not on the preprocessed image's grid.
std::vector<std::uint8_t> maskToNetworkGrid(const nnunet::Preprocessed& pre, const LabelMask& mask,
                                            int label);
} // namespace guidance
} // namespace panseg::models
