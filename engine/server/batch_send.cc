#include "engine/server/batch_send.h"

#include <liburing.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

namespace tracelog {

// Entries of the submission queue: sends beyond this go in further rounds.
constexpr unsigned kRingEntries = 256;

struct BatchSender::Ring {
  io_uring ring;
};

BatchSender::BatchSender(bool use_io_uring) {
  if (!use_io_uring) return;
  auto r = std::make_unique<Ring>();
  if (io_uring_queue_init(kRingEntries, &r->ring, 0) == 0) ring_ = std::move(r);
}

BatchSender::~BatchSender() {
  if (ring_ != nullptr) io_uring_queue_exit(&ring_->ring);
}

namespace {

ssize_t SendOne(int fd, absl::string_view bytes) {
  while (true) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return n;
    if (errno != EINTR) return -errno;
  }
}

}  // namespace

void BatchSender::SendAll(absl::Span<Send> sends) {
  size_t at = 0;
  while (ring_ != nullptr && at < sends.size()) {
    io_uring* ring = &ring_->ring;
    const size_t round = std::min<size_t>(sends.size() - at, kRingEntries);
    size_t queued = 0;
    for (; queued < round; ++queued) {
      io_uring_sqe* sqe = io_uring_get_sqe(ring);
      if (sqe == nullptr) break;
      Send& s = sends[at + queued];
      // MSG_DONTWAIT: a full socket completes with -EAGAIN at once instead
      // of waiting in the kernel for room (the caller's epoll does that).
      io_uring_prep_send(sqe, s.fd, s.bytes.data(), s.bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      io_uring_sqe_set_data64(sqe, queued);
      s.result = -EAGAIN;  // until its completion says otherwise
    }
    int rc;
    do {
      rc = io_uring_submit_and_wait(ring, static_cast<unsigned>(queued));
    } while (rc == -EINTR);
    size_t done = 0;
    if (rc >= 0) {
      for (; done < queued; ++done) {
        io_uring_cqe* cqe = nullptr;
        int w;
        do {
          w = io_uring_wait_cqe(ring, &cqe);
        } while (w == -EINTR);
        if (w != 0 || cqe == nullptr) break;
        const uint64_t i = io_uring_cqe_get_data64(cqe);
        if (i < queued) sends[at + i].result = cqe->res;
        io_uring_cqe_seen(ring, cqe);
      }
    }
    if (done < queued) {
      // The ring failed (not one send: those fail in their completions).
      // The sends of this round whose completions did not come count as not
      // sent (-EAGAIN: tried again once epoll says there is room), and the
      // ring is not used again.
      io_uring_queue_exit(ring);
      ring_.reset();
      if (rc < 0) break;  // nothing of this round was submitted
    }
    at += queued;
  }
  for (; at < sends.size(); ++at) sends[at].result = SendOne(sends[at].fd, sends[at].bytes);
}

}  // namespace tracelog
