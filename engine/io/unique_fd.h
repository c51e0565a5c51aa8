#ifndef TRACELOG_ENGINE_IO_UNIQUE_FD_H_
#define TRACELOG_ENGINE_IO_UNIQUE_FD_H_

// A POSIX file descriptor closed on destruction, for the code that works on
// trees of plain files outside the log (import sources, export targets);
// the log itself goes through FileSystem.

#include <unistd.h>

#include <utility>

namespace tracelog {

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_IO_UNIQUE_FD_H_
