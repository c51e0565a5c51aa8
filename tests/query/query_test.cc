// Queries and the catalog against an independent oracle: a plain scan of the
// same input, parsed with simdjson's DOM API (not the engine's extractor).

#include <simdjson.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/workload/workload.h"
#include "engine/log/log.h"
#include "engine/query/query.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::testing::TempDir;

struct OracleEvent {
  uint64_t sequence;
  std::string line;
  std::string session, type, tool;
  bool error = false;
  bool has_ts = false;
  double ts = 0;
};

struct OracleSession {
  std::string agent;
  uint64_t events = 0, tool_calls = 0, errors = 0;
  double first = 0, last = 0;
};

bool Truthy(simdjson::dom::element v) {
  if (v.is_null()) return false;
  if (v.is_bool()) return v.get_bool().value();
  if (v.is_string()) return !v.get_string().value().empty();
  if (v.is_int64()) return v.get_int64().value() != 0;
  if (v.is_double()) return v.get_double().value() != 0;
  return true;
}

OracleEvent Parse(uint64_t seq, const std::string& line) {
  static simdjson::dom::parser parser;
  OracleEvent e{seq, line};
  simdjson::dom::element root = parser.parse(line);
  std::string_view s;
  if (root["session_id"].get(s) == simdjson::SUCCESS) e.session = std::string(s);
  if (root["event_type"].get(s) == simdjson::SUCCESS) e.type = std::string(s);
  if (root["data"]["tool_name"].get(s) == simdjson::SUCCESS) e.tool = std::string(s);
  double ts;
  if (root["timestamp"].get(ts) == simdjson::SUCCESS) {
    e.has_ts = true;
    e.ts = ts;
  }
  simdjson::dom::element v;
  e.error = e.type == "error" ||
            (root["data"]["error"].get(v) == simdjson::SUCCESS && Truthy(v)) ||
            (root["data"]["is_error"].get(v) == simdjson::SUCCESS && Truthy(v));
  return e;
}

class QueryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    WorkloadOptions w;
    w.seed = 11;
    w.agents = 5;
    w.sessions = 60;
    w.turns_per_session = 4;
    w.max_output_bytes = 8 << 10;
    FleetWorkload fleet(w);
    std::string line;
    std::vector<std::string> lines;
    while (fleet.Next(&line)) {
      lines.push_back(line);
      line.clear();
    }
    LogOptions o = testing::SmallLogOptions(nullptr, 128 << 10);
    o.seal.block_size = 16 << 10;
    o.seal.dictionary_size = 16 << 10;
    o.seal.dictionary_min_bytes = 64 << 10;
    auto log = Log::Open(dir_->Sub("log"), o);
    ASSERT_OK(log);
    log_ = log->release();
    // Two thirds sealed, the rest in raw segments (rolled and active).
    for (size_t i = 0; i < lines.size(); ++i) {
      ASSERT_OK(log_->Append(lines[i]));
      if (i == lines.size() * 2 / 3) ASSERT_OK(log_->SealAll());
      oracle_.push_back(Parse(i + 1, lines[i]));
    }
    ASSERT_GT(log_->Stats().sealed_segments, 2u);
    ASSERT_GT(log_->Stats().segments - log_->Stats().sealed_segments, 1u);
    for (const OracleEvent& e : oracle_) {
      OracleSession& s = (*sessions_)[e.session];
      if (e.type == "session_start") {
        simdjson::dom::parser p;
        std::string_view a;
        if (p.parse(e.line)["data"]["agent_name"].get(a) == simdjson::SUCCESS) {
          s.agent = std::string(a);
        }
      }
      s.first = s.events == 0 ? e.ts : std::min(s.first, e.ts);
      s.last = s.events == 0 ? e.ts : std::max(s.last, e.ts);
      ++s.events;
      s.tool_calls += e.type == "tool_call";
      s.errors += e.error;
    }
  }
  static void TearDownTestSuite() {
    delete log_;
    delete dir_;
  }

  static std::vector<uint64_t> Oracle(const Query& q) {
    std::set<std::string> agent_sessions;
    for (const auto& [id, s] : *sessions_) {
      if (std::find(q.agents.begin(), q.agents.end(), s.agent) != q.agents.end()) {
        agent_sessions.insert(id);
      }
    }
    std::vector<uint64_t> out;
    for (const OracleEvent& e : oracle_) {
      auto in = [](const std::vector<std::string>& v, const std::string& x) {
        return v.empty() || std::find(v.begin(), v.end(), x) != v.end();
      };
      if (!in(q.sessions, e.session) || !in(q.types, e.type) || !in(q.tools, e.tool)) continue;
      if (!q.agents.empty() && !agent_sessions.count(e.session)) continue;
      if (q.error && !e.error) continue;
      if (q.since && (!e.has_ts || e.ts < *q.since)) continue;
      if (q.until && (!e.has_ts || e.ts >= *q.until)) continue;
      out.push_back(e.sequence);
      if (q.limit != 0 && out.size() == q.limit) break;
    }
    return out;
  }

  static void Check(QueryEngine* engine, const Query& q, const std::string& what) {
    SCOPED_TRACE(what);
    const std::vector<uint64_t> want = Oracle(q);
    std::vector<uint64_t> got;
    auto n = engine->Run(q, [&](uint64_t seq, absl::string_view event) {
      got.push_back(seq);
      EXPECT_EQ(event, oracle_[seq - 1].line) << "sequence " << seq;
      return true;
    });
    ASSERT_OK(n);
    EXPECT_EQ(got, want);
    EXPECT_EQ(*n, want.size());
    QueryStats stats;
    auto count = engine->Count(q, &stats);
    ASSERT_OK(count);
    EXPECT_EQ(*count, want.size());
  }

  static TempDir* dir_;
  static Log* log_;
  static std::vector<OracleEvent> oracle_;
  static std::map<std::string, OracleSession>* sessions_;
};

TempDir* QueryTest::dir_ = nullptr;
Log* QueryTest::log_ = nullptr;
std::vector<OracleEvent> QueryTest::oracle_;
std::map<std::string, OracleSession>* QueryTest::sessions_ = new std::map<std::string, OracleSession>();

TEST_F(QueryTest, EveryFilterAloneMatchesTheOracle) {
  QueryEngine engine(log_);
  Check(&engine, Query(), "no filter");
  const OracleEvent& mid = oracle_[oracle_.size() / 2];
  const OracleEvent& late = oracle_[oracle_.size() - 3];  // in the raw part
  for (const std::string& s : {mid.session, late.session, std::string("no-such-session")}) {
    Query q;
    q.sessions = {s};
    Check(&engine, q, "session " + s);
  }
  for (const char* t : {"tool_call", "error", "session_start", "llm_response", "nope"}) {
    Query q;
    q.types = {t};
    Check(&engine, q, absl::StrCat("type ", t));
  }
  for (const char* t : {"Bash", "Read", "nope"}) {
    Query q;
    q.tools = {t};
    Check(&engine, q, absl::StrCat("tool ", t));
  }
  Query err;
  err.error = true;
  Check(&engine, err, "error");
  // The data set exercises each filter: none of these is trivially empty.
  Query bash;
  bash.tools = {"Bash"};
  EXPECT_GT(Oracle(bash).size(), 10u);
  EXPECT_GT(Oracle(err).size(), 3u);
  Query agent;
  agent.agents = {(*sessions_)[mid.session].agent};
  Check(&engine, agent, "agent");
  Query window;
  window.since = mid.ts - 60;
  window.until = mid.ts + 60;
  Check(&engine, window, "a 2-minute window");
  EXPECT_GT(Oracle(window).size(), 0u);
  EXPECT_LT(Oracle(window).size(), oracle_.size() / 2);
  Query since;
  since.since = late.ts;
  Check(&engine, since, "since only");
  Query limit;
  limit.limit = 7;
  limit.types = {"tool_result"};
  Check(&engine, limit, "limit");
}

TEST_F(QueryTest, AStopDeliversExactlyWhatTheCallbackTookAndBatchesMatchRun) {
  QueryEngine engine(log_);
  const Query all;
  std::vector<uint64_t> full;
  auto n = engine.Run(all, [&](uint64_t seq, absl::string_view) {
    full.push_back(seq);
    return true;
  });
  ASSERT_OK(n);
  EXPECT_EQ(full.size(), oracle_.size());
  EXPECT_EQ(*n, full.size());
  // Stopped at the fifth event: five delivered, the first five.
  std::vector<uint64_t> seen;
  n = engine.Run(all, [&](uint64_t seq, absl::string_view) {
    seen.push_back(seq);
    return seen.size() < 5;
  });
  ASSERT_OK(n);
  EXPECT_EQ(*n, 5u);
  EXPECT_EQ(seen, std::vector<uint64_t>(full.begin(), full.begin() + 5));
  // In runs: the same events, in the same order, the bytes as Run gives them.
  std::vector<uint64_t> batched;
  std::vector<std::string> bytes, run_bytes;
  n = engine.RunBatches(all, [&](absl::Span<const BlockEvent> events) {
    for (const BlockEvent& e : events) {
      batched.push_back(e.sequence);
      bytes.emplace_back(e.event);
    }
    return true;
  });
  ASSERT_OK(n);
  EXPECT_EQ(batched, full);
  ASSERT_OK(engine.Run(all, [&](uint64_t, absl::string_view e) {
    run_bytes.emplace_back(e);
    return true;
  }));
  EXPECT_EQ(bytes, run_bytes);
}

TEST_F(QueryTest, RandomCombinationsMatchTheOracle) {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("TRACELOG_QUERY_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::printf("query test seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  QueryEngine engine(log_);
  const std::vector<std::string> types = {"tool_call", "tool_result", "error", "llm_request",
                                          "decision", "user_prompt"};
  const std::vector<std::string> tools = {"Bash", "Read", "Edit", "Grep", "WebFetch"};
  for (int i = 0; i < 150; ++i) {
    Query q;
    const OracleEvent& pick = oracle_[rng() % oracle_.size()];
    if (rng() % 3 == 0) q.sessions = {pick.session};
    if (rng() % 3 == 0) q.types = {types[rng() % types.size()], types[rng() % types.size()]};
    if (rng() % 3 == 0) q.tools = {tools[rng() % tools.size()]};
    if (rng() % 4 == 0) q.error = true;
    if (rng() % 5 == 0) q.agents = {(*sessions_)[pick.session].agent};
    if (rng() % 3 == 0) {
      q.since = pick.ts - static_cast<double>(rng() % 600);
      q.until = pick.ts + static_cast<double>(rng() % 600);
    }
    if (rng() % 6 == 0) q.limit = 1 + rng() % 20;
    Check(&engine, q, absl::StrCat("seed ", seed, " query ", i));
  }
}

TEST_F(QueryTest, OneShotSessionQueriesThroughTheSessionDirectoryMatchTheOracle) {
  // A fresh engine has no index loaded: session filters take the directory
  // path (what the CLI does), alone and combined with other filters.
  for (size_t i = 0; i < oracle_.size(); i += oracle_.size() / 25) {
    const OracleEvent& e = oracle_[i];
    Query q;
    q.sessions = {e.session};
    {
      QueryEngine engine(log_);
      Check(&engine, q, "session " + e.session);
    }
    {
      QueryEngine engine(log_);
      auto n = engine.Count(q);
      ASSERT_OK(n);
      EXPECT_EQ(*n, Oracle(q).size());
    }
    q.error = i % 2 == 0;
    q.types = {e.type};
    QueryEngine engine(log_);
    Check(&engine, q, "session, type, error " + e.session);
    // A window, one-shot: segments outside it are skipped by the time range
    // in their index's directory.
    Query w;
    w.since = e.ts - 30;
    w.until = e.ts + 30;
    QueryEngine fresh(log_);
    Check(&fresh, w, "one-shot window");
  }
}

TEST_F(QueryTest, CountsFromTheIndexAloneWhereTheFiltersAllow) {
  QueryEngine engine(log_);
  QueryStats stats;
  Query q;
  q.types = {"tool_call"};
  q.tools = {"Bash"};
  q.error = false;
  ASSERT_OK(engine.Count(q, &stats));
  EXPECT_EQ(stats.blocks_read, 0u);
  EXPECT_GT(stats.blocks_counted, 0u);
  Query windowed;
  windowed.types = {"tool_call"};
  windowed.since = oracle_[10].ts;
  ASSERT_OK(engine.Count(windowed, &stats));
  EXPECT_GT(stats.blocks_read, 0u);  // a time window needs the events
  Query tool_error;
  tool_error.tools = {"Bash"};
  tool_error.error = true;
  ASSERT_OK(engine.Run(tool_error, [](uint64_t, absl::string_view) { return true; }, &stats));
  EXPECT_LT(stats.blocks_read * 4, stats.blocks_total) << "errors are clustered by tool";
}

TEST_F(QueryTest, TheCatalogMatchesTheOracle) {
  QueryEngine engine(log_);
  auto catalog = engine.Catalog();
  ASSERT_OK(catalog);
  ASSERT_EQ(catalog->size(), sessions_->size());
  for (const CatalogEntry& e : *catalog) {
    SCOPED_TRACE(e.id);
    const OracleSession& o = sessions_->at(e.id);
    EXPECT_EQ(e.agent, o.agent);
    EXPECT_EQ(e.events, o.events);
    EXPECT_EQ(e.tool_calls, o.tool_calls);
    EXPECT_EQ(e.errors, o.errors);
    EXPECT_EQ(e.first_timestamp, o.first);
    EXPECT_EQ(e.last_timestamp, o.last);
    uint64_t by_type = 0;
    for (const auto& [t, n] : e.types) by_type += n;
    EXPECT_EQ(by_type, o.events);
    EXPECT_FALSE(e.segments.empty());
  }
}

TEST_F(QueryTest, SessionPrefixesResolveWhenUnambiguous) {
  QueryEngine engine(log_);
  const std::string id = oracle_[5].session;
  auto full = engine.ResolveSession(id);
  ASSERT_OK(full);
  EXPECT_EQ(*full, id);
  // The shortest prefix no other session shares.
  for (size_t n = 1; n <= id.size(); ++n) {
    int sharing = 0;
    for (const auto& [other, s] : *sessions_) sharing += other.compare(0, n, id, 0, n) == 0;
    auto r = engine.ResolveSession(id.substr(0, n));
    if (sharing == 1) {
      ASSERT_OK(r);
      EXPECT_EQ(*r, id);
      break;
    }
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  }
  EXPECT_TRUE(absl::IsNotFound(engine.ResolveSession("zzzz-not-there").status()));
}

TEST(QueryTimeTest, EpochRfc3339AndAges) {
  EXPECT_EQ(*ParseQueryTime("1795440000.5", 0), 1795440000.5);
  EXPECT_EQ(*ParseQueryTime("2026-11-23T02:00:00Z", 0), 1795399200);
  EXPECT_EQ(*ParseQueryTime("2026-11-23T02:00:00+01:00", 0), 1795395600);
  EXPECT_EQ(*ParseQueryTime("15m", 10000), 10000 - 900);
  EXPECT_EQ(*ParseQueryTime("24h", 100000), 100000 - 86400);
  EXPECT_EQ(*ParseQueryTime("7d", 1000000), 1000000 - 7 * 86400);
  for (const char* bad : {"", "yesterday", "15x", "-5m", "2026-13-01T00:00:00Z", "nan",
                          // found by fuzzing: absl::ParseTime reads these
                          "infinite-future", "  infinite-past", "1e308w"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseQueryTime(bad, 0).status())) << bad;
  }
}

}  // namespace
}  // namespace tracelog
