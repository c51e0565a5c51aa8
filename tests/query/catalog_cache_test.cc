// catalog.cache: the catalog read through it equals the one made from the
// segments alone, cold and warm, as the log grows, after sealing and
// retention, and with a damaged or foreign cache.

#include "engine/query/catalog_cache.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "engine/log/log.h"
#include "engine/query/query.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::testing::TempDir;

std::string Event(int i) {
  const int session = i % 9;
  const char* types[] = {"tool_call", "tool_result", "llm_request", "error", "decision"};
  if (i < 9) {
    return absl::StrFormat(
        R"({"event_type":"session_start","timestamp":%d,"session_id":"s%d","data":{"agent_name":"agent-%d"}})",
        1000 + i, session, session % 3);
  }
  return absl::StrFormat(
      R"({"event_type":"%s","timestamp":%d,"session_id":"s%d","data":{"tool_name":"Bash","pad":"%s"}})",
      types[i % 5], 1000 + i, session, std::string(200, 'x'));
}

void ExpectSameCatalog(const std::vector<CatalogEntry>& want, const std::vector<CatalogEntry>& got) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(want[i].id);
    EXPECT_EQ(got[i].id, want[i].id);
    EXPECT_EQ(got[i].agent, want[i].agent);
    EXPECT_EQ(got[i].parent, want[i].parent);
    EXPECT_EQ(got[i].events, want[i].events);
    EXPECT_EQ(got[i].tool_calls, want[i].tool_calls);
    EXPECT_EQ(got[i].errors, want[i].errors);
    EXPECT_EQ(got[i].first_timestamp, want[i].first_timestamp);
    EXPECT_EQ(got[i].last_timestamp, want[i].last_timestamp);
    EXPECT_EQ(got[i].types, want[i].types);
    EXPECT_EQ(got[i].segments, want[i].segments);
  }
}

class CatalogCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Rolled segments stay raw until SealAll: a cache of fewer segments
    // then still matches the first ones (a background seal would make
    // them other files, and the cache would be rebuilt whole).
    LogOptions o = testing::SmallLogOptions(nullptr, 16 << 10);
    o.seal_on_roll = false;
    auto log = Log::Open(dir_.Sub("log"), o);
    ASSERT_OK(log);
    log_ = std::move(*log);
    Append(0, 300);
  }
  void Append(int from, int to) {
    for (int i = from; i < to; ++i) ASSERT_OK(log_->Append(Event(i)));
  }
  std::vector<CatalogEntry> Catalog() {
    QueryEngine engine(log_.get());
    auto c = engine.Catalog();
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : std::vector<CatalogEntry>{};
  }
  // The catalog made from the segments alone (the cache set aside, then
  // put back as it was).
  std::vector<CatalogEntry> Uncached() {
    const std::string kept = testing::ReadFileOrEmpty(CachePath());
    std::remove(CachePath().c_str());
    auto c = Catalog();
    std::remove(CachePath().c_str());
    if (!kept.empty()) testing::WriteFileOrDie(CachePath(), kept);
    return c;
  }
  std::string CachePath() const { return dir_.Sub("log/catalog.cache"); }

  TempDir dir_;
  std::unique_ptr<Log> log_;
};

TEST_F(CatalogCacheTest, ThroughTheCacheAsFromTheSegments) {
  ASSERT_GT(log_->SnapshotSegments().size(), 4u);
  std::vector<CatalogEntry> want = Uncached();
  ASSERT_EQ(want.size(), 9u);
  ExpectSameCatalog(want, Catalog());  // writes the cache
  ASSERT_FALSE(testing::ReadFileOrEmpty(CachePath()).empty());
  ExpectSameCatalog(want, Catalog());  // reads it

  // More events, in the active segment and in new ones (a session too).
  Append(300, 420);
  ASSERT_OK(log_->Append(
      R"({"event_type":"session_start","timestamp":5000,"session_id":"new","data":{"agent_name":"n"}})"));
  want = Uncached();
  ASSERT_EQ(want.size(), 10u);
  ExpectSameCatalog(want, Catalog());  // a cache of fewer segments: extended
  ExpectSameCatalog(want, Catalog());
  Append(420, 430);  // the active segment only
  want = Uncached();
  Catalog();
  ExpectSameCatalog(want, Catalog());

  // Sealing makes other files: not matched, rebuilt.
  ASSERT_TRUE(log_->SealAll().ok());
  want = Uncached();
  Catalog();
  ExpectSameCatalog(want, Catalog());
  // Retention removes the first segments: the cache no longer matches.
  RetainOptions r;
  r.max_bytes = 1;
  auto retained = log_->Retain(r);
  ASSERT_OK(retained);
  ASSERT_GT(retained->removed.size(), 0u);
  want = Uncached();
  Catalog();
  ExpectSameCatalog(want, Catalog());
}

TEST_F(CatalogCacheTest, ADamagedOrForeignCacheIsNotBelieved) {
  const std::vector<CatalogEntry> want = Uncached();
  Catalog();
  std::string bytes = testing::ReadFileOrEmpty(CachePath());
  ASSERT_GT(bytes.size(), 64u);
  for (size_t at : {size_t{3}, size_t{20}, bytes.size() / 2, bytes.size() - 3}) {
    std::string bad = bytes;
    bad[at] ^= 0x40;
    EXPECT_FALSE(DecodeCatalogCache(bad).ok()) << at;
    testing::WriteFileOrDie(CachePath(), bad);
    ExpectSameCatalog(want, Catalog());
  }
  // Whole, but of other segments (identities that do not match): unused.
  auto cache = DecodeCatalogCache(bytes);
  ASSERT_OK(cache);
  for (SegmentKey& k : cache->segments) k.identity[0] ^= 1;
  cache->entries.resize(1);
  testing::WriteFileOrDie(CachePath(), EncodeCatalogCache(*cache));
  ExpectSameCatalog(want, Catalog());
  // Every truncation is refused.
  for (size_t cut = 0; cut < bytes.size(); cut += 97) {
    EXPECT_FALSE(DecodeCatalogCache(bytes.substr(0, cut)).ok()) << cut;
  }
}

// The smallest entry (a session whose events have no session_id, no
// agent, no types, no segments) is 25 bytes; a cache of only such entries
// decodes (the count's bound once assumed 26: found by fuzz_catalog_cache).
TEST(CatalogCacheFormatTest, TheSmallestEntriesDecode) {
  CatalogCache cache;
  cache.segments.push_back(SegmentKey{1, 5, {5, 999}});
  cache.entries.resize(2);
  cache.entries[1].id = "x";
  const std::string bytes = EncodeCatalogCache(cache);
  auto back = DecodeCatalogCache(bytes);
  ASSERT_OK(back);
  ASSERT_EQ(back->entries.size(), 2u);
  EXPECT_EQ(back->entries[0].id, "");
  EXPECT_EQ(back->entries[1].id, "x");
  EXPECT_EQ(back->segments[0], cache.segments[0]);
}

// format-spec/vectors/catalog_cache.hex: the catalog cache of a log of two
// events of session "s" (agent "a"), sealed. Regenerate with
// TRACELOG_WRITE_VECTORS=1 (and a version bump if the bytes change).
TEST(CatalogCacheVectorTest, DecodesAsTheSpecSays) {
  if (std::getenv("TRACELOG_WRITE_VECTORS") != nullptr) {
    TempDir dir;
    auto log = Log::Open(dir.Sub("log"), testing::SmallLogOptions());
    ASSERT_OK(log);
    ASSERT_OK((*log)->Append(
        R"({"event_type":"session_start","timestamp":100.5,"session_id":"s","data":{"agent_name":"a"}})"));
    ASSERT_OK((*log)->Append(
        R"({"event_type":"tool_call","timestamp":101.5,"session_id":"s","data":{"tool_name":"Bash"}})"));
    ASSERT_TRUE((*log)->SealAll().ok());
    QueryEngine engine(log->get());
    ASSERT_OK(engine.Catalog());
    testing::WriteHex("catalog_cache.hex",
                      "catalog.cache: one sealed segment (1..2), session s of agent a: "
                      "session_start at 100.5, tool_call at 101.5",
                      testing::ReadFileOrEmpty(dir.Sub("log/catalog.cache")));
  }
  const std::string bytes = testing::ReadHex("catalog_cache.hex");
  EXPECT_EQ(bytes.substr(0, 8), std::string("TLCATLG\0", 8));
  auto cache = DecodeCatalogCache(bytes);
  ASSERT_OK(cache);
  ASSERT_EQ(cache->segments.size(), 1u);
  EXPECT_EQ(cache->segments[0].base, 1u);
  EXPECT_EQ(cache->segments[0].last, 2u);
  EXPECT_EQ(cache->segments[0].identity[0], 2u);  // events
  ASSERT_EQ(cache->entries.size(), 1u);
  const CatalogEntry& e = cache->entries[0];
  EXPECT_EQ(e.id, "s");
  EXPECT_EQ(e.agent, "a");
  EXPECT_EQ(e.events, 2u);
  EXPECT_EQ(e.tool_calls, 1u);
  EXPECT_EQ(e.errors, 0u);
  EXPECT_EQ(e.first_timestamp, 100.5);
  EXPECT_EQ(e.last_timestamp, 101.5);
  EXPECT_EQ(e.Count("session_start"), 1u);
  EXPECT_EQ(e.Count("tool_call"), 1u);
  EXPECT_EQ(e.segments, std::vector<uint64_t>{1});
  EXPECT_EQ(EncodeCatalogCache(*cache), bytes);
}

}  // namespace
}  // namespace tracelog
