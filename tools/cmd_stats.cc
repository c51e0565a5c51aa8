// tracelog stats: a summary of one session, or of every session the filters
// keep (engine/query/session_stats.h computes it), as a table or as one
// JSON object.

#include <CLI/CLI.hpp>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/ndjson/pyjson.h"
#include "engine/query/query.h"
#include "engine/query/query_filters.h"
#include "engine/query/session_stats.h"
#include "engine/query/stats_cache.h"
#include "tools/cli.h"
#include "tools/pager.h"
#include "tools/views.h"

namespace tracelog::cli {
namespace {

struct StatsFlags {
  bool no_pager = false;
  std::string dir;
  std::string session;  // id, unambiguous prefix or `latest`; "": every session
  std::string format;
  QueryFilters filter;  // --agent, --since, --until only
  bool verbose = false;
};

// JSON text, indented by two spaces per level (`pretty`) or on one line.
// Commas and indentation follow from the calls: Key before each value of an
// object, values alone in an array.
class JsonOut {
 public:
  explicit JsonOut(bool pretty) : pretty_(pretty) {}
  void Open(char bracket) {
    Separate();
    out_ += bracket;
    first_.push_back(true);
  }
  void Close(char bracket) {
    const bool empty = first_.back();
    first_.pop_back();
    if (!empty) NewLine();
    out_ += bracket;
  }
  void Key(absl::string_view key) {
    Separate();
    AppendPyJsonString(&out_, key);
    out_ += pretty_ ? ": " : ":";
    after_key_ = true;
  }
  void String(absl::string_view s) {
    Separate();
    AppendPyJsonString(&out_, s);
  }
  void Int(int64_t n) {
    Separate();
    absl::StrAppend(&out_, n);
  }
  void Null() {
    Separate();
    out_ += "null";
  }
  // A double in its shortest round-trip form, or null when unset or not
  // finite (JSON has no NaN).
  void Number(std::optional<double> v) {
    if (!v || !std::isfinite(*v)) return Null();
    Separate();
    AppendPyFloat(&out_, *v);
  }
  std::string Take() { return std::move(out_); }

 private:
  void Separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (first_.empty()) return;
    if (!first_.back()) out_ += ',';
    first_.back() = false;
    NewLine();
  }
  void NewLine() {
    if (pretty_) absl::StrAppend(&out_, "\n", std::string(2 * first_.size(), ' '));
  }

  const bool pretty_;
  std::string out_;
  std::vector<bool> first_;  // per open bracket: nothing written in it yet
  bool after_key_ = false;
};

void WriteTools(const SessionStats& s, JsonOut* j) {
  j->Open('{');
  for (const ToolStats& t : s.tools) {
    j->Key(t.name);
    j->Open('{');
    j->Key("count");
    j->Int(t.calls);
    j->Key("samples");
    j->Int(t.latencies_ms.size());
    j->Key("avg_ms");
    j->Number(t.MeanMs());
    j->Key("p50_ms");
    j->Number(t.PercentileMs(50));
    j->Key("p95_ms");
    j->Number(t.PercentileMs(95));
    j->Key("max_ms");
    j->Number(t.MaxMs());
    j->Key("errors");
    j->Int(t.errors);
    j->Close('}');
  }
  j->Close('}');
}

// The counter, or null when no event carried it.
void WriteTokens(const TokenCount& c, JsonOut* j) {
  if (c.present) return j->Int(c.sum);
  j->Null();
}

// The one JSON object of `tracelog stats`. `session`: "" for many.
std::string StatsJson(const SessionStats& s, const std::string& session, bool pretty) {
  JsonOut j(pretty);
  j.Open('{');
  j.Key("session");
  session.empty() ? j.Null() : j.String(session);
  j.Key("sessions");
  j.Int(s.sessions);
  j.Key("events");
  j.Int(s.events);
  j.Key("by_type");
  j.Open('{');
  for (const auto& [type, n] : s.by_type) {
    j.Key(type);
    j.Int(n);
  }
  j.Close('}');
  j.Key("tools");
  WriteTools(s, &j);
  j.Key("errors");
  j.Int(s.errors);
  j.Key("error_messages");
  j.Open('[');
  for (const auto& [message, n] : s.error_messages) {
    j.Open('{');
    j.Key("message");
    j.String(message);
    j.Key("count");
    j.Int(n);
    j.Close('}');
  }
  j.Close(']');
  j.Key("llm_requests");
  j.Int(s.llm_requests);
  j.Key("tokens");
  j.Open('{');
  j.Key("input");
  WriteTokens(s.input_tokens, &j);
  j.Key("output");
  WriteTokens(s.output_tokens, &j);
  j.Key("total");
  WriteTokens(s.total_tokens, &j);
  j.Close('}');
  for (const auto& [key, value] : {std::pair{"first_timestamp", s.first_timestamp},
                                   std::pair{"last_timestamp", s.last_timestamp}}) {
    j.Key(key);
    j.Number(s.has_timestamp ? std::optional<double>(value) : std::nullopt);
  }
  j.Key("duration_ms");
  j.Number(s.DurationMs());
  j.Close('}');
  return absl::StrCat(j.Take(), "\n");
}

// `s` made safe for a terminal: control characters (line breaks, escape
// sequences) as spaces, cut to `max` bytes at a character boundary.
std::string Printable(absl::string_view s, size_t max) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (out.size() >= max && (c & 0xC0) != 0x80) return absl::StrCat(out, "...");
    out += c < 0x20 || c == 0x7f ? ' ' : s[i];
  }
  return out;
}

std::string Ms(std::optional<double> ms) { return ms ? HumanDuration(*ms) : "-"; }

std::string SummaryBlock(const SessionStats& s, const std::string& session) {
  const std::string rule = "──────────────────────────────────────────────────\n";
  std::string out = absl::StrCat(session.empty() ? "Log Summary\n" : "Session Summary\n", rule);
  if (session.empty()) {
    absl::StrAppend(&out, "  Sessions:   ", s.sessions, "\n");
  } else {
    absl::StrAppend(&out, "  Session:    ", Printable(session, 80), "\n");
  }
  if (s.has_timestamp) {
    absl::StrAppend(&out, "  Started:    ", FormatTimestamp(s.first_timestamp), "\n",
                    "  Duration:   ", Ms(s.DurationMs()), "\n");
  }
  auto type = s.by_type.find("tool_call");
  absl::StrAppend(&out, "  Events:     ", s.events, "\n",
                  "  Tool calls: ", type == s.by_type.end() ? 0 : type->second, "\n",
                  "  LLM calls:  ", s.llm_requests, "\n");
  std::string tokens;
  for (const auto& [name, c] :
       {std::pair{"input", &s.input_tokens}, std::pair{"output", &s.output_tokens},
        std::pair{"total", &s.total_tokens}}) {
    if (c->present) absl::StrAppend(&tokens, tokens.empty() ? "" : ", ", name, " ", c->sum);
  }
  if (!tokens.empty()) absl::StrAppend(&out, "  Tokens:     ", tokens, "\n");
  absl::StrAppend(&out, "  Errors:     ", s.errors, "\n", rule);
  return out;
}

// As agent-strace's `stats`: the summary, tools by frequency, errors grouped
// (the most frequent 20; --format json lists them all).
std::string StatsTable(const SessionStats& s, const std::string& session) {
  constexpr size_t kMaxMessages = 20;
  std::string out = SummaryBlock(s, session);
  absl::StrAppend(&out, "\n  Events by Type:\n");
  for (const auto& [type, n] : s.by_type) {
    absl::StrAppend(&out, absl::StrFormat("    %-30s %5d\n", Printable(type, 30), n));
  }
  if (!s.tools.empty()) absl::StrAppend(&out, "\n  Tool Call Frequency:\n");
  for (const ToolStats& t : s.tools) {
    absl::StrAppend(&out, absl::StrFormat("    %-30s %5dx  avg: %s  p50: %s  p95: %s  max: %s  "
                                          "errors: %d\n",
                                          Printable(t.name, 30), t.calls, Ms(t.MeanMs()),
                                          Ms(t.PercentileMs(50)), Ms(t.PercentileMs(95)),
                                          Ms(t.MaxMs()), t.errors));
  }
  if (s.errors > 0) absl::StrAppend(&out, "\n  Errors (", s.errors, "):\n");
  for (size_t i = 0; i < s.error_messages.size() && i < kMaxMessages; ++i) {
    const auto& [message, n] = s.error_messages[i];
    absl::StrAppend(&out, "    ", Printable(message, 100), n > 1 ? absl::StrCat(" (", n, "x)") : "",
                    "\n");
  }
  if (s.error_messages.size() > kMaxMessages) {
    absl::StrAppend(&out, "    ... ", s.error_messages.size() - kMaxMessages,
                    " more messages (--format json lists them all)\n");
  }
  return out;
}

// The events the flags select, summarised; `session` is set to the full id.
absl::StatusOr<SessionStats> Collect(const StatsFlags& f, QueryEngine* engine,
                                     std::string* session) {
  auto warn = [](const Corruption& c) {
    PrintError(absl::StrCat("warning: ", c.ToString(), " (skipped)"));
  };
  if (f.session.empty() && !f.filter.Filters()) {
    // The whole log: per-segment partials from stats.cache.
    StatsCacheReport report;
    auto stats = WholeLogStats(engine->log(), engine, warn, &report);
    if (f.verbose) {
      PrintError(absl::StrCat("stats: ", report.segments_cached, " segment(s) from ",
                              kStatsCacheFileName, ", ", report.segments_read, " read (",
                              report.events_read, " events), ", report.sessions_paired_from_log,
                              " session(s) paired from the log; cache ",
                              report.cache_written ? "written" : "unchanged",
                              report.cache_problem.empty() ? "" : "; " + report.cache_problem));
    }
    return stats;
  }
  auto query = BuildQuery(f.filter, engine);
  if (!query.ok()) return query.status();
  if (!f.session.empty()) {
    auto id = ResolveSessionArg(engine, f.session);
    if (!id.ok()) return id.status();
    *session = *id;
    query->sessions = {*id};
  }
  SessionStatsBuilder builder;
  auto n = engine->RunBatches(
      *query,
      [&](absl::Span<const BlockEvent> events) {
        for (const BlockEvent& e : events) builder.Add(e.event);
        return true;
      },
      nullptr, warn);
  if (!n.ok()) return n.status();
  return std::move(builder).Finish();
}

int RunStats(const StatsFlags& f) {
  auto log = OpenLog(f.dir, /*read_only=*/true);
  if (!log.ok()) {
    PrintError(log.status());
    return kExitError;
  }
  QueryEngine engine(log->get());
  std::string session;
  auto stats = Collect(f, &engine, &session);
  if (!stats.ok()) {
    PrintError(stats.status());
    return kExitError;
  }
  const OutputFormat format = ChosenFormat(f.format);
  auto pager = Pager::Start(f.no_pager);
  StdoutWriter out;
  out.Write(format == OutputFormat::kTable
                ? StatsTable(*stats, session)
                : StatsJson(*stats, session, /*pretty=*/format == OutputFormat::kJson));
  out.Flush();
  const int code = !out.ok() && !out.broken_pipe() ? kExitError
                   : stats->events > 0               ? kExitOk
                                                     : kExitNegative;
  pager.reset();  // waits for it
  ExitNow(code);  // the summaries and indexes are not freed one by one
}

}  // namespace

Command RegisterStats(CLI::App& app) {
  auto f = std::make_shared<StatsFlags>();
  CLI::App* sub = app.add_subcommand(
      "stats",
      "Summarise a session, or without SESSION every session the filters keep: events by type,\n"
      "tool calls by tool with latency (avg, p50, p95, max: a tool_result's duration_ms, paired\n"
      "with its tool_call by parent_id within the session; percentiles by nearest rank) and\n"
      "errors, error messages grouped, LLM calls and tokens, duration (earliest to latest\n"
      "timestamp). SESSION: an id, an unambiguous prefix, or `latest` (the newest session);\n"
      "after `--` it may start with '-'. Exit 0 when events were summarised, 1 when none\n"
      "matched, 2 on error (an unknown SESSION).\n"
      "Without SESSION or filters, each segment but the active one is summarised once and\n"
      "kept in DIR/stats.cache (derived data, rebuilt when missing or damaged).\n"
      "TIME: epoch seconds, RFC 3339 (2026-11-23T02:00:00Z), or an age (30s, 15m, 24h, 7d).");
  sub->add_option("session", f->session, "Session id, unambiguous prefix, or latest")
      ->type_name("SESSION");
  AddLogOption(sub, &f->dir);
  AddNoPagerOption(sub, &f->no_pager);
  AddFormatOption(sub, &f->format, "table|json|ndjson");
  sub->add_option("--agent", f->filter.agents,
                  "Only sessions of these agents (from their session_start)")
      ->type_name("NAME,..")
      ->allow_extra_args(false);
  sub->add_option("--since", f->filter.since, "Events with timestamp >= TIME")->type_name("TIME");
  sub->add_option("--until", f->filter.until, "Events with timestamp < TIME")->type_name("TIME");
  sub->add_flag("-v,--verbose", f->verbose,
                "Print on stderr where the figures came from (the whole log: how many segments'\n"
                "summaries were taken from DIR/stats.cache and how many were read)");
  return {sub, [f] { return RunStats(*f); }};
}

}  // namespace tracelog::cli
