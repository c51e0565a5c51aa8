// tracelog sessions: the session catalog.

#include <memory>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/query/query.h"
#include "tools/cli.h"

namespace tracelog::cli {
namespace {

struct SessionsFlags {
  std::string dir;
  std::string agent;
};

int RunSessions(const SessionsFlags& f) {
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
  StdoutWriter out;
  out.Write("session\tagent\tfirst\tlast\tevents\ttool_calls\terrors\tparent\tsegments\n");
  uint64_t shown = 0;
  for (const CatalogEntry& e : *catalog) {
    if (!f.agent.empty() && e.agent != f.agent) continue;
    ++shown;
    out.Write(absl::StrCat(e.id, "\t", e.agent, "\t",
                           e.has_timestamp ? FormatTimestamp(e.first_timestamp) : "", "\t",
                           e.has_timestamp ? FormatTimestamp(e.last_timestamp) : "", "\t",
                           e.events, "\t", e.tool_calls, "\t", e.errors, "\t", e.parent, "\t",
                           absl::StrJoin(e.segments, ","), "\n"));
    if (!out.ok()) break;
  }
  out.Flush();
  if (!out.ok() && !out.broken_pipe()) return kExitError;
  return shown > 0 ? kExitOk : kExitNegative;
}

}  // namespace

Command RegisterSessions(CLI::App& app) {
  auto f = std::make_shared<SessionsFlags>();
  CLI::App* sub = app.add_subcommand(
      "sessions",
      "List the session catalog, one tab-separated line per session: id, agent, first and last\n"
      "timestamp, events, tool calls, errors, parent session, and the base sequences of the\n"
      "segments that hold it. Read from the indexes of sealed segments plus a scan of the\n"
      "raw ones (at most a few segments).");
  AddLogOption(sub, &f->dir);
  sub->add_option("--agent", f->agent, "Only sessions of this agent")->type_name("NAME");
  return {sub, [f] { return RunSessions(*f); }};
}

}  // namespace tracelog::cli
