#ifndef TRACELOG_ENGINE_FORMAT_CHECKPOINT_FORMAT_H_
#define TRACELOG_ENGINE_FORMAT_CHECKPOINT_FORMAT_H_

// The CHECKPOINT file: where recovery may start, and the sequence lease.
// Four 64-byte slots:
//  - slot 0, *durable*: written (not synced) only after a sync has completed,
//    so everything it points at is on disk;
//  - slot 1, *volatile*: written at any time (close, and every second under
//    `never`) with a hash of the kernel's boot id. It is only trusted while
//    the machine has not rebooted since: then the page cache still holds
//    everything before it, whatever was synced. It also says when a sync
//    failed in this boot (kCheckpointFlagSyncFailed);
//  - slots 2 and 3, the *sequence lease*, written in turn and synced: no
//    sequence above the lease is ever handed out, so after a crash that may
//    have lost events, recovery continues above it (no number twice).
// A lost or damaged checkpoint slot only makes recovery scan more; a lost
// lease makes it skip more numbers. Version 1-3 files have slots 0 and 1
// only. See format-spec/README.md, "CHECKPOINT".

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tracelog {

inline constexpr char kCheckpointFileName[] = "CHECKPOINT";
inline constexpr char kCheckpointMagic[8] = {'T', 'L', 'C', 'H', 'K', 'P', 'T', '1'};
inline constexpr size_t kCheckpointSize = 64;  // one slot
inline constexpr size_t kCheckpointFileSize = 4 * kCheckpointSize;
inline constexpr uint32_t kCheckpointFlagClean = 1;  // written by Close(): nothing after end
// Volatile slot only: a sync failed in this boot. The page cache may hold
// bytes after the durable slot's position that the kernel will never write
// (it marks them clean after a writeback error), so recovery writes them
// again and syncs them before it trusts them.
inline constexpr uint32_t kCheckpointFlagSyncFailed = 2;
inline constexpr uint32_t kCheckpointKnownFlags = kCheckpointFlagClean | kCheckpointFlagSyncFailed;

struct Checkpoint {
  uint32_t flags = 0;
  uint64_t segment_base = 0;  // the segment `end_offset` refers to
  uint64_t end_offset = 0;    // every record before this offset is durable
  uint64_t next_sequence = 0; // sequence of the record at end_offset
  double last_timestamp = 0;  // timestamp of the last record before end_offset (0 if none)
  uint64_t boot_hash = 0;     // volatile slot: XXH3-64 of the boot id; 0 in the durable slot
};

void EncodeCheckpoint(const Checkpoint& c, char* dst);  // kCheckpointSize bytes
// DataLossError on bad magic, checksum, version or unknown flag bits.
absl::Status DecodeCheckpoint(absl::string_view src, Checkpoint* c);

// A lease slot (offsets 128 and 192 of CHECKPOINT).
inline constexpr char kLeaseMagic[8] = {'T', 'L', 'L', 'E', 'A', 'S', 'E', '1'};
inline constexpr size_t kLeaseSlotOffset[2] = {2 * kCheckpointSize, 3 * kCheckpointSize};
struct SequenceLease {
  uint64_t lease = 0;       // no sequence above this is ever handed out
  uint64_t generation = 0;  // written to slot generation % 2; the newer slot wins
};
void EncodeLease(const SequenceLease& l, char* dst);  // kCheckpointSize bytes
// DataLossError on bad magic, checksum, version or reserved bytes.
absl::Status DecodeLease(absl::string_view src, SequenceLease* l);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_FORMAT_CHECKPOINT_FORMAT_H_
