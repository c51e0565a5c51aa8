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
#include "engine/io/file_system.h"

namespace tracelog {

struct NdjsonLine {
  absl::string_view text;  // without its "\n"
  uint64_t number = 0;     // 1-based
  bool terminated = true;  // followed by "\n" (false only for a last line without one)
};

// Reads `in` to its end and calls `fn` with the complete lines of each
// chunk read (and, at the end, the last line if it has no "\n"). The lines
// of one call are contiguous: each is followed by its "\n". The views stay
// valid until `fn` returns. `fn` returns false to stop early. Reads from
// the input's current offset; a line longer than a chunk is gathered
// whole (memory: the chunk plus the longest line).
absl::Status ForEachLineChunk(SequentialFile* in,
                              const std::function<bool(const std::vector<NdjsonLine>&)>& fn,
                              size_t chunk_size = 4 << 20);

// The same, keeping its buffer from one input to the next (many small
// files); a buffer grown for a long line is let go afterwards.
class LineReader {
 public:
  absl::Status ForEach(SequentialFile* in,
                       const std::function<bool(const std::vector<NdjsonLine>&)>& fn,
                       size_t chunk_size = 4 << 20);

 private:
  std::string buf_;
  std::vector<NdjsonLine> lines_;
};

// True for a line of blanks only (" \t\r").
bool IsBlankLine(absl::string_view line);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_NDJSON_LINE_READER_H_
