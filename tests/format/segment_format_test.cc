#include "engine/format/segment_format.h"

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/format/checksum.h"
#include "engine/format/coding.h"
#include "engine/segment/segment_scanner.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::testing::FixRecordHeaderChecksum;
using ::tracelog::testing::SegmentRecords;  // a run of records as the writer lays them out

// Byte-editing helpers that reach each reader branch on purpose.
void SetByte(std::string* s, size_t offset, char v) { (*s)[offset] = v; }

TEST(SegmentHeaderTest, RoundTrips) {
  SegmentHeader h{42, 1 << 20, 1700000000123456};
  char buf[kSegmentHeaderSize];
  EncodeSegmentHeader(h, buf);
  SegmentHeader got;
  ASSERT_TRUE(DecodeSegmentHeader(absl::string_view(buf, sizeof(buf)), &got).ok());
  EXPECT_EQ(got.base_sequence, 42u);
  EXPECT_EQ(got.capacity, 1u << 20);
  EXPECT_EQ(got.created_micros, 1700000000123456);
}

TEST(SegmentHeaderTest, WrongMagicIsDataLoss) {
  char buf[kSegmentHeaderSize];
  EncodeSegmentHeader(SegmentHeader{1, 4096, 0}, buf);
  buf[0] = 'X';
  SegmentHeader h;
  absl::Status s = DecodeSegmentHeader(absl::string_view(buf, sizeof(buf)), &h);
  EXPECT_TRUE(absl::IsDataLoss(s));
  EXPECT_NE(s.message().find("magic"), absl::string_view::npos);
}

TEST(SegmentHeaderTest, WrongVersionIsReportedWithOffset) {
  char buf[kSegmentHeaderSize];
  EncodeSegmentHeader(SegmentHeader{1, 4096, 0}, buf);
  EncodeFixed32(buf + 8, kFormatVersion + 1);
  EncodeFixed64(buf + 56, Checksum64(buf, 56));  // a well-formed header of a newer version
  SegmentHeader h;
  absl::Status s = DecodeSegmentHeader(absl::string_view(buf, sizeof(buf)), &h);
  EXPECT_TRUE(absl::IsDataLoss(s));
  EXPECT_NE(s.message().find(absl::StrCat("version ", kFormatVersion + 1, " at offset 8")),
            absl::string_view::npos)
      << s;
}

TEST(SegmentHeaderTest, VersionOneSegmentsStillDecode) {
  // Format 2 added sealed segments; raw segments did not change.
  char buf[kSegmentHeaderSize];
  EncodeSegmentHeader(SegmentHeader{7, 4096, 0}, buf);
  EncodeFixed32(buf + 8, 1);
  EncodeFixed64(buf + 56, Checksum64(buf, 56));
  SegmentHeader h;
  ASSERT_TRUE(DecodeSegmentHeader(absl::string_view(buf, sizeof(buf)), &h).ok());
  EXPECT_EQ(h.base_sequence, 7u);
}

TEST(SegmentHeaderTest, BadChecksumIsDataLoss) {
  char buf[kSegmentHeaderSize];
  EncodeSegmentHeader(SegmentHeader{1, 4096, 0}, buf);
  buf[20] ^= 1;
  SegmentHeader h;
  absl::Status s = DecodeSegmentHeader(absl::string_view(buf, sizeof(buf)), &h);
  EXPECT_TRUE(absl::IsDataLoss(s));
  EXPECT_NE(s.message().find("checksum"), absl::string_view::npos);
}

TEST(SegmentFileNameTest, RoundTripsAndRejectsOthers) {
  EXPECT_EQ(SegmentFileName(54296), "00000000000000054296.seg");
  EXPECT_EQ(ParseSegmentFileName("00000000000000054296.seg"), 54296u);
  EXPECT_FALSE(ParseSegmentFileName("0000000000000005429.seg").has_value());
  EXPECT_FALSE(ParseSegmentFileName("00000000000000054296.seg.tmp").has_value());
  EXPECT_FALSE(ParseSegmentFileName("0000000000000005429x.seg").has_value());
}

TEST(RecordTest, EncodesAndDecodes) {
  const std::string data = SegmentRecords(3);
  RecordView r;
  size_t off = 0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(DecodeRecord(data, off, &r), RecordStatus::kOk);
    EXPECT_EQ(r.sequence, 1u + i);
    EXPECT_EQ(r.timestamp, 1.5 + i);
    EXPECT_EQ(r.event, "{\"event_type\":\"tool_call\",\"n\":" + std::to_string(i) + "}");
    EventKeys k;
    ASSERT_TRUE(DecodeKeys(r.keys, &k));
    EXPECT_EQ(k.session_id, "s");
    EXPECT_EQ(k.event_type, "tool_call");
    EXPECT_EQ(r.size % kRecordAlignment, 0u);
    off += r.size;
  }
  EXPECT_EQ(DecodeRecord(data + std::string(64, '\0'), off, &r), RecordStatus::kEndOfData);
}

TEST(RecordTest, HeaderChecksumCoversThePayloadChecksumField) {
  std::string data = SegmentRecords(1);
  data[44] ^= 0x10;
  RecordView r;
  EXPECT_EQ(DecodeRecord(data, 0, &r), RecordStatus::kBadHeaderChecksum);
}

TEST(RecordTest, FlippedEventByteIsEventChecksumMismatch) {
  std::string data = SegmentRecords(1);
  RecordView r;
  ASSERT_EQ(DecodeRecord(data, 0, &r), RecordStatus::kOk);
  const size_t event_at = r.event.data() - data.data();
  SetByte(&data, event_at + 3, 'Z');
  EXPECT_EQ(DecodeRecord(data, 0, &r), RecordStatus::kBadEventChecksum);
}

TEST(RecordTest, FlippedHeaderOrKeyByteIsHeaderChecksumMismatch) {
  for (size_t at : {4u, 9u, 13u, 16u, 24u, 32u, 48u, 50u}) {
    std::string data = SegmentRecords(1);
    data[at] ^= 0x10;
    RecordView r;
    const RecordStatus st = DecodeRecord(data, 0, &r);
    EXPECT_TRUE(st == RecordStatus::kBadHeaderChecksum || st == RecordStatus::kTruncated ||
                (at >= 8 && at < 12 && st == RecordStatus::kBadMagic))
        << "byte " << at << ": " << RecordStatusName(st);
    EXPECT_NE(st, RecordStatus::kOk);
  }
}

TEST(RecordTest, BadLengthWithValidChecksumIsTruncated) {
  std::string data = SegmentRecords(1);
  EncodeFixed32(data.data() + 20, 1u << 30);  // event length far past the end
  FixRecordHeaderChecksum(&data, 0);
  RecordView r;
  EXPECT_EQ(DecodeRecord(data, 0, &r), RecordStatus::kTruncated);
}

TEST(RecordTest, UnknownTypeIsCorruptionUnlessSkippable) {
  std::string data = SegmentRecords(2);
  data[12] = 7;
  FixRecordHeaderChecksum(&data, 0);
  RecordView r;
  EXPECT_EQ(DecodeRecord(data, 0, &r), RecordStatus::kUnknownType);

  data[12] = static_cast<char>(kRecordTypeSkippableBit | 7);
  FixRecordHeaderChecksum(&data, 0);
  ASSERT_EQ(DecodeRecord(data, 0, &r), RecordStatus::kOk);
  EXPECT_EQ(r.type, kRecordTypeSkippableBit | 7);
  // The scanner steps over it and returns the next event.
  SegmentScanner sc("f", data, 0, data.size(), 1, SegmentScanner::Mode::kStopAtDamage);
  ASSERT_TRUE(sc.Next(&r));
  EXPECT_EQ(r.sequence, 2u);
}

TEST(RecordTest, TornTailAtEveryByteOffsetIsNeverReturned) {
  const std::string full = SegmentRecords(3);
  RecordView r;
  ASSERT_EQ(DecodeRecord(full, 0, &r), RecordStatus::kOk);
  const size_t first = r.size;
  ASSERT_EQ(DecodeRecord(full, first, &r), RecordStatus::kOk);
  const size_t two = first + r.size;
  // Cut the data at every offset inside the last two records.
  for (size_t cut = first; cut < full.size(); ++cut) {
    const std::string torn = full.substr(0, cut);
    SegmentScanner sc("f", torn, 0, torn.size(), 1, SegmentScanner::Mode::kStopAtDamage);
    uint64_t n = 0;
    while (sc.Next(&r)) ++n;
    const uint64_t whole = cut >= two ? 2 : 1;
    EXPECT_EQ(n, whole) << "cut at " << cut;
    EXPECT_EQ(sc.offset(), whole == 2 ? two : first) << "cut at " << cut;
  }
}

TEST(RecordTest, TornTailOverZerosOfPreallocationStopsCleanly) {
  // The writer's segment is preallocated: a torn record is followed by zeros.
  const std::string full = SegmentRecords(2);
  RecordView r;
  ASSERT_EQ(DecodeRecord(full, 0, &r), RecordStatus::kOk);
  for (size_t cut = r.size + 1; cut < full.size(); ++cut) {
    std::string torn = full.substr(0, cut) + std::string(full.size() - cut + 64, '\0');
    SegmentScanner sc("f", torn, 0, torn.size(), 1, SegmentScanner::Mode::kStopAtDamage);
    uint64_t n = 0;
    while (sc.Next(&r)) ++n;
    EXPECT_EQ(n, 1u) << "cut at " << cut;
  }
}

}  // namespace
}  // namespace tracelog
