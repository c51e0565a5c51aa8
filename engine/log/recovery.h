#ifndef TRACELOG_ENGINE_LOG_RECOVERY_H_
#define TRACELOG_ENGINE_LOG_RECOVERY_H_

// Opening a log directory: which files make up the log, where its records
// end, and where appends continue (format-spec/README.md, "Recovery
// rules"). A writer repairs what it must (rolls back an unfinished import,
// removes unfinished files, cuts a torn tail, writes again what a failed
// sync may have left unwritten, skips sequence numbers that events may have
// used before a crash); a reader changes nothing and sees the same log.
//
// The rules that shape it:
//  - damage is contained to what is damaged: a damaged segment header, a
//    damaged record or a zeroed page is reported, never a reason to drop
//    other, intact data;
//  - a sequence number is never given to two events: when events may have
//    been lost (a reboot after an unclean shutdown, a rolled-back import),
//    appends continue above the sequence lease and a gap file records the
//    numbers skipped;
//  - an error that is not damage (no descriptors, no memory, an I/O error)
//    fails the open and changes nothing.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/format/checkpoint_format.h"
#include "engine/format/gap_format.h"
#include "engine/io/file_system.h"
#include "engine/segment/segment_scanner.h"

namespace tracelog {

class CheckpointFile;
class DictionaryStore;
class Segment;
class SealedSegment;

// What Open found and did.
struct RecoveryReport {
  bool used_checkpoint = false;
  bool clean_shutdown = false;
  uint64_t scanned_bytes = 0;     // bytes of records checked during recovery
  uint64_t truncated_at = 0;      // offset in the last segment where the log ends
  std::string truncation_reason;  // a torn tail cut off there; empty when the tail was clean
  // Damaged ranges found (headers, records, short segments): reported and
  // kept; readers skip them and report them too.
  std::vector<Corruption> damage;
  // Damaged files set aside (renamed *.damaged), kept for forensics.
  std::vector<std::string> quarantined;
  // Gap files written: sequence numbers skipped so that none is reused.
  std::vector<GapRecord> gaps;
  // Bytes written again (and synced) because a sync failed in this boot.
  uint64_t rewritten_bytes = 0;
  // An unfinished import rolled back: its first sequence (0 if none).
  uint64_t rolled_back_import = 0;
  // Leftovers removed: files whose creation never finished, empty segments
  // of a roll that failed.
  std::vector<std::string> removed;

  // Whether there is anything an operator should hear about (more than a
  // clean open or the routine cut of a torn tail).
  bool Notable() const;
  // One line per thing found or done, for the CLI (stderr of writers,
  // `info`, `verify`).
  std::vector<std::string> Lines() const;
};

// One file of the log, in base order.
struct SegmentEntry {
  enum class Kind { kRaw, kSealed, kGap };
  uint64_t base = 0;
  std::string path;
  Kind kind = Kind::kRaw;
  std::shared_ptr<Segment> segment;        // raw: set once opened (lazily by readers)
  std::shared_ptr<SealedSegment> sealed;   // sealed: set once opened
  GapRecord gap;                           // gap: as decoded
  absl::Status gap_status;                 // gap: damage of the file (then `gap` is unset)
  // Raw, for a reader after a crash that no writer has recovered yet: where
  // the crash cut the segment (its records end there; 0: not cut). A
  // writer's recovery zeroes the rest and writes the gap this reader makes
  // up (a gap entry whose file is not there yet).
  uint64_t records_limit = 0;

  bool is_raw() const { return kind == Kind::kRaw; }
  bool is_sealed() const { return kind == Kind::kSealed; }
  bool is_gap() const { return kind == Kind::kGap; }
};

struct RecoveryInput {
  FileSystem* fs = nullptr;
  std::string dir;
  bool writable = false;
  uint64_t boot_hash = 0;      // XXH3 of the boot id; 0: unknown
  uint64_t segment_size = 0;   // for a segment recovery creates
  DictionaryStore* dicts = nullptr;
  CheckpointFile* checkpoint = nullptr;  // writer only
};

struct RecoveredLog {
  std::vector<SegmentEntry> segments;
  // Where appends go (writer), or the raw segment a reader's log ends in
  // (null when the last segment is not raw).
  std::shared_ptr<Segment> active;
  uint64_t write_offset = 0;  // end of the records of `active`
  uint64_t next_sequence = 1;
  double last_timestamp = 0;
  int64_t active_created_micros = 0;
  std::optional<SequenceLease> lease;  // as read from CHECKPOINT
  // The durable CHECKPOINT slot as read says the last close was clean.
  bool durable_slot_clean = false;
  RecoveryReport report;
};

// How far past an apparent end of the active segment recovery looks for
// records (a zeroed page at a record boundary looks like the end).
inline constexpr uint64_t kRecoveryLookahead = 64 << 10;

absl::StatusOr<RecoveredLog> RecoverLog(const RecoveryInput& in);

// Reads and checks the gap file at `path`.
absl::StatusOr<GapRecord> ReadGapFile(FileSystem* fs, const std::string& path);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_LOG_RECOVERY_H_
