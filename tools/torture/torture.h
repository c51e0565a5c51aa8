#ifndef TRACELOG_TOOLS_TORTURE_TORTURE_H_
#define TRACELOG_TOOLS_TORTURE_TORTURE_H_

// tracelog_torture: crash torture for the log (issue 14). Two modes:
//  fault: in process, on the fault-injecting file system (engine/io): each
//         iteration opens the log with a random policy, appends from
//         several threads, seals, retains and imports, injects a fault
//         (failed sync or write, a disk that dies after n calls, a full
//         disk, death at a random instant), crashes (process death, with or
//         without a power loss that drops unsynced bytes) and checks the
//         reopened log against the oracle (oracle.h);
//  kill:  a child process appends on the real file system and reports its
//         acknowledgements through a pipe; the parent SIGKILLs it at a random
//         moment and checks the log. (SIGKILL cannot lose the page cache: power
//         loss is only simulated by the fault mode.)

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace tracelog::torture {

struct Flags {
  std::string mode = "fault";
  uint64_t iterations = 100;
  uint64_t seed = 1;
  std::string dir;  // kill mode: the log's parent; fault mode: where a failing log is dumped
  int threads = 4;
  bool verbose = false;
};

// What a run did, for the summary (bench/RESULTS.md).
class Counters {
 public:
  void Add(const std::string& name, uint64_t n = 1) {
    std::lock_guard<std::mutex> l(mu_);
    values_[name] += n;
  }
  std::map<std::string, uint64_t> values() {
    std::lock_guard<std::mutex> l(mu_);
    return values_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, uint64_t> values_;
};

// Records violations (printed at once, with the context).
class Violations {
 public:
  void Report(const std::string& msg);
  size_t count() const { return count_.load(); }

 private:
  std::atomic<size_t> count_{0};
  std::mutex mu_;
};

// Each returns the number of violations found; `dir` is an existing
// directory the run may use.
size_t RunFaultMode(const Flags& flags, const std::string& dir, Counters* counters);
size_t RunKillMode(const Flags& flags, const std::string& dir, Counters* counters);

}  // namespace tracelog::torture

#endif  // TRACELOG_TOOLS_TORTURE_TORTURE_H_
