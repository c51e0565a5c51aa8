#ifndef TRACELOG_ENGINE_LOG_CHECKPOINT_FILE_H_
#define TRACELOG_ENGINE_LOG_CHECKPOINT_FILE_H_

// The CHECKPOINT file of a log directory (engine/format/checkpoint_format.h):
// reading its slots for recovery, writing them for the writer. Not
// thread-safe: the Log serialises its writes.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "engine/format/checkpoint_format.h"
#include "engine/io/file_system.h"

namespace tracelog {

// What a CHECKPOINT file says. Damaged or missing slots are absent.
struct CheckpointState {
  std::optional<Checkpoint> durable;
  // The volatile slot, if intact (trusted only when same_boot).
  std::optional<Checkpoint> volatile_slot;
  // The volatile slot was written in this boot of the machine: the page
  // cache still holds everything the writer had written then.
  bool same_boot = false;
  // The newer intact lease slot.
  std::optional<SequenceLease> lease;
};

// Reads dir/CHECKPOINT; a missing or unreadable file is an empty state
// (recovery then scans more and skips more numbers, never less safely).
CheckpointState ReadCheckpointState(FileSystem* fs, const std::string& dir, uint64_t boot_hash);

class CheckpointFile {
 public:
  // Opens (creating, 0600) dir/CHECKPOINT for writing.
  static absl::StatusOr<std::unique_ptr<CheckpointFile>> Open(FileSystem* fs,
                                                              const std::string& dir);

  // Writes the durable (slot 0) or volatile (slot 1) slot; not synced.
  absl::Status Write(const Checkpoint& cp, bool durable);
  // Raises the sequence lease to `lease`: the next generation's slot is
  // written and the file synced; only then may sequences up to `lease` be
  // handed out. `generation` is the last one written (0: none).
  absl::Status WriteLease(uint64_t lease, uint64_t* generation);
  absl::Status Sync() { return file_->Sync(); }

 private:
  explicit CheckpointFile(std::unique_ptr<File> file) : file_(std::move(file)) {}
  std::unique_ptr<File> file_;
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_LOG_CHECKPOINT_FILE_H_
