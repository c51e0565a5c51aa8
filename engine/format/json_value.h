#ifndef TRACELOG_ENGINE_FORMAT_JSON_VALUE_H_
#define TRACELOG_ENGINE_FORMAT_JSON_VALUE_H_

// What an event's JSON may hold, as every writer reads it (PrepareEvent
// through EventKeyExtractor, and the redactor): standard JSON, plus what
// Python's json module (which wrote agent-strace's files) also reads: NaN,
// Infinity, -Infinity, integers of any size and floats that overflow
// (1e400). Strings are checked by simdjson's structural pass (quotes,
// UTF-8); their escapes are left as written.

#include <simdjson.h>

#include <string_view>

namespace tracelog {

// `s` without the JSON whitespace (space, tab, LF, CR) at its end: a raw
// token runs up to the next structural character.
inline std::string_view TrimJsonWhitespace(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// `value`'s raw token clamped to `line`, the text being read (empty if it
// starts outside). In a line whose brackets do not close, a walk can pass
// the last structural index, where simdjson's sentinels make the raw token
// a view of ~4 GiB (found by fuzzing).
std::string_view ClampedRawToken(simdjson::ondemand::value& value, std::string_view line);

// Walks `value` whole, so that every byte of it is checked (On-Demand
// otherwise skips unread values by their brackets alone). SUCCESS or why
// not; deeper than 1,024 levels is DEPTH_ERROR.
simdjson::error_code ValidateJsonValue(simdjson::ondemand::value value, std::string_view line,
                                       int depth = 0);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_FORMAT_JSON_VALUE_H_
