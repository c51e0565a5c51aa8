#include "engine/server/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
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

std::string HelloLine(bool durable) {
  return absl::StrCat("#tracelog ", kServeProtocolVersion, durable ? " sync=always" : "", "\n");
}

}  // namespace tracelog
