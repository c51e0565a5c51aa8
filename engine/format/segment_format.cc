#include "engine/format/segment_format.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/format/checksum.h"
#include "engine/format/coding.h"

namespace tracelog {

// Segment header layout (see format-spec/README.md, "Segment header"):
//   0  8  magic "TRACELOG"
//   8  4  format version
//  12  4  header size (64)
//  16  8  base sequence
//  24  8  capacity
//  32  8  created, µs since the epoch (signed)
//  40 16  reserved, zero
//  56  8  XXH3-64 of bytes [0, 56)
void EncodeSegmentHeader(const SegmentHeader& h, char* dst) {
  std::memset(dst, 0, kSegmentHeaderSize);
  std::memcpy(dst, kSegmentMagic, 8);
  EncodeFixed32(dst + 8, kFormatVersion);
  EncodeFixed32(dst + 12, kSegmentHeaderSize);
  EncodeFixed64(dst + 16, h.base_sequence);
  EncodeFixed64(dst + 24, h.capacity);
  EncodeFixed64(dst + 32, static_cast<uint64_t>(h.created_micros));
  EncodeFixed64(dst + 56, Checksum64(dst, 56));
}

absl::Status DecodeSegmentHeader(absl::string_view src, SegmentHeader* h) {
  if (src.size() < kSegmentHeaderSize) {
    return absl::DataLossError(
        absl::StrCat("segment header truncated: ", src.size(), " of ", kSegmentHeaderSize, " bytes"));
  }
  const char* p = src.data();
  if (std::memcmp(p, kSegmentMagic, 8) != 0) {
    return absl::DataLossError("not a tracelog segment (bad magic at offset 0)");
  }
  const uint64_t stored = DecodeFixed64(p + 56);
  if (stored != Checksum64(p, 56)) {
    return absl::DataLossError("segment header checksum mismatch at offset 56");
  }
  const uint32_t version = DecodeFixed32(p + 8);
  if (version < kOldestReadableVersion || version > kFormatVersion) {
    return absl::DataLossError(absl::StrCat("unsupported format version ", version,
                                            " at offset 8 (this build reads version ",
                                            kFormatVersion, ")"));
  }
  if (DecodeFixed32(p + 12) != kSegmentHeaderSize) {
    return absl::DataLossError("bad segment header size at offset 12");
  }
  if (DecodeFixed64(p + 40) != 0 || DecodeFixed64(p + 48) != 0) {
    return absl::DataLossError("segment header: reserved bytes [40, 56) are not zero");
  }
  h->base_sequence = DecodeFixed64(p + 16);
  h->capacity = DecodeFixed64(p + 24);
  h->created_micros = static_cast<int64_t>(DecodeFixed64(p + 32));
  return absl::OkStatus();
}

std::string SegmentFileName(uint64_t base_sequence) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020" PRIu64 ".seg", base_sequence);
  return buf;
}

std::optional<uint64_t> ParseSegmentFileName(absl::string_view name) {
  if (name.size() != 24 || name.substr(20) != ".seg") return std::nullopt;
  for (char c : name.substr(0, 20)) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  uint64_t v;
  if (!absl::SimpleAtoi(name.substr(0, 20), &v)) return std::nullopt;
  return v;
}

void EncodeKeys(const EventKeys& keys, std::string* dst) {
  PutLengthPrefixed(dst, keys.session_id);
  PutLengthPrefixed(dst, keys.event_type);
  PutLengthPrefixed(dst, keys.event_id);
  PutLengthPrefixed(dst, keys.parent_id);
  PutLengthPrefixed(dst, keys.tool_name);
}

bool DecodeKeys(absl::string_view src, EventKeys* keys) {
  const char* p = src.data();
  const char* limit = p + src.size();
  return GetLengthPrefixed(&p, limit, &keys->session_id) &&
         GetLengthPrefixed(&p, limit, &keys->event_type) &&
         GetLengthPrefixed(&p, limit, &keys->event_id) &&
         GetLengthPrefixed(&p, limit, &keys->parent_id) &&
         GetLengthPrefixed(&p, limit, &keys->tool_name) && p == limit;
}

// Record header layout (see format-spec/README.md, "Record"):
//   0  8  XXH3-64 of bytes [8, 48 + K): the rest of the header and the keys
//   8  4  magic "TLR1"
//  12  1  type
//  13  1  flags
//  14  2  reserved, zero
//  16  4  keys length K
//  20  4  event length E
//  24  8  sequence
//  32  8  timestamp (IEEE-754 double, seconds since the epoch)
//  40  8  XXH3-64 of the event bytes
//  48  K  keys
//  48+K E event bytes, then zero padding to a multiple of 8
// The header checksum comes first so that it covers one contiguous range
// (one XXH3 call over ~100 bytes instead of a streaming hash).
namespace {
uint64_t HeaderChecksum(const char* record, size_t keys_len) {
  return Checksum64(record + 8, kRecordHeaderSize - 8 + keys_len);
}
}  // namespace



void EncodeRecord(char* dst, uint64_t sequence, uint8_t flags, double timestamp,
                  absl::string_view keys, absl::string_view event, uint64_t event_checksum) {
  EncodeFixed32(dst + 8, kRecordMagic);
  dst[12] = static_cast<char>(kRecordTypeEvent);
  dst[13] = static_cast<char>(flags);
  dst[14] = 0;
  dst[15] = 0;
  EncodeFixed32(dst + 16, static_cast<uint32_t>(keys.size()));
  EncodeFixed32(dst + 20, static_cast<uint32_t>(event.size()));
  EncodeFixed64(dst + 24, sequence);
  EncodeDouble(dst + 32, timestamp);
  EncodeFixed64(dst + 40, event_checksum);
  char* body = dst + kRecordHeaderSize;
  std::memcpy(body, keys.data(), keys.size());
  EncodeFixed64(dst, HeaderChecksum(dst, keys.size()));
  const size_t used = kRecordHeaderSize + keys.size() + event.size();
  std::memset(dst + used, 0, AlignRecord(used) - used);
  std::memcpy(body + keys.size(), event.data(), event.size());
}

const char* RecordStatusName(RecordStatus s) {
  switch (s) {
    case RecordStatus::kOk: return "ok";
    case RecordStatus::kEndOfData: return "end of data";
    case RecordStatus::kTruncated: return "truncated record";
    case RecordStatus::kBadMagic: return "bad record magic";
    case RecordStatus::kBadHeaderChecksum: return "record header checksum mismatch";
    case RecordStatus::kBadEventChecksum: return "event checksum mismatch";
    case RecordStatus::kUnknownType: return "unknown record type";
    case RecordStatus::kBadField: return "reserved record bytes or unknown flags set";
  }
  return "?";
}

RecordStatus DecodeRecord(absl::string_view data, size_t offset, RecordView* out) {
  if (offset > data.size() || data.size() - offset < kRecordHeaderSize) {
    // Fewer bytes than a header: end of data if they are all zero.
    for (size_t i = offset; i < data.size(); ++i) {
      if (data[i] != 0) return RecordStatus::kTruncated;
    }
    return RecordStatus::kEndOfData;
  }
  const char* h = data.data() + offset;
  const uint32_t magic = DecodeFixed32(h + 8);
  if (magic != kRecordMagic) {
    return magic == 0 && DecodeFixed64(h) == 0 ? RecordStatus::kEndOfData : RecordStatus::kBadMagic;
  }
  const uint64_t keys_len = DecodeFixed32(h + 16);
  const uint64_t event_len = DecodeFixed32(h + 20);
  const size_t avail = data.size() - offset;
  if (kRecordHeaderSize + keys_len > avail) {
    return RecordStatus::kTruncated;
  }
  if (DecodeFixed64(h) != HeaderChecksum(h, keys_len)) {
    return RecordStatus::kBadHeaderChecksum;
  }
  const size_t size = RecordSize(keys_len, event_len);
  if (size > avail) return RecordStatus::kTruncated;
  out->type = static_cast<uint8_t>(h[12]);
  out->flags = static_cast<uint8_t>(h[13]);
  out->sequence = DecodeFixed64(h + 24);
  out->timestamp = DecodeDouble(h + 32);
  out->keys = absl::string_view(h + kRecordHeaderSize, keys_len);
  out->event = absl::string_view(h + kRecordHeaderSize + keys_len, event_len);
  out->size = size;
  if (DecodeFixed64(h + 40) != Checksum64(out->event)) {
    return RecordStatus::kBadEventChecksum;
  }
  if (out->type != kRecordTypeEvent && (out->type & kRecordTypeSkippableBit) == 0) {
    return RecordStatus::kUnknownType;
  }
  if (out->type == kRecordTypeEvent &&
      ((out->flags & ~kKnownRecordFlags) != 0 || h[14] != 0 || h[15] != 0)) {
    return RecordStatus::kBadField;
  }
  return RecordStatus::kOk;
}

}  // namespace tracelog
