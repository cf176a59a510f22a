// History files: both layouts round-trip every double exactly, are laid out as Keras writes them (CSVLogger's
// header, History.history's keys), read Keras's own files (no learning rate or time, no "epoch" key), and every kind
// of damage, a figure out of its range included, is reported as one loom::Error line that names the file; a path with
// neither extension is the caller's mistake (loom::UsageError).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/io/safetensors.h"
#include "engine/runtime/errors.h"
#include "engine/training/history_file.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

namespace fs = std::filesystem;
EpochResult epoch(double loss, double accuracy, double learning_rate, double seconds) {
  EpochResult e;
  e.loss = loss;
  e.accuracy = accuracy;
  e.learning_rate = learning_rate;
  e.seconds = seconds;
  return e;
}

EpochResult validated(EpochResult e, double val_loss, double val_accuracy) {
  e.validated = true;
  e.val_loss = val_loss;
  e.val_accuracy = val_accuracy;
  return e;
}

// Values whose shortest decimal form is long or whose exponent is far from 0, so a lossy format would show.
History awkward_history() {
  return {epoch(0.1, 1.0 / 3, 2.5e-7, 12.345678901234567), epoch(2.0 / 3, 0.7, 1e-3, 1e300),
          epoch(5e-324, 0.9999999999999999, 0.001, 0)};
}

bool same_double(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void expect_same(const History& got, const History& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE("epoch " + std::to_string(i));
    EXPECT_TRUE(same_double(got[i].loss, want[i].loss)) << got[i].loss << " vs " << want[i].loss;
    EXPECT_TRUE(same_double(got[i].accuracy, want[i].accuracy)) << got[i].accuracy << " vs " << want[i].accuracy;
    EXPECT_EQ(got[i].validated, want[i].validated);
    EXPECT_TRUE(same_double(got[i].val_loss, want[i].validated ? want[i].val_loss : 0)) << got[i].val_loss;
    EXPECT_TRUE(same_double(got[i].val_accuracy, want[i].validated ? want[i].val_accuracy : 0));
    EXPECT_TRUE(same_double(got[i].learning_rate, want[i].learning_rate)) << got[i].learning_rate;
    EXPECT_TRUE(same_double(got[i].seconds, want[i].seconds)) << got[i].seconds << " vs " << want[i].seconds;
    EXPECT_EQ(got[i].device_ms, 0);  // not stored: stays at its default
    EXPECT_EQ(got[i].device_bytes_in_use, 0u);
    EXPECT_EQ(got[i].graph_steps, 0);
  }
}

class HistoryFile : public TempDirTest {
 protected:
  std::string write_text(const std::string& name, const std::string& text) const {
    std::ofstream(path(name), std::ios::binary) << text;
    return path(name);
  }
  void round_trip(const History& history, const std::string& name) {
    write_history(history, path(name));
    expect_same(read_history(path(name)), history);
  }
  // Reading `text` saved as `name` fails with a one-line loom::Error (not a UsageError) naming the file and saying
  // `problem`.
  void expect_damaged(const std::string& name, const std::string& text, const std::string& problem) {
    SCOPED_TRACE(text.substr(0, 200));
    expect_read_error(write_text(name, text), problem);
  }
  void expect_read_error(const std::string& file, const std::string& problem, bool usage = false) {
    try {
      read_history(file);
      ADD_FAILURE() << "no error reading " << file;
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_EQ(dynamic_cast<const UsageError*>(&e) != nullptr, usage) << "usage error or not: " << message;
      EXPECT_NE(message.find("history file '" + file + "'"), std::string::npos) << message;
      EXPECT_NE(message.find(problem), std::string::npos) << "wanted \"" << problem << "\" in: " << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
  }
};

// --- round trips ---------------------------------------------------------------------------------------------------

const char* const kBothFormats[] = {"h.csv", "h.json"};

TEST_F(HistoryFile, RoundTripWithoutValidation) {
  for (const char* name : kBothFormats) round_trip(awkward_history(), name);
}

TEST_F(HistoryFile, RoundTripWithValidation) {
  History history = awkward_history();
  for (EpochResult& e : history) e = validated(e, e.loss * 1.5, 1.0 / 7);
  for (const char* name : kBothFormats) round_trip(history, name);
}

TEST_F(HistoryFile, RoundTripWithSomeEpochsValidated) {
  History history = awkward_history();
  history[1] = validated(history[1], 0.1, 2.5e-7);
  for (const char* name : kBothFormats) round_trip(history, name);
}

// A run whose loss became NaN in its last epoch (the NaN guard stops it there) writes that epoch too, and its history
// reads back as written, in both formats: the report shows where it diverged.
TEST_F(HistoryFile, ADivergedLastEpochIsWrittenAndReadBack) {
  const double inf = std::numeric_limits<double>::infinity();
  for (double diverged : {std::nan(""), inf}) {
    const History history = {validated(epoch(0.5, 0.5, 0.01, 1), 0.7, 0.5),
                             validated(epoch(diverged, 0.1, 0.01, 2), diverged, 0.1)};
    for (const char* name : kBothFormats) {
      write_history(history, path(name));
      const History read = read_history(path(name));
      ASSERT_EQ(read.size(), 2u) << name;
      EXPECT_EQ(std::isnan(read[1].loss), std::isnan(diverged)) << name;
      EXPECT_EQ(std::isinf(read[1].val_loss), std::isinf(diverged)) << name;
    }
  }
}

// Non-finite figures anywhere else are written as they are (Python's spellings), but no report may plot them: reading
// refuses them.
TEST_F(HistoryFile, NonFiniteValuesAreWrittenButNotRead) {
  const double inf = std::numeric_limits<double>::infinity();
  const History history = {validated(epoch(0.5, 0.5, 0.01, 1), inf, 0.5), epoch(std::nan(""), 0.5, 0.01, 2)};
  write_history(history, path("h.csv"));
  EXPECT_EQ(slurp(path("h.csv")),
            "epoch,accuracy,loss,val_accuracy,val_loss,learning_rate,seconds\n0,0.5,0.5,0.5,inf,0.01,1\n"
            "1,0.5,nan,,,0.01,2\n");
  expect_read_error(path("h.csv"), "line 2: epoch 0: val_loss is inf, not a finite number >= 0");
  write_history(history, path("h.json"));
  EXPECT_NE(slurp(path("h.json")).find(R"("val_loss": ["Infinity",null])"), std::string::npos) << slurp(path("h.json"));
  expect_read_error(path("h.json"), "history file '" + path("h.json") + "': epoch 0: val_loss is inf, not a finite");
}

TEST_F(HistoryFile, EmptyHistoryRoundTrips) {
  round_trip({}, "h.csv");
  round_trip({}, "h.json");
  EXPECT_EQ(slurp(path("h.csv")), "epoch,accuracy,loss,learning_rate,seconds\n");
}

TEST_F(HistoryFile, OverwritesPreviousFile) {
  write_history(awkward_history(), path("h.csv"));
  write_history({epoch(1, 0.5, 0.1, 3)}, path("h.csv"));
  EXPECT_EQ(read_history(path("h.csv")).size(), 1u);
}

// --- layout --------------------------------------------------------------------------------------------------------

TEST_F(HistoryFile, CsvHeaderAndRowsAreKerasCsvLoggerStyle) {
  write_history({epoch(0.5, 0.75, 0.001, 2.5), epoch(0.25, 0.875, 0.001, 2.25)}, path("h.csv"));
  EXPECT_EQ(slurp(path("h.csv")),
            "epoch,accuracy,loss,learning_rate,seconds\n"
            "0,0.75,0.5,0.001,2.5\n"
            "1,0.875,0.25,0.001,2.25\n");
}

TEST_F(HistoryFile, CsvValidationColumnsEmptyForEpochsNotValidated) {
  write_history({validated(epoch(0.5, 0.75, 0.001, 2.5), 0.4, 0.8), epoch(0.1, 1.0 / 3, 2.5e-7, 1)}, path("h.csv"));
  EXPECT_EQ(slurp(path("h.csv")),
            "epoch,accuracy,loss,val_accuracy,val_loss,learning_rate,seconds\n"
            "0,0.75,0.5,0.8,0.4,0.001,2.5\n"
            "1,0.3333333333333333,0.1,,,2.5e-07,1\n");
}

TEST_F(HistoryFile, JsonUsesKerasHistoryKeys) {
  write_history({validated(epoch(0.5, 0.75, 0.001, 2.5), 0.4, 0.8), epoch(0.1, 0.2, 0.001, 1)}, path("h.json"));
  const nlohmann::json json = nlohmann::json::parse(slurp(path("h.json")));
  std::set<std::string> keys;
  for (const auto& item : json.items()) keys.insert(item.key());
  EXPECT_EQ(keys, (std::set<std::string>{"epoch", "accuracy", "loss", "val_accuracy", "val_loss", "learning_rate",
                                         "seconds"}));
  EXPECT_EQ(json["epoch"], nlohmann::json({0, 1}));
  EXPECT_EQ(json["loss"], nlohmann::json({0.5, 0.1}));
  EXPECT_EQ(json["val_loss"], nlohmann::json({0.4, nullptr}));
  // Keras's order, one key per line.
  EXPECT_EQ(slurp(path("h.json")),
            "{\n"
            "  \"epoch\": [0,1],\n"
            "  \"accuracy\": [0.75,0.2],\n"
            "  \"loss\": [0.5,0.1],\n"
            "  \"val_accuracy\": [0.8,null],\n"
            "  \"val_loss\": [0.4,null],\n"
            "  \"learning_rate\": [0.001,0.001],\n"
            "  \"seconds\": [2.5,1.0]\n"
            "}\n");
}

TEST_F(HistoryFile, JsonOmitsValidationKeysWhenNoEpochWasValidated) {
  write_history({epoch(0.5, 0.75, 0.001, 2.5)}, path("h.json"));
  const nlohmann::json json = nlohmann::json::parse(slurp(path("h.json")));
  EXPECT_FALSE(json.contains("val_loss"));
  EXPECT_FALSE(json.contains("val_accuracy"));
  EXPECT_EQ(json.size(), 5u);
}

TEST_F(HistoryFile, ReadsCsvWithColumnsReorderedAndWindowsLineEnds) {
  const History history =
      read_history(write_text("h.csv", "loss,epoch,seconds,learning_rate,accuracy\r\n0.5,0,1,0.01,0.25\r\n"));
  expect_same(history, {epoch(0.5, 0.25, 0.01, 1)});
}

// --- bad requests --------------------------------------------------------------------------------------------------

TEST_F(HistoryFile, OtherExtensionsAreUsageErrors) {
  for (const std::string name : {"h.txt", "h", "h.csv.bak", "h.JSON"}) {
    SCOPED_TRACE(name);
    try {
      write_history(awkward_history(), path(name));
      ADD_FAILURE() << "no error writing " << name;
    } catch (const UsageError& e) {
      EXPECT_EQ(std::string(e.what()), "history file '" + path(name) + "' must end in .csv or .json");
    }
    EXPECT_FALSE(fs::exists(path(name)));
    write_text(name, "epoch,accuracy,loss,learning_rate,seconds\n");
    EXPECT_THROW(read_history(path(name)), UsageError);
  }
}

TEST_F(HistoryFile, WriteFailureNamesTheFile) {
  try {
    write_history(awkward_history(), path("missing/h.csv"));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot write '" + path("missing/h.csv") + "': No such file or directory");
  }
}

// --- damaged CSV ---------------------------------------------------------------------------------------------------

TEST_F(HistoryFile, UnreadableFiles) {
  try {
    read_history(path("absent.csv"));
    ADD_FAILURE() << "no error";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()), "history file '" + path("absent.csv") + "': no such file");
  }
  fs::create_directory(path("folder.json"));
  expect_read_error(path("folder.json"), "': is a directory, not a file", true);
  expect_damaged("empty.csv", "", "is empty");
  expect_damaged("blank.csv", "\n\n", "is empty");
  // A device that never ends is not opened; a wrong path to a large file (a data set) is refused at a size no
  // history reaches, not read whole.
  fs::create_symlink("/dev/zero", path("zero.csv"));
  expect_read_error(path("zero.csv"), "': is a character device, not a file", true);
  { std::ofstream(path("large.csv")) << "epoch,accuracy,loss\n"; }
  fs::resize_file(path("large.csv"), (std::uintmax_t{64} << 20) + 1);
  expect_read_error(path("large.csv"), "larger than 64 MiB");
}

TEST_F(HistoryFile, CsvHeaderProblems) {
  expect_damaged("h.csv", "epoch,accuracy,learning_rate\n0,1,1\n", "line 1: no column 'loss'");
  expect_damaged("h.csv", "epoch,loss\n0,1\n", "line 1: no column 'accuracy'");
  expect_damaged("h.csv", "accuracy,loss,learning_rate,seconds\n1,1,1,1\n", "line 1: no column 'epoch'");
  expect_damaged("h.csv", "epoch,acc,loss,learning_rate,seconds\n", "line 1: unknown column 'acc'");
  expect_damaged("h.csv", "epoch,accuracy,loss,loss,learning_rate,seconds\n", "line 1: column 'loss' appears twice");
  expect_damaged("h.csv", "epoch,accuracy,loss,val_loss,learning_rate,seconds\n", "line 1: no column 'val_accuracy'");
  expect_damaged("h.csv", "\xff\xfe \x01,\n", "line 1: unknown column '\\xff\\xfe \\x01'");
}

TEST_F(HistoryFile, CsvRowProblems) {
  const std::string header = "epoch,accuracy,loss,learning_rate,seconds\n";
  expect_damaged("h.csv", header + "0,1,1,1,1\n1,1,1,1\n", "line 3: 4 cells where the header has 5");
  expect_damaged("h.csv", header + "0,1,1,1,1\n\n1,1,1,1,1\n", "line 3: 1 cells where the header has 5");
  expect_damaged("h.csv", header + "0,1,1,1,1\n1,1,abc,1,1\n", ", line 3: 'abc' is not a number in column loss");
  expect_damaged("h.csv", header + "0,1,,1,1\n", "line 2: '' is not a number in column loss");
  expect_damaged("h.csv", header + "0,1, 1,1,1\n", "line 2: ' 1' is not a number in column loss");
  expect_damaged("h.csv", header + "0,1,1e999,1,1\n", "line 2: '1e999' is not a number in column loss");
  expect_damaged("h.csv", header + "0,1,0x10,1,1\n", "line 2: '0x10' is not a number in column loss");
  expect_damaged("h.csv", header + "0,1,1,1,1\n0,1,1,1,1\n", "line 3: epoch '0' where 1 was expected");
  expect_damaged("h.csv", header + "1,1,1,1,1\n", "line 2: epoch '1' where 0 was expected");
  expect_damaged("h.csv", header + "0.0,1,1,1,1\n", "line 2: epoch '0.0' where 0 was expected");
  expect_damaged("h.csv", header + "-1,1,1,1,1\n", "line 2: epoch '-1' where 0 was expected");
  expect_damaged("h.csv", "epoch,accuracy,loss,val_accuracy,val_loss,learning_rate,seconds\n0,1,1,,0.5,1,1\n",
                 "line 2: only one of val_accuracy and val_loss is given");
  expect_damaged("h.csv", header + "0,1,\x01\x02" + std::string(100, 'z') + ",1,1\n", "'\\x01\\x02zzz");
}

// --- damaged JSON --------------------------------------------------------------------------------------------------

TEST_F(HistoryFile, JsonSyntaxAndShapeProblems) {
  expect_damaged("h.json", "", "is not valid JSON");
  expect_damaged("h.json", "{\"epoch\": " + std::string(100000, '[') + std::string(100000, ']') + "}",
                 "nests lists or objects more than 4 deep");
  expect_damaged("h.json", "{\"epoch\": [0,\n 1", "is not valid JSON: parse error at line 2");
  expect_damaged("h.json", "[1, 2]", "holds a JSON array, not an object of lists");
  expect_damaged("h.json", "{\"epoch\": [0], \"loss\": [1], \"learning_rate\": [1]}", "no key 'accuracy'");
  expect_damaged("h.json", R"({"accuracy": [1], "learning_rate": [1]})", "no key 'loss'");
  expect_damaged("h.json", R"({"accuracy": [1, 1], "loss": [1]})", "'accuracy' has 2 values but 'loss' has 1");
  expect_damaged("h.json",
                 R"({"epoch": [0], "acc": [1], "accuracy": [1], "loss": [1], "learning_rate": [1], "seconds": [1]})",
                 "unknown key 'acc'");
  expect_damaged("h.json", R"({"epoch": [0], "accuracy": 1, "loss": [1], "learning_rate": [1], "seconds": [1]})",
                 "'accuracy' is number, not a list");
  expect_damaged("h.json", R"({"epoch": [0, 1], "accuracy": [1, 1], "loss": [1], "learning_rate": [1, 1],
                 "seconds": [1, 1]})",
                 "'loss' has 1 values but 'epoch' has 2");
  expect_damaged("h.json", std::string(100000, '[') + std::string(100000, ']'), "nests lists or objects more than 4");
  expect_damaged("h.json", "{\"epoch\": [0], \"\xff\": []}", "is not valid JSON");
}

TEST_F(HistoryFile, JsonValueProblems) {
  const std::string rest = R"(, "learning_rate": [1, 1], "seconds": [1, 1]})";
  expect_damaged("h.json", R"({"epoch": [0, 1], "accuracy": [1, 1], "loss": [1, "abc"])" + rest,
                 "loss[1] is \"abc\", not a number");
  expect_damaged("h.json", R"({"epoch": [0, 1], "accuracy": [1, 1], "loss": [1, null])" + rest,
                 "loss[1] is null, not a number");
  expect_damaged("h.json", R"({"epoch": [0, 1], "accuracy": [1, [2]], "loss": [1, 1])" + rest,
                 "accuracy[1] is [2], not a number");
  expect_damaged("h.json", R"({"epoch": [0, 2], "accuracy": [1, 1], "loss": [1, 1])" + rest,
                 "epoch 2 where 1 was expected");
  expect_damaged("h.json", R"({"epoch": [0, 1.0], "accuracy": [1, 1], "loss": [1, 1])" + rest,
                 "epoch 1.0 where 1 was expected");
  expect_damaged("h.json", R"({"epoch": [0, "1"], "accuracy": [1, 1], "loss": [1, 1])" + rest,
                 "epoch \"1\" where 1 was expected");
  expect_damaged("h.json", R"({"epoch": [-1, 0], "accuracy": [1, 1], "loss": [1, 1])" + rest,
                 "epoch -1 where 0 was expected");
  expect_damaged("h.json",
                 R"({"epoch": [0, 1], "accuracy": [1, 1], "loss": [1, 1], "val_accuracy": [1, null],
                    "val_loss": [1, 1])" +
                     rest,
                 "only one of val_accuracy and val_loss is given for epoch 1");
  expect_damaged("h.json", R"({"epoch": [0, 1], "accuracy": [1, 1], "loss": [1, 1e999])" + rest, "is not valid JSON");
}

// --- Keras's own files ---------------------------------------------------------------------------------------------

// What tf.keras.callbacks.CSVLogger writes: Python's csv module (\r\n line ends), "epoch" then the logs' keys sorted,
// float32 figures printed by Python, and no learning rate or time.
TEST_F(HistoryFile, ReadsKerasCsvLogger) {
  const History history = read_history(write_text("keras.csv",
                                                  "epoch,accuracy,loss,val_accuracy,val_loss\r\n"
                                                  "0,0.8192777633666992,0.5139447450637817,0.84166663885,0.4388\r\n"
                                                  "1,0.8617777824401855,0.3799,0.8568333387374878,0.3957\r\n"));
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].accuracy, 0.8192777633666992);
  EXPECT_EQ(history[0].val_accuracy, 0.84166663885);
  EXPECT_EQ(history[1].loss, 0.3799);
  EXPECT_TRUE(history[1].validated);
  EXPECT_EQ(history[1].val_accuracy, 0.8568333387374878);
  for (const EpochResult& e : history) {
    EXPECT_TRUE(std::isnan(e.learning_rate)) << "not recorded";
    EXPECT_TRUE(std::isnan(e.seconds)) << "not recorded";
  }
  // Written back, what was not recorded stays out, and reads back the same.
  write_history(history, path("again.csv"));
  const std::string written = slurp(path("again.csv"));
  EXPECT_EQ(written.substr(0, written.find('\n')), "epoch,accuracy,loss,val_accuracy,val_loss");
  expect_same(read_history(path("again.csv")), history);
  write_history(history, path("again.json"));
  EXPECT_EQ(slurp(path("again.json")).find("learning_rate"), std::string::npos);
  expect_same(read_history(path("again.json")), history);
}

// With a schedule, Keras 3 logs the learning rate (sorted among the others), tf.keras 2 as "lr"; "NA" is what
// CSVLogger writes for a figure an epoch did not log (validation_freq 2: epochs without validation).
TEST_F(HistoryFile, ReadsKerasCsvLoggerWithLearningRate) {
  History history = read_history(write_text("keras3.csv",
                                            "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss\r\n"
                                            "0,0.82,0.0010000000474974513,0.51,NA,NA\r\n"
                                            "1,0.86,0.0005000000237487257,0.38,0.85,0.39\r\n"));
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[1].learning_rate, 0.0005000000237487257);
  EXPECT_FALSE(history[0].validated);
  EXPECT_TRUE(history[1].validated);
  EXPECT_TRUE(std::isnan(history[1].seconds));
  history = read_history(write_text("tf2.csv", "epoch,accuracy,loss,lr\n0,0.82,0.51,0.001\n"));
  EXPECT_EQ(history.at(0).learning_rate, 0.001);
  expect_damaged("both.csv", "epoch,accuracy,loss,lr,learning_rate\n", "line 1: column 'learning_rate' appears twice");
  expect_damaged("na.csv", "epoch,accuracy,loss\n0,NA,0.5\n", "line 2: 'NA' is not a number in column accuracy");
}

// json.dump(model.fit(...).history): a JSON object of lists, without "epoch"; the lists count epochs from 0.
TEST_F(HistoryFile, ReadsKerasHistoryJson) {
  const History history = read_history(
      write_text("keras.json", R"({"accuracy": [0.8192777633666992, 0.8617777824401855, 0.8755555748939514], )"
                               R"("loss": [0.5139447450637817, 0.3799, 0.3449], )"
                               R"("val_accuracy": [0.8416666388511658, 0.8568333387374878, 0.86], )"
                               R"("val_loss": [0.4388, 0.3957, 0.3812]})"));
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[2].accuracy, 0.8755555748939514);
  EXPECT_EQ(history[0].val_loss, 0.4388);
  EXPECT_TRUE(history[2].validated);
  EXPECT_TRUE(std::isnan(history[0].learning_rate));
  EXPECT_TRUE(std::isnan(history[0].seconds));
  const History scheduled = read_history(
      write_text("lr.json", R"({"accuracy": [0.82], "learning_rate": [0.0010000000474974513], "loss": [0.51]})"));
  EXPECT_EQ(scheduled.at(0).learning_rate, 0.0010000000474974513);
  EXPECT_FALSE(scheduled.at(0).validated);
}

// --- figures out of range ------------------------------------------------------------------------------------------

TEST_F(HistoryFile, CsvFiguresOutOfRangeAreRefusedNamingEpochAndColumn) {
  const std::string header = "epoch,accuracy,loss,val_accuracy,val_loss,learning_rate,seconds\n";
  const std::string good = "0,0.5,0.5,0.5,0.5,0.001,1\n";
  expect_damaged("h.csv", header + good + "1,1e30,0.4,0.5,0.5,0.001,1\n",
                 "line 3: epoch 1: accuracy is 1e+30, outside [0, 1]");
  expect_damaged("h.csv", header + "0,-0.1,0.5,0.5,0.5,0.001,1\n", "line 2: epoch 0: accuracy is -0.1, outside [0, 1]");
  expect_damaged("h.csv", header + "0,nan,0.5,0.5,0.5,0.001,1\n", "epoch 0: accuracy is nan, outside [0, 1]");
  // Losses: NaN or infinite only in the last epoch, where a diverged run stopped (below); never negative.
  const std::string later = "1,0.5,0.5,0.5,0.5,0.001,1\n";
  expect_damaged("h.csv", header + "0,0.5,-0.5,0.5,0.5,0.001,1\n" + later,
                 "epoch 0: loss is -0.5, not a finite number >= 0");
  expect_damaged("h.csv", header + "0,0.5,inf,0.5,0.5,0.001,1\n" + later,
                 "epoch 0: loss is inf, not a finite number >= 0");
  expect_damaged("h.csv", header + good + "1,0.5,-inf,0.5,0.5,0.001,1\n",
                 "epoch 1: loss is -inf, not a number >= 0 (nor the NaN or infinity of a run that diverged)");
  expect_damaged("h.csv", header + good + "1,0.5,-1,0.5,0.5,0.001,1\n", "epoch 1: loss is -1, not a number >= 0");
  expect_damaged("h.csv", header + "0,0.5,0.5,1.5,0.5,0.001,1\n", "epoch 0: val_accuracy is 1.5, outside [0, 1]");
  expect_damaged("h.csv", header + "0,0.5,0.5,0.5,nan,0.001,1\n" + later,
                 "epoch 0: val_loss is nan, not a finite number >= 0");
  expect_damaged("h.csv", header + "0,0.5,0.5,0.5,0.5,0,1\n", "epoch 0: learning_rate is 0, not a finite number > 0");
  expect_damaged("h.csv", header + "0,0.5,0.5,0.5,0.5,-inf,1\n",
                 "epoch 0: learning_rate is -inf, not a finite number > 0");
  expect_damaged("h.csv", header + "0,0.5,0.5,0.5,0.5,nan,1\n",
                 "epoch 0: learning_rate is nan, not a finite number > 0");
  expect_damaged("h.csv", header + "0,0.5,0.5,0.5,0.5,0.001,-1\n", "epoch 0: seconds is -1, not a finite number >= 0");
  expect_damaged("h.csv", header + "0,0.5,0.5,0.5,0.5,0.001,inf\n",
                 "epoch 0: seconds is inf, not a finite number >= 0");
  // The ends of each range are in it.
  const History edges = read_history(write_text("edges.csv", header + "0,0,0,1,0,1e-300,0\n1,1,1e300,0,5,1e300,1e9\n"));
  EXPECT_EQ(edges.size(), 2u);
}

TEST_F(HistoryFile, JsonFiguresOutOfRangeAreRefusedNamingEpochAndColumn) {
  expect_damaged("h.json", R"({"epoch": [0, 1], "accuracy": [0.5, 1e30], "loss": [0.5, 0.4]})",
                 "history file '" + path("h.json") + "': epoch 1: accuracy is 1e+30, outside [0, 1]");
  expect_damaged("h.json", R"({"accuracy": [0.5, 0.5], "loss": ["NaN", 0.5]})",
                 "epoch 0: loss is nan, not a finite number >= 0");
  expect_damaged("h.json", R"({"accuracy": [0.5], "loss": [0.5], "learning_rate": ["Infinity"]})",
                 "epoch 0: learning_rate is inf, not a finite number > 0");
  expect_damaged("h.json", R"({"accuracy": [0.5], "loss": [0.5], "seconds": [-2]})",
                 "epoch 0: seconds is -2, not a finite number >= 0");
  // Checkpoints keep their history in this layout, and are checked the same way.
  try {
    history_from_json(R"({"epoch": [0], "accuracy": [2], "loss": [0.5], "learning_rate": [0.001], "seconds": [1]})",
                      "run.safetensors (its history)");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "history file 'run.safetensors (its history)': epoch 0: accuracy is 2, outside [0, 1]");
  }
}

// A FIFO named as a history is refused at once (a read would wait for a writer that never comes), as a UsageError,
// in the words of every other reader (engine/io/input_file.h): the safetensors reader's message, its label aside.
TEST_F(HistoryFile, FifoIsRefusedAtOnceInTheOtherReadersWords) {
  // The reader's message and whether it was a UsageError; in a thread of its own, so that a reader that waited for a
  // writer fails the test instead of hanging the suite.
  auto refusal = [](const std::string& file, void (*read)(const std::string&)) {
    std::future<std::pair<std::string, bool>> result = std::async(std::launch::async, [&] {
      try {
        read(file);
      } catch (const UsageError& e) {
        return std::make_pair(std::string(e.what()), true);
      } catch (const Error& e) {
        return std::make_pair(std::string(e.what()), false);
      }
      return std::make_pair(std::string("no error"), false);
    });
    if (result.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      ADD_FAILURE() << "still waiting for '" << file << "' after 20 s";
      // A writer that comes and goes releases a reader stuck in open() or read(), so the test can end.
      const int fd = ::open(file.c_str(), O_WRONLY | O_NONBLOCK);
      if (fd >= 0) ::close(fd);
    }
    return result.get();
  };
  for (const char* name : kBothFormats) {
    SCOPED_TRACE(name);
    const std::string file = path(name);
    ASSERT_EQ(::mkfifo(file.c_str(), 0600), 0);
    const auto [history_message, history_usage] = refusal(file, [](const std::string& p) { read_history(p); });
    EXPECT_EQ(history_message, "history file '" + file + "': is a FIFO, not a file");
    EXPECT_TRUE(history_usage) << "a FIFO is the command line's mistake (exit 2): " << history_message;
    const auto [other_message, other_usage] = refusal(file, [](const std::string& p) { SafetensorsFile::read(p); });
    EXPECT_EQ(other_message, "safetensors file '" + file + "': is a FIFO, not a file");
    EXPECT_EQ(history_usage, other_usage);
  }
}

}  // namespace
}  // namespace loom::test
