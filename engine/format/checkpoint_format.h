#ifndef TRACELOG_ENGINE_FORMAT_CHECKPOINT_FORMAT_H_
#define TRACELOG_ENGINE_FORMAT_CHECKPOINT_FORMAT_H_

// The CHECKPOINT file: where recovery may start. Two 64-byte slots:
//  - slot 0, *durable*: written (not synced) only after a sync has completed,
//    so everything it points at is on disk;
//  - slot 1, *volatile*: written at any time (close, and every second under
//    `never`) with a hash of the kernel's boot id. It is only trusted while
//    the machine has not rebooted since: then the page cache still holds
//    everything before it, whatever was synced.
// A lost or damaged slot only makes recovery scan more. See
// format-spec/README.md, "CHECKPOINT".

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tracelog {

inline constexpr char kCheckpointFileName[] = "CHECKPOINT";
inline constexpr char kCheckpointMagic[8] = {'T', 'L', 'C', 'H', 'K', 'P', 'T', '1'};
inline constexpr size_t kCheckpointSize = 64;  // one slot
inline constexpr size_t kCheckpointFileSize = 2 * kCheckpointSize;
inline constexpr uint32_t kCheckpointFlagClean = 1;  // written by Close(): nothing after end

struct Checkpoint {
  uint32_t flags = 0;
  uint64_t segment_base = 0;  // the segment `end_offset` refers to
  uint64_t end_offset = 0;    // every record before this offset is durable
  uint64_t next_sequence = 0; // sequence of the record at end_offset
  double last_timestamp = 0;  // timestamp of the last record before end_offset (0 if none)
  uint64_t boot_hash = 0;     // volatile slot: XXH3-64 of the boot id; 0 in the durable slot
};

void EncodeCheckpoint(const Checkpoint& c, char* dst);  // kCheckpointSize bytes
absl::Status DecodeCheckpoint(absl::string_view src, Checkpoint* c);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_FORMAT_CHECKPOINT_FORMAT_H_
