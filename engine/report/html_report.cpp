#include "engine/report/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/io/atomic_file.h"
#include "engine/io/file_text.h"
#include "engine/model/model_file.h"
#include "engine/report/colour_scale.h"
#include "engine/report/html_text.h"
#include "engine/report/png_image.h"
#include "engine/report/run_analysis.h"
#include "engine/report/svg_chart.h"
#include "engine/runtime/errors.h"

namespace loom::report {
namespace {

constexpr int kPreviewImages = 25;     // the tutorial's 5×5 grid of training images
constexpr int kPredictionImages = 15;  // its 5×3 grid of test predictions
constexpr size_t kMistakesShown = 10;

std::string fixed(double value, int decimals) {
  if (!std::isfinite(value)) return "&mdash;";
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

// Image i of uint8 [n, h, w] as a PNG data URI, through a colour scale.
template <class Scale>
std::string image_uri(const Tensor& images, int64_t i, Scale scale) {
  const int64_t h = images.dim(1), w = images.dim(2);
  Image8 image{w, h, 3, {}};
  image.pixels.reserve(static_cast<size_t>(w * h * 3));
  const uint8_t* pixel = images.data<uint8_t>() + i * h * w;
  for (int64_t k = 0; k < h * w; ++k) {
    const Rgb colour = scale(pixel[k]);
    image.pixels.insert(image.pixels.end(), {colour.r, colour.g, colour.b});
  }
  return png_data_uri(encode_png(image));
}

// The tutorial's grids draw images with matplotlib's "binary" map: a white background, dark garments.
std::string binary_image_uri(const Tensor& images, int64_t i) { return image_uri(images, i, binary); }

std::string image_tag(const std::string& uri, const std::string& alt, int side, const std::string& css_class = "") {
  return "<img src=\"" + uri + "\" alt=\"" + html_escape(alt) + "\" width=\"" + std::to_string(side) + "\" height=\"" +
         std::to_string(side) + "\"" + (css_class.empty() ? "" : " class=\"" + css_class + "\"") + ">";
}

// Gray images: [n, rows, columns], or with one channel as the CNN takes them, [n, rows, columns, 1].
void check_images(const LabeledImages& set, const char* which) {
  const Shape& shape = set.images.shape();
  const bool gray = shape.size() == 3 || (shape.size() == 4 && shape[3] == 1);
  if (set.images.device() != Device::CPU || set.images.dtype() != DType::U8 || !gray ||
      set.images.dim(0) != set.size() || set.size() < 1)
    throw Error(std::string("the report's ") + which +
                " images must be uint8 [n, rows, columns] or [n, rows, "
                "columns, 1] on the CPU with one label each, got " +
                shape_str(shape));
}

bool any_validated(const History& history) {
  return std::any_of(history.begin(), history.end(), [](const EpochResult& e) { return e.validated; });
}

// The epoch whose weights were evaluated: the last, or the one early stopping restored.
size_t weights_epoch(const ReportRun& run) {
  return run.weights_epoch >= 0 && static_cast<size_t>(run.weights_epoch) < run.history.size()
             ? static_cast<size_t>(run.weights_epoch)
             : run.history.size() - 1;
}

bool restored(const ReportRun& run) {
  return run.weights_epoch >= 0 && static_cast<size_t>(run.weights_epoch) < run.history.size();
}

// Columns of a run in the epoch table: loss, accuracy, time, and the validation figures when there are any.
int epoch_columns(const ReportRun& run) { return any_validated(run.history) ? 5 : 3; }

// ---- sections

std::string data_section(const Report& report) {
  const LabeledImages& train = *report.train;
  const uint8_t* labels = train.labels.data<uint8_t>();
  std::string html = "<section id=\"data\"><h2>The data set</h2>\n<p>The first " +
                     std::to_string(std::min<int64_t>(kPreviewImages, train.size())) + " of the " +
                     std::to_string(train.size()) + " training images (" + std::to_string(train.images.dim(1)) + "×" +
                     std::to_string(train.images.dim(2)) + " pixels, values 0 to 255) with their classes; the " +
                     "test set holds " + std::to_string(report.test->size()) + " more.</p>\n<div class=\"preview\">";
  html += "<div class=\"grid5\">";
  for (int64_t i = 0; i < std::min<int64_t>(kPreviewImages, train.size()); ++i) {
    const std::string name = report.class_names[labels[i]];
    html += "<figure>" + image_tag(binary_image_uri(train.images, i), name, 84, "pixels") + "<figcaption>" +
            html_escape(name) + "</figcaption></figure>";
  }
  html += "</div>\n<figure class=\"enlarged\"><div class=\"with-scale\">" +
          image_tag(image_uri(train.images, 0, [](uint8_t v) { return viridis(v / 255.0); }),
                    "training image 0, " + report.class_names[labels[0]], 280, "pixels") +
          colour_bar_svg(viridis_stops(9), 64, 280, "pixel-values") + "</div><figcaption>Training image 0 (" +
          html_escape(report.class_names[labels[0]]) + ") with its pixel values as colours</figcaption></figure>";
  return html + "</div></section>\n";
}

LineChart curves_chart(const Report& report, bool accuracy) {
  LineChart chart;
  chart.title = accuracy ? "Accuracy" : "Loss";
  chart.x_label = "epoch";
  chart.y_label = accuracy ? "accuracy" : "loss";
  chart.width = 600;  // two side by side fill the page's 1240 pixels
  chart.height = 340;
  for (size_t r = 0; r < report.runs.size(); ++r) {
    const ReportRun& run = report.runs[r];
    ChartSeries trained{run.name + (accuracy ? " accuracy" : " loss"), series_colour(r), false, {}, {}};
    ChartSeries validated{run.name + (accuracy ? " val_accuracy" : " val_loss"), series_colour(r), true, {}, {}};
    for (size_t e = 0; e < run.history.size(); ++e) {
      const EpochResult& epoch = run.history[e];
      const double x = static_cast<double>(e + 1);
      trained.x.push_back(x);
      trained.y.push_back(accuracy ? epoch.accuracy : epoch.loss);
      validated.x.push_back(x);
      validated.y.push_back(!epoch.validated ? NAN : accuracy ? epoch.val_accuracy : epoch.val_loss);
    }
    chart.series.push_back(std::move(trained));
    if (any_validated(run.history)) chart.series.push_back(std::move(validated));
  }
  return chart;
}

std::string curves_section(const Report& report) {
  return "<section id=\"curves\"><h2>Learning curves</h2>\n<p>Per epoch; training solid, validation dashed.</p>\n"
         "<div class=\"charts\">" +
         line_chart_svg(curves_chart(report, false)) + line_chart_svg(curves_chart(report, true)) +
         "</div></section>\n";
}

std::string epochs_section(const Report& report) {
  size_t epochs = 0;
  for (const ReportRun& run : report.runs) epochs = std::max(epochs, run.history.size());
  std::string head1 = "<tr><th rowspan=\"2\">Epoch</th>", head2 = "<tr>";
  int columns = 1;
  for (const ReportRun& run : report.runs) {
    const bool validated = any_validated(run.history);
    columns += epoch_columns(run);
    head1 += "<th colspan=\"" + std::to_string(epoch_columns(run)) + "\">" + html_escape(run.name) + "</th>";
    head2 += std::string("<th class=\"metric\">loss</th><th class=\"metric\">accuracy</th>") +
             (validated ? "<th class=\"metric\">val_loss</th><th class=\"metric\">val_accuracy</th>" : "") +
             "<th class=\"metric\">time</th>";
  }
  // Many runs side by side make the table wider than the page: it scrolls rather than break its headers mid-word.
  std::string html =
      "<section id=\"epochs\"><h2>Epoch by epoch</h2>\n<div class=\"wide\"><table class=\"numbers\">"
      "<thead>" +
      head1 + "</tr>" + head2 + "</tr></thead><tbody>";
  for (size_t e = 0; e < epochs; ++e) {
    html += "<tr><th>" + std::to_string(e + 1) + "</th>";
    for (const ReportRun& run : report.runs) {
      const bool validated = any_validated(run.history);
      if (e >= run.history.size()) {
        for (int c = 0; c < epoch_columns(run); ++c) html += "<td></td>";
        continue;
      }
      const EpochResult& epoch = run.history[e];
      html += "<td>" + fixed(epoch.loss, 4) + "</td><td>" + fixed(epoch.accuracy, 4) + "</td>";
      if (validated)
        html += epoch.validated
                    ? "<td>" + fixed(epoch.val_loss, 4) + "</td><td>" + fixed(epoch.val_accuracy, 4) + "</td>"
                    : "<td></td><td></td>";
      // A history read from Keras's files has no times (NaN: not recorded).
      html += "<td>" + (std::isfinite(epoch.seconds) ? fixed(epoch.seconds, 1) + " s" : std::string("not recorded")) +
              (restored(run) && e == weights_epoch(run) ? " (restored)" : "") + "</td>";
    }
    html += "</tr>";
  }
  if (epochs == 0)
    html += "<tr><td colspan=\"" + std::to_string(columns) + "\">No run has a training history.</td></tr>";
  return html + "</tbody></table></div></section>\n";
}

std::string accuracy_section(const Report& report) {
  std::string html =
      "<section id=\"accuracy\"><h2>Training, validation and test accuracy</h2>\n"
      "<p>Training and validation accuracy are those Keras logs for the epoch whose weights were "
      "tested: the last, or the best one when early stopping restored it.</p>\n"
      "<table class=\"numbers\"><thead><tr><th>run</th><th>weights of epoch</th><th>training</th>"
      "<th>validation</th><th>test</th><th>test loss</th></tr></thead><tbody>";
  std::string words;
  for (const ReportRun& run : report.runs) {
    const EpochResult* epoch = run.history.empty() ? nullptr : &run.history[weights_epoch(run)];
    const std::string which =
        !epoch ? "&mdash;" : std::to_string(weights_epoch(run) + 1) + (restored(run) ? " (best, restored)" : " (last)");
    html += "<tr><th>" + html_escape(run.name) + "</th><td>" + which + "</td><td>" +
            (epoch ? fixed(epoch->accuracy, 4) : "&mdash;") + "</td><td>" +
            (epoch && epoch->validated ? fixed(epoch->val_accuracy, 4) : "&mdash;") + "</td><td>" +
            fixed(run.test.accuracy, 4) + "</td><td>" + fixed(run.test.loss, 4) + "</td></tr>";
    words += "<p><strong>" + html_escape(run.name) + ":</strong> " +
             (epoch ? html_escape(overfitting_in_words(epoch->accuracy, run.test.accuracy))
                    : std::string("no training history was given, so the gap to training accuracy is unknown.")) +
             "</p>\n";
  }
  return html + "</tbody></table>\n" + words + "</section>\n";
}

std::string confusion_table(const Report& report, const ReportRun& run) {
  const ConfusionMatrix matrix = confusion_matrix(run.test_probabilities, report.test->labels);
  std::string html = "<table class=\"confusion\"><thead><tr><th>true \\ predicted</th>";
  for (const std::string& name : report.class_names) html += "<th>" + html_escape(name) + "</th>";
  const bool unpredicted = matrix.total_unpredicted() > 0;
  if (unpredicted) html += "<th>no prediction</th>";
  html += "<th>accuracy</th></tr></thead><tbody>";
  for (int64_t t = 0; t < matrix.classes; ++t) {
    html += "<tr><th>" + html_escape(report.class_names[static_cast<size_t>(t)]) + "</th>";
    const double total = static_cast<double>(std::max<int64_t>(1, matrix.samples_of(t)));
    for (int64_t p = 0; p < matrix.classes; ++p) {
      const double share = matrix.at(t, p) / total;
      // Right answers shade blue and mistakes red, each as deep as its share of the true class's images.
      const int alpha = static_cast<int>(std::lround(std::sqrt(share) * 255));
      char style[64];
      std::snprintf(style, sizeof style, "background:%s%02x;color:%s", t == p ? "#1f77b4" : "#d62728", alpha,
                    share > 0.45 ? "#fff" : "#222");
      html += "<td style=\"" + std::string(style) + "\">" + std::to_string(matrix.at(t, p)) + "</td>";
    }
    if (unpredicted) html += "<td>" + std::to_string(matrix.unpredicted[static_cast<size_t>(t)]) + "</td>";
    html += "<td class=\"class-accuracy\">" + fixed(matrix.class_accuracy(t), 3) + "</td></tr>";
  }
  html += "</tbody></table>";
  if (unpredicted)
    html += "<p class=\"warning\">" + std::to_string(matrix.total_unpredicted()) +
            " test images have probabilities "
            "that are not finite numbers: the model predicts nothing for them (it has diverged).</p>";
  return html;
}

std::string per_run(const Report& report, const std::string& id, const std::string& heading, const std::string& intro,
                    std::string (*body)(const Report&, const ReportRun&)) {
  std::string html = "<section id=\"" + id + "\"><h2>" + heading + "</h2>\n" +
                     (intro.empty() ? "" : "<p>" + intro + "</p>\n") + "<div class=\"runs\">";
  for (const ReportRun& run : report.runs)
    html += "<div class=\"run\"><h3>" + html_escape(run.name) + "</h3>" + body(report, run) + "</div>";
  return html + "</div></section>\n";
}

std::vector<float> probabilities_of(const ReportRun& run, int64_t i) {
  const int64_t classes = run.test_probabilities.dim(1);
  const float* p = run.test_probabilities.f32() + i * classes;
  return std::vector<float>(p, p + classes);
}

// "Sneaker 97% (Sneaker)", blue when right and red when wrong, as the tutorial's plot_image labels them;
// `predicted` < 0: no prediction (non-finite probabilities).
std::string verdict(const Report& report, int predicted, int truth, float confidence) {
  char percent[16];
  std::snprintf(percent, sizeof percent, "%.0f%%", 100.0 * confidence);
  const std::string guess = predicted < 0
                                ? std::string("no prediction")
                                : html_escape(report.class_names[static_cast<size_t>(predicted)]) + " " + percent;
  return std::string("<span class=\"") + (predicted == truth ? "right" : "wrong") + "\">" + guess + " (" +
         html_escape(report.class_names[static_cast<size_t>(truth)]) + ")</span>";
}

std::string predictions_grid(const Report& report, const ReportRun& run) {
  const uint8_t* labels = report.test->labels.data<uint8_t>();
  std::string html = "<div class=\"grid3\">";
  for (int64_t i = 0; i < std::min<int64_t>(kPredictionImages, report.test->size()); ++i) {
    const std::vector<float> p = probabilities_of(run, i);
    const int predicted = predicted_class(p.data(), static_cast<int64_t>(p.size()));
    html += "<figure class=\"prediction\"><div class=\"pair\">" +
            image_tag(binary_image_uri(report.test->images, i), "test image " + std::to_string(i), 70, "pixels") +
            probability_bars_svg(p, predicted, labels[i], report.class_names, 104, 72) + "</div><figcaption>" +
            verdict(report, predicted, labels[i], predicted < 0 ? NAN : p[static_cast<size_t>(predicted)]) +
            "</figcaption></figure>";
  }
  return html + "</div>";
}

std::string mistakes_list(const Report& report, const ReportRun& run) {
  const std::vector<Mistake> mistakes =
      most_confident_mistakes(run.test_probabilities, report.test->labels, kMistakesShown);
  if (mistakes.empty()) return "<p>No test image was misclassified.</p>";
  std::string html = "<div class=\"mistakes\">";
  for (const Mistake& m : mistakes)
    html += "<figure>" +
            image_tag(binary_image_uri(report.test->images, m.index), "test image " + std::to_string(m.index), 84,
                      "pixels") +
            "<figcaption>" + verdict(report, m.predicted, m.truth, m.confidence) +
            "<br><span class=\"index\">test "
            "image " +
            std::to_string(m.index) + "</span></figcaption></figure>";
  return html + "</div>";
}

std::string model_and_settings(const Report&, const ReportRun& run) {
  std::string html = "<pre class=\"summary\">" + html_escape_lines(run.summary) + "</pre><table class=\"settings\">";
  for (const auto& [key, value] : run.settings)
    html += "<tr><th>" + html_escape(key) + "</th><td>" + html_escape(value) + "</td></tr>";
  double total = 0;
  std::string times;
  bool timed = false;
  for (size_t e = 0; e < run.history.size(); ++e) {
    const double seconds = run.history[e].seconds;
    timed = timed || std::isfinite(seconds);
    if (std::isfinite(seconds)) total += seconds;
    times += (e ? ", " : "") + (std::isfinite(seconds) ? fixed(seconds, 1) : std::string("?"));
  }
  html += "<tr><th>epochs trained</th><td>" + std::to_string(run.history.size()) + "</td></tr>";
  if (!run.history.empty())
    html += "<tr><th>epoch times</th><td>" +
            (timed ? times + " s (" + fixed(total, 1) + " s in all)" : std::string("not recorded")) + "</td></tr>";
  return html + "</table>";
}

constexpr const char* kStyle = R"(
body{font-family:sans-serif;color:#222;background:#fff;max-width:1280px;margin:0 auto;padding:16px 20px}
h1{font-size:26px;margin:8px 0}h2{font-size:20px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:28px}
h3{font-size:16px;margin:8px 0}p{line-height:1.45}
figure{margin:0}figcaption{font-size:12px;text-align:center;margin-top:2px}
img.pixels{image-rendering:pixelated;border:1px solid #ddd}
.preview{display:flex;gap:32px;align-items:flex-start;flex-wrap:wrap}
.grid5{display:grid;grid-template-columns:repeat(5,96px);gap:6px 8px}
.with-scale{display:flex;gap:8px;align-items:flex-start}.enlarged figcaption{text-align:left}
.charts{display:flex;gap:24px;flex-wrap:wrap}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ccc;padding:3px 7px}
table.numbers td{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}thead th{background:#f2f2f2}
.wide{overflow-x:auto}.wide th{overflow-wrap:normal}th.metric{white-space:nowrap}
.runs{display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start}.run{min-width:0}
table.confusion{font-size:11px}table.confusion th,table.confusion td{padding:2px 4px}
table.confusion td{text-align:right;min-width:30px}table.confusion thead th{max-width:56px;white-space:normal}.class-accuracy{font-weight:bold;background:#f7f7f7}
.grid3{display:grid;grid-template-columns:repeat(3,184px);gap:10px 8px}.pair{display:flex;gap:6px}
.right{color:#0000ff}.wrong{color:#ff0000}.index{color:#666}.warning{color:#ff0000}
h1,h3,th,figcaption,table.settings td{overflow-wrap:anywhere}
.mistakes{display:grid;grid-template-columns:repeat(5,112px);gap:8px 6px}.mistakes figcaption{font-size:11px}
pre.summary{font-size:12px;background:#f7f7f7;padding:8px;border:1px solid #ddd;overflow-x:auto}
table.settings th{text-align:left;background:#f7f7f7;font-weight:normal}
)";

}  // namespace

std::string weights_epoch_text(int epoch_index) {
  return std::to_string(epoch_index + 1) + " (the best, restored by early stopping)";
}

int weights_epoch_from(const std::vector<std::pair<std::string, std::string>>& description) {
  const std::string value = described_value(description, kWeightsEpochKey);
  const size_t digits = value.find_first_not_of("0123456789");
  if (digits == 0 || digits > 9) return -1;
  const int epoch = std::stoi(value.substr(0, digits));
  return epoch >= 1 && value == weights_epoch_text(epoch - 1) ? epoch - 1 : -1;
}

std::string report_html(const Report& report) {
  if (report.runs.empty()) throw Error("a report needs at least one run");
  if (!report.train || !report.test) throw Error("a report needs the training and the test set");
  check_images(*report.train, "training");
  check_images(*report.test, "test");
  for (const ReportRun& run : report.runs) {
    const Tensor& p = run.test_probabilities;
    if (p.device() != Device::CPU || p.dtype() != DType::F32 || p.shape().size() != 2 ||
        p.dim(0) != report.test->size() || p.dim(1) != static_cast<int64_t>(report.class_names.size()))
      throw Error("run '" + one_line(run.name) + "' has probabilities of shape " + shape_str(p.shape()) + ", not [" +
                  std::to_string(report.test->size()) + ", " + std::to_string(report.class_names.size()) +
                  "] floats on the CPU for " + std::to_string(report.class_names.size()) + " class names");
  }
  // Labels are checked against the classes by the confusion matrix; the preview's labels here.
  for (int64_t i = 0; i < report.train->size(); ++i)
    if (report.train->labels.data<uint8_t>()[i] >= report.class_names.size())
      throw Error("training label " + std::to_string(report.train->labels.data<uint8_t>()[i]) + " of image " +
                  std::to_string(i) + " is not one of the " + std::to_string(report.class_names.size()) + " classes");

  std::string names;
  for (size_t r = 0; r < report.runs.size(); ++r) names += (r ? ", " : "") + html_escape(report.runs[r].name);
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" +
                     html_escape(report.title) + "</title><style>" + kStyle + "</style></head><body>\n<h1>" +
                     html_escape(report.title) + "</h1>\n<p>" + (report.runs.size() == 1 ? "Run: " : "Runs: ") + names +
                     ". Written by loom.</p>\n";
  html += data_section(report);
  html += curves_section(report);
  html += epochs_section(report);
  html += accuracy_section(report);
  html += per_run(report, "confusion", "Confusion matrix",
                  "Rows are the true classes of the test images, columns the predicted ones; the last column is the "
                  "share of each class predicted right.",
                  confusion_table);
  html += per_run(report, "predictions", "Predictions",
                  "The first 15 test images with the probabilities of the ten classes: the predicted class's bar red, "
                  "the true class's blue (one blue bar when right); the label gives the predicted class, its "
                  "probability and the true class.",
                  predictions_grid);
  html += per_run(report, "mistakes", "Most confident mistakes",
                  "The test images predicted wrong with the highest probability.", mistakes_list);
  html += per_run(report, "model", "Model and settings", "", model_and_settings);
  return html + "</body></html>\n";
}

void check_report_path(const std::string& path) {
  if (!has_extension(path, ".html") && !has_extension(path, ".htm"))
    throw UsageError("report '" + one_line(path) + "' must end in .html or .htm");
  check_writable_path(path, "report");
}

void write_report(const std::string& path, const Report& report) { write_file_atomically(path, report_html(report)); }

}  // namespace loom::report
