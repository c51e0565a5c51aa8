// tracelog query: indexed queries across sessions.

#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "engine/query/query.h"
#include "tools/cli.h"
#include "tools/query_flags.h"

namespace tracelog::cli {
namespace {

struct QueryFlags {
  std::string dir;
  QueryFilterFlags filter;
  uint64_t limit = 0;
  bool count = false;
  bool stats = false;
};

int RunQuery(const QueryFlags& f) {
  auto log = OpenLog(f.dir, /*read_only=*/true);
  if (!log.ok()) {
    PrintError(log.status());
    return kExitError;
  }
  QueryEngine engine(log->get());
  auto built = BuildQuery(f.filter, &engine);
  if (absl::IsNotFound(built.status())) return kExitNegative;  // nothing can match
  if (!built.ok()) {
    PrintError(built.status());
    return kExitError;
  }
  Query q = *built;
  q.limit = f.limit;
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
    n = engine.RunBatches(
        q,
        [&](absl::Span<const BlockEvent> events) {
          out.WriteLines(events);
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
  AddQueryFilterOptions(sub, &f->filter);
  sub->add_option("--limit", f->limit, "Stop after N events")->type_name("N");
  sub->add_flag("--count", f->count,
                "Print only the number of matches (from the index alone where the filters allow)");
  sub->add_flag("--stats", f->stats, "Print on stderr how many blocks were read");
  return {sub, [f] { return RunQuery(*f); }};
}

}  // namespace tracelog::cli
