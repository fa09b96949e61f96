#pragma once
// Where a slice lies on a view's screen: fitted to the view keeping its physical aspect, then
// zoomed about the view centre and panned.

namespace panseg
{
struct ScreenPoint
{
  double x = 0, y = 0;
};

struct ScreenRect
{
  double left = 0, top = 0, width = 0, height = 0;
};

struct ViewTransform
{
  double viewWidthPx = 0, viewHeightPx = 0;       // the widget
  int sliceWidth = 0, sliceHeight = 0;            // slice pixels
  double pixelWidthMm = 1.0, pixelHeightMm = 1.0; // physical size of a slice pixel
  double zoom = 1.0;                              // 1 = whole slice fits the view
  double panXPx = 0, panYPx = 0;                  // offset of the slice centre from the view centre

  /// Screen pixels per millimetre.
  double pixelsPerMm() const;
  /// Screen position of a continuous slice pixel coordinate (pixel centres at integers).
  ScreenPoint sliceToScreen(double column, double row) const;
  /// Continuous slice pixel coordinate under a screen position.
  ScreenPoint screenToSlice(double x, double y) const;
  /// The slice's outer edges on screen.
  ScreenRect sliceRect() const;
  /// Multiplies the zoom, keeping the slice point under screen position (x, y) in place.
  void zoomAbout(double factor, double x, double y);
};

} // namespace panseg
