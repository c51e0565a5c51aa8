#include "engine/ndjson/import_transaction.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/log/log_config.h"

namespace tracelog {

LogOptions BulkImportOptions(LogOptions base) {
  base.sync.kind = SyncPolicy::Kind::kNever;
  base.tuning.seal_nice = 0;
  base.tuning.append_with_pwrite = true;
  return base;
}

absl::StatusOr<ImportTransaction> ImportTransaction::Begin(Log* log) {
  auto first = log->BeginImport();
  if (!first.ok()) return first.status();
  return ImportTransaction(log, log->dir(), *first);
}

ImportTransaction::ImportTransaction(ImportTransaction&& other) noexcept
    : log_(std::exchange(other.log_, nullptr)),
      dir_(std::move(other.dir_)),
      first_sequence_(other.first_sequence_),
      state_(other.state_),
      seal_status_(std::move(other.seal_status_)),
      rollback_recovery_(std::move(other.rollback_recovery_)) {}

ImportTransaction::~ImportTransaction() {
  if (log_ != nullptr && state_ == State::kOpen) RollBack().IgnoreError();
}

absl::Status ImportTransaction::NotOpenError() const {
  return absl::FailedPreconditionError(absl::StrCat(dir_, ": the import from sequence ",
                                                    first_sequence_, " is already ",
                                                    committed() ? "committed" : "rolled back"));
}

absl::Status ImportTransaction::Commit(const ImportCommitOptions& options) {
  if (state_ != State::kOpen) return NotOpenError();
  seal_status_ = options.seal ? log_->SealAll() : absl::OkStatus();
  bool passed = false;
  absl::Status st = log_->CommitImport(&passed);
  if (passed) state_ = State::kCommitted;
  return st;
}

absl::Status ImportTransaction::RollBack() {
  if (state_ != State::kOpen) return NotOpenError();
  state_ = State::kRolledBack;
  FileSystem* fs = log_->file_system();
  LogOptions options;
  options.fs = fs;
  options.segment_size = log_->options().segment_size;
  log_->Close().IgnoreError();  // abandoned whatever Close says
  auto config = LoadLogConfig(fs, dir_);
  if (!config.ok() && !absl::IsNotFound(config.status())) return config.status();
  if (config.ok()) options.sync = config->sync;
  auto again = Log::Open(dir_, options);
  if (!again.ok()) return again.status();
  rollback_recovery_ = (*again)->recovery();
  return (*again)->Close();
}

}  // namespace tracelog
