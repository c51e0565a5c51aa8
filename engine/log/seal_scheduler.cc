// Sealing: the background sealing thread and its queue, SealAll,
// SealBacklog (a writer that outruns the sealer helps it), and the spare
// raw files an import writes its later segments over.

#include "engine/log/log_impl.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/io/file_system.h"
#include "engine/log/checkpoint_file.h"
#include "engine/segment/segment.h"
#include "engine/seal/block_codec.h"
#include "engine/seal/sealed_segment.h"
#include "engine/seal/sealer.h"

namespace tracelog {

namespace {
constexpr size_t kMaxSpares = 4;  // sealed raw segments kept for an import
}  // namespace

void LogImpl::EnqueueSeal(uint64_t base) {
  {
    MutexLock l(&seal_mu_);
    seal_queue_.push_back(base);
  }
  seal_cv_.notify_one();
}

void LogImpl::SealLoop() {
  pthread_setname_np(pthread_self(), "tracelog-seal");
  // Sealing is background work: appenders come first (LogTuning::seal_nice).
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), options_.tuning.seal_nice);
  BlockCodec codec;
  MutexLock l(&seal_mu_);
  while (true) {
    seal_mu_.Wait(&seal_cv_, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(seal_mu_) {
      return stop_.load() || !seal_queue_.empty();
    });
    if (stop_.load(std::memory_order_acquire)) break;
    const uint64_t base = seal_queue_.front();
    seal_queue_.pop_front();
    if (std::find(seal_failed_.begin(), seal_failed_.end(), base) != seal_failed_.end()) continue;
    l.Unlock();
    // A segment another thread is sealing (an importer helping, SealAll) is
    // left to it: waiting for it would idle this core while others queue.
    bool busy = false;
    // Close gives an unfinished seal up (stop_) instead of waiting for it:
    // a short-lived writer that rolled a segment must not wait for its
    // seal. The raw segment stays; the next writer seals it.
    const absl::Status s = SealOne(base, &codec, &busy, &stop_);
    l.Lock();
    // A failure leaves the raw segment authoritative; the next process that
    // opens the log for writing (or SealAll) tries again.
    if (!s.ok() && !absl::IsCancelled(s)) seal_failed_.push_back(base);
  }
}

absl::Status LogImpl::SealOne(uint64_t base, BlockCodec* codec, bool* busy,
                              const std::atomic<bool>* cancel) {
  std::shared_lock<std::shared_mutex> w(seal_work_mu_);
  std::shared_ptr<Segment> raw;
  std::string raw_path;
  uint64_t last_sequence = 0;
  {
    SegmentSet::Locked set(&set_);
    // Another thread sealing it: wait for that one (the caller may promise
    // the segment is durable when this returns), or say so.
    if (busy != nullptr && set.IsSealing(base)) {
      *busy = true;
      return absl::OkStatus();
    }
    set.WaitUntilNotSealing(base);
    const std::vector<SegmentEntry>& segments = set.entries();
    size_t i = 0;
    while (i < segments.size() && segments[i].base != base) ++i;
    if (i + 1 >= segments.size() || !segments[i].is_raw()) {
      return absl::OkStatus();  // sealed meanwhile, the active segment, or a gap
    }
    auto seg = set.Raw(i);
    if (!seg.ok()) return seg.status();
    raw = *seg;
    raw_path = segments[i].path;
    // It must hold every sequence up to its successor's base.
    last_sequence = segments[i + 1].base - 1;
    set.BeginSealing(base);
  }
  auto done = [&] { set_.EndSealing(base); };
  SealTuning tuning;
  tuning.cancel = cancel;
  {
    AdaptiveMutexLock l(&mu_);
    tuning.drop_cache = import_from_ != 0 && base >= import_from_;  // SealTuning::drop_cache
  }
  auto stats =
      SealSegment(fs_, dir_, *raw, last_sequence, options_.seal, dicts_.get(), codec, tuning);
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
    SegmentSet::Locked set(&set_);
    for (SegmentEntry& ref : set.entries()) {
      if (ref.base != base) continue;
      ref.kind = SegmentEntry::Kind::kSealed;
      ref.path = (*sealed)->path();
      ref.segment.reset();  // readers that hold it keep its mapping
      ref.sealed = *sealed;
    }
    // Readers get segments only from the set (under this lock) or from one
    // another, so no new holder can appear once this count is 1.
    read_elsewhere = raw.use_count() > 1;
  }
  done();
  std::string spare;  // the raw file's new name, if it is kept for the import
  {
    AdaptiveMutexLock l(&mu_);
    // A file a reader maps must keep its bytes until the reader lets go (a
    // removed file does); a spare is written over by the next segment.
    if (import_from_ != 0 && base >= import_from_ && spares_.size() < kMaxSpares &&
        raw->size() == options_.segment_size && !read_elsewhere) {
      spare = JoinPath(dir_, absl::StrCat("spare-", spare_names_++, ".seg.tmp"));
    }
  }
  if (!spare.empty() && fs_->Rename(raw_path, spare).ok()) {
    AdaptiveMutexLock l(&mu_);
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
  AdaptiveMutexLock l(&mu_);
  for (auto it = unsynced_.begin(); it != unsynced_.end(); ++it) {
    if (it->base != base) continue;
    rolled_unsynced_bytes_ -= std::min(rolled_unsynced_bytes_, it->bytes);
    unsynced_.erase(it);
    break;
  }
  return absl::OkStatus();
}

absl::Status LogImpl::SealBacklog(size_t keep) {
  if (options_.read_only || failed()) return absl::OkStatus();
  std::unique_ptr<BlockCodec> codec;
  {
    MutexLock l(&helper_codecs_mu_);
    if (!helper_codecs_.empty()) {
      codec = std::move(helper_codecs_.back());
      helper_codecs_.pop_back();
    }
  }
  if (codec == nullptr) codec = std::make_unique<BlockCodec>();
  absl::Status s = SealBacklogWith(keep, codec.get());
  MutexLock l(&helper_codecs_mu_);
  helper_codecs_.push_back(std::move(codec));
  return s;
}

absl::Status LogImpl::SealBacklogWith(size_t keep, BlockCodec* codec) {
  while (true) {
    std::vector<uint64_t> failed_bases;  // not tried again
    {
      MutexLock l(&seal_mu_);
      failed_bases = seal_failed_;
    }
    uint64_t oldest = 0;
    {
      SegmentSet::Locked set(&set_);
      const std::vector<SegmentEntry>& segments = set.entries();
      size_t waiting = 0;
      for (size_t i = 0; i + 1 < segments.size(); ++i) {
        const uint64_t b = segments[i].base;
        if (!segments[i].is_raw() || set.IsSealing(b) ||
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
      MutexLock l(&seal_mu_);
      seal_failed_.push_back(oldest);
      return s;
    }
  }
}

void LogImpl::RemoveSparesLocked() {
  for (const std::string& spare : spares_) fs_->Remove(spare).IgnoreError();
  spares_.clear();
}

absl::Status LogImpl::SealAll() {
  if (options_.read_only) return absl::FailedPreconditionError(dir_ + ": log is open read-only");
  if (failed()) return failed_status();
  {
    AdaptiveMutexLock l(&mu_);
    if (closed_) return absl::FailedPreconditionError(dir_ + ": log is closed");
    if (write_offset_ > kSegmentHeaderSize) {
      if (auto s = RollLocked(0); !s.ok()) return s;
    }
  }
  std::vector<uint64_t> bases;
  {
    SegmentSet::Locked set(&set_);
    const std::vector<SegmentEntry>& segments = set.entries();
    for (size_t i = 0; i + 1 < segments.size(); ++i) {
      if (segments[i].is_raw()) bases.push_back(segments[i].base);
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

}  // namespace tracelog
