// Log benchmarks with their baselines in the same binary: memcpy into a
// mapped file, pwrite per event, write+fdatasync per event. Events are 700
// bytes (the median of real agent events). Logs are written under
// $TRACELOG_BENCH_DIR (default /tmp), which must be on the disk under test.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>

#include "bench/bench_util.h"
#include "engine/log/log.h"

namespace tracelog::bench {
namespace {

constexpr size_t kEventSize = 700;
constexpr size_t kMapBytes = 512ull << 20;

const std::vector<std::string>& Events700() {
  static const auto* e = new std::vector<std::string>(FixedSizeEvents(4096, kEventSize));
  return *e;
}

// Baseline: copy 700-byte records into a MAP_SHARED file mapping, either with
// every page faulted in beforehand (what the pre-faulting thread achieves) or
// touching fresh pages (first-touch page faults on the append path).
void MappedCopy(benchmark::State& state, bool prefault) {
  const std::string dir = FreshDir("mapped");
  const std::string path = dir + "/f";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || posix_fallocate(fd, 0, kMapBytes) != 0) {
    state.SkipWithError("fallocate failed");
    return;
  }
  char* map = static_cast<char*>(mmap(nullptr, kMapBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  if (prefault) madvise(map, kMapBytes, MADV_POPULATE_WRITE);
  const auto& events = Events700();
  size_t off = 0, i = 0;
  for (auto _ : state) {
    if (off + kEventSize > kMapBytes) {
      state.PauseTiming();
      off = 0;
      if (!prefault) {  // fresh pages again
        munmap(map, kMapBytes);
        fallocate(fd, 0x10 /*FALLOC_FL_ZERO_RANGE*/, 0, kMapBytes);
        map = static_cast<char*>(mmap(nullptr, kMapBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
      }
      state.ResumeTiming();
    }
    std::memcpy(map + off, events[i++ & 4095].data(), kEventSize);
    off += kEventSize + 48 + 56;  // record header and keys, as the log lays them out
  }
  munmap(map, kMapBytes);
  close(fd);
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kEventSize);
}
void BM_AppendPath_MemcpyPrefaultedMappingBaseline(benchmark::State& state) { MappedCopy(state, true); }
void BM_AppendPath_MemcpyFreshMapping(benchmark::State& state) { MappedCopy(state, false); }
BENCHMARK(BM_AppendPath_MemcpyPrefaultedMappingBaseline)->Iterations(2000000);
BENCHMARK(BM_AppendPath_MemcpyFreshMapping)->Iterations(500000);

// Baseline: one pwrite system call per event (what a syscall-per-append
// design that survives SIGKILL would cost).
void BM_AppendPath_PwritePerEventBaseline(benchmark::State& state) {
  const std::string dir = FreshDir("pwrite");
  int fd = open((dir + "/f").c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  const auto& events = Events700();
  size_t off = 0, i = 0;
  for (auto _ : state) {
    if (pwrite(fd, events[i++ & 4095].data(), kEventSize, off) != kEventSize) {
      state.SkipWithError("pwrite failed");
    }
    off += kEventSize;
  }
  close(fd);
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kEventSize);
}
BENCHMARK(BM_AppendPath_PwritePerEventBaseline)->Iterations(500000);

// Baseline: write + fdatasync per event, appending to a file.
void BM_RawWriteFdatasyncBaseline(benchmark::State& state) {
  const std::string dir = FreshDir("fdatasync");
  int fd = open((dir + "/f").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
  const auto& events = Events700();
  size_t i = 0;
  for (auto _ : state) {
    if (write(fd, events[i++ & 4095].data(), kEventSize) != kEventSize || fdatasync(fd) != 0) {
      state.SkipWithError("write/fdatasync failed");
    }
  }
  close(fd);
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kEventSize);
}
BENCHMARK(BM_RawWriteFdatasyncBaseline)->MinTime(3)->UseRealTime();

// Baseline for group commit: one pwrite of range(0) 700-byte events, then
// fdatasync, into a preallocated file whose blocks are left unwritten
// (range(1) = 0: each sync also commits the conversion of the blocks it
// wrote first) or were written with zeros beforehand (range(1) = 1: what the
// zero-ahead thread of `always` prepares). Items: events.
void BM_RawBatchFdatasync(benchmark::State& state) {
  const size_t batch = static_cast<size_t>(state.range(0));
  constexpr uint64_t kFileBytes = 256ull << 20;
  const std::string dir = FreshDir("batch-fdatasync");
  const int fd = PreallocatedFile(dir + "/f", kFileBytes, state.range(1) == 1);
  if (fd < 0) {
    state.SkipWithError("file");
    return;
  }
  std::string buf;
  for (size_t k = 0; k < batch; ++k) buf += Events700()[k];
  uint64_t at = 0;
  for (auto _ : state) {
    if (at + buf.size() > kFileBytes) at = 0;  // blocks written before: only the unlucky last lap
    if (pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(at)) !=
            static_cast<ssize_t>(buf.size()) ||
        fdatasync(fd) != 0) {
      state.SkipWithError("pwrite/fdatasync failed");
    }
    at += buf.size();
  }
  close(fd);
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["events_per_sync"] = static_cast<double>(batch);
}
BENCHMARK(BM_RawBatchFdatasync)
    ->ArgsProduct({{1, 4, 16, 32, 64}, {0, 1}})
    ->ArgNames({"events", "zeroed"})
    ->Iterations(600)
    ->UseRealTime();

// Baseline: N threads each making its own 700-byte events durable, in
// parallel, with pwrite + fdatasync (range(0) = 0) or pwritev2(RWF_DSYNC)
// (range(0) = 1), into one file written with zeros beforehand: whether the
// disk takes concurrent flushes (it would make batching less necessary).
void BM_RawConcurrentSync(benchmark::State& state) {
  static int fd = -1;
  static std::string dir;
  constexpr uint64_t kFileBytes = 64ull << 20;
  if (state.thread_index() == 0) {
    dir = FreshDir("concurrent-sync");
    fd = PreallocatedFile(dir + "/f", kFileBytes, /*zeroed=*/true);
    if (fd < 0) state.SkipWithError("file");
  }
  const std::string& event = Events700()[state.thread_index() & 4095];
  uint64_t i = 0;
  for (auto _ : state) {
    const uint64_t slot = (i++ * state.threads() + state.thread_index()) % (kFileBytes / kEventSize);
    const off_t at = static_cast<off_t>(slot * kEventSize);
    bool ok;
    if (state.range(0) == 0) {
      ok = pwrite(fd, event.data(), kEventSize, at) == kEventSize && fdatasync(fd) == 0;
    } else {
      iovec v{const_cast<char*>(event.data()), kEventSize};
      ok = pwritev2(fd, &v, 1, at, RWF_DSYNC) == kEventSize;
    }
    if (!ok) state.SkipWithError("write failed");
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    close(fd);
    std::filesystem::remove_all(dir);
  }
}
BENCHMARK(BM_RawConcurrentSync)
    ->ArgName("dsync")
    ->Arg(0)
    ->Arg(1)
    ->Threads(1)
    ->Threads(4)
    ->Threads(64)
    ->MinTime(1)
    ->UseRealTime();

std::unique_ptr<Log> g_log;
std::string g_dir;

void SetUpLog(benchmark::State& state, SyncPolicy::Kind kind,
              uint64_t zero_ahead_bytes = LogTuning{}.zero_ahead_bytes) {
  if (state.thread_index() != 0) return;
  g_dir = FreshDir("log");
  LogOptions o;
  o.sync.kind = kind;
  o.tuning.zero_ahead_bytes = zero_ahead_bytes;
  auto log = Log::Open(g_dir + "/log", o);
  if (!log.ok()) {
    state.SkipWithError(std::string(log.status().message()).c_str());
    return;
  }
  g_log = std::move(*log);
}

void TearDownLog(benchmark::State& state) {
  if (state.thread_index() != 0) return;
  if (g_log) {
    const LogStats st = g_log->Stats();
    state.counters["events_per_sync"] =
        st.syncs > 0 ? static_cast<double>(st.events) / st.syncs : 0;
  }
  if (g_log && !g_log->Close().ok()) state.SkipWithError("close failed");
  g_log.reset();
  std::filesystem::remove_all(g_dir);
}

void AppendLoop(benchmark::State& state) {
  const auto& events = Events700();
  size_t i = state.thread_index() * 977;
  for (auto _ : state) {
    auto seq = g_log->Append(events[i++ & 4095]);
    if (!seq.ok()) state.SkipWithError(std::string(seq.status().message()).c_str());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kEventSize);
}

void BM_Log_Append_Never(benchmark::State& state) {
  SetUpLog(state, SyncPolicy::Kind::kNever);
  rusage before, after;
  getrusage(RUSAGE_THREAD, &before);
  AppendLoop(state);
  getrusage(RUSAGE_THREAD, &after);
  // Page faults taken by the appending thread itself: the pre-faulter's job
  // is to keep this near zero.
  state.counters["appender_faults_per_MB"] =
      (after.ru_minflt - before.ru_minflt) / (state.iterations() * kEventSize / 1e6);
  TearDownLog(state);
}
BENCHMARK(BM_Log_Append_Never)->Iterations(2000000)->UseRealTime();

void BM_Log_Append_Always(benchmark::State& state) {
  SetUpLog(state, SyncPolicy::Kind::kAlways);
  AppendLoop(state);
  TearDownLog(state);
}
BENCHMARK(BM_Log_Append_Always)->Threads(1)->Threads(16)->MinTime(3)->UseRealTime();

// The same without zeros written ahead of the writer
// (LogTuning::zero_ahead_bytes = 0): what the zero-ahead thread gives.
void BM_Log_Append_Always_NoZeroAhead(benchmark::State& state) {
  SetUpLog(state, SyncPolicy::Kind::kAlways, /*zero_ahead_bytes=*/0);
  AppendLoop(state);
  TearDownLog(state);
}
BENCHMARK(BM_Log_Append_Always_NoZeroAhead)->Threads(1)->Threads(16)->MinTime(3)->UseRealTime();

// The `tracelog append` path in-process: NDJSON buffer -> lines ->
// PrepareEvent -> AppendPrepared per 4 MiB chunk, on the fleet workload.
void BM_Log_AppendNdjsonStream_Never(benchmark::State& state) {
  const std::string& ndjson = WorkloadNdjson();
  std::vector<PreparedEvent> batch;
  size_t events = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string dir = FreshDir("stream");
    LogOptions o;
    o.sync.kind = SyncPolicy::Kind::kNever;
    auto log = Log::Open(dir + "/log", o);
    state.ResumeTiming();
    size_t pos = 0;
    while (pos < ndjson.size()) {
      const size_t chunk_end = std::min(ndjson.size(), pos + (4 << 20));
      size_t n = 0;
      while (pos < chunk_end) {
        const size_t nl = ndjson.find('\n', pos);
        if (n == batch.size()) batch.emplace_back();
        if (!PrepareEvent(absl::string_view(ndjson).substr(pos, nl - pos), &batch[n]).ok()) {
          state.SkipWithError("bad line");
        }
        ++n;
        pos = nl + 1;
      }
      if (!(*log)->AppendPrepared(absl::MakeConstSpan(batch.data(), n)).status.ok()) {
        state.SkipWithError("append failed");
      }
      events += n;
    }
    if (!(*log)->Close().ok()) state.SkipWithError("close failed");
    state.PauseTiming();
    log->reset();
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(events);
  state.SetBytesProcessed(state.iterations() * ndjson.size());
}
BENCHMARK(BM_Log_AppendNdjsonStream_Never)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3);

// Open after a crash: a log of state.range(0) MiB is built once; each
// iteration a child process appends 20,000 more events with the default
// policy and is SIGKILLed, then the parent times Log::Open (recovery).
void BM_Log_OpenAfterCrash(benchmark::State& state) {
  const std::string dir = FreshDir("crash") + "/log";
  const uint64_t target = static_cast<uint64_t>(state.range(0)) << 20;
  {
    auto log = Log::Open(dir, LogOptions());
    const auto& events = Events700();
    for (uint64_t bytes = 0, i = 0; bytes < target; bytes += kEventSize, ++i) {
      if (!(*log)->Append(events[i & 4095]).ok()) state.SkipWithError("fill failed");
    }
    if (!(*log)->Close().ok()) state.SkipWithError("close failed");
  }
  for (auto _ : state) {
    pid_t pid = fork();
    if (pid == 0) {
      auto log = Log::Open(dir, LogOptions());
      if (!log.ok()) _exit(3);
      const auto& events = Events700();
      for (int i = 0; i < 20000; ++i) (*log)->Append(events[i & 4095]).IgnoreError();
      raise(SIGKILL);
    }
    int status;
    waitpid(pid, &status, 0);
    const auto t0 = std::chrono::steady_clock::now();
    auto log = Log::Open(dir, LogOptions());
    const auto t1 = std::chrono::steady_clock::now();
    if (!log.ok()) state.SkipWithError(std::string(log.status().message()).c_str());
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
    state.counters["scanned_MB"] = (*log)->recovery().scanned_bytes / 1e6;
    state.counters["log_GB"] = (*log)->Stats().disk_bytes / 1e9;
  }
  std::filesystem::remove_all(std::filesystem::path(dir).parent_path());
}
BENCHMARK(BM_Log_OpenAfterCrash)->Arg(256)->Arg(2200)->Iterations(10)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tracelog::bench
