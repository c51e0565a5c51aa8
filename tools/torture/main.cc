// tracelog_torture: the crash-torture tool (issue 14). See torture.h and
// the "Crash torture" section of bench/RESULTS.md.
//
//   tracelog_torture --mode fault --iterations 1000 --seed 7
//   tracelog_torture --mode kill --iterations 200 --seed 7 --dir /var/tmp/t
//
// Exit 0: no violation; 1: a violation (printed with its iteration and
// seed; the directory is kept); 2: a usage or setup error.

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include "tools/torture/torture.h"

namespace tracelog::torture {

void Violations::Report(const std::string& msg) {
  std::lock_guard<std::mutex> l(mu_);
  if (count_.fetch_add(1) < 50) std::fprintf(stderr, "VIOLATION: %s\n", msg.c_str());
}

namespace {

int Main(int argc, char** argv) {
  Flags f;
  CLI::App app{"tracelog_torture: crash torture for the tracelog engine (issue 14)"};
  app.add_option("--mode", f.mode,
                 "fault: in process, on the fault-injecting file system (failed syncs and writes, "
                 "a disk that dies, a full disk, power loss); kill: SIGKILL of a writer process "
                 "on the real file system")
      ->check(CLI::IsMember({"fault", "kill"}));
  app.add_option("--iterations", f.iterations, "Iterations (crashes)");
  app.add_option("--seed", f.seed, "Seed of the run (printed with any violation)");
  app.add_option("--dir", f.dir,
                 "Working directory (created 0700 if missing); default: a fresh directory under "
                 "$TMPDIR or /tmp, removed on success, kept on failure");
  app.add_option("--threads", f.threads, "Most appender threads at once")->check(CLI::Range(1, 16));
  app.add_flag("-v,--verbose", f.verbose, "Print progress after every iteration");
  CLI11_PARSE(app, argc, argv);

  std::string dir = f.dir;
  bool made = false;
  if (dir.empty()) {
    const char* tmp = getenv("TMPDIR");
    std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                        "/tracelog-torture-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) {
      std::perror("tracelog_torture: mkdtemp");
      return 2;
    }
    dir = templ;
    made = true;
  } else {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      std::fprintf(stderr, "tracelog_torture: %s: %s\n", dir.c_str(), ec.message().c_str());
      return 2;
    }
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  }
  std::printf("tracelog_torture --mode %s --iterations %llu --seed %llu --threads %d (dir %s)\n",
              f.mode.c_str(), static_cast<unsigned long long>(f.iterations),
              static_cast<unsigned long long>(f.seed), f.threads, dir.c_str());
  std::fflush(stdout);
  Counters counters;
  const auto start = std::chrono::steady_clock::now();
  const size_t violations = f.mode == "kill" ? RunKillMode(f, dir, &counters)
                                             : RunFaultMode(f, dir, &counters);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& [name, value] : counters.values()) {
    std::printf("  %-44s %llu\n", name.c_str(), static_cast<unsigned long long>(value));
  }
  std::printf("%s: %zu violation(s), %.1f s\n", violations == 0 ? "PASS" : "FAIL", violations,
              secs);
  if (violations > 0) {
    std::fprintf(stderr, "tracelog_torture: kept %s\n", dir.c_str());
    return 1;
  }
  if (made) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return 0;
}

}  // namespace
}  // namespace tracelog::torture

int main(int argc, char** argv) { return tracelog::torture::Main(argc, argv); }
