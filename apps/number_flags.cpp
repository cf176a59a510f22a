#include "apps/number_flags.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <system_error>

#include "engine/io/file_text.h"
#include "engine/runtime/errors.h"

namespace loom::apps {
namespace {

// What the user typed, as messages quote it: one line, and short (a flag's value is not a place for a novel).
std::string quoted(const std::string& text) { return "'" + one_line(text, 40) + "'"; }

// The first long name of a CLI11 option name: "--output,-o" -> "--output".
std::string flag_of(const std::string& name) {
  size_t start = 0;
  while (start <= name.size()) {
    const size_t end = std::min(name.find(',', start), name.size());
    const std::string part = name.substr(start, end - start);
    if (part.rfind("--", 0) == 0) return part;
    start = end + 1;
  }
  return name;
}

// Decimal digits, with a leading minus for signed types: what from_chars reads in full, and nothing more (from_chars
// takes no "+", no blanks and no "0x", and for unsigned types no "-", but would stop early on "12abc").
template <class Int>
bool read_decimal(const std::string& text, Int& value) {
  const char* first = text.data();
  const char* last = first + text.size();
  if (text.empty()) return false;
  const auto [end, error] = std::from_chars(first, last, value, 10);
  return error == std::errc() && end == last;
}

[[noreturn]] void refuse_whole(const std::string& flag, const std::string& text, const std::string& min,
                               const std::string& max) {
  throw UsageError(flag + " must be a whole number from " + min + " to " + max + ", got " + quoted(text));
}

// Decimal or exponent notation, as strtod reads it, but not its hexadecimal, "inf", "nan" or leading blanks.
bool plain_real_syntax(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+')) return false;
  return true;
}

// `text` as a finite real number that `Float` holds: 0, or a magnitude between its smallest normal value and its
// largest (strtod's ERANGE says a double cannot hold it either way).
template <class Float>
Float read_real(const std::string& flag, const std::string& text, const char* type_name,
                const RealRequirement& requirement) {
  if (!plain_real_syntax(text)) throw UsageError(flag + " must be a number, got " + quoted(text));
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) throw UsageError(flag + " must be a number, got " + quoted(text));
  if (requirement.holds && !requirement.holds(value))
    throw UsageError(flag + " must be " + requirement.words + ", got " + quoted(text));
  const double magnitude = std::fabs(value);
  const bool out_of_range = errno == ERANGE || !std::isfinite(value);
  const std::string as_typed = one_line(text, 40);
  if ((out_of_range && magnitude >= 1) || magnitude > std::numeric_limits<Float>::max())
    throw UsageError(flag + " " + as_typed + " is too large for " + type_name + " (the largest is " +
                     number_text(std::numeric_limits<Float>::max(), 9) + ")");
  if (out_of_range || (magnitude != 0 && magnitude < std::numeric_limits<Float>::min()))
    throw UsageError(flag + " " + as_typed + " is too small for " + type_name + " (the smallest is " +
                     number_text(std::numeric_limits<Float>::min(), 9) + ")");
  return static_cast<Float>(value);
}

template <class Number, class Parse>
CLI::Option* add_number_option(CLI::App& app, const std::string& name, Number& target, const std::string& help,
                               const char* type_name, Parse parse) {
  const std::string flag = flag_of(name);
  CLI::Option* option = app.add_option_function<std::string>(
      name, [&target, flag, parse](const std::string& text) { target = parse(flag, text); }, help);
  option->type_name(type_name);
  option->default_str(flag_value_text(target));
  return option;
}

}  // namespace

const RealRequirement kPositiveNumber = {"a positive number", [](double value) { return value > 0; }};

std::string number_text(double value, int digits) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*g", digits, value);
  return buf;
}

std::string flag_value_text(float value) { return number_text(static_cast<double>(value), 7); }
std::string flag_value_text(double value) { return number_text(value, 12); }

int64_t parse_whole_number(const std::string& flag, const std::string& text, int64_t min, int64_t max) {
  int64_t value = 0;
  if (!read_decimal(text, value) || value < min || value > max)
    refuse_whole(flag, text, std::to_string(min), std::to_string(max));
  return value;
}

uint64_t parse_unsigned_number(const std::string& flag, const std::string& text) {
  uint64_t value = 0;
  if (!read_decimal(text, value)) refuse_whole(flag, text, "0", std::to_string(std::numeric_limits<uint64_t>::max()));
  return value;
}

double parse_real_number(const std::string& flag, const std::string& text, const RealRequirement& requirement) {
  return read_real<double>(flag, text, "a 64-bit float", requirement);
}

float parse_float_number(const std::string& flag, const std::string& text, const RealRequirement& requirement) {
  return read_real<float>(flag, text, "a 32-bit float", requirement);
}

CLI::Option* add_whole_number_option(CLI::App& app, const std::string& name, int& target, int min,
                                     const std::string& help, int max) {
  return add_number_option(app, name, target, help, "INT",
                           [min, max](const std::string& flag, const std::string& text) {
                             return static_cast<int>(parse_whole_number(flag, text, min, max));
                           });
}

CLI::Option* add_whole_number_option(CLI::App& app, const std::string& name, int64_t& target, int64_t min,
                                     const std::string& help, int64_t max) {
  return add_number_option(app, name, target, help, "INT",
                           [min, max](const std::string& flag, const std::string& text) {
                             return parse_whole_number(flag, text, min, max);
                           });
}

CLI::Option* add_unsigned_number_option(CLI::App& app, const std::string& name, uint64_t& target,
                                        const std::string& help) {
  return add_number_option(app, name, target, help, "UINT", parse_unsigned_number);
}

CLI::Option* add_real_number_option(CLI::App& app, const std::string& name, double& target, const std::string& help,
                                    const RealRequirement& requirement) {
  return add_number_option(app, name, target, help, "FLOAT",
                           [requirement](const std::string& flag, const std::string& text) {
                             return parse_real_number(flag, text, requirement);
                           });
}

CLI::Option* add_real_number_option(CLI::App& app, const std::string& name, float& target, const std::string& help,
                                    const RealRequirement& requirement) {
  return add_number_option(app, name, target, help, "FLOAT",
                           [requirement](const std::string& flag, const std::string& text) {
                             return parse_float_number(flag, text, requirement);
                           });
}

}  // namespace loom::apps
