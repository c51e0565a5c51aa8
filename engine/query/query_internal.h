#ifndef TRACELOG_ENGINE_QUERY_QUERY_INTERNAL_H_
#define TRACELOG_ENGINE_QUERY_QUERY_INTERNAL_H_

// The parts of QueryEngine that query.cc (the engine: cached indexes,
// planning, the catalog) and query_execution.cc (one query's run) share.
// Not for use outside engine/query.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/format/event_keys.h"
#include "engine/format/sealed_format.h"
#include "engine/format/segment_format.h"
#include "engine/query/query.h"
#include "engine/seal/block_codec.h"
#include "engine/seal/sealed_segment.h"
#include "engine/segment/segment_scanner.h"

namespace tracelog {

// A sealed segment's index with its names' ids (QueryEngine::Info).
struct QueryEngine::SegmentInfo {
  bool has_sessions = false;  // session_ids and session_blocks are filled
  std::shared_ptr<SealedSegment> segment;
  std::shared_ptr<const SegmentIndex> index;
  absl::flat_hash_map<std::string, uint32_t> session_ids, type_ids, tool_ids;
  std::vector<std::vector<uint32_t>> session_blocks;  // by session ordinal
};

// The query with agents resolved to sessions.
struct QueryEngine::Plan {
  bool impossible = false;  // an agent filter that names no session
  std::vector<std::string> sessions;
};

// Buffers reused across queries and threads: a fresh 128 KiB string is a
// fresh mmap (glibc's threshold) that page-faults and is zero-filled.
class QueryEngine::StringPool {
 public:
  std::unique_ptr<std::string> Take() {
    std::lock_guard<std::mutex> l(mu_);
    if (free_.empty()) return std::make_unique<std::string>();
    auto b = std::move(free_.back());
    free_.pop_back();
    kept_ -= b->capacity();
    return b;
  }
  void Give(std::unique_ptr<std::string> b) {
    std::lock_guard<std::mutex> l(mu_);
    if (b == nullptr || kept_ + b->capacity() > kMaxKept) return;
    kept_ += b->capacity();
    free_.push_back(std::move(b));
  }

 private:
  static constexpr uint64_t kMaxKept = 64 << 20;
  std::mutex mu_;
  std::vector<std::unique_ptr<std::string>> free_;
  uint64_t kept_ = 0;
};

namespace query_internal {

// Where a raw segment's records must end (SegmentScanner::Bounds).
inline SegmentScanner::Bounds RawBounds(const SegmentSnapshot& seg) {
  SegmentScanner::Bounds b;
  b.last_sequence = seg.end_sequence;
  b.limit_is_data_end = seg.limit_is_data_end;
  return b;
}

// The keys of a raw segment's record; false if they do not decode.
inline bool KeysOf(const RecordView& rec, EventKeys* keys) {
  *keys = EventKeys();
  if (!DecodeKeys(rec.keys, keys)) return false;
  keys->timestamp = rec.timestamp;
  keys->has_timestamp = (rec.flags & kFlagHasTimestamp) != 0;
  keys->error = (rec.flags & kFlagError) != 0;
  return true;
}

// The thread's block codec, kept across queries: a fresh zstd context each
// time costs page faults on its new buffers.
inline BlockCodec& LocalCodec() {
  thread_local BlockCodec codec;
  return codec;
}

}  // namespace query_internal

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_QUERY_QUERY_INTERNAL_H_
