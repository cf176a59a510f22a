// report_screenshot_check HTML PNG WIDTH HEIGHT: renders a report with headless Chromium in a WIDTH × HEIGHT window,
// prints what the picture holds on one line, and says whether it looks like a drawn report (see screenshot_problem).
// Exit status 0 when it does, 1 when not (with the reason), 2 for bad arguments, 77 when there is no Chromium, which
// ctest shows as a skip.
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>

#include "browser_screenshot.h"

namespace {

int positive(const char* text, const char* what) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < 1 || value > 16384)
    throw std::invalid_argument(std::string(what) + " must be a whole number of pixels from 1 to 16384, not '" + text +
                                "'");
  return static_cast<int>(value);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: report_screenshot_check HTML PNG WIDTH HEIGHT\n";
    return 2;
  }
  int width = 0, height = 0;
  try {
    width = positive(argv[3], "WIDTH");
    height = positive(argv[4], "HEIGHT");
  } catch (const std::invalid_argument& e) {
    std::cerr << "report_screenshot_check: " << e.what() << "\n";
    return 2;
  }
  const std::string chromium = loom::test::find_chromium();
  if (chromium.empty()) {
    std::cout << "report_screenshot_check: skipped: Chromium not found ($LOOM_CHROMIUM, chromium, chromium-browser, "
                 "google-chrome)\n";
    return 77;
  }
  try {
    const double seconds = loom::test::render_screenshot(chromium, argv[1], argv[2], width, height);
    const loom::test::ScreenshotStats stats = loom::test::screenshot_stats(argv[2]);
    std::cout << argv[2] << ": " << stats.str() << " (rendered in " << seconds << " s)\n";
    if (const std::string problem = loom::test::screenshot_problem(stats, width, height); !problem.empty()) {
      std::cerr << "report_screenshot_check: " << argv[1] << ": " << problem << "\n";
      return 1;
    }
  } catch (const std::runtime_error& e) {
    std::cerr << "report_screenshot_check: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
