// Queries and sealing on the issue-4 data set: a generated fleet of >= 1M
// events from >= 10,000 sessions (seed 1, 24 agents, 12,000 sessions, 8
// turns: 1.32 M events, 1.50 GB of NDJSON), appended, then sealed.
//
// The log is built once per run in $TRACELOG_BENCH_DIR/query-fleet (about a
// minute), or taken from $TRACELOG_BENCH_QUERY_LOG if that names a log built
// before (`tracelog gen ... | tracelog append --fsync never; tracelog seal`).
// Baselines that need other programs (rg, SQLite) run side by side in
// bench/compare_queries.py; figures in bench/RESULTS.md.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "engine/workload/workload.h"
#include "engine/io/file_system.h"
#include "engine/log/log.h"
#include "engine/format/sealed_format.h"
#include "engine/segment/segment.h"
#include "engine/query/query.h"
#include "engine/seal/block_codec.h"
#include "engine/seal/sealer.h"

namespace tracelog {
namespace {

WorkloadOptions FleetOptions() {
  WorkloadOptions w;
  w.seed = 1;
  w.agents = 24;
  w.sessions = 12000;
  w.turns_per_session = 8;
  w.span_seconds = 86400;
  return w;
}

struct Fixture {
  std::unique_ptr<Log> log;
  std::unique_ptr<QueryEngine> engine;
  std::vector<std::string> sessions;  // every session id
  double first_ts = 0, last_ts = 0;
};

Fixture& TheFleet() {
  static Fixture* f = [] {
    auto* fx = new Fixture();
    std::string dir;
    if (const char* d = std::getenv("TRACELOG_BENCH_QUERY_LOG")) {
      dir = d;
    } else {
      dir = bench::FreshDir("query-fleet");
      LogOptions o;
      o.sync.kind = SyncPolicy::Kind::kNever;
      o.seal_on_roll = false;
      auto log = Log::Open(dir, o);
      if (!log.ok()) std::abort();
      FleetWorkload fleet(FleetOptions());
      std::string line;
      while (fleet.Next(&line)) {
        if (!(*log)->Append(line).ok()) std::abort();
        line.clear();
      }
      if (!(*log)->SealAll().ok() || !(*log)->Close().ok()) std::abort();
    }
    LogOptions ro;
    ro.read_only = true;
    auto log = Log::Open(dir, ro);
    if (!log.ok()) std::abort();
    fx->log = std::move(*log);
    fx->engine = std::make_unique<QueryEngine>(fx->log.get());
    auto catalog = fx->engine->Catalog();
    if (!catalog.ok()) std::abort();
    for (const CatalogEntry& e : *catalog) {
      fx->sessions.push_back(e.id);
      if (fx->first_ts == 0 || e.first_timestamp < fx->first_ts) fx->first_ts = e.first_timestamp;
      fx->last_ts = std::max(fx->last_ts, e.last_timestamp);
    }
    return fx;
  }();
  return *f;
}

// Runs `q` and reports matches, bytes returned and blocks decompressed.
void RunQuery(benchmark::State& state, const Query& q) {
  Fixture& f = TheFleet();
  uint64_t events = 0, bytes = 0;
  QueryStats stats;
  for (auto _ : state) {
    auto n = f.engine->Run(
        q,
        [&](uint64_t, absl::string_view e) {
          bytes += e.size();
          benchmark::DoNotOptimize(e.data());
          return true;
        },
        &stats);
    if (!n.ok()) state.SkipWithError(std::string(n.status().message()).c_str());
    events += *n;
  }
  state.SetItemsProcessed(events);
  state.SetBytesProcessed(bytes);
  state.counters["matches"] = static_cast<double>(events) / state.iterations();
  state.counters["blocks_read"] = static_cast<double>(stats.blocks_read);
  state.counters["blocks_total"] = static_cast<double>(stats.blocks_total);
}

// All events of one session, a different random session each time; p50 and
// p99 over the iterations.
void BM_Query_Session(benchmark::State& state) {
  Fixture& f = TheFleet();
  std::mt19937_64 rng(42);
  std::vector<double> us;
  uint64_t events = 0, blocks = 0;
  QueryStats stats;
  // Warm: every index loaded and cached once.
  Query warm;
  warm.types = {"session_start"};
  (void)f.engine->Count(warm);
  for (auto _ : state) {
    Query q;
    q.sessions = {f.sessions[rng() % f.sessions.size()]};
    const auto t0 = std::chrono::steady_clock::now();
    auto n = f.engine->Run(
        q,
        [](uint64_t, absl::string_view e) {
          benchmark::DoNotOptimize(e.data());
          return true;
        },
        &stats);
    const auto t1 = std::chrono::steady_clock::now();
    blocks += stats.blocks_read;
    if (!n.ok()) state.SkipWithError("query failed");
    events += *n;
    const double d = std::chrono::duration<double>(t1 - t0).count();
    us.push_back(d * 1e6);
    state.SetIterationTime(d);
  }
  std::sort(us.begin(), us.end());
  state.counters["p50_us"] = us[us.size() / 2];
  state.counters["p99_us"] = us[us.size() * 99 / 100];
  state.counters["events_per_session"] = static_cast<double>(events) / us.size();
  state.counters["blocks_per_session"] = static_cast<double>(blocks) / us.size();
  state.SetItemsProcessed(events);
}
BENCHMARK(BM_Query_Session)->Iterations(2000)->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_Query_CountByType(benchmark::State& state) {
  Fixture& f = TheFleet();
  Query q;
  q.types = {"tool_call"};
  uint64_t n = 0;
  QueryStats stats;
  for (auto _ : state) n = *f.engine->Count(q, &stats);
  state.counters["count"] = static_cast<double>(n);
  state.counters["blocks_read"] = static_cast<double>(stats.blocks_read);
}
BENCHMARK(BM_Query_CountByType)->Unit(benchmark::kMillisecond);

void BM_Query_ToolAndError(benchmark::State& state) {
  Query q;
  q.tools = {"Bash"};
  q.error = true;
  RunQuery(state, q);
}
BENCHMARK(BM_Query_ToolAndError)->Unit(benchmark::kMillisecond);

void BM_Query_ToolCalls(benchmark::State& state) {
  Query q;
  q.tools = {"Bash"};
  q.types = {"tool_call"};
  RunQuery(state, q);
}
BENCHMARK(BM_Query_ToolCalls)->Unit(benchmark::kMillisecond);

void BM_Query_Tool(benchmark::State& state) {
  Query q;
  q.tools = {"Bash"};
  RunQuery(state, q);
}
BENCHMARK(BM_Query_Tool)->Unit(benchmark::kMillisecond)->MinTime(2);

void BM_Query_TenMinuteWindow(benchmark::State& state) {
  Fixture& f = TheFleet();
  Query q;
  q.since = f.first_ts + (f.last_ts - f.first_ts) / 2;
  q.until = *q.since + 600;
  RunQuery(state, q);
}
BENCHMARK(BM_Query_TenMinuteWindow)->Unit(benchmark::kMillisecond);

// Sealing one 64 MiB segment of fleet events, per core; the baseline is zstd
// alone over the same bytes (level 3, 128 KiB blocks, with the dictionary).
struct SealInput {
  std::string dir;
  std::shared_ptr<Segment> segment;
  uint64_t last_sequence = 0;  // of `segment`: the next segment's base - 1
  uint64_t event_bytes = 0;
  std::string ndjson;
};

SealInput& TheSegment() {
  static SealInput* in = [] {
    auto* s = new SealInput();
    s->dir = bench::FreshDir("seal");
    LogOptions o;
    o.sync.kind = SyncPolicy::Kind::kNever;
    o.seal_on_roll = false;
    auto log = Log::Open(s->dir, o);
    if (!log.ok()) std::abort();
    FleetWorkload fleet(FleetOptions());
    std::string line;
    while (fleet.Next(&line) && (*log)->Stats().segments == 1) {
      if (!(*log)->Append(line).ok()) std::abort();
      line.clear();
    }
    if (!(*log)->Close().ok()) std::abort();
    auto seg = Segment::Open(DefaultFileSystem(), JoinPath(s->dir, SegmentFileName(1)), 1, false);
    if (!seg.ok()) std::abort();
    s->segment = *seg;
    auto reader_log = Log::Open(s->dir, LogOptions{.read_only = true});
    s->last_sequence = (*reader_log)->SnapshotSegments().at(1).base - 1;
    auto r = (*reader_log)->NewReader(ReaderOptions{});
    LogEvent ev;
    while (r->Next(&ev) && ev.sequence < (*seg)->base() + 1000000) {
      s->event_bytes += ev.event.size();
      s->ndjson.append(ev.event.data(), ev.event.size());
      s->ndjson.push_back('\n');
    }
    return s;
  }();
  return *in;
}

void BM_Seal_Segment(benchmark::State& state) {
  SealInput& in = TheSegment();
  DictionaryStore dicts(DefaultFileSystem(), in.dir);
  BlockCodec codec;
  SealOptions o;
  o.level = static_cast<int>(state.range(0));
  if (const char* kb = std::getenv("TRACELOG_BENCH_DICT_KB")) o.dictionary_size = std::atoi(kb) << 10;
  uint64_t sealed = 0;
  // Train (or load) the dictionary outside the timed loop: it happens once per log.
  if (!SealSegment(DefaultFileSystem(), in.dir, *in.segment, in.last_sequence, o, &dicts,
                           &codec).ok()) std::abort();
  for (auto _ : state) {
    auto st = SealSegment(DefaultFileSystem(), in.dir, *in.segment, in.last_sequence, o, &dicts,
                           &codec);
    if (!st.ok()) state.SkipWithError(std::string(st.status().message()).c_str());
    sealed = st->sealed_bytes + st->index_bytes;
    state.counters["events"] = static_cast<double>(st->events);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.event_bytes));
  state.counters["ratio"] = static_cast<double>(in.event_bytes) / static_cast<double>(sealed);
}
BENCHMARK(BM_Seal_Segment)->Arg(3)->Arg(4)->Unit(benchmark::kMillisecond)->MinTime(3)->UseRealTime();

// The read-back check SealSegment runs before it lets a raw segment go
// (issue 14, point 2): every block of the sealed file decompressed and its
// sequences compared. Its share of BM_Seal_Segment/3 is its cost.
void BM_Seal_ReadBackVerification(benchmark::State& state) {
  SealInput& in = TheSegment();
  DictionaryStore dicts(DefaultFileSystem(), in.dir);
  BlockCodec codec;
  SealOptions o;
  auto st = SealSegment(DefaultFileSystem(), in.dir, *in.segment, in.last_sequence, o, &dicts,
                        &codec);
  if (!st.ok()) std::abort();
  const uint64_t base = in.segment->base();
  const std::string path = JoinPath(in.dir, SealedFileName(base));
  for (auto _ : state) {
    auto s = VerifySealedFile(DefaultFileSystem(), path, base, in.last_sequence, &dicts, &codec);
    if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.event_bytes));
}
BENCHMARK(BM_Seal_ReadBackVerification)->Unit(benchmark::kMillisecond)->MinTime(3)->UseRealTime();

void BM_Seal_ZstdOnlyBaseline(benchmark::State& state) {
  SealInput& in = TheSegment();
  DictionaryStore dicts(DefaultFileSystem(), in.dir);
  auto dict = dicts.Current();  // trained by BM_Seal_Segment, if it ran first
  BlockCodec codec;
  std::string out;
  for (auto _ : state) {
    out.clear();
    for (size_t at = 0; at < in.ndjson.size(); at += 128 << 10) {
      if (!codec.Compress(absl::string_view(in.ndjson).substr(at, 128 << 10), 3,
                          dict.ok() ? dict->get() : nullptr, &out)
               .ok()) {
        state.SkipWithError("zstd failed");
      }
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.ndjson.size()));
  state.counters["ratio"] = static_cast<double>(in.ndjson.size()) / static_cast<double>(out.size());
}
BENCHMARK(BM_Seal_ZstdOnlyBaseline)->Unit(benchmark::kMillisecond)->MinTime(3)->UseRealTime();

}  // namespace
}  // namespace tracelog
