// Component benchmarks: checksums, key extraction, the workload generator.

#include <benchmark/benchmark.h>

#include <cstring>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "bench/bench_util.h"
#include "engine/workload/workload.h"
#include "engine/format/checksum.h"
#include "engine/log/log.h"

namespace tracelog::bench {
namespace {

void BM_Checksum_XXH3(benchmark::State& state) {
  const auto events = FixedSizeEvents(1024, state.range(0));
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(Checksum64(events[i++ & 1023]));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Checksum_XXH3)->Arg(700)->Arg(64 << 10);

void BM_Checksum_XXH64(benchmark::State& state) {
  const auto events = FixedSizeEvents(1024, state.range(0));
  size_t i = 0;
  for (auto _ : state) {
    const auto& e = events[i++ & 1023];
    benchmark::DoNotOptimize(XXH64(e.data(), e.size(), 0));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Checksum_XXH64)->Arg(700)->Arg(64 << 10);

// Baseline: a bitwise-table CRC32C (Castagnoli), the portable fallback one
// would need without SSE4.2 intrinsics or absl/crc.
uint32_t Crc32cTable(const char* p, size_t n) {
  static uint32_t table[256];
  static bool init = [] {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0x82F63B78u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    return true;
  }();
  (void)init;
  uint32_t crc = ~0u;
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ static_cast<uint8_t>(p[i])) & 0xff] ^ (crc >> 8);
  return ~crc;
}

void BM_Checksum_Crc32cTableBaseline(benchmark::State& state) {
  const auto events = FixedSizeEvents(1024, state.range(0));
  size_t i = 0;
  for (auto _ : state) {
    const auto& e = events[i++ & 1023];
    benchmark::DoNotOptimize(Crc32cTable(e.data(), e.size()));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Checksum_Crc32cTableBaseline)->Arg(700);

void BM_Memcpy_Baseline(benchmark::State& state) {
  const auto events = FixedSizeEvents(1024, state.range(0));
  std::string dst(state.range(0), '\0');
  size_t i = 0;
  for (auto _ : state) {
    std::memcpy(dst.data(), events[i++ & 1023].data(), state.range(0));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Memcpy_Baseline)->Arg(700);

// Key extraction + payload checksum: the lock-free half of every append.
void BM_PrepareEvent_Workload(benchmark::State& state) {
  const auto& events = WorkloadEvents();
  PreparedEvent p;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const auto& e = events[i++ % events.size()];
    if (!PrepareEvent(e, &p).ok()) state.SkipWithError("prepare failed");
    bytes += e.size();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_PrepareEvent_Workload);

void BM_Workload_GenerateFleet(benchmark::State& state) {
  size_t bytes = 0, items = 0;
  for (auto _ : state) {
    WorkloadOptions o;
    o.sessions = 200;
    FleetWorkload w(o);
    std::string line;
    while (w.Next(&line)) {
      bytes += line.size() + 1;
      ++items;
      line.clear();
    }
  }
  state.SetItemsProcessed(items);
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_Workload_GenerateFleet)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tracelog::bench
