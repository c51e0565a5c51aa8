// `tracelog setup` as a process: the hooks it writes into Claude Code's
// settings.json, merging with what is there, and the files it refuses.

#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/testutil/test_util.h"

namespace tracelog {
namespace {

using ::tracelog::testing::ReadFileOrEmpty;
using ::tracelog::testing::SpawnCli;
using ::tracelog::testing::TempDir;
using ::tracelog::testing::WaitExitCode;
using ::tracelog::testing::WriteFileOrDie;

namespace dom = simdjson::dom;

struct Result {
  int exit_code = -1;
  std::string out, err;
};

Result RunSetup(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), "setup");
  Result r;
  r.exit_code = WaitExitCode(SpawnCli(dir, "setup", std::move(args)));
  r.out = ReadFileOrEmpty(dir.Sub("setup.out"));
  r.err = ReadFileOrEmpty(dir.Sub("setup.err"));
  return r;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

// The names of an object's members, in order.
std::vector<std::string> Keys(dom::object o) {
  std::vector<std::string> keys;
  for (dom::key_value_pair field : o) keys.emplace_back(field.key);
  return keys;
}

const std::vector<std::string> kEvents = {"SessionStart",  "UserPromptSubmit",   "PreToolUse",
                                          "PostToolUse",   "PostToolUseFailure", "Stop",
                                          "SubagentStart", "SubagentStop",       "Notification",
                                          "PreCompact",    "SessionEnd"};

// A fresh project: a private .claude directory and settings file holding,
// for every event in order, one group running this binary's `hook <Event>`
// with the log's absolute path, shell-quoted (the ' in it too); a matcher
// only on the tool events.
TEST(SetupCliTest, FreshProjectGetsEveryEvent) {
  TempDir dir;
  ASSERT_EQ(::mkdir(dir.Sub("proj").c_str(), 0755), 0);
  const Result r = RunSetup(dir, {"--project", dir.Sub("proj"), "--log", dir.Sub("lo'g")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string path = dir.Sub("proj/.claude/settings.json");
  EXPECT_TRUE(absl::StrContains(r.out, absl::StrCat("added 11 hooks to ", path))) << r.out;
  EXPECT_EQ(ModeOf(dir.Sub("proj/.claude")), 0700u);
  EXPECT_EQ(ModeOf(path), 0600u);

  char exe[PATH_MAX];
  ASSERT_NE(::realpath(TRACELOG_CLI, exe), nullptr);
  dom::parser parser;
  dom::object hooks;
  ASSERT_EQ(parser.load(path)["hooks"].get(hooks), simdjson::SUCCESS) << ReadFileOrEmpty(path);
  EXPECT_EQ(Keys(hooks), kEvents);
  for (const std::string& event : kEvents) {
    dom::array groups = hooks[event];
    ASSERT_EQ(groups.size(), 1u) << event;
    dom::object group = groups.at(0);
    const bool tool = absl::StrContains(event, "ToolUse");
    const std::vector<std::string> keys =
        tool ? std::vector<std::string>{"matcher", "hooks"} : std::vector<std::string>{"hooks"};
    EXPECT_EQ(Keys(group), keys) << event;
    if (tool) {
      EXPECT_EQ(std::string_view(group["matcher"]), "*");
    }
    dom::object hook = group["hooks"].at(0);
    EXPECT_EQ(std::string_view(hook["type"]), "command");
    EXPECT_EQ(std::string_view(hook["command"]),
              absl::StrCat("'", exe, "' hook ", event, " --log '", dir.path(), "/lo'\\''g'"));
  }
}

// A settings file in setup's own layout: other keys (numbers of every kind,
// UTF-8 and escapes), another tool's hooks, and a stale tracelog hook (other
// path, by hand) sharing a group with another hook.
constexpr char kOtherSettings[] = R"json({
  "model": "x",
  "n": 1.5,
  "big": 12345678901234567890,
  "neg": -3,
  "tiny": 1e-07,
  "text": "café \"q\"\n\u0001",
  "permissions": {
    "allow": [
      "Bash(ls)"
    ],
    "deny": []
  },
  "hooks": {
    "PreToolUse": [
      {
        "matcher": "Bash",
        "hooks": [
          {
            "type": "command",
            "command": "other-tool check",
            "timeout": 30
          }
        ]
      }
    ],
    "Stop": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "notify-send done"
          },
          {
            "type": "command",
            "command": "/old/bin/tracelog hook Stop --log /old"
          }
        ]
      }
    ]
  },
  "z": null,
  "t": true
}
)json";
constexpr char kStaleHook[] = R"(,
          {
            "type": "command",
            "command": "/old/bin/tracelog hook Stop --log /old"
          })";

// Setup keeps everything else (content, order, mode) and replaces the stale
// hook; again, it changes nothing; --remove leaves exactly the other content.
TEST(SetupCliTest, MergesIsIdempotentAndRemovesOnlyOurs) {
  TempDir dir;
  const std::string path = dir.Sub("settings.json");
  WriteFileOrDie(path, kOtherSettings);
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  const std::vector<std::string> args = {"--settings", path, "--log", dir.Sub("log")};

  Result r = RunSetup(dir, args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "; 1 tracelog hooks there replaced")) << r.out;
  const std::string installed = ReadFileOrEmpty(path);
  EXPECT_EQ(ModeOf(path), 0640u);
  EXPECT_FALSE(absl::StrContains(installed, "/old/bin/tracelog")) << installed;
  dom::parser parser;
  dom::object top;
  ASSERT_EQ(parser.parse(installed).get(top), simdjson::SUCCESS) << installed;
  EXPECT_EQ(Keys(top), (std::vector<std::string>{"model", "n", "big", "neg", "tiny", "text",
                                                 "permissions", "hooks", "z", "t"}));
  dom::array pre = top["hooks"]["PreToolUse"];
  ASSERT_EQ(pre.size(), 2u);  // theirs first, then ours
  EXPECT_EQ(std::string_view(pre.at(0)["matcher"]), "Bash");
  const std::string ours(std::string_view(pre.at(1)["hooks"].at(0)["command"]));
  EXPECT_TRUE(absl::StrContains(ours, " hook PreToolUse --log ")) << ours;

  r = RunSetup(dir, args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFileOrEmpty(path), installed);

  r = RunSetup(dir, {"--settings", path, "--remove"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "removed 11 hooks")) << r.out;
  const std::string others = absl::StrReplaceAll(kOtherSettings, {{kStaleHook, ""}});
  ASSERT_NE(others, kOtherSettings);
  EXPECT_EQ(ReadFileOrEmpty(path), others);

  r = RunSetup(dir, {"--settings", path, "--remove"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "nothing to remove")) << r.out;
  EXPECT_EQ(ReadFileOrEmpty(path), others);
}

// --remove after setup on a fresh file takes out every group, event and
// "hooks" itself, which only held ours.
TEST(SetupCliTest, RemoveDropsWhatItEmptied) {
  TempDir dir;
  const std::string path = dir.Sub("settings.json");
  ASSERT_EQ(RunSetup(dir, {"--settings", path}).exit_code, 0);
  const Result r = RunSetup(dir, {"--settings", path, "--remove"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, absl::StrCat("removed 11 hooks from ", path, "\n"));
  EXPECT_EQ(ReadFileOrEmpty(path), "{}\n");
}

// A file that is not JSON is refused (exit 2), named, and left as it is.
TEST(SetupCliTest, InvalidJsonIsRefusedAndKept) {
  TempDir dir;
  const std::string path = dir.Sub("settings.json");
  WriteFileOrDie(path, "{\"model\": \"x\",");
  const Result r = RunSetup(dir, {"--settings", path});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(r.err, path)) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "not valid JSON")) << r.err;
  EXPECT_EQ(ReadFileOrEmpty(path), "{\"model\": \"x\",");
}

// JSON of the wrong shape where setup writes (top level, "hooks", an event)
// is refused the same way, for --remove too.
TEST(SetupCliTest, WrongShapeIsRefusedAndKept) {
  for (const std::string text : {"[1]\n", "{\"hooks\": []}\n", "{\"hooks\": {\"Stop\": 5}}\n"}) {
    TempDir dir;
    const std::string path = dir.Sub("settings.json");
    WriteFileOrDie(path, text);
    for (const bool remove : {false, true}) {
      std::vector<std::string> args = {"--settings", path};
      if (remove) args.push_back("--remove");
      const Result r = RunSetup(dir, args);
      // "Stop": 5 holds no hooks of ours: nothing to remove, nothing to refuse.
      const int expected = remove && absl::StrContains(text, "Stop") ? 0 : 2;
      EXPECT_EQ(r.exit_code, expected) << text << r.err;
      if (expected == 2) {
        EXPECT_TRUE(absl::StrContains(r.err, path)) << r.err;
      }
      EXPECT_EQ(ReadFileOrEmpty(path), text);
    }
  }
}

// A symbolic link is refused (the rename would replace the link): the link
// and its target stay as they are.
TEST(SetupCliTest, SymlinkIsRefused) {
  TempDir dir;
  const std::string target = dir.Sub("real.json"), link = dir.Sub("settings.json");
  WriteFileOrDie(target, "{\"a\": 1}");
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  const Result r = RunSetup(dir, {"--settings", link});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(r.err, "symbolic link")) << r.err;
  struct stat st;
  ASSERT_EQ(::lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(ReadFileOrEmpty(target), "{\"a\": 1}");
}

}  // namespace
}  // namespace tracelog
