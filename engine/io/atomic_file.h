#ifndef TRACELOG_ENGINE_IO_ATOMIC_FILE_H_
#define TRACELOG_ENGINE_IO_ATOMIC_FILE_H_

// Whole-file helpers over the FileSystem seam.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/io/file_system.h"

namespace tracelog {

// Replaces `path` with `contents` crash-safely: a fresh `path`.tmp is written
// and synced, renamed over `path`, and the directory `dir` synced (unless
// sync_dir is false: the caller syncs it after more renames).
absl::Status WriteFileAtomically(FileSystem* fs, const std::string& dir, const std::string& path,
                                 absl::string_view contents, bool sync_dir = true);

// The whole contents of a file.
absl::StatusOr<std::string> ReadWholeFile(FileSystem* fs, const std::string& path);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_IO_ATOMIC_FILE_H_
