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
#include "engine/format/attachment_format.h"
#include "engine/format/checkpoint_format.h"
#include "engine/format/gap_format.h"
#include "engine/format/checksum.h"
#include "engine/format/coding.h"
#include "engine/format/event_keys.h"
#include "engine/format/sealed_format.h"
#include "engine/format/segment_format.h"
#include "engine/seal/block_codec.h"
#include "engine/seal/index_builder.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

constexpr char kEvent[] =
    R"({"event_type":"tool_result","timestamp":1795440021.8558512,"event_id":"d0f564092d8d","session_id":"b23aff530dad41b8","parent_id":"90aaf3af57de","duration_ms":0.0007152557373046875,"data":{"content_preview":"['r1', 'r2']"}})";

using ::tracelog::testing::ReadHex;
using ::tracelog::testing::WriteHex;

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

constexpr char kEvent2[] =
    R"({"event_type":"tool_call","timestamp":1795440022.5,"event_id":"e2","session_id":"s-2","data":{"tool_name":"Bash","arguments":{"command":"ls"}}})";

// A sealed segment holding sequences 7 and 8 (two sessions) in one block,
// without a dictionary, and its index.
std::string BuildSealed(std::string* index) {
  const std::vector<BlockEvent> events = {{7, kEvent}, {8, kEvent2}};
  std::string raw;
  EncodeRawBlock(7, events, &raw);
  BlockCodec codec;
  std::string frame;
  EXPECT_TRUE(codec.Compress(raw, 3, nullptr, &frame).ok());
  std::string file(kSealedHeaderSize, '\0');
  char bh[kBlockHeaderSize];
  EncodeBlockHeader(BlockHeader{static_cast<uint32_t>(frame.size()),
                                static_cast<uint32_t>(raw.size()), Checksum64(frame)},
                    bh);
  file.append(bh, sizeof(bh));
  file += frame;
  SealedHeader h;
  h.block_count = 1;
  h.base_sequence = 7;
  h.last_sequence = 8;
  h.event_count = 2;
  h.data_end = file.size();
  EncodeSealedHeader(h, file.data());
  IndexBuilder builder(7);
  EventKeyExtractor ex;
  for (const BlockEvent& e : events) {
    EventKeys k;
    EXPECT_TRUE(ex.Extract(e.event, &k).ok());
    builder.Add(e.sequence, k, e.event);
  }
  builder.EndBlock(kSealedHeaderSize, static_cast<uint32_t>(frame.size()),
                   static_cast<uint32_t>(raw.size()));
  *index = EncodeIndex(builder.Finish(file.size()));
  return file;
}

// An attachment pack for an import from sequence 7: session s-2's
// meta.json, and the layout of its events.ndjson (one event line, the
// sequence 8, then a blank line; no final newline).
std::string BuildAttach() {
  std::string records;
  AttachRecord meta{AttachKind::kSessionFile, "s-2", "meta.json", "{\n  \"session_id\": \"s-2\"\n}"};
  EncodeAttachRecord(meta, &records);
  EventsLayout layout;
  layout.file_bytes = sizeof(kEvent2) - 1 + 1;  // the event, "\n", an empty last line
  layout.file_hash = Checksum64(std::string(kEvent2) + "\n");
  layout.final_newline = false;
  layout.ranges = {{8, 1}};
  layout.lines = 2;
  layout.others = {{1, ""}};
  AttachRecord lr{AttachKind::kEventsLayout, "s-2", "events.ndjson", EncodeEventsLayout(layout)};
  EncodeAttachRecord(lr, &records);
  std::string file(kAttachHeaderSize, '\0');
  AttachHeader h{7, 2, kAttachHeaderSize + records.size()};
  EncodeAttachHeader(h, file.data());
  return file + records;
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
  std::string index;
  const std::string sealed = BuildSealed(&index);
  WriteHex("sealed_segment.hex", "sealed segment: sequences 7-8, one block, no dictionary", sealed);
  WriteHex("index.hex", "index of sealed_segment.hex", index);
  WriteHex("attach.hex", "attachment pack of an import from sequence 7: s-2's meta.json and events layout",
           BuildAttach());
  WriteHex("checkpoint.hex", "checkpoint: clean, segment 1, end offset 64+record, next sequence 2",
           std::string(c, sizeof(c)));
  char g[kGapFileSize];
  EncodeGap(GapRecord{5, 4101, GapReason::kSkipped, 1795440000000000}, g);
  WriteHex("gap.hex", "gap file: sequences [5, 4101) skipped, created 1795440000000000 us",
           std::string(g, sizeof(g)));
  char l[kCheckpointSize];
  EncodeLease(SequenceLease{8192, 3}, l);
  WriteHex("lease.hex", "lease slot: lease 8192, generation 3 (so in slot 3, at offset 192)",
           std::string(l, sizeof(l)));
}

TEST(SpecVectorsTest, GapVectorDecodes) {
  const std::string bytes = ReadHex("gap.hex");
  GapRecord g;
  ASSERT_TRUE(DecodeGap(bytes, &g).ok());
  EXPECT_EQ(g.first, 5u);
  EXPECT_EQ(g.end, 4101u);
  EXPECT_EQ(g.reason, GapReason::kSkipped);
  EXPECT_EQ(g.created_micros, 1795440000000000);
  EXPECT_EQ(bytes.substr(0, 8), std::string("TLGAP\0\0\0", 8));
  char again[kGapFileSize];
  EncodeGap(g, again);
  EXPECT_EQ(std::string(again, sizeof(again)), bytes);
  std::string bad = bytes;
  bad[44] = 1;  // a reserved byte, checksum fixed: still rejected
  EncodeFixed64(bad.data() + 56, Checksum64(bad.data(), 56));
  EXPECT_TRUE(absl::IsDataLoss(DecodeGap(bad, &g)));
}

TEST(SpecVectorsTest, LeaseVectorDecodes) {
  const std::string bytes = ReadHex("lease.hex");
  SequenceLease l;
  ASSERT_TRUE(DecodeLease(bytes, &l).ok());
  EXPECT_EQ(l.lease, 8192u);
  EXPECT_EQ(l.generation, 3u);
  char again[kCheckpointSize];
  EncodeLease(l, again);
  EXPECT_EQ(std::string(again, sizeof(again)), bytes);
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

TEST(SpecVectorsTest, SealedSegmentVectorDecodes) {
  const std::string bytes = ReadHex("sealed_segment.hex");
  SealedHeader h;
  ASSERT_TRUE(DecodeSealedHeader(bytes, &h).ok());
  EXPECT_EQ(bytes.substr(0, 8), "TLSEALED");
  EXPECT_EQ(h.base_sequence, 7u);
  EXPECT_EQ(h.last_sequence, 8u);
  EXPECT_EQ(h.event_count, 2u);
  EXPECT_EQ(h.block_count, 1u);
  EXPECT_EQ(h.dict_id, 0u);
  EXPECT_EQ(h.data_end, bytes.size());
  const BlockHeader b = DecodeBlockHeader(bytes.data() + kSealedHeaderSize);
  ASSERT_EQ(kSealedHeaderSize + kBlockHeaderSize + b.compressed_size, bytes.size());
  const absl::string_view frame =
      absl::string_view(bytes).substr(kSealedHeaderSize + kBlockHeaderSize);
  EXPECT_EQ(Checksum64(frame), b.checksum);
  BlockCodec codec;
  std::string raw;
  ASSERT_TRUE(codec.Decompress(frame, b.raw_size, nullptr, &raw).ok());
  std::vector<BlockEvent> events;
  ASSERT_TRUE(DecodeRawBlock(7, raw, &events).ok());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].sequence, 7u);
  EXPECT_EQ(events[0].event, kEvent);
  EXPECT_EQ(events[1].sequence, 8u);
  EXPECT_EQ(events[1].event, kEvent2);
  // The uncompressed parts are exactly what the code writes (the zstd frame
  // itself may differ between zstd versions).
  std::string index;
  const std::string built = BuildSealed(&index);
  EXPECT_EQ(built.substr(0, kSealedHeaderSize), bytes.substr(0, kSealedHeaderSize));
}

TEST(SpecVectorsTest, IndexVectorDecodes) {
  const std::string bytes = ReadHex("index.hex");
  SegmentIndex index;
  ASSERT_TRUE(DecodeIndex(bytes, &index).ok());
  EXPECT_EQ(index.base_sequence, 7u);
  EXPECT_EQ(index.last_sequence, 8u);
  EXPECT_EQ(index.event_count, 2u);
  EXPECT_EQ(index.sealed_size, ReadHex("sealed_segment.hex").size());
  EXPECT_EQ(index.types, (std::vector<std::string>{"tool_result", "tool_call"}));
  EXPECT_EQ(index.tools, std::vector<std::string>{"Bash"});
  ASSERT_EQ(index.sessions.size(), 2u);
  EXPECT_EQ(index.sessions[0].id, "b23aff530dad41b8");
  EXPECT_EQ(index.sessions[1].id, "s-2");
  EXPECT_EQ(index.sessions[1].tool_calls, 1u);
  ASSERT_EQ(index.blocks.size(), 1u);
  EXPECT_EQ(index.blocks[0].offset, kSealedHeaderSize);
  EXPECT_EQ(index.blocks[0].min_timestamp, 1795440021.8558512);
  EXPECT_EQ(index.blocks[0].max_timestamp, 1795440022.5);
  ASSERT_EQ(index.blocks[0].combos.size(), 2u);
  EXPECT_EQ(index.blocks[0].combos[1].tool, 1u);  // 1 + id of "Bash"
  // The session directory: s-2 has one run, its one event, the second of
  // the block at offset 64.
  SessionDirectory dir;
  ASSERT_TRUE(DecodeSessionDirectory(bytes, &dir, SessionHash("s-2")).ok());
  ASSERT_EQ(dir.entries.size(), 1u);
  const SessionDirEntry& e = dir.entries[0];
  EXPECT_EQ(e.ordinal, 1u);
  EXPECT_EQ(e.events, 1u);
  auto dir_bytes = SessionDirectoryBytes(bytes);
  ASSERT_TRUE(dir_bytes.ok());
  EXPECT_EQ(*dir_bytes, kIndexHeaderSize + kSessionDirHeaderSize + 2 * kSessionDirEntrySize + 8);
  EXPECT_EQ(dir.run_bytes, 10u);  // one run each: offset 64, bytes (two bytes), skip, count
  EXPECT_EQ(e.runs_len, 5u);
  std::vector<SessionRun> runs;
  ASSERT_TRUE(DecodeSessionRuns(bytes.substr(*dir_bytes + e.runs_at, e.runs_len), e, &runs).ok());
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].offset, kSealedHeaderSize);
  EXPECT_EQ(runs[0].bytes, ReadHex("sealed_segment.hex").size() - kSealedHeaderSize);
  EXPECT_EQ(runs[0].skip, 1u);
  EXPECT_EQ(runs[0].count, 1u);
  EXPECT_TRUE(dir.has_timestamp);
  EXPECT_EQ(dir.min_timestamp, 1795440021.8558512);
  EXPECT_EQ(dir.max_timestamp, 1795440022.5);
}

TEST(SpecVectorsTest, AttachmentPackVectorDecodes) {
  const std::string bytes = ReadHex("attach.hex");
  AttachHeader h;
  ASSERT_TRUE(DecodeAttachHeader(bytes, &h).ok());
  EXPECT_EQ(h.first_sequence, 7u);
  EXPECT_EQ(h.records, 2u);
  EXPECT_EQ(h.data_end, bytes.size());
  size_t at = kAttachHeaderSize;
  std::vector<AttachRecord> records;
  while (at < bytes.size()) {
    const size_t size = kAttachRecordHeaderSize + AttachPayloadSize(bytes.data() + at);
    AttachRecord r;
    ASSERT_TRUE(DecodeAttachRecord(bytes.substr(at, size), &r).ok());
    records.push_back(r);
    at += size;
  }
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].kind, AttachKind::kSessionFile);
  EXPECT_EQ(records[0].session, "s-2");
  EXPECT_EQ(records[0].name, "meta.json");
  EXPECT_EQ(records[1].kind, AttachKind::kEventsLayout);
  EventsLayout l;
  ASSERT_TRUE(DecodeEventsLayout(records[1].content, &l).ok());
  EXPECT_FALSE(l.final_newline);
  ASSERT_EQ(l.ranges.size(), 1u);
  EXPECT_EQ(l.ranges[0], (std::pair<uint64_t, uint64_t>{8, 1}));
  EXPECT_EQ(l.lines, 2u);
  ASSERT_EQ(l.others.size(), 1u);
  EXPECT_EQ(l.others[0].first, 1u);
  EXPECT_EQ(l.file_hash, Checksum64(std::string(kEvent2) + "\n"));
  EXPECT_EQ(BuildAttach(), bytes) << "the code writes exactly the vector";
  // Any flipped byte of a record is caught by its checksum.
  for (size_t i = kAttachHeaderSize + kAttachRecordHeaderSize; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x20;
    AttachRecord r;
    const size_t first = kAttachRecordHeaderSize + AttachPayloadSize(bytes.data() + kAttachHeaderSize);
    const size_t rec = i < kAttachHeaderSize + first ? kAttachHeaderSize : kAttachHeaderSize + first;
    const size_t size = kAttachRecordHeaderSize + AttachPayloadSize(bad.data() + rec);
    if (rec + size > bad.size()) continue;  // a length damaged past the end: caught by the reader
    EXPECT_FALSE(DecodeAttachRecord(absl::string_view(bad).substr(rec, size), &r).ok()) << i;
  }
}

}  // namespace
}  // namespace tracelog
