#include <utility>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "engine/io/file_system.h"
#include "engine/log/ingest.h"
#include "engine/log/log_config.h"
#include "tools/cli.h"

namespace tracelog::cli {

absl::StatusOr<std::unique_ptr<Log>> OpenLog(const std::string& dir, bool read_only,
                                             const LogOverrides& overrides) {
  FileSystem* fs = DefaultFileSystem();
  LogOptions options;
  options.read_only = read_only;
  if (overrides.segment_size != 0) options.segment_size = overrides.segment_size;
  if (overrides.seal.has_value()) options.seal = *overrides.seal;
  if (read_only) {
    auto exists = fs->Exists(dir);
    if (!exists.ok()) return exists.status();
    if (!*exists) {
      return absl::NotFoundError(
          absl::StrCat("no log at ", dir, " (use --log DIR or set TRACELOG_DIR)"));
    }
    return Log::Open(dir, options);
  }
  std::optional<SyncPolicy> flag;
  if (!overrides.fsync.empty()) {
    auto p = SyncPolicy::Parse(overrides.fsync);
    if (!p.ok()) return p.status();
    flag = *p;
  }
  auto config = LoadLogConfig(fs, dir);
  if (!config.ok() && !absl::IsNotFound(config.status())) return config.status();
  if (config.ok()) {
    options.sync = flag.value_or(config->sync);
  } else {
    options.sync = flag.value_or(SyncPolicy::Default());
  }
  const SyncPolicy recorded = options.sync;
  if (overrides.this_process) options = overrides.this_process(std::move(options));
  auto log = Log::Open(dir, options);
  if (!log.ok()) return log.status();
  PrintRecovery((*log)->recovery());
  if (!config.ok()) {
    LogConfig fresh;
    fresh.sync = recorded;
    if (auto s = SaveLogConfig(fs, dir, fresh); !s.ok()) return s;
  }
  return log;
}

absl::StatusOr<std::unique_ptr<Redactor>> OpenRedactor(const std::string& dir, bool no_redact) {
  if (no_redact) return std::unique_ptr<Redactor>();
  auto config = LoadLogConfig(DefaultFileSystem(), dir);
  if (!config.ok() && !absl::IsNotFound(config.status())) return config.status();
  auto redactor = IngestRedactor(config.ok() ? *config : LogConfig(), DefaultFileSystem(), dir);
  if (!redactor.ok()) {
    return absl::Status(redactor.status().code(),
                        absl::StrCat(JoinPath(dir, kConfigFileName), ": ", redactor.status().message()));
  }
  return redactor;
}

void AddNoRedactOption(CLI::App* sub, bool* no_redact) {
  sub->add_flag("--no-redact", *no_redact,
                "Store events as they come, secrets included. By default the log's writers\n"
                "replace secrets (key names such as password/token/api_key, and values that look\n"
                "like keys, tokens, JWTs, private keys, passwords in URLs and commands) with\n"
                "\"[REDACTED]\" before anything is written; `redact=off` in the log's CONFIG\n"
                "turns it off for every writer (format-spec/README.md, \"Redaction\")");
}

void PrintRecovery(const RecoveryReport& report) {
  if (!report.Notable()) return;
  for (const std::string& line : report.Lines()) PrintError(absl::StrCat("recovery: ", line));
}

}  // namespace tracelog::cli
