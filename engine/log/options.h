#ifndef TRACELOG_ENGINE_LOG_OPTIONS_H_
#define TRACELOG_ENGINE_LOG_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/seal/seal_options.h"

namespace tracelog {

class FileSystem;

// When appended events are made durable (fdatasync). See format-spec/README.md,
// "Durability contract". Under every policy an event whose Append() returned
// survives the death of the process; the policy decides what survives an OS
// crash or power loss.
struct SyncPolicy {
  enum class Kind {
    kAlways,    // Append returns once the event is durable; concurrent
                // appenders share one fdatasync (group commit).
    kInterval,  // a background thread syncs every `value` milliseconds
                // while there is unsynced data.
    kBytes,     // the append that leaves >= `value` bytes unsynced syncs
                // (group commit) before it returns.
    kNever,     // appends never wait for a sync and Close() does not sync;
                // rolled segments are synced in the background. A process
                // crash loses nothing; an OS crash loses what the kernel had
                // not written back.
  };
  Kind kind = Kind::kInterval;
  uint64_t value = 100;

  // The default: interval:100. An OS crash loses at most ~100 ms of events
  // (the window Redpanda's write caching also uses), at a cost of at most ten
  // fdatasyncs a second, off the append path.
  static SyncPolicy Default() { return SyncPolicy{}; }

  // Parses "always", "never", "interval:<ms>" or "bytes:<n>" (n may end in
  // k, m or g, powers of 1024).
  static absl::StatusOr<SyncPolicy> Parse(absl::string_view text);
  std::string ToString() const;
};

// Parses a byte count: digits, optionally followed by k, m, g or t (powers of
// 1024, either case).
std::optional<uint64_t> ParseByteSize(absl::string_view text);

// Internal tuning of a Log: how it uses the machine, never what it stores or
// promises (every value keeps the durability contract and the format). The
// defaults come from bench/RESULTS.md; bulk imports
// (engine/ndjson/import_transaction.h) and tests change them; the CLI does
// not offer them.
struct LogTuning {
  // Under `never`: rolled segments are synced in the background once no
  // segment has rolled for a second (not during an import, whose commit
  // syncs them), or at once when this many bytes of
  // rolled segments are unsynced. Bounds what recovery scans after an OS
  // crash. Default: 1 GiB.
  uint64_t never_sync_backlog_bytes = 1ull << 30;
  // Pages of the active segment faulted in ahead of the writer by a background
  // thread, so appends copy into resident memory. 0 disables. Default: 32 MiB.
  uint64_t prefault_bytes = 32ull << 20;
  // Append with one pwrite per batch instead of copying into the mapping (no
  // pre-fault thread then). For bulk writers (`tracelog import`): a page of
  // a new segment written through the mapping is first read as a hole and
  // zero-filled by the kernel, then copied over; written whole by pwrite it
  // is only copied (bench/RESULTS.md, issue 5). Always on under `always`,
  // where each sync would write-protect the mapped pages again. Default:
  // false.
  bool append_with_pwrite = false;
  // Under `always`, on a file system whose preallocated blocks are unwritten
  // (FileSystem::AllocatesUnwritten: ext4, XFS): bytes of the active segment
  // ahead of the writer that a background thread ("tracelog-zero") writes
  // with zeros and syncs, so that the writer's syncs find the blocks
  // written. A sync after the first write into an unwritten block must also
  // commit the block's conversion in the file system's journal, which made
  // syncs of a batch of events about twice as slow under load
  // (bench/RESULTS.md). Costs about as many bytes written again as
  // appended. 0 disables. Default: 4 MiB.
  uint64_t zero_ahead_bytes = 4ull << 20;
  // Nice value of the background sealing thread. 19: it takes only CPU the
  // appenders leave (a writer's appends come first). A bulk import, which
  // waits for its seals before it returns, uses 0 so that sealing overlaps
  // the import on another core. Default: 19.
  int seal_nice = 19;
};

struct LogOptions {
  // File system to use. Default: the POSIX file system.
  FileSystem* fs = nullptr;
  // Create the directory (0700) if it does not exist. Default: true.
  bool create_if_missing = true;
  // How long Open waits for another writer (process or Log) to release the
  // writer lock before it fails with FailedPreconditionError. 0: it fails
  // at once. Default: 0.
  uint64_t lock_wait_ms = 0;
  // Open without the writer lock, without recovery writes; Append fails.
  // Readers see a consistent prefix of what a writer has appended. Default: false.
  bool read_only = false;
  // Size at which the active segment is rolled (and preallocated). An event
  // larger than a segment gets a segment of its own. Default: 64 MiB.
  uint64_t segment_size = 64ull << 20;
  // Also roll the active segment once it is this old (milliseconds) and holds
  // an event; 0 disables age-based rolling. Default: 0.
  uint64_t segment_max_age_ms = 0;
  // Durability policy. Default: interval:100.
  SyncPolicy sync = SyncPolicy::Default();
  // Seal rolled segments in a background thread (and, on open, those a
  // previous writer left unsealed). Log::SealAll() seals regardless.
  // Default: true.
  bool seal_on_roll = true;
  SealOptions seal;
  // How the log uses the machine (threads, page faults, writeback), not what
  // it stores or promises: measured defaults, changed by bulk writers and
  // tests, not offered to users.
  LogTuning tuning;
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_LOG_OPTIONS_H_
