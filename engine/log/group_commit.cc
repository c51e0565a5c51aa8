// Syncs: group commit (one leader syncs for every appender waiting, the
// others sleep on a futex word per epoch parity), the failed state after a
// failed sync, and the background thread of the interval and never
// policies.

#include "engine/log/log_impl.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/io/file_system.h"
#include "engine/log/checkpoint_file.h"
#include "engine/port/futex.h"
#include "engine/segment/segment.h"

namespace tracelog {

absl::Status LogImpl::EnterFailedStateLocked(const absl::Status& s, uint64_t segment_base,
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

bool LogImpl::GroupComplete() const {
  // Every appender in flight (this one included) has an unsynced event.
  const uint64_t in_flight = appenders_.load(std::memory_order_acquire);
  const uint64_t unsynced = set_.published_seq() -
                            durable_atomic_.load(std::memory_order_acquire);
  return unsynced >= in_flight;
}

absl::Status LogImpl::failed_status() {
  MutexLock l(&sync_mu_);
  return failed_status_;
}

uint64_t LogImpl::durable_sequence() {
  MutexLock l(&sync_mu_);
  return durable_seq_;
}

absl::Status LogImpl::Sync() {
  if (options_.read_only) return absl::OkStatus();
  return SyncThrough(set_.published_seq());
}

absl::Status LogImpl::SyncThrough(uint64_t target) {
  if (durable_atomic_.load(std::memory_order_acquire) >= target && !failed()) {
    return absl::OkStatus();
  }
  MutexLock sl(&sync_mu_);
  while (true) {
    if (!failed_status_.ok()) return failed_status_;
    if (durable_seq_ >= target) return absl::OkStatus();
    if (!sync_in_progress_) break;  // become the leader
    // A sync is running: wait for the one that covers `target`.
    const uint64_t epoch = target <= snapshot_seq_ ? sync_epoch_ : sync_epoch_ + 1;
    std::atomic<uint32_t>& word = epoch_word_[epoch % 2];
    const uint32_t seen = word.load(std::memory_order_acquire);
    ++waiting_[epoch % 2];
    sl.Unlock();
    while (word.load(std::memory_order_acquire) == seen) FutexWait(&word, seen);
    sl.Lock();
    --waiting_[epoch % 2];
  }
  sync_in_progress_ = true;
  const uint64_t last_group = last_group_size_;
  sl.Unlock();

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
    AdaptiveMutexLock l(&mu_);
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
    MutexLock s2(&sync_mu_);  // lock order: mu_, then sync_mu_
    ++sync_epoch_;
    snapshot_seq_ = sync_active ? seq : rolled.back().last_seq;
  }
  absl::Status st;
  for (const auto& r : rolled) {
    st = r.file->Sync();
    if (!st.ok()) break;
  }
  if (st.ok() && sync_active) st = active->Sync();
  if (st.ok()) AwaitSideSyncs();  // then failed_status_ below says whether one failed
  // Close the rolled segments' descriptors before any waiter can wake: the
  // caller of Sync() may count them.
  RolledFile last_rolled{};
  if (!rolled.empty()) last_rolled = rolled.back();
  last_rolled.file.reset();
  rolled.clear();

  sl.Lock();
  sync_in_progress_ = false;
  ++syncs_done_;
  last_group_size_ = snapshot_seq_ > durable_seq_ ? snapshot_seq_ - durable_seq_ : 0;
  if (st.ok() && failed_status_.ok()) {
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
  } else if (!st.ok()) {
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
  sl.Unlock();
  FutexWake(&epoch_word_[e % 2], INT32_MAX);
  if (failed_now) {
    FutexWake(&epoch_word_[(e + 1) % 2], INT32_MAX);
  } else if (next_leader) {
    FutexWake(&epoch_word_[(e + 1) % 2], 1);
  }
  if (failed_now || done) return result;
  return SyncThrough(target);  // our target was beyond what this sync covered
}

void LogImpl::BackgroundLoop() {
  pthread_setname_np(pthread_self(), "tracelog-sync");
  if (options_.sync.kind == SyncPolicy::Kind::kNever) {
    // Under `never` this thread only syncs rolled segments, which nobody
    // waits for: its writeback work must not take the CPU from the writer.
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
  }
  const bool interval = options_.sync.kind == SyncPolicy::Kind::kInterval;
  const auto period = std::chrono::milliseconds(interval ? options_.sync.value : 1000);
  MutexLock l(&bg_mu_);
  while (!stop_.load(std::memory_order_acquire)) {
    bg_mu_.WaitFor(&bg_cv_, period, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(bg_mu_) {
      return stop_.load() || bg_sync_requested_;
    });
    if (stop_.load(std::memory_order_acquire)) break;
    const bool requested = bg_sync_requested_;
    bg_sync_requested_ = false;
    l.Unlock();
    uint64_t target = 0;
    if (interval) {
      target = set_.published_seq();
    } else {
      AdaptiveMutexLock ml(&mu_);
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
      AdaptiveMutexLock ml(&mu_);
      if (!closed_) {
        WriteCheckpoint(active_->base(), write_offset_, next_seq_, last_ts_, false, false)
            .IgnoreError();
      }
    }
    if (options_.segment_max_age_ms > 0) {
      AdaptiveMutexLock ml(&mu_);
      const int64_t age_ms = (absl::ToUnixMicros(absl::Now()) - active_created_micros_) / 1000;
      if (!closed_ && write_offset_ > kSegmentHeaderSize &&
          age_ms >= static_cast<int64_t>(options_.segment_max_age_ms)) {
        RollLocked(0).IgnoreError();  // retried on the next tick or append
      }
    }
    l.Lock();
  }
}

}  // namespace tracelog
