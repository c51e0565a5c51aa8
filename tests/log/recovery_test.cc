// Recovery under real faults (issue 14): failed syncs that the kernel
// forgets, damage in any segment, and the rule that a sequence number is
// never given to two events.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/log/log.h"
#include "engine/io/fault_file_system.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::FaultInjectionFileSystem;
using ::tracelog::testing::MakeEvent;
using DropMode = FaultInjectionFileSystem::DropMode;

constexpr char kDir[] = "/log";

class RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(fs_.CreateDir(kDir)); }

  LogOptions Options(SyncPolicy::Kind kind, uint64_t segment_size = 64 << 10) {
    LogOptions o;
    o.fs = &fs_;
    o.segment_size = segment_size;
    o.sync.kind = kind;
    o.sync.value = kind == SyncPolicy::Kind::kInterval ? 10 : 0;
    o.prefault_bytes = 0;
    o.seal_on_roll = false;
    return o;
  }

  std::unique_ptr<Log> OpenOrDie(SyncPolicy::Kind kind, uint64_t segment_size = 64 << 10) {
    auto log = Log::Open(kDir, Options(kind, segment_size));
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }

  // The process dies: the disk stops taking writes, the Log is destroyed
  // without a clean close. The page cache (the in-memory files) survives.
  void KillProcess(std::unique_ptr<Log> log) {
    fs_.SetAllFail(true);
    log.reset();
    fs_.SetAllFail(false);
  }

  struct Read {
    std::vector<uint64_t> sequences;
    std::vector<std::string> ids;  // event_id of each event (short to print)
    std::vector<std::string> events;
    std::vector<Corruption> damage;
  };
  static Read ReadAll(Log* log) {
    Read out;
    ReaderOptions o;
    o.reporter = [&](const Corruption& c) { out.damage.push_back(c); };
    auto r = log->NewReader(o);
    LogEvent ev;
    while (r->Next(&ev)) {
      out.sequences.push_back(ev.sequence);
      out.ids.emplace_back(ev.keys.event_id);
      out.events.emplace_back(ev.event);
    }
    return out;
  }

  FaultInjectionFileSystem fs_;
};

// fsyncgate: after a failed fdatasync, ext4 and XFS mark the dirty pages
// clean without writing them. The page cache still shows the bytes, so a
// reopen that trusts them, and syncs only what is dirty, leaves a hole on
// disk that exists nowhere in memory: events acknowledged as durable after
// the reopen sit behind it and are lost with the next power failure.
TEST_F(RecoveryTest, FailedSyncIsNotForgottenOnReopen) {
  fs_.SetSyncFailureForgets(true);
  {
    std::unique_ptr<Log> log = OpenOrDie(SyncPolicy::Kind::kAlways);
    ASSERT_OK(log->Append(MakeEvent(1)));
    fs_.FailNextSync(absl::DataLossError("fdatasync: Input/output error (injected)"));
    // Large enough to cover pages that no later write touches again.
    EXPECT_FALSE(log->Append(MakeEvent(2, "s1", 3 * 4096)).ok());
    KillProcess(std::move(log));
  }
  std::vector<std::string> before_power_loss;
  {
    std::unique_ptr<Log> log = OpenOrDie(SyncPolicy::Kind::kAlways);
    ASSERT_OK(log->Append(MakeEvent(3)));  // acknowledged: durable
    ASSERT_OK(log->Sync());
    before_power_loss = ReadAll(log.get()).ids;
    ASSERT_OK(log->Close());
  }
  // The failed append may come back (its outcome was unknown), but then as
  // durable as the rest: everything the log held after the reopen survives.
  ASSERT_EQ(before_power_loss, (std::vector<std::string>{"e1", "e2", "e3"}));
  fs_.DropUnsyncedData(DropMode::kUnsynced, 1);
  std::unique_ptr<Log> log = OpenOrDie(SyncPolicy::Kind::kAlways);
  Read got = ReadAll(log.get());
  EXPECT_EQ(got.ids, before_power_loss);
  EXPECT_TRUE(got.damage.empty()) << got.damage[0].ToString();
}

// The same under `never`: an explicit sync fails; the events were
// acknowledged (in the page cache); after the reopen a Sync() that succeeds
// makes all of them durable.
TEST_F(RecoveryTest, AcknowledgedEventsOfAFailedSyncBecomeDurableAfterReopen) {
  fs_.SetSyncFailureForgets(true);
  const std::vector<std::string> acked = {"e1", "e2", "e3"};
  {
    std::unique_ptr<Log> log = OpenOrDie(SyncPolicy::Kind::kNever);
    ASSERT_OK(log->Append(MakeEvent(1)));
    ASSERT_OK(log->Sync());
    ASSERT_OK(log->Append(MakeEvent(2, "s1", 3 * 4096)));
    fs_.FailNextSync(absl::DataLossError("fdatasync: Input/output error (injected)"));
    EXPECT_FALSE(log->Sync().ok());
    KillProcess(std::move(log));
  }
  {
    std::unique_ptr<Log> log = OpenOrDie(SyncPolicy::Kind::kNever);
    ASSERT_OK(log->Append(MakeEvent(3)));
    ASSERT_OK(log->Sync());  // everything appended so far is durable
    KillProcess(std::move(log));
  }
  fs_.DropUnsyncedData(DropMode::kUnsynced, 2);
  std::unique_ptr<Log> log = OpenOrDie(SyncPolicy::Kind::kNever);
  Read got = ReadAll(log.get());
  EXPECT_EQ(got.ids, acked);
  EXPECT_TRUE(got.damage.empty()) << got.damage[0].ToString();
}

}  // namespace
}  // namespace tracelog
