// --mode fault: the log on the fault-injecting file system, in process.
//
// One log lives through the whole run. Each iteration:
//  1. (sometimes) a read-only open before any writer recovers: what it sees
//     must be consistent with the oracle, without damage;
//  2. a writer opens it with a random policy and options, and the log is
//     read back and verified against the oracle (oracle.h) - this checks the
//     crash that ended the previous iteration;
//  3. 1-5 phases: appends from several threads (single events and batches,
//     mixed sizes, a reader and a Sync/SealAll thread alongside at times),
//     SealAll, Retain, an import (committed, failing, or abandoned), Sync,
//     a reader; before one of them a fault is armed;
//  4. an end: a clean Close, the process's death (the disk stops taking
//     writes, the Log is dropped), or its death and a power loss
//     (DropUnsyncedData, one of three modes), sometimes after memory pressure
//     evicted the pages a failed sync forgot.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <thread>

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "engine/io/fault_file_system.h"
#include "engine/log/log.h"
#include "tools/torture/event_gen.h"
#include "tools/torture/oracle.h"
#include "tools/torture/read_back.h"
#include "tools/torture/torture.h"

namespace tracelog::torture {
namespace {

using DropMode = FaultInjectionFileSystem::DropMode;

constexpr char kLogDir[] = "/log";
// The log is trimmed (SealAll, Retain) at the start of an iteration once
// its files take more than this, down to kTrimTo.
constexpr uint64_t kTrimAt = 48ull << 20;
constexpr uint64_t kTrimTo = 12ull << 20;

enum class Fault { kNone, kFailSync, kFailWrite, kFailAfter, kSpaceLimit, kKillInstant };
const char* FaultName(Fault f) {
  switch (f) {
    case Fault::kNone: return "none";
    case Fault::kFailSync: return "fail_next_sync";
    case Fault::kFailWrite: return "fail_next_write";
    case Fault::kFailAfter: return "fail_after_n";
    case Fault::kSpaceLimit: return "space_limit";
    case Fault::kKillInstant: return "death_at_random_instant";
  }
  return "?";
}

enum class PhaseResult { kContinue, kStop, kAbandonImport };

class FaultTorture {
 public:
  FaultTorture(const Flags& flags, std::string dump_dir, Counters* counters)
      : flags_(flags),
        dump_dir_(std::move(dump_dir)),
        counters_(counters),
        oracle_([this](const std::string& m) { violations_.Report(m); }) {}

  size_t Run() {
    if (!fs_.CreateDir(kLogDir).ok()) {
      violations_.Report("tool: cannot create /log on the fault file system");
      return violations_.count();
    }
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t iter = 0; iter < flags_.iterations; ++iter) {
      Iteration(iter);
      if (violations_.count() > 0 || fatal_) {
        std::fprintf(stderr,
                     "tracelog_torture: violation in iteration %llu; reproduce with: "
                     "tracelog_torture --mode fault --seed %llu --iterations %llu (threads make a "
                     "run not fully deterministic: run it a few times)\n",
                     static_cast<unsigned long long>(iter),
                     static_cast<unsigned long long>(flags_.seed),
                     static_cast<unsigned long long>(iter + 1));
        Dump();
        return std::max<size_t>(violations_.count(), 1);
      }
      if (flags_.verbose || (iter + 1) % 100 == 0) {
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("fault: %llu/%llu iterations, %.1f s, %zu events tracked\n",
                    static_cast<unsigned long long>(iter + 1),
                    static_cast<unsigned long long>(flags_.iterations), secs, oracle_.tracked());
        std::fflush(stdout);
      }
    }
    // The end of the last iteration is checked by one more open.
    ctx_ = absl::StrCat("final check (--seed ", flags_.seed, ")");
    auto log = OpenWriter(RandomOptions());
    if (log != nullptr) {
      Check(log.get());
      if (!log->Close().ok()) violations_.Report(ctx_ + ": Close failed without faults");
    }
    if (violations_.count() > 0) Dump();
    return violations_.count();
  }

 private:
  // -v: what the iteration does, step by step.
  void Trace(const std::string& what) {
    if (flags_.verbose) std::printf("  [%s] %s\n", ctx_.c_str(), what.c_str());
  }
  bool Coin(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  uint64_t Uniform(uint64_t lo, uint64_t hi) {  // [lo, hi]
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }

  LogOptions RandomOptions() {
    LogOptions o;
    o.fs = &fs_;
    switch (Uniform(0, 3)) {
      case 0: o.sync = SyncPolicy{SyncPolicy::Kind::kAlways, 0}; break;
      case 1: o.sync = SyncPolicy{SyncPolicy::Kind::kInterval, Uniform(1, 20)}; break;
      case 2: o.sync = SyncPolicy{SyncPolicy::Kind::kBytes, Uniform(4 << 10, 256 << 10)}; break;
      default: o.sync = SyncPolicy{SyncPolicy::Kind::kNever, 0}; break;
    }
    static constexpr uint64_t kSizes[] = {16 << 10, 64 << 10, 256 << 10, 1 << 20};
    o.segment_size = kSizes[Uniform(0, 3)];
    o.seal_on_roll = Coin(0.5);
    o.tuning.seal_nice = 0;
    o.tuning.prefault_bytes = Coin(0.5) ? 0 : 64 << 10;
    o.tuning.append_with_pwrite = Coin(0.3);
    if (Coin(0.3)) o.tuning.never_sync_backlog_bytes = 256 << 10;
    if (Coin(0.15)) o.segment_max_age_ms = 5;
    o.seal.level = 1;
    if (Coin(0.1)) {
      o.seal.dictionary_min_bytes = 256 << 10;
      o.seal.dictionary_size = 16 << 10;
    }
    return o;
  }

  std::unique_ptr<Log> OpenWriter(const LogOptions& o) {
    auto log = Log::Open(kLogDir, o);
    if (!log.ok()) {
      violations_.Report(absl::StrCat(ctx_, ": opening the log for writing failed with no fault "
                                      "armed: ", log.status().ToString()));
      fatal_ = true;
      return nullptr;
    }
    const RecoveryReport& r = (*log)->recovery();
    counters_->Add("recovery.opens");
    counters_->Add("recovery.gap_files_written", r.gaps.size());
    counters_->Add("recovery.rewritten_bytes", r.rewritten_bytes);
    counters_->Add("recovery.imports_rolled_back", r.rolled_back_import != 0);
    counters_->Add("recovery.files_removed", r.removed.size());
    for (const Corruption& c : r.damage) {
      violations_.Report(absl::StrCat(ctx_, ": recovery reported damage (no fault injected "
                                      "damages synced bytes): ", c.ToString()));
    }
    for (const std::string& q : r.quarantined) {
      violations_.Report(absl::StrCat(ctx_, ": recovery set a file aside: ", q));
    }
    return std::move(*log);
  }

  // Reads the log a writer just recovered and checks it against the oracle.
  void Check(Log* log) {
    ReadBack rb = ReadLog(log, 1);
    VerifyCounts c = oracle_.Verify(rb, pages_lost_, /*after_writer_open=*/true, ctx_);
    pages_lost_ = false;
    counters_->Add("verify.events_read", c.present);
    counters_->Add("verify.durable_found", c.durable_checked);
    counters_->Add("verify.acked_found", c.acked_checked);
    counters_->Add("verify.retained", c.retained);
    counters_->Add("verify.nondurable_lost_allowed", c.lost_allowed);
    counters_->Add("verify.rolled_back_invisible", c.rolled_back);
    counters_->Add("verify.gaps_seen", rb.gaps.size());
  }

  // A reader in another process (a read-only open): before any writer
  // recovers after a crash (tracelog verify), or while an import runs.
  // Consistent, no damage, no promise; it must not see an uncommitted import.
  void ReadOnlyCheck(const std::string& what) {
    LogOptions o;
    o.fs = &fs_;
    o.read_only = true;
    o.create_if_missing = false;
    auto log = Log::Open(kLogDir, o);
    if (!log.ok()) {
      violations_.Report(absl::StrCat(what, ": the read-only open failed: ",
                                      log.status().ToString()));
      return;
    }
    ReadBack rb = ReadLog(log->get(), 1, [&](const ReadEvent& ev) { oracle_.Observe(ev, what); });
    for (const std::string& d : rb.damage) {
      violations_.Report(absl::StrCat(what, ": damage reported: ", d));
    }
    counters_->Add("readonly.opens");
    counters_->Add("readonly.events_read", rb.events.size());
  }

  // Appenders (and, at times, a reader and a Sync/SealAll thread).
  void AppendPhase(Log* log, int threads, int per_thread, uint32_t import_no, bool reader,
                   bool maintenance) {
    const bool always = log->options().sync.kind == SyncPolicy::Kind::kAlways;
    std::atomic<int> running{threads};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      const uint64_t tseed = rng_();
      const bool batches = Coin(0.4);
      ts.emplace_back([=, this, &running] {
        std::mt19937_64 r(tseed);
        int errors = 0;
        for (int k = 0; k < per_thread && errors < 3 && !dead_.load();) {
          const int n = batches && r() % 2 == 0
                            ? std::min<int>(per_thread - k, 2 + static_cast<int>(r() % 15))
                            : 1;
          std::vector<uint64_t> ids(n);
          std::vector<std::string> events(n);
          for (int i = 0; i < n; ++i) {
            ids[i] = next_id_.fetch_add(1);
            oracle_.Attempt(ids[i], import_no);
            events[i] = MakeEventFor(ids[i]);
          }
          counters_->Add("events.attempted", n);
          if (n == 1) {
            absl::StatusOr<uint64_t> seq = log->Append(events[0]);
            if (seq.ok()) {
              if (!dead_.load()) {
                oracle_.Acked(ids[0], *seq, always);
                counters_->Add("events.acked");
              } else {
                oracle_.Assigned(ids[0], *seq);
              }
            } else {
              if (errors == 0) Trace("append: " + seq.status().ToString());
              ++errors;
              counters_->Add("events.append_errors");
            }
          } else {
            std::vector<PreparedEvent> prepared(n);
            for (int i = 0; i < n; ++i) {
              if (!PrepareEvent(events[i], &prepared[i]).ok()) {
                violations_.Report("tool bug: PrepareEvent refused a generated event");
              }
            }
            AppendBatchResult res = log->AppendPrepared(prepared);
            const bool ok = res.status.ok() && !dead_.load();
            for (size_t i = 0; i < res.appended; ++i) {
              if (ok) {
                oracle_.Acked(ids[i], res.first_sequence + i, always);
              } else {
                oracle_.Assigned(ids[i], res.first_sequence + i);
              }
            }
            if (ok) counters_->Add("events.acked", res.appended);
            if (!res.status.ok()) {
              if (errors == 0) {
                Trace(absl::StrCat("batch: ", res.status.ToString(), " after ", res.appended));
              }
              ++errors;
              counters_->Add("events.append_errors");
            }
            counters_->Add("events.batches");
          }
          k += n;
        }
        running.fetch_sub(1);
      });
    }
    std::thread reader_thread, maint_thread;
    if (reader) {
      const std::string what = ctx_ + ", reader during appends";
      reader_thread = std::thread([this, log, &running, what] {
        uint64_t from = 1;
        do {
          ReadBack rb = ReadLog(log, from, [&](const ReadEvent& ev) {
            oracle_.Observe(ev, what, /*own_writer=*/true);
          });
          for (const std::string& d : rb.damage) {
            violations_.Report(absl::StrCat(what, ": damage reported: ", d));
          }
          if (!rb.events.empty()) from = rb.events.back().sequence + 1;
          counters_->Add("reader.live_reads");
          std::this_thread::sleep_for(std::chrono::microseconds(300));
        } while (running.load() > 0);
      });
    }
    if (maintenance) {
      const uint64_t mseed = rng_();
      maint_thread = std::thread([this, log, &running, mseed] {
        std::mt19937_64 r(mseed);
        while (running.load() > 0 && !dead_.load()) {
          std::this_thread::sleep_for(std::chrono::microseconds(r() % 4000));
          const uint64_t acks = oracle_.AckCount();
          if (r() % 3 == 0) {
            absl::Status s = log->SealAll();
            counters_->Add(s.ok() ? "seal.ok" : "seal.failed");
            if (s.ok()) oracle_.MarkDurableBefore(acks);
          } else {
            absl::Status s = log->Sync();
            counters_->Add(s.ok() ? "sync.ok" : "sync.failed");
            if (s.ok()) oracle_.MarkDurableBefore(acks);
          }
        }
      });
    }
    for (auto& t : ts) t.join();
    if (reader_thread.joinable()) reader_thread.join();
    if (maint_thread.joinable()) maint_thread.join();
  }

  // A base below which retention may remove events: retention removes only
  // sealed segments, never a raw one (never the active one).
  uint64_t RetainBound(Log* log, bool background_sealing) {
    std::vector<SegmentSnapshot> segs = log->SnapshotSegments();
    if (segs.empty()) return oracle_.max_seen() + 1;
    if (background_sealing) return segs.back().base;
    for (const SegmentSnapshot& s : segs) {
      if (s.raw != nullptr) return s.base;
    }
    return segs.back().base;
  }

  void Retain(Log* log, uint64_t max_bytes) {
    const LogOptions& o = log->options();
    oracle_.NoteRetain(RetainBound(log, o.seal_on_roll || o.segment_max_age_ms != 0));
    RetainOptions r;
    r.max_bytes = std::max<uint64_t>(1, max_bytes);
    auto res = log->Retain(r);
    counters_->Add(res.ok() ? "retain.ok" : "retain.failed");
    if (res.ok()) {
      counters_->Add("retain.removed_segments", res->removed.size());
      counters_->Add("retain.removed_events", res->removed_events);
    }
  }

  PhaseResult ImportPhase(Log* log) {
    auto first = log->BeginImport();
    if (!first.ok()) {
      counters_->Add("import.begin_failed");
      Trace("BeginImport: " + first.status().ToString());
      return PhaseResult::kContinue;
    }
    const uint32_t no = ++imports_;
    import_open_ = no;
    oracle_.BeginImport(no, *first);
    AppendPhase(log, 1 + static_cast<int>(Uniform(0, 1)), static_cast<int>(Uniform(5, 80)), no,
                /*reader=*/Coin(0.5), /*maintenance=*/false);
    if (Coin(0.5)) {
      absl::Status s = log->SealAll();
      counters_->Add(s.ok() ? "seal.ok" : "seal.failed");
    }
    if (Coin(0.3)) ReadOnlyCheck(ctx_ + ", read-only open during an import");
    if (dead_.load()) return PhaseResult::kStop;
    if (Coin(0.15)) return PhaseResult::kAbandonImport;
    const uint64_t acks = oracle_.AckCount();
    bool committed = false;
    absl::Status s = log->CommitImport(&committed);
    import_open_ = 0;
    Trace(absl::StrCat("CommitImport from ", *first, ": ", s.ToString(),
                       committed ? " (committed)" : ""));
    oracle_.EndImport(no, s.ok(), committed);
    if (s.ok()) {
      oracle_.MarkDurableBefore(acks);
      counters_->Add("import.committed");
      return PhaseResult::kContinue;
    }
    counters_->Add(committed ? "import.committed_with_error" : "import.commit_failed");
    return PhaseResult::kStop;
  }

  void Arm(Fault f, Log* log) {
    counters_->Add(absl::StrCat("fault.", FaultName(f)));
    const absl::Status eio = absl::DataLossError("Input/output error (injected)");
    switch (f) {
      case Fault::kNone:
        break;
      case Fault::kFailSync: {
        const bool forget = Coin(0.5);
        forget_armed_ |= forget;
        if (forget) counters_->Add("fault.fail_next_sync.forgets_pages");
        fs_.SetSyncFailureForgets(forget);
        fs_.FailNextSync(eio);
        break;
      }
      case Fault::kFailWrite:
        fs_.FailNextWrite(eio);
        break;
      case Fault::kFailAfter:
        fs_.FailAfter(Uniform(0, 300));
        break;
      case Fault::kSpaceLimit:
        fs_.SetSpaceLimit(fs_.used_space() + Uniform(0, 2 * log->options().segment_size));
        break;
      case Fault::kKillInstant: {
        const auto delay = std::chrono::microseconds(Uniform(0, 40000));
        killer_ = std::thread([this, delay] {
          std::unique_lock<std::mutex> l(kill_mu_);
          if (!kill_cv_.wait_for(l, delay, [this] { return cancel_kill_; })) {
            dead_.store(true);  // before the disk goes: no acknowledgement after the death counts
            fs_.SetAllFail(true);
            counters_->Add("fault.death_at_random_instant.fired");
          }
        });
        break;
      }
    }
  }

  void StopKiller() {
    if (!killer_.joinable()) return;
    {
      std::lock_guard<std::mutex> l(kill_mu_);
      cancel_kill_ = true;
    }
    kill_cv_.notify_all();
    killer_.join();
    cancel_kill_ = false;
  }

  void Iteration(uint64_t iter) {
    rng_.seed(Mix(flags_.seed * 0x100000001b3ull ^ Mix(iter)));
    ctx_ = absl::StrCat("iteration ", iter, " (--seed ", flags_.seed, ")");
    counters_->Add("iterations");
    if (iter > 0 && Coin(0.3)) ReadOnlyCheck(ctx_ + ", read-only open before recovery");

    const LogOptions options = RandomOptions();
    counters_->Add(absl::StrCat("policy.", options.sync.kind == SyncPolicy::Kind::kInterval
                                               ? std::string("interval")
                                           : options.sync.kind == SyncPolicy::Kind::kBytes
                                               ? std::string("bytes")
                                               : options.sync.ToString()));
    Trace(absl::StrCat("open: policy ", options.sync.ToString(), ", segment ", options.segment_size,
                       options.seal_on_roll ? ", seal on roll" : "",
                       options.tuning.append_with_pwrite ? ", pwrite" : "",
                       options.tuning.prefault_bytes != 0 ? ", prefault" : "",
                       options.segment_max_age_ms != 0 ? ", max age 5 ms" : ""));
    std::unique_ptr<Log> log = OpenWriter(options);
    if (log == nullptr) return;
    for (const std::string& line : log->recovery().Lines()) Trace("recovery: " + line);
    Check(log.get());
    if (violations_.count() > 0) {
      log->Close().IgnoreError();
      return;
    }
    oracle_.StartSession();
    if (fs_.used_space() > kTrimAt) {
      counters_->Add("trim");
      const uint64_t acks = oracle_.AckCount();
      if (log->SealAll().ok()) oracle_.MarkDurableBefore(acks);
      Retain(log.get(), kTrimTo);
    }

    // The plan: phases, the fault and where it is armed, the end.
    const int phases = static_cast<int>(Uniform(1, 5));
    static constexpr Fault kFaults[] = {Fault::kNone,     Fault::kFailSync,   Fault::kFailSync,
                                        Fault::kFailWrite, Fault::kFailAfter, Fault::kFailAfter,
                                        Fault::kSpaceLimit, Fault::kKillInstant,
                                        Fault::kKillInstant};
    const Fault fault = kFaults[Uniform(0, std::size(kFaults) - 1)];
    const int fault_at = static_cast<int>(Uniform(0, phases - 1));
    forget_armed_ = false;
    bool abandon = false;
    for (int p = 0; p < phases && !dead_.load(); ++p) {
      if (p == fault_at) {
        Trace(absl::StrCat("arm fault ", FaultName(fault)));
        Arm(fault, log.get());
      }
      PhaseResult result = PhaseResult::kContinue;
      const uint64_t kind = Uniform(0, 99);
      Trace(absl::StrCat("phase ", p, ": ",
                         kind < 50   ? "append"
                         : kind < 62 ? "seal"
                         : kind < 72 ? "retain"
                         : kind < 87 ? "import"
                         : kind < 95 ? "sync"
                                     : "read",
                         " (acks so far ", oracle_.AckCount(), ", durable_sequence ",
                         log->durable_sequence(), ")"));
      if (kind < 50) {
        counters_->Add("phase.append");
        AppendPhase(log.get(), static_cast<int>(Uniform(1, flags_.threads)),
                    static_cast<int>(Uniform(5, 120)), 0, Coin(0.3), Coin(0.3));
      } else if (kind < 62) {
        counters_->Add("phase.seal");
        const uint64_t acks = oracle_.AckCount();
        absl::Status s = log->SealAll();
        counters_->Add(s.ok() ? "seal.ok" : "seal.failed");
        if (s.ok()) oracle_.MarkDurableBefore(acks);
      } else if (kind < 72) {
        counters_->Add("phase.retain");
        const uint64_t used = log->Stats().disk_bytes;
        Retain(log.get(), Coin(0.2) ? 1 : used * Uniform(20, 90) / 100);
      } else if (kind < 87) {
        counters_->Add("phase.import");
        result = ImportPhase(log.get());
      } else if (kind < 95) {
        counters_->Add("phase.sync");
        const uint64_t acks = oracle_.AckCount();
        absl::Status s = log->Sync();
        counters_->Add(s.ok() ? "sync.ok" : "sync.failed");
        if (s.ok()) oracle_.MarkDurableBefore(acks);
      } else {
        counters_->Add("phase.read");
        const std::string what = ctx_ + ", reader between phases";
        ReadBack rb =
            ReadLog(log.get(), 1, [&](const ReadEvent& ev) { oracle_.Observe(ev, what, true); });
        for (const std::string& d : rb.damage) {
          violations_.Report(absl::StrCat(what, ": damage reported: ", d));
        }
      }
      if (!dead_.load()) oracle_.MarkDurableThrough(log->durable_sequence());
      if (result == PhaseResult::kAbandonImport) {
        abandon = true;
        break;
      }
      if (result == PhaseResult::kStop) break;
    }

    // The end.
    StopKiller();
    const bool dead = dead_.load();
    const uint64_t end = Uniform(0, 99);
    Trace(absl::StrCat("end: ", dead ? "dead, " : "", abandon ? "abandon import, " : "",
                       end < 20 ? "close" : "process death",
                       end >= 60 ? " + power loss" : end < 20 ? " (+ power loss maybe)" : "",
                       "; durable_sequence ", log->durable_sequence()));
    if (abandon && !dead) {
      // Abandoned: Close, and the next open for writing rolls it back.
      counters_->Add("import.abandoned");
      counters_->Add("end.close");
      log->Close().IgnoreError();
      log.reset();
    } else if (!dead && end < 20) {
      counters_->Add("end.close");
      const uint64_t acks = oracle_.AckCount();
      absl::Status s = log->Close();
      if (s.ok() && import_open_ == 0 && options.sync.kind != SyncPolicy::Kind::kNever) {
        oracle_.MarkDurableBefore(acks);
      }
      log.reset();
    } else {
      counters_->Add("end.process_death");
      fs_.SetAllFail(true);
      log.reset();
    }
    if (import_open_ != 0) {
      oracle_.RollBackImport(import_open_);
      counters_->Add("import.rolled_back");
      import_open_ = 0;
    }
    // The disk works again (a new process, or after the reboot).
    fs_.SetAllFail(false);
    fs_.FailNextSync(absl::OkStatus());
    fs_.FailNextWrite(absl::OkStatus());
    fs_.SetSpaceLimit(UINT64_MAX);
    fs_.SetSyncFailureForgets(false);
    dead_.store(false);
    if (forget_armed_ && Coin(0.5)) {
      counters_->Add("crash.evict_clean_pages");
      Trace("evict clean pages");
      fs_.EvictCleanPages();
      pages_lost_ = true;
    }
    if (end >= 60 || (Coin(0.3) && end < 20)) {
      static constexpr DropMode kModes[] = {DropMode::kUnsynced, DropMode::kTornTail,
                                            DropMode::kRandomPages};
      static constexpr const char* kModeNames[] = {"unsynced", "torn_tail", "random_pages"};
      const uint64_t m = Uniform(0, 2);
      counters_->Add(absl::StrCat("crash.power_loss.", kModeNames[m]));
      Trace(absl::StrCat("power loss: ", kModeNames[m]));
      fs_.DropUnsyncedData(kModes[m], rng_());
      pages_lost_ = true;
    }
  }

  // Writes the in-memory log to dump_dir_/fault-log for forensics.
  void Dump() {
    if (dump_dir_.empty()) return;
    const std::string out = dump_dir_ + "/fault-log";
    ::mkdir(out.c_str(), 0700);
    auto names = fs_.ListDir(kLogDir);
    if (!names.ok()) return;
    for (const std::string& n : *names) {
      const std::string path = out + "/" + n;
      std::ofstream f(path, std::ios::binary | std::ios::trunc);
      f << fs_.Contents(absl::StrCat(kLogDir, "/", n));
      ::chmod(path.c_str(), 0600);
    }
    std::fprintf(stderr, "tracelog_torture: the log as the page cache holds it: %s\n",
                 out.c_str());
  }

  const Flags flags_;
  const std::string dump_dir_;
  Counters* counters_;
  Violations violations_;
  FaultInjectionFileSystem fs_;
  Oracle oracle_;
  std::mt19937_64 rng_;
  std::string ctx_;
  std::atomic<uint64_t> next_id_{1};
  std::atomic<bool> dead_{false};
  bool pages_lost_ = false;
  bool forget_armed_ = false;
  bool fatal_ = false;
  uint32_t imports_ = 0;
  uint32_t import_open_ = 0;
  std::thread killer_;
  std::mutex kill_mu_;
  std::condition_variable kill_cv_;
  bool cancel_kill_ = false;
};

}  // namespace

size_t RunFaultMode(const Flags& flags, const std::string& dir, Counters* counters) {
  FaultTorture t(flags, dir, counters);
  return t.Run();
}

}  // namespace tracelog::torture
