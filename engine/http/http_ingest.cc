// POST /v1/events and agent-strace's POST /events: an NDJSON body, stored
// as `tracelog append` stores lines (format-spec/README.md, "HTTP API").

#include <deque>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/format/event_keys.h"
#include "engine/http/http_internal.h"
#include "engine/log/ingest.h"
#include "engine/ndjson/line_reader.h"
#include "engine/ndjson/pyjson.h"
#include "engine/server/server.h"

namespace tracelog::http_internal {

namespace {

constexpr size_t kMaxErrorsListed = 100;

struct LineError {
  uint64_t line;
  std::string why;
};

}  // namespace

void HandleEvents(Context& ctx, const httplib::Request& req, absl::string_view body,
                  httplib::Response& res, Api api) {
  // Every line checked first; then the good ones appended as one batch
  // (one group commit), so a bad line costs only itself.
  std::vector<PreparedEvent> prepared;
  std::deque<std::string> redacted;  // texts the redactor changed (prepared views them)
  std::vector<LineError> errors;
  uint64_t line = 0, rejected = 0;
  if (!body.empty() && body.back() == '\n') body.remove_suffix(1);  // the last line's end
  for (absl::string_view text : absl::StrSplit(body, '\n')) {
    ++line;
    if (IsBlankLine(text)) continue;
    std::string why;
    PreparedEvent p;
    if (text.size() > ctx.options.max_line_bytes) {
      why = LineTooLong(ctx.options.max_line_bytes);
    } else {
      std::string changed;
      auto r = PrepareIngested(ctx.options.redactor, text, &changed, &p);
      if (!r.ok()) {
        why = std::string(r.status().message());
      } else if (*r) {
        redacted.push_back(std::move(changed));
        p.event = redacted.back();
      }
    }
    if (why.empty()) {
      prepared.push_back(std::move(p));
      continue;
    }
    ++rejected;
    if (errors.size() < kMaxErrorsListed) errors.push_back(LineError{line, std::move(why)});
  }
  // "?sync=always": durable whatever the server's policy (as the socket
  // protocol's hello).
  const bool durable = req.get_param_value("sync") == "always";
  AppendBatchResult r;
  if (!prepared.empty()) r = ctx.log->AppendPrepared(prepared);
  absl::Status sync;
  if (durable && r.status.ok() && r.appended > 0) sync = ctx.log->Sync();
  const uint64_t accepted = sync.ok() ? r.appended : 0;
  uint64_t bytes = 0;
  for (size_t i = 0; i < r.appended; ++i) bytes += prepared[i].event.size();
  {
    MutexLock l(&ctx.mu);
    ctx.stats.events += r.appended;
    ctx.stats.bytes += bytes;
    ctx.stats.rejected_lines += rejected;
  }
  const absl::Status& failed = !r.status.ok() ? r.status : sync;
  if (!failed.ok()) {
    // The disk failed: what was appended before is in the log, not
    // promised (a retry may store it twice; import --ndjson skips those).
    SendError(res, 503,
              absl::StrCat(ctx.log->dir(), ": ", r.appended, " of ", prepared.size(),
                           " events appended, ", sync.ok() ? "then" : "not made durable:", " ",
                           failed.message()));
    return;
  }
  if (api == Api::kAgentStrace) {
    // agent-strace's answer: 200, or 202 when some lines were refused.
    SendJson(res, rejected == 0 ? 200 : 202,
             absl::StrCat("{\"accepted\": ", accepted, ", \"errors\": ", rejected, "}"));
    return;
  }
  std::string out = absl::StrCat("{\"accepted\":", accepted, ",\"rejected\":", rejected);
  if (accepted > 0) {
    absl::StrAppend(&out, ",\"first_sequence\":", r.first_sequence,
                    ",\"last_sequence\":", r.first_sequence + accepted - 1);
  }
  absl::StrAppend(&out, ",\"fsync\":\"",
                  durable ? std::string("always") : ctx.log->options().sync.ToString(),
                  "\",\"errors\":[");
  for (size_t i = 0; i < errors.size(); ++i) {
    absl::StrAppend(&out, i ? "," : "", "{\"line\":", errors[i].line, ",\"error\":");
    AppendPyJsonString(&out, errors[i].why);
    out += "}";
  }
  out += "]";
  if (rejected > errors.size()) out += ",\"errors_truncated\":true";
  out += "}\n";
  SendJson(res, rejected == 0 ? 200 : accepted > 0 ? 202 : 400, std::move(out));
}

}  // namespace tracelog::http_internal
