// The HTML report's pieces (engine/report/): escaping and base64, PNG encoding (read back through predict's PNG
// reader), the analyses (confusion matrix, confident mistakes, the overfitting sentence), and the document: every
// section, the runs side by side, user text escaped, and inconsistent input refused. How a browser draws it:
// test_report_render.cpp.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/data/fashion_mnist.h"
#include "engine/data/picture_file.h"
#include "engine/io/atomic_file.h"
#include "engine/report/html_report.h"
#include "engine/report/html_text.h"
#include "engine/report/png_image.h"
#include "engine/report/run_analysis.h"
#include "engine/runtime/errors.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

using namespace loom::report;

// Probabilities [n, classes] whose largest entry is predicted[i], with that probability.
Tensor probabilities(const std::vector<int>& predicted, const std::vector<float>& confidence, int64_t classes) {
  const auto n = static_cast<int64_t>(predicted.size());
  Tensor p({n, classes}, Device::CPU, DType::F32);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < classes; ++k)
      p.f32()[i * classes + k] = k == predicted[static_cast<size_t>(i)]
                                     ? confidence[static_cast<size_t>(i)]
                                     : (1 - confidence[static_cast<size_t>(i)]) / static_cast<float>(classes - 1);
  return p;
}

Tensor labels(const std::vector<int>& values) {
  Tensor t({static_cast<int64_t>(values.size())}, Device::CPU, DType::U8);
  for (size_t i = 0; i < values.size(); ++i) t.data<uint8_t>()[i] = static_cast<uint8_t>(values[i]);
  return t;
}

class ReportFiles : public TempDirTest {};

TEST(HtmlText, EscapesMarkupAndSpellsOutWhatOneLineWould) {
  EXPECT_EQ(html_escape("<b>Tom & \"Jerry's\"</b>"), "&lt;b&gt;Tom &amp; &quot;Jerry&#39;s&quot;&lt;/b&gt;");
  EXPECT_EQ(html_escape("a\nb\x1b"), "a\\nb\\x1b");
  EXPECT_EQ(html_escape("caf\xc3\xa9 \xff"), "caf\xc3\xa9 \\xff");  // UTF-8 kept, a stray byte spelled out
  EXPECT_EQ(html_escape_lines("<a>\n\nb&"), "&lt;a&gt;\n\nb&amp;");
}

TEST(HtmlText, Base64AsRfc4648) {
  // RFC 4648's test vectors.
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) EXPECT_EQ(base64(plain), encoded) << plain;
  EXPECT_EQ(base64(std::string("\xff\xfe\x00", 3)), "//4A");
  EXPECT_EQ(png_data_uri("foo"), "data:image/png;base64,Zm9v");
}

TEST_F(ReportFiles, EncodedPngReadsBackPixelForPixel) {
  Image8 gray{28, 28, 1, {}};
  for (int i = 0; i < 28 * 28; ++i) gray.pixels.push_back(static_cast<uint8_t>((i * 37) % 256));
  const std::string png = encode_png(gray);
  EXPECT_EQ(png.substr(0, 8), "\x89PNG\r\n\x1a\n");
  write_file_atomically(path("gray.png"), png);
  // predict's reader leaves a 28×28 gray picture as it is.
  Tensor back = read_picture(path("gray.png"));
  EXPECT_EQ(std::vector<uint8_t>(back.data<uint8_t>(), back.data<uint8_t>() + 28 * 28), gray.pixels);

  Image8 colour{28, 28, 3, std::vector<uint8_t>(28 * 28 * 3, 0)};
  for (int i = 0; i < 28 * 28; ++i) colour.pixels[static_cast<size_t>(3 * i + 1)] = 200;  // pure green
  write_file_atomically(path("green.png"), encode_png(colour));
  back = read_picture(path("green.png"));
  EXPECT_EQ(back.data<uint8_t>()[0], static_cast<uint8_t>(std::lround(0.587 * 200)));  // luma of the green
}

TEST(PngImage, InconsistentImagesAreRefused) {
  expect_one_line_error<Error>([] { encode_png({0, 5, 1, {}}); }, {"cannot encode a PNG of 0x5x1"});
  expect_one_line_error<Error>([] { encode_png({2, 2, 4, std::vector<uint8_t>(16)}); }, {"gray or RGB"});
  expect_one_line_error<Error>([] { encode_png({2, 2, 3, std::vector<uint8_t>(4)}); }, {"4 values for a 2x2x3 image"});
}

TEST(RunAnalysis, ConfusionMatrixCountsTrueByPredicted) {
  //                               truth:   0  0  1  1  1  2
  const Tensor p = probabilities({0, 1, 1, 1, 0, 1}, {.9f, .6f, .8f, .7f, .5f, .99f}, 3);
  const ConfusionMatrix m = confusion_matrix(p, labels({0, 0, 1, 1, 1, 2}));
  ASSERT_EQ(m.classes, 3);
  EXPECT_EQ(m.counts, (std::vector<int64_t>{1, 1, 0, 1, 2, 0, 0, 1, 0}));
  EXPECT_EQ(m.samples_of(1), 3);
  EXPECT_DOUBLE_EQ(m.class_accuracy(0), 0.5);
  EXPECT_DOUBLE_EQ(m.class_accuracy(1), 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.class_accuracy(2), 0);
  EXPECT_DOUBLE_EQ(m.accuracy(), 3.0 / 6);
  const ConfusionMatrix empty_class = confusion_matrix(probabilities({0}, {.9f}, 3), labels({0}));
  EXPECT_TRUE(std::isnan(empty_class.class_accuracy(2)));
}

TEST(RunAnalysis, MostConfidentMistakesFirst) {
  const Tensor p = probabilities({1, 0, 2, 2, 1, 0}, {.7f, .95f, .9f, .9f, .99f, .6f}, 3);
  const std::vector<Mistake> mistakes = most_confident_mistakes(p, labels({0, 0, 1, 1, 1, 2}), 3);
  ASSERT_EQ(mistakes.size(), 3u);
  EXPECT_EQ(mistakes[0].index, 2);  // .9 wrong, before index 3's equal .9 (ties by index)
  EXPECT_EQ(mistakes[1].index, 3);
  EXPECT_EQ(mistakes[2].index, 0);
  EXPECT_EQ(mistakes[0].predicted, 2);
  EXPECT_EQ(mistakes[0].truth, 1);
  EXPECT_FLOAT_EQ(mistakes[0].confidence, .9f);
  EXPECT_EQ(most_confident_mistakes(p, labels({0, 0, 1, 1, 1, 2}), 10).size(), 4u);  // index 1 and 4 are right
  EXPECT_TRUE(most_confident_mistakes(p, labels({1, 0, 2, 2, 1, 0}), 10).empty());
}

TEST(RunAnalysis, NonFiniteProbabilitiesPredictNothing) {
  Tensor p = probabilities({0, 1, 2, 1}, {.9f, .8f, .7f, .95f}, 3);
  p.f32()[1 * 3 + 2] = NAN;       // image 1: a diverged model's output
  p.f32()[3 * 3 + 0] = INFINITY;  // image 3
  EXPECT_EQ(predicted_class(p.f32() + 3, 3), -1);
  EXPECT_EQ(predicted_class(p.f32(), 3), 0);
  const ConfusionMatrix m = confusion_matrix(p, labels({0, 0, 2, 2}));
  EXPECT_EQ(m.counts, (std::vector<int64_t>{1, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(m.unpredicted, (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(m.total_unpredicted(), 2);
  EXPECT_DOUBLE_EQ(m.class_accuracy(0), 0.5);  // an image with no prediction counts as wrong
  EXPECT_DOUBLE_EQ(m.accuracy(), 0.5);
  EXPECT_TRUE(most_confident_mistakes(p, labels({0, 0, 2, 2}), 10).empty());
}

TEST(RunAnalysis, InconsistentInputIsRefused) {
  const Tensor p = probabilities({0, 1}, {.9f, .9f}, 3);
  expect_one_line_error<Error>(
      [&] {
        confusion_matrix(p, labels({0, 3}));
      },
      {"label 3 of sample 1 is not one of the 3 classes"});
  expect_one_line_error<Error>([&] { most_confident_mistakes(p, labels({0}), 1); }, {"uint8 labels [2]"});
  Tensor flat({6}, Device::CPU, DType::F32);
  expect_one_line_error<Error>([&] { confusion_matrix(flat, labels({0, 1})); }, {"float [n, classes]"});
}

TEST(RunAnalysis, OverfittingInWords) {
  const std::string big = overfitting_in_words(0.95, 0.88);
  EXPECT_NE(big.find("7.0 points below training accuracy"), std::string::npos) << big;
  EXPECT_NE(big.find("overfits"), std::string::npos) << big;
  EXPECT_NE(big.find("training 0.9500, test 0.8800"), std::string::npos) << big;
  EXPECT_NE(overfitting_in_words(0.9107, 0.8850).find("2.6 points below"), std::string::npos);
  EXPECT_NE(overfitting_in_words(0.9107, 0.8850).find("a little overfitting"), std::string::npos);
  EXPECT_NE(overfitting_in_words(0.871, 0.868).find("no sign of overfitting"), std::string::npos);
  EXPECT_NE(overfitting_in_words(0.85, 0.88).find("3.0 points above"), std::string::npos);
  EXPECT_NE(overfitting_in_words(NAN, 0.88).find("unknown"), std::string::npos);
}

// A small complete report: two runs on 20 test images, a quarter of them predicted wrong.
class ReportDocument : public ::testing::Test {
 protected:
  void SetUp() override {
    train_ = random_labeled_images(30, {28, 28}, 10, 1);
    test_ = random_labeled_images(20, {28, 28}, 10, 2);
  }
  // A new report each time (its probabilities are tensors, which move but do not copy).
  Report report() const {
    Report report;
    report.train = &train_;
    report.test = &test_;
    report.class_names.assign(kFashionMnistClassNames.begin(), kFashionMnistClassNames.end());
    const uint8_t* truth = test_.labels.data<uint8_t>();
    for (int r = 0; r < 2; ++r) {
      ReportRun& run = report.runs.emplace_back();
      run.name = r == 0 ? "MLP" : "<CNN & co>";
      run.summary = "Model: \"sequential\"\n dense (Dense)  (None, 10)  1290\n";
      run.settings = {{"program", r == 0 ? "train_mlp" : "train_cnn"}, {"--epochs", "3"}};
      for (int e = 0; e < 3 + r; ++e) {
        EpochResult epoch;
        epoch.loss = 0.5 - 0.05 * e;
        epoch.accuracy = 0.8 + 0.02 * e;
        epoch.validated = r == 0;
        epoch.val_loss = 0.55 - 0.04 * e;
        epoch.val_accuracy = 0.79 + 0.02 * e;
        epoch.seconds = 1.5;
        run.history.push_back(epoch);
      }
      std::vector<int> predicted;
      for (int64_t i = 0; i < test_.size(); ++i) predicted.push_back(i % 4 == 0 ? (truth[i] + 1) % 10 : truth[i]);
      run.test_probabilities = probabilities(predicted, std::vector<float>(predicted.size(), 0.8f), 10);
      run.test = {0.4, 0.75, 0};
    }
    return report;
  }
  LabeledImages train_, test_;
};

TEST_F(ReportDocument, HasEverySectionWithTheRunsSideBySide) {
  const std::string html = report_html(report());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  for (const char* id : {"data", "curves", "epochs", "accuracy", "confusion", "predictions", "mistakes", "model"})
    EXPECT_EQ(count_of(html, std::string("<section id=\"") + id + "\">"), 1u) << id;
  // No network: every image inline, no scripts, no external style sheets or fonts.
  EXPECT_EQ(count_of(html, "src=\"data:image/png;base64,"), count_of(html, "<img "));
  EXPECT_EQ(count_of(html, "<img "), 25u + 1 + 2 * (15 + 5));  // preview, enlarged, per run: predictions, mistakes
  EXPECT_EQ(html.find("<script"), std::string::npos);
  for (const char* outside : {"src=\"http", "href=", "@import", "url(http", "<link"})
    EXPECT_EQ(html.find(outside), std::string::npos) << outside;
  EXPECT_EQ(count_of(html, "<svg"), count_of(html, "</svg>"));
  EXPECT_EQ(count_of(html, "<svg"), 1u + 2 + 2 * 15);  // colour bar, two curve charts, the probability bars
  // The epoch table groups each run's columns under its name; the MLP validated, the other did not.
  EXPECT_NE(html.find("<th colspan=\"5\">MLP</th>"), std::string::npos);
  EXPECT_NE(html.find("<th colspan=\"3\">&lt;CNN &amp; co&gt;</th>"), std::string::npos);
  EXPECT_EQ(count_of(html, "<td>0.7500</td>"), 2u);  // each run's test accuracy
  EXPECT_NE(html.find("Test accuracy is"), std::string::npos);
  EXPECT_NE(html.find("dense (Dense)  (None, 10)  1290\n"), std::string::npos);  // the summary keeps its lines
  EXPECT_NE(html.find("<th>--epochs</th><td>3</td>"), std::string::npos);
  EXPECT_NE(html.find("4.5 s in all"), std::string::npos);  // the MLP's three epochs of 1.5 s
  // User text never reaches the page raw.
  EXPECT_EQ(html.find("<CNN"), std::string::npos);
  // One caption per picture, as HTML allows.
  EXPECT_EQ(count_of(html, "<figcaption"), count_of(html, "<figure"));
  // The tutorial's label colours: blue when right, red when wrong (a quarter of the predictions here).
  EXPECT_EQ(count_of(html, "<span class=\"wrong\">"), 2u * (5 + 4));  // mistakes, and the first 15's wrong ones
  EXPECT_NE(html.find(".right{color:#0000ff}.wrong{color:#ff0000}"), std::string::npos);
  EXPECT_EQ(html.find("no prediction"), std::string::npos);
}

TEST_F(ReportDocument, TakesImagesWithAChannelAsTheCnnDoes) {
  const LabeledImages train{train_.images.reshaped({30, 28, 28, 1}), train_.labels.view()};
  const LabeledImages test{test_.images.reshaped({20, 28, 28, 1}), test_.labels.view()};
  Report with_channel = report();
  with_channel.train = &train;
  with_channel.test = &test;
  // The same pictures as from [n, 28, 28].
  EXPECT_EQ(report_html(with_channel), report_html(report()));
  const LabeledImages colour{Tensor({10, 28, 28, 3}, Device::CPU, DType::U8), train_.labels.rows(0, 10)};
  with_channel.train = &colour;
  expect_one_line_error<Error>(
      [&] { report_html(with_channel); },
      {"training images must be uint8 [n, rows, columns] or [n, rows, columns, 1]", "got (10, 28, 28, 3)"});
}

TEST_F(ReportDocument, RunWithoutHistorySaysSo) {
  Report one = report();
  one.runs.resize(1);
  one.runs[0].history.clear();
  const std::string html = report_html(one);
  EXPECT_NE(html.find("no training history was given"), std::string::npos);
  EXPECT_NE(html.find("No run has a training history."), std::string::npos);
  EXPECT_NE(html.find("no data"), std::string::npos);  // the empty curves say so
  EXPECT_NE(html.find("<td colspan=\"4\">No run has a training history."), std::string::npos);
}

TEST_F(ReportDocument, WeightsRestoredByEarlyStoppingAreTheOnesCompared) {
  Report restored = report();
  restored.runs.resize(1);
  restored.runs[0].weights_epoch = 0;  // of 3: accuracy 0.80, the last's 0.84
  const std::string html = report_html(restored);
  EXPECT_NE(html.find("<td>1 (best, restored)</td><td>0.8000</td><td>0.7900</td>"), std::string::npos);
  EXPECT_NE(html.find("5.0 points below training accuracy (training 0.8000, test 0.7500)"), std::string::npos);
  EXPECT_NE(html.find("<td>1.5 s (restored)</td>"), std::string::npos);
  EXPECT_NE(report_html(report()).find("<td>3 (last)</td><td>0.8400</td>"), std::string::npos);

  EXPECT_EQ(weights_epoch_from({{"program", "x"}, {kWeightsEpochKey, weights_epoch_text(6)}}), 6);
  EXPECT_EQ(weights_epoch_from({{"program", "x"}}), -1);
  for (const char* other : {"7", "0 (the best, restored by early stopping)", "x (the best, restored by early stopping)",
                            "99999999999 (the best, restored by early stopping)"})
    EXPECT_EQ(weights_epoch_from({{kWeightsEpochKey, other}}), -1) << other;
}

TEST_F(ReportDocument, ADivergedModelPredictsNothingAndTheReportSaysSo) {
  Report diverged = report();
  diverged.runs.resize(1);
  std::fill_n(diverged.runs[0].test_probabilities.f32(), 10 * 3, NAN);  // the first three test images
  diverged.runs[0].history[1].loss = NAN;
  const std::string html = report_html(diverged);
  EXPECT_NE(html.find("<th>no prediction</th>"), std::string::npos);
  EXPECT_NE(html.find("3 test images have probabilities that are not finite numbers"), std::string::npos);
  EXPECT_EQ(count_of(html, "<span class=\"wrong\">no prediction ("), 3u);
  EXPECT_EQ(html.find("nan%"), std::string::npos);
  EXPECT_NE(html.find("<td>&mdash;</td>"), std::string::npos);  // the NaN loss in the epoch table
}

TEST_F(ReportDocument, InconsistentReportsAreRefused) {
  Report none = report();
  none.runs.clear();
  expect_one_line_error<Error>([&] { report_html(none); }, {"at least one run"});
  Report wrong_shape = report();
  wrong_shape.runs[1].test_probabilities = probabilities({0}, {1.f}, 10);
  expect_one_line_error<Error>([&] { report_html(wrong_shape); },
                               {"run '<CNN & co>' has probabilities of shape (1, 10), not [20, 10]"});
  Report few_names = report();
  few_names.class_names.resize(9);
  expect_one_line_error<Error>([&] { report_html(few_names); }, {"for 9 class names"});
  Report no_data = report();
  no_data.train = nullptr;
  expect_one_line_error<Error>([&] { report_html(no_data); }, {"the training and the test set"});
}

TEST_F(ReportFiles, ReportPathsAreCheckedBeforeTraining) {
  check_report_path(path("r.html"));
  check_report_path(path("r.htm"));
  expect_one_line_error<UsageError>([&] { check_report_path(path("r.txt")); }, {"must end in .html or .htm"});
  expect_one_line_error<UsageError>([&] { check_report_path(path("missing/r.html")); },
                                    {"report '" + path("missing/r.html") + "'", "cannot write into"});
}

}  // namespace
}  // namespace loom::test
