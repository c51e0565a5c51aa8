#include "engine/ndjson/session_meta.h"

#include <simdjson.h>

#include "absl/strings/str_cat.h"
#include "engine/ndjson/pyjson.h"

namespace tracelog {

namespace {

// What a session_start says about the session: agent-strace's producers
// (decorator: data.agent_name; hooks: data.mode and data.source; stdio
// proxy: data.command, a list; HTTP proxy: data.remote_url).
void FromSessionStart(absl::string_view event, std::string* agent, std::string* command,
                      std::string* parent) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(event.data(), event.size()).get(root) != simdjson::SUCCESS) return;
  std::string_view s;
  if (root["parent_session_id"].get_string().get(s) == simdjson::SUCCESS ||
      root["data"]["parent_session_id"].get_string().get(s) == simdjson::SUCCESS) {
    parent->assign(s);
  }
  simdjson::dom::element data;
  if (root["data"].get(data) != simdjson::SUCCESS) return;
  if (data["agent_name"].get_string().get(s) == simdjson::SUCCESS) agent->assign(s);
  if (data["mode"].get_string().get(s) == simdjson::SUCCESS && s == "claude-code-hooks") {
    *agent = "claude-code";
    std::string_view source;
    if (data["source"].get_string().get(source) != simdjson::SUCCESS) source = "startup";
    *command = absl::StrCat("claude-code (", absl::string_view(source.data(), source.size()), ")");
  } else if (data["mode"].get_string().get(s) == simdjson::SUCCESS && s == "http" &&
             data["remote_url"].get_string().get(s) == simdjson::SUCCESS) {
    *command = absl::StrCat("http-proxy -> ", absl::string_view(s.data(), s.size()));
  }
  simdjson::dom::array argv;
  if (data["command"].get_array().get(argv) == simdjson::SUCCESS) {
    std::string joined;
    bool ok = true;
    for (simdjson::dom::element a : argv) {
      if (a.get_string().get(s) != simdjson::SUCCESS) {
        ok = false;
        break;
      }
      if (!joined.empty()) joined += ' ';
      joined.append(s.data(), s.size());
    }
    if (ok) *command = joined;
  }
}

}  // namespace

void SessionStats::Add(const EventKeys& keys, absl::string_view event) {
  if (keys.has_timestamp && !has_first) {
    has_first = true;
    first = keys.timestamp;
  }
  if (keys.event_type == "session_start" && !has_start) {
    has_start = keys.has_timestamp;
    start = keys.timestamp;
    FromSessionStart(event, &agent_name, &command, &parent_session_id);
  } else if (keys.event_type == "session_end" && keys.has_timestamp) {
    has_end = true;
    end = keys.timestamp;
  } else if (keys.event_type == "tool_call") {
    ++tool_calls;
  } else if (keys.event_type == "llm_request") {
    ++llm_requests;
  } else if (keys.event_type == "error") {
    ++errors;
  }
}

std::string AgentStraceMetaJson(absl::string_view session_id, const SessionStats& s) {
  std::string m = "{";
  bool first_field = true;
  auto key = [&](const char* k) {
    absl::StrAppend(&m, first_field ? "\n  \"" : ",\n  \"", k, "\": ");
    first_field = false;
  };
  auto str = [&](const char* k, const std::string& v) {
    if (v.empty()) return;
    key(k);
    AppendPyJsonString(&m, v);
  };
  auto num = [&](const char* k, uint64_t v) {
    if (v == 0) return;
    key(k);
    absl::StrAppend(&m, v);
  };
  auto flt = [&](const char* k, double v) {
    if (v == 0) return;
    key(k);
    AppendPyFloat(&m, v);
  };
  str("session_id", std::string(session_id));
  const bool has_started = s.has_start || s.has_first;
  const double started = s.has_start ? s.start : s.first;
  if (has_started) flt("started_at", started);
  if (s.has_end) flt("ended_at", s.end);
  str("agent_name", s.agent_name);
  str("command", s.command);
  num("tool_calls", s.tool_calls);
  num("llm_requests", s.llm_requests);
  num("errors", s.errors);
  if (s.has_end && has_started) flt("total_duration_ms", (s.end - started) * 1000);
  str("parent_session_id", s.parent_session_id);
  key("attribution");
  m += "{}\n}";
  return m;
}

}  // namespace tracelog
