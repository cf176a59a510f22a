#include "engine/io/file_text.h"

#include <algorithm>
#include <functional>
#include <unordered_set>
#include <utility>

namespace loom {

using nlohmann::json;

namespace {

// Bytes in a well-formed UTF-8 character starting at text[i] (1 for ASCII), or 0 for a byte that starts none.
size_t utf8_length(const std::string& text, size_t i) {
  const unsigned char c = static_cast<unsigned char>(text[i]);
  const size_t length = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                        : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (length == 0 || i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k)
    if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return 0;
  return length;
}

}  // namespace

std::string one_line(const std::string& text, size_t limit) {
  size_t end = std::min(limit, text.size());
  while (end < text.size() && end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  std::string out;
  const char* hex = "0123456789abcdef";
  for (size_t i = 0; i < end; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {  // a character is kept whole; a byte of none (damage, another encoding) is spelled out
      const size_t length = utf8_length(text, i);
      if (length > 0 && i + length <= end) {
        out.append(text, i, length);
        i += length - 1;
      } else {
        out += std::string("\\x") + hex[c >> 4] + hex[c & 15];
      }
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += std::string("\\x") + hex[c >> 4] + hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return end < text.size() ? out + "..." : out;
}

std::string shown_json(const json& value) {
  return one_line(value.dump(-1, ' ', false, json::error_handler_t::replace), kShownBytes);
}

JsonProblem::JsonProblem(Kind kind, std::vector<std::string> keys, const std::string& what)
    : std::runtime_error(what), kind(kind), keys(std::move(keys)) {}

namespace {

// Sees every event as the parser reads it, so a bound is enforced before the DOM grows past it.
class Guard {
 public:
  explicit Guard(const JsonBounds& bounds) : bounds_(bounds) {}

  bool operator()(int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (frames_.size() >= bounds_.max_depth)
          fail(JsonProblem::Kind::TooDeep,
               "nests lists or objects more than " + std::to_string(bounds_.max_depth) + " deep");
        count_item();
        frames_.push_back({event == json::parse_event_t::object_start, 0, {}, {}});
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames_.pop_back();
        break;
      case json::parse_event_t::key: {
        Frame& frame = frames_.back();
        frame.key = parsed.get<std::string>();
        if (!frame.keys.insert(frame.key).second)
          fail(JsonProblem::Kind::RepeatedKey, "has the key '" + one_line(frame.key, kShownBytes) + "' twice");
        break;
      }
      case json::parse_event_t::value:
        count_item();
        break;
    }
    return true;
  }

 private:
  struct Frame {
    bool object;
    size_t items;
    std::string key;  // the key being read, in an object
    std::unordered_set<std::string> keys;
  };

  void count_item() {
    if (++items_ > bounds_.max_items)
      fail(JsonProblem::Kind::TooLong, "holds more than " + std::to_string(bounds_.max_items) + " values");
    if (!frames_.empty() && !frames_.back().object && ++frames_.back().items > bounds_.max_list_items)
      fail(JsonProblem::Kind::TooLong, "holds a list of more than " + std::to_string(bounds_.max_list_items) +
                                           " items");
  }

  [[noreturn]] void fail(JsonProblem::Kind kind, const std::string& what) {
    std::vector<std::string> keys;
    for (const Frame& frame : frames_)
      if (frame.object && !frame.key.empty()) keys.push_back(frame.key);
    throw JsonProblem(kind, keys, what);
  }

  const JsonBounds& bounds_;
  std::vector<Frame> frames_;
  size_t items_ = 0;
};

}  // namespace

json parse_bounded_json(const std::string& text, const JsonBounds& bounds) {
  Guard guard(bounds);
  try {
    return json::parse(text, std::ref(guard));
  } catch (const json::exception& e) {
    std::string reason = e.what();  // without nlohmann's "[json.exception.parse_error.101] " tag
    if (reason.rfind("[json.exception.", 0) == 0 && reason.find("] ") != std::string::npos)
      reason.erase(0, reason.find("] ") + 2);
    throw JsonProblem(JsonProblem::Kind::Invalid, {}, "is not valid JSON: " + one_line(reason, 200));
  }
}

}  // namespace loom
