#include "engine/training/history_file.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "engine/io/atomic_file.h"
#include "engine/io/file_text.h"
#include "engine/io/input_file.h"
#include "engine/runtime/errors.h"

namespace loom {

namespace {

using nlohmann::json;

// The range a figure must lie in to be read: a history whose accuracy is 1e30 or whose loss is negative was not
// written by a training run, and the report would plot it.
// A loss may also be NaN or infinite in the last epoch: the one a diverged run stopped at, which loom writes too.
enum class Range { Probability, Loss, NonNegative, Positive };

// The per-epoch figures in the CSV header's order after `epoch`; one table for both formats so their names cannot
// drift apart. kEpoch stands for the epoch column wherever an index into the table is expected. `validation`: the
// val_ pair, present for validated epochs only; `optional`: loom's own columns, which Keras does not write, NaN in
// an EpochResult when not recorded.
struct Column {
  const char* name;
  double EpochResult::*field;
  bool validation;
  bool optional;
  Range range;
};
constexpr Column kColumns[] = {
    {"accuracy", &EpochResult::accuracy, false, false, Range::Probability},
    {"loss", &EpochResult::loss, false, false, Range::Loss},
    {"val_accuracy", &EpochResult::val_accuracy, true, false, Range::Probability},
    {"val_loss", &EpochResult::val_loss, true, false, Range::Loss},
    {"learning_rate", &EpochResult::learning_rate, false, true, Range::Positive},
    {"seconds", &EpochResult::seconds, false, true, Range::NonNegative},
};
constexpr size_t kLoss = 1, kLearningRate = 4;
static_assert(std::string_view(kColumns[kLoss].name) == "loss" &&
              std::string_view(kColumns[kLearningRate].name) == "learning_rate");
// tf.keras before Keras 3 logged the learning rate of its schedules as "lr".
constexpr const char* kOldLearningRateName = "lr";
constexpr size_t kEpoch = sizeof kColumns / sizeof kColumns[0];
// "epoch, accuracy, loss, ...", for messages: made from the table, so it cannot drift from it.
const std::string& expected_columns() {
  static const std::string names = [] {
    std::string text = "epoch";
    for (const Column& column : kColumns) text += std::string(", ") + column.name;
    return text;
  }();
  return names;
}
// Far beyond any real history; stops a wrong path (a data set, /dev/zero) from being read into memory whole.
constexpr size_t kMaxBytes = size_t{64} << 20;
// Far beyond any real run too; bounds the lists a JSON history may hold.
constexpr size_t kMaxEpochs = size_t{1} << 20;

}  // namespace

bool is_csv(const std::string& path) {
  if (has_extension(path, ".csv")) return true;
  if (has_extension(path, ".json")) return false;
  throw UsageError("history file '" + one_line(path) + "' must end in .csv or .json");
}

void check_history_path(const std::string& path) {
  is_csv(path);
  check_writable_path(path, "history file");
}

namespace {

[[noreturn]] void fail(const std::string& path, size_t line, const std::string& problem) {
  throw Error("history file '" + one_line(path) + "'" + (line > 0 ? ", line " + std::to_string(line) : "") + ": " +
              problem);
}

// File contents go into messages on one short line (file_text.h), cut sooner than elsewhere: cells are short.
constexpr size_t kShownCell = 40;

// Whether `epoch` holds a figure for `column`: the val_ pair when validated, the optional ones when not NaN.
bool recorded(const Column& column, const EpochResult& epoch) {
  if (column.validation) return epoch.validated;
  return !column.optional || !std::isnan(epoch.*column.field);
}

// Columns no epoch records are left out (an empty history keeps loom's full header).
bool written(const Column& column, const History& history) {
  if (!column.validation && !column.optional) return true;
  if (history.empty()) return !column.validation;
  return std::any_of(history.begin(), history.end(), [&](const EpochResult& e) { return recorded(column, e); });
}

// Shortest text that parses back to the same double; nan and inf spelled as Python's str(), which CSVLogger uses.
std::string csv_number(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return shortest_text(value);
}

// JSON has no NaN or infinity (nlohmann would write null, which here means "not validated"): Python's spellings.
json json_number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return value;
}

std::string csv_text(const History& history) {
  std::string out = "epoch";
  for (const Column& column : kColumns) {
    if (written(column, history)) out += std::string(",") + column.name;
  }
  for (size_t i = 0; i < history.size(); ++i) {
    out += "\n" + std::to_string(i);
    for (const Column& column : kColumns) {
      if (!written(column, history)) continue;
      out += ',';
      if (recorded(column, history[i])) out += csv_number(history[i].*column.field);
    }
  }
  return out + "\n";
}

std::string json_text(const History& history) {
  json epochs = json::array();
  for (size_t i = 0; i < history.size(); ++i) epochs.push_back(i);
  // Built by hand to keep one key per line in Keras's order (a json object would sort the keys).
  std::string out = "{\n  \"epoch\": " + epochs.dump();
  for (const Column& column : kColumns) {
    if (!written(column, history)) continue;
    json values = json::array();
    for (const EpochResult& e : history) {
      values.push_back(recorded(column, e) ? json_number(e.*column.field) : json(nullptr));
    }
    out += std::string(",\n  \"") + column.name + "\": " + values.dump();
  }
  return out + "\n}\n";
}

std::string read_text(const std::string& path) {
  const std::string text = InputFile(path, "history file '" + one_line(path) + "'").read_all(kMaxBytes);
  if (text.size() > kMaxBytes) fail(path, 0, "larger than 64 MiB, too large for a history");
  return text;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t end; (end = text.find(separator, start)) != std::string::npos; start = end + 1) {
    parts.push_back(text.substr(start, end - start));
  }
  parts.push_back(text.substr(start));
  return parts;
}

// Index into kColumns of a header cell or JSON key (`kind` says which), kEpoch for "epoch"; `seen` catches
// duplicates.
size_t column_of(const std::string& path, size_t line, const char* kind, const std::string& name,
                 std::vector<bool>& seen) {
  size_t index = 0;
  while (index < kEpoch && name != kColumns[index].name) ++index;
  if (name == kOldLearningRateName) index = kLearningRate;
  if (index == kEpoch && name != "epoch") {
    fail(
        path, line,
        std::string("unknown ") + kind + " '" + one_line(name, kShownCell) + "' (expected " + expected_columns() + ")");
  }
  if (seen[index]) fail(path, line, std::string(kind) + " '" + name + "' appears twice");
  seen[index] = true;
  return index;
}

// accuracy and loss must be there, and `epoch` where `epoch_needed` (Keras's History JSON has none); the val_ pair
// only if either is; the optional columns may be missing. Returns whether the val_ pair is there.
bool check_complete(const std::string& path, size_t line, const char* kind, const std::vector<bool>& seen,
                    bool epoch_needed) {
  bool with_validation = false;
  for (size_t index = 0; index < kEpoch; ++index) with_validation |= kColumns[index].validation && seen[index];
  for (size_t index = 0; index <= kEpoch; ++index) {
    const char* name = index == kEpoch ? "epoch" : kColumns[index].name;
    const bool needed =
        index == kEpoch ? epoch_needed : !kColumns[index].optional && (!kColumns[index].validation || with_validation);
    if (needed && !seen[index]) fail(path, line, std::string("no ") + kind + " '" + name + "'");
  }
  return with_validation;
}

// A figure that was read must lie in its column's range; one line naming the epoch, the column and the value.
void check_range(const std::string& path, size_t line, size_t epoch, bool last, const Column& column, double value) {
  const char* wanted = nullptr;
  switch (column.range) {
    case Range::Probability:
      if (!(value >= 0 && value <= 1)) wanted = "outside [0, 1]";
      break;
    case Range::Loss:
      if (!(std::isfinite(value) ? value >= 0 : last && !(value < 0)))
        wanted = last ? "not a number >= 0 (nor the NaN or infinity of a run that diverged)"
                      : "not a finite number >= 0 (only the last epoch, where a diverged run stopped, may be NaN "
                        "or infinite)";
      break;
    case Range::NonNegative:
      if (!(std::isfinite(value) && value >= 0)) wanted = "not a finite number >= 0";
      break;
    case Range::Positive:
      if (!(std::isfinite(value) && value > 0)) wanted = "not a finite number > 0";
      break;
  }
  if (wanted != nullptr) {
    fail(path, line,
         "epoch " + std::to_string(epoch) + ": " + column.name + " is " + shortest_text(value) + ", " + wanted);
  }
}

// "Not recorded" in an optional column: an empty cell, as loom writes it, or Keras CSVLogger's "NA" for a figure
// missing from an epoch's logs.
bool absent_cell(const std::string& cell) { return cell.empty() || cell == "NA"; }

// The whole cell must be the number: from_chars alone takes "1abc" as 1.
template <class T>
bool parse_whole(const std::string& cell, T& value) {
  const auto parsed = std::from_chars(cell.data(), cell.data() + cell.size(), value);
  return !cell.empty() && parsed.ec == std::errc() && parsed.ptr == cell.data() + cell.size();
}

std::string out_of_order(const std::string& found, size_t epoch) {
  return "epoch " + found + " where " + std::to_string(epoch) + " was expected (epochs must be 0, 1, 2, ... in order)";
}

// Shared by both readers: an epoch whose val_ figures are both missing was not validated; one alone is damage.
void settle_validation(const std::string& path, size_t line, EpochResult& epoch, bool with_validation, int missing,
                       const std::string& where) {
  if (missing == 1) fail(path, line, "only one of val_accuracy and val_loss is given" + where);
  epoch.validated = with_validation && missing == 0;
}

History csv_history(const std::string& path, const std::string& text) {
  std::vector<std::string> lines = split(text, '\n');
  for (std::string& line : lines) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // a file saved with Windows line ends
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.empty()) fail(path, 0, std::string("is empty; expected the header ") + expected_columns());

  const std::vector<std::string> header = split(lines[0], ',');
  std::vector<bool> seen(kEpoch + 1, false);
  std::vector<size_t> target;  // header cell -> index into kColumns (or kEpoch)
  for (const std::string& name : header) target.push_back(column_of(path, 1, "column", name, seen));
  const bool with_validation = check_complete(path, 1, "column", seen, true);

  History history(lines.size() - 1);
  for (size_t row = 1; row < lines.size(); ++row) {
    const std::vector<std::string> cells = split(lines[row], ',');
    if (cells.size() != header.size()) {
      fail(path, row + 1,
           std::to_string(cells.size()) + " cells where the header has " + std::to_string(header.size()));
    }
    EpochResult& epoch = history[row - 1];
    epoch.learning_rate = epoch.seconds = std::nan("");
    int missing = 0;
    for (size_t c = 0; c < cells.size(); ++c) {
      const std::string& cell = cells[c];
      size_t number = 0;
      if (target[c] == kEpoch) {
        if (!parse_whole(cell, number) || number != row - 1) {
          fail(path, row + 1, out_of_order("'" + one_line(cell, kShownCell) + "'", row - 1));
        }
        continue;
      }
      const Column& column = kColumns[target[c]];
      if (absent_cell(cell) && (column.validation || column.optional)) {
        missing += column.validation;
      } else if (parse_whole(cell, epoch.*column.field)) {
        check_range(path, row + 1, row - 1, row + 1 == lines.size(), column, epoch.*column.field);
      } else {
        fail(path, row + 1, "'" + one_line(cell, kShownCell) + "' is not a number in column " + column.name);
      }
    }
    settle_validation(path, row + 1, epoch, with_validation, missing, "");
  }
  return history;
}

History json_history(const std::string& path, const std::string& text) {
  json document;
  try {
    document = parse_bounded_json(text, {4, kMaxEpochs, 8 * kMaxEpochs});  // {"loss": [0.5, ...], ...}: 7 lists
  } catch (const JsonProblem& problem) {
    fail(path, 0, problem.what());
  }
  if (!document.is_object()) {
    fail(path, 0,
         std::string("holds a JSON ") + document.type_name() + ", not an object of lists (" + expected_columns() + ")");
  }
  std::vector<bool> seen(kEpoch + 1, false);
  std::vector<const json*> lists(kEpoch + 1, nullptr);
  for (const auto& [key, value] : document.items()) {
    const size_t index = column_of(path, 0, "key", key, seen);
    if (!value.is_array()) fail(path, 0, "'" + key + "' is " + value.type_name() + ", not a list");
    lists[index] = &value;
  }
  const bool with_validation = check_complete(path, 0, "key", seen, false);
  // Keras's History.history has no "epoch": its lists count the epochs from 0.
  const size_t counted = lists[kEpoch] != nullptr ? kEpoch : kLoss;
  const size_t epochs = lists[counted]->size();
  for (size_t index = 0; index < kEpoch; ++index) {
    if (lists[index] != nullptr && lists[index]->size() != epochs) {
      fail(path, 0,
           std::string("'") + kColumns[index].name + "' has " + std::to_string(lists[index]->size()) + " values but '" +
               (counted == kEpoch ? "epoch" : kColumns[counted].name) + "' has " + std::to_string(epochs));
    }
  }

  History history(epochs);
  for (size_t i = 0; i < epochs; ++i) {
    if (lists[kEpoch] != nullptr) {
      const json& number = (*lists[kEpoch])[i];
      if (!number.is_number_integer() || number != i) fail(path, 0, out_of_order(shown_json(number), i));
    }
    history[i].learning_rate = history[i].seconds = std::nan("");
    int missing = 0;
    for (size_t index = 0; index < kEpoch; ++index) {
      if (lists[index] == nullptr) continue;
      const json& value = (*lists[index])[i];
      double& field = history[i].*kColumns[index].field;
      if (value.is_number()) {
        field = value.get<double>();
        check_range(path, 0, i, i + 1 == epochs, kColumns[index], field);
      } else if (value == "NaN" || value == "Infinity" || value == "-Infinity") {
        field = value == "NaN" ? std::nan("") : value == "Infinity" ? HUGE_VAL : -HUGE_VAL;
        check_range(path, 0, i, i + 1 == epochs, kColumns[index], field);
      } else if (value.is_null() && (kColumns[index].validation || kColumns[index].optional)) {
        missing += kColumns[index].validation;
      } else {
        fail(path, 0,
             std::string(kColumns[index].name) + "[" + std::to_string(i) + "] is " + shown_json(value) +
                 ", not a number");
      }
    }
    settle_validation(path, 0, history[i], with_validation, missing, " for epoch " + std::to_string(i));
  }
  return history;
}

}  // namespace

std::string history_json(const History& history) { return json_text(history); }

History history_from_json(const std::string& text, const std::string& source) { return json_history(source, text); }

void write_history(const History& history, const std::string& path) {
  write_file_atomically(path, is_csv(path) ? csv_text(history) : json_text(history));
}

History read_history(const std::string& path) {
  const bool csv = is_csv(path);
  const std::string text = read_text(path);
  return csv ? csv_history(path, text) : json_history(path, text);
}

HistoryLogger::HistoryLogger(std::string path, History earlier) : path_(std::move(path)), earlier_(std::move(earlier)) {
  check_history_path(path_);
}

void HistoryLogger::on_epoch_end(FitContext&, int, EpochResult& logs) {
  history_.push_back(logs);
  write_history(history_, path_);
}

}  // namespace loom
