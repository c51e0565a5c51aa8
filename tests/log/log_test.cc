#include "engine/log/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <algorithm>
#include <filesystem>
#include <thread>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/format/segment_format.h"
#include "engine/log/log_config.h"
#include "engine/io/file_system.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::testing::ExpectOneCorruptionAround;
using ::tracelog::testing::MakeEvent;
using ::tracelog::testing::TempDir;

// Every event from `from` on; their sequences are `from`, `from` + 1, ...
std::vector<std::string> ReadAll(Log* log, uint64_t from = 1, uint64_t* corruptions = nullptr) {
  return testing::ReadAll(log, {.from = from,
                                .corruptions = corruptions,
                                .sequences = testing::Sequences::kConsecutiveFromFrom});
}

// Small segments that seal as they roll.
LogOptions SmallSegments(SyncPolicy::Kind kind = SyncPolicy::Kind::kNever) {
  LogOptions o = testing::SmallLogOptions(nullptr, 16 << 10, kind);
  o.seal_on_roll = true;
  return o;
}

TEST(LogTest, AppendReadBackByteForByte) {
  TempDir dir;
  auto log = Log::Open(dir.Sub("log"), LogOptions());
  ASSERT_OK(log);
  std::vector<std::string> events;
  for (int i = 0; i < 100; ++i) {
    events.push_back(MakeEvent(i, "s" + std::to_string(i % 3)));
    auto seq = (*log)->Append(events.back());
    ASSERT_OK(seq);
    EXPECT_EQ(*seq, static_cast<uint64_t>(i + 1));
  }
  EXPECT_EQ(ReadAll(log->get()), events);
  // Keys come back with the events.
  auto reader = (*log)->NewReader(ReaderOptions{5});
  LogEvent ev;
  ASSERT_TRUE(reader->Next(&ev));
  EXPECT_EQ(ev.sequence, 5u);
  EXPECT_EQ(ev.keys.session_id, "s1");
  EXPECT_EQ(ev.keys.tool_name, "Bash");
  EXPECT_EQ(ev.keys.event_id, "e4");
  EXPECT_DOUBLE_EQ(ev.timestamp, 1795440004.5);
}

TEST(LogTest, ReopenKeepsEverythingAndContinuesSequence) {
  TempDir dir;
  std::vector<std::string> events;
  for (int round = 0; round < 3; ++round) {
    auto log = Log::Open(dir.Sub("log"), SmallSegments());
    ASSERT_OK(log);
    EXPECT_EQ(ReadAll(log->get()), events);
    for (int i = 0; i < 200; ++i) {
      events.push_back(MakeEvent(events.size(), "s", i % 7 * 50));
      auto seq = (*log)->Append(events.back());
      ASSERT_OK(seq);
      EXPECT_EQ(*seq, events.size());
    }
    ASSERT_OK((*log)->Close());
  }
  auto log = Log::Open(dir.Sub("log"), SmallSegments());
  ASSERT_OK(log);
  EXPECT_TRUE((*log)->recovery().clean_shutdown);
  EXPECT_EQ(ReadAll(log->get()), events);
  LogStats st = (*log)->Stats();
  EXPECT_GT(st.segments, 5u);  // rolled many times at 16 KiB
  EXPECT_EQ(st.events, events.size());
  EXPECT_EQ(st.first_sequence, 1u);
  EXPECT_EQ(st.last_sequence, events.size());
  EXPECT_DOUBLE_EQ(st.first_timestamp, 1795440000.5);
}

TEST(LogTest, ReadFromSequenceSkipsWholeSegments) {
  TempDir dir;
  auto log = Log::Open(dir.Sub("log"), SmallSegments());
  ASSERT_OK(log);
  for (int i = 0; i < 500; ++i) ASSERT_OK((*log)->Append(MakeEvent(i)));
  auto tail = ReadAll(log->get(), 437);
  ASSERT_EQ(tail.size(), 64u);
  EXPECT_EQ(tail.front(), MakeEvent(436));
  EXPECT_TRUE(ReadAll(log->get(), 501).empty());
}

TEST(LogTest, EventLargerThanASegmentGetsItsOwnSegment) {
  TempDir dir;
  auto log = Log::Open(dir.Sub("log"), SmallSegments());
  ASSERT_OK(log);
  const std::string big = MakeEvent(1, "s", 100000);  // > 16 KiB segment
  ASSERT_OK((*log)->Append(MakeEvent(0)));
  ASSERT_OK((*log)->Append(big));
  ASSERT_OK((*log)->Append(MakeEvent(2)));
  ASSERT_OK((*log)->Close());
  log = Log::Open(dir.Sub("log"), SmallSegments());
  ASSERT_OK(log);
  EXPECT_EQ(ReadAll(log->get()), (std::vector<std::string>{MakeEvent(0), big, MakeEvent(2)}));
}

TEST(LogTest, HugeFirstEventEnlargesTheEmptySegment) {
  TempDir dir;
  auto log = Log::Open(dir.Sub("log"), SmallSegments());
  ASSERT_OK(log);
  const std::string big = MakeEvent(1, "s", 50000);
  ASSERT_OK((*log)->Append(big));
  ASSERT_OK((*log)->Close());
  log = Log::Open(dir.Sub("log"), SmallSegments());
  ASSERT_OK(log);
  EXPECT_EQ(ReadAll(log->get()), std::vector<std::string>{big});
}

TEST(LogTest, InvalidEventIsRejectedAndNothingAppended) {
  TempDir dir;
  auto log = Log::Open(dir.Sub("log"), LogOptions());
  ASSERT_OK(log);
  auto seq = (*log)->Append("[1,2,3]");
  EXPECT_TRUE(absl::IsInvalidArgument(seq.status()));
  ASSERT_OK((*log)->Append(MakeEvent(0)));
  EXPECT_EQ(ReadAll(log->get()), std::vector<std::string>{MakeEvent(0)});
}

TEST(LogTest, SecondWriterIsLockedOutButReadersMayOpen) {
  TempDir dir;
  auto writer = Log::Open(dir.Sub("log"), LogOptions());
  ASSERT_OK(writer);
  ASSERT_OK((*writer)->Append(MakeEvent(0)));
  auto second = Log::Open(dir.Sub("log"), LogOptions());
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  EXPECT_NE(second.status().message().find("locked"), absl::string_view::npos);
  LogOptions ro;
  ro.read_only = true;
  auto reader = Log::Open(dir.Sub("log"), ro);
  ASSERT_OK(reader);
  EXPECT_EQ(ReadAll(reader->get()), std::vector<std::string>{MakeEvent(0)});
  EXPECT_TRUE(absl::IsFailedPrecondition((*reader)->Append(MakeEvent(1)).status()));
}

TEST(LogTest, ClosedLogRefusesAppends) {
  TempDir dir;
  auto log = Log::Open(dir.Sub("log"), LogOptions());
  ASSERT_OK(log);
  ASSERT_OK((*log)->Close());
  EXPECT_TRUE(absl::IsFailedPrecondition((*log)->Append(MakeEvent(0)).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition((*log)->Close()));
}

TEST(LogTest, FilesAre0600AndDirectory0700) {
  TempDir dir;
  auto log = Log::Open(dir.Sub("log"), LogOptions());
  ASSERT_OK(log);
  ASSERT_OK((*log)->Append(MakeEvent(0)));
  ASSERT_OK((*log)->Close());
  struct stat st;
  ASSERT_EQ(stat(dir.Sub("log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  for (const auto& e : std::filesystem::directory_iterator(dir.Sub("log"))) {
    ASSERT_EQ(stat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << e.path();
  }
}

TEST(LogTest, ReadOnlyOpenOfMissingLogIsNotFound) {
  TempDir dir;
  LogOptions o;
  o.read_only = true;
  auto log = Log::Open(dir.Sub("nope"), o);
  EXPECT_TRUE(absl::IsNotFound(log.status()));
}

// The bytes of the record `event` would be as sequence `seq`.
std::string RecordBytes(const std::string& event, uint64_t seq) {
  PreparedEvent p;
  EXPECT_TRUE(PrepareEvent(event, &p).ok());
  std::string rec(RecordSize(p.keys.size(), event.size()), '\0');
  EncodeRecord(rec.data(), seq, p.flags, p.timestamp, p.keys, event, p.checksum);
  return rec;
}

TEST(LogTest, TornTailInActiveSegmentIsCutOnOpen) {
  TempDir dir;
  const std::string seg_path = dir.Sub("log/") + SegmentFileName(1);
  uint64_t end = 0;
  {
    auto log = Log::Open(dir.Sub("log"), SmallSegments());
    ASSERT_OK(log);
    for (int i = 0; i < 4; ++i) ASSERT_OK((*log)->Append(MakeEvent(i)));
    end = (*log)->Stats().active_used_bytes;
    ASSERT_OK((*log)->Close());
  }
  // The process died while writing a fifth record: its first half is there.
  std::string bytes = testing::ReadFileOrEmpty(seg_path);
  const std::string torn = RecordBytes(MakeEvent(4), 5);
  bytes.replace(end, torn.size() / 2, torn.substr(0, torn.size() / 2));
  testing::WriteFileOrDie(seg_path, bytes);
  auto log = Log::Open(dir.Sub("log"), SmallSegments());
  ASSERT_OK(log);
  EXPECT_NE((*log)->recovery().truncation_reason.find("event checksum mismatch"),
            std::string::npos) << (*log)->recovery().truncation_reason;
  EXPECT_TRUE((*log)->recovery().damage.empty());  // a torn write is not damage
  EXPECT_EQ(ReadAll(log->get()).size(), 4u);
  // Appends continue at sequence 5 (the torn record was never complete, so
  // never seen), and the tail after them is clean.
  auto seq = (*log)->Append(MakeEvent(99));
  ASSERT_OK(seq);
  EXPECT_EQ(*seq, 5u);
  ASSERT_OK((*log)->Close());
  log = Log::Open(dir.Sub("log"), SmallSegments());
  ASSERT_OK(log);
  uint64_t corruptions = 0;
  auto events = ReadAll(log->get(), 1, &corruptions);
  EXPECT_EQ(corruptions, 0u);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events.back(), MakeEvent(99));
}

// A damaged last record that a checkpoint vouches for is damage, not a torn
// write: reported, and its sequence number is not given again.
TEST(LogTest, DamagedLastRecordIsReportedAndItsSequenceNotReused) {
  TempDir dir;
  const std::string seg_path = dir.Sub("log/") + SegmentFileName(1);
  {
    auto log = Log::Open(dir.Sub("log"), SmallSegments());
    ASSERT_OK(log);
    for (int i = 0; i < 5; ++i) ASSERT_OK((*log)->Append(MakeEvent(i)));
    ASSERT_OK((*log)->Close());
  }
  std::string bytes = testing::ReadFileOrEmpty(seg_path);
  const size_t last_start = bytes.rfind("{\"event_type\"");
  bytes[last_start + 5] ^= 0x20;
  testing::WriteFileOrDie(seg_path, bytes);
  auto log = Log::Open(dir.Sub("log"), SmallSegments());
  ASSERT_OK(log);
  std::vector<Corruption> seen;
  ReaderOptions ro;
  ro.reporter = [&](const Corruption& c) { seen.push_back(c); };
  auto reader = (*log)->NewReader(ro);
  LogEvent ev;
  uint64_t n = 0;
  while (reader->Next(&ev)) ++n;
  EXPECT_EQ(n, 4u);
  ExpectOneCorruptionAround(seen, seg_path, last_start + 5);
  auto seq = (*log)->Append(MakeEvent(99));
  ASSERT_OK(seq);
  EXPECT_EQ(*seq, 6u);
}

// Without any CHECKPOINT, recovery cannot tell whether the machine rebooted
// since the last append, nor what a torn tail held: it continues above
// every sequence the segment could have held, and says so in a gap file.
TEST(LogTest, WithoutACheckpointAnUncertainTailSkipsNumbersNeverReusesThem) {
  TempDir dir;
  const std::string seg_path = dir.Sub("log/") + SegmentFileName(1);
  {
    auto log = Log::Open(dir.Sub("log"), SmallSegments());
    ASSERT_OK(log);
    for (int i = 0; i < 5; ++i) ASSERT_OK((*log)->Append(MakeEvent(i)));
    ASSERT_OK((*log)->Close());
  }
  std::string bytes = testing::ReadFileOrEmpty(seg_path);
  bytes[bytes.rfind("{\"event_type\"") + 5] ^= 0x20;
  testing::WriteFileOrDie(seg_path, bytes);
  std::filesystem::remove(dir.Sub("log/CHECKPOINT"));
  auto log = Log::Open(dir.Sub("log"), SmallSegments());
  ASSERT_OK(log);
  ASSERT_EQ((*log)->recovery().gaps.size(), 1u);
  EXPECT_EQ((*log)->recovery().gaps[0].first, 5u);
  auto seq = (*log)->Append(MakeEvent(99));
  ASSERT_OK(seq);
  EXPECT_EQ(*seq, (*log)->recovery().gaps[0].end);
  EXPECT_GT(*seq, 5u);
  std::vector<GapRecord> gaps;
  ReaderOptions ro;
  ro.gap_reporter = [&](const GapRecord& g) { gaps.push_back(g); };
  auto reader = (*log)->NewReader(ro);
  LogEvent ev;
  std::vector<uint64_t> seqs;
  while (reader->Next(&ev)) seqs.push_back(ev.sequence);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2, 3, 4, *seq}));
  EXPECT_EQ(reader->corruptions(), 0u);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0].reason, GapReason::kSkipped);
}

TEST(LogTest, DamageInsideAnOldSegmentIsReportedAndSkipped) {
  TempDir dir;
  {
    LogOptions raw_only = SmallSegments();
    raw_only.seal_on_roll = false;  // the damage goes into a raw segment
    auto log = Log::Open(dir.Sub("log"), raw_only);
    ASSERT_OK(log);
    for (int i = 0; i < 300; ++i) ASSERT_OK((*log)->Append(MakeEvent(i)));
    ASSERT_OK((*log)->Close());
  }
  const std::string seg = dir.Sub("log/") + SegmentFileName(1);
  std::string bytes = testing::ReadFileOrEmpty(seg);
  const size_t at = bytes.find(MakeEvent(10));
  ASSERT_NE(at, std::string::npos);
  bytes[at + 20] ^= 0x01;
  testing::WriteFileOrDie(seg, bytes);
  auto log = Log::Open(dir.Sub("log"), SmallSegments());
  ASSERT_OK(log);
  std::vector<Corruption> seen;
  ReaderOptions ro;
  ro.reporter = [&](const Corruption& c) { seen.push_back(c); };
  auto reader = (*log)->NewReader(ro);
  LogEvent ev;
  std::vector<uint64_t> seqs;
  while (reader->Next(&ev)) {
    EXPECT_EQ(ev.event, MakeEvent(ev.sequence - 1));  // never a damaged event
    seqs.push_back(ev.sequence);
  }
  EXPECT_EQ(seqs.size(), 299u);
  EXPECT_EQ(std::count(seqs.begin(), seqs.end(), 11u), 0);
  ExpectOneCorruptionAround(seen, seg, at);
}

TEST(LogTest, SegmentWithBadHeaderIsReportedNotFatalToReaders) {
  TempDir dir;
  {
    LogOptions raw_only = SmallSegments();
    raw_only.seal_on_roll = false;  // the damage goes into a raw segment
    auto log = Log::Open(dir.Sub("log"), raw_only);
    ASSERT_OK(log);
    for (int i = 0; i < 300; ++i) ASSERT_OK((*log)->Append(MakeEvent(i)));
    ASSERT_OK((*log)->Close());
  }
  const std::string seg = dir.Sub("log/") + SegmentFileName(1);
  std::string bytes = testing::ReadFileOrEmpty(seg);
  bytes[0] = 'X';
  testing::WriteFileOrDie(seg, bytes);
  LogOptions o = SmallSegments();
  o.read_only = true;
  auto log = Log::Open(dir.Sub("log"), o);
  ASSERT_OK(log);
  std::vector<Corruption> seen;
  ReaderOptions ro;
  ro.reporter = [&](const Corruption& c) { seen.push_back(c); };
  auto reader = (*log)->NewReader(ro);
  LogEvent ev;
  uint64_t n = 0;
  while (reader->Next(&ev)) ++n;
  EXPECT_EQ(n, 300u);  // the records carry their own checksums
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_NE(seen[0].reason.find("bad magic"), std::string::npos) << seen[0].reason;
  EXPECT_EQ(seen[0].begin, 0u);
  EXPECT_EQ(seen[0].end, kSegmentHeaderSize);
}

// Issue 14, point 3: a flipped bit in the header of the segment the
// checkpoint names used to discard that segment and every later one, and
// appends then reused their sequence numbers. The records carry their own
// checksums: only the header is damaged, and only it is reported.
TEST(LogTest, DamagedHeaderOfTheActiveSegmentLosesNoEventAndReusesNoSequence) {
  TempDir dir;
  {
    LogOptions raw_only = SmallSegments();
    raw_only.seal_on_roll = false;  // the segment count below is of raw segments
    auto log = Log::Open(dir.Sub("log"), raw_only);
    ASSERT_OK(log);
    for (int i = 0; i < 400; ++i) ASSERT_OK((*log)->Append(MakeEvent(i, "s", 100)));
    ASSERT_OK((*log)->Close());  // the clean checkpoint names the last segment
  }
  std::vector<std::string> segs;
  for (const auto& e : std::filesystem::directory_iterator(dir.Sub("log"))) {
    if (e.path().extension() == ".seg") segs.push_back(e.path());
  }
  std::sort(segs.begin(), segs.end());
  ASSERT_GT(segs.size(), 3u);
  std::string bytes = testing::ReadFileOrEmpty(segs.back());
  bytes[40] ^= 0x01;  // a reserved byte, under the header checksum
  testing::WriteFileOrDie(segs.back(), bytes);

  LogOptions ro = SmallSegments();
  ro.read_only = true;
  auto reader = Log::Open(dir.Sub("log"), ro);
  ASSERT_OK(reader);
  uint64_t corruptions = 0;
  const auto all = ReadAll(reader->get(), 1, &corruptions);
  ASSERT_EQ(all.size(), 400u);
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], MakeEvent(i, "s", 100));
  EXPECT_EQ(corruptions, 1u);  // the header, once

  auto writer = Log::Open(dir.Sub("log"), SmallSegments());
  ASSERT_OK(writer);
  ASSERT_EQ((*writer)->recovery().damage.size(), 1u);
  EXPECT_EQ((*writer)->recovery().damage[0].file, segs.back());
  EXPECT_EQ(ReadAll(writer->get()), all);
  // Not appended into the file with the damaged header: a new segment.
  auto seq = (*writer)->Append(MakeEvent(9999));
  ASSERT_OK(seq);
  EXPECT_EQ(*seq, 401u);
  EXPECT_TRUE(std::filesystem::exists(dir.Sub("log/") + SegmentFileName(401)));
}

TEST(LogTest, SegmentsRollByAge) {
  TempDir dir;
  LogOptions o = SmallSegments();
  o.segment_size = 1 << 20;
  o.segment_max_age_ms = 1;  // the background thread checks about once a second
  auto log = Log::Open(dir.Sub("log"), o);
  ASSERT_OK(log);
  ASSERT_OK((*log)->Append(MakeEvent(0)));
  for (int i = 0; i < 60 && (*log)->Stats().segments < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ((*log)->Stats().segments, 2u);
  ASSERT_OK((*log)->Append(MakeEvent(1)));
  EXPECT_EQ(ReadAll(log->get()), (std::vector<std::string>{MakeEvent(0), MakeEvent(1)}));
}

int OpenFds() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)e;
    ++n;
  }
  return n;
}

TEST(LogTest, FileDescriptorsStayBoundedWithManySegments) {
  TempDir dir;
  auto log = Log::Open(dir.Sub("log"), SmallSegments());
  ASSERT_OK(log);
  const int before = OpenFds();
  int peak = 0;
  for (int i = 0; i < 3000; ++i) {
    ASSERT_OK((*log)->Append(MakeEvent(i, "s", 100)));
    if (i % 100 == 0) peak = std::max(peak, OpenFds());
  }
  // Under `never` rolled segments wait for their sync, each with its
  // descriptor, but only up to a fixed number.
  // At most 2 x 16 pending plus the set a sync is working through.
  EXPECT_LE(peak, before + 4 * 16 + 4);
  ASSERT_OK((*log)->Sync());
  ASSERT_GT((*log)->Stats().segments, 40u);
  EXPECT_EQ(ReadAll(log->get()).size(), 3000u);  // maps every segment
  EXPECT_LE(OpenFds(), before + 2) << "descriptors must not grow with the segment count";
}

TEST(LogTest, AlwaysPolicyGroupsConcurrentAppendsIntoFewerSyncs) {
  TempDir dir;
  LogOptions o;
  o.sync.kind = SyncPolicy::Kind::kAlways;
  auto log = Log::Open(dir.Sub("log"), o);
  ASSERT_OK(log);
  const uint64_t syncs_before = (*log)->Stats().syncs;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) ASSERT_OK((*log)->Append(MakeEvent(t * 1000 + i)));
    });
  }
  for (auto& t : threads) t.join();
  const LogStats st = (*log)->Stats();
  EXPECT_EQ(st.durable_sequence, 320u);  // every acknowledged event is durable
  EXPECT_LT(st.syncs - syncs_before, 320u) << "group commit shares fdatasyncs";
}

TEST(LogTest, ReadOnlyOpenSeesAConsistentPrefixWhileAWriterAppends) {
  TempDir dir;
  auto writer = Log::Open(dir.Sub("log"), SmallSegments());
  ASSERT_OK(writer);
  std::atomic<bool> done{false};
  std::thread t([&] {
    for (int i = 0; i < 2000; ++i) ASSERT_OK((*writer)->Append(MakeEvent(i, "s", i % 300)));
    done = true;
  });
  LogOptions ro = SmallSegments();
  ro.read_only = true;
  int opens = 0;
  while (!done || opens < 3) {
    auto reader = Log::Open(dir.Sub("log"), ro);
    ASSERT_OK(reader);
    uint64_t corruptions = 0;
    auto events = ReadAll(reader->get(), 1, &corruptions);
    EXPECT_EQ(corruptions, 0u);
    for (size_t i = 0; i < events.size(); ++i) ASSERT_EQ(events[i], MakeEvent(i, "s", i % 300));
    ++opens;
  }
  t.join();
}

TEST(SyncPolicyTest, ParsesAndPrints) {
  EXPECT_EQ(SyncPolicy::Parse("always")->kind, SyncPolicy::Kind::kAlways);
  EXPECT_EQ(SyncPolicy::Parse("never")->kind, SyncPolicy::Kind::kNever);
  auto i = SyncPolicy::Parse("interval:250");
  ASSERT_OK(i);
  EXPECT_EQ(i->value, 250u);
  EXPECT_EQ(i->ToString(), "interval:250");
  auto b = SyncPolicy::Parse("bytes:4m");
  ASSERT_OK(b);
  EXPECT_EQ(b->value, 4u << 20);
  for (const char* bad : {"sometimes", "interval:", "interval:0", "bytes:x", ""}) {
    EXPECT_TRUE(absl::IsInvalidArgument(SyncPolicy::Parse(bad).status())) << bad;
  }
  EXPECT_EQ(SyncPolicy::Default().ToString(), "interval:100");
}

TEST(LogConfigTest, SavesAndLoadsPolicyAndRejectsGarbageWithLine) {
  TempDir dir;
  LogConfig c;
  c.sync = *SyncPolicy::Parse("bytes:1024");
  ASSERT_OK(SaveLogConfig(DefaultFileSystem(), dir.path(), c));
  auto loaded = LoadLogConfig(DefaultFileSystem(), dir.path());
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->sync.ToString(), "bytes:1024");
  testing::WriteFileOrDie(dir.Sub("CONFIG"), "fsync=always\ncolour=blue\n");
  auto bad = LoadLogConfig(DefaultFileSystem(), dir.path());
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_NE(bad.status().message().find("CONFIG:2"), absl::string_view::npos) << bad.status();
}

TEST(LogConfigTest, RedactionSettingsRoundTripAndBadOnesNameTheLine) {
  TempDir dir;
  testing::WriteFileOrDie(dir.Sub("CONFIG"),
                          "fsync=always\nredact = off\nredact_key=x_internal\n"
                          "redact_pattern = corp-[0-9]{6}\n");
  auto loaded = LoadLogConfig(DefaultFileSystem(), dir.path());
  ASSERT_OK(loaded);
  EXPECT_FALSE(loaded->redact);
  EXPECT_EQ(loaded->redact_keys, std::vector<std::string>{"x_internal"});
  EXPECT_EQ(loaded->redact_patterns, std::vector<std::string>{"corp-[0-9]{6}"});
  ASSERT_OK(SaveLogConfig(DefaultFileSystem(), dir.path(), *loaded));
  auto again = LoadLogConfig(DefaultFileSystem(), dir.path());
  ASSERT_OK(again);
  EXPECT_FALSE(again->redact);
  EXPECT_EQ(again->redact_patterns, loaded->redact_patterns);
  // The defaults are not written (older versions refuse unknown settings).
  ASSERT_OK(SaveLogConfig(DefaultFileSystem(), dir.path(), LogConfig()));
  EXPECT_EQ(testing::ReadFileOrEmpty(dir.Sub("CONFIG")).find("redact"), std::string::npos);
  for (const char* bad : {"redact=maybe\n", "redact_key=\n"}) {
    testing::WriteFileOrDie(dir.Sub("CONFIG"), std::string("fsync=always\n") + bad);
    auto refused = LoadLogConfig(DefaultFileSystem(), dir.path());
    EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << bad;
    EXPECT_NE(refused.status().message().find("CONFIG:2"), absl::string_view::npos) << refused.status();
  }
}

}  // namespace
}  // namespace tracelog

namespace tracelog {
namespace {

// Issue 14, point 8: a page of a mapped segment that cannot be read is
// SIGBUS, which killed verify, dump and the sealer. A file shortened under
// its mapping faults the same way as an I/O error on the page does.
TEST(LogTest, AnUnreadablePageIsReportedNotACrash) {
  TempDir dir;
  LogOptions o = SmallSegments();
  o.seal_on_roll = false;  // the raw segment is what the sealer reads
  auto log = Log::Open(dir.Sub("log"), o);
  ASSERT_OK(log);
  for (int i = 0; i < 300; ++i) ASSERT_OK((*log)->Append(MakeEvent(i, "s", 100)));
  const std::string first = dir.Sub("log/") + SegmentFileName(1);
  ASSERT_EQ(::truncate(first.c_str(), 8192), 0);  // the writer's mapping is 16 KiB
  std::vector<Corruption> seen;
  ReaderOptions ro;
  ro.reporter = [&](const Corruption& c) { seen.push_back(c); };
  auto reader = (*log)->NewReader(ro);
  LogEvent ev;
  std::vector<uint64_t> seqs;
  while (reader->Next(&ev)) {
    EXPECT_EQ(ev.event, MakeEvent(ev.sequence - 1, "s", 100));
    seqs.push_back(ev.sequence);
  }
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen[0].file, first);
  EXPECT_EQ(seen[0].begin, 8192u);
  EXPECT_NE(seen[0].reason.find("cannot be read"), std::string::npos) << seen[0].reason;
  EXPECT_GT(seqs.size(), 200u);  // the other segments, and the first one's readable part
  EXPECT_EQ(seqs.back(), 300u);
  // The sealer refuses the segment it cannot read, and seals the others.
  const absl::Status sealed = (*log)->SealAll();
  EXPECT_TRUE(absl::IsDataLoss(sealed)) << sealed;
  EXPECT_NE(sealed.message().find(first), std::string::npos) << sealed;
}

}  // namespace
}  // namespace tracelog

namespace tracelog {
namespace {

// Issue 14, point 9: the sealer stores block sizes in 32 bits, so an event
// near 4 GiB made an undecodable block. Appends refuse events over the
// documented maximum (64 MiB) instead.
TEST(LogTest, AnEventOverTheMaximumSizeIsRefusedAndNothingAppended) {
  TempDir dir;
  auto log = Log::Open(dir.Sub("log"), SmallSegments());
  ASSERT_OK(log);
  ASSERT_OK((*log)->Append(MakeEvent(0)));
  std::string big = R"({"event_type":"tool_result","data":")";
  big.append(kMaxEventSize, 'x');
  big += R"("})";
  auto refused = (*log)->Append(big);
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("maximum"), std::string::npos);
  PreparedEvent p;
  EXPECT_TRUE(absl::IsInvalidArgument(PrepareEvent(big, &p)));
  auto next = (*log)->Append(MakeEvent(1));
  ASSERT_OK(next);
  EXPECT_EQ(*next, 2u);
  EXPECT_EQ(ReadAll(log->get()).size(), 2u);
}

}  // namespace
}  // namespace tracelog
