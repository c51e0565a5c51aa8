#ifndef TRACELOG_ENGINE_NDJSON_IMPORTER_H_
#define TRACELOG_ENGINE_NDJSON_IMPORTER_H_

// Imports agent-strace's NDJSON directory format
// (../shared/agent-strace-format.md) and interleaved NDJSON streams into a
// log, within an import the caller has begun: an ImportTransaction
// (import_transaction.h), which commits on success and rolls the import
// back on an error.
//
// A directory: every entry of the root that holds a meta.json is a
// session, named by the entry. Each line of its events.ndjson is an event;
// every other file under it (meta.json, annotations.jsonl, ...) is stored
// verbatim as a session attachment, and the files elsewhere under the root
// (dot-files, datasets/, ...) as root attachments; with the layout of
// events.ndjson (its blank lines, a missing final newline) the export gives
// every file back byte for byte.
//
// The tree is untrusted: it is listed and read through descriptors, every
// directory opened relative to its parent and every file relative to its
// directory, none following a symbolic link. Links and special files met
// by the walk are reported and skipped; a directory or file replaced by a
// link, a FIFO or a device between the walk and its read fails the import
// (FailedPreconditionError naming it), without following or waiting on it.
// Only the root, `src`, is opened as the operator names it.
//
// Importing a directory again: per session, an unchanged events.ndjson adds
// nothing; one that grew (the stored one is a prefix of it, ending with a
// newline) adds its new lines; one whose stored lines changed is a conflict:
// an error, or with `replace` its lines are imported again and the export
// gives the new file (the old events stay in the append-only log and in
// queries). Attachments whose bytes changed are stored again; the newest
// wins.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/io/file_system.h"
#include "engine/log/log.h"

namespace tracelog {

struct ImportProgress {
  uint64_t files = 0, files_total = 0;
  uint64_t bytes = 0, bytes_total = 0;  // of input read
  uint64_t events = 0;
};

struct ImportOptions {
  // The file system the source tree of a directory import is read from.
  // Default (nullptr): the POSIX one.
  FileSystem* fs = nullptr;
  // A line that is not a JSON object (or not UTF-8): an error that fails the
  // import (false), or skipped and counted (true). A skipped line of a
  // directory's events.ndjson is kept verbatim for the export, but is not
  // an event.
  bool skip_bad_lines = false;
  bool replace = false;  // see the conflict rule above
  // Files are read in pieces of this size (memory stays bounded by it and
  // the longest line, whatever the size of the files); tests make it small
  // to cross piece boundaries.
  size_t read_chunk = 4 << 20;
  // Seal on this thread, between batches, the segments the background
  // sealer has not got to (more than one waiting); see Log::SealBacklog.
  bool help_seal = false;
  std::function<void(const ImportProgress&)> progress;  // now and then
  // For tests: called once a directory import has listed the tree and
  // before it opens any file of it (to change the tree in between).
  std::function<void()> after_walk;
};

struct ImportReport {
  uint64_t sessions = 0;           // session directories (or stream sessions) seen
  uint64_t sessions_new = 0;       // not in the log before
  uint64_t sessions_unchanged = 0; // events.ndjson as stored
  uint64_t sessions_grown = 0;     // new lines appended
  uint64_t sessions_replaced = 0;  // conflicts imported again (replace)
  uint64_t events = 0;             // appended
  uint64_t attachments = 0;        // files stored (new or changed)
  uint64_t bytes = 0;              // of input read
  uint64_t bad_lines = 0;          // skipped
  uint64_t skipped_present = 0;    // stream events the log already held (ImportNdjsonStream)
  std::vector<std::string> problems;  // "<file>:<line>: <reason>", skipped lines and files
};

// Imports the tree at `src`. The log must have an import begun
// (ImportTransaction::first_sequence, or what Log::BeginImport returned, is
// `first_sequence`). An error names the file and line (and column where
// known).
absl::StatusOr<ImportReport> ImportDirectory(Log* log, uint64_t first_sequence,
                                             const std::string& src, const ImportOptions& options);

// Imports an NDJSON stream read from `in` (its path() names it in
// messages; DescriptorFile(0, "stdin") for standard input):
// each non-blank line is an event, of the session its session_id names.
// Idempotent, so that a stream can be imported again after an error that
// left it unclear whether the import was committed: an event whose
// session_id and event_id (both as the key extractor reads them; a missing
// session_id is the session "") are those of an event the log held when
// the import began is skipped (counted in skipped_present), whatever its
// other bytes and however it got into the log. An event without an
// event_id (or with "") cannot be recognised and is always appended; the
// same id in another session is another event; lines repeated within one
// stream are all appended. The ids are looked up through the session
// index, only for the sessions of the stream that the log held, and kept
// in memory for the rest of the import.
absl::StatusOr<ImportReport> ImportNdjsonStream(Log* log, SequentialFile* in,
                                                const ImportOptions& options);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_NDJSON_IMPORTER_H_
