// The views on a terminal (a pty) and in a pipe: a table with colours on a
// terminal, none with NO_COLOR, NDJSON in a pipe, a pager only on a
// terminal and never with --no-pager, and a reader that closes the pipe
// early (`| head -1`) ends the command quietly with exit 0.

#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::testing::ReadFileOrEmpty;
using ::tracelog::testing::SpawnCli;
using ::tracelog::testing::TempDir;
using ::tracelog::testing::WaitExitCode;

struct PtyRun {
  int code = -1;
  std::string out;  // what the terminal showed (stdout and stderr)
};

// Runs `tracelog args...` on a new 120-column pty with `env` added to the
// environment (NAME=VALUE; "NAME=" unsets NAME).
PtyRun RunOnPty(std::vector<std::string> args, const std::vector<std::string>& env) {
  PtyRun r;
  winsize ws{};
  ws.ws_col = 120;
  ws.ws_row = 40;
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, &ws);
  if (pid == 0) {
    for (const std::string& kv : env) {
      const size_t eq = kv.find('=');
      if (eq + 1 == kv.size()) {
        ::unsetenv(kv.substr(0, eq).c_str());
      } else {
        ::setenv(kv.substr(0, eq).c_str(), kv.substr(eq + 1).c_str(), 1);
      }
    }
    std::vector<char*> argv = {const_cast<char*>(TRACELOG_CLI)};
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(TRACELOG_CLI, argv.data());
    ::_exit(127);
  }
  EXPECT_GT(pid, 0);
  if (pid < 0) return r;
  char buf[4096];
  while (true) {
    const ssize_t n = ::read(master, buf, sizeof(buf));
    if (n > 0) {
      r.out.append(buf, n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // EIO once the child side is closed
    }
  }
  ::close(master);
  r.code = WaitExitCode(pid);
  return r;
}

std::string Session(const std::string& id, int tool_calls) {
  std::string out = absl::StrFormat(
      R"({"event_type":"session_start","timestamp":1700000000,"session_id":"%s","event_id":"s","data":{"agent_name":"agent-%s"}})"
      "\n", id, id);
  for (int i = 0; i < tool_calls; ++i) {
    absl::StrAppend(&out, absl::StrFormat(
        R"({"event_type":"tool_call","timestamp":%d,"session_id":"%s","event_id":"c%d","data":{"tool_name":"Bash","arguments":{"command":"make %d"}}})"
        "\n", 1700000001 + i, id, i, i));
  }
  return out;
}

class TerminalCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = dir_.Sub("log");
    const int pid = SpawnCli(dir_, "append", {"append", "--log", log_}, Session("aa11", 3) + Session("bb22", 2));
    ASSERT_EQ(WaitExitCode(pid), 0) << ReadFileOrEmpty(dir_.Sub("append.err"));
  }
  TempDir dir_;
  std::string log_;
};

TEST_F(TerminalCliTest, TableAndColourOnATerminalNdjsonInAPipe) {
  PtyRun tty = RunOnPty({"list", "--log", log_}, {"NO_COLOR=", "TRACELOG_PAGER=cat"});
  EXPECT_EQ(tty.code, 0) << tty.out;
  EXPECT_TRUE(absl::StrContains(tty.out, "SESSION")) << tty.out;
  EXPECT_TRUE(absl::StrContains(tty.out, "2 session(s)")) << tty.out;
  EXPECT_TRUE(absl::StrContains(tty.out, "\033[1m")) << tty.out;  // bold header
  EXPECT_FALSE(absl::StrContains(tty.out, "{\"session_id\"")) << tty.out;
  PtyRun replay = RunOnPty({"replay", "--log", log_, "aa11"}, {"NO_COLOR=", "TRACELOG_PAGER=cat"});
  EXPECT_EQ(replay.code, 0) << replay.out;
  EXPECT_TRUE(absl::StrContains(replay.out, "\033[36m→ tool_call\033[0m Bash")) << replay.out;

  // NO_COLOR: the same table, no escape sequence at all.
  PtyRun plain = RunOnPty({"list", "--log", log_}, {"NO_COLOR=1", "TRACELOG_PAGER=cat"});
  EXPECT_TRUE(absl::StrContains(plain.out, "2 session(s)")) << plain.out;
  EXPECT_FALSE(absl::StrContains(plain.out, "\033")) << plain.out;
  plain = RunOnPty({"replay", "--log", log_, "aa11"}, {"NO_COLOR=1", "TRACELOG_PAGER=cat"});
  EXPECT_TRUE(absl::StrContains(plain.out, "→ tool_call Bash")) << plain.out;
  EXPECT_FALSE(absl::StrContains(plain.out, "\033")) << plain.out;

  // A pipe: NDJSON, no colour.
  ASSERT_EQ(WaitExitCode(SpawnCli(dir_, "piped", {"list", "--log", log_})), 0);
  const std::string piped = ReadFileOrEmpty(dir_.Sub("piped.out"));
  EXPECT_TRUE(absl::StartsWith(piped, "{\"session_id\":\"")) << piped;
  EXPECT_FALSE(absl::StrContains(piped, "\033")) << piped;
}

TEST_F(TerminalCliTest, PagerOnlyOnATerminalAndNeverWithNoPager) {
  // A "pager" that marks every line it passes on.
  const std::vector<std::string> env = {"TRACELOG_PAGER=sed -u s/^/paged:/", "NO_COLOR=1"};
  PtyRun paged = RunOnPty({"replay", "--log", log_, "aa11"}, env);
  EXPECT_EQ(paged.code, 0) << paged.out;
  EXPECT_TRUE(absl::StrContains(paged.out, "paged:+  0.00s ▶ session_start")) << paged.out;
  PtyRun direct = RunOnPty({"replay", "--log", log_, "aa11", "--no-pager"}, env);
  EXPECT_TRUE(absl::StrContains(direct.out, "+  0.00s ▶ session_start")) << direct.out;
  EXPECT_FALSE(absl::StrContains(direct.out, "paged:")) << direct.out;
  // In a pipe there is no pager whatever the environment says.
  ASSERT_EQ(WaitExitCode(SpawnCli(dir_, "piped", {"replay", "--log", log_, "aa11", "--format",
                                                  "terminal"})),
            0);
  EXPECT_FALSE(absl::StrContains(ReadFileOrEmpty(dir_.Sub("piped.out")), "paged:"));
}

// `tracelog VIEW | head -1`: the reader goes away after one line; the view
// ends with exit 0 and says nothing.
TEST_F(TerminalCliTest, AClosedPipeEndsQuietly) {
  std::string many;
  for (int s = 0; s < 1500; ++s) many += Session(absl::StrCat("s", s), 1);
  ASSERT_EQ(WaitExitCode(SpawnCli(dir_, "more", {"append", "--log", log_}, many)), 0);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"list", "--log", log_, "--format", "ndjson"},
        std::vector<std::string>{"list", "--log", log_, "--format", "table"},
        std::vector<std::string>{"query", "--log", log_, "--tool", "Bash"},
        std::vector<std::string>{"tail", "--log", log_, "-n", "5000"}}) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const std::string err = dir_.Sub("head.err");
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(e, STDERR_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      std::vector<std::string> a = args;
      std::vector<char*> argv = {const_cast<char*>(TRACELOG_CLI)};
      for (std::string& x : a) argv.push_back(x.data());
      argv.push_back(nullptr);
      ::execv(TRACELOG_CLI, argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    // `head -1`: one line, then the pipe is closed.
    std::string line;
    char c;
    while (::read(fds[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(fds[0]);
    EXPECT_FALSE(line.empty()) << args[0];
    EXPECT_EQ(WaitExitCode(pid), 0) << args[0] << " " << args.back();
    EXPECT_EQ(ReadFileOrEmpty(err), "") << args[0];
  }
}

}  // namespace
}  // namespace tracelog
