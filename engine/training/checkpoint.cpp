#include "engine/training/checkpoint.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>

#include "engine/data/device_dataset.h"
#include "engine/io/file_text.h"
#include "engine/model/model_file.h"
#include "engine/model/sequential.h"
#include "engine/runtime/errors.h"
#include "engine/training/callbacks.h"
#include "engine/training/history_file.h"
#include "engine/training/train_step.h"
#include "engine/training/trainer.h"

namespace loom {
namespace {

using nlohmann::json;

// Bounds the lists of a checkpoint's history (and so its JSON), far beyond any run.
constexpr size_t kMaxHistoryEpochs = size_t{1} << 20;

// Numbers that must come back bit for bit (a learning rate, EarlyStopping's best loss, which may be infinite) are
// kept as their shortest exact text (shortest_text): JSON numbers cannot hold infinities, and a double detour would
// blur a float.

template <class T>
bool parse_exact(const json& value, T& out) {
  if (!value.is_string()) return false;
  const std::string& text = value.get_ref<const std::string&>();
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

// The run's callbacks that carry state, by state name.
std::map<std::string, Callback*> stateful(const std::vector<Callback*>& callbacks) {
  std::map<std::string, Callback*> named;
  for (Callback* c : callbacks) {
    const std::string name = c->state_name();
    if (name.empty()) continue;
    if (!named.emplace(name, c).second)
      throw UsageError("checkpoint: two callbacks keep their state as '" + name + "'; one checkpoint holds one");
  }
  return named;
}

// The training state of a checkpoint, every value checked before any is used.
struct SavedTraining {
  int epochs_done = 0;
  bool stopped = false;
  History history;
  std::string shuffle_state;
  int32_t steps_done = 0;
  std::optional<uint64_t> random_seed;  // absent in checkpoints written before loom drew random numbers in training
  float learning_rate = 0;
  int64_t optimizer_steps = 0;
  std::map<std::string, std::pair<CallbackState, bool>> callbacks;  // numbers, and whether weights were saved
  RunSettings settings;
};

SavedTraining read_training(const SafetensorsFile& file) {
  json doc;
  try {
    doc = parse_bounded_json(file.metadata("training"), {6, kMaxHistoryEpochs, 8 * kMaxHistoryEpochs});
  } catch (const JsonProblem& problem) {
    file.fail(std::string("its training state ") + problem.what());
  }
  const std::set<std::string> keys{"epochs_done",   "stopped",         "history",   "shuffle_state", "steps_done",
                                   "learning_rate", "optimizer_steps", "callbacks", "settings"};
  if (!doc.is_object()) file.fail("its training state is not a JSON object");
  for (const std::string& key : keys)
    if (!doc.contains(key)) file.fail("its training state lacks '" + key + "'");
  for (auto it = doc.begin(); it != doc.end(); ++it)
    if (!keys.count(it.key()) && it.key() != "random_seed")
      file.fail("its training state has an unknown entry '" + one_line(it.key(), kShownBytes) + "'");
  auto integer = [&](const char* key, int64_t high) {
    const json& value = doc[key];
    if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > high)
      file.fail(std::string("its training state's ") + key + " is not an integer from 0 to " + std::to_string(high));
    return value.get<int64_t>();
  };
  SavedTraining saved;
  saved.epochs_done = static_cast<int>(integer("epochs_done", std::numeric_limits<int>::max()));
  saved.steps_done = static_cast<int32_t>(integer("steps_done", std::numeric_limits<int32_t>::max()));
  saved.optimizer_steps = integer("optimizer_steps", int64_t{1} << 24);
  if (saved.epochs_done < 1) file.fail("its training state has no epoch done");
  if (!doc["stopped"].is_boolean()) file.fail("its training state's stopped is not true or false");
  saved.stopped = doc["stopped"].get<bool>();
  if (!doc["shuffle_state"].is_string()) file.fail("its training state's shuffle_state is not text");
  saved.shuffle_state = doc["shuffle_state"].get<std::string>();
  std::mt19937_64 generator;
  try {
    generator = shuffle_generator_from(saved.shuffle_state);
  } catch (const Error& e) {
    file.fail(std::string("its training state: ") + e.what());
  }
  // The Mersenne Twister's step is a bijection that fixes the all-zero state, so a seeded generator never reaches it;
  // one in it draws only zeros and would shuffle every epoch alike.
  bool zeros = true;
  for (size_t i = 0; i < 2 * std::mt19937_64::state_size && zeros; ++i) zeros = generator() == 0;
  if (zeros) file.fail("its training state's shuffle_state is the all-zero state, which no seeded generator reaches");
  saved.history = history_from_json(doc["history"].dump(), file.source() + " (its history)");
  if (saved.history.size() != static_cast<size_t>(saved.epochs_done))
    file.fail("its history has " + count_text(static_cast<long long>(saved.history.size()), "epoch") + ", but " +
              std::to_string(saved.epochs_done) + (saved.epochs_done == 1 ? " was" : " were") + " done");
  // fit looks at a stop request only after a step, so every epoch took at least one.
  if (saved.steps_done < saved.epochs_done)
    file.fail("its training state's steps_done " + std::to_string(saved.steps_done) + " is impossible after " +
              count_text(saved.epochs_done, "epoch") + ": every epoch trains at least one step");
  // The rate a run goes on with: a schedule sets it before an epoch (so the history shows it) and only
  // ReduceLROnPlateau changes it after one, downwards; so it is at most the highest rate an epoch trained with.
  double highest_rate = 0;
  for (size_t e = 0; e < saved.history.size(); ++e) {
    const double rate = saved.history[e].learning_rate;
    if (!(rate > 0) || !(rate <= std::numeric_limits<float>::max()))
      file.fail("its history's learning_rate for epoch " + std::to_string(e + 1) + " is " + shortest_text(rate) +
                ", not a positive 32-bit float");
    highest_rate = std::max(highest_rate, rate);
  }
  if (!parse_exact(doc["learning_rate"], saved.learning_rate) || !(saved.learning_rate > 0) ||
      !std::isfinite(saved.learning_rate))
    file.fail("its training state's learning_rate is not a positive number written as text");
  if (saved.learning_rate > static_cast<float>(highest_rate))
    file.fail("its training state's learning_rate " + shortest_text(saved.learning_rate) +
              " is impossible: above the highest rate its epochs trained with, " +
              shortest_text(static_cast<float>(highest_rate)) + " (schedules only lower a rate after an epoch)");

  if (doc.contains("random_seed")) {
    const json& seed = doc["random_seed"];
    uint64_t value = 0;
    const std::string text = seed.is_string() ? seed.get<std::string>() : "";
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size())
      file.fail("its training state's random_seed is not a whole number written as text");
    saved.random_seed = value;
  }
  if (!doc["settings"].is_object()) file.fail("its training state's settings are not an object");
  for (auto it = doc["settings"].begin(); it != doc["settings"].end(); ++it) {
    if (!it.value().is_string()) file.fail("its setting '" + one_line(it.key(), kShownBytes) + "' is not text");
    saved.settings[it.key()] = it.value().get<std::string>();
  }
  if (!doc["callbacks"].is_object()) file.fail("its training state's callbacks are not an object");
  for (auto it = doc["callbacks"].begin(); it != doc["callbacks"].end(); ++it) {
    const json& entry = it.value();
    const std::string where = "its callback state '" + one_line(it.key(), kShownBytes) + "'";
    if (!entry.is_object() || entry.size() != 2 || !entry.contains("numbers") || !entry["numbers"].is_object() ||
        !entry.contains("weights") || !entry["weights"].is_boolean())
      file.fail(where + " is not {\"numbers\": {...}, \"weights\": true or false}");
    auto& [state, weights] = saved.callbacks[it.key()];
    weights = entry["weights"].get<bool>();
    for (auto number = entry["numbers"].begin(); number != entry["numbers"].end(); ++number) {
      if (number.key() == kEpochsDoneNumber)
        file.fail(where + " has '" + number.key() + "', which the training state keeps, not a callback");
      if (!parse_exact(number.value(), state.numbers[number.key()]))
        file.fail(where + " has '" + number.key() + "', which is not a number written as text");
    }
    // What the callback's counts are held to (callbacks.h).
    state.numbers[kEpochsDoneNumber] = saved.epochs_done;
  }
  return saved;
}

// A setting as messages show it (the file's may be anything: one short line).
std::string shown(const RunSettings& settings, const std::string& key) {
  auto it = settings.find(key);
  return it == settings.end() ? "(not given)" : one_line(it->second, kShownBytes);
}

}  // namespace

CheckpointWriter::CheckpointWriter(std::string path, RunSettings settings, History earlier, RunDescription run)
    : path_(std::move(path)), settings_(std::move(settings)), earlier_(std::move(earlier)), run_(std::move(run)) {}

void CheckpointWriter::on_epoch_end(FitContext& context, int epoch, EpochResult& logs) {
  history_.push_back(logs);
  if (history_.size() != static_cast<size_t>(epoch) + 1)
    throw UsageError("CheckpointWriter: after epoch " + std::to_string(epoch + 1) + " its history holds " +
                     count_text(static_cast<long long>(history_.size()), "epoch") +
                     " (give it the earlier epochs of a resumed run)");
  // An epoch whose loss is not finite ends the run (the NaN guard) with weights that are no use to resume from: the
  // previous epoch's checkpoint is kept, not replaced (its reader would refuse these weights anyway).
  if (!std::isfinite(logs.loss)) return;
  save_checkpoint(path_, context, history_, settings_, run_);
}

void save_checkpoint(const std::string& path, FitContext& context, const History& history, const RunSettings& settings,
                     const RunDescription& run) {
  Sequential& model = context.model;
  const ParameterStore& store = model.parameter_store();
  SafetensorsWriter writer = model_file_writer(model, "checkpoint", run);
  add_parameter_tensors(writer, store, model.parameters().to_vector(), "", false);
  Optimizer& optimizer = model.optimizer();
  for (const auto& [slot, tensor] : optimizer.parameter_state())
    add_parameter_tensors(writer, store, tensor->to_vector(), "." + slot, true);

  json callbacks = json::object();
  for (const auto& [name, callback] : stateful(context.callbacks)) {
    CallbackState state = callback->state();
    json numbers = json::object();
    for (const auto& [key, value] : state.numbers) numbers[key] = shortest_text(value);
    callbacks[name] = {{"numbers", numbers}, {"weights", !state.parameters.empty()}};
    if (!state.parameters.empty()) add_parameter_tensors(writer, store, state.parameters, "." + name, false);
  }
  const StepState& step = context.trainer.step().state();
  json training = {{"epochs_done", history.size()},
                   {"stopped", context.stop_training},
                   {"history", json::parse(history_json(history))},
                   {"shuffle_state", context.training_data.shuffle_state()},
                   {"steps_done", step.steps_done()},
                   {"random_seed", std::to_string(model.random_seed())},
                   {"learning_rate", shortest_text(step.current_learning_rate())},
                   {"optimizer_steps", optimizer.steps_taken()},
                   {"callbacks", callbacks},
                   {"settings", settings}};
  writer.set_metadata("training", training.dump());
  writer.write(path);
}

History checkpoint_history(const SafetensorsFile& file) { return read_training(file).history; }

CheckpointEpochs checkpoint_epochs(const SafetensorsFile& file) {
  const SavedTraining saved = read_training(file);
  CheckpointEpochs epochs;
  epochs.last = saved.epochs_done;
  const char* name = "early_stopping";  // EarlyStopping::state_name()
  auto early = saved.callbacks.find(name);
  if (early == saved.callbacks.end() || !early->second.second) return epochs;  // no best weights kept
  try {
    epochs.best = saved_epoch_index(early->second.first, "best_epoch", name) + 1;
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    file.fail(e.what());
  }
  return epochs;
}

ResumePoint resume_from_checkpoint(const std::string& path, Trainer& trainer, const std::vector<Callback*>& callbacks,
                                   const RunSettings& settings) {
  Sequential& model = trainer.model();
  SafetensorsFile file = open_model_file(path);
  if (file.metadata("content") != "checkpoint")
    throw UsageError("'" + one_line(path) +
                     "' holds weights only, not a checkpoint to resume from (start from "
                     "weights with load_weights, --load in the apps)");
  check_same_architecture(file, model, true);
  SavedTraining saved = read_training(file);

  std::set<std::string> keys;
  for (const auto& entry : saved.settings) keys.insert(entry.first);
  for (const auto& entry : settings) keys.insert(entry.first);
  auto value = [](const RunSettings& in, const std::string& key) {
    auto it = in.find(key);
    return it == in.end() ? std::optional<std::string>() : it->second;
  };
  for (const std::string& key : keys)
    if (value(saved.settings, key) != value(settings, key))
      throw UsageError("'" + one_line(path) + "' was trained with " + one_line(key, kShownBytes) + " " +
                       shown(saved.settings, key) + ", this run has " + shown(settings, key));
  if (saved.stopped)
    throw UsageError("'" + one_line(path) + "' is of a run that a callback stopped after epoch " +
                     std::to_string(saved.epochs_done) + ": there is nothing to resume");
  const std::map<std::string, Callback*> named = stateful(callbacks);
  for (const auto& [name, callback] : named)
    if (!saved.callbacks.count(name))
      throw UsageError("'" + one_line(path) + "' holds no state for this run's " + name +
                       " (resume with the callbacks, and flags, of the run that wrote it)");
  for (const auto& entry : saved.callbacks)
    if (!named.count(entry.first))
      throw UsageError("'" + one_line(path) + "' holds the state of " + one_line(entry.first, kShownBytes) +
                       ", which this run lacks (resume with the callbacks, and flags, of the run that wrote it)");

  // Everything is read and checked before anything changes.
  const ParameterStore& store = model.parameter_store();
  Optimizer& optimizer = model.optimizer();
  std::vector<std::string> suffixes{""};
  for (const auto& slot : optimizer.parameter_state()) suffixes.push_back("." + slot.first);
  for (const auto& [name, state] : saved.callbacks)
    if (state.second) suffixes.push_back("." + name);
  check_tensor_names(file, store, suffixes);
  std::vector<float> values = read_parameter_tensors(file, store, "", false);
  std::vector<std::vector<float>> slots;
  for (const auto& slot : optimizer.parameter_state())
    slots.push_back(
        read_parameter_tensors(file, store, "." + slot.first, true, optimizer.slot_holds_variances(slot.first)));
  // The optimizer steps once in every training step, both counted from compile() in a run one Trainer trains (a
  // resume sets both), when it counts its steps at all.
  const int64_t steps_expected = optimizer.counts_steps() ? saved.steps_done : 0;
  if (saved.optimizer_steps != steps_expected)
    file.fail("its training state's optimizer_steps " + std::to_string(saved.optimizer_steps) + " is impossible: " +
              (optimizer.counts_steps()
                   ? optimizer.name() + " steps once in each of the " + std::to_string(saved.steps_done) + " steps done"
                   : optimizer.name() + " counts no steps"));
  for (auto& [name, state] : saved.callbacks)
    if (state.second) state.first.parameters = read_parameter_tensors(file, store, "." + name, false);

  for (const auto& [name, callback] : named) {
    try {
      callback->check_state(saved.callbacks.at(name).first);
    } catch (const UsageError&) {
      throw;
    } catch (const Error& e) {
      file.fail(e.what());
    }
  }

  for (const auto& [name, callback] : named) callback->restore_state(saved.callbacks.at(name).first);
  Tensor& params = model.parameters();
  params.copy_from(Tensor::wrap(values.data(), params.shape(), Device::CPU));
  size_t k = 0;
  for (const auto& slot : optimizer.parameter_state()) {
    Tensor& tensor = *slot.second;
    tensor.copy_from(Tensor::wrap(slots[k++].data(), tensor.shape(), Device::CPU));
  }
  optimizer.set_steps_taken(saved.optimizer_steps);
  StepState& step = trainer.step().state();
  step.set_steps_done(saved.steps_done);
  if (saved.random_seed) model.set_random_seed(*saved.random_seed);
  step.set_learning_rate(saved.learning_rate);

  ResumePoint point;
  point.epochs_done = saved.epochs_done;
  point.history = std::move(saved.history);
  point.shuffle_state = std::move(saved.shuffle_state);
  return point;
}

}  // namespace loom
