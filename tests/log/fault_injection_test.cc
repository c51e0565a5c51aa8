// The log over a file system that loses unsynced data, tears tails and fails
// writes and syncs on demand (tests/testutil/fault_file_system.h).

#include <pthread.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/log/log.h"
#include "engine/io/fault_file_system.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::FaultInjectionFileSystem;
using ::tracelog::testing::MakeEvent;
using DropMode = FaultInjectionFileSystem::DropMode;

constexpr char kDir[] = "/log";

// Whether the calling thread is the log's zero-ahead thread.
bool IsZeroAheadThread() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof(name));
  return absl::string_view(name) == "tracelog-zero";
}

// Whether `path` is a segment's: its file keeps the name it was created
// under (`.seg.tmp`).
bool IsSegment(const std::string& path) { return absl::StrContains(path, ".seg"); }

// A random seed, or $TRACELOG_TEST_SEED to replay a failure.
uint64_t Seed() {
  if (const char* s = std::getenv("TRACELOG_TEST_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// What every test here shares: a fresh in-memory file system with the log
// directory, small segments, and the ways a process can die.
class FaultLogTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(fs_.CreateDir(kDir)); }

  // Small segments that seal as they roll.
  LogOptions Options(SyncPolicy::Kind kind, uint64_t value = 0) {
    LogOptions o = testing::SmallLogOptions(&fs_, 8 << 10, kind, value);
    o.seal_on_roll = true;
    return o;
  }

  // The process dies: the disk stops taking writes and the Log is destroyed
  // without a clean close. The page cache (the in-memory files) survives.
  void KillProcess(std::unique_ptr<Log> log) {
    fs_.SetAllFail(true);
    log.reset();
    fs_.SetAllFail(false);
  }

  FaultInjectionFileSystem fs_;
};

class FaultInjectionTest : public FaultLogTest, public ::testing::WithParamInterface<DropMode> {
 protected:
  // Simulates power loss: the process dies and whatever was not synced is
  // lost or torn.
  void Crash(std::unique_ptr<Log> log, uint64_t seed) {
    KillProcess(std::move(log));
    fs_.DropUnsyncedData(GetParam(), seed);
  }

  // Every event a fresh reader returns, by sequence. Sequences increase;
  // after a crash that may have lost events they may skip numbers (never
  // reuse one), but recovery leaves no damage behind.
  std::map<uint64_t, std::string> ReadAll(Log* log) {
    uint64_t corruptions = 0;
    std::vector<Corruption> damage;
    std::map<uint64_t, std::string> out =
        testing::ReadAllBySequence(log, {.corruptions = &corruptions,
                                         .damage = &damage,
                                         .sequences = testing::Sequences::kIncreasing});
    for (const Corruption& c : damage) ADD_FAILURE() << "damage: " << c.ToString();
    EXPECT_EQ(corruptions, 0u) << "recovery must leave no damage behind";
    return out;
  }

  void AlwaysRounds(bool zero_ahead);
};

// The oracle: what was acknowledged at which sequence, and what is durable.
// What survives a crash holds every durable event, each at its own
// sequence; an event that was not durable may be lost (and then its number
// is never given again: appends after a crash get sequences above every one
// ever handed out).
struct Oracle {
  std::map<uint64_t, std::string> acked;
  uint64_t durable = 0;      // every acked sequence <= this is durable
  uint64_t highest = 0;      // highest sequence ever handed out

  void Check(const std::map<uint64_t, std::string>& got, const std::string& when) {
    for (const auto& [seq, event] : got) {
      auto it = acked.find(seq);
      ASSERT_TRUE(it != acked.end()) << when << ": sequence " << seq << " was never acknowledged";
      ASSERT_EQ(event, it->second) << when << ": sequence " << seq;
    }
    for (const auto& [seq, event] : acked) {
      if (seq > durable) break;
      ASSERT_TRUE(got.count(seq)) << when << ": durable sequence " << seq << " lost";
    }
    acked = got;  // the rest was not durable: lost, allowed
  }
  void Acked(uint64_t seq, std::string event) {
    EXPECT_GT(seq, highest) << "sequence " << seq << " handed out twice";
    highest = seq;
    acked.emplace(seq, std::move(event));
  }
};

TEST_P(FaultInjectionTest, EverySyncedEventSurvivesPowerLoss) {
  const uint64_t seed = Seed();
  std::mt19937_64 rng(seed);
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  Oracle oracle;
  for (int round = 0; round < 20; ++round) {
    auto log = Log::Open(kDir, Options(SyncPolicy::Kind::kNever));
    ASSERT_OK(log);
    oracle.Check(ReadAll(log->get()), absl::StrCat("round ", round));
    const int n = 1 + rng() % 60;
    for (int i = 0; i < n; ++i) {
      std::string e = MakeEvent(oracle.highest + 1, "s", rng() % 600);
      auto seq = (*log)->Append(e);
      ASSERT_OK(seq);
      oracle.Acked(*seq, e);
      if (rng() % 10 == 0) {
        ASSERT_OK((*log)->Sync());
        oracle.durable = *seq;
      }
    }
    Crash(std::move(*log), rng());
  }
}

// Rounds of appends under `always`, each ended by power loss. With
// `zero_ahead`, the log's zero-ahead thread (LogTuning::zero_ahead_bytes)
// writes and syncs zeros ahead of the writer while it appends.
void FaultInjectionTest::AlwaysRounds(bool zero_ahead) {
  const uint64_t seed = Seed();
  std::mt19937_64 rng(seed);
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  fs_.SetAllocatesUnwritten(zero_ahead);
  std::atomic<uint64_t> zero_writes{0};
  fs_.SetWriteHook([&](const std::string&) { zero_writes += IsZeroAheadThread(); });
  Oracle oracle;
  for (int round = 0; round < 10; ++round) {
    LogOptions options = Options(SyncPolicy::Kind::kAlways);
    options.tuning.zero_ahead_bytes = 1 + rng() % (6 << 10);  // within the 8 KiB segments
    auto log = Log::Open(kDir, options);
    ASSERT_OK(log);
    const size_t before = oracle.acked.size();
    oracle.Check(ReadAll(log->get()), absl::StrCat("round ", round));
    ASSERT_EQ(oracle.acked.size(), before) << "round " << round << ": an acknowledged event is lost";
    const int n = 1 + rng() % 40;
    for (int i = 0; i < n; ++i) {
      std::string e = MakeEvent(oracle.highest + 1, "s", rng() % 900);
      auto seq = (*log)->Append(e);
      ASSERT_OK(seq);
      oracle.Acked(*seq, e);
      oracle.durable = *seq;
    }
    // The zero-ahead thread is not scheduled at once on a busy machine: the
    // last round waits for it if it has not written yet.
    for (int i = 0; zero_ahead && round == 9 && zero_writes.load() == 0 && i < 5000; ++i) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    Crash(std::move(*log), rng());
  }
  fs_.SetWriteHook(nullptr);
  if (zero_ahead) {
    EXPECT_GT(zero_writes.load(), 0u) << "the zero-ahead thread never wrote";
  } else {
    EXPECT_EQ(zero_writes.load(), 0u) << "zeros written ahead where the blocks are written";
  }
}

TEST_P(FaultInjectionTest, AlwaysPolicyLosesNothingAcknowledged) { AlwaysRounds(false); }

TEST_P(FaultInjectionTest, AlwaysPolicyWithZerosWrittenAheadLosesNothingAcknowledged) {
  AlwaysRounds(true);
}

TEST_P(FaultInjectionTest, BytesPolicyBoundsTheLoss) {
  const uint64_t seed = Seed();
  std::mt19937_64 rng(seed);
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  auto log = Log::Open(kDir, Options(SyncPolicy::Kind::kBytes, 2000));
  ASSERT_OK(log);
  std::vector<std::string> written;
  for (int i = 0; i < 100; ++i) {
    written.push_back(MakeEvent(i, "s", rng() % 300));
    ASSERT_OK((*log)->Append(written.back()));
  }
  Crash(std::move(*log), rng());
  auto reopened = Log::Open(kDir, Options(SyncPolicy::Kind::kNever));
  ASSERT_OK(reopened);
  auto got = ReadAll(reopened->get());
  size_t lost_bytes = 0;
  for (size_t i = got.size(); i < written.size(); ++i) lost_bytes += written[i].size() + 64;
  EXPECT_LT(lost_bytes, 2000u + 1000u) << got.size() << " of " << written.size() << " kept";
}

INSTANTIATE_TEST_SUITE_P(DropModes, FaultInjectionTest,
                         ::testing::Values(DropMode::kUnsynced, DropMode::kTornTail,
                                           DropMode::kRandomPages),
                         [](const ::testing::TestParamInfo<DropMode>& info) {
                           switch (info.param) {
                             case DropMode::kUnsynced: return std::string("DropUnsynced");
                             case DropMode::kTornTail: return std::string("TornTail");
                             case DropMode::kRandomPages: return std::string("RandomPages");
                           }
                           return std::string("Unknown");
                         });

using FaultInjectionSimpleTest = FaultLogTest;

TEST_F(FaultInjectionSimpleTest, FailedSyncPutsTheLogIntoAFailedState) {
  auto log = Log::Open(kDir, Options(SyncPolicy::Kind::kAlways));
  ASSERT_OK(log);
  ASSERT_OK((*log)->Append(MakeEvent(0)));
  fs_.FailNextSync(absl::DataLossError("fdatasync: Input/output error (injected)"));
  auto failed = (*log)->Append(MakeEvent(1));
  EXPECT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("failed state"), absl::string_view::npos);
  // No retry-and-hope: later calls keep failing even though the disk is fine now.
  EXPECT_FALSE((*log)->Append(MakeEvent(2)).ok());
  EXPECT_FALSE((*log)->Sync().ok());
  EXPECT_FALSE((*log)->Close().ok());
  log->reset();
  // Reopening recovers; event 0 was durable.
  auto again = Log::Open(kDir, Options(SyncPolicy::Kind::kAlways));
  ASSERT_OK(again);
  auto r = (*again)->NewReader(ReaderOptions{});
  LogEvent ev;
  ASSERT_TRUE(r->Next(&ev));
  EXPECT_EQ(ev.event, MakeEvent(0));
  ASSERT_OK((*again)->Append(MakeEvent(3)));
}

// The zero-ahead thread's sync may be the one that learns of a write-back
// error on pages the writer appended: the kernel reports it once, so the
// log must fail as if the writer's own sync had failed, and keep what was
// acknowledged.
TEST_F(FaultInjectionSimpleTest, FailedSyncOfZerosWrittenAheadPutsTheLogIntoAFailedState) {
  {
    auto log = Log::Open(kDir, Options(SyncPolicy::Kind::kAlways));
    ASSERT_OK(log);
    for (int i = 0; i < 10; ++i) ASSERT_OK((*log)->Append(MakeEvent(i)));
    ASSERT_OK((*log)->Close());
  }
  fs_.SetAllocatesUnwritten(true);
  fs_.SetSyncFailureForgets(true);
  std::atomic<int> zero_writes{0};
  fs_.SetWriteHook([&](const std::string& path) {
    if (!IsZeroAheadThread() || zero_writes++ > 0) return;
    // The zero-ahead thread's first write: its sync, the next, fails.
    fs_.FailNextSync(absl::DataLossError(path + ": fdatasync: Input/output error (injected)"));
  });
  LogOptions options = Options(SyncPolicy::Kind::kAlways);
  options.tuning.zero_ahead_bytes = 4 << 10;
  auto log = Log::Open(kDir, options);
  ASSERT_OK(log);
  // Sync() returns at once while nothing is unsynced, and the failed status
  // once the log has failed; no append runs meanwhile, so the failing sync
  // is the zero-ahead thread's.
  absl::Status status;
  for (int i = 0; i < 10000 && status.ok(); ++i) {
    status = (*log)->Sync();
    if (status.ok()) absl::SleepFor(absl::Milliseconds(1));
  }
  fs_.SetWriteHook(nullptr);
  ASSERT_GE(zero_writes.load(), 1) << "the zero-ahead thread never wrote";
  ASSERT_FALSE(status.ok()) << "the log did not fail after its zero-ahead sync failed";
  EXPECT_NE(status.message().find("failed state"), absl::string_view::npos) << status;
  EXPECT_NE(status.message().find("injected"), absl::string_view::npos) << status;
  EXPECT_FALSE((*log)->Append(MakeEvent(10)).ok());
  log->reset();
  // Every acknowledged event survives; numbering goes on after them.
  auto again = Log::Open(kDir, Options(SyncPolicy::Kind::kAlways));
  ASSERT_OK(again);
  auto r = (*again)->NewReader(ReaderOptions{});
  LogEvent ev;
  uint64_t last = 0;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(r->Next(&ev)) << i << ": " << r->status();
    EXPECT_EQ(ev.event, MakeEvent(i));
    last = ev.sequence;
  }
  EXPECT_FALSE(r->Next(&ev));
  ASSERT_OK(r->status());
  auto seq = (*again)->Append(MakeEvent(11));
  ASSERT_OK(seq);
  EXPECT_GT(*seq, last);
}

// The zero-ahead thread's sync takes the writeback error of an event's
// pages (and the kernel marks them clean), then the appender's own sync of
// the segment finds nothing to write and succeeds before the zero-ahead
// thread has failed the log: the appender must not take that success for
// its event's durability. The hooks force exactly that order.
TEST_F(FaultInjectionSimpleTest, ASyncBesideAFailedZeroAheadSyncAcknowledgesNothing) {
  fs_.SetAllocatesUnwritten(true);
  fs_.SetSyncFailureForgets(true);
  LogOptions options = Options(SyncPolicy::Kind::kAlways);
  options.segment_size = 64 << 10;
  options.tuning.zero_ahead_bytes = 4 << 10;
  auto log = Log::Open(kDir, options);
  ASSERT_OK(log);
  Oracle oracle;
  for (int i = 0; i < 5; ++i) {
    auto seq = (*log)->Append(MakeEvent(i));
    ASSERT_OK(seq);
    oracle.Acked(*seq, MakeEvent(i));
  }
  oracle.durable = oracle.highest;

  // Waits (at most 30 s, which a passing run never reaches) for `flag`.
  auto wait_for = [](const std::atomic<bool>& flag) {
    for (int i = 0; i < 30000 && !flag.load(); ++i) absl::SleepFor(absl::Milliseconds(1));
  };
  std::atomic<bool> armed{true}, appender_syncing{false}, zero_synced{false},
      appender_synced{false};
  fs_.SetSyncHook([&](const std::string& path, const absl::Status* result) {
    if (!armed || !IsSegment(path)) return;
    if (IsZeroAheadThread()) {
      if (result == nullptr) {
        // The event is written (its appender is at its sync): this sync
        // fails on its pages.
        wait_for(appender_syncing);
        fs_.FailNextSync(absl::DataLossError(path + ": fdatasync: Input/output error (injected)"));
      } else if (!result->ok()) {
        zero_synced = true;
        wait_for(appender_synced);  // the appender's sync returns before the log fails
      }
    } else if (result == nullptr) {
      appender_syncing = true;
      wait_for(zero_synced);
    } else if (zero_synced) {
      appender_synced = true;
    }
  });
  // Larger than half the zero-ahead window: its append wakes the thread.
  const std::string big = MakeEvent(5, "s", 6000);
  auto seq = (*log)->Append(big);
  armed = false;
  fs_.SetSyncHook(nullptr);
  ASSERT_TRUE(zero_synced.load()) << "the zero-ahead thread's sync did not fail as arranged";
  ASSERT_TRUE(appender_synced.load()) << "the appender's sync did not run beside it";
  if (seq.ok()) {
    oracle.Acked(*seq, big);
    oracle.durable = *seq;
  }
  EXPECT_FALSE(seq.ok()) << "an event whose pages a failed sync dropped was acknowledged";

  // Power loss: every acknowledged event must be on disk.
  KillProcess(std::move(*log));
  fs_.DropUnsyncedData(DropMode::kUnsynced, 1);
  auto again = Log::Open(kDir, Options(SyncPolicy::Kind::kAlways));
  ASSERT_OK(again);
  std::map<uint64_t, std::string> got = testing::ReadAllBySequence(
      again->get(), {.sequences = testing::Sequences::kIncreasing});
  oracle.Check(got, "after the power loss");
}

// The sync of the active segment in an import's commit runs beside the
// group commit's: when it fails, it may have dropped pages of events
// appended (and acknowledged by a sync that returned success beside it),
// so the log enters the failed state, as after any failed sync of a
// segment; it used to return the error and let appends go on.
TEST_F(FaultInjectionSimpleTest, AFailedSyncInAnImportsCommitPutsTheLogIntoAFailedState) {
  auto log = Log::Open(kDir, Options(SyncPolicy::Kind::kAlways));
  ASSERT_OK(log);
  ASSERT_OK((*log)->Append(MakeEvent(0)));
  ASSERT_OK((*log)->BeginImport());
  for (int i = 1; i <= 3; ++i) ASSERT_OK((*log)->Append(MakeEvent(i)));
  // The events are durable (`always`), so the commit's group-commit sync
  // has nothing to do: the commit's first sync of a segment is its own.
  std::atomic<int> segment_syncs{0};
  fs_.SetSyncHook([&](const std::string& path, const absl::Status* result) {
    if (result == nullptr && IsSegment(path) && segment_syncs++ == 0) {
      fs_.FailNextSync(absl::DataLossError(path + ": fdatasync: Input/output error (injected)"));
    }
  });
  const absl::Status commit = (*log)->CommitImport();
  fs_.SetSyncHook(nullptr);
  ASSERT_EQ(segment_syncs.load(), 1) << "the commit did not sync the active segment";
  EXPECT_FALSE(commit.ok());
  auto after = (*log)->Append(MakeEvent(4));
  EXPECT_FALSE(after.ok()) << "appends went on after a failed sync of the active segment";
  EXPECT_NE(after.status().message().find("failed state"), absl::string_view::npos)
      << after.status();
}

TEST_F(FaultInjectionSimpleTest, DiskFullIsAnErrorAndAppendsResumeWhenSpaceIsFreed) {
  auto log = Log::Open(kDir, Options(SyncPolicy::Kind::kNever));
  ASSERT_OK(log);
  fs_.SetSpaceLimit(fs_.used_space() + 100);  // no room for another segment
  std::vector<std::string> ok;
  absl::Status full;
  for (int i = 0; i < 1000 && full.ok(); ++i) {
    std::string e = MakeEvent(i, "s", 200);
    auto seq = (*log)->Append(e);
    if (seq.ok()) {
      ok.push_back(e);
    } else {
      full = seq.status();
    }
  }
  ASSERT_TRUE(absl::IsResourceExhausted(full)) << full;
  EXPECT_NE(full.message().find("No space left"), absl::string_view::npos);
  EXPECT_FALSE(ok.empty());
  // Still full: still an error, nothing half-written.
  EXPECT_TRUE(absl::IsResourceExhausted((*log)->Append(MakeEvent(5000)).status()));
  fs_.SetSpaceLimit(UINT64_MAX);
  std::string after = MakeEvent(6000);
  auto seq = (*log)->Append(after);
  ASSERT_OK(seq);
  EXPECT_EQ(*seq, ok.size() + 1);
  ok.push_back(after);
  ASSERT_OK((*log)->Close());
  auto again = Log::Open(kDir, Options(SyncPolicy::Kind::kNever));
  ASSERT_OK(again);
  std::vector<std::string> got = testing::ReadAll(again->get());
  EXPECT_EQ(got, ok);
}

TEST_F(FaultInjectionSimpleTest, CrashDuringSegmentCreationLeavesNoHalfSegment) {
  auto log = Log::Open(kDir, Options(SyncPolicy::Kind::kAlways));
  ASSERT_OK(log);
  ASSERT_OK((*log)->Append(MakeEvent(0, "s", 100)));
  // The roll's rename happens but the directory sync fails: power is lost.
  std::vector<std::string> acked = {MakeEvent(0, "s", 100)};
  for (int i = 1; i < 200; ++i) {
    if (i == 30) fs_.FailNextSync(absl::InternalError("injected"));
    auto s = (*log)->Append(MakeEvent(i, "s", 100));
    if (!s.ok()) break;
    acked.push_back(MakeEvent(i, "s", 100));
  }
  KillProcess(std::move(*log));
  fs_.DropUnsyncedData(FaultInjectionFileSystem::DropMode::kUnsynced, 1);
  auto again = Log::Open(kDir, Options(SyncPolicy::Kind::kAlways));
  ASSERT_OK(again);
  std::vector<std::string> got = testing::ReadAll(again->get());
  ASSERT_GE(got.size(), acked.size());
  for (size_t i = 0; i < acked.size(); ++i) ASSERT_EQ(got[i], acked[i]);
}

TEST_F(FaultInjectionSimpleTest, NeverCloseDoesNotSyncAndAVolatileCheckpointDiesWithTheBoot) {
  std::vector<std::string> durable, all;
  {
    auto log = Log::Open(kDir, Options(SyncPolicy::Kind::kNever));
    ASSERT_OK(log);
    for (int i = 0; i < 5; ++i) {
      all.push_back(MakeEvent(i));
      ASSERT_OK((*log)->Append(all.back()));
    }
    ASSERT_OK((*log)->Sync());
    durable = all;
    for (int i = 5; i < 9; ++i) {  // stays in the same segment: no roll, no sync
      all.push_back(MakeEvent(i));
      ASSERT_OK((*log)->Append(all.back()));
    }
    const uint64_t syncs = fs_.syncs();
    ASSERT_OK((*log)->Close());
    EXPECT_EQ(fs_.syncs(), syncs) << "never: close must not fdatasync the data";
  }
  auto read = [&](Log* log) {
    uint64_t corruptions = 0;
    std::vector<std::string> got = testing::ReadAll(log, {.corruptions = &corruptions});
    EXPECT_EQ(corruptions, 0u);
    return got;
  };
  {
    // Same boot: the volatile clean checkpoint is trusted; nothing to scan.
    auto log = Log::Open(kDir, Options(SyncPolicy::Kind::kNever));
    ASSERT_OK(log);
    EXPECT_TRUE((*log)->recovery().clean_shutdown);
    EXPECT_EQ((*log)->recovery().scanned_bytes, 0u);
    EXPECT_EQ(read(log->get()), all);
    // A crash of this process (no close) keeps everything, too.
    (*log)->Append(MakeEvent(9)).IgnoreError();
    all.push_back(MakeEvent(9));
    KillProcess(std::move(*log));
  }
  {
    auto log = Log::Open(kDir, Options(SyncPolicy::Kind::kNever));
    ASSERT_OK(log);
    EXPECT_EQ(read(log->get()), all);
    ASSERT_OK((*log)->Close());
  }
  // Power loss: the unsynced events are gone and the volatile checkpoint,
  // written in the old boot, is not trusted; what remains is the synced prefix.
  // The worst case: the kernel had written CHECKPOINT back, the events not.
  {
    auto log = Log::Open(kDir, Options(SyncPolicy::Kind::kNever));
    ASSERT_OK(log);
    for (int i = 10; i < 14; ++i) {
      all.push_back(MakeEvent(i));
      ASSERT_OK((*log)->Append(all.back()));
    }
    ASSERT_OK((*log)->Close());
  }
  fs_.MarkDurable(std::string(kDir) + "/CHECKPOINT");
  fs_.DropUnsyncedData(FaultInjectionFileSystem::DropMode::kUnsynced, 7);
  auto log = Log::Open(kDir, Options(SyncPolicy::Kind::kNever));
  ASSERT_OK(log);
  EXPECT_FALSE((*log)->recovery().clean_shutdown);
  std::vector<std::string> got = read(log->get());
  ASSERT_GE(got.size(), durable.size());
  ASSERT_LT(got.size(), all.size()) << "the unsynced events cannot have survived";
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], all[i]);
  // The events that did not survive had sequence numbers, which a reader may
  // have seen before the power failed: the log continues above every one
  // ever handed out (above the sequence lease), with a gap file between.
  auto seq = (*log)->Append(MakeEvent(99));
  ASSERT_OK(seq);
  EXPECT_GT(*seq, all.size());
  ASSERT_EQ((*log)->recovery().gaps.size(), 1u);
  EXPECT_EQ((*log)->recovery().gaps[0].first, got.size() + 1);
  EXPECT_EQ((*log)->recovery().gaps[0].end, *seq);
  got.push_back(MakeEvent(99));
  EXPECT_EQ(read(log->get()), got);
}

}  // namespace
}  // namespace tracelog
