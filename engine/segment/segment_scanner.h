#ifndef TRACELOG_ENGINE_SEGMENT_SEGMENT_SCANNER_H_
#define TRACELOG_ENGINE_SEGMENT_SEGMENT_SCANNER_H_

// Walks the records of one segment's bytes. Two modes, one mechanism:
//  - kStopAtDamage (the sealer): the first record that is not valid, or whose
//    sequence is not the expected next one, ends the scan; stop_status(),
//    stop_reason() and offset() tell where and why.
//  - kSkipDamage (readers, verify, recovery): a damaged range is reported
//    through the Reporter with its file and byte range, and the scan
//    resynchronises on the next valid record with a higher sequence number.
//    A damaged log never makes a reader crash or return a corrupted record.
// Where the segment's records must end is known from outside (Bounds): a
// rolled segment holds every sequence up to its successor's base - 1, and
// the active one every record up to the end a writer published. Zeros
// before that end (a zeroed page at a record boundary) are damage, not the
// end of the data.

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
  // No valid record follows the range in its segment (a scan of the
  // active segment that ends here may be looking at a torn write).
  bool at_end = false;
  std::string ToString() const;
};
using CorruptionReporter = std::function<void(const Corruption&)>;

// What is known about where the records end.
struct ScanBounds {
  // The last sequence the segment must hold (its successor's base - 1); 0
  // when unknown (the active segment). Reaching the end of the data
  // before it is damage; so is a record above it.
  uint64_t last_sequence = 0;
  // `limit` is the end of the records (a writer published it): zeros
  // before it are damage.
  bool limit_is_data_end = false;
  // When the data seems to end (a zero record header) with neither of the
  // above known, look this many bytes further for a valid record with the
  // expected or a higher sequence: if there is one, the zeros were damage
  // (a zeroed page), reported, and the scan goes on from it. Recovery uses
  // this on the active segment; it costs reading those bytes.
  uint64_t lookahead = 0;
  // After damage, look at most this many bytes further for the next valid
  // record (0: to the end of the data). A record whose header is intact
  // but whose event is damaged is skipped by its length first, so this
  // only bounds the search after a damaged header or garbage.
  uint64_t search_window = 0;
};

class SegmentScanner {
 public:
  enum class Mode { kStopAtDamage, kSkipDamage };

  using Bounds = ScanBounds;

  // Scans data[offset, limit) of the segment named `file` (for reports),
  // expecting the first record to carry `expected_sequence` (0: any).
  SegmentScanner(absl::string_view file, absl::string_view data, uint64_t offset, uint64_t limit,
                 uint64_t expected_sequence, Mode mode, CorruptionReporter reporter = nullptr,
                 Bounds bounds = Bounds());

  // Returns the next valid event record, false at the end.
  bool Next(RecordView* rec);

  // Offset just past the last record returned (or the start offset; where
  // the damage is, after a stop at damage).
  uint64_t offset() const { return offset_; }
  // Sequence the next record should carry.
  uint64_t expected_sequence() const { return expected_; }
  // Why the scan ended: kEndOfData for a clean end, else the damage found
  // (kStopAtDamage mode only; kSkipDamage reports instead).
  RecordStatus stop_status() const { return stop_status_; }
  // The same as text, with the missing sequences when the segment ended
  // short of Bounds::last_sequence (kStopAtDamage).
  const std::string& stop_reason() const { return stop_reason_; }
  // kStopAtDamage: the scan ended at damage (see stop_reason()), not at
  // the end of the data.
  bool stopped_at_damage() const { return stopped_at_damage_; }
  // Number of damaged ranges reported.
  uint64_t corruptions() const { return corruptions_; }
  // Where the last valid record (of any type) ends: the end of the data
  // once the scan is over, whatever damage followed it.
  uint64_t records_end() const { return records_end_; }

  // Pages of the data are read ahead of the records in steps of this size,
  // each step under one SIGBUS guard (engine/io/mapped_read_guard.h): a page
  // that cannot be read is damage, not a crash.
  static constexpr uint64_t kProbeStep = 1 << 20;

 private:
  // The first 8-byte aligned offset in [from, to) holding a valid record
  // whose sequence is in [min_sequence, max_sequence] (max 0: no bound),
  // stepping over pages that cannot be read. -1 if there is none.
  int64_t FindRecord(uint64_t from, uint64_t to, uint64_t min_sequence, uint64_t max_sequence,
                     RecordView* rec);
  // Whether data_[.., to) can be read, probing pages from readable_to_ on.
  // False when a page before `to` cannot: it starts at unreadable_at_.
  bool Readable(uint64_t to);
  // Whether the record at `off` can be read whole (its header, then as far
  // as the header's lengths say, within the data).
  bool RecordReadable(uint64_t off);
  // The page at unreadable_at_ cannot be read: damage; the scan goes on
  // after it (kSkipDamage) or stops (kStopAtDamage).
  void UnreadablePage();
  // Handles damage at offset_ (why: `reason`). kStopAtDamage: ends the
  // scan. kSkipDamage: reports it and moves offset_ to the next valid
  // record (Next() decodes it again), or ends the scan.
  void Damage(RecordStatus status, const std::string& reason, RecordView* rec);
  std::string Missing() const;  // "sequences X to Y are missing" or ""

  const std::string file_;
  const absl::string_view data_;  // data[0, limit)
  const Bounds bounds_;
  uint64_t offset_;
  uint64_t expected_;
  uint64_t records_end_;
  const Mode mode_;
  const CorruptionReporter reporter_;
  RecordStatus stop_status_ = RecordStatus::kEndOfData;
  std::string stop_reason_;
  uint64_t corruptions_ = 0;
  uint64_t readable_to_;           // data_[offset at construction, readable_to_) reads
  uint64_t unreadable_at_ = 0;     // start of the page Readable() found unreadable
  bool stopped_at_damage_ = false;
  bool done_ = false;
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_SEGMENT_SEGMENT_SCANNER_H_
