#include "engine/log/recovery.h"

#include <algorithm>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/format/sealed_format.h"
#include "engine/io/atomic_file.h"
#include "engine/log/attachments.h"
#include "engine/log/checkpoint_file.h"
#include "engine/log/recovery_listing.h"
#include "engine/segment/segment.h"
#include "engine/seal/block_codec.h"
#include "engine/seal/sealed_segment.h"

namespace tracelog {

namespace {

// After damage in the active segment, how far recovery looks for the
// records that follow it (a torn tail is garbage up to the end: reading the
// rest of a preallocated segment at every crash would cost its page faults).
constexpr uint64_t kRecoverySearchWindow = 1 << 20;
// How many bytes a rewrite after a failed sync copies at a time.
constexpr uint64_t kRewriteChunk = 1 << 20;

class Recoverer {
 public:
  explicit Recoverer(const RecoveryInput& in) : in_(in), writable_(in.writable) {}

  absl::StatusOr<RecoveredLog> Run();

 private:
  RecoveryReport& report() { return out_.report; }
  std::vector<SegmentEntry>& entries() { return out_.segments; }
  std::string Path(const std::string& name) const { return JoinPath(in_.dir, name); }

  // Rules 0 and 1: the files that make up the log (ListLog).
  absl::Status ListFiles();
  absl::Status RemoveFile(const std::string& path);
  // Rule 2: where the scan starts.
  void ChooseStart();
  // Rule 3: scans from the start through the last segment.
  absl::Status Scan();
  absl::Status ScanRaw(size_t i, bool* erased_next);
  // After a failed sync in this boot: writes again and syncs every byte
  // after the durable position.
  absl::Status RewriteAfterFailedSync();
  // Rule 5: the next sequence (never below what may have been handed out).
  void DecideNext();
  uint64_t FallbackBound() const;
  // Rules 4 and 5 for a writer: makes the tail appendable and durable.
  absl::Status FinishTail();
  absl::Status WriteGap(uint64_t first, uint64_t end, GapReason reason);
  // Point 16: a reader that listed the directory before an import began
  // must not see any of it.
  absl::Status HideImportStartedMeanwhile();
  // A reader's view of the crash region's cuts (see SegmentEntry::records_limit).
  void ApplyCutsForReader();

  const RecoveryInput in_;
  const bool writable_;
  RecoveredLog out_;
  CheckpointState cp_;

  // ListFiles.
  uint64_t rolled_back_bound_ = 0;  // above every sequence a rolled-back import can have used
  std::optional<uint64_t> import_marker_;  // seen at listing (readers)
  // ChooseStart.
  size_t start_ = 0;
  uint64_t start_offset_ = kSegmentHeaderSize;
  uint64_t expected_ = 1;
  bool from_volatile_ = false;
  bool clean_ = false;
  size_t durable_index_ = 0;
  // Scan.
  absl::flat_hash_map<uint64_t, uint64_t> records_end_;  // raw base -> end of its records
  uint64_t end_ = kSegmentHeaderSize;  // end of the records of the last segment (raw)
  double last_ts_ = 0;
  bool tail_unknown_ = false;        // the last segment's end could not be read
  bool tail_header_damaged_ = false;  // the last raw segment's header is damaged
  bool torn_tail_ = false;
  // After a reboot that followed an unclean shutdown, what lies past the
  // durable position (the crash region) may have been lost in part: the
  // kernel wrote back some pages of it and not others. There the first hole
  // of each segment is where the crash cut it: its records end there, the
  // rest of its sequences are recorded as skipped (a gap file), and its
  // bytes after the hole are zeroed. Elsewhere a hole is damage.
  bool crash_region_ = false;
  bool sync_failed_ = false;  // the volatile slot says a sync failed in this boot
  uint64_t crash_from_base_ = 0;
  struct Cut {
    uint64_t base;    // of the segment
    uint64_t offset;  // where its records end
    uint64_t first;   // the first sequence lost
    uint64_t end;     // the next segment's base
  };
  std::vector<Cut> cuts_;
  // DecideNext.
  uint64_t found_next_ = 1;  // what the scan found
  uint64_t lost_to_ = 1;     // [found_next_, lost_to_): durable events lost
  uint64_t next_ = 1;        // where appends continue
};

absl::Status Recoverer::RemoveFile(const std::string& path) {
  return RemoveRecoveredFile(in_.fs, path, &report());
}

absl::Status Recoverer::ListFiles() {
  auto listing = ListLog(in_, &report());
  if (!listing.ok()) return listing.status();
  entries() = std::move(listing->entries);
  rolled_back_bound_ = listing->rolled_back_bound;
  import_marker_ = listing->import_marker;
  return absl::OkStatus();
}

void Recoverer::ChooseStart() {
  cp_ = ReadCheckpointState(in_.fs, in_.dir, in_.boot_hash);
  auto index_of = [&](const Checkpoint& cp) -> std::optional<size_t> {
    for (size_t i = 0; i < entries().size(); ++i) {
      if (entries()[i].base == cp.segment_base && entries()[i].kind != SegmentEntry::Kind::kGap &&
          cp.end_offset >= kSegmentHeaderSize && cp.next_sequence >= cp.segment_base) {
        return i;
      }
    }
    return std::nullopt;
  };
  expected_ = entries().front().base;
  // Of the durable slot and the volatile one (if this boot wrote it), the
  // one that points further.
  std::optional<Checkpoint> best;
  if (cp_.durable && index_of(*cp_.durable)) {
    best = cp_.durable;
    durable_index_ = *index_of(*cp_.durable);
  }
  // After a failed sync the page cache cannot be trusted past the durable
  // position (pages the kernel forgot may have been evicted since, and read
  // back as what the disk has): the scan starts there and checks every byte.
  sync_failed_ = cp_.same_boot && (cp_.volatile_slot->flags & kCheckpointFlagSyncFailed) != 0;
  if (cp_.same_boot && !sync_failed_ && index_of(*cp_.volatile_slot) &&
      (!best || cp_.volatile_slot->next_sequence > best->next_sequence)) {
    best = cp_.volatile_slot;
    from_volatile_ = true;
  }
  // Past the durable position, records may be missing as after a crash:
  // after a reboot without a clean close, and after a failed sync (its
  // forgotten pages may have been evicted and read back as the disk has
  // them, rolled segments' included). Missing there is skipped, not damage.
  crash_region_ = (!cp_.same_boot &&
                   !(cp_.durable && (cp_.durable->flags & kCheckpointFlagClean) != 0)) ||
                  sync_failed_;
  crash_from_base_ = cp_.durable ? cp_.durable->segment_base : 0;
  if (!best) return;
  start_ = *index_of(*best);
  start_offset_ = best->end_offset;
  expected_ = best->next_sequence;
  last_ts_ = best->last_timestamp;
  clean_ = (best->flags & kCheckpointFlagClean) != 0 && start_ + 1 == entries().size();
  report().used_checkpoint = true;
}

absl::Status Recoverer::Scan() {
  size_t i = start_;
  while (i < entries().size()) {
    SegmentEntry& e = entries()[i];
    const bool last = i + 1 == entries().size();
    const uint64_t next_base = last ? 0 : entries()[i + 1].base;
    if (i > start_ && e.base != expected_) {
      if (e.base > expected_) {
        report().damage.push_back(Corruption{
            e.path, 0, 0,
            absl::StrCat("sequences ", expected_, " to ", e.base - 1,
                         " are missing: no segment holds them")});
      }
      expected_ = e.base;
    }
    switch (e.kind) {
      case SegmentEntry::Kind::kGap:
        expected_ = e.gap_status.ok() ? std::max(e.gap.end, expected_) : next_base;
        if (last && !e.gap_status.ok()) tail_unknown_ = true;
        ++i;
        continue;
      case SegmentEntry::Kind::kSealed: {
        if (!last) {
          expected_ = next_base;
          ++i;
          continue;
        }
        auto opened = SealedSegment::Open(in_.fs, in_.dir, e.base, in_.dicts);
        if (!opened.ok() && !absl::IsDataLoss(opened.status())) return opened.status();
        if (opened.ok()) {
          e.sealed = *opened;
          expected_ = (*opened)->last_sequence() + 1;
        } else {
          report().damage.push_back(Corruption{e.path, 0, 0, std::string(opened.status().message())});
          tail_unknown_ = true;
        }
        ++i;
        continue;
      }
      case SegmentEntry::Kind::kRaw: {
        bool erased_next = false;
        if (auto s = ScanRaw(i, &erased_next); !s.ok()) return s;
        if (!erased_next) ++i;  // else scan it again: it may be the last one now
        continue;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Recoverer::ScanRaw(size_t i, bool* erased_next) {
  SegmentEntry& e = entries()[i];
  const bool last = i + 1 == entries().size();
  const uint64_t next_base = last ? 0 : entries()[i + 1].base;
  auto opened = Segment::Open(in_.fs, e.path, e.base, writable_);
  if (!opened.ok()) {
    if (!absl::IsDataLoss(opened.status())) return opened.status();  // change nothing
    report().damage.push_back(Corruption{e.path, 0, 0, std::string(opened.status().message())});
    if (last) tail_unknown_ = true;
    expected_ = last ? expected_ : next_base;
    return absl::OkStatus();
  }
  std::shared_ptr<Segment> seg = *opened;
  e.segment = seg;
  if (!seg->header_status().ok()) {
    report().damage.push_back(
        Corruption{e.path, 0, kSegmentHeaderSize, std::string(seg->header_status().message())});
    if (last) tail_header_damaged_ = true;
  }
  const uint64_t from = i == start_ ? start_offset_ : kSegmentHeaderSize;
  const uint64_t expected_at_from = i == start_ ? expected_ : e.base;
  const bool crash_cut = crash_region_ && e.base >= crash_from_base_;
  SegmentScanner::Bounds bounds;
  if (crash_cut) {
    bounds.last_sequence = next_base > e.base ? next_base - 1 : 0;
  } else if (last) {
    bounds.lookahead = kRecoveryLookahead;
    bounds.search_window = kRecoverySearchWindow;
  }
  std::vector<Corruption> found;
  SegmentScanner scanner(e.path, seg->contents(), from, seg->size(), expected_at_from,
                         crash_cut ? SegmentScanner::Mode::kStopAtDamage
                                   : SegmentScanner::Mode::kSkipDamage,
                         [&](const Corruption& c) { found.push_back(c); }, bounds);
  RecordView rec;
  double ts = last_ts_;
  bool any = false;
  while (scanner.Next(&rec)) {
    ts = rec.timestamp;
    any = true;
  }
  report().scanned_bytes += scanner.records_end() - std::min(from, scanner.records_end());
  records_end_[e.base] = scanner.records_end();
  const uint64_t seg_next = scanner.expected_sequence();  // after its last record
  if (!last && next_base != 0 && seg_next > next_base) {
    SegmentEntry& n = entries()[i + 1];
    RecordView first;
    bool next_empty = false;
    if (n.kind == SegmentEntry::Kind::kRaw) {
      auto next_seg = Segment::Open(in_.fs, n.path, n.base, false);
      if (!next_seg.ok() && !absl::IsDataLoss(next_seg.status())) return next_seg.status();
      next_empty = next_seg.ok() &&
                   (*next_seg)->Readable(kSegmentHeaderSize, kRecordHeaderSize) &&
                   DecodeRecord((*next_seg)->contents(), kSegmentHeaderSize, &first) ==
                       RecordStatus::kEndOfData;
    }
    if (next_empty) {
      // A segment created by a roll that then failed, before any event went
      // into it: not part of the log.
      if (writable_) {
        if (auto s = RemoveFile(n.path); !s.ok()) return s;
        if (auto s = in_.fs->SyncDir(in_.dir); !s.ok()) return s;
      }
      entries().erase(entries().begin() + i + 1);
      e.segment.reset();
      *erased_next = true;
      return absl::OkStatus();
    }
    report().damage.push_back(Corruption{
        e.path, kSegmentHeaderSize, scanner.records_end(),
        absl::StrCat("holds sequences up to ", seg_next - 1, ", past the base of the next segment (",
                     next_base, ")")});
  }
  if (crash_cut && scanner.stopped_at_damage()) {
    if (last) {
      torn_tail_ = true;
      report().truncation_reason = absl::StrCat(e.path, ": ", scanner.stop_reason());
    } else if (next_base > seg_next) {
      cuts_.push_back(Cut{e.base, scanner.records_end(), seg_next, next_base});
    } else {
      // Garbage after all of its sequences: zeroed, nothing lost.
      cuts_.push_back(Cut{e.base, scanner.records_end(), 0, 0});
    }
  }
  for (Corruption& c : found) {
    if (last && c.at_end) {
      // Garbage after the last record of the active segment, and no record
      // after it: a write the crash tore. Cut off, not damage (unless a
      // checkpoint vouches for what was there: DecideNext).
      torn_tail_ = true;
      report().truncation_reason = c.ToString();
      continue;
    }
    report().damage.push_back(std::move(c));
  }
  if (!last) {
    if (next_base != 0 && seg_next < next_base && !crash_cut) {
      report().damage.push_back(Corruption{
          e.path, scanner.records_end(), scanner.records_end(),
          absl::StrCat("the segment ends at sequence ", seg_next - 1, "; sequences ", seg_next,
                       " to ", next_base - 1, " are missing")});
    }
    expected_ = next_base;
  } else {
    expected_ = seg_next;
    end_ = scanner.records_end();
    if (any) last_ts_ = ts;
  }
  return absl::OkStatus();
}

absl::Status Recoverer::RewriteAfterFailedSync() {
  // Everything from the durable position on: its pages may be clean in the
  // page cache and absent from the disk. Written again through the file,
  // they are dirty again, and the sync below writes them.
  uint64_t from_base = entries().front().base, from_offset = kSegmentHeaderSize;
  if (cp_.durable) {
    from_base = cp_.durable->segment_base;
    from_offset = cp_.durable->end_offset;
  }
  std::string buf;
  for (SegmentEntry& e : entries()) {
    if (e.kind != SegmentEntry::Kind::kRaw || e.base < from_base) continue;
    if (e.segment == nullptr || !e.segment->writable()) {
      auto opened = Segment::Open(in_.fs, e.path, e.base, /*writable=*/true);
      if (!opened.ok()) {
        if (absl::IsDataLoss(opened.status())) continue;
        return opened.status();
      }
      e.segment = *opened;
    }
    Segment& seg = *e.segment;
    uint64_t end;
    if (auto it = records_end_.find(e.base); it != records_end_.end()) {
      end = it->second;
    } else {
      SegmentScanner scanner(e.path, seg.contents(), kSegmentHeaderSize, seg.size(), e.base,
                             SegmentScanner::Mode::kSkipDamage);
      RecordView rec;
      while (scanner.Next(&rec)) {
      }
      end = scanner.records_end();
    }
    const uint64_t begin = e.base == from_base ? from_offset : kSegmentHeaderSize;
    for (uint64_t at = begin; at < end; at += kRewriteChunk) {
      const uint64_t n = std::min(kRewriteChunk, end - at);
      buf.assign(seg.contents().data() + at, n);
      if (auto s = seg.file()->Write(at, buf); !s.ok()) return s;
    }
    if (end > begin) {
      if (auto s = seg.Sync(); !s.ok()) return s;
      report().rewritten_bytes += end - begin;
    }
  }
  return absl::OkStatus();
}

uint64_t Recoverer::FallbackBound() const {
  // No lease (a log written before format version 4, or a damaged
  // CHECKPOINT): above every sequence the last raw segment can hold, and
  // every one a rolled-back import can have used.
  uint64_t bound = std::max(found_next_, rolled_back_bound_);
  for (const SegmentEntry& e : out_.segments) {
    if (e.kind != SegmentEntry::Kind::kRaw || e.segment == nullptr) continue;
    const uint64_t cap = e.segment->size() > kSegmentHeaderSize ? e.segment->size() : 0;
    bound = std::max(bound, e.base + cap / kMinRecordSize + 1);
  }
  return bound;
}

void Recoverer::DecideNext() {
  found_next_ = expected_;
  next_ = lost_to_ = found_next_;
  // Sequences a checkpoint vouches for (durable; or in this boot's page
  // cache) that the scan did not find: damaged, lost. Not those of an
  // import rolled back (they were never part of the log), nor what the
  // page cache held past a failed sync (never durable: skipped below).
  uint64_t vouched = 0;
  if (cp_.durable) vouched = cp_.durable->next_sequence;
  if (cp_.same_boot && !sync_failed_) {
    vouched = std::max(vouched, cp_.volatile_slot->next_sequence);
  }
  if (report().rolled_back_import != 0) {
    vouched = std::min(vouched, report().rolled_back_import);
  }
  if (vouched > next_) next_ = lost_to_ = vouched;
  if (sync_failed_) next_ = std::max(next_, cp_.volatile_slot->next_sequence);
  if (torn_tail_ && lost_to_ > found_next_) {
    // What looked like a torn tail held those events.
    report().damage.push_back(Corruption{entries().back().path, end_, end_,
                                         report().truncation_reason});
    report().truncation_reason.clear();
  }
  // Events may have been handed out that no file shows now: after a reboot
  // that followed an unclean shutdown (unsynced appends are gone), or an
  // import rolled back. Continue above the lease: no number twice.
  const bool durable_clean = cp_.durable && (cp_.durable->flags & kCheckpointFlagClean) != 0 &&
                             cp_.durable->next_sequence == found_next_;
  const bool may_have_lost = report().rolled_back_import != 0 || tail_unknown_ || sync_failed_ ||
                             (!cp_.same_boot && !durable_clean);
  if (may_have_lost) {
    next_ = std::max(next_, cp_.lease ? cp_.lease->lease + 1 : FallbackBound());
  }
}

absl::Status Recoverer::WriteGap(uint64_t first, uint64_t end, GapReason reason) {
  GapRecord g;
  g.first = first;
  g.end = end;
  g.reason = reason;
  g.created_micros = absl::ToUnixMicros(absl::Now());
  char buf[kGapFileSize];
  EncodeGap(g, buf);
  const std::string path = Path(GapFileName(first));
  if (auto s = WriteFileAtomically(in_.fs, in_.dir, path, absl::string_view(buf, sizeof(buf)),
                                   /*sync_dir=*/false);
      !s.ok()) {
    return s;
  }
  SegmentEntry e;
  e.base = first;
  e.path = path;
  e.kind = SegmentEntry::Kind::kGap;
  e.gap = g;
  entries().push_back(std::move(e));
  report().gaps.push_back(g);
  return absl::OkStatus();
}

absl::Status Recoverer::FinishTail() {
  FileSystem* fs = in_.fs;
  if (from_volatile_) {
    // The volatile checkpoint vouched for segments that may never have been
    // synced: sync them before the durable slot moves past them.
    for (size_t j = durable_index_; j < start_; ++j) {
      SegmentEntry& e = entries()[j];
      if (e.kind != SegmentEntry::Kind::kRaw) continue;  // sealed and gap files are durable
      auto seg = Segment::Open(fs, e.path, e.base, /*writable=*/true);
      if (!seg.ok()) {
        if (absl::IsDataLoss(seg.status())) continue;
        return seg.status();
      }
      if (auto s = (*seg)->Sync(); !s.ok()) return s;
    }
  }
  // The crash region: each segment ends where the crash cut it.
  bool cut_gaps = false;
  for (const Cut& c : cuts_) {
    for (size_t j = 0; j < entries().size(); ++j) {
      SegmentEntry& e = entries()[j];
      if (e.base != c.base || e.segment == nullptr) continue;
      if (c.offset <= kSegmentHeaderSize) {
        // Nothing of it survived: the gap takes its place.
        e.segment.reset();
        if (auto s = RemoveFile(e.path); !s.ok()) return s;
        entries().erase(entries().begin() + j);
      } else if (auto s = e.segment->ZeroTail(c.offset); !s.ok()) {
        return s;
      }
      break;
    }
    if (c.end > c.first) {
      if (auto s = WriteGap(c.first, c.end, GapReason::kSkipped); !s.ok()) return s;
      cut_gaps = true;
    }
  }
  if (cut_gaps) {
    std::stable_sort(entries().begin(), entries().end(),
                     [](const SegmentEntry& a, const SegmentEntry& b) { return a.base < b.base; });
    if (auto s = fs->SyncDir(in_.dir); !s.ok()) return s;
  }
  // Every scanned raw segment but the last becomes durable before anything
  // is appended after it.
  for (size_t j = 0; j + 1 < entries().size(); ++j) {
    SegmentEntry& e = entries()[j];
    if (e.kind != SegmentEntry::Kind::kRaw || e.segment == nullptr) continue;
    if (e.segment->writable()) {
      if (auto s = e.segment->Sync(); !s.ok()) return s;
      e.segment->ReleaseFile();
    }
  }
  SegmentEntry& tail = entries().back();
  const bool raw_tail = tail.kind == SegmentEntry::Kind::kRaw && tail.segment != nullptr;
  const bool tail_has_records = raw_tail && end_ > kSegmentHeaderSize;
  const bool jump = next_ > found_next_;
  // A new active segment is needed to skip numbers, and rather than append
  // into a file whose header is damaged, or after a sealed segment or gap.
  const bool new_active = jump || !raw_tail || tail_header_damaged_;
  if (raw_tail) {
    const bool untouched = clean_ && report().truncation_reason.empty() &&
                           start_ + 1 == entries().size() && end_ == start_offset_;
    if (new_active && !tail_has_records) {
      // Nothing in it: it makes way for the gap or the new segment.
      if (auto s = RemoveFile(tail.path); !s.ok()) return s;
      if (auto s = fs->SyncDir(in_.dir); !s.ok()) return s;
      entries().pop_back();
    } else if (!untouched) {
      // No stale record can ever follow new ones (ZeroTail syncs).
      if (auto s = tail.segment->ZeroTail(end_); !s.ok()) return s;
    } else if (from_volatile_ || new_active) {
      if (auto s = tail.segment->Sync(); !s.ok()) return s;
    }
  }
  if (jump) {
    if (lost_to_ > found_next_) {
      if (auto s = WriteGap(found_next_, lost_to_, GapReason::kLost); !s.ok()) return s;
    }
    if (next_ > lost_to_) {
      if (auto s = WriteGap(lost_to_, next_, GapReason::kSkipped); !s.ok()) return s;
    }
    if (auto s = fs->SyncDir(in_.dir); !s.ok()) return s;
  }
  if (new_active) {
    if (!entries().empty() && entries().back().segment != nullptr) {
      entries().back().segment->ReleaseFile();  // rolled: synced by ZeroTail
    }
    auto seg = Segment::Create(fs, in_.dir, next_, in_.segment_size);
    if (!seg.ok()) return seg.status();
    SegmentEntry e;
    e.base = next_;
    e.path = (*seg)->path();
    e.segment = *seg;
    entries().push_back(std::move(e));
    end_ = kSegmentHeaderSize;
  }
  // Every file kept is an entry of the directory: one a writer created and
  // renamed into place but died before syncing the directory for must not
  // vanish in a power failure after appends went into it.
  return fs->SyncDir(in_.dir);
}

void Recoverer::ApplyCutsForReader() {
  // What the writer's next recovery will do (FinishTail), in this reader's
  // view only: the crash cut these segments, and their other sequences are
  // skipped, not damaged.
  for (const Cut& c : cuts_) {
    for (size_t j = 0; j < entries().size(); ++j) {
      if (entries()[j].base != c.base || !entries()[j].is_raw()) continue;
      if (c.offset <= kSegmentHeaderSize) {
        entries().erase(entries().begin() + j);
      } else {
        entries()[j].records_limit = c.offset;
      }
      break;
    }
    if (c.end > c.first) {
      SegmentEntry g;
      g.base = c.first;
      g.path = Path(GapFileName(c.first));
      g.kind = SegmentEntry::Kind::kGap;
      g.gap = GapRecord{c.first, c.end, GapReason::kSkipped, 0};
      entries().push_back(std::move(g));
    }
  }
  std::stable_sort(entries().begin(), entries().end(),
                   [](const SegmentEntry& a, const SegmentEntry& b) { return a.base < b.base; });
}

absl::Status Recoverer::HideImportStartedMeanwhile() {
  auto names = in_.fs->ListDir(in_.dir);
  if (!names.ok()) return names.status();
  auto marker = ImportInProgress(in_.fs, in_.dir, *names);
  if (!marker.ok()) return marker.status();
  if (!*marker || (import_marker_ && *import_marker_ == **marker)) return absl::OkStatus();
  // The marker is written before the import appends anything, and every
  // segment it appends to has a base at or above its first sequence.
  const uint64_t first = **marker;
  bool popped = false;
  while (!entries().empty() && entries().back().base >= first) {
    entries().pop_back();
    popped = true;
  }
  if (expected_ > first) expected_ = first;
  if (popped && !entries().empty() && entries().back().is_raw()) {
    // The reader's log now ends in the segment before the import's.
    SegmentEntry& e = entries().back();
    if (auto it = records_end_.find(e.base); it != records_end_.end()) {
      end_ = it->second;
    } else {
      auto seg = Segment::Open(in_.fs, e.path, e.base, /*writable=*/false);
      if (!seg.ok()) return seg.status();
      e.segment = *seg;
      SegmentScanner scanner(e.path, (*seg)->contents(), kSegmentHeaderSize, (*seg)->size(), e.base,
                             SegmentScanner::Mode::kSkipDamage);
      RecordView rec;
      while (scanner.Next(&rec)) {
      }
      end_ = scanner.records_end();
    }
    expected_ = std::min(expected_, first);
  }
  return absl::OkStatus();
}

absl::StatusOr<RecoveredLog> Recoverer::Run() {
  if (auto s = ListFiles(); !s.ok()) return s;
  if (entries().empty()) {
    cp_ = ReadCheckpointState(in_.fs, in_.dir, in_.boot_hash);
    if (!writable_) return std::move(out_);  // an empty log
    // A new log, or one whose only segments a rolled-back import removed.
    next_ = 1;
    if (report().rolled_back_import != 0) {
      next_ = cp_.lease ? cp_.lease->lease + 1 : std::max<uint64_t>(rolled_back_bound_, 1);
      if (next_ > 1) {
        if (auto s = WriteGap(1, next_, GapReason::kSkipped); !s.ok()) return s;
        if (auto s = in_.fs->SyncDir(in_.dir); !s.ok()) return s;
      }
    }
    // The lease before the first segment: a writer that dies between the
    // two leaves a segment whose log says no number was handed out. (A
    // segment without any lease is taken for a log written before format
    // version 4, whose next writer skips a segment's worth of numbers.)
    if (!cp_.lease && in_.checkpoint != nullptr) {
      SequenceLease lease;
      lease.lease = next_ - 1;
      if (auto s = in_.checkpoint->WriteLease(lease.lease, &lease.generation); !s.ok()) return s;
      cp_.lease = lease;
    }
    auto seg = Segment::Create(in_.fs, in_.dir, next_, in_.segment_size);
    if (!seg.ok()) return seg.status();
    SegmentEntry e;
    e.base = next_;
    e.path = (*seg)->path();
    e.segment = *seg;
    entries().push_back(std::move(e));
    report().clean_shutdown = true;
    end_ = kSegmentHeaderSize;
  } else {
    ChooseStart();
    if (auto s = Scan(); !s.ok()) return s;
    if (!writable_) {
      ApplyCutsForReader();
      if (auto s = HideImportStartedMeanwhile(); !s.ok()) return s;
    }
    DecideNext();
    if (writable_ && cp_.same_boot &&
        (cp_.volatile_slot->flags & kCheckpointFlagSyncFailed) != 0) {
      if (auto s = RewriteAfterFailedSync(); !s.ok()) return s;
    }
    if (writable_) {
      if (auto s = FinishTail(); !s.ok()) return s;
    }
    report().clean_shutdown = clean_;
  }
  report().truncated_at = end_;
  out_.lease = cp_.lease;
  out_.durable_slot_clean = cp_.durable && (cp_.durable->flags & kCheckpointFlagClean) != 0;
  out_.last_timestamp = last_ts_;
  out_.next_sequence = writable_ ? next_ : expected_;
  if (entries().empty()) return std::move(out_);
  SegmentEntry& tail = entries().back();
  if (tail.kind == SegmentEntry::Kind::kRaw && tail.segment != nullptr) {
    out_.active = tail.segment;
    out_.write_offset = end_;
    SegmentHeader h;
    if (DecodeSegmentHeader(tail.segment->contents(), &h).ok()) {
      out_.active_created_micros = h.created_micros;
    }
  }
  return std::move(out_);
}

}  // namespace

bool RecoveryReport::Notable() const {
  return !damage.empty() || !quarantined.empty() || !gaps.empty() || rewritten_bytes > 0 ||
         rolled_back_import != 0;
}

std::vector<std::string> RecoveryReport::Lines() const {
  std::vector<std::string> out;
  if (rolled_back_import != 0) {
    out.push_back(absl::StrCat("rolled back an unfinished import from sequence ",
                               rolled_back_import));
  }
  if (rewritten_bytes > 0) {
    out.push_back(absl::StrCat("a sync had failed: wrote ", rewritten_bytes,
                               " bytes again and synced them"));
  }
  for (const Corruption& c : damage) out.push_back(absl::StrCat("damage: ", c.ToString()));
  for (const std::string& q : quarantined) {
    out.push_back(absl::StrCat("set aside a damaged file as ", q, " (kept for forensics)"));
  }
  for (const GapRecord& g : gaps) {
    out.push_back(absl::StrCat("sequences ", g.first, " to ", g.end - 1, " ",
                               GapReasonName(g.reason)));
  }
  if (!truncation_reason.empty()) {
    out.push_back(absl::StrCat("cut off a torn write at the end: ", truncation_reason));
  }
  return out;
}

absl::StatusOr<GapRecord> ReadGapFile(FileSystem* fs, const std::string& path) {
  auto file = fs->Open(path, OpenMode::kRead);
  if (!file.ok()) return file.status();
  std::string buf;
  if (auto s = (*file)->Read(0, kGapFileSize + 1, &buf); !s.ok()) return s;
  GapRecord g;
  absl::Status s = buf.size() == kGapFileSize ? DecodeGap(buf, &g)
                                             : absl::DataLossError(absl::StrCat(
                                                   "gap file of ", buf.size(), " bytes, not ",
                                                   kGapFileSize));
  if (!s.ok()) return absl::DataLossError(absl::StrCat(path, ": ", s.message()));
  const std::string name = path.substr(path.rfind('/') + 1);
  if (ParseGapFileName(name) != g.first) {
    return absl::DataLossError(absl::StrCat(path, ": gap starts at ", g.first,
                                            " (offset 16), its name says otherwise"));
  }
  return g;
}

absl::StatusOr<RecoveredLog> RecoverLog(const RecoveryInput& in) {
  return Recoverer(in).Run();
}

}  // namespace tracelog
