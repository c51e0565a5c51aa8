// EventMatcher: --grep, --grep-field, --where (type-aware), --model, and the
// errors that name the flag.

#include "engine/query/event_match.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace tracelog {
namespace {

constexpr char kCall[] =
    R"({"event_type":"tool_call","session_id":"s1","data":{"tool_name":"Bash","arguments":{"command":"rm -rf build","n":1,"s":"1","ok":true,"z":null,"list":[1, 2]}}})";
constexpr char kLlm[] =
    R"({"event_type":"llm_request","session_id":"s1","data":{"model":"gpt-5","message_count":3}})";

bool Match(const ContentFilters& f, const std::string& event) {
  auto m = EventMatcher::Create(f);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() && (*m)->Matches(event);
}

TEST(EventMatchTest, GrepSearchesTheStoredBytesAllPatternsMust) {
  EXPECT_TRUE(Match({.greps = {"rm -rf"}}, kCall));
  EXPECT_TRUE(Match({.greps = {"rm -rf", "^\\{"}}, kCall));
  EXPECT_FALSE(Match({.greps = {"rm -rf", "gpt"}}, kCall));
  // The bytes, not a field: a key name matches too.
  EXPECT_TRUE(Match({.greps = {"tool_name"}}, kCall));
  EXPECT_TRUE(Match({.greps = {"."}}, "not json"));
}

TEST(EventMatchTest, GrepFieldSearchesOneValueOnly) {
  EXPECT_TRUE(Match({.greps = {"^rm "}, .grep_field = "data.arguments.command"}, kCall));
  EXPECT_FALSE(Match({.greps = {"tool_name"}, .grep_field = "data.arguments.command"}, kCall));
  // Not a string: its minified JSON.
  EXPECT_TRUE(Match({.greps = {R"(^\[1,2\]$)"}, .grep_field = "data.arguments.list"}, kCall));
  EXPECT_FALSE(Match({.greps = {"."}, .grep_field = "data.missing"}, kCall));
  EXPECT_TRUE(Match({.greps = {"^rm"}, .grep_field = "/data/arguments/command"}, kCall));
}

TEST(EventMatchTest, WhereComparesTypeAndValue) {
  EXPECT_TRUE(Match({.wheres = {"data.arguments.n=1"}}, kCall));
  EXPECT_TRUE(Match({.wheres = {"data.arguments.n=1.0"}}, kCall));
  EXPECT_FALSE(Match({.wheres = {R"(data.arguments.n="1")"}}, kCall));
  EXPECT_TRUE(Match({.wheres = {R"(data.arguments.s="1")"}}, kCall));
  EXPECT_FALSE(Match({.wheres = {"data.arguments.s=1"}}, kCall));
  EXPECT_TRUE(Match({.wheres = {"data.tool_name=Bash"}}, kCall));  // not JSON: a string
  EXPECT_FALSE(Match({.wheres = {"data.tool_name=Read"}}, kCall));
  EXPECT_TRUE(Match({.wheres = {"data.arguments.ok=true"}}, kCall));
  EXPECT_FALSE(Match({.wheres = {R"(data.arguments.ok="true")"}}, kCall));
  EXPECT_TRUE(Match({.wheres = {"data.arguments.z=null"}}, kCall));
  EXPECT_TRUE(Match({.wheres = {"data.arguments.list=[1,2]"}}, kCall));
  EXPECT_TRUE(Match({.wheres = {"data.arguments.list.1=2"}}, kCall));
  EXPECT_FALSE(Match({.wheres = {"data.absent=1"}}, kCall));
  EXPECT_TRUE(Match({.wheres = {"data.tool_name=Bash", "data.arguments.n=1"}}, kCall));
  EXPECT_FALSE(Match({.wheres = {"data.tool_name=Bash", "data.arguments.n=2"}}, kCall));
  EXPECT_FALSE(Match({.wheres = {"data.tool_name=Bash"}}, "not json"));
}

TEST(EventMatchTest, ModelMatchesDataModelAnyOfTheNames) {
  EXPECT_TRUE(Match({.models = {"gpt-5"}}, kLlm));
  EXPECT_TRUE(Match({.models = {"claude-opus-4,gpt-5"}}, kLlm));
  EXPECT_FALSE(Match({.models = {"gpt"}}, kLlm));
  EXPECT_FALSE(Match({.models = {"gpt-5"}}, kCall));
}

// Stored events may hold bad UTF-8 (appended with it replaced in their
// keys): their fields are compared as the keys were read.
TEST(EventMatchTest, FieldsOfAnEventWithBadUtf8StillMatch) {
  const std::string event =
      "{\"event_type\":\"tool_call\",\"session_id\":\"s1\",\"data\":{\"tool_name\":\"Bash\","
      "\"note\":\"caf\xe9\"}}";
  EXPECT_TRUE(Match({.wheres = {"data.tool_name=Bash"}}, event));
  EXPECT_FALSE(Match({.wheres = {"data.tool_name=Read"}}, event));
  EXPECT_TRUE(Match({.greps = {"^caf"}, .grep_field = "data.note"}, event));
}

TEST(EventMatchTest, BadFiltersAreErrorsNamingTheFlag) {
  for (const ContentFilters& f :
       {ContentFilters{.greps = {"(unclosed"}}, ContentFilters{.wheres = {"no-equals-sign"}},
        ContentFilters{.wheres = {"data..x=1"}}, ContentFilters{.wheres = {"=1"}},
        ContentFilters{.grep_field = "data.x"}, ContentFilters{.models = {","}}}) {
    auto m = EventMatcher::Create(f);
    ASSERT_FALSE(m.ok());
    EXPECT_TRUE(absl::StartsWith(m.status().message(), "--")) << m.status();
  }
}

}  // namespace
}  // namespace tracelog
