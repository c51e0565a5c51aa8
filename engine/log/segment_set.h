#ifndef TRACELOG_ENGINE_LOG_SEGMENT_SET_H_
#define TRACELOG_ENGINE_LOG_SEGMENT_SET_H_

// The segments of one log in sequence order (raw, sealed and gaps), as the
// writer, readers, queries, the sealer, retention and stats see them.
//
// The list is read and changed only through a Locked handle, which holds the
// set's mutex for its lifetime. Segments are opened lazily, by whoever needs
// them first; a raw segment that another process sealed meanwhile is read in
// its sealed form; one that another process's retention removed is reported
// as gone (OutOfRangeError), not as damage.
//
// Segments have logical numbers that stay valid while retention erases from
// the front (it counts the erased ones), so a reader made before a
// retention keeps its place.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/log/log.h"
#include "engine/log/recovery.h"
#include "engine/port/mutex.h"

namespace tracelog {

class DictionaryStore;
class FileSystem;
class SealedSegment;
class Segment;

class SegmentSet {
 public:
  // `dicts` (the log's dictionaries) must outlive the set.
  SegmentSet(FileSystem* fs, std::string dir, DictionaryStore* dicts);
  SegmentSet(const SegmentSet&) = delete;
  SegmentSet& operator=(const SegmentSet&) = delete;

  // The set, locked: holds the set's mutex from construction to
  // destruction. (Its methods use the set's guarded members under that
  // lock, which the thread-safety analysis cannot follow into them.)
  class ABSL_SCOPED_LOCKABLE Locked {
   public:
    explicit Locked(SegmentSet* set) ABSL_EXCLUSIVE_LOCK_FUNCTION(set->mu_) : set_(set) {
      set_->mu_.lock();
    }
    ~Locked() ABSL_UNLOCK_FUNCTION() { set_->mu_.unlock(); }
    Locked(const Locked&) = delete;
    Locked& operator=(const Locked&) = delete;

    std::vector<SegmentEntry>& entries() ABSL_NO_THREAD_SAFETY_ANALYSIS { return set_->entries_; }
    // Index in entries() of the segment with logical number `n`, or -1 if
    // retention removed it.
    ptrdiff_t Physical(size_t n) const ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return n < set_->removed_front_ ? -1 : static_cast<ptrdiff_t>(n - set_->removed_front_);
    }
    // Opens entries()[index] for reading if not yet. OutOfRangeError when
    // another process's retention removed it; a gap's damage for a damaged
    // gap; the open's error otherwise.
    absl::Status Load(size_t index) ABSL_NO_THREAD_SAFETY_ANALYSIS;
    // entries()[index], loaded; FailedPreconditionError if it is of the
    // other kind.
    absl::StatusOr<std::shared_ptr<Segment>> Raw(size_t index) ABSL_NO_THREAD_SAFETY_ANALYSIS;
    absl::StatusOr<std::shared_ptr<SealedSegment>> Sealed(size_t index)
        ABSL_NO_THREAD_SAFETY_ANALYSIS;
    // Retention removed the first segment.
    void EraseFront() ABSL_NO_THREAD_SAFETY_ANALYSIS;

    // Sealing: the bases being sealed, so that two threads never seal one
    // segment at once.
    bool IsSealing(uint64_t base) const ABSL_NO_THREAD_SAFETY_ANALYSIS;
    void BeginSealing(uint64_t base) ABSL_NO_THREAD_SAFETY_ANALYSIS {
      set_->sealing_.push_back(base);
    }
    // Waits (releasing the lock meanwhile) until no thread seals `base`.
    void WaitUntilNotSealing(uint64_t base) ABSL_NO_THREAD_SAFETY_ANALYSIS;

   private:
    SegmentSet* const set_;
  };

  // The sealing of `base` ended (well or not): wakes the waiters.
  void EndSealing(uint64_t base);

  // What readers may read of the active (last) segment: its readable end
  // and the last readable sequence. The writer publishes them after each
  // append batch; a reader takes them with the list, under the lock, so the
  // two agree.
  void Publish(uint64_t offset, uint64_t sequence) {
    published_offset_.store(offset, std::memory_order_release);
    published_seq_.store(sequence, std::memory_order_release);
  }
  // At a roll (REQUIRES: the Locked handle of the caller is held).
  void PublishOffset(uint64_t offset) { published_offset_.store(offset, std::memory_order_release); }
  uint64_t published_offset() const { return published_offset_.load(std::memory_order_acquire); }
  uint64_t published_seq() const { return published_seq_.load(std::memory_order_acquire); }

  // A reader over the segments present now (Log::NewReader).
  std::unique_ptr<LogReader> NewReader(const ReaderOptions& options);
  // The segments present now (Log::SnapshotSegments).
  std::vector<SegmentSnapshot> Snapshot(const CorruptionReporter& reporter);

 private:
  // Whether the segment of `base`, whose file is gone, was removed by
  // retention (a later segment is the first now): readers skip it quietly.
  bool RemovedByRetention(uint64_t base);

  FileSystem* const fs_;
  const std::string dir_;
  DictionaryStore* const dicts_;

  Mutex mu_;
  std::vector<SegmentEntry> entries_ ABSL_GUARDED_BY(mu_);
  size_t removed_front_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint64_t> sealing_ ABSL_GUARDED_BY(mu_);
  std::condition_variable sealing_done_;

  alignas(64) std::atomic<uint64_t> published_offset_{0};
  std::atomic<uint64_t> published_seq_{0};
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_LOG_SEGMENT_SET_H_
