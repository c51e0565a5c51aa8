#ifndef TRACELOG_ENGINE_SERVER_SERVER_H_
#define TRACELOG_ENGINE_SERVER_SERVER_H_

// The log's front door for many local writers (`tracelog serve`): a Unix
// stream socket on which any number of clients send NDJSON lines and get
// one answer line per event, in order, once the log's fsync policy has kept
// its promise for it (format-spec/README.md, "Serve protocol").
//
// Two threads do the work, whatever the number of clients:
// - the connection thread (epoll) accepts, reads lines, checks each
//   (PrepareEvent) and queues it, and writes the answers back;
// - the append thread takes everything queued by all connections as one
//   batch: one AppendPrepared, so under `always` the events of every client
//   that arrived while the previous fdatasync ran share the next one
//   (group commit across clients), then hands the answers back.
// Memory is bounded: when the queue holds `max_queued_bytes`, or a client's
// unread answers `max_unanswered_bytes`, the connection thread stops
// reading (those clients block in write); nothing is dropped.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/log/log.h"

namespace tracelog {

class Redactor;

struct ServerOptions {
  // The socket's path; created 0600 (a file there is replaced: the caller
  // holds the log's writer lock, so no other server can be using it).
  std::string socket_path;
  // A line longer than this gets an error answer and is skipped. Default:
  // 64 MiB (the largest event a log stores).
  size_t max_line_bytes = size_t{64} << 20;
  // Connections beyond this are answered with an error line and closed.
  // Default: 1024.
  size_t max_connections = 1024;
  // Lines read and not yet appended, all connections together, before the
  // server stops reading. Default: 64 MiB.
  uint64_t max_queued_bytes = uint64_t{64} << 20;
  // Answers a client has not read yet before the server stops reading that
  // client's lines. Default: 1 MiB.
  uint64_t max_unanswered_bytes = uint64_t{1} << 20;
  // A connection with nothing in flight that sends nothing for this long,
  // or whose answers are not read for this long, is closed. Default: 10 min.
  absl::Duration idle_timeout = absl::Minutes(10);
  // Takes the secrets out of every event before it is appended
  // (engine/log/ingest.h); not owned, outlives the server. Null: events are
  // stored as sent. Default: null.
  const Redactor* redactor = nullptr;
  // Sends the answers of all connections that a batch answers with one
  // system call (io_uring; engine/server/batch_send.h) instead of a send(2)
  // each; where io_uring cannot be set up, one each all the same. Default:
  // true (false: for comparison).
  bool batch_sends = true;
  // The counters a "#tracelog 1 stats" hello is answered with (a JSON
  // object); unset: ServerStatsJsonMembers of this server's. Called on the
  // append thread.
  std::function<std::string()> stats_json;
};

// Counters since Start.
struct ServerStats {
  uint64_t connections = 0;        // open now
  uint64_t connections_total = 0;  // accepted
  uint64_t refused_connections = 0;
  uint64_t events = 0;             // appended and answered
  uint64_t bytes = 0;              // of those events
  uint64_t rejected_lines = 0;     // answered with an error
  uint64_t batches = 0;            // AppendPrepared calls
  uint64_t syncs = 0;              // explicit syncs for clients that asked for durable answers
  uint64_t blocked_micros = 0;     // time reading was paused for a full queue
  bool batched_sends = false;      // answers go out in one io_uring submission per batch
};

class Server {
 public:
  // Binds the socket and starts the threads. `log` (open for writing) must
  // outlive the server.
  static absl::StatusOr<std::unique_ptr<Server>> Start(Log* log, ServerOptions options);
  virtual ~Server() = default;

  // Stops accepting and reading, appends and answers what was read, closes
  // every connection and removes the socket. Returns once done (at most
  // `drain` later: answers not written by then are dropped with their
  // connections; the events are in the log all the same).
  virtual void Stop(absl::Duration drain = absl::Seconds(10)) = 0;
  virtual ServerStats Stats() const = 0;
};

// What a client is told of a line over `max_line_bytes` (socket and HTTP):
// "line longer than the server's limit of N bytes".
std::string LineTooLong(size_t max_line_bytes);

// The counters as a JSON object's members ("connections":1,...), no braces.
std::string ServerStatsJsonMembers(const ServerStats& s);

// The protocol version this server speaks (format-spec/README.md).
inline constexpr int kServeProtocolVersion = 1;

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_SERVER_SERVER_H_
