#ifndef TRACELOG_ENGINE_NDJSON_LINE_READER_H_
#define TRACELOG_ENGINE_NDJSON_LINE_READER_H_

// Lines of an NDJSON stream (a pipe or a file), read in large chunks with
// memory bounded by the chunk size and the longest line.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tracelog {

struct NdjsonLine {
  absl::string_view text;  // without its "\n"
  uint64_t number = 0;     // 1-based
};

// Reads `fd` to its end and calls `fn` with the complete lines of each
// chunk read (and, at the end, the last line if it has no "\n"). The views
// stay valid until `fn` returns. `fn` returns false to stop early.
// `what` names the input in error messages ("stdin", a path).
absl::Status ForEachLineChunk(int fd, const std::string& what,
                              const std::function<bool(const std::vector<NdjsonLine>&)>& fn,
                              size_t chunk_size = 4 << 20);

// True for a line of blanks only (" \t\r").
bool IsBlankLine(absl::string_view line);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_NDJSON_LINE_READER_H_
