#ifndef TRACELOG_ENGINE_FORMAT_CHECKPOINT_FORMAT_H_
#define TRACELOG_ENGINE_FORMAT_CHECKPOINT_FORMAT_H_

// The CHECKPOINT file: where recovery may start. Written (not synced) only
// after a sync has completed, so everything it points at is durable; a lost or
// damaged checkpoint only makes recovery scan more. 64 bytes; see
// format-spec/README.md, "Checkpoint".

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tracelog {

inline constexpr char kCheckpointFileName[] = "CHECKPOINT";
inline constexpr char kCheckpointMagic[8] = {'T', 'L', 'C', 'H', 'K', 'P', 'T', '1'};
inline constexpr size_t kCheckpointSize = 64;
inline constexpr uint32_t kCheckpointFlagClean = 1;  // written by Close(): nothing after end

struct Checkpoint {
  uint32_t flags = 0;
  uint64_t segment_base = 0;  // the segment `end_offset` refers to
  uint64_t end_offset = 0;    // every record before this offset is durable
  uint64_t next_sequence = 0; // sequence of the record at end_offset
  double last_timestamp = 0;  // timestamp of the last durable record (0 if none)
};

void EncodeCheckpoint(const Checkpoint& c, char* dst);  // kCheckpointSize bytes
absl::Status DecodeCheckpoint(absl::string_view src, Checkpoint* c);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_FORMAT_CHECKPOINT_FORMAT_H_
