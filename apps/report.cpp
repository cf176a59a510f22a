// Builds the HTML report (engine/report/html_report.h) from saved models and their histories: one run, or several
// side by side (the MLP's and the CNN's), each evaluated on the Fashion-MNIST test set here.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "apps/data_flag.h"
#include "apps/file_flags.h"
#include "apps/number_flags.h"
#include "apps/run_guarded.h"
#include "apps/threads_flag.h"
#include "engine/data/fashion_mnist.h"
#include "engine/io/file_text.h"
#include "engine/model/model_file.h"
#include "engine/report/html_report.h"
#include "engine/runtime/device.h"
#include "engine/runtime/errors.h"
#include "engine/training/checkpoint.h"
#include "engine/training/history_file.h"
#include "engine/training/inference.h"

namespace {

using loom::UsageError;

struct Flags {
  std::vector<std::vector<std::string>> runs;  // MODEL [HISTORY] each
  std::vector<std::string> names;
  std::string output, data, title = "loom training report", device = "auto";
  int64_t batch_size = 32;
  int threads = 0;  // --threads; 0: not given
};

// "runs/mlp.safetensors" → "mlp"
std::string stem(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  const size_t dot = name.find_last_of('.');
  if (dot != std::string::npos && dot > 0) name.resize(dot);
  return name.empty() ? path : name;
}

// Every --run is MODEL or MODEL HISTORY, every file exists, and the report replaces none of them.
void check_flags(const Flags& flags) {
  for (const auto& run : flags.runs) {
    if (run.size() > 2)
      throw UsageError("--run takes a model file and, optionally, its history file, got " + std::to_string(run.size()) +
                       " files: '" + loom::one_line(run[0]) + "', '" + loom::one_line(run[1]) + "', '" +
                       loom::one_line(run[2]) + "'...");
    loom::apps::require_existing_file("--run", run[0]);
    if (run.size() == 2) {
      try {
        loom::is_csv(run[1]);
      } catch (const UsageError& e) {
        throw UsageError(std::string("--run: ") + e.what());
      }
      loom::apps::require_existing_file("--run", run[1]);
    }
    for (const std::string& file : run)
      if (loom::apps::same_file(flags.output, file))
        throw UsageError("--output would replace the file '" + loom::one_line(file) + "' that --run reads");
  }
  if (!flags.names.empty() && flags.names.size() != flags.runs.size())
    throw UsageError("--name given " + loom::times_text(static_cast<long long>(flags.names.size())) + " for " +
                     loom::count_text(static_cast<long long>(flags.runs.size()), "run") +
                     " (give one name per --run, in the same order, or none)");
}

// Distinct names for the runs: --name's, else the model files' stems ("mlp", "mlp (2)" for a repeated stem).
std::vector<std::string> run_names(const Flags& flags) {
  if (!flags.names.empty()) {
    std::set<std::string> seen;
    for (const std::string& name : flags.names) {
      if (name.empty()) throw UsageError("--name must not be empty");
      if (!seen.insert(name).second) throw UsageError("--name '" + loom::one_line(name) + "' is given twice");
    }
    return flags.names;
  }
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const auto& run : flags.runs) {
    std::string name = stem(run[0]);
    for (int k = 2; !seen.insert(name).second; ++k) name = stem(run[0]) + " (" + std::to_string(k) + ")";
    names.push_back(name);
  }
  return names;
}

bool same_figure(double a, double b) { return std::fabs(a - b) <= 1e-6 * std::max(1.0, std::fabs(a)); }

// Refuses a history file that is not the run's own: conclusions drawn from another run's curves ("the model
// overfits", "weights of epoch 3") would be about a model the report does not show. A checkpoint holds its history to
// compare with; a --save file records its run's epoch count and last loss (engine/report/html_report.h). Files that
// record neither are checked against what they do record: the epochs asked for and the epoch of their weights.
void check_history_is_the_runs(const loom::History& history, const std::string& history_path,
                               const loom::SafetensorsFile& file, const std::string& model_path,
                               const loom::RunDescription& described) {
  const std::string mismatch = "--run: the history '" + loom::one_line(history_path) + "' (" +
                               loom::count_text(static_cast<long long>(history.size()), "epoch") +
                               ") is not the one of '" + loom::one_line(model_path) + "': ";
  const std::string hint = " (give that run's own --history file, or none)";
  if (file.metadata("content") == "checkpoint") {
    const loom::History own = loom::checkpoint_history(file);
    if (own.size() != history.size())
      throw UsageError(mismatch + "the checkpoint has " +
                       loom::count_text(static_cast<long long>(own.size()), "epoch") + " done" + hint);
    for (size_t e = 0; e < own.size(); ++e)
      if (!same_figure(own[e].loss, history[e].loss) || !same_figure(own[e].accuracy, history[e].accuracy))
        throw UsageError(mismatch + "its epoch " + std::to_string(e + 1) + " differs from the checkpoint's (loss " +
                         loom::shortest_text(history[e].loss) + ", the checkpoint's " +
                         loom::shortest_text(own[e].loss) + ")" + hint);
    return;
  }
  const std::string trained = loom::described_value(described, loom::report::kEpochsTrainedKey);
  if (!trained.empty() && trained != std::to_string(history.size()))
    throw UsageError(mismatch + "that run trained " + loom::one_line(trained, loom::kShownBytes) +
                     (trained == "1" ? " epoch" : " epochs") + hint);
  const std::string final_loss = loom::described_value(described, loom::report::kFinalLossKey);
  char* end = nullptr;
  if (!final_loss.empty() && !history.empty()) {
    const double loss = std::strtod(final_loss.c_str(), &end);
    if (*end == '\0' && !same_figure(loss, history.back().loss))
      throw UsageError(mismatch + "that run's last epoch had a loss of " +
                       loom::one_line(final_loss, loom::kShownBytes) + ", the history's " +
                       loom::shortest_text(history.back().loss) + hint);
  }
  const std::string asked = loom::described_value(described, "--epochs");
  const long long asked_epochs = std::strtoll(asked.c_str(), &end, 10);
  if (!asked.empty() && *end == '\0' && static_cast<long long>(history.size()) > asked_epochs)
    throw UsageError(mismatch + "that run asked for --epochs " + loom::one_line(asked, loom::kShownBytes) + hint);
  const int weights_epoch = loom::report::weights_epoch_from(described);
  if (weights_epoch >= static_cast<int>(history.size()))
    throw UsageError(mismatch + "its weights are from epoch " + std::to_string(weights_epoch + 1) + hint);
}

// One saved model evaluated on the test set, with its history: from the history file given, else the checkpoint's.
loom::report::ReportRun evaluate_run(const std::vector<std::string>& files, const std::string& name,
                                     const loom::LabeledImages& test, loom::Device device, int64_t batch_size) {
  const std::string& model_path = files[0];
  loom::SafetensorsFile file = loom::open_model_file(model_path);
  auto model = loom::load_model(model_path, device);
  if (loom::shape_numel(model->input_shape()) != test.images.dim(1) * test.images.dim(2))
    throw UsageError("the model in '" + loom::one_line(model_path) + "' takes inputs of shape " +
                     loom::shape_str(model->input_shape()) + ", not Fashion-MNIST's 28x28 images");
  const loom::Shape& output = model->output_shape();
  if (output.size() != 1 || output[0] != static_cast<int64_t>(loom::kFashionMnistClassNames.size()))
    throw UsageError("the model in '" + loom::one_line(model_path) + "' gives outputs of shape " +
                     loom::shape_str(output) + ", not Fashion-MNIST's 10 classes");
  loom::report::ReportRun run;
  run.name = name;
  run.summary = model->summary();
  run.settings = {{"model file", model_path + " (" + file.metadata("content") + ")"}};
  const loom::RunDescription described = loom::read_run_description(file);
  if (files.size() == 2) {
    run.history = loom::read_history(files[1]);
    check_history_is_the_runs(run.history, files[1], file, model_path, described);
    run.settings.emplace_back("history file", files[1]);
  } else if (file.metadata("content") == "checkpoint") {
    run.history = loom::checkpoint_history(file);
    run.settings.emplace_back("history", "from the checkpoint");
  }
  run.weights_epoch = loom::report::weights_epoch_from(described);
  if (described.empty()) run.settings.emplace_back("training settings", "not recorded in the file");
  run.settings.insert(run.settings.end(), described.begin(), described.end());
  run.settings.emplace_back("evaluated by report on", loom::device_name(device));

  loom::Shape shape{test.images.dim(0)};
  shape.insert(shape.end(), model->input_shape().begin(), model->input_shape().end());
  loom::LabeledImages reshaped{test.images.reshaped(shape), test.labels.view()};
  run.test = loom::evaluate(*model, reshaped, batch_size, 0, std::cout);
  run.test_probabilities = loom::predict(*model, reshaped.images, batch_size);
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Write an HTML report (data, learning curves, per-epoch table, accuracy, confusion matrix, predictions, "
      "model and settings) for one or more models saved by train_mlp or train_cnn",
      "report"};
  Flags flags;
  // Taken one --run at a time: CLI11 reads an empty value in a list of lists as a separator ("Could not convert").
  app.add_option_function<std::vector<std::string>>(
         "--run",
         [&flags](const std::vector<std::string>& files) {
           for (const std::string& file : files)
             if (file.empty()) throw UsageError("--run is an empty path");
           flags.runs.push_back(files);
         },
         "MODEL [HISTORY]: a --save or --checkpoint file and, optionally, its --history file (.csv or .json; a "
         "checkpoint holds its own); repeat for runs side by side")
      ->expected(1, std::numeric_limits<int>::max())  // more than two are refused with a message of loom's
      ->trigger_on_parse()
      ->required();
  loom::apps::add_path_option(app, "--output,-o", flags.output, "the report to write, FILE.html")->required();
  app.add_option("--name", flags.names, "a name for each --run, in order (default: the model files' names)");
  app.add_option("--title", flags.title, "the report's title")->capture_default_str();
  loom::apps::add_path_option(
      app, "--data", flags.data,
      "Fashion-MNIST directory (default: $FASHION_MNIST_DIR, then /usr/share/datasets/fashion-mnist)");
  app.add_option("--device", flags.device, "auto, cuda or cpu: where the models are evaluated")->capture_default_str();
  loom::apps::add_whole_number_option(app, "--batch-size", flags.batch_size, 1, "images per forward pass");
  loom::apps::add_threads_option(app, flags.threads);
  return loom::apps::run_guarded(app, argc, argv, [&] {
    loom::report::check_report_path(flags.output);
    check_flags(flags);
    const std::vector<std::string> names = run_names(flags);
    loom::apps::check_threads_flag(flags.threads, flags.device);
    std::string note;
    const loom::Device device = loom::resolve_device(flags.device, &note);
    loom::apps::use_threads_flag(flags.threads, device, &note);
    loom::FashionMnist data = loom::apps::load_data_set(flags.data);

    loom::report::Report report;
    report.title = flags.title;
    report.train = &data.train;
    report.test = &data.test;
    report.class_names.assign(loom::kFashionMnistClassNames.begin(), loom::kFashionMnistClassNames.end());
    for (size_t r = 0; r < flags.runs.size(); ++r) {
      report.runs.push_back(evaluate_run(flags.runs[r], names[r], data.test, device, flags.batch_size));
      std::printf("%s: test accuracy %.4f, %zu epochs of history\n", loom::one_line(names[r]).c_str(),
                  report.runs.back().test.accuracy, report.runs.back().history.size());
    }
    loom::report::write_report(flags.output, report);
    std::printf("Report written to '%s'\n", loom::one_line(flags.output).c_str());
    // Only now, so that a failure is the only line on stderr.
    if (!note.empty()) std::cerr << "report: " << note << "\n";
  });
}
