// End-to-end tests of the `tracelog` binary (run without a shell).

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <thread>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/format/sealed_format.h"
#include "engine/format/segment_format.h"
#include "engine/workload/workload.h"
#include "engine/log/log.h"
#include "tests/testutil/test_util.h"

extern char** environ;

namespace tracelog {
namespace {

using ::tracelog::testing::MakeEvent;
using ::tracelog::testing::ReadFileOrEmpty;
using ::tracelog::testing::SpawnCli;
using ::tracelog::testing::WaitExitCode;
using ::tracelog::testing::TempDir;
using ::tracelog::testing::WriteFileOrDie;

struct Result {
  int exit_code = -1;
  std::string out, err;
};

Result RunCli(const TempDir& dir, std::vector<std::string> args, const std::string& input = "") {
  Result r;
  r.exit_code = WaitExitCode(SpawnCli(dir, "cli", std::move(args), input));
  r.out = ReadFileOrEmpty(dir.Sub("cli.out"));
  r.err = ReadFileOrEmpty(dir.Sub("cli.err"));
  return r;
}

// Many `tracelog append` processes at once on one log (no server): each
// waits for the writer lock (--wait) instead of failing, so all succeed,
// and every event is stored once, each process's in its order.
TEST(CliTest, ConcurrentAppendsWaitForTheLockAndAllSucceed) {
  TempDir dir;
  constexpr int kWriters = 8, kEvents = 300;
  std::vector<pid_t> pids;
  for (int w = 0; w < kWriters; ++w) {
    std::string input;
    for (int i = 0; i < kEvents; ++i) {
      absl::StrAppend(&input, MakeEvent(w * 1000 + i, absl::StrCat("w", w), 100), "\n");
    }
    pids.push_back(SpawnCli(dir, absl::StrCat("w", w),
                            {"append", "--log", dir.Sub("log"), "--fsync", "always"}, input));
    ASSERT_GT(pids.back(), 0);
  }
  for (int w = 0; w < kWriters; ++w) {
    EXPECT_EQ(WaitExitCode(pids[w]), 0)
        << "writer " << w << ": " << ReadFileOrEmpty(dir.Sub(absl::StrCat("w", w, ".err")));
  }
  Result r = RunCli(dir, {"dump", "--log", dir.Sub("log")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<int, std::vector<std::string>> by_writer;
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
    ++lines;
    for (int w = 0; w < kWriters; ++w) {
      if (absl::StrContains(line, absl::StrCat("\"session_id\":\"w", w, "\""))) {
        by_writer[w].emplace_back(line);
      }
    }
  }
  EXPECT_EQ(lines, kWriters * kEvents);
  for (int w = 0; w < kWriters; ++w) {
    std::vector<std::string> want;
    for (int i = 0; i < kEvents; ++i) want.push_back(MakeEvent(w * 1000 + i, absl::StrCat("w", w), 100));
    EXPECT_EQ(by_writer[w], want) << "writer " << w;
  }
}

// With --wait 0 a second writer fails at once, naming the lock.
TEST(CliTest, AppendWithoutWaitFailsWhileAnotherWriterHoldsTheLog) {
  TempDir dir;
  ASSERT_EQ(RunCli(dir, {"append", "--log", dir.Sub("log")}, MakeEvent(1) + "\n").exit_code, 0);
  auto held = Log::Open(dir.Sub("log"), LogOptions());
  ASSERT_OK(held);
  Result r = RunCli(dir, {"append", "--log", dir.Sub("log"), "--wait", "0"}, MakeEvent(2) + "\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is locked"), std::string::npos) << r.err;
  r = RunCli(dir, {"append", "--log", dir.Sub("log"), "--wait", "0.2"}, MakeEvent(2) + "\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("waited 0.2 s"), std::string::npos) << r.err;
}

TEST(CliTest, HelpListsSubcommandsAndExitsZero) {
  TempDir dir;
  Result r = RunCli(dir, {"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* sub : {"append", "dump", "verify", "info", "gen", "query", "sessions", "seal",
                          "reindex", "retain"}) {
    EXPECT_NE(r.out.find(sub), std::string::npos) << sub;
  }
  r = RunCli(dir, {"append", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--fsync"), std::string::npos);
}

TEST(CliTest, VersionNamesTheFormatVersion) {
  TempDir dir;
  Result r = RunCli(dir, {"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find(absl::StrCat("on-disk format ", kFormatVersion)), std::string::npos) << r.out;
}

TEST(CliTest, UnknownSubcommandAndBadFlagsExitTwo) {
  TempDir dir;
  Result r = RunCli(dir, {"bogus"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(r.err.empty());
  EXPECT_TRUE(r.out.empty());
  EXPECT_EQ(RunCli(dir, {"dump", "--no-such-flag"}).exit_code, 2);
  EXPECT_EQ(RunCli(dir, {"append", "--fsync", "sometimes", "--log", dir.Sub("l")}).exit_code, 2);
  EXPECT_EQ(RunCli(dir, {}).exit_code, 2);
}

TEST(CliTest, AppendThenDumpIsByteIdenticalAndAcksAreSequences) {
  TempDir dir;
  std::string input;
  for (int i = 0; i < 50; ++i) absl::StrAppend(&input, MakeEvent(i), "\n");
  Result r = RunCli(dir, {"append", "--log", dir.Sub("log"), "--fsync", "always", "--ack"}, input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> acks = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(acks.size(), 50u);
  EXPECT_EQ(acks[0], "1 e0");
  EXPECT_EQ(acks[49], "50 e49");
  r = RunCli(dir, {"dump", "--log", dir.Sub("log")});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, input);
  r = RunCli(dir, {"dump", "--log", dir.Sub("log"), "--from", "48", "--limit", "2"});
  EXPECT_EQ(r.out, absl::StrCat(MakeEvent(47), "\n", MakeEvent(48), "\n"));
  r = RunCli(dir, {"info", "--log", dir.Sub("log")});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("events:           50"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fsync policy:     always"), std::string::npos) << r.out;
}

// An ack line is one line per event whatever its event_id holds: a plain id
// is printed as it is, any other (a space, a quote, a backslash, a control
// or non-ASCII character, or none at all) as a JSON string. An id with a
// newline cannot add a line of its own.
TEST(CliTest, AnEventIdCannotForgeAnAckLine) {
  TempDir dir;
  const std::vector<std::string> ids = {
      R"("e1")",           R"("x\n99 forged")", R"("has space")", R"("\"q\"")",
      R"("\u00e9")",       "",                  R"("\u001b[31m")", R"("a\\b")",
      R"("x\r\n98 forged")"};
  std::string input;
  for (const std::string& id : ids) {
    absl::StrAppend(&input, R"({"event_type":"decision","timestamp":1.5,)",
                    id.empty() ? "" : absl::StrCat(R"("event_id":)", id, ","),
                    R"("session_id":"s","data":{}})", "\n");
  }
  Result r = RunCli(dir, {"append", "--log", dir.Sub("log"), "--ack"}, input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "1 e1\n"
            "2 \"x\\n99 forged\"\n"
            "3 \"has space\"\n"
            "4 \"\\\"q\\\"\"\n"
            "5 \"\\u00e9\"\n"
            "6 \"\"\n"
            "7 \"\\u001b[31m\"\n"
            "8 \"a\\\\b\"\n"
            "9 \"x\\r\\n98 forged\"\n");
}

TEST(CliTest, BadLineAbortsWithLineNumberKeepingWhatCameBefore) {
  TempDir dir;
  const std::string input = MakeEvent(0) + "\n" + MakeEvent(1) + "\nnot json\n" + MakeEvent(3) + "\n";
  Result r = RunCli(dir, {"append", "--log", dir.Sub("log")}, input);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("stdin:3:"), std::string::npos) << r.err;
  r = RunCli(dir, {"dump", "--log", dir.Sub("log")});
  EXPECT_EQ(r.out, MakeEvent(0) + "\n" + MakeEvent(1) + "\n");
}

TEST(CliTest, SkipModeSkipsBadLinesAndCountsThem) {
  TempDir dir;
  const std::string input = "[1]\n" + MakeEvent(1) + "\n\n{\"a\":\n" + MakeEvent(3);  // no final newline
  Result r = RunCli(dir, {"append", "--log", dir.Sub("log"), "--on-error=skip"}, input);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("stdin:1:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("stdin:4:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("skipped 2 bad line"), std::string::npos) << r.err;
  r = RunCli(dir, {"dump", "--log", dir.Sub("log")});
  EXPECT_EQ(r.out, MakeEvent(1) + "\n" + MakeEvent(3) + "\n");
}

TEST(CliTest, VerifyFindsDamageWithFileAndOffset) {
  TempDir dir;
  std::string input;
  for (int i = 0; i < 20; ++i) absl::StrAppend(&input, MakeEvent(i), "\n");
  ASSERT_EQ(RunCli(dir, {"append", "--log", dir.Sub("log")}, input).exit_code, 0);
  Result r = RunCli(dir, {"verify", "--log", dir.Sub("log")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("20 events"), std::string::npos) << r.out;

  const std::string seg = dir.Sub("log/") + SegmentFileName(1);
  std::string bytes = ReadFileOrEmpty(seg);
  const size_t at = bytes.find(MakeEvent(7));
  bytes[at + 30] ^= 0x04;
  WriteFileOrDie(seg, bytes);
  r = RunCli(dir, {"verify", "--log", dir.Sub("log")});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find(absl::StrCat("DAMAGED ", seg, ": damaged bytes [")), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("19 events"), std::string::npos) << r.out;
  // dump never prints the damaged event, reports it, and exits 1.
  r = RunCli(dir, {"dump", "--log", dir.Sub("log")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out.find(MakeEvent(7)), std::string::npos);
  EXPECT_NE(r.err.find("skipped"), std::string::npos);
  EXPECT_EQ(r.err.find("are missing"), std::string::npos) << "damage is not a second, missing-events report";
}

TEST(CliTest, VerifyReportsAMissingSegmentAsASequenceGap) {
  TempDir dir;
  std::string input;
  for (int i = 0; i < 300; ++i) absl::StrAppend(&input, MakeEvent(i, "s", 200), "\n");
  ASSERT_EQ(RunCli(dir, {"append", "--log", dir.Sub("log"), "--segment-size", "16384"}, input)
                .exit_code,
            0);
  // The background sealer may have sealed some rolled segments: the second
  // segment goes away in whichever form it has (raw, or sealed with its index).
  std::vector<uint64_t> bases;
  for (const auto& e : std::filesystem::directory_iterator(dir.Sub("log"))) {
    const std::string name = e.path().filename();
    if (auto b = ParseSegmentFileName(name)) bases.push_back(*b);
    if (auto b = ParseSealedFileName(name)) bases.push_back(*b);
  }
  std::sort(bases.begin(), bases.end());
  ASSERT_GT(bases.size(), 3u);
  for (const std::string& name :
       {SegmentFileName(bases[1]), SealedFileName(bases[1]), IndexFileName(bases[1])}) {
    std::filesystem::remove(dir.Sub("log/") + name);
  }
  // Reported as missing numbers either way: after a sealed segment, as a
  // hole no segment holds; after a raw one (when the sealer had not reached
  // the first segment before the writer closed), as that segment ending
  // short of its successor's base, which is all a reader can tell.
  const std::string missing =
      absl::StrCat("sequences ", bases[1], " to ", bases[2] - 1, " are missing");
  Result r = RunCli(dir, {"verify", "--log", dir.Sub("log")});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find(missing), std::string::npos) << r.out;
  r = RunCli(dir, {"dump", "--log", dir.Sub("log")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(missing), std::string::npos) << r.err;
}

TEST(CliTest, ReadersOnAMissingLogSayWhere) {
  TempDir dir;
  Result r = RunCli(dir, {"dump", "--log", dir.Sub("nothing")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(dir.Sub("nothing")), std::string::npos) << r.err;
}

TEST(CliTest, GenIsDeterministicAndWritesADirectory) {
  TempDir dir;
  Result a = RunCli(dir, {"gen", "--sessions", "5", "--seed", "3"});
  Result b = RunCli(dir, {"gen", "--sessions", "5", "--seed", "3"});
  ASSERT_EQ(a.exit_code, 0);
  EXPECT_EQ(a.out, b.out);
  EXPECT_GT(a.out.size(), 1000u);
  Result d = RunCli(dir, {"gen", "--sessions", "4", "--format", "dir", "--out", dir.Sub("tree")});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  int sessions = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.Sub("tree"))) {
    EXPECT_TRUE(std::filesystem::exists(e.path() / "meta.json"));
    EXPECT_TRUE(std::filesystem::exists(e.path() / "events.ndjson"));
    ++sessions;
  }
  EXPECT_EQ(sessions, 4);
}

TEST(CliTest, SealQuerySessionsReindexRetainEndToEnd) {
  TempDir dir;
  const std::string log = dir.Sub("log");
  Result gen = RunCli(dir, {"gen", "--sessions", "24", "--agents", "3", "--seed", "5"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  // --no-redact: the generator writes lines such as `sadorver_token = 287704`,
  // which redaction would change, and this test compares bytes.
  ASSERT_EQ(RunCli(dir, {"append", "--log", log, "--fsync", "never", "--segment-size", "65536",
                         "--no-redact"},
                   gen.out).exit_code,
            0);
  // No filter: every event, in order, byte for byte (written with writev
  // into a pipe), from the raw segments and then from the sealed ones.
  EXPECT_EQ(RunCli(dir, {"query", "--log", log}).out, gen.out);
  // Counts from raw segments (scan) and from sealed ones (index) agree.
  Result raw_count = RunCli(dir, {"query", "--log", log, "--tool", "Bash", "--count"});
  ASSERT_EQ(raw_count.exit_code, 0) << raw_count.err;
  Result seal = RunCli(dir, {"seal", "--log", log});
  ASSERT_EQ(seal.exit_code, 0) << seal.err;
  EXPECT_NE(seal.out.find("segments are sealed"), std::string::npos) << seal.out;
  Result sealed_count = RunCli(dir, {"query", "--log", log, "--tool", "Bash", "--count"});
  EXPECT_EQ(sealed_count.out, raw_count.out);
  EXPECT_GT(std::stoi(sealed_count.out), 0);
  EXPECT_EQ(RunCli(dir, {"dump", "--log", log}).out, gen.out) << "byte for byte after sealing";
  EXPECT_EQ(RunCli(dir, {"query", "--log", log}).out, gen.out) << "query, after sealing";

  // Sessions: a header and one line per session; a prefix selects one.
  Result sessions = RunCli(dir, {"sessions", "--log", log});
  ASSERT_EQ(sessions.exit_code, 0) << sessions.err;
  std::vector<std::string> lines = absl::StrSplit(sessions.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 25u);
  const std::string id = lines[1].substr(0, lines[1].find('\t'));
  Result one = RunCli(dir, {"query", "--log", log, "--session", id.substr(0, 12)});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  for (absl::string_view l : absl::StrSplit(one.out, '\n', absl::SkipEmpty())) {
    EXPECT_NE(l.find(id), absl::string_view::npos);
  }
  // Nothing matched: 1. A bad time: 2, naming it.
  EXPECT_EQ(RunCli(dir, {"query", "--log", log, "--type", "no_such_type"}).exit_code, 1);
  Result bad = RunCli(dir, {"query", "--log", log, "--since", "yesterday"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("yesterday"), std::string::npos) << bad.err;

  // A damaged index: verify says so, queries still answer, reindex repairs it.
  const std::string idx = log + "/" + IndexFileName(1);
  std::string bytes = ReadFileOrEmpty(idx);
  ASSERT_FALSE(bytes.empty());
  bytes[bytes.size() / 2] ^= 1;
  WriteFileOrDie(idx, bytes);
  Result verify = RunCli(dir, {"verify", "--log", log});
  EXPECT_EQ(verify.exit_code, 1) << verify.out;
  EXPECT_NE(verify.out.find(IndexFileName(1)), std::string::npos) << verify.out;
  EXPECT_EQ(RunCli(dir, {"query", "--log", log, "--tool", "Bash", "--count"}).out,
            raw_count.out);
  EXPECT_EQ(RunCli(dir, {"reindex", "--log", log}).exit_code, 0);
  EXPECT_EQ(RunCli(dir, {"verify", "--log", log}).exit_code, 0);

  // Retention: everything sealed goes, the log stays readable and writable.
  Result retain = RunCli(dir, {"retain", "--log", log, "--max-bytes", "1"});
  ASSERT_EQ(retain.exit_code, 0) << retain.err;
  EXPECT_NE(retain.out.find("removed"), std::string::npos);
  EXPECT_EQ(RunCli(dir, {"dump", "--log", log}).out, "");
  EXPECT_EQ(RunCli(dir, {"retain", "--log", log}).exit_code, 2) << "a limit is required";
  EXPECT_EQ(RunCli(dir, {"verify", "--log", log}).exit_code, 0);
}

// Every regular file under `root`, by relative path, with its bytes.
std::map<std::string, std::string> Tree(const std::string& root) {
  std::map<std::string, std::string> out;
  if (!std::filesystem::exists(root)) return out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) {
      out[std::filesystem::relative(e.path(), root).string()] = ReadFileOrEmpty(e.path().string());
    }
  }
  return out;
}

// An agent-strace tree of `sessions` sessions at dir/src (`tracelog gen`).
void GenerateTree(const TempDir& dir, int sessions, int seed) {
  Result gen = RunCli(dir, {"gen", "--sessions", std::to_string(sessions), "--seed",
                            std::to_string(seed), "--format", "dir", "--out", dir.Sub("src")});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
}

TEST(CliTest, ImportThenExportGivesTheTreeBackAndBadInputImportsNothing) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(GenerateTree(dir, 30, 4));
  WriteFileOrDie(dir.Sub("src/.active-session"), "x");
  const std::string log = dir.Sub("log");
  Result imported = RunCli(dir, {"import", "--log", log, dir.Sub("src")});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_NE(imported.out.find("30 new"), std::string::npos) << imported.out;
  EXPECT_EQ(imported.err, "") << "no progress when stderr is not a terminal";
  Result exported = RunCli(dir, {"export", "--log", log, dir.Sub("out")});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_TRUE(Tree(dir.Sub("src")) == Tree(dir.Sub("out")));
  EXPECT_EQ(RunCli(dir, {"export", "--log", log, dir.Sub("out")}).exit_code, 2)
      << "an existing output directory is not clobbered";
  // Again: nothing new.
  Result again = RunCli(dir, {"import", "--log", log, dir.Sub("src")});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("30 unchanged"), std::string::npos) << again.out;
  // A bad line: exit 1, file and line named, nothing imported.
  const std::string before = RunCli(dir, {"dump", "--log", log}).out;
  std::filesystem::create_directories(dir.Sub("src/zz"));
  WriteFileOrDie(dir.Sub("src/zz/meta.json"), "{}");
  WriteFileOrDie(dir.Sub("src/zz/events.ndjson"), "{\"event_type\":\"a\"}\nnot json\n");
  Result bad = RunCli(dir, {"import", "--log", log, dir.Sub("src")});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("zz/events.ndjson:2:"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("nothing was imported"), std::string::npos) << bad.err;
  EXPECT_EQ(RunCli(dir, {"dump", "--log", log}).out, before);
  // One session in agent-strace's export shapes.
  std::string id;
  for (const auto& [path, bytes] : Tree(dir.Sub("src"))) {
    if (id.empty() && absl::EndsWith(path, "/meta.json")) id = path.substr(0, path.find('/'));
  }
  Result csv = RunCli(dir, {"export", "--log", log, "--session", id, "--format", "csv"});
  EXPECT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(csv.out.rfind("timestamp,event_type,event_id,parent_id,duration_ms,data\r\n", 0), 0u);
}

// --level sets the zstd level of the segments an import seals: the same tree
// takes fewer bytes at level 19 than at level 1, and comes back the same.
TEST(CliTest, ImportSealsAtTheLevelItIsGiven) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(GenerateTree(dir, 40, 6));
  auto stored = [&](const std::string& level) -> uint64_t {
    const std::string log = dir.Sub("log" + level);
    Result r = RunCli(dir, {"import", "--log", log, "--level", level, dir.Sub("src")});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    Result out = RunCli(dir, {"export", "--log", log, dir.Sub("out" + level)});
    EXPECT_EQ(out.exit_code, 0) << out.err;
    EXPECT_TRUE(Tree(dir.Sub("src")) == Tree(dir.Sub("out" + level)));
    const std::string info = RunCli(dir, {"info", "--log", log}).out;
    EXPECT_NE(info.find("(1 sealed)"), std::string::npos) << info;
    const size_t at = info.find("stored bytes:");
    EXPECT_NE(at, std::string::npos) << info;
    return at == std::string::npos ? 0 : std::stoull(info.substr(at + 13));
  };
  const uint64_t fast = stored("1"), small = stored("19");
  EXPECT_GT(small, 0u);
  EXPECT_LT(small, fast) << "--level is ignored";
  EXPECT_EQ(RunCli(dir, {"import", "--log", dir.Sub("log0"), "--level", "30", dir.Sub("src")})
                .exit_code,
            2);
}

// --session names an imported session directory as it is: one whose events
// carry another session_id, and one whose name holds a comma.
TEST(CliTest, ExportNamesImportedSessionsByTheirDirectory) {
  TempDir dir;
  const std::string a = R"({"event_type":"session_start","timestamp":1,"event_id":"a1","session_id":"other","data":{}})";
  const std::string c = R"({"event_type":"session_start","timestamp":2,"event_id":"c1","session_id":"x,y","data":{}})";
  for (const auto& [name, line] : {std::pair{std::string("dirA"), a}, std::pair{std::string("x,y"), c}}) {
    std::filesystem::create_directories(dir.Sub("src/" + name));
    WriteFileOrDie(dir.Sub("src/" + name + "/meta.json"), "{}");
    WriteFileOrDie(dir.Sub("src/" + name + "/events.ndjson"), line + "\n");
  }
  const std::string log = dir.Sub("log");
  ASSERT_EQ(RunCli(dir, {"import", "--log", log, dir.Sub("src")}).exit_code, 0);
  Result one = RunCli(dir, {"export", "--log", log, "--session", "dirA", "--format", "ndjson"});
  EXPECT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(one.out, a + "\n");
  Result comma = RunCli(dir, {"export", "--log", log, "--session", "x,y", "--format", "ndjson"});
  EXPECT_EQ(comma.exit_code, 0) << comma.err;
  EXPECT_EQ(comma.out, c + "\n");
  Result two = RunCli(dir, {"export", "--log", log, "--session", "dirA", "--session", "x,y",
                            "--format", "ndjson"});
  EXPECT_EQ(two.exit_code, 2);
  EXPECT_NE(two.err.find("one session"), std::string::npos) << two.err;
  Result tree = RunCli(dir, {"export", "--log", log, dir.Sub("out"), "--session", "dirA"});
  ASSERT_EQ(tree.exit_code, 0) << tree.err;
  EXPECT_EQ(ReadFileOrEmpty(dir.Sub("out/dirA/events.ndjson")), a + "\n");
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("out/x,y")));
}

// `import --ndjson` run again with the same stream (say, after an error
// whose import was committed after all) adds nothing and says what it
// skipped.
TEST(CliTest, ANdjsonImportRunAgainAddsNothing) {
  TempDir dir;
  const std::string log = dir.Sub("log");
  ASSERT_EQ(RunCli(dir, {"gen", "--sessions", "20", "--seed", "3", "--out", dir.Sub("fleet.ndjson")})
                .exit_code,
            0);
  Result first = RunCli(dir, {"import", "--log", log, "--ndjson", dir.Sub("fleet.ndjson")});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string once = RunCli(dir, {"dump", "--log", log}).out;
  ASSERT_FALSE(once.empty());
  Result again = RunCli(dir, {"import", "--log", log, "--ndjson", dir.Sub("fleet.ndjson")});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const std::string twice = RunCli(dir, {"dump", "--log", log}).out;
  const size_t events = std::count(once.begin(), once.end(), '\n');
  EXPECT_EQ(std::count(twice.begin(), twice.end(), '\n'), events) << "the retry duplicated events";
  EXPECT_TRUE(twice == once);
  EXPECT_NE(again.out.find(absl::StrCat("skipped ", events, " event(s) already in the log")),
            std::string::npos)
      << again.out;
}

TEST(CliTest, ImportKilledAtRandomPointsIsAllOrNothing) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(GenerateTree(dir, 200, 8));
  std::mt19937 rng(std::random_device{}());
  const unsigned seed = rng();
  rng.seed(seed);
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  const std::string full = dir.Sub("full");
  ASSERT_EQ(RunCli(dir, {"import", "--log", full, dir.Sub("src")}).exit_code, 0);
  const std::string all = RunCli(dir, {"dump", "--log", full}).out;
  int complete = 0, nothing = 0;
  for (int round = 0; round < 16; ++round) {
    const std::string log = dir.Sub(absl::StrCat("log", round));
    std::vector<std::string> args = {TRACELOG_CLI, "import", "--log", log, dir.Sub("src")};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    ASSERT_EQ(posix_spawn(&pid, TRACELOG_CLI, &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200000));
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    // Whatever the moment: the next writer sees all of it or none of it.
    if (!std::filesystem::exists(log)) {
      ++nothing;
      continue;
    }
    ASSERT_EQ(RunCli(dir, {"verify", "--log", log}).exit_code, 0) << "round " << round;
    const std::string got = RunCli(dir, {"dump", "--log", log}).out;
    if (got.empty()) {
      ++nothing;
    } else {
      ASSERT_EQ(got.size(), all.size()) << "round " << round << ": a partial import is visible";
      ASSERT_TRUE(got == all) << "round " << round;
      ++complete;
      Result out = RunCli(dir, {"export", "--log", log, dir.Sub(absl::StrCat("out", round))});
      ASSERT_EQ(out.exit_code, 0) << out.err;
      ASSERT_TRUE(Tree(dir.Sub("src")) == Tree(dir.Sub(absl::StrCat("out", round))));
    }
  }
  RecordProperty("complete", complete);
  RecordProperty("nothing", nothing);
}

}  // namespace
}  // namespace tracelog

namespace tracelog {
namespace {

// Issue 14, point 17: verify checked segments only. A damaged dictionary
// (its content no longer matches its id) or a damaged attachment pack went
// unreported; a damaged CHECKPOINT slot was silent too.
TEST(CliTest, VerifyChecksTheDictionaryTheAttachmentsAndTheCheckpoint) {
  TempDir dir;
  const std::string log_dir = dir.Sub("log");
  ASSERT_EQ(RunCli(dir, {"gen", "--agents", "2", "--sessions", "5", "--seed", "3", "--format",
                         "dir", "--out", dir.Sub("tree")})
                .exit_code,
            0);
  ASSERT_EQ(RunCli(dir, {"import", "--log", log_dir, dir.Sub("tree")}).exit_code, 0);
  {
    LogOptions o;
    o.segment_size = 1 << 20;
    o.seal.dictionary_min_bytes = 64 << 10;  // a dictionary from a small log
    o.seal.dictionary_size = 16 << 10;
    auto log = Log::Open(log_dir, o);
    ASSERT_TRUE(log.ok()) << log.status();
    WorkloadOptions w;
    w.seed = 5;
    w.agents = 3;
    w.sessions = 60;
    FleetWorkload fleet(w);
    std::string line;
    while (fleet.Next(&line)) {
      ASSERT_TRUE((*log)->Append(line).ok());
      line.clear();
    }
    ASSERT_TRUE((*log)->SealAll().ok());
    ASSERT_TRUE((*log)->Close().ok());
  }
  std::string dict, pack;
  for (const auto& e : std::filesystem::directory_iterator(log_dir)) {
    const std::string name = e.path().filename().string();
    if (ParseDictFileName(name)) dict = e.path();
    if (absl::EndsWith(name, ".attach")) pack = e.path();
  }
  ASSERT_FALSE(dict.empty()) << "no dictionary was trained";
  ASSERT_FALSE(pack.empty());
  Result r = RunCli(dir, {"verify", "--log", log_dir});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto flip = [&](const std::string& path, size_t from_end) {
    std::string bytes = ReadFileOrEmpty(path);
    bytes[bytes.size() - from_end] ^= 0x10;
    WriteFileOrDie(path, bytes);
  };
  flip(dict, 100);  // the dictionary's content, past its header
  r = RunCli(dir, {"verify", "--log", log_dir});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("DAMAGED " + dict), std::string::npos) << r.out;
  flip(dict, 100);
  flip(pack, 3);  // the last record of the pack
  r = RunCli(dir, {"verify", "--log", log_dir});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("DAMAGED " + pack), std::string::npos) << r.out;
  flip(pack, 3);
  const std::string cp = log_dir + "/CHECKPOINT";
  std::string bytes = ReadFileOrEmpty(cp);
  bytes[70] ^= 0x01;  // the volatile slot
  WriteFileOrDie(cp, bytes);
  r = RunCli(dir, {"verify", "--log", log_dir});
  EXPECT_EQ(r.exit_code, 0) << r.out;  // recovery only scans more: a note, not damage
  EXPECT_NE(r.out.find("volatile slot at offset 64 is damaged"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace tracelog
