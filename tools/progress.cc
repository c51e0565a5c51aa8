#include "tools/progress.h"

#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace tracelog::cli {

Progress::Progress(std::string what)
    : what_(std::move(what)), enabled_(isatty(2) == 1), start_(absl::Now()) {}

Progress::~Progress() {
  if (drawn_) std::fprintf(stderr, "\r\033[K");
}

void Progress::Update(uint64_t done, uint64_t total, const std::string& detail) {
  if (!enabled_) return;
  const absl::Time now = absl::Now();
  if (now - last_ < absl::Milliseconds(100)) return;
  last_ = now;
  const double secs = absl::ToDoubleSeconds(now - start_);
  const double rate = secs > 0 ? done / secs : 0;
  std::string line = absl::StrFormat("%s: %.1f MB", what_, done / 1e6);
  if (total > 0) absl::StrAppendFormat(&line, " of %.1f MB", total / 1e6);
  absl::StrAppendFormat(&line, ", %s, %.0f MB/s", detail, rate / 1e6);
  if (total > done && rate > 0) absl::StrAppendFormat(&line, ", ETA %.0f s", (total - done) / rate);
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  drawn_ = true;
}

}  // namespace tracelog::cli
