#include "engine/log/ingest.h"

#include "absl/strings/str_cat.h"
#include "engine/io/atomic_file.h"
#include "engine/io/file_system.h"

namespace tracelog {

absl::StatusOr<std::unique_ptr<Redactor>> IngestRedactor(const LogConfig& config, FileSystem* fs,
                                                         const std::string& dir) {
  if (!config.redact) return std::unique_ptr<Redactor>();
  RedactOptions o;
  o.extra_keys = config.redact_keys;
  o.extra_patterns = config.redact_patterns;
  const std::string cache = fs == nullptr ? "" : JoinPath(dir, kRedactCacheFileName);
  if (fs != nullptr) {
    if (auto bytes = ReadWholeFile(fs, cache); bytes.ok()) o.compiled = std::move(*bytes);
  }
  auto redactor = Redactor::Create(o);
  if (redactor.ok() && fs != nullptr && !(*redactor)->loaded_compiled()) {
    WriteFileAtomically(fs, dir, cache, (*redactor)->Compiled()).IgnoreError();
  }
  return redactor;
}

absl::StatusOr<bool> PrepareIngested(const Redactor* redactor, absl::string_view event,
                                     std::string* redacted, PreparedEvent* out) {
  if (redactor == nullptr) {
    if (auto s = PrepareEvent(event, out); !s.ok()) return s;
    return false;
  }
  absl::StatusOr<bool> changed = redactor->Redact(event, redacted);
  if (!changed.ok()) {
    // PrepareEvent names what is wrong with the text as every writer does;
    // should it accept what the redactor could not read, the event is
    // refused all the same.
    if (auto s = PrepareEvent(event, out); !s.ok()) return s;
    return absl::InvalidArgumentError(
        absl::StrCat("refused: redaction could not read the event (", changed.status().message(),
                     ")"));
  }
  if (auto s = PrepareEvent(*changed ? absl::string_view(*redacted) : event, out); !s.ok()) {
    return s;
  }
  return *changed;
}

}  // namespace tracelog
