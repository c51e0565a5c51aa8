#include "engine/ndjson/claude_hook.h"

#include <simdjson.h>

#include <cstdio>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/format/checksum.h"
#include "engine/ndjson/pyjson.h"

namespace tracelog {

namespace {

using simdjson::dom::element;

// Appends `v` as Python's json.dumps(separators=(",", ":")) writes it.
void AppendPyJson(element v, std::string* out) {
  switch (v.type()) {
    case simdjson::dom::element_type::OBJECT: {
      out->push_back('{');
      bool first = true;
      const simdjson::dom::object o = v.get_object().value_unsafe();
      for (auto field : o) {
        if (!first) out->push_back(',');
        first = false;
        AppendPyJsonString(out, absl::string_view(field.key.data(), field.key.size()));
        out->push_back(':');
        AppendPyJson(field.value, out);
      }
      out->push_back('}');
      return;
    }
    case simdjson::dom::element_type::ARRAY: {
      out->push_back('[');
      bool first = true;
      const simdjson::dom::array a = v.get_array().value_unsafe();
      for (element e : a) {
        if (!first) out->push_back(',');
        first = false;
        AppendPyJson(e, out);
      }
      out->push_back(']');
      return;
    }
    case simdjson::dom::element_type::STRING:
    {
      const std::string_view s = v.get_string().value_unsafe();
      AppendPyJsonString(out, absl::string_view(s.data(), s.size()));
    }
      return;
    case simdjson::dom::element_type::INT64:
      absl::StrAppend(out, v.get_int64().value_unsafe());
      return;
    case simdjson::dom::element_type::UINT64:
      absl::StrAppend(out, v.get_uint64().value_unsafe());
      return;
    case simdjson::dom::element_type::DOUBLE:
      AppendPyFloat(out, v.get_double().value_unsafe());
      return;
    case simdjson::dom::element_type::BOOL:
      out->append(v.get_bool().value_unsafe() ? "true" : "false");
      return;
    case simdjson::dom::element_type::NULL_VALUE:
      out->append("null");
      return;
  }
}

// The data object, built one field at a time; each input field is taken
// once (Take), the rest follow in input order (TakeRest).
class DataBuilder {
 public:
  DataBuilder(simdjson::dom::object input, const HookOptions& options)
      : input_(input), options_(options) {}

  // `name`: the JSON text `json`.
  void AddRaw(absl::string_view name, absl::string_view json) {
    if (out_.size() > 1) out_.push_back(',');
    AppendPyJsonString(&out_, name);
    out_.push_back(':');
    out_.append(json.data(), json.size());
  }
  void AddString(absl::string_view name, absl::string_view value) {
    std::string json;
    AppendPyJsonString(&json, value);
    AddRaw(name, json);
  }
  // The input's field `from` as `name`, if it has one; true if it had.
  bool Take(absl::string_view from, absl::string_view name) {
    element v;
    if (input_[std::string_view(from.data(), from.size())].get(v) != simdjson::SUCCESS) {
      return false;
    }
    taken_.emplace_back(from);
    AddValue(name, v);
    return true;
  }
  bool Take(absl::string_view name) { return Take(name, name); }
  // Marks `name` as used elsewhere (not copied by TakeRest).
  void Skip(absl::string_view name) { taken_.emplace_back(name); }
  void TakeRest() {
    for (auto field : input_) {
      const absl::string_view key(field.key.data(), field.key.size());
      bool taken = false;
      for (const std::string& t : taken_) taken = taken || t == key;
      if (!taken) AddValue(key, field.value);
    }
    if (!cut_.empty()) {
      AddRaw("truncated", "true");
      for (auto& [name, bytes] : cut_) AddRaw(absl::StrCat(name, "_bytes"), absl::StrCat(bytes));
    }
  }
  std::string Finish() && {
    out_.push_back('}');
    return std::move(out_);
  }

 private:
  void AddValue(absl::string_view name, element v) {
    std::string json;
    AppendPyJson(v, &json);
    if (json.size() > options_.max_field_bytes) {
      cut_.emplace_back(std::string(name), json.size());
      json.resize(options_.max_field_bytes);  // ASCII (escaped): any cut is whole characters
      std::string cut;
      AppendPyJsonString(&cut, json);
      json = std::move(cut);
    }
    AddRaw(name, json);
  }

  simdjson::dom::object input_;
  const HookOptions& options_;
  std::string out_ = "{";
  std::vector<std::string> taken_;
  std::vector<std::pair<std::string, size_t>> cut_;
};

// The first `digits` of `v`'s 16 lowercase hex digits (its high bits).
std::string Hex(uint64_t v, int digits) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return std::string(buf, digits);
}

std::string StringField(simdjson::dom::object o, const char* name) {
  std::string_view s;
  if (o[name].get_string().get(s) != simdjson::SUCCESS) return "";
  return std::string(s);
}

// Fills the data of `e` by its event and says which event type it is.
void MapEvent(const std::string& name, DataBuilder& d, HookEvent* e) {
  if (name == "SessionStart") {
    e->event_type = "session_start";
    d.AddString("mode", "claude-code-hooks");
    if (!d.Take("source")) d.AddString("source", "startup");
    d.Take("model");
  } else if (name == "UserPromptSubmit") {
    e->event_type = "user_prompt";
    d.Take("prompt");
  } else if (name == "PreToolUse" || name == "PostToolUse" || name == "PostToolUseFailure") {
    e->event_type = name == "PreToolUse" ? "tool_call" : name == "PostToolUse" ? "tool_result" : "error";
    d.Take("tool_name");
    if (name == "PreToolUse") {
      d.Take("tool_input", "arguments");
    } else if (name == "PostToolUse") {
      d.Take("tool_response", "result");
    } else {
      if (!d.Take("error")) d.AddString("error", "tool call failed");
      d.Take("is_interrupt");
    }
    d.Take("tool_use_id");
  } else if (name == "Stop") {
    e->event_type = "assistant_response";
    d.Take("last_assistant_message", "text");
  } else if (name == "SubagentStart") {
    e->event_type = "session_start";
    d.AddString("mode", "claude-code-hooks");
    d.AddString("source", "subagent");
  } else if (name == "SubagentStop") {
    e->event_type = "session_end";
  } else if (name == "SessionEnd") {
    e->event_type = "session_end";
    d.Take("reason");
  } else {
    e->event_type = "decision";
    d.AddString("hook_event_name", name);
  }
}

}  // namespace

std::string CanonicalHookEventName(absl::string_view name) {
  static constexpr std::pair<const char*, const char*> kAgentStrace[] = {
      {"session-start", "SessionStart"}, {"session-end", "SessionEnd"},
      {"pre-tool", "PreToolUse"},        {"post-tool", "PostToolUse"},
      {"post-tool-failure", "PostToolUseFailure"},
      {"user-prompt", "UserPromptSubmit"}, {"stop", "Stop"},
  };
  static constexpr const char* kClaude[] = {
      "SessionStart", "UserPromptSubmit", "PreToolUse",   "PostToolUse",
      "PostToolUseFailure", "Stop",       "SubagentStart", "SubagentStop",
      "Notification", "PreCompact",       "SessionEnd",   "PermissionRequest",
  };
  for (const auto& [alias, claude] : kAgentStrace) {
    if (name == alias) return claude;
  }
  for (const char* claude : kClaude) {
    if (absl::EqualsIgnoreCase(name, claude)) return claude;
  }
  return std::string(name);
}

absl::StatusOr<HookEvent> ConvertHookInput(absl::string_view event_name, absl::string_view input,
                                           double timestamp, absl::string_view random_id,
                                           const HookOptions& options) {
  simdjson::dom::parser parser;
  simdjson::dom::object in;
  if (auto err = parser.parse(input.data(), input.size()).get_object().get(in)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the hook input is not a JSON object: ", simdjson::error_message(err)));
  }
  HookEvent e;
  e.timestamp = timestamp;
  const std::string from_input = StringField(in, "hook_event_name");
  e.hook_event_name = CanonicalHookEventName(from_input.empty() ? event_name : from_input);
  std::string session = StringField(in, "session_id");
  if (session.empty()) session = "claude-code";  // every input has one; a made-up one is no better
  const std::string agent = StringField(in, "agent_id");
  e.session_id = agent.empty() ? session : absl::StrCat(session, ".", agent);

  DataBuilder d(in, options);
  d.Skip("session_id");
  d.Skip("hook_event_name");
  MapEvent(e.hook_event_name, d, &e);
  if (e.hook_event_name == "SubagentStart" || (!agent.empty() && e.event_type == "session_start")) {
    d.AddString("parent_session_id", session);
  }
  d.TakeRest();
  e.data = std::move(d).Finish();

  const std::string tool_use_id = StringField(in, "tool_use_id");
  const bool tool_event = e.event_type == "tool_call" || (e.hook_event_name == "PostToolUse" ||
                                                          e.hook_event_name == "PostToolUseFailure");
  if (tool_event && !tool_use_id.empty()) {
    const uint64_t h = Checksum64(absl::StrCat(session, std::string(1, '\0'), agent,
                                               std::string(1, '\0'), tool_use_id));
    e.pair_key = Hex(h, 16);
    if (e.event_type == "tool_call") {
      e.pairing = HookEvent::Pairing::kCall;
      e.event_id = Hex(h, 12);
    } else {
      e.pairing = HookEvent::Pairing::kResult;
      e.parent_id = Hex(h, 12);
    }
  }
  if (e.event_id.empty()) e.event_id = std::string(random_id);
  return e;
}

std::string HookEventLine(const HookEvent& e) {
  std::string line = "{\"event_type\":";
  AppendPyJsonString(&line, e.event_type);
  line += ",\"timestamp\":";
  AppendPyFloat(&line, e.timestamp);
  line += ",\"event_id\":";
  AppendPyJsonString(&line, e.event_id);
  line += ",\"session_id\":";
  AppendPyJsonString(&line, e.session_id);
  if (!e.parent_id.empty()) {
    line += ",\"parent_id\":";
    AppendPyJsonString(&line, e.parent_id);
  }
  if (e.duration_ms.has_value()) {
    line += ",\"duration_ms\":";
    AppendPyFloat(&line, *e.duration_ms);
  }
  line += ",\"data\":";
  line += e.data;
  line += '}';
  return line;
}

}  // namespace tracelog
