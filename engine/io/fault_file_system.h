#ifndef TRACELOG_ENGINE_IO_FAULT_FILE_SYSTEM_H_
#define TRACELOG_ENGINE_IO_FAULT_FILE_SYSTEM_H_

// For tests and the crash-torture tool (tools/crash_torture): an in-memory
// FileSystem that remembers what was synced and can lose the
// rest, as an OS crash or power loss would:
//  - every file keeps the content it had at its last Sync();
//  - a directory's entries (creations, renames, removals) become durable only
//    at SyncDir();
//  - DropUnsyncedData() rolls every file and directory back to its durable
//    state, optionally keeping a torn part of the unsynced bytes;
//  - the next write / sync / allocate can be made to fail, and a space budget
//    turns Allocate() into ENOSPC (ResourceExhaustedError);
//  - with SetSyncFailureForgets(true), a sync that fails marks the file's
//    dirty pages clean without writing them, as ext4 and XFS do after a
//    writeback error ("fsyncgate"): the page cache still holds the bytes
//    (until EvictCleanPages()), but no later Sync() writes them;
//  - a directory made by CreateDir() is durable only once its parent is
//    synced (SyncDir(parent)); top-level directories ("/log") are durable at
//    once.
// Mappings point straight at the in-memory file, like MAP_SHARED.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/io/file_system.h"

namespace tracelog {

class FaultInjectionFileSystem final : public FileSystem {
 public:
  enum class DropMode {
    kUnsynced,       // every unsynced byte is lost
    kTornTail,       // a random prefix of each file's unsynced bytes survives
    kRandomPages,    // each unsynced 4 KiB page survives with probability 1/2
  };

  FaultInjectionFileSystem() = default;

  // Rolls every file and directory back to its durable state. All mappings
  // must have been released (the Log destroyed).
  void DropUnsyncedData(DropMode mode, uint64_t seed);

  // Failure injection; each fires once.
  void FailNextSync(absl::Status s) { Set(&fail_sync_, std::move(s)); }
  void FailNextWrite(absl::Status s) { Set(&fail_write_, std::move(s)); }
  // The next Open of a path ending with `suffix` fails with `s` (EMFILE,
  // ENOMEM: an error that is not damage).
  void FailNextOpen(const std::string& suffix, absl::Status s) {
    std::lock_guard<std::mutex> l(mu_);
    fail_open_suffix_ = suffix;
    fail_open_ = std::move(s);
  }
  // A sync that FailNextSync() fails forgets the file's dirty pages (marks
  // them clean unwritten) instead of leaving them dirty for the next sync.
  void SetSyncFailureForgets(bool on) {
    std::lock_guard<std::mutex> l(mu_);
    forget_on_failed_sync_ = on;
  }
  // Memory pressure: every page of every file that is clean in the page
  // cache is dropped and read back from the disk (its durable bytes). Pages
  // a failed sync forgot thereby lose their unwritten contents. Mappings
  // see the change (they point at the same bytes).
  void EvictCleanPages();
  // Fail every write, sync and allocation until cleared (a dead disk).
  void SetAllFail(bool on);
  // Let `n` more mutating calls (write, sync, directory sync, allocation,
  // creation, rename, removal) through, then behave as SetAllFail(true):
  // the process dies at step n of whatever it is doing.
  void FailAfter(uint64_t n);
  // Total bytes files may reserve; Allocate beyond it is ENOSPC.
  void SetSpaceLimit(uint64_t bytes);
  uint64_t used_space();
  // Bytes of `path` as the file has them now (not the durable state).
  std::string Contents(const std::string& path);
  void SetContents(const std::string& path, const std::string& data);  // and durable
  // The kernel wrote this file back on its own: its current bytes are durable.
  void MarkDurable(const std::string& path);
  uint64_t syncs() const { return syncs_; }
  // Syncs of files whose path ends with `suffix` (".seg": raw segments).
  uint64_t syncs_of(const std::string& suffix);
  // Called (from the writing thread, before the write) with the path of
  // every File::Write: a test can hold a writer there.
  void SetWriteHook(std::function<void(const std::string& path)> hook);
  // Called (from the syncing thread, no lock held) around every File::Sync:
  // with `result` null before it, then with its status: a test can hold a
  // sync back, or what follows it, to order it against another thread's.
  void SetSyncHook(std::function<void(const std::string& path, const absl::Status* result)> hook);
  // Called once, with the directory's path, right after the next ListDir
  // returns (in the listing thread): a test can change the directory
  // between a reader's listing and what it does next.
  void SetAfterNextListHook(std::function<void(const std::string& dir)> hook);
  // Paths whose File::DropCache was called, in order.
  std::vector<std::string> dropped_caches();

  // FileSystem
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override;
  absl::Status CreateDir(const std::string& path) override;
  absl::Status SyncDir(const std::string& path) override;
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Remove(const std::string& path) override;
  absl::StatusOr<bool> Exists(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<FileLock>> Lock(const std::string& path) override;
  // Changes with every DropUnsyncedData(): that is a reboot.
  std::string BootId() override;
  // As SetAllocatesUnwritten() says (default false: the log's zero-ahead
  // thread stays off, and the next write or sync that a test fails is the
  // writer's own).
  bool AllocatesUnwritten(const std::string& dir) override {
    (void)dir;
    return allocates_unwritten_.load();
  }
  void SetAllocatesUnwritten(bool on) { allocates_unwritten_.store(on); }
  // Directories hold files and directories only (no links, no FIFOs).
  absl::StatusOr<std::unique_ptr<Directory>> OpenDirectory(const std::string& path,
                                                           bool create) override;

  static constexpr uint64_t kPageSize = 4096;
  struct Node {
    std::mutex mu;
    std::string data;    // the page cache: what reads and mappings see
    std::string synced;  // the disk
    // What the kernel believes the disk holds: a page whose bytes differ
    // from it (written through a mapping) or that Write() touched is dirty.
    // Equal to `synced` unless a failed sync forgot pages.
    std::string clean;
    std::vector<bool> written;  // pages Write()/ZeroRange() dirtied since the last sync
    int mappings = 0;
    // REQUIRES: mu. Whether page p must be written back.
    bool Dirty(uint64_t p) const;
    void MarkWritten(uint64_t offset, uint64_t len);
  };

 private:
  std::atomic<bool> allocates_unwritten_{false};
  friend class FaultFile;
  friend class FaultDirectory;
  void Set(absl::Status* slot, absl::Status s) {
    std::lock_guard<std::mutex> l(mu_);
    *slot = std::move(s);
  }
  absl::Status TakeFault(absl::Status* slot);
  // Sync's fault: *forget when the kernel forgets the dirty pages.
  absl::Status TakeSyncFault(bool* forget);
  absl::Status CheckAllocate(Node* node, uint64_t size);
  static std::string Parent(const std::string& path);

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Node>> files_;    // current names
  std::map<std::string, std::shared_ptr<Node>> durable_;  // names as of the last SyncDir
  std::set<std::string> dirs_;
  std::set<std::string> durable_dirs_;  // as of their parent's last SyncDir
  bool forget_on_failed_sync_ = false;
  std::set<std::string> locks_;
  absl::Status fail_sync_, fail_write_, fail_open_;
  std::string fail_open_suffix_;
  bool all_fail_ = false;
  uint64_t ops_left_ = UINT64_MAX;  // FailAfter
  // REQUIRES: mu_. Counts one mutating call; false if it must fail.
  bool ConsumeOpLocked() {
    if (all_fail_) return false;
    if (ops_left_ == 0) {
      all_fail_ = true;
      return false;
    }
    if (ops_left_ != UINT64_MAX) --ops_left_;
    return true;
  }
  uint64_t space_limit_ = UINT64_MAX;
  uint64_t syncs_ = 0;
  std::map<std::string, uint64_t> syncs_by_path_;
  uint64_t boots_ = 0;
  std::function<void(const std::string&)> write_hook_;
  std::function<void(const std::string&, const absl::Status*)> sync_hook_;
  std::function<void(const std::string&)> after_list_hook_;
  std::vector<std::string> dropped_caches_;
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_IO_FAULT_FILE_SYSTEM_H_
