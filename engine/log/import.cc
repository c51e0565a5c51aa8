// Imports: BeginImport writes the IMPORT marker, CommitImport makes the
// import durable and removes it (format-spec/README.md, "Imports and
// attachments").

#include "engine/log/log_impl.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/format/attachment_format.h"
#include "engine/io/atomic_file.h"
#include "engine/io/file_system.h"
#include "engine/log/attachments.h"
#include "engine/log/checkpoint_file.h"
#include "engine/segment/segment.h"

namespace tracelog {

absl::StatusOr<uint64_t> LogImpl::BeginImport() {
  if (options_.read_only) return absl::FailedPreconditionError(dir_ + ": log is open read-only");
  if (failed()) return failed_status();
  AdaptiveMutexLock l(&mu_);
  if (closed_) return absl::FailedPreconditionError(dir_ + ": log is closed");
  if (import_from_ != 0) {
    return absl::FailedPreconditionError(absl::StrCat(dir_, ": an import from sequence ",
                                                      import_from_, " is in progress"));
  }
  if (write_offset_ > kSegmentHeaderSize) {
    if (auto s = RollLocked(0); !s.ok()) return s;
  }
  const uint64_t from = next_seq_;
  if (auto s = WriteFileAtomically(fs_, dir_, JoinPath(dir_, kImportMarkerFileName),
                                   EncodeImportMarker(from));
      !s.ok()) {
    // The marker may be in place (renamed, then the directory sync failed):
    // the next open would roll back, as this import's, every event appended
    // after this error. Take it away durably, or refuse appends until the
    // log is reopened (tools/torture found it: recovery_test.cc).
    absl::Status undo = fs_->Remove(JoinPath(dir_, kImportMarkerFileName));
    if (absl::IsNotFound(undo)) undo = absl::OkStatus();
    if (undo.ok()) undo = fs_->SyncDir(dir_);
    if (!undo.ok()) {
      MutexLock sl(&sync_mu_);  // lock order: mu_, then sync_mu_
      return EnterFailedStateLocked(s, active_->base(), write_offset_, next_seq_, last_ts_);
    }
    return s;
  }
  import_from_ = from;
  return from;
}

absl::Status LogImpl::CommitImport(bool* committed) {
  if (committed != nullptr) *committed = false;
  {
    AdaptiveMutexLock l(&mu_);
    if (import_from_ == 0) return absl::FailedPreconditionError(dir_ + ": no import in progress");
  }
  {
    // After the commit the active segment may be appended to and recovered
    // like any other: a recycled one gets a zero tail, as a new one has.
    // A side sync: a failure may have dropped appended pages.
    auto zero_tail = [this]() -> absl::Status {
      AdaptiveMutexLock l(&mu_);
      return active_->recycled() ? active_->ZeroTail(write_offset_) : absl::OkStatus();
    };
    if (auto s = SideSync(zero_tail); !s.ok()) return s;
  }
  // Durable whatever the policy: the import is acknowledged as a whole.
  if (auto s = SyncThrough(set_.published_seq()); !s.ok()) return s;
  {
    // The active segment was created for the import (not synced then) and
    // may hold no event, so SyncThrough had nothing to wait for: its header
    // must be on disk before the directory sync makes its name durable, or a
    // power loss leaves a 0-byte segment (tools/torture: recovery_test.cc).
    std::shared_ptr<Segment> active;
    {
      AdaptiveMutexLock l(&mu_);
      active = active_;
    }
    // A side sync: a failure may have dropped appended pages.
    if (auto s = SideSync([&] { return active->Sync(); }); !s.ok()) return s;
  }
  if (auto s = fs_->SyncDir(dir_); !s.ok()) return s;  // its pack's rename, its segments
  if (auto s = fs_->Remove(JoinPath(dir_, kImportMarkerFileName)); !s.ok()) return s;
  // Committed: the import is the log's now, whether or not the sync works.
  if (committed != nullptr) *committed = true;
  const absl::Status synced = fs_->SyncDir(dir_);
  AdaptiveMutexLock l(&mu_);
  import_from_ = 0;
  RemoveSparesLocked();
  return synced;
}

}  // namespace tracelog
