// Redaction at ingest (issue 17): the cost per event of Redactor::Redact on
// the fleet workload's events (no secrets: every event parsed and every
// string scanned, none rewritten) and on events that hold secrets, beside
// the in-process Append of the same events (interval:100) in the same run.
// Target: redaction costs <= 25 % of ingest throughput.

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_util.h"
#include "engine/log/ingest.h"
#include "engine/log/log.h"
#include "engine/redact/redactor.h"

namespace tracelog::bench {
namespace {

const Redactor& TheRedactor() {
  static const Redactor* r = Redactor::Create()->release();
  return *r;
}

void BM_Redact_WorkloadEvents(benchmark::State& state) {
  const auto& events = WorkloadEvents();
  std::string out;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& e = events[i++ % events.size()];
    bytes += e.size();
    auto changed = TheRedactor().Redact(e, &out);
    benchmark::DoNotOptimize(changed);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_Redact_WorkloadEvents);

void BM_Redact_EventsWithSecrets(benchmark::State& state) {
  std::vector<std::string> events;
  for (int k = 0; k < 64; ++k) {
    events.push_back(absl::StrCat(
        R"({"event_type":"tool_call","timestamp":1795440000.5,"event_id":"e)", k,
        R"(","session_id":"s","data":{"tool_name":"Bash","arguments":{"command":"curl -H 'Authorization: Bearer abcdef)",
        k, R"(0123456789' https://api/x && export GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789"},"password":"pw)",
        k, R"("}})"));
  }
  std::string out;
  size_t i = 0;
  for (auto _ : state) {
    auto changed = TheRedactor().Redact(events[i++ & 63], &out);
    benchmark::DoNotOptimize(changed);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Redact_EventsWithSecrets);

// The first test alone (Hyperscan over each event's text, as Redact makes
// it on every event): the floor of redaction's cost with these rules and
// this scanner, beside the ingest path's rate in the same run.
void BM_Redact_QuickTestOnly(benchmark::State& state) {
  const auto& events = WorkloadEvents();
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& e = events[i++ % events.size()];
    bytes += e.size();
    benchmark::DoNotOptimize(TheRedactor().MayHoldSecret(e));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_Redact_QuickTestOnly);

// The workload's own events that the rules change (~1.7 % of them, 10 KB
// average, one or two `name_token = 123` assignments each in long tool
// output): what they cost decides most of the ingest ratio.
void BM_Redact_WorkloadEventsChanged(benchmark::State& state) {
  static const std::vector<std::string>* changed = [] {
    auto* v = new std::vector<std::string>();
    std::string out;
    for (const auto& e : WorkloadEvents()) {
      auto r = TheRedactor().Redact(e, &out);
      if (r.ok() && *r) v->push_back(e);
    }
    return v;
  }();
  std::string out;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& e = (*changed)[i++ % changed->size()];
    bytes += e.size();
    auto r = TheRedactor().Redact(e, &out);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_Redact_WorkloadEventsChanged);

// The baseline: the same workload events appended in-process.
void BM_Redact_AppendBaseline(benchmark::State& state) {
  LogOptions o;
  o.sync = SyncPolicy{SyncPolicy::Kind::kInterval, 100};
  auto log = Log::Open(FreshDir("redact-base"), o);
  if (!log.ok()) std::abort();
  const auto& events = WorkloadEvents();
  size_t i = 0;
  for (auto _ : state) {
    if (!(*log)->Append(events[i++ % events.size()]).ok()) state.SkipWithError("append");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Redact_AppendBaseline);

// The ingest path as `tracelog append` runs it (engine/log/ingest.h):
// batches of 256 workload events prepared (and redacted, or not) and
// appended under `never`; bytes/s with redaction on against off in the
// same run is the issue's ratio (target: on >= 0.75 x off).
void Ingest(benchmark::State& state, const Redactor* redactor) {
  LogOptions o;
  o.sync = SyncPolicy{SyncPolicy::Kind::kNever, 0};
  auto log = Log::Open(FreshDir(redactor ? "ingest-on" : "ingest-off"), o);
  if (!log.ok()) std::abort();
  const auto& events = WorkloadEvents();
  constexpr size_t kBatch = 256;
  std::vector<PreparedEvent> batch(kBatch);
  std::vector<std::string> redacted(kBatch);
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    for (size_t k = 0; k < kBatch; ++k) {
      const std::string& e = events[i++ % events.size()];
      bytes += e.size();
      auto r = PrepareIngested(redactor, e, &redacted[k], &batch[k]);
      if (!r.ok()) state.SkipWithError("prepare");
    }
    if (!(*log)->AppendPrepared(batch).status.ok()) state.SkipWithError("append");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
void BM_Ingest_RedactionOff(benchmark::State& state) { Ingest(state, nullptr); }
void BM_Ingest_RedactionOn(benchmark::State& state) { Ingest(state, &TheRedactor()); }
BENCHMARK(BM_Ingest_RedactionOff)->UseRealTime();
BENCHMARK(BM_Ingest_RedactionOn)->UseRealTime();

}  // namespace
}  // namespace tracelog::bench
