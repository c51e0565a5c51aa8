// Decodes the test vectors of format-spec/vectors/, so the spec and the code
// cannot drift apart. The expected values below are the ones the spec's
// "Test vectors" section states. To regenerate the files after a format
// change (with a version bump!), run this test with TRACELOG_WRITE_VECTORS=1.

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "engine/format/checkpoint_format.h"
#include "engine/format/checksum.h"
#include "engine/format/event_keys.h"
#include "engine/format/segment_format.h"
#include "gtest/gtest.h"

namespace tracelog {
namespace {

const std::string kDir = std::string(TRACELOG_SOURCE_DIR) + "/format-spec/vectors/";
constexpr char kEvent[] =
    R"({"event_type":"tool_result","timestamp":1795440021.8558512,"event_id":"d0f564092d8d","session_id":"b23aff530dad41b8","parent_id":"90aaf3af57de","duration_ms":0.0007152557373046875,"data":{"content_preview":"['r1', 'r2']"}})";

// Vector files: hex bytes, whitespace-separated, '#' starts a comment.
std::string ReadHex(const std::string& name) {
  std::ifstream in(kDir + name);
  EXPECT_TRUE(in.good()) << kDir + name;
  std::string hex, line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    for (char c : line) {
      if (absl::ascii_isxdigit(static_cast<unsigned char>(c))) hex.push_back(c);
    }
  }
  return absl::HexStringToBytes(hex);
}

void WriteHex(const std::string& name, const std::string& comment, const std::string& bytes) {
  std::ofstream out(kDir + name);
  out << "# " << comment << "\n";
  const std::string hex = absl::BytesToHexString(bytes);
  for (size_t i = 0; i < hex.size(); i += 32) {
    for (size_t j = i; j < std::min(hex.size(), i + 32); j += 2) {
      out << hex.substr(j, 2) << (j + 2 < std::min(hex.size(), i + 32) ? " " : "");
    }
    out << "   # offset " << i / 2 << "\n";
  }
}

std::string BuildRecord() {
  EventKeyExtractor ex;
  EventKeys k;
  EXPECT_TRUE(ex.Extract(kEvent, &k).ok());
  std::string keys;
  EncodeKeys(k, &keys);
  std::string rec(RecordSize(keys.size(), sizeof(kEvent) - 1), '\0');
  EncodeRecord(rec.data(), 1, kFlagHasTimestamp, k.timestamp, keys, kEvent, Checksum64(kEvent));
  return rec;
}

TEST(SpecVectorsTest, RegenerateWhenAsked) {
  if (std::getenv("TRACELOG_WRITE_VECTORS") == nullptr) GTEST_SKIP() << "not regenerating";
  char h[kSegmentHeaderSize];
  EncodeSegmentHeader(SegmentHeader{1, 67108864, 1795440000000000}, h);
  WriteHex("segment_header.hex", "segment header: base 1, capacity 67108864, created 1795440000000000 us",
           std::string(h, sizeof(h)));
  const std::string rec = BuildRecord();
  WriteHex("record.hex", "record: sequence 1, flags 0x02, the agent-strace example tool_result event", rec);
  Checkpoint cp{kCheckpointFlagClean, 1, kSegmentHeaderSize + rec.size(), 2, 1795440021.8558512};
  char c[kCheckpointSize];
  EncodeCheckpoint(cp, c);
  WriteHex("checkpoint.hex", "checkpoint: clean, segment 1, end offset 64+record, next sequence 2",
           std::string(c, sizeof(c)));
}

TEST(SpecVectorsTest, SegmentHeaderVectorDecodes) {
  const std::string bytes = ReadHex("segment_header.hex");
  ASSERT_EQ(bytes.size(), kSegmentHeaderSize);
  SegmentHeader h;
  ASSERT_TRUE(DecodeSegmentHeader(bytes, &h).ok());
  EXPECT_EQ(h.base_sequence, 1u);
  EXPECT_EQ(h.capacity, 67108864u);
  EXPECT_EQ(h.created_micros, 1795440000000000);
  EXPECT_EQ(bytes.substr(0, 8), "TRACELOG");
}

TEST(SpecVectorsTest, RecordVectorDecodes) {
  const std::string bytes = ReadHex("record.hex");
  RecordView r;
  ASSERT_EQ(DecodeRecord(bytes, 0, &r), RecordStatus::kOk);
  EXPECT_EQ(r.size, bytes.size());
  EXPECT_EQ(bytes.size(), 328u);  // as the spec says
  EXPECT_EQ(r.sequence, 1u);
  EXPECT_EQ(r.flags, kFlagHasTimestamp);
  EXPECT_EQ(r.timestamp, 1795440021.8558512);
  EXPECT_EQ(r.event, kEvent);
  EventKeys k;
  ASSERT_TRUE(DecodeKeys(r.keys, &k));
  EXPECT_EQ(k.session_id, "b23aff530dad41b8");
  EXPECT_EQ(k.event_type, "tool_result");
  EXPECT_EQ(k.event_id, "d0f564092d8d");
  EXPECT_EQ(k.parent_id, "90aaf3af57de");
  EXPECT_EQ(k.tool_name, "");
  // The code writes exactly the bytes of the vector.
  EXPECT_EQ(BuildRecord(), bytes);
}

TEST(SpecVectorsTest, CheckpointVectorDecodes) {
  const std::string bytes = ReadHex("checkpoint.hex");
  Checkpoint cp;
  ASSERT_TRUE(DecodeCheckpoint(bytes, &cp).ok());
  EXPECT_EQ(cp.flags, kCheckpointFlagClean);
  EXPECT_EQ(cp.segment_base, 1u);
  EXPECT_EQ(cp.end_offset, kSegmentHeaderSize + ReadHex("record.hex").size());
  EXPECT_EQ(cp.next_sequence, 2u);
}

}  // namespace
}  // namespace tracelog
