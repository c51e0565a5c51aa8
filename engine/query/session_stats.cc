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
#include "absl/status/statusor.h"
#include "engine/format/coding.h"
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

// A tool_call as pairing knows it: its tool, and whether a result or an
// error of the same events named it (a partial keeps only the others).
struct CallRef {
  uint32_t tool = 0;
  bool named = false;
};

// A session's tool_calls and its token counters.
struct SessionState {
  std::string id;
  absl::flat_hash_map<std::string, CallRef> calls;  // tool_call event_id -> tool
  TokenCount tokens[kCounters];                     // events other than session_end
  TokenCount end_tokens[kCounters];                 // its session_end
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
  // The tool of the tool_call `parent_id` names in `session`, if any; the
  // call is marked as named.
  std::optional<uint32_t> CallTool(uint32_t session, absl::string_view parent_id);
  // `scrub`: the event's bad UTF-8 bytes are replaced first, as the keys
  // were read.
  Extras Parse(absl::string_view event, bool scrub);
  void AddKeyed(absl::string_view event, const EventKeys& keys, bool invalid_utf8_known,
                bool invalid_utf8);
  // Pairs what can be paired now; with `final`, an error whose call is
  // nowhere goes to its data.tool_name and a result without one is dropped.
  void ResolvePending(bool final);
  void AddResult(uint32_t session, const EventKeys& keys, const Extras& extras);
  void AddError(uint32_t session, const EventKeys& keys, const Extras& extras);
  void AddTokens(uint32_t session, bool session_end, const Extras& extras);
  void SortTools();
};

uint32_t SessionStatsBuilder::Impl::Session(absl::string_view id) {
  auto [it, added] = session_index.try_emplace(id, static_cast<uint32_t>(sessions.size()));
  if (added) {
    sessions.emplace_back();
    sessions.back().id = std::string(id);
  }
  return it->second;
}

uint32_t SessionStatsBuilder::Impl::Tool(absl::string_view name) {
  auto [it, added] = tool_index.try_emplace(name, static_cast<uint32_t>(tools.size()));
  if (added) tools.push_back(ToolStats{std::string(name)});
  return it->second;
}

std::optional<uint32_t> SessionStatsBuilder::Impl::CallTool(uint32_t session,
                                                            absl::string_view parent_id) {
  auto& calls = sessions[session].calls;
  auto it = calls.find(parent_id);
  if (it == calls.end()) return std::nullopt;
  it->second.named = true;
  return it->second.tool;
}

Extras SessionStatsBuilder::Impl::Parse(absl::string_view event, bool scrub) {
  Extras extras;
  buffer.assign(event.data(), event.size());
  // The keys were read from a copy with bad bytes replaced; so are these.
  if (scrub) ScrubInvalidUtf8(&buffer);
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
  EventKeys keys;
  // Stored events were validated when they were appended.
  if (!impl_->extractor.Extract(event, &keys, /*validate=*/false).ok()) {
    ++impl_->stats.events;
    ++impl_->types[""];
    return;
  }
  impl_->AddKeyed(event, keys, true, impl_->extractor.last_was_invalid_utf8());
}

void SessionStatsBuilder::Add(absl::string_view event, const EventKeys& keys) {
  impl_->AddKeyed(event, keys, false, false);
}

void SessionStatsBuilder::Impl::AddKeyed(absl::string_view event, const EventKeys& keys,
                                         bool invalid_utf8_known, bool invalid_utf8) {
  ++stats.events;
  const absl::string_view type = keys.event_type;
  auto counted = types.find(type);
  if (counted == types.end()) counted = types.try_emplace(type, 0).first;
  ++counted->second;
  if (keys.has_timestamp) {
    SessionStats& s = stats;
    s.first_timestamp =
        s.has_timestamp ? std::min(s.first_timestamp, keys.timestamp) : keys.timestamp;
    s.last_timestamp =
        s.has_timestamp ? std::max(s.last_timestamp, keys.timestamp) : keys.timestamp;
    s.has_timestamp = true;
  }
  const uint32_t session = Session(keys.session_id);
  const bool result = type == "tool_result" && !keys.parent_id.empty();
  const bool error = type == "error";
  const bool has_tokens = absl::StrContains(event, "_tokens");
  Extras extras;
  if (result || error || has_tokens) {
    if (!invalid_utf8_known) invalid_utf8 = !simdjson::validate_utf8(event.data(), event.size());
    extras = Parse(event, invalid_utf8);
  }
  if (type == "tool_call") {
    const uint32_t tool = Tool(keys.tool_name.empty() ? "unknown" : keys.tool_name);
    ++tools[tool].calls;
    sessions[session].calls.insert_or_assign(keys.event_id, CallRef{tool, false});
  } else if (result) {
    AddResult(session, keys, extras);
  } else if (error) {
    AddError(session, keys, extras);
  } else if (type == "llm_request") {
    ++stats.llm_requests;
  }
  if (has_tokens) AddTokens(session, type == "session_end", extras);
}

void SessionStatsBuilder::Impl::ResolvePending(bool final) {
  std::vector<Pending> left;
  for (Pending& p : pending) {
    std::optional<uint32_t> tool = CallTool(p.session, p.parent_id);
    if (!p.is_error && tool) {
      tools[*tool].latencies_ms.push_back(p.duration_ms);
      tools[*tool].latency_sum_ms += p.duration_ms;
    } else if (p.is_error && tool) {
      ++tools[*tool].errors;
    } else if (!final) {
      left.push_back(std::move(p));
    } else if (p.is_error && !p.named_tool.empty()) {
      ++tools[Tool(p.named_tool)].errors;
    }  // else: a result whose parent is no tool_call gives no sample
  }
  pending = std::move(left);
}

std::vector<std::string> SessionStatsBuilder::UnpairedSessions() {
  impl_->ResolvePending(/*final=*/false);
  std::vector<std::string> out;
  for (const Pending& p : impl_->pending) out.push_back(impl_->sessions[p.session].id);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void SessionStatsBuilder::AddCallForPairing(absl::string_view event) {
  Impl& im = *impl_;
  EventKeys keys;
  if (!im.extractor.Extract(event, &keys, /*validate=*/false).ok() ||
      keys.event_type != "tool_call") {
    return;
  }
  auto session = im.session_index.find(keys.session_id);
  if (session == im.session_index.end()) return;  // no result of it waits
  const uint32_t tool = im.Tool(keys.tool_name.empty() ? "unknown" : keys.tool_name);
  im.sessions[session->second].calls.try_emplace(keys.event_id, CallRef{tool, false});
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
  im.ResolvePending(/*final=*/true);
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

// ---- Partials ----------------------------------------------------------------
//
// Varints and length-prefixed strings (engine/format/coding.h); doubles as
// 8 little-endian bytes; the layout is in format-spec/README.md, "Stats cache".

namespace {

constexpr uint64_t kPartialVersion = 1;

void PutDouble(std::string* dst, double d) {
  char b[8];
  EncodeDouble(b, d);
  dst->append(b, 8);
}

void PutCount(std::string* dst, const TokenCount& c) {
  PutVarint64(dst, c.present ? 1 : 0);
  PutFixed64(dst, static_cast<uint64_t>(c.sum));
}

// Reads what PutDouble, PutVarint64, PutLengthPrefixed, PutCount wrote;
// every read fails (and stays failed) past the end.
class PartialReader {
 public:
  explicit PartialReader(absl::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}
  uint64_t Varint() {
    uint64_t v = 0;
    if (ok_ && !GetVarint64(&p_, end_, &v)) ok_ = false;
    return ok_ ? v : 0;
  }
  // A count of items that each take at least `min_bytes`: no more than the
  // bytes left allow (a damaged count cannot make us allocate).
  uint64_t Count(size_t min_bytes) {
    const uint64_t n = Varint();
    if (ok_ && n > static_cast<uint64_t>(end_ - p_) / min_bytes) ok_ = false;
    return ok_ ? n : 0;
  }
  double Double() {
    if (!ok_ || end_ - p_ < 8) {
      ok_ = false;
      return 0;
    }
    const double d = DecodeDouble(p_);
    p_ += 8;
    return d;
  }
  std::string String() {
    absl::string_view s;
    if (ok_ && !GetLengthPrefixed(&p_, end_, &s)) ok_ = false;
    return ok_ ? std::string(s) : std::string();
  }
  TokenCount Tokens() {
    TokenCount c;
    c.present = Varint() != 0;
    if (!ok_ || end_ - p_ < 8) {
      ok_ = false;
      return c;
    }
    c.sum = static_cast<int64_t>(DecodeFixed64(p_));
    p_ += 8;
    return c;
  }
  bool ok() const { return ok_; }
  bool done() const { return ok_ && p_ == end_; }

 private:
  const char* p_;
  const char* end_;
  bool ok_ = true;
};

struct PartialTool {
  std::string name;
  uint64_t calls = 0, errors = 0;
  double sum = 0;
  std::vector<double> samples;
};
struct PartialSession {
  std::string id;
  std::vector<std::pair<std::string, uint64_t>> open_calls;  // event_id, tool index
  TokenCount tokens[kCounters], end_tokens[kCounters];
};
struct PartialPending {
  uint64_t session = 0;
  std::string parent_id;
  bool is_error = false;
  double duration_ms = 0;
  std::string named_tool;
};
struct Partial {
  uint64_t events = 0, errors = 0, llm_requests = 0;
  bool has_timestamp = false;
  double first = 0, last = 0;
  std::vector<std::pair<std::string, uint64_t>> types, messages;
  std::vector<PartialTool> tools;
  std::vector<PartialSession> sessions;
  std::vector<PartialPending> pending;
};

absl::StatusOr<Partial> DecodePartial(absl::string_view bytes) {
  PartialReader r(bytes);
  Partial p;
  if (r.Varint() != kPartialVersion || !r.ok()) {
    return absl::DataLossError("stats partial: unknown version");
  }
  p.events = r.Varint();
  p.errors = r.Varint();
  p.llm_requests = r.Varint();
  p.has_timestamp = r.Varint() != 0;
  p.first = r.Double();
  p.last = r.Double();
  for (auto* list : {&p.types, &p.messages}) {
    const uint64_t n = r.Count(2);
    for (uint64_t i = 0; i < n && r.ok(); ++i) {
      std::string name = r.String();
      list->emplace_back(std::move(name), r.Varint());
    }
  }
  const uint64_t tools = r.Count(12);
  for (uint64_t i = 0; i < tools && r.ok(); ++i) {
    PartialTool t;
    t.name = r.String();
    t.calls = r.Varint();
    t.errors = r.Varint();
    t.sum = r.Double();
    const uint64_t samples = r.Count(8);
    t.samples.reserve(samples);
    for (uint64_t k = 0; k < samples && r.ok(); ++k) t.samples.push_back(r.Double());
    p.tools.push_back(std::move(t));
  }
  const uint64_t sessions = r.Count(2 + 2 * kCounters * 9);
  for (uint64_t i = 0; i < sessions && r.ok(); ++i) {
    PartialSession s;
    s.id = r.String();
    const uint64_t calls = r.Count(2);
    for (uint64_t k = 0; k < calls && r.ok(); ++k) {
      std::string id = r.String();
      const uint64_t tool = r.Varint();
      if (tool >= p.tools.size()) return absl::DataLossError("stats partial: a call's tool is out of range");
      s.open_calls.emplace_back(std::move(id), tool);
    }
    for (int c = 0; c < kCounters; ++c) s.tokens[c] = r.Tokens();
    for (int c = 0; c < kCounters; ++c) s.end_tokens[c] = r.Tokens();
    p.sessions.push_back(std::move(s));
  }
  const uint64_t pending = r.Count(12);  // two counts, two strings, a double
  for (uint64_t i = 0; i < pending && r.ok(); ++i) {
    PartialPending q;
    q.session = r.Varint();
    if (q.session >= p.sessions.size()) return absl::DataLossError("stats partial: a pairing's session is out of range");
    q.parent_id = r.String();
    q.is_error = r.Varint() != 0;
    q.duration_ms = r.Double();
    q.named_tool = r.String();
    p.pending.push_back(std::move(q));
  }
  if (!r.done()) return absl::DataLossError("stats partial: truncated or with bytes after its end");
  return p;
}

}  // namespace

std::string SessionStatsBuilder::SerializePartial() {
  Impl& im = *impl_;
  im.ResolvePending(/*final=*/false);
  std::string out;
  PutVarint64(&out, kPartialVersion);
  PutVarint64(&out, im.stats.events);
  PutVarint64(&out, im.stats.errors);
  PutVarint64(&out, im.stats.llm_requests);
  PutVarint64(&out, im.stats.has_timestamp ? 1 : 0);
  PutDouble(&out, im.stats.first_timestamp);
  PutDouble(&out, im.stats.last_timestamp);
  // Maps in key order, so that the same events give the same bytes.
  for (const auto* map : {&im.types, &im.messages}) {
    std::vector<std::pair<absl::string_view, uint64_t>> sorted(map->begin(), map->end());
    std::sort(sorted.begin(), sorted.end());
    PutVarint64(&out, sorted.size());
    for (const auto& [name, n] : sorted) {
      PutLengthPrefixed(&out, name);
      PutVarint64(&out, n);
    }
  }
  PutVarint64(&out, im.tools.size());
  for (const ToolStats& t : im.tools) {
    PutLengthPrefixed(&out, t.name);
    PutVarint64(&out, t.calls);
    PutVarint64(&out, t.errors);
    PutDouble(&out, t.latency_sum_ms);
    PutVarint64(&out, t.latencies_ms.size());
    for (double d : t.latencies_ms) PutDouble(&out, d);
  }
  PutVarint64(&out, im.sessions.size());
  for (const SessionState& s : im.sessions) {
    PutLengthPrefixed(&out, s.id);
    std::vector<std::pair<absl::string_view, uint32_t>> open;
    for (const auto& [id, call] : s.calls) {
      if (!call.named) open.emplace_back(id, call.tool);
    }
    std::sort(open.begin(), open.end());
    PutVarint64(&out, open.size());
    for (const auto& [id, tool] : open) {
      PutLengthPrefixed(&out, id);
      PutVarint64(&out, tool);
    }
    for (const TokenCount& c : s.tokens) PutCount(&out, c);
    for (const TokenCount& c : s.end_tokens) PutCount(&out, c);
  }
  PutVarint64(&out, im.pending.size());
  for (const Pending& p : im.pending) {
    PutVarint64(&out, p.session);
    PutLengthPrefixed(&out, p.parent_id);
    PutVarint64(&out, p.is_error ? 1 : 0);
    PutDouble(&out, p.duration_ms);
    PutLengthPrefixed(&out, p.named_tool);
  }
  return out;
}

absl::Status SessionStatsBuilder::MergePartial(absl::string_view bytes) {
  auto decoded = DecodePartial(bytes);
  if (!decoded.ok()) return decoded.status();
  Partial& p = *decoded;
  Impl& im = *impl_;
  SessionStats& s = im.stats;
  s.events += p.events;
  s.errors += p.errors;
  s.llm_requests += p.llm_requests;
  if (p.has_timestamp) {
    s.first_timestamp = s.has_timestamp ? std::min(s.first_timestamp, p.first) : p.first;
    s.last_timestamp = s.has_timestamp ? std::max(s.last_timestamp, p.last) : p.last;
    s.has_timestamp = true;
  }
  for (const auto& [type, n] : p.types) im.types[type] += n;
  for (const auto& [text, n] : p.messages) im.messages[text] += n;
  std::vector<uint32_t> tool_of(p.tools.size());
  for (size_t i = 0; i < p.tools.size(); ++i) {
    PartialTool& t = p.tools[i];
    tool_of[i] = im.Tool(t.name);
    ToolStats& into = im.tools[tool_of[i]];
    into.calls += t.calls;
    into.errors += t.errors;
    into.latency_sum_ms += t.sum;
    into.latencies_ms.insert(into.latencies_ms.end(), t.samples.begin(), t.samples.end());
  }
  std::vector<uint32_t> session_of(p.sessions.size());
  for (size_t i = 0; i < p.sessions.size(); ++i) {
    PartialSession& ps = p.sessions[i];
    session_of[i] = im.Session(ps.id);
    SessionState& into = im.sessions[session_of[i]];
    for (auto& [id, tool] : ps.open_calls) {
      into.calls.insert_or_assign(std::move(id), CallRef{tool_of[tool], false});
    }
    for (int c = 0; c < kCounters; ++c) {
      if (ps.tokens[c].present) AddSaturating(ps.tokens[c].sum, &into.tokens[c]);
      if (ps.end_tokens[c].present) AddSaturating(ps.end_tokens[c].sum, &into.end_tokens[c]);
    }
  }
  for (PartialPending& q : p.pending) {
    im.pending.push_back(Pending{session_of[q.session], std::move(q.parent_id), q.is_error,
                                 q.duration_ms, std::move(q.named_tool)});
  }
  return absl::OkStatus();
}

}  // namespace tracelog
