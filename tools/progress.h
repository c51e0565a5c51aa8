#ifndef TRACELOG_TOOLS_PROGRESS_H_
#define TRACELOG_TOOLS_PROGRESS_H_

// A one-line progress display on stderr, only when stderr is a terminal
// (quiet in pipes, logs and CI), redrawn at most ten times a second.

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace tracelog::cli {

class Progress {
 public:
  explicit Progress(std::string what);
  ~Progress();  // clears the line
  bool enabled() const { return enabled_; }
  // done/total in bytes (total 0: unknown); `detail` goes after the figures.
  void Update(uint64_t done, uint64_t total, const std::string& detail);

 private:
  const std::string what_;
  const bool enabled_;
  const absl::Time start_;
  absl::Time last_ = absl::InfinitePast();
  bool drawn_ = false;
};

}  // namespace tracelog::cli

#endif  // TRACELOG_TOOLS_PROGRESS_H_
