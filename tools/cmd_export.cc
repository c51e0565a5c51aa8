// tracelog export: the log as agent-strace NDJSON directories, or one session to stdout.

#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "engine/log/attachments.h"
#include "engine/ndjson/exporter.h"
#include "tools/cli.h"
#include "tools/progress.h"
#include "tools/query_flags.h"

namespace tracelog::cli {
namespace {

struct ExportFlags {
  std::string dir;
  std::string out;
  std::string format;
  bool force = false;
  QueryFilterFlags filter;
};

int RunExport(const ExportFlags& f) {
  if (!f.format.empty() && (!f.out.empty() || f.filter.sessions.size() != 1)) {
    PrintError("--format writes one session to stdout: give --session ID and no OUT_DIR");
    return kExitError;
  }
  if (f.format.empty() && f.out.empty()) {
    PrintError("give OUT_DIR, or --session ID --format ndjson|json|csv (see tracelog export --help)");
    return kExitError;
  }
  auto log = OpenLog(f.dir, /*read_only=*/true);
  if (!log.ok()) {
    PrintError(log.status());
    return kExitError;
  }
  uint64_t damage = 0;
  auto reporter = [&](const Corruption& c) {
    ++damage;
    PrintError(absl::StrCat("warning: ", c.ToString(), " (skipped)"));
  };
  QueryEngine engine(log->get());
  // Loaded once for both the export and --session, which names imported
  // session directories as they were (even where their events carry
  // another session_id).
  auto store = AttachmentStore::Load((*log)->file_system(), (*log)->dir(), reporter);
  if (!store.ok()) {
    PrintError(store.status());
    return kExitError;
  }
  auto query = BuildQuery(f.filter, &engine,
                          [&](const std::string& name) { return (*store)->HasSession(name); });
  if (!query.ok()) {
    PrintError(query.status());
    return absl::IsNotFound(query.status()) ? kExitNegative : kExitError;
  }
  if (!f.format.empty() && query->sessions.size() != 1) {
    PrintError("--format writes one session to stdout: give one --session ID");
    return kExitError;
  }
  if (!f.format.empty()) {
    StdoutWriter out;
    absl::Status s = ExportSession(
        log->get(), query->sessions[0], f.format,
        [&](absl::string_view bytes) {
          out.Write(bytes);
          return out.ok();
        },
        reporter, store->get());
    out.Flush();
    if (!s.ok()) {
      PrintError(s);
      return kExitError;
    }
    if (!out.ok() && !out.broken_pipe()) return kExitError;
    return damage > 0 ? kExitNegative : kExitOk;
  }
  ExportOptions options;
  options.force = f.force;
  options.sessions = query->sessions;
  options.store = store->get();
  if (f.filter.Filters()) {
    Query q = *query;
    q.sessions.clear();  // by session is the export's own filter (imported files)
    options.filter = q;
  }
  Progress progress("export");
  if (progress.enabled()) {
    options.progress = [&](const ExportProgress& p) {
      progress.Update(p.bytes, 0, absl::StrFormat("%d of %d events", p.events, p.events_total));
    };
  }
  const absl::Time start = absl::Now();
  auto report = ExportDirectory(log->get(), f.out, options, reporter);
  if (!report.ok()) {
    PrintError(report.status());
    return kExitError;
  }
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  for (const std::string& r : report->refused) PrintError(absl::StrCat("not exported: ", r));
  std::printf("exported %llu session(s): %llu events, %llu files, %.1f MB in %.2f s (%.0f MB/s)\n",
              static_cast<unsigned long long>(report->sessions),
              static_cast<unsigned long long>(report->events),
              static_cast<unsigned long long>(report->files), report->bytes / 1e6, secs,
              secs > 0 ? report->bytes / 1e6 / secs : 0);
  return report->refused.empty() && damage == 0 ? kExitOk : kExitNegative;
}

}  // namespace

Command RegisterExport(CLI::App& app) {
  auto f = std::make_shared<ExportFlags>();
  CLI::App* sub = app.add_subcommand(
      "export",
      "Write the log out as an agent-strace trace directory: OUT_DIR/<session_id>/meta.json and\n"
      "events.ndjson, and the other files an import stored. Sessions imported from a directory\n"
      "come back byte for byte; others get a meta.json derived from their events. Filters pick\n"
      "sessions (--session) or events (the others). A session id that cannot be a directory\n"
      "name ('', '.', '..', '/' or NUL in it) is not exported, and reported. OUT_DIR must be new\n"
      "or empty unless --force.\n"
      "With --format, one session (--session ID) goes to stdout in agent-strace's export shapes:\n"
      "for a session imported from a directory the lines of its events.ndjson (whatever\n"
      "session_id they carry), else the events whose session_id is ID.\n"
      "Exit 0 on success, 1 when a session was not exported or damage was skipped, 2 on error.");
  AddLogOption(sub, &f->dir);
  sub->add_option("OUT_DIR", f->out, "Output directory (created 0700)")->type_name("DIR");
  sub->add_flag("--force", f->force,
                "Write into an existing, non-empty OUT_DIR: each file is written anew (0600) and\n"
                "renamed over what is at its name (a planted link is replaced, not written\n"
                "through); other files are left as they are");
  sub->add_option("--format", f->format, "One session to stdout: ndjson, json or csv")
      ->check(CLI::IsMember({"ndjson", "json", "csv"}))
      ->type_name("ndjson|json|csv");
  AddQueryFilterOptions(sub, &f->filter);
  return {sub, [f] { return RunExport(*f); }};
}

}  // namespace tracelog::cli
