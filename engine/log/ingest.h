#ifndef TRACELOG_ENGINE_LOG_INGEST_H_
#define TRACELOG_ENGINE_LOG_INGEST_H_

// What every writer does to an event before it appends it (`tracelog
// append`, `serve` over its socket and HTTP, `hook`): the secrets taken out
// (when the log's CONFIG has redaction on, the default) and the event
// prepared. So a secret never reaches a segment (format-spec/README.md,
// "Redaction").

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/log/log.h"
#include "engine/log/log_config.h"
#include "engine/redact/redactor.h"

namespace tracelog {

class FileSystem;

// The file in a log's directory that keeps the redactor's compiled
// matchers for the next writer (Redactor::Compiled; not part of the log:
// removing it costs the next writer a compile).
inline constexpr char kRedactCacheFileName[] = "redact.cache";

// The redactor `config` asks for (its keys and patterns added to the
// built-in rules), or null when it turns redaction off. With `fs`, the
// compiled matchers are loaded from `dir`'s kRedactCacheFileName when they
// fit, and written there (atomically, 0600; a failure to write is ignored)
// when they had to be compiled. InvalidArgumentError naming a pattern that
// does not compile.
absl::StatusOr<std::unique_ptr<Redactor>> IngestRedactor(const LogConfig& config,
                                                         FileSystem* fs = nullptr,
                                                         const std::string& dir = "");

// `event` with its secrets replaced by `redactor` (none when null), then
// prepared (PrepareEvent). When something was replaced the new text is in
// *redacted and out->event views it; otherwise out->event views `event`.
// Returns whether the text changed. An event PrepareEvent refuses gets
// PrepareEvent's error, whatever the redactor thought of it; an event the
// redactor cannot read is refused (never stored as it came).
absl::StatusOr<bool> PrepareIngested(const Redactor* redactor, absl::string_view event,
                                     std::string* redacted, PreparedEvent* out);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_LOG_INGEST_H_
