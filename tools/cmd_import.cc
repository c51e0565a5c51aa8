// tracelog import: agent-strace NDJSON directories and NDJSON streams into the log.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "engine/ndjson/import_transaction.h"
#include "engine/ndjson/importer.h"
#include "tools/cli.h"
#include "tools/progress.h"

namespace tracelog::cli {
namespace {

struct ImportFlags {
  std::string dir;
  std::string src;
  std::string ndjson;
  std::string on_error = "abort";
  bool replace = false;
  bool no_seal = false;
  int level = 0;  // 0: the default (SealOptions::level)
};

// The warnings to stderr and the summary line to stdout.
void PrintReport(const ImportReport& report, double secs) {
  for (const std::string& p : report.problems) PrintError(absl::StrCat("warning: ", p));
  std::string skipped;
  if (report.skipped_present > 0) {
    absl::StrAppend(&skipped, "; skipped ", report.skipped_present,
                    " event(s) already in the log");
  }
  if (report.bad_lines > 0) absl::StrAppend(&skipped, "; skipped ", report.bad_lines, " bad line(s)");
  std::printf(
      "imported %llu session(s) (%llu new, %llu unchanged, %llu grown, %llu replaced): "
      "%llu events, %llu attachment file(s), %.1f MB in %.2f s (%.0f MB/s)%s\n",
      static_cast<unsigned long long>(report.sessions),
      static_cast<unsigned long long>(report.sessions_new),
      static_cast<unsigned long long>(report.sessions_unchanged),
      static_cast<unsigned long long>(report.sessions_grown),
      static_cast<unsigned long long>(report.sessions_replaced),
      static_cast<unsigned long long>(report.events),
      static_cast<unsigned long long>(report.attachments), report.bytes / 1e6, secs,
      secs > 0 ? report.bytes / 1e6 / secs : 0, skipped.c_str());
}

// CommitImport failed after its commit point (the IMPORT marker was
// removed, then the directory sync failed): the import IS in the log, and
// nothing may be rolled back. Says so, with the summary, and exits with
// an error for the sync.
int ReportCommittedWithError(Log* log, const absl::Status& st, const ImportReport& report,
                             bool stream, double secs) {
  PrintError(st);
  PrintError(absl::StrCat(
      "the import IS committed (", report.events,
      " events are in the log and readers see them), but the log directory could not be synced "
      "after its IMPORT marker was removed: until the directory reaches the disk, a power loss "
      "could still roll the import back. Importing the same ",
      stream ? "stream again skips the events already in the log"
             : "directory again adds only what is missing",
      "."));
  log->Close().IgnoreError();  // the failed sync is the error reported
  PrintReport(report, secs);
  return kExitError;
}

int RunImport(const ImportFlags& f) {
  if (f.src.empty() == f.ndjson.empty()) {
    PrintError("give either SRC_DIR or --ndjson FILE|- (see tracelog import --help)");
    return kExitError;
  }
  int fd = -1;
  std::string what = f.ndjson;
  if (!f.ndjson.empty()) {
    if (f.ndjson == "-") {
      fd = 0;
      what = "stdin";
    } else {
      fd = ::open(f.ndjson.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        PrintError(absl::StrCat(f.ndjson, ": ", std::strerror(errno)));
        return kExitError;
      }
    }
  }
  // Opened for a bulk import (BulkImportOptions), under `never` for this
  // process only: the recorded policy stays the log's.
  LogOverrides o;
  SealOptions& seal = o.seal.emplace();
  if (f.level != 0) seal.level = f.level;
  o.this_process = BulkImportOptions;
  auto opened = OpenLog(f.dir, /*read_only=*/false, o);
  if (!opened.ok()) {
    PrintError(opened.status());
    return kExitError;
  }
  std::unique_ptr<Log> log = std::move(*opened);
  const absl::Time start = absl::Now();
  auto tx = ImportTransaction::Begin(log.get());
  if (!tx.ok()) {
    PrintError(tx.status());
    return kExitError;
  }
  Progress progress("import");
  ImportOptions options;
  options.skip_bad_lines = f.on_error == "skip";
  options.replace = f.replace;
  options.help_seal = !f.no_seal;
  if (progress.enabled()) {
    options.progress = [&](const ImportProgress& p) {
      progress.Update(p.bytes, p.bytes_total,
                      p.files_total > 0
                          ? absl::StrFormat("%d/%d files, %d events", p.files, p.files_total, p.events)
                          : absl::StrFormat("%d events", p.events));
    };
  }
  absl::StatusOr<ImportReport> report =
      fd >= 0 ? ImportNdjsonStream(log.get(), DescriptorFile(fd, what).get(), options)
              : ImportDirectory(log.get(), tx->first_sequence(), f.src, options);
  if (fd > 0) ::close(fd);
  absl::Status st = report.status();
  if (st.ok()) {
    ImportCommitOptions commit;
    commit.seal = !f.no_seal;
    st = tx->Commit(commit);
    if (!tx->seal_status().ok()) {
      PrintError(absl::StrCat("warning: sealing failed: ", tx->seal_status().message(),
                              " (the import goes on; sealing is tried again later)"));
    }
  }
  if (!st.ok() && tx->committed()) {
    return ReportCommittedWithError(log.get(), st, *report, fd >= 0,
                                    absl::ToDoubleSeconds(absl::Now() - start));
  }
  if (!st.ok()) {
    PrintError(st);
    const absl::Status r = tx->RollBack();
    PrintRecovery(tx->rollback_recovery());
    if (!r.ok()) {
      PrintError(absl::StrCat("rolling the import back: ", r.message(),
                              " (the next open for writing rolls it back)"));
    } else {
      PrintError("nothing was imported: the log is as it was");
    }
    return absl::IsInvalidArgument(st) || absl::IsFailedPrecondition(st) ? kExitNegative
                                                                          : kExitError;
  }
  if (auto s = log->Close(); !s.ok()) {
    PrintError(s);
    return kExitError;
  }
  PrintReport(*report, absl::ToDoubleSeconds(absl::Now() - start));
  return report->bad_lines > 0 ? kExitNegative : kExitOk;
}

}  // namespace

Command RegisterImport(CLI::App& app) {
  auto f = std::make_shared<ImportFlags>();
  CLI::App* sub = app.add_subcommand(
      "import",
      "Import an agent-strace trace directory (every entry of SRC_DIR that holds a meta.json is a\n"
      "session: the lines of its events.ndjson become events, its other files and the files at\n"
      "the root are kept verbatim, so `tracelog export` gives every file back byte for byte), or\n"
      "an NDJSON stream of interleaved sessions (--ndjson). All or nothing: on an error nothing\n"
      "is imported; other writers wait for the log's lock meanwhile.\n"
      "Importing a directory again: per session, an unchanged events.ndjson adds nothing, one\n"
      "that grew adds its new lines, one whose lines changed is a conflict (an error; with\n"
      "--replace its lines are imported again: the old events stay in queries, export writes the\n"
      "new file). Changed files are stored again. A stream is appended but for the events\n"
      "the log already holds (same session_id and event_id; events without an event_id are\n"
      "always appended), so importing a stream again adds only what is missing. If the commit\n"
      "fails after its point of no return, the error says the import IS committed.\n"
      "Exit 0 on success, 1 when bad lines were skipped or bad input stopped the import, 2 on an\n"
      "I/O or usage error.");
  AddLogOption(sub, &f->dir);
  sub->add_option("SRC_DIR", f->src, "agent-strace trace directory (e.g. .agent-traces)")
      ->type_name("DIR");
  sub->add_option("--ndjson", f->ndjson, "Import an NDJSON stream from FILE, or - for stdin")
      ->type_name("FILE|-");
  sub->add_option("--on-error", f->on_error,
                  "On a line that is not a JSON object (or not UTF-8), or a meta.json that is not\n"
                  "JSON: abort (import nothing) or skip (report it and go on; a skipped line of\n"
                  "an events.ndjson is kept verbatim for export, but is not an event)")
      ->check(CLI::IsMember({"abort", "skip"}))
      ->type_name("abort|skip");
  sub->add_flag("--replace", f->replace,
                "Import again the sessions whose events.ndjson changed other than by growing");
  sub->add_flag("--no-seal", f->no_seal,
                "Do not seal what was imported before returning (writers seal it later)");
  sub->add_option("--level", f->level,
                  "zstd level of the segments the import seals (default 3; level 1 took 4-17 %\n"
                  "less time on the benchmark machine, for ~2 % more bytes stored: bench/RESULTS.md)")
      ->type_name("N")
      ->check(CLI::Range(-7, 22));
  return {sub, [f] { return RunImport(*f); }};
}

}  // namespace tracelog::cli
