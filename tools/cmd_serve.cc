// tracelog serve: holds the log open for writing and takes events from any
// number of local clients on a Unix socket (engine/server/server.h).

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/io/file_system.h"
#include "engine/server/server.h"
#include "tools/cli.h"

namespace tracelog::cli {
namespace {

struct ServeFlags {
  std::string dir;
  std::string socket;
  std::string fsync;
  uint64_t max_connections = 1024;
  uint64_t max_line_bytes = uint64_t{64} << 20;
  double idle_timeout_seconds = 600;
};

void Say(const std::string& line) { std::fprintf(stderr, "tracelog serve: %s\n", line.c_str()); }

int RunServe(const ServeFlags& f) {
  // Signals are taken by sigwait on this thread; the server's threads
  // (started below) inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  LogOverrides o;
  o.fsync = f.fsync;
  auto opened = OpenLog(f.dir, /*read_only=*/false, o);
  if (!opened.ok()) {
    if (absl::IsFailedPrecondition(opened.status())) {
      PrintError(absl::StrCat("serve: ", opened.status().message(),
                              " (another tracelog serve, or a writer, has this log open)"));
    } else {
      PrintError(opened.status());
    }
    return kExitError;
  }
  std::unique_ptr<tracelog::Log> log = std::move(*opened);
  ServerOptions options;
  options.socket_path = f.socket.empty() ? JoinPath(f.dir, "serve.sock") : f.socket;
  options.max_connections = f.max_connections;
  options.max_line_bytes = f.max_line_bytes;
  options.idle_timeout = absl::Seconds(f.idle_timeout_seconds);
  auto server = Server::Start(log.get(), options);
  if (!server.ok()) {
    PrintError(server.status());
    return kExitError;
  }
  Say(absl::StrCat("listening on ", options.socket_path, " (log ", f.dir, ", fsync ",
                   log->options().sync.ToString(), ", protocol ", kServeProtocolVersion, ")"));
  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      Say("SIGHUP ignored (stop with SIGTERM or SIGINT)");
      continue;
    }
    Say(absl::StrCat(sig == SIGTERM ? "SIGTERM" : "SIGINT", ": draining"));
    break;
  }
  (*server)->Stop();
  const ServerStats st = (*server)->Stats();
  server->reset();
  const absl::Status closed = log->Close();
  Say(absl::StrCat("stopped: ", st.connections_total, " connections, ", st.events, " events (",
                   st.bytes, " bytes) in ", st.batches, " batches, ", st.rejected_lines,
                   " rejected lines", closed.ok() ? "" : "; closing the log failed"));
  if (!closed.ok()) {
    PrintError(closed);
    return kExitError;
  }
  return kExitOk;
}

}  // namespace

Command RegisterServe(CLI::App& app) {
  auto f = std::make_shared<ServeFlags>();
  CLI::App* sub = app.add_subcommand(
      "serve",
      "Hold the log open for writing and take events from any number of local clients on a\n"
      "Unix socket (DIR/serve.sock, 0600): NDJSON lines in, one answer line per event out,\n"
      "'<sequence> <event_id>' once the fsync policy's promise holds (as append --ack) or\n"
      "'error <line> <reason>'. `tracelog append` on the log goes through it. Runs in the\n"
      "foreground, logs to stderr; SIGTERM or SIGINT drains, syncs and exits 0; SIGHUP is\n"
      "ignored. A second serve (or a writer) on the same log exits 2. Protocol: format-spec/.");
  AddLogOption(sub, &f->dir);
  sub->add_option("--socket", f->socket, "Socket path (default: DIR/serve.sock)")->type_name("PATH");
  sub->add_option("--fsync", f->fsync,
                  "Durability of every client's events: always | interval:<ms> | bytes:<n> |\n"
                  "never. Default: the log's policy (set when the log was created; interval:100)")
      ->type_name("POLICY");
  sub->add_option("--max-connections", f->max_connections,
                  "Clients at once; more are refused with an error line (default 1024)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 20));
  sub->add_option("--max-line-bytes", f->max_line_bytes,
                  "Longest line a client may send; a longer one is refused and skipped\n"
                  "(default 64 MiB, the largest event)")
      ->check(CLI::Range(uint64_t{2}, uint64_t{64} << 20));
  sub->add_option("--idle-timeout", f->idle_timeout_seconds,
                  "Close a client that sends nothing, or reads no answer, for this many\n"
                  "seconds (default 600)")
      ->check(CLI::Range(0.001, 86400.0 * 365))
      ->type_name("SECONDS");
  return {sub, [f] { return RunServe(*f); }};
}

}  // namespace tracelog::cli
