// Recovery under real faults (issue 14): failed syncs that the kernel
// forgets, damage in any segment, and the rule that a sequence number is
// never given to two events.

#include <algorithm>
#include <map>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/format/sealed_format.h"
#include "engine/format/segment_format.h"
#include "engine/log/log.h"
#include "engine/segment/segment.h"
#include "engine/io/fault_file_system.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::FaultInjectionFileSystem;
using ::tracelog::testing::MakeEvent;
using DropMode = FaultInjectionFileSystem::DropMode;

// A log in kDir on a FaultInjectionFileSystem (tests/testutil/test_util.h);
// tests/log/retention_test.cc shares the fixture.
using RecoveryTest = ::tracelog::testing::FaultFsLogTest;

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


// ---- Issue 14, point 2: zeros end no segment silently ----------------------

class DamageTest : public RecoveryTest {
 protected:
  // A log of `n` events in raw segments of 16 KiB (nothing sealed), closed.
  std::vector<std::string> WriteRaw(int n) {
    std::vector<std::string> events;
    LogOptions o = Options(SyncPolicy::Kind::kNever, 16 << 10);
    auto log = Log::Open(kDir, o);
    EXPECT_TRUE(log.ok());
    for (int i = 0; i < n; ++i) {
      events.push_back(MakeEvent(i, "s", 100));
      EXPECT_TRUE((*log)->Append(events.back()).ok());
    }
    EXPECT_TRUE((*log)->Close().ok());
    return events;
  }
  std::vector<std::string> Segments() {
    std::vector<std::string> out;
    const std::vector<std::string> names = fs_.ListDir(kDir).value();
    for (const std::string& n : names) {
      if (ParseSegmentFileName(n)) out.push_back(absl::StrCat(kDir, "/", n));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  // Offset of the k-th record (0-based) of a segment's bytes.
  static size_t RecordOffset(const std::string& bytes, int k) {
    size_t at = kSegmentHeaderSize;
    RecordView r;
    for (int i = 0; i < k; ++i) {
      EXPECT_EQ(DecodeRecord(bytes, at, &r), RecordStatus::kOk);
      at += r.size;
    }
    return at;
  }
};

// The repro: 12 zero bytes over the 10th record of the second
// segment looked like the end of that segment: the rest of it was missing
// without a word, and sealing then made the loss permanent.
TEST_F(DamageTest, ZeroedRecordHeaderCostsOneEventAndIsReported) {
  const std::vector<std::string> events = WriteRaw(300);
  const std::vector<std::string> segs = Segments();
  ASSERT_GT(segs.size(), 3u);
  std::string bytes = fs_.Contents(segs[1]);
  const size_t at = RecordOffset(bytes, 9);
  std::memset(bytes.data() + at, 0, 12);
  fs_.SetContents(segs[1], bytes);
  std::unique_ptr<Log> log = OpenOrDie(SyncPolicy::Kind::kNever, 16 << 10);
  Read got = ReadAll(log.get());
  EXPECT_EQ(got.events.size(), events.size() - 1);
  ASSERT_EQ(got.damage.size(), 1u);
  EXPECT_EQ(got.damage[0].file, segs[1]);
  EXPECT_EQ(got.damage[0].begin, at);
  EXPECT_NE(got.damage[0].reason.find("skipped to sequence"), std::string::npos)
      << got.damage[0].reason;
  for (size_t i = 0; i < got.events.size(); ++i) {
    EXPECT_EQ(got.events[i], events[got.sequences[i] - 1]);
  }
  // Sealing refuses the damaged segment (it stays raw and readable) and
  // seals the others.
  EXPECT_TRUE(absl::IsDataLoss(log->SealAll()));
  EXPECT_TRUE(fs_.Exists(segs[1]).value());
  got = ReadAll(log.get());
  EXPECT_EQ(got.events.size(), events.size() - 1);
  EXPECT_EQ(got.damage.size(), 1u);
}

// Zeros over the last records of a rolled segment: it ends short of its
// successor's base. Readers say which sequences are missing.
TEST_F(DamageTest, ShortRolledSegmentIsReportedWithTheMissingSequences) {
  const std::vector<std::string> events = WriteRaw(300);
  const std::vector<std::string> segs = Segments();
  std::string bytes = fs_.Contents(segs[0]);
  const size_t at = RecordOffset(bytes, 20);
  std::memset(bytes.data() + at, 0, bytes.size() - at);
  fs_.SetContents(segs[0], bytes);
  std::unique_ptr<Log> log = OpenOrDie(SyncPolicy::Kind::kNever, 16 << 10);
  Read got = ReadAll(log.get());
  ASSERT_EQ(got.damage.size(), 1u);
  EXPECT_EQ(got.damage[0].file, segs[0]);
  EXPECT_NE(got.damage[0].reason.find("sequences 21 to "), std::string::npos)
      << got.damage[0].reason;
  EXPECT_EQ(got.sequences[20], *ParseSegmentFileName(segs[1].substr(sizeof(kDir))));
  EXPECT_TRUE(absl::IsDataLoss(log->SealAll()));
}

// ---- Issue 14, point 3: damage is quarantined to what is damaged -----------

// A flipped bit in a sealed segment's header used to discard it and every
// later segment, and reuse their sequence numbers. Now that segment's
// events are reported unreadable, and everything after it stays.
TEST_F(DamageTest, DamagedSealedHeaderLosesNoOtherSegmentAndReusesNoSequence) {
  const std::vector<std::string> events = WriteRaw(300);
  {
    std::unique_ptr<Log> log = OpenOrDie(SyncPolicy::Kind::kNever, 16 << 10);
    ASSERT_OK(log->SealAll());
    ASSERT_OK(log->Close());
  }
  std::vector<std::string> sealed;
  const std::vector<std::string> names = fs_.ListDir(kDir).value();
  for (const std::string& n : names) {
    if (ParseSealedFileName(n)) sealed.push_back(absl::StrCat(kDir, "/", n));
  }
  std::sort(sealed.begin(), sealed.end());
  ASSERT_GT(sealed.size(), 2u);
  std::string bytes = fs_.Contents(sealed[1]);
  bytes[20] ^= 0x04;  // the base sequence, under the header checksum
  fs_.SetContents(sealed[1], bytes);
  std::unique_ptr<Log> log = OpenOrDie(SyncPolicy::Kind::kNever, 16 << 10);
  Read got = ReadAll(log.get());
  ASSERT_FALSE(got.damage.empty());
  EXPECT_EQ(got.damage[0].file, sealed[1]);
  // Everything but that segment's events.
  const uint64_t lost_from = *ParseSealedFileName(sealed[1].substr(sizeof(kDir)));
  const uint64_t lost_to = *ParseSealedFileName(sealed[2].substr(sizeof(kDir)));
  EXPECT_EQ(got.events.size(), events.size() - (lost_to - lost_from));
  EXPECT_EQ(got.sequences.back(), events.size());
  auto seq = log->Append(MakeEvent(1000));
  ASSERT_OK(seq);
  EXPECT_EQ(*seq, events.size() + 1);
}


// ---- Issue 14, point 15: the log directory itself is durable ---------------

// The directory a writer creates is an entry of its parent: until the
// parent is synced, a power failure can take the whole log with it, events
// acknowledged under `always` included.
TEST_F(RecoveryTest, ACreatedLogDirectorySurvivesAPowerFailure) {
  ASSERT_OK(fs_.CreateDir("/base"));
  LogOptions o = Options(SyncPolicy::Kind::kAlways);
  {
    auto log = Log::Open("/base/log", o);
    ASSERT_OK(log);
    ASSERT_OK((*log)->Append(MakeEvent(1)));  // acknowledged: durable
    KillProcess(std::move(*log));
  }
  fs_.DropUnsyncedData(DropMode::kUnsynced, 1);
  o.create_if_missing = false;
  auto log = Log::Open("/base/log", o);
  ASSERT_OK(log);
  EXPECT_EQ(ReadAll(log->get()).ids, (std::vector<std::string>{"e1"}));
}


// ---- Issue 14, point 16: readers and a writer in another process -----------

// A reader that listed the directory just before an import began (here: the
// import starts and appends into the empty active segment between the
// reader's listing and its scan) must see none of the import.
TEST_F(RecoveryTest, AReaderThatListedBeforeAnImportBeganSeesNoneOfIt) {
  std::unique_ptr<Log> writer = OpenOrDie(SyncPolicy::Kind::kNever);
  for (int i = 1; i <= 3; ++i) ASSERT_OK(writer->Append(MakeEvent(i)));
  ASSERT_OK(writer->SealAll());  // the active segment is empty: the import appends into it
  fs_.SetAfterNextListHook([&](const std::string&) {
    ASSERT_OK(writer->BeginImport());
    for (int i = 4; i <= 6; ++i) ASSERT_OK(writer->Append(MakeEvent(i)));
  });
  LogOptions o = Options(SyncPolicy::Kind::kNever);
  o.read_only = true;
  auto reader = Log::Open(kDir, o);
  ASSERT_OK(reader);
  EXPECT_EQ(ReadAll(reader->get()).ids, (std::vector<std::string>{"e1", "e2", "e3"}));
  ASSERT_OK(writer->CommitImport());
  auto after = Log::Open(kDir, o);
  ASSERT_OK(after);
  EXPECT_EQ(ReadAll(after->get()).ids.size(), 6u);
}

// tools/torture (seed 20261204, iteration 167): a read-only open lists a
// raw segment that the writer seals (and removes) before the open reads it.
// The open failed with NotFound; it lists the directory again now.
TEST_F(RecoveryTest, AReadOnlyOpenRacingASealListsAgain) {
  std::unique_ptr<Log> writer = OpenOrDie(SyncPolicy::Kind::kNever, 16 << 10);
  std::vector<std::string> ids;
  for (int i = 1; i <= 300; ++i) ASSERT_OK(writer->Append(MakeEvent(i, "s", 100)));
  fs_.SetAfterNextListHook([&](const std::string&) { ASSERT_OK(writer->SealAll()); });
  LogOptions o = Options(SyncPolicy::Kind::kNever, 16 << 10);
  o.read_only = true;
  auto reader = Log::Open(kDir, o);
  ASSERT_OK(reader);
  Read got = ReadAll(reader->get());
  EXPECT_EQ(got.ids.size(), 300u);
  EXPECT_TRUE(got.damage.empty());
}

// ---- What the crash-torture tool found (tools/torture), made deterministic -

class TortureFindingsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(fs_.CreateDir("/log")); }
  LogOptions Options(SyncPolicy::Kind kind, uint64_t segment_size = 4096) {
    return testing::SmallLogOptions(&fs_, segment_size, kind);
  }
  void KillProcess(std::unique_ptr<Log> log) {
    fs_.SetAllFail(true);
    log.reset();
    fs_.SetAllFail(false);
  }
  FaultInjectionFileSystem fs_;
};

// Contract 2. A writer dies between the rename of its new segment and the
// directory fsync; the next writer adopts the segment (its file synced, its
// directory entry not) and acknowledges `always` appends into it; a power
// loss takes the entry, and the acknowledged events, away.
TEST_F(TortureFindingsTest, AdoptedSegmentWhoseCreationWasNotSyncedKeepsAlwaysAcks) {
  {
    auto log = Log::Open("/log", Options(SyncPolicy::Kind::kAlways));
    ASSERT_OK(log);
    ASSERT_OK((*log)->Append(MakeEvent(1, "s", 3000)));
    // The roll's Segment::Create: create, allocate, write, sync, rename go
    // through; the directory sync is the first call that fails.
    fs_.FailAfter(5);
    EXPECT_FALSE((*log)->Append(MakeEvent(2, "s", 3000)).ok());
    KillProcess(std::move(*log));
  }
  uint64_t acked;
  {
    auto log = Log::Open("/log", Options(SyncPolicy::Kind::kAlways));
    ASSERT_OK(log);
    auto seq = (*log)->Append(MakeEvent(3));
    ASSERT_OK(seq);
    acked = *seq;  // durable: `always`
    KillProcess(std::move(*log));
  }
  fs_.DropUnsyncedData(DropMode::kUnsynced, 1);
  auto log = Log::Open("/log", Options(SyncPolicy::Kind::kAlways));
  ASSERT_OK(log);
  auto got = testing::ReadAllBySequence(log->get());
  EXPECT_EQ(got[acked], MakeEvent(3)) << "an event acknowledged under `always` is gone";
}

// Contract 2 (issue point 1, fsyncgate). A failed fdatasync forgets dirty
// pages; the next open trusts them (still in the page cache), its "sync"
// writes nothing, and `always` acknowledgements land behind a hole that
// exists only in RAM: a power loss takes them.
TEST_F(TortureFindingsTest, PagesAFailedSyncForgotDoNotHideLaterAlwaysAcks) {
  fs_.SetSyncFailureForgets(true);
  {
    auto log = Log::Open("/log", Options(SyncPolicy::Kind::kNever, 64 << 10));
    ASSERT_OK(log);
    ASSERT_OK((*log)->Append(MakeEvent(1, "s", 9000)));  // spans pages of its own
    fs_.FailNextSync(absl::InternalError("fdatasync: Input/output error (injected)"));
    EXPECT_FALSE((*log)->Sync().ok());
    KillProcess(std::move(*log));
  }
  uint64_t acked;
  {
    auto log = Log::Open("/log", Options(SyncPolicy::Kind::kAlways, 64 << 10));
    ASSERT_OK(log);
    auto seq = (*log)->Append(MakeEvent(2));
    ASSERT_OK(seq);
    acked = *seq;
    KillProcess(std::move(*log));
  }
  fs_.DropUnsyncedData(DropMode::kUnsynced, 1);
  auto log = Log::Open("/log", Options(SyncPolicy::Kind::kAlways, 64 << 10));
  ASSERT_OK(log);
  auto got = testing::ReadAllBySequence(log->get());
  EXPECT_EQ(got[acked], MakeEvent(2)) << "an event acknowledged under `always` is gone";
}

// Contract 3. Events lost with unsynced data (non-durable, allowed) leave
// their sequence numbers taken.
TEST_F(TortureFindingsTest, PowerLossDoesNotReuseSequences) {
  uint64_t last;
  {
    auto log = Log::Open("/log", Options(SyncPolicy::Kind::kNever));
    ASSERT_OK(log);
    ASSERT_OK((*log)->Append(MakeEvent(1)));
    ASSERT_OK((*log)->Sync());
    auto seq = (*log)->Append(MakeEvent(2));  // never synced
    ASSERT_OK(seq);
    last = *seq;
    KillProcess(std::move(*log));
  }
  fs_.DropUnsyncedData(DropMode::kUnsynced, 1);
  auto log = Log::Open("/log", Options(SyncPolicy::Kind::kNever));
  ASSERT_OK(log);
  auto seq = (*log)->Append(MakeEvent(3));
  ASSERT_OK(seq);
  EXPECT_GT(*seq, last) << "sequence " << *seq << " was given to another event before";
}

// Contract 3. A rolled-back import (abandoned by Close, or its process
// died) leaves its sequence numbers taken.
TEST_F(TortureFindingsTest, RolledBackImportDoesNotReuseSequences) {
  uint64_t imported;
  {
    auto log = Log::Open("/log", Options(SyncPolicy::Kind::kAlways));
    ASSERT_OK(log);
    ASSERT_OK((*log)->Append(MakeEvent(1)));
    ASSERT_OK((*log)->BeginImport());
    auto seq = (*log)->Append(MakeEvent(2));
    ASSERT_OK(seq);
    imported = *seq;
    ASSERT_OK((*log)->Close());  // abandoned: rolled back by the next open
  }
  auto log = Log::Open("/log", Options(SyncPolicy::Kind::kAlways));
  ASSERT_OK(log);
  EXPECT_EQ(testing::ReadAllBySequence(log->get()).count(imported), 0u);
  auto seq = (*log)->Append(MakeEvent(3));
  ASSERT_OK(seq);
  EXPECT_GT(*seq, imported) << "sequence " << *seq << " was given to a rolled-back import event";
}

// Contract 6. A failed fdatasync (or write) while the next segment is
// created fails that Append, but the log is not in the failed state: the
// next Append rolls again and succeeds.
TEST_F(TortureFindingsTest, FailedSegmentCreationPutsTheLogInTheFailedState) {
  for (bool sync : {true, false}) {
    SCOPED_TRACE(sync ? "sync fails" : "write fails");
    FaultInjectionFileSystem fs;
    ASSERT_OK(fs.CreateDir("/log"));
    LogOptions o = Options(SyncPolicy::Kind::kNever);
    o.fs = &fs;
    auto log = Log::Open("/log", o);
    ASSERT_OK(log);
    ASSERT_OK((*log)->Append(MakeEvent(1, "s", 3000)));
    if (sync) {
      fs.FailNextSync(absl::InternalError("fdatasync: Input/output error (injected)"));
    } else {
      fs.FailNextWrite(absl::InternalError("pwrite: Input/output error (injected)"));
    }
    EXPECT_FALSE((*log)->Append(MakeEvent(2, "s", 3000)).ok());  // rolls
    EXPECT_FALSE((*log)->Append(MakeEvent(3, "s", 3000)).ok());
  }
}

// Contract 4. An import that synced (Sync() during it) and whose process
// died before CommitImport is rolled back: its numbers are skipped, but the
// gap is written as GapReason::kLost ("durable events found damaged"), so
// every reader reports damage although no byte was damaged.
TEST_F(TortureFindingsTest, RolledBackImportIsNotReportedAsDamage) {
  {
    auto log = Log::Open("/log", Options(SyncPolicy::Kind::kAlways, 64 << 10));
    ASSERT_OK(log);
    ASSERT_OK((*log)->Append(MakeEvent(1)));
    ASSERT_OK((*log)->BeginImport());
    for (int i = 2; i < 5; ++i) ASSERT_OK((*log)->Append(MakeEvent(i)));
    ASSERT_OK((*log)->Sync());
    KillProcess(std::move(*log));
  }
  auto log = Log::Open("/log", Options(SyncPolicy::Kind::kAlways, 64 << 10));
  ASSERT_OK(log);
  EXPECT_TRUE((*log)->recovery().damage.empty());
  std::vector<Corruption> seen;
  ReaderOptions ro;
  ro.reporter = [&seen](const Corruption& c) { seen.push_back(c); };
  auto r = (*log)->NewReader(ro);
  LogEvent ev;
  while (r->Next(&ev)) {
  }
  for (const Corruption& c : seen) ADD_FAILURE() << "damage reported: " << c.ToString();
}

// `never` a rolled segment is not synced at once; a power loss takes its
// records while its successor (whose creation was synced) survives. A
// read-only open before any writer recovers (`tracelog verify`, a query)
// reports "zeros where a record should be ... sequences 1 to 2 are missing":
// damage, although only unsynced bytes were lost (contract point 4 allows
// damage only after kRandomPages). The writer's recovery skips them (a
// kSkipped gap) without a report.
TEST_F(TortureFindingsTest, ReadOnlyOpenAfterUnsyncedPowerLossReportsNoDamage) {
  {
    auto log = Log::Open("/log", Options(SyncPolicy::Kind::kNever));
    ASSERT_OK(log);
    for (int i = 1; i <= 4; ++i) ASSERT_OK((*log)->Append(MakeEvent(i, "s", 1500)));  // rolls
    KillProcess(std::move(*log));
  }
  fs_.DropUnsyncedData(DropMode::kUnsynced, 1);
  LogOptions o = Options(SyncPolicy::Kind::kNever);
  o.read_only = true;
  auto log = Log::Open("/log", o);
  ASSERT_OK(log);
  std::vector<Corruption> seen;
  ReaderOptions ro;
  ro.reporter = [&seen](const Corruption& c) { seen.push_back(c); };
  auto r = (*log)->NewReader(ro);
  LogEvent ev;
  while (r->Next(&ev)) {
  }
  for (const Corruption& c : seen) ADD_FAILURE() << "damage reported: " << c.ToString();
}

// forgot the dirty pages) and the eviction of those pages (memory pressure:
// the page cache reads them back from the disk, where they never were), the
// next open "writes again" the range the failed sync covered from the page
// cache -- zeros now -- and keeps the log's end after them: appends go
// after a hole of zeros, readers report it as damage, and after a power
// loss recovery stops at the hole and drops the `always` acknowledgements
// behind it. The rewrite must check what it rewrites (record checksums and
// sequences) and cut where the bytes are not the records any more.
TEST_F(TortureFindingsTest, RewriteAfterAFailedSyncChecksTheBytesItWrites) {
  fs_.SetSyncFailureForgets(true);
  {
    auto log = Log::Open("/log", Options(SyncPolicy::Kind::kAlways, 64 << 10));
    ASSERT_OK(log);
    ASSERT_OK((*log)->Append(MakeEvent(1)));
    fs_.FailNextSync(absl::InternalError("fdatasync: Input/output error (injected)"));
    EXPECT_FALSE((*log)->Append(MakeEvent(2)).ok());
    KillProcess(std::move(*log));
  }
  fs_.EvictCleanPages();
  uint64_t acked;
  {
    auto log = Log::Open("/log", Options(SyncPolicy::Kind::kAlways, 64 << 10));
    ASSERT_OK(log);
    auto seq = (*log)->Append(MakeEvent(3));
    ASSERT_OK(seq);
    acked = *seq;
    std::vector<Corruption> seen;
    ReaderOptions ro;
    ro.reporter = [&seen](const Corruption& c) { seen.push_back(c); };
    auto r = (*log)->NewReader(ro);
    LogEvent ev;
    while (r->Next(&ev)) {
    }
    for (const Corruption& c : seen) ADD_FAILURE() << "damage reported: " << c.ToString();
    KillProcess(std::move(*log));
  }
  fs_.DropUnsyncedData(DropMode::kUnsynced, 1);
  auto log = Log::Open("/log", Options(SyncPolicy::Kind::kAlways, 64 << 10));
  ASSERT_OK(log);
  EXPECT_EQ(testing::ReadAllBySequence(log->get())[acked], MakeEvent(3))
      << "an event acknowledged under `always` is gone";
}

// Contract 4 (found by tools/torture, fault mode). An import whose SealAll
// rolled the active segment commits with that segment empty: it was
// created for the import (not synced at its creation) and holds no event,
// so the commit's sync had nothing to wait for, but the commit's directory
// sync made its name durable. A power loss left a 0-byte segment: recovery
// and every reader reported "segment header truncated" (damage, and a
// reader status DATA_LOSS) on a log that lost nothing.
TEST_F(TortureFindingsTest, CommittedImportLeavesNoEmptyUnsyncedSegment) {
  {
    auto log = Log::Open("/log", Options(SyncPolicy::Kind::kAlways, 64 << 10));
    ASSERT_OK(log);
    ASSERT_OK((*log)->BeginImport());
    for (int i = 1; i <= 3; ++i) ASSERT_OK((*log)->Append(MakeEvent(i)));
    ASSERT_OK((*log)->SealAll());  // rolls: the new active segment is the import's, empty
    ASSERT_OK((*log)->CommitImport());
    KillProcess(std::move(*log));
  }
  fs_.DropUnsyncedData(DropMode::kUnsynced, 1);
  auto log = Log::Open("/log", Options(SyncPolicy::Kind::kAlways, 64 << 10));
  ASSERT_OK(log);
  for (const Corruption& c : (*log)->recovery().damage) {
    ADD_FAILURE() << "recovery reported damage: " << c.ToString();
  }
  std::vector<Corruption> seen;
  ReaderOptions ro;
  ro.reporter = [&seen](const Corruption& c) { seen.push_back(c); };
  auto r = (*log)->NewReader(ro);
  LogEvent ev;
  int n = 0;
  while (r->Next(&ev)) ++n;
  EXPECT_EQ(n, 3);
  EXPECT_OK(r->status());
  for (const Corruption& c : seen) ADD_FAILURE() << "damage reported: " << c.ToString();
}

// Contracts 3 and 6 (found by tools/torture, fault mode). A clean Close
// syncs CHECKPOINT with the clean flag in its durable slot; the next open
// rewrote that slot (not clean) without syncing it. A power loss then
// brought the clean slot back: recovery took the log for cleanly closed,
// saw no crash region and no events that may have been lost, and gave the
// numbers of the lost (unsynced, acknowledged under `never`) appends again.
// With pages surviving at random it also reported the holes as damage
// instead of cutting there.
TEST_F(TortureFindingsTest, ACleanCloseDoesNotOutliveTheNextOpenInAPowerLoss) {
  {
    auto log = Log::Open("/log", Options(SyncPolicy::Kind::kAlways, 64 << 10));
    ASSERT_OK(log);
    ASSERT_OK((*log)->Append(MakeEvent(1)));
    ASSERT_OK((*log)->Close());
  }
  uint64_t last;
  {
    auto log = Log::Open("/log", Options(SyncPolicy::Kind::kNever, 64 << 10));
    ASSERT_OK(log);
    auto seq = (*log)->Append(MakeEvent(2));  // in the page cache only
    ASSERT_OK(seq);
    last = *seq;
    KillProcess(std::move(*log));
  }
  fs_.DropUnsyncedData(DropMode::kUnsynced, 1);
  auto log = Log::Open("/log", Options(SyncPolicy::Kind::kNever, 64 << 10));
  ASSERT_OK(log);
  auto seq = (*log)->Append(MakeEvent(3));
  ASSERT_OK(seq);
  EXPECT_GT(*seq, last) << "sequence " << *seq << " was given to another event before";
}

// Contracts 1 and 2 (found by tools/torture, fault mode). BeginImport whose
// IMPORT marker was renamed into place but whose directory sync failed
// returned the error and left the marker there; the log went on as if no
// import had begun and acknowledged `always` appends, which the next open
// then rolled back with the "import" (recovery rule 0): acknowledged
// durable events lost without any power loss. A transient failure of the
// k-th file-system call of BeginImport, for every k.
TEST_F(TortureFindingsTest, AFailedBeginImportLosesNoLaterAcknowledgedAppend) {
  for (uint64_t k = 0; k < 8; ++k) {
    SCOPED_TRACE(absl::StrCat("the file-system call ", k, " of BeginImport fails"));
    FaultInjectionFileSystem fs;
    ASSERT_OK(fs.CreateDir("/log"));
    LogOptions o = Options(SyncPolicy::Kind::kAlways, 64 << 10);
    o.fs = &fs;
    uint64_t acked = 0;
    {
      auto log = Log::Open("/log", o);
      ASSERT_OK(log);
      fs.FailAfter(k);
      const bool began = (*log)->BeginImport().ok();
      fs.SetAllFail(false);  // transient
      if (began) continue;
      auto seq = (*log)->Append(MakeEvent(1));
      if (!seq.ok()) continue;  // refused: nothing acknowledged
      acked = *seq;
      fs.SetAllFail(true);  // the process dies
      log->reset();
      fs.SetAllFail(false);
    }
    auto log = Log::Open("/log", o);
    ASSERT_OK(log);
    EXPECT_EQ(testing::ReadAllBySequence(log->get())[acked], MakeEvent(1))
        << "an event acknowledged under `always` is gone";
  }
}


// CI finding (crash_test seed 126042013): a writer killed inside its first
// Open, after it created the first segment and before it wrote the lease,
// left a log that the next writer took for an old one without a lease: it
// skipped a segment's worth of numbers (a gap file [1, 1172)) although no
// number had been handed out. The first writer now writes the lease before
// the first segment. For every step at which the first Open dies, the next
// writer's first event is sequence 1 and no gap is written.
TEST_F(TortureFindingsTest, AWriterThatDiedInTheFirstOpenMakesNoGap) {
  for (uint64_t k = 0; k < 24; ++k) {
    SCOPED_TRACE(absl::StrCat("the first Open dies at file-system call ", k));
    FaultInjectionFileSystem fs;
    ASSERT_OK(fs.CreateDir("/log"));
    LogOptions o = Options(SyncPolicy::Kind::kNever, 64 << 10);
    o.fs = &fs;
    fs.FailAfter(k);
    const bool opened = Log::Open("/log", o).ok();
    fs.SetAllFail(false);
    if (opened) break;  // every step before this one was tried
    auto log = Log::Open("/log", o);
    ASSERT_OK(log);
    auto seq = (*log)->Append(MakeEvent(1));
    ASSERT_OK(seq);
    EXPECT_EQ(*seq, 1u);
    EXPECT_EQ((*log)->Stats().gaps, 0u);
  }
}

// Finding 6 of tools/torture (seed 20261204, iteration 63): a sync that
// failed forgot the pages of a segment that had rolled since the durable
// position; evicted, they read back as zeros. Those numbers were never
// durable: skipped, with a gap file, as after a crash. Recovery reported
// the rolled segment as damage ("sequences X to Y are missing"), and so did
// every reader.
//
// Under `never` the test alone syncs: under `interval` a roll asks the
// background thread for a sync, which raced the injected failure (1 run in
// ~200 under load: the background sync came first, the test's Sync had
// nothing to do, and the reopen took the failure).
TEST_F(TortureFindingsTest, ForgottenPagesOfARolledSegmentAreSkippedNotDamage) {
  fs_.SetSyncFailureForgets(true);
  uint64_t durable = 0;
  {
    LogOptions o = Options(SyncPolicy::Kind::kNever);
    auto log = Log::Open("/log", o);
    ASSERT_OK(log);
    ASSERT_OK((*log)->Append(MakeEvent(1, "s", 100)));
    ASSERT_OK((*log)->Sync());
    durable = 1;
    for (int i = 2; i <= 8; ++i) ASSERT_OK((*log)->Append(MakeEvent(i, "s", 1500)));  // rolls
    fs_.FailNextSync(absl::InternalError("fdatasync: Input/output error (injected)"));
    EXPECT_FALSE((*log)->Sync().ok());
    KillProcess(std::move(*log));
  }
  fs_.EvictCleanPages();
  auto log = Log::Open("/log", Options(SyncPolicy::Kind::kAlways));
  ASSERT_OK(log);
  for (const Corruption& c : (*log)->recovery().damage) ADD_FAILURE() << c.ToString();
  std::vector<Corruption> seen;
  ReaderOptions ro;
  ro.reporter = [&seen](const Corruption& c) { seen.push_back(c); };
  auto r = (*log)->NewReader(ro);
  LogEvent ev;
  std::map<uint64_t, std::string> got;
  while (r->Next(&ev)) got[ev.sequence] = std::string(ev.event);
  for (const Corruption& c : seen) ADD_FAILURE() << "reader: " << c.ToString();
  ASSERT_GE(got.size(), durable);
  EXPECT_EQ(got[1], MakeEvent(1, "s", 100));
  // What is gone is skipped, never handed out again.
  uint64_t skipped = 0;
  for (const GapRecord& g : (*log)->recovery().gaps) skipped += g.end - g.first;
  EXPECT_GT(skipped, 0u);
  auto next = (*log)->Append(MakeEvent(9));
  ASSERT_OK(next);
  EXPECT_GT(*next, 8u);
}

// Finding 5 of tools/torture (seed 20261204, iteration 411): after a
// process death, the next open found the dead writer's unsynced tail in the
// page cache and said all of it was durable (durable_sequence(), and the
// durable CHECKPOINT slot it wrote) without syncing it; a power loss then
// took events that durable_sequence() had vouched for.
TEST_F(TortureFindingsTest, WhatAnOpenSaysIsDurableSurvivesAPowerLoss) {
  {
    LogOptions o = Options(SyncPolicy::Kind::kInterval, 64 << 10);
    o.sync.value = 3600 * 1000;  // never fires in the test
    auto log = Log::Open("/log", o);
    ASSERT_OK(log);
    for (int i = 1; i <= 10; ++i) ASSERT_OK((*log)->Append(MakeEvent(i)));
    KillProcess(std::move(*log));  // nothing synced
  }
  uint64_t durable = 0;
  {
    auto log = Log::Open("/log", Options(SyncPolicy::Kind::kNever, 64 << 10));
    ASSERT_OK(log);
    durable = (*log)->durable_sequence();
    EXPECT_EQ(durable, 10u);
    KillProcess(std::move(*log));
  }
  fs_.DropUnsyncedData(DropMode::kUnsynced, 1);
  auto log = Log::Open("/log", Options(SyncPolicy::Kind::kNever, 64 << 10));
  ASSERT_OK(log);
  const std::map<uint64_t, std::string> got = testing::ReadAllBySequence(log->get());
  for (uint64_t seq = 1; seq <= durable; ++seq) {
    auto it = got.find(seq);
    ASSERT_NE(it, got.end()) << "sequence " << seq << " was said durable and is gone";
    EXPECT_EQ(it->second, MakeEvent(static_cast<int>(seq)));
  }
}

// The cause: the open makes the dead writer's tail durable through
// Segment::ZeroTail(end of records), which zeroes what follows and syncs,
// but returned at once, syncing nothing, when the records filled the
// segment to its last byte (the torture run had a full disk: the roll to
// the next segment had failed). The test above passes either way (its
// segment is not full); this one failed before the fix.
TEST_F(TortureFindingsTest, ZeroTailAtTheEndOfAFullSegmentStillSyncsIt) {
  {
    auto log = Log::Open("/log", Options(SyncPolicy::Kind::kNever, 64 << 10));
    ASSERT_OK(log);
    for (int i = 1; i <= 10; ++i) ASSERT_OK((*log)->Append(MakeEvent(i)));
    KillProcess(std::move(*log));
  }
  const std::string path = "/log/" + SegmentFileName(1);
  {
    auto seg = Segment::Open(&fs_, path, 1, /*writable=*/true);
    ASSERT_OK(seg);
    ASSERT_OK((*seg)->ZeroTail((*seg)->size()));
  }
  fs_.DropUnsyncedData(DropMode::kUnsynced, 1);
  auto log = Log::Open("/log", Options(SyncPolicy::Kind::kNever, 64 << 10));
  ASSERT_OK(log);
  const std::map<uint64_t, std::string> got = testing::ReadAllBySequence(log->get());
  for (uint64_t seq = 1; seq <= 10; ++seq) {
    auto it = got.find(seq);
    ASSERT_NE(it, got.end()) << "sequence " << seq << " was said durable and is gone";
    EXPECT_EQ(it->second, MakeEvent(static_cast<int>(seq)));
  }
}

// ---- Issue 14, point 3: an error that is not damage changes nothing --------

class BothFormsTest : public DamageTest {
 protected:
  // A log whose first segment is sealed while its raw file is still there
  // (a seal that finished before its raw segment was removed).
  void SetUp() override {
    DamageTest::SetUp();
    events_ = WriteRaw(300);
    raw_ = Segments()[0];
    const std::string bytes = fs_.Contents(raw_);
    {
      std::unique_ptr<Log> log = OpenOrDie(SyncPolicy::Kind::kNever, 16 << 10);
      ASSERT_OK(log->SealAll());
      ASSERT_OK(log->Close());
    }
    sealed_ = absl::StrCat(kDir, "/", SealedFileName(1));
    ASSERT_TRUE(fs_.Exists(sealed_).value());
    fs_.SetContents(raw_, bytes);
  }
  std::vector<std::string> events_;
  std::string raw_, sealed_;
};

// A transient error (no descriptors) while opening the sealed form used to
// delete the synced .sealed file and keep the raw one, which under `never`
// may never have been synced. It fails the open now, and nothing changes.
TEST_F(BothFormsTest, ATransientErrorFailsTheOpenAndDeletesNothing) {
  fs_.FailNextOpen(".sealed", absl::ResourceExhaustedError("open: Too many open files"));
  auto log = Log::Open(kDir, Options(SyncPolicy::Kind::kNever, 16 << 10));
  EXPECT_TRUE(absl::IsResourceExhausted(log.status())) << log.status();
  EXPECT_TRUE(fs_.Exists(sealed_).value());
  EXPECT_TRUE(fs_.Exists(raw_).value());
  std::unique_ptr<Log> again = OpenOrDie(SyncPolicy::Kind::kNever, 16 << 10);
  EXPECT_EQ(ReadAll(again.get()).events, events_);
  EXPECT_FALSE(fs_.Exists(raw_).value());  // the intact sealed form won
}

// A damaged sealed header next to its raw segment: the raw one stays and
// the sealed file is set aside for forensics, not deleted.
TEST_F(BothFormsTest, ADamagedSealedFormIsSetAsideAndTheRawOneRead) {
  std::string bytes = fs_.Contents(sealed_);
  bytes[30] ^= 0x01;
  fs_.SetContents(sealed_, bytes);
  std::unique_ptr<Log> log = OpenOrDie(SyncPolicy::Kind::kNever, 16 << 10);
  ASSERT_EQ(log->recovery().quarantined.size(), 1u);
  EXPECT_EQ(log->recovery().quarantined[0], sealed_ + ".damaged");
  EXPECT_TRUE(fs_.Exists(sealed_ + ".damaged").value());
  Read got = ReadAll(log.get());
  EXPECT_EQ(got.events, events_);
  EXPECT_TRUE(got.damage.empty());
}

}  // namespace
}  // namespace tracelog
