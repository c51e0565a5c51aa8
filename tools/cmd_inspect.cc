// tracelog inspect SESSION: the session as agent-strace's `inspect` prints
// it: {"session": <meta.json>, "events": [<each event>]}, indented 2.

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "engine/ndjson/exporter.h"
#include "engine/query/query.h"
#include "tools/cli.h"
#include "tools/pager.h"
#include "tools/views.h"

namespace tracelog::cli {
namespace {

struct InspectFlags {
  bool no_pager = false;
  std::string dir;
  std::string session;
};

// `json` (indented from column 0) nested one level deeper: every line after
// the first moves right by two (JSON strings hold no raw line breaks).
std::string Nested(absl::string_view json) {
  return absl::StrReplaceAll(absl::StripTrailingAsciiWhitespace(json), {{"\n", "\n  "}});
}

int RunInspect(const InspectFlags& f) {
  auto log = OpenLog(f.dir, /*read_only=*/true);
  if (!log.ok()) {
    PrintError(log.status());
    return kExitError;
  }
  QueryEngine engine(log->get());
  auto id = ResolveSessionArg(&engine, f.session);
  if (!id.ok()) {
    PrintError(id.status());
    return kExitError;
  }
  auto reporter = [](const Corruption& c) {
    PrintError(absl::StrCat("warning: ", c.ToString(), " (skipped)"));
  };
  auto meta = SessionMetaJson(log->get(), *id, reporter);
  if (!meta.ok()) {
    PrintError(meta.status());
    return kExitError;
  }
  std::string events;
  absl::Status s = ExportSession(log->get(), *id, "json", [&](absl::string_view piece) {
    events.append(piece.data(), piece.size());
    return true;
  }, reporter);
  if (!s.ok()) {
    PrintError(s);
    return kExitError;
  }
  auto pager = Pager::Start(f.no_pager);
  StdoutWriter out;
  out.Write(absl::StrCat("{\n  \"session\": ", Nested(*meta), ",\n  \"events\": ", Nested(events),
                         "\n}\n"));
  out.Flush();
  return !out.ok() && !out.broken_pipe() ? kExitError : kExitOk;
}

}  // namespace

Command RegisterInspect(CLI::App& app) {
  auto f = std::make_shared<InspectFlags>();
  CLI::App* sub = app.add_subcommand(
      "inspect",
      "Print a session as agent-strace's inspect does: one JSON object (indent 2) with its\n"
      "\"session\" (meta.json: as imported, else derived from its events) and its \"events\".");
  AddLogOption(sub, &f->dir);
  AddNoPagerOption(sub, &f->no_pager);
  sub->add_option("session", f->session,
                  "Session id, an unambiguous prefix, or 'latest' (after -- when it starts with -)")
      ->required();
  return {sub, [f] { return RunInspect(*f); }};
}

}  // namespace tracelog::cli
