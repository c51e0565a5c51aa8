#ifndef TRACELOG_ENGINE_LOG_LOG_CONFIG_H_
#define TRACELOG_ENGINE_LOG_LOG_CONFIG_H_

// The per-log settings file `CONFIG` (text, one `key=value` per line). It
// holds the log's default fsync policy, which `tracelog` uses unless a call
// passes --fsync, and the redaction settings of its writers (append, serve,
// hook). Written once when a log is created, replaced atomically by
// SaveLogConfig (temp file, sync, rename, directory sync); an operator may
// edit it (format-spec/README.md, "CONFIG").

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/log/options.h"

namespace tracelog {

class FileSystem;

inline constexpr char kConfigFileName[] = "CONFIG";

struct LogConfig {
  // `fsync=POLICY`. Default: SyncPolicy::Default().
  SyncPolicy sync = SyncPolicy::Default();
  // `redact=on|off`: writers take secrets out of events before storing them
  // (engine/redact). Default: on.
  bool redact = true;
  // `redact_key=NAME` (one per line, repeatable): more key names whose
  // values are secrets. Default: none.
  std::vector<std::string> redact_keys;
  // `redact_pattern=RE2` (one per line, repeatable): more value patterns.
  // Default: none.
  std::vector<std::string> redact_patterns;
};

// NotFoundError if the log has no CONFIG; InvalidArgumentError naming the
// file and line for a malformed one.
absl::StatusOr<LogConfig> LoadLogConfig(FileSystem* fs, const std::string& dir);
absl::Status SaveLogConfig(FileSystem* fs, const std::string& dir, const LogConfig& config);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_LOG_LOG_CONFIG_H_
