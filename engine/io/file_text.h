// Text that comes from files (or from paths a user typed) on its way into loom's one-line messages, and JSON read
// from files, which may be damaged or hostile. Shared by every reader: the safetensors header, a saved model's
// architecture, a checkpoint's training state, history files, pictures.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace loom {

// `text` on one line and safe to print: control characters (C0, DEL, C1, the Unicode line and paragraph
// separators) and bytes that are not well-formed UTF-8 spelled out (\n, \x1b, \u0085, \xff); cut before the first
// character that would end beyond `limit` bytes of `text`, with "..." to say so.
std::string one_line(const std::string& text, size_t limit = std::string::npos);

// The shortest decimal text that reads back to the same float or double ("0.001", "1e-06", "inf", "nan"): for
// messages, and for files whose numbers must come back bit for bit.
std::string shortest_text(float value);
std::string shortest_text(double value);

// Whether `path` ends in `extension` (".csv"): how the readers and writers tell a file's layout by its name.
bool has_extension(const std::string& path, const std::string& extension);

// "1 epoch", "3 epochs": a count and its noun, singular for one. `plural` for nouns that do not take an "s".
std::string count_text(long long count, const std::string& noun, const std::string& plural = "");
// "once", "twice", "3 times": how often a flag was given.
std::string times_text(long long count);

// Values from files are shown up to this many bytes, so a damaged file cannot flood a message.
constexpr size_t kShownBytes = 80;

// A JSON value as it appeared in the file, for messages: one line, at most kShownBytes.
std::string shown_json(const nlohmann::json& value);

// Bounds for JSON from files. nlohmann's parser, dump() and destructor recurse once per level, and a DOM costs many
// times the text it came from: without bounds, a few MB of "[[[[" exhausts the stack, and long lists the memory,
// before the content could be checked.
struct JsonBounds {
  size_t max_depth = 8;                     // objects and lists inside each other
  size_t max_list_items = size_t{1} << 20;  // items in any one list
  size_t max_items = size_t{1} << 22;       // values, lists and objects in all
};

// What parse_bounded_json found wrong: invalid JSON (`reason` holds the parser's words), or a bound or a repeated key
// (the parser would silently keep the last of repeated keys). `keys` leads from the top object to where it was
// found (the repeated key last), for callers that phrase it in their own terms.
struct JsonProblem : std::runtime_error {
  enum class Kind { Invalid, TooDeep, TooLong, RepeatedKey };
  JsonProblem(Kind kind, std::vector<std::string> keys, const std::string& what);
  Kind kind;
  std::vector<std::string> keys;
};

// Parses `text` within `bounds`; a JsonProblem whose what() reads "is not valid JSON: <reason>", "nests lists or
// objects more than 8 deep", "holds a list of more than N items", "holds more than N values" or "has the key 'k'
// twice" otherwise.
nlohmann::json parse_bounded_json(const std::string& text, const JsonBounds& bounds = {});

}  // namespace loom
