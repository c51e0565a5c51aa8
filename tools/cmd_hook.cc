// tracelog hook EVENT: one Claude Code hook input (stdin) recorded as an
// agent-strace event (engine/ndjson/claude_hook.h), through `tracelog
// serve` when it runs on the log, else with the writer lock. Never blocks
// the agent: exit 0 whatever happens; a failure is printed to stderr and
// counted in DIR/hooks/errors (shown by `tracelog info`).

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "engine/io/errno_status.h"
#include "engine/io/file_system.h"
#include "engine/io/unique_fd.h"
#include "engine/log/ingest.h"
#include "engine/ndjson/claude_hook.h"
#include "engine/server/client.h"
#include "tools/cli.h"

namespace tracelog::cli {
namespace {

// The hook's state beside the log: when each tool call began (one file per
// call, named by its pair key, removed by its result) and the error count.
constexpr char kHookDir[] = "hooks";
constexpr char kErrorsFile[] = "errors";
// A call whose result never came (an interrupted session) is forgotten
// after this long, at the next SessionStart or SessionEnd.
constexpr int64_t kStaleCallSeconds = 24 * 3600;

struct HookFlags {
  std::string event;
  std::string dir;
  std::string fsync;
  bool no_redact = false;
  double wait_seconds = 10;
  size_t max_field_bytes = size_t{4} << 20;
};

double NowSeconds() { return static_cast<double>(absl::ToUnixMicros(absl::Now())) / 1e6; }

std::string RandomEventId() {
  unsigned char bytes[6] = {};
  if (getrandom(bytes, sizeof(bytes), 0) != static_cast<ssize_t>(sizeof(bytes))) {
    // No entropy source: time and pid still make the id unlikely to repeat.
    const uint64_t v = static_cast<uint64_t>(absl::GetCurrentTimeNanos()) ^ (uint64_t(getpid()) << 40);
    std::memcpy(bytes, &v, sizeof(bytes));
  }
  std::string id;
  for (unsigned char b : bytes) absl::StrAppend(&id, absl::Hex(b, absl::kZeroPad2));
  return id;
}

absl::StatusOr<std::string> ReadStdin() {
  std::string in;
  char buf[1 << 16];
  while (true) {
    const ssize_t n = ::read(0, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read", "stdin");
    if (n == 0) return in;
    in.append(buf, static_cast<size_t>(n));
    if (in.size() > kMaxEventSize) {
      return absl::InvalidArgumentError(
          absl::StrCat("stdin: the hook input is larger than ", kMaxEventSize, " bytes"));
    }
  }
}

// DIR/hooks, created 0700 (and DIR, if it does not exist yet), opened
// without following a symlink.
absl::StatusOr<UniqueFd> OpenHookDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoStatus(errno, "mkdir", dir);
  UniqueFd log(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (log.get() < 0) return ErrnoStatus(errno, "open", dir);
  if (::mkdirat(log.get(), kHookDir, 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "mkdir", JoinPath(dir, kHookDir));
  }
  UniqueFd hooks(::openat(log.get(), kHookDir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (hooks.get() < 0) return ErrnoStatus(errno, "open", JoinPath(dir, kHookDir));
  return hooks;
}

// A tool call began at e.timestamp: kept for its result (pair_key is hex,
// never a path).
absl::Status RememberCall(int hooks, const HookEvent& e) {
  UniqueFd f(::openat(hooks, e.pair_key.c_str(),
                      O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (f.get() < 0) return ErrnoStatus(errno, "create", e.pair_key);
  char exact[64];
  const int n = std::snprintf(exact, sizeof(exact), "%.6f\n", e.timestamp);
  if (::write(f.get(), exact, n) != n) return ErrnoStatus(errno, "write", e.pair_key);
  return absl::OkStatus();
}

// The duration of the call `e` is the result of, from when it began (its
// file, then removed); none when the call was not seen.
void PairWithCall(int hooks, HookEvent* e) {
  UniqueFd f(::openat(hooks, e->pair_key.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (f.get() < 0) return;
  char buf[64] = {};
  const ssize_t n = ::read(f.get(), buf, sizeof(buf) - 1);
  double began = 0;
  if (n > 0 && absl::SimpleAtod(absl::StripAsciiWhitespace(absl::string_view(buf, n)), &began)) {
    e->duration_ms = std::max(0.0, (e->timestamp - began) * 1000);
  }
  ::unlinkat(hooks, e->pair_key.c_str(), 0);
}

// Forgets calls older than kStaleCallSeconds.
void ForgetStaleCalls(int hooks) {
  const int copy = ::fcntl(hooks, F_DUPFD_CLOEXEC, 0);
  DIR* d = copy < 0 ? nullptr : ::fdopendir(copy);
  if (d == nullptr) {
    if (copy >= 0) ::close(copy);
    return;
  }
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  while (dirent* ent = ::readdir(d)) {
    const absl::string_view name(ent->d_name);
    if (name.size() != 16 || name.find_first_not_of("0123456789abcdef") != absl::string_view::npos) {
      continue;
    }
    struct stat st;
    if (::fstatat(hooks, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        now - st.st_mtime > kStaleCallSeconds) {
      ::unlinkat(hooks, ent->d_name, 0);
    }
  }
  ::closedir(d);
}

// The event through the server on the log's socket. Unavailable when no
// server runs there.
absl::Status RecordThroughServer(const HookFlags& f, const std::string& line) {
  const std::string request =
      absl::StrCat(HelloLine(f.fsync == "always", f.no_redact), line, "\n");
  auto answer = ExchangeWithServer(DefaultSocketPath(f.dir), request,
                                   absl::Seconds(std::max(1.0, f.wait_seconds)));
  if (!answer.ok()) return answer.status();
  // "#tracelog 1 fsync=...\n" then "<seq> <event_id>\n" or "error 2 <reason>\n".
  const size_t nl = answer->find('\n');
  const std::string ack = nl == std::string::npos ? "" : answer->substr(nl + 1);
  if (!absl::StartsWith(*answer, "#tracelog ") || ack.empty() || absl::StartsWith(ack, "error ")) {
    return absl::InternalError(absl::StrCat(DefaultSocketPath(f.dir), ": the server answered '",
                                            absl::StripTrailingAsciiWhitespace(
                                                answer->substr(0, 300)),
                                            "'"));
  }
  return absl::OkStatus();
}

// The event appended here, with the writer lock (waiting for it up to
// --wait): redacted as the log's CONFIG says.
absl::Status RecordLocally(const HookFlags& f, const std::string& line) {
  auto redactor = OpenRedactor(f.dir, f.no_redact);
  if (!redactor.ok()) return redactor.status();
  LogOverrides o;
  o.fsync = f.fsync;
  const uint64_t wait_ms = static_cast<uint64_t>(f.wait_seconds * 1000);
  o.this_process = [wait_ms](LogOptions options) {
    options.tuning.append_with_pwrite = true;
    options.lock_wait_ms = wait_ms;
    return options;
  };
  auto log = OpenLog(f.dir, /*read_only=*/false, o);
  if (!log.ok()) return log.status();
  std::string redacted;
  PreparedEvent p;
  auto r = PrepareIngested(redactor->get(), line, &redacted, &p);
  if (!r.ok()) return r.status();
  AppendBatchResult appended = (*log)->AppendPrepared(absl::MakeConstSpan(&p, 1));
  absl::Status closed = (*log)->Close();
  return appended.status.ok() ? closed : appended.status;
}

// Counts a failure in DIR/hooks/errors (one line each).
void CountError(const std::string& dir, const HookFlags& f, const absl::Status& why) {
  auto hooks = OpenHookDir(dir);
  if (!hooks.ok()) return;
  UniqueFd file(::openat(hooks->get(), kErrorsFile,
                         O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (file.get() < 0) return;
  const std::string line = absl::StrCat(FormatTimestamp(NowSeconds()),
                                        " ", f.event, ": ", why.message(), "\n");
  (void)!::write(file.get(), line.data(), line.size());
}

absl::Status Record(const HookFlags& f) {
  auto input = ReadStdin();
  if (!input.ok()) return input.status();
  HookOptions options;
  options.max_field_bytes = f.max_field_bytes;
  auto event = ConvertHookInput(f.event, *input, NowSeconds(),
                                RandomEventId(), options);
  if (!event.ok()) return event.status();
  auto hooks = OpenHookDir(f.dir);
  if (!hooks.ok()) return hooks.status();
  if (event->pairing == HookEvent::Pairing::kCall) {
    if (auto s = RememberCall(hooks->get(), *event); !s.ok()) return s;
  } else if (event->pairing == HookEvent::Pairing::kResult) {
    PairWithCall(hooks->get(), &*event);
  }
  if (event->hook_event_name == "SessionStart" || event->hook_event_name == "SessionEnd") {
    ForgetStaleCalls(hooks->get());
  }
  const std::string line = HookEventLine(*event);
  absl::Status through = RecordThroughServer(f, line);
  if (!absl::IsUnavailable(through)) return through;
  return RecordLocally(f, line);
}

}  // namespace

Command RegisterHook(CLI::App& app) {
  auto f = std::make_shared<HookFlags>();
  CLI::App* sub = app.add_subcommand(
      "hook",
      "Record one Claude Code hook event: reads the hook's JSON from stdin and appends it as an\n"
      "agent-strace event (session_start, user_prompt, tool_call, tool_result, error,\n"
      "assistant_response, session_end; other events as decision), through `tracelog serve`\n"
      "when it runs on the log, else directly (waiting for the writer lock). A tool's result is\n"
      "paired to its call by tool_use_id (parent_id, duration_ms); a sub-agent's events go to\n"
      "the child session <session_id>.<agent_id>. Always exits 0, so that it never blocks the\n"
      "agent: failures go to stderr and are counted in DIR/hooks/errors (`tracelog info`).\n"
      "`tracelog setup` writes the hook entries into Claude Code's settings.");
  sub->add_option("event", f->event,
                  "Claude Code's hook event name (PreToolUse, PostToolUse, ...; the input's\n"
                  "hook_event_name wins) or agent-strace's (pre-tool, post-tool, ...)")
      ->required();
  AddLogOption(sub, &f->dir);
  sub->add_option("--fsync", f->fsync,
                  "Durability: always makes the event durable before the hook exits.\n"
                  "Default: the log's policy")
      ->type_name("POLICY");
  sub->add_option("--wait", f->wait_seconds,
                  "How long to wait for the writer lock or the server. Default: 10")
      ->check(CLI::Range(0.0, 3600.0))
      ->type_name("SECONDS");
  sub->add_option("--max-field-bytes", f->max_field_bytes,
                  "A field of the input (a tool's output, a written file) longer than this as\n"
                  "JSON text is cut to it and the event marked \"truncated\": true with\n"
                  "\"<field>_bytes\": <full length>. Default: 4 MiB")
      ->check(CLI::Range(size_t{64}, kMaxEventSize))
      ->type_name("BYTES");
  AddNoRedactOption(sub, &f->no_redact);
  return {sub, [f] {
            absl::Status s = Record(*f);
            if (!s.ok()) {
              PrintError(absl::StrCat("hook ", f->event, ": ", s.message()));
              CountError(f->dir, *f, s);
            }
            return kExitOk;
          }};
}

}  // namespace tracelog::cli
