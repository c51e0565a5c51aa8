#ifndef TRACELOG_ENGINE_LOG_RECOVERY_LISTING_H_
#define TRACELOG_ENGINE_LOG_RECOVERY_LISTING_H_

// Rules 0 and 1 of recovery (format-spec/README.md, "Recovery rules"): which
// files of a log directory make up the log. The first step of RecoverLog
// (engine/log/recovery.h), which then scans what is listed.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/format/segment_format.h"
#include "engine/io/file_system.h"
#include "engine/log/recovery.h"

namespace tracelog {

// The smallest record: an event of two bytes ("{}") with five empty keys.
inline constexpr uint64_t kMinRecordSize = RecordSize(5, 2);

struct LogListing {
  // The log's raw and sealed segments and gap files, in base order.
  std::vector<SegmentEntry> entries;
  // Above every sequence a rolled-back import can have used (0: none).
  uint64_t rolled_back_bound = 0;
  // The first sequence of the import in progress when listed (none: nullopt).
  std::optional<uint64_t> import_marker;
};

// Lists the log in `in.dir`. A writer (`in.writable`) also repairs: it rolls
// back an unfinished import (its files, then the dictionaries no sealed
// segment names, then its marker), removes files whose creation never
// finished, raw segments whose sealed form is complete and indexes without a
// sealed file, and sets aside a damaged sealed file whose raw segment is
// still there. A reader changes nothing. What is found and done goes to
// `report`; an error that is not damage fails the listing.
absl::StatusOr<LogListing> ListLog(const RecoveryInput& in, RecoveryReport* report);

// Removes a file recovery does not keep (already gone: fine), and notes it
// in `report`.
absl::Status RemoveRecoveredFile(FileSystem* fs, const std::string& path,
                                 RecoveryReport* report);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_LOG_RECOVERY_LISTING_H_
