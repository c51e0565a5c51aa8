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

// Reads what the server sent on `fd` (at most `size` bytes into `buf`):
// the number of bytes read, 0 once the server closed the connection;
// DeadlineExceeded when nothing came for `timeout`. Errors name `path`.
// It waits in poll(2), not in recv(2): a thread blocked in recv on a Unix
// stream socket is also woken each time the server reads what this socket
// sent (the kernel's "room to write" wake-up uses the same wait queue), so
// a client waiting for each answer in recv wakes twice per event, and a
// server with many such clients pays for the extra context switches with
// the CPU its clients share (bench/RESULTS.md, "lock-step clients").
absl::StatusOr<size_t> ReadFromServer(int fd, char* buf, size_t size, const std::string& path,
                                      absl::Duration timeout = absl::InfiniteDuration());

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
