#ifndef TRACELOG_ENGINE_LOG_LOG_CONFIG_H_
#define TRACELOG_ENGINE_LOG_LOG_CONFIG_H_

// The per-log settings file `CONFIG` (text, one `key=value` per line). It
// holds the log's default fsync policy, which `tracelog` uses unless a call
// passes --fsync. Written once when a log is created, replaced atomically by
// SaveLogConfig (temp file, sync, rename, directory sync).

#include <string>

#include "absl/status/statusor.h"
#include "engine/log/options.h"

namespace tracelog {

class FileSystem;

inline constexpr char kConfigFileName[] = "CONFIG";

struct LogConfig {
  SyncPolicy sync = SyncPolicy::Default();
};

// NotFoundError if the log has no CONFIG; InvalidArgumentError naming the
// file and line for a malformed one.
absl::StatusOr<LogConfig> LoadLogConfig(FileSystem* fs, const std::string& dir);
absl::Status SaveLogConfig(FileSystem* fs, const std::string& dir, const LogConfig& config);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_LOG_LOG_CONFIG_H_
