// tracelog setup: installs (or, with --remove, takes out) the Claude Code
// hooks that run `tracelog hook EVENT`, by editing Claude Code's
// settings.json in place: merged, never clobbered, written atomically.
//
// Our hooks: a hook entry (an object in a matcher group's "hooks" array)
// whose "command" is a string whose first shell word, unquoted, is
// `tracelog` or a path ending in `/tracelog`, followed by ` hook `. That is
// what setup writes ('<binary>' hook <Event> --log '<dir>'), and it also
// catches entries written by an older tracelog at another path, or by hand,
// so that setup replaces them rather than logging every event twice.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/types/span.h"
#include "tools/cli.h"
#include "tools/settings_json.h"

namespace tracelog::cli {
namespace {

// Claude Code's hook events, in the order setup adds them.
constexpr const char* kEvents[] = {"SessionStart",  "UserPromptSubmit",   "PreToolUse",
                                   "PostToolUse",   "PostToolUseFailure", "Stop",
                                   "SubagentStart", "SubagentStop",       "Notification",
                                   "PreCompact",    "SessionEnd"};
constexpr int kEventCount = sizeof(kEvents) / sizeof(kEvents[0]);

// Events Claude Code matches against a tool name: their group has a matcher.
bool IsToolEvent(absl::string_view event) {
  return event == "PreToolUse" || event == "PostToolUse" || event == "PostToolUseFailure";
}

struct SetupFlags {
  bool global = false;
  std::string project;
  std::string settings;
  std::string log;
  bool remove = false;
};

// `s` as one word for a POSIX shell: single-quoted, a ' inside as '\''.
std::string ShellQuote(absl::string_view s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'') {
      out.append("'\\''");
    } else {
      out.push_back(c);
    }
  }
  out.push_back('\'');
  return out;
}

std::string HookCommand(const std::string& exe, absl::string_view event, const std::string& log) {
  return absl::StrCat(ShellQuote(exe), " hook ", event, " --log ", ShellQuote(log));
}

// The first word of `command` as a POSIX shell reads its quoting ('...',
// "...", backslash; no expansions), and in *end where it ends. "" when the
// quoting is not closed.
std::string FirstShellWord(absl::string_view command, size_t* end) {
  std::string word;
  size_t i = command.find_first_not_of(" \t");
  for (; i < command.size() && command[i] != ' ' && command[i] != '\t'; ++i) {
    const char c = command[i];
    if (c == '\\' && i + 1 < command.size()) {
      word.push_back(command[++i]);
    } else if (c == '\'' || c == '"') {
      const size_t close = command.find(c, i + 1);
      if (close == absl::string_view::npos) return "";
      for (size_t j = i + 1; j < close; ++j) {
        if (c == '"' && command[j] == '\\' && j + 1 < close) ++j;  // \" \\ \$ inside "..."
        word.push_back(command[j]);
      }
      i = close;
    } else {
      word.push_back(c);
    }
  }
  *end = std::min(i, command.size());
  return word;
}

// True for a hook entry of ours (the rule at the top of this file).
bool IsOurHook(const JsonValue& hook) {
  const JsonValue* command = hook.Find("command");
  if (command == nullptr || !command->is_string()) return false;
  size_t end = 0;
  const std::string word = FirstShellWord(command->text, &end);
  return (word == "tracelog" || absl::EndsWith(word, "/tracelog")) &&
         absl::StartsWith(absl::string_view(command->text).substr(end), " hook ");
}

// Takes our hook entries out of every event of `hooks` (the settings'
// "hooks" object); a group this leaves without hooks goes too. Returns how
// many entries were taken out; `emptied` gets the events left with no group.
int RemoveOurHooks(JsonValue* hooks, std::vector<std::string>* emptied) {
  int removed = 0;
  for (auto& [event, groups] : hooks->members) {
    if (!groups.is_array()) continue;
    const int before = removed;
    auto& items = groups.items;
    items.erase(std::remove_if(items.begin(), items.end(),
                               [&](JsonValue& group) {
                                 JsonValue* list = group.Find("hooks");
                                 if (list == nullptr || !list->is_array()) return false;
                                 auto& l = list->items;
                                 const auto ours = std::remove_if(l.begin(), l.end(), IsOurHook);
                                 if (ours == l.end()) return false;
                                 removed += static_cast<int>(l.end() - ours);
                                 l.erase(ours, l.end());
                                 return l.empty();
                               }),
                items.end());
    if (removed > before && items.empty()) emptied->push_back(event);
  }
  return removed;
}

// Drops the members of `object` named in `names` whose value is empty: the
// containers RemoveOurHooks emptied (what was empty before stays).
void DropEmptied(JsonValue* object, const std::vector<std::string>& names) {
  auto& m = object->members;
  m.erase(std::remove_if(m.begin(), m.end(),
                         [&](const auto& member) {
                           const JsonValue& v = member.second;
                           return v.items.empty() && v.members.empty() &&
                                  (v.is_array() || v.is_object()) &&
                                  std::find(names.begin(), names.end(), member.first) !=
                                      names.end();
                         }),
          m.end());
}

// Appends one group with our hook to each event of `hooks`, creating the
// events that are missing (at the end, in kEvents order).
absl::Status AddOurHooks(JsonValue* hooks, const std::string& exe, const std::string& log) {
  for (const char* event : kEvents) {
    JsonValue* groups = hooks->Find(event);
    if (groups == nullptr) {
      hooks->Add(event, JsonValue::Array());
      groups = &hooks->members.back().second;
    }
    if (!groups->is_array()) {
      return absl::InvalidArgumentError(absl::StrCat("\"hooks\".\"", event, "\" is not an array"));
    }
    JsonValue hook = JsonValue::Object();
    hook.Add("type", JsonValue::String("command"));
    hook.Add("command", JsonValue::String(HookCommand(exe, event, log)));
    JsonValue group = JsonValue::Object();
    if (IsToolEvent(event)) group.Add("matcher", JsonValue::String("*"));
    group.Add("hooks", JsonValue::Array());
    group.members.back().second.items.push_back(std::move(hook));
    groups->items.push_back(std::move(group));
  }
  return absl::OkStatus();
}

// ---- The settings file ---------------------------------------------------------

// Which settings file the flags name, and whether its directory (a
// `.claude`) is ours to create.
struct SettingsTarget {
  std::string path;
  std::string claude_dir;  // "" with --settings
};

absl::StatusOr<SettingsTarget> ChooseSettings(const SetupFlags& f) {
  if (!f.settings.empty()) return SettingsTarget{std::filesystem::absolute(f.settings), ""};
  std::string base = f.project.empty() ? "." : f.project;
  if (f.global) {
    const char* home = std::getenv("HOME");
    if (home == nullptr || *home == '\0') {
      return absl::FailedPreconditionError("--global: $HOME is not set");
    }
    base = home;
  }
  const std::string dir = (std::filesystem::absolute(base) / ".claude").lexically_normal().string();
  return SettingsTarget{dir + "/settings.json", dir};
}

// An absolute path for `dir`, without "." and ".." parts or a final '/'.
std::string AbsoluteDir(const std::string& dir) {
  std::string out = std::filesystem::absolute(dir).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

absl::StatusOr<std::string> ThisBinary() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf));
  if (n <= 0 || n == sizeof(buf)) return absl::ErrnoToStatus(errno, "readlink /proc/self/exe");
  return std::string(buf, static_cast<size_t>(n));
}

struct SettingsFile {
  mode_t mode = 0600;  // kept when the file is rewritten
  std::string text;
};

// Reads the settings file at `path` (none: empty text, mode 0600). A symbolic link is
// refused (O_NOFOLLOW): the atomic rename would replace the link itself.
absl::StatusOr<SettingsFile> ReadSettings(const std::string& path) {
  SettingsFile file;
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return file;
  if (fd < 0 && errno == ELOOP) {
    std::error_code ec;
    const std::string target = std::filesystem::canonical(path, ec).string();
    return absl::FailedPreconditionError(absl::StrCat(
        path,
        " is a symbolic link; setup writes a new file and renames it over the old one, "
        "which would replace the link: use --settings ",
        ec ? "<its target>" : target));
  }
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  struct stat st;
  absl::Status status;
  if (::fstat(fd, &st) != 0) {
    status = absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
  } else if (!S_ISREG(st.st_mode)) {
    status = absl::FailedPreconditionError(absl::StrCat(path, " is not a regular file"));
  }
  char buf[1 << 16];
  for (ssize_t n = 1; status.ok() && n != 0;) {
    n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno != EINTR) status = absl::ErrnoToStatus(errno, absl::StrCat("read ", path));
    if (n > 0) file.text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (!status.ok()) return status;
  file.mode = st.st_mode & 07777;
  return file;
}

// The settings as a tree: an object, whose "hooks" (if any) is an object. A
// missing or blank file is {}. Errors say the file is left as it is.
absl::StatusOr<JsonValue> ParseSettings(const std::string& path, const SettingsFile& file) {
  if (file.text.find_first_not_of(" \t\r\n") == std::string::npos) return JsonValue::Object();
  absl::StatusOr<JsonValue> settings = ParseJson(file.text);
  std::string problem;
  if (!settings.ok()) {
    problem = std::string(settings.status().message());
  } else if (!settings->is_object()) {
    problem = "the top level is not a JSON object";
  } else if (const JsonValue* hooks = settings->Find("hooks"); hooks && !hooks->is_object()) {
    problem = "\"hooks\" is not a JSON object";
  }
  if (problem.empty()) return settings;
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", problem, "; not modified"));
}

// Replaces `path` with `text` atomically: a temporary file in the same
// directory (mode `mode`), fsync, rename over `path`, fsync of the directory.
absl::Status WriteAtomically(const std::string& path, const std::string& text, mode_t mode) {
  std::string temp = path + ".tracelog-XXXXXX";
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("create a temporary file for ", path));
  absl::Status status;
  for (size_t at = 0; status.ok() && at < text.size();) {
    const ssize_t n = ::write(fd, text.data() + at, text.size() - at);
    if (n < 0 && errno != EINTR) status = absl::ErrnoToStatus(errno, "write " + temp);
    if (n > 0) at += static_cast<size_t>(n);
  }
  if (status.ok() && ::fchmod(fd, mode) != 0) status = absl::ErrnoToStatus(errno, "chmod " + temp);
  if (status.ok() && ::fsync(fd) != 0) status = absl::ErrnoToStatus(errno, "fsync " + temp);
  if (::close(fd) != 0 && status.ok()) status = absl::ErrnoToStatus(errno, "close " + temp);
  if (status.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    status = absl::ErrnoToStatus(errno, absl::StrCat("rename ", temp, " to ", path));
  }
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return absl::ErrnoToStatus(errno, "open " + dir);
  if (::fsync(dfd) != 0) status = absl::ErrnoToStatus(errno, "fsync " + dir);
  ::close(dfd);
  return status;
}

// ---- The command ---------------------------------------------------------------

// What an edit did: the line to print, and whether the file is to be written.
struct Outcome {
  std::string report;
  bool write = true;
};

// --remove: our hooks out of `settings` (at `path`), and what emptied goes.
Outcome Remove(const std::string& path, JsonValue* settings) {
  JsonValue* hooks = settings->Find("hooks");
  std::vector<std::string> emptied;
  const int removed = hooks != nullptr ? RemoveOurHooks(hooks, &emptied) : 0;
  if (removed == 0) return {absl::StrCat("nothing to remove: no tracelog hooks in ", path), false};
  DropEmptied(hooks, emptied);
  DropEmptied(settings, {"hooks"});
  return {absl::StrCat("removed ", removed, " hooks from ", path)};
}

// Setup: our hooks in `settings` (at `path`), replacing any there were.
absl::StatusOr<Outcome> Install(const std::string& path, const std::string& log_dir,
                                JsonValue* settings) {
  absl::StatusOr<std::string> exe = ThisBinary();
  if (!exe.ok()) return exe.status();
  const std::string log = AbsoluteDir(log_dir);
  JsonValue* hooks = settings->Find("hooks");
  if (hooks == nullptr) {
    settings->Add("hooks", JsonValue::Object());
    hooks = &settings->members.back().second;
  }
  std::vector<std::string> emptied;
  const int replaced = RemoveOurHooks(hooks, &emptied);
  if (absl::Status s = AddOurHooks(hooks, *exe, log); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message(), "; not modified"));
  }
  DropEmptied(hooks, emptied);  // ours under events other than kEvents, now gone
  return Outcome{absl::StrCat(
      "added ", kEventCount, " hooks to ", path, " (log ", log, ")",
      replaced > 0 ? absl::StrCat("; ", replaced, " tracelog hooks there replaced") : "")};
}

absl::Status Setup(const SetupFlags& f) {
  absl::StatusOr<SettingsTarget> target = ChooseSettings(f);
  if (!target.ok()) return target.status();
  const std::string& path = target->path;
  if (!f.remove && !target->claude_dir.empty() && ::mkdir(target->claude_dir.c_str(), 0700) != 0 &&
      errno != EEXIST) {
    return absl::ErrnoToStatus(errno, "mkdir " + target->claude_dir);
  }
  absl::StatusOr<SettingsFile> file = ReadSettings(path);
  if (!file.ok()) return file.status();
  absl::StatusOr<JsonValue> settings = ParseSettings(path, *file);
  if (!settings.ok()) return settings.status();
  absl::StatusOr<Outcome> done =
      f.remove ? Remove(path, &*settings) : Install(path, f.log, &*settings);
  if (!done.ok()) return done.status();
  const std::string text = FormatJson(*settings);
  if (done->write && text != file->text) {
    if (absl::Status s = WriteAtomically(path, text, file->mode); !s.ok()) return s;
  }
  std::printf("%s\n", done->report.c_str());
  return absl::OkStatus();
}

}  // namespace

Command RegisterSetup(CLI::App& app) {
  auto f = std::make_shared<SetupFlags>();
  CLI::App* sub = app.add_subcommand(
      "setup",
      absl::StrCat(
          "Make Claude Code record its sessions into a log: adds to its settings.json, for each\n"
          "hook event (",
          absl::StrJoin(absl::MakeConstSpan(kEvents, 6), ", "), ",\n",
          absl::StrJoin(absl::MakeConstSpan(kEvents + 6, kEventCount - 6), ", "),
          "), a hook\n"
          "running '<this tracelog binary>' hook <Event> --log '<log dir, absolute>'\n"
          "(tool events with \"matcher\": \"*\"). The file is merged, never clobbered: other keys\n"
          "and hooks keep their content and order; it is rewritten pretty-printed (2-space\n"
          "indent), atomically (temporary file, fsync, rename), keeping its mode (a new one is\n"
          "0600, a new .claude directory 0700). tracelog's hooks already there (a command whose\n"
          "first word is `tracelog` or a path ending in /tracelog, then `hook`) are replaced,\n"
          "so running setup again changes nothing. A file that is not a JSON object (or whose\n"
          "\"hooks\" is not one), or is a symbolic link, is refused and left as it is (exit 2)."));
  auto* global =
      sub->add_flag("--global", f->global, "Your user settings: $HOME/.claude/settings.json");
  auto* project = sub->add_option("--project", f->project,
                                  "A project's settings: DIR/.claude/settings.json\n"
                                  "(default: the current directory's)")
                      ->type_name("DIR");
  auto* settings = sub->add_option("--settings", f->settings,
                                   "This settings file instead (its directory must exist)")
                       ->type_name("FILE");
  global->excludes(project, settings);
  project->excludes(settings);
  AddLogOption(sub, &f->log);
  sub->add_flag("--remove", f->remove,
                "Take tracelog's hooks out instead; groups, events and \"hooks\" that this\n"
                "leaves empty go too");
  return {sub, [f] {
            if (absl::Status s = Setup(*f); !s.ok()) {
              PrintError(s);
              return kExitError;
            }
            return kExitOk;
          }};
}

}  // namespace tracelog::cli
