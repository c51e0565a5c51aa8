// tracelog replay SESSION: a session's timeline as agent-strace's replay
// shows it (relative time, a marker per event type, the tool and a summary
// of its arguments, results with the latency of their call), or its events
// as stored (ndjson), or a Markdown or a self-contained HTML page.

#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "engine/query/query.h"
#include "tools/cli.h"
#include "tools/pager.h"
#include "tools/views.h"

namespace tracelog::cli {
namespace {

constexpr const char* kEventTypes[] = {
    "session_start", "session_end", "tool_call",  "tool_result", "llm_request",    "llm_response",
    "file_read",     "file_write",  "decision",   "error",       "user_prompt",    "assistant_response"};

struct ReplayFlags {
  bool no_pager = false;
  std::string dir;
  std::string session;
  std::string filter;
  std::string format;
  bool expand = false;
  bool live = false;
  double speed = 1;
};

// One event, as the timeline shows it.
struct Step {
  double ts = 0;         // the event's timestamp, else the one before it
  double offset = 0;     // seconds after the first event shown
  int depth = 0;         // 0: the session; 1: a sub-agent's; ...
  std::string type;
  std::string marker;
  std::string title;     // tool name, model, choice...
  std::string latency;   // "(12ms)"
  std::vector<std::string> details;
  std::string raw;       // the event as stored
};

std::string Cut(std::string s, size_t n) {
  if (s.size() <= n) return s;
  size_t at = n;
  while (at > 0 && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) --at;  // whole UTF-8
  s.resize(at);
  return s + "...";
}

std::string Str(simdjson::dom::element e) {
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS) return std::string(s);
  return simdjson::minify(e);
}

const char* Marker(const std::string& type) {
  static const std::map<std::string, const char*> kMarkers = {
      {"session_start", "▶"}, {"session_end", "■"},  {"tool_call", "→"},   {"tool_result", "←"},
      {"llm_request", "⬆"},   {"llm_response", "⬇"}, {"file_read", "📄"}, {"file_write", "✎"},
      {"decision", "◆"},      {"error", "✗"},        {"user_prompt", "👤"}, {"assistant_response", "🤖"}};
  auto it = kMarkers.find(type);
  return it == kMarkers.end() ? "·" : it->second;
}

// A tool call's arguments in a line or a few: a command, a path, else
// `key: value` pairs.
void SummariseArguments(simdjson::dom::element args, std::vector<std::string>* out) {
  simdjson::dom::object o;
  if (args.get_object().get(o) != simdjson::SUCCESS) {
    if (args.type() != simdjson::dom::element_type::NULL_VALUE) out->push_back(Cut(Str(args), 160));
    return;
  }
  simdjson::dom::element v;
  if (o["command"].get(v) == simdjson::SUCCESS) {
    out->push_back("$ " + Cut(Str(v), 160));
    return;
  }
  int shown = 0;
  for (auto field : o) {
    if (shown++ == 3) break;
    out->push_back(absl::StrCat(std::string(field.key), ": ", Cut(Str(field.value), 120)));
  }
}

// The timeline's view of one event; `calls` maps event_id -> tool name.
Step Describe(simdjson::dom::element e, std::map<std::string, std::string>* calls) {
  Step s;
  std::string_view v;
  if (e["event_type"].get_string().get(v) == simdjson::SUCCESS) s.type = std::string(v);
  s.marker = Marker(s.type);
  simdjson::dom::element data = e["data"].value_unsafe();
  const bool has_data = e["data"].error() == simdjson::SUCCESS;
  auto field = [&](const char* name) -> std::string {
    simdjson::dom::element x;
    return has_data && data[name].get(x) == simdjson::SUCCESS ? Str(x) : std::string();
  };
  double ms = 0;
  if (e["duration_ms"].get_double().get(ms) == simdjson::SUCCESS) {
    s.latency = absl::StrFormat("(%.0fms)", ms);
  }
  std::string parent;
  if (e["parent_id"].get_string().get(v) == simdjson::SUCCESS) parent = std::string(v);
  if (s.type == "tool_call") {
    s.title = field("tool_name");
    if (e["event_id"].get_string().get(v) == simdjson::SUCCESS) (*calls)[std::string(v)] = s.title;
    simdjson::dom::element args;
    if (has_data && data["arguments"].get(args) == simdjson::SUCCESS) SummariseArguments(args, &s.details);
  } else if (s.type == "tool_result" || s.type == "error") {
    auto it = calls->find(parent);
    s.title = it != calls->end() ? it->second : field("tool_name");
    std::string text = s.type == "error" ? field("message") : field("result");
    if (text.empty()) text = field(s.type == "error" ? "error" : "content_preview");
    if (!text.empty()) s.details.push_back(Cut(text, 200));
  } else if (s.type == "llm_request") {
    s.title = field("model");
    if (std::string n = field("message_count"); !n.empty()) s.title += " (" + n + " messages)";
  } else if (s.type == "llm_response") {
    if (std::string t = field("output_tokens"); !t.empty()) s.details.push_back(t + " output tokens");
  } else if (s.type == "user_prompt") {
    s.details.push_back("\"" + Cut(field("prompt"), 200) + "\"");
  } else if (s.type == "assistant_response") {
    s.details.push_back("\"" + Cut(field("text"), 200) + "\"");
  } else if (s.type == "decision") {
    s.title = field("choice");
    if (std::string r = field("reason"); !r.empty()) s.details.push_back("reason: " + Cut(r, 200));
  } else if (s.type == "file_read" || s.type == "file_write") {
    s.title = field("path");
    if (s.title.empty()) s.title = field("uri");
  }
  return s;
}

std::string HtmlEscape(absl::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// A sub-agent's events are indented by "│ " per level.
std::string Indent(int depth) {
  std::string indent;
  for (int i = 0; i < depth; ++i) indent += "│ ";
  return indent;
}

void AppendTerminalStep(const Step& s, bool colour, std::string* out) {
  const std::string indent = Indent(s.depth);
  const char* on = !colour ? "" : s.type == "error" ? "\033[31m" : s.type == "tool_call" ? "\033[36m" : "";
  absl::StrAppend(out, absl::StrFormat("+%6.2fs ", s.offset), indent, on, s.marker, " ", s.type,
                  *on ? "\033[0m" : "", s.title.empty() ? "" : " " + s.title,
                  s.latency.empty() ? "" : "  " + s.latency, "\n");
  for (const std::string& d : s.details) {
    for (absl::string_view line : absl::StrSplit(d, '\n')) {
      absl::StrAppend(out, "                ", indent, line, "\n");
    }
  }
}

void AppendTerminal(const std::vector<Step>& steps, bool colour, std::string* out) {
  for (const Step& s : steps) AppendTerminalStep(s, colour, out);
}

void AppendMarkdown(const std::string& id, const std::vector<Step>& steps, std::string* out) {
  absl::StrAppend(out, "# Session `", id, "`\n\n| time | event | | latency |\n|---|---|---|---|\n");
  for (const Step& s : steps) {
    std::string detail = absl::StrJoin(s.details, " / ");
    absl::StrReplaceAll({{"|", "\\|"}, {"\n", " "}}, &detail);
    std::string title = s.title;
    absl::StrReplaceAll({{"|", "\\|"}, {"\n", " "}}, &title);
    absl::StrAppend(out, absl::StrFormat("| +%.2fs | %s%s %s | %s%s | %s |\n", s.offset,
                                         Indent(s.depth), s.marker,
                                         s.type, title.empty() ? "" : "**" + title + "** ", detail,
                                         s.latency));
  }
}

// One page, no network: the rows, and a box that hides the rows without
// the text typed in it.
void AppendHtml(const std::string& id, const std::vector<Step>& steps, std::string* out) {
  absl::StrAppend(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>tracelog replay ",
                  HtmlEscape(id),
                  "</title>\n<style>body{font:14px monospace;margin:1em}td{vertical-align:top;"
                  "padding:2px 8px}tr.error td{color:#b00}pre{margin:0;white-space:pre-wrap}"
                  "</style></head><body>\n<h1>Session ",
                  HtmlEscape(id),
                  "</h1>\n<input id=\"q\" placeholder=\"search\" autofocus>\n<table>\n");
  for (const Step& s : steps) {
    absl::StrAppend(out, "<tr class=\"", HtmlEscape(s.type), "\"><td>+",
                    absl::StrFormat("%.2f", s.offset), "s</td><td>", Indent(s.depth), s.marker, " ",
                    HtmlEscape(s.type), "</td><td>", HtmlEscape(s.title), "</td><td>",
                    HtmlEscape(s.latency), "</td><td><pre>",
                    HtmlEscape(absl::StrJoin(s.details, "\n")), "</pre></td></tr>\n");
  }
  absl::StrAppend(out,
                  "</table>\n<script>document.getElementById('q').oninput=function(){"
                  "var q=this.value.toLowerCase();document.querySelectorAll('tr').forEach("
                  "function(r){r.style.display=r.textContent.toLowerCase().indexOf(q)<0?'none':''})};"
                  "</script>\n</body></html>\n");
}

// The events of one session (after the filter), described, appended to
// *steps at `depth`.
absl::Status SessionSteps(QueryEngine* engine, const std::string& id,
                          const std::set<std::string>& types, int depth, std::vector<Step>* steps) {
  Query q;
  q.sessions = {id};
  std::map<std::string, std::string> calls;
  simdjson::dom::parser parser;
  double last_ts = 0;
  auto n = engine->Run(q, [&](uint64_t, absl::string_view event) {
    simdjson::dom::element e;
    if (parser.parse(event.data(), event.size()).get(e) != simdjson::SUCCESS) return true;
    Step s = Describe(e, &calls);  // every call is seen, shown or not: its results name it
    double ts = 0;
    if (e["timestamp"].get_double().get(ts) == simdjson::SUCCESS) last_ts = ts;
    if (!types.empty() && types.count(s.type) == 0) return true;
    s.ts = last_ts;
    s.depth = depth;
    s.raw = std::string(event);
    steps->push_back(std::move(s));
    return true;
  });
  return n.status();
}

// The session's steps; with `expand`, its sub-agents' too (sessions whose
// parent_session_id names it, at any depth), merged by timestamp. Offsets
// are from the first step shown.
absl::StatusOr<std::vector<Step>> Steps(QueryEngine* engine, const std::string& id,
                                        const std::set<std::string>& types, bool expand) {
  std::vector<Step> steps;
  if (absl::Status s = SessionSteps(engine, id, types, 0, &steps); !s.ok()) return s;
  if (expand) {
    auto catalog = engine->Catalog();
    if (!catalog.ok()) return catalog.status();
    std::map<std::string, std::vector<std::string>> children;
    for (const CatalogEntry& e : *catalog) {
      if (!e.parent.empty() && e.parent != e.id) children[e.parent].push_back(e.id);
    }
    std::set<std::string> seen = {id};
    std::vector<std::pair<std::string, int>> todo = {{id, 0}};
    while (!todo.empty()) {
      auto [parent, depth] = todo.back();
      todo.pop_back();
      for (const std::string& child : children[parent]) {
        if (!seen.insert(child).second) continue;  // a cycle of parents
        if (absl::Status s = SessionSteps(engine, child, types, depth + 1, &steps); !s.ok()) {
          return s;
        }
        todo.push_back({child, depth + 1});
      }
    }
    std::stable_sort(steps.begin(), steps.end(),
                     [](const Step& a, const Step& b) { return a.ts < b.ts; });
  }
  for (Step& s : steps) s.offset = s.ts - steps.front().ts;
  return steps;
}

// --live: the terminal timeline paced by the recorded timestamps, sped up
// `speed` times; a gap is never waited for more than kMaxGapSeconds.
constexpr double kMaxGapSeconds = 3;

bool PrintLive(const std::vector<Step>& steps, double speed, bool colour, StdoutWriter* out) {
  double prev = steps.empty() ? 0 : steps.front().offset;
  for (const Step& s : steps) {
    const double wait = std::min((s.offset - prev) / speed, kMaxGapSeconds);
    prev = s.offset;
    if (wait > 0) ::usleep(static_cast<useconds_t>(wait * 1e6));
    std::string text;
    AppendTerminalStep(s, colour, &text);
    out->Write(text);
    if (!out->Flush()) return false;
  }
  return true;
}

int RunReplay(const ReplayFlags& f) {
  std::set<std::string> types;
  for (absl::string_view t : absl::StrSplit(f.filter, ',', absl::SkipEmpty())) {
    if (std::find(std::begin(kEventTypes), std::end(kEventTypes), t) == std::end(kEventTypes)) {
      PrintError(absl::StrCat("--filter: '", t, "' is not an event type (",
                              absl::StrJoin(kEventTypes, ", "), ")"));
      return kExitError;
    }
    types.emplace(t);
  }
  auto log = OpenLog(f.dir, /*read_only=*/true);
  if (!log.ok()) {
    PrintError(log.status());
    return kExitError;
  }
  QueryEngine engine(log->get());
  auto id = ResolveSessionArg(&engine, f.session);
  auto steps = id.ok() ? Steps(&engine, *id, types, f.expand) : id.status();
  if (!steps.ok()) {
    PrintError(steps.status());
    return kExitError;
  }
  std::string text;
  auto pager = Pager::Start(f.no_pager || f.live);  // --live paces a terminal itself
  StdoutWriter out;
  if (f.live) {
    if (!f.format.empty() && f.format != "terminal") {
      PrintError("--live shows the terminal timeline: it takes no --format but terminal");
      return kExitError;
    }
    return PrintLive(*steps, f.speed, UseColour(), &out) || out.broken_pipe() ? kExitOk
                                                                               : kExitError;
  }
  const std::string format = f.format.empty() ? (ChosenFormat("") == OutputFormat::kTable ? "terminal" : "ndjson")
                                              : f.format;
  if (format == "ndjson") {
    for (const Step& s : *steps) absl::StrAppend(&text, s.raw, "\n");
  } else if (format == "markdown") {
    AppendMarkdown(*id, *steps, &text);
  } else if (format == "html") {
    AppendHtml(*id, *steps, &text);
  } else {
    AppendTerminal(*steps, UseColour(), &text);
  }
  out.Write(text);
  out.Flush();
  return !out.ok() && !out.broken_pipe() ? kExitError : kExitOk;
}

}  // namespace

Command RegisterReplay(CLI::App& app) {
  auto f = std::make_shared<ReplayFlags>();
  CLI::App* sub = app.add_subcommand(
      "replay",
      "Show a session's timeline as agent-strace's replay does: time since the first event\n"
      "shown, a marker and the event type, the tool and its arguments, each result with the\n"
      "latency of its call (paired by parent_id), prompts, responses, decisions, errors.\n"
      "--format ndjson prints the events as stored; html writes one self-contained page\n"
      "(searchable, no network) to stdout.");
  AddLogOption(sub, &f->dir);
  AddNoPagerOption(sub, &f->no_pager);
  sub->add_option("session", f->session,
                  "Session id, an unambiguous prefix, or 'latest' (after -- when it starts with -)")
      ->required();
  sub->add_option("--filter", f->filter, "Only these event types (comma-separated)")
      ->type_name("TYPES");
  sub->add_option("--format", f->format,
                  "terminal | ndjson | markdown | html. Default: terminal on a terminal, ndjson "
                  "when piped")
      ->check(CLI::IsMember({"terminal", "ndjson", "markdown", "html"}))
      ->type_name("FORMAT");
  sub->add_flag("--expand-subagents", f->expand,
                "Also show the sub-agents' sessions (parent_session_id naming this one, at any\n"
                "depth), merged by timestamp and indented by level");
  sub->add_flag("-l,--live", f->live,
                "Print the timeline at the pace it was recorded (each wait at most 3 s)");
  sub->add_option("-s,--speed", f->speed, "With --live: this many times faster. Default: 1")
      ->check(CLI::PositiveNumber)
      ->type_name("X");
  return {sub, [f] { return RunReplay(*f); }};
}

}  // namespace tracelog::cli
