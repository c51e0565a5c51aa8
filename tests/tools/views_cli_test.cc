// tracelog list, inspect and tree against what the tests compute
// themselves from agent-strace directories the repository generates.

#include <signal.h>
#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::testing::ReadFileOrEmpty;
using ::tracelog::testing::SpawnCli;
using ::tracelog::testing::TempDir;
using ::tracelog::testing::WaitExitCode;

struct CliRun {
  int code;
  std::string out, err;
};

CliRun Cli(const TempDir& dir, std::vector<std::string> args, const std::string& input = "") {
  static int n = 0;
  const std::string tag = absl::StrCat("v", n++);
  CliRun r;
  r.code = WaitExitCode(SpawnCli(dir, tag, std::move(args), input));
  r.out = ReadFileOrEmpty(dir.Sub(tag + ".out"));
  r.err = ReadFileOrEmpty(dir.Sub(tag + ".err"));
  return r;
}

// What the test reads itself from a generated session directory.
struct Expected {
  std::string id, agent;
  double started = 0;
  uint64_t events = 0, tool_calls = 0, llm = 0, errors = 0;
  std::set<std::string> tools;
  // meta.json's counters (what agent-strace's list prints)
  uint64_t meta_tool_calls = 0, meta_llm = 0, meta_errors = 0;
};

std::vector<Expected> ReadTree(const std::string& root) {
  std::vector<Expected> out;
  simdjson::dom::parser parser;
  for (const auto& d : std::filesystem::directory_iterator(root)) {
    Expected x;
    x.id = d.path().filename().string();
    bool first = true;
    for (absl::string_view line :
         absl::StrSplit(ReadFileOrEmpty((d.path() / "events.ndjson").string()), '\n', absl::SkipEmpty())) {
      simdjson::dom::element e;
      EXPECT_EQ(parser.parse(line.data(), line.size()).get(e), simdjson::SUCCESS);
      std::string_view type, s;
      EXPECT_EQ(e["event_type"].get_string().get(type), simdjson::SUCCESS);
      double ts = 0;
      if (first && e["timestamp"].get_double().get(ts) == simdjson::SUCCESS) x.started = ts;
      first = false;
      ++x.events;
      x.tool_calls += type == "tool_call";
      x.llm += type == "llm_request";
      x.errors += type == "error";
      if (type == "tool_call" && e["data"]["tool_name"].get_string().get(s) == simdjson::SUCCESS) {
        x.tools.emplace(s);
      }
      if (type == "session_start" && e["data"]["agent_name"].get_string().get(s) == simdjson::SUCCESS) {
        x.agent = std::string(s);
      }
    }
    const std::string meta = ReadFileOrEmpty((d.path() / "meta.json").string());
    simdjson::dom::element m;
    EXPECT_EQ(parser.parse(meta).get(m), simdjson::SUCCESS);
    int64_t v = 0;
    if (m["tool_calls"].get_int64().get(v) == simdjson::SUCCESS) x.meta_tool_calls = v;
    if (m["llm_requests"].get_int64().get(v) == simdjson::SUCCESS) x.meta_llm = v;
    if (m["errors"].get_int64().get(v) == simdjson::SUCCESS) x.meta_errors = v;
    out.push_back(std::move(x));
  }
  return out;
}

struct Listed {
  std::string id, agent, parent;
  uint64_t events = 0, tool_calls = 0, llm = 0, errors = 0;
};

std::vector<Listed> ParseList(const std::string& ndjson) {
  std::vector<Listed> out;
  simdjson::dom::parser parser;
  for (absl::string_view line : absl::StrSplit(ndjson, '\n', absl::SkipEmpty())) {
    simdjson::dom::element e;
    EXPECT_EQ(parser.parse(line.data(), line.size()).get(e), simdjson::SUCCESS) << line;
    Listed l;
    std::string_view s;
    uint64_t n = 0;
    if (e["session_id"].get_string().get(s) == simdjson::SUCCESS) l.id = std::string(s);
    if (e["agent"].get_string().get(s) == simdjson::SUCCESS) l.agent = std::string(s);
    if (e["parent_session_id"].get_string().get(s) == simdjson::SUCCESS) l.parent = std::string(s);
    if (e["events"].get_uint64().get(n) == simdjson::SUCCESS) l.events = n;
    if (e["tool_calls"].get_uint64().get(n) == simdjson::SUCCESS) l.tool_calls = n;
    if (e["llm_calls"].get_uint64().get(n) == simdjson::SUCCESS) l.llm = n;
    if (e["errors"].get_uint64().get(n) == simdjson::SUCCESS) l.errors = n;
    out.push_back(l);
  }
  return out;
}

TEST(ViewsCliTest, ListGivesTheSessionsWithAgentStracesCountsNewestFirst) {
  TempDir dir;
  const std::string log = dir.Sub("log");
  ASSERT_EQ(Cli(dir, {"gen", "--sessions", "8", "--agents", "3", "--seed", "5", "--format", "dir",
                      "--out", dir.Sub("src")}).code, 0);
  ASSERT_EQ(Cli(dir, {"import", "--log", log, dir.Sub("src")}).code, 0);
  std::vector<Expected> want = ReadTree(dir.Sub("src"));
  ASSERT_EQ(want.size(), 8u);
  std::sort(want.begin(), want.end(), [](const Expected& a, const Expected& b) {
    return a.started != b.started ? a.started > b.started : a.id > b.id;
  });
  // Piped: NDJSON without asking.
  CliRun r = Cli(dir, {"list", "--log", log});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<Listed> got = ParseList(r.out);
  ASSERT_EQ(got.size(), want.size()) << r.out;
  for (size_t k = 0; k < want.size(); ++k) {
    SCOPED_TRACE(want[k].id);
    EXPECT_EQ(got[k].id, want[k].id);
    EXPECT_EQ(got[k].agent, want[k].agent);
    EXPECT_EQ(got[k].events, want[k].events);
    EXPECT_EQ(got[k].tool_calls, want[k].tool_calls);
    EXPECT_EQ(got[k].llm, want[k].llm);
    EXPECT_EQ(got[k].errors, want[k].errors);
    // agent-strace's list prints meta.json's counters: the same here.
    EXPECT_EQ(got[k].tool_calls, want[k].meta_tool_calls);
    EXPECT_EQ(got[k].llm, want[k].meta_llm);
    EXPECT_EQ(got[k].errors, want[k].meta_errors);
  }
  // Filters, each against the test's own selection.
  const std::string agent = want[0].agent;
  std::vector<std::string> of_agent, with_errors, calling_bash;
  for (const Expected& x : want) {
    if (x.agent == agent) of_agent.push_back(x.id);
    if (x.errors > 0) with_errors.push_back(x.id);
    if (x.tools.count("Bash")) calling_bash.push_back(x.id);
  }
  auto ids = [](const std::string& out) {
    std::vector<std::string> v;
    for (const Listed& l : ParseList(out)) v.push_back(l.id);
    return v;
  };
  EXPECT_EQ(ids(Cli(dir, {"list", "--log", log, "--agent", agent}).out), of_agent);
  EXPECT_EQ(ids(Cli(dir, {"list", "--log", log, "--error"}).out), with_errors);
  EXPECT_EQ(ids(Cli(dir, {"list", "--log", log, "--tool", "Bash"}).out), calling_bash);
  EXPECT_EQ(ids(Cli(dir, {"list", "--log", log, "--limit", "2"}).out),
            (std::vector<std::string>{want[0].id, want[1].id}));
  r = Cli(dir, {"list", "--log", log, "--format", "csv", "--limit", "1"});
  EXPECT_TRUE(absl::StartsWith(r.out, "session_id,agent,started,duration_ms,events,tool_calls,"
                                      "llm_calls,errors,parent_session_id\n" + want[0].id + ","))
      << r.out;
  r = Cli(dir, {"list", "--log", log, "--format", "table"});
  EXPECT_TRUE(absl::StrContains(r.out, "SESSION")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "8 session(s)")) << r.out;
  EXPECT_EQ(Cli(dir, {"list", "--log", log, "--agent", "nobody"}).code, 1);
}

TEST(ViewsCliTest, InspectPrintsTheMetaAndTheEventsOfOneSession) {
  TempDir dir;
  const std::string log = dir.Sub("log");
  ASSERT_EQ(Cli(dir, {"gen", "--sessions", "2", "--seed", "9", "--format", "dir", "--out",
                      dir.Sub("src")}).code, 0);
  ASSERT_EQ(Cli(dir, {"import", "--log", log, dir.Sub("src")}).code, 0);
  const Expected x = ReadTree(dir.Sub("src"))[0];
  CliRun r = Cli(dir, {"inspect", "--log", log, x.id.substr(0, 10)});  // a prefix
  ASSERT_EQ(r.code, 0) << r.err;
  simdjson::dom::parser parser, meta_parser;
  simdjson::dom::element doc, meta;
  ASSERT_EQ(parser.parse(r.out).get(doc), simdjson::SUCCESS) << r.out;
  ASSERT_EQ(meta_parser.parse(ReadFileOrEmpty(dir.Sub("src/" + x.id + "/meta.json"))).get(meta),
            simdjson::SUCCESS);
  EXPECT_EQ(simdjson::to_string(doc["session"]), simdjson::to_string(meta));
  simdjson::dom::array events;
  ASSERT_EQ(doc["events"].get_array().get(events), simdjson::SUCCESS);
  EXPECT_EQ(events.size(), x.events);
  EXPECT_TRUE(absl::StartsWith(r.out, "{\n  \"session\": {\n    \"session_id\": ")) << r.out;
  // An id that starts with '-' after `--`; `latest`; an unknown one.
  ASSERT_EQ(Cli(dir, {"append", "--log", log},
                R"({"event_type":"session_start","timestamp":1999999999.5,"session_id":"-dash","data":{}})"
                "\n").code, 0);
  r = Cli(dir, {"inspect", "--log", log, "--", "-dash"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "\"session_id\": \"-dash\"")) << r.out;
  r = Cli(dir, {"inspect", "--log", log, "latest"});
  EXPECT_TRUE(absl::StrContains(r.out, "\"session_id\": \"-dash\"")) << r.out;
  r = Cli(dir, {"inspect", "--log", log, "nosuch"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(absl::StrContains(r.err, "nosuch")) << r.err;
}

TEST(ViewsCliTest, TreeFollowsParentSessionIds) {
  TempDir dir;
  const std::string log = dir.Sub("log");
  auto start = [](const std::string& id, const std::string& parent, int t) {
    return absl::StrCat(R"({"event_type":"session_start","timestamp":)", 1795440000 + t,
                        R"(.5,"session_id":")", id, R"(","data":{"parent_session_id":")", parent,
                        "\"}}\n");
  };
  const std::string events = start("root", "", 0) + start("root.b", "root", 2) +
                             start("root.a", "root", 1) + start("root.a.x", "root.a", 3) +
                             start("other", "", 4) +
                             R"({"event_type":"tool_call","timestamp":1795440005.5,"session_id":"root.a","data":{"tool_name":"Read"}})"
                             "\n";
  ASSERT_EQ(Cli(dir, {"append", "--log", log}, events).code, 0);
  CliRun r = Cli(dir, {"tree", "--log", log, "root"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> got;
  for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
    got.push_back(std::string(line.substr(0, line.find(",\"agent\""))));
  }
  EXPECT_EQ(got, (std::vector<std::string>{
                     R"({"session_id":"root","parent_session_id":"","depth":0)",
                     R"({"session_id":"root.a","parent_session_id":"root","depth":1)",
                     R"({"session_id":"root.a.x","parent_session_id":"root.a","depth":2)",
                     R"({"session_id":"root.b","parent_session_id":"root","depth":1)"}))
      << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, R"("session_id":"root.a",)") &&
              absl::StrContains(r.out, R"("tool_calls":1,)"))
      << r.out;
  r = Cli(dir, {"tree", "--log", log, "root", "--format", "table"});
  EXPECT_EQ(r.out,
            "root  events 1, tool calls 0, errors 0\n"
            "├─ root.a  events 2, tool calls 1, errors 0\n"
            "│  └─ root.a.x  events 1, tool calls 0, errors 0\n"
            "└─ root.b  events 1, tool calls 0, errors 0\n");
}

}  // namespace
}  // namespace tracelog

namespace tracelog {
namespace {

TEST(ViewsCliTest, ReplayFiltersPairsAndRendersEachFormat) {
  TempDir dir;
  const std::string log = dir.Sub("log");
  ASSERT_EQ(Cli(dir, {"gen", "--sessions", "2", "--seed", "9", "--format", "dir", "--out",
                      dir.Sub("src")}).code, 0);
  ASSERT_EQ(Cli(dir, {"import", "--log", log, dir.Sub("src")}).code, 0);
  const std::string id = ReadTree(dir.Sub("src"))[0].id;
  // --filter: the session's events of those types, as stored, in order.
  std::string want;
  simdjson::dom::parser parser;
  std::map<std::string, std::string> tool_of_call;
  std::string a_result;  // "<tool>  (<ms>ms)" of some tool_result, as the timeline shows it
  for (absl::string_view line : absl::StrSplit(ReadFileOrEmpty(dir.Sub("src/" + id + "/events.ndjson")),
                                               '\n', absl::SkipEmpty())) {
    simdjson::dom::element e;
    ASSERT_EQ(parser.parse(line.data(), line.size()).get(e), simdjson::SUCCESS);
    std::string_view type, s, parent;
    ASSERT_EQ(e["event_type"].get_string().get(type), simdjson::SUCCESS);
    if (type == "tool_call" || type == "error") absl::StrAppend(&want, line, "\n");
    if (type == "tool_call" && e["event_id"].get_string().get(s) == simdjson::SUCCESS) {
      std::string_view name;
      if (e["data"]["tool_name"].get_string().get(name) == simdjson::SUCCESS) {
        tool_of_call[std::string(s)] = std::string(name);
      }
    }
    double ms = 0;
    if (type == "tool_result" && a_result.empty() &&
        e["parent_id"].get_string().get(parent) == simdjson::SUCCESS &&
        e["duration_ms"].get_double().get(ms) == simdjson::SUCCESS && tool_of_call.count(std::string(parent))) {
      a_result = absl::StrFormat("← tool_result %s  (%.0fms)", tool_of_call[std::string(parent)], ms);
    }
  }
  ASSERT_FALSE(a_result.empty());
  CliRun r = Cli(dir, {"replay", "--log", log, id, "--filter", "tool_call,error", "--format", "ndjson"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, want);
  r = Cli(dir, {"replay", "--log", log, id, "--format", "terminal"});
  EXPECT_TRUE(absl::StrContains(r.out, a_result)) << a_result << "\n" << r.out.substr(0, 2000);
  EXPECT_TRUE(absl::StartsWith(r.out, "+  0.00s ")) << r.out.substr(0, 200);
  EXPECT_EQ(Cli(dir, {"replay", "--log", log, id, "--filter", "nope"}).code, 2);
  // HTML: one page that loads nothing, with the events' text escaped.
  ASSERT_EQ(Cli(dir, {"append", "--log", log},
                R"({"event_type":"user_prompt","timestamp":1.5,"session_id":"x","data":{"prompt":"<script>alert(1)</script>"}})"
                "\n").code, 0);
  r = Cli(dir, {"replay", "--log", log, "x", "--format", "html"});
  EXPECT_TRUE(absl::StartsWith(r.out, "<!DOCTYPE html>")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "&lt;script&gt;alert(1)&lt;/script&gt;")) << r.out;
  EXPECT_FALSE(absl::StrContains(r.out, "<script>alert")) << r.out;
  EXPECT_FALSE(absl::StrContains(r.out, "src=")) << r.out;
  EXPECT_FALSE(absl::StrContains(r.out, "<link")) << r.out;
}

}  // namespace
}  // namespace tracelog

namespace tracelog {
namespace {

// `tail -f` follows a log that other processes append to, through segment
// rolls and a seal: every event once, in order; restarted from its cursor,
// it goes on exactly after the last event it printed.
TEST(ViewsCliTest, TailFollowsThroughRollsAndASealAndResumesFromItsCursor) {
  TempDir dir;
  const std::string log = dir.Sub("log");
  auto batch = [](int from, int n) {
    std::string s;
    for (int i = from; i < from + n; ++i) {
      absl::StrAppend(&s, R"({"event_type":"tool_call","timestamp":)", 1795440000 + i,
                      R"(.5,"session_id":"t","data":{"n":)", i, R"(,"pad":")", std::string(200, 'x'),
                      "\"}}\n");
    }
    return s;
  };
  ASSERT_EQ(Cli(dir, {"append", "--log", log, "--segment-size", "65536"}, batch(0, 1)).code, 0);
  const std::string cursor = dir.Sub("cursor");
  const int follower = SpawnCli(dir, "follow", {"tail", "-f", "--log", log, "--cursor", cursor,
                                                "-n", "1", "--interval", "20"});
  // Four batches of ~80 KB into 64 KiB segments: a roll each; a seal after two.
  int sent = 1;
  for (int b = 0; b < 4; ++b) {
    ASSERT_EQ(Cli(dir, {"append", "--log", log, "--segment-size", "65536"}, batch(sent, 300)).code, 0);
    sent += 300;
    if (b == 1) {
      ASSERT_EQ(Cli(dir, {"seal", "--log", log}).code, 0);
    }
  }
  // Wait until the follower saved the last sequence as its cursor.
  for (int i = 0; i < 1000 && ReadFileOrEmpty(cursor) != absl::StrCat(sent, "\n"); ++i) ::usleep(10000);
  ASSERT_EQ(ReadFileOrEmpty(cursor), absl::StrCat(sent, "\n"));
  ::kill(follower, SIGTERM);
  EXPECT_EQ(WaitExitCode(follower), 0) << ReadFileOrEmpty(dir.Sub("follow.err"));
  EXPECT_EQ(ReadFileOrEmpty(dir.Sub("follow.out")), batch(0, sent));
  // It did follow through rolls and a seal: 4 segments or more, some sealed.
  CliRun info = Cli(dir, {"info", "--log", log});
  const size_t at = info.out.find("segments:");
  ASSERT_NE(at, std::string::npos) << info.out;
  int segments = 0, sealed = 0;
  ASSERT_EQ(std::sscanf(info.out.c_str() + at, "segments: %d (%d sealed)", &segments, &sealed), 2)
      << info.out;
  EXPECT_GE(segments, 4) << info.out;
  EXPECT_GE(sealed, 1) << info.out;
  // More events; a new tail from the cursor prints those and nothing else.
  ASSERT_EQ(Cli(dir, {"append", "--log", log}, batch(sent, 5)).code, 0);
  CliRun again = Cli(dir, {"tail", "--log", log, "--cursor", cursor});
  EXPECT_EQ(again.out, batch(sent, 5));
  EXPECT_EQ(ReadFileOrEmpty(cursor), absl::StrCat(sent + 5, "\n"));
}

// diff: the tool calls aligned by name; the first divergence, a changed
// result and a call only one side has are named; exit 0 for the same, 1 not.
TEST(ViewsCliTest, DiffAlignsToolCallsAndNamesTheFirstDivergence) {
  TempDir dir;
  const std::string log = dir.Sub("log");
  auto session = [](const std::string& id, const std::vector<std::pair<std::string, std::string>>& calls) {
    std::string out = absl::StrFormat(
        R"({"event_type":"session_start","timestamp":1,"session_id":"%s","event_id":"s","data":{"agent_name":"a"}})"
        "\n", id);
    int n = 0;
    for (const auto& [tool, result] : calls) {
      ++n;
      absl::StrAppend(&out, absl::StrFormat(
          R"({"event_type":"tool_call","timestamp":%d,"session_id":"%s","event_id":"c%d","data":{"tool_name":"%s","arguments":{"n":1}}})"
          "\n", 1 + n, id, n, tool));
      absl::StrAppend(&out, absl::StrFormat(
          R"({"event_type":"tool_result","timestamp":%d.5,"session_id":"%s","event_id":"r%d","parent_id":"c%d","duration_ms":500,"data":{"result":"%s"}})"
          "\n", 1 + n, id, n, n, result));
    }
    return out;
  };
  ASSERT_EQ(Cli(dir, {"append", "--log", log},
                session("aaa", {{"Read", "x"}, {"Bash", "ok"}, {"Edit", "done"}}) +
                    session("bbb", {{"Read", "x"}, {"Bash", "FAILED"}, {"Grep", "hit"}, {"Edit", "done"}}) +
                    session("ccc", {{"Read", "x"}, {"Bash", "ok"}, {"Edit", "done"}}))
                .code,
            0);
  CliRun same = Cli(dir, {"diff", "--log", log, "aaa", "ccc", "--format", "json"});
  EXPECT_EQ(same.code, 0) << same.err;
  EXPECT_TRUE(absl::StrContains(same.out, R"("same":true,"first_divergence":null)")) << same.out;
  CliRun differ = Cli(dir, {"diff", "--log", log, "aaa", "bbb", "--format", "json"});
  EXPECT_EQ(differ.code, 1) << differ.err;
  EXPECT_TRUE(absl::StrContains(
      differ.out,
      R"("same":false,"first_divergence":2,"calls":[{"op":"same","tool":"Read"},{"op":"changed","tool":"Bash"},{"op":"only_b","tool":"Grep"},{"op":"same","tool":"Edit"}]})"))
      << differ.out;
  CliRun table = Cli(dir, {"diff", "--log", log, "aaa", "bbb", "--format", "table"});
  EXPECT_EQ(table.code, 1);
  EXPECT_TRUE(absl::StrContains(table.out, "First divergence at tool call 2.")) << table.out;
  EXPECT_TRUE(absl::StrContains(table.out, "result A: \"ok\"")) << table.out;
  EXPECT_TRUE(absl::StrContains(table.out, "+ Grep  (only in B)")) << table.out;
  EXPECT_EQ(Cli(dir, {"diff", "--log", log, "aaa", "zzz"}).code, 2);
}

}  // namespace
}  // namespace tracelog
