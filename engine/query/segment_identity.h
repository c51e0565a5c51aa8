#ifndef TRACELOG_ENGINE_QUERY_SEGMENT_IDENTITY_H_
#define TRACELOG_ENGINE_QUERY_SEGMENT_IDENTITY_H_

// How the derived caches of a log (stats.cache, catalog.cache) name a
// segment whose events can no longer change: its base, its last sequence
// and what tells its file from another with the same sequences.

#include <array>
#include <cstdint>

#include "engine/log/log.h"
#include "engine/seal/sealed_segment.h"
#include "engine/segment/segment.h"

namespace tracelog {

struct SegmentKey {
  uint64_t base = 0;
  // A sealed segment's last sequence (its header's); a rolled raw
  // segment's, the next segment's or gap's base - 1.
  uint64_t last = 0;
  // A sealed segment's event count and file size; a raw one's creation
  // time (us, from its header) and 0.
  std::array<uint64_t, 2> identity = {0, 0};
  bool operator==(const SegmentKey& o) const {
    return base == o.base && last == o.last && identity == o.identity;
  }
};

// The key of `seg`, or false when its events may still change or are not
// known whole: the active segment (raw and `last_in_log`), or a raw one a
// crash cut that no writer recovered yet.
inline bool KeyOf(const SegmentSnapshot& seg, bool last_in_log, SegmentKey* key) {
  key->base = seg.base;
  if (seg.sealed != nullptr) {
    key->last = seg.sealed->last_sequence();
    key->identity = {seg.sealed->header().event_count, seg.sealed->header().data_end};
    return true;
  }
  if (last_in_log || seg.end_sequence == 0) return false;
  key->last = seg.end_sequence;
  key->identity = {static_cast<uint64_t>(seg.raw->created_micros()), 0};
  return true;
}

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_QUERY_SEGMENT_IDENTITY_H_
