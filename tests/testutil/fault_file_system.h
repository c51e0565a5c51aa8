#ifndef TRACELOG_TESTS_TESTUTIL_FAULT_FILE_SYSTEM_H_
#define TRACELOG_TESTS_TESTUTIL_FAULT_FILE_SYSTEM_H_

// An in-memory FileSystem that remembers what was synced and can lose the
// rest, as an OS crash or power loss would:
//  - every file keeps the content it had at its last Sync();
//  - a directory's entries (creations, renames, removals) become durable only
//    at SyncDir();
//  - DropUnsyncedData() rolls every file and directory back to its durable
//    state, optionally keeping a torn part of the unsynced bytes;
//  - the next write / sync / allocate can be made to fail, and a space budget
//    turns Allocate() into ENOSPC (ResourceExhaustedError).
// Mappings point straight at the in-memory file, like MAP_SHARED.

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

namespace tracelog::testing {

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
  // Called (from the writing thread, before the write) with the path of
  // every File::Write: a test can hold a writer there.
  void SetWriteHook(std::function<void(const std::string& path)> hook);
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

  struct Node {
    std::mutex mu;
    std::string data;
    std::string synced;
    int mappings = 0;
  };

 private:
  friend class FaultFile;
  void Set(absl::Status* slot, absl::Status s) {
    std::lock_guard<std::mutex> l(mu_);
    *slot = std::move(s);
  }
  absl::Status TakeFault(absl::Status* slot);
  absl::Status CheckAllocate(Node* node, uint64_t size);
  static std::string Parent(const std::string& path);

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Node>> files_;    // current names
  std::map<std::string, std::shared_ptr<Node>> durable_;  // names as of the last SyncDir
  std::set<std::string> dirs_;
  std::set<std::string> locks_;
  absl::Status fail_sync_, fail_write_;
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
  uint64_t boots_ = 0;
  std::function<void(const std::string&)> write_hook_;
  std::vector<std::string> dropped_caches_;
};

}  // namespace tracelog::testing

#endif  // TRACELOG_TESTS_TESTUTIL_FAULT_FILE_SYSTEM_H_
