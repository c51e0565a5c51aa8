#include "engine/workload/workload.h"

#include <map>
#include <set>
#include <string>

#include "engine/format/event_keys.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

std::vector<std::string> Generate(const WorkloadOptions& o) { return testing::FleetLines(o); }

TEST(WorkloadTest, SameSeedSameBytesOtherSeedOtherBytes) {
  WorkloadOptions o;
  o.sessions = 20;
  EXPECT_EQ(Generate(o), Generate(o));
  WorkloadOptions p = o;
  p.seed = 2;
  EXPECT_NE(Generate(o), Generate(p));
}

TEST(WorkloadTest, FleetStreamIsTimeOrderedWithAllTypesAndLinks) {
  WorkloadOptions o;
  o.sessions = 60;
  o.agents = 7;
  const auto lines = Generate(o);
  EventKeyExtractor ex;
  std::set<std::string> types, sessions, ids;
  std::map<std::string, std::string> type_of;
  double last_ts = 0;
  size_t linked = 0;
  for (const auto& l : lines) {
    EventKeys k;
    ASSERT_TRUE(ex.Extract(l, &k).ok()) << l;
    ASSERT_TRUE(k.has_timestamp);
    EXPECT_GE(k.timestamp, last_ts);
    last_ts = k.timestamp;
    types.insert(std::string(k.event_type));
    sessions.insert(std::string(k.session_id));
    EXPECT_TRUE(ids.insert(std::string(k.event_id)).second) << "duplicate id " << k.event_id;
    type_of[std::string(k.event_id)] = std::string(k.event_type);
    if (!k.parent_id.empty()) {
      // Parents come before children and results point at calls.
      ASSERT_TRUE(type_of.count(std::string(k.parent_id))) << l;
      if (k.event_type == "tool_result") {
        EXPECT_EQ(type_of[std::string(k.parent_id)], "tool_call");
      }
      ++linked;
    }
    for (unsigned char c : l) ASSERT_LT(c, 0x80) << "ensure_ascii output must be ASCII";
  }
  EXPECT_EQ(types.size(), 12u);
  EXPECT_EQ(sessions.size(), 60u);
  EXPECT_GT(linked, lines.size() / 5);
}

TEST(WorkloadTest, SizesLookLikeRealTraces) {
  WorkloadOptions o;
  o.sessions = 300;
  auto lines = Generate(o);
  std::vector<size_t> sizes;
  for (const auto& l : lines) sizes.push_back(l.size());
  std::sort(sizes.begin(), sizes.end());
  const size_t median = sizes[sizes.size() / 2];
  EXPECT_GT(median, 450u);
  EXPECT_LT(median, 1000u);
  EXPECT_GT(sizes.back(), 20000u);  // a heavy tail
}

}  // namespace
}  // namespace tracelog
