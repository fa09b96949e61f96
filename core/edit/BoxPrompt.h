#pragma once
// Box prompts and clicks of interactive segmentation (docs/interactive.md), torch-free so that
// the worker (the model inside the box), `panseg interact` and the GUI share them:
//  * parsing "x0,y0,z0,x1,y1,z1" (inclusive corners, voxel indices or LPS mm) and "+x,y,z" /
//    "-x,y,z" clicks, with one-line panseg::Error for a box outside the image, an empty box, a
//    click outside the image;
//  * the crop of an image to a box plus a margin in mm (its own geometry: same spacing and
//    direction, origin moved) and pasting a crop's labels back inside the box;
//  * refining a mask with clicks by grow from seeds (the mask's interior seeds the foreground,
//    the box's faces the background, each click a seed ball);
//  * a modality guess from intensities, for the model/image mismatch check.

#include "core/Volume.h"
#include "core/edit/GrowCut.h"
#include "core/edit/LabelEditor.h"

#include <string>
#include <vector>

namespace panseg::edit
{
/// Parses a box: six numbers "x0,y0,z0,x1,y1,z1", inclusive corners in any order. Voxel indices,
/// or with `mm` LPS millimetres (the voxels whose centres lie between the corners). Throws
/// panseg::Error (not six numbers, outside the image, empty).
Box parseBox(const std::string& text, const Geometry& g, bool mm);
/// Throws panseg::Error when `b` is empty or not inside the grid (naming the box and the size).
void checkBox(const Box& b, const Geometry& g);
/// "x0,y0,z0,x1,y1,z1" (inclusive voxel corners) of a box, what parseBox reads back.
std::string boxText(const Box& b);
/// Whether `voxel` lies in `b` ([lo, hi) on every axis; never in an empty box).
bool boxHolds(const Box& b, const Index3& voxel);

struct Click
{
  Index3 voxel{0, 0, 0};
  bool positive = true;
};
/// Parses "+x,y,z" (positive) or "-x,y,z" (negative); voxel indices or LPS mm with `mm`.
/// Throws panseg::Error for a malformed click or one outside the image.
Click parseClick(const std::string& text, const Geometry& g, bool mm);

/// `b` grown by `marginMm` on every side (at least 0 voxels), clipped to the grid.
Box boxWithMarginMm(const Box& b, const Geometry& g, double marginMm);
/// The voxels of `b` as an image of their own (same spacing/direction, origin at b.lo).
Image cropImage(const Image& image, const Box& b);
LabelMask cropMask(const LabelMask& mask, const Box& b);
/// A mask on the full grid that is `crop`'s labels inside `inner` (a box within `cropBox`) and 0
/// elsewhere.
LabelMask pasteInside(const Geometry& full, const LabelMask& crop, const Box& cropBox, const Box& inner);
/// 0/1 raster of `label` inside `b` (x fastest), what LabelEditor::replaceInBox takes.
std::vector<uint8_t> binaryInBox(const LabelMask& mask, int label, const Box& b);

/// Writes a box prediction into an editor: `label` inside `box` becomes the predicted mask's
/// non-zero voxels there (other labels kept), one undo step. The mask outside the box is not
/// touched. Throws when `predicted` is on another grid.
EditResult applyBoxPrediction(LabelEditor& editor, int label, const Box& box, const LabelMask& predicted);

/// "CT" when the image looks like CT (at least 1 % of voxels below -500, i.e. air in HU), "MR"
/// when nothing lies below -200, else "" (unknown). The header's modality wins when known.
std::string guessModality(const Image& image);
/// Throws panseg::Error "the image is MR but the model ... was trained on CT" when the image's
/// modality (header, else guessModality) is known and differs from `modelModality`.
void checkModality(const Image& image, const std::string& modelModality, const std::string& modelName);

/// The reach of a click (mm): 10 mm plus twice its distance to the mask's border (to the nearest
/// mask voxel for a positive click, the nearest background voxel for a negative one), 10..40 mm.
/// `raster` is the box's 0/1 mask (x fastest).
double adaptiveClickReachMm(const std::vector<uint8_t>& raster, const Box& box, const Geometry& g, const Click& c);

/// How the answer of a click-conditioned model is taken (docs/interactive.md): only the change the
/// click asks for, where it asks for it. Within the box and the click's reach
/// (adaptiveClickReachMm), the voxels the answer adds (positive click) or removes (negative
/// click) that are 6-connected to the click's 3 mm ball; the rest of `previous` stays as it was,
/// so the network's coarser grid never blurs boundaries far from the click. Returns a 0/1 mask on
/// the full grid, 1 inside the box where the result has the label, 0 elsewhere (the form
/// applyBoxPrediction takes). `answer`: any non-zero voxel is foreground.
LabelMask acceptClickAnswer(const LabelMask& previous, int label, const LabelMask& answer, const Box& box,
                            const Click& click);

struct ClickRefineOptions
{
  double seedRadiusMm = 3.0;  // a click's seed ball
  /// A click acts within this distance (a cube around it, in the box). 0 = adaptive: 10 mm plus
  /// twice the click's distance to the mask's border (to the nearest mask voxel for a positive
  /// click outside it, the nearest background voxel for a negative one inside), at most 40 mm,
  /// so a click deep in a missed tail reaches far while one at a boundary error stays local.
  double reachMm = 0.0;
  double keepMm = 8.0;        // a negative click frees the mask voxels within this of it
  /// Positive clicks: voxels of the local cube whose intensity lies more than this many SD from
  /// the mean of the mask and the click's ball (inside the cube) are background seeds, so the
  /// growth does not leak into tissue of another intensity. 0 = off.
  double intensityGateSd = 1.5;
  GrowCutOptions growCut;
};
/// Refines `label` of a mask inside `box` with clicks, each a local grow from seeds that can only
/// add (positive click) or only remove (negative click) voxels, within reachMm of the click:
///  * positive: foreground seeds = the click's ball + the mask's voxels nearby, background = the
///    faces of the local cube outside the mask and the cube's voxels of another intensity
///    (intensityGateSd); voxels grown are added;
///  * negative: background seeds = the click's ball + the local cube's faces outside the mask,
///    foreground = the mask's voxels farther than keepMm from the click; mask voxels lost are
///    removed.
/// So a click never changes the mask far from it. Returns the box's new 0/1 raster; the caller
/// writes it (LabelEditor::replaceInBox: one undo step).
class ClickRefiner
{
public:
  ClickRefiner(std::shared_ptr<const Image> image, const LabelMask& mask, int label, const Box& box,
               ClickRefineOptions options = {});
  std::vector<uint8_t> click(const Click& c);
  const Box& box() const { return m_box; }
  const std::vector<uint8_t>& raster() const { return m_raster; }
  const GrowCutStats& lastStats() const { return m_stats; }

private:
  std::shared_ptr<const Image> m_image;
  Box m_box;
  ClickRefineOptions m_options;
  std::vector<uint8_t> m_raster; // the box's current 0/1 mask
  GrowCutStats m_stats;
};

/// One click of a click-conditioned model as the user gets it: acceptClickAnswer; when that
/// changes nothing where the click is, the click is refined by grow from seeds (ClickRefiner)
/// instead, so no click is lost. `method` (if not null) = "model" or "grow from seeds". The
/// result is a 0/1 mask on the full grid, 0 outside the box (applyBoxPrediction's form).
LabelMask answerModelClick(std::shared_ptr<const Image> image, const LabelMask& previous, int label,
                           const LabelMask& answer, const Box& box, const Click& click, std::string* method);

/// The clicks a click-conditioned model has been given in one region, kept in step with undo and
/// redo. Each click remembers the mask revisions (LabelEditor::revision()) just before and just
/// after its answer was applied; follow() is told the revision after every edit, undo and redo:
///  * at the state some click's answer left, that click and the ones before it stand (a redo
///    brings an undone click back);
///  * at the state just before some click's answer, the clicks before it stand;
///  * at any other state (an edit with another tool), the standing clicks stay and the undone
///    ones are forgotten, as the editor forgets its redo steps.
/// The next click goes to the model with the standing clicks (guidanceText).
class ModelClickHistory
{
public:
  struct Entry
  {
    Click click;
    uint64_t before = 0; // the mask revision just before its answer was applied
    uint64_t after = 0;  // and just after
  };
  /// Starts over in `box` (a new box, region, image or mask).
  void restart(const Box& box);
  const Box& box() const { return m_box; }
  /// The mask is now at `revision` (see the class comment).
  void follow(uint64_t revision);
  /// Records an answered click; the clicks that were undone are forgotten.
  void add(const Click& click, uint64_t revisionBefore, uint64_t revisionAfter);
  /// The clicks that stand, oldest first.
  std::vector<Click> standing() const;
  /// The guidance for the model: "+x,y,z;-x,y,z" of the standing clicks, then `next` if given.
  std::string guidanceText(const Click* next = nullptr) const;

private:
  Box m_box;
  std::vector<Entry> m_entries;
  std::size_t m_standing = 0; // the first m_standing entries stand, the rest were undone
};

} // namespace panseg::edit
