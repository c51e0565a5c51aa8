#include "engine/log/log.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "engine/format/attachment_format.h"
#include "engine/format/checkpoint_format.h"
#include "engine/format/checksum.h"
#include "engine/format/event_keys.h"
#include "engine/format/gap_format.h"
#include "engine/format/sealed_format.h"
#include "engine/io/atomic_file.h"
#include "engine/io/file_system.h"
#include "engine/log/attachments.h"
#include "engine/log/checkpoint_file.h"
#include "engine/segment/segment.h"
#include "engine/seal/block_codec.h"
#include "engine/seal/sealed_segment.h"
#include "engine/seal/sealer.h"

namespace tracelog {

namespace {
constexpr char kLockFileName[] = "LOCK";

// Sleep on / wake a 32-bit word directly with futex(2). std::atomic::wait in
// libstdc++ 12 spins with sched_yield first, which on two cores shared by
// many appenders burns the CPU the syncing thread needs.
void FutexWait(std::atomic<uint32_t>* word, uint32_t seen) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, seen, nullptr,
          nullptr, 0);
}
void FutexWaitFor(std::atomic<uint32_t>* word, uint32_t seen, std::chrono::nanoseconds timeout) {
  timespec ts{static_cast<time_t>(timeout.count() / 1000000000),
              static_cast<long>(timeout.count() % 1000000000)};
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, seen, &ts, nullptr,
          0);
}
void FutexWake(std::atomic<uint32_t>* word, int count) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, count, nullptr,
          nullptr, 0);
}
constexpr uint64_t kPrefaultChunk = 2ull << 20;
constexpr size_t kMaxUnsyncedSegments = 16;  // rolled segments awaiting their sync
constexpr int kReadOnlyRelists = 8;         // a read-only open racing a writer's seals
constexpr size_t kMaxSpares = 4;             // sealed raw segments kept for an import
}  // namespace

absl::Status PrepareEvent(absl::string_view event, PreparedEvent* out) {
  if (event.size() > kMaxEventSize) {
    return absl::InvalidArgumentError(absl::StrCat("an event of ", event.size(),
                                                   " bytes is larger than the maximum of ",
                                                   kMaxEventSize, " bytes (64 MiB)"));
  }
  thread_local EventKeyExtractor extractor;
  EventKeys keys;
  if (auto s = extractor.Extract(event, &keys); !s.ok()) return s;
  out->event = event;
  out->keys.clear();
  EncodeKeys(keys, &out->keys);
  out->flags = (keys.error ? kFlagError : 0) | (keys.has_timestamp ? kFlagHasTimestamp : 0);
  out->timestamp = keys.timestamp;
  out->checksum = Checksum64(event);
  out->invalid_utf8 = extractor.last_was_invalid_utf8();
  return absl::OkStatus();
}

Log::Log(std::string dir, LogOptions options)
    : dir_(std::move(dir)), options_(options),
      fs_(options.fs != nullptr ? options.fs : DefaultFileSystem()),
      dicts_(std::make_unique<DictionaryStore>(fs_, dir_)) {
  const std::string boot_id = fs_->BootId();
  boot_hash_ = boot_id.empty() ? 0 : Checksum64(boot_id);
}

Log::~Log() {
  bool open;
  {
    std::lock_guard<AdaptiveMutex> l(mu_);
    open = !closed_;
  }
  if (open) Close().IgnoreError();
}

absl::StatusOr<std::unique_ptr<Log>> Log::Open(const std::string& dir, const LogOptions& options) {
  if (options.segment_size < 4096) {
    return absl::InvalidArgumentError("segment_size must be at least 4096 bytes");
  }
  // A sealed block holds up to its size plus one event; its sizes are 32-bit.
  constexpr uint64_t kMaxBlockSize = uint64_t{1} << 30;
  if (options.seal.block_size > kMaxBlockSize || options.seal.tool_call_block_size > kMaxBlockSize) {
    return absl::InvalidArgumentError("seal block sizes must be at most 1 GiB");
  }
  FileSystem* fs = options.fs != nullptr ? options.fs : DefaultFileSystem();
  auto exists = fs->Exists(dir);
  if (!exists.ok()) return exists.status();
  if (!*exists) {
    if (!options.create_if_missing || options.read_only) {
      return absl::NotFoundError(absl::StrCat(dir, ": no such log directory"));
    }
    if (auto s = fs->CreateDir(dir); !s.ok()) return s;
    // The directory's own entry is durable only once its parent is synced.
    const size_t slash = dir.find_last_not_of('/') == std::string::npos
                             ? std::string::npos
                             : dir.rfind('/', dir.find_last_not_of('/'));
    const std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : dir.substr(0, slash);
    if (auto s = fs->SyncDir(parent); !s.ok()) return s;
  }
  std::unique_ptr<Log> log(new Log(dir, options));
  // Under `always` every append is followed by an fdatasync, which
  // write-protects the mapped pages it cleans; appending through the mapping
  // would then fault on every page again and flush TLBs of every core. A
  // pwrite per batch is cheaper there (bench/RESULTS.md).
  // A bulk writer asks for pwrite too (LogOptions::append_with_pwrite).
  log->use_pwrite_ =
      options.sync.kind == SyncPolicy::Kind::kAlways || options.append_with_pwrite;
  if (log->use_pwrite_) log->options_.prefault_bytes = 0;
  if (!options.read_only) {
    auto lock = fs->Lock(JoinPath(dir, kLockFileName));
    if (!lock.ok()) return lock.status();
    log->lock_ = std::move(*lock);
    auto cp = CheckpointFile::Open(fs, dir);
    if (!cp.ok()) return cp.status();
    log->checkpoint_file_ = std::move(*cp);
  }
  if (auto s = log->Recover(); !s.ok()) return s;
  {
    std::lock_guard<AdaptiveMutex> l(log->mu_);
    log->closed_ = false;
  }
  if (!options.read_only) {
    log->bg_thread_ = std::thread([l = log.get()] { l->BackgroundLoop(); });
    if (log->options_.prefault_bytes > 0) {
      log->prefault_thread_ = std::thread([l = log.get()] { l->PrefaultLoop(); });
    }
    if (log->options_.seal_on_roll) {
      // Raw segments other than the active one: sealing a previous writer
      // did not finish (or never started).
      std::vector<uint64_t> pending;
      {
        std::lock_guard<std::mutex> l(log->segments_mu_);
        for (size_t i = 0; i + 1 < log->segments_.size(); ++i) {
          if (log->segments_[i].is_raw()) pending.push_back(log->segments_[i].base);
        }
      }
      for (uint64_t base : pending) log->EnqueueSeal(base);
      log->seal_thread_ = std::thread([l = log.get()] { l->SealLoop(); });
    }
  }
  return log;
}

absl::Status Log::Recover() {
  const bool writable = !options_.read_only;
  RecoveryInput in;
  in.fs = fs_;
  in.dir = dir_;
  in.writable = writable;
  in.boot_hash = boot_hash_;
  in.segment_size = options_.segment_size;
  in.dicts = dicts_.get();
  in.checkpoint = checkpoint_file_.get();
  auto recovered = RecoverLog(in);
  // A read-only open races the writer: a raw segment listed a moment ago
  // may have been sealed (or removed by retention) since. Listed again,
  // the directory shows what replaced it.
  for (int attempt = 0; options_.read_only && attempt < kReadOnlyRelists &&
                        absl::IsNotFound(recovered.status());
       ++attempt) {
    recovered = RecoverLog(in);
  }
  if (!recovered.ok()) return recovered.status();
  segments_ = std::move(recovered->segments);
  recovery_ = std::move(recovered->report);
  active_ = recovered->active;
  write_offset_ = recovered->write_offset;
  next_seq_ = recovered->next_sequence;
  last_ts_ = recovered->last_timestamp;
  active_created_micros_ = recovered->active_created_micros;
  if (recovered->lease) {
    lease_ = recovered->lease->lease;
    lease_generation_ = recovered->lease->generation;
  }
  if (!writable && active_ == nullptr) write_offset_ = 0;  // read-only, no raw segment
  published_offset_.store(write_offset_);
  published_seq_.store(next_seq_ - 1);
  durable_seq_ = next_seq_ - 1;
  durable_atomic_.store(next_seq_ - 1);
  if (!writable) return absl::OkStatus();
  // Nothing above next_seq_ - 1 has been handed out: a lease that says so
  // (or more) must be on disk before the first append, or a reboot would
  // make the next recovery skip numbers it need not.
  if (lease_ < next_seq_ - 1 || !recovered->lease) {
    if (auto s = checkpoint_file_->WriteLease(next_seq_ - 1, &lease_generation_); !s.ok()) return s;
    lease_ = next_seq_ - 1;
  }
  // Both slots: a stale clean (or sync-failed) volatile slot must not
  // outlive this open.
  if (auto s = WriteCheckpoint(active_->base(), write_offset_, next_seq_, last_ts_, false, false);
      !s.ok()) {
    return s;
  }
  if (auto s = WriteCheckpoint(active_->base(), write_offset_, next_seq_, last_ts_, false, true);
      !s.ok()) {
    return s;
  }
  // A clean durable slot on disk must not outlive this open: after a power
  // loss it would make the next recovery take the log for cleanly closed
  // (no crash region, no numbers skipped: sequences given twice). The
  // rewrite above is not synced by itself (tools/torture: recovery_test.cc).
  if (recovered->durable_slot_clean) return checkpoint_file_->Sync();
  return absl::OkStatus();
}

absl::Status Log::WriteCheckpoint(uint64_t segment_base, uint64_t end_offset, uint64_t next_seq,
                                  double last_ts, bool clean, bool durable) {
  Checkpoint cp;
  cp.flags = clean ? kCheckpointFlagClean : 0;
  cp.segment_base = segment_base;
  cp.end_offset = end_offset;
  cp.next_sequence = next_seq;
  cp.last_timestamp = last_ts;
  cp.boot_hash = durable ? 0 : boot_hash_;
  std::lock_guard<std::mutex> l(checkpoint_mu_);
  // A failed state outlives the process in the volatile slot: read under
  // the lock, so a write racing with the failure cannot clear it.
  if (!durable && failed()) {
    cp.flags = kCheckpointFlagSyncFailed;
  }
  return checkpoint_file_->Write(cp, durable);
}

absl::Status Log::EnterFailedStateLocked(const absl::Status& s, uint64_t segment_base,
                                         uint64_t end_offset, uint64_t next_seq, double last_ts) {
  if (failed_status_.ok()) {
    failed_status_ = absl::Status(
        s.code(), absl::StrCat(s.message(), "; the log is in a failed state until it is reopened"));
  }
  failed_flag_.store(true, std::memory_order_release);
  // Best effort: if even this write fails, the disk is gone altogether.
  WriteCheckpoint(segment_base, end_offset, next_seq, last_ts, false, /*durable=*/false)
      .IgnoreError();
  return failed_status_;
}

absl::Status Log::CoverByLeaseLocked(uint64_t last) {
  if (last <= lease_) return absl::OkStatus();
  const int64_t now = absl::ToUnixMicros(absl::Now());
  if (last_lease_micros_ != 0) {
    const int64_t since = now - last_lease_micros_;
    if (since < 1000000) {
      lease_step_ = std::min<uint64_t>(lease_step_ * 2, uint64_t{1} << 22);
    } else if (since > 10000000) {
      lease_step_ = std::max<uint64_t>(lease_step_ / 2, 4096);
    }
  }
  const uint64_t lease = last + lease_step_;
  absl::Status s;
  {
    std::lock_guard<std::mutex> l(checkpoint_mu_);
    s = checkpoint_file_->WriteLease(lease, &lease_generation_);
  }
  if (!s.ok()) {
    std::lock_guard<std::mutex> sl(sync_mu_);  // lock order: mu_, then sync_mu_
    return EnterFailedStateLocked(s, active_->base(), write_offset_, next_seq_, last_ts_);
  }
  lease_ = lease;
  last_lease_micros_ = now;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Log::Append(absl::string_view event) {
  thread_local PreparedEvent prepared;
  if (auto s = PrepareEvent(event, &prepared); !s.ok()) return s;
  AppendBatchResult r = AppendPrepared(absl::MakeConstSpan(&prepared, 1));
  if (!r.status.ok()) return r.status;
  return r.first_sequence;
}

AppendBatchResult Log::AppendPrepared(absl::Span<const PreparedEvent> events) {
  AppendBatchResult result;
  appenders_.fetch_add(1, std::memory_order_acq_rel);
  struct Leave {
    std::atomic<uint64_t>* n;
    ~Leave() { n->fetch_sub(1, std::memory_order_acq_rel); }
  } leave{&appenders_};
  if (failed()) {
    result.status = failed_status();
    return result;
  }
  if (options_.read_only) {
    result.status = absl::FailedPreconditionError(dir_ + ": log is open read-only");
    return result;
  }
  uint64_t last = 0;
  bool need_sync = false;
  uint64_t rolled_sync_target = 0;
  {
    std::lock_guard<AdaptiveMutex> l(mu_);
    if (closed_) {
      result.status = absl::FailedPreconditionError(dir_ + ": log is closed");
      return result;
    }
    result.first_sequence = next_seq_;
    // No sequence is handed out before the lease covers it (one CHECKPOINT
    // sync every lease_step_ sequences).
    if (!events.empty()) {
      if (auto s = CoverByLeaseLocked(next_seq_ + events.size() - 1); !s.ok()) {
        result.status = s;
        return result;
      }
    }
    char* base = active_->mutable_data();
    size_t staged = 0;  // events staged in write_buffer_
    // With pwrite appends, records of this batch are staged in write_buffer_
    // and written at write_offset_ in one call (per segment).
    auto flush = [&]() -> absl::Status {
      if (!use_pwrite_ || write_buffer_.empty()) return absl::OkStatus();
      absl::Status s = active_->file()->Write(write_offset_, write_buffer_);
      if (s.ok()) {
        write_offset_ += write_buffer_.size();
      } else {
        // Part of the batch may be in the file past write_offset_: like a
        // failed sync, this ends the log's life until it is reopened (and
        // recovery cuts the tail), so no later append can land next to it.
        std::lock_guard<std::mutex> sl(sync_mu_);  // lock order: mu_, then sync_mu_
        s = EnterFailedStateLocked(s, active_->base(), write_offset_, next_seq_ - staged, last_ts_);
      }
      write_buffer_.clear();
      return s;
    };
    for (const PreparedEvent& ev : events) {
      if (ev.event.size() > kMaxEventSize) {
        result.status = absl::InvalidArgumentError(
            absl::StrCat("an event of ", ev.event.size(), " bytes is larger than the maximum of ",
                         kMaxEventSize, " bytes"));
        break;
      }
      const size_t size = RecordSize(ev.keys.size(), ev.event.size());
      if (write_offset_ + write_buffer_.size() + size > active_->size()) {
        if (auto s = flush(); !s.ok()) {
          next_seq_ -= staged;
          result.appended -= staged;
          result.status = s;
          break;
        }
        staged = 0;
        published_offset_.store(write_offset_, std::memory_order_release);
        published_seq_.store(next_seq_ - 1, std::memory_order_release);
        if (auto s = RollLocked(size); !s.ok()) {
          result.status = s;
          break;
        }
        base = active_->mutable_data();
      }
      if (use_pwrite_) {
        const size_t at = write_buffer_.size();
        write_buffer_.resize(at + size);
        EncodeRecord(write_buffer_.data() + at, next_seq_, ev.flags, ev.timestamp, ev.keys,
                     ev.event, ev.checksum);
        ++staged;
      } else {
        EncodeRecord(base + write_offset_, next_seq_, ev.flags, ev.timestamp, ev.keys, ev.event,
                     ev.checksum);
        write_offset_ += size;
      }
      unsynced_bytes_ += size;
      last_ts_ = ev.timestamp;
      ++next_seq_;
      ++result.appended;
    }
    if (result.status.ok()) {
      if (auto s = flush(); !s.ok()) {
        next_seq_ -= staged;
        result.appended -= staged;
        result.status = s;
      }
    }
    published_offset_.store(write_offset_, std::memory_order_release);
    published_seq_.store(next_seq_ - 1, std::memory_order_release);
    last = next_seq_ - 1;
    if (options_.sync.kind == SyncPolicy::Kind::kBytes && unsynced_bytes_ >= options_.sync.value) {
      need_sync = true;
    }
    if (unsynced_.size() >= 2 * kMaxUnsyncedSegments) {
      // The background syncs fell behind: this appender syncs the rolled
      // segments itself, which bounds their open descriptors.
      rolled_sync_target = rolled_target_;
    }
  }
  if (prefault_waiting_.load(std::memory_order_relaxed) &&
      published_offset_.load(std::memory_order_relaxed) + options_.prefault_bytes / 2 >
          prefaulted_to_.load(std::memory_order_relaxed)) {
    prefault_cv_.notify_one();
  }
  if (delay_waiting_.load(std::memory_order_seq_cst) && GroupComplete()) {
    delay_word_.fetch_add(1, std::memory_order_release);
    FutexWake(&delay_word_, 1);
  }
  if (rolled_sync_target > 0) {
    if (auto s = SyncThrough(rolled_sync_target); !s.ok() && result.status.ok()) result.status = s;
  }
  if (result.appended == 0) return result;
  if (options_.sync.kind == SyncPolicy::Kind::kAlways || need_sync) {
    if (auto s = SyncThrough(last); !s.ok() && result.status.ok()) result.status = s;
  }
  return result;
}

absl::Status Log::RollLocked(size_t needed) {
  const uint64_t capacity = std::max<uint64_t>(
      options_.segment_size, (kSegmentHeaderSize + needed + 4095) & ~uint64_t{4095});
  std::shared_ptr<Segment> next;
  if (write_offset_ == kSegmentHeaderSize) {
    // The active segment is empty: give it more room instead of a successor
    // (two segments cannot share a base sequence).
    auto grown = active_->Enlarge(capacity);
    if (!grown.ok()) {
      if (absl::IsResourceExhausted(grown.status())) return grown.status();
      std::lock_guard<std::mutex> sl(sync_mu_);  // lock order: mu_, then sync_mu_
      return EnterFailedStateLocked(grown.status(), active_->base(), write_offset_, next_seq_,
                                    last_ts_);
    }
    next = *grown;
  } else {
    absl::StatusOr<std::shared_ptr<Segment>> created;
    if (import_from_ != 0 && !spares_.empty() && capacity == options_.segment_size) {
      const std::string spare = spares_.back();
      spares_.pop_back();
      created = Segment::Recycle(fs_, dir_, spare, next_seq_, capacity);
      if (created.ok()) {
        ++recycled_segments_;
      } else {
        fs_->Remove(spare).IgnoreError();
      }
    }
    if (!created.ok()) {
      created = Segment::Create(fs_, dir_, next_seq_, capacity, /*for_import=*/import_from_ != 0);
    }
    if (!created.ok()) {
      // A full disk is this append's error only (appends resume once space
      // is freed). Any other failure (EIO from the new file's sync, its
      // header's write, the directory's sync) is the disk's: no retry and
      // hope, as for a failed sync of data.
      if (absl::IsResourceExhausted(created.status())) return created.status();
      std::lock_guard<std::mutex> sl(sync_mu_);  // lock order: mu_, then sync_mu_
      return EnterFailedStateLocked(created.status(), active_->base(), write_offset_, next_seq_,
                                    last_ts_);
    }
    next = *created;
  }
  if (active_->recycled() && write_offset_ < active_->size()) {
    // The end marker after the last record (a zero record header): the
    // bytes after it are an older segment's.
    std::memset(active_->mutable_data() + write_offset_, 0,
                std::min<uint64_t>(kRecordHeaderSize, active_->size() - write_offset_));
  }
  const bool replaced = next->base() == active_->base();
  std::shared_ptr<Segment> rolled;  // read-only view of the segment being rolled
  if (!replaced) {
    auto ro = active_->ReadOnlyCopy();
    if (!ro.ok()) {
      const std::string path = next->path();
      next.reset();
      fs_->Remove(path).IgnoreError();  // not part of the log: no event in it
      fs_->SyncDir(dir_).IgnoreError();
      return ro.status();
    }
    rolled = *ro;
    unsynced_.push_back(RolledFile{active_->file(), next_seq_ - 1, next_seq_, last_ts_,
                                   active_->base(), write_offset_});
    rolled_target_ = next_seq_ - 1;
    rolled_unsynced_bytes_ += write_offset_;
  }
  last_roll_micros_ = absl::ToUnixMicros(absl::Now());
  // Sync the rolled segment in the background at once, except under `never`
  // during a burst: there it waits for a quiet second or for the backlog
  // bound, because syncing while the writer streams costs it ~30% (the
  // writeback competes for the two cores; bench/RESULTS.md).
  // Each pending segment holds a descriptor: the count is bounded as well.
  const bool sync_now = options_.sync.kind != SyncPolicy::Kind::kNever ||
                        rolled_unsynced_bytes_ >= options_.never_sync_backlog_bytes ||
                        unsynced_.size() >= kMaxUnsyncedSegments;
  active_ = next;
  write_offset_ = kSegmentHeaderSize;
  active_created_micros_ = absl::ToUnixMicros(absl::Now());
  {
    std::lock_guard<std::mutex> l(segments_mu_);
    if (replaced) {
      segments_.back().segment = active_;
    } else {
      segments_.back().segment = rolled;
      SegmentRef ref;
      ref.base = active_->base();
      ref.path = active_->path();
      ref.segment = active_;
      segments_.push_back(std::move(ref));
    }
    published_offset_.store(write_offset_, std::memory_order_release);
  }
  prefaulted_to_.store(0, std::memory_order_relaxed);
  roll_generation_.fetch_add(1, std::memory_order_acq_rel);
  prefault_cv_.notify_one();
  if (sync_now && !replaced) {
    {
      std::lock_guard<std::mutex> l(bg_mu_);
      bg_sync_requested_ = true;
    }
    bg_cv_.notify_all();
  }
  if (!replaced && options_.seal_on_roll) EnqueueSeal(rolled->base());
  return absl::OkStatus();
}

bool Log::GroupComplete() const {
  // Every appender in flight (this one included) has an unsynced event.
  const uint64_t in_flight = appenders_.load(std::memory_order_acquire);
  const uint64_t unsynced = published_seq_.load(std::memory_order_acquire) -
                            durable_atomic_.load(std::memory_order_acquire);
  return unsynced >= in_flight;
}

absl::Status Log::failed_status() {
  std::lock_guard<std::mutex> l(sync_mu_);
  return failed_status_;
}

uint64_t Log::durable_sequence() {
  std::lock_guard<std::mutex> l(sync_mu_);
  return durable_seq_;
}

absl::Status Log::Sync() {
  if (options_.read_only) return absl::OkStatus();
  return SyncThrough(published_seq_.load(std::memory_order_acquire));
}

absl::Status Log::SyncThrough(uint64_t target) {
  if (durable_atomic_.load(std::memory_order_acquire) >= target && !failed()) {
    return absl::OkStatus();
  }
  std::unique_lock<std::mutex> sl(sync_mu_);
  while (true) {
    if (!failed_status_.ok()) return failed_status_;
    if (durable_seq_ >= target) return absl::OkStatus();
    if (!sync_in_progress_) break;  // become the leader
    // A sync is running: wait for the one that covers `target`.
    const uint64_t epoch = target <= snapshot_seq_ ? sync_epoch_ : sync_epoch_ + 1;
    std::atomic<uint32_t>& word = epoch_word_[epoch % 2];
    const uint32_t seen = word.load(std::memory_order_acquire);
    ++waiting_[epoch % 2];
    sl.unlock();
    while (word.load(std::memory_order_acquire) == seen) FutexWait(&word, seen);
    sl.lock();
    --waiting_[epoch % 2];
  }
  sync_in_progress_ = true;
  const uint64_t last_group = last_group_size_;
  sl.unlock();

  if (last_group > 1) {
    // Group-commit delay (like PostgreSQL's commit_delay): the previous sync
    // covered several appenders, and the ones it just woke are about to append
    // again. Sleep until every appender in flight has its event in (the last
    // one to append wakes us) or 300 µs pass, so this sync covers them too
    // instead of every other one.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(300);
    while (!GroupComplete()) {
      const uint32_t seen = delay_word_.load(std::memory_order_acquire);
      delay_waiting_.store(true, std::memory_order_seq_cst);
      if (GroupComplete()) break;
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::nanoseconds(0)) break;
      FutexWaitFor(&delay_word_, seen, std::chrono::duration_cast<std::chrono::nanoseconds>(left));
    }
    delay_waiting_.store(false, std::memory_order_relaxed);
  }

  std::shared_ptr<Segment> active;
  std::vector<RolledFile> rolled;
  uint64_t seq, end;
  double ts;
  bool sync_active;
  {
    std::lock_guard<AdaptiveMutex> l(mu_);
    active = active_;
    rolled.swap(unsynced_);
    rolled_unsynced_bytes_ = 0;
    seq = next_seq_ - 1;
    end = write_offset_;
    ts = last_ts_;
    // Syncing the active segment write-protects its dirty pages, which the
    // appenders then fault on again; skip it when the rolled segments suffice.
    sync_active = rolled.empty() || target > rolled.back().last_seq;
    if (sync_active) unsynced_bytes_ = 0;
    std::lock_guard<std::mutex> s2(sync_mu_);  // lock order: mu_, then sync_mu_
    ++sync_epoch_;
    snapshot_seq_ = sync_active ? seq : rolled.back().last_seq;
  }
  absl::Status st;
  for (const auto& r : rolled) {
    st = r.file->Sync();
    if (!st.ok()) break;
  }
  if (st.ok() && sync_active) st = active->Sync();
  // Close the rolled segments' descriptors before any waiter can wake: the
  // caller of Sync() may count them.
  RolledFile last_rolled{};
  if (!rolled.empty()) last_rolled = rolled.back();
  last_rolled.file.reset();
  rolled.clear();

  sl.lock();
  sync_in_progress_ = false;
  ++syncs_done_;
  last_group_size_ = snapshot_seq_ > durable_seq_ ? snapshot_seq_ - durable_seq_ : 0;
  if (st.ok()) {
    // Best effort: a lost checkpoint only makes the next recovery scan more.
    if (sync_active) {
      durable_seq_ = std::max(durable_seq_, seq);
      WriteCheckpoint(active->base(), end, seq + 1, ts, false, true).IgnoreError();
    } else {
      const RolledFile& r = last_rolled;
      durable_seq_ = std::max(durable_seq_, r.last_seq);
      WriteCheckpoint(r.next_base, kSegmentHeaderSize, r.last_seq + 1, r.last_ts, false, true)
          .IgnoreError();
    }
  } else {
    EnterFailedStateLocked(st, active->base(), end, seq + 1, ts).IgnoreError();
  }
  durable_atomic_.store(durable_seq_, std::memory_order_release);
  const uint64_t e = sync_epoch_;
  const bool failed_now = !failed_status_.ok();
  // Wake the waiters this sync covered (all of them on failure), and one
  // waiter of the next epoch to lead it.
  const bool next_leader = failed_now || waiting_[(e + 1) % 2] > 0;
  epoch_word_[e % 2].fetch_add(1, std::memory_order_release);
  if (next_leader) epoch_word_[(e + 1) % 2].fetch_add(1, std::memory_order_release);
  const absl::Status result = failed_now ? failed_status_ : absl::OkStatus();
  const bool done = durable_seq_ >= target;
  sl.unlock();
  FutexWake(&epoch_word_[e % 2], INT32_MAX);
  if (failed_now) {
    FutexWake(&epoch_word_[(e + 1) % 2], INT32_MAX);
  } else if (next_leader) {
    FutexWake(&epoch_word_[(e + 1) % 2], 1);
  }
  if (failed_now || done) return result;
  return SyncThrough(target);  // our target was beyond what this sync covered
}

void Log::BackgroundLoop() {
  pthread_setname_np(pthread_self(), "tracelog-sync");
  if (options_.sync.kind == SyncPolicy::Kind::kNever) {
    // Under `never` this thread only syncs rolled segments, which nobody
    // waits for: its writeback work must not take the CPU from the writer.
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
  }
  const bool interval = options_.sync.kind == SyncPolicy::Kind::kInterval;
  const auto period = std::chrono::milliseconds(interval ? options_.sync.value : 1000);
  std::unique_lock<std::mutex> l(bg_mu_);
  while (!stop_.load(std::memory_order_acquire)) {
    bg_cv_.wait_for(l, period, [&] { return stop_.load() || bg_sync_requested_; });
    if (stop_.load(std::memory_order_acquire)) break;
    const bool requested = bg_sync_requested_;
    bg_sync_requested_ = false;
    l.unlock();
    uint64_t target = 0;
    if (interval) {
      target = published_seq_.load(std::memory_order_acquire);
    } else {
      std::lock_guard<AdaptiveMutex> ml(mu_);
      const bool quiet = absl::ToUnixMicros(absl::Now()) - last_roll_micros_ >= 1000000;
      // Not during an import: its commit syncs what is left of it, and
      // most of its segments are sealed (and their raw files deleted) first.
      if (requested || (!unsynced_.empty() && quiet && import_from_ == 0)) {
        target = rolled_target_;  // only the rolled segments
      }
    }
    if (target > 0 && !failed() && target > durable_sequence()) {
      SyncThrough(target).IgnoreError();  // a failure is sticky in failed_status_
    }
    if (options_.sync.kind == SyncPolicy::Kind::kNever && !failed()) {
      // Keep process-crash recovery short without syncing: a volatile
      // checkpoint, trusted only until the next reboot.
      std::lock_guard<AdaptiveMutex> ml(mu_);
      if (!closed_) {
        WriteCheckpoint(active_->base(), write_offset_, next_seq_, last_ts_, false, false)
            .IgnoreError();
      }
    }
    if (options_.segment_max_age_ms > 0) {
      std::lock_guard<AdaptiveMutex> ml(mu_);
      const int64_t age_ms = (absl::ToUnixMicros(absl::Now()) - active_created_micros_) / 1000;
      if (!closed_ && write_offset_ > kSegmentHeaderSize &&
          age_ms >= static_cast<int64_t>(options_.segment_max_age_ms)) {
        RollLocked(0).IgnoreError();  // retried on the next tick or append
      }
    }
    l.lock();
  }
}

void Log::PrefaultLoop() {
  pthread_setname_np(pthread_self(), "tracelog-fault");
  std::shared_ptr<Segment> seg;
  uint64_t generation = ~uint64_t{0};
  // What the writer left behind is dropped from the process's resident
  // memory in large steps (the page cache keeps it): a bulk append holds
  // about the pre-fault window resident, not the whole segment.
  const uint64_t kReleaseStep = std::max<uint64_t>(options_.prefault_bytes / 2, 1 << 20);
  uint64_t released_to = 0;
  while (!stop_.load(std::memory_order_acquire)) {
    const uint64_t gen = roll_generation_.load(std::memory_order_acquire);
    if (gen != generation) {
      std::lock_guard<AdaptiveMutex> ml(mu_);
      seg = active_;
      generation = roll_generation_.load(std::memory_order_acquire);
      released_to = 0;
    }
    const uint64_t published = published_offset_.load(std::memory_order_acquire);
    if (published >= released_to + 2 * kReleaseStep) {
      seg->ReleaseResident(released_to, published - kReleaseStep - released_to);
      released_to = published - kReleaseStep;
    }
    const uint64_t from = std::max(prefaulted_to_.load(std::memory_order_relaxed), published);
    const uint64_t target = std::min(published + options_.prefault_bytes, seg->size());
    if (from < target) {
      const uint64_t n = std::min(target - from, kPrefaultChunk);
      seg->PrefaultForWrite(from, n);
      if (roll_generation_.load(std::memory_order_acquire) == generation) {
        prefaulted_to_.store(from + n, std::memory_order_relaxed);
      }
      continue;
    }
    // Caught up: sleep until the writer is half a window from the edge (or,
    // when the whole segment is faulted in, until it rolls: without that, the
    // last half window of every segment was a busy loop).
    std::unique_lock<std::mutex> l(prefault_mu_);
    prefault_waiting_.store(true, std::memory_order_seq_cst);
    const uint64_t size = seg->size();
    prefault_cv_.wait_for(l, std::chrono::milliseconds(10), [&] {
      const uint64_t done = prefaulted_to_.load();
      return stop_.load() || roll_generation_.load() != generation ||
             (done < size && published_offset_.load() + options_.prefault_bytes / 2 > done);
    });
    prefault_waiting_.store(false, std::memory_order_relaxed);
  }
}

absl::Status Log::Close() {
  {
    std::lock_guard<AdaptiveMutex> l(mu_);
    if (closed_) return absl::FailedPreconditionError(dir_ + ": log is already closed");
    closed_ = true;
  }
  {
    // Set under both wait mutexes, so neither thread can miss it between
    // testing its predicate and going to sleep.
    std::lock_guard<std::mutex> l(bg_mu_);
    std::lock_guard<std::mutex> p(prefault_mu_);
    std::lock_guard<std::mutex> q(seal_mu_);
    stop_.store(true, std::memory_order_release);
  }
  bg_cv_.notify_all();
  prefault_cv_.notify_all();
  seal_cv_.notify_all();
  if (bg_thread_.joinable()) bg_thread_.join();
  if (prefault_thread_.joinable()) prefault_thread_.join();
  if (seal_thread_.joinable()) seal_thread_.join();
  {
    std::lock_guard<AdaptiveMutex> l(mu_);
    RemoveSparesLocked();
  }
  absl::Status st;
  if (!options_.read_only) {
    // `never` promises no fdatasync: the events are in the page cache, and a
    // volatile clean checkpoint lets the next open (before any reboot) skip
    // the scan. Every other policy syncs on close.
    const bool durable = options_.sync.kind != SyncPolicy::Kind::kNever;
    st = durable ? SyncThrough(published_seq_.load()) : failed_status();
    if (st.ok()) {
      std::lock_guard<AdaptiveMutex> l(mu_);
      st = WriteCheckpoint(active_->base(), write_offset_, next_seq_, last_ts_, true, durable);
      if (st.ok() && durable) st = checkpoint_file_->Sync();
    }
  }
  lock_.reset();
  return st;
}

absl::Status Log::LoadRefLocked(size_t index) {
  SegmentRef& ref = segments_[index];
  if (ref.is_gap()) return ref.gap_status;
  if (!ref.is_sealed()) {
    if (ref.segment != nullptr) return absl::OkStatus();
    auto seg = Segment::Open(fs_, ref.path, ref.base, /*writable=*/false);
    if (seg.ok()) {
      ref.segment = *seg;
      return absl::OkStatus();
    }
    // Another process (the writer) may have sealed it since we listed the
    // directory: read the sealed form instead.
    if (!absl::IsNotFound(seg.status())) return seg.status();
    auto sealed = SealedSegment::Open(fs_, dir_, ref.base, dicts_.get());
    if (absl::IsNotFound(sealed.status()) && RemovedByRetention(ref.base)) {
      return absl::OutOfRangeError(ref.path + ": removed by retention since this log was opened");
    }
    if (!sealed.ok()) return seg.status();
    ref.kind = SegmentEntry::Kind::kSealed;
    ref.path = (*sealed)->path();
    ref.sealed = *sealed;
    return absl::OkStatus();
  }
  if (ref.sealed != nullptr) return absl::OkStatus();
  auto seg = SealedSegment::Open(fs_, dir_, ref.base, dicts_.get());
  if (absl::IsNotFound(seg.status()) && RemovedByRetention(ref.base)) {
    return absl::OutOfRangeError(ref.path + ": removed by retention since this log was opened");
  }
  if (!seg.ok()) return seg.status();
  ref.sealed = *seg;
  return absl::OkStatus();
}

bool Log::RemovedByRetention(uint64_t base) {
  // Retention removes a prefix of the log: a segment that is gone while a
  // later one is the first now was removed on purpose, not lost.
  auto names = fs_->ListDir(dir_);
  if (!names.ok()) return false;
  for (const std::string& name : *names) {
    std::optional<uint64_t> b = ParseSealedFileName(name);
    if (!b) b = ParseSegmentFileName(name);
    if (!b) b = ParseGapFileName(name);
    if (b && *b <= base) return false;
  }
  return true;
}

absl::StatusOr<std::shared_ptr<Segment>> Log::SegmentForReadLocked(size_t index) {
  if (auto s = LoadRefLocked(index); !s.ok()) return s;
  if (segments_[index].is_sealed()) {
    return absl::FailedPreconditionError(segments_[index].path + ": segment is sealed");
  }
  return segments_[index].segment;
}

absl::StatusOr<std::shared_ptr<SealedSegment>> Log::SealedForReadLocked(size_t index) {
  if (auto s = LoadRefLocked(index); !s.ok()) return s;
  if (!segments_[index].is_sealed()) {
    return absl::FailedPreconditionError(segments_[index].path + ": segment is not sealed");
  }
  return segments_[index].sealed;
}

std::unique_ptr<LogReader> Log::NewReader(const ReaderOptions& options) {
  std::lock_guard<std::mutex> l(segments_mu_);
  return std::unique_ptr<LogReader>(
      new LogReader(this, options, removed_front_ + segments_.size(), published_seq_.load(),
                    published_offset_.load(std::memory_order_acquire)));
}

std::vector<SegmentSnapshot> Log::SnapshotSegments(const CorruptionReporter& reporter) {
  std::vector<SegmentSnapshot> out;
  std::lock_guard<std::mutex> l(segments_mu_);
  const uint64_t last_seq = published_seq_.load(std::memory_order_acquire);
  const uint64_t active_limit = published_offset_.load(std::memory_order_acquire);
  for (size_t i = 0; i < segments_.size(); ++i) {
    SegmentRef& ref = segments_[i];
    const bool last = i + 1 == segments_.size();
    if (ref.is_gap()) {
      if (!reporter) continue;
      if (!ref.gap_status.ok()) {
        reporter(Corruption{ref.path, 0, kGapFileSize, std::string(ref.gap_status.message())});
      } else if (ref.gap.reason == GapReason::kLost) {
        reporter(Corruption{ref.path, 0, 0,
                            absl::StrCat("sequences ", ref.gap.first, " to ", ref.gap.end - 1, " ",
                                         GapReasonName(ref.gap.reason))});
      }
      continue;
    }
    SegmentSnapshot snap;
    snap.base = ref.base;
    const absl::Status st = LoadRefLocked(i);
    if (absl::IsOutOfRange(st)) continue;  // another process's retention removed it
    if (!st.ok()) {
      if (reporter) reporter(Corruption{ref.path, 0, 0, std::string(st.message())});
      continue;
    }
    if (ref.is_sealed()) {
      snap.sealed = ref.sealed;
    } else {
      snap.raw = ref.segment;
      snap.limit = last ? std::min(active_limit, snap.raw->size()) : snap.raw->size();
      snap.limit_is_data_end = last;
      snap.end_sequence = last ? 0 : segments_[i + 1].base - 1;
      if (!last && ref.records_limit != 0) {  // cut by a crash not yet recovered
        snap.limit = std::min(ref.records_limit, snap.raw->size());
        snap.limit_is_data_end = true;
        snap.end_sequence = 0;
      }
      snap.last_sequence = last_seq;
      if (!snap.raw->header_status().ok() && reporter) {
        reporter(Corruption{ref.path, 0, kSegmentHeaderSize,
                            std::string(snap.raw->header_status().message())});
      }
    }
    out.push_back(std::move(snap));
  }
  return out;
}

void Log::EnqueueSeal(uint64_t base) {
  {
    std::lock_guard<std::mutex> l(seal_mu_);
    seal_queue_.push_back(base);
  }
  seal_cv_.notify_one();
}

void Log::SealLoop() {
  pthread_setname_np(pthread_self(), "tracelog-seal");
  // Sealing is background work: appenders come first (LogOptions::seal_nice).
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), options_.seal_nice);
  BlockCodec codec;
  std::unique_lock<std::mutex> l(seal_mu_);
  while (true) {
    seal_cv_.wait(l, [&] { return stop_.load() || !seal_queue_.empty(); });
    if (stop_.load(std::memory_order_acquire)) break;
    const uint64_t base = seal_queue_.front();
    seal_queue_.pop_front();
    if (std::find(seal_failed_.begin(), seal_failed_.end(), base) != seal_failed_.end()) continue;
    l.unlock();
    // A segment another thread is sealing (an importer helping, SealAll) is
    // left to it: waiting for it would idle this core while others queue.
    bool busy = false;
    const absl::Status s = SealOne(base, &codec, &busy);
    l.lock();
    // A failure leaves the raw segment authoritative; the next process that
    // opens the log for writing (or SealAll) tries again.
    if (!s.ok()) seal_failed_.push_back(base);
  }
}

absl::Status Log::SealOne(uint64_t base, BlockCodec* codec, bool* busy) {
  std::shared_lock<std::shared_mutex> w(seal_work_mu_);
  std::shared_ptr<Segment> raw;
  std::string raw_path;
  uint64_t last_sequence = 0;
  {
    std::unique_lock<std::mutex> l(segments_mu_);
    // Another thread sealing it: wait for that one (the caller may promise
    // the segment is durable when this returns), or say so.
    auto free = [&] { return std::find(sealing_.begin(), sealing_.end(), base) == sealing_.end(); };
    if (busy != nullptr && !free()) {
      *busy = true;
      return absl::OkStatus();
    }
    seal_done_cv_.wait(l, free);
    size_t i = 0;
    while (i < segments_.size() && segments_[i].base != base) ++i;
    if (i + 1 >= segments_.size() || !segments_[i].is_raw()) {
      return absl::OkStatus();  // sealed meanwhile, the active segment, or a gap
    }
    auto seg = SegmentForReadLocked(i);
    if (!seg.ok()) return seg.status();
    raw = *seg;
    raw_path = segments_[i].path;
    // It must hold every sequence up to its successor's base.
    last_sequence = segments_[i + 1].base - 1;
    sealing_.push_back(base);
  }
  auto done = [&] {
    {
      std::lock_guard<std::mutex> l(segments_mu_);
      sealing_.erase(std::find(sealing_.begin(), sealing_.end(), base));
    }
    seal_done_cv_.notify_all();
  };
  SealOptions seal = options_.seal;
  {
    std::lock_guard<AdaptiveMutex> l(mu_);
    seal.drop_cache = import_from_ != 0 && base >= import_from_;  // SealOptions::drop_cache
  }
  auto stats = SealSegment(fs_, dir_, *raw, last_sequence, seal, dicts_.get(), codec);
  if (!stats.ok()) {
    done();
    return stats.status();
  }
  auto sealed = SealedSegment::Open(fs_, dir_, base, dicts_.get());
  if (!sealed.ok()) {
    done();
    return sealed.status();  // the raw segment stays authoritative
  }
  bool read_elsewhere = false;  // a reader maps the raw file
  {
    std::lock_guard<std::mutex> l(segments_mu_);
    for (SegmentRef& ref : segments_) {
      if (ref.base != base) continue;
      ref.kind = SegmentEntry::Kind::kSealed;
      ref.path = (*sealed)->path();
      ref.segment.reset();  // readers that hold it keep its mapping
      ref.sealed = *sealed;
    }
    // Readers get segments only from segments_ (under this lock) or from
    // one another, so no new holder can appear once this count is 1.
    read_elsewhere = raw.use_count() > 1;
  }
  done();
  std::string spare;  // the raw file's new name, if it is kept for the import
  {
    std::lock_guard<AdaptiveMutex> l(mu_);
    // A file a reader maps must keep its bytes until the reader lets go (a
    // removed file does); a spare is written over by the next segment.
    if (import_from_ != 0 && base >= import_from_ && spares_.size() < kMaxSpares &&
        raw->size() == options_.segment_size && !read_elsewhere) {
      spare = JoinPath(dir_, absl::StrCat("spare-", spare_names_++, ".seg.tmp"));
    }
  }
  if (!spare.empty() && fs_->Rename(raw_path, spare).ok()) {
    std::lock_guard<AdaptiveMutex> l(mu_);
    if (import_from_ != 0) {
      spares_.push_back(spare);
    } else {
      fs_->Remove(spare).IgnoreError();  // committed meanwhile
    }
  } else if (auto s = fs_->Remove(raw_path); !s.ok()) {
    return s;
  }
  if (auto s = fs_->SyncDir(dir_); !s.ok()) return s;
  // Durable as a sealed segment now: a later sync need not write the raw
  // file's pages back (under `never`, an import's commit would otherwise
  // write every raw segment to disk just before they are deleted).
  std::lock_guard<AdaptiveMutex> l(mu_);
  for (auto it = unsynced_.begin(); it != unsynced_.end(); ++it) {
    if (it->base != base) continue;
    rolled_unsynced_bytes_ -= std::min(rolled_unsynced_bytes_, it->bytes);
    unsynced_.erase(it);
    break;
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Log::BeginImport() {
  if (options_.read_only) return absl::FailedPreconditionError(dir_ + ": log is open read-only");
  if (failed()) return failed_status();
  std::lock_guard<AdaptiveMutex> l(mu_);
  if (closed_) return absl::FailedPreconditionError(dir_ + ": log is closed");
  if (import_from_ != 0) {
    return absl::FailedPreconditionError(absl::StrCat(dir_, ": an import from sequence ",
                                                      import_from_, " is in progress"));
  }
  if (write_offset_ > kSegmentHeaderSize) {
    if (auto s = RollLocked(0); !s.ok()) return s;
  }
  const uint64_t from = next_seq_;
  if (auto s = WriteFileAtomically(fs_, dir_, JoinPath(dir_, kImportMarkerFileName),
                                   EncodeImportMarker(from));
      !s.ok()) {
    // The marker may be in place (renamed, then the directory sync failed):
    // the next open would roll back, as this import's, every event appended
    // after this error. Take it away durably, or refuse appends until the
    // log is reopened (tools/torture found it: recovery_test.cc).
    absl::Status undo = fs_->Remove(JoinPath(dir_, kImportMarkerFileName));
    if (absl::IsNotFound(undo)) undo = absl::OkStatus();
    if (undo.ok()) undo = fs_->SyncDir(dir_);
    if (!undo.ok()) {
      std::lock_guard<std::mutex> sl(sync_mu_);  // lock order: mu_, then sync_mu_
      return EnterFailedStateLocked(s, active_->base(), write_offset_, next_seq_, last_ts_);
    }
    return s;
  }
  import_from_ = from;
  return from;
}

absl::Status Log::CommitImport(bool* committed) {
  if (committed != nullptr) *committed = false;
  {
    std::lock_guard<AdaptiveMutex> l(mu_);
    if (import_from_ == 0) return absl::FailedPreconditionError(dir_ + ": no import in progress");
  }
  {
    // After the commit the active segment may be appended to and recovered
    // like any other: a recycled one gets a zero tail, as a new one has.
    std::lock_guard<AdaptiveMutex> l(mu_);
    if (active_->recycled()) {
      if (auto s = active_->ZeroTail(write_offset_); !s.ok()) return s;
    }
  }
  // Durable whatever the policy: the import is acknowledged as a whole.
  if (auto s = SyncThrough(published_seq_.load(std::memory_order_acquire)); !s.ok()) return s;
  {
    // The active segment was created for the import (not synced then) and
    // may hold no event, so SyncThrough had nothing to wait for: its header
    // must be on disk before the directory sync makes its name durable, or a
    // power loss leaves a 0-byte segment (tools/torture: recovery_test.cc).
    std::shared_ptr<Segment> active;
    {
      std::lock_guard<AdaptiveMutex> l(mu_);
      active = active_;
    }
    if (auto s = active->Sync(); !s.ok()) return s;
  }
  if (auto s = fs_->SyncDir(dir_); !s.ok()) return s;  // its pack's rename, its segments
  if (auto s = fs_->Remove(JoinPath(dir_, kImportMarkerFileName)); !s.ok()) return s;
  // Committed: the import is the log's now, whether or not the sync works.
  if (committed != nullptr) *committed = true;
  const absl::Status synced = fs_->SyncDir(dir_);
  std::lock_guard<AdaptiveMutex> l(mu_);
  import_from_ = 0;
  RemoveSparesLocked();
  return synced;
}

absl::Status Log::SealBacklog(size_t keep, BlockCodec* codec) {
  if (options_.read_only || failed()) return absl::OkStatus();
  while (true) {
    std::vector<uint64_t> failed_bases;  // not tried again
    {
      std::lock_guard<std::mutex> l(seal_mu_);
      failed_bases = seal_failed_;
    }
    uint64_t oldest = 0;
    {
      std::lock_guard<std::mutex> l(segments_mu_);
      size_t waiting = 0;
      for (size_t i = 0; i + 1 < segments_.size(); ++i) {
        const uint64_t b = segments_[i].base;
        if (!segments_[i].is_raw() ||
            std::find(sealing_.begin(), sealing_.end(), b) != sealing_.end() ||
            std::find(failed_bases.begin(), failed_bases.end(), b) != failed_bases.end()) {
          continue;
        }
        if (waiting++ == 0) oldest = b;
      }
      if (waiting <= keep) return absl::OkStatus();
      // While another thread trains the log's first dictionary, a segment
      // sealed here would wait for it: the caller goes on writing instead,
      // up to two more segments.
      if (dicts_->training() && waiting <= keep + 2) return absl::OkStatus();
    }
    bool busy = false;
    if (auto s = SealOne(oldest, codec, &busy); !s.ok()) {
      std::lock_guard<std::mutex> l(seal_mu_);
      seal_failed_.push_back(oldest);
      return s;
    }
  }
}

void Log::RemoveSparesLocked() {
  for (const std::string& spare : spares_) fs_->Remove(spare).IgnoreError();
  spares_.clear();
}

absl::Status Log::SealAll() {
  if (options_.read_only) return absl::FailedPreconditionError(dir_ + ": log is open read-only");
  if (failed()) return failed_status();
  {
    std::lock_guard<AdaptiveMutex> l(mu_);
    if (closed_) return absl::FailedPreconditionError(dir_ + ": log is closed");
    if (write_offset_ > kSegmentHeaderSize) {
      if (auto s = RollLocked(0); !s.ok()) return s;
    }
  }
  std::vector<uint64_t> bases;
  {
    std::lock_guard<std::mutex> l(segments_mu_);
    for (size_t i = 0; i + 1 < segments_.size(); ++i) {
      if (segments_[i].is_raw()) bases.push_back(segments_[i].base);
    }
  }
  // On every core: sealing is CPU-bound (zstd), one segment per thread.
  std::atomic<size_t> next{0};
  std::mutex err_mu;
  // A damaged segment stays raw (authoritative) and the others are sealed;
  // any other error (I/O, a full disk) stops the work.
  absl::Status first_error, first_damage;
  std::vector<uint64_t> deferred;  // being sealed by the background sealer: waited for last
  auto work = [&] {
    BlockCodec codec;
    for (size_t k; (k = next.fetch_add(1)) < bases.size();) {
      {
        std::lock_guard<std::mutex> l(err_mu);
        if (!first_error.ok()) return;
      }
      bool busy = false;
      absl::Status s = SealOne(bases[k], &codec, &busy);
      std::lock_guard<std::mutex> l(err_mu);
      if (busy) deferred.push_back(bases[k]);
      if (absl::IsDataLoss(s)) {
        if (first_damage.ok()) first_damage = s;
      } else if (!s.ok() && first_error.ok()) {
        first_error = s;
      }
    }
  };
  // The background sealer (if it runs) is one of the cores: it seals
  // what it has queued meanwhile. Each seal maps a whole raw segment, so
  // this also bounds the memory sealing holds.
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const unsigned busy = seal_thread_.joinable() ? 2 : 1;
  const unsigned helpers = std::min<unsigned>(
      cores > busy ? cores - busy : 0, static_cast<unsigned>(bases.size() > 1 ? bases.size() - 1 : 0));
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < helpers; ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  BlockCodec codec;
  for (uint64_t base : deferred) {
    if (!first_error.ok()) break;
    absl::Status s = SealOne(base, &codec);  // waits for the other sealer, then checks
    if (absl::IsDataLoss(s)) {
      if (first_damage.ok()) first_damage = s;
    } else {
      first_error = s;
    }
  }
  return first_error.ok() ? first_damage : first_error;
}

absl::StatusOr<RetainResult> Log::Retain(const RetainOptions& options) {
  if (options_.read_only) return absl::FailedPreconditionError(dir_ + ": log is open read-only");
  std::unique_lock<std::shared_mutex> w(seal_work_mu_);  // no segment changes form meanwhile
  const double now = options.now > 0 ? options.now : absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  struct Entry {
    std::shared_ptr<SealedSegment> sealed;  // null for a raw segment or a gap
    std::string gap_path;                   // a gap's file
    uint64_t bytes = 0;
    bool removable() const { return sealed != nullptr || !gap_path.empty(); }
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  {
    std::lock_guard<std::mutex> l(segments_mu_);
    for (size_t i = 0; i < segments_.size(); ++i) {
      Entry e;
      if (segments_[i].is_gap()) {
        e.gap_path = segments_[i].path;
        e.bytes = kGapFileSize;
      } else if (segments_[i].is_sealed()) {
        auto seg = SealedForReadLocked(i);
        if (!seg.ok()) return seg.status();
        e.sealed = *seg;
        e.bytes = (*seg)->file_size();
        if (auto f = fs_->Open((*seg)->index_path(), OpenMode::kRead); f.ok()) {
          if (auto n = (*f)->Size(); n.ok()) e.bytes += *n;
        }
      } else if (i + 1 == segments_.size()) {
        e.bytes = published_offset_.load(std::memory_order_acquire);
      } else if (auto f = fs_->Open(segments_[i].path, OpenMode::kRead); f.ok()) {
        if (auto n = (*f)->Size(); n.ok()) e.bytes = *n;
      }
      total += e.bytes;
      entries.push_back(std::move(e));
    }
  }
  // Oldest first, and only a prefix of sealed segments: the log stays a
  // gap-free range of sequences.
  BlockCodec codec;
  size_t remove = 0;
  if (options.max_age_seconds > 0) {
    while (remove < entries.size() && entries[remove].removable()) {
      if (entries[remove].sealed == nullptr) {  // a gap holds no event
        total -= entries[remove].bytes;
        ++remove;
        continue;
      }
      auto index = entries[remove].sealed->Index(&codec, /*with_sessions=*/false);
      if (!index.ok()) return index.status();
      bool any = false;
      double newest = 0;
      for (const BlockSummary& b : (*index)->blocks) {
        if (!b.has_timestamp) continue;
        newest = any ? std::max(newest, b.max_timestamp) : b.max_timestamp;
        any = true;
      }
      if (!any || newest >= now - options.max_age_seconds) break;
      total -= entries[remove].bytes;
      ++remove;
    }
  }
  while (options.max_bytes > 0 && total > options.max_bytes && remove < entries.size() &&
         entries[remove].removable()) {
    total -= entries[remove].bytes;
    ++remove;
  }
  // Gaps that would lead what remains go too.
  if (remove > 0) {
    while (remove < entries.size() && entries[remove].sealed == nullptr &&
           !entries[remove].gap_path.empty()) {
      total -= entries[remove].bytes;
      ++remove;
    }
  }
  RetainResult result;
  absl::Status st;
  for (size_t i = 0; i < remove && st.ok(); ++i) {
    {
      std::lock_guard<std::mutex> l(segments_mu_);
      segments_.erase(segments_.begin());
      ++removed_front_;
    }
    if (entries[i].sealed == nullptr) {
      st = fs_->Remove(entries[i].gap_path);
      result.removed.push_back(entries[i].gap_path);
      result.removed_bytes += entries[i].bytes;
      continue;
    }
    const SealedSegment& seg = *entries[i].sealed;
    // The data first: a crash between the two leaves an orphan index, which
    // the next open removes.
    st = fs_->Remove(seg.path());
    if (st.ok()) {
      if (auto s = fs_->Remove(seg.index_path()); !s.ok() && !absl::IsNotFound(s)) st = s;
    }
    result.removed.push_back(seg.path());
    result.removed_events += seg.header().event_count;
    result.removed_bytes += entries[i].bytes;
  }
  if (auto s = fs_->SyncDir(dir_); st.ok()) st = s;
  if (!st.ok()) return st;
  // Every run, whatever it removed: a crash after the removals above and
  // before this leaves attachments that the next run removes.
  if (auto s = PruneAttachments(&result); !s.ok()) return s;
  result.bytes_after = total;
  return result;
}

absl::Status Log::PruneAttachments(RetainResult* result) {
  auto names = fs_->ListDir(dir_);
  if (!names.ok()) return names.status();
  uint64_t import_from;
  {
    std::lock_guard<AdaptiveMutex> l(mu_);
    import_from = import_from_ != 0 ? import_from_ : UINT64_MAX;
  }
  std::vector<uint64_t> packs;
  for (const std::string& n : *names) {
    if (auto f = ParseAttachFileName(n); f && *f < import_from) packs.push_back(*f);
  }
  if (packs.empty()) return absl::OkStatus();
  // The first sequence the log still holds, and the sessions it holds events of.
  uint64_t first = UINT64_MAX;
  absl::flat_hash_set<std::string> live;
  BlockCodec codec;
  for (const SegmentSnapshot& seg : SnapshotSegments()) {
    first = std::min(first, seg.base);
    if (seg.sealed != nullptr) {
      auto index = seg.sealed->Index(&codec, /*with_sessions=*/true);
      if (!index.ok()) return index.status();  // cannot tell which sessions live: keep all
      for (const SessionSummary& s : (*index)->sessions) live.insert(s.id);
      continue;
    }
    SegmentScanner scanner(seg.raw->path(), seg.raw->contents(), kSegmentHeaderSize, seg.limit,
                           seg.base, SegmentScanner::Mode::kSkipDamage);
    RecordView rec;
    EventKeys keys;
    while (scanner.Next(&rec)) {
      if (DecodeKeys(rec.keys, &keys)) live.emplace(keys.session_id);
    }
  }
  bool changed_any = false;
  for (uint64_t f : packs) {
    // A session keeps its attachments while the log holds one of its
    // events, or (a session without events) while its import's first
    // sequence is in the log.
    const bool import_kept = f >= first;
    bool changed = false;
    if (auto s = PruneAttachmentPack(
            fs_, dir_, f, [&](const std::string& s) { return import_kept || live.contains(s); },
            /*keep_roots=*/import_kept, &changed);
        !s.ok()) {
      return s;
    }
    if (changed) {
      ++result->pruned_packs;
      changed_any = true;
    }
  }
  return changed_any ? fs_->SyncDir(dir_) : absl::OkStatus();
}

LogStats Log::Stats() {
  LogStats st;
  struct File {
    std::string path;
    std::string index_path;
    bool active;
  };
  std::vector<File> files;
  std::shared_ptr<SealedSegment> first_sealed;
  std::shared_ptr<Segment> first_raw;
  {
    std::lock_guard<std::mutex> l(segments_mu_);
    st.segments = segments_.size();
    st.last_sequence = published_seq_.load();
    st.active_used_bytes = published_offset_.load();
    if (!segments_.empty()) st.first_sequence = segments_.front().base;
    // The last event's sequence: appends after a gap (or into an empty
    // active segment) have not used the numbers below the active base.
    if (st.active_used_bytes <= kSegmentHeaderSize && !segments_.empty() &&
        segments_.back().is_raw()) {
      st.last_sequence = segments_.back().base - 1;
      for (size_t i = segments_.size() - 1; i-- > 0 && segments_[i].is_gap();) {
        if (segments_[i].gap_status.ok()) st.last_sequence = segments_[i].gap.first - 1;
      }
    }
    for (size_t i = 0; i < segments_.size(); ++i) {
      const SegmentRef& ref = segments_[i];
      if (ref.is_gap()) {
        ++st.gaps;
        if (!ref.gap_status.ok()) continue;
        if (st.first_sequence == ref.base) {
          st.first_sequence = ref.gap.end;  // a leading gap: the log starts after it
        } else if (ref.gap.first <= st.last_sequence) {
          st.skipped_sequences += std::min(ref.gap.end, st.last_sequence + 1) - ref.gap.first;
        }
        continue;
      }
      if (ref.is_sealed()) ++st.sealed_segments;
      files.push_back(File{ref.path, ref.is_sealed() ? JoinPath(dir_, IndexFileName(ref.base)) : "",
                           !ref.is_sealed() && i + 1 == segments_.size()});
    }
    if (!segments_.empty()) {
      if (segments_[0].is_sealed()) {
        if (auto s = SealedForReadLocked(0); s.ok()) first_sealed = *s;
      } else if (auto s = SegmentForReadLocked(0); s.ok()) {
        first_raw = *s;
      }
    }
  }
  st.segments -= st.gaps;
  if (st.first_sequence == 0 || st.last_sequence < st.first_sequence) {
    st.first_sequence = st.last_sequence = 0;
  } else {
    st.events = st.last_sequence - st.first_sequence + 1;
    st.events -= std::min(st.events, st.skipped_sequences);  // (leading gaps are not counted)
  }
  auto size_of = [&](const std::string& p) -> uint64_t {
    if (p.empty()) return 0;
    if (auto f = fs_->Open(p, OpenMode::kRead); f.ok()) {
      if (auto size = (*f)->Size(); size.ok()) return *size;
    }
    return 0;
  };
  for (const File& f : files) {
    const uint64_t size = size_of(f.path);
    st.disk_bytes += size;
    st.stored_bytes += (f.active ? std::min(size, st.active_used_bytes) : size) +
                       size_of(f.index_path);
  }
  if (auto dict = dicts_->Current(); dict.ok() && *dict != nullptr) {
    st.stored_bytes += kDictHeaderSize + (*dict)->bytes().size();
  }
  if (st.events > 0) {
    RecordView rec;
    if (first_raw != nullptr && first_raw->Readable(kSegmentHeaderSize, 1 << 20) &&
        DecodeRecord(first_raw->contents(), kSegmentHeaderSize, &rec) == RecordStatus::kOk) {
      st.first_timestamp = rec.timestamp;
    } else if (first_sealed != nullptr) {
      BlockCodec codec;
      if (auto index = first_sealed->Index(&codec, /*with_sessions=*/false); index.ok()) {
        for (const BlockSummary& b : (*index)->blocks) {
          if (b.has_timestamp && (st.first_timestamp == 0 || b.min_timestamp < st.first_timestamp)) {
            st.first_timestamp = b.min_timestamp;
          }
        }
      }
    }
    std::lock_guard<AdaptiveMutex> l(mu_);
    st.last_timestamp = last_ts_;
    st.recycled_segments = recycled_segments_;
  }
  {
    std::lock_guard<AdaptiveMutex> l(mu_);
    st.sequence_lease = lease_;
  }
  {
    std::lock_guard<std::mutex> l(sync_mu_);
    st.durable_sequence = durable_seq_;
    st.syncs = syncs_done_;
  }
  return st;
}

}  // namespace tracelog
