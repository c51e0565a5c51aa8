#ifndef TRACELOG_ENGINE_IO_FILE_SYSTEM_H_
#define TRACELOG_ENGINE_IO_FILE_SYSTEM_H_

// The one file-system seam of the engine. Everything the log does to storage
// goes through these three small interfaces, so tests can substitute an
// in-memory, fault-injecting implementation (tests/testutil/fault_file_system.h)
// that fails chosen calls, drops unsynced data and tears tails.
//
// Errors are absl::Status values whose messages name the path; ENOSPC maps to
// ResourceExhaustedError so callers can tell "disk full" from other failures.

#include <cstdint>
#include <memory>
#include <string>
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
};

// The POSIX implementation (process-wide singleton, thread-safe).
FileSystem* DefaultFileSystem();

// Joins a directory and a name with '/'.
std::string JoinPath(absl::string_view dir, absl::string_view name);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_IO_FILE_SYSTEM_H_
