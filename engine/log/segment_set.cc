// SegmentSet (segment_set.h).

#include "engine/log/segment_set.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "engine/format/gap_format.h"
#include "engine/format/sealed_format.h"
#include "engine/io/file_system.h"
#include "engine/log/log_reader.h"
#include "engine/segment/segment.h"
#include "engine/seal/sealed_segment.h"

namespace tracelog {

SegmentSet::SegmentSet(FileSystem* fs, std::string dir, DictionaryStore* dicts)
    : fs_(fs), dir_(std::move(dir)), dicts_(dicts) {}

absl::Status SegmentSet::Locked::Load(size_t index) {
  SegmentEntry& ref = set_->entries_[index];
  FileSystem* const fs = set_->fs_;
  const std::string& dir = set_->dir_;
  DictionaryStore* const dicts = set_->dicts_;
  if (ref.is_gap()) return ref.gap_status;
  if (!ref.is_sealed()) {
    if (ref.segment != nullptr) return absl::OkStatus();
    auto seg = Segment::Open(fs, ref.path, ref.base, /*writable=*/false);
    if (seg.ok()) {
      ref.segment = *seg;
      return absl::OkStatus();
    }
    // Another process (the writer) may have sealed it since we listed the
    // directory: read the sealed form instead.
    if (!absl::IsNotFound(seg.status())) return seg.status();
    auto sealed = SealedSegment::Open(fs, dir, ref.base, dicts);
    if (absl::IsNotFound(sealed.status()) && set_->RemovedByRetention(ref.base)) {
      return absl::OutOfRangeError(ref.path + ": removed by retention since this log was opened");
    }
    if (!sealed.ok()) return seg.status();
    ref.kind = SegmentEntry::Kind::kSealed;
    ref.path = (*sealed)->path();
    ref.sealed = *sealed;
    return absl::OkStatus();
  }
  if (ref.sealed != nullptr) return absl::OkStatus();
  auto seg = SealedSegment::Open(fs, dir, ref.base, dicts);
  if (absl::IsNotFound(seg.status()) && set_->RemovedByRetention(ref.base)) {
    return absl::OutOfRangeError(ref.path + ": removed by retention since this log was opened");
  }
  if (!seg.ok()) return seg.status();
  ref.sealed = *seg;
  return absl::OkStatus();
}

bool SegmentSet::RemovedByRetention(uint64_t base) {
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

absl::StatusOr<std::shared_ptr<Segment>> SegmentSet::Locked::Raw(size_t index) {
  if (auto s = Load(index); !s.ok()) return s;
  const SegmentEntry& ref = set_->entries_[index];
  if (ref.is_sealed()) return absl::FailedPreconditionError(ref.path + ": segment is sealed");
  return ref.segment;
}

absl::StatusOr<std::shared_ptr<SealedSegment>> SegmentSet::Locked::Sealed(size_t index) {
  if (auto s = Load(index); !s.ok()) return s;
  const SegmentEntry& ref = set_->entries_[index];
  if (!ref.is_sealed()) return absl::FailedPreconditionError(ref.path + ": segment is not sealed");
  return ref.sealed;
}

void SegmentSet::Locked::EraseFront() {
  set_->entries_.erase(set_->entries_.begin());
  ++set_->removed_front_;
}

bool SegmentSet::Locked::IsSealing(uint64_t base) const {
  return std::find(set_->sealing_.begin(), set_->sealing_.end(), base) != set_->sealing_.end();
}

void SegmentSet::Locked::WaitUntilNotSealing(uint64_t base) {
  set_->mu_.Wait(&set_->sealing_done_, [&] { return !IsSealing(base); });
}

void SegmentSet::EndSealing(uint64_t base) {
  {
    MutexLock l(&mu_);
    sealing_.erase(std::find(sealing_.begin(), sealing_.end(), base));
  }
  sealing_done_.notify_all();
}

std::unique_ptr<LogReader> SegmentSet::NewReader(const ReaderOptions& options) {
  MutexLock l(&mu_);
  return std::make_unique<LogReaderImpl>(this, options, removed_front_ + entries_.size(),
                                         published_seq(), published_offset());
}

std::vector<SegmentSnapshot> SegmentSet::Snapshot(const CorruptionReporter& reporter) {
  std::vector<SegmentSnapshot> out;
  Locked set(this);
  const uint64_t last_seq = published_seq();
  const uint64_t active_limit = published_offset();
  for (size_t i = 0; i < entries_.size(); ++i) {
    SegmentEntry& ref = entries_[i];
    const bool last = i + 1 == entries_.size();
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
    const absl::Status st = set.Load(i);
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
      snap.end_sequence = last ? 0 : entries_[i + 1].base - 1;
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
