// A page as a person sees it: an HTML file rendered by headless Chromium to a PNG of a fixed window size, and the
// few figures about that picture a test can assert on (is anything drawn, in colour, and how far down the page); or
// the page's document after its scripts ran, for a script that measures the layout as the browser drew it.
// Depends on libpng only, not on loom, so a small command-line check can use it too.
#pragma once

#include <cstdint>
#include <string>

namespace loom::test {

// $LOOM_CHROMIUM if set, else the first of chromium, chromium-browser and google-chrome on PATH; empty if none.
std::string find_chromium();

// Renders file `html_path` with `chromium` in a window of `width` × `height` pixels (scale 1, no scroll bars, a fresh
// profile) to `png_path`. The browser's output goes to `png_path` + ".log"; it is given 120 seconds. Throws
// std::runtime_error when no PNG appears, naming the log and quoting its last line. Returns the seconds it took.
double render_screenshot(const std::string& chromium, const std::string& html_path, const std::string& png_path,
                         int width, int height);

// Opens file `html_path` in `chromium` as render_screenshot does and returns the document as it stands once the page
// has loaded and its scripts have run, serialized as HTML (what Chromium's --dump-dom prints): how a script in the
// page measured the drawn layout comes back this way. Stdout goes to `html_path` + ".dom", the browser's messages to
// `html_path` + ".log"; it is given 120 seconds. Throws std::runtime_error when the browser fails or prints no
// document, naming the log and quoting its last line.
std::string dump_dom(const std::string& chromium, const std::string& html_path, int width, int height);

struct ScreenshotStats {
  int64_t width = 0, height = 0;
  int64_t distinct_colours = 0;
  double ink = 0;             // share of pixels that are not near-white (any channel below 240)
  int64_t last_ink_row = -1;  // the lowest row with ink: where the page's content ends (-1: a blank picture)
  // Pixels of saturated red (the report's #d62728 and #ff0000) and saturated blue (#1f77b4, #1f4fd0, #0000ff), not
  // the pale tints of them that light table cells or anti-aliased edges give.
  int64_t red_pixels = 0, blue_pixels = 0;
  std::string str() const;  // all of the above on one line
};

// Decodes the PNG at `png_path` (any kind, as RGB on white) and measures it; std::runtime_error if it cannot be read.
ScreenshotStats screenshot_stats(const std::string& png_path);

// Empty when `stats` look like a drawn page of exactly `width` × `height`: at least 1% ink, 64 distinct colours and
// 16 pixels each of strong red and strong blue; else the first thing that is wrong, in one line.
std::string screenshot_problem(const ScreenshotStats& stats, int width, int height);

}  // namespace loom::test
