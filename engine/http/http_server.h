#ifndef TRACELOG_ENGINE_HTTP_HTTP_SERVER_H_
#define TRACELOG_ENGINE_HTTP_HTTP_SERVER_H_

// HTTP in front of a log (`tracelog serve --http`), on cpp-httplib:
//
//   POST /v1/events                NDJSON body, stored as `append` stores it;
//                                  answers once the fsync policy's promise holds
//   GET  /v1/sessions              the session catalog, NDJSON
//   GET  /v1/sessions/{id}/events  one session's events, NDJSON, streamed
//   GET  /v1/query?session=&type=&tool=&agent=&error=&since=&until=&limit=
//                                  the query tool's filters, NDJSON, streamed
//   GET  /health                   status and counters, JSON
//
// and agent-strace's collector paths (POST /events, GET /sessions,
// GET /sessions/{id}, GET /sessions/{id}/events) with agent-strace's
// answers, so that its clients can point at tracelog unchanged. Every path
// and answer is specified in format-spec/README.md ("HTTP API").
//
// Requests run on a fixed pool of threads; a body is read whole (at most
// `max_body_bytes`, else 413) before anything of it is appended, so a
// request is stored entirely or (on a bad line) all but its bad lines, and
// memory is bounded by threads x max_body_bytes.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/log/log.h"

namespace tracelog {

class Redactor;

struct HttpOptions {
  // Address to listen on. Default: loopback only.
  std::string host = "127.0.0.1";
  // 0: a free port (HttpServer::port() tells which).
  int port = 0;
  // When set, every request must carry "Authorization: Bearer <token>"
  // (else 401). Start refuses a host that is not loopback without one.
  std::string token;
  // Largest request body; a larger one gets 413 and nothing of it is stored.
  // Default: 16 MiB.
  size_t max_body_bytes = size_t{16} << 20;
  // Longest event line; a longer one is refused (named in the answer).
  // Default: 64 MiB (the largest event a log stores).
  size_t max_line_bytes = size_t{64} << 20;
  // Requests served at once (more wait for a thread). Default: 8.
  int threads = 8;
  // A client that sends nothing (or reads nothing) for this long is
  // disconnected. Default: 10 s.
  absl::Duration io_timeout = absl::Seconds(10);
  // Takes the secrets out of every event POSTed (engine/log/ingest.h); not
  // owned, outlives the server. Null: events are stored as sent. Default:
  // null.
  const Redactor* redactor = nullptr;
  // The "counters" object of GET /health (JSON); empty: this server's own.
  std::function<std::string()> counters_json;
};

// Counters since Start.
struct HttpStats {
  uint64_t requests = 0;
  uint64_t events = 0;          // stored through POST
  uint64_t bytes = 0;           // of those events
  uint64_t rejected_lines = 0;  // refused lines of POST bodies
  uint64_t rejected_requests = 0;  // 4xx/5xx answers (401, 404, 413, ...)
};

class HttpServer {
 public:
  // Binds and starts serving. `log` (open for writing) must outlive the
  // server. InvalidArgumentError for a non-loopback host without a token;
  // UnavailableError when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(Log* log, HttpOptions options);
  virtual ~HttpServer() = default;

  // Stops listening and waits for the requests in progress.
  virtual void Stop() = 0;
  virtual int port() const = 0;
  virtual HttpStats Stats() const = 0;
};

// Whether `host` is a loopback address (127.0.0.0/8, ::1, "localhost").
bool IsLoopbackHost(absl::string_view host);

// The counters as a JSON object's members ("requests":1,...), no braces.
std::string HttpStatsJsonMembers(const HttpStats& s);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_HTTP_HTTP_SERVER_H_
