// WholeLogStats (stats.cache) against a SessionStatsBuilder fed every event
// of the log in one pass: the same figures cold, warm, after sealing, after
// more appends and with a damaged cache; results whose call is in another
// segment, and errors naming a call a result already named there.

#include "engine/query/stats_cache.h"

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/log/log.h"
#include "engine/query/query.h"
#include "engine/query/session_stats.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::testing::TempDir;


// Session k: calls c0..cN, each answered by a result two calls later (so
// across segment ends), every 7th by an error 20 calls later too, some by
// nothing; token
// counters on llm_responses, the total on session_end.
std::vector<std::string> Events(int sessions, int calls, int first_call = 0) {
  std::vector<std::string> out;
  const char* tools[] = {"Read", "Bash", "Edit"};
  for (int i = first_call; i < first_call + calls + 2; ++i) {
    for (int k = 0; k < sessions; ++k) {
      const double ts = 1000 + i * 0.5 + k * 0.01;
      if (i < first_call + calls) {
        out.push_back(absl::StrFormat(
            R"({"event_type":"tool_call","timestamp":%.2f,"session_id":"s%d","event_id":"c%d","data":{"tool_name":"%s","arguments":{"pad":"%s"}}})",
            ts, k, i, tools[(i + k) % 3], std::string(100, 'x')));
      }
      const int answered = i - 2;
      if (answered >= first_call && answered % 11 != 5) {
        out.push_back(absl::StrFormat(
            R"({"event_type":"tool_result","timestamp":%.2f,"session_id":"s%d","event_id":"r%d","parent_id":"c%d","duration_ms":%d.25,"data":{}})",
            ts + 0.001, k, answered, answered, 10 + (answered * 7 + k) % 90));
      }
      // An error long after its call was answered: in a later segment.
      const int failed = i - 20;
      if (failed >= first_call && failed % 7 == 3) {
        out.push_back(absl::StrFormat(
            R"({"event_type":"error","timestamp":%.2f,"session_id":"s%d","event_id":"e%d","parent_id":"c%d","data":{"message":"exit %d"}})",
            ts + 0.002, k, failed, failed, failed % 3));
      }
      if (i % 5 == 0) {
        out.push_back(absl::StrFormat(
            R"({"event_type":"llm_response","timestamp":%.2f,"session_id":"s%d","event_id":"l%d","data":{"input_tokens":%d,"output_tokens":3}})",
            ts + 0.003, k, i, 100 + i));
      }
    }
  }
  return out;
}

SessionStats OnePass(Log* log) {
  SessionStatsBuilder b;
  auto reader = log->NewReader(ReaderOptions{});
  LogEvent ev;
  while (reader->Next(&ev)) b.Add(ev.event);
  EXPECT_TRUE(reader->status().ok());
  return std::move(b).Finish();
}

void ExpectSame(const SessionStats& want, const SessionStats& got) {
  EXPECT_EQ(got.sessions, want.sessions);
  EXPECT_EQ(got.events, want.events);
  EXPECT_EQ(got.by_type, want.by_type);
  EXPECT_EQ(got.errors, want.errors);
  EXPECT_EQ(got.error_messages, want.error_messages);
  EXPECT_EQ(got.llm_requests, want.llm_requests);
  EXPECT_EQ(got.input_tokens.sum, want.input_tokens.sum);
  EXPECT_EQ(got.output_tokens.present, want.output_tokens.present);
  EXPECT_EQ(got.total_tokens.present, want.total_tokens.present);
  EXPECT_EQ(got.first_timestamp, want.first_timestamp);
  EXPECT_EQ(got.last_timestamp, want.last_timestamp);
  ASSERT_EQ(got.tools.size(), want.tools.size());
  for (size_t i = 0; i < want.tools.size(); ++i) {
    SCOPED_TRACE(want.tools[i].name);
    EXPECT_EQ(got.tools[i].name, want.tools[i].name);
    EXPECT_EQ(got.tools[i].calls, want.tools[i].calls);
    EXPECT_EQ(got.tools[i].errors, want.tools[i].errors);
    EXPECT_EQ(got.tools[i].latencies_ms, want.tools[i].latencies_ms);
    EXPECT_NEAR(got.tools[i].latency_sum_ms, want.tools[i].latency_sum_ms,
                1e-9 * want.tools[i].latency_sum_ms);
  }
}

class StatsCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = Log::Open(dir_.Sub("log"), testing::SmallLogOptions(nullptr, 16 << 10));
    ASSERT_OK(log);
    log_ = std::move(*log);
    for (const std::string& e : Events(4, 60)) ASSERT_OK(log_->Append(e));
    ASSERT_GT(log_->SnapshotSegments().size(), 5u);
  }
  absl::StatusOr<SessionStats> Whole(StatsCacheReport* report) {
    QueryEngine engine(log_.get());
    return WholeLogStats(log_.get(), &engine, nullptr, report);
  }
  std::string CachePath() const { return dir_.Sub("log/stats.cache"); }

  TempDir dir_;
  std::unique_ptr<Log> log_;
};

TEST_F(StatsCacheTest, ColdWarmSealedAndGrownGiveTheFiguresOfOnePass) {
  const size_t segments = log_->SnapshotSegments().size();
  const SessionStats want = OnePass(log_.get());
  ASSERT_GT(want.tools[0].latencies_ms.size(), 50u);
  ASSERT_GT(want.errors, 10u);

  StatsCacheReport cold;
  auto got = Whole(&cold);
  ASSERT_OK(got);
  ExpectSame(want, *got);
  EXPECT_EQ(cold.segments_cached, 0u);
  EXPECT_EQ(cold.segments_read, segments);
  EXPECT_TRUE(cold.cache_written) << cold.cache_problem;
  // Errors two calls after their call, whose result came first in another
  // segment: paired from the log.
  EXPECT_GT(cold.sessions_paired_from_log, 0u);

  StatsCacheReport warm;
  got = Whole(&warm);
  ASSERT_OK(got);
  ExpectSame(want, *got);
  EXPECT_EQ(warm.segments_cached, segments - 1);  // all but the active one
  EXPECT_EQ(warm.segments_read, 1u);
  EXPECT_FALSE(warm.cache_written);

  // Sealed, the segments are other files (the cache names a raw segment by
  // its creation time, a sealed one by its event count and size): read
  // once more, then cached again.
  ASSERT_TRUE(log_->SealAll().ok());
  StatsCacheReport sealed;
  got = Whole(&sealed);
  ASSERT_OK(got);
  ExpectSame(want, *got);
  EXPECT_EQ(sealed.segments_cached, 0u);
  EXPECT_TRUE(sealed.cache_written);
  got = Whole(&sealed);
  ASSERT_OK(got);
  ExpectSame(want, *got);
  EXPECT_GE(sealed.segments_cached, segments - 1);

  // More events: new segments are read, the old ones still come from the cache.
  for (const std::string& e : Events(4, 40, /*first_call=*/60)) ASSERT_OK(log_->Append(e));
  const SessionStats grown = OnePass(log_.get());
  ASSERT_GT(grown.events, want.events);
  StatsCacheReport more;
  got = Whole(&more);
  ASSERT_OK(got);
  ExpectSame(grown, *got);
  EXPECT_GE(more.segments_cached, segments - 1);
  EXPECT_TRUE(more.cache_written);
}

TEST_F(StatsCacheTest, ADamagedOrForeignCacheIsRebuiltNeverBelieved) {
  const SessionStats want = OnePass(log_.get());
  StatsCacheReport first;
  ASSERT_OK(Whole(&first));
  std::string bytes = testing::ReadFileOrEmpty(CachePath());
  ASSERT_GT(bytes.size(), 100u);
  // A flipped bit in a partial: the checksum says so; the figures are still right.
  bytes[bytes.size() / 2] ^= 0x10;
  testing::WriteFileOrDie(CachePath(), bytes);
  StatsCacheReport damaged;
  auto got = Whole(&damaged);
  ASSERT_OK(got);
  ExpectSame(want, *got);
  EXPECT_TRUE(absl::StrContains(damaged.cache_problem, "checksum mismatch")) << damaged.cache_problem;
  EXPECT_EQ(damaged.segments_cached, 0u);
  EXPECT_TRUE(damaged.cache_written);
  // Not a cache at all, and a truncated one.
  for (const std::string& junk : {std::string("hello"), bytes.substr(0, 40)}) {
    testing::WriteFileOrDie(CachePath(), junk);
    StatsCacheReport r;
    got = Whole(&r);
    ASSERT_OK(got);
    ExpectSame(want, *got);
    EXPECT_FALSE(r.cache_problem.empty());
  }
}

// A reader's view can end with a sealed segment: during an import, it sees
// nothing from the import's first sequence on, and the segment before it
// was rolled and sealed. That segment is read whole (it once was read as
// empty, and cached so).
TEST_F(StatsCacheTest, AViewEndingWithASealedSegmentCountsItWhole) {
  auto import = log_->BeginImport();
  ASSERT_OK(import);
  for (const std::string& e : Events(2, 5, 100)) ASSERT_OK(log_->Append(e));
  ASSERT_TRUE(log_->SealBacklog(0).ok());
  LogOptions o = testing::SmallLogOptions(nullptr, 16 << 10);
  o.read_only = true;
  auto reader = Log::Open(dir_.Sub("log"), o);
  ASSERT_OK(reader);
  const std::vector<SegmentSnapshot> segments = (*reader)->SnapshotSegments();
  ASSERT_FALSE(segments.empty());
  ASSERT_NE(segments.back().sealed, nullptr) << "the view should end with a sealed segment";
  const SessionStats want = OnePass(reader->get());
  for (int run = 0; run < 2; ++run) {
    QueryEngine engine(reader->get());
    StatsCacheReport report;
    auto got = WholeLogStats(reader->get(), &engine, nullptr, &report);
    ASSERT_OK(got);
    ExpectSame(want, *got);
  }
}

TEST(StatsPartialTest, MalformedPartialsAreRefusedWhole) {
  SessionStatsBuilder b;
  b.Add(R"({"event_type":"tool_call","session_id":"s","event_id":"c1","data":{"tool_name":"Read"}})");
  b.Add(R"({"event_type":"tool_result","session_id":"s","parent_id":"c9","duration_ms":5,"data":{}})");
  const std::string partial = b.SerializePartial();
  SessionStatsBuilder into;
  ASSERT_TRUE(into.MergePartial(partial).ok());
  for (size_t cut = 0; cut < partial.size(); ++cut) {
    SessionStatsBuilder other;
    EXPECT_FALSE(other.MergePartial(partial.substr(0, cut)).ok()) << cut;
    EXPECT_EQ(std::move(other).Finish().events, 0u) << cut;
  }
  EXPECT_FALSE(SessionStatsBuilder().MergePartial(partial + "x").ok());
  const SessionStats s = std::move(into).Finish();
  EXPECT_EQ(s.events, 2u);
  ASSERT_EQ(s.tools.size(), 1u);
  EXPECT_EQ(s.tools[0].calls, 1u);
  EXPECT_TRUE(s.tools[0].latencies_ms.empty());  // c9 is no call of s
}

}  // namespace
}  // namespace tracelog

namespace tracelog {
namespace {

// format-spec/vectors/stats_cache.hex: a cache of one partial (segment
// 1..3): a Read call, its result (12.5 ms), an error naming a call of
// another segment. Regenerate with TRACELOG_WRITE_VECTORS=1 (and a version
// bump if the bytes change).
TEST(StatsCacheVectorTest, DecodesAsTheSpecSays) {
  if (std::getenv("TRACELOG_WRITE_VECTORS") != nullptr) {
    TempDir dir;
    auto log = Log::Open(dir.Sub("log"), testing::SmallLogOptions());
    ASSERT_OK(log);
    for (const char* e :
         {R"({"event_type":"tool_call","session_id":"s","event_id":"c1","data":{"tool_name":"Read"}})",
          R"({"event_type":"tool_result","session_id":"s","parent_id":"c1","duration_ms":12.5,"data":{}})",
          R"({"event_type":"error","session_id":"s","parent_id":"c9","data":{"message":"boom"}})"}) {
      ASSERT_OK((*log)->Append(e));
    }
    ASSERT_TRUE((*log)->SealAll().ok());
    QueryEngine engine(log->get());
    ASSERT_OK(WholeLogStats(log->get(), &engine, nullptr));
    testing::WriteHex("stats_cache.hex",
                      "stats.cache: one partial, segment 1..3 (Read call, its 12.5 ms result, an "
                      "error naming call c9 elsewhere)",
                      testing::ReadFileOrEmpty(dir.Sub("log/stats.cache")));
  }
  const std::string bytes = testing::ReadHex("stats_cache.hex");
  EXPECT_EQ(bytes.substr(0, 8), std::string("TLSTATS\0", 8));
  auto entries = DecodeStatsCache(bytes);
  ASSERT_OK(entries);
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ(entries->begin()->first, 1u);
  EXPECT_EQ(entries->begin()->second.last_sequence, 3u);
  EXPECT_EQ(entries->begin()->second.identity, (std::array<uint64_t, 2>{3, 390}));
  SessionStatsBuilder b;
  ASSERT_TRUE(b.MergePartial(entries->begin()->second.partial).ok());
  EXPECT_EQ(b.UnpairedSessions(), std::vector<std::string>{"s"});
  const SessionStats s = std::move(b).Finish();
  EXPECT_EQ(s.events, 3u);
  EXPECT_EQ(s.sessions, 1u);
  ASSERT_EQ(s.tools.size(), 1u);
  EXPECT_EQ(s.tools[0].name, "Read");
  EXPECT_EQ(s.tools[0].latencies_ms, std::vector<double>{12.5});
  EXPECT_EQ(s.tools[0].errors, 0u);
  EXPECT_EQ(s.errors, 1u);
  EXPECT_EQ((s.error_messages), (std::vector<std::pair<std::string, uint64_t>>{{"boom", 1}}));
  // A flipped byte anywhere: refused.
  for (size_t i = 0; i < bytes.size(); i += 7) {
    std::string bad = bytes;
    bad[i] ^= 1;
    EXPECT_FALSE(DecodeStatsCache(bad).ok()) << i;
  }
}

}  // namespace
}  // namespace tracelog
