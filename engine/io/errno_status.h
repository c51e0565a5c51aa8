#ifndef TRACELOG_ENGINE_IO_ERRNO_STATUS_H_
#define TRACELOG_ENGINE_IO_ERRNO_STATUS_H_

// The one mapping of a failed system call's errno to an absl::Status, for
// every layer (the POSIX file system, the importer's and exporter's walks,
// the workload writer). The message names the file first:
//   "<path>: <what>: <strerror(err)>"
// The code: ENOSPC and EDQUOT are ResourceExhausted (a full disk is an error
// status, not a failed state: see format-spec, "Durability contract"),
// ENOENT NotFound, EEXIST AlreadyExists; other values as
// absl::ErrnoToStatus maps them (EACCES PermissionDenied, EINVAL
// InvalidArgument, EIO and the rest Internal or Unknown...).

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tracelog {

absl::Status ErrnoStatus(int err, absl::string_view what, absl::string_view path);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_IO_ERRNO_STATUS_H_
