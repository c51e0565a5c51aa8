// tracelog list: the sessions, newest first, as a person reads them (a
// table on a terminal) or as NDJSON/JSON/CSV for programs. Answered from
// the session catalog (the indexes), not by reading events; --tool reads
// only the tool_call blocks the index points at.

#include <unistd.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "engine/format/event_keys.h"
#include "engine/ndjson/pyjson.h"
#include "engine/query/query.h"
#include "tools/cli.h"
#include "tools/pager.h"
#include "tools/views.h"

namespace tracelog::cli {
namespace {

struct ListFlags {
  bool no_pager = false;
  std::string dir;
  std::string agent;
  std::string since, until;
  bool errors_only = false;
  std::string tool;
  uint64_t limit = 0;
  std::string format;
};

// One session as listed.
struct Row {
  explicit Row(const CatalogEntry* entry)
      : e(entry), llm(Count(*entry, "llm_request")), errors(Count(*entry, "error")) {}
  static uint64_t Count(const CatalogEntry& e, absl::string_view type) { return e.Count(type); }
  uint64_t llm_calls() const { return llm; }
  double duration_ms() const { return (e->last_timestamp - e->first_timestamp) * 1000; }

  const CatalogEntry* e;
  uint64_t llm;
  // `error` events, as agent-strace counts a session's errors (the catalog's
  // own count takes every event flagged as an error, as `query --error`).
  uint64_t errors;
};

// The sessions that called `tool` (its tool_call events, index-pruned).
absl::StatusOr<std::set<std::string>> SessionsCalling(QueryEngine* engine, const std::string& tool) {
  Query q;
  q.types = {"tool_call"};
  q.tools = {tool};
  std::set<std::string> ids;
  EventKeyExtractor extractor;
  EventKeys keys;
  auto n = engine->Run(q, [&](uint64_t, absl::string_view event) {
    if (extractor.Extract(event, &keys, /*validate=*/false).ok()) ids.emplace(keys.session_id);
    return true;
  });
  if (!n.ok()) return n.status();
  return ids;
}

absl::StatusOr<std::vector<Row>> Select(const ListFlags& f, QueryEngine* engine,
                                        const std::vector<CatalogEntry>& catalog) {
  std::optional<double> since, until;
  for (auto [text, out] : {std::pair{&f.since, &since}, std::pair{&f.until, &until}}) {
    if (text->empty()) continue;
    auto t = ParseQueryTime(*text, static_cast<double>(absl::ToUnixMicros(absl::Now())) / 1e6);
    if (!t.ok()) return t.status();
    *out = *t;
  }
  std::optional<std::set<std::string>> calling;
  if (!f.tool.empty()) {
    auto ids = SessionsCalling(engine, f.tool);
    if (!ids.ok()) return ids.status();
    calling = std::move(*ids);
  }
  std::vector<Row> rows;
  for (const CatalogEntry& e : catalog) {
    if (!f.agent.empty() && e.agent != f.agent) continue;
    if (since && (!e.has_timestamp || e.first_timestamp < *since)) continue;
    if (until && (!e.has_timestamp || e.first_timestamp >= *until)) continue;
    if (calling && calling->count(e.id) == 0) continue;
    Row row(&e);
    if (f.errors_only && row.errors == 0) continue;
    rows.push_back(row);
  }
  // Newest first; ties (and sessions without a time) by id, greater first.
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    if (a.e->first_timestamp != b.e->first_timestamp) return a.e->first_timestamp > b.e->first_timestamp;
    return a.e->id > b.e->id;
  });
  if (f.limit > 0 && rows.size() > f.limit) rows.erase(rows.begin() + f.limit, rows.end());
  return rows;
}

void AppendJsonRow(const Row& r, std::string* out) {
  const CatalogEntry& e = *r.e;
  *out += "{\"session_id\":";
  AppendPyJsonString(out, e.id);
  *out += ",\"agent\":";
  AppendPyJsonString(out, e.agent);
  *out += ",\"started\":";
  if (e.has_timestamp) {
    AppendPyFloat(out, e.first_timestamp);
  } else {
    *out += "null";
  }
  *out += ",\"duration_ms\":";
  if (e.has_timestamp) {
    AppendPyFloat(out, r.duration_ms());
  } else {
    *out += "null";
  }
  absl::StrAppend(out, ",\"events\":", e.events, ",\"tool_calls\":", e.tool_calls,
                  ",\"llm_calls\":", r.llm_calls(), ",\"errors\":", r.errors,
                  ",\"parent_session_id\":");
  AppendPyJsonString(out, e.parent);
  *out += "}";
}

// `s` cut to `width` bytes, "~" marking the cut (ids and agent names are
// ASCII in practice; a cut never splits more than that).
std::string Fit(const std::string& s, size_t width) {
  if (s.size() <= width) return s;
  return s.substr(0, width - 1) + "~";
}

void AppendTable(const std::vector<Row>& rows, std::string* out) {
  const bool colour = UseColour();
  size_t id_w = 7, agent_w = 5;
  for (const Row& r : rows) {
    id_w = std::max(id_w, r.e->id.size());
    agent_w = std::max(agent_w, r.e->agent.size());
  }
  // The fixed columns take 68; the id and the agent share what is left.
  const size_t room = static_cast<size_t>(std::max(TerminalWidth() - 68, 24));
  agent_w = std::min(agent_w, std::max<size_t>(room / 3, 5));
  id_w = std::min(id_w, std::max<size_t>(room - agent_w, 8));
  const std::string head = absl::StrFormat("%-*s  %-*s  %-19s  %9s  %7s  %6s  %5s  %6s  %s",
                                           id_w, "SESSION", agent_w, "AGENT", "STARTED (UTC)",
                                           "DURATION", "EVENTS", "TOOLS", "LLM", "ERRORS", "PARENT");
  absl::StrAppend(out, colour ? "\033[1m" : "", head, colour ? "\033[0m" : "", "\n");
  // Appended piece by piece: 12k rows through StrFormat took longer than
  // the catalog they come from.
  char num[32];
  auto number = [&](uint64_t v, size_t width) {
    const char* end = absl::numbers_internal::FastIntToBuffer(v, num);
    AppendPadded(absl::string_view(num, end - num), width, /*right_align=*/true, out);
  };
  for (const Row& r : rows) {
    const CatalogEntry& e = *r.e;
    AppendPadded(Fit(e.id, id_w), id_w, false, out);
    out->append(2, ' ');
    AppendPadded(Fit(e.agent, agent_w), agent_w, false, out);
    out->append(2, ' ');
    if (e.has_timestamp) {
      AppendUtcSeconds(e.first_timestamp, out);
    } else {
      AppendPadded("-", 19, false, out);
    }
    out->append(2, ' ');
    AppendPadded(e.has_timestamp ? HumanDuration(r.duration_ms()) : "-", 9, true, out);
    out->append(2, ' ');
    number(e.events, 7);
    out->append(2, ' ');
    number(e.tool_calls, 6);
    out->append(2, ' ');
    number(r.llm_calls(), 5);
    out->append(2, ' ');
    if (colour && r.errors > 0) out->append("\033[31m");
    number(r.errors, 6);
    if (colour && r.errors > 0) out->append("\033[0m");
    out->append(2, ' ');
    out->append(e.parent);
    out->push_back('\n');
  }
  absl::StrAppend(out, rows.size(), " session(s)\n");
}

void AppendCsv(const std::vector<Row>& rows, std::string* out) {
  *out += "session_id,agent,started,duration_ms,events,tool_calls,llm_calls,errors,parent_session_id\n";
  for (const Row& r : rows) {
    const CatalogEntry& e = *r.e;
    AppendCsvField(e.id, out);
    *out += ',';
    AppendCsvField(e.agent, out);
    absl::StrAppend(out, ",", e.has_timestamp ? FormatTimestamp(e.first_timestamp) : "", ",",
                    e.has_timestamp ? absl::StrFormat("%.3f", r.duration_ms()) : "", ",", e.events,
                    ",", e.tool_calls, ",", r.llm_calls(), ",", r.errors, ",");
    AppendCsvField(e.parent, out);
    *out += '\n';
  }
}

int RunList(const ListFlags& f) {
  auto log = OpenLog(f.dir, /*read_only=*/true);
  if (!log.ok()) {
    PrintError(log.status());
    return kExitError;
  }
  QueryEngine engine(log->get());
  auto catalog = engine.Catalog([](const Corruption& c) {
    PrintError(absl::StrCat("warning: ", c.ToString(), " (skipped)"));
  });
  if (!catalog.ok()) {
    PrintError(catalog.status());
    return kExitError;
  }
  auto rows = Select(f, &engine, *catalog);
  if (!rows.ok()) {
    PrintError(rows.status());
    return kExitError;
  }
  std::string text;
  switch (ChosenFormat(f.format)) {
    case OutputFormat::kTable:
      AppendTable(*rows, &text);
      break;
    case OutputFormat::kCsv:
      AppendCsv(*rows, &text);
      break;
    case OutputFormat::kJson:
      text += "[";
      for (size_t k = 0; k < rows->size(); ++k) {
        text += k == 0 ? "\n  " : ",\n  ";
        AppendJsonRow((*rows)[k], &text);
      }
      text += rows->empty() ? "]\n" : "\n]\n";
      break;
    case OutputFormat::kNdjson:
      for (const Row& r : *rows) {
        AppendJsonRow(r, &text);
        text += '\n';
      }
      break;
  }
  auto pager = Pager::Start(f.no_pager);
  StdoutWriter out;
  out.Write(text);
  out.Flush();
  const int code = !out.ok() && !out.broken_pipe() ? kExitError
                   : rows->empty()                   ? kExitNegative
                                                     : kExitOk;
  pager.reset();  // waits for it
  ExitNow(code);  // the catalog and the indexes are not freed one by one
}

}  // namespace

Command RegisterList(CLI::App& app) {
  auto f = std::make_shared<ListFlags>();
  CLI::App* sub = app.add_subcommand(
      "list",
      "List the sessions, newest first: id, agent, start, duration, events, tool calls, LLM\n"
      "calls, errors (error events), parent session. From the session catalog (the indexes), not by reading\n"
      "events. A table on a terminal; NDJSON when piped (one object per session with\n"
      "session_id, agent, started, duration_ms, events, tool_calls, llm_calls, errors,\n"
      "parent_session_id). Exit 1 when no session matches.");
  AddLogOption(sub, &f->dir);
  AddNoPagerOption(sub, &f->no_pager);
  sub->add_option("--agent", f->agent, "Only sessions of this agent")->type_name("NAME");
  sub->add_option("--since", f->since, "Only sessions that started at or after TIME")
      ->type_name("TIME");
  sub->add_option("--until", f->until, "Only sessions that started before TIME")->type_name("TIME");
  sub->add_flag("--error", f->errors_only, "Only sessions with errors");
  sub->add_option("--tool", f->tool, "Only sessions that called this tool")->type_name("NAME");
  sub->add_option("--limit", f->limit, "At most N sessions (the newest)")->type_name("N");
  AddFormatOption(sub, &f->format);
  return {sub, [f] { return RunList(*f); }};
}

}  // namespace tracelog::cli
