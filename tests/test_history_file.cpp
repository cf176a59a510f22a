// History files: both layouts round-trip every double exactly (NaN and infinities included), are laid out as Keras
// writes them (CSVLogger's header, History.history's keys), and every kind of damage is reported as one loom::Error
// line that names the file; a path with neither extension is the caller's mistake (loom::UsageError).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

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
  void expect_read_error(const std::string& file, const std::string& problem) {
    try {
      read_history(file);
      ADD_FAILURE() << "no error reading " << file;
    } catch (const UsageError& e) {
      ADD_FAILURE() << "damaged file reported as a usage error: " << e.what();
    } catch (const Error& e) {
      const std::string message = e.what();
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

TEST_F(HistoryFile, NonFiniteValuesRoundTrip) {
  const double inf = std::numeric_limits<double>::infinity();
  const History history = {validated(epoch(std::nan(""), 0.5, 0.01, 1), inf, -inf), epoch(-inf, 0, -0.0, 2)};
  round_trip(history, "h.csv");
  round_trip(history, "h.json");
  EXPECT_TRUE(std::signbit(read_history(path("h.json"))[1].learning_rate));
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
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "history file '" + path("absent.csv") + "': cannot read: No such file or directory");
  }
  fs::create_directory(path("folder.json"));
  expect_read_error(path("folder.json"), "cannot read: Is a directory");
  expect_damaged("empty.csv", "", "is empty");
  expect_damaged("blank.csv", "\n\n", "is empty");
  // A wrong path that never ends (or a data set) is refused at a size no history reaches, not read whole.
  fs::create_symlink("/dev/zero", path("zero.csv"));
  expect_read_error(path("zero.csv"), "larger than 64 MiB");
}

TEST_F(HistoryFile, CsvHeaderProblems) {
  expect_damaged("h.csv", "epoch,accuracy,loss,learning_rate\n0,1,1,1\n", "line 1: no column 'seconds'");
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
  expect_damaged("h.json", "{\"epoch\": [0], \"accuracy\": [1], \"loss\": [1], \"learning_rate\": [1]}",
                 "no key 'seconds'");
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

}  // namespace
}  // namespace loom::test
