#include "engine/ndjson/line_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tracelog {

bool IsBlankLine(absl::string_view line) {
  return line.find_first_not_of(" \t\r") == absl::string_view::npos;
}

absl::Status ForEachLineChunk(int fd, const std::string& what,
                              const std::function<bool(const std::vector<NdjsonLine>&)>& fn,
                              size_t chunk_size) {
  std::string buf;
  size_t used = 0;  // bytes of buf holding data
  uint64_t line_no = 0;
  bool eof = false;
  std::vector<NdjsonLine> lines;
  while (!eof) {
    if (buf.size() < used + chunk_size) buf.resize(used + chunk_size);
    const ssize_t n = ::read(fd, buf.data() + used, chunk_size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("reading ", what, ": ", std::strerror(errno)));
    }
    if (n == 0) eof = true;
    used += static_cast<size_t>(n);
    size_t start = 0;
    lines.clear();
    while (start < used) {
      const char* nl = static_cast<const char*>(std::memchr(buf.data() + start, '\n', used - start));
      if (nl == nullptr && !eof) break;
      const size_t end = nl != nullptr ? static_cast<size_t>(nl - buf.data()) : used;
      lines.push_back(NdjsonLine{absl::string_view(buf.data() + start, end - start), ++line_no});
      start = nl != nullptr ? end + 1 : used;
    }
    if (!lines.empty() && !fn(lines)) return absl::OkStatus();
    // Keep the unfinished line for the next read.
    std::memmove(buf.data(), buf.data() + start, used - start);
    used -= start;
  }
  return absl::OkStatus();
}

}  // namespace tracelog
