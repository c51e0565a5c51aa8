// LogReaderImpl: every event of a log in sequence order (log_reader.h).

#include <algorithm>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "engine/format/gap_format.h"
#include "engine/format/event_keys.h"
#include "engine/log/log_reader.h"
#include "engine/log/segment_set.h"
#include "engine/segment/segment.h"
#include "engine/seal/block_codec.h"
#include "engine/seal/sealed_segment.h"

namespace tracelog {

// A sealed segment decompressed, with the damage met on the way (reported
// by the reader's thread when it takes the segment, in order).
struct LogReaderImpl::Decoded {
  std::shared_ptr<SealedSegment> sealed;  // which segment it is
  std::vector<std::unique_ptr<std::string>> storage;
  std::vector<BlockEvent> events;
  std::vector<Corruption> damage;
  uint64_t corruptions = 0;
};

std::unique_ptr<LogReaderImpl::Decoded> LogReaderImpl::Decode(std::shared_ptr<SealedSegment> sealed,
                                                      BlockCodec* codec) {
  auto d = std::make_unique<Decoded>();
  d->sealed = std::move(sealed);
  d->corruptions = d->sealed->ReadAll(codec, &d->storage, &d->events,
                                      [&](const Corruption& c) { d->damage.push_back(c); });
  // Everything is decompressed: the file's pages need not stay resident
  // (a reader through a whole log would otherwise hold every segment).
  d->sealed->ReleaseResident();
  return d;
}

LogReaderImpl::LogReaderImpl(SegmentSet* set, ReaderOptions options, size_t segment_end, uint64_t last_seq,
                     uint64_t active_limit)
    : set_(set),
      options_(std::move(options)),
      segment_end_(segment_end),
      last_seq_(last_seq),
      active_limit_(active_limit) {}

LogReaderImpl::~LogReaderImpl() {
  if (ahead_.valid()) ahead_.wait();  // it uses ahead_codec_
}

void LogReaderImpl::Report(const absl::Status& s, const std::string& path) {
  if (status_.ok()) status_ = s;
  ++corruptions_;
  if (options_.reporter) options_.reporter(Corruption{path, 0, 0, std::string(s.message())});
}

void LogReaderImpl::StartReadAhead(size_t index) {
  if (!options_.read_ahead || index >= segment_end_) return;
  std::shared_ptr<SealedSegment> sealed;
  {
    SegmentSet::Locked set(set_);
    const ptrdiff_t p = set.Physical(index);
    if (p < 0 || static_cast<size_t>(p) >= set.entries().size()) return;
    // A segment that cannot be opened is left to OpenSegment, which reports it.
    if (!set.Load(p).ok() || !set.entries()[p].is_sealed()) return;
    sealed = set.entries()[p].sealed;
  }
  if (ahead_codec_ == nullptr) ahead_codec_ = std::make_unique<BlockCodec>();
  try {
    ahead_ =
        std::async(std::launch::async, &LogReaderImpl::Decode, std::move(sealed), ahead_codec_.get());
  } catch (const std::system_error&) {
    return;  // no thread to be had: OpenSegment decompresses it when it gets there
  }
  ++decoded_ahead_;
}

void LogReaderImpl::ReportMissing(uint64_t base, const std::string& path) {
  // Sequences between the end of the previous segment and this one that no
  // file holds (a segment lost, or never there).
  if (next_expected_ != 0 && base > next_expected_ && base > options_.from_sequence) {
    ++corruptions_;
    if (options_.reporter) {
      options_.reporter(Corruption{path, 0, 0,
                                   absl::StrCat("sequences ", next_expected_, " to ", base - 1,
                                                " are missing: no segment holds them")});
    }
  }
}

LogReaderImpl::Taken LogReaderImpl::Take() {
  Taken t;
  SegmentSet::Locked set(set_);
  const std::vector<SegmentEntry>& segments = set.entries();
  const ptrdiff_t p = set.Physical(index_);
  t.last = index_ + 1 == segment_end_;
  if (p < 0 || static_cast<size_t>(p) >= segments.size()) {
    t.skip = true;  // removed by retention after this reader was created
    return t;
  }
  const SegmentEntry& ref = segments[p];
  t.base = ref.base;
  t.path = ref.path;
  t.records_limit = ref.records_limit;
  // Skip whole segments that end before from_sequence.
  const size_t next = static_cast<size_t>(p) + 1;
  if (index_ + 1 < segment_end_ && next < segments.size()) {
    t.end_sequence = segments[next].base - 1;
    if (segments[next].base <= options_.from_sequence) t.skip = true;
  }
  if (t.skip) return t;
  if (ref.is_gap()) {
    t.gap = true;
    t.status = ref.gap_status;
    t.gap_record = ref.gap;
    return t;
  }
  t.status = set.Load(p);
  if (t.status.ok() && segments[p].is_sealed()) {
    t.sealed = segments[p].sealed;
  } else if (t.status.ok()) {
    t.raw = segments[p].segment;
  }
  return t;
}

bool LogReaderImpl::OpenSegment() {
  while (index_ < segment_end_) {
    Taken t = Take();
    absl::Status& st = t.status;
    const bool skip = t.skip, last = t.last, gap = t.gap;
    const GapRecord& gap_record = t.gap_record;
    const uint64_t base = t.base, end_sequence = t.end_sequence, records_limit = t.records_limit;
    const std::string& path = t.path;
    const std::shared_ptr<Segment>& raw = t.raw;
    const std::shared_ptr<SealedSegment>& sealed = t.sealed;
    if (skip || absl::IsOutOfRange(st)) {  // (another process's retention removed it)
      next_expected_ = 0;
      ++index_;
      continue;
    }
    ReportMissing(base, path);
    if (gap) {
      ++index_;
      if (!st.ok()) {
        Report(st, path);
        next_expected_ = end_sequence + 1;
        continue;
      }
      next_expected_ = gap_record.end;
      if (gap_record.end <= options_.from_sequence) continue;
      if (gap_record.reason == GapReason::kLost) {
        ++corruptions_;
        if (options_.reporter) {
          options_.reporter(Corruption{path, 0, 0,
                                       absl::StrCat("sequences ", gap_record.first, " to ",
                                                    gap_record.end - 1, " ",
                                                    GapReasonName(gap_record.reason))});
        }
      } else if (options_.gap_reporter) {
        options_.gap_reporter(gap_record);
      }
      continue;
    }
    if (!st.ok()) {
      Report(st, path);
      next_expected_ = end_sequence == 0 ? 0 : end_sequence + 1;
      ++index_;
      continue;
    }
    if (sealed != nullptr) {
      std::unique_ptr<Decoded> d;
      if (ahead_.valid()) {
        d = ahead_.get();
        if (d->sealed != sealed) d.reset();  // not this segment
      }
      if (d == nullptr) {
        if (codec_ == nullptr) codec_ = std::make_unique<BlockCodec>();
        d = Decode(sealed, codec_.get());
      }
      StartReadAhead(index_ + 1);  // while this one is read
      if (options_.reporter) {
        for (const Corruption& c : d->damage) options_.reporter(c);
      }
      corruptions_ += d->corruptions;
      sealed_storage_ = std::move(d->storage);
      sealed_events_ = std::move(d->events);
      sealed_pos_ =
          std::lower_bound(sealed_events_.begin(), sealed_events_.end(), options_.from_sequence,
                           [](const BlockEvent& e, uint64_t s) { return e.sequence < s; }) -
          sealed_events_.begin();
      next_expected_ = sealed->last_sequence() + 1;
      in_sealed_ = true;
      return true;
    }
    segment_ = raw;
    if (!segment_->header_status().ok()) {
      // Its records carry their own checksums: they are read all the same.
      ++corruptions_;
      if (options_.reporter) {
        options_.reporter(Corruption{segment_->path(), 0, kSegmentHeaderSize,
                                     std::string(segment_->header_status().message())});
      }
    }
    SegmentScanner::Bounds bounds;
    bounds.last_sequence = last || records_limit != 0 ? 0 : end_sequence;
    scan_end_sequence_ = bounds.last_sequence;
    uint64_t limit = segment_->size();
    if (last) {
      limit = std::min(active_limit_, segment_->size());
      bounds.limit_is_data_end = true;
    } else if (records_limit != 0) {
      // Cut by a crash no writer has recovered from yet (see SegmentEntry).
      limit = std::min(records_limit, segment_->size());
      bounds.limit_is_data_end = true;
    }
    scanner_ = std::make_unique<SegmentScanner>(
        segment_->path(), segment_->contents(), kSegmentHeaderSize, limit, segment_->base(),
        SegmentScanner::Mode::kSkipDamage, options_.reporter, bounds);
    return true;
  }
  return false;
}

bool LogReaderImpl::Next(LogEvent* ev) {
  while (true) {
    if (in_sealed_) {
      if (sealed_pos_ < sealed_events_.size()) {
        const BlockEvent& e = sealed_events_[sealed_pos_++];
        if (e.sequence > last_seq_) return false;
        ev->sequence = e.sequence;
        ev->event = e.event;
        ev->keys = EventKeys();
        if (options_.want_keys) {
          if (extractor_ == nullptr) extractor_ = std::make_unique<EventKeyExtractor>();
          // Views into blocks read by ReadBlock: parsable in place.
          extractor_->Extract(e.event, &ev->keys, /*validate=*/false, kExtractPadding)
              .IgnoreError();
        }
        ev->timestamp = ev->keys.timestamp;
        ev->flags =
            (ev->keys.error ? kFlagError : 0) | (ev->keys.has_timestamp ? kFlagHasTimestamp : 0);
        return true;
      }
      in_sealed_ = false;
      sealed_events_.clear();
      sealed_storage_.clear();
      ++index_;
      continue;
    }
    if (scanner_ == nullptr) {
      if (!OpenSegment()) return false;
      if (in_sealed_) continue;
    }
    RecordView rec;
    if (scanner_->Next(&rec)) {
      if (rec.sequence < options_.from_sequence) continue;
      if (rec.sequence > last_seq_) return false;
      ev->sequence = rec.sequence;
      ev->timestamp = rec.timestamp;
      ev->flags = rec.flags;
      ev->event = rec.event;
      ev->keys = EventKeys();
      DecodeKeys(rec.keys, &ev->keys);
      ev->keys.timestamp = rec.timestamp;
      ev->keys.has_timestamp = (rec.flags & kFlagHasTimestamp) != 0;
      ev->keys.error = (rec.flags & kFlagError) != 0;
      return true;
    }
    corruptions_ += scanner_->corruptions();
    // A short segment was reported by the scanner (it knew where it ends).
    next_expected_ = std::max(scanner_->expected_sequence(), scan_end_sequence_ + 1);
    scanner_.reset();
    held_.push_back(std::move(segment_));  // views returned earlier stay valid
    ++index_;
  }
}

}  // namespace tracelog
