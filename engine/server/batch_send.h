#ifndef TRACELOG_ENGINE_SERVER_BATCH_SEND_H_
#define TRACELOG_ENGINE_SERVER_BATCH_SEND_H_

// Sends bytes on many sockets with one system call (io_uring), for the
// server's answers after a sync.
//
// Why: an answer wakes a client that sleeps in its read, and the scheduler
// lets the woken client preempt the thread that woke it once that thread
// leaves the kernel. One send(2) per connection is one trip into the kernel
// per answer, so the sending thread was switched out once per answer; one
// io_uring_enter for all of them is switched out at most once.
//
// Where io_uring cannot be set up (an old kernel, a sandbox that forbids
// it, kernel.io_uring_disabled), each socket gets its own send(2): the same
// results, one system call each.

#include <sys/types.h>

#include <cstddef>
#include <memory>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace tracelog {

class BatchSender {
 public:
  struct Send {
    int fd = -1;              // a non-blocking stream socket
    absl::string_view bytes;  // what to send; must stay put during SendAll
    ssize_t result = 0;       // set by SendAll: bytes sent (possibly fewer
                              // than asked), or -errno (-EAGAIN: no room)
  };

  // `use_io_uring` false: one send(2) per socket (tests compare both ways).
  explicit BatchSender(bool use_io_uring = true);
  ~BatchSender();
  BatchSender(const BatchSender&) = delete;
  BatchSender& operator=(const BatchSender&) = delete;

  // Sends each `sends[i].bytes` on its fd without blocking (MSG_NOSIGNAL:
  // a closed peer is -EPIPE, not a signal) and sets its result.
  void SendAll(absl::Span<Send> sends);

  // Whether SendAll uses io_uring.
  bool batched() const { return ring_ != nullptr; }

 private:
  struct Ring;
  std::unique_ptr<Ring> ring_;
};

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_SERVER_BATCH_SEND_H_
