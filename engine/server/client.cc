#include "engine/server/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/io/errno_status.h"
#include "engine/io/file_system.h"
#include "engine/server/server.h"

namespace tracelog {

std::string DefaultSocketPath(const std::string& dir) { return JoinPath(dir, "serve.sock"); }

absl::StatusOr<UniqueFd> ConnectToServer(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": socket path too long"));
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return ErrnoStatus(errno, "socket", path);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  while (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno == EINTR) continue;
    if (errno == ENOENT || errno == ECONNREFUSED || errno == ENOTDIR) {
      return absl::UnavailableError(absl::StrCat(path, ": no server"));
    }
    return ErrnoStatus(errno, "connect", path);
  }
  return fd;
}

std::string HelloLine(bool durable, bool no_redact) {
  return absl::StrCat("#tracelog ", kServeProtocolVersion, durable ? " sync=always" : "",
                      no_redact ? " redact=off" : "", "\n");
}

absl::StatusOr<size_t> ReadFromServer(int fd, char* buf, size_t size, const std::string& path,
                                      absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    pollfd p{fd, POLLIN, 0};
    const absl::Duration left = deadline - absl::Now();
    const int wait_ms =
        timeout == absl::InfiniteDuration()
            ? -1
            : static_cast<int>(std::clamp<int64_t>(
                  absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), 0, 1 << 30));
    const int ready = ::poll(&p, 1, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return ErrnoStatus(errno, "poll", path);
    if (ready == 0) {
      if (absl::Now() < deadline) continue;
      return absl::DeadlineExceededError(absl::StrCat(
          path, ": the server sent nothing for ", absl::FormatDuration(timeout)));
    }
    // Readable, closed or failed: recv says which (MSG_DONTWAIT: another
    // reader of the socket may have taken what woke this one).
    const ssize_t n = ::recv(fd, buf, size, MSG_DONTWAIT);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    return ErrnoStatus(errno, "recv", path);
  }
}

absl::StatusOr<std::string> ExchangeWithServer(const std::string& path, absl::string_view request,
                                              absl::Duration timeout) {
  auto fd = ConnectToServer(path);
  if (!fd.ok()) return fd.status();
  timeval limit = absl::ToTimeval(timeout);  // a server that hangs must not hang the client
  ::setsockopt(fd->get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
  for (size_t at = 0; at < request.size();) {
    const ssize_t n = ::send(fd->get(), request.data() + at, request.size() - at, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "send", path);
    at += static_cast<size_t>(n);
  }
  ::shutdown(fd->get(), SHUT_WR);  // the server answers and closes
  std::string answer;
  char buf[4096];
  while (true) {
    auto n = ReadFromServer(fd->get(), buf, sizeof(buf), path, timeout);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    answer.append(buf, *n);
    if (answer.size() > (1 << 20)) break;
  }
  return answer;
}

absl::StatusOr<std::string> ServerStatsJson(const std::string& path) {
  auto answered = ExchangeWithServer(
      path, absl::StrCat("#tracelog ", kServeProtocolVersion, " stats\n"), absl::Seconds(5));
  if (!answered.ok()) return answered.status();
  const std::string& answer = *answered;
  const size_t at = answer.find("\n#stats ");
  if (at == std::string::npos) {
    return absl::DataLossError(absl::StrCat(path, ": the server did not answer with its counters: '",
                                            answer.substr(0, 200), "'"));
  }
  const size_t from = at + 8;
  const size_t end = answer.find('\n', from);
  return answer.substr(from, end == std::string::npos ? std::string::npos : end - from);
}

}  // namespace tracelog
