// `tracelog serve --http` driven by a real HTTP client (curl): events in,
// queries, sessions and health out, agent-strace's collector paths, the
// body limit (413, nothing stored) and the bearer token.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
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
using ::tracelog::testing::Spawn;
using ::tracelog::testing::SpawnCli;
using ::tracelog::testing::TempDir;
using ::tracelog::testing::WaitExitCode;
using ::tracelog::testing::WriteFileOrDie;

// A `tracelog serve --http 127.0.0.1:0` (a free port) on dir/log.
class HttpServe {
 public:
  explicit HttpServe(const TempDir& dir, std::vector<std::string> extra = {}) : dir_(dir) {
    std::vector<std::string> args = {"serve", "--log", dir.Sub("log"), "--fsync", "always"};
    if (extra.empty()) extra = {"--http", "127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = SpawnCli(dir, "serve", args);
    for (int i = 0; i < 500 && port_ == 0; ++i) {
      const std::string err = ReadFileOrEmpty(dir.Sub("serve.err"));
      const size_t at = err.find("HTTP on ");
      const size_t colon = at == std::string::npos ? at : err.find(':', at);
      const size_t end = colon == std::string::npos ? colon : err.find_first_of(" \n", colon);
      if (end != std::string::npos) {
        if (!absl::SimpleAtoi(err.substr(colon + 1, end - colon - 1), &port_)) port_ = 0;
      }
      if (port_ == 0) ::usleep(10000);
    }
    EXPECT_NE(port_, 0) << "no HTTP port: " << ReadFileOrEmpty(dir.Sub("serve.err"));
  }
  ~HttpServe() {
    ::kill(pid_, SIGTERM);
    EXPECT_EQ(WaitExitCode(pid_), 0) << ReadFileOrEmpty(dir_.Sub("serve.err"));
  }
  std::string Url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }

 private:
  const TempDir& dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

struct Reply {
  int status = 0;
  std::string body;
};

// curl ARGS... URL: the status and the body.
Reply Curl(const TempDir& dir, std::vector<std::string> args, const std::string& input = "") {
  static int n = 0;
  const std::string tag = absl::StrCat("curl", n++);
  args.insert(args.begin(), {"-s", "-S", "-w", "\n%{http_code}"});
  const int code = WaitExitCode(Spawn(dir, tag, "curl", args, input));
  EXPECT_EQ(code, 0) << ReadFileOrEmpty(dir.Sub(tag + ".err"));
  std::string out = ReadFileOrEmpty(dir.Sub(tag + ".out"));
  Reply r;
  const size_t nl = out.rfind('\n');
  if (nl == std::string::npos || !absl::SimpleAtoi(out.substr(nl + 1), &r.status)) r.status = -1;
  r.body = out.substr(0, nl == std::string::npos ? 0 : nl);
  return r;
}

std::string Lines(const std::vector<std::string>& events) {
  std::string out;
  for (const std::string& e : events) absl::StrAppend(&out, e, "\n");
  return out;
}

TEST(HttpCliTest, EventsInQueriesSessionsAndHealthOut) {
  TempDir dir;
  HttpServe serve(dir);
  std::vector<std::string> a, b;
  for (int i = 0; i < 5; ++i) a.push_back(MakeEvent(i, "sess-a"));
  for (int i = 5; i < 8; ++i) b.push_back(MakeEvent(i, "sess-b"));
  // A bad second line is refused by number; the others are stored (sent as
  // curl sends a file by default: a form type, which must not matter).
  std::string body = a[0] + "\nnot json\n" + Lines({a.begin() + 1, a.end()});
  Reply r = Curl(dir, {"-X", "POST", "--data-binary", "@-", serve.Url("/v1/events")}, body);
  EXPECT_EQ(r.status, 202);
  EXPECT_TRUE(absl::StrContains(r.body, "\"accepted\":5,\"rejected\":1,\"first_sequence\":1,"
                                        "\"last_sequence\":5,\"fsync\":\"always\""))
      << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, "{\"line\":2,\"error\":\"not a JSON object")) << r.body;
  // agent-strace's path and answer.
  r = Curl(dir, {"-X", "POST", "-H", "Content-Type: application/x-ndjson", "--data-binary", "@-",
                 serve.Url("/events")},
           Lines(b));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"accepted\": 3, \"errors\": 0}");

  r = Curl(dir, {serve.Url("/v1/query?session=sess-a")});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, Lines(a));
  r = Curl(dir, {serve.Url("/v1/query?session=sess-a&limit=2")});
  EXPECT_EQ(r.body, Lines({a[0], a[1]}));
  r = Curl(dir, {serve.Url("/v1/sessions/sess-b/events")});
  EXPECT_EQ(r.body, Lines(b));
  // agent-strace joins a session's events without a final newline.
  r = Curl(dir, {serve.Url("/sessions/sess-b/events")});
  EXPECT_EQ(r.body + "\n", Lines(b));
  r = Curl(dir, {serve.Url("/v1/sessions/nope/events")});
  EXPECT_EQ(r.status, 404) << r.body;
  r = Curl(dir, {serve.Url("/v1/query?sesion=sess-a")});
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(absl::StrContains(r.body, "unknown parameter 'sesion'")) << r.body;

  r = Curl(dir, {serve.Url("/v1/sessions")});
  const std::vector<std::string> sessions = absl::StrSplit(r.body, '\n', absl::SkipEmpty());
  ASSERT_EQ(sessions.size(), 2u) << r.body;
  EXPECT_TRUE(absl::StartsWith(sessions[0], "{\"session_id\":\"sess-a\"")) << sessions[0];
  EXPECT_TRUE(absl::StrContains(sessions[0], "\"events\":5")) << sessions[0];
  r = Curl(dir, {serve.Url("/sessions")});
  EXPECT_TRUE(absl::StartsWith(r.body, "[{\"session_id\": \"sess-b\"")) << r.body;

  r = Curl(dir, {serve.Url("/health")});
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(absl::StartsWith(r.body, "{\"status\":\"ok\",\"fsync\":\"always\",\"events\":8,"))
      << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, "\"http_events\":8,")) << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, "\"http_rejected_lines\":1,")) << r.body;
  // `tracelog info` shows the same counters, asked over the socket.
  const int info = SpawnCli(dir, "info", {"info", "--log", dir.Sub("log")});
  EXPECT_EQ(WaitExitCode(info), 0);
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(dir.Sub("info.out")), "\"http_events\":8,"))
      << ReadFileOrEmpty(dir.Sub("info.out"));
  // Secrets are replaced before they are stored, as `append` replaces them.
  r = Curl(dir, {"-X", "POST", "--data-binary", "@-", serve.Url("/v1/events")},
           R"({"session_id":"sess-c","data":{"password":"hunter2","cmd":"x --token=abc123"}})" "\n");
  EXPECT_EQ(r.status, 200) << r.body;
  r = Curl(dir, {serve.Url("/v1/sessions/sess-c/events")});
  EXPECT_EQ(r.body,
            R"({"session_id":"sess-c","data":{"password":"[REDACTED]","cmd":"x --token=[REDACTED]"},"redacted":true})"
            "\n");
}

// A body over --http-max-body: 413 naming the limit, and none of its events
// stored.
TEST(HttpCliTest, ABodyOverTheLimitIs413AndNothingOfItIsStored) {
  TempDir dir;
  HttpServe serve(dir, {"--http", "127.0.0.1:0", "--http-max-body", "1000"});
  std::vector<std::string> events;
  for (int i = 0; i < 30; ++i) events.push_back(MakeEvent(i, "big"));
  Reply r = Curl(dir, {"-X", "POST", "--data-binary", "@-", serve.Url("/v1/events")},
                 Lines(events));
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(absl::StrContains(r.body, "limit of 1000 bytes (--http-max-body)")) << r.body;
  r = Curl(dir, {serve.Url("/health")});
  EXPECT_TRUE(absl::StrContains(r.body, "\"events\":0,")) << r.body;
  r = Curl(dir, {"-X", "POST", "--data-binary", "@-", serve.Url("/v1/events")}, events[0] + "\n");
  EXPECT_EQ(r.status, 200) << r.body;
}

// Beyond loopback only with a token (from a file only its owner reads);
// then every request needs it.
TEST(HttpCliTest, ATokenGuardsAnAddressBeyondLoopback) {
  TempDir dir;
  const int refused = SpawnCli(dir, "open", {"serve", "--log", dir.Sub("log"), "--http", "0.0.0.0:0"});
  EXPECT_EQ(WaitExitCode(refused), 2);
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(dir.Sub("open.err")), "--token-file"))
      << ReadFileOrEmpty(dir.Sub("open.err"));

  const std::string token = dir.Sub("token");
  WriteFileOrDie(token, "s3cret-token\n");
  ::chmod(token.c_str(), 0644);
  const int loose = SpawnCli(dir, "loose", {"serve", "--log", dir.Sub("log"), "--http",
                                            "127.0.0.1:0", "--token-file", token});
  EXPECT_EQ(WaitExitCode(loose), 2);
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(dir.Sub("loose.err")), "readable by others"))
      << ReadFileOrEmpty(dir.Sub("loose.err"));

  ::chmod(token.c_str(), 0600);
  HttpServe serve(dir, {"--http", "0.0.0.0:0", "--token-file", token});
  Reply r = Curl(dir, {serve.Url("/health")});
  EXPECT_EQ(r.status, 401);
  r = Curl(dir, {"-H", "Authorization: Bearer wrong-token!", serve.Url("/health")});
  EXPECT_EQ(r.status, 401);
  r = Curl(dir, {"-H", "Authorization: Bearer s3cret-token", serve.Url("/health")});
  EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace
}  // namespace tracelog
