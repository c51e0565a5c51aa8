// Retention (Log::Retain): old sealed segments go, oldest first, never a
// raw one; a crash part way leaves a log without a gap; and a reader that
// listed a segment retention then removed is not damaged by it. (Moved
// from tests/seal/seal_test.cc and tests/log/recovery_test.cc.)

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/format/sealed_format.h"
#include "engine/io/fault_file_system.h"
#include "engine/log/log.h"
#include "engine/seal/block_codec.h"
#include "engine/seal/sealed_segment.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::FaultInjectionFileSystem;
using ::tracelog::testing::AppendAll;
using ::tracelog::testing::FilesIn;
using ::tracelog::testing::FleetEvents;
using ::tracelog::testing::MakeEvent;
using ::tracelog::testing::SmallSealingOptions;
using ::tracelog::testing::TempDir;
using ::tracelog::testing::WriteLog;

// Every event, in order and with no gap; the damage count in *corruptions.
std::vector<std::string> EventsOf(Log* log, uint64_t* corruptions = nullptr) {
  return testing::ReadAll(
      log, {.corruptions = corruptions, .sequences = testing::Sequences::kConsecutive});
}

TEST(RetainTest, RemovesOldSealedSegmentsOldestFirstAndNeverARawOne) {
  TempDir dir;
  const std::vector<std::string> events = FleetEvents(30);
  auto log = Log::Open(dir.Sub("log"), SmallSealingOptions());
  ASSERT_OK(log);
  AppendAll(log->get(), events);
  ASSERT_OK((*log)->SealAll());
  AppendAll(log->get(), {events.back()});  // the active segment holds an event
  const LogStats before = (*log)->Stats();
  // The newest event of each sealed segment, from the events themselves.
  BlockCodec codec;
  std::vector<SegmentSnapshot> segs = (*log)->SnapshotSegments();
  ASSERT_GE(segs.size(), 4u);
  auto newest = [&](const SegmentSnapshot& s) {
    auto index = s.sealed->Index(&codec);
    double t = 0;
    for (const BlockSummary& b : (*index)->blocks) t = std::max(t, b.max_timestamp);
    return t;
  };
  // "now" such that exactly the first two segments are older than an hour.
  RetainOptions r;
  r.max_age_seconds = 3600;
  r.now = (newest(segs[1]) + newest(segs[2])) / 2 + 3600;
  ASSERT_LT(newest(segs[1]), newest(segs[2]));
  auto res = (*log)->Retain(r);
  ASSERT_OK(res);
  EXPECT_EQ(res->removed.size(), 2u);
  const uint64_t first = segs[2].base;
  EXPECT_EQ((*log)->Stats().first_sequence, first);
  std::vector<std::string> expect(events.begin() + (first - 1), events.end());
  expect.push_back(events.back());
  EXPECT_EQ(EventsOf(log->get()), expect);
  // By size: everything sealed goes, the active segment stays.
  RetainOptions all;
  all.max_bytes = 1;
  auto res2 = (*log)->Retain(all);
  ASSERT_OK(res2);
  EXPECT_EQ(res2->removed.size(), before.sealed_segments - 2);
  EXPECT_EQ(EventsOf(log->get()), std::vector<std::string>{events.back()});
  EXPECT_TRUE(FilesIn(dir.Sub("log"), ".sealed").empty());
  EXPECT_TRUE(FilesIn(dir.Sub("log"), ".idx").empty());
  ASSERT_OK((*log)->Append(events[0]));
  ASSERT_OK((*log)->Close());
  auto again = Log::Open(dir.Sub("log"), SmallSealingOptions());
  ASSERT_OK(again);
  EXPECT_EQ(EventsOf(again->get()), (std::vector<std::string>{events.back(), events[0]}));
  EXPECT_EQ((*again)->Stats().last_sequence, events.size() + 2);
}

TEST(RetainTest, ACrashDuringRetentionLeavesAGapFreeLog) {
  const std::vector<std::string> events = FleetEvents(12);
  for (uint64_t step = 0; step < 12; ++step) {
    SCOPED_TRACE(absl::StrCat("crash at step ", step));
    FaultInjectionFileSystem fs;
    ASSERT_OK(fs.CreateDir("/log"));
    LogOptions o = SmallSealingOptions(&fs);
    o.segment_size = 16 << 10;
    ASSERT_NO_FATAL_FAILURE(WriteLog("/log", o, events, /*seal=*/true));
    {
      auto log = Log::Open("/log", o);
      ASSERT_OK(log);
      fs.FailAfter(step);
      RetainOptions r;
      r.max_bytes = 1;
      (*log)->Retain(r).IgnoreError();
      log->reset();
    }
    fs.SetAllFail(false);
    fs.DropUnsyncedData(FaultInjectionFileSystem::DropMode::kUnsynced, step);
    auto log = Log::Open("/log", o);
    ASSERT_OK(log);
    uint64_t corruptions = 1;
    const std::vector<std::string> got = EventsOf(log->get(), &corruptions);
    EXPECT_EQ(corruptions, 0u);
    // What is left is a suffix of what was appended.
    ASSERT_LE(got.size(), events.size());
    EXPECT_TRUE(std::equal(got.begin(), got.end(), events.end() - got.size()));
    EXPECT_EQ((*log)->Stats().last_sequence, events.size());
  }
}

// The fixture of tests/log/recovery_test.cc (the same class: gtest keys a
// test suite by its fixture's type).
using RecoveryTest = ::tracelog::testing::FaultFsLogTest;

// A segment that the writer's retention removed after a reader in another
// process listed the directory is not damage: the reader skips it quietly.
TEST_F(RecoveryTest, ASegmentRetentionRemovedIsNotDamageToAnOlderReader) {
  std::unique_ptr<Log> writer = OpenOrDie(SyncPolicy::Kind::kNever, 16 << 10);
  for (int i = 1; i <= 300; ++i) ASSERT_OK(writer->Append(MakeEvent(i, "s", 100)));
  ASSERT_OK(writer->SealAll());
  LogOptions o = Options(SyncPolicy::Kind::kNever, 16 << 10);
  o.read_only = true;
  auto reader = Log::Open(kDir, o);  // lists every sealed segment
  ASSERT_OK(reader);
  RetainOptions r;
  r.max_bytes = 1;
  auto retained = writer->Retain(r);
  ASSERT_OK(retained);
  ASSERT_GT(retained->removed.size(), 2u);
  Read got = ReadAll(reader->get());
  EXPECT_TRUE(got.damage.empty()) << got.damage[0].ToString();
  EXPECT_TRUE(got.events.empty());  // every event was in a removed segment
}

}  // namespace
}  // namespace tracelog
