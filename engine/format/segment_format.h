#ifndef TRACELOG_ENGINE_FORMAT_SEGMENT_FORMAT_H_
#define TRACELOG_ENGINE_FORMAT_SEGMENT_FORMAT_H_

// On-disk layout of a log segment: a 64-byte segment header followed by
// records. Constants and pure encode/decode only; no I/O. The prose contract is
// format-spec/README.md; the byte tables there and the constants here must agree
// (tests/format/spec_vectors_test.cc decodes the spec's test vectors).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tracelog {

// Version of the on-disk format. Bump on any change of any byte's meaning.
// 1: raw segments. 2: adds sealed segments, their indexes and the dictionary
// (raw segments are unchanged: a version-1 segment reads the same).
// 3: the index's session directory lists each session's runs of blocks, and
// sealed order keeps tool calls apart by tool (sealed segment and dictionary
// bytes are unchanged: version-2 ones read the same; a version-2 index is
// rebuilt).
// 4: gap files (`<first>.gap`), the sequence lease and the sync-failed flag
// in CHECKPOINT (two more slots), reserved record bytes and unknown flag
// bits checked (records, segment headers, sealed files and indexes of
// versions 1-3 read the same).
inline constexpr uint32_t kFormatVersion = 4;
inline constexpr uint32_t kOldestReadableVersion = 1;  // raw segments, CHECKPOINT
inline constexpr uint32_t kOldestSealedVersion = 2;    // .sealed, DICT-*
inline constexpr uint32_t kOldestIndexVersion = 3;     // .idx

// ---- Segment header (64 bytes at offset 0) --------------------------------
inline constexpr char kSegmentMagic[8] = {'T', 'R', 'A', 'C', 'E', 'L', 'O', 'G'};
inline constexpr size_t kSegmentHeaderSize = 64;

struct SegmentHeader {
  uint64_t base_sequence = 0;   // sequence number of the first record
  uint64_t capacity = 0;        // file size reserved at creation
  int64_t created_micros = 0;   // wall clock at creation, µs since the epoch
};

// Writes exactly kSegmentHeaderSize bytes to dst.
void EncodeSegmentHeader(const SegmentHeader& h, char* dst);
// DataLossError on wrong magic, unknown version or bad checksum; the message
// says which and is meant to be prefixed with the file name by the caller.
absl::Status DecodeSegmentHeader(absl::string_view src, SegmentHeader* h);

// Segment files are named by their base sequence: 20 decimal digits + ".seg".
std::string SegmentFileName(uint64_t base_sequence);
std::optional<uint64_t> ParseSegmentFileName(absl::string_view name);

// ---- Records ---------------------------------------------------------------
inline constexpr uint32_t kRecordMagic = 0x31524C54;  // "TLR1" little-endian
inline constexpr size_t kRecordHeaderSize = 48;
inline constexpr size_t kRecordAlignment = 8;

// Record types. Bit 7 set means "a reader that does not know this type may
// skip the record"; without it an unknown type is corruption.
inline constexpr uint8_t kRecordTypeEvent = 1;
inline constexpr uint8_t kRecordTypeSkippableBit = 0x80;

// Record flags.
inline constexpr uint8_t kFlagError = 1 << 0;         // event is an error
inline constexpr uint8_t kFlagHasTimestamp = 1 << 1;  // timestamp field is valid
inline constexpr uint8_t kKnownRecordFlags = kFlagError | kFlagHasTimestamp;

// The largest event an append takes, in bytes: appends of larger ones fail
// with InvalidArgumentError. It bounds every length a reader derives from
// an event (records, sealed blocks: a block holds its events' bytes plus at
// most a few bytes each). 64 MiB.
inline constexpr size_t kMaxEventSize = size_t{64} << 20;

// The index keys extracted from an event (views into the event or a scratch
// buffer). See engine/format/event_keys.h for how they are derived.
struct EventKeys {
  absl::string_view session_id;
  absl::string_view event_type;
  absl::string_view event_id;
  absl::string_view parent_id;
  absl::string_view tool_name;
  double timestamp = 0;
  bool has_timestamp = false;
  bool error = false;
};

// Serialises the string keys (varint-length-prefixed, in the order above).
void EncodeKeys(const EventKeys& keys, std::string* dst);
// Parses a keys section; strings view into `src`. Returns false if malformed.
bool DecodeKeys(absl::string_view src, EventKeys* keys);

inline constexpr size_t AlignRecord(size_t n) {
  return (n + kRecordAlignment - 1) & ~(kRecordAlignment - 1);
}
// Bytes a record occupies in a segment, padding included.
inline constexpr size_t RecordSize(size_t keys_len, size_t event_len) {
  return AlignRecord(kRecordHeaderSize + keys_len + event_len);
}

// Writes one complete record (header, keys, event, zero padding) to dst, which
// must hold RecordSize(keys.size(), event.size()) bytes. `event_checksum` is
// Checksum64(event), computed by the caller (outside any lock).
void EncodeRecord(char* dst, uint64_t sequence, uint8_t flags, double timestamp,
                  absl::string_view keys, absl::string_view event, uint64_t event_checksum);

// A decoded record: views into the segment bytes.
struct RecordView {
  uint64_t sequence = 0;
  uint8_t type = 0;
  uint8_t flags = 0;
  double timestamp = 0;
  absl::string_view keys;   // encoded keys section
  absl::string_view event;  // the original event bytes
  size_t size = 0;          // bytes occupied, padding included
};

enum class RecordStatus {
  kOk,
  kEndOfData,          // a zero magic: the unwritten (preallocated) tail
  kTruncated,          // header or body extends past the end of the data
  kBadMagic,           // neither a record nor zeros
  kBadHeaderChecksum,  // header or keys damaged (lengths untrusted)
  kBadEventChecksum,   // event bytes damaged
  kUnknownType,        // type without the skippable bit
  kBadField,           // reserved bytes not zero, or an unknown flag bit set
};
const char* RecordStatusName(RecordStatus s);

// Decodes the record at data[offset..]. Only kOk fills *out completely; a
// skippable unknown type also returns kOk with out->type set so the caller can
// skip it by out->size.
RecordStatus DecodeRecord(absl::string_view data, size_t offset, RecordView* out);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_FORMAT_SEGMENT_FORMAT_H_
