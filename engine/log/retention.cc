// Retention: removes whole sealed segments, oldest first, by age and size,
// then the attachments of sessions with no event left.

#include "engine/log/log_impl.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "engine/format/attachment_format.h"
#include "engine/format/gap_format.h"
#include "engine/format/sealed_format.h"
#include "engine/io/atomic_file.h"
#include "engine/io/file_system.h"
#include "engine/log/checkpoint_file.h"
#include "engine/log/attachments.h"
#include "engine/segment/segment.h"
#include "engine/seal/sealed_segment.h"

namespace tracelog {

absl::StatusOr<RetainResult> LogImpl::Retain(const RetainOptions& options) {
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
    SegmentSet::Locked set(&set_);
    const std::vector<SegmentEntry>& segments = set.entries();
    for (size_t i = 0; i < segments.size(); ++i) {
      Entry e;
      if (segments[i].is_gap()) {
        e.gap_path = segments[i].path;
        e.bytes = kGapFileSize;
      } else if (segments[i].is_sealed()) {
        auto seg = set.Sealed(i);
        if (!seg.ok()) return seg.status();
        e.sealed = *seg;
        e.bytes = (*seg)->file_size();
        if (auto f = fs_->Open((*seg)->index_path(), OpenMode::kRead); f.ok()) {
          if (auto n = (*f)->Size(); n.ok()) e.bytes += *n;
        }
      } else if (i + 1 == segments.size()) {
        e.bytes = set_.published_offset();
      } else if (auto f = fs_->Open(segments[i].path, OpenMode::kRead); f.ok()) {
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
      SegmentSet::Locked(&set_).EraseFront();
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

absl::Status LogImpl::PruneAttachments(RetainResult* result) {
  auto names = fs_->ListDir(dir_);
  if (!names.ok()) return names.status();
  uint64_t import_from;
  {
    AdaptiveMutexLock l(&mu_);
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
  for (const SegmentSnapshot& seg : SnapshotSegments(nullptr)) {
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

}  // namespace tracelog
