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

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "engine/format/sealed_format.h"
#include "engine/format/segment_format.h"
#include "engine/port/adaptive_mutex.h"
#include "engine/log/options.h"
#include "engine/log/recovery.h"
#include "engine/segment/segment_scanner.h"

namespace tracelog {

class BlockCodec;
class CheckpointFile;
class DictionaryStore;
class FileLock;
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

class Log {
 public:
  // Opens (creating if allowed) the log in `dir`, recovering after a crash:
  // the torn tail of the last segment is cut off and zeroed. A second writer
  // gets FailedPreconditionError (the directory is locked).
  static absl::StatusOr<std::unique_ptr<Log>> Open(const std::string& dir,
                                                   const LogOptions& options);
  ~Log();  // Close(), ignoring its status.
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Appends one event (one JSON object, without newline); returns its sequence
  // number once the sync policy's promise holds.
  absl::StatusOr<uint64_t> Append(absl::string_view event);
  // Appends prepared events with consecutive sequence numbers, waiting once.
  // On an I/O error (disk full) a prefix may have been appended: see
  // `appended`.
  AppendBatchResult AppendPrepared(absl::Span<const PreparedEvent> events);

  // Makes everything appended so far durable.
  absl::Status Sync();
  // Syncs (except under `never`), writes a clean-shutdown checkpoint, stops
  // background threads, releases the lock. Further calls fail with
  // FailedPreconditionError.
  absl::Status Close();

  // A reader over the events present when it is created.
  std::unique_ptr<LogReader> NewReader(const ReaderOptions& options);

  // Rolls the active segment (if it holds events) and seals every raw
  // segment but the new active one; returns once they are durable. A
  // damaged segment stays raw and authoritative, the others are sealed, and
  // the first such DataLossError is returned; any other error stops it.
  absl::Status SealAll();
  // Imports (format-spec/README.md, "Imports and attachments"). BeginImport
  // rolls the active segment if it holds events, so the import starts a
  // segment of its own, and writes the IMPORT marker naming the import's
  // first sequence, which it returns. Until CommitImport, the events
  // appended from there on (and the attachment pack of that sequence) are
  // not part of the log: readers that open meanwhile do not see them, and
  // if the process dies or the import is abandoned (Close, then the next
  // open for writing), they are removed. CommitImport makes everything
  // durable, whatever the sync policy, then removes the marker. One import
  // at a time.
  // Seals raw segments (but the active one) on the caller's thread, oldest
  // first, while more than `keep` of them wait that no other thread is
  // sealing: a writer that outruns the background sealer (an import) helps
  // it, which bounds the raw segments in flight and, during an import,
  // hands their files back for recycling soon. A failure leaves the segment
  // raw (SealAll tries again) and is returned.
  absl::Status SealBacklog(size_t keep, BlockCodec* codec);
  absl::StatusOr<uint64_t> BeginImport();
  // The commit point is the removal of the IMPORT marker. `committed` (if
  // given) tells whether it was passed: true means the import is part of
  // the log even if an error is returned (the directory sync after the
  // removal failed: a power loss before the directory reaches the disk may
  // still bring the marker back and roll the import back).
  absl::Status CommitImport(bool* committed = nullptr);
  // Removes whole sealed segments, oldest first, by age and then by size;
  // never a raw segment (so never the active one). Then the attachments of
  // every session none of whose events remain (see PruneAttachments).
  // Crash-safe: the log stays a contiguous range of sequences at every step,
  // and a crash before the attachments are pruned leaves them to the next
  // run.
  absl::StatusOr<RetainResult> Retain(const RetainOptions& options);
  // The segments present now, in sequence order (for queries). Segments that
  // cannot be opened are reported through `reporter` and left out.
  std::vector<SegmentSnapshot> SnapshotSegments(const CorruptionReporter& reporter = nullptr);
  DictionaryStore* dictionaries() { return dicts_.get(); }

  LogStats Stats();
  const RecoveryReport& recovery() const { return recovery_; }
  const std::string& dir() const { return dir_; }
  FileSystem* file_system() const { return fs_; }
  const LogOptions& options() const { return options_; }
  // Highest sequence known durable (all events up to it were synced).
  uint64_t durable_sequence();

 private:
  friend class LogReader;
  using SegmentRef = SegmentEntry;

  Log(std::string dir, LogOptions options);
  absl::Status Recover();
  // Writes the durable slot (REQUIRES: everything before end_offset synced)
  // or the volatile slot of CHECKPOINT. The volatile slot says whether the
  // log is in the failed state (a sync failed in this boot).
  absl::Status WriteCheckpoint(uint64_t segment_base, uint64_t end_offset, uint64_t next_seq,
                               double last_ts, bool clean, bool durable);
  // Puts the log into the failed state with `s` and records it in the
  // volatile checkpoint slot, so that the next open in this boot writes
  // again what the failed sync may have left unwritten. Returns the status
  // callers return. REQUIRES: sync_mu_ held (and `at` the position of the
  // writer's end known to the caller).
  absl::Status EnterFailedStateLocked(const absl::Status& s, uint64_t segment_base,
                                      uint64_t end_offset, uint64_t next_seq, double last_ts);
  // Makes sure no sequence up to `last` is handed out before the lease
  // covers it: raises the lease (one CHECKPOINT sync) when it does not.
  // REQUIRES: mu_ held.
  absl::Status CoverByLeaseLocked(uint64_t last);
  absl::Status RollLocked(size_t needed);            // REQUIRES: mu_ held
  void RemoveSparesLocked();                         // REQUIRES: mu_ held
  absl::Status SyncThrough(uint64_t sequence);       // group commit
  void BackgroundLoop();
  void PrefaultLoop();
  // REQUIRES: segments_mu_ held.
  absl::StatusOr<std::shared_ptr<Segment>> SegmentForReadLocked(size_t index);
  // Opens segments_[index] for reading if not yet (a raw segment that
  // another process sealed meanwhile becomes sealed). OutOfRangeError when
  // another process's retention removed it; a gap's damage for a damaged
  // gap. REQUIRES: segments_mu_.
  absl::Status LoadRefLocked(size_t index);
  // Whether the segment of `base`, whose file is gone, was removed by
  // retention (after a later segment became the first): readers then skip
  // it quietly (LoadRefLocked says OutOfRangeError).
  bool RemovedByRetention(uint64_t base);
  // Rewrites the attachment packs without the sessions that have no event
  // in the log any more (a session without events: once its import's first
  // sequence is gone), and removes packs left empty.
  absl::Status PruneAttachments(RetainResult* result);
  // REQUIRES: segments_mu_ held; segments_[index] is sealed.
  absl::StatusOr<std::shared_ptr<SealedSegment>> SealedForReadLocked(size_t index);
  // Seals the raw segment with base `base` (not the active one). If another
  // thread is sealing it: with `busy`, sets *busy and returns at once; else
  // waits for that thread.
  absl::Status SealOne(uint64_t base, BlockCodec* codec, bool* busy = nullptr);
  void SealLoop();
  void EnqueueSeal(uint64_t base);
  // Index in segments_ of the segment with logical number `n` (see
  // removed_front_), or -1 if retention removed it. REQUIRES: segments_mu_.
  ptrdiff_t Physical(size_t n) const {
    return n < removed_front_ ? -1 : static_cast<ptrdiff_t>(n - removed_front_);
  }
  bool failed() const { return failed_flag_.load(std::memory_order_acquire); }
  absl::Status failed_status();
  bool GroupComplete() const;  // commit delay: all appenders in flight have appended

  const std::string dir_;
  LogOptions options_;
  FileSystem* fs_;
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<CheckpointFile> checkpoint_file_;
  std::mutex checkpoint_mu_;  // serialises CHECKPOINT slot writes (innermost lock)
  RecoveryReport recovery_;
  uint64_t boot_hash_ = 0;  // of fs_->BootId(); 0 disables the volatile checkpoint
  uint64_t import_from_ = 0;  // first sequence of the import in progress (0: none)
  double first_timestamp_ = 0;

  bool use_pwrite_ = false;  // append with pwrite instead of through the mapping
  // Appends. Everything below up to sync_mu_ is guarded by mu_.
  alignas(64) AdaptiveMutex mu_;
  bool closed_ = true;  // until Open() has recovered
  std::shared_ptr<Segment> active_;
  uint64_t write_offset_ = 0;  // end of the last record in active_
  std::string write_buffer_;   // records staged for one pwrite (use_pwrite_)
  uint64_t next_seq_ = 1;
  double last_ts_ = 0;
  // The sequence lease (CHECKPOINT slots 2-3): no sequence above lease_ is
  // handed out. Raised by lease_step_ at a time, which doubles while raises
  // come less than a second apart (up to 4 Mi) and halves when they are
  // more than ten seconds apart (down to 4 Ki): after a crash that may have
  // lost events, recovery skips at most one step of numbers.
  uint64_t lease_ = 0;
  uint64_t lease_generation_ = 0;
  uint64_t lease_step_ = 4096;
  int64_t last_lease_micros_ = 0;
  struct RolledFile {
    std::shared_ptr<File> file;
    uint64_t last_seq;   // last sequence in the rolled segment
    uint64_t next_base;  // base of the segment that followed it
    double last_ts;
    uint64_t base;   // its own base
    uint64_t bytes;  // its size, counted in rolled_unsynced_bytes_
  };
  // Rolled segments not yet synced. One that is sealed meanwhile leaves the
  // list (its sealed file is durable; its raw file is gone).
  std::vector<RolledFile> unsynced_;
  // Raw segments of the import in progress that were sealed, kept (renamed
  // spare-<k>.seg.tmp) to be written over by the next segments of the
  // import: their pages are resident, so appends into them cost neither page
  // faults nor the kernel's zeroing of fresh pages (~13% of an import's
  // CPU). Removed at the commit, by Close, and (as .tmp files) by recovery.
  std::vector<std::string> spares_;
  uint64_t spare_names_ = 0;  // names given so far
  uint64_t recycled_segments_ = 0;
  uint64_t rolled_target_ = 0;        // last sequence of the newest rolled segment
  uint64_t rolled_unsynced_bytes_ = 0;  // bytes in unsynced_ segments
  int64_t last_roll_micros_ = 0;
  uint64_t unsynced_bytes_ = 0;
  int64_t active_created_micros_ = 0;

  // Segment list for readers (and stats), guarded by segments_mu_. Readers
  // number segments logically: retention erases from the front and counts
  // the erased ones in removed_front_.
  std::mutex segments_mu_;
  std::vector<SegmentRef> segments_;
  size_t removed_front_ = 0;
  std::unique_ptr<DictionaryStore> dicts_;

  // Sealing. seal_work_mu_ is held shared while a segment is sealed (several
  // may be at once) and exclusively while retention removes segments; the
  // queue by seal_mu_. sealing_ (guarded by segments_mu_) holds the bases
  // being sealed; seal_done_cv_ signals when one is done.
  std::shared_mutex seal_work_mu_;
  std::vector<uint64_t> sealing_;
  std::condition_variable seal_done_cv_;
  std::mutex seal_mu_;
  std::condition_variable seal_cv_;
  std::deque<uint64_t> seal_queue_;
  std::vector<uint64_t> seal_failed_;  // bases not to retry (damaged raw segment)
  std::thread seal_thread_;
  alignas(64) std::atomic<uint64_t> published_offset_{0};  // readable end of the active segment
  std::atomic<uint64_t> published_seq_{0};     // last readable sequence

  // Sync state, guarded by sync_mu_.
  // Group commit: one appender at a time is the leader and syncs everything
  // appended so far (epoch N); appenders that arrive meanwhile wait for the
  // epoch that covers them, on the condition variable of that epoch's parity,
  // so a finished sync wakes only the waiters it covered plus one next leader.
  // Waiters sleep on the futex word of their epoch's parity, without holding
  // sync_mu_, so the wake-up of a group does not convoy on a mutex.
  alignas(64) std::mutex sync_mu_;
  std::atomic<uint32_t> epoch_word_[2] = {0, 0};
  std::atomic<uint64_t> durable_atomic_{0};  // == durable_seq_, readable without the lock
  int waiting_[2] = {0, 0};
  uint64_t sync_epoch_ = 0;    // number of the latest sync started
  uint64_t snapshot_seq_ = 0;  // what that sync covers
  uint64_t syncs_done_ = 0;
  uint64_t last_group_size_ = 0;  // events the last sync made durable
  std::atomic<uint64_t> appenders_{0};  // threads inside AppendPrepared
  std::atomic<bool> delay_waiting_{false};  // a leader sleeps in the commit delay
  std::atomic<uint32_t> delay_word_{0};     // its futex word
  bool sync_in_progress_ = false;
  uint64_t durable_seq_ = 0;
  absl::Status failed_status_;
  std::atomic<bool> failed_flag_{false};

  // Background threads.
  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool bg_sync_requested_ = false;
  std::thread bg_thread_;
  std::thread prefault_thread_;
  std::atomic<bool> stop_{false};  // set by Close() for both threads
  std::mutex prefault_mu_;
  std::condition_variable prefault_cv_;
  alignas(64) std::atomic<bool> prefault_waiting_{false};  // the pre-faulter sleeps: wake it
  alignas(64) std::atomic<uint64_t> prefaulted_to_{0};
  std::atomic<uint64_t> roll_generation_{0};
};

class LogReader {
 public:
  ~LogReader();
  // Returns the next event in sequence order; false at the end. Damaged
  // ranges are reported to ReaderOptions::reporter and skipped.
  bool Next(LogEvent* ev);
  // Non-OK if a segment could not be opened (I/O error); reported as damage too.
  const absl::Status& status() const { return status_; }
  // Damaged ranges met so far (reported to ReaderOptions::reporter).
  uint64_t corruptions() const {
    return corruptions_ + (scanner_ != nullptr ? scanner_->corruptions() : 0);
  }
  // Sealed segments handed to the read-ahead thread so far.
  uint64_t decoded_ahead() const { return decoded_ahead_; }

 private:
  friend class Log;
  struct Decoded;
  LogReader(Log* log, ReaderOptions options, size_t segment_end, uint64_t last_seq,
            uint64_t active_limit);
  bool OpenSegment();
  void Report(const absl::Status& s, size_t logical);
  // Reports the sequences between the previous segment's end and `base`.
  void ReportMissing(uint64_t base, const std::string& path);
  static std::unique_ptr<Decoded> Decode(std::shared_ptr<SealedSegment> sealed,
                                         BlockCodec* codec);
  // With read_ahead: starts decompressing segment `index` if it is sealed.
  void StartReadAhead(size_t index);

  Log* const log_;
  const ReaderOptions options_;
  const size_t segment_end_;  // logical number past the last segment
  const uint64_t last_seq_;
  const uint64_t active_limit_;  // readable end of the last segment
  size_t index_ = 0;  // logical segment number
  uint64_t next_expected_ = 0;  // the sequence after the previous segment's (0: unknown)
  uint64_t scan_end_sequence_ = 0;  // Bounds::last_sequence of the raw segment being scanned
  std::shared_ptr<Segment> segment_;
  std::vector<std::shared_ptr<Segment>> held_;  // segments read so far (mappings kept)
  std::unique_ptr<SegmentScanner> scanner_;
  // A sealed segment being read: its events in sequence order.
  bool in_sealed_ = false;
  std::vector<std::unique_ptr<std::string>> sealed_storage_;
  std::vector<BlockEvent> sealed_events_;
  size_t sealed_pos_ = 0;
  std::unique_ptr<BlockCodec> codec_;
  std::unique_ptr<class EventKeyExtractor> extractor_;
  absl::Status status_;
  uint64_t corruptions_ = 0;
  std::unique_ptr<BlockCodec> ahead_codec_;  // the read-ahead thread's (one at a time)
  std::future<std::unique_ptr<Decoded>> ahead_;  // after ahead_codec_: waited for first
  uint64_t decoded_ahead_ = 0;
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_LOG_LOG_H_
