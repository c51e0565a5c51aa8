// tracelog query: indexed queries across sessions. The index prunes on
// session, type, tool, agent, error and time; --grep/--where/--model look at
// the events it lets through.

#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/format/event_keys.h"
#include "engine/ndjson/pyjson.h"
#include "engine/query/event_match.h"
#include "engine/query/query.h"
#include "tools/cli.h"
#include "tools/query_flags.h"

namespace tracelog::cli {
namespace {

struct QueryFlags {
  std::string dir;
  QueryFilterFlags filter;
  ContentFilters content;
  uint64_t limit = 0;
  uint64_t context = 0;
  bool count = false;
  bool sessions = false;
  bool stats = false;
};

// The session_id of a stored event ("" if it has none), read as the index
// reads it.
std::string SessionOf(EventKeyExtractor* extractor, absl::string_view event) {
  EventKeys keys;
  if (!extractor->Extract(event, &keys, /*validate=*/false).ok()) return "";
  return std::string(keys.session_id);
}

// --context N: each session with matches, read again whole (whatever the
// filters), its events printed where within N events of a match. `matches`: per session (in the order of their
// first match), the sequences of its matches.
absl::Status PrintWithContext(QueryEngine* engine, const std::vector<std::string>& order,
                              const absl::flat_hash_map<std::string, absl::flat_hash_set<uint64_t>>& matches,
                              uint64_t context, const CorruptionReporter& reporter,
                              StdoutWriter* out) {
  for (const std::string& id : order) {
    const auto& hits = matches.at(id);
    Query q;
    q.sessions = {id};
    std::deque<std::string> before_bytes;  // up to `context` events not printed yet
    uint64_t after = 0;
    auto n = engine->Run(
        q,
        [&](uint64_t seq, absl::string_view event) {
          if (hits.contains(seq)) {
            for (const std::string& b : before_bytes) out->Write(absl::StrCat(b, "\n"));
            before_bytes.clear();
            out->Write(absl::StrCat(event, "\n"));
            after = context;
          } else if (after > 0) {
            out->Write(absl::StrCat(event, "\n"));
            --after;
          } else if (context > 0) {
            before_bytes.emplace_back(event);
            if (before_bytes.size() > context) before_bytes.pop_front();
          }
          return out->ok();
        },
        nullptr, reporter);
    if (!n.ok()) return n.status();
    if (!out->ok()) break;
  }
  return absl::OkStatus();
}

int RunQuery(const QueryFlags& f) {
  auto log = OpenLog(f.dir, /*read_only=*/true);
  if (!log.ok()) {
    PrintError(log.status());
    return kExitError;
  }
  std::unique_ptr<EventMatcher> matcher;
  if (!f.content.empty() || !f.content.grep_field.empty()) {
    auto m = EventMatcher::Create(f.content);
    if (!m.ok()) {
      PrintError(m.status());
      return kExitError;
    }
    matcher = std::move(*m);
  }
  QueryEngine engine(log->get());
  auto built = BuildQuery(f.filter, &engine);
  if (absl::IsNotFound(built.status())) return kExitNegative;  // nothing can match
  if (!built.ok()) {
    PrintError(built.status());
    return kExitError;
  }
  Query q = *built;
  // With a matcher, the limit counts what it keeps, not what the index
  // lets through.
  q.limit = matcher ? 0 : f.limit;
  uint64_t damage = 0;
  auto reporter = [&](const Corruption& c) {
    ++damage;
    PrintError(absl::StrCat("warning: ", c.ToString(), " (skipped)"));
  };
  QueryStats stats;
  absl::StatusOr<uint64_t> n;
  StdoutWriter out;
  const bool gather = f.sessions || f.context > 0;
  if (f.count && !matcher && !gather) {
    n = engine.Count(q, &stats, reporter);
    if (n.ok()) out.Write(absl::StrCat(*n, "\n"));
  } else {
    uint64_t kept = 0;
    EventKeyExtractor extractor;
    std::vector<std::string> order;  // sessions, by first match
    absl::flat_hash_map<std::string, absl::flat_hash_set<uint64_t>> matches;
    std::vector<BlockEvent> pass;
    auto scanned = engine.RunBatches(
        q,
        [&](absl::Span<const BlockEvent> events) {
          pass.clear();
          for (const BlockEvent& e : events) {
            if (f.limit > 0 && kept >= f.limit) break;
            if (matcher && !matcher->Matches(e.event)) continue;
            ++kept;
            if (gather) {
              std::string id = SessionOf(&extractor, e.event);
              auto [it, added] = matches.try_emplace(id);
              if (added) order.push_back(id);
              it->second.insert(e.sequence);
            } else if (!f.count) {
              pass.push_back(e);
            }
          }
          if (!pass.empty()) out.WriteLines(pass);
          return out.ok() && (f.limit == 0 || kept < f.limit);
        },
        &stats, reporter);
    n = scanned.ok() ? absl::StatusOr<uint64_t>(kept) : scanned;
    if (n.ok() && f.count) {
      out.Write(absl::StrCat(f.sessions ? order.size() : kept, "\n"));
    } else if (n.ok() && f.sessions) {
      // As JSON strings: an id may hold anything, line breaks and
      // terminal escapes included.
      for (const std::string& id : order) {
        std::string line;
        AppendPyJsonString(&line, id);
        out.Write(absl::StrCat(line, "\n"));
      }
    } else if (n.ok() && f.context > 0) {
      if (absl::Status s = PrintWithContext(&engine, order, matches, f.context, reporter, &out);
          !s.ok()) {
        n = s;
      }
    }
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
      "through their index: only blocks that can match are decompressed; --grep, --where and\n"
      "--model then look at the events the index let through.\n"
      "Exit 0 when something matched, 1 when nothing did, 2 on error.\n"
      "TIME: epoch seconds, RFC 3339 (2026-11-23T02:00:00Z), or an age (30s, 15m, 24h, 7d).");
  AddLogOption(sub, &f->dir);
  AddQueryFilterOptions(sub, &f->filter);
  AddContentFilterOptions(sub, &f->content);
  sub->add_option("--limit", f->limit, "Stop after N matches")->type_name("N");
  sub->add_option("--context", f->context,
                  "Also print the N events before and after each match within its session\n"
                  "(output grouped by session, in the order of their first match)")
      ->type_name("N");
  sub->add_flag("--sessions", f->sessions,
                "Print the ids of the sessions that hold a match (by first match), one JSON\n"
                "string a line, instead of events");
  sub->add_flag("--count", f->count,
                "Print only the number of matches (from the index alone where the filters allow;\n"
                "with --sessions, of sessions)");
  sub->add_flag("--stats", f->stats, "Print on stderr how many blocks were read");
  return {sub, [f] { return RunQuery(*f); }};
}

}  // namespace tracelog::cli
