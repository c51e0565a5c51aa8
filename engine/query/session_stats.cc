// SessionStatsBuilder (session_stats.h): the index keys of each event
// (EventKeyExtractor) give its session, type, ids, tool and timestamp; the
// few events that need more (tool_results with a parent, errors, events
// that mention tokens) are parsed a second time, with simdjson On-Demand,
// for duration_ms and data.{message,error,*_tokens}.

#include "engine/query/session_stats.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "engine/format/event_keys.h"
#include "engine/format/segment_format.h"

namespace tracelog {
namespace {

namespace od = simdjson::ondemand;

enum Counter { kInput, kOutput, kTotal, kCounters };
constexpr std::string_view kCounterKeys[kCounters] = {"input_tokens", "output_tokens",
                                                      "total_tokens"};

// What Add reads of an event beyond its index keys.
struct Extras {
  std::optional<double> duration_ms;
  std::optional<std::string> message, error;  // data.message, data.error as text
  std::optional<int64_t> tokens[kCounters];
};

void AddSaturating(int64_t v, TokenCount* c) {
  if (__builtin_add_overflow(c->sum, v, &c->sum)) c->sum = v < 0 ? INT64_MIN : INT64_MAX;
  c->present = true;
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// A value as message text: a string unescaped (escapes it cannot decode, such
// as a lone surrogate, left as written), a number or `true` as its JSON text,
// an object or array as its JSON text. Unset for null, false and "", which
// Python's `a or b` passes over.
std::optional<std::string> Text(od::value v) {
  od::json_type type;
  if (v.type().get(type) != simdjson::SUCCESS) return std::nullopt;
  std::string_view s;
  switch (type) {
    case od::json_type::string:
      if (v.get_string().get(s) != simdjson::SUCCESS) {
        s = TrimRight(v.raw_json_token());
        if (s.size() >= 2) s = s.substr(1, s.size() - 2);
      }
      break;
    case od::json_type::number:
      s = TrimRight(v.raw_json_token());
      break;
    case od::json_type::boolean: {
      bool b = false;
      if (v.get_bool().get(b) == simdjson::SUCCESS && b) s = "true";
      break;
    }
    case od::json_type::object: {
      od::object o;
      if (v.get_object().get(o) || o.raw_json().get(s)) s = {};
      break;
    }
    case od::json_type::array: {
      od::array a;
      if (v.get_array().get(a) || a.raw_json().get(s)) s = {};
      break;
    }
    case od::json_type::null:
      break;
  }
  if (s.empty()) return std::nullopt;
  return std::string(s);
}

// data's message, error and token counters; a later duplicate key wins, as in
// Python's json module.
simdjson::error_code ReadData(od::value v, Extras* out) {
  out->message.reset();
  out->error.reset();
  for (auto& t : out->tokens) t.reset();
  od::object obj;
  if (v.get_object().get(obj) != simdjson::SUCCESS) return simdjson::SUCCESS;  // not an object
  for (auto field_result : obj) {
    od::field field;
    if (auto err = std::move(field_result).get(field)) return err;
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) continue;
    if (key == "message") {
      out->message = Text(field.value());
    } else if (key == "error") {
      out->error = Text(field.value());
    } else {
      for (int c = 0; c < kCounters; ++c) {
        if (key != kCounterKeys[c]) continue;
        int64_t n = 0;  // integers only: a float, a string or null is no count
        if (field.value().get_int64().get(n) == simdjson::SUCCESS) {
          out->tokens[c] = n;
        } else {
          out->tokens[c].reset();
        }
      }
    }
  }
  return simdjson::SUCCESS;
}

simdjson::error_code ReadExtras(od::document& doc, Extras* out) {
  od::object obj;
  if (auto err = doc.get_object().get(obj)) return err;
  for (auto field_result : obj) {
    od::field field;
    if (auto err = std::move(field_result).get(field)) return err;
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) continue;
    if (key == "duration_ms") {
      double d = 0;
      out->duration_ms.reset();  // null, or not a finite number: no sample
      if (field.value().get_double().get(d) == simdjson::SUCCESS && std::isfinite(d)) {
        out->duration_ms = d;
      }
    } else if (key == "data") {
      if (auto err = ReadData(field.value(), out)) return err;
    }
  }
  return simdjson::SUCCESS;
}

// A tool_call's per-session state and its token counters.
struct SessionState {
  absl::flat_hash_map<std::string, uint32_t> calls;  // tool_call event_id -> tool
  TokenCount tokens[kCounters];                      // events other than session_end
  TokenCount end_tokens[kCounters];                  // its session_end
};

// A tool_result (with a sample) or an error whose parent_id named no
// tool_call of its session when it was added.
struct Pending {
  uint32_t session = 0;
  std::string parent_id;
  bool is_error = false;
  double duration_ms = 0;  // a tool_result's sample
  std::string named_tool;  // an error's data.tool_name ("" if none)
};

}  // namespace

double NearestRank(const std::vector<double>& sorted, int percent) {
  const uint64_t n = sorted.size();
  // ceil(percent * n / 100) in integers, so that 95 % of 20 is rank 19 exactly.
  const uint64_t rank = (static_cast<uint64_t>(std::clamp(percent, 0, 100)) * n + 99) / 100;
  return sorted[rank == 0 ? 0 : rank - 1];
}

std::optional<double> ToolStats::MeanMs() const {
  if (latencies_ms.empty()) return std::nullopt;
  return latency_sum_ms / static_cast<double>(latencies_ms.size());
}

std::optional<double> ToolStats::PercentileMs(int percent) const {
  if (latencies_ms.empty()) return std::nullopt;
  return NearestRank(latencies_ms, percent);
}

std::optional<double> ToolStats::MaxMs() const {
  if (latencies_ms.empty()) return std::nullopt;
  return latencies_ms.back();
}

std::optional<double> SessionStats::DurationMs() const {
  if (!has_timestamp) return std::nullopt;
  return (last_timestamp - first_timestamp) * 1000;
}

struct SessionStatsBuilder::Impl {
  EventKeyExtractor extractor;
  od::parser parser;
  std::string buffer;  // the padded copy ReadExtras parses
  SessionStats stats;  // counters; tools and messages are filled in by Finish
  absl::flat_hash_map<std::string, uint32_t> session_index;
  std::vector<SessionState> sessions;
  absl::flat_hash_map<std::string, uint32_t> tool_index;
  std::vector<ToolStats> tools;                      // latencies in arrival order until Finish
  absl::flat_hash_map<std::string, uint64_t> types;  // by_type, looked up without a copy
  absl::flat_hash_map<std::string, uint64_t> messages;
  std::vector<Pending> pending;

  uint32_t Session(absl::string_view id);
  uint32_t Tool(absl::string_view name);
  // The tool of the tool_call `parent_id` names in `session`, if any.
  std::optional<uint32_t> CallTool(uint32_t session, absl::string_view parent_id) const;
  Extras Parse(absl::string_view event);
  void AddResult(uint32_t session, const EventKeys& keys, const Extras& extras);
  void AddError(uint32_t session, const EventKeys& keys, const Extras& extras);
  void AddTokens(uint32_t session, bool session_end, const Extras& extras);
  void SortTools();
};

uint32_t SessionStatsBuilder::Impl::Session(absl::string_view id) {
  auto [it, added] = session_index.try_emplace(id, static_cast<uint32_t>(sessions.size()));
  if (added) sessions.emplace_back();
  return it->second;
}

uint32_t SessionStatsBuilder::Impl::Tool(absl::string_view name) {
  auto [it, added] = tool_index.try_emplace(name, static_cast<uint32_t>(tools.size()));
  if (added) tools.push_back(ToolStats{std::string(name)});
  return it->second;
}

std::optional<uint32_t> SessionStatsBuilder::Impl::CallTool(uint32_t session,
                                                            absl::string_view parent_id) const {
  const auto& calls = sessions[session].calls;
  auto it = calls.find(parent_id);
  if (it == calls.end()) return std::nullopt;
  return it->second;
}

Extras SessionStatsBuilder::Impl::Parse(absl::string_view event) {
  Extras extras;
  buffer.assign(event.data(), event.size());
  // The keys were read from a copy with bad bytes replaced; so are these.
  if (extractor.last_was_invalid_utf8()) ScrubInvalidUtf8(&buffer);
  buffer.resize(event.size() + simdjson::SIMDJSON_PADDING);
  od::document doc;
  if (parser.iterate(buffer.data(), event.size(), buffer.size()).get(doc) == simdjson::SUCCESS) {
    (void)ReadExtras(doc, &extras);  // on an error, what was read so far
  }
  return extras;
}

void SessionStatsBuilder::Impl::AddResult(uint32_t session, const EventKeys& keys,
                                          const Extras& extras) {
  if (keys.parent_id.empty() || !extras.duration_ms) return;  // no sample
  if (std::optional<uint32_t> tool = CallTool(session, keys.parent_id)) {
    tools[*tool].latencies_ms.push_back(*extras.duration_ms);
    tools[*tool].latency_sum_ms += *extras.duration_ms;
    return;
  }
  pending.push_back(Pending{session, std::string(keys.parent_id), false, *extras.duration_ms});
}

void SessionStatsBuilder::Impl::AddError(uint32_t session, const EventKeys& keys,
                                         const Extras& extras) {
  ++stats.errors;
  const std::optional<std::string>& text = extras.message ? extras.message : extras.error;
  ++messages[text ? *text : std::string("unknown")];
  if (!keys.parent_id.empty()) {
    if (auto tool = CallTool(session, keys.parent_id)) {
      ++tools[*tool].errors;
    } else {  // its call may come later; else data.tool_name decides (Finish)
      pending.push_back(
          Pending{session, std::string(keys.parent_id), true, 0, std::string(keys.tool_name)});
    }
    return;
  }
  if (!keys.tool_name.empty()) ++tools[Tool(keys.tool_name)].errors;
}

void SessionStatsBuilder::Impl::AddTokens(uint32_t session, bool session_end,
                                          const Extras& extras) {
  SessionState& s = sessions[session];
  for (int c = 0; c < kCounters; ++c) {
    if (extras.tokens[c])
      AddSaturating(*extras.tokens[c], session_end ? &s.end_tokens[c] : &s.tokens[c]);
  }
}

SessionStatsBuilder::SessionStatsBuilder() : impl_(std::make_unique<Impl>()) {}
SessionStatsBuilder::~SessionStatsBuilder() = default;

void SessionStatsBuilder::Add(absl::string_view event) {
  Impl& im = *impl_;
  ++im.stats.events;
  EventKeys keys;
  // Stored events were validated when they were appended.
  if (!im.extractor.Extract(event, &keys, /*validate=*/false).ok()) {
    ++im.types[""];
    return;
  }
  const absl::string_view type = keys.event_type;
  auto counted = im.types.find(type);
  if (counted == im.types.end()) counted = im.types.try_emplace(type, 0).first;
  ++counted->second;
  if (keys.has_timestamp) {
    SessionStats& s = im.stats;
    s.first_timestamp =
        s.has_timestamp ? std::min(s.first_timestamp, keys.timestamp) : keys.timestamp;
    s.last_timestamp =
        s.has_timestamp ? std::max(s.last_timestamp, keys.timestamp) : keys.timestamp;
    s.has_timestamp = true;
  }
  const uint32_t session = im.Session(keys.session_id);
  const bool result = type == "tool_result" && !keys.parent_id.empty();
  const bool error = type == "error";
  const bool tokens = absl::StrContains(event, "_tokens");
  Extras extras;
  if (result || error || tokens) extras = im.Parse(event);
  if (type == "tool_call") {
    const uint32_t tool = im.Tool(keys.tool_name.empty() ? "unknown" : keys.tool_name);
    ++im.tools[tool].calls;
    im.sessions[session].calls.insert_or_assign(keys.event_id, tool);
  } else if (result) {
    im.AddResult(session, keys, extras);
  } else if (error) {
    im.AddError(session, keys, extras);
  } else if (type == "llm_request") {
    ++im.stats.llm_requests;
  }
  if (tokens) im.AddTokens(session, type == "session_end", extras);
}

void SessionStatsBuilder::Impl::SortTools() {
  for (ToolStats& t : tools) std::sort(t.latencies_ms.begin(), t.latencies_ms.end());
  std::sort(tools.begin(), tools.end(), [](const ToolStats& a, const ToolStats& b) {
    return a.calls != b.calls ? a.calls > b.calls : a.name < b.name;
  });
  stats.tools = std::move(tools);
}

SessionStats SessionStatsBuilder::Finish() && {
  Impl& im = *impl_;
  for (const Pending& p : im.pending) {
    std::optional<uint32_t> tool = im.CallTool(p.session, p.parent_id);
    if (!p.is_error) {
      if (!tool) continue;  // its parent is no tool_call: no sample
      im.tools[*tool].latencies_ms.push_back(p.duration_ms);
      im.tools[*tool].latency_sum_ms += p.duration_ms;
    } else if (tool) {
      ++im.tools[*tool].errors;
    } else if (!p.named_tool.empty()) {
      ++im.tools[im.Tool(p.named_tool)].errors;
    }
  }
  TokenCount* totals[kCounters] = {&im.stats.input_tokens, &im.stats.output_tokens,
                                   &im.stats.total_tokens};
  for (const SessionState& s : im.sessions) {
    for (int c = 0; c < kCounters; ++c) {
      const TokenCount& use = s.tokens[c].present ? s.tokens[c] : s.end_tokens[c];
      if (use.present) AddSaturating(use.sum, totals[c]);
    }
  }
  im.stats.by_type.insert(im.types.begin(), im.types.end());
  im.SortTools();
  im.stats.error_messages.assign(im.messages.begin(), im.messages.end());
  std::sort(im.stats.error_messages.begin(), im.stats.error_messages.end(),
            [](const auto& a, const auto& b) {
              return a.second != b.second ? a.second > b.second : a.first < b.first;
            });
  im.stats.sessions = im.sessions.size();
  return std::move(im.stats);
}

}  // namespace tracelog
