// The sealed format (engine/format/sealed_format.h) on bytes built in
// memory: raw blocks and segment indexes round-trip, and damaged or forged
// bytes are refused. No Log is opened. (Moved from tests/seal/seal_test.cc.)

#include "engine/format/sealed_format.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/format/checksum.h"
#include "engine/format/coding.h"
#include "engine/format/file_header.h"
#include "engine/format/segment_format.h"
#include "engine/seal/index_builder.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::testing::PeakRss;

TEST(SealedFormatTest, RawBlocksRoundTripWithAndWithoutNewlines) {
  for (bool newline : {false, true}) {
    const std::string a = "{\"a\":1}", b = newline ? "{\"b\":\n2}" : "{\"b\":2}", c = "";
    std::vector<BlockEvent> in = {{107, a}, {101, b}, {130, c}};
    std::string raw;
    EncodeRawBlock(100, in, &raw);
    std::vector<BlockEvent> out;
    ASSERT_OK(DecodeRawBlock(100, raw, &out));
    ASSERT_EQ(out.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(out[i].sequence, in[i].sequence);
      EXPECT_EQ(out[i].event, in[i].event);
    }
    // Every truncation is an error, never a crash or a short block.
    for (size_t cut = 0; cut < raw.size(); ++cut) {
      EXPECT_FALSE(DecodeRawBlock(100, absl::string_view(raw).substr(0, cut), &out).ok()) << cut;
    }
  }
}

TEST(SealedFormatTest, IndexRoundTripsAndAnyFlippedByteIsDetected) {
  IndexBuilder builder(10);
  EventKeys k;
  k.session_id = "s1";
  k.event_type = "session_start";
  k.timestamp = 5;
  k.has_timestamp = true;
  builder.Add(10, k, R"({"event_type":"session_start","data":{"agent_name":"bot"}})");
  k.event_type = "tool_call";
  k.tool_name = "Bash";
  k.timestamp = 7;
  builder.Add(12, k, "{}");
  builder.EndBlock(64, 100, 200);
  k.session_id = "s2";
  k.event_type = "error";
  k.error = true;
  builder.Add(11, k, "{}");
  builder.EndBlock(180, 50, 60);
  const SegmentIndex index = builder.Finish(230);
  const std::string bytes = EncodeIndex(index);
  SegmentIndex back;
  ASSERT_OK(DecodeIndex(bytes, &back));
  EXPECT_EQ(back.base_sequence, 10u);
  EXPECT_EQ(back.last_sequence, 12u);
  EXPECT_EQ(back.event_count, 3u);
  ASSERT_EQ(back.sessions.size(), 2u);
  EXPECT_EQ(back.sessions[0].agent, "bot");
  EXPECT_EQ(back.sessions[0].tool_calls, 1u);
  EXPECT_EQ(back.sessions[1].errors, 1u);
  ASSERT_EQ(back.blocks.size(), 2u);
  EXPECT_EQ(back.blocks[0].min_sequence, 10u);
  EXPECT_EQ(back.blocks[0].max_sequence, 12u);
  EXPECT_EQ(back.blocks[0].max_timestamp, 7);
  EXPECT_EQ(back.blocks[1].combos.size(), 1u);
  EXPECT_TRUE(back.blocks[1].combos[0].error);
  EXPECT_EQ(back.tools, std::vector<std::string>{"Bash"});
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x10;
    SegmentIndex ignored;
    EXPECT_TRUE(absl::IsDataLoss(DecodeIndex(bad, &ignored))) << "flipped byte " << i;
  }
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    SegmentIndex ignored;
    EXPECT_FALSE(DecodeIndex(bytes.substr(0, cut), &ignored).ok()) << cut;
  }
}

// An index body that says it decompresses to 2 GiB (a forged frame header
// under a matching checksum) is refused before any buffer is sized by it.
TEST(SealedFormatTest, AnIndexBodyLargerThanTheFormatAllowsIsRefused) {
  IndexBuilder builder(10);
  EventKeys k;
  k.session_id = "s1";
  k.event_type = "session_start";
  builder.Add(10, k, "{}");
  builder.EndBlock(64, 100, 200);
  std::string bytes = EncodeIndex(builder.Finish(230));
  ASSERT_EQ(DecodeFixed32(bytes.data() + 12) & 1, 1u) << "the body is stored compressed";
  const uint64_t body_len = DecodeFixed64(bytes.data() + 48);
  const size_t body_at = bytes.size() - 8 - body_len;
  // A zstd frame: single segment, 8-byte content size, one empty raw block.
  std::string frame("\x28\xb5\x2f\xfd\xe0", 5);
  PutFixed64(&frame, uint64_t{2} << 30);
  frame.append("\x01\x00\x00", 3);
  bytes.resize(body_at);
  bytes += frame;
  PutFixed64(&bytes, Checksum64(frame));
  EncodeFixed64(bytes.data() + 48, frame.size());
  SealFileHeader(kIndexMagic, bytes.data());  // offset 48 is under the header checksum
  const uint64_t before = PeakRss();
  SegmentIndex back;
  const absl::Status s = DecodeIndex(bytes, &back);
  EXPECT_LT(PeakRss() - before, uint64_t{256} << 20);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_NE(s.message().find("the format allows"), absl::string_view::npos) << s;
}

}  // namespace
}  // namespace tracelog
