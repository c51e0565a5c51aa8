// SegmentScanner (engine/segment/segment_scanner.h) over segment bytes built
// in memory with the segment format's encoder, then damaged: each kind of
// damage the scanner reports, the byte range and reason it gives, what it
// returns around the damage, and how the bounds (last sequence, data end,
// lookahead, search window) change what counts as damage. No Log is opened;
// the unreadable page is a mapping of memory files (memfd).

#include "engine/segment/segment_scanner.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/format/segment_format.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::testing::FixRecordHeaderChecksum;
using ::tracelog::testing::SegmentRecords;
using Mode = SegmentScanner::Mode;

constexpr char kFile[] = "00000000000000000001.seg";

// A segment as the writer lays it out: its header (base `base`), the
// records, then `zeros` bytes of the preallocated, unwritten tail.
std::string Segment(const std::string& records, uint64_t base = 1, size_t zeros = 0) {
  std::string out(kSegmentHeaderSize, '\0');
  EncodeSegmentHeader(SegmentHeader{base, kSegmentHeaderSize + records.size() + zeros, 0},
                      out.data());
  out += records;
  out.append(zeros, '\0');
  return out;
}

// Where each record of a clean segment starts, and (last) where they end.
std::vector<size_t> Offsets(const std::string& segment) {
  std::vector<size_t> at;
  size_t off = kSegmentHeaderSize;
  RecordView r;
  while (DecodeRecord(segment, off, &r) == RecordStatus::kOk) {
    at.push_back(off);
    off += r.size;
  }
  at.push_back(off);
  return at;
}

// Where the event bytes of the record at `off` start.
size_t EventOffset(const std::string& segment, size_t off) {
  RecordView r;
  EXPECT_EQ(DecodeRecord(segment, off, &r), RecordStatus::kOk);
  return static_cast<size_t>(r.event.data() - segment.data());
}

// What a whole scan returned, reported and said at its end.
struct Scanned {
  std::vector<uint64_t> sequences;
  std::vector<std::string> events;
  std::vector<Corruption> damage;
  uint64_t offset = 0;
  uint64_t records_end = 0;
  uint64_t corruptions = 0;
  bool stopped_at_damage = false;
  RecordStatus stop_status = RecordStatus::kOk;
  std::string stop_reason;
};

Scanned Scan(absl::string_view data, Mode mode, ScanBounds bounds = ScanBounds(),
             uint64_t expected = 1, uint64_t limit = ~uint64_t{0}) {
  Scanned s;
  SegmentScanner sc(
      kFile, data, kSegmentHeaderSize, std::min<uint64_t>(limit, data.size()), expected, mode,
      [&s](const Corruption& c) { s.damage.push_back(c); }, bounds);
  RecordView r;
  while (sc.Next(&r)) {
    s.sequences.push_back(r.sequence);
    s.events.emplace_back(r.event);
  }
  s.offset = sc.offset();
  s.records_end = sc.records_end();
  s.corruptions = sc.corruptions();
  s.stopped_at_damage = sc.stopped_at_damage();
  s.stop_status = sc.stop_status();
  s.stop_reason = sc.stop_reason();
  // Every damaged range counted is reported, and only in kSkipDamage mode.
  EXPECT_EQ(s.corruptions, s.damage.size());
  if (mode == Mode::kStopAtDamage) {
    EXPECT_TRUE(s.damage.empty());
  }
  return s;
}

// The event SegmentRecords() writes as its record number i (0-based).
std::string EventNumber(int i) {
  return "{\"event_type\":\"tool_call\",\"n\":" + std::to_string(i) + "}";
}

using Seqs = std::vector<uint64_t>;

// ---- Moved from tests/format/segment_format_test.cc ------------------------

TEST(SegmentScannerTest, SkipModeReportsDamageWithOffsetsAndResyncs) {
  std::string data = SegmentRecords(5);
  RecordView r;
  ASSERT_EQ(DecodeRecord(data, 0, &r), RecordStatus::kOk);
  const size_t second = r.size;
  data[second + kRecordHeaderSize + 10] ^= 0x55;  // damage record 2's keys/event
  std::vector<Corruption> seen;
  SegmentScanner sc("seg-file", data, 0, data.size(), 1, SegmentScanner::Mode::kSkipDamage,
                    [&](const Corruption& c) { seen.push_back(c); });
  std::vector<uint64_t> seqs;
  while (sc.Next(&r)) seqs.push_back(r.sequence);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 3, 4, 5}));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].file, "seg-file");
  EXPECT_EQ(seen[0].begin, second);
  EXPECT_GT(seen[0].end, second);
  EXPECT_NE(seen[0].ToString().find("seg-file: damaged bytes ["), std::string::npos);
}

TEST(SegmentScannerTest, StopModeEndsAtUnexpectedSequence) {
  const std::string data = SegmentRecords(2, 1) + SegmentRecords(2, 10);
  SegmentScanner sc("f", data, 0, data.size(), 1, SegmentScanner::Mode::kStopAtDamage);
  RecordView r;
  int n = 0;
  while (sc.Next(&r)) ++n;
  EXPECT_EQ(n, 2);
  EXPECT_NE(sc.stop_status(), RecordStatus::kEndOfData);
  EXPECT_EQ(sc.expected_sequence(), 3u);
}

TEST(SegmentScannerTest, RandomDamageNeverCrashesOrReturnsBadRecords) {
  const std::string clean = SegmentRecords(40);
  std::mt19937_64 rng(12345);
  for (int iter = 0; iter < 300; ++iter) {
    std::string data = clean;
    const int flips = 1 + rng() % 8;
    for (int f = 0; f < flips; ++f) data[rng() % data.size()] = static_cast<char>(rng());
    SegmentScanner sc("f", data, 0, data.size(), 1, SegmentScanner::Mode::kSkipDamage,
                      [](const Corruption&) {});
    RecordView r;
    uint64_t last = 0;
    while (sc.Next(&r)) {
      ASSERT_GT(r.sequence, last);
      last = r.sequence;
      // Every returned event is byte-identical to what was written.
      ASSERT_EQ(r.event, "{\"event_type\":\"tool_call\",\"n\":" + std::to_string(r.sequence - 1) + "}");
    }
  }
}

// ---- Each kind of damage, in memory ------------------------------------------

// An intact segment, under every kind of bounds, in both modes: no damage,
// every record, and the scan ends at the end of the records.
TEST(SegmentScannerTest, AnIntactSegmentIsNeverDamageWhateverTheBounds) {
  const std::string data = Segment(SegmentRecords(5), 1, 4096);
  const std::vector<size_t> at = Offsets(data);
  ASSERT_EQ(at.size(), 6u);
  ScanBounds rolled;
  rolled.last_sequence = 5;
  ScanBounds published;
  published.limit_is_data_end = true;
  ScanBounds recovery;
  recovery.lookahead = 64 << 10;
  recovery.search_window = 1 << 20;
  for (Mode mode : {Mode::kSkipDamage, Mode::kStopAtDamage}) {
    for (const auto& [bounds, limit] :
         {std::pair{ScanBounds(), data.size()}, std::pair{rolled, data.size()},
          std::pair{published, at[5]}, std::pair{recovery, data.size()}}) {
      SCOPED_TRACE(absl::StrCat("mode ", static_cast<int>(mode), ", limit ", limit));
      const Scanned s = Scan(data, mode, bounds, 1, limit);
      EXPECT_EQ(s.sequences, (Seqs{1, 2, 3, 4, 5}));
      EXPECT_TRUE(s.damage.empty()) << s.damage[0].ToString();
      EXPECT_FALSE(s.stopped_at_damage);
      EXPECT_EQ(s.stop_status, RecordStatus::kEndOfData);
      EXPECT_EQ(s.stop_reason, "");
      EXPECT_EQ(s.offset, at[5]);
      EXPECT_EQ(s.records_end, at[5]);
    }
  }
}

// A flipped event byte: the header (and so the record's length) is intact,
// so exactly that record is lost and reported, byte range and all.
TEST(SegmentScannerTest, ABadEventChecksumCostsThatRecordOnly) {
  const std::string clean = Segment(SegmentRecords(5));
  const std::vector<size_t> at = Offsets(clean);
  std::string data = clean;
  data[EventOffset(clean, at[2]) + 5] ^= 0x20;

  const Scanned s = Scan(data, Mode::kSkipDamage);
  EXPECT_EQ(s.sequences, (Seqs{1, 2, 4, 5}));
  EXPECT_EQ(s.events, (std::vector<std::string>{EventNumber(0), EventNumber(1), EventNumber(3),
                                                EventNumber(4)}));
  ASSERT_EQ(s.damage.size(), 1u);
  EXPECT_EQ(s.damage[0].file, kFile);
  EXPECT_EQ(s.damage[0].begin, at[2]);
  EXPECT_EQ(s.damage[0].end, at[3]);
  EXPECT_EQ(s.damage[0].reason, "event checksum mismatch; skipped to sequence 4 (1 missing)");
  EXPECT_FALSE(s.damage[0].at_end);
  EXPECT_EQ(s.records_end, at[5]);

  // Without a reporter the damage is counted and skipped all the same.
  SegmentScanner quiet(kFile, data, kSegmentHeaderSize, data.size(), 1, Mode::kSkipDamage);
  RecordView r;
  Seqs seqs;
  while (quiet.Next(&r)) seqs.push_back(r.sequence);
  EXPECT_EQ(seqs, (Seqs{1, 2, 4, 5}));
  EXPECT_EQ(quiet.corruptions(), 1u);

  // The sealer's mode stops there and says why and where.
  const Scanned stop = Scan(data, Mode::kStopAtDamage);
  EXPECT_EQ(stop.sequences, (Seqs{1, 2}));
  EXPECT_TRUE(stop.stopped_at_damage);
  EXPECT_EQ(stop.stop_status, RecordStatus::kBadEventChecksum);
  EXPECT_EQ(stop.stop_reason, absl::StrCat("event checksum mismatch at offset ", at[2]));
  EXPECT_EQ(stop.offset, at[2]);
  EXPECT_EQ(stop.records_end, at[2]);
  EXPECT_EQ(stop.corruptions, 0u);
}

// A flipped header byte: the lengths cannot be trusted, so the scanner
// searches for the next intact record, and finds the very next one.
TEST(SegmentScannerTest, ABadHeaderChecksumResynchronisesOnTheNextIntactRecord) {
  const std::string clean = Segment(SegmentRecords(5));
  const std::vector<size_t> at = Offsets(clean);
  for (size_t field : {size_t{0}, size_t{16}, size_t{24}, size_t{32}, size_t{40},
                       kRecordHeaderSize + 2}) {  // checksum, lengths, sequence, time, keys
    SCOPED_TRACE(absl::StrCat("byte ", field, " of the record"));
    std::string data = clean;
    data[at[2] + field] ^= 0x01;
    const Scanned s = Scan(data, Mode::kSkipDamage);
    EXPECT_EQ(s.sequences, (Seqs{1, 2, 4, 5}));
    ASSERT_EQ(s.damage.size(), 1u);
    EXPECT_EQ(s.damage[0].begin, at[2]);
    EXPECT_EQ(s.damage[0].end, at[3]);
    EXPECT_EQ(s.damage[0].reason,
              "record header checksum mismatch; skipped to sequence 4 (1 missing)");

    const Scanned stop = Scan(data, Mode::kStopAtDamage);
    EXPECT_EQ(stop.sequences, (Seqs{1, 2}));
    EXPECT_EQ(stop.stop_status, RecordStatus::kBadHeaderChecksum);
    EXPECT_EQ(stop.stop_reason, absl::StrCat("record header checksum mismatch at offset ", at[2]));
  }
}

TEST(SegmentScannerTest, ABadMagicIsDamage) {
  const std::string clean = Segment(SegmentRecords(5));
  const std::vector<size_t> at = Offsets(clean);
  std::string data = clean;
  std::memcpy(data.data() + at[2] + 8, "XXXX", 4);
  const Scanned s = Scan(data, Mode::kSkipDamage);
  EXPECT_EQ(s.sequences, (Seqs{1, 2, 4, 5}));
  ASSERT_EQ(s.damage.size(), 1u);
  EXPECT_EQ(s.damage[0].begin, at[2]);
  EXPECT_EQ(s.damage[0].end, at[3]);
  EXPECT_EQ(s.damage[0].reason, "bad record magic; skipped to sequence 4 (1 missing)");

  const Scanned stop = Scan(data, Mode::kStopAtDamage);
  EXPECT_EQ(stop.stop_status, RecordStatus::kBadMagic);
  EXPECT_EQ(stop.stop_reason, absl::StrCat("bad record magic at offset ", at[2]));
}

// Garbage over two whole records: one damaged range, both records lost,
// the scan goes on with the first intact record after them.
TEST(SegmentScannerTest, GarbageOverSeveralRecordsIsOneRangeAndCostsOnlyThem) {
  const std::string clean = Segment(SegmentRecords(6));
  const std::vector<size_t> at = Offsets(clean);
  std::string data = clean;
  std::memset(data.data() + at[1], 0x5a, at[3] - at[1]);
  const Scanned s = Scan(data, Mode::kSkipDamage);
  EXPECT_EQ(s.sequences, (Seqs{1, 4, 5, 6}));
  ASSERT_EQ(s.damage.size(), 1u);
  EXPECT_EQ(s.damage[0].begin, at[1]);
  EXPECT_EQ(s.damage[0].end, at[3]);
  EXPECT_EQ(s.damage[0].reason, "bad record magic; skipped to sequence 4 (2 missing)");
  EXPECT_EQ(s.records_end, at[6]);
}

// Stray bytes where a record should start (a record boundary shifted by
// them): only they are damage; the record right after them is found.
TEST(SegmentScannerTest, StrayBytesBeforeARecordCostNoRecord) {
  const std::string data =
      Segment(SegmentRecords(2, 1) + std::string(8, '\xff') + SegmentRecords(3, 3));
  const size_t stray = kSegmentHeaderSize + SegmentRecords(2, 1).size();
  const Scanned s = Scan(data, Mode::kSkipDamage);
  EXPECT_EQ(s.sequences, (Seqs{1, 2, 3, 4, 5}));
  ASSERT_EQ(s.damage.size(), 1u);
  EXPECT_EQ(s.damage[0].begin, stray);
  EXPECT_EQ(s.damage[0].end, stray + 8);
  EXPECT_EQ(s.damage[0].reason, "bad record magic; skipped to sequence 3");
  EXPECT_EQ(s.records_end, data.size());
}

// Two damaged places: each is its own range; nothing between them is lost.
TEST(SegmentScannerTest, TwoDamagedRecordsAreTwoRanges) {
  const std::string clean = Segment(SegmentRecords(7));
  const std::vector<size_t> at = Offsets(clean);
  std::string data = clean;
  data[at[1] + 30] ^= 0x08;                     // record 2's header
  data[EventOffset(clean, at[4]) + 1] ^= 0x08;  // record 5's event
  const Scanned s = Scan(data, Mode::kSkipDamage);
  EXPECT_EQ(s.sequences, (Seqs{1, 3, 4, 6, 7}));
  ASSERT_EQ(s.damage.size(), 2u);
  EXPECT_EQ(s.damage[0].begin, at[1]);
  EXPECT_EQ(s.damage[0].end, at[2]);
  EXPECT_EQ(s.damage[1].begin, at[4]);
  EXPECT_EQ(s.damage[1].end, at[5]);
}

// A type without the skippable bit is damage; with it the record is
// stepped over silently and the sequence goes on after it.
TEST(SegmentScannerTest, AnUnknownTypeIsDamageUnlessSkippable) {
  const std::string clean = Segment(SegmentRecords(5));
  const std::vector<size_t> at = Offsets(clean);
  std::string data = clean;
  data[at[2] + 12] = 7;
  FixRecordHeaderChecksum(&data, at[2]);
  const Scanned s = Scan(data, Mode::kSkipDamage);
  EXPECT_EQ(s.sequences, (Seqs{1, 2, 4, 5}));
  ASSERT_EQ(s.damage.size(), 1u);
  EXPECT_EQ(s.damage[0].begin, at[2]);
  EXPECT_EQ(s.damage[0].end, at[3]);
  EXPECT_EQ(s.damage[0].reason, "unknown record type; skipped to sequence 4 (1 missing)");
  const Scanned stop = Scan(data, Mode::kStopAtDamage);
  EXPECT_EQ(stop.sequences, (Seqs{1, 2}));
  EXPECT_EQ(stop.stop_status, RecordStatus::kUnknownType);

  data[at[2] + 12] = static_cast<char>(kRecordTypeSkippableBit | 7);
  FixRecordHeaderChecksum(&data, at[2]);
  for (Mode mode : {Mode::kSkipDamage, Mode::kStopAtDamage}) {
    const Scanned skip = Scan(data, mode);
    EXPECT_EQ(skip.sequences, (Seqs{1, 2, 4, 5}));
    EXPECT_TRUE(skip.damage.empty());
    EXPECT_FALSE(skip.stopped_at_damage);
    EXPECT_EQ(skip.records_end, at[5]);
  }
}

TEST(SegmentScannerTest, AnUnknownFlagOrANonZeroReservedByteIsDamage) {
  const std::string clean = Segment(SegmentRecords(5));
  const std::vector<size_t> at = Offsets(clean);
  for (const auto& [byte, value] :
       {std::pair{13, 0x80 | kFlagHasTimestamp}, std::pair{14, 1}, std::pair{15, 0x40}}) {
    SCOPED_TRACE(absl::StrCat("byte ", byte));
    std::string data = clean;
    data[at[2] + byte] = static_cast<char>(value);
    FixRecordHeaderChecksum(&data, at[2]);
    const Scanned s = Scan(data, Mode::kSkipDamage);
    EXPECT_EQ(s.sequences, (Seqs{1, 2, 4, 5}));
    ASSERT_EQ(s.damage.size(), 1u);
    EXPECT_EQ(s.damage[0].begin, at[2]);
    EXPECT_EQ(s.damage[0].reason,
              "reserved record bytes or unknown flags set; skipped to sequence 4 (1 missing)");
    const Scanned stop = Scan(data, Mode::kStopAtDamage);
    EXPECT_EQ(stop.stop_status, RecordStatus::kBadField);
  }
}

// A zeroed record looks like the unwritten tail. Where the segment must hold
// more (a rolled segment: its successor's base says up to which sequence)
// the zeros are damage and the scan goes on after them; where nothing says
// so (the active segment) they are the end of the data.
TEST(SegmentScannerTest, ZerosShortOfTheLastSequenceAreDamage) {
  const std::string clean = Segment(SegmentRecords(5));
  const std::vector<size_t> at = Offsets(clean);
  std::string data = clean;
  std::memset(data.data() + at[2], 0, at[3] - at[2]);

  ScanBounds rolled;
  rolled.last_sequence = 5;
  const Scanned s = Scan(data, Mode::kSkipDamage, rolled);
  EXPECT_EQ(s.sequences, (Seqs{1, 2, 4, 5}));
  ASSERT_EQ(s.damage.size(), 1u);
  EXPECT_EQ(s.damage[0].begin, at[2]);
  EXPECT_EQ(s.damage[0].end, at[3]);
  EXPECT_EQ(s.damage[0].reason,
            "zeros where a record should be; skipped to sequence 4 (1 missing)");

  const Scanned stop = Scan(data, Mode::kStopAtDamage, rolled);
  EXPECT_EQ(stop.sequences, (Seqs{1, 2}));
  EXPECT_TRUE(stop.stopped_at_damage);
  EXPECT_NE(stop.stop_status, RecordStatus::kEndOfData);
  EXPECT_EQ(stop.stop_reason,
            absl::StrCat("zeros where a record should be at offset ", at[2],
                         "; sequences 3 to 5 are missing (the next segment starts at 6)"));

  const Scanned active = Scan(data, Mode::kSkipDamage);
  EXPECT_EQ(active.sequences, (Seqs{1, 2}));
  EXPECT_TRUE(active.damage.empty());
  EXPECT_EQ(active.records_end, at[2]);
}

// The writer published where its records end (limit_is_data_end): zeros
// before that are damage, even with no last sequence known.
TEST(SegmentScannerTest, ZerosBeforeThePublishedEndAreDamage) {
  const std::string clean = Segment(SegmentRecords(5), 1, 4096);
  const std::vector<size_t> at = Offsets(clean);
  std::string data = clean;
  std::memset(data.data() + at[2], 0, 12);  // magic and checksum: a zero record header
  ScanBounds published;
  published.limit_is_data_end = true;
  const Scanned s = Scan(data, Mode::kSkipDamage, published, 1, /*limit=*/at[5]);
  EXPECT_EQ(s.sequences, (Seqs{1, 2, 4, 5}));
  ASSERT_EQ(s.damage.size(), 1u);
  EXPECT_EQ(s.damage[0].begin, at[2]);
  EXPECT_EQ(s.damage[0].end, at[3]);
  EXPECT_EQ(s.damage[0].reason,
            "zeros where a record should be; skipped to sequence 4 (1 missing)");
  // Past the limit the preallocated zeros are not looked at.
  EXPECT_EQ(s.offset, at[5]);
}

// A rolled segment that ends (zeros to its end) before its last sequence:
// the report says which sequences are missing and where the next segment
// starts, in both modes.
TEST(SegmentScannerTest, ARolledSegmentEndingShortSaysWhichSequencesAreMissing) {
  const std::string data = Segment(SegmentRecords(3), 1, 4096);
  const std::vector<size_t> at = Offsets(data);
  ScanBounds rolled;
  rolled.last_sequence = 7;

  const Scanned s = Scan(data, Mode::kSkipDamage, rolled);
  EXPECT_EQ(s.sequences, (Seqs{1, 2, 3}));
  ASSERT_EQ(s.damage.size(), 1u);
  EXPECT_EQ(s.damage[0].begin, at[3]);
  EXPECT_EQ(s.damage[0].end, at[3] + 1);  // nothing but zeros follows
  EXPECT_TRUE(s.damage[0].at_end);
  EXPECT_EQ(s.damage[0].reason,
            "zeros where a record should be; no valid record follows; "
            "sequences 4 to 7 are missing (the next segment starts at 8)");
  EXPECT_EQ(s.records_end, at[3]);

  const Scanned stop = Scan(data, Mode::kStopAtDamage, rolled);
  EXPECT_EQ(stop.sequences, (Seqs{1, 2, 3}));
  EXPECT_TRUE(stop.stopped_at_damage);
  EXPECT_EQ(stop.offset, at[3]);
  EXPECT_EQ(stop.stop_reason,
            absl::StrCat("zeros where a record should be at offset ", at[3],
                         "; sequences 4 to 7 are missing (the next segment starts at 8)"));

  // The same bytes with the segment's last sequence 3: a clean end.
  rolled.last_sequence = 3;
  const Scanned whole = Scan(data, Mode::kStopAtDamage, rolled);
  EXPECT_FALSE(whole.stopped_at_damage);
  EXPECT_EQ(whole.stop_status, RecordStatus::kEndOfData);
}

// A record torn at the end of the data (a write cut short), wherever the
// cut falls: the records before it are returned, the torn one never; it is
// reported as the last damage of the segment (at_end), and the sealer's
// mode stops at it as truncated.
TEST(SegmentScannerTest, ATornRecordAtTheEndIsReportedAtTheEnd) {
  const std::string clean = Segment(SegmentRecords(5));
  const std::vector<size_t> at = Offsets(clean);
  const size_t last = at[5] - at[4];
  // In the header (9 bytes: up to the first byte of the magic, so never all
  // zeros), its lengths, the keys, the event.
  for (size_t cut : {size_t{9}, size_t{20}, kRecordHeaderSize, kRecordHeaderSize + 10, last - 1}) {
    SCOPED_TRACE(absl::StrCat("cut ", cut, " bytes into the last record"));
    const std::string data = clean.substr(0, at[4] + cut);
    const Scanned s = Scan(data, Mode::kSkipDamage);
    EXPECT_EQ(s.sequences, (Seqs{1, 2, 3, 4}));
    ASSERT_EQ(s.damage.size(), 1u);
    EXPECT_EQ(s.damage[0].begin, at[4]);
    EXPECT_GT(s.damage[0].end, at[4]);
    EXPECT_LE(s.damage[0].end, data.size());
    EXPECT_TRUE(s.damage[0].at_end);
    EXPECT_EQ(s.damage[0].reason, "truncated record; no valid record follows");
    EXPECT_EQ(s.records_end, at[4]);

    const Scanned stop = Scan(data, Mode::kStopAtDamage);
    EXPECT_EQ(stop.sequences, (Seqs{1, 2, 3, 4}));
    EXPECT_EQ(stop.stop_status, RecordStatus::kTruncated);
    EXPECT_EQ(stop.stop_reason, absl::StrCat("truncated record at offset ", at[4]));
    EXPECT_EQ(stop.offset, at[4]);

    // In a rolled segment the torn record is a missing sequence.
    ScanBounds rolled;
    rolled.last_sequence = 5;
    const Scanned r = Scan(data, Mode::kSkipDamage, rolled);
    ASSERT_EQ(r.damage.size(), 1u);
    EXPECT_EQ(r.damage[0].reason,
              "truncated record; no valid record follows; "
              "sequences 5 to 5 are missing (the next segment starts at 6)");
  }
}

// A record with the number the previous one had: a duplicate is never
// returned; the first copy stands and the scan goes on with the next number.
TEST(SegmentScannerTest, ADuplicateSequenceIsDamageAndNotReturnedTwice) {
  const std::string data =
      Segment(SegmentRecords(3, 1) + SegmentRecords(1, 3) + SegmentRecords(2, 4));
  const std::vector<size_t> at = Offsets(data);
  ASSERT_EQ(at.size(), 7u);
  const Scanned s = Scan(data, Mode::kSkipDamage);
  EXPECT_EQ(s.sequences, (Seqs{1, 2, 3, 4, 5}));
  EXPECT_EQ(s.events[2], EventNumber(2)) << "the first record numbered 3 is the one returned";
  ASSERT_EQ(s.damage.size(), 1u);
  EXPECT_EQ(s.damage[0].begin, at[3]);
  EXPECT_EQ(s.damage[0].end, at[4]);
  EXPECT_EQ(s.damage[0].reason, "sequence 3 where 4 was expected; skipped to sequence 4");

  const Scanned stop = Scan(data, Mode::kStopAtDamage);
  EXPECT_EQ(stop.sequences, (Seqs{1, 2, 3}));
  EXPECT_EQ(stop.stop_reason, absl::StrCat("sequence 3 where 4 was expected at offset ", at[3]));
}

// Sequences going back: the records with lower numbers are skipped up to
// the first one with the expected number or a higher one.
TEST(SegmentScannerTest, SequencesGoingBackAreSkippedToTheExpectedOne) {
  const std::string data =
      Segment(SegmentRecords(3, 1) + SegmentRecords(2, 1) + SegmentRecords(2, 4));
  const std::vector<size_t> at = Offsets(data);
  ASSERT_EQ(at.size(), 8u);
  const Scanned s = Scan(data, Mode::kSkipDamage);
  EXPECT_EQ(s.sequences, (Seqs{1, 2, 3, 4, 5}));
  EXPECT_EQ(s.events[0], EventNumber(0));
  EXPECT_EQ(s.events[1], EventNumber(1));
  ASSERT_EQ(s.damage.size(), 1u);
  EXPECT_EQ(s.damage[0].begin, at[3]);
  EXPECT_EQ(s.damage[0].end, at[5]);
  EXPECT_EQ(s.damage[0].reason, "sequence 1 where 4 was expected; skipped to sequence 4");
}

// A jump in the sequences within a segment is damage: the record whose
// number does not follow is not trusted. The sealer's mode stops before it
// and keeps the expected number.
TEST(SegmentScannerTest, AJumpInTheSequencesIsDamage) {
  const std::string data = Segment(SegmentRecords(2, 1) + SegmentRecords(2, 5));
  const std::vector<size_t> at = Offsets(data);
  const Scanned stop = Scan(data, Mode::kStopAtDamage);
  EXPECT_EQ(stop.sequences, (Seqs{1, 2}));
  EXPECT_TRUE(stop.stopped_at_damage);
  EXPECT_EQ(stop.stop_reason, absl::StrCat("sequence 5 where 3 was expected at offset ", at[2]));
  EXPECT_EQ(stop.offset, at[2]);
  EXPECT_EQ(stop.records_end, at[2]);

  const Scanned s = Scan(data, Mode::kSkipDamage);
  EXPECT_EQ(s.sequences, (Seqs{1, 2, 6}));
  ASSERT_EQ(s.damage.size(), 1u);
  EXPECT_EQ(s.damage[0].begin, at[2]);
  EXPECT_EQ(s.damage[0].end, at[3]);
  EXPECT_EQ(s.damage[0].reason,
            "sequence 5 where 3 was expected; skipped to sequence 6 (3 missing)");
}

// The first record's number is checked against the expected one; 0
// expects none in particular.
TEST(SegmentScannerTest, TheFirstRecordMustCarryTheExpectedSequenceUnlessZero) {
  const std::string data = Segment(SegmentRecords(3, 10), 10);
  EXPECT_EQ(Scan(data, Mode::kSkipDamage, ScanBounds(), 0).sequences, (Seqs{10, 11, 12}));
  EXPECT_EQ(Scan(data, Mode::kSkipDamage, ScanBounds(), 10).sequences, (Seqs{10, 11, 12}));
  const Scanned stop = Scan(data, Mode::kStopAtDamage, ScanBounds(), 9);
  EXPECT_TRUE(stop.sequences.empty());
  EXPECT_EQ(stop.stop_reason,
            absl::StrCat("sequence 10 where 9 was expected at offset ", kSegmentHeaderSize));
}

// A record above the segment's last sequence (its successor holds that
// number) is damage, and so is every record after it.
TEST(SegmentScannerTest, ARecordPastTheLastSequenceIsDamage) {
  const std::string data = Segment(SegmentRecords(5), 1, 64);
  const std::vector<size_t> at = Offsets(data);
  ScanBounds rolled;
  rolled.last_sequence = 3;
  const Scanned s = Scan(data, Mode::kSkipDamage, rolled);
  EXPECT_EQ(s.sequences, (Seqs{1, 2, 3}));
  ASSERT_EQ(s.damage.size(), 1u);
  EXPECT_EQ(s.damage[0].begin, at[3]);
  EXPECT_EQ(s.damage[0].end, at[5]);  // up to the last non-zero byte
  EXPECT_TRUE(s.damage[0].at_end);
  EXPECT_EQ(s.damage[0].reason,
            "sequence 4 is past the segment's last, 3; no valid record follows");

  const Scanned stop = Scan(data, Mode::kStopAtDamage, rolled);
  EXPECT_EQ(stop.sequences, (Seqs{1, 2, 3}));
  EXPECT_EQ(stop.stop_reason,
            absl::StrCat("sequence 4 is past the segment's last, 3 at offset ", at[3]));
}

// Recovery's lookahead (the active segment, where the end is not known): a
// zeroed range at a record boundary with records after it is damage, found
// within the lookahead; beyond it, or in the sealer's mode, the zeros end
// the data.
TEST(SegmentScannerTest, TheLookaheadFindsRecordsAfterZeros) {
  const std::string clean = Segment(SegmentRecords(6), 1, 4096);
  const std::vector<size_t> at = Offsets(clean);
  std::string data = clean;
  std::memset(data.data() + at[2], 0, at[4] - at[2]);  // records 3 and 4

  ScanBounds recovery;
  recovery.lookahead = 4096;
  const Scanned s = Scan(data, Mode::kSkipDamage, recovery);
  EXPECT_EQ(s.sequences, (Seqs{1, 2, 5, 6}));
  ASSERT_EQ(s.damage.size(), 1u);
  EXPECT_EQ(s.damage[0].begin, at[2]);
  EXPECT_EQ(s.damage[0].end, at[4]);
  EXPECT_EQ(s.damage[0].reason, "zeros where a record should be; skipped to sequence 5");
  EXPECT_EQ(s.records_end, at[6]);

  ScanBounds short_look;
  short_look.lookahead = at[4] - at[2] - 8;  // ends before record 5's header does
  const Scanned beyond = Scan(data, Mode::kSkipDamage, short_look);
  EXPECT_EQ(beyond.sequences, (Seqs{1, 2}));
  EXPECT_TRUE(beyond.damage.empty());

  const Scanned stop = Scan(data, Mode::kStopAtDamage, recovery);
  EXPECT_EQ(stop.sequences, (Seqs{1, 2}));
  EXPECT_FALSE(stop.stopped_at_damage);
}

// The search window bounds the search for the next record after a damaged
// header; a record whose event is damaged is stepped over by its (intact)
// length whatever the window.
TEST(SegmentScannerTest, TheSearchWindowBoundsTheResynchronisation) {
  const std::string clean = Segment(SegmentRecords(5));
  const std::vector<size_t> at = Offsets(clean);
  ScanBounds narrow;
  narrow.search_window = 16;

  std::string header = clean;
  header[at[1] + 32] ^= 0x01;
  const Scanned lost = Scan(header, Mode::kSkipDamage, narrow);
  EXPECT_EQ(lost.sequences, (Seqs{1}));
  ASSERT_EQ(lost.damage.size(), 1u);
  EXPECT_EQ(lost.damage[0].begin, at[1]);
  EXPECT_TRUE(lost.damage[0].at_end);
  EXPECT_EQ(lost.damage[0].reason, "record header checksum mismatch; no valid record follows");
  EXPECT_EQ(Scan(header, Mode::kSkipDamage).sequences, (Seqs{1, 3, 4, 5}));  // no window

  std::string event = clean;
  event[EventOffset(clean, at[1])] ^= 0x01;
  const Scanned skipped = Scan(event, Mode::kSkipDamage, narrow);
  EXPECT_EQ(skipped.sequences, (Seqs{1, 3, 4, 5}));
  ASSERT_EQ(skipped.damage.size(), 1u);
  EXPECT_EQ(skipped.damage[0].end, at[2]);
}

// `data` at a page-aligned address, with one page that cannot be read: it
// maps an empty memory file, so touching it is SIGBUS, as an I/O error on
// a page of a mapped segment (or a file shortened under its mapping) is.
class MappingWithAHole {
 public:
  MappingWithAHole(const std::string& data, size_t hole_page) : size_(data.size()) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const int fd = memfd_create("segment", 0);
    const int empty = memfd_create("hole", 0);
    if (fd < 0 || empty < 0 ||
        ::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
      ADD_FAILURE() << "memfd: " << std::strerror(errno);
      return;
    }
    void* at = mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
    if (at == MAP_FAILED || mmap(static_cast<char*>(at) + hole_page * page, page, PROT_READ,
                                 MAP_SHARED | MAP_FIXED, empty, 0) == MAP_FAILED) {
      ADD_FAILURE() << "mmap: " << std::strerror(errno);
      return;
    }
    base_ = static_cast<char*>(at);
    ::close(fd);
    ::close(empty);
  }
  ~MappingWithAHole() {
    if (base_ != nullptr) munmap(base_, size_);
  }
  absl::string_view bytes() const { return absl::string_view(base_, base_ ? size_ : 0); }

 private:
  char* base_ = nullptr;
  size_t size_;
};

// A page that cannot be read is damage, not a crash: the records wholly
// before it are returned, the page is reported with its byte range, and
// the scan goes on with the first record after it.
TEST(SegmentScannerTest, AnUnreadablePageIsReportedAndTheScanGoesOnAfterIt) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  int n = 0;
  std::string records;
  while (kSegmentHeaderSize + records.size() < 3 * page + page / 2) {
    records += SegmentRecords(1, ++n);
  }
  std::string data = Segment(records);
  data.resize(4 * page, '\0');
  const std::vector<size_t> at = Offsets(data);
  ASSERT_EQ(at.size(), static_cast<size_t>(n) + 1);
  // The records wholly in page 0, and those that start in page 2 or later.
  Seqs before, after;
  for (int i = 0; i < n; ++i) {
    if (at[i + 1] <= page) before.push_back(i + 1);
    if (at[i] >= 2 * page) after.push_back(i + 1);
  }
  ASSERT_FALSE(before.empty());
  ASSERT_FALSE(after.empty());
  Seqs both = before;
  both.insert(both.end(), after.begin(), after.end());

  MappingWithAHole mapped(data, 1);
  ASSERT_FALSE(mapped.bytes().empty());
  const std::string why =
      "the page cannot be read (an I/O error, or the file is shorter than its mapping)";
  const Scanned s = Scan(mapped.bytes(), Mode::kSkipDamage);
  EXPECT_EQ(s.sequences, both);
  ASSERT_EQ(s.damage.size(), 1u);
  EXPECT_EQ(s.damage[0].file, kFile);
  EXPECT_EQ(s.damage[0].begin, page);
  EXPECT_EQ(s.damage[0].end, 2 * page);
  EXPECT_EQ(s.damage[0].reason, why);
  EXPECT_EQ(s.records_end, at[n]);

  const Scanned stop = Scan(mapped.bytes(), Mode::kStopAtDamage);
  EXPECT_EQ(stop.sequences, before);
  EXPECT_TRUE(stop.stopped_at_damage);
  EXPECT_EQ(stop.stop_status, RecordStatus::kTruncated);
  EXPECT_EQ(stop.stop_reason, absl::StrCat(why, " at offset ", page));
}

}  // namespace
}  // namespace tracelog
