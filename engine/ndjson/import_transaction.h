#ifndef TRACELOG_ENGINE_NDJSON_IMPORT_TRANSACTION_H_
#define TRACELOG_ENGINE_NDJSON_IMPORT_TRANSACTION_H_

// One all-or-nothing import into a log (format-spec/README.md, "Imports and
// attachments"): Log::BeginImport, then ImportDirectory or
// ImportNdjsonStream (importer.h), then Log::SealAll and Log::CommitImport;
// on an error, the import is abandoned and the log reopened for writing,
// which rolls it back.
//
//   auto log = Log::Open(dir, BulkImportOptions(LogOptions()));
//   ...
//   auto tx = ImportTransaction::Begin(log->get());
//   if (!tx.ok()) return tx.status();
//   auto report = ImportDirectory(log->get(), tx->first_sequence(), src, {});
//   if (!report.ok()) return report.status();  // ~ImportTransaction rolls back
//   if (auto s = tx->Commit(); !s.ok()) {
//     if (tx->committed()) ...;  // in the log, though the last sync failed
//     return s;                  // not committed: rolled back
//   }

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/log/log.h"
#include "engine/log/options.h"
#include "engine/log/recovery.h"

namespace tracelog {

// The options of a log opened for a bulk import, from those it would have
// otherwise (`base`, whose sync policy the caller may have recorded in the
// log's CONFIG: this changes it for this process only):
// - sync `never`: the appends need no syncs of their own, since Commit makes
//   all of the import durable at once and until then nothing of it counts;
// - seal_nice 0: the import seals what it appended before it commits (or
//   helps the sealer: ImportOptions::help_seal), so the background sealer
//   runs at normal priority, on the core the import leaves;
// - append_with_pwrite: the pages of the import's new segments are not
//   zero-filled before they are written (LogTuning::append_with_pwrite).
// Everything else of `base` (the seal level, the segment size) is kept.
LogOptions BulkImportOptions(LogOptions base);

struct ImportCommitOptions {
  // Seal the import's raw segments (Log::SealAll) before the commit, which
  // then has little left to sync: a sealed segment is durable on its own,
  // and the raw segments it replaces are deleted without ever being written
  // to disk. Until the commit, readers leave the sealed segments out like
  // the rest of the import; a crash rolls them back with it. A failure to
  // seal does not stop the commit (see ImportTransaction::seal_status).
  // Default: true.
  bool seal = true;
};

// An import begun on a log, committed by Commit or rolled back by RollBack.
// One that is destroyed neither committed nor rolled back is rolled back
// then (ignoring the status): an early return abandons the import.
// Not thread-safe; the log must outlive the transaction until it is
// committed or rolled back. A moved-from transaction may only be destroyed.
class ImportTransaction {
 public:
  // Begins an import on `log` (Log::BeginImport). On an error no import is
  // in progress and `log` is as it was (still open).
  static absl::StatusOr<ImportTransaction> Begin(Log* log);

  ImportTransaction(ImportTransaction&& other) noexcept;
  ImportTransaction& operator=(ImportTransaction&&) = delete;
  ImportTransaction(const ImportTransaction&) = delete;
  ImportTransaction& operator=(const ImportTransaction&) = delete;
  ~ImportTransaction();

  // The sequence of the import's first event (what BeginImport returned;
  // ImportDirectory takes it).
  uint64_t first_sequence() const { return first_sequence_; }

  // Seals (if `options.seal`), then commits (Log::CommitImport). The commit
  // point is the removal of the IMPORT marker: afterwards committed() is
  // true, even if an error is returned (the directory sync after the removal
  // failed: the import is part of the log, but a power loss before the
  // directory reaches the disk may still roll it back), and the transaction
  // does nothing more. An error before that point leaves the import
  // uncommitted: RollBack (or the destructor) abandons it.
  // FailedPreconditionError once committed or rolled back.
  absl::Status Commit(const ImportCommitOptions& options = {});

  // Whether the commit point was passed.
  bool committed() const { return state_ == State::kCommitted; }

  // What SealAll returned in the last Commit (OK if it was not asked for):
  // a failure leaves the segments raw, to be sealed again later, and the
  // commit goes on.
  const absl::Status& seal_status() const { return seal_status_; }

  // Abandons the import: closes the log (ignoring its status: the log is
  // given up either way; the caller still owns the object), then opens its
  // directory for writing as a plain writer would (the log's file system
  // and segment size, the sync policy recorded in its CONFIG or
  // SyncPolicy::Default() if it has none, every other option the default)
  // and closes it again: that open rolls the import back. An error leaves
  // the rollback to the next open for writing. FailedPreconditionError once
  // committed or rolled back.
  absl::Status RollBack();

  // What the open of RollBack recovered (it holds the rolled-back import's
  // first sequence); empty if RollBack did not get as far as opening.
  const RecoveryReport& rollback_recovery() const { return rollback_recovery_; }

 private:
  enum class State { kOpen, kCommitted, kRolledBack };

  ImportTransaction(Log* log, std::string dir, uint64_t first_sequence)
      : log_(log), dir_(std::move(dir)), first_sequence_(first_sequence) {}

  // FailedPreconditionError: the import is committed or rolled back.
  absl::Status NotOpenError() const;

  Log* log_;         // not owned; null once moved from
  std::string dir_;  // the log's, for messages and the reopen
  uint64_t first_sequence_;
  State state_ = State::kOpen;
  absl::Status seal_status_;
  RecoveryReport rollback_recovery_;
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_NDJSON_IMPORT_TRANSACTION_H_
