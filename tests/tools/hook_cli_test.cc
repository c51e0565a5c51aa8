// `tracelog hook` as Claude Code runs it: one process per hook event, many
// at once, with and without `tracelog serve` on the log.

#include <signal.h>
#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/log/log.h"
#include "engine/server/client.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::testing::ReadFileOrEmpty;
using ::tracelog::testing::SpawnCli;
using ::tracelog::testing::TempDir;
using ::tracelog::testing::WaitExitCode;

// One hook call: the event name on the command line and the stdin JSON.
// Every input carries a "step" (a field Claude Code does not send: stored
// in data like any unknown field) that names it in the log.
struct Step {
  std::string event;
  std::string input;
};

// A session as Claude Code would hook it, in waves: the steps of a wave run
// as concurrent processes, waves one after another (a tool's PostToolUse
// comes after its PreToolUse finished, as Claude Code runs them).
std::vector<std::vector<Step>> Session(const std::string& sid) {
  auto in = [&](const std::string& event, const std::string& step, const std::string& more) {
    return Step{event, absl::StrCat(R"({"session_id":")", sid, R"(","transcript_path":"/t/)", sid,
                                    R"(.jsonl","cwd":"/w","hook_event_name":")", event,
                                    R"(","step":")", sid, "-", step, "\"", more, "}")};
  };
  auto tool = [&](const std::string& id) { return absl::StrCat(R"(,"tool_use_id":")", sid, id, "\""); };
  const std::string agent = R"(,"agent_id":"ag1","agent_type":"Explore")";
  return {
      {in("SessionStart", "start", R"(,"source":"startup","model":"claude-opus-4")")},
      {in("UserPromptSubmit", "prompt", R"(,"prompt":"fix the build")")},
      // Two calls of the same tool at once, their results in the other order.
      {in("PreToolUse", "pre1", R"(,"tool_name":"Bash","tool_input":{"command":"make a"})" + tool("1")),
       in("PreToolUse", "pre2", R"(,"tool_name":"Bash","tool_input":{"command":"make b"})" + tool("2"))},
      {in("PostToolUse", "post2", R"(,"tool_name":"Bash","tool_response":{"stdout":"b ok"})" + tool("2"))},
      {in("PostToolUse", "post1", R"(,"tool_name":"Bash","tool_response":{"stdout":"a ok"})" + tool("1"))},
      // A failure and an interrupt.
      {in("PreToolUse", "pre3", R"(,"tool_name":"Edit","tool_input":{"file_path":"x"})" + tool("3"))},
      {in("PostToolUseFailure", "fail3", R"(,"tool_name":"Edit","error":"no such file")" + tool("3"))},
      {in("PreToolUse", "pre4", R"(,"tool_name":"Bash","tool_input":{"command":"sleep 9"})" + tool("4"))},
      {in("PostToolUseFailure", "int4",
          R"(,"tool_name":"Bash","error":"interrupted","is_interrupt":true)" + tool("4"))},
      // A sub-agent and its tool call.
      {in("SubagentStart", "substart", agent)},
      {in("PreToolUse", "pre5", R"(,"tool_name":"Read","tool_input":{"file_path":"y"})" + tool("5") + agent)},
      {in("PostToolUse", "post5", R"(,"tool_name":"Read","tool_response":"text")" + tool("5") + agent)},
      {in("SubagentStop", "substop", agent + R"(,"agent_transcript_path":"/t/a.jsonl")")},
      // Events this version has no mapping for, and one of agent-strace's names.
      {in("Notification", "note", R"(,"message":"waiting")"),
       in("FutureEvent", "future", R"(,"novel":{"x":[1,2.5]})")},
      {Step{"stop", absl::StrCat(R"({"session_id":")", sid, R"(","step":")", sid,
                                 R"(-stop","last_assistant_message":"done"})")}},
      {in("SessionEnd", "end", R"(,"reason":"other")")},
  };
}

constexpr int kStepsPerSession = 18;

// Runs the sessions at once (a thread each), every step a `tracelog hook`.
void RunSessions(const TempDir& dir, const std::vector<std::string>& sessions) {
  std::vector<std::thread> threads;
  for (const std::string& sid : sessions) {
    threads.emplace_back([&dir, sid] {
      int n = 0;
      for (const std::vector<Step>& wave : Session(sid)) {
        std::vector<std::pair<int, std::string>> pids;
        for (const Step& s : wave) {
          const std::string tag = absl::StrCat(sid, "-", n++);
          pids.emplace_back(
              SpawnCli(dir, tag, {"hook", s.event, "--log", dir.Sub("log")}, s.input), tag);
        }
        for (const auto& [pid, tag] : pids) {
          EXPECT_EQ(WaitExitCode(pid), 0);
          EXPECT_EQ(ReadFileOrEmpty(dir.Sub(tag + ".err")), "") << tag;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
}

struct Stored {
  std::string type, event_id, session, parent_id, step, tool_use_id, parent_session;
  bool has_duration = false, interrupt = false;
  double duration = 0;
  std::string line;
};

std::vector<Stored> ReadBack(const TempDir& dir) {
  LogOptions o;
  o.read_only = true;
  std::vector<Stored> out;
  auto log = Log::Open(dir.Sub("log"), o);
  EXPECT_TRUE(log.ok()) << log.status();
  if (!log.ok()) return out;
  auto r = (*log)->NewReader(ReaderOptions{});
  LogEvent ev;
  simdjson::dom::parser parser;
  while (r->Next(&ev)) {
    Stored s;
    s.line = std::string(ev.event);
    simdjson::dom::element e;
    EXPECT_EQ(parser.parse(s.line).get(e), simdjson::SUCCESS) << s.line;
    std::string_view v;
    auto str = [&](simdjson::simdjson_result<simdjson::dom::element> x) {
      return x.get_string().get(v) == simdjson::SUCCESS ? std::string(v) : std::string();
    };
    s.type = str(e["event_type"]);
    s.event_id = str(e["event_id"]);
    s.session = str(e["session_id"]);
    s.parent_id = str(e["parent_id"]);
    s.step = str(e["data"]["step"]);
    s.tool_use_id = str(e["data"]["tool_use_id"]);
    s.parent_session = str(e["data"]["parent_session_id"]);
    s.has_duration = e["duration_ms"].get_double().get(s.duration) == simdjson::SUCCESS;
    bool b = false;
    s.interrupt = e["data"]["is_interrupt"].get_bool().get(b) == simdjson::SUCCESS && b;
    out.push_back(std::move(s));
  }
  return out;
}

// What every run must show: each step once, each result paired to its own
// call with a duration >= 0, the sub-agent in its child session.
void ExpectRecorded(const std::vector<Stored>& stored, const std::vector<std::string>& sessions) {
  std::map<std::string, const Stored*> by_step;
  std::map<std::string, const Stored*> call_of;  // tool_use_id -> its tool_call
  for (const Stored& s : stored) {
    EXPECT_TRUE(by_step.emplace(s.step, &s).second) << "recorded twice: " << s.line;
    if (s.type == "tool_call") call_of[s.tool_use_id] = &s;
  }
  EXPECT_EQ(stored.size(), sessions.size() * kStepsPerSession);
  for (const std::string& sid : sessions) {
    for (const char* step : {"start", "prompt", "pre1", "pre2", "post1", "post2", "pre3", "fail3",
                             "pre4", "int4", "substart", "pre5", "post5", "substop", "note",
                             "future", "stop", "end"}) {
      EXPECT_EQ(by_step.count(absl::StrCat(sid, "-", step)), 1u) << sid << "-" << step;
    }
    const std::string child = sid + ".ag1";
    for (const char* step : {"substart", "pre5", "post5", "substop"}) {
      auto it = by_step.find(absl::StrCat(sid, "-", step));
      if (it != by_step.end()) {
        EXPECT_EQ(it->second->session, child) << it->second->line;
      }
    }
    for (const char* step : {"start", "pre1", "post1", "note", "end"}) {
      auto it = by_step.find(absl::StrCat(sid, "-", step));
      if (it != by_step.end()) {
        EXPECT_EQ(it->second->session, sid) << it->second->line;
      }
    }
    auto sub = by_step.find(sid + "-substart");
    if (sub != by_step.end()) {
      EXPECT_EQ(sub->second->type, "session_start");
      EXPECT_EQ(sub->second->parent_session, sid);
    }
    auto interrupted = by_step.find(sid + "-int4");
    if (interrupted != by_step.end()) {
      EXPECT_EQ(interrupted->second->type, "error");
      EXPECT_TRUE(interrupted->second->interrupt);
    }
    auto future = by_step.find(sid + "-future");
    if (future != by_step.end()) {
      EXPECT_EQ(future->second->type, "decision");
      EXPECT_TRUE(absl::StrContains(future->second->line, R"("hook_event_name":"FutureEvent")"));
      EXPECT_TRUE(absl::StrContains(future->second->line, R"("novel":{"x":[1,2.5]})"));
    }
    auto stop = by_step.find(sid + "-stop");
    if (stop != by_step.end()) {
      EXPECT_EQ(stop->second->type, "assistant_response");
    }
  }
  // Every result and error of a tool names its own call, with a duration.
  int paired = 0;
  for (const Stored& s : stored) {
    if (s.type != "tool_result" && !(s.type == "error" && !s.tool_use_id.empty())) continue;
    ++paired;
    auto call = call_of.find(s.tool_use_id);
    ASSERT_NE(call, call_of.end()) << s.line;
    EXPECT_EQ(s.parent_id, call->second->event_id) << s.line;
    EXPECT_EQ(s.session, call->second->session) << s.line;
    EXPECT_TRUE(s.has_duration) << s.line;
    EXPECT_GE(s.duration, 0) << s.line;
  }
  EXPECT_EQ(paired, static_cast<int>(sessions.size()) * 5);
}

TEST(HookCliTest, ParallelSessionsWithoutAServer) {
  TempDir dir;
  const std::vector<std::string> sessions = {"7f0c1e2a-aaaa-4b1c-9d2e-000000000001",
                                             "7f0c1e2a-bbbb-4b1c-9d2e-000000000002"};
  RunSessions(dir, sessions);
  ExpectRecorded(ReadBack(dir), sessions);
  // The calls' start times are gone once their results came.
  EXPECT_TRUE(testing::FilesIn(dir.Sub("log/hooks"), "").empty())
      << testing::FilesIn(dir.Sub("log/hooks"), "")[0];
  // Exported, the sessions load with agent-strace's loader (restated in
  // agent_strace_loader.py: strict about keys and event types as it is).
  ASSERT_EQ(WaitExitCode(SpawnCli(dir, "export", {"export", "--log", dir.Sub("log"), dir.Sub("out")})), 0)
      << ReadFileOrEmpty(dir.Sub("export.err"));
  const int loader = testing::Spawn(
      dir, "loader", "python3",
      {absl::StrCat(TRACELOG_SOURCE_DIR, "/tests/tools/agent_strace_loader.py"), dir.Sub("out")});
  ASSERT_EQ(WaitExitCode(loader), 0) << ReadFileOrEmpty(dir.Sub("loader.err"));
  const std::string loaded = ReadFileOrEmpty(dir.Sub("loader.out"));
  for (const std::string& sid : sessions) {
    // The session: 14 events (4 of the 18 are the sub-agent's), 4 tool
    // calls, 2 errors, 4 results and errors paired; the sub-agent: 4
    // events, its parent named.
    EXPECT_TRUE(absl::StrContains(
        loaded, absl::StrCat(R"({"agent_name": "claude-code", "errors": 2, "events": 14, "paired": 4, )"
                             R"("parent_session_id": "", "session_id": ")", sid, R"(", "tool_calls": 4, )")))
        << loaded;
    EXPECT_TRUE(absl::StrContains(
        loaded, absl::StrCat(R"("events": 4, "paired": 1, "parent_session_id": ")", sid,
                             R"(", "session_id": ")", sid, R"(.ag1", "tool_calls": 1, )")))
        << loaded;
  }
}

TEST(HookCliTest, ParallelSessionsThroughAServer) {
  TempDir dir;
  const pid_t server = SpawnCli(dir, "serve", {"serve", "--log", dir.Sub("log")});
  bool up = false;
  for (int i = 0; i < 500 && !up; ++i) {
    up = ConnectToServer(dir.Sub("log/serve.sock")).ok();
    if (!up) ::usleep(10000);
  }
  ASSERT_TRUE(up) << ReadFileOrEmpty(dir.Sub("serve.err"));
  const std::vector<std::string> sessions = {"s-one", "s-two", "s-three"};
  RunSessions(dir, sessions);
  // They went through the server (it holds the lock: a hook that tried to
  // append itself would have waited and failed).
  auto stats = ServerStatsJson(dir.Sub("log/serve.sock"));
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_TRUE(absl::StrContains(*stats, absl::StrCat("\"events\":", sessions.size() * kStepsPerSession)))
      << *stats;
  ::kill(server, SIGTERM);
  EXPECT_EQ(WaitExitCode(server), 0) << ReadFileOrEmpty(dir.Sub("serve.err"));
  ExpectRecorded(ReadBack(dir), sessions);
}

// Whatever goes wrong, the hook exits 0 (a failing hook must not disturb
// the agent), says why on stderr, counts it, and stores nothing.
TEST(HookCliTest, BadInputExitsZeroAndIsCounted) {
  TempDir dir;
  const int pid = SpawnCli(dir, "bad", {"hook", "PreToolUse", "--log", dir.Sub("log")}, "{not json");
  EXPECT_EQ(WaitExitCode(pid), 0);
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(dir.Sub("bad.err")), "not a JSON object"))
      << ReadFileOrEmpty(dir.Sub("bad.err"));
  const std::string errors = ReadFileOrEmpty(dir.Sub("log/hooks/errors"));
  EXPECT_EQ(std::count(errors.begin(), errors.end(), '\n'), 1) << errors;
  EXPECT_TRUE(ReadBack(dir).empty());
  ASSERT_EQ(WaitExitCode(SpawnCli(dir, "info", {"info", "--log", dir.Sub("log")})), 0)
      << ReadFileOrEmpty(dir.Sub("info.err"));
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(dir.Sub("info.out")), "hook errors:      1 ("))
      << ReadFileOrEmpty(dir.Sub("info.out"));
}

}  // namespace
}  // namespace tracelog
