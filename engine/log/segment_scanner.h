#ifndef TRACELOG_ENGINE_LOG_SEGMENT_SCANNER_H_
#define TRACELOG_ENGINE_LOG_SEGMENT_SCANNER_H_

// Walks the records of one segment's bytes. Two modes, one mechanism:
//  - kStopAtDamage (recovery): the first record that is not valid, or whose
//    sequence is not the expected next one, ends the scan; stop_status() and
//    offset() tell where and why.
//  - kSkipDamage (readers, verify): a damaged range is reported through the
//    Reporter with its file and byte range, and the scan resynchronises on the
//    next valid record with a higher sequence number. A damaged log never
//    makes a reader crash or return a corrupted record.

#include <cstdint>
#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/format/segment_format.h"

namespace tracelog {

// A damaged byte range [begin, end) of a file.
struct Corruption {
  std::string file;
  uint64_t begin = 0;
  uint64_t end = 0;
  std::string reason;
  std::string ToString() const;
};
using CorruptionReporter = std::function<void(const Corruption&)>;

class SegmentScanner {
 public:
  enum class Mode { kStopAtDamage, kSkipDamage };

  // Scans data[offset, limit) of the segment named `file` (for reports),
  // expecting the first record to carry `expected_sequence` (0: any).
  SegmentScanner(absl::string_view file, absl::string_view data, uint64_t offset, uint64_t limit,
                 uint64_t expected_sequence, Mode mode, CorruptionReporter reporter = nullptr);

  // Returns the next valid event record, false at the end.
  bool Next(RecordView* rec);

  // Offset just past the last record returned (or the start offset).
  uint64_t offset() const { return offset_; }
  // Sequence the next record should carry.
  uint64_t expected_sequence() const { return expected_; }
  // Why the scan ended: kEndOfData for a clean end, else the damage found
  // (kStopAtDamage mode only; kSkipDamage reports instead).
  RecordStatus stop_status() const { return stop_status_; }
  // Number of damaged ranges reported.
  uint64_t corruptions() const { return corruptions_; }

 private:
  bool Resync(uint64_t damage_begin, const char* reason, RecordView* rec);

  const std::string file_;
  const absl::string_view data_;  // data[0, limit)
  uint64_t offset_;
  uint64_t expected_;
  const Mode mode_;
  const CorruptionReporter reporter_;
  RecordStatus stop_status_ = RecordStatus::kEndOfData;
  uint64_t corruptions_ = 0;
  bool done_ = false;
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_LOG_SEGMENT_SCANNER_H_
