#ifndef TRACELOG_ENGINE_NDJSON_EXPORTER_H_
#define TRACELOG_ENGINE_NDJSON_EXPORTER_H_

// Writes a log back as agent-strace's NDJSON directory tree
// (<out>/<session_id>/meta.json + events.ndjson, and the other files an
// import stored), and single sessions in agent-strace's export shapes.
//
// A session imported from a directory gets back its files byte for byte:
// events.ndjson from its events and its layout (blank and skipped lines,
// the final newline), meta.json and the other files as stored. Events that
// came later for the same session (appended, or from a stream) follow, one
// per line, in sequence order. A session with no stored meta.json (from a
// stream, or appended) gets one in agent-strace's own form, derived from its
// events.
//
// Session ids and stored names are untrusted: a name that is empty, "." or
// "..", or holds "/" or NUL, is refused (reported, nothing written for it);
// files are created below directories opened without following links
// (engine/io/file_system.h, Directory), so nothing is ever
// written outside the output directory.
// Directories are created 0700, files 0600. Every file written is a new one
// (created exclusively): with `force`, under a temporary name beside its own, renamed
// over whatever is there, so a file planted in the directory (a hard link
// to a file elsewhere, a wider mode, a symbolic link) is replaced, never
// written through.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/log/log.h"
#include "engine/query/query.h"

namespace tracelog {

class AttachmentStore;

struct ExportProgress {
  uint64_t events = 0, events_total = 0;
  uint64_t bytes = 0;  // written
};

struct ExportOptions {
  // The file system the output directory is written to. Default (nullptr):
  // the POSIX one.
  FileSystem* fs = nullptr;
  // Write into an existing, non-empty directory: each file written replaces
  // what is at its name (by a rename; see above). Default: false.
  bool force = false;
  // Only these sessions (full ids); empty: all.
  std::vector<std::string> sessions;
  // The log's attachments, if the caller has loaded them (damage met while
  // loading was reported to its reporter, not counted here); else they are
  // loaded by the export.
  const AttachmentStore* store = nullptr;
  // Only events that match (a filtered export gives back only those lines).
  std::optional<Query> filter;
  std::function<void(const ExportProgress&)> progress;
};

struct ExportReport {
  uint64_t sessions = 0;
  uint64_t events = 0;
  uint64_t files = 0;
  uint64_t bytes = 0;
  std::vector<std::string> refused;  // names not written, with the reason
  uint64_t corruptions = 0;          // damaged ranges met (reported, skipped)
};

absl::StatusOr<ExportReport> ExportDirectory(Log* log, const std::string& out,
                                             const ExportOptions& options,
                                             const CorruptionReporter& reporter = nullptr);

// agent-strace's `export --format`: "ndjson" (each event as TraceEvent.to_json
// writes it), "json" (a list, indent 2) or "csv" (its csv.writer rows).
// The session's events are, for a session imported from a directory, the
// lines of its events.ndjson (whatever session_id they carry; not the lines
// a replace superseded), else the events whose session_id is `session`.
// `store`: the log's attachments if the caller has loaded them (else they
// are loaded here).
absl::Status ExportSession(Log* log, const std::string& session, const std::string& format,
                           const std::function<bool(absl::string_view)>& write,
                           const CorruptionReporter& reporter = nullptr,
                           const AttachmentStore* store = nullptr);

// The meta.json agent-strace has for `session`: the one an import stored,
// else one derived from its events (AgentStraceMetaJson), as the export
// writes it. NotFoundError when the log holds nothing of the session.
absl::StatusOr<std::string> SessionMetaJson(Log* log, const std::string& session,
                                            const CorruptionReporter& reporter = nullptr,
                                            const AttachmentStore* store = nullptr);

// A name that may be a path component of the export: not empty, "." or
// "..", without "/" or NUL. The reason when not.
std::optional<std::string> UnsafeName(absl::string_view name);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_NDJSON_EXPORTER_H_
