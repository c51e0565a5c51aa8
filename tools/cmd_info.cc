// tracelog info: a cheap summary of the log, without scanning it.

#include <algorithm>
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "engine/format/segment_format.h"
#include "engine/io/atomic_file.h"
#include "engine/io/file_system.h"
#include "engine/log/log_config.h"
#include "engine/server/client.h"
#include "tools/cli.h"

namespace tracelog::cli {
namespace {

struct InfoFlags {
  std::string dir;
};

int RunInfo(const InfoFlags& f) {
  auto log = OpenLog(f.dir, /*read_only=*/true);
  if (!log.ok()) {
    PrintError(log.status());
    return kExitError;
  }
  const LogStats st = (*log)->Stats();
  auto config = LoadLogConfig(DefaultFileSystem(), f.dir);
  const std::string policy = config.ok() ? config->sync.ToString()
                                         : SyncPolicy::Default().ToString() + " (default)";
  const RecoveryReport& rec = (*log)->recovery();
  std::string out;
  absl::StrAppend(&out, "log:              ", f.dir, "\n");
  absl::StrAppend(&out, "format version:   ", kFormatVersion, "\n");
  absl::StrAppend(&out, "fsync policy:     ", policy, "\n");
  if (config.ok() || absl::IsNotFound(config.status())) {
    const LogConfig c = config.ok() ? *config : LogConfig();
    absl::StrAppend(&out, "redaction:        ", c.redact ? "on" : "off");
    if (c.redact && (!c.redact_keys.empty() || !c.redact_patterns.empty())) {
      absl::StrAppend(&out, " (", c.redact_keys.size(), " added key(s), ", c.redact_patterns.size(),
                      " added pattern(s))");
    }
    out += "\n";
  }
  absl::StrAppend(&out, "segments:         ", st.segments, " (", st.sealed_segments, " sealed)\n");
  absl::StrAppend(&out, "events:           ", st.events, "\n");
  absl::StrAppend(&out, "first sequence:   ", st.first_sequence, "\n");
  absl::StrAppend(&out, "last sequence:    ", st.last_sequence, "\n");
  if (st.events > 0) {
    absl::StrAppend(&out, "first timestamp:  ", FormatTimestamp(st.first_timestamp), "\n");
    absl::StrAppend(&out, "last timestamp:   ", FormatTimestamp(st.last_timestamp), "\n");
  }
  absl::StrAppend(&out, "disk bytes:       ", st.disk_bytes, " (segment files, preallocation included)\n");
  absl::StrAppend(&out, "stored bytes:     ", st.stored_bytes, " (segments, indexes, dictionary; without the active segment's unused tail)\n");
  absl::StrAppend(&out, "active used:      ", st.active_used_bytes, " bytes\n");
  absl::StrAppend(&out, "last shutdown:    ", rec.clean_shutdown ? "clean" : "not clean (recovered on next write open)", "\n");
  if (st.gaps > 0) {
    absl::StrAppend(&out, "gaps:             ", st.gaps, " (", st.skipped_sequences,
                    " sequence numbers no event holds: skipped after crashes; see verify)\n");
  }
  if (st.sequence_lease > 0) {
    absl::StrAppend(&out, "sequence lease:   ", st.sequence_lease, "\n");
  }
  for (const std::string& line : rec.Lines()) absl::StrAppend(&out, "recovery:         ", line, "\n");
  // `tracelog hook` failures (format-spec, "Claude Code hooks").
  const auto hook_errors = ReadWholeFile(DefaultFileSystem(), JoinPath(JoinPath(f.dir, "hooks"), "errors"));
  if (hook_errors.ok() && !hook_errors->empty()) {
    absl::StrAppend(&out, "hook errors:      ", std::count(hook_errors->begin(), hook_errors->end(), '\n'),
                    " (", JoinPath(JoinPath(f.dir, "hooks"), "errors"), ")\n");
  }
  // A server holding the log: its counters (format-spec, "Serve protocol").
  if (auto counters = ServerStatsJson(DefaultSocketPath(f.dir)); counters.ok()) {
    absl::StrAppend(&out, "server:           running (tracelog serve on ", DefaultSocketPath(f.dir),
                    ")\n");
    absl::StrAppend(&out, "server counters:  ", *counters, "\n");
  } else if (!absl::IsUnavailable(counters.status())) {
    absl::StrAppend(&out, "server:           ", counters.status().message(), "\n");
  }
  std::fputs(out.c_str(), stdout);
  return kExitOk;
}

}  // namespace

Command RegisterInfo(CLI::App& app) {
  auto f = std::make_shared<InfoFlags>();
  CLI::App* sub = app.add_subcommand(
      "info",
      "Summarise the log: segments, events, bytes, first/last sequence and timestamp, format\n"
      "version, fsync policy. Cheap: reads headers and the checkpoint, not the whole log.");
  AddLogOption(sub, &f->dir);
  return {sub, [f] { return RunInfo(*f); }};
}

}  // namespace tracelog::cli
