// tracelog query's filters on what events say: --grep, --where, --model,
// --context and --sessions, on a sealed log and a raw one, against what the
// test computes from the events it wrote.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::testing::ReadFileOrEmpty;
using ::tracelog::testing::SpawnCli;
using ::tracelog::testing::TempDir;
using ::tracelog::testing::WaitExitCode;

struct QueryRun {
  int code;
  std::string out, err;
};

QueryRun Cli(const TempDir& dir, std::vector<std::string> args, const std::string& input = "") {
  static int n = 0;
  const std::string tag = absl::StrCat("q", n++);
  QueryRun r;
  r.code = WaitExitCode(SpawnCli(dir, tag, std::move(args), input));
  r.out = ReadFileOrEmpty(dir.Sub(tag + ".out"));
  r.err = ReadFileOrEmpty(dir.Sub(tag + ".err"));
  return r;
}

// Session s<k>: ten events e0..e9; e4 is a Bash call with exit_code k (a
// number) and code "k" (a string); e6 an llm_request of model m<k % 2>.
std::vector<std::string> Events(int sessions) {
  std::vector<std::string> out;
  for (int k = 0; k < sessions; ++k) {
    for (int i = 0; i < 10; ++i) {
      std::string e;
      if (i == 4) {
        e = absl::StrFormat(
            R"({"event_type":"tool_call","timestamp":%d,"session_id":"s%d","event_id":"e%d","data":{"tool_name":"Bash","arguments":{"command":"make target%d"},"exit_code":%d,"code":"%d"}})",
            100 + i, k, i, k, k, k);
      } else if (i == 6) {
        e = absl::StrFormat(
            R"({"event_type":"llm_request","timestamp":%d,"session_id":"s%d","event_id":"e%d","data":{"model":"m%d"}})",
            100 + i, k, i, k % 2);
      } else {
        e = absl::StrFormat(
            R"({"event_type":"decision","timestamp":%d,"session_id":"s%d","event_id":"e%d","data":{"choice":"c%d"}})",
            100 + i, k, i, i);
      }
      out.push_back(e);
    }
  }
  return out;
}

std::string Lines(const std::vector<std::string>& events, const std::vector<int>& at) {
  std::string out;
  for (int i : at) absl::StrAppend(&out, events[i], "\n");
  return out;
}

class QueryFiltersCliTest : public ::testing::TestWithParam<bool> {};

TEST_P(QueryFiltersCliTest, ContentFiltersContextAndSessions) {
  TempDir dir;
  const std::string log = dir.Sub("log");
  const std::vector<std::string> events = Events(4);
  std::string input;
  for (const std::string& e : events) absl::StrAppend(&input, e, "\n");
  ASSERT_EQ(Cli(dir, {"append", "--log", log}, input).code, 0);
  if (GetParam()) {
    ASSERT_EQ(Cli(dir, {"seal", "--log", log}).code, 0);
  }

  // --where is type-aware: the number 2 is in s2 only; the string "2" too,
  // but not as a number.
  EXPECT_EQ(Cli(dir, {"query", "--log", log, "--where", "data.exit_code=2"}).out, Lines(events, {24}));
  EXPECT_EQ(Cli(dir, {"query", "--log", log, "--where", R"(data.code="2")"}).out, Lines(events, {24}));
  EXPECT_EQ(Cli(dir, {"query", "--log", log, "--where", "data.code=2"}).code, 1);
  // --grep over the bytes, or over one field; with the index's --tool.
  EXPECT_EQ(Cli(dir, {"query", "--log", log, "--tool", "Bash", "--grep", "target[13]"}).out,
            Lines(events, {14, 34}));
  EXPECT_EQ(Cli(dir, {"query", "--log", log, "--grep", "^make", "--grep-field",
                      "data.arguments.command", "--limit", "2"}).out,
            Lines(events, {4, 14}));
  EXPECT_EQ(Cli(dir, {"query", "--log", log, "--grep", "tool_call", "--grep-field",
                      "data.arguments.command"}).code,
            1);
  // --model, counted and as sessions.
  EXPECT_EQ(Cli(dir, {"query", "--log", log, "--model", "m1"}).out, Lines(events, {16, 36}));
  EXPECT_EQ(Cli(dir, {"query", "--log", log, "--model", "m1", "--count"}).out, "2\n");
  EXPECT_EQ(Cli(dir, {"query", "--log", log, "--model", "m0", "--sessions"}).out, "\"s0\"\n\"s2\"\n");
  EXPECT_EQ(Cli(dir, {"query", "--log", log, "--type", "llm_request", "--sessions", "--count"}).out,
            "4\n");
  // --context: neighbours within the session, whatever their type; windows
  // that touch print once, and never cross into another session.
  EXPECT_EQ(Cli(dir, {"query", "--log", log, "--tool", "Bash", "--where", "data.exit_code=1",
                      "--context", "2"}).out,
            Lines(events, {12, 13, 14, 15, 16}));
  EXPECT_EQ(Cli(dir, {"query", "--log", log, "--session", "s3", "--type", "tool_call,llm_request",
                      "--context", "1"}).out,
            Lines(events, {33, 34, 35, 36, 37}));
  EXPECT_EQ(Cli(dir, {"query", "--log", log, "--grep", R"("e9")", "--context", "3"}).out,
            Lines(events, {6, 7, 8, 9, 16, 17, 18, 19, 26, 27, 28, 29, 36, 37, 38, 39}));
  // Bad filters: exit 2, the flag named.
  QueryRun bad = Cli(dir, {"query", "--log", log, "--grep", "(x"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--grep '(x'"), std::string::npos) << bad.err;
  bad = Cli(dir, {"query", "--log", log, "--where", "data.x"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("expected PATH=VALUE"), std::string::npos) << bad.err;
}

INSTANTIATE_TEST_SUITE_P(RawAndSealed, QueryFiltersCliTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Sealed" : "Raw"; });

}  // namespace
}  // namespace tracelog
