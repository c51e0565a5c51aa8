#include "engine/ndjson/line_reader.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tracelog {

bool IsBlankLine(absl::string_view line) {
  return line.find_first_not_of(" \t\r") == absl::string_view::npos;
}

absl::Status ForEachLineChunk(SequentialFile* in,
                              const std::function<bool(const std::vector<NdjsonLine>&)>& fn,
                              size_t chunk_size) {
  LineReader reader;
  return reader.ForEach(in, fn, chunk_size);
}

absl::Status LineReader::ForEach(SequentialFile* in,
                                 const std::function<bool(const std::vector<NdjsonLine>&)>& fn,
                                 size_t chunk_size) {
  std::string& buf = buf_;
  std::vector<NdjsonLine>& lines = lines_;
  struct LetGo {  // of a buffer grown past a few chunks by a long line
    std::string* buf;
    size_t keep;
    ~LetGo() {
      if (buf->size() > keep) std::string().swap(*buf);
    }
  } let_go{&buf, 2 * chunk_size};
  size_t used = 0;     // bytes of buf holding data
  size_t scanned = 0;  // bytes of the unfinished line at the front known to hold no "\n"
  uint64_t line_no = 0;
  bool eof = false;
  while (!eof) {
    if (buf.size() < used + chunk_size) buf.resize(std::max(used + chunk_size, 2 * buf.size()));
    auto n = in->Read(buf.data() + used, buf.size() - used);
    if (!n.ok()) return n.status();
    if (*n == 0) eof = true;
    used += *n;
    size_t start = 0;
    lines.clear();
    while (start < used) {
      const size_t from = start + (start == 0 ? scanned : 0);
      const char* nl = static_cast<const char*>(std::memchr(buf.data() + from, '\n', used - from));
      if (nl == nullptr && !eof) break;
      const size_t end = nl != nullptr ? static_cast<size_t>(nl - buf.data()) : used;
      lines.push_back(
          NdjsonLine{absl::string_view(buf.data() + start, end - start), ++line_no, nl != nullptr});
      start = nl != nullptr ? end + 1 : used;
    }
    if (!lines.empty() && !fn(lines)) return absl::OkStatus();
    // Keep the unfinished line for the next read; its bytes hold no "\n".
    std::memmove(buf.data(), buf.data() + start, used - start);
    used -= start;
    scanned = used;
  }
  return absl::OkStatus();
}

}  // namespace tracelog
