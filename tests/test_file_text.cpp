// Text from files on its way into messages, and JSON from files parsed within bounds (engine/io/file_text.h): every
// reader of loom's file formats relies on these to keep messages to one short line and hostile files from
// exhausting the stack or the memory.
#include <string>

#include <gtest/gtest.h>

#include "engine/io/file_text.h"

namespace loom::test {
namespace {

using nlohmann::json;

TEST(OneLine, SpellsOutControlBytesAndCutsAtCharacterStarts) {
  EXPECT_EQ(one_line("a\nb\tc\r\x1b[31m\x7f"), "a\\nb\\tc\\r\\x1b[31m\\x7f");
  EXPECT_EQ(one_line("abcdef", 3), "abc...");
  EXPECT_EQ(one_line("abc", 3), "abc");
  // "é" is two bytes: a cut after its first byte moves back to its start, leaving valid UTF-8.
  EXPECT_EQ(one_line("a\xc3\xa9z", 2), "a...");
  EXPECT_EQ(one_line("a\xc3\xa9z"), "a\xc3\xa9z");         // UTF-8 is kept
  EXPECT_EQ(one_line("\xff\xfe\xc3"), "\\xff\\xfe\\xc3");  // bytes that are not are spelled out
  // Overlong forms, surrogates and code points beyond U+10FFFF are not UTF-8 either.
  EXPECT_EQ(one_line("\xe0\x80\x80|\xed\xa0\x80|\xf4\x90\x80\x80"),
            "\\xe0\\x80\\x80|\\xed\\xa0\\x80|\\xf4\\x90\\x80\\x80");
  // C1 controls (a terminal may start an escape sequence with U+009B) and the Unicode line separators.
  EXPECT_EQ(one_line("a\xc2\x9b"
                     "b\xe2\x80\xa8"
                     "c\xc2\x85"),
            "a\\u009bb\\u2028c\\u0085");
  // Stray bytes before the cut are kept, spelled out; only a character that would cross it is left out.
  EXPECT_EQ(one_line("ab" + std::string(100, '\x80'), 4), "ab\\x80\\x80...");
  EXPECT_EQ(shown_json(json::parse(R"({"k": "line\nbreak"})")), R"({"k":"line\nbreak"})");
  EXPECT_EQ(shown_json(json(std::string(200, 'x'))).size(), kShownBytes + 3);
}

JsonProblem problem_of(const std::string& text, const JsonBounds& bounds) {
  try {
    parse_bounded_json(text, bounds);
  } catch (const JsonProblem& problem) {
    return problem;
  }
  ADD_FAILURE() << "accepted: " << text;
  return JsonProblem(JsonProblem::Kind::Invalid, {}, "");
}

TEST(BoundedJson, ReadsWhatIsWithinItsBounds) {
  EXPECT_EQ(parse_bounded_json(R"({"a": [1, 2, {"b": [3]}]})", {4, 3, 8}), json::parse(R"({"a": [1, 2, {"b": [3]}]})"));
}

TEST(BoundedJson, RefusesEachBoundAndRepeatedKeysSayingWhere) {
  JsonProblem deep = problem_of(std::string(100000, '[') + std::string(100000, ']'), {8, 100, 1000});
  EXPECT_EQ(deep.kind, JsonProblem::Kind::TooDeep);
  EXPECT_STREQ(deep.what(), "nests lists or objects more than 8 deep");

  JsonProblem long_list = problem_of("[1,2,3,4]", {8, 3, 1000});
  EXPECT_EQ(long_list.kind, JsonProblem::Kind::TooLong);
  EXPECT_STREQ(long_list.what(), "holds a list of more than 3 items");

  JsonProblem many = problem_of(R"({"a": 1, "b": 2, "c": 3})", {8, 100, 3});
  EXPECT_EQ(many.kind, JsonProblem::Kind::TooLong);
  EXPECT_STREQ(many.what(), "holds more than 3 values");

  JsonProblem repeated = problem_of(R"({"t": {"dtype": "F32", "dtype": "I32"}})", {});
  EXPECT_EQ(repeated.kind, JsonProblem::Kind::RepeatedKey);
  EXPECT_STREQ(repeated.what(), "has the key 'dtype' twice");
  EXPECT_EQ(repeated.keys, (std::vector<std::string>{"t", "dtype"}));

  JsonProblem invalid = problem_of(R"({"a": )", {});
  EXPECT_EQ(invalid.kind, JsonProblem::Kind::Invalid);
  EXPECT_EQ(std::string(invalid.what()).rfind("is not valid JSON: ", 0), 0u) << invalid.what();
  EXPECT_EQ(std::string(invalid.what()).find("[json.exception"), std::string::npos) << invalid.what();
}

}  // namespace
}  // namespace loom::test
