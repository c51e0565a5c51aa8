// The segment list as readers and queries see it: segments opened lazily,
// a raw segment another process sealed meanwhile read in its sealed form,
// segments retention removed skipped.

#include "engine/log/log_impl.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/format/gap_format.h"
#include "engine/format/sealed_format.h"
#include "engine/io/file_system.h"
#include "engine/log/checkpoint_file.h"
#include "engine/log/log_reader.h"
#include "engine/segment/segment.h"
#include "engine/seal/sealed_segment.h"

namespace tracelog {

absl::Status LogImpl::LoadRefLocked(size_t index) {
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

bool LogImpl::RemovedByRetention(uint64_t base) {
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

absl::StatusOr<std::shared_ptr<Segment>> LogImpl::SegmentForReadLocked(size_t index) {
  if (auto s = LoadRefLocked(index); !s.ok()) return s;
  if (segments_[index].is_sealed()) {
    return absl::FailedPreconditionError(segments_[index].path + ": segment is sealed");
  }
  return segments_[index].segment;
}

absl::StatusOr<std::shared_ptr<SealedSegment>> LogImpl::SealedForReadLocked(size_t index) {
  if (auto s = LoadRefLocked(index); !s.ok()) return s;
  if (!segments_[index].is_sealed()) {
    return absl::FailedPreconditionError(segments_[index].path + ": segment is not sealed");
  }
  return segments_[index].sealed;
}

std::unique_ptr<LogReader> LogImpl::NewReader(const ReaderOptions& options) {
  std::lock_guard<std::mutex> l(segments_mu_);
  return std::unique_ptr<LogReader>(
      new LogReaderImpl(this, options, removed_front_ + segments_.size(), published_seq_.load(),
                    published_offset_.load(std::memory_order_acquire)));
}

std::vector<SegmentSnapshot> LogImpl::SnapshotSegments(const CorruptionReporter& reporter) {
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

}  // namespace tracelog
