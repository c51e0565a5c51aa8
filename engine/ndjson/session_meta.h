#ifndef TRACELOG_ENGINE_NDJSON_SESSION_META_H_
#define TRACELOG_ENGINE_NDJSON_SESSION_META_H_

// agent-strace's meta.json (SessionMeta.to_json) for a session that has
// none stored, derived from its events (../shared/agent-strace-format.md,
// section 2): started_at and agent name from its session_start (else its
// first event), ended_at from its session_end, the counters from the event
// types, total_duration_ms from the two times.

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/format/segment_format.h"

namespace tracelog {

class SessionStats {
 public:
  // Adds one event of the session, in sequence order.
  void Add(const EventKeys& keys, absl::string_view event);

 private:
  friend std::string AgentStraceMetaJson(absl::string_view session_id, const SessionStats& s);
  bool has_first = false, has_start = false, has_end = false;
  double first = 0, start = 0, end = 0;
  uint64_t tool_calls = 0, llm_requests = 0, errors = 0;
  std::string agent_name, command, parent_session_id;
};

// SessionMeta.to_json: indent 2, fields in dataclass order, those None, ""
// or 0 dropped, "attribution": {} always, no final newline.
std::string AgentStraceMetaJson(absl::string_view session_id, const SessionStats& s);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_NDJSON_SESSION_META_H_
