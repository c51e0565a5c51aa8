#include "absl/strings/str_cat.h"
#include "engine/io/file_system.h"
#include "engine/log/log_config.h"
#include "tools/cli.h"

namespace tracelog::cli {

absl::StatusOr<std::unique_ptr<Log>> OpenLog(const std::string& dir, bool read_only,
                                             const std::string& fsync_flag,
                                             uint64_t segment_size, const SealOptions* seal,
                                             const SyncPolicy* this_process, int seal_nice,
                                             uint64_t prefault_bytes, bool append_with_pwrite) {
  FileSystem* fs = DefaultFileSystem();
  LogOptions options;
  options.read_only = read_only;
  if (segment_size != 0) options.segment_size = segment_size;
  if (seal != nullptr) options.seal = *seal;
  options.seal_nice = seal_nice;
  if (prefault_bytes != 0) options.prefault_bytes = prefault_bytes;
  options.append_with_pwrite = append_with_pwrite;
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
  if (!fsync_flag.empty()) {
    auto p = SyncPolicy::Parse(fsync_flag);
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
  if (this_process != nullptr) options.sync = *this_process;
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

void PrintRecovery(const RecoveryReport& report) {
  if (!report.Notable()) return;
  for (const std::string& line : report.Lines()) PrintError(absl::StrCat("recovery: ", line));
}

}  // namespace tracelog::cli
