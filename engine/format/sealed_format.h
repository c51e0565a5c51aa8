#ifndef TRACELOG_ENGINE_FORMAT_SEALED_FORMAT_H_
#define TRACELOG_ENGINE_FORMAT_SEALED_FORMAT_H_

// On-disk layout of the sealed form of a segment and of its index, and of the
// log's compression dictionary. Constants and pure encode/decode only; no I/O.
// The byte tables are in format-spec/README.md ("Sealed segments").
//
//   <base>.sealed   64-byte header, then zstd blocks (16-byte block header +
//                   one zstd frame each). Events are clustered by session.
//   <base>.idx      64-byte header, a body of per-block and per-session
//                   summaries, and the body's checksum. Rebuildable from the
//                   .sealed file.
//   DICT-<id>       64-byte header + a zstd dictionary trained from the log.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tracelog {

// ---- Sealed segment file ----------------------------------------------------
inline constexpr char kSealedMagic[8] = {'T', 'L', 'S', 'E', 'A', 'L', 'E', 'D'};
inline constexpr size_t kSealedHeaderSize = 64;
inline constexpr size_t kBlockHeaderSize = 16;

struct SealedHeader {
  uint32_t block_count = 0;
  uint64_t base_sequence = 0;
  uint64_t last_sequence = 0;
  uint64_t event_count = 0;
  uint64_t data_end = 0;  // offset just past the last block (the file size)
  uint64_t dict_id = 0;   // 0: blocks are compressed without a dictionary
};
void EncodeSealedHeader(const SealedHeader& h, char* dst);  // kSealedHeaderSize bytes
absl::Status DecodeSealedHeader(absl::string_view src, SealedHeader* h);

// The largest raw (decompressed) block a reader accepts: the largest block
// size Log::Open allows (1 GiB) plus one event (kMaxEventSize, 64 MiB) plus
// the per-event framing, rounded up. A block header's raw size is outside
// every checksum, so a reader bounds it by this, and by the zstd frame's own
// content size, before it sizes a buffer by it.
inline constexpr uint64_t kMaxBlockRawSize = (uint64_t{5} << 28);  // 1.25 GiB
// The most a zstd frame of `frame_bytes` bytes can decompress to (RFC
// 8878): every block of the frame has a 3-byte header and decompresses to
// at most 128 KiB. A stated size above it is a lie: a crafted frame under a
// valid checksum could otherwise make a tiny file cost a reader gigabytes.
inline constexpr uint64_t MaxZstdContentSize(uint64_t frame_bytes) {
  return (frame_bytes / 3 + 1) * (uint64_t{128} << 10);
}
struct BlockHeader {
  uint32_t compressed_size = 0;
  uint32_t raw_size = 0;
  uint64_t checksum = 0;  // XXH3-64 of the compressed bytes
};
void EncodeBlockHeader(const BlockHeader& h, char* dst);  // kBlockHeaderSize bytes
BlockHeader DecodeBlockHeader(const char* src);

// The decompressed contents of a block: events in sealed order (by session,
// then sequence) with their sequence numbers.
struct BlockEvent {
  uint64_t sequence = 0;
  absl::string_view event;
};
// Appends the raw (uncompressed) form of `events` to *dst. `base` is the
// segment's base sequence.
void EncodeRawBlock(uint64_t base, const std::vector<BlockEvent>& events, std::string* dst);
// Parses a raw block; views point into `src`. DataLossError if malformed.
absl::Status DecodeRawBlock(uint64_t base, absl::string_view src, std::vector<BlockEvent>* out);

std::string SealedFileName(uint64_t base_sequence);  // 20 digits + ".sealed"
std::optional<uint64_t> ParseSealedFileName(absl::string_view name);
std::string IndexFileName(uint64_t base_sequence);  // 20 digits + ".idx"
std::optional<uint64_t> ParseIndexFileName(absl::string_view name);

// ---- Index file -------------------------------------------------------------
inline constexpr char kIndexMagic[8] = {'T', 'L', 'I', 'N', 'D', 'E', 'X', '\0'};
inline constexpr size_t kIndexHeaderSize = 64;

// Counts keyed by a small id (into SegmentIndex::types or ::tools, or a
// session ordinal), in ascending id order unless stated otherwise.
using IdCounts = std::vector<std::pair<uint32_t, uint32_t>>;

// How many events of a block share one (event type, tool, error flag).
struct BlockCombo {
  uint32_t type = 0;  // id into SegmentIndex::types
  uint32_t tool = 0;  // 0: no tool; else 1 + id into SegmentIndex::tools
  bool error = false;
  uint32_t count = 0;
};

struct BlockSummary {
  uint64_t offset = 0;  // of the block header in the .sealed file
  uint32_t compressed_size = 0;
  uint32_t raw_size = 0;
  uint32_t count = 0;  // events
  uint64_t min_sequence = 0, max_sequence = 0;
  bool has_timestamp = false;  // some event of the block has a timestamp
  double min_timestamp = 0, max_timestamp = 0;
  // (session ordinal, events) runs in block order; a session may have more
  // than one run in a block (its tool calls of two tools, say).
  IdCounts sessions;
  std::vector<BlockCombo> combos;  // sorted by (type, tool, error)
};

struct SessionSummary {
  std::string id;
  std::string agent;   // data.agent_name of its session_start, if any
  std::string parent;  // parent_session_id (top level or in data) of its session_start
  bool has_timestamp = false;
  double first_timestamp = 0, last_timestamp = 0;
  uint64_t events = 0;
  uint64_t tool_calls = 0;  // events of type tool_call
  uint64_t errors = 0;      // events flagged as errors
  IdCounts types;           // (type id, events)
};

struct SegmentIndex {
  uint64_t base_sequence = 0;
  uint64_t last_sequence = 0;
  uint64_t event_count = 0;
  uint64_t sealed_size = 0;  // size of the .sealed file this indexes
  std::vector<std::string> types;
  std::vector<std::string> tools;
  std::vector<SessionSummary> sessions;  // ordinal = position here (sealed order)
  std::vector<BlockSummary> blocks;
};
// Empty when the body would exceed kMaxIndexBodySize: the segment then has
// no index file, and readers rebuild it from the blocks.
std::string EncodeIndex(const SegmentIndex& index);
// The largest index body (decompressed) a reader accepts; the body's stated
// size is bounded by it before it sizes a buffer.
inline constexpr uint64_t kMaxIndexBodySize = uint64_t{1} << 30;
// DataLossError (message without the file name) on any damage. Without
// `with_sessions`, the session table and the blocks' session runs are
// checked but left empty (most queries need only the blocks' combos and
// ranges; the sessions are most of the decoded memory).
absl::Status DecodeIndex(absl::string_view src, SegmentIndex* index, bool with_sessions = true);

// The session directory at the front of an index file: a session's blocks
// found with three small reads, without decoding the rest of the index.
// A session's events in sealed order form a few runs (its part of the main
// region, its tool calls of each tool, its errors of each tool); each run is
// a slice of the events of consecutive blocks.
inline constexpr size_t kSessionDirHeaderSize = 48;
inline constexpr size_t kSessionDirEntrySize = 32;
struct SessionRun {
  uint64_t offset = 0;  // of the header of the run's first block
  uint64_t bytes = 0;   // from there to the end of the run's last block
  uint32_t skip = 0;    // events of the first block before the run
  uint32_t count = 0;   // the session's events in the run
};
struct SessionDirEntry {
  uint64_t hash = 0;     // SessionHash(id)
  uint32_t ordinal = 0;  // in SegmentIndex::sessions
  uint32_t events = 0;   // the session's events in this segment
  uint32_t runs_at = 0;    // its runs: bytes [runs_at, runs_at + runs_len)
  uint32_t runs_len = 0;   //   of the directory's run area
  uint64_t runs_checksum = 0;  // XXH3-64 of those bytes
  std::vector<SessionRun> runs;  // decoded only by a lookup (SealedSegment::LookupSession)
};
struct SessionDirectory {
  uint64_t run_bytes = 0;      // size of the run area
  bool has_timestamp = false;  // some event of the segment has a timestamp
  double min_timestamp = 0, max_timestamp = 0;
  std::vector<SessionDirEntry> entries;  // sorted by (hash, ordinal)
};
uint64_t SessionHash(absl::string_view id);
// The session directory an index describes, derived from its per-block
// session runs (EncodeIndex stores it), with the encoded run area.
SessionDirectory BuildSessionDirectory(const SegmentIndex& index, std::string* run_area);
// Bytes of the index file needed to read its directory (without the run
// table): kIndexPrefixSize first, then SessionDirectoryBytes(those) in all.
// The run area follows, at SessionDirectoryBytes(), run_bytes long.
inline constexpr size_t kIndexPrefixSize = kIndexHeaderSize + 16;
absl::StatusOr<uint64_t> SessionDirectoryBytes(absl::string_view prefix);
// Decodes the directory from the first SessionDirectoryBytes() bytes; with
// `only_hash`, only the entries of that hash (a binary search, no copy of
// the rest). With `no_entries`, only the directory's header fields (checked
// all the same).
absl::Status DecodeSessionDirectory(absl::string_view src, SessionDirectory* dir,
                                    std::optional<uint64_t> only_hash = std::nullopt,
                                    bool no_entries = false);
// Decodes the runs of `entry` from `src`, the entry's slice of the run area,
// checking it against entry.runs_checksum.
absl::Status DecodeSessionRuns(absl::string_view src, const SessionDirEntry& entry,
                               std::vector<SessionRun>* runs);

// ---- Dictionary file ----------------------------------------------------------
inline constexpr char kDictMagic[8] = {'T', 'L', 'Z', 'D', 'I', 'C', 'T', '\0'};
inline constexpr size_t kDictHeaderSize = 64;
// The id of a dictionary: XXH3-64 of its bytes, never 0.
uint64_t DictionaryId(absl::string_view dict);
std::string DictFileName(uint64_t id);  // "DICT-" + 16 hex digits
std::optional<uint64_t> ParseDictFileName(absl::string_view name);
std::string EncodeDictFile(absl::string_view dict);
// Checks the header and (if verify_content) that the content matches its id;
// *dict views into `src`.
absl::Status DecodeDictFile(absl::string_view src, uint64_t* id, absl::string_view* dict,
                            bool verify_content = true);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_FORMAT_SEALED_FORMAT_H_
