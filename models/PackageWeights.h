#pragma once
// Model package weights <-> LibTorch (see ModelPackage.h for the format).
//
// LibTorch header: include only from Qt-free translation units.
#include "models/ModelPackage.h"
#include "models/NnUNetV2Net.h"
#include "models/PanSegNet.h"
#include "models/Weights.h"

#include <string>

namespace panseg::models
{
/// The package's state dict (weights.bin through its weights.json index).
StateDict readPackageWeights(const ModelPackage& pkg);

/// Writes DIR/weights.bin (float32 tensors concatenated in state-dict order, via writeRawTensor)
/// and DIR/weights.json (index in the parity fixture's format). Floating tensors of other
/// types are converted to float32; integer tensors are refused (naming the key).
void writePackageWeights(const std::string& dir, const StateDict& weights);

/// The networks of an "nnunetv2" package, one per fold (strict loading, the key named on failure).
std::vector<V2Net> loadV2Networks(const ModelPackage& pkg);

/// The networks of a "pansegnet" package, one per fold (PreprocessingSpec::folds), each loaded
/// strictly and in eval() mode on the CPU.
std::vector<PanSegNet> loadPackageNetworks(const ModelPackage& pkg);

/// Builds the package's network (a single-fold package), loads its weights strictly (the first missing / unexpected key
/// or wrong shape raises panseg::Error naming the key) and puts it in eval() mode on the CPU.
PanSegNet loadPackageNetwork(const ModelPackage& pkg);
} // namespace panseg::models
