#include "core/display/LabelColors.h"

#include <cmath>

namespace panseg
{
namespace
{
Rgb fromHsv(double h, double s, double v)
{
  h = std::fmod(h, 1.0) * 6.0;
  const int i = static_cast<int>(std::floor(h));
  const double f = h - i;
  const double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  double r = v, g = t, b = p;
  switch (i % 6)
  {
  case 0:
    r = v;
    g = t;
    b = p;
    break;
  case 1:
    r = q;
    g = v;
    b = p;
    break;
  case 2:
    r = p;
    g = v;
    b = t;
    break;
  case 3:
    r = p;
    g = q;
    b = v;
    break;
  case 4:
    r = t;
    g = p;
    b = v;
    break;
  default:
    r = v;
    g = p;
    b = q;
    break;
  }
  auto u8 = [](double x) { return static_cast<uint8_t>(std::lround(x * 255.0)); };
  return {u8(r), u8(g), u8(b)};
}
} // namespace

LabelColorTable::LabelColorTable()
{
  m_colors[0] = {0, 0, 0};
  // Hand-picked for the first labels: none is close to grey, to each other or to the crosshair.
  const Rgb first[] = {
      {255, 160, 0},   // 1 pancreas: amber
      {0, 190, 255},   // 2 sky blue
      {60, 220, 80},   // 3 green
      {240, 60, 210},  // 4 magenta
      {235, 40, 40},   // 5 red
      {150, 100, 255}, // 6 violet
      {255, 240, 40},  // 7 yellow (pancreas in TotalSegmentator)
      {0, 220, 190},   // 8 teal
      {255, 120, 150}, // 9 pink
      {170, 230, 40},  // 10 lime
  };
  const int nFirst = static_cast<int>(sizeof first / sizeof first[0]);
  for (int i = 0; i < nFirst; ++i)
    m_colors[static_cast<size_t>(i + 1)] = first[i];
  // Golden-ratio hue steps keep consecutive labels apart; saturation/value alternate a little.
  const double golden = 0.618033988749895;
  for (int label = nFirst + 1; label < 256; ++label)
  {
    const double h = 0.11 + golden * label;
    const double s = (label % 3 == 0) ? 0.65 : 0.85;
    const double v = (label % 2 == 0) ? 0.95 : 0.85;
    m_colors[static_cast<size_t>(label)] = fromHsv(h, s, v);
  }
}

const LabelColorTable& LabelColorTable::standard()
{
  static const LabelColorTable table;
  return table;
}

} // namespace panseg
