// Numbers on the command line, read the same way by every loom program. Whole numbers are decimal digits with an
// optional leading minus ("010" is ten; "0x10", "1e3", "+5", " 5" and "" are refused, not read as sixteen, eight or
// a thousand); real numbers are decimal or exponent notation ("0.001", "1e-3"; not hexadecimal, "inf" or "nan").
// A value outside the flag's range, or beyond what its type holds, is refused with the text the user typed: never
// clamped, wrapped or rounded to zero. Errors are loom::UsageError (exit 2), one line naming the flag.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>

namespace loom::apps {

// `text` as a whole number in [min, max]; otherwise "FLAG must be a whole number from MIN to MAX, got 'TEXT'".
int64_t parse_whole_number(const std::string& flag, const std::string& text, int64_t min, int64_t max);
// The same for the full unsigned 64-bit range (seeds): "FLAG must be a whole number from 0 to 2^64-1, got '-1'".
uint64_t parse_unsigned_number(const std::string& flag, const std::string& text);
// What a real-number flag must be beyond finite, checked on the value read (before its type's range, so "-1e-50" is
// refused for its sign): "FLAG must be <words>, got 'TEXT'". Empty `holds`: any finite number.
struct RealRequirement {
  std::string words;  // "a positive number", "in [0, 1)"
  std::function<bool(double)> holds;
};
extern const RealRequirement kPositiveNumber;

// `text` as a finite real number: "FLAG must be a number, got 'abc'"; one whose magnitude a double cannot hold (1e400,
// or 1e-400, which would become 0 or lose its precision): "FLAG 1e400 is too large for a 64-bit float (the largest
// is 1.79769313e+308)".
double parse_real_number(const std::string& flag, const std::string& text, const RealRequirement& requirement = {});
// The same for a 32-bit float: "FLAG 1e-50 is too small for a 32-bit float (the smallest is 1.17549435e-38)", never
// read as 0.
float parse_float_number(const std::string& flag, const std::string& text, const RealRequirement& requirement = {});

// A number in at most `digits` significant digits: "0.001" rather than "0.001000" or "0.0010000000475".
std::string number_text(double value, int digits);
// A flag's value as --help's defaults and saved run descriptions show it: whole numbers in full, a float in 7
// significant digits, a double in 12.
std::string flag_value_text(float value);
std::string flag_value_text(double value);
template <class Int>
std::string flag_value_text(Int value) {
  return std::to_string(value);
}

// CLI11 options read with the functions above into `target`, whose initial value is the default --help shows (for an
// option without one, such as a flag that is off unless given, chain ->default_str("")). `name` is the option's CLI11
// name ("--epochs"); the flag in messages is its first long name. --help names the type INT, UINT or FLOAT.
CLI::Option* add_whole_number_option(CLI::App& app, const std::string& name, int& target, int min,
                                     const std::string& help, int max = std::numeric_limits<int>::max());
CLI::Option* add_whole_number_option(CLI::App& app, const std::string& name, int64_t& target, int64_t min,
                                     const std::string& help, int64_t max = std::numeric_limits<int64_t>::max());
CLI::Option* add_unsigned_number_option(CLI::App& app, const std::string& name, uint64_t& target,
                                        const std::string& help);
CLI::Option* add_real_number_option(CLI::App& app, const std::string& name, double& target, const std::string& help,
                                    const RealRequirement& requirement = {});
CLI::Option* add_real_number_option(CLI::App& app, const std::string& name, float& target, const std::string& help,
                                    const RealRequirement& requirement = {});

}  // namespace loom::apps
