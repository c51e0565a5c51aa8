#include "bench/bench_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "engine/workload/workload.h"

namespace tracelog::bench {

const std::vector<std::string>& WorkloadEvents() {
  static const std::vector<std::string>* events = [] {
    auto* v = new std::vector<std::string>();
    WorkloadOptions o;
    o.sessions = 600;
    o.agents = 16;
    FleetWorkload w(o);
    std::string line;
    while (w.Next(&line)) {
      v->push_back(line);
      line.clear();
    }
    return v;
  }();
  return *events;
}

const std::string& WorkloadNdjson() {
  static const std::string* s = [] {
    auto* out = new std::string();
    for (const auto& e : WorkloadEvents()) absl::StrAppend(out, e, "\n");
    return out;
  }();
  return *s;
}

std::vector<std::string> FixedSizeEvents(size_t n, size_t size) {
  std::vector<std::string> out;
  const auto& src = WorkloadEvents();
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string e = absl::StrCat(
        R"({"event_type":"tool_result","timestamp":)", 1795440000 + i, R"(.25,"event_id":")", i,
        R"(","session_id":"s)", i % 97, R"(","parent_id":"p)", i, R"(","data":{"tool_name":"Bash","result":")");
    const std::string& filler = src[i % src.size()];
    while (e.size() + 3 < size) {
      const size_t take = std::min(size - 3 - e.size(), filler.size());
      for (size_t k = 0; k < take; ++k) {
        const char c = filler[k];
        e.push_back(c == '"' || c == '\\' ? ' ' : c);
      }
    }
    e += "\"}}";
    out.push_back(std::move(e));
  }
  return out;
}

std::string FreshDir(const std::string& name) {
  const char* base = std::getenv("TRACELOG_BENCH_DIR");
  const std::string dir =
      absl::StrCat(base != nullptr ? base : "/tmp", "/tracelog-bench-", getpid(), "-", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

int PreallocatedFile(const std::string& path, uint64_t bytes, bool zeroed) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0 && ::posix_fallocate(fd, 0, static_cast<off_t>(bytes)) == 0;
  if (ok && zeroed) {
    const std::string zeros(1 << 20, '\0');
    for (uint64_t at = 0; ok && at < bytes; at += zeros.size()) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), bytes - at));
      ok = ::pwrite(fd, zeros.data(), n, static_cast<off_t>(at)) == static_cast<ssize_t>(n);
    }
  }
  ok = ok && ::fdatasync(fd) == 0;
  if (!ok && fd >= 0) ::close(fd);
  return ok ? fd : -1;
}

}  // namespace tracelog::bench
