// --mode kill: SIGKILL of a real writer process on the real file system.
//
// Each iteration forks a child that opens the log (recovering after the
// previous kill) with a random policy (`always` in most iterations) and
// appends from several threads, while a maintenance thread seals, syncs
// and, once the log is large, retains. Every acknowledged append is
// reported through a pipe (one 24-byte message per write, atomic below
// PIPE_BUF). The parent kills the child at a random moment, reopens the log
// and checks, with the same oracle as the fault mode: every acknowledged
// event is there byte for byte at its sequence (contract 1 holds under
// every policy), nothing else is, no damage or gap is reported, and the
// next append gets a sequence above everything acknowledged or seen.
//
// SIGKILL leaves the page cache intact: it cannot simulate an OS crash or a
// power loss. Those are the fault mode's job.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/log/log.h"
#include "tools/torture/event_gen.h"
#include "tools/torture/oracle.h"
#include "tools/torture/read_back.h"
#include "tools/torture/torture.h"

namespace tracelog::torture {
namespace {

struct Msg {
  enum Kind : uint64_t { kAck = 1, kRetain = 2 };
  uint64_t kind;
  uint64_t a;  // kAck: sequence; kRetain: bound
  uint64_t b;  // kAck: id
};
static_assert(sizeof(Msg) == 24);

constexpr uint64_t kChildTrimAt = 24ull << 20;
constexpr uint64_t kChildTrimTo = 8ull << 20;

void Send(int fd, const Msg& m) {
  if (write(fd, &m, sizeof(m)) != static_cast<ssize_t>(sizeof(m))) _exit(5);
}

[[noreturn]] void Child(const std::string& dir, const LogOptions& o, int threads, int fd,
                        uint64_t iteration, uint64_t seed) {
  auto opened = Log::Open(dir, o);
  if (!opened.ok()) {
    std::fprintf(stderr, "child: open: %s\n", opened.status().ToString().c_str());
    _exit(3);
  }
  Log* log = opened->get();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([=] {
      for (uint64_t k = 0;; ++k) {
        const uint64_t id = MakeId(iteration, t, k);
        absl::StatusOr<uint64_t> seq = log->Append(MakeEventFor(id));
        if (!seq.ok()) {
          std::fprintf(stderr, "child: append: %s\n", seq.status().ToString().c_str());
          _exit(4);
        }
        Send(fd, Msg{Msg::kAck, *seq, id});
      }
    });
  }
  ts.emplace_back([=] {
    std::mt19937_64 r(seed);
    for (;;) {
      std::this_thread::sleep_for(std::chrono::microseconds(r() % 20000));
      switch (r() % 4) {
        case 0:
          log->SealAll().IgnoreError();
          break;
        case 1:
          log->Sync().IgnoreError();
          break;
        case 2:
          if (log->Stats().disk_bytes > kChildTrimAt) {
            // Retention removes only sealed segments: never the active one.
            Send(fd, Msg{Msg::kRetain, log->SnapshotSegments().back().base, 0});
            RetainOptions ro;
            ro.max_bytes = kChildTrimTo;
            log->Retain(ro).IgnoreError();
          }
          break;
        default:
          break;
      }
    }
  });
  for (auto& t : ts) t.join();
  _exit(0);
}

}  // namespace

size_t RunKillMode(const Flags& flags, const std::string& dir, Counters* counters) {
  Violations violations;
  Oracle oracle([&](const std::string& m) { violations.Report(m); });
  const std::string log_dir = dir + "/kill-log";
  std::mt19937_64 rng(Mix(flags.seed));
  uint64_t current_iteration = 0;
  oracle.SetAdoptable([&](uint64_t id) { return IdIteration(id) == current_iteration; });
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t iter = 0; iter < flags.iterations; ++iter) {
    current_iteration = iter + 1;  // ids of iteration 0 would collide with nothing, but be clear
    const std::string ctx = absl::StrCat("kill iteration ", iter, " (--seed ", flags.seed, ")");
    LogOptions o;
    switch (rng() % 10) {
      case 0: o.sync = SyncPolicy{SyncPolicy::Kind::kNever, 0}; break;
      case 1: o.sync = SyncPolicy{SyncPolicy::Kind::kInterval, 1 + rng() % 20}; break;
      case 2: o.sync = SyncPolicy{SyncPolicy::Kind::kBytes, (4 << 10) + rng() % (256 << 10)}; break;
      default: o.sync = SyncPolicy{SyncPolicy::Kind::kAlways, 0}; break;
    }
    static constexpr uint64_t kSizes[] = {64 << 10, 256 << 10, 1 << 20};
    o.segment_size = kSizes[rng() % 3];
    o.tuning.prefault_bytes = rng() % 2 ? 0 : 64 << 10;
    o.seal.level = 1;
    counters->Add(absl::StrCat("policy.", o.sync.kind == SyncPolicy::Kind::kAlways ? "always"
                                          : o.sync.kind == SyncPolicy::Kind::kNever ? "never"
                                          : o.sync.kind == SyncPolicy::Kind::kInterval
                                              ? "interval"
                                              : "bytes"));
    const int threads = 1 + static_cast<int>(rng() % flags.threads);
    const uint64_t child_seed = rng();
    std::fflush(stdout);
    std::fflush(stderr);
    int fds[2];
    if (pipe(fds) != 0) {
      violations.Report("tool: pipe failed");
      break;
    }
    const pid_t pid = fork();
    if (pid < 0) {
      violations.Report("tool: fork failed");
      break;
    }
    if (pid == 0) {
      close(fds[0]);
      Child(log_dir, o, threads, fds[1], current_iteration, child_seed);
    }
    close(fds[1]);
    std::string buf;
    auto drain = [&](int timeout_ms) {
      pollfd p{fds[0], POLLIN, 0};
      while (poll(&p, 1, timeout_ms) > 0) {
        char tmp[1 << 16];
        const ssize_t n = read(fds[0], tmp, sizeof(tmp));
        if (n <= 0) return;
        buf.append(tmp, n);
        timeout_ms = 0;
      }
    };
    // Three kills in four wait for an acknowledgement first (the log is
    // open and appending); the others may land in the open's recovery.
    if (rng() % 4 != 0) {
      const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (buf.size() < sizeof(Msg) && std::chrono::steady_clock::now() < limit) drain(1);
      if (buf.size() < sizeof(Msg)) {
        violations.Report(absl::StrCat(ctx, ": the child acknowledged nothing within 20 s"));
      }
      counters->Add("kill.after_first_ack");
    }
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::microseconds(1000 + rng() % 80000);
    while (std::chrono::steady_clock::now() < deadline) drain(1);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    drain(0);  // what the child wrote before it died is still in the pipe
    close(fds[0]);
    if (!WIFSIGNALED(status)) {
      violations.Report(absl::StrCat(ctx, ": the child exited with ", WEXITSTATUS(status),
                                     " before the kill (3: open failed, 4: append failed)"));
    }
    counters->Add("kill.sigkills");
    for (size_t off = 0; off + sizeof(Msg) <= buf.size(); off += sizeof(Msg)) {
      Msg m;
      std::memcpy(&m, buf.data() + off, sizeof(m));
      if (m.kind == Msg::kAck) {
        oracle.Attempt(m.b, 0);
        oracle.Acked(m.b, m.a, o.sync.kind == SyncPolicy::Kind::kAlways);
        counters->Add("events.acked");
      } else if (m.kind == Msg::kRetain) {
        oracle.NoteRetain(m.a);
        counters->Add("kill.retain_started");
      }
    }

    // Reopen as the next writer would, and check.
    LogOptions ro;
    ro.segment_size = o.segment_size;
    ro.seal.level = 1;
    auto log = Log::Open(log_dir, ro);
    if (!log.ok()) {
      violations.Report(absl::StrCat(ctx, ": reopening after the kill failed: ",
                                     log.status().ToString()));
      break;
    }
    for (const Corruption& c : (*log)->recovery().damage) {
      violations.Report(absl::StrCat(ctx, ": recovery reported damage: ", c.ToString()));
    }
    ReadBack rb = ReadLog(log->get(), 1);
    for (const ReadGap& g : rb.gaps) {
      violations.Report(absl::StrCat(ctx, ": a gap of sequences ", g.first, " to ", g.end - 1,
                                     " after a process crash (only a power loss, a rolled-back "
                                     "import or a failed sync skips numbers)"));
    }
    VerifyCounts c = oracle.Verify(rb, /*pages_lost=*/false, /*after_writer_open=*/true, ctx);
    counters->Add("verify.events_read", c.present);
    counters->Add("verify.acked_found", c.acked_checked + c.durable_checked);
    counters->Add("verify.retained", c.retained);
    // The next append gets a fresh sequence.
    oracle.StartSession();
    const uint64_t probe = MakeId(current_iteration, 255, 0);
    oracle.Attempt(probe, 0);
    auto seq = (*log)->Append(MakeEventFor(probe));
    if (!seq.ok()) {
      violations.Report(absl::StrCat(ctx, ": the probe append failed: ",
                                     seq.status().ToString()));
    } else {
      oracle.Acked(probe, *seq, /*durable=*/false);
    }
    if (auto s = (*log)->Close(); !s.ok()) {
      violations.Report(absl::StrCat(ctx, ": Close failed: ", s.ToString()));
    }
    log->reset();
    oracle.StartSession();
    if (violations.count() > 0) {
      std::fprintf(stderr,
                   "tracelog_torture: violation in kill iteration %llu; reproduce with: "
                   "tracelog_torture --mode kill --seed %llu --iterations %llu (kill timing is "
                   "not deterministic)\n",
                   static_cast<unsigned long long>(iter),
                   static_cast<unsigned long long>(flags.seed),
                   static_cast<unsigned long long>(iter + 1));
      break;
    }
    if (flags.verbose || (iter + 1) % 50 == 0) {
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("kill: %llu/%llu iterations, %.1f s\n", static_cast<unsigned long long>(iter + 1),
                  static_cast<unsigned long long>(flags.iterations), secs);
      std::fflush(stdout);
    }
  }
  return violations.count();
}

}  // namespace tracelog::torture
