#include "engine/log/segment_scanner.h"

#include "absl/strings/str_cat.h"

namespace tracelog {

std::string Corruption::ToString() const {
  return absl::StrCat(file, ": damaged bytes [", begin, ", ", end, "): ", reason);
}

SegmentScanner::SegmentScanner(absl::string_view file, absl::string_view data, uint64_t offset,
                               uint64_t limit, uint64_t expected_sequence, Mode mode,
                               CorruptionReporter reporter)
    : file_(file),
      data_(data.substr(0, limit)),
      offset_(offset),
      expected_(expected_sequence),
      mode_(mode),
      reporter_(std::move(reporter)) {}

bool SegmentScanner::Next(RecordView* rec) {
  while (!done_) {
    const RecordStatus st = DecodeRecord(data_, offset_, rec);
    const char* reason = nullptr;
    if (st == RecordStatus::kEndOfData) {
      done_ = true;
      stop_status_ = st;
      return false;
    }
    if (st != RecordStatus::kOk) {
      reason = RecordStatusName(st);
    } else if (expected_ != 0 && rec->sequence != expected_) {
      reason = "unexpected sequence number";
    }
    if (reason == nullptr) {
      offset_ += rec->size;
      expected_ = rec->sequence + 1;
      if (rec->type != kRecordTypeEvent) continue;  // skippable unknown type
      return true;
    }
    if (mode_ == Mode::kStopAtDamage) {
      done_ = true;
      stop_status_ = st == RecordStatus::kOk ? RecordStatus::kBadHeaderChecksum : st;
      return false;
    }
    if (Resync(offset_, reason, rec)) return true;
  }
  return false;
}

// Looks for the next aligned offset holding a valid record with a sequence
// above the last one returned; reports the skipped range.
bool SegmentScanner::Resync(uint64_t damage_begin, const char* reason, RecordView* rec) {
  ++corruptions_;
  const uint64_t min_seq = expected_;
  for (uint64_t off = AlignRecord(damage_begin + 1); off + kRecordHeaderSize <= data_.size();
       off += kRecordAlignment) {
    RecordView candidate;
    if (DecodeRecord(data_, off, &candidate) != RecordStatus::kOk) continue;
    if (min_seq != 0 && candidate.sequence < min_seq) continue;
    if (reporter_) {
      reporter_(Corruption{file_, damage_begin, off,
                           absl::StrCat(reason, "; skipped to sequence ", candidate.sequence)});
    }
    offset_ = off + candidate.size;
    expected_ = candidate.sequence + 1;
    *rec = candidate;
    if (rec->type != kRecordTypeEvent) return false;  // caller's loop continues
    return true;
  }
  // No valid record after the damage: report up to the last non-zero byte.
  uint64_t end = data_.size();
  while (end > damage_begin && data_[end - 1] == 0) --end;
  if (reporter_) {
    reporter_(Corruption{file_, damage_begin, std::max(end, damage_begin + 1),
                         absl::StrCat(reason, "; no valid record follows")});
  }
  offset_ = data_.size();
  done_ = true;
  stop_status_ = RecordStatus::kEndOfData;
  return false;
}

}  // namespace tracelog
