#ifndef TRACELOG_ENGINE_LOG_ATTACHMENTS_H_
#define TRACELOG_ENGINE_LOG_ATTACHMENTS_H_

// A log's attachments: what imports stored besides events, in one pack file
// per import (engine/format/attachment_format.h). AttachmentPackWriter
// writes the pack of an import in progress; AttachmentStore reads the
// committed packs, later ones superseding earlier ones name by name.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/format/attachment_format.h"
#include "engine/format/checksum.h"
#include "engine/io/file_system.h"
#include "engine/segment/segment_scanner.h"

namespace tracelog {

// The first sequence of the import in progress in `dir` (its IMPORT marker),
// or nullopt when there is none; `names` is the directory's listing.
// DataLossError naming the file when the marker is unreadable.
absl::StatusOr<std::optional<uint64_t>> ImportInProgress(FileSystem* fs, const std::string& dir,
                                                         const std::vector<std::string>& names);

class AttachmentPackWriter {
 public:
  // Creates <dir>/<first_sequence>.attach.tmp.
  static absl::StatusOr<std::unique_ptr<AttachmentPackWriter>> Create(FileSystem* fs,
                                                                      const std::string& dir,
                                                                      uint64_t first_sequence);
  ~AttachmentPackWriter();  // removes the temporary file unless Finish succeeded
  absl::Status Add(const AttachRecord& record);
  // A record streamed in pieces (a file of any size, through a bounded
  // buffer): BeginRecord, AppendContent as often as needed, EndRecord. No
  // other call in between.
  absl::Status BeginRecord(AttachKind kind, absl::string_view session, absl::string_view name);
  absl::Status AppendContent(absl::string_view bytes);
  // Writes the record's header; InvalidArgumentError when it grew too large
  // (see AttachRecordFits).
  absl::Status EndRecord();
  uint64_t records() const { return records_; }
  // Writes the header, syncs, renames the file to <first_sequence>.attach
  // (the caller syncs the directory: Log::CommitImport does). With no
  // record, removes the file instead.
  absl::Status Finish();

 private:
  AttachmentPackWriter(FileSystem* fs, std::string dir, uint64_t first, std::unique_ptr<File> f);
  absl::Status Flush();
  absl::Status Append(absl::string_view bytes);  // through buffer_

  FileSystem* const fs_;
  const std::string dir_;
  const uint64_t first_;
  const std::string tmp_path_;
  std::unique_ptr<File> file_;
  std::string buffer_;
  uint64_t offset_;
  uint64_t records_ = 0;
  bool finished_ = false;
  // The record being streamed (BeginRecord..EndRecord).
  bool in_record_ = false;
  uint64_t record_at_ = 0;       // file offset of its header
  uint64_t record_payload_ = 0;  // payload bytes so far
  std::string record_what_;      // "<session>/<name>", for messages
  Checksum64Stream record_sum_;
};

// Rewrites the pack of the import that began at `first` without the
// records of the sessions `keep_session` rejects, and without its root
// files if no session record stays and `keep_roots` is false (damaged
// records are kept as they are): crash-safely, a new `<first>.attach.tmp`
// synced and renamed over the pack, or the pack removed when nothing is
// kept (the caller syncs the directory). *changed says whether the pack
// changed. A damaged pack header leaves the pack as it is.
absl::Status PruneAttachmentPack(FileSystem* fs, const std::string& dir, uint64_t first,
                                 const std::function<bool(const std::string&)>& keep_session,
                                 bool keep_roots, bool* changed);

class AttachmentStore {
 public:
  struct Entry {
    AttachKind kind = AttachKind::kSessionFile;
    std::string session;
    std::string name;
    std::string path;      // of its pack
    uint64_t offset = 0;   // of its record
    uint64_t size = 0;     // record header and payload
    uint64_t content_hash = 0;  // XXH3-64 of the content
  };
  // Reads every committed pack of `dir` (none while IMPORT names it).
  // A damaged record is reported and left out; an I/O error fails.
  static absl::StatusOr<std::unique_ptr<AttachmentStore>> Load(
      FileSystem* fs, const std::string& dir, const CorruptionReporter& reporter = nullptr);

  // The latest files of a session (kind kSessionFile), by name.
  const std::map<std::string, Entry>* SessionFiles(const std::string& session) const;
  // The latest files of the imported trees' roots, by relative path.
  const std::map<std::string, Entry>& RootFiles() const { return root_; }
  // The latest events layout of a session, if it was imported from a
  // directory.
  const EventsLayout* Layout(const std::string& session) const;
  const std::map<std::string, EventsLayout>& Layouts() const { return layouts_; }
  // Sessions that have files or a layout.
  std::vector<std::string> Sessions() const;
  // Whether `session` is one of them.
  bool HasSession(const std::string& session) const {
    return files_.count(session) > 0 || layouts_.count(session) > 0;
  }

  // Streams the content of an entry to `sink` in pieces of at most 4 MiB,
  // checking it against its record's checksum as it goes: DataLossError
  // naming the pack and offset when they differ, which the sink learns only
  // at the end (it must then discard what it got). A sink's error stops it.
  absl::Status ReadTo(const Entry& e,
                      const std::function<absl::Status(absl::string_view)>& sink) const;

 private:
  explicit AttachmentStore(FileSystem* fs) : fs_(fs) {}
  FileSystem* const fs_;
  std::map<std::string, std::map<std::string, Entry>> files_;  // by session, then name
  std::map<std::string, Entry> root_;
  std::map<std::string, EventsLayout> layouts_;
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_LOG_ATTACHMENTS_H_
