#ifndef TRACELOG_ENGINE_FORMAT_EVENT_KEYS_H_
#define TRACELOG_ENGINE_FORMAT_EVENT_KEYS_H_

// Extracts the index keys of one agent event (one JSON object, one NDJSON line)
// with simdjson's On-Demand API.
//
// Keys (all optional; absent ones are empty):
//   session_id, event_type, event_id, parent_id   top-level string values
//   timestamp                                     top-level number (as double)
//   tool_name                                     data.tool_name
//   error flag   event_type == "error", or data.error / data.is_error present
//                and not null, false, 0 or ""
// Non-string values of string keys are kept as their raw JSON text; strings
// whose escapes cannot be decoded (lone surrogates, as Python writes them) are
// kept in their escaped form. Unknown top-level keys are ignored. Lines that
// are not valid UTF-8 are accepted: invalid bytes are read as '?' for key
// extraction only (the stored event keeps its original bytes). Duplicate keys
// take the last value, as Python's json module does.
//
// Not thread-safe: use one extractor per thread. Views in the returned keys
// stay valid until the next call.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/format/segment_format.h"

namespace tracelog {

// Readable bytes after a line that let Extract parse it in place.
inline constexpr size_t kExtractPadding = 64;

class EventKeyExtractor {
 public:
  EventKeyExtractor();
  ~EventKeyExtractor();
  EventKeyExtractor(const EventKeyExtractor&) = delete;
  EventKeyExtractor& operator=(const EventKeyExtractor&) = delete;

  // InvalidArgumentError when `line` is not a JSON object (the message gives
  // the reason and, where known, the 1-based column). Without `validate`,
  // values that hold no key are skipped by their brackets instead of being
  // checked as JSON: the same keys for a valid event, at a fraction of the
  // cost; for events already validated when they were appended (readers,
  // queries, index rebuilds).
  absl::Status Extract(absl::string_view line, EventKeys* keys, bool validate = true);
  // The same, parsing `line` in place when at least kExtractPadding bytes
  // after it are readable (their content does not matter); else as above.
  absl::Status Extract(absl::string_view line, EventKeys* keys, bool validate,
                       size_t readable_after);
  // Whether the line of the last Extract is not well-formed UTF-8 (its keys
  // were then read from a copy with the bad bytes replaced). simdjson
  // validates UTF-8 as it indexes, so this costs nothing extra.
  bool last_was_invalid_utf8() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Replaces each byte that is not part of a well-formed UTF-8 sequence with
// '?'. Returns true if anything was replaced.
bool ScrubInvalidUtf8(std::string* s);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_FORMAT_EVENT_KEYS_H_
