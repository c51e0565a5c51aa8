// BatchSender: many sockets' sends in one io_uring submission, or one
// send(2) each; both ways must give the same results.

#include "engine/server/batch_send.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/io/unique_fd.h"
#include "gtest/gtest.h"

namespace tracelog {
namespace {

struct Pair {
  UniqueFd ours, peer;
};

Pair NonBlockingPair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::string ReadAll(int fd) {
  std::string got;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) got.append(buf, static_cast<size_t>(n));
  return got;
}

class BatchSenderTest : public ::testing::TestWithParam<bool> {};

// More sockets than one submission holds (256): each gets its own bytes,
// whole, and its result says so.
TEST_P(BatchSenderTest, EverySocketGetsItsBytes) {
  BatchSender sender(GetParam());
  std::vector<Pair> pairs;
  std::vector<std::string> texts;
  std::vector<BatchSender::Send> sends;
  for (int i = 0; i < 300; ++i) {
    pairs.push_back(NonBlockingPair());
    texts.push_back(absl::StrCat(i, " e", i, "\n"));
  }
  for (int i = 0; i < 300; ++i) sends.push_back({pairs[i].ours.get(), texts[i], 0});
  sender.SendAll(absl::MakeSpan(sends));
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(sends[i].result, static_cast<ssize_t>(texts[i].size())) << i;
    EXPECT_EQ(ReadAll(pairs[i].peer.get()), texts[i]) << i;
  }
  // Again on the same sender: a second batch works as the first.
  sender.SendAll(absl::MakeSpan(sends));
  for (int i = 0; i < 300; ++i) EXPECT_EQ(ReadAll(pairs[i].peer.get()), texts[i]) << i;
}

// A full socket is -EAGAIN at once (not a wait), a socket with little room
// takes what fits and says how much, a closed peer is -EPIPE (no SIGPIPE:
// this test would die of it), a descriptor that is not open -EBADF; the
// others in the same batch are sent all the same.
TEST_P(BatchSenderTest, EachSocketsTroubleIsItsOwn) {
  BatchSender sender(GetParam());
  Pair full = NonBlockingPair(), roomy = NonBlockingPair(), gone = NonBlockingPair(),
       fine = NonBlockingPair();
  const std::string chunk(4096, 'x');
  while (::send(full.ours.get(), chunk.data(), chunk.size(), MSG_DONTWAIT) > 0) {
  }
  // `roomy` is filled, then a little is read: it has room for part of a
  // large send.
  while (::send(roomy.ours.get(), chunk.data(), chunk.size(), MSG_DONTWAIT) > 0) {
  }
  char buf[8192];
  ASSERT_GT(::recv(roomy.peer.get(), buf, sizeof(buf), 0), 0);
  gone.peer = UniqueFd();  // closed
  const std::string big(1 << 20, 'y');
  std::vector<BatchSender::Send> sends = {
      {full.ours.get(), "a\n", 0}, {roomy.ours.get(), big, 0}, {gone.ours.get(), "b\n", 0},
      {1 << 20, "c\n", 0},          {fine.ours.get(), "d\n", 0}};
  sender.SendAll(absl::MakeSpan(sends));
  EXPECT_EQ(sends[0].result, -EAGAIN);
  EXPECT_GT(sends[1].result, 0);
  EXPECT_LT(sends[1].result, static_cast<ssize_t>(big.size()));
  EXPECT_EQ(sends[2].result, -EPIPE);
  EXPECT_EQ(sends[3].result, -EBADF);
  EXPECT_EQ(sends[4].result, 2);
  EXPECT_EQ(ReadAll(fine.peer.get()), "d\n");
}

INSTANTIATE_TEST_SUITE_P(IoUringAndSendEach, BatchSenderTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "IoUring" : "SendEach";
                         });

}  // namespace
}  // namespace tracelog
