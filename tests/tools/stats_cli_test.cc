// tracelog stats against what the tests compute themselves: agent-strace's
// rules (a tool_result's parent_id names its tool_call; avg = total / len)
// applied to the events.ndjson files of a generated corpus, and hand-written
// sessions whose percentiles and pairings are known exactly.

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

namespace dom = simdjson::dom;
using ::tracelog::testing::ReadFileOrEmpty;
using ::tracelog::testing::SpawnCli;
using ::tracelog::testing::TempDir;
using ::tracelog::testing::WaitExitCode;

struct CliRun {
  int code = -1;
  std::string out, err;
};

CliRun Stats(const TempDir& dir, std::vector<std::string> args, const std::string& input = "") {
  CliRun r;
  r.code = WaitExitCode(SpawnCli(dir, "stats", std::move(args), input));
  r.out = ReadFileOrEmpty(dir.Sub("stats.out"));
  r.err = ReadFileOrEmpty(dir.Sub("stats.err"));
  return r;
}

// For a dom::element or a lookup's simdjson_result (a missing field).
// A string, or "" for anything else.
template <typename E>
std::string Str(E e) {
  std::string_view s;
  return e.get_string().get(s) == simdjson::SUCCESS ? std::string(s) : std::string();
}
template <typename E>
uint64_t Uint(E e) {
  uint64_t n = 0;
  EXPECT_EQ(e.get_uint64().get(n), simdjson::SUCCESS);
  return n;
}
template <typename E>
double Number(E e) {
  double d = -1;
  EXPECT_EQ(e.get_double().get(d), simdjson::SUCCESS);
  return d;
}
dom::object Obj(simdjson::simdjson_result<dom::element> e) {
  dom::object o;
  EXPECT_EQ(e.get_object().get(o), simdjson::SUCCESS);
  return o;
}
std::string Minified(simdjson::simdjson_result<dom::element> e) {
  dom::element v;
  EXPECT_EQ(e.get(v), simdjson::SUCCESS);
  return simdjson::minify(v);
}

// What agent-strace's stats gives for one session, restated from its rules
// and computed here from the session's events.ndjson.
struct Expected {
  std::string agent;  // session_start's data.agent_name
  uint64_t events = 0, errors = 0;
  std::map<std::string, uint64_t> by_type, calls, tool_errors;
  std::map<std::string, double> total_ms;  // summed samples, in file order
  std::map<std::string, uint64_t> samples;
  double first = 0, last = 0;
};

Expected Compute(const std::string& events_ndjson) {
  Expected x;
  std::vector<dom::element> events;
  std::vector<std::string> lines = absl::StrSplit(events_ndjson, '\n', absl::SkipEmpty());
  std::vector<dom::parser> parsers(lines.size());  // each element lives with its parser
  std::map<std::string, std::string> call_tool;    // tool_call event_id -> tool
  for (size_t i = 0; i < lines.size(); ++i) {
    dom::element e;
    EXPECT_EQ(parsers[i].parse(lines[i]).get(e), simdjson::SUCCESS) << lines[i];
    events.push_back(e);
    const std::string type = Str(e["event_type"]);
    ++x.events;
    ++x.by_type[type];
    if (type == "session_start") x.agent = Str(e["data"]["agent_name"]);
    if (type != "tool_call") continue;
    std::string tool = Str(e["data"]["tool_name"]);
    if (tool.empty()) tool = "unknown";
    ++x.calls[tool];
    call_tool[Str(e["event_id"])] = tool;
  }
  for (dom::element e : events) {
    const std::string type = Str(e["event_type"]);
    auto parent = call_tool.find(Str(e["parent_id"]));
    double ms = 0, ts = 0;
    if (e["timestamp"].get_double().get(ts) == simdjson::SUCCESS) {
      x.first = x.first == 0 ? ts : std::min(x.first, ts);
      x.last = std::max(x.last, ts);
    }
    if (type == "tool_result" && parent != call_tool.end() &&
        e["duration_ms"].get_double().get(ms) == simdjson::SUCCESS) {
      x.total_ms[parent->second] += ms;
      ++x.samples[parent->second];
    } else if (type == "error") {
      ++x.errors;
      if (parent != call_tool.end()) {
        ++x.tool_errors[parent->second];
      } else if (!Str(e["data"]["tool_name"]).empty()) {
        ++x.tool_errors[Str(e["data"]["tool_name"])];
      }
    }
  }
  return x;
}

// Session "pair": two Read calls answered in the other order, a Bash call
// answered between them, two more Reads likewise; results that name another
// session's call or an llm_request; errors by parent, by tool_name and with
// no text; a result before its call. Session "other" holds the call that
// pair's stray result names, and "-dash" an id that looks like an option.
constexpr char kHandWritten[] = R"(
{"event_type":"session_start","timestamp":100.0,"event_id":"s0","session_id":"pair","data":{"agent_name":"t"}}
{"event_type":"tool_call","timestamp":101.0,"event_id":"c1","session_id":"pair","data":{"tool_name":"Read"}}
{"event_type":"tool_call","timestamp":101.5,"event_id":"c2","session_id":"pair","data":{"tool_name":"Bash"}}
{"event_type":"tool_call","timestamp":102.0,"event_id":"c3","session_id":"pair","data":{"tool_name":"Read"}}
{"event_type":"session_start","timestamp":102.5,"event_id":"s1","session_id":"other","data":{"agent_name":"u"}}
{"event_type":"tool_call","timestamp":102.6,"event_id":"o1","session_id":"other","data":{"tool_name":"Grep"}}
{"event_type":"tool_result","timestamp":103.0,"event_id":"r2","session_id":"pair","parent_id":"c2","duration_ms":500,"data":{}}
{"event_type":"tool_result","timestamp":104.0,"event_id":"r3","session_id":"pair","parent_id":"c3","duration_ms":40.0,"data":{}}
{"event_type":"tool_result","timestamp":105.0,"event_id":"r1","session_id":"pair","parent_id":"c1","duration_ms":10.0,"data":{}}
{"event_type":"tool_call","timestamp":106.0,"event_id":"c4","session_id":"pair","data":{"tool_name":"Read"}}
{"event_type":"tool_call","timestamp":106.5,"event_id":"c5","session_id":"pair","data":{"tool_name":"Read"}}
{"event_type":"tool_result","timestamp":107.0,"event_id":"r5","session_id":"pair","parent_id":"c5","duration_ms":30.0,"data":{}}
{"event_type":"tool_result","timestamp":107.5,"event_id":"r4","session_id":"pair","parent_id":"c4","duration_ms":20.0,"data":{}}
{"event_type":"tool_result","timestamp":108.0,"event_id":"rx","session_id":"pair","parent_id":"o1","duration_ms":9999.0,"data":{}}
{"event_type":"llm_request","timestamp":108.5,"event_id":"l1","session_id":"pair","data":{"model":"m"}}
{"event_type":"llm_response","timestamp":109.0,"event_id":"l1r","session_id":"pair","parent_id":"l1","duration_ms":700.0,"data":{"input_tokens":100,"output_tokens":7}}
{"event_type":"tool_result","timestamp":109.1,"event_id":"rl","session_id":"pair","parent_id":"l1","duration_ms":8888.0,"data":{}}
{"event_type":"error","timestamp":110.0,"event_id":"e1","session_id":"pair","parent_id":"c2","data":{"message":"exit 1"}}
{"event_type":"error","timestamp":111.0,"event_id":"e2","session_id":"pair","data":{"tool_name":"Read","error":"exit 1"}}
{"event_type":"error","timestamp":112.0,"event_id":"e3","session_id":"pair","data":{}}
{"event_type":"tool_call","timestamp":113.0,"event_id":"c6","session_id":"pair","data":{"tool_name":"Glob"}}
{"event_type":"tool_result","timestamp":114.0,"event_id":"r7","session_id":"pair","parent_id":"c7","duration_ms":5.0,"data":{}}
{"event_type":"tool_call","timestamp":115.0,"event_id":"c7","session_id":"pair","data":{"tool_name":"Edit"}}
{"event_type":"session_end","timestamp":120.0,"event_id":"se","session_id":"pair","data":{"total_tokens":555}}
{"event_type":"session_start","timestamp":90.0,"event_id":"d0","session_id":"-dash","data":{"agent_name":"d"}}
)";

// The corpus of the first two tests: `tracelog gen` sessions imported into
// one log, made once. The others write kHandWritten into a log of their own.
class StatsCliTest : public ::testing::Test {
 protected:
  void AppendHandWritten() {
    CliRun r = Stats(tmp_, {"append", "--log", tmp_.Sub("log")}, kHandWritten);
    ASSERT_EQ(r.code, 0) << r.err;
  }
  // args, then --log LOG (kHandWritten's).
  std::vector<std::string> Args(std::vector<std::string> args) {
    args.push_back("--log");
    args.push_back(tmp_.Sub("log"));
    return args;
  }

  static void SetUpTestSuite() {
    dir_ = new TempDir();
    CliRun gen = Stats(*dir_, {"gen", "--sessions", "6", "--seed", "21", "--format", "dir", "--out",
                               dir_->Sub("corpus")});
    ASSERT_EQ(gen.code, 0) << gen.err;
    CliRun import = Stats(*dir_, {"import", "--log", dir_->Sub("log"), dir_->Sub("corpus")});
    ASSERT_EQ(import.code, 0) << import.err;
    for (const auto& entry : std::filesystem::directory_iterator(dir_->Sub("corpus"))) {
      const std::string events = ReadFileOrEmpty(entry.path().string() + "/events.ndjson");
      if (!events.empty()) (*sessions_)[entry.path().filename().string()] = Compute(events);
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  // `tracelog stats args... --format json --log LOG`, parsed into `parser`.
  static dom::element StatsJson(dom::parser& parser, std::vector<std::string> args) {
    args.insert(args.begin(), "stats");
    for (const char* a : {"--format", "json", "--log"}) args.push_back(a);
    args.push_back(dir_->Sub("log"));
    CliRun r = Stats(*dir_, args);
    EXPECT_EQ(r.code, 0) << r.err;
    dom::element e;
    EXPECT_EQ(parser.parse(r.out).get(e), simdjson::SUCCESS) << r.out;
    return e;
  }

  TempDir tmp_;
  static TempDir* dir_;
  static std::map<std::string, Expected>* sessions_;
};
TempDir* StatsCliTest::dir_ = nullptr;
std::map<std::string, Expected>* StatsCliTest::sessions_ = new std::map<std::string, Expected>;

// Per session: tool counts, mean latency per tool, errors per tool and in
// all, and the duration equal what agent-strace's rules give on the file.
TEST_F(StatsCliTest, GeneratedSessionsMatchAgentStraceComputation) {
  ASSERT_EQ(sessions_->size(), 6u);
  uint64_t samples = 0, errors = 0;
  for (const auto& [id, x] : *sessions_) {
    SCOPED_TRACE(id);
    dom::parser parser;
    dom::element s = StatsJson(parser, {id});
    EXPECT_EQ(Str(s["session"]), id);
    EXPECT_EQ(Uint(s["events"]), x.events);
    EXPECT_EQ(Uint(s["errors"]), x.errors);
    std::map<std::string, uint64_t> calls, tool_errors;
    for (auto [name, t] : Obj(s["tools"])) {
      const std::string tool(name);
      calls[tool] = Uint(t["count"]);
      if (Uint(t["errors"]) > 0) tool_errors[tool] = Uint(t["errors"]);
      auto sum = x.total_ms.find(tool);
      double avg = 0;
      if (sum == x.total_ms.end()) {
        EXPECT_TRUE(t["avg_ms"].is_null()) << tool;
        continue;
      }
      samples += x.samples.at(tool);
      ASSERT_EQ(t["avg_ms"].get_double().get(avg), simdjson::SUCCESS) << tool;
      const double want = sum->second / x.samples.at(tool);
      EXPECT_NEAR(avg, want, 1e-6 * want) << tool;
    }
    errors += x.errors;
    EXPECT_EQ(calls, x.calls);
    EXPECT_EQ(tool_errors, x.tool_errors);
    EXPECT_NEAR(Number(s["duration_ms"]), (x.last - x.first) * 1000, 1e-3);
  }
  // The corpus exercises what is compared.
  EXPECT_GT(samples, 100u);
  EXPECT_GT(errors, 0u);
}

// Without a session: the sums over the sessions; --agent keeps the sessions
// of the agents named.
TEST_F(StatsCliTest, WholeLogSumsTheSessionsAndAgentFilterRestricts) {
  // The agents of the first two sessions; `some` sums every session of theirs.
  std::set<std::string> agents;
  for (const auto& [id, x] : *sessions_) {
    if (agents.size() < 2) agents.insert(x.agent);
  }
  Expected all, some;
  uint64_t some_sessions = 0;
  for (const auto& [id, x] : *sessions_) {
    const bool kept = agents.count(x.agent) > 0;
    some_sessions += kept;
    for (Expected* sum : kept ? std::vector<Expected*>{&all, &some} : std::vector{&all}) {
      sum->events += x.events;
      sum->errors += x.errors;
      for (const auto& [type, n] : x.by_type) sum->by_type[type] += n;
      for (const auto& [tool, n] : x.calls) sum->calls[tool] += n;
    }
  }
  ASSERT_LT(some.events, all.events);
  for (const auto& [args, want, sessions] :
       {std::tuple{std::vector<std::string>{}, &all, uint64_t{6}},
        std::tuple{std::vector<std::string>{"--agent", absl::StrJoin(agents, ",")}, &some,
                   some_sessions}}) {
    SCOPED_TRACE(absl::StrJoin(args, " "));
    dom::parser parser;
    dom::element s = StatsJson(parser, args);
    EXPECT_TRUE(s["session"].is_null());
    EXPECT_EQ(Uint(s["sessions"]), sessions);
    EXPECT_EQ(Uint(s["events"]), want->events);
    EXPECT_EQ(Uint(s["errors"]), want->errors);
    std::map<std::string, uint64_t> by_type, calls;
    for (auto [type, n] : Obj(s["by_type"])) by_type[std::string(type)] = Uint(n);
    for (auto [tool, t] : Obj(s["tools"])) calls[std::string(tool)] = Uint(t["count"]);
    EXPECT_EQ(by_type, want->by_type);
    EXPECT_EQ(calls, want->calls);
  }
}

TEST_F(StatsCliTest, ResultsPairWithTheirCallByParentIdNotByOrder) {
  AppendHandWritten();
  CliRun r = Stats(tmp_, Args({"stats", "pair", "--format", "json"}));
  ASSERT_EQ(r.code, 0) << r.err;
  dom::parser parser;
  dom::element s;
  ASSERT_EQ(parser.parse(r.out).get(s), simdjson::SUCCESS) << r.out;
  dom::element read = s["tools"]["Read"], bash = s["tools"]["Bash"];
  // Read: 10, 20, 30, 40 (nearest rank: p50 is the 2nd, p95 the 4th).
  EXPECT_EQ(Uint(read["count"]), 4u);
  EXPECT_EQ(Number(read["avg_ms"]), 25.0);
  EXPECT_EQ(Number(read["p50_ms"]), 20.0);
  EXPECT_EQ(Number(read["p95_ms"]), 40.0);
  EXPECT_EQ(Number(read["max_ms"]), 40.0);
  EXPECT_EQ(Uint(read["errors"]), 1u);  // by data.tool_name
  EXPECT_EQ(Number(bash["p50_ms"]), 500.0);
  EXPECT_EQ(Number(bash["max_ms"]), 500.0);
  EXPECT_EQ(Uint(bash["errors"]), 1u);                   // by parent_id
  EXPECT_EQ(Number(s["tools"]["Edit"]["max_ms"]), 5.0);  // its result came first
  EXPECT_TRUE(s["tools"]["Glob"]["avg_ms"].is_null());
  EXPECT_TRUE(s["tools"]["Glob"]["p95_ms"].is_null());
  EXPECT_EQ(s["tools"]["Grep"].error(), simdjson::NO_SUCH_FIELD);  // other's call
  EXPECT_EQ(Obj(s["tools"]).size(), 4u);
  EXPECT_EQ(Uint(s["errors"]), 3u);
  EXPECT_EQ(Minified(s["error_messages"]),
            R"([{"message":"exit 1","count":2},{"message":"unknown","count":1}])");
  EXPECT_EQ(Uint(s["llm_requests"]), 1u);
  EXPECT_EQ(Minified(s["tokens"]), R"({"input":100,"output":7,"total":555})");
  EXPECT_EQ(Number(s["duration_ms"]), 20000.0);

  // Across the log, other's Grep call is counted but pair's stray result
  // (same event_id, other session) gives it no sample.
  r = Stats(tmp_, Args({"stats", "--format", "json"}));
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(parser.parse(r.out).get(s), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(Uint(s["sessions"]), 3u);
  EXPECT_EQ(Uint(s["tools"]["Grep"]["count"]), 1u);
  EXPECT_TRUE(s["tools"]["Grep"]["max_ms"].is_null());
  EXPECT_EQ(Number(s["tools"]["Read"]["p95_ms"]), 40.0);
}

TEST_F(StatsCliTest, TableSummarisesToolsAndGroupsErrors) {
  AppendHandWritten();
  CliRun r = Stats(tmp_, Args({"stats", "pair", "--format", "table"}));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "Session Summary")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "4x  avg: 25ms  p50: 20ms  p95: 40ms  max: 40ms  errors: 1"))
      << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "1x  avg: -  p50: -  p95: -  max: -  errors: 0")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "Errors (3):\n    exit 1 (2x)\n    unknown\n")) << r.out;
}

TEST_F(StatsCliTest, UnknownSessionExitsTwoNamingIt) {
  AppendHandWritten();
  CliRun r = Stats(tmp_, Args({"stats", "nosuch", "--format", "json"}));
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(absl::StrContains(r.err, "nosuch")) << r.err;
  EXPECT_EQ(r.out, "");
}

// `latest` is the session that started last, a prefix resolves, and after
// `--` an id may start with '-'; piped without --format, one JSON line.
TEST_F(StatsCliTest, LatestPrefixAndDashIdsResolve) {
  AppendHandWritten();
  dom::parser parser;
  dom::element s;
  for (const auto& [arg, id] : {std::pair{"latest", "other"}, std::pair{"pa", "pair"}}) {
    CliRun r = Stats(tmp_, Args({"stats", arg}));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    ASSERT_EQ(parser.parse(r.out).get(s), simdjson::SUCCESS) << r.out;
    EXPECT_EQ(Str(s["session"]), id) << arg;
  }
  CliRun r = Stats(tmp_, {"stats", "--log", tmp_.Sub("log"), "--format", "json", "--", "-dash"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(parser.parse(r.out).get(s), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(Str(s["session"]), "-dash");
  EXPECT_EQ(Uint(s["events"]), 1u);
}

}  // namespace
}  // namespace tracelog
