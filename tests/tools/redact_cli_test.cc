// Redaction at ingest, end to end: a corpus of every kind of secret (in
// keys, in values, in nested arrays, written with JSON escapes) recorded by
// `append`, by `hook` and through `serve`; afterwards no secret is in any
// file of the log directory (raw segments, sealed segments decompressed,
// index, state files) nor in an export, and the non-secrets are untouched.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/server/client.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::testing::ReadFileOrEmpty;
using ::tracelog::testing::SpawnCli;
using ::tracelog::testing::TempDir;
using ::tracelog::testing::WaitExitCode;

struct Case {
  std::string event;   // one NDJSON event holding the secret
  std::string secret;  // a part of it that must be found nowhere (as written or decoded)
};

// Each secret is unique to its case, so that a leak names the case.
std::vector<Case> Corpus(const std::string& session) {
  const std::string head = absl::StrCat(R"({"event_type":"tool_call","session_id":")", session, R"(","data":)");
  auto c = [&](const std::string& data, const std::string& secret) {
    return Case{absl::StrCat(head, data, "}"), secret};
  };
  return {
      // Key names, at any depth, in arrays, a key written with escapes.
      c(R"({"password":"pw-Q1xv93kd"})", "Q1xv93kd"),
      c(R"({"env":[{"API_KEY":"ak-Z8mmq21p"}]})", "Z8mmq21p"),
      c(R"({"headers":{"Authorization":"Token tk-R5ttw02c"}})", "R5ttw02c"),
      c(R"({"pass\u0077ord":"pw-H7yyu65e"})", "H7yyu65e"),
      c(R"({"nested":[[{"client_secret":["cs-W3pok48x"]}]]})", "W3pok48x"),
      // Values anywhere, each kind of pattern.
      c(R"({"out":"key AKIAQWERTYUI12345678 found"})", "QWERTYUI12345678"),
      c(R"({"out":"\u0041KIAZXCVBNMA87654321"})", "ZXCVBNMA87654321"),
      c(R"({"out":"ghp_Xq9wE8rT7yU6iO5pA4sD3fG2hJ1kL0zX9cVb"})", "Xq9wE8rT7yU6iO5pA4sD3fG2hJ1k"),
      c(R"({"out":"glpat-Mn8bV7cX6zL5kJ4hG3fD"})", "Mn8bV7cX6zL5kJ4hG3fD"),
      c(R"({"out":"xoxb-2222222222-Pq1Wo2Ei3Ru4"})", "Pq1Wo2Ei3Ru4"),
      c(R"({"out":"OPENAI_KEY sk-proj-Lk2Jh3Gf4Ds5Aq6Wz7Xe8Rc"})", "Lk2Jh3Gf4Ds5Aq6Wz7Xe8Rc"),
      c(R"({"out":["sk-ant-api03-Vb9Nm8Qw7Er6Ty5Ui4Op3As"]})", "Vb9Nm8Qw7Er6Ty5Ui4Op3As"),
      c(R"({"out":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJKb2huIn0.Yt6Re5Wq4Ka3Sd2Fg1Hj0Kl"})",
        "Yt6Re5Wq4Ka3Sd2Fg1Hj0Kl"),
      c(R"({"file":"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAbUniqPem\n-----END OPENSSH PRIVATE KEY-----"})",
        "b3BlbnNzaC1rZXktdjEAAAAAbUniqPem"),
      c(R"({"cmd":"curl -H 'Authorization: Bearer Be4rerT0kenUn1que9' x"})", "Be4rerT0kenUn1que9"),
      c(R"({"dsn":"postgres://app:Pg5ecretUnq@db:5432/x"})", "Pg5ecretUnq"),
      c(R"({"cmd":"mysql --password=My5qlPwUnq -u root"})", "My5qlPwUnq"),
      c(R"({"cmd":"psql --password Ps9qlPwUnq"})", "Ps9qlPwUnq"),
      c(R"({"cmd":"DB_PASSWORD=En7VarPwUnq ./run"})", "En7VarPwUnq"),
      // A secret split by an escape inside a value.
      c(R"({"out":"ghp_Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1W\u0078y2z"})", "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1W"),
  };
}

// Events that hold nothing secret, whatever they look like.
std::vector<std::string> NonSecrets(const std::string& session) {
  const std::string head = absl::StrCat(R"({"event_type":"llm_response","session_id":")", session, R"(","data":)");
  return {
      absl::StrCat(head, R"({"usage":{"max_tokens":4096,"input_tokens":12},"model":"claude"})", "}"),
      absl::StrCat(head, R"({"text":"the password policy needs 12 chars; rotate the api key yearly"})", "}"),
      absl::StrCat(head, R"({"sha":"0123456789abcdef0123456789abcdef01234567","tool_name":"Bash"})", "}"),
  };
}

std::string Join(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) absl::StrAppend(&s, l, "\n");
  return s;
}

// Every file under `root` (the log directory or an export) read raw.
void ExpectNoSecretInFiles(const std::string& root, const std::vector<Case>& cases) {
  int files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    ++files;
    const std::string bytes = ReadFileOrEmpty(e.path().string());
    for (const Case& c : cases) {
      EXPECT_FALSE(absl::StrContains(bytes, c.secret)) << c.secret << " is in " << e.path();
    }
  }
  EXPECT_GT(files, 0) << root;
}

TEST(RedactCliTest, NoSecretReachesAnyFileOfTheLogOrItsExport) {
  TempDir dir;
  const std::string log = dir.Sub("log");
  std::vector<Case> all;
  // `tracelog append`, alone on the log.
  std::vector<std::string> lines;
  for (Case& c : Corpus("by-append")) {
    lines.push_back(c.event);
    all.push_back(std::move(c));
  }
  for (std::string& n : NonSecrets("by-append")) lines.push_back(n);
  ASSERT_EQ(WaitExitCode(SpawnCli(dir, "append", {"append", "--log", log}, Join(lines))), 0)
      << ReadFileOrEmpty(dir.Sub("append.err"));
  // `tracelog hook`: a tool call whose input holds secrets.
  const std::string hook_input =
      R"({"session_id":"by-hook","hook_event_name":"PreToolUse","tool_name":"Bash","tool_use_id":"t1",)"
      R"("tool_input":{"command":"export ANTHROPIC_API_KEY=sk-ant-api03-Hk7Hk7Hk7Hk7Hk7Hk7Hk7Hk7"}})";
  all.push_back(Case{"", "Hk7Hk7Hk7Hk7Hk7Hk7Hk7Hk7"});
  ASSERT_EQ(WaitExitCode(SpawnCli(dir, "hook", {"hook", "PreToolUse", "--log", log}, hook_input)), 0);
  EXPECT_EQ(ReadFileOrEmpty(dir.Sub("hook.err")), "");
  // Through `tracelog serve`.
  const pid_t server = SpawnCli(dir, "serve", {"serve", "--log", log});
  bool up = false;
  for (int i = 0; i < 500 && !up; ++i) {
    up = ConnectToServer(log + "/serve.sock").ok();
    if (!up) ::usleep(10000);
  }
  ASSERT_TRUE(up) << ReadFileOrEmpty(dir.Sub("serve.err"));
  lines.clear();
  for (Case& c : Corpus("by-serve")) {
    lines.push_back(c.event);
    all.push_back(std::move(c));
  }
  ASSERT_EQ(WaitExitCode(SpawnCli(dir, "served", {"append", "--log", log}, Join(lines))), 0)
      << ReadFileOrEmpty(dir.Sub("served.err"));
  ::kill(server, SIGTERM);
  ASSERT_EQ(WaitExitCode(server), 0) << ReadFileOrEmpty(dir.Sub("serve.err"));

  // The raw segments, then the sealed ones with their index.
  ExpectNoSecretInFiles(log, all);
  ASSERT_EQ(WaitExitCode(SpawnCli(dir, "seal", {"seal", "--log", log})), 0)
      << ReadFileOrEmpty(dir.Sub("seal.err"));
  ExpectNoSecretInFiles(log, all);
  // Decompressed: everything read back.
  ASSERT_EQ(WaitExitCode(SpawnCli(dir, "dump", {"dump", "--log", log})), 0);
  const std::string dumped = ReadFileOrEmpty(dir.Sub("dump.out"));
  for (const Case& c : all) EXPECT_FALSE(absl::StrContains(dumped, c.secret)) << c.secret;
  EXPECT_EQ(std::count(dumped.begin(), dumped.end(), '\n'),
            static_cast<long>(all.size() + NonSecrets("").size()));
  // Every event that held a secret says so; the others are stored as sent.
  size_t marked = 0;
  for (absl::string_view line : absl::StrSplit(dumped, '\n', absl::SkipEmpty())) {
    marked += absl::EndsWith(line, ",\"redacted\":true}");
  }
  EXPECT_EQ(marked, all.size());
  for (const std::string& n : NonSecrets("by-append")) {
    EXPECT_TRUE(absl::StrContains(dumped, n + "\n")) << n;
  }
  // And exported.
  ASSERT_EQ(WaitExitCode(SpawnCli(dir, "export", {"export", "--log", log, dir.Sub("out")})), 0)
      << ReadFileOrEmpty(dir.Sub("export.err"));
  ExpectNoSecretInFiles(dir.Sub("out"), all);
}

// --no-redact (and `redact=off` in CONFIG) store the events as sent.
TEST(RedactCliTest, NoRedactStoresTheEventAsSent) {
  TempDir dir;
  const std::string event = Corpus("s")[0].event;
  ASSERT_EQ(WaitExitCode(SpawnCli(dir, "a", {"append", "--log", dir.Sub("log"), "--no-redact"},
                                  event + "\n")),
            0);
  testing::WriteFileOrDie(dir.Sub("log/CONFIG"), "fsync=interval:100\nredact = off\n");
  ASSERT_EQ(WaitExitCode(SpawnCli(dir, "b", {"append", "--log", dir.Sub("log")}, event + "\n")), 0);
  ASSERT_EQ(WaitExitCode(SpawnCli(dir, "dump", {"dump", "--log", dir.Sub("log")})), 0);
  EXPECT_EQ(ReadFileOrEmpty(dir.Sub("dump.out")), event + "\n" + event + "\n");
}

// A user's key names and patterns from CONFIG are applied; a pattern that
// does not compile stops the writer with the line named, nothing stored.
TEST(RedactCliTest, ConfigAddsKeysAndPatterns) {
  TempDir dir;
  ASSERT_EQ(::mkdir(dir.Sub("log").c_str(), 0700), 0);
  testing::WriteFileOrDie(dir.Sub("log/CONFIG"),
                          "fsync=interval:100\nredact_key=employee_id\nredact_pattern=CORP-[0-9]{6}\n");
  ASSERT_EQ(WaitExitCode(SpawnCli(dir, "a", {"append", "--log", dir.Sub("log")},
                                  R"({"data":{"employee_id":"E1","note":"ticket CORP-123456 ok"}})"
                                  "\n")),
            0)
      << ReadFileOrEmpty(dir.Sub("a.err"));
  ASSERT_EQ(WaitExitCode(SpawnCli(dir, "dump", {"dump", "--log", dir.Sub("log")})), 0);
  EXPECT_EQ(ReadFileOrEmpty(dir.Sub("dump.out")),
            R"({"data":{"employee_id":"[REDACTED]","note":"ticket [REDACTED] ok"},"redacted":true})"
            "\n");
  testing::WriteFileOrDie(dir.Sub("log/CONFIG"), "fsync=interval:100\nredact_pattern=(unclosed\n");
  EXPECT_EQ(WaitExitCode(SpawnCli(dir, "b", {"append", "--log", dir.Sub("log")}, "{\"a\":1}\n")), 2);
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(dir.Sub("b.err")), "(unclosed"))
      << ReadFileOrEmpty(dir.Sub("b.err"));
  ASSERT_EQ(WaitExitCode(SpawnCli(dir, "dump2", {"dump", "--log", dir.Sub("log")})), 0);
  const std::string after = ReadFileOrEmpty(dir.Sub("dump2.out"));
  EXPECT_EQ(std::count(after.begin(), after.end(), '\n'), 1) << after;
}

}  // namespace
}  // namespace tracelog
