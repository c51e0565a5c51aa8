#include "engine/log/log_config.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/io/atomic_file.h"
#include "engine/io/file_system.h"

namespace tracelog {

absl::StatusOr<LogConfig> LoadLogConfig(FileSystem* fs, const std::string& dir) {
  const std::string path = JoinPath(dir, kConfigFileName);
  auto file = fs->Open(path, OpenMode::kRead);
  if (!file.ok()) {
    if (absl::IsNotFound(file.status())) return absl::NotFoundError(path + ": no config");
    return file.status();
  }
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  std::string text;
  if (auto s = (*file)->Read(0, *size, &text); !s.ok()) return s;
  LogConfig config;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    // `key=value`; spaces around '=' are ignored (`redact = off`).
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    kv.first = absl::StripAsciiWhitespace(kv.first);
    kv.second = absl::StripAsciiWhitespace(kv.second);
    if (kv.first == "fsync") {
      auto p = SyncPolicy::Parse(kv.second);
      if (!p.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ":", line_no, ": ", p.status().message()));
      config.sync = *p;
    } else if (kv.first == "redact") {
      if (kv.second != "on" && kv.second != "off") {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ":", line_no, ": redact must be 'on' or 'off', not '", kv.second, "'"));
      }
      config.redact = kv.second == "on";
    } else if (kv.first == "redact_key" || kv.first == "redact_pattern") {
      if (kv.second.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(path, ":", line_no, ": ", kv.first, " is empty"));
      }
      (kv.first == "redact_key" ? config.redact_keys : config.redact_patterns)
          .emplace_back(kv.second);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_no, ": unknown setting '", kv.first, "'"));
    }
  }
  return config;
}

absl::Status SaveLogConfig(FileSystem* fs, const std::string& dir, const LogConfig& config) {
  const std::string path = JoinPath(dir, kConfigFileName);
  // Settings at their defaults are not written: a log whose CONFIG holds
  // only `fsync` stays writable by versions that know nothing else.
  std::string text = absl::StrCat("# tracelog log settings (format-spec/README.md, \"CONFIG\")\nfsync=",
                                  config.sync.ToString(), "\n");
  if (!config.redact) text += "redact=off\n";
  for (const std::string& k : config.redact_keys) absl::StrAppend(&text, "redact_key=", k, "\n");
  for (const std::string& p : config.redact_patterns) absl::StrAppend(&text, "redact_pattern=", p, "\n");
  return WriteFileAtomically(fs, dir, path, text);
}

}  // namespace tracelog
