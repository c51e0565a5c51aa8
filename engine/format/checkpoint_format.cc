#include "engine/format/checkpoint_format.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/format/checksum.h"
#include "engine/format/coding.h"
#include "engine/format/segment_format.h"

namespace tracelog {

// Layout:
//   0  8  magic "TLCHKPT1"
//   8  4  format version
//  12  4  flags (bit 0: clean shutdown)
//  16  8  segment base sequence
//  24  8  end offset within that segment
//  32  8  next sequence
//  40  8  last timestamp (double)
//  48  8  boot hash (volatile slot), zero in the durable slot
//  56  8  XXH3-64 of bytes [0, 56)
void EncodeCheckpoint(const Checkpoint& c, char* dst) {
  std::memset(dst, 0, kCheckpointSize);
  std::memcpy(dst, kCheckpointMagic, 8);
  EncodeFixed32(dst + 8, kFormatVersion);
  EncodeFixed32(dst + 12, c.flags);
  EncodeFixed64(dst + 16, c.segment_base);
  EncodeFixed64(dst + 24, c.end_offset);
  EncodeFixed64(dst + 32, c.next_sequence);
  EncodeDouble(dst + 40, c.last_timestamp);
  EncodeFixed64(dst + 48, c.boot_hash);
  EncodeFixed64(dst + 56, Checksum64(dst, 56));
}

absl::Status DecodeCheckpoint(absl::string_view src, Checkpoint* c) {
  if (src.size() < kCheckpointSize) return absl::DataLossError("checkpoint truncated");
  const char* p = src.data();
  if (std::memcmp(p, kCheckpointMagic, 8) != 0) return absl::DataLossError("bad checkpoint magic");
  if (DecodeFixed64(p + 56) != Checksum64(p, 56)) {
    return absl::DataLossError("checkpoint checksum mismatch");
  }
  const uint32_t version = DecodeFixed32(p + 8);
  if (version < kOldestReadableVersion || version > kFormatVersion) {
    return absl::DataLossError("checkpoint version");
  }
  c->flags = DecodeFixed32(p + 12);
  if ((c->flags & ~kCheckpointKnownFlags) != 0) {
    return absl::DataLossError(absl::StrCat("checkpoint: unknown flags ", c->flags, " at offset 12"));
  }
  c->segment_base = DecodeFixed64(p + 16);
  c->end_offset = DecodeFixed64(p + 24);
  c->next_sequence = DecodeFixed64(p + 32);
  c->last_timestamp = DecodeDouble(p + 40);
  c->boot_hash = DecodeFixed64(p + 48);
  return absl::OkStatus();
}

// Lease slot layout:
//   0  8  magic "TLLEASE1"
//   8  4  format version
//  12  4  reserved, zero
//  16  8  lease: the highest sequence that may be handed out
//  24  8  generation
//  32 24  reserved, zero
//  56  8  XXH3-64 of bytes [0, 56)
void EncodeLease(const SequenceLease& l, char* dst) {
  std::memset(dst, 0, kCheckpointSize);
  std::memcpy(dst, kLeaseMagic, 8);
  EncodeFixed32(dst + 8, kFormatVersion);
  EncodeFixed64(dst + 16, l.lease);
  EncodeFixed64(dst + 24, l.generation);
  EncodeFixed64(dst + 56, Checksum64(dst, 56));
}

absl::Status DecodeLease(absl::string_view src, SequenceLease* l) {
  if (src.size() < kCheckpointSize) return absl::DataLossError("lease slot truncated");
  const char* p = src.data();
  if (std::memcmp(p, kLeaseMagic, 8) != 0) return absl::DataLossError("bad lease magic");
  if (DecodeFixed64(p + 56) != Checksum64(p, 56)) {
    return absl::DataLossError("lease checksum mismatch");
  }
  const uint32_t version = DecodeFixed32(p + 8);
  if (version < 4 || version > kFormatVersion) return absl::DataLossError("lease version");
  if (DecodeFixed32(p + 12) != 0) return absl::DataLossError("lease: reserved bytes at offset 12");
  for (size_t at = 32; at < 56; at += 8) {
    if (DecodeFixed64(p + at) != 0) return absl::DataLossError("lease: reserved bytes at offset 32");
  }
  l->lease = DecodeFixed64(p + 16);
  l->generation = DecodeFixed64(p + 24);
  return absl::OkStatus();
}

}  // namespace tracelog
