// Appends: preparing events, the append path (mapped or pwrite), rolling
// segments, the sequence lease, and the thread that pre-faults the active
// segment's pages.

#include "engine/log/log_impl.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/format/checksum.h"
#include "engine/format/event_keys.h"
#include "engine/io/file_system.h"
#include "engine/log/checkpoint_file.h"
#include "engine/port/futex.h"
#include "engine/segment/segment.h"

namespace tracelog {

namespace {
constexpr uint64_t kPrefaultChunk = 2ull << 20;
// Zeros written (and synced) at a time: appends wait for the write (not the
// sync), so it is kept short.
constexpr uint64_t kZeroChunk = 256ull << 10;
constexpr size_t kMaxUnsyncedSegments = 16;  // rolled segments awaiting their sync
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

absl::Status LogImpl::CoverByLeaseLocked(uint64_t last) {
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
    MutexLock l(&checkpoint_mu_);
    s = checkpoint_file_->WriteLease(lease, &lease_generation_);
  }
  if (!s.ok()) {
    MutexLock sl(&sync_mu_);  // lock order: mu_, then sync_mu_
    return EnterFailedStateLocked(s, active_->base(), write_offset_, next_seq_, last_ts_);
  }
  lease_ = lease;
  last_lease_micros_ = now;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> LogImpl::Append(absl::string_view event) {
  thread_local PreparedEvent prepared;
  if (auto s = PrepareEvent(event, &prepared); !s.ok()) return s;
  AppendBatchResult r = AppendPrepared(absl::MakeConstSpan(&prepared, 1));
  if (!r.status.ok()) return r.status;
  return r.first_sequence;
}

// With pwrite appends, the records of a batch are staged in write_buffer_
// and written at write_offset_ in one call (per segment). `staged`: the
// events in it. On failure they are taken back from `result` (and their
// numbers from next_seq_), the error goes to result->status, and false is
// returned.
bool LogImpl::FlushStagedLocked(size_t staged, AppendBatchResult* result) {
  if (!use_pwrite_ || write_buffer_.empty()) return true;
  absl::Status s = active_->file()->Write(write_offset_, write_buffer_);
  if (s.ok()) {
    write_offset_ += write_buffer_.size();
  } else {
    // Part of the batch may be in the file past write_offset_: like a
    // failed sync, this ends the log's life until it is reopened (and
    // recovery cuts the tail), so no later append can land next to it.
    MutexLock sl(&sync_mu_);  // lock order: mu_, then sync_mu_
    s = EnterFailedStateLocked(s, active_->base(), write_offset_, next_seq_ - staged, last_ts_);
  }
  write_buffer_.clear();
  if (s.ok()) return true;
  next_seq_ -= staged;
  result->appended -= staged;
  result->status = s;
  return false;
}

// After an append: the pre-faulter, if the writer nears its window's edge,
// and a sync leader in its commit delay, if every appender is in.
void LogImpl::WakeWaiters() {
  if (prefault_waiting_.load(std::memory_order_relaxed) &&
      set_.published_offset() + ahead_bytes_ / 2 >
          prefaulted_to_.load(std::memory_order_relaxed)) {
    prefault_cv_.notify_one();
  }
  if (delay_waiting_.load(std::memory_order_seq_cst) && GroupComplete()) {
    delay_word_.fetch_add(1, std::memory_order_release);
    FutexWake(&delay_word_, 1);
  }
}

AppendBatchResult LogImpl::AppendPrepared(absl::Span<const PreparedEvent> events) {
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
    AdaptiveMutexLock l(&mu_);
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
    for (const PreparedEvent& ev : events) {
      if (ev.event.size() > kMaxEventSize) {
        result.status = absl::InvalidArgumentError(
            absl::StrCat("an event of ", ev.event.size(), " bytes is larger than the maximum of ",
                         kMaxEventSize, " bytes"));
        break;
      }
      const size_t size = RecordSize(ev.keys.size(), ev.event.size());
      if (write_offset_ + write_buffer_.size() + size > active_->size()) {
        if (!FlushStagedLocked(staged, &result)) break;
        staged = 0;
        set_.Publish(write_offset_, next_seq_ - 1);
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
    if (result.status.ok()) FlushStagedLocked(staged, &result);
    set_.Publish(write_offset_, next_seq_ - 1);
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
  WakeWaiters();
  if (rolled_sync_target > 0) {
    if (auto s = SyncThrough(rolled_sync_target); !s.ok() && result.status.ok()) result.status = s;
  }
  if (result.appended == 0) return result;
  if (options_.sync.kind == SyncPolicy::Kind::kAlways || need_sync) {
    if (auto s = SyncThrough(last); !s.ok() && result.status.ok()) result.status = s;
  }
  return result;
}

absl::Status LogImpl::RollFailedLocked(const absl::Status& s) {
  if (absl::IsResourceExhausted(s)) return s;
  MutexLock sl(&sync_mu_);  // lock order: mu_, then sync_mu_
  return EnterFailedStateLocked(s, active_->base(), write_offset_, next_seq_, last_ts_);
}

absl::Status LogImpl::RollLocked(size_t needed) {
  const uint64_t capacity = std::max<uint64_t>(
      options_.segment_size, (kSegmentHeaderSize + needed + 4095) & ~uint64_t{4095});
  std::shared_ptr<Segment> next;
  if (write_offset_ == kSegmentHeaderSize) {
    // The active segment is empty: give it more room instead of a successor
    // (two segments cannot share a base sequence).
    auto grown = active_->Enlarge(capacity);
    if (!grown.ok()) return RollFailedLocked(grown.status());
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
    if (!created.ok()) return RollFailedLocked(created.status());
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
                        rolled_unsynced_bytes_ >= options_.tuning.never_sync_backlog_bytes ||
                        unsynced_.size() >= kMaxUnsyncedSegments;
  active_ = next;
  write_offset_ = kSegmentHeaderSize;
  active_created_micros_ = absl::ToUnixMicros(absl::Now());
  {
    SegmentSet::Locked set(&set_);
    std::vector<SegmentEntry>& segments = set.entries();
    if (replaced) {
      segments.back().segment = active_;
    } else {
      segments.back().segment = rolled;
      SegmentEntry ref;
      ref.base = active_->base();
      ref.path = active_->path();
      ref.segment = active_;
      segments.push_back(std::move(ref));
    }
    set_.PublishOffset(write_offset_);
  }
  prefaulted_to_.store(0, std::memory_order_relaxed);
  roll_generation_.fetch_add(1, std::memory_order_acq_rel);
  prefault_cv_.notify_one();
  if (sync_now && !replaced) {
    {
      MutexLock l(&bg_mu_);
      bg_sync_requested_ = true;
    }
    bg_cv_.notify_all();
  }
  if (!replaced && options_.seal_on_roll) EnqueueSeal(rolled->base());
  return absl::OkStatus();
}

bool LogImpl::ZeroAhead(const std::shared_ptr<Segment>& seg, uint64_t from, uint64_t n) {
  static const std::string* const zeros = new std::string(kZeroChunk, '\0');
  {
    // Under mu_: appends write only while holding it, and write_offset_ is
    // the end of their records, so the zeros land past every record and no
    // record is written while they are.
    AdaptiveMutexLock l(&mu_);
    if (closed_ || active_ != seg || failed()) return false;
    const uint64_t start = std::max(from, write_offset_);
    if (start >= from + n) return true;
    if (!seg->file()->Write(start, absl::string_view(zeros->data(), from + n - start)).ok()) {
      return false;  // nothing appended was touched: appends go on, unhelped
    }
  }
  return SideSync([&] { return seg->file()->Sync(); }).ok();
}

absl::Status LogImpl::SideSync(absl::FunctionRef<absl::Status()> sync) {
  MutexLock z(&side_sync_mu_);
  absl::Status s = sync();
  if (!s.ok()) {
    AdaptiveMutexLock l(&mu_);
    MutexLock sl(&sync_mu_);  // lock order: side_sync_mu_, mu_, sync_mu_
    s = EnterFailedStateLocked(s, active_->base(), write_offset_, next_seq_, last_ts_);
  }
  return s;
}

void LogImpl::AwaitSideSyncs() {
  // A side sync that began before the caller's sync returned took the lock
  // before this does, and holds it until its outcome is recorded; one that
  // takes it after this began after the caller's sync returned, and cannot
  // take that sync's error. Uncontended, this costs a lock and an unlock
  // per group commit.
  MutexLock z(&side_sync_mu_);
}

void LogImpl::PrefaultLoop() {
  pthread_setname_np(pthread_self(), zero_ahead_ ? "tracelog-zero" : "tracelog-fault");
  std::shared_ptr<Segment> seg;
  uint64_t generation = ~uint64_t{0};
  // What the writer left behind is dropped from the process's resident
  // memory in large steps (the page cache keeps it): a bulk append holds
  // about the pre-fault window resident, not the whole segment.
  const uint64_t kReleaseStep = std::max<uint64_t>(ahead_bytes_ / 2, 1 << 20);
  uint64_t released_to = 0;
  while (!stop_.load(std::memory_order_acquire)) {
    const uint64_t gen = roll_generation_.load(std::memory_order_acquire);
    if (gen != generation) {
      AdaptiveMutexLock ml(&mu_);
      seg = active_;
      generation = roll_generation_.load(std::memory_order_acquire);
      released_to = 0;
      // A roll between this loop's generation check and its store below
      // may have left the old segment's offset: this is a new segment.
      prefaulted_to_.store(0, std::memory_order_relaxed);
    }
    const uint64_t published = set_.published_offset();
    if (!zero_ahead_ && published >= released_to + 2 * kReleaseStep) {
      seg->ReleaseResident(released_to, published - kReleaseStep - released_to);
      released_to = published - kReleaseStep;
    }
    const uint64_t from = std::max(prefaulted_to_.load(std::memory_order_relaxed), published);
    const uint64_t target = std::min(published + ahead_bytes_, seg->size());
    if (from < target) {
      uint64_t n = std::min(target - from, zero_ahead_ ? kZeroChunk : kPrefaultChunk);
      if (!zero_ahead_) {
        seg->PrefaultForWrite(from, n);
      } else if (seg->recycled() || !ZeroAhead(seg, from, n)) {
        n = seg->size() - from;  // not this segment (again): wait for the next
      }
      if (roll_generation_.load(std::memory_order_acquire) == generation) {
        prefaulted_to_.store(from + n, std::memory_order_relaxed);
      }
      continue;
    }
    // Caught up: sleep until the writer is half a window from the edge (or,
    // when the whole segment is faulted in, until it rolls: without that, the
    // last half window of every segment was a busy loop).
    MutexLock l(&prefault_mu_);
    prefault_waiting_.store(true, std::memory_order_seq_cst);
    const uint64_t size = seg->size();
    prefault_mu_.WaitFor(&prefault_cv_, std::chrono::milliseconds(10), [&] {
      const uint64_t done = prefaulted_to_.load();
      return stop_.load() || roll_generation_.load() != generation ||
             (done < size && set_.published_offset() + ahead_bytes_ / 2 > done);
    });
    prefault_waiting_.store(false, std::memory_order_relaxed);
  }
}

}  // namespace tracelog
