// tracelog serve: holds the log open for writing and takes events from any
// number of local clients on a Unix socket (engine/server/server.h).

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include <CLI/CLI.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "engine/io/file_system.h"
#include "engine/http/http_server.h"
#include "engine/io/errno_status.h"
#include "engine/io/unique_fd.h"
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
  std::string http;        // ADDR:PORT; empty: no HTTP
  std::string token_file;  // bearer token for HTTP
  uint64_t http_max_body = uint64_t{16} << 20;
  int http_threads = 8;
  bool no_redact = false;
};

// "127.0.0.1:8080", "[::1]:8080", "localhost:8080" -> host and port.
absl::Status ParseHttpAddress(const std::string& text, HttpOptions* o) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http '", text, "': expected ADDR:PORT, e.g. 127.0.0.1:4317"));
  }
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  if (!absl::SimpleAtoi(text.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--http '", text, "': bad port"));
  }
  o->host = host;
  o->port = port;
  return absl::OkStatus();
}

// The bearer token: the file's first line. The file must be a regular
// file that only its owner can read (it is a secret).
absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus(errno, "open", path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "stat", path);
  if (!S_ISREG(st.st_mode)) return absl::InvalidArgumentError(path + ": not a regular file");
  if ((st.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        path, ": the token file is readable by others (mode ", absl::StrFormat("%04o", st.st_mode & 07777),
        "): chmod 600 it"));
  }
  std::string text(4096, '\0');
  const ssize_t n = ::read(fd.get(), text.data(), text.size());
  if (n < 0) return ErrnoStatus(errno, "read", path);
  text.resize(static_cast<size_t>(n));
  std::string token(absl::StripAsciiWhitespace(text.substr(0, text.find('\n'))));
  if (token.empty()) return absl::InvalidArgumentError(path + ": the token file is empty");
  return token;
}

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
  auto redactor = OpenRedactor(f.dir, f.no_redact);
  if (!redactor.ok()) {
    PrintError(redactor.status());
    return kExitError;
  }
  ServerOptions options;
  options.redactor = redactor->get();
  options.socket_path = f.socket.empty() ? JoinPath(f.dir, "serve.sock") : f.socket;
  options.max_connections = f.max_connections;
  options.max_line_bytes = f.max_line_bytes;
  options.idle_timeout = absl::Seconds(f.idle_timeout_seconds);
  // Both front doors' counters, for "#tracelog 1 stats" (tracelog info)
  // and GET /health.
  // Set once the socket server runs; a "#stats" hello may come before.
  std::atomic<Server*> socket_server{nullptr};
  std::unique_ptr<HttpServer> http;
  std::mutex http_mu;  // guards `http` for the counters, read on other threads
  tracelog::Log* const log_ptr = log.get();
  auto counters = [&]() -> std::string {
    Server* const socket = socket_server.load();
    const ServerStats ss = socket != nullptr ? socket->Stats() : ServerStats{};
    HttpStats hs;
    {
      std::lock_guard<std::mutex> l(http_mu);
      if (http != nullptr) hs = http->Stats();
    }
    const uint64_t syncs = log_ptr->Stats().syncs;
    const uint64_t events = ss.events + hs.events;
    return absl::StrCat("{", ServerStatsJsonMembers(ss), ",", HttpStatsJsonMembers(hs),
                        ",\"syncs\":", syncs, ",\"events_per_sync\":",
                        syncs == 0 ? 0.0 : static_cast<double>(events) / syncs, "}");
  };
  options.stats_json = counters;
  auto server = Server::Start(log.get(), options);
  if (!server.ok()) {
    PrintError(server.status());
    return kExitError;
  }
  socket_server.store(server->get());
  Say(absl::StrCat("listening on ", options.socket_path, " (log ", f.dir, ", fsync ",
                   log->options().sync.ToString(), ", redaction ", options.redactor ? "on" : "off",
                   ", protocol ", kServeProtocolVersion, ")"));
  if (options.batch_sends && !(*server)->Stats().batched_sends) {
    Say("io_uring is not available here: each answer is sent with a system call of its own");
  }
  if (!f.http.empty()) {
    HttpOptions ho;
    ho.redactor = redactor->get();
    if (auto s = ParseHttpAddress(f.http, &ho); !s.ok()) {
      PrintError(s);
      (*server)->Stop();
      return kExitError;
    }
    if (!f.token_file.empty()) {
      auto token = ReadTokenFile(f.token_file);
      if (!token.ok()) {
        PrintError(token.status());
        (*server)->Stop();
        return kExitError;
      }
      ho.token = *token;
    }
    ho.max_body_bytes = f.http_max_body;
    ho.max_line_bytes = f.max_line_bytes;
    ho.threads = f.http_threads;
    ho.counters_json = counters;
    auto started = HttpServer::Start(log.get(), ho);
    if (!started.ok()) {
      PrintError(started.status());
      (*server)->Stop();
      return kExitError;
    }
    {
      std::lock_guard<std::mutex> l(http_mu);
      http = std::move(*started);
    }
    Say(absl::StrCat("HTTP on ", ho.host, ":", http->port(),
                     ho.token.empty() ? "" : " (bearer token required)"));
  }
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
  if (http != nullptr) http->Stop();
  (*server)->Stop();
  const ServerStats st = (*server)->Stats();
  {
    std::lock_guard<std::mutex> l(http_mu);
    http.reset();
  }
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
      "'error <line> <reason>'. Secrets are replaced before events are stored, as append\n"
      "does (--no-redact). `tracelog append` and `tracelog hook` on the log go through it. Runs in the\n"
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
  sub->add_option("--http", f->http,
                  "Also serve HTTP on ADDR:PORT (off by default): POST /v1/events, GET\n"
                  "/v1/sessions, /v1/sessions/ID/events, /v1/query, /health, and agent-strace's\n"
                  "collector paths. An address other than loopback needs --token-file")
      ->type_name("ADDR:PORT");
  sub->add_option("--token-file", f->token_file,
                  "File (mode 0600) whose first line is the bearer token every HTTP request\n"
                  "must carry (Authorization: Bearer TOKEN)")
      ->type_name("PATH");
  sub->add_option("--http-max-body", f->http_max_body,
                  "Largest HTTP request body; a larger one gets 413 and nothing of it is stored\n"
                  "(default 16 MiB)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 32));
  sub->add_option("--http-threads", f->http_threads,
                  "HTTP requests served at once (default 8); memory is bounded by\n"
                  "threads x --http-max-body")
      ->check(CLI::Range(1, 256));
  AddNoRedactOption(sub, &f->no_redact);
  return {sub, [f] { return RunServe(*f); }};
}

}  // namespace tracelog::cli
