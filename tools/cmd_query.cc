// tracelog query: indexed queries across sessions.

#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "engine/query/query.h"
#include "tools/cli.h"

namespace tracelog::cli {
namespace {

struct QueryFlags {
  std::string dir;
  std::vector<std::string> sessions, types, tools, agents;
  bool error = false;
  std::string since, until;
  uint64_t limit = 0;
  bool count = false;
  bool stats = false;
};

// "a,b" and repeated flags both give lists.
std::vector<std::string> SplitList(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const std::string& s : in) {
    for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipEmpty())) {
      out.emplace_back(part);
    }
  }
  return out;
}

int RunQuery(const QueryFlags& f) {
  const double now = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  Query q;
  q.types = SplitList(f.types);
  q.tools = SplitList(f.tools);
  q.agents = SplitList(f.agents);
  q.error = f.error;
  q.limit = f.limit;
  for (const auto& [text, out] : {std::pair{&f.since, &q.since}, std::pair{&f.until, &q.until}}) {
    if (text->empty()) continue;
    auto t = ParseQueryTime(*text, now);
    if (!t.ok()) {
      PrintError(t.status());
      return kExitError;
    }
    *out = *t;
  }
  auto log = OpenLog(f.dir, /*read_only=*/true);
  if (!log.ok()) {
    PrintError(log.status());
    return kExitError;
  }
  QueryEngine engine(log->get());
  for (const std::string& s : SplitList(f.sessions)) {
    auto id = engine.ResolveSession(s);
    if (absl::IsNotFound(id.status())) return kExitNegative;  // nothing can match
    if (!id.ok()) {
      PrintError(id.status());
      return kExitError;
    }
    q.sessions.push_back(*id);
  }
  uint64_t damage = 0;
  auto reporter = [&](const Corruption& c) {
    ++damage;
    PrintError(absl::StrCat("warning: ", c.ToString(), " (skipped)"));
  };
  QueryStats stats;
  absl::StatusOr<uint64_t> n;
  StdoutWriter out;
  if (f.count) {
    n = engine.Count(q, &stats, reporter);
    if (n.ok()) out.Write(absl::StrCat(*n, "\n"));
  } else {
    n = engine.Run(
        q,
        [&](uint64_t, absl::string_view event) {
          out.Write(event);
          out.Write("\n");
          return out.ok();
        },
        &stats, reporter);
  }
  out.Flush();
  if (!n.ok()) {
    PrintError(n.status());
    return kExitError;
  }
  if (f.stats) {
    std::fprintf(stderr,
                 "segments %llu, blocks %llu: %llu decompressed, %llu counted from the index; "
                 "%llu raw records scanned\n",
                 static_cast<unsigned long long>(stats.segments),
                 static_cast<unsigned long long>(stats.blocks_total),
                 static_cast<unsigned long long>(stats.blocks_read),
                 static_cast<unsigned long long>(stats.blocks_counted),
                 static_cast<unsigned long long>(stats.raw_records));
  }
  if (!out.ok() && !out.broken_pipe()) return kExitError;
  return *n > 0 ? kExitOk : kExitNegative;
}

}  // namespace

Command RegisterQuery(CLI::App& app) {
  auto f = std::make_shared<QueryFlags>();
  CLI::App* sub = app.add_subcommand(
      "query",
      "Print the events that match every given filter (a list within one flag matches any of\n"
      "its values), original bytes, one per line, in append order. Sealed segments are read\n"
      "through their index: only blocks that can match are decompressed.\n"
      "Exit 0 when something matched, 1 when nothing did, 2 on error.\n"
      "TIME: epoch seconds, RFC 3339 (2026-11-23T02:00:00Z), or an age (30s, 15m, 24h, 7d).");
  AddLogOption(sub, &f->dir);
  sub->add_option("--session", f->sessions, "Session id, or an unambiguous prefix of one")
      ->type_name("ID,..");
  sub->add_option("--type", f->types, "event_type (session_start, tool_call, error, ...)")
      ->type_name("T,..");
  sub->add_option("--tool", f->tools, "data.tool_name (Bash, Read, ...)")->type_name("NAME,..");
  sub->add_flag("--error", f->error, "Only errors (event_type error, or data.error/is_error set)");
  sub->add_option("--agent", f->agents, "Agent name of the session (from its session_start)")
      ->type_name("NAME,..");
  sub->add_option("--since", f->since, "Events with timestamp >= TIME")->type_name("TIME");
  sub->add_option("--until", f->until, "Events with timestamp < TIME")->type_name("TIME");
  sub->add_option("--limit", f->limit, "Stop after N events")->type_name("N");
  sub->add_flag("--count", f->count,
                "Print only the number of matches (from the index alone where the filters allow)");
  sub->add_flag("--stats", f->stats, "Print on stderr how many blocks were read");
  return {sub, [f] { return RunQuery(*f); }};
}

}  // namespace tracelog::cli
