#ifndef TRACELOG_ENGINE_LOG_LOG_H_
#define TRACELOG_ENGINE_LOG_LOG_H_

// The Log facade: a directory of segment files holding agent events in
// sequence order. Thread-safe: any number of threads may Append, Sync and read
// at once. See format-spec/README.md for the durability contract it keeps.
//
//   auto log = Log::Open("/var/lib/traces", LogOptions());
//   if (!log.ok()) ...;
//   absl::StatusOr<uint64_t> seq = (*log)->Append(R"({"event_type":"decision",...})");
//   auto reader = (*log)->NewReader(ReaderOptions{.from_sequence = 1});
//   LogEvent ev;
//   while (reader->Next(&ev)) Use(ev.event);

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "engine/format/gap_format.h"
#include "engine/format/segment_format.h"
#include "engine/log/options.h"
#include "engine/log/recovery.h"
#include "engine/segment/segment_scanner.h"

namespace tracelog {

class DictionaryStore;
class FileSystem;
class LogReader;
class SealedSegment;
class Segment;

// An event ready to append: its keys extracted and checksummed. Preparing is
// the expensive, lock-free part of an append; callers that want per-line
// error handling (the CLI) prepare themselves and call AppendPrepared.
struct PreparedEvent {
  absl::string_view event;  // not owned
  std::string keys;         // encoded keys section
  uint8_t flags = 0;
  double timestamp = 0;
  uint64_t checksum = 0;    // of `event`
  bool invalid_utf8 = false;  // `event` is not well-formed UTF-8 (appended all the same)
};

// Extracts and encodes the keys of `event`. InvalidArgumentError when it is
// not a JSON object. Thread-safe (uses a thread-local parser).
absl::Status PrepareEvent(absl::string_view event, PreparedEvent* out);

// An event as read back. Views of an event in a raw segment stay valid while
// the reader that returned them lives; views of an event in a sealed segment
// (decompressed) until the reader moves past that segment, and `keys` of such
// an event until the next Next().
struct LogEvent {
  uint64_t sequence = 0;
  double timestamp = 0;
  uint8_t flags = 0;
  EventKeys keys;
  absl::string_view event;  // the original bytes, no newline
};

// Sequence numbers no event holds, on purpose (a gap file): recovery skipped
// them so that none is given twice. Readers step over them.
using GapReporter = std::function<void(const GapRecord&)>;

struct ReaderOptions {
  uint64_t from_sequence = 1;
  // Receives every damaged range met; damage is skipped either way. A gap
  // of events lost to damage (GapReason::kLost) is reported here too.
  CorruptionReporter reporter;
  // Receives every gap of skipped sequence numbers met (GapReason::kSkipped).
  GapReporter gap_reporter;
  // Fill LogEvent::keys of events from sealed segments (which costs a JSON
  // parse); raw segments store their keys. Default: true.
  bool want_keys = true;
  // Decompress the next sealed segment on a thread of its own while this one
  // is read (for readers through a whole log, as an export: one more segment
  // of events in memory). Default: false.
  bool read_ahead = false;
};

struct AppendBatchResult {
  absl::Status status;
  uint64_t first_sequence = 0;  // of the first appended event
  size_t appended = 0;          // events appended (a prefix of the batch)
};

// One segment as a query sees it: sealed, or raw up to `limit`. Gaps are
// left out.
struct SegmentSnapshot {
  uint64_t base = 0;
  std::shared_ptr<SealedSegment> sealed;  // a sealed segment
  std::shared_ptr<Segment> raw;           // a raw segment
  uint64_t limit = 0;                     // raw: end of its readable records
  uint64_t last_sequence = 0;             // raw: last readable sequence
  // Raw: the last sequence it must hold (the next segment's or gap's base -
  // 1), 0 for the last segment; see SegmentScanner::Bounds.
  uint64_t end_sequence = 0;
  bool limit_is_data_end = false;  // raw: `limit` is where its records end
};

struct RetainOptions {
  // Remove sealed segments whose newest event is older than this (seconds);
  // 0: no age limit.
  double max_age_seconds = 0;
  // Then remove the oldest sealed segments while the log's files take more
  // than this many bytes; 0: no size limit.
  uint64_t max_bytes = 0;
  double now = 0;  // the clock, seconds since the epoch; 0: the real one
};

struct RetainResult {
  std::vector<std::string> removed;  // paths of the removed sealed segments
  uint64_t removed_events = 0;
  uint64_t removed_bytes = 0;
  uint64_t bytes_after = 0;  // what the log's files take afterwards
  // Attachment packs rewritten (or removed) because sessions of theirs have
  // no event left in the log.
  uint64_t pruned_packs = 0;
};

struct LogStats {
  uint64_t segments = 0;
  uint64_t sealed_segments = 0;
  uint64_t first_sequence = 0;  // 0 when empty
  uint64_t last_sequence = 0;   // 0 when empty
  uint64_t events = 0;
  uint64_t disk_bytes = 0;       // sizes of all segment files (preallocation included)
  uint64_t stored_bytes = 0;     // the same without the unused preallocated tail of the
                                 // active segment, plus indexes and dictionaries
  uint64_t active_used_bytes = 0;
  double first_timestamp = 0;
  double last_timestamp = 0;
  uint64_t durable_sequence = 0;
  uint64_t syncs = 0;  // fdatasync rounds completed by this Log object (group commits)
  // Segments this Log object made by writing over the file of a sealed
  // segment of the import in progress (see Log::SealBacklog).
  uint64_t recycled_segments = 0;
  uint64_t gaps = 0;           // gap files (sequence numbers skipped on purpose)
  uint64_t skipped_sequences = 0;  // numbers they cover
  uint64_t sequence_lease = 0;  // no sequence above it is handed out before it is raised
};

// The facade. Log::Open returns the implementation (engine/log/log_impl.h);
// this class holds the public methods only.
class Log {
 public:
  // Opens (creating if allowed) the log in `dir`, recovering after a crash:
  // the torn tail of the last segment is cut off and zeroed. A second writer
  // gets FailedPreconditionError (the directory is locked).
  static absl::StatusOr<std::unique_ptr<Log>> Open(const std::string& dir,
                                                   const LogOptions& options);
  virtual ~Log();  // Close(), ignoring its status.
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Appends one event (one JSON object, without newline); returns its sequence
  // number once the sync policy's promise holds.
  virtual absl::StatusOr<uint64_t> Append(absl::string_view event) = 0;
  // Appends prepared events with consecutive sequence numbers, waiting once.
  // On an I/O error (disk full) a prefix may have been appended: see
  // `appended`.
  virtual AppendBatchResult AppendPrepared(absl::Span<const PreparedEvent> events) = 0;

  // Makes everything appended so far durable.
  virtual absl::Status Sync() = 0;
  // Syncs (except under `never`), writes a clean-shutdown checkpoint, stops
  // background threads, releases the lock. Further calls fail with
  // FailedPreconditionError.
  virtual absl::Status Close() = 0;

  // A reader over the events present when it is created.
  virtual std::unique_ptr<LogReader> NewReader(const ReaderOptions& options) = 0;

  // Rolls the active segment (if it holds events) and seals every raw
  // segment but the new active one; returns once they are durable. A
  // damaged segment stays raw and authoritative, the others are sealed, and
  // the first such DataLossError is returned; any other error stops it.
  virtual absl::Status SealAll() = 0;
  // Seals raw segments (but the active one) on the caller's thread, oldest
  // first, while more than `keep` of them wait that no other thread is
  // sealing: a writer that outruns the background sealer (an import) helps
  // it, which bounds the raw segments in flight and, during an import,
  // hands their files back for recycling soon. A failure leaves the segment
  // raw (SealAll tries again) and is returned.
  virtual absl::Status SealBacklog(size_t keep) = 0;

  // Imports (format-spec/README.md, "Imports and attachments"). BeginImport
  // rolls the active segment if it holds events, so the import starts a
  // segment of its own, and writes the IMPORT marker naming the import's
  // first sequence, which it returns. Until CommitImport, the events
  // appended from there on (and the attachment pack of that sequence) are
  // not part of the log: readers that open meanwhile do not see them, and
  // if the process dies or the import is abandoned (Close, then the next
  // open for writing), they are removed. CommitImport makes everything
  // durable, whatever the sync policy, then removes the marker. One import
  // at a time. (engine/ndjson/import_transaction.h wraps the two.)
  virtual absl::StatusOr<uint64_t> BeginImport() = 0;
  // The commit point is the removal of the IMPORT marker. `committed` (if
  // given) tells whether it was passed: true means the import is part of
  // the log even if an error is returned (the directory sync after the
  // removal failed: a power loss before the directory reaches the disk may
  // still bring the marker back and roll the import back).
  virtual absl::Status CommitImport(bool* committed = nullptr) = 0;

  // Removes whole sealed segments, oldest first, by age and then by size;
  // never a raw segment (so never the active one). Then the attachments of
  // every session none of whose events remain. Crash-safe: the log stays a
  // contiguous range of sequences at every step, and a crash before the
  // attachments are pruned leaves them to the next run.
  virtual absl::StatusOr<RetainResult> Retain(const RetainOptions& options) = 0;

  // The segments present now, in sequence order (for queries). Segments that
  // cannot be opened are reported through `reporter` and left out.
  virtual std::vector<SegmentSnapshot> SnapshotSegments(
      const CorruptionReporter& reporter = nullptr) = 0;
  // The log's zstd dictionaries (for readers of its sealed segments).
  virtual DictionaryStore* dictionaries() = 0;

  virtual LogStats Stats() = 0;
  // What the open recovered (empty after a clean close).
  virtual const RecoveryReport& recovery() const = 0;
  virtual const std::string& dir() const = 0;
  virtual FileSystem* file_system() const = 0;
  virtual const LogOptions& options() const = 0;
  // Highest sequence known durable (all events up to it were synced).
  virtual uint64_t durable_sequence() = 0;

 protected:
  Log() = default;
};

// Every event of a log in sequence order, from ReaderOptions::from_sequence
// to the end the log had when Log::NewReader made it.
class LogReader {
 public:
  virtual ~LogReader() = default;
  // Returns the next event in sequence order; false at the end. Damaged
  // ranges are reported to ReaderOptions::reporter and skipped.
  virtual bool Next(LogEvent* ev) = 0;
  // Non-OK if a segment could not be opened (I/O error); reported as damage too.
  virtual const absl::Status& status() const = 0;
  // Damaged ranges met so far (reported to ReaderOptions::reporter).
  virtual uint64_t corruptions() const = 0;
  // Sealed segments handed to the read-ahead thread so far.
  virtual uint64_t decoded_ahead() const = 0;
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_LOG_LOG_H_
