// The HTML report as a person sees it: a synthetic report (shapes for garments, made-up histories and predictions,
// some right and some wrong, so no data set is needed) rendered by headless Chromium, and the picture checked for
// what a blank, unstyled or truncated page would lack: ink, many colours (pictures and charts), the red of wrong
// predictions and predicted bars, the blue of right ones and of the first run, and content far down the page.
// Skipped, saying so, without Chromium. Set $LOOM_SCREENSHOT_DIR to keep the HTML files and screenshots to look at.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "browser_screenshot.h"
#include "engine/data/fashion_mnist.h"
#include "engine/report/html_report.h"
#include "test_support.h"

namespace {

using loom::report::Report;
using loom::report::ReportRun;

constexpr int64_t kSide = 28;
constexpr int kClasses = 10;

// Image i, one of four kinds of shape so the preview and the grids show varied, recognizable pictures: a filled
// box, a disc, a ramp and a ring, each a little bigger for a higher class.
void draw_shape(uint8_t* pixels, int64_t i, int label) {
  const double centre = (kSide - 1) / 2.0, size = 6 + label;
  for (int64_t y = 0; y < kSide; ++y)
    for (int64_t x = 0; x < kSide; ++x) {
      const double dx = x - centre, dy = y - centre, r = std::sqrt(dx * dx + dy * dy);
      double v = 0;
      switch (i % 4) {
        case 0:
          v = std::max(std::fabs(dx), std::fabs(dy)) <= size ? 200 : 0;
          break;
        case 1:
          v = r <= size ? 255 - 8 * r : 0;
          break;
        case 2:
          v = std::fabs(dy) <= size ? 9.0 * static_cast<double>(x) : 0;
          break;
        default:
          v = std::fabs(r - size) <= 2 ? 230 : 0;
          break;
      }
      pixels[y * kSide + x] = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
    }
}

loom::LabeledImages shapes(int64_t n, int label_step) {
  loom::LabeledImages set{loom::Tensor({n, kSide, kSide}, loom::Device::CPU, loom::DType::U8),
                          loom::Tensor({n}, loom::Device::CPU, loom::DType::U8)};
  for (int64_t i = 0; i < n; ++i) {
    const int label = static_cast<int>(i * label_step % kClasses);
    set.labels.data<uint8_t>()[i] = static_cast<uint8_t>(label);
    draw_shape(set.images.data<uint8_t>() + i * kSide * kSide, i, label);
  }
  return set;
}

// Keras-like epochs: loss falling, accuracy rising, validation a little behind; a lower starting loss gives higher
// accuracy, so two runs' curves do not hide each other.
loom::History history(int epochs, double start_loss) {
  loom::History h;
  for (int e = 0; e < epochs; ++e) {
    loom::EpochResult epoch;
    epoch.loss = start_loss / (1 + 0.6 * e);
    epoch.accuracy = 1.0 - 0.35 * start_loss + 0.04 * e;
    epoch.validated = true;
    epoch.val_loss = epoch.loss * 1.1 + 0.02 * e;
    epoch.val_accuracy = epoch.accuracy - 0.02 - 0.005 * e;
    epoch.learning_rate = 0.001;
    epoch.seconds = 2.5 + 0.3 * e;
    h.push_back(epoch);
  }
  return h;
}

// Test image i is predicted wrong when i % wrong_every == wrong_at (then its true class comes second), with a
// confidence that varies from image to image so the mistakes have an order.
loom::Tensor probabilities(const loom::LabeledImages& test, int wrong_every, int wrong_at) {
  const int64_t n = test.size();
  loom::Tensor p({n, kClasses}, loom::Device::CPU, loom::DType::F32);
  for (int64_t i = 0; i < n; ++i) {
    const int truth = test.labels.data<uint8_t>()[i];
    const bool wrong = i % wrong_every == wrong_at;
    const int predicted = wrong ? (truth + 3) % kClasses : truth;
    const float confidence = 0.45f + 0.05f * static_cast<float>(i * 7 % 11);
    float* row = p.f32() + i * kClasses;
    const float rest = 1 - confidence, runner_up = wrong ? 0.6f * rest : 0;
    for (int c = 0; c < kClasses; ++c) row[c] = (rest - runner_up) / (kClasses - (wrong ? 2 : 1));
    row[predicted] = confidence;
    if (wrong) row[truth] = runner_up;
  }
  return p;
}

ReportRun run(const std::string& name, int epochs, double start_loss, const loom::LabeledImages& test, int wrong_every,
              int wrong_at) {
  ReportRun r;
  r.name = name;
  r.summary =
      "Model: \"sequential\"\n Layer (type)        Output Shape     Param #\n"
      " flatten (Flatten)   (None, 784)      0\n dense (Dense)       (None, 128)      100480\n"
      " dense_1 (Dense)     (None, 10)       1290\nTotal params: 101770\n";
  r.settings = {{"flags", "--epochs " + std::to_string(epochs) + " --batch-size 32"}, {"device", "CPU"}};
  r.history = history(epochs, start_loss);
  r.test_probabilities = probabilities(test, wrong_every, wrong_at);
  int64_t right = 0;
  for (int64_t i = 0; i < test.size(); ++i) right += i % wrong_every != wrong_at;
  r.test = {0.45, static_cast<double>(right) / static_cast<double>(test.size()), 0.2};
  return r;
}

class ReportRender : public loom::test::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    chromium_ = loom::test::find_chromium();
    if (chromium_.empty())
      GTEST_SKIP() << "Chromium not found: set $LOOM_CHROMIUM or put chromium, chromium-browser or google-chrome on "
                      "PATH";
  }

  Report report() const {
    Report r;
    r.train = &train_;
    r.test = &test_;
    r.class_names.assign(loom::kFashionMnistClassNames.begin(), loom::kFashionMnistClassNames.end());
    return r;
  }

  // Writes, renders and measures `report`, keeping both files in $LOOM_SCREENSHOT_DIR when that is set.
  loom::test::ScreenshotStats render(const Report& report, const std::string& name, int width, int height,
                                     std::string* html) {
    const std::string html_path = path(name + ".html"), png_path = path(name + ".png");
    loom::report::write_report(html_path, report);
    *html = loom::test::slurp(html_path);
    const double seconds = loom::test::render_screenshot(chromium_, html_path, png_path, width, height);
    const loom::test::ScreenshotStats stats = loom::test::screenshot_stats(png_path);
    std::cout << name << ": " << stats.str() << " (rendered in " << seconds << " s)\n";
    if (const char* keep = std::getenv("LOOM_SCREENSHOT_DIR"); keep && *keep) {
      std::filesystem::create_directories(keep);
      for (const std::string& file : {html_path, png_path})
        std::filesystem::copy_file(file, std::filesystem::path(keep) / std::filesystem::path(file).filename(),
                                   std::filesystem::copy_options::overwrite_existing);
    }
    return stats;
  }

  std::string chromium_;
  loom::LabeledImages train_ = shapes(40, 1);
  loom::LabeledImages test_ = shapes(30, 3);
};

void expect_sections(const std::string& html) {
  for (const char* id : {"data", "curves", "epochs", "accuracy", "confusion", "predictions", "mistakes", "model"})
    EXPECT_NE(html.find(std::string("<section id=\"") + id + "\">"), std::string::npos) << "no section " << id;
}

// A window taller than the whole report (about 4,400 rows for two runs at 1280, 4,100 for one at 800), so the
// screenshot holds every section and the page's end shows as blank rows at the bottom.
constexpr int kTall = 6000;

TEST_F(ReportRender, TwoRunsAtFullWidthAreDrawnInColourDownToTheLastSection) {
  Report r = report();
  r.runs.push_back(run("MLP", 3, 0.9, test_, 4, 1));
  r.runs.push_back(run("CNN <&>", 5, 0.7, test_, 5, 2));
  std::string html;
  const loom::test::ScreenshotStats stats = render(r, "two_runs_1280", 1280, kTall, &html);

  EXPECT_EQ(loom::test::screenshot_problem(stats, 1280, kTall), "") << stats.str();
  EXPECT_GE(stats.distinct_colours, 1000) << "the pictures, charts and shaded tables bring many colours";
  // The sections before the per-run ones end about row 1,700; the two runs' matrices, grids and summaries add
  // some 2,700 more.
  EXPECT_GT(stats.last_ink_row, 3000) << stats.str();
  EXPECT_LT(stats.last_ink_row, kTall - 1) << "the report is taller than the window: raise kTall";
  expect_sections(html);
  EXPECT_NE(html.find("CNN &lt;&amp;&gt;"), std::string::npos);
  EXPECT_EQ(html.find("CNN <&>"), std::string::npos) << "a run's name reached the page unescaped";
}

TEST_F(ReportRender, OneRunAtNarrowWidthStillDrawsEverySection) {
  Report r = report();
  r.runs.push_back(run("MLP", 3, 0.9, test_, 4, 1));
  std::string html;
  const loom::test::ScreenshotStats stats = render(r, "one_run_800", 800, kTall, &html);

  EXPECT_EQ(loom::test::screenshot_problem(stats, 800, kTall), "") << stats.str();
  EXPECT_GE(stats.distinct_colours, 1000) << stats.str();
  // Narrow, the preview's enlarged image and the two charts stack, so one run reaches about as far down as two.
  EXPECT_GT(stats.last_ink_row, 3000) << stats.str();
  EXPECT_LT(stats.last_ink_row, kTall - 1) << "the report is taller than the window: raise kTall";
  expect_sections(html);
}

}  // namespace
