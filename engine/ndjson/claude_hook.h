#ifndef TRACELOG_ENGINE_NDJSON_CLAUDE_HOOK_H_
#define TRACELOG_ENGINE_NDJSON_CLAUDE_HOOK_H_

// A Claude Code hook input (the JSON object a command hook reads on stdin)
// as the agent-strace event tracelog stores for it (`tracelog hook`;
// format-spec/README.md, "Claude Code hooks"):
//
//   SessionStart        session_start  {mode: "claude-code-hooks", source, model, ...}
//   UserPromptSubmit    user_prompt    {prompt, ...}
//   PreToolUse          tool_call      {tool_name, arguments, tool_use_id, ...}
//   PostToolUse         tool_result    {tool_name, result, tool_use_id, ...}
//   PostToolUseFailure  error          {tool_name, error, is_interrupt, tool_use_id, ...}
//   Stop                assistant_response {text, ...}
//   SubagentStart       session_start of the child session {..., parent_session_id}
//   SubagentStop        session_end of the child session
//   SessionEnd          session_end    {reason, ...}
//   anything else       decision       {hook_event_name, ...}
//
// "..." is every other field of the input, kept under its own name (a
// field a newer Claude Code adds is never lost). The session is the
// input's own session_id; an input with an agent_id (a sub-agent's) belongs
// to the child session "<session_id>.<agent_id>". A tool call's event_id is
// derived from its session, agent and tool_use_id, so that its result, in
// another process, names it as parent_id without asking anyone.

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tracelog {

struct HookOptions {
  // A field of the input whose JSON text is longer than this (a tool's whole
  // output, a written file) is stored as a string of its first
  // max_field_bytes bytes of JSON text; the event's data then holds
  // "truncated": true and "<field>_bytes": <its full length>. Default: 4 MiB.
  size_t max_field_bytes = size_t{4} << 20;
};

struct HookEvent {
  enum class Pairing {
    kNone,
    kCall,    // a tool_call: remember when it started (pair_key)
    kResult,  // a tool_result or error: parent_id is set; duration from pair_key
  };
  std::string hook_event_name;  // Claude's name ("PreToolUse")
  std::string event_type;       // agent-strace's ("tool_call")
  double timestamp = 0;
  std::string event_id;   // 12 lowercase hex
  std::string session_id;
  std::string parent_id;  // a result's call; empty otherwise
  std::optional<double> duration_ms;
  std::string data;  // a JSON object (Python's compact json.dumps style)
  Pairing pairing = Pairing::kNone;
  std::string pair_key;  // 16 lowercase hex, for kCall and kResult
};

// Claude's event name for `name`: Claude's own names (any case), and
// agent-strace's hook names ("pre-tool", "post-tool", "post-tool-failure",
// "session-start", "session-end", "user-prompt", "stop"). Any other name
// is returned as it is.
std::string CanonicalHookEventName(absl::string_view name);

// The event for `input` (a hook's stdin). Its hook_event_name names the
// event; when it has none, `event_name` (the command line's) does.
// `timestamp` is now (epoch seconds); `random_id` the event_id of an event
// whose id is not derived (12 lowercase hex). InvalidArgumentError when
// `input` is not a JSON object.
absl::StatusOr<HookEvent> ConvertHookInput(absl::string_view event_name, absl::string_view input,
                                           double timestamp, absl::string_view random_id,
                                           const HookOptions& options = {});

// The event as one NDJSON line without the newline, in agent-strace's key
// order (event_type, timestamp, event_id, session_id, parent_id,
// duration_ms, data).
std::string HookEventLine(const HookEvent& e);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_NDJSON_CLAUDE_HOOK_H_
