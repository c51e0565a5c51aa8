#ifndef TRACELOG_ENGINE_SERVER_CLIENT_H_
#define TRACELOG_ENGINE_SERVER_CLIENT_H_

// The client side of the serve protocol (server.h, format-spec/README.md
// "Serve protocol").

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/io/unique_fd.h"

namespace tracelog {

// The socket a server of the log in `dir` listens on by default.
std::string DefaultSocketPath(const std::string& dir);

// A connection to the server listening on `path` (blocking, close on
// exec). UnavailableError when no server answers there (no socket, or a
// socket a killed server left); other errors as they come.
absl::StatusOr<UniqueFd> ConnectToServer(const std::string& path);

// The hello line a client sends first:
// "#tracelog <version>[ sync=always][ redact=off]\n".
std::string HelloLine(bool durable, bool no_redact = false);

// Sends `request` (lines, each ending in '\n', the hello first) to the
// server listening on `path`, closes the sending side and returns all it
// answered (up to 1 MiB) once it closes the connection. A server that
// neither reads nor answers for `timeout` is an error (DeadlineExceeded or
// as the socket reports it). UnavailableError when no server answers there.
absl::StatusOr<std::string> ExchangeWithServer(const std::string& path, absl::string_view request,
                                              absl::Duration timeout);

// The counters of the server listening on `path`, as the JSON object it
// answers "#tracelog 1 stats" with. UnavailableError when no server
// answers there.
absl::StatusOr<std::string> ServerStatsJson(const std::string& path);

}  // namespace tracelog

#endif  // TRACELOG_ENGINE_SERVER_CLIENT_H_
