#ifndef TRACELOG_ENGINE_IO_FILE_SYSTEM_H_
#define TRACELOG_ENGINE_IO_FILE_SYSTEM_H_

// The one file-system seam of the engine. Everything the engine does to
// storage goes through these small interfaces (the log's own files by path,
// an import's source tree and an export's target through Directory), so
// tests can substitute an in-memory, fault-injecting implementation
// (engine/io/fault_file_system.h) that fails chosen calls, drops unsynced
// data and tears tails.
//
// Errors are absl::Status values whose messages name the path; ENOSPC maps to
// ResourceExhaustedError so callers can tell "disk full" from other failures.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tracelog {

// A shared mapping of the first size() bytes of a file. Writes through a
// writable mapping reach the file (page cache) at once, so they survive the
// death of the process; File::Sync() makes them durable. Unmapped on
// destruction; a mapping stays valid after its File is closed.
class Mapping {
 public:
  virtual ~Mapping() = default;
  virtual char* data() const = 0;
  virtual uint64_t size() const = 0;
  // Hint: fault in [offset, offset+len) for writing ahead of the writer, so
  // the append path does not pay the page faults. May do nothing.
  virtual void PrefaultForWrite(uint64_t offset, uint64_t len) = 0;
  // Hint: map [offset, offset+len) for reading in one go (a query about to
  // read those blocks), instead of a page fault per page. May do nothing.
  virtual void PrefaultForRead(uint64_t offset, uint64_t len) { (void)offset, (void)len; }
  // Hint: drop [offset, offset+len) from this process's resident memory
  // (the file keeps every byte; a later access maps it again). May do
  // nothing.
  virtual void ReleaseResident(uint64_t offset, uint64_t len) { (void)offset, (void)len; }
};

class File {
 public:
  virtual ~File() = default;
  virtual const std::string& path() const = 0;
  virtual absl::StatusOr<uint64_t> Size() = 0;
  // Reserves real disk space for [0, size) and extends the file to `size`.
  // ResourceExhaustedError when the disk is full.
  virtual absl::Status Allocate(uint64_t size) = 0;
  // Writes all of `data` at `offset`.
  virtual absl::Status Write(uint64_t offset, absl::string_view data) = 0;
  // Reads up to n bytes at offset into *out (fewer at end of file).
  virtual absl::Status Read(uint64_t offset, uint64_t n, std::string* out) = 0;
  // Makes everything written so far, through Write or a mapping, durable.
  virtual absl::Status Sync() = 0;
  // Sets [offset, offset+len) to zeros, keeping the space reserved.
  virtual absl::Status ZeroRange(uint64_t offset, uint64_t len) = 0;
  // Maps [0, size) shared; writable mappings need a file opened for writing.
  virtual absl::StatusOr<std::unique_ptr<Mapping>> Map(uint64_t size, bool writable) = 0;
  // A hint, after Sync: the file's cached pages are not needed soon; the
  // page cache may let them go. Default: nothing.
  virtual void DropCache() {}
  // Cuts (or extends with zeros) the file to `size` bytes.
  virtual absl::Status Truncate(uint64_t size) = 0;
  // Which file this is (POSIX: device and inode), the same for every File
  // open on it: tells a file from another put at its name meanwhile.
  virtual absl::StatusOr<std::pair<uint64_t, uint64_t>> Identity() = 0;
};

// A file or stream read front to back: an import's input.
class SequentialFile {
 public:
  virtual ~SequentialFile() = default;
  // The path (or a name such as "stdin") for messages.
  virtual const std::string& path() const = 0;
  // Reads up to `n` bytes into `buf`; 0 at the end.
  virtual absl::StatusOr<size_t> Read(char* buf, size_t n) = 0;
  // The next Read starts at `offset` (a file; a stream cannot).
  virtual absl::Status Seek(uint64_t offset) = 0;
  // Hint: the whole file is read soon; the kernel may read it in now.
  // Default: nothing.
  virtual void WillNeed() {}
};

// What a directory entry is, not following a link.
struct EntryInfo {
  enum class Kind { kFile, kDirectory, kSymlink, kOther };
  Kind kind = Kind::kOther;
  uint64_t size = 0;  // of a regular file
};

// A directory of a tree the engine does not own (an import's source, an
// export's target). Each name is one path component, resolved relative to
// the directory without following a link (POSIX: openat with O_NOFOLLOW
// from the directory's descriptor), so an entry replaced by a symbolic
// link after it was listed is refused, never followed, and nothing outside
// the tree is read or written. Errors name the entry's path.
class Directory {
 public:
  virtual ~Directory() = default;
  virtual const std::string& path() const = 0;
  // Names of the entries (no "." or ".."), unsorted.
  virtual absl::StatusOr<std::vector<std::string>> List() = 0;
  // What `name` is; NotFoundError if nothing has that name.
  virtual absl::StatusOr<EntryInfo> Stat(const std::string& name) = 0;
  // The directory `name`, made (0700) first if `create` and missing.
  // FailedPreconditionError when `name` is a symbolic link or not a
  // directory.
  virtual absl::StatusOr<std::unique_ptr<Directory>> OpenDir(const std::string& name,
                                                             bool create) = 0;
  // The regular file `name`, to read. FailedPreconditionError when it is a
  // symbolic link or not a regular file (a FIFO is neither waited on nor
  // read).
  virtual absl::StatusOr<std::unique_ptr<SequentialFile>> OpenRead(const std::string& name) = 0;
  // A new file `name` (mode 0600), to write. AlreadyExistsError when the
  // name is taken, by a symbolic link too.
  virtual absl::StatusOr<std::unique_ptr<File>> Create(const std::string& name) = 0;
  // The existing file `name`, to write; a symbolic link is refused.
  virtual absl::StatusOr<std::unique_ptr<File>> OpenWrite(const std::string& name) = 0;
  // Renames `from` to `to` within this directory, replacing `to`.
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  virtual absl::Status Remove(const std::string& name) = 0;
};

// An exclusive lock on a file, released on destruction.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

enum class OpenMode {
  kRead,            // existing file, read only
  kReadWrite,       // existing file
  kCreateExclusive, // new file (fails if it exists), read-write, mode 0600
  kCreateOrOpen,    // create (0600) if missing, read-write
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) = 0;
  // Creates a directory with mode 0700; OK if it already exists.
  virtual absl::Status CreateDir(const std::string& path) = 0;
  // Makes the directory's entries (creations, renames, removals) durable.
  virtual absl::Status SyncDir(const std::string& path) = 0;
  // Names of the entries of a directory (no "." or ".."), unsorted.
  virtual absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) = 0;
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  virtual absl::Status Remove(const std::string& path) = 0;
  virtual absl::StatusOr<bool> Exists(const std::string& path) = 0;
  // Takes an exclusive lock without waiting; FailedPreconditionError naming
  // the path if another process or Log holds it.
  virtual absl::StatusOr<std::unique_ptr<FileLock>> Lock(const std::string& path) = 0;
  // Identifies the current boot of the machine: the page cache (data written
  // but not synced) survives exactly as long as this stays the same. POSIX:
  // /proc/sys/kernel/random/boot_id; "" if unknown.
  virtual std::string BootId() = 0;
  // Whether Allocate() leaves the blocks of files under directory `dir`
  // unwritten, so that the first write into a block costs its sync a
  // journal commit of the block's conversion (POSIX: ext4 and XFS, by
  // statfs). The log then writes zeros ahead of its writer under `always`
  // (LogTuning::zero_ahead_bytes). Default: false.
  virtual bool AllocatesUnwritten(const std::string& dir) {
    (void)dir;
    return false;
  }
  // The directory at `path` (followed as given: the operator names it),
  // made (0700) first if `create` and missing. InvalidArgumentError when
  // `path` is not a directory.
  virtual absl::StatusOr<std::unique_ptr<Directory>> OpenDirectory(const std::string& path,
                                                                   bool create) = 0;
};

// The POSIX implementation (process-wide singleton, thread-safe).
FileSystem* DefaultFileSystem();

// A stream read from the descriptor `fd`, which the caller keeps open and
// closes (stdin, a pipe); `what` names it in messages. Seek fails on a
// pipe.
std::unique_ptr<SequentialFile> DescriptorFile(int fd, std::string what);

// Joins a directory and a name with '/'.
std::string JoinPath(absl::string_view dir, absl::string_view name);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_IO_FILE_SYSTEM_H_
