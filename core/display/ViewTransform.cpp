#include "core/display/ViewTransform.h"

#include <algorithm>

namespace panseg
{
double ViewTransform::pixelsPerMm() const
{
  const double wMm = sliceWidth * pixelWidthMm;
  const double hMm = sliceHeight * pixelHeightMm;
  if (wMm <= 0 || hMm <= 0 || viewWidthPx <= 0 || viewHeightPx <= 0)
    return 1.0;
  return std::min(viewWidthPx / wMm, viewHeightPx / hMm) * zoom;
}

ScreenRect ViewTransform::sliceRect() const
{
  const double s = pixelsPerMm();
  const double w = sliceWidth * pixelWidthMm * s;
  const double h = sliceHeight * pixelHeightMm * s;
  return {viewWidthPx / 2.0 + panXPx - w / 2.0, viewHeightPx / 2.0 + panYPx - h / 2.0, w, h};
}

ScreenPoint ViewTransform::sliceToScreen(double column, double row) const
{
  const double s = pixelsPerMm();
  const ScreenRect r = sliceRect();
  return {r.left + (column + 0.5) * pixelWidthMm * s, r.top + (row + 0.5) * pixelHeightMm * s};
}

ScreenPoint ViewTransform::screenToSlice(double x, double y) const
{
  const double s = pixelsPerMm();
  const ScreenRect r = sliceRect();
  return {(x - r.left) / (pixelWidthMm * s) - 0.5, (y - r.top) / (pixelHeightMm * s) - 0.5};
}

void ViewTransform::zoomAbout(double factor, double x, double y)
{
  const ScreenPoint anchor = screenToSlice(x, y);
  zoom *= factor;
  const ScreenPoint moved = sliceToScreen(anchor.x, anchor.y);
  panXPx += x - moved.x;
  panYPx += y - moved.y;
}

} // namespace panseg
