// `tracelog serve` as a process: concurrent `tracelog append` clients, a
// second server, SIGTERM, and SIGKILL at random points (nothing answered is
// lost, the log verifies, a new server takes over the stale socket).

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/log/log.h"
#include "engine/server/client.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::testing::MakeEvent;
using ::tracelog::testing::ReadFileOrEmpty;
using ::tracelog::testing::SpawnCli;
using ::tracelog::testing::WaitExitCode;
using ::tracelog::testing::TempDir;

// Starts a server on `dir`/log and waits until it answers.
pid_t StartServer(const TempDir& dir, const std::string& fsync, const std::string& tag = "serve") {
  const int pid = SpawnCli(dir, tag, {"serve", "--log", dir.Sub("log"), "--fsync", fsync});
  for (int i = 0; i < 500; ++i) {
    if (ConnectToServer(dir.Sub("log/serve.sock")).ok()) return pid;
    ::usleep(10000);
  }
  ADD_FAILURE() << "the server did not start: " << ReadFileOrEmpty(dir.Sub(tag + ".err"));
  return pid;
}

std::vector<std::string> Dump(const TempDir& dir) {
  LogOptions o;
  o.read_only = true;
  std::vector<std::string> out;
  auto log = Log::Open(dir.Sub("log"), o);
  if (!log.ok()) return out;
  auto r = (*log)->NewReader(ReaderOptions{});
  LogEvent ev;
  while (r->Next(&ev)) out.emplace_back(ev.event);
  return out;
}

// 32 `tracelog append` processes at once through one server: all succeed,
// their --ack output is the server's, and each event is stored once, in
// the order its process sent it.
TEST(ServeCliTest, ConcurrentAppendProcessesGoThroughTheServer) {
  TempDir dir;
  const pid_t server = StartServer(dir, "always");
  constexpr int kWriters = 32, kEvents = 50;
  std::vector<pid_t> pids;
  for (int w = 0; w < kWriters; ++w) {
    std::string input;
    for (int i = 0; i < kEvents; ++i) absl::StrAppend(&input, MakeEvent(w * 1000 + i, absl::StrCat("w", w)), "\n");
    pids.push_back(SpawnCli(dir, absl::StrCat("w", w), {"append", "--log", dir.Sub("log"), "--ack"}, input));
  }
  for (int w = 0; w < kWriters; ++w) {
    EXPECT_EQ(WaitExitCode(pids[w]), 0) << ReadFileOrEmpty(dir.Sub(absl::StrCat("w", w, ".err")));
    const std::string acks = ReadFileOrEmpty(dir.Sub(absl::StrCat("w", w, ".out")));
    EXPECT_EQ(std::count(acks.begin(), acks.end(), '\n'), kEvents) << acks;
  }
  ::kill(server, SIGTERM);
  EXPECT_EQ(WaitExitCode(server), 0) << ReadFileOrEmpty(dir.Sub("serve.err"));
  EXPECT_FALSE(ConnectToServer(dir.Sub("log/serve.sock")).ok()) << "socket left behind";
  std::map<std::string, std::vector<std::string>> by_writer;
  const auto stored = Dump(dir);
  EXPECT_EQ(stored.size(), static_cast<size_t>(kWriters * kEvents));
  for (const std::string& e : stored) {
    const size_t at = e.find("\"session_id\":\"");
    by_writer[e.substr(at + 14, e.find('"', at + 14) - at - 14)].push_back(e);
  }
  for (int w = 0; w < kWriters; ++w) {
    std::vector<std::string> want;
    for (int i = 0; i < kEvents; ++i) want.push_back(MakeEvent(w * 1000 + i, absl::StrCat("w", w)));
    EXPECT_EQ(by_writer[absl::StrCat("w", w)], want) << "writer " << w;
  }
}

// A second server on the same log exits 2 and says why; the first goes on.
TEST(ServeCliTest, ASecondServerOnTheSameLogExitsTwo) {
  TempDir dir;
  const pid_t server = StartServer(dir, "never");
  const pid_t second = SpawnCli(dir, "second", {"serve", "--log", dir.Sub("log")});
  EXPECT_EQ(WaitExitCode(second), 2);
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(dir.Sub("second.err")), "is locked"))
      << ReadFileOrEmpty(dir.Sub("second.err"));
  EXPECT_TRUE(ConnectToServer(dir.Sub("log/serve.sock")).ok());
  ::kill(server, SIGINT);
  EXPECT_EQ(WaitExitCode(server), 0);
}

// Clients stream events (each waiting for nothing: pipelined) while the
// server is killed with SIGKILL at a random instant; a new server takes
// over the stale socket. Under `always` and under `never` every answered
// event is in the log exactly once (the process died, the kernel did not),
// no sequence is handed out twice, and the log verifies.
void KillServerRepeatedly(const std::string& fsync, int iterations, uint64_t seed) {
  TempDir dir;
  std::mt19937_64 rng(seed);
  std::map<std::string, uint64_t> acked;  // event_id -> sequence
  std::set<uint64_t> sequences;
  int next_event = 0;
  for (int round = 0; round < iterations; ++round) {
    SCOPED_TRACE(absl::StrCat(fsync, " round ", round, " seed ", seed));
    const pid_t server = StartServer(dir, fsync, absl::StrCat("serve", round));
    constexpr int kClients = 4;
    std::vector<std::thread> clients;
    std::vector<std::vector<std::string>> answers(kClients);
    std::atomic<bool> stop{false};
    const int base = next_event;
    next_event += kClients * 100000;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        auto fd = ConnectToServer(dir.Sub("log/serve.sock"));
        if (!fd.ok()) return;
        std::thread reader([&] {
          std::string buf;
          char chunk[65536];
          while (true) {
            const ssize_t n = ::recv(fd->get(), chunk, sizeof(chunk), 0);
            if (n <= 0) break;
            buf.append(chunk, static_cast<size_t>(n));
          }
          answers[c] = absl::StrSplit(buf, '\n', absl::SkipEmpty());
        });
        for (int i = 0; i < 100000 && !stop.load(); ++i) {
          const std::string line = MakeEvent(base + c * 100000 + i, absl::StrCat("c", c)) + "\n";
          if (::send(fd->get(), line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) break;
        }
        ::shutdown(fd->get(), SHUT_WR);
        reader.join();
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 200));
    ::kill(server, SIGKILL);
    WaitExitCode(server);
    stop = true;
    for (auto& t : clients) t.join();
    for (const auto& lines : answers) {
      for (const std::string& a : lines) {
        std::vector<std::string> parts = absl::StrSplit(a, ' ');
        uint64_t seq = 0;
        if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &seq)) continue;  // an error answer
        EXPECT_TRUE(sequences.insert(seq).second) << "sequence " << seq << " answered twice";
        acked[parts[1]] = seq;
      }
    }
  }
  // A last server takes over the socket the killed one left.
  const pid_t server = StartServer(dir, fsync, "serve-last");
  ::kill(server, SIGTERM);
  EXPECT_EQ(WaitExitCode(server), 0);
  std::map<std::string, uint64_t> stored;  // event_id -> times
  LogOptions o;
  o.read_only = true;
  auto log = Log::Open(dir.Sub("log"), o);
  ASSERT_OK(log);
  auto r = (*log)->NewReader(ReaderOptions{});
  LogEvent ev;
  std::map<std::string, uint64_t> seq_of;
  while (r->Next(&ev)) {
    const std::string id(ev.keys.event_id);
    ++stored[id];
    seq_of[id] = ev.sequence;
  }
  EXPECT_EQ(r->corruptions(), 0u);
  EXPECT_GT(acked.size(), 0u) << "nothing was answered: the test tested nothing";
  ::testing::Test::RecordProperty("answered_events", static_cast<int>(acked.size()));
  for (const auto& [id, seq] : acked) {
    ASSERT_EQ(stored[id], 1u) << "answered event " << id << " stored " << stored[id] << " times";
    EXPECT_EQ(seq_of[id], seq) << id;
  }
  const int verify = WaitExitCode(SpawnCli(dir, "verify", {"verify", "--log", dir.Sub("log")}));
  EXPECT_EQ(verify, 0) << ReadFileOrEmpty(dir.Sub("verify.out"));
}

TEST(ServeCliTest, SigkillOfTheServerLosesNoAnsweredEventUnderAlways) {
  KillServerRepeatedly("always", 8, 20261204);
}

TEST(ServeCliTest, SigkillOfTheServerLosesNoAnsweredEventUnderNever) {
  KillServerRepeatedly("never", 8, 20261205);
}

}  // namespace
}  // namespace tracelog
