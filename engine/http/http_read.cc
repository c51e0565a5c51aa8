// The reading side of the HTTP API: the session catalog, one session's
// events, and queries (format-spec/README.md, "HTTP API"). Events are
// streamed (chunked) as the query engine finds them; a query that fails
// midway ends the response without its last chunk, so that a client sees
// a broken transfer, never a short answer that looks whole.

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/http/http_internal.h"
#include "engine/ndjson/pyjson.h"
#include "engine/query/query_filters.h"

namespace tracelog::http_internal {

namespace {

// Every value of a parameter given once or more ("type=a&type=b").
std::vector<std::string> Values(const httplib::Request& req, const char* key) {
  std::vector<std::string> out;
  const size_t n = req.get_param_value_count(key);
  for (size_t i = 0; i < n; ++i) out.push_back(req.get_param_value(key, i));
  return out;
}

bool Truthy(const std::string& v) { return v == "1" || v == "true" || v == "yes" || v.empty(); }

// Streams the events of `query` as NDJSON; agent-strace's session events
// are joined by newlines without a final one.
void StreamEvents(Context& ctx, httplib::Response& res, const Query& query, Api api) {
  res.set_header("Cache-Control", "no-store");
  res.set_chunked_content_provider(
      "application/x-ndjson", [&ctx, query, api](size_t, httplib::DataSink& sink) {
        bool first = true;
        std::string buf;
        auto flush = [&] {
          const bool ok = buf.empty() || sink.write(buf.data(), buf.size());
          buf.clear();
          return ok;
        };
        auto n = ctx.engine.RunBatches(query, [&](absl::Span<const BlockEvent> events) {
          for (const BlockEvent& e : events) {
            if (api == Api::kAgentStrace && !first) buf += '\n';
            first = false;
            buf.append(e.event.data(), e.event.size());
            if (api == Api::kV1) buf += '\n';
            if (buf.size() >= (256 << 10) && !flush()) return false;
          }
          return true;
        });
        if (!n.ok() || !flush()) return false;  // no final chunk: the client sees it broken
        sink.done();
        return true;
      });
}

void AppendTimestamp(std::string* out, bool has, double t) {
  if (has) {
    AppendPyFloat(out, t);
  } else {
    *out += "null";
  }
}

// One session of GET /v1/sessions.
void AppendSessionLine(const CatalogEntry& e, std::string* out) {
  *out += "{\"session_id\":";
  AppendPyJsonString(out, e.id);
  *out += ",\"agent\":";
  AppendPyJsonString(out, e.agent);
  *out += ",\"parent_session_id\":";
  AppendPyJsonString(out, e.parent);
  *out += ",\"started\":";
  AppendTimestamp(out, e.has_timestamp, e.first_timestamp);
  *out += ",\"last\":";
  AppendTimestamp(out, e.has_timestamp, e.last_timestamp);
  absl::StrAppend(out, ",\"events\":", e.events, ",\"tool_calls\":", e.tool_calls,
                  ",\"errors\":", e.errors, ",\"types\":{");
  bool first = true;
  for (const auto& [type, n] : e.types) {
    if (!first) *out += ",";
    first = false;
    AppendPyJsonString(out, type);
    absl::StrAppend(out, ":", n);
  }
  *out += "}}\n";
}

uint64_t Count(const CatalogEntry& e, const char* type) {
  return e.Count(type);
}

// One session of agent-strace's GET /sessions: its SessionMeta as
// to_json writes it (keys whose value is 0 or "" left out), from the
// catalog.
void AppendAgentStraceMeta(const CatalogEntry& e, std::string* out) {
  *out += "{\"session_id\": ";
  AppendPyJsonString(out, e.id);
  const bool ended = Count(e, "session_end") > 0 && e.has_timestamp;
  if (e.has_timestamp && e.first_timestamp != 0) {
    *out += ", \"started_at\": ";
    AppendPyFloat(out, e.first_timestamp);
  }
  if (ended && e.last_timestamp != 0) {
    *out += ", \"ended_at\": ";
    AppendPyFloat(out, e.last_timestamp);
  }
  if (!e.agent.empty()) {
    *out += ", \"agent_name\": ";
    AppendPyJsonString(out, e.agent);
  }
  const uint64_t llm = Count(e, "llm_request");
  if (e.tool_calls) absl::StrAppend(out, ", \"tool_calls\": ", e.tool_calls);
  if (llm) absl::StrAppend(out, ", \"llm_requests\": ", llm);
  if (e.errors) absl::StrAppend(out, ", \"errors\": ", e.errors);
  if (ended && e.last_timestamp > e.first_timestamp) {
    *out += ", \"total_duration_ms\": ";
    AppendPyFloat(out, (e.last_timestamp - e.first_timestamp) * 1000);
  }
  if (!e.parent.empty()) {
    *out += ", \"parent_session_id\": ";
    AppendPyJsonString(out, e.parent);
  }
  *out += ", \"attribution\": {}}";
}

}  // namespace

void HandleSessions(Context& ctx, const httplib::Request& req, httplib::Response& res, Api api) {
  auto catalog = ctx.engine.Catalog();
  if (!catalog.ok()) {
    SendError(res, 503, catalog.status().message());
    return;
  }
  std::string out;
  if (api == Api::kAgentStrace) {
    // A JSON array in agent-strace's listing order (ids in reverse).
    out = "[";
    for (auto it = catalog->rbegin(); it != catalog->rend(); ++it) {
      if (it != catalog->rbegin()) out += ", ";
      AppendAgentStraceMeta(*it, &out);
    }
    out += "]";
    SendJson(res, 200, std::move(out));
    return;
  }
  const std::string agent = req.get_param_value("agent");
  uint64_t limit = 0;
  if (req.has_param("limit") && !absl::SimpleAtoi(req.get_param_value("limit"), &limit)) {
    SendError(res, 400, "limit: not a number");
    return;
  }
  uint64_t shown = 0;
  for (const CatalogEntry& e : *catalog) {
    if (!agent.empty() && e.agent != agent) continue;
    if (limit != 0 && shown == limit) break;
    ++shown;
    AppendSessionLine(e, &out);
  }
  res.status = 200;
  res.set_content(std::move(out), "application/x-ndjson");
}

void HandleSessionEvents(Context& ctx, const httplib::Request&, httplib::Response& res,
                         const std::string& id, Api api) {
  auto full = ctx.engine.ResolveSession(id);
  if (!full.ok()) {
    SendError(res, absl::IsNotFound(full.status()) ? 404 : 400,
              api == Api::kAgentStrace && absl::IsNotFound(full.status())
                  ? absl::StrCat("session not found: ", id)
                  : std::string(full.status().message()));
    return;
  }
  Query q;
  q.sessions = {*full};
  StreamEvents(ctx, res, q, api);
}

void HandleQuery(Context& ctx, const httplib::Request& req, httplib::Response& res) {
  QueryFilters f;
  f.sessions = Values(req, "session");
  f.types = Values(req, "type");
  f.tools = Values(req, "tool");
  f.agents = Values(req, "agent");
  f.error = req.has_param("error") && Truthy(req.get_param_value("error"));
  f.since = req.get_param_value("since");
  f.until = req.get_param_value("until");
  uint64_t limit = 0;
  if (req.has_param("limit") && !absl::SimpleAtoi(req.get_param_value("limit"), &limit)) {
    SendError(res, 400, "limit: not a number");
    return;
  }
  for (const auto& [key, _] : req.params) {
    static const char* const kKnown[] = {"session", "type", "tool", "agent",
                                         "error",   "since", "until", "limit"};
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown)) {
      SendError(res, 400, absl::StrCat("unknown parameter '", key,
                                       "' (session, type, tool, agent, error, since, until, "
                                       "limit)"));
      return;
    }
  }
  auto q = BuildQuery(f, &ctx.engine);
  if (!q.ok()) {
    SendError(res, absl::IsNotFound(q.status()) ? 404 : 400, q.status().message());
    return;
  }
  q->limit = limit;
  StreamEvents(ctx, res, *q, Api::kV1);
}

}  // namespace tracelog::http_internal
