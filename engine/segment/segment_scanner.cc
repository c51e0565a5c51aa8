#include "engine/segment/segment_scanner.h"

#include <algorithm>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "engine/format/coding.h"
#include "engine/io/mapped_read_guard.h"

namespace tracelog {

std::string Corruption::ToString() const {
  return absl::StrCat(file, ": damaged bytes [", begin, ", ", end, "): ", reason);
}

SegmentScanner::SegmentScanner(absl::string_view file, absl::string_view data, uint64_t offset,
                               uint64_t limit, uint64_t expected_sequence, Mode mode,
                               CorruptionReporter reporter, Bounds bounds)
    : file_(file),
      data_(data.substr(0, std::min<uint64_t>(limit, data.size()))),
      bounds_(bounds),
      offset_(offset),
      expected_(expected_sequence),
      records_end_(offset),
      mode_(mode),
      reporter_(std::move(reporter)),
      readable_to_(std::min<uint64_t>(offset, data_.size())) {}

namespace {
uint64_t PageSize() {
  static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  return page;
}
}  // namespace

bool SegmentScanner::Readable(uint64_t to) {
  to = std::min<uint64_t>(to, data_.size());
  if (to <= readable_to_) return true;
  const uint64_t from = readable_to_;
  const uint64_t probe_to = std::min<uint64_t>(data_.size(), std::max(to, from + kProbeStep));
  const size_t good = FirstUnreadable(data_.data() + from, probe_to - from);
  if (good == probe_to - from) {
    readable_to_ = probe_to;
    return true;
  }
  readable_to_ = from + good;
  unreadable_at_ = readable_to_;
  return to <= readable_to_;
}

bool SegmentScanner::RecordReadable(uint64_t off) {
  if (!Readable(off + kRecordHeaderSize)) return false;
  if (data_.size() - std::min<uint64_t>(off, data_.size()) < kRecordHeaderSize) return true;
  const char* h = data_.data() + off;
  if (DecodeFixed32(h + 8) != kRecordMagic) return true;
  // As far as the (not yet checked) lengths say, within the data.
  return Readable(off + RecordSize(DecodeFixed32(h + 16), DecodeFixed32(h + 20)));
}

void SegmentScanner::UnreadablePage() {
  const uint64_t page = PageSize();
  const uint64_t begin = unreadable_at_;
  const uint64_t end = std::min<uint64_t>(data_.size(), (begin / page + 1) * page);
  const std::string why = absl::StrCat(
      "the page cannot be read (an I/O error, or the file is shorter than its mapping)");
  if (mode_ == Mode::kStopAtDamage) {
    done_ = true;
    stop_status_ = RecordStatus::kTruncated;
    stop_reason_ = absl::StrCat(why, " at offset ", begin);
    stopped_at_damage_ = true;
    return;
  }
  ++corruptions_;
  if (reporter_) reporter_(Corruption{file_, begin, end, why});
  // Go on after the page: a record that starts there, or the next one.
  readable_to_ = std::max(readable_to_, end);
  RecordView rec;
  const int64_t at = FindRecord(end, data_.size(), std::max<uint64_t>(expected_, 1),
                                bounds_.last_sequence, &rec);
  if (at < 0) {
    offset_ = data_.size();
    done_ = true;
    stop_status_ = RecordStatus::kEndOfData;
    return;
  }
  offset_ = static_cast<uint64_t>(at);
  expected_ = rec.sequence;
}

int64_t SegmentScanner::FindRecord(uint64_t from, uint64_t to, uint64_t min_sequence,
                                   uint64_t max_sequence, RecordView* rec) {
  to = std::min<uint64_t>(to, data_.size());
  for (uint64_t off = AlignRecord(from); off + kRecordHeaderSize <= to; off += kRecordAlignment) {
    if (!RecordReadable(off)) {
      if (unreadable_at_ >= off + kRecordHeaderSize) continue;  // the record's body
      // Step over the unreadable page (reported by the caller if it matters).
      const uint64_t page = PageSize();
      const uint64_t next = (unreadable_at_ / page + 1) * page;
      readable_to_ = std::max(readable_to_, next);
      off = AlignRecord(next) - kRecordAlignment;
      continue;
    }
    // Most candidates are zeros or the middle of an event: the magic word
    // rules them out before any checksum is computed.
    if (data_[off + 8] != 'T' || DecodeRecord(data_, off, rec) != RecordStatus::kOk) continue;
    if (rec->sequence < min_sequence) continue;
    if (max_sequence != 0 && rec->sequence > max_sequence) continue;
    return static_cast<int64_t>(off);
  }
  return -1;
}

std::string SegmentScanner::Missing() const {
  if (bounds_.last_sequence == 0 || expected_ == 0 || expected_ > bounds_.last_sequence) return "";
  return absl::StrCat("sequences ", expected_, " to ", bounds_.last_sequence,
                      " are missing (the next segment starts at ", bounds_.last_sequence + 1, ")");
}

bool SegmentScanner::Next(RecordView* rec) {
  while (!done_) {
    if (!RecordReadable(offset_)) {
      UnreadablePage();
      continue;
    }
    const RecordStatus st = DecodeRecord(data_, offset_, rec);
    if (st == RecordStatus::kEndOfData) {
      const bool short_of_last = bounds_.last_sequence != 0 && expected_ != 0 &&
                                 expected_ <= bounds_.last_sequence;
      const bool before_limit = bounds_.limit_is_data_end && offset_ < data_.size();
      if (short_of_last || before_limit) {
        Damage(st, "zeros where a record should be", rec);
        continue;
      }
      if (bounds_.lookahead > 0 && mode_ == Mode::kSkipDamage) {
        // A zeroed page at a record boundary looks like the end of the data:
        // look a little further for the records after it.
        RecordView found;
        const int64_t at = FindRecord(offset_ + kRecordAlignment, offset_ + bounds_.lookahead,
                                      std::max<uint64_t>(expected_, 1), 0, &found);
        if (at >= 0) {
          ++corruptions_;
          if (reporter_) {
            reporter_(Corruption{file_, offset_, static_cast<uint64_t>(at),
                                 absl::StrCat("zeros where a record should be; skipped to sequence ",
                                              found.sequence)});
          }
          offset_ = static_cast<uint64_t>(at);
          expected_ = found.sequence;
          continue;
        }
      }
      done_ = true;
      stop_status_ = st;
      return false;
    }
    std::string reason;
    if (st != RecordStatus::kOk) {
      reason = RecordStatusName(st);
    } else if (expected_ != 0 && rec->sequence != expected_) {
      reason = absl::StrCat("sequence ", rec->sequence, " where ", expected_, " was expected");
    } else if (bounds_.last_sequence != 0 && rec->sequence > bounds_.last_sequence) {
      reason = absl::StrCat("sequence ", rec->sequence, " is past the segment's last, ",
                            bounds_.last_sequence);
    }
    if (reason.empty()) {
      offset_ += rec->size;
      records_end_ = offset_;
      expected_ = rec->sequence + 1;
      if (rec->type != kRecordTypeEvent) continue;  // skippable unknown type
      return true;
    }
    Damage(st, reason, rec);
  }
  return false;
}

void SegmentScanner::Damage(RecordStatus status, const std::string& reason, RecordView* rec) {
  if (mode_ == Mode::kStopAtDamage) {
    done_ = true;
    stop_status_ = status == RecordStatus::kOk || status == RecordStatus::kEndOfData
                       ? RecordStatus::kBadHeaderChecksum
                       : status;
    stop_reason_ = absl::StrCat(reason, " at offset ", offset_);
    if (std::string m = Missing(); !m.empty()) absl::StrAppend(&stop_reason_, "; ", m);
    stopped_at_damage_ = true;
    return;
  }
  ++corruptions_;
  const uint64_t begin = offset_;
  const uint64_t min_seq = std::max<uint64_t>(expected_, 1);
  int64_t at = -1;
  if (status == RecordStatus::kBadEventChecksum && rec->size > 0) {
    // The header (checksummed) is intact: the record's length can be
    // trusted, and the next record is where it says.
    const uint64_t next = begin + rec->size;
    at = FindRecord(next, next + kRecordHeaderSize, min_seq, bounds_.last_sequence, rec);
  }
  if (at < 0) {
    const uint64_t to = bounds_.search_window == 0 ? data_.size() : begin + bounds_.search_window;
    at = FindRecord(begin + 1, to, min_seq, bounds_.last_sequence, rec);
  }
  if (at >= 0) {
    if (reporter_) {
      std::string why = absl::StrCat(reason, "; skipped to sequence ", rec->sequence);
      if (expected_ != 0 && rec->sequence > expected_) {
        absl::StrAppend(&why, " (", rec->sequence - expected_, " missing)");
      }
      reporter_(Corruption{file_, begin, static_cast<uint64_t>(at), std::move(why)});
    }
    offset_ = static_cast<uint64_t>(at);  // decoded again by Next()
    expected_ = rec->sequence;
    return;
  }
  // No valid record after the damage: report up to the last non-zero byte.
  uint64_t end = data_.size();
  while (end > begin && data_[end - 1] == 0) --end;
  if (reporter_) {
    std::string why = absl::StrCat(reason, "; no valid record follows");
    if (std::string m = Missing(); !m.empty()) absl::StrAppend(&why, "; ", m);
    Corruption c{file_, begin, std::max(end, begin + 1), std::move(why)};
    c.at_end = true;
    reporter_(c);
  }
  offset_ = data_.size();
  done_ = true;
  stop_status_ = RecordStatus::kEndOfData;
}

}  // namespace tracelog
