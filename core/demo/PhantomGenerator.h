#pragma once
// Synthetic abdominal demo study ("phantom"): a CT-like volume, T1- and T2-weighted MR-like
// volumes of the same anatomy, an organ label map and a binary pancreas ground truth.
//
// The data are SYNTHETIC. They are made from analytic shapes (ellipsoids, spline tubes,
// superellipse body outline) and deterministic value noise; they are meant for demonstrations,
// tutorials and tests of the workstation, never for clinical use or for training a model that
// will see patients.
//
// Geometry: LPS, direction identity, so index x runs towards the patient's Left, y towards
// Posterior, z towards Superior. The liver therefore lies at LOW x (patient right), the spleen at
// HIGH x (patient left), the spine at HIGH y (posterior). The origin is centred in x and y like a
// real scan (-(n-1)*spacing/2) and placed at a scanner-like table position in z.
//
// Organ labels (Phantom::organs):
//    0  background (fat, muscle, bowel, bone outside the spine, air, ...)
//    1  pancreas (parenchyma and main duct; identical to Phantom::pancreas)
//    2  liver (parenchyma and the hepatic veins inside it)
//    3  spleen
//    4  right kidney (patient right, low x)
//    5  left kidney (patient left, high x)
//    6  aorta
//    7  inferior vena cava
//    8  portal venous system: portal vein and its intrahepatic branches, superior mesenteric
//       vein, splenic vein
//    9  stomach (wall and contents)
//   10  spine (vertebral bodies, posterior elements, intervertebral discs; not the canal)
//
// Intensities: CT in Hounsfield units (portal venous phase, rounded to integers, clamped to
// [-1024, 3071]); MR in arbitrary units 0..1000 with a smooth multiplicative bias field and
// Rician noise, exactly 0 outside the body.
//
// Determinism: the same options give bit-identical volumes on every platform that uses IEEE
// doubles with the same libm results for sqrt/pow/floor (no std:: random distributions are used;
// all randomness comes from an internal splitmix64 generator and integer hashing). The result
// does not depend on the number of threads.

#include "core/Volume.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace panseg::demo
{
enum OrganLabel : uint8_t
{
  LabelBackground = 0,
  LabelPancreas = 1,
  LabelLiver = 2,
  LabelSpleen = 3,
  LabelKidneyRight = 4,
  LabelKidneyLeft = 5,
  LabelAorta = 6,
  LabelIvc = 7,
  LabelPortalSplenicVein = 8,
  LabelStomach = 9,
  LabelSpine = 10,
};

/// Name of an organ label ("pancreas", "liver", ...); "background" for 0, "" when unknown.
std::string organLabelName(int label);
/// All labels 1..10 with their names, in order.
std::vector<std::pair<int, std::string>> organLabelTable();

struct PhantomOptions
{
  uint32_t seed = 1;
  Size3 size{ 192, 160, 64 };
  Vec3 spacingMm{ 1.6, 1.6, 3.0 };
  /// Pancreas volume to aim for in mL; 0 = chosen from the seed in [60, 100] mL.
  /// Accepted range 30..150 mL (the achieved volume is within a few percent of it).
  double targetPancreasMl = 0.0;
  /// Multiplies the CT and MR noise (0 = noise-free images, 1 = realistic).
  double noiseScale = 1.0;
  /// Generate mrT1 and mrT2 (otherwise they stay empty).
  bool generateMr = true;
  /// Worker threads (0 = hardware concurrency, at most 8). The result does not depend on it.
  int threads = 0;
};

/// Key anatomical points, LPS millimetres (world coordinates of the generated grid).
struct PhantomLandmarks
{
  Vec3 pancreasHead{};       // centre of the head, in the duodenal C-loop
  Vec3 pancreasNeck{};       // anterior to the portal confluence
  Vec3 pancreasTail{};       // tail tip, near the splenic hilum
  Vec3 portalConfluence{};   // SMV / splenic vein junction
  Vec3 duodenum{};           // descending (2nd) part of the duodenum, beside the head
  Vec3 splenicHilum{};
  Vec3 smaOrigin{};          // superior mesenteric artery at the aorta
};

struct Phantom
{
  Image ct;        // HU; info.modality "CT"
  Image mrT1;      // 0..1000; info.modality "MR" (empty when generateMr is false)
  Image mrT2;      // 0..1000; info.modality "MR" (empty when generateMr is false)
  LabelMask organs;   // labels above
  LabelMask pancreas; // 0/1 ground truth (== organs label 1), one 6-connected component
  LabelMask body;     // 0/1: inside the skin (the CT table is outside)
  double pancreasVolumeMl = 0.0;
  uint32_t seed = 0;
  PhantomLandmarks landmarks;
  std::string description; // one line: synthetic, seed, grid, pancreas volume
};

/// Builds the phantom. Throws panseg::Error for an unusable size (each axis 16..1024 voxels),
/// spacing (0.2..10 mm), target volume or noise scale. Default size: about 0.7 s of CPU time
/// (CT + both MR), split over the worker threads.
/// The anatomy is modelled from the lung bases to below the lower kidney poles (about +-120 mm
/// around the pancreas, the default field of view being 307 x 256 x 192 mm); a larger field of
/// view shows the body outline continuing beyond that.
Phantom generatePhantom(const PhantomOptions& options = {});

/// A short plain-text README for the generated study: synthetic, not for clinical use, seed,
/// geometry, label table, pancreas volume.
std::string phantomReadme(const Phantom& phantom);

} // namespace panseg::demo
