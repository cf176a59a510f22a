// The HTML report as a person sees it: a synthetic report (shapes for garments, made-up histories and predictions,
// some right and some wrong, so no data set is needed) rendered by headless Chromium, and the picture checked for
// what a blank, unstyled or truncated page would lack: ink, many colours (pictures and charts), the red of wrong
// predictions and predicted bars, the blue of right ones and of the first run, and content far down the page. And
// the per-epoch table's layout, measured by a script in the page: headers whole, the page no wider than the window.
// Skipped, saying so, without Chromium. Set $LOOM_SCREENSHOT_DIR to keep the HTML files and screenshots to look at.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
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
    keep(html_path);
    keep(png_path);
    return stats;
  }

  // Copies `file` into $LOOM_SCREENSHOT_DIR when that is set.
  static void keep(const std::string& file) {
    const char* dir = std::getenv("LOOM_SCREENSHOT_DIR");
    if (!dir || !*dir) return;
    std::filesystem::create_directories(dir);
    std::filesystem::copy_file(file, std::filesystem::path(dir) / std::filesystem::path(file).filename(),
                               std::filesystem::copy_options::overwrite_existing);
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

// Appended to a report, measures how the browser drew the per-epoch table and writes what it found into the page, one
// fact a line, for --dump-dom to bring back. Headers are found by their place (the head's first row: "Epoch" and one
// per run; the second: five metric names per run), not by class, so the same script judges any version of the CSS.
//   window W / page W / table W     the window's width, the page's (scrollWidth) and the table's, in pixels
//   scroller OVERFLOW_X             how the closest box narrower than the table lets the reader reach the rest
//                                   ("page" when none is narrower than the page)
//   headers RUN METRIC              how many cells each head row has
//   mid-word RUN\tTEXT\tLINES        a header with a line break between two letters or digits (LINES joined by
//                                   "|"; RUN empty in the head's first row)
//   wrapped RUN\tTEXT\tLINES         else a metric header drawn on more than one line
constexpr const char* kMeasureEpochTable = R"(<script>
(function () {
  const facts = [];
  // The header's text as drawn: one string per line, from where each character landed.
  function drawnLines(cell) {
    const lines = [], breaks = [];
    let top = null, previous = '';
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode());) {
      for (let i = 0; i < node.data.length; ++i) {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const rects = range.getClientRects();
        const c = node.data[i];
        if (rects.length && !/\s/.test(c)) {
          const y = Math.round(rects[0].top);
          if (top === null || Math.abs(y - top) > 2) {
            if (top !== null) breaks.push([previous, c]);
            lines.push('');
            top = y;
          }
        }
        if (lines.length) lines[lines.length - 1] += c;
        previous = c;
      }
    }
    return {lines: lines.map(l => l.trim()), breaks};
  }
  const word = c => /[\p{L}\p{N}_]/u.test(c);
  const table = document.querySelector('#epochs table');
  const rows = table && table.tHead ? table.tHead.rows : [];
  const html = document.documentElement;
  facts.push('window ' + window.innerWidth, 'page ' + html.scrollWidth);
  if (table) {
    const width = table.getBoundingClientRect().width;
    facts.push('table ' + Math.round(width));
    for (let box = table.parentElement; box; box = box.parentElement)
      if (box.clientWidth + 1 < width || box === html) {
        facts.push('scroller ' + (box === html ? 'page' : getComputedStyle(box).overflowX));
        break;
      }
  }
  const owners = [];  // the run each metric column belongs to
  if (rows.length >= 2) {
    facts.push('headers ' + rows[0].cells.length + ' ' + rows[1].cells.length);
    for (const cell of rows[0].cells)
      if (cell.rowSpan < 2)
        for (let c = 0; c < cell.colSpan; ++c) owners.push(cell.textContent);
    for (let r = 0; r < 2; ++r)
      Array.from(rows[r].cells).forEach((cell, i) => {
        const run = r ? (owners[i] || '?') : '';
        const drawn = drawnLines(cell);
        const line = run + '\t' + cell.textContent + '\t' + drawn.lines.join('|');
        if (drawn.breaks.some(([a, b]) => word(a) && word(b)))
          facts.push('mid-word ' + line);
        else if (r === 1 && drawn.lines.length > 1)
          facts.push('wrapped ' + line);
      });
  }
  const out = document.createElement('pre');
  out.id = 'epoch-table-layout';
  out.textContent = facts.join('\n');
  document.body.appendChild(out);
})();
</script>
)";

// What kMeasureEpochTable wrote, from a dumped document: each line's first word maps to the rest of each line that
// starts with it (an empty map when the script's output is not there).
std::multimap<std::string, std::string> measured_facts(const std::string& dom) {
  const std::string open = "<pre id=\"epoch-table-layout\">";
  std::multimap<std::string, std::string> facts;
  const size_t start = dom.find(open);
  if (start == std::string::npos) return facts;
  const size_t end = dom.find("</pre>", start);
  std::string text =
      dom.substr(start + open.size(), end == std::string::npos ? std::string::npos : end - start - open.size());
  for (const auto& [entity, plain] : std::vector<std::pair<std::string, std::string>>{
           {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&nbsp;", " "}, {"&amp;", "&"}})
    for (size_t at = 0; (at = text.find(entity, at)) != std::string::npos; at += plain.size())
      text.replace(at, entity.size(), plain);
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const size_t space = line.find(' ');
    facts.emplace(line.substr(0, space), space == std::string::npos ? "" : line.substr(space + 1));
  }
  return facts;
}

int64_t fact_number(const std::multimap<std::string, std::string>& facts, const std::string& key) {
  const auto found = facts.find(key);
  return found == facts.end() ? -1 : std::stoll(found->second);
}

// "TEXT" of run "RUN", drawn as "LINE" / "LINE": a header the measuring script flagged, as a person would say it
// (no run for the head's first row).
std::string describe_header(const std::string& fact) {
  std::vector<std::string> parts;
  std::istringstream fields(fact);
  for (std::string field; std::getline(fields, field, '\t');) parts.push_back(field);
  if (parts.size() != 3) return fact;
  std::string drawn = "\"" + parts[2] + "\"";
  for (size_t at = 0; (at = drawn.find('|', at)) != std::string::npos; at += 5) drawn.replace(at, 1, "\" / \"");
  return "\"" + parts[1] + "\"" + (parts[0].empty() ? "" : " of run \"" + parts[0] + "\"") + ", drawn as " + drawn;
}

// Five runs side by side, each with validation figures (five columns) and a name of some length, at the report's
// full width and at a narrow window: every header stays whole (the metric names on one line, no name broken between
// two letters) and the page stays as wide as the window, the table scrolling in a box of its own. CSS that lets
// headers break anywhere squeezes "val_accuracy" into "val_ac" / "curac" / "y" to make the table fit instead.
TEST_F(ReportRender, FiveRunsEpochTableKeepsHeadersWholeAndScrollsInsideThePage) {
  Report r = report();
  // Names as --name gives them, and as the model files' stems do: one word, longer than its five columns.
  const std::vector<std::string> names = {"MLP 128 units, batch 32", "MLP 512-256, dropout 0.2", "cnn_tutorial",
                                          "cnn_best_preset_augmented_cosine_lr0.0005_batch128_seed42",
                                          "CNN best, cosine lr 0.0005"};
  for (size_t i = 0; i < names.size(); ++i)
    r.runs.push_back(run(names[i], 4 + static_cast<int>(i), 0.95 - 0.05 * static_cast<double>(i), test_, 4, 1));
  const std::string html_path = path("five_runs.html");
  loom::report::write_report(html_path, r);
  std::string html = loom::test::slurp(html_path);
  const size_t body_end = html.rfind("</body>");
  ASSERT_NE(body_end, std::string::npos) << "the report has no </body>";
  html.insert(body_end, kMeasureEpochTable);
  const std::string measured_path = path("five_runs_measured.html");
  {
    std::ofstream out(measured_path, std::ios::binary);
    out << html;
    ASSERT_TRUE(out.flush()) << "cannot write " << measured_path;
  }
  keep(measured_path);

  for (const int width : {1280, 800}) {
    SCOPED_TRACE("a window " + std::to_string(width) + " pixels wide");
    const auto facts = measured_facts(loom::test::dump_dom(chromium_, measured_path, width, 900));
    ASSERT_FALSE(facts.empty()) << "the measuring script wrote nothing: it did not run, or failed";
    std::cout << "five runs at " << width << ": page " << fact_number(facts, "page") << " px, table "
              << fact_number(facts, "table") << " px\n";
    ASSERT_EQ(fact_number(facts, "window"), width) << "the browser's window is not the width asked for";
    ASSERT_EQ(facts.count("headers"), 1u) << "the per-epoch table or its two head rows are missing";
    EXPECT_EQ(facts.find("headers")->second, "6 25") << "\"Epoch\" and 5 run names; 5 metric names per run";
    std::string broken;
    size_t broken_count = 0;
    for (const auto& [kind, what] : {std::pair<std::string, std::string>{"mid-word", "breaks mid-word"},
                                     {"wrapped", "is drawn on more than one line"}})
      for (auto [at, end] = facts.equal_range(kind); at != end; ++at, ++broken_count)
        broken += "\n  " + describe_header(at->second) + ": " + what;
    EXPECT_EQ(broken_count, 0u) << "headers of the per-epoch table that do not stay whole:" << broken;
    EXPECT_LE(fact_number(facts, "page"), width) << "the page is wider than the window: the per-epoch table widens "
                                                    "it instead of scrolling in a box of its own";
    // Without this the test would pass for a table that fits anyway, and show nothing about a table that does not.
    EXPECT_GT(fact_number(facts, "table"), width) << "five runs' table fits the window: it no longer tests scrolling";
    if (fact_number(facts, "table") > width) {
      const auto scroller = facts.find("scroller");
      ASSERT_NE(scroller, facts.end());
      EXPECT_TRUE(scroller->second == "auto" || scroller->second == "scroll")
          << "the box that is narrower than the table does not let the reader scroll to the rest (overflow-x: "
          << scroller->second << ")";
    }
  }
}

}  // namespace
