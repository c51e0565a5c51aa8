// LogImpl: open (lock, recovery hand-off, background threads), checkpoints,
// close and stats. The other jobs of the log are in the files that
// log_impl.h lists.

#include "engine/log/log_impl.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/format/checkpoint_format.h"
#include "engine/format/checksum.h"
#include "engine/format/gap_format.h"
#include "engine/format/sealed_format.h"
#include "engine/io/file_system.h"
#include "engine/log/checkpoint_file.h"
#include "engine/log/log_reader.h"
#include "engine/segment/segment.h"
#include "engine/seal/sealed_segment.h"

namespace tracelog {

namespace {
constexpr char kLockFileName[] = "LOCK";
constexpr int kReadOnlyRelists = 8;  // a read-only open racing a writer's seals

// The writer lock at `path`, waiting up to `wait_ms` for another writer to
// let it go (polling: flock has no timeout; the pause grows from 1 ms to
// 50 ms, so a short wait costs little and a long one little CPU).
absl::StatusOr<std::unique_ptr<FileLock>> LockWaiting(FileSystem* fs, const std::string& path,
                                                      uint64_t wait_ms) {
  const absl::Time deadline = absl::Now() + absl::Milliseconds(wait_ms);
  absl::Duration pause = absl::Milliseconds(1);
  while (true) {
    auto lock = fs->Lock(path);
    if (lock.ok() || !absl::IsFailedPrecondition(lock.status()) || wait_ms == 0) return lock;
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      return absl::FailedPreconditionError(absl::StrCat(
          lock.status().message(), " (waited ", wait_ms / 1000.0, " s for it)"));
    }
    absl::SleepFor(std::min(pause, deadline - now));
    pause = std::min(pause * 2, absl::Milliseconds(50));
  }
}
}  // namespace

LogImpl::LogImpl(std::string dir, LogOptions options)
    : dir_(std::move(dir)), options_(options),
      fs_(options.fs != nullptr ? options.fs : DefaultFileSystem()),
      dicts_(std::make_unique<DictionaryStore>(fs_, dir_)),
      set_(fs_, dir_, dicts_.get()) {
  const std::string boot_id = fs_->BootId();
  boot_hash_ = boot_id.empty() ? 0 : Checksum64(boot_id);
}

LogImpl::~LogImpl() {
  bool open;
  {
    AdaptiveMutexLock l(&mu_);
    open = !closed_;
  }
  if (open) Close().IgnoreError();
}

Log::~Log() = default;

absl::StatusOr<std::unique_ptr<Log>> Log::Open(const std::string& dir, const LogOptions& options) {
  return LogImpl::Open(dir, options);
}

absl::StatusOr<std::unique_ptr<Log>> LogImpl::Open(const std::string& dir,
                                                   const LogOptions& options) {
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
  std::unique_ptr<LogImpl> log(new LogImpl(dir, options));
  // Under `always` every append is followed by an fdatasync, which
  // write-protects the mapped pages it cleans; appending through the mapping
  // would then fault on every page again and flush TLBs of every core. A
  // pwrite per batch is cheaper there (bench/RESULTS.md).
  // A bulk writer asks for pwrite too (LogTuning::append_with_pwrite).
  log->use_pwrite_ =
      options.sync.kind == SyncPolicy::Kind::kAlways || options.tuning.append_with_pwrite;
  if (log->use_pwrite_) log->options_.tuning.prefault_bytes = 0;
  log->zero_ahead_ = !options.read_only && options.sync.kind == SyncPolicy::Kind::kAlways &&
                     options.tuning.zero_ahead_bytes > 0 && log->fs_->AllocatesUnwritten(dir);
  log->ahead_bytes_ = log->zero_ahead_ ? options.tuning.zero_ahead_bytes
                                       : log->options_.tuning.prefault_bytes;
  if (!options.read_only) {
    auto lock = LockWaiting(fs, JoinPath(dir, kLockFileName), options.lock_wait_ms);
    if (!lock.ok()) return lock.status();
    log->lock_ = std::move(*lock);
    auto cp = CheckpointFile::Open(fs, dir);
    if (!cp.ok()) return cp.status();
    log->checkpoint_file_ = std::move(*cp);
  }
  if (auto s = log->Recover(); !s.ok()) return s;
  {
    AdaptiveMutexLock l(&log->mu_);
    log->closed_ = false;
  }
  if (!options.read_only) {
    log->bg_thread_ = std::thread([l = log.get()] { l->BackgroundLoop(); });
    if (log->ahead_bytes_ > 0) {
      log->prefault_thread_ = std::thread([l = log.get()] { l->PrefaultLoop(); });
    }
    if (log->options_.seal_on_roll) {
      // Raw segments other than the active one: sealing a previous writer
      // did not finish (or never started).
      std::vector<uint64_t> pending;
      {
        SegmentSet::Locked set(&log->set_);
        const std::vector<SegmentEntry>& segments = set.entries();
        for (size_t i = 0; i + 1 < segments.size(); ++i) {
          if (segments[i].is_raw()) pending.push_back(segments[i].base);
        }
      }
      for (uint64_t base : pending) log->EnqueueSeal(base);
      log->seal_thread_ = std::thread([l = log.get()] { l->SealLoop(); });
    }
  }
  return std::unique_ptr<Log>(std::move(log));
}

absl::Status LogImpl::Recover() {
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
  SegmentSet::Locked(&set_).entries() = std::move(recovered->segments);
  recovery_ = std::move(recovered->report);
  // No other thread runs yet; the lock is for the analysis (and costs
  // nothing).
  AdaptiveMutexLock l(&mu_);
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
  set_.Publish(write_offset_, next_seq_ - 1);
  {
    MutexLock sl(&sync_mu_);  // lock order: mu_, then sync_mu_
    durable_seq_ = next_seq_ - 1;
  }
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

absl::Status LogImpl::WriteCheckpoint(uint64_t segment_base, uint64_t end_offset, uint64_t next_seq,
                                  double last_ts, bool clean, bool durable) {
  Checkpoint cp;
  cp.flags = clean ? kCheckpointFlagClean : 0;
  cp.segment_base = segment_base;
  cp.end_offset = end_offset;
  cp.next_sequence = next_seq;
  cp.last_timestamp = last_ts;
  cp.boot_hash = durable ? 0 : boot_hash_;
  MutexLock l(&checkpoint_mu_);
  // A failed state outlives the process in the volatile slot: read under
  // the lock, so a write racing with the failure cannot clear it.
  if (!durable && failed()) {
    cp.flags = kCheckpointFlagSyncFailed;
  }
  return checkpoint_file_->Write(cp, durable);
}

absl::Status LogImpl::Close() {
  {
    AdaptiveMutexLock l(&mu_);
    if (closed_) return absl::FailedPreconditionError(dir_ + ": log is already closed");
    closed_ = true;
  }
  {
    // Set under both wait mutexes, so neither thread can miss it between
    // testing its predicate and going to sleep.
    MutexLock l(&bg_mu_);
    MutexLock p(&prefault_mu_);
    MutexLock q(&seal_mu_);
    stop_.store(true, std::memory_order_release);
  }
  bg_cv_.notify_all();
  prefault_cv_.notify_all();
  seal_cv_.notify_all();
  if (bg_thread_.joinable()) bg_thread_.join();
  if (prefault_thread_.joinable()) prefault_thread_.join();
  if (seal_thread_.joinable()) seal_thread_.join();
  {
    AdaptiveMutexLock l(&mu_);
    RemoveSparesLocked();
  }
  absl::Status st;
  if (!options_.read_only) {
    // `never` promises no fdatasync: the events are in the page cache, and a
    // volatile clean checkpoint lets the next open (before any reboot) skip
    // the scan. Every other policy syncs on close.
    const bool durable = options_.sync.kind != SyncPolicy::Kind::kNever;
    st = durable ? SyncThrough(set_.published_seq()) : failed_status();
    if (st.ok()) {
      AdaptiveMutexLock l(&mu_);
      st = WriteCheckpoint(active_->base(), write_offset_, next_seq_, last_ts_, true, durable);
      if (st.ok() && durable) st = checkpoint_file_->Sync();
    }
  }
  lock_.reset();
  return st;
}

LogStats LogImpl::Stats() {
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
    SegmentSet::Locked set(&set_);
    const std::vector<SegmentEntry>& segments = set.entries();
    st.segments = segments.size();
    st.last_sequence = set_.published_seq();
    st.active_used_bytes = set_.published_offset();
    if (!segments.empty()) st.first_sequence = segments.front().base;
    // The last event's sequence: appends after a gap (or into an empty
    // active segment) have not used the numbers below the active base.
    if (st.active_used_bytes <= kSegmentHeaderSize && !segments.empty() &&
        segments.back().is_raw()) {
      st.last_sequence = segments.back().base - 1;
      for (size_t i = segments.size() - 1; i-- > 0 && segments[i].is_gap();) {
        if (segments[i].gap_status.ok()) st.last_sequence = segments[i].gap.first - 1;
      }
    }
    for (size_t i = 0; i < segments.size(); ++i) {
      const SegmentEntry& ref = segments[i];
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
                           !ref.is_sealed() && i + 1 == segments.size()});
    }
    if (!segments.empty()) {
      if (segments[0].is_sealed()) {
        if (auto s = set.Sealed(0); s.ok()) first_sealed = *s;
      } else if (auto s = set.Raw(0); s.ok()) {
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
    AdaptiveMutexLock l(&mu_);
    st.last_timestamp = last_ts_;
    st.recycled_segments = recycled_segments_;
  }
  {
    AdaptiveMutexLock l(&mu_);
    st.sequence_lease = lease_;
  }
  {
    MutexLock l(&sync_mu_);
    st.durable_sequence = durable_seq_;
    st.syncs = syncs_done_;
  }
  return st;
}

}  // namespace tracelog
