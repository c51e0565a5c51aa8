#ifndef TRACELOG_ENGINE_LOG_LOG_IMPL_H_
#define TRACELOG_ENGINE_LOG_LOG_IMPL_H_

// The implementation behind the Log facade (log.h). Its methods live in
// files of one job each:
//   log.cc            open, recovery hand-off, close, checkpoints, stats
//   append.cc         appends, rolls, the sequence lease, pre-faulting
//   group_commit.cc   syncs: group commit, the background sync thread
//   seal_scheduler.cc background sealing, SealAll, SealBacklog, spares
//   import.cc         BeginImport, CommitImport
//   retention.cc      Retain and the pruning of attachments
//   segment_set.cc    the segment list readers and queries see
// Nothing outside engine/log includes this header.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/log/log.h"
#include "engine/log/segment_set.h"
#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "engine/port/adaptive_mutex.h"
#include "engine/port/mutex.h"

namespace tracelog {

class BlockCodec;
class CheckpointFile;
class FileLock;
class File;

class LogImpl final : public Log {
 public:
  LogImpl(std::string dir, LogOptions options);
  ~LogImpl() override;

  absl::StatusOr<uint64_t> Append(absl::string_view event) override;
  AppendBatchResult AppendPrepared(absl::Span<const PreparedEvent> events) override;
  absl::Status Sync() override;
  absl::Status Close() override;
  std::unique_ptr<LogReader> NewReader(const ReaderOptions& options) override {
    return set_.NewReader(options);
  }
  absl::Status SealAll() override;
  absl::Status SealBacklog(size_t keep) override;
  absl::StatusOr<uint64_t> BeginImport() override;
  absl::Status CommitImport(bool* committed) override;
  absl::StatusOr<RetainResult> Retain(const RetainOptions& options) override;
  std::vector<SegmentSnapshot> SnapshotSegments(const CorruptionReporter& reporter) override {
    return set_.Snapshot(reporter);
  }
  DictionaryStore* dictionaries() override { return dicts_.get(); }
  LogStats Stats() override;
  const RecoveryReport& recovery() const override { return recovery_; }
  const std::string& dir() const override { return dir_; }
  FileSystem* file_system() const override { return fs_; }
  const LogOptions& options() const override { return options_; }
  uint64_t durable_sequence() override;

  // Log::Open: checks the options, creates the directory if allowed, takes
  // the lock, recovers, starts the background threads.
  static absl::StatusOr<std::unique_ptr<Log>> Open(const std::string& dir,
                                                   const LogOptions& options);

 private:
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
                                      uint64_t end_offset, uint64_t next_seq, double last_ts)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  // Makes sure no sequence up to `last` is handed out before the lease
  // covers it: raises the lease (one CHECKPOINT sync) when it does not.
  absl::Status CoverByLeaseLocked(uint64_t last) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RollLocked(size_t needed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What a roll that could not make its next segment returns: a full disk
  // is this append's error only (appends resume once space is freed); any
  // other failure (EIO from the new file's sync, its header's write, the
  // directory's sync) is the disk's, and puts the log in the failed state:
  // no retry and hope, as for a failed sync of data.
  absl::Status RollFailedLocked(const absl::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool FlushStagedLocked(size_t staged, AppendBatchResult* result)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WakeWaiters();
  void RemoveSparesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SyncThrough(uint64_t sequence);       // group commit
  void BackgroundLoop();
  // The thread that keeps the active segment ready ahead of the writer:
  // pre-faults its mapping (LogTuning::prefault_bytes) or, under `always`
  // with pwrite appends, writes zeros over it and syncs them
  // (LogTuning::zero_ahead_bytes).
  void PrefaultLoop() ABSL_LOCKS_EXCLUDED(mu_, sync_mu_);
  // Writes zeros over [from, from + n) of `seg` (the part at or beyond the
  // writer's end) if it is still the active segment, then syncs them.
  // Returns false when this segment is not to be zeroed further (it rolled,
  // the log closed or failed, the write failed). A failed sync puts the log
  // in the failed state: it may have failed on appended pages too, and the
  // kernel reports such an error to one sync only.
  bool ZeroAhead(const std::shared_ptr<Segment>& seg, uint64_t from, uint64_t n)
      ABSL_LOCKS_EXCLUDED(side_sync_mu_, mu_, sync_mu_);
  // Runs `sync`, a sync of a segment outside group commit (zeros written
  // ahead, an import's commit), as a side sync (see side_sync_mu_): if it
  // fails, the log enters the failed state before any group-commit sync
  // that ran beside it acknowledges anything. Returns its status (the
  // failed state's on failure).
  absl::Status SideSync(absl::FunctionRef<absl::Status()> sync)
      ABSL_LOCKS_EXCLUDED(side_sync_mu_, mu_, sync_mu_);
  // Returns once no side sync that began before this call is still running
  // (so that failed() tells whether it failed). Called after the group
  // commit's syncs, holding none of the log's locks.
  void AwaitSideSyncs() ABSL_LOCKS_EXCLUDED(side_sync_mu_, mu_, sync_mu_);
  // Rewrites the attachment packs without the sessions that have no event
  // in the log any more (a session without events: once its import's first
  // sequence is gone), and removes packs left empty.
  absl::Status PruneAttachments(RetainResult* result);
  // Seals the raw segment with base `base` (not the active one). If another
  // thread is sealing it: with `busy`, sets *busy and returns at once; else
  // waits for that thread.
  // `cancel`: SealTuning::cancel (the background sealer's stop flag).
  absl::Status SealOne(uint64_t base, BlockCodec* codec, bool* busy = nullptr,
                       const std::atomic<bool>* cancel = nullptr);
  void SealLoop();
  // SealBacklog with the caller's codec.
  absl::Status SealBacklogWith(size_t keep, BlockCodec* codec);
  void EnqueueSeal(uint64_t base);
  bool failed() const { return failed_flag_.load(std::memory_order_acquire); }
  absl::Status failed_status();
  bool GroupComplete() const;  // commit delay: all appenders in flight have appended

  const std::string dir_;
  LogOptions options_;
  FileSystem* fs_;
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<CheckpointFile> checkpoint_file_;
  Mutex checkpoint_mu_;  // serialises CHECKPOINT slot writes (innermost lock)
  RecoveryReport recovery_;
  uint64_t boot_hash_ = 0;  // of fs_->BootId(); 0 disables the volatile checkpoint
  uint64_t import_from_ ABSL_GUARDED_BY(mu_) = 0;  // first sequence of the import in progress (0: none)
  double first_timestamp_ = 0;

  bool use_pwrite_ = false;  // append with pwrite instead of through the mapping
  bool zero_ahead_ = false;  // PrefaultLoop writes zeros ahead (LogTuning::zero_ahead_bytes)
  uint64_t ahead_bytes_ = 0;  // PrefaultLoop's window: prefault_bytes or zero_ahead_bytes
  // Appends.
  alignas(64) AdaptiveMutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = true;  // until Open() has recovered
  std::shared_ptr<Segment> active_ ABSL_GUARDED_BY(mu_);
  uint64_t write_offset_ ABSL_GUARDED_BY(mu_) = 0;  // end of the last record in active_
  std::string write_buffer_ ABSL_GUARDED_BY(mu_);   // records staged for one pwrite (use_pwrite_)
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  double last_ts_ ABSL_GUARDED_BY(mu_) = 0;
  // The sequence lease (CHECKPOINT slots 2-3): no sequence above lease_ is
  // handed out. Raised by lease_step_ at a time, which doubles while raises
  // come less than a second apart (up to 4 Mi) and halves when they are
  // more than ten seconds apart (down to 4 Ki): after a crash that may have
  // lost events, recovery skips at most one step of numbers.
  uint64_t lease_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t lease_generation_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t lease_step_ ABSL_GUARDED_BY(mu_) = 4096;
  int64_t last_lease_micros_ ABSL_GUARDED_BY(mu_) = 0;
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
  std::vector<RolledFile> unsynced_ ABSL_GUARDED_BY(mu_);
  // Raw segments of the import in progress that were sealed, kept (renamed
  // spare-<k>.seg.tmp) to be written over by the next segments of the
  // import: their pages are resident, so appends into them cost neither page
  // faults nor the kernel's zeroing of fresh pages (bench/RESULTS.md).
  // Removed at the commit, by Close, and (as .tmp files) by recovery.
  std::vector<std::string> spares_ ABSL_GUARDED_BY(mu_);
  uint64_t spare_names_ ABSL_GUARDED_BY(mu_) = 0;  // names given so far
  uint64_t recycled_segments_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t rolled_target_ ABSL_GUARDED_BY(mu_) = 0;        // last sequence of the newest rolled segment
  uint64_t rolled_unsynced_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // bytes in unsynced_ segments
  int64_t last_roll_micros_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t unsynced_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t active_created_micros_ ABSL_GUARDED_BY(mu_) = 0;

  std::unique_ptr<DictionaryStore> dicts_;
  // The segment list for readers, queries, the sealer, retention and stats.
  SegmentSet set_;

  // Sealing. seal_work_mu_ is held shared while a segment is sealed (several
  // may be at once) and exclusively while retention removes segments; the
  // queue by seal_mu_. The set knows which segments are being sealed.
  std::shared_mutex seal_work_mu_;
  Mutex seal_mu_;
  std::condition_variable seal_cv_;
  std::deque<uint64_t> seal_queue_ ABSL_GUARDED_BY(seal_mu_);
  std::vector<uint64_t> seal_failed_ ABSL_GUARDED_BY(seal_mu_);  // bases not to retry (damaged raw segment)
  std::thread seal_thread_;
  // Codecs for the threads that help with SealBacklog (one each at a time).
  Mutex helper_codecs_mu_;
  std::vector<std::unique_ptr<BlockCodec>> helper_codecs_ ABSL_GUARDED_BY(helper_codecs_mu_);

  // Sync state, guarded by sync_mu_.
  // Group commit: one appender at a time is the leader and syncs everything
  // appended so far (epoch N); appenders that arrive meanwhile wait for the
  // epoch that covers them, on the condition variable of that epoch's parity,
  // so a finished sync wakes only the waiters it covered plus one next leader.
  // Waiters sleep on the futex word of their epoch's parity, without holding
  // sync_mu_, so the wake-up of a group does not convoy on a mutex.
  alignas(64) Mutex sync_mu_;
  std::atomic<uint32_t> epoch_word_[2] = {0, 0};
  std::atomic<uint64_t> durable_atomic_{0};  // == durable_seq_, readable without the lock
  int waiting_[2] ABSL_GUARDED_BY(sync_mu_) = {0, 0};
  uint64_t sync_epoch_ ABSL_GUARDED_BY(sync_mu_) = 0;    // number of the latest sync started
  uint64_t snapshot_seq_ ABSL_GUARDED_BY(sync_mu_) = 0;  // what that sync covers
  uint64_t syncs_done_ ABSL_GUARDED_BY(sync_mu_) = 0;
  uint64_t last_group_size_ ABSL_GUARDED_BY(sync_mu_) = 0;  // events the last sync made durable
  std::atomic<uint64_t> appenders_{0};  // threads inside AppendPrepared
  std::atomic<bool> delay_waiting_{false};  // a leader sleeps in the commit delay
  std::atomic<uint32_t> delay_word_{0};     // its futex word
  bool sync_in_progress_ ABSL_GUARDED_BY(sync_mu_) = false;
  uint64_t durable_seq_ ABSL_GUARDED_BY(sync_mu_) = 0;
  absl::Status failed_status_ ABSL_GUARDED_BY(sync_mu_);
  std::atomic<bool> failed_flag_{false};

  // Background threads.
  Mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool bg_sync_requested_ ABSL_GUARDED_BY(bg_mu_) = false;
  std::thread bg_thread_;
  std::thread prefault_thread_;
  std::atomic<bool> stop_{false};  // set by Close() for both threads
  Mutex prefault_mu_;
  std::condition_variable prefault_cv_;
  alignas(64) std::atomic<bool> prefault_waiting_{false};  // the pre-faulter sleeps: wake it
  alignas(64) std::atomic<uint64_t> prefaulted_to_{0};
  std::atomic<uint64_t> roll_generation_{0};
  // Side syncs (SideSync) run beside the group commit's syncs, on the same
  // descriptor, and the kernel reports a writeback error to one sync only:
  // a side sync may take the error of pages appenders wrote while the
  // leader's sync returns success. So a side sync holds side_sync_mu_ from
  // before its sync until it has put the log in the failed state (if the
  // sync failed); the leader, after its syncs, takes and drops it
  // (AwaitSideSyncs) and checks the failed state before it acknowledges.
  // Side syncs never overlap one another. Lock order: side_sync_mu_, mu_,
  // sync_mu_.
  Mutex side_sync_mu_;
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_LOG_LOG_IMPL_H_
