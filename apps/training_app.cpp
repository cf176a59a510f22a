#include "apps/training_app.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <iostream>

#include "apps/data_flag.h"
#include "apps/file_flags.h"
#include "apps/number_flags.h"
#include "apps/standard_output.h"
#include "apps/threads_flag.h"
#include "engine/io/atomic_file.h"
#include "engine/io/file_text.h"
#include "engine/io/safetensors.h"
#include "engine/model/model_file.h"
#include "engine/model/training_memory.h"
#include "engine/report/html_report.h"
#include "engine/runtime/cuda_context.h"
#include "engine/runtime/errors.h"
#include "engine/training/callbacks.h"
#include "engine/training/checkpoint.h"
#include "engine/training/history_file.h"
#include "engine/training/inference.h"
#include "engine/training/lr_schedules.h"
#include "engine/training/trainer.h"

namespace loom::apps {
namespace {
// The flags a resumed run must share with the run that wrote the checkpoint (the architecture and the optimizer's
// settings are checked apart, from the model itself).
RunSettings resume_settings(const TrainingFlags& flags) {
  RunSettings settings = {
      {"--batch-size", std::to_string(flags.batch_size)},
      {"--validation-split", flag_value_text(flags.validation_split)},
      // A cosine decays over the run's --epochs: resuming it towards another end would change the rates.
      {"--lr-schedule",
       flags.lr_schedule == "cosine" ? "cosine (--epochs " + std::to_string(flags.epochs) + ")" : flags.lr_schedule},
      {"--early-stopping", flags.early_stopping_given ? std::to_string(flags.early_stopping) : "off"},
      {"--stop-at-loss", flags.stop_at_loss_given ? flag_value_text(flags.stop_at_loss) : "off"}};
  // Only when set, so that checkpoints written before these flags existed still resume.
  if (flags.steps_per_epoch > 0) settings.emplace("--steps-per-epoch", std::to_string(flags.steps_per_epoch));
  if (flags.random_shift > 0) settings.emplace("--random-shift", std::to_string(flags.random_shift));
  if (flags.random_flip) settings.emplace("--random-flip", "on");
  if (flags.validation_data_given) settings.emplace("--validation-data", flags.validation_data);
  if (flags.no_shuffle) settings.emplace("--no-shuffle", "on");
  return settings;
}

// How the run was made, for the saved files and the report: the program, the device and every training flag.
RunDescription run_description(const TrainingFlags& flags, const std::string& program, Device device,
                               const std::string& note) {
  std::string device_text = device_name(device);
  if (device == Device::CUDA) device_text += ": " + probe_cuda().gpu_name;
  if (device == Device::CPU)
    device_text +=
        ", " + threads_text(flags.threads > 0 ? CpuThreadChoice{flags.threads, "--threads"} : default_cpu_threads());
  if (flags.device == "auto") device_text += " (--device auto" + (note.empty() ? "" : "; " + note) + ")";
  RunDescription run = {
      {"program", program},
      {"device", device_text},
      {"--epochs", std::to_string(flags.epochs)},
      {"--batch-size", std::to_string(flags.batch_size)},
      {"--steps-per-epoch", flags.steps_per_epoch > 0 ? std::to_string(flags.steps_per_epoch) : "all"},
      {"--lr", flag_value_text(flags.learning_rate)},
      {"--seed", std::to_string(flags.seed)},
      {"--validation-split", flag_value_text(flags.validation_split)},
      {"--lr-schedule", flags.lr_schedule},
      {"--early-stopping", flags.early_stopping_given ? std::to_string(flags.early_stopping) : "off"},
      {"--stop-at-loss", flags.stop_at_loss_given ? flag_value_text(flags.stop_at_loss) : "off"},
      {"--random-shift", std::to_string(flags.random_shift)},
      {"--random-flip", flags.random_flip ? "on" : "off"}};
  if (!flags.preset.empty()) run.insert(run.begin() + 1, {"--preset", flags.preset});
  if (device == Device::CUDA) {
    run.emplace_back("--tf32", flags.tf32 ? "on" : "off");
    run.emplace_back("CUDA graph", flags.no_graph ? "off (--no-graph)" : "on");
  }
  if (flags.validation_data_given) run.emplace_back("--validation-data", flags.validation_data);
  if (flags.no_shuffle) run.emplace_back("--no-shuffle", "on");
  if (!flags.load.empty()) run.emplace_back("--load", flags.load);
  if (!flags.resume.empty()) run.emplace_back("--resume", flags.resume);
  return run;
}

// "train_mlp" → "MLP": the run's name in the report.
std::string model_name(const std::string& program) {
  std::string name = program.rfind("train_", 0) == 0 ? program.substr(6) : program;
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

// Stops the run at the end of the first epoch whose printing failed; the last callback, after the history and the
// checkpoint of that epoch are written.
class StandardOutputCheck : public Callback {
 public:
  void on_epoch_end(FitContext&, int, EpochResult&) override { check_standard_output(); }
};

// The files a run writes, with their flags: none may replace another, or a file the run reads.
std::array<std::pair<const char*, const std::string*>, 4> output_flags(const TrainingFlags& flags) {
  return {{{"--save", &flags.save},
           {"--checkpoint", &flags.checkpoint},
           {"--history", &flags.history},
           {"--report", &flags.report}}};
}

// Refuses a --load or --resume file that another program or preset made, saying so, before its layers are compared
// one by one (which would name the first setting that differs, not the reason). Files that record neither go on to
// that comparison.
void check_made_alike(const char* flag, const std::string& path, const TrainingFlags& flags,
                      const std::string& program) {
  const RunDescription made = read_run_description(open_model_file(path));
  auto recorded = [&made](const std::string& key) { return described_value(made, key); };
  const std::string made_by = recorded("program");
  if (made_by.empty()) return;
  if (made_by != program)
    throw UsageError(std::string(flag) + ": '" + one_line(path) + "' holds a model " + one_line(made_by, kShownBytes) +
                     " trained; " + program + " trains another");
  // train_cnn records its --preset; a file without one was made before presets existed, by the tutorial's CNN.
  const std::string made_preset =
      recorded("--preset").empty() && !flags.preset.empty() ? "tutorial" : recorded("--preset");
  if (made_preset != flags.preset)
    throw UsageError(std::string(flag) + ": '" + one_line(path) + "' holds the '" + one_line(made_preset, kShownBytes) +
                     "' preset's model (--preset " + one_line(made_preset, kShownBytes) + "); this run trains the '" +
                     flags.preset + "' preset's");
}

// A UsageError about a file a flag names, with the flag in front.
template <class Body>
void for_flag(const char* flag, Body body) {
  try {
    body();
  } catch (const UsageError& e) {
    throw UsageError(std::string(flag) + ": " + e.what());
  }
}
}  // namespace

void add_training_flags(CLI::App& app, TrainingFlags& flags) {
  add_path_option(app, "--data", flags.data,
                  "Fashion-MNIST directory (default: $FASHION_MNIST_DIR, then /usr/share/datasets/fashion-mnist)");
  add_whole_number_option(app, "--epochs", flags.epochs, 1, "training epochs");
  add_whole_number_option(app, "--batch-size", flags.batch_size, 1, "samples per training step");
  add_whole_number_option(app, "--steps-per-epoch", flags.steps_per_epoch, 1,
                          "train at most N batches an epoch (Keras's steps_per_epoch; default: the whole set)")
      ->default_str("");
  add_real_number_option(app, "--lr", flags.learning_rate, "Adam learning rate", kPositiveNumber);
  add_unsigned_number_option(app, "--seed", flags.seed, "seed for initialisation and shuffling (0 to 2^64-1)");
  app.add_flag("--no-shuffle", flags.no_shuffle,
               "take the training set in its order every epoch (Keras's shuffle=False)");
  app.add_option("--device", flags.device, "auto, cuda or cpu")->capture_default_str();
  app.add_flag("--tf32", flags.tf32, "GPU: let matrix products use TF32 tensor cores (faster, ~10-bit mantissa)");
  app.add_flag("--no-graph", flags.no_graph, "GPU: launch every kernel of every step instead of a CUDA graph");
  add_threads_option(app, flags.threads);
  add_real_number_option(app, "--validation-split", flags.validation_split,
                         "hold out this last fraction of the training set and report val_loss/val_accuracy every "
                         "epoch",
                         {"in [0, 1)", [](double fraction) { return fraction >= 0 && fraction < 1; }});
  app.add_option("--validation-data", flags.validation_data,
                 "test: evaluate the test set after every epoch and report it as val_loss/val_accuracy (Keras's "
                 "validation_data=(test_images, test_labels))")
      ->each([&flags](const std::string&) { flags.validation_data_given = true; });
  add_real_number_option(app, "--stop-at-loss", flags.stop_at_loss,
                         "stop after the first epoch whose loss is at most this", kPositiveNumber)
      ->default_str("")
      ->each([&flags](const std::string&) { flags.stop_at_loss_given = true; });
  add_whole_number_option(app, "--early-stopping", flags.early_stopping, 0,
                          "stop once the loss (val_loss when validating) has not improved for N epochs, "
                          "and restore the best epoch's weights")
      ->default_str("")
      ->each([&flags](const std::string&) { flags.early_stopping_given = true; });
  app.add_option("--lr-schedule", flags.lr_schedule,
                 "constant; step (halve every 3 epochs); cosine (to 0 over the run); plateau (halve after 2 epochs "
                 "without improvement of the loss, or val_loss when validating)")
      ->capture_default_str();
  add_whole_number_option(app, "--random-shift", flags.random_shift, 0,
                          "augment: shift each training image by up to N pixels up/down and left/right (zeros "
                          "fill in); never the test or validation images",
                          kMaxRandomShift);
  app.add_flag("--random-flip", flags.random_flip, "augment: mirror each training image left to right, one in two");
  add_path_option(app, "--history", flags.history,
                  "write the per-epoch figures to FILE.csv (Keras CSVLogger) or FILE.json");
  add_path_option(app, "--save", flags.save,
                  "write the trained weights to FILE (safetensors, Keras names and layouts; the best epoch's with "
                  "--early-stopping)");
  add_path_option(app, "--checkpoint", flags.checkpoint,
                  "write everything needed to resume (weights, Adam's state, shuffle, callbacks, history) to FILE "
                  "after every epoch");
  add_path_option(app, "--resume", flags.resume,
                  "go on from a --checkpoint FILE up to --epochs, exactly as if the run had not stopped");
  add_path_option(app, "--load", flags.load, "start from the weights in FILE (a --save or --checkpoint file)");
  add_path_option(app, "--report", flags.report,
                  "after training, write an HTML report (data, learning curves, accuracy, confusion matrix, "
                  "predictions, model and settings) to FILE.html");
}

Device check_flags_and_pick_device(const TrainingFlags& flags, std::string* note) {
  // The numbers were read within their ranges (apps/number_flags.h).
  if (flags.lr_schedule != "constant" && flags.lr_schedule != "step" && flags.lr_schedule != "cosine" &&
      flags.lr_schedule != "plateau")
    throw UsageError("--lr-schedule must be constant, step, cosine or plateau, got '" + one_line(flags.lr_schedule) +
                     "'");
  if (flags.validation_data_given && flags.validation_data != "test")
    throw UsageError("--validation-data must be test (the test set, evaluated after every epoch), got '" +
                     one_line(flags.validation_data) + "'");
  if (flags.validation_data_given && flags.validation_split > 0)
    throw UsageError("--validation-data and --validation-split exclude each other (each names the data validated)");
  if (!flags.history.empty()) for_flag("--history", [&] { check_history_path(flags.history); });
  if (!flags.save.empty()) for_flag("--save", [&] { check_writable_path(flags.save, "file"); });
  if (!flags.checkpoint.empty()) for_flag("--checkpoint", [&] { check_writable_path(flags.checkpoint, "file"); });
  if (!flags.report.empty()) for_flag("--report", [&] { report::check_report_path(flags.report); });
  const auto outputs = output_flags(flags);
  for (size_t i = 0; i < outputs.size(); ++i)
    for (size_t j = i + 1; j < outputs.size(); ++j)
      if (!outputs[i].second->empty() && !outputs[j].second->empty() &&
          same_file(*outputs[i].second, *outputs[j].second))
        throw UsageError(std::string(outputs[i].first) + " and " + outputs[j].first + " name the same file '" +
                         one_line(*outputs[i].second) + "'");
  // Nothing written may replace what is read, but a checkpoint may go on where --resume read it.
  const std::pair<const char*, const std::string*> inputs[] = {{"--resume", &flags.resume}, {"--load", &flags.load}};
  for (const auto& [output, output_path] : outputs)
    for (const auto& [input, input_path] : inputs)
      if (!output_path->empty() && !input_path->empty() && same_file(*output_path, *input_path) &&
          !(std::string(output) == "--checkpoint" && std::string(input) == "--resume"))
        throw UsageError(std::string(output) + " would replace the file '" + one_line(*input_path) + "' that " + input +
                         " reads");
  if (!flags.resume.empty() && !flags.load.empty())
    throw UsageError("--resume and --load exclude each other (a checkpoint holds the weights it resumes from)");
  if (!flags.resume.empty()) require_existing_file("--resume", flags.resume);
  if (!flags.load.empty()) require_existing_file("--load", flags.load);
  // The GPU-only flags alike: refused on --device cpu, a note when auto finds no GPU.
  if (flags.tf32 && flags.device == "cpu")
    throw UsageError("--tf32 needs the GPU (it selects tensor-core math in cuBLAS and cuDNN)");
  if (flags.no_graph && flags.device == "cpu")
    throw UsageError("--no-graph needs the GPU (it turns off the CUDA graph a GPU training step replays)");
  check_threads_flag(flags.threads, flags.device);
  Device device = resolve_device(flags.device, note);
  use_threads_flag(flags.threads, device, note);
  if (device == Device::CUDA)
    CudaContext::get().set_tf32(flags.tf32);
  else if (flags.tf32 || flags.no_graph)
    *note += std::string(" (") +
             (flags.tf32 && flags.no_graph ? "--tf32 and --no-graph have"
              : flags.tf32                 ? "--tf32 has"
                                           : "--no-graph has") +
             " no effect there)";
  return device;
}

FashionMnist load_training_data(const TrainingFlags& flags) {
  FashionMnist data = load_data_set(flags.data);
  // Checked against the files actually found (the .gz name or the plain one), before anything is trained.
  const auto outputs = output_flags(flags);
  for (const auto& [flag, path] : outputs)
    for (const std::string& file : data.files)
      if (!path->empty() && same_file(*path, file))
        throw UsageError(std::string(flag) + " would replace the data set's file '" + one_line(file) +
                         "' that this run reads");
  return data;
}

void check_training_memory(const std::vector<std::unique_ptr<Layer>>& layers, const Shape& input_shape,
                           const TrainingFlags& flags, const FashionMnist& data, Device device,
                           const std::string& hint) {
  // fit trains on batches of at most the training set's size.
  TrainingMemory needed = training_memory(layers, input_shape, std::min(flags.batch_size, data.train.size()), device);
  if (device == Device::CUDA)  // on the CPU, the data set is already in the memory counted as used
    for (const LabeledImages* set : {&data.train, &data.test})
      needed.data_bytes += static_cast<double>(set->images.bytes() + set->labels.bytes());
  // Files: the weights (--save) or the weights and Adam's two moments (--checkpoint) as float32, refused before
  // training when a safetensors file cannot hold them; writing one takes about three copies of it on the host.
  const double weights_file = needed.parameters * 4, checkpoint_file = 3 * weights_file;
  const std::pair<const char*, double> files[] = {{"--save", flags.save.empty() ? 0 : weights_file},
                                                  {"--checkpoint", flags.checkpoint.empty() ? 0 : checkpoint_file}};
  double writing = needed.host_bytes;
  for (const auto& [flag, bytes] : files) {
    if (bytes > static_cast<double>(kSafetensorsMaxFileBytes))
      throw UsageError(std::string(flag) + ": this model's file would take " + memory_size_text(bytes) +
                       ", more than the " + memory_size_text(static_cast<double>(kSafetensorsMaxFileBytes)) +
                       " a safetensors file may hold; make the model smaller");
    writing = std::max(writing, 3 * bytes);
  }
  // Early stopping keeps the best epoch's weights on the host, and a copy while it takes them.
  needed.host_bytes = writing + (flags.early_stopping_given ? 2 * weights_file : 0);
  require_memory(needed, device, available_memory(device), available_memory(Device::CPU), hint);
}

namespace {
// What train_and_report does, step by step, in its order.

// Refuses what the flags ask of the data or the files before anything is printed (the split naming its flag, not
// fit after the summary), then starts from the --load weights, if any.
void check_inputs_and_load(Sequential& model, const LabeledImages& train, const TrainingFlags& flags,
                           const std::string& program) {
  if (flags.validation_split > 0) {
    const std::string problem = validation_split_problem(train.size(), flags.validation_split);
    if (!problem.empty()) throw UsageError("--validation-split " + problem);
  }
  if (!flags.load.empty()) {
    check_made_alike("--load", flags.load, flags, program);
    for_flag("--load", [&] { load_weights(model, flags.load); });
  }
  if (!flags.resume.empty()) check_made_alike("--resume", flags.resume, flags, program);
}

FitOptions fit_options(const TrainingFlags& flags) {
  FitOptions options;
  options.epochs = flags.epochs;
  options.batch_size = flags.batch_size;
  options.max_steps_per_epoch = flags.steps_per_epoch;
  options.seed = flags.seed;
  options.shuffle = !flags.no_shuffle;
  options.cuda_graph = !flags.no_graph;
  options.validation_split = flags.validation_split;
  options.augmentation = {flags.random_shift, flags.random_flip};
  return options;
}

// The run's callbacks, in the order fit calls them; owned here, handed to fit as pointers.
struct RunCallbacks {
  std::vector<std::unique_ptr<Callback>> owned;
  const EarlyStopping* early_stopping = nullptr;  // set with --early-stopping: its best epoch's weights are kept

  std::vector<Callback*> pointers() const {
    std::vector<Callback*> all;
    for (const auto& callback : owned) all.push_back(callback.get());
    return all;
  }
};

// The callbacks that decide how training goes (--stop-at-loss, --early-stopping, --lr-schedule): those whose state a
// checkpoint saves and a resumed run restores.
RunCallbacks training_callbacks(const TrainingFlags& flags) {
  const std::string monitored = flags.validation_split > 0 || flags.validation_data_given ? "val_loss" : "loss";
  RunCallbacks callbacks;
  if (flags.stop_at_loss_given)
    callbacks.owned.push_back(std::make_unique<StopAtThreshold>("loss", flags.stop_at_loss));
  if (flags.early_stopping_given) {
    EarlyStopping::Options early;
    early.monitor = monitored;
    early.patience = flags.early_stopping;
    early.restore_best_weights = true;
    callbacks.owned.push_back(std::make_unique<EarlyStopping>(early));
    callbacks.early_stopping = static_cast<const EarlyStopping*>(callbacks.owned.back().get());
  }
  if (flags.lr_schedule == "step") {
    callbacks.owned.push_back(std::make_unique<LearningRateScheduler>(step_decay(flags.learning_rate, 0.5, 3)));
  } else if (flags.lr_schedule == "cosine") {
    callbacks.owned.push_back(std::make_unique<LearningRateScheduler>(cosine_decay(flags.learning_rate, flags.epochs)));
  } else if (flags.lr_schedule == "plateau") {
    ReduceLROnPlateau::Options plateau;
    plateau.monitor = monitored;
    plateau.factor = 0.5;
    plateau.patience = 2;
    callbacks.owned.push_back(std::make_unique<ReduceLROnPlateau>(plateau));
  }
  return callbacks;
}

// With --resume: the checkpoint's weights, step state and callback states restored, and `options` set to go on
// after its last epoch. Without: a fresh start (no epochs done, no history).
ResumePoint resume_if_asked(Trainer& trainer, const RunCallbacks& callbacks, const TrainingFlags& flags,
                            FitOptions& options) {
  ResumePoint resumed;
  if (flags.resume.empty()) return resumed;
  for_flag("--resume", [&] {
    resumed = resume_from_checkpoint(flags.resume, trainer, callbacks.pointers(), resume_settings(flags));
  });
  if (resumed.epochs_done >= flags.epochs)
    throw UsageError("--resume: '" + one_line(flags.resume) + "' has " + count_text(resumed.epochs_done, "epoch") +
                     " done; --epochs " + std::to_string(flags.epochs) + " asks for no more");
  options.initial_epoch = resumed.epochs_done;
  options.shuffle_state = resumed.shuffle_state;
  return resumed;
}

// The files written after every epoch, so a run that fails or is stopped keeps what it trained: the history, then the
// checkpoint (after the callbacks whose state it saves), then the check of standard output.
void add_output_callbacks(RunCallbacks& callbacks, const TrainingFlags& flags, const ResumePoint& resumed,
                          const RunDescription& run) {
  if (!flags.history.empty())
    callbacks.owned.push_back(std::make_unique<HistoryLogger>(flags.history, resumed.history));
  if (!flags.checkpoint.empty())
    callbacks.owned.push_back(
        std::make_unique<CheckpointWriter>(flags.checkpoint, resume_settings(flags), resumed.history, run));
  callbacks.owned.push_back(std::make_unique<StandardOutputCheck>());
}

// The note, the summary and the epochs, with the resumed run's earlier epochs in front of the history returned.
History print_and_fit(Trainer& trainer, const LabeledImages& train, const FitOptions& options,
                      const ResumePoint& resumed, const TrainingFlags& flags, const std::string& program,
                      const std::string& note) {
  if (!note.empty()) std::cerr << program << ": " << note << "\n";
  std::cout << trainer.model().summary();
  check_standard_output();  // > /dev/full, or a closed stdout: said now, not after the whole run
  if (!flags.resume.empty())
    std::cout << "Resuming from '" << one_line(flags.resume) << "' after epoch " << resumed.epochs_done << "\n"
              << std::flush;
  History history = resumed.history;
  for (const EpochResult& epoch : trainer.fit(train, options)) history.push_back(epoch);
  return history;
}

// How the run was made, with what the saved weights are: the epoch they come from when early stopping put the best
// back, and what a history file given with them to `report` must agree with (apps/report.cpp).
RunDescription saved_run_description(RunDescription run, int weights_epoch, const History& history) {
  if (weights_epoch >= 0) run.emplace_back(report::kWeightsEpochKey, report::weights_epoch_text(weights_epoch));
  run.emplace_back(report::kEpochsTrainedKey, std::to_string(history.size()));
  if (!history.empty()) run.emplace_back(report::kFinalLossKey, shortest_text(history.back().loss));
  return run;
}

// The tutorial's ending: the test set's loss and accuracy, and the first test image's predicted and true class.
Evaluation evaluate_and_show_first(Sequential& model, const LabeledImages& test, const TrainingFlags& flags) {
  Evaluation eval = evaluate(model, test, flags.batch_size, 1, std::cout);
  std::printf("\nTest accuracy: %.4f\n", eval.accuracy);

  Tensor first = test.images.rows(0, 1);
  Tensor probs = predict(model, first);
  const float* p = probs.f32();
  int64_t classes = probs.dim(1), best = 0;
  for (int64_t j = 1; j < classes; ++j)
    if (p[j] > p[best]) best = j;
  int truth = test.labels.data<uint8_t>()[0];
  std::printf("First test image: predicted %s (%.4f), true %s\n", kFashionMnistClassNames.at(best), p[best],
              kFashionMnistClassNames.at(truth));
  return eval;
}

void write_run_report(Sequential& model, const LabeledImages& train, const LabeledImages& test,
                      const TrainingFlags& flags, const std::string& program, const RunDescription& saved_run,
                      History history, int weights_epoch, const Evaluation& eval) {
  std::fflush(stdout);
  report::Report report;
  report.train = &train;
  report.test = &test;
  report.class_names.assign(kFashionMnistClassNames.begin(), kFashionMnistClassNames.end());
  report::ReportRun& shown = report.runs.emplace_back();
  shown.name = model_name(program);
  shown.summary = model.summary();
  shown.settings = saved_run;
  shown.history = std::move(history);
  shown.weights_epoch = weights_epoch;
  shown.test = eval;
  shown.test_probabilities = predict(model, test.images, flags.batch_size);
  report::write_report(flags.report, report);
  std::printf("Report written to '%s'\n", one_line(flags.report).c_str());
}
}  // namespace

void train_and_report(Sequential& model, const LabeledImages& train, const LabeledImages& test,
                      const TrainingFlags& flags, const std::string& program, const std::string& note) {
  check_inputs_and_load(model, train, flags, program);
  Trainer trainer(model);
  FitOptions options = fit_options(flags);
  if (flags.validation_data_given) options.validation_data = &test;
  RunCallbacks callbacks = training_callbacks(flags);
  const ResumePoint resumed = resume_if_asked(trainer, callbacks, flags, options);
  const RunDescription run = run_description(flags, program, model.device(), note);
  add_output_callbacks(callbacks, flags, resumed, run);
  options.callbacks = callbacks.pointers();

  History history = print_and_fit(trainer, train, options, resumed, flags, program, note);
  // Early stopping put the best epoch's weights back: they, not the last epoch's, are saved and evaluated.
  const int weights_epoch = callbacks.early_stopping ? callbacks.early_stopping->best_epoch() : -1;
  const RunDescription saved_run = saved_run_description(run, weights_epoch, history);
  // Before the evaluation, so a failure there loses nothing trained.
  if (!flags.save.empty()) save_weights(model, flags.save, saved_run);
  const Evaluation eval = evaluate_and_show_first(model, test, flags);
  if (!flags.report.empty())
    write_run_report(model, train, test, flags, program, saved_run, std::move(history), weights_epoch, eval);
}

}  // namespace loom::apps
