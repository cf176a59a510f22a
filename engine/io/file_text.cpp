#include "engine/io/file_text.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <unordered_set>
#include <utility>

namespace loom {

using nlohmann::json;

namespace {

// The well-formed UTF-8 character starting at text[i]: its length, and its code point in *code; 0 for a byte that
// starts none (a stray continuation byte, an overlong form, a surrogate, beyond U+10FFFF, cut short).
size_t utf8_character(const std::string& text, size_t i, uint32_t* code) {
  const unsigned char c = static_cast<unsigned char>(text[i]);
  size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // the allowed range of the second byte
  if (c < 0x80) {
    *code = c;
    return 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    length = 2;
    *code = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    length = 3;
    *code = c & 0x0F;
    if (c == 0xE0) low = 0xA0;   // overlong below
    if (c == 0xED) high = 0x9F;  // surrogates above
  } else if (c >= 0xF0 && c <= 0xF4) {
    length = 4;
    *code = c & 0x07;
    if (c == 0xF0) low = 0x90;   // overlong below
    if (c == 0xF4) high = 0x8F;  // beyond U+10FFFF above
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    const unsigned char next = static_cast<unsigned char>(text[i + k]);
    if (k == 1 ? (next < low || next > high) : (next & 0xC0) != 0x80) return 0;
    *code = (*code << 6) | (next & 0x3F);
  }
  return length;
}

std::string spelled(uint32_t code, bool as_byte) {
  char text[12];
  if (code == '\n') return "\\n";
  if (code == '\r') return "\\r";
  if (code == '\t') return "\\t";
  std::snprintf(text, sizeof text, as_byte ? "\\x%02x" : "\\u%04x", static_cast<unsigned>(code));
  return text;
}

template <class T>
std::string shortest_text_of(T value) {
  char text[40];
  return std::string(text, std::to_chars(text, text + sizeof text, value).ptr);
}

}  // namespace

std::string shortest_text(float value) { return shortest_text_of(value); }
std::string shortest_text(double value) { return shortest_text_of(value); }

bool has_extension(const std::string& path, const std::string& extension) {
  return path.size() > extension.size() &&
         path.compare(path.size() - extension.size(), extension.size(), extension) == 0;
}

std::string one_line(const std::string& text, size_t limit) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    uint32_t code = 0;
    const size_t length = utf8_character(text, i, &code);
    if (i + std::max<size_t>(length, 1) > limit) return out + "...";  // never half a character
    if (length == 0) {
      out += spelled(static_cast<unsigned char>(text[i]), true);  // not UTF-8: damage, or another encoding
      i += 1;
      continue;
    }
    // Control characters, C1's included (some terminals start escape sequences with them), and the Unicode line
    // and paragraph separators would break the line or drive the terminal.
    if (code < 0x20 || code == 0x7f) {
      out += spelled(code, true);
    } else if ((code >= 0x80 && code <= 0x9f) || code == 0x2028 || code == 0x2029) {
      out += spelled(code, false);
    } else {
      out.append(text, i, length);
    }
    i += length;
  }
  return out;
}

std::string shown_json(const json& value) {
  return one_line(value.dump(-1, ' ', false, json::error_handler_t::replace), kShownBytes);
}

JsonProblem::JsonProblem(Kind kind, std::vector<std::string> keys, const std::string& what)
    : std::runtime_error(what), kind(kind), keys(std::move(keys)) {}

namespace {

// A first pass over the text that builds nothing and enforces the bounds as it reads. (nlohmann's parse with a
// callback would do it while building, but its builder rescans the enclosing list each time an object closes: a
// list of a million {} would take hours.)
class BoundsChecker : public nlohmann::json_sax<json> {
 public:
  explicit BoundsChecker(const JsonBounds& bounds) : bounds_(bounds) {}

  bool null() override { return count_item(); }
  bool boolean(bool) override { return count_item(); }
  bool number_integer(number_integer_t) override { return count_item(); }
  bool number_unsigned(number_unsigned_t) override { return count_item(); }
  bool number_float(number_float_t, const string_t&) override { return count_item(); }
  bool string(string_t&) override { return count_item(); }
  bool binary(binary_t&) override { return count_item(); }
  bool start_object(std::size_t) override { return open(true); }
  bool start_array(std::size_t) override { return open(false); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& key) override {
    Frame& frame = frames_.back();
    frame.key = key;
    frame.has_key = true;
    if (!frame.keys.insert(key).second)
      fail(JsonProblem::Kind::RepeatedKey, "has the key '" + one_line(key, kShownBytes) + "' twice");
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    std::string reason = e.what();  // without nlohmann's "[json.exception.parse_error.101] " tag
    if (reason.rfind("[json.exception.", 0) == 0 && reason.find("] ") != std::string::npos)
      reason.erase(0, reason.find("] ") + 2);
    throw JsonProblem(JsonProblem::Kind::Invalid, {}, "is not valid JSON: " + one_line(reason, 200));
  }

 private:
  struct Frame {
    bool object;
    size_t items = 0;
    bool has_key = false;  // a key was read (it may be "")
    std::string key;       // the key being read, in an object
    std::unordered_set<std::string> keys;
  };

  bool open(bool object) {
    if (frames_.size() >= bounds_.max_depth)
      fail(JsonProblem::Kind::TooDeep,
           "nests lists or objects more than " + std::to_string(bounds_.max_depth) + " deep");
    count_item();
    frames_.push_back({object, 0, false, {}, {}});
    return true;
  }

  bool close() {
    frames_.pop_back();
    return true;
  }

  bool count_item() {
    if (++items_ > bounds_.max_items)
      fail(JsonProblem::Kind::TooLong, "holds more than " + std::to_string(bounds_.max_items) + " values");
    if (!frames_.empty() && !frames_.back().object && ++frames_.back().items > bounds_.max_list_items)
      fail(JsonProblem::Kind::TooLong,
           "holds a list of more than " + std::to_string(bounds_.max_list_items) + " items");
    return true;
  }

  [[noreturn]] void fail(JsonProblem::Kind kind, const std::string& what) {
    std::vector<std::string> keys;
    for (const Frame& frame : frames_)
      if (frame.object && frame.has_key) keys.push_back(frame.key);
    throw JsonProblem(kind, keys, what);
  }

  const JsonBounds& bounds_;
  std::vector<Frame> frames_;
  size_t items_ = 0;
};

}  // namespace

json parse_bounded_json(const std::string& text, const JsonBounds& bounds) {
  BoundsChecker checker(bounds);
  json::sax_parse(text, &checker);
  // Within the bounds and valid, as the pass above has shown: the plain parser builds it in linear time.
  return json::parse(text);
}

std::string count_text(long long count, const std::string& noun, const std::string& plural) {
  return std::to_string(count) + " " + (count == 1 ? noun : plural.empty() ? noun + "s" : plural);
}

std::string times_text(long long count) {
  return count == 1 ? "once" : count == 2 ? "twice" : std::to_string(count) + " times";
}

}  // namespace loom
