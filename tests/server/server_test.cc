// The serve protocol in one process: a Server over a Log, clients on
// threads (the ThreadSanitizer variant checks the server's two threads).

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/log/log.h"
#include "engine/server/client.h"
#include "engine/server/server.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::testing::MakeEvent;
using ::tracelog::testing::TempDir;

bool SendAll(int fd, absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads answer lines until `n` are read or the server closes.
std::vector<std::string> ReadLines(int fd, size_t n) {
  std::vector<std::string> lines;
  std::string buf;
  char chunk[65536];
  while (lines.size() < n) {
    const ssize_t got = ::recv(fd, chunk, sizeof(chunk), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    buf.append(chunk, static_cast<size_t>(got));
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      lines.push_back(buf.substr(0, nl));
      buf.erase(0, nl + 1);
    }
  }
  return lines;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LogOptions o;
    o.segment_size = 1 << 20;
    o.sync.kind = SyncPolicy::Kind::kNever;
    auto log = Log::Open(dir_.Sub("log"), o);
    ASSERT_OK(log);
    log_ = std::move(*log);
  }
  void StartServer(ServerOptions options = {}) {
    options.socket_path = dir_.Sub("log/serve.sock");
    auto s = Server::Start(log_.get(), options);
    ASSERT_OK(s);
    server_ = std::move(*s);
  }
  UniqueFd Connect() {
    auto fd = ConnectToServer(dir_.Sub("log/serve.sock"));
    EXPECT_TRUE(fd.ok()) << fd.status();
    return fd.ok() ? std::move(*fd) : UniqueFd();
  }
  std::map<uint64_t, std::string> Stored() {
    std::map<uint64_t, std::string> out;
    auto r = log_->NewReader(ReaderOptions{});
    LogEvent ev;
    while (r->Next(&ev)) out[ev.sequence] = std::string(ev.event);
    return out;
  }

  TempDir dir_;
  std::unique_ptr<Log> log_;
  std::unique_ptr<Server> server_;
};

// 32 clients at once, each pipelining 200 events before reading an answer:
// every event is answered with its sequence, stored once under it, and the
// sequences of one connection rise in the order it sent.
TEST_F(ServerTest, ManyPipeliningClientsGetEveryEventStoredOnceInOrder) {
  StartServer();
  constexpr int kClients = 32, kEvents = 200;
  std::vector<std::vector<std::string>> answers(kClients);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      UniqueFd fd = Connect();
      std::string out = HelloLine(false);
      for (int i = 0; i < kEvents; ++i) {
        absl::StrAppend(&out, MakeEvent(c * 1000 + i, absl::StrCat("c", c)), "\n");
      }
      ASSERT_TRUE(SendAll(fd.get(), out));
      ::shutdown(fd.get(), SHUT_WR);
      answers[c] = ReadLines(fd.get(), kEvents + 1);
    });
  }
  for (auto& t : threads) t.join();
  const auto stored = Stored();
  EXPECT_EQ(stored.size(), static_cast<size_t>(kClients * kEvents));
  for (int c = 0; c < kClients; ++c) {
    ASSERT_EQ(answers[c].size(), static_cast<size_t>(kEvents + 1)) << "client " << c;
    EXPECT_TRUE(absl::StartsWith(answers[c][0], "#tracelog 1 fsync=never")) << answers[c][0];
    uint64_t last = 0;
    for (int i = 0; i < kEvents; ++i) {
      std::vector<std::string> parts = absl::StrSplit(answers[c][i + 1], ' ');
      ASSERT_EQ(parts.size(), 2u) << answers[c][i + 1];
      uint64_t seq = 0;
      ASSERT_TRUE(absl::SimpleAtoi(parts[0], &seq)) << answers[c][i + 1];
      EXPECT_EQ(parts[1], absl::StrCat("e", c * 1000 + i));
      EXPECT_GT(seq, last) << "client " << c << " answer " << i;
      last = seq;
      EXPECT_EQ(stored.at(seq), MakeEvent(c * 1000 + i, absl::StrCat("c", c)));
    }
  }
  EXPECT_EQ(server_->Stats().events, static_cast<uint64_t>(kClients * kEvents));
}

// Clients that wait for each answer before sending the next event, with
// the answers sent in one submission per batch and with one send(2) per
// connection: each client gets its answers in order, each event stored once.
TEST_F(ServerTest, LockStepClientsGetEachAnswerEitherWayOfSending) {
  for (const bool batch : {true, false}) {
    SCOPED_TRACE(batch ? "batched sends" : "one send each");
    ServerOptions o;
    o.batch_sends = batch;
    StartServer(o);
    const size_t stored_before = Stored().size();
    constexpr int kClients = 16, kEvents = 40;
    std::vector<std::vector<std::string>> answers(kClients);
    std::vector<std::thread> threads;
    for (int c = 0; c < kClients; ++c) {
      threads.emplace_back([&, c] {
        UniqueFd fd = Connect();
        const std::string path = dir_.Sub("log/serve.sock");
        char buf[4096];
        for (int i = 0; i < kEvents; ++i) {
          if (!SendAll(fd.get(), MakeEvent(c * 1000 + i, absl::StrCat("c", c)) + "\n")) return;
          auto n = ReadFromServer(fd.get(), buf, sizeof(buf), path, absl::Seconds(60));
          if (!n.ok() || *n == 0) return;
          answers[c].push_back(std::string(buf, *n));
        }
      });
    }
    for (auto& t : threads) t.join();
    server_->Stop();
    const auto stored = Stored();
    EXPECT_EQ(stored.size(), stored_before + kClients * kEvents);
    for (int c = 0; c < kClients; ++c) {
      ASSERT_EQ(answers[c].size(), static_cast<size_t>(kEvents)) << "client " << c;
      for (int i = 0; i < kEvents; ++i) {
        std::vector<std::string> parts = absl::StrSplit(answers[c][i], ' ');
        ASSERT_EQ(parts.size(), 2u) << answers[c][i];
        uint64_t seq = 0;
        ASSERT_TRUE(absl::SimpleAtoi(parts[0], &seq)) << answers[c][i];
        EXPECT_EQ(parts[1], absl::StrCat("e", c * 1000 + i, "\n"));
        EXPECT_EQ(stored.at(seq), MakeEvent(c * 1000 + i, absl::StrCat("c", c)));
      }
    }
  }
}

// ReadFromServer: what came, 0 once the other side closed, DeadlineExceeded
// (naming the socket) when nothing comes in time.
TEST(ReadFromServerTest, ReadsWaitsAndTimesOut) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  UniqueFd ours(fds[0]), server(fds[1]);
  char buf[64];
  auto none = ReadFromServer(ours.get(), buf, sizeof(buf), "/run/x.sock", absl::Milliseconds(20));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(absl::StrContains(none.status().message(), "/run/x.sock")) << none.status();
  std::thread later([&] {
    ::usleep(20000);
    SendAll(server.get(), "7 e1\n");
  });
  auto got = ReadFromServer(ours.get(), buf, sizeof(buf), "/run/x.sock");
  later.join();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(std::string(buf, *got), "7 e1\n");
  server = UniqueFd();  // closed
  auto closed = ReadFromServer(ours.get(), buf, sizeof(buf), "/run/x.sock", absl::Seconds(5));
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(*closed, 0u);
}

// A line that is not a JSON object, and one over the line limit, are
// answered with an error naming the line; the connection goes on, and
// nothing of them is stored.
TEST_F(ServerTest, BadLinesAreAnsweredWithTheirLineAndTheConnectionGoesOn) {
  ServerOptions o;
  o.max_line_bytes = 1000;
  StartServer(o);
  UniqueFd fd = Connect();
  const std::string lines = absl::StrCat(MakeEvent(1), "\n", "not json\n", "\n",
                                         MakeEvent(2, "s1", 2000), "\n", MakeEvent(3), "\n");
  ASSERT_TRUE(SendAll(fd.get(), lines));
  ::shutdown(fd.get(), SHUT_WR);
  const auto answers = ReadLines(fd.get(), 4);
  ASSERT_EQ(answers.size(), 4u);
  EXPECT_EQ(answers[0], "1 e1");
  EXPECT_TRUE(absl::StartsWith(answers[1], "error 2 not a JSON object")) << answers[1];
  EXPECT_TRUE(absl::StartsWith(answers[2], "error 4 line longer than the server's limit of 1000"))
      << answers[2];
  EXPECT_EQ(answers[3], "2 e3");
  const auto stored = Stored();
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored.at(1), MakeEvent(1));
  EXPECT_EQ(stored.at(2), MakeEvent(3));
  EXPECT_EQ(server_->Stats().rejected_lines, 2u);
}

// A hello for another protocol version is refused, naming the one spoken.
TEST_F(ServerTest, AHelloOfAnotherVersionIsRefused) {
  StartServer();
  UniqueFd fd = Connect();
  ASSERT_TRUE(SendAll(fd.get(), "#tracelog 99\n"));
  ::shutdown(fd.get(), SHUT_WR);
  const auto answers = ReadLines(fd.get(), 1);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_TRUE(absl::StrContains(answers[0], "this server speaks '#tracelog 1'")) << answers[0];
}

// A client that goes away in the middle of a line: the lines it ended are
// stored, the partial one is not, and other clients are not disturbed.
TEST_F(ServerTest, AClientThatDisconnectsMidLineLosesOnlyThatLine) {
  StartServer();
  {
    UniqueFd fd = Connect();
    const std::string full = MakeEvent(1) + "\n";
    const std::string partial = MakeEvent(2).substr(0, 30);
    ASSERT_TRUE(SendAll(fd.get(), full + partial));
    ASSERT_EQ(ReadLines(fd.get(), 1), std::vector<std::string>{"1 e1"});
  }  // closed mid-line
  UniqueFd other = Connect();
  ASSERT_TRUE(SendAll(other.get(), MakeEvent(3) + "\n"));
  ::shutdown(other.get(), SHUT_WR);
  EXPECT_EQ(ReadLines(other.get(), 1), std::vector<std::string>{"2 e3"});
  const auto stored = Stored();
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored.at(2), MakeEvent(3));
}

// A client that sends and never reads its answers: the server stops reading
// it once its unread answers pass the bound (bounded memory; that client
// blocks), and the other clients go on.
TEST_F(ServerTest, AClientThatNeverReadsItsAnswersDoesNotStopTheOthers) {
  ServerOptions o;
  o.max_unanswered_bytes = 4096;
  StartServer(o);
  UniqueFd stuck = Connect();
  std::atomic<bool> done{false};
  std::atomic<uint64_t> stuck_sent{0};
  std::thread writer([&] {
    // Sends until the socket blocks for good (the server stopped reading);
    // a second thread ends it by shutting the socket down.
    for (int i = 0; i < 200000 && !done.load(); ++i) {
      if (!SendAll(stuck.get(), MakeEvent(100000 + i, "stuck") + "\n")) break;
      stuck_sent = i + 1;
    }
  });
  // Until the stuck client blocks: every buffer between it and the log full.
  for (uint64_t before = ~uint64_t{0}; stuck_sent.load() != before;) {
    before = stuck_sent.load();
    ::usleep(100000);
  }
  UniqueFd other = Connect();
  std::string out;
  for (int i = 0; i < 100; ++i) absl::StrAppend(&out, MakeEvent(i, "other"), "\n");
  ASSERT_TRUE(SendAll(other.get(), out));
  ::shutdown(other.get(), SHUT_WR);
  const auto answers = ReadLines(other.get(), 100);
  EXPECT_EQ(answers.size(), 100u) << "the other client was held up";
  EXPECT_LT(stuck_sent.load(), 200000u) << "the stuck client was never blocked";
  done = true;
  ::shutdown(stuck.get(), SHUT_RDWR);
  writer.join();
}

// Stop answers what was read before it returns, and removes the socket.
TEST_F(ServerTest, StopAnswersWhatWasReadAndRemovesTheSocket) {
  StartServer();
  UniqueFd fd = Connect();
  std::string out;
  for (int i = 0; i < 1000; ++i) absl::StrAppend(&out, MakeEvent(i), "\n");
  ASSERT_TRUE(SendAll(fd.get(), out));
  // Until all 1,000 are stored (read by the server), then stop.
  while (server_->Stats().events < 1000) ::usleep(1000);
  server_->Stop();
  EXPECT_EQ(ReadLines(fd.get(), 1000).size(), 1000u);
  EXPECT_FALSE(ConnectToServer(dir_.Sub("log/serve.sock")).ok());
  EXPECT_EQ(Stored().size(), 1000u);
}

}  // namespace
}  // namespace tracelog
