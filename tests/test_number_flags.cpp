// The command line's numbers (apps/number_flags.h): decimal only, the flag's range, the type's range, and the text
// the user typed in every refusal; through CLI11 as the apps parse them.
#include "apps/number_flags.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "engine/runtime/errors.h"
#include "tests/test_support.h"

namespace {

using loom::UsageError;
using loom::apps::parse_float_number;
using loom::apps::parse_real_number;
using loom::apps::parse_unsigned_number;
using loom::apps::parse_whole_number;
using loom::test::expect_one_line_error;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

TEST(NumberFlags, WholeNumbersAreDecimal) {
  EXPECT_EQ(parse_whole_number("--epochs", "10", 1, kMax), 10);
  EXPECT_EQ(parse_whole_number("--epochs", "010", 1, kMax), 10);  // not octal 8
  EXPECT_EQ(parse_whole_number("--early-stopping", "0", 0, kMax), 0);
  EXPECT_EQ(parse_whole_number("--x", "-7", -10, 10), -7);
  EXPECT_EQ(parse_whole_number("--batch-size", "9223372036854775807", 1, kMax), kMax);
  for (const std::string typed : {"0x10", "1e3", "+5", " 5", "5 ", "", "ten", "12abc", "1.0", "--3", "0b1"})
    expect_one_line_error<UsageError>(
        [&] { parse_whole_number("--epochs", typed, 1, kMax); },
        {"--epochs must be a whole number from 1 to 9223372036854775807, got '" + typed + "'"});
}

TEST(NumberFlags, WholeNumbersOutOfRangeQuoteWhatWasTyped) {
  // Beyond int64: refused as typed, not clamped to 2^63-1.
  expect_one_line_error<UsageError>(
      [] { parse_whole_number("--batch-size", "99999999999999999999", 1, kMax); },
      {"--batch-size must be a whole number from 1 to 9223372036854775807, got '99999999999999999999'"});
  expect_one_line_error<UsageError>([] { parse_whole_number("--epochs", "0", 1, 2147483647); },
                                    {"--epochs must be a whole number from 1 to 2147483647, got '0'"});
  expect_one_line_error<UsageError>([] { parse_whole_number("--filters", "65537", 1, 65536); },
                                    {"from 1 to 65536, got '65537'"});
  expect_one_line_error<UsageError>([] { parse_whole_number("--index", "-1", 0, kMax); }, {"got '-1'"});
}

TEST(NumberFlags, SeedsSpanTheUnsigned64BitRange) {
  EXPECT_EQ(parse_unsigned_number("--seed", "0"), 0u);
  EXPECT_EQ(parse_unsigned_number("--seed", "18446744073709551615"), std::numeric_limits<uint64_t>::max());
  for (const std::string typed : {"-1", "18446744073709551616", "99999999999999999999999", "0x1", "1e5", ""})
    expect_one_line_error<UsageError>(
        [&] { parse_unsigned_number("--seed", typed); },
        {"--seed must be a whole number from 0 to 18446744073709551615, got '" + typed + "'"});
}

TEST(NumberFlags, RealNumbers) {
  EXPECT_DOUBLE_EQ(parse_real_number("--validation-split", "0.1"), 0.1);
  EXPECT_DOUBLE_EQ(parse_real_number("--stop-at-loss", "4e-1"), 0.4);
  EXPECT_DOUBLE_EQ(parse_real_number("--x", "-2.5E+1"), -25);
  EXPECT_DOUBLE_EQ(parse_real_number("--x", ".5"), 0.5);
  EXPECT_EQ(parse_real_number("--x", "0"), 0);
  EXPECT_FLOAT_EQ(parse_float_number("--lr", "0.001"), 0.001f);
  for (const std::string typed : {"inf", "nan", "-inf", "0x1p3", "half", "", " 1", "1 ", "1,5", "1e", "."})
    expect_one_line_error<UsageError>([&] { parse_real_number("--lr", typed); },
                                      {"--lr must be a number, got '" + typed + "'"});
}

TEST(NumberFlags, RealNumbersBeyondTheirTypeAreRefusedNotRounded) {
  // 1e-50 is positive, but a float would hold 0: the refusal says so with the number typed, not "got 0.000000".
  expect_one_line_error<UsageError>([] { parse_float_number("--lr", "1e-50"); },
                                    {"--lr 1e-50 is too small for a 32-bit float (the smallest is 1.17549435e-38)"});
  expect_one_line_error<UsageError>([] { parse_float_number("--lr", "1e39"); },
                                    {"--lr 1e39 is too large for a 32-bit float (the largest is 3.40282347e+38)"});
  expect_one_line_error<UsageError>([] { parse_real_number("--stop-at-loss", "1e400"); },
                                    {"--stop-at-loss 1e400 is too large for a 64-bit float"});
  expect_one_line_error<UsageError>([] { parse_real_number("--validation-split", "1e-400"); },
                                    {"--validation-split 1e-400 is too small for a 64-bit float"});
  expect_one_line_error<UsageError>([] { parse_real_number("--x", "-1e400"); }, {"too large"});
  EXPECT_DOUBLE_EQ(parse_real_number("--x", "1e-300"), 1e-300);
  EXPECT_EQ(parse_float_number("--lr", "-0"), 0.f);  // zero is held exactly; the flag's own check refuses it
}

TEST(NumberFlags, RealRequirementsAreCheckedOnTheValueAsTyped) {
  // The sign first: -1e-50 is not positive, whatever a float would make of it.
  expect_one_line_error<UsageError>([] { parse_float_number("--lr", "-1e-50", loom::apps::kPositiveNumber); },
                                    {"--lr must be a positive number, got '-1e-50'"});
  expect_one_line_error<UsageError>([] { parse_float_number("--lr", "0", loom::apps::kPositiveNumber); },
                                    {"--lr must be a positive number, got '0'"});
  const loom::apps::RealRequirement fraction = {"in [0, 1)", [](double v) { return v >= 0 && v < 1; }};
  // Rounds to 1 as a double: refused quoting what was typed, not "got 1".
  expect_one_line_error<UsageError>([&] { parse_real_number("--validation-split", "0.99999999999999999", fraction); },
                                    {"--validation-split must be in [0, 1), got '0.99999999999999999'"});
  EXPECT_DOUBLE_EQ(parse_real_number("--validation-split", "0.25", fraction), 0.25);
}

TEST(NumberFlags, RefusalsSpellOutControlBytes) {
  expect_one_line_error<UsageError>([] { parse_whole_number("--epochs", "\x1b[31m\n", 1, 10); },
                                    {"got '\\x1b[31m\\n'"});
}

// The options as the apps declare them, parsed by CLI11 from an argv.
struct Parsed {
  int epochs = 10;
  int64_t batch_size = 32, filters = 64;
  uint64_t seed = 0;
  float lr = 1e-3f;
  double split = 0;
};

Parsed parse(const std::vector<std::string>& args) {
  CLI::App app{"test", "test"};
  Parsed p;
  loom::apps::add_whole_number_option(app, "--epochs", p.epochs, 1, "");
  loom::apps::add_whole_number_option(app, "--batch-size,-b", p.batch_size, 1, "");
  loom::apps::add_whole_number_option(app, "--filters", p.filters, 1, "", 65536);
  loom::apps::add_unsigned_number_option(app, "--seed", p.seed, "");
  loom::apps::add_real_number_option(app, "--lr", p.lr, "");
  loom::apps::add_real_number_option(app, "--validation-split", p.split, "");
  std::vector<std::string> argv_storage = {"test"};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return p;
}

TEST(NumberFlags, ThroughCli11) {
  const Parsed defaults = parse({});
  EXPECT_EQ(defaults.epochs, 10);
  EXPECT_EQ(defaults.batch_size, 32);
  const Parsed p = parse({"--epochs", "010", "-b", "0064", "--seed", "18446744073709551615", "--lr", "1e-3",
                          "--validation-split=0.25", "--filters", "65536"});
  EXPECT_EQ(p.epochs, 10);
  EXPECT_EQ(p.batch_size, 64);
  EXPECT_EQ(p.seed, std::numeric_limits<uint64_t>::max());
  EXPECT_FLOAT_EQ(p.lr, 1e-3f);
  EXPECT_DOUBLE_EQ(p.split, 0.25);
  EXPECT_EQ(p.filters, 65536);
  // The long name in messages, also for an option with a short one; a negative number is a value, not a flag.
  expect_one_line_error<UsageError>([] { parse({"-b", "0x10"}); }, {"--batch-size must be a whole number"});
  expect_one_line_error<UsageError>([] { parse({"--seed", "-1"}); }, {"--seed must be a whole number", "'-1'"});
  expect_one_line_error<UsageError>(
      [] {
        parse({"--epochs", "3000000000"});
      },
      {"--epochs must be a whole number from 1 to 2147483647, got '3000000000'"});
  expect_one_line_error<UsageError>([] { parse({"--lr", "1e-50"}); }, {"--lr 1e-50 is too small"});
}

TEST(NumberFlags, HelpShowsTheDefaultsAsTyped) {
  CLI::App app{"test", "test"};
  float lr = 1e-3f;
  double split = 0.1;
  int epochs = 10;
  loom::apps::add_real_number_option(app, "--lr", lr, "learning rate");
  loom::apps::add_real_number_option(app, "--validation-split", split, "split");
  loom::apps::add_whole_number_option(app, "--epochs", epochs, 1, "epochs");
  int patience = 0;
  loom::apps::add_whole_number_option(app, "--early-stopping", patience, 0, "patience")->default_str("");
  const std::string help = app.help();
  EXPECT_NE(help.find("FLOAT=0.001 "), std::string::npos) << help;
  EXPECT_NE(help.find("FLOAT=0.1"), std::string::npos) << help;
  EXPECT_NE(help.find("INT=10 "), std::string::npos) << help;
  EXPECT_NE(help.find("--early-stopping INT "), std::string::npos) << help;  // off unless given: no default
}

}  // namespace
