// libFuzzer target: a raw segment file (header and records) through the
// segment scanner, in both modes and with the bounds recovery and readers
// use. Every record returned lies inside the data and carries a sequence
// above the previous one; damage is reported, never returned.

#include <string>

#include "engine/format/segment_format.h"
#include "engine/segment/segment_scanner.h"
#include "tests/fuzz/fuzz_util.h"

namespace tracelog {
namespace {

void Scan(absl::string_view data, uint64_t base, SegmentScanner::Mode mode, ScanBounds bounds) {
  uint64_t reported = 0;
  SegmentScanner scanner("fuzz.seg", data, kSegmentHeaderSize, data.size(), base, mode,
                         [&](const Corruption& c) {
                           TRACELOG_FUZZ_CHECK(c.begin <= c.end);
                           ++reported;
                         },
                         bounds);
  RecordView rec;
  uint64_t last = 0;
  while (scanner.Next(&rec)) {
    TRACELOG_FUZZ_CHECK(rec.event.data() >= data.data() &&
                        rec.event.data() + rec.event.size() <= data.data() + data.size());
    TRACELOG_FUZZ_CHECK(rec.sequence > last);
    last = rec.sequence;
  }
  TRACELOG_FUZZ_CHECK(scanner.offset() <= data.size());
  TRACELOG_FUZZ_CHECK(scanner.corruptions() == reported);
}

}  // namespace
}  // namespace tracelog

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tracelog;
  const absl::string_view bytes = fuzz::Bytes(data, size);
  SegmentHeader header;
  const bool header_ok = DecodeSegmentHeader(bytes, &header).ok();
  if (size < kSegmentHeaderSize) return 0;
  // A copy: the scanner may read a little past a record (alignment).
  const std::string copy(bytes);
  const uint64_t base = header_ok ? header.base_sequence : 1;
  ScanBounds plain;
  Scan(copy, base, SegmentScanner::Mode::kSkipDamage, plain);
  Scan(copy, base, SegmentScanner::Mode::kStopAtDamage, plain);
  ScanBounds recovery;  // the active segment at open (recovery.cc)
  recovery.lookahead = 64 << 10;
  recovery.search_window = 1 << 20;
  Scan(copy, base, SegmentScanner::Mode::kSkipDamage, recovery);
  ScanBounds rolled;  // a rolled segment whose successor says where it ends
  rolled.last_sequence = base + 100;
  rolled.limit_is_data_end = true;
  Scan(copy, base, SegmentScanner::Mode::kSkipDamage, rolled);
  return 0;
}
